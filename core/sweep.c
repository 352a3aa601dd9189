// core/sweep.c — see sweep.h.
#include "sweep.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "slots.h"
#include "util.h"

int qins_sweep_init(struct qins_sweep *s, struct qins_exp *e, const struct qins_sweep_ops *ops) {
    memset(s, 0, sizeof *s);
    s->e = e;
    if (ops) s->ops = *ops;
    return 0;
}

void qins_sweep_free(struct qins_sweep *s) {
    if (!s) return;
    for (size_t i = 0; i < s->n; i++) {
        free(s->v[i].first_div);
        qins_vec_free(&s->v[i].metrics);
    }
    free(s->v);
    qins_exp_eval_free(&s->base);
    s->v = NULL, s->n = s->cap = 0, s->have_base = false;
}

struct qins_variant *qins_sweep_add(struct qins_sweep *s, const char *name, const char *kv_text, unsigned flags) {
    if (strlen(name) >= QINS_VARIANT_NAME || !*name) {
        qins_log(QINS_LOG_ERROR, "variant name '%.80s' is empty or longer than %d characters", name,
                 QINS_VARIANT_NAME - 1);
        return NULL;
    }
    if (!strcmp(name, "baseline") || qins_sweep_find(s, name) >= 0) {
        qins_log(QINS_LOG_ERROR, "variant '%s' is listed twice (or named baseline)", name);
        return NULL;
    }
    if (qins_grow(&s->v, &s->cap, s->n + 1, sizeof *s->v) < 0) return NULL;
    struct qins_variant *v = &s->v[s->n];
    memset(v, 0, sizeof *v);
    snprintf(v->name, sizeof v->name, "%s", name);
    v->flags = flags;
    v->series = -1;
    v->metrics = QINS_VEC(struct qins_variant_metric);
    qins_exp_quality_nan(&v->q);
    if (kv_text) {
        if (qins_kv_spec_parse(kv_text, &v->kv) < 0) return NULL;
        v->has_kv = true;
        v->bits = v->kv.k.bits;
    }
    s->n++;
    return v;
}

struct qins_variant *qins_sweep_add_kv(struct qins_sweep *s, const char *item, const char *name, const char *options,
                                       const char *extra, unsigned flags) {
    const char *own = strchr(item, ':');
    char safe[QINS_VARIANT_NAME], text[320];
    size_t j = 0;
    for (const char *p = name ? name : item; *p && j + 1 < sizeof safe; p++)
        if (*p != '=') safe[j++] = *p == ':' || *p == ',' ? '_' : *p;
    safe[j] = 0;
    if (!own && !extra && (!strcmp(item, "fp16") || !strcmp(item, "fp32"))) snprintf(text, sizeof text, "%s", item);
    else
        snprintf(text, sizeof text, "%.*s%s%s%s%s%s", (int)strcspn(item, ":"), item, *options ? ":" : "", options,
                 own ? own : "", extra ? ":" : "", extra ? extra : "");
    return qins_sweep_add(s, safe, text, flags);
}

int qins_sweep_find(const struct qins_sweep *s, const char *name) {
    for (size_t i = 0; i < s->n; i++)
        if (!strcmp(s->v[i].name, name)) return (int)i;
    return -1;
}

// ---- evaluation

static void reset_model(struct qins_sweep *s) {
    if (s->ops.reset) s->ops.reset(s);
    else qins_model_reset_slots(s->e->model);
}

int qins_sweep_baseline(struct qins_sweep *s) {
    reset_model(s);
    QINS_TRY(qins_exp_evaluate(s->e, s->e->model, NULL, "baseline", &s->base));
    s->have_base = true;
    return 0;
}

static bool blew_up(int st) { return st == QINS_ERR_NUMERIC || st == QINS_ERR_RANGE; }

