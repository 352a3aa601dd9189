// core/config.c — table-driven INI configs over inih (knows no sections: the caller passes the tables).
#include "config.h"

#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <ini.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "util.h"

// ---- the config object

struct cfg_value {
    const struct qins_cfg_key *k;
    char *text;      // normalised text (what the effective config prints)
    int64_t i;
    double d;
    bool b;
    char **items;    // LIST: normalised item texts
    int64_t *item_i; // (n_items) INT items
    double *item_d;  // (n_items) INT and DOUBLE items
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
    free(v->item_i);
    free(v->item_d);
    v->items = NULL;
    v->item_i = NULL;
    v->item_d = NULL;
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

// Parsed LIST items (owned until moved into a cfg_value).
struct list_items {
    char **s;
    int64_t *i; // INT items
    double *d;  // INT and DOUBLE items
    size_t n;
};

static void list_free(struct list_items *l) {
    for (size_t i = 0; i < l->n; i++) free(l->s[i]);
    free(l->s);
    free(l->i);
    free(l->d);
    memset(l, 0, sizeof *l);
}

// Runs a table's check with logging silenced (a check may call core parsers that log); a
// failure that left why empty gets the last error the callback logged. Returns fn's result.
static int run_check(qins_cfg_check_fn fn, const char *text, char *why, size_t cap) {
    why[0] = 0;
    qins_last_error_clear();
    const int level = qins_log_get_level();
    qins_log_set_level(-1);
    int r = fn(text, why, cap);
    qins_log_set_level(level);
    if (r && !why[0]) snprintf(why, cap, "%s", *qins_last_error() ? qins_last_error() : "rejected by the key's check");
    return r;
}

// Parses item number pos (1-based) of key k into l->s[n] (normalised), l->i[n], l->d[n].
static int parse_item(const struct qins_cfg_key *k, struct list_items *l, size_t pos, char *why, size_t cap) {
    char *it = l->s[l->n - 1];
    char buf[64];
    if (k->choices && !in_choices(k->choices, it)) {
        snprintf(why, cap, "item %zu '%s' is not one of %s", pos, it, k->choices);
        return QINS_ERR_ARG;
    }
    bool ranged = k->item_min < k->item_max;
    if (k->item == QINS_CFG_ITEM_INT) {
        char *end;
        errno = 0;
        long long x = strtoll(it, &end, 10);
        if (*end || errno) {
            snprintf(why, cap, "item %zu '%s' is not an integer", pos, it);
            return QINS_ERR_ARG;
        }
        if (ranged && ((double)x < k->item_min || (double)x > k->item_max)) {
            snprintf(why, cap, "item %zu '%s' is out of range [%.17g, %.17g]", pos, it, k->item_min, k->item_max);
            return QINS_ERR_RANGE;
        }
        l->i[l->n - 1] = x;
        l->d[l->n - 1] = (double)x;
        snprintf(buf, sizeof buf, "%lld", x);
    } else if (k->item == QINS_CFG_ITEM_DOUBLE) {
        char *end;
        errno = 0;
        double x = strtod(it, &end);
        if (*end || errno) {
            snprintf(why, cap, "item %zu '%s' is not a number", pos, it);
            return QINS_ERR_ARG;
        }
        if (!isfinite(x)) {
            snprintf(why, cap, "item %zu '%s' is not a finite number", pos, it);
            return QINS_ERR_ARG;
        }
        if (ranged && (x < k->item_min || x > k->item_max)) {
            snprintf(why, cap, "item %zu '%s' is out of range [%g, %g]", pos, it, k->item_min, k->item_max);
            return QINS_ERR_RANGE;
        }
        l->d[l->n - 1] = x;
        fmt_double(x, buf, sizeof buf);
    }
    if (k->item_check) {
        char reason[256];
        if (run_check(k->item_check, it, reason, sizeof reason)) {
            snprintf(why, cap, "item %zu '%s': %s", pos, it, reason);
            return QINS_ERR_ARG;
        }
    }
    if (k->item != QINS_CFG_ITEM_STRING) { // the normalised number replaces the text
        char *norm = strdup(buf);
        if (!norm) return QINS_ERR_NOMEM;
        free(it);
        l->s[l->n - 1] = norm;
    }
    return QINS_OK;
}

struct list_parse {
    const struct qins_cfg_key *k;
    struct list_items *l;
    const char *value;
    char *why;
    size_t cap;
};

static int list_item(const char *item, size_t i, void *user) {
    struct list_parse *lp = user;
    (void)i;
    char *it = strdup(item);
    if (!it) return QINS_ERR_NOMEM;
    lp->l->s[lp->l->n++] = it;
    if (!*it) {
        snprintf(lp->why, lp->cap, "empty item %zu in list '%s'", lp->l->n, lp->value);
        return QINS_ERR_ARG;
    }
    return parse_item(lp->k, lp->l, lp->l->n, lp->why, lp->cap);
}

// Splits value on commas into trimmed, checked items. Returns QINS_OK or an error with why.
static int parse_list(const struct qins_cfg_key *k, const char *value, struct list_items *l, char *why, size_t cap) {
    memset(l, 0, sizeof *l);
    size_t cap_items = 1;
    for (const char *p = value; *p; p++) cap_items += *p == ',';
    l->s = calloc(cap_items, sizeof *l->s);
    l->i = calloc(cap_items, sizeof *l->i);
    l->d = calloc(cap_items, sizeof *l->d);
    struct list_parse lp = {k, l, value, why, cap};
    const int st = l->s && l->i && l->d ? qins_split_list(value, list_item, &lp, NULL) : QINS_ERR_NOMEM;
    if (st < 0) list_free(l);
    return st < 0 ? st : QINS_OK;
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
    struct list_items l = {0};
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
        int st = parse_list(k, value, &l, why, cap);
        if (st < 0) return st;
        if (ranged && ((double)l.n < k->min || (double)l.n > k->max)) {
            snprintf(why, cap, "list has %zu items, allowed [%g, %g]", l.n, k->min, k->max);
            list_free(&l);
            return QINS_ERR_RANGE;
        }
        break;
    }
    }
    if (k->check && (k->type == QINS_CFG_STRING || k->type == QINS_CFG_LIST) && run_check(k->check, value, why, cap)) {
        list_free(&l);
        return QINS_ERR_ARG;
    }
    char *text = NULL;
    if (k->type == QINS_CFG_LIST) { // the normalised text is "a,b,c"
        size_t len = 1;
        for (size_t i = 0; i < l.n; i++) len += strlen(l.s[i]) + 1;
        text = malloc(len);
        if (text) {
            text[0] = 0;
            for (size_t i = 0; i < l.n; i++) {
                if (i) strcat(text, ",");
                strcat(text, l.s[i]);
            }
        }
    } else {
        text = strdup(norm);
    }
    if (!text) {
        list_free(&l);
        return QINS_ERR_NOMEM;
    }
    free(v->text);
    free_items(v);
    v->text = text;
    v->i = iv;
    v->d = dv;
    v->b = bv;
    v->items = l.s;
    v->item_i = l.i;
    v->item_d = l.d;
    v->n_items = l.n;
    return QINS_OK;
}

