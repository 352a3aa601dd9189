// core/forward.c — the transformer forward pass, read top to bottom: ops, then one layer,
// then the whole model. Every projection goes through its linear slot; every named tensor is
// shown to the observers; K/V go through the store interface.
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "attn.h"
#include "attn_coded.h"
#include "common.h"
#include "model.h"
#include "profile.h"

// ---------------------------------------------------------------------------------------------
// ops

// out (n) = x (n) * w (n) / sqrt(mean(x^2) + eps); the sum in double as ggml does.
static void rmsnorm(float *out, const float *x, const float *w, int n, float eps) {
    double ss = 0;
    for (int i = 0; i < n; i++) ss += (double)x[i] * x[i];
    float scale = (float)(1.0 / sqrt(ss / n + eps));
    for (int i = 0; i < n; i++) out[i] = x[i] * scale * w[i];
}

// Rotates the first n_rot dims of each head of x (n_heads*head_dim) at cache row `pos`.
static void rope(float *x, int n_heads, int head_dim, int n_rot, bool neox, const float *cos_row, const float *sin_row) {
    const int half = n_rot / 2;
    for (int h = 0; h < n_heads; h++) {
        float *v = x + (size_t)h * head_dim;
        for (int i = 0; i < half; i++) {
            int a = neox ? i : 2 * i, b = neox ? i + half : 2 * i + 1;
            float x0 = v[a], x1 = v[b], c = cos_row[i], s = sin_row[i];
            v[a] = x0 * c - x1 * s;
            v[b] = x0 * s + x1 * c;
        }
    }
}

static inline float silu(float x) { return x / (1.0f + expf(-x)); }

// Profiler hooks (core/profile.h): a begin/end pair around an op; a NULL check when no profile
// is attached.
static inline uint64_t prof_t0(const struct qins_model *m) { return m->profile ? qins_profile_now_ns() : 0; }
static inline void prof_op(struct qins_model *m, enum qins_prof_op op, uint64_t t0, uint64_t bytes, uint64_t flops) {
    if (m->profile) qins_profile_add(m->profile, op, t0, bytes, flops);
}

static int linear(struct qins_model *m, struct qins_linear *lin, const float *x, int n_tok, float *y) {
    lin->n_calls++;
    lin->n_tokens += (uint64_t)n_tok;
    const uint64_t t0 = prof_t0(m);
    const int rc = lin->impl ? lin->impl(lin, x, n_tok, y) : qins_linear_stored(lin, x, n_tok, y);
    if (m->profile) qins_profile_linear(m->profile, lin, n_tok, t0);
    return rc;
}

static void observe(struct qins_model *m, int layer, enum qins_site site, const float *x, int n_tok, int dim) {
    for (int i = 0; i < m->n_observers; i++) m->observers[i].fn(m->observers[i].user, layer, site, x, n_tok, dim);
}

