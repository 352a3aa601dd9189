// kernels/fused_matmul.h — matrix products straight from codec-encoded weights (core/codec.h:
// INT, NF, QINS at k = 4, 6, 8, one scale per tensor, row or group): y = W·x for one token
// (GEMV: unpack k-bit codes in registers -> LUT decode in registers -> FMA with x, the scale
// applied once per scale group) and Y = X·Wᵀ for a prompt batch (decode a tile into a
// per-thread FP32 buffer, OpenBLAS sgemm on it, as qins_gemm does for F16/Q8_0).
// Owns: the descriptor (LUT, scales as floats, unpack tables), the scalar references, the
// scalar/AVX2/AVX-512 paths (ISA chosen by qins_matmul_set_isa), the OpenMP row split. Does not
// own: the encoded bytes (the caller's, read in place). Errors: negative qins_status + one log
// line (UNSUPPORTED for a codec/k/granularity it does not handle, FORMAT, NOMEM).
//
// Numerics: per row, each scale segment (the columns sharing one scale) is summed in FP32 as
// Σ lut[code]·x, then multiplied by its scale and added to the row's sum; the order depends on
// cols, the segment length and the ISA only, never on the thread count or the row split.
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "codec.h"
#include "matmul.h"

// |y - y_ref| <= tol * Σ_c |w_rc x_c| for every fast path against qins_cmat_gemv_ref (the same
// measure as QINS_MATMUL_REL_TOL; FP32 sums over up to 8192 columns stay well inside it).
#define QINS_FUSED_REL_TOL 1e-5

// A (rows, cols) weight encoded by qins_codec_encode: n_groups FP16 scales, then rows*cols
// k-bit codes, row-major, LSB-first (kernels/pack.h). Row r starts at bit r*cols*k, so rows
// need not start on a byte: every segment start's bit offset (0..7) picks its unpack table.
struct qins_cmat {
    struct qins_codec_params p;
    int rows, cols, k;
    const uint8_t *codes;  // (rows*cols codes) the packed stream inside the caller's bytes
    size_t codes_bytes;
    size_t enc_bytes;      // the whole encoded block: what one pass over the weight reads
    float *lut;            // (2^k) code values in units of the scale (owned, 64-byte aligned)
    float *scales;         // (n_groups) the FP16 scales as floats (owned)
    size_t n_groups;
    int seg;               // columns per scale segment of a row (cols, or the group size)
    int scale_stride;      // scales per row: 0 (tensor), 1 (row), groups per row (group)
    // Unpack tables for a run of codes starting at bit offset s (0..7) within its first byte:
    // lane j's code is at bits s + j*k; shuf[s] puts that code's two bytes into lane j's low
    // half (pshufb control over 16 source bytes), shift[s][j] the bit shift left to do.
    uint8_t shuf[8][64];
    int32_t shift[8][16];
};

// Builds the descriptor over enc (exactly qins_codec_encoded_bytes(p, rows, cols) long; kept,
// not copied). Returns 0, QINS_ERR_UNSUPPORTED (float formats, QINS_LOG, per-column scales,
// k not 4/6/8), QINS_ERR_FORMAT (wrong length, invalid stored scale) or QINS_ERR_NOMEM.
int qins_cmat_init(struct qins_cmat *m, const struct qins_codec_params *p, const uint8_t *enc, size_t enc_len,
                   int rows, int cols);
// Frees what init allocated (no-op on a zeroed descriptor).
void qins_cmat_free(struct qins_cmat *m);
// Returns 1 when qins_cmat_init would accept (p, k, granularity), 0 otherwise (no log line).
int qins_cmat_supported(const struct qins_codec_params *p);

// out (n_rows, n_cols, leading dimension ld) = the decoded weights (lut[code] * scale, the same
// float product as qins_codec_decode) of rows r0.. and columns c0...
void qins_cmat_decode_ref(const struct qins_cmat *m, int r0, int n_rows, int c0, int n_cols, float *out, size_t ld);
void qins_cmat_decode(const struct qins_cmat *m, int r0, int n_rows, int c0, int n_cols, float *out, size_t ld);

