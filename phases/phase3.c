// phases/phase3.c — qins-phase3, entropy analysis: the real code distributions of the Pattern A
// codes (weights coded at rest under each codec, activations at every linear slot, the phase-1
// KV pages), the raw FP16/BF16 bit fields as the lossless anchor, what Huffman, RLE+Huffman and
// zstd achieve on them with every table counted, what decoding each costs on this machine, how
// often the engine reads each weight (its counters), and the per-tensor compression policy that
// follows, written as the JSON phase 6 reads.
// Reads: config → tensors × codecs → samples through the observers → decode cost and step time
// → access → policy → record → plots.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "access.h"
#include "calib.h"
#include "codec.h"
#include "coding_cost.h"
#include "entropy.h"
#include "policy.h"
#include "pattern_b.h"
#include "progress.h"
#include "survey.h"
#include "sweep.h"
#include "util.h"

static int check_granularity(const char *v, char *why, size_t cap) {
    struct qins_codec_params p;
    qins_codec_params_default(&p);
    if (qins_codec_parse_granularity(v, &p) == 0) return 0;
    snprintf(why, cap, "not a granularity (tensor, row, column, group<G>)");
    return -1;
}
static int check_paged_kv(const char *v, char *why, size_t cap) {
    struct qins_kv_spec s;
    if (qins_kv_spec_parse(v, &s) == 0 && !s.plain && qins_codec_is_lossy(&s.k) && qins_codec_is_lossy(&s.v) &&
        s.k.bits == s.v.bits && s.page_tokens > 0)
        return 0;
    snprintf(why, cap, "not a paged k-bit KV store with the same k for K and V and page=<tokens> (e.g. qins8:page=16)");
    return -1;
}
static int check_shape(const char *v, char *why, size_t cap) {
    if (qins_access_shape_find(v)) return 0;
    snprintf(why, cap, "unknown shape (known: phi3.5-mini)");
    return -1;
}

#define DOUBLES .item = QINS_CFG_ITEM_DOUBLE, .item_min = 1e-3, .item_max = 1e6
static const struct qins_cfg_key phase3_keys[] = {
    {"phase3", "sample", QINS_CFG_ENUM, "windows", 0, 0, "windows|prompts",
     "what one sample is: a window of [run] ctx tokens of the eval slice, or one prompt of [run] prompts", NULL},
    {"phase3", "samples", QINS_CFG_INT, "1000", 1, 10000000, NULL,
     "samples run through the model (the plan asks >= 1000); more than the slice holds is an error", NULL},
    {"phase3", "weight_codecs", QINS_CFG_LIST, "qins8,int8,nf8,qins6,int6,nf6", 1, 16, NULL,
     "codecs whose codes of every weight matrix are counted and coded", .item_check = qins_check_codec_item},
    {"phase3", "weight_granularity", QINS_CFG_STRING, "row", 0, -1, NULL,
     "scale groups of the weight codes (tensor, row, column, group<G>)", check_granularity},
    {"phase3", "weight_alpha", QINS_CFG_DOUBLE, "1", 1e-3, 1e6, NULL, "alpha of the QINS weight codecs", NULL},
    {"phase3", "alpha_sweep", QINS_CFG_LIST, "0.5,2,4,8", 0, 12, NULL,
     "further alphas for each QINS weight codec (variants <codec>_a<alpha>)", NULL, DOUBLES},
    {"phase3", "act_bits", QINS_CFG_INT, "8", 2, 12, NULL, "k of the activation codes (QINS-k and INT-k, per token)",
     NULL},
    {"phase3", "act_alpha", QINS_CFG_DOUBLE, "2", 1e-3, 1e6, NULL, "alpha of the QINS activation codes", NULL},
    {"phase3", "kv", QINS_CFG_STRING, "qins8:alpha=2:gran=token:page=16", 0, -1, NULL,
     "the paged KV store whose pages are counted (phase 1's qins8 by default)", check_paged_kv},
    {"phase3", "policy_codec", QINS_CFG_STRING, "qins8", 0, -1, NULL,
     "the weight codec (one of weight_codecs) whose codings the policy chooses among", NULL},
    {"phase3", "decode_reps", QINS_CFG_INT, "5", 1, 1000, NULL, "timed repetitions of each decode (best is kept)",
     NULL},
    {"phase3", "latency_tokens", QINS_CFG_INT, "64", 2, 4096, NULL,
     "tokens generated per repetition of the baseline decode step (the policy's budget is a fraction of it)", NULL},
    {"phase3", "latency_reps", QINS_CFG_INT, "5", 3, 1000, NULL, "repetitions of it (first a warm-up; median)", NULL},
    {"phase3", "vpath", QINS_CFG_ENUM, "jacobian", 0, 0, "none|literal|jacobian|lstsq",
     "transport of the V-path weights W' surveyed for completeness (phase 2's Pattern B on every layer's "
     "attn_v; set vpath* to phase 2's best_full variant; none = skip)", NULL},
    {"phase3", "vpath_alpha", QINS_CFG_DOUBLE, "1", 1e-3, 1e6, NULL, "alpha of that transport", NULL},
    {"phase3", "vpath_encoding", QINS_CFG_STRING, "float", 0, -1, NULL, "its input encoding (float or kN)", NULL},
    {"phase3", "vpath_calib_tokens", QINS_CFG_INT, "4096", 16, 1 << 24, NULL,
     "calibration tokens of [run] calib_slice the transport is fitted on", NULL},
    {"phase3", "projection_shapes", QINS_CFG_LIST, "phi3.5-mini", 0, 4, NULL,
     "models the cold fraction of weight bytes is projected to from the measured row frequencies",
     .item_check = check_shape},
    {0},
};

// One weight matrix of the file and its figures under each surveyed codec.
struct tensor {
    char name[64], kind[32];      // "blk.3.attn_v", "attn_v"
    enum qins_policy_class cls;
    size_t rows, cols;
    float *x;                     // FP32 values (owned)
    struct qins_coding_sizes *sz; // (n_codecs)
    struct qins_float_fields ff[2]; // FP16, BF16 fields
    struct qins_coding_sizes fsz[2]; // raw FP16 / BF16 patterns coded (zstd anchors)
    double reads_per_token;
};

struct phase3 {
    struct qins_sweep s;          // one variant per weight codec (its figures, the summary table)
    struct qins_codec_params *codec; // (s.n)
    struct tensor *t;
    size_t n_t;
    int policy_codec;             // index into codec
    struct qins_decode_speed *speed; // (s.n) measured for non-sweep codecs; n == 0 where not
    struct qins_decode_speed kv_speed;
    struct qins_act_survey act;
    struct qins_kv_survey kvs;
    struct qins_kv_spec kv;
    int64_t samples, tokens;
    double step_s;
};

static const char *slot_kind(const char *name) {
    const char *p = strncmp(name, "blk.", 4) ? name : strchr(name + 4, '.');
    return p && *p == '.' ? p + 1 : name;
}

