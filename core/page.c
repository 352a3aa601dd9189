// core/page.c — page framing over codec blocks, CRC-32C checksums, multi-page tensors.
#include "page.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

// ---- CRC-32C: bytewise table reference and the SSE4.2 crc32 instruction (same polynomial).
static uint32_t crc_table[256];
static void crc_init(void) {
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++) c = c & 1 ? (c >> 1) ^ 0x82F63B78u : c >> 1;
        crc_table[i] = c;
    }
}

uint32_t qins_crc32c_ref(uint32_t crc, const uint8_t *p, size_t n) {
    if (!crc_table[1]) crc_init(); // idempotent: concurrent first calls write the same values
    crc = ~crc;
    for (size_t i = 0; i < n; i++) crc = crc_table[(crc ^ p[i]) & 0xff] ^ (crc >> 8);
    return ~crc;
}

#if defined(__x86_64__)
__attribute__((target("sse4.2"))) static uint32_t crc32c_hw(uint32_t crc, const uint8_t *p, size_t n) {
    uint64_t c = ~crc;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t v;
        memcpy(&v, p + i, 8);
        c = _mm_crc32_u64(c, v);
    }
    uint32_t c32 = (uint32_t)c;
    for (; i < n; i++) c32 = _mm_crc32_u8(c32, p[i]);
    return ~c32;
}
#endif

uint32_t qins_crc32c(uint32_t crc, const uint8_t *p, size_t n) {
#if defined(__x86_64__)
    static int have = -1;
    if (have < 0) {
        __builtin_cpu_init();
        have = __builtin_cpu_supports("sse4.2") ? 1 : 0;
    }
    if (have) return crc32c_hw(crc, p, n);
#endif
    return qins_crc32c_ref(crc, p, n);
}

// ---- header
static void put32(uint8_t *p, uint32_t v) {
    for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}
static uint32_t get32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static void putf(uint8_t *p, float f) {
    uint32_t v;
    memcpy(&v, &f, 4);
    put32(p, v);
}
static float getf(const uint8_t *p) {
    uint32_t v = get32(p);
    float f;
    memcpy(&f, &v, 4);
    return f;
}

size_t qins_page_bytes(const struct qins_codec_params *p, size_t rows, size_t cols) {
    if (qins_codec_validate(p) < 0 || rows > UINT32_MAX || cols > UINT32_MAX) return 0;
    size_t e = qins_codec_encoded_bytes(p, rows, cols);
    return (e || rows * cols == 0) ? QINS_PAGE_HEADER_BYTES + e : 0;
}

size_t qins_page_rows_for(const struct qins_codec_params *p, size_t cols, size_t target_bytes) {
    size_t lo = 1, hi = 1;
    while (qins_page_bytes(p, hi * 2, cols) && qins_page_bytes(p, hi * 2, cols) <= target_bytes && hi < (1u << 30))
        hi *= 2;
    // Sizes grow monotonically with rows: binary search in [hi, 2*hi).
    lo = hi, hi = hi * 2;
    while (hi - lo > 1) {
        size_t mid = (lo + hi) / 2;
        if (qins_page_bytes(p, mid, cols) <= target_bytes) lo = mid;
        else hi = mid;
    }
    return lo;
}

// Both framings: the codec's payload right after a header whose last 4 bytes are the CRC-32C
// of the header before them and the payload. Encodes the payload (label names the framing in
// errors); the caller fills the header, then seals it.
static int encode_framed(const struct qins_codec_params *p, const float *x, size_t rows, size_t cols, uint8_t *out,
                         size_t cap, size_t header_bytes, const char *label, size_t *payload) {
    *payload = qins_codec_encoded_bytes(p, rows, cols);
    const size_t total = header_bytes + *payload;
    QINS_CHECK(*payload <= UINT32_MAX, QINS_ERR_RANGE, "%s payload %zu bytes too large", label, *payload);
    QINS_CHECK(cap >= total, QINS_ERR_RANGE, "%s buffer %zu < %zu bytes", label, cap, total);
    return qins_codec_encode(p, x, rows, cols, out + header_bytes, *payload);
}

