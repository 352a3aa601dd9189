// core/dataset.c — eval text slices and prompt sets.
#include "dataset.h"

#include <csv.h>
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "results.h"
#include "paths.h"
#include "util.h"

// ---- slices

int qins_slice_parse(const char *spec, struct qins_slice *out) {
    memset(out, 0, sizeof *out);
    if (!strcmp(spec, "none")) return QINS_OK;
    const char *rest;
    if (!strncmp(spec, "bytes:", 6)) out->unit = QINS_SLICE_BYTES, rest = spec + 6;
    else if (!strncmp(spec, "stories:", 8)) out->unit = QINS_SLICE_STORIES, rest = spec + 8;
    else return QINS_ERR_ARG;
    if (!isdigit((unsigned char)*rest)) return QINS_ERR_ARG;
    char *end;
    errno = 0;
    unsigned long long a = strtoull(rest, &end, 10);
    if (*end != '-' || !isdigit((unsigned char)end[1])) return QINS_ERR_ARG;
    unsigned long long b = strtoull(end + 1, &end, 10);
    if (*end || errno || a >= b) return QINS_ERR_ARG;
    out->start = a;
    out->end = b;
    return QINS_OK;
}

// Length of a separator line starting at p (0 if the line is not exactly the separator).
static size_t sep_line(const char *p, const char *end) {
    size_t n = sizeof QINS_STORY_SEP - 1;
    if ((size_t)(end - p) < n || memcmp(p, QINS_STORY_SEP, n)) return 0;
    const char *q = p + n;
    if (q < end && *q == '\r') q++;
    if (q == end) return (size_t)(q - p);
    if (*q != '\n') return 0;
    return (size_t)(q + 1 - p);
}

// Writes up to cap story start offsets into starts (may be NULL); returns the story count.
static size_t story_starts(const char *text, size_t len, size_t *starts, size_t cap) {
    const char *end = text + len;
    size_t n = 0;
    if (len) {
        if (n < cap) starts[n] = 0;
        n++;
    }
    for (const char *p = text; p < end;) {
        size_t s = sep_line(p, end);
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *next = s ? p + s : nl ? nl + 1 : end;
        if (s && next < end) {
            if (n < cap) starts[n] = (size_t)(next - text);
            n++;
        }
        p = next;
    }
    return n;
}

size_t qins_story_count(const char *text, size_t len) { return story_starts(text, len, NULL, 0); }

int qins_slice_resolve(const char *text, size_t len, const struct qins_slice *s, size_t *b0, size_t *b1) {
    *b0 = *b1 = 0;
    if (s->unit == QINS_SLICE_NONE) return QINS_OK;
    if (s->unit == QINS_SLICE_BYTES) {
        QINS_CHECK(s->end <= len, QINS_ERR_RANGE, "slice bytes:%" PRIu64 "-%" PRIu64 " ends past the text (%zu bytes)",
                   s->start, s->end, len);
        *b0 = (size_t)s->start;
        *b1 = (size_t)s->end;
        return QINS_OK;
    }
    size_t n = qins_story_count(text, len);
    QINS_CHECK(s->end <= n, QINS_ERR_RANGE, "slice stories:%" PRIu64 "-%" PRIu64 " ends past the text (%zu stories)",
               s->start, s->end, n);
    size_t *starts = malloc(n * sizeof *starts);
    QINS_CHECK(starts, QINS_ERR_NOMEM, "out of memory");
    story_starts(text, len, starts, n);
    *b0 = starts[s->start];
    *b1 = s->end < n ? starts[s->end] : len;
    free(starts);
    return QINS_OK;
}

void qins_dataset_free(struct qins_dataset *d) {
    if (!d) return;
    free(d->text);
    d->text = NULL;
    d->len = 0;
}

