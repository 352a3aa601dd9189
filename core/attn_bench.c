// core/attn_bench.c — decode-step attention timed over the four ways of keeping a layer's cache.
#include "attn_bench.h"

#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attn_coded.h"
#include "common.h"
#include "kv_paged.h"
#include "membw.h"
#include "util.h"

enum variant { V_FP32, V_FP16, V_DECODE, V_FUSED, V_FUSED_ONCE, V_COUNT };

struct bench {
    int H, Hkv, D, n, threads, block, group;
    struct qins_kv_store *st[V_COUNT];
    float *q, *scratch, *part, *att;  // att: (H, D)
};

// core/forward.c's decode step: (chunk, block) items over the threads, then per head the chunk
// partials merged in chunk order; the same work split and parallel threshold.
static int step(struct bench *b, enum variant v) {
    const int H = b->H, Hkv = b->Hkv, D = b->D, n = b->n, group = b->group, block = b->block;
    const int n_blocks = (Hkv + block - 1) / block, n_chunks = (n + QINS_ATTN_CHUNK - 1) / QINS_ATTN_CHUNK;
    const size_t scratch_floats = qins_attn_scratch_floats(block * group, D);
    struct qins_attn_paged pg;
    struct qins_attn_kv kv = {0};
    int coded = 0;
    if (v == V_FUSED || v == V_FUSED_ONCE) {
        coded = qins_kv_view_coded(b->st[v], 0, n, &pg);
        QINS_TRY(coded);
        QINS_CHECK(coded == 1, QINS_ERR_ARG, "attn bench: store '%s' has no coded view", b->st[v]->name);
    } else {
        enum qins_kv_elem type;
        QINS_TRY(qins_kv_view_native(b->st[v], 0, n, &type, &kv.k, &kv.v));
        kv.type = type == QINS_KV_ELEM_F16 ? QINS_ATTN_F16 : QINS_ATTN_F32;
        kv.stride = (size_t)Hkv * D;
    }
    float *po = b->part, *pm = po + (size_t)n_chunks * H * D, *pl = pm + (size_t)n_chunks * H;
    const float scale = 1.0f / sqrtf((float)D);
    const int parallel = b->threads > 1 && (size_t)n * Hkv * D >= 65536;
#pragma omp parallel num_threads(b->threads) if (parallel)
    {
        float *sc = b->scratch + (size_t)omp_get_thread_num() * scratch_floats;
#pragma omp for schedule(static)
        for (int item = 0; item < n_chunks * n_blocks; item++) {
            const int c = item / n_blocks, h0 = (item % n_blocks) * block, n_kv = Hkv - h0 < block ? Hkv - h0 : block;
            const int j = c * QINS_ATTN_CHUNK, len = n - j < QINS_ATTN_CHUNK ? n - j : QINS_ATTN_CHUNK;
            const size_t i0 = (size_t)c * H + (size_t)h0 * group;
            const float *q = b->q + (size_t)h0 * group * D;
            if (coded) {
                qins_attn_paged_chunk(q, n_kv, group, &pg, (size_t)j, (size_t)h0 * D, len, D, scale, sc, pm + i0,
                                      pl + i0, po + i0 * D, sc + (size_t)block * group * QINS_ATTN_CHUNK);
            } else {
                const struct qins_attn_kv ck = qins_attn_kv_at(&kv, (size_t)j, (size_t)h0 * D);
                qins_attn_chunk(q, n_kv, group, &ck, len, D, scale, sc, pm + i0, pl + i0, po + i0 * D);
            }
        }
#pragma omp for schedule(static)
        for (int i = 0; i < H; i++) {
            for (int c = 1; c < n_chunks; c++) {
                const size_t ic = (size_t)c * H + i;
                qins_attn_merge(1, D, pm + i, pl + i, po + (size_t)i * D, pm + ic, pl + ic, po + ic * D);
            }
            qins_attn_finish(1, D, pl + i, po + (size_t)i * D, b->att + (size_t)i * D);
        }
    }
    return 0;
}

static void fill(float *x, size_t n, uint32_t seed) {
    for (size_t i = 0; i < n; i++) {
        seed = seed * 1664525u + 1013904223u;
        x[i] = ((float)(seed >> 8) / 16777216.0f - 0.5f) * 2.0f;
    }
}

