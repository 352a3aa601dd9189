// tools/cli_run_all.c — `qins run-all`: the plan end to end. Runs qins-phase0 … qins-phase6 in
// order (those built), evaluates each phase's gate on the run it just wrote, and stops at the
// first gate that is not GO and says which and why; with --force it runs the rest as forced runs
// (every later run records forced = 1, and their gates are previews, never recorded, so a forced
// chain can never unlock anything). Then `qins report`, and the chain of verdicts: printed, and
// written to <results>/run-all.md so the report and a later reader see the same lines.
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "cli_phase.h"
#include "common.h"
#include "gate.h"
#include "util.h"

#define LAST_PHASE 6

static int usage(void) {
    fprintf(stderr,
            "usage: qins run-all [--force] [--from N] [--to N] [--results DIR] [--gates FILE]\n"
            "                    [--set [P:]SECTION.KEY=VALUE]... [--no-report]\n"
            "  Runs qins-phase0..6 in order (experiments/phaseN.ini each), evaluating gate N after phase N;\n"
            "  stops at the first gate that is not GO unless --force (the rest then run as forced runs).\n"
            "  --set P:S.K=V overrides a key for phase P only; without P: for every phase.\n"
            "  Exit status: 0 every gate GO, 1 a gate was not GO, 2 usage, 3 a phase or gate could not run.\n");
    return 2;
}

struct link {
    int phase, verdict; // verdict: enum qins_verdict; QINS_VERDICT_NONE when not evaluated
    bool forced;
    char run_id[96];
    char reason[600];
    double seconds;
};

static void chain_print(FILE *f, const struct link *c, int n, const char *ending, bool md) {
    if (md) fprintf(f, "| gate | verdict | why | run | phase time |\n|---|---|---|---|---:|\n");
    for (int i = 0; i < n; i++) {
        const char *v = qins_verdict_str(c[i].verdict);
        if (md)
            fprintf(f, "| %d | %s%s | %s | %s | %.1f s |\n", c[i].phase, v, c[i].forced ? " (forced run, preview)" : "",
                    c[i].reason, c[i].run_id, c[i].seconds);
        else
            fprintf(f, "gate %d -> %-5s%s -> %s   [run %s, %.1f s]\n", c[i].phase, v,
                    c[i].forced ? " (forced run, preview)" : "", c[i].reason, c[i].run_id, c[i].seconds);
    }
    fprintf(f, "%s%s\n", md ? "\n" : "", ending);
}

// <results>/run-all.md, through a temporary name so a crash never leaves half a chain.
static void chain_write(const char *results, const struct link *c, int n, const char *ending, bool force) {
    char path[PATH_MAX], tmp[PATH_MAX + 8];
    snprintf(path, sizeof path, "%s/run-all.md", results);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f) {
        fprintf(stderr, "qins: run-all: cannot write %s: %s\n", tmp, strerror(errno));
        return;
    }
    char when[32];
    const time_t now = time(NULL);
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
    fprintf(f, "# The plan's chain of verdicts\n\n`qins run-all%s`, finished %s.\n\n", force ? " --force" : "", when);
    chain_print(f, c, n, ending, true);
    const bool bad = ferror(f) != 0;
    if (fclose(f) != 0 || bad || rename(tmp, path) != 0) {
        fprintf(stderr, "qins: run-all: cannot write %s\n", path);
        remove(tmp);
    }
}

