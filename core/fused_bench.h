// core/fused_bench.h — the fused-kernel measurement that qins-phase4 and qins-bench-fused both
// run: at one shape, codec and batch, the fused product against the separate ops, plain FP32
// and the engine's native F16/Q8_0 kernels, timed in one process beside a read-bandwidth probe.
// Owns: the synthetic weights of one measurement and the figures derived from the times. Does
// not own: thread counts (the caller's qins_set_threads), printing, recording. Errors: negative
// qins_status + a log line (UNSUPPORTED for a codec the fused kernels do not take, NOMEM).
//
// Definitions (every row of the result):
//   seconds  median of `reps` timed calls after one warm-up call.
//   bytes    what one call must move through memory: the weight as that op stores it (the
//            encoded block; Huffman: its streams + scales + offsets; FP32/F16/Q8_0 bytes), plus
//            x and y (batch x (cols + rows) floats); the separate ops add the FP32 buffer they
//            write and read back (2 x 4 bytes per weight).
//   gbps     bytes / seconds; roofline = gbps / the read-bandwidth probe (GB/s).
//   speedup_vs_separate = the faster of the two separate-ops times / seconds;
//   speedup_vs_f32      = the FP32 time (qins_gemv, or qins_gemm = sgemm for a batch) / seconds.
//   max_rel_err  max over rows of |y - ref| / Σ_c |w_rc x_c| (QINS_FUSED_REL_TOL's measure);
//   l2_rel_err   ||y - ref|| / ||ref||; ref = the op's own decoded weights times x in double (for
//            the codec ops: the codec's decoded weights, the FP64 yardstick of Gate 4). A batch
//            checks its first and last token only (a full FP64 reference would dominate the run).
#pragma once
#include <stdbool.h>
#include <stdint.h>

#include "codec.h"

enum qins_fb_op {
    QINS_FB_FUSED = 0, // qins_cmat_matmul: fused GEMV (batch 1) / tile-decode GEMM
    QINS_FB_HUFFMAN,   // qins_hmat_gemv (batch 1 only)
    QINS_FB_SEP_BLAS,  // qins_codec_decode into an FP32 buffer + OpenBLAS sgemv / sgemm
    QINS_FB_SEP_SLOT,  // the separate-ops slot path: qins_codec_decode + qins_matmul_f32
    QINS_FB_F32,       // qins_gemv / qins_gemm on the FP32 weights
    QINS_FB_F16,       // the engine's native F16 kernels (kernels/matmul.h)
    QINS_FB_Q8_0,      // the engine's native Q8_0 kernels (cols % 32 == 0 only)
    QINS_FB_N_OPS
};

struct qins_fb_spec {
    int rows, cols;
    struct qins_codec_params p;
    int batch;        // 1: GEMV; 2..256: a prompt batch (GEMM)
    int reps;         // timed calls (1..1000)
    double read_gbps; // the probe (qins_measure_read_gbps) at the caller's thread count; <= 0: measured here
    bool huffman;     // also time the Huffman tile path (batch 1)
    uint32_t seed;    // synthetic weights: bell-shaped, std ~0.02 (0: a fixed default)
};

struct qins_fb_row {
    enum qins_fb_op op;
    double seconds, bytes, gbps, roofline;
    double speedup_vs_separate, speedup_vs_f32;
    double max_rel_err, l2_rel_err;
    bool skipped;  // not run: why says so (figures NaN)
    char why[96];
};

// Short name of an op ("fused", "huffman", "sep-blas", "sep-slot", "f32", "f16", "q8_0").
const char *qins_fb_op_name(enum qins_fb_op op);
// Runs one measurement: rows[0 .. QINS_FB_N_OPS) in enum order (cap >= QINS_FB_N_OPS), *read_gbps_used
// (may be NULL) the probe the roofline figures used. Returns 0 or < 0.
int qins_fb_run(const struct qins_fb_spec *s, struct qins_fb_row *rows, int cap, double *read_gbps_used);
