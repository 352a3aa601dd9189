// core/final.c — see final.h.
#include "final.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "config.h"
#include "gate.h"
#include "runfile.h"

// The newest complete run of a phase: a non-forced one if any, else the newest forced one (phases
// 2-5 run forced while their gates are closed; phase 6 names which it used and whether forced).
static int newest_run(const char *results, int phase, struct qins_final_input *in) {
    memset(in, 0, sizeof *in);
    struct qins_run_meta *m = NULL;
    size_t n = 0;
    QINS_TRY(qins_results_list(results, phase, &m, &n, NULL));
    const struct qins_run_meta *pick = NULL;
    for (size_t i = 0; i < n && !pick; i++)
        if (!m[i].forced) pick = &m[i];
    if (!pick && n) pick = &m[0];
    if (pick) {
        snprintf(in->run_id, sizeof in->run_id, "%s", pick->run_id);
        snprintf(in->path, sizeof in->path, "%s", pick->path);
        in->forced = pick->forced;
    }
    free(m);
    return QINS_OK;
}

// A key of a run's recorded config (its effective text holds every key with defaults filled in).
static int recorded_key(const char *run_path, const char *section, const char *key, char *out, size_t cap) {
    qins_runfile_t *f;
    QINS_TRY(qins_runfile_open(&f, run_path));
    char *config = NULL;
    int st = qins_runfile_attr_str(f, "/", "config", &config);
    if (st == QINS_OK) st = qins_config_peek(config, section, key, out, cap);
    free(config);
    qins_runfile_close(f);
    QINS_CHECK(st == QINS_OK, QINS_ERR_FORMAT, "%s: recorded config has no [%s] %s", run_path, section, key);
    return QINS_OK;
}

static void note_missing(struct qins_final *f, const char *what) {
    const size_t n = strlen(f->missing);
    snprintf(f->missing + n, sizeof f->missing - n, "%s%s", n ? "; " : "", what);
}

int qins_final_assemble(const char *results, const char *kv_variant, bool force, struct qins_final *out) {
    memset(out, 0, sizeof *out);
    QINS_TRY(newest_run(results, 1, &out->kv_run));
    QINS_TRY(newest_run(results, 3, &out->policy_run));
    QINS_TRY(newest_run(results, 4, &out->kernel_run));
    // the KV store: phase 1's options for the chosen variant
    char opts[200] = "alpha=2:gran=token:page=16"; // phase 1's documented default kv_options
    if (out->kv_run.run_id[0]) QINS_TRY(recorded_key(out->kv_run.path, "phase1", "kv_options", opts, sizeof opts));
    else {
        QINS_CHECK(force, QINS_ERR_STATE, "phase 6 needs a phase-1 run (the KV choice) in %s/phase1: none found (run "
                                          "qins-phase1, or --force to use its defaults)", results);
        note_missing(out, "no phase-1 run: KV options are phase 1's defaults");
    }
    snprintf(out->kv_text, sizeof out->kv_text, "%s%s%s", kv_variant, opts[0] ? ":" : "", opts);
    QINS_TRY(qins_kv_spec_parse(out->kv_text, &out->kv));
    // the weights: phase 3's policy codec at its granularity and alpha, and the policy itself
    snprintf(out->weights_name, sizeof out->weights_name, "qins8");
    snprintf(out->weights_gran, sizeof out->weights_gran, "row");
    char alpha[32] = "1";
    if (out->policy_run.run_id[0]) {
        QINS_TRY(recorded_key(out->policy_run.path, "phase3", "policy_codec", out->weights_name, sizeof out->weights_name));
        QINS_TRY(recorded_key(out->policy_run.path, "phase3", "weight_granularity", out->weights_gran,
                              sizeof out->weights_gran));
        QINS_TRY(recorded_key(out->policy_run.path, "phase3", "weight_alpha", alpha, sizeof alpha));
        char path[1200];
        QINS_TRY(qins_policy_path(results, out->policy_run.run_id, path, sizeof path));
        QINS_TRY(qins_policy_read_json(path, &out->policy));
    } else {
        QINS_CHECK(force, QINS_ERR_STATE, "phase 6 needs a phase-3 run (the weight policy) in %s/phase3: none found "
                                          "(run qins-phase3, or --force to use qins8 per row without a policy)", results);
        note_missing(out, "no phase-3 run: weights qins8 per row, alpha 1, no per-tensor policy");
    }
    qins_codec_params_default(&out->weights);
    QINS_TRY(qins_codec_parse(out->weights_name, &out->weights));
    QINS_TRY(qins_codec_parse_granularity(out->weights_gran, &out->weights));
    out->weights.alpha = (float)atof(alpha);
    // the hot path: phase 4's fused kernels when phase 4 ran (its CPU kernels exist either way)
    out->fused = out->kernel_run.run_id[0] != 0;
    if (!out->fused) note_missing(out, "no phase-4 run: decode-then-multiply kernels");
    // Pattern B: only where its gates said GO. Both are NO-GO in every measured run so far, so
    // assembling the Pattern B pieces (phase 2's v-path, phase 5's MLP) is not written yet: a GO
    // there is refused rather than silently dropped.
    struct qins_gate_status g2, g5;
    QINS_TRY(qins_gate_latest(results, 2, &g2));
    QINS_TRY(qins_gate_latest(results, 5, &g5));
    out->gate2 = g2.verdict, out->gate5 = g5.verdict;
    out->pattern_b = g2.verdict == QINS_VERDICT_GO || g5.verdict == QINS_VERDICT_GO;
    if (out->pattern_b) {
        qins_final_free(out);
        QINS_CHECK(0, QINS_ERR_UNSUPPORTED, "gate %d says GO, but phase 6 cannot assemble Pattern B pieces yet",
                   g2.verdict == QINS_VERDICT_GO ? 2 : 5);
    }
    return QINS_OK;
}

void qins_final_free(struct qins_final *f) {
    if (!f) return;
    qins_policy_free(&f->policy);
}
