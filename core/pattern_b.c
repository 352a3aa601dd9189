// core/pattern_b.c — see pattern_b.h.
#include "pattern_b.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "config.h"
#include "eval.h"
#include "slots.h"

// Phase 2's rule, recorded in its runs and quoted by gates/gates.txt; phase 5 applies the same.
const struct qins_best_rule qins_pb_best_rule = {
    "best = per scope, among the transport variants with FP32 KV that completed and produced no NaN/Inf "
    "(nonfinite_count == 0): the highest token_match, ties by the lower kld_mean, then by the order of the "
    "sweep; if none qualifies, the highest token_match among those that completed",
    "token_match", "kld_mean", "nonfinite_count", true};

static const struct qins_pb_slot slots[] = {
    {"attn_q", 0, QINS_SITE_ATTN_IN, QINS_SITE_Q},     {"attn_k", 1, QINS_SITE_ATTN_IN, QINS_SITE_K},
    {"attn_v", 2, QINS_SITE_ATTN_IN, QINS_SITE_V},     {"attn_output", 3, QINS_SITE_ATTN_OUT, QINS_SITE_O},
    {"ffn_gate", 4, QINS_SITE_FFN_IN, QINS_SITE_GATE}, {"ffn_up", 5, QINS_SITE_FFN_IN, QINS_SITE_UP},
    {"ffn_down", 6, QINS_SITE_FFN_ACT, QINS_SITE_DOWN},
};

int qins_pb_slot_parse(const char *name, struct qins_pb_slot *out) {
    for (size_t i = 0; i < sizeof slots / sizeof *slots; i++)
        if (!strcmp(slots[i].name, name)) return *out = slots[i], 0;
    QINS_CHECK(0, QINS_ERR_ARG, "slot '%s': use attn_q, attn_k, attn_v, attn_output, ffn_gate, ffn_up or ffn_down", name);
}

// ---- captures and installation

int qins_pb_init(struct qins_pb *pb, struct qins_model *m, const char *slot, const struct qins_calib_text *t) {
    memset(pb, 0, sizeof *pb);
    pb->m = m, pb->text = t, pb->L = m->hp.n_layer;
    qins_codec_params_default(&pb->pa);
    QINS_TRY(qins_pb_slot_parse(slot, &pb->slot));
    QINS_CHECK(pb->L <= QINS_PB_MAX_LAYERS, QINS_ERR_UNSUPPORTED, "Pattern B selects layers with a 64-bit mask; the model has %d",
               pb->L);
    // transports are fitted on FP32 weights: make the slot's copies once (views for an F32 model)
    for (int l = 0; l < pb->L; l++) {
        const float *w;
        QINS_TRY(qins_linear_weights_f32(qins_pb_linear(pb, l), &w));
    }
    struct qins_calib_opts o;
    qins_calib_opts_default(&o);
    o.in_site = pb->slot.in_site, o.out_site = pb->slot.out_site;
    QINS_TRY(qins_calib_capture(&pb->calib, m, t, ~0ull, &o));
    return qins_calib_capture_heldout(&pb->ref, m, t, ~0ull, &o);
}

void qins_pb_free(struct qins_pb *pb) {
    if (!pb) return;
    qins_calib_free(&pb->calib);
    qins_calib_free(&pb->ref);
}

struct qins_linear *qins_pb_linear(const struct qins_pb *pb, int l) { return qins_model_slot(pb->m, l, pb->slot.index); }

int qins_pb_set(struct qins_pb *pb, const struct qins_transport_params *p, uint64_t mask, struct qins_transport *ts) {
    for (int l = 0; l < pb->L; l++) {
        if (!(mask >> l & 1)) continue;
        const struct qins_calib_stats *in = qins_calib_get(&pb->calib, l, pb->slot.in_site),
                                      *out = qins_calib_get(&pb->calib, l, pb->slot.out_site);
        QINS_CHECK(in, QINS_ERR_ARG, "transport: layer %d was not calibrated", l);
        QINS_TRY(qins_transport_set(qins_pb_linear(pb, l), p, in, out, &ts[l]));
    }
    return 0;
}

void qins_pb_reset(struct qins_pb *pb) {
    for (int l = 0; l < pb->L; l++) qins_transport_uninstall(qins_pb_linear(pb, l));
    qins_model_reset_slots(pb->m);
}

