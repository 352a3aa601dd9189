// core/fused_cuda_bench.c — the phase-4 CUDA kernel cases (see core/fused_cuda_bench.h).
#include "fused_cuda_bench.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attn.h"
#include "codec.h"
#include "common.h"
#include "page.h"
#ifdef QINS_HAVE_CUDA
#include "fused_cuda.h"
#endif

static void wshape(struct qins_fcb_opts *o, const char *model, const char *slot, int rows, int cols) {
    struct qins_fcb_weight_shape *s = &o->weights[o->n_weights++];
    snprintf(s->model, sizeof s->model, "%s", model);
    snprintf(s->slot, sizeof s->slot, "%s", slot);
    s->rows = rows, s->cols = cols;
}

static void ashape(struct qins_fcb_opts *o, const char *model, int n_kv, int G, int D, int ctx) {
    struct qins_fcb_attn_shape *s = &o->attn[o->n_attn++];
    snprintf(s->model, sizeof s->model, "%s", model);
    s->n_kv = n_kv, s->G = G, s->head_dim = D, s->ctx = ctx, s->page_tokens = 16;
}

void qins_fcb_opts_default(struct qins_fcb_opts *o) {
    memset(o, 0, sizeof *o);
    o->reps = 20, o->gemm_batch = 256, o->group_size = 64, o->seed = 1;
    wshape(o, "stories260K", "q/o", 64, 64);
    wshape(o, "stories260K", "k/v", 32, 64);
    wshape(o, "stories260K", "gate/up", 172, 64);
    wshape(o, "stories260K", "down", 64, 172);
    wshape(o, "stories260K", "output", 512, 64);
    wshape(o, "phi3.5-mini", "q/k/v/o", 3072, 3072);
    wshape(o, "phi3.5-mini", "gate/up", 8192, 3072);
    wshape(o, "phi3.5-mini", "down", 3072, 8192);
    ashape(o, "stories260K", 4, 2, 8, 256);
    ashape(o, "stories260K", 4, 2, 8, 512);
    ashape(o, "phi3.5-mini", 32, 1, 96, 256);
    ashape(o, "phi3.5-mini", 32, 1, 96, 1024);
    ashape(o, "phi3.5-mini", 32, 1, 96, 2048);
}

#ifndef QINS_HAVE_CUDA
int qins_fcb_device(char *buf, size_t cap) {
    (void)buf, (void)cap;
    QINS_CHECK(0, QINS_ERR_UNSUPPORTED, "built without CUDA (nvcc not found or QINS_CUDA=OFF)");
}
int qins_fcb_run(const struct qins_fcb_opts *o, int verbose, struct qins_fcb_row **rows, size_t *n) {
    (void)o, (void)verbose;
    *rows = NULL, *n = 0;
    QINS_CHECK(0, QINS_ERR_UNSUPPORTED, "built without CUDA (nvcc not found or QINS_CUDA=OFF)");
}
#else

int qins_fcb_device(char *buf, size_t cap) { return qins_cuda_device_name(buf, cap); }

static const enum qins_codec_kind codecs[] = {QINS_CODEC_INT, QINS_CODEC_NF, QINS_CODEC_QINS};
#define N_CODECS 3

