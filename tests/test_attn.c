// tests/test_attn.c — every attention path (scalar chunks, AVX2, AVX-512; FP32 and binary16
// rows) against the scalar two-pass reference across head dims, depths, chunk boundaries and
// GQA/MQA groupings; binary16 rows bit for bit equal to their FP32 conversion; blocking and
// split-K invariance (what thread-count determinism rests on).
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "attn.h"
#include "half.h"

// Outputs are convex combinations of V rows with |v| <= 1: absolute error bounds. The chunked
// paths sum in another order than the reference (per chunk, then merged with rescaling), and
// the SIMD paths use vector lanes and a polynomial exp (about 1 ulp): differences of a few ulp.
#define ATTN_MAX_ABS 2e-5       // typical softmax (scores of order 1)
#define ATTN_MAX_ABS_PEAKY 1e-4 // scores of order 100: exp's relative error times large weights

struct shape {
    int D, n, n_kv, G, pad; // head dim, positions, KV heads in the block, query heads per KV head, extra row floats
};

static float *randv(size_t n, uint32_t seed, float amp) {
    float *x = malloc(n * sizeof *x);
    for (size_t i = 0; i < n; i++) {
        seed = seed * 1664525u + 1013904223u;
        x[i] = ((float)(seed >> 8) / 16777216.0f - 0.5f) * 2.0f * amp;
    }
    return x;
}

// The paths this CPU has (index = level passed to run_level).
static int n_levels(void) { return qins_attn_have_avx512() ? 3 : qins_attn_have_avx2() ? 2 : 1; }
static const char *const level_name[] = {"scalar", "avx2", "avx512"};

// qins_attn_rows on one path: chunks from that path's kernel, merged and finished as the
// dispatcher's caller does. scratch: qins_attn_scratch_floats(n_kv*G, D).
static void rows_level(int level, const float *q, int n_kv, int G, const struct qins_attn_kv *kv, int n, int D,
                       float scale, float *scratch, float *out) {
    qins_attn_chunk_fn *chunk = level == 2 ? qins_attn_chunk_avx512 : level == 1 ? qins_attn_chunk_avx2 : qins_attn_chunk_ref;
    qins_attn_rows_chunked(chunk, q, n_kv, G, kv, n, D, scale, scratch, out);
}

struct data {
    size_t stride, heads;
    float *q, *k, *v, *sc, *ref, *out, *scratch;
    uint16_t *kh, *vh; // binary16 copies of k, v
    float *kf, *vf;    // k, v rounded to binary16 and back (exact)
};

static struct data make(const struct shape *sh, float q_amp) {
    struct data d;
    d.stride = (size_t)sh->n_kv * sh->D + sh->pad, d.heads = (size_t)sh->n_kv * sh->G;
    const size_t nkv = (size_t)sh->n * d.stride;
    d.q = randv(d.heads * sh->D, 1 + sh->D, q_amp), d.k = randv(nkv, 2 + sh->n, 1.0f), d.v = randv(nkv, 3 + sh->G, 1.0f);
    d.sc = malloc(d.heads * sh->n * sizeof(float));
    d.ref = malloc(d.heads * sh->D * sizeof(float)), d.out = malloc(d.heads * sh->D * sizeof(float));
    d.scratch = malloc(qins_attn_scratch_floats((int)d.heads, sh->D) * sizeof(float));
    d.kh = malloc(nkv * 2), d.vh = malloc(nkv * 2), d.kf = malloc(nkv * 4), d.vf = malloc(nkv * 4);
    qins_f32_to_half_ref(d.k, nkv, d.kh), qins_f32_to_half_ref(d.v, nkv, d.vh);
    qins_half_to_f32_ref(d.kh, nkv, d.kf), qins_half_to_f32_ref(d.vh, nkv, d.vf);
    return d;
}

static void drop(struct data *d) {
    free(d->q), free(d->k), free(d->v), free(d->sc), free(d->ref), free(d->out), free(d->scratch);
    free(d->kh), free(d->vh), free(d->kf), free(d->vf);
}

static double max_abs(const float *a, const float *b, size_t n) {
    double err = 0;
    for (size_t i = 0; i < n; i++) {
        cr_assert(isfinite(a[i]) && isfinite(b[i]), "output %zu not finite", i);
        err = fmax(err, fabs((double)a[i] - b[i]));
    }
    return err;
}

