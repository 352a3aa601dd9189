// tests/test_transport.c — QINS-domain transport: the k-bit input codes are the codec's, maps
// that are exactly linear in the encoded domain are recovered, the small-alpha limit, lstsq's
// residual is the lowest on real stories260K calibration data, `none` is D(W E(x)), NaN/Inf
// are counted and propagated, and decode counters agree with the shape accounting.
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "calib.h"
#include "codec.h"
#include "eval.h"
#include "helpers/shared_paths.h"
#include "helpers/synth_rows.h"
#include "model.h"
#include "slots.h"
#include "tokenizer.h"
#include "transport.h"

Test(transport, kbit_input_codes_are_the_codecs_codes) {
    enum { N = 999 };
    float x[N];
    uint64_t r = 3;
    for (int i = 0; i < N; i++) x[i] = (float)test_urand(&r, -1, 1);
    x[0] = 1.0f, x[1] = -0.0f, x[2] = 0.0f; // absmax 1 (an FP16-exact scale), and both zeros
    for (int k = 4; k <= 12; k += 4) {
        for (int ai = 0; ai < 3; ai++) {
            const float alpha = (float[]){0.5f, 1.0f, 7.0f}[ai];
            struct qins_codec_params cp;
            qins_codec_params_default(&cp);
            cp.codec = QINS_CODEC_QINS, cp.bits = k, cp.alpha = alpha;
            uint16_t codes[N];
            float scale, lut[1 << 12];
            cr_assert_eq(qins_codec_quantize(&cp, x, 1, N, codes, &scale, NULL), 0);
            cr_assert_eq(scale, 1.0f);
            cr_assert_eq(qins_codec_lut(&cp, 0, lut), 0);
            double s_in[N];
            for (int i = 0; i < N; i++) s_in[i] = 1.0;
            struct qins_transport t = {.n_in = N, .s_in = s_in};
            qins_transport_params_default(&t.p);
            t.p.alpha = alpha, t.p.in_bits = k;
            double z[N];
            qins_transport_encode_row(&t, x, z);
            const int M = (1 << k) - 1;
            for (int i = 0; i < N; i++) {
                cr_assert_float_eq(z[i], 2.0 * codes[i] / M - 1.0, 1e-15, "k=%d alpha=%g element %d: same code", k,
                                   (double)alpha, i);
                // and the code's value is the codec's LUT entry: D(z_c) = lut[c]
                double d = (1 - fabs(z[i])) / (alpha * z[i]);
                cr_assert_float_eq(d, lut[codes[i]], 1e-5 * (1 + fabs(d)), "decoded value of code %d", codes[i]);
            }
        }
    }
}

// y = c P x with P a permutation: E_out(y) = sign(c) E_in(P x) exactly when the output scales
// are |c| times the permuted input scales (absmax from the same data), so W' = sign(c) P, b' = 0.
Test(transport, signed_scaled_permutation_is_recovered_by_jacobian_and_lstsq) {
    enum { D = 6, N = 300 };
    const int perm[D] = {3, 0, 5, 1, 4, 2};
    const float c[D] = {2.5f, -0.5f, 1.0f, -4.0f, 0.125f, 3.0f};
    float w[D * D] = {0}, *x = malloc(N * D * sizeof(float)), *y = malloc(N * D * sizeof(float));
    for (int i = 0; i < D; i++) w[i * D + perm[i]] = c[i];
    uint64_t r = 11;
    for (int t = 0; t < N; t++) {
        for (int j = 0; j < D; j++) x[t * D + j] = (float)test_urand(&r, -2, 3) * (float)(j + 1);
        for (int i = 0; i < D; i++) y[t * D + i] = c[i] * x[t * D + perm[i]]; // exact: c is a power of 2 or small
    }
    struct qins_calib_stats in, out;
    test_stats_from(&in, x, N, D);
    test_stats_from(&out, y, N, D);
    for (int k = QINS_TRANSPORT_JACOBIAN; k <= QINS_TRANSPORT_LSTSQ; k++) {
        for (int bits = 0; bits <= 8; bits += 8) {
            struct qins_transport_params p;
            qins_transport_params_default(&p);
            p.kind = (enum qins_transport_kind)k, p.alpha = 1.5, p.in_bits = bits, p.ridge = 1e-12;
            struct qins_transport t;
            cr_assert_eq(qins_transport_compute(&p, w, D, D, &in, &out, &t), 0);
            // lstsq on 8-bit codes fits the rounded inputs: only its V error is checked then.
            for (int i = 0; i < D && (bits == 0 || k == QINS_TRANSPORT_JACOBIAN); i++) {
                for (int j = 0; j < D; j++)
                    cr_assert_float_eq(t.w[i * D + j], j == perm[i] ? copysign(1.0, c[i]) : 0.0, 1e-6,
                                       "%s bits %d W'[%d][%d]", qins_transport_kind_name(p.kind), bits, i, j);
                cr_assert_float_eq(t.b[i], 0.0, 1e-6, "b'[%d]", i);
            }
            struct qins_transport_eval ev;
            cr_assert_eq(qins_transport_eval(&t, w, x, N, &ev), 0);
            cr_assert_eq(ev.n_nonfinite, 0);
            if (bits == 0) cr_assert_lt(ev.rel_error, 1e-6, "%s float: V exact up to rounding", qins_transport_kind_name(p.kind));
            else cr_assert_lt(ev.rel_error, 0.05, "8-bit input codes only add their quantisation error");
            qins_transport_free(&t);
        }
    }
    qins_calib_stats_free(&in);
    qins_calib_stats_free(&out);
    free(x), free(y);
}

// With inputs and outputs of one sign, E is smooth on the data and the first-order transport's
// error vanishes with alpha (E(u) = 1 - a u + O(a^2)).
Test(transport, jacobian_error_vanishes_as_alpha_goes_to_zero) {
    enum { NI = 8, NO = 5, N = 400 };
    float w[NO * NI], *x = malloc(N * NI * sizeof(float));
    uint64_t r = 5;
    for (int i = 0; i < NO * NI; i++) w[i] = (float)test_urand(&r, 0.1, 1.0);
    for (int i = 0; i < N * NI; i++) x[i] = (float)test_urand(&r, 0.5, 1.5);
    struct qins_calib_stats in;
    test_stats_from(&in, x, N, NI);
    double prev = INFINITY;
    const double alphas[] = {1.0, 1e-1, 1e-2, 1e-3};
    for (int a = 0; a < 4; a++) {
        struct qins_transport_params p;
        qins_transport_params_default(&p);
        p.alpha = alphas[a];
        struct qins_transport t;
        cr_assert_eq(qins_transport_compute(&p, w, NO, NI, &in, NULL, &t), 0);
        struct qins_transport_eval ev;
        cr_assert_eq(qins_transport_eval(&t, w, x, N, &ev), 0);
        printf("synthetic one-sign data, jacobian, alpha %g: V rel_error %.3e\n", alphas[a], ev.rel_error);
        cr_assert_lt(ev.rel_error, prev, "alpha %g: error %g not below %g", alphas[a], ev.rel_error, prev);
        prev = ev.rel_error;
        // lstsq is at least as good in the encoded domain on its own rows
        p.kind = QINS_TRANSPORT_LSTSQ;
        struct qins_transport tl;
        cr_assert_eq(qins_transport_compute(&p, w, NO, NI, &in, NULL, &tl), 0);
        double mj, ml;
        cr_assert_eq(qins_transport_residual(&t, w, x, N, &mj, NULL), 0);
        cr_assert_eq(qins_transport_residual(&tl, w, x, N, &ml, NULL), 0);
        cr_assert_leq(ml, mj * (1 + 1e-9), "alpha %g: lstsq residual %g > jacobian %g", alphas[a], ml, mj);
        qins_transport_free(&t);
        qins_transport_free(&tl);
    }
    cr_assert_lt(prev, 2e-4, "alpha 1e-3: relative error %g (first order: O(alpha))", prev);
    qins_calib_stats_free(&in);
    free(x);
}

// ---------------------------------------------------------------------------------------------
// the real model: stories260K layer 0 calibrated on TinyStories text

struct real {
    struct qins_model *m;
    struct qins_calib c;
};

