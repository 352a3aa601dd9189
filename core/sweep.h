// core/sweep.h — the phase runner's variant table: variants (name, KV store, slot set-up by the
// phase), evaluation of each against the baseline, failures recorded as NaN quality with their
// reason, per-variant metrics kept by name (so selection rules, tables and key metrics are
// data), best-by-rule selection, interleaved latency with raw samples, the summary table and
// plot series. Owns: the variants and their recorded figures. Does not own: what a variant
// installs (the phase's ops). Errors: negative qins_status with a log line.
//
// A phase main reads:
//   qins_sweep_init(&s, &e, &ops)            ops.install/measure/record/reset are the phase's
//   qins_sweep_add(&s, "qins8", "qins8:alpha=2", 0) ...
//   qins_sweep_baseline(&s); qins_sweep_evaluate(&s, 0, s.n);
//   qins_sweep_best(&s, &rule, eligible, user) → index;  qins_sweep_latency(&s, idx, n, ...)
//   qins_sweep_summary(&s, columns);  qins_exp_key(&e, "%s/token_match", name);  commit
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "experiment.h"
#include "kv_paged.h"
#include "util.h"

#define QINS_VARIANT_NAME 64

// Flags of a variant (the phase's own meaning for group and data).
enum {
    QINS_VARIANT_SWEEP_POINT = 1, // a point of a parameter sweep: left out of per-variant plots
};

struct qins_variant_metric {
    char what[48];
    char unit[24];                // as recorded, so record_as writes the same unit again
    double value;
};

struct qins_variant {
    char name[QINS_VARIANT_NAME]; // metric prefix, [A-Za-z0-9_.+-]
    bool has_kv;                  // evaluated with kv (else the plain FP32 cache)
    struct qins_kv_spec kv;
    unsigned flags;
    int group, bits;              // the phase's classification (scope, codec family, k)
    int series;                   // a parameter sweep's series (-1: not in one) ...
    double param;                 // ... and its parameter value there (alpha, …)
    void *data;                   // the phase's per-variant state (the phase frees it)
    // results
    bool evaluated, failed;
    int failed_status;            // the status that made it fail (QINS_ERR_NUMERIC, …)
    char failed_reason[160];
    struct qins_exp_quality q;    // NaN when failed before it was measured
    int32_t *first_div;           // (n_prompts) first differing greedy token per prompt
    struct qins_vec metrics;      // struct qins_variant_metric: every <name>/<what> recorded
};

struct qins_sweep;
struct qins_sweep_ops {
    // Installs v on the model before it is evaluated (slot implementations, transports);
    // NULL: nothing to install. A QINS_ERR_NUMERIC/RANGE result fails the variant, not the run.
    int (*install)(struct qins_sweep *s, struct qins_variant *v);
    // After evaluate + quality, model still installed: phase-specific figures. NULL: none.
    int (*measure)(struct qins_sweep *s, struct qins_variant *v);
    // Always called once the outcome is known (failed or not): the phase's own records.
    int (*record)(struct qins_sweep *s, struct qins_variant *v);
    // Installs v for a latency run (called before each timed run; NULL: install).
    int (*activate)(struct qins_sweep *s, struct qins_variant *v);
    // Removes whatever install/activate put on the model. NULL: qins_model_reset_slots.
    void (*reset)(struct qins_sweep *s);
    void *user;
};

struct qins_sweep {
    struct qins_exp *e;
    struct qins_sweep_ops ops;
    struct qins_variant *v;       // (n) in table order
    size_t n, cap;
    struct qins_exp_eval base;    // the baseline's evaluation (after qins_sweep_baseline)
    bool have_base;
};

// Starts an empty table over e's model and run. Returns 0.
int qins_sweep_init(struct qins_sweep *s, struct qins_exp *e, const struct qins_sweep_ops *ops);
// Frees the variants (not their data) and the baseline evaluation. NULL-safe.
void qins_sweep_free(struct qins_sweep *s);
// Appends a variant. kv_text: a --kv spec (NULL = FP32 cache). Names must be unique and not
// "baseline" (error naming the variant). Returns the variant (valid until the next add) or NULL.
struct qins_variant *qins_sweep_add(struct qins_sweep *s, const char *name, const char *kv_text, unsigned flags);
// Appends a KV variant from a --kv item: bare fp16/fp32 are the plain stores; any other item
// gets `options` first, then its own options, then extra (may be NULL). name NULL: derived from
// the item, metric-safe ("qins8:gran=page" → "qins8_granpage"). Returns the variant or NULL.
struct qins_variant *qins_sweep_add_kv(struct qins_sweep *s, const char *item, const char *name, const char *options,
                                       const char *extra, unsigned flags);
