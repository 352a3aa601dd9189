// core/gguf_write.h — builds GGUF v3 files (layout documented in core/gguf.h).
// Owns: metadata key/values of every type, tensor table, encoding float data to F32/F16/BF16/Q8_0,
// alignment, writing to a file (temporary name + rename) or to a memory buffer.
// Does not own: reading (core/gguf.h), model semantics (core/model_writer.h).
// Errors: negative qins_status values with a one-line message through the log.
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gguf.h"

typedef struct qins_gguf_writer qins_gguf_writer_t;

// Fills rows [first_row, first_row + n_rows) of a tensor (each row = ne[0] floats) into dst.
// Called in increasing row order, once per write, starting at row 0. Returns 0 or < 0.
typedef int (*qins_gguf_fill_fn)(void *user, uint64_t first_row, uint64_t n_rows, float *dst);

// Creates an empty writer (alignment 32). Returns 0 or QINS_ERR_NOMEM.
int qins_gguf_writer_init(qins_gguf_writer_t **out);
void qins_gguf_writer_free(qins_gguf_writer_t *w);

// Sets the data alignment (a power of two, 1..65536) and records it as `general.alignment` (u32).
// Returns 0, QINS_ERR_ARG for a bad value, QINS_ERR_STATE if already set.
int qins_gguf_writer_set_alignment(qins_gguf_writer_t *w, uint32_t alignment);

// Scalar key/values. Each returns 0, QINS_ERR_ARG for a duplicate/empty key, or QINS_ERR_NOMEM.
int qins_gguf_writer_add_u8(qins_gguf_writer_t *w, const char *key, uint8_t v);
int qins_gguf_writer_add_i8(qins_gguf_writer_t *w, const char *key, int8_t v);
int qins_gguf_writer_add_u16(qins_gguf_writer_t *w, const char *key, uint16_t v);
int qins_gguf_writer_add_i16(qins_gguf_writer_t *w, const char *key, int16_t v);
int qins_gguf_writer_add_u32(qins_gguf_writer_t *w, const char *key, uint32_t v);
int qins_gguf_writer_add_i32(qins_gguf_writer_t *w, const char *key, int32_t v);
int qins_gguf_writer_add_u64(qins_gguf_writer_t *w, const char *key, uint64_t v);
int qins_gguf_writer_add_i64(qins_gguf_writer_t *w, const char *key, int64_t v);
int qins_gguf_writer_add_f32(qins_gguf_writer_t *w, const char *key, float v);
int qins_gguf_writer_add_f64(qins_gguf_writer_t *w, const char *key, double v);
int qins_gguf_writer_add_bool(qins_gguf_writer_t *w, const char *key, bool v);
// NUL-terminated string value.
int qins_gguf_writer_add_str(qins_gguf_writer_t *w, const char *key, const char *v);
// String value of len bytes (may hold NULs).
int qins_gguf_writer_add_str_n(qins_gguf_writer_t *w, const char *key, const char *v, uint64_t len);
// Array of n fixed-size elements of elem_type (any scalar type except STRING/ARRAY), raw
// little-endian values as in memory (bool = one byte 0/1). Returns 0 or < 0.
int qins_gguf_writer_add_arr(qins_gguf_writer_t *w, const char *key, enum qins_gguf_type elem_type,
                             const void *data, uint64_t n);
// Array of n strings; lens may be NULL (then each string is NUL-terminated). Returns 0 or < 0.
int qins_gguf_writer_add_arr_str(qins_gguf_writer_t *w, const char *key, const char *const *strs,
                                 const uint64_t *lens, uint64_t n);
// Copies one key/value parsed by the reader (any type, arrays included). Returns 0 or < 0.
int qins_gguf_writer_add_kv_copy(qins_gguf_writer_t *w, const struct qins_gguf_kv *kv);

// Adds a tensor with n_dims (1..4) dims ne[0..n_dims-1] (ne[0] fastest) stored as type
// (F32, F16, BF16 or Q8_0; Q8_0 needs ne[0] % 32 == 0). data holds prod(ne) floats and is
// encoded and copied now. Returns 0, QINS_ERR_ARG (duplicate name, bad dims),
// QINS_ERR_UNSUPPORTED (type) or QINS_ERR_NOMEM.
int qins_gguf_writer_add_tensor(qins_gguf_writer_t *w, const char *name, int n_dims, const uint64_t *ne,
                                enum qins_ggml_type type, const float *data);
// Same, but the data is produced by fill(user, ...) while writing (streamed row blocks), so a
// multi-GB random model never sits in memory. If free_user is not NULL the writer owns user and
// calls free_user(user) in qins_gguf_writer_free (also when this call fails).
int qins_gguf_writer_add_tensor_fn(qins_gguf_writer_t *w, const char *name, int n_dims, const uint64_t *ne,
                                   enum qins_ggml_type type, qins_gguf_fill_fn fill, void *user,
                                   void (*free_user)(void *));

// Number of bytes the encoded tensor data of type/ne takes, or 0 if unsupported/invalid.
uint64_t qins_gguf_tensor_nbytes(enum qins_ggml_type type, int n_dims, const uint64_t *ne);

// Writes the file: to "<path>.<pid>.tmp", then renames it over path. Returns 0 or < 0 (the
// temporary file is removed on failure).
int qins_gguf_writer_write_file(qins_gguf_writer_t *w, const char *path);
// Writes the whole image into a malloc'ed buffer (*data, *size; caller frees). Returns 0 or < 0.
int qins_gguf_writer_write_memory(qins_gguf_writer_t *w, void **data, size_t *size);

// Encodes n floats (n % 32 == 0) as ggml Q8_0 blocks (34 bytes per 32 values: fp16 scale
// d = absmax/127, then 32 int8 q = round(x/d)). Returns nothing.
void qins_quantize_q8_0_ref(const float *x, void *dst, uint64_t n);
