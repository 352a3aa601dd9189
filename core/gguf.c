// core/gguf.c — GGUF parsing with every count and offset checked against the mapping.
#include "gguf.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common.h"
#include "half.h"

#define GGUF_MAGIC 0x46554747u // "GGUF" little-endian
#define GGUF_MAX_DIMS 4
// Sanity caps: a real model has far fewer; larger counts mean a corrupt file.
#define GGUF_MAX_KV (1u << 20)
#define GGUF_MAX_TENSORS (1u << 20)

struct qins_gguf {
    char *path;
    const uint8_t *base;
    size_t size;
    bool mapped;
    uint32_t version;
    uint64_t n_kv, n_tensors;
    struct qins_gguf_kv *kv;
    struct qins_gguf_tensor *tensors;
    uint64_t alignment;
    uint64_t data_offset;
};

// ---- bounded cursor

struct cursor {
    const uint8_t *p;
    size_t pos, size;
    const char *label;
};

static int need(struct cursor *c, uint64_t n, const char *what) {
    QINS_CHECK(n <= c->size && c->pos <= c->size - n, QINS_ERR_FORMAT,
               "%s: truncated GGUF (%s needs %llu bytes at offset %zu, file has %zu)", c->label, what,
               (unsigned long long)n, c->pos, c->size);
    return 0;
}

static int rd(struct cursor *c, void *dst, size_t n, const char *what) {
    QINS_TRY(need(c, n, what));
    memcpy(dst, c->p + c->pos, n);
    c->pos += n;
    return 0;
}

static int rd_str(struct cursor *c, struct qins_gguf_str *s, const char *what) {
    QINS_TRY(rd(c, &s->len, 8, what));
    QINS_TRY(need(c, s->len, what));
    s->data = (const char *)c->p + c->pos;
    c->pos += s->len;
    return 0;
}

static size_t scalar_size(uint32_t type) {
    switch (type) {
    case QINS_GGUF_UINT8: case QINS_GGUF_INT8: case QINS_GGUF_BOOL: return 1;
    case QINS_GGUF_UINT16: case QINS_GGUF_INT16: return 2;
    case QINS_GGUF_UINT32: case QINS_GGUF_INT32: case QINS_GGUF_FLOAT32: return 4;
    case QINS_GGUF_UINT64: case QINS_GGUF_INT64: case QINS_GGUF_FLOAT64: return 8;
    default: return 0;
    }
}

static char *dup_str(const struct qins_gguf_str *s) {
    char *out = malloc(s->len + 1);
    if (!out) return NULL;
    memcpy(out, s->data, s->len);
    out[s->len] = 0;
    return out;
}

static int rd_scalar(struct cursor *c, uint32_t type, struct qins_gguf_kv *kv, const char *key) {
    uint8_t raw[8] = {0};
    size_t n = scalar_size(type);
    QINS_TRY(rd(c, raw, n, key));
    switch (type) {
    case QINS_GGUF_UINT8: kv->v.u64 = raw[0]; break;
    case QINS_GGUF_BOOL: kv->v.u64 = raw[0] != 0; break;
    case QINS_GGUF_INT8: kv->v.i64 = (int8_t)raw[0]; break;
    case QINS_GGUF_UINT16: { uint16_t x; memcpy(&x, raw, 2); kv->v.u64 = x; break; }
    case QINS_GGUF_INT16: { int16_t x; memcpy(&x, raw, 2); kv->v.i64 = x; break; }
    case QINS_GGUF_UINT32: { uint32_t x; memcpy(&x, raw, 4); kv->v.u64 = x; break; }
    case QINS_GGUF_INT32: { int32_t x; memcpy(&x, raw, 4); kv->v.i64 = x; break; }
    case QINS_GGUF_FLOAT32: { float x; memcpy(&x, raw, 4); kv->v.f64 = x; break; }
    case QINS_GGUF_UINT64: memcpy(&kv->v.u64, raw, 8); break;
    case QINS_GGUF_INT64: memcpy(&kv->v.i64, raw, 8); break;
    case QINS_GGUF_FLOAT64: memcpy(&kv->v.f64, raw, 8); break;
    }
    return 0;
}

