/* csv_reader.c: a record reader over zlib's gzgets (see csv_reader.h).
 * A physical line is read into `line` (grown as needed); a record is one or more
 * physical lines (when a quoted field holds a newline), split in place into fields. */
#include "base/csv_reader.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "base/textparse.h"

/* Hard caps, so a binary file fed by mistake fails quickly instead of eating memory.
 * Trace rows are a few hundred bytes at most: 1 MiB is far beyond any real record. */
#define CSV_MAX_RECORD_BYTES (1u << 20)
#define CSV_MAX_FIELDS 4096

struct csv_reader {
    gzFile gz;
    char *path;
    long phys_line;     /* physical lines read so far */
    long row_line;      /* line where the current record starts */
    uint64_t rows;
    char *rec;          /* current record (fields point into it) */
    size_t rec_len, rec_cap;
    char **field;       /* current fields */
    size_t n_field, field_cap;
    char *header_buf;   /* header names (column names point into it) */
    char **col;
    size_t n_col;
};

static int grow(char **buf, size_t *cap, size_t need)
{
    if (need <= *cap)
        return 0;
    size_t c = *cap ? *cap : 256;
    while (c < need)
        c *= 2;
    char *p = realloc(*buf, c);
    if (!p)
        return -1;
    *buf = p;
    *cap = c;
    return 0;
}

/* Checks the stream after a gzgets: truncation and read errors are reported here. */
static int check_gz(csv_reader *r, gp_error *err)
{
    int errnum = Z_OK;
    const char *msg = gzerror(r->gz, &errnum);
    if (errnum == Z_OK)
        return 0;
    /* zlib's message starts with the path; the error already names the file */
    size_t plen = strlen(r->path);
    if (msg && strncmp(msg, r->path, plen) == 0 && strncmp(msg + plen, ": ", 2) == 0)
        msg += plen + 2;
    if (errnum == Z_BUF_ERROR)
        return gp_error_set(err, GP_EIO, r->path, r->phys_line, 0, NULL,
                            "truncated gzip file (%s)", msg ? msg : "unexpected end of file");
    if (errnum == Z_ERRNO)
        return gp_error_set(err, GP_EIO, r->path, r->phys_line, 0, NULL, "read error: %s",
                            strerror(errno));
    return gp_error_set(err, GP_EIO, r->path, r->phys_line, 0, NULL, "corrupt gzip data: %s",
                        msg ? msg : "unknown zlib error");
}

/* Appends one physical line (without its newline) to rec at offset rec_len.
 * Returns 1, 0 at end of file, or < 0. */
static int read_phys_line(csv_reader *r, gp_error *err)
{
    size_t start = r->rec_len;
    bool got = false;
    for (;;) {
        if (grow(&r->rec, &r->rec_cap, r->rec_len + 4096) < 0)
            return gp_error_set(err, GP_ENOMEM, r->path, r->phys_line + 1, 0, NULL,
                                "out of memory reading a line");
        int room = (int)(r->rec_cap - r->rec_len);
        char *s = gzgets(r->gz, r->rec + r->rec_len, room);
        int rc = check_gz(r, err);
        if (rc < 0)
            return rc;
        if (!s)
            break;
        got = true;
        size_t n = strlen(r->rec + r->rec_len);
        r->rec_len += n;
        if (n > 0 && r->rec[r->rec_len - 1] == '\n')
            break;
        if (r->rec_len > CSV_MAX_RECORD_BYTES)
            return gp_error_set(err, GP_ELIMIT, r->path, r->phys_line + 1, 0, NULL,
                                "line longer than %u bytes (is this a CSV file?)",
                                CSV_MAX_RECORD_BYTES);
    }
    if (!got)
        return 0;
    r->phys_line++;
    if (r->rec_len > start && r->rec[r->rec_len - 1] == '\n')
        r->rec_len--;
    if (r->rec_len > start && r->rec[r->rec_len - 1] == '\r')
        r->rec_len--;
    r->rec[r->rec_len] = '\0';
    /* The check in the loop bounds memory; a line that one gzgets read whole (the buffer
     * doubles) is caught here. */
    if (r->rec_len - start > CSV_MAX_RECORD_BYTES)
        return gp_error_set(err, GP_ELIMIT, r->path, r->phys_line, 0, NULL,
                            "line longer than %u bytes (is this a CSV file?)",
                            CSV_MAX_RECORD_BYTES);
    /* A NUL inside the line would silently cut fields: refuse binary input. */
    if (strlen(r->rec + start) != r->rec_len - start)
        return gp_error_set(err, GP_EPARSE, r->path, r->phys_line, 0, NULL,
                            "line contains a NUL byte (is this a CSV file?)");
    return 1;
}

/* True when rec ends inside a quoted field. */
static bool open_quote(const char *s)
{
    bool in = false;
    for (; *s; s++)
        if (*s == '"')
            in = !in;
    return in;
}

