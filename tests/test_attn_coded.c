// tests/test_attn_coded.c — attention over coded KV pages (kernels/attn_coded.h) and the fused
// paged store: the _ref bit for bit equal to decode-the-page-then-FP32-_ref; AVX2 / AVX-512
// against both within a named tolerance over INT/NF/QINS × k 4/6/8 × page/token/group scales,
// odd page sizes, partial chunks, GQA; the paged rows (coded + fill) against today's view path;
// corrupt pages caught; thread-count independence and greedy ids on stories260K.
#include <criterion/criterion.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attn_coded.h"
#include "common.h"
#include "eval.h"
#include "helpers/shared_paths.h"
#include "kv_paged.h"
#include "model.h"

// Outputs are convex combinations of V rows: the error is relative to the largest |output|.
// The SIMD paths apply the scale once per dot / per softmax weight instead of to every value,
// sum in lanes and use the polynomial exp: a few ulp of float, far below this.
#define CODED_REL_TOL 1e-5
// End to end (stories260K, 24 tokens): logits of the fused path against the decode path,
// relative to the largest |logit| of the step.
#define CODED_LOGIT_REL_TOL 1e-4

static void fill_rows(float *x, size_t n, unsigned seed) {
    for (size_t i = 0; i < n; i++) {
        seed = seed * 1103515245u + 12345u;
        x[i] = ((float)((seed >> 8) & 0xffff) / 32768.0f - 1.0f) * (1.0f + (float)(i % 5));
    }
}

static double rel_err(const float *a, const float *b, size_t n) {
    double mx = 0, err = 0;
    for (size_t i = 0; i < n; i++) {
        cr_assert(isfinite(a[i]) && isfinite(b[i]), "output %zu not finite", i);
        mx = fmax(mx, fabs((double)b[i]));
        err = fmax(err, fabs((double)a[i] - b[i]));
    }
    return mx > 0 ? err / mx : err;
}

// A one-layer store of spec with n_pos random positions of kv_dim = n_kv*D values.
static struct qins_kv_store *make_store(const char *spec_text, int n_kv, int D, int n_pos) {
    struct qins_kv_spec spec;
    cr_assert_eq(qins_kv_spec_parse(spec_text, &spec), 0, "%s", spec_text);
    cr_assert(spec.fused);
    struct qins_kv_store *s;
    const int kvd = n_kv * D;
    cr_assert_eq(qins_kv_store_create(&spec, 1, n_pos > 64 ? n_pos : 64, kvd, &s), 0, "%s", spec_text);
    float *k = malloc((size_t)n_pos * kvd * 4), *v = malloc((size_t)n_pos * kvd * 4);
    fill_rows(k, (size_t)n_pos * kvd, 7u + (unsigned)n_pos), fill_rows(v, (size_t)n_pos * kvd, 11u + (unsigned)D);
    cr_assert_eq(qins_kv_append(s, 0, 0, n_pos, k, v), 0);
    free(k), free(v);
    return s;
}

typedef void coded_fn(const float *q, int n_kv, int G, const struct qins_attn_paged *kv, size_t row, size_t col,
                      int n, int D, float scale, float *scores, float *m, float *l, float *o);

