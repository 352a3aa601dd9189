// core/model.h — a loaded GGUF transformer (llama, phi3), its linear slots, observers and
// counters, and the forward pass (core/forward.c). Owns: hyper-parameters, weight views into
// the mmapped file in their stored format (F32, F16, BF16, Q8_0: multiplied by kernels/matmul.h
// without an FP32 copy), FP32 copies made only on request (codecs, transports) or when loading
// with dequantize (the reference path), per-sequence state.
// Does not own: tokenization, KV storage policy (core/kv.h), codecs. Errors: negative status.
//
// Dimension names used in shape comments: E = n_embd, H = n_head, HK = n_head_kv,
// D = head_dim, F = n_ff, V = n_vocab, T = tokens in a batch, P = positions in the cache.
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gguf.h"
#include "kv.h"
#include "matmul.h"

enum qins_arch { QINS_ARCH_LLAMA = 0, QINS_ARCH_PHI3 = 1 };

struct qins_hparams {
    enum qins_arch arch;
    int n_layer, n_embd, n_head, n_head_kv, head_dim, n_ff, n_vocab;
    int n_ctx_train;      // `<arch>.context_length` (stories260K says 2048 but was trained at 512)
    int n_rot;            // rope dimension count (<= head_dim)
    float rms_eps;
    float rope_base;
    bool rope_neox;       // phi3 rotates the two halves of each head; llama rotates adjacent pairs
    int sliding_window;   // 0 = none
    int n_ctx_orig;       // LongRoPE original context (phi3), 0 if absent
    float rope_attn_factor; // LongRoPE scaling of cos/sin (1 if absent)
};

// Every projection is a slot. sites name where a slot or an observed tensor sits in a layer.
enum qins_site {
    QINS_SITE_ATTN_IN = 0, // normed input of q/k/v (T, E)
    QINS_SITE_Q,           // q projection output (T, H*D), before RoPE
    QINS_SITE_K,           // k projection output (T, HK*D), before RoPE
    QINS_SITE_V,           // v projection output (T, HK*D)
    QINS_SITE_ATTN_OUT,    // attention output before o-projection (T, H*D)
    QINS_SITE_O,           // o projection output (T, E)
    QINS_SITE_FFN_IN,      // normed input of gate/up (T, E)
    QINS_SITE_GATE,        // gate projection output (T, F)
    QINS_SITE_UP,          // up projection output (T, F)
    QINS_SITE_FFN_ACT,     // silu(gate)*up, input of down (T, F)
    QINS_SITE_DOWN,        // down projection output (T, E)
    QINS_SITE_RESID,       // residual stream after the layer (T, E)
    QINS_SITE_LOGITS,      // output logits (T, V), layer = -1
    QINS_SITE_COUNT
};
const char *qins_site_name(enum qins_site site);

// Counters a forward pass accumulates (reset by the caller).
struct qins_counters {
    uint64_t forward_calls, tokens;
    uint64_t weight_bytes_read;   // bytes of weight storage read by linear slots
    uint64_t qins_encode_elems;   // elements passed through a QINS encode (slots + stores)
    uint64_t qins_decode_elems;   // elements passed through a QINS decode
    uint64_t qins_decode_ops;     // decode calls (one per slot invocation / page read)
};

struct qins_linear;
// A slot implementation: y (T, n_out) = f(x (T, n_in)). Returns 0 or < 0.
typedef int (*qins_linear_fn)(struct qins_linear *lin, const float *x, int n_tok, float *y);

struct qins_linear {
    char name[48];       // "blk.3.attn_v"
    int layer;
    enum qins_site site; // QINS_SITE_Q/K/V/O/GATE/UP/DOWN, or LOGITS for the output matrix
    int n_in, n_out;
    struct qins_wmat wm; // (n_out, n_in) the weight as stored in the file: a view (mmap or a fused tensor's rows)
    const float *w;      // the same weight as FP32: wm's data when wm is F32, else NULL until
                         // qins_linear_weights_f32 makes a copy (codecs and transports need FP32)
    float *w_copy;       // that copy (owned; freed with the model)
    size_t w_stored_bytes; // bytes of the weight as stored by the active implementation
    qins_linear_fn impl; // NULL = FP32 OpenBLAS (the baseline)
    void *impl_ctx;      // owned by whoever installed impl
    bool silu_applied;   // impl's output is SiLU(W x) already (a gate slot whose transport maps its
                         // output codes through a SiLU table, core/silu_lut.h): the layer skips SiLU
    struct qins_counters *counters;
    uint64_t n_calls, n_tokens; // access counts: passes over the weight, tokens they served (all impls)
};

// The default slot implementation: the weight in its stored format (kernels/matmul.h: GEMV for one
// token, GEMM for a batch; F32 through OpenBLAS where that was measured faster). Returns 0 or < 0.
int qins_linear_stored(struct qins_linear *lin, const float *x, int n_tok, float *y);
// y (n_tok, n_out) = x (n_tok, n_in) · Wᵀ for an FP32 weight w (n_out, n_in), the same kernels as
// an F32 slot. For implementations that decode a weight into FP32 first. Returns 0 or < 0.
int qins_matmul_f32(const float *w, int n_out, int n_in, const float *x, int n_tok, float *y);
// The slot's weight as FP32 (*out): the view itself for F32, else a dequantised copy made once
// and kept with the slot. Returns 0 or QINS_ERR_NOMEM.
int qins_linear_weights_f32(struct qins_linear *lin, const float **out);

