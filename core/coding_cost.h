// core/coding_cost.h — what each coding of one k-bit code stream costs: the stored size with every
// table and header counted, and the decode throughput to FP32 on this machine. These are the
// bytes[] and decode_gbps[] a phase binary puts into a qins_policy_tensor (core/policy.h).
// Owns: which codings are compared, how each size is counted, and the timed decode pipelines
// (each verified bit for bit against qins_codec_decode). Does not own: the stream formats
// (core/huffman.h, core/zstd_anchor.h, kernels/pack.h), the codes (core/codec.h), or the policy
// decision (core/policy.h). Errors: negative qins_status with one log line (ARG for a bad argument,
// RANGE for a code >= 2^bits, NOMEM, STATE for a decoded form that differs from the reference).
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "codec.h"

// Sizes of one stream of n = rows*cols codes, each in bytes and each including scale_bytes (the
// metadata every coding stores beside its codes: FP16 scales, QINS_LOG ranges).
struct qins_coding_sizes {
    uint64_t n;                  // codes
    int bits;                    // k
    double entropy;              // Shannon entropy of the codes, bits/symbol (the payload's floor)
    uint64_t scale_bytes;        // what the caller passed, added to every size below
    uint64_t bitpack_bytes;      // ceil(n*k/8): the codec's own layout (kernels/pack.h)
    uint64_t huffman_bytes;      // one canonical Huffman stream over all codes, header and table included
    uint64_t rle_huffman_bytes;  // the same with run-length tokens
    uint64_t huffman_rows_bytes; // one Huffman stream (own table) per row of cols codes, summed
    uint64_t zstd3_bytes;        // zstd frame of the codes as bytes (1 byte/code for k <= 8, 2 bytes
    uint64_t zstd19_bytes;       // LE for k > 8), levels 3 and 19; 0 when zstd was not asked for
};

// Sizes every coding of codes (rows*cols codes, row-major, each < 2^bits, bits 1..16). with_zstd:
// also the zstd frames (slower: level 19 especially). Returns 0, QINS_ERR_ARG (NULL, bits out of
// range, no codes), QINS_ERR_RANGE (a code >= 2^bits) or QINS_ERR_NOMEM. *out is zeroed first.
int qins_coding_sizes(const uint16_t *codes, size_t rows, size_t cols, int bits, uint64_t scale_bytes,
                      int with_zstd, struct qins_coding_sizes *out);
// Returns the bits per value of a size: 8*bytes/n (NaN for n == 0).
double qins_coding_bits_per_value(uint64_t bytes, uint64_t n);

// The decode pipelines qins_decode_speed times, each ending in FP32 values:
enum qins_decode_path {
    QINS_DECODE_BITPACK_LUT = 0, // qins_codec_decode of the encoded block: bit-unpack + LUT x scale
    QINS_DECODE_HUFFMAN,         // Huffman stream -> codes, then qins_codec_dequantize (LUT x scale)
    QINS_DECODE_RLE_HUFFMAN,     // RLE + Huffman likewise
    QINS_DECODE_ZSTD3,           // zstd-3 frame -> code bytes (widened to 16 bits for k <= 8), dequantize
    QINS_DECODE_COUNT
};

struct qins_decode_speed {
    uint64_t n;                     // values decoded per repetition
    double gbps[QINS_DECODE_COUNT]; // GB/s of FP32 output: 4*n bytes / the best repetition's time
    double memcpy_gbps;             // memcpy of the 4*n output bytes, timed in the same call: the baseline
};

// Encodes x (rows x cols) with the lossy codec p (k <= 12), builds every coded form once, then
// times decoding each back to FP32 (best of reps >= 1), and checks that every decoded form equals
// qins_codec_decode's output bit for bit. Returns 0, QINS_ERR_ARG (NULL, a float codec, no values,
// reps < 1), the codec's or coder's error, QINS_ERR_STATE (a decoded form differs: the message
// names the coding) or QINS_ERR_NOMEM. *out is zeroed first.
int qins_decode_speed(const struct qins_codec_params *p, const float *x, size_t rows, size_t cols, int reps,
                      struct qins_decode_speed *out);
// Returns "bitpack_lut", "huffman", "rle_huffman", "zstd3" ("?" out of range).
const char *qins_decode_name(int which);
