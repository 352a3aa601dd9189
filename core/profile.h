// core/profile.h — the per-model profiler: where a forward pass spends its time, per op kind and
// step phase (prompt: n_tok > 1, decode: n_tok == 1), with calls, bytes and FLOPs; the ranking
// and the profile-guided selection; recording into a run file and reading it back.
// Owns: the counters (filled by core/forward.c while attached), their accounting rules below.
// Does not own: the ops, the clock's resolution, plotting. Errors: negative qins_status values.
//
// Accounting (per forward call; T = tokens in the call, counted in the call's phase):
//   time   wall ns on the calling thread (CLOCK_MONOTONIC) around the op as a whole: an op that
//          runs in parallel inside counts once. `other` is the forward's measured time minus every
//          timed op (observers, loop bookkeeping, the profiler's own clock reads), so the kinds of
//          a phase sum to its forward_ns exactly.
//   calls  one per op invocation: a slot per layer per forward, norm 2 per layer + 1 (output),
//          rope/kv_append/kv_view/attention 1 per layer, act 3 per layer, embed and other 1.
//   bytes  parameter and cache bytes the op reads, activations excluded:
//          slots + output: w_stored_bytes (the weight as the active implementation stores it),
//            once per call whatever T (a batch reads the weight once);
//          embed: T rows of token_embd as stored; norm: its weight (4·E);
//          rope: the T cos/sin rows (2·4·n_rot/2 each);
//          kv_view: the store's own count of stored bytes read (kv->bytes_read; coded pages +
//            the FP32 fill page for a paged store); attention: the K and V rows it streams from
//            the view (rows from the first token's window start to the last position, 2·kv_dim
//            elements of the view's type). For a plain FP32/FP16 store the view is the storage,
//            so kv_view and attention count the same memory: do not add them.
//          kv_append: bytes the store writes (kv->bytes_written), not reads; act and other: 0.
//   flops  slots: 2·n_out·n_in·T; attention: 4·H·D·n_att per token (QKᵀ and softmax·V, n_att =
//          positions the token attends, window-limited; softmax itself not counted);
//          norm: 4·E per row; rope: 3·n_rot·(H + HK) per token (6 per rotated pair);
//          act: 5·F per token (silu(g)·u: negate, exp, add, divide, multiply) + E per residual
//          add (2 per layer); embed, kv_view, kv_append, other: 0.
//   kv_page_decode_ns  the part of kv_view a paged store reports as page decode (its
//          qins_kv_paged_stats decode_seconds, as ns), 0 for plain stores.
// Attached, every op costs two clock reads: on a model whose ops take a few microseconds that is
// a visible share (qins_profile_clock_ns says how much a read costs here).
// A forward call that fails part-way leaves its ops counted but not its total: profile runs
// that succeed.
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include "results.h"
#include "runfile.h"

struct qins_model;
struct qins_kv_store;
struct qins_linear;
struct qins_hparams;

enum qins_prof_op {
    QINS_PROF_Q = 0, QINS_PROF_K, QINS_PROF_V, QINS_PROF_O, QINS_PROF_GATE, QINS_PROF_UP, QINS_PROF_DOWN,
    QINS_PROF_OUTPUT,    // the output matrix (logits)
    QINS_PROF_ATTN,      // QKᵀ, softmax, ·V over the view
    QINS_PROF_KV_VIEW,   // the store making rows readable (page decode for a paged store)
    QINS_PROF_KV_APPEND, // the store taking the new K/V rows (page encode when a page fills)
    QINS_PROF_NORM, QINS_PROF_ROPE, QINS_PROF_EMBED,
    QINS_PROF_ACT,       // silu(gate)·up and the residual adds
    QINS_PROF_OTHER,     // the rest of the forward (see above); never a fusion candidate
    QINS_PROF_OP_COUNT
};
enum qins_prof_phase { QINS_PROF_PROMPT = 0, QINS_PROF_DECODE, QINS_PROF_PHASE_COUNT };

// Returns "q", "k", …, "output", "attention", "kv_view", "kv_append", "norm", "rope", "embed",
// "act", "other" ("?" out of range); "prompt" / "decode".
const char *qins_prof_op_name(enum qins_prof_op op);
const char *qins_prof_phase_name(enum qins_prof_phase ph);

struct qins_prof_cell {
    uint64_t ns, calls, bytes, flops;
};

struct qins_profile {
    struct qins_prof_cell op[QINS_PROF_PHASE_COUNT][QINS_PROF_OP_COUNT];
    uint64_t forward_calls[QINS_PROF_PHASE_COUNT], tokens[QINS_PROF_PHASE_COUNT];
    uint64_t forward_ns[QINS_PROF_PHASE_COUNT];        // measured inside qins_forward
    uint64_t kv_page_decode_ns[QINS_PROF_PHASE_COUNT]; // part of kv_view's ns
    // the forward call in flight (set by qins_profile_forward_begin)
    int phase;
    uint64_t t_forward, timed_ns, kv_read_mark, kv_write_mark;
    double kv_decode_mark_s;
};

