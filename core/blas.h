// core/blas.h — which OpenBLAS core this process runs, and correcting a wrong one at start-up.
// Owns: the core check (CPU features vs openblas_get_corename()), the one re-exec that fixes it
// (OPENBLAS_CORETYPE is read only when the library loads), the BLAS/CPU facts run files record.
// Does not own: thread counts (model.h qins_set_threads). Errors: a failed re-exec is a logged
// warning and the process continues with the slow core; nothing here exits.
#pragma once
#include <stdbool.h>

#include "cpu_features.h"

// Environment: OPENBLAS_CORETYPE set by the user is always respected, never changed.
// QINS_BLAS_CORE=<core> is the qins override (becomes OPENBLAS_CORETYPE, one re-exec).
// QINS_BLAS_REEXEC is the guard set before the re-exec (never re-exec twice); QINS_BLAS_FROM
// carries the core OpenBLAS had chosen before it, for qins_blas_info's corrected_from.

struct qins_blas_info {
    char name[16];            // "OpenBLAS"
    char version[64];         // "0.3.21" (first word after "OpenBLAS" in openblas_get_config())
    char config[160];         // openblas_get_config() verbatim
    char core[32];            // openblas_get_corename(), e.g. "Cooperlake"
    char corrected_from[32];  // the core before a re-exec changed it ("" = not changed)
    char source[24];          // "detected" | "OPENBLAS_CORETYPE" | "QINS_BLAS_CORE" | "corrected"
    char wanted[32];          // the core qins_blas_wanted_core asks for here ("" = the loaded one is fine)
    int threads;              // openblas_get_num_threads() at the time of the call
    char cpu_model[64];       // CPUID brand string
    char cpu_features[160];   // qins_cpu_features_str
};

// The pure decision: the OpenBLAS core this CPU should get when `loaded` under-uses it (a
// pre-AVX2 fallback such as Prescott/Core2/Nehalem/Sandybridge/"generic" on a CPU with
// AVX2+FMA -> "Haswell"; with AVX-512F+BW+VL -> "SkylakeX", + AVX-512-BF16 -> "Cooperlake").
// A core that already uses AVX2 (Haswell, Zen, SkylakeX, ...) is left alone. Returns the core
// name, or NULL when `loaded` is fine (or the CPU has no AVX2+FMA).
const char *qins_blas_wanted_core(const struct qins_cpu_features *f, const char *loaded);
// Call first thing in main() (or before any work): when the loaded core is wrong (see above) or
// QINS_BLAS_CORE names another one, sets OPENBLAS_CORETYPE and re-executes /proc/self/exe with
// argv once. Returns 0 when the process continues as it is (nothing to do, guard set, a user
// OPENBLAS_CORETYPE, or a failed execv: warning logged); does not return on a successful re-exec.
// QINS_ERR_ARG (one line) when QINS_BLAS_CORE names a core this OpenBLAS does not have (it loads
// its own choice instead): the caller exits non-zero rather than measure a core nobody asked for.
int qins_blas_select(int argc, char **argv);
// Fills *out with the BLAS library, core, threads and CPU facts. Returns 0.
int qins_blas_info_get(struct qins_blas_info *out);