// Every chunk of coded rows (starting at rows 0, 1, page-1, …, lengths 1 .. CHUNK) of every path
// against the decoded page through qins_attn_chunk_ref.
static void check_chunks(const char *spec_text, int n_kv_all, int G, int D, int n_pos) {
    struct qins_kv_store *s = make_store(spec_text, n_kv_all, D, n_pos);
    struct qins_attn_paged pg;
    cr_assert_eq(qins_kv_view_coded(s, 0, n_pos, &pg), 1, "%s: coded view", spec_text);
    const float *kd, *vd;
    cr_assert_eq(qins_kv_view(s, 0, n_pos, &kd, &vd), 0);
    const int heads_all = n_kv_all * G, kvd = n_kv_all * D;
    float *q = malloc((size_t)heads_all * D * 4);
    fill_rows(q, (size_t)heads_all * D, 3u);
    const size_t H = (size_t)heads_all;
    float *sc = malloc(H * QINS_ATTN_CHUNK * 4), *m0 = malloc(H * 4), *l0 = malloc(H * 4), *o0 = malloc(H * D * 4),
          *m1 = malloc(H * 4), *l1 = malloc(H * 4), *o1 = malloc(H * D * 4);
    const float scale = 1.0f / sqrtf((float)D);
    coded_fn *paths[3] = {qins_attn_coded_chunk_ref, qins_attn_have_avx2() ? qins_attn_coded_chunk_avx2 : NULL,
                          qins_attn_have_avx512() ? qins_attn_coded_chunk_avx512 : NULL};
    const char *names[3] = {"ref", "avx2", "avx512"};
    const int starts[] = {0, 1, pg.k.page_tokens - 1, pg.k.page_tokens + 3};
    for (int h0 = 0; h0 < n_kv_all; h0 += n_kv_all > 1 ? n_kv_all - 1 : 1) { // first head block, then the last head
        const int n_kv = h0 == 0 ? n_kv_all : 1;
        const size_t col = (size_t)h0 * D;
        const float *qb = q + (size_t)h0 * G * D;
        for (size_t si = 0; si < sizeof starts / sizeof *starts; si++) {
            const int row = starts[si];
            for (int n = 1; n <= QINS_ATTN_CHUNK && row + n <= pg.n_coded; n += n < 4 ? 1 : 7) {
                const struct qins_attn_kv dec = {kd + (size_t)row * kvd + col, vd + (size_t)row * kvd + col,
                                                 QINS_ATTN_F32, (size_t)kvd};
                qins_attn_chunk_ref(qb, n_kv, G, &dec, n, D, scale, sc, m0, l0, o0);
                for (int p = 0; p < 3; p++) {
                    if (!paths[p] || (p > 0 && !qins_attn_coded_simd_ok(&pg, col, D))) continue;
                    paths[p](qb, n_kv, G, &pg, (size_t)row, col, n, D, scale, sc, m1, l1, o1);
                    const size_t hn = (size_t)n_kv * G;
                    if (p == 0) {
                        cr_assert_eq(memcmp(o0, o1, hn * D * 4), 0, "%s ref: o bit for bit (row %d n %d)", spec_text,
                                     row, n);
                        cr_assert_eq(memcmp(m0, m1, hn * 4), 0, "%s ref: m", spec_text);
                        cr_assert_eq(memcmp(l0, l1, hn * 4), 0, "%s ref: l", spec_text);
                        continue;
                    }
                    // compare the finished outputs (o / l), and m itself
                    for (size_t i = 0; i < hn; i++) {
                        for (int d = 0; d < D; d++) o0[i * D + d] /= l0[i], o1[i * D + d] /= l1[i];
                        cr_assert_float_eq(m1[i], m0[i], 1e-5f * (1.0f + fabsf(m0[i])), "%s %s m", spec_text,
                                           names[p]);
                    }
                    const double e = rel_err(o1, o0, hn * D);
                    cr_assert_leq(e, CODED_REL_TOL, "%s %s: rel err %g (row %d n %d col %zu)", spec_text, names[p], e,
                                  row, n, col);
                    qins_attn_chunk_ref(qb, n_kv, G, &dec, n, D, scale, sc, m0, l0, o0); // undo the division
                }
            }
        }
    }
    free(q), free(sc), free(m0), free(l0), free(o0), free(m1), free(l1), free(o1);
    qins_kv_free(s);
}

static const char *const codecs[] = {"int4", "int6", "int8", "nf4", "nf6", "nf8", "qins4", "qins6", "qins8"};
static const char *const grans[] = {"token", "page", "group8", "group16", "group12"};

