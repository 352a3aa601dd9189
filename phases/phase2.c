// phases/phase2.c — qins-phase2, V-path transport (Pattern B on v_proj): every transport,
// alpha and input encoding of [phase2], on layer 0's v_proj alone and on every layer's, against
// the FP32 model; the best variant per scope by the rule below, also with the KV codec of
// phase 1; references Pattern A (v_proj weights codec-at-rest) and the KV codec alone.
// Reads: config → calibrate → variants → sweep → best → KV combination → decode counts → latency → plots.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "experiment.h"
#include "pattern_b.h"
#include "sweep.h"

// ---- config

static const struct qins_cfg_key phase2_keys[] = {
    QINS_PB_GRID_KEYS("phase2", "0.1,1,10", "float,k8"),
    {"phase2", "scopes", QINS_CFG_LIST, "layer0,full", 1, 2, "layer0|full",
     "layer0 = only layer 0's v_proj transported; full = every layer's", NULL},
    {"phase2", "kv", QINS_CFG_STRING, "qins8", 0, -1, NULL,
     "phase-1 KV codec (core/kv_paged.h spec) combined with the transport; none = no combination", qins_check_kv_spec_or_none},
    {"phase2", "kv_variants", QINS_CFG_ENUM, "best", 0, -1, "best|all",
     "which transport variants also run with the KV codec: the best of each scope, or all", NULL},
    QINS_PB_FIT_KEYS("phase2"),
    {0},
};

// ---- variants: transports (Pattern B on v_proj), Pattern A references, the KV codec alone

enum { SCOPE_LAYER0 = 0, SCOPE_FULL = 1 };
static const char *const scope_names[2] = {"layer0", "full"};

// ---- decode operations per token: Pattern A on every slot, then the scope's v_proj on Pattern B

static int decode_accounting(struct qins_pb *pb, struct qins_exp *e, int scope, const struct qins_pb_variant *best,
                             const char *name) {
    struct qins_pb_decodes a, b;
    QINS_TRY(qins_pb_decode_counts(pb, &pb->pa, &best->p, best->mask, &a, &b));
    // Phi-3.5-mini from shapes: every layer (full) or one layer (layer0) on the V path.
    struct qins_hparams phi;
    qins_hparams_phi35_mini(&phi);
    return qins_pb_decode_metrics(e, name, "vpath", &a, &b, 1u << pb->slot.index, scope == SCOPE_FULL ? 1.0 : 1.0 / phi.n_layer);
}

// ---- main

