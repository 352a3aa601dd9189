// phases/phase6.c — qins-phase6, the final compression pass: the choices earlier phases earned
// (core/final.h: phase 3's weight codec and policy, phase 1's KV store, Pattern A where gates 2
// and 5 said NO-GO, phase 4's fused kernels) applied together and measured against the FP32
// baseline and against what a user would pick instead at the same bits (INT-k and NF-k per group
// through the same engine); a stability run far past one window; the plan's memory question at
// Phi-3.5-mini's shapes (projected from the measured bits/value); and experiments/production.ini,
// which `qins generate --config` runs. Reads: config → final config → variants → evaluate →
// latency → stability → memory → production config → record.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "experiment.h"
#include "final.h"
#include "gate.h"
#include "kv.h"
#include "model_writer.h"
#include "production.h"
#include "slots.h"
#include "stability.h"
#include "tokenizer.h"
#include "sweep.h"

static const struct qins_cfg_key phase6_keys[] = {
    {"phase6", "kv_variant", QINS_CFG_STRING, "qins8", 1, 0, NULL,
     "the phase-1 variant whose KV store is taken (with that run's kv_options)", qins_check_kv_spec_item},
    {"phase6", "baselines", QINS_CFG_LIST, "int8,nf8", 0, 8, NULL,
     "weight codecs a user would pick instead (per group, same KV store as the final)", .item_check = qins_check_codec_item},
    {"phase6", "baseline_granularity", QINS_CFG_STRING, "group32", 1, 0, NULL,
     "their scale granularity (group32: ggml's block size)", qins_check_granularity_item},
    {"phase6", "latency_tokens", QINS_CFG_INT, "64", 1, 4096, NULL, "tokens generated per latency repetition", NULL},
    {"phase6", "latency_reps", QINS_CFG_INT, "7", 3, 1000, NULL,
     "latency repetitions, interleaved (the first is a warm-up; medians of the rest)", NULL},
    {"phase6", "stability_tokens", QINS_CFG_INT, "10000", 1, 10000000, NULL,
     "steps of the stability run (the plan: >= 10,000)", NULL},
    {"phase6", "stability_block", QINS_CFG_INT, "1000", 1, 1000000, NULL, "steps per drift block", NULL},
    {"phase6", "projection_ctx", QINS_CFG_INT, "4096", 1, 1 << 20, NULL,
     "context of the Phi-3.5-mini memory projection (KV bytes at this many positions)", NULL},
    {"phase6", "production_out", QINS_CFG_STRING, "experiments/production.ini", 0, 0, NULL,
     "where the production config is written (empty: not written)", NULL},
    {0},
};

struct wcfg {
    struct qins_codec_params c;
    bool fused;
    int used_fused; // what install managed (the fused kernels refuse some codecs)
};

// Every linear slot and the output matrix in w's codec: the fused kernels when asked for and
// they take the codec, else decode-then-multiply. The sweep and the stability run both use it,
// so the stability model runs exactly the kernels the final variant was measured with.
static int install_weights(struct qins_model *m, struct wcfg *w) {
    if (w->fused) {
        const int st = qins_model_set_weight_codec_fused(m, &w->c, QINS_SLOT_MASK_ALL, true);
        if (st != QINS_ERR_UNSUPPORTED) return w->used_fused = 1, st;
        qins_model_reset_slots(m);
    }
    w->used_fused = 0;
    return qins_model_set_weight_codec(m, &w->c, QINS_SLOT_MASK_ALL, true);
}

static int install(struct qins_sweep *s, struct qins_variant *v) {
    return v->data ? install_weights(s->e->model, v->data) : 0;
}

struct sizes {
    double fp32_weights, kv_fp32, kv_fp16; // bytes; KV at [run] ctx
    double n_weights;                      // matmul weight elements
    int ctx;
    const struct qins_model *m;
};

