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
static inline int32_t load_i32_avx512(const uint8_t *p) {
    int32_t v;
    memcpy(&v, p, 4);
    return v;
}
// 16 four-bit codes at a byte boundary: words 0 and 1 of the 8 code bytes, lanes 0-7 and 8-15.
#define U_K4A(p, sh)                                                                                       \
    _mm512_srlv_epi32(_mm512_mask_blend_epi32((__mmask16)0xff00, _mm512_set1_epi32(load_i32_avx512(p)),   \
                                              _mm512_set1_epi32(load_i32_avx512((p) + 4))),                \
                      sh)
#define U_K4A_SHIFTS _mm512_setr_epi32(0, 4, 8, 12, 16, 20, 24, 28, 0, 4, 8, 12, 16, 20, 24, 28)

// 16 entries: one vpermps. 64: two vpermi2ps over 32 entries each, bit 5 picks.
#define LUT_PERM4(i, L) _mm512_permutexvar_ps(i, (L)[0])
static inline __m512 lut_perm6_avx512(__m512i i, const __m512 *L) {
    const __m512 lo = _mm512_permutex2var_ps(L[0], i, L[1]), hi = _mm512_permutex2var_ps(L[2], i, L[3]);
    return _mm512_mask_blend_ps(_mm512_test_epi32_mask(i, _mm512_set1_epi32(32)), lo, hi);
}
#define LUT_PERM6(i, L) lut_perm6_avx512(i, L)
#include "fused_matmul_simd.inc"

// 8-bit codes with AVX-512 VBMI: the FP32 table as four byte planes (plane b = byte b of every
// entry, 256 bytes = 4 registers), each read for 64 codes at once by two vpermt2b (128 entries
// each) and a blend on code bit 7; two rounds of byte/word unpacks rebuild the floats, exact.
// The unpacks interleave within 128-bit lanes, so the 64 codes are first transposed as a 4x4
// grid of 4-code dwords (one vpermd), which leaves the four outputs as codes 0-15, 16-31, ...
// 17 port-5 ops per 64 codes where the gather needs four 16-lane gathers. Measured (256 x 3072,
// 1 thread, Intel Xeon with VBMI): see lut_auto in fused_matmul.c. The vectors go into the
// accumulators in the generic kernel's order (even -> a0, odd -> a1) and the rest of a segment
// runs the gather kernel's code, so the result is bit for bit that of rows_k8g.
#define VBMI_TARGET __attribute__((target("avx512f,avx512bw,avx512vl,avx512vbmi,avx2,fma,f16c")))
static const int32_t transpose4x4[16] = {0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15};

VBMI_TARGET static void rows_k8v_avx512(const struct qins_cmat *m, const float *x, float *y, int r0, int n) {
    uint8_t planes[4][256] __attribute__((aligned(64)));
    for (int i = 0; i < 256; i++) {
        uint32_t u;
        memcpy(&u, m->lut + i, 4);
        for (int b = 0; b < 4; b++) planes[b][i] = (uint8_t)(u >> (8 * b));
    }
    __m512i T[4][4];
    for (int b = 0; b < 4; b++)
        for (int j = 0; j < 4; j++) T[b][j] = _mm512_load_si512((const void *)(planes[b] + 64 * j));
    const __m512i order = _mm512_loadu_si512((const void *)transpose4x4);
    const float *lut = m->lut;
    enum { STEP = VN }; // bytes per run of VN 8-bit codes
    const VI kmask = VI_SET1(0xff), ctl = VI_SET1(0), sh = VI_SET1(0); // UNPACK's branch for k < 8
    const uint8_t *end = m->codes + m->codes_bytes;
    const int cols = m->cols, seg = m->seg;
    for (int r = r0; r < r0 + n; r++) {
        const float *sc = m->scales + (size_t)r * m->scale_stride;
        VF racc = V_ZERO();
        for (int j = 0, c0 = 0; c0 < cols; j++, c0 += seg) {
            const int len = cols - c0 < seg ? cols - c0 : seg;
            const uint8_t *p = m->codes + (size_t)r * cols + c0;
            const float *xs = x + c0;
            VF a0 = V_ZERO(), a1 = V_ZERO();
            int c = 0;
            for (; c + 64 <= len && end - p >= 64; c += 64, p += 64) {
                const __m512i v = _mm512_permutexvar_epi32(order, _mm512_loadu_si512((const void *)p));
                const __mmask64 hi = _mm512_movepi8_mask(v);
                __m512i b[4];
                for (int q = 0; q < 4; q++)
                    b[q] = _mm512_mask_blend_epi8(hi, _mm512_permutex2var_epi8(T[q][0], v, T[q][1]),
                                                  _mm512_permutex2var_epi8(T[q][2], v, T[q][3]));
                const __m512i l01 = _mm512_unpacklo_epi8(b[0], b[1]), h01 = _mm512_unpackhi_epi8(b[0], b[1]),
                              l23 = _mm512_unpacklo_epi8(b[2], b[3]), h23 = _mm512_unpackhi_epi8(b[2], b[3]);
                a0 = V_FMA(_mm512_castsi512_ps(_mm512_unpacklo_epi16(l01, l23)), V_LOAD(xs + c), a0);
                a1 = V_FMA(_mm512_castsi512_ps(_mm512_unpackhi_epi16(l01, l23)), V_LOAD(xs + c + 16), a1);
                a0 = V_FMA(_mm512_castsi512_ps(_mm512_unpacklo_epi16(h01, h23)), V_LOAD(xs + c + 32), a0);
                a1 = V_FMA(_mm512_castsi512_ps(_mm512_unpackhi_epi16(h01, h23)), V_LOAD(xs + c + 48), a1);
            }
            SEGMENT_REST(8, UNPACK, DEC_GATHER, a0, a1, c);
            racc = V_FMA(V_SET1(sc[j]), V_ADD(a0, a1), racc);
        }
        y[r] = V_HSUM(racc);
    }
}

const struct qins_fused_isa_kernels qins_fused_avx512 = {
    .rows_perm = {rows_k4_avx512, rows_k6p_avx512, rows_k8v_avx512},
    .rows_gather = {NULL, rows_k6g_avx512, rows_k8g_avx512},
    .span = {span_k4_avx512, span_k6_avx512, span_k8_avx512},
    .rows16 = {rows16_k4_avx512, rows16_k6_avx512, rows16_k8_avx512},
    .perm_needs_vbmi = {0, 0, 1},
};

#include "simd_end.h"