static int evaluate_one(struct qins_sweep *s, struct qins_variant *v) {
    struct qins_exp *e = s->e;
    const size_t np = e->prompts.n;
    free(v->first_div);
    v->first_div = malloc((np ? np : 1) * sizeof *v->first_div);
    QINS_CHECK(v->first_div, QINS_ERR_NOMEM, "out of memory");
    bool q_written = false;
    struct qins_exp_eval ev = {0};
    reset_model(s);
    int st = s->ops.install ? s->ops.install(s, v) : 0;
    if (st == 0) st = qins_exp_evaluate(e, e->model, v->has_kv ? &v->kv : NULL, v->name, &ev);
    if (st == 0) st = qins_exp_record_quality_ex(e, &s->base, &ev, &v->q, v->first_div);
    if (st == 0) q_written = true;
    qins_exp_eval_free(&ev);
    if (st == 0 && s->ops.measure) st = s->ops.measure(s, v);
    if (blew_up(st)) {
        snprintf(v->failed_reason, sizeof v->failed_reason, "%s", qins_last_error());
        printf("%-28s blew up (%s): recorded as failed, NaN quality\n", v->name, qins_status_str(st));
        v->failed = true, v->failed_status = st;
        if (!q_written) qins_exp_quality_nan(&v->q);
        st = 0;
    }
    v->evaluated = true;
    if (st == 0 && !q_written) st = qins_exp_write_quality(e, v->name, &v->q);
    if (st == 0) st = qins_sweep_metric(s, v, "failed", v->failed ? 1.0 : 0.0, "count");
    if (st == 0 && v->failed) {
        char path[128];
        snprintf(path, sizeof path, "/variants/%s", v->name);
        st = qins_run_attr_str(e->run, path, "failed_status", qins_status_str(v->failed_status));
        if (st == 0) st = qins_run_attr_str(e->run, path, "failed_reason", v->failed_reason);
    }
    if (st == 0 && s->ops.record) st = s->ops.record(s, v);
    reset_model(s);
    return st;
}

int qins_sweep_evaluate(struct qins_sweep *s, size_t from, size_t to) {
    QINS_CHECK(s->have_base, QINS_ERR_STATE, "qins_sweep_evaluate before qins_sweep_baseline");
    for (size_t i = from; i < to && i < s->n; i++) QINS_TRY(evaluate_one(s, &s->v[i]));
    return 0;
}

// ---- metrics kept by name

int qins_sweep_metric_as(struct qins_sweep *s, const char *prefix, const char *what, double value, const char *unit) {
    char name[192];
    QINS_TRY(qins_format(name, sizeof name, "%s/%s", prefix, what));
    return qins_run_metric(s->e->run, name, value, unit);
}

// The kept metric called what, or NULL.
static struct qins_variant_metric *find_metric(const struct qins_variant *v, const char *what) {
    struct qins_variant_metric *m = v->metrics.data;
    for (size_t i = 0; i < v->metrics.n; i++)
        if (!strcmp(m[i].what, what)) return &m[i];
    return NULL;
}

int qins_sweep_metric(struct qins_sweep *s, struct qins_variant *v, const char *what, double value, const char *unit) {
    QINS_CHECK(strlen(what) < sizeof((struct qins_variant_metric *)0)->what, QINS_ERR_RANGE,
               "metric name '%s' too long", what);
    QINS_CHECK(strlen(unit) < sizeof((struct qins_variant_metric *)0)->unit, QINS_ERR_RANGE, "unit '%s' too long", unit);
    QINS_TRY(qins_sweep_metric_as(s, v->name, what, value, unit));
    struct qins_variant_metric *m = find_metric(v, what);
    if (!m) m = qins_vec_push(&v->metrics);
    QINS_CHECK(m, QINS_ERR_NOMEM, "out of memory");
    snprintf(m->what, sizeof m->what, "%s", what);
    snprintf(m->unit, sizeof m->unit, "%s", unit);
    m->value = value;
    return 0;
}

int qins_sweep_metrics(struct qins_sweep *s, struct qins_variant *v, const struct qins_named_metric *m, size_t n) {
    for (size_t i = 0; i < n; i++) QINS_TRY(qins_sweep_metric(s, v, m[i].what, m[i].value, m[i].unit));
    return 0;
}

