// core/calib.h — calibration capture: per-channel statistics (FP64) and sampled raw rows of the
// v_proj input (QINS_SITE_ATTN_IN) and optionally output (QINS_SITE_V), fed by a model observer
// or directly from arrays. Owns: the accumulators, reservoirs and row samples it allocates.
// Does not own: the model or the forward passes (the caller runs qins_forward). Errors: negative
// qins_status from init/finish; the observer itself cannot fail (non-finite rows are counted, skipped).
#pragma once
#include <stdbool.h>
#include <stdint.h>

#include "common.h"
#include "model.h"
#include "results.h"

// Statistics of one (layer, site): dim channels. Rows arrive in two splits: "fit" rows feed the
// statistics and the fit sample; "held-out" rows only feed their own sample (never the stats),
// so a transport fitted on one split can be judged on the other.
struct qins_calib_stats {
    int dim;
    int64_t n;                  // fit rows accumulated (statistics are over these)
    int64_t n_seen_heldout;     // held-out rows seen
    int64_t n_nonfinite;        // rows skipped because they held NaN/Inf
    double *sum, *sum_abs, *sum_sq, *absmax; // (dim) FP64 accumulators over fit rows
    // Per-channel sample for the median: reservoir (algorithm R) of up to res_cap values per
    // channel; it holds every value while n <= res_cap, so the median is then exact.
    int res_cap;
    float *reservoir;           // (dim, res_cap)
    // Row samples: reservoirs of whole rows (uniform over the rows seen, deterministic seed).
    int64_t max_rows, n_rows;   // fit rows kept (n_rows <= max_rows)
    float *rows;                // (max_rows, dim)
    int64_t max_heldout, n_heldout;
    float *heldout;             // (max_heldout, dim)
    uint64_t rng;
    // Filled by qins_calib_stats_finish (NULL before):
    double *mean, *mean_abs, *rms, *median; // (dim)
};

// Allocates empty statistics. res_cap >= 1; max_rows, max_heldout >= 0. Returns 0 or < 0.
int qins_calib_stats_init(struct qins_calib_stats *st, int dim, int res_cap, int64_t max_rows, int64_t max_heldout,
                          uint64_t seed);
// Adds n rows x (n, dim) to the fit split (heldout false) or the held-out split. Rows holding a
// non-finite value are skipped and counted. Returns nothing.
void qins_calib_stats_add(struct qins_calib_stats *st, const float *x, int64_t n, bool heldout);
// Computes mean, mean |x|, RMS and median per channel from the fit split. Returns 0, or
// QINS_ERR_STATE when no fit row was seen, QINS_ERR_NOMEM.
int qins_calib_stats_finish(struct qins_calib_stats *st);
// Frees everything (NULL-safe, idempotent). Returns nothing.
void qins_calib_stats_free(struct qins_calib_stats *st);

struct qins_calib_opts {
    int64_t max_rows;     // fit rows kept per (layer, site) for the least-squares fit (default 4096)
    int64_t max_heldout;  // held-out rows kept (default 1024)
    int reservoir;        // per-channel median sample (default 4096)
    bool capture_v;       // also capture QINS_SITE_V (the FP32 v_proj output; default true)
    uint64_t seed;        // reservoir seed (default 0x51c0ffee)
    enum qins_site in_site;  // the slot's input site (default QINS_SITE_ATTN_IN: v_proj's)
    enum qins_site out_site; // its output site, captured when capture_v (default QINS_SITE_V)
};

struct qins_calib {
    int n_layer;
    uint64_t layer_mask;        // bit l = capture layer l (layers >= 64 cannot be selected)
    bool heldout;               // split the observer currently feeds
    struct qins_calib_stats *in; // (n_layer) ATTN_IN stats; dim 0 when the layer is not captured
    struct qins_calib_stats *v;  // (n_layer) V stats when capture_v, else NULL; row k of v[l]
                                 // is the same token as row k of in[l] (same seed, same draws)
    int n_unexpected;           // observer calls whose dimension did not match (ignored)
    enum qins_site in_site, out_site; // what in and v hold (opts; ATTN_IN and V by default)
};

