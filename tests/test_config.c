// tests/test_config.c — defaults, validation errors with file:line:key, overrides, effective text.
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "config.h"

static char logbuf[8192];
static void capture(int level, const char *msg, void *user) {
    (void)user;
    if (level > QINS_LOG_WARN) return;
    strncat(logbuf, msg, sizeof logbuf - strlen(logbuf) - 2);
    strcat(logbuf, "\n");
}
static void setup(void) {
    logbuf[0] = 0;
    qins_log_set(capture, NULL);
}

static const struct qins_cfg_key phase_keys[] = {
    {"phase9", "variants", QINS_CFG_LIST, "qins8,qins6", 1, 4, "qins8|qins6|int8|fp16", "variants", NULL},
    {"phase9", "ratio", QINS_CFG_DOUBLE, "0.5", 0, 1, NULL, "a fraction", NULL},
    {"phase9", "verbose", QINS_CFG_BOOL, "no", 1, 0, NULL, "talk", NULL},
    {0},
};
static const struct qins_cfg_key *const tables[] = {qins_config_codec_keys, phase_keys, NULL};

TestSuite(config, .init = setup);

Test(config, defaults_fill_every_key) {
    qins_config_t *c;
    cr_assert_eq(qins_config_new(&c, tables), QINS_OK);
    cr_assert_str_eq(qins_config_str(c, "run", "model"), "stories260K.gguf");
    cr_assert_eq(qins_config_int(c, "run", "tokens"), 128);
    cr_assert_eq(qins_config_int(c, "run", "ctx"), 256);
    cr_assert_eq(qins_config_int(c, "codec", "bits"), 8);
    cr_assert_str_eq(qins_config_str(c, "codec", "granularity"), "row");
    cr_assert_float_eq(qins_config_double(c, "phase9", "ratio"), 0.5, 0);
    cr_assert_not(qins_config_bool(c, "phase9", "verbose"));
    const char *const *items;
    cr_assert_eq(qins_config_list(c, "phase9", "variants", &items), 2);
    cr_assert_str_eq(items[1], "qins6");
    qins_config_free(c);
}

Test(config, file_values_override_defaults_and_normalise) {
    qins_config_t *c;
    cr_assert_eq(qins_config_new(&c, tables), QINS_OK);
    const char *ini = "; comment\n[run]\ntokens = 100\nnote = hello world\n\n[phase9]\nratio=0.25\n"
                      "verbose = YES\nvariants = int8 , fp16,qins8\n[codec]\nalpha = 2.50\n";
    cr_assert_eq(qins_config_load_string(c, ini, "x.ini"), QINS_OK, "%s", logbuf);
    cr_assert_eq(qins_config_int(c, "run", "tokens"), 100);
    cr_assert_str_eq(qins_config_str(c, "run", "note"), "hello world");
    cr_assert(qins_config_bool(c, "phase9", "verbose"));
    cr_assert_float_eq(qins_config_double(c, "codec", "alpha"), 2.5, 0);
    char *eff = qins_config_effective(c);
    cr_assert(strstr(eff, "variants = int8,fp16,qins8\n"), "%s", eff);
    cr_assert(strstr(eff, "verbose = true\n"), "%s", eff);
    cr_assert(strstr(eff, "alpha = 2.5\n"), "%s", eff);
    cr_assert(strstr(eff, "model = stories260K.gguf\n"), "defaults are in the effective text: %s", eff);
    cr_assert_str_eq(qins_config_source_text(c), ini);
    cr_assert_str_eq(qins_config_source_path(c), "x.ini");
    free(eff);
    qins_config_free(c);
}

Test(config, effective_text_round_trips_to_itself) {
    qins_config_t *a, *b;
    cr_assert_eq(qins_config_new(&a, tables), QINS_OK);
    cr_assert_eq(qins_config_load_string(a, "[codec]\nalpha = 0.1\n[run]\nseed = 7\n", "a.ini"), QINS_OK);
    char *ea = qins_config_effective(a);
    cr_assert_eq(qins_config_new(&b, tables), QINS_OK);
    cr_assert_eq(qins_config_load_string(b, ea, "recorded"), QINS_OK, "%s", logbuf);
    char *eb = qins_config_effective(b);
    cr_assert_str_eq(ea, eb);
    cr_assert(strstr(ea, "alpha = 0.1\n"), "shortest round-trip double: %s", ea);
    free(ea);
    free(eb);
    qins_config_free(a);
    qins_config_free(b);
}

