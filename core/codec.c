// core/codec.c — the codecs of codec.h: parameters, scales, quantizers, LUTs, encode/decode.
#include "codec.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "half.h"
#include "lut_decode.h"
#include "pack.h"

#define QINS_LOG_MAX_OCTAVES 24.0f
#define FP16_MAX 65504.0f

// ---- counters (relaxed atomics: totals only, no ordering needed)
static _Atomic uint64_t c_enc_calls, c_dec_calls, c_enc_elems, c_dec_elems;

void qins_codec_counters_get(struct qins_codec_counters *out) {
    out->encode_calls = atomic_load_explicit(&c_enc_calls, memory_order_relaxed);
    out->decode_calls = atomic_load_explicit(&c_dec_calls, memory_order_relaxed);
    out->encoded_elems = atomic_load_explicit(&c_enc_elems, memory_order_relaxed);
    out->decoded_elems = atomic_load_explicit(&c_dec_elems, memory_order_relaxed);
}

void qins_codec_counters_reset(void) {
    atomic_store(&c_enc_calls, 0);
    atomic_store(&c_dec_calls, 0);
    atomic_store(&c_enc_elems, 0);
    atomic_store(&c_dec_elems, 0);
}

static int is_qins_kind(const struct qins_codec_params *p) {
    return p->codec == QINS_CODEC_QINS || p->codec == QINS_CODEC_QINS_LOG;
}

static void count(const struct qins_codec_params *p, int decode, size_t n) {
    if (!is_qins_kind(p)) return;
    atomic_fetch_add_explicit(decode ? &c_dec_calls : &c_enc_calls, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(decode ? &c_dec_elems : &c_enc_elems, (uint64_t)n, memory_order_relaxed);
}

// ---- parameters, names
static const char *kind_names[QINS_CODEC_COUNT] = {"fp32", "fp16", "bf16", "int", "nf", "qins", "qinslog"};

void qins_codec_params_default(struct qins_codec_params *p) {
    memset(p, 0, sizeof *p);
    p->codec = QINS_CODEC_FP32;
    p->bits = 32;
    p->alpha = QINS_CODEC_DEFAULT_ALPHA;
    p->granularity = QINS_GRAN_PER_TENSOR;
    p->group_size = QINS_CODEC_DEFAULT_GROUP;
    p->scale_mode = QINS_SCALE_ABSMAX;
    p->clip = QINS_CODEC_DEFAULT_CLIP;
}

int qins_codec_is_lossy(const struct qins_codec_params *p) {
    return p->codec >= QINS_CODEC_INT && p->codec < QINS_CODEC_COUNT;
}

static int parse_bits(const char *s, int *bits) {
    if (!*s) return -1;
    int v = 0;
    for (; *s; s++) {
        if (*s < '0' || *s > '9' || v > 100) return -1;
        v = v * 10 + (*s - '0');
    }
    *bits = v;
    return 0;
}

int qins_codec_parse(const char *spec, struct qins_codec_params *out) {
    QINS_CHECK(spec && out, QINS_ERR_ARG, "null codec spec");
    static const struct { const char *name; enum qins_codec_kind kind; int bits; } fixed[] = {
        {"fp32", QINS_CODEC_FP32, 32}, {"f32", QINS_CODEC_FP32, 32}, {"fp16", QINS_CODEC_FP16, 16},
        {"f16", QINS_CODEC_FP16, 16},  {"bf16", QINS_CODEC_BF16, 16},
    };
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++) {
        if (strcmp(spec, fixed[i].name) == 0) {
            out->codec = fixed[i].kind;
            out->bits = fixed[i].bits;
            return QINS_OK;
        }
    }
    // Longest prefixes first: "qinslog"/"qins-log" before "qins".
    static const struct { const char *prefix; enum qins_codec_kind kind; } pre[] = {
        {"qinslog", QINS_CODEC_QINS_LOG}, {"qins-log", QINS_CODEC_QINS_LOG}, {"qins", QINS_CODEC_QINS},
        {"int", QINS_CODEC_INT},          {"nf", QINS_CODEC_NF},
    };
    for (size_t i = 0; i < sizeof pre / sizeof pre[0]; i++) {
        size_t len = strlen(pre[i].prefix);
        if (strncmp(spec, pre[i].prefix, len) != 0) continue;
        int bits = 0;
        const char *rest = spec + len;
        if (*rest == '-' || *rest == '_') rest++;
        QINS_CHECK(parse_bits(rest, &bits) == 0, QINS_ERR_ARG, "codec '%s': expected %s<bits>, e.g. %s8",
                   spec, pre[i].prefix, pre[i].prefix);
        int lo = pre[i].kind == QINS_CODEC_QINS_LOG ? 3 : 2;
        QINS_CHECK(bits >= lo && bits <= QINS_CODEC_MAX_BITS, QINS_ERR_ARG,
                   "codec '%s': bits must be %d..%d", spec, lo, QINS_CODEC_MAX_BITS);
        out->codec = pre[i].kind;
        out->bits = bits;
        return QINS_OK;
    }
    qins_log_error_at(__FILE__, __LINE__, __func__,
                      "unknown codec '%s' (fp32, fp16, bf16, int<k>, nf<k>, qins<k>, qinslog<k>)", spec);
    return QINS_ERR_ARG;
}

