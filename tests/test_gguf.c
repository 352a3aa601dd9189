// tests/test_gguf.c — the GGUF writer (round trips through the reader), the random model writer,
// and the reader's robustness: truncated, bit-flipped and deliberately corrupted copies of the
// real stories260K.gguf must all be refused with a negative status, never crash (ASan in CI).
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common.h"
#include "gguf.h"
#include "gguf_write.h"
#include "helpers/shared_paths.h"
#include "helpers/tiny_model.h"
#include "model.h"
#include "model_writer.h"

// Silences the expected error lines of thousands of refused files (errors still set last_error).
static void quiet_sink(int level, const char *msg, void *user) {
    (void)level, (void)msg, (void)user;
}
static void quiet(void) { qins_log_set(quiet_sink, NULL); }

static uint8_t *read_whole(const char *path, size_t *size) {
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "cannot open %s", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *buf = malloc((size_t)n);
    cr_assert_not_null(buf);
    cr_assert_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *size = (size_t)n;
    return buf;
}

// ---------------------------------------------------------------- writer round trip

#define N_ROWS 3
#define ROW 64

static void fill_data(float *x, uint64_t n, float scale) {
    for (uint64_t i = 0; i < n; i++) x[i] = scale * sinf(0.37f * (float)i + 0.1f) * (1.0f + (float)(i % 7));
}

static int fill_cb(void *user, uint64_t first_row, uint64_t n_rows, float *dst) {
    const float *src = user;
    memcpy(dst, src + first_row * ROW, n_rows * ROW * sizeof *dst);
    return 0;
}

// Adds one KV of every type, and one tensor of each writable type (plus a streamed one).
static void build_everything(qins_gguf_writer_t *w, const float *data) {
    cr_assert_eq(qins_gguf_writer_add_u8(w, "t.u8", 200), 0);
    cr_assert_eq(qins_gguf_writer_add_i8(w, "t.i8", -100), 0);
    cr_assert_eq(qins_gguf_writer_add_u16(w, "t.u16", 65000), 0);
    cr_assert_eq(qins_gguf_writer_add_i16(w, "t.i16", -32000), 0);
    cr_assert_eq(qins_gguf_writer_add_u32(w, "t.u32", 4000000000u), 0);
    cr_assert_eq(qins_gguf_writer_add_i32(w, "t.i32", -2000000000), 0);
    cr_assert_eq(qins_gguf_writer_add_u64(w, "t.u64", 0xfedcba9876543210ull), 0);
    cr_assert_eq(qins_gguf_writer_add_i64(w, "t.i64", -0x123456789abcdefll), 0);
    cr_assert_eq(qins_gguf_writer_add_f32(w, "t.f32", 3.25f), 0);
    cr_assert_eq(qins_gguf_writer_add_f64(w, "t.f64", -1.0 / 3.0), 0);
    cr_assert_eq(qins_gguf_writer_add_bool(w, "t.bool_t", true), 0);
    cr_assert_eq(qins_gguf_writer_add_bool(w, "t.bool_f", false), 0);
    cr_assert_eq(qins_gguf_writer_add_str(w, "t.str", "h\xc3\xa9llo \xe2\x96\x81world"), 0);
    cr_assert_eq(qins_gguf_writer_add_str_n(w, "t.str_nul", "a\0b", 3), 0);
    cr_assert_eq(qins_gguf_writer_add_str(w, "t.str_empty", ""), 0);
    const float af[3] = {1.5f, -2.0f, 1e-20f};
    const int32_t ai[4] = {1, -2, 3, INT32_MIN};
    const uint8_t ab[3] = {1, 0, 1};
    const double ad[2] = {M_PI, -0.0};
    const uint64_t au[2] = {0, UINT64_MAX};
    cr_assert_eq(qins_gguf_writer_add_arr(w, "t.arr_f32", QINS_GGUF_FLOAT32, af, 3), 0);
    cr_assert_eq(qins_gguf_writer_add_arr(w, "t.arr_i32", QINS_GGUF_INT32, ai, 4), 0);
    cr_assert_eq(qins_gguf_writer_add_arr(w, "t.arr_bool", QINS_GGUF_BOOL, ab, 3), 0);
    cr_assert_eq(qins_gguf_writer_add_arr(w, "t.arr_f64", QINS_GGUF_FLOAT64, ad, 2), 0);
    cr_assert_eq(qins_gguf_writer_add_arr(w, "t.arr_u64", QINS_GGUF_UINT64, au, 2), 0);
    cr_assert_eq(qins_gguf_writer_add_arr(w, "t.arr_empty", QINS_GGUF_UINT8, NULL, 0), 0);
    const char *strs[3] = {"<s>", "", "\xe2\x96\x81the"};
    cr_assert_eq(qins_gguf_writer_add_arr_str(w, "t.arr_str", strs, NULL, 3), 0);

    const uint64_t ne2[2] = {ROW, N_ROWS}, ne1[1] = {5}, ne4[4] = {32, 2, 1, 3};
    cr_assert_eq(qins_gguf_writer_add_tensor(w, "f32", 2, ne2, QINS_GGML_F32, data), 0);
    cr_assert_eq(qins_gguf_writer_add_tensor(w, "f16", 2, ne2, QINS_GGML_F16, data), 0);
    cr_assert_eq(qins_gguf_writer_add_tensor(w, "bf16", 2, ne2, QINS_GGML_BF16, data), 0);
    cr_assert_eq(qins_gguf_writer_add_tensor(w, "q8_0", 2, ne2, QINS_GGML_Q8_0, data), 0);
    cr_assert_eq(qins_gguf_writer_add_tensor(w, "odd_1d", 1, ne1, QINS_GGML_F32, data), 0);
    cr_assert_eq(qins_gguf_writer_add_tensor(w, "four_d", 4, ne4, QINS_GGML_F16, data), 0);
    cr_assert_eq(qins_gguf_writer_add_tensor_fn(w, "streamed_q8", 2, ne2, QINS_GGML_Q8_0, fill_cb, (void *)data, NULL),
                 0);
}

