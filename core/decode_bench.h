// core/decode_bench.h — end-to-end decode speed at a chosen context length: for each
// configuration (a model with its slot implementations + a KV store spec) a store is filled to
// `ctx` positions with synthetic rows, then decode steps are timed, the configurations taking
// turns in the same process so host drift hits them alike. Owns: the stores and states it makes.
// Does not own: the models or their slots. Errors: negative qins_status with a log line.
//
// Why synthetic rows: the cost of a decode step depends on the context length and the store's
// format, not on the values cached; filling by prompt processing would cost a 2048-token
// prefill per configuration and context. Every layer gets N(0, 1) rows from the seed, which
// every codec store encodes like any other rows (pages are encoded as they fill).
#pragma once
#include <stdint.h>

#include "model.h"

struct qins_decode_cfg {
    const char *name;          // shown in progress lines
    struct qins_model *model;  // with its slot implementations installed
    const char *kv;            // KV store spec (core/kv_paged.h): "fp32", "fp16", "qins8:…"
};

struct qins_decode_result {
    double median_s;           // median seconds per decode step over all timed steps
    double min_s;              // fastest step
    double tok_s;              // 1 / median_s
    int steps;                 // steps timed
    uint64_t kv_bytes_read;    // store bytes read per step (mean), from the store's counter
};

// Called around each configuration's timed steps of each repetition (begin = 1 before, 0
// after): where a caller attaches and detaches a profiler. May be NULL.
typedef void (*qins_decode_hook_fn)(void *user, int cfg, int rep, int begin);

// For every configuration: a store of spec kv for ctx positions, filled with synthetic rows to
// ctx - warmup - reps * steps, then `warmup` untimed decode steps and reps rounds of `steps`
// timed ones (one token each, positions continuing up to ctx - 1), the configurations in turn
// within each round. So the timed steps attend to the last reps * steps positions below ctx (a
// model's context limit is never exceeded). out: n_cfg results. Returns 0 or < 0 (QINS_ERR_ARG
// when ctx leaves no position to fill).
int qins_decode_bench(const struct qins_decode_cfg *cfgs, int n_cfg, int ctx, int steps, int reps, int warmup,
                      uint64_t seed, qins_decode_hook_fn hook, void *user, struct qins_decode_result *out);
