// core/histogram.c — see histogram.h.
#include "histogram.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "common.h"
#include "entropy.h"
#include "kv_paged.h"
#include "util.h"

int qins_hist_record_codes(qins_run_t *run, const char *name, const uint16_t *codes, size_t n, int bits,
                           struct qins_code_hist *h) {
    memset(h, 0, sizeof *h);
    QINS_CHECK(bits >= 1 && bits <= 16, QINS_ERR_ARG, "histogram %s: %d-bit codes", name, bits);
    const size_t nb = (size_t)1 << bits;
    uint64_t *counts = calloc(nb, sizeof *counts);
    h->hist = malloc(nb * sizeof *h->hist);
    int st = counts && h->hist ? 0 : QINS_ERR_NOMEM;
    if (st == 0) st = qins_entropy_histogram(codes, n, counts, nb);
    char path[192];
    if (st == 0) st = qins_format(path, sizeof path, "/entropy/%s/hist", name);
    if (st == 0) {
        for (size_t i = 0; i < nb; i++) h->hist[i] = (double)counts[i];
        h->bits = bits, h->n = n, h->entropy = qins_entropy_bits(counts, nb);
        st = qins_run_array(run, path, QINS_DT_F64, h->hist, nb, 0);
    }
    if (st == 0) st = qins_run_attr_int(run, path, "bits", bits);
    if (st == 0) st = qins_run_attr_double(run, path, "entropy", h->entropy);
    free(counts);
    return st;
}

int qins_hist_record_kv_page(qins_run_t *run, const char *name, const struct qins_kv_store *store, int layer,
                             int which, int page, struct qins_code_hist *h) {
    memset(h, 0, sizeof *h);
    struct qins_kv_paged_stats ps;
    QINS_CHECK(qins_kv_paged_stats(store, &ps) == 1, QINS_ERR_ARG, "histogram %s: not a paged KV store", name);
    const uint8_t *payload;
    size_t len;
    struct qins_codec_params p;
    QINS_TRY(qins_kv_paged_page(store, layer, which, page, &payload, &len, &p));
    QINS_CHECK(qins_codec_is_lossy(&p), QINS_ERR_ARG, "histogram %s: layer %d is not k-bit coded", name, layer);
    const size_t n = (size_t)ps.page_tokens * store->kv_dim;
    uint16_t *codes = malloc(n * sizeof *codes);
    QINS_CHECK(codes, QINS_ERR_NOMEM, "out of memory");
    int st = qins_codec_unpack_codes(&p, payload, len, (size_t)ps.page_tokens, (size_t)store->kv_dim, codes);
    if (st == 0) st = qins_hist_record_codes(run, name, codes, n, p.bits, h);
    char path[192];
    if (st == 0) st = qins_format(path, sizeof path, "/entropy/%s/hist", name);
    if (st == 0) st = qins_run_attr_int(run, path, "layer", layer);
    if (st == 0) st = qins_run_attr_int(run, path, "page", page);
    free(codes);
    return st;
}

int qins_hist_kv_layer(qins_run_t *run, const char *prefix, const struct qins_kv_store *store, int layer,
                       const char *plot_name, double entropy[2]) {
    struct qins_kv_paged_stats ps;
    QINS_CHECK(qins_kv_paged_stats(store, &ps) == 1 && ps.page_tokens > 0, QINS_ERR_ARG,
               "histogram %s: not a paged KV store", prefix);
    const int page = store->n_pos / ps.page_tokens / 2;
    struct qins_code_hist h[2] = {{0}};
    int st = 0;
    for (int which = 0; which < 2 && st == 0; which++) {
        char name[128];
        snprintf(name, sizeof name, "%s_%s_page", prefix, which ? "v" : "k");
        st = qins_hist_record_kv_page(run, name, store, layer, which, page, &h[which]);
        if (st == 0) {
            entropy[which] = h[which].entropy;
            printf("%-28s layer %d %s page %d: entropy %.3f bits/symbol of %d\n", prefix, layer, which ? "V" : "K",
                   page, h[which].entropy, h[which].bits);
        }
    }
    const size_t nb = st == 0 ? (size_t)1 << h[0].bits : 0;
    double *x = malloc((nb ? nb : 1) * sizeof *x), *y = malloc((nb ? 2 * nb : 1) * sizeof *y);
    if (st == 0 && !(x && y)) st = QINS_ERR_NOMEM;
    if (st == 0 && h[1].bits != h[0].bits) { // K and V coded at different k: no shared axis
        qins_log(QINS_LOG_ERROR, "histogram %s: K has %d-bit and V %d-bit codes (one plot needs one k)", prefix, h[0].bits,
                 h[1].bits);
        st = QINS_ERR_ARG;
    }
    if (st == 0) {
        for (size_t i = 0; i < nb; i++) x[i] = (double)i, y[i] = h[0].hist[i], y[nb + i] = h[1].hist[i];
        char title[160];
        snprintf(title, sizeof title, "%s codes of one real KV page, layer %d (%d tokens x %d values)", prefix, layer,
                 ps.page_tokens, store->kv_dim);
        char lk[32], lv[32];
        snprintf(lk, sizeof lk, "K page (layer %d)", layer);
        snprintf(lv, sizeof lv, "V page (layer %d)", layer);
        const char *series[] = {lk, lv};
        struct qins_plot p = {plot_name, QINS_PLOT_HISTOGRAM, title, "code", "count", nb, x, NULL, 2, y, series,
                              false, false};
        st = qins_run_plot(run, &p);
    }
    free(x), free(y), free(h[0].hist), free(h[1].hist);
    return st;
}
