// kernels/cpu/matmul.c — weight-format GEMV/GEMM (kernels/matmul.h): the scalar references,
// the ISA dispatch, the OpenMP row split and the tiled GEMM over OpenBLAS.
#include "matmul.h"

#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "cpu_features.h"
#include "q8_int.h"

// ---- formats

size_t qins_wtype_row_bytes(enum qins_wtype t, int cols) {
    if (cols <= 0) return 0;
    switch (t) {
    case QINS_W_F32: return (size_t)cols * 4;
    case QINS_W_F16:
    case QINS_W_BF16: return (size_t)cols * 2;
    case QINS_W_Q8_0: return cols % QINS_Q8_0_BLOCK ? 0 : (size_t)cols / QINS_Q8_0_BLOCK * (2 + QINS_Q8_0_BLOCK);
    default: return 0;
    }
}

const char *qins_wtype_name(enum qins_wtype t) {
    static const char *names[QINS_W_COUNT] = {"f32", "f16", "bf16", "q8_0"};
    return t >= 0 && t < QINS_W_COUNT ? names[t] : "?";
}

int qins_wmat_init(struct qins_wmat *w, enum qins_wtype t, const void *data, int rows, int cols) {
    const size_t rb = qins_wtype_row_bytes(t, cols);
    if (rb == 0 || rows <= 0) return -1;
    *w = (struct qins_wmat){t, data, rows, cols, rb};
    return 0;
}

// One weight of a row as FP32, by the definitions in core/common.h (the yardstick's decoder).
static float weight_ref(enum qins_wtype t, const uint8_t *row, int c) {
    uint16_t h;
    float f;
    switch (t) {
    case QINS_W_F32: memcpy(&f, row + 4 * (size_t)c, 4); return f;
    case QINS_W_F16: memcpy(&h, row + 2 * (size_t)c, 2); return qins_fp16_to_f32(h);
    case QINS_W_BF16: memcpy(&h, row + 2 * (size_t)c, 2); return qins_bf16_to_f32(h);
    case QINS_W_Q8_0: {
        const uint8_t *blk = row + (size_t)(c / QINS_Q8_0_BLOCK) * (2 + QINS_Q8_0_BLOCK);
        memcpy(&h, blk, 2);
        return qins_fp16_to_f32(h) * (float)(int8_t)blk[2 + c % QINS_Q8_0_BLOCK];
    }
    default: return 0.0f;
    }
}

void qins_wmat_decode_ref(const struct qins_wmat *w, int r0, int n_rows, int c0, int n_cols, float *out, size_t ld) {
    for (int r = 0; r < n_rows; r++) {
        const uint8_t *row = (const uint8_t *)w->data + (size_t)(r0 + r) * w->row_bytes;
        for (int c = 0; c < n_cols; c++) out[(size_t)r * ld + c] = weight_ref(w->type, row, c0 + c);
    }
}

void qins_gemv_ref(const struct qins_wmat *w, const float *x, float *y) {
    for (int r = 0; r < w->rows; r++) {
        const uint8_t *row = (const uint8_t *)w->data + (size_t)r * w->row_bytes;
        double s = 0;
        for (int c = 0; c < w->cols; c++) s += (double)weight_ref(w->type, row, c) * x[c];
        y[r] = (float)s;
    }
}

double qins_gemv_worst_rel(const struct qins_wmat *w, const float *x, const float *y, const float *ref) {
    double worst = 0;
    for (int r = 0; r < w->rows; r++) {
        const uint8_t *row = (const uint8_t *)w->data + (size_t)r * w->row_bytes;
        double mag = 0;
        for (int c = 0; c < w->cols; c++) mag += fabs((double)weight_ref(w->type, row, c) * x[c]);
        const double e = fabs((double)y[r] - ref[r]) / (mag > 0 ? mag : 1);
        if (e > worst) worst = e;
    }
    return worst;
}

// ---- the scalar decode stage (CPUs without AVX2): same shape as the SIMD ones, FP32 sums

