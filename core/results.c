// core/results.c — writing HDF5 run files (schema in results.h; reading is core/runfile.c).
#include "results.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "blas.h"
#include "common.h"
#include "h5.h"
#include "matmul.h"
#include "runfile.h"
#include "util.h"

#include "qins_git_commit.h" // QINS_GIT_COMMIT, generated at build time (cmake/git_commit.cmake)
#ifndef QINS_SOURCE_DIR
#define QINS_SOURCE_DIR ""
#endif

// ---- temp-file cleanup on signals. Only async-signal-safe calls in the handler.

enum { MAX_ACTIVE = 8 };
static char active_tmp[MAX_ACTIVE][1200];
static volatile sig_atomic_t active_used[MAX_ACTIVE];
static struct sigaction old_int, old_term, old_hup;
static bool handlers_installed;

static void on_signal(int sig) {
    for (int i = 0; i < MAX_ACTIVE; i++)
        if (active_used[i]) unlink(active_tmp[i]);
    // Restore what was there before and re-raise, so the process ends as it would have.
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    sigaction(SIGHUP, &old_hup, NULL);
    raise(sig);
}

static int register_tmp(const char *path) {
    if (!handlers_installed) {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_signal;
        sigemptyset(&sa.sa_mask);
        sigaction(SIGINT, &sa, &old_int);
        sigaction(SIGTERM, &sa, &old_term);
        sigaction(SIGHUP, &sa, &old_hup);
        handlers_installed = true;
    }
    for (int i = 0; i < MAX_ACTIVE; i++)
        if (!active_used[i]) {
            snprintf(active_tmp[i], sizeof active_tmp[i], "%s", path);
            active_used[i] = 1;
            return i;
        }
    return -1;
}

static void unregister_tmp(int slot) {
    if (slot >= 0) active_used[slot] = 0;
}

// ---- small HDF5 writing helpers

static hid_t lcpl_intermediate(void) {
    hid_t l = H5Pcreate(H5P_LINK_CREATE);
    H5Pset_create_intermediate_group(l, 1);
    return l;
}

static int write_attr_str(hid_t obj, const char *name, const char *value) {
    if (H5Aexists(obj, name) > 0) H5Adelete(obj, name);
    hid_t t = qins_h5_str_type(), s = H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate2(obj, name, t, s, H5P_DEFAULT, H5P_DEFAULT);
    const char *v = value ? value : "";
    herr_t e = a < 0 ? -1 : H5Awrite(a, t, &v);
    if (a >= 0) H5Aclose(a);
    H5Sclose(s);
    H5Tclose(t);
    QINS_CHECK(e >= 0, QINS_ERR_IO, "cannot write attribute '%s'", name);
    return QINS_OK;
}

static int write_attr_num(hid_t obj, const char *name, hid_t type, const void *v, size_t n) {
    if (H5Aexists(obj, name) > 0) H5Adelete(obj, name);
    hsize_t dim = n;
    hid_t s = n == 1 ? H5Screate(H5S_SCALAR) : H5Screate_simple(1, &dim, NULL);
    hid_t a = H5Acreate2(obj, name, type, s, H5P_DEFAULT, H5P_DEFAULT);
    herr_t e = a < 0 ? -1 : H5Awrite(a, type, v);
    if (a >= 0) H5Aclose(a);
    H5Sclose(s);
    QINS_CHECK(e >= 0, QINS_ERR_IO, "cannot write attribute '%s'", name);
    return QINS_OK;
}

// ---- the writer

struct qins_run {
    hid_t file;
    int slot;
    char tmp[1200], final[1200], id[96];
};

