// core/hybrid.h — the greedy hybrid search of phase 5: from a set of layers in the QINS domain,
// return to FP32 the layer whose return lowers the KL divergence most, again and again, until the
// token match exceeds a target or every layer is FP32; the curve of the chosen configurations.
// Owns: the curve and the record of every configuration tried. Does not own: how a configuration
// is evaluated (the caller's function). Errors: the evaluator's negative status, or NOMEM/ARG.
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

// One evaluated configuration: the layers still in the QINS domain and what it measured.
struct qins_hybrid_point {
    uint64_t mask;                   // bit l = layer l in the QINS domain
    int n_qins;                      // layers in mask
    int returned;                    // the layer this step returned to FP32 (-1: the start)
    double token_match, top1_agreement, ppl, ppl_delta_pct, kld_mean, nonfinite_count;
    int tag;                         // the evaluator's own reference (e.g. its variant index)
};

// Evaluates the configuration pt->mask (the other fields are the evaluator's to fill; NaN for a
// configuration that blew up). Returns 0 or < 0 (stops the search).
typedef int (*qins_hybrid_eval_fn)(void *user, struct qins_hybrid_point *pt);

struct qins_hybrid {
    struct qins_hybrid_point *curve; // (n_curve) the start, then each step's chosen configuration
    size_t n_curve;
    struct qins_hybrid_point *tried; // (n_tried) every evaluation, in order (the curve's included)
    size_t n_tried;
    bool reached;                    // the last point's token_match > the target
};

// Searches from start (layers < n_layer, n_layer <= 64): evaluates it, then while its token match
// is not above target and layers remain, evaluates every configuration with one layer fewer and
// keeps the lowest kld_mean (NaN counts as +Inf; ties: the lower layer). At most
// n(n+1)/2 + 1 evaluations for n layers in start. Returns 0 or < 0 (h holds what was done).
int qins_hybrid_search(int n_layer, uint64_t start, double target, qins_hybrid_eval_fn eval, void *user,
                       struct qins_hybrid *h);
// Frees the curve and the record (NULL-safe). Returns nothing.
void qins_hybrid_free(struct qins_hybrid *h);
