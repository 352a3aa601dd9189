// tests/test_access.c — access frequencies and the cold split (core/access.h): the summary of a
// short forward pass on stories260K and on a tied tiny model checked against counts worked out by
// hand, the Zipf fit on exact power laws, the projection on hand-computed shapes, and the errors.
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "access.h"
#include "common.h"
#include "helpers/shared_paths.h"
#include "helpers/test_io.h"
#include "helpers/tiny_model.h"
#include "model.h"

TestSuite(access, .init = test_log_capture);

// A model with tracking on, an FP32 store and a state for 16 positions in batches of up to 8.
struct run {
    struct qins_model *m;
    struct qins_kv_store *kv;
    struct qins_state *s;
};

static void run_open(const char *path, struct run *r) {
    cr_assert_eq(qins_model_load(path, &r->m), 0, "%s: %s", path, qins_last_error());
    const int kvd = r->m->hp.n_head_kv * r->m->hp.head_dim;
    cr_assert_eq(qins_kv_store_fp32_init(r->m->hp.n_layer, 16, kvd, &r->kv), 0);
    cr_assert_eq(qins_state_init(r->m, 16, 8, r->kv, &r->s), 0);
    cr_assert_eq(qins_model_track_embedding_rows(r->m, true), 0);
}

// stories260K (untied: its own output.weight); returns -1 (a Criterion failure naming where it
// looked) when the model is not found.
static int open_stories(struct run *r) {
    char path[1200];
    if (test_model_path("stories260K.gguf", path, sizeof path)) return -1;
    run_open(path, r);
    return 0;
}

static void run_close(struct run *r) {
    qins_state_free(r->s);
    qins_kv_free(r->kv);
    qins_model_free(r->m);
}

// The same 6 tokens on every model: a batch of 4 (logits of its last token only), then 2 single
// tokens. Row 77 is read 3 times, row 1 twice, row 250 once; the output matrix serves 3 tokens.
static const int32_t toks[6] = {1, 77, 250, 77, 77, 1};

static void run_six(struct run *r) {
    qins_kv_clear(r->kv);
    cr_assert_eq(qins_forward(r->m, r->s, toks, 4, 0, false), 0);
    cr_assert_eq(qins_forward(r->m, r->s, toks + 4, 1, 4, false), 0);
    cr_assert_eq(qins_forward(r->m, r->s, toks + 5, 1, 5, false), 0);
}

