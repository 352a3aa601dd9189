// tests/test_q8_int.c — the integer Q8_0 dot (kernels/q8_int.h): x's digits reconstruct its
// rounding exactly, the scalar reference matches the double yardstick (qins_gemv_ref), the
// AVX-512 VNNI kernel matches the reference on odd and even block counts and at the extremes
// of the int32 lanes, and a NaN or an infinity in x comes out as NaN.
#include <criterion/criterion.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "cpu_features.h"
#include "matmul.h"
#include "q8_int.h"

static uint32_t rng = 777;
static float rnd(void) {
    rng = rng * 1664525u + 1013904223u;
    return ((float)(rng >> 8) / 16777216.0f - 0.5f) * 2.0f;
}

// rows x cols Q8_0 with ggml's per-block scale; code = 0 draws codes, else every code is it.
static uint8_t *q8_matrix(int rows, int cols, int code, struct qins_wmat *w) {
    const size_t rb = qins_wtype_row_bytes(QINS_W_Q8_0, cols);
    uint8_t *data = malloc(rb * rows);
    for (int r = 0; r < rows; r++)
        for (int b = 0; b < cols / QINS_Q8_0_BLOCK; b++) {
            uint8_t *blk = data + (size_t)r * rb + (size_t)b * (2 + QINS_Q8_0_BLOCK);
            const uint16_t dh = qins_f32_to_fp16(0.01f + 0.02f * fabsf(rnd()));
            memcpy(blk, &dh, 2);
            for (int i = 0; i < QINS_Q8_0_BLOCK; i++) blk[2 + i] = (uint8_t)(int8_t)(code ? code : lrintf(127 * rnd()));
        }
    cr_assert_eq(qins_wmat_init(w, QINS_W_Q8_0, data, rows, cols), 0);
    return data;
}

// activations with outliers, as LLM hidden states have: one column in 37 is 300x larger
static float *activations(int cols) {
    float *x = malloc((size_t)cols * sizeof *x);
    for (int c = 0; c < cols; c++) x[c] = rnd() * (c % 37 == 5 ? 300.0f : 1.0f);
    return x;
}

static int have_vnni(void) {
    struct qins_cpu_features f;
    qins_cpu_features_get(&f);
    return qins_cpu_simd_level() >= 2 && f.avx512vnni;
}

Test(q8_int, digits_reconstruct_the_rounded_x) {
    const int cols = 256;
    float *x = activations(cols);
    x[40] = 0, x[64] = -x[65]; // a zero and a block whose max is negative
    for (int i = 96; i < 128; i++) x[i] = 0; // an all-zero block: scale 0, every q 0
    for (int i = 128; i < 160; i++) x[i] = 1e-37f * rnd(); // a tiny block: QMAX / max overflows a float
    x[130] = 2e-37f;
    struct qins_q8x p;
    cr_assert_eq(qins_q8x_prepare(&p, x, cols), 0);
    for (int c = 0; c < cols; c++) {
        for (int k = 0; k < 2; k++) cr_assert(p.digit[k][c] >= -128 && p.digit[k][c] <= 127);
        cr_assert(p.digit[2][c] >= -64 && p.digit[2][c] <= 64, "column %d: top digit %d", c, p.digit[2][c]);
        const long q = (long)p.digit[2][c] * 65536 + (long)p.digit[1][c] * 256 + p.digit[0][c];
        cr_assert(labs(q) <= QINS_Q8X_QMAX);
        const double d = p.dx[c / 4];
        if (c >= 128 && c < 160) {
            // the tiny block's scale is a binary32 denormal (a few significant bits), so only the
            // sign and a loose bound hold; a float 1/d would overflow and flip the sign to -QMAX
            cr_assert(x[c] == 0 || (q > 0) == (x[c] > 0), "column %d: x %g, q %ld", c, x[c], q);
            cr_assert(fabs(x[c] - d * q) <= 0.05 * fabs(x[c]) + d, "column %d: x %g, d·q %g", c, x[c], d * q);
        } else {
            // |x - d·q| ≤ d/2, plus the rounding of x·(1/d)
            cr_assert(fabs(x[c] - d * q) <= d * (0.5 + 1e-6 * labs(q)), "column %d: x %g, d·q %g", c, x[c], d * q);
        }
        if (x[c] == 0) cr_assert_eq(q, 0);
    }
    for (int l = 0; l < cols / 4; l++) {
        uint32_t s = 0;
        for (int j = 0; j < 4; j++) {
            const int c = 4 * l + j;
            s += (uint32_t)((long)p.digit[2][c] * 65536 + (long)p.digit[1][c] * 256 + p.digit[0][c]);
        }
        cr_assert_eq(p.corr[l], 128u * s, "lane %d", l);
    }
    cr_assert_eq(p.dx[96 / 4], 0.0f);
    qins_q8x_free(&p);
    free(x);
}

