// tests/helpers/test_data.h — deterministic test data: a small PRNG with uniform, Gaussian and
// Laplacian draws (header-only so every test can include it without a link dependency).
#pragma once
#include <math.h>
#include <stdint.h>

struct qins_test_rng { uint64_t s; };

static inline uint64_t qins_test_next(struct qins_test_rng *r) { // splitmix64
    uint64_t z = (r->s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}
// Uniform in (0, 1).
static inline double qins_test_uniform(struct qins_test_rng *r) {
    return ((double)(qins_test_next(r) >> 11) + 0.5) / 9007199254740992.0;
}
static inline float qins_test_gauss(struct qins_test_rng *r) {
    double u1 = qins_test_uniform(r), u2 = qins_test_uniform(r);
    return (float)(sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2));
}
static inline float qins_test_laplace(struct qins_test_rng *r) {
    double u = qins_test_uniform(r) - 0.5;
    return (float)(u < 0 ? log(1 + 2 * u) : -log(1 - 2 * u));
}
