// core/tokenizer.c — SPM tokenizer (llama.cpp's llm_tokenizer_spm, re-implemented in C).
// Reads: vocab -> hash index -> special-token partition -> bigram merge -> decode cache.
#include "tokenizer.h"

#include <stdio.h>
#include <stdlib.h>

#include "common.h"
#include "util.h"

#define SPACE_ESC "\xe2\x96\x81" // U+2581 LOWER ONE EIGHTH BLOCK, SentencePiece's space
#define SPACE_ESC_LEN 3

struct qins_tokenizer {
    int32_t n_vocab;
    char *text_arena;       // all token texts back to back
    uint64_t *text_off;     // (n_vocab + 1) offsets into text_arena
    float *scores;          // (n_vocab)
    int32_t *types;         // (n_vocab)
    char *piece_arena;      // decoded pieces back to back
    uint64_t *piece_off;    // (n_vocab + 1)
    uint32_t *hash;         // open addressing: id + 1, 0 = empty; (hash_cap)
    uint64_t hash_cap;
    int32_t byte_to_id[256];
    int32_t bos, eos, unk;
    bool add_bos, add_eos, add_space_prefix;
    int32_t *special;       // ids matched in the input before SPM, longest text first
    int32_t n_special, n_user_defined; // user-defined ones first, then control/unknown
};

// --- vocab index

static uint64_t hash_bytes(const char *s, size_t n) { // FNV-1a
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)s[i]) * 0x100000001b3ull;
    return h;
}

static const char *tok_text(const struct qins_tokenizer *t, int32_t id, size_t *n) {
    *n = (size_t)(t->text_off[id + 1] - t->text_off[id]);
    return t->text_arena + t->text_off[id];
}

// Returns the id whose text is s[0..n), or -1.
static int32_t lookup(const struct qins_tokenizer *t, const char *s, size_t n) {
    uint64_t mask = t->hash_cap - 1, h = hash_bytes(s, n) & mask;
    for (;;) {
        uint32_t e = t->hash[h];
        if (e == 0) return -1;
        size_t len;
        const char *txt = tok_text(t, (int32_t)(e - 1), &len);
        if (len == n && !memcmp(txt, s, n)) return (int32_t)(e - 1);
        h = (h + 1) & mask;
    }
}

static void index_insert(struct qins_tokenizer *t, int32_t id) {
    size_t n;
    const char *s = tok_text(t, id, &n);
    uint64_t mask = t->hash_cap - 1, h = hash_bytes(s, n) & mask;
    for (;;) {
        uint32_t e = t->hash[h];
        size_t len = 0;
        const char *other = e ? tok_text(t, (int32_t)(e - 1), &len) : NULL;
        if (e == 0 || (len == n && !memcmp(other, s, n))) {
            t->hash[h] = (uint32_t)id + 1; // a duplicate text maps to the later id, as llama.cpp
            return;
        }
        h = (h + 1) & mask;
    }
}

// --- init

static int read_id(const qins_gguf_t *g, const char *key, int32_t def, int32_t n_vocab, int32_t *out) {
    uint32_t v;
    int st = qins_gguf_get_u32(g, key, &v);
    if (st == QINS_ERR_RANGE) {
        *out = def;
        return QINS_OK;
    }
    QINS_TRY(st);
    // llama.cpp treats an out-of-range id (the converters write 0xffffffff for "none") as absent.
    *out = v < (uint32_t)n_vocab ? (int32_t)v : -1;
    return QINS_OK;
}

static int read_flag(const qins_gguf_t *g, const char *key, bool def, bool *out) {
    int st = qins_gguf_get_bool(g, key, out);
    if (st == QINS_ERR_RANGE) {
        *out = def;
        return QINS_OK;
    }
    return st;
}

static int cmp_special(const void *a, const void *b, void *ctx) {
    const struct qins_tokenizer *t = ctx;
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    uint64_t lx = t->text_off[x + 1] - t->text_off[x], ly = t->text_off[y + 1] - t->text_off[y];
    if (lx != ly) return lx > ly ? -1 : 1;
    return x < y ? -1 : x > y;
}

