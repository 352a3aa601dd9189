// tests/test_phi3.c — the phi3 path (fused attn_qkv, fused gate/up, NEOX rope, LongRoPE,
// sliding window) against the same weights written unfused as `llama`, with the q/k rows of
// each head permuted so that llama's adjacent-pair rotation equals phi3's half rotation.
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "gguf_write.h"
#include "model.h"

enum { L = 2, E = 32, H = 4, HK = 2, D = 8, F = 48, V = 64, CTX = 96, ORIG = 32 };

struct weights {
    float embd[V * E], out[V * E], onorm[E], anorm[L][E], fnorm[L][E];
    float q[L][H * D * E], k[L][HK * D * E], v[L][HK * D * E], o[L][E * H * D];
    float gate[L][F * E], up[L][F * E], down[L][E * F];
    float short_f[D / 2], long_f[D / 2];
};

static uint64_t rng = 88172645463325252ull;
static float rnd(float scale) { // xorshift, uniform in [-scale, scale)
    rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
    return scale * ((float)(rng >> 40) / (float)(1ull << 23) - 1.0f);
}
static void fill(float *x, int n, float scale) {
    for (int i = 0; i < n; i++) x[i] = rnd(scale);
}

static void make_weights(struct weights *w, bool unit_short) {
    fill(w->embd, V * E, 1.0f), fill(w->out, V * E, 0.3f);
    for (int i = 0; i < E; i++) w->onorm[i] = 1.0f + rnd(0.1f);
    for (int l = 0; l < L; l++) {
        for (int i = 0; i < E; i++) w->anorm[l][i] = 1.0f + rnd(0.1f), w->fnorm[l][i] = 1.0f + rnd(0.1f);
        fill(w->q[l], H * D * E, 0.3f), fill(w->k[l], HK * D * E, 0.3f), fill(w->v[l], HK * D * E, 0.3f);
        fill(w->o[l], E * H * D, 0.2f), fill(w->gate[l], F * E, 0.2f), fill(w->up[l], F * E, 0.2f);
        fill(w->down[l], E * F, 0.2f);
    }
    for (int i = 0; i < D / 2; i++) {
        w->short_f[i] = unit_short ? 1.0f : 1.0f + 0.5f * i;
        w->long_f[i] = 1.0f + 3.0f * i;
    }
}

// llama rotates pairs (2i, 2i+1); phi3 rotates (i, i + D/2): row 2i of a llama head is row i of
// the phi3 head and row 2i+1 is row i + D/2.
static void permute_rows(const float *src, float *dst, int heads) {
    for (int h = 0; h < heads; h++)
        for (int i = 0; i < D / 2; i++) {
            memcpy(dst + ((size_t)h * D + 2 * i) * E, src + ((size_t)h * D + i) * E, E * sizeof(float));
            memcpy(dst + ((size_t)h * D + 2 * i + 1) * E, src + ((size_t)h * D + i + D / 2) * E, E * sizeof(float));
        }
}

