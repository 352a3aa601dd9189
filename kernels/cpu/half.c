// kernels/cpu/half.c — binary16 conversion, scalar reference and F16C (8 values per step).
#include "half.h"

#include <immintrin.h>
#include <string.h>

#include "common.h"
#include "cpu_features.h"

static int simd_enabled = 1;

void qins_half_set_simd(int enable) { simd_enabled = enable; }

// CPUID leaf 1 and XGETBV (kernels/cpu_features.h): not every compiler's __builtin_cpu_supports knows "f16c".
static int detect_f16c(void) {
    struct qins_cpu_features f;
    qins_cpu_features_get(&f);
    return f.f16c;
}

static int have_f16c(void) {
    static int cached = -1;
    if (cached < 0) cached = detect_f16c();
    return cached;
}

void qins_half_to_f32_ref(const void *h, size_t n, float *out) {
    const uint8_t *b = h;
    for (size_t i = 0; i < n; i++) {
        uint16_t v;
        memcpy(&v, b + 2 * i, 2);
        out[i] = qins_fp16_to_f32(v);
    }
}

void qins_f32_to_half_ref(const float *x, size_t n, void *h) {
    uint8_t *b = h;
    for (size_t i = 0; i < n; i++) {
        uint16_t v = qins_f32_to_fp16(x[i]);
        memcpy(b + 2 * i, &v, 2);
    }
}

__attribute__((target("avx,f16c"))) void qins_half_to_f32_f16c(const void *h, size_t n, float *out) {
    const uint8_t *b = h;
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(out + i, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(const void *)(b + 2 * i))));
    // GCC drops its automatic vzeroupper when it turns the tail call below into a jump: dirty
    // upper halves then slow every later SSE instruction (the attention loops) several-fold.
    _mm256_zeroupper();
    qins_half_to_f32_ref(b + 2 * i, n - i, out + i);
}

__attribute__((target("avx,f16c"))) void qins_f32_to_half_f16c(const float *x, size_t n, void *h) {
    uint8_t *b = h;
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm_storeu_si128((__m128i *)(void *)(b + 2 * i),
                         _mm256_cvtps_ph(_mm256_loadu_ps(x + i), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
    _mm256_zeroupper(); // see above
    qins_f32_to_half_ref(x + i, n - i, b + 2 * i);
}

void qins_half_to_f32(const void *h, size_t n, float *out) {
    if (simd_enabled && have_f16c()) qins_half_to_f32_f16c(h, n, out);
    else qins_half_to_f32_ref(h, n, out);
}

void qins_f32_to_half(const float *x, size_t n, void *h) {
    if (simd_enabled && have_f16c()) qins_f32_to_half_f16c(x, n, h);
    else qins_f32_to_half_ref(x, n, h);
}
