// core/util.h — the small helpers every module would otherwise write again: a doubling
// realloc, one growable array, the median, a comma-list splitter, `mkdir -p` and a printf-style
// path builder. Owns nothing beyond the memory it hands back. Errors: negative qins_status
// (QINS_ERR_NOMEM, QINS_ERR_IO) with one log line; the splitter returns the callback's status.
#pragma once
#include <stdbool.h>
#include <stdarg.h>
#include <stddef.h>

// Grows *p (elem bytes per item, *cap items) so that it holds at least need items, doubling
// from 16. *p and *cap change only on success. Returns 0 or QINS_ERR_NOMEM (logged).
int qins_grow(void *pp, size_t *cap, size_t need, size_t elem);

// A growable array of fixed-size items. Zero-initialise (`struct qins_vec v = QINS_VEC(T)`),
// push, read v.data as T*, qins_vec_free when done.
struct qins_vec {
    void *data;
    size_t n, cap, elem;
};
#define QINS_VEC(type) ((struct qins_vec){NULL, 0, 0, sizeof(type)})
// Appends a zeroed item and returns a pointer to it (valid until the next push), or NULL
// when out of memory (logged).
void *qins_vec_push(struct qins_vec *v);
// Appends a copy of item. Returns 0 or QINS_ERR_NOMEM.
int qins_vec_append(struct qins_vec *v, const void *item);
void qins_vec_free(struct qins_vec *v);

// Median of n values, sorting x in place (NaN last; even n: mean of the two middle values).
// Returns NaN when n == 0.
double qins_median_inplace(double *x, size_t n);
// Median of n values without touching x (copies; NaN when out of memory or n == 0).
double qins_median(const double *x, size_t n);
// qsort comparator for doubles: a total order with NaN after every number.
int qins_cmp_double(const void *a, const void *b);
// qsort comparator for int64_t.
int qins_cmp_int64(const void *a, const void *b);

// Calls fn(item, index, user) on each comma-separated item of list, trimmed of blanks. A blank
// list has no items; an empty item inside a list ("a,,b") is passed as "" so the caller can
// reject it. Stops at and returns the first non-zero result of fn (QINS_ERR_NOMEM when an item
// cannot be copied); returns 0 when every call returned 0. *count (may be NULL) receives the
// number of items visited.
typedef int (*qins_item_fn)(const char *item, size_t index, void *user);
int qins_split_list(const char *list, qins_item_fn fn, void *user, size_t *count);

// Creates dir and its missing parents (mode 0777 less umask). Returns 0 or QINS_ERR_IO naming
// the folder that could not be made.
int qins_mkdir_p(const char *dir);

// Copies src to dst (written under dst.tmp, then renamed: never a partial dst). Returns 0 or
// QINS_ERR_IO naming the file.
int qins_copy_file(const char *src, const char *dst);

// snprintf into out that reports truncation: returns 0, or QINS_ERR_RANGE (logged) when the
// text did not fit in cap bytes.
int qins_format(char *out, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
// The same with a va_list (for printf-style wrappers).
int qins_vformat(char *out, size_t cap, const char *fmt, va_list ap) __attribute__((format(printf, 3, 0)));
