// core/eval.c — greedy generation, perplexity windows and run-to-run comparisons.
#include "eval.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "util.h"

// Lowest index of the largest value; NaN never wins over a number (a variant that blew up
// still yields a valid id, and its non-finite logits are counted by the callers).
int32_t qins_argmax(const float *x, int n) {
    int32_t best = 0;
    for (int i = 1; i < n; i++)
        if (x[i] > x[best] || (isnan(x[best]) && !isnan(x[i]))) best = i;
    return best;
}

int qins_generate_greedy(struct qins_model *m, struct qins_state *s, const int32_t *prompt, int n_prompt, int n_gen,
                         int eos_id, int32_t *out_ids, float *step_logits, int *n_out) {
    const int V = m->hp.n_vocab;
    if (n_out) *n_out = 0;
    QINS_CHECK(n_prompt > 0, QINS_ERR_ARG, "generate: empty prompt (BOS is needed at least)");
    QINS_CHECK(n_gen >= 0 && n_prompt + n_gen <= s->n_ctx + 1, QINS_ERR_RANGE,
               "generate: %d prompt + %d generated tokens exceed the context of %d", n_prompt, n_gen, s->n_ctx);
    qins_kv_clear(s->kv);
    int pos = 0, produced = 0;
    // the prompt as batches of at most max_batch tokens; the last batch's logits drive step 1
    while (pos < n_prompt) {
        int n = n_prompt - pos < s->max_batch ? n_prompt - pos : s->max_batch;
        QINS_TRY(qins_forward(m, s, prompt + pos, n, pos, false));
        pos += n;
    }
    for (int i = 0; i < n_gen; i++) {
        int32_t next = qins_argmax(s->logits, V);
        if (step_logits) memcpy(step_logits + (size_t)i * V, s->logits, V * sizeof(float));
        out_ids[i] = next;
        produced++;
        if (next == eos_id || i == n_gen - 1) break;
        QINS_TRY(qins_forward(m, s, &next, 1, pos, false));
        pos++;
    }
    if (n_out) *n_out = produced;
    return 0;
}

int qins_perplexity(struct qins_model *m, struct qins_state *s, const int32_t *tokens, int64_t n_tokens,
                    const struct qins_ppl_opts *o, struct qins_ppl_result *r) {
    memset(r, 0, sizeof *r);
    const int ctx = o->ctx, V = m->hp.n_vocab, first = ctx / 2, per_chunk = ctx - 1 - first;
    QINS_CHECK(ctx >= 4 && ctx <= s->n_ctx && ctx <= s->max_batch, QINS_ERR_ARG,
               "perplexity: context %d must be >= 4 and fit the state (ctx %d, batch %d)", ctx, s->n_ctx, s->max_batch);
    int64_t chunks = n_tokens / ctx;
    QINS_CHECK(chunks >= 1, QINS_ERR_ARG, "perplexity: %lld tokens are fewer than one window of %d",
               (long long)n_tokens, ctx);
    if (o->max_chunks > 0 && o->max_chunks < chunks) chunks = o->max_chunks;
    r->chunks = (int)chunks;
    r->n_vocab = V;
    r->tokens_scored = chunks * per_chunk;
    r->chunk_nll = calloc(chunks, sizeof *r->chunk_nll);
    r->token_nll = calloc(r->tokens_scored, sizeof *r->token_nll);
    r->argmax = calloc(r->tokens_scored, sizeof *r->argmax);
    if (o->keep_logprobs) r->logprobs = malloc((size_t)r->tokens_scored * V * sizeof(float));
    int32_t *win = malloc(ctx * sizeof *win);
    if (!r->chunk_nll || !r->token_nll || !r->argmax || !win || (o->keep_logprobs && !r->logprobs)) {
        free(win);
        qins_ppl_result_free(r);
        QINS_CHECK(0, QINS_ERR_NOMEM, "perplexity: out of memory for %lld scored tokens", (long long)r->tokens_scored);
    }
    double sum = 0, sum2 = 0;
    int64_t k = 0;
    for (int64_t c = 0; c < chunks; c++) {
        memcpy(win, tokens + c * ctx, ctx * sizeof *win);
        if (o->bos_id >= 0) win[0] = o->bos_id;
        qins_kv_clear(s->kv);
        int st = qins_forward(m, s, win, ctx, 0, true);
        if (st < 0) {
            free(win);
            qins_ppl_result_free(r);
            return st;
        }
        double chunk_sum = 0;
        for (int p = first; p < ctx - 1; p++, k++) {
            const float *lg = s->logits + (size_t)p * V;
            double mx = -INFINITY;
            bool finite = true;
            for (int i = 0; i < V; i++) {
                if (!isfinite(lg[i])) finite = false;
                if (lg[i] > mx) mx = lg[i];
            }
            double z = 0;
            for (int i = 0; i < V; i++) z += exp((double)lg[i] - mx);
            double lse = mx + log(z);
            double nll = lse - lg[tokens[c * ctx + p + 1]];
            if (!finite) r->n_nonfinite++;
            r->token_nll[k] = (float)nll;
            r->argmax[k] = qins_argmax(lg, V);
            if (r->logprobs)
                for (int i = 0; i < V; i++) r->logprobs[(size_t)k * V + i] = (float)(lg[i] - lse);
            chunk_sum += nll;
            sum += nll;
            sum2 += nll * nll;
        }
        r->chunk_nll[c] = chunk_sum / per_chunk;
        if (o->progress) o->progress(o->progress_user, c + 1, chunks);
    }
    free(win);
    const double n = (double)r->tokens_scored;
    r->nll_mean = sum / n;
    r->nll_stderr = n > 1 ? sqrt(fmax(0.0, sum2 / n - r->nll_mean * r->nll_mean) / (n - 1)) : 0;
    r->ppl = exp(r->nll_mean);
    return 0;
}

