// tests/test_blas.c — the OpenBLAS core check (core/blas.h): the pure decision on feature
// tables, a user OPENBLAS_CORETYPE / QINS_BLAS_CORE respected by `qins info --json` (no re-exec
// to another core), and run files recording the core of the process that wrote them.
#include <cblas.h>
#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "blas.h"
#include "common.h"
#include "helpers/run_cmd.h"
#include "helpers/shared_paths.h"
#include "helpers/synth_runs.h"
#include "results.h"
#include "runfile.h"

// ---- the decision: features + loaded core -> wanted core

static const struct qins_cpu_features sse_only = {.vendor = "GenuineIntel"};
static const struct qins_cpu_features avx_only = {.vendor = "GenuineIntel", .avx = true, .f16c = true};
static const struct qins_cpu_features intel_avx2 = {.vendor = "GenuineIntel", .avx = true, .avx2 = true, .fma = true, .f16c = true};
static const struct qins_cpu_features amd_avx2 = {.vendor = "AuthenticAMD", .avx = true, .avx2 = true, .fma = true, .f16c = true};
static const struct qins_cpu_features intel_avx512 = {.vendor = "GenuineIntel", .avx = true, .avx2 = true, .fma = true,
                                                      .f16c = true, .avx512f = true, .avx512bw = true, .avx512vl = true};
static const struct qins_cpu_features amd_avx512_bf16 = {.vendor = "AuthenticAMD", .avx = true, .avx2 = true,
                                                         .fma = true, .f16c = true, .avx512f = true, .avx512bw = true,
                                                         .avx512vl = true, .avx512_bf16 = true};
static const struct qins_cpu_features avx512f_only = {.vendor = "GenuineIntel", .avx = true, .avx2 = true, .fma = true,
                                                      .avx512f = true}; // Knights Landing-like: no BW/VL

Test(blas, wanted_core_table) {
    const struct {
        const struct qins_cpu_features *f;
        const char *loaded, *want; // NULL: leave the loaded core alone
    } t[] = {
        {&intel_avx2, "Prescott", "Haswell"},       {&intel_avx2, "Core2", "Haswell"},
        {&intel_avx2, "Penryn", "Haswell"},         {&intel_avx2, "Nehalem", "Haswell"},
        {&intel_avx2, "Atom", "Haswell"},           {&intel_avx2, "generic", "Haswell"},
        {&intel_avx2, "Sandybridge", "Haswell"},    {&amd_avx2, "prescott", "Haswell"},
        {&intel_avx512, "Prescott", "SkylakeX"},    {&intel_avx512, "Nehalem", "SkylakeX"},
        {&amd_avx512_bf16, "Prescott", "Cooperlake"}, {&avx512f_only, "Prescott", "Haswell"},
        {&intel_avx2, "Haswell", NULL},             {&amd_avx2, "Zen", NULL},
        {&intel_avx512, "SkylakeX", NULL},          {&intel_avx512, "Haswell", NULL},
        {&amd_avx512_bf16, "Cooperlake", NULL},     {&amd_avx512_bf16, "Zen", NULL},
        {&sse_only, "Prescott", NULL},              {&avx_only, "Prescott", NULL},
        {&avx_only, "Sandybridge", NULL},           {&intel_avx2, NULL, NULL},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        const char *got = qins_blas_wanted_core(t[i].f, t[i].loaded);
        if (!t[i].want) cr_expect_null(got, "row %zu: %s should stay, got %s", i, t[i].loaded, got);
        else cr_expect(got && !strcmp(got, t[i].want), "row %zu: %s -> %s, got %s", i, t[i].loaded, t[i].want,
                       got ? got : "(none)");
    }
}

Test(blas, info_matches_openblas) {
    struct qins_blas_info b;
    cr_assert_eq(qins_blas_info_get(&b), 0);
    cr_expect_str_eq(b.name, "OpenBLAS");
    cr_expect_str_eq(b.core, openblas_get_corename());
    cr_expect(b.version[0] && strstr(openblas_get_config(), b.version), "version %s in '%s'", b.version,
              openblas_get_config());
    cr_expect_eq(b.threads, openblas_get_num_threads());
}

