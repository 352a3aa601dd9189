// tests/helpers/synth_runs.h — temp folders and synthetic run files for results/gate/report tests.
#pragma once
#include <stdbool.h>
#include <stddef.h>

struct synth_metric {
    const char *name;
    double value;
    const char *unit;
};

// Creates a fresh folder under $TMPDIR (or /tmp) and writes its path. Returns 0 or -1.
int test_tmpdir(char *out, size_t cap);
// Writes a complete run file of `phase` with the given metrics (and a config text that
// includes `tag`), sleeping nothing: names differ by config hash. Returns 0 or a negative
// status; the final path goes to path_out (may be NULL).
int synth_run(const char *results_dir, int phase, const char *tag, bool forced, const struct synth_metric *m,
              size_t n, char *path_out, size_t cap);
