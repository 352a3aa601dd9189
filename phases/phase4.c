// phases/phase4.c — qins-phase4, fused kernels: the profile of Pattern A (codec-at-rest weights +
// coded KV pages) against FP32, the profile-guided selection of what to fuse, end-to-end decode
// speed of the separate ops against the fused kernels on stories260K and a Phi-3.5-mini-shaped
// model at several contexts, the kernel benchmarks (fused weight GEMV/GEMM, Huffman tiles,
// attention over coded pages) beside their baselines and the read bandwidth, and phase 1's KV
// variants re-measured with fused attention (quality and overhead). A CUDA run is made on a GPU
// machine (--cuda-only) and brought in with --import.
// Reads: config → variants (phase-1 KV and weight codecs, separate vs fused) → evaluate →
// latency → per model: profile → select → fused instance → end to end → kernels → record.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "attn_bench.h"
#include "codec.h"
#include "decode_bench.h"
#include "fused_bench.h"
#include "membw.h"
#include "model_writer.h"
#include "paths.h"
#include "fused_cuda_bench.h"
#include "profile.h"
#include "slots.h"
#include "sweep.h"

#define INTS .item = QINS_CFG_ITEM_INT
static const struct qins_cfg_key phase4_keys[] = {
    {"phase4", "codec", QINS_CFG_STRING, "qins8", 0, -1, NULL,
     "Pattern A's weight codec (codec-at-rest weights) in the profile and end-to-end runs", qins_check_codec_item},
    {"phase4", "granularity", QINS_CFG_STRING, "row", 0, -1, NULL,
     "scale granularity of the weight codecs (row, tensor, groupG)", qins_check_granularity_item},
    {"phase4", "kv", QINS_CFG_STRING, "qins8:alpha=2:gran=token:page=16", 0, -1, NULL,
     "Pattern A's KV store in --kv syntax (a paged codec store, without `fused`: the fused runs add it)",
     qins_check_kv_spec_or_none},
    {"phase4", "models", QINS_CFG_LIST, "model,phi3.5-mini", 1, 2, "model|phi3.5-mini",
     "models of the profile and end-to-end runs: `model` = [run] model, phi3.5-mini = the random Phi-3.5-mini-"
     "shaped F32 model (phi_layers blocks)", NULL},
    {"phase4", "phi_layers", QINS_CFG_INT, "2", 1, 32, NULL, "blocks of the Phi-3.5-mini-shaped model", NULL},
    {"phase4", "phi_model", QINS_CFG_STRING, "", 0, -1, NULL,
     "that model's file; empty: <results>/cache/phi3.5-mini-<L>l-f32.gguf, written once (seed 42, the Phi-3 vocab) when absent", NULL},
    {"phase4", "contexts", QINS_CFG_LIST, "256,1024,2048", 1, 6, NULL,
     "end-to-end contexts: the timed decode steps are the last positions below each", INTS, .item_min = 64,
     .item_max = 131072},
    {"phase4", "profile_ctx", QINS_CFG_INT, "1024", 64, 131072, NULL,
     "context of the profile (a member of contexts: its run is profiled)", NULL},
    {"phase4", "profile_cover", QINS_CFG_DOUBLE, "0.8", 0.05, 1, NULL,
     "share of Pattern A's decode time the selected candidates must cover", NULL},
    {"phase4", "steps", QINS_CFG_LIST, "32,4", 1, 2, NULL,
     "timed decode steps per round, per model of `models` (in that order)", INTS, .item_min = 1, .item_max = 1024},
    {"phase4", "reps", QINS_CFG_INT, "3", 1, 100, NULL, "rounds of the end-to-end runs (configurations take turns)",
     NULL},
    {"phase4", "kernel_codecs", QINS_CFG_LIST, "qins8,int8,nf8,qins6,int6,nf6,qins4,int4,nf4", 1, 16, NULL,
     "codecs of the kernel benchmarks at the model's shapes", .item_check = qins_check_codec_item},
    {"phase4", "phi_kernel_codecs", QINS_CFG_LIST, "qins8,int8,nf8,qins6,qins4", 0, 16, NULL,
     "codecs of the kernel benchmarks at Phi-3.5-mini's shapes (3072x3072, 8192x3072, 3072x8192)",
     .item_check = qins_check_codec_item},
    {"phase4", "kernel_grans", QINS_CFG_LIST, "row,group64", 1, 4, NULL, "granularities of the kernel benchmarks",
     .item_check = qins_check_granularity_item},
    {"phase4", "gemm_codecs", QINS_CFG_LIST, "qins8,int8", 0, 16, NULL,
     "codecs whose prompt-batch GEMM is benchmarked (first granularity)", .item_check = qins_check_codec_item},
    {"phase4", "gemm_batch", QINS_CFG_INT, "128", 2, 256, NULL, "tokens of the GEMM benchmark", NULL},
    {"phase4", "kernel_reps", QINS_CFG_INT, "5", 1, 1000, NULL, "timed calls per kernel measurement (median)", NULL},
    {"phase4", "attn_specs", QINS_CFG_LIST, "qins8,qins6,int8,nf8", 1, 8, NULL,
     "KV codecs of the attention benchmarks (each gets attn_options first)", .item_check = qins_check_kv_spec_item},
    {"phase4", "attn_options", QINS_CFG_STRING, "alpha=2:gran=token:page=16", 0, -1, NULL,
     "--kv options of the attention benchmarks and the phase-1 variants", qins_check_kv_options},
    {"phase4", "attn_reps", QINS_CFG_INT, "7", 1, 1000, NULL, "timed steps per attention measurement (median)", NULL},
    {"phase4", "kv_variants", QINS_CFG_LIST, "qins8,qins6,int8", 0, 8, NULL,
     "phase 1 re-measured: KV codecs evaluated separate (<c>) and fused (<c>_fused) against FP32 and FP16",
     .item_check = qins_check_kv_spec_item},
    {"phase4", "weight_variants", QINS_CFG_LIST, "qins8,int8", 0, 8, NULL,
     "weight codecs evaluated on the [run] model with every slot separate (w_<c>) and fused (w_<c>_fused)",
     .item_check = qins_check_codec_item},
    {"phase4", "latency_tokens", QINS_CFG_INT, "128", 2, 4096, NULL, "tokens per latency repetition (overhead_pct)",
     NULL},
    {"phase4", "latency_reps", QINS_CFG_INT, "7", 3, 1000, NULL, "latency repetitions (the first a warm-up)", NULL},
    {0},
};

