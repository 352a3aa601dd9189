// bench/bench_codecs.c — qins-bench-codecs: every codec x k x granularity on Gaussian, Laplacian,
// the default model's weights and its real KV cache: encode/decode GB/s (FP32 bytes per second),
// bits/value including metadata, RMSE, relative L2, max error relative to absmax, code entropy
// and Huffman bits/value; memcpy GB/s measured in the same run; Huffman, RLE+Huffman and zstd
// (levels 3, 19: the general-purpose anchor) sizes and decode speeds on the same 8-bit codes.
// Usage: qins-bench-codecs [--model PATH] [--csv FILE] [--alpha A] [--kv-tokens N] [--quick]
//        [--kv-file F32FILE --kv-dim D]   (raw float32 KV rows instead of running the model)
#include <csv.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "blas.h"
#include "coding_cost.h"
#include "codec.h"
#include "util.h"
#include "zstd_anchor.h"
#include "eval.h"
#include "gguf.h"
#include "huffman.h"
#include "kv.h"
#include "lut_decode.h"
#include "membw.h"
#include "model.h"
#include "pack.h"
#include "paths.h"

struct block {
    const float *x; // (rows, cols)
    size_t rows, cols;
};

struct dataset {
    char name[32];
    struct block *b;
    size_t n, cap_b;
    size_t n_values;
    float **owned;
    size_t n_owned, cap_owned;
};

// A benchmark binary stops at the first allocation failure (the message is already logged).
static void ds_add(struct dataset *d, const float *x, size_t rows, size_t cols) {
    if (qins_grow(&d->b, &d->cap_b, d->n + 1, sizeof *d->b) < 0) exit(1);
    d->b[d->n++] = (struct block){x, rows, cols};
    d->n_values += rows * cols;
}

static void ds_own(struct dataset *d, float *p) {
    if (qins_grow(&d->owned, &d->cap_owned, d->n_owned + 1, sizeof *d->owned) < 0) exit(1);
    d->owned[d->n_owned++] = p;
}

static void ds_free(struct dataset *d) {
    for (size_t i = 0; i < d->n_owned; i++) free(d->owned[i]);
    free(d->owned);
    free(d->b);
}