static void check_everything(const qins_gguf_t *g, const float *data, uint64_t alignment) {
    uint64_t u;
    float f;
    bool b;
    char s[64];
    const struct qins_gguf_kv *kv;
    cr_assert_eq(qins_gguf_version(g), 3);
    cr_assert_eq(qins_gguf_get_u64(g, "t.u8", &u), 0);
    cr_assert_eq(u, 200);
    cr_assert_eq(qins_gguf_find_kv(g, "t.u8")->type, QINS_GGUF_UINT8);
    cr_assert_eq(qins_gguf_find_kv(g, "t.i8")->v.i64, -100);
    cr_assert_eq(qins_gguf_find_kv(g, "t.i8")->type, QINS_GGUF_INT8);
    cr_assert_eq(qins_gguf_find_kv(g, "t.u16")->v.u64, 65000);
    cr_assert_eq(qins_gguf_find_kv(g, "t.u16")->type, QINS_GGUF_UINT16);
    cr_assert_eq(qins_gguf_find_kv(g, "t.i16")->v.i64, -32000);
    cr_assert_eq(qins_gguf_find_kv(g, "t.i16")->type, QINS_GGUF_INT16);
    uint32_t u32;
    cr_assert_eq(qins_gguf_get_u32(g, "t.u32", &u32), 0);
    cr_assert_eq(u32, 4000000000u);
    cr_assert_eq(qins_gguf_find_kv(g, "t.i32")->v.i64, -2000000000);
    cr_assert_eq(qins_gguf_find_kv(g, "t.i32")->type, QINS_GGUF_INT32);
    cr_assert_eq(qins_gguf_get_u64(g, "t.u64", &u), 0);
    cr_assert_eq(u, 0xfedcba9876543210ull);
    cr_assert_eq(qins_gguf_find_kv(g, "t.u64")->type, QINS_GGUF_UINT64);
    cr_assert_eq(qins_gguf_find_kv(g, "t.i64")->v.i64, -0x123456789abcdefll);
    cr_assert_eq(qins_gguf_find_kv(g, "t.i64")->type, QINS_GGUF_INT64);
    cr_assert_eq(qins_gguf_get_f32(g, "t.f32", &f), 0);
    cr_assert_eq(f, 3.25f);
    cr_assert_eq(qins_gguf_find_kv(g, "t.f32")->type, QINS_GGUF_FLOAT32);
    kv = qins_gguf_find_kv(g, "t.f64");
    cr_assert_eq(kv->type, QINS_GGUF_FLOAT64);
    cr_assert_eq(kv->v.f64, -1.0 / 3.0, "f64 exact");
    cr_assert_eq(qins_gguf_get_bool(g, "t.bool_t", &b), 0);
    cr_assert(b);
    cr_assert_eq(qins_gguf_get_bool(g, "t.bool_f", &b), 0);
    cr_assert(!b);
    cr_assert_eq(qins_gguf_find_kv(g, "t.bool_t")->type, QINS_GGUF_BOOL);
    cr_assert_eq(qins_gguf_get_str(g, "t.str", s, sizeof s), 0);
    cr_assert_str_eq(s, "h\xc3\xa9llo \xe2\x96\x81world");
    kv = qins_gguf_find_kv(g, "t.str_nul");
    cr_assert_eq(kv->v.str.len, 3);
    cr_assert(!memcmp(kv->v.str.data, "a\0b", 3));
    cr_assert_eq(qins_gguf_find_kv(g, "t.str_empty")->v.str.len, 0);
    const float *af;
    const int32_t *ai;
    uint64_t n;
    float fv[3];
    int32_t iv[4];
    // Array payloads sit at any byte offset in the file: copy them out (UBSan checks alignment).
    cr_assert_eq(qins_gguf_get_arr_f32(g, "t.arr_f32", &af, &n), 0);
    cr_assert_eq(n, 3);
    memcpy(fv, (const void *)af, sizeof fv);
    cr_assert(fv[0] == 1.5f && fv[1] == -2.0f && fv[2] == 1e-20f);
    cr_assert_eq(qins_gguf_get_arr_i32(g, "t.arr_i32", &ai, &n), 0);
    memcpy(iv, (const void *)ai, sizeof iv);
    cr_assert(n == 4 && iv[0] == 1 && iv[1] == -2 && iv[2] == 3 && iv[3] == INT32_MIN);
    kv = qins_gguf_find_kv(g, "t.arr_bool");
    cr_assert(kv->type == QINS_GGUF_ARRAY && kv->v.arr.type == QINS_GGUF_BOOL && kv->v.arr.n == 3);
    cr_assert(!memcmp(kv->v.arr.data, "\1\0\1", 3));
    kv = qins_gguf_find_kv(g, "t.arr_f64");
    double d2[2];
    memcpy(d2, kv->v.arr.data, 16);
    cr_assert(kv->v.arr.type == QINS_GGUF_FLOAT64 && d2[0] == M_PI && d2[1] == 0.0 && signbit(d2[1]));
    kv = qins_gguf_find_kv(g, "t.arr_u64");
    uint64_t u2[2];
    memcpy(u2, kv->v.arr.data, 16);
    cr_assert(kv->v.arr.type == QINS_GGUF_UINT64 && u2[0] == 0 && u2[1] == UINT64_MAX);
    cr_assert_eq(qins_gguf_find_kv(g, "t.arr_empty")->v.arr.n, 0);
    const struct qins_gguf_str *strs;
    cr_assert_eq(qins_gguf_get_arr_str(g, "t.arr_str", &strs, &n), 0);
    cr_assert_eq(n, 3);
    cr_assert(strs[0].len == 3 && !memcmp(strs[0].data, "<s>", 3));
    cr_assert_eq(strs[1].len, 0);
    cr_assert(strs[2].len == 6 && !memcmp(strs[2].data, "\xe2\x96\x81the", 6));

    cr_assert_eq(qins_gguf_n_tensors(g), 7);
    const char *names[7] = {"f32", "f16", "bf16", "q8_0", "odd_1d", "four_d", "streamed_q8"};
    const int types[7] = {QINS_GGML_F32, QINS_GGML_F16, QINS_GGML_BF16, QINS_GGML_Q8_0,
                          QINS_GGML_F32, QINS_GGML_F16, QINS_GGML_Q8_0};
    const uint8_t *first_data = qins_gguf_tensor_at(g, 0)->data;
    float out[N_ROWS * ROW];
    for (int i = 0; i < 7; i++) {
        const struct qins_gguf_tensor *t = qins_gguf_find_tensor(g, names[i]);
        cr_assert_not_null(t, "tensor %s", names[i]);
        cr_assert_eq((int)t->type, types[i], "%s type", names[i]);
        cr_assert_eq(t->offset % alignment, 0, "%s offset %llu aligned to %llu", names[i],
                     (unsigned long long)t->offset, (unsigned long long)alignment);
        cr_assert_eq(((const uint8_t *)t->data - first_data) % (ptrdiff_t)alignment, 0);
        cr_assert_eq(qins_gguf_tensor_to_f32(t, out), 0);
        for (uint64_t k = 0; k < t->n_elements; k++) {
            float x = data[k], tol;
            switch (types[i]) {
            case QINS_GGML_F32: tol = 0.0f; break;
            case QINS_GGML_F16: tol = fabsf(x) * 0x1p-11f + 1e-7f; break;
            case QINS_GGML_BF16: tol = fabsf(x) * 0x1p-8f + 1e-30f; break;
            default: { // Q8_0: half a step of the block's scale (plus the fp16 rounding of d)
                float amax = 0.0f;
                for (uint64_t j = k / 32 * 32; j < k / 32 * 32 + 32; j++) amax = fmaxf(amax, fabsf(data[j]));
                tol = amax / 127.0f * 0.5f + amax * 0x1p-10f;
            }
            }
            cr_assert_float_eq(out[k], x, tol + 1e-30f, "%s[%llu]", names[i], (unsigned long long)k);
        }
    }
    const struct qins_gguf_tensor *t4 = qins_gguf_find_tensor(g, "four_d");
    cr_assert(t4->n_dims == 4 && t4->ne[0] == 32 && t4->ne[1] == 2 && t4->ne[2] == 1 && t4->ne[3] == 3);
    const struct qins_gguf_tensor *t1 = qins_gguf_find_tensor(g, "odd_1d");
    cr_assert(t1->n_dims == 1 && t1->ne[0] == 5 && t1->ne[1] == 1);
    // The streamed and the in-memory Q8_0 tensors must be byte-identical.
    cr_assert(!memcmp(qins_gguf_find_tensor(g, "q8_0")->data, qins_gguf_find_tensor(g, "streamed_q8")->data,
                      qins_gguf_find_tensor(g, "q8_0")->n_bytes));
}

