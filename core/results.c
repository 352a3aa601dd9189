// core/results.c — HDF5 run files (schema in results.h).
#include "results.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <hdf5.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common.h"

#include "qins_git_commit.h" // QINS_GIT_COMMIT, generated at build time (cmake/git_commit.cmake)
#ifndef QINS_SOURCE_DIR
#define QINS_SOURCE_DIR ""
#endif

// HDF5 prints its own error stack by default; we report one line per failure instead.
static void h5_quiet(void) {
    static bool done;
    if (!done) {
        H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
        done = true;
    }
}

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

// ---- small HDF5 helpers

static hid_t str_type(void) {
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, H5T_VARIABLE);
    H5Tset_cset(t, H5T_CSET_UTF8);
    return t;
}

static hid_t mem_type(enum qins_dtype t) {
    switch (t) {
    case QINS_DT_F32: return H5T_NATIVE_FLOAT;
    case QINS_DT_F64: return H5T_NATIVE_DOUBLE;
    case QINS_DT_I32: return H5T_NATIVE_INT32;
    case QINS_DT_I64: return H5T_NATIVE_INT64;
    case QINS_DT_U8: return H5T_NATIVE_UINT8;
    }
    return H5I_INVALID_HID;
}

static size_t dtype_size(enum qins_dtype t) {
    switch (t) {
    case QINS_DT_F32: case QINS_DT_I32: return 4;
    case QINS_DT_F64: case QINS_DT_I64: return 8;
    case QINS_DT_U8: return 1;
    }
    return 0;
}

// True if every component of an absolute path exists (H5Lexists needs the parents to exist).
static bool path_exists(hid_t file, const char *path) {
    if (!strcmp(path, "/")) return true;
    char buf[1024];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *p = buf + 1;; p++) {
        if (*p == '/' || !*p) {
            char c = *p;
            *p = 0;
            if (H5Lexists(file, buf, H5P_DEFAULT) <= 0) return false;
            if (!c) return true;
            *p = c;
        }
    }
}

static hid_t lcpl_intermediate(void) {
    hid_t l = H5Pcreate(H5P_LINK_CREATE);
    H5Pset_create_intermediate_group(l, 1);
    return l;
}

static int write_attr_str(hid_t obj, const char *name, const char *value) {
    if (H5Aexists(obj, name) > 0) H5Adelete(obj, name);
    hid_t t = str_type(), s = H5Screate(H5S_SCALAR);
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

static int mkdir_p(const char *dir) {
    char buf[1024];
    snprintf(buf, sizeof buf, "%s", dir);
    for (char *p = buf + 1;; p++) {
        if (*p == '/' || !*p) {
            char c = *p;
            *p = 0;
            if (mkdir(buf, 0777) != 0 && errno != EEXIST)
                QINS_CHECK(0, QINS_ERR_IO, "cannot create directory '%s': %s", buf, strerror(errno));
            if (!c) break;
            *p = c;
        }
    }
    return QINS_OK;
}

// "clean" / "dirty" / "unknown": git status of the source tree at run time.
static void git_state(char *out, size_t cap) {
    const char *src = getenv("QINS_SOURCE_DIR");
    if (!src || !*src) src = QINS_SOURCE_DIR;
    snprintf(out, cap, "unknown");
    if (!*src || strchr(src, '\'')) return;
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "git -C '%s' status --porcelain 2>/dev/null", src);
    FILE *p = popen(cmd, "r");
    if (!p) return;
    char line[256];
    bool any = false;
    while (fgets(line, sizeof line, p)) any = true;
    int rc = pclose(p);
    if (rc == 0) snprintf(out, cap, "%s", any ? "dirty" : "clean");
}