// Causal (optionally sliding-window) attention of n_tok queries at positions pos0.. over the
// first pos0+n_tok cache rows, read in the type the store keeps them (FP32 or binary16). The
// kernel works on chunks of QINS_ATTN_CHUNK positions for a block of KV heads and the query
// heads sharing them (kernels/attn.h); a block covers whole cache rows where it can, since a
// whole row streams at about twice the speed of one head's slice of it.
//   prompt (n_tok > 1): one work item per (token, block), its chunks merged in order.
//   decode (n_tok = 1): too few blocks to keep the threads busy, so the positions are split:
//     items are (chunk, block) pairs, chunk-major so each thread streams one run of whole rows;
//     their partials then merge per head in chunk order (flash-decoding's split-K).
// Both run the same chunk partials and the same merges in the same order, so no result depends
// on the thread count, on the mode, or on how heads are blocked. With pg (a store's coded view,
// kernels/attn_coded.h) the same items and merges read the coded pages instead of kv.
static void attention(const struct qins_hparams *hp, struct qins_state *s, int n_tok, int pos0,
                      const struct qins_attn_kv *kv, const struct qins_attn_paged *pg) {
    const int H = hp->n_head, Hkv = hp->n_head_kv, D = hp->head_dim, kv_dim = Hkv * D, group = H / Hkv;
    const float scale = 1.0f / sqrtf((float)D);
    int n_threads = omp_get_max_threads();
    if (n_threads > s->n_threads_scratch) n_threads = s->n_threads_scratch;
    const int block = s->attn_heads / group < Hkv ? s->attn_heads / group : Hkv, n_blocks = (Hkv + block - 1) / block;
    const size_t scratch_floats = qins_attn_scratch_floats(block * group, D);
    if (n_tok == 1) {
        const int p = pos0, j0 = hp->sliding_window > 0 && p - hp->sliding_window + 1 > 0 ? p - hp->sliding_window + 1 : 0;
        const int n = p - j0 + 1, n_chunks = (n + QINS_ATTN_CHUNK - 1) / QINS_ATTN_CHUNK;
        float *po = s->attn_part, *pm = po + (size_t)s->attn_part_chunks * H * D, *pl = pm + (size_t)s->attn_part_chunks * H;
        // a parallel region pays off only with enough cache rows behind it; OpenBLAS runs in the
        // same OpenMP pool, so the threads do not fight its own
        const bool parallel = n_threads > 1 && (size_t)n * kv_dim >= 65536;
#pragma omp parallel num_threads(n_threads) if (parallel)
        {
            float *sc = s->attn_scratch + (size_t)omp_get_thread_num() * scratch_floats;
#pragma omp for schedule(static)
            for (int item = 0; item < n_chunks * n_blocks; item++) {
                const int c = item / n_blocks, h0 = (item % n_blocks) * block, n_kv = Hkv - h0 < block ? Hkv - h0 : block;
                const int j = c * QINS_ATTN_CHUNK, len = n - j < QINS_ATTN_CHUNK ? n - j : QINS_ATTN_CHUNK;
                const size_t i0 = (size_t)c * H + (size_t)h0 * group;
                if (pg) {
                    qins_attn_paged_chunk(s->q + (size_t)h0 * group * D, n_kv, group, pg, (size_t)(j0 + j),
                                          (size_t)h0 * D, len, D, scale, sc, pm + i0, pl + i0, po + i0 * D,
                                          sc + (size_t)block * group * QINS_ATTN_CHUNK);
                    continue;
                }
                const struct qins_attn_kv ck = qins_attn_kv_at(kv, (size_t)(j0 + j), (size_t)h0 * D);
                qins_attn_chunk(s->q + (size_t)h0 * group * D, n_kv, group, &ck, len, D, scale, sc, pm + i0, pl + i0,
                                po + i0 * D);
            }
#pragma omp for schedule(static)
            for (int i = 0; i < H; i++) {
                for (int c = 1; c < n_chunks; c++) {
                    const size_t ic = (size_t)c * H + i;
                    qins_attn_merge(1, D, pm + i, pl + i, po + (size_t)i * D, pm + ic, pl + ic, po + ic * D);
                }
                qins_attn_finish(1, D, pl + i, po + (size_t)i * D, s->att + (size_t)i * D);
            }
        }
        return;
    }
    // round-robin: causal rows grow with the token, so neighbouring items cost about the same
#pragma omp parallel for schedule(static, 1) num_threads(n_threads) if (n_threads > 1)
    for (int item = 0; item < n_tok * n_blocks; item++) {
        const int t = item / n_blocks, h0 = (item % n_blocks) * block, p = pos0 + t;
        const int n_kv = Hkv - h0 < block ? Hkv - h0 : block;
        const int j0 = hp->sliding_window > 0 && p - hp->sliding_window + 1 > 0 ? p - hp->sliding_window + 1 : 0;
        const size_t q_off = (size_t)t * H * D + (size_t)h0 * group * D;
        float *scratch = s->attn_scratch + (size_t)omp_get_thread_num() * scratch_floats;
        if (pg) {
            qins_attn_paged_rows(s->q + q_off, n_kv, group, pg, (size_t)j0, (size_t)h0 * D, p - j0 + 1, D, scale,
                                 scratch, s->att + q_off);
            continue;
        }
        const struct qins_attn_kv ck = qins_attn_kv_at(kv, (size_t)j0, (size_t)h0 * D);
        qins_attn_rows(s->q + q_off, n_kv, group, &ck, p - j0 + 1, D, scale, scratch, s->att + q_off);
    }
}

// ---------------------------------------------------------------------------------------------
// one layer: x (T, E) is updated in place

