// tests/test_matmul.c — the weight-format GEMV/GEMM (kernels/matmul.h) against the scalar
// references for every type, every ISA this CPU has, shapes with and without column tails and
// odd row counts; thread-count and row-split invariance (what reproducible runs rest on).
#include <criterion/criterion.h>
#include <math.h>
#include <omp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "matmul.h"

static uint32_t rng = 12345;
static float rnd(void) {
    rng = rng * 1664525u + 1013904223u;
    return ((float)(rng >> 8) / 16777216.0f - 0.5f) * 2.0f;
}

// A rows x cols matrix of type t from N(0,1)-ish values (Q8_0: per-block scale as ggml's
// quantiser computes it, d = max|x| / 127).
static uint8_t *make_matrix(enum qins_wtype t, int rows, int cols, struct qins_wmat *w) {
    const size_t rb = qins_wtype_row_bytes(t, cols);
    cr_assert(rb > 0);
    uint8_t *data = malloc(rb * rows + 64);
    for (int r = 0; r < rows; r++) {
        uint8_t *row = data + (size_t)r * rb;
        if (t == QINS_W_Q8_0) {
            for (int b = 0; b < cols / QINS_Q8_0_BLOCK; b++) {
                float v[QINS_Q8_0_BLOCK], amax = 0;
                for (int i = 0; i < QINS_Q8_0_BLOCK; i++) v[i] = rnd(), amax = fmaxf(amax, fabsf(v[i]));
                uint8_t *blk = row + (size_t)b * (2 + QINS_Q8_0_BLOCK);
                uint16_t dh = qins_f32_to_fp16(amax / 127.0f);
                memcpy(blk, &dh, 2);
                const float d = qins_fp16_to_f32(dh);
                for (int i = 0; i < QINS_Q8_0_BLOCK; i++) blk[2 + i] = (uint8_t)(int8_t)lrintf(v[i] / d);
            }
        } else {
            for (int c = 0; c < cols; c++) {
                const float v = rnd();
                if (t == QINS_W_F32) memcpy(row + 4 * (size_t)c, &v, 4);
                else {
                    uint16_t h = t == QINS_W_F16 ? qins_f32_to_fp16(v) : qins_f32_to_bf16(v);
                    memcpy(row + 2 * (size_t)c, &h, 2);
                }
            }
        }
    }
    cr_assert_eq(qins_wmat_init(w, t, data, rows, cols), 0);
    return data;
}

static float *randv(size_t n) {
    float *x = malloc(n * sizeof *x);
    for (size_t i = 0; i < n; i++) x[i] = rnd();
    return x;
}

static const int shapes[][2] = {{1, 32}, {3, 64}, {4, 96}, {7, 160}, {37, 288}, {130, 3072}, {9, 8192}};
static const int tail_cols[] = {1, 7, 17, 45, 100}; // not a whole vector: F32/F16/BF16 only

Test(matmul, decode_and_gemv_match_the_reference_on_every_isa) {
    const enum qins_isa top = (qins_matmul_set_isa(QINS_ISA_AUTO), qins_matmul_isa());
    for (int isa = QINS_ISA_SCALAR; isa <= (int)top; isa++) {
        qins_matmul_set_isa((enum qins_isa)isa);
        cr_assert_eq(qins_matmul_isa(), (enum qins_isa)isa);
        for (int t = 0; t < QINS_W_COUNT; t++) {
            const size_t n_shapes = sizeof shapes / sizeof shapes[0] + (t == QINS_W_Q8_0 ? 0 : 5);
            for (size_t s = 0; s < n_shapes; s++) {
                const int rows = s < 7 ? shapes[s][0] : 5, cols = s < 7 ? shapes[s][1] : tail_cols[s - 7];
                struct qins_wmat w;
                uint8_t *data = make_matrix((enum qins_wtype)t, rows, cols, &w);
                float *x = randv(cols), *y = malloc(rows * sizeof *y), *ref = malloc(rows * sizeof *ref);
                qins_gemv_ref(&w, x, ref);
                qins_gemv_rows(&w, x, y, 0, rows);
                const double e = qins_gemv_worst_rel(&w, x, y, ref);
                cr_assert(e <= QINS_MATMUL_REL_TOL, "%s %s %dx%d: relative error %.3g", qins_isa_name(isa),
                          qins_wtype_name(t), rows, cols, e);
                // the decode stage is exact: the same bits as the reference decoder
                float *a = malloc((size_t)rows * cols * sizeof *a), *b = malloc((size_t)rows * cols * sizeof *b);
                const int c0 = cols >= 64 ? 32 : 0, nc = cols - c0;
                qins_wmat_decode_ref(&w, 0, rows, c0, nc, a, (size_t)nc);
                qins_wmat_decode(&w, 0, rows, c0, nc, b, (size_t)nc);
                cr_assert_eq(memcmp(a, b, (size_t)rows * nc * sizeof *a), 0, "%s %s decode %dx%d", qins_isa_name(isa),
                             qins_wtype_name(t), rows, cols);
                free(a), free(b), free(x), free(y), free(ref), free(data);
            }
        }
    }
    qins_matmul_set_isa(QINS_ISA_AUTO);
}

