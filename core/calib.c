// core/calib.c — calibration statistics (FP64 accumulators, reservoirs) and the observer.
#include "calib.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "util.h"
#include "experiment.h"

// ---------------------------------------------------------------------------------------------
// statistics of one site

static uint64_t splitmix64(uint64_t *s) {
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

// Algorithm R: slot for the item with 0-based index i in a reservoir of cap, or -1 to drop it.
static int64_t reservoir_slot(uint64_t *rng, int64_t i, int64_t cap) {
    if (cap <= 0) return -1;
    if (i < cap) return i;
    uint64_t j = splitmix64(rng) % (uint64_t)(i + 1);
    return j < (uint64_t)cap ? (int64_t)j : -1;
}

int qins_calib_stats_init(struct qins_calib_stats *st, int dim, int res_cap, int64_t max_rows, int64_t max_heldout,
                          uint64_t seed) {
    memset(st, 0, sizeof *st);
    QINS_CHECK(dim > 0 && res_cap >= 1 && max_rows >= 0 && max_heldout >= 0, QINS_ERR_ARG,
               "calib: dim %d, reservoir %d, rows %lld, held-out %lld", dim, res_cap, (long long)max_rows,
               (long long)max_heldout);
    st->dim = dim;
    st->res_cap = res_cap;
    st->max_rows = max_rows;
    st->max_heldout = max_heldout;
    st->rng = seed;
    const size_t d = (size_t)dim;
    st->sum = calloc(d, sizeof(double));
    st->sum_abs = calloc(d, sizeof(double));
    st->sum_sq = calloc(d, sizeof(double));
    st->absmax = calloc(d, sizeof(double));
    st->reservoir = malloc(d * (size_t)res_cap * sizeof(float));
    st->rows = max_rows ? malloc((size_t)max_rows * d * sizeof(float)) : NULL;
    st->heldout = max_heldout ? malloc((size_t)max_heldout * d * sizeof(float)) : NULL;
    if (!st->sum || !st->sum_abs || !st->sum_sq || !st->absmax || !st->reservoir || (max_rows && !st->rows) ||
        (max_heldout && !st->heldout)) {
        qins_calib_stats_free(st);
        QINS_CHECK(0, QINS_ERR_NOMEM, "calib: out of memory for %d channels x %lld rows", dim, (long long)max_rows);
    }
    return 0;
}

void qins_calib_stats_add(struct qins_calib_stats *st, const float *x, int64_t n, bool heldout) {
    const int d = st->dim;
    for (int64_t t = 0; t < n; t++) {
        const float *r = x + (size_t)t * d;
        int finite = 1;
        for (int j = 0; j < d; j++) finite &= isfinite(r[j]);
        if (!finite) {
            st->n_nonfinite++;
            continue;
        }
        if (heldout) {
            int64_t k = reservoir_slot(&st->rng, st->n_seen_heldout++, st->max_heldout);
            if (k >= 0) memcpy(st->heldout + (size_t)k * d, r, (size_t)d * sizeof(float));
            if (st->n_heldout < st->max_heldout) st->n_heldout++;
            continue;
        }
        for (int j = 0; j < d; j++) {
            double v = r[j], a = fabs(v);
            st->sum[j] += v;
            st->sum_abs[j] += a;
            st->sum_sq[j] += v * v;
            if (a > st->absmax[j]) st->absmax[j] = a;
        }
        // One draw per row serves every channel: each channel's sample is still uniform.
        int64_t k = reservoir_slot(&st->rng, st->n, st->res_cap);
        if (k >= 0)
            for (int j = 0; j < d; j++) st->reservoir[(size_t)j * st->res_cap + k] = r[j];
        k = reservoir_slot(&st->rng, st->n, st->max_rows);
        if (k >= 0) memcpy(st->rows + (size_t)k * d, r, (size_t)d * sizeof(float));
        if (st->n_rows < st->max_rows) st->n_rows++;
        st->n++;
    }
}

int qins_calib_stats_finish(struct qins_calib_stats *st) {
    QINS_CHECK(st->n > 0, QINS_ERR_STATE, "calib: no calibration row was captured (%d channels)", st->dim);
    const size_t d = (size_t)st->dim;
    free(st->mean), free(st->mean_abs), free(st->rms), free(st->median);
    st->mean = malloc(d * sizeof(double));
    st->mean_abs = malloc(d * sizeof(double));
    st->rms = malloc(d * sizeof(double));
    st->median = malloc(d * sizeof(double));
    const int64_t m = st->n < st->res_cap ? st->n : st->res_cap;
    double *tmp = malloc((size_t)m * sizeof *tmp); // FP32 rows widened exactly: the median of the same values
    if (!st->mean || !st->mean_abs || !st->rms || !st->median || !tmp) {
        free(tmp);
        QINS_CHECK(0, QINS_ERR_NOMEM, "calib: out of memory");
    }
    for (size_t j = 0; j < d; j++) {
        st->mean[j] = st->sum[j] / (double)st->n;
        st->mean_abs[j] = st->sum_abs[j] / (double)st->n;
        st->rms[j] = sqrt(st->sum_sq[j] / (double)st->n);
        const float *r = st->reservoir + j * st->res_cap;
        for (int64_t i = 0; i < m; i++) tmp[i] = r[i];
        st->median[j] = qins_median_inplace(tmp, (size_t)m);
    }
    free(tmp);
    return 0;
}

void qins_calib_stats_free(struct qins_calib_stats *st) {
    if (!st) return;
    free(st->sum), free(st->sum_abs), free(st->sum_sq), free(st->absmax), free(st->reservoir);
    free(st->rows), free(st->heldout);
    free(st->mean), free(st->mean_abs), free(st->rms), free(st->median);
    memset(st, 0, sizeof *st);
}

// ---------------------------------------------------------------------------------------------
// capture through a model observer

void qins_calib_opts_default(struct qins_calib_opts *o) {
    *o = (struct qins_calib_opts){
        .max_rows = 4096, .max_heldout = 1024, .reservoir = 4096, .capture_v = true, .seed = 0x51c0ffeeull,
        .in_site = QINS_SITE_ATTN_IN, .out_site = QINS_SITE_V};
}

int qins_calib_init(struct qins_calib *c, const struct qins_model *m, uint64_t layer_mask,
                    const struct qins_calib_opts *opts) {
    memset(c, 0, sizeof *c);
    struct qins_calib_opts def;
    qins_calib_opts_default(&def);
    if (!opts) opts = &def;
    const int L = m->hp.n_layer;
    if (L < 64) layer_mask &= (1ull << L) - 1;
    QINS_CHECK(layer_mask, QINS_ERR_ARG, "calib: the layer mask selects none of the %d layers", L);
    c->n_layer = L;
    c->layer_mask = layer_mask;
    c->in_site = opts->in_site, c->out_site = opts->out_site;
    c->in = calloc((size_t)L, sizeof *c->in);
    c->v = opts->capture_v ? calloc((size_t)L, sizeof *c->v) : NULL;
    QINS_CHECK(c->in && (!opts->capture_v || c->v), QINS_ERR_NOMEM, "calib: out of memory");
    const int d_in = qins_site_dim(&m->hp, opts->in_site), d_out = qins_site_dim(&m->hp, opts->out_site);
    QINS_CHECK(d_in > 0 && (!opts->capture_v || d_out > 0), QINS_ERR_ARG, "calib: sites %s, %s have no width",
               qins_site_name(opts->in_site), qins_site_name(opts->out_site));
    for (int l = 0; l < L && l < 64; l++) {
        if (!(layer_mask >> l & 1)) continue;
        // The input and output of a layer share a seed: both see the same tokens in the same
        // order, so they draw alike and row k of one is the same token as row k of the other.
        int st = qins_calib_stats_init(&c->in[l], d_in, opts->reservoir, opts->max_rows, opts->max_heldout,
                                       opts->seed + (uint64_t)l);
        if (st == 0 && c->v)
            st = qins_calib_stats_init(&c->v[l], d_out, opts->reservoir, opts->max_rows, opts->max_heldout,
                                       opts->seed + (uint64_t)l);
        if (st < 0) {
            qins_calib_free(c);
            return st;
        }
    }
    return 0;
}

void qins_calib_observe(void *user, int layer, enum qins_site site, const float *x, int n_tok, int dim) {
    struct qins_calib *c = user;
    if (layer < 0 || layer >= c->n_layer || layer >= 64 || !(c->layer_mask >> layer & 1)) return;
    struct qins_calib_stats *st = site == c->in_site ? &c->in[layer]
                                  : site == c->out_site && c->v ? &c->v[layer]
                                                                : NULL;
    if (!st) return;
    if (dim != st->dim) {
        c->n_unexpected++;
        return;
    }
    qins_calib_stats_add(st, x, n_tok, c->heldout);
}

int qins_calib_attach(struct qins_calib *c, struct qins_model *m) {
    return qins_model_add_observer(m, qins_calib_observe, c);
}

void qins_calib_set_heldout(struct qins_calib *c, bool heldout) { c->heldout = heldout; }

int qins_calib_finish(struct qins_calib *c) {
    for (int l = 0; l < c->n_layer && l < 64; l++) {
        if (!(c->layer_mask >> l & 1)) continue;
        QINS_TRY(qins_calib_stats_finish(&c->in[l]));
        if (c->v) QINS_TRY(qins_calib_stats_finish(&c->v[l]));
    }
    return 0;
}

const struct qins_calib_stats *qins_calib_get(const struct qins_calib *c, int layer, enum qins_site site) {
    if (layer < 0 || layer >= c->n_layer || layer >= 64 || !(c->layer_mask >> layer & 1)) return NULL;
    if (site == c->in_site) return &c->in[layer];
    if (site == c->out_site && c->v) return &c->v[layer];
    return NULL;
}

void qins_calib_free(struct qins_calib *c) {
    if (!c) return;
    for (int l = 0; l < c->n_layer; l++) {
        if (c->in) qins_calib_stats_free(&c->in[l]);
        if (c->v) qins_calib_stats_free(&c->v[l]);
    }
    free(c->in);
    free(c->v);
    memset(c, 0, sizeof *c);
}

int qins_calib_run_windows(struct qins_model *m, const int32_t *ids, int64_t n_ids, int ctx, int64_t first,
                           int64_t n_win, int bos) {
    QINS_CHECK(ctx >= 1 && first >= 0 && n_win >= 0 && (first + n_win) * ctx <= n_ids, QINS_ERR_ARG,
               "calib: windows %lld..%lld of %d tokens need %lld tokens, the text has %lld", (long long)first,
               (long long)(first + n_win - 1), ctx, (long long)((first + n_win) * ctx), (long long)n_ids);
    const struct qins_hparams *hp = &m->hp;
    struct qins_kv_store *kv = NULL;
    struct qins_state *s = NULL;
    int32_t *win = malloc((size_t)ctx * sizeof *win);
    int st = win ? qins_kv_store_fp32_init(hp->n_layer, ctx, hp->n_head_kv * hp->head_dim, &kv) : QINS_ERR_NOMEM;
    if (st == 0) st = qins_state_init(m, ctx, ctx, kv, &s);
    for (int64_t w = first; st == 0 && w < first + n_win; w++) {
        memcpy(win, ids + w * ctx, (size_t)ctx * sizeof *win);
        if (bos >= 0) win[0] = bos;
        qins_kv_clear(kv);
        st = qins_forward(m, s, win, ctx, 0, false);
    }
    if (st == QINS_ERR_NOMEM && !win) qins_log_error_at(__FILE__, __LINE__, __func__, "calib: out of memory");
    qins_state_free(s);
    qins_kv_free(kv);
    free(win);
    return st;
}

int qins_site_dim(const struct qins_hparams *hp, enum qins_site site) {
    switch (site) {
    case QINS_SITE_ATTN_IN: case QINS_SITE_O: case QINS_SITE_FFN_IN: case QINS_SITE_DOWN: case QINS_SITE_RESID:
        return hp->n_embd;
    case QINS_SITE_Q: case QINS_SITE_ATTN_OUT: return hp->n_head * hp->head_dim;
    case QINS_SITE_K: case QINS_SITE_V: return hp->n_head_kv * hp->head_dim;
    case QINS_SITE_GATE: case QINS_SITE_UP: case QINS_SITE_FFN_ACT: return hp->n_ff;
    default: return 0;
    }
}

// ---------------------------------------------------------------------------------------------
// fit and held-out windows of [run] calib_slice

int qins_calib_text_init(struct qins_calib_text *t, const struct qins_exp *e, int64_t fit_tokens,
                         int64_t held_tokens, const char *keys) {
    memset(t, 0, sizeof *t);
    QINS_CHECK(e->data.calib_b1 > e->data.calib_b0, QINS_ERR_ARG,
               "phase %d needs calibration text: set [run] calib_slice (it is 'none')", e->phase);
    size_t n;
    QINS_TRY(qins_tokenizer_encode(e->tok, e->data.text + e->data.calib_b0, e->data.calib_b1 - e->data.calib_b0, true,
                                   &t->ids, &n));
    const int fit_win = (int)((fit_tokens + e->ctx - 1) / e->ctx), held_win = (int)((held_tokens + e->ctx - 1) / e->ctx);
    const int64_t need = (int64_t)(fit_win + held_win) * e->ctx;
    if (need > (int64_t)n) qins_calib_text_free(t);
    QINS_CHECK(need <= (int64_t)n, QINS_ERR_ARG,
               "calib_slice %s gives %lld tokens; %d fit + %d held-out windows of %d need %lld (widen it or lower %s)",
               e->data.calib_spec, (long long)n, fit_win, held_win, e->ctx, (long long)need, keys);
    t->n_ids = (int64_t)n, t->ctx = e->ctx, t->bos = qins_tokenizer_bos(e->tok);
    t->fit_win = fit_win, t->held_win = held_win;
    snprintf(t->spec, sizeof t->spec, "%s", e->data.calib_spec);
    return 0;
}

void qins_calib_text_free(struct qins_calib_text *t) {
    if (!t) return;
    free(t->ids);
    memset(t, 0, sizeof *t);
}

int qins_calib_text_record(const struct qins_calib_text *t, qins_run_t *run, const char *group) {
    printf("calibration: %s = %lld tokens; fit on %d windows (%d tokens), held-out %d windows (%d tokens)\n", t->spec,
           (long long)t->n_ids, t->fit_win, t->fit_win * t->ctx, t->held_win, t->held_win * t->ctx);
    QINS_TRY(qins_run_attr_str(run, group, "calib_slice", t->spec));
    QINS_TRY(qins_run_attr_int(run, group, "calib_fit_tokens", (int64_t)t->fit_win * t->ctx));
    QINS_TRY(qins_run_attr_int(run, group, "calib_heldout_tokens", (int64_t)t->held_win * t->ctx));
    return qins_run_attr_str(run, group, "heldout_source", "the calib_slice windows after the fit windows (never fitted on)");
}

// Feeds windows [first, first + n_win) to the splits set: the fit ones, then the held-out ones.
static int capture_windows(struct qins_calib *c, struct qins_model *m, const struct qins_calib_text *t, bool fit) {
    QINS_TRY(qins_calib_attach(c, m));
    int st = 0;
    if (fit) {
        qins_calib_set_heldout(c, false);
        st = qins_calib_run_windows(m, t->ids, t->n_ids, t->ctx, 0, t->fit_win, t->bos);
    }
    qins_calib_set_heldout(c, true);
    if (st == 0) st = qins_calib_run_windows(m, t->ids, t->n_ids, t->ctx, t->fit_win, t->held_win, t->bos);
    qins_model_clear_observers(m);
    return st;
}

int qins_calib_capture(struct qins_calib *c, struct qins_model *m, const struct qins_calib_text *t,
                       uint64_t layer_mask, const struct qins_calib_opts *opts) {
    struct qins_calib_opts o;
    if (opts) o = *opts;
    else qins_calib_opts_default(&o);
    o.max_rows = (int64_t)t->fit_win * t->ctx; // every fit row: lstsq uses them all
    o.max_heldout = (int64_t)t->held_win * t->ctx;
    QINS_TRY(qins_calib_init(c, m, layer_mask, &o));
    QINS_TRY(capture_windows(c, m, t, true));
    return qins_calib_finish(c);
}

int qins_calib_capture_heldout(struct qins_calib *c, struct qins_model *m, const struct qins_calib_text *t,
                               uint64_t layer_mask, const struct qins_calib_opts *opts) {
    struct qins_calib_opts o;
    if (opts) o = *opts;
    else qins_calib_opts_default(&o);
    // the reservoir holds every row while they fit: rows stay in order
    o.max_rows = 0, o.reservoir = 1, o.max_heldout = (int64_t)t->held_win * t->ctx;
    QINS_TRY(qins_calib_init(c, m, layer_mask, &o));
    return capture_windows(c, m, t, false);
}
