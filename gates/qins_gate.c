// gates/qins_gate.c — `qins-gate N`: evaluate gate N, print the table, record it, exit 0 only on GO.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "blas.h"
#include "common.h"
#include "gate.h"

static int usage(void) {
    fprintf(stderr, "usage: qins-gate N [--results DIR] [--gates FILE] [--run RUN.h5]... [--no-record] [--preview-forced]\n"
                    "  Evaluates gate N on the newest complete, non-forced phase-N runs (or the --run files),\n"
                    "  writes DIR/gates/gate-N.md and DIR/gates/gates.h5, exits 0 only on GO (1 otherwise).\n"
                    "  --preview-forced: evaluate the --run files even if forced; print only, never record.\n");
    return 2;
}

int main(int argc, char **argv) {
    if (qins_blas_select(argc, argv) < 0) return 1; // a wrong OpenBLAS core: re-exec once with the right one
    if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) return usage();
    char *end;
    long gate = strtol(argv[1], &end, 10);
    if (*end || gate < 0 || gate > 9) return usage();
    const char *results = "results", *gates = NULL, *runs[64];
    size_t n_runs = 0;
    int record = 1, preview = 0;
    for (int i = 2; i < argc; i++) {
        if (!strcmp(argv[i], "--no-record")) record = 0;
        else if (!strcmp(argv[i], "--preview-forced")) preview = 1, record = 0;
        else if (i + 1 >= argc) return usage();
        else if (!strcmp(argv[i], "--results")) results = argv[++i];
        else if (!strcmp(argv[i], "--gates")) gates = argv[++i];
        else if (!strcmp(argv[i], "--run") && n_runs < 64) runs[n_runs++] = argv[++i];
        else return usage();
    }
    char path[1024];
    if (!gates) {
        if (qins_gate_defs_find(path, sizeof path) < 0) return 2;
        gates = path;
    }
    struct qins_gate_defs defs;
    if (qins_gate_defs_load(gates, &defs) < 0) return 2;
    struct qins_gate_result r;
    int st = preview ? qins_gate_evaluate_preview(&defs, (int)gate, runs, n_runs, &r)
                     : qins_gate_evaluate(&defs, (int)gate, results, runs, n_runs, &r);
    qins_gate_defs_free(&defs);
    if (st < 0) return 2;
    qins_gate_print(stdout, &r);
    if (record && qins_gate_record(&r, results) == QINS_OK)
        printf("recorded: %s/gates/gate-%ld.md, %s/gates/gates.h5\n", results, gate, results);
    int go = r.verdict == QINS_VERDICT_GO;
    qins_gate_result_free(&r);
    return go ? 0 : 1;
}
