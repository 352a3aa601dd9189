// core/config.h — experiment configs: table-driven INI parsing (inih), validation, defaults,
// and the effective config text that every run records and hashes.
// Owns: key tables ([run] shared by every phase, [codec] shared by codec phases), parsing,
// `section.key=value` overrides, path lookup for models/data/source files. Does not own:
// what a key means to a phase. Errors name file:line and key; returned as negative qins_status.
//
// How a phase uses it:
//   static const struct qins_cfg_key phase1_keys[] = {
//       {"phase1", "variants", QINS_CFG_LIST, "qins8,qins6,int8,fp16", 1, 16, NULL, "KV variants"},
//       {0}};
//   const struct qins_cfg_key *tables[] = {qins_config_codec_keys, phase1_keys, NULL};
//   qins_config_t *cfg; QINS_TRY(qins_config_new(&cfg, tables));   // [run] is always included
//   QINS_TRY(qins_config_load_file(cfg, args.config_path));        // NULL path: all defaults
//   for (...) QINS_TRY(qins_config_set(cfg, args.overrides[i]));   // "run.tokens=64"
//   int64_t n = qins_config_int(cfg, "run", "tokens");
//   char *text = qins_config_effective(cfg);                        // record this (results.h)
//
// Rules: unknown sections/keys, duplicates, bad values and out-of-range numbers are errors
// naming "file:line: [section] key". The effective text lists every declared key in table
// order, defaults filled in, one `key = value` per line, no comments except a fixed header,
// so equal settings give equal text and equal hashes.
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum qins_cfg_type {
    QINS_CFG_STRING = 1, // any text (no newline, no " ;" which inih treats as a comment)
    QINS_CFG_INT,        // decimal int64, range [min, max]
    QINS_CFG_DOUBLE,     // finite double, range [min, max]
    QINS_CFG_BOOL,       // true/false, yes/no, on/off, 1/0 (recorded as true/false)
    QINS_CFG_ENUM,       // one of `choices` ("a|b|c")
    QINS_CFG_LIST,       // comma-separated items; count in [min, max]; items from `choices` if set
};

// A check for STRING/LIST values beyond type and range: returns 0 if fine, else writes why.
typedef int (*qins_cfg_check_fn)(const char *value, char *why, size_t cap);

struct qins_cfg_key {
    const char *section;
    const char *key;          // NULL ends a table
    enum qins_cfg_type type;
    const char *def;          // default, written as in the file ("" allowed for STRING)
    double min, max;          // INT/DOUBLE range, LIST item count; ignored when min > max
    const char *choices;      // ENUM / LIST items: "a|b|c"; NULL = any
    const char *doc;          // one line: meaning, unit, and what the default means
    qins_cfg_check_fn check;  // optional extra validation
};

// Keys every phase shares, in section [run] (always part of a config):
//   model        stories260K.gguf   GGUF model; bare names are looked up (qins_path_find "model")
//   eval_text    tinystories_train_sample_2MiB.txt   evaluation text (qins_path_find "data")
//   eval_slice   stories:0-1000     bytes:A-B or stories:A-B of eval_text used for PPL and prompts
//   calib_slice  stories:1000-1200  calibration part; must not overlap eval_slice ("none" = no calibration)
//   eval_chunks  0                  perplexity windows scored from the slice start (0 = all)
//   ctx          256                context length in tokens (perplexity window, generation limit)
//   threads      0                  CPU threads (0 = all online CPUs; the run records the number used)
//   prompts      experiments/prompts-tinystories.csv   CSV id,prompt,max_tokens, or derive:N
//   prompt_words 6                  words per derived prompt (derive:N)
//   tokens       128                greedy tokens per prompt for token_match (plan: >= 100)
//   seed         1234               RNG seed (sampling, random weights, subsampling)
//   tag          ""                 label that gates.txt uses to pick this run (e.g. full, single-layer)
//   note         ""                 free text, recorded
extern const struct qins_cfg_key qins_config_run_keys[];
// Optional shared table, section [codec]: codec, bits, alpha, granularity, group_size, scale,
// page_size (see config.c or `qins config --doc` for defaults and ranges).
extern const struct qins_cfg_key qins_config_codec_keys[];