// The reference against the double yardstick, then the VNNI kernel against the reference.
Test(q8_int, reference_and_vnni_match_the_yardstick) {
    static const int shapes[][2] = {{3, 32}, {5, 96}, {7, 160}, {4, 256}, {33, 3072}, {6, 8224}};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        const int rows = shapes[s][0], cols = shapes[s][1];
        struct qins_wmat w;
        uint8_t *data = q8_matrix(rows, cols, 0, &w);
        float *x = activations(cols), *ref = malloc(rows * sizeof *ref), *y = malloc(rows * sizeof *y);
        qins_gemv_ref(&w, x, ref);
        struct qins_q8x p;
        cr_assert_eq(qins_q8x_prepare(&p, x, cols), 0);
        float *wf = malloc((size_t)rows * cols * sizeof *wf);
        qins_wmat_decode_ref(&w, 0, rows, 0, cols, wf, (size_t)cols);
        for (int r = 0; r < rows; r++) {
            y[r] = qins_q8x_dot_ref(data + (size_t)r * w.row_bytes, &p);
            // rounding x moves the dot by at most Σ |w_c|·d_x/2; the FP32 sums add ~1e-7 of Σ |w·x|
            double round = 0, mag = 0;
            for (int c = 0; c < cols; c++) {
                round += fabs(wf[(size_t)r * cols + c]) * p.dx[c / 4] / 2;
                mag += fabs(wf[(size_t)r * cols + c] * x[c]);
            }
            cr_assert(fabs(y[r] - ref[r]) <= round + 1e-6 * mag, "%dx%d row %d: reference off by %.3g (bound %.3g)",
                      rows, cols, r, fabs(y[r] - ref[r]), round + 1e-6 * mag);
        }
        free(wf);
        if (have_vnni()) {
            float *v = malloc(rows * sizeof *v);
            for (int r = 0; r < rows; r++) v[r] = qins_q8x_dot_avx512vnni(data + (size_t)r * w.row_bytes, &p);
            const double e = qins_gemv_worst_rel(&w, x, v, y); // against the integer reference
            cr_assert(e <= 1e-6, "%dx%d: VNNI against the reference %.3g", rows, cols, e);
            free(v);
        }
        qins_q8x_free(&p);
        free(data), free(x), free(ref), free(y);
    }
    if (!have_vnni()) cr_skip_test("this CPU has no AVX-512 VNNI: only the scalar reference ran");
}

// Every code -128 (or 127) against x at ±max in every column: the largest lane sums there are.
Test(q8_int, extreme_codes_and_inputs_do_not_overflow_a_lane) {
    const int cols = 96;
    static const int codes[] = {-128, 127};
    for (size_t k = 0; k < 2; k++)
        for (int sign = -1; sign <= 1; sign += 2) {
            struct qins_wmat w;
            uint8_t *data = q8_matrix(2, cols, codes[k], &w);
            float *x = malloc(cols * sizeof *x), ref[2], y[2];
            for (int c = 0; c < cols; c++) x[c] = sign * 3.5f;
            qins_gemv_ref(&w, x, ref);
            struct qins_q8x p;
            cr_assert_eq(qins_q8x_prepare(&p, x, cols), 0);
            for (int r = 0; r < 2; r++) {
                y[r] = have_vnni() ? qins_q8x_dot_avx512vnni(data + (size_t)r * w.row_bytes, &p)
                                   : qins_q8x_dot_ref(data + (size_t)r * w.row_bytes, &p);
                cr_assert(fabsf(y[r] - ref[r]) <= 1e-6f * fabsf(ref[r]), "code %d sign %d: %g vs %g", codes[k], sign,
                          y[r], ref[r]);
            }
            qins_q8x_free(&p);
            free(data), free(x);
        }
}

Test(q8_int, nan_or_infinity_in_x_gives_nan) {
    const int cols = 96;
    struct qins_wmat w;
    uint8_t *data = q8_matrix(1, cols, 0, &w);
    const float bad[] = {NAN, INFINITY, -INFINITY};
    for (size_t i = 0; i < 3; i++) {
        float *x = activations(cols);
        x[70] = bad[i];
        struct qins_q8x p;
        cr_assert_eq(qins_q8x_prepare(&p, x, cols), 0);
        cr_assert(isnan(qins_q8x_dot_ref(data, &p)), "bad value %zu: reference is not NaN", i);
        if (have_vnni()) cr_assert(isnan(qins_q8x_dot_avx512vnni(data, &p)), "bad value %zu: VNNI is not NaN", i);
        qins_q8x_free(&p);
        free(x);
    }
    free(data);
}

// Through the dispatcher: qins_gemv on the VNNI ISA equals the kernel called directly, any thread count.
Test(q8_int, gemv_dispatch_uses_the_integer_dot) {
    if (!have_vnni()) cr_skip_test("this CPU has no AVX-512 VNNI: the dispatcher never picks the integer dot");
    qins_matmul_set_isa(QINS_ISA_AUTO);
    cr_assert_eq(qins_matmul_isa(), QINS_ISA_AVX512_VNNI);
    const int rows = 300, cols = 1024; // 348 KB: past the parallel threshold
    struct qins_wmat w;
    uint8_t *data = q8_matrix(rows, cols, 0, &w);
    float *x = activations(cols), *y = malloc(rows * sizeof *y);
    qins_gemv(&w, x, y);
    struct qins_q8x p;
    cr_assert_eq(qins_q8x_prepare(&p, x, cols), 0);
    for (int r = 0; r < rows; r++)
        cr_assert_eq(y[r], qins_q8x_dot_avx512vnni(data + (size_t)r * w.row_bytes, &p), "row %d", r);
    qins_q8x_free(&p);
    free(data), free(x), free(y);
}