static void seal_framed(uint8_t *out, size_t header_bytes, size_t payload) {
    const uint32_t crc = qins_crc32c(0, out, header_bytes - 4);
    put32(out + header_bytes - 4, qins_crc32c(crc, out + header_bytes, payload));
}

int qins_page_write(const struct qins_codec_params *p, const float *x, size_t rows, size_t cols, uint8_t *out,
                    size_t cap, size_t *written) {
    QINS_TRY(qins_codec_validate(p));
    QINS_CHECK(rows <= UINT32_MAX && cols <= UINT32_MAX, QINS_ERR_RANGE, "page %zu x %zu too large", rows, cols);
    size_t payload;
    QINS_TRY(encode_framed(p, x, rows, cols, out, cap, QINS_PAGE_HEADER_BYTES, "page", &payload));
    memcpy(out, "QPG1", 4);
    out[4] = (uint8_t)p->codec, out[5] = (uint8_t)p->bits, out[6] = (uint8_t)p->granularity;
    out[7] = (uint8_t)p->scale_mode;
    put32(out + 8, (uint32_t)p->group_size);
    putf(out + 12, p->alpha);
    putf(out + 16, p->clip);
    put32(out + 20, (uint32_t)rows);
    put32(out + 24, (uint32_t)cols);
    put32(out + 28, (uint32_t)payload);
    seal_framed(out, QINS_PAGE_HEADER_BYTES, payload);
    *written = QINS_PAGE_HEADER_BYTES + payload;
    return QINS_OK;
}

int qins_page_read_header(const uint8_t *in, size_t in_len, struct qins_page_header *h) {
    QINS_CHECK(in && in_len >= QINS_PAGE_HEADER_BYTES, QINS_ERR_FORMAT, "page of %zu bytes is truncated", in_len);
    QINS_CHECK(memcmp(in, "QPG1", 4) == 0, QINS_ERR_FORMAT, "bad page magic");
    memset(h, 0, sizeof *h);
    struct qins_codec_params *p = &h->params;
    qins_codec_params_default(p);
    QINS_CHECK(in[4] < QINS_CODEC_COUNT && in[6] <= QINS_GRAN_PER_GROUP && in[7] <= QINS_SCALE_RMS, QINS_ERR_FORMAT,
               "page header: codec %u / granularity %u / scale mode %u invalid", in[4], in[6], in[7]);
    p->codec = (enum qins_codec_kind)in[4];
    p->bits = in[5];
    p->granularity = (enum qins_granularity)in[6];
    p->scale_mode = (enum qins_scale_mode)in[7];
    uint32_t g = get32(in + 8);
    QINS_CHECK(g <= INT32_MAX, QINS_ERR_FORMAT, "page header: group size %u invalid", g);
    p->group_size = (int)g;
    p->alpha = getf(in + 12);
    p->clip = getf(in + 16);
    h->rows = get32(in + 20);
    h->cols = get32(in + 24);
    h->payload_bytes = get32(in + 28);
    h->checksum = get32(in + 32);
    QINS_CHECK(qins_codec_validate(p) == 0, QINS_ERR_FORMAT, "page header: invalid codec parameters");
    size_t want = qins_codec_encoded_bytes(p, h->rows, h->cols);
    QINS_CHECK((want || (size_t)h->rows * h->cols == 0) && want == h->payload_bytes, QINS_ERR_FORMAT,
               "page header: payload %u bytes, %zu expected for %u x %u", h->payload_bytes, want, h->rows, h->cols);
    QINS_CHECK(in_len - QINS_PAGE_HEADER_BYTES >= h->payload_bytes, QINS_ERR_FORMAT,
               "page truncated: %zu payload bytes of %u", in_len - QINS_PAGE_HEADER_BYTES, h->payload_bytes);
    return QINS_OK;
}

static int verify(const uint8_t *in, size_t in_len, struct qins_page_header *h) {
    QINS_TRY(qins_page_read_header(in, in_len, h));
    uint32_t crc = qins_crc32c(qins_crc32c(0, in, 32), in + QINS_PAGE_HEADER_BYTES, h->payload_bytes);
    QINS_CHECK(crc == h->checksum, QINS_ERR_FORMAT, "page checksum mismatch (0x%08x stored, 0x%08x computed)",
               h->checksum, crc);
    return QINS_OK;
}

