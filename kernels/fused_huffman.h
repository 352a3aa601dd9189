// kernels/fused_huffman.h — the GEMV on Huffman-coded weights (phase 3's cold path): the codes
// of a codec-encoded weight (kernels/fused_matmul.h's codecs) re-coded per row tile, and y = W·x
// by decoding one tile's codes into an L1-sized uint16 buffer, then the fused GEMV on it.
// Owns: the tiled stream layout below, its encode and the tile-by-tile GEMV. Does not own: the
// Huffman format (core/huffman.h) or the LUT/scale handling (qins_cmat). Errors: negative
// qins_status + a log line (UNSUPPORTED as qins_cmat_init, FORMAT for a corrupt stream, NOMEM).
//
// Layout: rows are cut into tiles of tile_rows rows (the last may be shorter), tile_rows =
// max(1, QINS_HUFF_TILE_CODES / cols); tile t's rows*cols codes (row-major) are one plain
// core/huffman.h stream over the 2^k-symbol alphabet, its own length table included; the
// streams lie back to back in `streams`, tile t at offsets[t] .. offsets[t+1]. Scales stay the
// codec's FP16 scales. Stored bytes = FP16 scales + 8-byte offsets + streams.
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "fused_matmul.h"

// Codes per tile: 16 KiB of uint16 codes, beside up to 32 KiB of x in a 48 KiB L1d.
#define QINS_HUFF_TILE_CODES 8192

struct qins_hmat {
    struct qins_cmat m;  // LUT, scales and shape; m.codes is NULL (the packed codes are not kept)
    int tile_rows, n_tiles;
    uint8_t *streams;    // the tiles' Huffman streams, back to back (owned)
    uint64_t *offsets;   // (n_tiles + 1) byte offsets into streams (owned)
    size_t stored_bytes; // what one pass over the weight reads
};

// Re-codes the weight encoded in enc (as qins_cmat_init takes it; not kept) tile by tile.
// Returns 0 or < 0 (qins_cmat_init's errors, QINS_ERR_ARG for a NULL output, NOMEM).
int qins_hmat_init(struct qins_hmat *h, const struct qins_codec_params *p, const uint8_t *enc, size_t enc_len,
                   int rows, int cols);
void qins_hmat_free(struct qins_hmat *h);
// y (rows) = W x (cols): per tile, Huffman decode into a per-thread buffer, then the fused GEMV
// over it (the same arithmetic per row as qins_cmat_gemv on the packed codes, so the results
// are equal bit for bit); tiles split over the OpenMP threads in contiguous runs. Returns 0
// or QINS_ERR_FORMAT / QINS_ERR_NOMEM.
int qins_hmat_gemv(const struct qins_hmat *h, const float *x, float *y);
