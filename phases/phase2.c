// phases/phase2.c — qins-phase2, V-path transport (Pattern B on v_proj): every transport,
// alpha and input encoding of [phase2], on layer 0's v_proj alone and on every layer's, against
// the FP32 model; the best variant per scope by the rule below, also with the KV codec of
// phase 1; references Pattern A (v_proj weights codec-at-rest) and the KV codec alone.
// Reads: config → calibrate → sweep → best → KV combination → decode counts → latency → plots.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "calib.h"
#include "codec.h"
#include "common.h"
#include "experiment.h"
#include "slots.h"
#include "transport.h"

// The selection rule, recorded in the run and quoted by gates/gates.txt.
static const char best_rule[] =
    "best = per scope, among the transport variants with FP32 KV that completed and produced no NaN/Inf "
    "(nonfinite_count == 0): the highest token_match, ties by the lower kld_mean, then by the order of the "
    "sweep; if none qualifies, the highest token_match among those that completed";

// ---- config

static int check_alphas(const char *v, char *why, size_t cap) {
    const char *p = v;
    while (*p) {
        char *end;
        double a = strtod(p, &end);
        if (end == p || !isfinite(a) || a <= 0 || a > 1e6 || (*end && *end != ',')) {
            snprintf(why, cap, "alphas must be numbers in (0, 1e6], got '%s'", v);
            return 1;
        }
        p = *end ? end + 1 : end;
    }
    return 0;
}

// "float" (E(x) in FP64) or "kN" (N-bit QINS codes, N = 2..12).
static int parse_encoding(const char *s, int *bits) {
    if (!strcmp(s, "float")) return *bits = 0, 0;
    char *end;
    long k = s[0] == 'k' ? strtol(s + 1, &end, 10) : -1;
    if (k < 2 || k > QINS_CODEC_MAX_BITS || *end) return -1;
    *bits = (int)k;
    return 0;
}

static int check_encodings(const char *v, char *why, size_t cap) {
    char buf[256];
    snprintf(buf, sizeof buf, "%s", v);
    for (char *save, *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        int bits;
        while (*t == ' ') t++;
        if (parse_encoding(t, &bits)) {
            snprintf(why, cap, "encoding '%s': use float or kN with N = 2..%d", t, QINS_CODEC_MAX_BITS);
            return 1;
        }
    }
    return 0;
}

// Parses quietly (the core parsers log their own error line; the config reports it once).
static int check_kv(const char *v, char *why, size_t cap) {
    if (!strcmp(v, "none")) return 0;
    struct qins_kv_spec kv;
    const int lv = qins_log_get_level();
    qins_log_set_level(-1);
    int rc = qins_kv_spec_parse(v, &kv);
    qins_log_set_level(lv);
    if (rc) snprintf(why, cap, "%s", qins_last_error());
    return rc != 0;
}

static int check_codec(const char *v, char *why, size_t cap) {
    struct qins_codec_params cp;
    qins_codec_params_default(&cp);
    const int lv = qins_log_get_level();
    qins_log_set_level(-1);
    int rc = qins_codec_parse(v, &cp);
    qins_log_set_level(lv);
    if (rc) snprintf(why, cap, "%s", qins_last_error());
    return rc != 0;
}

static const struct qins_cfg_key phase2_keys[] = {
    {"phase2", "transports", QINS_CFG_LIST, "none,literal,jacobian,lstsq", 1, 4, "none|literal|jacobian|lstsq",
     "transports swept (core/transport.h)", NULL},
    {"phase2", "alphas", QINS_CFG_LIST, "0.1,1,10", 1, 8, NULL,
     "alpha values swept (relative to each channel's calibration scale)", check_alphas},
    {"phase2", "encodings", QINS_CFG_LIST, "float,k8", 1, 4, NULL,
     "input encodings swept: float (E(x) in FP64) or kN (N-bit QINS codes)", check_encodings},
    {"phase2", "scopes", QINS_CFG_LIST, "layer0,full", 1, 2, "layer0|full",
     "layer0 = only layer 0's v_proj transported; full = every layer's", NULL},
    {"phase2", "kv", QINS_CFG_STRING, "qins8", 0, -1, NULL,
     "phase-1 KV codec (core/kv_paged.h spec) combined with the transport; none = no combination", check_kv},
    {"phase2", "kv_variants", QINS_CFG_ENUM, "best", 0, -1, "best|all",
     "which transport variants also run with the KV codec: the best of each scope, or all", NULL},
    {"phase2", "weight_codec", QINS_CFG_STRING, "fp32", 0, -1, NULL,
     "how W' is stored (fp32 isolates the transport's own error; e.g. qins8, int8, fp16)", check_codec},
    {"phase2", "pattern_a_codec", QINS_CFG_STRING, "qins8", 0, -1, NULL,
     "Pattern A reference: the codec every projection keeps at rest (per-row scales)", check_codec},
    {"phase2", "op_point", QINS_CFG_ENUM, "mean", 0, -1, "mean|median|absmean",
     "literal/jacobian operating point per input channel", NULL},
    {"phase2", "scale", QINS_CFG_ENUM, "absmax", 0, -1, "absmax|rms", "per-channel scale of inputs and outputs", NULL},
    {"phase2", "ridge", QINS_CFG_DOUBLE, "1e-8", 0, 1, NULL, "lstsq ridge, relative to the mean Gram diagonal", NULL},
    {"phase2", "calib_tokens", QINS_CFG_INT, "4096", 2048, 65536, NULL,
     "calibration tokens the transports are fitted on (from [run] calib_slice, whole windows of ctx)", NULL},
    {"phase2", "heldout_tokens", QINS_CFG_INT, "1024", 1, 65536, NULL,
     "held-out tokens for rel_error (the windows after the fit windows in calib_slice)", NULL},
    {"phase2", "scatter_points", QINS_CFG_INT, "1500", 10, 100000, NULL,
     "points of the layer-0 scatter of E(Wx) against W'E(x)+b'", NULL},
    {"phase2", "latency_tokens", QINS_CFG_INT, "64", 1, 4096, NULL, "tokens generated per latency repetition", NULL},
    {"phase2", "latency_reps", QINS_CFG_INT, "5", 3, 1000, NULL,
     "latency repetitions per configuration (the first is a warm-up; medians of the rest)", NULL},
    {0},
};

// ---- variants

enum { SCOPE_LAYER0 = 0, SCOPE_FULL = 1 };
static const char *const scope_names[2] = {"layer0", "full"};

