// kernels/cpu/attn.c — attention over cached rows: scalar reference and AVX2/FMA (8 floats per
// step: dots, a polynomial exp, axpy of V rows), chosen at run time.
#include "attn.h"

#include <immintrin.h>
#include <math.h>
#include <string.h>

static int simd_enabled = 1;

void qins_attn_set_simd(int enable) { simd_enabled = enable; }

static int have_avx2_fma(void) {
    static int cached = -1;
    if (cached < 0) {
        __builtin_cpu_init();
        cached = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    }
    return cached;
}

int qins_attn_have_avx2(void) { return simd_enabled && have_avx2_fma(); }

void qins_attn_rows_ref(const float *q, int n_kv, int G, const float *k, const float *v, size_t stride, int n, int D, float scale,
                        float *scores, float *out) {
    for (int i = 0; i < n_kv * G; i++) {
        const float *qg = q + (size_t)i * D;
        float *sc = scores + (size_t)i * n, *og = out + (size_t)i * D;
        const size_t h_off = (size_t)(i / G) * D;
        float mx = -INFINITY;
        for (int j = 0; j < n; j++) {
            const float *kr = k + (size_t)j * stride + h_off;
            float dot = 0;
            for (int d = 0; d < D; d++) dot += qg[d] * kr[d];
            sc[j] = dot * scale;
            if (sc[j] > mx) mx = sc[j];
        }
        float sum = 0;
        for (int j = 0; j < n; j++) {
            sc[j] = expf(sc[j] - mx);
            sum += sc[j];
        }
        const float inv = 1.0f / sum;
        for (int d = 0; d < D; d++) og[d] = 0;
        for (int j = 0; j < n; j++) {
            const float *vr = v + (size_t)j * stride + h_off, a = sc[j] * inv;
            for (int d = 0; d < D; d++) og[d] += a * vr[d];
        }
    }
}

// ---- AVX2/FMA

// Rows ahead to prefetch: rows of one KV head are stride*4 bytes apart (often > 4 KiB), too far
// for the hardware streamers to follow, so each row's cache lines are requested explicitly.
#define PREFETCH_ROWS 8

__attribute__((target("avx2,fma"))) static inline void prefetch_row(const float *r, int D) {
    const char *p = (const char *)r;
    for (int b = 0; b < D * 4; b += 64) _mm_prefetch(p + b, _MM_HINT_T0);
}

__attribute__((target("avx2,fma"))) static inline float hsum(__m256 x) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(x), _mm256_extractf128_ps(x, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

__attribute__((target("avx2,fma"))) static inline float hmax(__m256 x) {
    __m128 s = _mm_max_ps(_mm256_castps256_ps128(x), _mm256_extractf128_ps(x, 1));
    s = _mm_max_ps(s, _mm_movehl_ps(s, s));
    s = _mm_max_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

// e^x for x <= 88 (Cephes expf: range reduction by ln 2 in two parts, degree-6 polynomial;
// about 1 ulp). Arguments below -87.3 give 2^-126 instead of a denormal or zero, far below
// what a softmax weight of a sum >= 1 can show.
__attribute__((target("avx2,fma"))) static inline __m256 exp_ps(__m256 x) {
    x = _mm256_min_ps(_mm256_max_ps(x, _mm256_set1_ps(-87.33654f)), _mm256_set1_ps(88.0f));
    const __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                                     _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), x);
    r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
    __m256 p = _mm256_set1_ps(1.9875691500e-4f);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894e-2f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459e-1f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201e-1f));
    p = _mm256_fmadd_ps(p, _mm256_mul_ps(r, r), _mm256_add_ps(r, _mm256_set1_ps(1.0f)));
    const __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
    return _mm256_mul_ps(p, _mm256_castsi256_ps(e));
}

