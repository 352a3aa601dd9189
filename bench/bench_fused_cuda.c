// bench/bench_fused_cuda.c — qins-bench-fused_cuda: the phase-4 CUDA cases (core/fused_cuda_bench.h)
// printed as a table: fused GEMV / GEMM / coded-page attention per shape x codec x k, GB/s, share
// of the device-copy roofline measured alongside, and error against the CPU reference.
//   qins-bench-fused_cuda [--quick] [--reps N]
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "fused_cuda_bench.h"

int main(int argc, char **argv) {
    struct qins_fcb_opts o;
    qins_fcb_opts_default(&o);
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--quick")) o.quick = 1, o.reps = 5;
        else if (!strcmp(argv[i], "--reps") && i + 1 < argc) o.reps = atoi(argv[++i]);
        else {
            fprintf(stderr, "usage: qins-bench-fused_cuda [--quick] [--reps N]\n");
            return 2;
        }
    }
    char dev[256];
    int rc = qins_fcb_device(dev, sizeof dev);
    if (rc == QINS_ERR_UNSUPPORTED) {
        printf("qins-bench-fused_cuda: no CUDA device or no CUDA build: nothing measured\n");
        return 0;
    }
    if (rc < 0) return 1;
    struct qins_fcb_row *rows;
    size_t n;
    if (qins_fcb_run(&o, 1, &rows, &n) < 0) return 1;
    printf("qins-bench-fused_cuda: %zu cases on %s\n", n, dev);
    free(rows);
    return 0;
}
