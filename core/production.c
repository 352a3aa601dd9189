// core/production.c — see production.h.
#include "production.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common.h"
#include "slots.h"

static int check_kv(const char *v, char *why, size_t cap) {
    struct qins_kv_spec s;
    if (qins_kv_spec_parse(v, &s) == 0) return 0;
    snprintf(why, cap, "not a KV store spec (qins generate --kv syntax): '%s'", v);
    return 1;
}

static int check_weights(const char *v, char *why, size_t cap) {
    struct qins_codec_params p;
    qins_codec_params_default(&p);
    if (!strcmp(v, "stored") || qins_codec_parse(v, &p) == 0) return 0;
    snprintf(why, cap, "'%s' is neither 'stored' nor a codec name (qins8, int8, nf4, fp16, ...)", v);
    return 1;
}

static int check_gran(const char *v, char *why, size_t cap) {
    struct qins_codec_params p;
    qins_codec_params_default(&p);
    if (qins_codec_parse_granularity(v, &p) == 0) return 0;
    snprintf(why, cap, "'%s' is not a granularity (tensor, row, column, group<G>)", v);
    return 1;
}

#define NR 1, 0 // no range
const struct qins_cfg_key qins_production_keys[] = {
    {"production", "model", QINS_CFG_STRING, "stories260K.gguf", NR, NULL, "model file (looked up like --model)", NULL},
    {"production", "kv", QINS_CFG_STRING, "fp32", NR, NULL, "KV store, `qins generate --kv` syntax", check_kv},
    {"production", "weights", QINS_CFG_STRING, "stored", NR, NULL,
     "'stored' (as the file holds them) or the codec every selected slot keeps its weight in", check_weights},
    {"production", "weights_gran", QINS_CFG_STRING, "row", NR, NULL, "scale granularity of the weight codec",
     check_gran},
    {"production", "weights_alpha", QINS_CFG_DOUBLE, "1", 1e-3, 1e6, NULL, "QINS alpha, relative to the scale", NULL},
    {"production", "weights_slots", QINS_CFG_ENUM, "all", NR, "all|attn|mlp", "linear slots that get the codec", NULL},
    {"production", "weights_output", QINS_CFG_BOOL, "true", NR, NULL, "the output matrix gets the codec too", NULL},
    {"production", "weights_kernel", QINS_CFG_ENUM, "fused", NR, "fused|separate",
     "fused: multiplied without an FP32 copy; separate: decoded into a scratch at every use", NULL},
    {"production", "threads", QINS_CFG_INT, "0", 0, 1024, NULL, "threads (0 = every online CPU)", NULL},
    {0}};

int qins_production_read(const char *path, struct qins_production *out) {
    memset(out, 0, sizeof *out);
    QINS_CHECK(path && access(path, R_OK) == 0, QINS_ERR_IO, "production config '%s': %s", path ? path : "(null)",
               strerror(errno));
    const struct qins_cfg_key *tables[] = {qins_production_keys, NULL};
    qins_config_t *c;
    QINS_TRY(qins_config_new(&c, tables));
    int st = qins_config_load_file(c, path);
    if (st == QINS_OK) {
        snprintf(out->path, sizeof out->path, "%s", path);
        snprintf(out->model, sizeof out->model, "%s", qins_config_str(c, "production", "model"));
        snprintf(out->kv_text, sizeof out->kv_text, "%s", qins_config_str(c, "production", "kv"));
        st = qins_kv_spec_parse(out->kv_text, &out->kv);
    }
    if (st == QINS_OK) {
        const char *w = qins_config_str(c, "production", "weights");
        qins_codec_params_default(&out->weights);
        out->has_weight_codec = strcmp(w, "stored") != 0;
        if (out->has_weight_codec) st = qins_codec_parse(w, &out->weights);
        if (st == QINS_OK) st = qins_codec_parse_granularity(qins_config_str(c, "production", "weights_gran"), &out->weights);
        out->weights.alpha = (float)qins_config_double(c, "production", "weights_alpha");
        const char *slots = qins_config_str(c, "production", "weights_slots");
        out->slot_mask = !strcmp(slots, "attn") ? QINS_SLOT_MASK_ATTN
                         : !strcmp(slots, "mlp") ? QINS_SLOT_MASK_MLP
                                                 : QINS_SLOT_MASK_ALL;
        out->with_output = qins_config_bool(c, "production", "weights_output");
        out->fused = !strcmp(qins_config_str(c, "production", "weights_kernel"), "fused");
        out->threads = (int)qins_config_int(c, "production", "threads");
    }
    qins_config_free(c);
    return st;
}

int qins_production_apply(const struct qins_production *p, struct qins_model *m) {
    if (!p->has_weight_codec) return QINS_OK;
    return p->fused ? qins_model_set_weight_codec_fused(m, &p->weights, p->slot_mask, p->with_output)
                    : qins_model_set_weight_codec(m, &p->weights, p->slot_mask, p->with_output);
}

int qins_production_write(const char *path, const char *header, const struct qins_production_line *lines, size_t n) {
    char tmp[1100];
    QINS_CHECK(snprintf(tmp, sizeof tmp, "%s.tmp", path) < (int)sizeof tmp, QINS_ERR_ARG, "path too long: %s", path);
    FILE *f = fopen(tmp, "w");
    QINS_CHECK(f, QINS_ERR_IO, "cannot write '%s': %s", tmp, strerror(errno));
    if (header && header[0]) fprintf(f, "%s%s", header, header[strlen(header) - 1] == '\n' ? "" : "\n");
    fprintf(f, "\n[production]\n");
    for (size_t i = 0; i < n; i++) {
        if (lines[i].why && lines[i].why[0]) fprintf(f, "; %s\n", lines[i].why);
        fprintf(f, "%s = %s\n", lines[i].key, lines[i].value);
    }
    int bad = ferror(f) != 0;
    bad |= fclose(f) != 0;
    if (bad) {
        remove(tmp);
        QINS_CHECK(0, QINS_ERR_IO, "write error on '%s'", tmp);
    }
    struct qins_production check;
    const int st = qins_production_read(tmp, &check);
    if (st != QINS_OK || rename(tmp, path) != 0) {
        remove(tmp);
        QINS_CHECK(st != QINS_OK, QINS_ERR_IO, "cannot rename '%s' to '%s': %s", tmp, path, strerror(errno));
        return st;
    }
    return QINS_OK;
}
