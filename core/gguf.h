// core/gguf.h — read-only GGUF (v2, v3, little-endian) over an mmapped file.
// Owns: header, metadata key/values (all types, arrays), tensor table, tensor data pointers,
// dequantisation of F32/F16/BF16/Q8_0 to F32. Does not own: model semantics (core/model.h),
// writing (core/gguf_write.h). Every count and offset is bounds-checked; errors are
// negative qins_status values with a one-line message through the log.
//
// On-disk layout (all little-endian):
//   u32 magic "GGUF" | u32 version (2 or 3) | u64 n_tensors | u64 n_kv
//   n_kv x { string key | u32 type | value }        string = u64 len + bytes (no NUL)
//     value: scalar of the type, or string, or array = u32 elem_type + u64 n + n values
//   n_tensors x { string name | u32 n_dims | u64 ne[n_dims] | u32 ggml_type | u64 offset }
//   padding to `general.alignment` (default 32), then the data section; tensor offsets are
//   relative to the data section start and aligned. ne[0] is the fastest-varying dimension.
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum qins_gguf_type {
    QINS_GGUF_UINT8 = 0, QINS_GGUF_INT8 = 1, QINS_GGUF_UINT16 = 2, QINS_GGUF_INT16 = 3,
    QINS_GGUF_UINT32 = 4, QINS_GGUF_INT32 = 5, QINS_GGUF_FLOAT32 = 6, QINS_GGUF_BOOL = 7,
    QINS_GGUF_STRING = 8, QINS_GGUF_ARRAY = 9, QINS_GGUF_UINT64 = 10, QINS_GGUF_INT64 = 11,
    QINS_GGUF_FLOAT64 = 12,
};

// ggml tensor types we name (others are rejected with their number).
enum qins_ggml_type {
    QINS_GGML_F32 = 0, QINS_GGML_F16 = 1, QINS_GGML_Q4_0 = 2, QINS_GGML_Q4_1 = 3,
    QINS_GGML_Q5_0 = 6, QINS_GGML_Q5_1 = 7, QINS_GGML_Q8_0 = 8, QINS_GGML_BF16 = 30,
};

struct qins_gguf_str {
    uint64_t len;
    const char *data; // points into the mapping; NOT NUL-terminated
};

struct qins_gguf_kv {
    char *key;                 // NUL-terminated copy
    enum qins_gguf_type type;
    union {
        uint64_t u64;          // any unsigned integer type, bool
        int64_t i64;           // any signed integer type
        double f64;            // FLOAT32 / FLOAT64
        struct qins_gguf_str str;
        struct {
            enum qins_gguf_type type;
            uint64_t n;
            const uint8_t *data;   // raw elements for fixed-size types
            struct qins_gguf_str *strs; // parsed strings when type == STRING (n entries)
        } arr;
    } v;
};

struct qins_gguf_tensor {
    char *name;            // NUL-terminated copy
    int n_dims;
    uint64_t ne[4];        // ne[0] fastest; unused dims are 1
    enum qins_ggml_type type;
    uint64_t offset;       // relative to the data section
    uint64_t n_elements;
    uint64_t n_bytes;
    const void *data;      // inside the mapping
};

typedef struct qins_gguf qins_gguf_t;

// Opens and validates a GGUF file (mmap). Returns 0 or a negative status (message logged).
int qins_gguf_open(const char *path, qins_gguf_t **out);
// Validates an in-memory GGUF image (not copied; must outlive the handle). Returns 0 or < 0.
int qins_gguf_open_memory(const void *data, size_t size, const char *label, qins_gguf_t **out);
void qins_gguf_free(qins_gguf_t *g);

uint32_t qins_gguf_version(const qins_gguf_t *g);
size_t qins_gguf_file_size(const qins_gguf_t *g);
const char *qins_gguf_path(const qins_gguf_t *g);

uint64_t qins_gguf_n_kv(const qins_gguf_t *g);
const struct qins_gguf_kv *qins_gguf_kv_at(const qins_gguf_t *g, uint64_t i);
// Returns the key/value with this key, or NULL.
const struct qins_gguf_kv *qins_gguf_find_kv(const qins_gguf_t *g, const char *key);

// Typed getters: return 0 and write *out, QINS_ERR_RANGE if the key is missing (no log),
// QINS_ERR_FORMAT if it has an incompatible type or value (logged).
int qins_gguf_get_u64(const qins_gguf_t *g, const char *key, uint64_t *out);
int qins_gguf_get_u32(const qins_gguf_t *g, const char *key, uint32_t *out);
int qins_gguf_get_f32(const qins_gguf_t *g, const char *key, float *out);
int qins_gguf_get_bool(const qins_gguf_t *g, const char *key, bool *out);
// Copies a string value into buf (NUL-terminated, truncated to cap-1).
int qins_gguf_get_str(const qins_gguf_t *g, const char *key, char *buf, size_t cap);
// Array getters: *n elements; returns QINS_ERR_FORMAT if the element type differs.
int qins_gguf_get_arr_f32(const qins_gguf_t *g, const char *key, const float **data, uint64_t *n);
int qins_gguf_get_arr_i32(const qins_gguf_t *g, const char *key, const int32_t **data, uint64_t *n);
int qins_gguf_get_arr_str(const qins_gguf_t *g, const char *key, const struct qins_gguf_str **strs, uint64_t *n);

uint64_t qins_gguf_n_tensors(const qins_gguf_t *g);
const struct qins_gguf_tensor *qins_gguf_tensor_at(const qins_gguf_t *g, uint64_t i);
// Returns the tensor with this name, or NULL.
const struct qins_gguf_tensor *qins_gguf_find_tensor(const qins_gguf_t *g, const char *name);

// Name of a ggml type ("F32", "Q8_0", …) or "type<N>".
const char *qins_ggml_type_name(int type);
// True for the types qins_gguf_tensor_to_f32 handles.
bool qins_ggml_type_supported(int type);
// Dequantises a whole tensor into dst (n_elements floats). Returns 0 or QINS_ERR_UNSUPPORTED.
int qins_gguf_tensor_to_f32(const struct qins_gguf_tensor *t, float *dst);
