// kernels/cpu/attn.c — attention over cached rows: the scalar two-pass reference, and the
// chunk kernel (scalar, AVX2/FMA/F16C 8 floats per step, AVX-512 16 per step) whose partials
// merge in chunk order; F32 or binary16 rows. Dispatch reads kernels/cpu_features.h once.
#include "attn.h"

#include <immintrin.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "common.h"
#include "cpu_features.h"

_Static_assert(QINS_ATTN_CHUNK % 16 == 0, "the AVX-512 softmax covers a chunk's scores in whole vectors");

static int simd_enabled = 1;

void qins_attn_set_simd(int enable) { simd_enabled = enable; }

// 0 scalar, 1 AVX2+FMA+F16C, 2 AVX-512 F/BW/VL too (BW+VL: masked 16-bit loads of F16 tails).
static int cpu_level(void) {
    static int cached = -1;
    if (cached < 0) {
        struct qins_cpu_features f;
        qins_cpu_features_get(&f);
        cached = f.avx2 && f.fma && f.f16c ? 1 : 0;
        if (cached && f.avx512f && f.avx512bw && f.avx512vl) cached = 2;
    }
    return cached;
}

int qins_attn_have_avx2(void) { return simd_enabled && cpu_level() >= 1; }
int qins_attn_have_avx512(void) { return simd_enabled && cpu_level() >= 2; }

// ---- reference

void qins_attn_rows_ref(const float *q, int n_kv, int G, const float *k, const float *v, size_t stride, int n, int D,
                        float scale, float *scores, float *out) {
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

static inline float elem(const void *p, enum qins_attn_elem t, size_t i) {
    return t == QINS_ATTN_F16 ? qins_fp16_to_f32(((const uint16_t *)p)[i]) : ((const float *)p)[i];
}

void qins_attn_chunk_ref(const float *q, int n_kv, int G, const struct qins_attn_kv *kv, int n, int D, float scale,
                         float *scores, float *m, float *l, float *o) {
    for (int i = 0; i < n_kv * G; i++) {
        const float *qg = q + (size_t)i * D;
        float *sc = scores + (size_t)i * QINS_ATTN_CHUNK, *og = o + (size_t)i * D;
        const size_t h_off = (size_t)(i / G) * D;
        float mx = -INFINITY;
        for (int j = 0; j < n; j++) {
            float dot = 0;
            for (int d = 0; d < D; d++) dot += qg[d] * elem(kv->k, kv->type, (size_t)j * kv->stride + h_off + d);
            sc[j] = dot * scale;
            if (sc[j] > mx) mx = sc[j];
        }
        float sum = 0;
        for (int j = 0; j < n; j++) {
            sc[j] = expf(sc[j] - mx);
            sum += sc[j];
        }
        for (int d = 0; d < D; d++) og[d] = 0;
        for (int j = 0; j < n; j++)
            for (int d = 0; d < D; d++) og[d] += sc[j] * elem(kv->v, kv->type, (size_t)j * kv->stride + h_off + d);
        m[i] = mx, l[i] = sum;
    }
}

// ---- merging (plain C on every path)

void qins_attn_merge(int heads, int D, float *m, float *l, float *o, const float *mb, const float *lb,
                     const float *ob) {
    for (int i = 0; i < heads; i++) {
        const float mx = m[i] > mb[i] ? m[i] : mb[i], fa = expf(m[i] - mx), fb = expf(mb[i] - mx);
        float *oi = o + (size_t)i * D;
        const float *bi = ob + (size_t)i * D;
        for (int d = 0; d < D; d++) oi[d] = oi[d] * fa + bi[d] * fb;
        l[i] = l[i] * fa + lb[i] * fb;
        m[i] = mx;
    }
}

void qins_attn_finish(int heads, int D, const float *l, const float *o, float *out) {
    for (int i = 0; i < heads; i++) {
        const float inv = 1.0f / l[i];
        for (int d = 0; d < D; d++) out[(size_t)i * D + d] = o[(size_t)i * D + d] * inv;
    }
}

// ---- shared by the SIMD paths
//
// Each chunk is one pass over its K rows, then one over its V rows, row by row with every head
// of the block, so a block covering whole rows (the decode case) reads both as sequential
// streams the hardware prefetchers follow (software prefetch measured slower here, Zen 4:
// its requests take the same L1 miss buffers as the demand loads). Four rows per step: one load of q (or of o) serves
// four FMAs. The kernels are written once per ISA as always-inline bodies taking the element
// type as a constant: the F16 instance runs the F32 instance's instructions on the converted
// values, hence the bit-for-bit equality.

#define ALWAYS_INLINE inline __attribute__((always_inline))

// ---- AVX2/FMA/F16C

#define T2 __attribute__((target("avx2,fma,f16c")))

// 8 elements from element d of row p (F32 or binary16), as floats.
T2 static ALWAYS_INLINE __m256 ld8(const char *p, int d, int f16) {
    return f16 ? _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(const void *)(p + 2 * (size_t)d)))
               : _mm256_loadu_ps((const float *)(const void *)p + d);
}

