// tools/cli_write_gguf.c — `qins write-gguf`: a random-weight model of a named shape.
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "common.h"
#include "gguf.h"
#include "model_writer.h"

static void usage(FILE *f) {
    fprintf(f, "usage: qins write-gguf --shape phi3.5-mini|tiny-llama|tiny-phi3 --out FILE [--type f32|f16|bf16|q8_0]\n"
               "                       [--layers N] [--seed S] [--vocab VOCAB.gguf|fake]\n"
               "  weights ~ N(0, 0.02) from the seed (default 42), norms 1. The vocab (every tokenizer.* key)\n"
               "  is copied from a vocab GGUF: by default ggml-vocab-phi-3.gguf (phi3 shapes) or\n"
               "  ggml-vocab-llama-spm.gguf (llama), looked up in $QINS_MODELS/, <shared>/tokenizers/, ...;\n"
               "  tiny shapes take its token count. --vocab fake writes a made-up SentencePiece vocab instead\n"
               "  (300 pieces for tiny shapes) and a general.name llama.cpp does not key Phi-3 rules on.\n");
}

int qins_cli_write_gguf(int argc, char **argv) {
    const char *shape = NULL, *out = NULL, *type = "f32", *vocab = NULL;
    long layers = -1;
    unsigned long long seed = 42;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return 0;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "qins write-gguf: '%s' needs a value (or is unknown)\n", a);
            return 2;
        }
        const char *v = argv[++i];
        char *end = NULL;
        if (!strcmp(a, "--shape")) shape = v;
        else if (!strcmp(a, "--out")) out = v;
        else if (!strcmp(a, "--type")) type = v;
        else if (!strcmp(a, "--vocab")) vocab = v;
        else if (!strcmp(a, "--layers")) {
            layers = strtol(v, &end, 10);
            if (*end || layers < 1 || layers > 1000) {
                fprintf(stderr, "qins write-gguf: --layers wants 1..1000, got '%s'\n", v);
                return 2;
            }
        } else if (!strcmp(a, "--seed")) {
            seed = strtoull(v, &end, 0);
            if (*end || !*v) {
                fprintf(stderr, "qins write-gguf: --seed wants an integer, got '%s'\n", v);
                return 2;
            }
        } else {
            fprintf(stderr, "qins write-gguf: unknown option '%s'\n", a);
            usage(stderr);
            return 2;
        }
    }
    if (!shape || !out) {
        usage(stderr);
        return 2;
    }
    struct qins_random_model_spec s;
    if (qins_random_model_shape(shape, &s) < 0) {
        fprintf(stderr, "qins write-gguf: unknown shape '%s' (phi3.5-mini, tiny-llama, tiny-phi3)\n", shape);
        return 2;
    }
    if (!strcmp(type, "f32")) s.weight_type = QINS_GGML_F32;
    else if (!strcmp(type, "f16")) s.weight_type = QINS_GGML_F16;
    else if (!strcmp(type, "bf16")) s.weight_type = QINS_GGML_BF16;
    else if (!strcmp(type, "q8_0")) s.weight_type = QINS_GGML_Q8_0;
    else {
        fprintf(stderr, "qins write-gguf: --type must be f32, f16, bf16 or q8_0, got '%s'\n", type);
        return 2;
    }
    if (layers > 0) s.n_layer = (uint32_t)layers;
    s.seed = seed;
    qins_gguf_t *vg = NULL;
    const bool fake = vocab && !strcmp(vocab, "fake");
    if (fake) {
        s.name = NULL; // the shape's name ("...phi3.5-mini") would send llama.cpp looking for Phi-3 tokens
    } else {
        if (qins_random_model_open_vocab(s.arch, vocab, &vg) < 0) return 1; // one line logged
        s.vocab_src = vg;
    }
    double t0 = qins_time_now();
    int st = qins_model_write_random(&s, out);
    if (st == 0)
        fprintf(stderr, "qins write-gguf: wrote %s (%s, %u layers, %s, seed %llu, vocab %s) in %.1f s\n", out, shape,
                s.n_layer, type, seed, vg ? qins_gguf_path(vg) : "fake", qins_time_now() - t0);
    qins_gguf_free(vg);
    return st < 0 ? 1 : 0; // on failure the core logged one line
}
