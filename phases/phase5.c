// phases/phase5.c — qins-phase5, the MLP in the QINS domain (Pattern B on ffn_down, ffn_gate,
// ffn_up): staged parts of one run — down, gate_up, mlp (each layer 0 alone, then every layer),
// attn_mlp (every MLP plus every v_proj on the best v-path transport, re-selected here by phase 2's
// rule) and hybrid (from the all-layers MLP, layers returned to FP32 greedily by KLD until the
// token match passes hybrid_target) — each against the FP32 model and the Pattern A floor.
// Reads: config → calibrate → variants → sweep → best → SiLU alternative, attn_mlp → hybrid →
// decode counts → latency → plots and tables.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "experiment.h"
#include "gate.h"
#include "hybrid.h"
#include "pb_set.h"
#include "sweep.h"

// ---- config

static const struct qins_cfg_key phase5_keys[] = {
    QINS_PB_GRID_KEYS("phase5", "1,10", "float"),
    {"phase5", "parts", QINS_CFG_LIST, "down,gate_up,mlp,attn_mlp,hybrid", 1, 5, "down|gate_up|mlp|attn_mlp|hybrid",
     "staged parts run (attn_mlp and hybrid start from the all-layers MLP: they need mlp and scope all)", NULL},
    {"phase5", "scopes", QINS_CFG_LIST, "layer0,all", 1, 2, "layer0|all",
     "layer0 = only layer 0's slots transported; all = every layer's", NULL},
    {"phase5", "silu_domain", QINS_CFG_ENUM, "decode_before_silu", 0, -1, "decode_before_silu|qins",
     "SiLU of the sweep: decode gate and up to FP32 before SiLU*up, re-encode for down_proj; or qins: a table over "
     "the gate's output codes (the plan's risky option)", NULL},
    {"phase5", "silu_alternative", QINS_CFG_BOOL, "true", 0, -1, NULL,
     "the best gate_up and mlp variant of each scope again with the other SiLU domain", NULL},
    {"phase5", "silu_bits", QINS_CFG_INT, "8", 2, 12, NULL,
     "bits of the gate's output codes the QINS-domain SiLU table is indexed by", NULL},
    {"phase5", "hybrid_target", QINS_CFG_DOUBLE, "0.85", 0, 1, NULL,
     "the hybrid search stops once the token match is above this (1 = until every layer is FP32)", NULL},
    QINS_PB_FIT_KEYS("phase5"),
    {0},
};

// ---- parts, scopes, slots

enum { PART_VPATH, PART_DOWN, PART_GATE_UP, PART_MLP, PART_ATTN_MLP, PART_HYBRID, N_PARTS };
static const char *const part_names[N_PARTS] = {"vpath", "down", "gate_up", "mlp", "attn_mlp", "hybrid"};
enum { SCOPE_LAYER0, SCOPE_ALL };
static const char *const scope_names[2] = {"layer0", "all"};
// The set's slots in this order; a part changes the slots of its bits.
enum { SL_DOWN, SL_GATE, SL_UP, SL_V, N_SL };
static const char *const slot_names[N_SL] = {"ffn_down", "ffn_gate", "ffn_up", "attn_v"};
static const unsigned part_slots[N_PARTS] = {1u << SL_V, 1u << SL_DOWN, 1u << SL_GATE | 1u << SL_UP, 7u, 15u, 7u};

struct phase5 {
    struct qins_exp e;
    struct qins_pbs ps;
    struct qins_sweep s;
    struct qins_codec_params pa;
    struct qins_transport_params base;
    struct qins_pb_grid g;
    bool part_on[N_PARTS], scope_on[2];
    bool silu_qins;  // the sweep's SiLU domain
    int silu_bits;
    uint64_t mask[2];
    int best[N_PARTS][2]; // variant index of the best of each (part, scope), -1 none
    int attn_mlp;         // the attn_mlp variant, -1 none
};

// The transport of slot i of a variant with p as its grid point, in the SiLU domain silu_qins.
static struct qins_transport_params slot_params(const struct phase5 *P, const struct qins_transport_params *p, int i,
                                                bool silu_qins) {
    struct qins_transport_params q = *p;
    if (i == SL_GATE && silu_qins) q.out_bits = P->silu_bits, q.out_silu = true;
    return q;
}