// ---- one variant

void qins_pb_variant_init(struct qins_pb_variant *pv) {
    pv->rel_error = pv->rel_error_mean = pv->max_abs_error = pv->z_mse = pv->z_var = NAN;
    pv->w_absmax = pv->stored_bytes = NAN;
    for (int l = 0; l < QINS_PB_MAX_LAYERS; l++) pv->err_layer[l] = pv->err_inmodel[l] = NAN;
}

static void free_transports(struct qins_pb_variant *pv) {
    for (int l = 0; pv->ts && l < QINS_PB_MAX_LAYERS; l++) qins_transport_free(&pv->ts[l]);
    free(pv->ts);
    pv->ts = NULL;
}

void qins_pb_variant_free(struct qins_pb_variant *pv) {
    if (pv) free_transports(pv);
}

static int diagnostics(struct qins_pb *pb, struct qins_pb_variant *pv) {
    double sum = 0;
    int n = 0;
    bool first = true;
    pv->w_absmax = 0, pv->w_nonfinite = 0, pv->nonfinite_heldout = 0, pv->max_abs_error = 0;
    pv->rel_error = 0, pv->z_mse = 0, pv->z_var = 0;
    for (int l = 0; l < pb->L; l++) {
        if (!(pv->mask >> l & 1)) continue;
        const struct qins_calib_stats *in = qins_calib_get(&pb->calib, l, pb->slot.in_site);
        const struct qins_transport *t = &pv->ts[l];
        struct qins_transport_eval ev;
        QINS_TRY(qins_transport_eval(t, qins_pb_linear(pb, l)->w, in->heldout, in->n_heldout, &ev));
        pv->err_layer[l] = ev.rel_error;
        // the scope's figure is its worst layer (for one layer, that layer's)
        if (!(ev.rel_error <= pv->rel_error)) pv->rel_error = ev.rel_error;
        if (first || !(ev.z_mse <= pv->z_mse)) pv->z_mse = ev.z_mse, pv->z_var = ev.z_var;
        first = false;
        sum += ev.rel_error, n++;
        if (!(ev.max_abs_error <= pv->max_abs_error)) pv->max_abs_error = ev.max_abs_error;
        pv->nonfinite_heldout += (double)ev.n_nonfinite;
        pv->w_nonfinite += (double)t->w_nonfinite;
        if (t->w_absmax > pv->w_absmax) pv->w_absmax = t->w_absmax;
        for (int b = 0; b < QINS_TRANSPORT_HIST_BINS; b++) pv->w_hist[b] += t->w_hist[b];
    }
    pv->rel_error_mean = n ? sum / n : NAN;
    return 0;
}

int qins_pb_variant_install(struct qins_pb *pb, struct qins_pb_variant *pv) {
    free_transports(pv);
    pv->ts = calloc(QINS_PB_MAX_LAYERS, sizeof *pv->ts);
    QINS_CHECK(pv->ts, QINS_ERR_NOMEM, "out of memory");
    QINS_TRY(qins_pb_set(pb, &pv->p, pv->mask, pv->ts));
    return diagnostics(pb, pv);
}

int qins_pb_variant_activate(struct qins_pb *pb, struct qins_pb_variant *pv) {
    if (!pv->ts) {
        pv->ts = calloc(QINS_PB_MAX_LAYERS, sizeof *pv->ts);
        QINS_CHECK(pv->ts, QINS_ERR_NOMEM, "out of memory");
        for (int l = 0; l < pb->L; l++) {
            if (!(pv->mask >> l & 1)) continue;
            const struct qins_linear *lin = qins_pb_linear(pb, l);
            QINS_TRY(qins_transport_compute(&pv->p, lin->w, lin->n_out, lin->n_in,
                                            qins_calib_get(&pb->calib, l, pb->slot.in_site),
                                            qins_calib_get(&pb->calib, l, pb->slot.out_site), &pv->ts[l]));
        }
    }
    for (int l = 0; l < pb->L; l++)
        if (pv->mask >> l & 1) QINS_TRY(qins_transport_install(qins_pb_linear(pb, l), &pv->ts[l]));
    return 0;
}

