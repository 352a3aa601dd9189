// core/access.c — reads per token of every weight, the cold split and its Zipf projection
// (core/access.h).
#include "access.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"

static int check_counters(const struct qins_model *m, uint64_t tokens) {
    QINS_CHECK(m->embd_row_reads, QINS_ERR_STATE,
               "access: embedding-row tracking is off (turn it on with qins_model_track_embedding_rows before the run)");
    QINS_CHECK(tokens > 0, QINS_ERR_ARG, "access: 0 tokens (reads per token need the tokens the counters cover)");
    return 0;
}

static int cmp_desc(const void *a, const void *b) {
    const double x = *(const double *)a, y = *(const double *)b;
    return (x < y) - (x > y);
}

int qins_access_rank_frequency(const struct qins_model *m, uint64_t tokens, double *freq) {
    QINS_TRY(check_counters(m, tokens));
    const int V = m->hp.n_vocab;
    int touched = 0;
    for (int r = 0; r < V; r++) {
        freq[r] = (double)m->embd_row_reads[r] / (double)tokens;
        touched += m->embd_row_reads[r] > 0;
    }
    qsort(freq, (size_t)V, sizeof *freq, cmp_desc);
    return touched;
}

int qins_access_zipf_fit(const double *freq, size_t n, double *s, double *r2) {
    QINS_CHECK(n >= 2, QINS_ERR_ARG, "access: a Zipf fit needs 2 or more ranks, not %zu", n);
    // log frequency is taken relative to rank 1's: equal frequencies then give exact zeros, where
    // a mean of the raw logs would leave rounding noise that r2 divides by
    const double y0 = log(freq[0]);
    double mx = 0, my = 0;
    for (size_t i = 0; i < n; i++) {
        QINS_CHECK(freq[i] > 0 && isfinite(freq[i]), QINS_ERR_ARG, "access: frequency %g at rank %zu (a log-log fit needs > 0)",
                   freq[i], i + 1);
        mx += log((double)(i + 1)), my += log(freq[i]) - y0;
    }
    mx /= (double)n, my /= (double)n;
    // centred sums: the uncentred formula subtracts large squares and loses the digits of the spread
    double sxx = 0, sxy = 0, syy = 0;
    for (size_t i = 0; i < n; i++) {
        const double dx = log((double)(i + 1)) - mx, dy = log(freq[i]) - y0 - my;
        sxx += dx * dx, sxy += dx * dy, syy += dy * dy;
    }
    const double slope = sxy / sxx; // sxx > 0: the ranks are distinct
    double res = 0;
    for (size_t i = 0; i < n; i++) {
        const double e = log(freq[i]) - y0 - (my + slope * (log((double)(i + 1)) - mx));
        res += e * e;
    }
    *s = -slope;
    *r2 = syy > 0 ? 1.0 - res / syy : 1.0;
    return 0;
}

static void tensor_set(struct qins_access_tensor *t, const char *name, uint64_t rows, uint64_t cols, uint64_t bytes,
                       double rpt) {
    snprintf(t->name, sizeof t->name, "%s", name);
    t->rows = rows, t->n_elements = rows * cols, t->bytes = bytes, t->reads_per_token = rpt;
}