static void sweep(int n_kv, int G, int D, int page, int n_pos) {
    for (size_t c = 0; c < sizeof codecs / sizeof *codecs; c++)
        for (size_t g = 0; g < sizeof grans / sizeof *grans; g++) {
            char spec[128];
            snprintf(spec, sizeof spec, "%s:alpha=2:gran=%s:page=%d:fused", codecs[c], grans[g], page);
            check_chunks(spec, n_kv, G, D, n_pos);
        }
}

Test(attn_coded, stories260K_shape_pages_of_16) { sweep(4, 2, 8, 16, 80); }
Test(attn_coded, odd_pages_gqa3_d24) { sweep(2, 3, 24, 7, 61); }
Test(attn_coded, mha_d96_pages_of_5) { sweep(3, 1, 96, 5, 45); }
Test(attn_coded, gqa5_d20_pages_of_33) { sweep(2, 5, 20, 33, 70); }
// head dims whose slices start inside a byte of a 6-bit stream: the dispatcher runs the _ref
Test(attn_coded, unaligned_slices_take_the_ref) {
    check_chunks("int6:gran=token:page=9:fused", 3, 2, 7, 40);
    struct qins_kv_store *s = make_store("int6:gran=token:page=9:fused", 3, 7, 40);
    struct qins_attn_paged pg;
    cr_assert_eq(qins_kv_view_coded(s, 0, 40, &pg), 1);
    cr_assert_eq(qins_attn_coded_simd_ok(&pg, 7, 7), 0);
    qins_kv_free(s);
}

// The whole layer (coded pages + fill rows, a chunk straddling both, sliding starts) against
// qins_attn_rows over today's decoded view.
Test(attn_coded, paged_rows_match_the_decoded_view) {
    const char *specs[] = {"qins8:alpha=2:gran=token:page=16:fused", "nf6:gran=group12:page=7:fused",
                           "int4:gran=page:page=10:fused", "qins6:alpha=2:page=16:kcodec=int8:fused"};
    const int n_kv = 3, G = 2, D = 24, kvd = n_kv * D, H = n_kv * G;
    for (size_t si = 0; si < sizeof specs / sizeof *specs; si++)
        for (int n_pos = 1; n_pos <= 101; n_pos += 20) {
            struct qins_kv_store *s = make_store(specs[si], n_kv, D, n_pos);
            struct qins_attn_paged pg;
            cr_assert_eq(qins_kv_view_coded(s, 0, n_pos, &pg), 1, "%s", specs[si]);
            const float *kd, *vd;
            cr_assert_eq(qins_kv_view(s, 0, n_pos, &kd, &vd), 0);
            float *q = malloc((size_t)H * D * 4), *want = malloc((size_t)H * D * 4), *got = malloc((size_t)H * D * 4);
            float *scratch = malloc(qins_attn_scratch_floats(H, D) * 4);
            fill_rows(q, (size_t)H * D, 5u);
            for (int j0 = 0; j0 < n_pos; j0 += 13) {
                const struct qins_attn_kv dec = {kd + (size_t)j0 * kvd, vd + (size_t)j0 * kvd, QINS_ATTN_F32,
                                                 (size_t)kvd};
                qins_attn_rows(q, n_kv, G, &dec, n_pos - j0, D, 0.3f, scratch, want);
                qins_attn_paged_rows(q, n_kv, G, &pg, (size_t)j0, 0, n_pos - j0, D, 0.3f, scratch, got);
                const double e = rel_err(got, want, (size_t)H * D);
                cr_assert_leq(e, CODED_REL_TOL, "%s n_pos %d from %d: rel err %g", specs[si], n_pos, j0, e);
            }
            free(q), free(want), free(got), free(scratch);
            qins_kv_free(s);
        }
}

