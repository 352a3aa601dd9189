// core/gguf_write.c — GGUF v3 writer: metadata is serialised as it is added (one growing byte
// buffer), tensors keep their encoded bytes (or a fill callback) until the file is written.
#include "gguf_write.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "common.h"
#include "util.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "gguf_write.c writes raw little-endian arrays; big-endian hosts are not supported"
#endif

#define GGUF_MAGIC 0x46554747u // "GGUF" read as a little-endian u32
#define GGUF_DEFAULT_ALIGNMENT 32u
#define QK8_0 32
#define Q8_0_BLOCK_BYTES 34 // fp16 scale + 32 int8

struct wtensor {
    char *name;
    int n_dims;
    uint64_t ne[4];
    enum qins_ggml_type type;
    uint64_t n_bytes;
    uint8_t *encoded;       // owned; NULL when fill is set
    qins_gguf_fill_fn fill; // streamed source, or NULL
    void *user;
    void (*free_user)(void *); // owner's release of user, or NULL
};

struct qins_gguf_writer {
    uint8_t *meta; // serialised key/values, in insertion order
    size_t meta_len, meta_cap;
    uint64_t n_kv;
    char **keys; // copies, for the duplicate check
    size_t keys_cap;
    struct wtensor *tensors;
    size_t n_tensors, tensors_cap;
    uint32_t alignment;
    int alignment_set;
};

// --- growable byte buffer for the metadata

static int meta_reserve(qins_gguf_writer_t *w, size_t extra) {
    QINS_CHECK(extra <= SIZE_MAX / 2 - w->meta_len, QINS_ERR_NOMEM, "metadata too large");
    return qins_grow(&w->meta, &w->meta_cap, w->meta_len + extra, 1);
}

static int meta_put(qins_gguf_writer_t *w, const void *p, size_t n) {
    QINS_TRY(meta_reserve(w, n));
    if (n) memcpy(w->meta + w->meta_len, p, n);
    w->meta_len += n;
    return QINS_OK;
}

static int meta_u32(qins_gguf_writer_t *w, uint32_t v) { return meta_put(w, &v, 4); }
static int meta_u64(qins_gguf_writer_t *w, uint64_t v) { return meta_put(w, &v, 8); }
static int meta_str(qins_gguf_writer_t *w, const char *s, uint64_t len) {
    QINS_TRY(meta_u64(w, len));
    return meta_put(w, s, (size_t)len);
}

static size_t scalar_size(enum qins_gguf_type t) {
    switch (t) {
    case QINS_GGUF_UINT8: case QINS_GGUF_INT8: case QINS_GGUF_BOOL: return 1;
    case QINS_GGUF_UINT16: case QINS_GGUF_INT16: return 2;
    case QINS_GGUF_UINT32: case QINS_GGUF_INT32: case QINS_GGUF_FLOAT32: return 4;
    case QINS_GGUF_UINT64: case QINS_GGUF_INT64: case QINS_GGUF_FLOAT64: return 8;
    default: return 0;
    }
}

// Starts a key/value: checks the key is new, records it and writes key + type. The caller then
// writes the value; a failure there leaves the writer unusable (it only happens on NOMEM).
static int kv_begin(qins_gguf_writer_t *w, const char *key, enum qins_gguf_type type) {
    QINS_CHECK(w && key && key[0], QINS_ERR_ARG, "empty GGUF key");
    for (uint64_t i = 0; i < w->n_kv; i++)
        QINS_CHECK(strcmp(w->keys[i], key) != 0, QINS_ERR_ARG, "duplicate GGUF key '%s'", key);
    QINS_TRY(qins_grow(&w->keys, &w->keys_cap, (size_t)w->n_kv + 1, sizeof *w->keys));
    char *copy = strdup(key);
    QINS_CHECK(copy, QINS_ERR_NOMEM, "out of memory");
    w->keys[w->n_kv++] = copy;
    QINS_TRY(meta_str(w, key, strlen(key)));
    return meta_u32(w, (uint32_t)type);
}

static int add_scalar(qins_gguf_writer_t *w, const char *key, enum qins_gguf_type t, const void *v) {
    QINS_TRY(kv_begin(w, key, t));
    return meta_put(w, v, scalar_size(t));
}

