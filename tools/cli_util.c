// tools/cli_util.c — strict option parsing for the qins subcommands.
#include "cli_util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static bool in_list(const char *const *list, const char *s) {
    for (; list && *list; list++)
        if (!strcmp(*list, s)) return true;
    return false;
}

int cli_parse(struct cli_args *a) {
    a->n_positional = 0;
    for (int i = 1; i < a->argc; i++) {
        const char *s = a->argv[i];
        if (!strncmp(s, "--", 2)) {
            if (in_list(a->flags, s)) continue;
            if (in_list(a->options, s)) {
                if (i + 1 >= a->argc) {
                    fprintf(stderr, "qins %s: option %s needs a value\n", a->cmd, s);
                    return -1;
                }
                i++;
                continue;
            }
            fprintf(stderr, "qins %s: unknown option '%s'\n", a->cmd, s);
            return -1;
        }
        if (a->n_positional >= 4) {
            fprintf(stderr, "qins %s: unexpected argument '%s'\n", a->cmd, s);
            return -1;
        }
        a->positional[a->n_positional++] = s;
    }
    return 0;
}

const char *cli_opt(const struct cli_args *a, const char *name) {
    const char *v = NULL;
    for (int i = 1; i + 1 < a->argc; i++)
        if (!strcmp(a->argv[i], name)) v = a->argv[++i];
        else if (in_list(a->options, a->argv[i])) i++;
    return v;
}

bool cli_flag(const struct cli_args *a, const char *name) {
    for (int i = 1; i < a->argc; i++) {
        if (in_list(a->options, a->argv[i])) {
            i++;
            continue;
        }
        if (!strcmp(a->argv[i], name)) return true;
    }
    return false;
}

int cli_int(const struct cli_args *a, const char *name, long lo, long hi, long dflt, long *out) {
    const char *v = cli_opt(a, name);
    if (!v) {
        *out = dflt;
        return 0;
    }
    char *end;
    errno = 0;
    long x = strtol(v, &end, 10);
    if (errno || end == v || *end || x < lo || x > hi) {
        fprintf(stderr, "qins %s: %s must be an integer in [%ld, %ld], got '%s'\n", a->cmd, name, lo, hi, v);
        return -1;
    }
    *out = x;
    return 0;
}

char *cli_read_file(const char *cmd, const char *path, long *len) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "qins %s: cannot open '%s': %s\n", cmd, path, strerror(errno));
        return NULL;
    }
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = n >= 0 ? malloc((size_t)n + 1) : NULL;
    if (!buf || fread(buf, 1, (size_t)n, f) != (size_t)n) {
        fprintf(stderr, "qins %s: cannot read '%s'\n", cmd, path);
        free(buf);
        fclose(f);
        return NULL;
    }
    fclose(f);
    buf[n] = 0;
    *len = n;
    return buf;
}

#include <unistd.h>

#include "blas.h"
#include "json_out.h"
#include "kv_paged.h"
#include "model.h"
#include "paths.h"
#include "production.h"
#include "slots.h"
#include "tokenizer.h"

// --config FILE: the production config (core/production.h), read once per process (the
// subcommands ask for the KV spec first, then the model).
static struct qins_production cli_prod;
static int cli_prod_state; // 0 not read, 1 read, -1 failed
static const struct qins_production *production(const struct cli_args *a, int *err) {
    const char *path = cli_opt(a, "--config");
    *err = 0;
    if (!path) return NULL;
    if (!cli_prod_state) cli_prod_state = qins_production_read(path, &cli_prod) == QINS_OK ? 1 : -1;
    if (cli_prod_state < 0) *err = -1;
    return cli_prod_state > 0 ? &cli_prod : NULL;
}

