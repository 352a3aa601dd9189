// phases/phase1.c — qins-phase1, the KV cache: the FP32 model with its KV cache held in k-bit
// QINS pages against FP32 (baseline), FP16 (the noise floor) and the same-bits uniform INT-k and
// NormalFloat-k pages, plus an alpha sweep. Records compression (every byte of metadata counted),
// quality (token match, top-1, ppl, KLD, attention-output error), decode latency and page-decode
// time, a long-context projection and the plots `qins report` renders. Gate 1 reads this run.
// Reads: config → init → run (evaluate, attention error, latency, projection) → record → free.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "common.h"
#include "entropy.h"
#include "experiment.h"
#include "progress.h"

#define MAX_VARIANTS 64
#define MAX_CTXS 8
#define MAX_SHAPES 9

// ---------------------------------------------------------------------------------------------
// config

static void quiet_sink(int level, const char *msg, void *user) { (void)level, (void)msg, (void)user; }

// Parses a --kv spec without logging; the reason goes to why. Returns 0 or < 0.
static int parse_spec_quiet(const char *text, struct qins_kv_spec *spec, char *why, size_t cap) {
    qins_log_set(quiet_sink, NULL);
    int st = qins_kv_spec_parse(text, spec);
    qins_log_set(NULL, NULL);
    if (st < 0) snprintf(why, cap, "%s", qins_last_error());
    return st;
}

// Calls fn on each trimmed comma-separated item of value; stops at the first non-zero result.
static int for_items(const char *value, int (*fn)(const char *item, char *why, size_t cap), char *why, size_t cap) {
    char buf[1024];
    snprintf(buf, sizeof buf, "%s", value);
    for (char *save = NULL, *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        while (*t == ' ' || *t == '\t') t++;
        for (char *e = t + strlen(t); e > t && (e[-1] == ' ' || e[-1] == '\t');) *--e = 0;
        if (*t && fn(t, why, cap)) return 1;
    }
    return 0;
}

static int check_spec_item(const char *item, char *why, size_t cap) {
    struct qins_kv_spec spec;
    return parse_spec_quiet(item, &spec, why, cap) < 0;
}
static int check_variants(const char *value, char *why, size_t cap) { return for_items(value, check_spec_item, why, cap); }

static int check_kv_options(const char *value, char *why, size_t cap) {
    char text[256];
    struct qins_kv_spec spec;
    if (!*value) return 0;
    snprintf(text, sizeof text, "qins8:%s", value);
    return parse_spec_quiet(text, &spec, why, cap) < 0;
}

static int check_alpha_item(const char *item, char *why, size_t cap) {
    char *end;
    double a = strtod(item, &end);
    if (end == item || *end || !(a >= 1e-3 && a <= 1e6)) {
        snprintf(why, cap, "alpha '%s' is not a number in 1e-3..1e6", item);
        return 1;
    }
    return 0;
}
static int check_alphas(const char *value, char *why, size_t cap) { return for_items(value, check_alpha_item, why, cap); }

static int check_qins_item(const char *item, char *why, size_t cap) {
    struct qins_codec_params p;
    qins_codec_params_default(&p);
    qins_log_set(quiet_sink, NULL);
    int st = qins_codec_parse(item, &p);
    qins_log_set(NULL, NULL);
    if (st < 0 || p.codec != QINS_CODEC_QINS) {
        snprintf(why, cap, "'%s' is not a QINS codec (qins<k>, k = 2..12)", item);
        return 1;
    }
    return 0;
}
static int check_qins_codecs(const char *value, char *why, size_t cap) {
    return for_items(value, check_qins_item, why, cap);
}

static int check_ctx_item(const char *item, char *why, size_t cap) {
    char *end;
    long n = strtol(item, &end, 10);
    if (end == item || *end || n < 1 || n > 4096) {
        snprintf(why, cap, "context '%s' is not a token count in 1..4096", item);
        return 1;
    }
    return 0;
}
static int check_ctxs(const char *value, char *why, size_t cap) { return for_items(value, check_ctx_item, why, cap); }

static int check_proj_item(const char *item, char *why, size_t cap) {
    char *end;
    long long n = strtoll(item, &end, 10);
    if (end == item || *end || n < 1 || n > (1ll << 24)) {
        snprintf(why, cap, "projection context '%s' is not a token count in 1..16777216", item);
        return 1;
    }
    return 0;
}
static int check_proj(const char *value, char *why, size_t cap) { return for_items(value, check_proj_item, why, cap); }

// "name:LxHxD" = layers, KV heads, head dim.
static int parse_shape(const char *item, char *name, size_t cap, int *l, int *h, int *d) {
    const char *colon = strrchr(item, ':');
    if (!colon || colon == item || (size_t)(colon - item) >= cap) return -1;
    char x1, x2, tail;
    if (sscanf(colon + 1, "%d%c%d%c%d%c", l, &x1, h, &x2, d, &tail) != 5 || x1 != 'x' || x2 != 'x') return -1;
    if (*l < 1 || *l > QINS_KV_MAX_LAYERS || *h < 1 || *h > 4096 || *d < 1 || *d > 4096) return -1;
    memcpy(name, item, (size_t)(colon - item));
    name[colon - item] = 0;
    return 0;
}
static int check_shape_item(const char *item, char *why, size_t cap) {
    char name[64];
    int l, h, d;
    if (parse_shape(item, name, sizeof name, &l, &h, &d)) {
        snprintf(why, cap, "shape '%s' is not NAME:LAYERSxKV_HEADSxHEAD_DIM (e.g. phi3.5-mini:32x32x96)", item);
        return 1;
    }
    return 0;
}
static int check_shapes(const char *value, char *why, size_t cap) { return for_items(value, check_shape_item, why, cap); }

