// kernels/cpu/lut_decode.c — out = lut[code] * scale: scalar reference, AVX2 gathers, dispatch.
// The product is one float multiply in both paths, so SIMD and scalar agree bit for bit.
#include "lut_decode.h"
#include "pack.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define QINS_LUT_X86 1
#endif

void qins_lut_decode_u8_ref(const uint8_t *codes, size_t n, const float *lut, float scale, float *out) {
    for (size_t i = 0; i < n; i++) out[i] = lut[codes[i]] * scale;
}

void qins_lut_decode_u16_ref(const uint16_t *codes, size_t n, const float *lut, float scale, float *out) {
    for (size_t i = 0; i < n; i++) out[i] = lut[codes[i]] * scale;
}

#ifdef QINS_LUT_X86
__attribute__((target("avx2"))) void qins_lut_decode_u8_avx2(const uint8_t *codes, size_t n, const float *lut,
                                                             float scale, float *out) {
    __m256 vs = _mm256_set1_ps(scale);
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m128i c = _mm_loadu_si128((const __m128i *)(codes + i));
        __m256i i0 = _mm256_cvtepu8_epi32(c), i1 = _mm256_cvtepu8_epi32(_mm_srli_si128(c, 8));
        __m256 v0 = _mm256_i32gather_ps(lut, i0, 4), v1 = _mm256_i32gather_ps(lut, i1, 4);
        _mm256_storeu_ps(out + i, _mm256_mul_ps(v0, vs));
        _mm256_storeu_ps(out + i + 8, _mm256_mul_ps(v1, vs));
    }
    _mm256_zeroupper(); // GCC omits it before a tail call: dirty upper halves slow later SSE code
    qins_lut_decode_u8_ref(codes + i, n - i, lut, scale, out + i);
}

__attribute__((target("avx2"))) void qins_lut_decode_u16_avx2(const uint16_t *codes, size_t n, const float *lut,
                                                              float scale, float *out) {
    __m256 vs = _mm256_set1_ps(scale);
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256i idx = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)(codes + i)));
        _mm256_storeu_ps(out + i, _mm256_mul_ps(_mm256_i32gather_ps(lut, idx, 4), vs));
    }
    _mm256_zeroupper(); // GCC omits it before a tail call: dirty upper halves slow later SSE code
    qins_lut_decode_u16_ref(codes + i, n - i, lut, scale, out + i);
}
#else
void qins_lut_decode_u8_avx2(const uint8_t *codes, size_t n, const float *lut, float scale, float *out) {
    qins_lut_decode_u8_ref(codes, n, lut, scale, out);
}
void qins_lut_decode_u16_avx2(const uint16_t *codes, size_t n, const float *lut, float scale, float *out) {
    qins_lut_decode_u16_ref(codes, n, lut, scale, out);
}
#endif

static int simd_enabled = 1;
void qins_lut_decode_set_simd(int enable) { simd_enabled = enable; }

void qins_lut_decode_u8(const uint8_t *codes, size_t n, const float *lut, float scale, float *out) {
    if (simd_enabled && qins_pack_have_avx2()) qins_lut_decode_u8_avx2(codes, n, lut, scale, out);
    else qins_lut_decode_u8_ref(codes, n, lut, scale, out);
}

void qins_lut_decode_u16(const uint16_t *codes, size_t n, const float *lut, float scale, float *out) {
    if (simd_enabled && qins_pack_have_avx2()) qins_lut_decode_u16_avx2(codes, n, lut, scale, out);
    else qins_lut_decode_u16_ref(codes, n, lut, scale, out);
}
