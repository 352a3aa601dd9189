// core/codec.h — number codecs over 2-D row-major float blocks: FP32/FP16/BF16 storage, uniform
// INT-k, NormalFloat-k, QINS (rational) and QINS-log, with per-tensor/row/column/group scales.
// Owns: code definitions, scales, the encoded byte layout, exact sizes, LUTs, the QINS counters.
// Does not own: page framing (core/page.h), entropy coding (core/huffman.h), bit packing
// (kernels/pack.h). Errors: negative qins_status (ARG, RANGE, NUMERIC, FORMAT) + a log line.
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "common.h"

// Encoded layout of one block (rows x cols), all little-endian, no padding:
//   scales : n_groups x FP16   (lossy codecs only; the group's range, see below)
//   extra  : n_groups x FP16   (QINS_LOG only: log2 range R in octaves)
//   codes  : rows*cols codes of k bits, row-major, LSB-first bit stream (kernels/pack.h)
// FP32/FP16/BF16 store the raw little-endian values only (codes = the 16-bit patterns).
//
// Lossy decode is x = lut[code] * scale[group], lut in units of the group scale:
//   INT  (k bits): Q = 2^(k-1)-1, code = clamp(round(x/s*Q), -Q, Q) + Q, lut[c] = (c-Q)/Q.
//        |x - x^| <= s/Q/2 with s the FP16 scale (rounded up from absmax, so no clipping).
//        Code 2^k-1 is never written; it decodes to (Q+1)/Q (finite).
//   NF   (k bits): QLoRA NormalFloat generalised to k bits: 2^(k-1) positive and 2^(k-1)-1
//        negative standard-normal quantiles plus an exact 0, normalised to [-1,1]; nearest entry.
//   QINS (k bits): z = sign(u)/(1 + alpha*|u|), u = x/s (so the effective alpha is alpha/s);
//        M = 2^k-1 codes on the grid z_c = 2c/M - 1 (the seed's 8-bit round((z+1)*127.5)).
//        Sign boundary: codes < 2^(k-1) are negative, >= 2^(k-1) positive; the code is chosen
//        from sign and |z| separately, so rounding never flips the sign, and x = 0 (also -0)
//        maps to |z| = 1 (codes 0 / 2^k-1, which decode to exactly -0 / 0). z = 0 is not on the
//        grid (M is odd): the codes nearest zero are z = +-1/M and decode to +-(M-1)/alpha
//        times the scale, the largest finite magnitude, so decode never yields Inf or NaN.
//        Error for |u| <= 1 (ABSMAX): |x - x^| <= s / (M * alpha * (1/(1+alpha) - 1/M)^2).
//   QINS_LOG (k bits): sign bit (bit k-1) + magnitude index m (k-1 bits), L = 2^(k-1)-1 levels:
//        m = L is exact zero, m < L decodes to |u| = 2^(-m * R/(L-1)), R = the group's log2
//        range (octaves between absmax and the smallest non-zero |x|, capped at 24), stored FP16.
//        Large magnitudes get small m: the "inverse" log code, mirroring QINS.
// Scales: ABSMAX: s = absmax of the group; RMS: s = RMS for QINS (no clipping: its codes cover
// all reals) and s = clip * RMS for INT/NF/QINS_LOG (values beyond are clipped). Each s is
// rounded up to the next FP16 value; a group of zeros gets s = 0 and decodes to zeros.

enum qins_codec_kind {
    QINS_CODEC_FP32 = 0,
    QINS_CODEC_FP16,
    QINS_CODEC_BF16,
    QINS_CODEC_INT,
    QINS_CODEC_NF,
    QINS_CODEC_QINS,
    QINS_CODEC_QINS_LOG,
    QINS_CODEC_COUNT
};

// Which elements share one scale. On a (rows x cols) block:
//   PER_TENSOR: one scale (a KV page "per page"); PER_ROW: one per row (per token / per output
//   row of a weight); PER_COLUMN: one per column (per channel); PER_GROUP: groups of group_size
//   consecutive values along each row (the last group of a row may be shorter).
enum qins_granularity {
    QINS_GRAN_PER_TENSOR = 0,
    QINS_GRAN_PER_ROW,
    QINS_GRAN_PER_COLUMN,
    QINS_GRAN_PER_GROUP,
};

enum qins_scale_mode { QINS_SCALE_ABSMAX = 0, QINS_SCALE_RMS };

struct qins_codec_params {
    enum qins_codec_kind codec;
    int bits;                          // k: 2..12 (QINS_LOG 3..12); 32/16/16 for FP32/FP16/BF16
    float alpha;                       // QINS only, relative to the scale; 1e-3..1e6
    enum qins_granularity granularity;
    int group_size;                    // PER_GROUP only: G >= 1
    enum qins_scale_mode scale_mode;
    float clip;                        // INT/NF/QINS_LOG with RMS scales: range = clip * RMS (0 -> 4)
};

#define QINS_CODEC_MAX_BITS 12
#define QINS_CODEC_DEFAULT_ALPHA 1.0f
#define QINS_CODEC_DEFAULT_GROUP 64
#define QINS_CODEC_DEFAULT_CLIP 4.0f

