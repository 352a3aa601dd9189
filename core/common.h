// core/common.h — status codes, the log callback and the two error macros every module uses.
// Owns: error reporting conventions, small numeric helpers (fp16/bf16 conversion), timing.
// Does not own: any I/O or allocation policy. Errors are negative return values; messages go
// through the replaceable log callback (default: one line on stderr), never exit().
#pragma once
#include <stddef.h>
#include <stdint.h>
#include <string.h>

enum qins_status {
    QINS_OK = 0,
    QINS_ERR_IO = -1,          // a file could not be opened/read/written
    QINS_ERR_FORMAT = -2,      // a file's content is malformed or truncated
    QINS_ERR_UNSUPPORTED = -3, // valid input we do not handle (tensor type, architecture)
    QINS_ERR_NOMEM = -4,
    QINS_ERR_ARG = -5,         // a caller/config passed a bad value
    QINS_ERR_RANGE = -6,       // an index/size out of the allowed range
    QINS_ERR_NUMERIC = -7,     // NaN/Inf or a numerical failure
    QINS_ERR_STATE = -8,       // a precondition on program state failed (e.g. gate not passed)
};

enum qins_log_level { QINS_LOG_ERROR = 0, QINS_LOG_WARN = 1, QINS_LOG_INFO = 2, QINS_LOG_DEBUG = 3 };

typedef void (*qins_log_fn)(int level, const char *msg, void *user);

// Replaces the log sink (NULL restores the default stderr sink). Returns nothing.
void qins_log_set(qins_log_fn fn, void *user);
// Sets the most verbose level that reaches the sink (default QINS_LOG_INFO).
void qins_log_set_level(int level);
// Returns the level set by qins_log_set_level (to restore it after a quiet section; a level
// below QINS_LOG_ERROR silences every message, qins_last_error still records errors).
int qins_log_get_level(void);
// Formats and sends one message. Returns nothing.
void qins_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
// The text of the last error message logged (empty if none): lets a CLI print it once.
const char *qins_last_error(void);
// Empties the last error (so a caller can tell whether a call it makes logs one). Returns nothing.
void qins_last_error_clear(void);
// Returns a short name for a status code.
const char *qins_status_str(int status);

// QINS_CHECK: on failure log "func: message" (file:line at debug level) and return status.
#define QINS_CHECK(cond, status, ...)                                                              \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            qins_log_error_at(__FILE__, __LINE__, __func__, __VA_ARGS__);                          \
            return (status);                                                                       \
        }                                                                                          \
    } while (0)
// QINS_TRY: propagate a negative status unchanged (the origin already logged).
#define QINS_TRY(expr)                                                                             \
    do {                                                                                           \
        int qins_try_status_ = (expr);                                                             \
        if (qins_try_status_ < 0) return qins_try_status_;                                         \
    } while (0)

void qins_log_error_at(const char *file, int line, const char *func, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

// ---- half precision helpers (IEEE binary16 with round-to-nearest-even, bfloat16 RNE)
static inline float qins_fp16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000) << 16, exp = (h >> 10) & 0x1f, mant = h & 0x3ff, bits;
    if (exp == 0) {
        if (mant == 0) {
            bits = sign;
        } else { // subnormal: normalise
            int e = -1;
            do { mant <<= 1; e++; } while (!(mant & 0x400));
            mant &= 0x3ff;
            bits = sign | ((uint32_t)(127 - 15 - e) << 23) | (mant << 13);
        }
    } else if (exp == 31) {
        bits = sign | 0x7f800000u | (mant << 13);
    } else {
        bits = sign | ((exp + 127 - 15) << 23) | (mant << 13);
    }
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

static inline uint16_t qins_f32_to_fp16(float f) {
    uint32_t x;
    memcpy(&x, &f, 4);
    uint32_t sign = (x >> 16) & 0x8000;
    uint32_t absx = x & 0x7fffffffu;
    if (absx >= 0x7f800000u) return (uint16_t)(sign | 0x7c00 | (absx > 0x7f800000u ? 0x200 : 0));
    if (absx >= 0x477ff000u) return (uint16_t)(sign | 0x7c00); // rounds past 65504 -> Inf
    if (absx < 0x38800000u) { // result is subnormal or zero
        if (absx < 0x33000000u) return (uint16_t)sign;
        uint32_t e = absx >> 23, m = (absx & 0x7fffff) | 0x800000;
        uint32_t shift = 126 - e; // half subnormal unit is 2^-24: q = m * 2^(e - 150 + 24)
        uint32_t q = m >> shift, r;
        r = m & ((1u << shift) - 1);
        uint32_t half = 1u << (shift - 1);
        if (r > half || (r == half && (q & 1))) q++;
        return (uint16_t)(sign | q);
    }
    uint32_t v = absx - 0x38000000u; // rebias exponent 127 -> 15
    uint32_t q = v >> 13, r = v & 0x1fff;
    if (r > 0x1000 || (r == 0x1000 && (q & 1))) q++;
    return (uint16_t)(sign | q);
}

static inline float qins_bf16_to_f32(uint16_t h) {
    uint32_t bits = (uint32_t)h << 16;
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

static inline uint16_t qins_f32_to_bf16(float f) {
    uint32_t x;
    memcpy(&x, &f, 4);
    if ((x & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((x >> 16) | 0x40); // quiet NaN
    x += 0x7fff + ((x >> 16) & 1);
    return (uint16_t)(x >> 16);
}

// Monotonic time in seconds.
double qins_time_now(void);
// Allocates n bytes aligned to 64; free with free(). Returns NULL on failure.
void *qins_alloc_aligned(size_t n);
