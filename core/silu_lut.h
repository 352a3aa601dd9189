// core/silu_lut.h — SiLU in the QINS domain (phase 5's "risky" option of the plan): a table over
// the k-bit output codes of a transported gate projection, entry (i, c) = SiLU(D_i(z_c)), built
// from the code grid and the decode D of core/transport.h, so that SiLU(gate) is read from the
// gate's code instead of decoding to FP32 and then evaluating SiLU. Owns: the table. Does not own:
// the scales it was built from. Errors: negative qins_status with a log line.
#pragma once
#include <stddef.h>

struct qins_silu_lut {
    int bits, n_codes, n_out; // n_codes = 2^bits
    double alpha;
    float *v;                 // (n_out, n_codes): v[i * n_codes + c] = SiLU(D_i(z_c)), FP64 then rounded
};

// Largest |SiLU'(x)| over the reals (1.09984 at x = 2.39936), rounded up: for a value x whose code is
// c, |table(c) - SiLU(x)| <= QINS_SILU_LIPSCHITZ * |x - D(z_c)| + the FP32 rounding of the entry.
#define QINS_SILU_LIPSCHITZ 1.0999

// SiLU in FP64: x / (1 + e^-x) (-0 for x -> -inf, x for x -> +inf; no NaN for finite x).
double qins_silu(double x);
// Builds the table of n_out channels with output scales s_out (n_out), alpha and bits (2..12).
// Returns 0, QINS_ERR_ARG or QINS_ERR_NOMEM.
int qins_silu_lut_init(struct qins_silu_lut *l, int bits, double alpha, const double *s_out, int n_out);
// Frees the table (NULL-safe, idempotent). Returns nothing.
void qins_silu_lut_free(struct qins_silu_lut *l);
// Returns SiLU of channel ch's value whose code is code (0 .. n_codes-1).
static inline float qins_silu_lut_get(const struct qins_silu_lut *l, int ch, int code) {
    return l->v[(size_t)ch * (size_t)l->n_codes + (size_t)code];
}
// Bytes of the table (what the option costs in memory: n_out x 2^bits FP32 entries). Returns them.
size_t qins_silu_lut_bytes(const struct qins_silu_lut *l);
