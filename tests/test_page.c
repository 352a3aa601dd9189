// tests/test_page.c — page framing: round trips, sizes, page sizing, checksum and header
// corruption, truncation, CRC-32C hardware path == reference; the compact KV header likewise.
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "helpers/test_data.h"
#include "page.h"

Test(page, crc32c_known_value_and_hw_equals_ref) {
    cr_assert_eq(qins_crc32c_ref(0, (const uint8_t *)"123456789", 9), 0xE3069283u, "CRC-32C check value");
    uint8_t buf[1000];
    struct qins_test_rng r = {31};
    for (int i = 0; i < 1000; i++) buf[i] = (uint8_t)qins_test_next(&r);
    for (size_t n = 0; n < 1000; n += 37) {
        cr_assert_eq(qins_crc32c(0, buf, n), qins_crc32c_ref(0, buf, n), "n=%zu", n);
        cr_assert_eq(qins_crc32c(qins_crc32c(0, buf, n / 2), buf + n / 2, n - n / 2), qins_crc32c_ref(0, buf, n));
    }
}

static struct qins_codec_params mk(const char *spec, int gran) {
    struct qins_codec_params p;
    qins_codec_params_default(&p);
    cr_assert_eq(qins_codec_parse(spec, &p), 0);
    p.granularity = gran;
    p.group_size = 32;
    return p;
}

Test(page, tensor_round_trip_through_pages) {
    const char *specs[] = {"qins8", "int6", "nf4", "qinslog8", "fp16"};
    size_t rows = 300, cols = 96, n = rows * cols;
    struct qins_test_rng r = {32};
    float *x = malloc(n * 4), *y = malloc(n * 4), *z = malloc(n * 4);
    for (size_t i = 0; i < n; i++) x[i] = qins_test_gauss(&r);
    for (int s = 0; s < 5; s++) {
        struct qins_codec_params p = mk(specs[s], s == 1 ? QINS_GRAN_PER_GROUP : QINS_GRAN_PER_ROW);
        size_t rpp = qins_page_rows_for(&p, cols, 16 * 1024);
        cr_assert(qins_page_bytes(&p, rpp, cols) <= 16 * 1024 && qins_page_bytes(&p, rpp + 1, cols) > 16 * 1024,
                  "%s: %zu rows is the largest page under 16 KB", specs[s], rpp);
        size_t total;
        cr_assert_eq(qins_pages_encode(&p, x, rows, cols, rpp, NULL, 0, &total), 0);
        size_t pages = (rows + rpp - 1) / rpp;
        cr_assert_eq(total, pages * QINS_PAGE_HEADER_BYTES + (rows / rpp) * qins_codec_encoded_bytes(&p, rpp, cols) +
                                (rows % rpp ? qins_codec_encoded_bytes(&p, rows % rpp, cols) : 0));
        uint8_t *buf = malloc(total);
        cr_assert_eq(qins_pages_encode(&p, x, rows, cols, rpp, buf, total, &total), 0);
        cr_assert_eq(qins_pages_decode(buf, total, y, rows, cols), 0);
        // Same as one codec call per page block.
        for (size_t r0 = 0; r0 < rows; r0 += rpp) {
            size_t pr = rows - r0 < rpp ? rows - r0 : rpp, nb = qins_codec_encoded_bytes(&p, pr, cols);
            uint8_t *blk = malloc(nb);
            cr_assert_eq(qins_codec_encode(&p, x + r0 * cols, pr, cols, blk, nb), 0);
            cr_assert_eq(qins_codec_decode(&p, blk, nb, pr, cols, z + r0 * cols), 0);
            free(blk);
        }
        cr_assert_eq(memcmp(y, z, n * 4), 0, "%s pages == blocks", specs[s]);
        struct qins_page_header h;
        uint16_t *codes = malloc(n * 2);
        cr_assert_eq(qins_page_codes(buf, total, codes, n, &h), 0);
        cr_assert_eq(h.rows, rpp < rows ? rpp : rows);
        cr_assert_eq(h.params.codec, p.codec);
        free(buf), free(codes);
    }
    free(x), free(y), free(z);
}

Test(page, rejects_corruption_and_truncation) {
    struct qins_codec_params p = mk("qins8", QINS_GRAN_PER_TENSOR);
    float x[64], y[64];
    for (int i = 0; i < 64; i++) x[i] = (float)i - 30.5f;
    uint8_t buf[256];
    size_t w;
    cr_assert_eq(qins_page_write(&p, x, 4, 16, buf, sizeof buf, &w), 0);
    cr_assert_eq(w, QINS_PAGE_HEADER_BYTES + 2 + 64);
    cr_assert_eq(qins_page_read(buf, w, y, 64, NULL), 0);
    for (size_t cut = 0; cut < w; cut++) cr_assert_eq(qins_page_read(buf, cut, y, 64, NULL), QINS_ERR_FORMAT);
    for (size_t i = 0; i < w; i++) {
        for (int b = 0; b < 8; b++) {
            uint8_t c[256];
            memcpy(c, buf, w);
            c[i] ^= (uint8_t)(1u << b);
            cr_assert_eq(qins_page_read(c, w, y, 64, NULL), QINS_ERR_FORMAT, "flip byte %zu bit %d", i, b);
        }
    }
    cr_assert_eq(qins_page_read(buf, w, y, 63, NULL), QINS_ERR_RANGE, "small output");
}

// ---- compact KV pages