Test(attn_coded, spec_and_fallbacks) {
    struct qins_kv_spec spec;
    cr_assert_eq(qins_kv_spec_parse("qins8:fused=once", &spec), 0);
    cr_assert_eq(spec.fused, 2);
    cr_assert_eq(qins_kv_spec_parse("qins8", &spec), 0);
    cr_assert_eq(spec.fused, 0);
    cr_assert_lt(qins_kv_spec_parse("qins8:fused=sometimes", &spec), 0);
    // per-channel scales and float pages: no coded view, view() as before
    const char *fallback[] = {"int6:gran=channel:page=8:fused", "fp16:page=8:fused", "qinslog8:page=8:fused"};
    for (size_t i = 0; i < 3; i++) {
        struct qins_kv_store *s = make_store(fallback[i], 2, 8, 20);
        struct qins_attn_paged pg;
        cr_assert_eq(qins_kv_view_coded(s, 0, 20, &pg), 0, "%s", fallback[i]);
        qins_kv_free(s);
    }
    // an unfused store has no coded view at all
    cr_assert_eq(qins_kv_spec_parse("qins8:page=8", &spec), 0);
    struct qins_kv_store *s;
    cr_assert_eq(qins_kv_store_create(&spec, 1, 20, 16, &s), 0);
    cr_assert_null(s->vt->view_coded);
    qins_kv_free(s);
}

// Bytes counted as view() counts them; a corrupt page fails the read (every read, or the first
// under fused=once).
Test(attn_coded, bytes_and_corrupt_pages) {
    struct qins_kv_store *a = make_store("int8:gran=token:page=8:fused", 2, 8, 30),
                         *b = make_store("int8:gran=token:page=8:fused=once", 2, 8, 30);
    struct qins_attn_paged pg;
    const float *k, *v;
    const uint64_t r0 = a->bytes_read;
    cr_assert_eq(qins_kv_view(a, 0, 30, &k, &v), 0);
    const uint64_t by_view = a->bytes_read - r0;
    cr_assert_eq(qins_kv_view_coded(a, 0, 30, &pg), 1);
    cr_assert_eq(a->bytes_read - r0, 2 * by_view, "coded view counts the bytes view() counts");
    struct qins_kv_paged_stats st;
    qins_kv_paged_stats(a, &st);
    cr_assert_eq(st.pages_fused, 6);
    cr_assert_eq(qins_kv_view_coded(b, 0, 30, &pg), 1);
    for (int i = 0; i < 2; i++) {
        struct qins_kv_store *s = i ? b : a;
        const uint8_t *payload;
        size_t len;
        struct qins_codec_params p;
        cr_assert_eq(qins_kv_paged_page(s, 0, 1, 2, &payload, &len, &p), 0);
        ((uint8_t *)payload)[len - 1] ^= 0x10;
        const int rc = qins_kv_view_coded(s, 0, 30, &pg);
        if (i == 0) cr_assert_eq(rc, QINS_ERR_FORMAT, "fused: a corrupt page fails every read");
        else cr_assert_eq(rc, 1, "fused=once: page 2 was checked at the first read");
    }
    qins_kv_free(a), qins_kv_free(b);
}

// Chunk partials computed on two threads in any order and merged in chunk order (the decode
// split of core/forward.c) give the sequential driver's result bit for bit.
Test(attn_coded, split_over_threads_is_bit_identical) {
    const int n_kv = 2, G = 2, D = 16, H = n_kv * G, n_pos = 150;
    struct qins_kv_store *s = make_store("qins6:alpha=2:gran=token:page=16:fused", n_kv, D, n_pos);
    struct qins_attn_paged pg;
    cr_assert_eq(qins_kv_view_coded(s, 0, n_pos, &pg), 1);
    float *q = malloc((size_t)H * D * 4), *want = malloc((size_t)H * D * 4);
    fill_rows(q, (size_t)H * D, 9u);
    float *scratch = malloc(qins_attn_scratch_floats(H, D) * 4 * 2);
    qins_attn_paged_rows(q, n_kv, G, &pg, 0, 0, n_pos, D, 0.25f, scratch, want);
    const int n_chunks = (n_pos + QINS_ATTN_CHUNK - 1) / QINS_ATTN_CHUNK;
    float *po = malloc((size_t)n_chunks * H * D * 4), *pm = malloc((size_t)n_chunks * H * 4),
          *pl = malloc((size_t)n_chunks * H * 4);
#pragma omp parallel for schedule(static, 1) num_threads(2)
    for (int c = n_chunks - 1; c >= 0; c--) {
        float *sc = scratch + (size_t)omp_get_thread_num() * qins_attn_scratch_floats(H, D);
        const int j = c * QINS_ATTN_CHUNK, len = n_pos - j < QINS_ATTN_CHUNK ? n_pos - j : QINS_ATTN_CHUNK;
        qins_attn_paged_chunk(q, n_kv, G, &pg, (size_t)j, 0, len, D, 0.25f, sc, pm + (size_t)c * H, pl + (size_t)c * H,
                              po + (size_t)c * H * D, sc + (size_t)H * QINS_ATTN_CHUNK);
    }
    for (int c = 1; c < n_chunks; c++)
        qins_attn_merge(H, D, pm, pl, po, pm + (size_t)c * H, pl + (size_t)c * H, po + (size_t)c * H * D);
    qins_attn_finish(H, D, pl, po, po);
    cr_assert_eq(memcmp(po, want, (size_t)H * D * 4), 0, "split-K over threads = sequential, bit for bit");
    free(q), free(want), free(scratch), free(po), free(pm), free(pl);
    qins_kv_free(s);
}

