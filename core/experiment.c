// core/experiment.c — the shared phase runner: inputs, evaluations, quality metrics, latency.
#include "experiment.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "blas.h"
#include "common.h"
#include "codec.h"
#include "gate.h"
#include "paths.h"
#include "progress.h"
#include "util.h"

// ---- shared key tables ([run] for every phase, [codec] for codec phases)

static int check_slice(const char *v, char *why, size_t cap) {
    struct qins_slice s;
    if (qins_slice_parse(v, &s) == QINS_OK) return 0;
    snprintf(why, cap, "expected bytes:A-B or stories:A-B with A < B (or none), got '%s'", v);
    return -1;
}

static int check_prompts(const char *v, char *why, size_t cap) {
    if (!strncmp(v, "derive:", 7)) {
        char *end;
        long n = strtol(v + 7, &end, 10);
        if (end != v + 7 && !*end && n >= 1 && n <= 100000) return 0;
        snprintf(why, cap, "derive:N needs 1 <= N <= 100000, got '%s'", v);
        return -1;
    }
    if (!*v) {
        snprintf(why, cap, "empty: give a CSV path or derive:N");
        return -1;
    }
    return 0;
}

#define NR 1, 0 // no range
const struct qins_cfg_key qins_exp_run_keys[] = {
    {"run", "model", QINS_CFG_STRING, "stories260K.gguf", NR, NULL,
     "GGUF model: a path, or a bare name looked up in $QINS_MODELS, $QINS_SHARED/models, ./models, ./ (core/paths.h)", NULL},
    {"run", "eval_text", QINS_CFG_STRING, "tinystories_train_sample_2MiB.txt", NR, NULL,
     "evaluation text: a path, or a bare name looked up in $QINS_DATA, $QINS_SHARED/data, ./data, ./ (core/paths.h)", NULL},
    {"run", "eval_slice", QINS_CFG_STRING, "stories:0-1000", NR, NULL,
     "part of eval_text for perplexity and derived prompts: bytes:A-B or stories:A-B (half-open, 0-based; "
     "stories end at <|endoftext|> lines)", check_slice},
    {"run", "calib_slice", QINS_CFG_STRING, "stories:1000-1200", NR, NULL,
     "calibration part of eval_text, must not overlap eval_slice; none = no calibration", check_slice},
    {"run", "eval_chunks", QINS_CFG_INT, "0", 0, 1e9, NULL,
     "perplexity windows scored from the start of eval_slice (0 = every full window)", NULL},
    {"run", "ctx", QINS_CFG_INT, "256", 8, 1048576, NULL, "context length in tokens (perplexity window)", NULL},
    {"run", "threads", QINS_CFG_INT, "0", 0, 4096, NULL,
     "CPU threads (0 = all online CPUs; the run file records the number used)", NULL},
    {"run", "prompts", QINS_CFG_STRING, "experiments/prompts-tinystories.csv", NR, NULL,
     "prompt set: CSV file id,prompt,max_tokens (path, or relative to the source tree), or derive:N "
     "(first words of the first N distinct stories of eval_slice)", check_prompts},
    {"run", "prompt_words", QINS_CFG_INT, "6", 1, 64, NULL, "words per derived prompt (prompts = derive:N)", NULL},
    {"run", "tokens", QINS_CFG_INT, "128", 1, 1000000, NULL,
     "greedy tokens generated per prompt for token_match (plan: >= 100); 0 in a CSV row means this value",
     NULL},
    {"run", "seed", QINS_CFG_INT, "1234", 0, 9.2e18, NULL, "RNG seed (sampling, random weights, subsets)", NULL},
    {"run", "tag", QINS_CFG_STRING, "", NR, NULL,
     "label gates.txt uses to select this run (e.g. single-layer, full); empty = untagged", NULL},
    {"run", "note", QINS_CFG_STRING, "", NR, NULL, "free text, recorded with the run", NULL},
    {0},
};

