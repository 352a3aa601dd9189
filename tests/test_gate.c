// tests/test_gate.c — gate evaluation on synthetic run files: PASS, FAIL, missing metric,
// forced runs ignored, tags, the phase-2 three-way decision, records and qins_gate_require.
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "gate.h"
#include "helpers/synth_runs.h"
#include "results.h"

static const char *GATES =
    "# test gates\n"
    "1 | compression | * | qins8/kv_compression_vs_fp16 | > | 2 | - | KV compression > 2x\n"
    "1 | match | * | qins8/token_match | > | 0.99 | fp16 | token match > 99%\n"
    "2 | layer0 | tag:single-layer | jacobian/token_match | > | 0.95 | - | single layer > 95%\n"
    "2 | full | tag:full | jacobian/token_match | > | 0.90 | fp16 | full > 90%\n"
    "2 | finite | tag:full | jacobian/nonfinite_count | == | 0 | - | no NaN/Inf\n"
    "2 | decision | tag:full | jacobian/token_match | > | 0.95/0.90 | fp16 | GO/PAUSE/NO-GO\n"
    "2 | target_err | tag:single-layer | jacobian/rel_error | < | 0.01 | - | target: error < 1%\n"
    "3 | err | * | e/ppl_delta_pct | abs< | 1 | - | within 1%\n"
    "5 | decision | * | m/token_match | > | 0.85 | - | two bands: > 85% GO, else NO-GO\n";

static char dir[512];
static struct qins_gate_defs defs;

static void setup(void) {
    cr_assert_eq(test_tmpdir(dir, sizeof dir), 0);
    char path[700];
    snprintf(path, sizeof path, "%s/gates.txt", dir);
    FILE *f = fopen(path, "w");
    fputs(GATES, f);
    fclose(f);
    cr_assert_eq(qins_gate_defs_load(path, &defs), QINS_OK);
}
static void teardown(void) { qins_gate_defs_free(&defs); }
TestSuite(gate, .init = setup, .fini = teardown);

static int eval(int gate, struct qins_gate_result *r) { return qins_gate_evaluate(&defs, gate, dir, NULL, 0, r); }

Test(gate, all_criteria_pass_is_go) {
    struct synth_metric m[] = {{"qins8/kv_compression_vs_fp16", 3.7, "ratio"}, {"qins8/token_match", 0.995, "fraction"},
                               {"fp16/token_match", 1.0, "fraction"}};
    cr_assert_eq(synth_run(dir, 1, "", false, m, 3, NULL, 0), QINS_OK);
    struct qins_gate_result r;
    cr_assert_eq(eval(1, &r), QINS_OK);
    cr_assert_eq(r.n_rows, 2);
    cr_assert(r.rows[0].pass && r.rows[1].pass);
    cr_assert_eq(r.verdict, QINS_VERDICT_GO);
    cr_assert(r.rows[1].has_floor, "fp16 floor shown");
    cr_assert_eq(r.rows[1].floor_value, 1.0);
    cr_assert_float_eq(r.rows[0].measured, 3.7, 0);
    qins_gate_result_free(&r);
}

Test(gate, one_failure_is_nogo) {
    struct synth_metric m[] = {{"qins8/kv_compression_vs_fp16", 3.7, "ratio"}, {"qins8/token_match", 0.99, "fraction"}};
    cr_assert_eq(synth_run(dir, 1, "", false, m, 2, NULL, 0), QINS_OK);
    struct qins_gate_result r;
    cr_assert_eq(eval(1, &r), QINS_OK);
    cr_assert(r.rows[0].pass);
    cr_assert_not(r.rows[1].pass, "0.99 is not > 0.99");
    cr_assert_not(r.rows[1].has_floor, "no fp16 metric in the run");
    cr_assert_eq(r.verdict, QINS_VERDICT_NOGO);
    qins_gate_result_free(&r);
}

Test(gate, missing_metric_fails_and_says_which) {
    struct synth_metric m[] = {{"qins8/token_match", 1.0, "fraction"}};
    cr_assert_eq(synth_run(dir, 1, "", false, m, 1, NULL, 0), QINS_OK);
    struct qins_gate_result r;
    cr_assert_eq(eval(1, &r), QINS_OK);
    cr_assert(r.rows[0].missing);
    cr_assert_not(r.rows[0].pass);
    cr_assert(strstr(r.rows[0].note, "metric qins8/kv_compression_vs_fp16 missing in run"), "%s", r.rows[0].note);
    cr_assert_eq(r.verdict, QINS_VERDICT_NOGO);
    qins_gate_result_free(&r);
}

