// tests/test_run_all.c — `qins run-all` on phases 0-1 with tiny configs: a gate that says NO-GO
// (a synthetic gates file whose gate 0 cannot pass) stops the chain before phase 1; --force runs
// phase 1 as a forced run whose gate is a preview that is never recorded; a chain of GO gates
// exits 0; bad arguments and a failing phase give one error line and their exit statuses.
#include <criterion/criterion.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gate.h"
#include "helpers/run_cmd.h"
#include "helpers/shared_paths.h"
#include "runfile.h"

static char out[1 << 17];

// A fresh results dir and a gates file with these gate-0 and gate-1 criteria.
static void setup(char *res, size_t cap, char *gates, size_t gcap, const char *gate0, const char *gate1) {
    snprintf(res, cap, "/tmp/qins_run_all_XXXXXX");
    cr_assert_not_null(mkdtemp(res));
    snprintf(gates, gcap, "%s/gates.txt", res);
    FILE *f = fopen(gates, "w");
    cr_assert_not_null(f);
    fprintf(f, "# synthetic gates for test_run_all\n%s\n%s\n", gate0, gate1);
    fclose(f);
}

// Runs qins run-all over phases 0-1 (tiny configs) with extra arguments; returns the exit status.
static int run_all(const char *res, const char *gates, const char *extra) {
    char model[1200], text[1200], cmd[8192];
    if (test_model_path("stories260K.gguf", model, sizeof model)) return -1;
    if (test_shared_path("data/tinystories_train_sample_2MiB.txt", text, sizeof text)) return -1;
    snprintf(cmd, sizeof cmd,
             "QINS_PROGRESS=0 %s/qins run-all --to 1 --results %s --gates %s --set run.model=%s --set run.eval_text=%s "
             "--set run.eval_slice=stories:0-40 --set run.calib_slice=none --set run.ctx=64 --set run.eval_chunks=2 "
             "--set run.prompts=derive:2 --set run.tokens=12 --set 1:phase1.variants=fp16,qins8 "
             "--set 1:phase1.alpha_sweep= --set 1:phase1.latency_tokens=16 --set 1:phase1.latency_contexts=16,24 "
             "--set 1:phase1.latency_reps=3 %s",
             QINS_TEST_BIN_DIR, res, gates, model, text, extra);
    return test_run_cmd(cmd, out, sizeof out);
}

// The complete runs of a phase in res (NULL-safe count).
static size_t n_runs(const char *res, int phase, bool *forced) {
    struct qins_run_meta *m = NULL;
    size_t n = 0;
    cr_assert_eq(qins_results_list(res, phase, &m, &n, NULL), 0);
    if (forced && n) *forced = m[0].forced;
    free(m);
    return n;
}

static char *slurp(const char *path) {
    FILE *f = fopen(path, "r");
    if (!f) return NULL;
    static char buf[1 << 16];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = 0;
    fclose(f);
    return buf;
}

#define GATE0_IMPOSSIBLE "0 | fp16_token_match | * | fp16/token_match | >= | 2 | - | synthetic: FP16 match >= 2"
#define GATE0_REAL "0 | fp16_token_match | * | fp16/token_match | >= | 0.9 | - | FP16 reproduces >= 90% of tokens"
#define GATE1_TRIVIAL "1 | qins8_finite | * | qins8/token_match | >= | 0 | fp16 | qins8 token match is a number"

Test(run_all, a_no_go_gate_stops_the_chain_without_force, .timeout = 300) {
    char res[64], gates[128];
    setup(res, sizeof res, gates, sizeof gates, GATE0_IMPOSSIBLE, GATE1_TRIVIAL);
    const int rc = run_all(res, gates, "--no-report");
    cr_assert_eq(rc, 1, "run-all exits 1 at a NO-GO gate, got %d:\n%s", rc, out);
    cr_assert(strstr(out, "gate 0 -> NO-GO -> synthetic: FP16 match >= 2: 1 (needs >= 2)"), "%s", out);
    cr_assert(strstr(out, "stopped at gate 0: NO-GO. Phase 1 onwards did not run"), "%s", out);
    cr_assert_eq(n_runs(res, 0, NULL), 1);
    cr_assert_eq(n_runs(res, 1, NULL), 0, "phase 1 must not run after a NO-GO without --force");
    struct qins_gate_status gs;
    cr_assert_eq(qins_gate_latest(res, 0, &gs), 0);
    cr_assert_eq(gs.verdict, QINS_VERDICT_NOGO, "the NO-GO is recorded like qins-gate records it");
    char md_path[128];
    snprintf(md_path, sizeof md_path, "%s/run-all.md", res);
    const char *md = slurp(md_path);
    cr_assert_not_null(md, "run-all.md written");
    cr_assert(strstr(md, "| 0 | NO-GO |") && strstr(md, "stopped at gate 0"), "%s", md);
}

