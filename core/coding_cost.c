// core/coding_cost.c — stored size and decode throughput of each coding of a code stream
// (core/coding_cost.h).
#include "coding_cost.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "entropy.h"
#include "huffman.h"
#include "pack.h"
#include "zstd_anchor.h"

// n = rows*cols, refused when empty (a stream of no codes has no bits per value) or when the
// 4-byte FP32 output of it would not fit in a size_t.
static int count_codes(size_t rows, size_t cols, size_t *n) {
    QINS_CHECK(rows > 0 && cols > 0, QINS_ERR_ARG, "coding_cost: empty block %zu x %zu", rows, cols);
    QINS_CHECK(rows <= SIZE_MAX / 4 / cols, QINS_ERR_RANGE, "coding_cost: block %zu x %zu too large", rows, cols);
    *n = rows * cols;
    return QINS_OK;
}

// Bytes per code in the stream zstd sees: one for k <= 8, two (little-endian) for wider codes.
static size_t code_width(int bits) { return bits <= 8 ? 1 : 2; }

// The codes as the byte stream zstd compresses (malloc'd into *out, code_width(bits) * n bytes).
static int code_bytes(const uint16_t *codes, size_t n, int bits, uint8_t **out) {
    const size_t w = code_width(bits);
    *out = malloc(w * n);
    QINS_CHECK(*out, QINS_ERR_NOMEM, "coding_cost: no memory for %zu code bytes", w * n);
    for (size_t i = 0; i < n; i++) {
        (*out)[w * i] = (uint8_t)codes[i];
        if (w == 2) (*out)[2 * i + 1] = (uint8_t)(codes[i] >> 8);
    }
    return QINS_OK;
}

// The inverse of code_bytes.
static void codes_from_bytes(const uint8_t *b, size_t n, int bits, uint16_t *codes) {
    if (code_width(bits) == 1) {
        for (size_t i = 0; i < n; i++) codes[i] = b[i];
    } else {
        for (size_t i = 0; i < n; i++) codes[i] = (uint16_t)(b[2 * i] | (b[2 * i + 1] << 8));
    }
}

static int zstd_sizes(const uint16_t *codes, size_t n, int bits, uint64_t *z3, uint64_t *z19) {
    uint8_t *b;
    QINS_TRY(code_bytes(codes, n, bits, &b));
    size_t s3 = 0, s19 = 0;
    int rc = qins_zstd_size(b, code_width(bits) * n, 3, &s3);
    if (rc == 0) rc = qins_zstd_size(b, code_width(bits) * n, 19, &s19);
    free(b);
    *z3 = s3, *z19 = s19;
    return rc;
}

int qins_coding_sizes(const uint16_t *codes, size_t rows, size_t cols, int bits, uint64_t scale_bytes,
                      int with_zstd, struct qins_coding_sizes *out) {
    QINS_CHECK(out, QINS_ERR_ARG, "coding_cost: null output");
    memset(out, 0, sizeof *out);
    QINS_CHECK(codes, QINS_ERR_ARG, "coding_cost: null codes");
    QINS_CHECK(bits >= 1 && bits <= 16, QINS_ERR_ARG, "coding_cost: %d-bit codes (1..16 allowed)", bits);
    size_t n;
    QINS_TRY(count_codes(rows, cols, &n));
    const size_t nsym = (size_t)1 << bits;
    // The histogram pass also rejects a code >= 2^bits before anything is coded.
    uint64_t *hist = calloc(nsym, sizeof *hist);
    QINS_CHECK(hist, QINS_ERR_NOMEM, "coding_cost: no memory for a %zu-bin histogram", nsym);
    const int rc = qins_entropy_histogram(codes, n, hist, nsym);
    if (rc == 0) out->entropy = qins_entropy_bits(hist, nsym);
    free(hist);
    QINS_TRY(rc);
    out->n = n, out->bits = bits, out->scale_bytes = scale_bytes;
    out->bitpack_bytes = qins_pack_bytes(n, bits) + scale_bytes;
    size_t len;
    QINS_TRY(qins_huffman_encode(codes, n, nsym, 0, NULL, 0, &len));
    out->huffman_bytes = len + scale_bytes;
    QINS_TRY(qins_huffman_encode(codes, n, nsym, 1, NULL, 0, &len));
    out->rle_huffman_bytes = len + scale_bytes;
    // Per-row tables: each row pays its own header and code-length table (a per-channel coder).
    // One row is the single stream already sized.
    uint64_t rows_total = rows == 1 ? out->huffman_bytes : scale_bytes;
    for (size_t r = 0; r < rows && rows > 1; r++) {
        QINS_TRY(qins_huffman_encode(codes + r * cols, cols, nsym, 0, NULL, 0, &len));
        rows_total += len;
    }
    out->huffman_rows_bytes = rows_total;
    if (with_zstd) {
        QINS_TRY(zstd_sizes(codes, n, bits, &out->zstd3_bytes, &out->zstd19_bytes));
        out->zstd3_bytes += scale_bytes, out->zstd19_bytes += scale_bytes;
    }
    return QINS_OK;
}

