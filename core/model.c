// core/model.c — loading llama/phi3 GGUF models into linear slots (views in the stored format).
#include "model.h"

#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "util.h"

const char *qins_site_name(enum qins_site site) {
    static const char *names[QINS_SITE_COUNT] = {"attn_in", "q", "k", "v", "attn_out", "o", "ffn_in",
                                                 "gate", "up", "ffn_act", "down", "resid", "logits"};
    return site >= 0 && site < QINS_SITE_COUNT ? names[site] : "?";
}

void qins_set_threads(int n) {
    if (n < 1) n = 1;
    openblas_set_num_threads(n);
    omp_set_num_threads(n);
}

// ---- tensor access

// A NaN/Inf weight would surface as NaN logits far from its cause: refuse the file instead.
static int report_nonfinite(const struct qins_model *m, const char *name, uint64_t bad, uint64_t first) {
    QINS_CHECK(bad == 0, QINS_ERR_NUMERIC, "%s: tensor '%s' holds %llu NaN/Inf values (first at element %llu)", m->path,
               name, (unsigned long long)bad, (unsigned long long)first);
    return 0;
}

static int check_finite(const struct qins_model *m, const char *name, const float *x, uint64_t n) {
    uint64_t bad = 0, first = 0;
    for (uint64_t i = 0; i < n; i++)
        if (!isfinite(x[i]) && bad++ == 0) first = i;
    return report_nonfinite(m, name, bad, first);
}

// The same check on a matrix in its stored format, decoded a few rows at a time.
static int check_finite_wmat(const struct qins_model *m, const char *name, const struct qins_wmat *w) {
    if (w->type == QINS_W_F32) return check_finite(m, name, w->data, (uint64_t)w->rows * w->cols);
    const int chunk = w->cols >= 65536 ? 1 : 65536 / w->cols;
    float *buf = malloc((size_t)chunk * w->cols * sizeof *buf);
    QINS_CHECK(buf, QINS_ERR_NOMEM, "%s: out of memory checking '%s'", m->path, name);
    uint64_t bad = 0, first = 0;
    for (int r0 = 0; r0 < w->rows; r0 += chunk) {
        const int nr = w->rows - r0 < chunk ? w->rows - r0 : chunk;
        qins_wmat_decode(w, r0, nr, 0, w->cols, buf, (size_t)w->cols);
        for (size_t i = 0; i < (size_t)nr * w->cols; i++)
            if (!isfinite(buf[i]) && bad++ == 0) first = (uint64_t)r0 * w->cols + i;
    }
    free(buf);
    return report_nonfinite(m, name, bad, first);
}

static const struct qins_gguf_tensor *find_checked(struct qins_model *m, const char *name, int n_dims,
                                                   const uint64_t *ne, bool optional, int *st) {
    *st = 0;
    const struct qins_gguf_tensor *t = qins_gguf_find_tensor(m->gguf, name);
    if (!t) {
        if (!optional) {
            qins_log(QINS_LOG_ERROR, "%s: tensor '%s' is missing", m->path, name);
            *st = QINS_ERR_FORMAT;
        }
        return NULL;
    }
    for (int d = 0; d < 4; d++) {
        uint64_t want = d < n_dims ? ne[d] : 1;
        if (t->ne[d] != want) {
            qins_log(QINS_LOG_ERROR, "%s: tensor '%s' has shape [%llu, %llu, %llu], expected [%llu, %llu] from the metadata",
                     m->path, name, (unsigned long long)t->ne[0], (unsigned long long)t->ne[1],
                     (unsigned long long)t->ne[2], (unsigned long long)ne[0], (unsigned long long)(n_dims > 1 ? ne[1] : 1));
            *st = QINS_ERR_FORMAT;
            return NULL;
        }
    }
    if (!qins_ggml_type_supported(t->type)) {
        qins_log(QINS_LOG_ERROR, "%s: tensor '%s' has type %s, which this harness does not load (F32, F16, BF16, Q8_0)",
                 m->path, name, qins_ggml_type_name(t->type));
        *st = QINS_ERR_UNSUPPORTED;
        return NULL;
    }
    return t;
}

