// bench/bench_kv.c — qins-bench-kv: decode latency of the KV stores on a real model. For each
// generated length (context) and store: median per-token greedy decode time with every store
// interleaved in the same process (FP32 first), the overhead against FP32, the per-page decode
// time (paged stores), and the time to read the whole cache once (all layers' views at the final
// length), so the overhead can be split into page decoding and everything else. First, the cost
// of the CRC-32C every page read verifies (one full page of the first paged store).
// Usage: qins-bench-kv [--model PATH] [--contexts 64,128,256,512] [--reps N] [--threads N]
//        [--variants fp16,int8,...] [--kv-options alpha=2:gran=token:page=16] [--scalar]
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "blas.h"
#include "common.h"
#include "util.h"
#include "config.h"
#include "eval.h"
#include "kv_paged.h"
#include "lut_decode.h"
#include "model.h"
#include "pack.h"
#include "page.h"
#include "paths.h"

#define MAX_V 24
#define MAX_C 8

struct items {
    char (*v)[128];
    int n, max;
};
static int collect(const char *item, size_t i, void *user) {
    struct items *it = user;
    (void)i;
    if (*item && it->n < it->max) snprintf(it->v[it->n++], 128, "%s", item);
    return 0;
}
static int split(const char *s, char items[][128], int max) {
    struct items it = {items, 0, max};
    qins_split_list(s, collect, &it, NULL);
    return it.n;
}

// The CRC-32C every page read verifies: checked against the scalar _ref, then timed over one
// full page of the first paged store (header + payload bytes as stored), against the _ref.
static int bench_page_crc(size_t page_bytes) {
    uint8_t *buf = malloc(page_bytes);
    if (!buf) return 1;
    for (size_t i = 0; i < page_bytes; i++) buf[i] = (uint8_t)(i * 2654435761u >> 13);
    if (qins_crc32c(0, buf, page_bytes) != qins_crc32c_ref(0, buf, page_bytes)) {
        fprintf(stderr, "qins-bench-kv: CRC-32C differs from its _ref\n");
        free(buf);
        return 1;
    }
    double us[2];
    volatile uint32_t sink = 0;
    for (int k = 0; k < 2; k++) {
        const int iters = k == 0 ? 200000 : 20000;
        const double t0 = qins_time_now();
        for (int i = 0; i < iters; i++) sink ^= k == 0 ? qins_crc32c(0, buf, page_bytes) : qins_crc32c_ref(0, buf, page_bytes);
        us[k] = 1e6 * (qins_time_now() - t0) / iters;
    }
    printf("page CRC-32C over %zu bytes: %.3f us (%.2f GB/s), scalar _ref %.3f us: %.1fx\n", page_bytes, us[0],
           page_bytes / us[0] / 1e3, us[1], us[1] / us[0]);
    (void)sink;
    free(buf);
    return 0;
}