double qins_coding_bits_per_value(uint64_t bytes, uint64_t n) {
    return n ? 8.0 * (double)bytes / (double)n : NAN;
}

// ---- decode throughput

const char *qins_decode_name(int which) {
    static const char *const names[QINS_DECODE_COUNT] = {"bitpack_lut", "huffman", "rle_huffman", "zstd3"};
    return which >= 0 && which < QINS_DECODE_COUNT ? names[which] : "?";
}

// Every coded form of one block, built once before anything is timed.
struct forms {
    const struct qins_codec_params *p;
    size_t rows, cols, n, ng;
    uint8_t *enc;           // qins_codec_encode's block
    size_t enc_len;
    uint16_t *codes;        // qins_codec_quantize's codes ...
    float *scales;          // ... and scales (ng), then extras (ng, QINS_LOG)
    const float *extra;     // scales + ng for QINS_LOG, NULL for the codecs without extras
    uint8_t *huff[2];       // Huffman streams: plain, RLE
    size_t huff_len[2];
    void *zframe;           // zstd-3 frame of code_bytes(codes)
    size_t zlen;
    uint8_t *zbytes;        // decompression target
    uint16_t *back;         // codes decoded from a Huffman stream or the zstd bytes
    float *ref;             // qins_codec_decode's output: what every form must reproduce
};

static void forms_free(struct forms *f) {
    free(f->enc), free(f->codes), free(f->scales), free(f->huff[0]), free(f->huff[1]);
    free(f->zframe), free(f->zbytes), free(f->back), free(f->ref);
}

static int huffman_form(struct forms *f, int rle) {
    const size_t nsym = (size_t)1 << f->p->bits;
    QINS_TRY(qins_huffman_encode(f->codes, f->n, nsym, rle, NULL, 0, &f->huff_len[rle]));
    f->huff[rle] = malloc(f->huff_len[rle]);
    QINS_CHECK(f->huff[rle], QINS_ERR_NOMEM, "coding_cost: no memory for a %zu-byte Huffman stream", f->huff_len[rle]);
    return qins_huffman_encode(f->codes, f->n, nsym, rle, f->huff[rle], f->huff_len[rle], &f->huff_len[rle]);
}

static int forms_build(struct forms *f, const float *x) {
    const struct qins_codec_params *p = f->p;
    f->enc_len = qins_codec_encoded_bytes(p, f->rows, f->cols);
    f->ng = qins_codec_n_groups(p, f->rows, f->cols);
    f->enc = malloc(f->enc_len);
    f->codes = malloc(f->n * sizeof *f->codes);
    f->scales = calloc(2 * f->ng + 1, sizeof *f->scales);
    f->zbytes = malloc(code_width(p->bits) * f->n);
    f->back = malloc(f->n * sizeof *f->back);
    f->ref = malloc(f->n * sizeof *f->ref);
    QINS_CHECK(f->enc && f->codes && f->scales && f->zbytes && f->back && f->ref, QINS_ERR_NOMEM,
               "coding_cost: no memory for the coded forms of %zu values", f->n);
    QINS_TRY(qins_codec_encode(p, x, f->rows, f->cols, f->enc, f->enc_len));
    QINS_TRY(qins_codec_decode(p, f->enc, f->enc_len, f->rows, f->cols, f->ref));
    QINS_TRY(qins_codec_quantize(p, x, f->rows, f->cols, f->codes, f->scales, f->scales + f->ng));
    f->extra = p->codec == QINS_CODEC_QINS_LOG ? f->scales + f->ng : NULL;
    QINS_TRY(huffman_form(f, 0));
    QINS_TRY(huffman_form(f, 1));
    uint8_t *b;
    QINS_TRY(code_bytes(f->codes, f->n, p->bits, &b));
    const int rc = qins_zstd_compress(b, code_width(p->bits) * f->n, 3, &f->zframe, &f->zlen);
    free(b);
    return rc;
}