/* Reads one logical record into rec. Returns 1, 0 at EOF, < 0 on error. */
static int read_record(csv_reader *r, gp_error *err)
{
    r->rec_len = 0;
    int rc = read_phys_line(r, err);
    if (rc <= 0)
        return rc;
    r->row_line = r->phys_line;
    while (open_quote(r->rec)) {
        if (grow(&r->rec, &r->rec_cap, r->rec_len + 2) < 0)
            return gp_error_set(err, GP_ENOMEM, r->path, r->row_line, 0, NULL, "out of memory");
        r->rec[r->rec_len++] = '\n';
        r->rec[r->rec_len] = '\0';
        rc = read_phys_line(r, err);
        if (rc < 0)
            return rc;
        if (rc == 0)
            return gp_error_set(err, GP_EPARSE, r->path, r->row_line, 0, NULL,
                                "unterminated quoted field (a '\"' is never closed)");
        if (r->rec_len > CSV_MAX_RECORD_BYTES)
            return gp_error_set(err, GP_ELIMIT, r->path, r->row_line, 0, NULL,
                                "record longer than %u bytes", CSV_MAX_RECORD_BYTES);
    }
    return 1;
}

static bool is_space(char c) { return c == ' ' || c == '\t'; }

/* Splits rec in place into fields: quoted fields are unescaped, unquoted ones trimmed. */
static int split_record(csv_reader *r, gp_error *err)
{
    r->n_field = 0;
    char *p = r->rec;
    for (;;) {
        if (r->n_field == r->field_cap) {
            size_t c = r->field_cap ? r->field_cap * 2 : 32;
            if (c > CSV_MAX_FIELDS)
                return gp_error_set(err, GP_ELIMIT, r->path, r->row_line, 0, NULL,
                                    "more than %d fields in a row", CSV_MAX_FIELDS);
            char **f = realloc(r->field, c * sizeof(*f));
            if (!f)
                return gp_error_set(err, GP_ENOMEM, r->path, r->row_line, 0, NULL, "out of memory");
            r->field = f;
            r->field_cap = c;
        }
        while (is_space(*p))
            p++;
        char *out = p;
        r->field[r->n_field++] = out;
        if (*p == '"') {
            char *q = p + 1;
            for (;;) {
                if (*q == '\0')
                    return gp_error_set(err, GP_EPARSE, r->path, r->row_line, 0, NULL,
                                        "field %zu: unterminated quoted field", r->n_field);
                if (*q == '"') {
                    if (q[1] == '"') {
                        *out++ = '"';
                        q += 2;
                        continue;
                    }
                    q++;
                    break;
                }
                *out++ = *q++;
            }
            while (is_space(*q))
                q++;
            if (*q != ',' && *q != '\0')
                return gp_error_set(err, GP_EPARSE, r->path, r->row_line, 0, NULL,
                                    "field %zu: unexpected '%c' after a closing quote",
                                    r->n_field, *q);
            char end = *q;
            *out = '\0';
            if (end == '\0')
                break;
            p = q + 1;
        } else {
            char *q = p;
            while (*q && *q != ',')
                q++;
            char end = *q;
            char *t = q;
            while (t > p && is_space(t[-1]))
                t--;
            *t = '\0';
            if (end == '\0')
                break;
            p = q + 1;
        }
    }
    return 0;
}

static bool blank(const char *s)
{
    while (is_space(*s))
        s++;
    return *s == '\0';
}

int csv_open(const char *path, csv_reader **out, gp_error *err)
{
    *out = NULL;
    if (!path || !path[0])
        return gp_error_set(err, GP_EMISSING, NULL, 0, 0, NULL, "no trace file given");
    csv_reader *r = calloc(1, sizeof(*r));
    if (!r)
        return gp_error_set(err, GP_ENOMEM, path, 0, 0, NULL, "out of memory");
    r->path = strdup(path);
    if (!r->path) {
        free(r);
        return gp_error_set(err, GP_ENOMEM, path, 0, 0, NULL, "out of memory");
    }
    errno = 0;
    r->gz = gzopen(path, "rb");
    if (!r->gz) {
        int e = errno;
        csv_close(r);
        return gp_error_set(err, e == ENOENT ? GP_EMISSING : GP_EIO, path, 0, 0, NULL,
                            "cannot open: %s", e ? strerror(e) : "out of memory");
    }
    gzbuffer(r->gz, 1u << 17);
    int rc;
    for (;;) {
        rc = read_record(r, err);
        if (rc < 0)
            goto fail;
        if (rc == 0) {
            rc = gp_error_set(err, GP_EPARSE, path, 0, 0, NULL,
                              r->phys_line ? "no header line (only comments or blank lines)"
                                           : "empty file: no header line");
            goto fail;
        }
        if (r->phys_line == 1 && (unsigned char)r->rec[0] == 0xEF &&
            (unsigned char)r->rec[1] == 0xBB && (unsigned char)r->rec[2] == 0xBF) {
            memmove(r->rec, r->rec + 3, r->rec_len - 2);
            r->rec_len -= 3;
        }
        if (r->rec[0] == '#' || blank(r->rec))
            continue;
        break;
    }
    rc = split_record(r, err);
    if (rc < 0)
        goto fail;
    /* Keep the header names: copy the record, then re-point names into the copy. */
    r->header_buf = malloc(r->rec_len + 1);
    r->col = malloc(r->n_field * sizeof(*r->col));
    if (!r->header_buf || !r->col) {
        rc = gp_error_set(err, GP_ENOMEM, path, 0, 0, NULL, "out of memory");
        goto fail;
    }
    memcpy(r->header_buf, r->rec, r->rec_len + 1);
    r->n_col = r->n_field;
    for (size_t i = 0; i < r->n_col; i++) {
        r->col[i] = r->header_buf + (r->field[i] - r->rec);
        if (!r->col[i][0]) {
            rc = gp_error_set(err, GP_EPARSE, path, r->row_line, 0, NULL,
                              "header: column %zu has no name", i + 1);
            goto fail;
        }
    }
    *out = r;
    return 0;
fail:
    csv_close(r);
    return rc;
}

