// tools/cli_reproduce.c — `qins reproduce OLD.h5`: check input hashes, re-run the phase binary
// with the recorded config, and compare every metric (exact for quality, tolerance for timings).
// `qins reproduce OLD.h5 --against NEW.h5` compares two existing run files without running.
#include <errno.h>
#include <fnmatch.h>
#include <libgen.h>
#include <limits.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "blas.h"
#include "cli.h"
#include "cli_phase.h"
#include "common.h"
#include "config.h"
#include "paths.h"
#include "results.h"
#include "runfile.h"

enum { MAX_ALLOW = 32 };

struct compare_opts {
    double tol;                     // timing tolerance, percent
    bool strict_timing;             // a timing outside tol fails too
    const char *allow[MAX_ALLOW];   // --allow-metric-diff globs (fnmatch, '*' also matches '/')
    int n_allow;
};

static int usage(void) {
    fprintf(stderr,
            "usage: qins reproduce OLD.h5 [--against NEW.h5] [--results DIR] [--tolerance PCT] [--strict-timing]\n"
            "                     [--allow-metric-diff GLOB]... [--check-only]\n"
            "  Without --against: verifies the model and eval text sha256, runs qins-phaseN (beside qins)\n"
            "  with the recorded config and compares the new run with OLD. With --against: compares the\n"
            "  two run files as they are (nothing is run). Prints every metric of either file with its old\n"
            "  and new value and a status: quality metrics must be identical, timings within PCT %% (default\n"
            "  25; outside only fails with --strict-timing). --allow-metric-diff GLOB (repeatable, e.g.\n"
            "  '*/kv_compression_vs_fp16') reports matching metrics as \"differs (allowed)\" without failing.\n"
            "  Exit 0 when nothing fails, 1 when a quality metric differs or is only in one file.\n");
    return 2;
}

// Where a config's file is now: its recorded name looked up again, else the recorded path.
static void locate(const char *config, const char *key, enum qins_path_kind kind, const char *recorded, char *out,
                   size_t cap) {
    char name[1024];
    snprintf(out, cap, "%s", recorded);
    if (qins_config_peek(config, "run", key, name, sizeof name) == QINS_OK) {
        char found[1024];
        // a miss here is not an error: fall back quietly
        if (qins_path_try(kind, name, found, sizeof found) == QINS_OK) snprintf(out, cap, "%s", found);
    }
}

static bool allowed(const struct compare_opts *o, const char *name) {
    for (int i = 0; i < o->n_allow; i++)
        if (fnmatch(o->allow[i], name, 0) == 0) return true;
    return false;
}

// "abs +0.1, rel +3.1%" (rel "n/a" when old is 0 or either side is not finite).
static void fmt_diff(double a, double b, char *out, size_t cap) {
    if (a != 0 && isfinite(a) && isfinite(b))
        snprintf(out, cap, "abs %+.6g, rel %+.4g%%", b - a, 100.0 * (b - a) / fabs(a));
    else snprintf(out, cap, "abs %+.6g, rel n/a", b - a);
}

static void fmt_value(bool has, double v, char *out, size_t cap) {
    if (has) snprintf(out, cap, "%.10g", v);
    else snprintf(out, cap, "-");
}

