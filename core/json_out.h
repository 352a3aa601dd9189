// core/json_out.h — a tiny streaming JSON writer for machine-readable CLI output.
// Owns: commas/nesting, string escaping (control chars as \u00XX, invalid UTF-8 as \ufffd),
// number formatting (NaN/Inf as null). Does not own: parsing JSON.
// Errors: the first problem (nesting misuse, write failure) is kept and returned by qins_json_end.
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define QINS_JSON_MAX_DEPTH 32

struct qins_json {
    FILE *f;
    int depth;
    bool first[QINS_JSON_MAX_DEPTH]; // no element written yet at this depth
    bool in_object[QINS_JSON_MAX_DEPTH];
    bool after_key;                  // a key was written, its value comes next
    int status;                      // first error, sticky
};

// Starts a document on f. Returns nothing.
void qins_json_init(struct qins_json *j, FILE *f);
void qins_json_object_begin(struct qins_json *j);
void qins_json_object_end(struct qins_json *j);
void qins_json_array_begin(struct qins_json *j);
void qins_json_array_end(struct qins_json *j);
// Writes an object key (must be inside an object, before its value).
void qins_json_key(struct qins_json *j, const char *key);
void qins_json_str(struct qins_json *j, const char *s);              // NUL-terminated
void qins_json_str_n(struct qins_json *j, const char *s, size_t len); // may hold any bytes
void qins_json_int(struct qins_json *j, int64_t v);
void qins_json_uint(struct qins_json *j, uint64_t v);
void qins_json_double(struct qins_json *j, double v); // round-trips (%.17g)
void qins_json_float(struct qins_json *j, float v);   // %.9g, enough to round-trip a float
void qins_json_bool(struct qins_json *j, bool v);
void qins_json_null(struct qins_json *j);
// Ends the document with a newline. Returns 0, QINS_ERR_STATE (unbalanced or misplaced
// element) or QINS_ERR_IO (the stream reported an error).
int qins_json_end(struct qins_json *j);

// Writes s (len bytes) as a quoted JSON string with escapes. Returns nothing.
void qins_json_write_escaped(FILE *f, const char *s, size_t len);
