// core/page.h — pages of codec-encoded rows: a header (full 36 bytes, or the compact 16-byte
// KV header) followed by the block layout of core/codec.h.
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

// ---- compact KV page: the frame of each page of core/kv_paged.c.
// Header, 16 bytes little-endian:
//   u16 magic "QK" | u8 codec | u8 bits | u8 granularity | u8 scale_mode | u16 rows |
//   u32 payload_bytes | u32 crc32c(header[0..12) + payload). Payload as for the full page.
// Why not the 36-byte header: a KV page is small and its codec's group size, alpha, clip and
// cols belong to the store (one codec per layer and K/V stream, fixed at creation), so the
// page keeps only what a reader checks against that expectation. Numbers: stories260K keeps
// kv_dim = 32 values per token; a 16-token int8 page with per-token FP16 scales is
// 16*32 + 16*2 = 544 bytes of payload, so 36 bytes of header cost 6.6% (kv_compression_vs_fp16
// 1024/580 = 1.766), the old 24-byte KV header 4.4% (1.803), these 16 bytes 2.9% (1.829);
// int6: 416 bytes of payload, 1024/452 = 2.265 vs 2.327 vs 2.370. At phi3.5-mini's
// kv_dim = 3072 any of them is < 0.1% of a 49,184-byte page. Rows fit u16: <= 65535 per page.
#define QINS_PAGE_KV_HEADER_BYTES 16

struct qins_page_kv_header {
    uint8_t codec, bits, granularity, scale_mode;
    uint16_t rows;
    uint32_t payload_bytes, checksum;
};

// Returns the bytes of one KV page (header + payload), or 0 on invalid params or rows > 65535.
size_t qins_page_kv_bytes(const struct qins_codec_params *p, size_t rows, size_t cols);
// Encodes x (rows x cols) into one KV page; *written = its size. Returns 0 or < 0 (codec
// errors, QINS_ERR_RANGE on cap or rows > 65535).
int qins_page_kv_write(const struct qins_codec_params *p, const float *x, size_t rows, size_t cols, uint8_t *out,
                       size_t cap, size_t *written);
// Parses the header (magic and sizes against in_len; not the checksum). Returns 0 or QINS_ERR_FORMAT.
int qins_page_kv_read_header(const uint8_t *in, size_t in_len, struct qins_page_kv_header *h);
// Checks a KV page against the codec and shape its reader expects (header fields, payload size)
// and its CRC-32C, then points *payload at the codes (*payload_len bytes). `name` and `index`
// only label the one error line (e.g. "kv store 'int8' layer 3 V", 2). Returns 0 or QINS_ERR_FORMAT.
int qins_page_kv_check(const uint8_t *in, size_t in_len, const struct qins_codec_params *p, size_t rows, size_t cols,
                       const char *name, int index, const uint8_t **payload, size_t *payload_len);

// CRC-32C (Castagnoli) of n bytes continuing from crc (start with 0). Returns the new CRC.
uint32_t qins_crc32c_ref(uint32_t crc, const uint8_t *p, size_t n);
uint32_t qins_crc32c(uint32_t crc, const uint8_t *p, size_t n);