__attribute__((target("avx2,fma"))) static inline float dot(const float *a, const float *b, int D) {
    __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
    int d = 0;
    for (; d + 16 <= D; d += 16) {
        s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + d), _mm256_loadu_ps(b + d), s0);
        s1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + d + 8), _mm256_loadu_ps(b + d + 8), s1);
    }
    for (; d + 8 <= D; d += 8) s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + d), _mm256_loadu_ps(b + d), s0);
    float s = hsum(_mm256_add_ps(s0, s1));
    for (; d < D; d++) s += a[d] * b[d];
    return s;
}

// s[r] = a . b_r for the four rows b_r = b + r*stride: each load of a serves four FMAs, one
// horizontal reduction for the four sums.
__attribute__((target("avx2,fma"))) static inline void dot4(const float *a, const float *b, size_t stride, int D,
                                                             float *s) {
    __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps(), s2 = _mm256_setzero_ps(), s3 = _mm256_setzero_ps();
    const float *b0 = b, *b1 = b + stride, *b2 = b + 2 * stride, *b3 = b + 3 * stride;
    int d = 0;
    for (; d + 8 <= D; d += 8) {
        const __m256 x = _mm256_loadu_ps(a + d);
        s0 = _mm256_fmadd_ps(x, _mm256_loadu_ps(b0 + d), s0);
        s1 = _mm256_fmadd_ps(x, _mm256_loadu_ps(b1 + d), s1);
        s2 = _mm256_fmadd_ps(x, _mm256_loadu_ps(b2 + d), s2);
        s3 = _mm256_fmadd_ps(x, _mm256_loadu_ps(b3 + d), s3);
    }
    // (s0 s1 s2 s3) -> four sums in one 128-bit vector
    const __m256 h01 = _mm256_hadd_ps(s0, s1), h23 = _mm256_hadd_ps(s2, s3), h = _mm256_hadd_ps(h01, h23);
    __m128 r = _mm_add_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1));
    float t[4];
    _mm_storeu_ps(t, r);
    for (; d < D; d++) {
        t[0] += a[d] * b0[d], t[1] += a[d] * b1[d];
        t[2] += a[d] * b2[d], t[3] += a[d] * b3[d];
    }
    memcpy(s, t, sizeof t);
}

// o += w[0] v_0 + … + w[3] v_3 with v_r = v + r*stride: one load and store of o per four rows.
__attribute__((target("avx2,fma"))) static inline void axpy4(float *o, const float *w, const float *v, size_t stride,
                                                              int D) {
    const float *v0 = v, *v1 = v + stride, *v2 = v + 2 * stride, *v3 = v + 3 * stride;
    const __m256 w0 = _mm256_set1_ps(w[0]), w1 = _mm256_set1_ps(w[1]), w2 = _mm256_set1_ps(w[2]),
                 w3 = _mm256_set1_ps(w[3]);
    int d = 0;
    for (; d + 8 <= D; d += 8) {
        __m256 x = _mm256_loadu_ps(o + d);
        x = _mm256_fmadd_ps(w0, _mm256_loadu_ps(v0 + d), x);
        x = _mm256_fmadd_ps(w1, _mm256_loadu_ps(v1 + d), x);
        x = _mm256_fmadd_ps(w2, _mm256_loadu_ps(v2 + d), x);
        x = _mm256_fmadd_ps(w3, _mm256_loadu_ps(v3 + d), x);
        _mm256_storeu_ps(o + d, x);
    }
    for (; d < D; d++) o[d] += w[0] * v0[d] + w[1] * v1[d] + w[2] * v2[d] + w[3] * v3[d];
}