// ---- synthetic data (splitmix64 + Box-Muller / inverse CDF)
static uint64_t rng_s = 12345;
static double urand(void) {
    uint64_t z = (rng_s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
    return ((double)(z >> 11) + 0.5) / 9007199254740992.0;
}

static void make_synthetic(struct dataset *d, const char *name, int laplace, size_t rows, size_t cols) {
    snprintf(d->name, sizeof d->name, "%s", name);
    float *x = malloc(rows * cols * sizeof *x);
    for (size_t i = 0; i < rows * cols; i++) {
        if (laplace) {
            double u = urand() - 0.5;
            x[i] = (float)(u < 0 ? log(1 + 2 * u) : -log(1 - 2 * u));
        } else {
            x[i] = (float)(sqrt(-2 * log(urand())) * cos(6.283185307179586 * urand()));
        }
    }
    ds_own(d, x);
    ds_add(d, x, rows, cols);
}

static int load_weights(struct dataset *d, const char *path) {
    snprintf(d->name, sizeof d->name, "weights");
    qins_gguf_t *g;
    QINS_TRY(qins_gguf_open(path, &g));
    for (uint64_t i = 0; i < qins_gguf_n_tensors(g); i++) {
        const struct qins_gguf_tensor *t = qins_gguf_tensor_at(g, i);
        if (t->n_dims != 2) continue; // norms are 1-D vectors, kept FP32 by every policy
        float *x = malloc(t->n_elements * sizeof *x);
        int rc = x ? qins_gguf_tensor_to_f32(t, x) : QINS_ERR_NOMEM;
        if (rc < 0) {
            free(x);
            qins_gguf_free(g);
            return rc;
        }
        ds_own(d, x);
        ds_add(d, x, t->ne[1], t->ne[0]);
    }
    qins_gguf_free(g);
    return QINS_OK;
}

// Runs greedy generation from BOS with an FP32 cache, then cuts every layer's K and V into pages
// of `page` tokens (the KV store's unit): per-tensor granularity = per page.
static int capture_kv(struct dataset *d, const char *path, int n_tok, int page) {
    snprintf(d->name, sizeof d->name, "kv");
    struct qins_model *m;
    QINS_TRY(qins_model_load(path, &m));
    int kv_dim = m->hp.n_head_kv * m->hp.head_dim, rc;
    struct qins_kv_store *kv = NULL;
    struct qins_state *s = NULL;
    int32_t prompt[1] = {1}, *ids = malloc((size_t)n_tok * sizeof *ids);
    rc = qins_kv_store_fp32_init(m->hp.n_layer, n_tok + 1, kv_dim, &kv);
    if (rc == 0) rc = qins_state_init(m, n_tok + 1, 1, kv, &s);
    if (rc == 0) rc = qins_generate_greedy(m, s, prompt, 1, n_tok, -1, ids, NULL, NULL);
    if (rc >= 0) {
        int n_pos = kv->n_pos;
        for (int l = 0; l < m->hp.n_layer; l++) {
            const float *k, *v;
            rc = qins_kv_view(kv, l, n_pos, &k, &v);
            if (rc < 0) break;
            float *copy = malloc((size_t)2 * n_pos * kv_dim * sizeof *copy);
            memcpy(copy, k, (size_t)n_pos * kv_dim * sizeof *copy);
            memcpy(copy + (size_t)n_pos * kv_dim, v, (size_t)n_pos * kv_dim * sizeof *copy);
            ds_own(d, copy);
            for (int half = 0; half < 2; half++)
                for (int p0 = 0; p0 < n_pos; p0 += page) {
                    int pr = n_pos - p0 < page ? n_pos - p0 : page;
                    ds_add(d, copy + ((size_t)half * n_pos + p0) * kv_dim, pr, kv_dim);
                }
        }
        printf("# kv: %d tokens generated from BOS, %d layers, kv_dim %d, pages of %d tokens\n", n_pos,
               m->hp.n_layer, kv_dim, page);
    }
    free(ids);
    qins_state_free(s);
    qins_kv_free(kv);
    qins_model_free(m);
    return rc < 0 ? rc : QINS_OK;
}

static int load_kv_file(struct dataset *d, const char *file, int kv_dim, int page) {
    snprintf(d->name, sizeof d->name, "kv-file");
    FILE *f = fopen(file, "rb");
    QINS_CHECK(f, QINS_ERR_IO, "cannot open %s", file);
    fseek(f, 0, SEEK_END);
    long sz = ftell(f);
    fseek(f, 0, SEEK_SET);
    size_t rows = (size_t)sz / 4 / (size_t)kv_dim;
    float *x = malloc(rows * (size_t)kv_dim * 4 + 4);
    size_t got = fread(x, 4, rows * (size_t)kv_dim, f);
    fclose(f);
    if (got != rows * (size_t)kv_dim || rows == 0) {
        free(x);
        QINS_CHECK(0, QINS_ERR_IO, "%s: read %zu floats, want %zu x %d", file, got, rows, kv_dim);
    }
    ds_own(d, x);
    for (size_t r = 0; r < rows; r += (size_t)page)
        ds_add(d, x + r * (size_t)kv_dim, rows - r < (size_t)page ? rows - r : (size_t)page, (size_t)kv_dim);
    return QINS_OK;
}

// ---- one measurement
struct result {
    double enc_gbps, dec_gbps, bpv, rmse, rel_l2, max_err_rel, entropy, huff_bpv;
    size_t bytes;
};

static double min_time_budget = 0.02; // seconds of timed passes per measurement

static int measure(const struct qins_codec_params *p, const struct dataset *d, struct result *res) {
    size_t total = 0, *off = malloc((size_t)(d->n + 1) * sizeof *off);
    for (size_t i = 0; i < d->n; i++) {
        off[i] = total;
        total += qins_codec_encoded_bytes(p, d->b[i].rows, d->b[i].cols);
    }
    off[d->n] = total;
    uint8_t *buf = malloc(total + 1);
    float *y = malloc(d->n_values * sizeof *y);
    int rc = 0;
    // Encode: one warm-up pass (checks status), then passes until the budget; the best pass counts.
    double best = 1e30;
    for (int pass = 0, timed = 0; rc == 0; pass++) {
        double t0 = qins_time_now();
        for (size_t i = 0; i < d->n && rc == 0; i++)
            rc = qins_codec_encode(p, d->b[i].x, d->b[i].rows, d->b[i].cols, buf + off[i], off[i + 1] - off[i]);
        double dt = qins_time_now() - t0;
        if (pass > 0) {
            best = dt < best ? dt : best;
            timed++;
            if (timed >= 2 && best * timed > min_time_budget) break;
        }
    }
    if (rc < 0) goto out;
    res->enc_gbps = (double)d->n_values * 4 / best / 1e9;
    best = 1e30;
    for (int pass = 0, timed = 0; rc == 0; pass++) {
        double t0 = qins_time_now();
        size_t o = 0;
        for (size_t i = 0; i < d->n && rc == 0; i++) {
            rc = qins_codec_decode(p, buf + off[i], off[i + 1] - off[i], d->b[i].rows, d->b[i].cols, y + o);
            o += d->b[i].rows * d->b[i].cols;
        }
        double dt = qins_time_now() - t0;
        if (pass > 0) {
            best = dt < best ? dt : best;
            timed++;
            if (timed >= 3 && best * timed > min_time_budget) break;
        }
    }
    if (rc < 0) goto out;
    res->dec_gbps = (double)d->n_values * 4 / best / 1e9;
    // Errors against the original, over the whole dataset.
    double se = 0, sx = 0, maxe = 0, amax = 0;
    size_t o = 0;
    for (size_t i = 0; i < d->n; i++) {
        size_t n = d->b[i].rows * d->b[i].cols;
        for (size_t j = 0; j < n; j++) {
            double x = d->b[i].x[j], e = fabs(x - y[o + j]);
            se += e * e, sx += x * x;
            maxe = e > maxe ? e : maxe;
            amax = fabs(x) > amax ? fabs(x) : amax;
        }
        o += n;
    }
    res->bytes = total;
    res->bpv = 8.0 * (double)total / (double)d->n_values;
    res->rmse = sqrt(se / (double)d->n_values);
    res->rel_l2 = sx > 0 ? sqrt(se / sx) : 0;
    res->max_err_rel = amax > 0 ? maxe / amax : 0;
    res->entropy = res->huff_bpv = NAN;
    if (qins_codec_is_lossy(p)) {
        // Code statistics over the concatenated code stream; Huffman bits/value replaces the
        // packed codes by the Huffman stream (table included) and keeps the scale bytes.
        uint16_t *codes = malloc(d->n_values * sizeof *codes);
        size_t meta = 0;
        o = 0;
        for (size_t i = 0; i < d->n && rc == 0; i++) {
            size_t n = d->b[i].rows * d->b[i].cols;
            rc = qins_codec_unpack_codes(p, buf + off[i], off[i + 1] - off[i], d->b[i].rows, d->b[i].cols, codes + o);
            meta += (off[i + 1] - off[i]) - qins_pack_bytes(n, p->bits);
            o += n;
        }
        struct qins_coding_sizes cs;
        if (rc == 0) rc = qins_coding_sizes(codes, 1, d->n_values, p->bits, meta, 0, &cs);
        if (rc == 0) {
            res->entropy = cs.entropy;
            res->huff_bpv = qins_coding_bits_per_value(cs.huffman_bytes, cs.n);
        }
        free(codes);
    }
out:
    free(off), free(buf), free(y);
    return rc;
}

// ---- output
static FILE *csv;

static void csv_field(const char *s, int last) {
    csv_fwrite(csv, s, strlen(s));
    fputc(last ? '\n' : ',', csv);
}

static void emit(const char *ds, const struct qins_codec_params *p, const struct result *r, double memcpy_gbps,
                 size_t n_values) {
    char name[32], gran[32];
    qins_codec_name(p, name, sizeof name);
    if (qins_codec_is_lossy(p)) qins_codec_granularity_name(p, gran, sizeof gran);
    else snprintf(gran, sizeof gran, "-");
    char alpha[16] = "-";
    if (p->codec == QINS_CODEC_QINS) snprintf(alpha, sizeof alpha, "%g", (double)p->alpha);
    printf("%-9s %-9s %5s %-9s %7.3f %8.3f %8.3f %6.1f%% %10.3e %9.3e %9.3e %7.3f %7.3f\n", ds, name, alpha, gran,
           r->bpv, r->enc_gbps, r->dec_gbps, 100 * r->dec_gbps / memcpy_gbps, r->rmse, r->rel_l2, r->max_err_rel,
           r->entropy, r->huff_bpv);
    if (!csv) return;
    char v[17][48];
    snprintf(v[0], 48, "%s", ds);
    snprintf(v[1], 48, "%s", name);
    snprintf(v[2], 48, "%d", p->bits);
    snprintf(v[3], 48, "%s", alpha);
    snprintf(v[4], 48, "%s", gran);
    snprintf(v[5], 48, "%zu", n_values);
    snprintf(v[6], 48, "%zu", r->bytes);
    snprintf(v[7], 48, "%.6f", r->bpv);
    snprintf(v[8], 48, "%.6f", r->enc_gbps);
    snprintf(v[9], 48, "%.6f", r->dec_gbps);
    snprintf(v[10], 48, "%.6e", r->rmse);
    snprintf(v[11], 48, "%.6e", r->rel_l2);
    snprintf(v[12], 48, "%.6e", r->max_err_rel);
    snprintf(v[13], 48, "%.6f", r->entropy);
    snprintf(v[14], 48, "%.6f", r->huff_bpv);
    snprintf(v[15], 48, "%.6f", memcpy_gbps);
    snprintf(v[16], 48, "%s", p->scale_mode == QINS_SCALE_RMS ? "rms" : "absmax");
    for (int i = 0; i < 17; i++) csv_field(v[i], i == 16);
}

// Entropy-coding decode throughput over the 8-bit codes of a dataset: Huffman, RLE+Huffman and
// the general-purpose anchor zstd (levels 3 and 19) on the same codes as bytes. Speeds are codes
// per second, also as GB/s of the FP32 values they stand for, against memcpy in the same run.
static void bench_huffman(const struct dataset *d, const char *spec, double memcpy_gbps) {
    struct qins_codec_params p;
    qins_codec_params_default(&p);
    qins_codec_parse(spec, &p);
    p.granularity = QINS_GRAN_PER_GROUP;
    p.group_size = 128;
    uint16_t *codes = malloc(d->n_values * sizeof *codes), *out = malloc(d->n_values * sizeof *out);
    size_t o = 0;
    for (size_t i = 0; i < d->n; i++) {
        size_t n = d->b[i].rows * d->b[i].cols, ng = qins_codec_n_groups(&p, d->b[i].rows, d->b[i].cols);
        float *sc = malloc((2 * ng + 1) * sizeof *sc);
        qins_codec_quantize(&p, d->b[i].x, d->b[i].rows, d->b[i].cols, codes + o, sc, sc + ng);
        free(sc);
        o += n;
    }
    for (int rle = 0; rle < 2; rle++) {
        size_t sz, got;
        qins_huffman_encode(codes, d->n_values, 256, rle, NULL, 0, &sz);
        uint8_t *buf = malloc(sz);
        double t0 = qins_time_now();
        qins_huffman_encode(codes, d->n_values, 256, rle, buf, sz, &sz);
        double tenc = qins_time_now() - t0, best = 1e30;
        int ok = 1;
        for (int rep = 0; rep < 5; rep++) {
            t0 = qins_time_now();
            ok &= qins_huffman_decode(buf, sz, out, d->n_values, &got) == 0;
            double dt = qins_time_now() - t0;
            best = dt < best ? dt : best;
        }
        ok &= memcmp(out, codes, d->n_values * 2) == 0;
        printf("huffman %-9s %-7s %-4s: %.3f bits/code (table incl.), encode %.0f Msym/s, decode %.0f Msym/s "
               "(= MB/s of 8-bit codes; %.2f GB/s as FP32, %.0f %% of memcpy)%s\n",
               d->name, spec, rle ? "rle" : "", 8.0 * sz / d->n_values, d->n_values / tenc / 1e6,
               d->n_values / best / 1e6, 4e-9 * d->n_values / best, 400e-9 * d->n_values / best / memcpy_gbps,
               ok ? "" : "  ROUND TRIP FAILED");
        free(buf);
    }
    uint8_t *bytes = malloc(d->n_values);
    for (size_t i = 0; i < d->n_values; i++) bytes[i] = (uint8_t)codes[i];
    const int levels[2] = {3, 19};
    for (int l = 0; l < 2; l++) {
        struct qins_zstd_result z;
        if (qins_zstd_measure(bytes, d->n_values, levels[l], 5, &z) < 0) {
            printf("zstd-%-2d   %-9s %-7s     : FAILED (see the error above)\n", levels[l], d->name, spec);
            continue;
        }
        printf("zstd-%-2d   %-9s %-7s     : %.3f bits/code (frame incl.), encode %.0f Msym/s, decode %.0f Msym/s "
               "(%.2f GB/s as FP32, %.0f %% of memcpy)\n",
               levels[l], d->name, spec, 8.0 * z.out_bytes / d->n_values, d->n_values / z.compress_s / 1e6,
               d->n_values / z.decompress_s / 1e6, 4e-9 * d->n_values / z.decompress_s,
               400e-9 * d->n_values / z.decompress_s / memcpy_gbps);
    }
    free(bytes), free(codes), free(out);
}

int main(int argc, char **argv) {
    qins_blas_select(argc, argv); // a wrong OpenBLAS core: re-exec once with the right one
    const char *model = "stories260K.gguf", *csv_path = NULL, *kv_file = NULL;
    float alpha = QINS_CODEC_DEFAULT_ALPHA;
    int kv_tokens = 256, kv_dim_file = 0, quick = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--model") && i + 1 < argc) model = argv[++i];
        else if (!strcmp(argv[i], "--csv") && i + 1 < argc) csv_path = argv[++i];
        else if (!strcmp(argv[i], "--alpha") && i + 1 < argc) alpha = strtof(argv[++i], NULL);
        else if (!strcmp(argv[i], "--kv-tokens") && i + 1 < argc) kv_tokens = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--kv-file") && i + 1 < argc) kv_file = argv[++i];
        else if (!strcmp(argv[i], "--kv-dim") && i + 1 < argc) kv_dim_file = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--quick")) quick = 1;
        else {
            fprintf(stderr,
                    "usage: %s [--model PATH] [--csv FILE] [--alpha A] [--kv-tokens N] [--kv-file F --kv-dim D] "
                    "[--quick]\n",
                    argv[0]);
            return 2;
        }
    }
    char path[1024];
    if (qins_path_resolve(QINS_PATH_MODEL, model, path, sizeof path) < 0) {
        fprintf(stderr, "qins-bench-codecs: %s\n", qins_last_error());
        return 1;
    }
    size_t syn_rows = quick ? 256 : 1024, syn_cols = 4096;
    struct dataset ds[4];
    memset(ds, 0, sizeof ds);
    make_synthetic(&ds[0], "gauss", 0, syn_rows, syn_cols);
    make_synthetic(&ds[1], "laplace", 1, syn_rows, syn_cols);
    int rc = load_weights(&ds[2], path);
    if (rc == 0) rc = kv_file ? load_kv_file(&ds[3], kv_file, kv_dim_file, 64) : capture_kv(&ds[3], path, kv_tokens, 64);
    if (rc < 0) {
        fprintf(stderr, "qins-bench-codecs: %s\n", qins_last_error());
        return 1;
    }
    if (csv_path) {
        csv = fopen(csv_path, "w");
        if (!csv) {
            fprintf(stderr, "qins-bench-codecs: cannot write %s\n", csv_path);
            return 1;
        }
        const char *hdr[] = {"dataset", "codec", "bits", "alpha", "granularity", "n_values", "stored_bytes",
                             "bits_per_value", "encode_gbps", "decode_gbps", "rmse", "rel_l2", "max_err_rel",
                             "entropy_bits", "huffman_bits_per_value", "memcpy_gbps", "scale_mode"};
        for (int i = 0; i < 17; i++) csv_field(hdr[i], i == 16);
    }
    // memcpy at the size of the synthetic decode output and of a DRAM-sized buffer, one thread.
    double mc = qins_measure_memcpy_gbps(syn_rows * syn_cols * 4), mc_big = qins_measure_memcpy_gbps(256u << 20);
    printf("# model %s; alpha %g; one thread\n", path, (double)alpha);
    printf("# memcpy: %.2f GB/s at %zu MB (the working set of the synthetic rows; decode %% column), %.2f GB/s at "
           "256 MB\n", mc, syn_rows * syn_cols * 4 >> 20, mc_big);
    printf("# bits/value include FP16 scales; max_err = max|x-x^| / max|x|; huff = Huffman-coded codes + scales\n");
    printf("%-9s %-9s %5s %-9s %7s %8s %8s %7s %10s %9s %9s %7s %7s\n", "dataset", "codec", "alpha", "gran",
           "bits/v", "enc GB/s", "dec GB/s", "%memcpy", "rmse", "rel_l2", "max_err", "entropy", "huff");
    const char *floats[] = {"fp16", "bf16"};
    const char *lossy[] = {"int4", "nf4", "qins4", "int6", "nf6", "qins6", "qinslog6", "int8", "nf8", "qins8", "qinslog8"};
    const char *grans[] = {"tensor", "row", "column", "group32", "group128"};
    for (int di = 0; di < 4; di++) {
        struct dataset *d = &ds[di];
        for (int f = 0; f < 2; f++) {
            struct qins_codec_params p;
            qins_codec_params_default(&p);
            qins_codec_parse(floats[f], &p);
            struct result r;
            if (measure(&p, d, &r) == 0) emit(d->name, &p, &r, mc, d->n_values);
        }
        for (int gi = 0; gi < 5; gi++) {
            // Per-column scales are the KV "per channel" option; weights use rows/groups.
            if (gi == 2 && di != 3) continue;
            if (quick && gi != 4) continue;
            for (int ci = 0; ci < 11; ci++) {
                struct qins_codec_params p;
                qins_codec_params_default(&p);
                qins_codec_parse(lossy[ci], &p);
                qins_codec_parse_granularity(grans[gi], &p);
                p.alpha = alpha;
                struct result r;
                if (measure(&p, d, &r) == 0) emit(d->name, &p, &r, mc, d->n_values);
                else fprintf(stderr, "%s %s %s: %s\n", d->name, lossy[ci], grans[gi], qins_last_error());
            }
        }
    }
    // The LUT decode with the AVX2 gather switched off (scalar path), 8-bit QINS, synthetic rows.
    {
        struct qins_codec_params p;
        qins_codec_params_default(&p);
        qins_codec_parse("qins8", &p);
        qins_codec_parse_granularity("group128", &p);
        p.alpha = alpha;
        struct result r1, r0;
        measure(&p, &ds[0], &r1);
        qins_lut_decode_set_simd(0);
        measure(&p, &ds[0], &r0);
        qins_lut_decode_set_simd(1);
        printf("# qins8 group128 decode: %.2f GB/s AVX2 gather, %.2f GB/s scalar; memcpy %.2f GB/s -> %.0f%% / %.0f%%\n",
               r1.dec_gbps, r0.dec_gbps, mc, 100 * r1.dec_gbps / mc, 100 * r0.dec_gbps / mc);
    }
    bench_huffman(&ds[0], "int8", mc_big);
    bench_huffman(&ds[0], "qins8", mc_big);
    bench_huffman(&ds[2], "qins8", mc_big);
    if (csv) fclose(csv);
    for (int i = 0; i < 4; i++) ds_free(&ds[i]);
    return 0;
}