static int layer_forward(struct qins_model *m, struct qins_state *s, int l, int n_tok, int pos0) {
    const struct qins_hparams *hp = &m->hp;
    struct qins_layer *L = &m->layers[l];
    const int E = hp->n_embd, D = hp->head_dim, qd = hp->n_head * D, kvd = hp->n_head_kv * D, F = hp->n_ff;
    const int half = hp->n_rot / 2;
    const uint64_t T = (uint64_t)n_tok;

    uint64_t t0 = prof_t0(m);
    for (int t = 0; t < n_tok; t++) rmsnorm(s->xb + (size_t)t * E, s->x + (size_t)t * E, L->attn_norm, E, hp->rms_eps);
    prof_op(m, QINS_PROF_NORM, t0, 4u * E, 4 * T * E);
    observe(m, l, QINS_SITE_ATTN_IN, s->xb, n_tok, E);
    QINS_TRY(linear(m, &L->wq, s->xb, n_tok, s->q));
    QINS_TRY(linear(m, &L->wk, s->xb, n_tok, s->k));
    QINS_TRY(linear(m, &L->wv, s->xb, n_tok, s->v));
    observe(m, l, QINS_SITE_Q, s->q, n_tok, qd);
    observe(m, l, QINS_SITE_K, s->k, n_tok, kvd);
    observe(m, l, QINS_SITE_V, s->v, n_tok, kvd);
    t0 = prof_t0(m);
    for (int t = 0; t < n_tok; t++) {
        const float *c = s->rope_cos + (size_t)(pos0 + t) * half, *sn = s->rope_sin + (size_t)(pos0 + t) * half;
        rope(s->q + (size_t)t * qd, hp->n_head, D, hp->n_rot, hp->rope_neox, c, sn);
        rope(s->k + (size_t)t * kvd, hp->n_head_kv, D, hp->n_rot, hp->rope_neox, c, sn);
    }
    prof_op(m, QINS_PROF_ROPE, t0, T * 2 * 4 * half, T * 3 * hp->n_rot * (hp->n_head + hp->n_head_kv));
    t0 = prof_t0(m);
    QINS_TRY(qins_kv_append(s->kv, l, pos0, n_tok, s->k, s->v));
    if (m->profile) qins_profile_kv(m->profile, QINS_PROF_KV_APPEND, s->kv, t0);
    enum qins_kv_elem type = QINS_KV_ELEM_F32;
    const void *kc = NULL, *vc = NULL;
    struct qins_attn_paged pg;
    t0 = prof_t0(m);
    const int coded = qins_kv_view_coded(s->kv, l, pos0 + n_tok, &pg);
    QINS_TRY(coded);
    if (!coded) QINS_TRY(qins_kv_view_native(s->kv, l, pos0 + n_tok, &type, &kc, &vc));
    if (m->profile) qins_profile_kv(m->profile, QINS_PROF_KV_VIEW, s->kv, t0);
    const struct qins_attn_kv kv = {kc, vc, type == QINS_KV_ELEM_F16 ? QINS_ATTN_F16 : QINS_ATTN_F32, (size_t)kvd};
    t0 = prof_t0(m);
    attention(hp, s, n_tok, pos0, &kv, coded ? &pg : NULL);
    // Coded pages count their code bytes per value (k/8; scales and the FP32 fill page aside).
    if (m->profile)
        qins_profile_attention(m->profile, hp, n_tok, pos0,
                               coded ? pg.k.bits / 8.0 : (type == QINS_KV_ELEM_F16 ? 2.0 : 4.0), t0);
    observe(m, l, QINS_SITE_ATTN_OUT, s->att, n_tok, qd);
    QINS_TRY(linear(m, &L->wo, s->att, n_tok, s->xb2));
    observe(m, l, QINS_SITE_O, s->xb2, n_tok, E);
    t0 = prof_t0(m);
    for (size_t i = 0; i < (size_t)n_tok * E; i++) s->x[i] += s->xb2[i];
    prof_op(m, QINS_PROF_ACT, t0, 0, T * E);

    t0 = prof_t0(m);
    for (int t = 0; t < n_tok; t++) rmsnorm(s->xb + (size_t)t * E, s->x + (size_t)t * E, L->ffn_norm, E, hp->rms_eps);
    prof_op(m, QINS_PROF_NORM, t0, 4u * E, 4 * T * E);
    observe(m, l, QINS_SITE_FFN_IN, s->xb, n_tok, E);
    QINS_TRY(linear(m, &L->wgate, s->xb, n_tok, s->hb));
    QINS_TRY(linear(m, &L->wup, s->xb, n_tok, s->hb2));
    observe(m, l, QINS_SITE_GATE, s->hb, n_tok, F);
    observe(m, l, QINS_SITE_UP, s->hb2, n_tok, F);
    t0 = prof_t0(m);
    if (L->wgate.silu_applied) // the gate slot's output is SiLU(gate) already (a QINS-domain table)
        for (size_t i = 0; i < (size_t)n_tok * F; i++) s->hb[i] *= s->hb2[i];
    else
        for (size_t i = 0; i < (size_t)n_tok * F; i++) s->hb[i] = silu(s->hb[i]) * s->hb2[i];
    prof_op(m, QINS_PROF_ACT, t0, 0, 5 * T * F);
    observe(m, l, QINS_SITE_FFN_ACT, s->hb, n_tok, F);
    QINS_TRY(linear(m, &L->wdown, s->hb, n_tok, s->xb2));
    observe(m, l, QINS_SITE_DOWN, s->xb2, n_tok, E);
    t0 = prof_t0(m);
    for (size_t i = 0; i < (size_t)n_tok * E; i++) s->x[i] += s->xb2[i];
    prof_op(m, QINS_PROF_ACT, t0, 0, T * E);
    observe(m, l, QINS_SITE_RESID, s->x, n_tok, E);
    return 0;
}