const char *qins_codec_name(const struct qins_codec_params *p, char *buf, size_t cap) {
    if (!p || p->codec < 0 || p->codec >= QINS_CODEC_COUNT) {
        snprintf(buf, cap, "?");
    } else if (!qins_codec_is_lossy(p)) {
        snprintf(buf, cap, "%s", kind_names[p->codec]);
    } else {
        snprintf(buf, cap, "%s%d", kind_names[p->codec], p->bits);
    }
    return buf;
}

int qins_codec_parse_granularity(const char *spec, struct qins_codec_params *out) {
    QINS_CHECK(spec && out, QINS_ERR_ARG, "null granularity");
    if (!strcmp(spec, "tensor") || !strcmp(spec, "page")) {
        out->granularity = QINS_GRAN_PER_TENSOR;
    } else if (!strcmp(spec, "row") || !strcmp(spec, "token")) {
        out->granularity = QINS_GRAN_PER_ROW;
    } else if (!strcmp(spec, "column") || !strcmp(spec, "channel")) {
        out->granularity = QINS_GRAN_PER_COLUMN;
    } else {
        const char *rest = !strncmp(spec, "group", 5) ? spec + 5 : (spec[0] == 'g' ? spec + 1 : NULL);
        int g = 0;
        QINS_CHECK(rest && parse_bits(rest, &g) == 0 && g >= 1, QINS_ERR_ARG,
                   "granularity '%s': expected tensor|page|row|token|column|channel|group<G>", spec);
        out->granularity = QINS_GRAN_PER_GROUP;
        out->group_size = g;
    }
    return QINS_OK;
}

const char *qins_codec_granularity_name(const struct qins_codec_params *p, char *buf, size_t cap) {
    switch (p->granularity) {
    case QINS_GRAN_PER_TENSOR: snprintf(buf, cap, "tensor"); break;
    case QINS_GRAN_PER_ROW: snprintf(buf, cap, "row"); break;
    case QINS_GRAN_PER_COLUMN: snprintf(buf, cap, "column"); break;
    case QINS_GRAN_PER_GROUP: snprintf(buf, cap, "group%d", p->group_size); break;
    default: snprintf(buf, cap, "?");
    }
    return buf;
}

int qins_codec_validate(const struct qins_codec_params *p) {
    QINS_CHECK(p, QINS_ERR_ARG, "null codec params");
    QINS_CHECK(p->codec >= 0 && p->codec < QINS_CODEC_COUNT, QINS_ERR_ARG, "bad codec %d", (int)p->codec);
    if (!qins_codec_is_lossy(p)) {
        int want = p->codec == QINS_CODEC_FP32 ? 32 : 16;
        QINS_CHECK(p->bits == want, QINS_ERR_ARG, "%s stores %d bits, not %d", kind_names[p->codec], want, p->bits);
        return QINS_OK;
    }
    int lo = p->codec == QINS_CODEC_QINS_LOG ? 3 : 2;
    QINS_CHECK(p->bits >= lo && p->bits <= QINS_CODEC_MAX_BITS, QINS_ERR_ARG, "%s: bits %d outside %d..%d",
               kind_names[p->codec], p->bits, lo, QINS_CODEC_MAX_BITS);
    if (p->codec == QINS_CODEC_QINS) {
        // Bounded so that the largest decoded magnitude (2^k-2)/alpha * 65504 stays finite.
        QINS_CHECK(isfinite(p->alpha) && p->alpha >= 1e-3f && p->alpha <= 1e6f, QINS_ERR_ARG,
                   "qins: alpha %g outside 1e-3..1e6", (double)p->alpha);
    }
    QINS_CHECK(p->granularity >= QINS_GRAN_PER_TENSOR && p->granularity <= QINS_GRAN_PER_GROUP, QINS_ERR_ARG,
               "bad granularity %d", (int)p->granularity);
    QINS_CHECK(p->granularity != QINS_GRAN_PER_GROUP || p->group_size >= 1, QINS_ERR_ARG,
               "group size %d must be >= 1", p->group_size);
    QINS_CHECK(p->scale_mode == QINS_SCALE_ABSMAX || p->scale_mode == QINS_SCALE_RMS, QINS_ERR_ARG,
               "bad scale mode %d", (int)p->scale_mode);
    QINS_CHECK(p->clip == 0 || (isfinite(p->clip) && p->clip > 0 && p->clip <= 1000), QINS_ERR_ARG,
               "clip %g outside (0, 1000]", (double)p->clip);
    return QINS_OK;
}

int qins_codec_code_bits(const struct qins_codec_params *p) { return p->bits; }

// ---- groups
static size_t groups_per_row(const struct qins_codec_params *p, size_t cols) {
    return (cols + (size_t)p->group_size - 1) / (size_t)p->group_size;
}

