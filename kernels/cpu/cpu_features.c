// kernels/cpu/cpu_features.c — CPUID/XGETBV feature detection (kernels/cpu_features.h).
#include "cpu_features.h"

#include <stdio.h>
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>

static unsigned long long xgetbv0(void) {
    unsigned lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((unsigned long long)hi << 32) | lo;
}

static void detect(struct qins_cpu_features *f) {
    unsigned a, b, c, d, max;
    memset(f, 0, sizeof *f);
    if (!__get_cpuid(0, &max, &b, &c, &d)) return;
    memcpy(f->vendor, &b, 4), memcpy(f->vendor + 4, &d, 4), memcpy(f->vendor + 8, &c, 4);
    unsigned ext = __get_cpuid_max(0x80000000u, NULL);
    if (ext >= 0x80000004u) {
        unsigned r[12];
        for (unsigned i = 0; i < 3; i++) __get_cpuid(0x80000002u + i, &r[4 * i], &r[4 * i + 1], &r[4 * i + 2], &r[4 * i + 3]);
        char s[49];
        memcpy(s, r, 48);
        s[48] = 0;
        const char *p = s;
        while (*p == ' ') p++;
        snprintf(f->model, sizeof f->model, "%s", p);
        for (size_t n = strlen(f->model); n && f->model[n - 1] == ' '; n--) f->model[n - 1] = 0;
    }
    __get_cpuid(1, &a, &b, &c, &d);
    const bool osxsave = (c >> 27) & 1;
    const unsigned long long xcr0 = osxsave ? xgetbv0() : 0;
    const bool ymm = (xcr0 & 0x6) == 0x6, zmm = (xcr0 & 0xe6) == 0xe6; // XMM|YMM; + opmask, ZMM_Hi256, Hi16_ZMM
    f->avx = ymm && ((c >> 28) & 1);
    f->fma = f->avx && ((c >> 12) & 1);
    f->f16c = f->avx && ((c >> 29) & 1);
    if (max >= 7) {
        unsigned a7, b7, c7, d7;
        __cpuid_count(7, 0, a7, b7, c7, d7);
        f->avx2 = f->avx && ((b7 >> 5) & 1);
        f->avx512f = zmm && ((b7 >> 16) & 1);
        f->avx512bw = f->avx512f && ((b7 >> 30) & 1);
        f->avx512vl = f->avx512f && ((b7 >> 31) & 1);
        f->avx512vbmi = f->avx512f && ((c7 >> 1) & 1);
        f->avx512vnni = f->avx512f && ((c7 >> 11) & 1);
        if (a7 >= 1) {
            unsigned a71, b71, c71, d71;
            __cpuid_count(7, 1, a71, b71, c71, d71);
            f->avx512_bf16 = f->avx512f && ((a71 >> 5) & 1);
        }
    }
}
#else
static void detect(struct qins_cpu_features *f) { memset(f, 0, sizeof *f); }
#endif

void qins_cpu_features_get(struct qins_cpu_features *f) {
    static struct qins_cpu_features cached;
    static int done = 0;
    if (!done) {
        detect(&cached);
        done = 1;
    }
    *f = cached;
}

char *qins_cpu_features_str(const struct qins_cpu_features *f, char *out, size_t cap) {
    const struct { bool on; const char *name; } v[] = {
        {f->avx, "avx"}, {f->avx2, "avx2"}, {f->fma, "fma"}, {f->f16c, "f16c"}, {f->avx512f, "avx512f"},
        {f->avx512bw, "avx512bw"}, {f->avx512vl, "avx512vl"}, {f->avx512_bf16, "avx512_bf16"},
        {f->avx512vbmi, "avx512vbmi"}, {f->avx512vnni, "avx512vnni"}};
    size_t len = 0;
    if (cap) out[0] = 0;
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++)
        if (v[i].on && len < cap) len += (size_t)snprintf(out + len, cap - len, "%s%s", len ? " " : "", v[i].name);
    return out;
}

// Cached itself: the dispatchers ask once per kernel call (per attention chunk, per GEMV).
int qins_cpu_simd_level(void) {
    static int level = -1;
    if (level < 0) {
        struct qins_cpu_features f;
        qins_cpu_features_get(&f);
        level = !(f.avx2 && f.fma && f.f16c) ? 0 : f.avx512f && f.avx512bw && f.avx512vl ? 2 : 1;
    }
    return level;
}