// Fills the defaults above. Returns nothing.
void qins_calib_opts_default(struct qins_calib_opts *o);
// Prepares capture for the layers in layer_mask of model m (opts NULL = defaults). Returns 0 or < 0.
int qins_calib_init(struct qins_calib *c, const struct qins_model *m, uint64_t layer_mask,
                    const struct qins_calib_opts *opts);
// The observer (qins_observer_fn): user is the struct qins_calib. Returns nothing.
void qins_calib_observe(void *user, int layer, enum qins_site site, const float *x, int n_tok, int dim);
// Registers qins_calib_observe on m. Returns 0 or QINS_ERR_RANGE (observer table full).
int qins_calib_attach(struct qins_calib *c, struct qins_model *m);
// Routes the rows observed from now on to the held-out split (true) or the fit split. Returns nothing.
void qins_calib_set_heldout(struct qins_calib *c, bool heldout);
// Finishes every captured layer's statistics. Returns 0 or < 0 (a layer saw no fit row).
int qins_calib_finish(struct qins_calib *c);
// Returns the statistics of (layer, site) for the capture's in_site or out_site (ATTN_IN, V by
// default), or NULL when not captured.
const struct qins_calib_stats *qins_calib_get(const struct qins_calib *c, int layer, enum qins_site site);
// Frees the capture (NULL-safe). Returns nothing.
void qins_calib_free(struct qins_calib *c);

// Runs windows first .. first + n_win - 1 of ctx tokens of ids (n_ids tokens; window w starts at
// w * ctx, its first token replaced by bos when bos >= 0, as perplexity does) through m with a
// fresh FP32 cache, so that m's observers (e.g. a capture) see them. Returns 0, QINS_ERR_ARG
// when the windows do not fit in ids, or a forward-pass error.
int qins_calib_run_windows(struct qins_model *m, const int32_t *ids, int64_t n_ids, int ctx, int64_t first,
                           int64_t n_win, int bos);

// Returns the width of site in a layer of hp (n_embd, n_ff, heads x head_dim), 0 for LOGITS.
int qins_site_dim(const struct qins_hparams *hp, enum qins_site site);

// ---- fit and held-out windows of an experiment's [run] calib_slice
struct qins_exp;
struct qins_calib_text {
    int32_t *ids;               // (n_ids) calib_slice tokenized, BOS first
    int64_t n_ids;
    int ctx, bos;               // window length (e->ctx); BOS replaces each window's first token
    int fit_win, held_win;      // windows [0, fit_win) are fitted on, the next held_win held out
    char spec[64];              // the calib_slice as configured
};
// Tokenizes e's calib_slice and splits it into ceil(fit_tokens / ctx) fit windows followed by
// ceil(held_tokens / ctx) held-out windows. keys names the config keys that set the counts (for
// the message when the slice is too short). Returns 0 or QINS_ERR_ARG naming calib_slice.
int qins_calib_text_init(struct qins_calib_text *t, const struct qins_exp *e, int64_t fit_tokens,
                         int64_t held_tokens, const char *keys);
// Prints the split and records it as attributes of group (calib_slice, calib_fit_tokens,
// calib_heldout_tokens, heldout_source). Returns 0 or < 0.
int qins_calib_text_record(const struct qins_calib_text *t, qins_run_t *run, const char *group);
void qins_calib_text_free(struct qins_calib_text *t);
// Captures o->in_site / o->out_site of the layers in layer_mask of m: the fit windows into the
// fit split, the held-out windows into the held-out split, then finishes the statistics
// (o NULL = defaults; max_rows / max_heldout are set to every row of the windows). Returns 0 or < 0.
int qins_calib_capture(struct qins_calib *c, struct qins_model *m, const struct qins_calib_text *t,
                       uint64_t layer_mask, const struct qins_calib_opts *o);
// Captures the held-out windows only, with m as it is now, rows kept in order (no statistics:
// a reference to compare a modified model against). Returns 0 or < 0.
int qins_calib_capture_heldout(struct qins_calib *c, struct qins_model *m, const struct qins_calib_text *t,
                               uint64_t layer_mask, const struct qins_calib_opts *o);