static const struct qins_cfg_key phase1_keys[] = {
    {"phase1", "variants", QINS_CFG_LIST, "fp16,int8,int6,nf8,nf6,qins8,qins6", 1, 24, NULL,
     "KV stores compared with the FP32 cache, in --kv syntax (codec[:option=value...]); fp16/fp32 alone are the "
     "plain stores, every other item is a paged store that gets kv_options first", check_variants},
    {"phase1", "kv_options", QINS_CFG_STRING, "alpha=2:gran=token:page=16", 0, -1, NULL,
     "--kv options every paged variant gets before its own (alpha, gran, page, page_bytes, scale, kcodec, vcodec, "
     "keep, keep_codec); e.g. add :keep=0,-1:keep_codec=fp16 to keep the first and last layer FP16",
     check_kv_options},
    {"phase1", "sweep_codecs", QINS_CFG_LIST, "qins8,qins6", 0, 4, NULL,
     "QINS codecs swept over alpha_sweep (variants named <codec>_a<alpha>)", check_qins_codecs},
    {"phase1", "alpha_sweep", QINS_CFG_LIST, "0.5,1,2,4,8", 0, 12, NULL,
     "alpha values of the sweep; the point equal to kv_options' alpha is the main variant (not run twice)",
     check_alphas},
    {"phase1", "latency_tokens", QINS_CFG_INT, "128", 2, 4096, NULL,
     "tokens generated per latency repetition for <variant>/overhead_pct (every variant)", NULL},
    {"phase1", "latency_contexts", QINS_CFG_LIST, "64,128,256,512", 0, MAX_CTXS - 1, NULL,
     "generation lengths of the overhead-vs-context sweep (non-sweep variants only)", check_ctxs},
    {"phase1", "latency_reps", QINS_CFG_INT, "7", 3, 1000, NULL,
     "latency repetitions per configuration (the first is a warm-up; medians of the rest)", NULL},
    {"phase1", "histogram_variant", QINS_CFG_STRING, "qins8", 0, -1, NULL,
     "variant whose layer-0 K and V pages give the code histograms (a paged k-bit variant; \"\" = none)", NULL},
    {"phase1", "projection_contexts", QINS_CFG_LIST, "4096,32768,131072", 1, 6, NULL,
     "context lengths (tokens) of the long-context KV projection", check_proj},
    {"phase1", "projection_shapes", QINS_CFG_LIST, "phi3.5-mini:32x32x96", 0, MAX_SHAPES - 1, NULL,
     "architectures projected besides the run's model: NAME:LAYERSxKV_HEADSxHEAD_DIM", check_shapes},
    {0},
};

// ---------------------------------------------------------------------------------------------
// variants

enum family { FAM_FLOAT = 0, FAM_INT, FAM_NF, FAM_QINS, FAM_OTHER, FAM_COUNT };
static const char *const family_names[FAM_COUNT] = {"float (fp16)", "INT-k", "NF-k", "QINS", "other"};

struct variant {
    char name[64];          // metric prefix: "qins8", "qins6_a0.5", ...
    struct qins_kv_spec spec;
    bool sweep;             // an alpha-sweep point: quality and latency at latency_tokens only
    enum family fam;
    int bits;
    // results
    double comp_fp16, comp_fp32, token_match, ppl_delta, kld, overhead, rel_error;
    double overhead_ctx[MAX_CTXS];
    int32_t *first_div;     // (n_prompts)
    double *layer_err;      // (n_layer)
};

static enum family family_of(const struct qins_kv_spec *s) {
    switch (s->k.codec) {
    case QINS_CODEC_FP16: case QINS_CODEC_FP32: case QINS_CODEC_BF16: return FAM_FLOAT;
    case QINS_CODEC_INT: return FAM_INT;
    case QINS_CODEC_NF: return FAM_NF;
    case QINS_CODEC_QINS: return FAM_QINS;
    default: return FAM_OTHER;
    }
}

// A metric-safe name for a --kv item: "qins8" stays, "qins8:gran=page" becomes "qins8_granpage".
static void variant_name(const char *item, char *out, size_t cap) {
    size_t j = 0;
    for (const char *p = item; *p && j + 1 < cap; p++) {
        if (*p == ':' || *p == ',') out[j++] = '_';
        else if (*p != '=') out[j++] = *p;
    }
    out[j] = 0;
}

static int add_variant(struct variant *v, const char *name, const char *item, const char *options, const char *extra) {
    memset(v, 0, sizeof *v);
    snprintf(v->name, sizeof v->name, "%s", name);
    char head[32], text[256];
    snprintf(head, sizeof head, "%.*s", (int)strcspn(item, ":"), item);
    const bool bare = !strchr(item, ':') && !extra;
    if (bare && (!strcmp(head, "fp16") || !strcmp(head, "fp32"))) snprintf(text, sizeof text, "%s", item);
    else
        snprintf(text, sizeof text, "%s%s%s%s%s%s", head, *options ? ":" : "", options,
                 strchr(item, ':') ? strchr(item, ':') : "", extra ? ":" : "", extra ? extra : "");
    QINS_TRY(qins_kv_spec_parse(text, &v->spec));
    v->fam = family_of(&v->spec);
    v->bits = v->spec.k.bits;
    return 0;
}

static int find_variant(const struct variant *v, int n, const char *name) {
    for (int i = 0; i < n; i++)
        if (!strcmp(v[i].name, name)) return i;
    return -1;
}

// Builds the variant list (main variants, then the alpha sweep) and checks every store against
// the model's dimensions at the shortest context the run uses. Returns the count or < 0.
static int build_variants(struct qins_exp *e, struct variant *v, int min_ctx, float *default_alpha) {
    const char *const *items;
    const size_t n_items = qins_config_list(e->cfg, "phase1", "variants", &items);
    const char *options = qins_config_str(e->cfg, "phase1", "kv_options");
    int n = 0;
    for (size_t i = 0; i < n_items; i++) {
        char name[64];
        variant_name(items[i], name, sizeof name);
        QINS_CHECK(find_variant(v, n, name) < 0 && strcmp(name, "baseline"), QINS_ERR_ARG,
                   "[phase1] variants: '%s' is listed twice (or named baseline)", items[i]);
        QINS_TRY(add_variant(&v[n++], name, items[i], options, NULL));
    }
    struct qins_kv_spec def;
    char text[256];
    snprintf(text, sizeof text, "qins8%s%s", *options ? ":" : "", options);
    QINS_TRY(qins_kv_spec_parse(text, &def));
    *default_alpha = def.k.alpha;
    const char *const *codecs, *const *alphas;
    const size_t n_codecs = qins_config_list(e->cfg, "phase1", "sweep_codecs", &codecs),
                 n_alphas = qins_config_list(e->cfg, "phase1", "alpha_sweep", &alphas);
    for (size_t c = 0; c < n_codecs; c++)
        for (size_t a = 0; a < n_alphas; a++) {
            const float alpha = strtof(alphas[a], NULL);
            if (alpha == *default_alpha && find_variant(v, n, codecs[c]) >= 0) continue; // = the main variant
            char name[64], extra[48];
            snprintf(name, sizeof name, "%s_a%g", codecs[c], alpha);
            snprintf(extra, sizeof extra, "alpha=%g", alpha);
            QINS_CHECK(n < MAX_VARIANTS, QINS_ERR_RANGE, "[phase1]: more than %d variants", MAX_VARIANTS);
            if (find_variant(v, n, name) >= 0) continue;
            QINS_TRY(add_variant(&v[n], name, codecs[c], options, extra));
            v[n++].sweep = true;
        }
    const struct qins_hparams *hp = &e->model->hp;
    for (int i = 0; i < n; i++) {
        struct qins_kv_store *s;
        QINS_TRY(qins_kv_store_create(&v[i].spec, hp->n_layer, min_ctx, hp->n_head_kv * hp->head_dim, &s));
        qins_kv_free(s);
    }
    return n;
}

