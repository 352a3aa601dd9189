// tests/test_fused_matmul.c — the fused codec kernels (kernels/fused_matmul.h, fused_huffman.h)
// against their FP64 references and against decode-then-FP32-GEMV, for every path this CPU has
// (scalar, AVX2, AVX-512; permute and gather LUT reads), every codec x k x granularity, odd
// shapes (rows not a multiple of the lanes, 172-wide rows, rows not starting on a byte); thread
// count independence; GEMM vs GEMV per token; the Huffman tile path; unsupported cases; and a
// stories260K model with every slot fused against the separate-ops slots (greedy ids).
#include <criterion/criterion.h>
#include <math.h>
#include <omp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "common.h"
#include "cpu_features.h"
#include "eval.h"
#include "fused_huffman.h"
#include "fused_matmul.h"
#include "helpers/shared_paths.h"
#include "matmul.h"
#include "model.h"
#include "slots.h"

static uint32_t rng = 777;
static float gauss(void) { // sum of four uniforms: bell-shaped, like trained weights
    float s = 0;
    for (int i = 0; i < 4; i++) {
        rng = rng * 1664525u + 1013904223u;
        s += (float)(rng >> 8) / 16777216.0f - 0.5f;
    }
    return s;
}
static float *randv(size_t n, float amp) {
    float *x = malloc(n * sizeof *x);
    for (size_t i = 0; i < n; i++) x[i] = amp * gauss();
    return x;
}

static const enum qins_codec_kind codecs[] = {QINS_CODEC_INT, QINS_CODEC_NF, QINS_CODEC_QINS};
static const int ks[] = {4, 6, 8};
static const struct { enum qins_granularity g; int size; } grans[] = {
    {QINS_GRAN_PER_TENSOR, 0}, {QINS_GRAN_PER_ROW, 0}, {QINS_GRAN_PER_GROUP, 32}, {QINS_GRAN_PER_GROUP, 64},
    {QINS_GRAN_PER_GROUP, 20}}; // 20: groups that straddle vectors
// rows not a multiple of 8/16; cols 172 (stories260K n_ff), cols % 4 != 0 (k = 6 rows off a byte), tails
static const int shapes[][2] = {{1, 16}, {7, 172}, {13, 64}, {5, 333}, {3, 1000}, {17, 45}, {2, 7}, {33, 258}};
#define N_OF(a) (sizeof(a) / sizeof((a)[0]))

static struct qins_codec_params params(enum qins_codec_kind c, int k, int gi) {
    struct qins_codec_params p;
    qins_codec_params_default(&p);
    p.codec = c, p.bits = k, p.granularity = grans[gi].g;
    if (grans[gi].size) p.group_size = grans[gi].size;
    return p;
}

struct enc {
    struct qins_codec_params p;
    int rows, cols;
    uint8_t *bytes;
    size_t n_bytes;
    float *dec; // qins_codec_decode of bytes (rows, cols)
    struct qins_cmat m;
};

static void enc_make(struct enc *e, const struct qins_codec_params *p, int rows, int cols) {
    e->p = *p, e->rows = rows, e->cols = cols;
    float *w = randv((size_t)rows * cols, 0.05f);
    e->n_bytes = qins_codec_encoded_bytes(p, rows, cols);
    e->bytes = malloc(e->n_bytes);
    e->dec = malloc((size_t)rows * cols * sizeof(float));
    cr_assert_eq(qins_codec_encode(p, w, rows, cols, e->bytes, e->n_bytes), 0);
    cr_assert_eq(qins_codec_decode(p, e->bytes, e->n_bytes, rows, cols, e->dec), 0);
    cr_assert_eq(qins_cmat_init(&e->m, p, e->bytes, e->n_bytes, rows, cols), 0);
    free(w);
}
static void enc_free(struct enc *e) {
    qins_cmat_free(&e->m);
    free(e->bytes), free(e->dec);
}

static int n_isas(void) { return qins_cpu_simd_level() + 1; }

