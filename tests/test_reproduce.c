// tests/test_reproduce.c — `qins reproduce` refuses when the model or eval text no longer
// hashes to what the run recorded, and names both hashes; `qins reproduce OLD --against NEW`
// reports every metric and fails only on a quality difference; `qins runs` lists the run.
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "helpers/run_cmd.h"
#include "helpers/synth_runs.h"
#include "results.h"

static void write_file(const char *path, const char *text) {
    FILE *f = fopen(path, "wb");
    cr_assert(f);
    fputs(text, f);
    fclose(f);
}


static void make_run(const char *dir, const char *model, const char *eval, char *path, size_t cap) {
    char config[2048];
    snprintf(config, sizeof config, "[run]\nmodel = %s\neval_text = %s\n", model, eval);
    struct qins_run_info info = {.phase = 1, .results_dir = dir, .config_text = config, .model_path = model,
                                 .eval_path = eval, .threads = 1};
    qins_run_t *r;
    cr_assert_eq(qins_run_begin(&r, &info), QINS_OK);
    cr_assert_eq(qins_run_metric(r, "qins8/token_match", 0.99, "fraction"), QINS_OK);
    cr_assert_eq(qins_run_commit(r, path, cap), QINS_OK);
}

Test(reproduce, tampered_model_is_refused_naming_both_hashes) {
    char dir[512], model[700], eval[700], run[1200], cmd[3000], out[8192];
    cr_assert_eq(test_tmpdir(dir, sizeof dir), 0);
    snprintf(model, sizeof model, "%s/model.gguf", dir);
    snprintf(eval, sizeof eval, "%s/eval.txt", dir);
    write_file(model, "original weights");
    write_file(eval, "Once upon a time");
    make_run(dir, model, eval, run, sizeof run);
    snprintf(cmd, sizeof cmd, "'%s/qins' reproduce '%s' --results '%s' --check-only", QINS_TEST_BIN_DIR, run, dir);
    cr_assert_eq(test_run_cmd(cmd, out, sizeof out), 0, "untouched inputs verify:\n%s", out);
    write_file(model, "tampered weights");
    char now[QINS_SHA256_HEX], then[QINS_SHA256_HEX];
    qins_sha256_hex("tampered weights", 16, now);
    qins_sha256_hex("original weights", 16, then);
    snprintf(cmd, sizeof cmd, "'%s/qins' reproduce '%s' --results '%s'", QINS_TEST_BIN_DIR, run, dir);
    cr_assert_eq(test_run_cmd(cmd, out, sizeof out), 1, "must refuse:\n%s", out);
    cr_assert(strstr(out, now) && strstr(out, then), "message names both hashes:\n%s", out);
    cr_assert_null(strstr(out, "running "), "nothing was run:\n%s", out);
}

Test(reproduce, tampered_eval_text_is_refused) {
    char dir[512], model[700], eval[700], run[1200], cmd[3000], out[8192];
    cr_assert_eq(test_tmpdir(dir, sizeof dir), 0);
    snprintf(model, sizeof model, "%s/model.gguf", dir);
    snprintf(eval, sizeof eval, "%s/eval.txt", dir);
    write_file(model, "w");
    write_file(eval, "text");
    make_run(dir, model, eval, run, sizeof run);
    write_file(eval, "text changed");
    snprintf(cmd, sizeof cmd, "'%s/qins' reproduce '%s' --results '%s'", QINS_TEST_BIN_DIR, run, dir);
    cr_assert_eq(test_run_cmd(cmd, out, sizeof out), 1, "%s", out);
    cr_assert(strstr(out, "eval text"), "%s", out);
}

Test(reproduce, missing_phase_binary_is_an_error_not_a_pass) {
    char dir[512], run[1200], cmd[3000], out[8192];
    cr_assert_eq(test_tmpdir(dir, sizeof dir), 0);
    struct qins_run_info info = {.phase = 9, .results_dir = dir, .config_text = "[run]\n"};
    qins_run_t *r;
    cr_assert_eq(qins_run_begin(&r, &info), QINS_OK);
    cr_assert_eq(qins_run_commit(r, run, sizeof run), QINS_OK);
    snprintf(cmd, sizeof cmd, "'%s/qins' reproduce '%s' --results '%s'", QINS_TEST_BIN_DIR, run, dir);
    cr_assert_eq(test_run_cmd(cmd, out, sizeof out), 1, "%s", out);
    cr_assert(strstr(out, "qins-phase9 not found"), "%s", out);
}

