// core/paths.c — model and shared-data path lookup (environment + fixed fallbacks).
#include "paths.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "common.h"

static int is_file(const char *p) {
    struct stat st;
    return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

static int is_dir(const char *p) {
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

// Writes a/b into out; returns 0 or QINS_ERR_RANGE.
static int join(char *out, size_t cap, const char *a, const char *b) {
    int n = a && a[0] ? snprintf(out, cap, "%s/%s", a, b) : snprintf(out, cap, "%s", b);
    QINS_CHECK(n >= 0 && (size_t)n < cap, QINS_ERR_RANGE, "path '%s/%s' longer than %zu bytes", a ? a : "", b, cap);
    return QINS_OK;
}

int qins_model_path_resolve(const char *name, char *out, size_t cap) {
    QINS_CHECK(name && name[0] && out && cap > 0, QINS_ERR_ARG, "no model name given");
    if (strchr(name, '/')) {
        QINS_TRY(join(out, cap, NULL, name));
        QINS_CHECK(is_file(out), QINS_ERR_IO, "model file '%s' not found", name);
        return QINS_OK;
    }
    const char *env = getenv("QINS_MODELS");
    const char *dirs[3] = {env && env[0] ? env : NULL, "models", "."};
    for (int i = 0; i < 3; i++) {
        if (!dirs[i]) continue;
        QINS_TRY(join(out, cap, dirs[i], name));
        if (is_file(out)) return QINS_OK;
    }
    qins_log_error_at(__FILE__, __LINE__, __func__, "model '%s' not found in $QINS_MODELS (%s), ./models/ or ./",
                      name, env && env[0] ? env : "unset");
    return QINS_ERR_IO;
}

int qins_shared_dir(char *out, size_t cap) {
    QINS_CHECK(out && cap > 0, QINS_ERR_ARG, "NULL output");
    const char *shared = getenv("QINS_SHARED"), *models = getenv("QINS_MODELS"), *src = getenv("QINS_SOURCE_DIR");
    const char *how;
    if (shared && shared[0]) {
        QINS_TRY(join(out, cap, NULL, shared));
        how = "$QINS_SHARED";
    } else if (models && models[0]) {
        QINS_TRY(join(out, cap, models, ".."));
        how = "$QINS_MODELS/..";
    } else if (src && src[0]) {
        QINS_TRY(join(out, cap, src, "../shared"));
        how = "$QINS_SOURCE_DIR/../shared";
    } else {
        QINS_TRY(join(out, cap, NULL, "../shared"));
        how = "../shared";
    }
    QINS_CHECK(is_dir(out), QINS_ERR_IO, "shared data folder '%s' (from %s) not found; set QINS_SHARED or QINS_MODELS",
               out, how);
    return QINS_OK;
}

int qins_shared_path(const char *rel, char *out, size_t cap) {
    char root[4096];
    QINS_TRY(qins_shared_dir(root, sizeof root));
    QINS_TRY(join(out, cap, root, rel));
    QINS_CHECK(is_file(out), QINS_ERR_IO, "shared file '%s' not found", out);
    return QINS_OK;
}