static void check_all_paths(enum qins_codec_kind codec) {
    char name[32], gname[32];
    for (size_t ki = 0; ki < N_OF(ks); ki++)
        for (size_t gi = 0; gi < N_OF(grans); gi++)
            for (size_t si = 0; si < N_OF(shapes); si++) {
                const int rows = shapes[si][0], cols = shapes[si][1];
                const struct qins_codec_params p = params(codec, ks[ki], (int)gi);
                struct enc e;
                enc_make(&e, &p, rows, cols);
                qins_codec_name(&p, name, sizeof name), qins_codec_granularity_name(&p, gname, sizeof gname);
                float *x = randv(cols, 1.0f), *ref = malloc(rows * 4), *y = malloc(rows * 4),
                      *yf = malloc(rows * 4), *dec = malloc((size_t)rows * cols * 4), *yp = malloc(rows * 4);
                qins_cmat_gemv_ref(&e.m, x, ref);
                // decode-then-FP32-GEMV: the reference is exactly that product in double
                struct qins_wmat wf;
                cr_assert_eq(qins_wmat_init(&wf, QINS_W_F32, e.dec, rows, cols), 0);
                qins_gemv_ref(&wf, x, yf);
                for (int r = 0; r < rows; r++)
                    cr_assert_eq(ref[r], yf[r], "%s %s %dx%d: fused ref vs decode-then-gemv ref, row %d", name,
                                 gname, rows, cols, r);
                qins_gemv(&wf, x, yf); // the FP32 fast path on the decoded weights
                cr_assert_leq(qins_cmat_worst_rel(&e.m, x, yf, ref), QINS_FUSED_REL_TOL);
                for (int isa = 0; isa < n_isas(); isa++) {
                    qins_matmul_set_isa((enum qins_isa)isa);
                    for (int lut = QINS_FUSED_LUT_PERMUTE; lut <= QINS_FUSED_LUT_GATHER; lut++) {
                        qins_fused_set_lut((enum qins_fused_lut)lut);
                        memset(y, 0xff, rows * 4);
                        qins_cmat_gemv_rows(&e.m, x, y, 0, rows);
                        const double rel = qins_cmat_worst_rel(&e.m, x, y, ref);
                        cr_assert_leq(rel, QINS_FUSED_REL_TOL, "%s %s %dx%d %s lut %d: worst rel %g", name, gname,
                                      rows, cols, qins_isa_name(qins_matmul_isa()), lut, rel);
                        const double rel_f = qins_cmat_worst_rel(&e.m, x, y, yf);
                        cr_assert_leq(rel_f, 2 * QINS_FUSED_REL_TOL, "%s %s vs decode+FP32 gemv: %g", name, gname, rel_f);
                        // permutes and gather read the same table values in the same order
                        if (lut == QINS_FUSED_LUT_PERMUTE) memcpy(yp, y, rows * 4);
                        else cr_assert_eq(memcmp(yp, y, rows * 4), 0, "%s %s %dx%d %s: permute vs gather", name, gname,
                                          rows, cols, qins_isa_name(qins_matmul_isa()));
                    }
                    // tile decode = the codec's decode, bit for bit (sub-rectangle at odd offsets too)
                    qins_cmat_decode(&e.m, 0, rows, 0, cols, dec, cols);
                    cr_assert_eq(memcmp(dec, e.dec, (size_t)rows * cols * 4), 0, "%s %s %dx%d %s: decode", name,
                                 gname, rows, cols, qins_isa_name(qins_matmul_isa()));
                    if (cols > 3) {
                        qins_cmat_decode(&e.m, rows / 2, rows - rows / 2, 3, cols - 3, dec, cols);
                        for (int r = 0; r < rows - rows / 2; r++)
                            cr_assert_eq(memcmp(dec + (size_t)r * cols, e.dec + (size_t)(r + rows / 2) * cols + 3,
                                                (size_t)(cols - 3) * 4),
                                         0, "%s %s partial decode", name, gname);
                    }
                }
                qins_matmul_set_isa(QINS_ISA_AUTO);
                qins_fused_set_lut(QINS_FUSED_LUT_AUTO);
                free(x), free(ref), free(y), free(yf), free(dec), free(yp);
                enc_free(&e);
            }
}

Test(fused_matmul, int_every_path_matches_ref) { check_all_paths(QINS_CODEC_INT); }
Test(fused_matmul, nf_every_path_matches_ref) { check_all_paths(QINS_CODEC_NF); }
Test(fused_matmul, qins_every_path_matches_ref) { check_all_paths(QINS_CODEC_QINS); }

