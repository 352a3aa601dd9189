// tests/test_gguf_vocab.c — a written model carries the vocab llama.cpp expects for the
// architecture it declares (issue 18): every tokenizer.* key of the shared Phi-3 / LLaMA vocab
// GGUFs with its type and value, special-token ids naming tokens that exist, and a general.name
// that llama.cpp's Phi-3 name rule (model_writer.h) can act on. Every file is read back through
// the project's own reader (core/gguf.h).
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common.h"
#include "gguf.h"
#include "gguf_write.h"
#include "helpers/run_cmd.h"
#include "helpers/shared_paths.h"
#include "helpers/test_io.h"
#include "model_writer.h"
#include "tokenizer.h"

TestSuite(gguf_vocab, .init = test_log_capture);

// --- helpers

static qins_gguf_t *open_shared(const char *rel) {
    char path[1200];
    cr_assert_eq(test_shared_path(rel, path, sizeof path), 0, "%s not found", rel);
    qins_gguf_t *g;
    cr_assert_eq(qins_gguf_open(path, &g), 0, "%s: %s", path, qins_last_error());
    return g;
}

// Writes spec into memory and opens the image (*img freed by the caller after the handle).
static qins_gguf_t *write_and_open(const struct qins_random_model_spec *spec, void **img) {
    size_t size;
    cr_assert_eq(qins_model_write_random_memory(spec, img, &size), 0, "%s", qins_last_error());
    qins_gguf_t *g;
    cr_assert_eq(qins_gguf_open_memory(*img, size, "written", &g), 0, "%s", qins_last_error());
    return g;
}

static size_t elem_size(enum qins_gguf_type t) {
    switch (t) {
    case QINS_GGUF_UINT8: case QINS_GGUF_INT8: case QINS_GGUF_BOOL: return 1;
    case QINS_GGUF_UINT16: case QINS_GGUF_INT16: return 2;
    case QINS_GGUF_UINT32: case QINS_GGUF_INT32: case QINS_GGUF_FLOAT32: return 4;
    default: return 8;
    }
}

static bool str_eq(struct qins_gguf_str a, struct qins_gguf_str b) {
    return a.len == b.len && !memcmp(a.data, b.data, a.len);
}

// Same type and the same value (arrays: element type, length and every element).
static void expect_same_kv(const struct qins_gguf_kv *w, const struct qins_gguf_kv *v) {
    cr_assert_eq(w->type, v->type, "%s: type %d, the vocab file has %d", v->key, w->type, v->type);
    switch (v->type) {
    case QINS_GGUF_STRING: cr_assert(str_eq(w->v.str, v->v.str), "%s differs", v->key); break;
    case QINS_GGUF_FLOAT32: case QINS_GGUF_FLOAT64: cr_assert_eq(w->v.f64, v->v.f64, "%s differs", v->key); break;
    case QINS_GGUF_ARRAY:
        cr_assert(w->v.arr.type == v->v.arr.type && w->v.arr.n == v->v.arr.n, "%s: array type/length differ", v->key);
        if (v->v.arr.type == QINS_GGUF_STRING) {
            for (uint64_t i = 0; i < v->v.arr.n; i++)
                cr_assert(str_eq(w->v.arr.strs[i], v->v.arr.strs[i]), "%s[%llu] differs", v->key, (unsigned long long)i);
        } else {
            cr_assert(!memcmp(w->v.arr.data, v->v.arr.data, v->v.arr.n * elem_size(v->v.arr.type)), "%s differs", v->key);
        }
        break;
    default: cr_assert_eq(w->v.u64, v->v.u64, "%s differs", v->key); break; // integers and bools
    }
}

