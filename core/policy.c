// core/policy.c — the per-tensor compression policy and its JSON file; see policy.h.
#include "policy.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common.h"
#include "util.h"

// Sizes and counts go through JSON numbers (doubles): exact up to 2^53.
#define MAX_EXACT 9007199254740992.0
// Largest policy file read (a model has hundreds of tensors, a few hundred bytes each).
#define MAX_FILE_BYTES (64u << 20)

static const char *const coding_names[QINS_POLICY_CODING_COUNT] = {"none", "bitpack", "huffman", "rle_huffman"};
static const char *const class_names[QINS_POLICY_CLASS_COUNT] = {"weight", "embedding", "output",
                                                                 "kv_k",   "kv_v",      "activation"};

const char *qins_policy_coding_name(enum qins_policy_coding c) {
    return (unsigned)c < QINS_POLICY_CODING_COUNT ? coding_names[c] : "?";
}

const char *qins_policy_class_name(enum qins_policy_class c) {
    return (unsigned)c < QINS_POLICY_CLASS_COUNT ? class_names[c] : "?";
}

int qins_policy_coding_parse(const char *s, enum qins_policy_coding *out) {
    for (int c = 0; c < QINS_POLICY_CODING_COUNT; c++)
        if (s && strcmp(s, coding_names[c]) == 0) return *out = (enum qins_policy_coding)c, QINS_OK;
    return QINS_ERR_ARG;
}

int qins_policy_class_parse(const char *s, enum qins_policy_class *out) {
    for (int c = 0; c < QINS_POLICY_CLASS_COUNT; c++)
        if (s && strcmp(s, class_names[c]) == 0) return *out = (enum qins_policy_class)c, QINS_OK;
    return QINS_ERR_ARG;
}

// --- config

const struct qins_cfg_key qins_policy_cfg_keys[] = {
    {"policy", "budget", QINS_CFG_DOUBLE, "0.02", 0, 1, NULL,
     "added hot-path decode time allowed, fraction of the baseline decode step (the plan's 2 %)"},
    {"policy", "cold_fraction", QINS_CFG_DOUBLE, "0.01", 0, 1, NULL,
     "a tensor is cold below this fraction of the hottest tensor's reads per token"},
    {"policy", "min_saving", QINS_CFG_DOUBLE, "0.05", 0, 0.99, NULL,
     "smallest fraction of the bit-packed bytes a coding must save to be chosen"},
    {0},
};

void qins_policy_config_default(struct qins_policy_config *cfg) {
    *cfg = (struct qins_policy_config){.budget_frac = 0.02, .step_s = 0, .cold_frac = 0.01, .min_saving = 0.05};
}

int qins_policy_config_from(const qins_config_t *c, double step_s, struct qins_policy_config *cfg) {
    struct qins_policy_config v = {
        .budget_frac = qins_config_double(c, "policy", "budget"),
        .step_s = step_s,
        .cold_frac = qins_config_double(c, "policy", "cold_fraction"),
        .min_saving = qins_config_double(c, "policy", "min_saving"),
    };
    QINS_TRY(qins_policy_config_check(&v));
    *cfg = v;
    return QINS_OK;
}

int qins_policy_config_check(const struct qins_policy_config *cfg) {
    QINS_CHECK(cfg, QINS_ERR_ARG, "policy config: NULL");
    QINS_CHECK(isfinite(cfg->budget_frac) && cfg->budget_frac >= 0 && cfg->budget_frac <= 1, QINS_ERR_ARG,
               "policy config: budget_frac %g is not in [0, 1]", cfg->budget_frac);
    QINS_CHECK(isfinite(cfg->step_s) && cfg->step_s > 0, QINS_ERR_ARG,
               "policy config: step_s %g is not a positive time (the measured baseline decode step, s)", cfg->step_s);
    QINS_CHECK(isfinite(cfg->cold_frac) && cfg->cold_frac >= 0 && cfg->cold_frac <= 1, QINS_ERR_ARG,
               "policy config: cold_frac %g is not in [0, 1]", cfg->cold_frac);
    QINS_CHECK(isfinite(cfg->min_saving) && cfg->min_saving >= 0 && cfg->min_saving < 1, QINS_ERR_ARG,
               "policy config: min_saving %g is not in [0, 1)", cfg->min_saving);
    return QINS_OK;
}

// --- decision

static bool terminated(const char *s, size_t cap) { return memchr(s, 0, cap) != NULL; }