int qins_page_read(const uint8_t *in, size_t in_len, float *x, size_t cap_elems, struct qins_page_header *h) {
    struct qins_page_header tmp;
    if (!h) h = &tmp;
    QINS_TRY(verify(in, in_len, h));
    QINS_CHECK((size_t)h->rows * h->cols <= cap_elems, QINS_ERR_RANGE, "page holds %u x %u, buffer %zu", h->rows,
               h->cols, cap_elems);
    return qins_codec_decode(&h->params, in + QINS_PAGE_HEADER_BYTES, h->payload_bytes, h->rows, h->cols, x);
}

int qins_page_codes(const uint8_t *in, size_t in_len, uint16_t *codes, size_t cap, struct qins_page_header *h) {
    struct qins_page_header tmp;
    if (!h) h = &tmp;
    QINS_TRY(verify(in, in_len, h));
    QINS_CHECK((size_t)h->rows * h->cols <= cap, QINS_ERR_RANGE, "page holds %u x %u, buffer %zu", h->rows, h->cols,
               cap);
    return qins_codec_unpack_codes(&h->params, in + QINS_PAGE_HEADER_BYTES, h->payload_bytes, h->rows, h->cols,
                                   codes);
}

int qins_pages_encode(const struct qins_codec_params *p, const float *x, size_t rows, size_t cols,
                      size_t rows_per_page, uint8_t *out, size_t cap, size_t *written) {
    QINS_TRY(qins_codec_validate(p));
    QINS_CHECK(rows_per_page >= 1, QINS_ERR_ARG, "rows per page must be >= 1");
    size_t total = 0;
    for (size_t r = 0; r < rows; r += rows_per_page) {
        size_t pr = rows - r < rows_per_page ? rows - r : rows_per_page, w = qins_page_bytes(p, pr, cols);
        QINS_CHECK(w, QINS_ERR_RANGE, "page of %zu x %zu cannot be encoded", pr, cols);
        if (out) {
            QINS_TRY(qins_page_write(p, x + r * cols, pr, cols, out + total, cap - total, &w));
        }
        total += w;
    }
    *written = total;
    return QINS_OK;
}

int qins_pages_decode(const uint8_t *in, size_t in_len, float *x, size_t rows, size_t cols) {
    size_t off = 0, r = 0;
    while (r < rows) {
        struct qins_page_header h;
        QINS_TRY(qins_page_read_header(in + off, in_len - off, &h));
        QINS_CHECK(h.cols == cols && h.rows >= 1 && h.rows <= rows - r, QINS_ERR_FORMAT,
                   "page at byte %zu is %u x %u, expected up to %zu x %zu", off, h.rows, h.cols, rows - r, cols);
        QINS_TRY(qins_page_read(in + off, in_len - off, x + r * cols, (rows - r) * cols, &h));
        off += QINS_PAGE_HEADER_BYTES + h.payload_bytes;
        r += h.rows;
    }
    QINS_CHECK(off == in_len, QINS_ERR_FORMAT, "%zu trailing bytes after the last page", in_len - off);
    return QINS_OK;
}

// ---- compact KV page

static void put16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)v, p[1] = (uint8_t)(v >> 8); }
static uint16_t get16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }

size_t qins_page_kv_bytes(const struct qins_codec_params *p, size_t rows, size_t cols) {
    if (qins_codec_validate(p) < 0 || rows > UINT16_MAX) return 0;
    size_t e = qins_codec_encoded_bytes(p, rows, cols);
    return (e || rows * cols == 0) && e <= UINT32_MAX ? QINS_PAGE_KV_HEADER_BYTES + e : 0;
}