enum { CFG_FP32 = 0, CFG_SEP, CFG_FUSED, N_CFG };
static const char *const cfg_names[N_CFG] = {"fp32", "separate", "fused"};

struct model_run {
    const char *label;                  // "model" or "phi3.5-mini"
    char path[1024];
    struct qins_model *m[N_CFG];        // one instance per configuration (the file mmapped once by the OS)
    struct qins_profile prof[N_CFG];    // at profile_ctx in the end-to-end run
    struct qins_profile pass[2];        // the profile pass that chose the selection (fp32, separate)
    struct qins_profile_rank rank;      // of pass[1], decode
    unsigned mask;                      // slots fused
    bool out_fused, kv_fused;
    double (*tok_s)[N_CFG];             // (n_ctx)
    double critical_speedup;
    int steps;
    bool profiling;                     // the hook attaches prof[] (else pass[])
};

struct phase4 {
    struct qins_sweep s;
    struct qins_exp *e;
    struct qins_codec_params wp;        // Pattern A's weight codec
    char kv[256], kv_fused[272];
    const int64_t *ctxs;
    size_t n_ctx;
    struct model_run mr[2];
    size_t n_mr;
    double read_gbps, max_rel_err;
    int all_ran;
};

static int parse_weight_codec(const char *name, const char *gran, struct qins_codec_params *p) {
    qins_codec_params_default(p);
    QINS_TRY(qins_codec_parse(name, p));
    QINS_TRY(qins_codec_parse_granularity(gran, p));
    return qins_codec_validate(p);
}

// ---- phase 1 re-measured, and the weight codecs on the [run] model: separate vs fused

static int install(struct qins_sweep *s, struct qins_variant *v) {
    if (!v->data) return 0;
    struct phase4 *P = s->ops.user;
    const bool fused = strstr(v->name, "_fused") != NULL;
    struct qins_codec_params p;
    QINS_TRY(parse_weight_codec(v->data, qins_config_str(P->e->cfg, "phase4", "granularity"), &p));
    return fused ? qins_model_set_weight_codec_fused(s->e->model, &p, QINS_SLOT_MASK_ALL, true)
                 : qins_model_set_weight_codec(s->e->model, &p, QINS_SLOT_MASK_ALL, true);
}

static int build_variants(struct phase4 *P) {
    const qins_config_t *cfg = P->e->cfg;
    const char *const *items;
    const char *opts = qins_config_str(cfg, "phase4", "attn_options");
    QINS_CHECK(qins_sweep_add(&P->s, "fp16", "fp16", 0), QINS_ERR_ARG, "phase 4: cannot add fp16");
    for (size_t i = 0, n = qins_config_list(cfg, "phase4", "kv_variants", &items); i < n; i++) {
        char name[64];
        snprintf(name, sizeof name, "%s_fused", items[i]);
        QINS_CHECK(qins_sweep_add_kv(&P->s, items[i], items[i], opts, NULL, 0), QINS_ERR_ARG, "bad kv variant");
        QINS_CHECK(qins_sweep_add_kv(&P->s, items[i], name, opts, "fused=once", 0), QINS_ERR_ARG, "bad kv variant");
    }
    for (size_t i = 0, n = qins_config_list(cfg, "phase4", "weight_variants", &items); i < n; i++)
        for (int f = 0; f < 2; f++) {
            char name[64];
            snprintf(name, sizeof name, "w_%s%s", items[i], f ? "_fused" : "");
            struct qins_variant *v = qins_sweep_add(&P->s, name, NULL, 0);
            QINS_CHECK(v, QINS_ERR_ARG, "bad weight variant '%s'", items[i]);
            v->data = (void *)items[i];
        }
    return 0;
}

// Greedy ids of each fused variant against its separate twin, token by token (1 = identical).
static int record_ids_equal(struct phase4 *P) {
    struct qins_exp *e = P->e;
    for (size_t i = 0; i < P->s.n; i++) {
        struct qins_variant *f = &P->s.v[i];
        const char *suffix = strstr(f->name, "_fused");
        if (!suffix || suffix[6]) continue;
        char twin[64];
        snprintf(twin, sizeof twin, "%.*s", (int)(suffix - f->name), f->name);
        const int j = qins_sweep_find(&P->s, twin);
        if (j < 0) continue;
        struct qins_exp_eval ev[2];
        memset(ev, 0, sizeof ev);
        int st = 0;
        for (int k = 0; k < 2 && st == 0; k++) {
            struct qins_variant *v = k ? f : &P->s.v[j];
            st = install(&P->s, v);
            if (st == 0) st = qins_exp_evaluate(e, e->model, v->has_kv ? &v->kv : NULL, v->name, &ev[k]);
            qins_model_reset_slots(e->model);
        }
        double same = 0, total = 0;
        for (int pi = 0; st == 0 && pi < ev[0].n_prompts; pi++)
            for (int t = 0; t < ev[0].n_tokens; t++) {
                const int32_t a = ev[0].gen[(size_t)pi * ev[0].n_tokens + t], b = ev[1].gen[(size_t)pi * ev[1].n_tokens + t];
                if (a < 0 && b < 0) continue;
                total++, same += a == b;
            }
        qins_exp_eval_free(&ev[0]);
        qins_exp_eval_free(&ev[1]);
        QINS_TRY(st);
        QINS_TRY(qins_sweep_metric(&P->s, f, "ids_equal_separate", total ? same / total : NAN, "fraction"));
        QINS_TRY(qins_exp_key(e, "%s/ids_equal_separate", f->name));
    }
    return 0;
}

