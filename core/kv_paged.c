// core/kv_paged.c — paged codec KV store and the --kv spec parser.
#include "kv_paged.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "util.h"
#include "lut_decode.h"
#include "pack.h"
#include "page.h"

// One stream = the K or the V cache of one layer.
struct stream {
    struct qins_codec_params p;
    int page_tokens;
    size_t page_bytes;      // encoded payload of a full page (no header)
    int n_pages;            // full, encoded pages
    uint8_t *pages;         // (max_pages, QINS_PAGE_KV_HEADER_BYTES + page_bytes): core/page.h KV pages
    float *fill;            // (page_tokens, kv_dim): the page being filled, FP32
    int n_fill;
    float *lut;             // (2^k) code values in units of the scale, built once (INT/NF/QINS
                            // pages with row/tensor/group scales); NULL = decode via qins_codec_decode
    size_t n_groups;        // scale groups of one page
    int n_verified;         // fused=once: pages 0 .. n_verified-1 have passed their check
    char name[96];          // "kv store 'int8' layer 3 V": labels a corrupt page's error line
};

struct kv_paged {
    struct qins_kv_store base;
    struct qins_kv_spec spec;
    struct stream *k, *v;   // (n_layer)
    float *k_view, *v_view; // (n_ctx, kv_dim) scratch, one layer at a time
    uint16_t *codes;        // (kv_dim) one row of unpacked codes (k != 8)
    float *scales;          // (max groups of a page) decoded FP16 scales
    struct qins_kv_paged_stats stats;
};

// ---- page coding

static size_t page_stride(const struct stream *st) { return QINS_PAGE_KV_HEADER_BYTES + st->page_bytes; }

static int encode_page(struct kv_paged *s, struct stream *st) {
    const int kv_dim = s->base.kv_dim;
    uint8_t *page = st->pages + (size_t)st->n_pages * page_stride(st);
    double t0 = qins_time_now();
    size_t written;
    QINS_TRY(qins_page_kv_write(&st->p, st->fill, (size_t)st->page_tokens, (size_t)kv_dim, page, page_stride(st),
                                &written));
    s->stats.encode_seconds += qins_time_now() - t0;
    s->stats.pages_encoded++;
    st->n_pages++;
    st->n_fill = 0;
    s->base.bytes_written += written;
    return 0;
}

// Checks page pg of a stream (header against the stream's codec, CRC-32C) and points *payload
// at its codes. Returns 0 or QINS_ERR_FORMAT with one line naming the layer, K/V and page.
static int page_payload(const struct stream *st, int kv_dim, int pg, const uint8_t **payload) {
    size_t len;
    return qins_page_kv_check(st->pages + (size_t)pg * page_stride(st), page_stride(st), &st->p,
                              (size_t)st->page_tokens, (size_t)kv_dim, st->name, pg, payload, &len);
}

static int stream_append(struct kv_paged *s, struct stream *st, const float *rows, int n_tok) {
    const int kv_dim = s->base.kv_dim;
    for (int t = 0; t < n_tok; t++) {
        memcpy(st->fill + (size_t)st->n_fill * kv_dim, rows + (size_t)t * kv_dim, kv_dim * sizeof(float));
        if (++st->n_fill == st->page_tokens) QINS_TRY(encode_page(s, st));
    }
    return 0;
}

// The page's scales as its decode checks them (finite, 0 .. 65504): for the fused reads, which
// never decode the page.
static int check_scales(const struct stream *st, const uint8_t *payload) {
    for (size_t g = 0; g < st->n_groups; g++) {
        const float s = qins_fp16_to_f32((uint16_t)(payload[2 * g] | (payload[2 * g + 1] << 8)));
        QINS_CHECK(s >= 0 && s <= 65504.0f, QINS_ERR_FORMAT, "%s: page scale %zu is %g (corrupt page)", st->name, g,
                   (double)s);
    }
    return 0;
}