// ---- end to end on stories260K

static void greedy(struct qins_model *m, const char *spec_text, int threads, int32_t *ids, float *logits) {
    struct qins_kv_spec spec;
    cr_assert_eq(qins_kv_spec_parse(spec_text, &spec), 0);
    struct qins_kv_store *kv;
    struct qins_state *st;
    cr_assert_eq(qins_kv_store_create(&spec, m->hp.n_layer, 64, m->hp.n_head_kv * m->hp.head_dim, &kv), 0);
    cr_assert_eq(qins_state_init(m, 64, 64, kv, &st), 0);
    const int32_t prompt[6] = {1, 403, 407, 261, 378, 259};
    int n = 0;
    omp_set_num_threads(threads);
    cr_assert_eq(qins_generate_greedy(m, st, prompt, 6, 24, -1, ids, logits, &n), 0, "%s", spec_text);
    omp_set_num_threads(omp_get_num_procs());
    cr_assert_eq(n, 24);
    struct qins_kv_paged_stats ps;
    qins_kv_paged_stats(kv, &ps);
    if (spec.fused) cr_assert(ps.pages_fused > 0 && ps.pages_decoded == 0, "%s: pages read coded", spec_text);
    qins_state_free(st), qins_kv_free(kv);
}

Test(attn_coded, stories260K_fused_greedy_ids_and_logits) {
    char path[1200];
    cr_assert_eq(test_model_path("stories260K.gguf", path, sizeof path), 0,
                 "stories260K.gguf not found: set QINS_MODELS=/work/shared/models");
    struct qins_model *m;
    cr_assert_eq(qins_model_load(path, &m), 0);
    const int V = m->hp.n_vocab;
    float *la = malloc((size_t)24 * V * 4), *lb = malloc((size_t)24 * V * 4), *lc = NULL;
    const char *specs[] = {"qins8:alpha=2:gran=token:page=16", "int6:gran=token:page=16", "nf8:gran=group16:page=7"};
    for (size_t i = 0; i < 3; i++) {
        char fused[96];
        snprintf(fused, sizeof fused, "%s:fused", specs[i]);
        int32_t ia[24], ib[24];
        greedy(m, specs[i], 2, ia, la);
        greedy(m, fused, 2, ib, lb);
        cr_assert_eq(memcmp(ia, ib, sizeof ia), 0, "%s: greedy ids fused = decode-every-page", specs[i]);
        for (int t = 0; t < 24; t++) {
            const double e = rel_err(lb + (size_t)t * V, la + (size_t)t * V, (size_t)V);
            cr_assert_leq(e, CODED_LOGIT_REL_TOL, "%s step %d: logits rel err %g", specs[i], t, e);
        }
    }
    free(la), free(lb), free(lc);
    qins_model_free(m);
}
