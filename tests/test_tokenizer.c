// tests/test_tokenizer.c — the SPM tokenizer against llama.cpp's outputs: its own tokenizer test
// vectors (llama-spm and Phi-3 vocabs), the stories260K tokenization of 300 TinyStories lines,
// the greedy-reference prompts and pieces, and the 2 MiB file's token count (1,064,916 with BOS).
// Shared files come from QINS_MODELS/.. (tests/helpers/shared_paths.h); missing ones fail.
#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>

#include "common.h"
#include "gguf.h"
#include "gguf_write.h"
#include "helpers/shared_paths.h"
#include "helpers/test_io.h"
#include "helpers/tiny_model.h"
#include "model_writer.h"
#include "tokenizer.h"

static void quiet_sink(int level, const char *msg, void *user) { (void)level, (void)msg, (void)user; }

struct vocab {
    qins_gguf_t *g;
    struct qins_tokenizer *tok;
};

static int open_vocab(const char *path, struct vocab *v) {
    cr_assert_eq(qins_gguf_open(path, &v->g), 0, "%s: %s", path, qins_last_error());
    cr_assert_eq(qins_tokenizer_init_gguf(v->g, &v->tok), 0, "%s: %s", path, qins_last_error());
    return 0;
}

static void close_vocab(struct vocab *v) {
    qins_tokenizer_free(v->tok);
    qins_gguf_free(v->g);
}

static int open_stories(struct vocab *v) {
    char path[1200];
    if (test_model_path("stories260K.gguf", path, sizeof path)) return -1;
    return open_vocab(path, v);
}

static void assert_ids(const int32_t *got, size_t n_got, const int32_t *want, size_t n_want, const char *what) {
    size_t k = 0;
    while (k < n_got && k < n_want && got[k] == want[k]) k++;
    cr_assert(n_got == n_want && k == n_want, "%s: %zu ids, expected %zu; first difference at %zu (%d vs %d)", what,
              n_got, n_want, k, k < n_got ? got[k] : -1, k < n_want ? want[k] : -1);
}

// ---------------------------------------------------------------- llama.cpp's vocab test vectors

static void run_vocab_vectors(const char *name) {
    char gguf[1200], inp[1300], outp[1300];
    if (test_shared_path(name, gguf, sizeof gguf)) return;
    snprintf(inp, sizeof inp, "%s.inp", gguf);
    snprintf(outp, sizeof outp, "%s.out", gguf);
    struct vocab v;
    open_vocab(gguf, &v);
    size_t ni, no;
    char *in = test_read_file(inp, &ni), *out = test_read_file(outp, &no);
    static const char sep[] = "\n__ggml_vocab_test__\n";
    char *pos = in, *line = out;
    int n_cases = 0;
    for (;;) {
        char *hit = strstr(pos, sep);
        if (!hit) break;
        char *eol = strchr(line, '\n');
        cr_assert_not_null(eol, "%s: .out has fewer lines than .inp has strings", name);
        *eol = 0;
        int32_t want[512];
        size_t n_want = 0;
        for (char *p = line, *end; *p; p = end) {
            long id = strtol(p, &end, 10);
            if (end == p) break;
            cr_assert_lt(n_want, 512);
            want[n_want++] = (int32_t)id;
        }
        int32_t *ids;
        size_t n;
        cr_assert_eq(qins_tokenizer_encode(v.tok, pos, (size_t)(hit - pos), false, &ids, &n), 0);
        char what[300];
        snprintf(what, sizeof what, "%s case %d '%.*s'", name, n_cases, (int)(hit - pos > 60 ? 60 : hit - pos), pos);
        assert_ids(ids, n, want, n_want, what);
        free(ids);
        pos = hit + strlen(sep);
        line = eol + 1;
        n_cases++;
    }
    cr_assert_eq(n_cases, 46, "%s: 46 test strings", name);
    free(in);
    free(out);
    close_vocab(&v);
}

Test(tokenizer, llama_spm_vocab_matches_llama_cpp_vectors) { run_vocab_vectors("tokenizers/ggml-vocab-llama-spm.gguf"); }
Test(tokenizer, phi3_vocab_matches_llama_cpp_vectors) { run_vocab_vectors("tokenizers/ggml-vocab-phi-3.gguf"); }