int qins_sweep_record_as(struct qins_sweep *s, const struct qins_variant *v, const char *prefix) {
    QINS_TRY(qins_exp_write_quality(s->e, prefix, &v->q));
    const struct qins_variant_metric *m = v->metrics.data;
    for (size_t i = 0; i < v->metrics.n; i++) QINS_TRY(qins_sweep_metric_as(s, prefix, m[i].what, m[i].value, m[i].unit));
    return 0;
}

double qins_variant_get(const struct qins_variant *v, const char *what) {
    const struct qins_exp_quality *q = &v->q;
    const struct {
        const char *name;
        double value;
    } quality[] = {
        {"token_match", q->token_match},       {"first_divergence_mean", q->first_divergence_mean},
        {"top1_agreement", q->top1_agreement}, {"ppl", q->ppl},
        {"ppl_delta_pct", q->ppl_delta_pct},   {"kld_mean", q->kld_mean},
        {"kld_p99", q->kld_p99},               {"kld_max", q->kld_max},
        {"nonfinite_logits", q->nonfinite_logits}, {"nonfinite_gen_steps", q->nonfinite_gen_steps},
    };
    for (size_t i = 0; i < sizeof quality / sizeof *quality; i++)
        if (!strcmp(quality[i].name, what)) return quality[i].value;
    const struct qins_variant_metric *m = find_metric(v, what);
    return m ? m->value : NAN;
}

// ---- selection

int qins_sweep_best(const struct qins_sweep *s, const struct qins_best_rule *rule,
                    bool (*eligible)(const struct qins_variant *v, void *user), void *user) {
    int best = -1;
    const int passes = rule->require_zero ? (rule->fallback ? 2 : 1) : 1;
    for (int pass = 0; pass < passes && best < 0; pass++)
        for (size_t i = 0; i < s->n; i++) {
            const struct qins_variant *v = &s->v[i];
            const double key = qins_variant_get(v, rule->maximize);
            if (!v->evaluated || v->failed || isnan(key) || (eligible && !eligible(v, user))) continue;
            if (pass == 0 && rule->require_zero && !(qins_variant_get(v, rule->require_zero) == 0)) continue;
            if (best < 0) {
                best = (int)i;
                continue;
            }
            const struct qins_variant *b = &s->v[best];
            const double kb = qins_variant_get(b, rule->maximize);
            double tv = rule->tie_minimize ? qins_variant_get(v, rule->tie_minimize) : 0,
                   tb = rule->tie_minimize ? qins_variant_get(b, rule->tie_minimize) : 0;
            if (isnan(tv)) tv = INFINITY;
            if (isnan(tb)) tb = INFINITY;
            if (key > kb || (key == kb && tv < tb)) best = (int)i;
        }
    return best;
}

// ---- latency

struct latency_apply {
    struct qins_sweep *s;
    const int *idx; // (n_cfg - 1)
};

// Configuration c of qins_exp_latency: 0 = baseline, c >= 1 = variant idx[c - 1].
static int apply_config(void *user, int c) {
    struct latency_apply *a = user;
    struct qins_sweep *s = a->s;
    reset_model(s);
    if (c == 0) return 0;
    struct qins_variant *v = &s->v[a->idx[c - 1]];
    if (s->ops.activate) return s->ops.activate(s, v);
    return s->ops.install ? s->ops.install(s, v) : 0;
}

int qins_sweep_check_context(struct qins_sweep *s, const struct qins_variant *v, int n_pos, const char *key) {
    if (!v->has_kv) return 0;
    const struct qins_hparams *hp = &s->e->model->hp;
    struct qins_kv_store *store = NULL;
    const int level = qins_log_get_level();
    qins_log_set_level(QINS_LOG_ERROR - 1); // the store's own words go into the one line below
    const int st = qins_kv_store_create(&v->kv, hp->n_layer, n_pos, hp->n_head_kv * hp->head_dim, &store);
    qins_log_set_level(level);
    qins_kv_free(store);
    QINS_CHECK(st == 0, st,
               "variant %s: %s sets a context of %d tokens (with BOS), too short for its KV store (%s): raise %s, or "
               "give the variant fewer tokens per page (page=N in its --kv options)",
               v->name, key, n_pos, qins_last_error(), key);
    return 0;
}

