// core/site_error.h — the teacher-forced site-error observer: the first tokens of the eval
// text run one at a time (the decode path, through a KV store), one site of every layer
// observed; a reference run records the site's outputs, each later run accumulates the
// per-layer squared error against them. Owns: the reference rows and the sums. Does not own:
// the model or the store (made from a spec, handed back). Errors: negative qins_status, logged.
#pragma once
#include <stdbool.h>
#include <stdint.h>

#include "kv_paged.h"
#include "model.h"

struct qins_site_error {
    enum qins_site site;
    int n_layer, dim, n_tok, pos;
    bool recording;         // true until the reference run has been made
    float *ref;             // (n_tok, n_layer, dim) the reference outputs
    double *err2, *ref2;    // (n_layer) sums of squared error and squared reference
    int64_t nonfinite;      // non-finite outputs seen in the last compared run
};

// Prepares for n_tok tokens of site (dim values per token). Returns 0 or QINS_ERR_NOMEM.
int qins_site_error_init(struct qins_site_error *o, const struct qins_model *m, enum qins_site site, int dim, int n_tok);
void qins_site_error_free(struct qins_site_error *o);
// Runs ids[0..n_tok) through m with a store made from spec (NULL = FP32); the first call records
// the reference, every later call compares (sums reset first). *store receives the store (the
// caller frees it with qins_kv_free). Returns 0 or < 0.
int qins_site_error_run(struct qins_site_error *o, struct qins_model *m, const int32_t *ids,
                        const struct qins_kv_spec *spec, struct qins_kv_store **store);
// Relative L2 error of the last compared run: per layer (n_layer; 0 where the reference is 0)
// and over every layer. Returns the total.
double qins_site_error_result(const struct qins_site_error *o, double *per_layer);