enum vkind { V_TRANSPORT = 0, V_PATTERN_A, V_KV_ONLY };

struct variant {
    char name[64];
    enum vkind kind;
    int scope;
    struct qins_transport_params p;
    const char *enc;        // encoding name as configured
    bool kv;                // evaluated with the [phase2] kv store
    int parent;             // index of the FP32-KV variant a KV combination repeats, else -1
    // results
    bool failed;            // could not be set up or evaluated (recorded, not skipped)
    bool q_written;         // its quality metrics are in the run already
    int failed_status;
    struct qins_exp_quality q;
    double rel_error, rel_error_mean, max_abs_error, z_mse, z_var;
    double nonfinite_v, nonfinite_heldout, nonfinite_inmodel, w_nonfinite, nonfinite_count;
    double w_absmax, v_stored_bytes;
    double *err_layer;      // (L) held-out V rel_error per transported layer, FP32 inputs (NaN elsewhere)
    double *err_inmodel;    // (L) held-out V rel_error inside the variant's model, every layer
    uint64_t w_hist[QINS_TRANSPORT_HIST_BINS];
};

struct phase2 {
    struct qins_exp *e;
    int L;
    uint64_t scope_mask[2];
    struct qins_calib calib;             // fit + held-out rows of every layer (FP32 model)
    struct qins_calib ref_v;             // FP32 V of every layer over the held-out windows
    int32_t *calib_ids;
    int64_t n_calib_ids;
    int fit_win, held_win;
    struct qins_kv_spec kv;
    bool have_kv;
    struct qins_codec_params pa_codec;
    struct variant *v;
    int n_v, cap_v;
};

static struct variant *add_variant(struct phase2 *P) {
    if (P->n_v == P->cap_v) {
        int cap = P->cap_v ? 2 * P->cap_v : 64;
        struct variant *nv = realloc(P->v, (size_t)cap * sizeof *nv);
        if (!nv) return NULL;
        P->v = nv, P->cap_v = cap;
    }
    struct variant *v = &P->v[P->n_v++];
    memset(v, 0, sizeof *v);
    v->parent = -1;
    v->err_layer = calloc((size_t)P->L, sizeof(double));
    v->err_inmodel = calloc((size_t)P->L, sizeof(double));
    if (!v->err_layer || !v->err_inmodel) return NULL;
    for (int l = 0; l < P->L; l++) v->err_layer[l] = v->err_inmodel[l] = NAN;
    qins_exp_quality_nan(&v->q);
    v->rel_error = v->rel_error_mean = v->max_abs_error = v->z_mse = v->z_var = NAN;
    v->w_absmax = v->v_stored_bytes = NAN;
    return v;
}

// ---- calibration: fit windows, then held-out windows, from [run] calib_slice

static int calibrate(struct phase2 *P) {
    struct qins_exp *e = P->e;
    QINS_CHECK(e->data.calib_b1 > e->data.calib_b0, QINS_ERR_ARG,
               "phase 2 needs calibration text: set [run] calib_slice (it is 'none')");
    size_t n;
    QINS_TRY(qins_tokenizer_encode(e->tok, e->data.text + e->data.calib_b0, e->data.calib_b1 - e->data.calib_b0, true,
                                   &P->calib_ids, &n));
    P->n_calib_ids = (int64_t)n;
    const int64_t fit_tok = qins_config_int(e->cfg, "phase2", "calib_tokens"),
                  held_tok = qins_config_int(e->cfg, "phase2", "heldout_tokens");
    P->fit_win = (int)((fit_tok + e->ctx - 1) / e->ctx);
    P->held_win = (int)((held_tok + e->ctx - 1) / e->ctx);
    QINS_CHECK((int64_t)(P->fit_win + P->held_win) * e->ctx <= P->n_calib_ids, QINS_ERR_ARG,
               "calib_slice %s gives %lld tokens; %d fit + %d held-out windows of %d need %lld (widen it or lower "
               "[phase2] calib_tokens / heldout_tokens)",
               e->data.calib_spec, (long long)P->n_calib_ids, P->fit_win, P->held_win, e->ctx,
               (long long)(P->fit_win + P->held_win) * e->ctx);
    struct qins_calib_opts o;
    qins_calib_opts_default(&o);
    o.max_rows = (int64_t)P->fit_win * e->ctx; // every fit row: lstsq uses them all
    o.max_heldout = (int64_t)P->held_win * e->ctx;
    const int bos = qins_tokenizer_bos(e->tok);
    QINS_TRY(qins_calib_init(&P->calib, e->model, ~0ull, &o));
    QINS_TRY(qins_calib_attach(&P->calib, e->model));
    qins_calib_set_heldout(&P->calib, false);
    int st = qins_calib_run_windows(e->model, P->calib_ids, P->n_calib_ids, e->ctx, 0, P->fit_win, bos);
    qins_calib_set_heldout(&P->calib, true);
    if (st == 0) st = qins_calib_run_windows(e->model, P->calib_ids, P->n_calib_ids, e->ctx, P->fit_win, P->held_win, bos);
    qins_model_clear_observers(e->model);
    QINS_TRY(st);
    QINS_TRY(qins_calib_finish(&P->calib));
    printf("calibration: %s = %lld tokens; fit on %d windows (%d tokens), held-out %d windows (%d tokens)\n",
           e->data.calib_spec, (long long)P->n_calib_ids, P->fit_win, P->fit_win * e->ctx, P->held_win,
           P->held_win * e->ctx);
    QINS_TRY(qins_run_attr_str(e->run, "/phase2", "calib_slice", e->data.calib_spec));
    QINS_TRY(qins_run_attr_int(e->run, "/phase2", "calib_fit_tokens", (int64_t)P->fit_win * e->ctx));
    QINS_TRY(qins_run_attr_int(e->run, "/phase2", "calib_heldout_tokens", (int64_t)P->held_win * e->ctx));
    QINS_TRY(qins_run_attr_str(e->run, "/phase2", "heldout_source",
                               "the calib_slice windows after the fit windows (never fitted on)"));
    return 0;
}

