// kernels/codec_cuda.h — CUDA LUT decode of 8-bit codes: out[i] = lut[code[i]] * scale[group(i)]
// for contiguous groups of group_len values (per tensor/row/group layouts of core/codec.h).
// Owns: the device kernel and a host wrapper that copies in, decodes and copies out. Does not own:
// building LUTs/scales (core/codec.h). Errors: negative qins_status (UNSUPPORTED when no GPU).
// Built only when nvcc is found (QINS_HAVE_CUDA); the CPU reference is qins_lut_decode_u8_ref.
#pragma once
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

// Returns the number of CUDA devices, or a negative status when the runtime reports none.
int qins_cuda_device_count(void);
// Decodes n 8-bit codes (host memory) through lut (256 floats) with one scale per group_len
// consecutive codes (n_groups = ceil(n / group_len) scales) into out (host). Returns 0 or < 0.
int qins_cuda_lut_decode_u8(const uint8_t *codes, size_t n, const float *lut, const float *scales,
                            size_t group_len, float *out);

// Times the decode kernel alone on device-resident data (n random codes, groups of group_len):
// best of reps launches with CUDA events. Writes the output rate in GB/s of FP32 produced and
// the device-to-device copy rate of the same output size measured alongside. Returns 0 or < 0.
int qins_cuda_lut_decode_u8_bench(size_t n, size_t group_len, int reps, double *decode_gbps, double *copy_gbps);

#ifdef __cplusplus
}
#endif
