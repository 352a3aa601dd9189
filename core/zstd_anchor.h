// core/zstd_anchor.h — zstd as the general-purpose anchor entropy coding is measured against
// (phase 3): the compressed size of a byte stream at a level, and the speed of both directions,
// with the round trip verified byte for byte. Owns: the libzstd calls and the timing of them.
// Does not own: what the bytes are (codes, pages, raw FP16). Errors: negative qins_status with a
// one-line message (out of memory, a zstd error, a round trip that does not reproduce the input).
#pragma once
#include <stddef.h>

struct qins_zstd_result {
    int level;
    size_t in_bytes, out_bytes; // out_bytes: the whole zstd frame (header and checksum included)
    double compress_s;          // best of the timed repetitions
    double decompress_s;        // best of the timed repetitions
};

// Compresses n bytes at level (1..19, zstd's range without --ultra), decompresses the frame
// reps times (>= 1) and checks it equals src. Returns 0 or < 0.
int qins_zstd_measure(const void *src, size_t n, int level, int reps, struct qins_zstd_result *out);
// Compressed size only (no timing, no round trip). Returns 0 or < 0.
int qins_zstd_size(const void *src, size_t n, int level, size_t *out_bytes);
// The frame itself, for callers that time their own decode pipeline (core/coding_cost.h):
// *frame is malloc'd (free it), *len its size. Returns 0 or < 0 (*frame NULL).
int qins_zstd_compress(const void *src, size_t n, int level, void **frame, size_t *len);
// Decompresses a frame into dst, which must receive exactly n bytes. Returns 0, or QINS_ERR_FORMAT
// for a corrupt frame or one of another size.
int qins_zstd_decompress(const void *frame, size_t len, void *dst, size_t n);
