// core/results.h — one HDF5 file per run: the writer (begin / metric / array / plot / commit).
// Reading run files and listing results/ is core/runfile.h (gates, reports, runs, reproduce).
// Owns: the run-file schema below, run ids, atomic completion (temp file + rename) and the
// SIGINT/SIGTERM/SIGHUP cleanup of temp files. Does not own: what phases measure, gate logic
// (core/gate.h). Errors are negative qins_status values with one logged line.
//
// ---- Schema (version 1). Plain HDF5 types only: UTF-8 variable-length strings, native
// double/float/int32/int64/uint8, so `h5dump -A results/phase1/<id>.h5` or h5py read it.
//
// File: results/phase<N>/<run-id>.h5, run id = <UTC start yyyymmddThhmmssZ>-<first 8 hex of
// config_hash> (a "-2", "-3" suffix if that name is taken). While running it is
// results/phase<N>/.<run-id>.h5.tmp; commit writes `complete` = 1, then renames. A reader
// accepts only a *.h5 name with complete == 1: an interrupted run never looks complete.
//
// Root attributes:
//   schema_version int32 1          phase int32 N            run_id string
//   config string     effective config INI (defaults filled in) — what reproduce re-runs
//   config_hash string sha256 hex of `config`
//   config_source string  the config file text verbatim ("" = defaults only)
//   config_path string    where it was read from ("" = none)
//   git_commit string  harness commit the binary was built from (regenerated each build)
//   git_dirty string   "clean" | "dirty" | "unknown" (git status --porcelain at run time)
//   model_path, model_sha256, eval_path, eval_sha256 strings ("none" when not used)
//   host string, threads int32, command string (argv joined), tag string ([run] tag)
//   blas_name string "OpenBLAS", blas_version string "0.3.21", blas_core string (the loaded
//   openblas_get_corename(), e.g. "Cooperlake"), blas_core_corrected_from string (the core
//   OpenBLAS chose before core/blas.h re-executed with OPENBLAS_CORETYPE; "" = not corrected),
//   blas_threads int32 (openblas_get_num_threads() at begin), cpu_model string (CPUID brand),
//   cpu_features string ("avx avx2 fma f16c avx512f ..."). Absent in files written before them.
//   start_time, end_time strings (UTC ISO 8601), start_unix double (seconds since the epoch,
//   microsecond resolution: orders runs that start within one second), forced int32 0/1,
//   complete int32 0/1
//   key_metrics string: comma-separated metric names shown first by reports (optional)
// Groups (phases write under these; intermediate groups are created on demand):
//   /metrics/<variant>/<metric>  scalar double, attribute `unit` (string). Naming convention:
//       `<variant>/<metric>` e.g. qins8/token_match, qins8/kv_compression_vs_fp16,
//       qins8/overhead_pct, fp16/token_match; run-wide scalars are just `<metric>`.
//       Units: "fraction", "pct", "ratio", "nats", "bits/symbol", "count", "bytes", and
//       timings "s", "ms", "us", "ns", "tok/s", "GB/s", "pct_time" (a timing-derived percent,
//       e.g. overhead_pct). `qins reproduce` compares timings with a tolerance, others exactly.
//   /generation/prompts (strings), /generation/prompt_ids (strings),
//   /generation/<variant>/tokens int32 (n_prompts, n_tokens) — variant "baseline" for FP32,
//   /generation/<variant>/first_divergence int32 (n_prompts)
//   /perplexity/<variant>/nll double (n_windows)       per-window mean NLL
//   /entropy/<name>/hist double (bins), attrs bits, entropy
//   /latency/<variant>/<what> double (samples), attr unit
//   /memory/<what> ...                                  bytes per store/tensor
//   /data  attrs: eval_slice, eval_bytes int64[2], calib_slice, calib_bytes int64[2], prompts_source
//   /plots/<name>  attrs title, xlabel, ylabel, kind ("lines"|"points"|"bars"|"histogram"),
//       logx, logy int32; datasets x double (n), y double (n_series, n), series strings
//       (n_series), xlabels strings (n, optional: bar categories). `qins report` renders each.
//   phase-specific groups: any path, via qins_run_array / qins_run_strings / qins_run_attr_*.
//
// ---- How a phase binary uses it (config.h, dataset.h and gate.h supply the other pieces):
//   struct qins_phase_args a; QINS_TRY(qins_phase_args_parse(argc, argv, &a));
//   ... qins_config_new / _load_file / _set (a.overrides) ...; char *cfg_text = qins_config_effective(cfg);
//   QINS_TRY(qins_gate_require(N - 1, a.results_dir, a.force));
//   struct qins_dataset d; QINS_TRY(qins_dataset_load(cfg, &d));       // + qins_prompts_from_config
//   struct qins_run_info info = {.phase = N, .results_dir = a.results_dir, .config_text = cfg_text,
//       .config_source = qins_config_source_text(cfg), .config_path = qins_config_source_path(cfg),
//       .model_path = model_path, .eval_path = d.path, .eval_sha256 = d.sha256, .threads = n_threads,
//       .forced = a.force, .tag = qins_config_str(cfg, "run", "tag"), .argc = argc, .argv = argv};
//   qins_run_t *run; QINS_TRY(qins_run_begin(&run, &info));
//   qins_dataset_record(run, &d, &prompts);
//   ... measure ...; qins_run_metric(run, "qins8/token_match", v, "fraction");
//   qins_run_array(run, "/generation/qins8/tokens", QINS_DT_I32, ids, n_prompts, n_tokens);
//   qins_run_plot(run, &(struct qins_plot){.name = "match_vs_bits", .kind = QINS_PLOT_LINES, ...});
//   on any error: qins_run_abort(run); at the end: qins_run_commit(run, path, sizeof path).
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sha256.h"

