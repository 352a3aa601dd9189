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

// The selection rule, recorded in the run and quoted by gates/gates.txt.
static const struct qins_best_rule best_rule = {
    "best = per scope, among the transport variants with FP32 KV that completed and produced no NaN/Inf "
    "(nonfinite_count == 0): the highest token_match, ties by the lower kld_mean, then by the order of the "
    "sweep; if none qualifies, the highest token_match among those that completed",
    "token_match", "kld_mean", "nonfinite_count", true};

// ---- config

static int check_encoding(const char *item, char *why, size_t cap) {
    int bits;
    if (!qins_transport_encoding_parse(item, &bits)) return 0;
    return snprintf(why, cap, "encoding '%s': use float or kN with N = 2..%d", item, QINS_CODEC_MAX_BITS), 1;
}

static const struct qins_cfg_key phase2_keys[] = {
    {"phase2", "transports", QINS_CFG_LIST, "none,literal,jacobian,lstsq", 1, 4, "none|literal|jacobian|lstsq",
     "transports swept (core/transport.h)", NULL},
    {"phase2", "alphas", QINS_CFG_LIST, "0.1,1,10", 1, 8, NULL,
     "alpha values swept (relative to each channel's calibration scale)", .item = QINS_CFG_ITEM_DOUBLE,
     .item_min = 1e-9, .item_max = 1e6},
    {"phase2", "encodings", QINS_CFG_LIST, "float,k8", 1, 4, NULL,
     "input encodings swept: float (E(x) in FP64) or kN (N-bit QINS codes)", .item_check = check_encoding},
    {"phase2", "scopes", QINS_CFG_LIST, "layer0,full", 1, 2, "layer0|full",
     "layer0 = only layer 0's v_proj transported; full = every layer's", NULL},
    {"phase2", "kv", QINS_CFG_STRING, "qins8", 0, -1, NULL,
     "phase-1 KV codec (core/kv_paged.h spec) combined with the transport; none = no combination", qins_check_kv_spec_or_none},
    {"phase2", "kv_variants", QINS_CFG_ENUM, "best", 0, -1, "best|all",
     "which transport variants also run with the KV codec: the best of each scope, or all", NULL},
    {"phase2", "weight_codec", QINS_CFG_STRING, "fp32", 0, -1, NULL,
     "how W' is stored (fp32 isolates the transport's own error; e.g. qins8, int8, fp16)", qins_check_codec_item},
    {"phase2", "pattern_a_codec", QINS_CFG_STRING, "qins8", 0, -1, NULL,
     "Pattern A reference: the codec every projection keeps at rest (per-row scales)", qins_check_codec_item},
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
    struct qins_decode_tally pa, pv;
    QINS_TRY(qins_decode_tally(&phi, 1, false, false, &pa));
    QINS_TRY(qins_decode_tally(&phi, 1, true, false, &pv));
    const double share = scope == SCOPE_FULL ? 1.0 : 1.0 / phi.n_layer;
    const double phi_ops = pa.decode_ops - share * ((double)pa.decode_ops - pv.decode_ops),
                 phi_elems = pa.decoded_elems - share * ((double)pa.decoded_elems - pv.decoded_elems);
    const struct qins_named_metric m[] = {
        {"decode_ops_pattern_a", a.ops, "count"}, {"decode_ops_vpath", b.ops, "count"},
        {"decode_ops_reduction_pct", 100.0 * (1.0 - b.ops / a.ops), "pct"}, {"decoded_elems_pattern_a", a.elems, "count"},
        {"decoded_elems_vpath", b.elems, "count"}, {"decoded_elems_reduction_pct", 100.0 * (1.0 - b.elems / a.elems), "pct"},
        {"phi35_decode_ops_pattern_a", (double)pa.decode_ops, "count"}, {"phi35_decode_ops_vpath", phi_ops, "count"},
        {"phi35_decode_ops_reduction_pct", 100.0 * (1.0 - phi_ops / pa.decode_ops), "pct"},
        {"phi35_decoded_elems_reduction_pct", 100.0 * (1.0 - phi_elems / pa.decoded_elems), "pct"}};
    for (size_t i = 0; i < sizeof m / sizeof *m; i++)
        QINS_TRY(qins_exp_metricf(e, m[i].value, m[i].unit, "%s/%s", name, m[i].what));
    printf("%s decode ops per token: Pattern A %.0f -> + V-path %.0f (%+.1f %%), decoded elements %.0f -> %.0f "
           "(%+.1f %%); Phi-3.5-mini ops %llu -> %.0f, elements %+.1f %%\n",
           name, a.ops, b.ops, -100.0 * (1.0 - b.ops / a.ops), a.elems, b.elems, -100.0 * (1.0 - b.elems / a.elems),
           (unsigned long long)pa.decode_ops, phi_ops, -100.0 * (1.0 - phi_elems / pa.decoded_elems));
    return 0;
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
    if (st == 0) st = qins_run_attr_str(e.run, "/phase2", "best_rule", best_rule.text);
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
        if (on[sco] && (best[sco] = qins_sweep_best(&s, &best_rule, qins_pb_in_scope, &scope_id[sco])) < 0)
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
