// tests/test_phase1.c — qins-phase1 end to end on a tiny config (every metric gate 1 reads is in
// the run file, with its noise floor), and bad configs: one error line, non-zero exit, no run file.
#include <criterion/criterion.h>
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "gate.h"
#include "helpers/shared_paths.h"
#include "helpers/synth_runs.h"
#include "runfile.h"

// Runs qins-phase1 with a tiny config plus `extra` arguments into results dir `res`; stderr
// goes to err. Returns the exit status.
static int run_phase1(const char *res, const char *extra, char *err, size_t cap) {
    char model[1200], text[1200];
    if (test_model_path("stories260K.gguf", model, sizeof model)) return -1;
    if (test_shared_path("data/tinystories_train_sample_2MiB.txt", text, sizeof text)) return -1;
    char errfile[] = "/tmp/qins_phase1_err_XXXXXX";
    close(mkstemp(errfile));
    char cmd[8192];
    snprintf(cmd, sizeof cmd,
             "QINS_PROGRESS=0 %s/qins-phase1 --force --results %s --set run.model=%s --set run.eval_text=%s "
             "--set run.eval_slice=stories:0-40 --set run.calib_slice=none --set run.ctx=64 --set run.eval_chunks=2 "
             "--set run.prompts=derive:2 --set run.tokens=12 --set phase1.variants=fp16,qins8,qins6 "
             "--set phase1.alpha_sweep= --set phase1.latency_tokens=16 --set phase1.latency_contexts=16,24 "
             "--set phase1.latency_reps=3 %s >/dev/null 2>%s",
             QINS_TEST_BIN_DIR, res, model, text, extra, errfile);
    int st = system(cmd);
    FILE *f = fopen(errfile, "r");
    size_t n = f ? fread(err, 1, cap - 1, f) : 0;
    err[n] = 0;
    if (f) fclose(f);
    unlink(errfile);
    cr_assert(WIFEXITED(st), "qins-phase1 did not exit normally (signal?)\n%s", err);
    return WEXITSTATUS(st);
}

// Counts files under res/phase1 (complete or temporary).
static int count_run_files(const char *res) {
    char dir[1200];
    snprintf(dir, sizeof dir, "%s/phase1", res);
    DIR *d = opendir(dir);
    if (!d) return 0;
    int n = 0;
    for (struct dirent *e; (e = readdir(d));) n += strstr(e->d_name, ".h5") != NULL;
    closedir(d);
    return n;
}

Test(phase1, tiny_run_records_every_gate1_metric, .timeout = 600) {
    char res[1024], err[16384];
    cr_assert_eq(test_tmpdir(res, sizeof res), 0);
    int rc = run_phase1(res, "", err, sizeof err);
    cr_assert_eq(rc, 0, "qins-phase1 failed:\n%s", err);
    struct qins_run_meta *runs;
    size_t n, n_bad;
    cr_assert_eq(qins_results_list(res, 1, &runs, &n, &n_bad), 0);
    cr_assert_eq(n, 1, "one complete phase-1 run");
    cr_assert_eq(n_bad, 0);
    qins_runfile_t *f;
    cr_assert_eq(qins_runfile_open(&f, runs[0].path), 0);
    cr_assert(qins_runfile_meta(f)->forced, "--force is recorded");
    // every criterion of gate 1, and its floor variant's same metric, exists in the run
    char gpath[1200];
    struct qins_gate_defs defs = {0};
    cr_assert_eq(qins_gate_defs_find(gpath, sizeof gpath), 0);
    cr_assert_eq(qins_gate_defs_load(gpath, &defs), 0);
    int checked = 0;
    for (size_t i = 0; i < defs.n; i++) {
        const struct qins_gate_criterion *c = &defs.c[i];
        if (c->gate != 1) continue;
        double v;
        cr_assert_eq(qins_runfile_metric(f, c->metric, &v, NULL, 0), 0, "gate-1 metric %s missing", c->metric);
        cr_assert(isfinite(v), "%s = %g", c->metric, v);
        if (c->floor[0]) {
            char fm[256];
            snprintf(fm, sizeof fm, "%s%s", c->floor, strchr(c->metric, '/'));
            cr_assert_eq(qins_runfile_metric(f, fm, &v, NULL, 0), 0, "floor metric %s missing", fm);
        }
        checked++;
    }
    cr_assert_geq(checked, 6, "gate 1 has its six criteria");
    // the values mean what they say: fp16 stores half of FP32, k-bit pages less than FP16
    double c16, c8, c6, c8_32, tm, kld, page_us, proj;
    cr_assert_eq(qins_runfile_metric(f, "fp16/kv_compression_vs_fp16", &c16, NULL, 0), 0);
    cr_assert_float_eq(c16, 1.0, 1e-12, "the plain FP16 store is the FP16 reference");
    cr_assert_eq(qins_runfile_metric(f, "qins8/kv_compression_vs_fp16", &c8, NULL, 0), 0);
    cr_assert_eq(qins_runfile_metric(f, "qins8/kv_compression_vs_fp32", &c8_32, NULL, 0), 0);
    cr_assert_eq(qins_runfile_metric(f, "qins6/kv_compression_vs_fp16", &c6, NULL, 0), 0);
    cr_assert(c8 > 1.0 && c8 < 2.0, "8-bit pages with scales and headers: between 1x and 2x FP16 (%g)", c8);
    cr_assert(c6 > c8, "6-bit pages are smaller than 8-bit pages");
    cr_assert_float_eq(c8_32, 2 * c8, 1e-9);
    cr_assert_eq(qins_runfile_metric(f, "qins8/token_match", &tm, NULL, 0), 0);
    cr_assert(tm >= 0 && tm <= 1);
    cr_assert_eq(qins_runfile_metric(f, "qins6/kld_mean", &kld, NULL, 0), 0);
    cr_assert(kld > 0, "6-bit KV pages change the distribution");
    cr_assert_eq(qins_runfile_metric(f, "qins8/page_decode_us", &page_us, NULL, 0), 0);
    cr_assert(page_us > 0);
    cr_assert_eq(qins_runfile_metric(f, "qins8/projected_bytes_phi3.5-mini_32k", &proj, NULL, 0), 0);
    cr_assert_gt(proj, 0);
    cr_assert(qins_runfile_exists(f, "/latency/qins8/per_token_s"), "raw latency samples");
    cr_assert(qins_runfile_exists(f, "/generation/qins6/first_divergence"));
    cr_assert(qins_runfile_exists(f, "/entropy/qins8_k_page/hist"));
    cr_assert(qins_runfile_exists(f, "/plots/phase1_compression_vs_ppl"));
    cr_assert(qins_runfile_exists(f, "/plots/phase1_overhead_vs_context"));
    cr_assert(qins_runfile_exists(f, "/plots/phase1_code_histogram"));
    cr_assert(qins_runfile_exists(f, "/plots/phase1_kv_projection"));
    cr_assert(qins_runfile_exists(f, "/plots/phase1_first_divergence"));
    qins_runfile_close(f);
    qins_gate_defs_free(&defs);
    free(runs);
}