// V of every layer over the held-out windows with the model as it is now (rows kept in order:
// the reservoir holds every row while they fit). Rows holding NaN/Inf are skipped and counted.
static int capture_heldout_v(struct phase2 *P, struct qins_calib *out) {
    struct qins_exp *e = P->e;
    struct qins_calib_opts o;
    qins_calib_opts_default(&o);
    o.max_rows = 0, o.reservoir = 1, o.max_heldout = (int64_t)P->held_win * e->ctx;
    QINS_TRY(qins_calib_init(out, e->model, ~0ull, &o));
    qins_calib_set_heldout(out, true);
    QINS_TRY(qins_calib_attach(out, e->model));
    int st = qins_calib_run_windows(e->model, P->calib_ids, P->n_calib_ids, e->ctx, P->fit_win, P->held_win,
                                    qins_tokenizer_bos(e->tok));
    qins_model_clear_observers(e->model);
    return st;
}

// ---- one variant

static bool blew_up(int st) { return st == QINS_ERR_NUMERIC || st == QINS_ERR_RANGE; }

static void reset_model(struct phase2 *P) {
    qins_model_reset_v_transport(P->e->model);
    qins_model_reset_slots(P->e->model);
}

// Installs variant v on the model (transports are computed into ts, n_layer entries).
static int install(struct phase2 *P, const struct variant *v, struct qins_transport *ts) {
    reset_model(P);
    struct qins_model *m = P->e->model;
    if (v->kind == V_TRANSPORT) return qins_model_set_v_transport(m, &P->calib, &v->p, P->scope_mask[v->scope], ts);
    if (v->kind == V_PATTERN_A)
        for (int l = 0; l < P->L; l++)
            if (P->scope_mask[v->scope] >> l & 1) QINS_TRY(qins_slot_set_codec(&m->layers[l].wv, &P->pa_codec));
    return 0;
}

static int transport_diagnostics(struct phase2 *P, struct variant *v, const struct qins_transport *ts) {
    struct qins_model *m = P->e->model;
    double sum = 0;
    int n = 0;
    v->w_absmax = 0, v->w_nonfinite = 0, v->nonfinite_heldout = 0, v->max_abs_error = 0;
    v->rel_error = 0, v->z_mse = 0, v->z_var = 0;
    for (int l = 0; l < P->L; l++) {
        if (!(P->scope_mask[v->scope] >> l & 1)) continue;
        const struct qins_calib_stats *in = qins_calib_get(&P->calib, l, QINS_SITE_ATTN_IN);
        struct qins_transport_eval ev;
        QINS_TRY(qins_transport_eval(&ts[l], m->layers[l].wv.w, in->heldout, in->n_heldout, &ev));
        v->err_layer[l] = ev.rel_error;
        // the scope's figure is its worst layer (for layer0, layer 0's)
        if (!(ev.rel_error <= v->rel_error)) v->rel_error = ev.rel_error;
        if (l == 0 || !(ev.z_mse <= v->z_mse)) v->z_mse = ev.z_mse, v->z_var = ev.z_var;
        sum += ev.rel_error, n++;
        if (!(ev.max_abs_error <= v->max_abs_error)) v->max_abs_error = ev.max_abs_error;
        v->nonfinite_heldout += (double)ev.n_nonfinite;
        v->w_nonfinite += (double)ts[l].w_nonfinite;
        if (ts[l].w_absmax > v->w_absmax) v->w_absmax = ts[l].w_absmax;
        for (int b = 0; b < QINS_TRANSPORT_HIST_BINS; b++) v->w_hist[b] += ts[l].w_hist[b];
    }
    v->rel_error_mean = n ? sum / n : NAN;
    return 0;
}

static int inmodel_errors(struct phase2 *P, struct variant *v) {
    struct qins_calib cap = {0};
    int st = capture_heldout_v(P, &cap);
    v->nonfinite_inmodel = 0;
    for (int l = 0; st == 0 && l < P->L; l++) {
        const struct qins_calib_stats *r = qins_calib_get(&P->ref_v, l, QINS_SITE_V), *x = qins_calib_get(&cap, l, QINS_SITE_V);
        v->nonfinite_inmodel += (double)x->n_nonfinite;
        // rows with NaN/Inf were skipped, so the rows no longer pair up: the error is undefined
        v->err_inmodel[l] = x->n_nonfinite || x->n_heldout != r->n_heldout
                                ? NAN
                                : qins_rel_error(x->heldout, r->heldout, x->n_heldout * x->dim, NULL);
    }
    qins_calib_free(&cap);
    return st;
}

static int v_slot_figures(struct phase2 *P, struct variant *v) {
    struct qins_model *m = P->e->model;
    v->nonfinite_v = 0, v->v_stored_bytes = 0;
    for (int l = 0; l < P->L; l++) {
        if (!(P->scope_mask[v->scope] >> l & 1)) continue;
        v->v_stored_bytes += (double)m->layers[l].wv.w_stored_bytes;
        struct qins_transport_slot_stats s;
        if (qins_transport_slot_stats(&m->layers[l].wv, &s) == 0) v->nonfinite_v += (double)s.nonfinite_out;
    }
    return 0;
}

static int record_variant(struct phase2 *P, const char *name, const struct variant *v) {
    qins_run_t *run = P->e->run;
    char k[160];
#define M(metric, value, unit)                                                                                        \
    snprintf(k, sizeof k, "%s/%s", name, metric);                                                                    \
    QINS_TRY(qins_run_metric(run, k, value, unit))
    if (!v->q_written || strcmp(name, v->name)) QINS_TRY(qins_exp_write_quality(P->e, name, &v->q));
    M("failed", v->failed ? 1.0 : 0.0, "count");
    M("nonfinite_count", v->nonfinite_count, "count");
    if (v->kind == V_TRANSPORT) {
        M("alpha", v->p.alpha, "ratio");
        M("in_bits", (double)v->p.in_bits, "count");
        M("rel_error", v->rel_error, "fraction");
        M("rel_error_mean_layers", v->rel_error_mean, "fraction");
        M("max_abs_error", v->max_abs_error, "ratio");
        M("z_mse", v->z_mse, "ratio");
        M("z_var", v->z_var, "ratio");
        M("nonfinite_v", v->nonfinite_v, "count");
        M("nonfinite_heldout", v->nonfinite_heldout, "count");
        M("nonfinite_v_inmodel", v->nonfinite_inmodel, "count");
        M("w_nonfinite", v->w_nonfinite, "count");
        M("w_absmax", v->w_absmax, "ratio");
        M("v_stored_bytes", v->v_stored_bytes, "bytes");
    }
#undef M
    char path[200];
    if (v->kind == V_TRANSPORT) {
        snprintf(path, sizeof path, "/phase2/%s/rel_error_per_layer", name);
        QINS_TRY(qins_run_array(run, path, QINS_DT_F64, v->err_layer, (size_t)P->L, 0));
        snprintf(path, sizeof path, "/phase2/%s/w_hist", name);
        QINS_TRY(qins_run_array(run, path, QINS_DT_I64, v->w_hist, QINS_TRANSPORT_HIST_BINS, 0));
    }
    snprintf(path, sizeof path, "/phase2/%s/rel_error_in_model", name);
    QINS_TRY(qins_run_array(run, path, QINS_DT_F64, v->err_inmodel, (size_t)P->L, 0));
    snprintf(path, sizeof path, "/phase2/%s", name);
    QINS_TRY(qins_run_attr_str(run, path, "scope", scope_names[v->scope]));
    QINS_TRY(qins_run_attr_str(run, path, "kind",
                               v->kind == V_TRANSPORT ? qins_transport_kind_name(v->p.kind)
                               : v->kind == V_PATTERN_A ? "pattern_a"
                                                        : "kv_only"));
    QINS_TRY(qins_run_attr_str(run, path, "encoding", v->enc ? v->enc : "-"));
    QINS_TRY(qins_run_attr_int(run, path, "kv_codec", v->kv));
    if (v->failed) QINS_TRY(qins_run_attr_str(run, path, "failed_status", qins_status_str(v->failed_status)));
    return 0;
}

