// core/config.c — table-driven INI configs over inih.
#include "config.h"

#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <ini.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common.h"
#include "dataset.h"

#ifndef QINS_SOURCE_DIR
#define QINS_SOURCE_DIR "."
#endif

// ---- shared key tables

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
const struct qins_cfg_key qins_config_run_keys[] = {
    {"run", "model", QINS_CFG_STRING, "stories260K.gguf", NR, NULL,
     "GGUF model: a path, or a bare name looked up in $QINS_MODELS then ./models", NULL},
    {"run", "eval_text", QINS_CFG_STRING, "tinystories_train_sample_2MiB.txt", NR, NULL,
     "evaluation text: a path, or a bare name looked up in $QINS_DATA, $QINS_MODELS/../data, ../shared/data", NULL},
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

const struct qins_cfg_key qins_config_codec_keys[] = {
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

// ---- the config object

struct cfg_value {
    const struct qins_cfg_key *k;
    char *text;      // normalised text (what the effective config prints)
    int64_t i;
    double d;
    bool b;
    char **items;    // LIST
    size_t n_items;
    int line;        // where it was set (0 = default)
};

struct qins_config {
    struct cfg_value *v;
    size_t n;
    char *src_text, *src_path;
    // parse state (during load)
    const char *name;
    int line;
    int first_err;
    bool *seen;
    const char *rd;  // string reader cursor
};

static void free_items(struct cfg_value *v) {
    for (size_t i = 0; i < v->n_items; i++) free(v->items[i]);
    free(v->items);
    v->items = NULL;
    v->n_items = 0;
}

void qins_config_free(qins_config_t *c) {
    if (!c) return;
    for (size_t i = 0; i < c->n; i++) {
        free(c->v[i].text);
        free_items(&c->v[i]);
    }
    free(c->v);
    free(c->seen);
    free(c->src_text);
    free(c->src_path);
    free(c);
}

static char *trim_dup(const char *s, size_t n) {
    while (n && isspace((unsigned char)*s)) s++, n--;
    while (n && isspace((unsigned char)s[n - 1])) n--;
    char *r = malloc(n + 1);
    if (r) {
        memcpy(r, s, n);
        r[n] = 0;
    }
    return r;
}

static bool in_choices(const char *choices, const char *v) {
    size_t n = strlen(v);
    for (const char *p = choices; *p;) {
        const char *bar = strchr(p, '|');
        size_t len = bar ? (size_t)(bar - p) : strlen(p);
        if (len == n && !strncmp(p, v, n)) return true;
        if (!bar) break;
        p = bar + 1;
    }
    return false;
}

// Shortest "%.*g" that reads back to the same double, so 0.1 stays "0.1".
static void fmt_double(double d, char *buf, size_t cap) {
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(buf, cap, "%.*g", prec, d);
        if (strtod(buf, NULL) == d) return;
    }
}

// Parses and validates `value` for key v->k; on success replaces v's value. On failure writes
// why and returns the status (value unchanged).
static int set_value(struct cfg_value *v, const char *value, char *why, size_t cap) {
    const struct qins_cfg_key *k = v->k;
    bool ranged = k->min <= k->max;
    char buf[64];
    const char *norm = value;
    int64_t iv = 0;
    double dv = 0;
    bool bv = false;
    char **items = NULL;
    size_t n_items = 0;
    if (strchr(value, '\n')) {
        snprintf(why, cap, "value must be on one line");
        return QINS_ERR_FORMAT;
    }
    switch (k->type) {
    case QINS_CFG_STRING:
        break;
    case QINS_CFG_INT: {
        char *end;
        errno = 0;
        long long x = strtoll(value, &end, 10);
        if (!*value || *end || errno) {
            snprintf(why, cap, "'%s' is not an integer", value);
            return QINS_ERR_ARG;
        }
        if (ranged && ((double)x < k->min || (double)x > k->max)) {
            snprintf(why, cap, "%lld is outside [%.17g, %.17g]", x, k->min, k->max);
            return QINS_ERR_RANGE;
        }
        iv = x;
        snprintf(buf, sizeof buf, "%lld", x);
        norm = buf;
        break;
    }
    case QINS_CFG_DOUBLE: {
        char *end;
        errno = 0;
        double x = strtod(value, &end);
        if (!*value || *end || errno || !isfinite(x)) {
            snprintf(why, cap, "'%s' is not a finite number", value);
            return QINS_ERR_ARG;
        }
        if (ranged && (x < k->min || x > k->max)) {
            snprintf(why, cap, "%g is outside [%g, %g]", x, k->min, k->max);
            return QINS_ERR_RANGE;
        }
        dv = x;
        fmt_double(x, buf, sizeof buf);
        norm = buf;
        break;
    }
    case QINS_CFG_BOOL:
        if (!strcasecmp(value, "true") || !strcasecmp(value, "yes") || !strcasecmp(value, "on") || !strcmp(value, "1"))
            bv = true;
        else if (!strcasecmp(value, "false") || !strcasecmp(value, "no") || !strcasecmp(value, "off") || !strcmp(value, "0"))
            bv = false;
        else {
            snprintf(why, cap, "'%s' is not a boolean (true/false, yes/no, on/off, 1/0)", value);
            return QINS_ERR_ARG;
        }
        norm = bv ? "true" : "false";
        break;
    case QINS_CFG_ENUM:
        if (!k->choices || !in_choices(k->choices, value)) {
            snprintf(why, cap, "'%s' is not one of %s", value, k->choices ? k->choices : "(none)");
            return QINS_ERR_ARG;
        }
        break;
    case QINS_CFG_LIST: {
        // split on commas, trim; the normalised text is "a,b,c"
        size_t cap_items = 1;
        for (const char *p = value; *p; p++) cap_items += *p == ',';
        items = calloc(cap_items, sizeof *items);
        if (!items) return QINS_ERR_NOMEM;
        for (const char *p = value;;) {
            const char *comma = strchr(p, ',');
            size_t len = comma ? (size_t)(comma - p) : strlen(p);
            char *it = trim_dup(p, len);
            if (!it) goto list_nomem;
            items[n_items++] = it;
            if (!*it && !(n_items == 1 && !comma && !*value)) {
                snprintf(why, cap, "empty item in list '%s'", value);
                goto list_fail;
            }
            if (*it && k->choices && !in_choices(k->choices, it)) {
                snprintf(why, cap, "list item '%s' is not one of %s", it, k->choices);
                goto list_fail;
            }
            if (!comma) break;
            p = comma + 1;
        }
        if (n_items == 1 && !*items[0]) { // empty list
            free(items[0]);
            n_items = 0;
        }
        if (ranged && ((double)n_items < k->min || (double)n_items > k->max)) {
            snprintf(why, cap, "list has %zu items, allowed [%g, %g]", n_items, k->min, k->max);
            for (size_t i = 0; i < n_items; i++) free(items[i]);
            free(items);
            return QINS_ERR_RANGE;
        }
        break;
    list_nomem:
        for (size_t i = 0; i < n_items; i++) free(items[i]);
        free(items);
        return QINS_ERR_NOMEM;
    list_fail:
        for (size_t i = 0; i < n_items; i++) free(items[i]);
        free(items);
        return QINS_ERR_ARG;
    }
    }
    if (k->check && (k->type == QINS_CFG_STRING || k->type == QINS_CFG_LIST) && k->check(value, why, cap)) {
        for (size_t i = 0; i < n_items; i++) free(items[i]);
        free(items);
        return QINS_ERR_ARG;
    }
    char *text = NULL;
    if (k->type == QINS_CFG_LIST) {
        size_t len = 1;
        for (size_t i = 0; i < n_items; i++) len += strlen(items[i]) + 1;
        text = malloc(len);
        if (text) {
            text[0] = 0;
            for (size_t i = 0; i < n_items; i++) {
                if (i) strcat(text, ",");
                strcat(text, items[i]);
            }
        }
    } else {
        text = strdup(norm);
    }
    if (!text) {
        for (size_t i = 0; i < n_items; i++) free(items[i]);
        free(items);
        return QINS_ERR_NOMEM;
    }
    free(v->text);
    free_items(v);
    v->text = text;
    v->i = iv;
    v->d = dv;
    v->b = bv;
    v->items = items;
    v->n_items = n_items;
    return QINS_OK;
}

int qins_config_new(qins_config_t **out, const struct qins_cfg_key *const *tables) {
    *out = NULL;
    size_t n = 0;
    for (const struct qins_cfg_key *k = qins_config_run_keys; k->key; k++) n++;
    for (size_t t = 0; tables && tables[t]; t++)
        for (const struct qins_cfg_key *k = tables[t]; k->key; k++) n++;
    qins_config_t *c = calloc(1, sizeof *c);
    QINS_CHECK(c, QINS_ERR_NOMEM, "out of memory");
    c->v = calloc(n, sizeof *c->v);
    c->seen = calloc(n, sizeof *c->seen);
    c->src_text = strdup("");
    c->src_path = strdup("");
    if (!c->v || !c->seen || !c->src_text || !c->src_path) {
        qins_config_free(c);
        QINS_CHECK(0, QINS_ERR_NOMEM, "out of memory");
    }
    for (const struct qins_cfg_key *k = qins_config_run_keys; k->key; k++) c->v[c->n++].k = k;
    for (size_t t = 0; tables && tables[t]; t++)
        for (const struct qins_cfg_key *k = tables[t]; k->key; k++) c->v[c->n++].k = k;
    for (size_t i = 0; i < c->n; i++) {
        const struct qins_cfg_key *k = c->v[i].k;
        for (size_t j = 0; j < i; j++)
            if (!strcmp(c->v[j].k->section, k->section) && !strcmp(c->v[j].k->key, k->key)) {
                qins_config_free(c);
                QINS_CHECK(0, QINS_ERR_ARG, "key table declares [%s] %s twice", k->section, k->key);
            }
        char why[256];
        int st = set_value(&c->v[i], k->def ? k->def : "", why, sizeof why);
        if (st < 0) {
            qins_config_free(c);
            QINS_CHECK(0, st, "key table: default of [%s] %s is invalid: %s", k->section, k->key, why);
        }
    }
    *out = c;
    return QINS_OK;
}

static struct cfg_value *find(const qins_config_t *c, const char *section, const char *key) {
    for (size_t i = 0; i < c->n; i++)
        if (!strcmp(c->v[i].k->section, section) && !strcmp(c->v[i].k->key, key)) return &c->v[i];
    return NULL;
}

static bool section_known(const qins_config_t *c, const char *section) {
    for (size_t i = 0; i < c->n; i++)
        if (!strcmp(c->v[i].k->section, section)) return true;
    return false;
}

// Lists the known keys (or sections) into buf, for "unknown key" messages.
static void known_list(const qins_config_t *c, const char *section, char *buf, size_t cap) {
    size_t len = 0;
    buf[0] = 0;
    for (size_t i = 0; i < c->n && len + 1 < cap; i++) {
        const char *name = section ? c->v[i].k->key : c->v[i].k->section;
        if (section && strcmp(c->v[i].k->section, section)) continue;
        if (!section) { // sections: skip repeats
            bool dup = false;
            for (size_t j = 0; j < i; j++) dup |= !strcmp(c->v[j].k->section, name);
            if (dup) continue;
        }
        int w = snprintf(buf + len, cap - len, "%s%s", len ? ", " : "", name);
        if (w < 0) break;
        len += (size_t)w;
    }
}

static int handler(void *user, const char *section, const char *name, const char *value) {
    qins_config_t *c = user;
    char known[512], why[300];
    int st = QINS_OK;
    if (!*section) {
        qins_log(QINS_LOG_ERROR, "%s:%d: key '%s' is outside a section (start with [run])", c->name, c->line, name);
        st = QINS_ERR_FORMAT;
    } else if (!section_known(c, section)) {
        known_list(c, NULL, known, sizeof known);
        qins_log(QINS_LOG_ERROR, "%s:%d: unknown section [%s] (key '%s'); known sections: %s", c->name, c->line,
                 section, name, known);
        st = QINS_ERR_FORMAT;
    } else {
        struct cfg_value *v = find(c, section, name);
        if (!v) {
            known_list(c, section, known, sizeof known);
            qins_log(QINS_LOG_ERROR, "%s:%d: unknown key '%s' in [%s]; known keys: %s", c->name, c->line, name,
                     section, known);
            st = QINS_ERR_FORMAT;
        } else if (c->seen[v - c->v]) {
            qins_log(QINS_LOG_ERROR, "%s:%d: [%s] %s is set twice (first on line %d; continuation lines are "
                     "not allowed)", c->name, c->line, section, name, v->line);
            st = QINS_ERR_FORMAT;
        } else if ((st = set_value(v, value, why, sizeof why)) < 0) {
            qins_log(QINS_LOG_ERROR, "%s:%d: [%s] %s: %s", c->name, c->line, section, name, why);
        } else {
            c->seen[v - c->v] = true;
            v->line = c->line;
        }
    }
    if (st < 0 && !c->first_err) c->first_err = st;
    return st == QINS_OK;
}

// fgets-style reader over a string that counts lines, so the handler knows where it is.
static char *string_reader(char *str, int num, void *stream) {
    qins_config_t *c = stream;
    if (!*c->rd) return NULL;
    const char *nl = strchr(c->rd, '\n');
    size_t len = nl ? (size_t)(nl - c->rd) + 1 : strlen(c->rd);
    c->line++;
    if (len > (size_t)num - 1) {
        qins_log(QINS_LOG_ERROR, "%s:%d: line longer than %d characters", c->name, c->line, num - 2);
        if (!c->first_err) c->first_err = QINS_ERR_FORMAT;
        len = (size_t)num - 1;
        memcpy(str, c->rd, len);
        str[len] = 0;
        c->rd = nl ? nl + 1 : c->rd + strlen(c->rd); // drop the rest of the line
        return str;
    }
    memcpy(str, c->rd, len);
    str[len] = 0;
    c->rd += len;
    return str;
}

int qins_config_load_string(qins_config_t *c, const char *text, const char *name) {
    c->name = name ? name : "(config)";
    c->line = 0;
    c->first_err = 0;
    c->rd = text;
    memset(c->seen, 0, c->n * sizeof *c->seen);
    int r = ini_parse_stream(string_reader, c, handler, c);
    if (r > 0 && !c->first_err) { // inih's own syntax error (no '=' or unclosed '[')
        qins_log(QINS_LOG_ERROR, "%s:%d: syntax error (expected [section] or key = value)", c->name, r);
        c->first_err = QINS_ERR_FORMAT;
    }
    QINS_CHECK(r >= 0, QINS_ERR_NOMEM, "%s: inih failed (%d)", c->name, r);
    if (c->first_err) return c->first_err;
    char *t = strdup(text), *p = strdup(c->name);
    if (!t || !p) {
        free(t);
        free(p);
        QINS_CHECK(0, QINS_ERR_NOMEM, "out of memory");
    }
    free(c->src_text);
    free(c->src_path);
    c->src_text = t;
    c->src_path = p;
    return QINS_OK;
}

static int read_all(const char *path, char **out) {
    FILE *f = fopen(path, "rb");
    QINS_CHECK(f, QINS_ERR_IO, "cannot open config '%s': %s", path, strerror(errno));
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    size_t got;
    while (buf && (got = fread(buf + n, 1, cap - n - 1, f)) > 0) {
        n += got;
        if (n + 1 == cap) {
            char *nb = realloc(buf, cap *= 2);
            if (!nb) free(buf);
            buf = nb;
        }
    }
    fclose(f);
    QINS_CHECK(buf, QINS_ERR_NOMEM, "out of memory reading '%s'", path);
    buf[n] = 0;
    if (strlen(buf) != n) {
        free(buf);
        QINS_CHECK(0, QINS_ERR_FORMAT, "config '%s' contains a NUL byte", path);
    }
    *out = buf;
    return QINS_OK;
}

int qins_config_load_file(qins_config_t *c, const char *path) {
    if (!path) return QINS_OK;
    char *text;
    QINS_TRY(read_all(path, &text));
    int st = qins_config_load_string(c, text, path);
    free(text);
    return st;
}

int qins_config_set(qins_config_t *c, const char *assignment) {
    const char *dot = strchr(assignment, '.'), *eq = strchr(assignment, '=');
    QINS_CHECK(dot && eq && dot < eq, QINS_ERR_ARG, "override '%s': expected section.key=value", assignment);
    char section[64], key[64];
    size_t sl = (size_t)(dot - assignment), kl = (size_t)(eq - dot - 1);
    QINS_CHECK(sl < sizeof section && kl < sizeof key, QINS_ERR_ARG, "override '%s': name too long", assignment);
    char *ts = trim_dup(assignment, sl), *tk = trim_dup(dot + 1, kl);
    if (!ts || !tk) {
        free(ts);
        free(tk);
        QINS_CHECK(0, QINS_ERR_NOMEM, "out of memory");
    }
    snprintf(section, sizeof section, "%s", ts);
    snprintf(key, sizeof key, "%s", tk);
    free(ts);
    free(tk);
    struct cfg_value *v = find(c, section, key);
    char known[512], why[300];
    if (!v) {
        known_list(c, section_known(c, section) ? section : NULL, known, sizeof known);
        QINS_CHECK(0, QINS_ERR_ARG, "override '%s': unknown %s; known: %s", assignment,
                   section_known(c, section) ? "key" : "section", known);
    }
    char *val = trim_dup(eq + 1, strlen(eq + 1));
    QINS_CHECK(val, QINS_ERR_NOMEM, "out of memory");
    int st = set_value(v, val, why, sizeof why);
    free(val);
    QINS_CHECK(st == QINS_OK, st, "override '%s': [%s] %s: %s", assignment, section, key, why);
    v->line = -1;
    return QINS_OK;
}

const char *qins_config_source_text(const qins_config_t *c) { return c->src_text; }
const char *qins_config_source_path(const qins_config_t *c) { return c->src_path; }

char *qins_config_effective(const qins_config_t *c) {
    static const char header[] = "; effective config: every key, defaults filled in (recorded and hashed)\n";
    size_t len = sizeof header;
    for (size_t i = 0; i < c->n; i++)
        len += strlen(c->v[i].k->section) + strlen(c->v[i].k->key) + strlen(c->v[i].text) + 16;
    char *out = malloc(len);
    if (!out) return NULL;
    size_t pos = (size_t)snprintf(out, len, "%s", header);
    const char *cur = NULL;
    for (size_t i = 0; i < c->n; i++) {
        const struct qins_cfg_key *k = c->v[i].k;
        if (!cur || strcmp(cur, k->section)) {
            pos += (size_t)snprintf(out + pos, len - pos, "%s[%s]\n", cur ? "\n" : "", k->section);
            cur = k->section;
        }
        pos += (size_t)snprintf(out + pos, len - pos, "%s = %s\n", k->key, c->v[i].text);
    }
    return out;
}

static const char *type_name(enum qins_cfg_type t) {
    switch (t) {
    case QINS_CFG_STRING: return "string";
    case QINS_CFG_INT: return "int";
    case QINS_CFG_DOUBLE: return "number";
    case QINS_CFG_BOOL: return "bool";
    case QINS_CFG_ENUM: return "one of";
    case QINS_CFG_LIST: return "list";
    }
    return "?";
}

static void print_table(FILE *f, const struct qins_cfg_key *t, const char **cur) {
    for (const struct qins_cfg_key *k = t; k->key; k++) {
        if (!*cur || strcmp(*cur, k->section)) {
            fprintf(f, "%s[%s]\n", *cur ? "\n" : "", k->section);
            *cur = k->section;
        }
        fprintf(f, "; %s (%s", k->doc ? k->doc : "", type_name(k->type));
        if (k->choices) fprintf(f, " %s", k->choices);
        if (k->min <= k->max) fprintf(f, ", range %.17g..%.17g", k->min, k->max);
        fprintf(f, ")\n%s = %s\n", k->key, k->def ? k->def : "");
    }
}

void qins_config_print_doc(FILE *f, const struct qins_cfg_key *const *tables) {
    const char *cur = NULL;
    print_table(f, qins_config_run_keys, &cur);
    for (size_t t = 0; tables && tables[t]; t++) print_table(f, tables[t], &cur);
}

static struct cfg_value *get(const qins_config_t *c, const char *section, const char *key, int type) {
    struct cfg_value *v = find(c, section, key);
    if (!v || (type && (int)v->k->type != type && !(type == QINS_CFG_STRING && v->k->type == QINS_CFG_ENUM))) {
        qins_log(QINS_LOG_ERROR, "config: [%s] %s is %s", section, key, v ? "read with the wrong type" : "not declared");
        assert(!"config key not declared or wrong type");
        return NULL;
    }
    return v;
}

int64_t qins_config_int(const qins_config_t *c, const char *section, const char *key) {
    struct cfg_value *v = get(c, section, key, QINS_CFG_INT);
    return v ? v->i : 0;
}
double qins_config_double(const qins_config_t *c, const char *section, const char *key) {
    struct cfg_value *v = find(c, section, key);
    if (v && v->k->type == QINS_CFG_INT) return (double)v->i; // an int is a fine double
    v = get(c, section, key, QINS_CFG_DOUBLE);
    return v ? v->d : 0.0;
}
bool qins_config_bool(const qins_config_t *c, const char *section, const char *key) {
    struct cfg_value *v = get(c, section, key, QINS_CFG_BOOL);
    return v ? v->b : false;
}
const char *qins_config_str(const qins_config_t *c, const char *section, const char *key) {
    struct cfg_value *v = get(c, section, key, 0);
    return v ? v->text : "";
}
size_t qins_config_list(const qins_config_t *c, const char *section, const char *key, const char *const **items) {
    struct cfg_value *v = get(c, section, key, QINS_CFG_LIST);
    *items = v ? (const char *const *)v->items : NULL;
    return v ? v->n_items : 0;
}

// ---- peek

struct peek {
    const char *section, *key;
    char *out;
    size_t cap;
    bool found;
};

static int peek_handler(void *user, const char *section, const char *name, const char *value) {
    struct peek *p = user;
    if (!p->found && !strcmp(section, p->section) && !strcmp(name, p->key)) {
        snprintf(p->out, p->cap, "%s", value);
        p->found = true;
    }
    return 1;
}

int qins_config_peek(const char *ini_text, const char *section, const char *key, char *out, size_t cap) {
    struct peek p = {section, key, out, cap, false};
    ini_parse_string(ini_text, peek_handler, &p);
    if (!p.found) {
        qins_log(QINS_LOG_DEBUG, "config text has no [%s] %s", section, key);
        return QINS_ERR_RANGE;
    }
    return QINS_OK;
}

// ---- paths

static bool readable(const char *p) {
    struct stat st;
    return stat(p, &st) == 0 && S_ISREG(st.st_mode) && access(p, R_OK) == 0;
}

static const char *source_dir(void) {
    const char *s = getenv("QINS_SOURCE_DIR");
    return s && *s ? s : QINS_SOURCE_DIR;
}

int qins_path_find(const char *kind, const char *name, char *out, size_t cap) {
    QINS_CHECK(name && *name, QINS_ERR_ARG, "empty %s file name", kind);
    char cand[10][1024];
    int n = 0;
    // Same order as core/paths.h for models: a name with '/' is used as given; a bare name is
    // looked up in the usual folders first, then as given, then beside the source tree.
    bool bare = !strchr(name, '/');
    const char *models = getenv("QINS_MODELS"), *data = getenv("QINS_DATA"), *shared = getenv("QINS_SHARED");
    const char *src = source_dir();
    if (!bare) {
        snprintf(cand[n++], sizeof cand[0], "%s", name);
    } else if (!strcmp(kind, "model")) {
        if (models && *models) snprintf(cand[n++], sizeof cand[0], "%s/%s", models, name);
        snprintf(cand[n++], sizeof cand[0], "models/%s", name);
        snprintf(cand[n++], sizeof cand[0], "%s", name);
        snprintf(cand[n++], sizeof cand[0], "%s/../shared/models/%s", src, name);
    } else if (!strcmp(kind, "data")) {
        if (data && *data) snprintf(cand[n++], sizeof cand[0], "%s/%s", data, name);
        if (shared && *shared) snprintf(cand[n++], sizeof cand[0], "%s/data/%s", shared, name);
        if (models && *models) snprintf(cand[n++], sizeof cand[0], "%s/../data/%s", models, name);
        snprintf(cand[n++], sizeof cand[0], "data/%s", name);
        snprintf(cand[n++], sizeof cand[0], "%s", name);
        snprintf(cand[n++], sizeof cand[0], "%s/../shared/data/%s", src, name);
    } else {
        snprintf(cand[n++], sizeof cand[0], "%s", name);
        snprintf(cand[n++], sizeof cand[0], "%s/%s", src, name);
    }
    if (!bare && name[0] != '/' && strcmp(kind, "model") && strcmp(kind, "data"))
        snprintf(cand[n++], sizeof cand[0], "%s/%s", src, name); // e.g. experiments/x.csv from a build folder
    for (int i = 0; i < n; i++)
        if (readable(cand[i])) {
            QINS_CHECK(strlen(cand[i]) < cap, QINS_ERR_RANGE, "path too long: %s", cand[i]);
            snprintf(out, cap, "%s", cand[i]);
            return QINS_OK;
        }
    char tried[2048] = "";
    for (int i = 0; i < n; i++) {
        strncat(tried, i ? ", " : "", sizeof tried - strlen(tried) - 1);
        strncat(tried, cand[i], sizeof tried - strlen(tried) - 1);
    }
    qins_log(QINS_LOG_ERROR, "%s file '%s' not found (tried %s)", kind, name, tried);
    return QINS_ERR_IO;
}

// ---- phase arguments

int qins_phase_args_parse(int argc, char **argv, struct qins_phase_args *out) {
    memset(out, 0, sizeof *out);
    out->results_dir = "results";
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        bool has_val = i + 1 < argc;
        if (!strcmp(a, "--config") && has_val) out->config_path = argv[++i];
        else if (!strcmp(a, "--results") && has_val) out->results_dir = argv[++i];
        else if (!strcmp(a, "--set") && has_val) {
            QINS_CHECK(out->n_overrides < sizeof out->overrides / sizeof out->overrides[0], QINS_ERR_RANGE,
                       "too many --set options");
            out->overrides[out->n_overrides++] = argv[++i];
        } else if (!strcmp(a, "--force")) out->force = true;
        else if (!strcmp(a, "--help-config")) out->help_config = true;
        else QINS_CHECK(0, QINS_ERR_ARG, "unknown or incomplete argument '%s' (accepted: --config FILE, --set "
                        "S.K=V, --results DIR, --force, --help-config)", a);
    }
    return QINS_OK;
}
