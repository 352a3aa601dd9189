// core/pattern_b.h — Pattern B (core/transport.h) on one named slot of a set of layers, as a
// phase sweeps it: the calibration capture of the slot's input and output, transports computed
// and installed per variant, their held-out diagnostics, the slot's figures, the teacher-forced
// in-model error of the output site against the FP32 reference, decode counts and the plots.
// Owns: the captures and each variant's cached transports. Errors: negative qins_status + log line.
#pragma once
#include <stdbool.h>
#include <stdint.h>

#include "calib.h"
#include "config.h"
#include "sweep.h"
#include "transport.h"

#define QINS_PB_MAX_LAYERS 64 // layer sets are 64-bit masks

// The best transport variant of a scope (phase 2's rule, phase 5 the same; its text is recorded
// in the runs and quoted by gates/gates.txt).
extern const struct qins_best_rule qins_pb_best_rule;

// A slot of every layer: "attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up",
// "ffn_down" (qins_model_slot index), with the sites its input and output are observed at.
struct qins_pb_slot {
    const char *name;
    int index;
    enum qins_site in_site, out_site;
};
// Looks a slot up by name. Returns 0 or QINS_ERR_ARG listing the names.
int qins_pb_slot_parse(const char *name, struct qins_pb_slot *out);

struct qins_pb {
    struct qins_model *m;
    struct qins_pb_slot slot;
    int L;                          // layers of m (<= QINS_PB_MAX_LAYERS)
    const struct qins_calib_text *text;
    struct qins_calib calib;        // FP32 model: fit + held-out rows of the slot's input and output
    struct qins_calib ref;          // FP32 model: the output site over the held-out windows, in order
    struct qins_codec_params pa;    // Pattern A references: the slot's codec at rest (per row)
    const char *group;              // run group of the per-variant arrays, e.g. "/phase2"
    const char *const *scope_names; // the phase's scope names (attribute "scope")
};
// Captures, with m as it is (FP32), the slot's calibration (every layer) and the held-out
// reference. Returns 0 or < 0.
int qins_pb_init(struct qins_pb *pb, struct qins_model *m, const char *slot, const struct qins_calib_text *t);
void qins_pb_free(struct qins_pb *pb);
// Returns the slot of layer l.
struct qins_linear *qins_pb_linear(const struct qins_pb *pb, int l);
// Computes (ts[l] freed first) and installs p's transport on the slot of each layer in mask;
// ts has L entries, zeroed by the caller. Returns 0 or < 0 (layers done before stay installed).
int qins_pb_set(struct qins_pb *pb, const struct qins_transport_params *p, uint64_t mask, struct qins_transport *ts);
// Uninstalls the slot's transports and resets every slot of m to FP32. Returns nothing.
void qins_pb_reset(struct qins_pb *pb);

