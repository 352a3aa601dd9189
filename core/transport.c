// core/transport.c — QINS-domain weight transport: the encoding with per-channel scales, the four
// transports (FP64), the runtime slot (Pattern B), diagnostics and decode accounting.
#include "transport.h"

#include <cblas.h>

// LAPACK's Cholesky solve, exported by OpenBLAS itself (Fortran calling convention).
extern void dposv_(const char *uplo, const int *n, const int *nrhs, double *a, const int *lda, double *b,
                   const int *ldb, int *info);
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "eval.h"
#include "silu_lut.h"

// ---------------------------------------------------------------------------------------------
// the encoding (a = alpha, s = channel scale)

// E(x) with scale s, FP64: sign(x)/(1 + a|x/s|); copysign keeps -0 negative, as the codec does.
static inline double enc(double x, double s, double a) { return copysign(1.0 / (1.0 + a * fabs(x / s)), x); }
// dE/dx = -a / (s (1 + a|x/s|)^2), for x != 0 (the jump at 0 has no derivative: the one-sided
// limit is used, which is what a diagonal Jacobian at an operating point can express).
static inline double enc_deriv(double x, double s, double a) {
    double d = 1.0 + a * fabs(x / s);
    return -a / (s * d * d);
}
// D(z) with output scale t: t (1 - |z|) / (a z); z = +-0 gives +-Inf (propagated, counted).
static inline double dec(double z, double t, double a) { return t * (1.0 - fabs(z)) / (a * z); }
// dD/dz = -t / (a z^2).
static inline double dec_deriv(double z, double t, double a) { return -t / (a * z * z); }

// Rounds z to the k-bit QINS grid z_c = (2j+1)/M with the sign kept, as core/codec.c does.
static inline double grid_round(double z, int k) {
    const int M = (1 << k) - 1, half = 1 << (k - 1);
    double j = nearbyint((fabs(z) * M - 1.0) * 0.5);
    j = j < 0 ? 0 : j > half - 1 ? half - 1 : j;
    return copysign((2.0 * j + 1.0) / M, z);
}

// The k-bit input code of x with scale s, computed in FP32 exactly like the codec's QINS
// quantizer (u = x * (1/s), |z| = 1/(1 + a|u|), j = lrintf((|z| M - 1)/2)), so that the codes
// are identical to qins_codec_quantize's for the same scale. Returns z of the chosen code.
static inline double grid_encode_f32(float x, float inv, float a, int k) {
    const int M = (1 << k) - 1, half = 1 << (k - 1);
    float u = x * inv, az = 1.0f / (1.0f + a * fabsf(u));
    long j = lrintf((az * (float)M - 1.0f) * 0.5f);
    j = j < 0 ? 0 : j > half - 1 ? half - 1 : j;
    double z = (2.0 * (double)j + 1.0) / M;
    return signbit(u) ? -z : z;
}

int qins_transport_grid_code(double z, int bits) {
    const int M = (1 << bits) - 1, half = 1 << (bits - 1);
    double j = nearbyint((fabs(z) * M - 1.0) * 0.5);
    const int ji = j < 0 ? 0 : j > half - 1 ? half - 1 : (int)j;
    return signbit(z) ? half - 1 - ji : half + ji;
}

double qins_transport_grid_z(int code, int bits) {
    const int M = (1 << bits) - 1, half = 1 << (bits - 1);
    return code < half ? -(2.0 * (half - 1 - code) + 1.0) / M : (2.0 * (code - half) + 1.0) / M;
}

double qins_transport_decode_z(double z, double t, double alpha) { return dec(z, t, alpha); }

static void encode_rows(const double *s_in, int n_in, double a, int bits, const float *x, int64_t n, double *z) {
    for (int64_t t = 0; t < n; t++) {
        const float *xr = x + (size_t)t * n_in;
        double *zr = z + (size_t)t * n_in;
        if (bits == 0)
            for (int j = 0; j < n_in; j++) zr[j] = enc(xr[j], s_in[j], a);
        else
            for (int j = 0; j < n_in; j++) zr[j] = grid_encode_f32(xr[j], 1.0f / (float)s_in[j], (float)a, bits);
    }
}

void qins_transport_encode_row(const struct qins_transport *t, const float *x, double *z) {
    encode_rows(t->s_in, t->n_in, t->p.alpha, t->p.in_bits, x, 1, z);
}

// ---------------------------------------------------------------------------------------------
// parameters

static const char *kind_names[QINS_TRANSPORT_COUNT] = {"none", "literal", "jacobian", "lstsq"};
static const char *op_names[QINS_OP_COUNT] = {"mean", "median", "absmean"};

void qins_transport_params_default(struct qins_transport_params *p) {
    memset(p, 0, sizeof *p);
    p->kind = QINS_TRANSPORT_JACOBIAN;
    p->alpha = 1.0;
    p->in_scale = QINS_SCALE_ABSMAX;
    p->out_scale = QINS_SCALE_ABSMAX;
    p->op = QINS_OP_MEAN;
    p->ridge = 1e-8;
    qins_codec_params_default(&p->wcodec);
}