void qins_pb_variant_slot_figures(struct qins_pb *pb, struct qins_pb_variant *pv) {
    if (pv->slot_done) return;
    pv->slot_done = true;
    pv->nonfinite_out = 0, pv->stored_bytes = 0;
    for (int l = 0; l < pb->L; l++) {
        if (!(pv->mask >> l & 1)) continue;
        const struct qins_linear *lin = qins_pb_linear(pb, l);
        pv->stored_bytes += (double)lin->w_stored_bytes;
        struct qins_transport_slot_stats st;
        if (qins_transport_slot_stats(lin, &st) == 0) pv->nonfinite_out += (double)st.nonfinite_out;
    }
}

int qins_pb_variant_inmodel(struct qins_pb *pb, struct qins_pb_variant *pv) {
    struct qins_calib cap = {0};
    struct qins_calib_opts o;
    qins_calib_opts_default(&o);
    o.in_site = pb->slot.in_site, o.out_site = pb->slot.out_site;
    int st = qins_calib_capture_heldout(&cap, pb->m, pb->text, ~0ull, &o);
    pv->nonfinite_inmodel = st == 0 ? qins_pb_capture_error(&pb->ref, &cap, pb->L, pb->slot.out_site, pv->err_inmodel) : 0;
    qins_calib_free(&cap);
    return st;
}

double qins_pb_capture_error(const struct qins_calib *ref, const struct qins_calib *x, int L, enum qins_site site,
                             double *err) {
    double nonfinite = 0;
    for (int l = 0; l < L; l++) {
        const struct qins_calib_stats *r = qins_calib_get(ref, l, site), *c = qins_calib_get(x, l, site);
        nonfinite += (double)c->n_nonfinite;
        // rows with NaN/Inf were skipped, so the rows no longer pair up: the error is undefined
        err[l] = c->n_nonfinite || c->n_heldout != r->n_heldout ? NAN
                                                                : qins_rel_error(c->heldout, r->heldout, c->n_heldout * c->dim, NULL);
    }
    return nonfinite;
}

double qins_pb_variant_nonfinite(struct qins_pb_variant *pv, const struct qins_variant *v) {
    double nf = (v->failed ? 0 : v->q.nonfinite_logits + v->q.nonfinite_gen_steps) + pv->nonfinite_inmodel;
    if (pv->transport) nf += pv->nonfinite_out + pv->nonfinite_heldout + pv->w_nonfinite;
    return pv->nonfinite_count = v->failed && nf == 0 ? NAN : nf;
}

int qins_pb_variant_metrics(struct qins_sweep *s, const struct qins_pb *pb, struct qins_variant *v) {
    const struct qins_pb_variant *pv = v->data;
    QINS_TRY(qins_sweep_metric(s, v, "nonfinite_count", pv->nonfinite_count, "count"));
    if (!pv->transport) return 0;
    const char *o = qins_site_name(pb->slot.out_site);
    char nf_out[48], nf_in[48], bytes[48];
    snprintf(nf_out, sizeof nf_out, "nonfinite_%s", o);
    snprintf(nf_in, sizeof nf_in, "nonfinite_%s_inmodel", o);
    snprintf(bytes, sizeof bytes, "%s_stored_bytes", o);
    const struct {
        const char *what;
        double value;
        const char *unit;
    } m[] = {
        {"alpha", pv->p.alpha, "ratio"},       {"in_bits", (double)pv->p.in_bits, "count"},
        {"rel_error", pv->rel_error, "fraction"}, {"rel_error_mean_layers", pv->rel_error_mean, "fraction"},
        {"max_abs_error", pv->max_abs_error, "ratio"}, {"z_mse", pv->z_mse, "ratio"},
        {"z_var", pv->z_var, "ratio"},         {nf_out, pv->nonfinite_out, "count"},
        {"nonfinite_heldout", pv->nonfinite_heldout, "count"}, {nf_in, pv->nonfinite_inmodel, "count"},
        {"w_nonfinite", pv->w_nonfinite, "count"}, {"w_absmax", pv->w_absmax, "ratio"},
        {bytes, pv->stored_bytes, "bytes"},
    };
    for (size_t i = 0; i < sizeof m / sizeof *m; i++) QINS_TRY(qins_sweep_metric(s, v, m[i].what, m[i].value, m[i].unit));
    return 0;
}