void qins_ppl_result_free(struct qins_ppl_result *r) {
    if (!r) return;
    free(r->chunk_nll);
    free(r->token_nll);
    free(r->logprobs);
    free(r->argmax);
    memset(r, 0, sizeof *r);
}

int qins_ppl_compare(const struct qins_ppl_result *b, const struct qins_ppl_result *v, struct qins_ppl_compare *out) {
    memset(out, 0, sizeof *out);
    QINS_CHECK(b->tokens_scored == v->tokens_scored && b->n_vocab == v->n_vocab && b->tokens_scored > 0, QINS_ERR_ARG,
               "compare: runs scored different positions (%lld vs %lld)", (long long)b->tokens_scored,
               (long long)v->tokens_scored);
    QINS_CHECK(b->logprobs && v->logprobs, QINS_ERR_ARG, "compare: both runs need keep_logprobs");
    const int V = b->n_vocab;
    const int64_t n = b->tokens_scored;
    double *kld = malloc(n * sizeof *kld);
    QINS_CHECK(kld, QINS_ERR_NOMEM, "compare: out of memory");
    double sum = 0;
    int64_t same = 0;
    for (int64_t k = 0; k < n; k++) {
        const float *pb = b->logprobs + (size_t)k * V, *pv = v->logprobs + (size_t)k * V;
        double d = 0;
        for (int i = 0; i < V; i++) d += exp((double)pb[i]) * ((double)pb[i] - pv[i]);
        kld[k] = d;
        sum += d;
        same += b->argmax[k] == v->argmax[k];
    }
    out->n = n;
    out->kld_mean = sum / n;
    out->top1_agreement = (double)same / n;
    // NaN after every number (qins_cmp_double): a variant with NaN log-probabilities has NaN KLDs
    qsort(kld, n, sizeof *kld, qins_cmp_double);
    out->kld_median = kld[n / 2];
    out->kld_p99 = kld[(int64_t)((n - 1) * 0.99)];
    out->kld_max = kld[n - 1];
    free(kld);
    return 0;
}

double qins_token_match(const int32_t *a, const int32_t *b, int n, int *first_diff) {
    int same = 0, first = n;
    for (int i = 0; i < n; i++) {
        if (a[i] == b[i]) same++;
        else if (first == n) first = i;
    }
    if (first_diff) *first_diff = first;
    return n > 0 ? (double)same / n : 1.0;
}

double qins_rel_error(const float *x, const float *ref, int64_t n, int64_t *n_nonfinite) {
    double num = 0, den = 0;
    int64_t bad = 0;
    for (int64_t i = 0; i < n; i++) {
        if (!isfinite(x[i])) {
            bad++;
            continue;
        }
        double d = (double)x[i] - ref[i];
        num += d * d;
        den += (double)ref[i] * ref[i];
    }
    if (n_nonfinite) *n_nonfinite = bad;
    if (den == 0) return num == 0 ? 0 : INFINITY;
    return sqrt(num / den);
}
