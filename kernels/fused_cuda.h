// kernels/fused_cuda.h — CUDA fused decode->multiply-accumulate over coded weights and KV pages:
// weight GEMV (batch 1), weight GEMM (prompt batches <= 256) and one-token attention over pages.
// Owns: the device kernels, one-shot host wrappers (upload, run, download) and kernel-alone
// benchmarks. Does not own: encoding (core/codec.h, core/page.h) or the CPU references.
// Errors: negative qins_status; QINS_ERR_UNSUPPORTED when there is no GPU (or the codec is not INT/NF/QINS).
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "codec.h"

#ifdef __cplusplus
extern "C" {
#endif

// Weights: enc is qins_codec_encode() output for (rows x cols) under p: FP16 scales, then the
// k-bit codes packed LSB-first row-major (kernels/pack.h). Codecs INT, NF, QINS at k = 2..8,
// any granularity (per tensor / row / column / group). x, y are FP32 host arrays; the product
// accumulates in FP32 with lut[code] * scale as the weight, lut = qins_codec_lut(p).
#define QINS_CUDA_GEMM_MAX_BATCH 256

// y[r] = sum_c w[r][c] * x[c] (x: cols, y: rows). Returns 0 or < 0.
int qins_cuda_fused_gemv(const struct qins_codec_params *p, const uint8_t *enc, size_t enc_len, size_t rows,
                         size_t cols, const float *x, float *y);
// y[b][r] = sum_c w[r][c] * x[b][c] for b < batch (x: batch x cols, y: batch x rows, row-major),
// 1 <= batch <= QINS_CUDA_GEMM_MAX_BATCH. Each decoded tile of w serves the whole batch. Returns 0 or < 0.
int qins_cuda_fused_gemm(const struct qins_codec_params *p, const uint8_t *enc, size_t enc_len, size_t rows,
                         size_t cols, const float *x, size_t batch, float *y);

// One stream (K or V of one layer) as core/kv_paged.c keeps it: n_pages full pages of
// page_tokens tokens back to back, each QINS_PAGE_KV_HEADER_BYTES of header then the
// qins_codec_encode() payload of (page_tokens x kv_dim) under p (INT/NF/QINS, granularity
// tensor/row/column/group); then n_fill tokens of the FP32 page being filled (n_fill x kv_dim).
// Headers are not re-checked on the device: the host checks them when it uploads.
struct qins_cuda_kv_stream {
    struct qins_codec_params p;
    int page_tokens, n_pages, n_fill;
    const uint8_t *pages; // n_pages * (QINS_PAGE_KV_HEADER_BYTES + encoded bytes of one page)
    const float *fill;    // n_fill * kv_dim
};
// Attention of one query token, as qins_attn_rows_ref: for KV head h < n_kv and query head
// g < G (i = h*G + g), out[i*D ..] = sum_j softmax_j(scale * q_i . k_j,h) v_j,h over the
// n = n_pages*page_tokens + n_fill positions of k (the same count in v). kv_dim = n_kv*D;
// D <= QINS_CUDA_ATTN_MAX_D, G <= QINS_CUDA_ATTN_MAX_G. Codes are decoded in registers, the
// softmax is online (running max) in FP32. q, out: (n_kv*G, D) host arrays. Returns 0 or < 0.
#define QINS_CUDA_ATTN_MAX_D 256
#define QINS_CUDA_ATTN_MAX_G 8
int qins_cuda_fused_attn(const struct qins_cuda_kv_stream *k, const struct qins_cuda_kv_stream *v, int n_kv, int G,
                         int D, float scale, const float *q, float *out);

// Writes "NAME, sm_XY, N SMs, M GiB, L2 K MiB" of the current device into buf. Returns 0 or < 0.
int qins_cuda_device_name(char *buf, size_t cap);

// Kernel-alone timing on device-resident inputs, best of reps launches (CUDA events), the L2
// cleared before each launch so the inputs come from HBM. bytes = what one launch must move
// (codes + scales + inputs + outputs); gbps = bytes / seconds; copy_gbps = a device-to-device
// copy of max(bytes, 4 x L2) bytes measured in the same call, counted as read + write bytes
// (the HBM roofline this GPU reaches); frac = gbps / copy_gbps. flops = 2 * multiply-adds.
struct qins_cuda_timing {
    double seconds, bytes, gbps, copy_gbps, frac, gflops;
};
// The same operations as above, timed; the outputs of the last launch are downloaded into
// y / out (for the caller's error check). Returns 0 or < 0.
int qins_cuda_fused_gemv_bench(const struct qins_codec_params *p, const uint8_t *enc, size_t enc_len, size_t rows,
                               size_t cols, const float *x, float *y, int reps, struct qins_cuda_timing *t);
int qins_cuda_fused_gemm_bench(const struct qins_codec_params *p, const uint8_t *enc, size_t enc_len, size_t rows,
                               size_t cols, const float *x, size_t batch, float *y, int reps,
                               struct qins_cuda_timing *t);
int qins_cuda_fused_attn_bench(const struct qins_cuda_kv_stream *k, const struct qins_cuda_kv_stream *v, int n_kv,
                               int G, int D, float scale, const float *q, float *out, int reps,
                               struct qins_cuda_timing *t);

#ifdef __cplusplus
}
#endif