Test(gate, nan_metric_fails) {
    struct synth_metric m[] = {{"e/ppl_delta_pct", NAN, "pct"}};
    cr_assert_eq(synth_run(dir, 3, "", false, m, 1, NULL, 0), QINS_OK);
    struct qins_gate_result r;
    cr_assert_eq(eval(3, &r), QINS_OK);
    cr_assert_not(r.rows[0].pass);
    cr_assert_eq(r.verdict, QINS_VERDICT_NOGO);
    qins_gate_result_free(&r);
}

Test(gate, abs_comparator) {
    struct synth_metric m[] = {{"e/ppl_delta_pct", -0.5, "pct"}};
    cr_assert_eq(synth_run(dir, 3, "", false, m, 1, NULL, 0), QINS_OK);
    struct qins_gate_result r;
    cr_assert_eq(eval(3, &r), QINS_OK);
    cr_assert_eq(r.verdict, QINS_VERDICT_GO);
    qins_gate_result_free(&r);
}

Test(gate, no_runs_is_nogo) {
    struct qins_gate_result r;
    cr_assert_eq(eval(1, &r), QINS_OK);
    cr_assert_eq(r.verdict, QINS_VERDICT_NOGO);
    cr_assert(strstr(r.rows[0].note, "no complete, non-forced phase-1 run"), "%s", r.rows[0].note);
    qins_gate_result_free(&r);
    cr_assert_eq(eval(7, &r), QINS_ERR_RANGE, "a gate without criteria is an error, not a pass");
}

Test(gate, forced_runs_are_ignored) {
    struct synth_metric good[] = {{"qins8/kv_compression_vs_fp16", 3, ""}, {"qins8/token_match", 1, ""}};
    struct synth_metric bad[] = {{"qins8/kv_compression_vs_fp16", 1, ""}, {"qins8/token_match", 0.5, ""}};
    // Only a forced run: nothing to evaluate.
    char forced_path[1200];
    cr_assert_eq(synth_run(dir, 1, "", true, good, 2, forced_path, sizeof forced_path), QINS_OK);
    struct qins_gate_result r;
    cr_assert_eq(eval(1, &r), QINS_OK);
    cr_assert_eq(r.verdict, QINS_VERDICT_NOGO, "a forced run never passes a gate");
    qins_gate_result_free(&r);
    // A non-forced bad run, then a newer forced good one: the bad one counts.
    cr_assert_eq(synth_run(dir, 1, "", false, bad, 2, NULL, 0), QINS_OK);
    cr_assert_eq(synth_run(dir, 1, "", true, good, 2, NULL, 0), QINS_OK);
    cr_assert_eq(eval(1, &r), QINS_OK);
    cr_assert_eq(r.verdict, QINS_VERDICT_NOGO);
    cr_assert_float_eq(r.rows[1].measured, 0.5, 0);
    qins_gate_result_free(&r);
    // Naming the forced run explicitly is refused.
    const char *runs[] = {forced_path};
    cr_assert_eq(qins_gate_evaluate(&defs, 1, dir, runs, 1, &r), QINS_ERR_ARG);
    // A preview shows what the gate would say of it, and can never be recorded.
    cr_assert_eq(qins_gate_evaluate_preview(&defs, 1, runs, 1, &r), QINS_OK);
    cr_assert(r.preview);
    cr_assert_eq(r.verdict, QINS_VERDICT_GO);
    cr_assert_eq(qins_gate_record(&r, dir), QINS_ERR_STATE, "a preview is never recorded");
    qins_gate_result_free(&r);
    struct qins_gate_status g;
    cr_assert_eq(qins_gate_latest(dir, 1, &g), QINS_OK);
    cr_assert_eq(g.verdict, QINS_VERDICT_NONE, "nothing was recorded for gate 1");
}

Test(gate, named_runs_override_the_newest) {
    struct synth_metric good[] = {{"qins8/kv_compression_vs_fp16", 3, ""}, {"qins8/token_match", 1, ""}};
    struct synth_metric bad[] = {{"qins8/kv_compression_vs_fp16", 1, ""}, {"qins8/token_match", 0.5, ""}};
    char good_path[1200], p2[1200];
    cr_assert_eq(synth_run(dir, 1, "", false, good, 2, good_path, sizeof good_path), QINS_OK);
    cr_assert_eq(synth_run(dir, 1, "", false, bad, 2, NULL, 0), QINS_OK);
    struct qins_gate_result r;
    const char *runs[] = {good_path};
    cr_assert_eq(qins_gate_evaluate(&defs, 1, dir, runs, 1, &r), QINS_OK);
    cr_assert_eq(r.verdict, QINS_VERDICT_GO);
    qins_gate_result_free(&r);
    cr_assert_eq(synth_run(dir, 2, "full", false, good, 1, p2, sizeof p2), QINS_OK);
    const char *wrong[] = {p2};
    cr_assert_eq(qins_gate_evaluate(&defs, 1, dir, wrong, 1, &r), QINS_ERR_ARG, "a phase-2 run for gate 1");
}