// ---------------------------------------------------------------------------------------------
// attention-output error over a teacher-forced window, one token at a time (as decoding reads
// the cache), and the store's bytes and page timings at the end of the window

struct attn_obs {
    int n_layer, qd, pos;
    bool recording;
    float *ref;          // (ctx, n_layer, qd) the baseline's attention outputs
    double *err2, *ref2; // (n_layer)
    int64_t nonfinite;
};

static void attn_observer(void *user, int layer, enum qins_site site, const float *x, int n_tok, int dim) {
    struct attn_obs *o = user;
    if (site != QINS_SITE_ATTN_OUT || n_tok != 1 || dim != o->qd) return;
    float *r = o->ref + ((size_t)o->pos * o->n_layer + layer) * o->qd;
    if (o->recording) {
        memcpy(r, x, (size_t)dim * sizeof *x);
        return;
    }
    double e2 = 0, r2 = 0;
    for (int i = 0; i < dim; i++) {
        if (!isfinite(x[i])) o->nonfinite++;
        double d = (double)x[i] - r[i];
        e2 += d * d;
        r2 += (double)r[i] * r[i];
    }
    o->err2[layer] += e2;
    o->ref2[layer] += r2;
}

struct window {
    size_t bytes;                      // stored bytes after ctx positions
    struct qins_kv_paged_stats stats;
    bool paged;
};

// Runs the first ctx eval tokens through a store made from spec (NULL = FP32). keep: if not
// NULL, the store is handed to the caller instead of freed. Returns 0 or < 0.
static int teacher_forced(struct qins_exp *e, const struct qins_kv_spec *spec, struct attn_obs *o, struct window *w,
                          struct qins_kv_store **keep) {
    const struct qins_hparams *hp = &e->model->hp;
    struct qins_kv_spec fp32;
    if (!spec) {
        QINS_TRY(qins_kv_spec_parse("fp32", &fp32));
        spec = &fp32;
    }
    struct qins_kv_store *store = NULL;
    struct qins_state *s = NULL;
    QINS_TRY(qins_kv_store_create(spec, hp->n_layer, e->ctx, hp->n_head_kv * hp->head_dim, &store));
    int st = qins_state_init(e->model, e->ctx, 1, store, &s);
    if (st == 0) st = qins_model_add_observer(e->model, attn_observer, o);
    for (int p = 0; st == 0 && p < e->ctx; p++) {
        o->pos = p;
        st = qins_forward(e->model, s, e->eval_ids + p, 1, p, false);
    }
    qins_model_clear_observers(e->model);
    w->bytes = qins_kv_stored_bytes(store);
    w->paged = qins_kv_paged_stats(store, &w->stats) == 1;
    qins_state_free(s);
    if (st == 0 && keep) *keep = store;
    else qins_kv_free(store);
    return st;
}

// Histogram of the codes of one full page of layer 0 (K: which 0, V: which 1) of a paged store.
static int page_histogram(qins_run_t *run, const struct variant *v, struct qins_kv_store *store, int which,
                          double *hist, int *bins) {
    struct qins_kv_paged_stats ps;
    qins_kv_paged_stats(store, &ps);
    const int n_pages = store->n_pos / ps.page_tokens, page = n_pages / 2; // a middle page: not BOS's
    const uint8_t *payload;
    size_t len;
    struct qins_codec_params p;
    QINS_TRY(qins_kv_paged_page(store, 0, which, page, &payload, &len, &p));
    QINS_CHECK(qins_codec_is_lossy(&p), QINS_ERR_ARG, "[phase1] histogram_variant %s: layer 0 is not k-bit coded",
               v->name);
    const size_t n = (size_t)ps.page_tokens * store->kv_dim, nb = (size_t)1 << p.bits;
    uint16_t *codes = malloc(n * sizeof *codes);
    uint64_t *h = calloc(nb, sizeof *h);
    int st = codes && h ? 0 : QINS_ERR_NOMEM;
    if (st == 0) st = qins_codec_unpack_codes(&p, payload, len, (size_t)ps.page_tokens, (size_t)store->kv_dim, codes);
    if (st == 0) st = qins_entropy_histogram(codes, n, h, nb);
    char path[160], metric[160];
    const char *kv = which ? "v" : "k";
    if (st == 0) {
        for (size_t i = 0; i < nb; i++) hist[i] = (double)h[i];
        *bins = (int)nb;
        const double bits = qins_entropy_bits(h, nb);
        snprintf(path, sizeof path, "/entropy/%s_%s_page/hist", v->name, kv);
        st = qins_run_array(run, path, QINS_DT_F64, hist, nb, 0);
        if (st == 0) st = qins_run_attr_int(run, path, "bits", p.bits);
        if (st == 0) st = qins_run_attr_double(run, path, "entropy", bits);
        if (st == 0) st = qins_run_attr_int(run, path, "layer", 0);
        if (st == 0) st = qins_run_attr_int(run, path, "page", page);
        snprintf(metric, sizeof metric, "%s/%s_page_entropy", v->name, kv);
        if (st == 0) st = qins_run_metric(run, metric, bits, "bits/symbol");
        printf("%-28s layer 0 %s page %d: entropy %.3f bits/symbol of %d\n", v->name, which ? "V" : "K", page, bits,
               p.bits);
    }
    free(codes), free(h);
    return st;
}

