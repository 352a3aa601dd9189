// core/json_out.c — streaming JSON output; see json_out.h.
#include "json_out.h"

#include <inttypes.h>
#include <math.h>

#include "common.h"

// Length of the valid UTF-8 sequence at s (n bytes available), or 0 if it is invalid
// (bad lead byte, truncated, overlong, surrogate or above U+10FFFF).
static size_t utf8_valid_len(const unsigned char *s, size_t n) {
    unsigned c = s[0];
    size_t len;
    uint32_t cp, min;
    if (c < 0x80) return 1;
    if (c >= 0xc2 && c <= 0xdf) len = 2, cp = c & 0x1f, min = 0x80;
    else if (c >= 0xe0 && c <= 0xef) len = 3, cp = c & 0x0f, min = 0x800;
    else if (c >= 0xf0 && c <= 0xf4) len = 4, cp = c & 0x07, min = 0x10000;
    else return 0;
    if (n < len) return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80) return 0;
        cp = (cp << 6) | (s[i] & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return 0;
    return len;
}

void qins_json_write_escaped(FILE *f, const char *str, size_t len) {
    const unsigned char *s = (const unsigned char *)str;
    fputc('"', f);
    size_t i = 0;
    while (i < len) {
        unsigned c = s[i];
        if (c < 0x80) {
            switch (c) {
            case '"': fputs("\\\"", f); break;
            case '\\': fputs("\\\\", f); break;
            case '\b': fputs("\\b", f); break;
            case '\f': fputs("\\f", f); break;
            case '\n': fputs("\\n", f); break;
            case '\r': fputs("\\r", f); break;
            case '\t': fputs("\\t", f); break;
            default:
                if (c < 0x20 || c == 0x7f) fprintf(f, "\\u%04x", c);
                else fputc((int)c, f);
            }
            i++;
            continue;
        }
        size_t n = utf8_valid_len(s + i, len - i);
        if (n == 0) { // one replacement character per invalid byte
            fputs("\\ufffd", f);
            i++;
        } else {
            fwrite(s + i, 1, n, f);
            i += n;
        }
    }
    fputc('"', f);
}

void qins_json_init(struct qins_json *j, FILE *f) {
    memset(j, 0, sizeof *j);
    j->f = f;
    j->first[0] = true;
}

static void fail(struct qins_json *j, const char *what) {
    if (j->status == QINS_OK) {
        qins_log(QINS_LOG_ERROR, "json_out: %s", what);
        j->status = QINS_ERR_STATE;
    }
}

// Called before any value: writes the separating comma, checks the value is allowed here.
static bool pre_value(struct qins_json *j) {
    if (j->status < 0) return false;
    if (j->depth > 0 && j->in_object[j->depth] && !j->after_key) {
        fail(j, "value inside an object without a key");
        return false;
    }
    if (j->depth == 0 && !j->first[0]) {
        fail(j, "more than one top-level value");
        return false;
    }
    if (!j->after_key && !j->first[j->depth]) fputc(',', j->f);
    j->first[j->depth] = false;
    j->after_key = false;
    return true;
}

static void open_level(struct qins_json *j, bool object) {
    if (!pre_value(j)) return;
    if (j->depth + 1 >= QINS_JSON_MAX_DEPTH) {
        fail(j, "nesting too deep");
        return;
    }
    fputc(object ? '{' : '[', j->f);
    j->depth++;
    j->first[j->depth] = true;
    j->in_object[j->depth] = object;
}

static void close_level(struct qins_json *j, bool object) {
    if (j->status < 0) return;
    if (j->depth == 0 || j->in_object[j->depth] != object || j->after_key) {
        fail(j, "unbalanced close");
        return;
    }
    fputc(object ? '}' : ']', j->f);
    j->depth--;
}

void qins_json_object_begin(struct qins_json *j) { open_level(j, true); }
void qins_json_object_end(struct qins_json *j) { close_level(j, true); }
void qins_json_array_begin(struct qins_json *j) { open_level(j, false); }
void qins_json_array_end(struct qins_json *j) { close_level(j, false); }

void qins_json_key(struct qins_json *j, const char *key) {
    if (j->status < 0) return;
    if (j->depth == 0 || !j->in_object[j->depth] || j->after_key) {
        fail(j, "key outside an object or after another key");
        return;
    }
    if (!j->first[j->depth]) fputc(',', j->f);
    j->first[j->depth] = false;
    qins_json_write_escaped(j->f, key, strlen(key));
    fputc(':', j->f);
    j->after_key = true;
}

void qins_json_str_n(struct qins_json *j, const char *s, size_t len) {
    if (pre_value(j)) qins_json_write_escaped(j->f, s ? s : "", s ? len : 0);
}
void qins_json_str(struct qins_json *j, const char *s) { qins_json_str_n(j, s, s ? strlen(s) : 0); }
void qins_json_int(struct qins_json *j, int64_t v) {
    if (pre_value(j)) fprintf(j->f, "%" PRId64, v);
}
void qins_json_uint(struct qins_json *j, uint64_t v) {
    if (pre_value(j)) fprintf(j->f, "%" PRIu64, v);
}
void qins_json_double(struct qins_json *j, double v) {
    if (!pre_value(j)) return;
    if (isfinite(v)) fprintf(j->f, "%.17g", v);
    else fputs("null", j->f);
}
void qins_json_float(struct qins_json *j, float v) {
    if (!pre_value(j)) return;
    if (isfinite(v)) fprintf(j->f, "%.9g", (double)v);
    else fputs("null", j->f);
}
void qins_json_bool(struct qins_json *j, bool v) {
    if (pre_value(j)) fputs(v ? "true" : "false", j->f);
}
void qins_json_null(struct qins_json *j) {
    if (pre_value(j)) fputs("null", j->f);
}

int qins_json_end(struct qins_json *j) {
    if (j->status == QINS_OK && (j->depth != 0 || j->after_key)) fail(j, "document ended inside an object/array");
    if (j->status == QINS_OK) fputc('\n', j->f);
    if (j->status == QINS_OK && (fflush(j->f) != 0 || ferror(j->f))) {
        qins_log(QINS_LOG_ERROR, "json_out: write failed");
        j->status = QINS_ERR_IO;
    }
    return j->status;
}
