// core/decode_bench.c — decode steps timed at a filled context (core/decode_bench.h).
#include "decode_bench.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "kv.h"
#include "kv_paged.h"
#include "util.h"

// N(0, 1) from a 64-bit state (xorshift64* + Box-Muller): deterministic per seed, no globals.
static double normal(uint64_t *s) {
    double u[2];
    for (int i = 0; i < 2; i++) {
        *s ^= *s >> 12, *s ^= *s << 25, *s ^= *s >> 27;
        u[i] = ((double)((*s * 0x2545F4914F6CDD1DULL) >> 11) + 1.0) * 0x1.0p-53;
    }
    return sqrt(-2.0 * log(u[0])) * cos(6.283185307179586 * u[1]);
}

// Appends positions 0..ctx-1 to every layer, 64 rows at a time.
static int fill(struct qins_kv_store *kv, int n_layer, int ctx, int kv_dim, uint64_t seed) {
    enum { CHUNK = 64 };
    float *k = malloc(sizeof(float) * CHUNK * (size_t)kv_dim), *v = malloc(sizeof(float) * CHUNK * (size_t)kv_dim);
    int st = k && v ? 0 : QINS_ERR_NOMEM;
    uint64_t s = seed | 1;
    for (int l = 0; l < n_layer && st == 0; l++)
        for (int p = 0; p < ctx && st == 0; p += CHUNK) {
            const int n = ctx - p < CHUNK ? ctx - p : CHUNK;
            for (size_t i = 0; i < (size_t)n * kv_dim; i++) k[i] = (float)normal(&s), v[i] = (float)normal(&s);
            st = qins_kv_append(kv, l, p, n, k, v);
        }
    free(k);
    free(v);
    QINS_CHECK(st == 0, st, "decode bench: filling the KV store to %d positions failed", ctx);
    return 0;
}

struct slot {
    struct qins_kv_store *kv;
    struct qins_state *st;
    int pos;
    double *t;      // (reps * steps) step times
    int n_t;
    uint64_t bytes0;
};

static void slots_free(struct slot *sl, int n) {
    for (int i = 0; sl && i < n; i++) {
        qins_state_free(sl[i].st);
        qins_kv_free(sl[i].kv);
        free(sl[i].t);
    }
    free(sl);
}

int qins_decode_bench(const struct qins_decode_cfg *cfgs, int n_cfg, int ctx, int steps, int reps, int warmup,
                      uint64_t seed, qins_decode_hook_fn hook, void *user, struct qins_decode_result *out) {
    QINS_CHECK(n_cfg > 0 && ctx >= 1 && steps >= 1 && reps >= 1 && warmup >= 0, QINS_ERR_ARG,
               "decode bench: bad arguments (cfgs %d, ctx %d, steps %d, reps %d, warmup %d)", n_cfg, ctx, steps, reps,
               warmup);
    struct slot *sl = calloc((size_t)n_cfg, sizeof *sl);
    QINS_CHECK(sl, QINS_ERR_NOMEM, "decode bench: out of memory");
    const int n_fill = ctx - warmup - reps * steps;
    QINS_CHECK(n_fill >= 1, QINS_ERR_ARG, "decode bench: context %d leaves no position to fill before %d warm-up and "
               "%d x %d timed steps", ctx, warmup, reps, steps);
    int st = 0;
    for (int c = 0; c < n_cfg && st == 0; c++) {
        const struct qins_hparams *hp = &cfgs[c].model->hp;
        const int kv_dim = hp->n_head_kv * hp->head_dim;
        struct qins_kv_spec spec;
        st = qins_kv_spec_parse(cfgs[c].kv, &spec);
        if (st == 0) st = qins_kv_store_create(&spec, hp->n_layer, ctx, kv_dim, &sl[c].kv);
        if (st == 0) st = qins_state_init(cfgs[c].model, ctx, 1, sl[c].kv, &sl[c].st);
        if (st == 0) st = fill(sl[c].kv, hp->n_layer, n_fill, kv_dim, seed + (uint64_t)c);
        sl[c].pos = n_fill;
        sl[c].t = malloc(sizeof(double) * (size_t)(reps * steps));
        if (st == 0 && !sl[c].t) st = QINS_ERR_NOMEM;
        // untimed warm-up: caches, page buffers, first-touch of scratch
        for (int w = 0; w < warmup && st == 0; w++) {
            const int32_t tok = (int32_t)((sl[c].pos * 7919u) % (unsigned)hp->n_vocab);
            st = qins_forward(cfgs[c].model, sl[c].st, &tok, 1, sl[c].pos++, false);
        }
        sl[c].bytes0 = sl[c].kv ? sl[c].kv->bytes_read : 0;
    }
    for (int r = 0; r < reps && st == 0; r++)
        for (int c = 0; c < n_cfg && st == 0; c++) {
            const int n_vocab = cfgs[c].model->hp.n_vocab;
            if (hook) hook(user, c, r, 1);
            for (int i = 0; i < steps && st == 0; i++) {
                const int32_t tok = (int32_t)((sl[c].pos * 7919u) % (unsigned)n_vocab);
                const double t0 = qins_time_now();
                st = qins_forward(cfgs[c].model, sl[c].st, &tok, 1, sl[c].pos++, false);
                sl[c].t[sl[c].n_t++] = qins_time_now() - t0;
            }
            if (hook) hook(user, c, r, 0);
        }
    for (int c = 0; c < n_cfg && st == 0; c++) {
        struct qins_decode_result *o = &out[c];
        o->steps = sl[c].n_t;
        o->min_s = INFINITY;
        for (int i = 0; i < sl[c].n_t; i++) o->min_s = sl[c].t[i] < o->min_s ? sl[c].t[i] : o->min_s;
        o->median_s = qins_median(sl[c].t, (size_t)sl[c].n_t);
        o->tok_s = o->median_s > 0 ? 1.0 / o->median_s : NAN;
        o->kv_bytes_read = (sl[c].kv->bytes_read - sl[c].bytes0) / (uint64_t)sl[c].n_t;
    }
    slots_free(sl, n_cfg);
    return st;
}
