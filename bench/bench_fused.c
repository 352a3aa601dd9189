// bench/bench_fused.c — qins-bench-fused: the fused codec kernels (kernels/fused_matmul.h) at
// stories260K's and Phi-3.5-mini's shapes against the separate ops (decode to FP32 + sgemv /
// the slot path), plain FP32 and the engine's F16/Q8_0 kernels, as core/fused_bench.h measures
// them (median of reps; bytes moved, GB/s, fraction of the read probe, speedups, FP64 error).
// Usage: qins-bench-fused [--quick] [--threads N] [--isa scalar|avx2|avx512]
//                         [--lut auto|permute|gather] [--reps R] [--batch B]
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "cpu_features.h"
#include "fused_bench.h"
#include "fused_matmul.h"
#include "matmul.h"
#include "membw.h"
#include "model.h"

static const struct { const char *name; int rows, cols; } shapes[] = {
    {"s260k.q", 64, 64},      {"s260k.up", 172, 64}, {"s260k.down", 64, 172}, {"s260k.out", 512, 64},
    {"phi.o", 3072, 3072},    {"phi.up", 8192, 3072}, {"phi.down", 3072, 8192}};
#define N_SHAPES 7
#define FIRST_PHI 4

struct codec_case { const char *codec, *gran; };
// --quick: a few codecs, every shape; the full run: every codec x k at row and group64 scales.
static const struct codec_case quick_small[] = {{"qins8", "row"}, {"int8", "row"}, {"qins6", "row"}, {"nf4", "group32"}};
static const struct codec_case quick_phi[] = {{"qins8", "row"}, {"qins4", "group64"}};

static int run_case(const char *shape, int rows, int cols, const struct codec_case *cc, int batch, int reps,
                    double read_gbps, int *baselines_done) {
    struct qins_fb_spec s = {.rows = rows, .cols = cols, .batch = batch, .reps = reps, .read_gbps = read_gbps,
                             .huffman = batch == 1};
    qins_codec_params_default(&s.p);
    if (qins_codec_parse(cc->codec, &s.p) < 0 || qins_codec_parse_granularity(cc->gran, &s.p) < 0) return -1;
    struct qins_fb_row r[QINS_FB_N_OPS];
    if (qins_fb_run(&s, r, QINS_FB_N_OPS, NULL) < 0) return -1;
    char sh[32];
    snprintf(sh, sizeof sh, "%dx%d", rows, cols);
    for (int op = 0; op < QINS_FB_N_OPS; op++) {
        const bool codec_op = op <= QINS_FB_SEP_SLOT;
        if (!codec_op && *baselines_done) continue; // the same at every codec of a shape
        if (r[op].skipped) {
            printf("%-8s %-7s %2d %-8s %-10s %-10s %5d | skipped: %s\n", qins_fb_op_name(r[op].op),
                   codec_op ? cc->codec : "-", codec_op ? s.p.bits : 0, codec_op ? cc->gran : "-", shape, sh, batch, r[op].why);
            continue;
        }
        printf("%-8s %-7s %2d %-8s %-10s %-10s %5d | %9.4f %7.2f %6.1f %7.2fx %7.2fx %9.2e %9.2e\n",
               qins_fb_op_name(r[op].op), codec_op ? cc->codec : "-", codec_op ? s.p.bits : 0, codec_op ? cc->gran : "-", shape, sh, batch,
               r[op].seconds * 1e3, r[op].gbps, 100 * r[op].roofline, r[op].speedup_vs_separate, r[op].speedup_vs_f32,
               r[op].max_rel_err, r[op].l2_rel_err);
    }
    *baselines_done = 1;
    fflush(stdout);
    return 0;
}

