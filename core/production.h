// core/production.h — the production config: the compression choices the plan's phases earned,
// as one INI file (experiments/production.ini, written by phase 6) that `qins generate --config`
// and `qins perplexity --config` run with. Owns: the [production] keys, reading them into the
// engine's own types, installing the weight codec on a loaded model, and writing such a file
// with one comment per choice (the run it came from). Does not own: deciding the choices
// (phase 6), the KV store (kv_paged.h parses the --kv syntax), the slots (slots.h).
// Errors: negative qins_status with a one-line message ("file:line: [production] key: why").
#pragma once
#include <stdbool.h>
#include <stddef.h>

#include "codec.h"
#include "config.h"
#include "kv_paged.h"

struct qins_model;

// [production] keys (qins_config tables; `qins config` style docs in the .c file):
//   model           the model file (paths.h MODEL lookup)
//   kv              KV store in the syntax of `qins generate --kv` (fp32, fp16, qins8:alpha=2:…)
//   weights         "stored" (as the file holds them) or a codec name (qins8, int8, nf4, fp16, …)
//                   that every selected slot keeps its weight in (Pattern A)
//   weights_gran    scale granularity of that codec (row, tensor, column, group<G>)
//   weights_alpha   QINS alpha, relative to the scale
//   weights_slots   all | attn | mlp: which linear slots get the codec
//   weights_output  also the output matrix
//   weights_kernel  fused (multiplied without an FP32 copy, kernels/fused_matmul.h) | separate
//   threads         0 = every online CPU
extern const struct qins_cfg_key qins_production_keys[];

struct qins_production {
    char model[1024];
    char kv_text[256];
    struct qins_kv_spec kv;
    bool has_weight_codec;          // false: weights = stored
    struct qins_codec_params weights;
    unsigned slot_mask;             // QINS_SLOT_MASK_*
    bool with_output, fused;
    int threads;                    // 0 = all
    char path[1024];                // the file read
};

// Reads and checks a production config (unknown keys, bad values: one error line naming
// file:line and key). Returns QINS_OK or < 0.
int qins_production_read(const char *path, struct qins_production *out);
// Installs the weight codec on every selected slot (nothing when weights = stored). Returns
// QINS_OK or < 0 (a codec error, e.g. NaN in a weight, names the tensor).
int qins_production_apply(const struct qins_production *p, struct qins_model *m);

// One choice of a written file: key = value, preceded by "; why" (e.g. the run id it came from).
struct qins_production_line {
    const char *key, *value, *why;
};
// Writes [production] with these lines under a header comment (lines starting "; "), through a
// temporary name, then reads the file back with qins_production_read so a file that would not
// run is never left behind. Returns QINS_OK or < 0.
int qins_production_write(const char *path, const char *header, const struct qins_production_line *lines, size_t n);