// The grid of one part and scope, then its Pattern A floor (vpath: the grid only).
static int add_part(struct phase5 *P, int part, int scope) {
    char prefix[32], name[QINS_VARIANT_NAME];
    snprintf(prefix, sizeof prefix, "%s_%s", part_names[part], scope_names[scope]);
    // attn_mlp is built on the best MLP and v path (no grid of its own): only its floor here
    for (size_t k = 0; part != PART_ATTN_MLP && k < qins_pb_grid_size(&P->g); k++) {
        struct qins_transport_params p;
        const char *enc;
        QINS_TRY(qins_pb_grid_point(&P->g, &P->base, k, prefix, &p, &enc, name, sizeof name));
        struct qins_pbs_variant *pv = qins_pbs_sweep_add(&P->s, name, QINS_PB_TRANSPORT, part, scope, P->mask[scope], 0);
        QINS_CHECK(pv, QINS_ERR_NOMEM, "variant %s could not be added", name);
        pv->enc = enc;
        for (int i = 0; i < N_SL; i++)
            if (part_slots[part] >> i & 1) {
                const struct qins_transport_params q = slot_params(P, &p, i, P->silu_qins);
                qins_pbs_variant_set(pv, i, &q);
                pv->sv[i].enc = enc;
            }
    }
    if (part == PART_VPATH) return 0;
    snprintf(name, sizeof name, "patternA_%s", part == PART_ATTN_MLP ? "attn_mlp" : prefix);
    const bool ok = qins_pbs_sweep_add(&P->s, name, QINS_PB_PATTERN_A, part, scope, P->mask[scope], part_slots[part]);
    QINS_CHECK(ok, QINS_ERR_NOMEM, "variant %s could not be added", name);
    return 0;
}

// A variant beyond the sweep (SiLU alternative, attn_mlp, hybrid point): src's transports on mask.
static struct qins_pbs_variant *add_derived(struct phase5 *P, const char *name, int src, int part, uint64_t mask) {
    struct qins_pbs_variant *pv = qins_pbs_sweep_add(&P->s, name, QINS_PB_TRANSPORT, part, SCOPE_ALL, mask, 0);
    if (!pv) return NULL;
    P->s.v[P->s.n - 1].flags = 0; // not a grid point: never eligible as a part's best
    qins_pbs_variant_copy(pv, P->s.v[src].data);
    pv->scope = ((struct qins_pbs_variant *)P->s.v[src].data)->scope;
    for (int i = 0; i < N_SL; i++) pv->sv[i].scope = pv->scope;
    return pv;
}

// ---- the hybrid search: one evaluated variant per configuration tried

struct hybrid_ctx {
    struct phase5 *P;
    int src; // the all-layers MLP's best: the start, whose transports every point keeps
};

static int hybrid_eval(void *user, struct qins_hybrid_point *pt) {
    struct hybrid_ctx *h = user;
    struct phase5 *P = h->P;
    int idx = h->src;
    if (pt->mask != P->mask[SCOPE_ALL]) {
        char name[QINS_VARIANT_NAME];
        snprintf(name, sizeof name, "hybrid_m%llx", (unsigned long long)pt->mask);
        if ((idx = qins_sweep_find(&P->s, name)) < 0) {
            QINS_CHECK(add_derived(P, name, h->src, PART_HYBRID, pt->mask), QINS_ERR_NOMEM, "variant %s", name);
            idx = (int)P->s.n - 1;
            QINS_TRY(qins_sweep_evaluate(&P->s, (size_t)idx, P->s.n));
        }
    }
    const struct qins_variant *v = &P->s.v[idx];
    pt->token_match = v->q.token_match, pt->top1_agreement = v->q.top1_agreement, pt->ppl = v->q.ppl;
    pt->ppl_delta_pct = v->q.ppl_delta_pct, pt->kld_mean = v->q.kld_mean;
    pt->nonfinite_count = qins_variant_get(v, "nonfinite_count"), pt->tag = idx;
    return 0;
}

