// core/paths.h — where models and shared data files are found.
// Owns: resolving a model name (bare file name -> $QINS_MODELS, then ./models/) and the shared
// data root. Does not own: opening or parsing files. Errors: negative qins_status values, logged.
#pragma once
#include <stddef.h>

// Resolves a model given by the user into an existing file path written to out (cap bytes).
// A name containing '/' is used as given; a bare name is tried as $QINS_MODELS/name, then
// ./models/name, then ./name. Returns 0, QINS_ERR_IO (not found; the message lists where it
// looked) or QINS_ERR_RANGE (path longer than cap).
int qins_model_path_resolve(const char *name, char *out, size_t cap);

// The shared data root (the folder holding models/, reference/, tokenizers/, data/):
// $QINS_SHARED if set, else dirname($QINS_MODELS), else $QINS_SOURCE_DIR/../shared, else
// ../shared. Checks that it is a directory. Returns 0, QINS_ERR_IO or QINS_ERR_RANGE.
int qins_shared_dir(char *out, size_t cap);

// Joins shared root + "/" + rel into out (the file must exist). Returns 0 or < 0 (logged).
int qins_shared_path(const char *rel, char *out, size_t cap);
