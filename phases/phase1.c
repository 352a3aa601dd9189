// phases/phase1.c — qins-phase1, the KV cache: the FP32 model with its KV cache held in k-bit
// QINS pages against FP32 (baseline), FP16 (the noise floor) and the same-bits uniform INT-k and
// NormalFloat-k pages, plus an alpha sweep. Records compression (every byte of metadata counted),
// quality, attention-output error, decode latency, a long-context projection and plots.
// Reads: config → variants → evaluate (+ attention error and bytes) → latency → projection → record.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "histogram.h"
#include "kv_figures.h"
#include "site_error.h"
#include "sweep.h"

#define INTS .item = QINS_CFG_ITEM_INT
static const struct qins_cfg_key phase1_keys[] = {
    {"phase1", "variants", QINS_CFG_LIST, "fp16,int8,int6,nf8,nf6,qins8,qins6", 1, 24, NULL,
     "KV stores compared with the FP32 cache, in --kv syntax (codec[:option=value...]); fp16/fp32 alone are the "
     "plain stores, every other item is a paged store that gets kv_options first",
     .item_check = qins_check_kv_spec_item},
    {"phase1", "kv_options", QINS_CFG_STRING, "alpha=2:gran=token:page=16", 0, -1, NULL,
     "--kv options every paged variant gets before its own (alpha, gran, page, page_bytes, scale, kcodec, vcodec, "
     "keep, keep_codec); e.g. add :keep=0,-1:keep_codec=fp16 to keep the first and last layer FP16",
     qins_check_kv_options},
    {"phase1", "sweep_codecs", QINS_CFG_LIST, "qins8,qins6", 0, 4, NULL,
     "QINS codecs swept over alpha_sweep (variants named <codec>_a<alpha>)", .item_check = qins_check_qins_codec_item},
    {"phase1", "alpha_sweep", QINS_CFG_LIST, "0.5,1,2,4,8", 0, 12, NULL,
     "alpha values of the sweep; the point equal to kv_options' alpha is the main variant (not run twice)",
     .item = QINS_CFG_ITEM_DOUBLE, .item_min = 1e-3, .item_max = 1e6},
    {"phase1", "latency_tokens", QINS_CFG_INT, "128", 2, 4096, NULL,
     "tokens generated per latency repetition for <variant>/overhead_pct (every variant)", NULL},
    {"phase1", "latency_contexts", QINS_CFG_LIST, "64,128,256,512", 0, 7, NULL,
     "generation lengths of the overhead-vs-context sweep (non-sweep variants only)", INTS, .item_min = 1,
     .item_max = 4096},
    {"phase1", "latency_reps", QINS_CFG_INT, "7", 3, 1000, NULL,
     "latency repetitions per configuration (the first is a warm-up; medians of the rest)", NULL},
    {"phase1", "histogram_variant", QINS_CFG_STRING, "qins8", 0, -1, NULL,
     "variant whose layer-0 K and V pages give the code histograms (a paged k-bit variant; \"\" = none)", NULL},
    {"phase1", "projection_contexts", QINS_CFG_LIST, "4096,32768,131072", 1, 6, NULL,
     "context lengths (tokens) of the long-context KV projection", INTS, .item_min = 1, .item_max = 1 << 24},
    {"phase1", "projection_shapes", QINS_CFG_LIST, "phi3.5-mini:32x32x96", 0, 8, NULL,
     "architectures projected besides the run's model: NAME:LAYERSxKV_HEADSxHEAD_DIM",
     .item_check = qins_check_kv_shape_item},
    {0},
};

enum family { FAM_FLOAT = 0, FAM_INT, FAM_NF, FAM_QINS, FAM_OTHER, FAM_COUNT };
static const char *const family_names[FAM_COUNT] = {"float (fp16)", "INT-k", "NF-k", "QINS", "other"};

struct phase1 {
    struct qins_sweep s;
    struct qins_site_error attn;      // attention output per layer against the FP32 cache
    const char *hist_variant;
    int longest, n_layer, kv_dim;     // longest context any store of the run holds
    double (*layer_err)[64];          // (n variants) attention error per layer
};

static int add(struct qins_sweep *s, const char *item, const char *name, const char *extra, unsigned flags, int series,
               double param) {
    struct qins_variant *v =
        qins_sweep_add_kv(s, item, name, qins_config_str(s->e->cfg, "phase1", "kv_options"), extra, flags);
    if (!v) return QINS_ERR_ARG;
    v->series = series, v->param = param;
    const enum qins_codec_kind c = v->kv.k.codec;
    v->group = c == QINS_CODEC_INT ? FAM_INT : c == QINS_CODEC_NF ? FAM_NF : c == QINS_CODEC_QINS ? FAM_QINS
               : c == QINS_CODEC_FP16 || c == QINS_CODEC_FP32 || c == QINS_CODEC_BF16 ? FAM_FLOAT : FAM_OTHER;
    return 0;
}