int qins_pb_variant_arrays(qins_run_t *run, const struct qins_pb *pb, const struct qins_pb_variant *pv,
                           const char *group, const char *name) {
    char path[200];
    if (pv->transport) {
        QINS_TRY(qins_format(path, sizeof path, "%s/%s/rel_error_per_layer", group, name));
        QINS_TRY(qins_run_array(run, path, QINS_DT_F64, pv->err_layer, (size_t)pb->L, 0));
        QINS_TRY(qins_format(path, sizeof path, "%s/%s/w_hist", group, name));
        QINS_TRY(qins_run_array(run, path, QINS_DT_I64, pv->w_hist, QINS_TRANSPORT_HIST_BINS, 0));
    }
    QINS_TRY(qins_format(path, sizeof path, "%s/%s/rel_error_in_model", group, name));
    return qins_run_array(run, path, QINS_DT_F64, pv->err_inmodel, (size_t)pb->L, 0);
}

// ---- the sweep's ops

static int op_install(struct qins_sweep *s, struct qins_variant *v) {
    struct qins_pb *pb = s->ops.user;
    struct qins_pb_variant *pv = v->data;
    if (pv->kind == QINS_PB_TRANSPORT) return qins_pb_variant_install(pb, pv);
    for (int l = 0; pv->kind == QINS_PB_PATTERN_A && l < pb->L; l++)
        if (pv->mask >> l & 1) QINS_TRY(qins_slot_set_codec(qins_pb_linear(pb, l), &pb->pa));
    return 0;
}

static int op_activate(struct qins_sweep *s, struct qins_variant *v) {
    struct qins_pb_variant *pv = v->data;
    return pv->kind == QINS_PB_TRANSPORT ? qins_pb_variant_activate(s->ops.user, pv) : op_install(s, v);
}

static int op_measure(struct qins_sweep *s, struct qins_variant *v) {
    if (((struct qins_pb_variant *)v->data)->transport) qins_pb_variant_slot_figures(s->ops.user, v->data);
    return qins_pb_variant_inmodel(s->ops.user, v->data);
}

int qins_pb_record_extras(struct qins_sweep *s, const struct qins_variant *v, const char *name) {
    static const char *const kinds[] = {NULL, "pattern_a", "kv_only"};
    const struct qins_pb *pb = s->ops.user;
    const struct qins_pb_variant *pv = v->data;
    qins_run_t *run = s->e->run;
    char path[200];
    QINS_TRY(qins_pb_variant_arrays(run, pb, pv, pb->group, name));
    QINS_TRY(qins_format(path, sizeof path, "%s/%s", pb->group, name));
    QINS_TRY(qins_run_attr_str(run, path, "scope", pb->scope_names[pv->scope]));
    QINS_TRY(qins_run_attr_str(run, path, "kind", pv->transport ? qins_transport_kind_name(pv->p.kind) : kinds[pv->kind]));
    QINS_TRY(qins_run_attr_str(run, path, "encoding", pv->enc ? pv->enc : "-"));
    QINS_TRY(qins_run_attr_int(run, path, "kv_codec", v->has_kv));
    return v->failed ? qins_run_attr_str(run, path, "failed_status", qins_status_str(v->failed_status)) : 0;
}

static int op_record(struct qins_sweep *s, struct qins_variant *v) {
    struct qins_pb_variant *pv = v->data;
    if (pv->transport) qins_pb_variant_slot_figures(s->ops.user, pv); // also after a blow-up
    qins_pb_variant_nonfinite(pv, v);
    QINS_TRY(qins_pb_variant_metrics(s, s->ops.user, v));
    qins_pb_variant_free(pv); // transports are computed again, once, for latency
    return qins_pb_record_extras(s, v, v->name);
}

static void op_reset(struct qins_sweep *s) { qins_pb_reset(s->ops.user); }

struct qins_sweep_ops qins_pb_sweep_ops(struct qins_pb *pb) {
    return (struct qins_sweep_ops){op_install, op_measure, op_record, op_activate, op_reset, pb};
}

bool qins_pb_in_scope(const struct qins_variant *v, void *scope) {
    const struct qins_pb_variant *pv = v->data;
    return pv->transport && !v->has_kv && pv->scope == *(int *)scope;
}