Test(gguf, writer_round_trips_every_kv_and_tensor_type_in_memory) {
    float data[N_ROWS * ROW];
    fill_data(data, N_ROWS * ROW, 0.5f);
    qins_gguf_writer_t *w;
    cr_assert_eq(qins_gguf_writer_init(&w), 0);
    build_everything(w, data);
    void *img;
    size_t size;
    cr_assert_eq(qins_gguf_writer_write_memory(w, &img, &size), 0);
    qins_gguf_t *g;
    cr_assert_eq(qins_gguf_open_memory(img, size, "roundtrip", &g), 0, "%s", qins_last_error());
    check_everything(g, data, 32);
    cr_assert_eq(size % 32, 0, "file ends padded to the alignment");
    qins_gguf_free(g);
    // Writing twice gives the same bytes (the streamed tensor restarts from row 0).
    void *img2;
    size_t size2;
    cr_assert_eq(qins_gguf_writer_write_memory(w, &img2, &size2), 0);
    cr_assert(size == size2 && !memcmp(img, img2, size));
    free(img);
    free(img2);
    qins_gguf_writer_free(w);
}

Test(gguf, writer_file_with_alignment_64_via_temporary_name) {
    float data[N_ROWS * ROW];
    fill_data(data, N_ROWS * ROW, 3.0f);
    qins_gguf_writer_t *w;
    cr_assert_eq(qins_gguf_writer_init(&w), 0);
    cr_assert_eq(qins_gguf_writer_set_alignment(w, 64), 0);
    quiet();
    cr_assert_eq(qins_gguf_writer_set_alignment(w, 128), QINS_ERR_STATE);
    build_everything(w, data);
    char path[1200];
    snprintf(path, sizeof path, "%s/test_gguf_writer_%ld.gguf", QINS_TEST_BIN_DIR, (long)getpid());
    cr_assert_eq(qins_gguf_writer_write_file(w, path), 0);
    char tmp[1300];
    snprintf(tmp, sizeof tmp, "%s.%ld.tmp", path, (long)getpid());
    cr_assert_neq(access(tmp, F_OK), 0, "temporary file removed");
    qins_gguf_t *g;
    cr_assert_eq(qins_gguf_open(path, &g), 0, "%s", qins_last_error());
    uint32_t al;
    cr_assert_eq(qins_gguf_get_u32(g, "general.alignment", &al), 0);
    cr_assert_eq(al, 64);
    check_everything(g, data, 64);
    qins_gguf_free(g);
    remove(path);
    // A path in a folder that does not exist fails with an I/O error and leaves nothing behind.
    cr_assert_eq(qins_gguf_writer_write_file(w, "/nonexistent-dir/x.gguf"), QINS_ERR_IO);
    qins_gguf_writer_free(w);
}

