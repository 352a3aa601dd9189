// core/pb_set.h — Pattern B (core/pattern_b.h) on several slots at once, as phase 5 sweeps the MLP:
// ffn_down, ffn_gate, ffn_up (phi3's fused ffn_up is split logically as [gate; up] at load) and
// attn_v, each slot with its own struct qins_pb (calibration on that slot's inputs, held-out
// reference); a variant changes a subset of them on a set of layers (transports, or Pattern A at
// rest); the residual stream's error per layer inside the model; decode counts and FLOP shares.
// Owns: the slot captures and the residual reference. Errors: negative qins_status + a log line.
#pragma once
#include <stdbool.h>
#include <stdint.h>

#include "pattern_b.h"

#define QINS_PBS_MAX_SLOTS 4

struct qins_pbs {
    struct qins_model *m;
    const struct qins_calib_text *text;
    int n, L;                              // slots, layers
    struct qins_pb pb[QINS_PBS_MAX_SLOTS]; // one per slot, in the order given to init
    struct qins_calib resid;               // FP32 model: residual stream after each layer, held-out windows
    const char *group;                     // run group of the per-variant arrays, e.g. "/phase5"
    const char *const *part_names;         // the phase's part and scope names (attributes)
    const char *const *scope_names;
};
// Captures, with m as it is (FP32), the calibration of each named slot (qins_pb_init) and the
// residual reference; pa is every slot's Pattern A codec. Returns 0 or < 0.
int qins_pbs_init(struct qins_pbs *ps, struct qins_model *m, const char *const *slots, int n,
                  const struct qins_calib_text *t, const struct qins_codec_params *pa);
void qins_pbs_free(struct qins_pbs *ps);
// Uninstalls every slot's transports and resets every slot of m to FP32. Returns nothing.
void qins_pbs_reset(struct qins_pbs *ps);

// One variant of a sweep (struct qins_variant.data).
struct qins_pbs_variant {
    int kind;                                     // QINS_PB_TRANSPORT or QINS_PB_PATTERN_A
    bool transport;
    int part, scope;                              // the phase's classification
    uint64_t mask;                                // layers changed
    unsigned slots;                               // bit i = ps->pb[i] changed
    struct qins_pb_variant sv[QINS_PBS_MAX_SLOTS]; // per slot: its transport (p) and figures
    const char *enc;                              // the MLP slots' input encoding as configured
    bool silu_qins;                               // the gate's SiLU from a table over its output codes
    double resid_err[QINS_PB_MAX_LAYERS];         // residual-stream rel_error per layer in the model
    double nonfinite_resid, nonfinite_count, rel_error, w_absmax;
};

// Appends a variant with a fresh struct qins_pbs_variant as its data (figures NaN; the phase frees
// it with qins_pbs_variant_free + free). Returns it or NULL.
struct qins_pbs_variant *qins_pbs_sweep_add(struct qins_sweep *s, const char *name, int kind, int part, int scope,
                                            uint64_t mask, unsigned slots);
// Sets slot i's transport (the variant's slots bit i on). Returns nothing.
void qins_pbs_variant_set(struct qins_pbs_variant *pv, int i, const struct qins_transport_params *p);
// Copies src's classification and transports into pv, the computed figures reset (NaN). Returns nothing.
void qins_pbs_variant_copy(struct qins_pbs_variant *pv, const struct qins_pbs_variant *src);
void qins_pbs_variant_free(struct qins_pbs_variant *pv);
// The sweep's ops for these variants (user = ps): install (transports + held-out diagnostics, or
// Pattern A), measure (slot figures, in-model errors, residual stream), record (metrics, arrays,
// attributes), activate (cached transports), reset. Returns them.
struct qins_sweep_ops qins_pbs_sweep_ops(struct qins_pbs *ps);
// Writes v's arrays and attributes at <group>/<name> (name: v's own or e.g. best_mlp_all). Returns 0 or < 0.
int qins_pbs_record_extras(struct qins_sweep *s, const struct qins_variant *v, const char *name);
// An eligible() filter for qins_sweep_best: transport variants (FP32 KV, SiLU in the sweep's
// domain) of part/scope *(const int (*)[2])user. Returns whether v qualifies.
bool qins_pbs_in_part(const struct qins_variant *v, void *part_scope);

// Decode operations and elements of one token's forward pass, from the counters: Pattern A (pa)
// on every projection (*a), then the slots and layers of v on v's transports instead (*b). Leaves
// m reset. Returns 0 or < 0.
int qins_pbs_decode_counts(struct qins_pbs *ps, const struct qins_codec_params *pa, const struct qins_pbs_variant *v,
                           struct qins_pb_decodes *a, struct qins_pb_decodes *b);
// Bit i = slot index (q,k,v,o,gate,up,down) of the model that v changes. Returns the mask.
unsigned qins_pbs_model_slots(const struct qins_pbs *ps, const struct qins_pbs_variant *v);