static enum qins_policy_coding base_coding(const struct qins_policy_tensor *t) {
    return t->bytes[QINS_POLICY_CODING_BITPACK] ? QINS_POLICY_CODING_BITPACK : QINS_POLICY_CODING_NONE;
}

// Decode time per token of coding c, s (NONE decodes nothing).
static double decode_s(const struct qins_policy_tensor *t, int c) {
    if (c == QINS_POLICY_CODING_NONE || t->reads_per_token == 0) return 0;
    return (double)t->n_elements * t->reads_per_token * 4.0 / (t->decode_gbps[c] * 1e9);
}

// Checks one tensor's measurements. why gets the field and problem. Returns 0 or -1.
static int tensor_problem(const struct qins_policy_tensor *t, char *why, size_t cap) {
    if (!terminated(t->name, sizeof t->name) || !t->name[0])
        return snprintf(why, cap, "name is empty or not terminated"), -1;
    if (!terminated(t->codec, sizeof t->codec)) return snprintf(why, cap, "codec is not terminated"), -1;
    if ((unsigned)t->cls >= QINS_POLICY_CLASS_COUNT) return snprintf(why, cap, "class %d is unknown", (int)t->cls), -1;
    if (t->n_elements == 0 || (double)t->n_elements > MAX_EXACT)
        return snprintf(why, cap, "n_elements %llu is not in [1, 2^53]", (unsigned long long)t->n_elements), -1;
    if (t->bits < 0 || t->bits > 32) return snprintf(why, cap, "bits %d is not in [0, 32]", t->bits), -1;
    if (!isfinite(t->reads_per_token) || t->reads_per_token < 0)
        return snprintf(why, cap, "reads_per_token %g is not a finite value >= 0", t->reads_per_token), -1;
    for (int c = 0; c < QINS_POLICY_CODING_COUNT; c++) {
        if ((double)t->bytes[c] > MAX_EXACT)
            return snprintf(why, cap, "bytes.%s %llu is above 2^53", coding_names[c], (unsigned long long)t->bytes[c]), -1;
        double g = t->decode_gbps[c];
        if (!isfinite(g) || g < 0) return snprintf(why, cap, "decode_gbps.%s %g is not finite >= 0", coding_names[c], g), -1;
        if (c != QINS_POLICY_CODING_NONE && t->bytes[c] && g <= 0)
            return snprintf(why, cap, "%s has a size but decode_gbps.%s is 0", coding_names[c], coding_names[c]), -1;
    }
    if (!t->bytes[base_coding(t)]) return snprintf(why, cap, "neither bitpack nor none has a measured size"), -1;
    return 0;
}

struct pair {
    size_t i;
    int c;
    double saving; // bytes saved against base
    double dt;     // added s/token against base
    double eff;    // saving / dt; +inf when dt <= 0
};

static int pair_cmp(const void *pa, const void *pb) {
    const struct pair *a = pa, *b = pb;
    if (a->eff != b->eff) return a->eff > b->eff ? -1 : 1;
    if (a->saving != b->saving) return a->saving > b->saving ? -1 : 1;
    if (a->i != b->i) return a->i < b->i ? -1 : 1;
    return (a->c > b->c) - (a->c < b->c);
}

// A budget rejection kept for the reason: the smallest candidate refused while at base.
struct refusal {
    int c; // -1: none
    double dt, left;
};

static void write_reason(struct qins_policy_entry *e, const struct qins_policy_config *cfg, double min_frac,
                         const struct refusal *r) {
    const struct qins_policy_tensor *t = &e->t;
    enum qins_policy_coding base = base_coding(t);
    const char *heat = e->cold ? "cold" : "hot";
    double step = cfg->step_s, budget_pct = 100 * cfg->budget_frac;
    char *out = e->reason;
    size_t cap = sizeof e->reason;
    if (e->coding != base) {
        if (e->cold)
            snprintf(out, cap, "cold: %s saves %.1f %%", coding_names[e->coding], 100 * e->saving_frac);
        else
            snprintf(out, cap, "hot: %s saves %.1f %%, adds %.1f %% of the step", coding_names[e->coding],
                     100 * e->saving_frac, 100 * e->added_s / step);
        return;
    }
    if (r->c >= 0) {
        if (r->dt > cfg->budget_frac * step)
            snprintf(out, cap, "%s: %s would add %.1f %% > budget %g %%", heat, coding_names[r->c], 100 * r->dt / step,
                     budget_pct);
        else
            snprintf(out, cap, "%s: %s would add %.1f %% > %.1f %% left of budget %g %%", heat, coding_names[r->c],
                     100 * r->dt / step, 100 * r->left / step, budget_pct);
        return;
    }
    // No candidate: name the best saving below min_saving, if any coding is smaller at all.
    int best = -1;
    for (int c = 0; c < QINS_POLICY_CODING_COUNT; c++)
        if (t->bytes[c] && t->bytes[c] < t->bytes[base] && (best < 0 || t->bytes[c] < t->bytes[best])) best = c;
    if (best >= 0)
        snprintf(out, cap, "no saving: %s saves %.1f %% < %g %%", coding_names[best],
                 100 * (1 - (double)t->bytes[best] / (double)t->bytes[base]), 100 * min_frac);
    else
        snprintf(out, cap, "no saving");
}