// ---- building the sweep

struct qins_pb_variant *qins_pb_sweep_add(struct qins_sweep *s, const char *name, const char *kv_text, int kind, int scope,
                                          uint64_t mask) {
    struct qins_variant *v = qins_sweep_add(s, name, kv_text, kind == QINS_PB_TRANSPORT ? QINS_VARIANT_SWEEP_POINT : 0);
    struct qins_pb_variant *pv = v ? calloc(1, sizeof *pv) : NULL;
    if (!pv) return NULL;
    qins_pb_variant_init(pv);
    pv->kind = kind, pv->transport = kind == QINS_PB_TRANSPORT, pv->scope = scope, pv->mask = mask;
    v->data = pv, v->group = scope;
    return pv;
}

size_t qins_pb_grid_size(const struct qins_pb_grid *g) { return g->n_tr * g->n_al * g->n_en; }

int qins_pb_grid_point(const struct qins_pb_grid *g, const struct qins_transport_params *base, size_t i,
                       const char *scope_name, struct qins_transport_params *p, const char **enc, char *name, size_t cap) {
    const size_t t = i / (g->n_al * g->n_en), a = i / g->n_en % g->n_al, k = i % g->n_en;
    QINS_CHECK(t < g->n_tr, QINS_ERR_RANGE, "grid point %zu of %zu", i, qins_pb_grid_size(g));
    *p = *base, *enc = g->en[k], p->alpha = strtod(g->al[a], NULL);
    QINS_TRY(qins_pb_variant_name(name, cap, scope_name, g->tr[t], p->alpha, g->en[k]));
    QINS_TRY(qins_transport_kind_parse(g->tr[t], &p->kind));
    QINS_CHECK(qins_transport_encoding_parse(g->en[k], &p->in_bits) == 0, QINS_ERR_ARG, "encoding %s", g->en[k]);
    return 0;
}

int qins_pb_sweep_add_grid(struct qins_sweep *s, const struct qins_pb_grid *g, const struct qins_transport_params *base,
                           const char *scope_name, int scope, uint64_t mask) {
    char name[QINS_VARIANT_NAME];
    for (size_t i = 0; i < qins_pb_grid_size(g); i++) {
        struct qins_transport_params p;
        const char *enc;
        QINS_TRY(qins_pb_grid_point(g, base, i, scope_name, &p, &enc, name, sizeof name));
        struct qins_pb_variant *pv = qins_pb_sweep_add(s, name, NULL, QINS_PB_TRANSPORT, scope, mask);
        QINS_CHECK(pv, QINS_ERR_NOMEM, "variant %s could not be added", name);
        pv->p = p, pv->enc = enc;
    }
    return 0;
}

int qins_pb_check_encoding(const char *item, char *why, size_t cap) {
    int bits;
    if (!qins_transport_encoding_parse(item, &bits)) return 0;
    return snprintf(why, cap, "encoding '%s': use float or kN with N = 2..%d", item, QINS_CODEC_MAX_BITS), 1;
}

int qins_pb_params_config(qins_config_t *cfg, const char *section, struct qins_transport_params *base,
                          struct qins_codec_params *pa, struct qins_pb_grid *g) {
    qins_codec_params_default(pa);
    QINS_TRY(qins_codec_parse(qins_config_str(cfg, section, "pattern_a_codec"), pa));
    pa->granularity = QINS_GRAN_PER_ROW;
    qins_transport_params_default(base);
    QINS_TRY(qins_codec_parse(qins_config_str(cfg, section, "weight_codec"), &base->wcodec));
    if (base->wcodec.codec != QINS_CODEC_FP32) base->wcodec.granularity = QINS_GRAN_PER_ROW;
    QINS_TRY(qins_op_point_parse(qins_config_str(cfg, section, "op_point"), &base->op));
    base->in_scale = base->out_scale = strcmp(qins_config_str(cfg, section, "scale"), "rms") ? QINS_SCALE_ABSMAX : QINS_SCALE_RMS;
    base->ridge = qins_config_double(cfg, section, "ridge");
    g->n_tr = qins_config_list(cfg, section, "transports", &g->tr);
    g->n_al = qins_config_list(cfg, section, "alphas", &g->al);
    g->n_en = qins_config_list(cfg, section, "encodings", &g->en);
    return 0;
}

