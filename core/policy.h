// core/policy.h — the per-tensor compression policy of phase 3: which coding pays for each tensor
// (none / bit-pack / Huffman / RLE+Huffman), from measured sizes, decode throughput, access frequency
// and a latency budget; the policy JSON file phase 6 reads. Owns: the decision rule below, the
// [policy] config keys, the JSON format. Does not own: measuring anything (the caller fills the
// inputs), the HDF5 run file (the phase binary records the result). Errors: negative qins_status, one line.
//
// Decision rule (qins_policy_decide):
//   time(t, c)  = n_elements * reads_per_token * 4 B (FP32 output) / (decode_gbps[c] * 1e9)  [s/token];
//                 time(t, NONE) = 0 (the values are read as stored, nothing is decoded).
//   base(t)     = BITPACK when its size is measured, else NONE. Every tensor starts at its base.
//   added(t, c) = time(t, c) - time(t, base): the hot-path time a coding adds per token.
//   Candidates  = codings with a measured size that saves at least min_saving of base's bytes.
//   Budget      = budget_frac * step_s. The sum of added(t, chosen) over ALL tensors must stay within
//                 it; a cold tensor is not exempt, its time counts at its (low) frequency, so Huffman
//                 on it is nearly free.
//   Greedy      : every (tensor, candidate) pair, each measured from base, sorted by bytes saved per
//                 added second (pairs adding no time first; ties: larger saving, then table order).
//                 Walking that list, a tensor switches to the candidate if it is smaller than its
//                 current coding and the total added time, with the switch, stays within budget.
//                 Greedy, not optimal (a multiple-choice knapsack); deterministic.
//   Cold        : reads_per_token == 0, or reads_per_token < cold_frac * the largest reads_per_token
//                 of the table (default 1 % of the hottest tensor). Cold/hot labels the reason and the
//                 counts; the budget rule above treats both the same way.
//   Reasons     : "cold: huffman saves 31.0 %", "hot: huffman saves 12.0 %, adds 0.4 % of the step",
//                 "hot: huffman would add 4.1 % > budget 2 %", "hot: huffman would add 0.8 % > 0.5 %
//                 left of budget 2 %", "no saving: huffman saves 2.0 % < 5 %", "no saving".
// Inputs per tensor: an embedding's reads_per_token is the fraction of its rows touched per token;
// a KV store's n_elements is the cache at the measured context and reads_per_token 1.
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"

#define QINS_POLICY_VERSION 1 // the JSON's "version"; qins_policy_read_json reads only this one
#define QINS_POLICY_NAME_MAX 96
#define QINS_POLICY_CODEC_MAX 32
#define QINS_POLICY_REASON_MAX 128

enum qins_policy_class {
    QINS_POLICY_CLASS_WEIGHT = 0, // a linear slot's weight (q, k, v, o, gate, up, down)
    QINS_POLICY_CLASS_EMBEDDING,
    QINS_POLICY_CLASS_OUTPUT,
    QINS_POLICY_CLASS_KV_K,
    QINS_POLICY_CLASS_KV_V,
    QINS_POLICY_CLASS_ACTIVATION,
    QINS_POLICY_CLASS_COUNT
};

enum qins_policy_coding {
    QINS_POLICY_CODING_NONE = 0,    // stored without codes (FP32, or an FP16 KV store)
    QINS_POLICY_CODING_BITPACK,     // k-bit codes packed, scales included: the baseline coding
    QINS_POLICY_CODING_HUFFMAN,     // canonical Huffman of the codes (core/huffman.h), tables included
    QINS_POLICY_CODING_RLE_HUFFMAN, // RLE + Huffman (core/huffman.h), tables included
    QINS_POLICY_CODING_COUNT
};

// One tensor's measurements (filled by the phase binary). A coding not measured has bytes 0.
struct qins_policy_tensor {
    char name[QINS_POLICY_NAME_MAX];   // "blk.3.attn_v", "kv.blk.3.k"; unique in a table
    enum qins_policy_class cls;
    uint64_t n_elements;               // > 0
    char codec[QINS_POLICY_CODEC_MAX]; // codec label, "qins8", "int6", "fp32"
    int bits;                          // k of the codec's codes (0..32; 0: no codes)
    uint64_t bytes[QINS_POLICY_CODING_COUNT];   // stored size per coding, all metadata counted
    double decode_gbps[QINS_POLICY_CODING_COUNT]; // GB/s of FP32 output on this machine; > 0 for
                                                  // every measured coding but NONE (ignored)
    double reads_per_token;            // access frequency (engine counters), >= 0
};