// Decodes one page's payload into out (page_tokens, kv_dim) with the stream's prebuilt LUT:
// the same arithmetic as qins_codec_decode (lut[code] * scale through the same kernels), so
// the result is bit-identical, without rebuilding the table or allocating per page.
static int decode_page_lut(struct kv_paged *s, const struct stream *st, const uint8_t *payload, float *out) {
    const size_t cols = (size_t)s->base.kv_dim, rows = (size_t)st->page_tokens, ng = st->n_groups;
    for (size_t g = 0; g < ng; g++) {
        s->scales[g] = qins_fp16_to_f32((uint16_t)(payload[2 * g] | (payload[2 * g + 1] << 8)));
        QINS_CHECK(s->scales[g] >= 0 && s->scales[g] <= 65504.0f, QINS_ERR_FORMAT,
                   "kv store: page scale %zu is %g (corrupt page)", g, (double)s->scales[g]);
    }
    const uint8_t *cs = payload + 2 * ng;
    const size_t cs_len = st->page_bytes - 2 * ng;
    const int k = st->p.bits;
    const size_t seg = st->p.granularity == QINS_GRAN_PER_GROUP ? (size_t)st->p.group_size : cols;
    for (size_t r = 0; r < rows; r++) {
        const uint8_t *c8 = k == 8 ? cs + r * cols : NULL;
        if (!c8) qins_unpack(cs, cs_len, r * cols, cols, k, s->codes);
        for (size_t c0 = 0; c0 < cols; c0 += seg) {
            const size_t len = cols - c0 < seg ? cols - c0 : seg;
            const float scale = s->scales[qins_codec_group_of(&st->p, rows, cols, r, c0)];
            if (c8) qins_lut_decode_u8(c8 + c0, len, st->lut, scale, out + r * cols + c0);
            else qins_lut_decode_u16(s->codes + c0, len, st->lut, scale, out + r * cols + c0);
        }
    }
    return 0;
}

// Decodes every full page into view rows and copies the fill rows after them.
static int stream_view(struct kv_paged *s, struct stream *st, float *view, int n_pos) {
    const int kv_dim = s->base.kv_dim;
    const size_t page_floats = (size_t)st->page_tokens * kv_dim;
    QINS_CHECK(n_pos <= st->n_pages * st->page_tokens + st->n_fill, QINS_ERR_RANGE,
               "kv store: view of %d positions, only %d written", n_pos, st->n_pages * st->page_tokens + st->n_fill);
    const double t0 = qins_time_now(); // one clock read per view, not per page: pages are < 1 us
    for (int pg = 0; pg < st->n_pages; pg++) {
        const uint8_t *payload;
        QINS_TRY(page_payload(st, kv_dim, pg, &payload));
        if (st->lut) QINS_TRY(decode_page_lut(s, st, payload, view + pg * page_floats));
        else
            QINS_TRY(qins_codec_decode(&st->p, payload, st->page_bytes, (size_t)st->page_tokens, (size_t)kv_dim,
                                       view + pg * page_floats));
    }
    if (st->n_pages) {
        s->stats.decode_seconds += qins_time_now() - t0;
        s->stats.pages_decoded += (uint64_t)st->n_pages;
        s->base.bytes_read += (uint64_t)st->n_pages * page_stride(st);
    }
    memcpy(view + st->n_pages * page_floats, st->fill, (size_t)st->n_fill * kv_dim * sizeof(float));
    s->base.bytes_read += (size_t)st->n_fill * kv_dim * sizeof(float);
    return 0;
}

// Whether the coded-page kernels take this stream (a LUT codec with page, row or group scales).
static bool stream_fusable(const struct stream *st) {
    return st->lut && st->p.bits <= 12 && st->p.granularity != QINS_GRAN_PER_COLUMN;
}

