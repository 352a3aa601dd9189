// tests/test_phase2.c — phase 2 end to end: NaN/Inf logits neither crash the evaluation nor go
// uncounted; qins-phase2 on a tiny config writes the Gate 2 metrics, picks the best variant by
// the stated rule, and qins-gate 2 reads the (non-forced) run and gives a verdict; forced runs
// are refused by the gate; bad [phase2] values are one-line errors.
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "eval.h"
#include "gate.h"
#include "helpers/run_checks.h"
#include "helpers/run_cmd.h"
#include "helpers/shared_paths.h"
#include "helpers/synth_runs.h"
#include "kv.h"
#include "model.h"
#include "runfile.h"

// ---- NaN / Inf in the logits

// The output matrix as a slot that writes NaN into the first logit of every row and +Inf into
// another of every third row: what a transported model that blew up hands to argmax and
// log-softmax. A NaN in slot 0 used to pin argmax to id 0.
static int poisoned_output(struct qins_linear *lin, const float *x, int n_tok, float *y) {
    QINS_TRY(qins_linear_stored(lin, x, n_tok, y));
    for (int t = 0; t < n_tok; t++) {
        float *r = y + (size_t)t * lin->n_out;
        r[0] = NAN;
        if (t % 3 == 0) r[7] = INFINITY;
    }
    return 0;
}

Test(phase2, nan_and_inf_logits_are_counted_not_fatal) {
    char path[1200];
    if (test_model_path("stories260K.gguf", path, sizeof path)) return;
    struct qins_model *m;
    cr_assert_eq(qins_model_load(path, &m), 0);
    const int ctx = 32, V = m->hp.n_vocab;
    struct qins_kv_store *kv;
    struct qins_state *s;
    cr_assert_eq(qins_kv_store_fp32_init(m->hp.n_layer, ctx, m->hp.n_head_kv * m->hp.head_dim, &kv), 0);
    cr_assert_eq(qins_state_init(m, ctx, ctx, kv, &s), 0);
    int32_t toks[96];
    for (int i = 0; i < 96; i++) toks[i] = 1 + (i * 37) % (V - 1);
    struct qins_ppl_opts o = {ctx, 0, 1, true, NULL, NULL};
    struct qins_ppl_result base, bad;
    cr_assert_eq(qins_perplexity(m, s, toks, 96, &o, &base), 0);
    cr_assert_eq(base.n_nonfinite, 0);
    m->output.impl = poisoned_output;
    cr_assert_eq(qins_perplexity(m, s, toks, 96, &o, &bad), 0, "NaN/Inf logits are data, not an error");
    cr_assert_eq(bad.n_nonfinite, bad.tokens_scored, "every scored position held NaN/Inf: all counted");
    int64_t at_inf = 0;
    for (int64_t k = 0; k < bad.tokens_scored; k++) {
        cr_assert(bad.argmax[k] > 0 && bad.argmax[k] < V, "argmax skips the NaN in slot 0: %d", bad.argmax[k]);
        at_inf += bad.argmax[k] == 7;
        cr_assert(isnan(bad.token_nll[k]) || isinf(bad.token_nll[k]), "log-softmax of NaN/Inf is not a number");
    }
    cr_assert_gt(at_inf, 0, "+Inf is the maximum where it occurs");
    struct qins_ppl_compare cmp;
    cr_assert_eq(qins_ppl_compare(&base, &bad, &cmp), 0, "KLD with NaN log-probs sorts and returns");
    cr_assert(isnan(cmp.kld_max), "the NaN divergences sort last: kld_max is NaN");
    int32_t gen[20];
    int n = 0;
    cr_assert_eq(qins_generate_greedy(m, s, toks, 4, 20, -1, gen, NULL, &n), 0);
    cr_assert_eq(n, 20, "generation runs through NaN logits");
    for (int i = 0; i < n; i++) cr_assert(gen[i] > 0 && gen[i] < V, "generated id %d", gen[i]);
    qins_ppl_result_free(&base);
    qins_ppl_result_free(&bad);
    m->output.impl = NULL;
    qins_state_free(s);
    qins_kv_free(kv);
    qins_model_free(m);
}

// ---- the binary


static const char TINY[] = "[run]\nprompts = derive:3\ntokens = 12\neval_chunks = 2\nctx = 128\n"
                           "calib_slice = stories:1000-1200\ntag = tiny\n"
                           "[phase2]\ntransports = none,lstsq\nalphas = 1\nencodings = float\n"
                           "calib_tokens = 2048\nheldout_tokens = 256\nlatency_tokens = 16\nlatency_reps = 3\n"
                           "scatter_points = 200\n";