Test(run_all, force_runs_the_rest_as_forced_runs_with_preview_gates, .timeout = 300) {
    char res[64], gates[128];
    setup(res, sizeof res, gates, sizeof gates, GATE0_IMPOSSIBLE, GATE1_TRIVIAL);
    const int rc = run_all(res, gates, "--force");
    cr_assert_eq(rc, 1, "a forced chain past a NO-GO still exits 1, got %d:\n%s", rc, out);
    bool forced0 = true, forced1 = false;
    cr_assert_eq(n_runs(res, 0, &forced0), 1);
    cr_assert_eq(n_runs(res, 1, &forced1), 1, "phase 1 runs with --force:\n%s", out);
    cr_assert(!forced0, "phase 0 has no gate before it: not forced");
    cr_assert(forced1, "phase 1 ran past a NO-GO: recorded forced");
    cr_assert(strstr(out, "gate 1 -> GO    (forced run, preview) -> all 1 criteria pass"), "%s", out);
    struct qins_gate_status gs;
    cr_assert_eq(qins_gate_latest(res, 1, &gs), 0);
    cr_assert_eq(gs.verdict, QINS_VERDICT_NONE, "a preview of a forced run is never recorded");
    cr_assert(strstr(out, "wrote ") && strstr(out, "report/index.html"), "the report is rendered:\n%s", out);
}

Test(run_all, every_gate_go_exits_zero, .timeout = 300) {
    char res[64], gates[128];
    setup(res, sizeof res, gates, sizeof gates, GATE0_REAL, GATE1_TRIVIAL);
    const int rc = run_all(res, gates, "--no-report");
    cr_assert_eq(rc, 0, "every gate GO: exit 0, got %d:\n%s", rc, out);
    cr_assert(strstr(out, "gate 0 -> GO") && strstr(out, "gate 1 -> GO    -> all 1 criteria pass"), "%s", out);
    cr_assert(strstr(out, "every gate says GO (phases 0-1)"), "%s", out);
    // --from 1 stands on the recorded gate 0 (GO): not forced
    const int rc2 = run_all(res, gates, "--from 1 --no-report");
    bool forced1 = true;
    cr_assert_eq(rc2, 0, "%s", out);
    cr_assert_eq(n_runs(res, 1, &forced1), 2);
    cr_assert(!forced1, "phase 1 after a recorded GO is not forced");
}

Test(run_all, bad_arguments_and_a_failing_phase, .timeout = 120) {
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "%s/qins run-all --from 7", QINS_TEST_BIN_DIR);
    cr_assert_eq(test_run_cmd(cmd, out, sizeof out), 2);
    cr_assert(strstr(out, "--from must be a phase 0..6, got '7'"), "%s", out);
    snprintf(cmd, sizeof cmd, "%s/qins run-all --from 2 --to 1", QINS_TEST_BIN_DIR);
    cr_assert_eq(test_run_cmd(cmd, out, sizeof out), 2);
    snprintf(cmd, sizeof cmd, "%s/qins run-all --bogus", QINS_TEST_BIN_DIR);
    cr_assert_eq(test_run_cmd(cmd, out, sizeof out), 2);
    cr_assert(strstr(out, "unknown option '--bogus'"), "%s", out);
    char res[64], gates[128];
    setup(res, sizeof res, gates, sizeof gates, GATE0_REAL, GATE1_TRIVIAL);
    // phase 1 is locked while gate 0 was never evaluated
    cr_assert_eq(run_all(res, gates, "--from 1"), 1);
    cr_assert(strstr(out, "gate 0 is not evaluated"), "%s", out);
    // a wrong key stops the chain at that phase, with the phase's own error line
    cr_assert_eq(run_all(res, gates, "--set 0:phase0.no_such_key=1 --no-report"), 3, "%s", out);
    cr_assert(strstr(out, "no_such_key") && strstr(out, "phase 0 failed: the chain stops here"), "%s", out);
    cr_assert_eq(n_runs(res, 0, NULL), 0, "no run file from a failed phase");
}