size_t qins_codec_n_groups(const struct qins_codec_params *p, size_t rows, size_t cols) {
    if (!qins_codec_is_lossy(p) || rows == 0 || cols == 0) return 0;
    switch (p->granularity) {
    case QINS_GRAN_PER_TENSOR: return 1;
    case QINS_GRAN_PER_ROW: return rows;
    case QINS_GRAN_PER_COLUMN: return cols;
    case QINS_GRAN_PER_GROUP: return rows * groups_per_row(p, cols);
    }
    return 0;
}

size_t qins_codec_group_of(const struct qins_codec_params *p, size_t rows, size_t cols, size_t r, size_t c) {
    (void)rows;
    switch (p->granularity) {
    case QINS_GRAN_PER_TENSOR: return 0;
    case QINS_GRAN_PER_ROW: return r;
    case QINS_GRAN_PER_COLUMN: return c;
    case QINS_GRAN_PER_GROUP: return r * groups_per_row(p, cols) + c / (size_t)p->group_size;
    }
    return 0;
}

static int has_extra(const struct qins_codec_params *p) { return p->codec == QINS_CODEC_QINS_LOG; }

static int block_elems(size_t rows, size_t cols, size_t *n) {
    QINS_CHECK(cols == 0 || rows <= SIZE_MAX / 8 / cols, QINS_ERR_RANGE, "block %zu x %zu too large", rows, cols);
    *n = rows * cols;
    return QINS_OK;
}

size_t qins_codec_encoded_bytes(const struct qins_codec_params *p, size_t rows, size_t cols) {
    size_t n;
    if (qins_codec_validate(p) < 0 || block_elems(rows, cols, &n) < 0) return 0;
    if (p->codec == QINS_CODEC_FP32) return 4 * n;
    if (!qins_codec_is_lossy(p)) return 2 * n;
    size_t ng = qins_codec_n_groups(p, rows, cols);
    return 2 * ng * (size_t)(1 + has_extra(p)) + qins_pack_bytes(n, p->bits);
}

// ---- NormalFloat codebooks, built once per k (bisection on the normal CDF; slow but exact
// enough and only 2^k entries once per process)
static float nf_books[QINS_CODEC_MAX_BITS + 1][1 << QINS_CODEC_MAX_BITS];
static pthread_once_t nf_once[QINS_CODEC_MAX_BITS + 1] = {
    PTHREAD_ONCE_INIT, PTHREAD_ONCE_INIT, PTHREAD_ONCE_INIT, PTHREAD_ONCE_INIT, PTHREAD_ONCE_INIT,
    PTHREAD_ONCE_INIT, PTHREAD_ONCE_INIT, PTHREAD_ONCE_INIT, PTHREAD_ONCE_INIT, PTHREAD_ONCE_INIT,
    PTHREAD_ONCE_INIT, PTHREAD_ONCE_INIT, PTHREAD_ONCE_INIT};

static double norm_ppf(double p) { // p in (0.5, 1): x with Phi(x) = p
    double lo = 0, hi = 12;
    for (int i = 0; i < 80; i++) {
        double mid = 0.5 * (lo + hi);
        if (0.5 * erfc(-mid / sqrt(2.0)) < p) lo = mid;
        else hi = mid;
    }
    return 0.5 * (lo + hi);
}

static void nf_build(int k) {
    // QLoRA NF4 construction generalised: offset halfway between 1-1/(2(2^k-1)) and 1-1/(2*2^k);
    // n_pos quantiles on linspace(offset, 0.5, n_pos+1)[:-1], likewise n_neg; plus exact zero.
    int n = 1 << k, n_pos = n / 2, n_neg = n / 2 - 1;
    double offset = 0.5 * ((1.0 - 1.0 / (2.0 * (n - 1))) + (1.0 - 1.0 / (2.0 * n)));
    double top = norm_ppf(offset);
    float *b = nf_books[k];
    // ascending: negatives (most negative first), 0, positives (smallest first)
    for (int i = 0; i < n_neg; i++) {
        double pr = offset + (0.5 - offset) * i / n_neg;
        b[i] = (float)(-norm_ppf(pr) / top);
    }
    b[n_neg] = 0.0f;
    for (int i = 0; i < n_pos; i++) {
        double pr = offset + (0.5 - offset) * (n_pos - 1 - i) / n_pos;
        b[n_neg + 1 + i] = (float)(norm_ppf(pr) / top);
    }
}

#define NF_ONCE(k) static void nf_build_##k(void) { nf_build(k); }
NF_ONCE(2) NF_ONCE(3) NF_ONCE(4) NF_ONCE(5) NF_ONCE(6) NF_ONCE(7) NF_ONCE(8) NF_ONCE(9) NF_ONCE(10)
NF_ONCE(11) NF_ONCE(12)
static void (*const nf_builders[QINS_CODEC_MAX_BITS + 1])(void) = {
    NULL, NULL, nf_build_2, nf_build_3, nf_build_4, nf_build_5, nf_build_6, nf_build_7,
    nf_build_8, nf_build_9, nf_build_10, nf_build_11, nf_build_12};

