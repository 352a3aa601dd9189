// tests/test_slots.c — Pattern A slots: decoded weights equal the codec's decode, an fp32
// codec is bit-identical to the plain path, byte accounting, decode counters, reset.
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "helpers/shared_paths.h"
#include "model.h"
#include "slots.h"

static struct qins_model *load(void) {
    char path[1200];
    if (test_model_path("stories260K.gguf", path, sizeof path)) return NULL;
    struct qins_model *m;
    cr_assert_eq(qins_model_load(path, &m), 0);
    return m;
}

static float *logits(struct qins_model *m, int n) {
    struct qins_kv_store *kv;
    struct qins_state *s;
    cr_assert_eq(qins_kv_store_fp32_init(m->hp.n_layer, 32, m->hp.n_head_kv * m->hp.head_dim, &kv), 0);
    cr_assert_eq(qins_state_init(m, 32, 32, kv, &s), 0);
    int32_t tok[32];
    for (int i = 0; i < n; i++) tok[i] = (i * 31 + 1) % m->hp.n_vocab;
    cr_assert_eq(qins_forward(m, s, tok, n, 0, true), 0);
    float *out = malloc((size_t)n * m->hp.n_vocab * 4);
    memcpy(out, s->logits, (size_t)n * m->hp.n_vocab * 4);
    qins_state_free(s);
    qins_kv_free(kv);
    return out;
}

Test(slots, fp32_codec_is_bit_identical_and_reset_restores) {
    struct qins_model *m = load();
    const size_t n = 16 * (size_t)m->hp.n_vocab;
    float *a = logits(m, 16);
    struct qins_codec_params p;
    qins_codec_params_default(&p);
    cr_assert_eq(qins_codec_parse("fp32", &p), 0);
    cr_assert_eq(qins_model_set_weight_codec(m, &p, QINS_SLOT_MASK_ALL, true), 0);
    m->counters = (struct qins_counters){0};
    float *b = logits(m, 16);
    cr_assert_eq(memcmp(a, b, n * 4), 0);
    cr_assert_eq(m->counters.qins_decode_ops, (uint64_t)m->hp.n_layer * QINS_SLOTS_PER_LAYER + 1,
                 "one decode per slot per forward call");
    qins_model_reset_slots(m);
    float *c = logits(m, 16);
    cr_assert_eq(memcmp(a, c, n * 4), 0);
    free(a), free(b), free(c);
    qins_model_free(m);
}

Test(slots, int8_rows_change_logits_a_little_and_shrink_storage) {
    struct qins_model *m = load();
    const size_t n = 16 * (size_t)m->hp.n_vocab, before = qins_model_stored_weight_bytes(m);
    float *a = logits(m, 16);
    struct qins_codec_params p;
    qins_codec_params_default(&p);
    cr_assert_eq(qins_codec_parse("int8", &p), 0);
    p.granularity = QINS_GRAN_PER_ROW;
    cr_assert_eq(qins_model_set_weight_codec(m, &p, QINS_SLOT_MASK_ALL, false), 0);
    float *b = logits(m, 16);
    double num = 0, den = 0;
    for (size_t i = 0; i < n; i++) num += (a[i] - b[i]) * (double)(a[i] - b[i]), den += (double)a[i] * a[i];
    cr_assert_gt(num, 0.0, "int8 must perturb the logits");
    cr_assert_lt(sqrt(num / den), 0.05, "int8 per-row weights: relative logit error %g", sqrt(num / den));
    size_t after = qins_model_stored_weight_bytes(m);
    size_t expect = m->output.w_stored_bytes;
    for (int l = 0; l < m->hp.n_layer; l++)
        for (int i = 0; i < QINS_SLOTS_PER_LAYER; i++) {
            struct qins_linear *lin = qins_model_slot(m, l, i);
            expect += qins_codec_encoded_bytes(&p, lin->n_out, lin->n_in);
        }
    cr_assert_eq(after, expect, "stored bytes are the codec's encoded sizes");
    cr_assert_lt(after, before);
    free(a), free(b);
    qins_model_free(m);
}