typedef struct qins_config qins_config_t;

// Creates a config holding [run] plus the NULL-terminated list of extra tables (may be NULL),
// every key at its default. Returns QINS_OK, QINS_ERR_NOMEM, or QINS_ERR_ARG for a table whose
// default fails its own validation (a bug in the table, reported with the key).
int qins_config_new(qins_config_t **out, const struct qins_cfg_key *const *tables);
// Frees the config (NULL is a no-op).
void qins_config_free(qins_config_t *c);
// Parses an INI file over the defaults. NULL path: nothing to load. Returns QINS_OK,
// QINS_ERR_IO (cannot read), QINS_ERR_FORMAT / QINS_ERR_ARG / QINS_ERR_RANGE (first error;
// every error is logged as "file:line: [section] key: why").
int qins_config_load_file(qins_config_t *c, const char *path);
// Same, from text; `name` stands for the file name in messages.
int qins_config_load_string(qins_config_t *c, const char *text, const char *name);
// Applies one override "section.key=value" (e.g. from --set). Returns QINS_OK or an error.
int qins_config_set(qins_config_t *c, const char *assignment);
// The loaded file's text verbatim ("" when none) and its path ("" when none).
const char *qins_config_source_text(const qins_config_t *c);
const char *qins_config_source_path(const qins_config_t *c);
// The effective config as INI text (malloc'd; caller frees). Returns NULL on out-of-memory.
char *qins_config_effective(const qins_config_t *c);
// Prints every key of the tables with its type, default, range and doc as commented INI.
void qins_config_print_doc(FILE *f, const struct qins_cfg_key *const *tables);

// Getters. Asking for an undeclared key or the wrong type is a programming error: it logs
// and returns 0 / 0.0 / false / "" (assert fires in debug builds).
int64_t qins_config_int(const qins_config_t *c, const char *section, const char *key);
double qins_config_double(const qins_config_t *c, const char *section, const char *key);
bool qins_config_bool(const qins_config_t *c, const char *section, const char *key);
const char *qins_config_str(const qins_config_t *c, const char *section, const char *key);
// LIST: returns the item count and points *items at the (config-owned) items.
size_t qins_config_list(const qins_config_t *c, const char *section, const char *key, const char *const **items);

// Reads one raw value from INI text without declaring or validating anything (for tools
// such as `qins reproduce` that must read a recorded config of any phase). Returns QINS_OK,
// or QINS_ERR_RANGE if the key is absent.
int qins_config_peek(const char *ini_text, const char *section, const char *key, char *out, size_t cap);

// Finds a file named in a config. A name containing '/' is used as given (kind "source" also
// tries it under <source>). A bare name: kind "model": $QINS_MODELS/, ./models/, ./, then
// <source>/../shared/models/ (the order of core/paths.h); kind "data": $QINS_DATA/,
// $QINS_SHARED/data/, $QINS_MODELS/../data/, ./data/, ./, <source>/../shared/data/; kind
// "source": ./, <source>/. <source> is $QINS_SOURCE_DIR, else the build's source dir.
// Writes the first readable path. Returns QINS_OK or QINS_ERR_IO naming every place tried.
int qins_path_find(const char *kind, const char *name, char *out, size_t cap);

// Command-line arguments every phase binary accepts (parsed by qins_phase_args_parse):
//   --config FILE   experiment config (default: none = all defaults)
//   --set S.K=V     override one key (repeatable)
//   --results DIR   results root (default ./results)
//   --force         run even though the previous gate has not passed (recorded)
//   --help-config   print every key with its default and exit
struct qins_phase_args {
    const char *config_path;  // NULL = defaults only
    const char *results_dir;  // never NULL after parsing
    bool force;
    bool help_config;
    const char *overrides[32];
    size_t n_overrides;
};
// Parses argv. Returns QINS_OK or QINS_ERR_ARG with a message naming the bad argument.
int qins_phase_args_parse(int argc, char **argv, struct qins_phase_args *out);
