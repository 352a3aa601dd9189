// kernels/cpu/matmul_avx2.c — the AVX2/FMA/F16C decode stages of kernels/matmul.h (8 lanes).
// Compiled for that target only here (simd_avx2.h), so the rest of the build stays baseline
// x86-64; the dispatcher in matmul.c calls these only when CPUID says the CPU has them.
#include <immintrin.h>
#include <string.h>

#include "matmul.h"
#include "simd_avx2.h"

// Loads of VN weights at byte address p, as FP32 lanes.
#define V_LOAD_B(p) _mm256_loadu_ps((const float *)(const void *)(p))
#define V_F16(p) _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(const void *)(p)))
#define V_BF16(p) \
    _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)(const void *)(p))), 16))
#define V_I8(p) _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)(const void *)(p))))

#include "matmul_simd.inc"

#include "simd_end.h"