static int build_pieces(struct qins_tokenizer *t) {
    uint64_t total = 0;
    for (int32_t i = 0; i < t->n_vocab; i++) total += t->text_off[i + 1] - t->text_off[i];
    t->piece_arena = malloc(total + 1);
    t->piece_off = malloc(((size_t)t->n_vocab + 1) * sizeof *t->piece_off);
    QINS_CHECK(t->piece_arena && t->piece_off, QINS_ERR_NOMEM, "out of memory");
    uint64_t pos = 0;
    for (int32_t i = 0; i < t->n_vocab; i++) {
        t->piece_off[i] = pos;
        size_t n;
        const char *s = tok_text(t, i, &n);
        switch (t->types[i]) {
        case QINS_TOKEN_NORMAL:
            for (size_t k = 0; k < n;) { // "▁" -> ' ' (3 bytes become 1, so the arena is big enough)
                if (n - k >= SPACE_ESC_LEN && !memcmp(s + k, SPACE_ESC, SPACE_ESC_LEN)) {
                    t->piece_arena[pos++] = ' ';
                    k += SPACE_ESC_LEN;
                } else {
                    t->piece_arena[pos++] = s[k++];
                }
            }
            break;
        case QINS_TOKEN_USER_DEFINED: // verbatim, as llama.cpp
            memcpy(t->piece_arena + pos, s, n);
            pos += n;
            break;
        case QINS_TOKEN_BYTE: {
            unsigned v;
            char tail;
            if (n == 6 && sscanf(s, "<0x%2x%c", &v, &tail) == 2 && tail == '>') t->piece_arena[pos++] = (char)v;
            break;
        }
        default: break; // control, unknown, unused: empty (QINS_TOK_DECODE_SPECIAL shows the text)
        }
    }
    t->piece_off[t->n_vocab] = pos;
    return QINS_OK;
}

