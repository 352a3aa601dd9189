// tests/helpers/run_checks.c — see run_checks.h.
#include "run_checks.h"

#include <criterion/criterion.h>
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

int test_count_phase_files(const char *res, int phase, const char *what) {
    char dir[1200];
    snprintf(dir, sizeof dir, "%s/phase%d", res, phase);
    DIR *d = opendir(dir);
    if (!d) return 0;
    int n = 0;
    for (struct dirent *e; (e = readdir(d));) n += strstr(e->d_name, what) != NULL;
    closedir(d);
    return n;
}

int test_error_lines(const char *out) {
    int lines = 0;
    for (const char *p = strstr(out, "error:"); p; p = strstr(p + 1, "error:")) lines++;
    return lines;
}

double test_metric(qins_runfile_t *f, const char *name) {
    double v = NAN;
    cr_assert_eq(qins_runfile_metric(f, name, &v, NULL, 0), 0, "metric %s missing", name);
    return v;
}
