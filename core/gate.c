// core/gate.c — gate definitions, evaluation, records.
#include "gate.h"

#include <ctype.h>
#include <errno.h>
#include <hdf5.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common.h"
#include "config.h"
#include "results.h"
#include "paths.h"
#include "runfile.h"
#include "util.h"

// ---- definitions

int qins_gate_defs_find(char *out, size_t cap) {
    const char *env = getenv("QINS_GATES");
    if (env && *env) {
        QINS_CHECK(access(env, R_OK) == 0, QINS_ERR_IO, "QINS_GATES='%s' is not readable", env);
        snprintf(out, cap, "%s", env);
        return QINS_OK;
    }
    return qins_path_resolve(QINS_PATH_SOURCE, "gates/gates.txt", out, cap);
}

void qins_gate_defs_free(struct qins_gate_defs *d) {
    if (!d) return;
    free(d->c);
    d->c = NULL;
    d->n = 0;
}

static char *trim(char *s) {
    while (isspace((unsigned char)*s)) s++;
    char *e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1])) *--e = 0;
    return s;
}

static int parse_cmp(const char *s) {
    static const struct { const char *name; int cmp; } t[] = {
        {">", QINS_CMP_GT}, {">=", QINS_CMP_GE}, {"<", QINS_CMP_LT}, {"<=", QINS_CMP_LE},
        {"==", QINS_CMP_EQ}, {"abs<", QINS_CMP_ABS_LT}, {"abs<=", QINS_CMP_ABS_LE}};
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
        if (!strcmp(s, t[i].name)) return t[i].cmp;
    return 0;
}

static const char *cmp_str(int c) {
    switch (c) {
    case QINS_CMP_GT: return ">";
    case QINS_CMP_GE: return ">=";
    case QINS_CMP_LT: return "<";
    case QINS_CMP_LE: return "<=";
    case QINS_CMP_EQ: return "==";
    case QINS_CMP_ABS_LT: return "abs<";
    case QINS_CMP_ABS_LE: return "abs<=";
    }
    return "?";
}

static bool parse_num(const char *s, double *v) {
    char *end;
    errno = 0;
    *v = strtod(s, &end);
    return *s && !*end && !errno && isfinite(*v);
}

int qins_gate_defs_load(const char *path, struct qins_gate_defs *out) {
    memset(out, 0, sizeof *out);
    snprintf(out->path, sizeof out->path, "%s", path);
    FILE *f = fopen(path, "r");
    QINS_CHECK(f, QINS_ERR_IO, "cannot open gates file '%s': %s", path, strerror(errno));
    char line[2048];
    int lineno = 0, st = QINS_OK;
    size_t cap = 0;
    while (st == QINS_OK && fgets(line, sizeof line, f)) {
        lineno++;
        char *s = trim(line);
        if (!*s || *s == '#') continue;
        char *field[8];
        int nf = 0;
        for (char *p = s; nf < 8;) {
            char *bar = strchr(p, '|');
            if (bar) *bar = 0;
            field[nf++] = trim(p);
            if (!bar) break;
            p = bar + 1;
        }
        if (nf != 8) {
            qins_log(QINS_LOG_ERROR, "%s:%d: expected 8 '|'-separated fields (gate | id | select | metric | cmp | "
                     "threshold | floor | wording), got %d", path, lineno, nf);
            st = QINS_ERR_FORMAT;
            break;
        }
        struct qins_gate_criterion c = {.line = lineno};
        char *end;
        long g = strtol(field[0], &end, 10);
        c.cmp = parse_cmp(field[4]);
        c.decision = !strcmp(field[1], "decision");
        c.target = !strncmp(field[1], "target_", 7);
        bool ok_sel = !strcmp(field[2], "*") || (!strncmp(field[2], "tag:", 4) && field[2][4]);
        const char *why = NULL;
        if (*end || end == field[0] || g < 0 || g > 9) why = "gate must be 0..9";
        else if (!*field[1]) why = "empty id";
        else if (!ok_sel) why = "select must be * or tag:NAME";
        else if (!*field[3]) why = "empty metric";
        else if (!c.cmp) why = "cmp must be one of > >= < <= == abs< abs<=";
        else if (c.decision) {
            char *slash = strchr(field[5], '/');
            c.pause = NAN; // one number: two bands, GO or NO-GO
            if (!slash) {
                if (!parse_num(trim(field[5]), &c.threshold))
                    why = "decision threshold must be GO or GO/PAUSE, e.g. 0.85 or 0.95/0.90";
                else if (c.cmp != QINS_CMP_GT && c.cmp != QINS_CMP_GE) why = "decision cmp must be > or >=";
            } else {
                *slash = 0;
                if (!parse_num(trim(field[5]), &c.threshold) || !parse_num(trim(slash + 1), &c.pause))
                    why = "decision threshold must be two numbers GO/PAUSE";
                else if (c.cmp != QINS_CMP_GT && c.cmp != QINS_CMP_GE) why = "decision cmp must be > or >=";
                else if (c.pause > c.threshold) why = "decision PAUSE bound above the GO bound";
            }
        } else if (!parse_num(field[5], &c.threshold)) why = "threshold is not a number";
        if (!why)
            for (size_t i = 0; i < out->n; i++)
                if (out->c[i].gate == g && !strcmp(out->c[i].id, field[1])) why = "id repeats within the gate";
        if (why) {
            qins_log(QINS_LOG_ERROR, "%s:%d: %s", path, lineno, why);
            st = QINS_ERR_FORMAT;
            break;
        }
        c.gate = (int)g;
        snprintf(c.id, sizeof c.id, "%s", field[1]);
        snprintf(c.select, sizeof c.select, "%s", field[2]);
        snprintf(c.metric, sizeof c.metric, "%s", field[3]);
        snprintf(c.floor, sizeof c.floor, "%s", strcmp(field[6], "-") ? field[6] : "");
        snprintf(c.wording, sizeof c.wording, "%s", field[7]);
        if (qins_grow(&out->c, &cap, out->n + 1, sizeof *out->c) < 0) {
            st = QINS_ERR_NOMEM;
            break;
        }
        out->c[out->n++] = c;
    }
    fclose(f);
    if (st < 0) qins_gate_defs_free(out);
    return st;
}