// The written file has exactly the vocab file's tokenizer.* keys, each with its type and value.
// Returns how many were compared.
static int expect_tokenizer_keys_of(const qins_gguf_t *written, const qins_gguf_t *vocab) {
    int n = 0;
    for (uint64_t i = 0; i < qins_gguf_n_kv(vocab); i++) {
        const struct qins_gguf_kv *v = qins_gguf_kv_at(vocab, i);
        if (strncmp(v->key, "tokenizer.", 10)) continue;
        const struct qins_gguf_kv *w = qins_gguf_find_kv(written, v->key);
        cr_assert_not_null(w, "the written file lacks %s", v->key);
        expect_same_kv(w, v);
        n++;
    }
    for (uint64_t i = 0; i < qins_gguf_n_kv(written); i++) {
        const char *key = qins_gguf_kv_at(written, i)->key;
        if (!strncmp(key, "tokenizer.", 10))
            cr_assert_not_null(qins_gguf_find_kv(vocab, key), "the written file has %s, the vocab file not", key);
    }
    return n;
}

// Every tokenizer.ggml.*_token_id names a token of the file (a non-empty piece). Returns the
// number of special ids.
static int expect_valid_special_ids(const qins_gguf_t *g) {
    const struct qins_gguf_str *toks;
    uint64_t n;
    cr_assert_eq(qins_gguf_get_arr_str(g, "tokenizer.ggml.tokens", &toks, &n), 0);
    int found = 0;
    for (uint64_t i = 0; i < qins_gguf_n_kv(g); i++) {
        const char *key = qins_gguf_kv_at(g, i)->key;
        const size_t len = strlen(key);
        if (strncmp(key, "tokenizer.ggml.", 15) || len < 9 || strcmp(key + len - 9, "_token_id")) continue;
        uint64_t id;
        cr_assert_eq(qins_gguf_get_u64(g, key, &id), 0, "%s is not an id", key);
        cr_assert_lt(id, n, "%s = %llu, past the %llu tokens", key, (unsigned long long)id, (unsigned long long)n);
        cr_assert_gt(toks[id].len, 0, "%s names an empty piece", key);
        found++;
    }
    return found;
}

static bool has_token(const qins_gguf_t *g, const char *piece) {
    const struct qins_gguf_str *toks;
    uint64_t n;
    cr_assert_eq(qins_gguf_get_arr_str(g, "tokenizer.ggml.tokens", &toks, &n), 0);
    struct qins_gguf_str want = {strlen(piece), piece};
    for (uint64_t i = 0; i < n; i++)
        if (str_eq(toks[i], want)) return true;
    return false;
}

static void expect_str(const qins_gguf_t *g, const char *key, const char *want) {
    char buf[256];
    cr_assert_eq(qins_gguf_get_str(g, key, buf, sizeof buf), 0, "%s missing", key);
    cr_assert_str_eq(buf, want, "%s", key);
}

// The project's tokenizer gives the same ids on the written file as on the vocab file.
static void expect_same_tokenization(const qins_gguf_t *written, const qins_gguf_t *vocab) {
    struct qins_tokenizer *a, *b;
    cr_assert_eq(qins_tokenizer_init_gguf(written, &a), 0, "%s", qins_last_error());
    cr_assert_eq(qins_tokenizer_init_gguf(vocab, &b), 0, "%s", qins_last_error());
    const char *text = "Hello world\n<|user|> Once upon a time, 42 cats!";
    int32_t *ia, *ib;
    size_t na, nb;
    cr_assert_eq(qins_tokenizer_encode(a, text, strlen(text), true, &ia, &na), 0);
    cr_assert_eq(qins_tokenizer_encode(b, text, strlen(text), true, &ib, &nb), 0);
    cr_assert(na == nb && !memcmp(ia, ib, na * sizeof *ia), "tokenization differs");
    free(ia), free(ib);
    qins_tokenizer_free(a), qins_tokenizer_free(b);
}

// --- the two shapes against the shared vocab files

// Writes s with its architecture's default vocab and checks the image against the shared vocab
// file rel: n_keys tokenizer keys alike, n_ids valid special ids, the same tokenization. Returns
// the written file, open (its image in *img; both freed by the caller).
static qins_gguf_t *write_checked(struct qins_random_model_spec *s, const char *rel, int n_keys, int n_ids, void **img) {
    qins_gguf_t *vg;
    cr_assert_eq(qins_random_model_open_vocab(s->arch, NULL, &vg), 0, "%s", qins_last_error());
    s->vocab_src = vg;
    qins_gguf_t *g = write_and_open(s, img);
    qins_gguf_t *ref = open_shared(rel);
    cr_assert_eq(expect_tokenizer_keys_of(g, ref), n_keys, "tokenizer keys of %s", rel);
    cr_assert_eq(expect_valid_special_ids(g), n_ids, "special ids of %s", rel);
    expect_same_tokenization(g, ref);
    qins_gguf_free(ref);
    qins_gguf_free(vg);
    s->vocab_src = NULL;
    return g;
}