// y (rows) = W x (cols). The reference sums the decoded weights times x in double (the FP64
// yardstick: equal to decode-then-multiply-in-double).
void qins_cmat_gemv_ref(const struct qins_cmat *m, const float *x, float *y);
// max over rows of |y - ref| / Σ_c |w_rc x_c| (what QINS_FUSED_REL_TOL bounds).
double qins_cmat_worst_rel(const struct qins_cmat *m, const float *x, const float *y, const float *ref);
// Single-threaded fast path over rows r0..r0+n (the unit the OpenMP split hands out).
void qins_cmat_gemv_rows(const struct qins_cmat *m, const float *x, float *y, int r0, int n);
// Whole matrix, one contiguous run of rows per OpenMP thread when it is large enough to pay.
void qins_cmat_gemv(const struct qins_cmat *m, const float *x, float *y);
// y (n_tok, rows) = x (n_tok, cols) · Wᵀ: tiles of QINS_GEMM_TILE_ROWS x QINS_GEMM_TILE_COLS
// decoded into a per-thread buffer, sgemm on each. Returns 0 or QINS_ERR_NOMEM.
int qins_cmat_gemm(const struct qins_cmat *m, const float *x, int n_tok, float *y);
// GEMV for one token, GEMM for more. Returns 0 or < 0.
int qins_cmat_matmul(const struct qins_cmat *m, const float *x, int n_tok, float *y);

// How the 6- and 8-bit LUTs are read: register permutes (vpermi2ps / vpermps trees; at k = 8
// byte-plane vpermt2b, AVX-512 VBMI only) or a gather from the table in L1. AUTO takes the measured faster one per ISA and k
// (see fused_matmul.c); the others are for tests and benchmarks. 4-bit codes always permute.
enum qins_fused_lut { QINS_FUSED_LUT_AUTO = 0, QINS_FUSED_LUT_PERMUTE, QINS_FUSED_LUT_GATHER };
void qins_fused_set_lut(enum qins_fused_lut mode);
// The mode the dispatcher uses now for code width k under the current ISA.
enum qins_fused_lut qins_fused_lut_in_use(int k);

// ---- the per-ISA kernels (kernels/cpu/fused_matmul_simd.inc), for the dispatcher and tests.
// rows: y[r] for r in r0..r0+n. span: out[0..n) = decoded weights c0..c0+n of row r.
// rows16: like rows, codes already unpacked as uint16 (rows r0.. contiguous, cols apart, padded
// by 16 readable entries): the Huffman path's GEMV on its decoded tile.
typedef void (*qins_cmat_rows_fn)(const struct qins_cmat *m, const float *x, float *y, int r0, int n);
typedef void (*qins_cmat_span_fn)(const struct qins_cmat *m, int r, int c0, int n, float *out);
typedef void (*qins_cmat_rows16_fn)(const struct qins_cmat *m, const uint16_t *codes, const float *x, float *y,
                                    int r0, int n);
#define QINS_FUSED_N_K 3 // k = 4, 6, 8 (index k/2 - 2)
struct qins_fused_isa_kernels {
    qins_cmat_rows_fn rows_perm[QINS_FUSED_N_K], rows_gather[QINS_FUSED_N_K]; // NULL: not provided
    qins_cmat_span_fn span[QINS_FUSED_N_K];
    qins_cmat_rows16_fn rows16[QINS_FUSED_N_K];
    int perm_needs_vbmi[QINS_FUSED_N_K]; // rows_perm[i] runs only where the CPU has AVX-512 VBMI
};
extern const struct qins_fused_isa_kernels qins_fused_avx2, qins_fused_avx512;
// The rows16 kernel the dispatcher picks for m under the current ISA (kernels/fused_huffman.h).
qins_cmat_rows16_fn qins_cmat_rows16_kernel(const struct qins_cmat *m);
