// kernels/attn.h — scaled dot-product attention of one query row per head over a run of cached
// positions, for n_kv consecutive KV heads and the G query heads that share each of them
// (GQA/MQA; G = 1 without grouping): a scalar reference and an AVX2/FMA path chosen at run time. Owns no state and does no
// threading (callers split work items across threads). No errors: sizes are the caller's.
#pragma once
#include <stddef.h>

// Query heads one caller's work item should cover at most (scores scratch of this many rows).
#define QINS_ATTN_BLOCK_Q 32

// For KV head h < n_kv and query head g < G, with i = h*G + g:
//   out[i*D ..] = sum_j softmax_j(scale * q_i . k_j,h) * v_j,h over positions j < n, where
//   q      (n_kv*G, D)   query rows, contiguous
//   k, v   (n, stride)   row j holds KV head h's D values at h*D (stride >= n_kv*D floats)
//   scores (n_kv*G, n)   scratch
//   out    (n_kv*G, D)
// Two passes over K/V rows: dots, then max/exp/sum on the scores, then the weighted sum of V.
// Each head's result does not depend on n_kv (how heads are blocked). n >= 1. The reference
// computes in the order core/forward.c always has (expf, float sums).
void qins_attn_rows_ref(const float *q, int n_kv, int G, const float *k, const float *v, size_t stride, int n, int D, float scale,
                        float *scores, float *out);
void qins_attn_rows_avx2(const float *q, int n_kv, int G, const float *k, const float *v, size_t stride, int n, int D, float scale,
                         float *scores, float *out);
void qins_attn_rows(const float *q, int n_kv, int G, const float *k, const float *v, size_t stride, int n, int D, float scale,
                    float *scores, float *out);
// Forces the dispatcher onto the scalar path (0) or back to auto (1). Returns nothing.
void qins_attn_set_simd(int enable);
// Returns 1 when the AVX2/FMA path is available on this CPU (and enabled), else 0.
int qins_attn_have_avx2(void);