Test(gguf_vocab, phi3_5_mini_shape_has_every_tokenizer_key_of_the_phi3_vocab) {
    struct qins_random_model_spec s;
    cr_assert_eq(qins_random_model_shape("phi3.5-mini", &s), 0);
    // Width and depth shrunk so the 32064-row embedding stays a few MiB: the vocab, the name and
    // the n_vocab check do not depend on them.
    s.n_layer = 1, s.n_embd = 64, s.n_head = s.n_head_kv = 4, s.n_ff = 96;
    s.weight_type = QINS_GGML_F16;
    void *img;
    // 12 keys: model pre tokens scores token_type bos eos unk pad add_bos add_eos chat_template;
    // 4 ids: bos eos unknown padding.
    qins_gguf_t *g = write_checked(&s, "tokenizers/ggml-vocab-phi-3.gguf", 12, 4, &img);
    expect_str(g, "general.architecture", "phi3");
    expect_str(g, "general.name", "qins-random-phi3.5-mini"); // trips llama.cpp's Phi-3 rule, so:
    for (const char *const *p = (const char *const[]){"<unk>", "<s>", "</s>", "<|endoftext|>", NULL}; *p; p++)
        cr_assert(has_token(g, *p), "Phi-3 rule looks up %s", *p);
    uint32_t eos;
    cr_assert_eq(qins_gguf_get_u32(g, "tokenizer.ggml.eos_token_id", &eos), 0);
    const struct qins_gguf_str *toks;
    const int32_t *types;
    uint64_t n;
    cr_assert_eq(qins_gguf_get_arr_str(g, "tokenizer.ggml.tokens", &toks, &n), 0);
    cr_assert_eq(qins_gguf_get_arr_i32(g, "tokenizer.ggml.token_type", &types, &n), 0);
    int32_t eos_type; // the array sits where the file puts it, maybe unaligned: copy, as core/tokenizer.c does
    memcpy(&eos_type, (const char *)types + (size_t)eos * sizeof eos_type, sizeof eos_type);
    cr_assert(toks[eos].len == 13 && !memcmp(toks[eos].data, "<|endoftext|>", 13) && eos_type == 3,
              "EOS is the CONTROL token <|endoftext|>");
    cr_assert_eq(qins_gguf_find_tensor(g, "token_embd.weight")->ne[1], 32064, "one embedding row per token");
    cr_assert_eq(qins_gguf_find_tensor(g, "output.weight")->ne[1], 32064);
    qins_gguf_free(g);
    free(img);
}

Test(gguf_vocab, llama_shape_has_every_tokenizer_key_of_the_llama_spm_vocab) {
    struct qins_random_model_spec s;
    cr_assert_eq(qins_random_model_shape("tiny-llama", &s), 0);
    void *img;
    // 10 keys: model pre tokens scores token_type bos eos unk add_bos add_eos; 3 ids: bos eos unknown.
    qins_gguf_t *g = write_checked(&s, "tokenizers/ggml-vocab-llama-spm.gguf", 10, 3, &img);
    expect_str(g, "general.architecture", "llama");
    expect_str(g, "general.name", "qins-random-llama");
    cr_assert_eq(qins_gguf_find_tensor(g, "token_embd.weight")->ne[1], 32000, "tiny shapes take the vocab's size");
    qins_gguf_free(g);
    free(img);
}

// --- the CLI: the default vocab, the fake one, and what the project's own engine does with them