static ALWAYS_INLINE float ld1(const char *p, int d, int f16) {
    if (f16) {
        uint16_t h;
        memcpy(&h, p + 2 * (size_t)d, 2);
        return qins_fp16_to_f32(h);
    }
    float x;
    memcpy(&x, p + 4 * (size_t)d, 4);
    return x;
}

T2 static inline float hsum8(__m256 x) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(x), _mm256_extractf128_ps(x, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

T2 static inline float hmax8(__m256 x) {
    __m128 s = _mm_max_ps(_mm256_castps256_ps128(x), _mm256_extractf128_ps(x, 1));
    s = _mm_max_ps(s, _mm_movehl_ps(s, s));
    s = _mm_max_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

// e^x for x <= 88 (Cephes expf: range reduction by ln 2 in two parts, degree-6 polynomial;
// about 1 ulp). Arguments below -87.3 give 2^-126 instead of a denormal or zero, far below
// what a softmax weight of a sum >= 1 can show.
T2 static inline __m256 exp8(__m256 x) {
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

// (a . b0, a . b1, a . b2, a . b3) for four rows of D elements: one load of a per four FMAs, one
// horizontal reduction for the four sums.
T2 static ALWAYS_INLINE __m128 dot4_avx2(const float *a, const char *b0, const char *b1, const char *b2,
                                         const char *b3, int D, int f16) {
    __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps(), s2 = _mm256_setzero_ps(), s3 = _mm256_setzero_ps();
    int d = 0;
    for (; d + 8 <= D; d += 8) {
        const __m256 x = _mm256_loadu_ps(a + d);
        s0 = _mm256_fmadd_ps(x, ld8(b0, d, f16), s0);
        s1 = _mm256_fmadd_ps(x, ld8(b1, d, f16), s1);
        s2 = _mm256_fmadd_ps(x, ld8(b2, d, f16), s2);
        s3 = _mm256_fmadd_ps(x, ld8(b3, d, f16), s3);
    }
    const __m256 h01 = _mm256_hadd_ps(s0, s1), h23 = _mm256_hadd_ps(s2, s3), h = _mm256_hadd_ps(h01, h23);
    __m128 r = _mm_add_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1));
    if (d < D) {
        float t[4];
        _mm_storeu_ps(t, r);
        for (; d < D; d++) {
            t[0] += a[d] * ld1(b0, d, f16), t[1] += a[d] * ld1(b1, d, f16);
            t[2] += a[d] * ld1(b2, d, f16), t[3] += a[d] * ld1(b3, d, f16);
        }
        r = _mm_loadu_ps(t);
    }
    return r;
}

// o += w[0] v0 + w[1] v1 + w[2] v2 + w[3] v3, one FMA after the other per lane: the roundings of
// axpy1_avx2 applied to the four rows in turn.
T2 static ALWAYS_INLINE void axpy4_avx2(float *o, const float *w, const char *v0, const char *v1, const char *v2,
                                        const char *v3, int D, int f16) {
    const __m256 w0 = _mm256_set1_ps(w[0]), w1 = _mm256_set1_ps(w[1]), w2 = _mm256_set1_ps(w[2]),
                 w3 = _mm256_set1_ps(w[3]);
    int d = 0;
    for (; d + 8 <= D; d += 8) {
        __m256 x = _mm256_loadu_ps(o + d);
        x = _mm256_fmadd_ps(w0, ld8(v0, d, f16), x);
        x = _mm256_fmadd_ps(w1, ld8(v1, d, f16), x);
        x = _mm256_fmadd_ps(w2, ld8(v2, d, f16), x);
        x = _mm256_fmadd_ps(w3, ld8(v3, d, f16), x);
        _mm256_storeu_ps(o + d, x);
    }
    for (; d < D; d++) {
        o[d] += w[0] * ld1(v0, d, f16);
        o[d] += w[1] * ld1(v1, d, f16);
        o[d] += w[2] * ld1(v2, d, f16);
        o[d] += w[3] * ld1(v3, d, f16);
    }
}

T2 static ALWAYS_INLINE void axpy1_avx2(float *o, float w, const char *v, int D, int f16) {
    const __m256 w8 = _mm256_set1_ps(w);
    int d = 0;
    for (; d + 8 <= D; d += 8) _mm256_storeu_ps(o + d, _mm256_fmadd_ps(w8, ld8(v, d, f16), _mm256_loadu_ps(o + d)));
    for (; d < D; d++) o[d] += w * ld1(v, d, f16);
}

T2 static ALWAYS_INLINE void chunk_avx2(const float *q, int n_kv, int G, const struct qins_attn_kv *kv, int n, int D,
                                        float scale, float *scores, float *m, float *l, float *o, int f16) {
    const size_t rb = kv->stride * (f16 ? 2 : 4), hb = (size_t)D * (f16 ? 2 : 4);
    const char *K = kv->k, *V = kv->v;
    const __m128 scale4 = _mm_set1_ps(scale);
    // K pass, four rows per step; a short last step repeats row n-1 (its extra scores land in
    // the scratch past n and are never read)
    for (int j = 0; j < n; j += 4) {
        const char *r0 = K + (size_t)j * rb, *r1 = K + (size_t)(j + 1 < n ? j + 1 : n - 1) * rb,
                   *r2 = K + (size_t)(j + 2 < n ? j + 2 : n - 1) * rb, *r3 = K + (size_t)(j + 3 < n ? j + 3 : n - 1) * rb;
        for (int h = 0; h < n_kv; h++)
            for (int g = 0; g < G; g++) {
                const int i = h * G + g;
                const size_t off = (size_t)h * hb;
                const __m128 t = dot4_avx2(q + (size_t)i * D, r0 + off, r1 + off, r2 + off, r3 + off, D, f16);
                _mm_storeu_ps(scores + (size_t)i * QINS_ATTN_CHUNK + j, _mm_mul_ps(t, scale4));
            }
    }
    // softmax partial on the chunk's scores: max, e^(s - max) in place, their sum
    for (int i = 0; i < n_kv * G; i++) {
        float *sc = scores + (size_t)i * QINS_ATTN_CHUNK;
        __m256 m8 = _mm256_set1_ps(-INFINITY);
        int j = 0;
        for (; j + 8 <= n; j += 8) m8 = _mm256_max_ps(m8, _mm256_loadu_ps(sc + j));
        float mx = hmax8(m8);
        for (; j < n; j++) mx = sc[j] > mx ? sc[j] : mx;
        const __m256 mx8 = _mm256_set1_ps(mx);
        __m256 s8 = _mm256_setzero_ps();
        for (j = 0; j + 8 <= n; j += 8) {
            const __m256 e = exp8(_mm256_sub_ps(_mm256_loadu_ps(sc + j), mx8));
            _mm256_storeu_ps(sc + j, e);
            s8 = _mm256_add_ps(s8, e);
        }
        float sum = hsum8(s8);
        for (; j < n; j++) {
            sc[j] = expf(sc[j] - mx);
            sum += sc[j];
        }
        m[i] = mx, l[i] = sum;
    }
    // V pass, four rows per step then single rows: o_i += e_ij v_j
    memset(o, 0, (size_t)n_kv * G * D * sizeof(float));
    int j = 0;
    for (; j + 4 <= n; j += 4) {
        const char *r0 = V + (size_t)j * rb, *r1 = r0 + rb, *r2 = r1 + rb, *r3 = r2 + rb;
        for (int h = 0; h < n_kv; h++)
            for (int g = 0; g < G; g++) {
                const int i = h * G + g;
                const size_t off = (size_t)h * hb;
                axpy4_avx2(o + (size_t)i * D, scores + (size_t)i * QINS_ATTN_CHUNK + j, r0 + off, r1 + off, r2 + off,
                           r3 + off, D, f16);
            }
    }
    for (; j < n; j++)
        for (int h = 0; h < n_kv; h++)
            for (int g = 0; g < G; g++) {
                const int i = h * G + g;
                axpy1_avx2(o + (size_t)i * D, scores[(size_t)i * QINS_ATTN_CHUNK + j], V + (size_t)j * rb + (size_t)h * hb,
                           D, f16);
            }
}

T2 void qins_attn_chunk_avx2(const float *q, int n_kv, int G, const struct qins_attn_kv *kv, int n, int D, float scale,
                             float *scores, float *m, float *l, float *o) {
    if (kv->type == QINS_ATTN_F16) chunk_avx2(q, n_kv, G, kv, n, D, scale, scores, m, l, o, 1);
    else chunk_avx2(q, n_kv, G, kv, n, D, scale, scores, m, l, o, 0);
}

// ---- AVX-512 (F, BW, VL)

#define T5 __attribute__((target("avx512f,avx512bw,avx512vl,avx2,fma,f16c")))

T5 static ALWAYS_INLINE __m512 ld16(const char *p, int d, int f16) {
    return f16 ? _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(const void *)(p + 2 * (size_t)d)))
               : _mm512_loadu_ps((const float *)(const void *)p + d);
}

