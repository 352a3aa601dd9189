// kernels/cpu/pack.c — k-bit code packing: scalar reference, AVX2 fast path, runtime dispatch.
#include "pack.h"

#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define QINS_PACK_X86 1
#endif

// ---- scalar reference
void qins_pack_ref(const uint16_t *codes, size_t n, int k, uint8_t *out) {
    uint64_t acc = 0, mask = (k >= 16) ? 0xffffu : ((1u << k) - 1);
    int nbits = 0;
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        acc |= (uint64_t)(codes[i] & mask) << nbits;
        nbits += k;
        while (nbits >= 8) {
            out[o++] = (uint8_t)acc;
            acc >>= 8;
            nbits -= 8;
        }
    }
    if (nbits > 0) out[o++] = (uint8_t)acc;
}

void qins_unpack_ref(const uint8_t *in, size_t in_len, size_t first, size_t n, int k, uint16_t *codes) {
    uint32_t mask = (k >= 16) ? 0xffffu : ((1u << k) - 1);
    for (size_t i = 0; i < n; i++) {
        size_t bit = (first + i) * (size_t)k, byte = bit >> 3;
        int shift = (int)(bit & 7);
        // Gather the (at most 3) bytes that hold this code; never past in_len.
        uint32_t v = 0;
        for (int b = 0; b < 3 && byte + (size_t)b < in_len; b++) v |= (uint32_t)in[byte + b] << (8 * b);
        codes[i] = (uint16_t)((v >> shift) & mask);
    }
}

// ---- AVX2 fast path
#ifdef QINS_PACK_X86
// 8 codes of k bits always start on a byte boundary (8k bits = k bytes), so the main loops move
// blocks of 8 codes <-> k bytes and the lane offsets/shifts depend on k only.
__attribute__((target("avx2"))) void qins_unpack_avx2(const uint8_t *in, size_t in_len, size_t first,
                                                      size_t n, int k, uint16_t *codes) {
    // Scalar head until the code index is a multiple of 8.
    size_t head = (8 - (first & 7)) & 7;
    if (head > n) head = n;
    qins_unpack_ref(in, in_len, first, head, k, codes);
    size_t i = head, idx = first + head;
    int32_t offs[8], shifts[8];
    for (int j = 0; j < 8; j++) {
        offs[j] = (j * k) >> 3;
        shifts[j] = (j * k) & 7;
    }
    __m256i voff = _mm256_loadu_si256((const __m256i *)offs);
    __m256i vsh = _mm256_loadu_si256((const __m256i *)shifts);
    __m256i vmask = _mm256_set1_epi32(k >= 16 ? 0xffff : (1 << k) - 1);
    // Each lane gathers 4 bytes at its byte offset: the last lane reads up to byte k-1+4 of
    // the block, so stop while a full 4-byte read of the last lane stays inside the buffer.
    while (i + 8 <= n) {
        size_t base = (idx * (size_t)k) >> 3;
        if (base + (size_t)offs[7] + 4 > in_len) break;
        __m256i v = _mm256_i32gather_epi32((const int *)(in + base), voff, 1);
        v = _mm256_and_si256(_mm256_srlv_epi32(v, vsh), vmask);
        // Narrow 8 x u32 -> 8 x u16 (values fit in 16 bits, so unsigned saturation is exact).
        __m128i lo = _mm256_castsi256_si128(v), hi = _mm256_extracti128_si256(v, 1);
        _mm_storeu_si128((__m128i *)(codes + i), _mm_packus_epi32(lo, hi));
        i += 8;
        idx += 8;
    }
    _mm256_zeroupper(); // GCC omits it before a tail call: dirty upper halves slow later SSE code
    qins_unpack_ref(in, in_len, idx, n - i, k, codes + i);
}

