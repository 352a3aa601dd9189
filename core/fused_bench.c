// core/fused_bench.c — one fused-kernel measurement (core/fused_bench.h): synthetic weights in
// every format, the ops timed in turn, FP64 references, derived figures.
#include "fused_bench.h"

#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "fused_huffman.h"
#include "fused_matmul.h"
#include "matmul.h"
#include "membw.h"
#include "model.h"
#include "util.h"

const char *qins_fb_op_name(enum qins_fb_op op) {
    static const char *names[QINS_FB_N_OPS] = {"fused", "huffman", "sep-blas", "sep-slot", "f32", "f16", "q8_0"};
    return op >= 0 && op < QINS_FB_N_OPS ? names[op] : "?";
}

// Everything one measurement holds; freed by ctx_free.
struct ctx {
    const struct qins_fb_spec *s;
    float *w;                 // (rows, cols) FP32 source weights
    uint16_t *w16;            // (rows, cols) binary16
    uint8_t *q8;              // (rows, cols/32 blocks of 34 bytes) Q8_0
    uint8_t *enc;             // the codec's encoded block
    size_t enc_bytes;
    float *dec;               // (rows, cols) decode buffer of the separate ops
    struct qins_cmat m;
    struct qins_hmat h;
    bool have_h;
    struct qins_wmat wf32, wf16, wq8;
    float *x, *y;             // (batch, cols), (batch, rows)
    enum qins_fb_op op;       // what run_op calls
    int status;
};

static void ctx_free(struct ctx *c) {
    qins_cmat_free(&c->m);
    if (c->have_h) qins_hmat_free(&c->h);
    free(c->w), free(c->w16), free(c->q8), free(c->enc), free(c->dec), free(c->x), free(c->y);
}

static float gauss(uint32_t *st) {
    float s = 0;
    for (int i = 0; i < 4; i++) {
        *st = *st * 1664525u + 1013904223u;
        s += (float)(*st >> 8) / 16777216.0f - 0.5f;
    }
    return s * 0.07f; // the sum of four U(-1/2, 1/2) has std 0.577: ~0.04 here, a weight's order
}

static void quantize_q8_0(const float *w, int rows, int cols, uint8_t *out) {
    for (int r = 0; r < rows; r++)
        for (int b = 0; b < cols / QINS_Q8_0_BLOCK; b++) {
            const float *v = w + (size_t)r * cols + (size_t)b * QINS_Q8_0_BLOCK;
            uint8_t *blk = out + ((size_t)r * (cols / QINS_Q8_0_BLOCK) + b) * (2 + QINS_Q8_0_BLOCK);
            float amax = 0;
            for (int i = 0; i < QINS_Q8_0_BLOCK; i++) amax = fmaxf(amax, fabsf(v[i]));
            const uint16_t dh = qins_f32_to_fp16(amax / 127.0f);
            const float d = qins_fp16_to_f32(dh);
            memcpy(blk, &dh, 2);
            for (int i = 0; i < QINS_Q8_0_BLOCK; i++) blk[2 + i] = (uint8_t)(int8_t)(d > 0 ? lrintf(v[i] / d) : 0);
        }
}

static int ctx_init(struct ctx *c, const struct qins_fb_spec *s) {
    memset(c, 0, sizeof *c);
    c->s = s;
    const size_t n = (size_t)s->rows * s->cols;
    c->enc_bytes = qins_codec_encoded_bytes(&s->p, s->rows, s->cols);
    c->w = qins_alloc_aligned(n * 4), c->w16 = qins_alloc_aligned(n * 2), c->dec = qins_alloc_aligned(n * 4);
    c->enc = qins_alloc_aligned(c->enc_bytes ? c->enc_bytes : 1);
    c->x = qins_alloc_aligned((size_t)s->batch * s->cols * 4), c->y = qins_alloc_aligned((size_t)s->batch * s->rows * 4);
    const bool q8 = s->cols % QINS_Q8_0_BLOCK == 0;
    if (q8) c->q8 = qins_alloc_aligned(qins_wtype_row_bytes(QINS_W_Q8_0, s->cols) * s->rows);
    QINS_CHECK(c->w && c->w16 && c->dec && c->enc && c->x && c->y && (!q8 || c->q8), QINS_ERR_NOMEM,
               "fused bench: out of memory for a %d x %d weight", s->rows, s->cols);
    uint32_t st = s->seed ? s->seed : 12345u;
    for (size_t i = 0; i < n; i++) c->w[i] = gauss(&st), c->w16[i] = qins_f32_to_fp16(c->w[i]);
    for (size_t i = 0; i < (size_t)s->batch * s->cols; i++) c->x[i] = gauss(&st) * 25.0f; // activations of order 1
    QINS_TRY(qins_codec_encode(&s->p, c->w, s->rows, s->cols, c->enc, c->enc_bytes));
    QINS_TRY(qins_cmat_init(&c->m, &s->p, c->enc, c->enc_bytes, s->rows, s->cols));
    QINS_TRY(qins_codec_decode(&s->p, c->enc, c->enc_bytes, s->rows, s->cols, c->dec));
    qins_wmat_init(&c->wf32, QINS_W_F32, c->w, s->rows, s->cols);
    qins_wmat_init(&c->wf16, QINS_W_F16, c->w16, s->rows, s->cols);
    if (q8) {
        quantize_q8_0(c->w, s->rows, s->cols, c->q8);
        qins_wmat_init(&c->wq8, QINS_W_Q8_0, c->q8, s->rows, s->cols);
    }
    if (s->huffman && s->batch == 1) {
        QINS_TRY(qins_hmat_init(&c->h, &s->p, c->enc, c->enc_bytes, s->rows, s->cols));
        c->have_h = true;
    }
    return 0;
}