const char *qins_transport_kind_name(enum qins_transport_kind k) {
    return (unsigned)k < QINS_TRANSPORT_COUNT ? kind_names[k] : "?";
}

int qins_transport_kind_parse(const char *s, enum qins_transport_kind *out) {
    for (int i = 0; i < QINS_TRANSPORT_COUNT; i++)
        if (!strcmp(s, kind_names[i])) {
            *out = (enum qins_transport_kind)i;
            return 0;
        }
    qins_log_error_at(__FILE__, __LINE__, __func__, "unknown transport '%s' (none, literal, jacobian, lstsq)", s);
    return QINS_ERR_ARG;
}

const char *qins_op_point_name(enum qins_op_point op) { return (unsigned)op < QINS_OP_COUNT ? op_names[op] : "?"; }

int qins_op_point_parse(const char *s, enum qins_op_point *out) {
    for (int i = 0; i < QINS_OP_COUNT; i++)
        if (!strcmp(s, op_names[i])) {
            *out = (enum qins_op_point)i;
            return 0;
        }
    qins_log_error_at(__FILE__, __LINE__, __func__, "unknown operating point '%s' (mean, median, absmean)", s);
    return QINS_ERR_ARG;
}

int qins_transport_encoding_parse(const char *s, int *bits) {
    if (!strcmp(s, "float")) return *bits = 0, 0;
    char *end;
    long k = s[0] == 'k' ? strtol(s + 1, &end, 10) : -1;
    if (k < 2 || k > QINS_CODEC_MAX_BITS || *end) return QINS_ERR_ARG;
    *bits = (int)k;
    return 0;
}

int qins_transport_params_validate(const struct qins_transport_params *p) {
    QINS_CHECK((unsigned)p->kind < QINS_TRANSPORT_COUNT, QINS_ERR_ARG, "transport kind %d", (int)p->kind);
    QINS_CHECK((unsigned)p->op < QINS_OP_COUNT, QINS_ERR_ARG, "operating point %d", (int)p->op);
    QINS_CHECK(isfinite(p->alpha) && p->alpha > 0, QINS_ERR_ARG, "transport alpha %g must be > 0", p->alpha);
    QINS_CHECK(p->in_bits == 0 || (p->in_bits >= 2 && p->in_bits <= QINS_CODEC_MAX_BITS), QINS_ERR_ARG,
               "input encoding bits %d (0 = float, 2..%d)", p->in_bits, QINS_CODEC_MAX_BITS);
    QINS_CHECK(p->out_bits == 0 || (p->out_bits >= 2 && p->out_bits <= QINS_CODEC_MAX_BITS), QINS_ERR_ARG,
               "output encoding bits %d (0 = float, 2..%d)", p->out_bits, QINS_CODEC_MAX_BITS);
    QINS_CHECK(!p->out_silu || p->out_bits, QINS_ERR_ARG, "a SiLU table over output codes needs output bits");
    QINS_CHECK(p->in_scale == QINS_SCALE_ABSMAX || p->in_scale == QINS_SCALE_RMS, QINS_ERR_ARG, "input scale mode");
    QINS_CHECK(p->out_scale == QINS_SCALE_ABSMAX || p->out_scale == QINS_SCALE_RMS, QINS_ERR_ARG, "output scale mode");
    QINS_CHECK(isfinite(p->ridge) && p->ridge >= 0, QINS_ERR_ARG, "ridge %g must be >= 0", p->ridge);
    return qins_codec_validate(&p->wcodec);
}

// ---------------------------------------------------------------------------------------------
// computing a transport

double qins_transport_hist_lower(int i) { return i <= 0 ? 0.0 : pow(10.0, -8.0 + (i - 1) * 0.5); }

static void w_diagnostics(struct qins_transport *t) {
    t->w_absmax = 0;
    t->w_nonfinite = 0;
    memset(t->w_hist, 0, sizeof t->w_hist);
    for (size_t i = 0; i < (size_t)t->n_out * t->n_in; i++) {
        double a = fabs(t->w[i]);
        if (!isfinite(a)) {
            t->w_nonfinite++;
            continue;
        }
        if (a > t->w_absmax) t->w_absmax = a;
        int bin = a < 1e-8 ? 0 : (int)floor(2.0 * log10(a) + 16.0) + 1;
        bin = bin < 0 ? 0 : bin >= QINS_TRANSPORT_HIST_BINS ? QINS_TRANSPORT_HIST_BINS - 1 : bin;
        t->w_hist[bin]++;
    }
}

// A channel scale as the runtime stores it (FP32); a dead channel (scale 0) gets 1.
static double channel_scale(double s) {
    float f = (float)s;
    return f > 0 && isfinite(f) ? (double)f : 1.0;
}