Test(gguf, writer_rejects_bad_input) {
    quiet();
    qins_gguf_writer_t *w;
    cr_assert_eq(qins_gguf_writer_init(&w), 0);
    float x[64] = {0};
    const uint64_t ne[2] = {40, 1}, ne0[2] = {0, 1}, ok[1] = {64};
    cr_assert_eq(qins_gguf_writer_add_u32(w, "a", 1), 0);
    cr_assert_eq(qins_gguf_writer_add_str(w, "a", "dup"), QINS_ERR_ARG);
    cr_assert_eq(qins_gguf_writer_add_u32(w, "", 1), QINS_ERR_ARG);
    cr_assert_eq(qins_gguf_writer_add_arr(w, "b", QINS_GGUF_STRING, x, 1), QINS_ERR_ARG);
    cr_assert_eq(qins_gguf_writer_set_alignment(w, 48), QINS_ERR_ARG);
    cr_assert_eq(qins_gguf_writer_add_tensor(w, "q", 2, ne, QINS_GGML_Q8_0, x), QINS_ERR_ARG, "40 % 32 != 0");
    cr_assert_eq(qins_gguf_writer_add_tensor(w, "z", 2, ne0, QINS_GGML_F32, x), QINS_ERR_ARG, "zero dim");
    cr_assert_eq(qins_gguf_writer_add_tensor(w, "d", 5, ne, QINS_GGML_F32, x), QINS_ERR_ARG, "5 dims");
    cr_assert_eq(qins_gguf_writer_add_tensor(w, "u", 1, ok, QINS_GGML_Q4_0, x), QINS_ERR_UNSUPPORTED);
    cr_assert_eq(qins_gguf_writer_add_tensor(w, "t", 1, ok, QINS_GGML_F32, x), 0);
    cr_assert_eq(qins_gguf_writer_add_tensor(w, "t", 1, ok, QINS_GGML_F32, x), QINS_ERR_ARG, "duplicate");
    void *img;
    size_t size;
    cr_assert_eq(qins_gguf_writer_write_memory(w, &img, &size), 0);
    qins_gguf_t *g;
    cr_assert_eq(qins_gguf_open_memory(img, size, "bad-input", &g), 0);
    cr_assert_eq(qins_gguf_n_kv(g), 1, "failed adds leave no key behind");
    cr_assert_eq(qins_gguf_n_tensors(g), 1);
    qins_gguf_free(g);
    free(img);
    qins_gguf_writer_free(w);
    qins_gguf_writer_free(NULL);
}

// Our Q8_0 quantizer against llama.cpp's gguf-py (which made the reference Q8_0 file from the
// F32 model): same scales and codes, byte for byte.
Test(gguf, q8_0_quantizer_matches_the_reference_q8_0_file) {
    char p32[1200], p8[1200];
    if (test_model_path("stories260K.gguf", p32, sizeof p32)) return;
    if (test_model_path("stories260K-Q8_0-ffnF32.gguf", p8, sizeof p8)) return;
    qins_gguf_t *a, *b;
    cr_assert_eq(qins_gguf_open(p32, &a), 0);
    cr_assert_eq(qins_gguf_open(p8, &b), 0);
    int n_q8 = 0;
    uint64_t n_bytes = 0, n_diff = 0;
    for (uint64_t i = 0; i < qins_gguf_n_tensors(b); i++) {
        const struct qins_gguf_tensor *tb = qins_gguf_tensor_at(b, i);
        if (tb->type != QINS_GGML_Q8_0) continue;
        const struct qins_gguf_tensor *ta = qins_gguf_find_tensor(a, tb->name);
        cr_assert_not_null(ta);
        float *x = malloc(ta->n_elements * sizeof *x);
        uint8_t *q = malloc(tb->n_bytes);
        cr_assert_eq(qins_gguf_tensor_to_f32(ta, x), 0);
        qins_quantize_q8_0_ref(x, q, ta->n_elements);
        for (uint64_t k = 0; k < tb->n_bytes; k++) n_diff += q[k] != ((const uint8_t *)tb->data)[k];
        n_bytes += tb->n_bytes;
        n_q8++;
        free(x);
        free(q);
    }
    cr_assert_eq(n_q8, 32, "the reference file has 32 Q8_0 tensors");
    cr_assert_eq(n_diff, 0, "%llu of %llu bytes differ from gguf-py's Q8_0", (unsigned long long)n_diff,
                 (unsigned long long)n_bytes);
    qins_gguf_free(a);
    qins_gguf_free(b);
}

Test(gguf, q8_0_zero_block_has_zero_scale) {
    float x[32] = {0};
    uint8_t q[34];
    memset(q, 0xff, sizeof q);
    qins_quantize_q8_0_ref(x, q, 32);
    for (int i = 0; i < 34; i++) cr_assert_eq(q[i], 0);
    x[3] = -2.54f; // absmax block: the extreme value maps to -127 exactly
    qins_quantize_q8_0_ref(x, q, 32);
    cr_assert_eq((int8_t)q[2 + 3], -127);
}

// ---------------------------------------------------------------- random model writer

static void check_tensor(const qins_gguf_t *g, const char *name, uint64_t ne0, uint64_t ne1, int type) {
    const struct qins_gguf_tensor *t = qins_gguf_find_tensor(g, name);
    cr_assert_not_null(t, "tensor %s missing", name);
    cr_assert(t->ne[0] == ne0 && t->ne[1] == ne1, "%s is [%llu, %llu], expected [%llu, %llu]", name,
              (unsigned long long)t->ne[0], (unsigned long long)t->ne[1], (unsigned long long)ne0,
              (unsigned long long)ne1);
    cr_assert_eq((int)t->type, type, "%s type", name);
}