const struct qins_cfg_key qins_exp_codec_keys[] = {
    {"codec", "codec", QINS_CFG_ENUM, "qins", NR, "qins|qins-log|int|fp16|fp32",
     "number format: qins (rational), qins-log, int (uniform symmetric absmax baseline), fp16, fp32", NULL},
    {"codec", "bits", QINS_CFG_INT, "8", 2, 16, NULL, "code width k in bits (qins, qins-log, int)", NULL},
    {"codec", "alpha", QINS_CFG_DOUBLE, "1.0", 1e-9, 1e9, NULL,
     "QINS alpha, relative to the group's scale (effective alpha = alpha / scale)", NULL},
    {"codec", "granularity", QINS_CFG_ENUM, "row", NR, "tensor|row|group|page",
     "scale granularity: per tensor, per row/channel, per group of group_size values, per KV page", NULL},
    {"codec", "group_size", QINS_CFG_INT, "32", 1, 1048576, NULL, "values per group (granularity = group)", NULL},
    {"codec", "scale", QINS_CFG_ENUM, "absmax", NR, "absmax|rms", "what a group's scale is", NULL},
    {"codec", "page_size", QINS_CFG_INT, "16", 1, 65536, NULL,
     "KV tokens per page (the page being filled stays FP until full)", NULL},
    {0},
};
#undef NR

// ---- item checks for phase tables

// Runs a parser that logs its own reason; why gets that reason (logging is already silenced
// by the config engine while a check runs, and qins_last_error still records the line).
static int parser_reason(int rc, const char *what, const char *item, char *why, size_t cap) {
    if (rc == 0) return 0;
    if (*qins_last_error()) snprintf(why, cap, "%s", qins_last_error());
    else snprintf(why, cap, "'%s' is not a %s", item, what);
    return -1;
}

int qins_check_kv_spec_item(const char *item, char *why, size_t cap) {
    struct qins_kv_spec kv;
    qins_last_error_clear();
    return parser_reason(qins_kv_spec_parse(item, &kv), "KV spec (core/kv_paged.h)", item, why, cap);
}

int qins_check_codec_item(const char *item, char *why, size_t cap) {
    struct qins_codec_params cp;
    qins_codec_params_default(&cp);
    qins_last_error_clear();
    return parser_reason(qins_codec_parse(item, &cp), "codec (fp32 fp16 bf16 int<k> nf<k> qins<k> qinslog<k>)", item,
                         why, cap);
}

int qins_check_granularity_item(const char *item, char *why, size_t cap) {
    struct qins_codec_params cp;
    qins_codec_params_default(&cp);
    qins_last_error_clear();
    return parser_reason(qins_codec_parse_granularity(item, &cp), "granularity (tensor row column group<G>)", item, why,
                         cap);
}

int qins_check_qins_codec_item(const char *item, char *why, size_t cap) {
    struct qins_codec_params p;
    qins_codec_params_default(&p);
    if (qins_codec_parse(item, &p) == 0 && p.codec == QINS_CODEC_QINS) return 0;
    snprintf(why, cap, "'%s' is not a QINS codec (qins<k>, k = 2..%d)", item, QINS_CODEC_MAX_BITS);
    return -1;
}

int qins_check_kv_spec_or_none(const char *value, char *why, size_t cap) {
    return strcmp(value, "none") ? qins_check_kv_spec_item(value, why, cap) : 0;
}

int qins_check_kv_options(const char *value, char *why, size_t cap) {
    char text[320];
    snprintf(text, sizeof text, "qins8%s%s", *value ? ":" : "", value);
    return qins_check_kv_spec_item(text, why, cap);
}

// ---- open / close

static int tokenize_inputs(struct qins_exp *e) {
    const size_t n = e->prompts.n;
    e->prompt_ids = calloc(n, sizeof *e->prompt_ids);
    e->n_prompt_ids = calloc(n, sizeof *e->n_prompt_ids);
    QINS_CHECK(e->prompt_ids && e->n_prompt_ids, QINS_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        size_t len;
        const char *t = e->prompts.items[i].text;
        QINS_TRY(qins_tokenizer_encode(e->tok, t, strlen(t), true, &e->prompt_ids[i], &len));
        e->n_prompt_ids[i] = (int)len;
        QINS_CHECK((int)len + e->prompts.items[i].max_tokens <= e->model->hp.n_ctx_train, QINS_ERR_ARG,
                   "prompt '%s': %zu prompt tokens + %d generated exceed the model context %d", e->prompts.items[i].id,
                   len, e->prompts.items[i].max_tokens, e->model->hp.n_ctx_train);
    }
    size_t n_eval;
    QINS_TRY(qins_tokenizer_encode(e->tok, e->data.text + e->data.eval_b0, e->data.eval_b1 - e->data.eval_b0, true,
                                   &e->eval_ids, &n_eval));
    e->n_eval = (int64_t)n_eval;
    QINS_CHECK(e->n_eval >= e->ctx, QINS_ERR_ARG, "eval slice %s gives %lld tokens, fewer than one window of %d",
               e->data.eval_spec, (long long)e->n_eval, e->ctx);
    return 0;
}

