// tests/fuzz/fuzz_page.c — libFuzzer: page parsing and decoding of arbitrary bytes (header,
// sizes, checksum, codec payload) must fail cleanly or decode finite floats. The checksum is
// recomputed over the input so the fuzzer reaches the codec decoder behind it.
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
    free(codes), free(x), free(buf);
    return 0;
}
