// tests/test_silu_lut.c — the QINS-domain SiLU table: its entries are SiLU of the decoded code
// values, it matches SiLU within the quantization bound of the code grid (Lipschitz constant x
// the distance to the code's value), the bound is met tightly enough that a wrong code would
// break it, and a transport with out_silu returns the table's entries for its accumulators.
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>

#include "calib.h"
#include "helpers/synth_rows.h"
#include "common.h"
#include "eval.h"
#include "silu_lut.h"
#include "transport.h"

// E with output scale t (transport.h): sign(y) / (1 + a |y / t|).
static double enc(double y, double t, double a) { return copysign(1.0 / (1.0 + a * fabs(y / t)), y); }

Test(silu_lut, the_largest_slope_of_silu_is_below_the_constant) {
    double worst = 0;
    for (double x = -20; x <= 20; x += 1e-4) {
        const double d = (qins_silu(x + 1e-6) - qins_silu(x - 1e-6)) / 2e-6;
        if (fabs(d) > worst) worst = fabs(d);
    }
    cr_assert_lt(worst, QINS_SILU_LIPSCHITZ);
    cr_assert_gt(worst, QINS_SILU_LIPSCHITZ - 1e-3, "the constant is the slope's maximum, not a loose bound");
}

Test(silu_lut, entries_are_silu_of_the_decoded_codes_and_within_the_bound) {
    const double scales[3] = {0.25, 1.0, 6.0};
    uint64_t r = 5;
    for (int bits = 4; bits <= 12; bits += 4)
        for (int ai = 0; ai < 3; ai++) {
            const double a = (double[]){0.5, 1.0, 4.0}[ai];
            struct qins_silu_lut l;
            cr_assert_eq(qins_silu_lut_init(&l, bits, a, scales, 3), 0);
            cr_assert_eq(l.n_codes, 1 << bits);
            cr_assert_eq(qins_silu_lut_bytes(&l), (size_t)3 << bits << 2);
            for (int i = 0; i < 3; i++)
                for (int c = 0; c < l.n_codes; c++) {
                    const double z = qins_transport_grid_z(c, bits);
                    cr_assert_eq(qins_transport_grid_code(z, bits), c, "code %d round-trips", c);
                    cr_assert_eq(qins_silu_lut_get(&l, i, c), (float)qins_silu(qins_transport_decode_z(z, scales[i], a)));
                }
            double worst_ratio = 0;
            for (int k = 0; k < 20000; k++) {
                const int i = k % 3;
                const double x = test_urand(&r, -8, 8) * scales[i];
                const int c = qins_transport_grid_code(enc(x, scales[i], a), bits);
                const double xq = qins_transport_decode_z(qins_transport_grid_z(c, bits), scales[i], a);
                const double err = fabs((double)qins_silu_lut_get(&l, i, c) - qins_silu(x));
                const double bound = QINS_SILU_LIPSCHITZ * fabs(x - xq) + 1e-6 * (1 + fabs(qins_silu(x)));
                cr_assert_leq(err, bound, "bits %d alpha %g x %g: |table - SiLU| %g > bound %g", bits, a, x, err, bound);
                if (fabs(x - xq) > 1e-3) worst_ratio = fmax(worst_ratio, err / fabs(x - xq));
            }
            // the error is the grid's: a table indexed one code off would exceed it somewhere
            cr_assert_gt(worst_ratio, 0.5, "bits %d alpha %g: errors track the grid", bits, a);
            qins_silu_lut_free(&l);
        }
    struct qins_silu_lut l;
    cr_assert_eq(qins_silu_lut_init(&l, 1, 1.0, scales, 3), QINS_ERR_ARG);
    qins_silu_lut_free(&l);
}

// A transport with out_silu: the runtime's output is the table entry of each accumulator's code,
// and its error against SiLU(W x) is what eval reports.
Test(silu_lut, a_transport_with_out_silu_reads_the_table) {
    enum { NI = 5, NO = 4, N = 200 };
    float w[NO * NI], *x = malloc(N * NI * sizeof(float));
    uint64_t r = 9;
    for (int i = 0; i < NO * NI; i++) w[i] = (float)test_urand(&r, -1, 1);
    for (int i = 0; i < N * NI; i++) x[i] = (float)test_urand(&r, -3, 3);
    struct qins_calib_stats in;
    test_stats_from(&in, x, N, NI);
    struct qins_transport_params p;
    qins_transport_params_default(&p);
    p.kind = QINS_TRANSPORT_LSTSQ, p.out_bits = 8, p.out_silu = true;
    struct qins_transport t;
    cr_assert_eq(qins_transport_compute(&p, w, NO, NI, &in, NULL, &t), 0);
    qins_transport_rt_t *rt;
    cr_assert_eq(qins_transport_rt_init(&t, &rt), 0);
    float y[NO];
    struct qins_silu_lut l;
    cr_assert_eq(qins_silu_lut_init(&l, 8, p.alpha, t.s_out, NO), 0);
    for (int k = 0; k < 20; k++) {
        cr_assert_eq(qins_transport_rt_apply(rt, x + k * NI, 1, y), 0);
        double z[NI];
        qins_transport_encode_row(&t, x + k * NI, z);
        for (int i = 0; i < NO; i++) {
            double acc = (float)t.b[i]; // the runtime keeps b' in FP32
            for (int j = 0; j < NI; j++) acc += (double)(float)t.w[i * NI + j] * z[j];
            const int c = qins_transport_grid_code(acc, 8);
            cr_assert_float_eq(y[i], qins_silu_lut_get(&l, i, c), 1e-6, "row %d output %d: the table's entry", k, i);
        }
    }
    // eval compares with SiLU(W x) in FP32 (what the layer computes), not with W x
    float *yall = malloc(N * NO * sizeof(float)), *ref = malloc(N * NO * sizeof(float));
    cr_assert_eq(qins_transport_rt_apply(rt, x, N, yall), 0);
    for (int k = 0; k < N; k++)
        for (int i = 0; i < NO; i++) {
            float v = 0;
            for (int j = 0; j < NI; j++) v += w[i * NI + j] * x[k * NI + j];
            ref[k * NO + i] = v / (1.0f + expf(-v));
        }
    struct qins_transport_eval ev;
    cr_assert_eq(qins_transport_eval(&t, w, x, N, &ev), 0);
    cr_assert_float_eq(ev.rel_error, qins_rel_error(yall, ref, N * NO, NULL), 1e-5, "against SiLU(W x)");
    free(yall), free(ref);
    struct qins_transport_params bad = p;
    bad.out_bits = 0;
    cr_assert_eq(qins_transport_params_validate(&bad), QINS_ERR_ARG, "a table needs output codes");
    qins_silu_lut_free(&l);
    qins_transport_rt_free(rt);
    qins_transport_free(&t);
    qins_calib_stats_free(&in);
    free(x);
}
