// core/slots.c — Pattern A slots: encoded weights, decoded per call into a shared scratch (the
// separate ops) or multiplied in place by the fused kernels.
#include "slots.h"

#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "fused_matmul.h"

struct codec_slot {
    struct qins_codec_params p;
    uint8_t *enc;
    size_t enc_bytes;
};

// One scratch shared by every codec slot of the process: slots run one at a time, and a
// per-slot FP32 copy would undo the memory saving being measured.
static float *scratch;
static size_t scratch_n;

static int ensure_scratch(size_t n) {
    if (n <= scratch_n) return 0;
    float *p = qins_alloc_aligned(n * sizeof(float));
    QINS_CHECK(p, QINS_ERR_NOMEM, "slots: out of memory for a %zu-float decode scratch", n);
    free(scratch);
    scratch = p;
    scratch_n = n;
    return 0;
}

static int codec_forward(struct qins_linear *lin, const float *x, int n_tok, float *y) {
    struct codec_slot *c = lin->impl_ctx;
    QINS_TRY(qins_codec_decode(&c->p, c->enc, c->enc_bytes, (size_t)lin->n_out, (size_t)lin->n_in, scratch));
    if (lin->counters) lin->counters->qins_decode_ops++;
    QINS_TRY(qins_matmul_f32(scratch, lin->n_out, lin->n_in, x, n_tok, y));
    // the encoded size is what this slot reads from weight storage
    if (lin->counters) lin->counters->weight_bytes_read += lin->w_stored_bytes;
    return 0;
}

int qins_slot_set_codec(struct qins_linear *lin, const struct qins_codec_params *p) {
    QINS_TRY(qins_codec_validate(p));
    qins_slot_reset(lin);
    const size_t rows = (size_t)lin->n_out, cols = (size_t)lin->n_in;
    const float *w;
    QINS_TRY(qins_linear_weights_f32(lin, &w));
    struct codec_slot *c = calloc(1, sizeof *c);
    QINS_CHECK(c, QINS_ERR_NOMEM, "slots: out of memory");
    c->p = *p;
    c->enc_bytes = qins_codec_encoded_bytes(p, rows, cols);
    c->enc = c->enc_bytes ? malloc(c->enc_bytes) : NULL;
    int st = c->enc ? ensure_scratch(rows * cols) : QINS_ERR_NOMEM;
    if (st == 0) st = qins_codec_encode(p, w, rows, cols, c->enc, c->enc_bytes);
    if (st < 0) {
        free(c->enc);
        free(c);
        qins_log(QINS_LOG_ERROR, "slots: cannot encode %s", lin->name);
        return st;
    }
    lin->impl = codec_forward;
    lin->impl_ctx = c;
    lin->w_stored_bytes = c->enc_bytes;
    return 0;
}

// ---- fused: the encoded bytes stay the slot's storage; the descriptor reads them in place

struct fused_slot {
    struct qins_codec_params p;
    uint8_t *enc;
    size_t enc_bytes;
    struct qins_cmat m;
};

static int fused_forward(struct qins_linear *lin, const float *x, int n_tok, float *y) {
    struct fused_slot *c = lin->impl_ctx;
    QINS_TRY(qins_cmat_matmul(&c->m, x, n_tok, y));
    if (lin->counters) { // as codec_forward: one decode (in registers now) and the encoded bytes
        lin->counters->qins_decode_ops++;
        lin->counters->weight_bytes_read += lin->w_stored_bytes;
    }
    return 0;
}

int qins_slot_set_codec_fused(struct qins_linear *lin, const struct qins_codec_params *p) {
    QINS_TRY(qins_codec_validate(p));
    char name[32], gran[32];
    QINS_CHECK(qins_cmat_supported(p), QINS_ERR_UNSUPPORTED, "slots: %s: no fused kernel for %s with %s scales",
               lin->name, qins_codec_name(p, name, sizeof name), qins_codec_granularity_name(p, gran, sizeof gran));
    qins_slot_reset(lin);
    const size_t rows = (size_t)lin->n_out, cols = (size_t)lin->n_in;
    const float *w;
    QINS_TRY(qins_linear_weights_f32(lin, &w));
    struct fused_slot *c = calloc(1, sizeof *c);
    QINS_CHECK(c, QINS_ERR_NOMEM, "slots: out of memory");
    c->p = *p;
    c->enc_bytes = qins_codec_encoded_bytes(p, rows, cols);
    c->enc = c->enc_bytes ? malloc(c->enc_bytes) : NULL;
    int st = c->enc ? qins_codec_encode(p, w, rows, cols, c->enc, c->enc_bytes) : QINS_ERR_NOMEM;
    if (st == 0) st = qins_cmat_init(&c->m, p, c->enc, c->enc_bytes, lin->n_out, lin->n_in);
    if (st < 0) {
        free(c->enc);
        free(c);
        qins_log(QINS_LOG_ERROR, "slots: cannot encode %s for the fused kernels", lin->name);
        return st;
    }
    lin->impl = fused_forward;
    lin->impl_ctx = c;
    lin->w_stored_bytes = c->enc_bytes;
    return 0;
}

void qins_slot_reset(struct qins_linear *lin) {
    if (lin->impl == fused_forward) {
        struct fused_slot *c = lin->impl_ctx;
        qins_cmat_free(&c->m);
        free(c->enc);
        free(c);
    } else if (lin->impl == codec_forward) {
        struct codec_slot *c = lin->impl_ctx;
        free(c->enc);
        free(c);
    } else {
        return;
    }
    lin->w_stored_bytes = qins_wmat_bytes(&lin->wm);
    lin->impl = NULL;
    lin->impl_ctx = NULL;
}

int qins_model_set_weight_codec(struct qins_model *m, const struct qins_codec_params *p, unsigned mask,
                                bool with_output) {
    for (int l = 0; l < m->hp.n_layer; l++)
        for (int i = 0; i < QINS_SLOTS_PER_LAYER; i++)
            if (mask & QINS_SLOT_BIT(i)) QINS_TRY(qins_slot_set_codec(qins_model_slot(m, l, i), p));
    if (with_output) QINS_TRY(qins_slot_set_codec(&m->output, p));
    return 0;
}

int qins_model_set_weight_codec_fused(struct qins_model *m, const struct qins_codec_params *p, unsigned mask,
                                      bool with_output) {
    for (int l = 0; l < m->hp.n_layer; l++)
        for (int i = 0; i < QINS_SLOTS_PER_LAYER; i++)
            if (mask & QINS_SLOT_BIT(i)) QINS_TRY(qins_slot_set_codec_fused(qins_model_slot(m, l, i), p));
    if (with_output) QINS_TRY(qins_slot_set_codec_fused(&m->output, p));
    return 0;
}

void qins_model_reset_slots(struct qins_model *m) {
    for (int l = 0; l < m->hp.n_layer; l++)
        for (int i = 0; i < QINS_SLOTS_PER_LAYER; i++) qins_slot_reset(qins_model_slot(m, l, i));
    qins_slot_reset(&m->output);
}

size_t qins_model_stored_weight_bytes(const struct qins_model *m) {
    size_t total = m->output.w_stored_bytes;
    for (int l = 0; l < m->hp.n_layer; l++)
        for (int i = 0; i < QINS_SLOTS_PER_LAYER; i++)
            total += qins_model_slot((struct qins_model *)m, l, i)->w_stored_bytes;
    return total;
}
