// tests/helpers/test_io.h — small I/O the suites share: reading a whole file, and capturing
// qins_log lines so a test can check that an error is exactly one line naming its cause.
#pragma once

// Reads path into a NUL-terminated malloc'd string; its length into *size unless size is NULL
// (a Criterion failure when it cannot).
#include <stddef.h>
char *test_read_file(const char *path, size_t *size);
// The warnings and errors logged since the last test_log_capture, one per line.
extern char test_log[8192];
// Clears test_log and routes qins_log into it (use as a TestSuite's .init).
void test_log_capture(void);
