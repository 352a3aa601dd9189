// tests/test_kv_paged.c — the paged codec KV store: round trips, the FP32 fill page, exact
// byte accounting, bit-identical logits through an fp32-coded store, spec errors.
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "common.h"
#include "eval.h"
#include "helpers/shared_paths.h"
#include "kv_paged.h"
#include "model.h"

enum { LAYERS = 3, CTX = 70, KVD = 24 };

static void fill_rows(float *x, int n, unsigned seed) {
    for (int i = 0; i < n; i++) {
        seed = seed * 1103515245u + 12345u;
        x[i] = ((float)((seed >> 8) & 0xffff) / 32768.0f - 1.0f) * (1.0f + (i % 7));
    }
}

static void round_trip(const char *spec_text) {
    struct qins_kv_spec spec;
    cr_assert_eq(qins_kv_spec_parse(spec_text, &spec), 0, "%s", spec_text);
    struct qins_kv_store *s;
    cr_assert_eq(qins_kv_store_create(&spec, LAYERS, CTX, KVD, &s), 0, "%s", spec_text);
    float *k = malloc(CTX * KVD * 4), *v = malloc(CTX * KVD * 4);
    fill_rows(k, CTX * KVD, 1), fill_rows(v, CTX * KVD, 2);
    const int n = 53; // 3 full pages of 16 + 5 tokens in the fill page
    for (int l = 0; l < LAYERS; l++) {
        cr_assert_eq(qins_kv_append(s, l, 0, 20, k, v), 0);
        cr_assert_eq(qins_kv_append(s, l, 20, n - 20, k + 20 * KVD, v + 20 * KVD), 0);
    }
    struct qins_kv_paged_stats st;
    cr_assert_eq(qins_kv_paged_stats(s, &st), 1);
    const int P = st.page_tokens, full = n / P;
    size_t page = qins_codec_encoded_bytes(&spec.k, P, KVD);
    float *want = malloc(P * KVD * 4);
    uint8_t *buf = malloc(page);
    for (int l = 0; l < LAYERS; l++) {
        const float *kv_k, *kv_v;
        cr_assert_eq(qins_kv_view(s, l, n, &kv_k, &kv_v), 0);
        for (int pg = 0; pg < full; pg++) { // decoded pages equal the codec's decode of the input
            cr_assert_eq(qins_codec_encode(&spec.k, k + pg * P * KVD, P, KVD, buf, page), 0);
            cr_assert_eq(qins_codec_decode(&spec.k, buf, page, P, KVD, want), 0);
            cr_assert_eq(memcmp(want, kv_k + pg * P * KVD, P * KVD * 4), 0, "%s layer %d page %d", spec_text, l, pg);
        }
        // the page being filled is exact FP32
        cr_assert_eq(memcmp(kv_k + full * P * KVD, k + full * P * KVD, (n - full * P) * KVD * 4), 0);
        cr_assert_eq(memcmp(kv_v + full * P * KVD, v + full * P * KVD, (n - full * P) * KVD * 4), 0);
        size_t kb, vb;
        cr_assert_eq(qins_kv_layer_bytes(s, l, &kb, &vb), 0);
        size_t expect = full * (page + QINS_KV_PAGE_HEADER_BYTES) + (size_t)(n - full * P) * KVD * 4;
        cr_assert_eq(kb, expect, "%s: K bytes %zu, expected %zu", spec_text, kb, expect);
        cr_assert_eq(vb, expect);
    }
    size_t total = LAYERS * 2 * (full * (page + QINS_KV_PAGE_HEADER_BYTES) + (size_t)(n - full * P) * KVD * 4);
    cr_assert_eq(qins_kv_stored_bytes(s), total, "memory accounting equals the stored buffers");
    double projected;
    cr_assert_eq(qins_kv_projected_bytes(&spec, LAYERS, KVD, n, &projected), 0);
    cr_assert_eq((size_t)projected, total, "the projection from dimensions agrees with the store");
    free(want), free(buf), free(k), free(v);
    qins_kv_free(s);
}

Test(kv_paged, round_trip_qins8) { round_trip("qins8:page=16"); }
Test(kv_paged, round_trip_qins6_alpha_group) { round_trip("qins6:page=16:alpha=4:gran=group8"); }
Test(kv_paged, round_trip_int8_per_token) { round_trip("int8:page=16:gran=token"); }
Test(kv_paged, round_trip_int6_per_channel) { round_trip("int6:page=16:gran=channel"); }
Test(kv_paged, round_trip_nf6_per_page) { round_trip("nf6:page=16:gran=page"); }
Test(kv_paged, round_trip_qinslog8) { round_trip("qinslog8:page=16"); }
Test(kv_paged, round_trip_fp16_paged) { round_trip("fp16:page=16"); }