Test(gguf, random_llama_model_has_llama_cpp_names_shapes_and_statistics) {
    struct qins_random_model_spec s = tiny_model_spec("llama");
    s.weight_type = QINS_GGML_F16;
    void *img;
    size_t size;
    cr_assert_eq(qins_model_write_random_memory(&s, &img, &size), 0, "%s", qins_last_error());
    qins_gguf_t *g;
    cr_assert_eq(qins_gguf_open_memory(img, size, "tiny-llama", &g), 0);
    char arch[32];
    uint32_t v;
    cr_assert_eq(qins_gguf_get_str(g, "general.architecture", arch, sizeof arch), 0);
    cr_assert_str_eq(arch, "llama");
    cr_assert(!qins_gguf_get_u32(g, "llama.block_count", &v) && v == 2);
    cr_assert(!qins_gguf_get_u32(g, "llama.attention.head_count_kv", &v) && v == 2);
    cr_assert(!qins_gguf_get_u32(g, "llama.rope.dimension_count", &v) && v == 16);
    cr_assert(!qins_gguf_get_u32(g, "general.file_type", &v) && v == 1);
    const struct qins_gguf_str *toks;
    uint64_t n;
    cr_assert_eq(qins_gguf_get_arr_str(g, "tokenizer.ggml.tokens", &toks, &n), 0);
    cr_assert_eq(n, 300);
    cr_assert(toks[3 + 0x41].len == 6 && !memcmp(toks[3 + 0x41].data, "<0x41>", 6));
    cr_assert_eq(qins_gguf_n_tensors(g), 3 + 2 * 9);
    check_tensor(g, "token_embd.weight", 64, 300, QINS_GGML_F16);
    check_tensor(g, "output.weight", 64, 300, QINS_GGML_F16);
    check_tensor(g, "output_norm.weight", 64, 1, QINS_GGML_F32);
    check_tensor(g, "blk.1.attn_q.weight", 64, 64, QINS_GGML_F16);
    check_tensor(g, "blk.1.attn_k.weight", 64, 32, QINS_GGML_F16);
    check_tensor(g, "blk.1.attn_v.weight", 64, 32, QINS_GGML_F16);
    check_tensor(g, "blk.1.attn_output.weight", 64, 64, QINS_GGML_F16);
    check_tensor(g, "blk.0.ffn_gate.weight", 64, 96, QINS_GGML_F16);
    check_tensor(g, "blk.0.ffn_up.weight", 64, 96, QINS_GGML_F16);
    check_tensor(g, "blk.0.ffn_down.weight", 96, 64, QINS_GGML_F16);
    check_tensor(g, "blk.0.ffn_norm.weight", 64, 1, QINS_GGML_F32);
    // Weights ~ N(0, 0.02); norms are 1.
    const struct qins_gguf_tensor *t = qins_gguf_find_tensor(g, "token_embd.weight");
    float *x = malloc(t->n_elements * sizeof *x);
    qins_gguf_tensor_to_f32(t, x);
    double s1 = 0, s2 = 0;
    for (uint64_t i = 0; i < t->n_elements; i++) s1 += x[i], s2 += (double)x[i] * x[i];
    double mean = s1 / t->n_elements, sd = sqrt(s2 / t->n_elements - mean * mean);
    cr_assert_float_eq(mean, 0.0, 0.001, "mean %g", mean);
    cr_assert_float_eq(sd, 0.02, 0.001, "std %g", sd);
    free(x);
    float one[64];
    qins_gguf_tensor_to_f32(qins_gguf_find_tensor(g, "blk.1.attn_norm.weight"), one);
    for (int i = 0; i < 64; i++) cr_assert_eq(one[i], 1.0f);
    // Different tensors get different values; the same seed gives the same file.
    cr_assert(memcmp(qins_gguf_find_tensor(g, "blk.0.attn_q.weight")->data,
                     qins_gguf_find_tensor(g, "blk.1.attn_q.weight")->data, 64 * 64 * 2));
    void *img2;
    size_t size2;
    cr_assert_eq(qins_model_write_random_memory(&s, &img2, &size2), 0);
    cr_assert(size == size2 && !memcmp(img, img2, size), "deterministic for a seed");
    free(img2);
    s.seed = 99;
    cr_assert_eq(qins_model_write_random_memory(&s, &img2, &size2), 0);
    cr_assert(size == size2 && memcmp(img, img2, size), "another seed gives other weights");
    free(img2);
    qins_gguf_free(g);
    free(img);
}

Test(gguf, random_phi3_model_has_fused_tensors_rope_factors_and_loads) {
    struct qins_random_model_spec s = tiny_model_spec("phi3");
    s.sliding_window = 32;
    s.rope_attn_factor = 1.19f;
    s.weight_type = QINS_GGML_Q8_0;
    char path[1200];
    cr_assert_eq(tiny_model_write(&s, path, sizeof path), 0, "%s", qins_last_error());
    qins_gguf_t *g;
    cr_assert_eq(qins_gguf_open(path, &g), 0);
    uint32_t v;
    float f;
    cr_assert(!qins_gguf_get_u32(g, "phi3.attention.sliding_window", &v) && v == 32);
    cr_assert(!qins_gguf_get_u32(g, "phi3.rope.scaling.original_context_length", &v) && v == 64);
    cr_assert(!qins_gguf_get_f32(g, "phi3.rope.scaling.attn_factor", &f) && f == 1.19f);
    check_tensor(g, "blk.0.attn_qkv.weight", 64, 64 + 2 * 32, QINS_GGML_Q8_0);
    check_tensor(g, "blk.0.ffn_up.weight", 64, 2 * 96, QINS_GGML_Q8_0);
    check_tensor(g, "blk.0.ffn_down.weight", 96, 64, QINS_GGML_Q8_0);
    check_tensor(g, "rope_factors_short.weight", 8, 1, QINS_GGML_F32);
    check_tensor(g, "rope_factors_long.weight", 8, 1, QINS_GGML_F32);
    cr_assert_null(qins_gguf_find_tensor(g, "blk.0.attn_q.weight"));
    cr_assert_null(qins_gguf_find_tensor(g, "blk.0.ffn_gate.weight"));
    qins_gguf_free(g);
    // The lead's loader accepts it (phi3 fused views, Q8_0 dequantised at load).
    struct qins_model *m;
    cr_assert_eq(qins_model_load(path, &m), 0, "%s", qins_last_error());
    cr_assert_eq(m->hp.arch, QINS_ARCH_PHI3);
    cr_assert_eq(m->hp.n_head_kv, 2);
    cr_assert_not_null(m->rope_long);
    qins_model_free(m);
    tiny_model_remove(path);
}

Test(gguf, random_llama_model_loads_with_tied_output_and_odd_ffn) {
    struct qins_random_model_spec s = tiny_model_spec("llama");
    s.tied_output = true;
    s.n_ff = 172;                    // not a multiple of 32: Q8_0 falls back to F32 for ffn_down
    s.weight_type = QINS_GGML_Q8_0;
    char path[1200];
    cr_assert_eq(tiny_model_write(&s, path, sizeof path), 0, "%s", qins_last_error());
    qins_gguf_t *g;
    cr_assert_eq(qins_gguf_open(path, &g), 0);
    cr_assert_null(qins_gguf_find_tensor(g, "output.weight"));
    check_tensor(g, "blk.0.ffn_down.weight", 172, 64, QINS_GGML_F32);
    check_tensor(g, "blk.0.ffn_up.weight", 64, 172, QINS_GGML_Q8_0);
    qins_gguf_free(g);
    struct qins_model *m;
    cr_assert_eq(qins_model_load(path, &m), 0, "%s", qins_last_error());
    cr_assert_eq(m->hp.n_ff, 172);
    qins_model_free(m);
    tiny_model_remove(path);
}

