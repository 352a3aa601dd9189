// kernels/cuda/fused.cu — fused decode->multiply-accumulate on the GPU (see kernels/fused_cuda.h).
// GEMV: a block's warps split a row's columns (1024 per warp), so each lane keeps its 32 inputs
// in registers across all the rows the block visits; codes are read as aligned 32-bit words
// (one word holds whole codes at k = 4, 8; three at k = 6) and decoded through a LUT copied once
// per lane in shared memory (no bank conflicts on the random lookups). Shapes that do not fit
// those words (odd k, rows not word-aligned such as 172 columns at k = 4) take a warp-per-row
// kernel reading codes byte-wise. GEMM: a block owns 32 rows and the whole batch, decodes each
// 32x32 tile once into shared memory and uses it for every token. Attention: flash-decoding,
// blocks over (chunk of positions, KV head), codes decoded in registers, partials merged after.
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <math.h>
#include <stdio.h>

extern "C" {
#include "codec.h"
#include "common.h"
#include "page.h"
}
#include "codec_cuda.h"
#include "fused_cuda.h"

// ---- device helpers

// Bytes allocated past every code stream: the byte-wise reader may read one byte beyond the
// last code, the word reader up to a word.
#define PAD_BYTES 16

// Code i of a k-bit LSB-first stream (k <= 8: it spans at most two bytes).
__device__ __forceinline__ uint32_t code_at(const uint8_t *__restrict__ c, size_t i, int k) {
    const size_t bit = i * (size_t)k;
    const uint32_t v = (uint32_t)c[bit >> 3] | ((uint32_t)c[(bit >> 3) + 1] << 8);
    return (v >> (bit & 7)) & ((1u << k) - 1);
}

// Scale group of element (r, c), as qins_codec_group_of.
__device__ __forceinline__ size_t group_of(int gran, size_t gpr, int G, size_t r, size_t c) {
    switch (gran) {
    case QINS_GRAN_PER_TENSOR: return 0;
    case QINS_GRAN_PER_ROW: return r;
    case QINS_GRAN_PER_COLUMN: return c;
    default: return r * gpr + c / (size_t)G;
    }
}

// FP16 scale g of a stream whose scales may sit at an odd address (KV pages).
__device__ __forceinline__ float scale_at(const uint8_t *__restrict__ s, size_t g) {
    return __half2float(__ushort_as_half((unsigned short)(s[2 * g] | (s[2 * g + 1] << 8))));
}