// ---- decode counts

int qins_pb_count_decodes(struct qins_model *m, const struct qins_calib_text *t, struct qins_pb_decodes *out) {
    m->counters = (struct qins_counters){0};
    qins_codec_counters_reset();
    QINS_TRY(qins_calib_run_windows(m, t->ids, t->n_ids, 1, 0, 1, -1));
    struct qins_codec_counters cc;
    qins_codec_counters_get(&cc);
    out->ops = (double)m->counters.qins_decode_ops;
    out->elems = (double)(cc.decoded_elems + m->counters.qins_decode_elems);
    return 0;
}

int qins_pb_decode_counts(struct qins_pb *pb, const struct qins_codec_params *pa, const struct qins_transport_params *p,
                          uint64_t mask, struct qins_pb_decodes *a, struct qins_pb_decodes *b) {
    *a = *b = (struct qins_pb_decodes){0};
    qins_pb_reset(pb);
    QINS_TRY(qins_model_set_weight_codec(pb->m, pa, QINS_SLOT_MASK_ALL, false));
    QINS_TRY(qins_pb_count_decodes(pb->m, pb->text, a));
    // Pattern A + Pattern B: the slot of the layers in mask carries the transport instead.
    for (int l = 0; l < pb->L; l++)
        if (mask >> l & 1) qins_slot_reset(qins_pb_linear(pb, l));
    struct qins_transport *ts = calloc((size_t)pb->L, sizeof *ts);
    QINS_CHECK(ts, QINS_ERR_NOMEM, "out of memory");
    int st = qins_pb_set(pb, p, mask, ts);
    if (st == 0) st = qins_pb_count_decodes(pb->m, pb->text, b);
    qins_pb_reset(pb);
    for (int l = 0; l < pb->L; l++) qins_transport_free(&ts[l]);
    free(ts);
    return st;
}

int qins_pb_decode_metrics(struct qins_exp *e, const char *name, const char *label, const struct qins_pb_decodes *a,
                           const struct qins_pb_decodes *b, unsigned pb_slots, double share) {
    struct qins_hparams phi;
    qins_hparams_phi35_mini(&phi);
    struct qins_decode_tally pa, pv;
    QINS_TRY(qins_decode_tally_slots(&phi, 1, 0, false, &pa));
    QINS_TRY(qins_decode_tally_slots(&phi, 1, pb_slots, false, &pv));
    const double phi_ops = pa.decode_ops - share * ((double)pa.decode_ops - pv.decode_ops),
                 phi_elems = pa.decoded_elems - share * ((double)pa.decoded_elems - pv.decoded_elems);
    char w[6][64];
    QINS_TRY(qins_format(w[0], sizeof w[0], "decode_ops_%s", label));
    QINS_TRY(qins_format(w[1], sizeof w[1], "decoded_elems_%s", label));
    QINS_TRY(qins_format(w[2], sizeof w[2], "phi35_decode_ops_%s", label));
    const struct qins_named_metric m[] = {
        {"decode_ops_pattern_a", a->ops, "count"}, {w[0], b->ops, "count"},
        {"decode_ops_reduction_pct", 100.0 * (1.0 - b->ops / a->ops), "pct"}, {"decoded_elems_pattern_a", a->elems, "count"},
        {w[1], b->elems, "count"}, {"decoded_elems_reduction_pct", 100.0 * (1.0 - b->elems / a->elems), "pct"},
        {"phi35_decode_ops_pattern_a", (double)pa.decode_ops, "count"}, {w[2], phi_ops, "count"},
        {"phi35_decode_ops_reduction_pct", 100.0 * (1.0 - phi_ops / pa.decode_ops), "pct"},
        {"phi35_decoded_elems_reduction_pct", 100.0 * (1.0 - phi_elems / pa.decoded_elems), "pct"}};
    for (size_t i = 0; i < sizeof m / sizeof *m; i++)
        QINS_TRY(qins_exp_metricf(e, m[i].value, m[i].unit, "%s/%s", name, m[i].what));
    printf("%s decode ops per token: Pattern A %.0f -> + %s %.0f (%+.1f %%), decoded elements %.0f -> %.0f "
           "(%+.1f %%); Phi-3.5-mini ops %llu -> %.0f, elements %+.1f %%\n",
           name, a->ops, label, b->ops, -100.0 * (1.0 - b->ops / a->ops), a->elems, b->elems,
           -100.0 * (1.0 - b->elems / a->elems), (unsigned long long)pa.decode_ops, phi_ops,
           -100.0 * (1.0 - phi_elems / pa.decoded_elems));
    return 0;
}