Test(gguf, random_model_spec_rejects_bad_shapes) {
    quiet();
    struct qins_random_model_spec s = tiny_model_spec("llama");
    s.n_head_kv = 3;
    cr_assert_eq(qins_random_model_spec_resolve(&s), QINS_ERR_ARG, "4 heads not a multiple of 3");
    s = tiny_model_spec("gpt2");
    cr_assert_eq(qins_random_model_spec_resolve(&s), QINS_ERR_ARG);
    s = tiny_model_spec("llama");
    s.rope_factors = true;
    cr_assert_eq(qins_random_model_spec_resolve(&s), QINS_ERR_ARG, "rope factors are phi3-only");
}

// ---------------------------------------------------------------- reader robustness

// Offsets of the fields of a valid GGUF image, found by an independent walk (no reader code).
struct layout {
    size_t kv_key[64], kv_type[64], kv_val[64];
    int n_kv;
    size_t t_name[64], t_ndims[64], t_ne[64], t_type[64], t_off[64];
    int n_t;
    size_t table_end, data_start;
    uint64_t size;
};

static uint64_t get_u64(const uint8_t *p) {
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}
static uint32_t get_u32(const uint8_t *p) {
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}
static void put_u64(uint8_t *p, uint64_t v) { memcpy(p, &v, 8); }
static void put_u32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); }

static size_t skip_value(const uint8_t *b, size_t pos, uint32_t type) {
    static const size_t sz[13] = {1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8};
    if (type == QINS_GGUF_STRING) return pos + 8 + get_u64(b + pos);
    if (type == QINS_GGUF_ARRAY) {
        uint32_t et = get_u32(b + pos);
        uint64_t n = get_u64(b + pos + 4);
        pos += 12;
        for (uint64_t i = 0; i < n; i++) pos = skip_value(b, pos, et);
        return pos;
    }
    return pos + sz[type];
}

static void walk(const uint8_t *b, size_t size, struct layout *L) {
    memset(L, 0, sizeof *L);
    L->size = size;
    uint64_t n_t = get_u64(b + 8), n_kv = get_u64(b + 16);
    cr_assert(n_kv <= 64 && n_t <= 64);
    size_t pos = 24;
    for (uint64_t i = 0; i < n_kv; i++) {
        L->kv_key[i] = pos;
        pos += 8 + get_u64(b + pos);
        L->kv_type[i] = pos;
        uint32_t type = get_u32(b + pos);
        pos += 4;
        L->kv_val[i] = pos;
        pos = skip_value(b, pos, type);
    }
    L->n_kv = (int)n_kv;
    for (uint64_t i = 0; i < n_t; i++) {
        L->t_name[i] = pos;
        pos += 8 + get_u64(b + pos);
        L->t_ndims[i] = pos;
        uint32_t nd = get_u32(b + pos);
        pos += 4;
        L->t_ne[i] = pos;
        pos += 8 * nd;
        L->t_type[i] = pos;
        pos += 4;
        L->t_off[i] = pos;
        pos += 8;
    }
    L->n_t = (int)n_t;
    L->table_end = pos;
    L->data_start = (pos + 31) / 32 * 32;
}

static uint8_t *load_stories(size_t *size, struct layout *L) {
    char path[1200];
    if (test_model_path("stories260K.gguf", path, sizeof path)) return NULL;
    uint8_t *buf = read_whole(path, size);
    walk(buf, *size, L);
    cr_assert_eq(L->n_t, 48);
    return buf;
}

// Opens an exact-size heap copy (so ASan sees any read past the end). Returns the status.
static int open_copy(const uint8_t *img, size_t n) {
    uint8_t *copy = malloc(n ? n : 1);
    cr_assert_not_null(copy);
    if (n) memcpy(copy, img, n);
    qins_gguf_t *g = NULL;
    int st = qins_gguf_open_memory(copy, n, "corrupt", &g);
    if (st == 0) {
        // Whatever the reader accepted must be self-consistent: every tensor inside the image.
        for (uint64_t i = 0; i < qins_gguf_n_tensors(g); i++) {
            const struct qins_gguf_tensor *t = qins_gguf_tensor_at(g, i);
            cr_assert((const uint8_t *)t->data >= copy && (const uint8_t *)t->data + t->n_bytes <= copy + n,
                      "tensor %s outside the image", t->name);
        }
        qins_gguf_free(g);
    } else {
        cr_assert_null(g, "a refused file leaves *out NULL");
    }
    free(copy);
    return st;
}

Test(gguf_robust, every_truncation_is_refused) {
    quiet();
    size_t size;
    struct layout L;
    uint8_t *img = load_stories(&size, &L);
    if (!img) return;
    cr_assert_eq(open_copy(img, size), 0, "the intact file opens");
    // Every prefix through the header, the KV section, the tensor table and into the data.
    size_t n_checked = 0;
    for (size_t n = 0; n < L.data_start + 64; n++, n_checked++)
        cr_assert_lt(open_copy(img, n), 0, "prefix of %zu bytes (of %zu) accepted", n, size);
    // Cut points in the data section: around every tensor's start and end, and the last bytes.
    for (int i = 0; i < L.n_t; i++) {
        uint64_t off = get_u64(img + L.t_off[i]) + L.data_start;
        const long cuts[] = {-1, 1, 100};
        for (int c = 0; c < 3; c++) {
            long n = (long)off + cuts[c];
            if (n < (long)L.data_start + 64 || n >= (long)size) continue;
            // A cut before this tensor's end truncates at least this (or a later) tensor.
            cr_assert_lt(open_copy(img, (size_t)n), 0, "cut at %ld accepted", n);
            n_checked++;
        }
    }
    for (size_t k = 1; k <= 8; k++, n_checked++)
        cr_assert_lt(open_copy(img, size - k), 0, "dropping the last %zu bytes accepted", k);
    cr_assert_gt(n_checked, 10000);
    free(img);
}

