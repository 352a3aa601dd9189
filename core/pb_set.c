// core/pb_set.c — see pb_set.h. Per slot, everything is core/pattern_b.c's: this file only
// stacks slots and adds what exists only for a set (the residual stream, shared counts).
#include "pb_set.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "eval.h"
#include "slots.h"

// ---- captures

static void resid_opts(struct qins_calib_opts *o) {
    qins_calib_opts_default(o);
    o->in_site = o->out_site = QINS_SITE_RESID, o->capture_v = false;
}

int qins_pbs_init(struct qins_pbs *ps, struct qins_model *m, const char *const *slots, int n,
                  const struct qins_calib_text *t, const struct qins_codec_params *pa) {
    memset(ps, 0, sizeof *ps);
    QINS_CHECK(n > 0 && n <= QINS_PBS_MAX_SLOTS, QINS_ERR_ARG, "Pattern B set: %d slots (1..%d)", n, QINS_PBS_MAX_SLOTS);
    ps->m = m, ps->text = t, ps->L = m->hp.n_layer;
    for (int i = 0; i < n; i++) {
        QINS_TRY(qins_pb_init(&ps->pb[i], m, slots[i], t));
        ps->pb[i].pa = *pa;
        ps->n = i + 1;
    }
    struct qins_calib_opts o;
    resid_opts(&o);
    return qins_calib_capture_heldout(&ps->resid, m, t, ~0ull, &o);
}

void qins_pbs_free(struct qins_pbs *ps) {
    if (!ps) return;
    for (int i = 0; i < ps->n; i++) qins_pb_free(&ps->pb[i]);
    qins_calib_free(&ps->resid);
}

void qins_pbs_reset(struct qins_pbs *ps) {
    for (int i = 0; i < ps->n; i++) qins_pb_reset(&ps->pb[i]);
}

// ---- variants

struct qins_pbs_variant *qins_pbs_sweep_add(struct qins_sweep *s, const char *name, int kind, int part, int scope,
                                            uint64_t mask, unsigned slots) {
    struct qins_variant *v = qins_sweep_add(s, name, NULL, kind == QINS_PB_TRANSPORT ? QINS_VARIANT_SWEEP_POINT : 0);
    struct qins_pbs_variant *pv = v ? calloc(1, sizeof *pv) : NULL;
    if (!pv) return NULL;
    pv->kind = kind, pv->transport = kind == QINS_PB_TRANSPORT, pv->part = part, pv->scope = scope;
    pv->mask = mask, pv->slots = slots;
    pv->nonfinite_resid = pv->nonfinite_count = pv->rel_error = pv->w_absmax = NAN;
    for (int l = 0; l < QINS_PB_MAX_LAYERS; l++) pv->resid_err[l] = NAN;
    for (int i = 0; i < QINS_PBS_MAX_SLOTS; i++) {
        qins_pb_variant_init(&pv->sv[i]);
        pv->sv[i].kind = kind, pv->sv[i].transport = pv->transport, pv->sv[i].scope = scope, pv->sv[i].mask = mask;
    }
    v->data = pv, v->group = part;
    return pv;
}

void qins_pbs_variant_set(struct qins_pbs_variant *pv, int i, const struct qins_transport_params *p) {
    pv->slots |= 1u << i;
    pv->sv[i].p = *p;
    if (p->out_silu) pv->silu_qins = true;
}

void qins_pbs_variant_copy(struct qins_pbs_variant *pv, const struct qins_pbs_variant *src) {
    pv->slots = src->slots, pv->enc = src->enc, pv->silu_qins = src->silu_qins;
    for (int i = 0; i < QINS_PBS_MAX_SLOTS; i++) pv->sv[i].p = src->sv[i].p, pv->sv[i].enc = src->sv[i].enc;
}

void qins_pbs_variant_free(struct qins_pbs_variant *pv) {
    for (int i = 0; pv && i < QINS_PBS_MAX_SLOTS; i++) qins_pb_variant_free(&pv->sv[i]);
}