int qins_sweep_latency(struct qins_sweep *s, const int *idx, size_t n, int n_gen, int reps, const char *sfx,
                       const char *ctx_key, double *median_s) {
    return qins_sweep_latency_as(s, idx, NULL, n, n_gen, reps, sfx, ctx_key, median_s);
}

// A variant that failed evaluation (its codec blew up: NaN quality) is not timed: activating it
// again would fail the same way and stop the whole run. Its latency metrics are recorded as NaN,
// so a gate that reads them fails with the variant's own reason in the record.
int qins_sweep_latency_as(struct qins_sweep *s, const int *idx, const char *const *names, size_t n, int n_gen, int reps,
                          const char *sfx, const char *ctx_key, double *median_s) {
    struct qins_exp *e = s->e;
    for (size_t k = 0; k < n; k++)
        if (!s->v[idx[k]].failed)
            QINS_TRY(qins_sweep_check_context(s, &s->v[idx[k]], n_gen + 1, ctx_key ? ctx_key : "the latency length"));
    int *live = calloc(n + 1, sizeof *live); // positions k of the timed variants
    size_t n_live = 0;
    for (size_t k = 0; live && k < n; k++)
        if (!s->v[idx[k]].failed) live[n_live++] = (int)k;
    const int n_cfg = (int)n_live + 1;
    const struct qins_kv_spec **kvs = calloc((size_t)n_cfg, sizeof *kvs);
    int *tidx = calloc(n + 1, sizeof *tidx);
    double *med = calloc((size_t)n_cfg, sizeof *med), *samples = calloc((size_t)n_cfg * (reps - 1), sizeof *samples);
    int st = live && kvs && tidx && med && samples ? 0 : QINS_ERR_NOMEM;
    for (size_t j = 0; st == 0 && j < n_live; j++) {
        tidx[j] = idx[live[j]];
        kvs[j + 1] = s->v[tidx[j]].has_kv ? &s->v[tidx[j]].kv : NULL;
    }
    struct latency_apply a = {s, tidx};
    const bool slots = s->ops.install || s->ops.activate;
    printf("latency: %d configurations x %d repetitions, %d tokens each", n_cfg, reps, n_gen);
    if (n_live < n) printf(" (%zu failed variant%s not timed)", n - n_live, n - n_live == 1 ? "" : "s");
    printf("\n");
    if (st == 0) st = qins_exp_latency(e, n_cfg, kvs, slots ? apply_config : NULL, &a, n_gen, reps, med, samples);
    reset_model(s);
    double *all = st == 0 ? malloc((n + 1) * sizeof *all) : NULL; // per position of idx, NaN when not timed
    if (st == 0 && !all) st = QINS_ERR_NOMEM;
    if (st == 0) {
        all[0] = med[0];
        for (size_t k = 0; k < n; k++) all[k + 1] = NAN;
        for (size_t j = 0; j < n_live; j++) all[live[j] + 1] = med[j + 1];
    }
    int j_live = 0;
    for (int c = 0; st == 0 && c <= (int)n; c++) {
        const char *alias = c > 0 && names ? names[c - 1] : NULL;
        const char *name = c == 0 ? "baseline" : alias ? alias : s->v[idx[c - 1]].name;
        const bool timed = c == 0 || !s->v[idx[c - 1]].failed;
        char what[96], path[192];
        const double over = 100.0 * (all[c] / all[0] - 1.0);
        snprintf(what, sizeof what, "latency_us_per_token%s%s", sfx ? "_" : "", sfx ? sfx : "");
        st = qins_sweep_metric_as(s, name, what, all[c] * 1e6, "us");
        if (st == 0 && timed) {
            const int row = c == 0 ? 0 : ++j_live;
            st = qins_format(path, sizeof path, "/latency/%s/%s%sper_token_s", name, sfx ? sfx : "", sfx ? "_" : "");
            if (st == 0) st = qins_run_array(e->run, path, QINS_DT_F64, samples + (size_t)row * (reps - 1), (size_t)reps - 1, 0);
        }
        if (st == 0 && c > 0) {
            struct qins_variant *v = &s->v[idx[c - 1]];
            snprintf(what, sizeof what, "overhead_pct%s%s", sfx ? "_" : "", sfx ? sfx : "");
            st = alias ? qins_sweep_metric_as(s, alias, what, over, "pct_time") : qins_sweep_metric(s, v, what, over, "pct_time");
            if (timed)
                printf("%-28s %.1f us/token vs FP32 %.1f us/token (%+.1f %%)%s%s\n", name, all[c] * 1e6, all[0] * 1e6, over,
                       sfx ? ", " : "", sfx ? sfx : "");
            else
                printf("%-28s not timed: it failed (%s)\n", name, v->failed_reason);
        }
    }
    if (st == 0 && median_s) memcpy(median_s, all, (n + 1) * sizeof *all);
    free(all), free(live), free(tidx), free(kvs), free(med), free(samples);
    return st;
}

