// tests/test_paths.c — one lookup order (core/paths.h) for the CLI, the phases and the tests:
// the same bare name gives the same file from `qins info --json` and from qins_exp_model_path
// (what qins_exp_open loads), with two candidates present; misses name every place tried.
#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common.h"
#include "config.h"
#include "experiment.h"
#include "helpers/run_cmd.h"
#include "helpers/shared_paths.h"
#include "paths.h"

static char logbuf[4096];
static void capture(int level, const char *msg, void *user) {
    (void)user;
    if (level > QINS_LOG_WARN) return;
    strncat(logbuf, msg, sizeof logbuf - strlen(logbuf) - 2);
    strcat(logbuf, "\n");
}

// A scratch tree: <root>/env_models/<model> and <root>/cwd/models/<model>, both links to the
// real model, so $QINS_MODELS and ./models each hold a candidate.
static char root[1024], env_models[1100], cwd[1100];

static void make_tree(void) {
    char real[1200];
    if (test_model_path("stories260K.gguf", real, sizeof real)) return;
    char abs_real[PATH_MAX];
    cr_assert(realpath(real, abs_real), "realpath %s", real);
    snprintf(root, sizeof root, "%s/paths_test_%ld", QINS_TEST_BIN_DIR, (long)getpid());
    snprintf(env_models, sizeof env_models, "%s/env_models", root);
    snprintf(cwd, sizeof cwd, "%s/cwd", root);
    char cwd_models[1200], link[1300];
    snprintf(cwd_models, sizeof cwd_models, "%s/models", cwd);
    cr_assert_eq(mkdir(root, 0755), 0);
    cr_assert_eq(mkdir(env_models, 0755), 0);
    cr_assert_eq(mkdir(cwd, 0755), 0);
    cr_assert_eq(mkdir(cwd_models, 0755), 0);
    snprintf(link, sizeof link, "%s/stories260K.gguf", env_models);
    cr_assert_eq(symlink(abs_real, link), 0);
    snprintf(link, sizeof link, "%s/stories260K.gguf", cwd_models);
    cr_assert_eq(symlink(abs_real, link), 0);
    cr_assert_eq(chdir(cwd), 0);
}

static void remove_tree(void) {
    if (!root[0]) return;
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
    cr_assert_eq(system(cmd), 0);
}

static void setup(void) {
    logbuf[0] = 0;
    qins_log_set(capture, NULL);
    unsetenv("QINS_SHARED");
    unsetenv("QINS_DATA");
}

TestSuite(paths, .init = setup);

// The "path" field of `qins info NAME --json`, run in the current folder and environment.
static void cli_model_path(const char *name, char *out, size_t cap) {
    static char buf[1 << 16];
    char cmd[1400];
    snprintf(cmd, sizeof cmd, "'%s/qins' info %s --json", QINS_TEST_BIN_DIR, name);
    int rc = test_run_cmd(cmd, buf, sizeof buf);
    cr_assert_eq(rc, 0, "%s:\n%s", cmd, buf);
    cJSON *j = cJSON_Parse(buf);
    cr_assert(j, "not JSON: %s", buf);
    const cJSON *p = cJSON_GetObjectItemCaseSensitive(j, "path");
    cr_assert(cJSON_IsString(p), "no \"path\" in %s", buf);
    snprintf(out, cap, "%s", p->valuestring);
    cJSON_Delete(j);
}

// What qins_exp_open loads for [run] model = name.
static void phase_model_path(const char *name, char *out, size_t cap) {
    const struct qins_cfg_key *const tables[] = {qins_exp_run_keys, NULL};
    qins_config_t *cfg;
    cr_assert_eq(qins_config_new(&cfg, tables), QINS_OK, "%s", logbuf);
    char set[600];
    snprintf(set, sizeof set, "run.model=%s", name);
    cr_assert_eq(qins_config_set(cfg, set), QINS_OK, "%s", logbuf);
    cr_assert_eq(qins_exp_model_path(cfg, out, cap), QINS_OK, "%s", logbuf);
    qins_config_free(cfg);
}

