// bench/bench_matmul.c — qins-bench-matmul: the weight-format kernels (kernels/matmul.h) at
// Phi-3.5-mini shapes, against the machine measured in the same process. For every type and
// thread count: GEMV GB/s of weights streamed against the read-bandwidth probe (F32 also
// through OpenBLAS sgemv, which decides the engine's F32 GEMV), and GEMM GFLOP/s for a prompt
// batch against OpenBLAS sgemm on FP32 weights of the same shape. Each kernel is first checked
// against its reference on the benchmark's own matrix. "in L3" times the same kernel on the
// shape's first rows (about 8 MiB a thread, left in cache between repetitions): the kernel's
// ceiling when memory is not the limit; a GEMV whose in-L3 figure is not well above the read
// probe is compute-bound, and no prefetching will bring it to the probe.
// Usage: qins-bench-matmul [--threads 1,2] [--batch 128] [--reps 5] [--isa scalar|avx2|avx512|avx512vnni]
#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "blas.h"
#include "common.h"
#include "matmul.h"
#include "membw.h"
#include "model.h"
#include "util.h"

// Phi-3.5-mini's matrices: fused qkv (9216 x 3072), fused gate/up (16384 x 3072), down (3072 x 8192).
static const struct { const char *name; int rows, cols; } shapes[] = {
    {"qkv", 9216, 3072}, {"gate_up", 16384, 3072}, {"down", 3072, 8192}};
#define N_SHAPES 3

static uint8_t *make(enum qins_wtype t, int rows, int cols, struct qins_wmat *w) {
    const size_t rb = qins_wtype_row_bytes(t, cols), n = rb * rows;
    uint8_t *d = qins_alloc_aligned(n);
    if (!d) return NULL;
    uint32_t s = 99;
    for (size_t i = 0; i < n; i++) {
        s = s * 1664525u + 1013904223u;
        d[i] = (uint8_t)(s >> 24);
    }
    // keep every value finite and of order 1: clear the top exponent bits of 16/32-bit values,
    // and give Q8_0 blocks a small positive scale
    if (t == QINS_W_Q8_0)
        for (size_t b = 0; b < n; b += 34) d[b] = 0x00, d[b + 1] = 0x20;
    else if (t == QINS_W_F32)
        for (size_t i = 3; i < n; i += 4) d[i] = (uint8_t)(0x3c | (d[i] & 0x80));
    else
        for (size_t i = 1; i < n; i += 2) d[i] = (uint8_t)((t == QINS_W_F16 ? 0x38 : 0x3c) | (d[i] & 0x80));
    qins_wmat_init(w, t, d, rows, cols);
    return d;
}

// Before each timed GEMV the last-level cache is refilled with other data: the matrices
// (30-200 MB) otherwise stay partly resident in a large L3 (105 MB on the Xeon this was written
// on) between repetitions and stream faster than memory allows.
#define EVICT_BYTES (256u << 20)
static uint64_t *evict_buf;
static volatile uint64_t evict_sink;
static void evict_caches(void) {
    if (!evict_buf) return;
    uint64_t s = 0;
    for (size_t i = 0; i < EVICT_BYTES / 8; i += 8) s += evict_buf[i];
    evict_sink = s;
}

static double median_time_ex(void (*fn)(void *), void *arg, int reps, int evict) {
    double *s = malloc(reps * sizeof *s);
    fn(arg); // warm-up
    for (int r = 0; r < reps; r++) {
        if (evict) evict_caches();
        const double t0 = qins_time_now();
        fn(arg);
        s[r] = qins_time_now() - t0;
    }
    const double m = qins_median_inplace(s, (size_t)reps);
    free(s);
    return m;
}
static double median_time(void (*fn)(void *), void *arg, int reps) { return median_time_ex(fn, arg, reps, 0); }
static double gemv_time(void (*fn)(void *), void *arg, int reps) { return median_time_ex(fn, arg, reps, 1); }

