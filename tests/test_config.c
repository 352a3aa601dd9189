// tests/test_config.c — defaults, validation errors with file:line:key, overrides, effective text.
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "config.h"
#include "experiment.h"
#include "helpers/test_io.h"
#include "helpers/run_cmd.h"

static const struct qins_cfg_key phase_keys[] = {
    {"phase9", "variants", QINS_CFG_LIST, "qins8,qins6", 1, 4, "qins8|qins6|int8|fp16", "variants", NULL},
    {"phase9", "ratio", QINS_CFG_DOUBLE, "0.5", 0, 1, NULL, "a fraction", NULL},
    {"phase9", "verbose", QINS_CFG_BOOL, "no", 1, 0, NULL, "talk", NULL},
    {0},
};
static const struct qins_cfg_key *const tables[] = {qins_exp_run_keys, qins_exp_codec_keys, phase_keys, NULL};

TestSuite(config, .init = test_log_capture);

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
    cr_assert_eq(qins_config_load_string(c, ini, "x.ini"), QINS_OK, "%s", test_log);
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
    cr_assert_eq(qins_config_load_string(b, ea, "recorded"), QINS_OK, "%s", test_log);
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
    cr_assert(strstr(test_log, "exp/p1.ini:4: unknown key 'tokns' in [run]"), "%s", test_log);
    cr_assert(strstr(test_log, "known keys: model,"), "lists the known keys: %s", test_log);
    qins_config_free(c);
}

Test(config, unknown_section_and_key_outside_section) {
    qins_config_t *c;
    cr_assert_eq(qins_config_new(&c, tables), QINS_OK);
    cr_assert_eq(qins_config_load_string(c, "tokens = 3\n", "a.ini"), QINS_ERR_FORMAT);
    cr_assert(strstr(test_log, "a.ini:1: key 'tokens' is outside a section"), "%s", test_log);
    test_log[0] = 0;
    cr_assert_eq(qins_config_load_string(c, "[run]\n[phse9]\nratio = 1\n", "b.ini"), QINS_ERR_FORMAT);
    cr_assert(strstr(test_log, "b.ini:3: unknown section [phse9]"), "%s", test_log);
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
        {"[phase9]\nvariants = qins8,q4\n", QINS_ERR_ARG, "t.ini:2: [phase9] variants: item 2 'q4' is not one of"},
        {"[phase9]\nvariants = qins8,,fp16\n", QINS_ERR_ARG, "empty item"},
        {"[phase9]\nvariants = qins8,qins6,int8,fp16,qins8\n", QINS_ERR_RANGE, "list has 5 items"},
        {"[run]\neval_slice = stories:5-2\n", QINS_ERR_ARG, "t.ini:2: [run] eval_slice: expected bytes:A-B"},
        {"[run]\nprompts = derive:0\n", QINS_ERR_ARG, "derive:N needs 1 <= N"},
        {"[run]\nseed = 1\nseed = 2\n", QINS_ERR_FORMAT, "t.ini:3: [run] seed is set twice (first on line 2"},
        {"[run]\nthis line has no equals sign\n", QINS_ERR_FORMAT, "t.ini:2: syntax error"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        qins_config_t *c;
        test_log[0] = 0;
        cr_assert_eq(qins_config_new(&c, tables), QINS_OK);
        int st = qins_config_load_string(c, cases[i].ini, "t.ini");
        cr_assert_eq(st, cases[i].status, "case %zu (%s): status %d", i, cases[i].ini, st);
        cr_assert(strstr(test_log, cases[i].msg), "case %zu: expected '%s' in log:\n%s", i, cases[i].msg, test_log);
        qins_config_free(c);
    }
}

Test(config, overrides_validate_like_the_file) {
    qins_config_t *c;
    cr_assert_eq(qins_config_new(&c, tables), QINS_OK);
    cr_assert_eq(qins_config_set(c, "run.tokens=64"), QINS_OK);
    cr_assert_eq(qins_config_int(c, "run", "tokens"), 64);
    cr_assert_eq(qins_config_set(c, "codec.bits = 6"), QINS_OK, "%s", test_log);
    cr_assert_eq(qins_config_int(c, "codec", "bits"), 6);
    cr_assert_eq(qins_config_set(c, "run.tokens=-1"), QINS_ERR_RANGE);
    cr_assert_eq(qins_config_set(c, "run.nokey=1"), QINS_ERR_ARG);
    cr_assert(strstr(test_log, "unknown key"), "%s", test_log);
    cr_assert_eq(qins_config_set(c, "tokens=1"), QINS_ERR_ARG);
    qins_config_free(c);
}