// ---------------------------------------------------------------------------------------------
// recording helpers

static int metric(qins_run_t *run, const char *variant, const char *what, double value, const char *unit) {
    char name[192];
    snprintf(name, sizeof name, "%s/%s", variant, what);
    return qins_run_metric(run, name, value, unit);
}

static void ctx_label(int64_t n, char *out, size_t cap) {
    if (n % 1024 == 0) snprintf(out, cap, "%lldk", (long long)(n / 1024));
    else snprintf(out, cap, "%lld", (long long)n);
}

static int cmp_int(const void *a, const void *b) { return *(const int *)a - *(const int *)b; }
static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

// ---------------------------------------------------------------------------------------------

struct phase1 {
    struct qins_exp e;
    struct variant v[MAX_VARIANTS];
    int n_var;
    float default_alpha;
    int n_layer, kv_dim;
};

static int run_quality(struct phase1 *P, struct qins_exp_eval *base) {
    struct qins_exp *e = &P->e;
    const int np = (int)e->prompts.n;
    for (int i = 0; i < P->n_var; i++) {
        struct variant *v = &P->v[i];
        struct qins_exp_eval ev;
        QINS_TRY(qins_exp_evaluate(e, e->model, &v->spec, v->name, &ev));
        int st = qins_exp_record_quality(e, base, &ev);
        v->first_div = malloc((size_t)np * sizeof *v->first_div);
        if (st == 0 && !v->first_div) st = QINS_ERR_NOMEM;
        double match = 0;
        for (int p = 0; st == 0 && p < np; p++) {
            int fd, n = e->prompts.items[p].max_tokens;
            match += qins_token_match(base->gen + (size_t)p * base->n_tokens, ev.gen + (size_t)p * ev.n_tokens, n, &fd);
            v->first_div[p] = fd;
        }
        struct qins_ppl_compare cmp;
        if (st == 0) st = qins_ppl_compare(&base->ppl, &ev.ppl, &cmp);
        v->token_match = match / np;
        v->ppl_delta = 100.0 * (ev.ppl.ppl / base->ppl.ppl - 1.0);
        v->kld = cmp.kld_mean;
        qins_exp_eval_free(&ev);
        QINS_TRY(st);
    }
    return 0;
}

