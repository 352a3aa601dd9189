// core/stability.c — see stability.h.
#include "stability.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "kv.h"

static bool all_finite(const float *x, int n) {
    for (int i = 0; i < n; i++)
        if (!isfinite(x[i])) return false;
    return true;
}

// log-sum-exp in double: the KLD sums many tiny terms
static double lse(const float *x, int n) {
    double mx = -INFINITY, z = 0;
    for (int i = 0; i < n; i++) mx = x[i] > mx ? x[i] : mx;
    for (int i = 0; i < n; i++) z += exp((double)x[i] - mx);
    return mx + log(z);
}

static double kld(const float *base, const float *var, int n) {
    const double lb = lse(base, n), lv = lse(var, n);
    double d = 0;
    for (int i = 0; i < n; i++) {
        const double pb = (double)base[i] - lb;
        d += exp(pb) * (pb - ((double)var[i] - lv));
    }
    return d;
}

// Both models run the same tokens at the same positions.
static int step_both(struct qins_model *b, struct qins_state *sb, struct qins_model *v, struct qins_state *sv,
                     const int32_t *t, int n, int pos) {
    QINS_TRY(qins_forward(b, sb, t, n, pos, false));
    return qins_forward(v, sv, t, n, pos, false);
}

int qins_stability_run(struct qins_model *base, struct qins_state *sb, struct qins_model *var, struct qins_state *sv,
                       const int32_t *prompt, int n_prompt, const struct qins_stability_opts *o,
                       struct qins_stability_result *r) {
    memset(r, 0, sizeof *r);
    const int V = base->hp.n_vocab;
    QINS_CHECK(var->hp.n_vocab == V, QINS_ERR_ARG, "stability: the models' vocabularies differ (%d vs %d)", V,
               var->hp.n_vocab);
    QINS_CHECK(o->n_tokens >= 1 && o->block >= 1 && o->ctx >= 4 && o->keep >= 0 && o->keep < o->ctx - 1, QINS_ERR_ARG,
               "stability: need n_tokens >= 1, block >= 1, ctx >= 4 and 0 <= keep < ctx - 1 (got %lld, %d, %d, %d)",
               (long long)o->n_tokens, o->block, o->ctx, o->keep);
    QINS_CHECK(n_prompt >= 1 && n_prompt < o->ctx, QINS_ERR_ARG, "stability: prompt of %d tokens for a window of %d",
               n_prompt, o->ctx);
    QINS_CHECK(sb->n_ctx >= o->ctx && sv->n_ctx >= o->ctx && sb->max_batch > o->keep && sv->max_batch > o->keep &&
                   sb->max_batch >= n_prompt && sv->max_batch >= n_prompt,
               QINS_ERR_ARG, "stability: the states must hold a window of %d and a batch of %d", o->ctx,
               o->keep + 1 > n_prompt ? o->keep + 1 : n_prompt);
    r->n_blocks = (o->n_tokens + o->block - 1) / o->block;
    r->block_kld = calloc(r->n_blocks, sizeof *r->block_kld);
    r->block_top1 = calloc(r->n_blocks, sizeof *r->block_top1);
    r->block_nonfinite = calloc(r->n_blocks, sizeof *r->block_nonfinite);
    int32_t *stream = malloc((size_t)(o->keep + 1) * sizeof *stream), *win = malloc((size_t)o->ctx * sizeof *win);
    if (!r->block_kld || !r->block_top1 || !r->block_nonfinite || !stream || !win) {
        free(stream), free(win);
        qins_stability_result_free(r);
        QINS_CHECK(0, QINS_ERR_NOMEM, "stability: out of memory");
    }
    // stream: the last keep tokens (a ring), for the next window
    int64_t n_stream = 0;
    qins_kv_clear(sb->kv), qins_kv_clear(sv->kv);
    int st = step_both(base, sb, var, sv, prompt, n_prompt, 0), pos = n_prompt;
    r->n_windows = 1;
    double kld_sum = 0, bk = 0;
    int64_t kld_n = 0, same = 0, bk_n = 0, b_same = 0;
    for (int64_t t = 0; st == 0 && t < o->n_tokens; t++) {
        const bool fin_v = all_finite(sv->logits, V), fin_b = all_finite(sb->logits, V);
        const int32_t next = qins_argmax(sb->logits, V);
        const bool agree = qins_argmax(sv->logits, V) == next;
        const int64_t blk = t / o->block;
        r->nonfinite_steps += !fin_v, r->block_nonfinite[blk] += !fin_v, r->base_nonfinite_steps += !fin_b;
        if (fin_v && fin_b) {
            const double d = kld(sb->logits, sv->logits, V);
            kld_sum += d, kld_n++, bk += d, bk_n++;
        }
        same += agree, b_same += agree;
        if (t == o->n_tokens - 1 || (t + 1) % o->block == 0) { // close the block
            const int64_t len = t - blk * o->block + 1;
            r->block_kld[blk] = bk_n ? bk / (double)bk_n : NAN;
            r->block_top1[blk] = (double)b_same / (double)len;
            bk = 0, bk_n = 0, b_same = 0;
        }
        if (o->ids_out) o->ids_out[t] = next;
        if (o->keep > 0) stream[n_stream % (o->keep + 1)] = next;
        n_stream++;
        if (o->progress) o->progress(o->progress_user, t + 1, o->n_tokens);
        if (t == o->n_tokens - 1) break;
        if (pos + 1 < o->ctx) {
            st = step_both(base, sb, var, sv, &next, 1, pos);
            pos++;
            continue;
        }
        // the window is full: BOS + the last keep tokens of the stream
        const int k = n_stream < o->keep ? (int)n_stream : o->keep;
        win[0] = o->bos_id;
        for (int i = 0; i < k; i++) win[1 + i] = stream[(n_stream - k + i) % (o->keep + 1)];
        qins_kv_clear(sb->kv), qins_kv_clear(sv->kv);
        st = step_both(base, sb, var, sv, win, k + 1, 0);
        pos = k + 1;
        r->n_windows++;
    }
    free(stream), free(win);
    if (st != 0) {
        qins_stability_result_free(r);
        return st;
    }
    r->n_tokens = o->n_tokens;
    r->kld_mean = kld_n ? kld_sum / (double)kld_n : NAN;
    r->top1_agreement = (double)same / (double)o->n_tokens;
    r->kld_drift = r->block_kld[r->n_blocks - 1] - r->block_kld[0];
    r->top1_drift = r->block_top1[r->n_blocks - 1] - r->block_top1[0];
    return 0;
}

void qins_stability_result_free(struct qins_stability_result *r) {
    if (!r) return;
    free(r->block_kld), free(r->block_top1), free(r->block_nonfinite);
    memset(r, 0, sizeof *r);
}