void qins_policy_free(struct qins_policy *p) {
    if (!p) return;
    free(p->e);
    memset(p, 0, sizeof *p);
}

// Fills the totals of p from its entries. Returns nothing.
static void totals(struct qins_policy *p) {
    p->n_cold = 0;
    p->bytes_fp32 = p->bytes_fp16 = p->bytes_base = p->bytes_after = 0;
    p->added_s = 0;
    for (size_t i = 0; i < p->n; i++) {
        const struct qins_policy_entry *e = &p->e[i];
        p->n_cold += e->cold;
        p->bytes_fp32 += e->t.n_elements * 4;
        p->bytes_fp16 += e->t.n_elements * 2;
        p->bytes_base += e->t.bytes[base_coding(&e->t)];
        p->bytes_after += e->t.bytes[e->coding];
        p->added_s += e->added_s;
    }
    p->ratio_fp32 = (double)p->bytes_fp32 / (double)p->bytes_after;
    p->ratio_fp16 = (double)p->bytes_fp16 / (double)p->bytes_after;
    p->overhead_frac = p->added_s / p->cfg.step_s;
}

int qins_policy_decide(const struct qins_policy_config *cfg, const struct qins_policy_tensor *t, size_t n,
                       const char *run_id, struct qins_policy *out) {
    memset(out, 0, sizeof *out);
    QINS_TRY(qins_policy_config_check(cfg));
    QINS_CHECK(t && n > 0, QINS_ERR_ARG, "policy: no tensors to decide for");
    QINS_CHECK(!run_id || strlen(run_id) < sizeof out->run_id, QINS_ERR_ARG, "policy: run id '%.40s...' too long",
               run_id);
    double hottest = 0;
    for (size_t i = 0; i < n; i++) {
        char why[160];
        QINS_CHECK(tensor_problem(&t[i], why, sizeof why) == 0, QINS_ERR_ARG, "policy: tensor %zu ('%.*s'): %s", i,
                   (int)strnlen(t[i].name, sizeof t[i].name), t[i].name, why);
        for (size_t j = 0; j < i; j++)
            QINS_CHECK(strcmp(t[i].name, t[j].name) != 0, QINS_ERR_ARG, "policy: tensor name '%s' appears twice",
                       t[i].name);
        if (t[i].reads_per_token > hottest) hottest = t[i].reads_per_token;
    }
    struct qins_policy_entry *e = calloc(n, sizeof *e);
    struct pair *pairs = calloc(n * QINS_POLICY_CODING_COUNT, sizeof *pairs);
    struct refusal *ref = calloc(n, sizeof *ref);
    if (!e || !pairs || !ref) {
        free(e), free(pairs), free(ref);
        QINS_CHECK(0, QINS_ERR_NOMEM, "policy: out of memory for %zu tensors", n);
    }
    out->version = QINS_POLICY_VERSION;
    snprintf(out->run_id, sizeof out->run_id, "%s", run_id ? run_id : "");
    out->cfg = *cfg;
    out->n = n;
    out->e = e;
    out->cold_below = cfg->cold_frac * hottest;

    size_t np = 0;
    for (size_t i = 0; i < n; i++) {
        e[i].t = t[i];
        e[i].coding = base_coding(&t[i]);
        e[i].cold = t[i].reads_per_token == 0 || t[i].reads_per_token < out->cold_below;
        ref[i].c = -1;
        double base_bytes = (double)t[i].bytes[e[i].coding], base_s = decode_s(&t[i], e[i].coding);
        for (int c = 0; c < QINS_POLICY_CODING_COUNT; c++) {
            if (c == (int)e[i].coding || !t[i].bytes[c]) continue;
            double saving = base_bytes - (double)t[i].bytes[c];
            if (saving <= 0 || saving < cfg->min_saving * base_bytes) continue;
            double dt = decode_s(&t[i], c) - base_s;
            pairs[np++] = (struct pair){i, c, saving, dt, dt > 0 ? saving / dt : INFINITY};
        }
    }
    qsort(pairs, np, sizeof *pairs, pair_cmp);

    // Greedy walk; the slack absorbs rounding when the sum lands exactly on the budget.
    double budget = cfg->budget_frac * cfg->step_s, slack = budget * 1e-12, used = 0;
    for (size_t k = 0; k < np; k++) {
        const struct pair *p = &pairs[k];
        struct qins_policy_entry *x = &e[p->i];
        if (x->t.bytes[p->c] >= x->t.bytes[x->coding]) continue; // already as small
        double delta = p->dt - x->added_s;
        if (used + delta <= budget + slack) {
            x->coding = (enum qins_policy_coding)p->c;
            x->added_s = p->dt;
            used += delta;
        } else if (x->coding == base_coding(&x->t) &&
                   (ref[p->i].c < 0 || x->t.bytes[p->c] < x->t.bytes[ref[p->i].c])) {
            ref[p->i] = (struct refusal){p->c, p->dt, budget - used};
        }
    }
    for (size_t i = 0; i < n; i++) {
        double base_bytes = (double)e[i].t.bytes[base_coding(&e[i].t)];
        e[i].saving_frac = 1 - (double)e[i].t.bytes[e[i].coding] / base_bytes;
        write_reason(&e[i], cfg, cfg->min_saving, &ref[i]);
    }
    totals(out);
    free(pairs), free(ref);
    return QINS_OK;
}