Test(tokenizer, phi3_vocab_metadata) {
    char gguf[1200];
    if (test_shared_path("tokenizers/ggml-vocab-phi-3.gguf", gguf, sizeof gguf)) return;
    struct vocab v;
    open_vocab(gguf, &v);
    cr_assert_eq(qins_tokenizer_n_vocab(v.tok), 32064);
    cr_assert_eq(qins_tokenizer_bos(v.tok), 1);
    cr_assert_eq(qins_tokenizer_eos(v.tok), 32000);
    cr_assert(qins_tokenizer_add_bos(v.tok));
    cr_assert_eq(qins_tokenizer_token_type(v.tok, 32007), QINS_TOKEN_CONTROL);
    // "<|end|>" is a control token: only matched with special parsing on.
    const char *text = "Hi<|end|>";
    int32_t *ids;
    size_t n;
    cr_assert_eq(qins_tokenizer_encode_ex(v.tok, text, strlen(text), QINS_TOK_PARSE_SPECIAL, &ids, &n), 0);
    cr_assert_eq(ids[n - 1], 32007, "<|end|> parsed as its id");
    free(ids);
    cr_assert_eq(qins_tokenizer_encode_ex(v.tok, text, strlen(text), 0, &ids, &n), 0);
    for (size_t i = 0; i < n; i++) cr_assert_neq(ids[i], 32007, "plain text keeps <|end|> as text");
    char *back;
    size_t len;
    cr_assert_eq(qins_tokenizer_decode(v.tok, ids, n, QINS_TOK_DECODE_STRIP_SPACE, &back, &len), 0);
    cr_assert_str_eq(back, text);
    free(back);
    free(ids);
    close_vocab(&v);
}

// ---------------------------------------------------------------- stories260K references

// Calls fn for each JSON line of a shared reference file. Returns the number of lines.
static int for_each_jsonl(const char *rel, void (*fn)(cJSON *obj, void *user), void *user) {
    char path[1200];
    if (test_shared_path(rel, path, sizeof path)) return 0;
    size_t size;
    char *buf = test_read_file(path, &size);
    int n = 0;
    for (char *line = buf, *eol; *line; line = eol + 1) {
        eol = strchr(line, '\n');
        if (!eol) eol = line + strlen(line);
        char saved = *eol;
        *eol = 0;
        if (*line) {
            cJSON *obj = cJSON_Parse(line);
            cr_assert_not_null(obj, "%s line %d is not JSON", rel, n + 1);
            fn(obj, user);
            cJSON_Delete(obj);
            n++;
        }
        if (!saved) break;
    }
    free(buf);
    return n;
}

static int32_t *json_ids(cJSON *arr, size_t *n) {
    cr_assert(cJSON_IsArray(arr));
    *n = (size_t)cJSON_GetArraySize(arr);
    int32_t *v = malloc((*n + 1) * sizeof *v);
    size_t i = 0;
    cJSON *e;
    cJSON_ArrayForEach(e, arr) v[i++] = (int32_t)e->valueint;
    return v;
}

struct lines_ctx {
    struct qins_tokenizer *tok;
    size_t total_ids;
    int n_roundtrip;
};

static void check_line(cJSON *obj, void *user) {
    struct lines_ctx *c = user;
    const char *text = cJSON_GetObjectItem(obj, "text")->valuestring;
    int line_no = cJSON_GetObjectItem(obj, "line")->valueint;
    size_t n_want;
    int32_t *want = json_ids(cJSON_GetObjectItem(obj, "ids"), &n_want);
    int32_t *ids;
    size_t n;
    // llama-tokenize parses special tokens by default; this vocab has none in the text.
    cr_assert_eq(qins_tokenizer_encode_ex(c->tok, text, strlen(text), QINS_TOK_PARSE_SPECIAL, &ids, &n), 0);
    char what[64];
    snprintf(what, sizeof what, "TinyStories line %d", line_no);
    assert_ids(ids, n, want, n_want, what);
    c->total_ids += n;
    // Round trip: the pieces concatenate to the text with the SPM leading space.
    char *back;
    size_t len;
    cr_assert_eq(qins_tokenizer_decode(c->tok, ids, n, 0, &back, &len), 0);
    if (*text) {
        cr_assert(len == strlen(text) + 1 && back[0] == ' ' && !strcmp(back + 1, text), "line %d round trip: '%s'",
                  line_no, back);
        c->n_roundtrip++;
    } else {
        cr_assert_eq(len, 0);
    }
    free(back);
    cr_assert_eq(qins_tokenizer_decode(c->tok, ids, n, QINS_TOK_DECODE_STRIP_SPACE, &back, &len), 0);
    cr_assert_str_eq(back, text, "line %d, stripped round trip", line_no);
    free(back);
    free(ids);
    free(want);
}

