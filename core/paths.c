// core/paths.c — the lookup order of core/paths.h: candidates, first readable file wins.
#include "paths.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common.h"

#ifndef QINS_SOURCE_DIR
#define QINS_SOURCE_DIR "."
#endif

#define MAX_CAND 8
#define CAND_LEN 4096

static bool readable(const char *p) {
    struct stat st;
    return stat(p, &st) == 0 && S_ISREG(st.st_mode) && access(p, R_OK) == 0;
}

static bool is_dir(const char *p) {
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

static const char *env(const char *name) {
    const char *v = getenv(name);
    return v && *v ? v : NULL;
}

static const char *source_dir(void) { return env("QINS_SOURCE_DIR") ? env("QINS_SOURCE_DIR") : QINS_SOURCE_DIR; }

const char *qins_path_kind_name(enum qins_path_kind kind) {
    switch (kind) {
    case QINS_PATH_MODEL: return "model";
    case QINS_PATH_VOCAB: return "vocab";
    case QINS_PATH_DATA: return "data";
    case QINS_PATH_SOURCE: return "source";
    }
    return "?";
}

struct cands {
    char p[MAX_CAND][CAND_LEN];
    int n;
    bool too_long;
};

// Appends "a/b" (or b when a is NULL); skips a repeat of an earlier candidate.
static void add(struct cands *c, const char *a, const char *mid, const char *b) {
    char buf[CAND_LEN];
    int w = a ? snprintf(buf, sizeof buf, "%s/%s%s", a, mid, b) : snprintf(buf, sizeof buf, "%s", b);
    if (w < 0 || (size_t)w >= sizeof buf) {
        c->too_long = true;
        return;
    }
    for (int i = 0; i < c->n; i++)
        if (!strcmp(c->p[i], buf)) return;
    if (c->n < MAX_CAND) memcpy(c->p[c->n++], buf, (size_t)w + 1);
}

// The candidates for name, in the order documented in paths.h.
static void candidates(enum qins_path_kind kind, const char *name, struct cands *c) {
    c->n = 0;
    c->too_long = false;
    const char *src = source_dir();
    if (strchr(name, '/')) {
        add(c, NULL, "", name);
        if (kind == QINS_PATH_SOURCE && name[0] != '/') add(c, src, "", name);
        return;
    }
    if (kind == QINS_PATH_SOURCE) {
        add(c, NULL, "", name);
        add(c, src, "", name);
        return;
    }
    const char *sub = kind == QINS_PATH_MODEL ? "models/" : kind == QINS_PATH_VOCAB ? "tokenizers/" : "data/";
    // A vocab file is model metadata: one put beside the models in $QINS_MODELS is found first.
    const char *own = env(kind == QINS_PATH_DATA ? "QINS_DATA" : "QINS_MODELS");
    if (own) add(c, own, "", name);
    if (env("QINS_SHARED")) {
        add(c, env("QINS_SHARED"), sub, name);
    } else if (env("QINS_MODELS")) {
        char up[CAND_LEN];
        snprintf(up, sizeof up, "%s/..", env("QINS_MODELS"));
        add(c, up, sub, name);
    }
    add(c, ".", sub, name);
    add(c, NULL, "", name);
    char beside[CAND_LEN];
    snprintf(beside, sizeof beside, "%s/../shared", src);
    add(c, beside, sub, name);
}

static void join_list(const struct cands *c, char *out, size_t cap) {
    size_t len = 0;
    out[0] = 0;
    for (int i = 0; i < c->n && len + 1 < cap; i++) {
        int w = snprintf(out + len, cap - len, "%s%s", i ? ", " : "", c->p[i]);
        if (w < 0) break;
        len += (size_t)w;
    }
}

int qins_path_candidates(enum qins_path_kind kind, const char *name, char *out, size_t cap) {
    QINS_CHECK(name && out && cap > 0, QINS_ERR_ARG, "NULL name or output");
    struct cands *c = malloc(sizeof *c);
    QINS_CHECK(c, QINS_ERR_NOMEM, "out of memory");
    candidates(kind, name, c);
    size_t need = 1;
    for (int i = 0; i < c->n; i++) need += strlen(c->p[i]) + 2;
    join_list(c, out, cap);
    free(c);
    return need <= cap ? QINS_OK : QINS_ERR_RANGE;
}

static int lookup(enum qins_path_kind kind, const char *name, char *out, size_t cap, bool loud) {
    QINS_CHECK(name && *name, QINS_ERR_ARG, "empty %s file name", qins_path_kind_name(kind));
    QINS_CHECK(out && cap > 0, QINS_ERR_ARG, "NULL output for %s '%s'", qins_path_kind_name(kind), name);
    struct cands *c = malloc(sizeof *c);
    QINS_CHECK(c, QINS_ERR_NOMEM, "out of memory");
    candidates(kind, name, c);
    for (int i = 0; i < c->n; i++)
        if (readable(c->p[i])) {
            size_t len = strlen(c->p[i]);
            if (len >= cap) {
                qins_log(QINS_LOG_ERROR, "%s path '%s' longer than %zu bytes", qins_path_kind_name(kind), c->p[i],
                         cap - 1);
                free(c);
                return QINS_ERR_RANGE;
            }
            memcpy(out, c->p[i], len + 1);
            free(c);
            return QINS_OK;
        }
    if (loud) {
        char tried[900];
        join_list(c, tried, sizeof tried);
        qins_log(QINS_LOG_ERROR, "%s '%s' not found; tried %s%s", qins_path_kind_name(kind), name, tried,
                 c->too_long ? " (some candidates were too long)" : "");
    }
    free(c);
    return QINS_ERR_IO;
}

int qins_path_resolve(enum qins_path_kind kind, const char *name, char *out, size_t cap) {
    return lookup(kind, name, out, cap, true);
}

int qins_path_try(enum qins_path_kind kind, const char *name, char *out, size_t cap) {
    return lookup(kind, name, out, cap, false);
}

// ---- shared root

int qins_shared_dir(char *out, size_t cap) {
    QINS_CHECK(out && cap > 0, QINS_ERR_ARG, "NULL output");
    int w;
    const char *how;
    if (env("QINS_SHARED")) {
        w = snprintf(out, cap, "%s", env("QINS_SHARED"));
        how = "$QINS_SHARED";
    } else if (env("QINS_MODELS")) {
        w = snprintf(out, cap, "%s/..", env("QINS_MODELS"));
        how = "$QINS_MODELS/..";
    } else {
        w = snprintf(out, cap, "%s/../shared", source_dir());
        how = "<source>/../shared";
    }
    QINS_CHECK(w >= 0 && (size_t)w < cap, QINS_ERR_RANGE, "shared folder path (from %s) longer than %zu bytes", how,
               cap - 1);
    QINS_CHECK(is_dir(out), QINS_ERR_IO, "shared data folder '%s' (from %s) not found; set QINS_SHARED or QINS_MODELS",
               out, how);
    return QINS_OK;
}

int qins_shared_path(const char *rel, char *out, size_t cap) {
    char root[CAND_LEN];
    QINS_TRY(qins_shared_dir(root, sizeof root));
    int w = snprintf(out, cap, "%s/%s", root, rel);
    QINS_CHECK(w >= 0 && (size_t)w < cap, QINS_ERR_RANGE, "path '%s/%s' longer than %zu bytes", root, rel, cap - 1);
    QINS_CHECK(readable(out), QINS_ERR_IO, "shared file '%s' not found (shared root %s)", out, root);
    return QINS_OK;
}
