// core/entropy.h — statistics of code streams: 2^k-bin histograms, Shannon entropy, sparsity.
// Owns: counting and the formulas. Does not own: producing codes (core/codec.h) or coding them
// (core/huffman.h). Errors: negative qins_status (ARG) from the functions that can fail.
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "codec.h"

// Adds the n codes to hist (nbins entries, not cleared first: call repeatedly to accumulate).
// Codes >= nbins -> QINS_ERR_RANGE (nothing is added). Returns 0 or < 0.
int qins_entropy_histogram(const uint16_t *codes, size_t n, uint64_t *hist, size_t nbins);
// Returns the Shannon entropy in bits/symbol of the distribution in hist (0 for an empty one).
double qins_entropy_bits(const uint64_t *hist, size_t nbins);
// Returns the fraction of counted codes whose mask entry is non-zero (0 for an empty histogram).
double qins_entropy_fraction(const uint64_t *hist, const uint8_t *mask, size_t nbins);
// Marks in mask (2^k entries) the codes of a lossy codec whose value is within tol of zero, in
// units of the group scale (tol = 0: exactly zero; QINS_LOG uses its largest range, 24 octaves).
// Returns the number of codes marked, or < 0.
int qins_entropy_zero_mask(const struct qins_codec_params *p, float tol, uint8_t *mask);
// Sparsity of a code stream: writes to *frac the fraction of the n codes at the zero/near-zero
// codes of mask (0 for n == 0). Returns 0, or QINS_ERR_RANGE (*frac untouched) on a code >= nbins.
int qins_entropy_sparsity(const uint16_t *codes, size_t n, const uint8_t *mask, size_t nbins, double *frac);

// The lossless anchor: the bit fields of values rounded to binary16 (bf16 = 0) or bfloat16
// (bf16 = 1) counted separately — sign, exponent (5 or 8 bits), mantissa (10 or 7 bits) — and the
// Shannon entropy of each field. lossless_bits is what coding only the exponent by its entropy
// (DFloat11's scheme: sign and mantissa raw) would store per value, before tables.
struct qins_float_fields {
    int exp_bits, mant_bits;
    uint64_t n;
    uint64_t sign_hist[2], exp_hist[256], mant_hist[1024];
    double sign_entropy, exp_entropy, mant_entropy;
    double lossless_bits;
};
// Adds the n values of x to *f (zero it and set nothing else first; call repeatedly to
// accumulate), then refreshes the entropies. NaN or Inf in x -> QINS_ERR_NUMERIC (nothing added).
int qins_entropy_float_fields(const float *x, size_t n, int bf16, struct qins_float_fields *f);
