// phases/phase0.c — qins-phase0, the harness self-check: the FP32 model against the same
// model with its matmul weights stored in another format (default FP16), through the whole loop:
// config → run file → gate 0 → report → reproduce. Reads: config → variants → evaluate →
// weight bytes → latency → record.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "experiment.h"
#include "slots.h"
#include "sweep.h"

static const struct qins_cfg_key phase0_keys[] = {
    {"phase0", "variants", QINS_CFG_LIST, "fp16,bf16", 1, 8, NULL,
     "weight formats compared with FP32 (codec names: fp16, bf16, int8, qins8, …; per-row scales)",
     .item_check = qins_check_codec_item},
    {"phase0", "latency_tokens", QINS_CFG_INT, "64", 1, 4096, NULL, "tokens generated per latency repetition", NULL},
    {"phase0", "latency_reps", QINS_CFG_INT, "9", 3, 1000, NULL,
     "latency repetitions per configuration (the first is a warm-up; medians of the rest)", NULL},
    {0},
};

// Every matmul weight of the model stored in the variant's codec (per-row scales).
static int install(struct qins_sweep *s, struct qins_variant *v) {
    return qins_model_set_weight_codec(s->e->model, v->data, QINS_SLOT_MASK_ALL, true);
}

static int measure(struct qins_sweep *s, struct qins_variant *v) {
    const double fp32 = (double)*(const size_t *)s->ops.user, bytes = (double)qins_model_stored_weight_bytes(s->e->model);
    QINS_TRY(qins_sweep_metric(s, v, "weight_bytes", bytes, "bytes"));
    return qins_sweep_metric(s, v, "weight_compression_vs_fp32", fp32 / bytes, "ratio");
}

int main(int argc, char **argv) {
    struct qins_exp e;
    const struct qins_cfg_key *tables[] = {phase0_keys, NULL};
    int st = qins_exp_open(&e, 0, argc, argv, tables);
    if (st == 1) return 0;
    const char *const *names = NULL;
    const size_t n_var = st < 0 ? 0 : qins_config_list(e.cfg, "phase0", "variants", &names);
    struct qins_codec_params codecs[8];
    size_t fp32_bytes = st < 0 ? 0 : qins_model_stored_weight_bytes(e.model);
    struct qins_sweep s;
    qins_sweep_init(&s, &e, &(struct qins_sweep_ops){.install = install, .measure = measure, .user = &fp32_bytes});
    int idx[8];
    for (size_t i = 0; i < n_var && st == 0; i++) {
        struct qins_variant *v = qins_sweep_add(&s, names[i], NULL, 0);
        qins_codec_params_default(&codecs[i]);
        st = v ? qins_codec_parse(names[i], &codecs[i]) : QINS_ERR_ARG;
        codecs[i].granularity = QINS_GRAN_PER_ROW;
        if (v) v->data = &codecs[i];
        idx[i] = (int)i;
    }
    if (st == 0) st = qins_sweep_baseline(&s);
    if (st == 0) st = qins_sweep_evaluate(&s, 0, s.n);
    if (st == 0) st = qins_exp_metricf(&e, (double)fp32_bytes, "bytes", "baseline/weight_bytes");
    if (st == 0)
        st = qins_sweep_latency(&s, idx, s.n, (int)qins_config_int(e.cfg, "phase0", "latency_tokens"),
                                (int)qins_config_int(e.cfg, "phase0", "latency_reps"), NULL, "[phase0] latency_tokens",
                                NULL);
    // plots: token match and ppl delta per variant
    struct qins_series tm, pd;
    if (st == 0) st = qins_series_init(&tm, s.n);
    if (st == 0) st = qins_series_init(&pd, s.n);
    double *y_tm = st == 0 ? qins_series_add(&tm, "token match") : NULL,
           *y_pd = st == 0 ? qins_series_add(&pd, "ppl delta %") : NULL;
    if (st == 0 && !(y_tm && y_pd)) st = QINS_ERR_NOMEM;
    for (size_t i = 0; st == 0 && i < s.n; i++) y_tm[i] = s.v[i].q.token_match, y_pd[i] = s.v[i].q.ppl_delta_pct;
    if (st == 0)
        st = qins_series_plot(&tm, e.run, (struct qins_plot){"phase0_token_match", QINS_PLOT_BARS,
                                                             "Greedy token match vs FP32", "variant",
                                                             "fraction of tokens", .xlabels = names});
    if (st == 0)
        st = qins_series_plot(&pd, e.run, (struct qins_plot){"phase0_ppl_delta", QINS_PLOT_BARS,
                                                             "Perplexity change vs FP32", "variant", "percent",
                                                             .xlabels = names});
    if (st == 0) st = qins_exp_key(&e, "baseline/ppl");
    if (st == 0) st = qins_sweep_keys(&s, "token_match,ppl_delta_pct,kld_mean,overhead_pct", true);
    const struct qins_sweep_column cols[] = {{"token match", "token_match", "%12.4f"},
                                             {"ppl delta %", "ppl_delta_pct", "%+12.4f"},
                                             {"kld mean", "kld_mean", "%12.3g"},
                                             {"vs fp32 (x)", "weight_compression_vs_fp32", "%12.3f"},
                                             {"overhead %", "overhead_pct", "%+12.2f"}};
    if (st == 0) st = qins_sweep_summary(&s, "phase 0 summary (baseline: FP32 weights)", cols, 5);
    qins_sweep_free(&s);
    if (st < 0) {
        qins_exp_close(&e);
        return 1;
    }
    qins_model_reset_slots(e.model);
    return qins_exp_commit(&e) < 0 ? 1 : 0;
}
