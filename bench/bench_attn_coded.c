// bench/bench_attn_coded.c — qins-bench-attn_coded: one decode step's attention over one layer
// (core/attn_bench.h) for FP32, FP16, a coded store decoded page by page and the same store read
// fused (every read verified, and fused=once), at the given shapes, contexts and codec specs.
// Usage: qins-bench-attn_coded [--quick] [--contexts 256,1024,2048] [--specs qins8,int8,...]
//        [--kv-options alpha=2:gran=token:page=16] [--threads N] [--reps N]
// --quick: stories260K (8x4x8) and Phi-3.5-mini (32x32x96) shapes, contexts 256,1024,2048, specs
// qins8,int8,nf8,qins6,qins4, few reps.
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attn_bench.h"
#include "cpu_features.h"
#include "membw.h"
#include "util.h"

#define MAX_ITEMS 16

struct items {
    char (*v)[64];
    int n;
};
static int collect(const char *item, size_t i, void *user) {
    struct items *it = user;
    (void)i;
    if (*item && it->n < MAX_ITEMS) snprintf(it->v[it->n++], 64, "%s", item);
    return 0;
}
static int split(const char *s, char items[][64]) {
    struct items it = {items, 0};
    qins_split_list(s, collect, &it, NULL);
    return it.n;
}

int main(int argc, char **argv) {
    const char *contexts = "256,1024,2048", *specs = "qins8,int8,nf8,qins6,qins4", *opts = "alpha=2:gran=token:page=16";
    int threads = omp_get_max_threads(), reps = 21;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--quick")) reps = 5;
        else if (!strcmp(a, "--contexts") && v) contexts = v, i++;
        else if (!strcmp(a, "--specs") && v) specs = v, i++;
        else if (!strcmp(a, "--kv-options") && v) opts = v, i++;
        else if (!strcmp(a, "--threads") && v) threads = atoi(v), i++;
        else if (!strcmp(a, "--reps") && v) reps = atoi(v), i++;
        else {
            fprintf(stderr, "usage: %s [--quick] [--contexts LIST] [--specs LIST] [--kv-options OPTS] [--threads N] "
                            "[--reps N]\n", argv[0]);
            return 2;
        }
    }
    char ctx[MAX_ITEMS][64], spc[MAX_ITEMS][64];
    const int n_ctx = split(contexts, ctx), n_spec = split(specs, spc);
    struct qins_cpu_features f;
    qins_cpu_features_get(&f);
    const double read_gbps = qins_measure_read_gbps((size_t)256 << 20, threads);
    printf("cpu: %s; threads %d; reps %d; read bandwidth %.1f GB/s (same process)\n", f.model, threads, reps,
           read_gbps);
    printf("one layer, one decode step (view + attention); times in us; overheads of fused against fp16 / fp32;\n"
           "once = fused=once (each page checked at its first read); err = max |fused - decoded| / max |decoded|\n");
    const struct qins_attn_bench_shape shapes[] = {{"stories260K", 8, 4, 8}, {"phi3.5-mini", 32, 32, 96}};
    printf("%-12s %-6s %5s %8s %8s %8s %8s %8s %7s %7s %6s %6s %8s %8s %8s %8s %9s\n", "shape", "codec", "ctx", "fp32",
           "fp16", "decode", "fused", "once", "GB/s", "%bw", "x dec", "x once", "ovh16%", "ovh32%", "once16%",
           "once32%", "err");
    for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++)
        for (int c = 0; c < n_ctx; c++)
            for (int k = 0; k < n_spec; k++) {
                char spec[2048];
                if (snprintf(spec, sizeof spec, "%s%s%s", spc[k], *opts ? ":" : "", opts) >= (int)sizeof spec) return 2;
                struct qins_attn_bench_row r;
                if (qins_attn_bench_run(&shapes[s], atoi(ctx[c]), spec, threads, reps, read_gbps, &r) < 0) return 1;
                printf("%-12s %-6s %5d %8.1f %8.1f %8.1f %8.1f %8.1f %7.2f %6.1f%% %6.2f %6.2f %8.1f %8.1f %8.1f "
                       "%8.1f %9.2e  [%s]\n",
                       r.shape, spc[k], r.n_ctx, r.t_fp32 * 1e6, r.t_fp16 * 1e6, r.t_decode * 1e6, r.t_fused * 1e6,
                       r.t_fused_once * 1e6, r.gbps_fused, r.frac_fused * 100, r.speedup_vs_decode,
                       r.t_decode / r.t_fused_once, r.overhead_vs_fp16_pct, r.overhead_vs_fp32_pct,
                       r.overhead_once_vs_fp16_pct, r.overhead_once_vs_fp32_pct, r.max_rel_err, r.isa);
            }
    return 0;
}