// stories260K: E 64, 5 layers of q (64x64), k and v (32x64), o (64x64), gate, up and down (172x64)
// = 45,312 elements a layer, 226,560 in all, plus token_embd and output (512x64 each): 292,096.
Test(access, stories260k_slots_are_read_once_per_token_and_rows_by_their_counts) {
    struct run r;
    if (open_stories(&r)) return;
    const int V = r.m->hp.n_vocab, E = r.m->hp.n_embd;
    cr_assert_eq(V, 512);
    cr_assert_eq(E, 64);
    run_six(&r);
    struct qins_access_summary s;
    cr_assert_eq(qins_access_summarize(r.m, 6, 0.4, &s), 0, "%s", qins_last_error());
    cr_assert_eq(s.n_tensors, 5 * 7 + 2);
    cr_expect_not(s.tied);
    for (size_t i = 0; i < 35; i++) cr_expect_eq(s.t[i].reads_per_token, 1.0, "%s: %g", s.t[i].name, s.t[i].reads_per_token);
    cr_expect_str_eq(s.t[0].name, "blk.0.attn_q");
    cr_expect_eq(s.t[0].n_elements, 64 * 64);
    cr_expect_eq(s.t[6].rows, 64, "ffn_down maps 172 to 64");
    cr_expect_str_eq(s.t[35].name, "output");
    cr_expect_eq(s.t[35].reads_per_token, 0.5, "3 of 6 tokens had logits");
    cr_expect_str_eq(s.t[36].name, "token_embd");
    cr_expect_eq(s.t[36].reads_per_token, 1.0 / 512, "one row of 512 per token");
    cr_expect_eq(s.hottest, 1.0);
    cr_expect_eq(s.cold_below, 0.4);
    cr_expect_eq(s.weight_elems, 292096);
    cr_expect_eq(s.weight_bytes, 4 * 292096, "stories260K is F32");
    cr_expect_eq(s.embd_rows, 512);
    cr_expect_eq(s.embd_rows_touched, 3);
    // below 0.4 reads/token: row 1 (2/6), row 250 (1/6) and the 509 untouched rows; row 77 (3/6)
    // and the output (3/6) are hot
    cr_expect_eq(s.embd_rows_cold, 511);
    cr_expect_eq(s.cold_elems, 511 * 64);
    cr_expect_eq(s.cold_bytes, 4 * 511 * 64);
    cr_expect_float_eq(s.cold_fraction, 511.0 * 64 / 292096, 1e-15);
    // the fit is that of the 3 touched rows' frequencies by rank
    double freq[512], zs, zr2;
    cr_assert_eq(qins_access_rank_frequency(r.m, 6, freq), 3);
    cr_expect_eq(freq[0], 3.0 / 6);
    cr_expect_eq(freq[1], 2.0 / 6);
    cr_expect_eq(freq[2], 1.0 / 6);
    for (int i = 3; i < 512; i++) cr_expect_eq(freq[i], 0.0, "rank %d", i + 1);
    cr_assert_eq(qins_access_zipf_fit(freq, 3, &zs, &zr2), 0);
    cr_expect_eq(s.zipf_s, zs);
    cr_expect_eq(s.zipf_r2, zr2);
    cr_expect_gt(s.zipf_s, 0.5, "a falling curve: s %g", s.zipf_s);
    qins_access_summary_free(&s);
    // at 0.6 the output matrix (0.5) and row 77 (0.5) turn cold too: every row of both
    cr_assert_eq(qins_access_summarize(r.m, 6, 0.6, &s), 0);
    cr_expect_eq(s.embd_rows_cold, 512);
    cr_expect_eq(s.cold_elems, 2 * 512 * 64);
    qins_access_summary_free(&s);
    cr_expect_null(s.t);
    run_close(&r);
}

// A tied model: the output matrix is token_embd, counted once, and each row is read by the logits
// of every token that had them on top of its own gathers. Tiny llama: E 64, 2 layers of q and o
// (64x64), k and v (32x64), gate, up and down (96x64) = 30,720 a layer; token_embd 300x64.
Test(access, a_tied_embedding_is_counted_once_and_read_by_the_logits) {
    struct qins_random_model_spec spec = tiny_model_spec("llama");
    spec.tied_output = true;
    char path[1200];
    cr_assert_eq(tiny_model_write(&spec, path, sizeof path), 0);
    struct run r;
    run_open(path, &r);
    cr_assert_eq(r.m->hp.n_vocab, 300);
    // token by token, every token has logits: every row is read once per token, nothing is cold
    qins_kv_clear(r.kv);
    for (int t = 0; t < 6; t++) cr_assert_eq(qins_forward(r.m, r.s, toks + t, 1, t, false), 0);
    struct qins_access_summary s;
    cr_assert_eq(qins_access_summarize(r.m, 6, 0.5, &s), 0, "%s", qins_last_error());
    cr_expect(s.tied);
    cr_expect_eq(s.t[s.n_tensors - 2].reads_per_token, 1.0);
    cr_expect_eq(s.weight_elems, 2 * 30720 + 300 * 64);
    cr_expect_eq(s.embd_rows_cold, 0);
    cr_expect_eq(s.cold_elems, 0);
    qins_access_summary_free(&s);
    // run_six: the logits cover 3 of 6 tokens (0.5 per row); row 250 adds 1/6 and is hot at a
    // threshold of 0.6, the untouched 297 rows are not
    qins_model_reset_access(r.m);
    run_six(&r);
    cr_assert_eq(qins_access_summarize(r.m, 6, 0.6, &s), 0);
    cr_expect_eq(s.embd_rows_cold, 297);
    cr_expect_eq(s.cold_elems, 297 * 64);
    qins_access_summary_free(&s);
    run_close(&r);
    tiny_model_remove(path);
}