int qins_gguf_writer_add_u8(qins_gguf_writer_t *w, const char *key, uint8_t v) { return add_scalar(w, key, QINS_GGUF_UINT8, &v); }
int qins_gguf_writer_add_i8(qins_gguf_writer_t *w, const char *key, int8_t v) { return add_scalar(w, key, QINS_GGUF_INT8, &v); }
int qins_gguf_writer_add_u16(qins_gguf_writer_t *w, const char *key, uint16_t v) { return add_scalar(w, key, QINS_GGUF_UINT16, &v); }
int qins_gguf_writer_add_i16(qins_gguf_writer_t *w, const char *key, int16_t v) { return add_scalar(w, key, QINS_GGUF_INT16, &v); }
int qins_gguf_writer_add_u32(qins_gguf_writer_t *w, const char *key, uint32_t v) { return add_scalar(w, key, QINS_GGUF_UINT32, &v); }
int qins_gguf_writer_add_i32(qins_gguf_writer_t *w, const char *key, int32_t v) { return add_scalar(w, key, QINS_GGUF_INT32, &v); }
int qins_gguf_writer_add_u64(qins_gguf_writer_t *w, const char *key, uint64_t v) { return add_scalar(w, key, QINS_GGUF_UINT64, &v); }
int qins_gguf_writer_add_i64(qins_gguf_writer_t *w, const char *key, int64_t v) { return add_scalar(w, key, QINS_GGUF_INT64, &v); }
int qins_gguf_writer_add_f32(qins_gguf_writer_t *w, const char *key, float v) { return add_scalar(w, key, QINS_GGUF_FLOAT32, &v); }
int qins_gguf_writer_add_f64(qins_gguf_writer_t *w, const char *key, double v) { return add_scalar(w, key, QINS_GGUF_FLOAT64, &v); }
int qins_gguf_writer_add_bool(qins_gguf_writer_t *w, const char *key, bool v) {
    uint8_t b = v ? 1 : 0;
    return add_scalar(w, key, QINS_GGUF_BOOL, &b);
}

int qins_gguf_writer_add_str_n(qins_gguf_writer_t *w, const char *key, const char *v, uint64_t len) {
    QINS_CHECK(v || len == 0, QINS_ERR_ARG, "NULL string value for '%s'", key ? key : "");
    QINS_TRY(kv_begin(w, key, QINS_GGUF_STRING));
    return meta_str(w, v, len);
}

int qins_gguf_writer_add_str(qins_gguf_writer_t *w, const char *key, const char *v) {
    QINS_CHECK(v, QINS_ERR_ARG, "NULL string value for '%s'", key ? key : "");
    return qins_gguf_writer_add_str_n(w, key, v, strlen(v));
}

int qins_gguf_writer_add_arr(qins_gguf_writer_t *w, const char *key, enum qins_gguf_type elem_type,
                             const void *data, uint64_t n) {
    size_t es = scalar_size(elem_type);
    QINS_CHECK(es > 0, QINS_ERR_ARG, "array '%s': element type %d is not a fixed-size scalar", key ? key : "",
               (int)elem_type);
    QINS_CHECK(data || n == 0, QINS_ERR_ARG, "array '%s': NULL data", key ? key : "");
    QINS_CHECK(n <= SIZE_MAX / 16, QINS_ERR_ARG, "array '%s' too long", key ? key : "");
    QINS_TRY(kv_begin(w, key, QINS_GGUF_ARRAY));
    QINS_TRY(meta_u32(w, (uint32_t)elem_type));
    QINS_TRY(meta_u64(w, n));
    return meta_put(w, data, (size_t)n * es);
}

int qins_gguf_writer_add_arr_str(qins_gguf_writer_t *w, const char *key, const char *const *strs,
                                 const uint64_t *lens, uint64_t n) {
    QINS_CHECK(strs || n == 0, QINS_ERR_ARG, "array '%s': NULL strings", key ? key : "");
    for (uint64_t i = 0; i < n; i++)
        QINS_CHECK(strs[i] || (lens && lens[i] == 0), QINS_ERR_ARG, "array '%s': string %llu is NULL",
                   key ? key : "", (unsigned long long)i);
    QINS_TRY(kv_begin(w, key, QINS_GGUF_ARRAY));
    QINS_TRY(meta_u32(w, (uint32_t)QINS_GGUF_STRING));
    QINS_TRY(meta_u64(w, n));
    for (uint64_t i = 0; i < n; i++) QINS_TRY(meta_str(w, strs[i], lens ? lens[i] : strlen(strs[i])));
    return QINS_OK;
}