int qins_exp_open(struct qins_exp *e, int phase, int argc, char **argv, const struct qins_cfg_key *const *tables) {
    memset(e, 0, sizeof *e); // first: the caller closes e on any error below
    // Before any work: a wrong OpenBLAS core is corrected by re-executing this process.
    QINS_TRY(qins_blas_select(argc, argv));
    // Line-buffered stdout: a run logged to a file shows its progress lines as they happen.
    setvbuf(stdout, NULL, _IOLBF, 0);
    e->phase = phase;
    e->t_start = qins_time_now();
    QINS_TRY(qins_phase_args_parse(argc, argv, &e->args));
    // [run] first, then the phase's tables (a phase that lists qins_exp_run_keys itself is
    // fine: a table listed twice counts once).
    const struct qins_cfg_key *all[8] = {qins_exp_run_keys};
    for (int i = 0, n = 1; tables && tables[i] && n < 7; i++)
        if (tables[i] != qins_exp_run_keys) all[n++] = tables[i];
    if (e->args.help_config) {
        qins_config_print_doc(stdout, all);
        return 1;
    }
    // No --config: the phase's recorded default experiment, experiments/phase<N>.ini, when the
    // source tree has one (the [run] defaults are shared by every phase, so a bare run would
    // otherwise mean e.g. every perplexity window).
    if (!e->args.config_path) {
        char name[64];
        snprintf(name, sizeof name, "experiments/phase%d.ini", phase);
        // a missing default file is not an error
        if (qins_path_try(QINS_PATH_SOURCE, name, e->default_config, sizeof e->default_config) == QINS_OK) {
            e->args.config_path = e->default_config;
            printf("qins-phase%d: no --config given, running %s\n", phase, e->default_config);
        }
    }
    QINS_TRY(qins_config_new(&e->cfg, all));
    QINS_TRY(qins_config_load_file(e->cfg, e->args.config_path));
    for (size_t i = 0; i < e->args.n_overrides; i++) QINS_TRY(qins_config_set(e->cfg, e->args.overrides[i]));
    if (phase > 0) QINS_TRY(qins_gate_require(phase - 1, e->args.results_dir, e->args.force));

    e->ctx = (int)qins_config_int(e->cfg, "run", "ctx");
    e->eval_chunks = (int)qins_config_int(e->cfg, "run", "eval_chunks");
    e->threads = (int)qins_config_int(e->cfg, "run", "threads");
    if (e->threads <= 0) e->threads = (int)sysconf(_SC_NPROCESSORS_ONLN);
    qins_set_threads(e->threads);

    QINS_TRY(qins_exp_model_path(e->cfg, e->model_path, sizeof e->model_path));
    QINS_TRY(qins_model_load(e->model_path, &e->model));
    QINS_CHECK(e->ctx <= e->model->hp.n_ctx_train, QINS_ERR_ARG, "[run] ctx = %d is larger than the model's context %d",
               e->ctx, e->model->hp.n_ctx_train);
    QINS_TRY(qins_tokenizer_init_gguf(e->model->gguf, &e->tok));
    QINS_TRY(qins_dataset_load(e->cfg, &e->data));
    QINS_TRY(qins_prompts_from_config(e->cfg, &e->data, &e->prompts));
    QINS_CHECK(e->prompts.n > 0, QINS_ERR_ARG, "the prompt set %s is empty", e->prompts.source);
    QINS_TRY(tokenize_inputs(e));

    char *effective = qins_config_effective(e->cfg);
    QINS_CHECK(effective, QINS_ERR_NOMEM, "out of memory");
    struct qins_run_info info = {
        .phase = phase,
        .results_dir = e->args.results_dir,
        .config_text = effective,
        .config_source = qins_config_source_text(e->cfg),
        .config_path = qins_config_source_path(e->cfg),
        .model_path = e->model_path,
        .eval_path = e->data.path,
        .eval_sha256 = e->data.sha256,
        .threads = e->threads,
        .forced = e->args.force,
        .tag = qins_config_str(e->cfg, "run", "tag"),
        .argc = argc,
        .argv = argv,
    };
    printf("phase %d: config %s\n%s", phase, e->args.config_path ? e->args.config_path : "(defaults)", effective);
    int st = qins_run_begin(&e->run, &info);
    free(effective);
    QINS_TRY(st);
    QINS_TRY(qins_dataset_record(e->run, &e->data, &e->prompts));
    QINS_TRY(qins_run_attr_int(e->run, "/data", "eval_tokens", e->n_eval));
    printf("model %s, %zu prompts, eval slice %s = %lld tokens, ctx %d, %d threads\n", e->model_path, e->prompts.n,
           e->data.eval_spec, (long long)e->n_eval, e->ctx, e->threads);
    return 0;
}