// One call of c->op on c->x -> c->y (status kept in c->status).
static void run_op(struct ctx *c) {
    const struct qins_fb_spec *s = c->s;
    int rc = 0;
    switch (c->op) {
    case QINS_FB_FUSED: rc = qins_cmat_matmul(&c->m, c->x, s->batch, c->y); break;
    case QINS_FB_HUFFMAN: rc = qins_hmat_gemv(&c->h, c->x, c->y); break;
    case QINS_FB_SEP_BLAS:
        rc = qins_codec_decode(&s->p, c->enc, c->enc_bytes, s->rows, s->cols, c->dec);
        if (rc == 0 && s->batch == 1)
            cblas_sgemv(CblasRowMajor, CblasNoTrans, s->rows, s->cols, 1.0f, c->dec, s->cols, c->x, 1, 0.0f, c->y, 1);
        else if (rc == 0)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, s->batch, s->rows, s->cols, 1.0f, c->x, s->cols,
                        c->dec, s->cols, 0.0f, c->y, s->rows);
        break;
    case QINS_FB_SEP_SLOT:
        rc = qins_codec_decode(&s->p, c->enc, c->enc_bytes, s->rows, s->cols, c->dec);
        if (rc == 0) rc = qins_matmul_f32(c->dec, s->rows, s->cols, c->x, s->batch, c->y);
        break;
    case QINS_FB_F32: rc = qins_matmul(&c->wf32, c->x, s->batch, c->y); break;
    case QINS_FB_F16: rc = qins_matmul(&c->wf16, c->x, s->batch, c->y); break;
    case QINS_FB_Q8_0: rc = qins_matmul(&c->wq8, c->x, s->batch, c->y); break;
    default: rc = QINS_ERR_ARG;
    }
    if (rc < 0 && c->status == 0) c->status = rc;
}

static double median_seconds(struct ctx *c, int reps) {
    double *t = malloc((size_t)reps * sizeof *t);
    if (!t) return NAN;
    run_op(c); // warm-up: caches, page faults, OpenMP pool
    for (int i = 0; i < reps; i++) {
        const double t0 = qins_time_now();
        run_op(c);
        t[i] = qins_time_now() - t0;
    }
    const double med = qins_median_inplace(t, (size_t)reps);
    free(t);
    return med;
}

// FP64 reference for one token against FP32 weights wd (rows, cols), accumulating the worst
// row error, the squared error and the squared reference.
static void ref_errors(const float *wd, int rows, int cols, const float *x, const float *y, double *worst,
                       double *e2, double *r2) {
    for (int r = 0; r < rows; r++) {
        const float *wr = wd + (size_t)r * cols;
        double s = 0, mag = 0;
        for (int k = 0; k < cols; k++) s += (double)wr[k] * x[k], mag += fabs((double)wr[k] * x[k]);
        const double e = fabs((double)y[r] - s);
        *worst = fmax(*worst, e / (mag > 0 ? mag : 1));
        *e2 += e * e, *r2 += s * s;
    }
}

