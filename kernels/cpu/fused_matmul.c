// kernels/cpu/fused_matmul.c — fused codec GEMV/GEMM (kernels/fused_matmul.h): the descriptor,
// the scalar references, the scalar path, the ISA and LUT-mode dispatch, the OpenMP row split
// and the tiled GEMM over OpenBLAS.
#include "fused_matmul.h"

#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "cpu_features.h"

// ---- the descriptor

int qins_cmat_supported(const struct qins_codec_params *p) {
    return p && qins_codec_validate(p) == 0 &&
           (p->codec == QINS_CODEC_INT || p->codec == QINS_CODEC_NF || p->codec == QINS_CODEC_QINS) &&
           (p->bits == 4 || p->bits == 6 || p->bits == 8) && p->granularity != QINS_GRAN_PER_COLUMN;
}

static void build_unpack_tables(struct qins_cmat *m) {
    const int k = m->k;
    for (int s = 0; s < 8; s++)
        for (int j = 0; j < 16; j++) {
            const int bit = s + j * k, off = bit / 8, sh = bit % 8;
            uint8_t *c = m->shuf[s] + 4 * j;
            c[0] = (uint8_t)off;
            c[1] = sh + k > 8 ? (uint8_t)(off + 1) : 0x80; // 0x80: pshufb writes a zero byte
            c[2] = c[3] = 0x80;
            m->shift[s][j] = sh;
        }
}

int qins_cmat_init(struct qins_cmat *m, const struct qins_codec_params *p, const uint8_t *enc, size_t enc_len,
                   int rows, int cols) {
    memset(m, 0, sizeof *m);
    QINS_TRY(qins_codec_validate(p));
    char name[32], gran[32];
    QINS_CHECK(qins_cmat_supported(p), QINS_ERR_UNSUPPORTED,
               "fused kernels: %s with %s scales not handled (INT/NF/QINS at k = 4, 6, 8; per tensor, row or group)",
               qins_codec_name(p, name, sizeof name), qins_codec_granularity_name(p, gran, sizeof gran));
    QINS_CHECK(rows > 0 && cols > 0, QINS_ERR_ARG, "fused kernels: bad shape %d x %d", rows, cols);
    const size_t need = qins_codec_encoded_bytes(p, (size_t)rows, (size_t)cols);
    QINS_CHECK(enc && enc_len == need, QINS_ERR_FORMAT, "fused kernels: encoded block is %zu bytes, expected %zu",
               enc_len, need);
    m->p = *p;
    m->rows = rows, m->cols = cols, m->k = p->bits;
    m->n_groups = qins_codec_n_groups(p, (size_t)rows, (size_t)cols);
    m->codes = enc + 2 * m->n_groups;
    m->codes_bytes = enc_len - 2 * m->n_groups;
    m->enc_bytes = enc_len;
    m->seg = p->granularity == QINS_GRAN_PER_GROUP && p->group_size < cols ? p->group_size : cols;
    m->scale_stride = p->granularity == QINS_GRAN_PER_TENSOR ? 0
                      : p->granularity == QINS_GRAN_PER_ROW  ? 1
                                                             : (cols + p->group_size - 1) / p->group_size;
    m->lut = qins_alloc_aligned(((size_t)1 << m->k) * sizeof(float));
    m->scales = malloc(m->n_groups * sizeof(float));
    if (!m->lut || !m->scales) {
        qins_cmat_free(m);
        QINS_CHECK(0, QINS_ERR_NOMEM, "fused kernels: out of memory for %zu scales", m->n_groups);
    }
    int rc = qins_codec_lut(p, 0, m->lut);
    for (size_t g = 0; rc == 0 && g < m->n_groups; g++) {
        m->scales[g] = qins_fp16_to_f32((uint16_t)(enc[2 * g] | enc[2 * g + 1] << 8));
        if (!(isfinite(m->scales[g]) && m->scales[g] >= 0)) {
            qins_log_error_at(__FILE__, __LINE__, __func__, "fused kernels: group %zu: stored scale %g invalid", g,
                              (double)m->scales[g]);
            rc = QINS_ERR_FORMAT;
        }
    }
    if (rc < 0) {
        qins_cmat_free(m);
        return rc;
    }
    build_unpack_tables(m);
    return 0;
}

void qins_cmat_free(struct qins_cmat *m) {
    if (!m) return;
    free(m->lut);
    free(m->scales);
    m->lut = NULL;
    m->scales = NULL;
}

// ---- scalar code access, the references

// Code i of the stream (bit i*k; k <= 8 spans at most two bytes; never reads past the end).
static inline unsigned code_at(const struct qins_cmat *m, size_t i) {
    const size_t bit = i * (size_t)m->k, byte = bit / 8;
    unsigned v = m->codes[byte];
    if (byte + 1 < m->codes_bytes) v |= (unsigned)m->codes[byte + 1] << 8;
    return (v >> (bit & 7)) & ((1u << m->k) - 1);
}