static uint64_t splitmix(uint64_t *s) {
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static float *gauss(size_t n, uint64_t seed) {
    float *x = malloc(n * sizeof *x);
    if (!x) return NULL;
    uint64_t s = seed;
#pragma omp parallel for schedule(static) firstprivate(s)
    for (size_t i = 0; i < n; i += 2) {
        uint64_t t = s + i * 0x9e3779b97f4a7c15ull; // independent of the thread split
        double u1 = ((double)(splitmix(&t) >> 11) + 0.5) / 9007199254740992.0;
        double u2 = ((double)(splitmix(&t) >> 11) + 0.5) / 9007199254740992.0;
        double r = sqrt(-2.0 * log(u1));
        x[i] = (float)(r * cos(6.283185307179586 * u2));
        if (i + 1 < n) x[i + 1] = (float)(r * sin(6.283185307179586 * u2));
    }
    return x;
}

static struct qins_codec_params params(enum qins_codec_kind c, int bits, enum qins_granularity g, int G) {
    struct qins_codec_params p;
    qins_codec_params_default(&p);
    p.codec = c, p.bits = bits, p.granularity = g, p.group_size = G;
    return p;
}

static void label_row(struct qins_fcb_row *r, const char *op, const struct qins_codec_params *p) {
    snprintf(r->op, sizeof r->op, "%s", op);
    qins_codec_name(p, r->codec, sizeof r->codec);
    qins_codec_granularity_name(p, r->gran, sizeof r->gran);
    r->bits = p->bits;
}

static void timing_row(struct qins_fcb_row *r, const struct qins_cuda_timing *t) {
    r->seconds = t->seconds, r->bytes = t->bytes, r->gbps = t->gbps, r->copy_gbps = t->copy_gbps;
    r->roofline_frac = t->frac, r->gflops = t->gflops;
}

// max_i |y_i - ref_i| / max_i |ref_i| of y = w x (rows of w decoded, FP64 reference).
static double product_err(const float *w, const float *x, const float *y, size_t rows, size_t cols) {
    double num = 0, den = 0;
#pragma omp parallel for schedule(static) reduction(max : num, den)
    for (size_t r = 0; r < rows; r++) {
        double ref = 0;
        for (size_t c = 0; c < cols; c++) ref += (double)w[r * cols + c] * x[c];
        num = fmax(num, fabs(y[r] - ref)), den = fmax(den, fabs(ref));
    }
    return den > 0 ? num / den : num;
}

static void print_row(const struct qins_fcb_row *r) {
    if (!strcmp(r->op, "attn"))
        printf("cuda %-4s %-11s %2d kv x %d, D %3d, ctx %4d  %-7s %-7s %8.1f GB/s  %5.1f%% of copy %7.1f  err %.2e\n",
               r->op, r->model, r->n_kv, r->G, r->head_dim, r->ctx, r->codec, r->gran, r->gbps,
               100 * r->roofline_frac, r->copy_gbps, r->max_rel_err);
    else
        printf("cuda %-4s %-11s %-8s %5dx%-5d b%-3d %-7s %-7s %8.1f GB/s  %5.1f%% of copy %7.1f  %8.1f GFLOP/s  err %.2e\n",
               r->op, r->model, r->slot, r->rows, r->cols, r->batch, r->codec, r->gran, r->gbps,
               100 * r->roofline_frac, r->copy_gbps, r->gflops, r->max_rel_err);
    fflush(stdout);
}

struct wcase {
    struct qins_codec_params p;
    uint8_t *enc;
    size_t len;
    float *dec;
    int rc;
};

// Weights of one shape: every case encoded (and decoded for the reference) in parallel, then
// timed one after the other on the GPU.
static int weight_cases(const struct qins_fcb_opts *o, const struct qins_fcb_weight_shape *s, int verbose,
                        struct qins_fcb_row *out, size_t *n) {
    const size_t rows = (size_t)s->rows, cols = (size_t)s->cols, B = (size_t)o->gemm_batch;
    int bits[3] = {8, 6, 4}, nb = o->quick ? 2 : 3;
    if (o->quick) bits[1] = 4;
    const int ng = o->quick ? 1 : 2, nc = N_CODECS * nb * ng;
    struct wcase cs[N_CODECS * 3 * 2];
    memset(cs, 0, sizeof cs);
    float *w = gauss(rows * cols, o->seed + (uint64_t)rows * 7919 + cols);
    float *x = gauss(cols, o->seed + 11), *X = gauss(B * cols, o->seed + 13);
    float *y = malloc(rows * sizeof *y), *Y = malloc(B * rows * sizeof *Y);
    int rc = (w && x && X && y && Y) ? 0 : QINS_ERR_NOMEM;
    for (int i = 0; i < nc; i++)
        cs[i].p = params(codecs[i / (nb * ng)], bits[i / ng % nb], i % ng ? QINS_GRAN_PER_GROUP : QINS_GRAN_PER_ROW,
                         o->group_size);
#pragma omp parallel for schedule(dynamic)
    for (int i = 0; i < nc; i++) {
        if (rc) continue;
        cs[i].len = qins_codec_encoded_bytes(&cs[i].p, rows, cols);
        cs[i].enc = malloc(cs[i].len), cs[i].dec = malloc(rows * cols * sizeof(float));
        cs[i].rc = !cs[i].enc || !cs[i].dec ? QINS_ERR_NOMEM
                   : qins_codec_encode(&cs[i].p, w, rows, cols, cs[i].enc, cs[i].len);
        if (!cs[i].rc) cs[i].rc = qins_codec_decode(&cs[i].p, cs[i].enc, cs[i].len, rows, cols, cs[i].dec);
    }
    for (int i = 0; i < nc && !rc; i++) {
        struct qins_cuda_timing t;
        struct qins_fcb_row *r = &out[*n];
        if ((rc = cs[i].rc)) break;
        memset(r, 0, sizeof *r);
        label_row(r, "gemv", &cs[i].p);
        snprintf(r->model, sizeof r->model, "%s", s->model);
        snprintf(r->slot, sizeof r->slot, "%s", s->slot);
        r->rows = s->rows, r->cols = s->cols, r->batch = 1;
        if ((rc = qins_cuda_fused_gemv_bench(&cs[i].p, cs[i].enc, cs[i].len, rows, cols, x, y, o->reps, &t))) break;
        timing_row(r, &t);
        r->max_rel_err = product_err(cs[i].dec, x, y, rows, cols);
        if (verbose) print_row(r);
        (*n)++;
        r = &out[*n];
        *r = out[*n - 1];
        snprintf(r->op, sizeof r->op, "gemm");
        r->batch = (int)B;
        if ((rc = qins_cuda_fused_gemm_bench(&cs[i].p, cs[i].enc, cs[i].len, rows, cols, X, B, Y, o->reps, &t)))
            break;
        timing_row(r, &t);
        r->max_rel_err = 0;
        const size_t toks[3] = {0, B / 2, B - 1};
        float *yt = malloc(rows * sizeof *yt);
        if (!yt) { rc = QINS_ERR_NOMEM; break; }
        for (int k = 0; k < 3; k++) {
            for (size_t j = 0; j < rows; j++) yt[j] = Y[toks[k] * rows + j];
            r->max_rel_err = fmax(r->max_rel_err, product_err(cs[i].dec, X + toks[k] * cols, yt, rows, cols));
        }
        free(yt);
        if (verbose) print_row(r);
        (*n)++;
    }
    for (int i = 0; i < nc; i++) free(cs[i].enc), free(cs[i].dec);
    free(w), free(x), free(X), free(y), free(Y);
    return rc;
}

// One attention case: K and V pages of ctx positions under p (full pages, the rest FP32 fill,
// as core/kv_paged.c keeps them), timed, checked against decode-every-page + qins_attn_rows_ref.
static int attn_case(const struct qins_fcb_opts *o, const struct qins_fcb_attn_shape *s,
                     const struct qins_codec_params *p, struct qins_fcb_row *r) {
    const int kv_dim = s->n_kv * s->head_dim, P = s->page_tokens, n = s->ctx, heads = s->n_kv * s->G;
    const int n_pages = n / P, n_fill = n % P;
    const size_t stride = qins_page_kv_bytes(p, (size_t)P, (size_t)kv_dim), pf = (size_t)P * kv_dim;
    QINS_CHECK(stride > 0, QINS_ERR_ARG, "fused cuda bench: no page of %d x %d", P, kv_dim);
    float *kx = gauss((size_t)n * kv_dim, o->seed + 21), *vx = gauss((size_t)n * kv_dim, o->seed + 22);
    float *kd = malloc((size_t)n * kv_dim * sizeof(float)), *vd = malloc((size_t)n * kv_dim * sizeof(float));
    float *q = gauss((size_t)heads * s->head_dim, o->seed + 23), *ref = malloc((size_t)heads * s->head_dim * 4);
    float *out = malloc((size_t)heads * s->head_dim * 4), *sc = malloc((size_t)heads * n * 4);
    uint8_t *kp = malloc(stride * (n_pages + 1)), *vp = malloc(stride * (n_pages + 1));
    int rc = (kx && vx && kd && vd && q && ref && out && sc && kp && vp) ? 0 : QINS_ERR_NOMEM;
    for (int pg = 0; pg < n_pages && !rc; pg++) {
        size_t wr;
        const size_t pay = stride - QINS_PAGE_KV_HEADER_BYTES;
        rc = qins_page_kv_write(p, kx + pg * pf, (size_t)P, (size_t)kv_dim, kp + pg * stride, stride, &wr);
        if (!rc) rc = qins_page_kv_write(p, vx + pg * pf, (size_t)P, (size_t)kv_dim, vp + pg * stride, stride, &wr);
        if (!rc) rc = qins_codec_decode(p, kp + pg * stride + QINS_PAGE_KV_HEADER_BYTES, pay, (size_t)P, (size_t)kv_dim, kd + pg * pf);
        if (!rc) rc = qins_codec_decode(p, vp + pg * stride + QINS_PAGE_KV_HEADER_BYTES, pay, (size_t)P, (size_t)kv_dim, vd + pg * pf);
    }
    if (!rc) {
        memcpy(kd + n_pages * pf, kx + n_pages * pf, (size_t)n_fill * kv_dim * sizeof(float));
        memcpy(vd + n_pages * pf, vx + n_pages * pf, (size_t)n_fill * kv_dim * sizeof(float));
        const float scale = 1.0f / sqrtf((float)s->head_dim);
        struct qins_cuda_kv_stream ks = {*p, P, n_pages, n_fill, kp, kx + n_pages * pf};
        struct qins_cuda_kv_stream vs = {*p, P, n_pages, n_fill, vp, vx + n_pages * pf};
        struct qins_cuda_timing t;
        qins_attn_rows_ref(q, s->n_kv, s->G, kd, vd, (size_t)kv_dim, n, s->head_dim, scale, sc, ref);
        rc = qins_cuda_fused_attn_bench(&ks, &vs, s->n_kv, s->G, s->head_dim, scale, q, out, o->reps, &t);
        if (!rc) {
            memset(r, 0, sizeof *r);
            label_row(r, "attn", p);
            snprintf(r->model, sizeof r->model, "%s", s->model);
            snprintf(r->slot, sizeof r->slot, "attention");
            r->n_kv = s->n_kv, r->G = s->G, r->head_dim = s->head_dim, r->ctx = n, r->page_tokens = P;
            timing_row(r, &t);
            double num = 0, den = 0;
            for (int i = 0; i < heads * s->head_dim; i++) num = fmax(num, fabs(out[i] - ref[i])), den = fmax(den, fabs(ref[i]));
            r->max_rel_err = den > 0 ? num / den : num;
        }
    }
    free(kx), free(vx), free(kd), free(vd), free(q), free(ref), free(out), free(sc), free(kp), free(vp);
    return rc;
}

int qins_fcb_run(const struct qins_fcb_opts *o, int verbose, struct qins_fcb_row **rows, size_t *n) {
    *rows = NULL, *n = 0;
    QINS_CHECK(o->reps >= 1 && o->gemm_batch >= 1 && o->gemm_batch <= QINS_CUDA_GEMM_MAX_BATCH && o->group_size >= 1 &&
                   o->n_weights >= 0 && o->n_weights <= QINS_FCB_MAX_SHAPES && o->n_attn >= 0 &&
                   o->n_attn <= QINS_FCB_MAX_SHAPES,
               QINS_ERR_ARG, "fused cuda bench: bad options");
    char dev[256];
    QINS_TRY(qins_fcb_device(dev, sizeof dev));
    if (verbose) printf("cuda device: %s\n", dev);
    const size_t cap = (size_t)o->n_weights * N_CODECS * 3 * 2 * 2 + (size_t)o->n_attn * N_CODECS * 3;
    struct qins_fcb_row *out = calloc(cap ? cap : 1, sizeof *out);
    QINS_CHECK(out, QINS_ERR_NOMEM, "fused cuda bench: out of memory");
    int rc = 0;
    for (int s = 0; s < o->n_weights && !rc; s++) rc = weight_cases(o, &o->weights[s], verbose, out, n);
    const int bits[3] = {8, 6, 4}, nb = o->quick ? 2 : 3;
    for (int s = 0; s < o->n_attn && !rc; s++)
        for (int c = 0; c < N_CODECS && !rc; c++)
            for (int b = 0; b < nb && !rc; b++) {
                struct qins_codec_params p = params(codecs[c], o->quick && b == 1 ? 4 : bits[b], QINS_GRAN_PER_ROW, 1);
                if (!(rc = attn_case(o, &o->attn[s], &p, &out[*n]))) {
                    if (verbose) print_row(&out[*n]);
                    (*n)++;
                }
            }
    if (rc) {
        free(out);
        *n = 0;
        return rc;
    }
    *rows = out;
    return QINS_OK;
}
#endif