// Sets up, evaluates and records one variant. A blow-up (a codec refusing NaN/Inf, a fit that
// cannot be solved) is recorded as failed with NaN quality; other errors stop the run.
static int run_variant(struct phase2 *P, struct variant *v, const struct qins_exp_eval *base) {
    struct qins_exp *e = P->e;
    struct qins_transport *ts = calloc((size_t)P->L, sizeof *ts);
    QINS_CHECK(ts, QINS_ERR_NOMEM, "out of memory");
    struct qins_exp_eval ev = {0};
    int st = install(P, v, ts);
    if (st == 0 && v->kind == V_TRANSPORT) st = transport_diagnostics(P, v, ts);
    if (st == 0) st = qins_exp_evaluate(e, e->model, v->kv ? &P->kv : NULL, v->name, &ev);
    if (st == 0) st = qins_exp_record_quality_ex(e, base, &ev, &v->q, NULL);
    if (st == 0) v->q_written = true;
    qins_exp_eval_free(&ev);
    if (v->kind == V_TRANSPORT) v_slot_figures(P, v);
    if (st == 0) st = inmodel_errors(P, v);
    if (blew_up(st)) {
        printf("%-28s blew up (%s): recorded as failed, NaN quality\n", v->name, qins_status_str(st));
        v->failed = true, v->failed_status = st;
        if (!v->q_written) qins_exp_quality_nan(&v->q);
        st = 0;
    }
    double nf = (v->failed ? 0 : v->q.nonfinite_logits + v->q.nonfinite_gen_steps) + v->nonfinite_inmodel;
    if (v->kind == V_TRANSPORT) nf += v->nonfinite_v + v->nonfinite_heldout + v->w_nonfinite;
    v->nonfinite_count = v->failed && nf == 0 ? NAN : nf; // failed without a count: unknown, not 0
    if (st == 0) st = record_variant(P, v->name, v);
    reset_model(P);
    for (int l = 0; l < P->L; l++) qins_transport_free(&ts[l]);
    free(ts);
    return st;
}

// The rule in best_rule. Returns the index of the best FP32-KV transport variant of scope, or -1.
static int pick_best(const struct phase2 *P, int scope) {
    int best = -1;
    for (int pass = 0; pass < 2 && best < 0; pass++)
        for (int i = 0; i < P->n_v; i++) {
            const struct variant *v = &P->v[i];
            if (v->kind != V_TRANSPORT || v->scope != scope || v->kv || v->failed || isnan(v->q.token_match)) continue;
            if (pass == 0 && !(v->nonfinite_count == 0)) continue;
            if (best < 0) {
                best = i;
                continue;
            }
            const struct variant *b = &P->v[best];
            const double kv = isnan(v->q.kld_mean) ? INFINITY : v->q.kld_mean,
                         kb = isnan(b->q.kld_mean) ? INFINITY : b->q.kld_mean;
            if (v->q.token_match > b->q.token_match || (v->q.token_match == b->q.token_match && kv < kb)) best = i;
        }
    return best;
}

// ---- decode operations per forward pass (one token: a decode step), from the model counters

struct decode_count {
    double ops, elems;
};

static int count_decodes(struct phase2 *P, struct decode_count *out) {
    struct qins_model *m = P->e->model;
    m->counters = (struct qins_counters){0};
    qins_codec_counters_reset();
    QINS_TRY(qins_calib_run_windows(m, P->calib_ids, P->n_calib_ids, 1, 0, 1, -1));
    struct qins_codec_counters cc;
    qins_codec_counters_get(&cc);
    out->ops = (double)m->counters.qins_decode_ops;
    out->elems = (double)(cc.decoded_elems + m->counters.qins_decode_elems);
    return 0;
}