static void write_model(const struct weights *w, const char *arch, bool factors, float attn_factor, int window,
                        const char *path) {
    qins_gguf_writer_t *g;
    cr_assert_eq(qins_gguf_writer_init(&g), 0);
    char key[96];
#define KEY(s) (snprintf(key, sizeof key, "%s.%s", arch, s), key)
    qins_gguf_writer_add_str(g, "general.architecture", arch);
    qins_gguf_writer_add_u32(g, KEY("block_count"), L);
    qins_gguf_writer_add_u32(g, KEY("context_length"), 4 * ORIG);
    qins_gguf_writer_add_u32(g, KEY("embedding_length"), E);
    qins_gguf_writer_add_u32(g, KEY("feed_forward_length"), F);
    qins_gguf_writer_add_u32(g, KEY("attention.head_count"), H);
    qins_gguf_writer_add_u32(g, KEY("attention.head_count_kv"), HK);
    qins_gguf_writer_add_u32(g, KEY("rope.dimension_count"), D);
    qins_gguf_writer_add_f32(g, KEY("attention.layer_norm_rms_epsilon"), 1e-5f);
    if (factors) {
        qins_gguf_writer_add_u32(g, KEY("rope.scaling.original_context_length"), ORIG);
        if (attn_factor > 0) qins_gguf_writer_add_f32(g, KEY("rope.scaling.attn_factor"), attn_factor);
    }
    if (window) qins_gguf_writer_add_u32(g, KEY("attention.sliding_window"), (uint32_t)window);
#undef KEY
    const bool phi3 = !strcmp(arch, "phi3");
    qins_gguf_writer_add_tensor(g, "token_embd.weight", 2, (uint64_t[]){E, V}, QINS_GGML_F32, w->embd);
    qins_gguf_writer_add_tensor(g, "output.weight", 2, (uint64_t[]){E, V}, QINS_GGML_F32, w->out);
    qins_gguf_writer_add_tensor(g, "output_norm.weight", 1, (uint64_t[]){E}, QINS_GGML_F32, w->onorm);
    if (factors) {
        qins_gguf_writer_add_tensor(g, "rope_factors_short.weight", 1, (uint64_t[]){D / 2}, QINS_GGML_F32, w->short_f);
        qins_gguf_writer_add_tensor(g, "rope_factors_long.weight", 1, (uint64_t[]){D / 2}, QINS_GGML_F32, w->long_f);
    }
    static float qkv[(H + 2 * HK) * D * E], gu[2 * F * E], qp[H * D * E], kp[HK * D * E];
    char name[64];
    for (int l = 0; l < L; l++) {
#define T(suffix, nd, n0, n1, data)                                                                               \
    snprintf(name, sizeof name, "blk.%d.%s.weight", l, suffix);                                                    \
    cr_assert_eq(qins_gguf_writer_add_tensor(g, name, nd, (uint64_t[]){n0, n1}, QINS_GGML_F32, data), 0)
        T("attn_norm", 1, E, 1, w->anorm[l]);
        T("ffn_norm", 1, E, 1, w->fnorm[l]);
        T("attn_output", 2, H * D, E, w->o[l]);
        T("ffn_down", 2, F, E, w->down[l]);
        if (phi3) {
            memcpy(qkv, w->q[l], sizeof w->q[l]);
            memcpy(qkv + H * D * E, w->k[l], sizeof w->k[l]);
            memcpy(qkv + (H + HK) * D * E, w->v[l], sizeof w->v[l]);
            memcpy(gu, w->gate[l], sizeof w->gate[l]);
            memcpy(gu + F * E, w->up[l], sizeof w->up[l]);
            T("attn_qkv", 2, E, (H + 2 * HK) * D, qkv);
            T("ffn_up", 2, E, 2 * F, gu);
        } else {
            permute_rows(w->q[l], qp, H);
            permute_rows(w->k[l], kp, HK);
            T("attn_q", 2, E, H * D, qp);
            T("attn_k", 2, E, HK * D, kp);
            T("attn_v", 2, E, HK * D, w->v[l]);
            T("ffn_gate", 2, E, F, w->gate[l]);
            T("ffn_up", 2, E, F, w->up[l]);
        }
#undef T
    }
    cr_assert_eq(qins_gguf_writer_write_file(g, path), 0);
    qins_gguf_writer_free(g);
}