int qins_sweep_check_lengths(struct qins_sweep *s, int main_len, const int64_t *lens, size_t n, const char *main_key,
                             const char *lens_key) {
    // a store that holds the shortest context holds every longer one: check that one, naming its key
    int shortest = s->e->ctx;
    const char *key = "[run] ctx";
    if (main_len + 1 < shortest) shortest = main_len + 1, key = main_key;
    for (size_t j = 0; j < n; j++)
        if (lens[j] + 1 < shortest) shortest = (int)lens[j] + 1, key = lens_key;
    for (size_t i = 0; i < s->n; i++) QINS_TRY(qins_sweep_check_context(s, &s->v[i], shortest, key));
    return 0;
}

int qins_sweep_latency_lengths(struct qins_sweep *s, int main_len, const int64_t *lens, size_t n_lens, int reps,
                               const char *main_key, const char *lens_key) {
    int64_t *order = malloc((n_lens + 1) * sizeof *order);
    int *idx = malloc((s->n + 1) * sizeof *idx);
    double *med = malloc((s->n + 1) * sizeof *med);
    int st = order && idx && med ? 0 : QINS_ERR_NOMEM;
    size_t n_order = 1;
    if (st == 0) order[0] = main_len;
    for (size_t i = 0; st == 0 && i < n_lens; i++)
        if (lens[i] != main_len) order[n_order++] = lens[i];
    if (st == 0) qsort(order + 1, n_order - 1, sizeof *order, qins_cmp_int64);
    for (size_t o = 0; o < n_order && st == 0; o++) {
        const int c = (int)order[o];
        size_t n = 0;
        for (size_t i = 0; i < s->n; i++)
            if (o == 0 || !(s->v[i].flags & QINS_VARIANT_SWEEP_POINT)) idx[n++] = (int)i;
        char sfx[32], what[64];
        snprintf(sfx, sizeof sfx, "ctx%d", c);
        st = qins_sweep_latency(s, idx, n, c, reps, o == 0 ? NULL : sfx, o == 0 ? main_key : lens_key, med);
        for (size_t k = 0; st == 0 && o == 0 && k <= n; k++) { // the main length also under its ctx name
            snprintf(what, sizeof what, "latency_us_per_token_%s", sfx);
            st = qins_sweep_metric_as(s, k ? s->v[idx[k - 1]].name : "baseline", what, med[k] * 1e6, "us");
            snprintf(what, sizeof what, "overhead_pct_%s", sfx);
            if (st == 0 && k)
                st = qins_sweep_metric(s, &s->v[idx[k - 1]], what, 100.0 * (med[k] / med[0] - 1.0), "pct_time");
        }
    }
    free(order), free(idx), free(med);
    return st;
}

int qins_sweep_record_names(struct qins_sweep *s, const char *path) {
    const char **names = malloc((s->n ? s->n : 1) * sizeof *names);
    QINS_CHECK(names, QINS_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < s->n; i++) names[i] = s->v[i].name;
    const int st = qins_run_strings(s->e->run, path, names, s->n);
    free(names);
    return st;
}

// ---- summary table

