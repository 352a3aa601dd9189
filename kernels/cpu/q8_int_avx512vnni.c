// kernels/cpu/q8_int_avx512vnni.c — the AVX-512 VNNI dot of kernels/q8_int.h. Compiled for that
// target only here; matmul.c calls it only when CPUID and XGETBV say the CPU and OS support it.
#include <immintrin.h>
#include <string.h>

#include "matmul.h"
#include "q8_int.h"

#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c"))), apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")
#endif


// Σ w·q over 4-column lanes for n×32 weights (n = 1 or 2 blocks: 256 or 512 bits) against the
// digits dg (dg[k]: digit k of the same columns) and the lanes' bias corr; w is read as unsigned
// w + 128 (xor), so the digit products carry 128·Σq per lane. Every step wraps modulo 2^32 and
// the true lane sum fits an int32, so the result is exact.
static inline __m512i lane_sums2(__m512i w, const __m512i dg[3], __m512i corr) {
    const __m512i u = _mm512_xor_si512(w, _mm512_set1_epi8((char)0x80));
    __m512i t = _mm512_dpbusd_epi32(_mm512_setzero_si512(), u, dg[2]);
    t = _mm512_slli_epi32(t, 8);
    t = _mm512_dpbusd_epi32(t, u, dg[1]);
    t = _mm512_slli_epi32(t, 8);
    t = _mm512_dpbusd_epi32(t, u, dg[0]);
    return _mm512_sub_epi32(t, corr);
}

static inline __m256i lane_sums1(__m256i w, const int8_t *const dg[3], size_t c, const uint32_t *corr) {
    const __m256i u = _mm256_xor_si256(w, _mm256_set1_epi8((char)0x80));
    __m256i t = _mm256_dpbusd_epi32(_mm256_setzero_si256(), u, _mm256_loadu_si256((const __m256i *)(dg[2] + c)));
    t = _mm256_slli_epi32(t, 8);
    t = _mm256_dpbusd_epi32(t, u, _mm256_loadu_si256((const __m256i *)(dg[1] + c)));
    t = _mm256_slli_epi32(t, 8);
    t = _mm256_dpbusd_epi32(t, u, _mm256_loadu_si256((const __m256i *)(dg[0] + c)));
    return _mm256_sub_epi32(t, _mm256_loadu_si256((const __m256i *)(corr + c / 4)));
}

// nr rows (1 or 4, a constant after inlining) `stride` bytes apart, each with exactly the same
// operations in the same order, so a row's result does not depend on which call computed it;
// with 4 rows the digits are loaded once for all four and the rows are 4 memory streams.
static inline __attribute__((always_inline)) void dotn(const uint8_t *w, size_t stride, int nr,
                                                       const struct qins_q8x *p, float *y) {
    const size_t bb = 2 + QINS_Q8_0_BLOCK;
    const int nb = p->cols / QINS_Q8_0_BLOCK;
    const int8_t *const dp[3] = {p->digit[0], p->digit[1], p->digit[2]};
    // two accumulators per row: the FMA of one block pair does not wait on the previous pair's
    __m512 acc[4][2];
    for (int r = 0; r < 4; r++) acc[r][0] = acc[r][1] = _mm512_setzero_ps();
    // both blocks' binary16 scales (words 0 and 17 of a pair) into lanes 0-7 and 8-15 with one word
    // permute: 3 fewer port-5 operations than two broadcasts and an insert
    const __m512i scale_words = _mm512_set_epi16(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 17, 17, 17, 17, 17, 17,
                                                 17, 17, 0, 0, 0, 0, 0, 0, 0, 0);
    int b = 0;
    for (; b + 2 <= nb; b += 2) {
        const size_t c = (size_t)b * QINS_Q8_0_BLOCK;
        const __m512i dg[3] = {_mm512_loadu_si512(dp[0] + c), _mm512_loadu_si512(dp[1] + c), _mm512_loadu_si512(dp[2] + c)};
        const __m512i corr = _mm512_loadu_si512(p->corr + c / 4);
        const __m512 dx = _mm512_loadu_ps(p->dx + c / 4);
        for (int r = 0; r < nr; r++) {
            const uint8_t *blk = w + (size_t)r * stride + (size_t)b * bb;
            _mm_prefetch((const char *)blk + QINS_GEMV_PREFETCH_BYTES, _MM_HINT_T0);
            const __m512i wq = _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_loadu_si256((const __m256i *)(blk + 2))),
                                                  _mm256_loadu_si256((const __m256i *)(blk + bb + 2)), 1);
            const __m512i t = lane_sums2(wq, dg, corr);
            const __m256i dw = _mm512_castsi512_si256(_mm512_permutexvar_epi16(scale_words, _mm512_loadu_si512(blk)));
            const __m512 scale = _mm512_mul_ps(_mm512_cvtph_ps(dw), dx);
            acc[r][(b / 2) & 1] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(t), scale, acc[r][(b / 2) & 1]);
        }
    }
    for (int r = 0; r < nr; r++) {
        float s = _mm512_reduce_add_ps(_mm512_add_ps(acc[r][0], acc[r][1]));
        if (b < nb) { // an odd block count: the last block in 256 bits, added after the lane sum
            const uint8_t *blk = w + (size_t)r * stride + (size_t)b * bb;
            const size_t c = (size_t)b * QINS_Q8_0_BLOCK;
            const __m256i t = lane_sums1(_mm256_loadu_si256((const __m256i *)(blk + 2)), dp, c, p->corr);
            uint16_t h;
            memcpy(&h, blk, 2);
            const __m256 scale = _mm256_mul_ps(_mm256_set1_ps(_cvtsh_ss(h)), _mm256_loadu_ps(p->dx + c / 4));
            const __m256 v = _mm256_mul_ps(_mm256_cvtepi32_ps(t), scale);
            const __m128 h4 = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
            const __m128 h2 = _mm_add_ps(h4, _mm_movehl_ps(h4, h4));
            s += _mm_cvtss_f32(_mm_add_ss(h2, _mm_movehdup_ps(h2)));
        }
        y[r] = s;
    }
}

float qins_q8x_dot_avx512vnni(const uint8_t *row, const struct qins_q8x *p) {
    float y;
    dotn(row, 0, 1, p, &y);
    return y;
}

void qins_q8x_dot4_avx512vnni(const uint8_t *w, size_t stride, const struct qins_q8x *p, float *y) {
    dotn(w, stride, 4, p, y);
}

#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif
