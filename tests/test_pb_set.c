// tests/test_pb_set.c — Pattern B on the MLP's slots: on synthetic data where every MLP projection
// is exactly linear in the encoded domain, lstsq recovers each map and the whole MLP (decode before
// SiLU·up, re-encode for down_proj) equals the FP32 MLP; with no transport and an exact codec the
// model's MLP is the FP32 one bit for bit (also through a gate slot that applies SiLU itself); and
// the counters count what the code does (one decode per slot call, Pattern B elements per token).
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "calib.h"
#include "codec.h"
#include "eval.h"
#include "helpers/shared_paths.h"
#include "helpers/synth_rows.h"
#include "kv.h"
#include "model.h"
#include "pb_set.h"
#include "silu_lut.h"
#include "slots.h"
#include "transport.h"

// y_i = c_i x_{sel(i)} with c a power of two: E_out(y_i) = sign(c_i) E(x_sel(i)) exactly when the
// output scale is |c_i| times the input's (absmax of the same rows), so W' is a signed selection.
static void selection(float *w, int n_out, int n_in, int shift, uint64_t *r) {
    memset(w, 0, (size_t)n_out * n_in * sizeof *w);
    for (int i = 0; i < n_out; i++) {
        // outputs that share an input get different magnitudes: SiLU(c x) for two c is not
        // proportional, so the down_proj inputs built from them are not collinear
        const float c = ldexpf(1.0f, i / n_in) * (test_urand(r, 0, 1) < 0.5 ? -1.0f : 1.0f);
        w[(size_t)i * n_in + (i * 7 + shift) % n_in] = c;
    }
}

static void matmul(const float *w, int n_out, int n_in, const float *x, int n, float *y) {
    for (int t = 0; t < n; t++)
        for (int i = 0; i < n_out; i++) {
            float v = 0;
            for (int j = 0; j < n_in; j++) v += w[(size_t)i * n_in + j] * x[(size_t)t * n_in + j];
            y[(size_t)t * n_out + i] = v;
        }
}

static void fit(const char *what, const float *w, int n_out, int n_in, const float *x, int n, struct qins_transport *t) {
    struct qins_calib_stats in;
    test_stats_from(&in, x, n, n_in);
    struct qins_transport_params p;
    qins_transport_params_default(&p);
    p.kind = QINS_TRANSPORT_LSTSQ, p.alpha = 1.5, p.ridge = 1e-12;
    cr_assert_eq(qins_transport_compute(&p, w, n_out, n_in, &in, NULL, t), 0);
    for (int i = 0; i < n_out; i++)
        for (int j = 0; j < n_in; j++) {
            const float c = w[(size_t)i * n_in + j];
            cr_assert_float_eq(t->w[(size_t)i * n_in + j], c == 0 ? 0.0 : copysign(1.0, c), 1e-6, "%s W'[%d][%d]", what, i, j);
        }
    qins_calib_stats_free(&in);
}

