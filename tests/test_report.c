// tests/test_report.c — `qins report` over synthetic runs with /plots groups: every <img> in
// index.html points at an existing PNG, every figure names its run file, gate tables render.
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "gate.h"
#include "helpers/test_io.h"
#include "helpers/synth_runs.h"
#include "report.h"
#include "results.h"

static int write_run_with_plots(const char *dir, int phase, char *path, size_t cap) {
    struct qins_run_info info = {.phase = phase, .results_dir = dir, .config_text = phase == 1 ? "[run]\n" : "[x]\n",
                                 .threads = 2};
    qins_run_t *r;
    QINS_TRY(qins_run_begin(&r, &info));
    QINS_TRY(qins_run_metric(r, "qins8/token_match", 0.995, "fraction"));
    QINS_TRY(qins_run_metric(r, "qins8/kv_compression_vs_fp16", 1.94, "ratio"));
    QINS_TRY(qins_run_metric(r, "qins8/decode_us", 12.5, "us"));
    QINS_TRY(qins_run_key_metrics(r, "qins8/token_match,qins8/kv_compression_vs_fp16"));
    double bits[4] = {4, 6, 8, 10}, y[8] = {0.5, 0.8, 0.99, 1, 0.4, 0.7, NAN, 0.999};
    const char *series[] = {"qins, rational", "int \"uniform\""};
    struct qins_plot lines = {.name = "match_vs_bits", .kind = QINS_PLOT_LINES, .title = "Token match vs bits",
                              .xlabel = "bits", .ylabel = "token match", .n = 4, .x = bits, .n_series = 2, .y = y,
                              .series = series};
    QINS_TRY(qins_run_plot(r, &lines));
    const char *cats[] = {"fp16", "qins8, page 16", "int8"};
    double comp[3] = {2, 3.76, 3.9};
    struct qins_plot bars = {.name = "compression", .kind = QINS_PLOT_BARS, .title = "KV compression vs FP32",
                             .ylabel = "x", .n = 3, .xlabels = cats, .n_series = 1, .y = comp};
    QINS_TRY(qins_run_plot(r, &bars));
    double centers[5] = {-2, -1, 0, 1, 2}, counts[10] = {1, 5, 10, 5, 1, 2, 4, 8, 4, 2};
    const char *hs[] = {"weights", "activations"};
    struct qins_plot hist = {.name = "codes", .kind = QINS_PLOT_HISTOGRAM, .title = "Code histogram", .n = 5,
                             .x = centers, .n_series = 2, .y = counts, .series = hs, .logy = false};
    QINS_TRY(qins_run_plot(r, &hist));
    double px[3] = {1, 10, 100}, py[3] = {0.1, 0.01, 0.001};
    struct qins_plot pts = {.name = "err_vs_alpha", .kind = QINS_PLOT_POINTS, .title = "Error vs alpha", .n = 3,
                            .x = px, .n_series = 1, .y = py, .logx = true, .logy = true};
    QINS_TRY(qins_run_plot(r, &pts));
    return qins_run_commit(r, path, cap);
}

static bool is_png(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return false;
    unsigned char sig[8] = {0};
    size_t n = fread(sig, 1, 8, f);
    fclose(f);
    return n == 8 && !memcmp(sig, "\x89PNG\r\n\x1a\n", 8);
}

