// core/common.c — default log sink, status names, timing.
#include "common.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static qins_log_fn log_fn;
static void *log_user;
static int log_level = QINS_LOG_INFO;
static _Thread_local char last_error[1024];

static void default_sink(int level, const char *msg, void *user) {
    (void)user;
    static const char *names[] = {"error", "warning", "info", "debug"};
    fprintf(stderr, "qins: %s: %s\n", names[level < 0 ? 0 : level > 3 ? 3 : level], msg);
}

void qins_log_set(qins_log_fn fn, void *user) {
    log_fn = fn;
    log_user = user;
}

void qins_log_set_level(int level) { log_level = level; }

int qins_log_get_level(void) { return log_level; }

static void vlog(int level, const char *fmt, va_list ap) {
    char buf[1024];
    vsnprintf(buf, sizeof buf, fmt, ap);
    if (level == QINS_LOG_ERROR) snprintf(last_error, sizeof last_error, "%s", buf);
    if (level > log_level) return;
    (log_fn ? log_fn : default_sink)(level, buf, log_user);
}

void qins_log(int level, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vlog(level, fmt, ap);
    va_end(ap);
}

void qins_log_error_at(const char *file, int line, const char *func, const char *fmt, ...) {
    char msg[900];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    qins_log(QINS_LOG_DEBUG, "%s:%d: in %s", file, line, func);
    qins_log(QINS_LOG_ERROR, "%s", msg);
}

const char *qins_last_error(void) { return last_error; }

void qins_last_error_clear(void) { last_error[0] = 0; }

const char *qins_status_str(int status) {
    switch (status) {
    case QINS_OK: return "ok";
    case QINS_ERR_IO: return "I/O error";
    case QINS_ERR_FORMAT: return "malformed input";
    case QINS_ERR_UNSUPPORTED: return "unsupported";
    case QINS_ERR_NOMEM: return "out of memory";
    case QINS_ERR_ARG: return "bad argument";
    case QINS_ERR_RANGE: return "out of range";
    case QINS_ERR_NUMERIC: return "numerical error";
    case QINS_ERR_STATE: return "bad state";
    default: return "unknown error";
    }
}

double qins_time_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void *qins_alloc_aligned(size_t n) {
    void *p = NULL;
    if (posix_memalign(&p, 64, n ? n : 64) != 0) return NULL;
    return p;
}