int cli_load_model(const struct cli_args *a, struct qins_model **m, struct qins_tokenizer **tok) {
    *m = NULL;
    *tok = NULL;
    int err;
    const struct qins_production *prod = production(a, &err);
    if (err) return -1;
    const char *name = cli_opt(a, "--model") ? cli_opt(a, "--model") : a->positional[0];
    if (prod && name) {
        fprintf(stderr, "qins %s: give the model with --model or in --config %s, not both\n", a->cmd, prod->path);
        return -1;
    }
    if (prod) name = prod->model;
    if (!name) {
        fprintf(stderr, "qins %s: no model given (--model FILE)\n", a->cmd);
        return -1;
    }
    const long all = sysconf(_SC_NPROCESSORS_ONLN);
    long threads;
    if (cli_int(a, "--threads", 1, 1024, prod && prod->threads > 0 ? prod->threads : all, &threads) < 0) return -1;
    qins_set_threads((int)threads);
    char path[1024];
    if (qins_path_resolve(QINS_PATH_MODEL, name, path, sizeof path) < 0 || qins_model_load(path, m) < 0) return -1;
    if (qins_tokenizer_init_gguf((*m)->gguf, tok) < 0 || (prod && qins_production_apply(prod, *m) < 0)) {
        cli_free_model(*m, *tok); // a codec that failed part way leaves the slots it did set
        *m = NULL, *tok = NULL;
        return -1;
    }
    return 0;
}

void cli_free_model(struct qins_model *m, struct qins_tokenizer *tok) {
    qins_tokenizer_free(tok);
    if (m) qins_model_reset_slots(m);
    qins_model_free(m);
}

int cli_kv_spec(const struct cli_args *a, struct qins_kv_spec *spec) {
    int err;
    const struct qins_production *prod = production(a, &err);
    if (err) return -1;
    const char *kv = cli_opt(a, "--kv");
    if (prod && kv) {
        fprintf(stderr, "qins %s: give the KV store with --kv or in --config %s, not both\n", a->cmd, prod->path);
        return -1;
    }
    if (prod) {
        *spec = prod->kv;
        return 0;
    }
    return qins_kv_spec_parse(kv ? kv : "fp32", spec) < 0 ? -1 : 0;
}

void cli_blas_print(int width) {
    struct qins_blas_info b;
    qins_blas_info_get(&b);
    char from[112] = "";
    if (!strcmp(b.source, "corrected")) snprintf(from, sizeof from, " (corrected from %s)", b.corrected_from);
    else if (b.corrected_from[0]) snprintf(from, sizeof from, " (%s; OpenBLAS chose %s)", b.source, b.corrected_from);
    else if (strcmp(b.source, "detected")) snprintf(from, sizeof from, " (%s)", b.source);
    printf("%-*s %s %s, core %s%s, %d thread%s\n", width, "blas", b.name, b.version, b.core, from, b.threads,
           b.threads == 1 ? "" : "s");
    if (b.wanted[0] && strcasecmp(b.wanted, b.core))
        printf("%-*s core %s under-uses this CPU: %s would be faster (unset OPENBLAS_CORETYPE / QINS_BLAS_CORE to let qins pick it)\n",
               width, "", b.core, b.wanted);
    printf("%-*s %s (%s)\n", width, "cpu", b.cpu_model[0] ? b.cpu_model : "unknown", b.cpu_features);
}

void cli_blas_json(struct qins_json *j) {
    struct qins_blas_info b;
    qins_blas_info_get(&b);
    qins_json_object_begin(j);
    qins_json_key(j, "name"), qins_json_str(j, b.name);
    qins_json_key(j, "version"), qins_json_str(j, b.version);
    qins_json_key(j, "core"), qins_json_str(j, b.core);
    qins_json_key(j, "corrected_from"), qins_json_str(j, b.corrected_from);
    qins_json_key(j, "core_source"), qins_json_str(j, b.source);
    qins_json_key(j, "wanted_core"), qins_json_str(j, b.wanted);
    qins_json_key(j, "threads"), qins_json_int(j, b.threads);
    qins_json_key(j, "cpu_model"), qins_json_str(j, b.cpu_model);
    qins_json_key(j, "cpu_features"), qins_json_str(j, b.cpu_features);
    qins_json_object_end(j);
}
