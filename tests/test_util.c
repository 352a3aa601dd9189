// tests/test_util.c — the shared helpers: growth, the vector, median, list splitting, mkdir -p.
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common.h"
#include "util.h"

Test(util, grow_doubles_and_keeps_contents) {
    int *p = NULL;
    size_t cap = 0;
    cr_assert_eq(qins_grow(&p, &cap, 1, sizeof *p), 0);
    cr_assert_eq(cap, 16);
    for (int i = 0; i < 16; i++) p[i] = i;
    cr_assert_eq(qins_grow(&p, &cap, 17, sizeof *p), 0);
    cr_assert_eq(cap, 32);
    for (int i = 0; i < 16; i++) cr_assert_eq(p[i], i);
    cr_assert_eq(qins_grow(&p, &cap, 5, sizeof *p), 0, "no shrink");
    cr_assert_eq(cap, 32);
    cr_assert_eq(qins_grow(&p, &cap, SIZE_MAX / 2, 8), QINS_ERR_NOMEM, "overflow refused");
    cr_assert_eq(cap, 32, "cap unchanged on failure");
    free(p);
}

Test(util, vec_push_append) {
    struct qins_vec v = QINS_VEC(double);
    for (int i = 0; i < 100; i++) {
        double x = i * 0.5;
        cr_assert_eq(qins_vec_append(&v, &x), 0);
    }
    double *z = qins_vec_push(&v);
    cr_assert(z && *z == 0.0, "push gives a zeroed item");
    cr_assert_eq(v.n, 101);
    cr_assert_float_eq(((double *)v.data)[99], 49.5, 0);
    qins_vec_free(&v);
    cr_assert_eq(v.n, 0);
    cr_assert_null(v.data);
}

Test(util, median_odd_even_nan_last) {
    double a[] = {5, 1, 3};
    cr_assert_float_eq(qins_median(a, 3), 3, 0);
    cr_assert_float_eq(a[0], 5, 0, "qins_median leaves x alone");
    double b[] = {4, 1, 3, 2};
    cr_assert_float_eq(qins_median_inplace(b, 4), 2.5, 0);
    double c[] = {NAN, 1, 2};
    cr_assert_float_eq(qins_median_inplace(c, 3), 2, 0, "NaN sorts last");
    cr_assert(isnan(c[2]));
    cr_assert(isnan(qins_median(a, 0)));
}

struct collected {
    char items[8][256];
    size_t n;
};
static int collect(const char *item, size_t i, void *user) {
    struct collected *c = user;
    cr_assert_eq(i, c->n, "indices count visited items");
    if (!strcmp(item, "stop")) return 7;
    snprintf(c->items[c->n++], 256, "%s", item);
    return 0;
}

Test(util, split_trims_and_passes_empty_items) {
    struct collected c = {0};
    size_t n;
    cr_assert_eq(qins_split_list(" a, b ,,\tc ", collect, &c, &n), 0);
    cr_assert_eq(n, 4);
    cr_assert_str_eq(c.items[0], "a");
    cr_assert_str_eq(c.items[1], "b");
    cr_assert_str_eq(c.items[2], "", "an empty item is passed on, for the caller to reject");
    cr_assert_str_eq(c.items[3], "c");
    struct collected d = {0};
    cr_assert_eq(qins_split_list("", collect, &d, &n), 0);
    cr_assert_eq(n, 0);
    cr_assert_eq(qins_split_list("  \t", collect, &d, &n), 0);
    cr_assert_eq(n, 0, "a blank list has no items");
    cr_assert_eq(qins_split_list("x,", collect, &d, &n), 0);
    cr_assert_eq(n, 2, "a trailing comma is an empty last item");
}

static int collect_len(const char *item, size_t i, void *user) {
    (void)i;
    ((struct collected *)user)->n = strlen(item);
    return 0;
}

Test(util, split_stops_at_first_nonzero) {
    struct collected c = {0};
    size_t n;
    cr_assert_eq(qins_split_list("x,stop,y", collect, &c, &n), 7);
    cr_assert_eq(c.n, 1);
    struct collected d = {0};
    char long_item[400];
    memset(long_item, 'z', sizeof long_item - 1);
    long_item[sizeof long_item - 1] = 0;
    cr_assert_eq(qins_split_list(long_item, collect_len, &d, NULL), 0, "long items are copied whole");
    cr_assert_eq(d.n, 399);
}

Test(util, mkdir_p_nested_and_blocked) {
    char base[] = "/tmp/qins_util_XXXXXX", path[256], file[256];
    cr_assert_not_null(mkdtemp(base));
    snprintf(path, sizeof path, "%s/a/b/c", base);
    cr_assert_eq(qins_mkdir_p(path), 0);
    struct stat s;
    cr_assert(stat(path, &s) == 0 && S_ISDIR(s.st_mode));
    cr_assert_eq(qins_mkdir_p(path), 0, "existing folder is fine");
    snprintf(file, sizeof file, "%s/f", base);
    FILE *f = fopen(file, "w");
    cr_assert_not_null(f);
    fclose(f);
    snprintf(path, sizeof path, "%s/f/g", base);
    cr_assert_eq(qins_mkdir_p(path), QINS_ERR_IO, "a file in the way is an error");
}

Test(util, format_reports_truncation) {
    char s[8];
    cr_assert_eq(qins_format(s, sizeof s, "%d", 1234567), 0);
    cr_assert_eq(qins_format(s, sizeof s, "%d", 12345678), QINS_ERR_RANGE);
}