// overhead_pct (vs FP32) comes from qins_sweep_latency; vs FP16 from the same medians.
static int run_latency(struct phase4 *P) {
    const size_t n = P->s.n;
    int *idx = malloc(n * sizeof *idx);
    double *med = malloc((n + 1) * sizeof *med);
    int st = idx && med ? 0 : QINS_ERR_NOMEM;
    for (size_t i = 0; i < n && st == 0; i++) idx[i] = (int)i;
    if (st == 0)
        st = qins_sweep_latency(&P->s, idx, n, (int)qins_config_int(P->e->cfg, "phase4", "latency_tokens"),
                                (int)qins_config_int(P->e->cfg, "phase4", "latency_reps"), NULL,
                                "[phase4] latency_tokens", med);
    const int f16 = qins_sweep_find(&P->s, "fp16");
    for (size_t i = 0; i < n && st == 0 && f16 >= 0; i++) {
        st = qins_sweep_metric(&P->s, &P->s.v[i], "overhead_vs_fp16_pct", (med[i + 1] / med[f16 + 1] - 1) * 100, "pct");
        if (st == 0 && !P->s.v[i].data && (int)i != f16)
            st = qins_exp_key(P->e, "%s/overhead_pct,%s/overhead_vs_fp16_pct", P->s.v[i].name, P->s.v[i].name);
    }
    free(idx);
    free(med);
    return st;
}

// ---- the models of the profile and end-to-end runs

static int phi_path(struct phase4 *P, char *out, size_t cap) {
    const qins_config_t *cfg = P->e->cfg;
    const char *given = qins_config_str(cfg, "phase4", "phi_model");
    const int layers = (int)qins_config_int(cfg, "phase4", "phi_layers");
    if (*given) {
        snprintf(out, cap, "%s", given);
        struct stat sb;
        QINS_CHECK(stat(out, &sb) == 0, QINS_ERR_IO, "[phase4] phi_model '%s' does not exist", out);
        return 0;
    }
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/cache", P->e->args.results_dir);
    QINS_CHECK(snprintf(out, cap, "%s/phi3.5-mini-%dl-f32.gguf", dir, layers) < (int)cap, QINS_ERR_RANGE,
               "[run] results path too long for the Phi model cache");
    struct stat sb;
    if (stat(out, &sb) == 0) return 0;
    struct qins_random_model_spec spec;
    QINS_TRY(qins_random_model_shape("phi3.5-mini", &spec));
    spec.n_layer = (uint32_t)layers;
    QINS_TRY(qins_mkdir_p(dir));
    // The Phi-3 vocab, as `qins write-gguf --shape phi3.5-mini` writes it: the same file, one
    // that llama.cpp loads too.
    qins_gguf_t *vocab;
    QINS_TRY(qins_random_model_open_vocab(spec.arch, NULL, &vocab));
    spec.vocab_src = vocab;
    printf("phase 4: writing the Phi-3.5-mini-shaped model (%d blocks, F32, seed %llu, vocab %s) to %s\n", layers,
           (unsigned long long)spec.seed, qins_gguf_path(vocab), out);
    fflush(stdout);
    const int st = qins_model_write_random(&spec, out);
    qins_gguf_free(vocab);
    return st;
}

static void profile_hook(void *user, int cfg, int rep, int begin) {
    (void)rep;
    struct model_run *r = user;
    struct qins_profile *p = r->profiling ? &r->prof[cfg] : cfg < 2 ? &r->pass[cfg] : NULL;
    qins_profile_attach(r->m[cfg], begin ? p : NULL);
}

// The ops the selection covers that have a fused kernel: slots, the output matrix, attention
// (with the page reads it replaces). Norms, rope, activations, embedding have none.
static void apply_selection(struct model_run *r) {
    static const enum qins_prof_op slot_op[QINS_SLOTS_PER_LAYER] = {QINS_PROF_Q,    QINS_PROF_K,  QINS_PROF_V,
                                                                    QINS_PROF_O,    QINS_PROF_GATE, QINS_PROF_UP,
                                                                    QINS_PROF_DOWN};
    for (int i = 0; i < r->rank.n_selected; i++) {
        const enum qins_prof_op op = r->rank.selected[i];
        for (int s = 0; s < QINS_SLOTS_PER_LAYER; s++) r->mask |= op == slot_op[s] ? QINS_SLOT_BIT(s) : 0;
        r->out_fused |= op == QINS_PROF_OUTPUT;
        r->kv_fused |= op == QINS_PROF_ATTN || op == QINS_PROF_KV_VIEW;
    }
}

static int build_fused(struct phase4 *P, struct model_run *r) {
    struct qins_model *m = r->m[CFG_FUSED];
    for (int l = 0; l < m->hp.n_layer; l++)
        for (int s = 0; s < QINS_SLOTS_PER_LAYER; s++) {
            struct qins_linear *lin = qins_model_slot(m, l, s);
            QINS_TRY(r->mask & QINS_SLOT_BIT(s) ? qins_slot_set_codec_fused(lin, &P->wp) : qins_slot_set_codec(lin, &P->wp));
        }
    return r->out_fused ? qins_slot_set_codec_fused(&m->output, &P->wp) : qins_slot_set_codec(&m->output, &P->wp);
}

// The critical path: the top candidate's time per decode step, separate over fused. Attention
// and the page reads it replaces count together (fused attention moves page decoding into it).
static double per_step(const struct qins_profile *p, enum qins_prof_op top) {
    const struct qins_prof_cell *c = p->op[QINS_PROF_DECODE];
    const double ns = top == QINS_PROF_ATTN || top == QINS_PROF_KV_VIEW ? (double)(c[QINS_PROF_ATTN].ns + c[QINS_PROF_KV_VIEW].ns)
                                                                      : (double)c[top].ns;
    return ns / (double)(p->forward_calls[QINS_PROF_DECODE] ? p->forward_calls[QINS_PROF_DECODE] : 1);
}