// ---- evaluation

const char *qins_verdict_str(int v) {
    switch (v) {
    case QINS_VERDICT_GO: return "GO";
    case QINS_VERDICT_PAUSE: return "PAUSE";
    case QINS_VERDICT_NOGO: return "NO-GO";
    }
    return "none";
}

void qins_gate_result_free(struct qins_gate_result *r) {
    if (!r) return;
    free(r->rows);
    r->rows = NULL;
    r->n_rows = 0;
}

static bool holds(int cmp, double v, double t) {
    switch (cmp) {
    case QINS_CMP_GT: return v > t;
    case QINS_CMP_GE: return v >= t;
    case QINS_CMP_LT: return v < t;
    case QINS_CMP_LE: return v <= t;
    case QINS_CMP_EQ: return v == t;
    case QINS_CMP_ABS_LT: return fabs(v) < t;
    case QINS_CMP_ABS_LE: return fabs(v) <= t;
    }
    return false; // NaN and unknown comparators never pass
}

static bool selects(const char *select, const struct qins_run_meta *m) {
    return !strcmp(select, "*") || !strcmp(select + 4, m->tag);
}

// Replaces the variant part of "variant/metric" with floor: "qins8/token_match" -> "fp16/token_match".
static void floor_metric(const char *metric, const char *floor, char *out, size_t cap) {
    const char *slash = strchr(metric, '/');
    snprintf(out, cap, "%s/%s", floor, slash ? slash + 1 : metric);
}

