// kernels/half.h — bulk IEEE binary16 <-> FP32 conversion: a scalar reference (core/common.h's
// RNE converters) and an F16C path chosen at run time. Owns no state. No errors: every bit
// pattern converts (NaN stays NaN, overflow rounds to Inf). Inputs may be unaligned.
#pragma once
#include <stddef.h>
#include <stdint.h>

// out[i] = half h[i] as float (h: n little-endian 16-bit values at any alignment).
void qins_half_to_f32_ref(const void *h, size_t n, float *out);
void qins_half_to_f32_f16c(const void *h, size_t n, float *out);
void qins_half_to_f32(const void *h, size_t n, float *out);
// h[i] = x[i] rounded to nearest even binary16 (h at any alignment).
void qins_f32_to_half_ref(const float *x, size_t n, void *h);
void qins_f32_to_half_f16c(const float *x, size_t n, void *h);
void qins_f32_to_half(const float *x, size_t n, void *h);
// Forces the dispatchers onto the scalar path (0) or back to auto (1). Returns nothing.
void qins_half_set_simd(int enable);
