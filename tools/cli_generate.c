// tools/cli_generate.c — `qins generate`: greedy continuation of a prompt (BOS added, the
// prompt as one batch, then one token at a time; stops at EOS like llama.cpp).
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cli_util.h"
#include "eval.h"
#include "json_out.h"
#include "kv_paged.h"
#include "model.h"
#include "slots.h"
#include "tokenizer.h"

int qins_cli_generate(int argc, char **argv) {
    static const char *const options[] = {"--model", "--prompt", "--tokens", "--kv", "--threads", "--config", NULL},
                             *const flags[] = {"--json", NULL};
    struct cli_args a = {"generate", argc, argv, options, flags, {0}, 0};
    if (cli_parse(&a) < 0) return 2;
    long n_gen;
    struct qins_kv_spec spec;
    if (cli_int(&a, "--tokens", 1, 1 << 20, 64, &n_gen) < 0 || cli_kv_spec(&a, &spec) < 0) return 2;
    const char *prompt = cli_opt(&a, "--prompt") ? cli_opt(&a, "--prompt") : "";
    struct qins_model *m;
    struct qins_tokenizer *tok;
    if (cli_load_model(&a, &m, &tok) < 0) return 1;
    int rc = 1;
    int32_t *prompt_ids = NULL, *ids = malloc(n_gen * sizeof *ids);
    size_t n_prompt = 0;
    struct qins_kv_store *kv = NULL;
    struct qins_state *s = NULL;
    if (!ids || qins_tokenizer_encode(tok, prompt, strlen(prompt), qins_tokenizer_add_bos(tok), &prompt_ids, &n_prompt) < 0)
        goto done;
    if (n_prompt == 0) { // a vocab without BOS and an empty prompt: nothing to condition on
        fprintf(stderr, "qins generate: the prompt is empty and the vocab adds no BOS\n");
        goto done;
    }
    int ctx = (int)(n_prompt + n_gen);
    if (ctx > m->hp.n_ctx_train) {
        fprintf(stderr, "qins generate: %zu prompt tokens + %ld new tokens exceed the model's context of %d\n",
                n_prompt, n_gen, m->hp.n_ctx_train);
        goto done;
    }
    if (qins_kv_store_create(&spec, m->hp.n_layer, ctx, m->hp.n_head_kv * m->hp.head_dim, &kv) < 0 ||
        qins_state_init(m, ctx, ctx, kv, &s) < 0)
        goto done;
    int n = 0;
    if (qins_generate_greedy(m, s, prompt_ids, (int)n_prompt, (int)n_gen, qins_tokenizer_eos(tok), ids, NULL, &n) < 0)
        goto done;
    char *text;
    size_t len;
    if (qins_tokenizer_decode(tok, ids, (size_t)n, 0, &text, &len) < 0) goto done;
    if (cli_flag(&a, "--json")) {
        struct qins_json j;
        qins_json_init(&j, stdout);
        qins_json_object_begin(&j);
        qins_json_key(&j, "prompt_ids");
        qins_json_array_begin(&j);
        for (size_t i = 0; i < n_prompt; i++) qins_json_int(&j, prompt_ids[i]);
        qins_json_array_end(&j);
        qins_json_key(&j, "ids");
        qins_json_array_begin(&j);
        for (int i = 0; i < n; i++) qins_json_int(&j, ids[i]);
        qins_json_array_end(&j);
        qins_json_key(&j, "text");
        qins_json_str_n(&j, text, len);
        qins_json_key(&j, "kv");
        qins_json_str(&j, spec.name);
        qins_json_key(&j, "kv_bytes");
        qins_json_uint(&j, qins_kv_stored_bytes(kv));
        qins_json_key(&j, "weight_bytes"); // the matmul weights as the slots store them (a --config codec shows here)
        qins_json_uint(&j, qins_model_stored_weight_bytes(m));
        qins_json_object_end(&j);
        rc = qins_json_end(&j) < 0 ? 1 : 0;
    } else {
        fwrite(prompt, 1, strlen(prompt), stdout);
        fwrite(text, 1, len, stdout);
        printf("\n[%d tokens, kv %s: %zu bytes, matmul weights %zu bytes]\n", n, spec.name, qins_kv_stored_bytes(kv),
               qins_model_stored_weight_bytes(m));
        rc = 0;
    }
    free(text);
done:
    free(prompt_ids);
    free(ids);
    qins_state_free(s);
    qins_kv_free(kv);
    cli_free_model(m, tok);
    return rc;
}