Test(config, file_errors_name_the_path) {
    qins_config_t *c;
    cr_assert_eq(qins_config_new(&c, tables), QINS_OK);
    cr_assert_eq(qins_config_load_file(c, "/nonexistent/x.ini"), QINS_ERR_IO);
    cr_assert(strstr(test_log, "/nonexistent/x.ini"), "%s", test_log);
    cr_assert_eq(qins_config_load_file(c, NULL), QINS_OK, "NULL path = defaults");
    qins_config_free(c);
}

Test(config, bad_table_default_is_reported) {
    static const struct qins_cfg_key bad[] = {{"x", "n", QINS_CFG_INT, "500", 0, 10, NULL, "doc", NULL}, {0}};
    const struct qins_cfg_key *const t[] = {bad, NULL};
    qins_config_t *c;
    cr_assert_eq(qins_config_new(&c, t), QINS_ERR_RANGE);
    cr_assert(strstr(test_log, "default of [x] n is invalid"), "%s", test_log);
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
    const struct qins_cfg_key *const t[] = {qins_exp_run_keys, p0, NULL};
    const char *src = getenv("QINS_SOURCE_DIR");
    cr_assert(src, "QINS_SOURCE_DIR must be set by ctest");
    char path[1024];
    snprintf(path, sizeof path, "%s/experiments/phase0.ini", src);
    qins_config_t *c;
    cr_assert_eq(qins_config_new(&c, t), QINS_OK);
    cr_assert_eq(qins_config_load_file(c, path), QINS_OK, "%s", test_log);
    cr_assert_geq(qins_config_int(c, "run", "tokens"), 100, "plan: token_match over >= 100 tokens");
    qins_config_free(c);
}

// ---- typed list items

// Fails the way a core parser does: logs an error line and leaves why empty.
static int check_logs_only(const char *item, char *why, size_t cap) {
    (void)why, (void)cap;
    if (strcmp(item, "bad")) return 0;
    qins_log(QINS_LOG_ERROR, "parser says '%s' is bad", item);
    return -1;
}
// Fails with its own reason (for an INT item: the text it gets is the trimmed item).
static int check_not_13(const char *item, char *why, size_t cap) {
    if (strcmp(item, "13")) return 0;
    snprintf(why, cap, "13 is unlucky");
    return -1;
}

static const struct qins_cfg_key typed_keys[] = {
    {"phase9", "sizes", QINS_CFG_LIST, "1,2,4", 1, 4, NULL, "ints", NULL, QINS_CFG_ITEM_INT, 1, 4096, check_not_13},
    {"phase9", "alphas", QINS_CFG_LIST, "0.5, 1.0 ,1e2", 1, 8, NULL, "doubles", NULL, QINS_CFG_ITEM_DOUBLE, 1e-3, 1e6},
    {"phase9", "any", QINS_CFG_LIST, "-7,3", 0, 8, NULL, "ints, no range", NULL, QINS_CFG_ITEM_INT},
    {"phase9", "names", QINS_CFG_LIST, "ok", 1, 8, NULL, "checked strings", NULL, QINS_CFG_ITEM_STRING, 0, 0,
     check_logs_only},
    {"phase9", "kv", QINS_CFG_LIST, "qins8,fp16", 1, 8, NULL, "KV specs", NULL, QINS_CFG_ITEM_STRING, 0, 0,
     qins_check_kv_spec_item},
    {"phase9", "codecs", QINS_CFG_LIST, "qins8,int8", 1, 8, NULL, "codecs", NULL, QINS_CFG_ITEM_STRING, 0, 0,
     qins_check_codec_item},
    {"phase9", "label", QINS_CFG_STRING, "x", 1, 0, NULL, "whole-value check", check_logs_only},
    {0},
};
static const struct qins_cfg_key *const typed_tables[] = {typed_keys, NULL};

static size_t count_lines(const char *s) {
    size_t n = 0;
    for (; *s; s++) n += *s == '\n';
    return n;
}