struct call {
    const struct qins_wmat *w;
    const float *x;
    float *y;
    int batch, sgemv;
    float *w_f32; // FP32 copy for the sgemm yardstick
};
static void run_gemv(void *a) {
    struct call *c = a;
    if (c->sgemv)
        cblas_sgemv(CblasRowMajor, CblasNoTrans, c->w->rows, c->w->cols, 1.0f, c->w->data, c->w->cols, c->x, 1, 0.0f,
                    c->y, 1);
    else
        qins_gemv(c->w, c->x, c->y);
}
static void run_gemm(void *a) {
    struct call *c = a;
    qins_gemm(c->w, c->x, c->batch, c->y);
}
static void run_sgemm(void *a) {
    struct call *c = a;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, c->batch, c->w->rows, c->w->cols, 1.0f, c->x, c->w->cols,
                c->w_f32, c->w->cols, 0.0f, c->y, c->w->rows);
}

// The kernel against the reference on the first rows of the benchmark's own matrix.
static int check(const struct qins_wmat *w, const float *x, float *y) {
    struct qins_wmat head = *w;
    head.rows = 64;
    float ref[64];
    qins_gemv_ref(&head, x, ref);
    qins_gemv(&head, x, y);
    const int bad = qins_gemv_worst_rel(&head, x, y, ref) > QINS_MATMUL_REL_TOL;
    if (bad) fprintf(stderr, "qins-bench-matmul: %s GEMV differs from its reference\n", qins_wtype_name(w->type));
    return bad;
}

