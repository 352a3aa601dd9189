// core/huffman.h — canonical, length-limited (<= 15 bits) Huffman coding of code streams, plain
// or with run-length tokens (RLE + Huffman), and a table-driven decoder.
// Owns: the stream format below, code-length construction, encode/decode. Does not own: where
// the symbols come from (core/codec.h). Errors: negative qins_status; decoding a corrupt or
// truncated stream returns QINS_ERR_FORMAT and never reads or writes out of bounds.
#pragma once
#include <stddef.h>
#include <stdint.h>

// Stream (little-endian):
//   u8 magic ('H' plain, 'R' RLE) | u8 max code length (1..15, 0 when empty) | u32 nsym (literal
//   alphabet) | u64 n (symbols decoded) | u64 payload bits
//   code lengths: one nibble per symbol of the coded alphabet (nsym, or nsym + 24 run tokens for
//   RLE), low nibble first, ceil(count/2) bytes
//   payload: canonical codes, LSB-first bit order (codes bit-reversed), pad bits zero.
// RLE token nsym + c (c = 0..23) repeats the previous symbol 2^c + e times, e = c raw bits
// following the token. The stored size counts header, length table and payload.
#define QINS_HUFF_MAX_LEN 15
#define QINS_HUFF_MAX_SYMBOLS 65536
#define QINS_HUFF_RUN_TOKENS 24
#define QINS_HUFF_HEADER_BYTES 22

struct qins_huffman_info {
    int rle;              // 1 for the RLE variant
    int max_len;          // longest code length used
    uint32_t nsym;        // literal alphabet size
    uint64_t n;           // symbols in the decoded stream
    uint64_t payload_bits;
    size_t table_bytes;   // bytes of the code-length table
    size_t total_bytes;   // whole stream
};

// Encodes n symbols (each < nsym, nsym <= 65536). With out == NULL only computes the size.
// Writes the stream length into *out_len. Returns 0, QINS_ERR_RANGE (symbol >= nsym, or cap too
// small) or QINS_ERR_ARG.
int qins_huffman_encode(const uint16_t *sym, size_t n, size_t nsym, int rle, uint8_t *out, size_t cap,
                        size_t *out_len);
// Reads and validates the header and length table. Returns 0 or QINS_ERR_FORMAT.
int qins_huffman_info(const uint8_t *in, size_t in_len, struct qins_huffman_info *info);
// Decodes a stream into out (cap symbols); *n_out = symbols written. Returns 0, QINS_ERR_FORMAT
// (corrupt/truncated) or QINS_ERR_RANGE (cap too small).
int qins_huffman_decode(const uint8_t *in, size_t in_len, uint16_t *out, size_t cap, size_t *n_out);
// Builds code lengths (<= max_len) for a histogram of nsym symbols: unused symbols get 0, a
// single used symbol gets 1. Returns 0 or < 0.
int qins_huffman_lengths(const uint64_t *hist, size_t nsym, int max_len, uint8_t *lens);
