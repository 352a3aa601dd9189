// core/kv_figures.h — the memory and page figures of a KV store that phases record: bytes held
// after a window, compression against FP32 and FP16 caches of the same dimensions, steady-state
// bytes per token, the peak at the run's longest context, page timings. Owns: the arithmetic
// (every header and scale byte counted, from the store and from the projection). Does not own
// the store. Errors: negative qins_status, logged.
#pragma once
#include <stddef.h>

#include "kv_paged.h"
#include "sweep.h"

#define QINS_KV_FIGURES_MAX 16

struct qins_kv_figures {
    struct qins_named_metric m[QINS_KV_FIGURES_MAX]; // kv_bytes_ctx, kv_compression_vs_fp32, …
    size_t n;
};

// Figures of store (made from spec, holding ctx positions of n_layer x kv_dim values) with the
// peak projected at `longest` positions. The live store's bytes must equal the projection from
// dimensions alone (QINS_ERR_STATE otherwise: the accounting would be wrong). Returns 0 or < 0.
int qins_kv_figures(const struct qins_kv_spec *spec, const struct qins_kv_store *store, int n_layer, int kv_dim,
                    int ctx, int longest, struct qins_kv_figures *out);

// "NAME:LAYERSxKV_HEADSxHEAD_DIM" (e.g. phi3.5-mini:32x32x96) → name, layers, kv_dim.
// Returns 0 or QINS_ERR_ARG (not logged: config checks report it).
int qins_kv_shape_parse(const char *item, char *name, size_t cap, int *n_layer, int *kv_dim);
// A config item check for such shapes (see qins_cfg_check_fn).
int qins_check_kv_shape_item(const char *item, char *why, size_t cap);

// Long-context projection from dimensions alone: for the baseline (FP32) and each variant of s
// that is not a sweep point, the bytes of its KV store at every context of ctxs (n_ctx) for each
// shape (the run's model, named model_name, then shapes): <name>/projected_bytes_<shape>_<ctx>
// (ctx as 4k, 32k, …) and the bar plot plot_name. Returns 0 or < 0.
int qins_kv_projection(struct qins_sweep *s, const char *model_name, const char *const *shapes, size_t n_shapes,
                       const int64_t *ctxs, size_t n_ctx, const char *plot_name);