static int run_attention_and_bytes(struct phase1 *P) {
    struct qins_exp *e = &P->e;
    const struct qins_hparams *hp = &e->model->hp;
    const char *hist_name = qins_config_str(e->cfg, "phase1", "histogram_variant");
    struct attn_obs o = {hp->n_layer, hp->n_head * hp->head_dim, 0, true, NULL, NULL, NULL, 0};
    o.ref = malloc((size_t)e->ctx * o.n_layer * o.qd * sizeof *o.ref);
    o.err2 = calloc(o.n_layer, sizeof *o.err2);
    o.ref2 = calloc(o.n_layer, sizeof *o.ref2);
    double *hist = calloc(2u << QINS_CODEC_MAX_BITS, sizeof *hist);
    QINS_CHECK(o.ref && o.err2 && o.ref2 && hist, QINS_ERR_NOMEM, "out of memory for %d x %d attention rows", e->ctx,
               o.n_layer);
    struct window w;
    const double fp32_bytes = 2.0 * hp->n_layer * (double)e->ctx * P->kv_dim * 4,
                 fp16_bytes = fp32_bytes / 2;
    // the longest context any store of this run holds: a perplexity window, the longest
    // prompt + generation, the longest latency generation (+ BOS)
    int64_t longest = e->ctx;
    for (size_t i = 0; i < e->prompts.n; i++)
        if (e->n_prompt_ids[i] + e->prompts.items[i].max_tokens > longest)
            longest = e->n_prompt_ids[i] + e->prompts.items[i].max_tokens;
    const char *const *lc;
    const size_t n_lc = qins_config_list(e->cfg, "phase1", "latency_contexts", &lc);
    for (size_t i = 0; i < n_lc; i++)
        if (atoi(lc[i]) + 1 > longest) longest = atoi(lc[i]) + 1;
    if (qins_config_int(e->cfg, "phase1", "latency_tokens") + 1 > longest)
        longest = qins_config_int(e->cfg, "phase1", "latency_tokens") + 1;
    struct qins_progress bar;
    qins_progress_init(&bar, "attention error", (uint64_t)P->n_var + 1, "stores");
    int st = teacher_forced(e, NULL, &o, &w, NULL);
    if (st == 0) st = metric(e->run, "baseline", "kv_bytes_ctx", (double)w.bytes, "bytes");
    if (st == 0) st = metric(e->run, "baseline", "kv_peak_bytes", 2.0 * hp->n_layer * (double)longest * P->kv_dim * 4, "bytes");
    o.recording = false;
    int hist_bins = 0;
    for (int i = 0; st == 0 && i < P->n_var; i++) {
        struct variant *v = &P->v[i];
        qins_progress_update(&bar, (uint64_t)i + 1);
        memset(o.err2, 0, o.n_layer * sizeof *o.err2);
        memset(o.ref2, 0, o.n_layer * sizeof *o.ref2);
        o.nonfinite = 0;
        struct qins_kv_store *store = NULL;
        const bool want_hist = !strcmp(v->name, hist_name);
        st = teacher_forced(e, &v->spec, &o, &w, want_hist ? &store : NULL);
        if (st < 0) break;
        // the accounting of the live store must equal the projection from dimensions alone
        double projected;
        st = qins_kv_projected_bytes(&v->spec, hp->n_layer, P->kv_dim, e->ctx, &projected);
        if (st == 0 && (size_t)projected != w.bytes) {
            qins_log(QINS_LOG_ERROR, "%s: store holds %zu bytes, projection says %.0f", v->name, w.bytes, projected);
            st = QINS_ERR_STATE;
        }
        double e2 = 0, r2 = 0;
        v->layer_err = malloc(o.n_layer * sizeof *v->layer_err);
        if (st == 0 && !v->layer_err) st = QINS_ERR_NOMEM;
        for (int l = 0; st == 0 && l < o.n_layer; l++) {
            v->layer_err[l] = o.ref2[l] > 0 ? sqrt(o.err2[l] / o.ref2[l]) : 0;
            e2 += o.err2[l], r2 += o.ref2[l];
        }
        v->rel_error = r2 > 0 ? sqrt(e2 / r2) : 0;
        v->comp_fp32 = fp32_bytes / (double)w.bytes;
        v->comp_fp16 = fp16_bytes / (double)w.bytes;
        // steady state: bytes per token once the cache is long (full pages, headers included)
        const int64_t big = (int64_t)1 << 20;
        double per_tok = 0;
        if (st == 0) st = qins_kv_projected_bytes(&v->spec, hp->n_layer, P->kv_dim, big, &per_tok);
        per_tok /= (double)big;
        const double fp16_tok = 2.0 * hp->n_layer * P->kv_dim * 2;
        char path[160];
        if (st == 0) st = metric(e->run, v->name, "kv_bytes_ctx", (double)w.bytes, "bytes");
        if (st == 0) st = metric(e->run, v->name, "kv_compression_vs_fp32", v->comp_fp32, "ratio");
        if (st == 0) st = metric(e->run, v->name, "kv_compression_vs_fp16", v->comp_fp16, "ratio");
        if (st == 0) st = metric(e->run, v->name, "kv_bytes_per_token", per_tok, "bytes");
        double peak = 0;
        if (st == 0) st = qins_kv_projected_bytes(&v->spec, hp->n_layer, P->kv_dim, longest, &peak);
        if (st == 0) st = metric(e->run, v->name, "kv_peak_bytes", peak, "bytes");
        if (st == 0) st = metric(e->run, v->name, "kv_peak_positions", (double)longest, "count");
        if (st == 0) st = metric(e->run, v->name, "kv_compression_per_token_vs_fp32", 2 * fp16_tok / per_tok, "ratio");
        if (st == 0) st = metric(e->run, v->name, "kv_compression_per_token_vs_fp16", fp16_tok / per_tok, "ratio");
        if (st == 0) st = metric(e->run, v->name, "rel_error", v->rel_error, "fraction");
        if (st == 0) st = metric(e->run, v->name, "attn_nonfinite_count", (double)o.nonfinite, "count");
        snprintf(path, sizeof path, "/rel_error/%s/attn_out_per_layer", v->name);
        if (st == 0) st = qins_run_array(e->run, path, QINS_DT_F64, v->layer_err, (size_t)o.n_layer, 0);
        if (st == 0 && w.paged && w.stats.pages_decoded > 0) {
            st = metric(e->run, v->name, "page_decode_us", 1e6 * w.stats.decode_seconds / w.stats.pages_decoded, "us");
            if (st == 0)
                st = metric(e->run, v->name, "page_encode_us", 1e6 * w.stats.encode_seconds / w.stats.pages_encoded, "us");
            if (st == 0) st = metric(e->run, v->name, "kv_decode_us_per_token", 1e6 * w.stats.decode_seconds / e->ctx, "us");
            if (st == 0) st = metric(e->run, v->name, "pages_decoded", (double)w.stats.pages_decoded, "count");
            if (st == 0) st = metric(e->run, v->name, "page_tokens", w.stats.page_tokens, "count");
        }
        if (st == 0 && store) {
            st = page_histogram(e->run, v, store, 0, hist, &hist_bins);
            if (st == 0) st = page_histogram(e->run, v, store, 1, hist + hist_bins, &hist_bins);
            if (st == 0) {
                double *x = malloc(hist_bins * sizeof *x);
                const char *series[] = {"K page (layer 0)", "V page (layer 0)"};
                char title[160];
                snprintf(title, sizeof title, "%s codes of one real KV page, layer 0 (%d tokens x %d values)", v->name,
                         w.stats.page_tokens, P->kv_dim);
                for (int c = 0; x && c < hist_bins; c++) x[c] = c;
                struct qins_plot p = {"phase1_code_histogram", QINS_PLOT_HISTOGRAM, title, "code", "count",
                                      (size_t)hist_bins, x, NULL, 2, hist, series, false, false};
                st = x ? qins_run_plot(e->run, &p) : QINS_ERR_NOMEM;
                free(x);
            }
        }
        qins_kv_free(store);
    }
    qins_progress_finish(&bar);
    free(o.ref), free(o.err2), free(o.ref2), free(hist);
    return st;
}