static int rd_kv(struct cursor *c, struct qins_gguf_kv *kv) {
    struct qins_gguf_str key;
    QINS_TRY(rd_str(c, &key, "metadata key"));
    QINS_CHECK(key.len > 0 && key.len < 65536, QINS_ERR_FORMAT, "%s: metadata key of length %llu",
               c->label, (unsigned long long)key.len);
    kv->key = dup_str(&key);
    QINS_CHECK(kv->key, QINS_ERR_NOMEM, "%s: out of memory", c->label);
    uint32_t type;
    QINS_TRY(rd(c, &type, 4, kv->key));
    kv->type = (enum qins_gguf_type)type;
    if (type == QINS_GGUF_STRING) return rd_str(c, &kv->v.str, kv->key);
    if (type == QINS_GGUF_ARRAY) {
        uint32_t et;
        QINS_TRY(rd(c, &et, 4, kv->key));
        QINS_TRY(rd(c, &kv->v.arr.n, 8, kv->key));
        kv->v.arr.type = (enum qins_gguf_type)et;
        uint64_t n = kv->v.arr.n;
        if (et == QINS_GGUF_STRING) {
            // each string needs at least its 8-byte length: bound n before allocating
            QINS_CHECK(n <= (c->size - c->pos) / 8, QINS_ERR_FORMAT,
                       "%s: key '%s' claims %llu strings, more than the file can hold", c->label, kv->key,
                       (unsigned long long)n);
            kv->v.arr.strs = calloc(n ? n : 1, sizeof *kv->v.arr.strs);
            QINS_CHECK(kv->v.arr.strs, QINS_ERR_NOMEM, "%s: out of memory", c->label);
            for (uint64_t i = 0; i < n; i++) QINS_TRY(rd_str(c, &kv->v.arr.strs[i], kv->key));
            return 0;
        }
        size_t es = scalar_size(et);
        QINS_CHECK(es > 0, QINS_ERR_FORMAT, "%s: key '%s' has array element type %u", c->label, kv->key, et);
        QINS_CHECK(n <= (c->size - c->pos) / es, QINS_ERR_FORMAT,
                   "%s: truncated GGUF (array '%s' of %llu elements runs past the end)", c->label, kv->key,
                   (unsigned long long)n);
        kv->v.arr.data = c->p + c->pos;
        c->pos += n * es;
        return 0;
    }
    QINS_CHECK(scalar_size(type) > 0, QINS_ERR_FORMAT, "%s: key '%s' has unknown value type %u", c->label,
               kv->key, type);
    return rd_scalar(c, type, kv, kv->key);
}

// ---- tensor types

// Block size (values) and bytes per block of every type ggml defines, so that the data range
// of every tensor is bounds-checked even for types this harness does not dequantise.
static uint64_t type_block(int type, uint64_t *block_bytes) {
    static const struct { int type; uint32_t blk, bytes; } tab[] = {
        {0, 1, 4},     {1, 1, 2},      {2, 32, 18},    {3, 32, 20},    {6, 32, 22},   {7, 32, 24},
        {8, 32, 34},   {9, 32, 36},    {10, 256, 84},  {11, 256, 110}, {12, 256, 144}, {13, 256, 176},
        {14, 256, 210}, {15, 256, 292}, {16, 256, 66}, {17, 256, 74},  {18, 256, 98}, {19, 256, 50},
        {20, 32, 18},  {21, 256, 110}, {22, 256, 82},  {23, 256, 136}, {24, 1, 1},    {25, 1, 2},
        {26, 1, 4},    {27, 1, 8},     {28, 1, 8},     {29, 256, 56},  {30, 1, 2},    {34, 256, 54},
        {35, 256, 66}, {39, 32, 17},
    };
    for (size_t i = 0; i < sizeof tab / sizeof tab[0]; i++)
        if (tab[i].type == type) {
            *block_bytes = tab[i].bytes;
            return tab[i].blk;
        }
    *block_bytes = 0;
    return 0;
}

const char *qins_ggml_type_name(int type) {
    switch (type) {
    case QINS_GGML_F32: return "F32";
    case QINS_GGML_F16: return "F16";
    case QINS_GGML_BF16: return "BF16";
    case QINS_GGML_Q8_0: return "Q8_0";
    case QINS_GGML_Q4_0: return "Q4_0";
    case QINS_GGML_Q4_1: return "Q4_1";
    case QINS_GGML_Q5_0: return "Q5_0";
    case QINS_GGML_Q5_1: return "Q5_1";
    default: {
        static _Thread_local char buf[32];
        snprintf(buf, sizeof buf, "type%d", type);
        return buf;
    }
    }
}