// Every 2-D tensor of the file as FP32 (norms are vectors kept FP32 by every policy).
static int load_tensors(struct phase3 *P, const char *path) {
    qins_gguf_t *g;
    QINS_TRY(qins_gguf_open(path, &g));
    int st = 0;
    size_t cap = 0;
    for (uint64_t i = 0; i < qins_gguf_n_tensors(g) && st == 0; i++) {
        const struct qins_gguf_tensor *gt = qins_gguf_tensor_at(g, i);
        if (gt->n_dims != 2) continue;
        if ((st = qins_grow(&P->t, &cap, P->n_t + 1, sizeof *P->t)) < 0) break;
        struct tensor *t = &P->t[P->n_t++];
        memset(t, 0, sizeof *t);
        snprintf(t->name, sizeof t->name, "%s", gt->name);
        snprintf(t->kind, sizeof t->kind, "%s", slot_kind(gt->name));
        t->cls = !strcmp(gt->name, "token_embd.weight") ? QINS_POLICY_CLASS_EMBEDDING
                 : !strcmp(gt->name, "output.weight")   ? QINS_POLICY_CLASS_OUTPUT
                                                        : QINS_POLICY_CLASS_WEIGHT;
        char *dot = strrchr(t->kind, '.');
        if (dot && !strcmp(dot, ".weight")) *dot = 0;
        t->rows = gt->ne[1], t->cols = gt->ne[0];
        t->x = malloc(gt->n_elements * sizeof *t->x);
        t->sz = calloc(P->s.n, sizeof *t->sz);
        st = t->x && t->sz ? qins_gguf_tensor_to_f32(gt, t->x) : QINS_ERR_NOMEM;
    }
    qins_gguf_free(g);
    QINS_CHECK(st < 0 || P->n_t, QINS_ERR_FORMAT, "%s: no 2-D weight tensors", path);
    return st;
}

static int build_codecs(struct phase3 *P) {
    const qins_config_t *cfg = P->s.e->cfg;
    const char *const *items;
    const double *alphas;
    const size_t n = qins_config_list(cfg, "phase3", "weight_codecs", &items),
                 na = qins_config_double_list(cfg, "phase3", "alpha_sweep", &alphas);
    P->codec = calloc(n * (1 + na), sizeof *P->codec);
    QINS_CHECK(P->codec, QINS_ERR_NOMEM, "out of memory");
    struct qins_codec_params base;
    qins_codec_params_default(&base);
    QINS_TRY(qins_codec_parse_granularity(qins_config_str(cfg, "phase3", "weight_granularity"), &base));
    base.alpha = (float)qins_config_double(cfg, "phase3", "weight_alpha");
    for (int sweep = 0; sweep < 2; sweep++) // the codecs first, their alpha points after
        for (size_t i = 0; i < n; i++)
            for (size_t a = 0; a < (sweep ? na : 1); a++) {
                struct qins_codec_params p = base;
                QINS_TRY(qins_codec_parse(items[i], &p));
                QINS_CHECK(qins_codec_is_lossy(&p), QINS_ERR_ARG,
                           "[phase3] weight_codecs: '%s' has no k-bit codes (FP16/BF16 are surveyed as the anchors)",
                           items[i]);
                char name[QINS_VARIANT_NAME];
                snprintf(name, sizeof name, "%s", items[i]);
                if (sweep) {
                    if (p.codec != QINS_CODEC_QINS || (float)alphas[a] == base.alpha) continue;
                    p.alpha = (float)alphas[a];
                    snprintf(name, sizeof name, "%s_a%g", items[i], alphas[a]);
                }
                QINS_TRY(qins_codec_validate(&p));
                struct qins_variant *v = qins_sweep_add(&P->s, name, NULL, sweep ? QINS_VARIANT_SWEEP_POINT : 0);
                if (!v) return QINS_ERR_ARG;
                v->bits = p.bits, v->series = sweep ? (int)i : -1, v->param = p.alpha;
                P->codec[P->s.n - 1] = p;
            }
    const char *pc = qins_config_str(cfg, "phase3", "policy_codec");
    P->policy_codec = qins_sweep_find(&P->s, pc);
    QINS_CHECK(P->policy_codec >= 0 && !(P->s.v[P->policy_codec].flags & QINS_VARIANT_SWEEP_POINT), QINS_ERR_ARG,
               "[phase3] policy_codec '%s' is not one of weight_codecs", pc);
    return 0;
}

// Codes of every tensor under every codec, and the FP16/BF16 anchors.
static int survey_weights(struct phase3 *P) {
    struct qins_progress pr;
    qins_progress_init(&pr, "weights", P->n_t, "tensors");
    for (size_t i = 0; i < P->n_t; i++) {
        struct tensor *t = &P->t[i];
        for (size_t c = 0; c < P->s.n; c++) {
            const int sweep = P->s.v[c].flags & QINS_VARIANT_SWEEP_POINT;
            QINS_TRY(qins_survey_weight(&P->codec[c], t->x, t->rows, t->cols, !sweep, NULL, &t->sz[c]));
        }
        for (int f = 0; f < 2; f++) {
            struct qins_codec_params p;
            qins_codec_params_default(&p);
            QINS_TRY(qins_codec_parse(f ? "bf16" : "fp16", &p));
            QINS_TRY(qins_entropy_float_fields(t->x, t->rows * t->cols, f, &t->ff[f]));
            QINS_TRY(qins_survey_weight(&p, t->x, t->rows, t->cols, 1, NULL, &t->fsz[f]));
        }
        qins_progress_update(&pr, i + 1);
    }
    qins_progress_finish(&pr);
    return 0;
}