static int evaluate(const struct qins_gate_defs *defs, int gate, const char *results_dir, const char *const *run_paths,
                    size_t n_run_paths, bool allow_forced, struct qins_gate_result *out) {
    memset(out, 0, sizeof *out);
    out->preview = allow_forced;
    out->gate = gate;
    snprintf(out->gates_path, sizeof out->gates_path, "%s", defs->path);
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(out->time, sizeof out->time, "%Y-%m-%dT%H:%M:%SZ", &tm);
    size_t n = 0;
    for (size_t i = 0; i < defs->n; i++) n += defs->c[i].gate == gate;
    QINS_CHECK(n > 0, QINS_ERR_RANGE, "gate %d has no criteria in %s", gate, defs->path);

    // Candidate runs: the named ones, or every complete run of phase N (newest first).
    struct qins_run_meta *runs = NULL;
    size_t n_runs = 0;
    if (n_run_paths) {
        runs = calloc(n_run_paths, sizeof *runs);
        QINS_CHECK(runs, QINS_ERR_NOMEM, "out of memory");
        for (size_t i = 0; i < n_run_paths; i++) {
            qins_runfile_t *f;
            int st = qins_runfile_open(&f, run_paths[i]);
            if (st < 0) {
                free(runs);
                return QINS_ERR_ARG;
            }
            runs[n_runs++] = *qins_runfile_meta(f);
            qins_runfile_close(f);
            const struct qins_run_meta *m = &runs[n_runs - 1];
            if (m->phase != gate || (m->forced && !allow_forced)) {
                qins_log(QINS_LOG_ERROR, "%s is %s; gate %d reads complete, non-forced phase-%d runs", run_paths[i],
                         m->forced ? "a forced run" : "a run of another phase", gate, gate);
                free(runs);
                return QINS_ERR_ARG;
            }
        }
    } else {
        QINS_TRY(qins_results_list(results_dir, gate, &runs, &n_runs, NULL));
    }

    out->rows = calloc(n, sizeof *out->rows);
    if (!out->rows) {
        free(runs);
        QINS_CHECK(0, QINS_ERR_NOMEM, "out of memory");
    }
    bool all_pass = true;
    int band = QINS_VERDICT_GO;
    for (size_t i = 0; i < defs->n; i++) {
        const struct qins_gate_criterion *c = &defs->c[i];
        if (c->gate != gate) continue;
        struct qins_gate_row *row = &out->rows[out->n_rows++];
        row->crit = *c;
        row->measured = NAN;
        row->floor_value = NAN;
        row->missing = true;
        row->band = QINS_VERDICT_NOGO;
        const struct qins_run_meta *m = NULL;
        for (size_t k = 0; k < n_runs && !m; k++) // newest first; forced runs never count
            if ((!runs[k].forced || allow_forced) && selects(c->select, &runs[k])) m = &runs[k];
        if (!m) {
            snprintf(row->note, sizeof row->note, "%s phase-%d run%s%s", allow_forced ? "no --run file is a" : "no complete, non-forced",
                     gate, strcmp(c->select, "*") ? " with tag " : "", strcmp(c->select, "*") ? c->select + 4 : "");
            all_pass &= c->target;
            continue;
        }
        snprintf(row->run_id, sizeof row->run_id, "%s", m->run_id);
        snprintf(row->run_path, sizeof row->run_path, "%s", m->path);
        if (!strstr(out->runs, m->run_id)) {
            size_t len = strlen(out->runs);
            snprintf(out->runs + len, sizeof out->runs - len, "%s%s", len ? "," : "", m->run_id);
        }
        qins_runfile_t *f;
        if (qins_runfile_open(&f, m->path) < 0) {
            snprintf(row->note, sizeof row->note, "run %s could not be reopened", m->run_id);
            all_pass &= c->target;
            continue;
        }
        double v;
        if (qins_runfile_metric(f, c->metric, &v, NULL, 0) == QINS_OK) {
            row->measured = v;
            row->missing = false;
        } else {
            snprintf(row->note, sizeof row->note, "metric %s missing in run %s", c->metric, m->run_id);
        }
        if (c->floor[0]) {
            char fm[200];
            floor_metric(c->metric, c->floor, fm, sizeof fm);
            row->has_floor = qins_runfile_metric(f, fm, &row->floor_value, NULL, 0) == QINS_OK;
        }
        qins_runfile_close(f);
        if (row->missing) {
            all_pass &= c->target;
            continue;
        }
        if (c->decision) {
            row->band = holds(c->cmp, v, c->threshold) ? QINS_VERDICT_GO
                        : !isnan(c->pause) && v >= c->pause ? QINS_VERDICT_PAUSE
                                                       : QINS_VERDICT_NOGO;
            row->pass = row->band != QINS_VERDICT_NOGO;
            band = row->band;
            if (!row->pass) all_pass = false;
        } else {
            row->pass = holds(c->cmp, v, c->threshold);
            if (!row->pass) {
                all_pass &= c->target; // a target is reported, never decides
                if (isnan(v)) snprintf(row->note, sizeof row->note, "measured value is NaN");
            }
        }
    }
    free(runs);
    out->verdict = !all_pass ? QINS_VERDICT_NOGO : band;
    return QINS_OK;
}

int qins_gate_evaluate(const struct qins_gate_defs *defs, int gate, const char *results_dir,
                       const char *const *run_paths, size_t n_run_paths, struct qins_gate_result *out) {
    return evaluate(defs, gate, results_dir, run_paths, n_run_paths, false, out);
}

int qins_gate_evaluate_preview(const struct qins_gate_defs *defs, int gate, const char *const *run_paths,
                               size_t n_run_paths, struct qins_gate_result *out) {
    QINS_CHECK(n_run_paths > 0, QINS_ERR_ARG, "a preview evaluates named run files (--run)");
    return evaluate(defs, gate, NULL, run_paths, n_run_paths, true, out);
}


static void fmt_threshold(const struct qins_gate_criterion *c, char *buf, size_t cap) {
    if (c->decision && isnan(c->pause)) snprintf(buf, cap, "GO %s %g, else NO-GO", cmp_str(c->cmp), c->threshold);
    else if (c->decision) snprintf(buf, cap, "GO %s %g, PAUSE >= %g", cmp_str(c->cmp), c->threshold, c->pause);
    else snprintf(buf, cap, "%s %g", cmp_str(c->cmp), c->threshold);
}

static void fmt_value(double v, bool present, char *buf, size_t cap) {
    if (!present) snprintf(buf, cap, "missing");
    else snprintf(buf, cap, "%.6g", v);
}