enum qins_dtype { QINS_DT_F32 = 1, QINS_DT_F64, QINS_DT_I32, QINS_DT_I64, QINS_DT_U8 };

typedef struct qins_run qins_run_t;

struct qins_run_info {
    int phase;                 // 0..6
    const char *results_dir;   // root, e.g. "results"
    const char *config_text;   // effective config (qins_config_effective); hashed into the run id
    const char *config_source; // the file text verbatim (NULL = "")
    const char *config_path;   // NULL = ""
    const char *model_path;    // resolved path, NULL = "none"
    const char *model_sha256;  // NULL: computed here from model_path
    const char *eval_path;     // NULL = "none"
    const char *eval_sha256;   // NULL: computed here from eval_path
    int threads;               // threads actually used
    bool forced;               // --force was given (the previous gate had not passed)
    const char *tag;           // [run] tag (NULL = "")
    int argc;                  // command line, recorded (0 = none)
    char **argv;
};

// Creates results/phase<N>/.<run-id>.h5.tmp and writes the root attributes. Installs the
// signal handler that deletes temp files on SIGINT/SIGTERM/SIGHUP. Returns QINS_OK, QINS_ERR_IO
// (cannot create, names the path) or QINS_ERR_ARG.
int qins_run_begin(qins_run_t **out, const struct qins_run_info *info);
// Returns the harness commit this binary was built from: what qins_run_begin records as
// git_commit ("unknown" outside a git checkout).
const char *qins_run_build_commit(void);
// The run id and the final path (valid until commit/abort).
const char *qins_run_id(const qins_run_t *r);
const char *qins_run_final_path(const qins_run_t *r);
// Records /metrics/<name> (name like "qins8/token_match") with its unit. Writing the same
// metric twice is QINS_ERR_STATE. NaN/Inf are recorded as they are. Returns QINS_OK or an error.
int qins_run_metric(qins_run_t *r, const char *name, double value, const char *unit);
// Sets root attribute key_metrics: the metrics reports and `qins runs` show first ("a,b,c").
int qins_run_key_metrics(qins_run_t *r, const char *names_csv);
// Writes a 1-D (cols == 0) or 2-D (rows, cols) array at an absolute path ("/generation/qins8/
// tokens"); missing groups are created. Returns QINS_OK, QINS_ERR_STATE if the path exists.
int qins_run_array(qins_run_t *r, const char *path, enum qins_dtype type, const void *data, size_t rows, size_t cols);
// Writes n strings as a 1-D dataset of UTF-8 variable-length strings.
int qins_run_strings(qins_run_t *r, const char *path, const char *const *strs, size_t n);
// Sets an attribute on the object at path ("/" = root; a missing path becomes a group).
// An existing attribute of that name is replaced.
int qins_run_attr_str(qins_run_t *r, const char *path, const char *name, const char *value);
int qins_run_attr_double(qins_run_t *r, const char *path, const char *name, double value);
int qins_run_attr_int(qins_run_t *r, const char *path, const char *name, int64_t value);
int qins_run_attr_int_array(qins_run_t *r, const char *path, const char *name, const int64_t *v, size_t n);

enum qins_plot_kind { QINS_PLOT_LINES = 1, QINS_PLOT_POINTS, QINS_PLOT_BARS, QINS_PLOT_HISTOGRAM };

// A figure `qins report` renders without phase-specific code (schema: /plots/<name>).
struct qins_plot {
    const char *name;           // [A-Za-z0-9_-]+, unique in the run
    enum qins_plot_kind kind;   // LINES/POINTS: y(x) per series; BARS: clustered bars per
                                // category (xlabels); HISTOGRAM: boxes at bin centres x
    const char *title, *xlabel, *ylabel;
    size_t n;                   // points (categories, bins) per series
    const double *x;            // (n); may be NULL for BARS (then 0..n-1)
    const char *const *xlabels; // (n) category labels, optional
    size_t n_series;
    const double *y;            // (n_series, n) row-major
    const char *const *series;  // (n_series) legend labels
    bool logx, logy;
};
// Records a plot. Returns QINS_OK, QINS_ERR_ARG (bad name/shape) or an HDF5 error.
int qins_run_plot(qins_run_t *r, const struct qins_plot *p);
// Writes end_time and complete = 1, closes and renames to the final path; copies that path
// into final_path (may be NULL) and frees the run. On error the temp file is removed.
int qins_run_commit(qins_run_t *r, char *final_path, size_t cap);
// Closes and deletes the temp file, frees the run (NULL is a no-op). Returns nothing.
void qins_run_abort(qins_run_t *r);
