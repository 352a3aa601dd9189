// kernels/pack.h — bit-packing of k-bit codes (k = 1..16) into a little-endian, LSB-first bit stream.
// Owns: pack/unpack of code arrays, the scalar references (_ref) and the AVX2 fast paths with
// runtime dispatch. Does not own: what the codes mean (core/codec.h) or page framing (core/page.h).
// No errors: callers size buffers with qins_pack_bytes(); functions are total on valid sizes.
#pragma once
#include <stddef.h>
#include <stdint.h>

// Code i occupies bits [i*k, i*k + k) of the stream; bit b lives in byte b/8 at position b%8.
// Returns the bytes needed for n codes of k bits: ceil(n*k/8).
static inline size_t qins_pack_bytes(size_t n, int k) { return (n * (size_t)k + 7) / 8; }

// Packs n codes (only the low k bits of each are used) into out[0 .. qins_pack_bytes(n,k)).
// Trailing pad bits of the last byte are written as zero.
void qins_pack_ref(const uint16_t *codes, size_t n, int k, uint8_t *out);
void qins_pack(const uint16_t *codes, size_t n, int k, uint8_t *out);
// Unpacks codes [first, first+n) from a stream of in_len bytes (must hold them). Never reads
// past in[in_len-1].
void qins_unpack_ref(const uint8_t *in, size_t in_len, size_t first, size_t n, int k, uint16_t *codes);
void qins_unpack(const uint8_t *in, size_t in_len, size_t first, size_t n, int k, uint16_t *codes);

// The AVX2 paths themselves (callable only when qins_pack_have_avx2() is true; tests compare
// them against _ref bit for bit).
void qins_pack_avx2(const uint16_t *codes, size_t n, int k, uint8_t *out);
void qins_unpack_avx2(const uint8_t *in, size_t in_len, size_t first, size_t n, int k, uint16_t *codes);
// Returns 1 when the CPU supports AVX2 and the fast paths are compiled in.
int qins_pack_have_avx2(void);
// Forces the dispatching functions onto the scalar path (enable = 0) or back to auto (1).
// Returns nothing; used by tests and benchmarks to measure both paths.
void qins_pack_set_simd(int enable);
