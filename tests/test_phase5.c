// tests/test_phase5.c — qins-phase5 end to end on a tiny config of stories260K: the Gate 5 metrics
// are in the run file, each part's best is the variant the stated rule names, the hybrid search
// run to all-FP32 reproduces the baseline bit for bit, the SiLU alternative is recorded and marked,
// the plots and the stage table are there, qins-gate 5 judges the forced run in preview only and
// refuses it otherwise, and bad configs are one error line with no run file left behind.
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "helpers/run_checks.h"
#include "helpers/run_cmd.h"
#include "helpers/shared_paths.h"
#include "helpers/synth_runs.h"
#include "runfile.h"

// qins-phase5 on stories260K with a tiny sweep plus extra, into res. Returns the exit status.
static int run_phase5(const char *res, const char *extra, char *out, size_t cap) {
    return test_run_phase(5, res,
                          "--set run.prompts=derive:3 --set run.tokens=12 --set run.eval_chunks=2 --set run.ctx=128 "
                          "--set run.threads=1 --set phase5.transports=none,lstsq --set phase5.alphas=1 "
                          "--set phase5.encodings=float --set phase5.calib_tokens=2048 --set phase5.heldout_tokens=256 "
                          "--set phase5.latency_tokens=16 --set phase5.latency_reps=3 --set phase5.scatter_points=200",
                          extra, out, cap);
}

static double vm(qins_runfile_t *f, const char *variant, const char *what) {
    char name[256];
    snprintf(name, sizeof name, "%s/%s", variant, what);
    return test_metric(f, name);
}

