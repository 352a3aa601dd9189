// bench/bench_cuda.c — qins-bench-cuda: the CUDA 8-bit LUT decode, correctness first (against
// the CPU reference), then the kernel alone on device-resident data, as GB/s of FP32 produced and
// as a fraction of a device-to-device copy of the same output measured in the same run.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lut_decode.h"
#ifdef QINS_HAVE_CUDA
#include "codec_cuda.h"
#endif

int main(void) {
#ifndef QINS_HAVE_CUDA
    printf("qins-bench-cuda: built without CUDA (nvcc not found or QINS_CUDA=OFF)\n");
    return 0;
#else
    int devices = qins_cuda_device_count();
    if (devices <= 0) {
        printf("qins-bench-cuda: no CUDA device present\n");
        return 0;
    }
    const size_t n = (size_t)1 << 24, G = 128;
    uint8_t *codes = malloc(n);
    float lut[256], *scales = malloc(n / G * sizeof(float)), *gpu = malloc(n * 4), *cpu = malloc(n * 4);
    uint32_t x = 12345;
    for (int i = 0; i < 256; i++) lut[i] = (float)(i - 128) / 127.0f;
    for (size_t g = 0; g < n / G; g++) scales[g] = 0.5f + (float)(g % 7);
    for (size_t i = 0; i < n; i++) codes[i] = (uint8_t)((x = x * 1664525u + 1013904223u) >> 24);
    for (size_t g = 0; g < n / G; g++) qins_lut_decode_u8_ref(codes + g * G, G, lut, scales[g], cpu + g * G);
    if (qins_cuda_lut_decode_u8(codes, n, lut, scales, G, gpu) < 0 || memcmp(cpu, gpu, n * 4) != 0) {
        printf("qins-bench-cuda: GPU decode differs from the CPU reference\n");
        return 1;
    }
    printf("correctness: %zu codes decoded on the GPU equal the CPU reference bit for bit\n", n);
    for (size_t m = (size_t)1 << 22; m <= (size_t)1 << 28; m <<= 2) {
        double dec, cpy;
        if (qins_cuda_lut_decode_u8_bench(m, G, 20, &dec, &cpy) < 0) return 1;
        printf("n %10zu codes: decode %8.1f GB/s of FP32 out, device copy %8.1f GB/s, ratio %.2f\n", m, dec, cpy,
               dec / cpy);
    }
    free(codes), free(scales), free(gpu), free(cpu);
    return 0;
#endif
}