// Lanes outside mk read as 0 (masked loads do not fault past the end of a buffer).
T5 static ALWAYS_INLINE __m512 ld16m(const char *p, int d, __mmask16 mk, int f16) {
    return f16 ? _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(mk, p + 2 * (size_t)d))
               : _mm512_maskz_loadu_ps(mk, (const float *)(const void *)p + d);
}

// exp8's polynomial, 16 lanes.
T5 static inline __m512 exp16(__m512 x) {
    x = _mm512_min_ps(_mm512_max_ps(x, _mm512_set1_ps(-87.33654f)), _mm512_set1_ps(88.0f));
    const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                          _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), x);
    r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.12194440e-4f), r);
    __m512 p = _mm512_set1_ps(1.9875691500e-4f);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.3981999507e-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3334519073e-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1665795894e-2f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6666665459e-1f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.0000001201e-1f));
    p = _mm512_fmadd_ps(p, _mm512_mul_ps(r, r), _mm512_add_ps(r, _mm512_set1_ps(1.0f)));
    const __m512i e = _mm512_slli_epi32(_mm512_add_epi32(_mm512_cvtps_epi32(n), _mm512_set1_epi32(127)), 23);
    return _mm512_mul_ps(p, _mm512_castsi512_ps(e));
}

T5 static ALWAYS_INLINE __m256 lo_plus_hi(__m512 x) {
    return _mm256_add_ps(_mm512_castps512_ps256(x), _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(x), 1)));
}

