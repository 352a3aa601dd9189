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

// The lossless anchor's fields, by hand: 1, 2, 4, 8 have four exponents (2 bits), one sign and a
// zero mantissa; with -1 added the sign field has entropy H(1/5). Accumulating equals one call.
Test(entropy, float_fields_by_hand) {
    const float x[5] = {1.0f, 2.0f, 4.0f, 8.0f, -1.0f};
    for (int bf16 = 0; bf16 < 2; bf16++) {
        struct qins_float_fields f = {0};
        cr_assert_eq(qins_entropy_float_fields(x, 4, bf16, &f), 0);
        cr_expect_float_eq(f.exp_entropy, 2.0, 1e-12);
        cr_expect_float_eq(f.sign_entropy, 0.0, 1e-12);
        cr_expect_float_eq(f.mant_entropy, 0.0, 1e-12);
        cr_expect_float_eq(f.lossless_bits, 1.0 + (bf16 ? 7 : 10) + 2.0, 1e-12);
        cr_assert_eq(qins_entropy_float_fields(x + 4, 1, bf16, &f), 0);
        cr_expect_eq(f.n, 5);
        const double hs = -(0.2 * log2(0.2) + 0.8 * log2(0.8));
        cr_expect_float_eq(f.sign_entropy, hs, 1e-12);
        // exponents: 1 and -1 share one, so {2/5, 1/5, 1/5, 1/5}
        cr_expect_float_eq(f.exp_entropy, -(0.4 * log2(0.4) + 3 * 0.2 * log2(0.2)), 1e-12);
        cr_expect_eq(f.exp_hist[bf16 ? 127 : 15], 2, "the exponent of 1.0 is the bias");
    }
}

// Gaussian weights of one scale: a few exponents carry almost all values, so the exponent
// entropy is far below its 8 bits (DFloat11 reports ~2.6 bits on real BF16 weights), and mixing
// in a bfloat16 count into binary16 counts is refused; so is NaN.
Test(entropy, float_fields_of_gaussian_weights) {
    const size_t n = 1 << 16;
    float *x = malloc(n * sizeof *x);
    struct qins_test_rng r = {5};
    for (size_t i = 0; i < n; i++) x[i] = 0.02f * qins_test_gauss(&r);
    struct qins_float_fields f = {0};
    cr_assert_eq(qins_entropy_float_fields(x, n, 1, &f), 0);
    cr_log_info("gaussian(0.02) bf16: exponent %.3f bits, mantissa %.3f bits, lossless %.2f bits/value", f.exp_entropy,
                f.mant_entropy, f.lossless_bits);
    cr_expect(f.exp_entropy > 1.5 && f.exp_entropy < 3.5, "exponent entropy %.3f", f.exp_entropy);
    cr_expect(f.mant_entropy > 6.5, "mantissa bits are close to uniform: %.3f", f.mant_entropy);
    cr_expect_eq(qins_entropy_float_fields(x, 4, 0, &f), QINS_ERR_ARG);
    x[7] = NAN;
    struct qins_float_fields g = {0};
    cr_expect_eq(qins_entropy_float_fields(x, n, 0, &g), QINS_ERR_NUMERIC);
    cr_expect_eq(g.n, 0);
    free(x);
}