// One decode of form `which` into y (QINS_DECODE_COUNT: the memcpy baseline).
static int decode_once(const struct forms *f, int which, float *y) {
    const struct qins_codec_params *p = f->p;
    size_t got;
    switch (which) {
    case QINS_DECODE_BITPACK_LUT:
        return qins_codec_decode(p, f->enc, f->enc_len, f->rows, f->cols, y);
    case QINS_DECODE_HUFFMAN:
    case QINS_DECODE_RLE_HUFFMAN: {
        const int rle = which == QINS_DECODE_RLE_HUFFMAN;
        QINS_TRY(qins_huffman_decode(f->huff[rle], f->huff_len[rle], f->back, f->n, &got));
        QINS_CHECK(got == f->n, QINS_ERR_STATE, "coding_cost: %s stream decoded %zu of %zu codes",
                   qins_decode_name(which), got, f->n);
        break;
    }
    case QINS_DECODE_ZSTD3:
        QINS_TRY(qins_zstd_decompress(f->zframe, f->zlen, f->zbytes, code_width(p->bits) * f->n));
        codes_from_bytes(f->zbytes, f->n, p->bits, f->back);
        break;
    default:
        memcpy(y, f->ref, f->n * sizeof *y);
        return QINS_OK;
    }
    return qins_codec_dequantize(p, f->back, f->scales, f->extra, f->rows, f->cols, y);
}

// Best-of-reps GB/s of FP32 output for one form, then the check that its last output is the
// reference bit for bit. y starts as all-ones bits (a NaN the reference never holds), so a path
// that writes nothing cannot pass.
static int time_form(const struct forms *f, int which, int reps, float *y, double *gbps) {
    memset(y, 0xff, f->n * sizeof *y);
    double best = INFINITY;
    for (int r = 0; r < reps; r++) {
        const double t0 = qins_time_now();
        QINS_TRY(decode_once(f, which, y));
        const double dt = qins_time_now() - t0;
        best = dt < best ? dt : best;
    }
    const char *name = which == QINS_DECODE_COUNT ? "memcpy" : qins_decode_name(which);
    for (size_t i = 0; i < f->n; i++)
        QINS_CHECK(memcmp(&y[i], &f->ref[i], sizeof *y) == 0, QINS_ERR_STATE,
                   "coding_cost: %s decode differs from qins_codec_decode at value %zu of %zu (%g vs %g)", name, i,
                   f->n, (double)y[i], (double)f->ref[i]);
    // A clock tick below 1 ns would read as infinite speed; 1 ns is the floor of what is measured.
    *gbps = 4.0 * (double)f->n / (best > 1e-9 ? best : 1e-9) / 1e9;
    return QINS_OK;
}

int qins_decode_speed(const struct qins_codec_params *p, const float *x, size_t rows, size_t cols, int reps,
                      struct qins_decode_speed *out) {
    QINS_CHECK(out, QINS_ERR_ARG, "coding_cost: null output");
    memset(out, 0, sizeof *out);
    QINS_CHECK(p && x, QINS_ERR_ARG, "coding_cost: null codec or values");
    QINS_TRY(qins_codec_validate(p));
    char name[32];
    QINS_CHECK(qins_codec_is_lossy(p), QINS_ERR_ARG, "coding_cost: %s has no k-bit codes to entropy-code",
               qins_codec_name(p, name, sizeof name));
    QINS_CHECK(reps >= 1, QINS_ERR_ARG, "coding_cost: %d repetitions", reps);
    struct forms f = {.p = p, .rows = rows, .cols = cols};
    QINS_TRY(count_codes(rows, cols, &f.n));
    float *y = malloc(f.n * sizeof *y);
    int rc = y ? forms_build(&f, x) : QINS_ERR_NOMEM;
    if (!y) qins_log(QINS_LOG_ERROR, "coding_cost: no memory for %zu output values", f.n);
    for (int w = 0; w < QINS_DECODE_COUNT && rc == 0; w++) rc = time_form(&f, w, reps, y, &out->gbps[w]);
    if (rc == 0) rc = time_form(&f, QINS_DECODE_COUNT, reps, y, &out->memcpy_gbps);
    free(y);
    forms_free(&f);
    if (rc < 0) {
        memset(out, 0, sizeof *out);
        return rc;
    }
    out->n = f.n;
    return QINS_OK;
}