// The per-metric report: every metric of either file, old and new value, unit and status.
// Returns 0 when nothing fails (see usage), 1 otherwise.
static int compare_runs(const qins_runfile_t *old, const qins_runfile_t *new, const struct compare_opts *o) {
    char **n1, **n2;
    size_t c1, c2;
    if (qins_runfile_metric_names(old, &n1, &c1) < 0) return 1;
    if (qins_runfile_metric_names(new, &n2, &c2) < 0) {
        qins_strv_free(n1, c1);
        return 1;
    }
    int n_total = 0, n_same = 0, n_differ = 0, n_allowed = 0, n_only_old = 0, n_only_new = 0, n_timing = 0,
        n_timing_out = 0;
    char failing[512] = ""; // names of the failing metrics, for the last line
    printf("\n%-40s %16s %16s %-10s %s\n", "metric", "old", "new", "unit", "status");
    size_t i = 0, j = 0;
    while (i < c1 || j < c2) {
        const int cmp = i >= c1 ? 1 : j >= c2 ? -1 : strcmp(n1[i], n2[j]);
        const char *name = cmp <= 0 ? n1[i] : n2[j];
        double a = NAN, b = NAN;
        char unit[32] = "", unit2[32] = "", status[160], va[32], vb[32], diff[96];
        const bool ha = cmp <= 0 && qins_runfile_metric(old, name, &a, unit, sizeof unit) == QINS_OK;
        const bool hb = cmp >= 0 && qins_runfile_metric(new, name, &b, unit2, sizeof unit2) == QINS_OK;
        if (!unit[0]) snprintf(unit, sizeof unit, "%s", unit2);
        const bool timing = qins_unit_is_timing(unit), ok_by_flag = allowed(o, name);
        bool fails = false;
        n_total++;
        fmt_diff(a, b, diff, sizeof diff);
        if (!ha || !hb) {
            snprintf(status, sizeof status, "only in %s%s", ha ? "old" : "new",
                     timing ? " (timing)" : ok_by_flag ? " (allowed)" : "");
            *(ha ? &n_only_old : &n_only_new) += 1;
            fails = !timing && !ok_by_flag;
        } else if (a == b || (isnan(a) && isnan(b))) {
            snprintf(status, sizeof status, "identical%s", timing ? " (timing)" : "");
            n_same++;
            n_timing += timing;
        } else if (timing) {
            const double rel = a != 0 ? 100.0 * fabs(b - a) / fabs(a) : INFINITY;
            const bool within = rel <= o->tol;
            snprintf(status, sizeof status, "timing %s tolerance %g%% (%s)%s", within ? "within" : "OUTSIDE", o->tol,
                     diff, !within && ok_by_flag ? " (allowed)" : "");
            n_timing++;
            n_timing_out += !within && !ok_by_flag;
            fails = !within && !ok_by_flag && o->strict_timing;
        } else if (ok_by_flag) {
            snprintf(status, sizeof status, "differs (allowed) (%s)", diff);
            n_allowed++;
        } else {
            snprintf(status, sizeof status, "DIFFERS (%s)", diff);
            n_differ++;
            fails = true;
        }
        if (fails) {
            const size_t len = strlen(failing);
            if (len + strlen(name) + 8 < sizeof failing)
                snprintf(failing + len, sizeof failing - len, "%s%s", len ? ", " : "", name);
            else if (!strstr(failing, "...")) snprintf(failing + len, sizeof failing - len, ", ...");
        }
        fmt_value(ha, a, va, sizeof va);
        fmt_value(hb, b, vb, sizeof vb);
        if (unit2[0] && strcmp(unit, unit2)) snprintf(unit + strlen(unit), sizeof unit - strlen(unit), "->%s", unit2);
        printf("%-40s %16s %16s %-10s %s\n", name, va, vb, unit, status);
        if (cmp <= 0) i++;
        if (cmp >= 0) j++;
    }
    qins_strv_free(n1, c1);
    qins_strv_free(n2, c2);
    printf("\n%d metrics: %d identical, %d differ, %d differ (allowed), %d only in old, %d only in new; "
           "%d timings, %d outside the %g%% tolerance\n",
           n_total, n_same, n_differ, n_allowed, n_only_old, n_only_new, n_timing, n_timing_out, o->tol);
    // Quality metrics decide: they are deterministic for a build and thread count. Timings on a
    // shared machine move with its load, so one outside the tolerance is reported, and fails the
    // command only with --strict-timing.
    if (failing[0]) {
        printf("NOT reproduced: %s\n", failing);
        return 1;
    }
    if (n_timing_out)
        printf("reproduced: quality metrics identical%s; %d timing(s) outside the %g%% tolerance (machine load?)\n",
               n_allowed ? " or allowed" : "", n_timing_out, o->tol);
    else printf("reproduced: quality metrics identical%s, timings within tolerance\n", n_allowed ? " or allowed" : "");
    return 0;
}

