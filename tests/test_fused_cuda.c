// tests/test_fused_cuda.c — the CUDA fused kernels against CPU references: GEMV and GEMM
// against qins_codec_decode then an FP64 product, attention over coded KV pages against
// decode-every-page then qins_attn_rows_ref; INT/NF/QINS at k = 4, 6, 8, every granularity,
// odd shapes (172 columns, rows not a multiple of 32, short groups). Skips with a message when
// there is no GPU or the build has no CUDA (ctest then reports the test as skipped).
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attn.h"
#include "codec.h"
#include "helpers/test_data.h"
#include "page.h"
#ifdef QINS_HAVE_CUDA
#include "codec_cuda.h"
#include "fused_cuda.h"
#endif

// Products: |y - ref| <= FUSED_TOL * sum_c |w_rc x_c|. The GPU sums in FP32 (32-term lane sums,
// then a tree of lanes and warps): a few ulp of the absolute sum for up to 3072 terms; 1e-5 is
// about 80 ulp, so an error from a wrong code, scale or column (order 1) cannot hide in it.
#define FUSED_TOL 1e-5
// Attention: outputs are convex combinations of V rows; both sides are FP32 with expf, in
// another order (online softmax over chunks): error bound relative to max |v|.
#define FUSED_ATTN_TOL 1e-5

#ifdef QINS_HAVE_CUDA
static const enum qins_codec_kind codecs[] = {QINS_CODEC_INT, QINS_CODEC_NF, QINS_CODEC_QINS};
static const int bits[] = {4, 6, 8};
// Granularities: tensor, row, column, groups of 64 (word path) and of 20 (byte path at every k).
static const struct { enum qins_granularity g; int G; } grans[] = {
    {QINS_GRAN_PER_TENSOR, 0}, {QINS_GRAN_PER_ROW, 0}, {QINS_GRAN_PER_COLUMN, 0},
    {QINS_GRAN_PER_GROUP, 64}, {QINS_GRAN_PER_GROUP, 20}};
#define N_GRANS (sizeof grans / sizeof grans[0])

static int skip_reason(void) {
    if (qins_cuda_device_count() > 0) return 0;
    fprintf(stderr, "test_fused_cuda: SKIPPED, no CUDA device present: no fused CUDA kernel ran\n");
    return 1;
}

static struct qins_codec_params params(int ci, int bi, size_t gi) {
    struct qins_codec_params p;
    qins_codec_params_default(&p);
    p.codec = codecs[ci], p.bits = bits[bi], p.granularity = grans[gi].g;
    if (grans[gi].G) p.group_size = grans[gi].G;
    p.alpha = 2.0f;
    return p;
}

static const char *label(const struct qins_codec_params *p, char *buf, size_t cap) {
    char c[32], g[32];
    snprintf(buf, cap, "%s %s", qins_codec_name(p, c, sizeof c), qins_codec_granularity_name(p, g, sizeof g));
    return buf;
}

// A Gaussian (rows x cols) weight encoded under p; *dec = its decode (the reference's weights).
static uint8_t *make_weight(const struct qins_codec_params *p, size_t rows, size_t cols, uint64_t seed, size_t *len,
                            float **dec) {
    struct qins_test_rng r = {seed};
    float *w = malloc(rows * cols * sizeof *w);
    for (size_t i = 0; i < rows * cols; i++) w[i] = qins_test_gauss(&r) * (1.0f + (float)(i / cols % 5));
    *len = qins_codec_encoded_bytes(p, rows, cols);
    uint8_t *enc = malloc(*len);
    *dec = malloc(rows * cols * sizeof **dec);
    cr_assert_eq(qins_codec_encode(p, w, rows, cols, enc, *len), 0);
    cr_assert_eq(qins_codec_decode(p, enc, *len, rows, cols, *dec), 0);
    free(w);
    return enc;
}

static float *gauss(size_t n, uint64_t seed) {
    struct qins_test_rng r = {seed};
    float *x = malloc(n * sizeof *x);
    for (size_t i = 0; i < n; i++) x[i] = qins_test_gauss(&r);
    return x;
}

