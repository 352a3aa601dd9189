// core/site_error.c — see site_error.h.
#include "site_error.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"

static void observe(void *user, int layer, enum qins_site site, const float *x, int n_tok, int dim) {
    struct qins_site_error *o = user;
    if (site != o->site || n_tok != 1 || dim != o->dim || layer >= o->n_layer) return;
    float *r = o->ref + ((size_t)o->pos * o->n_layer + layer) * o->dim;
    if (o->recording) {
        memcpy(r, x, (size_t)dim * sizeof *x);
        return;
    }
    double e2 = 0, r2 = 0;
    for (int i = 0; i < dim; i++) {
        if (!isfinite(x[i])) o->nonfinite++;
        double d = (double)x[i] - r[i];
        e2 += d * d;
        r2 += (double)r[i] * r[i];
    }
    o->err2[layer] += e2;
    o->ref2[layer] += r2;
}

int qins_site_error_init(struct qins_site_error *o, const struct qins_model *m, enum qins_site site, int dim, int n_tok) {
    memset(o, 0, sizeof *o);
    o->site = site, o->n_layer = m->hp.n_layer, o->dim = dim, o->n_tok = n_tok, o->recording = true;
    o->ref = malloc((size_t)n_tok * o->n_layer * dim * sizeof *o->ref);
    o->err2 = calloc((size_t)o->n_layer, sizeof *o->err2);
    o->ref2 = calloc((size_t)o->n_layer, sizeof *o->ref2);
    QINS_CHECK(o->ref && o->err2 && o->ref2, QINS_ERR_NOMEM, "out of memory for %d x %d rows of %s", n_tok, o->n_layer,
               qins_site_name(site));
    return 0;
}

void qins_site_error_free(struct qins_site_error *o) {
    free(o->ref), free(o->err2), free(o->ref2);
    memset(o, 0, sizeof *o);
}

int qins_site_error_run(struct qins_site_error *o, struct qins_model *m, const int32_t *ids,
                        const struct qins_kv_spec *spec, struct qins_kv_store **store) {
    const struct qins_hparams *hp = &m->hp;
    struct qins_kv_spec fp32;
    if (!spec) {
        QINS_TRY(qins_kv_spec_parse("fp32", &fp32));
        spec = &fp32;
    }
    memset(o->err2, 0, (size_t)o->n_layer * sizeof *o->err2);
    memset(o->ref2, 0, (size_t)o->n_layer * sizeof *o->ref2);
    o->nonfinite = 0;
    *store = NULL;
    struct qins_state *s = NULL;
    QINS_TRY(qins_kv_store_create(spec, hp->n_layer, o->n_tok, hp->n_head_kv * hp->head_dim, store));
    int st = qins_state_init(m, o->n_tok, 1, *store, &s);
    if (st == 0) st = qins_model_add_observer(m, observe, o);
    for (int p = 0; st == 0 && p < o->n_tok; p++) {
        o->pos = p;
        st = qins_forward(m, s, ids + p, 1, p, false);
    }
    qins_model_clear_observers(m);
    qins_state_free(s);
    if (st == 0 && o->recording) o->recording = false;
    return st;
}

double qins_site_error_result(const struct qins_site_error *o, double *per_layer) {
    double e2 = 0, r2 = 0;
    for (int l = 0; l < o->n_layer; l++) {
        if (per_layer) per_layer[l] = o->ref2[l] > 0 ? sqrt(o->err2[l] / o->ref2[l]) : 0;
        e2 += o->err2[l], r2 += o->ref2[l];
    }
    return r2 > 0 ? sqrt(e2 / r2) : 0;
}