static void print_meta(const char *label, const struct qins_run_meta *m) {
    printf("%s: %s (run %s, phase %d%s), commit %.12s (%s), config hash %.16s\n", label, m->path, m->run_id, m->phase,
           m->forced ? ", forced" : "", m->git_commit, m->git_dirty, m->config_hash);
}

// Notes on what may explain differences: code (commit), config, threads, host.
// rerun: new is the re-run of old's config by this build.
static void print_notes(const struct qins_run_meta *old, const struct qins_run_meta *new, bool rerun) {
    if (strcmp(old->git_commit, new->git_commit))
        printf("note: harness commit differs: old %s, new %s\n", old->git_commit, new->git_commit);
    if (old->phase != new->phase)
        printf("note: comparing a phase %d run with a phase %d run\n", old->phase, new->phase);
    if (strcmp(new->config_hash, old->config_hash))
        printf("note: the effective configs differ (hash %.16s old, %.16s new)%s\n", old->config_hash,
               new->config_hash, rerun ? ": the phase's keys or defaults changed since" : "");
    // Different BLAS kernels (core) sum in a different order: timings and low bits may move.
    if (strcmp(old->blas_core, new->blas_core))
        printf("note: BLAS core differs: old %s, new %s (other sgemm kernels: timings and rounding can differ)\n",
               old->blas_core[0] ? old->blas_core : "(not recorded)", new->blas_core[0] ? new->blas_core : "(not recorded)");
    if (strcmp(old->matmul_kernels, new->matmul_kernels))
        printf("note: matmul kernels differ: old %s, new %s (other vector widths sum in another order)\n",
               old->matmul_kernels[0] ? old->matmul_kernels : "(not recorded)",
               new->matmul_kernels[0] ? new->matmul_kernels : "(not recorded)");
    if (strcmp(old->cpu_model, new->cpu_model))
        printf("note: CPU model differs: old %s, new %s\n", old->cpu_model[0] ? old->cpu_model : "(not recorded)",
               new->cpu_model[0] ? new->cpu_model : "(not recorded)");
    if (new->threads != old->threads || strcmp(new->host, old->host))
        printf("note: threads %d on %s vs %d on %s: results are bit-reproducible only for the same build and thread "
               "count\n", new->threads, new->host, old->threads, old->host);
}

static int against(const char *old_path, const char *new_path, const struct compare_opts *o) {
    qins_runfile_t *old, *new;
    if (qins_runfile_open(&old, old_path) < 0) return 1;
    if (qins_runfile_open(&new, new_path) < 0) {
        qins_runfile_close(old);
        return 1;
    }
    print_meta("old", qins_runfile_meta(old));
    print_meta("new", qins_runfile_meta(new));
    print_notes(qins_runfile_meta(old), qins_runfile_meta(new), false);
    int rc = compare_runs(old, new, o);
    qins_runfile_close(new);
    qins_runfile_close(old);
    return rc;
}

