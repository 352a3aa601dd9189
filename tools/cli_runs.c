// tools/cli_runs.c — `qins runs`: recorded runs with date, key metrics, forced flag, gate status.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "common.h"
#include "gate.h"
#include "runfile.h"

static int usage(void) {
    fprintf(stderr, "usage: qins runs [--results DIR] [--phase N] [--metrics K]\n"
                    "  Lists complete runs, newest first, with up to K key metrics (default 4) and the\n"
                    "  latest verdict of gate N when that evaluation used the run.\n");
    return 2;
}

int qins_cli_runs(int argc, char **argv) {
    const char *results = "results";
    int phase = -1, k = 4;
    for (int i = 1; i < argc; i++) {
        if (i + 1 >= argc) return usage();
        if (!strcmp(argv[i], "--results")) results = argv[++i];
        else if (!strcmp(argv[i], "--phase")) phase = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--metrics")) k = atoi(argv[++i]);
        else return usage();
    }
    struct qins_run_meta *runs;
    size_t n, incomplete;
    if (qins_results_list(results, phase, &runs, &n, &incomplete) < 0) return 1;
    struct qins_gate_status gs[10];
    for (int g = 0; g < 10; g++)
        if (qins_gate_latest(results, g, &gs[g]) < 0) gs[g].verdict = QINS_VERDICT_NONE;
    printf("%-5s %-30s %-20s %-6s %-14s %-8s %s\n", "phase", "run id", "started (UTC)", "forced", "tag", "gate",
           "key metrics");
    for (size_t i = 0; i < n; i++) {
        const struct qins_run_meta *m = &runs[i];
        const struct qins_gate_status *g = m->phase >= 0 && m->phase < 10 ? &gs[m->phase] : NULL;
        const char *gate = g && g->verdict != QINS_VERDICT_NONE && strstr(g->runs, m->run_id)
                               ? qins_verdict_str(g->verdict)
                               : "-";
        char metrics[1024] = "";
        qins_runfile_t *f;
        if (qins_runfile_open(&f, m->path) == QINS_OK) {
            char **names;
            size_t nn;
            if (qins_runfile_key_metrics(f, &names, &nn) == QINS_OK) {
                for (size_t j = 0; j < nn && (int)j < k; j++) {
                    double v;
                    char unit[32];
                    qins_runfile_metric(f, names[j], &v, unit, sizeof unit);
                    size_t len = strlen(metrics);
                    snprintf(metrics + len, sizeof metrics - len, "%s%s=%.4g%s%s", j ? "  " : "", names[j], v,
                             unit[0] ? " " : "", unit);
                }
                if ((int)nn > k) {
                    size_t len = strlen(metrics);
                    snprintf(metrics + len, sizeof metrics - len, "  (+%zu)", nn - (size_t)k);
                }
                qins_strv_free(names, nn);
            }
            qins_runfile_close(f);
        }
        printf("%-5d %-30s %-20s %-6s %-14s %-8s %s\n", m->phase, m->run_id, m->start_time, m->forced ? "yes" : "no",
               m->tag[0] ? m->tag : "-", gate, metrics);
    }
    if (!n) printf("(no complete runs under %s)\n", results);
    if (incomplete) printf("%zu incomplete or unreadable run file(s) ignored (interrupted runs leave .tmp files)\n", incomplete);
    free(runs);
    return 0;
}