Test(tokenizer, stories260K_tokenizes_300_tinystories_lines_like_llama_cpp) {
    struct vocab v;
    if (open_stories(&v)) return;
    struct lines_ctx c = {v.tok, 0, 0};
    int n = for_each_jsonl("reference/stories260K_tokenize_tinystories_300lines.jsonl", check_line, &c);
    cr_assert_eq(n, 300);
    cr_assert_eq(c.total_ids, 21906, "the README's total");
    cr_assert_gt(c.n_roundtrip, 250);
    close_vocab(&v);
}

struct greedy_ctx {
    struct qins_tokenizer *tok;
    int n_prompts, n_steps;
};

static int hex_decode(const char *hex, char *out) {
    int n = 0;
    for (; hex[0] && hex[1]; hex += 2) {
        unsigned b;
        sscanf(hex, "%2x", &b);
        out[n++] = (char)b;
    }
    return n;
}

static void check_greedy(cJSON *obj, void *user) {
    struct greedy_ctx *c = user;
    const char *prompt = cJSON_GetObjectItem(obj, "prompt")->valuestring;
    size_t n_want;
    int32_t *want = json_ids(cJSON_GetObjectItem(obj, "prompt_ids"), &n_want);
    cr_assert(cJSON_IsTrue(cJSON_GetObjectItem(obj, "add_bos")));
    cr_assert(qins_tokenizer_add_bos(c->tok), "stories260K has no add_bos_token key: SPM default true");
    int32_t *ids;
    size_t n;
    cr_assert_eq(qins_tokenizer_encode(c->tok, prompt, strlen(prompt), true, &ids, &n), 0);
    assert_ids(ids, n, want, n_want, prompt);
    free(ids);
    free(want);
    // Each generated token's piece, and their concatenation, byte for byte.
    cJSON *steps = cJSON_GetObjectItem(obj, "steps"), *st;
    static char text[1 << 14], piece[256];
    size_t tl = 0;
    cJSON_ArrayForEach(st, steps) {
        const char *p;
        size_t pn;
        int32_t id = (int32_t)cJSON_GetObjectItem(st, "id")->valueint;
        cr_assert_eq(qins_tokenizer_piece(c->tok, id, &p, &pn), 0);
        int hn = hex_decode(cJSON_GetObjectItem(st, "piece_hex")->valuestring, piece);
        cr_assert(pn == (size_t)hn && !memcmp(p, piece, pn), "piece of id %d", id);
        memcpy(text + tl, p, pn);
        tl += pn;
        c->n_steps++;
    }
    char want_text[1 << 14];
    int wn = hex_decode(cJSON_GetObjectItem(obj, "text_hex")->valuestring, want_text);
    cr_assert(tl == (size_t)wn && !memcmp(text, want_text, tl), "continuation text of '%s'", prompt);
    c->n_prompts++;
}

Test(tokenizer, stories260K_prompts_and_pieces_match_the_greedy_reference) {
    struct vocab v;
    if (open_stories(&v)) return;
    struct greedy_ctx c = {v.tok, 0, 0};
    for_each_jsonl("reference/stories260K_greedy.jsonl", check_greedy, &c);
    cr_assert_eq(c.n_prompts, 4);
    cr_assert_eq(c.n_steps, 4 * 64);
    close_vocab(&v);
}

Test(tokenizer, whole_tinystories_file_gives_llama_perplexity_token_count) {
    struct vocab v;
    if (open_stories(&v)) return;
    char path[1200];
    if (test_shared_path("data/tinystories_train_sample_2MiB.txt", path, sizeof path)) return;
    size_t size;
    char *text = test_read_file(path, &size);
    int32_t *ids;
    size_t n;
    double t0 = qins_time_now();
    cr_assert_eq(qins_tokenizer_encode(v.tok, text, size, true, &ids, &n), 0);
    cr_log_info("tokenized %zu bytes into %zu tokens in %.2f s", size, n, qins_time_now() - t0);
    cr_assert_eq(n, 1064916, "llama-perplexity's count (reference/README.md)");
    cr_assert_eq(ids[0], 1);
    // Decoding gives back the text (after BOS, without the SPM leading space).
    char *back;
    size_t len;
    cr_assert_eq(qins_tokenizer_decode(v.tok, ids + 1, n - 1, QINS_TOK_DECODE_STRIP_SPACE, &back, &len), 0);
    cr_assert(len == size && !memcmp(back, text, size), "2 MiB round trip");
    free(back);
    free(ids);
    free(text);
    close_vocab(&v);
}

// ---------------------------------------------------------------- behaviour

