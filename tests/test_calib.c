// tests/test_calib.c — calibration capture: FP64 statistics against direct formulas, exact
// medians while the reservoir holds everything, held-out rows kept apart, row sampling, the
// observer on stories260K (input and V rows of the same tokens, V = W x).
#include <cblas.h>
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "calib.h"
#include "helpers/shared_paths.h"
#include "model.h"

Test(calib, statistics_match_direct_formulas_and_median_is_exact) {
    enum { D = 3, N = 7 };
    float x[N][D];
    for (int t = 0; t < N; t++)
        for (int j = 0; j < D; j++) x[t][j] = (float)((t * 7 + j * 3) % 11) - 5.0f + 0.25f * j;
    struct qins_calib_stats st;
    cr_assert_eq(qins_calib_stats_init(&st, D, 64, 16, 4, 1), 0);
    qins_calib_stats_add(&st, &x[0][0], N, false);
    cr_assert_eq(qins_calib_stats_finish(&st), 0);
    cr_assert_eq(st.n, N);
    for (int j = 0; j < D; j++) {
        double s = 0, sa = 0, ss = 0, mx = 0, v[N];
        for (int t = 0; t < N; t++) {
            s += x[t][j], sa += fabs(x[t][j]), ss += (double)x[t][j] * x[t][j];
            mx = fmax(mx, fabs(x[t][j]));
            v[t] = x[t][j];
        }
        // median of 7 values by selection
        for (int a = 0; a < N; a++)
            for (int b = a + 1; b < N; b++)
                if (v[b] < v[a]) {
                    double tmp = v[a];
                    v[a] = v[b], v[b] = tmp;
                }
        cr_assert_float_eq(st.mean[j], s / N, 1e-12, "mean of channel %d", j);
        cr_assert_float_eq(st.mean_abs[j], sa / N, 1e-12, "mean |x|");
        cr_assert_float_eq(st.rms[j], sqrt(ss / N), 1e-12, "rms");
        cr_assert_float_eq(st.absmax[j], mx, 0, "absmax");
        cr_assert_float_eq(st.median[j], v[N / 2], 0, "median is exact while the reservoir holds all values");
    }
    qins_calib_stats_free(&st);
    qins_calib_stats_free(&st); // idempotent
}

Test(calib, even_count_median_averages_the_middle_pair) {
    const float x[4] = {4, 1, 3, 2};
    struct qins_calib_stats st;
    cr_assert_eq(qins_calib_stats_init(&st, 1, 8, 0, 0, 1), 0);
    qins_calib_stats_add(&st, x, 4, false);
    cr_assert_eq(qins_calib_stats_finish(&st), 0);
    cr_assert_float_eq(st.median[0], 2.5, 0);
    qins_calib_stats_free(&st);
}

Test(calib, heldout_rows_do_not_touch_statistics_and_nonfinite_rows_are_skipped) {
    enum { D = 2 };
    const float fit[3][D] = {{1, 2}, {3, 4}, {5, 6}}, held[2][D] = {{100, 100}, {200, 200}};
    const float bad[2][D] = {{NAN, 0}, {0, INFINITY}};
    struct qins_calib_stats st;
    cr_assert_eq(qins_calib_stats_init(&st, D, 16, 16, 16, 9), 0);
    qins_calib_stats_add(&st, &fit[0][0], 3, false);
    qins_calib_stats_add(&st, &held[0][0], 2, true);
    qins_calib_stats_add(&st, &bad[0][0], 2, false);
    cr_assert_eq(qins_calib_stats_finish(&st), 0);
    cr_assert_eq(st.n, 3);
    cr_assert_eq(st.n_nonfinite, 2);
    cr_assert_eq(st.n_rows, 3);
    cr_assert_eq(st.n_heldout, 2);
    cr_assert_float_eq(st.mean[0], 3.0, 1e-15);
    cr_assert_float_eq(st.absmax[1], 6.0, 0, "held-out rows are not in the statistics");
    cr_assert_eq(memcmp(st.rows, fit, sizeof fit), 0, "rows kept in order while under the cap");
    cr_assert_eq(memcmp(st.heldout, held, sizeof held), 0);
    qins_calib_stats_free(&st);
}