Test(gguf_vocab, write_gguf_takes_the_architectures_vocab_by_default) {
    char path[1200], cmd[4096];
    static char out[16384];
    snprintf(path, sizeof path, "%s/vocab_cli_%ld.gguf", QINS_TEST_BIN_DIR, (long)getpid());
    snprintf(cmd, sizeof cmd, "'%s/qins' write-gguf --shape tiny-phi3 --type q8_0 --out '%s'", QINS_TEST_BIN_DIR, path);
    cr_assert_eq(test_run_cmd(cmd, out, sizeof out), 0, "%s", out);
    cr_assert(strstr(out, "ggml-vocab-phi-3.gguf"), "names the vocab it took: %s", out);
    qins_gguf_t *g, *ref = open_shared("tokenizers/ggml-vocab-phi-3.gguf");
    cr_assert_eq(qins_gguf_open(path, &g), 0, "%s", qins_last_error());
    cr_assert_eq(expect_tokenizer_keys_of(g, ref), 12);
    cr_assert_eq(expect_valid_special_ids(g), 4);
    expect_str(g, "general.name", "qins-random-phi3");
    qins_gguf_free(g);
    qins_gguf_free(ref);
    // The project's own tokenizer and forward pass load it: llama.cpp's ids for " Hello world"
    // (no BOS), then a short greedy run.
    snprintf(cmd, sizeof cmd, "'%s/qins' tokenize --model '%s' --text 'Hello world' --no-bos --json", QINS_TEST_BIN_DIR,
             path);
    cr_assert_eq(test_run_cmd(cmd, out, sizeof out), 0, "%s", out);
    cr_assert(strstr(out, "\"ids\":[15043,3186]"), "%s", out);
    snprintf(cmd, sizeof cmd, "QINS_PROGRESS=0 '%s/qins' generate --model '%s' --prompt 'Once upon a time' --tokens 4 --json",
             QINS_TEST_BIN_DIR, path);
    cr_assert_eq(test_run_cmd(cmd, out, sizeof out), 0, "%s", out);
    cr_assert(strstr(out, "\"prompt_ids\":[1,9038,2501,263,931]"), "%s", out);
    // --vocab fake: 300 made-up pieces and a name llama.cpp keys no rule on.
    snprintf(cmd, sizeof cmd, "'%s/qins' write-gguf --shape tiny-phi3 --vocab fake --out '%s'", QINS_TEST_BIN_DIR, path);
    cr_assert_eq(test_run_cmd(cmd, out, sizeof out), 0, "%s", out);
    cr_assert_eq(qins_gguf_open(path, &g), 0);
    expect_str(g, "general.name", "qins-random-model");
    const struct qins_gguf_str *toks;
    uint64_t n;
    cr_assert_eq(qins_gguf_get_arr_str(g, "tokenizer.ggml.tokens", &toks, &n), 0);
    cr_assert_eq(n, 300);
    cr_assert_eq(expect_valid_special_ids(g), 3);
    qins_gguf_free(g);
    remove(path);
}

// --- what the writer refuses

static void expect_refused(const struct qins_random_model_spec *s, int status, const char *needle) {
    test_log[0] = 0;
    void *img = NULL;
    size_t size;
    cr_assert_eq(qins_model_write_random_memory(s, &img, &size), status, "expected status %d", status);
    cr_assert_null(img);
    cr_assert(strstr(test_log, needle), "the error names '%s': %s", needle, test_log);
    cr_assert_eq(strchr(test_log, '\n') - test_log + 1, (long)strlen(test_log), "one line: %s", test_log);
}

