// tests/helpers/shared_paths.c — resolve ../shared for tests; fail loudly when missing.
#include "shared_paths.h"

#include <criterion/criterion.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

// Marks the current test failed with a formatted message and aborts it.
#define fail_msg(...)                                                                              \
    do {                                                                                           \
        char msg_[2400];                                                                           \
        snprintf(msg_, sizeof msg_, __VA_ARGS__);                                                  \
        cr_assert_fail("%s", msg_);                                                                    \
    } while (0)

static int models_dir(char *out, size_t cap) {
    const char *env = getenv("QINS_MODELS");
    if (env && *env) {
        snprintf(out, cap, "%s", env);
    } else {
        const char *src = getenv("QINS_SOURCE_DIR");
        snprintf(out, cap, "%s/../shared/models", src ? src : ".");
    }
    if (access(out, R_OK) != 0) {
        fail_msg("model folder '%s' not found: set QINS_MODELS to the folder holding stories260K.gguf", out);
        return -1;
    }
    return 0;
}

int test_model_path(const char *name, char *out, size_t cap) {
    char dir[1024];
    if (models_dir(dir, sizeof dir) < 0) return -1;
    snprintf(out, cap, "%s/%s", dir, name);
    if (access(out, R_OK) != 0) {
        fail_msg("model '%s' not found (QINS_MODELS=%s)", out, dir);
        return -1;
    }
    return 0;
}

int test_shared_path(const char *rel, char *out, size_t cap) {
    char dir[1024];
    if (models_dir(dir, sizeof dir) < 0) return -1;
    snprintf(out, cap, "%s/../%s", dir, rel);
    if (access(out, R_OK) != 0) {
        fail_msg("shared file '%s' not found (derived from QINS_MODELS=%s)", out, dir);
        return -1;
    }
    return 0;
}