// ---- `qins info --json` under a user core: the core it reports, and who chose it

static cJSON *info_json(const char *env, char *out, size_t cap) {
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "env -u OPENBLAS_CORETYPE -u QINS_BLAS_CORE -u QINS_BLAS_REEXEC -u QINS_BLAS_FROM %s "
             "'%s/qins' info --json 2>/dev/null", env, QINS_TEST_BIN_DIR);
    cr_assert_eq(test_run_cmd(cmd, out, cap), 0, "%s:\n%s", cmd, out);
    cJSON *j = cJSON_Parse(out);
    cr_assert(j, "not JSON: %s", out);
    return j;
}

static const char *blas_str(cJSON *j, const char *key) {
    cJSON *v = cJSON_GetObjectItem(cJSON_GetObjectItem(j, "blas"), key);
    cr_assert(cJSON_IsString(v), "blas.%s missing", key);
    return v->valuestring;
}

Test(blas, openblas_coretype_is_respected) {
    char out[4096];
    cJSON *j = info_json("OPENBLAS_CORETYPE=Prescott", out, sizeof out);
    cr_expect_str_eq(blas_str(j, "core"), "Prescott", "%s", out);
    cr_expect_str_eq(blas_str(j, "core_source"), "OPENBLAS_CORETYPE", "%s", out);
    cr_expect_str_eq(blas_str(j, "corrected_from"), "", "no re-exec: %s", out);
    cJSON_Delete(j);
}

Test(blas, qins_blas_core_override) {
    char out[4096];
    cJSON *j = info_json("QINS_BLAS_CORE=Prescott", out, sizeof out);
    cr_expect_str_eq(blas_str(j, "core"), "Prescott", "%s", out);
    if (strcasecmp(openblas_get_corename(), "Prescott")) // this machine loads another core: one re-exec
        cr_expect_str_eq(blas_str(j, "core_source"), "QINS_BLAS_CORE", "%s", out);
    cJSON_Delete(j);
}

Test(blas, unknown_qins_blas_core_is_one_error_line) {
    char out[4096], cmd[2048];
    snprintf(cmd, sizeof cmd, "QINS_BLAS_CORE=NoSuchCore %s/qins info --json 2>&1", QINS_TEST_BIN_DIR);
    cr_assert_neq(test_run_cmd(cmd, out, sizeof out), 0, "an unknown core must not run: %s", out);
    cr_expect_not_null(strstr(out, "QINS_BLAS_CORE=NoSuchCore"), "%s", out);
    int lines = 0;
    for (char *p = strstr(out, "error:"); p; p = strstr(p + 1, "error:")) lines++;
    cr_expect_eq(lines, 1, "one error line: %s", out);
}

Test(blas, default_core_is_not_a_fallback) {
    char out[4096];
    cJSON *j = info_json("", out, sizeof out);
    cr_expect_str_eq(blas_str(j, "wanted_core"), "", "after qins_blas_select the core fits the CPU: %s", out);
    cJSON_Delete(j);
}

// `qins bench` with a core other than OpenBLAS's own choice measures that choice too, in a child
// that loads it (Prescott runs on every x86-64, so the test does on any machine), and prints both.
Test(blas, bench_compares_the_core_in_use_with_openblas_choice, .timeout = 120) {
    if (!strcasecmp(openblas_get_corename(), "Prescott")) return; // OpenBLAS itself chose Prescott: nothing to compare
    char model[1200], cmd[2048], out[16384];
    if (test_model_path("stories260K.gguf", model, sizeof model)) return;
    snprintf(cmd, sizeof cmd,
             "env -u OPENBLAS_CORETYPE -u QINS_BLAS_REEXEC -u QINS_BLAS_FROM QINS_BLAS_CORE=Prescott '%s/qins' bench "
             "--model '%s' --pp 16 --tg 2 --reps 1 --threads 1 2>&1",
             QINS_TEST_BIN_DIR, model);
    cr_assert_eq(test_run_cmd(cmd, out, sizeof out), 0, "%s:\n%s", cmd, out);
    char want[128];
    snprintf(want, sizeof want, "with OpenBLAS's own choice %s ", openblas_get_corename());
    cr_expect(strstr(out, "sgemm with core Prescott ") && strstr(out, want), "no core comparison in:\n%s", out);
    // the child's own output: the core it reports is the one it was given
    snprintf(cmd, sizeof cmd, "env -u QINS_BLAS_CORE -u QINS_BLAS_FROM OPENBLAS_CORETYPE=Prescott QINS_BLAS_REEXEC=1 "
             "'%s/qins' sgemm 32 64 64 1", QINS_TEST_BIN_DIR);
    cr_assert_eq(test_run_cmd(cmd, out, sizeof out), 0, "%s:\n%s", cmd, out);
    char core[64];
    double g = 0;
    cr_assert_eq(sscanf(out, "%63s %lf", core, &g), 2, "%s", out);
    cr_expect_str_eq(core, "Prescott");
    cr_expect_gt(g, 0.0);
}