// The coded view of one stream: pages checked (all, or those not yet checked under fused=once),
// the kernels' descriptor, bytes counted as stream_view counts them.
static int stream_view_coded(struct kv_paged *s, struct stream *st, int n_pos, struct qins_attn_coded *out) {
    const int kv_dim = s->base.kv_dim;
    QINS_CHECK(n_pos <= st->n_pages * st->page_tokens + st->n_fill, QINS_ERR_RANGE,
               "kv store: view of %d positions, only %d written", n_pos, st->n_pages * st->page_tokens + st->n_fill);
    for (int pg = s->spec.fused == 2 ? st->n_verified : 0; pg < st->n_pages; pg++) {
        const uint8_t *payload;
        QINS_TRY(page_payload(st, kv_dim, pg, &payload));
        QINS_TRY(check_scales(st, payload));
    }
    st->n_verified = st->n_pages;
    static const enum qins_attn_scales scales[] = {[QINS_GRAN_PER_TENSOR] = QINS_ATTN_SCALE_PAGE,
                                                   [QINS_GRAN_PER_ROW] = QINS_ATTN_SCALE_ROW,
                                                   [QINS_GRAN_PER_COLUMN] = QINS_ATTN_SCALE_ROW, // never fused
                                                   [QINS_GRAN_PER_GROUP] = QINS_ATTN_SCALE_GROUP};
    *out = (struct qins_attn_coded){st->pages + QINS_PAGE_KV_HEADER_BYTES, page_stride(st), st->page_tokens, kv_dim,
                                    st->p.bits, scales[st->p.granularity], st->p.group_size, st->lut};
    s->stats.pages_fused += (uint64_t)st->n_pages;
    s->base.bytes_read += (uint64_t)st->n_pages * page_stride(st) + (size_t)st->n_fill * kv_dim * sizeof(float);
    return 0;
}

static size_t stream_bytes(const struct stream *st, int kv_dim) {
    return (size_t)st->n_pages * page_stride(st) + (size_t)st->n_fill * kv_dim * sizeof(float);
}

// ---- store interface

static int paged_append(struct qins_kv_store *b, int layer, int pos, int n_tok, const float *k, const float *v) {
    struct kv_paged *s = (struct kv_paged *)b;
    QINS_CHECK(layer >= 0 && layer < b->n_layer, QINS_ERR_RANGE, "kv store: layer %d of %d", layer, b->n_layer);
    struct stream *sk = &s->k[layer], *sv = &s->v[layer];
    const int written = sk->n_pages * sk->page_tokens + sk->n_fill;
    // Pages are append-only: a sequence restarts only through clear().
    QINS_CHECK(pos == written, QINS_ERR_STATE, "paged kv store: append at position %d, expected %d (clear first)", pos,
               written);
    QINS_CHECK(pos + n_tok <= b->n_ctx, QINS_ERR_RANGE, "kv store: positions %d..%d exceed the context of %d", pos,
               pos + n_tok - 1, b->n_ctx);
    QINS_TRY(stream_append(s, sk, k, n_tok));
    QINS_TRY(stream_append(s, sv, v, n_tok));
    if (layer == b->n_layer - 1) b->n_pos = pos + n_tok;
    return 0;
}

static int paged_view(struct qins_kv_store *b, int layer, int n_pos, const float **k, const float **v) {
    struct kv_paged *s = (struct kv_paged *)b;
    QINS_CHECK(layer >= 0 && layer < b->n_layer && n_pos >= 0 && n_pos <= b->n_ctx, QINS_ERR_RANGE,
               "kv store: view of layer %d, %d positions", layer, n_pos);
    // Every read decodes the layer's pages again: the cache holds codes only, as a compressed
    // cache must, and the decode time is what the phase measures.
    QINS_TRY(stream_view(s, &s->k[layer], s->k_view, n_pos));
    QINS_TRY(stream_view(s, &s->v[layer], s->v_view, n_pos));
    *k = s->k_view;
    *v = s->v_view;
    return 0;
}

static int paged_view_coded(struct qins_kv_store *b, int layer, int n_pos, struct qins_attn_paged *out) {
    struct kv_paged *s = (struct kv_paged *)b;
    QINS_CHECK(layer >= 0 && layer < b->n_layer && n_pos >= 0 && n_pos <= b->n_ctx, QINS_ERR_RANGE,
               "kv store: view of layer %d, %d positions", layer, n_pos);
    struct stream *sk = &s->k[layer], *sv = &s->v[layer];
    if (!stream_fusable(sk) || !stream_fusable(sv) || sk->page_tokens != sv->page_tokens) return 0;
    QINS_TRY(stream_view_coded(s, sk, n_pos, &out->k));
    QINS_TRY(stream_view_coded(s, sv, n_pos, &out->v));
    out->n_coded = sk->n_pages * sk->page_tokens;
    out->fill_k = sk->fill;
    out->fill_v = sv->fill;
    return 1;
}