static int scales_from_rows(const float *w, int n_out, int n_in, const struct qins_calib_stats *in,
                            enum qins_scale_mode mode, double *s_out) {
    QINS_CHECK(in->n_rows > 0, QINS_ERR_STATE, "transport: output scales need fit rows (or the output statistics)");
    double *acc = calloc((size_t)n_out, sizeof(double));
    QINS_CHECK(acc, QINS_ERR_NOMEM, "transport: out of memory");
    for (int64_t r = 0; r < in->n_rows; r++) {
        const float *x = in->rows + (size_t)r * n_in;
        for (int i = 0; i < n_out; i++) {
            double y = 0;
            for (int j = 0; j < n_in; j++) y += (double)w[(size_t)i * n_in + j] * x[j];
            if (mode == QINS_SCALE_ABSMAX) acc[i] = fabs(y) > acc[i] ? fabs(y) : acc[i];
            else acc[i] += y * y;
        }
    }
    for (int i = 0; i < n_out; i++)
        s_out[i] = channel_scale(mode == QINS_SCALE_ABSMAX ? acc[i] : sqrt(acc[i] / (double)in->n_rows));
    free(acc);
    return 0;
}

static int fit_lstsq(struct qins_transport *t, const float *w, const struct qins_calib_stats *in) {
    const int n_in = t->n_in, n_out = t->n_out;
    const int64_t N = in->n_rows;
    QINS_CHECK(N > 0, QINS_ERR_STATE, "transport: lstsq needs calibration rows");
    const double a = t->p.alpha;
    double *Z = malloc((size_t)N * n_in * sizeof(double)), *Tg = malloc((size_t)N * n_out * sizeof(double));
    double *A = malloc((size_t)n_in * n_in * sizeof(double)), *B = malloc((size_t)n_in * n_out * sizeof(double));
    double *A2 = malloc((size_t)n_in * n_in * sizeof(double)), *B2 = malloc((size_t)n_in * n_out * sizeof(double));
    double *zbar = calloc((size_t)n_in, sizeof(double)), *tbar = calloc((size_t)n_out, sizeof(double));
    int rc = 0;
    if (!Z || !Tg || !A || !B || !A2 || !B2 || !zbar || !tbar) {
        qins_log_error_at(__FILE__, __LINE__, __func__, "transport: out of memory for a %lld-row fit", (long long)N);
        rc = QINS_ERR_NOMEM;
        goto done;
    }
    encode_rows(t->s_in, n_in, a, t->p.in_bits, in->rows, N, Z);
    for (int64_t r = 0; r < N; r++) {
        const float *x = in->rows + (size_t)r * n_in;
        for (int i = 0; i < n_out; i++) {
            double y = 0;
            for (int j = 0; j < n_in; j++) y += (double)w[(size_t)i * n_in + j] * x[j];
            Tg[(size_t)r * n_out + i] = enc(y, t->s_out[i], a);
        }
    }
    // Centre so that the unpenalised bias drops out: b' = tbar - W' zbar.
    for (int64_t r = 0; r < N; r++) {
        for (int j = 0; j < n_in; j++) zbar[j] += Z[(size_t)r * n_in + j];
        for (int i = 0; i < n_out; i++) tbar[i] += Tg[(size_t)r * n_out + i];
    }
    for (int j = 0; j < n_in; j++) zbar[j] /= (double)N;
    for (int i = 0; i < n_out; i++) tbar[i] /= (double)N;
    for (int64_t r = 0; r < N; r++) {
        for (int j = 0; j < n_in; j++) Z[(size_t)r * n_in + j] -= zbar[j];
        for (int i = 0; i < n_out; i++) Tg[(size_t)r * n_out + i] -= tbar[i];
    }
    // Normal equations (Zc^T Zc + l I) X = Zc^T Tc, X = W'^T (n_in, n_out); Cholesky (LAPACK
    // dposv, column-major: A's row-major upper triangle is its column-major lower one, and B is
    // built as Tc^T Zc (n_out, n_in) row-major = X's right-hand side column-major).
    cblas_dsyrk(CblasRowMajor, CblasUpper, CblasTrans, n_in, (int)N, 1.0, Z, n_in, 0.0, A, n_in);
    cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, n_out, n_in, (int)N, 1.0, Tg, n_out, Z, n_in, 0.0, B, n_in);
    double tr = 0;
    for (int j = 0; j < n_in; j++) tr += A[(size_t)j * n_in + j];
    const double unit = tr > 0 ? tr / n_in : 1.0;
    double lambda = t->p.ridge * unit;
    int info = -1;
    // A singular system (constant channels, ridge 0) is retried with a growing ridge; the one
    // used is recorded so a fit never silently differs from what was asked.
    for (int attempt = 0; attempt < 6; attempt++) {
        memcpy(A2, A, (size_t)n_in * n_in * sizeof(double));
        memcpy(B2, B, (size_t)n_in * n_out * sizeof(double));
        for (int j = 0; j < n_in; j++) A2[(size_t)j * n_in + j] += lambda;
        const char uplo = 'L';
        dposv_(&uplo, &n_in, &n_out, A2, &n_in, B2, &n_in, &info);
        if (info == 0) break;
        qins_log(QINS_LOG_WARN, "transport: lstsq system not positive definite with ridge %g; retrying", lambda);
        lambda = lambda > 0 ? lambda * 100.0 : 1e-12 * unit;
    }
    if (info != 0) {
        qins_log_error_at(__FILE__, __LINE__, __func__, "transport: LAPACK dposv failed (info %d)", (int)info);
        rc = QINS_ERR_NUMERIC;
        goto done;
    }
    t->ridge_used = lambda;
    t->n_fit_rows = N;
    for (int i = 0; i < n_out; i++) {
        double bi = tbar[i];
        for (int j = 0; j < n_in; j++) {
            double wij = B2[(size_t)i * n_in + j];
            t->w[(size_t)i * n_in + j] = wij;
            bi -= wij * zbar[j];
        }
        t->b[i] = bi;
    }