// The samples: windows of ctx tokens (BOS first) or prompts, through the model with the paged
// KV store, the activation observer and the access counters on.
static int run_samples(struct phase3 *P) {
    struct qins_exp *e = P->s.e;
    struct qins_model *m = e->model;
    const bool windows = !strcmp(qins_config_str(e->cfg, "phase3", "sample"), "windows");
    const int64_t want = qins_config_int(e->cfg, "phase3", "samples");
    const int64_t have = windows ? e->n_eval / e->ctx : (int64_t)e->prompts.n;
    QINS_CHECK(want <= have, QINS_ERR_RANGE,
               "[phase3] samples = %lld but %s holds %lld %s; widen the slice or lower samples", (long long)want,
               windows ? "[run] eval_slice" : "[run] prompts", (long long)have,
               windows ? "windows of [run] ctx tokens" : "prompts");
    int max_len = e->ctx;
    for (int64_t i = 0; !windows && i < want; i++) max_len = e->n_prompt_ids[i] > max_len ? e->n_prompt_ids[i] : max_len;
    const struct qins_hparams *hp = &m->hp;
    struct qins_kv_store *kv = NULL;
    struct qins_state *st8 = NULL;
    int st = qins_kv_store_create(&P->kv, hp->n_layer, max_len, hp->n_head_kv * hp->head_dim, &kv);
    if (st == 0) st = qins_state_init(m, max_len, max_len, kv, &st8);
    if (st == 0) st = qins_model_track_embedding_rows(m, true);
    if (st == 0) qins_model_reset_access(m);
    if (st == 0) st = qins_model_add_observer(m, qins_act_survey_observe, &P->act);
    struct qins_progress pr;
    qins_progress_init(&pr, "samples", (uint64_t)want, windows ? "windows" : "prompts");
    int32_t *ids = malloc((size_t)max_len * sizeof *ids);
    if (st == 0 && !ids) st = QINS_ERR_NOMEM;
    for (int64_t i = 0; i < want && st == 0; i++) {
        int n = windows ? e->ctx : e->n_prompt_ids[i];
        memcpy(ids, windows ? e->eval_ids + i * e->ctx : e->prompt_ids[i], (size_t)n * sizeof *ids);
        if (windows) ids[0] = qins_tokenizer_bos(e->tok); // as perplexity's windows start
        qins_kv_clear(kv);
        // all_logits: the output matrix is read for every token, as in scoring and in generation.
        st = qins_forward(m, st8, ids, n, 0, true);
        if (st == 0) st = P->act.status;
        if (st == 0) st = qins_kv_survey_add(&P->kvs, kv);
        P->tokens += n, P->samples++;
        qins_progress_update(&pr, (uint64_t)i + 1);
    }
    qins_progress_finish(&pr);
    qins_model_clear_observers(m);
    free(ids);
    qins_state_free(st8);
    qins_kv_free(kv);
    return st;
}

// Decode throughput of each coding, on the largest tensor (the figure depends on the codec and
// the coding, not on which weights): per surveyed codec, and for the KV store's codec.
static int measure_decode(struct phase3 *P) {
    const struct tensor *big = &P->t[0];
    for (size_t i = 1; i < P->n_t; i++) big = P->t[i].rows * P->t[i].cols > big->rows * big->cols ? &P->t[i] : big;
    const int reps = (int)qins_config_int(P->s.e->cfg, "phase3", "decode_reps");
    P->speed = calloc(P->s.n, sizeof *P->speed);
    QINS_CHECK(P->speed, QINS_ERR_NOMEM, "out of memory");
    for (size_t c = 0; c < P->s.n; c++)
        if (!(P->s.v[c].flags & QINS_VARIANT_SWEEP_POINT))
            QINS_TRY(qins_decode_speed(&P->codec[c], big->x, big->rows, big->cols, reps, &P->speed[c]));
    QINS_TRY(qins_decode_speed(&P->kv.k, big->x, big->rows, big->cols, reps, &P->kv_speed));
    return qins_run_attr_str(P->s.e->run, "/phase3", "decode_measured_on", big->name);
}

// The baseline decode step (FP32 weights and cache): the policy's budget is a fraction of it.
static int measure_step(struct phase3 *P) {
    struct qins_exp *e = P->s.e;
    const struct qins_kv_spec *kvs[1] = {NULL};
    QINS_TRY(qins_exp_latency(e, 1, kvs, NULL, NULL, (int)qins_config_int(e->cfg, "phase3", "latency_tokens"),
                              (int)qins_config_int(e->cfg, "phase3", "latency_reps"), &P->step_s, NULL));
    return qins_exp_metricf(e, P->step_s * 1e6, "us", "baseline/latency_us_per_token");
}

static double bits_of(uint64_t bytes, uint64_t n) { return n ? 8.0 * (double)bytes / (double)n : NAN; }

// Per codec: the figures over all tensors (sizes summed, entropy weighted by elements), and the
// per-tensor arrays.
static int record_weights(struct phase3 *P) {
    struct qins_exp *e = P->s.e;
    const char **names = malloc(P->n_t * sizeof *names);
    double *col = malloc(P->n_t * 8 * sizeof *col);
    QINS_CHECK(names && col, QINS_ERR_NOMEM, "out of memory");
    int st = 0;
    for (size_t i = 0; i < P->n_t; i++) names[i] = P->t[i].name;
    st = qins_run_strings(e->run, "/phase3/weights/tensors", names, P->n_t);
    static const char *const what[7] = {"entropy", "bitpack_bits", "huffman_bits", "rle_huffman_bits",
                                        "huffman_rows_bits", "zstd3_bits", "zstd19_bits"};
    for (size_t c = 0; c < P->s.n && st == 0; c++) {
        struct qins_variant *v = &P->s.v[c];
        const int sweep = v->flags & QINS_VARIANT_SWEEP_POINT;
        double ent = 0;
        uint64_t n = 0, b[6] = {0};
        for (size_t i = 0; i < P->n_t; i++) {
            const struct qins_coding_sizes *z = &P->t[i].sz[c];
            const uint64_t bb[6] = {z->bitpack_bytes, z->huffman_bytes, z->rle_huffman_bytes, z->huffman_rows_bytes,
                                    z->zstd3_bytes, z->zstd19_bytes};
            ent += z->entropy * (double)z->n, n += z->n;
            for (int k = 0; k < 6; k++) b[k] += bb[k];
            col[0 * P->n_t + i] = z->entropy;
            for (int k = 0; k < 6; k++) col[(1 + k) * P->n_t + i] = sweep && k >= 4 ? NAN : bits_of(bb[k], z->n);
        }
        const double fig[7] = {ent / (double)n, bits_of(b[0], n), bits_of(b[1], n), bits_of(b[2], n),
                               bits_of(b[3], n), sweep ? NAN : bits_of(b[4], n), sweep ? NAN : bits_of(b[5], n)};
        for (int k = 0; k < 7 && st == 0; k++) {
            const char *unit = k ? "bits/value" : "bits/symbol";
            if (!isnan(fig[k])) st = qins_sweep_metric(&P->s, v, what[k], fig[k], unit);
            char path[160];
            snprintf(path, sizeof path, "/phase3/weights/%s/%s", v->name, what[k]);
            if (st == 0) st = qins_run_array(e->run, path, QINS_DT_F64, col + (size_t)k * P->n_t, P->n_t, 0);
        }
        if (st == 0)
            st = qins_sweep_metric(&P->s, v, "huffman_saving_pct", 100.0 * (1 - (double)b[1] / (double)b[0]), "pct");
        for (int k = 0; k < QINS_DECODE_COUNT && st == 0 && !sweep; k++) {
            char w[48];
            snprintf(w, sizeof w, "decode_%s_gbps", qins_decode_name(k));
            st = qins_sweep_metric(&P->s, v, w, P->speed[c].gbps[k], "GB/s");
            snprintf(w, sizeof w, "decode_%s_vs_memcpy", qins_decode_name(k));
            if (st == 0) st = qins_sweep_metric(&P->s, v, w, P->speed[c].gbps[k] / P->speed[c].memcpy_gbps, "ratio");
        }
    }
    // The lossless anchor: raw FP16 / BF16 patterns (DFloat11: exponent entropy; ZipNN: zstd-like).
    for (int f = 0; f < 2 && st == 0; f++) {
        const char *fn = f ? "bf16" : "fp16";
        double exp_e = 0, sign_e = 0, mant_e = 0, lossless = 0;
        uint64_t n = 0, z3 = 0, z19 = 0, huff = 0;
        for (size_t i = 0; i < P->n_t; i++) {
            const struct tensor *t = &P->t[i];
            const double w = (double)t->ff[f].n;
            exp_e += t->ff[f].exp_entropy * w, sign_e += t->ff[f].sign_entropy * w, mant_e += t->ff[f].mant_entropy * w;
            lossless += t->ff[f].lossless_bits * w, n += t->ff[f].n;
            z3 += t->fsz[f].zstd3_bytes, z19 += t->fsz[f].zstd19_bytes, huff += t->fsz[f].huffman_bytes;
            col[i] = t->ff[f].exp_entropy;
        }
        const double dn = (double)n;
        st = qins_exp_metricf(e, exp_e / dn, "bits/symbol", "%s/exp_entropy", fn);
        if (st == 0) st = qins_exp_metricf(e, sign_e / dn, "bits/symbol", "%s/sign_entropy", fn);
        if (st == 0) st = qins_exp_metricf(e, mant_e / dn, "bits/symbol", "%s/mant_entropy", fn);
        if (st == 0) st = qins_exp_metricf(e, lossless / dn, "bits/value", "%s/lossless_bits", fn);
        if (st == 0) st = qins_exp_metricf(e, bits_of(huff, n), "bits/value", "%s/huffman_bits", fn);
        if (st == 0) st = qins_exp_metricf(e, bits_of(z3, n), "bits/value", "%s/zstd3_bits", fn);
        if (st == 0) st = qins_exp_metricf(e, bits_of(z19, n), "bits/value", "%s/zstd19_bits", fn);
        if (st == 0) st = qins_exp_metricf(e, 100 * (1 - bits_of(z19, n) / 16), "pct", "%s/zstd19_saving_pct", fn);
        char path[96];
        snprintf(path, sizeof path, "/phase3/weights/%s/exp_entropy", fn);
        if (st == 0) st = qins_run_array(e->run, path, QINS_DT_F64, col, P->n_t, 0);
    }
    free(names);
    free(col);
    return st;
}

