// tests/helpers/synth_runs.c — synthetic run files through the public results API.
#include "synth_runs.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "results.h"

int test_tmpdir(char *out, size_t cap) {
    const char *base = getenv("TMPDIR");
    snprintf(out, cap, "%s/qins-test-XXXXXX", base && *base ? base : "/tmp");
    return mkdtemp(out) ? 0 : -1;
}

int synth_run(const char *results_dir, int phase, const char *tag, bool forced, const struct synth_metric *m,
              size_t n, char *path_out, size_t cap) {
    static int counter;
    char config[256];
    // The counter makes every config (hence run id) distinct within one process.
    snprintf(config, sizeof config, "[run]\ntag = %s\nnote = synthetic %d\n", tag ? tag : "", ++counter);
    struct qins_run_info info = {.phase = phase, .results_dir = results_dir, .config_text = config,
                                 .threads = 1, .forced = forced, .tag = tag};
    qins_run_t *r;
    QINS_TRY(qins_run_begin(&r, &info));
    for (size_t i = 0; i < n; i++) {
        int st = qins_run_metric(r, m[i].name, m[i].value, m[i].unit);
        if (st < 0) {
            qins_run_abort(r);
            return st;
        }
    }
    return qins_run_commit(r, path_out, cap);
}