// The KV store's bytes after ctx positions (every byte of metadata: what the store reports).
static int kv_bytes_at(const struct qins_kv_spec *spec, const struct qins_model *m, int ctx, double *out) {
    const int kv_dim = m->hp.n_head_kv * m->hp.head_dim;
    struct qins_kv_store *kv;
    QINS_TRY(qins_kv_store_create(spec, m->hp.n_layer, ctx, kv_dim, &kv));
    float *row = calloc((size_t)kv_dim * 16, sizeof *row);
    int st = row ? 0 : QINS_ERR_NOMEM;
    for (size_t i = 0; row && i < (size_t)kv_dim * 16; i++) row[i] = (float)((int)(i * 37 % 17) - 8) / 8.0f; // scales > 0
    for (int l = 0; st == 0 && l < m->hp.n_layer; l++)
        for (int p = 0; st == 0 && p < ctx; p += 16) st = qins_kv_append(kv, l, p, ctx - p < 16 ? ctx - p : 16, row, row);
    *out = (double)qins_kv_stored_bytes(kv);
    free(row);
    qins_kv_free(kv);
    return st;
}

static int measure(struct qins_sweep *s, struct qins_variant *v) {
    const struct sizes *z = s->ops.user;
    const struct wcfg *w = v->data;
    const double wb = (double)qins_model_stored_weight_bytes(s->e->model);
    double kvb = z->kv_fp32;
    if (v->has_kv) QINS_TRY(kv_bytes_at(&v->kv, z->m, z->ctx, &kvb));
    const struct qins_named_metric m[] = {
        {"weight_bytes", wb, "bytes"},
        {"bits_per_weight", 8 * wb / z->n_weights, "bits"},
        {"kv_bytes_ctx", kvb, "bytes"},
        {"compression_vs_fp32", (z->fp32_weights + z->kv_fp32) / (wb + kvb), "ratio"},
        {"compression_vs_fp16", (z->fp32_weights / 2 + z->kv_fp16) / (wb + kvb), "ratio"},
        {"weights_fused", w ? w->used_fused : 0, "bool"},
    };
    return qins_sweep_metrics(s, v, m, sizeof m / sizeof m[0]);
}

// The variant with the final choices (w: the final variant's weights), in a second model beside
// the FP32 one, for >= 10k steps.
static int stability(struct qins_exp *e, const struct qins_final *f, struct wcfg *w) {
    const int ctx = (int)qins_config_int(e->cfg, "run", "ctx");
    const struct qins_hparams *hp = &e->model->hp;
    struct qins_model *var = NULL;
    struct qins_kv_store *kb = NULL, *kvv = NULL;
    struct qins_state *sb = NULL, *sv = NULL;
    struct qins_kv_spec fp32;
    struct qins_stability_result r = {0};
    int st = qins_kv_spec_parse("fp32", &fp32);
    if (st == 0) st = qins_model_load(e->model_path, &var);
    if (st == 0) st = install_weights(var, w);
    if (st == 0) st = qins_kv_store_create(&fp32, hp->n_layer, ctx, hp->n_head_kv * hp->head_dim, &kb);
    if (st == 0) st = qins_kv_store_create(&f->kv, hp->n_layer, ctx, hp->n_head_kv * hp->head_dim, &kvv);
    if (st == 0) st = qins_state_init(e->model, ctx, ctx, kb, &sb);
    if (st == 0) st = qins_state_init(var, ctx, ctx, kvv, &sv);
    const int32_t bos = (int32_t)qins_tokenizer_bos(e->tok);
    struct qins_stability_opts o = {.n_tokens = qins_config_int(e->cfg, "phase6", "stability_tokens"),
                                    .ctx = ctx, .keep = ctx / 2, .block = (int)qins_config_int(e->cfg, "phase6", "stability_block"),
                                    .bos_id = bos};
    if (st == 0) {
        printf("stability: %lld steps beside the FP32 baseline, windows of %d restarted with %d kept tokens\n",
               (long long)o.n_tokens, ctx, o.keep);
        st = qins_stability_run(e->model, sb, var, sv, &bos, 1, &o, &r);
    }
    if (st == 0)
        printf("stability: %lld windows, %lld steps with NaN/Inf, KLD mean %.4g, top-1 agreement %.4f, drift (last - "
               "first block) KLD %+.4g, top-1 %+.4f\n",
               (long long)r.n_windows, (long long)r.nonfinite_steps, r.kld_mean, r.top1_agreement, r.kld_drift,
               r.top1_drift);
    const struct {
        const char *what;
        double v;
        const char *unit;
    } m[] = {{"tokens", (double)r.n_tokens, "count"},           {"windows", (double)r.n_windows, "count"},
             {"nonfinite_steps", (double)r.nonfinite_steps, "count"}, {"base_nonfinite_steps", (double)r.base_nonfinite_steps, "count"},
             {"kld_mean", r.kld_mean, "nats"},                   {"top1_agreement", r.top1_agreement, "fraction"},
             {"kld_drift", r.kld_drift, "nats"},                 {"top1_drift", r.top1_drift, "fraction"}};
    for (size_t i = 0; st == 0 && i < sizeof m / sizeof m[0]; i++)
        st = qins_exp_metricf(e, m[i].v, m[i].unit, "stability/%s", m[i].what);
    if (st == 0 && r.n_blocks > 0) {
        double *x = malloc(r.n_blocks * sizeof *x), *y = malloc(2 * r.n_blocks * sizeof *y);
        st = x && y ? 0 : QINS_ERR_NOMEM;
        for (int64_t b = 0; st == 0 && b < r.n_blocks; b++)
            x[b] = (double)((b + 1) * o.block), y[b] = r.block_kld[b], y[r.n_blocks + b] = r.block_top1[b];
        const char *series[] = {"KLD mean (nats)", "top-1 agreement"};
        if (st == 0)
            st = qins_run_plot(e->run, &(struct qins_plot){"phase6_stability", QINS_PLOT_LINES,
                                                         "Stability: per-block KLD and top-1 agreement vs FP32",
                                                         "generated tokens", "value", (size_t)r.n_blocks, x, NULL, 2, y,
                                                         series});
        free(x), free(y);
    }
    qins_stability_result_free(&r);
    qins_state_free(sb), qins_state_free(sv);
    qins_kv_free(kb), qins_kv_free(kvv);
    if (var) qins_model_reset_slots(var); // the codec's slot state is not the model's to free
    qins_model_free(var);
    return st;
}