// ---- the sweep's ops

static int set_pattern_a(struct qins_pb *pb, uint64_t mask) {
    for (int l = 0; l < pb->L; l++)
        if (mask >> l & 1) QINS_TRY(qins_slot_set_codec(qins_pb_linear(pb, l), &pb->pa));
    return 0;
}

static int op_install(struct qins_sweep *s, struct qins_variant *v) {
    struct qins_pbs *ps = s->ops.user;
    struct qins_pbs_variant *pv = v->data;
    for (int i = 0; i < ps->n; i++) {
        if (!(pv->slots >> i & 1)) continue;
        QINS_TRY(pv->transport ? qins_pb_variant_install(&ps->pb[i], &pv->sv[i]) : set_pattern_a(&ps->pb[i], pv->mask));
    }
    return 0;
}

static int op_activate(struct qins_sweep *s, struct qins_variant *v) {
    struct qins_pbs *ps = s->ops.user;
    struct qins_pbs_variant *pv = v->data;
    if (!pv->transport) return op_install(s, v);
    for (int i = 0; i < ps->n; i++)
        if (pv->slots >> i & 1) QINS_TRY(qins_pb_variant_activate(&ps->pb[i], &pv->sv[i]));
    return 0;
}

// The residual stream after every layer over the held-out windows, against the FP32 reference.
static int resid_error(struct qins_pbs *ps, struct qins_pbs_variant *pv) {
    struct qins_calib cap = {0};
    struct qins_calib_opts o;
    resid_opts(&o);
    int st = qins_calib_capture_heldout(&cap, ps->m, ps->text, ~0ull, &o);
    pv->nonfinite_resid = st == 0 ? qins_pb_capture_error(&ps->resid, &cap, ps->L, QINS_SITE_RESID, pv->resid_err) : 0;
    qins_calib_free(&cap);
    return st;
}

static int op_measure(struct qins_sweep *s, struct qins_variant *v) {
    struct qins_pbs *ps = s->ops.user;
    struct qins_pbs_variant *pv = v->data;
    for (int i = 0; i < ps->n; i++) {
        if (!(pv->slots >> i & 1)) continue;
        if (pv->transport) qins_pb_variant_slot_figures(&ps->pb[i], &pv->sv[i]);
        QINS_TRY(qins_pb_variant_inmodel(&ps->pb[i], &pv->sv[i]));
        // the gate site then holds SiLU(gate), not gate: no FP32 counterpart to compare with
        if (pv->sv[i].p.out_silu && pv->transport)
            for (int l = 0; l < ps->L; l++) pv->sv[i].err_inmodel[l] = NAN;
    }
    return resid_error(ps, pv);
}

// Sums every NaN/Inf seen (phase 2's count, over the slots, plus the residual stream).
static double nonfinite(struct qins_pbs *ps, struct qins_pbs_variant *pv, const struct qins_variant *v) {
    double nf = (v->failed ? 0 : v->q.nonfinite_logits + v->q.nonfinite_gen_steps) +
                (isnan(pv->nonfinite_resid) ? 0 : pv->nonfinite_resid);
    for (int i = 0; i < ps->n; i++) {
        const struct qins_pb_variant *sv = &pv->sv[i];
        if (!(pv->slots >> i & 1)) continue;
        nf += sv->nonfinite_inmodel;
        if (pv->transport) nf += sv->nonfinite_out + sv->nonfinite_heldout + sv->w_nonfinite;
    }
    return pv->nonfinite_count = v->failed && nf == 0 ? NAN : nf;
}