typedef void (*qins_observer_fn)(void *user, int layer, enum qins_site site, const float *x, int n_tok, int dim);

struct qins_layer {
    const float *attn_norm, *ffn_norm; // (E)
    struct qins_linear wq, wk, wv, wo;   // q (H*D, E), k/v (HK*D, E), o (E, H*D)
    struct qins_linear wgate, wup, wdown; // gate/up (F, E), down (E, F)
};

#define QINS_MAX_OBSERVERS 8

struct qins_model {
    struct qins_hparams hp;
    qins_gguf_t *gguf;
    char path[1024];
    struct qins_wmat embd;   // token_embd (V, E) as stored; rows are decoded per token
    bool dequantized;        // loaded with dequantize: every matrix is an FP32 copy
    const float *output_norm; // (E)
    struct qins_linear output; // (V, E); a view of tok_embd when tied
    const float *rope_short, *rope_long; // (n_rot/2) LongRoPE factors or NULL
    struct qins_layer *layers;
    float **owned;           // dequantised copies we must free
    size_t n_owned, owned_cap;
    size_t weight_bytes;     // bytes of all weights as FP32 (4 per element)
    size_t weight_bytes_stored; // bytes of all weights as the forward pass reads them
    struct qins_counters counters;
    uint64_t *embd_row_reads; // (V) times each token_embd row was read; NULL unless tracking is on
    struct { qins_observer_fn fn; void *user; } observers[QINS_MAX_OBSERVERS];
    int n_observers;
    struct qins_profile *profile; // NULL, or the profiler the forward pass fills (core/profile.h)
};

// Loads a GGUF model (path as given; see qins_path_resolve in paths.h for bare names), its
// weights kept in their stored format. Returns 0 or < 0 with a one-line message (missing file,
// bad GGUF, unknown arch/type, NaN/Inf in a tensor).
int qins_model_load(const char *path, struct qins_model **out);
struct qins_model_opts {
    bool dequantize; // every F16/BF16/Q8_0 matrix becomes an FP32 copy at load (the reference path)
};
int qins_model_load_opts(const char *path, const struct qins_model_opts *opts, struct qins_model **out);
void qins_model_free(struct qins_model *m);
// Number of linear slots per layer (7) and access by index 0..6 (q,k,v,o,gate,up,down).
struct qins_linear *qins_model_slot(struct qins_model *m, int layer, int index);
#define QINS_SLOTS_PER_LAYER 7
// Starts (enable) or stops counting reads of each token_embd row into m->embd_row_reads (zeroed
// on start; freed on stop). Returns 0 or QINS_ERR_NOMEM.
int qins_model_track_embedding_rows(struct qins_model *m, bool enable);
// Zeroes every slot's n_calls/n_tokens (and the embedding row counts when tracked). Returns nothing.
void qins_model_reset_access(struct qins_model *m);
// Adds an observer called at every site; returns 0 or QINS_ERR_RANGE when full.
int qins_model_add_observer(struct qins_model *m, qins_observer_fn fn, void *user);
void qins_model_clear_observers(struct qins_model *m);
// Sets the thread count for OpenBLAS and OpenMP (results are deterministic per count).
void qins_set_threads(int n);

// ---- per-sequence state

struct qins_state {
    int n_ctx, max_batch;
    struct qins_kv_store *kv; // not owned
    float *x, *xb, *xb2;      // (max_batch, E) residual and scratch
    float *q, *k, *v, *att;   // (max_batch, H*D), (max_batch, HK*D) x2, (max_batch, H*D)
    float *hb, *hb2;          // (max_batch, F)
    float *logits;            // (max_batch, V)
    float *attn_scratch;      // (threads, qins_attn_scratch_floats(attn_heads, D)) per-thread attention scratch
    int attn_heads;           // query heads one attention work item covers at most (whole KV groups)
    float *attn_part;         // decode partials: o (attn_part_chunks, H, D), then m and l (attn_part_chunks, H)
    int attn_part_chunks;     // ceil(n_ctx / QINS_ATTN_CHUNK)
    float *rope_cos, *rope_sin; // (n_ctx, n_rot/2) precomputed
    int n_threads_scratch;
};

// Creates the state for contexts up to n_ctx (<= the model's trained/metadata context) and
// batches up to max_batch tokens; kv is the store to use (the caller owns it).
int qins_state_init(const struct qins_model *m, int n_ctx, int max_batch, struct qins_kv_store *kv,
                    struct qins_state **out);
void qins_state_free(struct qins_state *s);

// Runs n_tok tokens at positions pos0.. through the model. Writes logits for every token
// into s->logits (n_tok, V) when all_logits, else only the last token's into s->logits[0..V).
// Returns 0 or < 0 (bad token id, context overflow, store error).
int qins_forward(struct qins_model *m, struct qins_state *s, const int32_t *tokens, int n_tok, int pos0,
                 bool all_logits);