#define SCALAR_DOT(tname, T)                                                                       \
    static float dot_##tname##_scalar(const uint8_t *row, int cols, const float *x) {              \
        float s = 0;                                                                               \
        for (int c = 0; c < cols; c++) s += weight_ref(T, row, c) * x[c];                          \
        return s;                                                                                  \
    }                                                                                              \
    static void dot4_##tname##_scalar(const uint8_t *w, size_t rb, int cols, const float *x, float *y) {  \
        for (int r = 0; r < 4; r++) y[r] = dot_##tname##_scalar(w + (size_t)r * rb, cols, x);                  \
    }                                                                                              \
    static void span_##tname##_scalar(const uint8_t *row, int c0, int n, float *out) {             \
        for (int i = 0; i < n; i++) out[i] = weight_ref(T, row, c0 + i);                           \
    }
SCALAR_DOT(f32, QINS_W_F32)
SCALAR_DOT(f16, QINS_W_F16)
SCALAR_DOT(bf16, QINS_W_BF16)
SCALAR_DOT(q8_0, QINS_W_Q8_0)

static const struct qins_matmul_isa_kernels scalar_kernels = {
    .dot = {dot_f32_scalar, dot_f16_scalar, dot_bf16_scalar, dot_q8_0_scalar},
    .dot4 = {dot4_f32_scalar, dot4_f16_scalar, dot4_bf16_scalar, dot4_q8_0_scalar},
    .span = {span_f32_scalar, span_f16_scalar, span_bf16_scalar, span_q8_0_scalar},
};

// ---- dispatch

static enum qins_isa requested = QINS_ISA_AUTO;

// Cached like qins_cpu_simd_level: every GEMV asks.
static enum qins_isa best_isa(void) {
    static const enum qins_isa by_level[3] = {QINS_ISA_SCALAR, QINS_ISA_AVX2, QINS_ISA_AVX512};
    static int best = -1;
    if (best < 0) {
        struct qins_cpu_features f;
        qins_cpu_features_get(&f);
        const enum qins_isa isa = by_level[qins_cpu_simd_level()];
        best = isa == QINS_ISA_AVX512 && f.avx512vnni ? QINS_ISA_AVX512_VNNI : isa;
    }
    return (enum qins_isa)best;
}

void qins_matmul_set_isa(enum qins_isa isa) { requested = isa; }

enum qins_isa qins_matmul_isa(void) {
    const enum qins_isa best = best_isa();
    return requested == QINS_ISA_AUTO || requested > best ? best : requested;
}

const char *qins_isa_name(enum qins_isa isa) {
    static const char *names[] = {"scalar", "avx2", "avx512", "avx512vnni", "auto"};
    return isa >= 0 && isa <= QINS_ISA_AUTO ? names[isa] : "?";
}

static const struct qins_matmul_isa_kernels *kernels(void) {
    switch (qins_matmul_isa()) {
    case QINS_ISA_AVX512_VNNI:
    case QINS_ISA_AVX512: return &qins_matmul_avx512;
    case QINS_ISA_AVX2: return &qins_matmul_avx2;
    default: return &scalar_kernels;
    }
}

void qins_wmat_decode(const struct qins_wmat *w, int r0, int n_rows, int c0, int n_cols, float *out, size_t ld) {
    const qins_span_fn span = kernels()->span[w->type];
    for (int r = 0; r < n_rows; r++)
        span((const uint8_t *)w->data + (size_t)(r0 + r) * w->row_bytes, c0, n_cols, out + (size_t)r * ld);
}

// ---- GEMV

// A thread's rows are read as four memory streams: rows r, r+q, r+2q, r+3q side by side (a dot4
// with a stride of q rows), the rows left over one by one. Measured with qins-bench-matmul (one
// thread, the L3 evicted between repetitions, "Intel(R) Xeon(R) Processor"): F16 qkv / gate_up
// 9.9 / 9.9 GB/s with one sequential stream (da71b50's kernels), 13.0 / 13.5 with four (84bb8d2).
// One stream does not keep enough cache-line requests in flight to reach the memory's bandwidth;
// four far-apart streams do (the read probe, core/membw.c, reads several streams too).
// dot4 does exactly dot's arithmetic per row, so the results are the bits they were.
#define GEMV_STREAMS 4

