// kernels/cpu/attn_avx512.c — qins_attn_chunk_avx512 (kernels/attn.h) and qins_attn_coded_chunk_avx512 (attn_coded.h): the chunk kernels of
// attn_simd.inc / attn_coded_simd.inc in 16 lanes (AVX-512 F/BW/VL; BW+VL for the masked 16-bit loads of F16 tails).
// Columns past the last whole vector are one masked step, and a chunk's scores are covered in
// whole masked vectors, so no scalar loop runs. Compiled for that target only here; the
// dispatcher in attn.c calls it only when CPUID and XGETBV say the CPU and the OS support it.
#include <immintrin.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "attn.h"
#include "attn_coded.h"
#include "common.h"
#include "simd_avx512.h" // last: it opens the target region

#define V_HALF(x) lo_plus_hi_avx512(x)
// The softmax's vectors cover the whole chunk (lanes past n masked).
#define V_SCORE_VECS(n) QINS_ATTN_CHUNK

// The first `left` lanes (none for left <= 0, all for left >= 16).
static inline __mmask16 mask_avx512(int left) {
    return left >= 16 ? (__mmask16)0xffff : left > 0 ? (__mmask16)((1u << left) - 1) : 0;
}

static inline __attribute__((always_inline)) __m512 ld_avx512(const char *p, int d, int f16) {
    return f16 ? _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(const void *)(p + 2 * (size_t)d)))
               : _mm512_loadu_ps((const float *)(const void *)p + d);
}

// Lanes outside mk read as 0 (masked loads do not fault past the end of a buffer).
static inline __attribute__((always_inline)) __m512 ldm_avx512(const char *p, int d, __mmask16 mk, int f16) {
    return f16 ? _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(mk, p + 2 * (size_t)d))
               : _mm512_maskz_loadu_ps(mk, (const float *)(const void *)p + d);
}

static inline __m256 lo_plus_hi_avx512(__m512 x) {
    return _mm256_add_ps(_mm512_castps512_ps256(x), _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(x), 1)));
}

// The D - d < 16 columns left as one masked step into the four sums; none left to the scalar loop.
static inline __attribute__((always_inline)) int dot4_tail_avx512(__m512 s[4], const float *a, const char *const b[4],
                                                                  int d, int D, int f16) {
    if (d < D) {
        const __mmask16 mk = mask_avx512(D - d);
        const __m512 x = _mm512_maskz_loadu_ps(mk, a + d);
        for (int r = 0; r < 4; r++) s[r] = _mm512_fmadd_ps(x, ldm_avx512(b[r], d, mk, f16), s[r]);
    }
    return D;
}

// Likewise for o (masked store: o holds exactly D floats per head).
static inline __attribute__((always_inline)) int axpy_tail_avx512(float *o, const __m512 wv[4], const char *const v[4],
                                                                  int nr, int d, int D, int f16) {
    if (d < D) {
        const __mmask16 mk = mask_avx512(D - d);
        __m512 x = _mm512_maskz_loadu_ps(mk, o + d);
        for (int r = 0; r < nr; r++) x = _mm512_fmadd_ps(wv[r], ldm_avx512(v[r], d, mk, f16), x);
        _mm512_mask_storeu_ps(o + d, mk, x);
    }
    return D;
}

// Scores j .. j+15 with the lanes from n on read as -inf, so they never win the max; after the
// exp, keep_scores makes their weight exactly 0.
static inline __m512 ld_scores_avx512(const float *sc, int j, int n) {
    return _mm512_mask_loadu_ps(_mm512_set1_ps(-INFINITY), mask_avx512(n - j), sc + j);
}
static inline __m512 keep_scores_avx512(__m512 e, int j, int n) { return _mm512_maskz_mov_ps(mask_avx512(n - j), e); }

#include "attn_simd.inc"

// ---- the coded-page kernel (attn_coded_simd.inc)

#define VI __m512i
#define CODED_MASKED_TAILS 1
#define CODED_LUT_VECS 4
#define CODED_BLK_VECS 1

static inline __attribute__((always_inline)) __m128i bytes_avx512(const uint8_t *p, int nb) {
    return _mm_maskz_loadu_epi8(nb >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << nb) - 1), p);
}

static inline __attribute__((always_inline)) __m512i widen8_avx512(__m128i b) { return _mm512_cvtepu8_epi32(b); }

// Lane r = the sum of a[r]: pairs of rows folded within 128-bit lanes, then the four lanes.
static inline __attribute__((always_inline)) __m512 hsum_rows_avx512(const __m512 a[16]) {
    __m512 b[8], c[4];
    for (int i = 0; i < 8; i++)
        b[i] = _mm512_add_ps(_mm512_unpacklo_ps(a[2 * i], a[2 * i + 1]), _mm512_unpackhi_ps(a[2 * i], a[2 * i + 1]));
    for (int i = 0; i < 4; i++)
        c[i] = _mm512_add_ps(_mm512_shuffle_ps(b[2 * i], b[2 * i + 1], 0x44), _mm512_shuffle_ps(b[2 * i], b[2 * i + 1], 0xee));
    const __m512 d01 = _mm512_add_ps(_mm512_shuffle_f32x4(c[0], c[1], _MM_SHUFFLE(2, 0, 2, 0)),
                                     _mm512_shuffle_f32x4(c[0], c[1], _MM_SHUFFLE(3, 1, 3, 1)));
    const __m512 d23 = _mm512_add_ps(_mm512_shuffle_f32x4(c[2], c[3], _MM_SHUFFLE(2, 0, 2, 0)),
                                     _mm512_shuffle_f32x4(c[2], c[3], _MM_SHUFFLE(3, 1, 3, 1)));
    return _mm512_add_ps(_mm512_shuffle_f32x4(d01, d23, _MM_SHUFFLE(2, 0, 2, 0)),
                         _mm512_shuffle_f32x4(d01, d23, _MM_SHUFFLE(3, 1, 3, 1)));
}

static inline __attribute__((always_inline)) __m512i idx_avx512(__m128i b, __m512i shuf, __m512i shift, __m512i mask) {
    const __m512i x = _mm512_shuffle_epi8(_mm512_broadcast_i32x4(b), shuf);
    return _mm512_and_si512(_mm512_srlv_epi32(x, shift), mask);
}

// k <= 4: one permute; 5: a two-table permute; 6: two of those and a blend on bit 5; wider: a gather.
static inline __attribute__((always_inline)) __m512 lut_avx512(__m512i idx, const __m512 l[4], const float *lut,
                                                               int k) {
    if (k <= 4) return _mm512_permutexvar_ps(idx, l[0]);
    if (k == 5) return _mm512_permutex2var_ps(l[0], idx, l[1]);
    if (k == 6)
        return _mm512_mask_blend_ps(_mm512_test_epi32_mask(idx, _mm512_set1_epi32(32)),
                                    _mm512_permutex2var_ps(l[0], idx, l[1]), _mm512_permutex2var_ps(l[2], idx, l[3]));
    return _mm512_i32gather_ps(idx, lut, 4);
}

static inline __attribute__((always_inline)) __m512 ldq_avx512(const float *p, int rem) {
    return _mm512_maskz_loadu_ps(mask_avx512(rem), p);
}
static inline __attribute__((always_inline)) void stq_avx512(float *p, __m512 v, int rem) {
    _mm512_mask_storeu_ps(p, mask_avx512(rem), v);
}

#include "attn_coded_simd.inc"

#include "simd_end.h"