static int decode_accounting(struct phase2 *P, int scope, const struct variant *best, const char *name) {
    struct qins_model *m = P->e->model;
    qins_run_t *run = P->e->run;
    struct decode_count a = {0}, b = {0};
    reset_model(P);
    QINS_TRY(qins_model_set_weight_codec(m, &P->pa_codec, QINS_SLOT_MASK_ALL, false));
    QINS_TRY(count_decodes(P, &a));
    // Pattern A + V-path: the scope's v_proj slots carry the best transport instead.
    for (int l = 0; l < P->L; l++)
        if (P->scope_mask[scope] >> l & 1) qins_slot_reset(&m->layers[l].wv);
    struct qins_transport *ts = calloc((size_t)P->L, sizeof *ts);
    QINS_CHECK(ts, QINS_ERR_NOMEM, "out of memory");
    int st = qins_model_set_v_transport(m, &P->calib, &best->p, P->scope_mask[scope], ts);
    if (st == 0) st = count_decodes(P, &b);
    reset_model(P);
    for (int l = 0; l < P->L; l++) qins_transport_free(&ts[l]);
    free(ts);
    QINS_TRY(st);
    // Phi-3.5-mini from shapes: every layer (full) or one layer (layer0) on the V path.
    struct qins_hparams phi;
    qins_hparams_phi35_mini(&phi);
    struct qins_decode_tally pa, pv;
    QINS_TRY(qins_decode_tally(&phi, 1, false, false, &pa));
    QINS_TRY(qins_decode_tally(&phi, 1, true, false, &pv));
    const double share = scope == SCOPE_FULL ? 1.0 : 1.0 / phi.n_layer;
    const double phi_ops = pa.decode_ops - share * ((double)pa.decode_ops - pv.decode_ops),
                 phi_elems = pa.decoded_elems - share * ((double)pa.decoded_elems - pv.decoded_elems);
    char k[160];
#define M(metric, value, unit)                                                                                        \
    snprintf(k, sizeof k, "%s/%s", name, metric);                                                                    \
    QINS_TRY(qins_run_metric(run, k, value, unit))
    M("decode_ops_pattern_a", a.ops, "count");
    M("decode_ops_vpath", b.ops, "count");
    M("decode_ops_reduction_pct", 100.0 * (1.0 - b.ops / a.ops), "pct");
    M("decoded_elems_pattern_a", a.elems, "count");
    M("decoded_elems_vpath", b.elems, "count");
    M("decoded_elems_reduction_pct", 100.0 * (1.0 - b.elems / a.elems), "pct");
    M("phi35_decode_ops_pattern_a", (double)pa.decode_ops, "count");
    M("phi35_decode_ops_vpath", phi_ops, "count");
    M("phi35_decode_ops_reduction_pct", 100.0 * (1.0 - phi_ops / pa.decode_ops), "pct");
    M("phi35_decoded_elems_reduction_pct", 100.0 * (1.0 - phi_elems / pa.decoded_elems), "pct");
#undef M
    printf("%s decode ops per token: Pattern A %.0f -> + V-path %.0f (%+.1f %%), decoded elements %.0f -> %.0f "
           "(%+.1f %%); Phi-3.5-mini ops %llu -> %.0f, elements %+.1f %%\n",
           name, a.ops, b.ops, -100.0 * (1.0 - b.ops / a.ops), a.elems, b.elems, -100.0 * (1.0 - b.elems / a.elems),
           (unsigned long long)pa.decode_ops, phi_ops, -100.0 * (1.0 - phi_elems / pa.decoded_elems));
    return 0;
}

// ---- latency: FP32, best per scope (FP32 KV and with the KV codec), Pattern A

struct lat_cfg {
    struct phase2 *P;
    const struct variant *v[8];           // [0] NULL = FP32 baseline
    struct qins_transport *ts[8];          // (n_layer) transports of v[i], computed once
};

static int lat_apply(void *user, int i) {
    struct lat_cfg *c = user;
    struct phase2 *P = c->P;
    reset_model(P);
    const struct variant *v = c->v[i];
    if (!v) return 0;
    if (v->kind == V_PATTERN_A) return install(P, v, NULL);
    for (int l = 0; l < P->L; l++)
        if (P->scope_mask[v->scope] >> l & 1) QINS_TRY(qins_transport_install(&P->e->model->layers[l].wv, &c->ts[i][l]));
    return 0;
}

static int latency(struct phase2 *P, int n_cfg, struct lat_cfg *c, const char *const *names) {
    struct qins_exp *e = P->e;
    const int reps = (int)qins_config_int(e->cfg, "phase2", "latency_reps"),
              n_gen = (int)qins_config_int(e->cfg, "phase2", "latency_tokens");
    const struct qins_kv_spec *kvs[8] = {0};
    int st = 0;
    for (int i = 1; i < n_cfg && st == 0; i++) {
        kvs[i] = c->v[i]->kv ? &P->kv : NULL;
        if (c->v[i]->kind != V_TRANSPORT) continue;
        c->ts[i] = calloc((size_t)P->L, sizeof(struct qins_transport));
        if (!c->ts[i]) st = QINS_ERR_NOMEM;
        for (int l = 0; c->ts[i] && l < P->L && st == 0; l++)
            if (P->scope_mask[c->v[i]->scope] >> l & 1) {
                const struct qins_linear *wv = &e->model->layers[l].wv;
                st = qins_transport_compute(&c->v[i]->p, wv->w, wv->n_out, wv->n_in,
                                            qins_calib_get(&P->calib, l, QINS_SITE_ATTN_IN),
                                            qins_calib_get(&P->calib, l, QINS_SITE_V), &c->ts[i][l]);
            }
    }
    double lat[8] = {0}, *samples = calloc((size_t)n_cfg * (reps - 1), sizeof *samples);
    if (st == 0) st = samples ? 0 : QINS_ERR_NOMEM;
    if (st == 0) st = qins_exp_latency(e, n_cfg, kvs, lat_apply, c, n_gen, reps, lat, samples);
    reset_model(P);
    for (int i = 0; i < n_cfg && st == 0; i++) {
        char k[160];
        snprintf(k, sizeof k, "%s/latency_us_per_token", names[i]);
        st = qins_run_metric(e->run, k, lat[i] * 1e6, "us");
        snprintf(k, sizeof k, "/latency/%s/per_token_s", names[i]);
        if (st == 0) st = qins_run_array(e->run, k, QINS_DT_F64, samples + (size_t)i * (reps - 1), (size_t)reps - 1, 0);
        if (st == 0 && i > 0) {
            snprintf(k, sizeof k, "%s/overhead_pct", names[i]);
            st = qins_run_metric(e->run, k, 100.0 * (lat[i] / lat[0] - 1.0), "pct_time");
            printf("%-28s %.1f us/token vs FP32 %.1f us/token (%+.1f %%)\n", names[i], lat[i] * 1e6, lat[0] * 1e6,
                   100.0 * (lat[i] / lat[0] - 1.0));
        }
    }
    free(samples);
    for (int i = 0; i < n_cfg; i++) {
        for (int l = 0; c->ts[i] && l < P->L; l++) qins_transport_free(&c->ts[i][l]);
        free(c->ts[i]);
    }
    return st;
}

// ---- plots

