// kernels/matmul.h — matrix products with weights kept in their file format (F32, F16, BF16,
// Q8_0): y = W·x for one token (GEMV) and Y = X·Wᵀ for a prompt batch (tiled GEMM). The part
// that varies between formats is the decode stage: turning a run of stored weights into FP32
// lanes. GEMV decodes in registers and multiplies at once; GEMM decodes a tile into a
// cache-resident FP32 buffer and runs OpenBLAS sgemm on it. Phase 4's codec kernels join the
// family as further decode stages.
// Owns: the scalar references, the AVX2 and AVX-512 paths (chosen at run time), the OpenMP
// split over rows, the per-thread tile buffers. Does not own: the weights (views into the
// mmapped file). No errors except out of memory for tile buffers (QINS_ERR_NOMEM, logged).
//
// Numerics: every output is one dot product accumulated in FP32 in an order that depends only
// on the matrix width and the ISA, never on the thread count or the row split, so results are
// reproducible for a build, an ISA and any thread count. Q8_0 sums q·x within a block, then
// adds d·(block sum) — d·q is exact in FP32, so this differs from dequantise-then-multiply only
// by the rounding of the sums (QINS_MATMUL_REL_TOL below bounds it in the tests). Where the
// CPU has AVX-512 VNNI, the Q8_0 GEMV rounds x to a 23-bit block-scaled integer instead and sums
// exactly in integers (kernels/q8_int.h); the Q8_0 GEMM and every other type are unchanged.
#pragma once
#include <stddef.h>
#include <stdint.h>

enum qins_wtype { QINS_W_F32 = 0, QINS_W_F16, QINS_W_BF16, QINS_W_Q8_0, QINS_W_COUNT };

#define QINS_Q8_0_BLOCK 32 // weights per Q8_0 block: a binary16 scale d, then 32 int8 q (34 bytes)

// A row-major weight matrix in its stored format: rows of `cols` weights, `row_bytes` apart.
struct qins_wmat {
    enum qins_wtype type;
    const void *data;
    int rows, cols;
    size_t row_bytes;
};

// Relative tolerance the tests hold every fast path to: |y - y_ref| <= tol * sum_c |w_rc x_c|.
#define QINS_MATMUL_REL_TOL 1e-5

// Bytes one row of `cols` weights takes in type t (0 when cols does not fit: Q8_0 needs
// cols % 32 == 0). Name of a type ("f32", "f16", "bf16", "q8_0").
size_t qins_wtype_row_bytes(enum qins_wtype t, int cols);
const char *qins_wtype_name(enum qins_wtype t);
// Fills a view of `rows` x `cols` weights of type t at data. Returns 0, or -1 when cols does not fit t.
int qins_wmat_init(struct qins_wmat *w, enum qins_wtype t, const void *data, int rows, int cols);
static inline size_t qins_wmat_bytes(const struct qins_wmat *w) { return w->row_bytes * (size_t)w->rows; }

// out (n_rows, n_cols, leading dimension ld) = rows r0.. and columns c0.. of w as FP32.
// Q8_0: c0 and n_cols are multiples of 32 (the last span may end at cols).
void qins_wmat_decode_ref(const struct qins_wmat *w, int r0, int n_rows, int c0, int n_cols, float *out, size_t ld);
void qins_wmat_decode(const struct qins_wmat *w, int r0, int n_rows, int c0, int n_cols, float *out, size_t ld);

// y (rows) = W x (cols). The reference multiplies in double and rounds once (a yardstick, not
// a bit-for-bit twin of the fast path).
void qins_gemv_ref(const struct qins_wmat *w, const float *x, float *y);
// The measure QINS_MATMUL_REL_TOL bounds: max over rows of |y - ref| / sum_c |w_rc x_c| (for the
// tests and benchmarks that check a fast path against qins_gemv_ref).
double qins_gemv_worst_rel(const struct qins_wmat *w, const float *x, const float *y, const float *ref);
// Single-threaded fast path over rows r0..r0+n (the unit the OpenMP split hands out).
void qins_gemv_rows(const struct qins_wmat *w, const float *x, float *y, int r0, int n);
// Whole matrix, rows split across the OpenMP threads when the matrix is large enough to pay.
void qins_gemv(const struct qins_wmat *w, const float *x, float *y);