static int record_activations(struct phase3 *P) {
    struct qins_exp *e = P->s.e;
    const struct qins_act_survey *a = &P->act;
    const size_t cells = (size_t)a->n_layer * QINS_SURVEY_ACT_SITES;
    double *ent = malloc(cells * sizeof *ent);
    QINS_CHECK(ent, QINS_ERR_NOMEM, "out of memory");
    int st = 0;
    const char *sites[QINS_SURVEY_ACT_SITES];
    for (int k = 0; k < QINS_SURVEY_ACT_SITES; k++) sites[k] = qins_site_name(qins_survey_act_sites[k]);
    st = qins_run_strings(e->run, "/phase3/activations/sites", sites, QINS_SURVEY_ACT_SITES);
    for (int c = 0; c < QINS_SURVEY_ACT_CODECS && st == 0; c++) {
        double sum = 0, n = 0;
        for (int l = 0; l < a->n_layer; l++)
            for (int k = 0; k < QINS_SURVEY_ACT_SITES; k++) {
                const double w = (double)a->values[(size_t)l * QINS_SURVEY_ACT_SITES + k];
                ent[(size_t)l * QINS_SURVEY_ACT_SITES + k] = qins_act_survey_entropy(a, l, k, c);
                sum += ent[(size_t)l * QINS_SURVEY_ACT_SITES + k] * w, n += w;
            }
        char name[16], path[96];
        qins_codec_name(&a->codec[c], name, sizeof name);
        snprintf(path, sizeof path, "/phase3/activations/%s/entropy", name);
        st = qins_run_array(e->run, path, QINS_DT_F64, ent, (size_t)a->n_layer, QINS_SURVEY_ACT_SITES);
        if (st == 0) st = qins_exp_metricf(e, sum / n, "bits/symbol", "act_%s/entropy", name);
        if (st == 0) st = qins_exp_metricf(e, n, "count", "act_%s/values", name);
    }
    free(ent);
    return st;
}

static int record_kv(struct phase3 *P) {
    struct qins_exp *e = P->s.e;
    const struct qins_kv_survey *k = &P->kvs;
    const size_t nsym = (size_t)1 << k->bits;
    double *per = malloc((size_t)k->n_layer * 2 * sizeof *per);
    uint64_t *all = calloc(nsym, sizeof *all);
    QINS_CHECK(per && all, QINS_ERR_NOMEM, "out of memory");
    int st = 0;
    for (int which = 0; which < 2 && st == 0; which++) {
        const char *kv = which ? "v" : "k";
        uint64_t codes = 0, same = 0, pairs = 0, bp = 0, hf = 0, rl = 0, pages = 0;
        memset(all, 0, nsym * sizeof *all);
        for (int l = 0; l < k->n_layer; l++) {
            const struct qins_kv_survey_layer *L = qins_kv_survey_get(k, l, which);
            for (size_t b = 0; b < nsym; b++) all[b] += L->hist[b];
            codes += L->codes, same += L->same_as_prev, pairs += L->neighbours, pages += L->pages;
            bp += L->bitpack_bytes, hf += L->huffman_bytes, rl += L->rle_huffman_bytes;
            per[l] = qins_entropy_bits(L->hist, nsym);
            per[k->n_layer + l] = L->neighbours ? (double)L->same_as_prev / (double)L->neighbours : NAN;
        }
        char path[96];
        snprintf(path, sizeof path, "/phase3/kv/%s_entropy_per_layer", kv);
        st = qins_run_array(e->run, path, QINS_DT_F64, per, (size_t)k->n_layer, 0);
        snprintf(path, sizeof path, "/phase3/kv/%s_run_fraction_per_layer", kv);
        if (st == 0) st = qins_run_array(e->run, path, QINS_DT_F64, per + k->n_layer, (size_t)k->n_layer, 0);
        if (st == 0) st = qins_exp_metricf(e, qins_entropy_bits(all, nsym), "bits/symbol", "kv/%s_entropy", kv);
        if (st == 0) st = qins_exp_metricf(e, pairs ? (double)same / (double)pairs : NAN, "fraction",
                                           "kv/%s_run_fraction", kv);
        if (st == 0) st = qins_exp_metricf(e, (double)pages, "count", "kv/%s_pages", kv);
        if (st == 0) st = qins_exp_metricf(e, bits_of(bp, codes), "bits/value", "kv/%s_bitpack_bits", kv);
        if (st == 0) st = qins_exp_metricf(e, bits_of(hf, codes), "bits/value", "kv/%s_huffman_bits", kv);
        if (st == 0) st = qins_exp_metricf(e, bits_of(rl, codes), "bits/value", "kv/%s_rle_huffman_bits", kv);
    }
    free(per);
    free(all);
    return st;
}