int qins_gguf_writer_add_kv_copy(qins_gguf_writer_t *w, const struct qins_gguf_kv *kv) {
    QINS_CHECK(kv, QINS_ERR_ARG, "NULL key/value");
    switch (kv->type) {
    case QINS_GGUF_UINT8: return qins_gguf_writer_add_u8(w, kv->key, (uint8_t)kv->v.u64);
    case QINS_GGUF_INT8: return qins_gguf_writer_add_i8(w, kv->key, (int8_t)kv->v.i64);
    case QINS_GGUF_UINT16: return qins_gguf_writer_add_u16(w, kv->key, (uint16_t)kv->v.u64);
    case QINS_GGUF_INT16: return qins_gguf_writer_add_i16(w, kv->key, (int16_t)kv->v.i64);
    case QINS_GGUF_UINT32: return qins_gguf_writer_add_u32(w, kv->key, (uint32_t)kv->v.u64);
    case QINS_GGUF_INT32: return qins_gguf_writer_add_i32(w, kv->key, (int32_t)kv->v.i64);
    case QINS_GGUF_UINT64: return qins_gguf_writer_add_u64(w, kv->key, kv->v.u64);
    case QINS_GGUF_INT64: return qins_gguf_writer_add_i64(w, kv->key, kv->v.i64);
    case QINS_GGUF_FLOAT32: return qins_gguf_writer_add_f32(w, kv->key, (float)kv->v.f64);
    case QINS_GGUF_FLOAT64: return qins_gguf_writer_add_f64(w, kv->key, kv->v.f64);
    case QINS_GGUF_BOOL: return qins_gguf_writer_add_bool(w, kv->key, kv->v.u64 != 0);
    case QINS_GGUF_STRING: return qins_gguf_writer_add_str_n(w, kv->key, kv->v.str.data, kv->v.str.len);
    case QINS_GGUF_ARRAY:
        if (kv->v.arr.type == QINS_GGUF_STRING) {
            QINS_CHECK(kv->v.arr.strs || kv->v.arr.n == 0, QINS_ERR_ARG, "array '%s' has no parsed strings", kv->key);
            QINS_TRY(kv_begin(w, kv->key, QINS_GGUF_ARRAY));
            QINS_TRY(meta_u32(w, (uint32_t)QINS_GGUF_STRING));
            QINS_TRY(meta_u64(w, kv->v.arr.n));
            for (uint64_t i = 0; i < kv->v.arr.n; i++)
                QINS_TRY(meta_str(w, kv->v.arr.strs[i].data, kv->v.arr.strs[i].len));
            return QINS_OK;
        }
        return qins_gguf_writer_add_arr(w, kv->key, kv->v.arr.type, kv->v.arr.data, kv->v.arr.n);
    }
    qins_log_error_at(__FILE__, __LINE__, __func__, "key '%s': unknown value type %d", kv->key, (int)kv->type);
    return QINS_ERR_ARG;
}

int qins_gguf_writer_set_alignment(qins_gguf_writer_t *w, uint32_t alignment) {
    QINS_CHECK(w, QINS_ERR_ARG, "NULL writer");
    QINS_CHECK(alignment >= 1 && alignment <= 65536 && (alignment & (alignment - 1)) == 0, QINS_ERR_ARG,
               "alignment %u is not a power of two in 1..65536", alignment);
    QINS_CHECK(!w->alignment_set, QINS_ERR_STATE, "alignment already set");
    QINS_TRY(qins_gguf_writer_add_u32(w, "general.alignment", alignment));
    w->alignment = alignment;
    w->alignment_set = 1;
    return QINS_OK;
}

// --- tensors

void qins_quantize_q8_0_ref(const float *x, void *dst, uint64_t n) {
    uint8_t *out = dst;
    for (uint64_t b = 0; b < n / QK8_0; b++, x += QK8_0, out += Q8_0_BLOCK_BYTES) {
        float amax = 0.0f;
        for (int j = 0; j < QK8_0; j++) amax = fmaxf(amax, fabsf(x[j]));
        // As ggml's quantize_row_q8_0_ref: multiply by the f32 inverse of the f32 scale, round
        // half away from zero; the scale is then stored as fp16.
        const float d = amax / 127.0f;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        uint16_t dh = qins_f32_to_fp16(d);
        memcpy(out, &dh, 2);
        for (int j = 0; j < QK8_0; j++) out[2 + j] = (uint8_t)(int8_t)roundf(x[j] * id);
    }
}

