// tests/test_native_weights.c — models whose matrices stay F16/BF16/Q8_0 in memory (mmapped,
// multiplied by kernels/matmul.h) against the same files dequantised to FP32 at load (the
// reference path): logits agree within LOGITS_REL_TOL for a prompt batch (GEMM) and for
// single-token steps (GEMV), on the real stories260K Q8_0 file, a tiny llama and a Phi-3.5-shaped
// layer (widths 3072 and 8192: both GEMV kernels and the GEMM tile edges); no FP32 copies are
// made on the native path; the logits do not depend on the thread count.
#include <criterion/criterion.h>
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "helpers/shared_paths.h"
#include "helpers/tiny_model.h"
#include "kv.h"
#include "model.h"

// max |native - dequantised| / max |dequantised| over each row of logits
#define LOGITS_REL_TOL 1e-5

#define PROMPT 12
#define STEPS 3

// Logits of a PROMPT-token batch (all rows) then STEPS single tokens: (PROMPT + STEPS, V).
static float *run(struct qins_model *m, int threads) {
    qins_set_threads(threads);
    const int V = m->hp.n_vocab, ctx = PROMPT + STEPS + 1;
    struct qins_kv_store *kv;
    struct qins_state *s;
    cr_assert_eq(qins_kv_store_fp32_init(m->hp.n_layer, ctx, m->hp.n_head_kv * m->hp.head_dim, &kv), 0);
    cr_assert_eq(qins_state_init(m, ctx, PROMPT, kv, &s), 0);
    float *out = malloc((size_t)(PROMPT + STEPS) * V * sizeof *out);
    int32_t tok[PROMPT];
    for (int i = 0; i < PROMPT; i++) tok[i] = 1 + (i * 37) % (V - 1);
    cr_assert_eq(qins_forward(m, s, tok, PROMPT, 0, true), 0);
    memcpy(out, s->logits, (size_t)PROMPT * V * sizeof *out);
    for (int i = 0; i < STEPS; i++) {
        int32_t t = 2 + (i * 11) % (V - 2);
        cr_assert_eq(qins_forward(m, s, &t, 1, PROMPT + i, false), 0);
        memcpy(out + (size_t)(PROMPT + i) * V, s->logits, (size_t)V * sizeof *out);
    }
    qins_state_free(s);
    qins_kv_free(kv);
    qins_set_threads(1);
    return out;
}

static void compare(const char *path, const char *label, bool expect_native) {
    struct qins_model *native, *deq;
    cr_assert_eq(qins_model_load(path, &native), 0, "%s: load", label);
    cr_assert_eq(qins_model_load_opts(path, &(struct qins_model_opts){.dequantize = true}, &deq), 0);
    if (expect_native) {
        // the native path keeps every matrix as stored: no FP32 copy of any slot
        cr_assert_neq(native->embd.type, QINS_W_F32, "%s: token_embd was dequantised", label);
        for (int l = 0; l < native->hp.n_layer; l++)
            for (int i = 0; i < QINS_SLOTS_PER_LAYER; i++) {
                const struct qins_linear *lin = qins_model_slot(native, l, i);
                if (lin->wm.type != QINS_W_F32) cr_assert_null(lin->w, "%s: %s has an FP32 copy", label, lin->name);
            }
        cr_assert_lt(native->weight_bytes_stored, deq->weight_bytes_stored, "%s", label);
        cr_assert_eq(deq->embd.type, QINS_W_F32);
    }
    const int V = native->hp.n_vocab;
    float *a = run(native, 1), *b = run(deq, 1), *c = run(native, 2);
    double worst = 0;
    for (int r = 0; r < PROMPT + STEPS; r++) {
        double diff = 0, mag = 0;
        for (int i = 0; i < V; i++) {
            const size_t k = (size_t)r * V + i;
            cr_assert(isfinite(a[k]), "%s: non-finite logit", label);
            diff = fmax(diff, fabs((double)a[k] - b[k]));
            mag = fmax(mag, fabs((double)b[k]));
        }
        worst = fmax(worst, diff / mag);
    }
    cr_log_info("%s: logits native vs dequantised at load: max relative difference %.3g", label, worst);
    cr_assert(worst <= LOGITS_REL_TOL, "%s: logits differ by %.3g relative (tolerance %g)", label, worst, LOGITS_REL_TOL);
    cr_assert_eq(memcmp(a, c, (size_t)(PROMPT + STEPS) * V * sizeof *a), 0, "%s: 2 threads change the logits", label);
    free(a), free(b), free(c);
    qins_model_free(native);
    qins_model_free(deq);
}

Test(native_weights, stories260K_q8_0_agrees_with_dequantise_at_load, .timeout = 120) {
    char path[1200];
    if (test_model_path("stories260K-Q8_0-ffnF32.gguf", path, sizeof path)) return;
    compare(path, "stories260K-Q8_0-ffnF32", true);
}

static void random_model(struct qins_random_model_spec *spec, enum qins_ggml_type t, const char *label) {
    spec->weight_type = t;
    char path[1200];
    cr_assert_eq(tiny_model_write(spec, path, sizeof path), 0);
    compare(path, label, true);
    tiny_model_remove(path);
}

Test(native_weights, tiny_llama_f16_bf16_q8_0) {
    struct qins_random_model_spec spec = tiny_model_spec("llama");
    random_model(&spec, QINS_GGML_F16, "tiny llama f16");
    random_model(&spec, QINS_GGML_BF16, "tiny llama bf16");
    random_model(&spec, QINS_GGML_Q8_0, "tiny llama q8_0");
}

// One layer at Phi-3.5-mini's widths (n_embd 3072, 32 heads of 96, n_ff 8192), a small vocab.
Test(native_weights, phi35_shaped_layer_f16_bf16_q8_0, .timeout = 600) {
    struct qins_random_model_spec spec = tiny_model_spec("phi3");
    spec.n_layer = 1, spec.n_embd = 3072, spec.n_head = 32, spec.n_head_kv = 32, spec.n_ff = 8192;
    spec.n_vocab = 320, spec.n_ctx = 64, spec.n_ctx_orig = 32;
    random_model(&spec, QINS_GGML_F16, "phi3.5-shaped f16");
    random_model(&spec, QINS_GGML_BF16, "phi3.5-shaped bf16");
    random_model(&spec, QINS_GGML_Q8_0, "phi3.5-shaped q8_0");
}
