// tests/test_gguf_reader.c — the reader on the real stories260K model.
#include <criterion/criterion.h>
#include <stdlib.h>
#include "common.h"
#include "gguf.h"
#include "helpers/shared_paths.h"

Test(gguf_reader, reads_stories260K_metadata_and_tensors) {
    char path[1200];
    if (test_model_path("stories260K.gguf", path, sizeof path)) return;
    qins_gguf_t *g;
    cr_assert_eq(qins_gguf_open(path, &g), 0);
    cr_assert_eq(qins_gguf_version(g), 3);
    char arch[64];
    cr_assert_eq(qins_gguf_get_str(g, "general.architecture", arch, sizeof arch), 0);
    cr_assert_str_eq(arch, "llama");
    uint32_t n_embd, n_layer, n_head, n_kv;
    cr_assert_eq(qins_gguf_get_u32(g, "llama.embedding_length", &n_embd), 0);
    cr_assert_eq(qins_gguf_get_u32(g, "llama.block_count", &n_layer), 0);
    cr_assert_eq(qins_gguf_get_u32(g, "llama.attention.head_count", &n_head), 0);
    cr_assert_eq(qins_gguf_get_u32(g, "llama.attention.head_count_kv", &n_kv), 0);
    cr_assert_eq(n_embd, 64);
    cr_assert_eq(n_layer, 5);
    cr_assert_eq(n_head, 8);
    cr_assert_eq(n_kv, 4);
    cr_assert_eq(qins_gguf_n_tensors(g), 48);
    const struct qins_gguf_str *toks;
    uint64_t n;
    cr_assert_eq(qins_gguf_get_arr_str(g, "tokenizer.ggml.tokens", &toks, &n), 0);
    cr_assert_eq(n, 512);
    const struct qins_gguf_tensor *t = qins_gguf_find_tensor(g, "blk.0.ffn_down.weight");
    cr_assert_not_null(t);
    cr_assert_eq(t->ne[0], 172);
    cr_assert_eq(t->ne[1], 64);
    float *w = malloc(t->n_elements * sizeof *w);
    cr_assert_eq(qins_gguf_tensor_to_f32(t, w), 0);
    free(w);
    qins_gguf_free(g);
}

Test(gguf_reader, q8_0_model_dequantises_close_to_f32) {
    char p32[1200], p8[1200];
    if (test_model_path("stories260K.gguf", p32, sizeof p32)) return;
    if (test_model_path("stories260K-Q8_0-ffnF32.gguf", p8, sizeof p8)) return;
    qins_gguf_t *a, *b;
    cr_assert_eq(qins_gguf_open(p32, &a), 0);
    cr_assert_eq(qins_gguf_open(p8, &b), 0);
    const struct qins_gguf_tensor *ta = qins_gguf_find_tensor(a, "blk.1.attn_q.weight");
    const struct qins_gguf_tensor *tb = qins_gguf_find_tensor(b, "blk.1.attn_q.weight");
    cr_assert_eq(tb->type, QINS_GGML_Q8_0);
    float *x = malloc(ta->n_elements * 4), *y = malloc(ta->n_elements * 4);
    qins_gguf_tensor_to_f32(ta, x);
    qins_gguf_tensor_to_f32(tb, y);
    double num = 0, den = 0;
    for (uint64_t i = 0; i < ta->n_elements; i++) num += (x[i] - y[i]) * (double)(x[i] - y[i]), den += x[i] * (double)x[i];
    cr_assert_lt(num / den, 1e-4, "Q8_0 relative MSE %g", num / den);
    cr_assert_gt(num, 0.0, "the Q8_0 copy should not be identical");
    free(x); free(y);
    qins_gguf_free(a); qins_gguf_free(b);
}

Test(gguf_reader, missing_file_is_an_io_error) {
    qins_gguf_t *g;
    cr_assert_eq(qins_gguf_open("/nonexistent/model.gguf", &g), QINS_ERR_IO);
    cr_assert_null(g);
}
