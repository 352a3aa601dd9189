// tests/helpers/tiny_model.h — tiny random-weight llama/phi3 GGUF files for tests.
// Thin wrapper over core/model_writer.h: default tiny shapes, a unique file under the build dir.
#pragma once
#include <stdbool.h>
#include <stddef.h>

#include "model_writer.h"

// A tiny spec: 2 layers, n_embd 64, 4 heads, 2 kv heads (head_dim 16), n_ff 96, vocab 300,
// ctx 128, F32, seed 1234. phi3 adds n_ctx_orig 64 and rope factors; the caller edits fields.
struct qins_random_model_spec tiny_model_spec(const char *arch);
// Writes spec to a new file "<build dir>/tiny_<arch>_<pid>_<n>.gguf" and puts its path in
// path (cap bytes). Returns 0 or a negative qins_status (message logged).
int tiny_model_write(const struct qins_random_model_spec *spec, char *path, size_t cap);
// Removes a file made by tiny_model_write. Returns nothing.
void tiny_model_remove(const char *path);