static int build_variants(struct phase1 *P) {
    struct qins_sweep *s = &P->s;
    const qins_config_t *cfg = s->e->cfg;
    const char *const *items, *const *codecs;
    const double *alphas;
    struct qins_kv_spec def;
    char text[320];
    snprintf(text, sizeof text, "qins8:%s", qins_config_str(cfg, "phase1", "kv_options"));
    QINS_TRY(qins_kv_spec_parse(text, &def));
    const size_t nc = qins_config_list(cfg, "phase1", "sweep_codecs", &codecs),
                 na = qins_config_double_list(cfg, "phase1", "alpha_sweep", &alphas);
    for (size_t i = 0, n = qins_config_list(cfg, "phase1", "variants", &items); i < n; i++) {
        int series = -1; // the main QINS variants are their codec's point at the default alpha
        for (size_t c = 0; c < nc; c++) series = strcmp(items[i], codecs[c]) ? series : (int)c;
        QINS_TRY(add(s, items[i], NULL, NULL, 0, series, def.k.alpha));
    }
    for (size_t c = 0; c < nc; c++)
        for (size_t a = 0; a < na; a++) {
            const float alpha = (float)alphas[a];
            char name[64], extra[48];
            snprintf(name, sizeof name, "%s_a%g", codecs[c], alpha);
            snprintf(extra, sizeof extra, "alpha=%g", alpha);
            if ((alpha == def.k.alpha && qins_sweep_find(s, codecs[c]) >= 0) || qins_sweep_find(s, name) >= 0) continue;
            QINS_TRY(add(s, codecs[c], name, extra, QINS_VARIANT_SWEEP_POINT, (int)c, alpha));
        }
    const int64_t *lc;
    const size_t n_lc = qins_config_int_list(cfg, "phase1", "latency_contexts", &lc);
    const int lt = (int)qins_config_int(cfg, "phase1", "latency_tokens");
    for (size_t i = 0; i <= n_lc; i++) // the longest context a store of the run holds
        if ((i < n_lc ? lc[i] : lt) + 1 > P->longest) P->longest = (int)(i < n_lc ? lc[i] : lt) + 1;
    QINS_TRY(qins_sweep_check_lengths(s, lt, lc, n_lc, "[phase1] latency_tokens", "[phase1] latency_contexts"));
    P->hist_variant = qins_config_str(cfg, "phase1", "histogram_variant");
    const int h = qins_sweep_find(s, P->hist_variant);
    QINS_CHECK(!*P->hist_variant || (h >= 0 && !s->v[h].kv.plain && qins_codec_is_lossy(&s->v[h].kv.k)), QINS_ERR_ARG,
               "[phase1] histogram_variant '%s' is not a paged k-bit variant of this run", P->hist_variant);
    P->layer_err = calloc(s->n, sizeof *P->layer_err);
    QINS_CHECK(P->layer_err && P->n_layer <= 64, QINS_ERR_NOMEM, "out of memory (or more than 64 layers)");
    return 0;
}

// After quality: the attention-output error over a teacher-forced window (one token at a time,
// as decoding reads the cache), the store's bytes and page timings, and code histograms.
static int measure(struct qins_sweep *s, struct qins_variant *v) {
    struct phase1 *P = s->ops.user;
    struct qins_exp *e = s->e;
    struct qins_kv_store *store = NULL;
    struct qins_kv_figures f;
    const size_t vi = (size_t)(v - s->v);
    int st = qins_site_error_run(&P->attn, e->model, e->eval_ids, &v->kv, &store);
    if (st == 0) st = qins_kv_figures(&v->kv, store, P->n_layer, P->kv_dim, e->ctx, P->longest, &f);
    const double rel = qins_site_error_result(&P->attn, P->layer_err[vi]);
    if (st == 0) st = qins_sweep_metrics(s, v, f.m, f.n);
    if (st == 0) st = qins_sweep_metric(s, v, "rel_error", rel, "fraction");
    if (st == 0) st = qins_sweep_metric(s, v, "attn_nonfinite_count", (double)P->attn.nonfinite, "count");
    char path[160];
    snprintf(path, sizeof path, "/rel_error/%s/attn_out_per_layer", v->name);
    if (st == 0) st = qins_run_array(e->run, path, QINS_DT_F64, P->layer_err[vi], (size_t)P->n_layer, 0);
    double ent[2];
    if (st == 0 && !strcmp(v->name, P->hist_variant)) {
        st = qins_hist_kv_layer(e->run, v->name, store, 0, "phase1_code_histogram", ent);
        if (st == 0) st = qins_sweep_metric(s, v, "k_page_entropy", ent[0], "bits/symbol");
        if (st == 0) st = qins_sweep_metric(s, v, "v_page_entropy", ent[1], "bits/symbol");
    }
    qins_kv_free(store);
    return st;
}

