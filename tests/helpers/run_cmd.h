// tests/helpers/run_cmd.h — running a command from a test and reading what it printed.
#pragma once
#include <stddef.h>

// Runs cmd through the shell with stderr merged into stdout; copies the output into out
// (NUL-terminated, truncated to cap-1). Returns the exit status, or -1 if it did not exit normally.
int test_run_cmd(const char *cmd, char *out, size_t cap);