static int init(const qins_gguf_t *g, struct qins_tokenizer *t) {
    char model[32];
    int st = qins_gguf_get_str(g, "tokenizer.ggml.model", model, sizeof model);
    QINS_CHECK(st != QINS_ERR_RANGE, QINS_ERR_FORMAT, "%s: no tokenizer.ggml.model key (no vocab in this GGUF)",
               qins_gguf_path(g));
    QINS_TRY(st);
    QINS_CHECK(!strcmp(model, "llama"), QINS_ERR_UNSUPPORTED,
               "%s: tokenizer model '%s' is not supported (only SentencePiece 'llama')", qins_gguf_path(g), model);
    const struct qins_gguf_str *toks;
    uint64_t n;
    st = qins_gguf_get_arr_str(g, "tokenizer.ggml.tokens", &toks, &n);
    QINS_CHECK(st != QINS_ERR_RANGE, QINS_ERR_FORMAT, "%s: no tokenizer.ggml.tokens", qins_gguf_path(g));
    QINS_TRY(st);
    QINS_CHECK(n >= 1 && n < (1u << 30), QINS_ERR_FORMAT, "%s: vocab of %llu tokens", qins_gguf_path(g),
               (unsigned long long)n);
    t->n_vocab = (int32_t)n;

    uint64_t total = 0;
    for (uint64_t i = 0; i < n; i++) total += toks[i].len;
    t->text_arena = malloc(total + 1);
    t->text_off = malloc((n + 1) * sizeof *t->text_off);
    t->scores = calloc(n, sizeof *t->scores);
    t->types = malloc(n * sizeof *t->types);
    QINS_CHECK(t->text_arena && t->text_off && t->scores && t->types, QINS_ERR_NOMEM, "out of memory");
    uint64_t pos = 0;
    for (uint64_t i = 0; i < n; i++) {
        t->text_off[i] = pos;
        memcpy(t->text_arena + pos, toks[i].data, toks[i].len);
        pos += toks[i].len;
    }
    t->text_off[n] = pos;

    const float *scores;
    uint64_t ns;
    st = qins_gguf_get_arr_f32(g, "tokenizer.ggml.scores", &scores, &ns);
    if (st != QINS_ERR_RANGE) { // absent: all 0, as llama.cpp
        QINS_TRY(st);
        QINS_CHECK(ns == n, QINS_ERR_FORMAT, "%s: %llu scores for %llu tokens", qins_gguf_path(g),
                   (unsigned long long)ns, (unsigned long long)n);
        memcpy(t->scores, (const void *)scores, n * sizeof *t->scores); // may be unaligned in the file
    }
    const int32_t *types;
    st = qins_gguf_get_arr_i32(g, "tokenizer.ggml.token_type", &types, &ns);
    if (st == QINS_ERR_RANGE) {
        for (uint64_t i = 0; i < n; i++) t->types[i] = QINS_TOKEN_NORMAL;
    } else {
        QINS_TRY(st);
        QINS_CHECK(ns == n, QINS_ERR_FORMAT, "%s: %llu token types for %llu tokens", qins_gguf_path(g),
                   (unsigned long long)ns, (unsigned long long)n);
        memcpy(t->types, (const void *)types, n * sizeof *t->types);
    }

    QINS_TRY(read_id(g, "tokenizer.ggml.bos_token_id", 1, t->n_vocab, &t->bos));
    QINS_TRY(read_id(g, "tokenizer.ggml.eos_token_id", 2, t->n_vocab, &t->eos));
    QINS_TRY(read_id(g, "tokenizer.ggml.unknown_token_id", 0, t->n_vocab, &t->unk));
    QINS_TRY(read_flag(g, "tokenizer.ggml.add_bos_token", true, &t->add_bos));
    QINS_TRY(read_flag(g, "tokenizer.ggml.add_eos_token", false, &t->add_eos));
    QINS_TRY(read_flag(g, "tokenizer.ggml.add_space_prefix", true, &t->add_space_prefix));

    t->hash_cap = 64;
    while (t->hash_cap < 2 * n) t->hash_cap *= 2;
    t->hash = calloc(t->hash_cap, sizeof *t->hash);
    QINS_CHECK(t->hash, QINS_ERR_NOMEM, "out of memory");
    for (int32_t i = 0; i < t->n_vocab; i++) index_insert(t, i);

    for (int b = 0; b < 256; b++) { // "<0xXX>", else the byte itself as a piece, else <unk>
        char buf[8];
        snprintf(buf, sizeof buf, "<0x%02X>", b);
        int32_t id = lookup(t, buf, 6);
        if (id < 0) {
            buf[0] = (char)b;
            id = lookup(t, buf, 1);
        }
        t->byte_to_id[b] = id >= 0 ? id : t->unk;
    }

    t->special = malloc(n * sizeof *t->special);
    QINS_CHECK(t->special, QINS_ERR_NOMEM, "out of memory");
    for (int pass = 0; pass < 2; pass++) { // user-defined first, then control/unknown
        int32_t start = t->n_special;
        for (int32_t i = 0; i < t->n_vocab; i++) {
            int ty = t->types[i];
            bool want = pass == 0 ? ty == QINS_TOKEN_USER_DEFINED : ty == QINS_TOKEN_CONTROL || ty == QINS_TOKEN_UNKNOWN;
            if (want && t->text_off[i + 1] > t->text_off[i]) t->special[t->n_special++] = i;
        }
        qsort_r(t->special + start, (size_t)(t->n_special - start), sizeof *t->special, cmp_special, t);
        if (pass == 0) t->n_user_defined = t->n_special;
    }
    return build_pieces(t);
}

int qins_tokenizer_init_gguf(const qins_gguf_t *g, struct qins_tokenizer **out) {
    QINS_CHECK(g && out, QINS_ERR_ARG, "NULL argument");
    *out = NULL;
    struct qins_tokenizer *t = calloc(1, sizeof *t);
    QINS_CHECK(t, QINS_ERR_NOMEM, "out of memory");
    int st = init(g, t);
    if (st < 0) {
        qins_tokenizer_free(t);
        return st;
    }
    *out = t;
    return QINS_OK;
}

void qins_tokenizer_free(struct qins_tokenizer *t) {
    if (!t) return;
    free(t->text_arena);
    free(t->text_off);
    free(t->scores);
    free(t->types);
    free(t->piece_arena);
    free(t->piece_off);
    free(t->hash);
    free(t->special);
    free(t);
}

// --- output id vector

struct ids {
    int32_t *v;
    size_t n, cap;
};

static int ids_push(struct ids *o, int32_t id) {
    if (o->n == o->cap) QINS_TRY(qins_grow(&o->v, &o->cap, o->n + 1, sizeof *o->v));
    o->v[o->n++] = id;
    return QINS_OK;
}

// --- SPM merge (llm_tokenizer_spm)

struct symbol {
    int32_t prev, next; // linked list of live symbols, -1 at the ends
    uint32_t off, n;    // bytes s[off .. off+n); n == 0 once merged into its left neighbour
};