done:
    free(Z), free(Tg), free(A), free(B), free(A2), free(B2), free(zbar), free(tbar);
    return rc;
}

int qins_transport_compute(const struct qins_transport_params *p, const float *w, int n_out, int n_in,
                           const struct qins_calib_stats *in, const struct qins_calib_stats *out,
                           struct qins_transport *t) {
    memset(t, 0, sizeof *t);
    QINS_TRY(qins_transport_params_validate(p));
    QINS_CHECK(w && n_out > 0 && n_in > 0 && in && in->dim == n_in && in->mean, QINS_ERR_ARG,
               "transport: weights (%d x %d) need finished input statistics of %d channels", n_out, n_in, n_in);
    QINS_CHECK(!out || (out->dim == n_out && out->mean), QINS_ERR_ARG,
               "transport: output statistics must be finished and have %d channels", n_out);
    t->p = *p;
    t->n_in = n_in;
    t->n_out = n_out;
    const size_t ni = (size_t)n_in, no = (size_t)n_out;
    t->w = malloc(no * ni * sizeof(double));
    t->b = calloc(no, sizeof(double));
    t->s_in = malloc(ni * sizeof(double));
    t->s_out = malloc(no * sizeof(double));
    if (!t->w || !t->b || !t->s_in || !t->s_out) {
        qins_transport_free(t);
        QINS_CHECK(0, QINS_ERR_NOMEM, "transport: out of memory for %d x %d", n_out, n_in);
    }
    for (int j = 0; j < n_in; j++) t->s_in[j] = channel_scale(p->in_scale == QINS_SCALE_ABSMAX ? in->absmax[j] : in->rms[j]);
    int rc = 0;
    if (out) {
        for (int i = 0; i < n_out; i++)
            t->s_out[i] = channel_scale(p->out_scale == QINS_SCALE_ABSMAX ? out->absmax[i] : out->rms[i]);
    } else {
        rc = scales_from_rows(w, n_out, n_in, in, p->out_scale, t->s_out);
        t->n_fit_rows = in->n_rows;
    }
    const double a = p->alpha;
    if (rc == 0 && (p->kind == QINS_TRANSPORT_LITERAL || p->kind == QINS_TRANSPORT_JACOBIAN)) {
        t->x_op = malloc(ni * sizeof(double));
        t->y_op = malloc(no * sizeof(double));
        if (!t->x_op || !t->y_op) {
            qins_log_error_at(__FILE__, __LINE__, __func__, "transport: out of memory");
            rc = QINS_ERR_NOMEM;
        }
    }
    if (rc == 0) switch (p->kind) {
        case QINS_TRANSPORT_NONE:
            for (size_t i = 0; i < no * ni; i++) t->w[i] = w[i];
            break;
        case QINS_TRANSPORT_LITERAL:
        case QINS_TRANSPORT_JACOBIAN:
            for (int j = 0; j < n_in; j++)
                t->x_op[j] = p->op == QINS_OP_MEAN     ? in->mean[j]
                             : p->op == QINS_OP_MEDIAN ? in->median[j]
                                                       : copysign(in->mean_abs[j], in->mean[j]);
            for (int i = 0; i < n_out; i++) {
                double y = 0;
                for (int j = 0; j < n_in; j++) y += (double)w[(size_t)i * n_in + j] * t->x_op[j];
                t->y_op[i] = y;
                const double zy = enc(y, t->s_out[i], a);
                // literal: D'(z^) W / E'(x^); jacobian: E'(y^) W / E'(x^) with the offset that makes
                // the map exact at the operating point.
                const double row = p->kind == QINS_TRANSPORT_LITERAL ? dec_deriv(zy, t->s_out[i], a)
                                                                     : enc_deriv(y, t->s_out[i], a);
                double bi = p->kind == QINS_TRANSPORT_JACOBIAN ? zy : 0.0;
                for (int j = 0; j < n_in; j++) {
                    double wij = row * (double)w[(size_t)i * n_in + j] / enc_deriv(t->x_op[j], t->s_in[j], a);
                    t->w[(size_t)i * n_in + j] = wij;
                    if (p->kind == QINS_TRANSPORT_JACOBIAN) bi -= wij * enc(t->x_op[j], t->s_in[j], a);
                }
                t->b[i] = bi;
            }
            break;
        case QINS_TRANSPORT_LSTSQ: rc = fit_lstsq(t, w, in); break;
        default: rc = QINS_ERR_ARG; break;
        }
    if (rc < 0) {
        qins_transport_free(t);
        return rc;
    }
    w_diagnostics(t);
    return 0;
}

