// tests/helpers/shared_paths.h — where tests find ../shared (models, data, reference):
// the lookup order of core/paths.h (QINS_MODELS, QINS_SHARED, ...), the same as the CLI's.
// A test that needs a file and cannot find it fails with a message naming every place tried.
#pragma once
#include <stddef.h>

// Resolves model name (paths.h MODEL) into out; returns 0, or -1 with a Criterion failure.
int test_model_path(const char *name, char *out, size_t cap);
// Writes "<shared root>/<rel>" (e.g. "data/wiki.test.raw", paths.h qins_shared_path) into out; returns 0 or -1.
int test_shared_path(const char *rel, char *out, size_t cap);