static int run_model(struct phase4 *P, struct model_run *r) {
    struct qins_exp *e = P->e;
    for (int c = 0; c < N_CFG; c++) QINS_TRY(qins_model_load(r->path, &r->m[c]));
    QINS_TRY(qins_model_set_weight_codec(r->m[CFG_SEP], &P->wp, QINS_SLOT_MASK_ALL, true));
    const int reps = (int)qins_config_int(e->cfg, "phase4", "reps"), pctx = (int)qins_config_int(e->cfg, "phase4", "profile_ctx");
    const double cover = qins_config_double(e->cfg, "phase4", "profile_cover");
    struct qins_decode_cfg dc[N_CFG] = {{"fp32", r->m[CFG_FP32], "fp32"}, {"separate", r->m[CFG_SEP], P->kv},
                                        {"fused", r->m[CFG_FUSED], P->kv}};
    struct qins_decode_result res[N_CFG];
    printf("phase 4: %s: profile pass at context %d\n", r->label, pctx);
    fflush(stdout);
    QINS_TRY(qins_decode_bench(dc, 2, pctx, r->steps, reps, 1, 1, profile_hook, r, res));
    QINS_TRY(qins_profile_rank(&r->pass[1], QINS_PROF_DECODE, cover, &r->rank));
    apply_selection(r);
    QINS_TRY(build_fused(P, r));
    dc[CFG_FUSED].kv = r->kv_fused ? P->kv_fused : P->kv;
    r->tok_s = calloc(P->n_ctx, sizeof *r->tok_s);
    QINS_CHECK(r->tok_s, QINS_ERR_NOMEM, "out of memory");
    char pre[96];
    for (size_t i = 0; i < P->n_ctx; i++) {
        const int ctx = (int)P->ctxs[i];
        r->profiling = ctx == pctx;
        for (int c = 0; c < N_CFG && r->profiling; c++) qins_profile_reset(&r->prof[c]);
        printf("phase 4: %s: end to end at context %d\n", r->label, ctx);
        fflush(stdout);
        QINS_TRY(qins_decode_bench(dc, N_CFG, ctx, r->steps, reps, 1, 2 + (uint64_t)i, r->profiling ? profile_hook : NULL,
                                   r, res));
        snprintf(pre, sizeof pre, "e2e_%s_ctx%d", r->label, ctx);
        for (int c = 0; c < N_CFG; c++) {
            r->tok_s[i][c] = res[c].tok_s;
            QINS_TRY(qins_exp_metricf(e, res[c].tok_s, "tokens/s", "%s/%s_tok_s", pre, cfg_names[c]));
        }
        QINS_TRY(qins_exp_metricf(e, res[CFG_FUSED].tok_s / res[CFG_SEP].tok_s, "ratio", "%s/speedup_fused_vs_separate", pre));
        QINS_TRY(qins_exp_metricf(e, res[CFG_FUSED].tok_s / res[CFG_FP32].tok_s, "ratio", "%s/fused_vs_fp32", pre));
        QINS_TRY(qins_exp_metricf(e, (double)res[CFG_FUSED].kv_bytes_read, "bytes", "%s/fused_kv_bytes_per_step", pre));
    }
    const enum qins_prof_op top = r->rank.n_selected ? r->rank.selected[0] : QINS_PROF_OTHER;
    r->critical_speedup = per_step(&r->prof[CFG_SEP], top) / per_step(&r->prof[CFG_FUSED], top);
    char g[160];
    for (int c = 0; c < N_CFG; c++) {
        snprintf(g, sizeof g, "/phase4/%s/profile/%s", r->label, cfg_names[c]);
        QINS_TRY(qins_profile_record(e->run, g, &r->prof[c], cover));
    }
    snprintf(g, sizeof g, "/phase4/%s/profile_pass/separate", r->label);
    QINS_TRY(qins_profile_record(e->run, g, &r->pass[1], cover));
    snprintf(g, sizeof g, "/phase4/%s", r->label);
    QINS_TRY(qins_run_attr_str(e->run, g, "model", r->path));
    QINS_TRY(qins_run_attr_str(e->run, g, "critical_path", qins_prof_op_name(top)));
    QINS_TRY(qins_run_attr_str(e->run, g, "fused_kv", r->kv_fused ? dc[CFG_FUSED].kv : "no (not selected)"));
    QINS_TRY(qins_run_attr_int(e->run, g, "fused_slot_mask", r->mask | (r->out_fused ? 0x80u : 0u)));
    QINS_TRY(qins_exp_metricf(e, r->critical_speedup, "ratio", "%s/critical_path_speedup", r->label));
    QINS_TRY(qins_exp_metricf(e, r->rank.coverage, "fraction", "%s/selection_coverage", r->label));
    printf("phase 4: %s: critical path %s, %.2fx fused vs separate; selection covers %.0f %% of the decode step\n",
           r->label, qins_prof_op_name(top), r->critical_speedup, 100 * r->rank.coverage);
    // the pass that made the selection (the end-to-end profiles, plotted, rank alike up to noise)
    printf("profile pass, Pattern A separate ops, context %d:\n", (int)qins_config_int(e->cfg, "phase4", "profile_ctx"));
    qins_profile_print(&r->pass[1], cover, stdout);
    return 0;
}

static void free_model(struct model_run *r) {
    for (int c = 0; c < N_CFG; c++) {
        if (r->m[c]) qins_model_reset_slots(r->m[c]); // the codec slots' own buffers
        qins_model_free(r->m[c]);
    }
    free(r->tok_s);
}

// ---- kernel benchmarks

// The largest error so far; a NaN stays NaN (fmax would drop it, and Gate 4 would pass a kernel
// that produced NaN).
static double worst_error(double worst, double e) { return isnan(worst) || isnan(e) ? NAN : fmax(worst, e); }

struct shape { int rows, cols; };