static int phase2(double full_match, double layer0_match, double nonfinite) {
    char d[512];
    cr_assert_eq(test_tmpdir(d, sizeof d), 0);
    struct synth_metric layer[] = {{"jacobian/token_match", layer0_match, "fraction"}};
    struct synth_metric full[] = {{"jacobian/token_match", full_match, "fraction"},
                                  {"jacobian/nonfinite_count", nonfinite, "count"},
                                  {"fp16/token_match", 0.999, "fraction"}};
    cr_assert_eq(synth_run(d, 2, "single-layer", false, layer, 1, NULL, 0), QINS_OK);
    cr_assert_eq(synth_run(d, 2, "full", false, full, 3, NULL, 0), QINS_OK);
    struct qins_gate_result r;
    cr_assert_eq(qins_gate_evaluate(&defs, 2, d, NULL, 0, &r), QINS_OK);
    cr_assert(strchr(r.runs, ','), "two runs used (single-layer and full): %s", r.runs);
    int v = r.verdict;
    qins_gate_result_free(&r);
    return v;
}

Test(gate, phase2_three_way_decision) {
    cr_assert_eq(phase2(0.97, 0.99, 0), QINS_VERDICT_GO);
    cr_assert_eq(phase2(0.93, 0.99, 0), QINS_VERDICT_PAUSE);
    cr_assert_eq(phase2(0.95, 0.99, 0), QINS_VERDICT_PAUSE, "exactly 95% is not > 95%");
    cr_assert_eq(phase2(0.85, 0.99, 0), QINS_VERDICT_NOGO);
    cr_assert_eq(phase2(0.97, 0.90, 0), QINS_VERDICT_NOGO, "single layer below 95% fails the gate");
    cr_assert_eq(phase2(0.97, 0.99, 2), QINS_VERDICT_NOGO, "NaN/Inf seen");
}

// A decision with one threshold has no PAUSE band: exactly 0.85 is NO-GO, not PAUSE.
Test(gate, two_band_decision_has_no_pause) {
    const double values[] = {0.9, 0.85, 0.5};
    const int want[] = {QINS_VERDICT_GO, QINS_VERDICT_NOGO, QINS_VERDICT_NOGO};
    for (int i = 0; i < 3; i++) {
        char sub[700];
        snprintf(sub, sizeof sub, "%s/two-band-%d", dir, i);
        struct synth_metric m[] = {{"m/token_match", values[i], "fraction"}};
        cr_assert_eq(synth_run(sub, 5, "", false, m, 1, NULL, 0), QINS_OK);
        struct qins_gate_result r;
        cr_assert_eq(qins_gate_evaluate(&defs, 5, sub, NULL, 0, &r), QINS_OK);
        cr_assert_eq(r.verdict, want[i], "token match %g", values[i]);
        cr_assert(isnan(r.rows[0].crit.pause));
        qins_gate_result_free(&r);
    }
}

// target_* rows are evaluated and shown (MET / MISSED) but never change the verdict: the
// three-way tests above reach GO while the single-layer runs lack jacobian/rel_error.
Test(gate, target_rows_are_reported_and_do_not_decide) {
    char d[512];
    cr_assert_eq(test_tmpdir(d, sizeof d), 0);
    for (int k = 0; k < 2; k++) {
        struct synth_metric layer[] = {{"jacobian/token_match", 0.99, "fraction"},
                                       {"jacobian/rel_error", k ? 0.005 : 0.5, "fraction"}};
        struct synth_metric full[] = {{"jacobian/token_match", 0.97, "fraction"}, {"jacobian/nonfinite_count", 0, "count"}};
        cr_assert_eq(synth_run(d, 2, "single-layer", false, layer, 2, NULL, 0), QINS_OK);
        cr_assert_eq(synth_run(d, 2, "full", false, full, 2, NULL, 0), QINS_OK);
        struct qins_gate_result r;
        cr_assert_eq(qins_gate_evaluate(&defs, 2, d, NULL, 0, &r), QINS_OK);
        cr_assert_eq(r.verdict, QINS_VERDICT_GO, "case %d: a target never decides", k);
        const struct qins_gate_row *t = NULL;
        for (size_t i = 0; i < r.n_rows; i++)
            if (!strcmp(r.rows[i].crit.id, "target_err")) t = &r.rows[i];
        cr_assert_not_null(t);
        cr_assert(t->crit.target);
        cr_assert_float_eq(t->measured, k ? 0.005 : 0.5, 1e-12);
        struct qins_gate_row_text txt;
        qins_gate_row_format(t, &txt);
        cr_assert_str_eq(txt.result, k ? "MET" : "MISSED");
        cr_assert_eq(qins_gate_record(&r, d), QINS_OK);
        qins_gate_result_free(&r);
        struct qins_gate_result back;
        cr_assert_eq(qins_gate_load_latest(d, 2, &back), QINS_OK);
        for (size_t i = 0; i < back.n_rows; i++)
            if (!strcmp(back.rows[i].crit.id, "target_err")) {
                cr_assert(back.rows[i].crit.target, "read back as a target");
                cr_assert_eq(back.rows[i].pass, k == 1);
            }
        qins_gate_result_free(&back);
    }
}