Test(kv_paged, fp32_coded_store_gives_bit_identical_logits) {
    char path[1200];
    if (test_model_path("stories260K.gguf", path, sizeof path)) return;
    struct qins_model *m;
    cr_assert_eq(qins_model_load(path, &m), 0);
    const int kvd = m->hp.n_head_kv * m->hp.head_dim, V = m->hp.n_vocab;
    struct qins_kv_spec plain, paged;
    cr_assert_eq(qins_kv_spec_parse("fp32", &plain), 0);
    cr_assert_eq(qins_kv_spec_parse("fp32:page=8", &paged), 0);
    cr_assert(plain.plain && !paged.plain);
    struct qins_kv_store *a, *b;
    struct qins_state *sa, *sb;
    cr_assert_eq(qins_kv_store_create(&plain, m->hp.n_layer, 64, kvd, &a), 0);
    cr_assert_eq(qins_kv_store_create(&paged, m->hp.n_layer, 64, kvd, &b), 0);
    cr_assert_eq(qins_state_init(m, 64, 64, a, &sa), 0);
    cr_assert_eq(qins_state_init(m, 64, 64, b, &sb), 0);
    int32_t prompt[5] = {1, 403, 407, 261, 378}, ga[40], gb[40];
    float *la = malloc(40 * V * 4), *lb = malloc(40 * V * 4);
    int na = 0, nb = 0;
    cr_assert_eq(qins_generate_greedy(m, sa, prompt, 5, 40, -1, ga, la, &na), 0);
    cr_assert_eq(qins_generate_greedy(m, sb, prompt, 5, 40, -1, gb, lb, &nb), 0);
    cr_assert_eq(na, 40);
    cr_assert_eq(nb, 40);
    cr_assert_eq(memcmp(la, lb, 40 * V * 4), 0, "logits through an fp32 paged store must be bit-identical");
    cr_assert_eq(memcmp(ga, gb, sizeof ga), 0);
    struct qins_kv_paged_stats st;
    cr_assert_eq(qins_kv_paged_stats(b, &st), 1);
    cr_assert_gt(st.pages_decoded, 0, "pages were actually used");
    free(la), free(lb);
    qins_state_free(sa), qins_state_free(sb), qins_kv_free(a), qins_kv_free(b);
    qins_model_free(m);
}

Test(kv_paged, bad_specs_are_errors) {
    struct qins_kv_spec spec;
    cr_assert_lt(qins_kv_spec_parse("qins13", &spec), 0, "k out of range");
    cr_assert_lt(qins_kv_spec_parse("qins1", &spec), 0, "k out of range");
    cr_assert_lt(qins_kv_spec_parse("zstd8", &spec), 0, "unknown codec");
    cr_assert_lt(qins_kv_spec_parse("qins8:page=0", &spec), 0, "empty page");
    cr_assert_lt(qins_kv_spec_parse("qins8:colour=red", &spec), 0, "unknown option");
    cr_assert_lt(qins_kv_spec_parse("qins8:alpha", &spec), 0, "option without value");
    cr_assert_lt(qins_kv_spec_parse("qins8:gran=diagonal", &spec), 0, "bad granularity");
    cr_assert_eq(qins_kv_spec_parse("qins8:page_bytes=16", &spec), 0);
    struct qins_kv_store *s;
    cr_assert_lt(qins_kv_store_create(&spec, LAYERS, CTX, KVD, &s), 0, "page smaller than one token");
    cr_assert_eq(qins_kv_spec_parse("qins8:page=100", &spec), 0);
    cr_assert_lt(qins_kv_store_create(&spec, LAYERS, CTX, KVD, &s), 0, "page longer than the context");
}

Test(kv_paged, kept_layers_use_the_override_codec) {
    struct qins_kv_spec spec;
    cr_assert_eq(qins_kv_spec_parse("qins6:page=16:keep=0,-1", &spec), 0);
    struct qins_kv_store *s;
    cr_assert_eq(qins_kv_store_create(&spec, LAYERS, CTX, KVD, &s), 0);
    float *k = malloc(CTX * KVD * 4);
    fill_rows(k, CTX * KVD, 3);
    for (int l = 0; l < LAYERS; l++) cr_assert_eq(qins_kv_append(s, l, 0, 32, k, k), 0);
    size_t b0, b1, b2, v;
    qins_kv_layer_bytes(s, 0, &b0, &v), qins_kv_layer_bytes(s, 1, &b1, &v), qins_kv_layer_bytes(s, 2, &b2, &v);
    cr_assert_eq(b0, b2);
    cr_assert_eq(b0, 2 * (16 * KVD * 2 + QINS_KV_PAGE_HEADER_BYTES), "first/last layer pages are fp16");
    cr_assert_lt(b1, b0, "the middle layer is 6-bit");
    free(k);
    qins_kv_free(s);
}