int qins_policy_path(const char *results_dir, const char *run_id, char *out, size_t cap) {
    return qins_format(out, cap, "%s/phase3/%s.policy.json", results_dir, run_id);
}

// --- JSON out

// Adds a number in the fewest digits (15..17) that read back exactly: cJSON's own printer keeps
// 15 digits when they compare equal within an epsilon, which does not round-trip every double.
// A failure is remembered in *bad. Every value is finite (checked by decide/read). Returns nothing.
static void add_num(cJSON *o, const char *k, double v, bool *bad) {
    char buf[32];
    for (int digits = 15; digits <= 17; digits++) {
        snprintf(buf, sizeof buf, "%.*g", digits, v);
        if (strtod(buf, NULL) == v) break;
    }
    if (!cJSON_AddRawToObject(o, k, buf)) *bad = true;
}

static cJSON *coding_object(const double *v) {
    cJSON *o = cJSON_CreateObject();
    bool bad = !o;
    for (int c = 0; o && c < QINS_POLICY_CODING_COUNT; c++) add_num(o, coding_names[c], v[c], &bad);
    if (bad) cJSON_Delete(o);
    return bad ? NULL : o;
}

static cJSON *policy_to_json(const struct qins_policy *p) {
    cJSON *root = cJSON_CreateObject(), *cfg = NULL, *tot = NULL, *arr = NULL;
    bool bad = !root;
    if (bad) return NULL;
    bad |= !cJSON_AddStringToObject(root, "format", "qins-policy");
    add_num(root, "version", p->version, &bad);
    bad |= !cJSON_AddStringToObject(root, "run_id", p->run_id);
    bad |= !(cfg = cJSON_AddObjectToObject(root, "config"));
    if (cfg) {
        add_num(cfg, "budget_frac", p->cfg.budget_frac, &bad);
        add_num(cfg, "step_s", p->cfg.step_s, &bad);
        add_num(cfg, "cold_frac", p->cfg.cold_frac, &bad);
        add_num(cfg, "min_saving", p->cfg.min_saving, &bad);
    }
    bad |= !(tot = cJSON_AddObjectToObject(root, "totals"));
    if (tot) {
        add_num(tot, "n_tensors", (double)p->n, &bad);
        add_num(tot, "n_cold", (double)p->n_cold, &bad);
        add_num(tot, "cold_below", p->cold_below, &bad);
        add_num(tot, "bytes_fp32", (double)p->bytes_fp32, &bad);
        add_num(tot, "bytes_fp16", (double)p->bytes_fp16, &bad);
        add_num(tot, "bytes_base", (double)p->bytes_base, &bad);
        add_num(tot, "bytes_after", (double)p->bytes_after, &bad);
        add_num(tot, "ratio_fp32", p->ratio_fp32, &bad);
        add_num(tot, "ratio_fp16", p->ratio_fp16, &bad);
        add_num(tot, "added_s", p->added_s, &bad);
        add_num(tot, "overhead_frac", p->overhead_frac, &bad);
    }
    bad |= !(arr = cJSON_AddArrayToObject(root, "tensors"));
    for (size_t i = 0; arr && !bad && i < p->n; i++) {
        const struct qins_policy_entry *e = &p->e[i];
        cJSON *o = cJSON_CreateObject();
        if (!o || !cJSON_AddItemToArray(arr, o)) {
            cJSON_Delete(o);
            bad = true;
            break;
        }
        bad |= !cJSON_AddStringToObject(o, "name", e->t.name);
        bad |= !cJSON_AddStringToObject(o, "class", qins_policy_class_name(e->t.cls));
        add_num(o, "n_elements", (double)e->t.n_elements, &bad);
        bad |= !cJSON_AddStringToObject(o, "codec", e->t.codec);
        add_num(o, "bits", e->t.bits, &bad);
        add_num(o, "reads_per_token", e->t.reads_per_token, &bad);
        double bytes[QINS_POLICY_CODING_COUNT];
        for (int c = 0; c < QINS_POLICY_CODING_COUNT; c++) bytes[c] = (double)e->t.bytes[c];
        cJSON *b = coding_object(bytes), *g = coding_object(e->t.decode_gbps);
        if (!b || !cJSON_AddItemToObject(o, "bytes", b)) cJSON_Delete(b), bad = true;
        if (!g || !cJSON_AddItemToObject(o, "decode_gbps", g)) cJSON_Delete(g), bad = true;
        bad |= !cJSON_AddStringToObject(o, "coding", qins_policy_coding_name(e->coding));
        bad |= !cJSON_AddBoolToObject(o, "cold", e->cold);
        add_num(o, "added_s", e->added_s, &bad);
        add_num(o, "saving_frac", e->saving_frac, &bad);
        bad |= !cJSON_AddStringToObject(o, "reason", e->reason);
    }
    if (bad) {
        cJSON_Delete(root);
        return NULL;
    }
    return root;
}