static const float *nf_book(int k) {
    pthread_once(&nf_once[k], nf_builders[k]);
    return nf_books[k];
}

// ---- per-code values (units of the scale)
static float qins_value(int k, float alpha, uint32_t c) {
    uint32_t M = (1u << k) - 1, half = 1u << (k - 1);
    uint32_t j = c >= half ? c - half : half - 1 - c; // |z| = (2j+1)/M
    float az = (float)(2 * j + 1) / (float)M;
    float u = (1.0f - az) / (alpha * az);
    return c >= half ? u : -u;
}

static float qlog_value(int k, float R, uint32_t c) {
    uint32_t L = (1u << (k - 1)) - 1, m = c & L;
    int neg = (c >> (k - 1)) & 1;
    if (m == L) return neg ? -0.0f : 0.0f;
    float v = exp2f(-(float)m * (R / (float)(L - 1)));
    return neg ? -v : v;
}

int qins_codec_lut(const struct qins_codec_params *p, float extra, float *lut) {
    QINS_TRY(qins_codec_validate(p));
    QINS_CHECK(qins_codec_is_lossy(p), QINS_ERR_UNSUPPORTED, "no LUT for float formats");
    int k = p->bits;
    uint32_t n = 1u << k;
    switch (p->codec) {
    case QINS_CODEC_INT: {
        float Q = (float)((1 << (k - 1)) - 1);
        for (uint32_t c = 0; c < n; c++) lut[c] = ((float)c - Q) / Q;
        break;
    }
    case QINS_CODEC_NF: memcpy(lut, nf_book(k), n * sizeof(float)); break;
    case QINS_CODEC_QINS:
        for (uint32_t c = 0; c < n; c++) lut[c] = qins_value(k, p->alpha, c);
        break;
    case QINS_CODEC_QINS_LOG:
        QINS_CHECK(isfinite(extra) && extra >= 0 && extra <= 64, QINS_ERR_FORMAT, "qins-log range %g invalid",
                   (double)extra);
        for (uint32_t c = 0; c < n; c++) lut[c] = qlog_value(k, extra, c);
        break;
    default: break;
    }
    return QINS_OK;
}

int qins_codec_code_value(const struct qins_codec_params *p, uint32_t code, float scale, float extra, float *out) {
    QINS_TRY(qins_codec_validate(p));
    QINS_CHECK(code < (1ull << (p->bits > 16 ? 16 : p->bits)) || p->codec == QINS_CODEC_FP32, QINS_ERR_RANGE,
               "code %u outside %d bits", code, p->bits);
    switch (p->codec) {
    case QINS_CODEC_FP32: {
        float f;
        memcpy(&f, &code, 4);
        *out = f;
        return QINS_OK;
    }
    case QINS_CODEC_FP16: *out = qins_fp16_to_f32((uint16_t)code); return QINS_OK;
    case QINS_CODEC_BF16: *out = qins_bf16_to_f32((uint16_t)code); return QINS_OK;
    case QINS_CODEC_INT: {
        float Q = (float)((1 << (p->bits - 1)) - 1);
        *out = ((float)code - Q) / Q * scale;
        return QINS_OK;
    }
    case QINS_CODEC_NF: *out = nf_book(p->bits)[code] * scale; return QINS_OK;
    case QINS_CODEC_QINS: *out = qins_value(p->bits, p->alpha, code) * scale; return QINS_OK;
    case QINS_CODEC_QINS_LOG: *out = qlog_value(p->bits, extra, code) * scale; return QINS_OK;
    default: break;
    }
    return QINS_ERR_ARG;
}

int qins_codec_zero_code(const struct qins_codec_params *p) {
    switch (p->codec) {
    case QINS_CODEC_FP16:
    case QINS_CODEC_BF16: return 0;
    case QINS_CODEC_INT:
    case QINS_CODEC_NF: return (1 << (p->bits - 1)) - 1;
    case QINS_CODEC_QINS: return (1 << p->bits) - 1;
    case QINS_CODEC_QINS_LOG: return (1 << (p->bits - 1)) - 1;
    default: return -1;
    }
}

// ---- scales
struct gstat {
    float amax, amin; // amin: smallest non-zero |x|
    double ssq;
    size_t n;
};

// Calls the per-segment visitor over the block: a segment is a run of consecutive elements of
// one row that share a group. PER_COLUMN has one-element segments.
#define FOR_EACH_SEGMENT(p, rows, cols, ...)                                                       \
    do {                                                                                           \
        size_t seg_len_ = (p)->granularity == QINS_GRAN_PER_GROUP    ? (size_t)(p)->group_size     \
                          : (p)->granularity == QINS_GRAN_PER_COLUMN ? 1                           \
                                                                     : (cols);                     \
        for (size_t r_ = 0; r_ < (rows); r_++) {                                                   \
            for (size_t c0_ = 0; c0_ < (cols); c0_ += seg_len_) {                                  \
                size_t len_ = (cols) - c0_ < seg_len_ ? (cols) - c0_ : seg_len_;                   \
                size_t g_ = qins_codec_group_of((p), (rows), (cols), r_, c0_);                     \
                size_t off_ = r_ * (cols) + c0_;                                                   \
                (void)g_;                                                                          \
                __VA_ARGS__                                                                        \
            }                                                                                      \
        }                                                                                          \
    } while (0)