static double get_first_div(const struct qins_variant *v, size_t i, void *u) { return (void)u, v->first_div[i]; }
static double get_overhead(const struct qins_variant *v, size_t i, void *u) {
    char what[64];
    snprintf(what, sizeof what, "overhead_pct_ctx%lld", (long long)((const int64_t *)u)[i]);
    return qins_variant_get(v, what);
}
static double get_layer_err(const struct qins_variant *v, size_t i, void *u) {
    const struct phase1 *P = u;
    const double e = P->layer_err[v - P->s.v][i];
    return e > 0 ? e : NAN;
}

// "Does QINS beat the same-bits INT and NF pages?": 1/0 on |ppl_delta_pct| and on kld_mean
// (key metrics for the main QINS variants).
static int record_beats(struct qins_sweep *s) {
    for (size_t i = 0; i < s->n; i++)
        for (int f = 0; f < 2 && s->v[i].group == FAM_QINS; f++) {
            char other[32], what[64];
            snprintf(other, sizeof other, "%s%d", f ? "nf" : "int", s->v[i].bits);
            const int j = qins_sweep_find(s, other);
            if (j < 0) continue;
            const struct qins_exp_quality *q = &s->v[i].q, *o = &s->v[j].q;
            snprintf(what, sizeof what, "beats_%s_ppl", other);
            QINS_TRY(qins_sweep_metric(s, &s->v[i], what, fabs(q->ppl_delta_pct) < fabs(o->ppl_delta_pct), "bool"));
            snprintf(what, sizeof what, "beats_%s_kld", other);
            QINS_TRY(qins_sweep_metric(s, &s->v[i], what, q->kld_mean < o->kld_mean, "bool"));
            if (!(s->v[i].flags & QINS_VARIANT_SWEEP_POINT))
                QINS_TRY(qins_exp_key(s->e, "%s/beats_%s_ppl,%s/beats_%s_kld", s->v[i].name, other, s->v[i].name, other));
        }
    return 0;
}

static int record_plots(struct phase1 *P, const int64_t *ctxs, size_t n_ctx) {
    struct qins_sweep *s = &P->s;
    QINS_TRY(qins_sweep_plot_xy(s, (struct qins_plot){"phase1_compression_vs_ppl", QINS_PLOT_POINTS,
             "KV compression vs perplexity change (one point per variant)", "KV compression vs FP16 (x)",
             "ppl change vs FP32 (%)"}, "kv_compression_vs_fp16", "ppl_delta_pct", family_names, FAM_COUNT, false));
    QINS_TRY(qins_sweep_plot_xy(s, (struct qins_plot){"phase1_compression_vs_kld", QINS_PLOT_POINTS,
             "KV compression vs KL divergence from FP32 (one point per variant)", "KV compression vs FP16 (x)",
             "mean KLD (nats, log scale)", .logy = true}, "kv_compression_vs_fp16", "kld_mean", family_names, FAM_COUNT, true));
    QINS_TRY(qins_sweep_plot_per_variant(s, (struct qins_plot){"phase1_first_divergence", QINS_PLOT_POINTS,
             "First greedy token that differs from FP32, per prompt (= max_tokens when none)", "prompt index",
             "position of first divergence"}, s->e->prompts.n, NULL, get_first_div, NULL));
    QINS_TRY(qins_sweep_plot_per_variant(s, (struct qins_plot){"phase1_attn_rel_error", QINS_PLOT_LINES,
             "Attention-output relative L2 error vs FP32 per layer (teacher-forced window)", "layer",
             "relative L2 error (log scale)", .logy = true}, (size_t)P->n_layer, NULL, get_layer_err, P));
    double x[8];
    for (size_t j = 0; j < n_ctx; j++) x[j] = (double)ctxs[j];
    if (n_ctx) QINS_TRY(qins_sweep_plot_per_variant(s, (struct qins_plot){"phase1_overhead_vs_context", QINS_PLOT_LINES,
             "Decode overhead vs FP32 by generated length (medians, interleaved)", "tokens generated",
             "overhead vs FP32 (%)"}, n_ctx, x, get_overhead, (void *)ctxs));
    const char *const *codecs;
    const size_t nc = qins_config_list(s->e->cfg, "phase1", "sweep_codecs", &codecs);
    return qins_sweep_plot_param(s, (struct qins_plot){"phase1_alpha_sweep", QINS_PLOT_LINES, "QINS alpha sweep: mean "
           "KLD vs FP32", "alpha (log scale)", "mean KLD (nats, log scale)", .logx = true, .logy = true}, "kld_mean", codecs, nc);
}