Test(config, typed_list_items_parse_once_and_normalise) {
    qins_config_t *c;
    cr_assert_eq(qins_config_new(&c, typed_tables), QINS_OK, "%s", test_log);
    const int64_t *iv;
    const double *dv;
    cr_assert_eq(qins_config_int_list(c, "phase9", "sizes", &iv), 3);
    cr_assert_eq(iv[2], 4);
    cr_assert_eq(qins_config_double_list(c, "phase9", "alphas", &dv), 3);
    cr_assert_float_eq(dv[2], 100.0, 0, "1e2");
    cr_assert_eq(qins_config_load_string(c, "[phase9]\nsizes = 8, 16 ,4096\nany = \nalphas = 0.10,2\n", "p.ini"),
                 QINS_OK, "%s", test_log);
    cr_assert_eq(qins_config_int_list(c, "phase9", "sizes", &iv), 3);
    cr_assert_eq(iv[0], 8);
    cr_assert_eq(iv[2], 4096);
    cr_assert_eq(qins_config_double_list(c, "phase9", "sizes", &dv), 3, "INT items read as doubles too");
    cr_assert_float_eq(dv[1], 16.0, 0);
    cr_assert_eq(qins_config_int_list(c, "phase9", "any", &iv), 0, "empty list");
    cr_assert_eq(qins_config_double_list(c, "phase9", "alphas", &dv), 2);
    cr_assert_float_eq(dv[0], 0.1, 0);
    const char *const *items;
    cr_assert_eq(qins_config_list(c, "phase9", "alphas", &items), 2);
    cr_assert_str_eq(items[0], "0.1", "numbers are normalised like scalars");
    char *eff = qins_config_effective(c);
    cr_assert(strstr(eff, "alphas = 0.1,2\n"), "%s", eff);
    free(eff);
    cr_assert_eq(qins_config_set(c, "phase9.any=-3"), QINS_OK, "%s", test_log);
    cr_assert_eq(qins_config_int_list(c, "phase9", "any", &iv), 1);
    cr_assert_eq(iv[0], -3);
    qins_config_free(c);
}

Test(config, typed_item_errors_are_one_line_with_position) {
    struct { const char *ini; int status; const char *msg; } cases[] = {
        {"[phase9]\n\n\nsizes = 1,abc\n", QINS_ERR_ARG, "p.ini:4: [phase9] sizes: item 2 'abc' is not an integer"},
        {"[phase9]\nalphas = 1,2,abc\n", QINS_ERR_ARG, "p.ini:2: [phase9] alphas: item 3 'abc' is not a number"},
        {"[phase9]\nalphas = 1, 2, 0.0001\n", QINS_ERR_RANGE,
         "p.ini:2: [phase9] alphas: item 3 '0.0001' is out of range [0.001, 1e+06]"},
        {"[phase9]\nalphas = inf\n", QINS_ERR_ARG, "p.ini:2: [phase9] alphas: item 1 'inf' is not a finite number"},
        {"[phase9]\nsizes = 1,5000\n", QINS_ERR_RANGE, "p.ini:2: [phase9] sizes: item 2 '5000' is out of range [1, 4096]"},
        {"[phase9]\nsizes = 1,2,13\n", QINS_ERR_ARG, "p.ini:2: [phase9] sizes: item 3 '13': 13 is unlucky"},
        {"[phase9]\nnames = ok,bad\n", QINS_ERR_ARG, "p.ini:2: [phase9] names: item 2 'bad': parser says 'bad' is bad"},
        {"[phase9]\nsizes = 1,2,3,4,5\n", QINS_ERR_RANGE, "p.ini:2: [phase9] sizes: list has 5 items, allowed [1, 4]"},
        {"[phase9]\nsizes = 1,,3\n", QINS_ERR_ARG, "p.ini:2: [phase9] sizes: empty item 2"},
        {"[phase9]\nlabel = bad\n", QINS_ERR_ARG, "p.ini:2: [phase9] label: parser says 'bad' is bad"},
        {"[phase9]\nkv = qins8,bogus\n", QINS_ERR_ARG, "p.ini:2: [phase9] kv: item 2 'bogus': "},
        {"[phase9]\ncodecs = int8,qins99\n", QINS_ERR_ARG, "p.ini:2: [phase9] codecs: item 2 'qins99': "},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        qins_config_t *c;
        cr_assert_eq(qins_config_new(&c, typed_tables), QINS_OK);
        test_log[0] = 0;
        qins_log_set_level(QINS_LOG_INFO);
        int st = qins_config_load_string(c, cases[i].ini, "p.ini");
        cr_assert_eq(st, cases[i].status, "case %zu (%s): status %d, log %s", i, cases[i].ini, st, test_log);
        cr_assert(strstr(test_log, cases[i].msg), "case %zu: expected '%s' in log:\n%s", i, cases[i].msg, test_log);
        cr_assert_eq(count_lines(test_log), 1, "case %zu: one line, the check's own log silenced:\n%s", i, test_log);
        cr_assert_eq(qins_log_get_level(), QINS_LOG_INFO, "case %zu: the engine restores the log level", i);
        qins_config_free(c);
    }
}