static float fp16_round_up(float s) {
    // The smallest FP16 value >= s (s >= 0, <= 65504), so that |x|/scale <= 1 holds exactly.
    uint16_t h = qins_f32_to_fp16(s);
    if (qins_fp16_to_f32(h) < s) h++;
    return qins_fp16_to_f32(h);
}

static int compute_scales(const struct qins_codec_params *p, const float *x, size_t rows, size_t cols,
                          float *scales, float *extra) {
    size_t ng = qins_codec_n_groups(p, rows, cols);
    struct gstat *st = calloc(ng ? ng : 1, sizeof *st);
    QINS_CHECK(st, QINS_ERR_NOMEM, "no memory for %zu group stats", ng);
    for (size_t g = 0; g < ng; g++) st[g].amin = INFINITY;
    int bad = 0;
    size_t bad_at = 0;
    FOR_EACH_SEGMENT(p, rows, cols, {
        struct gstat *s = &st[g_];
        const float *xs = x + off_;
        float amax = s->amax, amin = s->amin;
        double ssq = 0;
        for (size_t i = 0; i < len_; i++) {
            float a = fabsf(xs[i]);
            if (!(a <= 3.4e38f)) { // NaN or Inf
                if (!bad) bad_at = off_ + i;
                bad = 1;
                a = 0;
            }
            amax = a > amax ? a : amax;
            if (a > 0 && a < amin) amin = a;
            ssq += (double)a * a;
        }
        s->amax = amax;
        s->amin = amin;
        s->ssq += ssq;
        s->n += len_;
    });
    if (bad) {
        free(st);
        QINS_CHECK(0, QINS_ERR_NUMERIC, "non-finite input at element %zu (row %zu, col %zu): %g", bad_at,
                   bad_at / cols, bad_at % cols, (double)x[bad_at]);
    }
    int rc = QINS_OK;
    float clip = p->clip > 0 ? p->clip : QINS_CODEC_DEFAULT_CLIP;
    for (size_t g = 0; g < ng; g++) {
        double s;
        if (p->scale_mode == QINS_SCALE_ABSMAX) {
            s = st[g].amax;
        } else {
            s = st[g].n ? sqrt(st[g].ssq / (double)st[g].n) : 0;
            if (p->codec != QINS_CODEC_QINS) s *= clip; // only QINS codes cover all reals
        }
        if (!(s <= FP16_MAX)) {
            qins_log_error_at(__FILE__, __LINE__, __func__,
                              "group %zu: scale %g exceeds the FP16 range (65504); rescale the input", g, s);
            rc = QINS_ERR_RANGE;
            break;
        }
        scales[g] = fp16_round_up((float)s);
        if (extra) {
            float R = 0;
            if (st[g].amax > 0 && st[g].amin < INFINITY) R = log2f(scales[g] / st[g].amin);
            if (!(R >= 0)) R = 0;
            if (R > QINS_LOG_MAX_OCTAVES) R = QINS_LOG_MAX_OCTAVES;
            extra[g] = qins_fp16_to_f32(qins_f32_to_fp16(R));
        }
    }
    free(st);
    return rc;
}

// ---- quantizers: one segment of len values sharing scale (inv = 1/scale) and extra
struct qctx {
    int k;
    float alpha;
    const float *nf_mid; // NF decision thresholds, 2^k - 1 ascending
};

