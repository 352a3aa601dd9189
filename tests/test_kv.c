// tests/test_kv.c — the plain KV stores (core/kv.h): the native view of the FP16 store is its
// binary16 rows (equal to its FP32 view once converted), the FP32 store falls back to view(),
// and bytes_read counts stored bytes either way.
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "half.h"
#include "kv.h"

static void fill(struct qins_kv_store *s, int n, float *k, float *v) {
    for (int i = 0; i < n * s->kv_dim; i++) k[i] = 0.37f * (float)(i % 101) - 9.0f, v[i] = 0.11f * (float)(i % 53);
    for (int l = 0; l < s->n_layer; l++) cr_assert_eq(qins_kv_append(s, l, 0, n, k, v), 0);
}

Test(kv, fp16_native_view_is_the_binary16_rows) {
    const int L = 2, ctx = 40, kvd = 24, n = 33;
    struct qins_kv_store *s;
    cr_assert_eq(qins_kv_store_fp16_init(L, ctx, kvd, &s), 0);
    float *k = malloc((size_t)n * kvd * 4), *v = malloc((size_t)n * kvd * 4), *conv = malloc((size_t)n * kvd * 4);
    fill(s, n, k, v);
    enum qins_kv_elem type;
    const void *nk, *nv;
    const uint64_t r0 = s->bytes_read;
    cr_assert_eq(qins_kv_view_native(s, 1, n, &type, &nk, &nv), 0);
    cr_assert_eq(type, QINS_KV_ELEM_F16);
    cr_assert_eq(s->bytes_read - r0, 2u * n * kvd * 2, "counts the binary16 bytes read");
    const float *fk, *fv;
    cr_assert_eq(qins_kv_view(s, 1, n, &fk, &fv), 0);
    qins_half_to_f32_ref(nk, (size_t)n * kvd, conv);
    cr_assert_eq(memcmp(conv, fk, (size_t)n * kvd * 4), 0, "K: native rows convert to the FP32 view");
    qins_half_to_f32_ref(nv, (size_t)n * kvd, conv);
    cr_assert_eq(memcmp(conv, fv, (size_t)n * kvd * 4), 0, "V: native rows convert to the FP32 view");
    cr_assert_eq(qins_kv_view_native(s, L, n, &type, &nk, &nv), QINS_ERR_RANGE);
    qins_kv_free(s);
    free(k), free(v), free(conv);
}

Test(kv, fp32_native_view_is_its_view) {
    const int L = 1, ctx = 16, kvd = 8, n = 10;
    struct qins_kv_store *s;
    cr_assert_eq(qins_kv_store_fp32_init(L, ctx, kvd, &s), 0);
    float k[80], v[80];
    fill(s, n, k, v);
    enum qins_kv_elem type;
    const void *nk, *nv;
    cr_assert_eq(qins_kv_view_native(s, 0, n, &type, &nk, &nv), 0);
    cr_assert_eq(type, QINS_KV_ELEM_F32);
    cr_assert_eq(s->bytes_read, 2u * n * kvd * 4);
    cr_assert_eq(memcmp(nk, k, sizeof k), 0);
    cr_assert_eq(memcmp(nv, v, sizeof v), 0);
    qins_kv_free(s);
}
