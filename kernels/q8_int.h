// kernels/q8_int.h — Q8_0 GEMV with integer products. The FP32 Q8_0 dot (kernels/matmul.h)
// spends per 32 weights two sign extensions, two int→float conversions and three FMAs, which
// on AVX-512 keeps it compute-bound at about 60 % of one core's read bandwidth. Here x is
// rounded once per GEMV to a block-scaled integer q (|q| ≤ 2^22 - 1 per 32-column block, so
// |x - d_x·q| ≤ d_x/2 = 2^-23 of the block's max |x|), held as three int8 digits
// q = d2·65536 + d1·256 + d0. The weights' int8 codes then multiply q exactly in int32 with
// AVX-512 VNNI (vpdpbusd: 64 byte products per instruction, the weights read once as unsigned
// w + 128 with the bias 128·Σq taken back out); only the per-block scales d_w·d_x are floating
// point. The sums are exact where the FP32 dot rounds, so the only new error is the rounding
// of x, far inside QINS_MATMUL_REL_TOL (tests/test_q8_int.c).
//
// Owns: the prepared form of x (qins_q8x), its scalar reference dot and the AVX-512 VNNI dot.
// Does not own: the dispatch (kernels/cpu/matmul.c decides when this path runs). Errors: out
// of memory on prepare (QINS_ERR_NOMEM, not logged: the caller falls back to the FP32 dot).
#pragma once
#include <stddef.h>
#include <stdint.h>

#define QINS_Q8X_QMAX 4194303 // 2^22 - 1: 4 products of |w| ≤ 128 by |q| ≤ QMAX fit an int32 lane

// x prepared for integer Q8_0 dots; every array is in lane order: lane l covers columns 4l..4l+3,
// so the 16 lanes of a 512-bit register cover two 32-column blocks.
struct qins_q8x {
    int cols;         // a multiple of 32
    int8_t *digit[3]; // digit[k][c]: the k-th base-256 digit of q_c, balanced into [-128, 127]
    uint32_t *corr;   // per lane: 128·Σq over its 4 columns, modulo 2^32
    float *dx;        // per lane: its block's scale d_x (NaN when the block holds a NaN or an infinity)
    void *mem;        // the one allocation behind the arrays
};

// Rounds x (cols floats, cols % 32 == 0) into p. Returns 0, or QINS_ERR_NOMEM (nothing to free).
int qins_q8x_prepare(struct qins_q8x *p, const float *x, int cols);
void qins_q8x_free(struct qins_q8x *p);

// One Q8_0 row (p->cols weights) · the prepared x. The reference sums each block exactly in
// 64-bit integers and adds (d_w·d_x)·sum in FP32 block by block; the VNNI kernel makes the same
// integer sums (in 4-column lanes) and adds the scaled lanes in a different FP32 order.
float qins_q8x_dot_ref(const uint8_t *row, const struct qins_q8x *p);
float qins_q8x_dot_avx512vnni(const uint8_t *row, const struct qins_q8x *p);
// y[0..3] = the dots of the four rows at w, w + stride, w + 2·stride, w + 3·stride: digits loaded
// once for all four, each row exactly qins_q8x_dot_avx512vnni's arithmetic (the same bits).
void qins_q8x_dot4_avx512vnni(const uint8_t *w, size_t stride, const struct qins_q8x *p, float *y);
