// tests/helpers/run_checks.h — what the phase tests check of a phase binary's results folder and
// output: files of a phase, error lines, metrics that must be recorded (Criterion asserts).
#pragma once
#include "runfile.h"

// Files under res/phase<phase> whose name contains what (complete runs, temporaries, policies).
int test_count_phase_files(const char *res, int phase, const char *what);
// Occurrences of "error:" in out: a bad config must give exactly one.
int test_error_lines(const char *out);
// The metric's value; fails the test when it is not recorded.
double test_metric(qins_runfile_t *f, const char *name);
// A phase binary run with a bad config (extra: its --set) failed with exit status rc: exactly one
// error line that mentions needle, and no run file under res/phase<phase> (Criterion asserts).
void test_expect_config_error(int rc, const char *out, const char *res, int phase, const char *extra,
                              const char *needle);
// Runs qins-phase<phase> --force on stories260K and the TinyStories text (found as the tests find
// them; a missing file fails the test) into results dir res, with sets (its --set options) and
// extra appended; out receives stdout and stderr. Returns the exit status.
int test_run_phase(int phase, const char *res, const char *sets, const char *extra, char *out, size_t cap);
