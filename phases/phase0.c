// phases/phase0.c — qins-phase0, the harness self-check: the FP32 model against the same
// model with its matmul weights stored in another format (default FP16), through the whole loop:
// config → run file → gate 0 → report → reproduce. Reads: config → init → run → record → free.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "experiment.h"
#include "slots.h"

static const struct qins_cfg_key phase0_keys[] = {
    {"phase0", "variants", QINS_CFG_LIST, "fp16,bf16", 1, 8, NULL,
     "weight formats compared with FP32 (codec names: fp16, bf16, int8, qins8, …; per-row scales)", NULL},
    {"phase0", "latency_tokens", QINS_CFG_INT, "64", 1, 4096, NULL, "tokens generated per latency repetition", NULL},
    {"phase0", "latency_reps", QINS_CFG_INT, "9", 3, 1000, NULL,
     "latency repetitions per configuration (the first is a warm-up; medians of the rest)", NULL},
    {0},
};

struct weights_cfg {
    struct qins_model *m;
    const struct qins_codec_params *codecs; // (n) index 0 unused: the FP32 baseline
};

// Installs configuration i: 0 = FP32 slots, i > 0 = every matmul weight in codecs[i].
static int apply(void *user, int i) {
    struct weights_cfg *w = user;
    qins_model_reset_slots(w->m);
    return i == 0 ? 0 : qins_model_set_weight_codec(w->m, &w->codecs[i], QINS_SLOT_MASK_ALL, true);
}

int main(int argc, char **argv) {
    struct qins_exp e;
    const struct qins_cfg_key *tables[] = {phase0_keys, NULL};
    int st = qins_exp_open(&e, 0, argc, argv, tables);
    if (st == 1) return 0;
    if (st < 0) {
        qins_exp_close(&e);
        return 1;
    }
    const char *const *names;
    const size_t n_var = qins_config_list(e.cfg, "phase0", "variants", &names);
    struct qins_codec_params codecs[9];
    struct weights_cfg wc = {e.model, codecs};
    struct qins_exp_eval base, var;
    const size_t fp32_bytes = qins_model_stored_weight_bytes(e.model);
    double tm[9] = {0}, pm[9] = {0}, lat[9] = {0};
    for (size_t v = 0; v < n_var && st == 0; v++) {
        qins_codec_params_default(&codecs[v + 1]);
        st = qins_codec_parse(names[v], &codecs[v + 1]);
        codecs[v + 1].granularity = QINS_GRAN_PER_ROW;
    }
    // baseline
    if (st == 0) st = qins_exp_evaluate(&e, e.model, NULL, "baseline", &base);
    for (size_t v = 0; v < n_var && st == 0; v++) {
        char metric[128];
        st = apply(&wc, (int)v + 1);
        const size_t bytes = qins_model_stored_weight_bytes(e.model);
        if (st == 0) st = qins_exp_evaluate(&e, e.model, NULL, names[v], &var);
        if (st == 0) st = qins_exp_record_quality(&e, &base, &var);
        snprintf(metric, sizeof metric, "%s/weight_bytes", names[v]);
        if (st == 0) st = qins_run_metric(e.run, metric, (double)bytes, "bytes");
        snprintf(metric, sizeof metric, "%s/weight_compression_vs_fp32", names[v]);
        if (st == 0) st = qins_run_metric(e.run, metric, (double)fp32_bytes / bytes, "ratio");
        if (st == 0) {
            double match = 0;
            for (int p = 0; p < var.n_prompts; p++) {
                int n = e.prompts.items[p].max_tokens;
                match += qins_token_match(base.gen + (size_t)p * base.n_tokens, var.gen + (size_t)p * var.n_tokens, n, NULL);
            }
            tm[v] = match / var.n_prompts;
            pm[v] = 100.0 * (var.ppl.ppl / base.ppl.ppl - 1.0);
        }
        qins_exp_eval_free(&var);
    }
    if (st == 0) st = qins_run_metric(e.run, "baseline/weight_bytes", (double)fp32_bytes, "bytes");
    // latency: FP32 and each variant interleaved
    const int reps = (int)qins_config_int(e.cfg, "phase0", "latency_reps"),
              n_gen = (int)qins_config_int(e.cfg, "phase0", "latency_tokens");
    double *samples = calloc((n_var + 1) * (size_t)(reps - 1), sizeof *samples);
    if (st == 0) st = samples ? 0 : QINS_ERR_NOMEM;
    if (st == 0) st = qins_exp_latency(&e, (int)n_var + 1, NULL, apply, &wc, n_gen, reps, lat, samples);
    for (size_t c = 0; c <= n_var && st == 0; c++) {
        const char *name = c == 0 ? "baseline" : names[c - 1];
        char path[128];
        snprintf(path, sizeof path, "%s/latency_us_per_token", name);
        st = qins_run_metric(e.run, path, lat[c] * 1e6, "us");
        snprintf(path, sizeof path, "/latency/%s/per_token_s", name);
        if (st == 0) st = qins_run_array(e.run, path, QINS_DT_F64, samples + c * (reps - 1), (size_t)reps - 1, 0);
        if (st == 0 && c > 0) {
            snprintf(path, sizeof path, "%s/overhead_pct", name);
            st = qins_run_metric(e.run, path, 100.0 * (lat[c] / lat[0] - 1.0), "pct_time");
            printf("%-28s %.1f us/token vs FP32 %.1f us/token (%+.1f %%)\n", name, lat[c] * 1e6, lat[0] * 1e6,
                   100.0 * (lat[c] / lat[0] - 1.0));
        }
    }
    free(samples);
    // plots: token match and ppl delta per variant
    if (st == 0) {
        double y[18];
        for (size_t v = 0; v < n_var; v++) y[v] = tm[v], y[n_var + v] = pm[v];
        const char *series_tm[] = {"token match"}, *series_pm[] = {"ppl delta %"};
        struct qins_plot p1 = {"phase0_token_match", QINS_PLOT_BARS, "Greedy token match vs FP32", "variant",
                               "fraction of tokens", n_var, NULL, (const char *const *)names, 1, y, series_tm, false, false};
        struct qins_plot p2 = {"phase0_ppl_delta", QINS_PLOT_BARS, "Perplexity change vs FP32", "variant", "percent",
                               n_var, NULL, (const char *const *)names, 1, y + n_var, series_pm, false, false};
        st = qins_run_plot(e.run, &p1);
        if (st == 0) st = qins_run_plot(e.run, &p2);
    }
    if (st == 0) {
        char keys[512] = "baseline/ppl";
        for (size_t v = 0; v < n_var; v++) {
            size_t l = strlen(keys);
            snprintf(keys + l, sizeof keys - l, ",%s/token_match,%s/ppl_delta_pct,%s/kld_mean,%s/overhead_pct", names[v],
                     names[v], names[v], names[v]);
        }
        st = qins_run_key_metrics(e.run, keys);
    }
    qins_exp_eval_free(&base);
    if (st < 0) {
        qins_exp_close(&e);
        return 1;
    }
    qins_model_reset_slots(e.model);
    return qins_exp_commit(&e) < 0 ? 1 : 0;
}