static void write_file(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    cr_assert(f, "cannot write %s", path);
    fputs(text, f);
    fclose(f);
}

// A recorded gate-1 GO in dir (from a synthetic phase-1 run and a one-line gates file): the
// phase-2 run is then an ordinary, non-forced run that gate 2 may read.
static void record_gate1_go(const char *dir) {
    char gpath[700];
    snprintf(gpath, sizeof gpath, "%s/gate1.txt", dir);
    write_file(gpath, "1 | ok | * | synthetic/ok | == | 1 | - | synthetic gate 1\n");
    struct synth_metric ok[] = {{"synthetic/ok", 1, "count"}};
    cr_assert_eq(synth_run(dir, 1, "", false, ok, 1, NULL, 0), QINS_OK);
    struct qins_gate_defs d;
    cr_assert_eq(qins_gate_defs_load(gpath, &d), QINS_OK);
    struct qins_gate_result r;
    cr_assert_eq(qins_gate_evaluate(&d, 1, dir, NULL, 0, &r), QINS_OK);
    cr_assert_eq(r.verdict, QINS_VERDICT_GO);
    cr_assert_eq(qins_gate_record(&r, dir), QINS_OK);
    qins_gate_result_free(&r);
    qins_gate_defs_free(&d);
}


Test(phase2, tiny_run_feeds_gate_2) {
    char dir[512], cfg[700], cmd[3000];
    static char out[1 << 16];
    cr_assert_eq(test_tmpdir(dir, sizeof dir), 0);
    const char *models = getenv("QINS_MODELS");
    cr_assert(models, "QINS_MODELS is not set (CI: ../shared/models)");
    snprintf(cfg, sizeof cfg, "%s/tiny.ini", dir);
    write_file(cfg, TINY);

    // Without gate 1 the phase refuses.
    snprintf(cmd, sizeof cmd, "cd '%s' && '%s/qins-phase2' --config '%s' --results '%s'", dir, QINS_TEST_BIN_DIR, cfg, dir);
    cr_assert_neq(test_run_cmd(cmd, out, sizeof out), 0, "no gate-1 record: refused\n%s", out);
    record_gate1_go(dir);
    cr_assert_eq(test_run_cmd(cmd, out, sizeof out), 0, "qins-phase2 on the tiny config:\n%s", out);
    struct qins_run_meta *runs;
    size_t n;
    cr_assert_eq(qins_results_list(dir, 2, &runs, &n, NULL), QINS_OK);
    cr_assert_eq(n, 1, "one phase-2 run");
    cr_assert(!runs[0].forced);
    qins_runfile_t *f;
    cr_assert_eq(qins_runfile_open(&f, runs[0].path), QINS_OK);
    // the Gate 2 metrics
    const char *need[] = {"best_layer0/token_match",   "best_layer0/nonfinite_count",     "best_layer0/rel_error",
                          "best_full/token_match",     "best_full/nonfinite_count",       "best_full/ppl_delta_pct",
                          "best_full/decode_ops_reduction_pct", "patternA_full/token_match", "patternA_layer0/token_match",
                          "best_full/phi35_decoded_elems_reduction_pct", "best_full/latency_us_per_token"};
    for (size_t i = 0; i < sizeof need / sizeof *need; i++) (void)test_metric(f, need[i]);
    // the best variant is the one the rule names, recomputed here from the recorded figures
    const char *scopes[2] = {"layer0", "full"}, *kinds[2] = {"none", "lstsq"};
    for (int s = 0; s < 2; s++) {
        char *best = NULL, name[128];
        cr_assert_eq(qins_runfile_attr_str(f, "/phase2", s ? "best_full" : "best_layer0", &best), QINS_OK);
        const char *want = NULL;
        double wm = -1, wk = INFINITY;
        for (int k = 0; k < 2; k++) {
            char var[64];
            snprintf(var, sizeof var, "%s_%s_a1_float", scopes[s], kinds[k]);
            snprintf(name, sizeof name, "%s/nonfinite_count", var);
            if (test_metric(f, name) != 0) continue;
            snprintf(name, sizeof name, "%s/token_match", var);
            double tm = test_metric(f, name);
            snprintf(name, sizeof name, "%s/kld_mean", var);
            double kl = test_metric(f, name);
            if (tm > wm || (tm == wm && kl < wk)) want = kinds[k], wm = tm, wk = kl;
        }
        if (want) {
            snprintf(name, sizeof name, "%s_%s_a1_float", scopes[s], want);
            cr_assert_str_eq(best, name, "scope %s: best by the rule", scopes[s]);
            snprintf(name, sizeof name, "best_%s/token_match", scopes[s]);
            cr_assert_eq(test_metric(f, name), wm, "best_%s repeats its variant's figures", scopes[s]);
        }
        free(best);
    }
    cr_assert(qins_runfile_exists(f, "/plots/phase2_scatter_layer0"));
    cr_assert(qins_runfile_exists(f, "/plots/phase2_layer_error"));
    cr_assert(qins_runfile_exists(f, "/plots/phase2_w_hist"));
    qins_runfile_close(f);

    // qins-gate 2 reads the run: every criterion measured, a verdict line, exit 0 only on GO
    snprintf(cmd, sizeof cmd, "'%s/qins-gate' 2 --results '%s'", QINS_TEST_BIN_DIR, dir);
    int rc = test_run_cmd(cmd, out, sizeof out);
    cr_assert(strstr(out, runs[0].run_id), "the gate used the run:\n%s", out);
    cr_assert_null(strstr(out, "missing"), "every Gate 2 metric is in the run:\n%s", out);
    const char *verdict = strstr(out, "verdict: ");
    cr_assert(verdict, "a verdict line:\n%s", out);
    cr_assert_eq(rc, strncmp(verdict, "verdict: GO", 11) ? 1 : 0, "exit status follows the verdict:\n%s", out);
    cr_assert_neq(rc, 0, "12 greedy tokens through a failed transport: not GO\n%s", out);

    // a forced run is never eligible: the gate refuses it by name
    snprintf(cmd, sizeof cmd, "cd '%s' && '%s/qins-phase2' --config '%s' --results '%s' --force --set run.note=forced",
             dir, QINS_TEST_BIN_DIR, cfg, dir);
    cr_assert_eq(test_run_cmd(cmd, out, sizeof out), 0, "%s", out);
    free(runs);
    cr_assert_eq(qins_results_list(dir, 2, &runs, &n, NULL), QINS_OK);
    cr_assert_eq(n, 2);
    cr_assert(runs[0].forced, "the newest run is the forced one");
    snprintf(cmd, sizeof cmd, "'%s/qins-gate' 2 --results '%s' --no-record --run '%s'", QINS_TEST_BIN_DIR, dir,
             runs[0].path);
    cr_assert_eq(test_run_cmd(cmd, out, sizeof out), 2, "%s", out);
    cr_assert(strstr(out, "forced"), "%s", out);
    free(runs);
}

