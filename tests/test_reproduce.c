// tests/test_reproduce.c — `qins reproduce` refuses when the model or eval text no longer
// hashes to what the run recorded, and names both hashes; `qins runs` lists the run.
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