static int record_access(struct phase3 *P, struct qins_access_summary *acc) {
    struct qins_exp *e = P->s.e;
    const double cold_frac = qins_config_double(e->cfg, "policy", "cold_fraction");
    QINS_TRY(qins_access_summarize(e->model, (uint64_t)P->tokens, cold_frac, acc));
    for (size_t i = 0; i < P->n_t; i++) { // the file's tensor names carry ".weight"; the slots' do not
        struct tensor *t = &P->t[i];
        t->reads_per_token = NAN;
        for (size_t j = 0; j < acc->n_tensors; j++) {
            const size_t n = strlen(acc->t[j].name);
            if (!strncmp(t->name, acc->t[j].name, n) && (t->name[n] == 0 || t->name[n] == '.'))
                t->reads_per_token = acc->t[j].reads_per_token;
        }
        QINS_CHECK(!isnan(t->reads_per_token), QINS_ERR_STATE, "phase 3: tensor %s has no access count", t->name);
    }
    int st = qins_exp_metricf(e, acc->cold_fraction, "fraction", "access/cold_weight_fraction");
    if (st == 0) st = qins_exp_metricf(e, acc->hottest, "count", "access/hottest_reads_per_token");
    if (st == 0) st = qins_exp_metricf(e, acc->cold_below, "count", "access/cold_below_reads_per_token");
    if (st == 0) st = qins_exp_metricf(e, (double)acc->embd_rows, "count", "access/embd_rows");
    if (st == 0) st = qins_exp_metricf(e, (double)acc->embd_rows_touched, "count", "access/embd_rows_touched");
    if (st == 0) st = qins_exp_metricf(e, (double)acc->embd_rows_cold, "count", "access/embd_rows_cold");
    if (st == 0) st = qins_exp_metricf(e, acc->zipf_s, "ratio", "access/zipf_s");
    if (st == 0) st = qins_exp_metricf(e, acc->zipf_r2, "fraction", "access/zipf_r2");
    const char *const *shapes;
    const size_t ns = qins_config_list(e->cfg, "phase3", "projection_shapes", &shapes);
    for (size_t i = 0; i < ns && st == 0; i++) {
        struct qins_access_projection pj;
        st = qins_access_project(acc, qins_access_shape_find(shapes[i]), &pj);
        if (st == 0) st = qins_exp_metricf(e, pj.cold_fraction, "fraction", "proj_%s/cold_weight_fraction", shapes[i]);
        if (st == 0) st = qins_exp_metricf(e, pj.cold_rows_frac, "fraction", "proj_%s/embd_cold_rows_fraction", shapes[i]);
        if (st == 0) st = qins_exp_key(e, "proj_%s/cold_weight_fraction", shapes[i]);
    }
    return st;
}

// The policy's inputs: every weight tensor under policy_codec, every KV layer's K and V pages
// (bytes per sample, the cache read whole by every token's attention).
static int policy_inputs(struct phase3 *P, struct qins_policy_tensor **out, size_t *n_out) {
    const size_t nkv = (size_t)P->kvs.n_layer * 2, n = P->n_t + nkv;
    struct qins_policy_tensor *pt = calloc(n, sizeof *pt);
    QINS_CHECK(pt, QINS_ERR_NOMEM, "out of memory");
    const int c = P->policy_codec;
    char cname[QINS_POLICY_CODEC_MAX];
    qins_codec_name(&P->codec[c], cname, sizeof cname);
    const struct qins_decode_speed *sp = &P->speed[c];
    for (size_t i = 0; i < P->n_t; i++) {
        const struct tensor *t = &P->t[i];
        struct qins_policy_tensor *q = &pt[i];
        snprintf(q->name, sizeof q->name, "%s", t->name);
        snprintf(q->codec, sizeof q->codec, "%s", cname);
        q->cls = t->cls, q->n_elements = t->rows * t->cols, q->bits = P->codec[c].bits;
        q->bytes[QINS_POLICY_CODING_BITPACK] = t->sz[c].bitpack_bytes;
        q->bytes[QINS_POLICY_CODING_HUFFMAN] = t->sz[c].huffman_bytes;
        q->bytes[QINS_POLICY_CODING_RLE_HUFFMAN] = t->sz[c].rle_huffman_bytes;
        q->decode_gbps[QINS_POLICY_CODING_BITPACK] = sp->gbps[QINS_DECODE_BITPACK_LUT];
        q->decode_gbps[QINS_POLICY_CODING_HUFFMAN] = sp->gbps[QINS_DECODE_HUFFMAN];
        q->decode_gbps[QINS_POLICY_CODING_RLE_HUFFMAN] = sp->gbps[QINS_DECODE_RLE_HUFFMAN];
        q->reads_per_token = t->reads_per_token;
    }
    qins_codec_name(&P->kv.k, cname, sizeof cname);
    for (size_t j = 0; j < nkv; j++) {
        const struct qins_kv_survey_layer *L = qins_kv_survey_get(&P->kvs, (int)(j / 2), (int)(j % 2));
        struct qins_policy_tensor *q = &pt[P->n_t + j];
        snprintf(q->name, sizeof q->name, "kv.blk.%zu.%s", j / 2, j % 2 ? "v" : "k");
        snprintf(q->codec, sizeof q->codec, "%s", cname);
        q->cls = j % 2 ? QINS_POLICY_CLASS_KV_V : QINS_POLICY_CLASS_KV_K;
        const double per = P->samples ? 1.0 / (double)P->samples : 0;
        q->n_elements = (uint64_t)llround((double)L->codes * per), q->bits = P->kvs.bits;
        q->bytes[QINS_POLICY_CODING_BITPACK] = (uint64_t)llround((double)L->bitpack_bytes * per);
        q->bytes[QINS_POLICY_CODING_HUFFMAN] = (uint64_t)llround((double)L->huffman_bytes * per);
        q->bytes[QINS_POLICY_CODING_RLE_HUFFMAN] = (uint64_t)llround((double)L->rle_huffman_bytes * per);
        q->decode_gbps[QINS_POLICY_CODING_BITPACK] = P->kv_speed.gbps[QINS_DECODE_BITPACK_LUT];
        q->decode_gbps[QINS_POLICY_CODING_HUFFMAN] = P->kv_speed.gbps[QINS_DECODE_HUFFMAN];
        q->decode_gbps[QINS_POLICY_CODING_RLE_HUFFMAN] = P->kv_speed.gbps[QINS_DECODE_RLE_HUFFMAN];
        q->reads_per_token = 1;
        QINS_CHECK(q->n_elements > 0, QINS_ERR_STATE, "phase 3: KV layer %zu holds no full page (ctx < page)", j / 2);
    }
    *out = pt, *n_out = n;
    return 0;
}