// Phi-3.5-mini at the measured bits per value: every matrix at the final weights' bits/weight,
// the KV store at its measured bytes per position per layer. "projected": arithmetic from the
// shape (core/model_writer's phi3.5-mini, with the real model's 32 blocks), nothing run at that size.
static int memory_projection(struct qins_exp *e, double bits_per_weight, double kv_bytes_per_pos_layer_dim) {
    struct qins_random_model_spec phi;
    QINS_TRY(qins_random_model_shape("phi3.5-mini", &phi));
    const double L = 32, E = phi.n_embd, F = phi.n_ff, V = phi.n_vocab, KV = (double)phi.n_head_kv * (E / phi.n_head);
    const double matrices = L * (4 * E * E + 3 * E * F) + 2 * V * E, norms = (2 * L + 1) * E;
    const double ctx = (double)qins_config_int(e->cfg, "phase6", "projection_ctx");
    const double w = matrices * bits_per_weight / 8 + norms * 4, kv = L * ctx * KV * kv_bytes_per_pos_layer_dim;
    QINS_TRY(qins_exp_metricf(e, w, "bytes", "memory/phi35_projected_weight_bytes"));
    QINS_TRY(qins_exp_metricf(e, kv, "bytes", "memory/phi35_projected_kv_bytes"));
    QINS_TRY(qins_exp_metricf(e, w + kv, "bytes", "memory/phi35_projected_total_bytes"));
    QINS_TRY(qins_exp_metricf(e, (w + kv) < 2e9, "bool", "memory/phi35_projected_under_2gb"));
    printf("memory (projected, Phi-3.5-mini, ctx %.0f): weights %.2f GB + KV %.2f GB = %.2f GB (plan: < 2 GB)\n", ctx,
           w / 1e9, kv / 1e9, (w + kv) / 1e9);
    return 0;
}