Test(phase2, bad_config_values_are_one_line_errors) {
    char dir[512], cmd[3000];
    static char out[1 << 14];
    cr_assert_eq(test_tmpdir(dir, sizeof dir), 0);
    const char *bad[][2] = {
        {"phase2.alphas=1,-2", "alphas"},         {"phase2.encodings=float,k13", "encoding"},
        {"phase2.transports=jacobean", "transports"}, {"phase2.kv=qins99", "kv"},
        {"phase2.weight_codec=fp7", "weight_codec"}, {"phase2.calib_tokens=100", "calib_tokens"},
        {"run.calib_slice=none", "calib_slice"},     {"run.calib_slice=stories:1000-1003", "calib_slice"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        snprintf(cmd, sizeof cmd, "cd '%s' && '%s/qins-phase2' --results '%s' --force --set '%s'", dir,
                 QINS_TEST_BIN_DIR, dir, bad[i][0]);
        cr_assert_eq(test_run_cmd(cmd, out, sizeof out), 1, "%s must fail:\n%s", bad[i][0], out);
        int errors = 0;
        for (const char *p = out; (p = strstr(p, "qins: error")); p++) errors++;
        cr_assert_eq(errors, 1, "%s: one error line:\n%s", bad[i][0], out);
        cr_assert(strstr(out, bad[i][1]), "%s: the message names %s:\n%s", bad[i][0], bad[i][1], out);
    }
    struct qins_run_meta *runs;
    size_t n;
    cr_assert_eq(qins_results_list(dir, 2, &runs, &n, NULL), QINS_OK);
    cr_assert_eq(n, 0, "no run file left behind");
    free(runs);
}