static void fmt_floor(const struct qins_gate_row *w, char *buf, size_t cap) {
    if (!w->crit.floor[0]) snprintf(buf, cap, "-");
    else if (!w->has_floor) snprintf(buf, cap, "%s: n/a", w->crit.floor);
    else snprintf(buf, cap, "%s: %.4g", w->crit.floor, w->floor_value);
}

static const char *row_result(const struct qins_gate_row *r) {
    if (r->crit.decision && !r->missing) return qins_verdict_str(r->band);
    if (r->crit.target) return r->pass ? "MET" : "MISSED";
    return r->pass ? "PASS" : "FAIL";
}

void qins_gate_row_format(const struct qins_gate_row *w, struct qins_gate_row_text *t) {
    fmt_threshold(&w->crit, t->threshold, sizeof t->threshold);
    fmt_value(w->measured, !w->missing, t->measured, sizeof t->measured);
    fmt_floor(w, t->floor, sizeof t->floor);
    t->result = row_result(w);
}

void qins_gate_reason(const struct qins_gate_result *r, char *out, size_t cap) {
    if (!cap) return;
    const struct qins_gate_row *first = NULL, *decision = NULL;
    size_t n_fail = 0, n_crit = 0;
    for (size_t i = 0; i < r->n_rows; i++) {
        const struct qins_gate_row *w = &r->rows[i];
        if (w->crit.target) continue;
        n_crit++;
        if (w->crit.decision) decision = w;
        if (!w->pass && !n_fail++) first = w;
    }
    struct qins_gate_row_text t;
    if (first) {
        qins_gate_row_format(first, &t);
        int n = first->missing ? snprintf(out, cap, "%s: %s", first->crit.wording, first->note)
                               : snprintf(out, cap, "%s: %s (needs %s)", first->crit.wording, t.measured, t.threshold);
        if (n_fail > 1 && n >= 0 && (size_t)n < cap) snprintf(out + n, cap - (size_t)n, "; %zu more fail", n_fail - 1);
    } else if (decision) {
        qins_gate_row_format(decision, &t);
        snprintf(out, cap, "%s: %s (%s)", decision->crit.wording, t.measured, t.result);
    } else {
        snprintf(out, cap, n_crit ? "all %zu criteria pass" : "no criteria", n_crit);
    }
}

void qins_gate_print(FILE *f, const struct qins_gate_result *r) {
    fprintf(f, "gate %d (%s), evaluated %s\n", r->gate, r->gates_path, r->time);
    if (r->preview)
        fprintf(f, "PREVIEW of forced run(s): this verdict is not recorded and does not unlock phase %d\n", r->gate + 1);
    fprintf(f, "runs: %s\n\n", r->runs[0] ? r->runs : "(none)");
    fprintf(f, "%-18s %-36s %12s %-26s %12s  %s\n", "criterion", "metric", "measured", "threshold", "noise floor",
            "result");
    for (size_t i = 0; i < r->n_rows; i++) {
        const struct qins_gate_row *w = &r->rows[i];
        char th[64], meas[32], fl[96];
        fmt_threshold(&w->crit, th, sizeof th);
        fmt_value(w->measured, !w->missing, meas, sizeof meas);
        fmt_floor(w, fl, sizeof fl);
        fprintf(f, "%-18s %-36s %12s %-26s %12s  %s\n", w->crit.id, w->crit.metric, meas, th, fl, row_result(w));
        if (w->note[0]) fprintf(f, "%18s   -> %s\n", "", w->note);
    }
    fprintf(f, "\nverdict: %s\n", qins_verdict_str(r->verdict));
}

// ---- records

static int write_md(const struct qins_gate_result *r, const char *path) {
    FILE *f = fopen(path, "w");
    QINS_CHECK(f, QINS_ERR_IO, "cannot write '%s': %s", path, strerror(errno));
    fprintf(f, "# Gate %d: %s\n\nEvaluated %s from `%s`.\n\nRuns: %s\n\n", r->gate, qins_verdict_str(r->verdict),
            r->time, r->gates_path, r->runs[0] ? r->runs : "(none)");
    fprintf(f, "| criterion | metric | run | measured | threshold | noise floor | result | plan |\n");
    fprintf(f, "|---|---|---|---:|---|---:|---|---|\n");
    for (size_t i = 0; i < r->n_rows; i++) {
        const struct qins_gate_row *w = &r->rows[i];
        char th[64], meas[32], fl[96];
        fmt_threshold(&w->crit, th, sizeof th);
        fmt_value(w->measured, !w->missing, meas, sizeof meas);
        fmt_floor(w, fl, sizeof fl);
        fprintf(f, "| %s | `%s` | %s | %s | %s | %s | **%s** | %s%s%s |\n", w->crit.id, w->crit.metric,
                w->run_id[0] ? w->run_id : "-", meas, th, fl, row_result(w), w->crit.wording,
                w->note[0] ? " — " : "", w->note);
    }
    fprintf(f, "\nVerdict: **%s**. A missing metric or run is a FAIL; forced runs are never used; target_ rows "
               "(MET/MISSED) are reported beside the criteria and do not decide.\n",
            qins_verdict_str(r->verdict));
    int bad = ferror(f);
    bad |= fclose(f);
    QINS_CHECK(!bad, QINS_ERR_IO, "write error on '%s'", path);
    return QINS_OK;
}

