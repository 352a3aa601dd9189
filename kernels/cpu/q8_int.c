// kernels/cpu/q8_int.c — the prepared x of kernels/q8_int.h and the scalar reference dot.
#include "q8_int.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "matmul.h"

// Balanced base-256 digits of q (|q| ≤ QINS_Q8X_QMAX): d0, d1 in [-128, 127], d2 in [-64, 64].
static void digits(int32_t q, int8_t *d0, int8_t *d1, int8_t *d2) {
    const int32_t lo = ((q & 255) ^ 128) - 128;
    const int32_t r = (q - lo) / 256;
    const int32_t mid = ((r & 255) ^ 128) - 128;
    *d0 = (int8_t)lo, *d1 = (int8_t)mid, *d2 = (int8_t)((r - mid) / 256);
}

int qins_q8x_prepare(struct qins_q8x *p, const float *x, int cols) {
    memset(p, 0, sizeof *p);
    const size_t n = (size_t)cols, lanes = n / 4;
    // digits (3 planes), then corr and dx per lane; each plane a multiple of 64 bytes apart
    const size_t plane = (n + 63) & ~(size_t)63, lane_bytes = (lanes * 4 + 63) & ~(size_t)63;
    uint8_t *mem = qins_alloc_aligned(3 * plane + 2 * lane_bytes);
    if (!mem) return QINS_ERR_NOMEM;
    p->cols = cols, p->mem = mem;
    for (int k = 0; k < 3; k++) p->digit[k] = (int8_t *)(mem + k * plane);
    p->corr = (uint32_t *)(mem + 3 * plane);
    p->dx = (float *)(mem + 3 * plane + lane_bytes);
    for (int b = 0; b < cols / QINS_Q8_0_BLOCK; b++) {
        const float *xb = x + (size_t)b * QINS_Q8_0_BLOCK;
        float amax = 0;
        int finite = 1;
        for (int i = 0; i < QINS_Q8_0_BLOCK; i++) {
            finite &= isfinite(xb[i]) != 0;
            amax = fmaxf(amax, fabsf(xb[i]));
        }
        // a NaN or an infinity makes the block's scale NaN, so every dot that reads it is NaN,
        // as the FP32 dot would be (the harness's NaN checks see it), never a silent zero
        const float d = !finite ? NAN : amax > 0 ? amax / QINS_Q8X_QMAX : 0.0f;
        // in double: QMAX / amax overflows a float for blocks below about 1e-32
        const double inv = finite && amax > 0 ? QINS_Q8X_QMAX / (double)amax : 0.0;
        uint32_t lane_sum = 0;
        for (int i = 0; i < QINS_Q8_0_BLOCK; i++) {
            long q = lrint(xb[i] * inv);
            q = q > QINS_Q8X_QMAX ? QINS_Q8X_QMAX : q < -QINS_Q8X_QMAX ? -QINS_Q8X_QMAX : q;
            const size_t c = (size_t)b * QINS_Q8_0_BLOCK + i;
            digits((int32_t)q, &p->digit[0][c], &p->digit[1][c], &p->digit[2][c]);
            lane_sum += (uint32_t)q; // modulo 2^32, as the kernel's lanes are
            if (i % 4 == 3) {
                p->corr[c / 4] = 128u * lane_sum;
                p->dx[c / 4] = d;
                lane_sum = 0;
            }
        }
    }
    return 0;
}

void qins_q8x_free(struct qins_q8x *p) {
    free(p->mem);
    memset(p, 0, sizeof *p);
}

float qins_q8x_dot_ref(const uint8_t *row, const struct qins_q8x *p) {
    float s = 0;
    for (int b = 0; b < p->cols / QINS_Q8_0_BLOCK; b++) {
        const uint8_t *blk = row + (size_t)b * (2 + QINS_Q8_0_BLOCK);
        uint16_t dh;
        memcpy(&dh, blk, 2);
        int64_t t = 0;
        for (int i = 0; i < QINS_Q8_0_BLOCK; i++) {
            const size_t c = (size_t)b * QINS_Q8_0_BLOCK + i;
            const int64_t q = (int64_t)p->digit[2][c] * 65536 + (int64_t)p->digit[1][c] * 256 + p->digit[0][c];
            t += (int8_t)blk[2 + i] * q;
        }
        s += (float)t * (qins_fp16_to_f32(dh) * p->dx[(size_t)b * QINS_Q8_0_BLOCK / 4]);
    }
    return s;
}