Test(paths, cli_and_phase_pick_the_same_file_qins_models_first) {
    make_tree();
    setenv("QINS_MODELS", env_models, 1);
    char cli[2048], phase[2048], want[1300];
    cli_model_path("stories260K.gguf", cli, sizeof cli);
    phase_model_path("stories260K.gguf", phase, sizeof phase);
    snprintf(want, sizeof want, "%s/stories260K.gguf", env_models);
    cr_assert_str_eq(cli, phase, "CLI and phase disagree");
    cr_assert_str_eq(cli, want, "$QINS_MODELS comes before ./models");
    remove_tree();
}

Test(paths, cli_and_phase_pick_the_same_file_without_qins_models) {
    make_tree();
    unsetenv("QINS_MODELS");
    char cli[2048], phase[2048];
    cli_model_path("stories260K.gguf", cli, sizeof cli);
    phase_model_path("stories260K.gguf", phase, sizeof phase);
    cr_assert_str_eq(cli, phase, "CLI and phase disagree");
    cr_assert_str_eq(cli, "./models/stories260K.gguf", "./models before ./ and the source tree's ../shared");
    remove_tree();
}

Test(paths, a_miss_is_one_line_naming_every_place_tried) {
    make_tree();
    setenv("QINS_MODELS", env_models, 1);
    char tried[2048], out[1024];
    cr_assert_eq(qins_path_candidates(QINS_PATH_MODEL, "absent.gguf", tried, sizeof tried), QINS_OK);
    cr_assert_eq(qins_path_resolve(QINS_PATH_MODEL, "absent.gguf", out, sizeof out), QINS_ERR_IO);
    cr_assert_eq(strchr(logbuf, '\n') - logbuf + 1, (long)strlen(logbuf), "one line: %s", logbuf);
    cr_assert(strstr(logbuf, "model 'absent.gguf' not found; tried "), "%s", logbuf);
    cr_assert(strstr(logbuf, tried), "lists %s: %s", tried, logbuf);
    char each[2600];
    snprintf(each, sizeof each, "%s/absent.gguf, %s/../models/absent.gguf, ./models/absent.gguf, absent.gguf, ",
             env_models, env_models);
    cr_assert(strstr(tried, each), "the documented order: %s", tried);
    // the CLI prints the same line
    static char buf[8192];
    char cmd[1400];
    snprintf(cmd, sizeof cmd, "'%s/qins' info absent.gguf --json", QINS_TEST_BIN_DIR);
    cr_assert_neq(test_run_cmd(cmd, buf, sizeof buf), 0);
    cr_assert(strstr(buf, tried), "CLI lists the same places: %s", buf);
    cr_assert_eq(strchr(buf, '\n') - buf + 1, (long)strlen(buf), "CLI: one line: %s", buf);
    remove_tree();
}

Test(paths, names_with_a_slash_and_source_files) {
    char out[2048];
    cr_assert_eq(qins_path_resolve(QINS_PATH_SOURCE, "gates/gates.txt", out, sizeof out), QINS_OK, "%s", logbuf);
    cr_assert(strstr(out, "gates/gates.txt"), "%s", out);
    cr_assert_eq(qins_path_resolve(QINS_PATH_SOURCE, "experiments/prompts-tinystories.csv", out, sizeof out), QINS_OK);
    cr_assert_eq(qins_path_resolve(QINS_PATH_DATA, "tinystories_train_sample_2MiB.txt", out, sizeof out), QINS_OK,
                 "%s", logbuf);
    char model[1200];
    if (test_model_path("stories260K.gguf", model, sizeof model)) return;
    if (strchr(model, '/')) {
        cr_assert_eq(qins_path_resolve(QINS_PATH_MODEL, model, out, sizeof out), QINS_OK, "a path is used as given");
        cr_assert_str_eq(out, model);
    }
    logbuf[0] = 0;
    cr_assert_eq(qins_path_resolve(QINS_PATH_MODEL, "./absent.gguf", out, sizeof out), QINS_ERR_IO);
    cr_assert(strstr(logbuf, "tried ./absent.gguf\n"), "a path is tried only as given: %s", logbuf);
    logbuf[0] = 0;
    cr_assert_eq(qins_path_try(QINS_PATH_MODEL, "absent.gguf", out, sizeof out), QINS_ERR_IO);
    cr_assert_str_eq(logbuf, "", "qins_path_try does not log");
    cr_assert_eq(qins_path_resolve(QINS_PATH_SOURCE, "gates/gates.txt", out, 4), QINS_ERR_RANGE, "too small");
    cr_assert_eq(qins_path_resolve(QINS_PATH_MODEL, "", out, sizeof out), QINS_ERR_ARG);
}