// A dequantised FP32 copy of t, owned by the model.
static int owned_copy(struct qins_model *m, const struct qins_gguf_tensor *t, const float **out) {
    float *copy = qins_alloc_aligned(t->n_elements * sizeof(float));
    QINS_CHECK(copy, QINS_ERR_NOMEM, "%s: out of memory dequantising '%s'", m->path, t->name);
    if (qins_grow(&m->owned, &m->owned_cap, m->n_owned + 1, sizeof *m->owned) < 0) {
        free(copy);
        return QINS_ERR_NOMEM;
    }
    m->owned[m->n_owned++] = copy;
    QINS_TRY(qins_gguf_tensor_to_f32(t, copy));
    *out = copy;
    return 0;
}

// An FP32 vector (norms, rope factors: small): the mapping itself for F32, else a copy.
static int tensor_f32(struct qins_model *m, const char *name, int n_dims, const uint64_t *ne, bool optional,
                      const float **out) {
    *out = NULL;
    int st;
    const struct qins_gguf_tensor *t = find_checked(m, name, n_dims, ne, optional, &st);
    if (!t) return st;
    m->weight_bytes += t->n_elements * sizeof(float);
    m->weight_bytes_stored += t->n_elements * sizeof(float);
    if (t->type == QINS_GGML_F32 && ((uintptr_t)t->data & 3) == 0) *out = t->data;
    else QINS_TRY(owned_copy(m, t, out));
    return check_finite(m, name, *out, t->n_elements);
}

static enum qins_wtype wtype_of(enum qins_ggml_type t) {
    switch (t) {
    case QINS_GGML_F16: return QINS_W_F16;
    case QINS_GGML_BF16: return QINS_W_BF16;
    case QINS_GGML_Q8_0: return QINS_W_Q8_0;
    default: return QINS_W_F32;
    }
}

// A matrix [ne0 = cols, ne1 = rows] as stored (a view into the mapping), or as an FP32 copy
// when the model is loaded with dequantize (or an F32 tensor is misaligned). out->data is
// NULL for a missing optional tensor.
static int tensor_matrix(struct qins_model *m, const char *name, uint64_t cols, uint64_t rows, bool optional,
                         struct qins_wmat *out) {
    memset(out, 0, sizeof *out);
    int st;
    const struct qins_gguf_tensor *t = find_checked(m, name, 2, (uint64_t[]){cols, rows}, optional, &st);
    if (!t) return st;
    QINS_CHECK(cols <= INT32_MAX && rows <= INT32_MAX, QINS_ERR_FORMAT, "%s: tensor '%s' is too large", m->path, name);
    enum qins_wtype wt = wtype_of(t->type);
    const void *data = t->data;
    if ((wt == QINS_W_F32 && ((uintptr_t)data & 3) != 0) || (wt != QINS_W_F32 && m->dequantized)) {
        const float *copy;
        QINS_TRY(owned_copy(m, t, &copy));
        data = copy, wt = QINS_W_F32;
    }
    QINS_CHECK(qins_wmat_init(out, wt, data, (int)rows, (int)cols) == 0, QINS_ERR_FORMAT,
               "%s: tensor '%s' of type %s has %llu columns, not a whole number of blocks", m->path, name,
               qins_ggml_type_name(t->type), (unsigned long long)cols);
    m->weight_bytes += t->n_elements * sizeof(float);
    m->weight_bytes_stored += qins_wmat_bytes(out);
    return check_finite_wmat(m, name, out);
}

static int layer_matrix(struct qins_model *m, int layer, const char *suffix, uint64_t cols, uint64_t rows,
                        struct qins_wmat *out) {
    char name[96];
    snprintf(name, sizeof name, "blk.%d.%s.weight", layer, suffix);
    return tensor_matrix(m, name, cols, rows, false, out);
}

