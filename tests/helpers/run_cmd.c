// tests/helpers/run_cmd.c — popen with stderr merged, for tests that drive the binaries.
#include "run_cmd.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <sys/wait.h>

int test_run_cmd(const char *cmd, char *out, size_t cap) {
    char full[4096];
    snprintf(full, sizeof full, "%s 2>&1", cmd);
    FILE *p = popen(full, "r");
    cr_assert(p);
    size_t n = fread(out, 1, cap - 1, p);
    out[n] = 0;
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}
