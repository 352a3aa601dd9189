// core/access.h — access frequency of weights as the engine's counters measured them, the hot/cold
// split of weight bytes, and its projection to another model's shapes (phase 3: which weights are
// read rarely enough that entropy coding them costs little decode time).
// Owns: turning the counters of core/model.h (each slot's n_tokens, the output matrix's, and the
// token_embd row counts of qins_model_track_embedding_rows) into reads per token, the cold
// criterion, the Zipf fit of embedding-row frequencies and the projection of that fit.
// Does not own: the counting itself (core/forward.c), running the tokens (the caller), coding the
// cold weights. Errors: negative qins_status with a one-line message (tracking off, bad arguments,
// counters that do not cover the tokens passed, no fit to project).
//
// Why the criterion is per row. A dense transformer reads every layer weight for every token: each
// of the 7 slots of every layer serves every token (reads per token = 1), so no layer weight is
// colder than another. The only weights whose reads follow the text are token_embd's rows: a
// token reads its one row, so row r is read as often as token r occurs. The output matrix is read
// whole for every token whose logits are computed (1 per token in generation; during prompt
// processing without all_logits only the last token of a call, which the counters show as < 1).
// So "cold" is decided per ROW: a row is cold when its reads per token are below cold_below =
// cold_frac * hottest, hottest being the largest reads per token of any tensor (1 for a dense
// slot). Every row of a slot shares the slot's figure; embedding row r has embd_row_reads[r] /
// tokens. When the output matrix is tied to token_embd (one tensor), each embedding row is read by
// both: its figure is the output's reads per token plus its own gathers, and it is counted once.
//
// "Reads" counts the tokens a weight served, not passes over memory: a batched GEMM streams the
// weight once for T tokens, but it still takes part in T tokens' computation, which is what an
// entropy-coded weight would have to be decoded for.
//
// Limits of the projection (qins_access_project). The Zipf law is fitted on the measured model's
// touched rows — on stories260K a vocabulary of 512 and whatever text was run — and extrapolated
// to a vocabulary of tens or hundreds of thousands; real rank-frequency curves bend away from a
// power law in the tail, where the cold rows are, so the cold row count is an estimate of shape,
// not a measurement. Untouched rows do not enter the fit (log 0), so the fit describes the rows a
// text reached. The threshold is relative to the measured model's hottest tensor, transferred as
// an absolute reads-per-token figure: it assumes the target's dense weights are likewise read once
// per token, which holds for a dense model, not for mixture-of-experts.
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "model.h"

struct qins_access_tensor {
    char name[48];          // the slot's name ("blk.3.attn_v"), "output" or "token_embd"
    uint64_t n_elements, rows;
    uint64_t bytes;         // as stored (the format the forward pass reads)
    double reads_per_token; // slots and output: n_tokens / tokens (a dense slot: 1); token_embd:
                            // rows read / tokens / n_vocab, the fraction of the tensor read per token
                            // (the per-tensor figure core/policy.h takes for an embedding)
};

struct qins_access_summary {
    uint64_t tokens;         // tokens the counters cover (the tokens run through the forward pass)
    bool tied;               // the output matrix is token_embd (counted once, as the embedding)
    size_t n_tensors;        // 7 per layer, then "output", then "token_embd"
    struct qins_access_tensor *t;
    double hottest;          // largest reads_per_token of a tensor
    double cold_frac, cold_below; // a row is cold when its reads per token < cold_below = cold_frac * hottest
    uint64_t weight_elems, cold_elems; // every slot, output and embedding element, at row granularity
    uint64_t weight_bytes, cold_bytes; // the same split in stored bytes
    double cold_fraction;    // cold_elems / weight_elems
    uint64_t embd_rows, embd_rows_touched, embd_rows_cold;
    double zipf_s, zipf_r2;  // fit of log(freq) = log C - s log(rank) over the touched rows (rank 1 =
                             // most read) and its r2; both 0 when fewer than 2 rows were touched
};

// Summarises m's access counters over `tokens` tokens (> 0; the embedding row counts must add up
// to it: every token reads one row) with the cold threshold cold_frac (in (0, 1)) of the hottest
// tensor. Needs qins_model_track_embedding_rows on. *out is zeroed first; free it with
// qins_access_summary_free. Returns 0 or < 0.
int qins_access_summarize(const struct qins_model *m, uint64_t tokens, double cold_frac,
                          struct qins_access_summary *out);
// Frees what a summary owns and zeroes it (a zeroed summary is fine). Returns nothing.
void qins_access_summary_free(struct qins_access_summary *s);

// Rank-frequency of token_embd rows: the row counts as reads per token (count / tokens), sorted
// descending into freq (n_vocab entries; untouched rows give the trailing zeros). Needs tracking
// on and tokens > 0. Returns the number of touched rows (>= 0) or < 0.
int qins_access_rank_frequency(const struct qins_model *m, uint64_t tokens, double *freq);
// Least-squares fit of log(freq[i]) against log(i + 1) for i < n (n >= 2, every freq > 0):
// *s = -slope (freq ~ C rank^-s), *r2 = 1 - residual / total sum of squares (1 when freq is flat,
// which a slope of 0 fits exactly). Returns 0 or QINS_ERR_ARG.
int qins_access_zipf_fit(const double *freq, size_t n, double *s, double *r2);

// Another model's shape, enough to place its embedding in its parameter count.
struct qins_access_shape {
    const char *name;
    int n_vocab, n_embd;
    double n_params; // all parameters, embedding and (untied) output matrix included
    bool tied;       // the output matrix is token_embd
};

// The cold share of a shape's parameters under the measured Zipf law and threshold: its embedding
// rows follow freq(r) = C r^-s with C such that the n_vocab rows sum to 1 read per token; a row is
// cold when freq(r) < cold_below. Every other weight (dense layers; the output matrix when untied)
// is read once per token, so hot. When tied, the embedding is read whole for every token's logits,
// so nothing is cold.
struct qins_access_projection {
    char name[32];
    int n_vocab, n_embd;
    bool tied;
    double n_params, zipf_s, cold_below;
    double cold_rows, cold_rows_frac; // rows, and their fraction of n_vocab
    double cold_elems;                // cold_rows * n_embd
    double cold_fraction;             // cold_elems / n_params
};

// Projects summary s onto shape (n_vocab, n_embd > 0; n_params at least the embedding and, when
// untied, the output matrix). Needs a Zipf fit in s (2+ touched rows) and cold_below > 0.
// Returns 0 or < 0.
int qins_access_project(const struct qins_access_summary *s, const struct qins_access_shape *shape,
                        struct qins_access_projection *out);
// A built-in shape by name ("phi3.5-mini"), or NULL.
const struct qins_access_shape *qins_access_shape_find(const char *name);
