// tests/helpers/synth_rows.h — synthetic calibration rows for the transport tests: a deterministic
// uniform generator and calibration statistics of given rows (Criterion asserts on failure).
#pragma once
#include <stdint.h>

#include "calib.h"

// Deterministic uniform in [lo, hi) (an LCG on *s).
double test_urand(uint64_t *s, double lo, double hi);
// Statistics of the n rows x (n, dim), every row a fit row (kept for lstsq), finished.
void test_stats_from(struct qins_calib_stats *st, const float *x, int n, int dim);
