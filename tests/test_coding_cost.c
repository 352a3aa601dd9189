// tests/test_coding_cost.c — the cost of each coding of a code stream: every size counted as the
// coders write it (headers and tables included, scale bytes added), RLE paying on runs, per-row
// tables costing their tables, zstd only when asked, decode throughput of each form verified
// against qins_codec_decode, and bad arguments refused with one log line.
#include <criterion/criterion.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "coding_cost.h"
#include "common.h"
#include "helpers/test_data.h"
#include "helpers/test_io.h"
#include "huffman.h"
#include "zstd_anchor.h"

TestSuite(coding_cost, .init = test_log_capture);

// A skewed 8-bit stream: geometric-like, most mass on a few codes.
static uint16_t *skewed_codes(size_t n, uint64_t seed) {
    struct qins_test_rng r = {seed};
    uint16_t *c = malloc(n * sizeof *c);
    for (size_t i = 0; i < n; i++) {
        double v = -log(qins_test_uniform(&r)) * 6.0;
        c[i] = (uint16_t)(v > 255 ? 255 : v);
    }
    return c;
}

static size_t log_lines(void) {
    size_t n = 0;
    for (const char *s = test_log; *s; s++) n += *s == '\n';
    return n;
}

Test(coding_cost, huffman_size_is_the_written_stream_and_near_the_entropy) {
    const size_t rows = 40, cols = 500, n = rows * cols;
    const uint64_t scale = 80;
    uint16_t *c = skewed_codes(n, 11);
    struct qins_coding_sizes s;
    cr_assert_eq(qins_coding_sizes(c, rows, cols, 8, scale, 0, &s), 0, "%s", test_log);
    size_t len;
    cr_assert_eq(qins_huffman_encode(c, n, 256, 0, NULL, 0, &len), 0);
    uint8_t *buf = malloc(len);
    cr_assert_eq(qins_huffman_encode(c, n, 256, 0, buf, len, &len), 0);
    cr_expect_eq(s.huffman_bytes, len + scale, "huffman %llu, stream %zu + %llu", (unsigned long long)s.huffman_bytes,
                 len, (unsigned long long)scale);
    struct qins_huffman_info info;
    cr_assert_eq(qins_huffman_info(buf, len, &info), 0);
    cr_assert_eq(info.total_bytes, len);
    // The entropy, counted here independently.
    uint64_t hist[256] = {0};
    for (size_t i = 0; i < n; i++) hist[c[i]]++;
    double h = 0;
    for (int k = 0; k < 256; k++)
        if (hist[k]) h -= (double)hist[k] / (double)n * log2((double)hist[k] / (double)n);
    cr_expect_float_eq(s.entropy, h, 1e-9, "entropy %g, counted %g", s.entropy, h);
    cr_expect_gt(h, 2.0, "the stream is meant to be skewed but not trivial: %g bits", h);
    const double payload = (double)info.payload_bits / (double)n;
    cr_expect(payload >= h - 1e-9 && payload < h + 1.0, "payload %.4f bits/symbol vs entropy %.4f", payload, h);
    cr_expect_eq(s.n, n);
    cr_expect_eq(s.bits, 8);
    cr_expect_eq(s.scale_bytes, scale);
    free(buf), free(c);
}

Test(coding_cost, rle_pays_on_runs) {
    const size_t rows = 64, cols = 1024, n = rows * cols;
    struct qins_test_rng r = {5};
    uint16_t *c = malloc(n * sizeof *c);
    for (size_t i = 0; i < n;) { // runs of 20..99 copies of a random 6-bit code
        const uint16_t v = (uint16_t)(qins_test_next(&r) & 63);
        for (size_t len = 20 + qins_test_next(&r) % 80; len > 0 && i < n; len--) c[i++] = v;
    }
    struct qins_coding_sizes s;
    cr_assert_eq(qins_coding_sizes(c, rows, cols, 6, 0, 0, &s), 0, "%s", test_log);
    cr_expect_lt(s.rle_huffman_bytes * 4, s.huffman_bytes, "rle %llu, plain %llu",
                 (unsigned long long)s.rle_huffman_bytes, (unsigned long long)s.huffman_bytes);
    size_t len;
    cr_assert_eq(qins_huffman_encode(c, n, 64, 1, NULL, 0, &len), 0);
    cr_expect_eq(s.rle_huffman_bytes, len);
    free(c);
}