int qins_cli_run_all(int argc, char **argv) {
    const char *results = "results", *gates = NULL, *sets[32];
    int n_sets = 0, from = 0, to = -1;
    bool force = false, report = true;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--force")) force = true;
        else if (!strcmp(a, "--no-report")) report = false;
        else if (!strcmp(a, "-h") || !strcmp(a, "--help")) return usage();
        else if (strcmp(a, "--results") && strcmp(a, "--gates") && strcmp(a, "--from") && strcmp(a, "--to") &&
                 strcmp(a, "--set")) {
            fprintf(stderr, "qins run-all: unknown option '%s'\n", a);
            return 2;
        } else if (i + 1 >= argc) {
            fprintf(stderr, "qins run-all: %s needs a value\n", a);
            return 2;
        } else if (!strcmp(a, "--results")) results = argv[++i];
        else if (!strcmp(a, "--gates")) gates = argv[++i];
        else if (!strcmp(a, "--from") || !strcmp(a, "--to")) {
            char *end;
            const long v = strtol(argv[++i], &end, 10);
            if (*end || v < 0 || v > LAST_PHASE) {
                fprintf(stderr, "qins run-all: %s must be a phase 0..%d, got '%s'\n", a, LAST_PHASE, argv[i]);
                return 2;
            }
            *(a[2] == 'f' ? &from : &to) = (int)v;
        } else if (n_sets < 32) sets[n_sets++] = argv[++i]; // --set
        else {
            fprintf(stderr, "qins run-all: more than 32 --set options\n");
            return 2;
        }
    }
    const bool to_given = to >= 0;
    if (!to_given) to = LAST_PHASE;
    if (from > to) {
        fprintf(stderr, "qins run-all: --from %d is after --to %d\n", from, to);
        return 2;
    }
    char gates_path[1024];
    if (!gates) {
        if (qins_gate_defs_find(gates_path, sizeof gates_path) < 0) return 3;
        gates = gates_path;
    }
    struct qins_gate_defs defs;
    if (qins_gate_defs_load(gates, &defs) < 0) return 3;

    struct link chain[LAST_PHASE + 1];
    int n_links = 0, status = 0;
    char ending[1200] = "";
    // a chain started past phase 0 stands on the recorded verdict of the gate before it: if
    // that is not GO, the first phase runs forced (with --force) or the chain cannot start
    bool forcing = false;
    if (from > 0) {
        struct qins_gate_status gs;
        if (qins_gate_latest(results, from - 1, &gs) < 0) {
            qins_gate_defs_free(&defs);
            return 3;
        }
        if (gs.verdict != QINS_VERDICT_GO && !force) {
            fprintf(stderr, "qins: run-all: gate %d is %s in %s, so phase %d is locked (use --force, or start earlier)\n",
                    from - 1, gs.verdict == QINS_VERDICT_NONE ? "not evaluated" : qins_verdict_str(gs.verdict), results,
                    from);
            qins_gate_defs_free(&defs);
            return 1;
        }
        forcing = gs.verdict != QINS_VERDICT_GO;
    }
    const double t_all = qins_time_now();
    for (int p = from; p <= to; p++) {
        if (!cli_phase_built(p)) {
            if (to_given) {
                fprintf(stderr, "qins: run-all: qins-phase%d is not built in this tree\n", p);
                status = 3;
            }
            snprintf(ending, sizeof ending, "phase %d: not built in this tree, so the chain ends at phase %d", p, p - 1);
            break;
        }
        printf("\n== phase %d of %d-%d%s (%.0f s so far)\n", p, from, to, forcing ? ", forced" : "",
               qins_time_now() - t_all);
        fflush(stdout);
        const char *args[80];
        int na = 0;
        args[na++] = "--results", args[na++] = results;
        if (forcing) args[na++] = "--force";
        for (int k = 0; k < n_sets; k++) {
            const char *s = sets[k], *colon = strchr(s, ':');
            const char *eq = strchr(s, '=');
            if (colon && (!eq || colon < eq)) { // "P:section.key=value": this phase's only
                if (atoi(s) != p) continue;
                s = colon + 1;
            }
            args[na++] = "--set", args[na++] = s;
        }
        args[na] = NULL;
        struct link *l = &chain[n_links];
        memset(l, 0, sizeof *l);
        l->phase = p, l->verdict = QINS_VERDICT_NONE, l->forced = forcing;
        const double t0 = qins_time_now();
        char run[1024];
        if (cli_run_phase("run-all", p, args, results, run, sizeof run, NULL) != 0) {
            snprintf(ending, sizeof ending, "phase %d failed: the chain stops here (its error is above)", p);
            status = 3;
            break;
        }
        l->seconds = qins_time_now() - t0;
        const char *base = strrchr(run, '/') ? strrchr(run, '/') + 1 : run;
        snprintf(l->run_id, sizeof l->run_id, "%.*s", (int)(strlen(base) > 3 ? strlen(base) - 3 : strlen(base)), base);
        struct qins_gate_result r;
        const char *const one[] = {run};
        const int st = l->forced ? qins_gate_evaluate_preview(&defs, p, one, 1, &r)
                                 : qins_gate_evaluate(&defs, p, results, one, 1, &r);
        if (st < 0) {
            snprintf(ending, sizeof ending, "gate %d could not be evaluated on %s: the chain stops here", p, run);
            status = 3;
            break;
        }
        printf("\n");
        qins_gate_print(stdout, &r);
        if (!l->forced && qins_gate_record(&r, results) < 0) status = 3;
        l->verdict = r.verdict;
        qins_gate_reason(&r, l->reason, sizeof l->reason);
        qins_gate_result_free(&r);
        n_links++;
        if (l->verdict != QINS_VERDICT_GO) {
            if (status == 0) status = 1;
            if (!force && p == to) {
                snprintf(ending, sizeof ending, "the chain ends at gate %d (--to %d): %s", p, to,
                         qins_verdict_str(l->verdict));
                break;
            }
            if (!force) {
                snprintf(ending, sizeof ending,
                         "stopped at gate %d: %s. Phase %d onwards did not run; `qins run-all --force` runs them as "
                         "forced runs.",
                         p, qins_verdict_str(l->verdict), p + 1);
                break;
            }
            forcing = true;
        }
    }
    qins_gate_defs_free(&defs);
    if (!ending[0])
        snprintf(ending, sizeof ending, "%s (phases %d-%d)", status == 0 ? "every gate says GO" : "the chain ran to its end, forced",
                 from, n_links > 0 ? chain[n_links - 1].phase : from);
    if (report && n_links > 0) {
        printf("\n== qins report\n");
        fflush(stdout);
        char *rargv[] = {"report", "--results", (char *)results, NULL};
        if (qins_cli_report(3, rargv) != 0 && status == 0) status = 3;
    }
    printf("\n== the chain of verdicts (%.0f s)\n", qins_time_now() - t_all);
    chain_print(stdout, chain, n_links, ending, false);
    chain_write(results, chain, n_links, ending, force);
    return status;
}