int qins_access_summarize(const struct qins_model *m, uint64_t tokens, double cold_frac,
                          struct qins_access_summary *out) {
    memset(out, 0, sizeof *out);
    QINS_TRY(check_counters(m, tokens));
    QINS_CHECK(cold_frac > 0 && cold_frac < 1, QINS_ERR_ARG, "access: cold fraction %g outside (0, 1)", cold_frac);
    const int V = m->hp.n_vocab, E = m->hp.n_embd, L = m->hp.n_layer;
    uint64_t gathered = 0;
    for (int r = 0; r < V; r++) gathered += m->embd_row_reads[r];
    // every token the forward pass runs reads exactly one embedding row, so the row counts say how
    // many tokens the counters cover; a mismatch means counters left from another run
    QINS_CHECK(gathered == tokens, QINS_ERR_STATE,
               "access: the embedding rows were read for %llu tokens, not the %llu passed (reset the counters with "
               "qins_model_reset_access before the run)",
               (unsigned long long)gathered, (unsigned long long)tokens);

    const size_t n = (size_t)L * QINS_SLOTS_PER_LAYER + 2;
    double *freq = malloc((size_t)V * sizeof *freq);
    out->t = calloc(n, sizeof *out->t);
    if (!freq || !out->t) {
        free(freq);
        qins_access_summary_free(out);
        QINS_CHECK(0, QINS_ERR_NOMEM, "access: out of memory for %zu tensors and %d rows", n, V);
    }
    out->n_tensors = n, out->tokens = tokens, out->cold_frac = cold_frac;
    out->tied = m->output.wm.data == m->embd.data;
    const double T = (double)tokens;
    size_t k = 0;
    for (int l = 0; l < L; l++)
        for (int i = 0; i < QINS_SLOTS_PER_LAYER; i++) {
            const struct qins_linear *lin = qins_model_slot((struct qins_model *)m, l, i);
            tensor_set(&out->t[k++], lin->name, (uint64_t)lin->n_out, (uint64_t)lin->n_in, lin->w_stored_bytes,
                       (double)lin->n_tokens / T);
        }
    const struct qins_linear *o = &m->output;
    const double out_rpt = (double)o->n_tokens / T;
    tensor_set(&out->t[k++], o->name, (uint64_t)o->n_out, (uint64_t)o->n_in, o->w_stored_bytes, out_rpt);
    tensor_set(&out->t[k++], "token_embd", (uint64_t)V, (uint64_t)E, qins_wmat_bytes(&m->embd),
               (double)gathered / T / V);
    for (size_t j = 0; j < n; j++) out->hottest = fmax(out->hottest, out->t[j].reads_per_token);
    out->cold_below = cold_frac * out->hottest;

    // slots (and an untied output matrix) are cold or hot whole: every row is read per token
    for (size_t j = 0; j + 1 < n; j++) {
        const struct qins_access_tensor *t = &out->t[j];
        if (j == n - 2 && out->tied) continue; // the output is the embedding: its rows are counted below
        const bool cold = t->reads_per_token < out->cold_below;
        out->weight_elems += t->n_elements, out->weight_bytes += t->bytes;
        if (cold) out->cold_elems += t->n_elements, out->cold_bytes += t->bytes;
    }
    out->embd_rows = (uint64_t)V;
    for (int r = 0; r < V; r++) {
        const double f = (double)m->embd_row_reads[r] / T + (out->tied ? out_rpt : 0.0);
        out->embd_rows_touched += m->embd_row_reads[r] > 0;
        if (f < out->cold_below) out->embd_rows_cold++;
    }
    out->weight_elems += (uint64_t)V * (uint64_t)E, out->weight_bytes += qins_wmat_bytes(&m->embd);
    out->cold_elems += out->embd_rows_cold * (uint64_t)E, out->cold_bytes += out->embd_rows_cold * m->embd.row_bytes;
    out->cold_fraction = out->weight_elems ? (double)out->cold_elems / (double)out->weight_elems : 0;

    const int touched = qins_access_rank_frequency(m, tokens, freq);
    int st = 0;
    if (touched >= 2) st = qins_access_zipf_fit(freq, (size_t)touched, &out->zipf_s, &out->zipf_r2);
    free(freq);
    if (st < 0) qins_access_summary_free(out);
    return st;
}

void qins_access_summary_free(struct qins_access_summary *s) {
    free(s->t);
    memset(s, 0, sizeof *s);
}

int qins_access_project(const struct qins_access_summary *s, const struct qins_access_shape *shape,
                        struct qins_access_projection *out) {
    memset(out, 0, sizeof *out);
    const char *name = shape->name ? shape->name : "(unnamed)";
    QINS_CHECK(shape->n_vocab > 0 && shape->n_embd > 0, QINS_ERR_ARG, "access: shape %s has vocabulary %d, width %d", name,
               shape->n_vocab, shape->n_embd);
    const double embd = (double)shape->n_vocab * shape->n_embd, least = embd * (shape->tied ? 1 : 2);
    QINS_CHECK(shape->n_params >= least, QINS_ERR_ARG,
               "access: shape %s has %g parameters, fewer than its embedding%s (%g)", name, shape->n_params,
               shape->tied ? "" : " and output matrix", least);
    QINS_CHECK(s->embd_rows_touched >= 2, QINS_ERR_STATE,
               "access: no Zipf fit to project (%llu embedding rows touched; a fit needs 2)",
               (unsigned long long)s->embd_rows_touched);
    QINS_CHECK(s->cold_below > 0, QINS_ERR_ARG, "access: cold threshold %g (a summary from qins_access_summarize has > 0)",
               s->cold_below);
    snprintf(out->name, sizeof out->name, "%s", name);
    out->n_vocab = shape->n_vocab, out->n_embd = shape->n_embd, out->tied = shape->tied;
    out->n_params = shape->n_params, out->zipf_s = s->zipf_s, out->cold_below = s->cold_below;
    if (shape->tied) return 0; // the logits read the whole embedding for every token
    // C = 1 / sum r^-s, then the rows below the threshold one by one: a vocabulary is at most a few
    // hundred thousand rows, and counting avoids the off-by-one of a closed-form crossing rank
    double h = 0;
    for (int r = 1; r <= shape->n_vocab; r++) h += pow((double)r, -s->zipf_s);
    double cold = 0;
    for (int r = 1; r <= shape->n_vocab; r++) cold += pow((double)r, -s->zipf_s) / h < s->cold_below;
    out->cold_rows = cold;
    out->cold_rows_frac = cold / shape->n_vocab;
    out->cold_elems = cold * shape->n_embd;
    out->cold_fraction = out->cold_elems / shape->n_params;
    return 0;
}

// Figures from the model's Hugging Face config (microsoft/Phi-3.5-mini-instruct): vocab_size
// 32064, hidden_size 3072, tie_word_embeddings false; 3,821,079,552 parameters.
static const struct qins_access_shape shapes[] = {
    {"phi3.5-mini", 32064, 3072, 3.821079552e9, false},
};

const struct qins_access_shape *qins_access_shape_find(const char *name) {
    for (size_t i = 0; name && i < sizeof shapes / sizeof shapes[0]; i++)
        if (!strcmp(shapes[i].name, name)) return &shapes[i];
    return NULL;
}
