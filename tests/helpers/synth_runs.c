// tests/helpers/synth_runs.c — synthetic run files through the public results API.
#include "synth_runs.h"

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common.h"
#include "results.h"

static char made[16][512];
static int n_made;
static pid_t owner;

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
    (void)sb, (void)flag, (void)ftw;
    return remove(path);
}

// Removes the folders this process made (set QINS_KEEP_TMP=1 to keep them for debugging).
static void cleanup(void) {
    const char *keep = getenv("QINS_KEEP_TMP");
    if (getpid() != owner || (keep && *keep == '1')) return; // not in forked children of a test
    for (int i = 0; i < n_made; i++) nftw(made[i], rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

int test_tmpdir(char *out, size_t cap) {
    const char *base = getenv("TMPDIR");
    snprintf(out, cap, "%s/qins-test-XXXXXX", base && *base ? base : "/tmp");
    if (!mkdtemp(out)) return -1;
    if (!n_made) {
        owner = getpid();
        atexit(cleanup);
    }
    if (n_made < 16) snprintf(made[n_made++], sizeof made[0], "%s", out);
    return 0;
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