Test(access, zipf_fit_recovers_an_exact_power_law) {
    enum { N = 1000 };
    double f[N], s, r2;
    for (int i = 0; i < N; i++) f[i] = 0.37 * pow(i + 1, -1.2);
    cr_assert_eq(qins_access_zipf_fit(f, N, &s, &r2), 0);
    cr_expect_float_eq(s, 1.2, 1e-9, "s %.12f", s);
    cr_expect_float_eq(r2, 1.0, 1e-12, "r2 %.15f", r2);
    // flat: s 0, fitted exactly
    for (int i = 0; i < N; i++) f[i] = 0.001;
    cr_assert_eq(qins_access_zipf_fit(f, N, &s, &r2), 0);
    cr_expect_float_eq(s, 0.0, 1e-12);
    cr_expect_eq(r2, 1.0);
    // two points are always a line: log 4 - log 1 over log 2 gives s = 2
    const double two[2] = {4, 1};
    cr_assert_eq(qins_access_zipf_fit(two, 2, &s, &r2), 0);
    cr_expect_float_eq(s, 2.0, 1e-12);
    // exponential decay is no power law: the fit leaves a residual
    for (int i = 0; i < 20; i++) f[i] = exp(-(double)i);
    cr_assert_eq(qins_access_zipf_fit(f, 20, &s, &r2), 0);
    cr_expect_lt(r2, 0.95, "r2 %g", r2);
    cr_expect_gt(r2, 0.0);
}

// s = 1 over 4 rows: H = 1 + 1/2 + 1/3 + 1/4 = 25/12, freq = 0.48, 0.24, 0.16, 0.12; below 0.2 are
// rows 3 and 4, 20 of 1000 parameters at a width of 10.
Test(access, projection_matches_hand_figures) {
    struct qins_access_summary s = {.embd_rows_touched = 3, .zipf_s = 1.0, .cold_below = 0.2};
    struct qins_access_shape shape = {"hand", 4, 10, 1000, false};
    struct qins_access_projection p;
    cr_assert_eq(qins_access_project(&s, &shape, &p), 0);
    cr_expect_str_eq(p.name, "hand");
    cr_expect_eq(p.cold_rows, 2);
    cr_expect_eq(p.cold_rows_frac, 0.5);
    cr_expect_eq(p.cold_elems, 20);
    cr_expect_float_eq(p.cold_fraction, 0.02, 1e-15);
    // s = 0: every row 1/4 read per token, all below 0.3
    s.zipf_s = 0, s.cold_below = 0.3;
    cr_assert_eq(qins_access_project(&s, &shape, &p), 0);
    cr_expect_eq(p.cold_rows, 4);
    // tied: the logits read the whole embedding every token
    s.zipf_s = 1, s.cold_below = 0.2;
    shape.tied = true;
    cr_assert_eq(qins_access_project(&s, &shape, &p), 0);
    cr_expect(p.tied);
    cr_expect_eq(p.cold_rows, 0);
    cr_expect_eq(p.cold_fraction, 0.0);
    // phi3.5-mini at s = 1 and 1e-4 reads/token: H_32064 = ln 32064 + γ + 1/(2·32064) = 10.952720,
    // so rows r <= 1e4 / H = 913.015 are hot and 31,151 are cold
    const struct qins_access_shape *phi = qins_access_shape_find("phi3.5-mini");
    cr_assert_not_null(phi);
    cr_expect_eq(phi->n_vocab, 32064);
    cr_expect_eq(phi->n_embd, 3072);
    cr_expect_not(phi->tied);
    s.cold_below = 1e-4;
    cr_assert_eq(qins_access_project(&s, phi, &p), 0);
    cr_expect_eq(p.cold_rows, 31151);
    cr_expect_float_eq(p.cold_fraction, 31151.0 * 3072 / 3.821079552e9, 1e-15);
    cr_expect_null(qins_access_shape_find("phi3.5-big"));
    cr_expect_null(qins_access_shape_find(NULL));
}