int qins_page_kv_write(const struct qins_codec_params *p, const float *x, size_t rows, size_t cols, uint8_t *out,
                       size_t cap, size_t *written) {
    QINS_TRY(qins_codec_validate(p));
    QINS_CHECK(rows <= UINT16_MAX, QINS_ERR_RANGE, "kv page of %zu rows (at most %u)", rows, UINT16_MAX);
    size_t payload;
    QINS_TRY(encode_framed(p, x, rows, cols, out, cap, QINS_PAGE_KV_HEADER_BYTES, "kv page", &payload));
    memcpy(out, "QK", 2);
    out[2] = (uint8_t)p->codec, out[3] = (uint8_t)p->bits, out[4] = (uint8_t)p->granularity;
    out[5] = (uint8_t)p->scale_mode;
    put16(out + 6, (uint16_t)rows);
    put32(out + 8, (uint32_t)payload);
    seal_framed(out, QINS_PAGE_KV_HEADER_BYTES, payload);
    *written = QINS_PAGE_KV_HEADER_BYTES + payload;
    return QINS_OK;
}

static void kv_header_get(const uint8_t *in, struct qins_page_kv_header *h) {
    *h = (struct qins_page_kv_header){in[2], in[3], in[4], in[5], get16(in + 6), get32(in + 8), get32(in + 12)};
}

int qins_page_kv_read_header(const uint8_t *in, size_t in_len, struct qins_page_kv_header *h) {
    QINS_CHECK(in && in_len >= QINS_PAGE_KV_HEADER_BYTES, QINS_ERR_FORMAT, "kv page of %zu bytes is truncated",
               in_len);
    QINS_CHECK(in[0] == 'Q' && in[1] == 'K', QINS_ERR_FORMAT, "bad kv page magic 0x%02x 0x%02x", in[0], in[1]);
    kv_header_get(in, h);
    QINS_CHECK(in_len - QINS_PAGE_KV_HEADER_BYTES >= h->payload_bytes, QINS_ERR_FORMAT,
               "kv page truncated: %zu payload bytes of %u", in_len - QINS_PAGE_KV_HEADER_BYTES, h->payload_bytes);
    return QINS_OK;
}

// Every failure is one log line naming the page: this runs on each page of every attention
// read, so the label is formatted only on failure and the CRC is the hardware one.
int qins_page_kv_check(const uint8_t *in, size_t in_len, const struct qins_codec_params *p, size_t rows, size_t cols,
                       const char *name, int index, const uint8_t **payload, size_t *payload_len) {
    QINS_CHECK(in && in_len >= QINS_PAGE_KV_HEADER_BYTES && in[0] == 'Q' && in[1] == 'K', QINS_ERR_FORMAT,
               "%s page %d is corrupt: bad magic or truncated (%zu bytes)", name, index, in_len);
    struct qins_page_kv_header h;
    kv_header_get(in, &h);
    const size_t want = qins_codec_encoded_bytes(p, rows, cols);
    QINS_CHECK(h.codec == (uint8_t)p->codec && h.bits == (uint8_t)p->bits && h.granularity == (uint8_t)p->granularity &&
                   h.scale_mode == (uint8_t)p->scale_mode && h.rows == rows && h.payload_bytes == want &&
                   want <= in_len - QINS_PAGE_KV_HEADER_BYTES,
               QINS_ERR_FORMAT,
               "%s page %d is corrupt: header says codec %u bits %u gran %u scale %u, %u rows, %u bytes; "
               "expected %d %d %d %d, %zu rows, %zu bytes (of %zu)",
               name, index, h.codec, h.bits, h.granularity, h.scale_mode, h.rows, h.payload_bytes, (int)p->codec,
               p->bits, (int)p->granularity, (int)p->scale_mode, rows, want, in_len - QINS_PAGE_KV_HEADER_BYTES);
    const uint32_t crc = qins_crc32c(qins_crc32c(0, in, 12), in + QINS_PAGE_KV_HEADER_BYTES, h.payload_bytes);
    QINS_CHECK(crc == h.checksum, QINS_ERR_FORMAT, "%s page %d is corrupt: checksum 0x%08x stored, 0x%08x computed",
               name, index, h.checksum, crc);
    *payload = in + QINS_PAGE_KV_HEADER_BYTES;
    *payload_len = h.payload_bytes;
    return QINS_OK;
}