Test(page, kv_header_round_trip_and_layout) {
    struct qins_codec_params p = mk("int6", QINS_GRAN_PER_ROW);
    enum { R = 16, C = 32 };
    float x[R * C], y[R * C], z[R * C];
    struct qins_test_rng r = {33};
    for (int i = 0; i < R * C; i++) x[i] = qins_test_gauss(&r);
    const size_t payload = qins_codec_encoded_bytes(&p, R, C);
    cr_assert_eq(payload, R * 2 + R * C * 6 / 8, "per-row FP16 scales + 6-bit codes");
    cr_assert_eq(qins_page_kv_bytes(&p, R, C), QINS_PAGE_KV_HEADER_BYTES + payload);
    cr_assert_eq(QINS_PAGE_KV_HEADER_BYTES, 16);
    cr_assert_eq(qins_page_kv_bytes(&p, 65536, C), 0, "rows are u16");
    uint8_t buf[1024];
    size_t w;
    cr_assert_eq(qins_page_kv_write(&p, x, R, C, buf, sizeof buf, &w), 0);
    cr_assert_eq(w, QINS_PAGE_KV_HEADER_BYTES + payload);
    cr_assert_eq(qins_page_kv_write(&p, x, R, C, buf, w - 1, &w), QINS_ERR_RANGE, "small buffer");
    // golden layout: magic, codec fields, rows, payload size, CRC-32C over header[0..12) + payload
    const uint8_t head[12] = {'Q', 'K', (uint8_t)p.codec, 6, QINS_GRAN_PER_ROW, (uint8_t)p.scale_mode,
                              R, 0, (uint8_t)payload, (uint8_t)(payload >> 8), 0, 0};
    cr_assert_eq(memcmp(buf, head, 12), 0, "header bytes 0..12");
    uint32_t crc = qins_crc32c_ref(qins_crc32c_ref(0, buf, 12), buf + 16, payload);
    cr_assert_eq(buf[12] | buf[13] << 8 | buf[14] << 16 | (uint32_t)buf[15] << 24, crc, "little-endian CRC-32C");
    struct qins_page_kv_header h;
    cr_assert_eq(qins_page_kv_read_header(buf, w, &h), 0);
    cr_assert(h.codec == p.codec && h.bits == 6 && h.granularity == QINS_GRAN_PER_ROW && h.scale_mode == p.scale_mode);
    cr_assert(h.rows == R && h.payload_bytes == payload && h.checksum == crc);
    // the payload is exactly the codec's block, and decodes bit-identically to it
    const uint8_t *codes;
    size_t len;
    cr_assert_eq(qins_page_kv_check(buf, w, &p, R, C, "test", 0, &codes, &len), 0);
    cr_assert(codes == buf + 16 && len == payload);
    uint8_t blk[1024];
    cr_assert_eq(qins_codec_encode(&p, x, R, C, blk, payload), 0);
    cr_assert_eq(memcmp(codes, blk, payload), 0);
    cr_assert_eq(qins_codec_decode(&p, codes, len, R, C, y), 0);
    cr_assert_eq(qins_codec_decode(&p, blk, payload, R, C, z), 0);
    cr_assert_eq(memcmp(y, z, sizeof y), 0);
}

static void quiet_sink(int level, const char *msg, void *user) { (void)level, (void)msg, (void)user; }

Test(page, kv_check_rejects_corruption_truncation_and_other_codecs) {
    struct qins_codec_params p = mk("qins8", QINS_GRAN_PER_ROW);
    enum { R = 4, C = 16 };
    float x[R * C];
    for (int i = 0; i < R * C; i++) x[i] = (float)i - 30.5f;
    uint8_t buf[256];
    size_t w, len;
    const uint8_t *codes;
    cr_assert_eq(qins_page_kv_write(&p, x, R, C, buf, sizeof buf, &w), 0);
    qins_log_set(quiet_sink, NULL);
    for (size_t cut = 0; cut < w; cut++)
        cr_assert_eq(qins_page_kv_check(buf, cut, &p, R, C, "t", 0, &codes, &len), QINS_ERR_FORMAT, "cut %zu", cut);
    for (size_t i = 0; i < w; i++)
        for (int b = 0; b < 8; b++) {
            uint8_t c[256];
            memcpy(c, buf, w);
            c[i] ^= (uint8_t)(1u << b);
            cr_assert_eq(qins_page_kv_check(c, w, &p, R, C, "t", 0, &codes, &len), QINS_ERR_FORMAT,
                         "flip byte %zu bit %d", i, b);
        }
    struct qins_codec_params other = mk("int8", QINS_GRAN_PER_ROW);
    cr_assert_eq(qins_page_kv_check(buf, w, &other, R, C, "t", 0, &codes, &len), QINS_ERR_FORMAT, "other codec");
    cr_assert_eq(qins_page_kv_check(buf, w, &p, R - 1, C, "t", 0, &codes, &len), QINS_ERR_FORMAT, "other rows");
    cr_assert_eq(qins_page_kv_check(buf, w, &p, R, C + 1, "t", 0, &codes, &len), QINS_ERR_FORMAT, "other cols");
    cr_assert_eq(qins_page_kv_check(buf, w, &p, R, C, "layer 7 K", 3, &codes, &len), 0);
    buf[20] ^= 1;
    cr_assert_eq(qins_page_kv_check(buf, w, &p, R, C, "layer 7 K", 3, &codes, &len), QINS_ERR_FORMAT);
    qins_log_set(NULL, NULL);
    cr_assert(strstr(qins_last_error(), "layer 7 K page 3 is corrupt: checksum"), "%s", qins_last_error());
}