__attribute__((target("avx2"))) void qins_pack_avx2(const uint16_t *codes, size_t n, int k, uint8_t *out) {
    if (k > 16) k = 16;
    uint32_t m = (k >= 16) ? 0xffffu : ((1u << k) - 1);
    __m256i vmask = _mm256_set1_epi32((int)m);
    __m256i shift_odd = _mm256_set_epi32(k, 0, k, 0, k, 0, k, 0);
    __m256i shift_q = _mm256_set_epi64x(2 * k, 0, 2 * k, 0);
    size_t i = 0, o = 0;
    uint64_t acc = 0;
    int nbits = 0;
    // Per 8 codes: combine lane pairs into 2k-bit fields (32-bit lanes), then pairs of those into
    // 4k-bit fields (64-bit lanes); the four 4k-bit fields (<= 64 bits each for k <= 16) are
    // appended to the byte stream through a 64-bit accumulator.
    for (; i + 8 <= n; i += 8) {
        __m128i c16 = _mm_loadu_si128((const __m128i *)(codes + i));
        __m256i v = _mm256_and_si256(_mm256_cvtepu16_epi32(c16), vmask);
        v = _mm256_sllv_epi32(v, shift_odd);                       // odd lanes shifted by k
        __m256i pair = _mm256_or_si256(v, _mm256_srli_epi64(v, 32)); // low 32 of each u64: c0|c1<<k
        pair = _mm256_and_si256(pair, _mm256_set1_epi64x(0xffffffff));
        // Now 4 x u64 lanes each hold a 2k-bit field; combine lanes (0,1) and (2,3).
        __m256i sh = _mm256_sllv_epi64(pair, shift_q);
        __m256i quad = _mm256_or_si256(sh, _mm256_srli_si256(sh, 8));
        uint64_t q0 = (uint64_t)_mm256_extract_epi64(quad, 0);
        uint64_t q1 = (uint64_t)_mm256_extract_epi64(quad, 2);
        uint64_t q[2] = {q0, q1};
        int w = 4 * k;
        for (int t = 0; t < 2; t++) {
            uint64_t val = (w == 64) ? q[t] : (q[t] & ((1ull << w) - 1));
            // Append w bits to the nbits (< 8) pending bits; the result is < 72 bits long.
            uint64_t lo = acc | (val << nbits);
            uint64_t hi = nbits ? (val >> (64 - nbits)) : 0;
            int total = nbits + w;
            if (total >= 64) {
                memcpy(out + o, &lo, 8);
                o += 8;
                acc = hi;
                nbits = total - 64;
            } else {
                int full = total / 8;
                memcpy(out + o, &lo, (size_t)full);
                o += (size_t)full;
                acc = lo >> (8 * full);
                nbits = total - 8 * full;
            }
        }
    }
    // Tail through the same accumulator, code by code.
    for (; i < n; i++) {
        acc |= (uint64_t)(codes[i] & m) << nbits;
        nbits += k;
        while (nbits >= 8) {
            out[o++] = (uint8_t)acc;
            acc >>= 8;
            nbits -= 8;
        }
    }
    if (nbits > 0) out[o++] = (uint8_t)acc;
}

int qins_pack_have_avx2(void) {
    static int cached = -1;
    if (cached < 0) {
        __builtin_cpu_init();
        cached = __builtin_cpu_supports("avx2") ? 1 : 0;
    }
    return cached;
}
#else
void qins_unpack_avx2(const uint8_t *in, size_t in_len, size_t first, size_t n, int k, uint16_t *codes) {
    qins_unpack_ref(in, in_len, first, n, k, codes);
}
void qins_pack_avx2(const uint16_t *codes, size_t n, int k, uint8_t *out) { qins_pack_ref(codes, n, k, out); }
int qins_pack_have_avx2(void) { return 0; }
#endif

static int simd_enabled = 1;
void qins_pack_set_simd(int enable) { simd_enabled = enable; }

void qins_pack(const uint16_t *codes, size_t n, int k, uint8_t *out) {
    if (simd_enabled && qins_pack_have_avx2()) qins_pack_avx2(codes, n, k, out);
    else qins_pack_ref(codes, n, k, out);
}

void qins_unpack(const uint8_t *in, size_t in_len, size_t first, size_t n, int k, uint16_t *codes) {
    if (simd_enabled && qins_pack_have_avx2()) qins_unpack_avx2(in, in_len, first, n, k, codes);
    else qins_unpack_ref(in, in_len, first, n, k, codes);
}