Test(config, typed_item_override_errors_name_the_item) {
    qins_config_t *c;
    cr_assert_eq(qins_config_new(&c, typed_tables), QINS_OK);
    cr_assert_eq(qins_config_set(c, "phase9.alphas=1,abc"), QINS_ERR_ARG);
    cr_assert(strstr(test_log, "override 'phase9.alphas=1,abc': [phase9] alphas: item 2 'abc' is not a number"), "%s",
              test_log);
    cr_assert_eq(count_lines(test_log), 1, "%s", test_log);
    const double *dv;
    cr_assert_eq(qins_config_double_list(c, "phase9", "alphas", &dv), 3, "a failed override keeps the value");
    qins_config_free(c);
}

Test(config, shared_item_checks_accept_real_specs) {
    char why[256] = "";
    cr_assert_eq(qins_check_kv_spec_item("qins8:alpha=2:page=16", why, sizeof why), 0, "%s", why);
    cr_assert_eq(qins_check_codec_item("fp16", why, sizeof why), 0, "%s", why);
    cr_assert_neq(qins_check_codec_item("nope", why, sizeof why), 0);
    cr_assert(why[0], "a reason is given");
}

// ---- tables listed twice, --help-config

Test(config, a_table_listed_twice_counts_once) {
    const struct qins_cfg_key *const t[] = {qins_exp_run_keys, phase_keys, qins_exp_run_keys, NULL};
    qins_config_t *c;
    cr_assert_eq(qins_config_new(&c, t), QINS_OK, "%s", test_log);
    char *eff = qins_config_effective(c);
    cr_assert(strstr(eff, "[run]"));
    cr_assert_null(strstr(strstr(eff, "[run]") + 1, "[run]"), "[run] once: %s", eff);
    free(eff);
    qins_config_free(c);
    char *doc = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&doc, &len);
    qins_config_print_doc(f, t);
    fclose(f);
    cr_assert_null(strstr(strstr(doc, "[run]") + 1, "[run]"), "doc: [run] once: %s", doc);
    free(doc);
}

Test(config, phase1_help_config_prints_each_section_and_key_once) {
    static char out[1 << 17];
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "'%s/qins-phase1' --help-config", QINS_TEST_BIN_DIR);
    int rc = test_run_cmd(cmd, out, sizeof out);
    cr_assert_eq(rc, 0, "%s\n%s", cmd, out);
    // every "[section]" header line, counted
    size_t n_headers = 0;
    for (const char *line = out; *line;) {
        const char *nl = strchr(line, '\n');
        size_t len = nl ? (size_t)(nl - line) : strlen(line);
        if (len > 2 && line[0] == '[' && line[len - 1] == ']') {
            n_headers++;
            char probe[130];
            snprintf(probe, sizeof probe, "%.*s\n", (int)len, line);
            size_t count = 0;
            for (const char *p = out; (p = strstr(p, probe)); p++)
                if (p == out || p[-1] == '\n') count++;
            cr_assert_eq(count, 1, "section header %.*s appears %zu times:\n%s", (int)len, line, count, out);
        }
        line = nl ? nl + 1 : line + len;
    }
    cr_assert_geq(n_headers, 2, "[run] and [phase1] at least:\n%s", out);
    // the bug this guards: [run]'s keys printed twice under one header
    static char seen[256][96];
    size_t n_seen = 0;
    char section[64] = "";
    for (const char *line = out; *line;) {
        const char *nl = strchr(line, '\n');
        size_t len = nl ? (size_t)(nl - line) : strlen(line);
        const char *eq = memchr(line, '=', len);
        if (len > 2 && line[0] == '[' && line[len - 1] == ']') {
            snprintf(section, sizeof section, "%.*s", (int)len, line);
        } else if (len && line[0] != ';' && eq) {
            char name[96];
            snprintf(name, sizeof name, "%s %.*s", section, (int)(eq - line), line);
            for (size_t i = 0; i < n_seen; i++) cr_assert_str_neq(seen[i], name, "key %s printed twice:\n%s", name, out);
            cr_assert_lt(n_seen, 256);
            snprintf(seen[n_seen++], sizeof seen[0], "%s", name);
        }
        line = nl ? nl + 1 : line + len;
    }
    cr_assert_geq(n_seen, 13, "every [run] key is printed: %zu", n_seen);
    cr_assert(strstr(out, "[run]\n") && strstr(out, "[phase1]\n"), "%s", out);
}
