// core/survey.c — see survey.h. The statistics are counts (uint64) so that 1000 windows of codes
// add up exactly; entropies are computed from them when asked.
#include "survey.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "entropy.h"
#include "huffman.h"
#include "kv_paged.h"
#include "util.h"

int qins_survey_weight(const struct qins_codec_params *p, const float *x, size_t rows, size_t cols, int with_zstd,
                       uint64_t *hist, struct qins_coding_sizes *sizes) {
    const int lossy = qins_codec_is_lossy(p);
    QINS_CHECK(lossy || p->codec == QINS_CODEC_FP16 || p->codec == QINS_CODEC_BF16, QINS_ERR_ARG,
               "survey: codec %d has no codes to count (FP32)", (int)p->codec);
    const size_t n = rows * cols, ng = qins_codec_n_groups(p, rows, cols);
    const int bits = qins_codec_code_bits(p);
    uint16_t *codes = malloc((n ? n : 1) * sizeof *codes);
    float *scales = malloc((ng ? ng : 1) * sizeof *scales), *extra = malloc((ng ? ng : 1) * sizeof *extra);
    int st = codes && scales && extra ? 0 : QINS_ERR_NOMEM;
    if (st) qins_log(QINS_LOG_ERROR, "survey: out of memory for %zu codes", n);
    if (st == 0) st = qins_codec_quantize(p, x, rows, cols, codes, scales, extra);
    if (st == 0 && hist) st = qins_entropy_histogram(codes, n, hist, (size_t)1 << bits);
    // What the codec stores beside the codes: an FP16 scale per group, and QINS_LOG's FP16 range.
    const uint64_t meta = lossy ? (uint64_t)ng * 2 * (p->codec == QINS_CODEC_QINS_LOG ? 2 : 1) : 0;
    if (st == 0) st = qins_coding_sizes(codes, rows, cols, bits, meta, with_zstd, sizes);
    free(codes);
    free(scales);
    free(extra);
    return st;
}

// ---- activations

const enum qins_site qins_survey_act_sites[QINS_SURVEY_ACT_SITES] = {
    QINS_SITE_ATTN_IN, QINS_SITE_Q,  QINS_SITE_K,       QINS_SITE_V,      QINS_SITE_ATTN_OUT, QINS_SITE_O,
    QINS_SITE_FFN_IN,  QINS_SITE_GATE, QINS_SITE_UP,    QINS_SITE_FFN_ACT, QINS_SITE_DOWN};

static int site_index(enum qins_site site) {
    for (int i = 0; i < QINS_SURVEY_ACT_SITES; i++)
        if (qins_survey_act_sites[i] == site) return i;
    return -1;
}

int qins_act_survey_init(struct qins_act_survey *a, int n_layer, int bits, float qins_alpha) {
    memset(a, 0, sizeof *a);
    QINS_CHECK(n_layer > 0 && bits >= 2 && bits <= 12, QINS_ERR_ARG, "activation survey: %d layers, %d bits", n_layer,
               bits);
    a->n_layer = n_layer, a->bits = bits;
    const char *kinds[QINS_SURVEY_ACT_CODECS] = {"qins", "int"};
    for (int c = 0; c < QINS_SURVEY_ACT_CODECS; c++) {
        char name[16];
        qins_codec_params_default(&a->codec[c]);
        snprintf(name, sizeof name, "%s%d", kinds[c], bits);
        QINS_TRY(qins_codec_parse(name, &a->codec[c]));
        a->codec[c].granularity = QINS_GRAN_PER_ROW; // one scale per token, as a KV page per token
        a->codec[c].alpha = qins_alpha;
        QINS_TRY(qins_codec_validate(&a->codec[c]));
    }
    const size_t cells = (size_t)n_layer * QINS_SURVEY_ACT_SITES;
    a->hist = calloc(cells * QINS_SURVEY_ACT_CODECS << bits, sizeof *a->hist);
    a->values = calloc(cells, sizeof *a->values);
    QINS_CHECK(a->hist && a->values, QINS_ERR_NOMEM, "out of memory");
    return 0;
}

void qins_act_survey_free(struct qins_act_survey *a) {
    if (!a) return;
    free(a->hist);
    free(a->values);
    free(a->codes);
    free(a->scales);
    memset(a, 0, sizeof *a);
}

static uint64_t *act_hist(const struct qins_act_survey *a, int layer, int site, int codec) {
    return a->hist + (((size_t)layer * QINS_SURVEY_ACT_SITES + site) * QINS_SURVEY_ACT_CODECS + codec) * ((size_t)1 << a->bits);
}

void qins_act_survey_observe(void *user, int layer, enum qins_site site, const float *x, int n_tok, int dim) {
    struct qins_act_survey *a = user;
    const int si = site_index(site);
    if (a->status || si < 0 || layer < 0 || layer >= a->n_layer || n_tok <= 0 || dim <= 0) return;
    const size_t n = (size_t)n_tok * dim;
    if (n > a->cap) {
        free(a->codes);
        free(a->scales);
        a->codes = malloc(n * sizeof *a->codes);
        a->scales = malloc((size_t)n_tok * 2 * sizeof *a->scales); // per row; QINS_LOG-sized extra unused
        a->cap = a->codes && a->scales ? n : 0;
        if (!a->cap) {
            a->status = QINS_ERR_NOMEM;
            qins_log(QINS_LOG_ERROR, "activation survey: out of memory for %zu values", n);
            return;
        }
    }
    for (int c = 0; c < QINS_SURVEY_ACT_CODECS && !a->status; c++) {
        int st = qins_codec_quantize(&a->codec[c], x, (size_t)n_tok, (size_t)dim, a->codes, a->scales, NULL);
        if (st == 0) st = qins_entropy_histogram(a->codes, n, act_hist(a, layer, si, c), (size_t)1 << a->bits);
        if (st) {
            a->status = st;
            qins_log(QINS_LOG_ERROR, "activation survey: layer %d %s: cannot encode (%s)", layer, qins_site_name(site),
                     qins_status_str(st));
        }
    }
    if (!a->status) a->values[(size_t)layer * QINS_SURVEY_ACT_SITES + si] += n;
}

