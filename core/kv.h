// core/kv.h — the KV-cache store interface and the two plain stores (FP32, FP16).
// Owns: where keys/values live between forward calls and how attention reads them back.
// Does not own: attention math (core/forward.c) or codecs (paged codec stores implement this
// same interface elsewhere). Errors are negative qins_status values.
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "attn_coded.h"

struct qins_kv_store;

// Element type of the rows a view returns (kernels/attn.h reads both).
enum qins_kv_elem { QINS_KV_ELEM_F32, QINS_KV_ELEM_F16 };

struct qins_kv_store_vtable {
    // Stores n_tok rows of K and V (each (n_tok, kv_dim), K already rotated) at positions
    // pos .. pos+n_tok-1 of layer. Positions arrive in order; pos may restart at 0 after clear.
    int (*append)(struct qins_kv_store *s, int layer, int pos, int n_tok, const float *k, const float *v);
    // Makes positions 0 .. n_pos-1 of layer readable as FP32 (n_pos, kv_dim) arrays. The pointers
    // stay valid until the next call on the store.
    int (*view)(struct qins_kv_store *s, int layer, int n_pos, const float **k, const float **v);
    // Forgets every position (start of a new sequence).
    void (*clear)(struct qins_kv_store *s);
    // Bytes the store holds for the positions written so far (codes + scales + headers + the
    // FP32 page being filled), all layers.
    size_t (*stored_bytes)(const struct qins_kv_store *s);
    void (*free)(struct qins_kv_store *s);
    // Optional (NULL: view() is used). Like view(), but in the element type the store keeps,
    // without converting: *type says which; counts the stored bytes in bytes_read the same way.
    // For stores whose rows are plain arrays of a type attention reads directly (FP16).
    int (*view_native)(struct qins_kv_store *s, int layer, int n_pos, enum qins_kv_elem *type, const void **k,
                       const void **v);
    // Optional (NULL: never). Makes positions 0 .. n_pos-1 of layer readable by the coded-page
    // kernels of kernels/attn_coded.h without decoding (pages verified as view() verifies them,
    // bytes counted alike); the pointers stay valid until the next call on the store. Returns 1
    // when *out was filled, 0 when this layer's pages need view() (codec the kernels do not
    // take), < 0 on error.
    int (*view_coded)(struct qins_kv_store *s, int layer, int n_pos, struct qins_attn_paged *out);
};

struct qins_kv_store {
    const struct qins_kv_store_vtable *vt;
    const char *name;  // "fp32", "fp16", "qins8", …
    int n_layer;
    int n_ctx;         // positions per layer
    int kv_dim;        // n_head_kv * head_dim
    int n_pos;         // positions written so far (same for every layer after a full forward)
    uint64_t bytes_read;    // counter: stored bytes read by view()
    uint64_t bytes_written; // counter: stored bytes written by append()
};

// Creates an FP32 store: view() returns pointers into the store itself (no copy).
int qins_kv_store_fp32_init(int n_layer, int n_ctx, int kv_dim, struct qins_kv_store **out);
// Creates an FP16 store: append rounds to binary16, view() converts into a scratch buffer,
// view_native() returns the binary16 arrays themselves.
int qins_kv_store_fp16_init(int n_layer, int n_ctx, int kv_dim, struct qins_kv_store **out);

// Convenience wrappers (NULL-safe free).
static inline int qins_kv_append(struct qins_kv_store *s, int layer, int pos, int n_tok, const float *k, const float *v) {
    return s->vt->append(s, layer, pos, n_tok, k, v);
}
static inline int qins_kv_view(struct qins_kv_store *s, int layer, int n_pos, const float **k, const float **v) {
    return s->vt->view(s, layer, n_pos, k, v);
}
// Rows of layer in the store's own type when it has one attention reads directly, else the
// FP32 view (*type QINS_KV_ELEM_F32). Returns view()'s status.
static inline int qins_kv_view_native(struct qins_kv_store *s, int layer, int n_pos, enum qins_kv_elem *type,
                                      const void **k, const void **v) {
    if (s->vt->view_native) return s->vt->view_native(s, layer, n_pos, type, k, v);
    const float *kf, *vf;
    int rc = s->vt->view(s, layer, n_pos, &kf, &vf);
    *type = QINS_KV_ELEM_F32, *k = kf, *v = vf;
    return rc;
}
// The coded view where the store has one for this layer (1), else 0: read with view_native.
static inline int qins_kv_view_coded(struct qins_kv_store *s, int layer, int n_pos, struct qins_attn_paged *out) {
    return s->vt->view_coded ? s->vt->view_coded(s, layer, n_pos, out) : 0;
}
static inline void qins_kv_clear(struct qins_kv_store *s) { s->vt->clear(s); }
static inline size_t qins_kv_stored_bytes(const struct qins_kv_store *s) { return s->vt->stored_bytes(s); }
static inline void qins_kv_free(struct qins_kv_store *s) {
    if (s) s->vt->free(s);
}