// One Pattern B variant of a sweep (struct qins_variant.data) and what it measured.
struct qins_pb_variant {
    int kind;                       // the phase's classification (transport, reference, …)
    bool transport;                 // p applies and the transport figures are recorded
    int scope;                      // the phase's scope index
    uint64_t mask;                  // the layers it changes
    struct qins_transport_params p;
    const char *enc;                // input encoding as configured (NULL: none)
    // the scope's figures over its layers: worst layer's rel_error / max_abs_error / z_mse (with
    // its z_var), the mean rel_error; counts summed; |W'| max and histogram pooled
    double rel_error, rel_error_mean, max_abs_error, z_mse, z_var;
    double nonfinite_out, nonfinite_heldout, nonfinite_inmodel, w_nonfinite, nonfinite_count;
    double w_absmax, stored_bytes;
    double err_layer[QINS_PB_MAX_LAYERS];   // held-out rel_error per transported layer (FP32 inputs)
    double err_inmodel[QINS_PB_MAX_LAYERS]; // held-out rel_error of the output site inside the model
    uint64_t w_hist[QINS_TRANSPORT_HIST_BINS];
    struct qins_transport *ts;      // (L) computed transports while installed or cached for latency
    bool slot_done;
};
// Sets every figure NaN (counts 0). Returns nothing.
void qins_pb_variant_init(struct qins_pb_variant *pv);
void qins_pb_variant_free(struct qins_pb_variant *pv);
// Computes and installs pv's transports, then their diagnostics on the held-out rows with FP32
// inputs (the transports stay cached). Returns 0 or < 0.
int qins_pb_variant_install(struct qins_pb *pb, struct qins_pb_variant *pv);
// Installs pv's cached transports (computing them once). Returns 0 or < 0.
int qins_pb_variant_activate(struct qins_pb *pb, struct qins_pb_variant *pv);
// The slot's figures after an evaluation (stored bytes, NaN/Inf produced), once. Returns nothing.
void qins_pb_variant_slot_figures(struct qins_pb *pb, struct qins_pb_variant *pv);
// The output site's error per layer inside the model as installed, against the reference
// (layers whose rows held NaN/Inf: NaN, counted). Returns 0 or < 0.
int qins_pb_variant_inmodel(struct qins_pb *pb, struct qins_pb_variant *pv);
// The held-out rows of site in capture x against the same rows of ref, per layer (L): rel_error
// into err (NaN where x skipped rows holding NaN/Inf: the rows no longer pair up). Returns the
// number of such rows.
double qins_pb_capture_error(const struct qins_calib *ref, const struct qins_calib *x, int L, enum qins_site site,
                             double *err);
// Sets nonfinite_count from the figures: logits and generation steps (unless failed), in-model,
// and the transport's; a failed variant with no count is NaN (unknown, not 0). Returns it.
double qins_pb_variant_nonfinite(struct qins_pb_variant *pv, const struct qins_variant *v);
// Records nonfinite_count and (transport) alpha, in_bits, rel_error, rel_error_mean_layers,
// max_abs_error, z_mse, z_var, nonfinite_<out>, nonfinite_heldout, nonfinite_<out>_inmodel,
// w_nonfinite, w_absmax, <out>_stored_bytes as kept metrics of v (out: the output site's name,
// e.g. v). Returns 0 or < 0.
int qins_pb_variant_metrics(struct qins_sweep *s, const struct qins_pb *pb, struct qins_variant *v);
// Writes the arrays <group>/<name>/rel_error_per_layer, w_hist (transport) and rel_error_in_model.
// Returns 0 or < 0.
int qins_pb_variant_arrays(qins_run_t *run, const struct qins_pb *pb, const struct qins_pb_variant *pv,
                           const char *group, const char *name);

// The swept transports x alphas x encodings, as configured (config-owned strings).
struct qins_pb_grid {
    const char *const *tr, *const *al, *const *en;
    size_t n_tr, n_al, n_en;
};

// ---- the config keys every Pattern B phase shares, in its own section (phase 2, phase 5):
// the grid (transports, alphas, encodings: defaults given), then how the transports are fitted,
// stored, judged and timed (weight_codec … latency_reps), read by qins_pb_params_config.
// An item check for encodings: float or kN. Returns 0 or 1 with the reason in why.
int qins_pb_check_encoding(const char *item, char *why, size_t cap);
#define QINS_PB_GRID_KEYS(sec, alphas, encodings)                                                                   \
    {sec, "transports", QINS_CFG_LIST, "none,literal,jacobian,lstsq", 1, 4, "none|literal|jacobian|lstsq",         \
     "transports swept (core/transport.h)", NULL},                                                                  \
    {sec, "alphas", QINS_CFG_LIST, alphas, 1, 8, NULL, "alpha values swept (relative to each channel's calibration scale)", \
     .item = QINS_CFG_ITEM_DOUBLE, .item_min = 1e-9, .item_max = 1e6},                                              \
    {sec, "encodings", QINS_CFG_LIST, encodings, 1, 4, NULL,                                                        \
     "input encodings swept: float (E(x) in FP64) or kN (N-bit QINS codes)", .item_check = qins_pb_check_encoding}