Test(paths, data_order_and_shared_root) {
    char dir[1024], file[1200], out[2048];
    snprintf(dir, sizeof dir, "%s/paths_data_%ld", QINS_TEST_BIN_DIR, (long)getpid());
    cr_assert_eq(mkdir(dir, 0755), 0);
    snprintf(file, sizeof file, "%s/d.txt", dir);
    FILE *f = fopen(file, "wb");
    cr_assert(f);
    fclose(f);
    setenv("QINS_DATA", dir, 1);
    cr_assert_eq(qins_path_resolve(QINS_PATH_DATA, "d.txt", out, sizeof out), QINS_OK, "%s", logbuf);
    cr_assert_str_eq(out, file);
    // The shared root: $QINS_SHARED, else $QINS_MODELS/..
    setenv("QINS_MODELS", dir, 1);
    cr_assert_eq(qins_shared_dir(out, sizeof out), QINS_OK);
    char want[1200];
    snprintf(want, sizeof want, "%s/..", dir);
    cr_assert_str_eq(out, want);
    setenv("QINS_SHARED", "/nonexistent-shared", 1);
    cr_assert_eq(qins_shared_dir(out, sizeof out), QINS_ERR_IO);
    cr_assert(strstr(logbuf, "/nonexistent-shared"), "%s", logbuf);
    remove(file);
    rmdir(dir);
}

Test(paths, vocab_files_are_looked_up_beside_the_models_then_in_tokenizers) {
    const char *src = getenv("QINS_SOURCE_DIR");
    cr_assert(src, "QINS_SOURCE_DIR must be set by ctest");
    char source[1024];
    snprintf(source, sizeof source, "%s", src);
    setenv("QINS_MODELS", "/m", 1);
    setenv("QINS_SOURCE_DIR", "/src", 1);
    char tried[2048];
    cr_assert_eq(qins_path_candidates(QINS_PATH_VOCAB, "v.gguf", tried, sizeof tried), QINS_OK);
    cr_assert_str_eq(tried, "/m/v.gguf, /m/../tokenizers/v.gguf, ./tokenizers/v.gguf, v.gguf, "
                            "/src/../shared/tokenizers/v.gguf");
    setenv("QINS_SHARED", "/s", 1);
    cr_assert_eq(qins_path_candidates(QINS_PATH_VOCAB, "v.gguf", tried, sizeof tried), QINS_OK);
    cr_assert(strstr(tried, "/m/v.gguf, /s/tokenizers/v.gguf, "), "%s", tried);
    unsetenv("QINS_SHARED");
    unsetenv("QINS_MODELS");
    // Found in the shared tree beside the sources (what `qins write-gguf` takes by default).
    setenv("QINS_SOURCE_DIR", source, 1);
    char out[2048];
    cr_assert_eq(qins_path_resolve(QINS_PATH_VOCAB, "ggml-vocab-phi-3.gguf", out, sizeof out), QINS_OK, "%s", logbuf);
    cr_assert(strstr(out, "/tokenizers/ggml-vocab-phi-3.gguf"), "%s", out);
    cr_assert_str_eq(qins_path_kind_name(QINS_PATH_VOCAB), "vocab");
}