int qins_dataset_load(const qins_config_t *cfg, struct qins_dataset *out) {
    memset(out, 0, sizeof *out);
    QINS_TRY(qins_path_resolve(QINS_PATH_DATA, qins_config_str(cfg, "run", "eval_text"), out->path, sizeof out->path));
    FILE *f = fopen(out->path, "rb");
    QINS_CHECK(f, QINS_ERR_IO, "cannot open '%s': %s", out->path, strerror(errno));
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    out->text = size >= 0 ? malloc((size_t)size + 1) : NULL;
    size_t got = out->text ? fread(out->text, 1, (size_t)size, f) : 0;
    fclose(f);
    if (!out->text || got != (size_t)size) {
        qins_dataset_free(out);
        QINS_CHECK(0, QINS_ERR_IO, "cannot read '%s'", out->path);
    }
    out->text[size] = 0;
    out->len = (size_t)size;
    qins_sha256_hex(out->text, out->len, out->sha256);
    snprintf(out->eval_spec, sizeof out->eval_spec, "%s", qins_config_str(cfg, "run", "eval_slice"));
    snprintf(out->calib_spec, sizeof out->calib_spec, "%s", qins_config_str(cfg, "run", "calib_slice"));
    struct qins_slice ev, ca;
    int st = qins_slice_parse(out->eval_spec, &ev);
    if (st == QINS_OK && ev.unit == QINS_SLICE_NONE) st = QINS_ERR_ARG;
    if (st == QINS_OK) st = qins_slice_parse(out->calib_spec, &ca);
    if (st < 0) {
        qins_dataset_free(out);
        QINS_CHECK(0, QINS_ERR_ARG, "bad slice: eval_slice '%s', calib_slice '%s'", out->eval_spec, out->calib_spec);
    }
    if ((st = qins_slice_resolve(out->text, out->len, &ev, &out->eval_b0, &out->eval_b1)) < 0 ||
        (st = qins_slice_resolve(out->text, out->len, &ca, &out->calib_b0, &out->calib_b1)) < 0) {
        qins_dataset_free(out);
        return st;
    }
    bool overlap = ca.unit != QINS_SLICE_NONE && out->calib_b0 < out->eval_b1 && out->eval_b0 < out->calib_b1;
    if (overlap) {
        qins_dataset_free(out);
        QINS_CHECK(0, QINS_ERR_ARG, "calib_slice %s (bytes %zu-%zu) overlaps eval_slice %s (bytes %zu-%zu) of '%s'",
                   out->calib_spec, out->calib_b0, out->calib_b1, out->eval_spec, out->eval_b0, out->eval_b1,
                   out->path);
    }
    return QINS_OK;
}

// ---- prompt sets

void qins_prompts_free(struct qins_prompt_set *p) {
    if (!p) return;
    for (size_t i = 0; i < p->n; i++) {
        free(p->items[i].id);
        free(p->items[i].text);
    }
    free(p->items);
    p->items = NULL;
    p->n = 0;
}

static int push(struct qins_prompt_set *p, size_t *cap, const char *id, const char *text, int max_tokens) {
    QINS_TRY(qins_grow(&p->items, cap, p->n + 1, sizeof *p->items));
    struct qins_prompt *q = &p->items[p->n];
    q->id = strdup(id);
    q->text = strdup(text);
    q->max_tokens = max_tokens;
    if (!q->id || !q->text) {
        free(q->id);
        free(q->text);
        QINS_CHECK(0, QINS_ERR_NOMEM, "out of memory");
    }
    p->n++;
    return QINS_OK;
}

struct csv_state {
    char *fields[4];
    size_t n_fields;
    size_t row;             // 0 = header
    int default_max;
    struct qins_prompt_set *out;
    size_t cap;
    int err;
    const char *path;
};

static void csv_field(void *s, size_t len, void *user) {
    struct csv_state *st = user;
    if (st->n_fields < 4) {
        char *f = malloc(len + 1);
        if (f) {
            memcpy(f, s, len);
            f[len] = 0;
        } else if (!st->err) st->err = QINS_ERR_NOMEM;
        st->fields[st->n_fields] = f;
    }
    st->n_fields++;
}

static void csv_row(int c, void *user) {
    (void)c;
    struct csv_state *st = user;
    char **f = st->fields;
    if (st->err) goto done;
    if (st->row == 0) {
        if (st->n_fields != 3 || strcmp(f[0], "id") || strcmp(f[1], "prompt") || strcmp(f[2], "max_tokens")) {
            qins_log(QINS_LOG_ERROR, "%s: header must be id,prompt,max_tokens", st->path);
            st->err = QINS_ERR_FORMAT;
        }
        goto done;
    }
    if (st->n_fields != 3) {
        qins_log(QINS_LOG_ERROR, "%s: row %zu has %zu fields, expected 3 (id,prompt,max_tokens)", st->path, st->row,
                 st->n_fields);
        st->err = QINS_ERR_FORMAT;
        goto done;
    }
    char *end;
    long mt = *f[2] ? strtol(f[2], &end, 10) : 0;
    if ((*f[2] && *end) || mt < 0 || mt > 10000000 || !*f[0] || !*f[1]) {
        qins_log(QINS_LOG_ERROR, "%s: row %zu: need a non-empty id and prompt and max_tokens >= 0 (got '%s')", st->path,
                 st->row, f[2]);
        st->err = QINS_ERR_FORMAT;
        goto done;
    }
    for (size_t i = 0; i < st->out->n; i++)
        if (!strcmp(st->out->items[i].id, f[0]) || !strcmp(st->out->items[i].text, f[1])) {
            qins_log(QINS_LOG_ERROR, "%s: row %zu repeats the %s of row %zu", st->path, st->row,
                     strcmp(st->out->items[i].id, f[0]) ? "prompt" : "id", i + 1);
            st->err = QINS_ERR_FORMAT;
            goto done;
        }
    st->err = push(st->out, &st->cap, f[0], f[1], mt ? (int)mt : st->default_max);
done:
    for (size_t i = 0; i < 4 && i < st->n_fields; i++) free(f[i]);
    memset(st->fields, 0, sizeof st->fields);
    st->n_fields = 0;
    st->row++;
}