static int record_hybrid(struct phase5 *P, const struct qins_hybrid *h, double target) {
    const size_t n = h->n_curve;
    double *a = calloc(8 * (n ? n : 1), sizeof *a);
    QINS_CHECK(a, QINS_ERR_NOMEM, "out of memory");
    static const char *const cols[8] = {"layers_qins", "layers_fp32", "returned_layer", "token_match",
                                        "top1_agreement", "ppl_delta_pct", "kld_mean", "nonfinite_count"};
    char lines[66][120];
    const char *lp[66];
    size_t nl = 0;
    snprintf(lines[nl++], sizeof lines[0], "%-7s %-7s %-9s %8s %8s %9s %10s %8s", "QINS", "FP32", "returned", "match",
             "top1", "ppl d%", "KLD", "NaN/Inf");
    for (size_t k = 0; k < n; k++) {
        const struct qins_hybrid_point *p = &h->curve[k];
        const double row[8] = {p->n_qins, P->ps.L - p->n_qins, p->returned, p->token_match, p->top1_agreement,
                               p->ppl_delta_pct, p->kld_mean, p->nonfinite_count};
        for (int c = 0; c < 8; c++) a[c * n + k] = row[c];
        if (nl < 66)
            snprintf(lines[nl++], sizeof lines[0], "%-7d %-7d %-9d %8.4f %8.4f %+9.3f %10.6f %8.0f", p->n_qins,
                     P->ps.L - p->n_qins, p->returned, p->token_match, p->top1_agreement, p->ppl_delta_pct, p->kld_mean,
                     p->nonfinite_count);
    }
    int st = 0;
    char path[96];
    for (int c = 0; c < 8 && st == 0; c++) {
        snprintf(path, sizeof path, "/phase5/hybrid/%s", cols[c]);
        st = qins_run_array(P->e.run, path, QINS_DT_F64, a + (size_t)c * n, n, 0);
    }
    const struct qins_hybrid_point *last = &h->curve[n - 1];
    const struct qins_named_metric m[] = {
        {"layers_qins_final", last->n_qins, "count"},      {"layers_fp32_final", P->ps.L - last->n_qins, "count"},
        {"token_match", last->token_match, "fraction"},    {"ppl_delta_pct", last->ppl_delta_pct, "pct"},
        {"kld_mean", last->kld_mean, "nats"},              {"nonfinite_count", last->nonfinite_count, "count"},
        {"reached_target", h->reached ? 1 : 0, "bool"},    {"target", target, "fraction"},
        {"evaluations", (double)h->n_tried, "count"},      {"steps", (double)n - 1, "count"}};
    for (size_t i = 0; i < sizeof m / sizeof *m && st == 0; i++)
        st = qins_exp_metricf(&P->e, m[i].value, m[i].unit, "hybrid/%s", m[i].what);
    for (size_t i = 0; i < nl; i++) lp[i] = lines[i];
    char title[160];
    snprintf(title, sizeof title, "Hybrid: layers returned to FP32 greedily (lowest KLD first) until token match > %g", target);
    if (st == 0) st = qins_sweep_text_table(&P->e, "/summary/hybrid", title, lp, nl);
    // the curve: layers kept in FP32 against token match and top-1 agreement
    struct qins_series c;
    if (st == 0) st = qins_series_init(&c, n);
    for (size_t k = 0; st == 0 && k < n; k++) c.x[k] = a[n + k];
    double *y1 = st == 0 ? qins_series_add(&c, "token match") : NULL;
    for (size_t k = 0; y1 && k < n; k++) y1[k] = a[3 * n + k];
    double *y2 = y1 ? qins_series_add(&c, "top-1 agreement") : NULL;
    for (size_t k = 0; y2 && k < n; k++) y2[k] = a[4 * n + k];
    if (st == 0 && !y2) st = QINS_ERR_NOMEM;
    if (st == 0)
        st = qins_series_plot(&c, P->e.run, (struct qins_plot){"phase5_hybrid", QINS_PLOT_LINES,
                                                              "Hybrid: MLP layers kept in FP32 vs agreement with FP32",
                                                              "MLP layers kept in FP32", "fraction"});
    else qins_series_free(&c);
    free(a);
    return st;
}

// ---- decode operations per token and the QINS share of the matmul FLOPs

static int accounting(struct phase5 *P, int idx, const char *name) {
    const struct qins_pbs_variant *v = P->s.v[idx].data;
    struct qins_pb_decodes a, b;
    QINS_TRY(qins_pbs_decode_counts(&P->ps, &P->pa, v, &a, &b));
    const unsigned ms = qins_pbs_model_slots(&P->ps, v);
    struct qins_hparams phi;
    qins_hparams_phi35_mini(&phi);
    int n_on = 0;
    for (int l = 0; l < P->ps.L; l++) n_on += (int)(v->mask >> l & 1);
    const double share = n_on == P->ps.L ? 1.0 : (double)n_on / phi.n_layer;
    QINS_TRY(qins_pb_decode_metrics(&P->e, name, "pattern_b", &a, &b, ms, share));
    const double f = qins_matmul_flops_share(&P->e.model->hp, ms, n_on),
                 fphi = qins_matmul_flops_share(&phi, ms, n_on == P->ps.L ? phi.n_layer : n_on);
    QINS_TRY(qins_exp_metricf(&P->e, f, "fraction", "%s/qins_flops_fraction", name));
    QINS_TRY(qins_exp_metricf(&P->e, fphi, "fraction", "%s/phi35_qins_flops_fraction", name));
    printf("%s: %.1f %% of the weight-matmul FLOPs in the QINS domain (Phi-3.5-mini shapes: %.1f %%)\n", name, 100 * f,
           100 * fphi);
    return 0;
}