Test(gate, record_and_require) {
    cr_assert_eq(qins_gate_require(1, dir, false), QINS_ERR_STATE, "never evaluated");
    cr_assert(strstr(qins_last_error(), "has never been evaluated"), "%s", qins_last_error());
    cr_assert_eq(qins_gate_require(1, dir, true), QINS_OK, "--force runs anyway");
    struct synth_metric bad[] = {{"qins8/kv_compression_vs_fp16", 1, ""}, {"qins8/token_match", 0.5, ""}};
    cr_assert_eq(synth_run(dir, 1, "", false, bad, 2, NULL, 0), QINS_OK);
    struct qins_gate_result r;
    cr_assert_eq(eval(1, &r), QINS_OK);
    cr_assert_eq(qins_gate_record(&r, dir), QINS_OK);
    qins_gate_result_free(&r);
    cr_assert_eq(qins_gate_require(1, dir, false), QINS_ERR_STATE);
    cr_assert(strstr(qins_last_error(), "is NO-GO"), "%s", qins_last_error());
    struct synth_metric good[] = {{"qins8/kv_compression_vs_fp16", 3, ""}, {"qins8/token_match", 1, ""}};
    cr_assert_eq(synth_run(dir, 1, "", false, good, 2, NULL, 0), QINS_OK);
    cr_assert_eq(eval(1, &r), QINS_OK);
    cr_assert_eq(r.verdict, QINS_VERDICT_GO);
    cr_assert_eq(qins_gate_record(&r, dir), QINS_OK);
    char runs[2048];
    snprintf(runs, sizeof runs, "%s", r.runs);
    qins_gate_result_free(&r);
    cr_assert_eq(qins_gate_require(1, dir, false), QINS_OK);
    cr_assert_eq(qins_gate_require(2, dir, false), QINS_ERR_STATE, "gate 2 untouched");
    // The record reads back.
    struct qins_gate_status s;
    cr_assert_eq(qins_gate_latest(dir, 1, &s), QINS_OK);
    cr_assert_eq(s.verdict, QINS_VERDICT_GO);
    cr_assert_str_eq(s.runs, runs);
    struct qins_gate_result back;
    cr_assert_eq(qins_gate_load_latest(dir, 1, &back), QINS_OK);
    cr_assert_eq(back.n_rows, 2);
    cr_assert_str_eq(back.rows[1].crit.metric, "qins8/token_match");
    cr_assert_eq(back.rows[1].measured, 1.0);
    cr_assert(back.rows[1].pass);
    struct qins_gate_row_text t;
    qins_gate_row_format(&back.rows[1], &t);
    cr_assert_str_eq(t.threshold, "> 0.99");
    cr_assert_str_eq(t.result, "PASS");
    qins_gate_result_free(&back);
    char md[700];
    snprintf(md, sizeof md, "%s/gates/gate-1.md", dir);
    FILE *f = fopen(md, "r");
    cr_assert(f, "gate-1.md written");
    char buf[4096];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = 0;
    fclose(f);
    cr_assert(strstr(buf, "# Gate 1: GO"), "%s", buf);
    cr_assert(strstr(buf, "| match | `qins8/token_match` |"), "%s", buf);
}

