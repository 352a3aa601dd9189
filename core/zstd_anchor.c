// core/zstd_anchor.c — zstd compressed sizes and speeds (core/zstd_anchor.h).
#include "zstd_anchor.h"

#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#include "common.h"

static int check_level(int level) {
    QINS_CHECK(level >= 1 && level <= 19, QINS_ERR_ARG, "zstd: level %d outside 1..19", level);
    return 0;
}

int qins_zstd_compress(const void *src, size_t n, int level, void **dst, size_t *len) {
    *dst = NULL; // callers free it on every path
    QINS_TRY(check_level(level));
    const size_t cap = ZSTD_compressBound(n);
    *dst = malloc(cap ? cap : 1);
    QINS_CHECK(*dst, QINS_ERR_NOMEM, "zstd: out of memory for a %zu-byte frame", cap);
    *len = ZSTD_compress(*dst, cap, src, n, level);
    if (ZSTD_isError(*len)) {
        free(*dst);
        *dst = NULL;
        QINS_CHECK(0, QINS_ERR_STATE, "zstd: compressing %zu bytes at level %d: %s", n, level, ZSTD_getErrorName(*len));
    }
    return 0;
}

int qins_zstd_size(const void *src, size_t n, int level, size_t *out_bytes) {
    void *dst;
    QINS_TRY(qins_zstd_compress(src, n, level, &dst, out_bytes));
    free(dst);
    return 0;
}

int qins_zstd_decompress(const void *frame, size_t len, void *dst, size_t n) {
    const size_t got = ZSTD_decompress(dst, n, frame, len);
    QINS_CHECK(!ZSTD_isError(got), QINS_ERR_FORMAT, "zstd: decompressing a %zu-byte frame: %s", len,
               ZSTD_getErrorName(got));
    QINS_CHECK(got == n, QINS_ERR_FORMAT, "zstd: a %zu-byte frame holds %zu bytes, expected %zu", len, got, n);
    return 0;
}

int qins_zstd_measure(const void *src, size_t n, int level, int reps, struct qins_zstd_result *out) {
    memset(out, 0, sizeof *out);
    QINS_CHECK(reps >= 1, QINS_ERR_ARG, "zstd: %d repetitions", reps);
    void *frame = NULL;
    size_t len = 0;
    const double t0 = qins_time_now();
    QINS_TRY(qins_zstd_compress(src, n, level, &frame, &len));
    out->compress_s = qins_time_now() - t0;
    void *back = malloc(n ? n : 1);
    if (!back) {
        free(frame);
        QINS_CHECK(0, QINS_ERR_NOMEM, "zstd: out of memory for %zu bytes", n);
    }
    int st = 0;
    for (int r = 0; r < reps && st == 0; r++) {
        const double t1 = qins_time_now();
        st = qins_zstd_decompress(frame, len, back, n);
        const double dt = qins_time_now() - t1;
        if (st < 0) break;
        if (memcmp(back, src, n)) {
            qins_log(QINS_LOG_ERROR, "zstd: the round trip of %zu bytes at level %d does not reproduce the input", n, level);
            st = QINS_ERR_STATE;
        } else if (r == 0 || dt < out->decompress_s) {
            out->decompress_s = dt;
        }
    }
    free(back);
    free(frame);
    if (st < 0) return st;
    out->level = level, out->in_bytes = n, out->out_bytes = len;
    return 0;
}