static int layer_vector(struct qins_model *m, int layer, const char *suffix, uint64_t n, const float **out) {
    char name[96];
    snprintf(name, sizeof name, "blk.%d.%s.weight", layer, suffix);
    return tensor_f32(m, name, 1, (uint64_t[]){n}, false, out);
}

// Rows r0 .. r0+n of a matrix (a fused tensor's part) as a matrix of its own.
static struct qins_wmat wmat_rows(const struct qins_wmat *w, int r0, int n) {
    struct qins_wmat v = *w;
    v.data = (const uint8_t *)w->data + (size_t)r0 * w->row_bytes;
    v.rows = n;
    return v;
}

static void slot_init(struct qins_linear *lin, struct qins_model *m, int layer, enum qins_site site, const char *tag,
                      const struct qins_wmat *w) {
    memset(lin, 0, sizeof *lin);
    if (layer >= 0) snprintf(lin->name, sizeof lin->name, "blk.%d.%s", layer, tag);
    else snprintf(lin->name, sizeof lin->name, "%s", tag);
    lin->layer = layer;
    lin->site = site;
    lin->n_in = w->cols;
    lin->n_out = w->rows;
    lin->wm = *w;
    lin->w = w->type == QINS_W_F32 ? w->data : NULL;
    lin->w_stored_bytes = qins_wmat_bytes(w);
    lin->counters = &m->counters;
}

// ---- hyper-parameters

static int get_u32(struct qins_model *m, const char *arch, const char *suffix, bool optional, uint32_t dflt, int *out) {
    char key[128];
    snprintf(key, sizeof key, "%s.%s", arch, suffix);
    uint32_t v;
    int st = qins_gguf_get_u32(m->gguf, key, &v);
    if (st == QINS_ERR_RANGE) {
        QINS_CHECK(optional, QINS_ERR_FORMAT, "%s: metadata key '%s' is missing", m->path, key);
        v = dflt;
    } else if (st < 0) {
        return st;
    }
    QINS_CHECK(v <= (1u << 30), QINS_ERR_FORMAT, "%s: metadata '%s' = %u is absurd", m->path, key, v);
    *out = (int)v;
    return 0;
}

static int get_f32(struct qins_model *m, const char *arch, const char *suffix, float dflt, float *out) {
    char key[128];
    snprintf(key, sizeof key, "%s.%s", arch, suffix);
    int st = qins_gguf_get_f32(m->gguf, key, out);
    if (st == QINS_ERR_RANGE) *out = dflt;
    else if (st < 0) return st;
    QINS_CHECK(isfinite(*out), QINS_ERR_FORMAT, "%s: metadata '%s' is not finite", m->path, key);
    return 0;
}

