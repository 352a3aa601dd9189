// core/transport.h — weight transport into the QINS domain (Pattern B): V = D(W' E(x) + b') on
// one linear slot; the transports none/literal/jacobian/lstsq fitted in FP64 from calibration
// statistics (core/calib.h), their diagnostics, and decode-operation accounting from shapes.
// Owns: transported weights, the runtime (codec-stored W') it installs on a slot. Does not own:
// the model's FP32 weights or the calibration data. Errors: negative qins_status + a log line.
#pragma once
#include <stdbool.h>
#include <stdint.h>

#include "calib.h"
#include "codec.h"
#include "model.h"

// Encoding with per-channel scales (a = alpha, s_j input scale, t_i output scale):
//   E_j(x) = sign(x) / (1 + a|x/s_j|)          (input channel j; sign(-0) = -1 as in core/codec)
//   E^out_i(y) = sign(y) / (1 + a|y/t_i|)      (the target of the fit on output channel i)
//   D_i(z) = t_i (1 - |z|) / (a z)              (inverse of E^out_i for |z| <= 1; z = 0 -> +-Inf)
// Transports of y = W x (W (n_out, n_in)), x^ the operating point, y^ = W x^ (its image: the
// linearisation is around one input point, so the output point must be that point's image;
// with the mean operating point this equals the calibration mean of the outputs exactly):
//   none:     W' = W, b' = 0 (the sanity floor: V = D(W E(x)))
//   literal:  W' = diag(D'(E^out(y^))) W diag(1/E'(x^)), b' = 0 — the plan's formula as written
//             (dimensionally it is the jacobian form times diag(D'^2); kept to test it as written)
//   jacobian: W'_ij = E^out_i'(y^_i) W_ij / E_j'(x^_j), b'_i = E^out_i(y^_i) - sum_j W'_ij E_j(x^_j)
//   lstsq:    argmin over the fit rows of sum_t ||E^out(W x_t) - (W' E(x_t) + b')||^2 + l ||W'||^2
//             (ridge l relative to the centred Gram matrix, bias unpenalised), fitted on the same
//             input encoding (float or k-bit) the runtime uses: the best any linear map can do.

enum qins_transport_kind {
    QINS_TRANSPORT_NONE = 0,
    QINS_TRANSPORT_LITERAL,
    QINS_TRANSPORT_JACOBIAN,
    QINS_TRANSPORT_LSTSQ,
    QINS_TRANSPORT_COUNT
};

// Operating point x^ per input channel: calibration mean, median, or mean |x| with the mean's sign.
enum qins_op_point { QINS_OP_MEAN = 0, QINS_OP_MEDIAN, QINS_OP_SIGNED_ABSMEAN, QINS_OP_COUNT };

struct qins_transport_params {
    enum qins_transport_kind kind;
    double alpha;                    // > 0, relative to each channel's scale
    enum qins_scale_mode in_scale;   // s_j: calibration ABSMAX or RMS of input channel j
    enum qins_scale_mode out_scale;  // t_i: the same for output channel i
    enum qins_op_point op;           // literal / jacobian only
    int in_bits;                     // 0: E(x) in FP64; 2..12: z rounded to the k-bit QINS code grid
    int out_bits;                    // 0: decode the accumulator as is; 2..12: round it to the grid first
    bool out_silu;                   // the output is SiLU(D(code)) read from a table over the out_bits
                                     // codes (core/silu_lut.h; needs out_bits): a gate slot whose
                                     // SiLU is applied in the QINS domain (the layer then skips it)
    double ridge;                    // lstsq: l = ridge * mean diagonal of the centred Gram matrix
    struct qins_codec_params wcodec; // how W' is stored (FP32 isolates the transport error)
};

#define QINS_TRANSPORT_HIST_BINS 34 // |W'|: [0,1e-8), 32 half-decade bins up to 1e8, [1e8, inf)

struct qins_transport {
    struct qins_transport_params p;
    int n_in, n_out;
    double *w;          // (n_out, n_in) W' in FP64 as computed
    double *b;          // (n_out) b'
    double *s_in;       // (n_in) input scales (a zero scale becomes 1: a dead channel)
    double *s_out;      // (n_out) output scales
    double *x_op;       // (n_in) operating point (literal/jacobian; NULL otherwise)
    double *y_op;       // (n_out) W x_op (literal/jacobian; NULL otherwise)
    double ridge_used;  // lstsq: the absolute ridge that made the system solvable
    int64_t n_fit_rows; // rows used by lstsq (or for output scales)
    // Diagnostics of W' (finite entries only in absmax and the histogram):
    double w_absmax;
    int64_t w_nonfinite;
    uint64_t w_hist[QINS_TRANSPORT_HIST_BINS];
};

