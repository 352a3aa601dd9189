// core/survey.h — phase 3's code statistics over real data: the codes of a weight matrix under a
// codec (2^k-bin histogram, entropy and every coding's size), the codes of activations at every
// linear-slot input and output (a model observer that encodes what the forward pass sees), and the
// codes of a paged KV store's pages (per layer, K and V apart: histograms, runs between
// neighbouring tokens, achieved Huffman and RLE+Huffman sizes page by page).
// Owns: the accumulation and its counts. Does not own: the codecs (core/codec.h), the codings'
// sizes (core/coding_cost.h), the run file (the phase records what it reads from here).
// Errors: negative qins_status with one log line. The observer cannot return an error: it keeps
// the first one in ->status, and the caller checks it after each forward pass.
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "codec.h"
#include "coding_cost.h"
#include "kv.h"
#include "model.h"

// ---- weights

// Codes of x (rows x cols) under codec p (lossy k-bit, or FP16/BF16: their raw bit patterns as
// 16-bit codes). hist (2^k entries, may be NULL) is added to; sizes (coding_cost) count the FP16
// scales of every group as metadata. with_zstd: also zstd-3/19. Returns 0 or < 0.
int qins_survey_weight(const struct qins_codec_params *p, const float *x, size_t rows, size_t cols, int with_zstd,
                       uint64_t *hist, struct qins_coding_sizes *sizes);

// ---- activations at the linear slots' inputs and outputs

// The sites a linear slot reads or writes (q/k/v input, their outputs, o input/output, gate/up
// input and outputs, down input/output): what "encoded activations" means in phase 3.
#define QINS_SURVEY_ACT_SITES 11
extern const enum qins_site qins_survey_act_sites[QINS_SURVEY_ACT_SITES];

#define QINS_SURVEY_ACT_CODECS 2 // the same values coded by QINS-k and by INT-k

struct qins_act_survey {
    int n_layer, bits;
    struct qins_codec_params codec[QINS_SURVEY_ACT_CODECS]; // per-token (row) scales
    uint64_t *hist;      // (n_layer, SITES, CODECS, 2^bits)
    uint64_t *values;    // (n_layer, SITES) values counted (each codec)
    int status;          // first error the observer hit (0 = none); later calls do nothing
    uint16_t *codes;     // scratch
    float *scales;
    size_t cap;
};
// qins_alpha: the QINS codec's alpha (relative to the per-token absmax). Returns 0 or < 0.
int qins_act_survey_init(struct qins_act_survey *a, int n_layer, int bits, float qins_alpha);
void qins_act_survey_free(struct qins_act_survey *a);
// The observer (qins_observer_fn): user is the struct qins_act_survey.
void qins_act_survey_observe(void *user, int layer, enum qins_site site, const float *x, int n_tok, int dim);
// Histogram of (layer, site index, codec) and its entropy in bits/symbol.
const uint64_t *qins_act_survey_hist(const struct qins_act_survey *a, int layer, int site, int codec);
double qins_act_survey_entropy(const struct qins_act_survey *a, int layer, int site, int codec);

// ---- KV pages of a paged store

struct qins_kv_survey_layer {
    uint64_t pages, codes;          // full pages seen, codes in them
    uint64_t same_as_prev;          // codes equal to the previous token's code in the same channel (same page)
    uint64_t neighbours;            // (tokens - 1) * kv_dim per page: the pairs same_as_prev is out of
    uint64_t bitpack_bytes;         // the pages' payloads as stored (codes + scales, headers not counted)
    uint64_t huffman_bytes;         // each page's codes as its own Huffman stream + the page's scales
    uint64_t rle_huffman_bytes;     // the same with RLE
    uint64_t *hist;                 // (2^bits)
};
struct qins_kv_survey {
    int n_layer, kv_dim, bits, page_tokens;
    struct qins_kv_survey_layer *l; // (n_layer, 2): K then V of each layer
    uint16_t *codes;
};
// For a paged store whose coded layers use k-bit codecs of `bits` (layers kept in a float
// format are skipped). Returns 0 or < 0.
int qins_kv_survey_init(struct qins_kv_survey *s, int n_layer, int kv_dim, int bits, int page_tokens);
void qins_kv_survey_free(struct qins_kv_survey *s);
// Adds every full page the store holds now (after a window's forward pass). Returns 0 or < 0
// (a page that fails its check is QINS_ERR_FORMAT).
int qins_kv_survey_add(struct qins_kv_survey *s, const struct qins_kv_store *store);
// Layer l's K (which 0) or V (1) figures.
const struct qins_kv_survey_layer *qins_kv_survey_get(const struct qins_kv_survey *s, int layer, int which);