Test(coding_cost, bitpack_size_by_hand) {
    const uint16_t c[10] = {0, 1, 2, 3, 63, 62, 5, 6, 7, 8};
    struct qins_coding_sizes s;
    cr_assert_eq(qins_coding_sizes(c, 2, 5, 6, 4, 0, &s), 0, "%s", test_log);
    cr_expect_eq(s.bitpack_bytes, 8 + 4, "60 bits -> 8 bytes + 4 scale bytes, got %llu",
                 (unsigned long long)s.bitpack_bytes);
    cr_expect_float_eq(qins_coding_bits_per_value(s.bitpack_bytes, s.n), 9.6, 1e-12);
    cr_expect(isnan(qins_coding_bits_per_value(10, 0)));
    cr_assert_eq(qins_coding_sizes(c, 1, 9, 12, 0, 0, &s), 0);
    cr_expect_eq(s.bitpack_bytes, 14, "9 x 12 bits = 108 bits -> 14 bytes");
}

Test(coding_cost, per_row_tables_are_counted) {
    const size_t rows = 16, cols = 64, n = rows * cols;
    struct qins_test_rng r = {9};
    uint16_t *c = malloc(n * sizeof *c);
    for (size_t i = 0; i < n; i++) c[i] = (uint16_t)(qins_test_next(&r) & 255);
    struct qins_coding_sizes s;
    cr_assert_eq(qins_coding_sizes(c, rows, cols, 8, 32, 0, &s), 0, "%s", test_log);
    uint64_t sum = 32;
    for (size_t i = 0; i < rows; i++) {
        size_t len;
        cr_assert_eq(qins_huffman_encode(c + i * cols, cols, 256, 0, NULL, 0, &len), 0);
        sum += len;
    }
    cr_expect_eq(s.huffman_rows_bytes, sum);
    // Each row pays a header and a 128-byte length table: far more than the one shared table.
    cr_expect_geq(s.huffman_rows_bytes, 32 + rows * (QINS_HUFF_HEADER_BYTES + 128));
    cr_expect_gt(s.huffman_rows_bytes, s.huffman_bytes, "rows %llu, one table %llu",
                 (unsigned long long)s.huffman_rows_bytes, (unsigned long long)s.huffman_bytes);
    free(c);
}

Test(coding_cost, zstd_sizes_only_when_asked) {
    const size_t rows = 32, cols = 256, n = rows * cols;
    uint16_t *c = skewed_codes(n, 3);
    struct qins_coding_sizes s;
    cr_assert_eq(qins_coding_sizes(c, rows, cols, 8, 16, 0, &s), 0);
    cr_expect_eq(s.zstd3_bytes, 0);
    cr_expect_eq(s.zstd19_bytes, 0);
    cr_assert_eq(qins_coding_sizes(c, rows, cols, 8, 16, 1, &s), 0, "%s", test_log);
    uint8_t *b = malloc(2 * n);
    for (size_t i = 0; i < n; i++) b[i] = (uint8_t)c[i];
    size_t z3, z19;
    cr_assert_eq(qins_zstd_size(b, n, 3, &z3), 0);
    cr_assert_eq(qins_zstd_size(b, n, 19, &z19), 0);
    cr_expect(z3 > 0 && z19 > 0);
    cr_expect_eq(s.zstd3_bytes, z3 + 16);
    cr_expect_eq(s.zstd19_bytes, z19 + 16);
    // k > 8: two little-endian bytes per code.
    for (size_t i = 0; i < n; i++) c[i] = (uint16_t)(c[i] * 13 + 700);
    cr_assert_eq(qins_coding_sizes(c, rows, cols, 12, 0, 1, &s), 0, "%s", test_log);
    for (size_t i = 0; i < n; i++) b[2 * i] = (uint8_t)c[i], b[2 * i + 1] = (uint8_t)(c[i] >> 8);
    cr_assert_eq(qins_zstd_size(b, 2 * n, 3, &z3), 0);
    cr_expect_eq(s.zstd3_bytes, z3);
    free(b), free(c);
}