static void bench_free(struct bench *b) {
    for (int v = 0; v < V_COUNT; v++) qins_kv_free(b->st[v]);
    free(b->q), free(b->scratch), free(b->part), free(b->att);
}

static int bench_init(struct bench *b, const struct qins_attn_bench_shape *sh, int n_ctx, const char *spec,
                      int threads) {
    memset(b, 0, sizeof *b);
    QINS_CHECK(sh->n_head > 0 && sh->n_head_kv > 0 && sh->n_head % sh->n_head_kv == 0 && sh->head_dim > 0 &&
                   n_ctx > 0 && threads > 0,
               QINS_ERR_ARG, "attn bench: bad shape %dx%dx%d, context %d, %d threads", sh->n_head, sh->n_head_kv,
               sh->head_dim, n_ctx, threads);
    b->H = sh->n_head, b->Hkv = sh->n_head_kv, b->D = sh->head_dim, b->n = n_ctx, b->threads = threads;
    b->group = b->H / b->Hkv;
    // forward.c's blocking: whole KV groups up to QINS_ATTN_BLOCK_Q query heads
    int heads = b->group > QINS_ATTN_BLOCK_Q ? b->group : (QINS_ATTN_BLOCK_Q / b->group) * b->group;
    if (heads > b->H) heads = b->H;
    b->block = heads / b->group < b->Hkv ? heads / b->group : b->Hkv;
    const int kvd = b->Hkv * b->D;
    const char *suffix[V_COUNT] = {NULL, NULL, "", ":fused", ":fused=once"};
    for (int v = 0; v < V_COUNT; v++) {
        char text[160];
        snprintf(text, sizeof text, "%s%s", v == V_FP32 ? "fp32" : v == V_FP16 ? "fp16" : spec,
                 suffix[v] ? suffix[v] : "");
        struct qins_kv_spec ks;
        QINS_TRY(qins_kv_spec_parse(text, &ks));
        QINS_CHECK(v < V_DECODE || !ks.plain, QINS_ERR_ARG, "attn bench: '%s' is not a paged codec spec", spec);
        QINS_TRY(qins_kv_store_create(&ks, 1, n_ctx, kvd, &b->st[v]));
    }
    const int n_chunks = (n_ctx + QINS_ATTN_CHUNK - 1) / QINS_ATTN_CHUNK;
    float *k = malloc((size_t)n_ctx * kvd * 4), *vv = malloc((size_t)n_ctx * kvd * 4);
    b->q = malloc((size_t)b->H * b->D * 4);
    b->scratch = malloc((size_t)threads * qins_attn_scratch_floats(b->block * b->group, b->D) * 4);
    b->part = malloc((size_t)n_chunks * b->H * (b->D + 2) * 4);
    b->att = malloc((size_t)b->H * b->D * 4);
    int rc = k && vv && b->q && b->scratch && b->part && b->att ? 0 : QINS_ERR_NOMEM;
    if (rc == 0) {
        fill(k, (size_t)n_ctx * kvd, 1), fill(vv, (size_t)n_ctx * kvd, 2), fill(b->q, (size_t)b->H * b->D, 3);
        for (int v = 0; v < V_COUNT && rc == 0; v++) rc = qins_kv_append(b->st[v], 0, 0, n_ctx, k, vv);
    }
    free(k), free(vv);
    if (rc == QINS_ERR_NOMEM) QINS_CHECK(0, rc, "attn bench: out of memory");
    return rc;
}

// Median seconds of reps steps of each variant (after one warm-up step each) and its bytes per
// step; the rounds interleave the variants, so drift on a shared machine falls on all alike.
static int time_variants(struct bench *b, int reps, double *t, double *bytes) {
    double *ts = malloc((size_t)reps * V_COUNT * sizeof *ts);
    QINS_CHECK(ts, QINS_ERR_NOMEM, "attn bench: out of memory");
    int rc = 0;
    uint64_t r0[V_COUNT];
    for (int v = 0; v < V_COUNT && rc == 0; v++) rc = step(b, (enum variant)v), r0[v] = b->st[v]->bytes_read;
    for (int r = 0; r < reps && rc == 0; r++)
        for (int v = 0; v < V_COUNT && rc == 0; v++) {
            const double t0 = qins_time_now();
            rc = step(b, (enum variant)v);
            ts[(size_t)v * reps + r] = qins_time_now() - t0;
        }
    for (int v = 0; v < V_COUNT && rc == 0; v++) {
        t[v] = qins_median(ts + (size_t)v * reps, (size_t)reps);
        bytes[v] = (double)(b->st[v]->bytes_read - r0[v]) / reps;
    }
    free(ts);
    return rc;
}

