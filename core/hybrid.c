// core/hybrid.c — see hybrid.h.
#include "hybrid.h"

#include <math.h>
#include <stdlib.h>

#include "common.h"

static int append(struct qins_hybrid_point **v, size_t *n, const struct qins_hybrid_point *p) {
    struct qins_hybrid_point *g = realloc(*v, (*n + 1) * sizeof **v);
    QINS_CHECK(g, QINS_ERR_NOMEM, "hybrid search: out of memory");
    *v = g;
    g[(*n)++] = *p;
    return 0;
}

static int popcount64(uint64_t m) {
    int n = 0;
    for (; m; m &= m - 1) n++;
    return n;
}

// Evaluates mask (returned: the layer just returned to FP32) and records it as tried.
static int evaluate(int returned, uint64_t mask, qins_hybrid_eval_fn eval, void *user, struct qins_hybrid *h,
                    struct qins_hybrid_point *out) {
    *out = (struct qins_hybrid_point){.mask = mask, .n_qins = popcount64(mask), .returned = returned, .tag = -1};
    out->token_match = out->top1_agreement = out->ppl = out->ppl_delta_pct = out->kld_mean = out->nonfinite_count = NAN;
    QINS_TRY(eval(user, out));
    out->mask = mask, out->n_qins = popcount64(mask), out->returned = returned;
    return append(&h->tried, &h->n_tried, out);
}

int qins_hybrid_search(int n_layer, uint64_t start, double target, qins_hybrid_eval_fn eval, void *user,
                       struct qins_hybrid *h) {
    *h = (struct qins_hybrid){0};
    QINS_CHECK(n_layer > 0 && n_layer <= 64 && (n_layer == 64 || start >> n_layer == 0), QINS_ERR_ARG,
               "hybrid search: %d layers, start mask %llx", n_layer, (unsigned long long)start);
    struct qins_hybrid_point cur;
    QINS_TRY(evaluate(-1, start, eval, user, h, &cur));
    QINS_TRY(append(&h->curve, &h->n_curve, &cur));
    // "> target": a configuration at the target exactly has not passed it (the gate's comparison).
    while (!(cur.token_match > target) && cur.mask) {
        struct qins_hybrid_point best = {0}, pt;
        bool have = false;
        for (int l = 0; l < n_layer; l++) {
            if (!(cur.mask >> l & 1)) continue;
            QINS_TRY(evaluate(l, cur.mask & ~(1ull << l), eval, user, h, &pt));
            const double k = isnan(pt.kld_mean) ? INFINITY : pt.kld_mean, kb = isnan(best.kld_mean) ? INFINITY : best.kld_mean;
            if (!have || k < kb) best = pt, have = true; // strict: ties keep the lower layer
        }
        cur = best;
        QINS_TRY(append(&h->curve, &h->n_curve, &cur));
    }
    h->reached = cur.token_match > target;
    return 0;
}

void qins_hybrid_free(struct qins_hybrid *h) {
    if (!h) return;
    free(h->curve), free(h->tried);
    *h = (struct qins_hybrid){0};
}
