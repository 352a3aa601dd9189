// core/attn_bench.h — one decode step's attention over one layer's cache, timed for an FP32, an
// FP16, a coded store read by decoding every page (today's view path) and the same store read
// fused (kernels/attn_coded.h), at a given shape, context, codec spec and thread count.
// Owns the stores and buffers of one measurement; not the kernels or the decode split they
// mirror (core/forward.c). Errors: negative qins_status with a log line.
#pragma once

struct qins_attn_bench_shape {
    const char *name;                 // label ("stories260K", "phi3.5-mini")
    int n_head, n_head_kv, head_dim;
};

struct qins_attn_bench_row {
    char shape[32], spec[96];
    int n_head, n_head_kv, head_dim, n_ctx, threads, reps;
    const char *isa;                  // "avx512", "avx2", "scalar": the coded kernels' path
    // median seconds of one step (view + attention of one layer, all heads) per variant
    double t_fp32, t_fp16, t_decode, t_fused, t_fused_once;
    // bytes one step reads from the cache (the store's bytes_read counter; the fill page included)
    double bytes_fp32, bytes_fp16, bytes_coded;
    double gbps_fp32, gbps_fp16, gbps_decode, gbps_fused, gbps_fused_once;
    double read_gbps;                 // streaming read bandwidth measured in this process
    double frac_fp32, frac_fp16, frac_decode, frac_fused, frac_fused_once; // gbps / read_gbps
    double speedup_vs_decode;         // t_decode / t_fused
    double overhead_vs_fp16_pct, overhead_vs_fp32_pct;           // (t_fused / t - 1) * 100
    double overhead_once_vs_fp16_pct, overhead_once_vs_fp32_pct; // the same for fused=once
    double max_rel_err;               // max |fused - decoded| / max |decoded| over the step's outputs
};

// Measures one row: spec is a paged codec spec without `fused` (e.g. "qins8:alpha=2:gran=token:
// page=16"); read_gbps <= 0 measures it here (qins_measure_read_gbps, 256 MiB). reps >= 1.
// Returns 0 or < 0 (bad spec or shape, out of memory).
int qins_attn_bench_run(const struct qins_attn_bench_shape *shape, int n_ctx, const char *spec, int threads, int reps,
                        double read_gbps, struct qins_attn_bench_row *out);
