// tests/test_stability.c — the lockstep stability loop (core/stability.h): against itself the
// variant is exact (KLD 0, agreement 1) and the stream is the baseline's greedy continuation;
// windows restart where the arithmetic says; a coded variant shows a positive KLD per block; a
// variant with a NaN weight is counted at every step and left out of the KLD; bad options fail.
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "common.h"
#include "eval.h"
#include "helpers/shared_paths.h"
#include "helpers/tiny_model.h"
#include "kv.h"
#include "kv_paged.h"
#include "model.h"
#include "slots.h"
#include "stability.h"

struct pair {
    struct qins_model *m[2];
    struct qins_state *s[2];
    struct qins_kv_store *kv[2];
};

static void open_pair(struct pair *p, const char *base, const char *var, int ctx) {
    qins_set_threads(1);
    const char *paths[2] = {base, var};
    for (int i = 0; i < 2; i++) {
        cr_assert_eq(qins_model_load(paths[i], &p->m[i]), 0, "%s", paths[i]);
        const struct qins_hparams *hp = &p->m[i]->hp;
        struct qins_kv_spec fp32;
        cr_assert_eq(qins_kv_spec_parse("fp32", &fp32), 0);
        cr_assert_eq(qins_kv_store_create(&fp32, hp->n_layer, ctx, hp->n_head_kv * hp->head_dim, &p->kv[i]), 0);
        cr_assert_eq(qins_state_init(p->m[i], ctx, ctx, p->kv[i], &p->s[i]), 0);
    }
}

static void close_pair(struct pair *p) {
    for (int i = 0; i < 2; i++) qins_state_free(p->s[i]), qins_kv_free(p->kv[i]), qins_model_free(p->m[i]);
}

static struct qins_stability_opts opts(int64_t n, int ctx, int keep, int block, int32_t *ids) {
    return (struct qins_stability_opts){.n_tokens = n, .ctx = ctx, .keep = keep, .block = block, .bos_id = 1,
                                        .ids_out = ids};
}

Test(stability, against_itself_exact_and_windows_restart_where_expected, .timeout = 120) {
    char model[1200];
    if (test_model_path("stories260K.gguf", model, sizeof model)) return;
    struct pair p;
    open_pair(&p, model, model, 128);
    const int32_t bos = 1;
    int32_t ids[600];
    struct qins_stability_opts o = opts(600, 128, 32, 200, ids);
    struct qins_stability_result r;
    cr_assert_eq(qins_stability_run(p.m[0], p.s[0], p.m[1], p.s[1], &bos, 1, &o, &r), 0);
    cr_assert_eq(r.kld_mean, 0.0);
    cr_assert_eq(r.top1_agreement, 1.0);
    cr_assert_eq(r.nonfinite_steps, 0);
    cr_assert_eq(r.n_blocks, 3);
    // the first window holds BOS + 127 steps; each later one BOS + 32 kept + 95 steps:
    // 600 = 127 + 5 * 95 - 2, so 6 windows
    cr_assert_eq(r.n_windows, 6, "windows %lld", (long long)r.n_windows);
    cr_assert_eq(r.kld_drift, 0.0);
    // the stream's first window is the baseline's plain greedy continuation
    int32_t want[127];
    int n = 0;
    cr_assert_eq(qins_generate_greedy(p.m[0], p.s[0], &bos, 1, 127, -1, want, NULL, &n), 0);
    cr_assert_eq(n, 127);
    for (int i = 0; i < 127; i++) cr_assert_eq(ids[i], want[i], "step %d", i);
    qins_stability_result_free(&r);
    close_pair(&p);
}

Test(stability, a_coded_variant_shows_kld_per_block, .timeout = 120) {
    char model[1200];
    if (test_model_path("stories260K.gguf", model, sizeof model)) return;
    struct pair p;
    open_pair(&p, model, model, 128);
    struct qins_codec_params c;
    qins_codec_params_default(&c);
    cr_assert_eq(qins_codec_parse("int4", &c), 0);
    c.granularity = QINS_GRAN_PER_ROW;
    cr_assert_eq(qins_model_set_weight_codec(p.m[1], &c, QINS_SLOT_MASK_ALL, true), 0);
    const int32_t bos = 1;
    struct qins_stability_opts o = opts(500, 128, 32, 100, NULL);
    struct qins_stability_result r;
    cr_assert_eq(qins_stability_run(p.m[0], p.s[0], p.m[1], p.s[1], &bos, 1, &o, &r), 0);
    cr_assert_gt(r.kld_mean, 1e-4, "int4 weights change the distributions (KLD %g)", r.kld_mean);
    cr_assert_lt(r.top1_agreement, 1.0);
    cr_assert_eq(r.nonfinite_steps, 0);
    cr_assert_eq(r.n_blocks, 5);
    double sum = 0;
    for (int b = 0; b < 5; b++) {
        cr_assert(isfinite(r.block_kld[b]) && r.block_kld[b] > 0, "block %d", b);
        sum += r.block_kld[b];
    }
    cr_assert_float_eq(sum / 5, r.kld_mean, 1e-9, "equal blocks: the block means average to the total");
    cr_assert_float_eq(r.kld_drift, r.block_kld[4] - r.block_kld[0], 1e-15);
    qins_stability_result_free(&r);
    qins_model_reset_slots(p.m[1]);
    close_pair(&p);
}

// A slot implementation whose output is NaN from the first element: the numerics a broken codec
// would produce at run time (the loader refuses NaN in a file, so it cannot come from there).
static int nan_impl(struct qins_linear *lin, const float *x, int n_tok, float *y) {
    (void)x;
    for (size_t i = 0; i < (size_t)n_tok * lin->n_out; i++) y[i] = NAN;
    return 0;
}

Test(stability, nan_in_the_variant_is_counted_at_every_step, .timeout = 120) {
    struct qins_random_model_spec spec = tiny_model_spec("llama");
    char base[1200];
    cr_assert_eq(tiny_model_write(&spec, base, sizeof base), 0);
    struct pair p;
    open_pair(&p, base, base, 64);
    struct qins_linear *down = qins_model_slot(p.m[1], 1, 6);
    down->impl = nan_impl;
    const int32_t bos = 1;
    struct qins_stability_opts o = opts(150, 64, 16, 50, NULL);
    struct qins_stability_result r;
    cr_assert_eq(qins_stability_run(p.m[0], p.s[0], p.m[1], p.s[1], &bos, 1, &o, &r), 0);
    cr_assert_eq(r.nonfinite_steps, 150);
    cr_assert_eq(r.base_nonfinite_steps, 0);
    cr_assert(isnan(r.kld_mean), "no finite step: the KLD mean is NaN, never a silent 0");
    for (int b = 0; b < 3; b++) cr_assert_eq(r.block_nonfinite[b], 50);
    qins_stability_result_free(&r);
    // bad options
    o.keep = 63;
    cr_assert_lt(qins_stability_run(p.m[0], p.s[0], p.m[1], p.s[1], &bos, 1, &o, &r), 0);
    o = opts(10, 128, 16, 5, NULL);
    cr_assert_lt(qins_stability_run(p.m[0], p.s[0], p.m[1], p.s[1], &bos, 1, &o, &r), 0, "window beyond the states");
    down->impl = NULL;
    close_pair(&p);
    tiny_model_remove(base);
}