int main(int argc, char **argv) {
    if (qins_blas_select(argc, argv) < 0) return 1; // a wrong OpenBLAS core: re-exec once with the right one
    const char *model_arg = "stories260K.gguf", *contexts = "64,128,256,512",
               *variants = "fp16,int8,int6,nf8,nf6,qins8,qins6", *options = "alpha=2:gran=token:page=16";
    int reps = 9, threads = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--scalar")) {
            qins_lut_decode_set_simd(0), qins_pack_set_simd(0);
            continue;
        }
        if (!v) {
            fprintf(stderr, "qins-bench-kv: %s needs a value (see the header of bench/bench_kv.c)\n", a);
            return 2;
        }
        if (!strcmp(a, "--model")) model_arg = v;
        else if (!strcmp(a, "--contexts")) contexts = v;
        else if (!strcmp(a, "--variants")) variants = v;
        else if (!strcmp(a, "--kv-options")) options = v;
        else if (!strcmp(a, "--reps")) reps = atoi(v);
        else if (!strcmp(a, "--threads")) threads = atoi(v);
        else {
            fprintf(stderr, "qins-bench-kv: unknown option %s\n", a);
            return 2;
        }
        i++;
    }
    if (reps < 3) reps = 3;
    char path[1200];
    if (qins_path_resolve(QINS_PATH_MODEL, model_arg, path, sizeof path) < 0) return 1;
    struct qins_model *m;
    if (qins_model_load(path, &m) < 0) return 1;
    if (threads > 0) qins_set_threads(threads);
    const struct qins_hparams *hp = &m->hp;
    const int kvd = hp->n_head_kv * hp->head_dim;

    char vnames[MAX_V][128], cnames[MAX_C][128];
    int nv = split(variants, vnames + 1, MAX_V - 1) + 1, nc = split(contexts, cnames, MAX_C);
    snprintf(vnames[0], sizeof vnames[0], "fp32");
    struct qins_kv_spec specs[MAX_V];
    for (int i = 0; i < nv; i++) {
        char text[256];
        const bool plain = !strchr(vnames[i], ':') && (!strcmp(vnames[i], "fp32") || !strcmp(vnames[i], "fp16"));
        snprintf(text, sizeof text, "%.120s%s%.120s", vnames[i], plain || !*options ? "" : ":", plain ? "" : options);
        if (qins_kv_spec_parse(text, &specs[i]) < 0) return 1;
    }
    printf("qins-bench-kv: %s (%d layers, kv width %d), %d repetitions (first = warm-up), paged options '%s'\n", path,
           hp->n_layer, kvd, reps, options);
    for (int i = 1; i < nv; i++) // one full page of the first paged store, as the store holds it
        if (!specs[i].plain) {
            const int pt = specs[i].page_tokens > 0 ? specs[i].page_tokens : 16;
            if (bench_page_crc(qins_page_kv_bytes(&specs[i].k, (size_t)pt, (size_t)kvd)) != 0) return 1;
            break;
        }
    printf("%-8s %-10s %12s %10s %14s %14s %14s\n", "context", "store", "us/token", "overhead", "page decode us",
           "read cache us", "read/token %");
    int32_t *ids = malloc(4097 * sizeof *ids);
    double *t = malloc((size_t)MAX_V * reps * sizeof *t);
    int rc = ids && t ? 0 : 1;
    for (int c = 0; rc == 0 && c < nc; c++) {
        const int n_gen = atoi(cnames[c]);
        if (n_gen < 1 || n_gen + 1 > hp->n_ctx_train || n_gen > 4096) {
            fprintf(stderr, "qins-bench-kv: context %d outside 1..%d\n", n_gen, hp->n_ctx_train - 1);
            rc = 1;
            break;
        }
        struct qins_kv_store *stores[MAX_V] = {0};
        struct qins_state *states[MAX_V] = {0};
        for (int i = 0; rc == 0 && i < nv; i++)
            if (qins_kv_store_create(&specs[i], hp->n_layer, n_gen + 1, kvd, &stores[i]) < 0 ||
                qins_state_init(m, n_gen + 1, 1, stores[i], &states[i]) < 0)
                rc = 1;
        int32_t bos = 1;
        for (int r = 0; rc == 0 && r < reps; r++)
            for (int i = 0; rc == 0 && i < nv; i++) {
                double t0 = qins_time_now();
                if (qins_generate_greedy(m, states[i], &bos, 1, n_gen, -1, ids, NULL, NULL) < 0) rc = 1;
                t[(size_t)i * reps + r] = (qins_time_now() - t0) / n_gen;
            }
        double base = 0;
        for (int i = 0; rc == 0 && i < nv; i++) {
            // the page statistics cover every repetition's generation; then read the full cache once
            struct qins_kv_paged_stats ps;
            const int paged = qins_kv_paged_stats(stores[i], &ps);
            double tv = qins_time_now();
            const int n_read = 20;
            for (int k = 0; k < n_read && rc == 0; k++)
                for (int l = 0; l < hp->n_layer && rc == 0; l++) {
                    const float *kc, *vc;
                    if (qins_kv_view(stores[i], l, stores[i]->n_pos, &kc, &vc) < 0) rc = 1;
                }
            tv = (qins_time_now() - tv) / n_read;
            const double med = qins_median_inplace(t + (size_t)i * reps + 1, (size_t)reps - 1);
            if (i == 0) base = med;
            char page[32] = "-";
            if (paged && ps.pages_decoded) snprintf(page, sizeof page, "%.3f", 1e6 * ps.decode_seconds / ps.pages_decoded);
            printf("%-8d %-10s %12.1f %+9.1f%% %14s %14.1f %13.1f%%\n", n_gen, vnames[i], med * 1e6,
                   100.0 * (med / base - 1.0), page, tv * 1e6, 100.0 * tv / base);
        }
        for (int i = 0; i < nv; i++) qins_state_free(states[i]), qins_kv_free(stores[i]);
    }
    free(ids), free(t);
    qins_model_free(m);
    return rc;
}
