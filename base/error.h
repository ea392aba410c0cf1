/* error.h: the one error type of gpenlab's library code.
 * Library functions return 0 on success or a negative GP_E* code, and fill a
 * caller-owned gp_error that names the place in the *user's* input (file, line,
 * column, field) and says what was wrong. Only main() prints it, as one line:
 *   experiments/tidal.yaml:14:7: policy.hpa.tolerance: expected a number in [0, 1], got "ten"
 * Fields that do not apply are left empty / zero and are omitted when printed. */
#ifndef GP_ERROR_H
#define GP_ERROR_H

#include <stddef.h>

enum {
    GP_OK = 0,
    GP_EIO = -1,           /* a file could not be opened, read or written */
    GP_EPARSE = -2,        /* malformed input: syntax, wrong type, bad number */
    GP_ERANGE = -3,        /* a value outside its allowed range */
    GP_ENOMEM = -4,        /* allocation failed */
    GP_EUNKNOWN = -5,      /* an unknown key, policy, column or name */
    GP_EMISSING = -6,      /* a required key, column or file is missing */
    GP_ENOTSUP = -7,       /* a feature not supported (e.g. built without CUDA) */
    GP_EINVARIANT = -8,    /* an internal check failed (conservation, ...) */
    GP_ELIMIT = -9,        /* a hard resource limit was reached */
    GP_EINTERRUPTED = -10, /* stopped by a signal */
    GP_EBUSY = -11         /* in use by another process (a database's writer lock) */
};

typedef struct gp_error {
    int code;        /* GP_E*, 0 when no error was recorded */
    char file[256];  /* user's file, "" when none */
    long line, col;  /* 1-based; 0 when unknown */
    char field[128]; /* dotted key path or column name, "" when none */
    char msg[512];   /* what was wrong, without the location prefix */
} gp_error;

/* Clears an error record. */
void gp_error_clear(gp_error *err);

/* Records an error and returns `code`, so callers can write
 *   return gp_error_set(err, GP_EPARSE, path, line, col, "faces", "expected ...");
 * `err` may be NULL (the error is then only returned). file/field may be NULL. */
int gp_error_set(gp_error *err, int code, const char *file, long line, long col, const char *field,
                 const char *fmt, ...) __attribute__((format(printf, 7, 8)));

/* Formats "file:line:col: field: msg" into buf (always NUL-terminated). */
void gp_error_format(const gp_error *err, char *buf, size_t buf_len);

/* Short name of a code, e.g. "parse error". */
const char *gp_error_code_name(int code);

#endif
