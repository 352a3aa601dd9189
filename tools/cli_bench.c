// tools/cli_bench.c — `qins bench`: prompt-processing and generation tokens/s at 1 and 2
// threads, read as fractions of what the machine measures in the same process (read GB/s for
// generation, OpenBLAS sgemm GFLOP/s at the model's shapes for prompt processing); --kv picks the
// KV store (fp32 or fp16) every run reads, --weights the stored format or FP32 at load.
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "blas.h"
#include "cli.h"
#include "cli_util.h"
#include "common.h"
#include "util.h"
#include "json_out.h"
#include "membw.h"
#include "model.h"
#include "paths.h"

// Generation at cache depths: the cache is filled to a depth with synthetic K/V rows (the cost
// of attention does not depend on their values), then tg tokens are timed from there. Each of
// the reps runs every depth in turn, so a machine shared with other work slows all depths alike
// rather than whichever ran during a busy spell. Prints the median ms/token per depth and the
// extra time from the first to the last depth (median over reps of the paired difference)
// against what reading the extra KV bytes costs at read_gbps.
static void fill_to(struct qins_kv_store *kv, const float *rows, int depth) {
    qins_kv_clear(kv);
    for (int l = 0; l < kv->n_layer; l++)
        for (int p = 0; p < depth; p += 256) qins_kv_append(kv, l, p, depth - p < 256 ? depth - p : 256, rows, rows);
}

static void bench_depths(struct qins_model *m, struct qins_state *s, struct qins_kv_store *kv, const int *depths,
                         int n_depth, int tg, int reps, int nt, double read_gbps) {
    const int kvd = kv->kv_dim;
    float *rows = malloc((size_t)256 * kvd * sizeof(float));
    double *ms = malloc((size_t)n_depth * reps * sizeof *ms), *diff = malloc(reps * sizeof *diff);
    uint64_t *kv_read = calloc(n_depth, sizeof *kv_read), *kv_tok = calloc(n_depth, sizeof *kv_tok);
    if (!rows || !ms || !diff || !kv_read || !kv_tok) goto out;
    uint32_t seed = 12345;
    for (size_t i = 0; i < (size_t)256 * kvd; i++) {
        seed = seed * 1664525u + 1013904223u;
        rows[i] = ((float)(seed >> 8) / 16777216.0f - 0.5f) * 2.0f;
    }
    for (int r = 0; r < reps; r++)
        for (int di = 0; di < n_depth; di++) {
            const int depth = depths[di];
            fill_to(kv, rows, depth);
            int32_t t = 1;
            qins_forward(m, s, &t, 1, depth, false); // warm-up / first token
            const uint64_t read0 = kv->bytes_read, tok0 = m->counters.tokens;
            double t0 = qins_time_now();
            for (int i = 0; i < tg; i++) {
                t = (int32_t)(1 + (i * 7919) % (m->hp.n_vocab - 1));
                qins_forward(m, s, &t, 1, depth + 1 + i, false);
            }
            ms[(size_t)di * reps + r] = 1e3 * (qins_time_now() - t0) / tg;
            kv_read[di] += kv->bytes_read - read0, kv_tok[di] += m->counters.tokens - tok0;
        }
    for (int r = 0; r < reps; r++) diff[r] = ms[(size_t)(n_depth - 1) * reps + r] - ms[r];
    const double extra_ms = qins_median_inplace(diff, (size_t)reps);
    double med[8], kv_bytes[8];
    for (int di = 0; di < n_depth; di++) {
        med[di] = qins_median_inplace(ms + (size_t)di * reps, (size_t)reps);
        kv_bytes[di] = (double)kv_read[di] / (double)kv_tok[di];
        printf("threads %d: depth %d: tg%d %.2f ms/token, %.2f MB KV read/token\n", nt, depths[di], tg, med[di],
               kv_bytes[di] / 1e6);
    }
    if (n_depth > 1) {
        const double extra_bytes = kv_bytes[n_depth - 1] - kv_bytes[0], bw_ms = extra_bytes / (read_gbps * 1e9) * 1e3;
        printf("threads %d: depth %d -> %d: +%.2f ms/token; +%.2f MB KV read/token = %.2f ms at %.2f GB/s; ratio %.2f\n",
               nt, depths[0], depths[n_depth - 1], extra_ms, extra_bytes / 1e6, bw_ms, read_gbps, extra_ms / bw_ms);
    }
out:
    qins_kv_clear(kv);
    free(rows), free(ms), free(diff), free(kv_read), free(kv_tok);
}