static void calibrate(struct real *R, uint64_t layer_mask) {
    char path[1200], data[1200];
    if (test_model_path("stories260K.gguf", path, sizeof path)) return;
    if (test_shared_path("data/tinystories_train_sample_2MiB.txt", data, sizeof data)) return;
    cr_assert_eq(qins_model_load(path, &R->m), 0);
    struct qins_model *m = R->m;
    FILE *f = fopen(data, "rb");
    cr_assert_not_null(f, "cannot open %s", data);
    static char text[12000];
    size_t len = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    struct qins_tokenizer *tok;
    cr_assert_eq(qins_tokenizer_init_gguf(m->gguf, &tok), 0);
    int32_t *ids;
    size_t n;
    cr_assert_eq(qins_tokenizer_encode(tok, text, len, true, &ids, &n), 0);
    enum { CTX = 128, FIT = 6, HELD = 2 };
    cr_assert_geq(n, (size_t)CTX * (FIT + HELD), "text too short: %zu tokens", n);
    struct qins_calib_opts o;
    qins_calib_opts_default(&o);
    cr_assert_eq(qins_calib_init(&R->c, m, layer_mask, &o), 0);
    cr_assert_eq(qins_calib_attach(&R->c, m), 0);
    struct qins_kv_store *kv;
    struct qins_state *s;
    cr_assert_eq(qins_kv_store_fp32_init(m->hp.n_layer, CTX, m->hp.n_head_kv * m->hp.head_dim, &kv), 0);
    cr_assert_eq(qins_state_init(m, CTX, CTX, kv, &s), 0);
    // Disjoint windows: the held-out rows come from text the fit never saw.
    for (int w = 0; w < FIT + HELD; w++) {
        qins_calib_set_heldout(&R->c, w >= FIT);
        qins_kv_clear(kv);
        cr_assert_eq(qins_forward(m, s, ids + (size_t)w * CTX, CTX, 0, false), 0);
    }
    cr_assert_eq(qins_calib_finish(&R->c), 0);
    qins_model_clear_observers(m);
    qins_state_free(s);
    qins_kv_free(kv);
    free(ids);
    qins_tokenizer_free(tok);
}

static void real_free(struct real *R) {
    qins_calib_free(&R->c);
    qins_model_free(R->m);
}

Test(transport, lstsq_has_the_lowest_residual_on_stories260K_layer0) {
    struct real R = {0};
    calibrate(&R, 1);
    const struct qins_linear *wv = &R.m->layers[0].wv;
    const struct qins_calib_stats *in = qins_calib_get(&R.c, 0, QINS_SITE_ATTN_IN), *out = qins_calib_get(&R.c, 0, QINS_SITE_V);
    for (int bits = 0; bits <= 8; bits += 8) {
        double res[QINS_TRANSPORT_COUNT];
        for (int k = 0; k < QINS_TRANSPORT_COUNT; k++) {
            struct qins_transport_params p;
            qins_transport_params_default(&p);
            p.kind = (enum qins_transport_kind)k, p.in_bits = bits;
            struct qins_transport t;
            cr_assert_eq(qins_transport_compute(&p, wv->w, wv->n_out, wv->n_in, in, out, &t), 0);
            double var;
            cr_assert_eq(qins_transport_residual(&t, wv->w, in->rows, in->n_rows, &res[k], &var), 0);
            struct qins_transport_eval ev;
            cr_assert_eq(qins_transport_eval(&t, wv->w, in->heldout, in->n_heldout, &ev), 0);
            // The figures the phase will record, printed for the report (not asserted).
            printf("stories260K L0 v_proj alpha 1 in_bits %d %-8s: fit z_mse %.3e (target var %.3e)  held-out V "
                   "rel_error %.4g  nonfinite %lld  max|W'| %.3g\n",
                   bits, qins_transport_kind_name(p.kind), res[k], var, ev.rel_error, (long long)ev.n_nonfinite,
                   t.w_absmax);
            qins_transport_free(&t);
        }
        for (int k = 0; k < QINS_TRANSPORT_LSTSQ; k++)
            cr_assert_leq(res[QINS_TRANSPORT_LSTSQ], res[k] * (1 + 1e-9), "bits %d: lstsq %g above %s %g", bits,
                          res[QINS_TRANSPORT_LSTSQ], qins_transport_kind_name((enum qins_transport_kind)k), res[k]);
    }
    real_free(&R);
}

