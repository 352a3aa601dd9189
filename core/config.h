// core/config.h — a table-driven INI engine (inih): typed keys with defaults and ranges,
// validation, `section.key=value` overrides, and the effective config text that every run
// records and hashes. Owns: parsing and checking against the tables the caller passes.
// Does not own: any section or key (the shared [run] and [codec] tables live in experiment.h,
// file lookup in paths.h). Errors name file:line, section and key; returned as negative qins_status.
//
// How a phase uses it (qins_exp_open does this with qins_exp_run_keys first):
//   static const struct qins_cfg_key phase1_keys[] = {
//       {"phase1", "variants", QINS_CFG_LIST, "qins8,qins6,int8,fp16", 1, 16, NULL, "KV variants"},
//       {"phase1", "alphas", QINS_CFG_LIST, "0.5,1,2", 1, 32, NULL, "alpha sweep", NULL,
//        QINS_CFG_ITEM_DOUBLE, 1e-3, 1e6},
//       {0}};
//   const struct qins_cfg_key *tables[] = {qins_exp_run_keys, phase1_keys, NULL};
//   qins_config_t *cfg; QINS_TRY(qins_config_new(&cfg, tables));
//   QINS_TRY(qins_config_load_file(cfg, args.config_path));        // NULL path: all defaults
//   for (...) QINS_TRY(qins_config_set(cfg, args.overrides[i]));   // "run.tokens=64"
//   int64_t n = qins_config_int(cfg, "run", "tokens");
//   const double *a; size_t na = qins_config_double_list(cfg, "phase1", "alphas", &a);
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

// What each item of a LIST is (numbers are normalised in the effective text like scalars).
enum qins_cfg_item {
    QINS_CFG_ITEM_STRING = 0, // any text (the default)
    QINS_CFG_ITEM_INT,        // decimal int64 (read with qins_config_int_list or _double_list)
    QINS_CFG_ITEM_DOUBLE,     // finite double (read with qins_config_double_list)
};

// A check beyond type and range: returns 0 if fine, else non-zero and writes why (or leaves
// why empty: the engine then uses the last error the callback logged). The engine silences
// logging while it runs a check, so a check may call any core parser (qins_codec_parse, …).
typedef int (*qins_cfg_check_fn)(const char *value, char *why, size_t cap);

struct qins_cfg_key {
    const char *section;
    const char *key;          // NULL ends a table
    enum qins_cfg_type type;
    const char *def;          // default, written as in the file ("" allowed for STRING)
    double min, max;          // INT/DOUBLE range, LIST item count; ignored when min > max
    const char *choices;      // ENUM / LIST items: "a|b|c"; NULL = any
    const char *doc;          // one line: meaning, unit, and what the default means
    qins_cfg_check_fn check;  // optional extra validation of the whole STRING/LIST value
    // LIST items (new fields at the end: tables written positionally without them keep
    // compiling, and zero means "string items, no range, no check"):
    enum qins_cfg_item item;  // item type
    double item_min, item_max; // per-item range for INT/DOUBLE items; applied when item_min < item_max
    qins_cfg_check_fn item_check; // optional, called per item (any item type) with the trimmed item text
};

typedef struct qins_config qins_config_t;

// Creates a config holding the keys of the NULL-terminated list of tables (in that order; a
// table listed twice counts once), every key at its default. Returns QINS_OK, QINS_ERR_NOMEM, or QINS_ERR_ARG for a table whose
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
// Prints every key of the tables (a table listed twice counts once) with its type, default,
// range and doc as commented INI, one [section] header per section run.
void qins_config_print_doc(FILE *f, const struct qins_cfg_key *const *tables);

// Getters. Asking for an undeclared key or the wrong type is a programming error: it logs
// and returns 0 / 0.0 / false / "" (assert fires in debug builds).
int64_t qins_config_int(const qins_config_t *c, const char *section, const char *key);
double qins_config_double(const qins_config_t *c, const char *section, const char *key);
bool qins_config_bool(const qins_config_t *c, const char *section, const char *key);
const char *qins_config_str(const qins_config_t *c, const char *section, const char *key);
// LIST: returns the item count and points *items at the (config-owned) items.
size_t qins_config_list(const qins_config_t *c, const char *section, const char *key, const char *const **items);
// LIST of INT items: returns the item count and points *items at the config-owned values
// (parsed once, at load/set). Other item types are a programming error (returns 0, NULL).
size_t qins_config_int_list(const qins_config_t *c, const char *section, const char *key, const int64_t **items);
// LIST of DOUBLE or INT items: returns the count and points *items at config-owned doubles.
size_t qins_config_double_list(const qins_config_t *c, const char *section, const char *key, const double **items);

// Reads one raw value from INI text without declaring or validating anything (for tools
// such as `qins reproduce` that must read a recorded config of any phase). Returns QINS_OK,
// or QINS_ERR_RANGE if the key is absent.
int qins_config_peek(const char *ini_text, const char *section, const char *key, char *out, size_t cap);

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