Test(config, unknown_key_names_file_line_and_key) {
    qins_config_t *c;
    cr_assert_eq(qins_config_new(&c, tables), QINS_OK);
    int st = qins_config_load_string(c, "[run]\ntokens = 100\n\ntokns = 5\n", "exp/p1.ini");
    cr_assert_eq(st, QINS_ERR_FORMAT);
    cr_assert(strstr(logbuf, "exp/p1.ini:4: unknown key 'tokns' in [run]"), "%s", logbuf);
    cr_assert(strstr(logbuf, "known keys: model,"), "lists the known keys: %s", logbuf);
    qins_config_free(c);
}

Test(config, unknown_section_and_key_outside_section) {
    qins_config_t *c;
    cr_assert_eq(qins_config_new(&c, tables), QINS_OK);
    cr_assert_eq(qins_config_load_string(c, "tokens = 3\n", "a.ini"), QINS_ERR_FORMAT);
    cr_assert(strstr(logbuf, "a.ini:1: key 'tokens' is outside a section"), "%s", logbuf);
    logbuf[0] = 0;
    cr_assert_eq(qins_config_load_string(c, "[run]\n[phse9]\nratio = 1\n", "b.ini"), QINS_ERR_FORMAT);
    cr_assert(strstr(logbuf, "b.ini:3: unknown section [phse9]"), "%s", logbuf);
    qins_config_free(c);
}