Test(fused_matmul, thread_count_and_row_split_do_not_change_results) {
    for (size_t ki = 0; ki < N_OF(ks); ki++) {
        const struct qins_codec_params p = params(QINS_CODEC_QINS, ks[ki], 2);
        struct enc e;
        enc_make(&e, &p, 1001, 1030); // > 256 KiB encoded at every k: the parallel path runs
        float *x = randv(e.cols, 1.0f), *y1 = malloc(e.rows * 4), *y2 = malloc(e.rows * 4), *y3 = malloc(e.rows * 4);
        omp_set_num_threads(1);
        qins_cmat_gemv(&e.m, x, y1);
        omp_set_num_threads(2);
        qins_cmat_gemv(&e.m, x, y2);
        omp_set_num_threads(3);
        qins_cmat_gemv(&e.m, x, y3);
        cr_assert_eq(memcmp(y1, y2, e.rows * 4), 0, "k=%d: 1 vs 2 threads", ks[ki]);
        cr_assert_eq(memcmp(y1, y3, e.rows * 4), 0, "k=%d: 1 vs 3 threads", ks[ki]);
        for (int r0 = 0; r0 < e.rows; r0 += 97) {
            const int n = e.rows - r0 < 97 ? e.rows - r0 : 97;
            qins_cmat_gemv_rows(&e.m, x, y2, r0, n);
        }
        cr_assert_eq(memcmp(y1, y2, e.rows * 4), 0, "k=%d: row split", ks[ki]);
        omp_set_num_threads(1);
        free(x), free(y1), free(y2), free(y3);
        enc_free(&e);
    }
}

Test(fused_matmul, gemm_matches_gemv_per_token) {
    static const int toks[] = {2, 5, 33};
    for (size_t ki = 0; ki < N_OF(ks); ki++)
        for (int gi = 0; gi < 4; gi++) {
            const struct qins_codec_params p = params(QINS_CODEC_NF, ks[ki], gi);
            struct enc e;
            enc_make(&e, &p, 300, 600); // two row tiles, two column tiles
            for (size_t ti = 0; ti < N_OF(toks); ti++) {
                const int T = toks[ti];
                float *x = randv((size_t)T * e.cols, 1.0f), *y = malloc((size_t)T * e.rows * 4),
                      *ref = malloc(e.rows * 4), *g = malloc(e.rows * 4);
                for (int nt = 1; nt <= 2; nt++) {
                    omp_set_num_threads(nt);
                    cr_assert_eq(qins_cmat_matmul(&e.m, x, T, y), 0);
                    for (int t = 0; t < T; t++) {
                        qins_cmat_gemv_ref(&e.m, x + (size_t)t * e.cols, ref);
                        qins_cmat_gemv(&e.m, x + (size_t)t * e.cols, g);
                        const double rg = qins_cmat_worst_rel(&e.m, x + (size_t)t * e.cols, y + (size_t)t * e.rows, ref);
                        cr_assert_leq(rg, QINS_FUSED_REL_TOL, "k=%d gran %d T=%d token %d: gemm vs ref %g", ks[ki], gi,
                                      T, t, rg);
                        const double rv = qins_cmat_worst_rel(&e.m, x + (size_t)t * e.cols, y + (size_t)t * e.rows, g);
                        cr_assert_leq(rv, 2 * QINS_FUSED_REL_TOL, "gemm vs gemv %g", rv);
                    }
                }
                omp_set_num_threads(1);
                free(x), free(y), free(ref), free(g);
            }
            enc_free(&e);
        }
}

