// core/h5.h — the HDF5 helpers the run-file writer (results.c) and reader (runfile.c) share:
// quiet error stacks, the UTF-8 string type, dtype mapping, path checks and name validation.
// Owns no files or handles beyond those it returns (caller closes). Errors: invalid hid_t /
// false, never logged here.
#pragma once
#include <hdf5.h>
#include <stdbool.h>
#include <stddef.h>

#include "results.h"

// Turns off HDF5's own error-stack printing once per process (we log one line per failure).
void qins_h5_quiet(void);
// Returns a new variable-length UTF-8 string type (close with H5Tclose).
hid_t qins_h5_str_type(void);
// Returns the native HDF5 type for t, or H5I_INVALID_HID for an unknown dtype.
hid_t qins_h5_mem_type(enum qins_dtype t);
// Returns the size in bytes of one element of t (0 for an unknown dtype).
size_t qins_h5_dtype_size(enum qins_dtype t);
// Returns true if every component of an absolute path exists (H5Lexists needs the parents).
bool qins_h5_path_exists(hid_t file, const char *path);
// Returns true for a relative name of [A-Za-z0-9_-.+@] (and '/' when allow_slash), no "//",
// no leading/trailing '/', not "." or "..", at most 200 bytes.
bool qins_h5_valid_name(const char *s, bool allow_slash);
// Returns true for "/" or "/" followed by a valid name with slashes.
bool qins_h5_valid_abs(const char *p);
