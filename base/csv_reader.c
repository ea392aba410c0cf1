/* csv_reader.c: the CSV reader (see csv_reader.h). Bytes come in chunks from a csv_input.
 * The common row, one physical line lying whole in the chunk with no quote in it, is
 * split where it lies (fast_row): the chunk is checked as text up to its last newline in
 * one pass, and the next quote is looked for once per chunk. Every other line (the
 * header, a quoted field, a line over a chunk boundary, the first bad byte) takes the
 * general path: the physical line is copied into `rec` (at most CSV_MAX_RECORD_BYTES),
 * checked as text, and a record is one or more physical lines (when a quoted field holds
 * a newline), split in place into fields. Both give the same rows and the same errors. */
#include "base/csv_reader.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/fileio.h"
#include "base/text.h"
#include "base/textparse.h"

#define CSV_CHUNK_BYTES (64u << 10)
#define NO_QUOTE        SIZE_MAX

struct csv_reader {
    csv_input in;
    bool eof;
    char *path;
    char *chunk; /* bytes read, not yet consumed: chunk[pos..len) */
    size_t pos, len;
    size_t text_end;   /* chunk[..text_end) is checked as text (fast_row) */
    size_t quote_at;   /* offset of the next '"' at or after the last scan, NO_QUOTE */
    size_t quote_scan; /* chunk[..quote_scan) has been scanned for quotes */
    long phys_line;    /* physical lines read so far */
    long row_line;     /* line where the current record starts */
    uint64_t rows;
    char *rec; /* current record (fields point into it) */
    size_t rec_len, rec_cap;
    char **field; /* current fields and their columns */
    long *field_pos;
    size_t n_field, field_cap;
    char *header_buf; /* header names (column names point into it) */
    char **col;
    long *col_pos;
    size_t n_col;
    long header_line;
};

static int oom(const csv_reader *r, gp_error *err)
{
    return gp_error_set(err, GP_ENOMEM, r->path, r->phys_line + 1, 0, NULL, "out of memory");
}

static int reserve(char **buf, size_t *cap, size_t need)
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

/* Reads into chunk[at..at + cap); returns the byte count, 0 at the end, or < 0. */
static long input_read(csv_reader *r, size_t at, size_t cap, gp_error *err)
{
    long n = r->in.read(r->in.ctx, r->chunk + at, cap, err);
    if (n < 0) { /* the input names neither the file nor the line */
        if (err && !err->file[0])
            snprintf(err->file, sizeof(err->file), "%s", r->path);
        if (err && err->line == 0)
            err->line = r->phys_line;
        return n;
    }
    if (n == 0)
        r->eof = true;
    return n;
}

/* The chunk's offsets changed: what fast_row knew about it is forgotten. */
static void chunk_moved(csv_reader *r)
{
    r->text_end = 0;
    r->quote_at = NO_QUOTE;
    r->quote_scan = 0;
}

static int refill(csv_reader *r, gp_error *err)
{
    r->pos = r->len = 0;
    chunk_moved(r);
    long n = input_read(r, 0, CSV_CHUNK_BYTES, err);
    if (n < 0)
        return (int)n;
    r->len = (size_t)n;
    return 0;
}

/* what: "line" (one physical line) or "record" (a quoted field over several lines) */
static int too_long(const csv_reader *r, const char *what, long line, gp_error *err)
{
    return gp_error_set(err, GP_ELIMIT, r->path, line, 0, NULL,
                        "%s longer than %u bytes (is this a CSV file?)", what,
                        CSV_MAX_RECORD_BYTES);
}

/* Appends one physical line (without its newline) to rec at offset rec_len.
 * Returns 1, 0 at end of input, or < 0. */
static int read_phys_line(csv_reader *r, gp_error *err)
{
    size_t start = r->rec_len;
    bool got = false;
    for (;;) {
        if (r->pos == r->len) {
            if (r->eof)
                break;
            int rc = refill(r, err);
            if (rc < 0)
                return rc;
            continue;
        }
        const char *from = r->chunk + r->pos;
        const char *nl = memchr(from, '\n', r->len - r->pos);
        size_t seg = nl ? (size_t)(nl - from) : r->len - r->pos;
        /* a NUL is reported where it stands, before a line of zeros grows to the cap */
        const char *nul = memchr(from, '\0', seg);
        if (nul)
            return gp_error_set(err, GP_EPARSE, r->path, r->phys_line + 1,
                                (long)(r->rec_len - start + (size_t)(nul - from)) + 1, NULL,
                                "NUL byte (binary data, not text)");
        if (r->rec_len + seg > CSV_MAX_RECORD_BYTES)
            return start > 0 ? too_long(r, "record", r->row_line, err) /* a quoted field's */
                             : too_long(r, "line", r->phys_line + 1, err);
        if (reserve(&r->rec, &r->rec_cap, r->rec_len + seg + 1) < 0)
            return oom(r, err);
        memcpy(r->rec + r->rec_len, from, seg);
        r->rec_len += seg;
        r->pos += seg;
        got = true;
        if (nl) {
            r->pos++;
            break;
        }
    }
    if (!got)
        return 0;
    r->phys_line++;
    if (r->rec_len > start && r->rec[r->rec_len - 1] == '\r')
        r->rec_len--;
    r->rec[r->rec_len] = '\0';
    /* a NUL would cut the line short as a C string; invalid UTF-8 would reach labels */
    return gp_text_check(r->path, r->rec + start, r->rec_len - start, r->phys_line, err) < 0
               ? err ? err->code : GP_EPARSE
               : 1;
}