// `qins sgemm M N K THREADS`: one OpenBLAS sgemm probe with the core this process loaded; prints
// "<core> <GFLOP/s>". The bench runs it as a child to measure a core it cannot load itself.
int qins_cli_sgemm(int argc, char **argv) {
    const int m = argc == 5 ? atoi(argv[1]) : 0, n = argc == 5 ? atoi(argv[2]) : 0, k = argc == 5 ? atoi(argv[3]) : 0,
              t = argc == 5 ? atoi(argv[4]) : 0;
    if (m < 1 || n < 1 || k < 1 || t < 1 || m > 65536 || n > 65536 || k > 65536 || t > 256) {
        fprintf(stderr, "usage: qins sgemm M N K THREADS (each >= 1)\n");
        return 2;
    }
    struct qins_blas_info b;
    qins_blas_info_get(&b);
    const double g = qins_measure_sgemm_gflops(m, n, k, t);
    if (g < 0) {
        fprintf(stderr, "qins sgemm: out of memory for %d x %d x %d\n", m, n, k);
        return 1;
    }
    printf("%s %.3f\n", b.core, g);
    return 0;
}

// sgemm GFLOP/s with another OpenBLAS core, measured in a child process: a core is fixed when the
// library loads. The child gets OPENBLAS_CORETYPE (always respected) and the re-exec guard.
// Returns < 0 when it cannot be measured.
static double sgemm_with_core(const char *core, int m, int n, int k, int threads) {
    char exe[1024];
    const ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (len <= 0) return -1;
    exe[len] = 0;
    if (strchr(exe, '\'')) return -1;
    for (const char *c = core; *c; c++)
        if (!isalnum((unsigned char)*c)) return -1;
    char cmd[1400], name[64];
    snprintf(cmd, sizeof cmd, "OPENBLAS_CORETYPE=%s QINS_BLAS_CORE= QINS_BLAS_REEXEC=1 '%s' sgemm %d %d %d %d", core, exe,
             m, n, k, threads);
    FILE *p = popen(cmd, "r");
    if (!p) return -1;
    double g = -1;
    if (fscanf(p, "%63s %lf", name, &g) != 2 || strcasecmp(name, core)) g = -1;
    return pclose(p) == 0 ? g : -1;
}