bool qins_ggml_type_supported(int type) {
    return type == QINS_GGML_F32 || type == QINS_GGML_F16 || type == QINS_GGML_BF16 || type == QINS_GGML_Q8_0;
}

static int rd_tensor(struct cursor *c, struct qins_gguf_tensor *t) {
    struct qins_gguf_str name;
    QINS_TRY(rd_str(c, &name, "tensor name"));
    QINS_CHECK(name.len > 0 && name.len < 4096, QINS_ERR_FORMAT, "%s: tensor name of length %llu", c->label,
               (unsigned long long)name.len);
    t->name = dup_str(&name);
    QINS_CHECK(t->name, QINS_ERR_NOMEM, "%s: out of memory", c->label);
    uint32_t n_dims, type;
    QINS_TRY(rd(c, &n_dims, 4, t->name));
    QINS_CHECK(n_dims >= 1 && n_dims <= GGUF_MAX_DIMS, QINS_ERR_FORMAT, "%s: tensor '%s' has %u dimensions",
               c->label, t->name, n_dims);
    t->n_dims = (int)n_dims;
    uint64_t n = 1;
    for (int d = 0; d < GGUF_MAX_DIMS; d++) t->ne[d] = 1;
    for (uint32_t d = 0; d < n_dims; d++) {
        QINS_TRY(rd(c, &t->ne[d], 8, t->name));
        QINS_CHECK(t->ne[d] >= 1 && t->ne[d] < (1ull << 40) && n <= (1ull << 40) / t->ne[d], QINS_ERR_FORMAT,
                   "%s: tensor '%s' has an absurd dimension %llu", c->label, t->name,
                   (unsigned long long)t->ne[d]);
        n *= t->ne[d];
    }
    t->n_elements = n;
    QINS_TRY(rd(c, &type, 4, t->name));
    t->type = (enum qins_ggml_type)type;
    QINS_TRY(rd(c, &t->offset, 8, t->name));
    uint64_t bb, blk = type_block((int)type, &bb);
    // A type number ggml does not define means a corrupt file: without its size the data range
    // could not be checked. Defined-but-unhandled types load; the model loader names them.
    QINS_CHECK(blk != 0, QINS_ERR_FORMAT, "%s: tensor '%s' has unknown ggml type %u", c->label, t->name, type);
    QINS_CHECK(t->ne[0] % blk == 0, QINS_ERR_FORMAT, "%s: tensor '%s' of type %s has rows of %llu, not a multiple of %llu",
               c->label, t->name, qins_ggml_type_name((int)type), (unsigned long long)t->ne[0],
               (unsigned long long)blk);
    t->n_bytes = n / blk * bb;
    return 0;
}

// ---- open / free