// y per (transport x encoding) series against alpha, for the FP32-KV transport variants of scope.
static int plot_sweep(struct phase2 *P, int scope, const char *name, const char *title, const char *ylabel,
                      bool logy, double (*get)(const struct variant *)) {
    const char *const *tr, *const *al, *const *en;
    const size_t nt = qins_config_list(P->e->cfg, "phase2", "transports", &tr),
                 na = qins_config_list(P->e->cfg, "phase2", "alphas", &al),
                 ne = qins_config_list(P->e->cfg, "phase2", "encodings", &en);
    double x[8], y[16 * 8];
    char labels[16][48];
    const char *series[16];
    size_t ns = 0;
    for (size_t a = 0; a < na; a++) x[a] = strtod(al[a], NULL);
    for (size_t t = 0; t < nt; t++)
        for (size_t k = 0; k < ne; k++, ns++) {
            snprintf(labels[ns], sizeof labels[ns], "%s %s", tr[t], en[k]);
            series[ns] = labels[ns];
            for (size_t a = 0; a < na; a++) {
                y[ns * na + a] = NAN;
                for (int i = 0; i < P->n_v; i++) {
                    const struct variant *v = &P->v[i];
                    if (v->kind == V_TRANSPORT && !v->kv && v->scope == scope && !strcmp(qins_transport_kind_name(v->p.kind), tr[t]) &&
                        v->p.alpha == x[a] && !strcmp(v->enc, en[k]))
                        y[ns * na + a] = get(v);
                }
            }
        }
    struct qins_plot p = {name, QINS_PLOT_LINES, title, "alpha", ylabel, na, x, NULL, ns, y, series, true, logy};
    return qins_run_plot(P->e->run, &p);
}

static double get_rel(const struct variant *v) { return v->rel_error; }
static double get_match(const struct variant *v) { return v->q.token_match; }

static int plots(struct phase2 *P, int best0, int bestf) {
    qins_run_t *run = P->e->run;
    if (best0 >= 0) {
        QINS_TRY(plot_sweep(P, SCOPE_LAYER0, "phase2_rel_error_layer0", "Layer-0 v_proj: held-out V relative error",
                            "relative L2 error", true, get_rel));
        QINS_TRY(plot_sweep(P, SCOPE_LAYER0, "phase2_token_match_layer0",
                            "Greedy token match vs FP32, layer 0 transported", "fraction of tokens", false, get_match));
    }
    if (bestf >= 0) {
        QINS_TRY(plot_sweep(P, SCOPE_FULL, "phase2_rel_error_full",
                            "All layers: worst layer's held-out V relative error", "relative L2 error", true, get_rel));
        QINS_TRY(plot_sweep(P, SCOPE_FULL, "phase2_token_match_full", "Greedy token match vs FP32, all layers transported",
                            "fraction of tokens", false, get_match));
        // per-layer error inside the transported model, each transport at the best's alpha and encoding
        const struct variant *b = &P->v[bestf];
        double x[64], y[4 * 64];
        const char *series[4];
        size_t ns = 0;
        for (int l = 0; l < P->L; l++) x[l] = l;
        for (int i = 0; i < P->n_v && ns < 4; i++) {
            const struct variant *v = &P->v[i];
            if (v->kind != V_TRANSPORT || v->kv || v->scope != SCOPE_FULL || v->p.alpha != b->p.alpha ||
                v->p.in_bits != b->p.in_bits)
                continue;
            series[ns] = qins_transport_kind_name(v->p.kind);
            memcpy(y + ns * P->L, v->err_inmodel, (size_t)P->L * sizeof(double));
            ns++;
        }
        char title[160];
        snprintf(title, sizeof title, "All layers transported (alpha %g, %s): V error per layer inside the model",
                 b->p.alpha, b->enc);
        struct qins_plot p = {"phase2_layer_error", QINS_PLOT_LINES, title, "layer", "relative L2 error of V",
                              (size_t)P->L, x, NULL, ns, y, series, false, true};
        QINS_TRY(qins_run_plot(run, &p));
        // |W'| distribution of each transport (pooled over layers), same alpha and encoding
        double hx[QINS_TRANSPORT_HIST_BINS], hy[4 * QINS_TRANSPORT_HIST_BINS];
        // bin 0 is [0, 1e-8), bin k >= 1 is [1e-8 * 10^((k-1)/2), 1e-8 * 10^(k/2)): centres in log10
        for (int k = 0; k < QINS_TRANSPORT_HIST_BINS; k++) hx[k] = -7.75 + 0.5 * (k - 1);
        ns = 0;
        for (int i = 0; i < P->n_v && ns < 4; i++) {
            const struct variant *v = &P->v[i];
            if (v->kind != V_TRANSPORT || v->kv || v->scope != SCOPE_FULL || v->p.alpha != b->p.alpha ||
                v->p.in_bits != b->p.in_bits)
                continue;
            series[ns] = qins_transport_kind_name(v->p.kind);
            for (int k = 0; k < QINS_TRANSPORT_HIST_BINS; k++) hy[ns * QINS_TRANSPORT_HIST_BINS + k] = (double)v->w_hist[k];
            ns++;
        }
        snprintf(title, sizeof title, "|W'| over all layers (alpha %g, %s); bins of half a decade", b->p.alpha, b->enc);
        struct qins_plot h = {"phase2_w_hist", QINS_PLOT_HISTOGRAM, title, "log10 |W'| (bin centre; ends: < 1e-8, >= 1e8)",
                              "entries", QINS_TRANSPORT_HIST_BINS, hx, NULL, ns, hy, series, false, false};
        QINS_TRY(qins_run_plot(run, &h));
    }
    // scatter of E(Wx) against W'E(x) + b' for layer 0, every transport at the best's alpha/encoding
    if (best0 >= 0) {
        const struct variant *b = &P->v[best0];
        struct qins_model *m = P->e->model;
        const struct qins_linear *wv = &m->layers[0].wv;
        const struct qins_calib_stats *in = qins_calib_get(&P->calib, 0, QINS_SITE_ATTN_IN);
        const int64_t want = qins_config_int(P->e->cfg, "phase2", "scatter_points");
        int64_t rows = (want + wv->n_out - 1) / wv->n_out;
        if (rows > in->n_heldout) rows = in->n_heldout;
        const size_t n = (size_t)rows * wv->n_out;
        double *x = malloc(n * sizeof *x), *y = malloc(5 * n * sizeof *y);
        const char *series[5];
        size_t ns = 0;
        int st = x && y ? 0 : QINS_ERR_NOMEM;
        const enum qins_transport_kind kinds[] = {QINS_TRANSPORT_NONE, QINS_TRANSPORT_LITERAL, QINS_TRANSPORT_JACOBIAN,
                                                  QINS_TRANSPORT_LSTSQ};
        for (int k = 0; k < 4 && st == 0; k++) {
            struct qins_transport_params p = b->p;
            p.kind = kinds[k];
            struct qins_transport t;
            st = qins_transport_compute(&p, wv->w, wv->n_out, wv->n_in, in, qins_calib_get(&P->calib, 0, QINS_SITE_V), &t);
            // the rows are spread over the held-out sample (every stride-th row)
            const int64_t stride = in->n_heldout / rows;
            for (int64_t r = 0; r < rows && st == 0; r++)
                st = qins_transport_encoded_pair(&t, wv->w, in->heldout + (size_t)(r * stride) * wv->n_in,
                                                 x + (size_t)r * wv->n_out, y + ns * n + (size_t)r * wv->n_out);
            qins_transport_free(&t);
            series[ns++] = qins_transport_kind_name(kinds[k]);
        }
        if (st == 0) {
            memcpy(y + ns * n, x, n * sizeof *x); // the ideal: prediction = target
            series[ns++] = "ideal (y = x)";
            char title[160];
            snprintf(title, sizeof title, "Layer 0 v_proj, held-out rows (alpha %g, %s): encoded target vs transported",
                     b->p.alpha, b->enc);
            struct qins_plot p = {"phase2_scatter_layer0", QINS_PLOT_POINTS, title, "E(W x)  (target, encoded domain)",
                                  "W' E(x) + b'  (transported)", n, x, NULL, ns, y, series, false, false};
            st = qins_run_plot(run, &p);
        }
        free(x), free(y);
        QINS_TRY(st);
    }
    return 0;
}