Test(reproduce, runs_lists_the_run) {
    char dir[512], cmd[3000], out[8192];
    cr_assert_eq(test_tmpdir(dir, sizeof dir), 0);
    struct synth_metric m[] = {{"qins8/token_match", 0.875, "fraction"}};
    char path[1200];
    cr_assert_eq(synth_run(dir, 2, "full", true, m, 1, path, sizeof path), QINS_OK);
    snprintf(cmd, sizeof cmd, "'%s/qins' runs --results '%s'", QINS_TEST_BIN_DIR, dir);
    cr_assert_eq(test_run_cmd(cmd, out, sizeof out), 0, "%s", out);
    cr_assert(strstr(out, "qins8/token_match=0.875 fraction"), "%s", out);
    cr_assert(strstr(out, "yes"), "forced flag shown:\n%s", out);
    cr_assert(strstr(out, "full"), "tag shown:\n%s", out);
}

// ---- --against: two synthetic run files compared as they are

static const struct synth_metric base_metrics[] = {
    {"qins8/token_match", 0.96875, "fraction"},
    {"qins8/kv_compression_vs_fp16", 1.984, "ratio"},
    {"qins8/tok_s", 100.0, "tok/s"},
    {"ppl", 7.25, "nats"},
};
enum { N_BASE = sizeof base_metrics / sizeof base_metrics[0] };

// Writes OLD with base_metrics and NEW with base_metrics changed by `edit`, then runs
// `qins reproduce OLD --against NEW <flags>`; returns its exit status, output in out.
static int against(const struct synth_metric *new_m, size_t n_new, const char *flags, char *out, size_t cap) {
    char dir[512], old_path[1200], new_path[1200], cmd[4000];
    cr_assert_eq(test_tmpdir(dir, sizeof dir), 0);
    cr_assert_eq(synth_run(dir, 1, "old", false, base_metrics, N_BASE, old_path, sizeof old_path), QINS_OK);
    cr_assert_eq(synth_run(dir, 1, "new", false, new_m, n_new, new_path, sizeof new_path), QINS_OK);
    snprintf(cmd, sizeof cmd, "'%s/qins' reproduce '%s' --against '%s' %s", QINS_TEST_BIN_DIR, old_path, new_path,
             flags);
    return test_run_cmd(cmd, out, cap);
}

// The report row of metric `name` (a line that starts with it), copied into row.
static void row_of(const char *out, const char *name, char *row, size_t cap) {
    row[0] = 0;
    for (const char *p = out; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
        size_t n = strlen(name);
        if (!strncmp(p, name, n) && p[n] == ' ') {
            const char *e = strchr(p, '\n');
            size_t len = e ? (size_t)(e - p) : strlen(p);
            snprintf(row, cap, "%.*s", (int)(len < cap ? len : cap - 1), p);
            return;
        }
    }
}

Test(reproduce, against_identical_files_exit_zero) {
    char out[16384], row[512];
    cr_assert_eq(against(base_metrics, N_BASE, "", out, sizeof out), 0, "%s", out);
    cr_assert(strstr(out, "old: ") && strstr(out, "new: "), "both files named:\n%s", out);
    cr_assert_null(strstr(out, "running "), "nothing is run:\n%s", out);
    for (size_t i = 0; i < N_BASE; i++) {
        row_of(out, base_metrics[i].name, row, sizeof row);
        cr_assert(strstr(row, "identical"), "%s identical:\n%s", base_metrics[i].name, out);
    }
    cr_assert(strstr(out, "4 metrics: 4 identical, 0 differ"), "%s", out);
    cr_assert(strstr(out, "reproduced: quality metrics identical"), "%s", out);
}

Test(reproduce, against_changed_quality_metric_fails_and_names_it) {
    struct synth_metric m[N_BASE];
    memcpy(m, base_metrics, sizeof m);
    m[0].value = 0.9375; // qins8/token_match
    char out[16384], row[512];
    cr_assert_eq(against(m, N_BASE, "", out, sizeof out), 1, "%s", out);
    row_of(out, "qins8/token_match", row, sizeof row);
    cr_assert(strstr(row, "0.96875") && strstr(row, "0.9375"), "old and new value:\n%s", out);
    cr_assert(strstr(row, "DIFFERS (abs -0.03125, rel -3.226%)"), "abs and relative diff:\n%s", row);
    cr_assert(strstr(out, "NOT reproduced: qins8/token_match"), "names it at the end:\n%s", out);
    row_of(out, "ppl", row, sizeof row);
    cr_assert(strstr(row, "identical"), "%s", out);
}