static void paged_clear(struct qins_kv_store *b) {
    struct kv_paged *s = (struct kv_paged *)b;
    for (int l = 0; l < b->n_layer; l++) {
        s->k[l].n_pages = s->k[l].n_fill = s->k[l].n_verified = 0;
        s->v[l].n_pages = s->v[l].n_fill = s->v[l].n_verified = 0;
    }
    b->n_pos = 0;
}

static size_t paged_bytes(const struct qins_kv_store *b) {
    const struct kv_paged *s = (const struct kv_paged *)b;
    size_t total = 0;
    for (int l = 0; l < b->n_layer; l++) total += stream_bytes(&s->k[l], b->kv_dim) + stream_bytes(&s->v[l], b->kv_dim);
    return total;
}

static void paged_free(struct qins_kv_store *b) {
    struct kv_paged *s = (struct kv_paged *)b;
    for (int l = 0; s->k && l < b->n_layer; l++) free(s->k[l].pages), free(s->k[l].fill), free(s->k[l].lut);
    for (int l = 0; s->v && l < b->n_layer; l++) free(s->v[l].pages), free(s->v[l].fill), free(s->v[l].lut);
    free(s->k), free(s->v), free(s->k_view), free(s->v_view), free(s->codes), free(s->scales);
    free(s);
}

static const struct qins_kv_store_vtable paged_vt = {paged_append, paged_view, paged_clear, paged_bytes, paged_free};
// the same store with the coded view (spec option `fused`)
static const struct qins_kv_store_vtable paged_fused_vt = {paged_append, paged_view, paged_clear, paged_bytes,
                                                           paged_free, NULL, paged_view_coded};
static bool is_paged(const struct qins_kv_store *b) { return b->vt == &paged_vt || b->vt == &paged_fused_vt; }

// ---- construction

static int tokens_per_page(const struct qins_kv_spec *spec, const struct qins_codec_params *p, int kv_dim, int *out) {
    if (spec->page_tokens > 0) {
        *out = spec->page_tokens;
        return 0;
    }
    size_t token_bytes = qins_codec_encoded_bytes(p, 1, (size_t)kv_dim);
    QINS_CHECK(token_bytes > 0, QINS_ERR_ARG, "kv spec '%s': invalid codec parameters", spec->name);
    QINS_CHECK(spec->page_bytes >= (int)token_bytes, QINS_ERR_ARG,
               "kv spec '%s': a page of %d bytes is smaller than one token (%zu bytes of codes for %d values)",
               spec->name, spec->page_bytes, token_bytes, kv_dim);
    *out = spec->page_bytes / (int)token_bytes;
    return 0;
}

static bool layer_kept(const struct qins_kv_spec *spec, int layer, int n_layer) {
    for (int i = 0; i < spec->n_override; i++) {
        int l = spec->override_layers[i] < 0 ? n_layer + spec->override_layers[i] : spec->override_layers[i];
        if (l == layer) return true;
    }
    return false;
}

static int stream_init(struct stream *st, const struct qins_kv_spec *spec, const struct qins_codec_params *p,
                       int n_ctx, int kv_dim, int layer, char which) {
    st->p = *p;
    snprintf(st->name, sizeof st->name, "kv store '%s' layer %d %c", spec->name, layer, which);
    QINS_TRY(qins_codec_validate(p));
    QINS_TRY(tokens_per_page(spec, p, kv_dim, &st->page_tokens));
    QINS_CHECK(st->page_tokens >= 1 && st->page_tokens <= n_ctx && st->page_tokens <= UINT16_MAX, QINS_ERR_ARG,
               "kv spec '%s': %d tokens per page with a context of %d (at most %u per page)", spec->name,
               st->page_tokens, n_ctx, UINT16_MAX);
    st->page_bytes = qins_codec_encoded_bytes(p, (size_t)st->page_tokens, (size_t)kv_dim);
    QINS_CHECK(st->page_bytes > 0, QINS_ERR_ARG, "kv spec '%s': codec cannot encode a %d x %d page", spec->name,
               st->page_tokens, kv_dim);
    const int max_pages = n_ctx / st->page_tokens;
    st->pages = malloc((size_t)(max_pages ? max_pages : 1) * page_stride(st));
    st->fill = malloc((size_t)st->page_tokens * kv_dim * sizeof(float));
    QINS_CHECK(st->pages && st->fill, QINS_ERR_NOMEM, "kv store: out of memory");
    st->n_groups = qins_codec_n_groups(p, (size_t)st->page_tokens, (size_t)kv_dim);
    // The table depends on the codec parameters only (QINS_LOG's on each group's range, and
    // per-column scales take another loop): build it once, not on every page read.
    if (qins_codec_is_lossy(p) && p->codec != QINS_CODEC_QINS_LOG && p->granularity != QINS_GRAN_PER_COLUMN) {
        st->lut = malloc(sizeof(float) << p->bits);
        QINS_CHECK(st->lut, QINS_ERR_NOMEM, "kv store: out of memory");
        QINS_TRY(qins_codec_lut(p, 0, st->lut));
    }
    return 0;
}