// dot4_avx2 with 16 lanes; the D % 16 tail is one masked step.
T5 static ALWAYS_INLINE __m128 dot4_512(const float *a, const char *b0, const char *b1, const char *b2, const char *b3,
                                        int D, int f16) {
    __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps(), s2 = _mm512_setzero_ps(), s3 = _mm512_setzero_ps();
    int d = 0;
    for (; d + 16 <= D; d += 16) {
        const __m512 x = _mm512_loadu_ps(a + d);
        s0 = _mm512_fmadd_ps(x, ld16(b0, d, f16), s0);
        s1 = _mm512_fmadd_ps(x, ld16(b1, d, f16), s1);
        s2 = _mm512_fmadd_ps(x, ld16(b2, d, f16), s2);
        s3 = _mm512_fmadd_ps(x, ld16(b3, d, f16), s3);
    }
    if (d < D) {
        const __mmask16 mk = (__mmask16)((1u << (D - d)) - 1);
        const __m512 x = _mm512_maskz_loadu_ps(mk, a + d);
        s0 = _mm512_fmadd_ps(x, ld16m(b0, d, mk, f16), s0);
        s1 = _mm512_fmadd_ps(x, ld16m(b1, d, mk, f16), s1);
        s2 = _mm512_fmadd_ps(x, ld16m(b2, d, mk, f16), s2);
        s3 = _mm512_fmadd_ps(x, ld16m(b3, d, mk, f16), s3);
    }
    const __m256 h01 = _mm256_hadd_ps(lo_plus_hi(s0), lo_plus_hi(s1)), h23 = _mm256_hadd_ps(lo_plus_hi(s2), lo_plus_hi(s3));
    const __m256 h = _mm256_hadd_ps(h01, h23);
    return _mm_add_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1));
}