// Every row split of the same matrix gives the same bits (a row's sum does not depend on its
// neighbours or its thread), and so does the threaded whole-matrix GEMV.
Test(matmul, gemv_is_independent_of_the_row_split_and_threads) {
    const int widths[] = {1024, 4128}; // x in L1 (one row at a time), and not (four rows at a time)
    for (int t = 0; t < QINS_W_COUNT; t++)
        for (int wi = 0; wi < 2; wi++) {
            const int cols = widths[wi];
            struct qins_wmat w;
            uint8_t *data = make_matrix((enum qins_wtype)t, 203, cols, &w);
            float *x = randv(cols), *a = malloc(203 * sizeof *a), *b = malloc(203 * sizeof *b);
            qins_gemv_rows(&w, x, a, 0, 203);
            const int cuts[][2] = {{0, 1}, {1, 6}, {7, 100}, {107, 96}};
            for (size_t i = 0; i < 4; i++) qins_gemv_rows(&w, x, b, cuts[i][0], cuts[i][1]);
            cr_assert_eq(memcmp(a, b, 203 * sizeof *a), 0, "%s x%d: split changes results", qins_wtype_name(t), cols);
            for (int nt = 1; nt <= 3; nt++) {
                omp_set_num_threads(nt);
                memset(b, 0, 203 * sizeof *b);
                qins_gemv(&w, x, b);
                cr_assert_eq(memcmp(a, b, 203 * sizeof *a), 0, "%s x%d: %d threads change results", qins_wtype_name(t),
                             cols, nt);
            }
            omp_set_num_threads(1);
            float *ref = malloc(203 * sizeof *ref);
            qins_gemv_ref(&w, x, ref);
            const double e = qins_gemv_worst_rel(&w, x, a, ref);
            cr_assert(e <= QINS_MATMUL_REL_TOL, "%s x%d: relative error %.3g", qins_wtype_name(t), cols, e);
            free(data), free(x), free(a), free(b), free(ref);
        }
}

// GEMM over decoded tiles: against the reference GEMV per token; shapes cross tile edges in
// both directions; same bits at 1 and 2 threads.
Test(matmul, gemm_matches_the_reference_and_threads_agree) {
    const int shapes_g[][3] = {{2, 5, 64}, {7, 300, 544}, {16, 513, 1056}};
    for (int t = 0; t < QINS_W_COUNT; t++)
        for (size_t s = 0; s < 3; s++) {
            const int T = shapes_g[s][0], rows = shapes_g[s][1], cols = shapes_g[s][2];
            struct qins_wmat w;
            uint8_t *data = make_matrix((enum qins_wtype)t, rows, cols, &w);
            float *x = randv((size_t)T * cols), *y = malloc((size_t)T * rows * sizeof *y),
                  *y2 = malloc((size_t)T * rows * sizeof *y2), *ref = malloc(rows * sizeof *ref);
            omp_set_num_threads(1);
            cr_assert_eq(qins_gemm(&w, x, T, y), 0);
            for (int i = 0; i < T; i++) {
                qins_gemv_ref(&w, x + (size_t)i * cols, ref);
                const double e = qins_gemv_worst_rel(&w, x + (size_t)i * cols, y + (size_t)i * rows, ref);
                cr_assert(e <= QINS_MATMUL_REL_TOL, "gemm %s T=%d %dx%d token %d: relative error %.3g",
                          qins_wtype_name(t), T, rows, cols, i, e);
            }
            omp_set_num_threads(2);
            cr_assert_eq(qins_gemm(&w, x, T, y2), 0);
            omp_set_num_threads(1);
            cr_assert_eq(memcmp(y, y2, (size_t)T * rows * sizeof *y), 0, "gemm %s: 2 threads change results",
                         qins_wtype_name(t));
            free(data), free(x), free(y), free(y2), free(ref);
        }
}

Test(matmul, formats_refuse_widths_they_cannot_hold) {
    struct qins_wmat w;
    cr_assert_eq(qins_wtype_row_bytes(QINS_W_Q8_0, 48), 0);
    cr_assert_eq(qins_wmat_init(&w, QINS_W_Q8_0, "", 1, 48), -1);
    cr_assert_eq(qins_wmat_init(&w, QINS_W_F16, "", 0, 8), -1);
    cr_assert_eq(qins_wtype_row_bytes(QINS_W_Q8_0, 64), 68);
    cr_assert_eq(qins_wtype_row_bytes(QINS_W_BF16, 3), 6);
}