int qins_attn_bench_run(const struct qins_attn_bench_shape *sh, int n_ctx, const char *spec, int threads, int reps,
                        double read_gbps, struct qins_attn_bench_row *out) {
    memset(out, 0, sizeof *out);
    QINS_CHECK(reps >= 1, QINS_ERR_ARG, "attn bench: reps %d", reps);
    struct bench b;
    int rc = bench_init(&b, sh, n_ctx, spec, threads);
    double t[V_COUNT] = {0}, by[V_COUNT] = {0};
    float *dec = rc == 0 ? malloc((size_t)b.H * b.D * 4) : NULL;
    if (rc == 0 && !dec) rc = QINS_ERR_NOMEM;
    // the error of the fused step against the decoded one, on the same query
    if (rc == 0) rc = step(&b, V_DECODE);
    if (rc == 0) memcpy(dec, b.att, (size_t)b.H * b.D * 4), rc = step(&b, V_FUSED);
    if (rc == 0) {
        double mx = 0, err = 0;
        for (size_t i = 0; i < (size_t)b.H * b.D; i++)
            mx = fmax(mx, fabs((double)dec[i])), err = fmax(err, fabs((double)b.att[i] - dec[i]));
        out->max_rel_err = mx > 0 ? err / mx : err;
    }
    if (rc == 0) rc = time_variants(&b, reps, t, by);
    free(dec);
    bench_free(&b);
    if (rc < 0) return rc;
    if (read_gbps <= 0) read_gbps = qins_measure_read_gbps((size_t)256 << 20, threads);
    snprintf(out->shape, sizeof out->shape, "%s", sh->name ? sh->name : "");
    snprintf(out->spec, sizeof out->spec, "%s", spec);
    out->n_head = sh->n_head, out->n_head_kv = sh->n_head_kv, out->head_dim = sh->head_dim, out->n_ctx = n_ctx;
    out->threads = threads, out->reps = reps;
    out->isa = !qins_attn_have_avx2() ? "scalar" : qins_attn_have_avx512() ? "avx512" : "avx2";
    out->t_fp32 = t[V_FP32], out->t_fp16 = t[V_FP16], out->t_decode = t[V_DECODE], out->t_fused = t[V_FUSED];
    out->t_fused_once = t[V_FUSED_ONCE];
    out->bytes_fp32 = by[V_FP32], out->bytes_fp16 = by[V_FP16], out->bytes_coded = by[V_FUSED];
    double *g[V_COUNT] = {&out->gbps_fp32, &out->gbps_fp16, &out->gbps_decode, &out->gbps_fused,
                          &out->gbps_fused_once};
    double *f[V_COUNT] = {&out->frac_fp32, &out->frac_fp16, &out->frac_decode, &out->frac_fused,
                          &out->frac_fused_once};
    out->read_gbps = read_gbps;
    for (int v = 0; v < V_COUNT; v++) {
        *g[v] = t[v] > 0 ? by[v] / t[v] / 1e9 : 0;
        *f[v] = read_gbps > 0 ? *g[v] / read_gbps : 0;
    }
    out->speedup_vs_decode = t[V_FUSED] > 0 ? t[V_DECODE] / t[V_FUSED] : 0;
    out->overhead_vs_fp16_pct = (t[V_FUSED] / t[V_FP16] - 1) * 100;
    out->overhead_vs_fp32_pct = (t[V_FUSED] / t[V_FP32] - 1) * 100;
    out->overhead_once_vs_fp16_pct = (t[V_FUSED_ONCE] / t[V_FP16] - 1) * 100;
    out->overhead_once_vs_fp32_pct = (t[V_FUSED_ONCE] / t[V_FP32] - 1) * 100;
    return 0;
}