int qins_cli_reproduce(int argc, char **argv) {
    const char *run = NULL, *results = "results", *against_path = NULL;
    struct compare_opts o = {.tol = 25};
    bool check_only = false;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--check-only")) check_only = true;
        else if (!strcmp(argv[i], "--strict-timing")) o.strict_timing = true;
        else if (argv[i][0] != '-' && !run) run = argv[i];
        else if (i + 1 >= argc) return usage();
        else if (!strcmp(argv[i], "--results")) results = argv[++i];
        else if (!strcmp(argv[i], "--tolerance")) o.tol = atof(argv[++i]);
        else if (!strcmp(argv[i], "--against")) against_path = argv[++i];
        else if (!strcmp(argv[i], "--allow-metric-diff") && o.n_allow < MAX_ALLOW) o.allow[o.n_allow++] = argv[++i];
        else return usage();
    }
    if (!run || (against_path && check_only)) return usage();
    if (against_path) return against(run, against_path, &o);
    qins_runfile_t *orig;
    if (qins_runfile_open(&orig, run) < 0) return 1;
    const struct qins_run_meta m = *qins_runfile_meta(orig);
    char *config = NULL;
    if (qins_runfile_attr_str(orig, "/", "config", &config) < 0) {
        fprintf(stderr, "qins: reproduce: %s has no recorded config\n", run);
        qins_runfile_close(orig);
        return 1;
    }
    char model[1024], eval[1024];
    locate(config, "model", QINS_PATH_MODEL, m.model_path, model, sizeof model);
    locate(config, "eval_text", QINS_PATH_DATA, m.eval_path, eval, sizeof eval);
    printf("run %s (phase %d%s), recorded config hash %.16s\n", m.run_id, m.phase, m.forced ? ", forced" : "",
           m.config_hash);
    if (strcmp(m.git_commit, qins_run_build_commit()))
        printf("note: harness commit differs: recorded %s, this build %s\n", m.git_commit, qins_run_build_commit());
    struct qins_blas_info blas;
    qins_blas_info_get(&blas);
    if (strcmp(m.blas_core, blas.core) || strcmp(m.cpu_model, blas.cpu_model))
        printf("note: recorded BLAS core %s on %s, this machine %s on %s\n", m.blas_core[0] ? m.blas_core : "(not recorded)",
               m.cpu_model[0] ? m.cpu_model : "(not recorded)", blas.core, blas.cpu_model);
    if (qins_run_verify_inputs(orig, model, eval) < 0) {
        // The message (logged) names the file and both hashes.
        qins_runfile_close(orig);
        free(config);
        return 1;
    }
    printf("inputs verified: model %s (sha256 %.16s…), eval text %s (sha256 %.16s…)\n", model, m.model_sha256, eval,
           m.eval_sha256);
    if (check_only) {
        qins_runfile_close(orig);
        free(config);
        return 0;
    }

    char cfg_path[] = "/tmp/qins-reproduce-XXXXXX.ini";
    int fd = mkstemps(cfg_path, 4);
    FILE *cf = fd >= 0 ? fdopen(fd, "w") : NULL;
    if (!cf || fputs(config, cf) < 0 || fclose(cf) != 0) {
        fprintf(stderr, "qins: reproduce: cannot write the recorded config to a temp file: %s\n", strerror(errno));
        qins_runfile_close(orig);
        free(config);
        return 1;
    }
    free(config);
    const char *args[] = {"--config", cfg_path, "--results", results, m.forced ? "--force" : NULL, NULL};
    char new_path[1024];
    const int ran = cli_run_phase("reproduce", m.phase, args, results, new_path, sizeof new_path, NULL);
    unlink(cfg_path);
    qins_runfile_t *rep = NULL;
    if (ran != 0 || qins_runfile_open(&rep, new_path) < 0) {
        qins_runfile_close(orig);
        return 1;
    }
    const struct qins_run_meta *new_run = qins_runfile_meta(rep);
    printf("new run: %s\n", new_run->path);
    struct qins_run_meta old_meta = m;
    snprintf(old_meta.git_commit, sizeof old_meta.git_commit, "%s", new_run->git_commit); // said above already
    snprintf(old_meta.blas_core, sizeof old_meta.blas_core, "%s", new_run->blas_core);
    snprintf(old_meta.cpu_model, sizeof old_meta.cpu_model, "%s", new_run->cpu_model);
    print_notes(&old_meta, new_run, true);
    int rc = compare_runs(orig, rep, &o);
    qins_runfile_close(rep);
    qins_runfile_close(orig);
    return rc;
}