// ---- run files

Test(blas, run_file_records_the_writers_core) {
    char dir[512], path[1200];
    cr_assert_eq(test_tmpdir(dir, sizeof dir), 0);
    struct qins_run_info info = {.phase = 1, .results_dir = dir, .config_text = "[run]\n", .threads = 1};
    qins_run_t *r;
    cr_assert_eq(qins_run_begin(&r, &info), QINS_OK);
    cr_assert_eq(qins_run_commit(r, path, sizeof path), QINS_OK);
    qins_runfile_t *f;
    cr_assert_eq(qins_runfile_open(&f, path), QINS_OK);
    const struct qins_run_meta *m = qins_runfile_meta(f);
    struct qins_blas_info b;
    qins_blas_info_get(&b);
    cr_expect_str_eq(m->blas_core, openblas_get_corename());
    cr_expect_str_eq(m->blas_name, "OpenBLAS");
    cr_expect_str_eq(m->blas_version, b.version);
    cr_expect_str_eq(m->blas_core_corrected_from, b.corrected_from);
    cr_expect_eq(m->blas_threads, b.threads);
    cr_expect_str_eq(m->cpu_model, b.cpu_model);
    cr_expect_str_eq(m->cpu_features, b.cpu_features);
    qins_runfile_close(f);
}

Test(blas, reproduce_against_notes_a_core_difference) {
    char dir[512], a[1200], b[1200], cmd[3000], out[8192];
    cr_assert_eq(test_tmpdir(dir, sizeof dir), 0);
    struct qins_run_info info = {.phase = 1, .results_dir = dir, .config_text = "[run]\n", .threads = 1};
    qins_run_t *r;
    cr_assert_eq(qins_run_begin(&r, &info), QINS_OK);
    cr_assert_eq(qins_run_metric(r, "qins8/token_match", 0.99, "fraction"), QINS_OK);
    cr_assert_eq(qins_run_commit(r, a, sizeof a), QINS_OK);
    info.config_text = "[run]\ntag = other\n";
    cr_assert_eq(qins_run_begin(&r, &info), QINS_OK);
    cr_assert_eq(qins_run_metric(r, "qins8/token_match", 0.99, "fraction"), QINS_OK);
    cr_assert_eq(qins_run_attr_str(r, "/", "blas_core", "Prescott-test"), QINS_OK);
    cr_assert_eq(qins_run_commit(r, b, sizeof b), QINS_OK);
    snprintf(cmd, sizeof cmd, "'%s/qins' reproduce '%s' --against '%s'", QINS_TEST_BIN_DIR, a, b);
    cr_assert_eq(test_run_cmd(cmd, out, sizeof out), 0, "%s", out);
    char want[128];
    snprintf(want, sizeof want, "note: BLAS core differs: old %s, new Prescott-test", openblas_get_corename());
    cr_expect(strstr(out, want), "expected '%s' in:\n%s", want, out);
    snprintf(cmd, sizeof cmd, "'%s/qins' reproduce '%s' --against '%s'", QINS_TEST_BIN_DIR, a, a);
    cr_assert_eq(test_run_cmd(cmd, out, sizeof out), 0, "%s", out);
    cr_expect(!strstr(out, "BLAS core differs"), "same file, no note:\n%s", out);
}