void qins_transport_free(struct qins_transport *t) {
    if (!t) return;
    free(t->w), free(t->b), free(t->s_in), free(t->s_out), free(t->x_op), free(t->y_op);
    t->w = t->b = t->s_in = t->s_out = t->x_op = t->y_op = NULL;
}

int qins_transport_encoded_pair(const struct qins_transport *t, const float *w, const float *x, double *target,
                                double *pred) {
    const int n_in = t->n_in, n_out = t->n_out;
    double *z = malloc((size_t)n_in * sizeof(double));
    QINS_CHECK(z, QINS_ERR_NOMEM, "transport: out of memory");
    qins_transport_encode_row(t, x, z);
    for (int i = 0; i < n_out; i++) {
        double y = 0, p = t->b[i];
        for (int j = 0; j < n_in; j++) {
            y += (double)w[(size_t)i * n_in + j] * x[j];
            p += t->w[(size_t)i * n_in + j] * z[j];
        }
        target[i] = enc(y, t->s_out[i], t->p.alpha);
        pred[i] = p;
    }
    free(z);
    return 0;
}

int qins_transport_residual(const struct qins_transport *t, const float *w, const float *x, int64_t n, double *mse,
                            double *var) {
    QINS_CHECK(n > 0 && t->w, QINS_ERR_ARG, "transport residual: no rows or no transport");
    const int n_in = t->n_in, n_out = t->n_out;
    double *z = malloc((size_t)n_in * sizeof(double)), *tg = malloc((size_t)n * n_out * sizeof(double));
    if (!z || !tg) {
        free(z), free(tg);
        QINS_CHECK(0, QINS_ERR_NOMEM, "transport residual: out of memory");
    }
    double sse = 0;
    for (int64_t r = 0; r < n; r++) {
        const float *xr = x + (size_t)r * n_in;
        qins_transport_encode_row(t, xr, z);
        for (int i = 0; i < n_out; i++) {
            double y = 0, p = t->b[i];
            for (int j = 0; j < n_in; j++) {
                y += (double)w[(size_t)i * n_in + j] * xr[j];
                p += t->w[(size_t)i * n_in + j] * z[j];
            }
            const double target = enc(y, t->s_out[i], t->p.alpha), d = target - p;
            tg[(size_t)r * n_out + i] = target;
            sse += d * d;
        }
    }
    double sv = 0;
    for (int i = 0; i < n_out; i++) {
        double m = 0;
        for (int64_t r = 0; r < n; r++) m += tg[(size_t)r * n_out + i];
        m /= (double)n;
        for (int64_t r = 0; r < n; r++) sv += (tg[(size_t)r * n_out + i] - m) * (tg[(size_t)r * n_out + i] - m);
    }
    *mse = sse / (double)n;
    if (var) *var = sv / (double)n;
    free(z), free(tg);
    return 0;
}

// ---------------------------------------------------------------------------------------------
// the runtime

struct qins_transport_rt {
    int n_in, n_out, in_bits, out_bits;
    double alpha;
    double *w;            // (n_out, n_in) W' as stored (codec values), widened for dgemm
    double *b;            // (n_out) FP32-rounded
    double *s_in, *s_out; // FP32-representable scales
    double *z, *acc;      // (cap, n_in), (cap, n_out) scratch
    int cap;
    bool silu;            // outputs read from lut (out_silu) instead of decoded
    struct qins_silu_lut lut;
    struct qins_transport_slot_stats st;
};