static int parse(qins_gguf_t *g) {
    struct cursor c = {g->base, 0, g->size, g->path};
    uint32_t magic;
    QINS_TRY(rd(&c, &magic, 4, "magic"));
    QINS_CHECK(magic == GGUF_MAGIC, QINS_ERR_FORMAT, "%s: not a GGUF file (bad magic 0x%08x)", g->path, magic);
    QINS_TRY(rd(&c, &g->version, 4, "version"));
    QINS_CHECK(g->version == 2 || g->version == 3, QINS_ERR_UNSUPPORTED,
               "%s: GGUF version %u is not supported (2 or 3)", g->path, g->version);
    QINS_TRY(rd(&c, &g->n_tensors, 8, "tensor count"));
    QINS_TRY(rd(&c, &g->n_kv, 8, "metadata count"));
    // Each key/value takes at least 13 bytes (key length, 1-byte key, type) and each tensor
    // entry at least 33: larger counts cannot fit, so reject them before allocating.
    const uint64_t left = c.size - c.pos;
    QINS_CHECK(g->n_tensors <= GGUF_MAX_TENSORS && g->n_kv <= GGUF_MAX_KV && g->n_kv <= left / 13 &&
                   g->n_tensors <= left / 33,
               QINS_ERR_FORMAT, "%s: absurd counts (%llu tensors, %llu metadata keys) for a %zu-byte file", g->path,
               (unsigned long long)g->n_tensors, (unsigned long long)g->n_kv, g->size);
    g->kv = calloc(g->n_kv ? g->n_kv : 1, sizeof *g->kv);
    g->tensors = calloc(g->n_tensors ? g->n_tensors : 1, sizeof *g->tensors);
    QINS_CHECK(g->kv && g->tensors, QINS_ERR_NOMEM, "%s: out of memory", g->path);
    for (uint64_t i = 0; i < g->n_kv; i++) QINS_TRY(rd_kv(&c, &g->kv[i]));
    g->alignment = 32;
    const struct qins_gguf_kv *al = qins_gguf_find_kv(g, "general.alignment");
    if (al) {
        QINS_CHECK(al->type == QINS_GGUF_UINT32 || al->type == QINS_GGUF_UINT64, QINS_ERR_FORMAT,
                   "%s: general.alignment has type %d", g->path, al->type);
        g->alignment = al->v.u64;
        QINS_CHECK(g->alignment > 0 && g->alignment <= 65536 && (g->alignment & (g->alignment - 1)) == 0,
                   QINS_ERR_FORMAT, "%s: general.alignment %llu is not a power of two", g->path,
                   (unsigned long long)g->alignment);
    }
    for (uint64_t i = 0; i < g->n_tensors; i++) QINS_TRY(rd_tensor(&c, &g->tensors[i]));
    uint64_t data = (c.pos + g->alignment - 1) / g->alignment * g->alignment;
    g->data_offset = data;
    for (uint64_t i = 0; i < g->n_tensors; i++) {
        struct qins_gguf_tensor *t = &g->tensors[i];
        QINS_CHECK(t->offset % g->alignment == 0, QINS_ERR_FORMAT, "%s: tensor '%s' offset %llu is not aligned to %llu",
                   g->path, t->name, (unsigned long long)t->offset, (unsigned long long)g->alignment);
        QINS_CHECK(data <= g->size && t->offset <= g->size - data && t->n_bytes <= g->size - data - t->offset,
                   QINS_ERR_FORMAT, "%s: tensor '%s' data (offset %llu, %llu bytes) runs past the end of the file (%zu bytes)",
                   g->path, t->name, (unsigned long long)(data + t->offset), (unsigned long long)t->n_bytes, g->size);
        t->data = g->base + data + t->offset;
        for (uint64_t j = 0; j < i; j++)
            QINS_CHECK(strcmp(g->tensors[j].name, t->name) != 0, QINS_ERR_FORMAT, "%s: duplicate tensor '%s'",
                       g->path, t->name);
    }
    return 0;
}

int qins_gguf_open_memory(const void *data, size_t size, const char *label, qins_gguf_t **out) {
    *out = NULL;
    qins_gguf_t *g = calloc(1, sizeof *g);
    QINS_CHECK(g, QINS_ERR_NOMEM, "out of memory");
    g->path = strdup(label ? label : "<memory>");
    g->base = data;
    g->size = size;
    int st = g->path ? parse(g) : QINS_ERR_NOMEM;
    if (st < 0) {
        qins_gguf_free(g);
        return st;
    }
    *out = g;
    return 0;
}

int qins_gguf_open(const char *path, qins_gguf_t **out) {
    *out = NULL;
    int fd = open(path, O_RDONLY);
    QINS_CHECK(fd >= 0, QINS_ERR_IO, "%s: cannot open (%s)", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        QINS_CHECK(0, QINS_ERR_IO, "%s: not a regular file", path);
    }
    if (st.st_size < 24) {
        close(fd);
        QINS_CHECK(0, QINS_ERR_FORMAT, "%s: truncated GGUF (%lld bytes, header needs 24)", path,
                   (long long)st.st_size);
    }
    void *map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    QINS_CHECK(map != MAP_FAILED, QINS_ERR_IO, "%s: mmap failed (%s)", path, strerror(errno));
    int status = qins_gguf_open_memory(map, (size_t)st.st_size, path, out);
    if (status < 0) {
        munmap(map, (size_t)st.st_size);
        return status;
    }
    (*out)->mapped = true;
    return 0;
}