Test(transport, none_is_the_untransported_decode_of_W_times_E) {
    struct real R = {0};
    calibrate(&R, 1);
    const struct qins_linear *wv = &R.m->layers[0].wv;
    const struct qins_calib_stats *in = qins_calib_get(&R.c, 0, QINS_SITE_ATTN_IN), *out = qins_calib_get(&R.c, 0, QINS_SITE_V);
    struct qins_transport_params p;
    qins_transport_params_default(&p);
    p.kind = QINS_TRANSPORT_NONE, p.alpha = 2.0;
    struct qins_transport t;
    cr_assert_eq(qins_transport_compute(&p, wv->w, wv->n_out, wv->n_in, in, out, &t), 0);
    const int ni = wv->n_in, no = wv->n_out, n = (int)in->n_heldout;
    float *y = malloc((size_t)n * no * sizeof(float)), *ref = malloc((size_t)n * no * sizeof(float));
    qins_transport_rt_t *rt;
    cr_assert_eq(qins_transport_rt_init(&t, &rt), 0);
    cr_assert_eq(qins_transport_rt_apply(rt, in->heldout, n, y), 0);
    // Written out independently: V_i = t_i D(sum_j W_ij E(x_j / s_j)).
    for (int r = 0; r < n; r++)
        for (int i = 0; i < no; i++) {
            double acc = 0;
            for (int j = 0; j < ni; j++) {
                double u = in->heldout[(size_t)r * ni + j] / (double)(float)in->absmax[j];
                acc += wv->w[(size_t)i * ni + j] * (signbit(u) ? -1.0 : 1.0) / (1.0 + 2.0 * fabs(u));
            }
            ref[(size_t)r * no + i] = (float)((float)out->absmax[i] * (1 - fabs(acc)) / (2.0 * acc));
        }
    int64_t bad;
    double rel = qins_rel_error(y, ref, (int64_t)n * no, &bad);
    cr_assert_lt(rel, 1e-6, "none vs D(W E(x)): %g", rel);
    qins_transport_rt_free(rt);
    qins_transport_free(&t);
    free(y), free(ref);
    real_free(&R);
}

Test(transport, nan_and_inf_are_counted_and_propagated) {
    enum { NI = 4, NO = 3, N = 10 };
    float w[NO * NI] = {1, 2, 3, 4, 0, 0, 0, 0, -1, 0.5f, 0, 2}, x[N * NI];
    uint64_t r = 9;
    for (int i = 0; i < N * NI; i++) x[i] = (float)test_urand(&r, -1, 1);
    struct qins_calib_stats in;
    test_stats_from(&in, x, N, NI);
    struct qins_transport_params p;
    qins_transport_params_default(&p);
    p.kind = QINS_TRANSPORT_NONE;
    struct qins_transport t;
    cr_assert_eq(qins_transport_compute(&p, w, NO, NI, &in, NULL, &t), 0);
    // The zero row accumulates exactly 0, whose decode is Inf.
    struct qins_linear lin = {.name = "synthetic", .n_in = NI, .n_out = NO, .w = w, .w_stored_bytes = sizeof w,
                             .wm = {QINS_W_F32, w, NO, NI, NI * sizeof(float)}};
    struct qins_counters cnt = {0};
    lin.counters = &cnt;
    cr_assert_eq(qins_transport_install(&lin, &t), 0);
    float y[N * NO];
    cr_assert_eq(lin.impl(&lin, x, N, y), 0);
    for (int k = 0; k < N; k++) cr_assert(isinf(y[k * NO + 1]), "Inf propagates");
    struct qins_transport_slot_stats st;
    cr_assert_eq(qins_transport_slot_stats(&lin, &st), 0);
    cr_assert_geq(st.nonfinite_out, N);
    struct qins_transport_eval ev;
    cr_assert_eq(qins_transport_eval(&t, w, x, N, &ev), 0);
    cr_assert_geq(ev.n_nonfinite, N);
    qins_transport_uninstall(&lin);
    cr_assert_null(lin.impl);
    cr_assert_eq(lin.w_stored_bytes, sizeof w);
    qins_transport_free(&t);
    qins_calib_stats_free(&in);
}