Test(gguf_vocab, a_phi3_name_over_a_vocab_without_phi3_tokens_is_refused_or_avoided) {
    struct qins_random_model_spec s = {0};
    cr_assert_eq(qins_random_model_shape("tiny-phi3", &s), 0);
    s.name = "my-Phi-3-test"; // llama.cpp lower-cases the name before matching
    expect_refused(&s, QINS_ERR_ARG, "'<|endoftext|>', which the fake vocab lacks");
    qins_gguf_t *llama;
    cr_assert_eq(qins_random_model_open_vocab("llama", NULL, &llama), 0, "%s", qins_last_error());
    s.vocab_src = llama;
    s.name = "qins-phi3";
    expect_refused(&s, QINS_ERR_ARG, "ggml-vocab-llama-spm.gguf lacks");
    // A default name steps aside; llama keeps its usual one.
    s.name = NULL;
    void *img;
    qins_gguf_t *g = write_and_open(&s, &img);
    expect_str(g, "general.name", "qins-random-model");
    qins_gguf_free(g);
    free(img);
    s.vocab_src = NULL;
    g = write_and_open(&s, &img);
    expect_str(g, "general.name", "qins-random-model");
    qins_gguf_free(g);
    free(img);
    s.arch = "llama", s.rope_factors = false, s.n_ctx_orig = 0;
    g = write_and_open(&s, &img);
    expect_str(g, "general.name", "qins-random-llama");
    qins_gguf_free(g);
    free(img);
    // The phi3.5-mini shape's 32064 logits cannot take LLaMA's 32000 tokens.
    cr_assert_eq(qins_random_model_shape("phi3.5-mini", &s), 0);
    s.vocab_src = llama;
    expect_refused(&s, QINS_ERR_ARG, "has 32000 tokens, the model 32064");
    qins_gguf_free(llama);
}

// A vocab GGUF built in memory: n tokens, optional scores of n_scores entries, one special id.
static qins_gguf_t *make_vocab(void **img, uint64_t n, uint64_t n_scores, const char *id_key, uint32_t id) {
    qins_gguf_writer_t *w;
    cr_assert_eq(qins_gguf_writer_init(&w), 0);
    const char *toks[6] = {"<unk>", "<s>", "</s>", "a", "b", "c"};
    const float scores[6] = {0};
    if (n) cr_assert_eq(qins_gguf_writer_add_arr_str(w, "tokenizer.ggml.tokens", toks, NULL, n), 0);
    if (n_scores) cr_assert_eq(qins_gguf_writer_add_arr(w, "tokenizer.ggml.scores", QINS_GGUF_FLOAT32, scores, n_scores), 0);
    if (id_key) cr_assert_eq(qins_gguf_writer_add_u32(w, id_key, id), 0);
    size_t size;
    cr_assert_eq(qins_gguf_writer_write_memory(w, img, &size), 0);
    qins_gguf_writer_free(w);
    qins_gguf_t *g;
    cr_assert_eq(qins_gguf_open_memory(*img, size, "vocab.gguf", &g), 0);
    return g;
}

Test(gguf_vocab, a_bad_vocab_file_is_one_line_naming_the_key) {
    struct qins_random_model_spec s = {0};
    cr_assert_eq(qins_random_model_shape("tiny-llama", &s), 0);
    void *img;
    s.vocab_src = make_vocab(&img, 6, 6, "tokenizer.ggml.bos_token_id", 6);
    expect_refused(&s, QINS_ERR_FORMAT, "vocab.gguf: tokenizer.ggml.bos_token_id = 6 is past the last token (5)");
    qins_gguf_free((qins_gguf_t *)s.vocab_src), free(img);
    s.vocab_src = make_vocab(&img, 6, 5, NULL, 0);
    expect_refused(&s, QINS_ERR_FORMAT, "vocab.gguf: tokenizer.ggml.scores is not an array of 6 f32");
    qins_gguf_free((qins_gguf_t *)s.vocab_src), free(img);
    s.vocab_src = make_vocab(&img, 0, 0, NULL, 0);
    expect_refused(&s, QINS_ERR_FORMAT, "vocab.gguf: not a vocab file");
    qins_gguf_free((qins_gguf_t *)s.vocab_src), free(img);
    // -1 as u32 is llama.cpp's "no such token" (llama2.c exports write it): copied as it is.
    s.vocab_src = make_vocab(&img, 6, 6, "tokenizer.ggml.seperator_token_id", UINT32_MAX);
    void *model;
    qins_gguf_t *g = write_and_open(&s, &model);
    uint32_t v;
    cr_assert(!qins_gguf_get_u32(g, "tokenizer.ggml.seperator_token_id", &v) && v == UINT32_MAX);
    cr_assert_eq(qins_gguf_find_tensor(g, "token_embd.weight")->ne[1], 6);
    qins_gguf_free(g), free(model);
    qins_gguf_free((qins_gguf_t *)s.vocab_src), free(img);
}
