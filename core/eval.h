// core/eval.h — evaluation runners every phase uses: greedy generation, windowed perplexity
// (llama.cpp's convention) with optional per-position log-probabilities, and the comparisons
// between two runs (token match, top-1 agreement, KL divergence).
// Does not own: the model or state (caller's), metrics storage. Errors: negative status.
#pragma once
#include <stdbool.h>
#include <stdint.h>

#include "model.h"

// The index of the largest value (lowest index on ties; NaN never wins over a number).
int32_t qins_argmax(const float *x, int n);

typedef void (*qins_progress_fn)(void *user, int64_t done, int64_t total);

// Clears the cache, runs the prompt as one batch, then n_gen greedy steps (argmax of the raw
// logits, lowest id on ties). Stops early at eos_id unless eos_id < 0. Writes the generated
// ids to out_ids (n_gen) and, if step_logits is not NULL, each step's logits (n_gen, V);
// *n_out (may be NULL) receives the number of tokens generated (<= n_gen; 0 when it fails).
// Returns 0 or a negative status.
int qins_generate_greedy(struct qins_model *m, struct qins_state *s, const int32_t *prompt, int n_prompt, int n_gen,
                         int eos_id, int32_t *out_ids, float *step_logits, int *n_out);

struct qins_ppl_opts {
    int ctx;            // window length; the state's n_ctx and max_batch must be >= ctx
    int max_chunks;     // 0 = all floor(n_tokens / ctx) chunks
    int bos_id;         // each chunk's first token is replaced by this (llama.cpp), < 0 keeps it
    bool keep_logprobs; // store log-softmax rows of every scored position (tokens_scored, V)
    qins_progress_fn progress;
    void *progress_user;
};

struct qins_ppl_result {
    double ppl;              // exp(mean NLL over scored tokens)
    double nll_mean;
    double nll_stderr;       // standard error of the mean NLL
    int chunks;
    int64_t tokens_scored;   // chunks * (ctx - 1 - ctx/2)
    double *chunk_nll;       // (chunks) mean NLL per window
    float *token_nll;        // (tokens_scored) NLL of each scored token
    float *logprobs;         // (tokens_scored, V) when keep_logprobs, else NULL
    int32_t *argmax;         // (tokens_scored) argmax id at each scored position
    int64_t n_nonfinite;     // scored positions whose logits held NaN/Inf
    int n_vocab;
};

// Scores tokens (already tokenized with BOS at the start) in windows of opts->ctx, scoring the
// logits at positions ctx/2 .. ctx-2 of each window. Returns 0 or < 0 (too few tokens, …).
int qins_perplexity(struct qins_model *m, struct qins_state *s, const int32_t *tokens, int64_t n_tokens,
                    const struct qins_ppl_opts *opts, struct qins_ppl_result *out);
void qins_ppl_result_free(struct qins_ppl_result *r);

// Comparisons of a variant against a baseline over the same scored positions.
struct qins_ppl_compare {
    double kld_mean, kld_median, kld_p99, kld_max; // KL(P_base || P_var) in nats
    double top1_agreement;                       // fraction of equal argmax
    int64_t n;
};
// Needs both results with keep_logprobs (KLD) and the same positions. Returns 0 or QINS_ERR_ARG.
int qins_ppl_compare(const struct qins_ppl_result *base, const struct qins_ppl_result *var,
                     struct qins_ppl_compare *out);

// Fraction of equal ids over n positions; *first_diff = first differing index or n.
double qins_token_match(const int32_t *a, const int32_t *b, int n, int *first_diff);
// Relative L2 error ||x - ref|| / ||ref|| in double (0 when both are zero); counts non-finite x.
double qins_rel_error(const float *x, const float *ref, int64_t n, int64_t *n_nonfinite);