int qins_transport_rt_init(const struct qins_transport *t, qins_transport_rt_t **out) {
    *out = NULL;
    QINS_CHECK(t && t->w, QINS_ERR_ARG, "transport runtime: no transport");
    const struct qins_codec_params *cp = &t->p.wcodec;
    const size_t ni = (size_t)t->n_in, no = (size_t)t->n_out, n = ni * no;
    struct qins_transport_rt *rt = calloc(1, sizeof *rt);
    float *wf = malloc(n * sizeof(float));
    uint8_t *enc_buf = NULL;
    int rc = 0;
    if (!rt || !wf) {
        free(rt), free(wf);
        QINS_CHECK(0, QINS_ERR_NOMEM, "transport runtime: out of memory");
    }
    rt->n_in = t->n_in;
    rt->n_out = t->n_out;
    rt->in_bits = t->p.in_bits;
    rt->out_bits = t->p.out_bits;
    rt->alpha = t->p.alpha;
    rt->w = malloc(n * sizeof(double));
    rt->b = malloc(no * sizeof(double));
    rt->s_in = malloc(ni * sizeof(double));
    rt->s_out = malloc(no * sizeof(double));
    if (!rt->w || !rt->b || !rt->s_in || !rt->s_out) {
        qins_log_error_at(__FILE__, __LINE__, __func__, "transport runtime: out of memory");
        rc = QINS_ERR_NOMEM;
        goto done;
    }
    for (size_t i = 0; i < n; i++) wf[i] = (float)t->w[i];
    size_t wbytes = n * sizeof(float);
    if (cp->codec != QINS_CODEC_FP32) {
        // Lossy or half formats: store W' with the codec; the values used are its decode.
        wbytes = qins_codec_encoded_bytes(cp, no, ni);
        enc_buf = malloc(wbytes ? wbytes : 1);
        if (!enc_buf) {
            rc = QINS_ERR_NOMEM;
            goto done;
        }
        rc = qins_codec_encode(cp, wf, no, ni, enc_buf, wbytes);
        if (rc == 0) rc = qins_codec_decode(cp, enc_buf, wbytes, no, ni, wf);
        if (rc < 0) {
            qins_log(QINS_LOG_ERROR, "transport runtime: W' cannot be stored with this codec (max |W'| %g)",
                     t->w_absmax);
            goto done;
        }
    }
    for (size_t i = 0; i < n; i++) rt->w[i] = wf[i];
    for (size_t i = 0; i < no; i++) rt->b[i] = (float)t->b[i];
    memcpy(rt->s_in, t->s_in, ni * sizeof(double));
    memcpy(rt->s_out, t->s_out, no * sizeof(double));
    rt->st.stored_bytes = wbytes + (no + ni + no) * sizeof(float);
    if (t->p.out_silu) {
        rt->silu = true;
        rc = qins_silu_lut_init(&rt->lut, t->p.out_bits, t->p.alpha, rt->s_out, t->n_out);
        rt->st.stored_bytes += rc == 0 ? qins_silu_lut_bytes(&rt->lut) : 0;
    }
done:
    free(wf);
    free(enc_buf);
    if (rc < 0) {
        qins_transport_rt_free(rt);
        return rc;
    }
    *out = rt;
    return 0;
}

int qins_transport_rt_apply(qins_transport_rt_t *rt, const float *x, int n_tok, float *y) {
    if (n_tok > rt->cap) {
        double *z = malloc((size_t)n_tok * rt->n_in * sizeof(double));
        double *acc = malloc((size_t)n_tok * rt->n_out * sizeof(double));
        if (!z || !acc) {
            free(z), free(acc);
            QINS_CHECK(0, QINS_ERR_NOMEM, "transport runtime: out of memory for %d tokens", n_tok);
        }
        free(rt->z), free(rt->acc);
        rt->z = z;
        rt->acc = acc;
        rt->cap = n_tok;
    }
    const int ni = rt->n_in, no = rt->n_out;
    encode_rows(rt->s_in, ni, rt->alpha, rt->in_bits, x, n_tok, rt->z);
    for (int t = 0; t < n_tok; t++) memcpy(rt->acc + (size_t)t * no, rt->b, (size_t)no * sizeof(double));
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n_tok, no, ni, 1.0, rt->z, ni, rt->w, ni, 1.0, rt->acc, no);
    uint64_t bad = 0;
    for (int t = 0; t < n_tok; t++)
        for (int i = 0; i < no; i++) {
            double z = rt->acc[(size_t)t * no + i];
            float v;
            if (rt->silu) { // the code indexes SiLU(D(z_code)) directly; counted as the output decode
                v = qins_silu_lut_get(&rt->lut, i, qins_transport_grid_code(z, rt->out_bits));
            } else {
                if (rt->out_bits) z = grid_round(z, rt->out_bits);
                v = (float)dec(z, rt->s_out[i], rt->alpha);
            }
            bad += !isfinite(v);
            y[(size_t)t * no + i] = v;
        }
    rt->st.calls++;
    rt->st.tokens += (uint64_t)n_tok;
    rt->st.encode_ops++;
    rt->st.encoded_elems += (uint64_t)n_tok * ni;
    rt->st.decode_ops++;
    rt->st.decoded_elems += (uint64_t)n_tok * no;
    rt->st.nonfinite_out += bad;
    return 0;
}

void qins_transport_rt_stats(const qins_transport_rt_t *rt, struct qins_transport_slot_stats *out) { *out = rt->st; }

void qins_transport_rt_free(qins_transport_rt_t *rt) {
    if (!rt) return;
    free(rt->w), free(rt->b), free(rt->s_in), free(rt->s_out), free(rt->z), free(rt->acc);
    qins_silu_lut_free(&rt->lut);
    free(rt);
}

// ---------------------------------------------------------------------------------------------
// the slot