// ---- the table printed at the end (the run file holds the same figures)

static void print_table(const struct phase2 *P) {
    printf("\n%-34s %-7s %-9s %6s %-6s %-3s %8s %9s %10s %9s\n", "variant", "scope", "transport", "alpha", "enc", "kv",
           "match", "ppl d%", "rel_err", "NaN/Inf");
    for (int i = 0; i < P->n_v; i++) {
        const struct variant *v = &P->v[i];
        const char *kind = v->kind == V_TRANSPORT ? qins_transport_kind_name(v->p.kind)
                           : v->kind == V_PATTERN_A ? "patternA"
                                                    : "-";
        char alpha[16] = "-";
        if (v->kind == V_TRANSPORT) snprintf(alpha, sizeof alpha, "%g", v->p.alpha);
        printf("%-34s %-7s %-9s %6s %-6s %-3s %8.4f %+9.3f %10.4g %9.0f%s\n", v->name, scope_names[v->scope], kind,
               alpha, v->enc ? v->enc : "-", v->kv ? "yes" : "no", v->q.token_match, v->q.ppl_delta_pct, v->rel_error,
               v->nonfinite_count, v->failed ? "  FAILED" : "");
    }
}

// ---- main

static int run_phase2(struct phase2 *P) {
    struct qins_exp *e = P->e;
    qins_config_t *cfg = e->cfg;
    P->L = e->model->hp.n_layer;
    QINS_CHECK(P->L <= 64, QINS_ERR_UNSUPPORTED, "phase 2 selects layers with a 64-bit mask; the model has %d", P->L);
    P->scope_mask[SCOPE_LAYER0] = 1;
    P->scope_mask[SCOPE_FULL] = P->L == 64 ? ~0ull : (1ull << P->L) - 1;
    const char *kv_text = qins_config_str(cfg, "phase2", "kv");
    P->have_kv = strcmp(kv_text, "none") != 0;
    if (P->have_kv) QINS_TRY(qins_kv_spec_parse(kv_text, &P->kv));
    qins_codec_params_default(&P->pa_codec);
    QINS_TRY(qins_codec_parse(qins_config_str(cfg, "phase2", "pattern_a_codec"), &P->pa_codec));
    P->pa_codec.granularity = QINS_GRAN_PER_ROW;
    struct qins_transport_params base_p;
    qins_transport_params_default(&base_p);
    QINS_TRY(qins_codec_parse(qins_config_str(cfg, "phase2", "weight_codec"), &base_p.wcodec));
    if (base_p.wcodec.codec != QINS_CODEC_FP32) base_p.wcodec.granularity = QINS_GRAN_PER_ROW;
    QINS_TRY(qins_op_point_parse(qins_config_str(cfg, "phase2", "op_point"), &base_p.op));
    base_p.in_scale = base_p.out_scale =
        strcmp(qins_config_str(cfg, "phase2", "scale"), "rms") ? QINS_SCALE_ABSMAX : QINS_SCALE_RMS;
    base_p.ridge = qins_config_double(cfg, "phase2", "ridge");
    QINS_TRY(qins_run_attr_str(e->run, "/phase2", "best_rule", best_rule));
    QINS_TRY(qins_run_attr_str(e->run, "/phase2", "kv_spec", kv_text));

    QINS_TRY(calibrate(P));
    QINS_TRY(capture_heldout_v(P, &P->ref_v));

    // the variant list: the sweep (FP32 KV), then the references
    const char *const *sc, *const *tr, *const *al, *const *en;
    const size_t n_sc = qins_config_list(cfg, "phase2", "scopes", &sc), n_tr = qins_config_list(cfg, "phase2", "transports", &tr),
                 n_al = qins_config_list(cfg, "phase2", "alphas", &al), n_en = qins_config_list(cfg, "phase2", "encodings", &en);
    bool scope_on[2] = {false, false};
    for (size_t s = 0; s < n_sc; s++) scope_on[strcmp(sc[s], "full") ? SCOPE_LAYER0 : SCOPE_FULL] = true;
    for (int s = 0; s < 2; s++) {
        if (!scope_on[s]) continue;
        for (size_t t = 0; t < n_tr; t++)
            for (size_t a = 0; a < n_al; a++)
                for (size_t k = 0; k < n_en; k++) {
                    struct variant *v = add_variant(P);
                    QINS_CHECK(v, QINS_ERR_NOMEM, "out of memory");
                    v->kind = V_TRANSPORT, v->scope = s, v->p = base_p, v->enc = en[k];
                    QINS_TRY(qins_transport_kind_parse(tr[t], &v->p.kind));
                    v->p.alpha = strtod(al[a], NULL);
                    QINS_CHECK(parse_encoding(en[k], &v->p.in_bits) == 0, QINS_ERR_ARG, "encoding %s", en[k]);
                    snprintf(v->name, sizeof v->name, "%s_%s_a%g_%s", scope_names[s], tr[t], v->p.alpha, en[k]);
                }
        struct variant *v = add_variant(P);
        QINS_CHECK(v, QINS_ERR_NOMEM, "out of memory");
        v->kind = V_PATTERN_A, v->scope = s;
        snprintf(v->name, sizeof v->name, "patternA_%s", scope_names[s]);
    }
    if (P->have_kv) {
        struct variant *v = add_variant(P);
        QINS_CHECK(v, QINS_ERR_NOMEM, "out of memory");
        v->kind = V_KV_ONLY, v->scope = SCOPE_FULL, v->kv = true;
        snprintf(v->name, sizeof v->name, "kv_only");
    }
    printf("phase 2: %d variants with FP32 KV, then the KV codec %s on %s\n", P->n_v, P->have_kv ? kv_text : "(none)",
           strcmp(qins_config_str(cfg, "phase2", "kv_variants"), "all") ? "the best of each scope" : "every transport variant");

    struct qins_exp_eval base;
    QINS_TRY(qins_exp_evaluate(e, e->model, NULL, "baseline", &base));
    int st = 0;
    const int n_sweep = P->n_v;
    for (int i = 0; i < n_sweep && st == 0; i++) st = run_variant(P, &P->v[i], &base);

    int best[2] = {-1, -1};
    for (int s = 0; s < 2 && st == 0; s++) {
        if (!scope_on[s]) continue;
        best[s] = pick_best(P, s);
        if (best[s] < 0) printf("scope %s: no variant completed; best_%s is not recorded\n", scope_names[s], scope_names[s]);
    }
    // the KV codec combined with the best of each scope (or every transport variant)
    const bool kv_all = !strcmp(qins_config_str(cfg, "phase2", "kv_variants"), "all");
    int best_kv[2] = {-1, -1};
    for (int i = 0; P->have_kv && i < n_sweep && st == 0; i++) {
        if (P->v[i].kind != V_TRANSPORT || (!kv_all && i != best[0] && i != best[1])) continue;
        struct variant *v = add_variant(P);
        if (!v) st = QINS_ERR_NOMEM;
        if (st < 0) break;
        const struct variant *src = &P->v[i]; // add_variant may move the array: index again
        v->kind = V_TRANSPORT, v->scope = src->scope, v->p = src->p, v->enc = src->enc, v->kv = true, v->parent = i;
        snprintf(v->name, sizeof v->name, "%.60s+kv", src->name);
        st = run_variant(P, v, &base);
        if (i == best[v->scope]) best_kv[v->scope] = P->n_v - 1;
    }
    qins_exp_eval_free(&base);
    QINS_TRY(st);

    // best_<scope>: the chosen variant's figures again, plus decode accounting and latency names
    const char *lat_names[8] = {"baseline"};
    struct lat_cfg lc = {.P = P};
    int n_lat = 1;
    char bname[2][32], bkname[2][40];
    for (int s = 0; s < 2; s++) {
        if (best[s] < 0) continue;
        snprintf(bname[s], sizeof bname[s], "best_%s", scope_names[s]);
        const struct variant *b = &P->v[best[s]];
        printf("best %s variant: %s (token match %.4f, KLD %.6f)\n", scope_names[s], b->name, b->q.token_match,
               b->q.kld_mean);
        QINS_TRY(record_variant(P, bname[s], b));
        QINS_TRY(qins_run_attr_str(e->run, "/phase2", bname[s], b->name));
        QINS_TRY(decode_accounting(P, s, b, bname[s]));
        lc.v[n_lat] = b, lat_names[n_lat++] = bname[s];
        if (best_kv[s] >= 0) {
            snprintf(bkname[s], sizeof bkname[s], "best_%s+kv", scope_names[s]);
            QINS_TRY(record_variant(P, bkname[s], &P->v[best_kv[s]]));
            QINS_TRY(qins_run_attr_str(e->run, "/phase2", bkname[s], P->v[best_kv[s]].name));
            lc.v[n_lat] = &P->v[best_kv[s]], lat_names[n_lat++] = bkname[s];
        }
    }
    for (int i = 0; i < P->n_v && n_lat < 8; i++)
        if (P->v[i].kind == V_PATTERN_A && P->v[i].scope == SCOPE_FULL) lc.v[n_lat] = &P->v[i], lat_names[n_lat++] = P->v[i].name;
    QINS_TRY(latency(P, n_lat, &lc, lat_names));
    QINS_TRY(plots(P, best[0], best[1]));

    // key metrics and the variant list
    char keys[1024] = "baseline/ppl";
    for (int s = 0; s < 2; s++) {
        if (best[s] < 0) continue;
        size_t l = strlen(keys);
        snprintf(keys + l, sizeof keys - l, ",%s/token_match,%s/ppl_delta_pct,%s/rel_error,%s/nonfinite_count,%s/kld_mean",
                 bname[s], bname[s], bname[s], bname[s], bname[s]);
    }
    if (best[SCOPE_FULL] >= 0) strncat(keys, ",best_full/decode_ops_reduction_pct,best_full/decoded_elems_reduction_pct",
                                       sizeof keys - strlen(keys) - 1);
    strncat(keys, ",patternA_full/token_match,kv_only/token_match", sizeof keys - strlen(keys) - 1);
    QINS_TRY(qins_run_key_metrics(e->run, keys));
    const char **names = malloc((size_t)P->n_v * sizeof *names);
    QINS_CHECK(names, QINS_ERR_NOMEM, "out of memory");
    for (int i = 0; i < P->n_v; i++) names[i] = P->v[i].name;
    st = qins_run_strings(e->run, "/phase2/variants", names, (size_t)P->n_v);
    free(names);
    QINS_TRY(st);
    print_table(P);
    return 0;
}

static void phase2_free(struct phase2 *P) {
    for (int i = 0; i < P->n_v; i++) free(P->v[i].err_layer), free(P->v[i].err_inmodel);
    free(P->v);
    free(P->calib_ids);
    qins_calib_free(&P->calib);
    qins_calib_free(&P->ref_v);
}

int main(int argc, char **argv) {
    struct qins_exp e;
    const struct qins_cfg_key *tables[] = {phase2_keys, NULL};
    int st = qins_exp_open(&e, 2, argc, argv, tables);
    if (st == 1) return 0;
    if (st < 0) {
        qins_exp_close(&e);
        return 1;
    }
    struct phase2 P = {.e = &e};
    st = run_phase2(&P);
    if (e.model) {
        qins_model_reset_v_transport(e.model);
        qins_model_reset_slots(e.model);
    }
    phase2_free(&P);
    if (st < 0) {
        qins_exp_close(&e);
        return 1;
    }
    return qins_exp_commit(&e) < 0 ? 1 : 0;
}