static int kernel_row(struct phase4 *P, const char *shape_label, struct shape sh, const char *codec, const char *gran,
                      int batch, char ***lines, size_t *n_lines, double *speedup_f32) {
    struct qins_fb_spec spec = {.rows = sh.rows, .cols = sh.cols, .batch = batch,
                                .reps = (int)qins_config_int(P->e->cfg, "phase4", "kernel_reps"),
                                .read_gbps = P->read_gbps, .seed = 7};
    QINS_TRY(parse_weight_codec(codec, gran, &spec.p));
    spec.huffman = batch == 1 && spec.p.bits == 8 && spec.p.granularity == QINS_GRAN_PER_ROW;
    struct qins_fb_row rows[QINS_FB_N_OPS];
    QINS_TRY(qins_fb_run(&spec, rows, QINS_FB_N_OPS, NULL));
    char pre[128];
    snprintf(pre, sizeof pre, "kern_%s_%dx%d_%s_%s_b%d", shape_label, sh.rows, sh.cols, codec, gran, batch);
    for (int o = 0; o < QINS_FB_N_OPS; o++) {
        const struct qins_fb_row *w = &rows[o];
        if (o == QINS_FB_FUSED || o == QINS_FB_HUFFMAN) {
            if (w->skipped && (o == QINS_FB_FUSED || spec.huffman)) P->all_ran = 0;
            if (!w->skipped) P->max_rel_err = worst_error(P->max_rel_err, w->max_rel_err);
        }
        if (w->skipped) continue;
        const char *op = qins_fb_op_name((enum qins_fb_op)o);
        if (o == QINS_FB_FUSED || o == QINS_FB_HUFFMAN) {
            QINS_TRY(qins_exp_metricf(P->e, w->gbps, "GB/s", "%s/%s_gbps", pre, op));
            QINS_TRY(qins_exp_metricf(P->e, w->roofline, "fraction", "%s/%s_roofline", pre, op));
            QINS_TRY(qins_exp_metricf(P->e, w->speedup_vs_separate, "ratio", "%s/%s_speedup_vs_separate", pre, op));
            QINS_TRY(qins_exp_metricf(P->e, w->speedup_vs_f32, "ratio", "%s/%s_speedup_vs_f32", pre, op));
            QINS_TRY(qins_exp_metricf(P->e, w->max_rel_err, "fraction", "%s/%s_max_rel_err", pre, op));
        }
        char line[256];
        snprintf(line, sizeof line, "%-10s %-6s %-8s %-7s %5d %5d %5d %9.2f %7.1f %%  %8.2f %8.2f %10.2e", op, codec, gran,
                 shape_label, sh.rows, sh.cols, batch, w->gbps, 100 * w->roofline, w->speedup_vs_separate,
                 w->speedup_vs_f32, w->max_rel_err);
        char **nl = realloc(*lines, (*n_lines + 1) * sizeof **lines);
        QINS_CHECK(nl, QINS_ERR_NOMEM, "out of memory");
        *lines = nl;
        QINS_CHECK((nl[(*n_lines)++] = strdup(line)), QINS_ERR_NOMEM, "out of memory");
    }
    if (speedup_f32) *speedup_f32 = rows[QINS_FB_FUSED].speedup_vs_f32;
    return 0;
}

static int model_shapes(const struct qins_model *m, struct shape *out, int cap) {
    int n = 0;
    for (int s = 0; s <= QINS_SLOTS_PER_LAYER; s++) {
        const struct qins_linear *lin = s < QINS_SLOTS_PER_LAYER ? qins_model_slot((struct qins_model *)m, 0, s) : &m->output;
        int seen = 0;
        for (int i = 0; i < n; i++) seen |= out[i].rows == lin->n_out && out[i].cols == lin->n_in;
        if (!seen && n < cap) out[n++] = (struct shape){lin->n_out, lin->n_in};
    }
    return n;
}

static int run_kernels(struct phase4 *P) {
    const qins_config_t *cfg = P->e->cfg;
    const char *const *codecs, *const *grans, *const *phi_codecs, *const *gemm;
    const size_t nc = qins_config_list(cfg, "phase4", "kernel_codecs", &codecs),
                 ng = qins_config_list(cfg, "phase4", "kernel_grans", &grans),
                 npc = qins_config_list(cfg, "phase4", "phi_kernel_codecs", &phi_codecs),
                 ngm = qins_config_list(cfg, "phase4", "gemm_codecs", &gemm);
    const int batch = (int)qins_config_int(cfg, "phase4", "gemm_batch");
    struct shape ms[QINS_SLOTS_PER_LAYER + 1];
    const int nms = model_shapes(P->e->model, ms, QINS_SLOTS_PER_LAYER + 1);
    static const struct shape phi[3] = {{3072, 3072}, {8192, 3072}, {3072, 8192}};
    char **lines = NULL;
    size_t nl = 1;
    lines = calloc(1, sizeof *lines);
    QINS_CHECK(lines && (lines[0] = strdup("op         codec  gran     shape    rows  cols batch      GB/s roofline  vs-sep   vs-f32    rel-err")),
               QINS_ERR_NOMEM, "out of memory");
    int st = 0;
    double geo = 0;
    int n_geo = 0;
    for (int s = 0; s < nms && st == 0; s++)
        for (size_t c = 0; c < nc && st == 0; c++)
            for (size_t g = 0; g < ng && st == 0; g++) st = kernel_row(P, "model", ms[s], codecs[c], grans[g], 1, &lines, &nl, NULL);
    for (int s = 0; s < 3 && st == 0; s++) {
        printf("phase 4: kernels at %dx%d\n", phi[s].rows, phi[s].cols);
        fflush(stdout);
        for (size_t c = 0; c < npc && st == 0; c++)
            for (size_t g = 0; g < ng && st == 0; g++) {
                double sp = NAN;
                st = kernel_row(P, "phi", phi[s], phi_codecs[c], grans[g], 1, &lines, &nl, &sp);
                if (st == 0 && !strcmp(phi_codecs[c], "qins8") && !strcmp(grans[g], "row")) geo += log(sp), n_geo++;
            }
    }
    for (size_t c = 0; c < ngm && st == 0; c++) {
        if (nms) st = kernel_row(P, "model", ms[0], gemm[c], grans[0], batch, &lines, &nl, NULL);
        for (int s = 0; s < 3 && st == 0; s++) st = kernel_row(P, "phi", phi[s], gemm[c], grans[0], batch, &lines, &nl, NULL);
    }
    if (st == 0 && n_geo) st = qins_exp_metricf(P->e, exp(geo / n_geo), "ratio", "gemv8_phi/speedup_vs_fp32");
    if (st == 0)
        st = qins_sweep_text_table(P->e, "/summary/kernels", "phase 4 weight kernels (1 thread per [run] threads; GB/s of "
                                   "the bytes each op must move; roofline = GB/s over the read probe of this run)",
                                   (const char *const *)lines, nl);
    for (size_t i = 0; i < nl; i++) free(lines[i]);
    free(lines);
    return st;
}