int qins_exp_model_path(const qins_config_t *cfg, char *out, size_t cap) {
    return qins_path_resolve(QINS_PATH_MODEL, qins_config_str(cfg, "run", "model"), out, cap);
}

static void free_inputs(struct qins_exp *e) {
    for (size_t i = 0; e->prompt_ids && i < e->prompts.n; i++) free(e->prompt_ids[i]);
    free(e->prompt_ids);
    free(e->n_prompt_ids);
    free(e->eval_ids);
    qins_prompts_free(&e->prompts);
    qins_dataset_free(&e->data);
    qins_tokenizer_free(e->tok);
    qins_model_free(e->model);
    qins_config_free(e->cfg);
    free(e->keys);
    memset(e, 0, sizeof *e);
}

int qins_exp_metricf(struct qins_exp *e, double value, const char *unit, const char *fmt, ...) {
    char name[256];
    va_list ap;
    va_start(ap, fmt);
    const int st = qins_vformat(name, sizeof name, fmt, ap);
    va_end(ap);
    return st < 0 ? st : qins_run_metric(e->run, name, value, unit);
}

int qins_exp_key(struct qins_exp *e, const char *fmt, ...) {
    char name[256];
    va_list ap;
    va_start(ap, fmt);
    const int st = qins_vformat(name, sizeof name, fmt, ap);
    va_end(ap);
    QINS_TRY(st);
    const size_t n = strlen(name);
    QINS_TRY(qins_grow(&e->keys, &e->keys_cap, e->keys_len + n + 2, 1));
    e->keys_len += (size_t)sprintf(e->keys + e->keys_len, "%s%s", e->keys_len ? "," : "", name);
    return 0;
}

int qins_exp_commit(struct qins_exp *e) {
    char path[1200];
    if (e->keys_len) QINS_TRY(qins_run_key_metrics(e->run, e->keys));
    QINS_TRY(qins_run_metric(e->run, "wall_seconds", qins_time_now() - e->t_start, "s"));
    int st = qins_run_commit(e->run, path, sizeof path);
    e->run = NULL;
    if (st == 0) printf("run file: %s\n", path);
    free_inputs(e);
    return st;
}

void qins_exp_close(struct qins_exp *e) {
    qins_run_abort(e->run);
    free_inputs(e);
}

// ---- evaluation

static void progress_cb(void *user, int64_t done, int64_t total) {
    (void)total;
    qins_progress_update(user, (uint64_t)done);
}

static bool all_finite(const float *x, int n) {
    for (int i = 0; i < n; i++)
        if (!isfinite(x[i])) return false;
    return true;
}

static int make_store(const struct qins_exp *e, const struct qins_kv_spec *kv, int n_ctx, struct qins_kv_store **out) {
    struct qins_kv_spec fp32;
    if (!kv) {
        QINS_TRY(qins_kv_spec_parse("fp32", &fp32));
        kv = &fp32;
    }
    const struct qins_hparams *hp = &e->model->hp;
    return qins_kv_store_create(kv, hp->n_layer, n_ctx, hp->n_head_kv * hp->head_dim, out);
}