// Checks y (batch x rows) against the FP64 product of dec and x (batch x cols). Returns the
// largest error in units of the bound's sum.
static double check_product(const float *dec, const float *x, const float *y, size_t rows, size_t cols, size_t batch,
                            const char *what) {
    double worst = 0;
    for (size_t b = 0; b < batch; b++)
        for (size_t r = 0; r < rows; r++) {
            double ref = 0, mag = 0;
            for (size_t c = 0; c < cols; c++) {
                ref += (double)dec[r * cols + c] * x[b * cols + c];
                mag += fabs((double)dec[r * cols + c] * x[b * cols + c]);
            }
            const double e = fabs(y[b * rows + r] - ref) / (mag > 0 ? mag : 1);
            if (e > worst) worst = e;
            if (e > FUSED_TOL) {
                cr_expect(0, "%s: token %zu row %zu: %g vs FP64 %g (error %.3g of sum |w x| %g)", what, b, r,
                          (double)y[b * rows + r], ref, e, mag);
                return worst;
            }
        }
    return worst;
}

// Rows are not multiples of 32 (and 601 > 4 x the SMs of any GPU, for the 4-rows-a-step path);
// columns: 172 (stories260K's FFN; word path at k = 8 only), 64, 1030 (byte path), 2048 (two warps).
static const size_t shapes[][2] = {{37, 172}, {33, 64}, {29, 1030}, {601, 2048}};
#define N_SHAPES (sizeof shapes / sizeof shapes[0])
#endif

Test(fused_cuda, gemv_matches_fp64_reference) {
#ifndef QINS_HAVE_CUDA
    cr_skip_test("built without CUDA (nvcc not found or QINS_CUDA=OFF): no fused CUDA kernel ran");
#else
    if (skip_reason()) cr_skip_test("no CUDA device present: no fused CUDA kernel ran");
    int cases = 0;
    double worst = 0;
    for (size_t s = 0; s < N_SHAPES; s++)
        for (int ci = 0; ci < 3; ci++)
            for (int bi = 0; bi < 3; bi++)
                for (size_t gi = 0; gi < N_GRANS; gi++) {
                    const size_t rows = shapes[s][0], cols = shapes[s][1];
                    struct qins_codec_params p = params(ci, bi, gi);
                    size_t len;
                    float *dec, *x = gauss(cols, 7 + s), *y = malloc(rows * sizeof *y);
                    uint8_t *enc = make_weight(&p, rows, cols, 100 + s * 31 + gi, &len, &dec);
                    char what[192], l[64];
                    snprintf(what, sizeof what, "gemv %s %zux%zu", label(&p, l, sizeof l), rows, cols);
                    cr_assert_eq(qins_cuda_fused_gemv(&p, enc, len, rows, cols, x, y), 0, "%s", what);
                    const double e = check_product(dec, x, y, rows, cols, 1, what);
                    worst = e > worst ? e : worst;
                    cases++;
                    free(enc), free(dec), free(x), free(y);
                }
    fprintf(stderr, "fused_cuda gemv: %d cases ran on the GPU, worst error %.3g of sum |w x| (tolerance %g)\n",
            cases, worst, FUSED_TOL);
#endif
}

