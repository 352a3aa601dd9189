// core/dataset.h — evaluation text, its eval/calibration slices, and prompt sets.
// Owns: slice specs (bytes:A-B, stories:A-B), loading the eval text with its sha256,
// overlap checks, prompt CSVs (libcsv: id,prompt,max_tokens) and prompts derived from story
// openings. Does not own: tokenization. Errors are negative qins_status values, logged.
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "sha256.h"

#define QINS_STORY_SEP "<|endoftext|>" // a line holding only this ends a story

enum qins_slice_unit { QINS_SLICE_NONE = 0, QINS_SLICE_BYTES, QINS_SLICE_STORIES };

struct qins_slice {
    enum qins_slice_unit unit;
    uint64_t start, end; // half-open [start, end) in bytes or in stories (0-based)
};

// Parses "bytes:A-B", "stories:A-B" (A < B) or "none". Returns QINS_OK or QINS_ERR_ARG (not logged).
int qins_slice_parse(const char *spec, struct qins_slice *out);
// Resolves a slice of text to a byte range [*b0, *b1). A story range starts at the first
// byte of story A and ends where story B starts (or at the end of text), so it keeps the
// separator lines. Returns QINS_OK or QINS_ERR_RANGE naming how many bytes/stories exist.
int qins_slice_resolve(const char *text, size_t len, const struct qins_slice *s, size_t *b0, size_t *b1);
// Number of stories in text (a final story without a separator counts).
size_t qins_story_count(const char *text, size_t len);

// A loaded eval text with both slices resolved ([run] eval_text, eval_slice, calib_slice).
struct qins_dataset {
    char path[1024];            // resolved path of eval_text
    char sha256[QINS_SHA256_HEX]; // of the whole file
    char *text;                 // whole file, NUL-terminated
    size_t len;
    size_t eval_b0, eval_b1;    // eval byte range
    size_t calib_b0, calib_b1;  // calibration byte range (both 0 when calib_slice = none)
    char eval_spec[64], calib_spec[64];
};

// Loads [run] eval_text and resolves eval_slice and calib_slice; calibration overlapping the
// eval range is an error (QINS_ERR_ARG naming both byte ranges). Returns QINS_OK or an error.
int qins_dataset_load(const qins_config_t *cfg, struct qins_dataset *out);
// Frees the text (NULL-safe; the struct may be zeroed).
void qins_dataset_free(struct qins_dataset *d);

struct qins_prompt {
    char *id;          // from the CSV, or "s<story index>" when derived
    char *text;
    int max_tokens;    // tokens to generate (the config's [run] tokens when the CSV says 0 or blank)
};

struct qins_prompt_set {
    struct qins_prompt *items;
    size_t n;
    char source[1100]; // "path" or "derive:N from <eval spec>"
    char sha256[QINS_SHA256_HEX]; // of the CSV file ("" when derived: the eval text's hash covers it)
};

// Reads a prompt CSV (header row id,prompt,max_tokens; quoted fields may hold commas,
// quotes and newlines). default_max_tokens fills a blank or 0 max_tokens. Duplicate ids or
// prompts are errors. Returns QINS_OK, QINS_ERR_IO or QINS_ERR_FORMAT naming file and row.
int qins_prompts_load_csv(const char *path, int default_max_tokens, struct qins_prompt_set *out);
// Derives up to n prompts from the first `words` words of each story in text[0..len),
// skipping duplicates (many stories open the same way). Returns QINS_OK, or QINS_ERR_RANGE
// if fewer than n distinct openings exist (message says how many).
int qins_prompts_derive(const char *text, size_t len, size_t n, int words, int max_tokens,
                        struct qins_prompt_set *out);
// Writes a prompt CSV with libcsv quoting. Returns QINS_OK or QINS_ERR_IO.
int qins_prompts_write_csv(const struct qins_prompt_set *p, const char *path);
// The prompt set a config names ([run] prompts: a CSV path looked up as paths.h SOURCE,
// or derive:N over the eval slice with [run] prompt_words and [run] tokens).
int qins_prompts_from_config(const qins_config_t *cfg, const struct qins_dataset *d, struct qins_prompt_set *out);
// Frees the prompts (NULL-safe; the struct may be zeroed).
void qins_prompts_free(struct qins_prompt_set *p);

struct qins_run;
// Records what a run used: /data attributes (eval_text, eval_sha256, eval_slice, eval_bytes,
// calib_slice, calib_bytes, prompts_source, prompts_sha256) and, when p is not NULL, /generation/prompts,
// /generation/prompt_ids (strings) and /generation/max_tokens (int32). Returns QINS_OK or an error.
int qins_dataset_record(struct qins_run *run, const struct qins_dataset *d, const struct qins_prompt_set *p);