Test(pb_set, lstsq_recovers_an_mlp_that_is_linear_in_the_encoded_domain) {
    enum { E = 8, F = 12, N = 400 };
    uint64_t r = 21;
    float wg[F * E], wu[F * E], wd[E * F];
    selection(wg, F, E, 0, &r), selection(wu, F, E, 3, &r), selection(wd, E, F, 1, &r);
    float *x = malloc(N * E * sizeof(float)), *g = malloc(N * F * sizeof(float)), *u = malloc(N * F * sizeof(float));
    float *h = malloc(N * F * sizeof(float)), *y = malloc(N * E * sizeof(float)), *yt = malloc(N * E * sizeof(float));
    for (int i = 0; i < N * E; i++) x[i] = (float)test_urand(&r, -3, 3);
    // the FP32 MLP: down(SiLU(gate x) * up x)
    matmul(wg, F, E, x, N, g), matmul(wu, F, E, x, N, u);
    for (int i = 0; i < N * F; i++) h[i] = g[i] / (1.0f + expf(-g[i])) * u[i];
    matmul(wd, E, F, h, N, y);
    struct qins_transport tg, tu, td;
    fit("gate", wg, F, E, x, N, &tg), fit("up", wu, F, E, x, N, &tu), fit("down", wd, E, F, h, N, &td); // down on its own inputs
    // decode_before_silu: gate and up decoded to FP32, SiLU * up, then down_proj re-encodes
    qins_transport_rt_t *rg, *ru, *rd;
    cr_assert_eq(qins_transport_rt_init(&tg, &rg), 0);
    cr_assert_eq(qins_transport_rt_init(&tu, &ru), 0);
    cr_assert_eq(qins_transport_rt_init(&td, &rd), 0);
    float *gt = malloc(N * F * sizeof(float)), *ut = malloc(N * F * sizeof(float));
    cr_assert_eq(qins_transport_rt_apply(rg, x, N, gt), 0);
    cr_assert_eq(qins_transport_rt_apply(ru, x, N, ut), 0);
    for (int i = 0; i < N * F; i++) gt[i] = gt[i] / (1.0f + expf(-gt[i])) * ut[i];
    cr_assert_eq(qins_transport_rt_apply(rd, gt, N, yt), 0);
    int64_t bad;
    const double e = qins_rel_error(yt, y, N * E, &bad);
    cr_assert_eq(bad, 0);
    cr_assert_lt(e, 1e-5, "the transported MLP is the FP32 MLP up to rounding: %g", e);
    qins_transport_rt_free(rg), qins_transport_rt_free(ru), qins_transport_rt_free(rd);
    qins_transport_free(&tg), qins_transport_free(&tu), qins_transport_free(&td);
    free(x), free(g), free(u), free(h), free(y), free(yt), free(gt), free(ut);
}

// ---- on stories260K

struct real {
    struct qins_model *m;
    struct qins_kv_store *kv;
    struct qins_state *s;
    int32_t toks[256];
};

static void real_open(struct real *R) {
    char path[1200];
    cr_assert_eq(test_model_path("stories260K.gguf", path, sizeof path), 0, "stories260K.gguf not found");
    cr_assert_eq(qins_model_load(path, &R->m), 0);
    const int V = R->m->hp.n_vocab;
    cr_assert_eq(qins_kv_store_fp32_init(R->m->hp.n_layer, 64, R->m->hp.n_head_kv * R->m->hp.head_dim, &R->kv), 0);
    cr_assert_eq(qins_state_init(R->m, 64, 64, R->kv, &R->s), 0);
    for (int i = 0; i < 256; i++) R->toks[i] = 1 + (i * 37) % (V - 1);
}

static void real_close(struct real *R) {
    qins_state_free(R->s);
    qins_kv_free(R->kv);
    qins_model_free(R->m);
}

static void nll(struct real *R, struct qins_ppl_result *out) {
    struct qins_ppl_opts o = {64, 0, 1, false, NULL, NULL};
    cr_assert_eq(qins_perplexity(R->m, R->s, R->toks, 128, &o, out), 0);
}

// A gate slot that applies SiLU itself, exactly as core/forward.c would afterwards.
static int gate_with_silu(struct qins_linear *lin, const float *x, int n_tok, float *y) {
    QINS_TRY(qins_linear_stored(lin, x, n_tok, y));
    for (size_t i = 0; i < (size_t)n_tok * lin->n_out; i++) y[i] = y[i] / (1.0f + expf(-y[i]));
    return 0;
}

Test(pb_set, no_transport_and_an_exact_codec_is_the_fp32_mlp) {
    struct real R;
    real_open(&R);
    struct qins_ppl_result base, exact, selfsilu;
    nll(&R, &base);
    struct qins_codec_params cp;
    qins_codec_params_default(&cp);
    cr_assert_eq(qins_codec_parse("fp32", &cp), 0);
    cr_assert_eq(qins_model_set_weight_codec(R.m, &cp, QINS_SLOT_MASK_MLP, false), 0);
    nll(&R, &exact);
    qins_model_reset_slots(R.m);
    for (int l = 0; l < R.m->hp.n_layer; l++) R.m->layers[l].wgate.impl = gate_with_silu, R.m->layers[l].wgate.silu_applied = true;
    nll(&R, &selfsilu);
    cr_assert_eq(base.tokens_scored, exact.tokens_scored);
    cr_assert_eq(memcmp(base.token_nll, exact.token_nll, (size_t)base.tokens_scored * sizeof *base.token_nll), 0,
                 "MLP weights through an exact codec, SiLU decoded before SiLU*up: FP32 bit for bit");
    cr_assert_eq(memcmp(base.token_nll, selfsilu.token_nll, (size_t)base.tokens_scored * sizeof *base.token_nll), 0,
                 "a gate slot that applies SiLU (silu_applied): the layer does not apply it again");
    for (int l = 0; l < R.m->hp.n_layer; l++) R.m->layers[l].wgate.impl = NULL, R.m->layers[l].wgate.silu_applied = false;
    qins_ppl_result_free(&base), qins_ppl_result_free(&exact), qins_ppl_result_free(&selfsilu);
    real_close(&R);
}