static void encode_rows(enum qins_ggml_type type, const float *src, uint64_t n, uint8_t *dst) {
    switch (type) {
    case QINS_GGML_F32: memcpy(dst, src, (size_t)n * 4); break;
    case QINS_GGML_F16:
        for (uint64_t i = 0; i < n; i++) {
            uint16_t h = qins_f32_to_fp16(src[i]);
            memcpy(dst + 2 * i, &h, 2);
        }
        break;
    case QINS_GGML_BF16:
        for (uint64_t i = 0; i < n; i++) {
            uint16_t h = qins_f32_to_bf16(src[i]);
            memcpy(dst + 2 * i, &h, 2);
        }
        break;
    case QINS_GGML_Q8_0: qins_quantize_q8_0_ref(src, dst, n); break;
    default: break; // rejected in add_tensor
    }
}

// Bytes for n values of type (n a multiple of the block size), 0 if unsupported.
static uint64_t type_bytes(enum qins_ggml_type type, uint64_t n) {
    switch (type) {
    case QINS_GGML_F32: return n * 4;
    case QINS_GGML_F16: case QINS_GGML_BF16: return n * 2;
    case QINS_GGML_Q8_0: return n / QK8_0 * Q8_0_BLOCK_BYTES;
    default: return 0;
    }
}

uint64_t qins_gguf_tensor_nbytes(enum qins_ggml_type type, int n_dims, const uint64_t *ne) {
    if (n_dims < 1 || n_dims > 4 || !ne) return 0;
    uint64_t n = 1;
    for (int i = 0; i < n_dims; i++) {
        if (ne[i] == 0 || n > (UINT64_MAX / 64) / ne[i]) return 0;
        n *= ne[i];
    }
    if (type == QINS_GGML_Q8_0 && ne[0] % QK8_0 != 0) return 0;
    return type_bytes(type, n);
}

static int tensor_begin(qins_gguf_writer_t *w, const char *name, int n_dims, const uint64_t *ne,
                        enum qins_ggml_type type, struct wtensor **out) {
    QINS_CHECK(w && name && name[0], QINS_ERR_ARG, "empty tensor name");
    QINS_CHECK(n_dims >= 1 && n_dims <= 4 && ne, QINS_ERR_ARG, "tensor '%s': n_dims %d not in 1..4", name, n_dims);
    QINS_CHECK(type == QINS_GGML_F32 || type == QINS_GGML_F16 || type == QINS_GGML_BF16 || type == QINS_GGML_Q8_0,
               QINS_ERR_UNSUPPORTED, "tensor '%s': cannot write type %s", name, qins_ggml_type_name(type));
    QINS_CHECK(type != QINS_GGML_Q8_0 || ne[0] % QK8_0 == 0, QINS_ERR_ARG,
               "tensor '%s': Q8_0 needs ne[0] (%llu) to be a multiple of 32", name, (unsigned long long)ne[0]);
    uint64_t nbytes = qins_gguf_tensor_nbytes(type, n_dims, ne);
    QINS_CHECK(nbytes > 0, QINS_ERR_ARG, "tensor '%s': a dimension is 0 or the size overflows", name);
    for (size_t i = 0; i < w->n_tensors; i++)
        QINS_CHECK(strcmp(w->tensors[i].name, name) != 0, QINS_ERR_ARG, "duplicate tensor '%s'", name);
    QINS_TRY(qins_grow(&w->tensors, &w->tensors_cap, w->n_tensors + 1, sizeof *w->tensors));
    struct wtensor *t = &w->tensors[w->n_tensors];
    memset(t, 0, sizeof *t);
    t->name = strdup(name);
    QINS_CHECK(t->name, QINS_ERR_NOMEM, "out of memory");
    t->n_dims = n_dims;
    for (int i = 0; i < 4; i++) t->ne[i] = i < n_dims ? ne[i] : 1;
    t->type = type;
    t->n_bytes = nbytes;
    *out = t;
    return QINS_OK;
}