static bool is_space(char c) { return c == ' ' || c == '\t'; }

static const char *skip_space(const char *s)
{
    while (is_space(*s))
        s++;
    return s;
}

/* A line that is blank or a comment ('#' first): skipped wherever it stands. */
static bool skippable(const char *s)
{
    s = skip_space(s);
    return *s == '\0' || *s == '#';
}

/* Reads one logical record into rec. Returns 1, 0 at EOF, < 0 on error. */
static int read_record(csv_reader *r, gp_error *err)
{
    r->rec_len = 0;
    int rc = read_phys_line(r, err);
    if (rc <= 0)
        return rc;
    r->row_line = r->phys_line;
    if (r->phys_line == 1 && r->rec_len >= 3 && memcmp(r->rec, "\xEF\xBB\xBF", 3) == 0) {
        memmove(r->rec, r->rec + 3, r->rec_len - 2);
        r->rec_len -= 3;
    }
    if (skippable(r->rec))
        return 1;
    /* quotes are counted once per line, so a long multi-line record stays linear */
    bool in_quote = false;
    size_t scanned = 0;
    for (;;) {
        for (const char *q = r->rec + scanned;
             (q = memchr(q, '"', r->rec_len - (size_t)(q - r->rec))); q++)
            in_quote = !in_quote;
        scanned = r->rec_len;
        if (!in_quote)
            return 1;
        if (r->rec_len + 1 > CSV_MAX_RECORD_BYTES)
            return too_long(r, "record", r->row_line, err);
        if (reserve(&r->rec, &r->rec_cap, r->rec_len + 2) < 0)
            return oom(r, err);
        r->rec[r->rec_len++] = '\n';
        r->rec[r->rec_len] = '\0';
        scanned = r->rec_len;
        rc = read_phys_line(r, err);
        if (rc < 0)
            return rc;
        if (rc == 0)
            return gp_error_set(err, GP_EPARSE, r->path, r->row_line, 0, NULL,
                                "unterminated quoted field (a '\"' is never closed)");
    }
}

/* Room for one more field, at most CSV_MAX_FIELDS. */
static int grow_fields(csv_reader *r, gp_error *err)
{
    size_t c = r->field_cap ? r->field_cap * 2 : 32;
    if (c > CSV_MAX_FIELDS)
        return gp_error_set(err, GP_ELIMIT, r->path, r->row_line, 0, NULL,
                            "more than %d fields in a row", CSV_MAX_FIELDS);
    char **f = realloc(r->field, c * sizeof(*f));
    if (f)
        r->field = f;
    long *fp = f ? realloc(r->field_pos, c * sizeof(*fp)) : NULL;
    if (fp)
        r->field_pos = fp;
    if (!f || !fp)
        return oom(r, err);
    r->field_cap = c;
    return 0;
}

/* A new field at *p, after its leading spaces (skipped): its 1-based column on the
 * physical line that starts at `line`. */
static int begin_field(csv_reader *r, char **p, const char *line, gp_error *err)
{
    if (r->n_field == r->field_cap) {
        int rc = grow_fields(r, err);
        if (rc < 0)
            return rc;
    }
    while (is_space(**p))
        (*p)++;
    r->field_pos[r->n_field] = (long)(*p - line) + 1;
    r->field[r->n_field++] = *p;
    return 0;
}

