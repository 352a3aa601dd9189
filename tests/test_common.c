// tests/test_common.c — half-precision conversions and status strings.
#include <criterion/criterion.h>
#include <math.h>
#include "common.h"

Test(common, fp16_round_trip_exact_for_all_finite_halves) {
    for (uint32_t h = 0; h < 0x10000; h++) {
        uint16_t x = (uint16_t)h;
        if ((x & 0x7c00) == 0x7c00) continue; // Inf/NaN
        float f = qins_fp16_to_f32(x);
        cr_assert_eq(qins_f32_to_fp16(f), x, "half 0x%04x -> %g -> 0x%04x", x, f, qins_f32_to_fp16(f));
    }
}

Test(common, fp16_rounds_to_nearest_even) {
    cr_assert_eq(qins_f32_to_fp16(1.0f + 1.0f / 2048), 0x3c00, "tie rounds to even (down)");
    cr_assert_eq(qins_f32_to_fp16(1.0f + 3.0f / 2048), 0x3c02, "tie rounds to even (up)");
    cr_assert_eq(qins_f32_to_fp16(70000.0f), 0x7c00, "overflow to Inf");
    cr_assert_eq(qins_f32_to_fp16(1e-9f), 0x0000, "underflow to zero");
    cr_assert_float_eq(qins_fp16_to_f32(qins_f32_to_fp16(3e-6f)), 3e-6f, 6e-8f, "subnormal");
}

Test(common, bf16_round_trip) {
    cr_assert_eq(qins_f32_to_bf16(1.0f), 0x3f80);
    cr_assert_float_eq(qins_bf16_to_f32(qins_f32_to_bf16(3.14159f)), 3.140625f, 1e-6f);
    cr_assert(isnan(qins_bf16_to_f32(qins_f32_to_bf16(NAN))));
}
