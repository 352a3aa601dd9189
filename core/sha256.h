// core/sha256.h — SHA-256 (FIPS 180-4) of memory and files, as lowercase hex.
// Owns: the hash and file streaming. Does not own: any caching of file hashes (a 7.6 GB
// model takes ~20 s). Errors: qins_sha256_file returns a negative qins_status and logs.
#pragma once
#include <stddef.h>
#include <stdint.h>

#define QINS_SHA256_HEX 65 // 64 hex digits + NUL

struct qins_sha256 {
    uint32_t h[8];
    uint64_t n_bytes;     // total bytes fed so far
    uint8_t block[64];    // pending partial block
    size_t n_block;       // bytes used in block
};

// Starts a new hash. Returns nothing.
void qins_sha256_init(struct qins_sha256 *s);
// Feeds n bytes. Returns nothing.
void qins_sha256_update(struct qins_sha256 *s, const void *data, size_t n);
// Finishes: writes the 32-byte digest. The state must be re-initialised before reuse.
void qins_sha256_final(struct qins_sha256 *s, uint8_t digest[32]);
// One-shot: writes the hex digest of data[0..n) into hex. Returns nothing.
void qins_sha256_hex(const void *data, size_t n, char hex[QINS_SHA256_HEX]);
// Hashes a whole file. Returns QINS_OK or QINS_ERR_IO (message names the file).
int qins_sha256_file(const char *path, char hex[QINS_SHA256_HEX]);
