// tests/test_codec_cuda.c — the CUDA 8-bit LUT decode against the CPU reference, bit for bit
// (one float multiply per element on both sides). Skips with a message when there is no GPU or
// the build has no CUDA.
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "helpers/test_data.h"
#include "lut_decode.h"
#ifdef QINS_HAVE_CUDA
#include "codec_cuda.h"
#endif

Test(codec_cuda, lut_decode_u8_matches_cpu_reference) {
#ifndef QINS_HAVE_CUDA
    cr_skip_test("built without CUDA (nvcc not found or QINS_CUDA=OFF)");
#else
    if (qins_cuda_device_count() <= 0) cr_skip_test("no CUDA device present");
    struct qins_test_rng r = {41};
    size_t n = 1000003, G = 128, ng = (n + G - 1) / G;
    uint8_t *codes = malloc(n);
    float lut[256], *scales = malloc(ng * 4), *gpu = malloc(n * 4), *cpu = malloc(n * 4);
    for (int i = 0; i < 256; i++) lut[i] = qins_test_gauss(&r);
    for (size_t g = 0; g < ng; g++) scales[g] = (float)qins_test_uniform(&r) * 4;
    for (size_t i = 0; i < n; i++) codes[i] = (uint8_t)qins_test_next(&r);
    for (size_t g = 0; g < ng; g++) {
        size_t len = n - g * G < G ? n - g * G : G;
        qins_lut_decode_u8_ref(codes + g * G, len, lut, scales[g], cpu + g * G);
    }
    cr_assert_eq(qins_cuda_lut_decode_u8(codes, n, lut, scales, G, gpu), 0);
    cr_assert_eq(memcmp(cpu, gpu, n * 4), 0, "GPU decode differs from the CPU reference");
    free(codes), free(scales), free(gpu), free(cpu);
#endif
}