int qins_kv_store_create(const struct qins_kv_spec *spec, int n_layer, int n_ctx, int kv_dim,
                         struct qins_kv_store **out) {
    *out = NULL;
    if (spec->plain) {
        if (spec->k.codec == QINS_CODEC_FP16) return qins_kv_store_fp16_init(n_layer, n_ctx, kv_dim, out);
        return qins_kv_store_fp32_init(n_layer, n_ctx, kv_dim, out);
    }
    QINS_CHECK(n_layer > 0 && n_layer <= QINS_KV_MAX_LAYERS && n_ctx > 0 && kv_dim > 0, QINS_ERR_ARG,
               "kv store: bad dims (%d layers, %d ctx, %d kv_dim)", n_layer, n_ctx, kv_dim);
    struct kv_paged *s = calloc(1, sizeof *s);
    QINS_CHECK(s, QINS_ERR_NOMEM, "kv store: out of memory");
    s->base = (struct qins_kv_store){spec->fused ? &paged_fused_vt : &paged_vt, s->spec.name, n_layer, n_ctx, kv_dim,
                                     0, 0, 0};
    s->spec = *spec;
    s->base.name = s->spec.name;
    s->k = calloc(n_layer, sizeof *s->k);
    s->v = calloc(n_layer, sizeof *s->v);
    s->k_view = malloc((size_t)n_ctx * kv_dim * sizeof(float));
    s->v_view = malloc((size_t)n_ctx * kv_dim * sizeof(float));
    s->codes = malloc((size_t)kv_dim * sizeof *s->codes);
    int st = (s->k && s->v && s->k_view && s->v_view && s->codes) ? 0 : QINS_ERR_NOMEM;
    size_t max_groups = 1;
    for (int l = 0; st == 0 && l < n_layer; l++) {
        bool keep = layer_kept(spec, l, n_layer);
        st = stream_init(&s->k[l], spec, keep ? &spec->override : &spec->k, n_ctx, kv_dim, l, 'K');
        if (st == 0) st = stream_init(&s->v[l], spec, keep ? &spec->override : &spec->v, n_ctx, kv_dim, l, 'V');
        if (st == 0 && s->k[l].n_groups > max_groups) max_groups = s->k[l].n_groups;
        if (st == 0 && s->v[l].n_groups > max_groups) max_groups = s->v[l].n_groups;
    }
    if (st == 0 && !(s->scales = malloc(max_groups * sizeof *s->scales))) st = QINS_ERR_NOMEM;
    if (st < 0) {
        paged_free(&s->base);
        if (st == QINS_ERR_NOMEM) QINS_CHECK(0, st, "kv store: out of memory");
        return st;
    }
    s->stats.page_tokens = s->k[0].page_tokens;
    s->stats.page_code_bytes = page_stride(&s->k[0]);
    *out = &s->base;
    return 0;
}

int qins_kv_paged_stats(const struct qins_kv_store *b, struct qins_kv_paged_stats *out) {
    memset(out, 0, sizeof *out);
    if (!is_paged(b)) return 0;
    *out = ((const struct kv_paged *)b)->stats;
    return 1;
}

