// tests/helpers/synth_rows.c — see synth_rows.h.
#include "synth_rows.h"

#include <criterion/criterion.h>

double test_urand(uint64_t *s, double lo, double hi) {
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    return lo + (hi - lo) * (double)(*s >> 11) / 9007199254740992.0;
}

void test_stats_from(struct qins_calib_stats *st, const float *x, int n, int dim) {
    cr_assert_eq(qins_calib_stats_init(st, dim, 4096, n, 0, 7), 0);
    qins_calib_stats_add(st, x, n, false);
    cr_assert_eq(qins_calib_stats_finish(st), 0);
}
