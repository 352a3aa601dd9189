// tests/test_half.c — the F16C conversions equal the scalar references bit for bit.
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "half.h"

Test(half, every_half_converts_like_the_reference) {
    uint16_t *h = malloc(65536 * 2 + 2);
    float *a = malloc(65537 * 4), *b = malloc(65537 * 4);
    for (uint32_t i = 0; i < 65536; i++) h[i + 1] = (uint16_t)i; // offset by one: unaligned reads
    const uint8_t *src = (const uint8_t *)h + 2;
    qins_half_to_f32_ref(src, 65536, a);
    qins_half_to_f32_f16c(src, 65536, b);
    for (int i = 0; i < 65536; i++)
        cr_assert(memcmp(&a[i], &b[i], 4) == 0 || (isnan(a[i]) && isnan(b[i])), "half 0x%04x: %a vs %a", i, a[i], b[i]);
    free(h), free(a), free(b);
}

Test(half, floats_round_like_the_reference) {
    const size_t n = 1 << 20;
    float *x = malloc(n * 4);
    uint16_t *a = malloc(n * 2), *b = malloc(n * 2 + 2);
    uint32_t s = 7;
    for (size_t i = 0; i < n; i++) { // every exponent, random mantissas and signs, no NaN
        s = s * 1664525u + 1013904223u;
        uint32_t bits = s;
        if (((bits >> 23) & 0xff) == 0xff) bits &= ~(1u << 23);
        memcpy(&x[i], &bits, 4);
    }
    qins_f32_to_half_ref(x, n, a);
    qins_f32_to_half_f16c(x, n, (uint8_t *)b + 1); // unaligned destination
    cr_assert_eq(memcmp(a, (uint8_t *)b + 1, n * 2), 0);
    free(x), free(a), free(b);
}