// ---------------------------------------------------------------------------------------------
// the model

int qins_forward(struct qins_model *m, struct qins_state *s, const int32_t *tokens, int n_tok, int pos0,
                 bool all_logits) {
    const struct qins_hparams *hp = &m->hp;
    const int E = hp->n_embd, V = hp->n_vocab;
    QINS_CHECK(n_tok > 0 && n_tok <= s->max_batch, QINS_ERR_RANGE, "forward: batch of %d tokens (max %d)", n_tok,
               s->max_batch);
    QINS_CHECK(pos0 >= 0 && pos0 + n_tok <= s->n_ctx, QINS_ERR_RANGE,
               "forward: positions %d..%d exceed the context of %d tokens", pos0, pos0 + n_tok - 1, s->n_ctx);
    const uint64_t t_fwd = m->profile ? qins_profile_forward_begin(m->profile, s->kv, n_tok) : 0;
    uint64_t t0 = prof_t0(m);
    for (int t = 0; t < n_tok; t++) {
        QINS_CHECK(tokens[t] >= 0 && tokens[t] < V, QINS_ERR_RANGE, "forward: token id %d outside the vocabulary of %d",
                   tokens[t], V);
        qins_wmat_decode(&m->embd, tokens[t], 1, 0, E, s->x + (size_t)t * E, (size_t)E);
        if (m->embd_row_reads) m->embd_row_reads[tokens[t]]++;
    }
    prof_op(m, QINS_PROF_EMBED, t0, (uint64_t)n_tok * m->embd.row_bytes, 0);
    for (int l = 0; l < hp->n_layer; l++) QINS_TRY(layer_forward(m, s, l, n_tok, pos0));
    const int first = all_logits ? 0 : n_tok - 1, n_out = all_logits ? n_tok : 1;
    t0 = prof_t0(m);
    for (int t = 0; t < n_out; t++)
        rmsnorm(s->xb + (size_t)t * E, s->x + (size_t)(first + t) * E, m->output_norm, E, hp->rms_eps);
    prof_op(m, QINS_PROF_NORM, t0, 4u * E, 4ull * n_out * E);
    QINS_TRY(linear(m, &m->output, s->xb, n_out, s->logits));
    observe(m, -1, QINS_SITE_LOGITS, s->logits, n_out, V);
    m->counters.forward_calls++;
    m->counters.tokens += (uint64_t)n_tok;
    if (m->profile) qins_profile_forward_end(m->profile, s->kv, t_fwd);
    return 0;
}

// ---------------------------------------------------------------------------------------------
// state