int qins_kv_paged_page(const struct qins_kv_store *b, int layer, int which, int page, const uint8_t **payload,
                       size_t *len, struct qins_codec_params *p) {
    QINS_CHECK(is_paged(b), QINS_ERR_RANGE, "kv store '%s' has no pages", b->name);
    QINS_CHECK(layer >= 0 && layer < b->n_layer && (which == 0 || which == 1), QINS_ERR_RANGE,
               "kv store: layer %d / stream %d", layer, which);
    const struct kv_paged *s = (const struct kv_paged *)b;
    const struct stream *st = which == 0 ? &s->k[layer] : &s->v[layer];
    QINS_CHECK(page >= 0 && page < st->n_pages, QINS_ERR_RANGE, "kv store: page %d of %d full pages", page,
               st->n_pages);
    QINS_TRY(page_payload(st, b->kv_dim, page, payload));
    *len = st->page_bytes;
    *p = st->p;
    return 0;
}

int qins_kv_layer_bytes(const struct qins_kv_store *b, int layer, size_t *k_bytes, size_t *v_bytes) {
    QINS_CHECK(layer >= 0 && layer < b->n_layer, QINS_ERR_RANGE, "kv store: layer %d of %d", layer, b->n_layer);
    if (is_paged(b)) {
        const struct kv_paged *s = (const struct kv_paged *)b;
        *k_bytes = stream_bytes(&s->k[layer], b->kv_dim);
        *v_bytes = stream_bytes(&s->v[layer], b->kv_dim);
    } else { // plain stores hold n_pos rows of 4 (fp32) or 2 (fp16) bytes per value per layer
        *k_bytes = *v_bytes = qins_kv_stored_bytes(b) / 2 / (size_t)b->n_layer;
    }
    return 0;
}

int qins_kv_projected_bytes(const struct qins_kv_spec *spec, int n_layer, int kv_dim, int64_t n_pos, double *bytes) {
    *bytes = 0;
    if (spec->plain) {
        *bytes = 2.0 * n_layer * (double)n_pos * kv_dim * (spec->k.codec == QINS_CODEC_FP16 ? 2 : 4);
        return 0;
    }
    for (int l = 0; l < n_layer; l++)
        for (int kv = 0; kv < 2; kv++) {
            const struct qins_codec_params *p =
                layer_kept(spec, l, n_layer) ? &spec->override : kv == 0 ? &spec->k : &spec->v;
            int pt;
            QINS_TRY(tokens_per_page(spec, p, kv_dim, &pt));
            size_t page = qins_page_kv_bytes(p, (size_t)pt, (size_t)kv_dim); // header included
            QINS_CHECK(page > 0, QINS_ERR_ARG, "kv spec '%s': codec cannot encode a page of %d tokens", spec->name,
                       pt);
            int64_t full = n_pos / pt, rest = n_pos % pt;
            *bytes += (double)full * page + (double)rest * kv_dim * sizeof(float);
        }
    return 0;
}

// ---- spec parsing

struct layers_ctx {
    struct qins_kv_spec *out;
    const char *list;
};
static int parse_layer(const char *t, size_t i, void *user) {
    struct layers_ctx *c = user;
    char *end;
    const long l = strtol(t, &end, 10);
    (void)i;
    QINS_CHECK(*end == 0 && end != t && l > -QINS_KV_MAX_LAYERS && l < QINS_KV_MAX_LAYERS &&
                   c->out->n_override < QINS_KV_MAX_LAYERS,
               QINS_ERR_ARG, "kv spec: bad layer '%s' in keep=%s", t, c->list);
    c->out->override_layers[c->out->n_override++] = (int)l;
    return 0;
}

static int parse_layers(const char *list, struct qins_kv_spec *out) {
    out->n_override = 0;
    struct layers_ctx c = {out, list};
    return qins_split_list(list, parse_layer, &c, NULL);
}

static int parse_float(const char *v, const char *what, float *out) {
    char *end;
    double x = strtod(v, &end);
    QINS_CHECK(end != v && *end == 0, QINS_ERR_ARG, "kv spec: %s must be a number, got '%s'", what, v);
    *out = (float)x;
    return 0;
}

