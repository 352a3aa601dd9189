// kernels/cpu/attn_avx2.c — qins_attn_chunk_avx2 of kernels/attn.h and qins_attn_coded_chunk_avx2 of kernels/attn_coded.h: the chunk kernels of
// attn_simd.inc / attn_coded_simd.inc in 8 lanes (AVX2/FMA/F16C). Columns past the last whole vector, and scores past
// the last whole vector of a chunk, go through scalar loops. Compiled for that target only
// here; the dispatcher in attn.c calls it only when CPUID says the CPU has it.
#include <immintrin.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "attn.h"
#include "attn_coded.h"
#include "common.h"
#include "simd_avx2.h" // last: it opens the target region

#define V_HALF(x) (x)
// The softmax's vectors stop at the last whole one within n; the scalar loop does the rest.
#define V_SCORE_VECS(n) ((n) / VN * VN)

static inline __attribute__((always_inline)) __m256 ld_avx2(const char *p, int d, int f16) {
    return f16 ? _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(const void *)(p + 2 * (size_t)d)))
               : _mm256_loadu_ps((const float *)(const void *)p + d);
}

// No vector tails: every column from d on is left to the scalar loops.
static inline int dot4_tail_avx2(__m256 s[4], const float *a, const char *const b[4], int d, int D, int f16) {
    (void)s, (void)a, (void)b, (void)D, (void)f16;
    return d;
}
static inline int axpy_tail_avx2(float *o, const __m256 wv[4], const char *const v[4], int nr, int d, int D, int f16) {
    (void)o, (void)wv, (void)v, (void)nr, (void)D, (void)f16;
    return d;
}

// Scores j .. j+7 (all below n, see V_SCORE_VECS), as they are.
static inline __m256 ld_scores_avx2(const float *sc, int j, int n) {
    (void)n;
    return _mm256_loadu_ps(sc + j);
}
static inline __m256 keep_scores_avx2(__m256 e, int j, int n) {
    (void)j, (void)n;
    return e;
}

#include "attn_simd.inc"

// ---- the coded-page kernel (attn_coded_simd.inc)

#define VI __m256i
#define CODED_MASKED_TAILS 0
#define CODED_LUT_VECS 4
#define CODED_BLK_VECS 1

// nb <= 8 bytes here (VN codes of k <= 8 bits); a constant nb makes the copy two plain loads.
static inline __attribute__((always_inline)) __m128i bytes_avx2(const uint8_t *p, int nb) {
    uint64_t x = 0;
    memcpy(&x, p, (size_t)nb);
    return _mm_cvtsi64_si128((long long)x);
}

static inline __attribute__((always_inline)) __m256i widen8_avx2(__m128i b) { return _mm256_cvtepu8_epi32(b); }

// Lane r = the sum of a[r]: two rounds of pairwise adds within 128-bit lanes, then the two halves.
static inline __attribute__((always_inline)) __m256 hsum_rows_avx2(const __m256 a[8]) {
    const __m256 t0 = _mm256_hadd_ps(a[0], a[1]), t1 = _mm256_hadd_ps(a[2], a[3]);
    const __m256 t2 = _mm256_hadd_ps(a[4], a[5]), t3 = _mm256_hadd_ps(a[6], a[7]);
    const __m256 u0 = _mm256_hadd_ps(t0, t1), u1 = _mm256_hadd_ps(t2, t3);
    return _mm256_add_ps(_mm256_permute2f128_ps(u0, u1, 0x20), _mm256_permute2f128_ps(u0, u1, 0x31));
}

static inline __attribute__((always_inline)) __m256i idx_avx2(__m128i b, __m256i shuf, __m256i shift, __m256i mask) {
    const __m256i x = _mm256_shuffle_epi8(_mm256_broadcastsi128_si256(b), shuf);
    return _mm256_and_si256(_mm256_srlv_epi32(x, shift), mask);
}

// k <= 3: one permute; k = 4: two and a blend on bit 3; wider: a gather.
static inline __attribute__((always_inline)) __m256 lut_avx2(__m256i idx, const __m256 l[4], const float *lut, int k) {
    if (k <= 3) return _mm256_permutevar8x32_ps(l[0], idx);
    if (k == 4)
        return _mm256_blendv_ps(_mm256_permutevar8x32_ps(l[0], idx), _mm256_permutevar8x32_ps(l[1], idx),
                                _mm256_castsi256_ps(_mm256_slli_epi32(idx, 28)));
    return _mm256_i32gather_ps(lut, idx, 4);
}

#include "attn_coded_simd.inc"

#include "simd_end.h"