const uint64_t *qins_act_survey_hist(const struct qins_act_survey *a, int layer, int site, int codec) {
    return act_hist(a, layer, site, codec);
}

double qins_act_survey_entropy(const struct qins_act_survey *a, int layer, int site, int codec) {
    return qins_entropy_bits(act_hist(a, layer, site, codec), (size_t)1 << a->bits);
}

// ---- KV pages

int qins_kv_survey_init(struct qins_kv_survey *s, int n_layer, int kv_dim, int bits, int page_tokens) {
    memset(s, 0, sizeof *s);
    QINS_CHECK(n_layer > 0 && kv_dim > 0 && bits >= 2 && bits <= 12 && page_tokens > 0, QINS_ERR_ARG,
               "KV survey: %d layers, kv_dim %d, %d bits, pages of %d tokens", n_layer, kv_dim, bits, page_tokens);
    s->n_layer = n_layer, s->kv_dim = kv_dim, s->bits = bits, s->page_tokens = page_tokens;
    s->l = calloc((size_t)n_layer * 2, sizeof *s->l);
    s->codes = malloc((size_t)page_tokens * kv_dim * sizeof *s->codes);
    QINS_CHECK(s->l && s->codes, QINS_ERR_NOMEM, "out of memory");
    for (int i = 0; i < n_layer * 2; i++) {
        s->l[i].hist = calloc((size_t)1 << bits, sizeof *s->l[i].hist);
        QINS_CHECK(s->l[i].hist, QINS_ERR_NOMEM, "out of memory");
    }
    return 0;
}

void qins_kv_survey_free(struct qins_kv_survey *s) {
    if (!s) return;
    for (int i = 0; s->l && i < s->n_layer * 2; i++) free(s->l[i].hist);
    free(s->l);
    free(s->codes);
    memset(s, 0, sizeof *s);
}

static int add_page(struct qins_kv_survey *s, struct qins_kv_survey_layer *L, const struct qins_codec_params *p,
                    const uint8_t *payload, size_t len) {
    const size_t T = (size_t)s->page_tokens, D = (size_t)s->kv_dim, n = T * D, nsym = (size_t)1 << s->bits;
    QINS_TRY(qins_codec_unpack_codes(p, payload, len, T, D, s->codes));
    QINS_TRY(qins_entropy_histogram(s->codes, n, L->hist, nsym));
    for (size_t t = 1; t < T; t++)
        for (size_t c = 0; c < D; c++) L->same_as_prev += s->codes[t * D + c] == s->codes[(t - 1) * D + c];
    L->neighbours += (T - 1) * D;
    // The page's scales (and anything else beside the codes) stay as they are under every coding.
    const size_t code_bytes = (n * (size_t)s->bits + 7) / 8, meta = len > code_bytes ? len - code_bytes : 0;
    size_t h, r;
    QINS_TRY(qins_huffman_encode(s->codes, n, nsym, 0, NULL, 0, &h));
    QINS_TRY(qins_huffman_encode(s->codes, n, nsym, 1, NULL, 0, &r));
    L->pages++, L->codes += n, L->bitpack_bytes += len;
    L->huffman_bytes += h + meta, L->rle_huffman_bytes += r + meta;
    return 0;
}

int qins_kv_survey_add(struct qins_kv_survey *s, const struct qins_kv_store *store) {
    struct qins_kv_paged_stats ps;
    QINS_CHECK(qins_kv_paged_stats(store, &ps) == 1, QINS_ERR_ARG, "KV survey: not a paged KV store");
    QINS_CHECK(ps.page_tokens == s->page_tokens && store->kv_dim == s->kv_dim && store->n_layer == s->n_layer,
               QINS_ERR_ARG, "KV survey: store has pages of %d tokens, kv_dim %d, %d layers; expected %d, %d, %d",
               ps.page_tokens, store->kv_dim, store->n_layer, s->page_tokens, s->kv_dim, s->n_layer);
    const int pages = store->n_pos / s->page_tokens;
    for (int l = 0; l < s->n_layer; l++)
        for (int which = 0; which < 2; which++)
            for (int pg = 0; pg < pages; pg++) {
                const uint8_t *payload;
                size_t len;
                struct qins_codec_params p;
                QINS_TRY(qins_kv_paged_page(store, l, which, pg, &payload, &len, &p));
                if (!qins_codec_is_lossy(&p)) break; // a layer kept in FP16/FP32: no codes
                QINS_CHECK(p.bits == s->bits, QINS_ERR_ARG, "KV survey: layer %d codes have %d bits, expected %d", l,
                           p.bits, s->bits);
                QINS_TRY(add_page(s, &s->l[l * 2 + which], &p, payload, len));
            }
    return 0;
}

const struct qins_kv_survey_layer *qins_kv_survey_get(const struct qins_kv_survey *s, int layer, int which) {
    return &s->l[layer * 2 + which];
}