Test(pb_set, counters_count_what_the_code_does) {
    struct real R;
    real_open(&R);
    struct qins_model *m = R.m;
    const int L = m->hp.n_layer;
    struct qins_calib_text t = {.n_ids = 256, .ctx = 64, .bos = 1, .fit_win = 3, .held_win = 1};
    t.ids = malloc(256 * sizeof *t.ids);
    memcpy(t.ids, R.toks, 256 * sizeof *t.ids);
    struct qins_codec_params pa;
    qins_codec_params_default(&pa);
    cr_assert_eq(qins_codec_parse("qins8", &pa), 0);
    pa.granularity = QINS_GRAN_PER_ROW;
    const char *const names[4] = {"ffn_down", "ffn_gate", "ffn_up", "attn_v"};
    struct qins_pbs ps;
    cr_assert_eq(qins_pbs_init(&ps, m, names, 4, &t, &pa), 0);
    for (int silu = 0; silu < 2; silu++) {
        struct qins_pbs_variant v = {.kind = QINS_PB_TRANSPORT, .transport = true, .mask = (1ull << L) - 1};
        struct qins_transport_params p;
        qins_transport_params_default(&p);
        p.kind = QINS_TRANSPORT_LSTSQ;
        for (int i = 0; i < 4; i++) {
            struct qins_transport_params q = p;
            if (i == 1 && silu) q.out_bits = 8, q.out_silu = true;
            qins_pbs_variant_set(&v, i, &q);
        }
        const unsigned ms = qins_pbs_model_slots(&ps, &v);
        cr_assert_eq(ms, 1u << 2 | 1u << 4 | 1u << 5 | 1u << 6, "v, gate, up, down");
        struct qins_pb_decodes a, b;
        cr_assert_eq(qins_pbs_decode_counts(&ps, &pa, &v, &a, &b), 0);
        struct qins_decode_tally ta, tb;
        cr_assert_eq(qins_decode_tally_slots(&m->hp, 1, 0, false, &ta), 0);
        cr_assert_eq(qins_decode_tally_slots(&m->hp, 1, ms, false, &tb), 0);
        cr_assert_eq(a.ops, 7.0 * L, "Pattern A: one weight decode per slot call");
        cr_assert_eq(a.ops, (double)ta.decode_ops);
        cr_assert_eq(a.elems, (double)ta.decoded_elems);
        cr_assert_eq(b.ops, (double)tb.decode_ops, "Pattern B: one output decode per call (a SiLU table read too)");
        cr_assert_eq(b.elems, (double)tb.decoded_elems, "weights of q,k,o + one token's v, gate, up, down outputs");
        cr_assert_eq(m->counters.qins_encode_elems, tb.encoded_elems, "one token's inputs of the 4 slots encoded");
        const double share = qins_matmul_flops_share(&m->hp, ms, L);
        cr_assert(share > 0 && share < 1, "the output matrix and q,k,o stay outside: %g", share);
        cr_assert_eq(qins_matmul_flops_share(&m->hp, QINS_SLOT_MASK_ALL, 0), 0.0);
    }
    // the transports are gone: FP32 again, bit for bit
    struct qins_ppl_result base, after;
    qins_pbs_reset(&ps);
    nll(&R, &after);
    qins_pbs_free(&ps);
    qins_calib_text_free(&t);
    real_close(&R);
    real_open(&R);
    nll(&R, &base);
    cr_assert_eq(memcmp(base.token_nll, after.token_nll, (size_t)base.tokens_scored * sizeof *base.token_nll), 0);
    qins_ppl_result_free(&base), qins_ppl_result_free(&after);
    real_close(&R);
}