Test(tokenizer, empty_text_byte_fallback_and_bad_ids) {
    struct vocab v;
    if (open_stories(&v)) return;
    int32_t *ids;
    size_t n;
    cr_assert_eq(qins_tokenizer_encode(v.tok, "", 0, false, &ids, &n), 0);
    cr_assert_eq(n, 0);
    cr_assert_not_null(ids);
    free(ids);
    cr_assert_eq(qins_tokenizer_encode(v.tok, "", 0, true, &ids, &n), 0);
    cr_assert(n == 1 && ids[0] == 1, "empty text with BOS is [BOS]");
    free(ids);
    // "漢" is not in this 512-token vocab: three byte tokens <0xE6> <0xBC> <0xA2> (id 3 + byte).
    cr_assert_eq(qins_tokenizer_encode(v.tok, "\xe6\xbc\xa2", 3, false, &ids, &n), 0);
    cr_assert_eq(n, 4, "'▁' then 3 bytes");
    cr_assert(ids[1] == 3 + 0xe6 && ids[2] == 3 + 0xbc && ids[3] == 3 + 0xa2);
    char *back;
    size_t len;
    cr_assert_eq(qins_tokenizer_decode(v.tok, ids, n, 0, &back, &len), 0);
    cr_assert_str_eq(back, " \xe6\xbc\xa2");
    free(back);
    free(ids);
    // Invalid UTF-8 and NUL bytes still tokenize (as bytes) and come back unchanged.
    const char raw[] = {'a', '\0', (char)0xff, 'b', (char)0xe2, (char)0x96};
    cr_assert_eq(qins_tokenizer_encode(v.tok, raw, sizeof raw, false, &ids, &n), 0);
    cr_assert_eq(qins_tokenizer_decode(v.tok, ids, n, QINS_TOK_DECODE_STRIP_SPACE, &back, &len), 0);
    cr_assert(len == sizeof raw && !memcmp(back, raw, len));
    free(back);
    free(ids);
    // Special tokens: "<s>" is text unless special parsing is on; control pieces decode to "".
    cr_assert_eq(qins_tokenizer_encode_ex(v.tok, "<s>x", 4, QINS_TOK_PARSE_SPECIAL, &ids, &n), 0);
    cr_assert_eq(ids[0], 1);
    free(ids);
    cr_assert_eq(qins_tokenizer_encode_ex(v.tok, "<s>x", 4, QINS_TOK_ADD_BOS | QINS_TOK_ADD_EOS, &ids, &n), 0);
    cr_assert(ids[0] == 1 && ids[n - 1] == 2 && ids[1] != 1);
    free(ids);
    const int32_t ctl[3] = {1, 403, 2};
    cr_assert_eq(qins_tokenizer_decode(v.tok, ctl, 3, 0, &back, &len), 0);
    cr_assert_str_eq(back, " Once");
    free(back);
    cr_assert_eq(qins_tokenizer_decode(v.tok, ctl, 3, QINS_TOK_DECODE_SPECIAL, &back, &len), 0);
    cr_assert_str_eq(back, "<s> Once</s>");
    free(back);
    qins_log_set(quiet_sink, NULL);
    const int32_t bad[2] = {5, 512};
    cr_assert_eq(qins_tokenizer_decode(v.tok, bad, 2, 0, &back, &len), QINS_ERR_RANGE);
    const char *p;
    cr_assert_eq(qins_tokenizer_piece(v.tok, -1, &p, &len), QINS_ERR_RANGE);
    cr_assert_eq(qins_tokenizer_piece(v.tok, 10, &p, &len), 0);
    cr_assert(len == 1 && p[0] == 7, "byte token <0x07> decodes to the byte");
    close_vocab(&v);
}

Test(tokenizer, fake_vocab_of_the_model_writer_tokenizes) {
    struct qins_random_model_spec s = tiny_model_spec("llama");
    s.n_vocab = 1000;
    void *img;
    size_t size;
    cr_assert_eq(qins_model_write_random_memory(&s, &img, &size), 0);
    qins_gguf_t *g;
    cr_assert_eq(qins_gguf_open_memory(img, size, "fake-vocab", &g), 0);
    struct qins_tokenizer *tok;
    cr_assert_eq(qins_tokenizer_init_gguf(g, &tok), 0);
    const char *text = "the cat sat, 42 times";
    int32_t *ids;
    size_t n;
    cr_assert_eq(qins_tokenizer_encode(tok, text, strlen(text), false, &ids, &n), 0);
    cr_assert_lt(n, strlen(text), "merges happen");
    char *back;
    size_t len;
    cr_assert_eq(qins_tokenizer_decode(tok, ids, n, QINS_TOK_DECODE_STRIP_SPACE, &back, &len), 0);
    cr_assert_str_eq(back, text);
    free(back);
    free(ids);
    qins_tokenizer_free(tok);
    qins_gguf_free(g);
    free(img);
}