static int transport_forward(struct qins_linear *lin, const float *x, int n_tok, float *y) {
    qins_transport_rt_t *rt = lin->impl_ctx;
    QINS_TRY(qins_transport_rt_apply(rt, x, n_tok, y));
    if (lin->counters) {
        lin->counters->weight_bytes_read += lin->w_stored_bytes;
        lin->counters->qins_encode_elems += (uint64_t)n_tok * lin->n_in;
        lin->counters->qins_decode_elems += (uint64_t)n_tok * lin->n_out;
        lin->counters->qins_decode_ops++;
    }
    return 0;
}

bool qins_transport_installed(const struct qins_linear *lin) { return lin->impl == transport_forward; }

int qins_transport_install(struct qins_linear *lin, const struct qins_transport *t) {
    QINS_CHECK(t && t->n_in == lin->n_in && t->n_out == lin->n_out, QINS_ERR_ARG,
               "transport: shape %d x %d does not match slot %s (%d x %d)", t ? t->n_out : 0, t ? t->n_in : 0,
               lin->name, lin->n_out, lin->n_in);
    qins_transport_uninstall(lin);
    QINS_CHECK(lin->impl == NULL, QINS_ERR_STATE, "transport: slot %s has another implementation; reset it first",
               lin->name);
    qins_transport_rt_t *rt;
    QINS_TRY(qins_transport_rt_init(t, &rt));
    lin->impl = transport_forward;
    lin->impl_ctx = rt;
    lin->w_stored_bytes = rt->st.stored_bytes;
    lin->silu_applied = t->p.out_silu;
    return 0;
}

void qins_transport_uninstall(struct qins_linear *lin) {
    if (lin->impl != transport_forward) return;
    qins_transport_rt_t *rt = lin->impl_ctx;
    lin->w_stored_bytes = qins_wmat_bytes(&lin->wm);
    qins_transport_rt_free(rt);
    lin->impl = NULL;
    lin->impl_ctx = NULL;
    lin->silu_applied = false;
}

int qins_transport_slot_stats(const struct qins_linear *lin, struct qins_transport_slot_stats *out) {
    QINS_CHECK(lin->impl == transport_forward, QINS_ERR_STATE, "transport: no transport on slot %s", lin->name);
    qins_transport_rt_stats(lin->impl_ctx, out);
    return 0;
}

int qins_model_set_v_transport(struct qins_model *m, const struct qins_calib *c, const struct qins_transport_params *p,
                               uint64_t layer_mask, struct qins_transport *ts) {
    for (int l = 0; l < m->hp.n_layer && l < 64; l++) {
        if (!(layer_mask >> l & 1)) continue;
        const struct qins_calib_stats *in = qins_calib_get(c, l, QINS_SITE_ATTN_IN), *out = qins_calib_get(c, l, QINS_SITE_V);
        QINS_CHECK(in, QINS_ERR_ARG, "transport: layer %d was not calibrated", l);
        QINS_TRY(qins_transport_set(&m->layers[l].wv, p, in, out, &ts[l]));
    }
    return 0;
}

int qins_transport_set(struct qins_linear *lin, const struct qins_transport_params *p, const struct qins_calib_stats *in,
                       const struct qins_calib_stats *out, struct qins_transport *t) {
    qins_transport_uninstall(lin);
    qins_transport_free(t);
    const float *w;
    QINS_TRY(qins_linear_weights_f32(lin, &w));
    QINS_TRY(qins_transport_compute(p, w, lin->n_out, lin->n_in, in, out, t));
    return qins_transport_install(lin, t);
}

void qins_model_reset_v_transport(struct qins_model *m) {
    for (int l = 0; l < m->hp.n_layer; l++) qins_transport_uninstall(&m->layers[l].wv);
}

// ---------------------------------------------------------------------------------------------
// evaluation against the FP32 slot

int qins_transport_eval(const struct qins_transport *t, const float *w, const float *x, int64_t n,
                        struct qins_transport_eval *out) {
    memset(out, 0, sizeof *out);
    QINS_CHECK(n > 0 && n <= INT32_MAX, QINS_ERR_ARG, "transport eval: %lld rows", (long long)n);
    const int ni = t->n_in, no = t->n_out;
    float *ref = malloc((size_t)n * no * sizeof(float)), *y = malloc((size_t)n * no * sizeof(float));
    qins_transport_rt_t *rt = NULL;
    int rc = ref && y ? qins_transport_rt_init(t, &rt) : QINS_ERR_NOMEM;
    if (rc == 0) {
        // The reference is exactly what the FP32 baseline slot computes (sgemm on the same rows).
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)n, no, ni, 1.0f, x, ni, w, ni, 0.0f, ref, no);
        if (t->p.out_silu) // what the FP32 layer computes from it (core/forward.c's SiLU)
            for (size_t i = 0; i < (size_t)n * no; i++) ref[i] = ref[i] / (1.0f + expf(-ref[i]));
        rc = qins_transport_rt_apply(rt, x, (int)n, y);
    }
    if (rc == 0) {
        out->rel_error = qins_rel_error(y, ref, n * no, &out->n_nonfinite);
        for (size_t i = 0; i < (size_t)n * no; i++)
            if (isfinite(y[i]) && fabs((double)y[i] - ref[i]) > out->max_abs_error)
                out->max_abs_error = fabs((double)y[i] - ref[i]);
        rc = qins_transport_residual(t, w, x, n, &out->z_mse, &out->z_var);
        out->n_rows = n;
    }
    if (rc == QINS_ERR_NOMEM && (!ref || !y)) qins_log(QINS_LOG_ERROR, "transport eval: out of memory");
    qins_transport_rt_free(rt);
    free(ref), free(y);
    return rc;
}

