// core/experiment.h — what every phase binary shares: config → model, tokenizer, eval text,
// prompts → one run file; baseline and variant evaluations (greedy generation per prompt,
// teacher-forced perplexity with log-probs); the quality metrics between them; interleaved
// latency. Owns: the experiment's loaded inputs and its open run. Does not own: what a phase
// varies (KV stores, slot implementations). Errors: negative qins_status with a log line.
//
// A phase reads: qins_exp_open → (baseline) qins_exp_evaluate → per variant: set up, evaluate,
// qins_exp_record_quality, … → qins_exp_latency → qins_exp_commit (or qins_exp_close on error).
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "dataset.h"
#include "eval.h"
#include "kv_paged.h"
#include "model.h"
#include "results.h"
#include "tokenizer.h"

// Keys every phase shares, in section [run] (always part of a config):
//   model        stories260K.gguf   GGUF model; bare names: paths.h lookup order (MODEL)
//   eval_text    tinystories_train_sample_2MiB.txt   evaluation text (paths.h, DATA)
//   eval_slice   stories:0-1000     bytes:A-B or stories:A-B of eval_text used for PPL and prompts
//   calib_slice  stories:1000-1200  calibration part; must not overlap eval_slice ("none" = no calibration)
//   eval_chunks  0                  perplexity windows scored from the slice start (0 = all)
//   ctx          256                context length in tokens (perplexity window, generation limit)
//   threads      0                  CPU threads (0 = all online CPUs; the run records the number used)
//   prompts      experiments/prompts-tinystories.csv   CSV id,prompt,max_tokens, or derive:N
//   prompt_words 6                  words per derived prompt (derive:N)
//   tokens       128                greedy tokens per prompt for token_match (plan: >= 100)
//   seed         1234               RNG seed (sampling, random weights, subsampling)
//   tag          ""                 label that gates.txt uses to pick this run (e.g. full, single-layer)
//   note         ""                 free text, recorded
extern const struct qins_cfg_key qins_exp_run_keys[];
// Optional shared table, section [codec]: codec, bits, alpha, granularity, group_size, scale,
// page_size (see experiment.c or `qins config --doc` for defaults and ranges).
extern const struct qins_cfg_key qins_exp_codec_keys[];

// Item checks for LIST keys of phase tables (qins_cfg_key.item_check): one KV store spec
// (core/kv_paged.h, e.g. qins8, int8:page) / one codec spec (core/codec.h, e.g. qins8, fp16).
// Return 0 if the item parses, else -1 with the parser's reason in why.
int qins_check_kv_spec_item(const char *item, char *why, size_t cap);
int qins_check_codec_item(const char *item, char *why, size_t cap);
// A KV store spec or "none" (a STRING key that may switch the KV combination off).
int qins_check_kv_spec_or_none(const char *value, char *why, size_t cap);
// A scale granularity (core/codec.h: tensor, row, column, group<G>).
int qins_check_granularity_item(const char *item, char *why, size_t cap);
// A QINS codec only (qins<k>, k = 2..12): for alpha sweeps.
int qins_check_qins_codec_item(const char *item, char *why, size_t cap);
// KV options without a codec ("alpha=2:gran=token:page=16", "" allowed): checked as qins8:<value>.
int qins_check_kv_options(const char *value, char *why, size_t cap);

struct qins_exp {
    int phase;
    struct qins_phase_args args;
    char default_config[1200];   // experiments/phase<N>.ini when no --config was given
    qins_config_t *cfg;
    char model_path[1024];
    struct qins_model *model;    // loaded once; phases install slot implementations on it
    struct qins_tokenizer *tok;
    struct qins_dataset data;
    struct qins_prompt_set prompts;
    int32_t **prompt_ids;        // (n_prompts) tokenized prompts, BOS first
    int *n_prompt_ids;
    int32_t *eval_ids;           // the eval slice tokenized, BOS first
    int64_t n_eval;
    int ctx, eval_chunks, threads;
    qins_run_t *run;
    bool baseline_recorded;
    double t_start;
    char *keys;                  // the key metrics (CSV) qins_exp_key collected; written at commit
    size_t keys_len, keys_cap;
};