// Zeroes every counter. Returns nothing.
void qins_profile_reset(struct qins_profile *p);
// Attaches p to m (the forward pass fills it from the next call on; NULL detaches). p stays the
// caller's. Returns nothing.
void qins_profile_attach(struct qins_model *m, struct qins_profile *p);

// ---- hooks for core/forward.c (only called while a profile is attached)
static inline uint64_t qins_profile_now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}
// Returns the cost of one qins_profile_now_ns in ns (the least of a few timed batches): what
// each op's time holds once and `other` holds for the rest of the clock reads.
double qins_profile_clock_ns(void);
// Starts a forward call of n_tok tokens reading kv; returns its start time.
uint64_t qins_profile_forward_begin(struct qins_profile *p, const struct qins_kv_store *kv, int n_tok);
// Ends it: forward_ns, calls, tokens, other, the page-decode split. Returns nothing.
void qins_profile_forward_end(struct qins_profile *p, const struct qins_kv_store *kv, uint64_t t0);
// Adds one op that began at t0 (now is its end) with its bytes and flops. Returns nothing.
void qins_profile_add(struct qins_profile *p, enum qins_prof_op op, uint64_t t0, uint64_t bytes, uint64_t flops);
// Adds one slot call (op from lin->site; bytes and flops by the rules above). Returns nothing.
void qins_profile_linear(struct qins_profile *p, const struct qins_linear *lin, int n_tok, uint64_t t0);
// Adds one attention call of n_tok queries at pos0.. over a view of elem_bytes per element.
void qins_profile_attention(struct qins_profile *p, const struct qins_hparams *hp, int n_tok, int pos0,
                            double elem_bytes, uint64_t t0);
// Adds one kv_view (bytes: the store's bytes_read since the last mark) or kv_append (bytes_written).
void qins_profile_kv(struct qins_profile *p, enum qins_prof_op op, const struct qins_kv_store *kv, uint64_t t0);

// ---- reading a profile

// One (phase, op) figure in a flat form for tables and plots; share = ns / the phase's forward_ns.
struct qins_profile_row {
    enum qins_prof_phase phase;
    enum qins_prof_op op;
    double time_s, share;
    uint64_t calls, bytes, flops;
};
// Fills out[QINS_PROF_PHASE_COUNT * QINS_PROF_OP_COUNT], phase-major in enum order. Returns the count.
size_t qins_profile_rows(const struct qins_profile *p, struct qins_profile_row *out);

// Op kinds of one phase, most time first (ties in enum order), and the profile-guided selection:
// the fewest top candidates (every kind but `other`, in rank order) whose time covers >= target of
// the phase's forward time.
struct qins_profile_rank {
    enum qins_prof_phase phase;
    double total_s;                                   // the phase's forward time
    struct { enum qins_prof_op op; double time_s, share; } e[QINS_PROF_OP_COUNT];
    double target;                                    // the fraction asked for
    int n_selected;                                   // candidates selected
    enum qins_prof_op selected[QINS_PROF_OP_COUNT];   // in rank order
    double coverage;                                  // their share of total_s (< target only when
                                                      // every candidate together falls short)
};
// Ranks phase ph of p for target in (0, 1]. Returns 0, QINS_ERR_ARG (bad phase or target) or
// QINS_ERR_STATE (no forward call of that phase was profiled).
int qins_profile_rank(const struct qins_profile *p, enum qins_prof_phase ph, double target,
                      struct qins_profile_rank *out);

// Prints the table (clock reads per forward call; per phase: op, ms, share, calls, MB, GFLOP, GB/s, GFLOP/s) and each phase's
// selection at target. Returns nothing.
void qins_profile_print(const struct qins_profile *p, double target, FILE *out);

// ---- run files. Under group G (absolute, e.g. "/phase4/profile/fp32"):
//   G/ops strings (n_op), G/phases strings (n_phase), both in enum order
//   G/time_s, G/share double (n_phase, n_op); G/calls, G/bytes, G/flops int64 (n_phase, n_op)
//   G/forward_s, G/kv_page_decode_s double (n_phase); G/forward_calls, G/tokens int64 (n_phase)
//   G/selection/<phase> strings: the selected op names in rank order (absent when that phase
//     had no calls), attributes target, coverage (double) and order (strings joined by ',': every
//     kind in rank order)
// Writes p under group. Returns 0 or the writer's error (QINS_ERR_STATE if group exists).
int qins_profile_record(qins_run_t *run, const char *group, const struct qins_profile *p, double target);
// Reads a profile recorded under group back into *out (the in-flight fields zeroed; ns rounded
// from seconds). Returns 0, QINS_ERR_RANGE (absent) or QINS_ERR_FORMAT (wrong shape or op names).
int qins_profile_read(const qins_runfile_t *f, const char *group, struct qins_profile *out);
