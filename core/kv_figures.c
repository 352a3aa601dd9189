// core/kv_figures.c — see kv_figures.h.
#include "kv_figures.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"

static void put(struct qins_kv_figures *f, const char *what, double value, const char *unit) {
    if (f->n < QINS_KV_FIGURES_MAX) f->m[f->n++] = (struct qins_named_metric){what, value, unit};
}

int qins_kv_figures(const struct qins_kv_spec *spec, const struct qins_kv_store *store, int n_layer, int kv_dim,
                    int ctx, int longest, struct qins_kv_figures *f) {
    f->n = 0;
    const size_t bytes = qins_kv_stored_bytes(store);
    double projected = 0, per_tok = 0, peak = 0;
    QINS_TRY(qins_kv_projected_bytes(spec, n_layer, kv_dim, ctx, &projected));
    QINS_CHECK((size_t)projected == bytes, QINS_ERR_STATE, "%s: store holds %zu bytes, projection says %.0f",
               spec->name, bytes, projected);
    const int64_t big = (int64_t)1 << 20; // steady state: full pages, headers included
    QINS_TRY(qins_kv_projected_bytes(spec, n_layer, kv_dim, big, &per_tok));
    QINS_TRY(qins_kv_projected_bytes(spec, n_layer, kv_dim, longest, &peak));
    per_tok /= (double)big;
    const double fp32 = 2.0 * n_layer * (double)ctx * kv_dim * 4, fp16_tok = 2.0 * n_layer * kv_dim * 2;
    put(f, "kv_bytes_ctx", (double)bytes, "bytes");
    put(f, "kv_compression_vs_fp32", fp32 / (double)bytes, "ratio");
    put(f, "kv_compression_vs_fp16", fp32 / 2 / (double)bytes, "ratio");
    put(f, "kv_bytes_per_token", per_tok, "bytes");
    put(f, "kv_peak_bytes", peak, "bytes");
    put(f, "kv_peak_positions", (double)longest, "count");
    put(f, "kv_compression_per_token_vs_fp32", 2 * fp16_tok / per_tok, "ratio");
    put(f, "kv_compression_per_token_vs_fp16", fp16_tok / per_tok, "ratio");
    struct qins_kv_paged_stats ps;
    if (qins_kv_paged_stats(store, &ps) == 1 && ps.pages_decoded > 0) {
        put(f, "page_decode_us", 1e6 * ps.decode_seconds / ps.pages_decoded, "us");
        put(f, "page_encode_us", 1e6 * ps.encode_seconds / ps.pages_encoded, "us");
        put(f, "kv_decode_us_per_token", 1e6 * ps.decode_seconds / ctx, "us");
        put(f, "pages_decoded", (double)ps.pages_decoded, "count");
        put(f, "page_tokens", ps.page_tokens, "count");
    }
    return 0;
}

int qins_kv_shape_parse(const char *item, char *name, size_t cap, int *n_layer, int *kv_dim) {
    const char *colon = strrchr(item, ':');
    int h, d;
    char x1, x2, tail;
    if (!colon || colon == item || (size_t)(colon - item) >= cap ||
        sscanf(colon + 1, "%d%c%d%c%d%c", n_layer, &x1, &h, &x2, &d, &tail) != 5 || x1 != 'x' || x2 != 'x' ||
        *n_layer < 1 || *n_layer > QINS_KV_MAX_LAYERS || h < 1 || h > 4096 || d < 1 || d > 4096)
        return QINS_ERR_ARG;
    snprintf(name, cap, "%.*s", (int)(colon - item), item);
    *kv_dim = h * d;
    return 0;
}

int qins_check_kv_shape_item(const char *item, char *why, size_t cap) {
    char name[64];
    int l, kv;
    if (qins_kv_shape_parse(item, name, sizeof name, &l, &kv) == 0) return 0;
    snprintf(why, cap, "'%s' is not NAME:LAYERSxKV_HEADSxHEAD_DIM (e.g. phi3.5-mini:32x32x96)", item);
    return 1;
}

static void ctx_label(int64_t n, char *out, size_t cap) {
    if (n % 1024 == 0) snprintf(out, cap, "%lldk", (long long)(n / 1024));
    else snprintf(out, cap, "%lld", (long long)n);
}

int qins_kv_projection(struct qins_sweep *s, const char *model_name, const char *const *shapes, size_t n_shapes,
                       const int64_t *ctxs, size_t n_ctx, const char *plot_name) {
    const struct qins_hparams *hp = &s->e->model->hp;
    const size_t n_sh = n_shapes + 1, n_cat = n_sh * n_ctx;
    char(*names)[64] = calloc(n_sh, sizeof *names), (*labels)[96] = calloc(n_cat, sizeof *labels);
    int *layers = calloc(n_sh, sizeof *layers), *dims = calloc(n_sh, sizeof *dims);
    const char **lab = calloc(n_cat, sizeof *lab);
    struct qins_series ps = {0};
    int st = names && labels && layers && dims && lab ? qins_series_init(&ps, n_cat) : QINS_ERR_NOMEM;
    if (st == 0) snprintf(names[0], sizeof names[0], "%.*s", (int)strcspn(model_name, "."), model_name);
    layers[0] = hp->n_layer, dims[0] = hp->n_head_kv * hp->head_dim;
    for (size_t i = 0; st == 0 && i < n_shapes; i++)
        if (qins_kv_shape_parse(shapes[i], names[i + 1], sizeof names[i + 1], &layers[i + 1], &dims[i + 1]) < 0) {
            qins_log(QINS_LOG_ERROR, "projection: bad shape '%s'", shapes[i]);
            st = QINS_ERR_ARG;
        }
    struct qins_kv_spec fp32;
    if (st == 0) st = qins_kv_spec_parse("fp32", &fp32);
    for (int i = -1; st == 0 && i < (int)s->n; i++) {
        if (i >= 0 && (s->v[i].flags & QINS_VARIANT_SWEEP_POINT)) continue;
        const char *name = i < 0 ? "baseline" : s->v[i].name;
        double *row = qins_series_add(&ps, i < 0 ? "fp32 (baseline)" : name);
        if (!row) st = QINS_ERR_NOMEM;
        for (size_t sh = 0; st == 0 && sh < n_sh; sh++)
            for (size_t c = 0; st == 0 && c < n_ctx; c++) {
                char l[32], what[160];
                ctx_label(ctxs[c], l, sizeof l);
                const size_t cat = sh * n_ctx + c;
                snprintf(labels[cat], sizeof labels[cat], "%.63s %.31s", names[sh], l);
                lab[cat] = labels[cat];
                st = qins_kv_projected_bytes(i < 0 ? &fp32 : &s->v[i].kv, layers[sh], dims[sh], ctxs[c], &row[cat]);
                snprintf(what, sizeof what, "projected_bytes_%.63s_%.31s", names[sh], l);
                if (st == 0) st = qins_sweep_metric_as(s, name, what, row[cat], "bytes");
            }
    }
    struct qins_plot p = {plot_name, QINS_PLOT_BARS,
                          "Projected KV cache bytes at long context (projection from dimensions, not measured)",
                          "model, context", "bytes (log scale)", .xlabels = lab, .logy = true};
    if (st == 0) st = qins_series_plot(&ps, s->e->run, p);
    else qins_series_free(&ps);
    free(names), free(labels), free(layers), free(dims), free(lab);
    return st;
}
