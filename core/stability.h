// core/stability.h — the long-run stability test of phase 6: a variant model generates far past
// one context window beside the FP32 baseline, both reading the same token stream. Owns: the
// lockstep loop, the window restarts, the per-block figures. Does not own: the models, their
// slots or KV stores (the caller makes two models and two states), recording.
//
// The stream is the baseline's own greedy continuation (the variant is teacher-forced on it), so
// every step compares the two distributions at the same history, however far the run goes:
//   KLD(P_base || P_var) per step (nats), top-1 agreement (argmax_var == argmax_base), and
//   whether the variant's logits held a NaN or an infinity (such a step is counted, and left out
//   of the KLD mean, which it would make NaN).
// Windows: when the next position would reach ctx, both caches are cleared and the new window
// is BOS + the stream's last `keep` tokens, run as one batch; EOS is an ordinary token (the run
// measures numerics over length, not story boundaries). Figures per block of `block` steps show
// drift: the last block against the first.
// Errors: negative qins_status, one line.
#pragma once
#include <stdint.h>

#include "eval.h"
#include "model.h"

struct qins_stability_opts {
    int64_t n_tokens;  // generated steps (the plan: >= 10,000)
    int ctx;           // window length; both states need n_ctx >= ctx and max_batch >= keep + 1
    int keep;          // stream tokens carried into a restarted window (< ctx - 1)
    int block;         // steps per block (e.g. 1000)
    int bos_id;        // first token of every window
    int32_t *ids_out;  // optional (n_tokens): the stream, the baseline's greedy ids
    qins_progress_fn progress;
    void *progress_user;
};

struct qins_stability_result {
    int64_t n_tokens, n_windows, n_blocks;
    int64_t nonfinite_steps;      // variant steps with NaN/Inf logits
    int64_t base_nonfinite_steps; // the baseline's (should be 0: a broken baseline is reported)
    double kld_mean;              // over the finite steps
    double top1_agreement;        // over every step
    double *block_kld;            // (n_blocks) mean KLD of each block's finite steps (NaN: none)
    double *block_top1;           // (n_blocks)
    int64_t *block_nonfinite;     // (n_blocks)
    double kld_drift, top1_drift; // last block minus first block
};

// Runs the lockstep loop from prompt (n_prompt >= 1 tokens, BOS first, n_prompt < ctx).
// Returns 0, QINS_ERR_ARG (options, shapes: one line) or a forward error; r is filled on 0.
int qins_stability_run(struct qins_model *base, struct qins_state *sb, struct qins_model *var, struct qins_state *sv,
                       const int32_t *prompt, int n_prompt, const struct qins_stability_opts *o,
                       struct qins_stability_result *r);
void qins_stability_result_free(struct qins_stability_result *r);