void qins_gguf_free(qins_gguf_t *g) {
    if (!g) return;
    if (g->kv)
        for (uint64_t i = 0; i < g->n_kv; i++) {
            free(g->kv[i].key);
            if (g->kv[i].type == QINS_GGUF_ARRAY) free(g->kv[i].v.arr.strs);
        }
    if (g->tensors)
        for (uint64_t i = 0; i < g->n_tensors; i++) free(g->tensors[i].name);
    free(g->kv);
    free(g->tensors);
    if (g->mapped) munmap((void *)g->base, g->size);
    free(g->path);
    free(g);
}

// ---- accessors

uint32_t qins_gguf_version(const qins_gguf_t *g) { return g->version; }
size_t qins_gguf_file_size(const qins_gguf_t *g) { return g->size; }
const char *qins_gguf_path(const qins_gguf_t *g) { return g->path; }
uint64_t qins_gguf_n_kv(const qins_gguf_t *g) { return g->n_kv; }
const struct qins_gguf_kv *qins_gguf_kv_at(const qins_gguf_t *g, uint64_t i) { return i < g->n_kv ? &g->kv[i] : NULL; }
uint64_t qins_gguf_n_tensors(const qins_gguf_t *g) { return g->n_tensors; }
const struct qins_gguf_tensor *qins_gguf_tensor_at(const qins_gguf_t *g, uint64_t i) {
    return i < g->n_tensors ? &g->tensors[i] : NULL;
}

const struct qins_gguf_kv *qins_gguf_find_kv(const qins_gguf_t *g, const char *key) {
    for (uint64_t i = 0; i < g->n_kv; i++)
        if (g->kv[i].key && !strcmp(g->kv[i].key, key)) return &g->kv[i];
    return NULL;
}

const struct qins_gguf_tensor *qins_gguf_find_tensor(const qins_gguf_t *g, const char *name) {
    for (uint64_t i = 0; i < g->n_tensors; i++)
        if (g->tensors[i].name && !strcmp(g->tensors[i].name, name)) return &g->tensors[i];
    return NULL;
}

static bool is_unsigned(int t) {
    return t == QINS_GGUF_UINT8 || t == QINS_GGUF_UINT16 || t == QINS_GGUF_UINT32 || t == QINS_GGUF_UINT64 ||
           t == QINS_GGUF_BOOL;
}
static bool is_signed(int t) {
    return t == QINS_GGUF_INT8 || t == QINS_GGUF_INT16 || t == QINS_GGUF_INT32 || t == QINS_GGUF_INT64;
}

int qins_gguf_get_u64(const qins_gguf_t *g, const char *key, uint64_t *out) {
    const struct qins_gguf_kv *kv = qins_gguf_find_kv(g, key);
    if (!kv) return QINS_ERR_RANGE;
    if (is_unsigned(kv->type)) {
        *out = kv->v.u64;
        return 0;
    }
    QINS_CHECK(is_signed(kv->type) && kv->v.i64 >= 0, QINS_ERR_FORMAT, "%s: key '%s' is not a non-negative integer",
               g->path, key);
    *out = (uint64_t)kv->v.i64;
    return 0;
}

int qins_gguf_get_u32(const qins_gguf_t *g, const char *key, uint32_t *out) {
    uint64_t v;
    int st = qins_gguf_get_u64(g, key, &v);
    if (st < 0) return st;
    QINS_CHECK(v <= UINT32_MAX, QINS_ERR_FORMAT, "%s: key '%s' = %llu does not fit 32 bits", g->path, key,
               (unsigned long long)v);
    *out = (uint32_t)v;
    return 0;
}

int qins_gguf_get_f32(const qins_gguf_t *g, const char *key, float *out) {
    const struct qins_gguf_kv *kv = qins_gguf_find_kv(g, key);
    if (!kv) return QINS_ERR_RANGE;
    if (kv->type == QINS_GGUF_FLOAT32 || kv->type == QINS_GGUF_FLOAT64) *out = (float)kv->v.f64;
    else if (is_unsigned(kv->type)) *out = (float)kv->v.u64;
    else if (is_signed(kv->type)) *out = (float)kv->v.i64;
    else QINS_CHECK(0, QINS_ERR_FORMAT, "%s: key '%s' is not a number", g->path, key);
    return 0;
}

