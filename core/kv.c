// core/kv.c — FP32 and FP16 KV stores behind the store interface.
#include "kv.h"

#include <stdlib.h>

#include "common.h"
#include "half.h"

// ---- FP32: one contiguous (n_layer, n_ctx, kv_dim) array per K and V

struct kv_fp32 {
    struct qins_kv_store base;
    float *k, *v; // (n_layer, n_ctx, kv_dim)
};

static int check_view(const struct qins_kv_store *s, int layer, int n_pos) {
    QINS_CHECK(layer >= 0 && layer < s->n_layer && n_pos >= 0 && n_pos <= s->n_ctx, QINS_ERR_RANGE,
               "kv store: view of layer %d, %d positions", layer, n_pos);
    return 0;
}

static int check_append(struct qins_kv_store *s, int layer, int pos, int n_tok) {
    QINS_CHECK(layer >= 0 && layer < s->n_layer, QINS_ERR_RANGE, "kv store: layer %d of %d", layer, s->n_layer);
    QINS_CHECK(pos >= 0 && n_tok >= 0 && pos + n_tok <= s->n_ctx, QINS_ERR_RANGE,
               "kv store: positions %d..%d exceed the context of %d tokens", pos, pos + n_tok - 1, s->n_ctx);
    if (layer == s->n_layer - 1) s->n_pos = pos + n_tok;
    return 0;
}

static int fp32_append(struct qins_kv_store *s, int layer, int pos, int n_tok, const float *k, const float *v) {
    QINS_TRY(check_append(s, layer, pos, n_tok));
    struct kv_fp32 *f = (struct kv_fp32 *)s;
    size_t off = ((size_t)layer * s->n_ctx + pos) * s->kv_dim, n = (size_t)n_tok * s->kv_dim;
    memcpy(f->k + off, k, n * sizeof(float));
    memcpy(f->v + off, v, n * sizeof(float));
    s->bytes_written += 2 * n * sizeof(float);
    return 0;
}

static int fp32_view(struct qins_kv_store *s, int layer, int n_pos, const float **k, const float **v) {
    QINS_TRY(check_view(s, layer, n_pos));
    struct kv_fp32 *f = (struct kv_fp32 *)s;
    size_t off = (size_t)layer * s->n_ctx * s->kv_dim;
    *k = f->k + off;
    *v = f->v + off;
    s->bytes_read += 2 * (size_t)n_pos * s->kv_dim * sizeof(float);
    return 0;
}

static void generic_clear(struct qins_kv_store *s) { s->n_pos = 0; }

static size_t fp32_bytes(const struct qins_kv_store *s) {
    return 2 * (size_t)s->n_layer * s->n_pos * s->kv_dim * sizeof(float);
}

static void fp32_free(struct qins_kv_store *s) {
    struct kv_fp32 *f = (struct kv_fp32 *)s;
    free(f->k);
    free(f->v);
    free(f);
}

static const struct qins_kv_store_vtable fp32_vt = {fp32_append, fp32_view, generic_clear, fp32_bytes, fp32_free};

static int check_dims(int n_layer, int n_ctx, int kv_dim) {
    QINS_CHECK(n_layer > 0 && n_ctx > 0 && kv_dim > 0, QINS_ERR_ARG, "kv store: bad dims (%d layers, %d ctx, %d kv_dim)",
               n_layer, n_ctx, kv_dim);
    return 0;
}

int qins_kv_store_fp32_init(int n_layer, int n_ctx, int kv_dim, struct qins_kv_store **out) {
    *out = NULL;
    QINS_TRY(check_dims(n_layer, n_ctx, kv_dim));
    struct kv_fp32 *f = calloc(1, sizeof *f);
    size_t n = (size_t)n_layer * n_ctx * kv_dim;
    if (f) {
        f->k = calloc(n, sizeof(float));
        f->v = calloc(n, sizeof(float));
    }
    if (!f || !f->k || !f->v) {
        if (f) fp32_free(&f->base);
        QINS_CHECK(0, QINS_ERR_NOMEM, "kv store: out of memory for %zu floats", 2 * n);
    }
    f->base = (struct qins_kv_store){&fp32_vt, "fp32", n_layer, n_ctx, kv_dim, 0, 0, 0};
    *out = &f->base;
    return 0;
}

