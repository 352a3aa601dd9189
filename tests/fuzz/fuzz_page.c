// tests/fuzz/fuzz_page.c — libFuzzer: page parsing and decoding of arbitrary bytes (header,
// sizes, checksum, codec payload), as a full page and as a compact KV page, must fail cleanly
// or decode finite floats. The checksum is recomputed so the fuzzer reaches the decoder.
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "page.h"

static void quiet(int level, const char *msg, void *user) { (void)level, (void)msg, (void)user; }

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    qins_log_set(quiet, NULL);
    uint8_t *buf = malloc(size + 1);
    memcpy(buf, data, size);
    struct qins_page_header h;
    // The last byte decides whether to fix up the checksum (reach the decoder) or keep it as is.
    if (size > QINS_PAGE_HEADER_BYTES && (data[size - 1] & 1) && qins_page_read_header(buf, size, &h) == 0) {
        uint32_t crc = qins_crc32c(qins_crc32c(0, buf, 32), buf + QINS_PAGE_HEADER_BYTES, h.payload_bytes);
        for (int i = 0; i < 4; i++) buf[32 + i] = (uint8_t)(crc >> (8 * i));
    }
    size_t cap = 1 << 16;
    float *x = malloc(cap * sizeof *x);
    if (qins_page_read(buf, size, x, cap, &h) == 0) {
        for (size_t i = 0; i < (size_t)h.rows * h.cols; i++)
            if (!isfinite(x[i])) __builtin_trap(); // decode never yields NaN/Inf
    }
    uint16_t *codes = malloc(cap * sizeof *codes);
    (void)qins_page_codes(buf, size, codes, cap, &h);
    // The same bytes as a compact KV page, checked against the codec its header names (the KV
    // store passes its own), with the CRC fixed up the same way to reach the decoder.
    struct qins_page_kv_header kh;
    if (qins_page_kv_read_header(buf, size, &kh) == 0) {
        struct qins_codec_params p;
        qins_codec_params_default(&p);
        p.codec = (enum qins_codec_kind)(kh.codec % QINS_CODEC_COUNT), p.bits = kh.bits;
        p.granularity = (enum qins_granularity)(kh.granularity % (QINS_GRAN_PER_GROUP + 1));
        p.scale_mode = (enum qins_scale_mode)(kh.scale_mode % (QINS_SCALE_RMS + 1));
        const size_t cols = 1 + (size > 1 ? data[size - 2] % 64 : 0);
        if (qins_codec_validate(&p) == 0 && qins_codec_encoded_bytes(&p, kh.rows, cols) <= kh.payload_bytes) {
            if (data[size - 1] & 2) {
                uint32_t crc = qins_crc32c(qins_crc32c(0, buf, 12), buf + QINS_PAGE_KV_HEADER_BYTES, kh.payload_bytes);
                for (int i = 0; i < 4; i++) buf[12 + i] = (uint8_t)(crc >> (8 * i));
            }
            const uint8_t *payload;
            size_t len;
            if (qins_page_kv_check(buf, size, &p, kh.rows, cols, "fuzz", 0, &payload, &len) == 0 &&
                (size_t)kh.rows * cols <= cap &&
                qins_codec_decode(&p, payload, len, kh.rows, cols, x) == 0) {
                for (size_t i = 0; i < (size_t)kh.rows * cols; i++)
                    if (!isfinite(x[i])) __builtin_trap();
            }
        }
    }
    free(codes), free(x), free(buf);
    return 0;
}