int qins_state_init(const struct qins_model *m, int n_ctx, int max_batch, struct qins_kv_store *kv,
                    struct qins_state **out) {
    *out = NULL;
    const struct qins_hparams *hp = &m->hp;
    QINS_CHECK(n_ctx > 0 && n_ctx <= hp->n_ctx_train, QINS_ERR_ARG,
               "context %d is larger than the model's context length %d (or not positive)", n_ctx, hp->n_ctx_train);
    QINS_CHECK(max_batch > 0 && max_batch <= n_ctx, QINS_ERR_ARG, "batch %d with context %d", max_batch, n_ctx);
    QINS_CHECK(kv && kv->n_layer == hp->n_layer && kv->n_ctx >= n_ctx && kv->kv_dim == hp->n_head_kv * hp->head_dim,
               QINS_ERR_ARG, "kv store does not match the model (layers, context or kv width)");
    struct qins_state *s = calloc(1, sizeof *s);
    QINS_CHECK(s, QINS_ERR_NOMEM, "out of memory");
    const size_t B = (size_t)max_batch, E = hp->n_embd, qd = (size_t)hp->n_head * hp->head_dim,
                 kvd = (size_t)hp->n_head_kv * hp->head_dim, F = hp->n_ff, V = hp->n_vocab, half = hp->n_rot / 2;
    s->n_ctx = n_ctx;
    s->max_batch = max_batch;
    s->kv = kv;
    s->n_threads_scratch = omp_get_num_procs() > omp_get_max_threads() ? omp_get_num_procs() : omp_get_max_threads();
    s->x = calloc(B * E, 4);
    s->xb = calloc(B * E, 4);
    s->xb2 = calloc(B * E, 4);
    s->q = calloc(B * qd, 4);
    s->k = calloc(B * kvd, 4);
    s->v = calloc(B * kvd, 4);
    s->att = calloc(B * qd, 4);
    s->hb = calloc(B * F, 4);
    s->hb2 = calloc(B * F, 4);
    s->logits = calloc(B * V, 4);
    const int group = hp->n_head / hp->n_head_kv;
    // query heads per work item: whole KV-head groups, up to QINS_ATTN_BLOCK_Q of them
    s->attn_heads = group > QINS_ATTN_BLOCK_Q ? group : (QINS_ATTN_BLOCK_Q / group) * group;
    if (s->attn_heads > hp->n_head) s->attn_heads = hp->n_head;
    s->attn_scratch = calloc((size_t)s->n_threads_scratch * qins_attn_scratch_floats(s->attn_heads, hp->head_dim), 4);
    s->attn_part_chunks = (n_ctx + QINS_ATTN_CHUNK - 1) / QINS_ATTN_CHUNK;
    s->attn_part = calloc((size_t)s->attn_part_chunks * hp->n_head * (hp->head_dim + 2), 4);
    s->rope_cos = calloc((size_t)n_ctx * half, 4);
    s->rope_sin = calloc((size_t)n_ctx * half, 4);
    if (!s->x || !s->xb || !s->xb2 || !s->q || !s->k || !s->v || !s->att || !s->hb || !s->hb2 || !s->logits ||
        !s->attn_scratch || !s->attn_part || !s->rope_cos || !s->rope_sin) {
        qins_state_free(s);
        QINS_CHECK(0, QINS_ERR_NOMEM, "out of memory for a context of %d", n_ctx);
    }
    // LongRoPE (phi3): llama.cpp picks the long factors when the context exceeds the original
    // training context, the short ones otherwise; attn_factor scales cos/sin.
    const float *factors = NULL;
    if (m->rope_short || m->rope_long)
        factors = (hp->n_ctx_orig > 0 && n_ctx > hp->n_ctx_orig && m->rope_long) ? m->rope_long : m->rope_short;
    const float mscale = hp->rope_attn_factor;
    for (size_t i = 0; i < half; i++) {
        double inv_freq = pow((double)hp->rope_base, -2.0 * (double)i / hp->n_rot);
        if (factors) inv_freq /= factors[i];
        for (int p = 0; p < n_ctx; p++) {
            double theta = p * inv_freq;
            s->rope_cos[(size_t)p * half + i] = (float)cos(theta) * mscale;
            s->rope_sin[(size_t)p * half + i] = (float)sin(theta) * mscale;
        }
    }
    *out = s;
    return 0;
}

void qins_state_free(struct qins_state *s) {
    if (!s) return;
    free(s->x); free(s->xb); free(s->xb2); free(s->q); free(s->k); free(s->v); free(s->att);
    free(s->hb); free(s->hb2); free(s->logits); free(s->attn_scratch); free(s->attn_part); free(s->rope_cos); free(s->rope_sin);
    free(s);
}
