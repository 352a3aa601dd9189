// tests/test_progress.c — the bar's text, and silence when stderr is not a TTY.
#include <criterion/criterion.h>
#include <criterion/redirect.h>
#include <string.h>

#include "progress.h"

Test(progress, format_shows_count_rate_and_eta) {
    struct qins_progress p;
    qins_progress_init(&p, "ppl", 100, "windows");
    p.done = 25;
    char line[256];
    qins_progress_format(&p, 10.0, line, sizeof line);
    cr_assert(strstr(line, "25/100 windows"), "%s", line);
    cr_assert(strstr(line, "2.5 windows/s"), "%s", line);
    cr_assert(strstr(line, "ETA 00:30"), "25 done in 10 s -> 75 left at 2.5/s = 30 s: %s", line);
    cr_assert(strstr(line, "[#######......."), "a quarter of the bar filled: %s", line);
}

Test(progress, unknown_total_has_no_eta) {
    struct qins_progress p;
    qins_progress_init(&p, "gen", 0, "tok");
    p.done = 7;
    char line[256];
    qins_progress_format(&p, 2.0, line, sizeof line);
    cr_assert(strstr(line, "7 tok 3.5 tok/s"), "%s", line);
    cr_assert_null(strstr(line, "ETA"), "%s", line);
}

Test(progress, silent_when_stderr_is_not_a_tty, .init = cr_redirect_stderr) {
    struct qins_progress p;
    qins_progress_init(&p, "x", 10, "it");
    cr_assert_not(p.enabled, "stderr is redirected, so the bar must be off");
    for (int i = 0; i <= 10; i++) qins_progress_update(&p, (uint64_t)i);
    qins_progress_finish(&p);
    fflush(stderr);
    cr_assert_stderr_eq_str("");
}