static int load_hparams(struct qins_model *m) {
    struct qins_hparams *hp = &m->hp;
    char arch[64];
    int st = qins_gguf_get_str(m->gguf, "general.architecture", arch, sizeof arch);
    QINS_CHECK(st == 0, QINS_ERR_FORMAT, "%s: metadata 'general.architecture' is missing", m->path);
    if (!strcmp(arch, "llama")) hp->arch = QINS_ARCH_LLAMA;
    else if (!strcmp(arch, "phi3")) hp->arch = QINS_ARCH_PHI3;
    else QINS_CHECK(0, QINS_ERR_UNSUPPORTED, "%s: architecture '%s' is not supported (llama, phi3)", m->path, arch);
    QINS_TRY(get_u32(m, arch, "block_count", false, 0, &hp->n_layer));
    QINS_TRY(get_u32(m, arch, "embedding_length", false, 0, &hp->n_embd));
    QINS_TRY(get_u32(m, arch, "feed_forward_length", false, 0, &hp->n_ff));
    QINS_TRY(get_u32(m, arch, "attention.head_count", false, 0, &hp->n_head));
    QINS_TRY(get_u32(m, arch, "attention.head_count_kv", true, (uint32_t)hp->n_head, &hp->n_head_kv));
    QINS_TRY(get_u32(m, arch, "context_length", false, 0, &hp->n_ctx_train));
    QINS_CHECK(hp->n_layer > 0 && hp->n_embd > 0 && hp->n_ff > 0 && hp->n_head > 0 && hp->n_head_kv > 0 &&
                   hp->n_ctx_train > 0,
               QINS_ERR_FORMAT, "%s: zero-sized hyper-parameters", m->path);
    QINS_CHECK(hp->n_head % hp->n_head_kv == 0, QINS_ERR_FORMAT, "%s: %d heads are not a multiple of %d kv heads",
               m->path, hp->n_head, hp->n_head_kv);
    QINS_TRY(get_u32(m, arch, "attention.key_length", true, (uint32_t)(hp->n_embd / hp->n_head), &hp->head_dim));
    int value_length;
    QINS_TRY(get_u32(m, arch, "attention.value_length", true, (uint32_t)hp->head_dim, &value_length));
    QINS_CHECK(hp->head_dim > 0 && value_length == hp->head_dim, QINS_ERR_UNSUPPORTED,
               "%s: key length %d and value length %d differ", m->path, hp->head_dim, value_length);
    QINS_TRY(get_u32(m, arch, "rope.dimension_count", true, (uint32_t)hp->head_dim, &hp->n_rot));
    QINS_CHECK(hp->n_rot > 0 && hp->n_rot <= hp->head_dim && hp->n_rot % 2 == 0, QINS_ERR_FORMAT,
               "%s: rope dimension %d with head dim %d", m->path, hp->n_rot, hp->head_dim);
    QINS_TRY(get_f32(m, arch, "attention.layer_norm_rms_epsilon", 1e-5f, &hp->rms_eps));
    QINS_TRY(get_f32(m, arch, "rope.freq_base", 10000.0f, &hp->rope_base));
    QINS_TRY(get_u32(m, arch, "attention.sliding_window", true, 0, &hp->sliding_window));
    QINS_TRY(get_u32(m, arch, "rope.scaling.original_context_length", true, 0, &hp->n_ctx_orig));
    QINS_TRY(get_f32(m, arch, "rope.scaling.attn_factor", 1.0f, &hp->rope_attn_factor));
    hp->rope_neox = hp->arch == QINS_ARCH_PHI3;
    return 0;
}

// ---- weights

