// tests/test_production.c — the production config (core/production.h): written with a comment per
// choice and read back; a file that would not run is never left behind; bad keys and values are
// one error line; `qins generate --config` runs exactly what the config says (the same ids and
// weight bytes as applying it in process) and refuses a second model or KV store beside it.
#include <criterion/criterion.h>
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common.h"
#include "eval.h"
#include "helpers/run_cmd.h"
#include "helpers/shared_paths.h"
#include "kv.h"
#include "model.h"
#include "production.h"
#include "slots.h"
#include "tokenizer.h"

static char out[1 << 16];

static const struct qins_production_line lines[] = {
    {"model", "stories260K.gguf", "the model phase 0 ran on"},
    {"kv", "qins8:alpha=2:gran=token:page=16", "phase 1 run X: the KV store"},
    {"weights", "qins8", "Pattern A: gate 2 and gate 5 said NO-GO"},
    {"weights_gran", "row", NULL},
    {"weights_kernel", "fused", "phase 4: the fused kernels"},
};

static void write_prod(char *path, size_t cap, const struct qins_production_line *l, size_t n) {
    char dir[] = "/tmp/qins_prod_XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    snprintf(path, cap, "%s/production.ini", dir);
    cr_assert_eq(qins_production_write(path, "; production config (test)", l, n), QINS_OK);
}

Test(production, written_with_comments_and_read_back) {
    char path[128];
    write_prod(path, sizeof path, lines, sizeof lines / sizeof lines[0]);
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f);
    char text[2048];
    text[fread(text, 1, sizeof text - 1, f)] = 0;
    fclose(f);
    cr_assert(strstr(text, "; phase 1 run X: the KV store\nkv = qins8:alpha=2:gran=token:page=16\n"), "%s", text);
    cr_assert(strstr(text, "[production]\n"), "%s", text);
    struct qins_production p;
    cr_assert_eq(qins_production_read(path, &p), QINS_OK);
    cr_assert_str_eq(p.model, "stories260K.gguf");
    cr_assert_str_eq(p.kv_text, "qins8:alpha=2:gran=token:page=16");
    cr_assert(p.has_weight_codec && p.weights.codec == QINS_CODEC_QINS && p.weights.bits == 8);
    cr_assert_eq(p.weights.granularity, QINS_GRAN_PER_ROW);
    cr_assert(p.fused && p.with_output && p.slot_mask == QINS_SLOT_MASK_ALL && p.threads == 0);
    char tmp[160];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    cr_assert_neq(access(tmp, F_OK), 0, "no temporary file left");
}

Test(production, a_file_that_would_not_run_is_never_left_behind) {
    const struct qins_production_line bad[] = {{"model", "stories260K.gguf", NULL}, {"kv", "qins99", NULL}};
    char dir[] = "/tmp/qins_prod_XXXXXX", path[128], tmp[160];
    cr_assert_not_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/production.ini", dir);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    cr_assert_lt(qins_production_write(path, NULL, bad, 2), 0);
    cr_assert_neq(access(path, F_OK), 0);
    cr_assert_neq(access(tmp, F_OK), 0);
    const struct qins_production_line unknown[] = {{"modle", "stories260K.gguf", NULL}};
    cr_assert_lt(qins_production_write(path, NULL, unknown, 1), 0, "an unknown key is refused");
    struct qins_production p;
    cr_assert_lt(qins_production_read("/nonexistent/production.ini", &p), 0);
}

// The ids `qins generate --config` prints equal those of the same choices applied in process.
Test(production, generate_with_config_runs_what_it_says, .timeout = 120) {
    char model[1200];
    if (test_model_path("stories260K.gguf", model, sizeof model)) return;
    struct qins_production_line l[5];
    memcpy(l, lines, sizeof l);
    l[0].value = model;
    char path[128], cmd[4096];
    write_prod(path, sizeof path, l, 5);
    snprintf(cmd, sizeof cmd, "%s/qins generate --config %s --prompt 'Once upon a time' --tokens 24 --json --threads 1",
             QINS_TEST_BIN_DIR, path);
    cr_assert_eq(test_run_cmd(cmd, out, sizeof out), 0, "%s", out);
    cJSON *j = cJSON_Parse(strchr(out, '{'));
    cr_assert_not_null(j, "%s", out);
    cJSON *ids = cJSON_GetObjectItem(j, "ids");
    cr_assert_eq(cJSON_GetArraySize(ids), 24);

    struct qins_production p;
    cr_assert_eq(qins_production_read(path, &p), QINS_OK);
    qins_set_threads(1);
    struct qins_model *m;
    struct qins_tokenizer *tok;
    cr_assert_eq(qins_model_load(model, &m), 0);
    cr_assert_eq(qins_tokenizer_init_gguf(m->gguf, &tok), 0);
    const size_t fp32_bytes = qins_model_stored_weight_bytes(m);
    cr_assert_eq(qins_production_apply(&p, m), QINS_OK);
    const size_t coded = qins_model_stored_weight_bytes(m);
    cr_assert_lt(coded, fp32_bytes / 3, "qins8 weights are stored coded (%zu of %zu bytes)", coded, fp32_bytes);
    cr_assert_eq((size_t)cJSON_GetObjectItem(j, "weight_bytes")->valuedouble, coded);
    cr_assert_str_eq(cJSON_GetObjectItem(j, "kv")->valuestring, p.kv.name);
    int32_t *prompt;
    size_t n_prompt;
    cr_assert_eq(qins_tokenizer_encode(tok, "Once upon a time", 16, true, &prompt, &n_prompt), 0);
    const int ctx = (int)n_prompt + 24;
    struct qins_kv_store *kv;
    struct qins_state *s;
    cr_assert_eq(qins_kv_store_create(&p.kv, m->hp.n_layer, ctx, m->hp.n_head_kv * m->hp.head_dim, &kv), 0);
    cr_assert_eq(qins_state_init(m, ctx, ctx, kv, &s), 0);
    int32_t got[24];
    int n = 0;
    cr_assert_eq(qins_generate_greedy(m, s, prompt, (int)n_prompt, 24, qins_tokenizer_eos(tok), got, NULL, &n), 0);
    cr_assert_eq(n, 24);
    for (int i = 0; i < 24; i++) cr_assert_eq(got[i], cJSON_GetArrayItem(ids, i)->valueint, "step %d", i);
    free(prompt);
    qins_state_free(s);
    qins_kv_free(kv);
    qins_tokenizer_free(tok);
    qins_model_reset_slots(m);
    qins_model_free(m);
    cJSON_Delete(j);

    // one model and one KV store: from the config or from the command line, not both
    snprintf(cmd, sizeof cmd, "%s/qins generate --config %s --model %s --prompt x --tokens 2", QINS_TEST_BIN_DIR, path,
             model);
    cr_assert_neq(test_run_cmd(cmd, out, sizeof out), 0);
    cr_assert(strstr(out, "not both"), "%s", out);
    snprintf(cmd, sizeof cmd, "%s/qins perplexity --config %s --kv fp16 --text-file /dev/null --ctx 16",
             QINS_TEST_BIN_DIR, path);
    cr_assert_neq(test_run_cmd(cmd, out, sizeof out), 0);
    cr_assert(strstr(out, "not both"), "%s", out);
}
