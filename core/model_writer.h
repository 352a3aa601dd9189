// core/model_writer.h — random-weight llama/phi3 models of chosen shapes, as GGUF files.
// Owns: llama.cpp tensor names, shapes and metadata keys for the two architectures, the vocab
// (a copy of a real vocab GGUF, or a fake SentencePiece one), N(0, std) weights from a seed.
// Does not own: the GGUF encoding (core/gguf_write.h). Errors: negative qins_status, logged.
#pragma once
#include <stdbool.h>
#include <stdint.h>

#include "gguf.h"
#include "gguf_write.h"

struct qins_random_model_spec {
    const char *arch;        // "llama" or "phi3"
    const char *name;        // general.name (NULL: "qins-random-<arch>", or "qins-random-model" where
                             // that would trip llama.cpp's Phi-3 name rule: see below)
    uint32_t n_layer, n_embd, n_head, n_head_kv, n_ff, n_ctx;
    uint32_t n_vocab;        // 0: the vocab file's token count (300 for the fake vocab)
    uint32_t head_dim;       // 0: n_embd / n_head (else written as attention.key_length/value_length)
    uint32_t rope_dim;       // 0: head_dim
    float rms_eps;           // 0: 1e-5
    float rope_freq_base;    // 0: 10000
    enum qins_ggml_type weight_type; // 2-D matrices (F32/F16/BF16/Q8_0); norms, rope factors: F32.
                             // Q8_0 falls back to F32 for a matrix whose ne[0] % 32 != 0.
    float weight_std;        // 0: 0.02
    uint64_t seed;
    bool tied_output;        // true: no output.weight (the model reuses token_embd)
    // phi3 only
    bool rope_factors;       // write rope_factors_short/long.weight ([rope_dim/2] F32)
    uint32_t n_ctx_orig;     // rope.scaling.original_context_length; 0: not written
    float rope_attn_factor;  // rope.scaling.attn_factor; 0: not written
    uint32_t sliding_window; // attention.sliding_window; 0: not written (llama or phi3)
    // vocab: NULL -> a fake SPM vocab of n_vocab pieces (<unk>, <s>, </s>, byte tokens, then
    // "▁"/a-z strings in length order). Else every tokenizer.* key is copied from this file, with
    // its type, and n_vocab must equal its token count (token_embd has one row per token).
    const qins_gguf_t *vocab_src;
};

// llama.cpp keys token attributes on general.name: a name containing "phi3" or "phi-3" (any case)
// makes its loader look up <unk>, <s>, </s> and <|endoftext|> by text, and a vocab without one of
// them fails to load ("unordered_map::at"). The writer checks this: an explicit name that trips
// the rule over such a vocab is QINS_ERR_ARG; a default name falls back to "qins-random-model".

// The vocab file a model of arch takes by default: "ggml-vocab-phi-3.gguf" (phi3) or
// "ggml-vocab-llama-spm.gguf" (llama), both in ../shared/tokenizers/. Returns it, or NULL.
const char *qins_random_model_vocab_name(const char *arch);
// Opens a vocab GGUF: name (a path, or a bare name looked up as paths.h VOCAB), NULL for arch's
// default. Returns 0 (*out open; caller frees) or < 0 (one line logged: not found lists every
// place tried).
int qins_random_model_open_vocab(const char *arch, const char *name, qins_gguf_t **out);

// Fills s for a named shape: "phi3.5-mini" (microsoft/Phi-3.5-mini-instruct dimensions, 2 layers
// unless changed, 32064 tokens as Phi-3's vocab), "tiny-llama", "tiny-phi3" (n_vocab 0: the vocab's
// count); seed 42, F32 weights, no vocab_src. Returns 0, or -1 for an unknown name.
int qins_random_model_shape(const char *name, struct qins_random_model_spec *s);
// Fills in the defaults of a spec (0 fields above) and checks it. Returns 0 or QINS_ERR_ARG.
int qins_random_model_spec_resolve(struct qins_random_model_spec *spec);
// Adds the metadata and tensors of spec to w (tensor data is generated while w is written;
// spec->vocab_src must stay open until then). Returns 0 or < 0.
int qins_model_add_random(const struct qins_random_model_spec *spec, qins_gguf_writer_t *w);
// Writes the model to path (temporary name + rename). Returns 0 or < 0.
int qins_model_write_random(const struct qins_random_model_spec *spec, const char *path);
// Writes the model into a malloc'ed GGUF image (*data, *size). Returns 0 or < 0.
int qins_model_write_random_memory(const struct qins_random_model_spec *spec, void **data, size_t *size);