// ---- plots

int qins_pb_variant_name(char *out, size_t cap, const char *scope, const char *tr, double alpha, const char *enc) {
    return qins_format(out, cap, "%s_%s_a%g_%s", scope, tr, alpha, enc);
}

static const struct qins_variant *grid_variant(const struct qins_sweep *s, const char *scope, const char *tr,
                                               double alpha, const char *enc) {
    char name[QINS_VARIANT_NAME];
    if (qins_pb_variant_name(name, sizeof name, scope, tr, alpha, enc) < 0) return NULL;
    const int i = qins_sweep_find(s, name);
    return i < 0 ? NULL : &s->v[i];
}

static int plot_metric(const struct qins_sweep *s, const struct qins_pb_grid *g, const char *scope, const char *what,
                       struct qins_plot p) {
    struct qins_series ps;
    QINS_TRY(qins_series_init(&ps, g->n_al));
    for (size_t a = 0; a < g->n_al; a++) ps.x[a] = strtod(g->al[a], NULL);
    char labels[16][48];
    for (size_t t = 0; t < g->n_tr; t++)
        for (size_t k = 0; k < g->n_en && ps.n_series < 16; k++) {
            snprintf(labels[ps.n_series], sizeof labels[0], "%s %s", g->tr[t], g->en[k]);
            double *y = qins_series_add(&ps, labels[ps.n_series]);
            if (!y) return qins_series_free(&ps), QINS_ERR_NOMEM;
            for (size_t a = 0; a < g->n_al; a++) {
                const struct qins_variant *v = grid_variant(s, scope, g->tr[t], ps.x[a], g->en[k]);
                if (v) y[a] = qins_variant_get(v, what);
            }
        }
    p.kind = QINS_PLOT_LINES, p.xlabel = "alpha", p.logx = true;
    return qins_series_plot(&ps, s->e->run, p);
}

int qins_pb_plot_sweep(const struct qins_sweep *s, const struct qins_pb_grid *g, const char *scope, const char *prefix) {
    char name[2][96], title[2][160];
    QINS_TRY(qins_format(name[0], sizeof name[0], "%s_rel_error_%s", prefix, scope));
    QINS_TRY(qins_format(name[1], sizeof name[1], "%s_token_match_%s", prefix, scope));
    snprintf(title[0], sizeof title[0], "Scope %s: held-out relative error of the slot's output (worst layer)", scope);
    snprintf(title[1], sizeof title[1], "Greedy token match vs FP32, scope %s transported", scope);
    QINS_TRY(plot_metric(s, g, scope, "rel_error",
                         (struct qins_plot){name[0], .title = title[0], .ylabel = "relative L2 error", .logy = true}));
    return plot_metric(s, g, scope, "token_match",
                       (struct qins_plot){name[1], .title = title[1], .ylabel = "fraction of tokens"});
}