static int copy_file(const char *from, const char *to) {
    FILE *a = fopen(from, "rb"), *b = a ? fopen(to, "wb") : NULL;
    if (!a || !b) {
        if (a) fclose(a);
        QINS_CHECK(0, QINS_ERR_IO, "cannot copy '%s' to '%s'", from, to);
    }
    char buf[65536];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, a)) > 0) fwrite(buf, 1, n, b);
    fclose(a);
    int bad = fclose(b);
    QINS_CHECK(!bad, QINS_ERR_IO, "write error on '%s'", to);
    return QINS_OK;
}

static herr_t h5_str_attr(hid_t obj, const char *name, const char *v) {
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, H5T_VARIABLE);
    H5Tset_cset(t, H5T_CSET_UTF8);
    if (H5Aexists(obj, name) > 0) H5Adelete(obj, name);
    hid_t s = H5Screate(H5S_SCALAR), a = H5Acreate2(obj, name, t, s, H5P_DEFAULT, H5P_DEFAULT);
    herr_t e = a < 0 ? -1 : H5Awrite(a, t, &v);
    if (a >= 0) H5Aclose(a);
    H5Sclose(s);
    H5Tclose(t);
    return e;
}

static herr_t h5_strings(hid_t g, const char *name, const char **v, size_t n) {
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, H5T_VARIABLE);
    H5Tset_cset(t, H5T_CSET_UTF8);
    hsize_t dim = n;
    hid_t s = H5Screate_simple(1, &dim, NULL), d = H5Dcreate2(g, name, t, s, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    herr_t e = d < 0 ? -1 : H5Dwrite(d, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, v);
    if (d >= 0) H5Dclose(d);
    H5Sclose(s);
    H5Tclose(t);
    return e;
}