static int run_latency(struct phase1 *P) {
    struct qins_exp *e = &P->e;
    const int reps = (int)qins_config_int(e->cfg, "phase1", "latency_reps"),
              main_tok = (int)qins_config_int(e->cfg, "phase1", "latency_tokens");
    const char *const *items;
    const size_t n_items = qins_config_list(e->cfg, "phase1", "latency_contexts", &items);
    int ctxs[MAX_CTXS], n_ctx = 0;
    for (size_t i = 0; i < n_items; i++) ctxs[n_ctx++] = atoi(items[i]);
    qsort(ctxs, n_ctx, sizeof *ctxs, cmp_int);
    bool have_main = false;
    for (int i = 0; i < n_ctx; i++) have_main |= ctxs[i] == main_tok;
    int order[MAX_CTXS + 1], n_order = 0;
    if (!have_main) order[n_order++] = main_tok;
    for (int i = 0; i < n_ctx; i++) order[n_order++] = ctxs[i];
    for (int i = 0; i < n_order; i++)
        QINS_CHECK(order[i] + 1 <= e->model->hp.n_ctx_train, QINS_ERR_ARG,
                   "[phase1] latency context %d exceeds the model context %d", order[i], e->model->hp.n_ctx_train);
    const struct qins_kv_spec *kvs[MAX_VARIANTS + 1];
    int idx[MAX_VARIANTS + 1];
    double med[MAX_VARIANTS + 1], *samples = calloc((size_t)(MAX_VARIANTS + 1) * (reps - 1), sizeof *samples);
    QINS_CHECK(samples, QINS_ERR_NOMEM, "out of memory");
    int st = 0;
    for (int oi = 0; st == 0 && oi < n_order; oi++) {
        const int c = order[oi];
        const bool all = c == main_tok;
        int n_cfg = 0;
        kvs[n_cfg] = NULL, idx[n_cfg++] = -1;
        for (int i = 0; i < P->n_var; i++)
            if (all || !P->v[i].sweep) kvs[n_cfg] = &P->v[i].spec, idx[n_cfg++] = i;
        printf("latency: %d configurations x %d repetitions, %d tokens each\n", n_cfg, reps, c);
        st = qins_exp_latency(e, n_cfg, kvs, NULL, NULL, c, reps, med, samples);
        for (int k = 0; st == 0 && k < n_cfg; k++) {
            const char *name = k == 0 ? "baseline" : P->v[idx[k]].name;
            char what[96], path[192];
            const double over = 100.0 * (med[k] / med[0] - 1.0);
            if (all) {
                snprintf(path, sizeof path, "/latency/%s/per_token_s", name);
                st = metric(e->run, name, "latency_us_per_token", med[k] * 1e6, "us");
                if (st == 0 && k > 0) st = metric(e->run, name, "overhead_pct", over, "pct_time");
                if (k > 0) P->v[idx[k]].overhead = over;
            } else {
                snprintf(path, sizeof path, "/latency/%s/ctx%d_per_token_s", name, c);
            }
            if (st == 0) st = qins_run_array(e->run, path, QINS_DT_F64, samples + (size_t)k * (reps - 1), (size_t)reps - 1, 0);
            if (st == 0) {
                snprintf(what, sizeof what, "latency_us_per_token_ctx%d", c);
                st = metric(e->run, name, what, med[k] * 1e6, "us");
            }
            if (st == 0 && k > 0) {
                snprintf(what, sizeof what, "overhead_pct_ctx%d", c);
                st = metric(e->run, name, what, over, "pct_time");
                for (int j = 0; j < n_ctx; j++)
                    if (ctxs[j] == c) P->v[idx[k]].overhead_ctx[j] = over;
            }
        }
    }
    free(samples);
    QINS_TRY(st);
    // plot: overhead vs context, non-sweep variants
    if (n_ctx >= 1) {
        const char *series[MAX_VARIANTS];
        double x[MAX_CTXS], *y = malloc((size_t)MAX_VARIANTS * MAX_CTXS * sizeof *y);
        QINS_CHECK(y, QINS_ERR_NOMEM, "out of memory");
        size_t ns = 0;
        for (int j = 0; j < n_ctx; j++) x[j] = ctxs[j];
        for (int i = 0; i < P->n_var; i++) {
            if (P->v[i].sweep) continue;
            series[ns] = P->v[i].name;
            for (int j = 0; j < n_ctx; j++) y[ns * n_ctx + j] = P->v[i].overhead_ctx[j];
            ns++;
        }
        struct qins_plot p = {"phase1_overhead_vs_context", QINS_PLOT_LINES,
                              "Decode overhead vs FP32 by generated length (medians, interleaved)", "tokens generated",
                              "overhead vs FP32 (%)", (size_t)n_ctx, x, NULL, ns, y, series, false, false};
        st = qins_run_plot(e->run, &p);
        free(y);
    }
    return st;
}

struct shape {
    char name[64];
    int n_layer, kv_dim;
};

static int run_projection(struct phase1 *P) {
    struct qins_exp *e = &P->e;
    struct shape shapes[MAX_SHAPES];
    int n_shapes = 0;
    // the run's model first, named after its file
    const char *base = strrchr(e->model_path, '/');
    base = base ? base + 1 : e->model_path;
    snprintf(shapes[0].name, sizeof shapes[0].name, "%.*s", (int)strcspn(base, "."), base);
    shapes[0].n_layer = P->n_layer, shapes[0].kv_dim = P->kv_dim;
    n_shapes = 1;
    const char *const *items;
    size_t n_items = qins_config_list(e->cfg, "phase1", "projection_shapes", &items);
    for (size_t i = 0; i < n_items; i++) {
        int l, h, d;
        QINS_CHECK(parse_shape(items[i], shapes[n_shapes].name, sizeof shapes[n_shapes].name, &l, &h, &d) == 0,
                   QINS_ERR_ARG, "[phase1] projection_shapes: bad shape '%s'", items[i]);
        shapes[n_shapes].n_layer = l, shapes[n_shapes].kv_dim = h * d;
        n_shapes++;
    }
    const char *const *cx;
    const size_t n_cx = qins_config_list(e->cfg, "phase1", "projection_contexts", &cx);
    const size_t n_cat = (size_t)n_shapes * n_cx;
    char(*labels)[96] = calloc(n_cat, sizeof *labels);
    const char **lab = calloc(n_cat, sizeof *lab), *series[MAX_VARIANTS + 1];
    double *y = calloc((size_t)(MAX_VARIANTS + 1) * n_cat, sizeof *y);
    QINS_CHECK(labels && lab && y, QINS_ERR_NOMEM, "out of memory");
    struct qins_kv_spec fp32;
    int st = qins_kv_spec_parse("fp32", &fp32);
    size_t ns = 0;
    for (int i = -1; st == 0 && i < P->n_var; i++) {
        if (i >= 0 && P->v[i].sweep) continue;
        const char *name = i < 0 ? "baseline" : P->v[i].name;
        const struct qins_kv_spec *spec = i < 0 ? &fp32 : &P->v[i].spec;
        series[ns] = i < 0 ? "fp32 (baseline)" : name;
        for (int s = 0; st == 0 && s < n_shapes; s++)
            for (size_t c = 0; st == 0 && c < n_cx; c++) {
                const int64_t n = strtoll(cx[c], NULL, 10);
                char l[32], what[160];
                ctx_label(n, l, sizeof l);
                const size_t cat = (size_t)s * n_cx + c;
                snprintf(labels[cat], sizeof labels[cat], "%.63s %.31s", shapes[s].name, l);
                lab[cat] = labels[cat];
                double bytes;
                st = qins_kv_projected_bytes(spec, shapes[s].n_layer, shapes[s].kv_dim, n, &bytes);
                y[ns * n_cat + cat] = bytes;
                snprintf(what, sizeof what, "projected_bytes_%.63s_%.31s", shapes[s].name, l);
                if (st == 0) st = metric(e->run, name, what, bytes, "bytes");
            }
        ns++;
    }
    if (st == 0) {
        struct qins_plot p = {"phase1_kv_projection", QINS_PLOT_BARS,
                              "Projected KV cache bytes at long context (projection from dimensions, not measured)",
                              "model, context", "bytes (log scale)", n_cat, NULL, lab, ns, y, series, false, true};
        st = qins_run_plot(e->run, &p);
    }
    free(labels), free(lab), free(y);
    return st;
}