// The folder part of path ("." when none) into out. Returns 0 or QINS_ERR_RANGE.
static int parent_dir(const char *path, char *out, size_t cap) {
    const char *slash = strrchr(path, '/');
    if (!slash) return qins_format(out, cap, ".");
    return qins_format(out, cap, "%.*s", slash == path ? 1 : (int)(slash - path), path);
}

int qins_policy_write_json(const struct qins_policy *p, const char *path) {
    QINS_CHECK(p && p->e && p->n > 0 && path && *path, QINS_ERR_ARG, "policy: nothing to write or no path");
    char dir[1024], tmp[1100];
    QINS_TRY(parent_dir(path, dir, sizeof dir));
    QINS_TRY(qins_mkdir_p(dir));
    QINS_TRY(qins_format(tmp, sizeof tmp, "%s.%ld.tmp", path, (long)getpid()));
    cJSON *root = policy_to_json(p);
    char *text = root ? cJSON_Print(root) : NULL;
    cJSON_Delete(root);
    QINS_CHECK(text, QINS_ERR_NOMEM, "policy: out of memory building '%s'", path);
    FILE *f = fopen(tmp, "wb");
    if (!f) {
        int err = errno;
        free(text);
        QINS_CHECK(0, QINS_ERR_IO, "policy: cannot create '%s': %s", tmp, strerror(err));
    }
    size_t len = strlen(text);
    bool ok = fwrite(text, 1, len, f) == len && fputc('\n', f) != EOF && fflush(f) == 0 && fsync(fileno(f)) == 0;
    ok = (fclose(f) == 0) && ok;
    free(text);
    if (!ok) {
        remove(tmp);
        QINS_CHECK(0, QINS_ERR_IO, "policy: writing '%s' failed (disk full?)", tmp);
    }
    if (rename(tmp, path) != 0) {
        int err = errno;
        remove(tmp);
        QINS_CHECK(0, QINS_ERR_IO, "policy: cannot rename '%s' to '%s': %s", tmp, path, strerror(err));
    }
    return QINS_OK;
}

