// tests/test_attn.c — the AVX2 attention kernel against the scalar reference across head dims,
// depths and GQA/MQA groupings; blocking invariance (what thread-count determinism rests on).
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "attn.h"

// Outputs are convex combinations of V rows with |v| <= 1: absolute error bounds.
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

// Runs both kernels on one shape; returns the max-abs difference of the outputs.
static double compare(const struct shape *sh, float q_amp) {
    const size_t stride = (size_t)sh->n_kv * sh->D + sh->pad, heads = (size_t)sh->n_kv * sh->G;
    float *q = randv(heads * sh->D, 1 + sh->D, q_amp), *k = randv((size_t)sh->n * stride, 2 + sh->n, 1.0f),
          *v = randv((size_t)sh->n * stride, 3 + sh->G, 1.0f);
    float *sc = malloc(heads * sh->n * sizeof *sc), *a = malloc(heads * sh->D * sizeof *a),
          *b = malloc(heads * sh->D * sizeof *b);
    const float scale = 1.0f / sqrtf((float)sh->D);
    qins_attn_rows_ref(q, sh->n_kv, sh->G, k, v, stride, sh->n, sh->D, scale, sc, a);
    qins_attn_rows_avx2(q, sh->n_kv, sh->G, k, v, stride, sh->n, sh->D, scale, sc, b);
    double err = 0;
    for (size_t i = 0; i < heads * sh->D; i++) {
        cr_assert(isfinite(a[i]) && isfinite(b[i]), "output %zu not finite", i);
        err = fmax(err, fabs((double)a[i] - b[i]));
    }
    free(q), free(k), free(v), free(sc), free(a), free(b);
    return err;
}

static const int dims[] = {8, 20, 32, 64, 96, 128}, depths[] = {1, 7, 64, 1000};
static const int groupings[][2] = {{1, 1}, {4, 1}, {1, 4}, {2, 4}, {1, 8}}; // (n_kv, G): MHA, MQA, GQA

ParameterizedTestParameters(attn, avx2_matches_ref) {
    static struct shape cases[6 * 4 * 5];
    int c = 0;
    for (int i = 0; i < 6; i++)
        for (int j = 0; j < 4; j++)
            for (int g = 0; g < 5; g++)
                cases[c++] = (struct shape){dims[i], depths[j], groupings[g][0], groupings[g][1], (i + g) % 2 ? 0 : 24};
    return cr_make_param_array(struct shape, cases, c);
}

ParameterizedTest(struct shape *sh, attn, avx2_matches_ref) {
    if (!qins_attn_have_avx2()) cr_skip_test("no AVX2/FMA on this CPU");
    double err = compare(sh, 1.0f), peaky = compare(sh, 40.0f);
    cr_assert(err <= ATTN_MAX_ABS, "D %d n %d n_kv %d G %d: max-abs %g > %g", sh->D, sh->n, sh->n_kv, sh->G, err,
              ATTN_MAX_ABS);
    cr_assert(peaky <= ATTN_MAX_ABS_PEAKY, "peaky D %d n %d n_kv %d G %d: max-abs %g > %g", sh->D, sh->n, sh->n_kv,
              sh->G, peaky, ATTN_MAX_ABS_PEAKY);
}

// A block of KV heads gives each head exactly what it gets alone: forward.c may block heads by
// thread count without changing any result.
Test(attn, blocking_does_not_change_results) {
    const int D = 96, n = 300, n_kv = 4, G = 2, heads = n_kv * G;
    const size_t stride = (size_t)n_kv * D;
    float *q = randv((size_t)heads * D, 5, 1.0f), *k = randv(n * stride, 6, 1.0f), *v = randv(n * stride, 7, 1.0f);
    float *sc = malloc((size_t)heads * n * sizeof *sc), *all = malloc((size_t)heads * D * sizeof *all),
          *one = malloc((size_t)heads * D * sizeof *one);
    qins_attn_rows(q, n_kv, G, k, v, stride, n, D, 0.1f, sc, all);
    for (int h = 0; h < n_kv; h++)
        qins_attn_rows(q + (size_t)h * G * D, 1, G, k + (size_t)h * D, v + (size_t)h * D, stride, n, D, 0.1f, sc,
                       one + (size_t)h * G * D);
    cr_assert_eq(memcmp(all, one, (size_t)heads * D * sizeof *all), 0, "blocked and per-head results differ");
    free(q), free(k), free(v), free(sc), free(all), free(one);
}

// The dispatcher with SIMD off is the reference bit for bit (the scalar path forward.c had).
Test(attn, dispatch_off_is_the_reference) {
    const int D = 64, n = 77, heads = 3;
    float *q = randv((size_t)heads * D, 8, 1.0f), *k = randv((size_t)n * D, 9, 1.0f), *v = randv((size_t)n * D, 10, 1.0f);
    float *sc = malloc((size_t)heads * n * sizeof *sc), *a = malloc((size_t)heads * D * sizeof *a),
          *b = malloc((size_t)heads * D * sizeof *b);
    qins_attn_rows_ref(q, 1, heads, k, v, D, n, D, 0.125f, sc, a);
    qins_attn_set_simd(0);
    qins_attn_rows(q, 1, heads, k, v, D, n, D, 0.125f, sc, b);
    qins_attn_set_simd(1);
    cr_assert_eq(memcmp(a, b, (size_t)heads * D * sizeof *a), 0);
    free(q), free(k), free(v), free(sc), free(a), free(b);
}

// One position: the output is that position's V row whatever the score.
Test(attn, one_position_returns_its_value_row) {
    const int D = 32;
    float *q = randv(D, 11, 50.0f), *k = randv(D, 12, 1.0f), *v = randv(D, 13, 1.0f), sc[1], out[32];
    qins_attn_rows(q, 1, 1, k, v, D, 1, D, 1.0f, sc, out);
    for (int d = 0; d < D; d++) cr_assert_float_eq(out[d], v[d], 1e-6, "d %d", d);
    free(q), free(k), free(v);
}
