// core/progress.c — progress bar on stderr, TTY only.
#include "progress.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common.h"

void qins_progress_init(struct qins_progress *p, const char *label, uint64_t total, const char *unit) {
    memset(p, 0, sizeof *p);
    snprintf(p->label, sizeof p->label, "%s", label ? label : "");
    p->unit = unit ? unit : "it";
    p->total = total;
    p->t0 = qins_time_now();
    const char *env = getenv("QINS_PROGRESS");
    p->enabled = isatty(STDERR_FILENO) && !(env && !strcmp(env, "0"));
}

static void fmt_duration(double s, char *buf, size_t cap) {
    if (!(s >= 0) || s > 360000) {
        snprintf(buf, cap, "--:--");
        return;
    }
    long t = (long)(s + 0.5);
    if (t >= 3600) snprintf(buf, cap, "%ld:%02ld:%02ld", t / 3600, t / 60 % 60, t % 60);
    else snprintf(buf, cap, "%02ld:%02ld", t / 60, t % 60);
}

size_t qins_progress_format(const struct qins_progress *p, double elapsed, char *buf, size_t cap) {
    double rate = elapsed > 0 ? (double)p->done / elapsed : 0;
    char el[48], eta[48];
    fmt_duration(elapsed, el, sizeof el);
    int n;
    if (p->total) {
        enum { W = 30 };
        char bar[W + 1];
        uint64_t done = p->done > p->total ? p->total : p->done;
        size_t fill = (size_t)((double)W * (double)done / (double)p->total);
        for (size_t i = 0; i < W; i++) bar[i] = i < fill ? '#' : '.';
        bar[W] = 0;
        fmt_duration(rate > 0 ? (double)(p->total - done) / rate : -1, eta, sizeof eta);
        n = snprintf(buf, cap, "%s [%s] %llu/%llu %s %.1f %s/s elapsed %s ETA %s", p->label, bar,
                     (unsigned long long)p->done, (unsigned long long)p->total, p->unit, rate, p->unit, el,
                     eta);
    } else {
        n = snprintf(buf, cap, "%s %llu %s %.1f %s/s elapsed %s", p->label, (unsigned long long)p->done,
                     p->unit, rate, p->unit, el);
    }
    return n < 0 ? 0 : (size_t)n < cap ? (size_t)n : cap - 1;
}

static void draw(struct qins_progress *p, double now) {
    char line[256];
    qins_progress_format(p, now - p->t0, line, sizeof line);
    fprintf(stderr, "\r%s\033[K", line); // \033[K clears what a longer previous line left
    fflush(stderr);
    p->last_draw = now;
}

void qins_progress_update(struct qins_progress *p, uint64_t done) {
    p->done = done;
    if (!p->enabled) return;
    double now = qins_time_now();
    if (now - p->last_draw >= 0.1) draw(p, now);
}

void qins_progress_finish(struct qins_progress *p) {
    if (!p->enabled) return;
    draw(p, qins_time_now());
    fputc('\n', stderr);
    p->enabled = false;
}