int qins_gguf_writer_add_tensor(qins_gguf_writer_t *w, const char *name, int n_dims, const uint64_t *ne,
                                enum qins_ggml_type type, const float *data) {
    QINS_CHECK(data, QINS_ERR_ARG, "tensor '%s': NULL data", name ? name : "");
    struct wtensor *t;
    QINS_TRY(tensor_begin(w, name, n_dims, ne, type, &t));
    QINS_CHECK(t->n_bytes <= SIZE_MAX, QINS_ERR_NOMEM, "tensor '%s' too large", name);
    t->encoded = malloc((size_t)t->n_bytes);
    if (!t->encoded) {
        free(t->name);
        QINS_CHECK(0, QINS_ERR_NOMEM, "tensor '%s': out of memory (%llu bytes)", name, (unsigned long long)t->n_bytes);
    }
    encode_rows(type, data, t->ne[0] * t->ne[1] * t->ne[2] * t->ne[3], t->encoded);
    w->n_tensors++;
    return QINS_OK;
}

int qins_gguf_writer_add_tensor_fn(qins_gguf_writer_t *w, const char *name, int n_dims, const uint64_t *ne,
                                   enum qins_ggml_type type, qins_gguf_fill_fn fill, void *user,
                                   void (*free_user)(void *)) {
    struct wtensor *t;
    int st = fill ? tensor_begin(w, name, n_dims, ne, type, &t) : QINS_ERR_ARG;
    if (st < 0) {
        if (!fill) qins_log_error_at(__FILE__, __LINE__, __func__, "tensor '%s': NULL fill function", name ? name : "");
        if (free_user) free_user(user);
        return st;
    }
    t->fill = fill;
    t->user = user;
    t->free_user = free_user;
    w->n_tensors++;
    return QINS_OK;
}

// --- output: one sink for a FILE or a growing memory buffer

struct sink {
    FILE *f;
    uint8_t *buf;
    size_t len, cap;
    uint64_t pos; // bytes written so far (file offset)
};

static int sink_put(struct sink *s, const void *p, size_t n) {
    if (n == 0) return QINS_OK;
    if (s->f) {
        QINS_CHECK(fwrite(p, 1, n, s->f) == n, QINS_ERR_IO, "write failed after %llu bytes (disk full?)",
                   (unsigned long long)s->pos);
    } else {
        QINS_TRY(qins_grow(&s->buf, &s->cap, s->len + n, 1));
        memcpy(s->buf + s->len, p, n);
        s->len += n;
    }
    s->pos += n;
    return QINS_OK;
}

static int sink_u32(struct sink *s, uint32_t v) { return sink_put(s, &v, 4); }
static int sink_u64(struct sink *s, uint64_t v) { return sink_put(s, &v, 8); }

static int sink_pad(struct sink *s, uint32_t alignment) {
    static const uint8_t zeros[256];
    uint64_t pad = (alignment - s->pos % alignment) % alignment;
    while (pad > 0) {
        size_t n = pad > sizeof zeros ? sizeof zeros : (size_t)pad;
        QINS_TRY(sink_put(s, zeros, n));
        pad -= n;
    }
    return QINS_OK;
}

static uint64_t align_up(uint64_t x, uint32_t a) { return (x + a - 1) / a * a; }

static int write_tensor_data(struct sink *s, const struct wtensor *t) {
    if (t->encoded) return sink_put(s, t->encoded, (size_t)t->n_bytes);
    const uint64_t row = t->ne[0], n_rows = t->ne[1] * t->ne[2] * t->ne[3];
    // Blocks of about 1M floats keep memory flat for multi-GB tensors.
    uint64_t rows_per_block = row >= (1u << 20) ? 1 : (1u << 20) / row;
    if (rows_per_block > n_rows) rows_per_block = n_rows;
    float *src = malloc((size_t)(rows_per_block * row) * sizeof *src);
    uint8_t *dst = malloc((size_t)type_bytes(t->type, rows_per_block * row));
    int st = QINS_OK;
    if (!src || !dst) {
        qins_log_error_at(__FILE__, __LINE__, __func__, "tensor '%s': out of memory", t->name);
        st = QINS_ERR_NOMEM;
    }
    for (uint64_t r = 0; st == QINS_OK && r < n_rows; r += rows_per_block) {
        uint64_t nr = n_rows - r < rows_per_block ? n_rows - r : rows_per_block;
        st = t->fill(t->user, r, nr, src);
        if (st < 0) break;
        encode_rows(t->type, src, nr * row, dst);
        st = sink_put(s, dst, (size_t)type_bytes(t->type, nr * row));
    }
    free(src);
    free(dst);
    return st;
}

