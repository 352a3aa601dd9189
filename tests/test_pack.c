// tests/test_pack.c — bit packing: identity for every k and odd lengths, AVX2 == scalar bit for
// bit, no reads past the buffer (the buffers are exact-size mallocs, so ASan catches overreads);
// LUT decode AVX2 == scalar.
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "helpers/test_data.h"
#include "lut_decode.h"
#include "pack.h"

static const size_t lengths[] = {0, 1, 2, 7, 8, 9, 15, 16, 17, 31, 33, 100, 257, 1001, 4099};
#define N_LEN (sizeof lengths / sizeof lengths[0])

static uint16_t *random_codes(struct qins_test_rng *r, size_t n, int k) {
    uint16_t *c = malloc((n + 1) * sizeof *c);
    for (size_t i = 0; i < n; i++) c[i] = (uint16_t)(qins_test_next(r) & ((1u << k) - 1));
    return c;
}

Test(pack, scalar_round_trip_every_k_and_length) {
    struct qins_test_rng r = {1};
    for (int k = 1; k <= 16; k++) {
        for (size_t li = 0; li < N_LEN; li++) {
            size_t n = lengths[li], nb = qins_pack_bytes(n, k);
            cr_assert_eq(nb, (n * (size_t)k + 7) / 8);
            uint16_t *c = random_codes(&r, n, k), *d = malloc((n + 1) * sizeof *d);
            uint8_t *buf = malloc(nb + 1);
            qins_pack_ref(c, n, k, buf);
            qins_unpack_ref(buf, nb, 0, n, k, d);
            for (size_t i = 0; i < n; i++) cr_assert_eq(d[i], c[i], "k=%d n=%zu i=%zu", k, n, i);
            if (n * (size_t)k % 8) // pad bits of the last byte are zero
                cr_assert_eq(buf[nb - 1] >> ((n * (size_t)k) % 8), 0, "k=%d n=%zu pad bits", k, n);
            free(c), free(d), free(buf);
        }
    }
}

Test(pack, high_bits_of_codes_are_ignored) {
    uint16_t c[5] = {0xffff, 0x1234, 0x8001, 7, 0xfff0}, d[5];
    uint8_t buf[8];
    qins_pack_ref(c, 5, 4, buf);
    qins_unpack_ref(buf, qins_pack_bytes(5, 4), 0, 5, 4, d);
    for (int i = 0; i < 5; i++) cr_assert_eq(d[i], c[i] & 15);
}

Test(pack, unpack_from_any_offset) {
    struct qins_test_rng r = {2};
    for (int k = 1; k <= 16; k++) {
        size_t n = 999, nb = qins_pack_bytes(n, k);
        uint16_t *c = random_codes(&r, n, k), *d = malloc(n * sizeof *d);
        uint8_t *buf = malloc(nb);
        qins_pack_ref(c, n, k, buf);
        for (size_t first = 0; first < 40; first += 3) {
            size_t m = n - first - (first % 7);
            qins_unpack(buf, nb, first, m, k, d);
            for (size_t i = 0; i < m; i++) cr_assert_eq(d[i], c[first + i], "k=%d first=%zu i=%zu", k, first, i);
        }
        free(c), free(d), free(buf);
    }
}

Test(pack, avx2_equals_scalar_bit_for_bit) {
    if (!qins_pack_have_avx2()) {
        cr_log_warn("no AVX2 on this CPU: only the scalar path was tested");
        return;
    }
    struct qins_test_rng r = {3};
    for (int k = 1; k <= 16; k++) {
        for (size_t li = 0; li < N_LEN; li++) {
            size_t n = lengths[li], nb = qins_pack_bytes(n, k);
            uint16_t *c = random_codes(&r, n, k), *d1 = malloc((n + 1) * 2), *d2 = malloc((n + 1) * 2);
            uint8_t *b1 = malloc(nb + 1), *b2 = malloc(nb + 1);
            qins_pack_ref(c, n, k, b1);
            qins_pack_avx2(c, n, k, b2);
            cr_assert_eq(memcmp(b1, b2, nb), 0, "pack k=%d n=%zu differs", k, n);
            for (size_t first = 0; first < 9 && first <= n; first++) {
                qins_unpack_ref(b1, nb, first, n - first, k, d1);
                qins_unpack_avx2(b1, nb, first, n - first, k, d2);
                cr_assert_eq(memcmp(d1, d2, (n - first) * 2), 0, "unpack k=%d n=%zu first=%zu", k, n, first);
            }
            free(c), free(d1), free(d2), free(b1), free(b2);
        }
    }
}

Test(pack, dispatch_scalar_and_simd_agree) {
    struct qins_test_rng r = {4};
    size_t n = 5000;
    for (int k = 2; k <= 12; k++) {
        size_t nb = qins_pack_bytes(n, k);
        uint16_t *c = random_codes(&r, n, k), *d = malloc(n * 2);
        uint8_t *b1 = malloc(nb), *b2 = malloc(nb);
        qins_pack_set_simd(0);
        qins_pack(c, n, k, b1);
        qins_pack_set_simd(1);
        qins_pack(c, n, k, b2);
        cr_assert_eq(memcmp(b1, b2, nb), 0, "k=%d", k);
        qins_pack_set_simd(0);
        qins_unpack(b2, nb, 0, n, k, d);
        qins_pack_set_simd(1);
        cr_assert_eq(memcmp(c, d, n * 2), 0, "k=%d", k);
        free(c), free(d), free(b1), free(b2);
    }
}

Test(lut_decode, avx2_equals_scalar_bit_for_bit) {
    struct qins_test_rng r = {5};
    float lut[4096];
    for (int i = 0; i < 4096; i++) lut[i] = qins_test_gauss(&r);
    size_t n = 1037;
    uint8_t *c8 = malloc(n);
    uint16_t *c16 = malloc(n * 2);
    float *o1 = malloc(n * 4), *o2 = malloc(n * 4);
    for (size_t i = 0; i < n; i++) {
        c8[i] = (uint8_t)qins_test_next(&r);
        c16[i] = (uint16_t)(qins_test_next(&r) & 4095);
    }
    for (size_t m = 0; m <= n; m += 97) {
        qins_lut_decode_u8_ref(c8, m, lut, 0.37f, o1);
        qins_lut_decode_set_simd(1);
        qins_lut_decode_u8(c8, m, lut, 0.37f, o2);
        cr_assert_eq(memcmp(o1, o2, m * 4), 0, "u8 m=%zu", m);
        qins_lut_decode_u16_ref(c16, m, lut, 1.7f, o1);
        qins_lut_decode_u16(c16, m, lut, 1.7f, o2);
        cr_assert_eq(memcmp(o1, o2, m * 4), 0, "u16 m=%zu", m);
        qins_lut_decode_set_simd(0);
        qins_lut_decode_u16(c16, m, lut, 1.7f, o2);
        cr_assert_eq(memcmp(o1, o2, m * 4), 0, "u16 scalar dispatch m=%zu", m);
        qins_lut_decode_set_simd(1);
    }
    if (!qins_pack_have_avx2()) cr_log_warn("no AVX2: dispatch used the scalar path");
    free(c8), free(c16), free(o1), free(o2);
}