int main(int argc, char **argv) {
    int quick = 0, threads = 1, reps = 0, batch = 64;
    const char *isa = NULL, *lut = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--quick")) quick = 1;
        else if (!strcmp(argv[i], "--threads") && i + 1 < argc) threads = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--reps") && i + 1 < argc) reps = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--batch") && i + 1 < argc) batch = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--isa") && i + 1 < argc) isa = argv[++i];
        else if (!strcmp(argv[i], "--lut") && i + 1 < argc) lut = argv[++i];
        else {
            fprintf(stderr, "usage: qins-bench-fused [--quick] [--threads N] [--isa scalar|avx2|avx512] "
                            "[--lut auto|permute|gather] [--reps R] [--batch 2..256]\n");
            return 2;
        }
    }
    if (!reps) reps = quick ? 3 : 7;
    if (threads < 1 || threads > 256 || reps < 1 || reps > 1000 || batch < 2 || batch > 256) {
        fprintf(stderr, "qins-bench-fused: --threads 1..256, --reps 1..1000, --batch 2..256\n");
        return 2;
    }
    if (isa) {
        const enum qins_isa want = !strcmp(isa, "scalar") ? QINS_ISA_SCALAR : !strcmp(isa, "avx2") ? QINS_ISA_AVX2
                                 : !strcmp(isa, "avx512") ? QINS_ISA_AVX512 : QINS_ISA_AUTO;
        if (want == QINS_ISA_AUTO) {
            fprintf(stderr, "qins-bench-fused: --isa must be scalar, avx2 or avx512, got '%s'\n", isa);
            return 2;
        }
        qins_matmul_set_isa(want);
    }
    if (lut) {
        const enum qins_fused_lut want = !strcmp(lut, "permute") ? QINS_FUSED_LUT_PERMUTE
                                       : !strcmp(lut, "gather")  ? QINS_FUSED_LUT_GATHER
                                       : !strcmp(lut, "auto")    ? QINS_FUSED_LUT_AUTO : (enum qins_fused_lut)-1;
        if ((int)want < 0) {
            fprintf(stderr, "qins-bench-fused: --lut must be auto, permute or gather, got '%s'\n", lut);
            return 2;
        }
        qins_fused_set_lut(want);
    }
    qins_set_threads(threads);
    struct qins_cpu_features f;
    qins_cpu_features_get(&f);
    const double read_gbps = qins_measure_read_gbps((size_t)threads * (256u << 20), threads);
    printf("cpu %s | kernels %s | lut k6 %s, k8 %s | threads %d | read probe %.2f GB/s | median of %d\n", f.model,
           qins_isa_name(qins_matmul_isa()), qins_fused_lut_in_use(6) == QINS_FUSED_LUT_GATHER ? "gather" : "permute",
           qins_fused_lut_in_use(8) == QINS_FUSED_LUT_GATHER ? "gather" : "permute", threads, read_gbps, reps);
    printf("%-8s %-7s %2s %-8s %-10s %-10s %5s | %9s %7s %6s %8s %8s %9s %9s\n", "op", "codec", "k", "gran", "shape",
           "rows x cols", "batch", "ms", "GB/s", "%roof", "vs sep", "vs FP32", "max rel", "l2 rel");
    static const char *codecs[] = {"int", "nf", "qins"};
    static const int ks[] = {4, 6, 8};
    static const char *grans[] = {"row", "group64"};
    int status = 0;
    for (int si = 0; si < N_SHAPES; si++) {
        int done = 0;
        if (quick) {
            const struct codec_case *cs = si < FIRST_PHI ? quick_small : quick_phi;
            const int n = si < FIRST_PHI ? (int)(sizeof quick_small / sizeof *cs) : (int)(sizeof quick_phi / sizeof *cs);
            for (int i = 0; i < n; i++)
                status |= run_case(shapes[si].name, shapes[si].rows, shapes[si].cols, &cs[i], 1, reps, read_gbps, &done);
        } else {
            char name[3][3][16];
            for (int c = 0; c < 3; c++)
                for (int k = 0; k < 3; k++)
                    for (int g = 0; g < 2; g++) {
                        snprintf(name[c][k], sizeof name[c][k], "%s%d", codecs[c], ks[k]);
                        const struct codec_case cc = {name[c][k], grans[g]};
                        status |= run_case(shapes[si].name, shapes[si].rows, shapes[si].cols, &cc, 1, reps, read_gbps, &done);
                    }
        }
        // a prompt batch: the tile-decode GEMM against decode + sgemm and sgemm on FP32
        const struct codec_case gc = {"qins8", "row"};
        int gdone = 0;
        if (!quick || si == FIRST_PHI)
            status |= run_case(shapes[si].name, shapes[si].rows, shapes[si].cols, &gc, batch, reps, read_gbps, &gdone);
    }
    if (status) fprintf(stderr, "qins-bench-fused: some cases failed (see the messages above)\n");
    return status ? 1 : 0;
}
