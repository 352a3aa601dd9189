// core/silu_lut.c — see silu_lut.h.
#include "silu_lut.h"

#include <math.h>
#include <stdlib.h>

#include "codec.h"
#include "common.h"
#include "transport.h"

double qins_silu(double x) { return x / (1.0 + exp(-x)); }

int qins_silu_lut_init(struct qins_silu_lut *l, int bits, double alpha, const double *s_out, int n_out) {
    *l = (struct qins_silu_lut){0};
    QINS_CHECK(bits >= 2 && bits <= QINS_CODEC_MAX_BITS && n_out > 0 && isfinite(alpha) && alpha > 0, QINS_ERR_ARG,
               "SiLU table: %d bits, %d channels, alpha %g", bits, n_out, alpha);
    const int nc = 1 << bits;
    l->v = malloc((size_t)n_out * nc * sizeof *l->v);
    QINS_CHECK(l->v, QINS_ERR_NOMEM, "SiLU table: out of memory for %d x %d entries", n_out, nc);
    l->bits = bits, l->n_codes = nc, l->n_out = n_out, l->alpha = alpha;
    // The same decode the runtime applies to a code (transport.h), then SiLU: no other grid.
    for (int i = 0; i < n_out; i++)
        for (int c = 0; c < nc; c++)
            l->v[(size_t)i * nc + c] = (float)qins_silu(qins_transport_decode_z(qins_transport_grid_z(c, bits), s_out[i], alpha));
    return 0;
}

void qins_silu_lut_free(struct qins_silu_lut *l) {
    if (!l) return;
    free(l->v);
    *l = (struct qins_silu_lut){0};
}

size_t qins_silu_lut_bytes(const struct qins_silu_lut *l) { return (size_t)l->n_out * (size_t)l->n_codes * sizeof *l->v; }
