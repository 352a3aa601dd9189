// kernels/cpu/matmul_avx2.c — the AVX2/FMA/F16C decode stages of kernels/matmul.h (8 lanes).
// Compiled for that target only here, so the rest of the build stays baseline x86-64; the
// dispatcher in matmul.c calls these only when CPUID says the CPU has them.
#include <immintrin.h>
#include <string.h>

#include "matmul.h"

// Every function below, including the .inc's, is compiled for the target (GCC and clang spell it
// differently; clang needs the headers included before).
#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx2,fma,f16c"))), apply_to = function)
#else
#pragma GCC target("avx2,fma,f16c")
#endif

#define ISA avx2
#define VF __m256
#define VN 8
#define V_ZERO() _mm256_setzero_ps()
#define V_LOAD(p) _mm256_loadu_ps(p)
#define V_LOAD_B(p) _mm256_loadu_ps((const float *)(const void *)(p))
#define V_STORE(p, v) _mm256_storeu_ps(p, v)
#define V_FMA(a, b, c) _mm256_fmadd_ps(a, b, c)
#define V_MUL(a, b) _mm256_mul_ps(a, b)
#define V_ADD(a, b) _mm256_add_ps(a, b)
#define V_SET1(s) _mm256_set1_ps(s)
#define V_F16(p) _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(const void *)(p)))
#define V_BF16(p) \
    _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)(const void *)(p))), 16))
#define V_I8(p) _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)(const void *)(p))))

static inline float hsum_avx2(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}
#define V_HSUM(v) hsum_avx2(v)

#include "matmul_simd.inc"

#if defined(__clang__)
#pragma clang attribute pop
#endif
