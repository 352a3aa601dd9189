// tests/test_hybrid.c — the greedy hybrid search on synthetic evaluators: it returns the layer
// whose return lowers the KLD most first, stops as soon as the token match passes the target
// (strictly), runs to all-FP32 when the target is never passed, counts its evaluations, and a
// NaN (blown-up) configuration is never preferred.
#include <criterion/criterion.h>
#include <math.h>

#include "common.h"
#include "hybrid.h"

// Each layer in the QINS domain adds its cost to the KLD and takes its share off the token match.
struct synth {
    double cost[8];
    int calls;
    uint64_t nan_mask; // configurations equal to this evaluate to NaN
};

static int synth_eval(void *user, struct qins_hybrid_point *pt) {
    struct synth *s = user;
    s->calls++;
    double k = 0;
    for (int l = 0; l < 8; l++)
        if (pt->mask >> l & 1) k += s->cost[l];
    pt->kld_mean = pt->mask == s->nan_mask ? NAN : k;
    pt->token_match = 1.0 - k;
    pt->tag = s->calls;
    return 0;
}

Test(hybrid, returns_the_costliest_layer_first_and_stops_past_the_target) {
    struct synth s = {{0.05, 0.30, 0.01, 0.10, 0.02}, 0, ~0ull};
    struct qins_hybrid h;
    cr_assert_eq(qins_hybrid_search(5, 0x1f, 0.85, synth_eval, &s, &h), 0);
    // start: 1 - 0.48 = 0.52; then layer 1 (0.30) -> 0.82; then layer 3 (0.10) -> 0.92 > 0.85: stop
    cr_assert_eq(h.n_curve, 3);
    cr_assert_eq(h.curve[0].returned, -1);
    cr_assert_eq(h.curve[0].n_qins, 5);
    cr_assert_eq(h.curve[1].returned, 1, "layer 1 costs most: returned first");
    cr_assert_eq(h.curve[2].returned, 3);
    cr_assert_eq(h.curve[2].mask, 0x1full & ~(1ull << 1) & ~(1ull << 3));
    cr_assert_float_eq(h.curve[2].token_match, 0.92, 1e-12);
    cr_assert(h.reached);
    cr_assert_eq(h.n_tried, 1 + 5 + 4, "the start, then every layer left at each step");
    cr_assert_eq((int)h.n_tried, s.calls);
    qins_hybrid_free(&h);
}

Test(hybrid, an_unreachable_target_runs_to_all_fp32) {
    struct synth s = {{0.05, 0.30, 0.01}, 0, ~0ull};
    struct qins_hybrid h;
    cr_assert_eq(qins_hybrid_search(3, 0x7, 1.0, synth_eval, &s, &h), 0);
    cr_assert_eq(h.n_curve, 4);
    cr_assert_eq(h.curve[3].mask, 0);
    cr_assert_eq(h.curve[3].n_qins, 0);
    cr_assert_eq(h.curve[3].token_match, 1.0, "every layer FP32: nothing transported");
    cr_assert_not(h.reached, "1.0 is not above 1.0");
    cr_assert_eq(h.n_tried, 1 + 3 + 2 + 1);
    qins_hybrid_free(&h);
}

Test(hybrid, a_target_met_at_the_start_evaluates_once) {
    struct synth s = {{0.01, 0.01}, 0, ~0ull};
    struct qins_hybrid h;
    cr_assert_eq(qins_hybrid_search(2, 0x3, 0.85, synth_eval, &s, &h), 0);
    cr_assert_eq(h.n_curve, 1);
    cr_assert_eq(s.calls, 1);
    cr_assert(h.reached);
    qins_hybrid_free(&h);
}

Test(hybrid, nan_is_never_preferred_and_bad_masks_are_refused) {
    // returning layer 0 leaves {1, 2}, which blows up: the search must take the finite layer 1 or 2
    struct synth s = {{0.30, 0.05, 0.01}, 0, 0x6};
    struct qins_hybrid h;
    cr_assert_eq(qins_hybrid_search(3, 0x7, 0.99, synth_eval, &s, &h), 0);
    cr_assert_neq(h.curve[1].mask, 0x6ull, "the NaN configuration was chosen");
    cr_assert(!isnan(h.curve[1].kld_mean));
    qins_hybrid_free(&h);
    cr_assert_eq(qins_hybrid_search(3, 0x8, 0.5, synth_eval, &s, &h), QINS_ERR_ARG, "layer 3 of a 3-layer model");
    qins_hybrid_free(&h);
}
