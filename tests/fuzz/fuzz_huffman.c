// tests/fuzz/fuzz_huffman.c — libFuzzer: qins_huffman_decode on arbitrary bytes must return an
// error or a valid decode, never crash or read/write out of bounds; valid decodes re-encode.
#include <stdint.h>
#include <stdlib.h>

#include "common.h"
#include "huffman.h"

static void quiet(int level, const char *msg, void *user) { (void)level, (void)msg, (void)user; }

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    qins_log_set(quiet, NULL);
    size_t cap = 1 << 16, n = 0;
    uint16_t *out = malloc(cap * sizeof *out);
    if (qins_huffman_decode(data, size, out, cap, &n) == 0) {
        struct qins_huffman_info hi;
        if (qins_huffman_info(data, size, &hi) != 0 || hi.n != n) __builtin_trap();
        for (size_t i = 0; i < n; i++)
            if (out[i] >= hi.nsym) __builtin_trap(); // decoded symbols stay inside the alphabet
    }
    // Also round-trip the input taken as a symbol stream (odd first byte): RLE when bit 1 is set.
    if (size >= 1 && (data[0] & 1)) {
        int rle = (data[0] >> 1) & 1;
        size_t m = size - 1 < cap ? size - 1 : cap, sz = 0, got = 0;
        uint16_t *sym = malloc((m + 1) * sizeof *sym);
        for (size_t i = 0; i < m; i++) sym[i] = data[1 + i] & (data[0] & 4 ? 0x0f : 0xff);
        if (qins_huffman_encode(sym, m, 256, rle, NULL, 0, &sz) != 0) __builtin_trap();
        uint8_t *enc = malloc(sz);
        if (qins_huffman_encode(sym, m, 256, rle, enc, sz, &sz) != 0) __builtin_trap();
        if (qins_huffman_decode(enc, sz, out, cap, &got) != 0 || got != m) __builtin_trap();
        for (size_t i = 0; i < m; i++)
            if (out[i] != sym[i]) __builtin_trap();
        free(enc), free(sym);
    }
    free(out);
    return 0;
}