// Fills defaults: FP32, per tensor, ABSMAX, alpha 1, group 64. Returns nothing.
void qins_codec_params_default(struct qins_codec_params *p);
// Parses a short name: fp32 fp16 bf16 int<k> nf<k> qins<k> qinslog<k> (k = 2..12; "qins-log8"
// also accepted). Sets codec and bits only; other fields keep their values (call _default first).
// Returns 0 or QINS_ERR_ARG.
int qins_codec_parse(const char *spec, struct qins_codec_params *out);
// Writes the short name ("qins8", "fp16", ...) into buf. Returns buf ("?" on a bad codec).
const char *qins_codec_name(const struct qins_codec_params *p, char *buf, size_t cap);
// Parses/names a granularity: "tensor" (or "page"), "row" (or "token"), "column" (or "channel"),
// "group<G>" / "g<G>". Returns 0 or QINS_ERR_ARG.
int qins_codec_parse_granularity(const char *spec, struct qins_codec_params *out);
const char *qins_codec_granularity_name(const struct qins_codec_params *p, char *buf, size_t cap);
// Checks every field for this codec. Returns 0 or QINS_ERR_ARG with a message.
int qins_codec_validate(const struct qins_codec_params *p);
// Returns 1 for INT/NF/QINS/QINS_LOG (scaled, k-bit codes), 0 for the float formats.
int qins_codec_is_lossy(const struct qins_codec_params *p);

// Returns the number of scale groups of a rows x cols block (0 for the float formats).
size_t qins_codec_n_groups(const struct qins_codec_params *p, size_t rows, size_t cols);
// Returns the group index of element (r, c).
size_t qins_codec_group_of(const struct qins_codec_params *p, size_t rows, size_t cols, size_t r, size_t c);
// Returns the exact encoded size in bytes (codes bit-packed + FP16 scales + per-group extra),
// or 0 when the params are invalid.
size_t qins_codec_encoded_bytes(const struct qins_codec_params *p, size_t rows, size_t cols);
// Returns the bits of one code: k for lossy codecs, 32/16/16 for the float formats.
int qins_codec_code_bits(const struct qins_codec_params *p);

// Encodes x (rows x cols, row-major) into out; out_cap must be >= encoded_bytes. NaN/Inf input
// -> QINS_ERR_NUMERIC; a scale or FP16 value beyond 65504 -> QINS_ERR_RANGE. Returns 0 or < 0.
int qins_codec_encode(const struct qins_codec_params *p, const float *x, size_t rows, size_t cols,
                      uint8_t *out, size_t out_cap);
// Decodes in (exactly encoded_bytes long) into x (rows x cols). Non-finite or negative stored
// scales -> QINS_ERR_FORMAT; codes never produce NaN/Inf. Returns 0 or < 0.
int qins_codec_decode(const struct qins_codec_params *p, const uint8_t *in, size_t in_len, size_t rows,
                      size_t cols, float *x);

// ---- the unpacked form: codes, scales and extras as arrays (for entropy/Huffman and kernels)
// Quantizes x into codes (rows*cols), scales (n_groups, FP16-representable) and extra (n_groups,
// QINS_LOG only, may be NULL otherwise). Float formats: codes = raw bit patterns (FP16/BF16;
// FP32 is rejected with QINS_ERR_UNSUPPORTED), scales unused. Returns 0 or < 0.
int qins_codec_quantize(const struct qins_codec_params *p, const float *x, size_t rows, size_t cols,
                        uint16_t *codes, float *scales, float *extra);
// Inverse of quantize. Returns 0 or < 0.
int qins_codec_dequantize(const struct qins_codec_params *p, const uint16_t *codes, const float *scales,
                          const float *extra, size_t rows, size_t cols, float *x);
// Extracts the codes of an encoded block (codes has rows*cols entries). Returns 0 or < 0.
int qins_codec_unpack_codes(const struct qins_codec_params *p, const uint8_t *in, size_t in_len,
                            size_t rows, size_t cols, uint16_t *codes);
// Writes the value of one code given its group's scale and extra into *out. Returns 0 or < 0.
int qins_codec_code_value(const struct qins_codec_params *p, uint32_t code, float scale, float extra,
                          float *out);
// Fills lut[0 .. 2^k) with the code values in units of the scale (INT/NF/QINS). For QINS_LOG
// the table depends on the group's R: pass it as extra. Returns 0 or < 0.
int qins_codec_lut(const struct qins_codec_params *p, float extra, float *lut);
// Returns the code that decodes to exactly +0 (for sparsity statistics), or -1 for FP32.
int qins_codec_zero_code(const struct qins_codec_params *p);

// ---- counters: elements encoded/decoded by the QINS codecs (QINS and QINS_LOG), all threads.
struct qins_codec_counters {
    uint64_t encode_calls, decode_calls;  // encode/quantize and decode/dequantize calls
    uint64_t encoded_elems, decoded_elems;
};
// Copies the current counters into *out. Returns nothing.
void qins_codec_counters_get(struct qins_codec_counters *out);
// Sets every counter to zero. Returns nothing.
void qins_codec_counters_reset(void);