Test(config, bad_values_are_errors_with_location) {
    struct { const char *ini; int status; const char *msg; } cases[] = {
        {"[run]\ntokens = 12x\n", QINS_ERR_ARG, "t.ini:2: [run] tokens: '12x' is not an integer"},
        {"[run]\nctx = 4\n", QINS_ERR_RANGE, "t.ini:2: [run] ctx: 4 is outside [8,"},
        {"[phase9]\nratio = 1.5\n", QINS_ERR_RANGE, "t.ini:2: [phase9] ratio: 1.5 is outside [0, 1]"},
        {"[phase9]\nratio = nan\n", QINS_ERR_ARG, "not a finite number"},
        {"[phase9]\nverbose = maybe\n", QINS_ERR_ARG, "t.ini:2: [phase9] verbose: 'maybe' is not a boolean"},
        {"[codec]\ngranularity = block\n", QINS_ERR_ARG, "'block' is not one of tensor|row|group|page"},
        {"[phase9]\nvariants = qins8,q4\n", QINS_ERR_ARG, "list item 'q4' is not one of"},
        {"[phase9]\nvariants = qins8,,fp16\n", QINS_ERR_ARG, "empty item"},
        {"[phase9]\nvariants = qins8,qins6,int8,fp16,qins8\n", QINS_ERR_RANGE, "list has 5 items"},
        {"[run]\neval_slice = stories:5-2\n", QINS_ERR_ARG, "t.ini:2: [run] eval_slice: expected bytes:A-B"},
        {"[run]\nprompts = derive:0\n", QINS_ERR_ARG, "derive:N needs 1 <= N"},
        {"[run]\nseed = 1\nseed = 2\n", QINS_ERR_FORMAT, "t.ini:3: [run] seed is set twice (first on line 2"},
        {"[run]\nthis line has no equals sign\n", QINS_ERR_FORMAT, "t.ini:2: syntax error"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        qins_config_t *c;
        logbuf[0] = 0;
        cr_assert_eq(qins_config_new(&c, tables), QINS_OK);
        int st = qins_config_load_string(c, cases[i].ini, "t.ini");
        cr_assert_eq(st, cases[i].status, "case %zu (%s): status %d", i, cases[i].ini, st);
        cr_assert(strstr(logbuf, cases[i].msg), "case %zu: expected '%s' in log:\n%s", i, cases[i].msg, logbuf);
        qins_config_free(c);
    }
}

Test(config, overrides_validate_like_the_file) {
    qins_config_t *c;
    cr_assert_eq(qins_config_new(&c, tables), QINS_OK);
    cr_assert_eq(qins_config_set(c, "run.tokens=64"), QINS_OK);
    cr_assert_eq(qins_config_int(c, "run", "tokens"), 64);
    cr_assert_eq(qins_config_set(c, "codec.bits = 6"), QINS_OK, "%s", logbuf);
    cr_assert_eq(qins_config_int(c, "codec", "bits"), 6);
    cr_assert_eq(qins_config_set(c, "run.tokens=-1"), QINS_ERR_RANGE);
    cr_assert_eq(qins_config_set(c, "run.nokey=1"), QINS_ERR_ARG);
    cr_assert(strstr(logbuf, "unknown key"), "%s", logbuf);
    cr_assert_eq(qins_config_set(c, "tokens=1"), QINS_ERR_ARG);
    qins_config_free(c);
}

Test(config, file_errors_name_the_path) {
    qins_config_t *c;
    cr_assert_eq(qins_config_new(&c, tables), QINS_OK);
    cr_assert_eq(qins_config_load_file(c, "/nonexistent/x.ini"), QINS_ERR_IO);
    cr_assert(strstr(logbuf, "/nonexistent/x.ini"), "%s", logbuf);
    cr_assert_eq(qins_config_load_file(c, NULL), QINS_OK, "NULL path = defaults");
    qins_config_free(c);
}

Test(config, bad_table_default_is_reported) {
    static const struct qins_cfg_key bad[] = {{"x", "n", QINS_CFG_INT, "500", 0, 10, NULL, "doc", NULL}, {0}};
    const struct qins_cfg_key *const t[] = {bad, NULL};
    qins_config_t *c;
    cr_assert_eq(qins_config_new(&c, t), QINS_ERR_RANGE);
    cr_assert(strstr(logbuf, "default of [x] n is invalid"), "%s", logbuf);
}

Test(config, peek_reads_any_recorded_config) {
    char v[64];
    const char *ini = "[run]\nmodel = m.gguf\n[phase4]\nkernel = avx2\n";
    cr_assert_eq(qins_config_peek(ini, "run", "model", v, sizeof v), QINS_OK);
    cr_assert_str_eq(v, "m.gguf");
    cr_assert_eq(qins_config_peek(ini, "phase4", "kernel", v, sizeof v), QINS_OK);
    cr_assert_str_eq(v, "avx2");
    cr_assert_eq(qins_config_peek(ini, "run", "ctx", v, sizeof v), QINS_ERR_RANGE);
}

Test(config, phase_args) {
    char *argv[] = {"qins-phase1", "--config", "a.ini", "--set", "run.tokens=5", "--force", "--results", "/tmp/r"};
    struct qins_phase_args a;
    cr_assert_eq(qins_phase_args_parse(8, argv, &a), QINS_OK);
    cr_assert_str_eq(a.config_path, "a.ini");
    cr_assert_str_eq(a.results_dir, "/tmp/r");
    cr_assert(a.force);
    cr_assert_eq(a.n_overrides, 1);
    char *bad[] = {"p", "--confg", "x"};
    cr_assert_eq(qins_phase_args_parse(3, bad, &a), QINS_ERR_ARG);
}

Test(config, shipped_phase0_example_parses) {
    // experiments/phase0.ini uses [run] and [phase0]; the phase-0 keys are declared here as the
    // phase binary declares them.
    static const struct qins_cfg_key p0[] = {
        {"phase0", "variants", QINS_CFG_LIST, "fp16", 1, 8, "fp16|bf16|q8_0", "weight formats vs FP32", NULL},
        {0}};
    const struct qins_cfg_key *const t[] = {p0, NULL};
    const char *src = getenv("QINS_SOURCE_DIR");
    cr_assert(src, "QINS_SOURCE_DIR must be set by ctest");
    char path[1024];
    snprintf(path, sizeof path, "%s/experiments/phase0.ini", src);
    qins_config_t *c;
    cr_assert_eq(qins_config_new(&c, t), QINS_OK);
    cr_assert_eq(qins_config_load_file(c, path), QINS_OK, "%s", logbuf);
    cr_assert_geq(qins_config_int(c, "run", "tokens"), 100, "plan: token_match over >= 100 tokens");
    qins_config_free(c);
}

Test(config, path_find_looks_in_the_documented_places) {
    char out[1024];
    cr_assert_eq(qins_path_find("source", "gates/gates.txt", out, sizeof out), QINS_OK, "%s", logbuf);
    cr_assert(strstr(out, "gates/gates.txt"));
    cr_assert_eq(qins_path_find("source", "experiments/prompts-tinystories.csv", out, sizeof out), QINS_OK);
    cr_assert_eq(qins_path_find("model", "stories260K.gguf", out, sizeof out), QINS_OK,
                 "needs $QINS_MODELS or ../shared beside the source tree: %s", logbuf);
    cr_assert_eq(qins_path_find("data", "tinystories_train_sample_2MiB.txt", out, sizeof out), QINS_OK, "%s", logbuf);
    logbuf[0] = 0;
    cr_assert_eq(qins_path_find("model", "no-such-model.gguf", out, sizeof out), QINS_ERR_IO);
    cr_assert(strstr(logbuf, "not found (tried"), "%s", logbuf);
}
