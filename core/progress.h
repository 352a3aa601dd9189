// core/progress.h — a one-line progress bar (bar, count, rate, ETA) for long runners.
// Owns: drawing on stderr, only when stderr is a TTY (and QINS_PROGRESS is not "0"); silent
// otherwise, so logs and CI output stay clean. Does not own: timing of the work itself.
// Cannot fail: every function is a no-op when disabled.
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct qins_progress {
    char label[48];
    const char *unit;   // e.g. "tok", "windows" (static string)
    uint64_t total;     // 0 = unknown (no bar, no ETA)
    uint64_t done;
    double t0;          // qins_time_now() at init
    double last_draw;   // rate-limits redraws to ~10 per second
    bool enabled;
};

// Starts a bar. Returns nothing; enabled only if stderr is a TTY and QINS_PROGRESS != "0".
void qins_progress_init(struct qins_progress *p, const char *label, uint64_t total, const char *unit);
// Sets the number of finished items and redraws (at most ~10 times per second). Returns nothing.
void qins_progress_update(struct qins_progress *p, uint64_t done);
// Draws the final state and ends the line. Returns nothing.
void qins_progress_finish(struct qins_progress *p);
// Formats the line for `done` items after `elapsed` seconds into buf (what the bar shows).
// Returns the length written. Exposed for tests.
size_t qins_progress_format(const struct qins_progress *p, double elapsed, char *buf, size_t cap);