static int record_metrics(struct qins_sweep *s, struct qins_pbs *ps, struct qins_variant *v) {
    struct qins_pbs_variant *pv = v->data;
    QINS_TRY(qins_sweep_metric(s, v, "nonfinite_count", nonfinite(ps, pv, v), "count"));
    double last = NAN, worst = 0;
    for (int l = 0; l < ps->L; l++) {
        last = pv->resid_err[l];
        if (!(pv->resid_err[l] <= worst)) worst = pv->resid_err[l];
    }
    QINS_TRY(qins_sweep_metric(s, v, "resid_rel_error_last", last, "fraction"));
    QINS_TRY(qins_sweep_metric(s, v, "resid_rel_error_max", worst, "fraction"));
    if (!pv->transport) return 0;
    pv->rel_error = 0, pv->w_absmax = 0;
    double w_nf = 0, held_nf = 0, bytes = 0;
    char what[64];
    for (int i = 0; i < ps->n; i++) {
        const struct qins_pb_variant *sv = &pv->sv[i];
        if (!(pv->slots >> i & 1)) continue;
        // the variant's figure is its worst slot (each slot's: its worst layer, held-out rows)
        if (!(sv->rel_error <= pv->rel_error)) pv->rel_error = sv->rel_error;
        if (!(sv->w_absmax <= pv->w_absmax)) pv->w_absmax = sv->w_absmax;
        w_nf += sv->w_nonfinite, held_nf += sv->nonfinite_heldout, bytes += sv->stored_bytes;
        const char *name = ps->pb[i].slot.name;
        const struct qins_named_metric m[] = {
            {"rel_error", sv->rel_error, "fraction"},        {"rel_error_mean_layers", sv->rel_error_mean, "fraction"},
            {"z_mse", sv->z_mse, "ratio"},                   {"w_absmax", sv->w_absmax, "ratio"},
            {"nonfinite_out", sv->nonfinite_out, "count"},   {"nonfinite_inmodel", sv->nonfinite_inmodel, "count"},
            {"alpha", sv->p.alpha, "ratio"},                 {"in_bits", (double)sv->p.in_bits, "count"}};
        for (size_t k = 0; k < sizeof m / sizeof *m; k++) {
            QINS_TRY(qins_format(what, sizeof what, "%s_%s", m[k].what, name));
            QINS_TRY(qins_sweep_metric(s, v, what, m[k].value, m[k].unit));
        }
    }
    // alpha/in_bits of the MLP slots (the first slot set); attn_v's own are under their suffix
    const struct qins_pb_variant *first = NULL;
    for (int i = 0; i < ps->n && !first; i++)
        if (pv->slots >> i & 1) first = &pv->sv[i];
    const struct qins_named_metric m[] = {
        {"rel_error", pv->rel_error, "fraction"}, {"w_absmax", pv->w_absmax, "ratio"},
        {"w_nonfinite", w_nf, "count"},           {"nonfinite_heldout", held_nf, "count"},
        {"stored_bytes", bytes, "bytes"},         {"alpha", first ? first->p.alpha : NAN, "ratio"},
        {"in_bits", first ? (double)first->p.in_bits : NAN, "count"}, {"silu_qins", pv->silu_qins ? 1 : 0, "bool"}};
    return qins_sweep_metrics(s, v, m, sizeof m / sizeof *m);
}

int qins_pbs_record_extras(struct qins_sweep *s, const struct qins_variant *v, const char *name) {
    const struct qins_pbs *ps = s->ops.user;
    const struct qins_pbs_variant *pv = v->data;
    qins_run_t *run = s->e->run;
    char path[200], sub[160];
    for (int i = 0; i < ps->n; i++) {
        if (!(pv->slots >> i & 1)) continue;
        QINS_TRY(qins_format(sub, sizeof sub, "%s/%s", name, ps->pb[i].slot.name));
        QINS_TRY(qins_pb_variant_arrays(run, &ps->pb[i], &pv->sv[i], ps->group, sub));
        if (pv->transport) {
            QINS_TRY(qins_format(path, sizeof path, "%s/%s", ps->group, sub));
            QINS_TRY(qins_run_attr_str(run, path, "kind", qins_transport_kind_name(pv->sv[i].p.kind)));
        }
    }
    QINS_TRY(qins_format(path, sizeof path, "%s/%s/resid_error_per_layer", ps->group, name));
    QINS_TRY(qins_run_array(run, path, QINS_DT_F64, pv->resid_err, (size_t)ps->L, 0));
    QINS_TRY(qins_format(path, sizeof path, "%s/%s", ps->group, name));
    QINS_TRY(qins_run_attr_str(run, path, "part", ps->part_names[pv->part]));
    QINS_TRY(qins_run_attr_str(run, path, "scope", ps->scope_names[pv->scope]));
    QINS_TRY(qins_run_attr_str(run, path, "kind", pv->transport ? "transport" : "pattern_a"));
    QINS_TRY(qins_run_attr_str(run, path, "encoding", pv->enc ? pv->enc : "-"));
    QINS_TRY(qins_run_attr_str(run, path, "silu_domain", pv->silu_qins ? "qins" : "decode_before_silu"));
    return v->failed ? qins_run_attr_str(run, path, "failed_status", qins_status_str(v->failed_status)) : 0;
}

