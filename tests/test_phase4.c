// tests/test_phase4.c — qins-phase4 end to end on a small config: the gate-4 metrics are in the run
// file and mean what they say (fused variants give the separate ops' greedy ids; fused kernels stay
// within the FP64 reference's tolerance), the profile selection and its plots and tables are there,
// the gate judges a forced run in preview and fails the CUDA criterion without a CUDA run,
// --import accepts only phase-4 runs, --cuda-only without a GPU writes nothing, and bad configs are
// one error line with no run file.
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gate.h"
#include "helpers/run_checks.h"
#include "helpers/run_cmd.h"
#include "helpers/shared_paths.h"
#include "helpers/synth_runs.h"
#include "runfile.h"

// Runs qins-phase4 on stories260K only, at context 64, with one repetition of everything, plus
// `extra`, into results dir res; out receives stdout and stderr. Returns the exit status.
static int run_phase4(const char *res, const char *extra, char *out, size_t cap) {
    char model[1200], text[1200], cmd[8192];
    cr_assert_eq(test_model_path("stories260K.gguf", model, sizeof model), 0, "stories260K.gguf not found");
    cr_assert_eq(test_shared_path("data/tinystories_train_sample_2MiB.txt", text, sizeof text), 0,
                 "the TinyStories text was not found");
    snprintf(cmd, sizeof cmd,
             "QINS_PROGRESS=0 %s/qins-phase4 --force --results %s --set run.model=%s --set run.eval_text=%s "
             "--set run.eval_slice=stories:0-40 --set run.ctx=64 --set run.eval_chunks=4 --set run.tokens=16 "
             "--set phase4.models=model --set phase4.contexts=64 --set phase4.profile_ctx=64 --set phase4.steps=8 "
             "--set phase4.reps=1 --set phase4.kernel_codecs=qins8,int4,nf6 --set phase4.phi_kernel_codecs= "
             "--set phase4.gemm_codecs=qins8 --set phase4.gemm_batch=16 --set phase4.kernel_reps=1 "
             "--set phase4.attn_specs=qins8 --set phase4.attn_reps=1 --set phase4.kv_variants=qins8 "
             "--set phase4.weight_variants=int8 --set phase4.latency_tokens=32 --set phase4.latency_reps=3 %s",
             QINS_TEST_BIN_DIR, res, model, text, extra);
    return test_run_cmd(cmd, out, cap);
}


static double variant_metric(qins_runfile_t *f, const char *variant, const char *name) {
    char full[256];
    snprintf(full, sizeof full, "%s/%s", variant, name);
    return test_metric(f, full);
}