__device__ __forceinline__ float warp_sum(float v) {
    for (int o = 16; o; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

// Code j (compile-time) of a unit of words w: the shifts fold to constants.
template <int K>
__device__ __forceinline__ uint32_t unit_code(const uint32_t *w, int j) {
    const int bit = j * K, wi = bit >> 5, sh = bit & 31;
    uint32_t v = w[wi] >> sh;
    if (sh + K > 32) v |= w[wi + 1] << (32 - sh);
    return v & ((1u << K) - 1);
}

// Word units per k: CPU codes in UW words; each lane takes UPL units = 32 codes per row.
template <int K> struct unit_cfg;
template <> struct unit_cfg<4> { static const int CPU = 8, UW = 1, UPL = 4; };
template <> struct unit_cfg<6> { static const int CPU = 16, UW = 3, UPL = 2; };
template <> struct unit_cfg<8> { static const int CPU = 4, UW = 1, UPL = 8; };

struct dweight {
    int k, gran, G;
    size_t rows, cols, ng, gpr;
    const uint8_t *scales; // ng FP16, as encoded
    const uint8_t *codes;  // packed codes, as encoded, 256-byte aligned, PAD_BYTES after
    const float *lut;      // 2^k
};

// ---- GEMV, word path. Block: W = ceil(cols/1024) warps; R rows per step for loads in flight.
template <int K, int R>
__global__ static void __launch_bounds__(512) gemv_words(dweight w, const float *__restrict__ x, float *__restrict__ y) {
    typedef unit_cfg<K> C;
    __shared__ float lut_s[(1 << K) * 32];
    __shared__ float red[2][R][16];
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, W = blockDim.x >> 5;
    for (int i = threadIdx.x; i < (1 << K) * 32; i += blockDim.x) lut_s[i] = w.lut[i >> 5];
    const size_t U = w.cols / C::CPU; // units per row
    float xr[C::UPL][C::CPU];
    size_t unit[C::UPL];
#pragma unroll
    for (int i = 0; i < C::UPL; i++) {
        unit[i] = (size_t)warp * 32 * C::UPL + lane + 32 * i;
#pragma unroll
        for (int j = 0; j < C::CPU; j += 4) {
            float4 v = unit[i] < U ? *(const float4 *)(x + unit[i] * C::CPU + j) : make_float4(0, 0, 0, 0);
            xr[i][j] = v.x, xr[i][j + 1] = v.y, xr[i][j + 2] = v.z, xr[i][j + 3] = v.w;
        }
    }
    __syncthreads();
    const uint32_t *codes = (const uint32_t *)w.codes;
    const bool grouped = w.gran == QINS_GRAN_PER_GROUP;
    int buf = 0;
    for (size_t r0 = (size_t)blockIdx.x * R; r0 < w.rows; r0 += (size_t)gridDim.x * R, buf ^= 1) {
        uint32_t wv[R][C::UPL][C::UW];
#pragma unroll
        for (int rr = 0; rr < R; rr++)
#pragma unroll
            for (int i = 0; i < C::UPL; i++)
#pragma unroll
                for (int u = 0; u < C::UW; u++)
                    wv[rr][i][u] = (r0 + rr < w.rows && unit[i] < U)
                                       ? __ldg(codes + ((r0 + rr) * U + unit[i]) * C::UW + u) : 0u;
        float acc[R];
#pragma unroll
        for (int rr = 0; rr < R; rr++) {
            acc[rr] = 0;
#pragma unroll
            for (int i = 0; i < C::UPL; i++) {
                float part = 0;
#pragma unroll
                for (int j = 0; j < C::CPU; j++) part = fmaf(lut_s[unit_code<K>(wv[rr][i], j) * 32 + lane], xr[i][j], part);
                if (grouped && unit[i] < U && r0 + rr < w.rows)
                    part *= scale_at(w.scales, (r0 + rr) * w.gpr + unit[i] * C::CPU / w.G);
                acc[rr] += part;
            }
            acc[rr] = warp_sum(acc[rr]);
        }
        if (lane == 0)
#pragma unroll
            for (int rr = 0; rr < R; rr++) red[buf][rr][warp] = acc[rr];
        __syncthreads(); // red is double-buffered: the next step writes the other half
        if (threadIdx.x < R && r0 + threadIdx.x < w.rows) {
            const size_t r = r0 + threadIdx.x;
            float s = 0;
            for (int i = 0; i < W; i++) s += red[buf][threadIdx.x][i];
            if (!grouped) s *= scale_at(w.scales, w.gran == QINS_GRAN_PER_ROW ? r : 0);
            y[r] = s;
        }
    }
}

// ---- GEMV, any shape: a warp per row, codes read byte-wise, one scale per element.
__global__ static void __launch_bounds__(256) gemv_any(dweight w, const float *__restrict__ x, float *__restrict__ y) {
    __shared__ float lut_s[256];
    for (int i = threadIdx.x; i < (1 << w.k); i += blockDim.x) lut_s[i] = w.lut[i];
    __syncthreads();
    const int lane = threadIdx.x & 31, wpb = blockDim.x >> 5;
    for (size_t r = (size_t)blockIdx.x * wpb + (threadIdx.x >> 5); r < w.rows; r += (size_t)gridDim.x * wpb) {
        float acc = 0;
        for (size_t c = lane; c < w.cols; c += 32)
            acc = fmaf(lut_s[code_at(w.codes, r * w.cols + c, w.k)] *
                           scale_at(w.scales, group_of(w.gran, w.gpr, w.G, r, c)), x[c], acc);
        acc = warp_sum(acc);
        if (lane == 0) y[r] = acc;
    }
}

// ---- GEMM: block = 256 threads, 32 rows x all tokens; thread (rg = warp, tg = lane) owns rows
// rg*4..+4 and tokens tg + 32j (j < TT). Per 32-column step: decode the 32x32 tile (4 codes a
// thread), stage the batch's 32 columns, then every token uses the decoded tile.
#define GEMM_BR 32
#define GEMM_BK 32
template <int TT>
__global__ static void __launch_bounds__(256) gemm_tile(dweight w, const float *__restrict__ x, size_t batch,
                                                        float *__restrict__ y) {
    __shared__ float lut_s[256];
    __shared__ __align__(16) float ws[GEMM_BK][GEMM_BR];
    __shared__ float xs[32 * TT][GEMM_BK + 1];
    for (int i = threadIdx.x; i < (1 << w.k); i += blockDim.x) lut_s[i] = w.lut[i];
    const int t = threadIdx.x, lane = t & 31, rg = t >> 5;
    const size_t r0 = (size_t)blockIdx.x * GEMM_BR;
    float acc[4][TT];
#pragma unroll
    for (int i = 0; i < 4; i++)
#pragma unroll
        for (int j = 0; j < TT; j++) acc[i][j] = 0;
    __syncthreads();
    for (size_t c0 = 0; c0 < w.cols; c0 += GEMM_BK) {
        {
            const int rl = t >> 3, cl = (t & 7) * 4;
            const size_t r = r0 + rl;
#pragma unroll
            for (int e = 0; e < 4; e++) {
                const size_t c = c0 + cl + e;
                ws[cl + e][rl] = (r < w.rows && c < w.cols)
                                     ? lut_s[code_at(w.codes, r * w.cols + c, w.k)] *
                                           scale_at(w.scales, group_of(w.gran, w.gpr, w.G, r, c))
                                     : 0.0f;
            }
        }
        for (int i = t; i < 32 * TT * GEMM_BK; i += 256) {
            const int tok = i / GEMM_BK, kk = i % GEMM_BK;
            const size_t c = c0 + kk;
            xs[tok][kk] = ((size_t)tok < batch && c < w.cols) ? x[(size_t)tok * w.cols + c] : 0.0f;
        }
        __syncthreads();
#pragma unroll 8
        for (int kk = 0; kk < GEMM_BK; kk++) {
            const float4 wv = *(const float4 *)&ws[kk][rg * 4];
#pragma unroll
            for (int j = 0; j < TT; j++) {
                const float xv = xs[lane + 32 * j][kk];
                acc[0][j] = fmaf(wv.x, xv, acc[0][j]);
                acc[1][j] = fmaf(wv.y, xv, acc[1][j]);
                acc[2][j] = fmaf(wv.z, xv, acc[2][j]);
                acc[3][j] = fmaf(wv.w, xv, acc[3][j]);
            }
        }
        __syncthreads();
    }
#pragma unroll
    for (int j = 0; j < TT; j++) {
        const size_t tok = lane + 32 * j;
#pragma unroll
        for (int i = 0; i < 4; i++) {
            const size_t r = r0 + rg * 4 + i;
            if (tok < batch && r < w.rows) y[tok * w.rows + r] = acc[i][j];
        }
    }
}

// ---- attention over coded pages
struct dstream {
    int k, gran, G, P, n_pages;
    size_t ng, gpr, stride; // groups per page, groups per page row, bytes per page (header included)
    const uint8_t *pages;   // PAD_BYTES after the last page
    const float *fill;
    const float *lut;
};
struct dattn {
    dstream ks, vs;
    int n_kv, Gq, D, kv_dim, n, n_chunks;
    float scale;
};
#define ATTN_CHUNK 32
#define ATTN_WARPS 4

// The value of (position j, column col) of a stream: decoded code or FP32 fill.
__device__ __forceinline__ float kv_value(const dstream &s, const float *lut_s, int kv_dim, int j, int col) {
    if (j < s.n_pages * s.P) {
        const int pg = j / s.P, row = j % s.P;
        const uint8_t *pay = s.pages + (size_t)pg * s.stride + QINS_PAGE_KV_HEADER_BYTES;
        const uint32_t c = code_at(pay + 2 * s.ng, (size_t)row * kv_dim + col, s.k);
        return lut_s[c] * scale_at(pay, group_of(s.gran, s.gpr, s.G, row, col));
    }
    return s.fill[(size_t)(j - s.n_pages * s.P) * kv_dim + col];
}

// Partials per (query head i, chunk): m, l, o[D] (flash-decoding split over positions).
template <int DPL>
__global__ static void __launch_bounds__(ATTN_WARPS * 32) attn_chunks(dattn a, const float *__restrict__ q,
                                                                        float *__restrict__ pm, float *__restrict__ pl,
                                                                        float *__restrict__ po) {
    __shared__ float lut_k[256], lut_v[256];
    __shared__ float sm[ATTN_WARPS][QINS_CUDA_ATTN_MAX_G], sl[ATTN_WARPS][QINS_CUDA_ATTN_MAX_G];
    __shared__ float so[ATTN_WARPS][QINS_CUDA_ATTN_MAX_G][DPL * 32];
    for (int i = threadIdx.x; i < 256; i += blockDim.x) {
        if (i < (1 << a.ks.k)) lut_k[i] = a.ks.lut[i];
        if (i < (1 << a.vs.k)) lut_v[i] = a.vs.lut[i];
    }
    __syncthreads();
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, chunk = blockIdx.x, h = blockIdx.y, G = a.Gq;
    float qr[QINS_CUDA_ATTN_MAX_G][DPL], o[QINS_CUDA_ATTN_MAX_G][DPL], m[QINS_CUDA_ATTN_MAX_G], l[QINS_CUDA_ATTN_MAX_G];
#pragma unroll
    for (int g = 0; g < QINS_CUDA_ATTN_MAX_G; g++) {
        m[g] = -INFINITY, l[g] = 0;
#pragma unroll
        for (int i = 0; i < DPL; i++) {
            const int d = lane + 32 * i;
            qr[g][i] = (g < G && d < a.D) ? q[(size_t)(h * G + g) * a.D + d] : 0.0f;
            o[g][i] = 0;
        }
    }
    const int j1 = min(a.n, (chunk + 1) * ATTN_CHUNK);
    for (int j = chunk * ATTN_CHUNK + warp; j < j1; j += ATTN_WARPS) {
        float kv[DPL], vv[DPL];
#pragma unroll
        for (int i = 0; i < DPL; i++) {
            const int d = lane + 32 * i;
            kv[i] = d < a.D ? kv_value(a.ks, lut_k, a.kv_dim, j, h * a.D + d) : 0.0f;
            vv[i] = d < a.D ? kv_value(a.vs, lut_v, a.kv_dim, j, h * a.D + d) : 0.0f;
        }
#pragma unroll
        for (int g = 0; g < QINS_CUDA_ATTN_MAX_G; g++) {
            if (g >= G) break;
            float s = 0;
#pragma unroll
            for (int i = 0; i < DPL; i++) s = fmaf(qr[g][i], kv[i], s);
            s = warp_sum(s) * a.scale;
            const float mn = fmaxf(m[g], s), corr = expf(m[g] - mn), p = expf(s - mn);
            l[g] = l[g] * corr + p;
#pragma unroll
            for (int i = 0; i < DPL; i++) o[g][i] = fmaf(p, vv[i], o[g][i] * corr);
            m[g] = mn;
        }
    }
#pragma unroll
    for (int g = 0; g < QINS_CUDA_ATTN_MAX_G; g++) {
        if (g >= G) break;
        if (lane == 0) sm[warp][g] = m[g], sl[warp][g] = l[g];
#pragma unroll
        for (int i = 0; i < DPL; i++) so[warp][g][lane + 32 * i] = o[g][i];
    }
    __syncthreads();
    // Merge the warps' partials: thread d of the block for every query head.
    for (int g = 0; g < G; g++) {
        float M = -INFINITY;
        for (int w = 0; w < ATTN_WARPS; w++) M = fmaxf(M, sm[w][g]);
        const size_t idx = (size_t)(h * G + g) * a.n_chunks + chunk;
        for (int d = threadIdx.x; d < a.D; d += blockDim.x) {
            float O = 0;
            for (int w = 0; w < ATTN_WARPS; w++)
                if (sm[w][g] > -INFINITY) O += so[w][g][d] * expf(sm[w][g] - M);
            po[idx * a.D + d] = O;
        }
        if (threadIdx.x == 0) {
            float L = 0;
            for (int w = 0; w < ATTN_WARPS; w++)
                if (sm[w][g] > -INFINITY) L += sl[w][g] * expf(sm[w][g] - M);
            pm[idx] = M, pl[idx] = L;
        }
    }
}

// out[i*D + d] = sum_c e^(m_c - M) o_c[d] / sum_c e^(m_c - M) l_c over the chunks. Block per head.
__global__ static void attn_merge(int n_chunks, int D, const float *__restrict__ pm, const float *__restrict__ pl,
                                  const float *__restrict__ po, float *__restrict__ out) {
    const size_t i = blockIdx.x;
    float M = -INFINITY, L = 0;
    for (int c = 0; c < n_chunks; c++) M = fmaxf(M, pm[i * n_chunks + c]);
    for (int c = 0; c < n_chunks; c++) L += pl[i * n_chunks + c] * expf(pm[i * n_chunks + c] - M);
    for (int d = threadIdx.x; d < D; d += blockDim.x) {
        float O = 0;
        for (int c = 0; c < n_chunks; c++) O += po[(i * n_chunks + c) * D + d] * expf(pm[i * n_chunks + c] - M);
        out[i * D + d] = O / L;
    }
}

// ---- host side
namespace {

// Device allocations of one call, freed together.
struct arena {
    void *p[16];
    int n = 0;
    ~arena() {
        for (int i = 0; i < n; i++) cudaFree(p[i]);
    }
    template <class T> int alloc(T **out, size_t bytes) {
        *out = NULL;
        QINS_CHECK(n < 16, QINS_ERR_STATE, "fused cuda: too many device buffers");
        cudaError_t e = cudaMalloc((void **)out, bytes ? bytes : 1);
        QINS_CHECK(e == cudaSuccess, QINS_ERR_NOMEM, "cudaMalloc of %zu bytes failed: %s", bytes, cudaGetErrorString(e));
        p[n++] = *out;
        return QINS_OK;
    }
    template <class T> int upload(T **out, const void *src, size_t bytes, size_t pad = 0) {
        QINS_TRY(alloc(out, bytes + pad));
        cudaError_t e = cudaMemcpy(*out, src, bytes, cudaMemcpyHostToDevice);
        if (e == cudaSuccess && pad) e = cudaMemset((char *)*out + bytes, 0, pad);
        QINS_CHECK(e == cudaSuccess, QINS_ERR_STATE, "upload of %zu bytes failed: %s", bytes, cudaGetErrorString(e));
        return QINS_OK;
    }
};

int cuda_ok(const char *what) {
    cudaError_t e = cudaGetLastError();
    if (e == cudaSuccess) e = cudaDeviceSynchronize();
    QINS_CHECK(e == cudaSuccess, QINS_ERR_STATE, "%s failed: %s", what, cudaGetErrorString(e));
    return QINS_OK;
}

int download(void *dst, const void *src, size_t bytes) {
    cudaError_t e = cudaMemcpy(dst, src, bytes, cudaMemcpyDeviceToHost);
    QINS_CHECK(e == cudaSuccess, QINS_ERR_STATE, "download of %zu bytes failed: %s", bytes, cudaGetErrorString(e));
    return QINS_OK;
}

int sm_count() {
    int dev = 0, n = 0;
    cudaGetDevice(&dev);
    cudaDeviceGetAttribute(&n, cudaDevAttrMultiProcessorCount, dev);
    return n > 0 ? n : 1;
}

// Codec, k and stored scales a kernel here can decode; builds the LUT.
int check_codec(const struct qins_codec_params *p, float *lut) {
    QINS_TRY(qins_codec_validate(p));
    QINS_CHECK(p->codec == QINS_CODEC_INT || p->codec == QINS_CODEC_NF || p->codec == QINS_CODEC_QINS,
               QINS_ERR_UNSUPPORTED, "fused cuda: codec %d has no LUT decode (INT, NF, QINS only)", (int)p->codec);
    QINS_CHECK(p->bits >= 2 && p->bits <= 8, QINS_ERR_UNSUPPORTED, "fused cuda: k = %d (2..8 supported)", p->bits);
    return qins_codec_lut(p, 0, lut);
}

int check_scales(const uint8_t *s, size_t ng) {
    for (size_t g = 0; g < ng; g++) {
        const float v = qins_fp16_to_f32((uint16_t)(s[2 * g] | (s[2 * g + 1] << 8)));
        QINS_CHECK(v >= 0 && v <= 65504.0f, QINS_ERR_FORMAT, "fused cuda: scale %zu is %g (corrupt block)", g, (double)v);
    }
    return QINS_OK;
}

int weight_upload(arena &A, const struct qins_codec_params *p, const uint8_t *enc, size_t enc_len, size_t rows,
                  size_t cols, dweight *w) {
    float lut[256];
    QINS_TRY(check_codec(p, lut));
    QINS_CHECK(rows > 0 && cols > 0 && enc_len == qins_codec_encoded_bytes(p, rows, cols), QINS_ERR_ARG,
               "fused cuda: %zu bytes for a %zu x %zu block (expected %zu)", enc_len, rows, cols,
               qins_codec_encoded_bytes(p, rows, cols));
    *w = dweight{};
    w->k = p->bits, w->gran = p->granularity, w->G = p->group_size > 0 ? p->group_size : 1;
    w->rows = rows, w->cols = cols, w->ng = qins_codec_n_groups(p, rows, cols);
    w->gpr = (cols + w->G - 1) / w->G;
    QINS_TRY(check_scales(enc, w->ng));
    uint8_t *s, *c;
    float *l;
    // Scales and codes in two allocations so the codes start word-aligned on the device.
    QINS_TRY(A.upload(&s, enc, 2 * w->ng, PAD_BYTES));
    QINS_TRY(A.upload(&c, enc + 2 * w->ng, enc_len - 2 * w->ng, PAD_BYTES));
    QINS_TRY(A.upload(&l, lut, sizeof(float) << p->bits));
    w->scales = s, w->codes = c, w->lut = l;
    return QINS_OK;
}

double weight_bytes(const dweight &w) { return (double)(2 * w.ng) + (double)((w.rows * w.cols * w.k + 7) / 8); }

typedef void gemv_fn(dweight, const float *, float *);

// The word kernel for this shape, its warps per block, or NULL (byte-wise kernel).
gemv_fn *gemv_pick(const dweight &w, int *threads) {
    int cpu = w.k == 4 ? 8 : w.k == 8 ? 4 : w.k == 6 ? 16 : 0;
    if (!cpu || (w.cols * w.k) % (32 * (w.k == 6 ? 3 : 1)) != 0 || w.cols > 16 * 1024 ||
        w.gran == QINS_GRAN_PER_COLUMN || (w.gran == QINS_GRAN_PER_GROUP && w.G % cpu != 0))
        return NULL;
    *threads = (int)((w.cols + 1023) / 1024) * 32;
    const bool few = w.rows < 4 * (size_t)sm_count(); // small matrices: one row a step, more blocks
    if (w.k == 4) return few ? gemv_words<4, 1> : gemv_words<4, 4>;
    if (w.k == 6) return few ? gemv_words<6, 1> : gemv_words<6, 4>;
    return few ? gemv_words<8, 1> : gemv_words<8, 4>;
}

int gemv_launch(const dweight &w, const float *dx, float *dy) {
    int threads = 0;
    gemv_fn *f = gemv_pick(w, &threads);
    if (f) {
        const int R = w.rows < 4 * (size_t)sm_count() ? 1 : 4;
        int per_sm = 1;
        cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, f, threads, 0);
        size_t blocks = (w.rows + R - 1) / R, cap = (size_t)sm_count() * (per_sm > 0 ? per_sm : 1);
        f<<<(unsigned)(blocks < cap ? blocks : cap), threads>>>(w, dx, dy);
    } else {
        size_t blocks = (w.rows + 7) / 8, cap = (size_t)sm_count() * 8;
        gemv_any<<<(unsigned)(blocks < cap ? blocks : cap), 256>>>(w, dx, dy);
    }
    return QINS_OK;
}

int gemm_launch(const dweight &w, const float *dx, size_t batch, float *dy) {
    const unsigned blocks = (unsigned)((w.rows + GEMM_BR - 1) / GEMM_BR);
    if (batch <= 32) gemm_tile<1><<<blocks, 256>>>(w, dx, batch, dy);
    else if (batch <= 64) gemm_tile<2><<<blocks, 256>>>(w, dx, batch, dy);
    else if (batch <= 128) gemm_tile<4><<<blocks, 256>>>(w, dx, batch, dy);
    else gemm_tile<8><<<blocks, 256>>>(w, dx, batch, dy);
    return QINS_OK;
}

// L2 flush and copy roofline for the benchmarks.
struct bench_ctx {
    arena A;
    char *flush = NULL;
    size_t flush_bytes = 0;
    cudaEvent_t t0 = NULL, t1 = NULL;
    ~bench_ctx() {
        if (t0) cudaEventDestroy(t0);
        if (t1) cudaEventDestroy(t1);
    }
    int init() {
        int dev = 0, l2 = 0;
        cudaGetDevice(&dev);
        cudaDeviceGetAttribute(&l2, cudaDevAttrL2CacheSize, dev);
        flush_bytes = 2 * (size_t)(l2 > 0 ? l2 : 64 << 20);
        QINS_TRY(A.alloc(&flush, flush_bytes));
        QINS_CHECK(cudaEventCreate(&t0) == cudaSuccess && cudaEventCreate(&t1) == cudaSuccess, QINS_ERR_STATE,
                   "cudaEventCreate failed");
        return QINS_OK;
    }
    // Best time in seconds of reps launches (after one warm-up), L2 cleared before each.
    template <class F> int best(F launch, int reps, double *sec) {
        float best_ms = 1e30f, ms = 0;
        for (int r = 0; r <= reps; r++) {
            cudaMemsetAsync(flush, r & 0xff, flush_bytes);
            cudaEventRecord(t0);
            launch();
            cudaEventRecord(t1);
            cudaEventSynchronize(t1);
            cudaEventElapsedTime(&ms, t0, t1);
            if (r > 0 && ms < best_ms) best_ms = ms;
        }
        QINS_TRY(cuda_ok("timed launch"));
        *sec = best_ms * 1e-3;
        return QINS_OK;
    }
    int finish(double bytes, double flops, double sec, int reps, struct qins_cuda_timing *t) {
        const size_t half = (size_t)bytes / 2 > flush_bytes ? (size_t)bytes / 2 : flush_bytes;
        char *a, *b;
        QINS_TRY(A.alloc(&a, half));
        QINS_TRY(A.alloc(&b, half));
        double csec;
        QINS_TRY(best([&] { cudaMemcpyAsync(b, a, half, cudaMemcpyDeviceToDevice); }, reps, &csec));
        t->seconds = sec, t->bytes = bytes, t->gbps = bytes / sec / 1e9;
        t->copy_gbps = 2.0 * (double)half / csec / 1e9;
        t->frac = t->gbps / t->copy_gbps, t->gflops = flops / sec / 1e9;
        return QINS_OK;
    }
};

int attn_upload_stream(arena &A, const struct qins_cuda_kv_stream *s, int kv_dim, dstream *d, float *lut) {
    QINS_TRY(check_codec(&s->p, lut));
    QINS_CHECK(s->page_tokens >= 1 && s->n_pages >= 0 && s->n_fill >= 0 && (s->n_pages == 0 || s->pages) &&
                   (s->n_fill == 0 || s->fill),
               QINS_ERR_ARG, "fused cuda attention: bad stream (%d pages of %d tokens, %d fill)", s->n_pages,
               s->page_tokens, s->n_fill);
    *d = dstream{};
    d->k = s->p.bits, d->gran = s->p.granularity, d->G = s->p.group_size > 0 ? s->p.group_size : 1;
    d->P = s->page_tokens, d->n_pages = s->n_pages;
    d->ng = qins_codec_n_groups(&s->p, (size_t)s->page_tokens, (size_t)kv_dim);
    d->gpr = ((size_t)kv_dim + d->G - 1) / d->G;
    const size_t payload = qins_codec_encoded_bytes(&s->p, (size_t)s->page_tokens, (size_t)kv_dim);
    d->stride = QINS_PAGE_KV_HEADER_BYTES + payload;
    for (int pg = 0; pg < s->n_pages; pg++) {
        const uint8_t *pay;
        size_t len;
        QINS_TRY(qins_page_kv_check(s->pages + (size_t)pg * d->stride, d->stride, &s->p, (size_t)s->page_tokens,
                                    (size_t)kv_dim, "fused cuda attention", pg, &pay, &len));
        QINS_TRY(check_scales(pay, d->ng));
    }
    uint8_t *pages;
    float *fill, *l;
    QINS_TRY(A.upload(&pages, s->pages, (size_t)s->n_pages * d->stride, PAD_BYTES));
    QINS_TRY(A.upload(&fill, s->fill, (size_t)s->n_fill * kv_dim * sizeof(float)));
    QINS_TRY(A.upload(&l, lut, sizeof(float) << s->p.bits));
    d->pages = pages, d->fill = fill, d->lut = l;
    return QINS_OK;
}

struct attn_dev {
    dattn a;
    const float *q;
    float *pm, *pl, *po, *out;
    double bytes;
};

int attn_setup(arena &A, const struct qins_cuda_kv_stream *k, const struct qins_cuda_kv_stream *v, int n_kv, int G,
               int D, float scale, const float *q, attn_dev *x) {
    QINS_CHECK(n_kv >= 1 && G >= 1 && G <= QINS_CUDA_ATTN_MAX_G && D >= 1 && D <= QINS_CUDA_ATTN_MAX_D, QINS_ERR_ARG,
               "fused cuda attention: n_kv %d, G %d, D %d out of range", n_kv, G, D);
    const int kv_dim = n_kv * D, n = k->n_pages * k->page_tokens + k->n_fill;
    QINS_CHECK(n >= 1 && n == v->n_pages * v->page_tokens + v->n_fill, QINS_ERR_ARG,
               "fused cuda attention: K holds %d positions, V %d", n, v->n_pages * v->page_tokens + v->n_fill);
    float lk[256], lv[256];
    x->a = dattn{};
    QINS_TRY(attn_upload_stream(A, k, kv_dim, &x->a.ks, lk));
    QINS_TRY(attn_upload_stream(A, v, kv_dim, &x->a.vs, lv));
    x->a.n_kv = n_kv, x->a.Gq = G, x->a.D = D, x->a.kv_dim = kv_dim, x->a.n = n, x->a.scale = scale;
    x->a.n_chunks = (n + ATTN_CHUNK - 1) / ATTN_CHUNK;
    const size_t heads = (size_t)n_kv * G, parts = heads * x->a.n_chunks;
    float *dq;
    QINS_TRY(A.upload(&dq, q, heads * D * sizeof(float)));
    x->q = dq;
    QINS_TRY(A.alloc(&x->pm, parts * sizeof(float)));
    QINS_TRY(A.alloc(&x->pl, parts * sizeof(float)));
    QINS_TRY(A.alloc(&x->po, parts * D * sizeof(float)));
    QINS_TRY(A.alloc(&x->out, heads * D * sizeof(float)));
    x->bytes = (double)k->n_pages * x->a.ks.stride + (double)v->n_pages * x->a.vs.stride +
               (double)(k->n_fill + v->n_fill) * kv_dim * 4 + 2.0 * heads * D * 4;
    return QINS_OK;
}

int attn_launch(const attn_dev &x) {
    const dim3 grid((unsigned)x.a.n_chunks, (unsigned)x.a.n_kv);
    const int dpl = (x.a.D + 31) / 32;
    if (dpl == 1) attn_chunks<1><<<grid, ATTN_WARPS * 32>>>(x.a, x.q, x.pm, x.pl, x.po);
    else if (dpl == 2) attn_chunks<2><<<grid, ATTN_WARPS * 32>>>(x.a, x.q, x.pm, x.pl, x.po);
    else if (dpl == 3) attn_chunks<3><<<grid, ATTN_WARPS * 32>>>(x.a, x.q, x.pm, x.pl, x.po);
    else if (dpl == 4) attn_chunks<4><<<grid, ATTN_WARPS * 32>>>(x.a, x.q, x.pm, x.pl, x.po);
    else attn_chunks<8><<<grid, ATTN_WARPS * 32>>>(x.a, x.q, x.pm, x.pl, x.po);
    attn_merge<<<(unsigned)(x.a.n_kv * x.a.Gq), 128>>>(x.a.n_chunks, x.a.D, x.pm, x.pl, x.po, x.out);
    return QINS_OK;
}

} // namespace

// ---- the C API

extern "C" int qins_cuda_device_name(char *buf, size_t cap) {
    QINS_TRY(qins_cuda_device_count());
    int dev = 0;
    cudaDeviceProp pr;
    cudaGetDevice(&dev);
    QINS_CHECK(cudaGetDeviceProperties(&pr, dev) == cudaSuccess, QINS_ERR_STATE, "cudaGetDeviceProperties failed");
    snprintf(buf, cap, "%s, sm_%d%d, %d SMs, %.1f GiB, L2 %.1f MiB", pr.name, pr.major, pr.minor,
             pr.multiProcessorCount, (double)pr.totalGlobalMem / (1 << 30), (double)pr.l2CacheSize / (1 << 20));
    return QINS_OK;
}

extern "C" int qins_cuda_fused_gemv(const struct qins_codec_params *p, const uint8_t *enc, size_t enc_len,
                                    size_t rows, size_t cols, const float *x, float *y) {
    QINS_TRY(qins_cuda_device_count());
    arena A;
    dweight w;
    float *dx, *dy;
    QINS_TRY(weight_upload(A, p, enc, enc_len, rows, cols, &w));
    QINS_TRY(A.upload(&dx, x, cols * sizeof(float), PAD_BYTES));
    QINS_TRY(A.alloc(&dy, rows * sizeof(float)));
    QINS_TRY(gemv_launch(w, dx, dy));
    QINS_TRY(cuda_ok("fused gemv"));
    return download(y, dy, rows * sizeof(float));
}

extern "C" int qins_cuda_fused_gemm(const struct qins_codec_params *p, const uint8_t *enc, size_t enc_len,
                                    size_t rows, size_t cols, const float *x, size_t batch, float *y) {
    QINS_CHECK(batch >= 1 && batch <= QINS_CUDA_GEMM_MAX_BATCH, QINS_ERR_ARG, "fused gemm: batch %zu (1..%d)", batch,
               QINS_CUDA_GEMM_MAX_BATCH);
    QINS_TRY(qins_cuda_device_count());
    arena A;
    dweight w;
    float *dx, *dy;
    QINS_TRY(weight_upload(A, p, enc, enc_len, rows, cols, &w));
    QINS_TRY(A.upload(&dx, x, batch * cols * sizeof(float)));
    QINS_TRY(A.alloc(&dy, batch * rows * sizeof(float)));
    QINS_TRY(gemm_launch(w, dx, batch, dy));
    QINS_TRY(cuda_ok("fused gemm"));
    return download(y, dy, batch * rows * sizeof(float));
}

extern "C" int qins_cuda_fused_attn(const struct qins_cuda_kv_stream *k, const struct qins_cuda_kv_stream *v, int n_kv,
                                    int G, int D, float scale, const float *q, float *out) {
    QINS_TRY(qins_cuda_device_count());
    arena A;
    attn_dev x;
    QINS_TRY(attn_setup(A, k, v, n_kv, G, D, scale, q, &x));
    QINS_TRY(attn_launch(x));
    QINS_TRY(cuda_ok("fused attention"));
    return download(out, x.out, (size_t)n_kv * G * D * sizeof(float));
}

extern "C" int qins_cuda_fused_gemv_bench(const struct qins_codec_params *p, const uint8_t *enc, size_t enc_len,
                                          size_t rows, size_t cols, const float *x, float *y, int reps,
                                          struct qins_cuda_timing *t) {
    QINS_CHECK(reps >= 1, QINS_ERR_ARG, "bench: reps %d", reps);
    QINS_TRY(qins_cuda_device_count());
    bench_ctx B;
    dweight w;
    float *dx, *dy;
    double sec;
    QINS_TRY(B.init());
    QINS_TRY(weight_upload(B.A, p, enc, enc_len, rows, cols, &w));
    QINS_TRY(B.A.upload(&dx, x, cols * sizeof(float), PAD_BYTES));
    QINS_TRY(B.A.alloc(&dy, rows * sizeof(float)));
    QINS_TRY(B.best([&] { gemv_launch(w, dx, dy); }, reps, &sec));
    QINS_TRY(download(y, dy, rows * sizeof(float)));
    return B.finish(weight_bytes(w) + 4.0 * (rows + cols), 2.0 * rows * cols, sec, reps, t);
}

extern "C" int qins_cuda_fused_gemm_bench(const struct qins_codec_params *p, const uint8_t *enc, size_t enc_len,
                                          size_t rows, size_t cols, const float *x, size_t batch, float *y, int reps,
                                          struct qins_cuda_timing *t) {
    QINS_CHECK(reps >= 1 && batch >= 1 && batch <= QINS_CUDA_GEMM_MAX_BATCH, QINS_ERR_ARG, "bench: reps %d batch %zu",
               reps, batch);
    QINS_TRY(qins_cuda_device_count());
    bench_ctx B;
    dweight w;
    float *dx, *dy;
    double sec;
    QINS_TRY(B.init());
    QINS_TRY(weight_upload(B.A, p, enc, enc_len, rows, cols, &w));
    QINS_TRY(B.A.upload(&dx, x, batch * cols * sizeof(float)));
    QINS_TRY(B.A.alloc(&dy, batch * rows * sizeof(float)));
    QINS_TRY(B.best([&] { gemm_launch(w, dx, batch, dy); }, reps, &sec));
    QINS_TRY(download(y, dy, batch * rows * sizeof(float)));
    return B.finish(weight_bytes(w) + 4.0 * batch * (rows + cols), 2.0 * batch * rows * cols, sec, reps, t);
}

extern "C" int qins_cuda_fused_attn_bench(const struct qins_cuda_kv_stream *k, const struct qins_cuda_kv_stream *v,
                                          int n_kv, int G, int D, float scale, const float *q, float *out, int reps,
                                          struct qins_cuda_timing *t) {
    QINS_CHECK(reps >= 1, QINS_ERR_ARG, "bench: reps %d", reps);
    QINS_TRY(qins_cuda_device_count());
    bench_ctx B;
    attn_dev x;
    double sec;
    QINS_TRY(B.init());
    QINS_TRY(attn_setup(B.A, k, v, n_kv, G, D, scale, q, &x));
    QINS_TRY(B.best([&] { attn_launch(x); }, reps, &sec));
    QINS_TRY(download(out, x.out, (size_t)n_kv * G * D * sizeof(float)));
    return B.finish(x.bytes, 4.0 * n_kv * G * D * (double)x.a.n, sec, reps, t);
}