// ---- records: the run's settings, the best of each part, latency

static int record_header(struct phase5 *P) {
    qins_run_t *run = P->e.run;
    QINS_TRY(qins_run_attr_str(run, "/phase5", "best_rule", qins_pb_best_rule.text));
    QINS_TRY(qins_run_attr_str(run, "/phase5", "silu_domain", P->silu_qins ? "qins" : "decode_before_silu"));
    QINS_TRY(qins_run_attr_int(run, "/phase5", "silu_bits", P->silu_bits));
    QINS_TRY(qins_run_attr_str(run, "/phase5", "silu_qins_note",
                               "silu_domain = qins is the plan's risky option: SiLU read from a table over the gate's "
                               "output codes (no FP32 SiLU), its error bounded by the code grid"));
    // Gate 2 decides whether Pattern B goes on: what its record said when this run started.
    struct qins_gate_status g;
    const bool have = qins_gate_latest(P->e.args.results_dir, 2, &g) == QINS_OK;
    const char *v = !have || g.verdict == QINS_VERDICT_NONE ? "not evaluated" : qins_verdict_str(g.verdict);
    printf("gate 2 (V-path) record: %s%s\n", v, P->e.args.force ? "; this run is forced (a measurement, not a gate decision)" : "");
    return qins_run_attr_str(run, "/phase5", "gate2_verdict_at_start", v);
}

static void best_name(char *out, size_t cap, int p, int sc) {
    snprintf(out, cap, "best_%s_%s", part_names[p], scope_names[sc]);
}

static int record_bests(struct phase5 *P) {
    char name[48];
    for (int p = PART_VPATH; p <= PART_MLP; p++)
        for (int sc = 0; sc < 2; sc++) {
            const int b = P->best[p][sc];
            if (b < 0) continue;
            best_name(name, sizeof name, p, sc);
            printf("%s: %s (token match %.4f, KLD %.6f)\n", name, P->s.v[b].name, P->s.v[b].q.token_match,
                   P->s.v[b].q.kld_mean);
            QINS_TRY(qins_sweep_record_as(&P->s, &P->s.v[b], name));
            QINS_TRY(qins_pbs_record_extras(&P->s, &P->s.v[b], name));
            QINS_TRY(qins_run_attr_str(P->e.run, "/phase5", name, P->s.v[b].name));
        }
    return 0;
}

static int latency(struct phase5 *P) {
    int idx[16], n = 0;
    const char *names[16];
    static char bn[N_PARTS][2][48];
    for (int p = PART_DOWN; p <= PART_MLP; p++)
        for (int sc = 0; sc < 2; sc++)
            if (P->best[p][sc] >= 0) best_name(bn[p][sc], sizeof bn[p][sc], p, sc), idx[n] = P->best[p][sc], names[n++] = bn[p][sc];
    const char *refs[] = {"attn_mlp", "patternA_attn_mlp", "patternA_mlp_all"};
    for (size_t k = 0; k < 3; k++)
        if ((idx[n] = qins_sweep_find(&P->s, refs[k])) >= 0) names[n++] = NULL;
    return qins_sweep_latency_as(&P->s, idx, names, (size_t)n, (int)qins_config_int(P->e.cfg, "phase5", "latency_tokens"),
                                 (int)qins_config_int(P->e.cfg, "phase5", "latency_reps"), NULL, "[phase5] latency_tokens", NULL);
}

// ---- plots

static const struct qins_pbs_variant *pbs(const struct qins_variant *v) { return v->data; }

static int first_slot(const struct qins_pbs_variant *pv) {
    for (int i = 0; i < N_SL; i++)
        if (pv->slots >> i & 1) return i;
    return 0;
}