// "Does QINS beat the same-bits INT and NF baselines?": 1/0 per QINS variant and metric, on
// |ppl_delta_pct| (closer to FP32 is better) and kld_mean.
static int record_beats(struct phase1 *P) {
    for (int i = 0; i < P->n_var; i++) {
        const struct variant *q = &P->v[i];
        if (q->fam != FAM_QINS) continue;
        const char *fams[] = {"int", "nf"};
        for (int f = 0; f < 2; f++) {
            char other[32], what[64];
            snprintf(other, sizeof other, "%s%d", fams[f], q->bits);
            const int j = find_variant(P->v, P->n_var, other);
            if (j < 0) continue;
            const struct variant *o = &P->v[j];
            snprintf(what, sizeof what, "beats_%s_ppl", other);
            QINS_TRY(metric(P->e.run, q->name, what, fabs(q->ppl_delta) < fabs(o->ppl_delta), "bool"));
            snprintf(what, sizeof what, "beats_%s_kld", other);
            QINS_TRY(metric(P->e.run, q->name, what, q->kld < o->kld, "bool"));
        }
    }
    return 0;
}

static int record_plots(struct phase1 *P) {
    struct qins_exp *e = &P->e;
    const int n = P->n_var, np = (int)e->prompts.n;
    // one series per codec family present (an all-missing series would break gnuplot)
    const char *fam_series[FAM_COUNT];
    int fam_col[FAM_COUNT], nf = 0;
    for (int f = 0; f < FAM_COUNT; f++) {
        fam_col[f] = -1;
        for (int i = 0; i < n && fam_col[f] < 0; i++)
            if (P->v[i].fam == (enum family)f) fam_col[f] = nf, fam_series[nf++] = family_names[f];
    }
    double *x = calloc(n, sizeof *x), *y = calloc((size_t)nf * n, sizeof *y), *y2 = calloc((size_t)nf * n, sizeof *y2);
    QINS_CHECK(x && y && y2, QINS_ERR_NOMEM, "out of memory");
    for (int i = 0; i < n; i++) {
        x[i] = P->v[i].comp_fp16;
        for (int f = 0; f < nf; f++) y[(size_t)f * n + i] = y2[(size_t)f * n + i] = NAN;
        const int col = fam_col[P->v[i].fam];
        y[(size_t)col * n + i] = P->v[i].ppl_delta;
        y2[(size_t)col * n + i] = P->v[i].kld > 0 ? P->v[i].kld : NAN;
    }
    struct qins_plot p1 = {"phase1_compression_vs_ppl", QINS_PLOT_POINTS,
                           "KV compression vs perplexity change (one point per variant)", "KV compression vs FP16 (x)",
                           "ppl change vs FP32 (%)", (size_t)n, x, NULL, (size_t)nf, y, fam_series, false, false};
    struct qins_plot p2 = {"phase1_compression_vs_kld", QINS_PLOT_POINTS,
                           "KV compression vs KL divergence from FP32 (one point per variant)",
                           "KV compression vs FP16 (x)", "mean KLD (nats, log scale)", (size_t)n, x, NULL, (size_t)nf,
                           y2, fam_series, false, true};
    int st = qins_run_plot(e->run, &p1);
    if (st == 0) st = qins_run_plot(e->run, &p2);
    free(x), free(y), free(y2);
    QINS_TRY(st);

    // first divergence per prompt and attention error per layer, non-sweep variants
    const char *series[MAX_VARIANTS];
    int ns = 0, L = P->n_layer;
    double *px = calloc(np > L ? np : L, sizeof *px), *py = calloc((size_t)MAX_VARIANTS * (np > L ? np : L), sizeof *py);
    QINS_CHECK(px && py, QINS_ERR_NOMEM, "out of memory");
    for (int p = 0; p < np; p++) px[p] = p;
    for (int i = 0; i < n; i++) {
        if (P->v[i].sweep) continue;
        series[ns] = P->v[i].name;
        for (int p = 0; p < np; p++) py[(size_t)ns * np + p] = P->v[i].first_div[p];
        ns++;
    }
    struct qins_plot p3 = {"phase1_first_divergence", QINS_PLOT_POINTS,
                           "First greedy token that differs from FP32, per prompt (= max_tokens when none)",
                           "prompt index", "position of first divergence", (size_t)np, px, NULL, (size_t)ns, py, series,
                           false, false};
    st = qins_run_plot(e->run, &p3);
    ns = 0;
    for (int l = 0; l < L; l++) px[l] = l;
    for (int i = 0; i < n; i++) {
        if (P->v[i].sweep) continue;
        for (int l = 0; l < L; l++) py[(size_t)ns * L + l] = P->v[i].layer_err[l] > 0 ? P->v[i].layer_err[l] : NAN;
        ns++;
    }
    struct qins_plot p4 = {"phase1_attn_rel_error", QINS_PLOT_LINES,
                           "Attention-output relative L2 error vs FP32 per layer (teacher-forced window)", "layer",
                           "relative L2 error (log scale)", (size_t)L, px, NULL, (size_t)ns, py, series, false, true};
    if (st == 0) st = qins_run_plot(e->run, &p4);
    free(px), free(py);
    QINS_TRY(st);

    // alpha sweep: KLD vs alpha per sweep codec, with the main variant at the default alpha
    const char *const *codecs, *const *alphas;
    const size_t nc = qins_config_list(e->cfg, "phase1", "sweep_codecs", &codecs),
                 na = qins_config_list(e->cfg, "phase1", "alpha_sweep", &alphas);
    if (nc == 0 || na == 0) return 0;
    double ax[16], *ay = malloc(nc * 16 * sizeof *ay);
    QINS_CHECK(ay, QINS_ERR_NOMEM, "out of memory");
    size_t nx = 0;
    for (size_t a = 0; a < na; a++) ax[nx++] = strtod(alphas[a], NULL);
    qsort(ax, nx, sizeof *ax, cmp_double);
    for (size_t c = 0; c < nc; c++)
        for (size_t a = 0; a < nx; a++) {
            char name[64];
            snprintf(name, sizeof name, "%s_a%g", codecs[c], ax[a]);
            int j = find_variant(P->v, n, name);
            if (j < 0 && (float)ax[a] == P->default_alpha) j = find_variant(P->v, n, codecs[c]);
            ay[c * nx + a] = j >= 0 ? P->v[j].kld : NAN;
        }
    struct qins_plot p5 = {"phase1_alpha_sweep", QINS_PLOT_LINES, "QINS alpha sweep: mean KLD vs FP32", "alpha (log scale)",
                           "mean KLD (nats, log scale)", nx, ax, NULL, nc, ay, (const char *const *)codecs, true, true};
    st = qins_run_plot(e->run, &p5);
    free(ay);
    return st;
}