int main(int argc, char **argv) {
    const char *threads = "1,2", *isa = NULL;
    int batch = 128, reps = 5;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--threads") && i + 1 < argc) threads = argv[++i];
        else if (!strcmp(argv[i], "--batch") && i + 1 < argc) batch = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--reps") && i + 1 < argc) reps = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--isa") && i + 1 < argc) isa = argv[++i];
        else {
            fprintf(stderr, "usage: qins-bench-matmul [--threads 1,2] [--batch 128] [--reps 5] [--isa scalar|avx2|avx512|avx512vnni]\n");
            return 2;
        }
    }
    if (batch < 2 || batch > 4096 || reps < 1 || reps > 100) {
        fprintf(stderr, "qins-bench-matmul: --batch must be 2..4096 and --reps 1..100\n");
        return 2;
    }
    if (isa) {
        enum qins_isa want = !strcmp(isa, "scalar") ? QINS_ISA_SCALAR : !strcmp(isa, "avx2") ? QINS_ISA_AVX2
                           : !strcmp(isa, "avx512") ? QINS_ISA_AVX512
                           : !strcmp(isa, "avx512vnni") ? QINS_ISA_AVX512_VNNI : QINS_ISA_AUTO;
        if (want == QINS_ISA_AUTO) {
            fprintf(stderr, "qins-bench-matmul: --isa must be scalar, avx2, avx512 or avx512vnni, got '%s'\n", isa);
            return 2;
        }
        qins_matmul_set_isa(want);
    }
    struct qins_blas_info bi;
    qins_blas_info_get(&bi);
    printf("blas %s %s, core %s | cpu %s | kernels %s\n", bi.name, bi.version, bi.core, bi.cpu_model,
           qins_isa_name(qins_matmul_isa()));
    evict_buf = qins_alloc_aligned(EVICT_BYTES);
    if (evict_buf) memset(evict_buf, 1, EVICT_BYTES);
    else fprintf(stderr, "qins-bench-matmul: no memory for the cache-eviction buffer: GEMV figures may include cache hits\n");
    float *x = qins_alloc_aligned((size_t)batch * 8192 * sizeof(float)), *y = qins_alloc_aligned((size_t)batch * 16384 * sizeof(float));
    for (size_t i = 0; i < (size_t)batch * 8192; i++) x[i] = (float)((i * 37) % 101) / 101.0f - 0.5f;
    char spec[64];
    snprintf(spec, sizeof spec, "%s", threads);
    int status = 0;
    for (char *tok = strtok(spec, ","); tok; tok = strtok(NULL, ",")) {
        const int nt = atoi(tok);
        if (nt < 1 || nt > 256) continue;
        const double read_gbps = qins_measure_read_gbps((size_t)nt * (512u << 20), nt);
        qins_set_threads(nt);
        printf("threads %d: read probe %.2f GB/s\n", nt, read_gbps);
        printf("  %-5s %-8s | gemv GB/s  %% of read | gemm%d GFLOP/s  sgemm FP32  %% of sgemm\n", "type", "shape", batch);
        for (int t = 0; t < QINS_W_COUNT; t++)
            for (int s = 0; s < N_SHAPES; s++) {
                struct qins_wmat w;
                uint8_t *d = make((enum qins_wtype)t, shapes[s].rows, shapes[s].cols, &w);
                struct call c = {&w, x, y, batch, 0, NULL};
                if (!d || check(&w, x, y)) {
                    status = 1;
                    free(d);
                    continue;
                }
                const double bytes = (double)qins_wmat_bytes(&w), flops = 2.0 * batch * w.rows * w.cols;
                const double gemv = bytes / gemv_time(run_gemv, &c, reps) / 1e9;
                const double gemm = flops / median_time(run_gemm, &c, reps > 3 ? 3 : reps) / 1e9;
                c.w_f32 = qins_alloc_aligned((size_t)w.rows * w.cols * sizeof(float));
                qins_wmat_decode(&w, 0, w.rows, 0, w.cols, c.w_f32, (size_t)w.cols);
                const double sgemm = flops / median_time(run_sgemm, &c, reps > 3 ? 3 : reps) / 1e9;
                printf("  %-5s %-8s | %8.2f  %7.0f %%  | %13.1f  %10.1f  %7.0f %%", qins_wtype_name(w.type), shapes[s].name,
                       gemv, 100 * gemv / read_gbps, gemm, sgemm, 100 * gemm / sgemm);
                if (t == QINS_W_F32) {
                    c.sgemv = 1;
                    const double sgemv = bytes / gemv_time(run_gemv, &c, reps) / 1e9;
                    printf(" | OpenBLAS sgemv %.2f GB/s (own/sgemv %.2f)", sgemv, gemv / sgemv);
                }
                if (t == QINS_W_Q8_0 && qins_matmul_isa() == QINS_ISA_AVX512_VNNI) {
                    // the FP32 Q8_0 dot the integer one replaced, same matrix, same run
                    qins_matmul_set_isa(QINS_ISA_AVX512);
                    const double fdot = bytes / gemv_time(run_gemv, &c, reps) / 1e9;
                    qins_matmul_set_isa(QINS_ISA_AVX512_VNNI);
                    printf(" | FP32 dot %.2f GB/s (integer/FP32 dot %.2f)", fdot, gemv / fdot);
                }
                // the in-cache ceiling: the first rows of the same matrix, a whole number of
                // 4-row streams per thread, timed without eviction after one warm-up pass
                const int l3_rows = (int)((size_t)nt * (8u << 20) / w.row_bytes) / (16 * nt) * (16 * nt);
                if (l3_rows > 0 && l3_rows < w.rows) {
                    struct qins_wmat w3;
                    qins_wmat_init(&w3, w.type, d, l3_rows, w.cols);
                    struct call c3 = {&w3, x, y, batch, 0, NULL};
                    printf(" | in L3 %.2f GB/s", (double)qins_wmat_bytes(&w3) / median_time(run_gemv, &c3, 5 * reps) / 1e9);
                }
                if (gemv > read_gbps * 1.05) printf(" | WARNING: faster than the read probe: the probe is wrong");
                printf("\n");
                free(c.w_f32);
                free(d);
            }
    }
    free(x), free(y), free(evict_buf);
    return status;
}