Test(tokenizer, non_spm_vocab_is_unsupported) {
    qins_log_set(quiet_sink, NULL);
    qins_gguf_writer_t *w;
    cr_assert_eq(qins_gguf_writer_init(&w), 0);
    const char *toks[2] = {"a", "b"};
    cr_assert_eq(qins_gguf_writer_add_str(w, "tokenizer.ggml.model", "gpt2"), 0);
    cr_assert_eq(qins_gguf_writer_add_arr_str(w, "tokenizer.ggml.tokens", toks, NULL, 2), 0);
    void *img;
    size_t size;
    cr_assert_eq(qins_gguf_writer_write_memory(w, &img, &size), 0);
    qins_gguf_t *g;
    cr_assert_eq(qins_gguf_open_memory(img, size, "gpt2", &g), 0);
    struct qins_tokenizer *tok = (void *)1;
    cr_assert_eq(qins_tokenizer_init_gguf(g, &tok), QINS_ERR_UNSUPPORTED);
    cr_assert_null(tok);
    qins_gguf_free(g);
    free(img);
    qins_gguf_writer_free(w);
    // No vocab at all.
    cr_assert_eq(qins_gguf_writer_init(&w), 0);
    cr_assert_eq(qins_gguf_writer_write_memory(w, &img, &size), 0);
    cr_assert_eq(qins_gguf_open_memory(img, size, "empty", &g), 0);
    cr_assert_eq(qins_tokenizer_init_gguf(g, &tok), QINS_ERR_FORMAT);
    qins_gguf_free(g);
    free(img);
    qins_gguf_writer_free(w);
}

// ---------------------------------------------------------------- the `qins tokenize` command

// Runs the qins binary with args; captures stdout into out (cap bytes). Returns the exit status.
static int run_qins(const char *args, char *out, size_t cap) {
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "%s/qins %s 2>/dev/null", QINS_TEST_BIN_DIR, args);
    FILE *p = popen(cmd, "r");
    cr_assert_not_null(p);
    size_t n = fread(out, 1, cap - 1, p);
    out[n] = 0;
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

Test(tokenizer, cli_tokenize_json_and_errors) {
    char model[1200], out[8192];
    if (test_model_path("stories260K.gguf", model, sizeof model)) return;
    char args[4096];
    snprintf(args, sizeof args, "tokenize --model %s --text 'Lily and Tom went to the park' --json", model);
    cr_assert_eq(run_qins(args, out, sizeof out), 0);
    cJSON *j = cJSON_Parse(out);
    cr_assert_not_null(j, "one JSON object: %s", out);
    size_t n;
    int32_t *ids = json_ids(cJSON_GetObjectItem(j, "ids"), &n);
    const int32_t want[12] = {1, 317, 269, 274, 287, 263, 377, 267, 265, 282, 295, 433};
    assert_ids(ids, n, want, 12, "qins tokenize --json");
    free(ids);
    cJSON_Delete(j);
    snprintf(args, sizeof args, "tokenize --model %s --text 'Once upon a time' --no-bos", model);
    cr_assert_eq(run_qins(args, out, sizeof out), 0);
    cr_assert_str_eq(out, "403 407 261 378\n");
    char empty[1200];
    snprintf(empty, sizeof empty, "%s/empty_%ld.txt", QINS_TEST_BIN_DIR, (long)getpid());
    fclose(fopen(empty, "wb"));
    snprintf(args, sizeof args, "tokenize --model %s --text-file %s", model, empty);
    // empty text is valid input (llama.cpp's own vectors include empty strings): BOS alone
    cr_assert_eq(run_qins(args, out, sizeof out), 0, "empty text file");
    cr_assert_str_eq(out, "1\n");
    remove(empty);
    cr_assert_eq(run_qins("tokenize --model /nonexistent/m.gguf --text hi", out, sizeof out), 1, "missing model");
    cr_assert_eq(run_qins("tokenize --model no-such-model.gguf --text hi", out, sizeof out), 1, "bare name not found");
    snprintf(args, sizeof args, "tokenize --model %s --text-file /nonexistent.txt", model);
    cr_assert_eq(run_qins(args, out, sizeof out), 1, "missing text file");
    cr_assert_eq(run_qins("tokenize --text hi", out, sizeof out), 2, "usage error");
}
