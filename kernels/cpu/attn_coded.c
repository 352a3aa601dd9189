// kernels/cpu/attn_coded.c — attention over coded KV pages: the scalar reference, the dispatcher
// onto the SIMD chunk kernels (attn_coded_simd.inc, instantiated in attn_avx2.c / attn_avx512.c),
// and the chunk / rows drivers that join the coded pages with the FP32 fill rows.
#include "attn_coded.h"

#include <math.h>
#include <string.h>

#include "common.h"
#include "cpu_features.h"

// ---- reference

// Value (r, c) of a stream exactly as core/kv_paged.c's page decode gives it: lut[code] * scale.
static float value_ref(const struct qins_attn_coded *s, size_t r, size_t c) {
    const size_t pg = r / (size_t)s->page_tokens, rr = r % (size_t)s->page_tokens;
    const uint8_t *payload = s->page0 + pg * s->page_stride;
    const size_t g = qins_attn_coded_group_of(s, rr, c);
    const float scale = qins_fp16_to_f32((uint16_t)(payload[2 * g] | (payload[2 * g + 1] << 8)));
    const uint8_t *codes = payload + 2 * qins_attn_coded_n_groups(s);
    return s->lut[qins_attn_code_at(codes, rr * (size_t)s->cols + c, s->bits)] * scale;
}

void qins_attn_coded_chunk_ref(const float *q, int n_kv, int G, const struct qins_attn_paged *kv, size_t row,
                               size_t col, int n, int D, float scale, float *scores, float *m, float *l, float *o) {
    for (int i = 0; i < n_kv * G; i++) {
        float *sc = scores + (size_t)i * QINS_ATTN_CHUNK, *og = o + (size_t)i * D;
        const float *qg = q + (size_t)i * D;
        const size_t c0 = col + (size_t)(i / G) * D;
        float mx = -INFINITY;
        for (int j = 0; j < n; j++) {
            float dot = 0;
            for (int d = 0; d < D; d++) dot += qg[d] * value_ref(&kv->k, row + (size_t)j, c0 + (size_t)d);
            sc[j] = dot * scale;
            if (sc[j] > mx) mx = sc[j];
        }
        float sum = 0;
        for (int j = 0; j < n; j++) {
            sc[j] = expf(sc[j] - mx);
            sum += sc[j];
        }
        m[i] = mx, l[i] = sum;
        for (int d = 0; d < D; d++) og[d] = 0;
        for (int j = 0; j < n; j++)
            for (int d = 0; d < D; d++) og[d] += sc[j] * value_ref(&kv->v, row + (size_t)j, c0 + (size_t)d);
    }
}

// ---- dispatch

static int stream_simd_ok(const struct qins_attn_coded *s, size_t col, int D) {
    const size_t k = (size_t)s->bits;
    return k <= 8 && ((size_t)s->cols * k) % 8 == 0 && (col * k) % 8 == 0 && ((size_t)D * k) % 8 == 0 &&
           (s->scales != QINS_ATTN_SCALE_GROUP || ((size_t)s->group_size * k) % 8 == 0);
}

int qins_attn_coded_simd_ok(const struct qins_attn_paged *kv, size_t col, int D) {
    return stream_simd_ok(&kv->k, col, D) && stream_simd_ok(&kv->v, col, D);
}

void qins_attn_coded_chunk(const float *q, int n_kv, int G, const struct qins_attn_paged *kv, size_t row, size_t col,
                           int n, int D, float scale, float *scores, float *m, float *l, float *o) {
    // the same switch as kernels/attn.h's dispatcher (qins_attn_set_simd turns both off)
    const int level = qins_attn_have_avx512() ? 2 : qins_attn_have_avx2() ? 1 : 0;
    if (level && qins_attn_coded_simd_ok(kv, col, D)) {
        if (level == 2) qins_attn_coded_chunk_avx512(q, n_kv, G, kv, row, col, n, D, scale, scores, m, l, o);
        else qins_attn_coded_chunk_avx2(q, n_kv, G, kv, row, col, n, D, scale, scores, m, l, o);
    } else {
        qins_attn_coded_chunk_ref(q, n_kv, G, kv, row, col, n, D, scale, scores, m, l, o);
    }
}

// ---- drivers

void qins_attn_paged_chunk(const float *q, int n_kv, int G, const struct qins_attn_paged *kv, size_t row, size_t col,
                           int n, int D, float scale, float *scores, float *m, float *l, float *o, float *tmp) {
    const size_t nc = (size_t)kv->n_coded;
    const int n_code = row >= nc ? 0 : row + (size_t)n <= nc ? n : (int)(nc - row);
    if (n_code > 0) qins_attn_coded_chunk(q, n_kv, G, kv, row, col, n_code, D, scale, scores, m, l, o);
    if (n_code == n) return;
    const size_t f0 = row + (size_t)n_code - nc, cols = (size_t)kv->k.cols;
    const struct qins_attn_kv fill = {kv->fill_k + f0 * cols + col, kv->fill_v + f0 * cols + col, QINS_ATTN_F32, cols};
    if (n_code == 0) {
        qins_attn_chunk(q, n_kv, G, &fill, n, D, scale, scores, m, l, o);
        return;
    }
    const int heads = n_kv * G;
    float *mt = tmp, *lt = mt + heads, *ot = lt + heads;
    qins_attn_chunk(q, n_kv, G, &fill, n - n_code, D, scale, scores, mt, lt, ot);
    qins_attn_merge(heads, D, m, l, o, mt, lt, ot);
}

void qins_attn_paged_rows(const float *q, int n_kv, int G, const struct qins_attn_paged *kv, size_t row0, size_t col,
                          int n, int D, float scale, float *scratch, float *out) {
    const int heads = n_kv * G;
    // qins_attn_rows_chunked's layout, then the straddling chunk's (D + 2) floats per head
    float *sc = scratch, *m = sc + (size_t)heads * QINS_ATTN_CHUNK, *l = m + heads, *mt = l + heads, *lt = mt + heads,
          *ot = lt + heads, *tmp = ot + (size_t)heads * D;
    qins_attn_paged_chunk(q, n_kv, G, kv, row0, col, n < QINS_ATTN_CHUNK ? n : QINS_ATTN_CHUNK, D, scale, sc, m, l,
                          out, tmp);
    for (int j = QINS_ATTN_CHUNK; j < n; j += QINS_ATTN_CHUNK) {
        qins_attn_paged_chunk(q, n_kv, G, kv, row0 + (size_t)j, col, n - j < QINS_ATTN_CHUNK ? n - j : QINS_ATTN_CHUNK,
                              D, scale, sc, mt, lt, ot, tmp);
        qins_attn_merge(heads, D, m, l, out, mt, lt, ot);
    }
    qins_attn_finish(heads, D, l, out, out);
}