Test(gate, gates_file_errors_name_the_line) {
    char path[700];
    snprintf(path, sizeof path, "%s/bad.txt", dir);
    const char *bad[] = {"1 | a | * | m | > | 2 | -\n", "1 | a | * | m | >> | 2 | - | w\n",
                         "1 | a | any | m | > | 2 | - | w\n", "# c\n\n1 | a | * | m | > | x | - | w\n",
                         "2 | decision | * | m | < | 0.9 | - | w\n", "1 | a | * | m | > | 1 | - | w\n1 | a | * | n | > | 1 | - | w\n"};
    int lines[] = {1, 1, 1, 3, 1, 2};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        FILE *f = fopen(path, "w");
        fputs(bad[i], f);
        fclose(f);
        struct qins_gate_defs d;
        cr_assert_eq(qins_gate_defs_load(path, &d), QINS_ERR_FORMAT, "case %zu", i);
        char want[800];
        snprintf(want, sizeof want, "%s:%d:", path, lines[i]);
        cr_assert(strstr(qins_last_error(), want), "case %zu: %s", i, qins_last_error());
    }
}

Test(gate, shipped_gates_file_defines_the_plan) {
    const char *src = getenv("QINS_SOURCE_DIR");
    cr_assert(src);
    char path[1024];
    snprintf(path, sizeof path, "%s/gates/gates.txt", src);
    struct qins_gate_defs d;
    cr_assert_eq(qins_gate_defs_load(path, &d), QINS_OK);
    int per_gate[10] = {0}, decisions[10] = {0};
    for (size_t i = 0; i < d.n; i++) {
        per_gate[d.c[i].gate]++;
        decisions[d.c[i].gate] += d.c[i].decision;
    }
    for (int g = 0; g <= 6; g++) cr_assert_gt(per_gate[g], 0, "gate %d has criteria", g);
    cr_assert_eq(decisions[2], 1, "gate 2 has the GO/PAUSE/NO-GO decision");
    // Gate 2 reads the best variant of each scope from one run (phases/phase2.c writes these)
    int best_rows = 0, targets = 0;
    for (size_t i = 0; i < d.n; i++) {
        if (d.c[i].gate != 2) continue;
        best_rows += !strncmp(d.c[i].metric, "best_layer0/", 12) || !strncmp(d.c[i].metric, "best_full/", 10);
        targets += d.c[i].target;
    }
    cr_assert_eq(best_rows, per_gate[2], "every gate-2 row reads best_layer0/* or best_full/*");
    cr_assert_eq(targets, 3, "error < 1%%, PPL < +5%%, decode ops -50%% are targets");
    qins_gate_defs_free(&d);
}

// The one-line reason run-all prints: the first failing criterion (or its missing-metric note)
// and how many more fail; the decision's band when nothing fails; targets never count.
Test(gate, reason_names_the_first_failing_criterion_or_the_decision) {
    struct qins_gate_row rows[3];
    memset(rows, 0, sizeof rows);
    snprintf(rows[0].crit.wording, sizeof rows[0].crit.wording, "token match > 99%%");
    rows[0].crit.cmp = QINS_CMP_GT, rows[0].crit.threshold = 0.99, rows[0].measured = 0.5;
    snprintf(rows[1].crit.wording, sizeof rows[1].crit.wording, "a target");
    rows[1].crit.target = true, rows[1].crit.cmp = QINS_CMP_LT, rows[1].crit.threshold = 1, rows[1].measured = 2;
    snprintf(rows[2].crit.wording, sizeof rows[2].crit.wording, "decision: > 95%% GO");
    rows[2].crit.decision = true, rows[2].crit.cmp = QINS_CMP_GT, rows[2].crit.threshold = 0.95;
    rows[2].crit.pause = 0.9, rows[2].measured = 0.92, rows[2].pass = true, rows[2].band = QINS_VERDICT_PAUSE;
    struct qins_gate_result r = {.gate = 2, .rows = rows, .n_rows = 3, .verdict = QINS_VERDICT_NOGO};
    char why[256];
    qins_gate_reason(&r, why, sizeof why);
    cr_assert_str_eq(why, "token match > 99%: 0.5 (needs > 0.99)");
    rows[2].pass = false;
    qins_gate_reason(&r, why, sizeof why);
    cr_assert_str_eq(why, "token match > 99%: 0.5 (needs > 0.99); 1 more fail");
    rows[0].missing = true;
    snprintf(rows[0].note, sizeof rows[0].note, "metric x/token_match missing in run R");
    qins_gate_reason(&r, why, sizeof why);
    cr_assert_str_eq(why, "token match > 99%: metric x/token_match missing in run R; 1 more fail");
    rows[0].pass = true, rows[0].missing = false, rows[2].pass = true;
    qins_gate_reason(&r, why, sizeof why);
    cr_assert(strstr(why, "decision: > 95% GO: 0.92 (PAUSE)"), "%s", why);
    r.n_rows = 2;
    qins_gate_reason(&r, why, sizeof why);
    cr_assert_str_eq(why, "all 1 criteria pass", "the target row is not a criterion");
}
