// core/histogram.h — code histograms recorded into a run at /entropy/<name>/hist: 2^k bins of
// the codes of real data (a KV page today; weights and activations in phase 3), with the Shannon
// entropy in bits/symbol. Owns: the counting and the /entropy schema. Does not own: the codes'
// producers. Errors: negative qins_status, logged.
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "kv.h"
#include "results.h"

struct qins_code_hist {
    int bits;           // k: 2^k bins
    double entropy;     // bits/symbol
    uint64_t n;         // codes counted
    double *hist;       // (2^bits) counts as doubles (plot-ready); caller frees
};

// Counts n codes of k bits and records /entropy/<name>/hist with attrs bits and entropy.
// Returns 0 or < 0; h->hist is malloc'd (free it, also after an error).
int qins_hist_record_codes(qins_run_t *run, const char *name, const uint16_t *codes, size_t n, int bits,
                           struct qins_code_hist *h);
// The same for one full page (layer; which 0 = K, 1 = V) of a paged KV store; the page index and
// layer are recorded as attrs too. QINS_ERR_ARG when that stream is not k-bit coded.
int qins_hist_record_kv_page(qins_run_t *run, const char *name, const struct qins_kv_store *store, int layer,
                             int which, int page, struct qins_code_hist *h);
// K and V histograms of a middle page (not BOS's) of one layer of a paged store, recorded as
// /entropy/<prefix>_k_page and _v_page, plus the plot plot_name of both; entropy[0] (K) and
// entropy[1] (V) receive bits/symbol. Returns 0 or < 0.
int qins_hist_kv_layer(qins_run_t *run, const char *prefix, const struct qins_kv_store *store, int layer,
                       const char *plot_name, double entropy[2]);
