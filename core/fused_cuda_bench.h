// core/fused_cuda_bench.h — the CUDA part of the phase-4 kernel measurement: fused GEMV, GEMM
// and coded-page attention (kernels/fused_cuda.h) per shape x codec x k x granularity, as GB/s,
// fraction of the device-copy roofline and error against the CPU reference. Owns the case list
// and the references; does not own the kernels or the run file. Errors: negative qins_status;
// QINS_ERR_UNSUPPORTED when the build has no CUDA or there is no GPU (nothing measured).
#pragma once
#include <stddef.h>
#include <stdint.h>

#define QINS_FCB_MAX_SHAPES 16

// One weight shape (rows = outputs, cols = inputs) or one attention shape, labelled.
struct qins_fcb_weight_shape {
    char model[16], slot[16]; // "stories260K" / "phi3.5-mini"; "q/o", "gate/up", ...
    int rows, cols;
};
struct qins_fcb_attn_shape {
    char model[16];
    int n_kv, G, head_dim, ctx, page_tokens;
};

struct qins_fcb_opts {
    int reps;        // timed launches per case (best kept), >= 1
    int gemm_batch;  // prompt batch of the GEMM cases, 1..QINS_CUDA_GEMM_MAX_BATCH
    int group_size;  // the per-group granularity's G (weights)
    int quick;       // 1: k = 8 and 4 only, per-row scales only (a smoke run)
    uint64_t seed;
    int n_weights, n_attn;
    struct qins_fcb_weight_shape weights[QINS_FCB_MAX_SHAPES];
    struct qins_fcb_attn_shape attn[QINS_FCB_MAX_SHAPES];
};

// Defaults: reps 20, batch 256, group 64, seed 1, and the shapes of stories260K (dim 64, FFN 172,
// 8 heads / 4 KV heads of 8, vocab 512; contexts 256 and 512) and of Phi-3.5-mini (3072x3072,
// 8192x3072, 3072x8192; 32 heads of 96 at contexts 256, 1024, 2048), KV pages of 16 tokens
// (core/kv_paged.c's default). Returns nothing.
void qins_fcb_opts_default(struct qins_fcb_opts *o);

// One measured case. Weights: op "gemv" (batch 1) or "gemm" (batch tokens); attention: op
// "attn", K and V both under codec with per-token scales. max_rel_err = max_i |y_i - ref_i| /
// max_i |ref_i| (normwise), ref = the FP64 product of the qins_codec_decode()d weights (GEMM:
// tokens 0, batch/2 and batch-1), attention: qins_attn_rows_ref over the decoded pages.
struct qins_fcb_row {
    char op[8], model[16], slot[16], codec[16], gran[16];
    int bits;
    int rows, cols, batch;             // weights
    int n_kv, G, head_dim, ctx, page_tokens; // attention
    double seconds, bytes, gbps, copy_gbps, roofline_frac, gflops, max_rel_err;
};

// Writes the device's description into buf (qins_cuda_device_name). Returns 0 or < 0.
int qins_fcb_device(char *buf, size_t cap);
// Runs every case of o; *rows (malloc'ed, the caller frees) gets *n rows in the order
// weights (shape, codec, k, granularity, gemv then gemm), then attention (shape, codec, k).
// Prints one line per case to stdout when verbose. Returns 0 or < 0 (no rows on error).
int qins_fcb_run(const struct qins_fcb_opts *o, int verbose, struct qins_fcb_row **rows, size_t *n);
