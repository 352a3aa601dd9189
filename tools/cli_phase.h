// tools/cli_phase.h — running a phase binary from the front-end (`qins reproduce`, `qins run-all`):
// finds qins-phaseN beside this executable, runs it with the given arguments, waits, and finds
// the complete run file it added under results/phaseN. Prints one-line errors.
#pragma once
#include <stddef.h>

// Runs <dir of this executable>/qins-phase<phase> with args (NULL-terminated, argv[0] excluded),
// its output going to ours. On success (exit 0 and exactly one new complete run; the newest if
// it somehow wrote several) copies that run's path into new_run and returns 0. Returns 1 when
// the binary is missing, fails, or adds no complete run (each with a one-line error naming it);
// *exit_status (may be NULL) receives the child's exit status (-1: it did not exit normally).
int cli_run_phase(const char *cmd, int phase, const char *const *args, const char *results, char *new_run,
                  size_t cap, int *exit_status);
// Whether qins-phase<phase> exists (executable) beside this executable.
int cli_phase_built(int phase);