static int write_all(qins_gguf_writer_t *w, struct sink *s) {
    const uint32_t align = w->alignment;
    QINS_TRY(sink_u32(s, GGUF_MAGIC));
    QINS_TRY(sink_u32(s, 3));
    QINS_TRY(sink_u64(s, w->n_tensors));
    QINS_TRY(sink_u64(s, w->n_kv));
    QINS_TRY(sink_put(s, w->meta, w->meta_len));
    uint64_t offset = 0;
    for (size_t i = 0; i < w->n_tensors; i++) {
        const struct wtensor *t = &w->tensors[i];
        QINS_TRY(sink_u64(s, strlen(t->name)));
        QINS_TRY(sink_put(s, t->name, strlen(t->name)));
        QINS_TRY(sink_u32(s, (uint32_t)t->n_dims));
        for (int d = 0; d < t->n_dims; d++) QINS_TRY(sink_u64(s, t->ne[d]));
        QINS_TRY(sink_u32(s, (uint32_t)t->type));
        QINS_TRY(sink_u64(s, offset));
        offset = align_up(offset + t->n_bytes, align);
    }
    QINS_TRY(sink_pad(s, align));
    for (size_t i = 0; i < w->n_tensors; i++) {
        QINS_TRY(write_tensor_data(s, &w->tensors[i]));
        QINS_TRY(sink_pad(s, align));
    }
    return QINS_OK;
}

int qins_gguf_writer_write_memory(qins_gguf_writer_t *w, void **data, size_t *size) {
    QINS_CHECK(w && data && size, QINS_ERR_ARG, "NULL argument");
    struct sink s = {0};
    int st = write_all(w, &s);
    if (st < 0) {
        free(s.buf);
        return st;
    }
    *data = s.buf;
    *size = s.len;
    return QINS_OK;
}

int qins_gguf_writer_write_file(qins_gguf_writer_t *w, const char *path) {
    QINS_CHECK(w && path && path[0], QINS_ERR_ARG, "NULL writer or empty path");
    size_t cap = strlen(path) + 32;
    char *tmp = malloc(cap);
    QINS_CHECK(tmp, QINS_ERR_NOMEM, "out of memory");
    snprintf(tmp, cap, "%s.%ld.tmp", path, (long)getpid());
    struct sink s = {0};
    s.f = fopen(tmp, "wb");
    if (!s.f) {
        qins_log_error_at(__FILE__, __LINE__, __func__, "cannot create '%s': %s", tmp, strerror(errno));
        free(tmp);
        return QINS_ERR_IO;
    }
    int st = write_all(w, &s);
    if (fclose(s.f) != 0 && st == QINS_OK) {
        qins_log_error_at(__FILE__, __LINE__, __func__, "closing '%s' failed (disk full?)", tmp);
        st = QINS_ERR_IO;
    }
    if (st == QINS_OK && rename(tmp, path) != 0) {
        qins_log_error_at(__FILE__, __LINE__, __func__, "cannot rename '%s' to '%s'", tmp, path);
        st = QINS_ERR_IO;
    }
    if (st < 0) remove(tmp);
    free(tmp);
    return st;
}

int qins_gguf_writer_init(qins_gguf_writer_t **out) {
    QINS_CHECK(out, QINS_ERR_ARG, "NULL out");
    qins_gguf_writer_t *w = calloc(1, sizeof *w);
    QINS_CHECK(w, QINS_ERR_NOMEM, "out of memory");
    w->alignment = GGUF_DEFAULT_ALIGNMENT;
    *out = w;
    return QINS_OK;
}

void qins_gguf_writer_free(qins_gguf_writer_t *w) {
    if (!w) return;
    for (uint64_t i = 0; i < w->n_kv; i++) free(w->keys[i]);
    free(w->keys);
    for (size_t i = 0; i < w->n_tensors; i++) {
        free(w->tensors[i].name);
        free(w->tensors[i].encoded);
        if (w->tensors[i].free_user) w->tensors[i].free_user(w->tensors[i].user);
    }
    free(w->tensors);
    free(w->meta);
    free(w);
}