static herr_t h5_doubles(hid_t g, const char *name, const double *v, size_t n) {
    hsize_t dim = n;
    hid_t s = H5Screate_simple(1, &dim, NULL);
    hid_t d = H5Dcreate2(g, name, H5T_NATIVE_DOUBLE, s, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    herr_t e = d < 0 ? -1 : H5Dwrite(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, v);
    if (d >= 0) H5Dclose(d);
    H5Sclose(s);
    return e;
}

// Appends one evaluation to gates.h5: copy, add, rename — a reader never sees a half-written file.
static int record_h5(const struct qins_gate_result *r, const char *dir) {
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    char path[1100], tmp[1200];
    snprintf(path, sizeof path, "%s/gates.h5", dir);
    snprintf(tmp, sizeof tmp, "%s/.gates.h5.%d.tmp", dir, (int)getpid());
    hid_t f;
    if (access(path, F_OK) == 0) {
        QINS_TRY(copy_file(path, tmp));
        f = H5Fopen(tmp, H5F_ACC_RDWR, H5P_DEFAULT);
    } else {
        f = H5Fcreate(tmp, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    }
    if (f < 0) {
        unlink(tmp);
        QINS_CHECK(0, QINS_ERR_IO, "cannot open gate record '%s'", path);
    }
    char gname[32], eval[64], epath[128];
    snprintf(gname, sizeof gname, "/gate%d", r->gate);
    hid_t g = H5Lexists(f, gname, H5P_DEFAULT) > 0 ? H5Gopen2(f, gname, H5P_DEFAULT)
                                                    : H5Gcreate2(f, gname, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    // Group names are the evaluation time; a second evaluation in the same second gets a suffix.
    for (int k = 1;; k++) {
        snprintf(eval, sizeof eval, k == 1 ? "%s" : "%s-%d", r->time, k);
        snprintf(epath, sizeof epath, "%s/%s", gname, eval);
        if (H5Lexists(f, epath, H5P_DEFAULT) <= 0) break;
    }
    hid_t e = g < 0 ? -1 : H5Gcreate2(f, epath, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    herr_t err = e < 0 ? -1 : 0;
    size_t n = r->n_rows;
    const char **ids = calloc(n + 1, sizeof *ids), **metrics = calloc(n + 1, sizeof *metrics),
               **thr = calloc(n + 1, sizeof *thr), **res = calloc(n + 1, sizeof *res),
               **runs = calloc(n + 1, sizeof *runs), **notes = calloc(n + 1, sizeof *notes),
               **words = calloc(n + 1, sizeof *words), **floors = calloc(n + 1, sizeof *floors);
    double *meas = calloc(n + 1, sizeof *meas), *flv = calloc(n + 1, sizeof *flv);
    double *tv = calloc(n + 1, sizeof *tv), *pv = calloc(n + 1, sizeof *pv);
    const char **cmps = calloc(n + 1, sizeof *cmps), **sels = calloc(n + 1, sizeof *sels);
    char (*thbuf)[64] = calloc(n + 1, sizeof *thbuf);
    if (!ids || !metrics || !thr || !res || !runs || !notes || !words || !floors || !meas || !flv || !thbuf || !tv ||
        !pv || !cmps || !sels)
        err = -1;
    for (size_t i = 0; err >= 0 && i < n; i++) {
        const struct qins_gate_row *w = &r->rows[i];
        ids[i] = w->crit.id;
        metrics[i] = w->crit.metric;
        fmt_threshold(&w->crit, thbuf[i], sizeof thbuf[i]);
        thr[i] = thbuf[i];
        res[i] = row_result(w);
        runs[i] = w->run_id;
        notes[i] = w->note;
        words[i] = w->crit.wording;
        floors[i] = w->crit.floor;
        meas[i] = w->measured;
        flv[i] = w->has_floor ? w->floor_value : NAN;
        tv[i] = w->crit.threshold;
        pv[i] = w->crit.decision ? w->crit.pause : NAN;
        cmps[i] = cmp_str(w->crit.cmp);
        sels[i] = w->crit.select;
    }
    if (err >= 0) err = h5_strings(e, "criterion", ids, n);
    if (err >= 0) err = h5_strings(e, "metric", metrics, n);
    if (err >= 0) err = h5_doubles(e, "measured", meas, n);
    if (err >= 0) err = h5_strings(e, "threshold", thr, n);
    if (err >= 0) err = h5_strings(e, "cmp", cmps, n);
    if (err >= 0) err = h5_doubles(e, "threshold_value", tv, n);
    if (err >= 0) err = h5_doubles(e, "pause_value", pv, n);
    if (err >= 0) err = h5_strings(e, "select", sels, n);
    if (err >= 0) err = h5_strings(e, "floor_variant", floors, n);
    if (err >= 0) err = h5_doubles(e, "floor", flv, n);
    if (err >= 0) err = h5_strings(e, "result", res, n);
    if (err >= 0) err = h5_strings(e, "run_id", runs, n);
    if (err >= 0) err = h5_strings(e, "note", notes, n);
    if (err >= 0) err = h5_strings(e, "wording", words, n);
    if (err >= 0) err = h5_str_attr(e, "verdict", qins_verdict_str(r->verdict));
    if (err >= 0) err = h5_str_attr(e, "time", r->time);
    if (err >= 0) err = h5_str_attr(e, "runs", r->runs);
    if (err >= 0) err = h5_str_attr(e, "gates_file", r->gates_path);
    if (err >= 0) err = h5_str_attr(g, "latest", eval);
    if (err >= 0) err = h5_str_attr(g, "latest_verdict", qins_verdict_str(r->verdict));
    free(ids), free(metrics), free(thr), free(res), free(runs), free(notes), free(words), free(floors);
    free(meas), free(flv), free(thbuf), free(tv), free(pv), free(cmps), free(sels);
    if (e >= 0) H5Gclose(e);
    if (g >= 0) H5Gclose(g);
    if (H5Fclose(f) < 0) err = -1;
    if (err < 0 || rename(tmp, path) != 0) {
        unlink(tmp);
        QINS_CHECK(0, QINS_ERR_IO, "cannot update gate record '%s'", path);
    }
    return QINS_OK;
}

int qins_gate_record(const struct qins_gate_result *r, const char *results_dir) {
    QINS_CHECK(!r->preview, QINS_ERR_STATE, "gate %d: a preview of forced runs is never recorded", r->gate);
    char dir[1024], md[1100];
    snprintf(dir, sizeof dir, "%s/gates", results_dir);
    QINS_TRY(qins_mkdir_p(dir));
    snprintf(md, sizeof md, "%s/gate-%d.md", dir, r->gate);
    QINS_TRY(write_md(r, md));
    return record_h5(r, dir);
}

static int read_str_attr(hid_t obj, const char *name, char *out, size_t cap) {
    out[0] = 0;
    if (H5Aexists(obj, name) <= 0) return QINS_ERR_RANGE;
    hid_t a = H5Aopen(obj, name, H5P_DEFAULT);
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, H5T_VARIABLE);
    H5Tset_cset(t, H5T_CSET_UTF8);
    char *v = NULL;
    herr_t e = H5Aread(a, t, &v);
    if (e >= 0 && v) snprintf(out, cap, "%s", v);
    if (v) H5free_memory(v);
    H5Tclose(t);
    H5Aclose(a);
    return e >= 0 ? QINS_OK : QINS_ERR_FORMAT;
}

// Reads a 1-D string dataset of n entries into fixed buffers via callback-free copying.
static int read_strings(hid_t g, const char *name, size_t n, char **out) {
    if (H5Lexists(g, name, H5P_DEFAULT) <= 0) return QINS_ERR_FORMAT;
    hid_t d = H5Dopen2(g, name, H5P_DEFAULT), s = H5Dget_space(d);
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, H5T_VARIABLE);
    H5Tset_cset(t, H5T_CSET_UTF8);
    int st = H5Sget_simple_extent_npoints(s) == (hssize_t)n && H5Dread(d, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, out) >= 0
                 ? QINS_OK
                 : QINS_ERR_FORMAT;
    H5Tclose(t);
    H5Sclose(s);
    H5Dclose(d);
    return st;
}

static int read_doubles(hid_t g, const char *name, size_t n, double *out) {
    if (H5Lexists(g, name, H5P_DEFAULT) <= 0) return QINS_ERR_FORMAT;
    hid_t d = H5Dopen2(g, name, H5P_DEFAULT), s = H5Dget_space(d);
    int st = H5Sget_simple_extent_npoints(s) == (hssize_t)n &&
                     H5Dread(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, out) >= 0
                 ? QINS_OK
                 : QINS_ERR_FORMAT;
    H5Sclose(s);
    H5Dclose(d);
    return st;
}

int qins_gate_load_latest(const char *results_dir, int gate, struct qins_gate_result *out) {
    memset(out, 0, sizeof *out);
    out->gate = gate;
    struct qins_gate_status s;
    QINS_TRY(qins_gate_latest(results_dir, gate, &s));
    if (s.verdict == QINS_VERDICT_NONE) return QINS_ERR_RANGE;
    char path[1100], epath[128];
    snprintf(path, sizeof path, "%s/gates/gates.h5", results_dir);
    snprintf(epath, sizeof epath, "/gate%d/%s", gate, s.eval_id);
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    QINS_CHECK(f >= 0, QINS_ERR_FORMAT, "cannot read '%s'", path);
    hid_t e = H5Gopen2(f, epath, H5P_DEFAULT);
    int st = e >= 0 ? QINS_OK : QINS_ERR_FORMAT;
    size_t n = 0;
    if (st == QINS_OK) {
        hid_t d = H5Dopen2(e, "criterion", H5P_DEFAULT), sp = H5Dget_space(d);
        hssize_t np = H5Sget_simple_extent_npoints(sp);
        n = np > 0 ? (size_t)np : 0;
        H5Sclose(sp);
        H5Dclose(d);
        if (np <= 0) st = QINS_ERR_FORMAT;
    }
    enum { NS = 9 };
    static const char *snames[NS] = {"criterion", "metric", "cmp", "floor_variant", "result", "run_id", "note",
                                     "wording", "select"};
    char **sv[NS] = {0};
    double *meas = NULL, *flv = NULL, *tv = NULL, *pv = NULL;
    if (st == QINS_OK) {
        out->rows = calloc(n, sizeof *out->rows);
        meas = calloc(n, sizeof *meas), flv = calloc(n, sizeof *flv), tv = calloc(n, sizeof *tv),
        pv = calloc(n, sizeof *pv);
        if (!out->rows || !meas || !flv || !tv || !pv) st = QINS_ERR_NOMEM;
    }
    for (int k = 0; k < NS && st == QINS_OK; k++) {
        if (!(sv[k] = calloc(n, sizeof *sv[k]))) st = QINS_ERR_NOMEM;
        else st = read_strings(e, snames[k], n, sv[k]);
    }
    if (st == QINS_OK) st = read_doubles(e, "measured", n, meas);
    if (st == QINS_OK) st = read_doubles(e, "floor", n, flv);
    if (st == QINS_OK) st = read_doubles(e, "threshold_value", n, tv);
    if (st == QINS_OK) st = read_doubles(e, "pause_value", n, pv);
    if (st == QINS_OK) {
        char gates_file[1024] = "";
        read_str_attr(e, "gates_file", gates_file, sizeof gates_file);
        snprintf(out->gates_path, sizeof out->gates_path, "%s", gates_file);
        for (size_t i = 0; i < n; i++) {
            struct qins_gate_row *w = &out->rows[i];
            struct qins_gate_criterion *c = &w->crit;
            c->gate = gate;
            snprintf(c->id, sizeof c->id, "%s", sv[0][i]);
            snprintf(c->metric, sizeof c->metric, "%s", sv[1][i]);
            c->cmp = parse_cmp(sv[2][i]);
            snprintf(c->floor, sizeof c->floor, "%s", sv[3][i]);
            snprintf(w->run_id, sizeof w->run_id, "%s", sv[5][i]);
            snprintf(w->note, sizeof w->note, "%s", sv[6][i]);
            snprintf(c->wording, sizeof c->wording, "%s", sv[7][i]);
            snprintf(c->select, sizeof c->select, "%s", sv[8][i]);
            c->decision = !strcmp(c->id, "decision");
            c->target = !strncmp(c->id, "target_", 7);
            c->threshold = tv[i];
            c->pause = pv[i];
            w->measured = meas[i];
            w->missing = (!strcmp(sv[4][i], "FAIL") || !strcmp(sv[4][i], "MISSED")) && !strncmp(w->note, "metric ", 7);
            w->missing |= !strncmp(w->note, "no complete", 11);
            w->floor_value = flv[i];
            w->has_floor = !isnan(flv[i]);
            w->pass = !strcmp(sv[4][i], "PASS") || !strcmp(sv[4][i], "GO") || !strcmp(sv[4][i], "PAUSE") ||
                      !strcmp(sv[4][i], "MET");
            w->band = !strcmp(sv[4][i], "GO") ? QINS_VERDICT_GO : !strcmp(sv[4][i], "PAUSE") ? QINS_VERDICT_PAUSE
                                                                                          : QINS_VERDICT_NOGO;
        }
        out->n_rows = n;
        out->verdict = s.verdict;
        snprintf(out->time, sizeof out->time, "%s", s.time);
        snprintf(out->runs, sizeof out->runs, "%s", s.runs);
    }
    for (int k = 0; k < NS; k++) {
        if (!sv[k]) continue;
        for (size_t i = 0; i < n; i++) H5free_memory(sv[k][i]);
        free(sv[k]);
    }
    free(meas), free(flv), free(tv), free(pv);
    if (e >= 0) H5Gclose(e);
    H5Fclose(f);
    if (st < 0) {
        qins_gate_result_free(out);
        QINS_CHECK(0, st, "gate record %s:%s is unreadable", path, epath);
    }
    return QINS_OK;
}

int qins_gate_latest(const char *results_dir, int gate, struct qins_gate_status *out) {
    memset(out, 0, sizeof *out);
    out->verdict = QINS_VERDICT_NONE;
    char path[1100], gname[32];
    snprintf(path, sizeof path, "%s/gates/gates.h5", results_dir);
    if (access(path, F_OK) != 0) return QINS_OK;
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    QINS_CHECK(f >= 0, QINS_ERR_FORMAT, "cannot read gate record '%s'", path);
    snprintf(gname, sizeof gname, "/gate%d", gate);
    if (H5Lexists(f, gname, H5P_DEFAULT) > 0) {
        hid_t g = H5Gopen2(f, gname, H5P_DEFAULT);
        char verdict[32];
        read_str_attr(g, "latest", out->eval_id, sizeof out->eval_id);
        read_str_attr(g, "latest_verdict", verdict, sizeof verdict);
        if (out->eval_id[0] && H5Lexists(g, out->eval_id, H5P_DEFAULT) > 0) {
            hid_t e = H5Gopen2(g, out->eval_id, H5P_DEFAULT);
            read_str_attr(e, "time", out->time, sizeof out->time);
            read_str_attr(e, "runs", out->runs, sizeof out->runs);
            H5Gclose(e);
        }
        out->verdict = !strcmp(verdict, "GO") ? QINS_VERDICT_GO : !strcmp(verdict, "PAUSE") ? QINS_VERDICT_PAUSE
                                                                                           : QINS_VERDICT_NOGO;
        H5Gclose(g);
    }
    H5Fclose(f);
    return QINS_OK;
}

int qins_gate_require(int gate, const char *results_dir, bool force) {
    struct qins_gate_status s;
    QINS_TRY(qins_gate_latest(results_dir, gate, &s));
    if (s.verdict == QINS_VERDICT_GO) {
        qins_log(QINS_LOG_INFO, "gate %d passed (GO at %s, runs %s)", gate, s.time, s.runs);
        return QINS_OK;
    }
    char state[2200];
    if (s.verdict == QINS_VERDICT_NONE)
        snprintf(state, sizeof state, "has never been evaluated in %s/gates", results_dir);
    else
        snprintf(state, sizeof state, "is %s (evaluated %s on runs %s)", qins_verdict_str(s.verdict), s.time, s.runs);
    if (force) {
        qins_log(QINS_LOG_WARN, "gate %d %s; running anyway because of --force (this run is marked forced)", gate,
                 state);
        return QINS_OK;
    }
    qins_log(QINS_LOG_ERROR,
             "gate %d %s: run phase %d, then `qins-gate %d`, or pass --force to run anyway (recorded in the run file "
             "and shown in reports)",
             gate, state, gate, gate);
    return QINS_ERR_STATE;
}
