// core/membw.h — machine figures measured in the same process as a benchmark, so results can
// be read as fractions: streaming read bandwidth, memcpy bandwidth, sgemm GFLOP/s.
// Owns no state; returns figures (negative on allocation failure).
#pragma once
#include <stddef.h>

// Streaming read bandwidth in GB/s over a buffer of `bytes` (>> caches) with n_threads threads.
double qins_measure_read_gbps(size_t bytes, int n_threads);
// memcpy bandwidth in GB/s (bytes copied per second) on one thread.
double qins_measure_memcpy_gbps(size_t bytes);
// OpenBLAS sgemm GFLOP/s for C (m, n) = A (m, k) * B^T (n, k), the forward pass's shape.
double qins_measure_sgemm_gflops(int m, int n, int k, int n_threads);
// Peak resident set size of this process in bytes.
size_t qins_peak_rss_bytes(void);