// Token match (max) and held-out rel_error (min) per stage and transport, and the Pattern A floor.
static int plot_stages(struct phase5 *P, const char *what, bool maximize, const char *pname, const char *title,
                       const char *ylabel, bool logy) {
    const char *labels[8];
    char lab[8][24];
    int part[8], scope[8];
    size_t n = 0;
    for (int p = PART_DOWN; p <= PART_MLP; p++)
        for (int sc = 0; sc < 2; sc++)
            if (P->part_on[p] && P->scope_on[sc]) {
                snprintf(lab[n], sizeof lab[n], "%s %s", part_names[p], scope_names[sc]);
                part[n] = p, scope[n] = sc, labels[n] = lab[n], n++;
            }
    if (P->attn_mlp >= 0) part[n] = PART_ATTN_MLP, scope[n] = SCOPE_ALL, labels[n++] = "attn_mlp";
    const size_t ns = P->g.n_tr + 1;
    double *y = malloc(ns * n * sizeof *y);
    const char **series = malloc(ns * sizeof *series);
    if (!y || !series) return free(y), free(series), QINS_ERR_NOMEM;
    for (size_t k = 0; k < ns * n; k++) y[k] = NAN;
    for (size_t t = 0; t < P->g.n_tr; t++) series[t] = P->g.tr[t];
    series[P->g.n_tr] = "Pattern A (at rest)";
    for (size_t i = 0; i < P->s.n; i++) {
        const struct qins_variant *v = &P->s.v[i];
        const struct qins_pbs_variant *pv = pbs(v);
        const bool grid = v->flags & QINS_VARIANT_SWEEP_POINT, am = (int)i == P->attn_mlp;
        if (v->failed || (pv->transport && !grid && !am) || pv->part == PART_HYBRID) continue;
        for (size_t c = 0; c < n; c++) {
            if (pv->part != part[c] || pv->scope != scope[c]) continue;
            size_t row = P->g.n_tr;
            for (size_t t = 0; pv->transport && t < P->g.n_tr; t++)
                if (!strcmp(P->g.tr[t], qins_transport_kind_name(pv->sv[first_slot(pv)].p.kind))) row = t;
            const double x = qins_variant_get(v, what);
            double *cell = &y[row * n + c];
            if (!isnan(x) && (isnan(*cell) || (maximize ? x > *cell : x < *cell))) *cell = x;
        }
    }
    const struct qins_plot pl = {pname, QINS_PLOT_BARS, title, "stage", ylabel, n, NULL, labels, ns, y, series, false, logy};
    const int st = n ? qins_run_plot(P->e.run, &pl) : 0;
    free(y), free(series);
    return st;
}

static int plots(struct phase5 *P) {
    QINS_TRY(plot_stages(P, "token_match", true, "phase5_token_match_stages",
                         "Greedy token match vs FP32 per stage: the best variant of each transport", "fraction of tokens", false));
    QINS_TRY(plot_stages(P, "rel_error", false, "phase5_rel_error_stages",
                         "Held-out relative error of the worst transported slot (FP32 inputs), best of each transport",
                         "relative L2 error", true));
    // the residual stream's error per layer inside the model
    struct qins_series r;
    QINS_TRY(qins_series_init(&r, (size_t)P->ps.L));
    int st = 0;
    char nm[QINS_VARIANT_NAME];
    for (int l = 0; l < P->ps.L; l++) r.x[l] = l;
    for (int p = PART_DOWN; p <= PART_HYBRID && st == 0; p++) { // PART_HYBRID's place: the Pattern A floor
        int idx = p <= PART_MLP ? P->best[p][SCOPE_ALL] : p == PART_ATTN_MLP ? P->attn_mlp : qins_sweep_find(&P->s, "patternA_mlp_all");
        if (idx < 0) continue;
        if (p <= PART_MLP) best_name(nm, sizeof nm, p, SCOPE_ALL);
        else snprintf(nm, sizeof nm, "%s", P->s.v[idx].name);
        double *y = qins_series_add(&r, nm);
        if (!y) st = QINS_ERR_NOMEM;
        for (int l = 0; y && l < P->ps.L; l++) y[l] = pbs(&P->s.v[idx])->resid_err[l];
    }
    if (st == 0)
        st = qins_series_plot(&r, P->e.run, (struct qins_plot){"phase5_resid_layers", QINS_PLOT_LINES,
                                                              "Error accumulation: residual stream after each layer vs FP32 (held-out windows)",
                                                              "layer", "relative L2 error", .logy = true});
    else qins_series_free(&r);
    // E(W x) against W' E(x) + b' for layer 0's down_proj at the best down variant's settings
    const int b = P->best[PART_DOWN][SCOPE_LAYER0] >= 0 ? P->best[PART_DOWN][SCOPE_LAYER0] : P->best[PART_DOWN][SCOPE_ALL];
    if (st == 0 && b >= 0)
        st = qins_pb_plot_scatter(&P->ps.pb[SL_DOWN], P->e.run, 0, &pbs(&P->s.v[b])->sv[SL_DOWN],
                                  qins_config_int(P->e.cfg, "phase5", "scatter_points"), "phase5_scatter_down_layer0");
    return st;
}

