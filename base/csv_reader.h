/* csv_reader.h: the one CSV reader of gpenlab. Traces, `policy replay` metrics, regression
 * baselines, the load generator's and the worker's arrivals files and gpenlab-gpu's torch
 * timings all go through it, so every CSV is read by the same rules:
 * - A header row names the columns; every data row has as many fields. Fields may be
 *   quoted ("a,b", "say ""hi""", and a quoted field may span lines); unquoted fields are
 *   trimmed of spaces and tabs. CRLF and a UTF-8 byte-order mark are accepted.
 * - Blank lines, and lines whose first non-blank character is '#', are skipped anywhere
 *   (before the header and between rows; not inside a quoted field).
 * - Every byte is text: a NUL byte or invalid UTF-8 is an error naming the line and column,
 *   never a row silently cut or merged.
 * - Bounded: only regular files are opened (a FIFO or a device such as /dev/zero is refused
 *   at once), a record is at most CSV_MAX_RECORD_BYTES and CSV_MAX_FIELDS fields, and a
 *   file is read in fixed chunks, so a binary or hostile file ends in an error in bounded
 *   time and memory.
 * Errors name the file, the line where the row starts and the column:
 * "x.csv:17: column 'gmt_create': cannot parse ...". Field strings belong to the reader and
 * are valid until the next csv_next_row.
 * This file needs only libc, error.c, text.c and textparse.c, so gpenlab-gpu and the worker
 * compile it in; gzip input comes through csv_open_input (csv_gzip.h opens plain or gzip). */
#ifndef GP_CSV_READER_H
#define GP_CSV_READER_H

#include <stddef.h>
#include <stdint.h>

#include "base/error.h"

/* Hard caps: a trace row is a few hundred bytes; 1 MiB is far beyond any real record. */
#define CSV_MAX_RECORD_BYTES (1u << 20)
#define CSV_MAX_FIELDS       4096

typedef struct csv_reader csv_reader;

/* Where the bytes come from: read() returns the number of bytes put into buf (at most
 * cap), 0 at the end of the input, or a negative GP_E* code with err set. close() may be
 * NULL. */
typedef struct csv_input {
    void *ctx;
    long (*read)(void *ctx, char *buf, size_t cap, gp_error *err);
    void (*close)(void *ctx);
} csv_input;

/* Opens the regular file `path` (plain text) and reads its header. Missing file:
 * GP_EMISSING; not a regular file, unreadable: GP_EIO; no header (empty file): GP_EPARSE. */
int csv_open(const char *path, csv_reader **out, gp_error *err);
/* The same over a file already opened by gp_open_regular (the reader owns fd). */
int csv_open_fd(const char *path, int fd, csv_reader **out, gp_error *err);
/* The same over any input; `path` names it in errors. The reader owns `in` from here on
 * (closed by csv_close, and on error). */
int csv_open_input(const char *path, csv_input in, csv_reader **out, gp_error *err);
void csv_close(csv_reader *r);

const char *csv_path(const csv_reader *r);
size_t csv_ncols(const csv_reader *r);
const char *csv_col_name(const csv_reader *r, size_t i);
/* Index of the first column called `name`, or -1. */
int csv_col_index(const csv_reader *r, const char *name);
/* Index of column `name`, or GP_EMISSING naming the `role` ("time column") and listing
 * the columns that exist. */
int csv_require_col(const csv_reader *r, const char *name, const char *role, gp_error *err);
/* Writes "a, b, c" (the header) into buf, truncated with "..." if long. */
void csv_list_cols(const csv_reader *r, char *buf, size_t len);
/* 1-based byte column of header field i on the header's line. */
long csv_col_pos(const csv_reader *r, size_t i);
long csv_header_line(const csv_reader *r);

/* 1: a row is ready; 0: end of file; < 0: error (bad quoting, wrong field count, NUL
 * byte or invalid UTF-8, truncated or unreadable file). */
int csv_next_row(csv_reader *r, gp_error *err);
const char *csv_field(const csv_reader *r, size_t col);
/* 1-based byte column where field `col` of the current row starts, on its first line. */
long csv_field_pos(const csv_reader *r, size_t col);
long csv_line(const csv_reader *r);     /* line where the current row starts, 1-based */
uint64_t csv_rows(const csv_reader *r); /* data rows returned so far */

/* Records an error about column `col` of the current row and returns `code`. */
int csv_field_error(const csv_reader *r, size_t col, int code, gp_error *err, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
/* The field as a finite number >= 0; errors say why (NaN, infinite, negative). */
int csv_field_nonneg(const csv_reader *r, size_t col, double *out, gp_error *err);
/* The field as an ISO date-time, in microseconds since the epoch (UTC unless an offset
 * is given). */
int csv_field_iso_us(const csv_reader *r, size_t col, int64_t *out_us, gp_error *err);

#endif