static inline float scale_at(const struct qins_cmat *m, int r, int c) {
    return m->scales[(size_t)r * m->scale_stride + (size_t)(c / m->seg)];
}

void qins_cmat_decode_ref(const struct qins_cmat *m, int r0, int n_rows, int c0, int n_cols, float *out, size_t ld) {
    for (int r = r0; r < r0 + n_rows; r++)
        for (int c = c0; c < c0 + n_cols; c++)
            out[(size_t)(r - r0) * ld + (c - c0)] = m->lut[code_at(m, (size_t)r * m->cols + c)] * scale_at(m, r, c);
}

void qins_cmat_gemv_ref(const struct qins_cmat *m, const float *x, float *y) {
    for (int r = 0; r < m->rows; r++) {
        double s = 0;
        for (int c = 0; c < m->cols; c++)
            s += (double)(m->lut[code_at(m, (size_t)r * m->cols + c)] * scale_at(m, r, c)) * x[c];
        y[r] = (float)s;
    }
}

double qins_cmat_worst_rel(const struct qins_cmat *m, const float *x, const float *y, const float *ref) {
    double worst = 0;
    for (int r = 0; r < m->rows; r++) {
        double mag = 0;
        for (int c = 0; c < m->cols; c++)
            mag += fabs((double)(m->lut[code_at(m, (size_t)r * m->cols + c)] * scale_at(m, r, c)) * x[c]);
        const double e = fabs((double)y[r] - ref[r]) / (mag > 0 ? mag : 1);
        if (e > worst) worst = e;
    }
    return worst;
}

// ---- the scalar path (CPUs without AVX2): the SIMD kernels' structure with FP32 sums

static void rows_scalar(const struct qins_cmat *m, const float *x, float *y, int r0, int n) {
    for (int r = r0; r < r0 + n; r++) {
        const size_t first = (size_t)r * m->cols;
        float racc = 0;
        for (int c0 = 0; c0 < m->cols; c0 += m->seg) {
            const int stop = m->cols - c0 < m->seg ? m->cols : c0 + m->seg;
            float s = 0;
            for (int c = c0; c < stop; c++) s += m->lut[code_at(m, first + c)] * x[c];
            racc += scale_at(m, r, c0) * s;
        }
        y[r] = racc;
    }
}

static void span_scalar(const struct qins_cmat *m, int r, int c0, int n, float *out) {
    for (int c = c0; c < c0 + n; c++) out[c - c0] = m->lut[code_at(m, (size_t)r * m->cols + c)] * scale_at(m, r, c);
}

static void rows16_scalar(const struct qins_cmat *m, const uint16_t *codes, const float *x, float *y, int r0, int n) {
    const unsigned mask = (1u << m->k) - 1;
    for (int r = r0; r < r0 + n; r++) {
        const uint16_t *cr = codes + (size_t)(r - r0) * m->cols;
        float racc = 0;
        for (int c0 = 0; c0 < m->cols; c0 += m->seg) {
            const int stop = m->cols - c0 < m->seg ? m->cols : c0 + m->seg;
            float s = 0;
            for (int c = c0; c < stop; c++) s += m->lut[cr[c] & mask] * x[c];
            racc += scale_at(m, r, c0) * s;
        }
        y[r] = racc;
    }
}

// ---- dispatch

static int have_vbmi(void) {
    struct qins_cpu_features f;
    qins_cpu_features_get(&f);
    return f.avx512vbmi;
}

static enum qins_fused_lut lut_requested = QINS_FUSED_LUT_AUTO;
void qins_fused_set_lut(enum qins_fused_lut mode) { lut_requested = mode; }

// The faster LUT read per ISA and k, measured (GEMV of a cache-resident 256 x 3072 QINS weight,
// per-row scales, 1 thread, "Intel(R) Xeon(R) Processor" with AVX-512 VBMI, in G codes/s; the
// machine was shared, so pairs were timed back to back):
//   AVX-512 k = 6: permutes 6-8 (2 vpermi2ps + 1 blend), gather 2.5-3.8;
//           k = 8: byte-plane vpermt2b (VBMI) 5.0-5.4, gather 2.5-4.4; an FP32 tree of 8
//                  vpermi2ps + 7 blends gave 3.3, slower than the gather, and was dropped;
//   AVX2    k = 6: permutes 1.2 (8 vpermps + 7 blendv: the 8 table registers spill), gather 3.3;
//           k = 8: gather 3.8 (no permute variant: 32 table registers do not exist).
// (k = 4 always permutes: one vpermps on AVX-512, about 10 G codes/s; two + blendv on AVX2, 4.7.)
static enum qins_fused_lut lut_auto(enum qins_isa isa, int k) {
    return isa >= QINS_ISA_AVX512 && (k == 6 || have_vbmi()) ? QINS_FUSED_LUT_PERMUTE : QINS_FUSED_LUT_GATHER;
}