static int write_production(struct qins_exp *e, const struct qins_final *f) {
    const char *out = qins_config_str(e->cfg, "phase6", "production_out");
    if (!out[0]) return 0;
    char header[2048], why_kv[256], why_w[256], why_k[256], alpha[32], model[1024];
    snprintf(header, sizeof header,
             "; experiments/production.ini — written by qins-phase6 run %s; every choice explicit.\n"
             "; Run with: qins generate --config %s --prompt ... / qins perplexity --config %s ...\n"
             "; Pattern B: none (gate 2 %s, gate 5 %s)%s%s",
             qins_run_id(e->run), out, out, qins_verdict_str(f->gate2), qins_verdict_str(f->gate5),
             f->missing[0] ? "\n; missing inputs (forced): " : "", f->missing);
    snprintf(why_kv, sizeof why_kv, "phase-1 run %s%s: its kv_options for the chosen variant",
             f->kv_run.run_id[0] ? f->kv_run.run_id : "(none)", f->kv_run.forced ? " (forced)" : "");
    snprintf(why_w, sizeof why_w, "phase-3 run %s%s: policy_codec, weight_granularity, weight_alpha",
             f->policy_run.run_id[0] ? f->policy_run.run_id : "(none)", f->policy_run.forced ? " (forced)" : "");
    snprintf(why_k, sizeof why_k, "phase-4 run %s", f->kernel_run.run_id[0] ? f->kernel_run.run_id : "(none)");
    snprintf(alpha, sizeof alpha, "%g", f->weights.alpha);
    snprintf(model, sizeof model, "%s", qins_config_str(e->cfg, "run", "model"));
    const struct qins_production_line lines[] = {
        {"model", model, "the model every phase ran on"},
        {"kv", f->kv_text, why_kv},
        {"weights", f->weights_name, why_w},
        {"weights_gran", f->weights_gran, NULL},
        {"weights_alpha", alpha, NULL},
        {"weights_slots", "all", "Pattern A on every linear slot: Pattern B's gates said NO-GO"},
        {"weights_output", "true", NULL},
        {"weights_kernel", f->fused ? "fused" : "separate", why_k},
        {"threads", "0", NULL},
    };
    QINS_TRY(qins_production_write(out, header, lines, sizeof lines / sizeof lines[0]));
    printf("production config: %s\n", out);
    return qins_run_attr_str(e->run, "/phase6", "production_config", out);
}