int qins_gguf_get_bool(const qins_gguf_t *g, const char *key, bool *out) {
    const struct qins_gguf_kv *kv = qins_gguf_find_kv(g, key);
    if (!kv) return QINS_ERR_RANGE;
    QINS_CHECK(kv->type == QINS_GGUF_BOOL || is_unsigned(kv->type), QINS_ERR_FORMAT, "%s: key '%s' is not a bool",
               g->path, key);
    *out = kv->v.u64 != 0;
    return 0;
}

int qins_gguf_get_str(const qins_gguf_t *g, const char *key, char *buf, size_t cap) {
    const struct qins_gguf_kv *kv = qins_gguf_find_kv(g, key);
    if (!kv) return QINS_ERR_RANGE;
    QINS_CHECK(kv->type == QINS_GGUF_STRING, QINS_ERR_FORMAT, "%s: key '%s' is not a string", g->path, key);
    size_t n = kv->v.str.len < cap - 1 ? kv->v.str.len : cap - 1;
    memcpy(buf, kv->v.str.data, n);
    buf[n] = 0;
    return 0;
}

static int get_arr(const qins_gguf_t *g, const char *key, int et, const struct qins_gguf_kv **out) {
    const struct qins_gguf_kv *kv = qins_gguf_find_kv(g, key);
    if (!kv) return QINS_ERR_RANGE;
    QINS_CHECK(kv->type == QINS_GGUF_ARRAY && (int)kv->v.arr.type == et, QINS_ERR_FORMAT,
               "%s: key '%s' is not an array of the expected type", g->path, key);
    *out = kv;
    return 0;
}

// Array payloads sit at arbitrary byte offsets in the file, so the typed pointers may be
// unaligned; x86-64 tolerates that, and callers on stricter targets should memcpy.
int qins_gguf_get_arr_f32(const qins_gguf_t *g, const char *key, const float **data, uint64_t *n) {
    const struct qins_gguf_kv *kv;
    QINS_TRY(get_arr(g, key, QINS_GGUF_FLOAT32, &kv));
    *data = (const float *)(const void *)kv->v.arr.data;
    *n = kv->v.arr.n;
    return 0;
}

int qins_gguf_get_arr_i32(const qins_gguf_t *g, const char *key, const int32_t **data, uint64_t *n) {
    const struct qins_gguf_kv *kv;
    QINS_TRY(get_arr(g, key, QINS_GGUF_INT32, &kv));
    *data = (const int32_t *)(const void *)kv->v.arr.data;
    *n = kv->v.arr.n;
    return 0;
}

int qins_gguf_get_arr_str(const qins_gguf_t *g, const char *key, const struct qins_gguf_str **strs, uint64_t *n) {
    const struct qins_gguf_kv *kv;
    QINS_TRY(get_arr(g, key, QINS_GGUF_STRING, &kv));
    *strs = kv->v.arr.strs;
    *n = kv->v.arr.n;
    return 0;
}

// ---- dequantisation

int qins_gguf_tensor_to_f32(const struct qins_gguf_tensor *t, float *dst) {
    const uint8_t *src = t->data;
    uint64_t n = t->n_elements;
    switch (t->type) {
    case QINS_GGML_F32: memcpy(dst, src, n * 4); return 0;
    case QINS_GGML_F16: qins_half_to_f32(src, n, dst); return 0;
    case QINS_GGML_BF16:
        for (uint64_t i = 0; i < n; i++) {
            uint16_t h;
            memcpy(&h, src + 2 * i, 2);
            dst[i] = qins_bf16_to_f32(h);
        }
        return 0;
    case QINS_GGML_Q8_0: // blocks of 32: fp16 scale d, then 32 int8 q; x = d * q
        for (uint64_t b = 0; b < n / 32; b++) {
            const uint8_t *blk = src + 34 * b;
            uint16_t h;
            memcpy(&h, blk, 2);
            float d = qins_fp16_to_f32(h);
            for (int j = 0; j < 32; j++) dst[32 * b + j] = d * (float)(int8_t)blk[2 + j];
        }
        return 0;
    default:
        QINS_CHECK(0, QINS_ERR_UNSUPPORTED, "tensor '%s' has type %s, which this harness does not load (F32, F16, BF16, Q8_0)",
                   t->name, qins_ggml_type_name(t->type));
    }
}
