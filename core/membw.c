// core/membw.c — bandwidth and GFLOP/s probes (best of several repetitions).
#include "membw.h"

#include <cblas.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "common.h"
#include "model.h"

static volatile float sink;

// The widest loads this CPU has (target clones), read as eight memory streams at once with a
// software prefetch 4 KiB ahead of each: the probe must not be the bottleneck, or a kernel could
// stream "faster than the machine". Measured on "Intel(R) Xeon(R) Processor" (the "read probe"
// line of qins-bench-matmul): one stream per thread (0cc60bb) 9.6-10.4 GB/s on one thread and
// 16.7-19.7 on two, eight streams with the prefetch 14.4 and 29.0; the four-stream GEMV streams
// F16 at 13-14 GB/s on one thread, past what the one-stream probe said the machine could.
#define PROBE_STREAMS 8
#define PROBE_PREFETCH_FLOATS 1024
__attribute__((target_clones("avx512f", "avx2", "default"))) static float read_span(const float *p, size_t n) {
    const size_t q = n / PROBE_STREAMS / 16 * 16; // each stream a whole number of 64-byte lines
    float acc[PROBE_STREAMS][16] = {{0}};
    for (size_t i = 0; i < q; i += 16)
        for (int s = 0; s < PROBE_STREAMS; s++) {
            const float *ps = p + s * q + i;
            __builtin_prefetch(ps + PROBE_PREFETCH_FLOATS, 0, 3);
            for (int j = 0; j < 16; j++) acc[s][j] += ps[j];
        }
    float t = 0;
    for (int s = 0; s < PROBE_STREAMS; s++)
        for (int j = 0; j < 16; j++) t += acc[s][j];
    for (size_t i = PROBE_STREAMS * q; i < n; i++) t += p[i];
    return t;
}

double qins_measure_read_gbps(size_t bytes, int n_threads) {
    size_t n = bytes / sizeof(float);
    float *buf = qins_alloc_aligned(n * sizeof(float));
    if (!buf) return -1;
#pragma omp parallel for num_threads(n_threads) schedule(static)
    for (size_t i = 0; i < n; i++) buf[i] = (float)(i & 255); // first touch by the reading threads
    double best = 0;
    for (int rep = 0; rep < 5; rep++) {
        double t0 = qins_time_now();
        float total = 0;
#pragma omp parallel for num_threads(n_threads) schedule(static) reduction(+ : total)
        for (int th = 0; th < n_threads; th++) {
            size_t lo = n * th / n_threads, hi = n * (th + 1) / n_threads;
            total += read_span(buf + lo, hi - lo);
        }
        double dt = qins_time_now() - t0;
        sink = total;
        if (bytes / dt / 1e9 > best) best = bytes / dt / 1e9;
    }
    free(buf);
    return best;
}

double qins_measure_memcpy_gbps(size_t bytes) {
    char *a = qins_alloc_aligned(bytes), *b = qins_alloc_aligned(bytes);
    if (!a || !b) {
        free(a);
        free(b);
        return -1;
    }
    memset(a, 1, bytes);
    memset(b, 2, bytes);
    double best = 0;
    for (int rep = 0; rep < 5; rep++) {
        double t0 = qins_time_now();
        memcpy(b, a, bytes);
        double dt = qins_time_now() - t0;
        sink = b[bytes / 2];
        if (bytes / dt / 1e9 > best) best = bytes / dt / 1e9;
    }
    free(a);
    free(b);
    return best;
}

double qins_measure_sgemm_gflops(int m, int n, int k, int n_threads) {
    float *A = qins_alloc_aligned((size_t)m * k * 4), *B = qins_alloc_aligned((size_t)n * k * 4),
          *C = qins_alloc_aligned((size_t)m * n * 4);
    if (!A || !B || !C) {
        free(A), free(B), free(C);
        return -1;
    }
    for (size_t i = 0; i < (size_t)m * k; i++) A[i] = (float)((i * 7) % 13) * 0.01f;
    for (size_t i = 0; i < (size_t)n * k; i++) B[i] = (float)((i * 5) % 11) * 0.01f;
    qins_set_threads(n_threads);
    double best = 0;
    for (int rep = 0; rep < 5; rep++) {
        double t0 = qins_time_now();
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m, n, k, 1.0f, A, k, B, k, 0.0f, C, n);
        double dt = qins_time_now() - t0, g = 2.0 * m * n * k / dt / 1e9;
        if (g > best) best = g;
    }
    free(A), free(B), free(C);
    return best;
}

size_t qins_peak_rss_bytes(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (size_t)ru.ru_maxrss * 1024;
}
