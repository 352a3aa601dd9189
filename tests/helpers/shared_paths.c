// tests/helpers/shared_paths.c — tests find ../shared through core/paths.h (the lookup the
// CLI and the phases use); a miss fails the test with the resolver's one-line message.
#include "shared_paths.h"

#include <criterion/criterion.h>
#include <stdio.h>

#include "common.h"
#include "paths.h"

int test_model_path(const char *name, char *out, size_t cap) {
    if (qins_path_resolve(QINS_PATH_MODEL, name, out, cap) < 0) {
        cr_assert_fail("%s (set QINS_MODELS to the folder holding %s)", qins_last_error(), name);
        return -1;
    }
    return 0;
}

int test_shared_path(const char *rel, char *out, size_t cap) {
    if (qins_shared_path(rel, out, cap) < 0) {
        cr_assert_fail("%s (set QINS_SHARED, or QINS_MODELS to <shared>/models)", qins_last_error());
        return -1;
    }
    return 0;
}
