// tests/test_kv_paged.c — the paged codec KV store: round trips, the FP32 fill page, exact
// byte accounting, bit-identical logits through an fp32-coded store, spec errors, and corrupt
// pages (payload or header byte) failing the view and the forward pass with QINS_ERR_FORMAT.
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
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
    cr_assert_eq(st.page_code_bytes, page + 16, "one page = payload + the 16-byte KV header");
    float *want = malloc(P * KVD * 4);
    uint8_t *buf = malloc(page);
    for (int l = 0; l < LAYERS; l++) {
        const float *kv_k, *kv_v;
        cr_assert_eq(qins_kv_view(s, l, n, &kv_k, &kv_v), 0);
        for (int pg = 0; pg < full; pg++) { // decoded pages equal the codec's decode of the input
            for (int which = 0; which < 2; which++) {
                const float *in = (which ? v : k) + pg * P * KVD, *got = (which ? kv_v : kv_k) + pg * P * KVD;
                const struct qins_codec_params *cp = which ? &spec.v : &spec.k;
                cr_assert_eq(qins_codec_encode(cp, in, P, KVD, buf, page), 0);
                cr_assert_eq(qins_codec_decode(cp, buf, page, P, KVD, want), 0);
                cr_assert_eq(memcmp(want, got, P * KVD * 4), 0, "%s layer %d %c page %d", spec_text, l, "KV"[which],
                             pg);
                // the stored payload is the codec's bytes, framed by the 16-byte KV header
                const uint8_t *payload;
                size_t len;
                struct qins_codec_params sp;
                cr_assert_eq(qins_kv_paged_page(s, l, which, pg, &payload, &len, &sp), 0);
                cr_assert_eq(len, page);
                cr_assert_eq(memcmp(payload, buf, page), 0, "%s layer %d page %d payload", spec_text, l, pg);
                cr_assert_eq(memcmp(payload - QINS_PAGE_KV_HEADER_BYTES, "QK", 2), 0, "KV page magic");
            }
        }
        // the page being filled is exact FP32
        cr_assert_eq(memcmp(kv_k + full * P * KVD, k + full * P * KVD, (n - full * P) * KVD * 4), 0);
        cr_assert_eq(memcmp(kv_v + full * P * KVD, v + full * P * KVD, (n - full * P) * KVD * 4), 0);
        size_t kb, vb;
        cr_assert_eq(qins_kv_layer_bytes(s, l, &kb, &vb), 0);
        size_t expect = full * (page + QINS_PAGE_KV_HEADER_BYTES) + (size_t)(n - full * P) * KVD * 4;
        cr_assert_eq(kb, expect, "%s: K bytes %zu, expected %zu", spec_text, kb, expect);
        cr_assert_eq(vb, expect);
    }
    size_t total = LAYERS * 2 * (full * (page + QINS_PAGE_KV_HEADER_BYTES) + (size_t)(n - full * P) * KVD * 4);
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
    cr_assert_eq(b0, 2 * (16 * KVD * 2 + QINS_PAGE_KV_HEADER_BYTES), "first/last layer pages are fp16");
    cr_assert_lt(b1, b0, "the middle layer is 6-bit");
    free(k);
    qins_kv_free(s);
}

// ---- corrupt pages

struct captured {
    int n_errors;
    char first[1024];
};
static void capture(int level, const char *msg, void *user) {
    struct captured *c = user;
    if (level != QINS_LOG_ERROR) return;
    if (c->n_errors++ == 0) snprintf(c->first, sizeof c->first, "%s", msg);
}

// The byte `off` of stored page pg of layer's K (which 0) or V (1), header included: the store
// keeps each page's header right before the payload qins_kv_paged_page points at.
static uint8_t *page_byte(struct qins_kv_store *s, int layer, int which, int pg, size_t off) {
    const uint8_t *payload;
    size_t len;
    struct qins_codec_params p;
    cr_assert_eq(qins_kv_paged_page(s, layer, which, pg, &payload, &len, &p), 0);
    cr_assert_lt(off, QINS_PAGE_KV_HEADER_BYTES + len);
    return (uint8_t *)payload - QINS_PAGE_KV_HEADER_BYTES + off; // test only: reach into the store
}

