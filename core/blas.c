// core/blas.c — the OpenBLAS core check and its one re-exec (core/blas.h).
#include "blas.h"

#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>
#include <unistd.h>

#include "common.h"

// OpenBLAS's DYNAMIC_ARCH cores that use neither AVX2 nor FMA: the fallbacks of an OpenBLAS
// that does not recognise a CPU (Debian 12's 0.3.21 lands on Prescott, 4-5x slower sgemm).
static const char *const pre_avx2_cores[] = {
    "generic", "unknown", "Katmai", "Coppermine", "Northwood", "Prescott", "Banias", "Core2", "Penryn",
    "Dunnington", "Nehalem", "Atom", "Sandybridge", "Nano", "Athlon", "Opteron", "Opteron_SSE3", "Barcelona",
    "Bobcat", "Bulldozer", "Piledriver", "Steamroller", "Excavator", NULL};

const char *qins_blas_wanted_core(const struct qins_cpu_features *f, const char *loaded) {
    if (!f->avx2 || !f->fma || !loaded) return NULL;
    bool weak = !loaded[0];
    for (size_t i = 0; pre_avx2_cores[i] && !weak; i++) weak = !strcasecmp(loaded, pre_avx2_cores[i]);
    if (!weak) return NULL;
    if (f->avx512f && f->avx512bw && f->avx512vl) return f->avx512_bf16 ? "Cooperlake" : "SkylakeX";
    return "Haswell";
}

static const char *env(const char *name) {
    const char *v = getenv(name);
    return v && v[0] ? v : NULL;
}

static const char *loaded_core(void) {
    const char *c = openblas_get_corename();
    return c ? c : "";
}

// Sets OPENBLAS_CORETYPE and the guard, then replaces this process. Returns only on failure.
static void reexec(const char *core, const char *why, char **argv) {
    setenv("OPENBLAS_CORETYPE", core, 1);
    setenv("QINS_BLAS_REEXEC", "1", 1);
    setenv("QINS_BLAS_FROM", loaded_core(), 1);
    fflush(stdout);
    fflush(stderr);
    execv("/proc/self/exe", argv);
    qins_log(QINS_LOG_WARN, "%s: cannot re-exec with OPENBLAS_CORETYPE=%s (%s): continuing with the %s core",
             __func__, core, why, loaded_core());
    unsetenv("OPENBLAS_CORETYPE");
    unsetenv("QINS_BLAS_REEXEC");
    unsetenv("QINS_BLAS_FROM");
}

// True when argv0 names this executable (basename of /proc/self/exe): a test that hands
// qins_exp_open a made-up argv in-process must not re-execute the test binary.
static bool own_command_line(const char *argv0) {
    char self[4096];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0) return false;
    self[n] = 0;
    const char *a = strrchr(argv0, '/'), *b = strrchr(self, '/');
    return !strcmp(a ? a + 1 : argv0, b ? b + 1 : self);
}

int qins_blas_select(int argc, char **argv) {
    if (argc < 1 || !argv || !argv[0]) return 0;
    if (env("QINS_BLAS_REEXEC")) { // this is the re-exec: never a second one
        // OpenBLAS falls back to its own choice for a name it does not know ("none", a typo):
        // a run would then carry figures of a core nobody asked for.
        const char *asked = env("QINS_BLAS_CORE"), *set = env("OPENBLAS_CORETYPE");
        const bool for_user = asked && set && !strcasecmp(asked, set); // this re-exec was QINS_BLAS_CORE's
        QINS_CHECK(!for_user || !strcasecmp(asked, loaded_core()), QINS_ERR_ARG, "QINS_BLAS_CORE=%s: OpenBLAS %s has no such core (it loaded %s; e.g. Haswell, "
                   "SkylakeX, Cooperlake, Zen, Prescott)", asked, openblas_get_config(), loaded_core());
        return 0;
    }
    if (!own_command_line(argv[0])) return 0;
    const char *user = env("OPENBLAS_CORETYPE"), *qins = env("QINS_BLAS_CORE"), *core = loaded_core();
    if (user) {
        if (qins && strcasecmp(qins, user))
            qins_log(QINS_LOG_WARN, "%s: OPENBLAS_CORETYPE=%s is set: QINS_BLAS_CORE=%s is ignored", __func__, user, qins);
        return 0;
    }
    if (qins) {
        if (strcasecmp(qins, core)) reexec(qins, "QINS_BLAS_CORE", argv);
        return 0;
    }
    struct qins_cpu_features f;
    qins_cpu_features_get(&f);
    const char *want = qins_blas_wanted_core(&f, core);
    if (want) {
        qins_log(QINS_LOG_WARN, "%s: OpenBLAS chose the %s core on %s (%s): re-running with OPENBLAS_CORETYPE=%s",
                 __func__, core, f.model, f.avx512f ? "AVX-512" : "AVX2+FMA", want);
        reexec(want, "under-used CPU", argv);
    }
    return 0;
}

int qins_blas_info_get(struct qins_blas_info *out) {
    memset(out, 0, sizeof *out);
    snprintf(out->name, sizeof out->name, "OpenBLAS");
    const char *cfg = openblas_get_config();
    snprintf(out->config, sizeof out->config, "%s", cfg ? cfg : "");
    const char *v = strstr(out->config, "OpenBLAS ");
    if (v) sscanf(v + 9, "%63s", out->version);
    else snprintf(out->version, sizeof out->version, "unknown");
    const char *core = loaded_core();
    snprintf(out->core, sizeof out->core, "%s", core);
    const char *from = env("QINS_BLAS_FROM");
    if (env("QINS_BLAS_REEXEC") && from && strcasecmp(from, core)) {
        snprintf(out->corrected_from, sizeof out->corrected_from, "%s", from);
        snprintf(out->source, sizeof out->source, "%s", env("QINS_BLAS_CORE") ? "QINS_BLAS_CORE" : "corrected");
    } else {
        snprintf(out->source, sizeof out->source, "%s", env("OPENBLAS_CORETYPE") ? "OPENBLAS_CORETYPE" : "detected");
    }
    out->threads = openblas_get_num_threads();
    struct qins_cpu_features f;
    qins_cpu_features_get(&f);
    snprintf(out->cpu_model, sizeof out->cpu_model, "%s", f.model);
    qins_cpu_features_str(&f, out->cpu_features, sizeof out->cpu_features);
    const char *want = qins_blas_wanted_core(&f, core);
    snprintf(out->wanted, sizeof out->wanted, "%s", want ? want : "");
    return 0;
}