struct bigram {
    float score;
    int32_t left, right;
    uint32_t size; // bytes of the merged text when queued: detects stale entries
};

struct heap {
    struct bigram *v;
    size_t n, cap;
};

// Higher score first; on equal scores the leftmost pair first (llama.cpp's comparator).
static bool before(const struct bigram *a, const struct bigram *b) {
    return a->score > b->score || (a->score == b->score && a->left < b->left);
}

static int heap_push(struct heap *h, struct bigram b) {
    if (h->n == h->cap) QINS_TRY(qins_grow(&h->v, &h->cap, h->n + 1, sizeof *h->v));
    size_t i = h->n++;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!before(&b, &h->v[p])) break;
        h->v[i] = h->v[p];
        i = p;
    }
    h->v[i] = b;
    return QINS_OK;
}

static struct bigram heap_pop(struct heap *h) {
    struct bigram top = h->v[0], last = h->v[--h->n];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= h->n) break;
        if (c + 1 < h->n && before(&h->v[c + 1], &h->v[c])) c++;
        if (!before(&h->v[c], &last)) break;
        h->v[i] = h->v[c];
        i = c;
    }
    if (h->n > 0) h->v[i] = last;
    return top;
}

static int try_add_bigram(const struct qins_tokenizer *t, const char *s, const struct symbol *sym, struct heap *h,
                          int32_t left, int32_t right) {
    if (left < 0 || right < 0) return QINS_OK;
    uint32_t size = sym[left].n + sym[right].n;
    int32_t id = lookup(t, s + sym[left].off, size);
    if (id < 0) return QINS_OK;
    return heap_push(h, (struct bigram){t->scores[id], left, right, size});
}

// Byte length of the UTF-8 sequence that lead byte c starts (llama.cpp's unicode_len_utf8).
static uint32_t utf8_len(unsigned char c) {
    static const uint8_t lookup_len[16] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4};
    return lookup_len[c >> 4];
}

// Tokenizes the escaped text s[0..n) (spaces already "▁") and appends the ids.
static int spm(const struct qins_tokenizer *t, const char *s, uint32_t n, struct ids *out) {
    if (n == 0) return QINS_OK;
    struct symbol *sym = malloc((size_t)n * sizeof *sym);
    struct heap h = {0};
    QINS_CHECK(sym, QINS_ERR_NOMEM, "out of memory for %u symbols", n);
    int st = QINS_OK;
    int32_t n_sym = 0;
    for (uint32_t off = 0; off < n; n_sym++) {
        uint32_t len = utf8_len((unsigned char)s[off]);
        if (len > n - off) len = n - off;
        sym[n_sym] = (struct symbol){n_sym - 1, off + len == n ? -1 : n_sym + 1, off, len};
        off += len;
    }
    for (int32_t i = 1; i < n_sym && st == QINS_OK; i++) st = try_add_bigram(t, s, sym, &h, i - 1, i);
    while (h.n > 0 && st == QINS_OK) {
        struct bigram b = heap_pop(&h);
        struct symbol *l = &sym[b.left], *r = &sym[b.right];
        if (l->n == 0 || r->n == 0 || l->n + r->n != b.size) continue; // stale: a side merged since
        l->n += r->n;
        r->n = 0;
        l->next = r->next;
        if (r->next >= 0) sym[r->next].prev = b.left;
        st = try_add_bigram(t, s, sym, &h, l->prev, b.left);
        if (st == QINS_OK) st = try_add_bigram(t, s, sym, &h, b.left, l->next);
    }
    for (int32_t i = 0; i != -1 && st == QINS_OK; i = sym[i].next) {
        int32_t id = lookup(t, s + sym[i].off, sym[i].n);
        if (id >= 0) {
            st = ids_push(out, id);
        } else { // not a piece: one byte token per byte
            for (uint32_t k = 0; k < sym[i].n && st == QINS_OK; k++)
                st = ids_push(out, t->byte_to_id[(unsigned char)s[sym[i].off + k]]);
        }
    }
    free(sym);
    free(h.v);
    return st;
}

// --- special-token partition (llama.cpp's tokenizer_st_partition, without lstrip/rstrip)

struct fragment {
    size_t off, len; // raw text, or
    int32_t id;      // >= 0: a special token
};