static void expect_config_error(const char *extra, const char *needle) {
    char res[1024], err[16384];
    cr_assert_eq(test_tmpdir(res, sizeof res), 0);
    int rc = run_phase1(res, extra, err, sizeof err);
    cr_assert_neq(rc, 0, "qins-phase1 %s should fail", extra);
    int lines = 0; // the other stderr line is the --force warning
    for (char *p = strstr(err, "error:"); p; p = strstr(p + 1, "error:")) lines++;
    cr_assert_eq(lines, 1, "%s: expected one error line, got:\n%s", extra, err);
    cr_assert_not_null(strstr(err, needle), "%s: the error should mention '%s', got: %s", extra, needle, err);
    cr_assert_eq(count_run_files(res), 0, "%s: no run file (complete or temporary) is left behind", extra);
}

Test(phase1, k_out_of_range_is_one_error_line) { expect_config_error("--set phase1.variants=fp16,qins13", "qins13"); }
Test(phase1, sweep_codec_must_be_qins) { expect_config_error("--set phase1.sweep_codecs=int8", "not a QINS codec"); }
Test(phase1, page_smaller_than_one_token) {
    expect_config_error("--set phase1.kv_options=page_bytes=16", "smaller than one token");
}
Test(phase1, empty_page) { expect_config_error("--set phase1.kv_options=page=0", "page"); }
Test(phase1, page_longer_than_the_context) { expect_config_error("--set phase1.kv_options=page=4096", "tokens per page"); }
Test(phase1, unknown_kv_option) { expect_config_error("--set phase1.kv_options=colour=red", "unknown option"); }
Test(phase1, bad_alpha) { expect_config_error("--set phase1.alpha_sweep=0.5,-1", "alpha"); }
Test(phase1, too_few_latency_reps) { expect_config_error("--set phase1.latency_reps=1", "latency_reps"); }
Test(phase1, histogram_needs_a_paged_variant) {
    expect_config_error("--set phase1.histogram_variant=fp16", "histogram_variant");
}
Test(phase1, bad_projection_shape) { expect_config_error("--set phase1.projection_shapes=phi3:32x32", "shape"); }
Test(phase1, latency_context_shorter_than_a_page_names_the_key) {
    expect_config_error("--set phase1.latency_tokens=8 --set phase1.variants=int8", "[phase1] latency_tokens");
}
Test(phase1, typed_list_item_error_names_section_key_and_item) {
    expect_config_error("--set phase1.latency_contexts=64,abc", "[phase1] latency_contexts: item 2 'abc'");
}
Test(phase1, help_config_prints_each_section_once) {
    char cmd[2048], line[512];
    snprintf(cmd, sizeof cmd, "%s/qins-phase1 --help-config", QINS_TEST_BIN_DIR);
    FILE *p = popen(cmd, "r");
    cr_assert_not_null(p);
    int run = 0, phase1 = 0;
    while (fgets(line, sizeof line, p)) run += !strncmp(line, "[run]", 5), phase1 += !strncmp(line, "[phase1]", 8);
    cr_assert_eq(pclose(p), 0);
    cr_assert_eq(run, 1, "[run] printed once");
    cr_assert_eq(phase1, 1, "[phase1] printed once");
}
