// tests/fuzz/fuzz_gguf.c — the GGUF reader on arbitrary bytes: it must refuse or accept, never
// read out of bounds; an accepted file's tensors must lie inside the buffer.
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "gguf.h"

static void quiet(int level, const char *msg, void *user) { (void)level, (void)msg, (void)user; }

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    qins_log_set(quiet, NULL);
    // an exact-size copy so that ASan sees any read past the end
    uint8_t *copy = malloc(size ? size : 1);
    memcpy(copy, data, size);
    qins_gguf_t *g;
    if (qins_gguf_open_memory(copy, size, "fuzz", &g) == 0) {
        for (uint64_t i = 0; i < qins_gguf_n_tensors(g); i++) {
            const struct qins_gguf_tensor *t = qins_gguf_tensor_at(g, i);
            const uint8_t *p = t->data;
            if (p < copy || p + t->n_bytes > copy + size) __builtin_trap();
            if (t->n_bytes) (void)*(volatile const uint8_t *)(p + t->n_bytes - 1);
        }
        qins_gguf_free(g);
    }
    free(copy);
    return 0;
}