// Returns the index of the variant called name, or -1.
int qins_sweep_find(const struct qins_sweep *s, const char *name);

// Evaluates the baseline (FP32 slots as the model is, FP32 cache). Returns 0 or < 0.
int qins_sweep_baseline(struct qins_sweep *s);
// Evaluates variants [from, to): install → evaluate → quality (recorded) → measure → record →
// reset. A variant that blows up (QINS_ERR_NUMERIC, QINS_ERR_RANGE: a codec refused NaN/Inf, a
// fit failed) is recorded with <name>/failed = 1, NaN quality and the reason; other errors stop.
int qins_sweep_evaluate(struct qins_sweep *s, size_t from, size_t to);

// Records <v->name>/<what> and keeps it on the variant for rules and tables. Returns 0 or < 0.
int qins_sweep_metric(struct qins_sweep *s, struct qins_variant *v, const char *what, double value, const char *unit);
// A metric by name, for tables of figures a module computes and a phase records.
struct qins_named_metric {
    const char *what;
    double value;
    const char *unit;
};
// Records every metric of m (n) on v with qins_sweep_metric. Returns 0 or < 0.
int qins_sweep_metrics(struct qins_sweep *s, struct qins_variant *v, const struct qins_named_metric *m, size_t n);
// Records the same metric under another prefix (e.g. best_full/…); not kept. Returns 0 or < 0.
int qins_sweep_metric_as(struct qins_sweep *s, const char *prefix, const char *what, double value, const char *unit);
// Records every metric of v again under prefix (best_layer0/token_match, …). Returns 0 or < 0.
int qins_sweep_record_as(struct qins_sweep *s, const struct qins_variant *v, const char *prefix);
// The value of a metric kept on v (quality metrics included), or NaN when absent.
double qins_variant_get(const struct qins_variant *v, const char *what);

// A selection rule as data (recorded verbatim with the chosen variant): among eligible variants
// that completed, those whose `require_zero` metric is 0 (when set); the highest `maximize`,
// ties by the lower `tie_minimize` (NaN counts as +Inf), then table order; when none passes
// require_zero and `fallback` is set, the same without it.
struct qins_best_rule {
    const char *text;
    const char *maximize, *tie_minimize, *require_zero;
    bool fallback;
};
// Returns the index of the best variant among those for which eligible(v, user) is true
// (NULL = all), or -1 when none completed.
int qins_sweep_best(const struct qins_sweep *s, const struct qins_best_rule *rule,
                    bool (*eligible)(const struct qins_variant *v, void *user), void *user);

// Interleaved latency: the baseline (idx -1) and the variants idx[0..n) in turn, each
// repetition generating n_gen tokens after BOS (first repetition a warm-up). Records, with sfx
// NULL: <name>/latency_us_per_token, <name>/overhead_pct (variants) and the raw per-repetition
// means at /latency/<name>/per_token_s; with sfx (e.g. "ctx64"): <name>/latency_us_per_token_<sfx>,
// <name>/overhead_pct_<sfx> and /latency/<name>/<sfx>_per_token_s. A context too short for a
// variant's KV pages fails naming ctx_key, the config key that set n_gen. median_s (may be NULL)
// receives the medians in seconds per token (n + 1: the baseline first). Returns 0 or < 0.
int qins_sweep_latency(struct qins_sweep *s, const int *idx, size_t n, int n_gen, int reps, const char *sfx,
                       const char *ctx_key, double *median_s);
// qins_sweep_latency with the metrics of variant idx[k] recorded under names[k] instead of its
// name when names[k] is not NULL (e.g. best_full/latency_us_per_token; not kept on the variant).
int qins_sweep_latency_as(struct qins_sweep *s, const int *idx, const char *const *names, size_t n, int n_gen, int reps,
                          const char *sfx, const char *ctx_key, double *median_s);

// Records the variants' names in table order as a string array at path. Returns 0 or < 0.
int qins_sweep_record_names(struct qins_sweep *s, const char *path);