// The policy's figures, its table (printed and at /summary/policy) and the plan's targets.
static int record_policy(struct phase3 *P, const struct qins_policy *pol) {
    struct qins_exp *e = P->s.e;
    uint64_t w_all = 0, w_huff = 0, cold32 = 0, cold_after = 0;
    char **lines = calloc(pol->n + 1, sizeof *lines);
    QINS_CHECK(lines, QINS_ERR_NOMEM, "out of memory");
    int st = 0;
    char buf[512];
    snprintf(buf, sizeof buf, "%-25s %-10s %-7s %8s %8s %8s %8s %8s %10s %-4s %-11s %s", "tensor", "class", "codec",
             "entropy", "bitpack", "huffman", "rle+huff", "zstd19", "reads/tok", "", "choice", "reason");
    lines[0] = strdup(buf);
    for (size_t i = 0; i < pol->n && st == 0; i++) {
        const struct qins_policy_entry *x = &pol->e[i];
        const bool weight = x->t.cls <= QINS_POLICY_CLASS_OUTPUT;
        const struct qins_coding_sizes *z = weight ? &P->t[i].sz[P->policy_codec] : NULL;
        double entropy = z ? z->entropy : NAN;
        if (!weight) {
            const struct qins_kv_survey_layer *L =
                qins_kv_survey_get(&P->kvs, (int)((i - P->n_t) / 2), (int)((i - P->n_t) % 2));
            entropy = qins_entropy_bits(L->hist, (size_t)1 << P->kvs.bits);
        }
        const uint64_t n = x->t.n_elements, after = x->t.bytes[x->coding];
        if (weight) {
            w_all += n;
            if (x->coding == QINS_POLICY_CODING_HUFFMAN || x->coding == QINS_POLICY_CODING_RLE_HUFFMAN) w_huff += n;
        }
        if (x->cold) cold32 += 4 * n, cold_after += after;
        snprintf(buf, sizeof buf, "%-25s %-10s %-7s %8.3f %8.3f %8.3f %8.3f %8.3f %10.4g %-4s %-11s %s", x->t.name,
                 qins_policy_class_name(x->t.cls), x->t.codec, entropy,
                 bits_of(x->t.bytes[QINS_POLICY_CODING_BITPACK], n), bits_of(x->t.bytes[QINS_POLICY_CODING_HUFFMAN], n),
                 bits_of(x->t.bytes[QINS_POLICY_CODING_RLE_HUFFMAN], n), z ? bits_of(z->zstd19_bytes, n) : NAN,
                 x->t.reads_per_token, x->cold ? "cold" : "hot", qins_policy_coding_name(x->coding), x->reason);
        lines[i + 1] = strdup(buf);
        if (!lines[i + 1]) st = QINS_ERR_NOMEM;
    }
    const char *title = "phase 3 policy (bits per value, every table and scale counted; KV: per sample)";
    if (st == 0) st = qins_sweep_text_table(e, "/summary/policy", title, (const char *const *)lines, pol->n + 1);
    for (size_t i = 0; i <= pol->n; i++) free(lines[i]);
    free(lines);
    const struct qins_named_metric m[] = {
        {"policy/tensors", (double)pol->n, "count"},
        {"policy/cold_tensors", (double)pol->n_cold, "count"},
        {"policy/ratio_fp32", pol->ratio_fp32, "ratio"},
        {"policy/ratio_fp16", pol->ratio_fp16, "ratio"},
        {"policy/bits_per_value", bits_of(pol->bytes_after, pol->bytes_fp32 / 4), "bits/value"},
        {"policy/overhead_pct", 100 * pol->overhead_frac, "pct_time"},
        {"policy/huffman_weight_fraction", w_all ? (double)w_huff / (double)w_all : NAN, "fraction"},
        {"policy/cold_ratio_fp32", cold_after ? (double)cold32 / (double)cold_after : NAN, "ratio"},
        {"policy/cold_ratio_fp16", cold_after ? (double)cold32 / 2 / (double)cold_after : NAN, "ratio"},
    };
    for (size_t i = 0; i < sizeof m / sizeof *m && st == 0; i++) st = qins_exp_metricf(e, m[i].value, m[i].unit, "%s", m[i].what);
    return st;
}

// ---- plots

static int plot_weight_entropy(struct phase3 *P) {
    const char *kinds[32];
    size_t nk = 0;
    for (size_t i = 0; i < P->n_t; i++) {
        size_t k = 0;
        while (k < nk && strcmp(kinds[k], P->t[i].kind)) k++;
        if (k == nk && nk < 32) kinds[nk++] = P->t[i].kind;
    }
    struct qins_series ps;
    QINS_TRY(qins_series_init(&ps, nk));
    for (size_t c = 0; c < P->s.n; c++) {
        if (P->s.v[c].flags & QINS_VARIANT_SWEEP_POINT) continue;
        double *y = qins_series_add(&ps, P->s.v[c].name);
        if (!y) return qins_series_free(&ps), QINS_ERR_NOMEM;
        for (size_t k = 0; k < nk; k++) {
            double sum = 0, n = 0;
            for (size_t i = 0; i < P->n_t; i++)
                if (!strcmp(P->t[i].kind, kinds[k])) sum += P->t[i].sz[c].entropy * (double)P->t[i].sz[c].n, n += (double)P->t[i].sz[c].n;
            y[k] = sum / n;
        }
    }
    return qins_series_plot(&ps, P->s.e->run, (struct qins_plot){"phase3_weight_entropy", QINS_PLOT_BARS,
           "Weight code entropy per tensor kind and codec (all layers)", "tensor", "entropy (bits/symbol)",
           .xlabels = kinds});
}

// One point per (codec, coding): its bits/value over all weights against its decode GB/s.
static int plot_bits_vs_decode(struct phase3 *P) {
    static const char *codings[QINS_DECODE_COUNT] = {"bit-pack + LUT", "Huffman", "RLE + Huffman", "zstd-3"};
    size_t nc = 0;
    for (size_t c = 0; c < P->s.n; c++) nc += !(P->s.v[c].flags & QINS_VARIANT_SWEEP_POINT);
    struct qins_series ps;
    QINS_TRY(qins_series_init(&ps, nc * QINS_DECODE_COUNT));
    for (int k = 0; k < QINS_DECODE_COUNT; k++) {
        double *y = qins_series_add(&ps, codings[k]);
        if (!y) return qins_series_free(&ps), QINS_ERR_NOMEM;
        static const char *const what[QINS_DECODE_COUNT] = {"bitpack_bits", "huffman_bits", "rle_huffman_bits",
                                                            "zstd3_bits"};
        for (size_t c = 0, j = 0; c < P->s.n; c++) {
            if (P->s.v[c].flags & QINS_VARIANT_SWEEP_POINT) continue;
            const size_t at = j++ * QINS_DECODE_COUNT + (size_t)k;
            ps.x[at] = P->speed[c].gbps[k];
            y[at] = qins_variant_get(&P->s.v[c], what[k]);
        }
    }
    return qins_series_plot(&ps, P->s.e->run, (struct qins_plot){"phase3_bits_vs_decode", QINS_PLOT_POINTS,
           "Bits per weight (tables and scales counted) vs decode speed, one point per codec and coding",
           "decode GB/s of FP32 output", "bits/value"});
}