int main(int argc, char **argv) {
    struct qins_exp e;
    const struct qins_cfg_key *tables[] = {phase6_keys, NULL};
    int st = qins_exp_open(&e, 6, argc, argv, tables);
    if (st == 1) return 0;
    struct qins_final f = {0};
    if (st == 0)
        st = qins_final_assemble(e.args.results_dir, qins_config_str(e.cfg, "phase6", "kv_variant"), e.args.force, &f);
    const struct {
        const char *name;
        const struct qins_final_input *in;
    } inputs[] = {{"kv_run", &f.kv_run}, {"policy_run", &f.policy_run}, {"kernel_run", &f.kernel_run}};
    for (size_t i = 0; st == 0 && i < 3; i++) {
        st = qins_run_attr_str(e.run, "/phase6", inputs[i].name, inputs[i].in->run_id[0] ? inputs[i].in->run_id : "none");
        printf("input %-10s %s%s\n", inputs[i].name, inputs[i].in->run_id[0] ? inputs[i].in->run_id : "(none)",
               inputs[i].in->forced ? " (a forced run)" : "");
    }
    if (st == 0) st = qins_run_attr_str(e.run, "/phase6", "missing_inputs", f.missing);
    if (st == 0) st = qins_run_attr_str(e.run, "/phase6", "kv", f.kv_text);
    if (st == 0) st = qins_run_attr_str(e.run, "/phase6", "weights", f.weights_name);
    if (st == 0 && f.missing[0]) printf("missing inputs (forced): %s\n", f.missing);

    struct sizes z = {.m = e.model, .ctx = st == 0 ? (int)qins_config_int(e.cfg, "run", "ctx") : 0};
    struct qins_kv_spec fp16;
    if (st == 0) st = qins_kv_spec_parse("fp16", &fp16);
    if (st == 0) {
        z.fp32_weights = (double)qins_model_stored_weight_bytes(e.model);
        z.n_weights = z.fp32_weights / 4;
        z.kv_fp32 = (double)e.model->hp.n_layer * 2 * z.ctx * e.model->hp.n_head_kv * e.model->hp.head_dim * 4;
        st = kv_bytes_at(&fp16, e.model, z.ctx, &z.kv_fp16);
    }
    // variants: the final configuration, its weights alone, and the same-bits baselines
    const char *const *bl = NULL;
    const size_t n_bl = st == 0 ? qins_config_list(e.cfg, "phase6", "baselines", &bl) : 0;
    struct wcfg w[10];
    struct qins_sweep s;
    qins_sweep_init(&s, &e, &(struct qins_sweep_ops){.install = install, .measure = measure, .user = &z});
    if (st == 0) {
        w[0] = (struct wcfg){f.weights, f.fused, 0}, w[1] = w[0];
        struct qins_variant *v = qins_sweep_add(&s, "final", f.kv_text, 0);
        if (v) v->data = &w[0];
        v = qins_sweep_add(&s, "final_weights", NULL, 0);
        if (v) v->data = &w[1];
        for (size_t i = 0; v && st == 0 && i < n_bl; i++) {
            char name[64];
            snprintf(name, sizeof name, "%s_%s", bl[i], qins_config_str(e.cfg, "phase6", "baseline_granularity"));
            qins_codec_params_default(&w[2 + i].c);
            st = qins_codec_parse(bl[i], &w[2 + i].c);
            if (st == 0) st = qins_codec_parse_granularity(qins_config_str(e.cfg, "phase6", "baseline_granularity"), &w[2 + i].c);
            w[2 + i].fused = f.fused;
            v = st == 0 ? qins_sweep_add(&s, name, f.kv_text, 0) : NULL;
            if (v) v->data = &w[2 + i];
        }
        if (!v && st == 0) st = QINS_ERR_ARG;
    }
    if (st == 0) st = qins_sweep_baseline(&s);
    if (st == 0) st = qins_sweep_evaluate(&s, 0, s.n);
    int idx[10];
    for (size_t i = 0; i < s.n; i++) idx[i] = (int)i;
    if (st == 0)
        st = qins_sweep_latency(&s, idx, s.n, (int)qins_config_int(e.cfg, "phase6", "latency_tokens"),
                                (int)qins_config_int(e.cfg, "phase6", "latency_reps"), NULL, "[phase6] latency_tokens", NULL);
    if (st == 0) st = stability(&e, &f, &w[0]);
    if (st == 0) {
        const struct qins_variant *fin = &s.v[0];
        const double kv_per = qins_variant_get(fin, "kv_bytes_ctx") /
                              ((double)e.model->hp.n_layer * z.ctx * e.model->hp.n_head_kv * e.model->hp.head_dim);
        st = memory_projection(&e, qins_variant_get(fin, "bits_per_weight"), kv_per);
    }
    if (st == 0) st = write_production(&e, &f);
    if (st == 0)
        st = qins_exp_key(&e, "final/compression_vs_fp32,final/compression_vs_fp16,final/overhead_pct,"
                              "final/ppl_delta_pct,final/kld_mean,stability/nonfinite_steps,"
                              "memory/phi35_projected_total_bytes");
    const struct qins_sweep_column cols[] = {{"bits/w", "bits_per_weight", "%10.3f"},
                                             {"vs fp32 (x)", "compression_vs_fp32", "%12.3f"},
                                             {"vs fp16 (x)", "compression_vs_fp16", "%12.3f"},
                                             {"token match", "token_match", "%12.4f"},
                                             {"ppl delta %", "ppl_delta_pct", "%+12.3f"},
                                             {"kld mean", "kld_mean", "%12.3g"},
                                             {"overhead %", "overhead_pct", "%+12.2f"}};
    if (st == 0)
        st = qins_sweep_summary(&s, "phase 6 summary (baseline FP32; compression counts weights + KV at [run] ctx)",
                                cols, 7);
    qins_sweep_free(&s);
    qins_final_free(&f);
    if (st < 0) {
        qins_exp_close(&e);
        return 1;
    }
    qins_model_reset_slots(e.model);
    return qins_exp_commit(&e) < 0 ? 1 : 0;
}