/* Splits rec in place into fields: quoted fields are unescaped, unquoted ones trimmed. */
static int split_record(csv_reader *r, gp_error *err)
{
    r->n_field = 0;
    char *p = r->rec;
    size_t line_start = 0; /* offset in rec of the current physical line */
    for (;;) {
        int rc = begin_field(r, &p, r->rec + line_start, err);
        if (rc < 0)
            return rc;
        char *out = p;
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
                if (*q == '\n')
                    line_start = (size_t)(q - r->rec) + 1;
                *out++ = *q++;
            }
            while (is_space(*q))
                q++;
            if (*q != ',' && *q != '\0')
                return gp_error_set(err, GP_EPARSE, r->path, r->row_line, 0, NULL,
                                    "field %zu: unexpected '%c' after a closing quote", r->n_field,
                                    *q);
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

/* ---- the common row, split where it lies ---- */

/* No newline in chunk[pos..len): keeps those bytes, moved to the front, and reads more
 * until a newline comes, the chunk is full or the input ends. */
static int fill_line(csv_reader *r, gp_error *err)
{
    size_t keep = r->len - r->pos;
    if (r->pos > 0) {
        memmove(r->chunk, r->chunk + r->pos, keep);
        r->pos = 0;
        r->len = keep;
        chunk_moved(r);
    }
    while (r->len < CSV_CHUNK_BYTES && !r->eof) {
        long n = input_read(r, r->len, CSV_CHUNK_BYTES - r->len, err);
        if (n < 0)
            return (int)n;
        r->len += (size_t)n;
        if (n > 0 && memchr(r->chunk + r->len - (size_t)n, '\n', (size_t)n))
            break;
    }
    return 0;
}

/* Checks the chunk as text from `from` up to its last newline (a character never spans a
 * newline); text_end stops at the first bad byte, whose line the general path reports. */
static void check_text(csv_reader *r, size_t from)
{
    size_t last = r->len;
    while (last > from && r->chunk[last - 1] != '\n')
        last--;
    r->text_end = from + gp_text_prefix(r->chunk + from, last - from);
}

/* The next line if it is the common case: after the first line, whole in the chunk
 * (newline included), checked as text, with no quote. A blank or comment line is
 * consumed (2); a row is split in place into fields, trimmed (1; its field count is the
 * caller's to check). 0: nothing consumed, the general path takes this line. */
static int fast_row(csv_reader *r, gp_error *err)
{
    if (r->phys_line == 0)
        return 0; /* a byte-order mark is the general path's */
    char *nl = r->pos < r->len ? memchr(r->chunk + r->pos, '\n', r->len - r->pos) : NULL;
    if (!nl) {
        if (r->eof)
            return 0;
        int rc = fill_line(r, err);
        if (rc < 0)
            return rc;
        nl = r->pos < r->len ? memchr(r->chunk + r->pos, '\n', r->len - r->pos) : NULL;
        if (!nl)
            return 0; /* the last line without a newline, or longer than the chunk */
    }
    size_t nl_off = (size_t)(nl - r->chunk);
    if (nl_off >= r->text_end) {
        check_text(r, r->text_end > r->pos ? r->text_end : r->pos);
        if (nl_off >= r->text_end)
            return 0;
    }
    if (r->quote_at < r->pos || (r->quote_at == NO_QUOTE && r->quote_scan <= nl_off)) {
        const char *q = memchr(r->chunk + r->pos, '"', r->len - r->pos);
        r->quote_at = q ? (size_t)(q - r->chunk) : NO_QUOTE;
        r->quote_scan = r->len;
    }
    if (r->quote_at < nl_off)
        return 0;
    char *line = r->chunk + r->pos, *end = nl;
    r->pos = nl_off + 1;
    r->phys_line++;
    if (end > line && end[-1] == '\r')
        end--;
    *end = '\0';
    if (skippable(line))
        return 2;
    r->row_line = r->phys_line;
    r->n_field = 0;
    for (char *p = line;;) {
        int rc = begin_field(r, &p, line, err);
        if (rc < 0)
            return rc;
        char *q = memchr(p, ',', (size_t)(end - p));
        if (!q)
            q = end;
        char c = *q, *t = q;
        while (t > p && is_space(t[-1]))
            t--;
        *t = '\0';
        if (!c)
            return 1;
        p = q + 1;
    }
}

/* ---- plain files ---- */

static long fd_read(void *ctx, char *buf, size_t cap, gp_error *err)
{
    int fd = (int)(intptr_t)ctx;
    for (;;) {
        ssize_t n = read(fd, buf, cap);
        if (n >= 0)
            return (long)n;
        if (errno != EINTR)
            return gp_error_set(err, GP_EIO, NULL, 0, 0, NULL, "read error: %s", strerror(errno));
    }
}

static void fd_close(void *ctx) { close((int)(intptr_t)ctx); }

int csv_open(const char *path, csv_reader **out, gp_error *err)
{
    *out = NULL;
    if (!path || !path[0])
        return gp_error_set(err, GP_EMISSING, NULL, 0, 0, NULL, "no CSV file given");
    int fd = gp_open_regular(path, err);
    if (fd < 0)
        return fd;
    return csv_open_fd(path, fd, out, err);
}

int csv_open_fd(const char *path, int fd, csv_reader **out, gp_error *err)
{
    csv_input in = {(void *)(intptr_t)fd, fd_read, fd_close};
    return csv_open_input(path, in, out, err);
}

int csv_open_input(const char *path, csv_input in, csv_reader **out, gp_error *err)
{
    *out = NULL;
    csv_reader *r = calloc(1, sizeof(*r));
    if (!r) {
        if (in.close)
            in.close(in.ctx);
        return gp_error_set(err, GP_ENOMEM, path, 0, 0, NULL, "out of memory");
    }
    r->in = in;
    r->path = strdup(path ? path : "");
    r->chunk = malloc(CSV_CHUNK_BYTES);
    chunk_moved(r);
    int rc;
    if (!r->path || !r->chunk) {
        rc = gp_error_set(err, GP_ENOMEM, path, 0, 0, NULL, "out of memory");
        goto fail;
    }
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
        if (!skippable(r->rec))
            break;
    }
    rc = split_record(r, err);
    if (rc < 0)
        goto fail;
    /* Keep the header names: copy the record, then re-point names into the copy. */
    r->header_buf = malloc(r->rec_len + 1);
    r->col = malloc(r->n_field * sizeof(*r->col));
    r->col_pos = malloc(r->n_field * sizeof(*r->col_pos));
    if (!r->header_buf || !r->col || !r->col_pos) {
        rc = gp_error_set(err, GP_ENOMEM, path, 0, 0, NULL, "out of memory");
        goto fail;
    }
    memcpy(r->header_buf, r->rec, r->rec_len + 1);
    r->n_col = r->n_field;
    r->header_line = r->row_line;
    for (size_t i = 0; i < r->n_col; i++) {
        r->col[i] = r->header_buf + (r->field[i] - r->rec);
        r->col_pos[i] = r->field_pos[i];
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
    if (r->in.close)
        r->in.close(r->in.ctx);
    free(r->path);
    free(r->chunk);
    free(r->rec);
    free(r->field);
    free(r->field_pos);
    free(r->header_buf);
    free(r->col);
    free(r->col_pos);
    free(r);
}

const char *csv_path(const csv_reader *r) { return r->path; }
size_t csv_ncols(const csv_reader *r) { return r->n_col; }
const char *csv_col_name(const csv_reader *r, size_t i) { return i < r->n_col ? r->col[i] : ""; }
long csv_col_pos(const csv_reader *r, size_t i) { return i < r->n_col ? r->col_pos[i] : 0; }
long csv_header_line(const csv_reader *r) { return r->header_line; }
long csv_line(const csv_reader *r) { return r->row_line; }
uint64_t csv_rows(const csv_reader *r) { return r->rows; }

const char *csv_field(const csv_reader *r, size_t col)
{
    return col < r->n_field ? r->field[col] : "";
}

long csv_field_pos(const csv_reader *r, size_t col)
{
    return col < r->n_field ? r->field_pos[col] : 0;
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
                strcpy(buf + gp_utf8_cut(buf, len - 4), "...");
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
    return gp_error_set(err, GP_EMISSING, r->path, r->header_line, 0, NULL,
                        "no %s '%s'; the columns are: %s", role, name, cols);
}

int csv_next_row(csv_reader *r, gp_error *err)
{
    for (;;) {
        int rc = fast_row(r, err);
        if (rc < 0)
            return rc;
        if (rc == 2)
            continue;
        if (rc == 0) {
            rc = read_record(r, err);
            if (rc <= 0)
                return rc;
            if (skippable(r->rec))
                continue;
            rc = split_record(r, err);
            if (rc < 0)
                return rc;
        }
        if (r->n_field != r->n_col)
            return gp_error_set(err, GP_EPARSE, r->path, r->row_line, 0, NULL,
                                "too %s columns: %zu fields, the header has %zu",
                                r->n_field < r->n_col ? "few" : "many", r->n_field, r->n_col);
        r->rows++;
        return 1;
    }
}

int csv_field_error(const csv_reader *r, size_t col, int code, gp_error *err, const char *fmt, ...)
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
    return csv_field_error(r, col, GP_ERANGE, err,
                           "%s value '%.60s', expected a finite number >= 0", why, s);
}

int csv_field_iso_us(const csv_reader *r, size_t col, int64_t *out_us, gp_error *err)
{
    const char *s = csv_field(r, col);
    if (textparse_iso_us(s, out_us) == 0)
        return 0;
    return csv_field_error(r, col, GP_EPARSE, err, "cannot parse '%.60s' as a date-time", s);
}