static const int dims[] = {8, 20, 32, 64, 96, 128}, depths[] = {1, 7, 31, 33, 64, 1000};
static const int groupings[][2] = {{1, 1}, {4, 1}, {1, 4}, {2, 4}, {1, 8}}; // (n_kv, G): MHA, MQA, GQA

ParameterizedTestParameters(attn, every_path_matches_ref) {
    static struct shape cases[6 * 6 * 5];
    int c = 0;
    for (int i = 0; i < 6; i++)
        for (int j = 0; j < 6; j++)
            for (int g = 0; g < 5; g++)
                cases[c++] = (struct shape){dims[i], depths[j], groupings[g][0], groupings[g][1], (i + g) % 2 ? 0 : 24};
    return cr_make_param_array(struct shape, cases, c);
}

// Each path on FP32 rows within the tolerance of the reference; on binary16 rows bit for bit
// what it gives on the FP32 conversion of those rows.
ParameterizedTest(struct shape *sh, attn, every_path_matches_ref) {
    const float scale = 1.0f / sqrtf((float)sh->D);
    for (int amp = 0; amp < 2; amp++) {
        struct data d = make(sh, amp ? 40.0f : 1.0f);
        const double tol = amp ? ATTN_MAX_ABS_PEAKY : ATTN_MAX_ABS;
        const size_t n_out = d.heads * sh->D;
        float *f16_out = malloc(n_out * sizeof(float));
        for (int lv = 0; lv < n_levels(); lv++) {
            const struct qins_attn_kv kv = {d.k, d.v, QINS_ATTN_F32, d.stride};
            qins_attn_rows_ref(d.q, sh->n_kv, sh->G, d.k, d.v, d.stride, sh->n, sh->D, scale, d.sc, d.ref);
            rows_level(lv, d.q, sh->n_kv, sh->G, &kv, sh->n, sh->D, scale, d.scratch, d.out);
            const double err = max_abs(d.ref, d.out, n_out);
            cr_assert(err <= tol, "%s D %d n %d n_kv %d G %d amp %d: max-abs %g > %g", level_name[lv], sh->D, sh->n,
                      sh->n_kv, sh->G, amp, err, tol);
            const struct qins_attn_kv kvf = {d.kf, d.vf, QINS_ATTN_F32, d.stride}, kvh = {d.kh, d.vh, QINS_ATTN_F16, d.stride};
            rows_level(lv, d.q, sh->n_kv, sh->G, &kvf, sh->n, sh->D, scale, d.scratch, d.out);
            rows_level(lv, d.q, sh->n_kv, sh->G, &kvh, sh->n, sh->D, scale, d.scratch, f16_out);
            cr_assert_eq(memcmp(d.out, f16_out, n_out * sizeof(float)), 0,
                         "%s D %d n %d n_kv %d G %d: binary16 rows differ from their FP32 conversion", level_name[lv],
                         sh->D, sh->n, sh->n_kv, sh->G);
        }
        free(f16_out);
        drop(&d);
    }
}

// The dispatcher takes the best path this CPU has, and the scalar one when SIMD is off.
Test(attn, dispatcher_is_the_best_path) {
    const struct shape sh = {96, 77, 2, 2, 0};
    struct data d = make(&sh, 1.0f);
    const struct qins_attn_kv kv = {d.k, d.v, QINS_ATTN_F32, d.stride};
    const size_t n_out = d.heads * sh.D;
    float *want = malloc(n_out * sizeof(float));
    for (int simd = 1; simd >= 0; simd--) {
        qins_attn_set_simd(simd);
        rows_level(simd ? n_levels() - 1 : 0, d.q, sh.n_kv, sh.G, &kv, sh.n, sh.D, 0.1f, d.scratch, want);
        qins_attn_rows(d.q, sh.n_kv, sh.G, &kv, sh.n, sh.D, 0.1f, d.scratch, d.out);
        cr_assert_eq(memcmp(want, d.out, n_out * sizeof(float)), 0, "simd %d", simd);
    }
    qins_attn_set_simd(1);
    free(want);
    drop(&d);
}

