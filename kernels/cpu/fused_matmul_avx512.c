// kernels/cpu/fused_matmul_avx512.c — the AVX-512 (F, BW, VL) fused codec kernels of
// kernels/fused_matmul.h (16 lanes). Compiled for that target only here (simd_avx512.h); the
// dispatcher in fused_matmul.c calls these only when CPUID and XGETBV allow AVX-512.
#include <immintrin.h>
#include <string.h>

#include "fused_matmul.h"
#include "simd_avx512.h"

#define VI __m512i
#define VI_SET1(v) _mm512_set1_epi32(v)
#define VI_LOADU(p) _mm512_loadu_si512((const void *)(p))
#define VI_AND(a, b) _mm512_and_si512(a, b)
#define VI_SRLV(a, s) _mm512_srlv_epi32(a, s)
#define VI_SHUF(a, ctl) _mm512_shuffle_epi8(a, ctl)
#define U_BCAST(b) _mm512_broadcast_i32x4(b)
#define U_CVT8(b) _mm512_cvtepu8_epi32(b)
#define U_CVT16(q) _mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i *)(const void *)(q)))
#define V_LOADX_N(p, n) _mm512_maskz_loadu_ps((__mmask16)((1u << (n)) - 1), p)
#define V_STORE_N(p, v, n) _mm512_mask_storeu_ps(p, (__mmask16)((1u << (n)) - 1), v)
#define V_GATHER(i, lut) _mm512_i32gather_ps(i, lut, 4)

// 16 entries: one vpermps. 64: two vpermi2ps over 32 entries each, bit 5 picks.
#define LUT_PERM4(i, L) _mm512_permutexvar_ps(i, (L)[0])
static inline __m512 lut_perm6_avx512(__m512i i, const __m512 *L) {
    const __m512 lo = _mm512_permutex2var_ps(L[0], i, L[1]), hi = _mm512_permutex2var_ps(L[2], i, L[3]);
    return _mm512_mask_blend_ps(_mm512_test_epi32_mask(i, _mm512_set1_epi32(32)), lo, hi);
}
#define LUT_PERM6(i, L) lut_perm6_avx512(i, L)
// 256: eight vpermi2ps over 32 entries, then a blend tree on bits 5, 6, 7 (16 table registers).
static inline __m512 lut_perm8_avx512(__m512i i, const __m512 *L) {
    __m512 p[8];
    for (int j = 0; j < 8; j++) p[j] = _mm512_permutex2var_ps(L[2 * j], i, L[2 * j + 1]);
    const __mmask16 b5 = _mm512_test_epi32_mask(i, _mm512_set1_epi32(32)),
                    b6 = _mm512_test_epi32_mask(i, _mm512_set1_epi32(64)),
                    b7 = _mm512_test_epi32_mask(i, _mm512_set1_epi32(128));
    for (int j = 0; j < 4; j++) p[j] = _mm512_mask_blend_ps(b5, p[2 * j], p[2 * j + 1]);
    for (int j = 0; j < 2; j++) p[j] = _mm512_mask_blend_ps(b6, p[2 * j], p[2 * j + 1]);
    return _mm512_mask_blend_ps(b7, p[0], p[1]);
}
#define LUT_PERM8(i, L) lut_perm8_avx512(i, L)

#include "fused_matmul_simd.inc"

#include "simd_end.h"