Test(kv_paged, every_corrupt_byte_of_a_page_is_a_format_error_naming_the_page) {
    struct qins_kv_spec spec;
    cr_assert_eq(qins_kv_spec_parse("int8:page=16:gran=token", &spec), 0);
    struct qins_kv_store *s;
    cr_assert_eq(qins_kv_store_create(&spec, LAYERS, CTX, KVD, &s), 0);
    float *k = malloc(CTX * KVD * 4), *v = malloc(CTX * KVD * 4), *ref_k = malloc(CTX * KVD * 4),
          *ref_v = malloc(CTX * KVD * 4);
    fill_rows(k, CTX * KVD, 5), fill_rows(v, CTX * KVD, 6);
    const int n = 53;
    for (int l = 0; l < LAYERS; l++) cr_assert_eq(qins_kv_append(s, l, 0, n, k, v), 0);
    const float *vk, *vv;
    cr_assert_eq(qins_kv_view(s, 1, n, &vk, &vv), 0);
    memcpy(ref_k, vk, n * KVD * 4), memcpy(ref_v, vv, n * KVD * 4);
    const size_t page_len = QINS_PAGE_KV_HEADER_BYTES + qins_codec_encoded_bytes(&spec.v, 16, KVD);
    struct captured c;
    qins_log_set(capture, &c);
    for (size_t off = 0; off < page_len; off++) { // every header byte, then every payload byte
        uint8_t *b = page_byte(s, 1, 1, 2, off), saved = *b;
        *b ^= off % 2 ? 0x01 : 0x80; // one bit is enough
        memset(&c, 0, sizeof c);
        cr_assert_eq(qins_kv_view(s, 1, n, &vk, &vv), QINS_ERR_FORMAT, "byte %zu flipped", off);
        cr_assert_eq(c.n_errors, 1, "byte %zu: one error line, got %d", off, c.n_errors);
        cr_assert(strstr(c.first, "layer 1 V page 2"), "byte %zu: error names the page: %s", off, c.first);
        cr_assert(strstr(qins_last_error(), "layer 1 V page 2"), "qins_last_error: %s", qins_last_error());
        const uint8_t *payload;
        size_t len;
        struct qins_codec_params p;
        cr_assert_eq(qins_kv_paged_page(s, 1, 1, 2, &payload, &len, &p), QINS_ERR_FORMAT, "codes path checks too");
        cr_assert_eq(qins_kv_view(s, 0, n, &vk, &vv), 0, "other layers are intact");
        *b = saved;
    }
    qins_log_set(NULL, NULL);
    cr_assert_eq(qins_kv_view(s, 1, n, &vk, &vv), 0, "restored page reads again");
    cr_assert_eq(memcmp(vk, ref_k, n * KVD * 4), 0);
    cr_assert_eq(memcmp(vv, ref_v, n * KVD * 4), 0, "bit-identical after the round");
    free(k), free(v), free(ref_k), free(ref_v);
    qins_kv_free(s);
}

// Fills a paged store through the real model (20 prompt tokens), corrupts byte `off` of one
// page, and returns the status of the next token's forward pass; the log goes into *c.
static int forward_over_corrupt_page(struct qins_model *m, const char *spec_text, int layer, int which, int pg,
                                     size_t off, struct captured *c) {
    const int kvd = m->hp.n_head_kv * m->hp.head_dim;
    struct qins_kv_spec spec;
    cr_assert_eq(qins_kv_spec_parse(spec_text, &spec), 0);
    struct qins_kv_store *kv;
    struct qins_state *s;
    cr_assert_eq(qins_kv_store_create(&spec, m->hp.n_layer, 64, kvd, &kv), 0);
    cr_assert_eq(qins_state_init(m, 64, 20, kv, &s), 0);
    int32_t ids[21];
    for (int i = 0; i < 21; i++) ids[i] = 1 + (i * 37) % 500;
    cr_assert_eq(qins_forward(m, s, ids, 20, 0, false), 0, "clean pages: %s", qins_last_error());
    if (layer >= 0) *page_byte(kv, layer, which, pg, off) ^= 0x10;
    memset(c, 0, sizeof *c);
    qins_log_set(capture, c);
    int st = qins_forward(m, s, ids + 20, 1, 20, false);
    qins_log_set(NULL, NULL);
    qins_state_free(s), qins_kv_free(kv);
    return st;
}

Test(kv_paged, corrupt_page_fails_the_forward_pass) {
    char path[1200];
    if (test_model_path("stories260K.gguf", path, sizeof path)) return;
    struct qins_model *m;
    cr_assert_eq(qins_model_load(path, &m), 0);
    const int last = m->hp.n_layer - 1;
    struct captured c;
    cr_assert_eq(forward_over_corrupt_page(m, "qins8:alpha=2:gran=token:page=8", -1, 0, 0, 0, &c), 0);
    cr_assert_eq(c.n_errors, 0);
    // a payload byte (a code) of the last layer's V page 1
    int st = forward_over_corrupt_page(m, "qins8:alpha=2:gran=token:page=8", last, 1, 1, 40, &c);
    cr_assert_eq(st, QINS_ERR_FORMAT, "corrupt payload: status %d", st);
    char want[64];
    snprintf(want, sizeof want, "layer %d V page 1", last);
    cr_assert_eq(c.n_errors, 1, "one error line, got %d", c.n_errors);
    cr_assert(strstr(c.first, want) && strstr(c.first, "checksum"), "names %s: %s", want, c.first);
    // a header byte (the token count) of layer 0's K page 0
    st = forward_over_corrupt_page(m, "int6:gran=token:page=8", 0, 0, 0, 6, &c);
    cr_assert_eq(st, QINS_ERR_FORMAT, "corrupt header: status %d", st);
    cr_assert_eq(c.n_errors, 1);
    cr_assert(strstr(c.first, "layer 0 K page 0") && strstr(c.first, "int6"), "names the store and page: %s",
              c.first);
    qins_model_free(m);
}