struct qins_policy_config {
    double budget_frac; // added hot-path time allowed, fraction of the decode step (default 0.02)
    double step_s;      // baseline decode step time, s/token (measured by the caller; > 0)
    double cold_frac;   // cold below this fraction of the hottest reads/token (default 0.01)
    double min_saving;  // smallest fraction of base's bytes worth switching for (default 0.05)
};

// One tensor's decision.
struct qins_policy_entry {
    struct qins_policy_tensor t;      // the measurements it was decided from
    enum qins_policy_coding coding;   // chosen
    bool cold;
    double added_s;                   // added(t, coding), s/token (0 at base)
    double saving_frac;               // 1 - bytes[coding] / bytes[base]
    char reason[QINS_POLICY_REASON_MAX];
};

struct qins_policy {
    int version;                      // QINS_POLICY_VERSION
    char run_id[QINS_POLICY_NAME_MAX];// the phase-3 run it came from ("" if none)
    struct qins_policy_config cfg;
    size_t n;
    struct qins_policy_entry *e;      // n entries, owned (qins_policy_free)
    // Totals over the n entries:
    double cold_below;                // reads/token threshold actually used (cold_frac * hottest)
    size_t n_cold;
    uint64_t bytes_fp32, bytes_fp16;  // n_elements * 4, * 2
    uint64_t bytes_base, bytes_after; // every tensor at its base / at its chosen coding
    double ratio_fp32, ratio_fp16;    // bytes_fp32 / bytes_after, bytes_fp16 / bytes_after
    double added_s;                   // total added hot-path time, s/token (<= budget)
    double overhead_frac;             // added_s / step_s: the budget used
};

// The [policy] keys (budget, cold_fraction, min_saving), for the phase binaries' config tables.
extern const struct qins_cfg_key qins_policy_cfg_keys[];

// Fills the defaults (step_s 0: the caller must set it). Returns nothing.
void qins_policy_config_default(struct qins_policy_config *cfg);
// Reads the [policy] keys of a config holding qins_policy_cfg_keys, with the measured step_s.
// Returns 0 or QINS_ERR_ARG (see qins_policy_config_check).
int qins_policy_config_from(const qins_config_t *c, double step_s, struct qins_policy_config *cfg);
// Returns 0, or QINS_ERR_ARG with one line naming the field, for a value out of range or not finite.
int qins_policy_config_check(const struct qins_policy_config *cfg);

// Decides the policy for n >= 1 tensors (copied into out; run_id may be NULL). Returns 0,
// QINS_ERR_ARG (bad config, or a tensor's field: one line naming tensor and field) or QINS_ERR_NOMEM.
// On error out is left empty (safe to free).
int qins_policy_decide(const struct qins_policy_config *cfg, const struct qins_policy_tensor *t, size_t n,
                       const char *run_id, struct qins_policy *out);
// Frees the entries and empties the policy (NULL and empty policies are fine). Returns nothing.
void qins_policy_free(struct qins_policy *p);

// Writes "<results_dir>/phase3/<run_id>.policy.json" into out. Returns 0 or QINS_ERR_RANGE.
int qins_policy_path(const char *results_dir, const char *run_id, char *out, size_t cap);
// Writes the policy as JSON (a temp file beside path, then rename: never a partial file). Returns 0,
// QINS_ERR_IO or QINS_ERR_NOMEM.
int qins_policy_write_json(const struct qins_policy *p, const char *path);
// Reads and validates a policy file (every key present, typed and in range; known names; the
// chosen coding measured; totals consistent). Returns 0, QINS_ERR_IO (cannot read), QINS_ERR_FORMAT
// (one line naming the file and the key) or QINS_ERR_NOMEM. On error out is left empty.
int qins_policy_read_json(const char *path, struct qins_policy *out);

// Names in the JSON and in reasons: "none", "bitpack", "huffman", "rle_huffman"; "weight",
// "embedding", "output", "kv_k", "kv_v", "activation". Return a static string ("?" if out of range).
const char *qins_policy_coding_name(enum qins_policy_coding c);
const char *qins_policy_class_name(enum qins_policy_class c);
// Parse those names. Return 0, or QINS_ERR_ARG (not logged: the caller names the context).
int qins_policy_coding_parse(const char *s, enum qins_policy_coding *out);
int qins_policy_class_parse(const char *s, enum qins_policy_class *out);
