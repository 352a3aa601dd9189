// core/util.c — see util.h.
#include "util.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common.h"

int qins_grow(void *pp, size_t *cap, size_t need, size_t elem) {
    void **p = pp;
    if (need <= *cap) return 0;
    size_t nc = *cap ? *cap : 16;
    while (nc < need) {
        QINS_CHECK(nc <= SIZE_MAX / 2, QINS_ERR_NOMEM, "array of %zu items is too large", need);
        nc *= 2;
    }
    QINS_CHECK(elem == 0 || nc <= SIZE_MAX / elem, QINS_ERR_NOMEM, "array of %zu x %zu bytes is too large", nc, elem);
    void *np = realloc(*p, nc * elem);
    QINS_CHECK(np, QINS_ERR_NOMEM, "out of memory (%zu x %zu bytes)", nc, elem);
    *p = np, *cap = nc;
    return 0;
}

void *qins_vec_push(struct qins_vec *v) {
    if (qins_grow(&v->data, &v->cap, v->n + 1, v->elem) < 0) return NULL;
    void *item = (char *)v->data + v->n++ * v->elem;
    memset(item, 0, v->elem);
    return item;
}

int qins_vec_append(struct qins_vec *v, const void *item) {
    void *slot = qins_vec_push(v);
    if (!slot) return QINS_ERR_NOMEM;
    memcpy(slot, item, v->elem);
    return 0;
}

void qins_vec_free(struct qins_vec *v) {
    free(v->data);
    v->data = NULL, v->n = v->cap = 0;
}

int qins_cmp_double(const void *a, const void *b) {
    const double x = *(const double *)a, y = *(const double *)b;
    if (isnan(x) || isnan(y)) return isnan(x) - isnan(y);
    return (x > y) - (x < y);
}

int qins_cmp_int64(const void *a, const void *b) {
    const int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

double qins_median_inplace(double *x, size_t n) {
    if (n == 0) return NAN;
    qsort(x, n, sizeof *x, qins_cmp_double);
    return n % 2 ? x[n / 2] : 0.5 * (x[n / 2 - 1] + x[n / 2]);
}

double qins_median(const double *x, size_t n) {
    if (n == 0) return NAN;
    double *t = malloc(n * sizeof *t);
    if (!t) return NAN;
    memcpy(t, x, n * sizeof *t);
    const double m = qins_median_inplace(t, n);
    free(t);
    return m;
}

int qins_split_list(const char *list, qins_item_fn fn, void *user, size_t *count) {
    size_t n = 0;
    int st = 0;
    const char *p = list ? list : "";
    while (*p == ' ' || *p == '\t') p++;
    for (bool more = *p != 0; more && st == 0;) {
        const char *end = strchr(p, ',');
        if (!end) end = p + strlen(p);
        const char *a = p, *b = end;
        while (a < b && (*a == ' ' || *a == '\t')) a++;
        while (b > a && (b[-1] == ' ' || b[-1] == '\t')) b--;
        char small[256], *item = (size_t)(b - a) < sizeof small ? small : malloc((size_t)(b - a) + 1);
        if (!item) return QINS_ERR_NOMEM;
        memcpy(item, a, (size_t)(b - a));
        item[b - a] = 0;
        st = fn(item, n++, user);
        if (item != small) free(item);
        more = *end != 0;
        p = end + 1;
    }
    if (count) *count = n;
    return st;
}

int qins_mkdir_p(const char *dir) {
    char buf[4096];
    QINS_CHECK(strlen(dir) < sizeof buf, QINS_ERR_RANGE, "folder name too long: %.60s...", dir);
    snprintf(buf, sizeof buf, "%s", dir);
    for (char *p = buf + 1;; p++) {
        const char c = *p;
        if (c == '/' || c == 0) {
            *p = 0;
            struct stat s;
            if (mkdir(buf, 0777) != 0 && errno != EEXIST) {
                qins_log(QINS_LOG_ERROR, "cannot create folder %s: %s", buf, strerror(errno));
                return QINS_ERR_IO;
            }
            if (stat(buf, &s) != 0 || !S_ISDIR(s.st_mode)) {
                qins_log(QINS_LOG_ERROR, "cannot create folder %s: a file of that name is in the way", buf);
                return QINS_ERR_IO;
            }
            *p = c;
        }
        if (c == 0) break;
    }
    return 0;
}

int qins_copy_file(const char *src, const char *dst) {
    char tmp[4200];
    QINS_TRY(qins_format(tmp, sizeof tmp, "%s.tmp", dst));
    FILE *in = fopen(src, "rb");
    QINS_CHECK(in, QINS_ERR_IO, "cannot open %s: %s", src, strerror(errno));
    FILE *out = fopen(tmp, "wb");
    if (!out) {
        fclose(in);
        QINS_CHECK(0, QINS_ERR_IO, "cannot create %s: %s", tmp, strerror(errno));
    }
    char buf[1 << 16];
    size_t n;
    int ok = 1;
    while (ok && (n = fread(buf, 1, sizeof buf, in)) > 0) ok = fwrite(buf, 1, n, out) == n;
    ok = ok && !ferror(in);
    fclose(in);
    ok = fclose(out) == 0 && ok;
    if (!ok || rename(tmp, dst) != 0) {
        remove(tmp);
        QINS_CHECK(0, QINS_ERR_IO, "copying %s to %s failed: %s", src, dst, strerror(errno));
    }
    return 0;
}

int qins_vformat(char *out, size_t cap, const char *fmt, va_list ap) {
    const int n = vsnprintf(out, cap, fmt, ap);
    QINS_CHECK(n >= 0 && (size_t)n < cap, QINS_ERR_RANGE, "text '%.40s...' longer than %zu bytes", out, cap - 1);
    return 0;
}

int qins_format(char *out, size_t cap, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    const int st = qins_vformat(out, cap, fmt, ap);
    va_end(ap);
    return st;
}