static void speed_case(const char *spec, const char *gran, size_t rows, size_t cols) {
    struct qins_codec_params p;
    qins_codec_params_default(&p);
    cr_assert_eq(qins_codec_parse(spec, &p), 0);
    cr_assert_eq(qins_codec_parse_granularity(gran, &p), 0);
    struct qins_test_rng r = {21};
    float *x = malloc(rows * cols * sizeof *x);
    for (size_t i = 0; i < rows * cols; i++) x[i] = qins_test_gauss(&r);
    struct qins_decode_speed sp;
    cr_assert_eq(qins_decode_speed(&p, x, rows, cols, 2, &sp), 0, "%s %s: %s", spec, gran, test_log);
    cr_expect_eq(sp.n, rows * cols);
    for (int w = 0; w < QINS_DECODE_COUNT; w++)
        cr_expect(sp.gbps[w] > 0 && isfinite(sp.gbps[w]), "%s %s %s: %g GB/s", spec, gran, qins_decode_name(w),
                  sp.gbps[w]);
    cr_expect(sp.memcpy_gbps > 0 && isfinite(sp.memcpy_gbps), "memcpy %g GB/s", sp.memcpy_gbps);
    free(x);
}

Test(coding_cost, decode_speed_of_every_form) {
    speed_case("qins8", "row", 256, 256);
    // The other code paths: 16-bit codes in zstd, per-column scales, QINS_LOG's per-group ranges.
    speed_case("int10", "column", 64, 96);
    speed_case("qinslog6", "group32", 48, 100);
}

Test(coding_cost, bad_arguments_are_errors) {
    const uint16_t c[4] = {1, 2, 3, 64};
    struct qins_coding_sizes s;
    const struct {
        const uint16_t *codes;
        size_t rows, cols;
        int bits;
        struct qins_coding_sizes *out;
        int want;
    } cases[] = {
        {NULL, 1, 4, 8, &s, QINS_ERR_ARG},  {c, 1, 4, 8, NULL, QINS_ERR_ARG}, {c, 1, 4, 0, &s, QINS_ERR_ARG},
        {c, 1, 4, 17, &s, QINS_ERR_ARG},    {c, 0, 4, 8, &s, QINS_ERR_ARG},   {c, 1, 0, 8, &s, QINS_ERR_ARG},
        {c, 1, 4, 6, &s, QINS_ERR_RANGE}, // 64 >= 2^6
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        test_log[0] = 0;
        cr_expect_eq(qins_coding_sizes(cases[k].codes, cases[k].rows, cases[k].cols, cases[k].bits, 0, 0, cases[k].out),
                     cases[k].want, "case %zu", k);
        cr_expect_eq(log_lines(), 1, "case %zu: one line:\n%s", k, test_log);
    }
    cr_expect_eq(qins_coding_sizes(c, 1, 4, 7, 0, 0, &s), 0, "64 < 2^7 is a valid code");

    struct qins_codec_params p;
    qins_codec_params_default(&p);
    cr_assert_eq(qins_codec_parse("qins8", &p), 0);
    const float x[4] = {0.5f, -1, 2, 0};
    struct qins_decode_speed sp;
    cr_expect_eq(qins_decode_speed(&p, NULL, 2, 2, 1, &sp), QINS_ERR_ARG);
    cr_expect_eq(qins_decode_speed(NULL, x, 2, 2, 1, &sp), QINS_ERR_ARG);
    cr_expect_eq(qins_decode_speed(&p, x, 2, 2, 1, NULL), QINS_ERR_ARG);
    cr_expect_eq(qins_decode_speed(&p, x, 2, 2, 0, &sp), QINS_ERR_ARG);
    cr_expect_eq(qins_decode_speed(&p, x, 0, 2, 1, &sp), QINS_ERR_ARG);
    cr_expect_eq(qins_decode_speed(&p, x, 2, 2, 1, &sp), 0, "%s", test_log);
    struct qins_codec_params f16;
    qins_codec_params_default(&f16);
    cr_assert_eq(qins_codec_parse("fp16", &f16), 0);
    test_log[0] = 0;
    cr_expect_eq(qins_decode_speed(&f16, x, 2, 2, 1, &sp), QINS_ERR_ARG, "a float codec has no k-bit codes");
    cr_expect_eq(log_lines(), 1, "%s", test_log);
    cr_expect_str_eq(qins_decode_name(QINS_DECODE_BITPACK_LUT), "bitpack_lut");
    cr_expect_str_eq(qins_decode_name(QINS_DECODE_ZSTD3), "zstd3");
    cr_expect_str_eq(qins_decode_name(QINS_DECODE_COUNT), "?");
    cr_expect_str_eq(qins_decode_name(-1), "?");
}