static int run_attention(struct phase4 *P) {
    const qins_config_t *cfg = P->e->cfg;
    const char *const *specs;
    const size_t ns = qins_config_list(cfg, "phase4", "attn_specs", &specs);
    const struct qins_hparams *hp = &P->e->model->hp;
    const struct qins_attn_bench_shape shapes[2] = {{"model", hp->n_head, hp->n_head_kv, hp->head_dim},
                                                    {"phi", 32, 32, 96}};
    char *lines[1 + 2 * 6 * 8];
    size_t nl = 0;
    lines[nl++] = strdup("shape  ctx   spec                               fp32 us  fp16 us decode us fused us  once us "
                         "vs-decode  vs-fp16 %  once vs-fp16 %  roofline  rel-err");
    int st = lines[0] ? 0 : QINS_ERR_NOMEM;
    for (int s = 0; s < 2 && st == 0; s++)
        for (size_t c = 0; c < P->n_ctx && st == 0; c++)
            for (size_t k = 0; k < ns && st == 0; k++) {
                char spec[320];
                snprintf(spec, sizeof spec, "%s:%s", specs[k], qins_config_str(cfg, "phase4", "attn_options"));
                struct qins_attn_bench_row w;
                st = qins_attn_bench_run(&shapes[s], (int)P->ctxs[c], spec, P->e->threads,
                                         (int)qins_config_int(cfg, "phase4", "attn_reps"), P->read_gbps, &w);
                if (st < 0) break;
                P->max_rel_err = worst_error(P->max_rel_err, w.max_rel_err);
                char pre[96];
                snprintf(pre, sizeof pre, "kv_%s_ctx%d_%s", shapes[s].name, (int)P->ctxs[c], specs[k]);
                const struct qins_named_metric m[] = {
                    {"speedup_vs_decode", w.speedup_vs_decode, "ratio"},
                    {"overhead_vs_fp16_pct", w.overhead_vs_fp16_pct, "pct"},
                    {"overhead_vs_fp32_pct", w.overhead_vs_fp32_pct, "pct"},
                    {"overhead_once_vs_fp16_pct", w.overhead_once_vs_fp16_pct, "pct"},
                    {"overhead_once_vs_fp32_pct", w.overhead_once_vs_fp32_pct, "pct"},
                    {"fused_roofline", w.frac_fused, "fraction"},
                    {"max_rel_err", w.max_rel_err, "fraction"}};
                for (size_t i = 0; i < sizeof m / sizeof m[0] && st == 0; i++)
                    st = qins_exp_metricf(P->e, m[i].value, m[i].unit, "%s/%s", pre, m[i].what);
                // the gate's name for the plan's case: the first spec (qins8 by default), read as
                // the end-to-end runs read it (fused=once: each page's CRC checked at its first read)
                if (st == 0 && k == 0)
                    st = qins_exp_metricf(P->e, w.overhead_once_vs_fp16_pct, "pct", "kv_%s_ctx%d/overhead_vs_fp16_pct",
                                          shapes[s].name, (int)P->ctxs[c]);
                char line[256];
                snprintf(line, sizeof line, "%-6s %5d %-32.32s %8.1f %8.1f %9.1f %8.1f %8.1f %9.2f %10.1f %15.1f %8.1f %% %9.2e",
                         shapes[s].name, (int)P->ctxs[c], spec, 1e6 * w.t_fp32, 1e6 * w.t_fp16, 1e6 * w.t_decode,
                         1e6 * w.t_fused, 1e6 * w.t_fused_once, w.speedup_vs_decode, w.overhead_vs_fp16_pct,
                         w.overhead_once_vs_fp16_pct, 100 * w.frac_fused, w.max_rel_err);
                if (st == 0 && nl < sizeof lines / sizeof lines[0] && !(lines[nl++] = strdup(line))) st = QINS_ERR_NOMEM;
            }
    if (st == 0)
        st = qins_sweep_text_table(P->e, "/summary/attention", "phase 4 attention over coded KV pages, one decode step of "
                                   "one layer (medians)", (const char *const *)lines, nl);
    for (size_t i = 0; i < nl; i++) free(lines[i]);
    return st;
}

// ---- records

static int record_e2e(struct phase4 *P) {
    struct qins_exp *e = P->e;
    double geo = 0;
    int n = 0;
    char *lines[1 + 2 * 6];
    size_t nl = 0;
    lines[nl++] = strdup("model         ctx  fp32 tok/s  separate tok/s  fused tok/s  fused/separate  fused/fp32");
    for (size_t m = 0; m < P->n_mr; m++)
        for (size_t i = 0; i < P->n_ctx; i++) {
            const double *t = P->mr[m].tok_s[i];
            geo += log(t[CFG_FUSED] / t[CFG_SEP]), n++;
            char line[160];
            snprintf(line, sizeof line, "%-12s %5d %11.2f %15.2f %12.2f %15.2f %11.2f", P->mr[m].label, (int)P->ctxs[i],
                     t[CFG_FP32], t[CFG_SEP], t[CFG_FUSED], t[CFG_FUSED] / t[CFG_SEP], t[CFG_FUSED] / t[CFG_FP32]);
            lines[nl++] = strdup(line);
        }
    int st = qins_exp_metricf(e, exp(geo / n), "ratio", "e2e/speedup_geomean");
    for (size_t i = 0; i < nl; i++) st = st == 0 && !lines[i] ? QINS_ERR_NOMEM : st;
    if (st == 0)
        st = qins_sweep_text_table(e, "/summary/e2e", "phase 4 end-to-end decode (median tokens/s; Pattern A = codec-at-rest "
                                   "weights + coded KV; fused = the profile's selection fused)", (const char *const *)lines, nl);
    for (size_t i = 0; i < nl; i++) free(lines[i]);
    // the gate reads the plan's model when it ran, else the [run] model
    const struct model_run *g = &P->mr[P->n_mr - 1];
    if (st == 0) st = qins_exp_metricf(e, g->critical_speedup, "ratio", "fused/critical_path_speedup");
    if (st == 0) st = qins_exp_metricf(e, P->max_rel_err, "fraction", "fused/rel_error");
    if (st == 0) st = qins_exp_metricf(e, P->all_ran, "bool", "fused/runs_cpu");
    if (st == 0) st = qins_exp_key(e, "fused/critical_path_speedup,fused/rel_error,fused/runs_cpu,e2e/speedup_geomean,"
                                      "gemv8_phi/speedup_vs_fp32,kv_phi_ctx2048/overhead_vs_fp16_pct");
    return st;
}