Test(report, every_img_points_at_an_existing_png) {
    const char *src = getenv("QINS_SOURCE_DIR");
    cr_assert(src, "QINS_SOURCE_DIR must be set by ctest");
    char dir[512], run1[1200], run2[1200], plots[1024];
    cr_assert_eq(test_tmpdir(dir, sizeof dir), 0);
    snprintf(plots, sizeof plots, "%s/plots", src);
    cr_assert_eq(write_run_with_plots(dir, 1, run1, sizeof run1), QINS_OK);
    cr_assert_eq(write_run_with_plots(dir, 3, run2, sizeof run2), QINS_OK);
    struct synth_metric m[] = {{"qins8/token_match", 0.5, "fraction"}};
    cr_assert_eq(synth_run(dir, 1, "", true, m, 1, NULL, 0), QINS_OK); // newest, forced: shown and marked
    // A gate 1 evaluation so the page carries a gate table.
    char gpath[700];
    snprintf(gpath, sizeof gpath, "%s/g.txt", dir);
    FILE *g = fopen(gpath, "w");
    fputs("1 | compression | * | qins8/kv_compression_vs_fp16 | > | 2 | - | KV compression > 2x\n"
          "1 | match | * | qins8/token_match | > | 0.99 | fp16 | token match > 99%\n", g);
    fclose(g);
    struct qins_gate_defs defs;
    cr_assert_eq(qins_gate_defs_load(gpath, &defs), QINS_OK);
    struct qins_gate_result gr;
    cr_assert_eq(qins_gate_evaluate(&defs, 1, dir, NULL, 0, &gr), QINS_OK);
    cr_assert_eq(gr.verdict, QINS_VERDICT_NOGO, "1.94 is not > 2");
    cr_assert_eq(qins_gate_record(&gr, dir), QINS_OK);
    qins_gate_result_free(&gr);
    qins_gate_defs_free(&defs);

    struct qins_report_opts o = {.results_dir = dir, .plots_dir = plots};
    struct qins_report_stats st;
    cr_assert_eq(qins_report_build(&o, &st), QINS_OK);
    cr_assert(st.have_gnuplot, "gnuplot (gnuplot-nox) is needed for the report figures");
    cr_assert_eq(st.phases, 2);
    cr_assert_eq(st.gates, 1);
    // The newest phase-1 run is the forced one without plots: figures come from phase 3 only.
    cr_assert_eq(st.figures, 4);
    cr_assert_eq(st.figures_failed, 0);

    char *html = test_read_file(st.index_path, NULL);
    size_t imgs = 0;
    for (const char *p = html; (p = strstr(p, "<img src=\"")); imgs++) {
        p += 10;
        const char *q = strchr(p, '"');
        char rel[600], full[1400];
        snprintf(rel, sizeof rel, "%.*s", (int)(q - p), p);
        cr_assert(rel[0] != '/', "relative link, so the page works from the file system: %s", rel);
        snprintf(full, sizeof full, "%s/report/%s", dir, rel);
        cr_assert(is_png(full), "<img src=\"%s\"> has no PNG at %s", rel, full);
    }
    cr_assert_eq(imgs, 4);
    cr_assert(strstr(html, run2), "figures name the run file they came from");
    cr_assert(strstr(html, "/plots/match_vs_bits"));
    cr_assert(strstr(html, "Gate 1: <span class=\"NO-GO\">NO-GO</span>"), "gate table");
    cr_assert(strstr(html, "class=\"FAIL\">FAIL<"), "FAIL row");
    cr_assert(strstr(html, "FORCED"), "forced run marked");
    cr_assert(strstr(html, "qins8/kv_compression_vs_fp16"), "key metric row");
    cr_assert_null(strstr(html, "qins8/decode_us"), "not a key metric");
    free(html);
    // The CSV keeps quoted labels intact (libcsv quoting).
    char csv[1400];
    const char *base = strrchr(run2, '/') + 1;
    snprintf(csv, sizeof csv, "%s/report/phase3/%.*s-compression.csv", dir, (int)(strlen(base) - 3), base);
    char *c = test_read_file(csv, NULL);
    cr_assert(strstr(c, "\"qins8, page 16\""), "%s", c);
    free(c);
}

Test(report, empty_results_make_a_page_without_images) {
    char dir[512];
    cr_assert_eq(test_tmpdir(dir, sizeof dir), 0);
    struct qins_report_opts o = {.results_dir = dir};
    struct qins_report_stats st;
    cr_assert_eq(qins_report_build(&o, &st), QINS_OK);
    char *html = test_read_file(st.index_path, NULL);
    cr_assert(strstr(html, "No runs under"), "%s", html);
    cr_assert_null(strstr(html, "<img"));
    free(html);
}