struct fragments {
    struct fragment *v;
    size_t n, cap;
};

static int frag_push(struct fragments *f, struct fragment x) {
    if (f->n == f->cap) QINS_TRY(qins_grow(&f->v, &f->cap, f->n + 1, sizeof *f->v));
    f->v[f->n++] = x;
    return QINS_OK;
}

// Splits every raw fragment at each occurrence of each special token text, longest first.
static int partition(const struct qins_tokenizer *t, const char *text, size_t len, int32_t n_special,
                     struct fragments *frags) {
    QINS_TRY(frag_push(frags, (struct fragment){0, len, -1}));
    for (int32_t k = 0; k < n_special; k++) {
        size_t tl;
        const char *tt = tok_text(t, t->special[k], &tl);
        struct fragments next = {0};
        int st = QINS_OK;
        for (size_t i = 0; i < frags->n && st == QINS_OK; i++) {
            struct fragment f = frags->v[i];
            if (f.id >= 0) {
                st = frag_push(&next, f);
                continue;
            }
            size_t pos = f.off, end = f.off + f.len;
            while (st == QINS_OK) {
                const char *hit = end - pos >= tl ? memmem(text + pos, end - pos, tt, tl) : NULL;
                if (!hit) {
                    if (end > pos) st = frag_push(&next, (struct fragment){pos, end - pos, -1});
                    break;
                }
                size_t at = (size_t)(hit - text);
                if (at > pos) st = frag_push(&next, (struct fragment){pos, at - pos, -1});
                if (st == QINS_OK) st = frag_push(&next, (struct fragment){at, tl, t->special[k]});
                pos = at + tl;
            }
        }
        free(frags->v);
        *frags = next;
        QINS_TRY(st);
    }
    return QINS_OK;
}

int qins_tokenizer_encode_ex(const struct qins_tokenizer *t, const char *text, size_t len, unsigned flags,
                             int32_t **ids, size_t *n) {
    QINS_CHECK(t && ids && n && (text || len == 0), QINS_ERR_ARG, "NULL argument");
    QINS_CHECK(len < (1u << 30), QINS_ERR_RANGE, "text of %zu bytes is too long to tokenize at once", len);
    struct ids out = {0};
    struct fragments frags = {0};
    char *buf = NULL;
    int st = QINS_OK;
    if ((flags & QINS_TOK_ADD_BOS)) {
        if (t->bos < 0) {
            qins_log_error_at(__FILE__, __LINE__, __func__, "the vocab has no BOS token");
            st = QINS_ERR_STATE;
            goto done;
        }
        if ((st = ids_push(&out, t->bos)) < 0) goto done;
    }
    if (len > 0) {
        int32_t n_special = flags & QINS_TOK_PARSE_SPECIAL ? t->n_special : t->n_user_defined;
        if ((st = partition(t, text, len, n_special, &frags)) < 0) goto done;
        // Worst case every byte is a space and becomes "▁", plus the prefix.
        buf = malloc(3 * len + SPACE_ESC_LEN);
        if (!buf) {
            qins_log_error_at(__FILE__, __LINE__, __func__, "out of memory");
            st = QINS_ERR_NOMEM;
            goto done;
        }
        bool prev_special = true; // the start of the text counts as "after a special token"
        for (size_t i = 0; i < frags.n && st == QINS_OK; i++) {
            const struct fragment *f = &frags.v[i];
            if (f->id >= 0) {
                st = ids_push(&out, f->id);
                prev_special = true;
                continue;
            }
            uint32_t m = 0;
            if (t->add_space_prefix && prev_special) { // SentencePiece's dummy prefix
                memcpy(buf, SPACE_ESC, SPACE_ESC_LEN);
                m = SPACE_ESC_LEN;
            }
            for (size_t k = 0; k < f->len; k++) {
                char c = text[f->off + k];
                if (c == ' ') {
                    memcpy(buf + m, SPACE_ESC, SPACE_ESC_LEN);
                    m += SPACE_ESC_LEN;
                } else {
                    buf[m++] = c;
                }
            }
            st = spm(t, buf, m, &out);
            prev_special = false;
        }
        if (st < 0) goto done;
    }
    if ((flags & QINS_TOK_ADD_EOS) && t->eos >= 0) st = ids_push(&out, t->eos);
    if (st == QINS_OK && !out.v) { // callers get a freeable pointer even for no ids
        out.v = malloc(sizeof *out.v);
        if (!out.v) {
            qins_log_error_at(__FILE__, __LINE__, __func__, "out of memory");
            st = QINS_ERR_NOMEM;
        }
    }
done:
    free(buf);
    free(frags.v);
    if (st < 0) {
        free(out.v);
        *ids = NULL;
        *n = 0;
        return st;
    }
    *ids = out.v;
    *n = out.n;
    return QINS_OK;
}

