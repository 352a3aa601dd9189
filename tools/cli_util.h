// tools/cli_util.h — option parsing shared by the subcommands: "--name value" options and
// "--flag" flags, checked against the command's known lists so a typo is an error.
#pragma once
#include <stdbool.h>

struct cli_args {
    const char *cmd;            // subcommand name, for messages
    int argc;
    char **argv;                // argv[0] is the subcommand
    const char *const *options; // NULL-terminated names taking a value ("--model")
    const char *const *flags;   // NULL-terminated names without a value ("--json")
    const char *positional[4];  // non-option arguments in order
    int n_positional;
};

// Validates argv against the known lists; prints a one-line error and returns -1 on an
// unknown option, a missing value or too many positional arguments.
int cli_parse(struct cli_args *a);
// Value of --name, or NULL when absent.
const char *cli_opt(const struct cli_args *a, const char *name);
bool cli_flag(const struct cli_args *a, const char *name);
// Parses an integer option in [lo, hi] (dflt when absent); prints an error and returns -1 if bad.
int cli_int(const struct cli_args *a, const char *name, long lo, long hi, long dflt, long *out);
// Reads a whole file; returns a malloc'd NUL-terminated buffer and its length, or NULL with an
// error printed (missing or unreadable file).
char *cli_read_file(const char *cmd, const char *path, long *len);

struct qins_json;
// Prints "blas  OpenBLAS <version>, core <core> [(corrected from X)], <n> threads" and a "cpu"
// line (model, features), labels padded to `width`. Returns nothing.
void cli_blas_print(int width);
// Writes the same facts as one JSON object value (after a key, or inside an array). Returns nothing.
void cli_blas_json(struct qins_json *j);

struct qins_model;
struct qins_tokenizer;
struct qins_kv_spec;
// Resolves and loads --model (or the first positional argument) and its tokenizer, and sets the
// thread count from --threads (default: all online CPUs). Prints a one-line error on failure.
int cli_load_model(const struct cli_args *a, struct qins_model **m, struct qins_tokenizer **tok);
// Frees what cli_load_model made, the weight codec a --config installed on the slots included
// (slot state belongs to core/slots, not to the model). NULL-safe.
void cli_free_model(struct qins_model *m, struct qins_tokenizer *tok);
// Parses --kv (default "fp32") into spec; prints the error and returns -1 if bad.
int cli_kv_spec(const struct cli_args *a, struct qins_kv_spec *spec);