// Latency at several generated lengths: main_len over every variant (recorded as by
// qins_sweep_latency with sfx NULL, and again as <name>/…_ctx<main_len>), then each other length
// of lens (n, sorted) over the variants that are not sweep points (sfx "ctx<len>"). The keys
// name the config keys of main_len and lens for context errors. Returns 0 or < 0.
int qins_sweep_latency_lengths(struct qins_sweep *s, int main_len, const int64_t *lens, size_t n, int reps,
                               const char *main_key, const char *lens_key);
// Checks before any evaluation that every variant's KV store holds a context of each length
// (main_len and lens, + BOS) and of [run] ctx, naming the key that set a length too short.
// Returns 0 or < 0.
int qins_sweep_check_lengths(struct qins_sweep *s, int main_len, const int64_t *lens, size_t n, const char *main_key,
                             const char *lens_key);
// Checks that v's KV store can hold a context of n_pos positions; when it cannot (pages longer
// than the context), the error names `key`, the config key that set that context, and what to
// change. Returns 0 or < 0.
int qins_sweep_check_context(struct qins_sweep *s, const struct qins_variant *v, int n_pos, const char *key);

// One column of the summary table: a kept metric printed with fmt (e.g. "%12.4f").
struct qins_sweep_column {
    const char *header, *what, *fmt;
};
// Prints the table (one row per variant, failed ones marked) and records its lines at
// /summary/table. Returns 0 or < 0.
int qins_sweep_summary(struct qins_sweep *s, const char *title, const struct qins_sweep_column *cols, size_t n_cols);

// Prints a text table (title, then lines) and records its lines at path (under /summary, which
// `qins report` shows) with attribute title. Returns 0 or < 0.
int qins_sweep_text_table(struct qins_exp *e, const char *path, const char *title, const char *const *lines, size_t n);

// Plot series built without hand-written buffers: n points, series added one at a time, each
// row NaN-filled (gnuplot leaves NaN out), recorded and freed by qins_series_plot.
struct qins_series {
    size_t n, n_series, cap, y_cap; // cap: names, y_cap: doubles in y
    double *x;                    // (n)
    double *y;                    // (n_series, n)
    const char **names;           // (n_series) copies, owned (freed by qins_series_free)
};
// Returns 0 or QINS_ERR_NOMEM.
int qins_series_init(struct qins_series *ps, size_t n);
// Adds a series (its name copied) and returns its row (n values, NaN; valid until the next add: rows move) or NULL
// when out of memory.
double *qins_series_add(struct qins_series *ps, const char *name);
// Records plot p with ps's x, y and names (p's n, x, y, n_series, series are filled in), then
// frees ps. A plot with no series is skipped. Returns 0 or < 0.
int qins_series_plot(struct qins_series *ps, qins_run_t *run, struct qins_plot p);
void qins_series_free(struct qins_series *ps);

// Adds "<name>/<what>" to the key metrics for each what of whats (comma-separated) and each
// variant (sweep points too when with_sweep_points). Returns 0 or < 0.
int qins_sweep_keys(struct qins_sweep *s, const char *whats, bool with_sweep_points);

// A metric against a swept parameter: one series per name in series_names (n_series), x = the
// distinct param values of the variants in a series (sorted), y = what of the variant at
// (series, param), NaN where none. Returns 0 or < 0.
int qins_sweep_plot_param(struct qins_sweep *s, struct qins_plot p, const char *what, const char *const *series_names,
                          size_t n_series);
// Plots over the table. xy: one series per group (group_names[v->group]) present, one point per
// variant at (xwhat, ywhat); positive_y drops y <= 0 (log axes). per_variant: one series per
// variant that is not a sweep point, y[i] = get(v, i, user) for i < n at x (NULL = 0..n-1).
// p's kind, title and labels are used; its data fields are filled in. Return 0 or < 0.
int qins_sweep_plot_xy(struct qins_sweep *s, struct qins_plot p, const char *xwhat, const char *ywhat,
                       const char *const *group_names, int n_groups, bool positive_y);
int qins_sweep_plot_per_variant(struct qins_sweep *s, struct qins_plot p, size_t n, const double *x,
                                double (*get)(const struct qins_variant *v, size_t i, void *user), void *user);