Test(fused_matmul, unsupported_cases_are_errors) {
    struct qins_codec_params p;
    qins_codec_params_default(&p);
    float w[64 * 8];
    for (int i = 0; i < 64 * 8; i++) w[i] = gauss();
    uint8_t buf[4096];
    struct qins_cmat m;
    static const char *bad[] = {"qinslog8", "int5", "nf3", "fp16", "fp32", "bf16", "int12"};
    for (size_t i = 0; i < N_OF(bad); i++) {
        qins_codec_params_default(&p);
        cr_assert_eq(qins_codec_parse(bad[i], &p), 0);
        const size_t n = qins_codec_encoded_bytes(&p, 8, 64);
        cr_assert_eq(qins_codec_encode(&p, w, 8, 64, buf, sizeof buf), 0);
        cr_assert_eq(qins_cmat_init(&m, &p, buf, n, 8, 64), QINS_ERR_UNSUPPORTED, "%s", bad[i]);
        cr_assert_not(qins_cmat_supported(&p));
    }
    qins_codec_params_default(&p);
    cr_assert_eq(qins_codec_parse("qins8", &p), 0);
    p.granularity = QINS_GRAN_PER_COLUMN;
    cr_assert_eq(qins_codec_encode(&p, w, 8, 64, buf, sizeof buf), 0);
    cr_assert_eq(qins_cmat_init(&m, &p, buf, qins_codec_encoded_bytes(&p, 8, 64), 8, 64), QINS_ERR_UNSUPPORTED);
    p.granularity = QINS_GRAN_PER_ROW;
    const size_t n = qins_codec_encoded_bytes(&p, 8, 64);
    cr_assert_eq(qins_codec_encode(&p, w, 8, 64, buf, sizeof buf), 0);
    cr_assert_eq(qins_cmat_init(&m, &p, buf, n - 1, 8, 64), QINS_ERR_FORMAT, "wrong length");
    buf[1] = 0x7c; // scale of row 0 -> +Inf
    cr_assert_eq(qins_cmat_init(&m, &p, buf, n, 8, 64), QINS_ERR_FORMAT, "Inf scale");
    cr_assert_eq(qins_hmat_init(NULL, &p, buf, n, 8, 64), QINS_ERR_ARG);
    p.granularity = QINS_GRAN_PER_COLUMN;
    struct qins_hmat h;
    cr_assert_eq(qins_hmat_init(&h, &p, buf, qins_codec_encoded_bytes(&p, 8, 64), 8, 64), QINS_ERR_UNSUPPORTED);
}

Test(fused_matmul, huffman_tiles_equal_the_packed_gemv) {
    static const int hshapes[][2] = {{300, 64}, {7, 172}, {5, 9000}, {130, 333}};
    for (size_t ci = 0; ci < N_OF(codecs); ci++)
        for (size_t ki = 0; ki < N_OF(ks); ki++)
            for (size_t si = 0; si < N_OF(hshapes); si++) {
                const struct qins_codec_params p = params(codecs[ci], ks[ki], (int)(si % 4));
                struct enc e;
                enc_make(&e, &p, hshapes[si][0], hshapes[si][1]);
                struct qins_hmat h;
                cr_assert_eq(qins_hmat_init(&h, &p, e.bytes, e.n_bytes, e.rows, e.cols), 0);
                cr_assert_leq((size_t)h.tile_rows * e.cols, QINS_HUFF_TILE_CODES > e.cols ? QINS_HUFF_TILE_CODES : e.cols);
                float *x = randv(e.cols, 1.0f), *ref = malloc(e.rows * 4), *y = malloc(e.rows * 4), *yp = malloc(e.rows * 4);
                qins_cmat_gemv_ref(&e.m, x, ref);
                for (int isa = 0; isa < n_isas(); isa++)
                    for (int nt = 1; nt <= 2; nt++) {
                        qins_matmul_set_isa((enum qins_isa)isa);
                        omp_set_num_threads(nt);
                        cr_assert_eq(qins_hmat_gemv(&h, x, y), 0);
                        qins_cmat_gemv_rows(&e.m, x, yp, 0, e.rows);
                        cr_assert_eq(memcmp(y, yp, e.rows * 4), 0, "huffman vs packed, codec %zu k=%d shape %zu isa %d",
                                     ci, ks[ki], si, isa);
                        cr_assert_leq(qins_cmat_worst_rel(&e.m, x, y, ref), QINS_FUSED_REL_TOL);
                    }
                qins_matmul_set_isa(QINS_ISA_AUTO);
                omp_set_num_threads(1);
                // a corrupt stream is an error, not a crash
                h.streams[h.offsets[0]] ^= 0xff;
                cr_assert_eq(qins_hmat_gemv(&h, x, y), QINS_ERR_FORMAT);
                free(x), free(ref), free(y), free(yp);
                qins_hmat_free(&h);
                enc_free(&e);
            }
}