Test(transport, weight_codec_storage_and_determinism) {
    struct real R = {0};
    calibrate(&R, 1);
    const struct qins_linear *wv = &R.m->layers[0].wv;
    const struct qins_calib_stats *in = qins_calib_get(&R.c, 0, QINS_SITE_ATTN_IN), *out = qins_calib_get(&R.c, 0, QINS_SITE_V);
    struct qins_transport_params p;
    qins_transport_params_default(&p);
    p.kind = QINS_TRANSPORT_LSTSQ;
    struct qins_transport a, b;
    cr_assert_eq(qins_transport_compute(&p, wv->w, wv->n_out, wv->n_in, in, out, &a), 0);
    cr_assert_eq(qins_transport_compute(&p, wv->w, wv->n_out, wv->n_in, in, out, &b), 0);
    cr_assert_eq(memcmp(a.w, b.w, (size_t)a.n_in * a.n_out * sizeof(double)), 0, "deterministic fit");
    cr_assert_eq(memcmp(a.b, b.b, (size_t)a.n_out * sizeof(double)), 0);
    uint64_t total = (uint64_t)a.w_nonfinite;
    for (int i = 0; i < QINS_TRANSPORT_HIST_BINS; i++) total += a.w_hist[i];
    cr_assert_eq(total, (uint64_t)a.n_in * a.n_out, "every W' entry is in the histogram");
    struct qins_transport_eval e32, e8;
    cr_assert_eq(qins_transport_eval(&a, wv->w, in->heldout, in->n_heldout, &e32), 0);
    qins_transport_free(&b);
    p.wcodec.codec = QINS_CODEC_INT, p.wcodec.bits = 8, p.wcodec.granularity = QINS_GRAN_PER_ROW;
    cr_assert_eq(qins_transport_compute(&p, wv->w, wv->n_out, wv->n_in, in, out, &b), 0);
    cr_assert_eq(qins_transport_eval(&b, wv->w, in->heldout, in->n_heldout, &e8), 0);
    qins_transport_rt_t *r32, *r8;
    cr_assert_eq(qins_transport_rt_init(&a, &r32), 0);
    cr_assert_eq(qins_transport_rt_init(&b, &r8), 0);
    struct qins_transport_slot_stats s32, s8;
    qins_transport_rt_stats(r32, &s32);
    qins_transport_rt_stats(r8, &s8);
    cr_assert_lt(s8.stored_bytes, s32.stored_bytes / 3, "int8 rows store W' in about a quarter");
    cr_assert_neq(e8.rel_error, e32.rel_error, "the codec's rounding changes V");
    qins_transport_rt_free(r32);
    qins_transport_rt_free(r8);
    qins_transport_free(&a);
    qins_transport_free(&b);
    real_free(&R);
}

// ---------------------------------------------------------------------------------------------
// slots and counters on the whole model

static void run_forward(struct qins_model *m, int n, float *logits_out) {
    struct qins_kv_store *kv;
    struct qins_state *s;
    cr_assert_eq(qins_kv_store_fp32_init(m->hp.n_layer, 32, m->hp.n_head_kv * m->hp.head_dim, &kv), 0);
    cr_assert_eq(qins_state_init(m, 32, 32, kv, &s), 0);
    int32_t tok[32];
    for (int i = 0; i < n; i++) tok[i] = (i * 31 + 1) % m->hp.n_vocab;
    cr_assert_eq(qins_forward(m, s, tok, n, 0, false), 0);
    if (logits_out) memcpy(logits_out, s->logits, (size_t)m->hp.n_vocab * sizeof(float));
    qins_state_free(s);
    qins_kv_free(kv);
}