int main(int argc, char **argv) {
    static struct phase1 P;
    struct qins_exp e;
    const struct qins_cfg_key *tables[] = {phase1_keys, NULL};
    int st = qins_exp_open(&e, 1, argc, argv, tables);
    if (st == 1) return 0;
    const int64_t *ctxs = NULL, *proj = NULL;
    const char *const *shapes = NULL;
    size_t n_ctx = 0, n_proj = 0, n_shapes = 0;
    qins_sweep_init(&P.s, &e, &(struct qins_sweep_ops){.measure = measure, .user = &P});
    if (st == 0) {
        const struct qins_hparams *hp = &e.model->hp;
        P.n_layer = hp->n_layer, P.kv_dim = hp->n_head_kv * hp->head_dim, P.longest = qins_exp_longest_context(&e);
        n_ctx = qins_config_int_list(e.cfg, "phase1", "latency_contexts", &ctxs);
        n_proj = qins_config_int_list(e.cfg, "phase1", "projection_contexts", &proj);
        n_shapes = qins_config_list(e.cfg, "phase1", "projection_shapes", &shapes);
        st = build_variants(&P);
    }
    struct qins_kv_store *ref = NULL;
    if (st == 0) st = qins_sweep_baseline(&P.s);
    if (st == 0) st = qins_site_error_init(&P.attn, e.model, QINS_SITE_ATTN_OUT, e.model->hp.n_head * e.model->hp.head_dim,
                                           e.ctx);
    if (st == 0) st = qins_site_error_run(&P.attn, e.model, e.eval_ids, NULL, &ref); // the FP32 reference
    if (st == 0) st = qins_exp_metricf(&e, (double)qins_kv_stored_bytes(ref), "bytes", "baseline/kv_bytes_ctx");
    if (st == 0)
        st = qins_exp_metricf(&e, 2.0 * P.n_layer * (double)P.longest * P.kv_dim * 4, "bytes", "baseline/kv_peak_bytes");
    qins_kv_free(ref);
    if (st == 0) st = qins_sweep_evaluate(&P.s, 0, P.s.n);
    if (st == 0)
        st = qins_sweep_latency_lengths(&P.s, (int)qins_config_int(e.cfg, "phase1", "latency_tokens"), ctxs, n_ctx,
                                        (int)qins_config_int(e.cfg, "phase1", "latency_reps"), "[phase1] latency_tokens",
                                        "[phase1] latency_contexts");
    const char *base = strrchr(e.model_path, '/');
    if (st == 0)
        st = qins_kv_projection(&P.s, base ? base + 1 : e.model_path, shapes, n_shapes, proj, n_proj, "phase1_kv_projection");
    if (st == 0) st = qins_exp_key(&e, "baseline/ppl");
    if (st == 0) st = qins_sweep_keys(&P.s, "kv_compression_vs_fp16,token_match,ppl_delta_pct,kld_mean,overhead_pct", false);
    if (st == 0) st = record_beats(&P.s);
    if (st == 0) st = record_plots(&P, ctxs, n_ctx);
    const struct qins_sweep_column cols[] = {
        {"comp vs fp16", "kv_compression_vs_fp16", "%12.3f"}, {"token match", "token_match", "%12.4f"},
        {"ppl delta %", "ppl_delta_pct", "%+12.4f"},          {"kld mean", "kld_mean", "%12.3g"},
        {"attn rel err", "rel_error", "%12.3g"},              {"overhead %", "overhead_pct", "%+12.2f"}};
    if (st == 0)
        st = qins_sweep_summary(&P.s, "phase 1 summary (baseline FP32 KV cache; compression counts every byte of metadata)",
                                cols, 6);
    qins_site_error_free(&P.attn);
    qins_sweep_free(&P.s);
    free(P.layer_err);
    if (st < 0) {
        qins_exp_close(&e);
        return 1;
    }
    return qins_exp_commit(&e) < 0 ? 1 : 0;
}
