// tests/test_codec.c — codecs: names, exact sizes, round-trip error bounds per codec and k, every
// granularity on 2-D blocks, NaN/Inf rejection, no NaN/Inf from any code, counters.
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "helpers/test_data.h"
#include "pack.h"

static struct qins_codec_params mk(const char *spec, int gran, int group) {
    struct qins_codec_params p;
    qins_codec_params_default(&p);
    cr_assert_eq(qins_codec_parse(spec, &p), 0, "parse %s", spec);
    p.granularity = gran;
    p.group_size = group;
    return p;
}

static float *gauss_block(size_t n, uint64_t seed, float sigma) {
    struct qins_test_rng r = {seed};
    float *x = malloc((n + 1) * sizeof *x);
    for (size_t i = 0; i < n; i++) x[i] = sigma * qins_test_gauss(&r);
    return x;
}

static const int grans[][2] = {{QINS_GRAN_PER_TENSOR, 0}, {QINS_GRAN_PER_ROW, 0}, {QINS_GRAN_PER_COLUMN, 0},
                               {QINS_GRAN_PER_GROUP, 32}, {QINS_GRAN_PER_GROUP, 7}};
#define N_GRAN 5

Test(codec, parse_and_name_round_trip) {
    const char *specs[] = {"fp32", "fp16", "bf16", "int8", "int6", "int4", "int12", "nf4", "nf6",
                           "qins8", "qins6", "qins4", "qinslog8", "qinslog3"};
    for (size_t i = 0; i < sizeof specs / sizeof specs[0]; i++) {
        struct qins_codec_params p;
        qins_codec_params_default(&p);
        cr_assert_eq(qins_codec_parse(specs[i], &p), 0, "%s", specs[i]);
        char buf[32];
        cr_assert_str_eq(qins_codec_name(&p, buf, sizeof buf), specs[i]);
        cr_assert_eq(qins_codec_validate(&p), 0, "%s", specs[i]);
    }
    struct qins_codec_params p;
    qins_codec_params_default(&p);
    cr_assert_eq(qins_codec_parse("qins-log6", &p), 0);
    cr_assert_eq(p.codec, QINS_CODEC_QINS_LOG);
    cr_assert_eq(p.bits, 6);
    const char *bad[] = {"", "int", "int1", "int13", "qins", "nf99", "qinslog2", "fp8", "int8x", "qins-8b"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_assert_eq(qins_codec_parse(bad[i], &p), QINS_ERR_ARG, "'%s' must be rejected", bad[i]);
    cr_assert_eq(qins_codec_parse_granularity("group128", &p), 0);
    cr_assert_eq(p.granularity, QINS_GRAN_PER_GROUP);
    cr_assert_eq(p.group_size, 128);
    cr_assert_eq(qins_codec_parse_granularity("channel", &p), 0);
    cr_assert_eq(p.granularity, QINS_GRAN_PER_COLUMN);
    cr_assert_eq(qins_codec_parse_granularity("group0", &p), QINS_ERR_ARG);
    p = mk("qins8", QINS_GRAN_PER_TENSOR, 0);
    p.alpha = 0;
    cr_assert_eq(qins_codec_validate(&p), QINS_ERR_ARG, "alpha 0 rejected");
}

Test(codec, exact_size_accounting) {
    const char *specs[] = {"fp32", "fp16", "bf16", "int3", "int8", "nf5", "qins7", "qins8", "qinslog6", "int12"};
    const size_t shapes[][2] = {{1, 1}, {3, 5}, {17, 33}, {64, 100}, {5, 129}};
    for (size_t s = 0; s < sizeof specs / sizeof specs[0]; s++) {
        for (int gi = 0; gi < N_GRAN; gi++) {
            for (size_t sh = 0; sh < 5; sh++) {
                size_t rows = shapes[sh][0], cols = shapes[sh][1], n = rows * cols;
                struct qins_codec_params p = mk(specs[s], grans[gi][0], grans[gi][1]);
                size_t ng = qins_codec_n_groups(&p, rows, cols), want;
                if (p.codec == QINS_CODEC_FP32) want = 4 * n;
                else if (!qins_codec_is_lossy(&p)) want = 2 * n;
                else want = ng * 2 * (p.codec == QINS_CODEC_QINS_LOG ? 2 : 1) + (n * (size_t)p.bits + 7) / 8;
                size_t got = qins_codec_encoded_bytes(&p, rows, cols);
                cr_assert_eq(got, want, "%s gran %d %zux%zu", specs[s], gi, rows, cols);
                float *x = gauss_block(n, 7 + sh, 0.5f);
                uint8_t *buf = malloc(got + 64);
                memset(buf, 0xA5, got + 64);
                cr_assert_eq(qins_codec_encode(&p, x, rows, cols, buf, got - 1), QINS_ERR_RANGE, "cap-1 rejected");
                cr_assert_eq(qins_codec_encode(&p, x, rows, cols, buf, got + 64), 0);
                for (size_t i = got; i < got + 64; i++) cr_assert_eq(buf[i], 0xA5, "%s wrote past size", specs[s]);
                // The last byte written is within the size: re-encode into an exact-size buffer.
                uint8_t *exact = malloc(got);
                cr_assert_eq(qins_codec_encode(&p, x, rows, cols, exact, got), 0);
                cr_assert_eq(memcmp(exact, buf, got), 0, "deterministic");
                float *y = malloc(n * sizeof *y);
                cr_assert_eq(qins_codec_decode(&p, exact, got, rows, cols, y), 0);
                cr_assert_eq(qins_codec_decode(&p, exact, got - 1, rows, cols, y), QINS_ERR_FORMAT);
                free(x), free(buf), free(exact), free(y);
            }
        }
    }
    // Expected group counts on a 10 x 70 block.
    struct qins_codec_params p = mk("int8", QINS_GRAN_PER_GROUP, 32);
    cr_assert_eq(qins_codec_n_groups(&p, 10, 70), 30);
    p.granularity = QINS_GRAN_PER_COLUMN;
    cr_assert_eq(qins_codec_n_groups(&p, 10, 70), 70);
    p.granularity = QINS_GRAN_PER_ROW;
    cr_assert_eq(qins_codec_n_groups(&p, 10, 70), 10);
}

// Runs quantize + decode on an encoded block and checks |x - x^| <= bound(scale of its group).
typedef double (*bound_fn)(const struct qins_codec_params *p, double scale, double x);

static void check_bound(const struct qins_codec_params *p, size_t rows, size_t cols, const float *x, bound_fn bound,
                        const char *what) {
    size_t n = rows * cols, ng = qins_codec_n_groups(p, rows, cols);
    uint16_t *codes = malloc(n * 2);
    float *scales = malloc((ng + 1) * 4), *extra = malloc((ng + 1) * 4), *y = malloc(n * 4), *y2 = malloc(n * 4);
    cr_assert_eq(qins_codec_quantize(p, x, rows, cols, codes, scales, extra), 0);
    size_t nb = qins_codec_encoded_bytes(p, rows, cols);
    uint8_t *buf = malloc(nb);
    cr_assert_eq(qins_codec_encode(p, x, rows, cols, buf, nb), 0);
    cr_assert_eq(qins_codec_decode(p, buf, nb, rows, cols, y), 0);
    cr_assert_eq(qins_codec_dequantize(p, codes, scales, extra, rows, cols, y2), 0);
    cr_assert_eq(memcmp(y, y2, n * 4), 0, "%s: decode == dequantize", what);
    uint16_t *c2 = malloc(n * 2);
    cr_assert_eq(qins_codec_unpack_codes(p, buf, nb, rows, cols, c2), 0);
    cr_assert_eq(memcmp(codes, c2, n * 2), 0, "%s: unpacked codes == quantized codes", what);
    for (size_t r = 0; r < rows; r++) {
        for (size_t c = 0; c < cols; c++) {
            size_t i = r * cols + c, g = qins_codec_group_of(p, rows, cols, r, c);
            double s = scales[g], b = bound(p, s, x[i]), err = fabs((double)x[i] - y[i]);
            cr_assert(err <= b, "%s k=%d gran=%d: |%g - %g| = %g > bound %g (scale %g)", what, p->bits,
                      (int)p->granularity, (double)x[i], (double)y[i], err, b, s);
            float v;
            cr_assert_eq(qins_codec_code_value(p, codes[i], scales[g], extra[g], &v), 0);
            cr_assert_eq(v, y[i], "code_value agrees with decode");
        }
    }
    free(codes), free(scales), free(extra), free(y), free(y2), free(buf), free(c2);
}

static double int_bound(const struct qins_codec_params *p, double s, double x) {
    (void)x; // analytic: half a step; the scale is FP16 rounded up, so nothing is clipped
    double Q = (1 << (p->bits - 1)) - 1;
    return s / Q / 2 * (1 + 1e-6) + 1e-30;
}

static double nf_bound(const struct qins_codec_params *p, double s, double x) {
    (void)x; // half the largest gap between adjacent codebook entries
    float lut[4096];
    qins_codec_lut(p, 0, lut);
    double g = 0;
    for (int i = 0; i + 1 < (1 << p->bits); i++) g = fmax(g, lut[i + 1] - lut[i]);
    return s * g / 2 * (1 + 1e-6) + 1e-30;
}

static double qins_bound(const struct qins_codec_params *p, double s, double x) {
    (void)x; // |dz| <= 1/M, |dx/dz| = s/(alpha z^2) with z >= 1/(1+alpha) - 1/M on the used range
    double M = (1 << p->bits) - 1, a = p->alpha, zmin = 1 / (1 + a) - 1 / M;
    return s / (M * a * zmin * zmin) * (1 + 1e-5) + 1e-30;
}

static double qlog_bound(const struct qins_codec_params *p, double s, double x) {
    // Relative: half a log step (R <= 24 octaves for this data), plus the zero-level decision
    // below the smallest level. Loose but analytic.
    double L = (1 << (p->bits - 1)) - 1, step = 24.0 / (L - 1);
    return fabs(x) * (exp2(step / 2) - 1) * 1.001 + s * exp2(-24.0) + 1e-30;
}

Test(codec, int_error_bound_every_k_and_granularity) {
    size_t rows = 13, cols = 70;
    float *x = gauss_block(rows * cols, 11, 2.0f);
    for (int k = 2; k <= 12; k++)
        for (int gi = 0; gi < N_GRAN; gi++) {
            char spec[16];
            snprintf(spec, sizeof spec, "int%d", k);
            struct qins_codec_params p = mk(spec, grans[gi][0], grans[gi][1]);
            check_bound(&p, rows, cols, x, int_bound, spec);
        }
    free(x);
}

Test(codec, nf_error_bound_every_k_and_granularity) {
    size_t rows = 9, cols = 70;
    float *x = gauss_block(rows * cols, 12, 0.1f);
    for (int k = 2; k <= 12; k++)
        for (int gi = 0; gi < N_GRAN; gi++) {
            char spec[16];
            snprintf(spec, sizeof spec, "nf%d", k);
            struct qins_codec_params p = mk(spec, grans[gi][0], grans[gi][1]);
            check_bound(&p, rows, cols, x, nf_bound, spec);
        }
    free(x);
}

Test(codec, nf4_matches_qlora_codebook) {
    // The published NF4 table (QLoRA, bitsandbytes), to 4 decimals.
    const float ref[16] = {-1.0f, -0.6962f, -0.5251f, -0.3949f, -0.2844f, -0.1848f, -0.0911f, 0.0f,
                           0.0796f, 0.1609f, 0.2461f, 0.3379f, 0.4407f, 0.5626f, 0.7230f, 1.0f};
    struct qins_codec_params p = mk("nf4", 0, 0);
    float lut[16];
    cr_assert_eq(qins_codec_lut(&p, 0, lut), 0);
    for (int i = 0; i < 16; i++) cr_assert_float_eq(lut[i], ref[i], 1e-3f, "nf4[%d] = %g", i, (double)lut[i]);
}

Test(codec, qins_error_bound_every_k_alpha_granularity) {
    size_t rows = 9, cols = 70;
    float *x = gauss_block(rows * cols, 13, 1.0f);
    const float alphas[] = {0.25f, 1.0f, 4.0f};
    for (int k = 4; k <= 12; k++)
        for (int ai = 0; ai < 3; ai++)
            for (int gi = 0; gi < N_GRAN; gi++) {
                char spec[16];
                snprintf(spec, sizeof spec, "qins%d", k);
                struct qins_codec_params p = mk(spec, grans[gi][0], grans[gi][1]);
                p.alpha = alphas[ai];
                check_bound(&p, rows, cols, x, qins_bound, spec);
            }
    free(x);
}

Test(codec, qinslog_error_bound) {
    size_t rows = 9, cols = 70;
    float *x = gauss_block(rows * cols, 14, 1.0f);
    for (int k = 4; k <= 12; k++)
        for (int gi = 0; gi < N_GRAN; gi++) {
            char spec[16];
            snprintf(spec, sizeof spec, "qinslog%d", k);
            struct qins_codec_params p = mk(spec, grans[gi][0], grans[gi][1]);
            check_bound(&p, rows, cols, x, qlog_bound, spec);
        }
    free(x);
}

Test(codec, rms_scale_mode_round_trips) {
    size_t rows = 8, cols = 64, n = rows * cols;
    float *x = gauss_block(n, 15, 1.0f), *y = malloc(n * 4);
    const char *specs[] = {"int8", "nf8", "qins8", "qinslog8"};
    for (int s = 0; s < 4; s++) {
        struct qins_codec_params p = mk(specs[s], QINS_GRAN_PER_ROW, 0);
        p.scale_mode = QINS_SCALE_RMS;
        size_t nb = qins_codec_encoded_bytes(&p, rows, cols);
        uint8_t *buf = malloc(nb);
        cr_assert_eq(qins_codec_encode(&p, x, rows, cols, buf, nb), 0);
        cr_assert_eq(qins_codec_decode(&p, buf, nb, rows, cols, y), 0);
        double e2 = 0, x2 = 0;
        for (size_t i = 0; i < n; i++) e2 += (x[i] - y[i]) * (x[i] - y[i]), x2 += x[i] * x[i];
        cr_assert(sqrt(e2 / x2) < 0.1, "%s rms mode rel err %g", specs[s], sqrt(e2 / x2));
        free(buf);
    }
    free(x), free(y);
}

Test(codec, qins_sign_preserved_and_zero_exact) {
    struct qins_codec_params p = mk("qins8", QINS_GRAN_PER_TENSOR, 0);
    float x[] = {0.0f, -0.0f, 1e-30f, -1e-30f, 1.0f, -1.0f, 0.5f, -0.5f, 1e-3f, -1e-3f};
    size_t n = sizeof x / sizeof x[0];
    float y[16];
    uint8_t buf[64];
    size_t nb = qins_codec_encoded_bytes(&p, 1, n);
    cr_assert_eq(qins_codec_encode(&p, x, 1, n, buf, sizeof buf), 0);
    cr_assert_eq(qins_codec_decode(&p, buf, nb, 1, n, y), 0);
    cr_assert_eq(y[0], 0.0f);
    cr_assert_eq(y[1], 0.0f);
    for (size_t i = 0; i < n; i++) cr_assert(y[i] == 0 || signbit(y[i]) == signbit(x[i]), "sign of %g", (double)x[i]);
    cr_assert_float_eq(y[4], 1.0f, 0.016f, "absmax within the 8-bit alpha-1 bound 1/(255*(1/2-1/255)^2)");
    // RMS mode: huge |u| drives z towards 0; the sign still holds and the value stays finite.
    p.scale_mode = QINS_SCALE_RMS;
    float big[4] = {1e-4f, -1e-4f, 1e4f, -1e4f};
    cr_assert_eq(qins_codec_encode(&p, big, 1, 4, buf, sizeof buf), 0);
    cr_assert_eq(qins_codec_decode(&p, buf, qins_codec_encoded_bytes(&p, 1, 4), 1, 4, y), 0);
    for (int i = 0; i < 4; i++) cr_assert(isfinite(y[i]) && signbit(y[i]) == signbit(big[i]), "%g", (double)y[i]);
}

Test(codec, qins8_grid_is_the_seed_mapping) {
    // code = round((z + 1) * 127.5) away from ties (our rounding goes through |z| and sign).
    struct qins_codec_params p = mk("qins8", QINS_GRAN_PER_TENSOR, 0);
    size_t n = 4096;
    float *x = gauss_block(n, 16, 1.0f), scale;
    uint16_t *codes = malloc(n * 2);
    cr_assert_eq(qins_codec_quantize(&p, x, 1, n, codes, &scale, NULL), 0);
    size_t compared = 0;
    for (size_t i = 0; i < n; i++) {
        double u = x[i] / scale, z = (u < 0 ? -1 : 1) / (1 + p.alpha * fabs(u)), t = (z + 1) * 127.5;
        if (fabs(t - floor(t) - 0.5) < 1e-3) continue;
        cr_assert_eq(codes[i], (uint16_t)lround(t), "x=%g z=%g", (double)x[i], z);
        compared++;
    }
    cr_assert(compared > n * 9 / 10);
    free(x), free(codes);
}

Test(codec, decode_never_yields_nan_or_inf_for_any_code) {
    // Exhaustive over the code space of every lossy codec and k, at the largest FP16 scale and the
    // extreme alphas / log ranges, through both the LUT (decode) and code_value.
    const char *kinds[] = {"int", "nf", "qins", "qinslog"};
    for (int ki = 0; ki < 4; ki++) {
        for (int k = ki == 3 ? 3 : 2; k <= 12; k++) {
            const float alphas[] = {1e-3f, 1.0f, 1e6f};
            const float ranges[] = {0.0f, 24.0f, 64.0f};
            for (int v = 0; v < 3; v++) {
                char spec[16];
                snprintf(spec, sizeof spec, "%s%d", kinds[ki], k);
                struct qins_codec_params p = mk(spec, QINS_GRAN_PER_TENSOR, 0);
                p.alpha = alphas[v];
                size_t n = (size_t)1 << k, nb = qins_codec_encoded_bytes(&p, 1, n);
                uint16_t *codes = malloc(n * 2);
                for (size_t c = 0; c < n; c++) codes[c] = (uint16_t)c;
                uint8_t *buf = malloc(nb);
                uint16_t hmax = 0x7bff; // 65504
                buf[0] = (uint8_t)hmax, buf[1] = (uint8_t)(hmax >> 8);
                size_t off = 2;
                if (p.codec == QINS_CODEC_QINS_LOG) {
                    uint16_t hr = qins_f32_to_fp16(ranges[v]);
                    buf[2] = (uint8_t)hr, buf[3] = (uint8_t)(hr >> 8);
                    off = 4;
                }
                qins_pack(codes, n, k, buf + off);
                float *y = malloc(n * 4);
                cr_assert_eq(qins_codec_decode(&p, buf, nb, 1, n, y), 0, "%s", spec);
                for (size_t c = 0; c < n; c++) {
                    cr_assert(isfinite(y[c]), "%s alpha %g code %zu -> %g", spec, (double)p.alpha, c, (double)y[c]);
                    float w;
                    cr_assert_eq(qins_codec_code_value(&p, (uint32_t)c, 65504.0f, ranges[v], &w), 0);
                    cr_assert(isfinite(w), "%s code_value %zu", spec, c);
                }
                free(codes), free(buf), free(y);
            }
        }
    }
}

Test(codec, rejects_nan_and_inf_input) {
    const char *specs[] = {"fp32", "fp16", "bf16", "int8", "nf4", "qins8", "qinslog8"};
    for (int s = 0; s < 7; s++) {
        for (int which = 0; which < 3; which++) {
            struct qins_codec_params p = mk(specs[s], QINS_GRAN_PER_GROUP, 4);
            float x[12] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
            x[7] = which == 0 ? NAN : which == 1 ? INFINITY : -INFINITY;
            uint8_t buf[256];
            cr_assert_eq(qins_codec_encode(&p, x, 3, 4, buf, sizeof buf), QINS_ERR_NUMERIC, "%s", specs[s]);
            cr_assert(strstr(qins_last_error(), "non-finite") != NULL, "message: %s", qins_last_error());
        }
    }
    struct qins_codec_params p = mk("fp16", QINS_GRAN_PER_TENSOR, 0);
    float big[2] = {1.0f, 70000.0f};
    uint8_t buf[8];
    cr_assert_eq(qins_codec_encode(&p, big, 1, 2, buf, sizeof buf), QINS_ERR_RANGE, "fp16 overflow");
    p = mk("int8", QINS_GRAN_PER_TENSOR, 0);
    cr_assert_eq(qins_codec_encode(&p, big, 1, 2, buf, sizeof buf), QINS_ERR_RANGE, "scale overflow");
}

Test(codec, rejects_corrupt_scales) {
    struct qins_codec_params p = mk("qins8", QINS_GRAN_PER_ROW, 0);
    float x[8] = {1, 2, 3, 4, -1, -2, -3, -4}, y[8];
    uint8_t buf[64];
    size_t nb = qins_codec_encoded_bytes(&p, 2, 4);
    cr_assert_eq(qins_codec_encode(&p, x, 2, 4, buf, nb), 0);
    buf[2] = 0x00, buf[3] = 0x7c; // row 1 scale = +Inf
    cr_assert_eq(qins_codec_decode(&p, buf, nb, 2, 4, y), QINS_ERR_FORMAT);
    buf[3] = 0x7e; // NaN
    cr_assert_eq(qins_codec_decode(&p, buf, nb, 2, 4, y), QINS_ERR_FORMAT);
    buf[2] = 0x00, buf[3] = 0xbc; // -1
    cr_assert_eq(qins_codec_decode(&p, buf, nb, 2, 4, y), QINS_ERR_FORMAT);
}

Test(codec, zero_blocks_and_zero_codes) {
    const char *specs[] = {"int8", "nf6", "qins8", "qinslog6", "fp16", "bf16"};
    for (int s = 0; s < 6; s++) {
        struct qins_codec_params p = mk(specs[s], QINS_GRAN_PER_GROUP, 8);
        float x[40] = {0}, y[40];
        uint8_t buf[256];
        size_t nb = qins_codec_encoded_bytes(&p, 2, 20);
        cr_assert_eq(qins_codec_encode(&p, x, 2, 20, buf, sizeof buf), 0);
        cr_assert_eq(qins_codec_decode(&p, buf, nb, 2, 20, y), 0);
        for (int i = 0; i < 40; i++) cr_assert_eq(y[i], 0.0f, "%s", specs[s]);
        uint16_t codes[40];
        cr_assert_eq(qins_codec_unpack_codes(&p, buf, nb, 2, 20, codes), 0);
        for (int i = 0; i < 40; i++) cr_assert_eq(codes[i], qins_codec_zero_code(&p), "%s zero code", specs[s]);
        float v;
        cr_assert_eq(qins_codec_code_value(&p, (uint32_t)qins_codec_zero_code(&p), 3.0f, 5.0f, &v), 0);
        cr_assert_eq(v, 0.0f, "%s zero code decodes to 0", specs[s]);
    }
}

Test(codec, float_formats_round_trip) {
    size_t n = 1000;
    float *x = gauss_block(n, 17, 3.0f), *y = malloc(n * 4);
    const char *specs[] = {"fp32", "fp16", "bf16"};
    for (int s = 0; s < 3; s++) {
        struct qins_codec_params p = mk(specs[s], 0, 0);
        size_t nb = qins_codec_encoded_bytes(&p, 10, 100);
        uint8_t *buf = malloc(nb);
        cr_assert_eq(qins_codec_encode(&p, x, 10, 100, buf, nb), 0);
        cr_assert_eq(qins_codec_decode(&p, buf, nb, 10, 100, y), 0);
        for (size_t i = 0; i < n; i++) {
            float want = s == 0 ? x[i] : s == 1 ? qins_fp16_to_f32(qins_f32_to_fp16(x[i]))
                                                 : qins_bf16_to_f32(qins_f32_to_bf16(x[i]));
            cr_assert_eq(y[i], want, "%s element %zu", specs[s], i);
        }
        free(buf);
    }
    free(x), free(y);
}

Test(codec, counters_count_qins_elements_only) {
    qins_codec_counters_reset();
    size_t rows = 4, cols = 50, n = rows * cols;
    float *x = gauss_block(n, 18, 1.0f), *y = malloc(n * 4);
    const char *specs[] = {"qins8", "qinslog6", "int8"};
    for (int s = 0; s < 3; s++) {
        struct qins_codec_params p = mk(specs[s], QINS_GRAN_PER_ROW, 0);
        size_t nb = qins_codec_encoded_bytes(&p, rows, cols);
        uint8_t *buf = malloc(nb);
        cr_assert_eq(qins_codec_encode(&p, x, rows, cols, buf, nb), 0);
        cr_assert_eq(qins_codec_decode(&p, buf, nb, rows, cols, y), 0);
        cr_assert_eq(qins_codec_decode(&p, buf, nb, rows, cols, y), 0);
        free(buf);
    }
    struct qins_codec_counters c;
    qins_codec_counters_get(&c);
    cr_assert_eq(c.encode_calls, 2);
    cr_assert_eq(c.decode_calls, 4);
    cr_assert_eq(c.encoded_elems, 2 * n);
    cr_assert_eq(c.decoded_elems, 4 * n);
    qins_codec_counters_reset();
    qins_codec_counters_get(&c);
    cr_assert_eq(c.decoded_elems, 0);
    free(x), free(y);
}

Test(codec, per_column_uses_column_scales) {
    // Column c has magnitude 10^(c-2): a per-tensor scale would flush the small columns; per-column
    // keeps every column's relative error at the 8-bit level.
    size_t rows = 16, cols = 5, n = rows * cols;
    float *x = gauss_block(n, 19, 1.0f), *y = malloc(n * 4);
    for (size_t r = 0; r < rows; r++)
        for (size_t c = 0; c < cols; c++) x[r * cols + c] *= powf(10.0f, (float)c - 2);
    struct qins_codec_params p = mk("int8", QINS_GRAN_PER_COLUMN, 0);
    size_t nb = qins_codec_encoded_bytes(&p, rows, cols);
    uint8_t *buf = malloc(nb);
    cr_assert_eq(qins_codec_encode(&p, x, rows, cols, buf, nb), 0);
    cr_assert_eq(qins_codec_decode(&p, buf, nb, rows, cols, y), 0);
    for (size_t c = 0; c < cols; c++) {
        double e2 = 0, x2 = 0;
        for (size_t r = 0; r < rows; r++) {
            double d = x[r * cols + c] - y[r * cols + c];
            e2 += d * d, x2 += (double)x[r * cols + c] * x[r * cols + c];
        }
        cr_assert(sqrt(e2 / x2) < 0.02, "column %zu rel err %g", c, sqrt(e2 / x2));
    }
    free(x), free(y), free(buf);
}