static void quantize_seg(const struct qins_codec_params *p, const struct qctx *q, const float *x, size_t len,
                         float inv, float extra, uint16_t *codes) {
    int k = q->k;
    switch (p->codec) {
    case QINS_CODEC_INT: {
        int Q = (1 << (k - 1)) - 1;
        float fq = (float)Q;
        for (size_t i = 0; i < len; i++) {
            long v = lrintf(x[i] * inv * fq);
            v = v < -Q ? -Q : v > Q ? Q : v;
            codes[i] = (uint16_t)(v + Q);
        }
        break;
    }
    case QINS_CODEC_NF: {
        int nt = (1 << k) - 1;
        for (size_t i = 0; i < len; i++) {
            float u = x[i] * inv;
            int lo = 0, hi = nt; // first threshold >= u (ties go to the lower entry)
            while (lo < hi) {
                int mid = (lo + hi) >> 1;
                if (q->nf_mid[mid] < u) lo = mid + 1;
                else hi = mid;
            }
            codes[i] = (uint16_t)lo;
        }
        break;
    }
    case QINS_CODEC_QINS: {
        int half = 1 << (k - 1);
        float M = (float)((1 << k) - 1), a = q->alpha;
        for (size_t i = 0; i < len; i++) {
            float u = x[i] * inv, au = fabsf(u);
            float az = 1.0f / (1.0f + a * au); // |z| in (0, 1]
            long j = lrintf((az * M - 1.0f) * 0.5f);
            j = j < 0 ? 0 : j > half - 1 ? half - 1 : j;
            codes[i] = (uint16_t)(signbit(u) ? half - 1 - j : half + j);
        }
        break;
    }
    case QINS_CODEC_QINS_LOG: {
        int L = (1 << (k - 1)) - 1;
        float step = extra / (float)(L - 1), inv_step = step > 0 ? 1.0f / step : 0.0f;
        float smallest = exp2f(-(float)(L - 1) * step);
        for (size_t i = 0; i < len; i++) {
            float u = x[i] * inv, au = fabsf(u);
            int m;
            if (au == 0 || au < 0.5f * smallest) {
                m = L;
            } else {
                float l = -log2f(au); // >= 0 unless clipped (RMS scales)
                long mm = lrintf(l * inv_step);
                m = (int)(mm < 0 ? 0 : mm > L - 1 ? L - 1 : mm);
            }
            codes[i] = (uint16_t)((signbit(u) ? (1 << (k - 1)) : 0) | m);
        }
        break;
    }
    default: break;
    }
}

static int quantize_impl(const struct qins_codec_params *p, const float *x, size_t rows, size_t cols,
                         uint16_t *codes, float *scales, float *extra) {
    size_t n;
    QINS_TRY(block_elems(rows, cols, &n));
    if (p->codec == QINS_CODEC_FP16 || p->codec == QINS_CODEC_BF16) {
        for (size_t i = 0; i < n; i++) {
            QINS_CHECK(isfinite(x[i]), QINS_ERR_NUMERIC, "non-finite input at element %zu: %g", i, (double)x[i]);
            uint16_t h = p->codec == QINS_CODEC_FP16 ? qins_f32_to_fp16(x[i]) : qins_f32_to_bf16(x[i]);
            QINS_CHECK((h & 0x7fff) != (p->codec == QINS_CODEC_FP16 ? 0x7c00 : 0x7f80), QINS_ERR_RANGE,
                       "element %zu = %g overflows %s", i, (double)x[i], kind_names[p->codec]);
            codes[i] = h;
        }
        return QINS_OK;
    }
    QINS_CHECK(p->codec != QINS_CODEC_FP32, QINS_ERR_UNSUPPORTED, "fp32 has no 16-bit codes");
    QINS_CHECK(p->codec != QINS_CODEC_QINS_LOG || extra, QINS_ERR_ARG, "qins-log needs the extra array");
    QINS_TRY(compute_scales(p, x, rows, cols, scales, has_extra(p) ? extra : NULL));
    struct qctx q = {.k = p->bits, .alpha = p->alpha, .nf_mid = NULL};
    float mids[1 << QINS_CODEC_MAX_BITS];
    if (p->codec == QINS_CODEC_NF) {
        const float *b = nf_book(p->bits);
        for (int i = 0; i + 1 < (1 << p->bits); i++) mids[i] = 0.5f * (b[i] + b[i + 1]);
        q.nf_mid = mids;
    }
    FOR_EACH_SEGMENT(p, rows, cols, {
        float s = scales[g_];
        quantize_seg(p, &q, x + off_, len_, s > 0 ? 1.0f / s : 0.0f, extra ? extra[g_] : 0.0f, codes + off_);
    });
    return QINS_OK;
}

int qins_codec_quantize(const struct qins_codec_params *p, const float *x, size_t rows, size_t cols,
                        uint16_t *codes, float *scales, float *extra) {
    QINS_TRY(qins_codec_validate(p));
    QINS_TRY(quantize_impl(p, x, rows, cols, codes, scales, extra));
    count(p, 0, rows * cols);
    return QINS_OK;
}

static int check_scales(const struct qins_codec_params *p, const float *scales, const float *extra, size_t ng) {
    for (size_t g = 0; g < ng; g++) {
        QINS_CHECK(isfinite(scales[g]) && scales[g] >= 0, QINS_ERR_FORMAT, "group %zu: stored scale %g invalid", g,
                   (double)scales[g]);
        if (has_extra(p))
            QINS_CHECK(isfinite(extra[g]) && extra[g] >= 0 && extra[g] <= 64, QINS_ERR_FORMAT,
                       "group %zu: stored log range %g invalid", g, (double)extra[g]);
    }
    return QINS_OK;
}

// Decodes codes of one segment (either 8-bit bytes or 16-bit codes) through lut.
static void decode_seg(const struct qins_codec_params *p, const float *lut, const uint8_t *c8, const uint16_t *c16,
                       size_t len, float scale, float extra, float *out) {
    if (p->codec == QINS_CODEC_QINS_LOG) {
        for (size_t i = 0; i < len; i++)
            out[i] = qlog_value(p->bits, extra, c8 ? c8[i] : c16[i]) * scale;
    } else if (c8) {
        qins_lut_decode_u8(c8, len, lut, scale, out);
    } else {
        qins_lut_decode_u16(c16, len, lut, scale, out);
    }
}

