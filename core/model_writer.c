// core/model_writer.c — random-weight llama/phi3 GGUF models (see model_writer.h).
// Dimension names: E = n_embd, V = n_vocab, F = n_ff, H = n_head, K = n_head_kv, D = head_dim.
#include "model_writer.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "paths.h"

#define FAKE_VOCAB_DEFAULT_N 300 // pieces of the fake vocab when the spec says n_vocab 0

// --- deterministic random numbers: splitmix64 seeds xoshiro256**; Box-Muller normals

struct rng {
    uint64_t s[4];
    int has_spare;
    double spare;
};

static uint64_t splitmix64(uint64_t *x) {
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static void rng_seed(struct rng *r, uint64_t seed) {
    for (int i = 0; i < 4; i++) r->s[i] = splitmix64(&seed);
    r->has_spare = 0;
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

static uint64_t rng_next(struct rng *r) {
    uint64_t *s = r->s, result = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

// Uniform in (0, 1]: never 0, so log() below is finite.
static double rng_uniform(struct rng *r) { return ((double)(rng_next(r) >> 11) + 1.0) * 0x1.0p-53; }

static double rng_normal(struct rng *r) {
    if (r->has_spare) {
        r->has_spare = 0;
        return r->spare;
    }
    double u1 = rng_uniform(r), u2 = rng_uniform(r), m = sqrt(-2.0 * log(u1));
    r->spare = m * sin(2.0 * M_PI * u2);
    r->has_spare = 1;
    return m * cos(2.0 * M_PI * u2);
}

static uint64_t fnv1a64(const char *s) {
    uint64_t h = 0xcbf29ce484222325ull;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 0x100000001b3ull;
    return h;
}

// --- tensor sources (streamed by the writer)

enum fill_kind { FILL_NORMAL, FILL_ONES, FILL_ROPE_SHORT, FILL_ROPE_LONG };

struct fill_state {
    enum fill_kind kind;
    uint64_t row_len;
    uint64_t seed; // per tensor: the model seed mixed with the tensor name
    float std;
    struct rng rng;
};

static int fill_tensor(void *user, uint64_t first_row, uint64_t n_rows, float *dst) {
    struct fill_state *f = user;
    const uint64_t n = n_rows * f->row_len;
    switch (f->kind) {
    case FILL_NORMAL:
        if (first_row == 0) rng_seed(&f->rng, f->seed); // each write of the file gets the same values
        for (uint64_t i = 0; i < n; i++) dst[i] = (float)(f->std * rng_normal(&f->rng));
        break;
    case FILL_ONES:
        for (uint64_t i = 0; i < n; i++) dst[i] = 1.0f;
        break;
    case FILL_ROPE_SHORT: // LongRoPE-like factors: near 1 for short contexts, growing with the
    case FILL_ROPE_LONG:  // dimension index for long ones (synthetic, not Phi-3.5's values)
        for (uint64_t i = 0; i < n; i++) {
            double t = (double)(first_row * f->row_len + i) / (double)(f->row_len > 1 ? f->row_len - 1 : 1);
            dst[i] = (float)(f->kind == FILL_ROPE_SHORT ? 1.0 + 0.05 * t : 1.0 + 7.0 * t * t);
        }
        break;
    }
    return QINS_OK;
}

static int add_filled(qins_gguf_writer_t *w, const struct qins_random_model_spec *s, const char *name,
                      int n_dims, uint64_t ne0, uint64_t ne1, enum qins_ggml_type type, enum fill_kind kind) {
    struct fill_state *f = calloc(1, sizeof *f);
    QINS_CHECK(f, QINS_ERR_NOMEM, "out of memory");
    f->kind = kind;
    f->row_len = ne0;
    f->seed = s->seed ^ fnv1a64(name);
    f->std = s->weight_std;
    if (type == QINS_GGML_Q8_0 && ne0 % 32 != 0) type = QINS_GGML_F32; // as the reference Q8_0 files
    const uint64_t ne[2] = {ne0, ne1};
    return qins_gguf_writer_add_tensor_fn(w, name, n_dims, ne, type, fill_tensor, f, free);
}

static int add_matrix(qins_gguf_writer_t *w, const struct qins_random_model_spec *s, const char *name,
                      uint64_t ne0, uint64_t ne1) {
    return add_filled(w, s, name, 2, ne0, ne1, s->weight_type, FILL_NORMAL);
}

static int add_norm(qins_gguf_writer_t *w, const struct qins_random_model_spec *s, const char *name, uint64_t n) {
    return add_filled(w, s, name, 1, n, 1, QINS_GGML_F32, FILL_ONES);
}

// --- vocab

#define FAKE_ALPHABET_N 27 // "▁" + a..z

static const char *fake_symbol(int i) {
    static const char *const sym[FAKE_ALPHABET_N] = {"\xe2\x96\x81", "a", "b", "c", "d", "e", "f", "g", "h", "i",
                                                     "j", "k", "l", "m", "n", "o", "p", "q", "r", "s", "t", "u",
                                                     "v", "w", "x", "y", "z"};
    return sym[i];
}

// Fake SPM vocab: <unk> <s> </s>, the 256 byte tokens (as many as fit), then every string over
// the alphabet in length order (so each piece's prefix is a piece too and BPE-style merges can
// build it), scores decreasing with the id.
static int add_fake_vocab(qins_gguf_writer_t *w, uint32_t n_vocab) {
    char **tok = calloc(n_vocab, sizeof *tok);
    float *scores = calloc(n_vocab, sizeof *scores);
    int32_t *types = calloc(n_vocab, sizeof *types);
    int st = QINS_OK;
    if (!tok || !scores || !types) {
        qins_log_error_at(__FILE__, __LINE__, __func__, "out of memory for a %u-token vocab", n_vocab);
        st = QINS_ERR_NOMEM;
        goto done;
    }
    uint32_t id = 0;
    static const char *const special[3] = {"<unk>", "<s>", "</s>"};
    static const int32_t special_type[3] = {2, 3, 3};
    for (int i = 0; i < 3 && id < n_vocab; i++, id++) {
        tok[id] = strdup(special[i]);
        types[id] = special_type[i];
    }
    for (int b = 0; b < 256 && id < n_vocab; b++, id++) {
        char buf[8];
        snprintf(buf, sizeof buf, "<0x%02X>", b);
        tok[id] = strdup(buf);
        types[id] = 6;
    }
    // Enumerate strings of length 1, 2, ... as base-27 digit vectors.
    int digits[16] = {0};
    for (int len = 1; id < n_vocab && len < 16; len++) {
        memset(digits, 0, sizeof digits);
        for (;;) {
            if (id >= n_vocab) break;
            char buf[16 * 3 + 1] = {0};
            for (int k = 0; k < len; k++) strcat(buf, fake_symbol(digits[k]));
            tok[id] = strdup(buf);
            types[id] = 1;
            scores[id] = -(float)(id - 259 + 1);
            id++;
            int k = len - 1;
            while (k >= 0 && ++digits[k] == FAKE_ALPHABET_N) digits[k--] = 0;
            if (k < 0) break;
        }
    }
    for (uint32_t i = 0; i < n_vocab; i++)
        if (!tok[i]) {
            qins_log_error_at(__FILE__, __LINE__, __func__, "out of memory building the fake vocab");
            st = QINS_ERR_NOMEM;
            goto done;
        }
    if ((st = qins_gguf_writer_add_str(w, "tokenizer.ggml.model", "llama")) < 0) goto done;
    // as llama.cpp's converter writes for every SentencePiece vocab (llama.cpp reads it only for BPE)
    if ((st = qins_gguf_writer_add_str(w, "tokenizer.ggml.pre", "default")) < 0) goto done;
    if ((st = qins_gguf_writer_add_arr_str(w, "tokenizer.ggml.tokens", (const char *const *)tok, NULL, n_vocab)) < 0)
        goto done;
    if ((st = qins_gguf_writer_add_arr(w, "tokenizer.ggml.scores", QINS_GGUF_FLOAT32, scores, n_vocab)) < 0) goto done;
    if ((st = qins_gguf_writer_add_arr(w, "tokenizer.ggml.token_type", QINS_GGUF_INT32, types, n_vocab)) < 0) goto done;
    if ((st = qins_gguf_writer_add_u32(w, "tokenizer.ggml.bos_token_id", 1)) < 0) goto done;
    if ((st = qins_gguf_writer_add_u32(w, "tokenizer.ggml.eos_token_id", 2)) < 0) goto done;
    if ((st = qins_gguf_writer_add_u32(w, "tokenizer.ggml.unknown_token_id", 0)) < 0) goto done;
    if ((st = qins_gguf_writer_add_bool(w, "tokenizer.ggml.add_bos_token", true)) < 0) goto done;
    st = qins_gguf_writer_add_bool(w, "tokenizer.ggml.add_eos_token", false);
done:
    if (tok)
        for (uint32_t i = 0; i < n_vocab; i++) free(tok[i]);
    free(tok);
    free(scores);
    free(types);
    return st;
}

// Checks a vocab file before anything is written: the per-token arrays are one entry per token
// and every special-token id (tokenizer.ggml.*_token_id) names a token of the file. Returns 0
// or QINS_ERR_FORMAT naming the file and the key.
static int check_vocab(const qins_gguf_t *src, uint64_t *n_tokens) {
    const char *f = qins_gguf_path(src);
    const struct qins_gguf_str *strs;
    uint64_t n;
    const int st = qins_gguf_get_arr_str(src, "tokenizer.ggml.tokens", &strs, &n);
    QINS_CHECK(st != QINS_ERR_RANGE, QINS_ERR_FORMAT, "%s: not a vocab file (no tokenizer.ggml.tokens)", f);
    QINS_TRY(st);
    QINS_CHECK(n >= 3 && n <= INT32_MAX, QINS_ERR_FORMAT, "%s: vocab has %llu tokens", f, (unsigned long long)n);
    static const struct { const char *key; enum qins_gguf_type type; } per_token[] = {
        {"tokenizer.ggml.scores", QINS_GGUF_FLOAT32}, {"tokenizer.ggml.token_type", QINS_GGUF_INT32}};
    for (size_t i = 0; i < sizeof per_token / sizeof per_token[0]; i++) {
        const struct qins_gguf_kv *kv = qins_gguf_find_kv(src, per_token[i].key);
        if (!kv) continue; // optional in llama.cpp
        QINS_CHECK(kv->type == QINS_GGUF_ARRAY && kv->v.arr.type == per_token[i].type && kv->v.arr.n == n,
                   QINS_ERR_FORMAT, "%s: %s is not an array of %llu %s", f, per_token[i].key, (unsigned long long)n,
                   per_token[i].type == QINS_GGUF_FLOAT32 ? "f32" : "i32");
    }
    const size_t pre = strlen("tokenizer.ggml."), suf = strlen("_token_id");
    for (uint64_t i = 0; i < qins_gguf_n_kv(src); i++) {
        const char *key = qins_gguf_kv_at(src, i)->key;
        const size_t len = strlen(key);
        if (len <= pre + suf || strncmp(key, "tokenizer.ggml.", pre) || strcmp(key + len - suf, "_token_id")) continue;
        // -1 (0xFFFFFFFF as u32) means "none" (llama.cpp's LLAMA_TOKEN_NULL; its llama2.c
        // converter writes it, e.g. stories260K.gguf's separator): llama.cpp skips it, so it is
        // copied as it is.
        const struct qins_gguf_kv *kv = qins_gguf_kv_at(src, i);
        if (((kv->type == QINS_GGUF_INT32 || kv->type == QINS_GGUF_INT64) && kv->v.i64 == -1) ||
            (kv->type == QINS_GGUF_UINT32 && kv->v.u64 == UINT32_MAX) ||
            (kv->type == QINS_GGUF_UINT64 && kv->v.u64 == UINT64_MAX))
            continue;
        uint64_t id;
        QINS_TRY(qins_gguf_get_u64(src, key, &id));
        QINS_CHECK(id < n, QINS_ERR_FORMAT, "%s: %s = %llu is past the last token (%llu)", f, key,
                   (unsigned long long)id, (unsigned long long)(n - 1));
    }
    *n_tokens = n;
    return QINS_OK;
}

// Copies every tokenizer.* key of src with its type (chat template, pre-tokenizer, special ids
// and flags included). No padding: llama.cpp sizes its vocab from tokenizer.ggml.tokens and
// requires token_embd to have one row per token, so resolve demands n_vocab == the token count.
// Phi-3's padding rows (the "[PAD<id>]" pieces up to its 32064 logits) are already in its vocab
// file, as llama.cpp's converter wrote them.
static int copy_vocab(qins_gguf_writer_t *w, const qins_gguf_t *src) {
    for (uint64_t i = 0; i < qins_gguf_n_kv(src); i++) {
        const struct qins_gguf_kv *kv = qins_gguf_kv_at(src, i);
        if (!strncmp(kv->key, "tokenizer.", 10)) QINS_TRY(qins_gguf_writer_add_kv_copy(w, kv));
    }
    return QINS_OK;
}

// llama.cpp's name rule (model_writer.h): true when general.name contains "phi3" or "phi-3",
// compared in lower case as llama.cpp does.
static bool name_trips_phi3_rule(const char *name) {
    char low[256];
    size_t n = 0;
    for (; name[n] && n + 1 < sizeof low; n++) low[n] = (char)tolower((unsigned char)name[n]);
    low[n] = 0;
    return strstr(low, "phi3") || strstr(low, "phi-3");
}

// The first piece the Phi-3 name rule looks up that the vocab lacks (the fake vocab never has
// <|endoftext|>), or NULL when all are there.
static const char *phi3_rule_missing(const qins_gguf_t *vocab) {
    static const char *const need[] = {"<unk>", "<s>", "</s>", "<|endoftext|>"};
    if (!vocab) return need[3];
    const struct qins_gguf_str *strs;
    uint64_t n;
    if (qins_gguf_get_arr_str(vocab, "tokenizer.ggml.tokens", &strs, &n) < 0) return need[0];
    for (size_t k = 0; k < sizeof need / sizeof need[0]; k++) {
        const size_t len = strlen(need[k]);
        uint64_t i = 0;
        while (i < n && !(strs[i].len == len && !memcmp(strs[i].data, need[k], len))) i++;
        if (i == n) return need[k];
    }
    return NULL;
}

// general.name for spec into buf: the given name (QINS_ERR_ARG if it trips the Phi-3 rule over
// a vocab without its pieces), else "qins-random-<arch>" unless that trips it.
static int model_name(const struct qins_random_model_spec *s, char *buf, size_t cap) {
    const char *missing = phi3_rule_missing(s->vocab_src);
    if (s->name) {
        QINS_CHECK(!missing || !name_trips_phi3_rule(s->name), QINS_ERR_ARG,
                   "general.name '%s' makes llama.cpp look up the Phi-3 token '%s', which %s lacks: use a Phi-3 "
                   "vocab or a name without 'phi3'/'phi-3'",
                   s->name, missing, s->vocab_src ? qins_gguf_path(s->vocab_src) : "the fake vocab");
        snprintf(buf, cap, "%s", s->name);
        return QINS_OK;
    }
    snprintf(buf, cap, "qins-random-%s", s->arch);
    if (missing && name_trips_phi3_rule(buf)) snprintf(buf, cap, "qins-random-model");
    return QINS_OK;
}

const char *qins_random_model_vocab_name(const char *arch) {
    if (arch && !strcmp(arch, "phi3")) return "ggml-vocab-phi-3.gguf";
    if (arch && !strcmp(arch, "llama")) return "ggml-vocab-llama-spm.gguf";
    return NULL;
}

int qins_random_model_open_vocab(const char *arch, const char *name, qins_gguf_t **out) {
    QINS_CHECK(out, QINS_ERR_ARG, "NULL out");
    *out = NULL;
    if (!name) name = qins_random_model_vocab_name(arch);
    QINS_CHECK(name, QINS_ERR_ARG, "no default vocab for architecture '%s'", arch ? arch : "(none)");
    char path[4096];
    QINS_TRY(qins_path_resolve(QINS_PATH_VOCAB, name, path, sizeof path));
    return qins_gguf_open(path, out);
}

// --- the model

int qins_random_model_spec_resolve(struct qins_random_model_spec *s) {
    QINS_CHECK(s && s->arch, QINS_ERR_ARG, "no architecture given");
    const bool phi3 = !strcmp(s->arch, "phi3");
    QINS_CHECK(phi3 || !strcmp(s->arch, "llama"), QINS_ERR_ARG, "architecture '%s' is not llama or phi3", s->arch);
    QINS_CHECK(s->n_layer >= 1 && s->n_embd >= 1 && s->n_head >= 1 && s->n_head_kv >= 1 && s->n_ff >= 1 &&
                   s->n_ctx >= 1,
               QINS_ERR_ARG, "every dimension must be >= 1");
    QINS_CHECK(s->n_head % s->n_head_kv == 0, QINS_ERR_ARG, "n_head %u is not a multiple of n_head_kv %u", s->n_head,
               s->n_head_kv);
    if (s->head_dim == 0) {
        QINS_CHECK(s->n_embd % s->n_head == 0, QINS_ERR_ARG, "n_embd %u is not a multiple of n_head %u", s->n_embd,
                   s->n_head);
        s->head_dim = s->n_embd / s->n_head;
    }
    if (s->rope_dim == 0) s->rope_dim = s->head_dim;
    QINS_CHECK(s->rope_dim % 2 == 0 && s->rope_dim <= s->head_dim, QINS_ERR_ARG,
               "rope_dim %u must be even and <= head_dim %u", s->rope_dim, s->head_dim);
    if (s->vocab_src) {
        uint64_t n;
        QINS_TRY(check_vocab(s->vocab_src, &n));
        if (s->n_vocab == 0) s->n_vocab = (uint32_t)n;
        QINS_CHECK(s->n_vocab == n, QINS_ERR_ARG,
                   "%s has %llu tokens, the model %u (token_embd needs one row per token): use a vocab of %u "
                   "tokens or the vocab's size",
                   qins_gguf_path(s->vocab_src), (unsigned long long)n, s->n_vocab, s->n_vocab);
    } else if (s->n_vocab == 0) {
        s->n_vocab = FAKE_VOCAB_DEFAULT_N;
    }
    QINS_CHECK(s->n_vocab >= 3, QINS_ERR_ARG, "n_vocab %u < 3 (<unk>, <s>, </s>)", s->n_vocab);
    if (s->rms_eps == 0.0f) s->rms_eps = 1e-5f;
    if (s->rope_freq_base == 0.0f) s->rope_freq_base = 10000.0f;
    if (s->weight_std == 0.0f) s->weight_std = 0.02f;
    QINS_CHECK(s->weight_type == QINS_GGML_F32 || s->weight_type == QINS_GGML_F16 ||
                   s->weight_type == QINS_GGML_BF16 || s->weight_type == QINS_GGML_Q8_0,
               QINS_ERR_ARG, "weight type %s is not F32/F16/BF16/Q8_0", qins_ggml_type_name(s->weight_type));
    QINS_CHECK(phi3 || (!s->rope_factors && s->n_ctx_orig == 0 && s->rope_attn_factor == 0.0f), QINS_ERR_ARG,
               "rope factors / original context / attn factor are phi3 options");
    return QINS_OK;
}

static uint32_t file_type_of(enum qins_ggml_type t) {
    switch (t) {
    case QINS_GGML_F16: return 1;
    case QINS_GGML_Q8_0: return 7;
    case QINS_GGML_BF16: return 32; // LLAMA_FTYPE_MOSTLY_BF16
    default: return 0;
    }
}

static int add_key(qins_gguf_writer_t *w, const char *arch, const char *suffix, uint32_t v) {
    char key[128];
    snprintf(key, sizeof key, "%s.%s", arch, suffix);
    return qins_gguf_writer_add_u32(w, key, v);
}

static int add_key_f32(qins_gguf_writer_t *w, const char *arch, const char *suffix, float v) {
    char key[128];
    snprintf(key, sizeof key, "%s.%s", arch, suffix);
    return qins_gguf_writer_add_f32(w, key, v);
}

int qins_model_add_random(const struct qins_random_model_spec *spec, qins_gguf_writer_t *w) {
    struct qins_random_model_spec s = *spec;
    QINS_TRY(qins_random_model_spec_resolve(&s));
    const char *a = s.arch;
    const bool phi3 = !strcmp(a, "phi3");
    char name[256];
    QINS_TRY(model_name(&s, name, sizeof name));

    QINS_TRY(qins_gguf_writer_add_str(w, "general.architecture", a));
    QINS_TRY(qins_gguf_writer_add_str(w, "general.name", name));
    QINS_TRY(add_key(w, a, "context_length", s.n_ctx));
    QINS_TRY(add_key(w, a, "embedding_length", s.n_embd));
    QINS_TRY(add_key(w, a, "feed_forward_length", s.n_ff));
    QINS_TRY(add_key(w, a, "block_count", s.n_layer));
    QINS_TRY(add_key(w, a, "attention.head_count", s.n_head));
    QINS_TRY(add_key(w, a, "attention.head_count_kv", s.n_head_kv));
    if (s.head_dim != s.n_embd / s.n_head || s.n_embd % s.n_head != 0) {
        QINS_TRY(add_key(w, a, "attention.key_length", s.head_dim));
        QINS_TRY(add_key(w, a, "attention.value_length", s.head_dim));
    }
    QINS_TRY(add_key_f32(w, a, "attention.layer_norm_rms_epsilon", s.rms_eps));
    QINS_TRY(add_key(w, a, "rope.dimension_count", s.rope_dim));
    QINS_TRY(add_key_f32(w, a, "rope.freq_base", s.rope_freq_base));
    if (s.n_ctx_orig) QINS_TRY(add_key(w, a, "rope.scaling.original_context_length", s.n_ctx_orig));
    if (s.rope_attn_factor != 0.0f) QINS_TRY(add_key_f32(w, a, "rope.scaling.attn_factor", s.rope_attn_factor));
    if (s.sliding_window) QINS_TRY(add_key(w, a, "attention.sliding_window", s.sliding_window));
    QINS_TRY(qins_gguf_writer_add_u32(w, "general.file_type", file_type_of(s.weight_type)));
    if (s.weight_type == QINS_GGML_Q8_0) QINS_TRY(qins_gguf_writer_add_u32(w, "general.quantization_version", 2));
    if (s.vocab_src) QINS_TRY(copy_vocab(w, s.vocab_src));
    else QINS_TRY(add_fake_vocab(w, s.n_vocab));

    const uint64_t E = s.n_embd, V = s.n_vocab, F = s.n_ff, D = s.head_dim;
    const uint64_t HD = (uint64_t)s.n_head * D, KD = (uint64_t)s.n_head_kv * D;
    QINS_TRY(add_matrix(w, &s, "token_embd.weight", E, V)); // (V, E)
    if (phi3 && s.rope_factors) {
        QINS_TRY(add_filled(w, &s, "rope_factors_long.weight", 1, s.rope_dim / 2, 1, QINS_GGML_F32, FILL_ROPE_LONG));
        QINS_TRY(add_filled(w, &s, "rope_factors_short.weight", 1, s.rope_dim / 2, 1, QINS_GGML_F32, FILL_ROPE_SHORT));
    }
    QINS_TRY(add_norm(w, &s, "output_norm.weight", E));
    if (!s.tied_output) QINS_TRY(add_matrix(w, &s, "output.weight", E, V)); // (V, E)
    for (uint32_t l = 0; l < s.n_layer; l++) {
        char t[96];
#define BLK(suffix) (snprintf(t, sizeof t, "blk.%u." suffix, l), t)
        QINS_TRY(add_norm(w, &s, BLK("attn_norm.weight"), E));
        if (phi3) {
            QINS_TRY(add_matrix(w, &s, BLK("attn_qkv.weight"), E, HD + 2 * KD)); // rows: q, then k, then v
        } else {
            QINS_TRY(add_matrix(w, &s, BLK("attn_q.weight"), E, HD));
            QINS_TRY(add_matrix(w, &s, BLK("attn_k.weight"), E, KD));
            QINS_TRY(add_matrix(w, &s, BLK("attn_v.weight"), E, KD));
        }
        QINS_TRY(add_matrix(w, &s, BLK("attn_output.weight"), HD, E));
        QINS_TRY(add_norm(w, &s, BLK("ffn_norm.weight"), E));
        if (phi3) {
            QINS_TRY(add_matrix(w, &s, BLK("ffn_up.weight"), E, 2 * F)); // rows: gate, then up
        } else {
            QINS_TRY(add_matrix(w, &s, BLK("ffn_gate.weight"), E, F));
            QINS_TRY(add_matrix(w, &s, BLK("ffn_up.weight"), E, F));
        }
        QINS_TRY(add_matrix(w, &s, BLK("ffn_down.weight"), F, E));
#undef BLK
    }
    return QINS_OK;
}

int qins_model_write_random(const struct qins_random_model_spec *spec, const char *path) {
    qins_gguf_writer_t *w;
    QINS_TRY(qins_gguf_writer_init(&w));
    int st = qins_model_add_random(spec, w);
    if (st == QINS_OK) st = qins_gguf_writer_write_file(w, path);
    qins_gguf_writer_free(w);
    return st;
}

int qins_model_write_random_memory(const struct qins_random_model_spec *spec, void **data, size_t *size) {
    qins_gguf_writer_t *w;
    QINS_TRY(qins_gguf_writer_init(&w));
    int st = qins_model_add_random(spec, w);
    if (st == QINS_OK) st = qins_gguf_writer_write_memory(w, data, size);
    qins_gguf_writer_free(w);
    return st;
}

int qins_random_model_shape(const char *shape, struct qins_random_model_spec *s) {
    memset(s, 0, sizeof *s);
    if (!strcmp(shape, "phi3.5-mini")) { // microsoft/Phi-3.5-mini-instruct dimensions
        s->arch = "phi3";
        s->name = "qins-random-phi3.5-mini";
        s->n_layer = 2;
        s->n_embd = 3072;
        s->n_head = 32;
        s->n_head_kv = 32;
        s->n_ff = 8192;
        s->n_vocab = 32064;
        s->n_ctx = 131072;
        s->n_ctx_orig = 4096;
        s->rope_factors = true;
        s->rope_attn_factor = 1.1902381f; // sqrt(1 + ln(131072/4096) / ln(4096)), as llama.cpp's converter
        s->sliding_window = 262144;
    } else if (!strcmp(shape, "tiny-llama")) {
        s->arch = "llama";
        s->n_layer = 2;
        s->n_embd = 64;
        s->n_head = 4;
        s->n_head_kv = 2;
        s->n_ff = 96;
        s->n_ctx = 256;
    } else if (!strcmp(shape, "tiny-phi3")) {
        s->arch = "phi3";
        s->n_layer = 2;
        s->n_embd = 64;
        s->n_head = 4;
        s->n_head_kv = 4;
        s->n_ff = 96;
        s->n_ctx = 1024;
        s->n_ctx_orig = 256;
        s->rope_factors = true;
    } else {
        return -1;
    }
    s->seed = 42;
    s->weight_type = QINS_GGML_F32;
    return 0;
}
