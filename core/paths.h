// core/paths.h — the one place that decides which file a name means: models, vocab files, data
// files and source-tree files (configs, prompt CSVs, gates, plot scripts), and the shared data root.
// Owns: the lookup order below (used by the CLI, the phases, the benches and the tests).
// Does not own: opening or parsing files. Errors: negative qins_status; not found is one log
// line naming every place tried (qins_path_try is the same lookup without the log line).
//
// Lookup order (README "Models and data" quotes this text):
//   A name containing '/' is a path: used as given (kind SOURCE: a relative path is also tried
//   under <source>/). A bare name is tried in these places, the first readable file wins:
//     MODEL   $QINS_MODELS/  <shared>/models/  ./models/  ./  <source>/../shared/models/
//     VOCAB   $QINS_MODELS/  <shared>/tokenizers/  ./tokenizers/  ./  <source>/../shared/tokenizers/
//     DATA    $QINS_DATA/    <shared>/data/    ./data/    ./  <source>/../shared/data/
//     SOURCE  ./  <source>/
//   <shared> is $QINS_SHARED, else $QINS_MODELS/.. ; <source> is $QINS_SOURCE_DIR, else the
//   source tree the binary was built from. Unset or empty variables are skipped.
#pragma once
#include <stddef.h>

enum qins_path_kind {
    QINS_PATH_MODEL,  // GGUF models ([run] model, --model)
    QINS_PATH_VOCAB,  // vocab-only GGUFs whose tokenizer.* keys a written model copies (write-gguf --vocab)
    QINS_PATH_DATA,   // evaluation texts and other data files ([run] eval_text)
    QINS_PATH_SOURCE, // files of the source tree: experiments/*.ini, prompt CSVs, gates, plots
};

// Resolves name (of the given kind) to the first readable regular file in the lookup order
// and writes its path into out (cap bytes). Returns QINS_OK, QINS_ERR_ARG (empty name),
// QINS_ERR_IO (not found: one error line "<kind> '<name>' not found; tried A, B, ...") or
// QINS_ERR_RANGE (the found path is longer than cap).
int qins_path_resolve(enum qins_path_kind kind, const char *name, char *out, size_t cap);
// Same lookup; a miss returns QINS_ERR_IO without logging (for optional files). Returns as above.
int qins_path_try(enum qins_path_kind kind, const char *name, char *out, size_t cap);
// Writes the places a bare or relative name of this kind is tried, in order, comma-separated
// (what the not-found message lists) into out. Returns QINS_OK or QINS_ERR_RANGE.
int qins_path_candidates(enum qins_path_kind kind, const char *name, char *out, size_t cap);
// The kind's name in messages: "model", "vocab", "data", "source". Returns a static string.
const char *qins_path_kind_name(enum qins_path_kind kind);

// The shared data root (the folder holding models/, reference/, tokenizers/, data/):
// $QINS_SHARED if set, else $QINS_MODELS/.., else <source>/../shared. It must be a directory.
// Returns QINS_OK, QINS_ERR_IO (naming the folder and where it came from) or QINS_ERR_RANGE.
int qins_shared_dir(char *out, size_t cap);
// Joins the shared root and rel (e.g. "reference/x.json") into out; the file must exist.
// Returns QINS_OK or < 0 (logged).
int qins_shared_path(const char *rel, char *out, size_t cap);