int qins_codec_dequantize(const struct qins_codec_params *p, const uint16_t *codes, const float *scales,
                          const float *extra, size_t rows, size_t cols, float *x) {
    QINS_TRY(qins_codec_validate(p));
    size_t n;
    QINS_TRY(block_elems(rows, cols, &n));
    if (!qins_codec_is_lossy(p)) {
        QINS_CHECK(p->codec != QINS_CODEC_FP32, QINS_ERR_UNSUPPORTED, "fp32 has no 16-bit codes");
        for (size_t i = 0; i < n; i++)
            x[i] = p->codec == QINS_CODEC_FP16 ? qins_fp16_to_f32(codes[i]) : qins_bf16_to_f32(codes[i]);
        return QINS_OK;
    }
    size_t ng = qins_codec_n_groups(p, rows, cols);
    QINS_TRY(check_scales(p, scales, extra, ng));
    float lut[1 << QINS_CODEC_MAX_BITS];
    if (p->codec != QINS_CODEC_QINS_LOG) QINS_TRY(qins_codec_lut(p, 0, lut));
    uint16_t mask = (uint16_t)((1u << p->bits) - 1);
    // Codes from callers may carry high bits: mask them so every index stays inside the LUT.
    uint16_t tmp[256];
    FOR_EACH_SEGMENT(p, rows, cols, {
        for (size_t i0 = 0; i0 < len_; i0 += 256) {
            size_t m = len_ - i0 < 256 ? len_ - i0 : 256;
            for (size_t i = 0; i < m; i++) tmp[i] = codes[off_ + i0 + i] & mask;
            decode_seg(p, lut, NULL, tmp, m, scales[g_], extra ? extra[g_] : 0.0f, x + off_ + i0);
        }
    });
    count(p, 1, n);
    return QINS_OK;
}

// ---- encoded blocks
static void write_f16s(uint8_t *out, const float *v, size_t n) {
    for (size_t i = 0; i < n; i++) {
        uint16_t h = qins_f32_to_fp16(v[i]);
        out[2 * i] = (uint8_t)h;
        out[2 * i + 1] = (uint8_t)(h >> 8);
    }
}

static void read_f16s(const uint8_t *in, float *v, size_t n) {
    for (size_t i = 0; i < n; i++) v[i] = qins_fp16_to_f32((uint16_t)(in[2 * i] | (in[2 * i + 1] << 8)));
}

int qins_codec_encode(const struct qins_codec_params *p, const float *x, size_t rows, size_t cols, uint8_t *out,
                      size_t out_cap) {
    QINS_TRY(qins_codec_validate(p));
    size_t n;
    QINS_TRY(block_elems(rows, cols, &n));
    size_t need = qins_codec_encoded_bytes(p, rows, cols);
    QINS_CHECK(out_cap >= need, QINS_ERR_RANGE, "output buffer %zu bytes < %zu needed", out_cap, need);
    if (n == 0) return QINS_OK;
    if (p->codec == QINS_CODEC_FP32) {
        for (size_t i = 0; i < n; i++)
            QINS_CHECK(isfinite(x[i]), QINS_ERR_NUMERIC, "non-finite input at element %zu: %g", i, (double)x[i]);
        memcpy(out, x, 4 * n); // little-endian host (x86-64/aarch64)
        return QINS_OK;
    }
    size_t ng = qins_codec_n_groups(p, rows, cols);
    uint16_t *codes = malloc(n * sizeof *codes);
    float *scales = malloc((2 * ng + 1) * sizeof *scales);
    int rc = QINS_ERR_NOMEM;
    if (!codes || !scales) {
        qins_log_error_at(__FILE__, __LINE__, __func__, "no memory for %zu codes", n);
        goto done;
    }
    rc = quantize_impl(p, x, rows, cols, codes, scales, scales + ng);
    if (rc < 0) goto done;
    if (!qins_codec_is_lossy(p)) {
        for (size_t i = 0; i < n; i++) {
            out[2 * i] = (uint8_t)codes[i];
            out[2 * i + 1] = (uint8_t)(codes[i] >> 8);
        }
    } else {
        write_f16s(out, scales, ng);
        size_t off = 2 * ng;
        if (has_extra(p)) {
            write_f16s(out + off, scales + ng, ng);
            off += 2 * ng;
        }
        qins_pack(codes, n, p->bits, out + off);
    }
    count(p, 0, n);
    rc = QINS_OK;
done:
    free(codes);
    free(scales);
    return rc;
}

static int check_len(const struct qins_codec_params *p, size_t in_len, size_t rows, size_t cols) {
    size_t need = qins_codec_encoded_bytes(p, rows, cols);
    QINS_CHECK(in_len == need, QINS_ERR_FORMAT, "encoded block is %zu bytes, expected %zu for %zu x %zu", in_len,
               need, rows, cols);
    return QINS_OK;
}

