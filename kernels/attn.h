// kernels/attn.h — scaled dot-product attention of one query row per head over a run of cached
// positions, for n_kv consecutive KV heads and the G query heads sharing each (GQA/MQA; G = 1
// without grouping), K/V rows in FP32 or binary16: a scalar reference, and a one-pass streaming
// kernel (AVX-512 or AVX2/FMA/F16C, chosen at run time) over fixed chunks of positions whose
// partial results merge in chunk order. Owns no state and does no threading. No errors.
#pragma once
#include <stddef.h>

// Query heads one caller's work item should cover at most (scratch of this many rows).
#define QINS_ATTN_BLOCK_Q 32
// Positions per chunk. Chunks start at multiples of this from the first position attended to
// and are merged in order, so a result depends on where chunks fall, never on which thread or
// call computed each one. 32 keeps a block's scores (32 heads) in 4 KiB of L1 and a 2-thread
// split of 512 positions within one chunk (6 %) of even.
#define QINS_ATTN_CHUNK 32

// Element type of the K/V rows. binary16 converts to FP32 exactly, so an F16 run gives bit for
// bit what the F32 kernel gives on the converted rows.
enum qins_attn_elem { QINS_ATTN_F32, QINS_ATTN_F16 };

// K/V rows: row j of KV head h is at element j*stride + h*D of k (and v); stride >= n_kv*D.
struct qins_attn_kv {
    const void *k, *v;          // (n, stride) elements of type
    enum qins_attn_elem type;
    size_t stride;              // elements from one row to the next
};

// The rows from position `row`, element `col` of each row on (the first head of a block at col).
static inline struct qins_attn_kv qins_attn_kv_at(const struct qins_attn_kv *kv, size_t row, size_t col) {
    const size_t off = (row * kv->stride + col) * (kv->type == QINS_ATTN_F16 ? 2 : 4);
    return (struct qins_attn_kv){(const char *)kv->k + off, (const char *)kv->v + off, kv->type, kv->stride};
}

// For KV head h < n_kv and query head g < G, with i = h*G + g:
//   out[i*D ..] = sum_j softmax_j(scale * q_i . k_j,h) * v_j,h over positions j < n, where
//   q      (n_kv*G, D)   query rows, contiguous
//   scores (n_kv*G, n)   scratch
//   out    (n_kv*G, D)
// Two passes (dots, max/exp/sum, weighted sum of V) in the order core/forward.c first had
// (expf, float sums): what every fast path is tested against. F32 rows only.
void qins_attn_rows_ref(const float *q, int n_kv, int G, const float *k, const float *v, size_t stride, int n, int D,
                        float scale, float *scores, float *out);

// Partial result of one chunk (n <= QINS_ATTN_CHUNK positions, rows from kv) for each head i:
//   m[i] = max_j s_ij, l[i] = sum_j e^(s_ij - m[i]), o[i*D ..] = sum_j e^(s_ij - m[i]) v_j,h
// with s_ij = scale * q_i . k_j,h. scores: (n_kv*G, QINS_ATTN_CHUNK) scratch. One pass over
// the chunk's K rows, then one over its V rows: every cache row is read once. Each head's partial does
// not depend on n_kv (how heads are blocked). The fast paths differ from the _ref in summation
// order (vector lanes) and exp (a polynomial, about 1 ulp).
void qins_attn_chunk_ref(const float *q, int n_kv, int G, const struct qins_attn_kv *kv, int n, int D, float scale,
                         float *scores, float *m, float *l, float *o);
// The same partial in 8 lanes (kernels/cpu/attn_avx2.c) and 16 lanes (attn_avx512.c), one body
// (attn_simd.inc): call only where qins_attn_have_avx2/avx512 says so. qins_attn_chunk: the best
// path this CPU has (the _ref with SIMD off).
void qins_attn_chunk_avx2(const float *q, int n_kv, int G, const struct qins_attn_kv *kv, int n, int D, float scale,
                          float *scores, float *m, float *l, float *o);
void qins_attn_chunk_avx512(const float *q, int n_kv, int G, const struct qins_attn_kv *kv, int n, int D,
                            float scale, float *scores, float *m, float *l, float *o);
void qins_attn_chunk(const float *q, int n_kv, int G, const struct qins_attn_kv *kv, int n, int D, float scale,
                     float *scores, float *m, float *l, float *o);

// Merges the partial (mb, lb, ob) of the next chunk into the running (m, l, o) of `heads`
// heads: one plain C path on every CPU, so merges never depend on the ISA. Returns nothing.
void qins_attn_merge(int heads, int D, float *m, float *l, float *o, const float *mb, const float *lb,
                     const float *ob);
// out[i*D ..] = o[i*D ..] / l[i] for `heads` heads (out may be o). Returns nothing.
void qins_attn_finish(int heads, int D, const float *l, const float *o, float *out);

// Floats of scratch qins_attn_rows needs for a block of `heads` query heads of dim D, with room
// for the (D + 2) floats per head more that kernels/attn_coded.h's chunk straddling coded and
// FP32 rows needs, so one scratch serves both.
static inline size_t qins_attn_scratch_floats(int heads, int D) {
    return (size_t)heads * (QINS_ATTN_CHUNK + 2 * (size_t)D + 6);
}
// The whole softmax-weighted sum over n >= 1 positions (the definition above), chunk after
// chunk on this thread: chunk 0's partial, merged with each next chunk's in order, finished.
// Bit for bit what a caller gets by computing the chunks anywhere and merging them the same
// way. scratch: qins_attn_scratch_floats(n_kv*G, D) floats. Returns nothing.
void qins_attn_rows(const float *q, int n_kv, int G, const struct qins_attn_kv *kv, int n, int D, float scale,
                    float *scratch, float *out);
// Any of the chunk kernels above.
typedef void qins_attn_chunk_fn(const float *q, int n_kv, int G, const struct qins_attn_kv *kv, int n, int D,
                                float scale, float *scores, float *m, float *l, float *o);
// qins_attn_rows with the chunk partials from `chunk` (qins_attn_rows passes qins_attn_chunk):
// how a test runs one chosen path end to end. Returns nothing.
void qins_attn_rows_chunked(qins_attn_chunk_fn *chunk, const float *q, int n_kv, int G, const struct qins_attn_kv *kv,
                            int n, int D, float scale, float *scratch, float *out);

// Forces the dispatcher onto the scalar path (0) or back to auto (1). Returns nothing.
void qins_attn_set_simd(int enable);
// Returns 1 when that path is available on this CPU (and SIMD enabled), else 0.
int qins_attn_have_avx2(void);
int qins_attn_have_avx512(void);