Test(calib, row_sample_is_a_deterministic_subset_when_over_the_cap) {
    enum { N = 500, CAP = 32 };
    float *x = malloc(N * 2 * sizeof(float));
    for (int t = 0; t < N; t++) x[2 * t] = (float)t, x[2 * t + 1] = (float)(t * t % 97);
    struct qins_calib_stats a, b;
    cr_assert_eq(qins_calib_stats_init(&a, 2, 16, CAP, 0, 42), 0);
    cr_assert_eq(qins_calib_stats_init(&b, 2, 16, CAP, 0, 42), 0);
    for (int t = 0; t < N; t += 50) qins_calib_stats_add(&a, x + 2 * t, 50, false);
    qins_calib_stats_add(&b, x, N, false);
    cr_assert_eq(a.n_rows, CAP);
    cr_assert_eq(memcmp(a.rows, b.rows, CAP * 2 * sizeof(float)), 0, "same seed, same sample, any batching");
    int late = 0;
    for (int k = 0; k < CAP; k++) {
        int t = (int)a.rows[2 * k];
        cr_assert(t >= 0 && t < N && a.rows[2 * k + 1] == (float)(t * t % 97), "a kept row is an input row");
        late += t >= CAP;
    }
    cr_assert_gt(late, 0, "rows past the cap get sampled too");
    cr_assert_eq(qins_calib_stats_finish(&a), 0);
    cr_assert_float_eq(a.mean[0], (N - 1) / 2.0, 1e-9, "statistics use every row, not just the sample");
    qins_calib_stats_free(&a);
    qins_calib_stats_free(&b);
    free(x);
}

Test(calib, finish_without_rows_is_a_state_error) {
    struct qins_calib_stats st;
    cr_assert_eq(qins_calib_stats_init(&st, 4, 8, 8, 8, 1), 0);
    cr_assert_eq(qins_calib_stats_finish(&st), QINS_ERR_STATE);
    qins_calib_stats_free(&st);
    cr_assert_eq(qins_calib_stats_init(&st, 0, 8, 8, 8, 1), QINS_ERR_ARG);
}

Test(calib, observer_captures_v_proj_input_and_output_of_selected_layers) {
    char path[1200];
    if (test_model_path("stories260K.gguf", path, sizeof path)) return;
    struct qins_model *m;
    cr_assert_eq(qins_model_load(path, &m), 0);
    const int E = m->hp.n_embd, kvd = m->hp.n_head_kv * m->hp.head_dim, T = 24;
    struct qins_calib c;
    struct qins_calib_opts o;
    qins_calib_opts_default(&o);
    o.max_rows = 16; // fewer than the tokens: the sample must still pair inputs with outputs
    cr_assert_eq(qins_calib_init(&c, m, (1u << 0) | (1u << 2), &o), 0);
    cr_assert_eq(qins_calib_attach(&c, m), 0);
    struct qins_kv_store *kv;
    struct qins_state *s;
    cr_assert_eq(qins_kv_store_fp32_init(m->hp.n_layer, 64, kvd, &kv), 0);
    cr_assert_eq(qins_state_init(m, 64, 64, kv, &s), 0);
    int32_t tok[64];
    for (int i = 0; i < 64; i++) tok[i] = (i * 37 + 5) % m->hp.n_vocab;
    cr_assert_eq(qins_forward(m, s, tok, T, 0, false), 0);
    qins_kv_clear(kv);
    qins_calib_set_heldout(&c, true);
    cr_assert_eq(qins_forward(m, s, tok + T, 8, 0, false), 0);
    cr_assert_eq(qins_calib_finish(&c), 0);
    cr_assert_null(qins_calib_get(&c, 1, QINS_SITE_ATTN_IN), "layer 1 not selected");
    cr_assert_null(qins_calib_get(&c, 0, QINS_SITE_Q));
    for (int l = 0; l <= 2; l += 2) {
        const struct qins_calib_stats *in = qins_calib_get(&c, l, QINS_SITE_ATTN_IN), *v = qins_calib_get(&c, l, QINS_SITE_V);
        cr_assert_not_null(in);
        cr_assert_not_null(v);
        cr_assert_eq(in->n, T);
        cr_assert_eq(in->n_rows, 16);
        cr_assert_eq(in->n_heldout, 8);
        cr_assert_eq(v->n_heldout, 8);
        cr_assert_eq(in->dim, E);
        cr_assert_eq(v->dim, kvd);
        // V rows are W x of the input rows of the same tokens (FP32 slot: sgemm).
        float *y = malloc((size_t)16 * kvd * sizeof(float));
        const struct qins_linear *wv = &m->layers[l].wv;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, 16, kvd, E, 1.0f, in->rows, E, wv->w, E, 0.0f, y, kvd);
        for (int i = 0; i < 16 * kvd; i++)
            cr_assert_float_eq(y[i], v->rows[i], 1e-5f * (1 + fabsf(y[i])), "V row element %d of layer %d", i, l);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, 8, kvd, E, 1.0f, in->heldout, E, wv->w, E, 0.0f, y, kvd);
        for (int i = 0; i < 8 * kvd; i++)
            cr_assert_float_eq(y[i], v->heldout[i], 1e-5f * (1 + fabsf(y[i])), "held-out V element %d", i);
        free(y);
    }
    qins_state_free(s);
    qins_kv_free(kv);
    qins_calib_free(&c);
    qins_model_free(m);
}
