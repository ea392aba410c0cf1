#include "base/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void gp_error_clear(gp_error *err)
{
    if (err)
        memset(err, 0, sizeof(*err));
}

int gp_error_set(gp_error *err, int code, const char *file, long line, long col, const char *field,
                 const char *fmt, ...)
{
    if (!err)
        return code;
    err->code = code;
    snprintf(err->file, sizeof(err->file), "%s", file ? file : "");
    err->line = line;
    err->col = col;
    snprintf(err->field, sizeof(err->field), "%s", field ? field : "");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
    va_end(ap);
    return code;
}

void gp_error_format(const gp_error *err, char *buf, size_t buf_len)
{
    if (!buf || buf_len == 0)
        return;
    size_t used = 0;
    buf[0] = '\0';
#define APPEND(...)                                                     \
    do {                                                                \
        if (used < buf_len) {                                           \
            int n_ = snprintf(buf + used, buf_len - used, __VA_ARGS__); \
            if (n_ > 0)                                                 \
                used += (size_t)n_;                                     \
        }                                                               \
    } while (0)
    if (err->file[0]) {
        APPEND("%s:", err->file);
        if (err->line > 0) {
            APPEND("%ld:", err->line);
            if (err->col > 0)
                APPEND("%ld:", err->col);
        }
        APPEND(" ");
    }
    if (err->field[0])
        APPEND("%s: ", err->field);
    APPEND("%s", err->msg[0] ? err->msg : gp_error_code_name(err->code));
#undef APPEND
}

const char *gp_error_code_name(int code)
{
    switch (code) {
    case GP_OK: return "ok";
    case GP_EIO: return "I/O error";
    case GP_EPARSE: return "parse error";
    case GP_ERANGE: return "value out of range";
    case GP_ENOMEM: return "out of memory";
    case GP_EUNKNOWN: return "unknown name";
    case GP_EMISSING: return "missing";
    case GP_ENOTSUP: return "not supported";
    case GP_EINVARIANT: return "internal invariant violated";
    case GP_ELIMIT: return "limit reached";
    case GP_EINTERRUPTED: return "interrupted";
    case GP_EBUSY: return "in use";
    default: return "error";
    }
}