// Runs tokens 0..n-1 through a model at context n_ctx; returns logits (n, V), malloc'ed.
static float *run(const char *path, int n_ctx, int n, struct qins_model **keep) {
    struct qins_model *m;
    struct qins_kv_store *kv;
    struct qins_state *s;
    cr_assert_eq(qins_model_load(path, &m), 0, "load %s", path);
    cr_assert_eq(qins_kv_store_fp32_init(L, n_ctx, HK * D, &kv), 0);
    cr_assert_eq(qins_state_init(m, n_ctx, n_ctx, kv, &s), 0);
    int32_t tok[CTX];
    for (int i = 0; i < n; i++) tok[i] = (i * 37 + 5) % V;
    cr_assert_eq(qins_forward(m, s, tok, n, 0, true), 0);
    float *out = malloc((size_t)n * V * sizeof(float));
    memcpy(out, s->logits, (size_t)n * V * sizeof(float));
    qins_state_free(s);
    qins_kv_free(kv);
    if (keep) *keep = m;
    else qins_model_free(m);
    return out;
}

static double max_rel(const float *a, const float *b, int n) {
    double num = 0, den = 0;
    for (int i = 0; i < n; i++) num = fmax(num, fabs(a[i] - b[i])), den = fmax(den, fabs(b[i]));
    return num / den;
}

static struct weights W;

static void check_equivalent(bool factors, int window, int n_ctx) {
    char p_phi[] = "/tmp/qins_phi3_XXXXXX", p_llama[] = "/tmp/qins_llama_XXXXXX";
    close(mkstemp(p_phi)), close(mkstemp(p_llama));
    make_weights(&W, false);
    write_model(&W, "phi3", factors, 1.1f, window, p_phi);
    write_model(&W, "llama", factors, 1.1f, window, p_llama);
    struct qins_model *m;
    float *a = run(p_phi, n_ctx, n_ctx, &m), *b = run(p_llama, n_ctx, n_ctx, NULL);
    cr_assert(m->hp.arch == QINS_ARCH_PHI3 && m->hp.rope_neox);
    double err = max_rel(a, b, n_ctx * V);
    cr_assert_lt(err, 1e-5, "phi3 fused vs llama unfused (factors %d, window %d, ctx %d): max rel diff %g", factors,
                 window, n_ctx, err);
    qins_model_free(m);
    free(a), free(b);
    unlink(p_phi), unlink(p_llama);
}

Test(phi3, fused_equals_unfused_llama_without_rope_factors) { check_equivalent(false, 0, 48); }
Test(phi3, fused_equals_unfused_llama_with_short_factors) { check_equivalent(true, 0, ORIG); }
Test(phi3, fused_equals_unfused_llama_with_long_factors) { check_equivalent(true, 0, CTX); }
Test(phi3, fused_equals_unfused_llama_with_sliding_window) { check_equivalent(false, 7, 48); }

// Short factors apply up to the original context (unit short factors + attn factor 1 leave the
// model unchanged); beyond it the long factors take over and change the logits.
Test(phi3, longrope_short_factors_up_to_original_context_long_beyond) {
    char p_plain[] = "/tmp/qins_plain_XXXXXX", p_rope[] = "/tmp/qins_rope_XXXXXX";
    close(mkstemp(p_plain)), close(mkstemp(p_rope));
    make_weights(&W, true);
    write_model(&W, "phi3", false, 0, 0, p_plain);
    write_model(&W, "phi3", true, 0, 0, p_rope); // unit short factors, no attn factor
    struct qins_model *m;
    float *plain = run(p_plain, ORIG, ORIG, NULL), *short_ctx = run(p_rope, ORIG, ORIG, &m);
    cr_assert_not_null(m->rope_short);
    cr_assert_not_null(m->rope_long);
    qins_model_free(m);
    float *long_ctx = run(p_rope, CTX, ORIG, NULL);
    double d_short = max_rel(short_ctx, plain, ORIG * V), d_long = max_rel(long_ctx, short_ctx, ORIG * V);
    cr_assert_lt(d_short, 1e-6, "n_ctx <= original context must use the (unit) short factors (%g)", d_short);
    cr_assert_gt(d_long, 1e-3, "the long factors must change the logits once n_ctx > original (%g)", d_long);
    free(plain), free(short_ctx), free(long_ctx);
    unlink(p_plain), unlink(p_rope);
}