int main(int argc, char **argv) {
    struct qins_exp e;
    const struct qins_cfg_key *tables[] = {phase2_keys, NULL};
    int st = qins_exp_open(&e, 2, argc, argv, tables);
    if (st == 1) return 0;
    struct qins_pb pb = {0};
    struct qins_codec_params pa;
    uint64_t mask[2] = {0};
    struct qins_calib_text text = {0};
    struct qins_transport_params base_p;
    struct qins_pb_grid g;
    struct qins_sweep s;
    qins_sweep_init(&s, &e, &(struct qins_sweep_ops){0});
    const char *kv_text = st < 0 ? "none" : qins_config_str(e.cfg, "phase2", "kv");
    const bool have_kv = strcmp(kv_text, "none") != 0;
    if (st == 0) st = qins_pb_params_config(e.cfg, "phase2", &base_p, &pa, &g);
    if (st == 0) st = qins_run_attr_str(e.run, "/phase2", "best_rule", qins_pb_best_rule.text);
    if (st == 0) st = qins_run_attr_str(e.run, "/phase2", "kv_spec", kv_text);
    if (st == 0)
        st = qins_calib_text_init(&text, &e, qins_config_int(e.cfg, "phase2", "calib_tokens"),
                                  qins_config_int(e.cfg, "phase2", "heldout_tokens"), "[phase2] calib_tokens / heldout_tokens");
    if (st == 0) st = qins_pb_init(&pb, e.model, "attn_v", &text);
    pb.pa = pa, pb.group = "/phase2", pb.scope_names = scope_names, s.ops = qins_pb_sweep_ops(&pb);
    if (st == 0) st = qins_calib_text_record(&text, e.run, "/phase2");
    mask[SCOPE_LAYER0] = 1, mask[SCOPE_FULL] = pb.L == 64 ? ~0ull : (1ull << pb.L) - 1;
    // the variant table: the sweep (FP32 KV) and Pattern A per scope, the KV codec alone
    const char *const *sc = NULL;
    const size_t n_sc = st < 0 ? 0 : qins_config_list(e.cfg, "phase2", "scopes", &sc);
    bool on[2] = {false, false};
    for (size_t i = 0; i < n_sc; i++) on[strcmp(sc[i], "full") ? SCOPE_LAYER0 : SCOPE_FULL] = true;
    char name[QINS_VARIANT_NAME];
    for (int sco = 0; sco < 2 && st == 0; sco++) {
        if (!on[sco]) continue;
        st = qins_pb_sweep_add_grid(&s, &g, &base_p, scope_names[sco], sco, mask[sco]);
        snprintf(name, sizeof name, "patternA_%s", scope_names[sco]);
        if (st == 0 && !qins_pb_sweep_add(&s, name, NULL, QINS_PB_PATTERN_A, sco, mask[sco])) st = QINS_ERR_NOMEM;
    }
    if (st == 0 && have_kv && !qins_pb_sweep_add(&s, "kv_only", kv_text, QINS_PB_KV_ONLY, SCOPE_FULL, 0)) st = QINS_ERR_NOMEM;
    const size_t n_sweep = s.n;
    const bool kv_all = st == 0 && !strcmp(qins_config_str(e.cfg, "phase2", "kv_variants"), "all");
    if (st == 0) printf("phase 2: %zu variants with FP32 KV, then the KV codec %s on %s\n", s.n, kv_text,
                        kv_all ? "every transport variant" : "the best of each scope");
    if (st == 0) st = qins_sweep_baseline(&s);
    if (st == 0) st = qins_sweep_evaluate(&s, 0, n_sweep);
    // the best of each scope by the rule, then the KV codec combined with it (or with every one)
    int best[2] = {-1, -1}, best_kv[2] = {-1, -1}, scope_id[2] = {SCOPE_LAYER0, SCOPE_FULL};
    for (int sco = 0; sco < 2 && st == 0; sco++)
        if (on[sco] && (best[sco] = qins_sweep_best(&s, &qins_pb_best_rule, qins_pb_in_scope, &scope_id[sco])) < 0)
            printf("scope %s: no variant completed; best_%s is not recorded\n", scope_names[sco], scope_names[sco]);
    for (size_t i = 0; have_kv && i < n_sweep && st == 0; i++) {
        const struct qins_pb_variant *src = s.v[i].data;
        if (!src->transport || (!kv_all && (int)i != best[0] && (int)i != best[1])) continue;
        snprintf(name, sizeof name, "%.60s+kv", s.v[i].name);
        struct qins_pb_variant *pv = qins_pb_sweep_add(&s, name, kv_text, QINS_PB_TRANSPORT, src->scope, src->mask);
        if (!pv) st = QINS_ERR_NOMEM;
        else pv->p = src->p, pv->enc = src->enc; // src is still valid: the data are not moved
        if (st == 0 && (int)i == best[src->scope]) best_kv[src->scope] = (int)s.n - 1;
    }
    if (st == 0) st = qins_sweep_evaluate(&s, n_sweep, s.n);
    // best_<scope>: the chosen variant's figures again, its decode accounting, latency
    int lat[5], n_lat = 0;
    const char *lat_names[5];
    char bname[2][32], bkname[2][40];
    for (int sco = 0; sco < 2 && st == 0; sco++) {
        if (best[sco] < 0) continue;
        const struct qins_variant *b = &s.v[best[sco]];
        snprintf(bname[sco], sizeof bname[sco], "best_%s", scope_names[sco]);
        printf("best %s variant: %s (token match %.4f, KLD %.6f)\n", scope_names[sco], b->name, b->q.token_match, b->q.kld_mean);
        st = qins_sweep_record_as(&s, b, bname[sco]);
        if (st == 0) st = qins_pb_record_extras(&s, b, bname[sco]);
        if (st == 0) st = qins_run_attr_str(e.run, "/phase2", bname[sco], b->name);
        if (st == 0) st = decode_accounting(&pb, &e, sco, b->data, bname[sco]);
        lat[n_lat] = best[sco], lat_names[n_lat++] = bname[sco];
        if (st == 0 && best_kv[sco] >= 0) {
            snprintf(bkname[sco], sizeof bkname[sco], "best_%s+kv", scope_names[sco]);
            st = qins_sweep_record_as(&s, &s.v[best_kv[sco]], bkname[sco]);
            if (st == 0) st = qins_pb_record_extras(&s, &s.v[best_kv[sco]], bkname[sco]);
            if (st == 0) st = qins_run_attr_str(e.run, "/phase2", bkname[sco], s.v[best_kv[sco]].name);
            lat[n_lat] = best_kv[sco], lat_names[n_lat++] = bkname[sco];
        }
    }
    if ((lat[n_lat] = qins_sweep_find(&s, "patternA_full")) >= 0) lat_names[n_lat++] = NULL;
    if (st == 0)
        st = qins_sweep_latency_as(&s, lat, lat_names, (size_t)n_lat, (int)qins_config_int(e.cfg, "phase2", "latency_tokens"),
                                   (int)qins_config_int(e.cfg, "phase2", "latency_reps"), NULL, "[phase2] latency_tokens", NULL);
    // plots: the sweep against alpha per scope; per-layer error, |W'| and layer 0's scatter at the best's settings
    for (int sco = 0; sco < 2 && st == 0; sco++) {
        const struct qins_pb_variant *b = best[sco] < 0 ? NULL : s.v[best[sco]].data;
        if (b) st = qins_pb_plot_sweep(&s, &g, scope_names[sco], "phase2");
        if (b && st == 0 && sco == SCOPE_FULL) st = qins_pb_plot_layers(&s, &g, "full", b, "phase2_layer_error", "phase2_w_hist");
        if (b && st == 0 && sco == SCOPE_LAYER0)
            st = qins_pb_plot_scatter(&pb, e.run, 0, b, qins_config_int(e.cfg, "phase2", "scatter_points"), "phase2_scatter_layer0");
    }
    if (st == 0) st = qins_exp_key(&e, "baseline/ppl");
    for (int sco = 0; sco < 2 && st == 0; sco++)
        if (best[sco] >= 0)
            st = qins_exp_key(&e, "%s/token_match,%s/ppl_delta_pct,%s/rel_error,%s/nonfinite_count,%s/kld_mean", bname[sco],
                              bname[sco], bname[sco], bname[sco], bname[sco]);
    if (st == 0 && best[SCOPE_FULL] >= 0)
        st = qins_exp_key(&e, "best_full/decode_ops_reduction_pct,best_full/decoded_elems_reduction_pct");
    if (st == 0) st = qins_exp_key(&e, "patternA_full/token_match,kv_only/token_match");
    if (st == 0) st = qins_sweep_record_names(&s, "/phase2/variants");
    const struct qins_sweep_column cols[] = {{"alpha", "alpha", "%6g"},           {"in bits", "in_bits", "%7.0f"},
                                             {"match", "token_match", "%8.4f"},   {"ppl d%", "ppl_delta_pct", "%+9.3f"},
                                             {"rel_err", "rel_error", "%10.4g"}, {"NaN/Inf", "nonfinite_count", "%9.0f"}};
    if (st == 0) st = qins_sweep_summary(&s, "phase 2 summary (baseline: FP32 model)", cols, 6);
    if (pb.m) qins_pb_reset(&pb);
    for (size_t i = 0; i < s.n; i++) qins_pb_variant_free(s.v[i].data), free(s.v[i].data);
    qins_sweep_free(&s);
    qins_pb_free(&pb);
    qins_calib_text_free(&text);
    if (st < 0) {
        qins_exp_close(&e);
        return 1;
    }
    return qins_exp_commit(&e) < 0 ? 1 : 0;
}
