// kernels/cpu/fused_huffman.c — Huffman-coded weights: per-tile encode and the decode-a-tile-
// then-GEMV product (kernels/fused_huffman.h).
#include "fused_huffman.h"

#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "huffman.h"

int qins_hmat_init(struct qins_hmat *h, const struct qins_codec_params *p, const uint8_t *enc, size_t enc_len,
                   int rows, int cols) {
    QINS_CHECK(h, QINS_ERR_ARG, "huffman weights: null output");
    memset(h, 0, sizeof *h);
    QINS_TRY(qins_cmat_init(&h->m, p, enc, enc_len, rows, cols));
    const size_t n = (size_t)rows * cols, nsym = (size_t)1 << p->bits;
    h->tile_rows = cols >= QINS_HUFF_TILE_CODES ? 1 : QINS_HUFF_TILE_CODES / cols;
    h->n_tiles = (rows + h->tile_rows - 1) / h->tile_rows;
    uint16_t *codes = malloc(n * sizeof *codes);
    h->offsets = calloc((size_t)h->n_tiles + 1, sizeof *h->offsets);
    int rc = codes && h->offsets ? 0 : QINS_ERR_NOMEM;
    if (rc == 0) rc = qins_codec_unpack_codes(p, enc, enc_len, rows, cols, codes);
    // two passes: sizes, then the streams into one allocation
    for (int t = 0; rc == 0 && t < h->n_tiles; t++) {
        const size_t r0 = (size_t)t * h->tile_rows, nr = rows - r0 < (size_t)h->tile_rows ? rows - r0 : (size_t)h->tile_rows;
        size_t len = 0;
        rc = qins_huffman_encode(codes + r0 * cols, nr * cols, nsym, 0, NULL, 0, &len);
        h->offsets[t + 1] = h->offsets[t] + len;
    }
    if (rc == 0 && !(h->streams = malloc(h->offsets[h->n_tiles] ? h->offsets[h->n_tiles] : 1))) rc = QINS_ERR_NOMEM;
    for (int t = 0; rc == 0 && t < h->n_tiles; t++) {
        const size_t r0 = (size_t)t * h->tile_rows, nr = rows - r0 < (size_t)h->tile_rows ? rows - r0 : (size_t)h->tile_rows;
        size_t len = 0;
        rc = qins_huffman_encode(codes + r0 * cols, nr * cols, nsym, 0, h->streams + h->offsets[t],
                                 h->offsets[t + 1] - h->offsets[t], &len);
    }
    free(codes);
    if (rc < 0) {
        qins_hmat_free(h);
        if (rc == QINS_ERR_NOMEM) qins_log_error_at(__FILE__, __LINE__, __func__, "huffman weights: out of memory");
        return rc;
    }
    h->m.codes = NULL, h->m.codes_bytes = 0;
    h->stored_bytes = 2 * h->m.n_groups + ((size_t)h->n_tiles + 1) * sizeof *h->offsets + h->offsets[h->n_tiles];
    return 0;
}

void qins_hmat_free(struct qins_hmat *h) {
    if (!h) return;
    qins_cmat_free(&h->m);
    free(h->streams);
    free(h->offsets);
    h->streams = NULL;
    h->offsets = NULL;
}

// Tiles t0..t1 on one thread with its own buffer. Returns 0 or QINS_ERR_FORMAT.
static int tiles(const struct qins_hmat *h, const float *x, float *y, int t0, int t1, uint16_t *buf) {
    const qins_cmat_rows16_fn f = qins_cmat_rows16_kernel(&h->m);
    for (int t = t0; t < t1; t++) {
        const int r0 = t * h->tile_rows, nr = h->m.rows - r0 < h->tile_rows ? h->m.rows - r0 : h->tile_rows;
        const size_t want = (size_t)nr * h->m.cols;
        size_t got = 0;
        QINS_TRY(qins_huffman_decode(h->streams + h->offsets[t], h->offsets[t + 1] - h->offsets[t], buf, want, &got));
        QINS_CHECK(got == want, QINS_ERR_FORMAT, "huffman weights: tile %d holds %zu codes, expected %zu", t, got, want);
        f(&h->m, buf, x, y, r0, nr);
    }
    return 0;
}

int qins_hmat_gemv(const struct qins_hmat *h, const float *x, float *y) {
    // + 16: the kernels read whole vectors of codes; the lanes past a row are masked out
    const size_t buf_n = (size_t)h->tile_rows * h->m.cols + 16;
    const int nt = omp_get_max_threads();
    if (nt <= 1 || h->n_tiles == 1 || omp_in_parallel()) {
        uint16_t *buf = calloc(buf_n, sizeof *buf);
        QINS_CHECK(buf, QINS_ERR_NOMEM, "huffman weights: out of memory for a tile");
        const int rc = tiles(h, x, y, 0, h->n_tiles, buf);
        free(buf);
        return rc;
    }
    int rc = 0;
#pragma omp parallel num_threads(nt) reduction(min : rc)
    {
        const int t = omp_get_thread_num(), n = omp_get_num_threads();
        const int t0 = (int)((long)h->n_tiles * t / n), t1 = (int)((long)h->n_tiles * (t + 1) / n);
        uint16_t *buf = calloc(buf_n, sizeof *buf);
        rc = buf ? (t1 > t0 ? tiles(h, x, y, t0, t1, buf) : 0) : QINS_ERR_NOMEM;
        free(buf);
    }
    QINS_CHECK(rc == 0, rc, "huffman weights: GEMV failed (%s)", qins_status_str(rc));
    return 0;
}
