// tests/test_zstd_anchor.c — zstd as phase 3's anchor: round trips verified, sizes that follow
// the input's entropy (a constant stream compresses to almost nothing, random bytes do not), the
// size-only call equal to the measured frame, and bad levels refused.
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "zstd_anchor.h"

static uint8_t *bytes(size_t n, int kind) {
    uint8_t *b = malloc(n);
    uint32_t s = 7;
    for (size_t i = 0; i < n; i++) {
        s = s * 1664525u + 1013904223u;
        b[i] = kind == 0 ? 42 : kind == 1 ? (uint8_t)(s >> 24) : (uint8_t)((s >> 24) & 3); // constant, random, 2-bit
    }
    return b;
}

Test(zstd_anchor, sizes_follow_the_entropy_and_round_trips_hold) {
    const size_t n = 1 << 20;
    struct qins_zstd_result r[3][2];
    for (int kind = 0; kind < 3; kind++) {
        uint8_t *b = bytes(n, kind);
        const int levels[2] = {3, 19};
        for (int l = 0; l < 2; l++) {
            cr_assert_eq(qins_zstd_measure(b, n, levels[l], 2, &r[kind][l]), 0);
            size_t size;
            cr_assert_eq(qins_zstd_size(b, n, levels[l], &size), 0);
            cr_expect_eq(size, r[kind][l].out_bytes, "size-only and measured frames differ");
            cr_expect_gt(r[kind][l].decompress_s, 0.0);
        }
        free(b);
    }
    cr_expect_lt(r[0][0].out_bytes, n / 1000, "constant stream: %zu bytes", r[0][0].out_bytes);
    cr_expect_gt(r[1][0].out_bytes, n - n / 100, "random bytes cannot shrink: %zu", r[1][0].out_bytes);
    // 2 bits of entropy per byte: about n/4, never below it
    cr_expect(r[2][1].out_bytes >= n / 4 && r[2][1].out_bytes < n / 4 + n / 20, "2-bit stream: %zu bytes",
              r[2][1].out_bytes);
    cr_expect_leq(r[2][1].out_bytes, r[2][0].out_bytes, "level 19 larger than level 3");
}

Test(zstd_anchor, bad_arguments_are_errors) {
    struct qins_zstd_result r;
    size_t size;
    cr_expect_eq(qins_zstd_measure("abc", 3, 0, 1, &r), QINS_ERR_ARG);
    cr_expect_eq(qins_zstd_measure("abc", 3, 22, 1, &r), QINS_ERR_ARG);
    cr_expect_eq(qins_zstd_measure("abc", 3, 3, 0, &r), QINS_ERR_ARG);
    cr_expect_eq(qins_zstd_size("abc", 3, -1, &size), QINS_ERR_ARG);
    cr_expect_eq(qins_zstd_measure("", 0, 3, 1, &r), 0, "an empty stream is a valid frame");
}