#define QINS_PB_FIT_KEYS(sec)                                                                                       \
    {sec, "weight_codec", QINS_CFG_STRING, "fp32", 0, -1, NULL,                                                     \
     "how W' is stored (fp32 isolates the transport's own error; e.g. qins8, int8, fp16)", qins_check_codec_item},  \
    {sec, "pattern_a_codec", QINS_CFG_STRING, "qins8", 0, -1, NULL,                                                 \
     "Pattern A reference: the codec every projection keeps at rest (per-row scales)", qins_check_codec_item},      \
    {sec, "op_point", QINS_CFG_ENUM, "mean", 0, -1, "mean|median|absmean",                                          \
     "literal/jacobian operating point per input channel", NULL},                                                   \
    {sec, "scale", QINS_CFG_ENUM, "absmax", 0, -1, "absmax|rms", "per-channel scale of inputs and outputs", NULL},  \
    {sec, "ridge", QINS_CFG_DOUBLE, "1e-8", 0, 1, NULL, "lstsq ridge, relative to the mean Gram diagonal", NULL},   \
    {sec, "calib_tokens", QINS_CFG_INT, "4096", 2048, 65536, NULL,                                                  \
     "calibration tokens the transports are fitted on (from [run] calib_slice, whole windows of ctx)", NULL},       \
    {sec, "heldout_tokens", QINS_CFG_INT, "1024", 1, 65536, NULL,                                                   \
     "held-out tokens for rel_error (the windows after the fit windows in calib_slice)", NULL},                     \
    {sec, "scatter_points", QINS_CFG_INT, "1500", 10, 100000, NULL,                                                 \
     "points of the layer-0 scatter of E(Wx) against W'E(x)+b'", NULL},                                             \
    {sec, "latency_tokens", QINS_CFG_INT, "64", 1, 4096, NULL, "tokens generated per latency repetition", NULL},   \
    {sec, "latency_reps", QINS_CFG_INT, "5", 3, 1000, NULL,                                                         \
     "latency repetitions per configuration (the first is a warm-up; medians of the rest)", NULL}

// ---- building a sweep of Pattern B variants: transports; Pattern A references (the slot of
// the masked layers holding pb->pa at rest); the KV codec alone (no slot changed)
enum { QINS_PB_TRANSPORT = 0, QINS_PB_PATTERN_A, QINS_PB_KV_ONLY };
// The sweep's ops for these variants (user = pb): install, measure (slot figures, in-model
// error), record (nonfinite_count, metrics, qins_pb_record_extras), activate (cached
// transports), reset. Returns them.
struct qins_sweep_ops qins_pb_sweep_ops(struct qins_pb *pb);
// Writes v's arrays and the attributes scope, kind, encoding, kv_codec (failed_status) at
// <group>/<name> (name: v's own, or e.g. best_full). Returns 0 or < 0.
int qins_pb_record_extras(struct qins_sweep *s, const struct qins_variant *v, const char *name);
// An eligible() filter for qins_sweep_best: transport variants with FP32 KV of scope *(int *)scope.
bool qins_pb_in_scope(const struct qins_variant *v, void *scope);
// Appends a variant (kv_text NULL = FP32 cache) with a fresh struct qins_pb_variant as its data
// (figures NaN; the phase frees it with qins_pb_variant_free + free). Returns it or NULL.
struct qins_pb_variant *qins_pb_sweep_add(struct qins_sweep *s, const char *name, const char *kv_text, int kind, int scope,
                                          uint64_t mask);
// Returns the number of grid points (transports x alphas x encodings).
size_t qins_pb_grid_size(const struct qins_pb_grid *g);
// Point i of the grid in sweep order (transport-major, then alpha, then encoding): *p = base with
// that kind, alpha and input bits, *enc the encoding, name as qins_pb_variant_name. Returns 0 or < 0.
int qins_pb_grid_point(const struct qins_pb_grid *g, const struct qins_transport_params *base, size_t i,
                       const char *scope_name, struct qins_transport_params *p, const char **enc, char *name, size_t cap);
