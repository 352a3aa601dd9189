// kernels/cpu/matmul_avx512.c — the AVX-512 (F, BW, VL) decode stages of kernels/matmul.h
// (16 lanes). Compiled for that target only here (simd_avx512.h); the dispatcher in matmul.c
// calls these only when CPUID and XGETBV say the CPU and the OS support AVX-512.
#include <immintrin.h>
#include <string.h>

#include "matmul.h"
#include "simd_avx512.h"

// Loads of VN weights at byte address p, as FP32 lanes.
#define V_LOAD_B(p) _mm512_loadu_ps((const void *)(p))
#define V_F16(p) _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(const void *)(p)))
#define V_BF16(p) \
    _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i *)(const void *)(p))), 16))
#define V_I8(p) _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)(const void *)(p))))

#include "matmul_simd.inc"

#include "simd_end.h"