int qins_exp_longest_context(const struct qins_exp *e) {
    int n = e->ctx;
    for (size_t i = 0; i < e->prompts.n; i++)
        if (e->n_prompt_ids[i] + e->prompts.items[i].max_tokens > n) n = e->n_prompt_ids[i] + e->prompts.items[i].max_tokens;
    return n;
}

int qins_exp_evaluate(struct qins_exp *e, struct qins_model *m, const struct qins_kv_spec *kv, const char *name,
                      struct qins_exp_eval *out) {
    memset(out, 0, sizeof *out);
    snprintf(out->name, sizeof out->name, "%s", name);
    const int np = (int)e->prompts.n;
    int gen_ctx = e->ctx, max_tok = 0;
    for (int i = 0; i < np; i++) {
        if (e->prompts.items[i].max_tokens > max_tok) max_tok = e->prompts.items[i].max_tokens;
        if (e->n_prompt_ids[i] + e->prompts.items[i].max_tokens > gen_ctx)
            gen_ctx = e->n_prompt_ids[i] + e->prompts.items[i].max_tokens;
    }
    out->n_prompts = np;
    out->n_tokens = max_tok;
    out->gen = malloc((size_t)np * max_tok * sizeof *out->gen);
    QINS_CHECK(out->gen, QINS_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < (size_t)np * max_tok; i++) out->gen[i] = -1;
    struct qins_kv_store *store = NULL;
    struct qins_state *s = NULL;
    // Each step's logits are kept to count the steps whose logits were not finite (a variant
    // that blows up must be counted, not just produce arbitrary tokens).
    const int V = m->hp.n_vocab;
    float *step_logits = malloc((size_t)(max_tok > 0 ? max_tok : 1) * V * sizeof *step_logits);
    QINS_CHECK(step_logits, QINS_ERR_NOMEM, "out of memory");
    int st = make_store(e, kv, gen_ctx, &store);
    if (st == 0) st = qins_state_init(m, gen_ctx, gen_ctx, store, &s);
    double t0 = qins_time_now();
    struct qins_progress bar;
    char label[96];
    snprintf(label, sizeof label, "%s: generate", name);
    qins_progress_init(&bar, label, (uint64_t)np, "prompts");
    for (int i = 0; st == 0 && i < np; i++) {
        int n = e->prompts.items[i].max_tokens;
        int n_got = 0;
        st = qins_generate_greedy(m, s, e->prompt_ids[i], e->n_prompt_ids[i], n, -1, out->gen + (size_t)i * max_tok,
                                  step_logits, &n_got);
        for (int k = 0; st == 0 && k < n_got; k++) out->gen_nonfinite += !all_finite(step_logits + (size_t)k * V, V);
        if (st >= 0 && e->n_prompt_ids[i] + n - 1 > out->kv_positions_full) {
            out->kv_positions_full = store->n_pos;
            out->kv_bytes_full = qins_kv_stored_bytes(store);
        }
        if (st >= 0) st = 0;
        qins_progress_update(&bar, (uint64_t)i + 1);
    }
    qins_progress_finish(&bar);
    free(step_logits);
    qins_state_free(s);
    qins_kv_free(store);
    s = NULL, store = NULL;
    if (st == 0) st = make_store(e, kv, e->ctx, &store);
    if (st == 0) st = qins_state_init(m, e->ctx, e->ctx, store, &s);
    if (st == 0) {
        snprintf(label, sizeof label, "%s: perplexity", name);
        int64_t windows = e->n_eval / e->ctx;
        if (e->eval_chunks > 0 && e->eval_chunks < windows) windows = e->eval_chunks;
        qins_progress_init(&bar, label, (uint64_t)windows, "windows");
        struct qins_ppl_opts o = {e->ctx, e->eval_chunks, qins_tokenizer_bos(e->tok), true, progress_cb, &bar};
        st = qins_perplexity(m, s, e->eval_ids, e->n_eval, &o, &out->ppl);
        qins_progress_finish(&bar);
    }
    qins_state_free(s);
    qins_kv_free(store);
    out->seconds = qins_time_now() - t0;
    if (st < 0) {
        qins_exp_eval_free(out);
        return st;
    }
    printf("%-28s ppl %.4f over %d windows (%lld tokens), %.1f s\n", name, out->ppl.ppl, out->ppl.chunks,
           (long long)out->ppl.tokens_scored, out->seconds);
    return 0;
}