int qins_run_begin(qins_run_t **out, const struct qins_run_info *info) {
    *out = NULL;
    h5_quiet();
    QINS_CHECK(info->phase >= 0 && info->phase <= 9, QINS_ERR_ARG, "phase %d out of range", info->phase);
    QINS_CHECK(info->config_text, QINS_ERR_ARG, "no config text");
    const char *root = info->results_dir ? info->results_dir : "results";
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/phase%d", root, info->phase);
    QINS_TRY(mkdir_p(dir));

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
    int32_t one = 1, zero = 0, phase = info->phase, threads = info->threads, forced = info->forced;
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

const char *qins_run_id(const qins_run_t *r) { return r->id; }
const char *qins_run_final_path(const qins_run_t *r) { return r->final; }

// Opens the object at path, creating it as a group (with parents) if missing.
static hid_t open_or_create(hid_t file, const char *path) {
    if (path_exists(file, path)) return H5Oopen(file, path, H5P_DEFAULT);
    hid_t l = lcpl_intermediate();
    hid_t g = H5Gcreate2(file, path, l, H5P_DEFAULT, H5P_DEFAULT);
    H5Pclose(l);
    return g;
}

static bool valid_name(const char *s, bool allow_slash) {
    if (!s || !*s || strlen(s) > 200 || s[0] == '/' || s[strlen(s) - 1] == '/' || strstr(s, "//")) return false;
    for (const char *c = s; *c; c++) {
        bool ok = (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
                  strchr("_-.+@", *c) || (allow_slash && *c == '/');
        if (!ok) return false;
    }
    return strcmp(s, ".") && strcmp(s, "..");
}

static bool valid_abs(const char *p) { return p && (!strcmp(p, "/") || (p[0] == '/' && valid_name(p + 1, true))); }

int qins_run_metric(qins_run_t *r, const char *name, double value, const char *unit) {
    QINS_CHECK(valid_name(name, true), QINS_ERR_ARG, "bad metric name '%s' (use <variant>/<metric>, [A-Za-z0-9_-.+@])",
               name ? name : "(null)");
    char path[300];
    snprintf(path, sizeof path, "/metrics/%s", name);
    QINS_CHECK(!path_exists(r->file, path), QINS_ERR_STATE, "metric '%s' written twice", name);
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
    QINS_CHECK(valid_abs(path) && strcmp(path, "/"), QINS_ERR_ARG, "bad dataset path '%s'", path ? path : "(null)");
    QINS_CHECK(mem_type(type) != H5I_INVALID_HID, QINS_ERR_ARG, "bad dtype %d", (int)type);
    QINS_CHECK(data || rows == 0, QINS_ERR_ARG, "%s: NULL data", path);
    QINS_CHECK(!path_exists(r->file, path), QINS_ERR_STATE, "'%s' written twice", path);
    hsize_t dims[2] = {rows, cols};
    hid_t s = H5Screate_simple(cols ? 2 : 1, dims, NULL);
    hid_t l = lcpl_intermediate();
    hid_t d = H5Dcreate2(r->file, path, mem_type(type), s, l, H5P_DEFAULT, H5P_DEFAULT);
    size_t count = rows * (cols ? cols : 1);
    herr_t e = d < 0 ? -1 : count > 0 ? H5Dwrite(d, mem_type(type), H5S_ALL, H5S_ALL, H5P_DEFAULT, data) : 0;
    if (d >= 0) H5Dclose(d);
    H5Pclose(l);
    H5Sclose(s);
    QINS_CHECK(e >= 0, QINS_ERR_IO, "cannot write dataset '%s'", path);
    return QINS_OK;
}

int qins_run_strings(qins_run_t *r, const char *path, const char *const *strs, size_t n) {
    QINS_CHECK(valid_abs(path) && strcmp(path, "/"), QINS_ERR_ARG, "bad dataset path '%s'", path ? path : "(null)");
    QINS_CHECK(!path_exists(r->file, path), QINS_ERR_STATE, "'%s' written twice", path);
    const char **v = calloc(n ? n : 1, sizeof *v);
    QINS_CHECK(v, QINS_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) v[i] = strs[i] ? strs[i] : "";
    hsize_t dim = n;
    hid_t s = H5Screate_simple(1, &dim, NULL), t = str_type(), l = lcpl_intermediate();
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
    QINS_CHECK(valid_abs(path), QINS_ERR_ARG, "bad object path '%s'", path ? path : "(null)");
    QINS_CHECK(valid_name(name, false), QINS_ERR_ARG, "bad attribute name '%s'", name ? name : "(null)");
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
    QINS_CHECK(valid_name(p->name, false), QINS_ERR_ARG, "bad plot name '%s'", p->name ? p->name : "(null)");
    QINS_CHECK(plot_kind_name(p->kind), QINS_ERR_ARG, "plot '%s': bad kind %d", p->name, (int)p->kind);
    QINS_CHECK(p->n > 0 && p->n_series > 0 && p->y, QINS_ERR_ARG, "plot '%s': needs n > 0, n_series > 0 and y",
               p->name);
    QINS_CHECK(p->x || p->kind == QINS_PLOT_BARS, QINS_ERR_ARG, "plot '%s': x is required for %s plots", p->name,
               plot_kind_name(p->kind));
    char base[300], path[340];
    snprintf(base, sizeof base, "/plots/%s", p->name);
    QINS_CHECK(!path_exists(r->file, base), QINS_ERR_STATE, "plot '%s' written twice", p->name);
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

// ---- the reader

struct qins_runfile {
    hid_t file;
    struct qins_run_meta meta;
};

void qins_strv_free(char **v, size_t n) {
    if (!v) return;
    for (size_t i = 0; i < n; i++) free(v[i]);
    free(v);
}

void qins_runfile_close(qins_runfile_t *f) {
    if (!f) return;
    if (f->file >= 0) H5Fclose(f->file);
    free(f);
}

const struct qins_run_meta *qins_runfile_meta(const qins_runfile_t *f) { return &f->meta; }

bool qins_runfile_exists(const qins_runfile_t *f, const char *path) {
    return valid_abs(path) && path_exists(f->file, path);
}

static int read_attr_str(hid_t obj, const char *name, char **out) {
    *out = NULL;
    if (H5Aexists(obj, name) <= 0) return QINS_ERR_RANGE;
    hid_t a = H5Aopen(obj, name, H5P_DEFAULT);
    hid_t ft = H5Aget_type(a);
    int st = QINS_ERR_FORMAT;
    if (H5Tget_class(ft) == H5T_STRING) {
        if (H5Tis_variable_str(ft) > 0) {
            hid_t mt = str_type();
            char *v = NULL;
            if (H5Aread(a, mt, &v) >= 0) {
                *out = strdup(v ? v : "");
                H5free_memory(v);
                st = *out ? QINS_OK : QINS_ERR_NOMEM;
            }
            H5Tclose(mt);
        } else {
            size_t n = H5Tget_size(ft);
            char *buf = calloc(n + 1, 1);
            hid_t mt = H5Tcopy(H5T_C_S1);
            H5Tset_size(mt, n + 1);
            H5Tset_strpad(mt, H5T_STR_NULLTERM);
            if (buf && H5Aread(a, mt, buf) >= 0) {
                *out = buf;
                st = QINS_OK;
            } else {
                free(buf);
            }
            H5Tclose(mt);
        }
    }
    H5Tclose(ft);
    H5Aclose(a);
    return st;
}

static int read_attr_double(hid_t obj, const char *name, double *out) {
    if (H5Aexists(obj, name) <= 0) return QINS_ERR_RANGE;
    hid_t a = H5Aopen(obj, name, H5P_DEFAULT);
    hid_t ft = H5Aget_type(a), sp = H5Aget_space(a);
    H5T_class_t c = H5Tget_class(ft);
    int st = QINS_ERR_FORMAT;
    if ((c == H5T_INTEGER || c == H5T_FLOAT) && H5Sget_simple_extent_npoints(sp) >= 1) {
        hssize_t np = H5Sget_simple_extent_npoints(sp);
        double *buf = malloc((size_t)np * sizeof *buf);
        if (buf && H5Aread(a, H5T_NATIVE_DOUBLE, buf) >= 0) {
            *out = buf[0];
            st = QINS_OK;
        }
        free(buf);
    }
    H5Sclose(sp);
    H5Tclose(ft);
    H5Aclose(a);
    return st;
}

int qins_runfile_attr_str(const qins_runfile_t *f, const char *path, const char *name, char **out) {
    *out = NULL;
    if (!qins_runfile_exists(f, path)) return QINS_ERR_RANGE;
    hid_t o = H5Oopen(f->file, path, H5P_DEFAULT);
    if (o < 0) return QINS_ERR_RANGE;
    int st = read_attr_str(o, name, out);
    H5Oclose(o);
    if (st < 0) qins_log(QINS_LOG_DEBUG, "%s: no string attribute %s on %s", f->meta.path, name, path);
    return st;
}

int qins_runfile_attr_double(const qins_runfile_t *f, const char *path, const char *name, double *out) {
    if (!qins_runfile_exists(f, path)) return QINS_ERR_RANGE;
    hid_t o = H5Oopen(f->file, path, H5P_DEFAULT);
    if (o < 0) return QINS_ERR_RANGE;
    int st = read_attr_double(o, name, out);
    H5Oclose(o);
    return st;
}

static void copy_attr(hid_t f, const char *name, char *dst, size_t cap) {
    char *v;
    if (read_attr_str(f, name, &v) == QINS_OK) {
        snprintf(dst, cap, "%s", v);
        free(v);
    } else {
        dst[0] = 0;
    }
}

// Opens without logging: writes why into msg on failure (listing skips such files quietly).
static int runfile_open(qins_runfile_t **out, const char *path, char *msg, size_t cap) {
    *out = NULL;
    h5_quiet();
    size_t len = strlen(path);
    if (len <= 3 || strcmp(path + len - 3, ".h5")) {
        snprintf(msg, cap, "'%s' is not a run file name (*.h5; temp files are incomplete runs)", path);
        return QINS_ERR_FORMAT;
    }
    if (access(path, R_OK) != 0) {
        snprintf(msg, cap, "cannot read '%s': %s", path, strerror(errno));
        return QINS_ERR_IO;
    }
    if (H5Fis_hdf5(path) <= 0) {
        snprintf(msg, cap, "'%s' is not an HDF5 file", path);
        return QINS_ERR_FORMAT;
    }
    qins_runfile_t *f = calloc(1, sizeof *f);
    if (!f) {
        snprintf(msg, cap, "out of memory");
        return QINS_ERR_NOMEM;
    }
    f->file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f->file < 0) {
        free(f);
        snprintf(msg, cap, "cannot open '%s' as HDF5", path);
        return QINS_ERR_IO;
    }
    double complete = 0, phase = -1, forced = 0, threads = 0, schema = 0;
    read_attr_double(f->file, "complete", &complete);
    read_attr_double(f->file, "schema_version", &schema);
    if (complete != 1 || schema < 1 || read_attr_double(f->file, "phase", &phase) < 0) {
        qins_runfile_close(f);
        snprintf(msg, cap, "'%s' is not a complete run file (interrupted, or not written by qins)", path);
        return QINS_ERR_FORMAT;
    }
    read_attr_double(f->file, "forced", &forced);
    read_attr_double(f->file, "threads", &threads);
    struct qins_run_meta *m = &f->meta;
    read_attr_double(f->file, "start_unix", &m->start_unix);
    snprintf(m->path, sizeof m->path, "%s", path);
    m->phase = (int)phase;
    m->forced = forced != 0;
    m->threads = (int)threads;
    copy_attr(f->file, "run_id", m->run_id, sizeof m->run_id);
    copy_attr(f->file, "start_time", m->start_time, sizeof m->start_time);
    copy_attr(f->file, "end_time", m->end_time, sizeof m->end_time);
    copy_attr(f->file, "tag", m->tag, sizeof m->tag);
    copy_attr(f->file, "config_hash", m->config_hash, sizeof m->config_hash);
    copy_attr(f->file, "model_path", m->model_path, sizeof m->model_path);
    copy_attr(f->file, "model_sha256", m->model_sha256, sizeof m->model_sha256);
    copy_attr(f->file, "eval_path", m->eval_path, sizeof m->eval_path);
    copy_attr(f->file, "eval_sha256", m->eval_sha256, sizeof m->eval_sha256);
    copy_attr(f->file, "git_commit", m->git_commit, sizeof m->git_commit);
    copy_attr(f->file, "git_dirty", m->git_dirty, sizeof m->git_dirty);
    copy_attr(f->file, "host", m->host, sizeof m->host);
    *out = f;
    return QINS_OK;
}

int qins_runfile_open(qins_runfile_t **out, const char *path) {
    char msg[1400];
    int st = runfile_open(out, path, msg, sizeof msg);
    QINS_CHECK(st == QINS_OK, st, "%s", msg);
    return QINS_OK;
}

int qins_runfile_metric(const qins_runfile_t *f, const char *name, double *value, char *unit, size_t unit_cap) {
    char path[300];
    if (unit && unit_cap) unit[0] = 0;
    if (!valid_name(name, true)) return QINS_ERR_RANGE;
    snprintf(path, sizeof path, "/metrics/%s", name);
    if (!path_exists(f->file, path)) {
        qins_log(QINS_LOG_DEBUG, "%s: no metric %s", f->meta.path, name);
        return QINS_ERR_RANGE;
    }
    hid_t d = H5Dopen2(f->file, path, H5P_DEFAULT);
    if (d < 0) return QINS_ERR_RANGE; // a group of that name (e.g. "qins8")
    int st = H5Dread(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, value) >= 0 ? QINS_OK : QINS_ERR_FORMAT;
    if (st == QINS_OK && unit && unit_cap) {
        char *u;
        if (read_attr_str(d, "unit", &u) == QINS_OK) {
            snprintf(unit, unit_cap, "%s", u);
            free(u);
        }
    }
    H5Dclose(d);
    return st;
}

struct strv {
    char **v;
    size_t n, cap;
    int err;
};

static void strv_push(struct strv *s, const char *str) {
    if (s->err) return;
    if (s->n == s->cap) {
        size_t nc = s->cap ? 2 * s->cap : 16;
        char **nv = realloc(s->v, nc * sizeof *nv);
        if (!nv) {
            s->err = QINS_ERR_NOMEM;
            return;
        }
        s->v = nv;
        s->cap = nc;
    }
    if (!(s->v[s->n] = strdup(str))) s->err = QINS_ERR_NOMEM;
    else s->n++;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static herr_t visit_metric(hid_t obj, const char *name, const H5O_info_t *info, void *user) {
    (void)obj;
    if (info->type == H5O_TYPE_DATASET && strcmp(name, ".")) strv_push(user, name);
    return 0;
}

int qins_runfile_metric_names(const qins_runfile_t *f, char ***names, size_t *n) {
    struct strv s = {0};
    *names = NULL;
    *n = 0;
    hid_t g = H5Gopen2(f->file, "/metrics", H5P_DEFAULT);
    QINS_CHECK(g >= 0, QINS_ERR_FORMAT, "%s has no /metrics group", f->meta.path);
    herr_t e = H5Ovisit(g, H5_INDEX_NAME, H5_ITER_INC, visit_metric, &s);
    H5Gclose(g);
    if (e < 0 || s.err) {
        qins_strv_free(s.v, s.n);
        QINS_CHECK(0, s.err ? s.err : QINS_ERR_FORMAT, "%s: cannot list metrics", f->meta.path);
    }
    if (s.n) qsort(s.v, s.n, sizeof *s.v, cmp_str);
    *names = s.v;
    *n = s.n;
    return QINS_OK;
}

static herr_t visit_child(hid_t g, const char *name, const H5L_info_t *info, void *user) {
    (void)g;
    (void)info;
    strv_push(user, name);
    return 0;
}

int qins_runfile_children(const qins_runfile_t *f, const char *group, char ***names, size_t *n) {
    struct strv s = {0};
    *names = NULL;
    *n = 0;
    if (!qins_runfile_exists(f, group)) return QINS_ERR_RANGE;
    hid_t g = H5Gopen2(f->file, group, H5P_DEFAULT);
    if (g < 0) return QINS_ERR_RANGE;
    herr_t e = H5Literate(g, H5_INDEX_NAME, H5_ITER_INC, NULL, visit_child, &s);
    H5Gclose(g);
    if (e < 0 || s.err) {
        qins_strv_free(s.v, s.n);
        QINS_CHECK(0, s.err ? s.err : QINS_ERR_FORMAT, "%s: cannot list %s", f->meta.path, group);
    }
    if (s.n) qsort(s.v, s.n, sizeof *s.v, cmp_str);
    *names = s.v;
    *n = s.n;
    return QINS_OK;
}

int qins_runfile_read(const qins_runfile_t *f, const char *path, enum qins_dtype as, void **data, size_t *rows,
                      size_t *cols) {
    *data = NULL;
    *rows = *cols = 0;
    QINS_CHECK(mem_type(as) != H5I_INVALID_HID, QINS_ERR_ARG, "bad dtype %d", (int)as);
    if (!qins_runfile_exists(f, path)) {
        qins_log(QINS_LOG_DEBUG, "%s: no dataset %s", f->meta.path, path);
        return QINS_ERR_RANGE;
    }
    hid_t d = H5Dopen2(f->file, path, H5P_DEFAULT);
    QINS_CHECK(d >= 0, QINS_ERR_FORMAT, "%s: %s is not a dataset", f->meta.path, path);
    hid_t sp = H5Dget_space(d), ft = H5Dget_type(d);
    int rank = H5Sget_simple_extent_ndims(sp);
    hsize_t dims[2] = {1, 1};
    H5T_class_t c = H5Tget_class(ft);
    int st = QINS_OK;
    if (rank < 0 || rank > 2 || (c != H5T_INTEGER && c != H5T_FLOAT)) st = QINS_ERR_FORMAT;
    else if (rank > 0) H5Sget_simple_extent_dims(sp, dims, NULL);
    size_t r = (size_t)dims[0], cc = rank == 2 ? (size_t)dims[1] : 1;
    void *buf = NULL;
    if (st == QINS_OK) {
        buf = malloc((r * cc > 0 ? r * cc : 1) * dtype_size(as));
        if (!buf) st = QINS_ERR_NOMEM;
        else if (r * cc > 0 && H5Dread(d, mem_type(as), H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) < 0) st = QINS_ERR_FORMAT;
    }
    H5Tclose(ft);
    H5Sclose(sp);
    H5Dclose(d);
    if (st < 0) {
        free(buf);
        QINS_CHECK(0, st, "%s: cannot read %s as a numeric 1-D/2-D array", f->meta.path, path);
    }
    *data = buf;
    *rows = r;
    *cols = cc;
    return QINS_OK;
}

int qins_runfile_strings(const qins_runfile_t *f, const char *path, char ***strs, size_t *n) {
    *strs = NULL;
    *n = 0;
    if (!qins_runfile_exists(f, path)) return QINS_ERR_RANGE;
    hid_t d = H5Dopen2(f->file, path, H5P_DEFAULT);
    QINS_CHECK(d >= 0, QINS_ERR_FORMAT, "%s: %s is not a dataset", f->meta.path, path);
    hid_t sp = H5Dget_space(d), ft = H5Dget_type(d);
    hssize_t np = H5Sget_simple_extent_npoints(sp);
    int st = QINS_OK;
    char **out = NULL;
    if (H5Tget_class(ft) != H5T_STRING || np < 0) st = QINS_ERR_FORMAT;
    else if (!(out = calloc(np ? (size_t)np : 1, sizeof *out))) st = QINS_ERR_NOMEM;
    else if (np && H5Tis_variable_str(ft) > 0) {
        hid_t mt = str_type();
        char **tmp = calloc((size_t)np, sizeof *tmp);
        if (!tmp || H5Dread(d, mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, tmp) < 0) st = QINS_ERR_FORMAT;
        for (hssize_t i = 0; tmp && st == QINS_OK && i < np; i++)
            if (!(out[i] = strdup(tmp[i] ? tmp[i] : ""))) st = QINS_ERR_NOMEM;
        if (tmp && st != QINS_ERR_FORMAT) H5Dvlen_reclaim(mt, sp, H5P_DEFAULT, tmp);
        free(tmp);
        H5Tclose(mt);
    } else if (np) {
        size_t w = H5Tget_size(ft);
        char *buf = calloc((size_t)np, w + 1);
        hid_t mt = H5Tcopy(H5T_C_S1);
        H5Tset_size(mt, w + 1);
        if (!buf || H5Dread(d, mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) < 0) st = QINS_ERR_FORMAT;
        for (hssize_t i = 0; st == QINS_OK && i < np; i++)
            if (!(out[i] = strdup(buf + (size_t)i * (w + 1)))) st = QINS_ERR_NOMEM;
        free(buf);
        H5Tclose(mt);
    }
    H5Tclose(ft);
    H5Sclose(sp);
    H5Dclose(d);
    if (st < 0) {
        qins_strv_free(out, np > 0 ? (size_t)np : 0);
        QINS_CHECK(0, st, "%s: cannot read strings %s", f->meta.path, path);
    }
    *strs = out;
    *n = (size_t)np;
    return QINS_OK;
}

// ---- listing

static int cmp_meta_newest(const void *a, const void *b) {
    const struct qins_run_meta *x = a, *y = b;
    if (x->start_unix != y->start_unix) return x->start_unix < y->start_unix ? 1 : -1;
    int c = strcmp(y->start_time, x->start_time);
    return c ? c : strcmp(y->run_id, x->run_id);
}

int qins_results_list(const char *results_dir, int phase, struct qins_run_meta **out, size_t *n,
                      size_t *n_incomplete) {
    *out = NULL;
    *n = 0;
    if (n_incomplete) *n_incomplete = 0;
    h5_quiet();
    size_t cap = 0;
    int p0 = phase < 0 ? 0 : phase, p1 = phase < 0 ? 9 : phase;
    for (int ph = p0; ph <= p1; ph++) {
        char dir[1024];
        snprintf(dir, sizeof dir, "%s/phase%d", results_dir, ph);
        DIR *d = opendir(dir);
        if (!d) continue;
        struct dirent *e;
        while ((e = readdir(d))) {
            size_t len = strlen(e->d_name);
            bool tmp = len > 7 && !strcmp(e->d_name + len - 7, ".h5.tmp");
            bool h5 = len > 3 && !strcmp(e->d_name + len - 3, ".h5") && e->d_name[0] != '.';
            if (tmp && n_incomplete) (*n_incomplete)++;
            if (!h5) continue;
            char path[1400];
            snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
            qins_runfile_t *f;
            char msg[1400];
            int st = runfile_open(&f, path, msg, sizeof msg);
            if (st < 0) qins_log(QINS_LOG_DEBUG, "skipped: %s", msg);
            if (st < 0) {
                if (n_incomplete) (*n_incomplete)++;
                continue;
            }
            if (*n == cap) {
                size_t nc = cap ? 2 * cap : 32;
                struct qins_run_meta *nm = realloc(*out, nc * sizeof *nm);
                if (!nm) {
                    qins_runfile_close(f);
                    closedir(d);
                    free(*out);
                    *out = NULL;
                    *n = 0;
                    QINS_CHECK(0, QINS_ERR_NOMEM, "out of memory");
                }
                *out = nm;
                cap = nc;
            }
            (*out)[(*n)++] = f->meta;
            qins_runfile_close(f);
        }
        closedir(d);
    }
    if (*n) qsort(*out, *n, sizeof **out, cmp_meta_newest);
    return QINS_OK;
}

bool qins_unit_is_timing(const char *unit) {
    static const char *timing[] = {"s", "ms", "us", "ns", "tok/s", "GB/s", "MB/s", "pct_time", "cycles", "s/tok",
                                   "ms/tok", "us/tok", "ops/s", "GFLOP/s", NULL};
    if (!unit) return false;
    for (int i = 0; timing[i]; i++)
        if (!strcmp(unit, timing[i])) return true;
    return false;
}

static int verify_one(const char *what, const char *recorded_path, const char *recorded_sha, const char *now_path) {
    if (!strcmp(recorded_sha, "none") || !*recorded_sha) return QINS_OK;
    const char *p = now_path ? now_path : recorded_path;
    char sha[QINS_SHA256_HEX];
    QINS_TRY(qins_sha256_file(p, sha));
    QINS_CHECK(!strcmp(sha, recorded_sha), QINS_ERR_STATE,
               "%s '%s' has sha256 %s but the run recorded %s (file changed: refusing to reproduce)", what, p, sha,
               recorded_sha);
    return QINS_OK;
}

int qins_run_verify_inputs(const qins_runfile_t *f, const char *model_path, const char *eval_path) {
    QINS_TRY(verify_one("model", f->meta.model_path, f->meta.model_sha256, model_path));
    QINS_TRY(verify_one("eval text", f->meta.eval_path, f->meta.eval_sha256, eval_path));
    return QINS_OK;
}

int qins_runfile_key_metrics(const qins_runfile_t *f, char ***names, size_t *n) {
    char *keys;
    if (qins_runfile_attr_str(f, "/", "key_metrics", &keys) != QINS_OK || !*keys) {
        if (keys) free(keys);
        return qins_runfile_metric_names(f, names, n);
    }
    struct strv s = {0};
    for (char *tok = strtok(keys, ","); tok; tok = strtok(NULL, ",")) {
        while (*tok == ' ') tok++;
        double v;
        if (qins_runfile_metric(f, tok, &v, NULL, 0) == QINS_OK) strv_push(&s, tok);
    }
    free(keys);
    if (s.err) {
        qins_strv_free(s.v, s.n);
        QINS_CHECK(0, s.err, "out of memory");
    }
    *names = s.v;
    *n = s.n;
    return QINS_OK;
}