static void iso_utc(time_t t, char *buf, size_t cap) {
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, cap, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

// "clean" / "dirty" / "unknown": "clean" only when the binary was built from an unmodified tree at
// QINS_GIT_COMMIT and the source tree is still at that commit with nothing changed when it runs
// (a binary built from edits, or run after a commit it does not contain, is not that commit).
static void git_state(char *out, size_t cap) {
    const char *src = getenv("QINS_SOURCE_DIR");
    if (!src || !*src) src = QINS_SOURCE_DIR;
    snprintf(out, cap, "%s", QINS_GIT_BUILD_STATE);
    if (strcmp(QINS_GIT_BUILD_STATE, "clean")) return;
    snprintf(out, cap, "unknown");
    if (!*src || strchr(src, '\'')) return;
    char cmd[1200], line[256];
    snprintf(cmd, sizeof cmd, "git -C '%s' rev-parse HEAD 2>/dev/null", src);
    FILE *p = popen(cmd, "r");
    if (!p) return;
    const bool same_head = fgets(line, sizeof line, p) && !strncmp(line, QINS_GIT_COMMIT, strlen(QINS_GIT_COMMIT));
    if (pclose(p) != 0) return;
    if (!same_head) {
        snprintf(out, cap, "dirty");
        return;
    }
    snprintf(cmd, sizeof cmd, "git -C '%s' status --porcelain 2>/dev/null", src);
    p = popen(cmd, "r");
    if (!p) return;
    bool any = false;
    while (fgets(line, sizeof line, p)) any = true;
    const int rc = pclose(p);
    if (rc == 0) snprintf(out, cap, "%s", any ? "dirty" : "clean");
}

int qins_run_begin(qins_run_t **out, const struct qins_run_info *info) {
    *out = NULL;
    qins_h5_quiet();
    QINS_CHECK(info->phase >= 0 && info->phase <= 9, QINS_ERR_ARG, "phase %d out of range", info->phase);
    QINS_CHECK(info->config_text, QINS_ERR_ARG, "no config text");
    const char *root = info->results_dir ? info->results_dir : "results";
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/phase%d", root, info->phase);
    QINS_TRY(qins_mkdir_p(dir));

    char hash[QINS_SHA256_HEX], model_sha[QINS_SHA256_HEX] = "none", eval_sha[QINS_SHA256_HEX] = "none";
    qins_sha256_hex(info->config_text, strlen(info->config_text), hash);
    if (info->model_path && strcmp(info->model_path, "none")) {
        if (info->model_sha256) snprintf(model_sha, sizeof model_sha, "%s", info->model_sha256);
        else QINS_TRY(qins_sha256_file(info->model_path, model_sha));
    }
    if (info->eval_path && strcmp(info->eval_path, "none")) {
        if (info->eval_sha256) snprintf(eval_sha, sizeof eval_sha, "%s", info->eval_sha256);
        else QINS_TRY(qins_sha256_file(info->eval_path, eval_sha));
    }

    qins_run_t *r = calloc(1, sizeof *r);
    QINS_CHECK(r, QINS_ERR_NOMEM, "out of memory");
    r->slot = -1;
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    char stamp[32];
    strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", &tm);
    for (int k = 1; k < 1000; k++) { // a free name: neither final nor temp file exists
        if (k == 1) snprintf(r->id, sizeof r->id, "%s-%.8s", stamp, hash);
        else snprintf(r->id, sizeof r->id, "%s-%.8s-%d", stamp, hash, k);
        snprintf(r->final, sizeof r->final, "%s/%s.h5", dir, r->id);
        snprintf(r->tmp, sizeof r->tmp, "%s/.%s.h5.tmp", dir, r->id);
        if (access(r->final, F_OK) == 0) continue;
        int fd = open(r->tmp, O_CREAT | O_EXCL | O_WRONLY, 0644); // claims the name atomically
        if (fd < 0) continue;
        close(fd);
        break;
    }
    r->slot = register_tmp(r->tmp);
    r->file = H5Fcreate(r->tmp, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    if (r->file < 0) {
        qins_log(QINS_LOG_ERROR, "cannot create run file '%s'", r->tmp);
        unlink(r->tmp);
        unregister_tmp(r->slot);
        free(r);
        return QINS_ERR_IO;
    }
    char host[128] = "unknown", t0[32], dirty[16];
    gethostname(host, sizeof host - 1);
    iso_utc(now, t0, sizeof t0);
    git_state(dirty, sizeof dirty);
    char command[2048] = "";
    for (int i = 0; i < info->argc; i++) {
        strncat(command, i ? " " : "", sizeof command - strlen(command) - 1);
        strncat(command, info->argv[i], sizeof command - strlen(command) - 1);
    }
    struct qins_blas_info blas;
    qins_blas_info_get(&blas);
    int32_t one = 1, zero = 0, phase = info->phase, threads = info->threads, forced = info->forced,
            blas_threads = blas.threads;
    int st = QINS_OK;
    hid_t f = r->file;
    if (st == QINS_OK) st = write_attr_num(f, "schema_version", H5T_NATIVE_INT32, &one, 1);
    if (st == QINS_OK) st = write_attr_num(f, "phase", H5T_NATIVE_INT32, &phase, 1);
    if (st == QINS_OK) st = write_attr_str(f, "run_id", r->id);
    if (st == QINS_OK) st = write_attr_str(f, "config", info->config_text);
    if (st == QINS_OK) st = write_attr_str(f, "config_hash", hash);
    if (st == QINS_OK) st = write_attr_str(f, "config_source", info->config_source);
    if (st == QINS_OK) st = write_attr_str(f, "config_path", info->config_path);
    if (st == QINS_OK) st = write_attr_str(f, "git_commit", QINS_GIT_COMMIT);
    if (st == QINS_OK) st = write_attr_str(f, "git_dirty", dirty);
    if (st == QINS_OK) st = write_attr_str(f, "model_path", info->model_path ? info->model_path : "none");
    if (st == QINS_OK) st = write_attr_str(f, "model_sha256", model_sha);
    if (st == QINS_OK) st = write_attr_str(f, "eval_path", info->eval_path ? info->eval_path : "none");
    if (st == QINS_OK) st = write_attr_str(f, "eval_sha256", eval_sha);
    if (st == QINS_OK) st = write_attr_str(f, "host", host);
    if (st == QINS_OK) st = write_attr_num(f, "threads", H5T_NATIVE_INT32, &threads, 1);
    if (st == QINS_OK) st = write_attr_str(f, "blas_name", blas.name);
    if (st == QINS_OK) st = write_attr_str(f, "blas_version", blas.version);
    if (st == QINS_OK) st = write_attr_str(f, "blas_core", blas.core);
    if (st == QINS_OK) st = write_attr_str(f, "blas_core_corrected_from", blas.corrected_from);
    if (st == QINS_OK) st = write_attr_num(f, "blas_threads", H5T_NATIVE_INT32, &blas_threads, 1);
    if (st == QINS_OK) st = write_attr_str(f, "cpu_model", blas.cpu_model);
    if (st == QINS_OK) st = write_attr_str(f, "cpu_features", blas.cpu_features);
    if (st == QINS_OK) st = write_attr_str(f, "matmul_kernels", qins_isa_name(qins_matmul_isa()));
    if (st == QINS_OK) st = write_attr_str(f, "command", command);
    if (st == QINS_OK) st = write_attr_str(f, "tag", info->tag);
    if (st == QINS_OK) st = write_attr_str(f, "start_time", t0);
    if (st == QINS_OK) st = write_attr_str(f, "end_time", "");
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    double t_unix = (double)ts.tv_sec + 1e-6 * (double)(ts.tv_nsec / 1000);
    if (st == QINS_OK) st = write_attr_num(f, "start_unix", H5T_NATIVE_DOUBLE, &t_unix, 1);
    if (st == QINS_OK) st = write_attr_num(f, "forced", H5T_NATIVE_INT32, &forced, 1);
    if (st == QINS_OK) st = write_attr_num(f, "complete", H5T_NATIVE_INT32, &zero, 1);
    if (st == QINS_OK) {
        hid_t g = H5Gcreate2(f, "/metrics", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        if (g < 0) st = QINS_ERR_IO;
        else H5Gclose(g);
    }
    if (st < 0) {
        qins_run_abort(r);
        return st;
    }
    *out = r;
    return QINS_OK;
}

const char *qins_run_build_commit(void) { return QINS_GIT_COMMIT; }
const char *qins_run_id(const qins_run_t *r) { return r->id; }
const char *qins_run_final_path(const qins_run_t *r) { return r->final; }

// Opens the object at path, creating it as a group (with parents) if missing.
static hid_t open_or_create(hid_t file, const char *path) {
    if (qins_h5_path_exists(file, path)) return H5Oopen(file, path, H5P_DEFAULT);
    hid_t l = lcpl_intermediate();
    hid_t g = H5Gcreate2(file, path, l, H5P_DEFAULT, H5P_DEFAULT);
    H5Pclose(l);
    return g;
}

int qins_run_metric(qins_run_t *r, const char *name, double value, const char *unit) {
    QINS_CHECK(qins_h5_valid_name(name, true), QINS_ERR_ARG,
               "bad metric name '%s' (use <variant>/<metric>, [A-Za-z0-9_-.+@])", name ? name : "(null)");
    char path[300];
    snprintf(path, sizeof path, "/metrics/%s", name);
    QINS_CHECK(!qins_h5_path_exists(r->file, path), QINS_ERR_STATE, "metric '%s' written twice", name);
    hid_t l = lcpl_intermediate(), s = H5Screate(H5S_SCALAR);
    hid_t d = H5Dcreate2(r->file, path, H5T_NATIVE_DOUBLE, s, l, H5P_DEFAULT, H5P_DEFAULT);
    herr_t e = d < 0 ? -1 : H5Dwrite(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, &value);
    int st = e < 0 ? QINS_ERR_IO : write_attr_str(d, "unit", unit ? unit : "");
    if (d >= 0) H5Dclose(d);
    H5Sclose(s);
    H5Pclose(l);
    QINS_CHECK(st == QINS_OK, QINS_ERR_IO, "cannot write metric '%s' (a group of that name exists?)", name);
    return QINS_OK;
}

int qins_run_key_metrics(qins_run_t *r, const char *names_csv) { return write_attr_str(r->file, "key_metrics", names_csv); }

int qins_run_array(qins_run_t *r, const char *path, enum qins_dtype type, const void *data, size_t rows, size_t cols) {
    QINS_CHECK(qins_h5_valid_abs(path) && strcmp(path, "/"), QINS_ERR_ARG, "bad dataset path '%s'",
               path ? path : "(null)");
    QINS_CHECK(qins_h5_mem_type(type) != H5I_INVALID_HID, QINS_ERR_ARG, "bad dtype %d", (int)type);
    QINS_CHECK(data || rows == 0, QINS_ERR_ARG, "%s: NULL data", path);
    QINS_CHECK(!qins_h5_path_exists(r->file, path), QINS_ERR_STATE, "'%s' written twice", path);
    hsize_t dims[2] = {rows, cols};
    hid_t s = H5Screate_simple(cols ? 2 : 1, dims, NULL);
    hid_t l = lcpl_intermediate();
    hid_t d = H5Dcreate2(r->file, path, qins_h5_mem_type(type), s, l, H5P_DEFAULT, H5P_DEFAULT);
    size_t count = rows * (cols ? cols : 1);
    herr_t e = d < 0 ? -1 : count > 0 ? H5Dwrite(d, qins_h5_mem_type(type), H5S_ALL, H5S_ALL, H5P_DEFAULT, data) : 0;
    if (d >= 0) H5Dclose(d);
    H5Pclose(l);
    H5Sclose(s);
    QINS_CHECK(e >= 0, QINS_ERR_IO, "cannot write dataset '%s'", path);
    return QINS_OK;
}

int qins_run_strings(qins_run_t *r, const char *path, const char *const *strs, size_t n) {
    QINS_CHECK(qins_h5_valid_abs(path) && strcmp(path, "/"), QINS_ERR_ARG, "bad dataset path '%s'",
               path ? path : "(null)");
    QINS_CHECK(!qins_h5_path_exists(r->file, path), QINS_ERR_STATE, "'%s' written twice", path);
    const char **v = calloc(n ? n : 1, sizeof *v);
    QINS_CHECK(v, QINS_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) v[i] = strs[i] ? strs[i] : "";
    hsize_t dim = n;
    hid_t s = H5Screate_simple(1, &dim, NULL), t = qins_h5_str_type(), l = lcpl_intermediate();
    hid_t d = H5Dcreate2(r->file, path, t, s, l, H5P_DEFAULT, H5P_DEFAULT);
    herr_t e = d < 0 ? -1 : n ? H5Dwrite(d, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, v) : 0;
    if (d >= 0) H5Dclose(d);
    H5Pclose(l);
    H5Tclose(t);
    H5Sclose(s);
    free(v);
    QINS_CHECK(e >= 0, QINS_ERR_IO, "cannot write strings '%s'", path);
    return QINS_OK;
}

static int attr_generic(qins_run_t *r, const char *path, const char *name, hid_t type, const void *v, size_t n,
                        const char *str) {
    QINS_CHECK(qins_h5_valid_abs(path), QINS_ERR_ARG, "bad object path '%s'", path ? path : "(null)");
    QINS_CHECK(qins_h5_valid_name(name, false), QINS_ERR_ARG, "bad attribute name '%s'", name ? name : "(null)");
    hid_t o = open_or_create(r->file, path);
    QINS_CHECK(o >= 0, QINS_ERR_IO, "cannot open or create '%s'", path);
    int st = str ? write_attr_str(o, name, str) : write_attr_num(o, name, type, v, n);
    H5Oclose(o);
    return st;
}

int qins_run_attr_str(qins_run_t *r, const char *path, const char *name, const char *value) {
    return attr_generic(r, path, name, 0, NULL, 0, value ? value : "");
}
int qins_run_attr_double(qins_run_t *r, const char *path, const char *name, double value) {
    return attr_generic(r, path, name, H5T_NATIVE_DOUBLE, &value, 1, NULL);
}
int qins_run_attr_int(qins_run_t *r, const char *path, const char *name, int64_t value) {
    return attr_generic(r, path, name, H5T_NATIVE_INT64, &value, 1, NULL);
}
int qins_run_attr_int_array(qins_run_t *r, const char *path, const char *name, const int64_t *v, size_t n) {
    QINS_CHECK(n > 0 && v, QINS_ERR_ARG, "empty attribute array '%s'", name);
    return attr_generic(r, path, name, H5T_NATIVE_INT64, v, n, NULL);
}

static const char *plot_kind_name(enum qins_plot_kind k) {
    switch (k) {
    case QINS_PLOT_LINES: return "lines";
    case QINS_PLOT_POINTS: return "points";
    case QINS_PLOT_BARS: return "bars";
    case QINS_PLOT_HISTOGRAM: return "histogram";
    }
    return NULL;
}

int qins_run_plot(qins_run_t *r, const struct qins_plot *p) {
    QINS_CHECK(qins_h5_valid_name(p->name, false), QINS_ERR_ARG, "bad plot name '%s'", p->name ? p->name : "(null)");
    QINS_CHECK(plot_kind_name(p->kind), QINS_ERR_ARG, "plot '%s': bad kind %d", p->name, (int)p->kind);
    QINS_CHECK(p->n > 0 && p->n_series > 0 && p->y, QINS_ERR_ARG, "plot '%s': needs n > 0, n_series > 0 and y",
               p->name);
    QINS_CHECK(p->x || p->kind == QINS_PLOT_BARS, QINS_ERR_ARG, "plot '%s': x is required for %s plots", p->name,
               plot_kind_name(p->kind));
    char base[300], path[340];
    snprintf(base, sizeof base, "/plots/%s", p->name);
    QINS_CHECK(!qins_h5_path_exists(r->file, base), QINS_ERR_STATE, "plot '%s' written twice", p->name);
    double *x = NULL;
    if (!p->x) {
        x = malloc(p->n * sizeof *x);
        QINS_CHECK(x, QINS_ERR_NOMEM, "out of memory");
        for (size_t i = 0; i < p->n; i++) x[i] = (double)i;
    }
    snprintf(path, sizeof path, "%s/x", base);
    int st = qins_run_array(r, path, QINS_DT_F64, p->x ? p->x : x, p->n, 0);
    free(x);
    QINS_TRY(st);
    snprintf(path, sizeof path, "%s/y", base);
    QINS_TRY(qins_run_array(r, path, QINS_DT_F64, p->y, p->n_series, p->n));
    snprintf(path, sizeof path, "%s/series", base);
    if (p->series) {
        QINS_TRY(qins_run_strings(r, path, p->series, p->n_series));
    } else {
        char **names = calloc(p->n_series, sizeof *names);
        QINS_CHECK(names, QINS_ERR_NOMEM, "out of memory");
        for (size_t i = 0; i < p->n_series; i++)
            if ((names[i] = malloc(32))) snprintf(names[i], 32, "series %zu", i + 1);
        st = qins_run_strings(r, path, (const char *const *)names, p->n_series);
        qins_strv_free(names, p->n_series);
        QINS_TRY(st);
    }
    if (p->xlabels) {
        snprintf(path, sizeof path, "%s/xlabels", base);
        QINS_TRY(qins_run_strings(r, path, p->xlabels, p->n));
    }
    QINS_TRY(qins_run_attr_str(r, base, "title", p->title ? p->title : p->name));
    QINS_TRY(qins_run_attr_str(r, base, "xlabel", p->xlabel ? p->xlabel : ""));
    QINS_TRY(qins_run_attr_str(r, base, "ylabel", p->ylabel ? p->ylabel : ""));
    QINS_TRY(qins_run_attr_str(r, base, "kind", plot_kind_name(p->kind)));
    QINS_TRY(qins_run_attr_int(r, base, "logx", p->logx));
    QINS_TRY(qins_run_attr_int(r, base, "logy", p->logy));
    return QINS_OK;
}

int qins_run_commit(qins_run_t *r, char *final_path, size_t cap) {
    char t1[32];
    iso_utc(time(NULL), t1, sizeof t1);
    int32_t one = 1;
    int st = write_attr_str(r->file, "end_time", t1);
    if (st == QINS_OK) st = write_attr_num(r->file, "complete", H5T_NATIVE_INT32, &one, 1);
    if (st == QINS_OK && H5Fclose(r->file) < 0) st = QINS_ERR_IO;
    r->file = H5I_INVALID_HID;
    if (st == QINS_OK) { // data on disk before the name says "complete"
        int fd = open(r->tmp, O_RDONLY);
        if (fd >= 0) {
            fsync(fd);
            close(fd);
        }
        if (rename(r->tmp, r->final) != 0) {
            qins_log(QINS_LOG_ERROR, "cannot rename '%s' to '%s': %s", r->tmp, r->final, strerror(errno));
            st = QINS_ERR_IO;
        }
    }
    if (st == QINS_OK && final_path) snprintf(final_path, cap, "%s", r->final);
    if (st < 0) qins_log(QINS_LOG_ERROR, "run %s not committed; temp file removed", r->id);
    qins_run_abort(r); // closes nothing more; unlinks the temp name if it still exists
    return st;
}

void qins_run_abort(qins_run_t *r) {
    if (!r) return;
    if (r->file >= 0 && r->file != H5I_INVALID_HID) H5Fclose(r->file);
    unlink(r->tmp); // after a successful commit the temp name no longer exists
    unregister_tmp(r->slot);
    free(r);
}