void qins_exp_eval_free(struct qins_exp_eval *ev) {
    if (!ev) return;
    free(ev->gen);
    qins_ppl_result_free(&ev->ppl);
    memset(ev, 0, sizeof *ev);
}

static int record_generation(struct qins_exp *e, const struct qins_exp_eval *ev, const char *group) {
    char path[160];
    snprintf(path, sizeof path, "/generation/%s/tokens", group);
    QINS_TRY(qins_run_array(e->run, path, QINS_DT_I32, ev->gen, (size_t)ev->n_prompts, (size_t)ev->n_tokens));
    snprintf(path, sizeof path, "/perplexity/%s/nll", group);
    QINS_TRY(qins_run_array(e->run, path, QINS_DT_F64, ev->ppl.chunk_nll, (size_t)ev->ppl.chunks, 0));
    return 0;
}

int qins_exp_record_quality(struct qins_exp *e, const struct qins_exp_eval *base, const struct qins_exp_eval *var) {
    struct qins_exp_quality q;
    return qins_exp_record_quality_ex(e, base, var, &q, NULL);
}

void qins_exp_quality_nan(struct qins_exp_quality *q) {
    q->token_match = q->first_divergence_mean = q->top1_agreement = q->ppl = q->ppl_delta_pct = NAN;
    q->kld_mean = q->kld_p99 = q->kld_max = q->nonfinite_logits = q->nonfinite_gen_steps = NAN;
}

int qins_exp_write_quality(struct qins_exp *e, const char *var, const struct qins_exp_quality *q) {
    char name[160];
#define METRIC(m, v, unit)                                                                                            \
    snprintf(name, sizeof name, "%s/%s", var, m);                                                                    \
    QINS_TRY(qins_run_metric(e->run, name, v, unit))
    METRIC("token_match", q->token_match, "fraction");
    METRIC("first_divergence_mean", q->first_divergence_mean, "tokens");
    METRIC("top1_agreement", q->top1_agreement, "fraction");
    METRIC("ppl", q->ppl, "ppl");
    METRIC("ppl_delta_pct", q->ppl_delta_pct, "pct");
    METRIC("kld_mean", q->kld_mean, "nats");
    METRIC("kld_p99", q->kld_p99, "nats");
    METRIC("kld_max", q->kld_max, "nats");
    METRIC("nonfinite_logits", q->nonfinite_logits, "count");
    METRIC("nonfinite_gen_steps", q->nonfinite_gen_steps, "count");
#undef METRIC
    return 0;
}

int qins_exp_record_quality_ex(struct qins_exp *e, const struct qins_exp_eval *base, const struct qins_exp_eval *var,
                               struct qins_exp_quality *q, int32_t *first_div) {
    char name[160];
    qins_exp_quality_nan(q);
    if (!e->baseline_recorded) {
        e->baseline_recorded = true;
        QINS_TRY(record_generation(e, base, "baseline"));
        QINS_TRY(qins_run_metric(e->run, "baseline/ppl", base->ppl.ppl, "ppl"));
        QINS_TRY(qins_run_metric(e->run, "baseline/ppl_stderr_nll", base->ppl.nll_stderr, "nats"));
        QINS_TRY(qins_run_metric(e->run, "baseline/tokens_scored", (double)base->ppl.tokens_scored, "count"));
    }
    QINS_CHECK(base->n_prompts == var->n_prompts && base->n_tokens == var->n_tokens, QINS_ERR_ARG,
               "record: %s and %s evaluated different prompt sets", base->name, var->name);
    QINS_TRY(record_generation(e, var, var->name));
    const int np = base->n_prompts;
    int32_t *first = malloc(np * sizeof *first);
    QINS_CHECK(first, QINS_ERR_NOMEM, "out of memory");
    double match = 0, first_mean = 0;
    for (int i = 0; i < np; i++) {
        int n = e->prompts.items[i].max_tokens, fd;
        match += qins_token_match(base->gen + (size_t)i * base->n_tokens, var->gen + (size_t)i * var->n_tokens, n, &fd);
        first[i] = fd;
        first_mean += fd;
    }
    snprintf(name, sizeof name, "/generation/%s/first_divergence", var->name);
    int st = qins_run_array(e->run, name, QINS_DT_I32, first, (size_t)np, 0);
    if (first_div) memcpy(first_div, first, (size_t)np * sizeof *first);
    free(first);
    QINS_TRY(st);
    struct qins_ppl_compare cmp;
    QINS_TRY(qins_ppl_compare(&base->ppl, &var->ppl, &cmp));
    *q = (struct qins_exp_quality){
        .token_match = match / np,
        .first_divergence_mean = first_mean / np,
        .top1_agreement = cmp.top1_agreement,
        .ppl = var->ppl.ppl,
        .ppl_delta_pct = 100.0 * (var->ppl.ppl / base->ppl.ppl - 1.0),
        .kld_mean = cmp.kld_mean,
        .kld_p99 = cmp.kld_p99,
        .kld_max = cmp.kld_max,
        .nonfinite_logits = (double)var->ppl.n_nonfinite,
        .nonfinite_gen_steps = (double)var->gen_nonfinite,
    };
    QINS_TRY(qins_exp_write_quality(e, var->name, q));
    printf("%-28s token match %.4f, top-1 %.4f, ppl %.4f (%+.3f %%), KLD %.6f\n", var->name, q->token_match,
           q->top1_agreement, q->ppl, q->ppl_delta_pct, q->kld_mean);
    return 0;
}