// ---- FP16: binary16 storage, converted into a per-store scratch on view (attention reads the
// binary16 rows through view_native instead)

struct kv_fp16 {
    struct qins_kv_store base;
    uint16_t *k, *v;      // (n_layer, n_ctx, kv_dim)
    float *k_tmp, *v_tmp; // (n_ctx, kv_dim): one layer decoded at a time, allocated by the first view()
};

static int fp16_append(struct qins_kv_store *s, int layer, int pos, int n_tok, const float *k, const float *v) {
    QINS_TRY(check_append(s, layer, pos, n_tok));
    struct kv_fp16 *f = (struct kv_fp16 *)s;
    size_t off = ((size_t)layer * s->n_ctx + pos) * s->kv_dim, n = (size_t)n_tok * s->kv_dim;
    qins_f32_to_half(k, n, f->k + off);
    qins_f32_to_half(v, n, f->v + off);
    s->bytes_written += 2 * n * sizeof(uint16_t);
    return 0;
}

static int fp16_view(struct qins_kv_store *s, int layer, int n_pos, const float **k, const float **v) {
    QINS_TRY(check_view(s, layer, n_pos));
    struct kv_fp16 *f = (struct kv_fp16 *)s;
    if (!f->k_tmp) { // first FP32 view: forward passes read the binary16 rows (view_native)
        f->k_tmp = calloc((size_t)s->n_ctx * s->kv_dim, sizeof(float));
        f->v_tmp = calloc((size_t)s->n_ctx * s->kv_dim, sizeof(float));
        if (!f->k_tmp || !f->v_tmp) {
            free(f->k_tmp), free(f->v_tmp);
            f->k_tmp = f->v_tmp = NULL;
            QINS_CHECK(0, QINS_ERR_NOMEM, "kv store: out of memory for the FP32 view");
        }
    }
    size_t off = (size_t)layer * s->n_ctx * s->kv_dim, n = (size_t)n_pos * s->kv_dim;
    qins_half_to_f32(f->k + off, n, f->k_tmp);
    qins_half_to_f32(f->v + off, n, f->v_tmp);
    *k = f->k_tmp;
    *v = f->v_tmp;
    s->bytes_read += 2 * n * sizeof(uint16_t);
    return 0;
}

static int fp16_view_native(struct qins_kv_store *s, int layer, int n_pos, enum qins_kv_elem *type, const void **k,
                            const void **v) {
    QINS_TRY(check_view(s, layer, n_pos));
    struct kv_fp16 *f = (struct kv_fp16 *)s;
    size_t off = (size_t)layer * s->n_ctx * s->kv_dim;
    *type = QINS_KV_ELEM_F16, *k = f->k + off, *v = f->v + off;
    s->bytes_read += 2 * (size_t)n_pos * s->kv_dim * sizeof(uint16_t);
    return 0;
}

static size_t fp16_bytes(const struct qins_kv_store *s) {
    return 2 * (size_t)s->n_layer * s->n_pos * s->kv_dim * sizeof(uint16_t);
}

static void fp16_free(struct qins_kv_store *s) {
    struct kv_fp16 *f = (struct kv_fp16 *)s;
    free(f->k);
    free(f->v);
    free(f->k_tmp);
    free(f->v_tmp);
    free(f);
}

static const struct qins_kv_store_vtable fp16_vt = {fp16_append, fp16_view, generic_clear, fp16_bytes, fp16_free,
                                                   fp16_view_native};

int qins_kv_store_fp16_init(int n_layer, int n_ctx, int kv_dim, struct qins_kv_store **out) {
    *out = NULL;
    QINS_TRY(check_dims(n_layer, n_ctx, kv_dim));
    struct kv_fp16 *f = calloc(1, sizeof *f);
    size_t n = (size_t)n_layer * n_ctx * kv_dim;
    if (f) {
        f->k = calloc(n, 2);
        f->v = calloc(n, 2);
    }
    if (!f || !f->k || !f->v) {
        if (f) fp16_free(&f->base);
        QINS_CHECK(0, QINS_ERR_NOMEM, "kv store: out of memory");
    }
    f->base = (struct qins_kv_store){&fp16_vt, "fp16", n_layer, n_ctx, kv_dim, 0, 0, 0};
    *out = &f->base;
    return 0;
}
