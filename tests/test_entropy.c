// tests/test_entropy.c — histograms, entropy of known distributions, sparsity and zero masks.
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>

#include "entropy.h"
#include "helpers/test_data.h"

Test(entropy, known_distributions) {
    uint64_t h[256] = {0};
    cr_assert_float_eq(qins_entropy_bits(h, 256), 0.0, 1e-12, "empty");
    h[7] = 100;
    cr_assert_float_eq(qins_entropy_bits(h, 256), 0.0, 1e-12, "single symbol");
    for (int i = 0; i < 256; i++) h[i] = 3;
    cr_assert_float_eq(qins_entropy_bits(h, 256), 8.0, 1e-12, "uniform over 256");
    uint64_t g[4] = {2, 1, 1, 0};
    cr_assert_float_eq(qins_entropy_bits(g, 4), 1.5, 1e-12, "1/2,1/4,1/4");
}

Test(entropy, histogram_accumulates_and_rejects_out_of_range) {
    uint16_t c[6] = {0, 1, 1, 3, 3, 3};
    uint64_t h[4] = {0};
    cr_assert_eq(qins_entropy_histogram(c, 6, h, 4), 0);
    cr_assert_eq(qins_entropy_histogram(c, 6, h, 4), 0);
    cr_assert_eq(h[0], 2);
    cr_assert_eq(h[1], 4);
    cr_assert_eq(h[2], 0);
    cr_assert_eq(h[3], 6);
    c[2] = 4;
    cr_assert_eq(qins_entropy_histogram(c, 6, h, 4), QINS_ERR_RANGE);
    cr_assert_eq(h[0], 2, "nothing added on error");
}

Test(entropy, zero_masks_and_sparsity) {
    struct qins_codec_params p;
    qins_codec_params_default(&p);
    cr_assert_eq(qins_codec_parse("qins8", &p), 0);
    uint8_t mask[256];
    cr_assert_eq(qins_entropy_zero_mask(&p, 0.0f, mask), 2, "qins8: codes 0 and 255 are +-0");
    cr_assert(mask[0] && mask[255]);
    cr_assert_eq(qins_codec_parse("int8", &p), 0);
    cr_assert_eq(qins_entropy_zero_mask(&p, 0.0f, mask), 1);
    cr_assert(mask[127]);
    cr_assert_eq(qins_entropy_zero_mask(&p, 1.5f / 127, mask), 3, "int8 near zero: 126..128");
    // Sparse data: 70% zeros -> sparsity of the int8 codes is 0.7.
    struct qins_test_rng r = {9};
    size_t n = 1000;
    float *x = malloc(n * 4), scale;
    uint16_t *codes = malloc(n * 2);
    for (size_t i = 0; i < n; i++) x[i] = i % 10 < 7 ? 0.0f : 1.0f + qins_test_uniform(&r);
    cr_assert_eq(qins_codec_quantize(&p, x, 1, n, codes, &scale, NULL), 0);
    cr_assert_eq(qins_entropy_zero_mask(&p, 0.0f, mask), 1);
    double sp = -1;
    cr_assert_eq(qins_entropy_sparsity(codes, n, mask, 256, &sp), 0);
    cr_assert_float_eq(sp, 0.7, 1e-12);
    const uint16_t keep = codes[3];
    codes[3] = 256; // outside the 256 bins: an error, and *frac untouched
    sp = -1;
    cr_assert_lt(qins_entropy_sparsity(codes, n, mask, 256, &sp), 0);
    cr_assert_float_eq(sp, -1.0, 0);
    codes[3] = keep;
    cr_assert_eq(qins_entropy_sparsity(codes, 0, mask, 256, &sp), 0);
    cr_assert_float_eq(sp, 0.0, 0, "an empty stream has sparsity 0");
    uint64_t h[256] = {0};
    cr_assert_eq(qins_entropy_histogram(codes, n, h, 256), 0);
    cr_assert_float_eq(qins_entropy_fraction(h, mask, 256), 0.7, 1e-12);
    free(x), free(codes);
}

Test(entropy, gaussian_int8_entropy_is_below_8_bits) {
    // Absmax INT8 on Gaussian data uses the middle of the range: entropy ~ 6.3 bits, not 8.
    struct qins_codec_params p;
    qins_codec_params_default(&p);
    cr_assert_eq(qins_codec_parse("int8", &p), 0);
    struct qins_test_rng r = {10};
    size_t n = 1 << 16;
    float *x = malloc(n * 4), scale;
    uint16_t *codes = malloc(n * 2);
    for (size_t i = 0; i < n; i++) x[i] = qins_test_gauss(&r);
    cr_assert_eq(qins_codec_quantize(&p, x, 1, n, codes, &scale, NULL), 0);
    uint64_t h[256] = {0};
    qins_entropy_histogram(codes, n, h, 256);
    double e = qins_entropy_bits(h, 256);
    // Analytic: differential entropy of N(0,1) (2.047 bits) minus log2 of the step (absmax/127).
    double want = 0.5 * log2(2 * M_PI * M_E) - log2(scale / 127.0);
    cr_assert_float_eq(e, want, 0.05, "entropy %g vs %g", e, want);
    free(x), free(codes);
}
