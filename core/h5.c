// core/h5.c — shared HDF5 helpers (see h5.h).
#include "h5.h"

#include <stdio.h>
#include <string.h>

void qins_h5_quiet(void) {
    static bool done;
    if (!done) {
        H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
        done = true;
    }
}

hid_t qins_h5_str_type(void) {
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, H5T_VARIABLE);
    H5Tset_cset(t, H5T_CSET_UTF8);
    return t;
}

hid_t qins_h5_mem_type(enum qins_dtype t) {
    switch (t) {
    case QINS_DT_F32: return H5T_NATIVE_FLOAT;
    case QINS_DT_F64: return H5T_NATIVE_DOUBLE;
    case QINS_DT_I32: return H5T_NATIVE_INT32;
    case QINS_DT_I64: return H5T_NATIVE_INT64;
    case QINS_DT_U8: return H5T_NATIVE_UINT8;
    }
    return H5I_INVALID_HID;
}

size_t qins_h5_dtype_size(enum qins_dtype t) {
    switch (t) {
    case QINS_DT_F32: case QINS_DT_I32: return 4;
    case QINS_DT_F64: case QINS_DT_I64: return 8;
    case QINS_DT_U8: return 1;
    }
    return 0;
}

bool qins_h5_path_exists(hid_t file, const char *path) {
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

bool qins_h5_valid_name(const char *s, bool allow_slash) {
    if (!s || !*s || strlen(s) > 200 || s[0] == '/' || s[strlen(s) - 1] == '/' || strstr(s, "//")) return false;
    for (const char *c = s; *c; c++) {
        bool ok = (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
                  strchr("_-.+@", *c) || (allow_slash && *c == '/');
        if (!ok) return false;
    }
    return strcmp(s, ".") && strcmp(s, "..");
}

bool qins_h5_valid_abs(const char *p) {
    return p && (!strcmp(p, "/") || (p[0] == '/' && qins_h5_valid_name(p + 1, true)));
}
