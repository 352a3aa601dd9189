// tests/test_cli.c — bad input through the `qins` front-end: each case is one line on stderr
// and a non-zero exit (never a crash).
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "gguf.h"
#include "helpers/shared_paths.h"

static char model[1200], text[1200];

// Runs "qins ARGS" with stderr captured; returns the exit status and the stderr text.
static int run_qins(const char *args, char *err, size_t cap) {
    char errfile[] = "/tmp/qins_cli_err_XXXXXX";
    close(mkstemp(errfile));
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "%s/qins %s >/dev/null 2>%s", QINS_TEST_BIN_DIR, args, errfile);
    int st = system(cmd);
    FILE *f = fopen(errfile, "r");
    size_t n = fread(err, 1, cap - 1, f);
    err[n] = 0;
    fclose(f);
    unlink(errfile);
    cr_assert(WIFEXITED(st), "qins %s did not exit normally (signal?)", args);
    return WEXITSTATUS(st);
}

static void expect_one_line_error(const char *args, const char *needle) {
    char err[8192];
    int rc = run_qins(args, err, sizeof err);
    cr_assert_neq(rc, 0, "qins %s should fail", args);
    int lines = 0;
    for (char *p = err; *p; p++) lines += *p == '\n';
    cr_assert_eq(lines, 1, "qins %s: expected one error line, got:\n%s", args, err);
    cr_assert_not_null(strstr(err, needle), "qins %s: error should mention '%s', got: %s", args, needle, err);
}

// Copies src to dst, cut to `keep` bytes (0 = all), with the first `find` after `after` (a byte
// string that must occur first, NULL = the start) overwritten by repl.
static void copy_patched(const char *src, const char *dst, long keep, const char *after, const char *find,
                         const char *repl) {
    FILE *f = fopen(src, "rb");
    cr_assert_not_null(f);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc(n);
    cr_assert_eq(fread(buf, 1, n, f), (size_t)n);
    fclose(f);
    if (find) {
        char *from = after ? memmem(buf, n, after, strlen(after)) : buf;
        cr_assert_not_null(from, "'%s' not found in %s", after, src);
        char *hit = memmem(from, n - (from - buf), find, strlen(find));
        cr_assert_not_null(hit, "'%s' not found in %s", find, src);
        memcpy(hit, repl, strlen(repl));
    }
    f = fopen(dst, "wb");
    fwrite(buf, 1, keep > 0 && keep < n ? keep : n, f);
    fclose(f);
    free(buf);
}

static void setup(void) {
    if (test_model_path("stories260K.gguf", model, sizeof model)) return;
    if (test_shared_path("data/tinystories_train_sample_2MiB.txt", text, sizeof text)) return;
}

TestSuite(cli, .init = setup);

Test(cli, missing_model) { expect_one_line_error("info /nonexistent/none.gguf", "none.gguf"); }

Test(cli, truncated_gguf) {
    copy_patched(model, "/tmp/qins_cli_trunc.gguf", 300000, NULL, NULL, NULL);
    expect_one_line_error("generate --model /tmp/qins_cli_trunc.gguf --prompt hi --tokens 4", "qins_cli_trunc.gguf");
    unlink("/tmp/qins_cli_trunc.gguf");
}

Test(cli, unsupported_tensor_type) {
    char q4[1200];
    if (test_model_path("stories260K-Q4_0-ffnF32.gguf", q4, sizeof q4)) return;
    char args[1400];
    snprintf(args, sizeof args, "info %s", q4);
    expect_one_line_error(args, "Q4_0");
}

Test(cli, unknown_architecture) {
    copy_patched(model, "/tmp/qins_cli_arch.gguf", 0, "general.architecture", "llama", "gpt9z");
    expect_one_line_error("info /tmp/qins_cli_arch.gguf", "gpt9z");
    unlink("/tmp/qins_cli_arch.gguf");
}

Test(cli, empty_text_file) {
    FILE *f = fopen("/tmp/qins_cli_empty.txt", "w");
    fclose(f);
    char args[1400];
    snprintf(args, sizeof args, "perplexity --model %s --text-file /tmp/qins_cli_empty.txt --ctx 64", model);
    expect_one_line_error(args, "empty");
    unlink("/tmp/qins_cli_empty.txt");
}

Test(cli, context_larger_than_the_model) {
    char args[2600];
    snprintf(args, sizeof args, "perplexity --model %s --text-file %s --ctx 4096", model, text);
    expect_one_line_error(args, "context");
}

Test(cli, unknown_option_and_bad_kv_spec) {
    char args[1400];
    snprintf(args, sizeof args, "generate --model %s --colour red", model);
    expect_one_line_error(args, "--colour");
    snprintf(args, sizeof args, "generate --model %s --kv qins99", model);
    expect_one_line_error(args, "qins99");
}

Test(cli, json_contract_of_generate) {
    char cmd[2600];
    snprintf(cmd, sizeof cmd, "%s/qins generate --model %s --prompt 'Once upon a time' --tokens 8 --json", QINS_TEST_BIN_DIR, model);
    FILE *p = popen(cmd, "r");
    char out[4096];
    size_t n = fread(out, 1, sizeof out - 1, p);
    out[n] = 0;
    cr_assert_eq(pclose(p), 0);
    cr_assert_not_null(strstr(out, "\"prompt_ids\":[1,403,407,261,378]"), "got %s", out);
    cr_assert_not_null(strstr(out, "\"ids\":[432,383,286,261,376,298,315,421]"), "got %s", out);
    cr_assert_eq(strchr(out, '\n') - out, (long)strlen(out) - 1, "exactly one JSON line");
}

Test(cli, nan_in_weights) {
    qins_gguf_t *g;
    cr_assert_eq(qins_gguf_open(model, &g), 0);
    const struct qins_gguf_tensor *t = qins_gguf_find_tensor(g, "blk.0.attn_q.weight");
    FILE *f = fopen(model, "rb");
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc(n);
    cr_assert_eq(fread(buf, 1, n, f), (size_t)n);
    fclose(f);
    // the tensor's bytes in the file: its first 64 bytes of weights are unique in the file
    char *hit = memmem(buf, n, t->data, 64);
    cr_assert_not_null(hit);
    const uint32_t nan_bits = 0x7fc00000u;
    memcpy(hit + 4 * 5, &nan_bits, 4);
    f = fopen("/tmp/qins_cli_nan.gguf", "wb");
    fwrite(buf, 1, n, f);
    fclose(f);
    free(buf);
    qins_gguf_free(g);
    expect_one_line_error("info /tmp/qins_cli_nan.gguf", "NaN");
    unlink("/tmp/qins_cli_nan.gguf");
}

Test(cli, write_gguf_without_a_usable_vocab) {
    expect_one_line_error("write-gguf --shape tiny-phi3 --vocab /nonexistent/v.gguf --out /tmp/qins_cli_v.gguf",
                          "vocab '/nonexistent/v.gguf' not found");
    expect_one_line_error("write-gguf --shape phi3.5-mini --vocab ggml-vocab-llama-spm.gguf --out /tmp/qins_cli_v.gguf",
                          "has 32000 tokens, the model 32064");
    char args[1400];
    snprintf(args, sizeof args, "write-gguf --shape tiny-phi3 --vocab %s --out /tmp/qins_cli_v.gguf", text);
    expect_one_line_error(args, "bad magic");
    cr_assert_neq(access("/tmp/qins_cli_v.gguf", F_OK), 0, "nothing written");
}