// --- JSON in: every key required and typed; the first problem is the one line logged.

struct rd {
    const char *path;
    int err; // sticky: after the first error every getter returns a zero value
};

static void rd_fail(struct rd *r, const char *pre, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void rd_fail(struct rd *r, const char *pre, const char *key, const char *fmt, ...) {
    if (r->err) return;
    char why[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    r->err = QINS_ERR_FORMAT;
    qins_log_error_at(__FILE__, __LINE__, "qins_policy_read_json", "policy '%s': key '%s%s%s': %s", r->path, pre,
                      *pre && *key ? "." : "", key, why);
}

static const cJSON *rd_item(struct rd *r, const cJSON *obj, const char *pre, const char *key) {
    if (r->err) return NULL;
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!it) rd_fail(r, pre, key, "missing");
    return it;
}

static const cJSON *rd_object(struct rd *r, const cJSON *obj, const char *pre, const char *key) {
    const cJSON *it = rd_item(r, obj, pre, key);
    if (it && !cJSON_IsObject(it)) rd_fail(r, pre, key, "expected an object");
    return r->err ? NULL : it;
}

// A number in [lo, hi].
static double rd_num(struct rd *r, const cJSON *obj, const char *pre, const char *key, double lo, double hi) {
    const cJSON *it = rd_item(r, obj, pre, key);
    if (!it) return 0;
    if (!cJSON_IsNumber(it)) return rd_fail(r, pre, key, "expected a number"), 0;
    double v = it->valuedouble;
    if (!(v >= lo && v <= hi)) return rd_fail(r, pre, key, "%g is out of range [%g, %g]", v, lo, hi), 0;
    return v;
}

// A non-negative integer <= 2^53.
static uint64_t rd_u64(struct rd *r, const cJSON *obj, const char *pre, const char *key) {
    const cJSON *it = rd_item(r, obj, pre, key);
    if (!it) return 0;
    if (!cJSON_IsNumber(it)) return rd_fail(r, pre, key, "expected a number"), 0;
    double v = it->valuedouble;
    if (!(v >= 0 && v <= MAX_EXACT) || v != floor(v))
        return rd_fail(r, pre, key, "%g is not a non-negative integer <= 2^53", v), 0;
    return (uint64_t)v;
}

static void rd_str(struct rd *r, const cJSON *obj, const char *pre, const char *key, char *out, size_t cap) {
    out[0] = 0;
    const cJSON *it = rd_item(r, obj, pre, key);
    if (!it) return;
    if (!cJSON_IsString(it))
        rd_fail(r, pre, key, "expected a string");
    else if (strlen(it->valuestring) >= cap)
        rd_fail(r, pre, key, "longer than %zu bytes", cap - 1);
    else
        memcpy(out, it->valuestring, strlen(it->valuestring) + 1);
}

static bool rd_bool(struct rd *r, const cJSON *obj, const char *pre, const char *key) {
    const cJSON *it = rd_item(r, obj, pre, key);
    if (!it) return false;
    if (!cJSON_IsBool(it)) return rd_fail(r, pre, key, "expected true or false"), false;
    return cJSON_IsTrue(it);
}

static void rd_entry(struct rd *r, const cJSON *o, size_t i, struct qins_policy_entry *e) {
    char pre[48], sub[64], s[QINS_POLICY_NAME_MAX];
    snprintf(pre, sizeof pre, "tensors[%zu]", i);
    if (!cJSON_IsObject(o)) {
        rd_fail(r, pre, "", "expected an object");
        return;
    }
    struct qins_policy_tensor *t = &e->t;
    rd_str(r, o, pre, "name", t->name, sizeof t->name);
    if (!r->err && !t->name[0]) rd_fail(r, pre, "name", "empty");
    rd_str(r, o, pre, "class", s, sizeof s);
    if (!r->err && qins_policy_class_parse(s, &t->cls) < 0) rd_fail(r, pre, "class", "unknown class '%s'", s);
    t->n_elements = rd_u64(r, o, pre, "n_elements");
    if (!r->err && t->n_elements == 0) rd_fail(r, pre, "n_elements", "0");
    rd_str(r, o, pre, "codec", t->codec, sizeof t->codec);
    t->bits = (int)rd_num(r, o, pre, "bits", 0, 32);
    if (!r->err && t->bits != cJSON_GetObjectItemCaseSensitive(o, "bits")->valuedouble)
        rd_fail(r, pre, "bits", "not an integer");
    t->reads_per_token = rd_num(r, o, pre, "reads_per_token", 0, DBL_MAX);
    snprintf(sub, sizeof sub, "%s.bytes", pre);
    const cJSON *b = rd_object(r, o, pre, "bytes");
    for (int c = 0; b && c < QINS_POLICY_CODING_COUNT; c++) t->bytes[c] = rd_u64(r, b, sub, coding_names[c]);
    snprintf(sub, sizeof sub, "%s.decode_gbps", pre);
    const cJSON *g = rd_object(r, o, pre, "decode_gbps");
    for (int c = 0; g && c < QINS_POLICY_CODING_COUNT; c++) {
        t->decode_gbps[c] = rd_num(r, g, sub, coding_names[c], 0, DBL_MAX);
        if (!r->err && c != QINS_POLICY_CODING_NONE && t->bytes[c] && t->decode_gbps[c] <= 0)
            rd_fail(r, sub, coding_names[c], "0 for a coding with a measured size");
    }
    if (!r->err && !t->bytes[base_coding(t)]) rd_fail(r, pre, "bytes", "neither bitpack nor none has a size");
    rd_str(r, o, pre, "coding", s, sizeof s);
    if (!r->err && qins_policy_coding_parse(s, &e->coding) < 0) rd_fail(r, pre, "coding", "unknown coding '%s'", s);
    if (!r->err && !t->bytes[e->coding])
        rd_fail(r, pre, "coding", "'%s' has no measured size in bytes", coding_names[e->coding]);
    e->cold = rd_bool(r, o, pre, "cold");
    e->added_s = rd_num(r, o, pre, "added_s", -DBL_MAX, DBL_MAX);
    e->saving_frac = rd_num(r, o, pre, "saving_frac", -DBL_MAX, 1);
    rd_str(r, o, pre, "reason", e->reason, sizeof e->reason);
}

// Reads the whole file into a malloc'd buffer. Returns 0, QINS_ERR_IO, QINS_ERR_FORMAT or QINS_ERR_NOMEM.
static int slurp(const char *path, char **buf, size_t *len) {
    FILE *f = fopen(path, "rb");
    QINS_CHECK(f, QINS_ERR_IO, "policy: cannot open '%s': %s", path, strerror(errno));
    char *b = NULL;
    size_t n = 0, cap = 0;
    int st = QINS_OK;
    for (;;) {
        if (n == cap && (st = qins_grow(&b, &cap, cap + 1, 1)) < 0) break;
        size_t got = fread(b + n, 1, cap - n, f);
        n += got;
        if (got == 0) break;
        if (n > MAX_FILE_BYTES) {
            st = QINS_ERR_FORMAT;
            qins_log(QINS_LOG_ERROR, "policy '%s': larger than %u MiB, not a policy file", path, MAX_FILE_BYTES >> 20);
            break;
        }
    }
    if (st == QINS_OK && ferror(f)) {
        st = QINS_ERR_IO;
        qins_log(QINS_LOG_ERROR, "policy: reading '%s' failed", path);
    }
    fclose(f);
    if (st < 0) return free(b), st;
    *buf = b, *len = n;
    return QINS_OK;
}

int qins_policy_read_json(const char *path, struct qins_policy *out) {
    memset(out, 0, sizeof *out);
    QINS_CHECK(path && *path, QINS_ERR_ARG, "policy: no path to read");
    char *text;
    size_t len;
    QINS_TRY(slurp(path, &text, &len));
    cJSON *root = cJSON_ParseWithLength(text, len);
    if (!root) {
        const char *at = cJSON_GetErrorPtr();
        size_t off = at && at >= text && at <= text + len ? (size_t)(at - text) : len;
        free(text);
        QINS_CHECK(0, QINS_ERR_FORMAT, "policy '%s': not valid JSON (at byte %zu of %zu; truncated?)", path, off, len);
    }
    free(text);
    struct rd r = {path, 0};
    struct qins_policy p = {0};
    char fmt[32];
    if (!cJSON_IsObject(root)) rd_fail(&r, "", "", "the document is not a JSON object");
    rd_str(&r, root, "", "format", fmt, sizeof fmt);
    if (!r.err && strcmp(fmt, "qins-policy") != 0) rd_fail(&r, "", "format", "'%s' is not 'qins-policy'", fmt);
    uint64_t version = rd_u64(&r, root, "", "version");
    if (!r.err && version != QINS_POLICY_VERSION)
        rd_fail(&r, "", "version", "%llu, this build reads version %d", (unsigned long long)version,
                QINS_POLICY_VERSION);
    p.version = QINS_POLICY_VERSION;
    rd_str(&r, root, "", "run_id", p.run_id, sizeof p.run_id);
    const cJSON *cfg = rd_object(&r, root, "", "config");
    p.cfg.budget_frac = rd_num(&r, cfg, "config", "budget_frac", 0, 1);
    p.cfg.step_s = rd_num(&r, cfg, "config", "step_s", DBL_MIN, DBL_MAX);
    p.cfg.cold_frac = rd_num(&r, cfg, "config", "cold_frac", 0, 1);
    p.cfg.min_saving = rd_num(&r, cfg, "config", "min_saving", 0, 1 - DBL_EPSILON);
    const cJSON *tot = rd_object(&r, root, "", "totals");
    uint64_t n_tensors = rd_u64(&r, tot, "totals", "n_tensors");
    uint64_t n_cold = rd_u64(&r, tot, "totals", "n_cold");
    p.cold_below = rd_num(&r, tot, "totals", "cold_below", 0, DBL_MAX);
    uint64_t b32 = rd_u64(&r, tot, "totals", "bytes_fp32"), b16 = rd_u64(&r, tot, "totals", "bytes_fp16");
    uint64_t bbase = rd_u64(&r, tot, "totals", "bytes_base"), bafter = rd_u64(&r, tot, "totals", "bytes_after");
    double r32 = rd_num(&r, tot, "totals", "ratio_fp32", 0, DBL_MAX);
    double r16 = rd_num(&r, tot, "totals", "ratio_fp16", 0, DBL_MAX);
    double added = rd_num(&r, tot, "totals", "added_s", -DBL_MAX, DBL_MAX);
    double over = rd_num(&r, tot, "totals", "overhead_frac", -DBL_MAX, DBL_MAX);
    const cJSON *arr = rd_item(&r, root, "", "tensors");
    if (arr && !cJSON_IsArray(arr)) rd_fail(&r, "", "tensors", "expected an array");
    size_t n = r.err ? 0 : (size_t)cJSON_GetArraySize(arr);
    if (!r.err && (n == 0 || n != n_tensors))
        rd_fail(&r, "", "tensors", "%zu entries, totals.n_tensors says %llu (and at least 1)", n,
                (unsigned long long)n_tensors);
    if (!r.err && !(p.e = calloc(n, sizeof *p.e))) {
        cJSON_Delete(root);
        QINS_CHECK(0, QINS_ERR_NOMEM, "policy '%s': out of memory for %zu tensors", path, n);
    }
    p.n = r.err ? 0 : n;
    size_t i = 0;
    for (const cJSON *o = arr ? arr->child : NULL; !r.err && o && i < p.n; o = o->next, i++) {
        rd_entry(&r, o, i, &p.e[i]);
        for (size_t j = 0; !r.err && j < i; j++)
            if (strcmp(p.e[i].t.name, p.e[j].t.name) == 0) {
                char pre[48];
                snprintf(pre, sizeof pre, "tensors[%zu]", i);
                rd_fail(&r, pre, "name", "'%s' appears twice", p.e[i].t.name);
            }
    }
    cJSON_Delete(root);
    if (!r.err) { // the totals must be those of the entries
        struct qins_policy chk = p;
        totals(&chk);
        const char *bad = chk.n_cold != n_cold        ? "n_cold"
                          : chk.bytes_fp32 != b32     ? "bytes_fp32"
                          : chk.bytes_fp16 != b16     ? "bytes_fp16"
                          : chk.bytes_base != bbase   ? "bytes_base"
                          : chk.bytes_after != bafter ? "bytes_after"
                                                      : NULL;
        if (bad) rd_fail(&r, "totals", bad, "does not match the tensors");
        p.n_cold = n_cold, p.bytes_fp32 = b32, p.bytes_fp16 = b16, p.bytes_base = bbase, p.bytes_after = bafter;
        p.ratio_fp32 = r32, p.ratio_fp16 = r16, p.added_s = added, p.overhead_frac = over;
    }
    if (r.err) {
        qins_policy_free(&p);
        return r.err;
    }
    *out = p;
    return QINS_OK;
}
