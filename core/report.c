// core/report.c — CSV + gnuplot + static HTML report over the results store.
#include "report.h"

#include <csv.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common.h"
#include "config.h"
#include "gate.h"
#include "results.h"
#include "paths.h"
#include "runfile.h"
#include "util.h"

// ---- helpers

static void html_esc(FILE *f, const char *s) {
    for (; *s; s++) {
        switch (*s) {
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '&': fputs("&amp;", f); break;
        case '"': fputs("&quot;", f); break;
        default: fputc(*s, f);
        }
    }
}

// A gnuplot double-quoted string literal.
static void gp_str(FILE *f, const char *s) {
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"' || *s == '\\') fputc('\\', f);
        fputc(*s == '\n' || *s == '\r' ? ' ' : *s, f);
    }
    fputc('"', f);
}

// Runs gnuplot on `script` with the working directory `dir`, output appended to dir/gnuplot.log.
// Returns the exit status (127 when gnuplot cannot be executed).
static int run_gnuplot(const char *dir, const char *script) {
    pid_t pid = fork();
    if (pid < 0) return 127;
    if (pid == 0) {
        if (chdir(dir) != 0) _exit(127);
        int fd = open("gnuplot.log", O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
            close(fd);
        }
        if (script) execlp("gnuplot", "gnuplot", script, (char *)NULL);
        else execlp("gnuplot", "gnuplot", "--version", (char *)NULL);
        _exit(127);
    }
    int status;
    if (waitpid(pid, &status, 0) < 0) return 127;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

static int find_plots_dir(const char *given, char *out, size_t cap) {
    char probe[1200];
    if (given) snprintf(probe, sizeof probe, "%s/lines.gp", given);
    else if (getenv("QINS_PLOTS") && *getenv("QINS_PLOTS")) snprintf(probe, sizeof probe, "%s/lines.gp", getenv("QINS_PLOTS"));
    else QINS_TRY(qins_path_resolve(QINS_PATH_SOURCE, "plots/lines.gp", probe, sizeof probe));
    char real[PATH_MAX];
    QINS_CHECK(realpath(probe, real), QINS_ERR_IO, "gnuplot scripts not found (%s): pass --plots DIR", probe);
    snprintf(out, cap, "%s", dirname(real));
    return QINS_OK;
}

// ---- one figure

struct figure {
    char png[512];   // relative to out_dir
    char csv[512];
    char title[256];
    char kind[32];
    bool ok;
    char why[2048];
};

static int export_plot(const qins_runfile_t *f, const char *name, const char *out_dir, const char *plots_dir,
                       int phase, bool have_gnuplot, struct figure *fig) {
    const struct qins_run_meta *m = qins_runfile_meta(f);
    char grp[300], path[340], *s = NULL;
    snprintf(grp, sizeof grp, "/plots/%s", name);
    memset(fig, 0, sizeof *fig);
    snprintf(fig->title, sizeof fig->title, "%s", name);
    if (qins_runfile_attr_str(f, grp, "title", &s) == QINS_OK) snprintf(fig->title, sizeof fig->title, "%s", s);
    free(s);
    char xlab[256] = "", ylab[256] = "";
    if (qins_runfile_attr_str(f, grp, "xlabel", &s) == QINS_OK) snprintf(xlab, sizeof xlab, "%s", s);
    free(s);
    if (qins_runfile_attr_str(f, grp, "ylabel", &s) == QINS_OK) snprintf(ylab, sizeof ylab, "%s", s);
    free(s);
    if (qins_runfile_attr_str(f, grp, "kind", &s) == QINS_OK) snprintf(fig->kind, sizeof fig->kind, "%s", s);
    free(s);
    double logx = 0, logy = 0;
    qins_runfile_attr_double(f, grp, "logx", &logx);
    qins_runfile_attr_double(f, grp, "logy", &logy);
    if (strcmp(fig->kind, "lines") && strcmp(fig->kind, "points") && strcmp(fig->kind, "bars") &&
        strcmp(fig->kind, "histogram")) {
        snprintf(fig->why, sizeof fig->why, "unknown plot kind '%s'", fig->kind);
        return QINS_OK;
    }
    double *x = NULL, *y = NULL;
    size_t xr, xc, yr, yc, ns = 0, nl = 0;
    char **series = NULL, **labels = NULL;
    snprintf(path, sizeof path, "%s/x", grp);
    int st = qins_runfile_read(f, path, QINS_DT_F64, (void **)&x, &xr, &xc);
    snprintf(path, sizeof path, "%s/y", grp);
    if (st == QINS_OK) st = qins_runfile_read(f, path, QINS_DT_F64, (void **)&y, &yr, &yc);
    snprintf(path, sizeof path, "%s/series", grp);
    if (st == QINS_OK) st = qins_runfile_strings(f, path, &series, &ns);
    snprintf(path, sizeof path, "%s/xlabels", grp);
    if (st == QINS_OK && qins_runfile_exists(f, path)) st = qins_runfile_strings(f, path, &labels, &nl);
    size_t n = xr;
    if (st == QINS_OK && (yc != n || yr != ns || xc != 1 || (labels && nl != n))) st = QINS_ERR_FORMAT;
    if (st < 0) {
        snprintf(fig->why, sizeof fig->why, "unreadable or inconsistent /plots/%s (x, y, series)", name);
        goto done;
    }
    char base[400], file[1700];
    snprintf(base, sizeof base, "phase%d/%s-%s", phase, m->run_id, name);
    snprintf(fig->csv, sizeof fig->csv, "%s.csv", base);
    snprintf(fig->png, sizeof fig->png, "%s.png", base);
    // CSV: header (quoted by libcsv), then x (or category index) and one column per series.
    snprintf(file, sizeof file, "%s/%s", out_dir, fig->csv);
    FILE *c = fopen(file, "w");
    if (!c) {
        snprintf(fig->why, sizeof fig->why, "cannot write %s", file);
        goto done;
    }
    bool bars = !strcmp(fig->kind, "bars");
    csv_fwrite(c, bars ? "category" : "x", bars ? 8 : 1);
    for (size_t k = 0; k < ns; k++) {
        fputc(',', c);
        csv_fwrite(c, series[k], strlen(series[k]));
    }
    if (labels) {
        fputc(',', c);
        csv_fwrite(c, "label", 5);
    }
    fputc('\n', c);
    for (size_t i = 0; i < n; i++) {
        fprintf(c, "%.17g", bars ? (double)i : x[i]);
        for (size_t k = 0; k < ns; k++) {
            double v = y[k * n + i];
            if (isfinite(v)) fprintf(c, ",%.17g", v);
            else fputc(',', c); // empty field: gnuplot treats it as missing
        }
        if (labels) {
            fputc(',', c);
            csv_fwrite(c, labels[i], strlen(labels[i]));
        }
        fputc('\n', c);
    }
    fclose(c);
    if (!have_gnuplot) {
        snprintf(fig->why, sizeof fig->why, "gnuplot not found: data in %s", fig->csv);
        goto done;
    }
    // Driver: variables for the generic kind script, then load it from plots_dir.
    snprintf(file, sizeof file, "%s/%s.gp", out_dir, base);
    FILE *g = fopen(file, "w");
    if (!g) {
        snprintf(fig->why, sizeof fig->why, "cannot write %s", file);
        goto done;
    }
    fprintf(g, "# generated by qins report from %s /plots/%s\n", m->path, name);
    fprintf(g, "datafile = ");
    gp_str(g, fig->csv);
    fprintf(g, "\noutfile = ");
    gp_str(g, fig->png);
    fprintf(g, "\nplottitle = ");
    gp_str(g, fig->title);
    fprintf(g, "\nxlab = ");
    gp_str(g, xlab);
    fprintf(g, "\nylab = ");
    gp_str(g, ylab);
    fprintf(g, "\nnseries = %zu\nlogx = %d\nlogy = %d\narray names[%zu] = [", ns, logx != 0, logy != 0, ns);
    for (size_t k = 0; k < ns; k++) {
        if (k) fputs(", ", g);
        gp_str(g, series[k]);
    }
    fprintf(g, "]\narray cats[%zu] = [", n);
    for (size_t i = 0; i < n; i++) {
        char num[40];
        snprintf(num, sizeof num, "%g", x[i]);
        if (i) fputs(", ", g);
        gp_str(g, labels ? labels[i] : num);
    }
    fprintf(g, "]\nset loadpath ");
    gp_str(g, plots_dir);
    fprintf(g, "\nload \"%s.gp\"\n", fig->kind);
    fclose(g);
    char script[600];
    snprintf(script, sizeof script, "%s.gp", base);
    snprintf(file, sizeof file, "%s/%s", out_dir, fig->png);
    unlink(file);
    int rc = run_gnuplot(out_dir, script);
    struct stat sb;
    if (rc != 0 || stat(file, &sb) != 0 || sb.st_size == 0)
        snprintf(fig->why, sizeof fig->why, "gnuplot failed (exit %d, see gnuplot.log); data in %s", rc, fig->csv);
    else
        fig->ok = true;
done:
    free(x);
    free(y);
    qins_strv_free(series, ns);
    qins_strv_free(labels, nl);
    return QINS_OK;
}

// ---- the page

static const char *STYLE =
    "body{font-family:sans-serif;max-width:1100px;margin:auto;padding:1em;color:#222}"
    "table{border-collapse:collapse;margin:.5em 0 1em}td,th{border:1px solid #ccc;padding:3px 8px;font-size:90%}"
    "th{background:#f3f3f3}td.num{text-align:right;font-family:monospace}.PASS,.GO{background:#d8f5d8}"
    ".FAIL,.NO-GO{background:#f8d4d4}.PAUSE{background:#fbf0c8}.forced{color:#b00;font-weight:bold}"
    "figure{display:inline-block;vertical-align:top;margin:.5em;width:47%}"
    "figure img{max-width:100%;border:1px solid #ddd}"
    "figcaption{font-size:85%;color:#555}code{font-size:90%}";

static void gate_table(FILE *h, const struct qins_gate_result *g) {
    fprintf(h, "<h3>Gate %d: <span class=\"%s\">%s</span></h3>\n<p>Evaluated %s on runs <code>", g->gate,
            qins_verdict_str(g->verdict), qins_verdict_str(g->verdict), g->time);
    html_esc(h, g->runs[0] ? g->runs : "(none)");
    fprintf(h, "</code> with <code>");
    html_esc(h, g->gates_path);
    fprintf(h, "</code>.</p>\n<table><tr><th>criterion</th><th>metric</th><th>measured</th><th>threshold</th>"
               "<th>noise floor</th><th>result</th><th>plan</th></tr>\n");
    for (size_t i = 0; i < g->n_rows; i++) {
        const struct qins_gate_row *w = &g->rows[i];
        struct qins_gate_row_text t;
        qins_gate_row_format(w, &t);
        fprintf(h, "<tr><td>");
        html_esc(h, w->crit.id);
        fprintf(h, "</td><td><code>");
        html_esc(h, w->crit.metric);
        fprintf(h, "</code></td><td class=\"num\">%s</td><td>", t.measured);
        html_esc(h, t.threshold);
        fprintf(h, "</td><td class=\"num\">");
        html_esc(h, t.floor);
        fprintf(h, "</td><td class=\"%s\">%s</td><td>", t.result, t.result);
        html_esc(h, w->crit.wording);
        if (w->note[0]) {
            fprintf(h, "<br><small>");
            html_esc(h, w->note);
            fprintf(h, "</small>");
        }
        fprintf(h, "</td></tr>\n");
    }
    fprintf(h, "</table>\n");
}

static void runs_table(FILE *h, const struct qins_run_meta *runs, size_t n) {
    // Rows: the newest run's key metrics (then any other run's); columns: the runs.
    qins_runfile_t **f = calloc(n, sizeof *f);
    if (!f) return;
    for (size_t i = 0; i < n; i++)
        if (qins_runfile_open(&f[i], runs[i].path) < 0) f[i] = NULL;
    // Union of the runs' key metrics, newest run's order first.
    char **names = NULL;
    size_t nn = 0, cap = 0;
    for (size_t i = 0; i < n; i++) {
        char **ki;
        size_t nk;
        if (!f[i] || qins_runfile_key_metrics(f[i], &ki, &nk) < 0) continue;
        for (size_t j = 0; j < nk; j++) {
            bool seen = false;
            for (size_t q = 0; q < nn && !seen; q++) seen = !strcmp(names[q], ki[j]);
            if (seen) continue;
            if (qins_grow(&names, &cap, nn + 1, sizeof *names) < 0) break;
            names[nn++] = ki[j];
            ki[j] = NULL;
        }
        qins_strv_free(ki, nk);
    }
    fprintf(h, "<table><tr><th>metric</th>");
    for (size_t i = 0; i < n; i++) {
        fprintf(h, "<th>");
        html_esc(h, runs[i].run_id);
        fprintf(h, "<br><small>%s%s%s</small>", runs[i].start_time, runs[i].tag[0] ? " tag " : "", runs[i].tag);
        if (runs[i].forced) fprintf(h, "<br><span class=\"forced\">FORCED</span>");
        fprintf(h, "</th>");
    }
    fprintf(h, "</tr>\n");
    for (size_t k = 0; k < nn; k++) {
        fprintf(h, "<tr><td><code>");
        html_esc(h, names[k]);
        fprintf(h, "</code></td>");
        for (size_t i = 0; i < n; i++) {
            double v;
            char unit[32];
            if (f[i] && qins_runfile_metric(f[i], names[k], &v, unit, sizeof unit) == QINS_OK) {
                fprintf(h, "<td class=\"num\">%.6g ", v);
                html_esc(h, unit);
                fprintf(h, "</td>");
            } else {
                fprintf(h, "<td class=\"num\">-</td>");
            }
        }
        fprintf(h, "</tr>\n");
    }
    fprintf(h, "</table>\n<p><small>Run files:");
    for (size_t i = 0; i < n; i++) {
        fprintf(h, " <code>");
        html_esc(h, runs[i].path);
        fprintf(h, "</code> (%s, commit %.12s, %s)%s", runs[i].host, runs[i].git_commit, runs[i].git_dirty,
                i + 1 < n ? ";" : "");
    }
    fprintf(h, "</small></p>\n");
    qins_strv_free(names, nn);
    for (size_t i = 0; i < n; i++) qins_runfile_close(f[i]);
    free(f);
}

// The newest run's text tables (/summary/<name>: lines, attribute title), e.g. a phase's summary
// table and phase 3's policy, as preformatted text: the run file's own lines, nothing recomputed.
static void summary_tables(FILE *h, const qins_runfile_t *f, const char *run_id) {
    char **names = NULL;
    size_t n = 0;
    if (qins_runfile_children(f, "/summary", &names, &n) != QINS_OK) return;
    for (size_t i = 0; i < n; i++) {
        char path[256], **lines = NULL, *title = NULL;
        size_t nl = 0;
        snprintf(path, sizeof path, "/summary/%s", names[i]);
        if (qins_runfile_strings(f, path, &lines, &nl) != QINS_OK) continue;
        fprintf(h, "<h3>");
        if (qins_runfile_attr_str(f, path, "title", &title) == QINS_OK) html_esc(h, title);
        else html_esc(h, names[i]);
        fprintf(h, " (run ");
        html_esc(h, run_id);
        fprintf(h, ", <code>%s</code>)</h3>\n<pre>", path);
        for (size_t l = 0; l < nl; l++) {
            html_esc(h, lines[l]);
            fputc('\n', h);
        }
        fprintf(h, "</pre>\n");
        free(title);
        qins_strv_free(lines, nl);
    }
    qins_strv_free(names, n);
}

int qins_report_build(const struct qins_report_opts *o, struct qins_report_stats *st) {
    memset(st, 0, sizeof *st);
    const char *results = o->results_dir ? o->results_dir : "results";
    char out[1024], plots[1024] = "";
    snprintf(out, sizeof out, "%s", o->out_dir ? o->out_dir : "");
    if (!out[0]) snprintf(out, sizeof out, "%s/report", results);
    int k = o->runs_per_phase > 0 ? o->runs_per_phase : 3;
    QINS_TRY(qins_mkdir_p(out));
    st->have_gnuplot = run_gnuplot(out, NULL) == 0;
    if (st->have_gnuplot && find_plots_dir(o->plots_dir, plots, sizeof plots) < 0) st->have_gnuplot = 0;
    snprintf(st->index_path, sizeof st->index_path, "%s/index.html", out);
    char tmp[1200];
    snprintf(tmp, sizeof tmp, "%s/.index.html.tmp", out);
    FILE *h = fopen(tmp, "w");
    QINS_CHECK(h, QINS_ERR_IO, "cannot write '%s': %s", tmp, strerror(errno));
    char now[32];
    time_t t = time(NULL);
    strftime(now, sizeof now, "%Y-%m-%dT%H:%M:%SZ", gmtime(&t));
    fprintf(h, "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>QINS report</title><style>%s</style>"
               "</head><body>\n<h1>QINS harness report</h1>\n<p>Generated %s from <code>", STYLE, now);
    html_esc(h, results);
    fprintf(h, "</code>. Per phase: the gate's latest evaluation, the newest runs' key metrics, and the "
               "figures of the newest run. Forced runs are marked and never count for a gate.</p>\n");
    if (!st->have_gnuplot)
        fprintf(h, "<p class=\"forced\">gnuplot (or the scripts in plots/) not found: figures are exported as "
                   "CSV only.</p>\n");
    for (int ph = 0; ph <= 9; ph++) {
        struct qins_run_meta *runs;
        size_t n;
        QINS_TRY(qins_results_list(results, ph, &runs, &n, NULL));
        struct qins_gate_result g;
        bool have_gate = qins_gate_load_latest(results, ph, &g) == QINS_OK;
        if (!n && !have_gate) {
            free(runs);
            continue;
        }
        st->phases++;
        static const char *titles[10] = {"harness self-check", "KV cache", "V-path transport", "entropy",
                                         "kernels", "MLP", "final"};
        fprintf(h, "<section id=\"phase%d\"><h2>Phase %d%s%s</h2>\n", ph, ph, titles[ph] ? ": " : "",
                titles[ph] ? titles[ph] : "");
        if (have_gate) {
            gate_table(h, &g);
            st->gates++;
            qins_gate_result_free(&g);
        } else {
            fprintf(h, "<p>Gate %d has not been evaluated (<code>qins-gate %d</code>).</p>\n", ph, ph);
        }
        if (n) {
            size_t shown = n < (size_t)k ? n : (size_t)k;
            st->runs += shown;
            fprintf(h, "<h3>Newest runs (%zu of %zu)</h3>\n", shown, n);
            runs_table(h, runs, shown);
            char sub[1100];
            snprintf(sub, sizeof sub, "%s/phase%d", out, ph);
            qins_runfile_t *f;
            char **names = NULL;
            size_t nn = 0;
            if (qins_mkdir_p(sub) == QINS_OK && qins_runfile_open(&f, runs[0].path) == QINS_OK) {
                summary_tables(h, f, runs[0].run_id);
                if (qins_runfile_children(f, "/plots", &names, &nn) == QINS_OK && nn) {
                    fprintf(h, "<h3>Figures of run ");
                    html_esc(h, runs[0].run_id);
                    fprintf(h, "</h3>\n");
                }
                for (size_t i = 0; i < nn; i++) {
                    struct figure fig;
                    export_plot(f, names[i], out, plots, ph, st->have_gnuplot, &fig);
                    st->figures++;
                    fprintf(h, "<figure>");
                    if (fig.ok) {
                        fprintf(h, "<img src=\"%s\" alt=\"", fig.png);
                        html_esc(h, fig.title);
                        fprintf(h, "\">");
                    } else {
                        st->figures_failed++;
                        fprintf(h, "<p class=\"forced\">");
                        html_esc(h, fig.why);
                        fprintf(h, "</p>");
                    }
                    fprintf(h, "<figcaption>");
                    html_esc(h, fig.title);
                    fprintf(h, " — from <code>");
                    html_esc(h, runs[0].path);
                    fprintf(h, "</code> <code>/plots/");
                    html_esc(h, names[i]);
                    fprintf(h, "</code> (%s)", fig.kind);
                    if (fig.csv[0]) fprintf(h, ", data: <a href=\"%s\">CSV</a>", fig.csv);
                    fprintf(h, "</figcaption></figure>\n");
                }
                qins_strv_free(names, nn);
                qins_runfile_close(f);
            }
        }
        fprintf(h, "</section>\n");
        free(runs);
    }
    if (!st->phases) fprintf(h, "<p>No runs under <code>%s</code> yet.</p>\n", results);
    fprintf(h, "</body></html>\n");
    int bad = ferror(h);
    bad |= fclose(h);
    if (bad || rename(tmp, st->index_path) != 0) {
        unlink(tmp);
        QINS_CHECK(0, QINS_ERR_IO, "cannot write '%s'", st->index_path);
    }
    return QINS_OK;
}
