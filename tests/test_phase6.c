// tests/test_phase6.c — qins-phase6 end to end on a tiny config: every metric gate 6 reads is in
// the run, the inputs it used are named, the production config it writes runs in `qins generate
// --config` with the run's own choices; a missing input run is one error line and no run file.
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gate.h"
#include "helpers/run_cmd.h"
#include "helpers/shared_paths.h"
#include "helpers/synth_runs.h"
#include "production.h"
#include "runfile.h"

static char out[1 << 17];

static int run_phase6(const char *res, const char *extra) {
    char model[1200], text[1200], cmd[8192];
    if (test_model_path("stories260K.gguf", model, sizeof model)) return -1;
    if (test_shared_path("data/tinystories_train_sample_2MiB.txt", text, sizeof text)) return -1;
    snprintf(cmd, sizeof cmd,
             "QINS_PROGRESS=0 %s/qins-phase6 --results %s --set run.model=%s --set run.eval_text=%s "
             "--set run.eval_slice=stories:0-40 --set run.calib_slice=none --set run.ctx=64 --set run.eval_chunks=2 "
             "--set run.prompts=derive:2 --set run.tokens=12 --set phase6.latency_tokens=20 --set phase6.latency_reps=3 "
             "--set phase6.stability_tokens=300 --set phase6.stability_block=100 --set phase6.production_out=%s/prod.ini %s",
             QINS_TEST_BIN_DIR, res, model, text, res, extra);
    return test_run_cmd(cmd, out, sizeof out);
}

Test(phase6, tiny_forced_run_records_gate6_and_a_production_config, .timeout = 300) {
    char res[512];
    cr_assert_eq(test_tmpdir(res, sizeof res), 0);
    const int rc = run_phase6(res, "--force");
    cr_assert_eq(rc, 0, "qins-phase6 failed:\n%s", out);
    struct qins_run_meta *m = NULL;
    size_t n = 0;
    cr_assert_eq(qins_results_list(res, 6, &m, &n, NULL), 0);
    cr_assert_eq(n, 1);
    cr_assert(m[0].forced);
    qins_runfile_t *f;
    cr_assert_eq(qins_runfile_open(&f, m[0].path), 0);
    // every metric gate 6 reads
    char gates[1200];
    cr_assert_eq(qins_gate_defs_find(gates, sizeof gates), 0);
    struct qins_gate_defs defs;
    cr_assert_eq(qins_gate_defs_load(gates, &defs), 0);
    int rows = 0;
    for (size_t i = 0; i < defs.n; i++) {
        if (defs.c[i].gate != 6) continue;
        double v;
        cr_assert_eq(qins_runfile_metric(f, defs.c[i].metric, &v, NULL, 0), 0, "gate 6 reads %s", defs.c[i].metric);
        rows++;
    }
    qins_gate_defs_free(&defs);
    cr_assert_geq(rows, 5);
    double tokens, nonfinite, kld;
    cr_assert_eq(qins_runfile_metric(f, "stability/tokens", &tokens, NULL, 0), 0);
    cr_assert_eq(qins_runfile_metric(f, "stability/nonfinite_steps", &nonfinite, NULL, 0), 0);
    cr_assert_eq(qins_runfile_metric(f, "stability/kld_mean", &kld, NULL, 0), 0);
    cr_assert_eq(tokens, 300);
    cr_assert_eq(nonfinite, 0);
    cr_assert_gt(kld, 0, "the final configuration is lossy: KLD > 0 (%g)", kld);
    cr_assert(qins_runfile_exists(f, "/plots/phase6_stability"));
    // the inputs are named (none here: an empty results dir, so forced with defaults)
    char *kv_run = NULL, *missing = NULL, *kv = NULL, *weights = NULL;
    cr_assert_eq(qins_runfile_attr_str(f, "/phase6", "kv_run", &kv_run), 0);
    cr_assert_str_eq(kv_run, "none");
    cr_assert_eq(qins_runfile_attr_str(f, "/phase6", "missing_inputs", &missing), 0);
    cr_assert(strstr(missing, "no phase-1 run") && strstr(missing, "no phase-3 run"), "%s", missing);
    cr_assert_eq(qins_runfile_attr_str(f, "/phase6", "kv", &kv), 0);
    cr_assert_eq(qins_runfile_attr_str(f, "/phase6", "weights", &weights), 0);
    // the production config carries the same choices and runs
    char prod[600];
    snprintf(prod, sizeof prod, "%s/prod.ini", res);
    struct qins_production p;
    cr_assert_eq(qins_production_read(prod, &p), 0);
    cr_assert_str_eq(p.kv_text, kv);
    char name[32];
    cr_assert_str_eq(qins_codec_name(&p.weights, name, sizeof name), weights);
    char model[1200], cmd[4096];
    cr_assert_eq(test_model_path("stories260K.gguf", model, sizeof model), 0);
    cr_assert_eq(p.fused, false, "no phase-4 run: the separate kernels");
    snprintf(cmd, sizeof cmd, "%s/qins generate --config %s --prompt 'Once upon a time' --tokens 24", QINS_TEST_BIN_DIR,
             prod);
    cr_assert_eq(test_run_cmd(cmd, out, sizeof out), 0, "%s", out);
    cr_assert(strstr(out, "kv qins8"), "%s", out);
    free(kv_run), free(missing), free(kv), free(weights);
    qins_runfile_close(f);
    free(m);
}

// With gate 5 recorded GO (a synthetic record), phase 6 runs unforced and must find its inputs.
Test(phase6, a_missing_input_run_is_one_error_line_and_no_file, .timeout = 120) {
    char res[512], gates[700];
    cr_assert_eq(test_tmpdir(res, sizeof res), 0);
    snprintf(gates, sizeof gates, "%s/gates.txt", res);
    FILE *g = fopen(gates, "w");
    cr_assert_not_null(g);
    fprintf(g, "5 | synthetic | * | x/ok | == | 1 | - | synthetic GO\n");
    fclose(g);
    const struct synth_metric ok = {"x/ok", 1, "bool"};
    char p5[1200];
    cr_assert_eq(synth_run(res, 5, "synthetic", false, &ok, 1, p5, sizeof p5), 0);
    struct qins_gate_defs defs;
    cr_assert_eq(qins_gate_defs_load(gates, &defs), 0);
    struct qins_gate_result r;
    cr_assert_eq(qins_gate_evaluate(&defs, 5, res, NULL, 0, &r), 0);
    cr_assert_eq(r.verdict, QINS_VERDICT_GO);
    cr_assert_eq(qins_gate_record(&r, res), 0);
    qins_gate_result_free(&r);
    qins_gate_defs_free(&defs);
    const int rc = run_phase6(res, "");
    cr_assert_neq(rc, 0, "%s", out);
    cr_assert(strstr(out, "phase 6 needs a phase-1 run (the KV choice)"), "%s", out);
    struct qins_run_meta *m = NULL;
    size_t n = 0, n_incomplete = 0;
    cr_assert_eq(qins_results_list(res, 6, &m, &n, &n_incomplete), 0);
    cr_assert_eq(n + n_incomplete, 0, "no run file, complete or not");
    free(m);
}
