// tests/helpers/tiny_model.c — see tiny_model.h.
#include "tiny_model.h"

#include <stdio.h>
#include <unistd.h>

#include "common.h"

#ifndef QINS_TEST_BIN_DIR
#define QINS_TEST_BIN_DIR "/tmp"
#endif

struct qins_random_model_spec tiny_model_spec(const char *arch) {
    struct qins_random_model_spec s = {0};
    s.arch = arch;
    s.n_layer = 2;
    s.n_embd = 64;
    s.n_head = 4;
    s.n_head_kv = 2;
    s.n_ff = 96;
    s.n_vocab = 300;
    s.n_ctx = 128;
    s.weight_type = QINS_GGML_F32;
    s.seed = 1234;
    if (arch && !strcmp(arch, "phi3")) {
        s.n_ctx_orig = 64;
        s.rope_factors = true;
    }
    return s;
}

int tiny_model_write(const struct qins_random_model_spec *spec, char *path, size_t cap) {
    static int counter;
    int n = snprintf(path, cap, "%s/tiny_%s_%ld_%d.gguf", QINS_TEST_BIN_DIR, spec->arch ? spec->arch : "x",
                     (long)getpid(), counter++);
    QINS_CHECK(n > 0 && (size_t)n < cap, QINS_ERR_RANGE, "path buffer too small");
    return qins_model_write_random(spec, path);
}

void tiny_model_remove(const char *path) {
    if (path && path[0]) remove(path);
}