int qins_prompts_load_csv(const char *path, int default_max_tokens, struct qins_prompt_set *out) {
    memset(out, 0, sizeof *out);
    snprintf(out->source, sizeof out->source, "%s", path);
    FILE *f = fopen(path, "rb");
    QINS_CHECK(f, QINS_ERR_IO, "cannot open prompt CSV '%s': %s", path, strerror(errno));
    struct csv_parser p;
    if (csv_init(&p, CSV_STRICT | CSV_STRICT_FINI | CSV_APPEND_NULL) != 0) {
        fclose(f);
        QINS_CHECK(0, QINS_ERR_NOMEM, "csv_init failed");
    }
    struct csv_state st = {.default_max = default_max_tokens, .out = out, .path = path};
    char buf[4096];
    size_t got;
    int perr = 0;
    while ((got = fread(buf, 1, sizeof buf, f)) > 0)
        if (csv_parse(&p, buf, got, csv_field, csv_row, &st) != got) {
            perr = csv_error(&p);
            break;
        }
    if (!perr && csv_fini(&p, csv_field, csv_row, &st) != 0) perr = csv_error(&p);
    for (size_t i = 0; i < 4 && i < st.n_fields; i++) free(st.fields[i]);
    csv_free(&p);
    fclose(f);
    if (perr || st.err) {
        qins_prompts_free(out);
        QINS_CHECK(!perr, QINS_ERR_FORMAT, "%s: CSV error near row %zu: %s", path, st.row, csv_strerror(perr));
        return st.err;
    }
    QINS_CHECK(out->n > 0, QINS_ERR_FORMAT, "%s: no prompts", path);
    int hs = qins_sha256_file(path, out->sha256);
    if (hs < 0) qins_prompts_free(out);
    return hs;
}

int qins_prompts_derive(const char *text, size_t len, size_t n, int words, int max_tokens,
                        struct qins_prompt_set *out) {
    memset(out, 0, sizeof *out);
    QINS_CHECK(n > 0 && words > 0, QINS_ERR_ARG, "need n > 0 and words > 0");
    size_t n_st = qins_story_count(text, len);
    size_t *starts = malloc((n_st ? n_st : 1) * sizeof *starts);
    QINS_CHECK(starts, QINS_ERR_NOMEM, "out of memory");
    story_starts(text, len, starts, n_st);
    size_t cap = 0;
    int st = QINS_OK;
    char prompt[1024], id[32];
    for (size_t s = 0; s < n_st && out->n < n && st == QINS_OK; s++) {
        size_t end = s + 1 < n_st ? starts[s + 1] : len, pos = 0;
        const char *p = text + starts[s], *e = text + end;
        int w = 0;
        while (w < words && p < e) {
            while (p < e && isspace((unsigned char)*p)) p++;
            if (p >= e || sep_line(p, e)) break;
            if (pos && pos + 1 < sizeof prompt) prompt[pos++] = ' ';
            while (p < e && !isspace((unsigned char)*p) && pos + 1 < sizeof prompt) prompt[pos++] = *p++;
            w++;
        }
        prompt[pos] = 0;
        if (w < words) continue; // too short to be a prompt (e.g. an empty trailing story)
        bool dup = false;
        for (size_t i = 0; i < out->n && !dup; i++) dup = !strcmp(out->items[i].text, prompt);
        if (dup) continue;
        snprintf(id, sizeof id, "s%zu", s);
        st = push(out, &cap, id, prompt, max_tokens);
    }
    free(starts);
    if (st == QINS_OK && out->n < n) {
        qins_log(QINS_LOG_ERROR, "only %zu distinct %d-word story openings in %zu stories, %zu requested", out->n,
                 words, n_st, n);
        st = QINS_ERR_RANGE;
    }
    if (st < 0) qins_prompts_free(out);
    return st;
}