// ---- tables and key metrics

static int stage_row(struct phase5 *P, char *line, size_t cap, const char *stage, int idx, const char *floor) {
    const struct qins_variant *v = &P->s.v[idx];
    const int f = floor ? qins_sweep_find(&P->s, floor) : -1;
    snprintf(line, cap, "%-14s %-38s %-8s %8.4f %+9.3f %10.6f %8.0f %9s", stage, v->name,
             pbs(v)->transport ? qins_transport_kind_name(pbs(v)->sv[first_slot(pbs(v))].p.kind) : "-", v->q.token_match,
             v->q.ppl_delta_pct, v->q.kld_mean, qins_variant_get(v, "nonfinite_count"), "");
    if (f >= 0) snprintf(line + strlen(line) - 9, 10, "%9.4f", P->s.v[f].q.token_match);
    return 0;
}

static int record_tables(struct phase5 *P) {
    char lines[24][160], st_name[32], fl[48];
    const char *lp[24];
    size_t n = 0;
    snprintf(lines[n++], sizeof lines[0], "%-14s %-38s %-8s %8s %9s %10s %8s %9s", "stage", "best variant", "transport",
             "match", "ppl d%", "KLD", "NaN/Inf", "PatA match");
    for (int p = PART_VPATH; p <= PART_MLP; p++)
        for (int sc = 0; sc < 2; sc++) {
            if (P->best[p][sc] < 0) continue;
            snprintf(st_name, sizeof st_name, "%s %s", part_names[p], scope_names[sc]);
            snprintf(fl, sizeof fl, "patternA_%s_%s", part_names[p], scope_names[sc]);
            stage_row(P, lines[n], sizeof lines[0], st_name, P->best[p][sc], p == PART_VPATH ? NULL : fl), n++;
        }
    for (size_t i = 0; i < P->s.n && n < 22; i++)
        if (strstr(P->s.v[i].name, "+silu_"))
            stage_row(P, lines[n], sizeof lines[0], pbs(&P->s.v[i])->silu_qins ? "silu qins (!)" : "silu decode",
                      (int)i, NULL), n++;
    if (P->attn_mlp >= 0) stage_row(P, lines[n], sizeof lines[0], "attn_mlp", P->attn_mlp, "patternA_attn_mlp"), n++;
    for (size_t i = 0; i < n; i++) lp[i] = lines[i];
    QINS_TRY(qins_sweep_text_table(&P->e, "/summary/stages",
                                   "Phase 5 stages: the best variant of each (phase 2's rule); (!) = SiLU in the QINS "
                                   "domain, the plan's risky option", lp, n));
    const struct qins_sweep_column cols[] = {{"alpha", "alpha", "%6g"},          {"in bits", "in_bits", "%7.0f"},
                                             {"match", "token_match", "%8.4f"},  {"ppl d%", "ppl_delta_pct", "%+9.3f"},
                                             {"KLD", "kld_mean", "%10.5f"},      {"rel_err", "rel_error", "%10.4g"},
                                             {"resid err", "resid_rel_error_last", "%10.4g"},
                                             {"NaN/Inf", "nonfinite_count", "%9.0f"}};
    QINS_TRY(qins_sweep_summary(&P->s, "phase 5 summary (baseline: FP32 model)", cols, 8));
    QINS_TRY(qins_sweep_record_names(&P->s, "/phase5/variants"));
    QINS_TRY(qins_exp_key(&P->e, "baseline/ppl"));
    for (int p = PART_DOWN; p <= PART_MLP; p++)
        for (int sc = 0; sc < 2; sc++)
            if (P->best[p][sc] >= 0) {
                best_name(fl, sizeof fl, p, sc);
                QINS_TRY(qins_exp_key(&P->e, "%s/token_match,%s/ppl_delta_pct,%s/kld_mean,%s/nonfinite_count", fl, fl, fl, fl));
            }
    if (P->attn_mlp >= 0)
        QINS_TRY(qins_exp_key(&P->e, "attn_mlp/token_match,attn_mlp/ppl_delta_pct,attn_mlp/nonfinite_count,"
                                     "attn_mlp/phi35_decode_ops_pattern_b,attn_mlp/qins_flops_fraction"));
    if (qins_sweep_find(&P->s, "patternA_mlp_all") >= 0) QINS_TRY(qins_exp_key(&P->e, "patternA_mlp_all/token_match"));
    return P->part_on[PART_HYBRID] ? qins_exp_key(&P->e, "hybrid/layers_fp32_final,hybrid/token_match") : 0;
}