static int load_weights(struct qins_model *m) {
    struct qins_hparams *hp = &m->hp;
    const int E = hp->n_embd, D = hp->head_dim, H = hp->n_head, HK = hp->n_head_kv, F = hp->n_ff;
    const struct qins_gguf_tensor *te = qins_gguf_find_tensor(m->gguf, "token_embd.weight");
    QINS_CHECK(te, QINS_ERR_FORMAT, "%s: tensor 'token_embd.weight' is missing", m->path);
    hp->n_vocab = (int)te->ne[1];
    QINS_CHECK(te->ne[1] > 0 && te->ne[1] < (1u << 24), QINS_ERR_FORMAT, "%s: vocabulary of %llu", m->path,
               (unsigned long long)te->ne[1]);
    const int V = hp->n_vocab;
    QINS_TRY(tensor_matrix(m, "token_embd.weight", E, V, false, &m->embd));
    QINS_TRY(tensor_f32(m, "output_norm.weight", 1, (uint64_t[]){E}, false, &m->output_norm));
    struct qins_wmat out_w;
    QINS_TRY(tensor_matrix(m, "output.weight", E, V, true, &out_w));
    slot_init(&m->output, m, -1, QINS_SITE_LOGITS, "output", out_w.data ? &out_w : &m->embd);
    if (hp->n_ctx_orig > 0 || qins_gguf_find_tensor(m->gguf, "rope_factors_short.weight")) {
        QINS_TRY(tensor_f32(m, "rope_factors_short.weight", 1, (uint64_t[]){hp->n_rot / 2}, true, &m->rope_short));
        QINS_TRY(tensor_f32(m, "rope_factors_long.weight", 1, (uint64_t[]){hp->n_rot / 2}, true, &m->rope_long));
    }
    m->layers = calloc(hp->n_layer, sizeof *m->layers);
    QINS_CHECK(m->layers, QINS_ERR_NOMEM, "out of memory");
    for (int l = 0; l < hp->n_layer; l++) {
        struct qins_layer *L = &m->layers[l];
        QINS_TRY(layer_vector(m, l, "attn_norm", E, &L->attn_norm));
        QINS_TRY(layer_vector(m, l, "ffn_norm", E, &L->ffn_norm));
        struct qins_wmat wq, wk, wv, wo, wg, wu, wd;
        if (hp->arch == QINS_ARCH_PHI3) {
            // fused qkv: rows q (H*D) then k (HK*D) then v (HK*D); split as views
            struct qins_wmat qkv, gu;
            QINS_TRY(layer_matrix(m, l, "attn_qkv", E, (uint64_t)(H + 2 * HK) * D, &qkv));
            wq = wmat_rows(&qkv, 0, H * D);
            wk = wmat_rows(&qkv, H * D, HK * D);
            wv = wmat_rows(&qkv, (H + HK) * D, HK * D);
            // fused ffn_up: rows gate (F) then up (F)
            QINS_TRY(layer_matrix(m, l, "ffn_up", E, 2 * (uint64_t)F, &gu));
            wg = wmat_rows(&gu, 0, F);
            wu = wmat_rows(&gu, F, F);
        } else {
            QINS_TRY(layer_matrix(m, l, "attn_q", E, (uint64_t)H * D, &wq));
            QINS_TRY(layer_matrix(m, l, "attn_k", E, (uint64_t)HK * D, &wk));
            QINS_TRY(layer_matrix(m, l, "attn_v", E, (uint64_t)HK * D, &wv));
            QINS_TRY(layer_matrix(m, l, "ffn_gate", E, F, &wg));
            QINS_TRY(layer_matrix(m, l, "ffn_up", E, F, &wu));
        }
        QINS_TRY(layer_matrix(m, l, "attn_output", (uint64_t)H * D, E, &wo));
        QINS_TRY(layer_matrix(m, l, "ffn_down", F, E, &wd));
        slot_init(&L->wq, m, l, QINS_SITE_Q, "attn_q", &wq);
        slot_init(&L->wk, m, l, QINS_SITE_K, "attn_k", &wk);
        slot_init(&L->wv, m, l, QINS_SITE_V, "attn_v", &wv);
        slot_init(&L->wo, m, l, QINS_SITE_O, "attn_output", &wo);
        slot_init(&L->wgate, m, l, QINS_SITE_GATE, "ffn_gate", &wg);
        slot_init(&L->wup, m, l, QINS_SITE_UP, "ffn_up", &wu);
        slot_init(&L->wdown, m, l, QINS_SITE_DOWN, "ffn_down", &wd);
    }
    return 0;
}

int qins_model_load(const char *path, struct qins_model **out) { return qins_model_load_opts(path, NULL, out); }

int qins_model_load_opts(const char *path, const struct qins_model_opts *opts, struct qins_model **out) {
    *out = NULL;
    struct qins_model *m = calloc(1, sizeof *m);
    QINS_CHECK(m, QINS_ERR_NOMEM, "out of memory");
    m->dequantized = opts && opts->dequantize;
    snprintf(m->path, sizeof m->path, "%s", path);
    int st = qins_gguf_open(path, &m->gguf);
    if (st == 0) st = load_hparams(m);
    if (st == 0) st = load_weights(m);
    if (st < 0) {
        qins_model_free(m);
        return st;
    }
    *out = m;
    return 0;
}