int qins_sweep_summary(struct qins_sweep *s, const char *title, const struct qins_sweep_column *cols, size_t n_cols) {
    char **lines = calloc(s->n + 1, sizeof *lines);
    QINS_CHECK(lines, QINS_ERR_NOMEM, "out of memory");
    int st = 0;
    for (size_t r = 0; r <= s->n && st == 0; r++) {
        char buf[1024];
        size_t len = (size_t)snprintf(buf, sizeof buf, "%-28s", r == 0 ? "variant" : s->v[r - 1].name);
        for (size_t c = 0; c < n_cols && len < sizeof buf; c++) {
            char cell[64];
            if (r == 0) {
                int w = atoi(cols[c].fmt + 1 + (cols[c].fmt[1] == '+' || cols[c].fmt[1] == '-'));
                snprintf(cell, sizeof cell, " %*s", w > 0 ? w : 12, cols[c].header);
            } else {
                cell[0] = ' ';
                snprintf(cell + 1, sizeof cell - 1, cols[c].fmt, qins_variant_get(&s->v[r - 1], cols[c].what));
            }
            len += (size_t)snprintf(buf + len, sizeof buf - len, "%s", cell);
        }
        if (r > 0 && s->v[r - 1].failed && len < sizeof buf) snprintf(buf + len, sizeof buf - len, "  FAILED");
        lines[r] = strdup(buf);
        if (!lines[r]) st = QINS_ERR_NOMEM;
    }
    if (st == 0) st = qins_sweep_text_table(s->e, "/summary/table", title, (const char *const *)lines, s->n + 1);
    for (size_t r = 0; r <= s->n; r++) free(lines[r]);
    free(lines);
    return st;
}

int qins_sweep_text_table(struct qins_exp *e, const char *path, const char *title, const char *const *lines, size_t n) {
    printf("\n%s\n", title);
    for (size_t r = 0; r < n; r++) printf("%s\n", lines[r]);
    QINS_TRY(qins_run_strings(e->run, path, lines, n));
    return qins_run_attr_str(e->run, path, "title", title);
}

// ---- plot series

int qins_series_init(struct qins_series *ps, size_t n) {
    memset(ps, 0, sizeof *ps);
    ps->n = n;
    ps->x = calloc(n ? n : 1, sizeof *ps->x);
    QINS_CHECK(ps->x, QINS_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) ps->x[i] = (double)i;
    return 0;
}

double *qins_series_add(struct qins_series *ps, const char *name) {
    if (qins_grow(&ps->names, &ps->cap, ps->n_series + 1, sizeof *ps->names) < 0 ||
        qins_grow(&ps->y, &ps->y_cap, (ps->n_series + 1) * (ps->n ? ps->n : 1), sizeof *ps->y) < 0)
        return NULL;
    // a copy: callers build names in loop-local buffers (two ASan finds before this)
    char *copy = strdup(name ? name : "");
    if (!copy) return NULL;
    double *row = ps->y + ps->n_series * ps->n;
    for (size_t i = 0; i < ps->n; i++) row[i] = NAN;
    ps->names[ps->n_series++] = copy;
    return row;
}

void qins_series_free(struct qins_series *ps) {
    for (size_t i = 0; i < ps->n_series; i++) free((void *)ps->names[i]);
    free(ps->x), free(ps->y), free(ps->names);
    memset(ps, 0, sizeof *ps);
}

int qins_series_plot(struct qins_series *ps, qins_run_t *run, struct qins_plot p) {
    int st = 0;
    if (ps->n_series > 0 && ps->n > 0) {
        p.n = ps->n, p.n_series = ps->n_series, p.y = ps->y, p.series = ps->names;
        if (!p.xlabels) p.x = ps->x;
        st = qins_run_plot(run, &p);
    }
    qins_series_free(ps);
    return st;
}