Test(reproduce, against_allowed_pattern_exits_zero) {
    struct synth_metric m[N_BASE];
    memcpy(m, base_metrics, sizeof m);
    m[1].value = 1.9; // qins8/kv_compression_vs_fp16: a changed page header changes it
    char out[16384], row[512];
    cr_assert_eq(against(m, N_BASE, "", out, sizeof out), 1, "fails without the flag:\n%s", out);
    cr_assert_eq(against(m, N_BASE, "--allow-metric-diff 'nomatch*' --allow-metric-diff '*/kv_compression_vs_fp16'",
                         out, sizeof out),
                 0, "%s", out);
    row_of(out, "qins8/kv_compression_vs_fp16", row, sizeof row);
    cr_assert(strstr(row, "differs (allowed)"), "%s", out);
    cr_assert(strstr(out, "1 differ (allowed)"), "%s", out);
}

Test(reproduce, against_lists_metric_only_in_one_file) {
    struct synth_metric m[N_BASE + 1];
    memcpy(m, base_metrics + 1, (N_BASE - 1) * sizeof *m); // token_match dropped
    m[N_BASE - 1] = (struct synth_metric){"fp16/token_match", 1.0, "fraction"};
    char out[16384], row[512];
    cr_assert_eq(against(m, N_BASE, "", out, sizeof out), 1, "a quality metric went missing:\n%s", out);
    row_of(out, "qins8/token_match", row, sizeof row);
    cr_assert(strstr(row, "only in old"), "%s", out);
    row_of(out, "fp16/token_match", row, sizeof row);
    cr_assert(strstr(row, "only in new") && strstr(row, " - "), "%s", out);
    cr_assert(strstr(out, "1 only in old, 1 only in new"), "%s", out);
}

Test(reproduce, against_timing_within_tolerance_passes_outside_fails_only_strict) {
    struct synth_metric m[N_BASE];
    memcpy(m, base_metrics, sizeof m);
    m[2].value = 110; // qins8/tok_s +10%
    char out[16384], row[512];
    cr_assert_eq(against(m, N_BASE, "", out, sizeof out), 0, "%s", out);
    row_of(out, "qins8/tok_s", row, sizeof row);
    cr_assert(strstr(row, "timing within tolerance 25%"), "%s", out);
    m[2].value = 200;
    cr_assert_eq(against(m, N_BASE, "", out, sizeof out), 0, "a timing outside does not fail:\n%s", out);
    row_of(out, "qins8/tok_s", row, sizeof row);
    cr_assert(strstr(row, "timing OUTSIDE tolerance"), "%s", out);
    cr_assert_eq(against(m, N_BASE, "--strict-timing", out, sizeof out), 1, "--strict-timing fails:\n%s", out);
}

Test(reproduce, against_differing_commits_are_named) {
    // Both synthetic files come from this build: no commit note. A run whose git_commit attribute
    // differs is written through the attribute API (it replaces the recorded value).
    char dir[512], old_path[1200], new_path[1200], cmd[4000], out[16384];
    cr_assert_eq(test_tmpdir(dir, sizeof dir), 0);
    cr_assert_eq(synth_run(dir, 1, "old", false, base_metrics, N_BASE, old_path, sizeof old_path), QINS_OK);
    struct qins_run_info info = {.phase = 1, .results_dir = dir, .config_text = "[run]\ntag = other\n"};
    qins_run_t *r;
    cr_assert_eq(qins_run_begin(&r, &info), QINS_OK);
    cr_assert_eq(qins_run_attr_str(r, "/", "git_commit", "0123456789abcdef0123456789abcdef01234567"), QINS_OK);
    for (size_t i = 0; i < N_BASE; i++)
        cr_assert_eq(qins_run_metric(r, base_metrics[i].name, base_metrics[i].value, base_metrics[i].unit), QINS_OK);
    cr_assert_eq(qins_run_commit(r, new_path, sizeof new_path), QINS_OK);
    snprintf(cmd, sizeof cmd, "'%s/qins' reproduce '%s' --against '%s'", QINS_TEST_BIN_DIR, old_path, new_path);
    cr_assert_eq(test_run_cmd(cmd, out, sizeof out), 0, "%s", out);
    cr_assert(strstr(out, "note: harness commit differs: old ") &&
                  strstr(out, ", new 0123456789abcdef0123456789abcdef01234567"),
              "one line names both commits:\n%s", out);
    snprintf(cmd, sizeof cmd, "'%s/qins' reproduce '%s' --results '%s' --check-only", QINS_TEST_BIN_DIR, new_path,
             dir);
    cr_assert_eq(test_run_cmd(cmd, out, sizeof out), 0, "%s", out);
    cr_assert(strstr(out, "note: harness commit differs: recorded 0123456789abcdef0123456789abcdef01234567, this build "),
              "re-run mode names the recorded and the build's commit:\n%s", out);
}