Test(gguf_robust, truncated_files_on_disk_are_refused) {
    quiet();
    size_t size;
    struct layout L;
    uint8_t *img = load_stories(&size, &L);
    if (!img) return;
    char path[1200];
    snprintf(path, sizeof path, "%s/test_gguf_trunc_%ld.gguf", QINS_TEST_BIN_DIR, (long)getpid());
    const size_t cuts[] = {0, 3, 23, 24, 100, L.kv_val[5] + 2, L.t_ne[3] + 4, L.table_end, L.data_start + 1000,
                           size - 1};
    for (size_t c = 0; c < sizeof cuts / sizeof cuts[0]; c++) {
        FILE *f = fopen(path, "wb");
        cr_assert_not_null(f);
        fwrite(img, 1, cuts[c], f);
        fclose(f);
        qins_gguf_t *g = NULL;
        int st = qins_gguf_open(path, &g);
        cr_assert_lt(st, 0, "file cut at %zu accepted", cuts[c]);
        cr_assert_null(g);
    }
    remove(path);
    qins_gguf_t *g;
    cr_assert_eq(qins_gguf_open(QINS_TEST_BIN_DIR, &g), QINS_ERR_IO, "a directory is not a model");
    free(img);
}

static uint64_t rng_state = 0x2545F4914F6CDD1Dull;
static uint64_t rnd(void) { // xorshift64*, fixed seed: the same flips every run
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545F4914F6CDD1Dull;
}

Test(gguf_robust, random_bit_and_byte_flips_never_crash) {
    quiet();
    size_t size;
    struct layout L;
    uint8_t *img = load_stories(&size, &L);
    if (!img) return;
    int refused = 0, total = 0;
    // Flips in the structured part (header, metadata, tensor table) where parsing decisions are
    // made, plus some anywhere in the file.
    for (int i = 0; i < 6000; i++, total++) {
        size_t pos = i < 5000 ? (size_t)(rnd() % L.table_end) : (size_t)(rnd() % size);
        uint8_t saved = img[pos];
        if (i % 3 == 2) img[pos] = (uint8_t)rnd();       // random byte
        else img[pos] ^= (uint8_t)(1u << (rnd() % 8)); // single bit
        refused += open_copy(img, size) < 0;
        img[pos] = saved;
    }
    // Length/count fields blown up to random large values.
    for (int i = 0; i < 500; i++, total++) {
        size_t pos = (size_t)(rnd() % (L.table_end - 8));
        uint8_t saved[8];
        memcpy(saved, img + pos, 8);
        put_u64(img + pos, rnd() >> (rnd() % 64));
        refused += open_copy(img, size) < 0;
        memcpy(img + pos, saved, 8);
    }
    cr_assert_eq(open_copy(img, size), 0, "image restored");
    // Not an assertion of a figure: flips inside token text are valid files. Printed for the log.
    cr_log_info("random corruption: %d of %d copies refused, the rest opened consistently", refused, total);
    free(img);
}

// Applies one targeted corruption to a fresh copy and requires a refusal.
#define EXPECT_REFUSED(what, ...)                                                                  \
    do {                                                                                           \
        memcpy(bad, img, size);                                                                    \
        __VA_ARGS__;                                                                               \
        int st_ = open_copy(bad, size);                                                            \
        cr_assert_lt(st_, 0, "corruption '%s' accepted", what);                                    \
        n_cases++;                                                                                 \
    } while (0)

