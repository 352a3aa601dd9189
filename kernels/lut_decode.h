// kernels/lut_decode.h — table decode of codes: out[i] = lut[code[i]] * scale.
// Owns: the 8-bit and 16-bit code paths, scalar references (_ref), AVX2 gather paths, dispatch.
// Does not own: building the tables (core/codec.h). No errors: codes must index inside lut
// (a table of 2^k entries covers every k-bit code, so packed codes always do).
#pragma once
#include <stddef.h>
#include <stdint.h>

void qins_lut_decode_u8_ref(const uint8_t *codes, size_t n, const float *lut, float scale, float *out);
void qins_lut_decode_u8_avx2(const uint8_t *codes, size_t n, const float *lut, float scale, float *out);
void qins_lut_decode_u8(const uint8_t *codes, size_t n, const float *lut, float scale, float *out);
void qins_lut_decode_u16_ref(const uint16_t *codes, size_t n, const float *lut, float scale, float *out);
void qins_lut_decode_u16_avx2(const uint16_t *codes, size_t n, const float *lut, float scale, float *out);
void qins_lut_decode_u16(const uint16_t *codes, size_t n, const float *lut, float scale, float *out);
// Forces the dispatchers onto the scalar path (0) or back to auto (1). Returns nothing.
void qins_lut_decode_set_simd(int enable);
