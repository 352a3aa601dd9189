// core/final.h — the final configuration of phase 6, assembled from the records rather than
// retyped: the weight codec and per-tensor policy of the newest phase-3 run, the KV store of the
// newest phase-1 run, Pattern B only where gates 2 and 5 said GO (otherwise Pattern A), and the
// fused kernels when a phase-4 run exists. Owns: finding those runs, reading the choices out of
// their recorded configs and files, and naming every input (run ids) for the phase's record.
// Does not own: evaluating anything, the gates (gate.h), the policy format (policy.h).
// Errors: negative qins_status with one line naming the missing input (QINS_ERR_STATE).
#pragma once
#include <stdbool.h>

#include "codec.h"
#include "kv_paged.h"
#include "policy.h"

struct qins_final_input {
    char run_id[96];   // "" when none was found (only with force)
    bool forced;       // that run was itself forced past a closed gate
    char path[1024];
};

struct qins_final {
    struct qins_final_input kv_run, policy_run, kernel_run; // phases 1, 3, 4
    char kv_text[256];            // "<kv_variant>:<phase1.kv_options>"
    struct qins_kv_spec kv;
    struct qins_codec_params weights; // phase3.policy_codec, weight_granularity, weight_alpha
    char weights_name[32];        // "qins8"
    char weights_gran[32];        // "row"
    struct qins_policy policy;    // the phase-3 policy (empty when none was found)
    bool fused;                   // a phase-4 run exists: the fused kernels on the hot path
    int gate2, gate5;             // recorded verdicts (enum qins_verdict; NONE if never evaluated)
    bool pattern_b;               // true only if both gates said GO (not assembled yet: see .c)
    char missing[512];            // inputs that were missing (force only), "" when none
};

// Assembles the final configuration from results_dir. kv_variant: the phase-1 variant whose
// store is taken ("qins8"). A missing phase-1 or phase-3 run (or phase-3 policy file) is
// QINS_ERR_STATE with one line, unless force: then the defaults (kv_variant with phase 1's
// default options, qins8 per row, no policy) are used and named in out->missing.
// Returns QINS_OK or < 0. Free with qins_final_free.
int qins_final_assemble(const char *results_dir, const char *kv_variant, bool force, struct qins_final *out);
void qins_final_free(struct qins_final *f);