// axpy4_avx2 with 16 lanes (masked tail: o holds exactly D floats per head).
T5 static ALWAYS_INLINE void axpy4_512(float *o, const float *w, const char *v0, const char *v1, const char *v2,
                                       const char *v3, int D, int f16) {
    const __m512 w0 = _mm512_set1_ps(w[0]), w1 = _mm512_set1_ps(w[1]), w2 = _mm512_set1_ps(w[2]),
                 w3 = _mm512_set1_ps(w[3]);
    int d = 0;
    for (; d + 16 <= D; d += 16) {
        __m512 x = _mm512_loadu_ps(o + d);
        x = _mm512_fmadd_ps(w0, ld16(v0, d, f16), x);
        x = _mm512_fmadd_ps(w1, ld16(v1, d, f16), x);
        x = _mm512_fmadd_ps(w2, ld16(v2, d, f16), x);
        x = _mm512_fmadd_ps(w3, ld16(v3, d, f16), x);
        _mm512_storeu_ps(o + d, x);
    }
    if (d < D) {
        const __mmask16 mk = (__mmask16)((1u << (D - d)) - 1);
        __m512 x = _mm512_maskz_loadu_ps(mk, o + d);
        x = _mm512_fmadd_ps(w0, ld16m(v0, d, mk, f16), x);
        x = _mm512_fmadd_ps(w1, ld16m(v1, d, mk, f16), x);
        x = _mm512_fmadd_ps(w2, ld16m(v2, d, mk, f16), x);
        x = _mm512_fmadd_ps(w3, ld16m(v3, d, mk, f16), x);
        _mm512_mask_storeu_ps(o + d, mk, x);
    }
}

T5 static ALWAYS_INLINE void axpy1_512(float *o, float w, const char *v, int D, int f16) {
    const __m512 w16 = _mm512_set1_ps(w);
    int d = 0;
    for (; d + 16 <= D; d += 16) _mm512_storeu_ps(o + d, _mm512_fmadd_ps(w16, ld16(v, d, f16), _mm512_loadu_ps(o + d)));
    if (d < D) {
        const __mmask16 mk = (__mmask16)((1u << (D - d)) - 1);
        _mm512_mask_storeu_ps(o + d, mk, _mm512_fmadd_ps(w16, ld16m(v, d, mk, f16), _mm512_maskz_loadu_ps(mk, o + d)));
    }
}