// ---- main

int main(int argc, char **argv) {
    static struct phase5 P;
    const struct qins_cfg_key *tables[] = {phase5_keys, NULL};
    int st = qins_exp_open(&P.e, 5, argc, argv, tables);
    if (st == 1) return 0;
    struct qins_exp *e = &P.e;
    struct qins_calib_text text = {0};
    struct qins_hybrid hyb = {0};
    qins_sweep_init(&P.s, e, &(struct qins_sweep_ops){0});
    memset(P.best, -1, sizeof P.best);
    P.attn_mlp = -1;
    if (st == 0) st = qins_pb_params_config(e->cfg, "phase5", &P.base, &P.pa, &P.g);
    const char *const *items = NULL;
    size_t n_items = st < 0 ? 0 : qins_config_list(e->cfg, "phase5", "parts", &items);
    for (size_t i = 0; i < n_items; i++)
        for (int p = PART_DOWN; p < N_PARTS; p++) P.part_on[p] |= !strcmp(items[i], part_names[p]);
    n_items = st < 0 ? 0 : qins_config_list(e->cfg, "phase5", "scopes", &items);
    for (size_t i = 0; i < n_items; i++) P.scope_on[strcmp(items[i], "all") ? SCOPE_LAYER0 : SCOPE_ALL] = true;
    P.part_on[PART_VPATH] = P.part_on[PART_ATTN_MLP];
    if (st == 0 && (P.part_on[PART_ATTN_MLP] || P.part_on[PART_HYBRID]) && !(P.part_on[PART_MLP] && P.scope_on[SCOPE_ALL])) {
        qins_log(QINS_LOG_ERROR, "[phase5] parts: attn_mlp and hybrid start from the all-layers MLP; add mlp to parts "
                                 "and all to scopes, or drop them");
        st = QINS_ERR_ARG;
    }
    if (st == 0) {
        P.silu_qins = !strcmp(qins_config_str(e->cfg, "phase5", "silu_domain"), "qins");
        P.silu_bits = (int)qins_config_int(e->cfg, "phase5", "silu_bits");
        st = qins_calib_text_init(&text, e, qins_config_int(e->cfg, "phase5", "calib_tokens"),
                                  qins_config_int(e->cfg, "phase5", "heldout_tokens"), "[phase5] calib_tokens / heldout_tokens");
    }
    if (st == 0) st = qins_pbs_init(&P.ps, e->model, slot_names, N_SL, &text, &P.pa);
    P.ps.group = "/phase5", P.ps.part_names = part_names, P.ps.scope_names = scope_names;
    P.s.ops = qins_pbs_sweep_ops(&P.ps);
    if (st == 0) st = qins_calib_text_record(&text, e->run, "/phase5");
    if (st == 0) st = record_header(&P);
    P.mask[SCOPE_LAYER0] = 1, P.mask[SCOPE_ALL] = P.ps.L == 64 ? ~0ull : (1ull << P.ps.L) - 1;
    // the variant table: each part's grid and Pattern A floor per scope; the v path for attn_mlp
    for (int p = PART_DOWN; p <= PART_MLP && st == 0; p++)
        for (int sc = 0; sc < 2 && st == 0; sc++)
            if (P.part_on[p] && P.scope_on[sc]) st = add_part(&P, p, sc);
    if (st == 0 && P.part_on[PART_VPATH]) st = add_part(&P, PART_VPATH, SCOPE_ALL);
    if (st == 0 && P.part_on[PART_ATTN_MLP]) st = add_part(&P, PART_ATTN_MLP, SCOPE_ALL);
    const size_t n_sweep = P.s.n;
    if (st == 0) printf("phase 5: %zu variants (SiLU: %s), then the parts built on their best\n", P.s.n,
                        P.silu_qins ? "qins table" : "decode_before_silu");
    if (st == 0) st = qins_sweep_baseline(&P.s);
    if (st == 0) st = qins_sweep_evaluate(&P.s, 0, n_sweep);
    // the best of each part and scope by phase 2's rule
    for (int p = PART_VPATH; p <= PART_MLP && st == 0; p++)
        for (int sc = 0; sc < 2; sc++) {
            int key[2] = {p, sc};
            if (!P.part_on[p] || !(P.scope_on[sc] || p == PART_VPATH) || (p == PART_VPATH && sc != SCOPE_ALL)) continue;
            if ((P.best[p][sc] = qins_sweep_best(&P.s, &qins_pb_best_rule, qins_pbs_in_part, key)) < 0)
                printf("%s %s: no variant completed\n", part_names[p], scope_names[sc]);
        }
    // the other SiLU domain on the best gate_up / mlp variants; attn_mlp on the best MLP and v path
    char name[QINS_VARIANT_NAME];
    const size_t n_first = P.s.n;
    const bool alt = st == 0 && qins_config_bool(e->cfg, "phase5", "silu_alternative");
    for (int p = PART_GATE_UP; alt && p <= PART_MLP && st == 0; p++)
        for (int sc = 0; sc < 2 && st == 0; sc++) {
            const int b = P.best[p][sc];
            if (b < 0) continue;
            snprintf(name, sizeof name, "%.48s+silu_%s", P.s.v[b].name, P.silu_qins ? "decode" : "qins");
            struct qins_pbs_variant *pv = add_derived(&P, name, b, p, P.mask[sc]);
            if (!pv) {
                st = QINS_ERR_NOMEM;
                break;
            }
            struct qins_transport_params q = pv->sv[SL_GATE].p;
            q.out_silu = false, q.out_bits = P.base.out_bits;
            pv->silu_qins = !P.silu_qins, pv->sv[SL_GATE].p = slot_params(&P, &q, SL_GATE, pv->silu_qins);
        }
    if (st == 0 && P.part_on[PART_ATTN_MLP] && P.best[PART_MLP][SCOPE_ALL] >= 0 && P.best[PART_VPATH][SCOPE_ALL] >= 0) {
        struct qins_pbs_variant *pv = add_derived(&P, "attn_mlp", P.best[PART_MLP][SCOPE_ALL], PART_ATTN_MLP, P.mask[SCOPE_ALL]);
        if (!pv) st = QINS_ERR_NOMEM;
        else qins_pbs_variant_set(pv, SL_V, &((struct qins_pbs_variant *)P.s.v[P.best[PART_VPATH][SCOPE_ALL]].data)->sv[SL_V].p);
        P.attn_mlp = (int)P.s.n - 1;
    }
    if (st == 0) st = qins_sweep_evaluate(&P.s, n_first, P.s.n);
    // hybrid: from the all-layers MLP, layers back to FP32 until the token match passes the target
    const double target = st < 0 ? 0 : qins_config_double(e->cfg, "phase5", "hybrid_target");
    if (st == 0 && P.part_on[PART_HYBRID] && P.best[PART_MLP][SCOPE_ALL] >= 0) {
        struct hybrid_ctx h = {&P, P.best[PART_MLP][SCOPE_ALL]};
        st = qins_hybrid_search(P.ps.L, P.mask[SCOPE_ALL], target, hybrid_eval, &h, &hyb);
        if (st == 0) st = record_hybrid(&P, &hyb, target);
    }
    if (st == 0) st = record_bests(&P);
    // decode counts: Pattern A on every projection vs Pattern B attention (v_proj) + MLP
    const int acc = P.attn_mlp >= 0 ? P.attn_mlp : P.best[PART_MLP][SCOPE_ALL];
    if (st == 0 && acc >= 0) st = accounting(&P, acc, acc == P.attn_mlp ? "attn_mlp" : "best_mlp_all");
    if (st == 0) st = latency(&P);
    if (st == 0) st = plots(&P);
    if (st == 0) st = record_tables(&P);
    qins_pbs_reset(&P.ps);
    for (size_t i = 0; i < P.s.n; i++) qins_pbs_variant_free(P.s.v[i].data), free(P.s.v[i].data);
    qins_hybrid_free(&hyb);
    qins_sweep_free(&P.s);
    qins_pbs_free(&P.ps);
    qins_calib_text_free(&text);
    if (st < 0) {
        qins_exp_close(e);
        return 1;
    }
    return qins_exp_commit(e) < 0 ? 1 : 0;
}