// Fills defaults: jacobian, alpha 1, ABSMAX scales, mean operating point, float encoding in and
// out, ridge 1e-8, W' stored FP32. Returns nothing.
void qins_transport_params_default(struct qins_transport_params *p);
// Returns "none", "literal", "jacobian", "lstsq" ("?" when out of range).
const char *qins_transport_kind_name(enum qins_transport_kind k);
// Parses a kind name. Returns 0 or QINS_ERR_ARG.
int qins_transport_kind_parse(const char *s, enum qins_transport_kind *out);
// Returns "mean", "median", "absmean" ("?" when out of range).
const char *qins_op_point_name(enum qins_op_point op);
// Parses an operating point name. Returns 0 or QINS_ERR_ARG.
int qins_op_point_parse(const char *s, enum qins_op_point *out);
// Parses an input encoding: "float" (E(x) in FP64, *bits = 0) or "kN" (N-bit QINS codes,
// N = 2..QINS_CODEC_MAX_BITS). Quiet (the caller words the error). Returns 0 or QINS_ERR_ARG.
int qins_transport_encoding_parse(const char *s, int *bits);
// Checks the parameters. Returns 0 or QINS_ERR_ARG with a message.
int qins_transport_params_validate(const struct qins_transport_params *p);

// Computes the transport of w (n_out, n_in) FP32 from finished statistics: in (the slot's input,
// dim n_in; its fit rows are lstsq's data) and out (its FP32 output, dim n_out; NULL = output
// scales from W x over in's fit rows). Returns 0 or < 0 (bad args, no rows for lstsq, LAPACK
// failure, NOMEM). Non-finite W' entries are not an error: they are counted.
int qins_transport_compute(const struct qins_transport_params *p, const float *w, int n_out, int n_in,
                           const struct qins_calib_stats *in, const struct qins_calib_stats *out,
                           struct qins_transport *t);
// Frees the arrays (NULL-safe, idempotent). Returns nothing.
void qins_transport_free(struct qins_transport *t);
// Returns the lower edge of histogram bin i (0 for bin 0).
double qins_transport_hist_lower(int i);

// The k-bit code grid (as core/codec.h's QINS codes): M = 2^k - 1, half = 2^(k-1); code c < half
// is z = -(2 (half-1-c) + 1) / M, code c >= half is z = (2 (c-half) + 1) / M. Returns the code z
// rounds to (the sign of z kept, -0 negative).
int qins_transport_grid_code(double z, int bits);
// Returns z of a code (0 .. 2^bits - 1).
double qins_transport_grid_z(int code, int bits);
// Returns D(z) = t (1 - |z|) / (alpha z), the runtime's decode with output scale t.
double qins_transport_decode_z(double z, double t, double alpha);

// The input encoding the runtime uses: z_j = E_j(x_j), rounded to the grid when in_bits > 0
// (codes chosen exactly as core/codec.h's QINS quantizer with scale s_j). Writes n_in values.
void qins_transport_encode_row(const struct qins_transport *t, const float *x, double *z);
// For one input row x (n_in): target[i] = E^out_i((W x)_i) and pred[i] = (W' z(x) + b')_i with
// the FP64 W' (n_out each): the two sides the transport must make equal (for scatter plots).
// Returns 0 or QINS_ERR_NOMEM.
int qins_transport_encoded_pair(const struct qins_transport *t, const float *w, const float *x, double *target,
                                double *pred);
// Mean over the n rows x (n, n_in) of ||E^out(W x) - (W' z(x) + b')||^2 with the FP64 W'
// (*mse), and the mean squared deviation of the targets from their mean (*var). Returns 0 or < 0.
int qins_transport_residual(const struct qins_transport *t, const float *w, const float *x, int64_t n,
                            double *mse, double *var);

// ---- the runtime: W' stored with p.wcodec (encoded once, its values expanded once for the
// FP64 matmul — a fused kernel would look codes up inside the MAC, phase 4's subject), b' and
// the scales in FP32. One call: encode T x n_in inputs, one matmul, decode T x n_out outputs.
typedef struct qins_transport_rt qins_transport_rt_t;

struct qins_transport_slot_stats {
    uint64_t calls, tokens;
    uint64_t encode_ops, encoded_elems; // one encode op per call (the whole input block)
    uint64_t decode_ops, decoded_elems; // one decode op per call (the whole output block)
    uint64_t nonfinite_out;             // NaN/Inf elements produced (propagated, not an error)
    size_t stored_bytes;                // W' as encoded + b' + scales (FP32)
};