static void gemv_rows_float(const struct qins_wmat *w, const float *x, float *y, int r0, int n) {
    const struct qins_matmul_isa_kernels *k = kernels();
    const uint8_t *base = w->data;
    const qins_dot4_fn dot4 = k->dot4[w->type];
    const qins_dot_fn dot = k->dot[w->type];
    const int q = n / GEMV_STREAMS;
    for (int i = 0; i < q; i++) {
        float o[GEMV_STREAMS];
        dot4(base + (size_t)(r0 + i) * w->row_bytes, (size_t)q * w->row_bytes, w->cols, x, o);
        for (int s = 0; s < GEMV_STREAMS; s++) y[r0 + i + s * q] = o[s];
    }
    for (int r = r0 + GEMV_STREAMS * q; r < r0 + n; r++) y[r] = dot(base + (size_t)r * w->row_bytes, w->cols, x);
}

// The same four streams through the integer Q8_0 dot (kernels/q8_int.h).
static void gemv_rows_q8x(const struct qins_wmat *w, const struct qins_q8x *xq, float *y, int r0, int n) {
    const uint8_t *base = w->data;
    const int q = n / GEMV_STREAMS;
    for (int i = 0; i < q; i++) {
        float o[GEMV_STREAMS];
        qins_q8x_dot4_avx512vnni(base + (size_t)(r0 + i) * w->row_bytes, (size_t)q * w->row_bytes, xq, o);
        for (int s = 0; s < GEMV_STREAMS; s++) y[r0 + i + s * q] = o[s];
    }
    for (int r = r0 + GEMV_STREAMS * q; r < r0 + n; r++) y[r] = qins_q8x_dot_avx512vnni(base + (size_t)r * w->row_bytes, xq);
}

static int use_q8x(const struct qins_wmat *w) {
    return w->type == QINS_W_Q8_0 && qins_matmul_isa() == QINS_ISA_AVX512_VNNI;
}

// Out of memory for x's digits is not an error: the FP32 dot needs none.
void qins_gemv_rows(const struct qins_wmat *w, const float *x, float *y, int r0, int n) {
    struct qins_q8x xq;
    if (use_q8x(w) && qins_q8x_prepare(&xq, x, w->cols) == 0) {
        gemv_rows_q8x(w, &xq, y, r0, n);
        qins_q8x_free(&xq);
        return;
    }
    gemv_rows_float(w, x, y, r0, n);
}

// Below this many weight bytes a parallel region costs more than the second thread gives.
#define GEMV_PARALLEL_BYTES (256u << 10)

void qins_gemv(const struct qins_wmat *w, const float *x, float *y) {
    // F32: measured with qins-bench-matmul (docs/engine.md), the own GEMV streams faster than
    // OpenBLAS sgemv at Phi-3.5 shapes with two threads and about as fast with one. Below
    // GEMV_PARALLEL_BYTES sgemv stays (one thread, nothing to gain), which keeps the small
    // models' recorded results bit-identical to the runs made before the own kernel.
    if (w->type == QINS_W_F32 && qins_wmat_bytes(w) < GEMV_PARALLEL_BYTES) {
        cblas_sgemv(CblasRowMajor, CblasNoTrans, w->rows, w->cols, 1.0f, w->data, w->cols, x, 1, 0.0f, y, 1);
        return;
    }
    const int nt = omp_get_max_threads();
    if (nt <= 1 || omp_in_parallel() || qins_wmat_bytes(w) < GEMV_PARALLEL_BYTES) {
        qins_gemv_rows(w, x, y, 0, w->rows);
        return;
    }
    // x's digits once for all threads
    struct qins_q8x xq;
    const int q8x = use_q8x(w) && qins_q8x_prepare(&xq, x, w->cols) == 0;
    // one contiguous run of rows per thread (read as GEMV_STREAMS streams by gemv_rows_*)
#pragma omp parallel num_threads(nt)
    {
        const int t = omp_get_thread_num(), n = omp_get_num_threads();
        const int r0 = (int)((long)w->rows * t / n), r1 = (int)((long)w->rows * (t + 1) / n);
        if (r1 > r0 && q8x) gemv_rows_q8x(w, &xq, y, r0, r1 - r0);
        else if (r1 > r0) gemv_rows_float(w, x, y, r0, r1 - r0);
    }
    if (q8x) qins_q8x_free(&xq);
}