// Appends the grid's transports x alphas x encodings on base (FP32 cache) for one scope, named
// by qins_pb_variant_name. Returns 0 or < 0.
int qins_pb_sweep_add_grid(struct qins_sweep *s, const struct qins_pb_grid *g, const struct qins_transport_params *base,
                           const char *scope_name, int scope, uint64_t mask);
// Reads a transport section's keys: weight_codec, op_point, scale, ridge into base (per-row
// scales for a lossy W' codec), pattern_a_codec into pa (per row), and the grid's lists
// transports, alphas, encodings. Returns 0 or < 0.
int qins_pb_params_config(qins_config_t *cfg, const char *section, struct qins_transport_params *base,
                          struct qins_codec_params *pa, struct qins_pb_grid *g);

// ---- decode operations per forward pass of one token (model counters)
struct qins_pb_decodes {
    double ops, elems;
};
// Counts the decode operations and decoded elements (model counters + the codecs') of one forward
// pass of one token (the first of t) with m as installed. Returns 0 or < 0.
int qins_pb_count_decodes(struct qins_model *m, const struct qins_calib_text *t, struct qins_pb_decodes *out);
// Counts with Pattern A (codec pa on every slot) and then with the slot of the layers in mask on
// p's transport instead. Leaves m reset. Returns 0 or < 0.
int qins_pb_decode_counts(struct qins_pb *pb, const struct qins_codec_params *pa, const struct qins_transport_params *p,
                          uint64_t mask, struct qins_pb_decodes *a, struct qins_pb_decodes *b);

// Records <name>/decode_ops_pattern_a, decode_ops_<label>, decode_ops_reduction_pct,
// decoded_elems_pattern_a, decoded_elems_<label>, decoded_elems_reduction_pct from the counts a
// (Pattern A) and b (with Pattern B), and from Phi-3.5-mini's shapes (32 layers) with the slots
// pb_slots (bit = slot index) of a share of its layers on Pattern B: phi35_decode_ops_pattern_a,
// phi35_decode_ops_<label>, phi35_decode_ops_reduction_pct, phi35_decoded_elems_reduction_pct.
// Prints one line. Returns 0 or < 0.
int qins_pb_decode_metrics(struct qins_exp *e, const char *name, const char *label, const struct qins_pb_decodes *a,
                           const struct qins_pb_decodes *b, unsigned pb_slots, double share);

// ---- plots over the grid (variant names from qins_pb_variant_name)
// Writes "<scope>_<transport>_a<alpha %g>_<encoding>". Returns 0 or QINS_ERR_RANGE.
int qins_pb_variant_name(char *out, size_t cap, const char *scope, const char *tr, double alpha, const char *enc);
// <prefix>_rel_error_<scope> and <prefix>_token_match_<scope>: those metrics of the scope's
// variants against alpha, one series per transport x encoding. Returns 0 or < 0.
int qins_pb_plot_sweep(const struct qins_sweep *s, const struct qins_pb_grid *g, const char *scope, const char *prefix);
// Per-layer in-model error (LINES, name_layers) and the pooled |W'| histogram (name_hist) of each
// transport of the grid at b's alpha and encoding. Returns 0 or < 0.
int qins_pb_plot_layers(const struct qins_sweep *s, const struct qins_pb_grid *g, const char *scope,
                        const struct qins_pb_variant *b, const char *name_layers, const char *name_hist);
// Scatter of E(W x) against W' E(x) + b' on layer l's held-out rows (about points points, rows
// spread evenly), every transport kind at b's other settings, and the ideal y = x. Returns 0 or < 0.
int qins_pb_plot_scatter(const struct qins_pb *pb, qins_run_t *run, int l, const struct qins_pb_variant *b,
                         int64_t points, const char *name);
