// tests/test_phase3.c — qins-phase3 end to end on a small config: every gate-3 metric is in the run
// file, the policy JSON exists beside it and reads back, the figures mean what they say (a dense
// model reads every layer weight once per token; Huffman never beats the entropy), the gate
// judges a forced run in preview, and bad configs are one error line with no run file or policy.
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
#include "policy.h"
#include "runfile.h"

// Runs qins-phase3 on 40 windows of 64 tokens plus `extra` into results dir res; out receives
// stdout and stderr. Returns the exit status.
static int run_phase3(const char *res, const char *extra, char *out, size_t cap) {
    char model[1200], text[1200], cmd[8192];
    cr_assert_eq(test_model_path("stories260K.gguf", model, sizeof model), 0, "stories260K.gguf not found");
    cr_assert_eq(test_shared_path("data/tinystories_train_sample_2MiB.txt", text, sizeof text), 0,
                 "the TinyStories text was not found");
    snprintf(cmd, sizeof cmd,
             "QINS_PROGRESS=0 %s/qins-phase3 --force --results %s --set run.model=%s --set run.eval_text=%s "
             "--set run.eval_slice=stories:0-40 --set run.calib_slice=stories:40-80 --set phase3.vpath_calib_tokens=256 --set run.ctx=64 --set phase3.samples=40 "
             "--set phase3.weight_codecs=qins8,int8,nf6 --set phase3.alpha_sweep=2 --set phase3.decode_reps=1 "
             "--set phase3.latency_tokens=8 --set phase3.latency_reps=3 %s",
             QINS_TEST_BIN_DIR, res, model, text, extra);
    return test_run_cmd(cmd, out, cap);
}


Test(phase3, small_run_records_gate3_metrics_and_the_policy, .timeout = 600) {
    char res[1024], out[65536];
    cr_assert_eq(test_tmpdir(res, sizeof res), 0);
    cr_assert_eq(run_phase3(res, "", out, sizeof out), 0, "qins-phase3 failed:\n%s", out);
    struct qins_run_meta *runs;
    size_t n, n_bad;
    cr_assert_eq(qins_results_list(res, 3, &runs, &n, &n_bad), 0);
    cr_assert_eq(n, 1, "one complete phase-3 run");
    qins_runfile_t *f;
    cr_assert_eq(qins_runfile_open(&f, runs[0].path), 0);
    // every gate-3 criterion's metric is there and finite
    char gpath[1200];
    struct qins_gate_defs defs = {0};
    cr_assert_eq(qins_gate_defs_find(gpath, sizeof gpath), 0);
    cr_assert_eq(qins_gate_defs_load(gpath, &defs), 0);
    int checked = 0;
    for (size_t i = 0; i < defs.n; i++)
        if (defs.c[i].gate == 3) {
            cr_assert(isfinite(test_metric(f, defs.c[i].metric)), "%s", defs.c[i].metric);
            checked++;
        }
    cr_assert_geq(checked, 3);
    qins_gate_defs_free(&defs);
    cr_assert_eq(test_metric(f, "entropy_samples"), 40);
    cr_assert_eq(test_metric(f, "entropy_tokens"), 40 * 64);
    cr_assert_eq(test_metric(f, "policy_defined"), 1);
    // a dense model: every layer weight is read once per token, so only token_embd rows can be cold
    cr_assert_eq(test_metric(f, "access/hottest_reads_per_token"), 1);
    const double cold = test_metric(f, "access/cold_weight_fraction");
    cr_assert(cold >= 0 && cold < 0.2, "cold fraction %g is at most the embedding's share of the weights", cold);
    cr_assert(test_metric(f, "access/embd_rows_touched") <= 512);
    // Huffman on 8-bit codes: never below the entropy, and within 1 bit of it plus its tables
    const double h = test_metric(f, "qins8/entropy"), hb = test_metric(f, "qins8/huffman_bits");
    cr_assert(hb >= h, "Huffman %g bits/value below the entropy %g", hb, h);
    cr_assert(test_metric(f, "qins8/bitpack_bits") > 8, "8-bit codes plus FP16 row scales");
    cr_assert(test_metric(f, "bf16/exp_entropy") > 1 && test_metric(f, "bf16/exp_entropy") < 8);
    cr_assert(test_metric(f, "kv/k_entropy") > 0 && test_metric(f, "kv/k_entropy") <= 8);
    cr_assert(test_metric(f, "act_qins8/entropy") > 0 && test_metric(f, "act_int8/entropy") > 0);
    cr_assert(test_metric(f, "qins8/decode_huffman_gbps") > 0);
    cr_assert(isfinite(test_metric(f, "qins8_a2/entropy")), "the alpha sweep point");
    cr_assert_eq(test_metric(f, "vpath/nonfinite_count"), 0);
    cr_assert(test_metric(f, "vpath_qins8/entropy") > 0 && test_metric(f, "vpath_qins8/entropy") <= 8, "transported W' codes");
    static const char *const paths[] = {"/plots/phase3_weight_entropy", "/plots/phase3_bits_vs_decode",
                                        "/plots/phase3_embedding_rank_frequency", "/plots/phase3_kv_entropy",
                                        "/plots/phase3_activation_entropy", "/summary/policy", "/summary/table"};
    for (size_t i = 0; i < sizeof paths / sizeof *paths; i++)
        cr_assert(qins_runfile_exists(f, paths[i]), "%s missing", paths[i]);
    // the policy JSON beside the run reads back with as many tensors as the run says
    char json[1400];
    cr_assert_eq(qins_policy_path(res, runs[0].run_id, json, sizeof json), 0);
    struct qins_policy pol = {0};
    cr_assert_eq(qins_policy_read_json(json, &pol), 0, "%s does not read back", json);
    cr_assert_eq((double)pol.n, test_metric(f, "policy/tensors"));
    cr_assert_str_eq(pol.run_id, runs[0].run_id);
    qins_policy_free(&pol);
    qins_runfile_close(f);
    // a forced run is judged in preview only: 40 samples fail the >= 1000 criterion
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "%s/qins-gate 3 --results %s --preview-forced --run %s", QINS_TEST_BIN_DIR, res,
             runs[0].path);
    const int rc = test_run_cmd(cmd, out, sizeof out);
    cr_assert_neq(rc, 0, "40 samples cannot pass gate 3:\n%s", out);
    cr_assert_not_null(strstr(out, "samples"), "%s", out);
    cr_assert_not_null(strstr(out, "FAIL"), "%s", out);
    free(runs);
}

static void expect_config_error(const char *extra, const char *needle) {
    char res[1024], out[65536];
    cr_assert_eq(test_tmpdir(res, sizeof res), 0);
    test_expect_config_error(run_phase3(res, extra, out, sizeof out), out, res, 3, extra, needle);
    cr_assert_eq(test_count_phase_files(res, 3, ".json"), 0, "%s: no policy file is left behind", extra);
}

Test(phase3, more_samples_than_the_slice_holds) { expect_config_error("--set phase3.samples=100000", "samples"); }
Test(phase3, unknown_key) { expect_config_error("--set phase3.colour=red", "colour"); }
Test(phase3, policy_codec_must_be_surveyed) { expect_config_error("--set phase3.policy_codec=int6", "policy_codec"); }
Test(phase3, kv_must_be_paged) { expect_config_error("--set phase3.kv=fp16", "paged"); }
Test(phase3, float_weight_codec_is_refused) { expect_config_error("--set phase3.weight_codecs=qins8,fp16", "fp16"); }
Test(phase3, bad_budget) { expect_config_error("--set policy.budget=2", "budget"); }