static int plot_rank_frequency(struct phase3 *P, const struct qins_access_summary *acc) {
    const int V = P->s.e->model->hp.n_vocab;
    double *f = malloc((size_t)V * sizeof *f);
    QINS_CHECK(f, QINS_ERR_NOMEM, "out of memory");
    const int touched = qins_access_rank_frequency(P->s.e->model, (uint64_t)P->tokens, f);
    if (touched < 0) return free(f), touched;
    const size_t n = (size_t)touched;
    struct qins_series ps;
    int st = qins_series_init(&ps, n);
    double *y = st == 0 ? qins_series_add(&ps, "measured") : NULL;
    if (y) memcpy(y, f, n * sizeof *y);
    double *z = y ? qins_series_add(&ps, "Zipf fit") : NULL;
    if (st == 0 && !z) st = QINS_ERR_NOMEM;
    double sum = 0, sum_fit = 0; // the fit drawn with the measured total, so the two lines compare
    for (size_t r = 0; r < n && z; r++) sum += f[r], sum_fit += pow((double)(r + 1), -acc->zipf_s);
    for (size_t r = 0; r < n && z; r++) ps.x[r] = (double)(r + 1), z[r] = sum / sum_fit * pow((double)(r + 1), -acc->zipf_s);
    free(f);
    if (st) return qins_series_free(&ps), st;
    return qins_series_plot(&ps, P->s.e->run, (struct qins_plot){"phase3_embedding_rank_frequency", QINS_PLOT_LINES,
           "token_embd row reads per token by rank (rows never read are left out)", "rank (log)",
           "reads per token (log)", .logx = true, .logy = true});
}

static int plot_kv_and_acts(struct phase3 *P) {
    const struct qins_kv_survey *k = &P->kvs;
    struct qins_series ps;
    QINS_TRY(qins_series_init(&ps, (size_t)k->n_layer));
    for (int which = 0; which < 2; which++) {
        double *y = qins_series_add(&ps, which ? "V pages" : "K pages");
        if (!y) return qins_series_free(&ps), QINS_ERR_NOMEM;
        for (int l = 0; l < k->n_layer; l++) y[l] = qins_entropy_bits(qins_kv_survey_get(k, l, which)->hist, (size_t)1 << k->bits);
    }
    QINS_TRY(qins_series_plot(&ps, P->s.e->run, (struct qins_plot){"phase3_kv_entropy", QINS_PLOT_LINES,
             "KV page code entropy per layer (all samples' pages)", "layer", "entropy (bits/symbol)"}));
    const struct qins_act_survey *a = &P->act;
    const char *sites[QINS_SURVEY_ACT_SITES];
    for (int s = 0; s < QINS_SURVEY_ACT_SITES; s++) sites[s] = qins_site_name(qins_survey_act_sites[s]);
    QINS_TRY(qins_series_init(&ps, QINS_SURVEY_ACT_SITES));
    char names[QINS_SURVEY_ACT_CODECS][16]; // the series keep the pointers until they are recorded
    for (int c = 0; c < QINS_SURVEY_ACT_CODECS; c++) {
        double *y = qins_series_add(&ps, qins_codec_name(&a->codec[c], names[c], sizeof names[c]));
        if (!y) return qins_series_free(&ps), QINS_ERR_NOMEM;
        for (int s = 0; s < QINS_SURVEY_ACT_SITES; s++) {
            double sum = 0, n = 0;
            for (int l = 0; l < a->n_layer; l++) {
                const double w = (double)a->values[(size_t)l * QINS_SURVEY_ACT_SITES + s];
                sum += qins_act_survey_entropy(a, l, s, c) * w, n += w;
            }
            y[s] = n > 0 ? sum / n : NAN;
        }
    }
    return qins_series_plot(&ps, P->s.e->run, (struct qins_plot){"phase3_activation_entropy", QINS_PLOT_BARS,
           "Activation code entropy at each linear slot's input and output (per-token scales, all layers)", "site",
           "entropy (bits/symbol)", .xlabels = sites});
}

// For completeness (Gate 2 said NO-GO): the transported v_proj weights W' of every layer, coded
// by each surveyed codec at the same granularity; recorded as vpath_<codec>/*, apart from the
// Pattern A tensors the policy decides on.
static int survey_vpath(struct phase3 *P) {
    struct qins_exp *e = P->s.e;
    const char *kind = qins_config_str(e->cfg, "phase3", "vpath");
    if (!strcmp(kind, "none")) return 0;
    struct qins_transport_params tp;
    qins_transport_params_default(&tp);
    QINS_TRY(qins_transport_kind_parse(kind, &tp.kind));
    tp.alpha = qins_config_double(e->cfg, "phase3", "vpath_alpha");
    const char *enc = qins_config_str(e->cfg, "phase3", "vpath_encoding");
    QINS_CHECK(qins_transport_encoding_parse(enc, &tp.in_bits) == 0, QINS_ERR_ARG,
               "[phase3] vpath_encoding '%s' is not float or k<N>", enc);
    struct qins_calib_text text = {0};
    struct qins_pb pb = {0};
    const int L = e->model->hp.n_layer;
    struct qins_transport *ts = calloc((size_t)L, sizeof *ts);
    QINS_CHECK(ts, QINS_ERR_NOMEM, "out of memory");
    int st = qins_calib_text_init(&text, e, qins_config_int(e->cfg, "phase3", "vpath_calib_tokens"), e->ctx,
                                  "[phase3] vpath_calib_tokens");
    if (st == 0) st = qins_pb_init(&pb, e->model, "attn_v", &text);
    if (st == 0) st = qins_pb_set(&pb, &tp, L >= 64 ? ~0ull : (1ull << L) - 1, ts);
    int64_t nonfinite = 0; // a transport that blew up has no codes to count: recorded, not coded
    for (int l = 0; l < L && st == 0; l++) nonfinite += ts[l].w_nonfinite;
    if (st == 0) st = qins_exp_metricf(e, (double)nonfinite, "count", "vpath/nonfinite_count");
    for (size_t c = 0; c < P->s.n && st == 0 && !nonfinite; c++) {
        if (P->s.v[c].flags & QINS_VARIANT_SWEEP_POINT) continue;
        double ent = 0;
        uint64_t n = 0, b[3] = {0};
        for (int l = 0; l < L && st == 0; l++) {
            const size_t m = (size_t)ts[l].n_out * ts[l].n_in;
            float *w = malloc(m * sizeof *w);
            if (!w) st = QINS_ERR_NOMEM;
            for (size_t i = 0; w && i < m; i++) w[i] = (float)ts[l].w[i];
            struct qins_coding_sizes z;
            if (st == 0) st = qins_survey_weight(&P->codec[c], w, (size_t)ts[l].n_out, (size_t)ts[l].n_in, 0, NULL, &z);
            free(w);
            if (st == 0) ent += z.entropy * (double)z.n, n += z.n, b[0] += z.bitpack_bytes, b[1] += z.huffman_bytes,
                         b[2] += z.rle_huffman_bytes;
        }
        const char *cn = P->s.v[c].name;
        if (st == 0) st = qins_exp_metricf(e, ent / (double)n, "bits/symbol", "vpath_%s/entropy", cn);
        if (st == 0) st = qins_exp_metricf(e, bits_of(b[0], n), "bits/value", "vpath_%s/bitpack_bits", cn);
        if (st == 0) st = qins_exp_metricf(e, bits_of(b[1], n), "bits/value", "vpath_%s/huffman_bits", cn);
        if (st == 0) st = qins_exp_metricf(e, bits_of(b[2], n), "bits/value", "vpath_%s/rle_huffman_bits", cn);
    }
    char label[96];
    snprintf(label, sizeof label, "%s alpha %g encoding %s, every layer's attn_v", kind, tp.alpha, enc);
    if (st == 0) st = qins_run_attr_str(e->run, "/phase3", "vpath_transport", label);
    qins_pb_reset(&pb);
    for (int l = 0; l < L; l++) qins_transport_free(&ts[l]);
    free(ts);
    qins_pb_free(&pb);
    qins_calib_text_free(&text);
    return st;
}

