// kernels/cpu/fused_matmul_avx2.c — the AVX2/FMA fused codec kernels of kernels/fused_matmul.h
// (8 lanes). Compiled for that target only here (simd_avx2.h); the dispatcher in
// fused_matmul.c calls these only when CPUID says the CPU has AVX2, FMA and F16C.
#include <immintrin.h>
#include <string.h>

#include "fused_matmul.h"
#include "simd_avx2.h"

// Lane masks for the last, partial vector of a segment: entries [8 - n, 16 - n) of this table.
static const int32_t tail_mask[16] = {-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};
#define TAIL_MASK(n) _mm256_loadu_si256((const __m256i *)(const void *)(tail_mask + 8 - (n)))

#define VI __m256i
#define VI_SET1(v) _mm256_set1_epi32(v)
#define VI_LOADU(p) _mm256_loadu_si256((const __m256i *)(const void *)(p))
#define VI_AND(a, b) _mm256_and_si256(a, b)
#define VI_SRLV(a, s) _mm256_srlv_epi32(a, s)
#define VI_SHUF(a, ctl) _mm256_shuffle_epi8(a, ctl)
#define U_BCAST(b) _mm256_broadcastsi128_si256(b)
#define U_CVT8(b) _mm256_cvtepu8_epi32(b)
#define U_CVT16(q) _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)(const void *)(q)))
#define V_LOADX_N(p, n) _mm256_maskload_ps(p, TAIL_MASK(n))
#define V_STORE_N(p, v, n) _mm256_maskstore_ps(p, TAIL_MASK(n), v)
#define V_GATHER(i, lut) _mm256_i32gather_ps(lut, i, 4)
static inline int32_t load_i32_avx2(const uint8_t *p) {
    int32_t v;
    memcpy(&v, p, 4);
    return v;
}
// 8 four-bit codes at a byte boundary: the 4 code bytes in every lane, lane j shifted by 4j.
#define U_K4A(p, sh) _mm256_srlv_epi32(_mm256_set1_epi32(load_i32_avx2(p)), sh)
#define U_K4A_SHIFTS _mm256_setr_epi32(0, 4, 8, 12, 16, 20, 24, 28)

// vpermps reads 8 entries (index bits 0-2); wider tables are a blend tree on the next bits,
// each picked by moving the bit into the sign for blendv. 64 entries: 8 permutes, 7 blends.
static inline __m256 pick_avx2(__m256 a, __m256 b, __m256i i, int bit) {
    return _mm256_blendv_ps(a, b, _mm256_castsi256_ps(_mm256_slli_epi32(i, 31 - bit)));
}
static inline __m256 lut_perm4_avx2(__m256i i, const __m256 *L) {
    return pick_avx2(_mm256_permutevar8x32_ps(L[0], i), _mm256_permutevar8x32_ps(L[1], i), i, 3);
}
#define LUT_PERM4(i, L) lut_perm4_avx2(i, L)
static inline __m256 lut_perm6_avx2(__m256i i, const __m256 *L) {
    __m256 p[8];
    for (int j = 0; j < 8; j++) p[j] = _mm256_permutevar8x32_ps(L[j], i);
    for (int j = 0; j < 4; j++) p[j] = pick_avx2(p[2 * j], p[2 * j + 1], i, 3);
    for (int j = 0; j < 2; j++) p[j] = pick_avx2(p[2 * j], p[2 * j + 1], i, 4);
    return pick_avx2(p[0], p[1], i, 5);
}
#define LUT_PERM6(i, L) lut_perm6_avx2(i, L)
// No LUT_PERM8: 32 table registers do not exist here; 8-bit codes gather. 6-bit codes gather
// too by default (fused_matmul.c): the 8 table registers plus the tree spill out of 16.
#define K6_GATHER 1

#include "fused_matmul_simd.inc"

const struct qins_fused_isa_kernels qins_fused_avx2 = {
    .rows_perm = {rows_k4_avx2, rows_k6p_avx2, NULL},
    .rows_gather = {NULL, rows_k6g_avx2, rows_k8g_avx2},
    .span = {span_k4_avx2, span_k6_avx2, span_k8_avx2},
    .rows16 = {rows16_k4_avx2, rows16_k6_avx2, rows16_k8_avx2},
};

#include "simd_end.h"