Test(fused_cuda, gemm_matches_fp64_reference) {
#ifndef QINS_HAVE_CUDA
    cr_skip_test("built without CUDA (nvcc not found or QINS_CUDA=OFF): no fused CUDA kernel ran");
#else
    if (skip_reason()) cr_skip_test("no CUDA device present: no fused CUDA kernel ran");
    static const size_t batches[] = {1, 33, 100, QINS_CUDA_GEMM_MAX_BATCH};
    int cases = 0;
    double worst = 0;
    for (size_t s = 0; s < 3; s++) // the small shapes: the FP64 reference is rows x cols x batch
        for (size_t bt = 0; bt < sizeof batches / sizeof batches[0]; bt++)
            for (int ci = 0; ci < 3; ci++)
                for (int bi = 0; bi < 3; bi++)
                    for (size_t gi = 0; gi < N_GRANS; gi++) {
                        const size_t rows = shapes[s][0], cols = shapes[s][1], B = batches[bt];
                        struct qins_codec_params p = params(ci, bi, gi);
                        size_t len;
                        float *dec, *x = gauss(B * cols, 9 + bt), *y = malloc(B * rows * sizeof *y);
                        uint8_t *enc = make_weight(&p, rows, cols, 200 + s * 17 + gi, &len, &dec);
                        char what[192], l[64];
                        snprintf(what, sizeof what, "gemm %s %zux%zu batch %zu", label(&p, l, sizeof l), rows, cols, B);
                        cr_assert_eq(qins_cuda_fused_gemm(&p, enc, len, rows, cols, x, B, y), 0, "%s", what);
                        const double e = check_product(dec, x, y, rows, cols, B, what);
                        worst = e > worst ? e : worst;
                        cases++;
                        free(enc), free(dec), free(x), free(y);
                    }
    fprintf(stderr, "fused_cuda gemm: %d cases ran on the GPU, worst error %.3g of sum |w x| (tolerance %g)\n",
            cases, worst, FUSED_TOL);
#endif
}

#ifdef QINS_HAVE_CUDA
// n positions of one stream as core/kv_paged.c keeps them: full pages (KV header + payload)
// back to back, the remainder FP32. *dec = the decoded rows (n x kv_dim).
static struct qins_cuda_kv_stream make_stream(const struct qins_codec_params *p, int P, int n, int kv_dim,
                                              uint64_t seed, float **dec) {
    struct qins_cuda_kv_stream s = {*p, P, n / P, n % P, NULL, NULL};
    float *x = gauss((size_t)n * kv_dim, seed);
    const size_t stride = qins_page_kv_bytes(p, (size_t)P, (size_t)kv_dim);
    const size_t payload = stride - QINS_PAGE_KV_HEADER_BYTES, page_floats = (size_t)P * kv_dim;
    uint8_t *pages = malloc(stride * (s.n_pages ? s.n_pages : 1));
    *dec = malloc((size_t)n * kv_dim * sizeof **dec);
    for (int pg = 0; pg < s.n_pages; pg++) {
        size_t written;
        cr_assert_eq(qins_page_kv_write(p, x + pg * page_floats, (size_t)P, (size_t)kv_dim, pages + pg * stride,
                                        stride, &written), 0);
        cr_assert_eq(written, stride);
        cr_assert_eq(qins_codec_decode(p, pages + pg * stride + QINS_PAGE_KV_HEADER_BYTES, payload, (size_t)P,
                                       (size_t)kv_dim, *dec + pg * page_floats), 0);
    }
    memcpy(*dec + s.n_pages * page_floats, x + s.n_pages * page_floats, (size_t)s.n_fill * kv_dim * sizeof(float));
    s.pages = pages;
    s.fill = x + s.n_pages * page_floats; // x stays allocated with the stream (freed by the caller)
    return s;
}
#endif