// True when tables[t] also appears earlier in the list (a table listed twice counts once).
static bool listed_before(const struct qins_cfg_key *const *tables, size_t t) {
    for (size_t u = 0; u < t; u++)
        if (tables[u] == tables[t]) return true;
    return false;
}

int qins_config_new(qins_config_t **out, const struct qins_cfg_key *const *tables) {
    *out = NULL;
    size_t n = 0;
    for (size_t t = 0; tables && tables[t]; t++)
        for (const struct qins_cfg_key *k = tables[t]; k->key && !listed_before(tables, t); k++) n++;
    qins_config_t *c = calloc(1, sizeof *c);
    QINS_CHECK(c, QINS_ERR_NOMEM, "out of memory");
    c->v = calloc(n ? n : 1, sizeof *c->v);
    c->seen = calloc(n ? n : 1, sizeof *c->seen);
    c->src_text = strdup("");
    c->src_path = strdup("");
    if (!c->v || !c->seen || !c->src_text || !c->src_path) {
        qins_config_free(c);
        QINS_CHECK(0, QINS_ERR_NOMEM, "out of memory");
    }
    for (size_t t = 0; tables && tables[t]; t++)
        for (const struct qins_cfg_key *k = tables[t]; k->key && !listed_before(tables, t); k++) c->v[c->n++].k = k;
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
        if (n + 1 == cap && qins_grow(&buf, &cap, cap + 1, 1) < 0) {
            free(buf);
            buf = NULL;
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
    for (size_t t = 0; tables && tables[t]; t++)
        if (!listed_before(tables, t)) print_table(f, tables[t], &cur);
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

// A LIST whose items are one of the given types, else a logged programming error (NULL).
static struct cfg_value *get_typed_list(const qins_config_t *c, const char *section, const char *key, bool int_ok,
                                        bool double_ok) {
    struct cfg_value *v = get(c, section, key, QINS_CFG_LIST);
    if (v && !((int_ok && v->k->item == QINS_CFG_ITEM_INT) || (double_ok && v->k->item == QINS_CFG_ITEM_DOUBLE))) {
        qins_log(QINS_LOG_ERROR, "config: [%s] %s is read with the wrong item type", section, key);
        assert(!"config list read with the wrong item type");
        return NULL;
    }
    return v;
}

size_t qins_config_int_list(const qins_config_t *c, const char *section, const char *key, const int64_t **items) {
    struct cfg_value *v = get_typed_list(c, section, key, true, false);
    *items = v ? v->item_i : NULL;
    return v ? v->n_items : 0;
}

size_t qins_config_double_list(const qins_config_t *c, const char *section, const char *key, const double **items) {
    struct cfg_value *v = get_typed_list(c, section, key, true, true);
    *items = v ? v->item_d : NULL;
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
