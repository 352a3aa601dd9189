// kernels/cpu/attn.c — attention over cached rows: the scalar two-pass reference, the scalar
// chunk kernel, the merge of chunk partials in chunk order, and the dispatcher onto the SIMD
// chunk kernels (attn_avx2.c, attn_avx512.c: one body, attn_simd.inc); F32 or binary16 rows.
// Dispatch reads kernels/cpu_features.h once.
#include "attn.h"

#include <math.h>
#include <stdint.h>

#include "common.h"
#include "cpu_features.h"

static int simd_enabled = 1;

void qins_attn_set_simd(int enable) { simd_enabled = enable; }

// 0 scalar, 1 AVX2+FMA+F16C, 2 AVX-512 F/BW/VL too (BW+VL: masked 16-bit loads of F16 tails).
int qins_attn_have_avx2(void) { return simd_enabled && qins_cpu_simd_level() >= 1; }
int qins_attn_have_avx512(void) { return simd_enabled && qins_cpu_simd_level() >= 2; }

// ---- reference

static inline float elem(const void *p, enum qins_attn_elem t, size_t i) {
    return t == QINS_ATTN_F16 ? qins_fp16_to_f32(((const uint16_t *)p)[i]) : ((const float *)p)[i];
}

// Scores of one query head over n rows of kv (its KV head at element h_off of each row), in
// place as sc[j] = e^(s_j - max), s_j = scale * q . k_j; returns the max, *sum = sum_j sc[j].
static float softmax_ref(const float *qg, const struct qins_attn_kv *kv, size_t h_off, int n, int D, float scale,
                         float *sc, float *sum) {
    float mx = -INFINITY;
    for (int j = 0; j < n; j++) {
        float dot = 0;
        for (int d = 0; d < D; d++) dot += qg[d] * elem(kv->k, kv->type, (size_t)j * kv->stride + h_off + d);
        sc[j] = dot * scale;
        if (sc[j] > mx) mx = sc[j];
    }
    float s = 0;
    for (int j = 0; j < n; j++) {
        sc[j] = expf(sc[j] - mx);
        s += sc[j];
    }
    *sum = s;
    return mx;
}

void qins_attn_rows_ref(const float *q, int n_kv, int G, const float *k, const float *v, size_t stride, int n, int D,
                        float scale, float *scores, float *out) {
    const struct qins_attn_kv kv = {k, v, QINS_ATTN_F32, stride};
    for (int i = 0; i < n_kv * G; i++) {
        float *sc = scores + (size_t)i * n, *og = out + (size_t)i * D, sum;
        const size_t h_off = (size_t)(i / G) * D;
        softmax_ref(q + (size_t)i * D, &kv, h_off, n, D, scale, sc, &sum);
        const float inv = 1.0f / sum;
        for (int d = 0; d < D; d++) og[d] = 0;
        for (int j = 0; j < n; j++) {
            const float *vr = v + (size_t)j * stride + h_off, a = sc[j] * inv;
            for (int d = 0; d < D; d++) og[d] += a * vr[d];
        }
    }
}

void qins_attn_chunk_ref(const float *q, int n_kv, int G, const struct qins_attn_kv *kv, int n, int D, float scale,
                         float *scores, float *m, float *l, float *o) {
    for (int i = 0; i < n_kv * G; i++) {
        float *sc = scores + (size_t)i * QINS_ATTN_CHUNK, *og = o + (size_t)i * D;
        const size_t h_off = (size_t)(i / G) * D;
        m[i] = softmax_ref(q + (size_t)i * D, kv, h_off, n, D, scale, sc, &l[i]);
        for (int d = 0; d < D; d++) og[d] = 0;
        for (int j = 0; j < n; j++)
            for (int d = 0; d < D; d++) og[d] += sc[j] * elem(kv->v, kv->type, (size_t)j * kv->stride + h_off + d);
    }
}

// ---- merging (plain C on every path)

void qins_attn_merge(int heads, int D, float *m, float *l, float *o, const float *mb, const float *lb,
                     const float *ob) {
    for (int i = 0; i < heads; i++) {
        const float mx = m[i] > mb[i] ? m[i] : mb[i], fa = expf(m[i] - mx), fb = expf(mb[i] - mx);
        float *oi = o + (size_t)i * D;
        const float *bi = ob + (size_t)i * D;
        for (int d = 0; d < D; d++) oi[d] = oi[d] * fa + bi[d] * fb;
        l[i] = l[i] * fa + lb[i] * fb;
        m[i] = mx;
    }
}

void qins_attn_finish(int heads, int D, const float *l, const float *o, float *out) {
    for (int i = 0; i < heads; i++) {
        const float inv = 1.0f / l[i];
        for (int d = 0; d < D; d++) out[(size_t)i * D + d] = o[(size_t)i * D + d] * inv;
    }
}

// ---- dispatch and the sequential driver

void qins_attn_chunk(const float *q, int n_kv, int G, const struct qins_attn_kv *kv, int n, int D, float scale,
                     float *scores, float *m, float *l, float *o) {
    const int level = simd_enabled ? qins_cpu_simd_level() : 0;
    if (level >= 2) qins_attn_chunk_avx512(q, n_kv, G, kv, n, D, scale, scores, m, l, o);
    else if (level == 1) qins_attn_chunk_avx2(q, n_kv, G, kv, n, D, scale, scores, m, l, o);
    else qins_attn_chunk_ref(q, n_kv, G, kv, n, D, scale, scores, m, l, o);
}

void qins_attn_rows_chunked(qins_attn_chunk_fn *chunk, const float *q, int n_kv, int G, const struct qins_attn_kv *kv,
                            int n, int D, float scale, float *scratch, float *out) {
    const int heads = n_kv * G;
    float *sc = scratch, *m = sc + (size_t)heads * QINS_ATTN_CHUNK, *l = m + heads, *mt = l + heads, *lt = mt + heads,
          *ot = lt + heads;
    chunk(q, n_kv, G, kv, n < QINS_ATTN_CHUNK ? n : QINS_ATTN_CHUNK, D, scale, sc, m, l, out);
    for (int j = QINS_ATTN_CHUNK; j < n; j += QINS_ATTN_CHUNK) {
        const struct qins_attn_kv c = qins_attn_kv_at(kv, (size_t)j, 0);
        chunk(q, n_kv, G, &c, n - j < QINS_ATTN_CHUNK ? n - j : QINS_ATTN_CHUNK, D, scale, sc, mt, lt, ot);
        qins_attn_merge(heads, D, m, l, out, mt, lt, ot);
    }
    qins_attn_finish(heads, D, l, out, out);
}

void qins_attn_rows(const float *q, int n_kv, int G, const struct qins_attn_kv *kv, int n, int D, float scale,
                    float *scratch, float *out) {
    qins_attn_rows_chunked(qins_attn_chunk, q, n_kv, G, kv, n, D, scale, scratch, out);
}