int qins_prompts_write_csv(const struct qins_prompt_set *p, const char *path) {
    FILE *f = fopen(path, "wb");
    QINS_CHECK(f, QINS_ERR_IO, "cannot write '%s': %s", path, strerror(errno));
    fputs("id,prompt,max_tokens\n", f);
    for (size_t i = 0; i < p->n; i++) {
        csv_fwrite(f, p->items[i].id, strlen(p->items[i].id));
        fputc(',', f);
        csv_fwrite(f, p->items[i].text, strlen(p->items[i].text));
        fprintf(f, ",%d\n", p->items[i].max_tokens);
    }
    int bad = ferror(f);
    bad |= fclose(f);
    QINS_CHECK(!bad, QINS_ERR_IO, "write error on '%s'", path);
    return QINS_OK;
}

int qins_prompts_from_config(const qins_config_t *cfg, const struct qins_dataset *d, struct qins_prompt_set *out) {
    const char *spec = qins_config_str(cfg, "run", "prompts");
    int tokens = (int)qins_config_int(cfg, "run", "tokens");
    if (!strncmp(spec, "derive:", 7)) {
        // A byte slice may start mid-story: derive only from stories that start inside it.
        size_t n_st = qins_story_count(d->text, d->len), b0 = d->eval_b1;
        size_t *starts = malloc((n_st ? n_st : 1) * sizeof *starts);
        QINS_CHECK(starts, QINS_ERR_NOMEM, "out of memory");
        story_starts(d->text, d->len, starts, n_st);
        for (size_t i = 0; i < n_st; i++)
            if (starts[i] >= d->eval_b0) {
                b0 = starts[i] < d->eval_b1 ? starts[i] : d->eval_b1;
                break;
            }
        free(starts);
        int st = qins_prompts_derive(d->text + b0, d->eval_b1 - b0, (size_t)atol(spec + 7),
                                     (int)qins_config_int(cfg, "run", "prompt_words"), tokens, out);
        if (st == QINS_OK)
            snprintf(out->source, sizeof out->source, "%s (%d words) from bytes %zu-%zu of %s", spec,
                     (int)qins_config_int(cfg, "run", "prompt_words"), b0, d->eval_b1, d->path);
        return st;
    }
    char path[1024];
    QINS_TRY(qins_path_resolve(QINS_PATH_SOURCE, spec, path, sizeof path));
    return qins_prompts_load_csv(path, tokens, out);
}

int qins_dataset_record(struct qins_run *run, const struct qins_dataset *d, const struct qins_prompt_set *p) {
    int64_t ev[2] = {(int64_t)d->eval_b0, (int64_t)d->eval_b1}, ca[2] = {(int64_t)d->calib_b0, (int64_t)d->calib_b1};
    QINS_TRY(qins_run_attr_str(run, "/data", "eval_text", d->path));
    QINS_TRY(qins_run_attr_str(run, "/data", "eval_sha256", d->sha256));
    QINS_TRY(qins_run_attr_str(run, "/data", "eval_slice", d->eval_spec));
    QINS_TRY(qins_run_attr_int_array(run, "/data", "eval_bytes", ev, 2));
    QINS_TRY(qins_run_attr_str(run, "/data", "calib_slice", d->calib_spec));
    QINS_TRY(qins_run_attr_int_array(run, "/data", "calib_bytes", ca, 2));
    if (!p) return QINS_OK;
    QINS_TRY(qins_run_attr_str(run, "/data", "prompts_source", p->source));
    QINS_TRY(qins_run_attr_str(run, "/data", "prompts_sha256", p->sha256));
    const char **texts = calloc(p->n + 1, sizeof *texts), **ids = calloc(p->n + 1, sizeof *ids);
    int32_t *mt = calloc(p->n + 1, sizeof *mt);
    int st = texts && ids && mt ? QINS_OK : QINS_ERR_NOMEM;
    for (size_t i = 0; st == QINS_OK && i < p->n; i++) {
        texts[i] = p->items[i].text;
        ids[i] = p->items[i].id;
        mt[i] = p->items[i].max_tokens;
    }
    if (st == QINS_OK) st = qins_run_strings(run, "/generation/prompts", texts, p->n);
    if (st == QINS_OK) st = qins_run_strings(run, "/generation/prompt_ids", ids, p->n);
    if (st == QINS_OK) st = qins_run_array(run, "/generation/max_tokens", QINS_DT_I32, mt, p->n, 0);
    free(texts);
    free(ids);
    free(mt);
    return st;
}