static int op_record(struct qins_sweep *s, struct qins_variant *v) {
    struct qins_pbs *ps = s->ops.user;
    struct qins_pbs_variant *pv = v->data;
    for (int i = 0; pv->transport && i < ps->n; i++) // also after a blow-up
        if (pv->slots >> i & 1) qins_pb_variant_slot_figures(&ps->pb[i], &pv->sv[i]);
    QINS_TRY(record_metrics(s, ps, v));
    qins_pbs_variant_free(pv); // transports are computed again, once, for latency
    return qins_pbs_record_extras(s, v, v->name);
}

static void op_reset(struct qins_sweep *s) { qins_pbs_reset(s->ops.user); }

struct qins_sweep_ops qins_pbs_sweep_ops(struct qins_pbs *ps) {
    return (struct qins_sweep_ops){op_install, op_measure, op_record, op_activate, op_reset, ps};
}

bool qins_pbs_in_part(const struct qins_variant *v, void *part_scope) {
    const struct qins_pbs_variant *pv = v->data;
    const int *ps = part_scope;
    return pv->transport && !v->has_kv && pv->part == ps[0] && pv->scope == ps[1] && (v->flags & QINS_VARIANT_SWEEP_POINT);
}

// ---- decode counts

int qins_pbs_decode_counts(struct qins_pbs *ps, const struct qins_codec_params *pa, const struct qins_pbs_variant *v,
                           struct qins_pb_decodes *a, struct qins_pb_decodes *b) {
    *a = *b = (struct qins_pb_decodes){0};
    qins_pbs_reset(ps);
    QINS_TRY(qins_model_set_weight_codec(ps->m, pa, QINS_SLOT_MASK_ALL, false));
    QINS_TRY(qins_pb_count_decodes(ps->m, ps->text, a));
    struct qins_transport *ts = calloc((size_t)QINS_PBS_MAX_SLOTS * ps->L, sizeof *ts);
    QINS_CHECK(ts, QINS_ERR_NOMEM, "out of memory");
    int st = 0;
    // Pattern A + Pattern B: v's slots of v's layers carry their transports instead.
    for (int i = 0; i < ps->n && st == 0; i++) {
        if (!(v->slots >> i & 1)) continue;
        for (int l = 0; l < ps->L; l++)
            if (v->mask >> l & 1) qins_slot_reset(qins_pb_linear(&ps->pb[i], l));
        st = qins_pb_set(&ps->pb[i], &v->sv[i].p, v->mask, ts + (size_t)i * ps->L);
    }
    if (st == 0) st = qins_pb_count_decodes(ps->m, ps->text, b);
    qins_pbs_reset(ps);
    for (size_t k = 0; k < (size_t)QINS_PBS_MAX_SLOTS * ps->L; k++) qins_transport_free(&ts[k]);
    free(ts);
    return st;
}

unsigned qins_pbs_model_slots(const struct qins_pbs *ps, const struct qins_pbs_variant *v) {
    unsigned m = 0;
    for (int i = 0; i < ps->n; i++)
        if (v->slots >> i & 1) m |= 1u << ps->pb[i].slot.index;
    return m;
}