// y (n_tok, rows) = x (n_tok, cols) · Wᵀ. F32 weights go straight to OpenBLAS sgemm; other types
// decode tiles (rows x columns of QINS_GEMM_TILE_*) into a per-thread buffer and run sgemm on
// each (single-threaded inside the OpenMP split over row tiles). Returns 0 or QINS_ERR_NOMEM.
#define QINS_GEMM_TILE_ROWS 256
#define QINS_GEMM_TILE_COLS 512
int qins_gemm(const struct qins_wmat *w, const float *x, int n_tok, float *y);
// The tiled driver behind qins_gemm and the fused GEMM (kernels/fused_matmul.h): decode(w, r0, nr,
// c0, nc, buf, ld) writes an (nr, nc) tile of any weight format into buf; each tile then serves
// the whole batch through sgemm. what names the caller in the out-of-memory error. Returns 0 or
// QINS_ERR_NOMEM.
typedef void (*qins_tile_decode_fn)(const void *w, int r0, int n_rows, int c0, int n_cols, float *out, size_t ld);
int qins_gemm_tiled(const void *w, int rows, int cols, qins_tile_decode_fn decode, const float *x, int n_tok,
                    float *y, const char *what);
// y (n_tok, rows) = x · Wᵀ through qins_gemv for one token, qins_gemm for more. Returns 0 or < 0.
int qins_matmul(const struct qins_wmat *w, const float *x, int n_tok, float *y);

// Which vector ISA the dispatchers use: the best this CPU has (auto), or a forced one for tests
// and benchmarks. Setting an ISA the CPU lacks falls back to the best available one below it.
// AVX512_VNNI is AVX-512 with the integer Q8_0 GEMV (kernels/q8_int.h); every other kernel
// is the AVX-512 one there.
enum qins_isa { QINS_ISA_SCALAR = 0, QINS_ISA_AVX2 = 1, QINS_ISA_AVX512 = 2, QINS_ISA_AVX512_VNNI = 3, QINS_ISA_AUTO = 4 };
void qins_matmul_set_isa(enum qins_isa isa);
enum qins_isa qins_matmul_isa(void); // the ISA in use now
const char *qins_isa_name(enum qins_isa isa);


// Every GEMV kernel prefetches its weight stream this far ahead. Measured with `qins bench` (tg32
// at Phi-3.5-mini shapes, 2 blocks, fraction of the paired read probe, 1 / 2 threads) on
// "Intel(R) Xeon(R) Processor" with AVX-512 VNNI: without it F16 81 / 79 %, F32 98 / 86 %,
// Q8_0 (integer dot) 85-93 / 80-83 %; with 4 KiB F16 102 / 91 %, F32 101 / 99 %, Q8_0 84-85 /
// 75-84 %; 8 KiB and 16 KiB the same within the machine's noise, 2 KiB slower (Q8_0 77-80 / 70-79 %). The hardware prefetcher alone leaves the loops waiting on memory once they stop being
// compute-bound. (An earlier test of short distances, a few lines ahead, measured slower.)
#define QINS_GEMV_PREFETCH_BYTES 4096
// ---- the per-ISA decode stages (kernels/cpu/matmul_simd.inc), for the dispatcher and tests.
// dot: one row (cols weights) · x. dot4: y[r] = row r · x for the 4 rows row_bytes apart, each
// with exactly dot's arithmetic. span: out[0..n) = weights c0..c0+n of one row (Q8_0: c0 % 32 == 0).
typedef float (*qins_dot_fn)(const uint8_t *row, int cols, const float *x);
typedef void (*qins_dot4_fn)(const uint8_t *w, size_t row_bytes, int cols, const float *x, float *y);
typedef void (*qins_span_fn)(const uint8_t *row, int c0, int n, float *out);
struct qins_matmul_isa_kernels {
    qins_dot_fn dot[QINS_W_COUNT];
    qins_dot4_fn dot4[QINS_W_COUNT];
    qins_span_fn span[QINS_W_COUNT];
};
extern const struct qins_matmul_isa_kernels qins_matmul_avx2, qins_matmul_avx512;