int qins_codec_unpack_codes(const struct qins_codec_params *p, const uint8_t *in, size_t in_len, size_t rows,
                            size_t cols, uint16_t *codes) {
    QINS_TRY(qins_codec_validate(p));
    QINS_CHECK(p->codec != QINS_CODEC_FP32, QINS_ERR_UNSUPPORTED, "fp32 has no 16-bit codes");
    size_t n;
    QINS_TRY(block_elems(rows, cols, &n));
    QINS_TRY(check_len(p, in_len, rows, cols));
    if (!qins_codec_is_lossy(p)) {
        for (size_t i = 0; i < n; i++) codes[i] = (uint16_t)(in[2 * i] | (in[2 * i + 1] << 8));
        return QINS_OK;
    }
    size_t off = 2 * qins_codec_n_groups(p, rows, cols) * (size_t)(1 + has_extra(p));
    qins_unpack(in + off, in_len - off, 0, n, p->bits, codes);
    return QINS_OK;
}

int qins_codec_decode(const struct qins_codec_params *p, const uint8_t *in, size_t in_len, size_t rows, size_t cols,
                      float *x) {
    QINS_TRY(qins_codec_validate(p));
    size_t n;
    QINS_TRY(block_elems(rows, cols, &n));
    QINS_TRY(check_len(p, in_len, rows, cols));
    if (n == 0) return QINS_OK;
    if (p->codec == QINS_CODEC_FP32) {
        memcpy(x, in, 4 * n);
        for (size_t i = 0; i < n; i++)
            QINS_CHECK(isfinite(x[i]), QINS_ERR_FORMAT, "stored fp32 value %zu is not finite", i);
        return QINS_OK;
    }
    if (p->codec == QINS_CODEC_FP16 || p->codec == QINS_CODEC_BF16) {
        if (p->codec == QINS_CODEC_FP16) {
            qins_half_to_f32(in, n, x); // F16C when the CPU has it
        } else {
            for (size_t i = 0; i < n; i++) x[i] = qins_bf16_to_f32((uint16_t)(in[2 * i] | (in[2 * i + 1] << 8)));
        }
        for (size_t i = 0; i < n; i++)
            QINS_CHECK(isfinite(x[i]), QINS_ERR_FORMAT, "stored %s value %zu is not finite", kind_names[p->codec], i);
        return QINS_OK;
    }
    size_t ng = qins_codec_n_groups(p, rows, cols);
    float *scales = malloc((2 * ng + 1) * sizeof *scales);
    uint16_t *row = malloc((cols + 1) * sizeof *row);
    int rc = QINS_ERR_NOMEM;
    if (!scales || !row) {
        qins_log_error_at(__FILE__, __LINE__, __func__, "no memory for %zu scales", ng);
        goto done;
    }
    read_f16s(in, scales, ng);
    size_t off = 2 * ng;
    float *extra = NULL;
    if (has_extra(p)) {
        extra = scales + ng;
        read_f16s(in + off, extra, ng);
        off += 2 * ng;
    }
    rc = check_scales(p, scales, extra, ng);
    if (rc < 0) goto done;
    float lut[1 << QINS_CODEC_MAX_BITS];
    if (p->codec != QINS_CODEC_QINS_LOG) {
        rc = qins_codec_lut(p, 0, lut);
        if (rc < 0) goto done;
    }
    const uint8_t *cs = in + off;
    size_t cs_len = in_len - off;
    int k = p->bits;
    // 8-bit codes are read in place (the common fast path); other widths unpack one row at a time.
    for (size_t r = 0; r < rows; r++) {
        const uint8_t *c8 = NULL;
        if (k == 8) c8 = cs + r * cols;
        else qins_unpack(cs, cs_len, r * cols, cols, k, row);
        if (p->granularity == QINS_GRAN_PER_COLUMN) {
            float *xr = x + r * cols;
            if (p->codec == QINS_CODEC_QINS_LOG) {
                for (size_t c = 0; c < cols; c++)
                    xr[c] = qlog_value(k, extra[c], c8 ? c8[c] : row[c]) * scales[c];
            } else if (c8) {
                for (size_t c = 0; c < cols; c++) xr[c] = lut[c8[c]] * scales[c];
            } else {
                for (size_t c = 0; c < cols; c++) xr[c] = lut[row[c]] * scales[c];
            }
            continue;
        }
        size_t seg = p->granularity == QINS_GRAN_PER_GROUP ? (size_t)p->group_size : cols;
        for (size_t c0 = 0; c0 < cols; c0 += seg) {
            size_t len = cols - c0 < seg ? cols - c0 : seg;
            size_t g = qins_codec_group_of(p, rows, cols, r, c0);
            decode_seg(p, lut, c8 ? c8 + c0 : NULL, c8 ? NULL : row + c0, len, scales[g], extra ? extra[g] : 0.0f,
                       x + r * cols + c0);
        }
    }
    count(p, 1, n);
    rc = QINS_OK;
done:
    free(scales);
    free(row);
    return rc;
}