static void phase3_free(struct phase3 *P) {
    for (size_t i = 0; i < P->n_t; i++) free(P->t[i].x), free(P->t[i].sz);
    free(P->t);
    free(P->codec);
    free(P->speed);
    qins_act_survey_free(&P->act);
    qins_kv_survey_free(&P->kvs);
    qins_sweep_free(&P->s);
}

// Writes the policy JSON last, reads it back (every key checked), and only then says it is defined.
static int write_policy(struct phase3 *P, struct qins_policy *pol, char *path, size_t cap) {
    struct qins_exp *e = P->s.e;
    struct qins_policy_tensor *in = NULL;
    size_t n = 0;
    struct qins_policy_config pc;
    int st = policy_inputs(P, &in, &n);
    if (st == 0) st = qins_policy_config_from(e->cfg, P->step_s, &pc);
    if (st == 0) st = qins_policy_decide(&pc, in, n, qins_run_id(e->run), pol);
    free(in);
    if (st == 0) st = qins_policy_path(e->args.results_dir, qins_run_id(e->run), path, cap);
    if (st == 0) st = qins_policy_write_json(pol, path);
    struct qins_policy back = {0};
    if (st == 0) st = qins_policy_read_json(path, &back);
    if (st == 0) st = back.n == pol->n ? 0 : QINS_ERR_STATE;
    qins_policy_free(&back);
    if (st == 0) st = record_policy(P, pol);
    if (st == 0) st = qins_run_attr_str(e->run, "/phase3", "policy_json", path);
    if (st == 0) st = qins_exp_metricf(e, 1, "bool", "policy_defined");
    return st;
}

int main(int argc, char **argv) {
    static struct phase3 P;
    struct qins_exp e;
    const struct qins_cfg_key *tables[] = {phase3_keys, qins_policy_cfg_keys, NULL};
    int st = qins_exp_open(&e, 3, argc, argv, tables);
    if (st == 1) return 0;
    qins_sweep_init(&P.s, &e, &(struct qins_sweep_ops){0});
    struct qins_access_summary acc = {0};
    struct qins_policy pol = {0};
    char policy_path[1200] = "";
    if (st == 0) st = qins_kv_spec_parse(qins_config_str(e.cfg, "phase3", "kv"), &P.kv);
    if (st == 0) st = build_codecs(&P);
    if (st == 0) st = load_tensors(&P, e.model_path);
    if (st == 0) {
        const struct qins_hparams *hp = &e.model->hp;
        st = qins_act_survey_init(&P.act, hp->n_layer, (int)qins_config_int(e.cfg, "phase3", "act_bits"),
                                  (float)qins_config_double(e.cfg, "phase3", "act_alpha"));
        if (st == 0) st = qins_kv_survey_init(&P.kvs, hp->n_layer, hp->n_head_kv * hp->head_dim, P.kv.k.bits,
                                              P.kv.page_tokens);
    }
    if (st == 0) st = survey_weights(&P);
    if (st == 0) st = measure_step(&P);
    if (st == 0) st = measure_decode(&P);
    if (st == 0) st = survey_vpath(&P);
    if (st == 0) st = run_samples(&P);
    if (st == 0) st = qins_exp_metricf(&e, (double)P.samples, "count", "entropy_samples");
    if (st == 0) st = qins_exp_metricf(&e, (double)P.tokens, "count", "entropy_tokens");
    if (st == 0) st = record_weights(&P);
    if (st == 0) st = record_activations(&P);
    if (st == 0) st = record_kv(&P);
    if (st == 0) st = record_access(&P, &acc);
    if (st == 0) st = plot_weight_entropy(&P);
    if (st == 0) st = plot_bits_vs_decode(&P);
    if (st == 0) st = plot_rank_frequency(&P, &acc);
    if (st == 0) st = plot_kv_and_acts(&P);
    const struct qins_sweep_column cols[] = {
        {"entropy", "entropy", "%9.3f"},         {"bitpack", "bitpack_bits", "%9.3f"},
        {"huffman", "huffman_bits", "%9.3f"},    {"rle+huff", "rle_huffman_bits", "%9.3f"},
        {"per-row", "huffman_rows_bits", "%9.3f"}, {"zstd-3", "zstd3_bits", "%9.3f"},
        {"zstd-19", "zstd19_bits", "%9.3f"},     {"dec GB/s", "decode_bitpack_lut_gbps", "%9.2f"},
        {"huff GB/s", "decode_huffman_gbps", "%9.2f"}, {"zstd GB/s", "decode_zstd3_gbps", "%9.2f"}};
    if (st == 0)
        st = qins_sweep_summary(&P.s, "phase 3 weight codes (bits per value over every 2-D tensor, scales and tables "
                                "counted; decode GB/s of FP32 output)", cols, sizeof cols / sizeof *cols);
    if (st == 0) st = qins_exp_key(&e, "entropy_samples,access/cold_weight_fraction,policy/ratio_fp32,"
                                       "policy/ratio_fp16,policy/overhead_pct,policy/huffman_weight_fraction");
    if (st == 0) st = qins_sweep_keys(&P.s, "entropy,huffman_bits", false);
    if (st == 0) st = write_policy(&P, &pol, policy_path, sizeof policy_path);
    if (st == 0) printf("policy: %s\n", policy_path);
    qins_policy_free(&pol);
    qins_access_summary_free(&acc);
    phase3_free(&P);
    if (st < 0) {
        if (policy_path[0]) remove(policy_path); // no policy without its complete run
        qins_exp_close(&e);
        return 1;
    }
    if (qins_exp_commit(&e) < 0) {
        if (policy_path[0]) remove(policy_path);
        return 1;
    }
    return 0;
}