Test(phase5, tiny_run_records_gate5_metrics_and_the_hybrid_ends_at_the_baseline, .timeout = 900) {
    char res[1024], cmd[4096];
    static char out[1 << 18];
    cr_assert_eq(test_tmpdir(res, sizeof res), 0);
    // hybrid_target 1 is never passed: the search runs until every layer is FP32
    cr_assert_eq(run_phase5(res, "--set phase5.hybrid_target=1", out, sizeof out), 0, "qins-phase5 failed:\n%s", out);
    struct qins_run_meta *runs;
    size_t n;
    cr_assert_eq(qins_results_list(res, 5, &runs, &n, NULL), QINS_OK);
    cr_assert_eq(n, 1, "one complete phase-5 run");
    cr_assert(runs[0].forced, "gate 4 has not passed here: the run is forced and says so");
    qins_runfile_t *f;
    cr_assert_eq(qins_runfile_open(&f, runs[0].path), QINS_OK);
    static const char *const need[] = {
        "best_mlp_all/token_match",   "best_mlp_all/nonfinite_count", "attn_mlp/token_match",
        "attn_mlp/nonfinite_count",   "best_mlp_layer0/token_match",  "best_mlp_layer0/ppl_delta_pct",
        "best_mlp_all/ppl_delta_pct", "attn_mlp/phi35_decode_ops_pattern_b", "attn_mlp/qins_flops_fraction",
        "patternA_mlp_all/token_match", "patternA_attn_mlp/token_match", "best_down_layer0/rel_error_ffn_down",
        "best_gate_up_all/rel_error_ffn_gate", "best_mlp_all/resid_rel_error_last", "attn_mlp/decode_ops_pattern_a",
        "best_mlp_all/latency_us_per_token", "best_vpath_all/token_match", "hybrid/evaluations"};
    for (size_t i = 0; i < sizeof need / sizeof *need; i++) (void)test_metric(f, need[i]);
    // decode ops from the counters: Pattern A is one per slot call (7 per layer of 5), Pattern B too
    cr_assert_eq(test_metric(f, "attn_mlp/decode_ops_pattern_a"), 35);
    cr_assert_eq(test_metric(f, "attn_mlp/decode_ops_pattern_b"), 35);
    cr_assert_eq(test_metric(f, "attn_mlp/phi35_decode_ops_pattern_a"), 224);
    // the best of each part by the rule, recomputed from the recorded figures
    static const char *const parts[] = {"down_layer0", "down_all", "gate_up_layer0", "gate_up_all", "mlp_layer0", "mlp_all"};
    for (size_t p = 0; p < sizeof parts / sizeof *parts; p++) {
        const char *want = NULL, *kinds[2] = {"none", "lstsq"};
        double wm = -1, wk = INFINITY;
        char var[96], bn[64], *best = NULL;
        for (int k = 0; k < 2; k++) {
            snprintf(var, sizeof var, "%s_%s_a1_float", parts[p], kinds[k]);
            if (vm(f, var, "nonfinite_count") != 0) continue;
            const double tm = vm(f, var, "token_match"), kl = vm(f, var, "kld_mean");
            if (tm > wm || (tm == wm && kl < wk)) want = kinds[k], wm = tm, wk = kl;
        }
        snprintf(bn, sizeof bn, "best_%s", parts[p]);
        cr_assert_eq(qins_runfile_attr_str(f, "/phase5", bn, &best), QINS_OK, "%s named", bn);
        if (want) {
            snprintf(var, sizeof var, "%s_%s_a1_float", parts[p], want);
            cr_assert_str_eq(best, var, "%s by the rule", bn);
            cr_assert_eq(vm(f, bn, "token_match"), wm, "%s repeats its variant's figures", bn);
        }
        free(best);
    }
    // the hybrid's last configuration has every layer FP32: the baseline, bit for bit
    cr_assert_eq(test_metric(f, "hybrid/layers_qins_final"), 0);
    cr_assert_eq(test_metric(f, "hybrid/reached_target"), 0);
    cr_assert_eq(test_metric(f, "hybrid/evaluations"), 1 + 5 + 4 + 3 + 2 + 1, "the greedy search's evaluations");
    cr_assert_eq(vm(f, "hybrid_m0", "token_match"), 1.0);
    cr_assert_eq(vm(f, "hybrid_m0", "top1_agreement"), 1.0);
    cr_assert_eq(vm(f, "hybrid_m0", "kld_mean"), 0.0);
    cr_assert_eq(vm(f, "hybrid_m0", "ppl"), test_metric(f, "baseline/ppl"), "the same perplexity to the last bit");
    // the other SiLU domain on the best mlp_all variant, marked
    char *b = NULL, alt[160];
    cr_assert_eq(qins_runfile_attr_str(f, "/phase5", "best_mlp_all", &b), QINS_OK);
    snprintf(alt, sizeof alt, "%s+silu_qins", b);
    cr_assert_eq(vm(f, alt, "silu_qins"), 1.0);
    cr_assert_eq(vm(f, b, "silu_qins"), 0.0);
    free(b);
    static const char *const paths[] = {"/plots/phase5_token_match_stages", "/plots/phase5_rel_error_stages",
                                        "/plots/phase5_resid_layers", "/plots/phase5_hybrid",
                                        "/plots/phase5_scatter_down_layer0", "/summary/stages", "/summary/hybrid",
                                        "/phase5/hybrid/token_match", "/phase5/best_mlp_all/resid_error_per_layer"};
    for (size_t i = 0; i < sizeof paths / sizeof *paths; i++)
        cr_assert(qins_runfile_exists(f, paths[i]), "%s missing", paths[i]);
    qins_runfile_close(f);
    // qins-gate 5 judges the forced run in preview only (every metric found), and refuses it otherwise
    snprintf(cmd, sizeof cmd, "%s/qins-gate 5 --results %s --preview-forced --run %s", QINS_TEST_BIN_DIR, res, runs[0].path);
    int rc = test_run_cmd(cmd, out, sizeof out);
    cr_assert_not_null(strstr(out, "PREVIEW"), "%s", out);
    cr_assert_null(strstr(out, "missing"), "every Gate 5 metric is in the run:\n%s", out);
    cr_assert_neq(rc, 0, "12 greedy tokens through the failed MLP transports are not GO:\n%s", out);
    cr_assert_not_null(strstr(out, "NO-GO"), "%s", out);
    snprintf(cmd, sizeof cmd, "%s/qins-gate 5 --results %s --no-record --run %s", QINS_TEST_BIN_DIR, res, runs[0].path);
    cr_assert_neq(test_run_cmd(cmd, out, sizeof out), 0, "%s", out);
    cr_assert_not_null(strstr(out, "forced"), "%s", out);
    free(runs);
}

// Each bad value: exactly one error line naming it, a non-zero exit and no run file left behind.
Test(phase5, bad_config_values_are_one_line_errors, .timeout = 600) {
    static const char *const bad[][2] = {
        {"--set phase5.colour=red", "colour"},
        {"--set phase5.parts=down,up_proj", "parts"},
        {"--set phase5.parts=down,attn_mlp", "attn_mlp"}, // attn_mlp needs the all-layers MLP
        {"--set phase5.silu_domain=taylor", "silu_domain"},
        {"--set phase5.hybrid_target=2", "hybrid_target"},
        {"--set phase5.encodings=float,k13", "encoding"},
        {"--set run.calib_slice=stories:1000-1003", "calib_slice"},
    };
    static char out[1 << 16];
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        char res[1024];
        cr_assert_eq(test_tmpdir(res, sizeof res), 0);
        test_expect_config_error(run_phase5(res, bad[i][0], out, sizeof out), out, res, 5, bad[i][0], bad[i][1]);
    }
}