static int lines(const char *s) {
    int n = 0;
    for (; *s; s++) n += *s == '\n';
    return n;
}

Test(access, bad_inputs_are_errors_with_one_line) {
    struct run r;
    if (open_stories(&r)) return;
    run_six(&r);
    struct qins_access_summary s;
    double freq[512];
    const double bad_frac[] = {0, 1, -0.1, 1.5, NAN};
    for (size_t i = 0; i < sizeof bad_frac / sizeof bad_frac[0]; i++) {
        test_log_capture();
        cr_expect_eq(qins_access_summarize(r.m, 6, bad_frac[i], &s), QINS_ERR_ARG, "cold_frac %g", bad_frac[i]);
        cr_expect_eq(lines(test_log), 1, "%s", test_log);
        cr_expect_null(s.t);
    }
    cr_expect_eq(qins_access_summarize(r.m, 0, 0.1, &s), QINS_ERR_ARG);
    cr_expect_eq(qins_access_rank_frequency(r.m, 0, freq), QINS_ERR_ARG);
    // counters that cover 6 tokens are not a summary of 5 or 7
    test_log_capture();
    cr_expect_eq(qins_access_summarize(r.m, 5, 0.1, &s), QINS_ERR_STATE);
    cr_expect(strstr(test_log, "qins_model_reset_access"), "%s", test_log);
    cr_expect_eq(qins_access_summarize(r.m, 7, 0.1, &s), QINS_ERR_STATE);
    cr_assert_eq(qins_model_track_embedding_rows(r.m, false), 0);
    test_log_capture();
    cr_expect_eq(qins_access_summarize(r.m, 6, 0.1, &s), QINS_ERR_STATE);
    cr_expect_eq(lines(test_log), 1, "%s", test_log);
    cr_expect(strstr(test_log, "qins_model_track_embedding_rows"), "%s", test_log);
    cr_expect_eq(qins_access_rank_frequency(r.m, 6, freq), QINS_ERR_STATE);
    run_close(&r);
    // a projection needs a fit and a shape that holds its embedding
    const double f1[1] = {1}, f0[2] = {1, 0};
    double zs, zr2;
    cr_expect_eq(qins_access_zipf_fit(f1, 1, &zs, &zr2), QINS_ERR_ARG);
    cr_expect_eq(qins_access_zipf_fit(f0, 2, &zs, &zr2), QINS_ERR_ARG);
    struct qins_access_summary fit = {.embd_rows_touched = 1, .zipf_s = 1, .cold_below = 0.1};
    struct qins_access_shape shape = {"x", 100, 8, 1e6, false};
    struct qins_access_projection p;
    cr_expect_eq(qins_access_project(&fit, &shape, &p), QINS_ERR_STATE, "one touched row: no fit");
    fit.embd_rows_touched = 2;
    cr_expect_eq(qins_access_project(&fit, &shape, &p), 0);
    shape.n_params = 1000; // < 2 x 100 x 8
    cr_expect_eq(qins_access_project(&fit, &shape, &p), QINS_ERR_ARG);
    shape.tied = true; // 800 fits once
    cr_expect_eq(qins_access_project(&fit, &shape, &p), 0);
    shape.n_vocab = 0;
    cr_expect_eq(qins_access_project(&fit, &shape, &p), QINS_ERR_ARG);
}