// The errors of c->y against the op's decoded weights (F16/Q8_0 decoded here, row by row).
static void op_errors(struct ctx *c, struct qins_fb_row *row) {
    const struct qins_fb_spec *s = c->s;
    double worst = 0, e2 = 0, r2 = 0;
    float *wd = NULL;
    const float *w = c->dec;
    if (c->op == QINS_FB_F32) w = c->w;
    if (c->op == QINS_FB_F16 || c->op == QINS_FB_Q8_0) {
        wd = malloc((size_t)s->rows * s->cols * 4);
        if (!wd) return;
        qins_wmat_decode_ref(c->op == QINS_FB_F16 ? &c->wf16 : &c->wq8, 0, s->rows, 0, s->cols, wd, s->cols);
        w = wd;
    }
    for (int t = 0; t < s->batch; t = t == s->batch - 1 ? s->batch : s->batch - 1)
        ref_errors(w, s->rows, s->cols, c->x + (size_t)t * s->cols, c->y + (size_t)t * s->rows, &worst, &e2, &r2);
    row->max_rel_err = worst;
    row->l2_rel_err = r2 > 0 ? sqrt(e2 / r2) : sqrt(e2);
    free(wd);
}

static double op_bytes(const struct ctx *c, enum qins_fb_op op) {
    const struct qins_fb_spec *s = c->s;
    const double n = (double)s->rows * s->cols, io = (double)s->batch * (s->rows + s->cols) * 4;
    switch (op) {
    case QINS_FB_FUSED: return (double)c->enc_bytes + io;
    case QINS_FB_HUFFMAN: return (double)c->h.stored_bytes + io;
    case QINS_FB_SEP_BLAS:
    case QINS_FB_SEP_SLOT: return (double)c->enc_bytes + 8 * n + io;
    case QINS_FB_F32: return 4 * n + io;
    case QINS_FB_F16: return 2 * n + io;
    case QINS_FB_Q8_0: return (double)qins_wmat_bytes(&c->wq8) + io;
    default: return NAN;
    }
}

int qins_fb_run(const struct qins_fb_spec *s, struct qins_fb_row *rows, int cap, double *read_gbps_used) {
    QINS_CHECK(s && rows && cap >= QINS_FB_N_OPS, QINS_ERR_ARG, "fused bench: need room for %d rows", QINS_FB_N_OPS);
    QINS_CHECK(s->rows > 0 && s->cols > 0 && s->batch >= 1 && s->batch <= 256 && s->reps >= 1 && s->reps <= 1000,
               QINS_ERR_ARG, "fused bench: bad spec %d x %d, batch %d, reps %d", s->rows, s->cols, s->batch, s->reps);
    char name[32], gran[32];
    QINS_CHECK(qins_cmat_supported(&s->p), QINS_ERR_UNSUPPORTED, "fused bench: no fused kernel for %s with %s scales",
               qins_codec_name(&s->p, name, sizeof name), qins_codec_granularity_name(&s->p, gran, sizeof gran));
    const double read_gbps =
        s->read_gbps > 0 ? s->read_gbps : qins_measure_read_gbps((size_t)256 << 20, omp_get_max_threads());
    if (read_gbps_used) *read_gbps_used = read_gbps;
    struct ctx c;
    int rc = ctx_init(&c, s);
    for (int op = 0; rc == 0 && op < QINS_FB_N_OPS; op++) {
        struct qins_fb_row *row = &rows[op];
        *row = (struct qins_fb_row){.op = (enum qins_fb_op)op};
        row->seconds = row->bytes = row->gbps = row->roofline = NAN;
        row->speedup_vs_separate = row->speedup_vs_f32 = row->max_rel_err = row->l2_rel_err = NAN;
        if (op == QINS_FB_HUFFMAN && !c.have_h) {
            row->skipped = true;
            snprintf(row->why, sizeof row->why, s->batch > 1 ? "GEMV only" : "not asked for");
            continue;
        }
        if (op == QINS_FB_Q8_0 && !c.q8) {
            row->skipped = true;
            snprintf(row->why, sizeof row->why, "cols %d not a multiple of %d", s->cols, QINS_Q8_0_BLOCK);
            continue;
        }
        c.op = (enum qins_fb_op)op;
        row->seconds = median_seconds(&c, s->reps);
        if (c.status < 0) {
            rc = c.status;
            break;
        }
        op_errors(&c, row);
        row->bytes = op_bytes(&c, c.op);
        row->gbps = row->bytes / row->seconds / 1e9;
        row->roofline = row->gbps / read_gbps;
    }
    if (rc == 0) {
        const double sep = fmin(rows[QINS_FB_SEP_BLAS].seconds, rows[QINS_FB_SEP_SLOT].seconds),
                     f32 = rows[QINS_FB_F32].seconds;
        for (int op = 0; op < QINS_FB_N_OPS; op++)
            if (!rows[op].skipped)
                rows[op].speedup_vs_separate = sep / rows[op].seconds, rows[op].speedup_vs_f32 = f32 / rows[op].seconds;
    }
    ctx_free(&c);
    return rc;
}
