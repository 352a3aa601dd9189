// tests/helpers/test_io.c — see test_io.h.
#include "test_io.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"

char test_log[8192];

static void capture(int level, const char *msg, void *user) {
    (void)user;
    if (level > QINS_LOG_WARN) return;
    strncat(test_log, msg, sizeof test_log - strlen(test_log) - 2);
    strcat(test_log, "\n");
}

void test_log_capture(void) {
    test_log[0] = 0;
    qins_log_set(capture, NULL);
}

char *test_read_file(const char *path, size_t *size) {
    FILE *f = fopen(path, "rb");
    cr_assert(f, "cannot open %s", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = malloc((size_t)n + 1);
    cr_assert_not_null(s);
    cr_assert_eq(fread(s, 1, (size_t)n, f), (size_t)n);
    s[n] = 0;
    fclose(f);
    if (size) *size = (size_t)n;
    return s;
}