void csv_close(csv_reader *r)
{
    if (!r)
        return;
    if (r->gz)
        gzclose(r->gz);
    free(r->path);
    free(r->rec);
    free(r->field);
    free(r->header_buf);
    free(r->col);
    free(r);
}

const char *csv_path(const csv_reader *r) { return r->path; }
size_t csv_ncols(const csv_reader *r) { return r->n_col; }
const char *csv_col_name(const csv_reader *r, size_t i) { return i < r->n_col ? r->col[i] : ""; }
long csv_line(const csv_reader *r) { return r->row_line; }
uint64_t csv_rows(const csv_reader *r) { return r->rows; }

const char *csv_field(const csv_reader *r, size_t col)
{
    return col < r->n_field ? r->field[col] : "";
}

int csv_col_index(const csv_reader *r, const char *name)
{
    for (size_t i = 0; i < r->n_col; i++)
        if (strcmp(r->col[i], name) == 0)
            return (int)i;
    return -1;
}

void csv_list_cols(const csv_reader *r, char *buf, size_t len)
{
    size_t used = 0;
    if (len == 0)
        return;
    buf[0] = '\0';
    for (size_t i = 0; i < r->n_col; i++) {
        int n = snprintf(buf + used, len - used, "%s%s", i ? ", " : "", r->col[i]);
        if (n < 0 || (size_t)n >= len - used) {
            if (len > 4)
                strcpy(buf + len - 4, "...");
            return;
        }
        used += (size_t)n;
    }
}

int csv_require_col(const csv_reader *r, const char *name, const char *role, gp_error *err)
{
    int i = csv_col_index(r, name);
    if (i >= 0)
        return i;
    char cols[320];
    csv_list_cols(r, cols, sizeof(cols));
    return gp_error_set(err, GP_EMISSING, r->path, r->row_line, 0, NULL,
                        "no %s '%s'; the columns are: %s", role, name, cols);
}

int csv_next_row(csv_reader *r, gp_error *err)
{
    for (;;) {
        int rc = read_record(r, err);
        if (rc <= 0)
            return rc;
        if (blank(r->rec))
            continue;
        rc = split_record(r, err);
        if (rc < 0)
            return rc;
        if (r->n_field != r->n_col)
            return gp_error_set(err, GP_EPARSE, r->path, r->row_line, 0, NULL,
                                "too %s columns: %zu fields, the header has %zu",
                                r->n_field < r->n_col ? "few" : "many", r->n_field, r->n_col);
        r->rows++;
        return 1;
    }
}

int csv_field_error(const csv_reader *r, size_t col, int code, gp_error *err,
                    const char *fmt, ...)
{
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    return gp_error_set(err, code, r->path, r->row_line, 0, NULL, "column '%s': %s",
                        csv_col_name(r, col), msg);
}

int csv_field_nonneg(const csv_reader *r, size_t col, double *out, gp_error *err)
{
    const char *why = NULL;
    const char *s = csv_field(r, col);
    if (textparse_nonneg(s, out, &why) == 0)
        return 0;
    if (!s[0])
        return csv_field_error(r, col, GP_EPARSE, err, "empty value, expected a number");
    if (strcmp(why, "not a number") == 0)
        return csv_field_error(r, col, GP_EPARSE, err, "cannot parse '%.60s' as a number", s);
    return csv_field_error(r, col, GP_ERANGE, err, "%s value '%.60s', expected a finite number >= 0",
                           why, s);
}

int csv_field_iso_us(const csv_reader *r, size_t col, int64_t *out_us, gp_error *err)
{
    const char *s = csv_field(r, col);
    if (textparse_iso_us(s, out_us) == 0)
        return 0;
    return csv_field_error(r, col, GP_EPARSE, err, "cannot parse '%.60s' as a date-time", s);
}