int qins_tokenizer_encode(const struct qins_tokenizer *t, const char *text, size_t len, bool add_bos, int32_t **ids,
                          size_t *n) {
    return qins_tokenizer_encode_ex(t, text, len, add_bos ? QINS_TOK_ADD_BOS : 0, ids, n);
}

// --- decode

int qins_tokenizer_piece(const struct qins_tokenizer *t, int32_t id, const char **piece, size_t *len) {
    QINS_CHECK(t && id >= 0 && id < t->n_vocab, QINS_ERR_RANGE, "token id %d outside the vocab (%d)", (int)id,
               t ? (int)t->n_vocab : 0);
    *piece = t->piece_arena + t->piece_off[id];
    *len = (size_t)(t->piece_off[id + 1] - t->piece_off[id]);
    return QINS_OK;
}

int qins_tokenizer_token_text(const struct qins_tokenizer *t, int32_t id, const char **text, size_t *len) {
    QINS_CHECK(t && id >= 0 && id < t->n_vocab, QINS_ERR_RANGE, "token id %d outside the vocab (%d)", (int)id,
               t ? (int)t->n_vocab : 0);
    *text = tok_text(t, id, len);
    return QINS_OK;
}

// The piece of a valid id under the decode flags.
static void piece_for(const struct qins_tokenizer *t, int32_t id, unsigned flags, const char **p, size_t *n) {
    int ty = t->types[id];
    if ((flags & QINS_TOK_DECODE_SPECIAL) && (ty == QINS_TOKEN_CONTROL || ty == QINS_TOKEN_UNKNOWN)) {
        *p = tok_text(t, id, n);
    } else {
        *p = t->piece_arena + t->piece_off[id];
        *n = (size_t)(t->piece_off[id + 1] - t->piece_off[id]);
    }
}

int qins_tokenizer_decode(const struct qins_tokenizer *t, const int32_t *ids, size_t n, unsigned flags, char **text,
                          size_t *len) {
    QINS_CHECK(t && text && len && (ids || n == 0), QINS_ERR_ARG, "NULL argument");
    size_t total = 0;
    for (size_t i = 0; i < n; i++) {
        QINS_CHECK(ids[i] >= 0 && ids[i] < t->n_vocab, QINS_ERR_RANGE, "token id %d (position %zu) outside the vocab (%d)",
                   (int)ids[i], i, (int)t->n_vocab);
        const char *p;
        size_t pn;
        piece_for(t, ids[i], flags, &p, &pn);
        total += pn;
    }
    char *s = malloc(total + 1);
    QINS_CHECK(s, QINS_ERR_NOMEM, "out of memory");
    size_t pos = 0;
    for (size_t i = 0; i < n; i++) {
        const char *p;
        size_t pn;
        piece_for(t, ids[i], flags, &p, &pn);
        if (i == 0 && (flags & QINS_TOK_DECODE_STRIP_SPACE) && t->add_space_prefix && pn > 0 && p[0] == ' ') p++, pn--;
        memcpy(s + pos, p, pn);
        pos += pn;
    }
    s[pos] = 0;
    *text = s;
    *len = pos;
    return QINS_OK;
}

int32_t qins_tokenizer_n_vocab(const struct qins_tokenizer *t) { return t->n_vocab; }
int32_t qins_tokenizer_bos(const struct qins_tokenizer *t) { return t->bos; }
int32_t qins_tokenizer_eos(const struct qins_tokenizer *t) { return t->eos; }
int32_t qins_tokenizer_unk(const struct qins_tokenizer *t) { return t->unk; }
bool qins_tokenizer_add_bos(const struct qins_tokenizer *t) { return t->add_bos; }
int qins_tokenizer_token_type(const struct qins_tokenizer *t, int32_t id) {
    return id >= 0 && id < t->n_vocab ? t->types[id] : 0;
}
