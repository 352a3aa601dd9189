// kernels/attn_coded.h — attention over coded KV pages (the layout core/kv_paged.c keeps) without
// decoding them into a buffer: QKᵀ and softmax·V read the k-bit codes, decode them by table in
// registers and apply the FP16 scales once per dot (page/row scales) or per group segment; the
// FP32 fill page goes through kernels/attn.h. Scalar _ref, AVX2 and AVX-512 paths (runtime
// dispatch), the same chunking and merge order as kernels/attn.h. Owns no state, no threads. No errors.
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "attn.h"

// Which values of a page share one FP16 scale (core/codec.h's PER_TENSOR, PER_ROW, PER_GROUP).
enum qins_attn_scales { QINS_ATTN_SCALE_PAGE, QINS_ATTN_SCALE_ROW, QINS_ATTN_SCALE_GROUP };

// One stream (K or V of one layer) of full pages. Page p's payload starts at page0 + p*page_stride
// and is core/codec.h's block of (page_tokens, cols): n_groups FP16 scales, then the codes,
// k bits each, row-major, LSB-first. Value (r, c) of a page = lut[code] * scale(r, c).
struct qins_attn_coded {
    const uint8_t *page0;
    size_t page_stride;   // bytes from one page's payload to the next (header included)
    int page_tokens;      // rows per page
    int cols;             // values per row (kv_dim)
    int bits;             // k, 2..12
    enum qins_attn_scales scales;
    int group_size;       // SCALE_GROUP: values per group along a row (the row's last may be shorter)
    const float *lut;     // (2^k) code values in units of the scale
};

// A layer's cache as attention reads it: positions < n_coded from the pages of k and v (the same
// page_tokens), positions from n_coded on from the FP32 rows fill_k / fill_v (cols apart).
struct qins_attn_paged {
    struct qins_attn_coded k, v;
    int n_coded;
    const float *fill_k, *fill_v;
};

// Partial result (m, l, o as qins_attn_chunk) over positions row .. row+n-1 (all < n_coded,
// n <= QINS_ATTN_CHUNK) for KV heads starting at value `col` of a row (a block's first head at
// h0*D). The _ref decodes each value as lut[code]*scale and runs qins_attn_chunk_ref's
// arithmetic: bit for bit the decode-the-page-then-_ref result. The SIMD paths factor the
// scale out of each dot and into each softmax weight and use the polynomial exp of attn.h.
void qins_attn_coded_chunk_ref(const float *q, int n_kv, int G, const struct qins_attn_paged *kv, size_t row,
                               size_t col, int n, int D, float scale, float *scores, float *m, float *l, float *o);
void qins_attn_coded_chunk_avx2(const float *q, int n_kv, int G, const struct qins_attn_paged *kv, size_t row,
                                size_t col, int n, int D, float scale, float *scores, float *m, float *l, float *o);
void qins_attn_coded_chunk_avx512(const float *q, int n_kv, int G, const struct qins_attn_paged *kv, size_t row,
                                  size_t col, int n, int D, float scale, float *scores, float *m, float *l, float *o);
// Returns 1 when the SIMD paths take these streams and this block (k <= 8; every row, head and
// group starts on a byte of the code stream), else 0 (the dispatcher then runs the _ref).
int qins_attn_coded_simd_ok(const struct qins_attn_paged *kv, size_t col, int D);
// The best path for this CPU and these streams (the _ref with SIMD off, kernels/attn.h's switch).
void qins_attn_coded_chunk(const float *q, int n_kv, int G, const struct qins_attn_paged *kv, size_t row, size_t col,
                           int n, int D, float scale, float *scores, float *m, float *l, float *o);

// The chunk partial over positions row .. row+n-1 of the whole layer (n <= QINS_ATTN_CHUNK):
// coded rows through qins_attn_coded_chunk, fill rows through qins_attn_chunk, and a chunk that
// straddles the two their partials merged (coded first) in tmp ((n_kv*G)*(D+2) floats).
void qins_attn_paged_chunk(const float *q, int n_kv, int G, const struct qins_attn_paged *kv, size_t row, size_t col,
                           int n, int D, float scale, float *scores, float *m, float *l, float *o, float *tmp);
// qins_attn_rows over the paged layer: positions row0 .. row0+n-1, chunks of QINS_ATTN_CHUNK
// from row0 merged in order. scratch: qins_attn_scratch_floats(n_kv*G, D). Returns nothing.
void qins_attn_paged_rows(const float *q, int n_kv, int G, const struct qins_attn_paged *kv, size_t row0, size_t col,
                          int n, int D, float scale, float *scratch, float *out);

// Code `d` of a byte-aligned k-bit stream (k <= 12: at most three bytes, none past the code's last).
static inline uint32_t qins_attn_code_at(const uint8_t *cp, size_t d, int k) {
    const size_t b = d * (size_t)k, byte = b >> 3;
    const unsigned sh = (unsigned)(b & 7);
    uint32_t x = cp[byte];
    if (sh + (unsigned)k > 8) x |= (uint32_t)cp[byte + 1] << 8;
    if (sh + (unsigned)k > 16) x |= (uint32_t)cp[byte + 2] << 16;
    return (x >> sh) & ((1u << k) - 1);
}

// Scales of one page's payload and the scale of its value (r, c).
static inline size_t qins_attn_coded_groups_per_row(const struct qins_attn_coded *s) {
    return s->scales == QINS_ATTN_SCALE_GROUP ? ((size_t)s->cols + (size_t)s->group_size - 1) / (size_t)s->group_size
                                              : 1;
}
static inline size_t qins_attn_coded_n_groups(const struct qins_attn_coded *s) {
    return s->scales == QINS_ATTN_SCALE_PAGE ? 1 : (size_t)s->page_tokens * qins_attn_coded_groups_per_row(s);
}
static inline size_t qins_attn_coded_group_of(const struct qins_attn_coded *s, size_t r, size_t c) {
    switch (s->scales) {
    case QINS_ATTN_SCALE_PAGE: return 0;
    case QINS_ATTN_SCALE_ROW: return r;
    case QINS_ATTN_SCALE_GROUP: return r * qins_attn_coded_groups_per_row(s) + c / (size_t)s->group_size;
    }
    return 0;
}