Test(phase4, small_run_records_gate4_metrics, .timeout = 900) {
    char res[1024], out[1 << 17], cmd[8192];
    cr_assert_eq(test_tmpdir(res, sizeof res), 0);
    cr_assert_eq(run_phase4(res, "", out, sizeof out), 0, "qins-phase4 failed:\n%s", out);
    struct qins_run_meta *runs;
    size_t n, n_bad;
    cr_assert_eq(qins_results_list(res, 4, &runs, &n, &n_bad), 0);
    cr_assert_eq(n, 1, "one complete phase-4 run");
    qins_runfile_t *f;
    cr_assert_eq(qins_runfile_open(&f, runs[0].path), 0);
    // the CPU criteria of gate 4 are there and finite (the targets at Phi shapes and context 2048
    // are not in this config; the CUDA ones come from a CUDA run)
    static const char *const gate_cpu[] = {"fused/critical_path_speedup", "fused/rel_error", "fused/runs_cpu",
                                           "e2e/speedup_geomean"};
    for (size_t i = 0; i < sizeof gate_cpu / sizeof *gate_cpu; i++)
        cr_assert(isfinite(test_metric(f, gate_cpu[i])), "%s", gate_cpu[i]);
    cr_assert_eq(test_metric(f, "fused/runs_cpu"), 1, "every fused kernel ran on the CPU");
    cr_assert_lt(test_metric(f, "fused/rel_error"), 1e-3, "fused kernels within 0.1 %% of the FP64 reference");
    cr_assert_gt(test_metric(f, "fused/critical_path_speedup"), 0);
    cr_assert_gt(test_metric(f, "read_gbps"), 0);
    // the profile's selection covers what it was asked to and is written into the run
    cr_assert_geq(test_metric(f, "model/selection_coverage"), 0.8);
    cr_assert(isfinite(test_metric(f, "model/critical_path_speedup")));
    cr_assert_gt(test_metric(f, "e2e_model_ctx64/fused_tok_s"), 0);
    cr_assert_gt(test_metric(f, "e2e_model_ctx64/separate_tok_s"), 0);
    // fused reads of the same bytes: the same greedy ids on the reference prompts as the separate ops
    cr_assert_eq(variant_metric(f, "qins8_fused", "ids_equal_separate"), 1);
    cr_assert_eq(variant_metric(f, "w_int8_fused", "ids_equal_separate"), 1);
    cr_assert(isfinite(variant_metric(f, "qins8_fused", "overhead_pct")));
    cr_assert(isfinite(variant_metric(f, "qins8_fused", "overhead_vs_fp16_pct")));
    static const char *const paths[] = {"/plots/phase4_profile", "/plots/phase4_e2e_decode", "/summary/kernels",
                                        "/summary/attention", "/summary/e2e", "/summary/table"};
    for (size_t i = 0; i < sizeof paths / sizeof *paths; i++)
        cr_assert(qins_runfile_exists(f, paths[i]), "%s missing", paths[i]);
    qins_runfile_close(f);
    // a forced run is judged in preview only; no CUDA run in these results: the cuda criterion fails

    snprintf(cmd, sizeof cmd, "%s/qins-gate 4 --results %s --preview-forced --run %s", QINS_TEST_BIN_DIR, res,
             runs[0].path);
    int rc = test_run_cmd(cmd, out, sizeof out);
    cr_assert_neq(rc, 0, "gate 4 cannot pass without a CUDA run:\n%s", out);
    cr_assert_not_null(strstr(out, "no --run file is a phase-4 run with tag cuda"), "%s", out);
    cr_assert_not_null(strstr(out, "FAIL"), "%s", out);
    // with a CUDA run beside it (tools/device-check.sh's, forced like every run of this chain) the
    // cuda criterion reads that run's own figure: a run that failed its check still fails
    char cuda_ok[2048], cuda_bad[2048];
    const struct synth_metric ok[] = {{"fused/runs_cuda", 1, "bool"}, {"cuda/gemv_roofline_fraction", 0.8, "fraction"}};
    const struct synth_metric bad[] = {{"fused/runs_cuda", 0, "bool"}, {"cuda/gemv_roofline_fraction", 0.8, "fraction"}};
    char cres[1024];
    cr_assert_eq(test_tmpdir(cres, sizeof cres), 0);
    cr_assert_eq(synth_run(cres, 4, "cuda", true, ok, 2, cuda_ok, sizeof cuda_ok), 0);
    cr_assert_eq(synth_run(cres, 4, "cuda", true, bad, 2, cuda_bad, sizeof cuda_bad), 0);
    for (int k = 0; k < 2; k++) {
        snprintf(cmd, sizeof cmd, "%s/qins-gate 4 --results %s --preview-forced --run %s --run %s", QINS_TEST_BIN_DIR,
                 res, runs[0].path, k ? cuda_bad : cuda_ok);
        test_run_cmd(cmd, out, sizeof out);
        const char *row = strstr(out, "fused/runs_cuda");
        cr_assert_not_null(row, "%s", out);
        const char *eol = strchr(row, '\n');
        cr_assert_not_null(eol);
        const char *verdict = k ? "FAIL" : "PASS";
        const char *hit = strstr(row, verdict);
        cr_assert(hit && hit < eol, "the cuda row should say %s:\n%s", verdict, out);
    }
    // --import: the same run again is refused (it is already there); a phase-3 file is not phase 4
    snprintf(cmd, sizeof cmd, "%s/qins-phase4 --results %s --import %s", QINS_TEST_BIN_DIR, res, runs[0].path);
    cr_assert_neq(test_run_cmd(cmd, out, sizeof out), 0, "importing a run onto itself:\n%s", out);
    cr_assert_not_null(strstr(out, "already exists"), "%s", out);
    char other[1024], p3[2048];
    cr_assert_eq(test_tmpdir(other, sizeof other), 0);
    cr_assert_eq(synth_run(other, 3, "cpu", false, &(struct synth_metric){"entropy_samples", 1, "count"}, 1, p3,
                           sizeof p3), 0);
    snprintf(cmd, sizeof cmd, "%s/qins-phase4 --results %s --import %s", QINS_TEST_BIN_DIR, res, p3);
    cr_assert_neq(test_run_cmd(cmd, out, sizeof out), 0, "a phase-3 run imported:\n%s", out);
    cr_assert_not_null(strstr(out, "not a phase-4 run"), "%s", out);
    cr_assert_eq(test_count_phase_files(res, 4, ".h5"), 1, "nothing was imported");
    // a phase-4 run from another results folder joins this one
    char res2[1024];
    cr_assert_eq(test_tmpdir(res2, sizeof res2), 0);
    snprintf(cmd, sizeof cmd, "%s/qins-phase4 --results %s --import %s", QINS_TEST_BIN_DIR, res2, runs[0].path);
    cr_assert_eq(test_run_cmd(cmd, out, sizeof out), 0, "import failed:\n%s", out);
    cr_assert_eq(qins_results_list(res2, 4, &runs, &n, &n_bad), 0);
    cr_assert_eq(n, 1, "the imported run is listed as a complete phase-4 run");
    free(runs);
}

// Without a GPU (this machine) --cuda-only measures nothing and leaves no file; with one it is
// tools/device-check.sh's job, checked there.
Test(phase4, cuda_only_without_a_gpu_writes_nothing) {
    char res[1024], out[8192], cmd[4096];
    cr_assert_eq(test_tmpdir(res, sizeof res), 0);
    snprintf(cmd, sizeof cmd, "CUDA_VISIBLE_DEVICES= %s/qins-phase4 --cuda-only --out %s", QINS_TEST_BIN_DIR, res);
    cr_assert_neq(test_run_cmd(cmd, out, sizeof out), 0, "--cuda-only with no GPU visible:\n%s", out);
    cr_assert_not_null(strstr(out, "no CUDA GPU"), "%s", out);
    cr_assert_eq(test_count_phase_files(res, 4, ".h5"), 0);
}

static void expect_config_error(const char *extra, const char *needle) {
    char res[1024], out[65536];
    cr_assert_eq(test_tmpdir(res, sizeof res), 0);
    test_expect_config_error(run_phase4(res, extra, out, sizeof out), out, res, 4, extra, needle);
}

Test(phase4, unknown_key) { expect_config_error("--set phase4.colour=red", "colour"); }
Test(phase4, profile_ctx_must_be_a_context) { expect_config_error("--set phase4.profile_ctx=128", "profile_ctx"); }
Test(phase4, unknown_codec) { expect_config_error("--set phase4.kernel_codecs=qins8,qins9", "qins9"); }
Test(phase4, bad_granularity) { expect_config_error("--set phase4.granularity=group7x", "group7x"); }
Test(phase4, unknown_model) { expect_config_error("--set phase4.models=model,llama70b", "llama70b"); }