// ---- GEMM

// One row tile: for each column span, decode it into buf and accumulate its product into y.
static void gemm_tile(const void *w, int rows, int cols, qins_tile_decode_fn decode, const float *x, int n_tok,
                      float *y, int r0, float *buf) {
    const int nr = rows - r0 < QINS_GEMM_TILE_ROWS ? rows - r0 : QINS_GEMM_TILE_ROWS;
    for (int c0 = 0; c0 < cols; c0 += QINS_GEMM_TILE_COLS) {
        const int nc = cols - c0 < QINS_GEMM_TILE_COLS ? cols - c0 : QINS_GEMM_TILE_COLS;
        decode(w, r0, nr, c0, nc, buf, (size_t)nc);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n_tok, nr, nc, 1.0f, x + c0, cols, buf, nc,
                    c0 ? 1.0f : 0.0f, y + r0, rows);
    }
}

int qins_gemm_tiled(const void *w, int rows, int cols, qins_tile_decode_fn decode, const float *x, int n_tok,
                    float *y, const char *what) {
    const int n_tiles = (rows + QINS_GEMM_TILE_ROWS - 1) / QINS_GEMM_TILE_ROWS;
    const size_t buf_n = (size_t)(rows < QINS_GEMM_TILE_ROWS ? rows : QINS_GEMM_TILE_ROWS) *
                         (cols < QINS_GEMM_TILE_COLS ? cols : QINS_GEMM_TILE_COLS);
    const int nt = omp_get_max_threads();
    if (nt <= 1 || n_tiles == 1 || omp_in_parallel()) {
        float *buf = qins_alloc_aligned(buf_n * sizeof(float));
        QINS_CHECK(buf, QINS_ERR_NOMEM, "%s: out of memory for a %zu-float tile", what, buf_n);
        for (int i = 0; i < n_tiles; i++) gemm_tile(w, rows, cols, decode, x, n_tok, y, i * QINS_GEMM_TILE_ROWS, buf);
        free(buf);
        return 0;
    }
    // Each thread decodes into its own buffer and runs sgemm single-threaded (the OpenMP build
    // of OpenBLAS does that inside a parallel region), so the tiles, not sgemm, are split.
    int failed = 0;
#pragma omp parallel num_threads(nt) reduction(| : failed)
    {
        float *buf = qins_alloc_aligned(buf_n * sizeof(float));
        if (!buf) failed = 1;
#pragma omp for schedule(dynamic, 1)
        for (int i = 0; i < n_tiles; i++)
            if (buf) gemm_tile(w, rows, cols, decode, x, n_tok, y, i * QINS_GEMM_TILE_ROWS, buf);
        free(buf);
    }
    QINS_CHECK(!failed, QINS_ERR_NOMEM, "%s: out of memory for %d tiles of %zu floats", what, nt, buf_n);
    return 0;
}

static void wmat_tile(const void *w, int r0, int n_rows, int c0, int n_cols, float *out, size_t ld) {
    qins_wmat_decode(w, r0, n_rows, c0, n_cols, out, ld);
}

int qins_gemm(const struct qins_wmat *w, const float *x, int n_tok, float *y) {
    if (w->type == QINS_W_F32) {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n_tok, w->rows, w->cols, 1.0f, x, w->cols, w->data,
                    w->cols, 0.0f, y, w->rows);
        return 0;
    }
    return qins_gemm_tiled(w, w->rows, w->cols, wmat_tile, x, n_tok, y, "gemm");
}

int qins_matmul(const struct qins_wmat *w, const float *x, int n_tok, float *y) {
    if (n_tok > 1) return qins_gemm(w, x, n_tok, y);
    qins_gemv(w, x, y);
    return 0;
}
