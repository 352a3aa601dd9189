// core/tokenizer.h — the LLaMA SentencePiece (SPM) tokenizer as llama.cpp runs it for GGUF
// `tokenizer.ggml.model = llama`: score-ordered bigram merges over UTF-8 characters, byte
// fallback <0xXX>, the leading-space rule. Owns: its own copy of the vocab. Does not own: the
// GGUF file (only read at init), BPE/WPM vocabs. Errors: negative qins_status values, logged.
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gguf.h"

// Token types as stored in `tokenizer.ggml.token_type` (llama.cpp's llama_token_type).
enum qins_token_type {
    QINS_TOKEN_NORMAL = 1, QINS_TOKEN_UNKNOWN = 2, QINS_TOKEN_CONTROL = 3,
    QINS_TOKEN_USER_DEFINED = 4, QINS_TOKEN_UNUSED = 5, QINS_TOKEN_BYTE = 6,
};

// Encode flags.
#define QINS_TOK_ADD_BOS 1u       // prepend the BOS id
#define QINS_TOK_ADD_EOS 2u       // append the EOS id
#define QINS_TOK_PARSE_SPECIAL 4u // control/unknown token texts in the input ("<s>") become their
                                  // ids, as llama-tokenize's default; off, only user-defined
                                  // token texts are matched (llama.cpp does that in both modes).
// Decode flags.
#define QINS_TOK_DECODE_SPECIAL 1u     // control/unknown tokens render as their text ("<s>"), not ""
#define QINS_TOK_DECODE_STRIP_SPACE 2u // drop the leading space of the first piece (llama.cpp's
                                       // detokenize does; then decode(encode(x)) == x)

struct qins_tokenizer;

// Builds the tokenizer from a GGUF's tokenizer.* keys: tokens, scores, token_type; bos/eos/unk ids
// (defaults 1/2/0), add_bos_token (default true), add_eos_token (default false),
// add_space_prefix (default true). Returns 0, QINS_ERR_UNSUPPORTED (not an SPM vocab),
// QINS_ERR_FORMAT (missing/inconsistent arrays) or QINS_ERR_NOMEM.
int qins_tokenizer_init_gguf(const qins_gguf_t *g, struct qins_tokenizer **out);
void qins_tokenizer_free(struct qins_tokenizer *tok);

// Tokenizes len bytes of text (any bytes; NULs included). *ids is malloc'ed (caller frees; non-NULL
// even when *n == 0). Empty text gives just the BOS when asked. Returns 0 or < 0.
int qins_tokenizer_encode_ex(const struct qins_tokenizer *tok, const char *text, size_t len, unsigned flags,
                             int32_t **ids, size_t *n);
// Same with flags = add_bos ? QINS_TOK_ADD_BOS : 0 (no EOS, no special-token parsing).
int qins_tokenizer_encode(const struct qins_tokenizer *tok, const char *text, size_t len, bool add_bos,
                          int32_t **ids, size_t *n);
// Concatenates the pieces of n ids into a malloc'ed NUL-terminated string (*text, *len bytes
// before the NUL). Returns 0, QINS_ERR_RANGE (an id outside the vocab) or QINS_ERR_NOMEM.
int qins_tokenizer_decode(const struct qins_tokenizer *tok, const int32_t *ids, size_t n, unsigned flags,
                          char **text, size_t *len);
// The text one id decodes to ("▁" shown as ' ', byte tokens as their byte, control tokens as
// ""), valid while tok lives; not NUL-terminated. Returns 0 or QINS_ERR_RANGE.
int qins_tokenizer_piece(const struct qins_tokenizer *tok, int32_t id, const char **piece, size_t *len);
// The vocab entry's raw text ("▁Once", "<0x0A>", "<s>"). Returns 0 or QINS_ERR_RANGE.
int qins_tokenizer_token_text(const struct qins_tokenizer *tok, int32_t id, const char **text, size_t *len);

int32_t qins_tokenizer_n_vocab(const struct qins_tokenizer *tok);
int32_t qins_tokenizer_bos(const struct qins_tokenizer *tok);
int32_t qins_tokenizer_eos(const struct qins_tokenizer *tok);
int32_t qins_tokenizer_unk(const struct qins_tokenizer *tok);
// The vocab's add_bos_token setting (what llama.cpp does with add_special = true).
bool qins_tokenizer_add_bos(const struct qins_tokenizer *tok);
// The token type of id (enum qins_token_type), or 0 for an id outside the vocab.
int qins_tokenizer_token_type(const struct qins_tokenizer *tok, int32_t id);
