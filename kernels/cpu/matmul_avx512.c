// kernels/cpu/matmul_avx512.c — the AVX-512 (F, BW, VL) decode stages of kernels/matmul.h
// (16 lanes). Compiled for that target only here; the dispatcher in matmul.c calls these only
// when CPUID and XGETBV say the CPU and the OS support AVX-512.
#include <immintrin.h>
#include <string.h>

#include "matmul.h"

// Every function below, including the .inc's, is compiled for the target (GCC and clang spell it
// differently; clang needs the headers included before).
#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx512f,avx512bw,avx512vl,avx2,fma,f16c"))), apply_to = function)
#else
#pragma GCC target("avx512f,avx512bw,avx512vl,avx2,fma,f16c")
#endif

#define ISA avx512
#define VF __m512
#define VN 16
#define V_ZERO() _mm512_setzero_ps()
#define V_LOAD(p) _mm512_loadu_ps(p)
#define V_LOAD_B(p) _mm512_loadu_ps((const void *)(p))
#define V_STORE(p, v) _mm512_storeu_ps(p, v)
#define V_FMA(a, b, c) _mm512_fmadd_ps(a, b, c)
#define V_MUL(a, b) _mm512_mul_ps(a, b)
#define V_ADD(a, b) _mm512_add_ps(a, b)
#define V_SET1(s) _mm512_set1_ps(s)
#define V_HSUM(v) _mm512_reduce_add_ps(v)
#define V_F16(p) _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(const void *)(p)))
#define V_BF16(p) \
    _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i *)(const void *)(p))), 16))
#define V_I8(p) _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)(const void *)(p))))

#include "matmul_simd.inc"

#if defined(__clang__)
#pragma clang attribute pop
#endif