__attribute__((target("avx2,fma"))) void qins_attn_rows_avx2(const float *q, int n_kv, int G, const float *k, const float *v,
                                                              size_t stride, int n, int D, float scale, float *scores,
                                                              float *out) {
    // pass 1 over K, four rows at a time: every head of the block against them while in L1
    const int n4 = n & ~3;
    const size_t ahead = (size_t)PREFETCH_ROWS * stride;
    float t[4];
    for (int j = 0; j < n4; j += 4) {
        const float *kr = k + (size_t)j * stride;
        for (int r = 0; r < 4 && j + r + PREFETCH_ROWS < n; r++) prefetch_row(kr + r * stride + ahead, n_kv * D);
        for (int i = 0; i < n_kv * G; i++) {
            dot4(q + (size_t)i * D, kr + (size_t)(i / G) * D, stride, D, t);
            float *sc = scores + (size_t)i * n + j;
            for (int r = 0; r < 4; r++) sc[r] = t[r] * scale;
        }
    }
    for (int j = n4; j < n; j++) {
        const float *kr = k + (size_t)j * stride;
        for (int i = 0; i < n_kv * G; i++)
            scores[(size_t)i * n + j] = dot(q + (size_t)i * D, kr + (size_t)(i / G) * D, D) * scale;
    }
    // softmax on the scores (in cache): max, exp and sum, then the normalised weights
    for (int i = 0; i < n_kv * G; i++) {
        float *sc = scores + (size_t)i * n;
        __m256 m8 = _mm256_set1_ps(-INFINITY);
        int j = 0;
        for (; j + 8 <= n; j += 8) m8 = _mm256_max_ps(m8, _mm256_loadu_ps(sc + j));
        float mx = hmax(m8);
        for (; j < n; j++) mx = sc[j] > mx ? sc[j] : mx;
        const __m256 mx8 = _mm256_set1_ps(mx);
        __m256 s8 = _mm256_setzero_ps();
        for (j = 0; j + 8 <= n; j += 8) {
            const __m256 e = exp_ps(_mm256_sub_ps(_mm256_loadu_ps(sc + j), mx8));
            _mm256_storeu_ps(sc + j, e);
            s8 = _mm256_add_ps(s8, e);
        }
        float sum = hsum(s8);
        for (; j < n; j++) {
            sc[j] = expf(sc[j] - mx);
            sum += sc[j];
        }
        const float inv = 1.0f / sum;
        const __m256 inv8 = _mm256_set1_ps(inv);
        for (j = 0; j + 8 <= n; j += 8) _mm256_storeu_ps(sc + j, _mm256_mul_ps(_mm256_loadu_ps(sc + j), inv8));
        for (; j < n; j++) sc[j] *= inv;
    }
    // pass 2 over V, four rows at a time: out_i += w_ij * v_j
    memset(out, 0, (size_t)n_kv * G * D * sizeof(float));
    for (int j = 0; j < n4; j += 4) {
        const float *vr = v + (size_t)j * stride;
        for (int r = 0; r < 4 && j + r + PREFETCH_ROWS < n; r++) prefetch_row(vr + r * stride + ahead, n_kv * D);
        for (int i = 0; i < n_kv * G; i++)
            axpy4(out + (size_t)i * D, scores + (size_t)i * n + j, vr + (size_t)(i / G) * D, stride, D);
    }
    for (int j = n4; j < n; j++) {
        const float *vr = v + (size_t)j * stride;
        for (int i = 0; i < n_kv * G; i++) {
            const float w = scores[(size_t)i * n + j], *vh = vr + (size_t)(i / G) * D;
            const __m256 w8 = _mm256_set1_ps(w);
            float *og = out + (size_t)i * D;
            int d = 0;
            for (; d + 8 <= D; d += 8)
                _mm256_storeu_ps(og + d, _mm256_fmadd_ps(w8, _mm256_loadu_ps(vh + d), _mm256_loadu_ps(og + d)));
            for (; d < D; d++) og[d] += w * vh[d];
        }
    }
}

void qins_attn_rows(const float *q, int n_kv, int G, const float *k, const float *v, size_t stride, int n, int D, float scale,
                    float *scores, float *out) {
    if (simd_enabled && have_avx2_fma()) qins_attn_rows_avx2(q, n_kv, G, k, v, stride, n, D, scale, scores, out);
    else qins_attn_rows_ref(q, n_kv, G, k, v, stride, n, D, scale, scores, out);
}