int qins_pb_plot_layers(const struct qins_sweep *s, const struct qins_pb_grid *g, const char *scope,
                        const struct qins_pb_variant *b, const char *name_layers, const char *name_hist) {
    const double alpha = b->p.alpha;
    const char *enc = b->enc;
    char title_layers[160], title_hist[160];
    snprintf(title_layers, sizeof title_layers, "Scope %s transported (alpha %g, %s): error per layer inside the model",
             scope, alpha, enc);
    snprintf(title_hist, sizeof title_hist, "|W'| over the scope's layers (alpha %g, %s); bins of half a decade", alpha, enc);
    const struct qins_pb_variant *pv[QINS_TRANSPORT_COUNT];
    size_t n = 0;
    for (size_t t = 0; t < g->n_tr && n < QINS_TRANSPORT_COUNT; t++) {
        const struct qins_variant *v = grid_variant(s, scope, g->tr[t], alpha, enc);
        if (v) pv[n++] = v->data;
    }
    const int L = s->e->model->hp.n_layer;
    struct qins_series lay, hist;
    QINS_TRY(qins_series_init(&lay, (size_t)L));
    int st = qins_series_init(&hist, QINS_TRANSPORT_HIST_BINS);
    // bin 0 is [0, 1e-8), bin k >= 1 is [1e-8 * 10^((k-1)/2), 1e-8 * 10^(k/2)): centres in log10
    for (int k = 0; st == 0 && k < QINS_TRANSPORT_HIST_BINS; k++) hist.x[k] = -7.75 + 0.5 * (k - 1);
    for (size_t i = 0; st == 0 && i < n; i++) {
        const char *kind = qins_transport_kind_name(pv[i]->p.kind);
        double *yl = qins_series_add(&lay, kind), *yh = qins_series_add(&hist, kind);
        if (!yl || !yh) st = QINS_ERR_NOMEM;
        for (int l = 0; st == 0 && l < L; l++) yl[l] = pv[i]->err_inmodel[l];
        for (int k = 0; st == 0 && k < QINS_TRANSPORT_HIST_BINS; k++) yh[k] = (double)pv[i]->w_hist[k];
    }
    if (st == 0)
        st = qins_series_plot(&lay, s->e->run,
                              (struct qins_plot){name_layers, QINS_PLOT_LINES, title_layers, "layer",
                                                 "relative L2 error of the output", .logy = true});
    if (st == 0)
        st = qins_series_plot(&hist, s->e->run,
                              (struct qins_plot){name_hist, QINS_PLOT_HISTOGRAM, title_hist,
                                                 "log10 |W'| (bin centre; ends: < 1e-8, >= 1e8)", "entries", .logy = false});
    qins_series_free(&lay), qins_series_free(&hist);
    return st;
}

int qins_pb_plot_scatter(const struct qins_pb *pb, qins_run_t *run, int l, const struct qins_pb_variant *b,
                         int64_t points, const char *name) {
    const struct qins_transport_params *bp = &b->p;
    char title[160];
    snprintf(title, sizeof title, "Layer %d %s, held-out rows (alpha %g, %s): encoded target vs transported", l,
             pb->slot.name, bp->alpha, b->enc);
    const struct qins_linear *lin = qins_pb_linear(pb, l);
    const struct qins_calib_stats *in = qins_calib_get(&pb->calib, l, pb->slot.in_site);
    int64_t rows = (points + lin->n_out - 1) / lin->n_out;
    if (rows > in->n_heldout) rows = in->n_heldout;
    const size_t n = (size_t)rows * lin->n_out;
    double *x = malloc(n * sizeof *x), *y = malloc((QINS_TRANSPORT_COUNT + 1) * n * sizeof *y);
    const char *series[QINS_TRANSPORT_COUNT + 1];
    size_t ns = 0;
    int st = x && y ? 0 : QINS_ERR_NOMEM;
    for (int k = 0; k < QINS_TRANSPORT_COUNT && st == 0; k++) {
        struct qins_transport_params p = *bp;
        p.kind = (enum qins_transport_kind)k;
        struct qins_transport t;
        st = qins_transport_compute(&p, lin->w, lin->n_out, lin->n_in, in, qins_calib_get(&pb->calib, l, pb->slot.out_site), &t);
        // the rows are spread over the held-out sample (every stride-th row)
        const int64_t stride = in->n_heldout / rows;
        for (int64_t r = 0; r < rows && st == 0; r++)
            st = qins_transport_encoded_pair(&t, lin->w, in->heldout + (size_t)(r * stride) * lin->n_in,
                                             x + (size_t)r * lin->n_out, y + ns * n + (size_t)r * lin->n_out);
        qins_transport_free(&t);
        series[ns++] = qins_transport_kind_name(p.kind);
    }
    if (st == 0) {
        memcpy(y + ns * n, x, n * sizeof *x); // the ideal: prediction = target
        series[ns++] = "ideal (y = x)";
        struct qins_plot p = {name, QINS_PLOT_POINTS, title, "E(W x)  (target, encoded domain)",
                              "W' E(x) + b'  (transported)", n, x, NULL, ns, y, series, false, false};
        st = qins_run_plot(run, &p);
    }
    free(x), free(y);
    return st;
}