enum qins_fused_lut qins_fused_lut_in_use(int k) {
    const enum qins_isa isa = qins_matmul_isa();
    if (k == 4) return QINS_FUSED_LUT_PERMUTE;
    if (isa == QINS_ISA_SCALAR) return QINS_FUSED_LUT_GATHER; // a table read, what gather is
    if (isa == QINS_ISA_AVX2 && k == 8) return QINS_FUSED_LUT_GATHER;
    if (k == 8 && !have_vbmi()) return QINS_FUSED_LUT_GATHER;
    return lut_requested == QINS_FUSED_LUT_AUTO ? lut_auto(isa, k) : lut_requested;
}

static const struct qins_fused_isa_kernels *isa_kernels(void) {
    switch (qins_matmul_isa()) {
    case QINS_ISA_AVX512_VNNI: // nothing VNNI-specific among the codec kernels
    case QINS_ISA_AVX512: return &qins_fused_avx512;
    case QINS_ISA_AVX2: return &qins_fused_avx2;
    default: return NULL;
    }
}

// The permute kernel for k index ki, or NULL where this ISA/CPU has none.
static qins_cmat_rows_fn perm_kernel(const struct qins_fused_isa_kernels *k, int ki) {
    return k->perm_needs_vbmi[ki] && !have_vbmi() ? NULL : k->rows_perm[ki];
}

static qins_cmat_rows_fn rows_fn(const struct qins_cmat *m) {
    const struct qins_fused_isa_kernels *k = isa_kernels();
    if (!k) return rows_scalar;
    const int ki = m->k / 2 - 2;
    const qins_cmat_rows_fn f = qins_fused_lut_in_use(m->k) == QINS_FUSED_LUT_GATHER ? k->rows_gather[ki] : perm_kernel(k, ki);
    return f ? f : perm_kernel(k, ki) ? perm_kernel(k, ki) : k->rows_gather[ki];
}

qins_cmat_rows16_fn qins_cmat_rows16_kernel(const struct qins_cmat *m) {
    const struct qins_fused_isa_kernels *k = isa_kernels();
    return k ? k->rows16[m->k / 2 - 2] : rows16_scalar;
}

void qins_cmat_decode(const struct qins_cmat *m, int r0, int n_rows, int c0, int n_cols, float *out, size_t ld) {
    const struct qins_fused_isa_kernels *k = isa_kernels();
    const qins_cmat_span_fn span = k ? k->span[m->k / 2 - 2] : span_scalar;
    for (int r = 0; r < n_rows; r++) span(m, r0 + r, c0, n_cols, out + (size_t)r * ld);
}

// ---- GEMV

void qins_cmat_gemv_rows(const struct qins_cmat *m, const float *x, float *y, int r0, int n) {
    rows_fn(m)(m, x, y, r0, n);
}

// Below this many encoded bytes a parallel region costs more than the second thread gives
// (the same threshold as qins_gemv).
#define FUSED_PARALLEL_BYTES (256u << 10)

void qins_cmat_gemv(const struct qins_cmat *m, const float *x, float *y) {
    const int nt = omp_get_max_threads();
    const qins_cmat_rows_fn f = rows_fn(m);
    if (nt <= 1 || omp_in_parallel() || m->enc_bytes < FUSED_PARALLEL_BYTES) {
        f(m, x, y, 0, m->rows);
        return;
    }
#pragma omp parallel num_threads(nt)
    {
        const int t = omp_get_thread_num(), n = omp_get_num_threads();
        const int r0 = (int)((long)m->rows * t / n), r1 = (int)((long)m->rows * (t + 1) / n);
        if (r1 > r0) f(m, x, y, r0, r1 - r0);
    }
}

// ---- GEMM

static void cmat_tile(const void *m, int r0, int n_rows, int c0, int n_cols, float *out, size_t ld) {
    qins_cmat_decode(m, r0, n_rows, c0, n_cols, out, ld);
}

// a tile decoded once into a cache-resident buffer serves the whole batch (kernels/matmul.h's driver)
int qins_cmat_gemm(const struct qins_cmat *m, const float *x, int n_tok, float *y) {
    return qins_gemm_tiled(m, m->rows, m->cols, cmat_tile, x, n_tok, y, "fused gemm");
}

int qins_cmat_matmul(const struct qins_cmat *m, const float *x, int n_tok, float *y) {
    if (n_tok > 1) return qins_cmat_gemm(m, x, n_tok, y);
    qins_cmat_gemv(m, x, y);
    return 0;
}
