// tests/test_json_out.c — the JSON writer (escaping, nesting, numbers) and the path resolver.
#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "common.h"
#include "json_out.h"

static void quiet_sink(int level, const char *msg, void *user) { (void)level, (void)msg, (void)user; }

// Escapes len bytes into a malloc'ed string.
#define ESCAPED(lit) escaped(lit, sizeof(lit) - 1)
static char *escaped(const char *s, size_t len) {
    char *buf = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&buf, &n);
    qins_json_write_escaped(f, s, len);
    fclose(f);
    return buf;
}

Test(json_out, escapes_quotes_controls_and_invalid_utf8) {
    char *e = ESCAPED("a\"b\\c\n\t\x01\x7f");
    cr_assert_str_eq(e, "\"a\\\"b\\\\c\\n\\t\\u0001\\u007f\"");
    free(e);
    e = ESCAPED("\xe2\x96\x81ok \xc3\xa9 \xf0\x9f\xa6\x99"); // valid UTF-8 passes through
    cr_assert_str_eq(e, "\"\xe2\x96\x81ok \xc3\xa9 \xf0\x9f\xa6\x99\"");
    free(e);
    // Lone continuation, truncated sequence, overlong, surrogate, above U+10FFFF: one U+FFFD per bad byte.
    e = ESCAPED("\x80|\xe2\x96|\xc0\xaf|\xed\xa0\x80|\xf4\x90\x80\x80");
    cr_assert_str_eq(e, "\"\\ufffd|\\ufffd\\ufffd|\\ufffd\\ufffd|\\ufffd\\ufffd\\ufffd|\\ufffd\\ufffd\\ufffd\\ufffd\"");
    free(e);
    e = ESCAPED("a\0b");
    cr_assert_str_eq(e, "\"a\\u0000b\"");
    free(e);
}

Test(json_out, document_parses_back_with_cjson) {
    char *buf = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&buf, &n);
    struct qins_json j;
    qins_json_init(&j, f);
    qins_json_object_begin(&j);
    qins_json_key(&j, "ids");
    qins_json_array_begin(&j);
    for (int i = 0; i < 3; i++) qins_json_int(&j, i - 1);
    qins_json_array_end(&j);
    qins_json_key(&j, "piece");
    qins_json_str(&j, "\xff \"x\"");
    qins_json_key(&j, "nan");
    qins_json_double(&j, NAN);
    qins_json_key(&j, "pi");
    qins_json_double(&j, M_PI);
    qins_json_key(&j, "f");
    qins_json_float(&j, 0.1f);
    qins_json_key(&j, "big");
    qins_json_uint(&j, UINT64_MAX);
    qins_json_key(&j, "empty");
    qins_json_object_begin(&j);
    qins_json_object_end(&j);
    qins_json_key(&j, "flags");
    qins_json_array_begin(&j);
    qins_json_bool(&j, true);
    qins_json_null(&j);
    qins_json_array_end(&j);
    qins_json_object_end(&j);
    cr_assert_eq(qins_json_end(&j), 0);
    fclose(f);
    cJSON *doc = cJSON_Parse(buf);
    cr_assert_not_null(doc, "%s", buf);
    cr_assert_eq(cJSON_GetArraySize(cJSON_GetObjectItem(doc, "ids")), 3);
    cr_assert_eq(cJSON_GetArrayItem(cJSON_GetObjectItem(doc, "ids"), 0)->valueint, -1);
    cr_assert_str_eq(cJSON_GetObjectItem(doc, "piece")->valuestring, "\xef\xbf\xbd \"x\"");
    cr_assert(cJSON_IsNull(cJSON_GetObjectItem(doc, "nan")));
    cr_assert_eq(cJSON_GetObjectItem(doc, "pi")->valuedouble, M_PI, "%%.17g round-trips a double");
    cr_assert_eq((float)cJSON_GetObjectItem(doc, "f")->valuedouble, 0.1f);
    cr_assert_eq(buf[n - 1], '\n');
    cJSON_Delete(doc);
    free(buf);
}

Test(json_out, misuse_is_reported) {
    qins_log_set(quiet_sink, NULL);
    char *buf = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&buf, &n);
    struct qins_json j;
    qins_json_init(&j, f);
    qins_json_object_begin(&j);
    qins_json_int(&j, 1); // a value without a key
    cr_assert_eq(qins_json_end(&j), QINS_ERR_STATE);
    qins_json_init(&j, f);
    qins_json_array_begin(&j);
    cr_assert_eq(qins_json_end(&j), QINS_ERR_STATE, "unclosed array");
    qins_json_init(&j, f);
    qins_json_array_begin(&j);
    qins_json_object_end(&j);
    cr_assert_eq(qins_json_end(&j), QINS_ERR_STATE, "mismatched close");
    fclose(f);
    free(buf);
}