Test(gguf_robust, targeted_corruptions_are_refused) {
    quiet();
    size_t size;
    struct layout L;
    uint8_t *img = load_stories(&size, &L);
    if (!img) return;
    uint8_t *bad = malloc(size);
    int n_cases = 0;
    const int last = L.n_t - 1;
    int lastdata = 0; // the tensor whose data ends the file
    for (int i = 0; i < L.n_t; i++)
        if (get_u64(img + L.t_off[i]) > get_u64(img + L.t_off[lastdata])) lastdata = i;
    int dup_a = -1, dup_b = -1; // two tensors with names of equal length
    for (int i = 0; i < L.n_t && dup_a < 0; i++)
        for (int j = i + 1; j < L.n_t; j++)
            if (get_u64(img + L.t_name[i]) == get_u64(img + L.t_name[j])) {
                dup_a = i, dup_b = j;
                break;
            }
    cr_assert_geq(dup_a, 0);
    // Which KVs are strings / arrays in this file.
    int kv_str = -1, kv_arr_str = -1, kv_arr_f32 = -1, kv_u32 = -1;
    for (int i = 0; i < L.n_kv; i++) {
        uint32_t t = get_u32(img + L.kv_type[i]);
        if (t == QINS_GGUF_STRING && kv_str < 0) kv_str = i;
        if (t == QINS_GGUF_UINT32 && kv_u32 < 0) kv_u32 = i;
        if (t == QINS_GGUF_ARRAY && get_u32(img + L.kv_val[i]) == QINS_GGUF_STRING) kv_arr_str = i;
        if (t == QINS_GGUF_ARRAY && get_u32(img + L.kv_val[i]) == QINS_GGUF_FLOAT32) kv_arr_f32 = i;
    }
    cr_assert(kv_str >= 0 && kv_arr_str >= 0 && kv_arr_f32 >= 0 && kv_u32 >= 0);

    EXPECT_REFUSED("bad magic", bad[0] = 'X');
    EXPECT_REFUSED("magic GGML", memcpy(bad, "GGML", 4));
    EXPECT_REFUSED("version 1", put_u32(bad + 4, 1));
    EXPECT_REFUSED("version 4", put_u32(bad + 4, 4));
    EXPECT_REFUSED("version 0", put_u32(bad + 4, 0));
    EXPECT_REFUSED("version big-endian 3", put_u32(bad + 4, 0x03000000u));
    EXPECT_REFUSED("n_tensors 2^63", put_u64(bad + 8, 1ull << 63));
    EXPECT_REFUSED("n_tensors max", put_u64(bad + 8, UINT64_MAX));
    EXPECT_REFUSED("n_tensors 2^20", put_u64(bad + 8, 1ull << 20));
    EXPECT_REFUSED("n_tensors 100000", put_u64(bad + 8, 100000));
    EXPECT_REFUSED("n_kv max", put_u64(bad + 16, UINT64_MAX));
    EXPECT_REFUSED("n_kv 2^32", put_u64(bad + 16, 1ull << 32));
    EXPECT_REFUSED("n_kv 100000", put_u64(bad + 16, 100000));
    EXPECT_REFUSED("key length past the end", put_u64(bad + L.kv_key[0], size));
    EXPECT_REFUSED("key length max", put_u64(bad + L.kv_key[0], UINT64_MAX));
    EXPECT_REFUSED("key length max-7", put_u64(bad + L.kv_key[2], UINT64_MAX - 7));
    EXPECT_REFUSED("key length 0", put_u64(bad + L.kv_key[1], 0));
    EXPECT_REFUSED("string value past the end", put_u64(bad + L.kv_val[kv_str], size));
    EXPECT_REFUSED("string value length max", put_u64(bad + L.kv_val[kv_str], UINT64_MAX));
    EXPECT_REFUSED("string value length 2^63", put_u64(bad + L.kv_val[kv_str], 1ull << 63));
    EXPECT_REFUSED("kv type 13", put_u32(bad + L.kv_type[kv_u32], 13));
    EXPECT_REFUSED("kv type max", put_u32(bad + L.kv_type[kv_u32], UINT32_MAX));
    EXPECT_REFUSED("string array count max", put_u64(bad + L.kv_val[kv_arr_str] + 4, UINT64_MAX));
    EXPECT_REFUSED("string array count 2^40", put_u64(bad + L.kv_val[kv_arr_str] + 4, 1ull << 40));
    EXPECT_REFUSED("f32 array count past the end", put_u64(bad + L.kv_val[kv_arr_f32] + 4, size));
    EXPECT_REFUSED("f32 array count 2^62", put_u64(bad + L.kv_val[kv_arr_f32] + 4, 1ull << 62));
    EXPECT_REFUSED("array of arrays", put_u32(bad + L.kv_val[kv_arr_f32], QINS_GGUF_ARRAY));
    EXPECT_REFUSED("array element type 99", put_u32(bad + L.kv_val[kv_arr_f32], 99));
    EXPECT_REFUSED("array string length past the end", put_u64(bad + L.kv_val[kv_arr_str] + 12, size));
    EXPECT_REFUSED("tensor name length max", put_u64(bad + L.t_name[0], UINT64_MAX));
    EXPECT_REFUSED("tensor name length past the end", put_u64(bad + L.t_name[last], size));
    EXPECT_REFUSED("tensor name length 0", put_u64(bad + L.t_name[5], 0));
    EXPECT_REFUSED("n_dims 0", put_u32(bad + L.t_ndims[0], 0));
    EXPECT_REFUSED("n_dims 5", put_u32(bad + L.t_ndims[0], 5));
    EXPECT_REFUSED("n_dims max", put_u32(bad + L.t_ndims[3], UINT32_MAX));
    EXPECT_REFUSED("ne[0] 0", put_u64(bad + L.t_ne[0], 0));
    EXPECT_REFUSED("ne[0] 2^62", put_u64(bad + L.t_ne[0], 1ull << 62));
    EXPECT_REFUSED("ne product overflows", put_u64(bad + L.t_ne[0], 1ull << 33), put_u64(bad + L.t_ne[0] + 8, 1ull << 33));
    EXPECT_REFUSED("ne[0] x2 runs past the end", put_u64(bad + L.t_ne[lastdata], 2 * get_u64(img + L.t_ne[lastdata])));
    EXPECT_REFUSED("tensor offset past the end", put_u64(bad + L.t_off[last], size));
    EXPECT_REFUSED("tensor offset max", put_u64(bad + L.t_off[0], UINT64_MAX & ~31ull));
    EXPECT_REFUSED("tensor offset 2^63", put_u64(bad + L.t_off[1], 1ull << 63));
    EXPECT_REFUSED("unaligned offset", put_u64(bad + L.t_off[1], get_u64(img + L.t_off[1]) + 4));
    EXPECT_REFUSED("offset straddles the end",
                   put_u64(bad + L.t_off[lastdata], (size - L.data_start - 32) / 32 * 32));
    EXPECT_REFUSED("unknown tensor type 1000", put_u32(bad + L.t_type[0], 1000));
    EXPECT_REFUSED("unknown tensor type max", put_u32(bad + L.t_type[7], UINT32_MAX));
    EXPECT_REFUSED("removed tensor type 4 (Q4_2)", put_u32(bad + L.t_type[0], 4));
    {
        int down = -1; // a tensor with 172-wide rows cannot be a 32-block type
        for (int i = 0; i < L.n_t; i++)
            if (get_u64(img + L.t_ne[i]) == 172) down = i;
        cr_assert_geq(down, 0);
        EXPECT_REFUSED("Q8_0 rows of 172", put_u32(bad + L.t_type[down], QINS_GGML_Q8_0));
    }
    EXPECT_REFUSED("duplicate tensor name",
                   memcpy(bad + L.t_name[dup_b] + 8, img + L.t_name[dup_a] + 8, get_u64(img + L.t_name[dup_a])));
    EXPECT_REFUSED("whole header zeroed", memset(bad, 0, 24));
    EXPECT_REFUSED("tensor table zeroed", memset(bad + L.t_name[0], 0, L.table_end - L.t_name[0]));
    EXPECT_REFUSED("tensor table 0xff", memset(bad + L.t_name[0], 0xff, L.table_end - L.t_name[0]));
    EXPECT_REFUSED("metadata 0xff", memset(bad + 24, 0xff, L.t_name[0] - 24));
    cr_assert_geq(n_cases, 50);
    free(bad);
    free(img);
}

Test(gguf_robust, bad_alignment_key_is_refused) {
    quiet();
    const uint32_t bad_values[] = {0, 3, 48, 1u << 20};
    for (size_t i = 0; i < sizeof bad_values / sizeof bad_values[0]; i++) {
        qins_gguf_writer_t *w;
        cr_assert_eq(qins_gguf_writer_init(&w), 0);
        cr_assert_eq(qins_gguf_writer_add_u32(w, "general.alignment", bad_values[i]), 0);
        void *img;
        size_t size;
        cr_assert_eq(qins_gguf_writer_write_memory(w, &img, &size), 0);
        cr_assert_lt(open_copy(img, size), 0, "alignment %u accepted", bad_values[i]);
        free(img);
        qins_gguf_writer_free(w);
    }
    qins_gguf_writer_t *w;
    cr_assert_eq(qins_gguf_writer_init(&w), 0);
    cr_assert_eq(qins_gguf_writer_add_str(w, "general.alignment", "32"), 0);
    void *img;
    size_t size;
    cr_assert_eq(qins_gguf_writer_write_memory(w, &img, &size), 0);
    cr_assert_lt(open_copy(img, size), 0, "string alignment accepted");
    free(img);
    qins_gguf_writer_free(w);
}