// Parses argv (see qins_phase_args in config.h) and the config with qins_exp_run_keys followed
// by the phase's key tables (no --config: experiments/phase<N>.ini from the source tree when it exists),
// checks the previous gate (refusing unless --force), loads everything and begins the run file.
// Returns 0; 1 when --help-config printed the keys (the caller exits 0); < 0 on error.
int qins_exp_open(struct qins_exp *e, int phase, int argc, char **argv, const struct qins_cfg_key *const *tables);
// Records the metric named by fmt (e.g. "%s/kv_bytes", name). Returns 0 or < 0.
int qins_exp_metricf(struct qins_exp *e, double value, const char *unit, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
// Adds the metric named by fmt to the run's key metrics (what `qins report` shows first; in the
// order added, written at commit). Returns 0 or < 0.
int qins_exp_key(struct qins_exp *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
// Resolves the config's [run] model (paths.h, MODEL) into out: the file qins_exp_open loads.
// Returns QINS_OK or < 0 (not found: one line naming every place tried).
int qins_exp_model_path(const qins_config_t *cfg, char *out, size_t cap);
// Commits the run file (prints its path). Frees everything. Returns 0 or < 0.
int qins_exp_commit(struct qins_exp *e);
// Aborts the run (no file left behind) and frees everything. NULL-safe pieces.
void qins_exp_close(struct qins_exp *e);

// One evaluated configuration (baseline or variant).
struct qins_exp_eval {
    char name[64];
    int n_prompts, n_tokens;     // n_tokens = the longest prompt's max_tokens
    int32_t *gen;                // (n_prompts, n_tokens) greedy ids, -1 past a prompt's max_tokens
    struct qins_ppl_result ppl;  // with log-probs
    int64_t gen_nonfinite;       // generation steps whose logits held NaN/Inf (argmax skips NaN)
    size_t kv_bytes_full;        // KV store bytes after the longest generation (prompt + tokens)
    int kv_positions_full;       // positions held at that point
    double seconds;
};

// The longest context an evaluation holds: [run] ctx, or the longest prompt + its tokens.
int qins_exp_longest_context(const struct qins_exp *e);
// Runs greedy generation for every prompt and perplexity over eval_chunks windows with model m
// (its slots as the caller set them) and a KV store made from kv (NULL = plain FP32).
int qins_exp_evaluate(struct qins_exp *e, struct qins_model *m, const struct qins_kv_spec *kv, const char *name,
                      struct qins_exp_eval *out);
void qins_exp_eval_free(struct qins_exp_eval *ev);
// Records base's arrays once ("baseline") and var's quality metrics against base:
// <var>/token_match, first_divergence_mean, top1_agreement, ppl, ppl_delta_pct, kld_mean,
// kld_p99, kld_max, nonfinite_logits, nonfinite_gen_steps, and /generation/<var>/*,
// /perplexity/<var>/nll. Returns 0 or < 0.
int qins_exp_record_quality(struct qins_exp *e, const struct qins_exp_eval *base, const struct qins_exp_eval *var);

// The quality metrics of one variant against the baseline (what record_quality writes).
struct qins_exp_quality {
    double token_match, first_divergence_mean, top1_agreement, ppl, ppl_delta_pct;
    double kld_mean, kld_p99, kld_max;
    double nonfinite_logits, nonfinite_gen_steps; // counts (as doubles, the metric type)
};
// Computes var's quality against base and records it like qins_exp_record_quality; q receives
// the figures. Returns 0 or < 0.
// first_div (may be NULL) receives each prompt's first differing token (n_prompts).
int qins_exp_record_quality_ex(struct qins_exp *e, const struct qins_exp_eval *base, const struct qins_exp_eval *var,
                               struct qins_exp_quality *q, int32_t *first_div);
// Writes q's metrics as <name>/token_match, … (the names record_quality uses). Returns 0 or < 0.
int qins_exp_write_quality(struct qins_exp *e, const char *name, const struct qins_exp_quality *q);
// A variant that could not be evaluated (it blew up: a codec refused NaN/Inf, a fit failed):
// every quality figure NaN. Returns nothing.
void qins_exp_quality_nan(struct qins_exp_quality *q);

// Installs configuration i (0 = baseline) on the experiment's model, e.g. slot implementations.
typedef int (*qins_exp_apply_fn)(void *user, int i);

// Per-token decode latency, baseline (configuration 0) and variants interleaved in the same
// process: each repetition generates n_gen tokens after BOS with every configuration in turn
// (apply(user, i) when apply is not NULL, and a KV store made from kvs[i], NULL = FP32); the
// first repetition is a warm-up. Writes medians (seconds per token) into median_s (n_cfg) and,
// if samples is not NULL, each repetition's mean per-token time into samples (n_cfg, reps - 1).
int qins_exp_latency(struct qins_exp *e, int n_cfg, const struct qins_kv_spec *const *kvs, qins_exp_apply_fn apply,
                     void *user, int n_gen, int reps, double *median_s, double *samples);