T5 static ALWAYS_INLINE void chunk_512(const float *q, int n_kv, int G, const struct qins_attn_kv *kv, int n, int D,
                                       float scale, float *scores, float *m, float *l, float *o, int f16) {
    const size_t rb = kv->stride * (f16 ? 2 : 4), hb = (size_t)D * (f16 ? 2 : 4);
    const char *K = kv->k, *V = kv->v;
    const __m128 scale4 = _mm_set1_ps(scale);
    for (int j = 0; j < n; j += 4) {
        const char *r0 = K + (size_t)j * rb, *r1 = K + (size_t)(j + 1 < n ? j + 1 : n - 1) * rb,
                   *r2 = K + (size_t)(j + 2 < n ? j + 2 : n - 1) * rb, *r3 = K + (size_t)(j + 3 < n ? j + 3 : n - 1) * rb;
        for (int h = 0; h < n_kv; h++)
            for (int g = 0; g < G; g++) {
                const int i = h * G + g;
                const size_t off = (size_t)h * hb;
                const __m128 t = dot4_512(q + (size_t)i * D, r0 + off, r1 + off, r2 + off, r3 + off, D, f16);
                _mm_storeu_ps(scores + (size_t)i * QINS_ATTN_CHUNK + j, _mm_mul_ps(t, scale4));
            }
    }
    // softmax partial over the chunk in whole vectors: lanes past n are -inf, then weight 0
    for (int i = 0; i < n_kv * G; i++) {
        float *sc = scores + (size_t)i * QINS_ATTN_CHUNK;
        __m512 x[QINS_ATTN_CHUNK / 16], mx = _mm512_set1_ps(-INFINITY);
        __mmask16 mk[QINS_ATTN_CHUNK / 16];
        for (int c = 0; c < QINS_ATTN_CHUNK / 16; c++) {
            const int left = n - 16 * c;
            mk[c] = left >= 16 ? (__mmask16)0xffff : left > 0 ? (__mmask16)((1u << left) - 1) : 0;
            x[c] = _mm512_mask_loadu_ps(_mm512_set1_ps(-INFINITY), mk[c], sc + 16 * c);
            mx = _mm512_max_ps(mx, x[c]);
        }
        const float mxs = _mm512_reduce_max_ps(mx);
        __m512 sum = _mm512_setzero_ps();
        for (int c = 0; c < QINS_ATTN_CHUNK / 16; c++) {
            const __m512 e = _mm512_maskz_mov_ps(mk[c], exp16(_mm512_sub_ps(x[c], _mm512_set1_ps(mxs))));
            _mm512_storeu_ps(sc + 16 * c, e);
            sum = _mm512_add_ps(sum, e);
        }
        m[i] = mxs, l[i] = _mm512_reduce_add_ps(sum);
    }
    memset(o, 0, (size_t)n_kv * G * D * sizeof(float));
    int j = 0;
    for (; j + 4 <= n; j += 4) {
        const char *r0 = V + (size_t)j * rb, *r1 = r0 + rb, *r2 = r1 + rb, *r3 = r2 + rb;
        for (int h = 0; h < n_kv; h++)
            for (int g = 0; g < G; g++) {
                const int i = h * G + g;
                const size_t off = (size_t)h * hb;
                axpy4_512(o + (size_t)i * D, scores + (size_t)i * QINS_ATTN_CHUNK + j, r0 + off, r1 + off, r2 + off,
                          r3 + off, D, f16);
            }
    }
    for (; j < n; j++)
        for (int h = 0; h < n_kv; h++)
            for (int g = 0; g < G; g++) {
                const int i = h * G + g;
                axpy1_512(o + (size_t)i * D, scores[(size_t)i * QINS_ATTN_CHUNK + j], V + (size_t)j * rb + (size_t)h * hb,
                          D, f16);
            }
}

T5 void qins_attn_chunk_avx512(const float *q, int n_kv, int G, const struct qins_attn_kv *kv, int n, int D,
                               float scale, float *scores, float *m, float *l, float *o) {
    if (kv->type == QINS_ATTN_F16) chunk_512(q, n_kv, G, kv, n, D, scale, scores, m, l, o, 1);
    else chunk_512(q, n_kv, G, kv, n, D, scale, scores, m, l, o, 0);
}

// ---- dispatch and the sequential driver

void qins_attn_chunk(const float *q, int n_kv, int G, const struct qins_attn_kv *kv, int n, int D, float scale,
                     float *scores, float *m, float *l, float *o) {
    const int level = simd_enabled ? cpu_level() : 0;
    if (level >= 2) qins_attn_chunk_avx512(q, n_kv, G, kv, n, D, scale, scores, m, l, o);
    else if (level == 1) qins_attn_chunk_avx2(q, n_kv, G, kv, n, D, scale, scores, m, l, o);
    else qins_attn_chunk_ref(q, n_kv, G, kv, n, D, scale, scores, m, l, o);
}

void qins_attn_rows(const float *q, int n_kv, int G, const struct qins_attn_kv *kv, int n, int D, float scale,
                    float *scratch, float *out) {
    const int heads = n_kv * G;
    float *sc = scratch, *m = sc + (size_t)heads * QINS_ATTN_CHUNK, *l = m + heads, *mt = l + heads, *lt = mt + heads,
          *ot = lt + heads;
    qins_attn_chunk(q, n_kv, G, kv, n < QINS_ATTN_CHUNK ? n : QINS_ATTN_CHUNK, D, scale, sc, m, l, out);
    for (int j = QINS_ATTN_CHUNK; j < n; j += QINS_ATTN_CHUNK) {
        const struct qins_attn_kv c = qins_attn_kv_at(kv, (size_t)j, 0);
        qins_attn_chunk(q, n_kv, G, &c, n - j < QINS_ATTN_CHUNK ? n - j : QINS_ATTN_CHUNK, D, scale, sc, mt, lt, ot);
        qins_attn_merge(heads, D, m, l, out, mt, lt, ot);
    }
    qins_attn_finish(heads, D, l, out, out);
}
