// core/gate.h — gate definitions (gates/gates.txt), evaluation against run files, verdicts,
// the gate record (results/gates/gate-N.md + results/gates/gates.h5) and the check that
// phase binaries make at start (qins_gate_require). Does not own: the thresholds themselves
// (they live in gates.txt) or printing beyond the table. Errors: negative qins_status, logged.
//
// gates.txt: one criterion per line, fields separated by '|', '#' starts a comment line:
//   gate | id | select | metric | cmp | threshold | floor | wording
//   gate      0..9 (gate N reads runs of phase N)
//   id        short name; the id "decision" marks the decision row (at most one per gate); an
//             id starting with "target_" marks a success target: evaluated and shown as MET or
//             MISSED beside the criteria, but it never changes the verdict
//   select    "*" = newest complete non-forced run of phase N; "tag:NAME" = newest such run
//             whose [run] tag is NAME (e.g. single-layer, full)
//   metric    /metrics name in that run, e.g. qins8/token_match
//   cmp       >  >=  <  <=  ==  abs<  abs<=   (measured cmp threshold must hold)
//   threshold number; for the decision row "GO/PAUSE", e.g. 0.95/0.90 with cmp ">":
//             GO if measured > 0.95, PAUSE if measured >= 0.90, else NO-GO; or one number for
//             a decision with no PAUSE band (e.g. 0.85: GO if measured > 0.85, else NO-GO)
//   floor     noise-floor variant shown beside the measurement (same metric, other variant,
//             same run), e.g. fp16; "-" = none
//   wording   the plan's words, shown in reports
// Verdict: NO-GO if any criterion (target rows aside) fails (a missing metric or run fails,
// naming what is missing); otherwise the decision row's band if the gate has one, else GO.
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

enum qins_gate_cmp { QINS_CMP_GT = 1, QINS_CMP_GE, QINS_CMP_LT, QINS_CMP_LE, QINS_CMP_EQ, QINS_CMP_ABS_LT, QINS_CMP_ABS_LE };
enum qins_verdict { QINS_VERDICT_NOGO = 0, QINS_VERDICT_PAUSE = 1, QINS_VERDICT_GO = 2, QINS_VERDICT_NONE = -1 };

struct qins_gate_criterion {
    int gate, line;
    char id[48];
    char select[96];
    char metric[128];
    enum qins_gate_cmp cmp;
    double threshold;
    double pause;       // decision row: PAUSE lower bound (NaN: no PAUSE band)
    bool decision;
    bool target;        // id "target_*": reported (MET/MISSED), not part of the verdict
    char floor[48];     // "" = none
    char wording[256];
};

struct qins_gate_defs {
    struct qins_gate_criterion *c;
    size_t n;
    char path[1024];
};

// Finds gates.txt: $QINS_GATES, ./gates/gates.txt, <source>/gates/gates.txt. Returns QINS_OK or QINS_ERR_IO.
int qins_gate_defs_find(char *out, size_t cap);
// Parses a gates file. Returns QINS_OK or QINS_ERR_IO / QINS_ERR_FORMAT naming file:line.
int qins_gate_defs_load(const char *path, struct qins_gate_defs *out);
// Frees (NULL-safe; the struct may be zeroed).
void qins_gate_defs_free(struct qins_gate_defs *d);

struct qins_gate_row {
    struct qins_gate_criterion crit;
    char run_id[96];     // "" when no run matched
    char run_path[1024];
    double measured;     // NaN when missing
    bool missing;
    double floor_value;  // NaN when none
    bool has_floor;
    bool pass;           // decision row: band != NO-GO
    int band;            // decision row: enum qins_verdict
    char note[512];      // why it failed when missing ("metric X missing in run Y", "no run ...")
};

struct qins_gate_result {
    int gate;
    struct qins_gate_row *rows;
    size_t n_rows;
    int verdict;         // enum qins_verdict
    char runs[2048];     // run ids used, comma-separated
    char time[32];       // UTC ISO 8601
    char gates_path[1024];
    bool preview;        // evaluated a forced run (qins_gate_evaluate_preview): never recorded
};

// Evaluates gate `gate` over the newest complete non-forced runs of phase `gate` in
// results_dir, or over run_paths when n_run_paths > 0 (they must be complete, non-forced runs
// of that phase). Returns QINS_OK (the verdict is in out, whatever it is), QINS_ERR_RANGE if
// the gate has no criteria, or QINS_ERR_ARG for an unusable --run file.
int qins_gate_evaluate(const struct qins_gate_defs *defs, int gate, const char *results_dir,
                       const char *const *run_paths, size_t n_run_paths, struct qins_gate_result *out);
// The same table for run files that may be forced (`qins-gate N --preview-forced --run F`), for
// reading what a gate would say of an experiment run past a closed gate. out->preview is set;
// qins_gate_record refuses such a result, so it can never unlock the next phase.
int qins_gate_evaluate_preview(const struct qins_gate_defs *defs, int gate, const char *const *run_paths,
                               size_t n_run_paths, struct qins_gate_result *out);
// Frees (NULL-safe).
void qins_gate_result_free(struct qins_gate_result *r);
// "GO", "PAUSE", "NO-GO", "none".
const char *qins_verdict_str(int verdict);
// Prints the criterion / measured / threshold / floor / PASS-FAIL table and the verdict.
void qins_gate_print(FILE *f, const struct qins_gate_result *r);
// The verdict's reason in one line (what `qins run-all` prints in its chain of verdicts):
//   NO-GO: the first failing criterion: "<wording>: <measured> (needs <threshold>)", or its
//          note when the run or metric is missing, then "; K more fail" when others fail too;
//   PAUSE / GO with a decision row: the decision's wording and its measured value;
//   GO otherwise: "all K criteria pass". Targets never appear. Writes at most cap bytes.
void qins_gate_reason(const struct qins_gate_result *r, char *out, size_t cap);
// Writes results_dir/gates/gate-N.md and appends the evaluation to results_dir/gates/gates.h5
// (group /gate<N>/<time>; /gate<N> attributes latest_*). Returns QINS_OK or QINS_ERR_IO.
int qins_gate_record(const struct qins_gate_result *r, const char *results_dir);

// The text of one row as the table prints it.
struct qins_gate_row_text {
    char measured[32], threshold[64], floor[96];
    const char *result; // PASS / FAIL, or GO / PAUSE / NO-GO for the decision row
};
void qins_gate_row_format(const struct qins_gate_row *w, struct qins_gate_row_text *t);
// Reads the latest recorded evaluation of a gate back from gates.h5 into out (rows with their
// criteria, measurements and results). Returns QINS_OK, QINS_ERR_RANGE if never evaluated,
// or QINS_ERR_FORMAT. Free with qins_gate_result_free.
int qins_gate_load_latest(const char *results_dir, int gate, struct qins_gate_result *out);

struct qins_gate_status {
    int verdict;          // QINS_VERDICT_NONE when never evaluated
    char time[32];
    char runs[2048];
    char eval_id[64];     // group name under /gate<N>
};
// Reads the latest recorded evaluation of a gate. Returns QINS_OK (verdict NONE if never
// evaluated) or QINS_ERR_FORMAT for an unreadable gates.h5.
int qins_gate_latest(const char *results_dir, int gate, struct qins_gate_status *out);
// The check a phase makes at start: returns QINS_OK if gate `gate` is GO, or if `force` is
// true (then logs a warning; the phase must record forced = true); otherwise QINS_ERR_STATE
// with a message saying what the record says and how to proceed.
int qins_gate_require(int gate, const char *results_dir, bool force);