void qins_model_free(struct qins_model *m) {
    if (!m) return;
    for (size_t i = 0; i < m->n_owned; i++) free(m->owned[i]);
    for (int l = 0; m->layers && l < m->hp.n_layer; l++)
        for (int i = 0; i < QINS_SLOTS_PER_LAYER; i++) free(qins_model_slot(m, l, i)->w_copy);
    free(m->output.w_copy);
    free(m->embd_row_reads);
    free(m->owned);
    free(m->layers);
    qins_gguf_free(m->gguf);
    free(m);
}

struct qins_linear *qins_model_slot(struct qins_model *m, int layer, int index) {
    if (layer < 0 || layer >= m->hp.n_layer || index < 0 || index >= QINS_SLOTS_PER_LAYER) return NULL;
    struct qins_layer *L = &m->layers[layer];
    struct qins_linear *slots[QINS_SLOTS_PER_LAYER] = {&L->wq, &L->wk, &L->wv, &L->wo, &L->wgate, &L->wup, &L->wdown};
    return slots[index];
}

int qins_model_track_embedding_rows(struct qins_model *m, bool enable) {
    free(m->embd_row_reads);
    m->embd_row_reads = NULL;
    if (!enable) return 0;
    m->embd_row_reads = calloc((size_t)m->hp.n_vocab, sizeof *m->embd_row_reads);
    QINS_CHECK(m->embd_row_reads, QINS_ERR_NOMEM, "out of memory for %d embedding row counters", m->hp.n_vocab);
    return 0;
}

void qins_model_reset_access(struct qins_model *m) {
    for (int l = 0; l < m->hp.n_layer; l++)
        for (int i = 0; i < QINS_SLOTS_PER_LAYER; i++) {
            struct qins_linear *lin = qins_model_slot(m, l, i);
            lin->n_calls = lin->n_tokens = 0;
        }
    m->output.n_calls = m->output.n_tokens = 0;
    if (m->embd_row_reads) memset(m->embd_row_reads, 0, (size_t)m->hp.n_vocab * sizeof *m->embd_row_reads);
}

int qins_model_add_observer(struct qins_model *m, qins_observer_fn fn, void *user) {
    QINS_CHECK(m->n_observers < QINS_MAX_OBSERVERS, QINS_ERR_RANGE, "too many observers (max %d)", QINS_MAX_OBSERVERS);
    m->observers[m->n_observers].fn = fn;
    m->observers[m->n_observers].user = user;
    m->n_observers++;
    return 0;
}

void qins_model_clear_observers(struct qins_model *m) { m->n_observers = 0; }

int qins_matmul_f32(const float *w, int n_out, int n_in, const float *x, int n_tok, float *y) {
    const struct qins_wmat wm = {QINS_W_F32, w, n_out, n_in, (size_t)n_in * sizeof(float)};
    return qins_matmul(&wm, x, n_tok, y);
}

int qins_linear_stored(struct qins_linear *lin, const float *x, int n_tok, float *y) {
    QINS_TRY(qins_matmul(&lin->wm, x, n_tok, y));
    if (lin->counters) lin->counters->weight_bytes_read += lin->w_stored_bytes;
    return 0;
}

int qins_linear_weights_f32(struct qins_linear *lin, const float **out) {
    if (!lin->w) {
        const size_t n = (size_t)lin->n_out * lin->n_in;
        lin->w_copy = qins_alloc_aligned(n * sizeof(float));
        QINS_CHECK(lin->w_copy, QINS_ERR_NOMEM, "%s: out of memory for an FP32 copy of %zu weights", lin->name, n);
        qins_wmat_decode(&lin->wm, 0, lin->n_out, 0, lin->n_in, lin->w_copy, (size_t)lin->n_in);
        lin->w = lin->w_copy;
    }
    *out = lin->w;
    return 0;
}