int qins_sweep_plot_xy(struct qins_sweep *s, struct qins_plot p, const char *xwhat, const char *ywhat,
                       const char *const *group_names, int n_groups, bool positive_y) {
    struct qins_series ps;
    QINS_TRY(qins_series_init(&ps, s->n));
    // one series per group present, in group order (an all-NaN series breaks gnuplot); rows are
    // indices, since adding a series may move ps.y
    int row_of[64];
    for (int g = 0; g < 64; g++) row_of[g] = -1;
    for (int g = 0; g < n_groups && g < 64; g++)
        for (size_t i = 0; i < s->n && row_of[g] < 0; i++)
            if (s->v[i].group == g) {
                if (!qins_series_add(&ps, group_names[g])) {
                    qins_series_free(&ps);
                    return QINS_ERR_NOMEM;
                }
                row_of[g] = (int)ps.n_series - 1;
            }
    for (size_t i = 0; i < s->n; i++) {
        const int g = s->v[i].group;
        const double y = qins_variant_get(&s->v[i], ywhat);
        ps.x[i] = qins_variant_get(&s->v[i], xwhat);
        if (g >= 0 && g < n_groups && g < 64 && row_of[g] >= 0)
            ps.y[(size_t)row_of[g] * ps.n + i] = positive_y && !(y > 0) ? NAN : y;
    }
    return qins_series_plot(&ps, s->e->run, p);
}

int qins_sweep_plot_per_variant(struct qins_sweep *s, struct qins_plot p, size_t n, const double *x,
                                double (*get)(const struct qins_variant *v, size_t i, void *user), void *user) {
    struct qins_series ps;
    QINS_TRY(qins_series_init(&ps, n));
    if (x) memcpy(ps.x, x, n * sizeof *x);
    for (size_t k = 0; k < s->n; k++) {
        if (s->v[k].flags & QINS_VARIANT_SWEEP_POINT) continue;
        double *row = qins_series_add(&ps, s->v[k].name);
        if (!row) {
            qins_series_free(&ps);
            return QINS_ERR_NOMEM;
        }
        for (size_t i = 0; i < n; i++) row[i] = get(&s->v[k], i, user);
    }
    return qins_series_plot(&ps, s->e->run, p);
}

struct key_ctx {
    struct qins_sweep *s;
    const char *name;
};
static int add_key(const char *what, size_t i, void *user) {
    struct key_ctx *k = user;
    (void)i;
    return qins_exp_key(k->s->e, "%s/%s", k->name, what);
}

int qins_sweep_keys(struct qins_sweep *s, const char *whats, bool with_sweep_points) {
    for (size_t i = 0; i < s->n; i++) {
        if (!with_sweep_points && (s->v[i].flags & QINS_VARIANT_SWEEP_POINT)) continue;
        struct key_ctx k = {s, s->v[i].name};
        QINS_TRY(qins_split_list(whats, add_key, &k, NULL));
    }
    return 0;
}

int qins_sweep_plot_param(struct qins_sweep *s, struct qins_plot p, const char *what, const char *const *series_names,
                          size_t n_series) {
    double *x = malloc((s->n ? s->n : 1) * sizeof *x);
    QINS_CHECK(x, QINS_ERR_NOMEM, "out of memory");
    size_t nx = 0;
    for (size_t i = 0; i < s->n; i++) {
        bool seen = s->v[i].series < 0;
        for (size_t j = 0; j < nx && !seen; j++) seen = x[j] == s->v[i].param;
        if (!seen) x[nx++] = s->v[i].param;
    }
    qsort(x, nx, sizeof *x, qins_cmp_double);
    struct qins_series ps;
    int st = qins_series_init(&ps, nx);
    if (st == 0) memcpy(ps.x, x, nx * sizeof *x);
    for (size_t c = 0; st == 0 && c < n_series; c++) {
        double *y = qins_series_add(&ps, series_names[c]);
        if (!y) st = QINS_ERR_NOMEM;
        for (size_t i = 0; st == 0 && i < s->n; i++)
            for (size_t j = 0; s->v[i].series == (int)c && j < nx; j++)
                if (x[j] == s->v[i].param) y[j] = qins_variant_get(&s->v[i], what);
    }
    free(x);
    if (st < 0) {
        qins_series_free(&ps);
        return st;
    }
    return qins_series_plot(&ps, s->e->run, p);
}