static int record_summary(struct phase1 *P) {
    char *keys = malloc(8192);
    QINS_CHECK(keys, QINS_ERR_NOMEM, "out of memory");
    size_t len = (size_t)snprintf(keys, 8192, "baseline/ppl");
    printf("\nphase 1 summary (baseline FP32 KV cache; compression counts every byte of metadata)\n");
    printf("%-16s %12s %12s %12s %12s %12s %12s\n", "variant", "comp vs fp16", "token match", "ppl delta %",
           "kld mean", "attn rel err", "overhead %");
    for (int i = 0; i < P->n_var; i++) {
        const struct variant *v = &P->v[i];
        printf("%-16s %12.3f %12.4f %+12.4f %12.3g %12.3g %+12.2f\n", v->name, v->comp_fp16, v->token_match,
               v->ppl_delta, v->kld, v->rel_error, v->overhead);
        if (v->sweep) continue;
        len += (size_t)snprintf(keys + len, 8192 - len,
                                ",%s/kv_compression_vs_fp16,%s/token_match,%s/ppl_delta_pct,%s/kld_mean,%s/overhead_pct",
                                v->name, v->name, v->name, v->name, v->name);
        if (v->fam == FAM_QINS && len < 7000)
            len += (size_t)snprintf(keys + len, 8192 - len, ",%s/beats_int%d_ppl,%s/beats_int%d_kld,%s/beats_nf%d_ppl,"
                                    "%s/beats_nf%d_kld", v->name, v->bits, v->name, v->bits, v->name, v->bits, v->name,
                                    v->bits);
        if (len > 7500) break;
    }
    int st = qins_run_key_metrics(P->e.run, keys);
    free(keys);
    return st;
}

static void free_variants(struct phase1 *P) {
    for (int i = 0; i < P->n_var; i++) free(P->v[i].first_div), free(P->v[i].layer_err);
}

// With no --config, qins-phase1 runs experiments/phase1.ini: the defaults of [run] are shared by
// every phase (eval_chunks = 0 means every window), the recorded experiment is that file.
static int default_argv(int argc, char **argv, char ***out, char *path, size_t cap) {
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--config") || !strcmp(argv[i], "--help-config")) return argc;
    if (qins_path_find("source", "experiments/phase1.ini", path, cap) < 0) return -1;
    char **a = calloc((size_t)argc + 3, sizeof *a);
    if (!a) return -1;
    a[0] = argv[0], a[1] = "--config", a[2] = path;
    for (int i = 1; i < argc; i++) a[i + 2] = argv[i];
    *out = a;
    printf("qins-phase1: no --config given, running %s\n", path);
    return argc + 2;
}

int main(int argc, char **argv) {
    static struct phase1 P; // large (variants): not on the stack
    struct qins_exp *e = &P.e;
    char ini[1200], **args = argv;
    const int n_args = default_argv(argc, argv, &args, ini, sizeof ini);
    if (n_args < 0) return 1;
    const struct qins_cfg_key *tables[] = {phase1_keys, NULL};
    int st = qins_exp_open(e, 1, n_args, args, tables);
    if (st == 1) return 0;
    const struct qins_hparams *hp = e->model ? &e->model->hp : NULL;
    if (st == 0) {
        P.n_layer = hp->n_layer, P.kv_dim = hp->n_head_kv * hp->head_dim;
        int min_ctx = e->ctx;
        const char *const *items;
        const size_t n = qins_config_list(e->cfg, "phase1", "latency_contexts", &items);
        for (size_t i = 0; i < n; i++)
            if (atoi(items[i]) + 1 < min_ctx) min_ctx = atoi(items[i]) + 1;
        const int lt = (int)qins_config_int(e->cfg, "phase1", "latency_tokens");
        if (lt + 1 < min_ctx) min_ctx = lt + 1;
        st = P.n_var = build_variants(e, P.v, min_ctx, &P.default_alpha);
        const char *hist = qins_config_str(e->cfg, "phase1", "histogram_variant");
        if (st >= 0 && *hist) {
            const int h = find_variant(P.v, P.n_var, hist);
            if (h < 0 || P.v[h].spec.plain || !qins_codec_is_lossy(&P.v[h].spec.k)) {
                qins_log(QINS_LOG_ERROR, "[phase1] histogram_variant '%s' is not a paged k-bit variant of this run", hist);
                st = QINS_ERR_ARG;
            }
        }
        if (st > 0) st = 0;
    }
    struct qins_exp_eval base = {0};
    if (st == 0) st = qins_exp_evaluate(e, e->model, NULL, "baseline", &base);
    if (st == 0) st = run_quality(&P, &base);
    if (st == 0) st = run_attention_and_bytes(&P);
    if (st == 0) st = run_latency(&P);
    if (st == 0) st = run_projection(&P);
    if (st == 0) st = record_beats(&P);
    if (st == 0) st = record_plots(&P);
    if (st == 0) st = record_summary(&P);
    qins_exp_eval_free(&base);
    free_variants(&P);
    if (args != argv) free(args);
    if (st < 0) {
        qins_exp_close(e);
        return 1;
    }
    return qins_exp_commit(e) < 0 ? 1 : 0;
}