int qins_cli_bench(int argc, char **argv) {
    static const char *const options[] = {"--model", "--threads", "--pp", "--tg", "--reps", "--depth", "--kv", "--weights",
                                          NULL},
                             *const flags[] = {"--json", NULL};
    struct cli_args a = {"bench", argc, argv, options, flags, {0}, 0};
    if (cli_parse(&a) < 0) return 2;
    long pp, tg, reps;
    if (cli_int(&a, "--pp", 1, 4096, 128, &pp) < 0 || cli_int(&a, "--tg", 1, 4096, 64, &tg) < 0 ||
        cli_int(&a, "--reps", 1, 100, 5, &reps) < 0)
        return 2;
    const char *threads_spec = cli_opt(&a, "--threads") ? cli_opt(&a, "--threads") : "1,2";
    const char *name = cli_opt(&a, "--model") ? cli_opt(&a, "--model") : a.positional[0];
    char path[1024];
    struct qins_model *m;
    // --weights stored (default): matrices as the file stores them; f32: dequantised at load
    // (the engine before native kernels, kept as the reference path)
    const char *weights = cli_opt(&a, "--weights") ? cli_opt(&a, "--weights") : "stored";
    if (strcmp(weights, "stored") && strcmp(weights, "f32")) {
        fprintf(stderr, "qins bench: --weights must be stored or f32, got '%s'\n", weights);
        return 2;
    }
    const struct qins_model_opts mo = {.dequantize = !strcmp(weights, "f32")};
    if (qins_path_resolve(QINS_PATH_MODEL, name, path, sizeof path) < 0 || qins_model_load_opts(path, &mo, &m) < 0)
        return 1;
    const struct qins_hparams *hp = &m->hp;
    // --depth d1,d2,…: generation after the cache holds d positions (decode attention cost)
    int depths[8], n_depth = 0, max_depth = 0;
    if (cli_opt(&a, "--depth")) {
        char dspec[128];
        snprintf(dspec, sizeof dspec, "%s", cli_opt(&a, "--depth"));
        for (char *tok = strtok(dspec, ","); tok && n_depth < 8; tok = strtok(NULL, ",")) {
            int d = atoi(tok);
            if (d < 1) {
                fprintf(stderr, "qins bench: bad depth '%s'\n", tok);
                qins_model_free(m);
                return 2;
            }
            depths[n_depth++] = d;
            if (d > max_depth) max_depth = d;
        }
    }
    int ctx = (int)(pp + tg + 1);
    if (max_depth + tg + 1 > ctx) ctx = (int)(max_depth + tg + 1);
    if (ctx > hp->n_ctx_train) {
        fprintf(stderr, "qins bench: pp + tg = %d exceeds the model context %d\n", ctx, hp->n_ctx_train);
        qins_model_free(m);
        return 2;
    }
    // --kv fp32|fp16: the store every run reads (attention reads FP16 rows without converting)
    const char *kv_name = cli_opt(&a, "--kv") ? cli_opt(&a, "--kv") : "fp32";
    if (strcmp(kv_name, "fp32") && strcmp(kv_name, "fp16")) {
        fprintf(stderr, "qins bench: --kv is fp32 or fp16, not '%s'\n", kv_name);
        qins_model_free(m);
        return 2;
    }
    struct qins_kv_store *kv;
    struct qins_state *s;
    const int kvd = hp->n_head_kv * hp->head_dim;
    if ((strcmp(kv_name, "fp16") ? qins_kv_store_fp32_init(hp->n_layer, ctx, kvd, &kv)
                                 : qins_kv_store_fp16_init(hp->n_layer, ctx, kvd, &kv)) < 0 ||
        qins_state_init(m, ctx, (int)pp, kv, &s) < 0) {
        qins_model_free(m);
        return 1;
    }
    // matmul parameters: every slot (all tokens) and the output matrix (the last token only:
    // prompt processing computes one row of logits)
    const double out_params = (double)hp->n_vocab * hp->n_embd;
    double params = out_params;
    for (int l = 0; l < hp->n_layer; l++)
        for (int i = 0; i < QINS_SLOTS_PER_LAYER; i++) {
            struct qins_linear *lin = qins_model_slot(m, l, i);
            params += (double)lin->n_in * lin->n_out;
        }
    int32_t *tokens = malloc(pp * sizeof *tokens);
    for (long i = 0; i < pp; i++) tokens[i] = (int32_t)(1 + (i * 7919) % (hp->n_vocab - 1));
    double *samples = malloc(reps * sizeof *samples);
    const bool json = cli_flag(&a, "--json");
    const char *wtype = qins_wtype_name(m->layers[0].wq.wm.type);
    const size_t file_bytes = qins_gguf_file_size(m->gguf);
    if (!json)
        printf("model %s: %s, %d layers, embd %d, ffn %d, vocab %d, %.1f M matmul params (%.1f MB FP32); "
               "weights %s (%s in memory, %.1f MB), %s matmul kernels; kv store %s\n",
               path, hp->arch == QINS_ARCH_PHI3 ? "phi3" : "llama", hp->n_layer, hp->n_embd, hp->n_ff, hp->n_vocab,
               params / 1e6, params * 4 / 1e6, weights, wtype, m->weight_bytes_stored / 1e6,
               qins_isa_name(qins_matmul_isa()), kv->name);
    if (!json) cli_blas_print(5);
    else
    {
        printf("{\"model\":");
        qins_json_write_escaped(stdout, path, strlen(path));
        printf(",\"kv\":\"%s\"", kv->name);
        printf(",\"blas\":");
        struct qins_json j; // one value inside the hand-written document: no qins_json_end
        qins_json_init(&j, stdout);
        cli_blas_json(&j);
        printf(",\"params\":%.0f,\"weights\":\"%s\",\"weight_type\":\"%s\",\"matmul_kernels\":\"%s\",\"file_bytes\":%zu,"
               "\"runs\":[",
               params, weights, wtype, qins_isa_name(qins_matmul_isa()), file_bytes);
    }
    // The model's own footprint, before the bandwidth probe allocates its 512 MB buffer.
    qins_forward(m, s, tokens, (int)pp, 0, false);
    const size_t model_rss = qins_peak_rss_bytes();
    char spec[64];
    snprintf(spec, sizeof spec, "%s", threads_spec);
    int first = 1;
    for (char *tok = strtok(spec, ","); tok; tok = strtok(NULL, ",")) {
        int nt = atoi(tok);
        if (nt < 1 || nt > 256) {
            fprintf(stderr, "qins bench: bad thread count '%s'\n", tok);
            continue;
        }
        double sgemm = qins_measure_sgemm_gflops((int)pp, hp->n_ff, hp->n_embd, nt);
        // When the core in use is not the one OpenBLAS picked for itself (corrected, or chosen by
        // QINS_BLAS_CORE), the same probe with OpenBLAS's own choice shows what the choice is worth.
        struct qins_blas_info bi;
        qins_blas_info_get(&bi);
        const double sgemm_own = bi.corrected_from[0]
                                     ? sgemm_with_core(bi.corrected_from, (int)pp, hp->n_ff, hp->n_embd, nt) : -1;
        if (sgemm_own > 0 && !json)
            printf("threads %d: sgemm with core %s %.1f GFLOP/s, with OpenBLAS's own choice %s %.1f GFLOP/s: %.2fx\n", nt,
                   bi.core, sgemm, bi.corrected_from, sgemm_own, sgemm / sgemm_own);
        qins_set_threads(nt);
        // prompt processing: one batch of pp tokens from position 0, median of reps
        qins_kv_clear(kv);
        qins_forward(m, s, tokens, (int)pp, 0, false); // warm-up
        for (long r = 0; r < reps; r++) {
            qins_kv_clear(kv);
            double t0 = qins_time_now();
            if (qins_forward(m, s, tokens, (int)pp, 0, false) < 0) return 1;
            samples[r] = qins_time_now() - t0;
        }
        double pp_s = qins_median_inplace(samples, (size_t)reps), pp_tok_s = pp / pp_s, pp_gflops = 2.0 * ((params - out_params) * pp + out_params) / pp_s / 1e9;
        // generation: tg single-token steps after a BOS, median per-token time over reps runs.
        // The host's bandwidth moves between calls, so every run is paired with a read probe
        // right after it and the fraction of bandwidth is the median of the per-run fractions.
        uint64_t bytes0 = m->counters.weight_bytes_read, tok0 = m->counters.tokens;
        double *probes = malloc(reps * sizeof *probes), *fractions = malloc(reps * sizeof *fractions);
        for (long r = 0; r < reps; r++) {
            qins_kv_clear(kv);
            int32_t t = 1;
            qins_forward(m, s, &t, 1, 0, false);
            double t0 = qins_time_now();
            for (long i = 0; i < tg; i++) {
                t = tokens[i % pp];
                if (qins_forward(m, s, &t, 1, (int)i + 1, false) < 0) return 1;
            }
            samples[r] = (qins_time_now() - t0) / tg;
            probes[r] = qins_measure_read_gbps((size_t)nt * (512u << 20), nt); // 512 MiB per thread: past the caches
            qins_set_threads(nt);
        }
        double bytes_per_tok = (double)(m->counters.weight_bytes_read - bytes0) / (m->counters.tokens - tok0);
        for (long r = 0; r < reps; r++) fractions[r] = bytes_per_tok / samples[r] / (probes[r] * 1e9);
        double tg_tok_s = 1.0 / qins_median_inplace(samples, (size_t)reps);
        const double read_gbps = qins_median_inplace(probes, (size_t)reps);
        const double tg_fraction = qins_median_inplace(fractions, (size_t)reps);
        free(probes), free(fractions);
        double bw_limit = read_gbps * 1e9 / bytes_per_tok;
        // streaming weights faster than the probe can read means the probe under-reads
        const bool probe_wrong = tg_fraction > 1.05;
        if (json)
            printf("%s{\"threads\":%d,\"read_gbps\":%.3f,\"sgemm_gflops\":%.3f,\"sgemm_gflops_openblas_choice\":%.3f,\"pp\":%ld,\"pp_tok_s\":%.2f,"
                   "\"pp_gflops\":%.3f,\"pp_fraction_of_sgemm\":%.4f,\"tg\":%ld,\"tg_tok_s\":%.2f,"
                   "\"weight_bytes_per_token\":%.0f,\"tg_bandwidth_limit_tok_s\":%.2f,\"tg_fraction_of_bandwidth\":%.4f}",
                   first ? "" : ",", nt, read_gbps, sgemm, sgemm_own, pp, pp_tok_s, pp_gflops, pp_gflops / sgemm, tg, tg_tok_s,
                   bytes_per_tok, bw_limit, tg_fraction);
        else
            printf("threads %d: read %.2f GB/s, sgemm %.1f GFLOP/s | pp%ld %.1f tok/s = %.1f GFLOP/s (%.0f %% of sgemm) | "
                   "tg%ld %.1f tok/s, %.2f MB/token, bandwidth limit %.1f tok/s (%.0f %% of the probe paired with each run)\n",
                   nt, read_gbps, sgemm, pp, pp_tok_s, pp_gflops, 100 * pp_gflops / sgemm, tg, tg_tok_s,
                   bytes_per_tok / 1e6, bw_limit, 100 * tg_fraction);
        if (probe_wrong)
            fprintf(stderr, "qins bench: WARNING: generation streamed %.2f GB/s of weights, more than the read probe's %.2f GB/s: "
                            "the probe is wrong\n", tg_fraction * read_gbps, read_gbps);
        if (!json)
            printf("table | %s | %s | %d | %.1f | %.0f %% | %.2f | %.0f %% | %.0f MB |\n", wtype, weights, nt, pp_tok_s,
                   100 * pp_gflops / sgemm, tg_tok_s, 100 * tg_fraction, model_rss / 1e6);
        first = 0;
        if (n_depth > 0 && !json) bench_depths(m, s, kv, depths, n_depth, (int)tg, (int)reps, nt, read_gbps);
    }
    // The memory goal: the model resident as stored, plus its KV cache, plus 10 %.
    const size_t kv_bytes = (size_t)hp->n_layer * ctx * hp->n_head_kv * hp->head_dim * 2 * (strcmp(kv->name, "fp16") ? 4 : 2);
    const double rss_limit = 1.10 * (double)(file_bytes + kv_bytes);
    if (json)
        printf("],\"peak_rss_model_bytes\":%zu,\"peak_rss_bytes\":%zu,\"kv_bytes\":%zu,\"rss_limit_bytes\":%.0f}\n",
               model_rss, qins_peak_rss_bytes(), kv_bytes, rss_limit);
    else
        printf("peak RSS %.1f MB with the model and one prompt batch = %.2f x (file %.1f MB + KV %.1f MB) (target <= 1.10); "
               "%.1f MB with the bandwidth probe's buffer\n",
               model_rss / 1e6, model_rss / (double)(file_bytes + kv_bytes), file_bytes / 1e6, kv_bytes / 1e6,
               qins_peak_rss_bytes() / 1e6);
    free(tokens);
    free(samples);
    qins_state_free(s);
    qins_kv_free(kv);
    qins_model_free(m);
    return 0;
}