// A block of KV heads gives each head exactly what it gets alone: forward.c may block heads
// as it likes without changing any result.
Test(attn, blocking_does_not_change_results) {
    const int D = 96, n = 300, n_kv = 4, G = 2, heads = n_kv * G;
    const size_t stride = (size_t)n_kv * D;
    float *q = randv((size_t)heads * D, 5, 1.0f), *k = randv(n * stride, 6, 1.0f), *v = randv(n * stride, 7, 1.0f);
    float *sc = malloc(qins_attn_scratch_floats(heads, D) * sizeof *sc), *all = malloc((size_t)heads * D * sizeof *all),
          *one = malloc((size_t)heads * D * sizeof *one);
    for (int lv = 0; lv < n_levels(); lv++) {
        const struct qins_attn_kv kv = {k, v, QINS_ATTN_F32, stride};
        rows_level(lv, q, n_kv, G, &kv, n, D, 0.1f, sc, all);
        for (int h = 0; h < n_kv; h++) {
            const struct qins_attn_kv kh = qins_attn_kv_at(&kv, 0, (size_t)h * D);
            rows_level(lv, q + (size_t)h * G * D, 1, G, &kh, n, D, 0.1f, sc, one + (size_t)h * G * D);
        }
        cr_assert_eq(memcmp(all, one, (size_t)heads * D * sizeof *all), 0, "%s: blocked and per-head results differ",
                     level_name[lv]);
    }
    free(q), free(k), free(v), free(sc), free(all), free(one);
}

// Chunks computed in any order (as threads of a decode split do), then merged per head in
// chunk order, give qins_attn_rows bit for bit.
Test(attn, split_chunks_merged_in_order_equal_one_pass) {
    const int D = 96, n = 1000, n_kv = 4, G = 1, heads = n_kv * G, nc = (n + QINS_ATTN_CHUNK - 1) / QINS_ATTN_CHUNK;
    const size_t stride = (size_t)n_kv * D;
    float *q = randv((size_t)heads * D, 15, 3.0f), *k = randv(n * stride, 16, 1.0f), *v = randv(n * stride, 17, 1.0f);
    float *sc = malloc(qins_attn_scratch_floats(heads, D) * sizeof *sc), *want = malloc((size_t)heads * D * sizeof *want);
    float *pm = malloc((size_t)nc * heads * 4), *pl = malloc((size_t)nc * heads * 4), *po = malloc((size_t)nc * heads * D * 4),
          *got = malloc((size_t)heads * D * sizeof *got);
    const struct qins_attn_kv kv = {k, v, QINS_ATTN_F32, stride};
    qins_attn_rows(q, n_kv, G, &kv, n, D, 0.2f, sc, want);
    for (int c = nc - 1; c >= 0; c--) // backwards, two heads per call
        for (int h = 0; h < n_kv; h += 2) {
            const struct qins_attn_kv ck = qins_attn_kv_at(&kv, (size_t)c * QINS_ATTN_CHUNK, (size_t)h * D);
            const int len = n - c * QINS_ATTN_CHUNK < QINS_ATTN_CHUNK ? n - c * QINS_ATTN_CHUNK : QINS_ATTN_CHUNK;
            const size_t i0 = (size_t)c * heads + h;
            qins_attn_chunk(q + (size_t)h * D, 2, G, &ck, len, D, 0.2f, sc, pm + i0, pl + i0, po + i0 * D);
        }
    for (int i = 0; i < heads; i++) {
        for (int c = 1; c < nc; c++) {
            const size_t ic = (size_t)c * heads + i;
            qins_attn_merge(1, D, pm + i, pl + i, po + (size_t)i * D, pm + ic, pl + ic, po + ic * D);
        }
        qins_attn_finish(1, D, pl + i, po + (size_t)i * D, got + (size_t)i * D);
    }
    cr_assert_eq(memcmp(want, got, (size_t)heads * D * sizeof *got), 0, "split-K merge differs from one pass");
    free(q), free(k), free(v), free(sc), free(want), free(pm), free(pl), free(po), free(got);
}

// One position: the output is that position's V row whatever the score.
Test(attn, one_position_returns_its_value_row) {
    const int D = 32;
    float *q = randv(D, 11, 50.0f), *k = randv(D, 12, 1.0f), *v = randv(D, 13, 1.0f), out[32];
    float *sc = malloc(qins_attn_scratch_floats(1, D) * sizeof *sc);
    const struct qins_attn_kv kv = {k, v, QINS_ATTN_F32, (size_t)D};
    qins_attn_rows(q, 1, 1, &kv, 1, D, 1.0f, sc, out);
    for (int d = 0; d < D; d++) cr_assert_float_eq(out[d], v[d], 1e-6, "d %d", d);
    free(q), free(k), free(v), free(sc);
}
