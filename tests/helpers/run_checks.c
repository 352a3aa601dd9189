// tests/helpers/run_checks.c — see run_checks.h.
#include "run_checks.h"

#include <criterion/criterion.h>
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "run_cmd.h"
#include "shared_paths.h"

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

void test_expect_config_error(int rc, const char *out, const char *res, int phase, const char *extra,
                              const char *needle) {
    cr_assert_neq(rc, 0, "qins-phase%d %s should fail", phase, extra);
    cr_assert_eq(test_error_lines(out), 1, "%s: expected one error line, got:\n%s", extra, out);
    cr_assert_not_null(strstr(out, needle), "%s: the error should mention '%s', got: %s", extra, needle, out);
    cr_assert_eq(test_count_phase_files(res, phase, ".h5"), 0, "%s: no run file is left behind", extra);
}

int test_run_phase(int phase, const char *res, const char *sets, const char *extra, char *out, size_t cap) {
    char model[1200], text[1200], cmd[8192];
    cr_assert_eq(test_model_path("stories260K.gguf", model, sizeof model), 0, "stories260K.gguf not found");
    cr_assert_eq(test_shared_path("data/tinystories_train_sample_2MiB.txt", text, sizeof text), 0,
                 "the TinyStories text was not found");
    snprintf(cmd, sizeof cmd, "QINS_PROGRESS=0 %s/qins-phase%d --force --results %s --set run.model=%s --set run.eval_text=%s %s %s",
             QINS_TEST_BIN_DIR, phase, res, model, text, sets, extra);
    return test_run_cmd(cmd, out, cap);
}