// ---------------------------------------------------------------------------------------------
// decode accounting from shapes

int qins_decode_tally(const struct qins_hparams *hp, int n_tok, bool v_path, bool with_output,
                      struct qins_decode_tally *out) {
    return qins_decode_tally_slots(hp, n_tok, v_path ? 1u << 2 : 0u, with_output, out);
}

// Weight elements (n_out x n_in) of slot index i of a layer (q,k,v,o,gate,up,down).
static uint64_t slot_elems(const struct qins_hparams *hp, int i) {
    const uint64_t E = (uint64_t)hp->n_embd, qd = (uint64_t)hp->n_head * hp->head_dim,
                   kvd = (uint64_t)hp->n_head_kv * hp->head_dim, F = (uint64_t)hp->n_ff;
    const uint64_t e[7] = {qd * E, kvd * E, kvd * E, E * qd, F * E, F * E, E * F};
    return e[i];
}

// Output width of slot index i.
static uint64_t slot_out(const struct qins_hparams *hp, int i) {
    const uint64_t E = (uint64_t)hp->n_embd, qd = (uint64_t)hp->n_head * hp->head_dim,
                   kvd = (uint64_t)hp->n_head_kv * hp->head_dim, F = (uint64_t)hp->n_ff;
    const uint64_t o[7] = {qd, kvd, kvd, E, F, F, E};
    return o[i];
}

int qins_decode_tally_slots(const struct qins_hparams *hp, int n_tok, unsigned pb_slots, bool with_output,
                            struct qins_decode_tally *out) {
    memset(out, 0, sizeof *out);
    QINS_CHECK(hp->n_layer > 0 && hp->n_embd > 0 && hp->n_head > 0 && hp->n_head_kv > 0 && hp->head_dim > 0 &&
                   hp->n_ff > 0 && n_tok > 0,
               QINS_ERR_ARG, "decode tally: bad shapes or %d tokens", n_tok);
    const uint64_t L = (uint64_t)hp->n_layer, T = (uint64_t)n_tok;
    // Pattern A: one decode of the whole weight per slot call. Pattern B: one encode of the
    // input block and one decode of the output block per call: the op count is the same.
    for (int i = 0; i < 7; i++) {
        const bool pb = pb_slots >> i & 1;
        const uint64_t ops = L, elems = pb ? L * T * slot_out(hp, i) : L * slot_elems(hp, i);
        out->decode_ops += ops, out->decoded_elems += elems;
        if (pb) out->encode_ops += L, out->encoded_elems += L * T * (slot_elems(hp, i) / slot_out(hp, i));
        if (i == 2) out->v_decode_ops = ops, out->v_decoded_elems = elems;
    }
    if (with_output) {
        out->decode_ops += 1;
        out->decoded_elems += (uint64_t)hp->n_vocab * hp->n_embd;
    }
    return 0;
}

double qins_matmul_flops_share(const struct qins_hparams *hp, unsigned pb_slots, int n_layers_on) {
    // FLOPs per token are 2 x the weight elements of every matmul; the 2 cancels.
    double total = (double)hp->n_vocab * hp->n_embd, on = 0;
    for (int i = 0; i < 7; i++) {
        total += (double)hp->n_layer * (double)slot_elems(hp, i);
        if (pb_slots >> i & 1) on += (double)n_layers_on * (double)slot_elems(hp, i);
    }
    return total > 0 ? on / total : 0;
}

void qins_hparams_phi35_mini(struct qins_hparams *hp) {
    // Shapes from Phi-3.5-mini-instruct's config (the accounting uses shapes only).
    *hp = (struct qins_hparams){.arch = QINS_ARCH_PHI3,
                                .n_layer = 32,
                                .n_embd = 3072,
                                .n_head = 32,
                                .n_head_kv = 32,
                                .head_dim = 96,
                                .n_ff = 8192,
                                .n_vocab = 32064,
                                .n_ctx_train = 131072,
                                .n_rot = 96,
                                .rms_eps = 1e-5f,
                                .rope_base = 10000.0f,
                                .rope_neox = true,
                                .sliding_window = 262144,
                                .n_ctx_orig = 4096,
                                .rope_attn_factor = 1.0f};
}