// Builds the runtime of t (encodes W' with t->p.wcodec). Returns 0 or < 0 (codec error, e.g. a
// non-finite or FP16-overflowing W' under a lossy codec: the variant cannot be stored).
int qins_transport_rt_init(const struct qins_transport *t, qins_transport_rt_t **out);
// Computes y (n_tok, n_out) from x (n_tok, n_in). Returns 0 or QINS_ERR_NOMEM.
int qins_transport_rt_apply(qins_transport_rt_t *rt, const float *x, int n_tok, float *y);
// Copies the runtime's counters. Returns nothing.
void qins_transport_rt_stats(const qins_transport_rt_t *rt, struct qins_transport_slot_stats *out);
// Frees the runtime (NULL-safe). Returns nothing.
void qins_transport_rt_free(qins_transport_rt_t *rt);

// Installs the runtime of t on lin (shapes must match; any previous transport is removed; a
// Pattern A codec slot must be reset first; lin->silu_applied follows t's out_silu). Each call adds to lin->counters: qins_encode_elems
// (T*n_in), qins_decode_elems (T*n_out), qins_decode_ops (1). Returns 0 or < 0.
int qins_transport_install(struct qins_linear *lin, const struct qins_transport *t);
// Restores the FP32 implementation (no-op when no transport is installed). Returns nothing.
void qins_transport_uninstall(struct qins_linear *lin);
// Returns true when a transport runtime is installed on lin.
bool qins_transport_installed(const struct qins_linear *lin);
// Copies the installed runtime's counters. Returns 0 or QINS_ERR_STATE when none is installed.
int qins_transport_slot_stats(const struct qins_linear *lin, struct qins_transport_slot_stats *out);

// Removes lin's transport, computes t (freed first) from in/out for lin's weight and installs
// it. Returns 0 or < 0.
int qins_transport_set(struct qins_linear *lin, const struct qins_transport_params *p, const struct qins_calib_stats *in,
                       const struct qins_calib_stats *out, struct qins_transport *t);
// Computes (from the finished capture c) and installs a transport on the v_proj slot of every
// layer in layer_mask; ts (n_layer entries, zeroed by the caller) receives them for diagnostics
// (free each with qins_transport_free). Returns 0 or < 0 (a layer not captured, a slot holding
// another implementation, compute/codec errors; layers done before the error stay installed).
int qins_model_set_v_transport(struct qins_model *m, const struct qins_calib *c, const struct qins_transport_params *p,
                               uint64_t layer_mask, struct qins_transport *ts);
// Uninstalls every v_proj transport of m. Returns nothing.
void qins_model_reset_v_transport(struct qins_model *m);

struct qins_transport_eval {
    double rel_error;     // ||V - V_fp32|| / ||V_fp32|| over finite elements (core/eval.h)
    double max_abs_error; // over finite elements
    int64_t n_nonfinite;  // NaN/Inf elements of V
    double z_mse, z_var;  // qins_transport_residual on the same rows
    int64_t n_rows;
};
// Runs the runtime on rows x (n, n_in) and compares with the FP32 product W x (the baseline
// slot's sgemm; SiLU(W x) in FP32 for an out_silu transport). Use held-out rows for an honest figure. Returns 0 or < 0.
int qins_transport_eval(const struct qins_transport *t, const float *w, const float *x, int64_t n,
                        struct qins_transport_eval *out);

// ---- decode-operation accounting per forward call of n_tok tokens, from shapes alone
struct qins_decode_tally {
    uint64_t decode_ops, decoded_elems; // QINS decode calls and elements
    uint64_t encode_ops, encoded_elems; // QINS encode calls and elements
    uint64_t v_decode_ops, v_decoded_elems; // the v_proj slots' share of the decodes
};
// Pattern A on the 7 projections of every layer (plus the output matrix when with_output):
// one decode op of the whole weight per slot call. With v_path, every v_proj is Pattern B
// instead: one encode of the input block and one decode of the output block per call.
// Returns 0 or QINS_ERR_ARG.
int qins_decode_tally(const struct qins_hparams *hp, int n_tok, bool v_path, bool with_output,
                      struct qins_decode_tally *out);
// The same with the slots of pb_slots (bit i = slot index i: q,k,v,o,gate,up,down) on Pattern B in
// every layer; v_* stays the v_proj slots' share. qins_decode_tally(v_path) is pb_slots = bit 2.
// Returns 0 or QINS_ERR_ARG.
int qins_decode_tally_slots(const struct qins_hparams *hp, int n_tok, unsigned pb_slots, bool with_output,
                            struct qins_decode_tally *out);
// The share of a token's weight-matmul FLOPs (the 7 projections of every layer and the output
// matrix; attention's score/value products aside) done by the slots of pb_slots in n_layers_on
// layers. Returns it (0 .. 1).
double qins_matmul_flops_share(const struct qins_hparams *hp, unsigned pb_slots, int n_layers_on);
// Fills Phi-3.5-mini's shapes (32 layers, 3072 hidden, 32/32 heads of 96, FFN 8192, vocab 32064).
void qins_hparams_phi35_mini(struct qins_hparams *hp);