Test(fused_cuda, attention_matches_decoded_pages) {
#ifndef QINS_HAVE_CUDA
    cr_skip_test("built without CUDA (nvcc not found or QINS_CUDA=OFF): no fused CUDA kernel ran");
#else
    if (skip_reason()) cr_skip_test("no CUDA device present: no fused CUDA kernel ran");
    // {n_kv, G, D, page tokens, positions}: stories260K (4 KV heads of 8, G = 2, 16-token pages),
    // Phi-3.5-like heads of 96, odd everything, D = 160 with G = 8 (the widest kernel).
    static const int ash[][5] = {{4, 2, 8, 16, 87}, {4, 1, 96, 16, 70}, {3, 3, 40, 5, 23}, {1, 8, 160, 7, 40},
                                 {2, 1, 96, 16, 16}};
    int cases = 0;
    double worst = 0;
    for (size_t s = 0; s < sizeof ash / sizeof ash[0]; s++)
        for (int ci = 0; ci < 3; ci++)
            for (int bi = 0; bi < 3; bi++)
                for (size_t gi = 0; gi < N_GRANS; gi++) {
                    const int n_kv = ash[s][0], G = ash[s][1], D = ash[s][2], P = ash[s][3], n = ash[s][4];
                    const int kv_dim = n_kv * D, heads = n_kv * G;
                    struct qins_codec_params pk = params(ci, bi, gi), pv = params((ci + 1) % 3, (bi + 2) % 3, gi);
                    if (gi == 4) pk.group_size = pv.group_size = D > 20 ? 20 : 3; // groups shorter than a head
                    float *kd, *vd;
                    struct qins_cuda_kv_stream ks = make_stream(&pk, P, n, kv_dim, 300 + s, &kd);
                    struct qins_cuda_kv_stream vs = make_stream(&pv, P, n, kv_dim, 400 + s, &vd);
                    float *q = gauss((size_t)heads * D, 500 + s), *out = malloc((size_t)heads * D * sizeof(float));
                    float *ref = malloc((size_t)heads * D * sizeof(float)), *sc = malloc((size_t)heads * n * sizeof(float));
                    const float scale = 1.0f / sqrtf((float)D);
                    qins_attn_rows_ref(q, n_kv, G, kd, vd, (size_t)kv_dim, n, D, scale, sc, ref);
                    char what[256], l1[64], l2[64];
                    snprintf(what, sizeof what, "attention K %s V %s, %d kv heads x %d, D %d, %d pos (pages of %d)",
                             label(&pk, l1, sizeof l1), label(&pv, l2, sizeof l2), n_kv, G, D, n, P);
                    cr_assert_eq(qins_cuda_fused_attn(&ks, &vs, n_kv, G, D, scale, q, out), 0, "%s", what);
                    double vmax = 0, e = 0;
                    for (size_t i = 0; i < (size_t)n * kv_dim; i++) vmax = fmax(vmax, fabs(vd[i]));
                    for (int i = 0; i < heads * D; i++) e = fmax(e, fabs(out[i] - ref[i]) / vmax);
                    cr_expect(e <= FUSED_ATTN_TOL, "%s: error %.3g of max |v| %g", what, e, vmax);
                    worst = e > worst ? e : worst;
                    cases++;
                    free((void *)ks.pages), free((void *)vs.pages), free((void *)(ks.fill - ks.n_pages * P * kv_dim));
                    free((void *)(vs.fill - vs.n_pages * P * kv_dim));
                    free(kd), free(vd), free(q), free(out), free(ref), free(sc);
                }
    fprintf(stderr, "fused_cuda attention: %d cases ran on the GPU, worst error %.3g of max |v| (tolerance %g)\n",
            cases, worst, FUSED_ATTN_TOL);
#endif
}

Test(fused_cuda, rejects_bad_input_without_crashing) {
#ifndef QINS_HAVE_CUDA
    cr_skip_test("built without CUDA (nvcc not found or QINS_CUDA=OFF): no fused CUDA kernel ran");
#else
    struct qins_codec_params p;
    qins_codec_params_default(&p);
    float x[4] = {0}, y[4];
    uint8_t enc[64] = {0};
    // Without a GPU every entry point says UNSUPPORTED; with one, FP32 has no LUT decode.
    cr_assert_eq(qins_cuda_fused_gemv(&p, enc, sizeof enc, 4, 4, x, y), QINS_ERR_UNSUPPORTED);
    cr_assert_lt(qins_cuda_fused_gemm(&p, enc, sizeof enc, 4, 4, x, 0, y), 0, "batch 0 is rejected");
    if (qins_cuda_device_count() > 0) {
        qins_codec_parse("int8", &p);
        cr_assert_eq(qins_cuda_fused_gemv(&p, enc, 3, 4, 4, x, y), QINS_ERR_ARG, "short block is rejected");
    }
#endif
}