// ---- latency

int qins_exp_latency(struct qins_exp *e, int n_cfg, const struct qins_kv_spec *const *kvs, qins_exp_apply_fn apply,
                     void *user, int n_gen, int reps, double *median_s, double *samples) {
    QINS_CHECK(n_cfg >= 1 && reps >= 2 && n_gen >= 1 && n_gen + 1 <= e->model->hp.n_ctx_train, QINS_ERR_ARG,
               "latency: %d configurations, %d repetitions, %d tokens", n_cfg, reps, n_gen);
    struct qins_kv_store **stores = calloc(n_cfg, sizeof *stores);
    struct qins_state **states = calloc(n_cfg, sizeof *states);
    double *t = calloc((size_t)n_cfg * reps, sizeof *t), *sorted = calloc(reps, sizeof *sorted);
    int32_t *ids = malloc((n_gen + 1) * sizeof *ids);
    int st = stores && states && t && sorted && ids ? 0 : QINS_ERR_NOMEM;
    for (int c = 0; st == 0 && c < n_cfg; c++) {
        st = make_store(e, kvs ? kvs[c] : NULL, n_gen + 1, &stores[c]);
        if (st == 0) st = qins_state_init(e->model, n_gen + 1, 1, stores[c], &states[c]);
    }
    int32_t bos = qins_tokenizer_bos(e->tok);
    struct qins_progress bar;
    qins_progress_init(&bar, "latency", (uint64_t)reps * n_cfg, "runs");
    for (int r = 0; st == 0 && r < reps; r++)
        for (int c = 0; st == 0 && c < n_cfg; c++) {
            if (apply) st = apply(user, c);
            if (st < 0) break;
            double t0 = qins_time_now();
            st = qins_generate_greedy(e->model, states[c], &bos, 1, n_gen, -1, ids, NULL, NULL);
            t[(size_t)c * reps + r] = (qins_time_now() - t0) / n_gen;
            if (st >= 0) st = 0;
            qins_progress_update(&bar, (uint64_t)r * n_cfg + c + 1);
        }
    qins_progress_finish(&bar);
    if (apply && st == 0) st = apply(user, 0);
    for (int c = 0; st == 0 && c < n_cfg; c++) {
        // repetition 0 warms caches and page buffers: excluded
        for (int r = 1; r < reps; r++) sorted[r - 1] = t[(size_t)c * reps + r];
        if (samples) memcpy(samples + (size_t)c * (reps - 1), sorted, (reps - 1) * sizeof *sorted);
        median_s[c] = qins_median_inplace(sorted, (size_t)reps - 1);
    }
    for (int c = 0; stores && states && c < n_cfg; c++) {
        qins_state_free(states[c]);
        qins_kv_free(stores[c]);
    }
    free(stores), free(states), free(t), free(sorted), free(ids);
    return st;
}
