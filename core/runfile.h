// core/runfile.h — reading complete run files (schema at the top of results.h) and listing the
// runs under results/: what gates, reports, `qins runs` and `qins reproduce` use.
// Owns: read-only handles and the lists it returns. Does not own: writing (results.h), gate
// logic. Errors: negative qins_status with one logged line (absent items: debug log only).
#pragma once
#include <stdbool.h>
#include <stddef.h>

#include "results.h"
#include "sha256.h"

struct qins_run_meta {
    char path[1024];
    int phase;
    char run_id[96];
    char start_time[32], end_time[32];
    double start_unix;
    bool forced;
    char tag[128];
    char config_hash[QINS_SHA256_HEX];
    char model_path[1024], model_sha256[QINS_SHA256_HEX];
    char eval_path[1024], eval_sha256[QINS_SHA256_HEX];
    char git_commit[64], git_dirty[16];
    char host[128];
    int threads;
    char blas_name[16], blas_version[64], blas_core[32], blas_core_corrected_from[32]; // "" when not recorded
    int blas_threads;                                                                    // 0 when not recorded
    char cpu_model[64], cpu_features[160];
    char matmul_kernels[16]; // kernels/matmul.h ISA in use ("avx512", …; "" when not recorded)
};

typedef struct qins_runfile qins_runfile_t;

// Opens a complete run file read-only. Returns QINS_OK, QINS_ERR_IO, or QINS_ERR_FORMAT when
// it is not a complete run file (temp name, complete != 1, missing root attributes).
int qins_runfile_open(qins_runfile_t **out, const char *path);
// Closes (NULL is a no-op).
void qins_runfile_close(qins_runfile_t *f);
// The root attributes above, parsed at open.
const struct qins_run_meta *qins_runfile_meta(const qins_runfile_t *f);
// Returns true if path (a group, dataset) exists.
bool qins_runfile_exists(const qins_runfile_t *f, const char *path);
// Reads a string attribute (fixed or variable length) of the object at path into a malloc'd
// *out. Returns QINS_OK or QINS_ERR_RANGE if absent (logged at debug level only).
int qins_runfile_attr_str(const qins_runfile_t *f, const char *path, const char *name, char **out);
// Reads a numeric scalar attribute as double. Returns QINS_OK or QINS_ERR_RANGE if absent.
int qins_runfile_attr_double(const qins_runfile_t *f, const char *path, const char *name, double *out);
// Reads /metrics/<name> and its unit (unit may be NULL). Returns QINS_OK, or QINS_ERR_RANGE
// when the metric does not exist (debug log only: gates turn that into a FAIL).
int qins_runfile_metric(const qins_runfile_t *f, const char *name, double *value, char *unit, size_t unit_cap);
// Lists every metric name ("qins8/token_match", ...) in sorted order; free with qins_strv_free.
int qins_runfile_metric_names(const qins_runfile_t *f, char ***names, size_t *n);
// The metrics reports show first: root attribute key_metrics (the ones that exist), or every
// metric when it is absent. Free with qins_strv_free.
int qins_runfile_key_metrics(const qins_runfile_t *f, char ***names, size_t *n);
// Lists the children of a group (sorted); free with qins_strv_free. QINS_ERR_RANGE if absent.
int qins_runfile_children(const qins_runfile_t *f, const char *group, char ***names, size_t *n);
// Reads a 1-D or 2-D numeric dataset converted to `as` into malloc'd *data; *rows, *cols
// (cols = 1 for 1-D; rows = cols = 1 for a scalar). Returns QINS_OK or QINS_ERR_RANGE / _FORMAT.
int qins_runfile_read(const qins_runfile_t *f, const char *path, enum qins_dtype as, void **data, size_t *rows,
                      size_t *cols);
// Reads a 1-D string dataset; free with qins_strv_free.
int qins_runfile_strings(const qins_runfile_t *f, const char *path, char ***strs, size_t *n);
// Frees an array of n malloc'd strings (NULL is a no-op).
void qins_strv_free(char **v, size_t n);

// Lists complete runs under results_dir/phase<N> (phase < 0: every phase 0..9), newest first
// (start_unix, then run id). *n_incomplete counts temp files and *.h5 files that are not
// complete runs (may be NULL). Free *out with free(). A missing directory is an empty list.
int qins_results_list(const char *results_dir, int phase, struct qins_run_meta **out, size_t *n,
                      size_t *n_incomplete);
// True for units that mark a timing ("s", "ms", "us", "ns", "tok/s", "GB/s", "pct_time", ...).
bool qins_unit_is_timing(const char *unit);
// Verifies that the files named by a run still hash to the recorded sha256 (model, eval text).
// model_path/eval_path: where they are now (NULL = the recorded paths; "none" is skipped).
// Returns QINS_OK or QINS_ERR_STATE with a message naming both hashes.
int qins_run_verify_inputs(const qins_runfile_t *f, const char *model_path, const char *eval_path);
