// core/runfile.c — reading HDF5 run files and listing results/ (schema in results.h).
#include "runfile.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common.h"
#include "h5.h"
#include "util.h"

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
    return qins_h5_valid_abs(path) && qins_h5_path_exists(f->file, path);
}

static int read_attr_str(hid_t obj, const char *name, char **out) {
    *out = NULL;
    if (H5Aexists(obj, name) <= 0) return QINS_ERR_RANGE;
    hid_t a = H5Aopen(obj, name, H5P_DEFAULT);
    hid_t ft = H5Aget_type(a);
    int st = QINS_ERR_FORMAT;
    if (H5Tget_class(ft) == H5T_STRING) {
        if (H5Tis_variable_str(ft) > 0) {
            hid_t mt = qins_h5_str_type();
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
    qins_h5_quiet();
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
    double blas_threads = 0;
    read_attr_double(f->file, "blas_threads", &blas_threads);
    m->blas_threads = (int)blas_threads;
    copy_attr(f->file, "blas_name", m->blas_name, sizeof m->blas_name);
    copy_attr(f->file, "blas_version", m->blas_version, sizeof m->blas_version);
    copy_attr(f->file, "blas_core", m->blas_core, sizeof m->blas_core);
    copy_attr(f->file, "blas_core_corrected_from", m->blas_core_corrected_from, sizeof m->blas_core_corrected_from);
    copy_attr(f->file, "cpu_model", m->cpu_model, sizeof m->cpu_model);
    copy_attr(f->file, "matmul_kernels", m->matmul_kernels, sizeof m->matmul_kernels);
    copy_attr(f->file, "cpu_features", m->cpu_features, sizeof m->cpu_features);
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
    if (!qins_h5_valid_name(name, true)) return QINS_ERR_RANGE;
    snprintf(path, sizeof path, "/metrics/%s", name);
    if (!qins_h5_path_exists(f->file, path)) {
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
    if (qins_grow(&s->v, &s->cap, s->n + 1, sizeof *s->v) < 0) {
        s->err = QINS_ERR_NOMEM;
        return;
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
    QINS_CHECK(qins_h5_mem_type(as) != H5I_INVALID_HID, QINS_ERR_ARG, "bad dtype %d", (int)as);
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
        buf = malloc((r * cc > 0 ? r * cc : 1) * qins_h5_dtype_size(as));
        if (!buf) st = QINS_ERR_NOMEM;
        else if (r * cc > 0 && H5Dread(d, qins_h5_mem_type(as), H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) < 0)
            st = QINS_ERR_FORMAT;
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
        hid_t mt = qins_h5_str_type();
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
    qins_h5_quiet();
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
            if (qins_grow(out, &cap, *n + 1, sizeof **out) < 0) { // logged
                qins_runfile_close(f);
                closedir(d);
                free(*out);
                *out = NULL;
                *n = 0;
                return QINS_ERR_NOMEM;
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
