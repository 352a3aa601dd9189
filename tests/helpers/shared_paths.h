// tests/helpers/shared_paths.h — where tests find ../shared (models, data, reference).
// QINS_MODELS names the models folder (CI: ../shared/models); the shared root is its parent.
// A test that needs a file and cannot find it fails with a message naming the variable.
#pragma once
#include <stddef.h>

// Writes "<models dir>/<name>" into out; returns 0, or -1 with a Criterion failure message set.
int test_model_path(const char *name, char *out, size_t cap);
// Writes "<shared root>/<rel>" (e.g. "data/wiki.test.raw") into out; returns 0 or -1.
int test_shared_path(const char *rel, char *out, size_t cap);
