// tools/cli_perplexity.c — `qins perplexity`: llama.cpp's windows (BOS replaces each window's
// first token; the second half of each window is scored) over a text file.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cli_util.h"
#include "common.h"
#include "eval.h"
#include "json_out.h"
#include "kv_paged.h"
#include "model.h"
#include "progress.h"
#include "tokenizer.h"

static void on_progress(void *user, int64_t done, int64_t total) {
    (void)total;
    qins_progress_update(user, (uint64_t)done);
}

int qins_cli_perplexity(int argc, char **argv) {
    static const char *const options[] = {"--model", "--text-file", "--ctx", "--chunks", "--kv", "--threads", "--config", NULL},
                             *const flags[] = {"--json", NULL};
    struct cli_args a = {"perplexity", argc, argv, options, flags, {0}, 0};
    if (cli_parse(&a) < 0) return 2;
    long ctx, chunks;
    struct qins_kv_spec spec;
    if (cli_int(&a, "--ctx", 4, 1 << 20, 512, &ctx) < 0 || cli_int(&a, "--chunks", 0, 1 << 30, 0, &chunks) < 0 ||
        cli_kv_spec(&a, &spec) < 0)
        return 2;
    const char *file = cli_opt(&a, "--text-file");
    if (!file) {
        fprintf(stderr, "qins perplexity: --text-file is required\n");
        return 2;
    }
    long len;
    char *text = cli_read_file("perplexity", file, &len);
    if (!text) return 1;
    if (len == 0) {
        fprintf(stderr, "qins perplexity: text file '%s' is empty\n", file);
        free(text);
        return 1;
    }
    struct qins_model *m;
    struct qins_tokenizer *tok;
    if (cli_load_model(&a, &m, &tok) < 0) {
        free(text);
        return 1;
    }
    int rc = 1;
    int32_t *ids = NULL;
    size_t n = 0;
    struct qins_kv_store *kv = NULL;
    struct qins_state *s = NULL;
    struct qins_ppl_result r = {0};
    if (ctx > m->hp.n_ctx_train) {
        fprintf(stderr, "qins perplexity: --ctx %ld is larger than the model's context length %d\n", ctx,
                m->hp.n_ctx_train);
        goto done;
    }
    double t0 = qins_time_now();
    if (qins_tokenizer_encode(tok, text, (size_t)len, true, &ids, &n) < 0) goto done;
    if ((long)n < ctx) {
        fprintf(stderr, "qins perplexity: '%s' gives %zu tokens, fewer than one window of %ld\n", file, n, ctx);
        goto done;
    }
    double t_tok = qins_time_now() - t0;
    if (qins_kv_store_create(&spec, m->hp.n_layer, (int)ctx, m->hp.n_head_kv * m->hp.head_dim, &kv) < 0 ||
        qins_state_init(m, (int)ctx, (int)ctx, kv, &s) < 0)
        goto done;
    long total = (long)n / ctx;
    if (chunks > 0 && chunks < total) total = chunks;
    struct qins_progress bar;
    qins_progress_init(&bar, "perplexity", (uint64_t)total, "windows");
    struct qins_ppl_opts o = {(int)ctx, (int)chunks, qins_tokenizer_bos(tok), false, on_progress, &bar};
    t0 = qins_time_now();
    if (qins_perplexity(m, s, ids, (int64_t)n, &o, &r) < 0) goto done;
    qins_progress_finish(&bar);
    double t_eval = qins_time_now() - t0;
    if (cli_flag(&a, "--json")) {
        struct qins_json j;
        qins_json_init(&j, stdout);
        qins_json_object_begin(&j);
        qins_json_key(&j, "ppl");
        qins_json_double(&j, r.ppl);
        qins_json_key(&j, "chunks");
        qins_json_int(&j, r.chunks);
        qins_json_key(&j, "ctx");
        qins_json_int(&j, ctx);
        qins_json_key(&j, "tokens_scored");
        qins_json_int(&j, r.tokens_scored);
        qins_json_key(&j, "nll_stderr");
        qins_json_double(&j, r.nll_stderr);
        qins_json_key(&j, "tokens");
        qins_json_uint(&j, n);
        qins_json_key(&j, "kv");
        qins_json_str(&j, spec.name);
        qins_json_key(&j, "eval_seconds");
        qins_json_double(&j, t_eval);
        qins_json_object_end(&j);
        rc = qins_json_end(&j) < 0 ? 1 : 0;
    } else {
        printf("%s: %zu tokens (tokenized in %.2f s), %d windows of %ld, %lld tokens scored\n", file, n, t_tok,
               r.chunks, ctx, (long long)r.tokens_scored);
        printf("perplexity %.4f (mean NLL %.5f +/- %.5f), kv %s, %.2f s (%.0f tok/s)\n", r.ppl, r.nll_mean,
               r.nll_stderr, spec.name, t_eval, r.chunks * (double)ctx / t_eval);
        if (r.n_nonfinite) printf("warning: %lld positions had NaN/Inf logits\n", (long long)r.n_nonfinite);
        rc = 0;
    }
done:
    qins_ppl_result_free(&r);
    free(ids);
    free(text);
    qins_state_free(s);
    qins_kv_free(kv);
    cli_free_model(m, tok);
    return rc;
}