int qins_kv_spec_parse(const char *text, struct qins_kv_spec *out) {
    memset(out, 0, sizeof *out);
    QINS_CHECK(text && *text && strlen(text) < sizeof out->name, QINS_ERR_ARG, "kv spec: empty or too long");
    snprintf(out->name, sizeof out->name, "%s", text);
    char buf[256];
    snprintf(buf, sizeof buf, "%s", text);
    char *save = NULL, *head = strtok_r(buf, ":", &save);
    qins_codec_params_default(&out->k);
    QINS_CHECK(head, QINS_ERR_ARG, "kv spec '%s': no codec", text);
    QINS_TRY(qins_codec_parse(head, &out->k)); // its message names the codec
    out->k.granularity = QINS_GRAN_PER_ROW; // per token: a page row is one token's K or V
    out->page_tokens = 16;
    out->v = out->k;
    qins_codec_params_default(&out->override);
    qins_codec_parse("fp16", &out->override);
    bool has_options = false;
    for (char *opt = strtok_r(NULL, ":", &save); opt; opt = strtok_r(NULL, ":", &save)) {
        has_options = true;
        if (!strcmp(opt, "fused")) {
            out->fused = 1;
            continue;
        }
        char *eq = strchr(opt, '=');
        QINS_CHECK(eq, QINS_ERR_ARG, "kv spec '%s': option '%s' needs key=value", text, opt);
        *eq = 0;
        const char *key = opt, *val = eq + 1;
        if (!strcmp(key, "alpha")) {
            float a;
            QINS_TRY(parse_float(val, "alpha", &a));
            out->k.alpha = out->v.alpha = a;
        } else if (!strcmp(key, "gran")) {
            QINS_TRY(qins_codec_parse_granularity(val, &out->k));
            QINS_TRY(qins_codec_parse_granularity(val, &out->v));
        } else if (!strcmp(key, "scale")) {
            QINS_CHECK(!strcmp(val, "absmax") || !strcmp(val, "rms"), QINS_ERR_ARG,
                       "kv spec '%s': scale must be absmax or rms, got '%s'", text, val);
            out->k.scale_mode = out->v.scale_mode = !strcmp(val, "rms") ? QINS_SCALE_RMS : QINS_SCALE_ABSMAX;
        } else if (!strcmp(key, "page")) {
            char *end;
            long n = strtol(val, &end, 10);
            QINS_CHECK(*end == 0 && n >= 1 && n <= (1 << 20), QINS_ERR_ARG, "kv spec '%s': page must be >= 1 token", text);
            out->page_tokens = (int)n;
        } else if (!strcmp(key, "page_bytes")) {
            char *end;
            long n = strtol(val, &end, 10);
            QINS_CHECK(*end == 0 && n >= 1 && n <= (1 << 26), QINS_ERR_ARG, "kv spec '%s': bad page_bytes '%s'", text, val);
            out->page_bytes = (int)n;
            out->page_tokens = 0;
        } else if (!strcmp(key, "kcodec") || !strcmp(key, "vcodec")) {
            struct qins_codec_params *p = key[0] == 'k' ? &out->k : &out->v;
            QINS_TRY(qins_codec_parse(val, p));
        } else if (!strcmp(key, "fused")) {
            QINS_CHECK(!strcmp(val, "once") || !strcmp(val, "read"), QINS_ERR_ARG,
                       "kv spec '%s': fused takes once or read (the default), got '%s'", text, val);
            out->fused = !strcmp(val, "once") ? 2 : 1;
        } else if (!strcmp(key, "keep")) {
            QINS_TRY(parse_layers(val, out));
        } else if (!strcmp(key, "keep_codec")) {
            QINS_TRY(qins_codec_parse(val, &out->override));
        } else {
            QINS_CHECK(0, QINS_ERR_ARG, "kv spec '%s': unknown option '%s' (alpha, gran, scale, page, page_bytes, "
                       "kcodec, vcodec, keep, keep_codec, fused)", text, key);
        }
    }
    // bare fp32/fp16 are the plain stores; with options they go through pages like any codec
    out->plain = !has_options && (out->k.codec == QINS_CODEC_FP32 || out->k.codec == QINS_CODEC_FP16);
    QINS_TRY(qins_codec_validate(&out->k));
    QINS_TRY(qins_codec_validate(&out->v));
    return 0;
}