static int plot_profile(struct phase4 *P) {
    const struct model_run *r = &P->mr[P->n_mr - 1];
    const char *ops[QINS_PROF_OP_COUNT];
    for (int o = 0; o < QINS_PROF_OP_COUNT; o++) ops[o] = qins_prof_op_name((enum qins_prof_op)o);
    struct qins_series ps;
    QINS_TRY(qins_series_init(&ps, QINS_PROF_OP_COUNT));
    static const char *const series[N_CFG] = {"FP32", "Pattern A (separate ops)", "Pattern A fused"};
    for (int c = 0; c < N_CFG; c++) {
        double *y = qins_series_add(&ps, series[c]);
        if (!y) return qins_series_free(&ps), QINS_ERR_NOMEM;
        const struct qins_profile *p = &r->prof[c];
        const double steps = p->forward_calls[QINS_PROF_DECODE] ? (double)p->forward_calls[QINS_PROF_DECODE] : 1;
        for (int o = 0; o < QINS_PROF_OP_COUNT; o++) y[o] = 1e-6 * (double)p->op[QINS_PROF_DECODE][o].ns / steps;
    }
    char title[320], sel[160] = "";
    for (int i = 0; i < r->rank.n_selected; i++) {
        const size_t len = strlen(sel);
        snprintf(sel + len, sizeof sel - len, "%s%s", i ? " " : "", qins_prof_op_name(r->rank.selected[i]));
    }
    snprintf(title, sizeof title, "Decode step time per op (%s, context %lld, ms per token; fused: %s)", r->label,
             (long long)qins_config_int(P->e->cfg, "phase4", "profile_ctx"), sel);
    return qins_series_plot(&ps, P->e->run, (struct qins_plot){"phase4_profile", QINS_PLOT_BARS, title, "op",
                                                               "ms per decode step", .xlabels = ops});
}

static int plot_e2e(struct phase4 *P) {
    struct qins_series ps;
    QINS_TRY(qins_series_init(&ps, P->n_ctx));
    for (size_t i = 0; i < P->n_ctx; i++) ps.x[i] = (double)P->ctxs[i];
    for (size_t m = 0; m < P->n_mr; m++)
        for (int c = 0; c < N_CFG; c++) {
            char name[64];
            snprintf(name, sizeof name, "%s %s", P->mr[m].label, cfg_names[c]);
            double *y = qins_series_add(&ps, name);
            if (!y) return qins_series_free(&ps), QINS_ERR_NOMEM;
            for (size_t i = 0; i < P->n_ctx; i++) y[i] = P->mr[m].tok_s[i][c];
        }
    return qins_series_plot(&ps, P->e->run, (struct qins_plot){"phase4_e2e_decode", QINS_PLOT_LINES,
           "End-to-end decode speed by context", "context (tokens)", "tokens/s (log scale)", .logy = true});
}

// ---- --import: a CUDA run made elsewhere joins results/phase4/

static int import_run(const char *path, const char *results_dir) {
    qins_runfile_t *f;
    QINS_TRY(qins_runfile_open(&f, path));
    const struct qins_run_meta *meta = qins_runfile_meta(f);
    const int ok = meta->phase == 4;
    char dst[2048], dir[1100];
    snprintf(dir, sizeof dir, "%s/phase4", results_dir);
    const char *base = strrchr(meta->path, '/');
    const int fits = snprintf(dst, sizeof dst, "%s/%s", dir, base ? base + 1 : meta->path) < (int)sizeof dst;
    qins_runfile_close(f);
    QINS_CHECK(fits, QINS_ERR_RANGE, "--import: the destination path under %s is too long", dir);
    QINS_CHECK(ok, QINS_ERR_ARG, "--import: %s is not a phase-4 run file", path);
    struct stat sb;
    QINS_CHECK(stat(dst, &sb) != 0, QINS_ERR_STATE, "--import: %s already exists", dst);
    QINS_TRY(qins_mkdir_p(dir));
    QINS_TRY(qins_copy_file(path, dst));
    printf("imported: %s\n", dst);
    return 0;
}

// ---- --cuda-only [--out DIR]: the CUDA kernels (core/fused_cuda_bench) as a run of tag cuda,
// made on a GPU machine by tools/device-check.sh. Forced: the gate chain is judged on the CPU
// runs, and the GPU machine holds none. No GPU (or a build without CUDA): one error line, no file.

