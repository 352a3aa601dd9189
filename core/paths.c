// core/paths.c — model path resolution.
#include "paths.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common.h"

int qins_model_path_resolve(const char *name, char *out, size_t cap) {
    QINS_CHECK(name && *name, QINS_ERR_ARG, "no model given (--model)");
    if (access(name, R_OK) == 0 || strchr(name, '/')) {
        snprintf(out, cap, "%s", name);
        QINS_CHECK(access(name, R_OK) == 0, QINS_ERR_IO, "model '%s' not found", name);
        return 0;
    }
    const char *env = getenv("QINS_MODELS");
    if (env && *env) {
        snprintf(out, cap, "%s/%s", env, name);
        if (access(out, R_OK) == 0) return 0;
    }
    snprintf(out, cap, "models/%s", name);
    if (access(out, R_OK) == 0) return 0;
    QINS_CHECK(0, QINS_ERR_IO, "model '%s' not found (looked in the current folder, $QINS_MODELS=%s and ./models/)",
               name, env && *env ? env : "(unset)");
}