// ---- the model: every slot fused vs the separate-ops slots, same greedy ids

static void greedy(struct qins_model *m, int32_t *ids, float *logits, int n_gen) {
    struct qins_kv_store *kv;
    struct qins_state *s;
    cr_assert_eq(qins_kv_store_fp32_init(m->hp.n_layer, 64, m->hp.n_head_kv * m->hp.head_dim, &kv), 0);
    cr_assert_eq(qins_state_init(m, 64, 64, kv, &s), 0);
    static const int32_t prompt[12] = {1, 403, 407, 261, 378, 432, 383, 286, 261, 376, 298, 315};
    int n = 0;
    cr_assert_eq(qins_generate_greedy(m, s, prompt, 12, n_gen, -1, ids, logits, &n), 0);
    cr_assert_eq(n, n_gen);
    qins_state_free(s);
    qins_kv_free(kv);
}

Test(fused_matmul, stories260k_fused_slots_give_the_separate_ops_greedy_ids) {
    char path[1200];
    cr_assert_eq(test_model_path("stories260K.gguf", path, sizeof path), 0,
                 "stories260K.gguf is needed (set QINS_MODELS to the folder holding it)");
    struct qins_model *m;
    cr_assert_eq(qins_model_load(path, &m), 0);
    static const char *specs[][2] = {{"qins8", "row"}, {"int4", "group32"}, {"nf6", "row"}, {"qins6", "group64"}};
    enum { N_GEN = 24 };
    const int V = m->hp.n_vocab;
    for (size_t i = 0; i < N_OF(specs); i++) {
        struct qins_codec_params p;
        qins_codec_params_default(&p);
        cr_assert_eq(qins_codec_parse(specs[i][0], &p), 0);
        cr_assert_eq(qins_codec_parse_granularity(specs[i][1], &p), 0);
        int32_t a[N_GEN], b[N_GEN];
        float *la = malloc((size_t)N_GEN * V * 4), *lb = malloc((size_t)N_GEN * V * 4);
        cr_assert_eq(qins_model_set_weight_codec(m, &p, QINS_SLOT_MASK_ALL, true), 0);
        const size_t stored_sep = qins_model_stored_weight_bytes(m);
        m->counters = (struct qins_counters){0};
        greedy(m, a, la, N_GEN);
        const struct qins_counters ca = m->counters;
        cr_assert_eq(qins_model_set_weight_codec_fused(m, &p, QINS_SLOT_MASK_ALL, true), 0);
        cr_assert_eq(qins_model_stored_weight_bytes(m), stored_sep, "%s: stored bytes", specs[i][0]);
        m->counters = (struct qins_counters){0};
        greedy(m, b, lb, N_GEN);
        const struct qins_counters cb = m->counters;
        for (int t = 0; t < N_GEN; t++) cr_assert_eq(a[t], b[t], "%s %s: step %d id", specs[i][0], specs[i][1], t);
        double worst = 0;
        for (size_t j = 0; j < (size_t)N_GEN * V; j++) worst = fmax(worst, fabs((double)la[j] - lb[j]));
        cr_assert_lt(worst, 1e-3, "%s: max |logit fused - separate| = %g", specs[i][0], worst);
        cr_assert_eq(ca.weight_bytes_read, cb.weight_bytes_read, "%s: weight bytes read", specs[i][0]);
        cr_assert_eq(ca.qins_decode_ops, cb.qins_decode_ops, "%s: decode ops", specs[i][0]);
        qins_model_reset_slots(m);
        free(la), free(lb);
    }
    // a codec the fused kernels do not take is one error line, and the slot keeps FP32
    struct qins_codec_params p;
    qins_codec_params_default(&p);
    cr_assert_eq(qins_codec_parse("qinslog8", &p), 0);
    cr_assert_eq(qins_slot_set_codec_fused(qins_model_slot(m, 0, 0), &p), QINS_ERR_UNSUPPORTED);
    cr_assert_null(qins_model_slot(m, 0, 0)->impl);
    qins_model_free(m);
}