static int cuda_only(int argc, char **argv) {
    char dev[256];
    const int have = qins_fcb_device(dev, sizeof dev);
    QINS_CHECK(have >= 0, have == QINS_ERR_UNSUPPORTED ? QINS_ERR_UNSUPPORTED : have,
               "--cuda-only: no CUDA GPU here (or this build has no CUDA): nothing measured, no run file");
    char **av = calloc((size_t)argc + 6, sizeof *av);
    QINS_CHECK(av, QINS_ERR_NOMEM, "out of memory");
    int n = 0;
    av[n++] = argv[0];
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--cuda-only")) continue;
        if (!strcmp(argv[i], "--out") && i + 1 < argc) {
            av[n++] = "--results", av[n++] = argv[++i];
            continue;
        }
        av[n++] = argv[i];
    }
    av[n++] = "--force", av[n++] = "--set", av[n++] = "run.tag=cuda";
    struct qins_exp e;
    const struct qins_cfg_key *tables[] = {phase4_keys, NULL};
    int st = qins_exp_open(&e, 4, n, av, tables);
    if (st == 1) return free(av), 0;
    struct qins_fcb_opts o;
    qins_fcb_opts_default(&o);
    struct qins_fcb_row *rows = NULL;
    size_t nr = 0;
    printf("phase 4 (CUDA): %s\n", dev);
    if (st == 0) st = qins_run_attr_str(e.run, "/phase4", "cuda_device", dev);
    if (st == 0) st = qins_fcb_run(&o, 1, &rows, &nr);
    double frac = 0, err = 0;
    int n_frac = 0;
    for (size_t i = 0; i < nr && st == 0; i++) {
        const struct qins_fcb_row *w = &rows[i];
        char pre[128];
        if (!strcmp(w->op, "attn"))
            snprintf(pre, sizeof pre, "cuda_attn_%s_ctx%d_%s", w->model, w->ctx, w->codec);
        else
            snprintf(pre, sizeof pre, "cuda_%s_%s_%dx%d_%s_%s", w->op, w->model, w->rows, w->cols, w->codec, w->gran);
        st = qins_exp_metricf(&e, w->gbps, "GB/s", "%s/gbps", pre);
        if (st == 0) st = qins_exp_metricf(&e, w->roofline_frac, "fraction", "%s/roofline", pre);
        if (st == 0) st = qins_exp_metricf(&e, w->max_rel_err, "fraction", "%s/max_rel_err", pre);
        err = fmax(err, w->max_rel_err);
        // the gate's HBM figure: fused 8-bit per-row GEMV at Phi-3.5-mini's shapes, the mean
        if (!strcmp(w->op, "gemv") && w->bits == 8 && !strcmp(w->gran, "row") && !strcmp(w->model, "phi3.5-mini"))
            frac += w->roofline_frac, n_frac++;
    }
    if (st == 0) st = qins_exp_metricf(&e, n_frac ? frac / n_frac : NAN, "fraction", "cuda/gemv_roofline_fraction");
    if (st == 0) st = qins_exp_metricf(&e, err, "fraction", "cuda/max_rel_err");
    if (st == 0) st = qins_exp_metricf(&e, nr > 0 && err < 1e-3, "bool", "fused/runs_cuda");
    if (st == 0) st = qins_exp_key(&e, "fused/runs_cuda,cuda/gemv_roofline_fraction,cuda/max_rel_err");
    free(rows);
    free(av);
    if (st < 0) {
        qins_exp_close(&e);
        return st;
    }
    return qins_exp_commit(&e);
}

int main(int argc, char **argv) {
    const char *results = "results";
    for (int i = 1; i + 1 < argc; i++) results = !strcmp(argv[i], "--results") ? argv[i + 1] : results;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--import")) {
            QINS_CHECK(i + 1 < argc, 2, "--import needs a run file");
            return import_run(argv[i + 1], results) < 0 ? 1 : 0;
        }
        if (!strcmp(argv[i], "--cuda-only")) return cuda_only(argc, argv) < 0 ? 1 : 0;
    }
    static struct phase4 P;
    struct qins_exp e;
    const struct qins_cfg_key *tables[] = {phase4_keys, NULL};
    int st = qins_exp_open(&e, 4, argc, argv, tables);
    if (st == 1) return 0;
    P.e = &e;
    P.all_ran = 1;
    qins_sweep_init(&P.s, &e, &(struct qins_sweep_ops){.install = install, .user = &P});
    if (st == 0) {
        const qins_config_t *cfg = e.cfg;
        P.n_ctx = qins_config_int_list(cfg, "phase4", "contexts", &P.ctxs);
        snprintf(P.kv, sizeof P.kv, "%s", qins_config_str(cfg, "phase4", "kv"));
        snprintf(P.kv_fused, sizeof P.kv_fused, "%s:fused=once", P.kv);
        st = parse_weight_codec(qins_config_str(cfg, "phase4", "codec"), qins_config_str(cfg, "phase4", "granularity"), &P.wp);
        int have = 0;
        for (size_t i = 0; i < P.n_ctx; i++) have |= P.ctxs[i] == qins_config_int(cfg, "phase4", "profile_ctx");
        if (st == 0 && !have) st = QINS_ERR_ARG, qins_log(QINS_LOG_ERROR, "[phase4] profile_ctx is not one of [phase4] contexts");
        const char *const *models;
        const int64_t *steps;
        P.n_mr = qins_config_list(cfg, "phase4", "models", &models);
        const size_t n_steps = qins_config_int_list(cfg, "phase4", "steps", &steps);
        for (size_t i = 0; i < P.n_mr && st == 0; i++) {
            P.mr[i].label = models[i];
            P.mr[i].steps = (int)steps[i < n_steps ? i : n_steps - 1];
            if (!strcmp(models[i], "model")) snprintf(P.mr[i].path, sizeof P.mr[i].path, "%s", e.model_path);
            else st = phi_path(&P, P.mr[i].path, sizeof P.mr[i].path);
        }
        if (st == 0) st = build_variants(&P);
    }
    if (st == 0) P.read_gbps = qins_measure_read_gbps((size_t)512 << 20, e.threads);
    if (st == 0) st = qins_exp_metricf(&e, P.read_gbps, "GB/s", "read_gbps");
    if (st == 0) st = qins_sweep_baseline(&P.s);
    if (st == 0) st = qins_sweep_evaluate(&P.s, 0, P.s.n);
    if (st == 0) st = record_ids_equal(&P);
    if (st == 0) st = run_latency(&P);
    for (size_t i = 0; i < P.n_mr && st == 0; i++) st = run_model(&P, &P.mr[i]);
    if (st == 0) st = run_kernels(&P);
    if (st == 0) st = run_attention(&P);
    if (st == 0) st = record_e2e(&P);
    if (st == 0) st = plot_profile(&P);
    if (st == 0) st = plot_e2e(&P);
    const struct qins_sweep_column cols[] = {{"token match", "token_match", "%12.4f"},
                                             {"ppl delta %", "ppl_delta_pct", "%+12.4f"},
                                             {"ids = sep", "ids_equal_separate", "%10.4f"},
                                             {"overhead %", "overhead_pct", "%+11.2f"},
                                             {"vs fp16 %", "overhead_vs_fp16_pct", "%+10.2f"}};
    if (st == 0)
        st = qins_sweep_summary(&P.s, "phase 4 variants on the [run] model (baseline FP32; <c>_fused: the same store read "
                                "by fused attention; w_<c>: every weight codec-at-rest)", cols, 5);
    for (size_t i = 0; i < P.n_mr; i++) free_model(&P.mr[i]);
    qins_sweep_free(&P.s);
    if (st < 0) {
        qins_exp_close(&e);
        return 1;
    }
    return qins_exp_commit(&e) < 0 ? 1 : 0;
}