Test(transport, decode_counters_agree_with_the_shape_accounting) {
    struct real R = {0};
    calibrate(&R, ~0ull);
    struct qins_model *m = R.m;
    const int T = 16, L = m->hp.n_layer;
    float *base = malloc((size_t)m->hp.n_vocab * sizeof(float)), *after = malloc((size_t)m->hp.n_vocab * sizeof(float));
    run_forward(m, T, base);
    struct qins_codec_params cp;
    qins_codec_params_default(&cp);
    cr_assert_eq(qins_codec_parse("qins8", &cp), 0);
    cp.granularity = QINS_GRAN_PER_ROW;

    // Pattern A on every projection.
    cr_assert_eq(qins_model_set_weight_codec(m, &cp, QINS_SLOT_MASK_ALL, false), 0);
    struct qins_decode_tally ta;
    cr_assert_eq(qins_decode_tally(&m->hp, T, false, false, &ta), 0);
    m->counters = (struct qins_counters){0};
    qins_codec_counters_reset();
    run_forward(m, T, NULL);
    struct qins_codec_counters cc;
    qins_codec_counters_get(&cc);
    cr_assert_eq(m->counters.qins_decode_ops, ta.decode_ops, "Pattern A decode ops");
    cr_assert_eq(cc.decoded_elems, ta.decoded_elems, "Pattern A decoded elements");
    cr_assert_eq(m->counters.qins_encode_elems, ta.encoded_elems);

    // Pattern A + V-path: v_proj of every layer transported (Pattern B).
    struct qins_transport *tr = calloc((size_t)L, sizeof *tr);
    struct qins_transport_params p;
    qins_transport_params_default(&p);
    cr_assert_eq(qins_model_set_v_transport(m, &R.c, &p, ~0ull, tr), QINS_ERR_STATE, "v holds a Pattern A codec");
    for (int l = 0; l < L; l++) qins_slot_reset(&m->layers[l].wv);
    cr_assert_eq(qins_model_set_v_transport(m, &R.c, &p, ~0ull, tr), 0);
    for (int l = 0; l < L; l++) cr_assert(qins_transport_installed(&m->layers[l].wv));
    struct qins_decode_tally tv;
    cr_assert_eq(qins_decode_tally(&m->hp, T, true, false, &tv), 0);
    m->counters = (struct qins_counters){0};
    qins_codec_counters_reset();
    run_forward(m, T, NULL);
    qins_codec_counters_get(&cc);
    cr_assert_eq(m->counters.qins_decode_ops, tv.decode_ops, "Pattern A + V-path decode ops");
    cr_assert_eq(cc.decoded_elems + m->counters.qins_decode_elems, tv.decoded_elems, "decoded elements");
    cr_assert_eq(m->counters.qins_decode_elems, tv.v_decoded_elems, "the V path decodes T x kv_dim per layer");
    cr_assert_eq(m->counters.qins_encode_elems, tv.encoded_elems, "the V path encodes T x n_embd per layer");
    struct qins_transport_slot_stats st;
    cr_assert_eq(qins_transport_slot_stats(&m->layers[0].wv, &st), 0);
    cr_assert_eq(st.calls, 1, "one forward call since install");
    cr_assert_eq(st.decode_ops, st.calls, "one decode per slot call");
    // A transport cannot go on a Pattern A slot; uninstall + reset restore FP32 exactly.
    cr_assert_eq(qins_transport_install(&m->layers[0].wk, &tr[0]), QINS_ERR_STATE);
    qins_model_reset_v_transport(m);
    qins_model_reset_slots(m);
    run_forward(m, T, after);
    cr_assert_eq(memcmp(base, after, (size_t)m->hp.n_vocab * sizeof(float)), 0, "FP32 restored bit for bit");

    struct qins_hparams phi;
    qins_hparams_phi35_mini(&phi);
    for (int n = 1; n <= 512; n *= 512) {
        struct qins_decode_tally a, v;
        cr_assert_eq(qins_decode_tally(&phi, n, false, false, &a), 0);
        cr_assert_eq(qins_decode_tally(&phi, n, true, false, &v), 0);
        printf("Phi-3.5-mini T=%d: Pattern A %llu ops / %llu elems; + V-path %llu ops / %llu elems (V share %llu -> %llu)\n",
               n, (unsigned long long)a.decode_ops, (unsigned long long)a.decoded_elems, (unsigned long long)v.decode_ops,
               (unsigned long long)v.decoded_elems, (unsigned long long)a.v_decoded_elems,
               (unsigned long long)v.v_decoded_elems);
        cr_assert_eq(a.decode_ops, 32ull * 7);
        cr_assert_eq(a.v_decoded_elems, 32ull * 3072 * 3072);
        cr_assert_eq(v.v_decoded_elems, 32ull * n * 3072);
    }
    for (int l = 0; l < L; l++) qins_transport_free(&tr[l]);
    free(tr), free(base), free(after);
    real_free(&R);
}

Test(transport, names_parse_and_params_validate) {
    for (int k = 0; k < QINS_TRANSPORT_COUNT; k++) {
        enum qins_transport_kind out;
        cr_assert_eq(qins_transport_kind_parse(qins_transport_kind_name((enum qins_transport_kind)k), &out), 0);
        cr_assert_eq((int)out, k);
    }
    for (int o = 0; o < QINS_OP_COUNT; o++) {
        enum qins_op_point out;
        cr_assert_eq(qins_op_point_parse(qins_op_point_name((enum qins_op_point)o), &out), 0);
        cr_assert_eq((int)out, o);
    }
    enum qins_transport_kind k;
    cr_assert_eq(qins_transport_kind_parse("jacobean", &k), QINS_ERR_ARG);
    struct qins_transport_params p;
    qins_transport_params_default(&p);
    cr_assert_eq(qins_transport_params_validate(&p), 0);
    p.alpha = 0;
    cr_assert_eq(qins_transport_params_validate(&p), QINS_ERR_ARG);
    p.alpha = 1, p.in_bits = 1;
    cr_assert_eq(qins_transport_params_validate(&p), QINS_ERR_ARG);
    p.in_bits = 0, p.ridge = -1;
    cr_assert_eq(qins_transport_params_validate(&p), QINS_ERR_ARG);
    cr_assert_float_eq(qins_transport_hist_lower(1), 1e-8, 1e-20);
    cr_assert_float_eq(qins_transport_hist_lower(QINS_TRANSPORT_HIST_BINS - 1), 1e8, 1e-6);
}
