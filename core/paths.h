// core/paths.h — where models are found: a path as given, else a bare file name looked up in
// $QINS_MODELS, then ./models/. Errors: QINS_ERR_IO with a message listing the places tried.
#pragma once
#include <stddef.h>

// Writes the resolved path into out. Returns 0 or QINS_ERR_IO (message names what was tried).
int qins_model_path_resolve(const char *name, char *out, size_t cap);
