// core/cfg_check.c — see cfg_check.h.
#include "cfg_check.h"

#include <stdio.h>
#include <string.h>

#include "codec.h"
#include "common.h"
#include "kv_paged.h"

// The parsers log their own error line; the config reports it once, so they run below the
// lowest level and the reason is taken from qins_last_error.
static int quietly(int (*parse)(const char *, void *), const char *value, void *out, char *why, size_t cap) {
    const int level = qins_log_get_level();
    qins_log_set_level(-1);
    const int rc = parse(value, out);
    qins_log_set_level(level);
    if (rc) snprintf(why, cap, "%s", qins_last_error());
    return rc != 0;
}

static int parse_kv(const char *v, void *out) { return qins_kv_spec_parse(v, out); }
static int parse_codec(const char *v, void *out) { return qins_codec_parse(v, out); }

int qins_cfg_check_kv_or_none(const char *value, char *why, size_t cap) {
    struct qins_kv_spec kv;
    return strcmp(value, "none") ? quietly(parse_kv, value, &kv, why, cap) : 0;
}

int qins_cfg_check_codec(const char *value, char *why, size_t cap) {
    struct qins_codec_params cp;
    qins_codec_params_default(&cp);
    return quietly(parse_codec, value, &cp, why, cap);
}
