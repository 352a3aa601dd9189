// core/slots.h — implementations for the model's linear slots beyond FP32: Pattern A (the
// weight kept encoded with a codec and decoded into a scratch at every use, then the FP32
// matmul: the separate ops), or the same encoded weight multiplied by the fused kernels
// (kernels/fused_matmul.h). Owns: the encoded weights and the shared decode scratch it
// installs. Does not own: the model's FP32 weights (views). Errors: negative qins_status + log.
#pragma once
#include "codec.h"
#include "model.h"

// Which slots a call touches: bit i = slot index i of qins_model_slot (q,k,v,o,gate,up,down).
#define QINS_SLOT_MASK_ALL 0x7fu
#define QINS_SLOT_MASK_ATTN 0x0fu
#define QINS_SLOT_MASK_MLP 0x70u
#define QINS_SLOT_BIT(i) (1u << (i))

// Encodes lin's weight with p (rows = output rows, cols = inputs) and installs the
// decode-at-use implementation. The slot's w_stored_bytes becomes the encoded size.
// Returns 0 or < 0 (codec error, e.g. NaN in the weights).
int qins_slot_set_codec(struct qins_linear *lin, const struct qins_codec_params *p);
// The same encoding, multiplied without decoding into FP32 first: one token through the fused
// GEMV, more through the fused GEMM (tile decode -> sgemm). The model counters move as on the
// separate path (weight_bytes_read += the encoded size, qins_decode_ops += 1 per call); the
// codec's own counters (qins_codec_counters_get) do not: qins_codec_decode is never called.
// Returns 0 or < 0 (QINS_ERR_UNSUPPORTED, one line, for what the fused kernels do not handle).
int qins_slot_set_codec_fused(struct qins_linear *lin, const struct qins_codec_params *p);
// Restores the FP32 implementation and frees what set_codec(_fused) installed (no-op if none).
void qins_slot_reset(struct qins_linear *lin);
// Applies qins_slot_set_codec to every slot selected by mask in every layer (and the output
// matrix when with_output). Returns 0 or < 0 (slots already set keep their state).
int qins_model_set_weight_codec(struct qins_model *m, const struct qins_codec_params *p, unsigned mask,
                                bool with_output);
// qins_model_set_weight_codec with qins_slot_set_codec_fused. Returns 0 or < 0.
int qins_model_set_weight_codec_fused(struct qins_model *m, const struct qins_codec_params *p, unsigned mask,
                                      bool with_output);
// Resets every slot (and the output matrix) to FP32.
void qins_model_reset_slots(struct qins_model *m);
// Bytes of all matmul weights as the slots currently store them.
size_t qins_model_stored_weight_bytes(const struct qins_model *m);
