// core/page.h — self-describing pages of codec-encoded rows: a fixed header (codec, k,
// granularity, shape, checksum) followed by the block layout of core/codec.h.
// Owns: page framing, checksums (CRC-32C, scalar _ref + SSE4.2), splitting a tensor into pages.
// Does not own: the codes themselves (core/codec.h). Errors: negative qins_status; a corrupt or
// truncated page returns QINS_ERR_FORMAT and is never read out of bounds.
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "codec.h"

// Header, 36 bytes little-endian:
//   u32 magic "QPG1" | u8 codec | u8 bits | u8 granularity | u8 scale_mode | u32 group_size |
//   f32 alpha | f32 clip | u32 rows | u32 cols | u32 payload_bytes | u32 crc32c(header[0..32) +
//   payload). Payload = qins_codec_encode() output for (rows x cols); PER_TENSOR = per page.
#define QINS_PAGE_HEADER_BYTES 36
#define QINS_PAGE_DEFAULT_BYTES (32 * 1024)

struct qins_page_header {
    struct qins_codec_params params;
    uint32_t rows, cols, payload_bytes, checksum;
};

// Returns the bytes of one page (header + payload), or 0 on invalid params.
size_t qins_page_bytes(const struct qins_codec_params *p, size_t rows, size_t cols);
// Returns the most rows (>= 1) whose page fits in target_bytes (16-64 KB is typical).
size_t qins_page_rows_for(const struct qins_codec_params *p, size_t cols, size_t target_bytes);
// Writes one page; *written = its size. Returns 0 or < 0 (codec errors, QINS_ERR_RANGE on cap).
int qins_page_write(const struct qins_codec_params *p, const float *x, size_t rows, size_t cols, uint8_t *out,
                    size_t cap, size_t *written);
// Validates the header and sizes (not the checksum). Returns 0 or QINS_ERR_FORMAT.
int qins_page_read_header(const uint8_t *in, size_t in_len, struct qins_page_header *h);
// Validates header + checksum and decodes rows*cols floats into x (cap_elems floats).
// Returns 0, QINS_ERR_FORMAT or QINS_ERR_RANGE (cap too small).
int qins_page_read(const uint8_t *in, size_t in_len, float *x, size_t cap_elems, struct qins_page_header *h);
// Validates like qins_page_read and extracts the raw codes (rows*cols, cap entries).
int qins_page_codes(const uint8_t *in, size_t in_len, uint16_t *codes, size_t cap, struct qins_page_header *h);

// Encodes a rows x cols tensor as consecutive pages of rows_per_page rows (the last may be
// shorter). *written = total bytes. With out == NULL computes *written only. Returns 0 or < 0.
int qins_pages_encode(const struct qins_codec_params *p, const float *x, size_t rows, size_t cols,
                      size_t rows_per_page, uint8_t *out, size_t cap, size_t *written);
// Decodes consecutive pages back into x (rows x cols; pages must tile it exactly). Returns 0 or < 0.
int qins_pages_decode(const uint8_t *in, size_t in_len, float *x, size_t rows, size_t cols);

// CRC-32C (Castagnoli) of n bytes continuing from crc (start with 0). Returns the new CRC.
uint32_t qins_crc32c_ref(uint32_t crc, const uint8_t *p, size_t n);
uint32_t qins_crc32c(uint32_t crc, const uint8_t *p, size_t n);
