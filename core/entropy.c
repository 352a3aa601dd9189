// core/entropy.c — histograms, Shannon entropy and sparsity of code streams.
#include "entropy.h"

#include <math.h>
#include <stdlib.h>

#include "common.h"

int qins_entropy_histogram(const uint16_t *codes, size_t n, uint64_t *hist, size_t nbins) {
    QINS_CHECK(hist && (codes || n == 0), QINS_ERR_ARG, "null histogram or codes");
    for (size_t i = 0; i < n; i++)
        QINS_CHECK(codes[i] < nbins, QINS_ERR_RANGE, "code %u at %zu outside %zu bins", codes[i], i, nbins);
    for (size_t i = 0; i < n; i++) hist[codes[i]]++;
    return QINS_OK;
}

double qins_entropy_bits(const uint64_t *hist, size_t nbins) {
    uint64_t total = 0;
    for (size_t i = 0; i < nbins; i++) total += hist[i];
    if (total == 0) return 0.0;
    double h = 0, inv = 1.0 / (double)total;
    for (size_t i = 0; i < nbins; i++) {
        if (!hist[i]) continue;
        double pr = (double)hist[i] * inv;
        h -= pr * log2(pr);
    }
    return h < 0 ? 0.0 : h; // -0.0 and rounding below zero for a single symbol
}

double qins_entropy_fraction(const uint64_t *hist, const uint8_t *mask, size_t nbins) {
    uint64_t total = 0, hit = 0;
    for (size_t i = 0; i < nbins; i++) {
        total += hist[i];
        if (mask[i]) hit += hist[i];
    }
    return total ? (double)hit / (double)total : 0.0;
}

int qins_entropy_zero_mask(const struct qins_codec_params *p, float tol, uint8_t *mask) {
    QINS_TRY(qins_codec_validate(p));
    QINS_CHECK(qins_codec_is_lossy(p), QINS_ERR_UNSUPPORTED, "zero mask needs a lossy codec");
    QINS_CHECK(tol >= 0, QINS_ERR_ARG, "tolerance %g < 0", (double)tol);
    float lut[1 << QINS_CODEC_MAX_BITS];
    QINS_TRY(qins_codec_lut(p, 24.0f, lut));
    int marked = 0;
    for (int c = 0; c < (1 << p->bits); c++) {
        mask[c] = fabsf(lut[c]) <= tol;
        marked += mask[c];
    }
    return marked;
}

int qins_entropy_sparsity(const uint16_t *codes, size_t n, const uint8_t *mask, size_t nbins, double *frac) {
    size_t hit = 0;
    for (size_t i = 0; i < n; i++) {
        QINS_CHECK(codes[i] < nbins, QINS_ERR_RANGE, "code %u outside %zu bins", codes[i], nbins);
        hit += mask[codes[i]] != 0;
    }
    *frac = n ? (double)hit / (double)n : 0.0;
    return 0;
}

int qins_entropy_float_fields(const float *x, size_t n, int bf16, struct qins_float_fields *f) {
    const int eb = bf16 ? 8 : 5, mb = bf16 ? 7 : 10;
    QINS_CHECK(f->n == 0 || (f->exp_bits == eb && f->mant_bits == mb), QINS_ERR_ARG,
               "float fields: accumulating %s values into %s counts", bf16 ? "bfloat16" : "binary16",
               f->exp_bits == 8 ? "bfloat16" : "binary16");
    for (size_t i = 0; i < n; i++)
        QINS_CHECK(isfinite(x[i]), QINS_ERR_NUMERIC, "float fields: value %zu is not finite", i);
    f->exp_bits = eb, f->mant_bits = mb;
    for (size_t i = 0; i < n; i++) {
        const uint16_t h = bf16 ? qins_f32_to_bf16(x[i]) : qins_f32_to_fp16(x[i]);
        f->sign_hist[h >> 15]++;
        f->exp_hist[(h >> mb) & ((1u << eb) - 1)]++;
        f->mant_hist[h & ((1u << mb) - 1)]++;
    }
    f->n += n;
    f->sign_entropy = qins_entropy_bits(f->sign_hist, 2);
    f->exp_entropy = qins_entropy_bits(f->exp_hist, (size_t)1 << eb);
    f->mant_entropy = qins_entropy_bits(f->mant_hist, (size_t)1 << mb);
    f->lossless_bits = 1.0 + mb + f->exp_entropy;
    return 0;
}
