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


// Σ w·q over 4-column lanes for n×32 weights at w (n = 1 or 2 blocks: 256 or 512 bits); w is
// read as unsigned w + 128 (xor), so the digit products carry a bias of 128·Σq per lane (corr).
// Every step wraps modulo 2^32 and the true lane sum fits an int32, so the result is exact.
static inline __m512i lane_sums2(__m512i w, const int8_t *const dg[3], size_t c, const uint32_t *corr) {
    const __m512i u = _mm512_xor_si512(w, _mm512_set1_epi8((char)0x80));
    __m512i t = _mm512_dpbusd_epi32(_mm512_setzero_si512(), u, _mm512_loadu_si512(dg[2] + c));
    t = _mm512_slli_epi32(t, 8);
    t = _mm512_dpbusd_epi32(t, u, _mm512_loadu_si512(dg[1] + c));
    t = _mm512_slli_epi32(t, 8);
    t = _mm512_dpbusd_epi32(t, u, _mm512_loadu_si512(dg[0] + c));
    return _mm512_sub_epi32(t, _mm512_loadu_si512(corr + c / 4));
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

float qins_q8x_dot_avx512vnni(const uint8_t *row, const struct qins_q8x *p) {
    const size_t bb = 2 + QINS_Q8_0_BLOCK;
    const int nb = p->cols / QINS_Q8_0_BLOCK;
    const int8_t *const dg[3] = {p->digit[0], p->digit[1], p->digit[2]};
    // two accumulators: the FMA of one block pair does not wait on the previous pair's
    __m512 acc[2] = {_mm512_setzero_ps(), _mm512_setzero_ps()};
    int b = 0;
    for (; b + 2 <= nb; b += 2) {
        const uint8_t *blk = row + (size_t)b * bb;
        _mm_prefetch((const char *)blk + QINS_GEMV_PREFETCH_BYTES, _MM_HINT_T0);
        const __m512i w = _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_loadu_si256((const __m256i *)(blk + 2))),
                                             _mm256_loadu_si256((const __m256i *)(blk + bb + 2)), 1);
        const size_t c = (size_t)b * QINS_Q8_0_BLOCK;
        const __m512i t = lane_sums2(w, dg, c, p->corr);
        uint16_t h0, h1;
        memcpy(&h0, blk, 2), memcpy(&h1, blk + bb, 2);
        const __m256i dw = _mm256_inserti128_si256(_mm256_castsi128_si256(_mm_set1_epi16((short)h0)),
                                                   _mm_set1_epi16((short)h1), 1);
        const __m512 scale = _mm512_mul_ps(_mm512_cvtph_ps(dw), _mm512_loadu_ps(p->dx + c / 4));
        acc[(b / 2) & 1] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(t), scale, acc[(b / 2) & 1]);
    }
    float s = _mm512_reduce_add_ps(_mm512_add_ps(acc[0], acc[1]));
    if (b < nb) { // an odd block count: the last block in 256 bits, added after the lane sum
        const uint8_t *blk = row + (size_t)b * bb;
        const size_t c = (size_t)b * QINS_Q8_0_BLOCK;
        const __m256i t = lane_sums1(_mm256_loadu_si256((const __m256i *)(blk + 2)), dg, c, p->corr);
        uint16_t h;
        memcpy(&h, blk, 2);
        const __m256 scale = _mm256_mul_ps(_mm256_set1_ps(_cvtsh_ss(h)), _mm256_loadu_ps(p->dx + c / 4));
        const __m256 v = _mm256_mul_ps(_mm256_cvtepi32_ps(t), scale);
        const __m128 h4 = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
        const __m128 h2 = _mm_add_ps(h4, _mm_movehl_ps(h4, h4));
        s += _mm_cvtss_f32(_mm_add_ss(h2, _mm_movehdup_ps(h2)));
    }
    return s;
}

#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif
