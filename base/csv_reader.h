/* csv_reader.h: rows of a CSV file with a header, plain or gzip (zlib's gzopen reads both).
 * Lines starting with '#' (and blank lines) before the header are skipped; fields may be
 * quoted ("a,b", "say ""hi""", and a quoted field may span lines); CRLF and a UTF-8 BOM
 * are accepted. Every row must have as many fields as the header. A truncated gzip
 * stream is an error, not a silent end of file. Errors name the file, the line where
 * the row starts and the column: "x.csv:17: column 'gmt_create': cannot parse ...".
 * Field strings belong to the reader and are valid until the next csv_next_row. */
#ifndef GP_CSV_READER_H
#define GP_CSV_READER_H

#include <stddef.h>
#include <stdint.h>

#include "base/error.h"

typedef struct csv_reader csv_reader;

/* Opens `path` and reads its header. Missing file: GP_EMISSING; unreadable or
 * truncated: GP_EIO; no header (empty file): GP_EPARSE. */
int csv_open(const char *path, csv_reader **out, gp_error *err);
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

/* 1: a row is ready; 0: end of file; < 0: error (bad quoting, wrong field count,
 * truncated or unreadable file). Blank lines are skipped. */
int csv_next_row(csv_reader *r, gp_error *err);
const char *csv_field(const csv_reader *r, size_t col);
long csv_line(const csv_reader *r); /* line where the current row starts, 1-based */
uint64_t csv_rows(const csv_reader *r); /* data rows returned so far */

/* Records an error about column `col` of the current row and returns `code`. */
int csv_field_error(const csv_reader *r, size_t col, int code, gp_error *err,
                    const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* The field as a finite number >= 0; errors say why (NaN, infinite, negative). */
int csv_field_nonneg(const csv_reader *r, size_t col, double *out, gp_error *err);
/* The field as an ISO date-time, in microseconds since the epoch (UTC unless an offset
 * is given). */
int csv_field_iso_us(const csv_reader *r, size_t col, int64_t *out_us, gp_error *err);

#endif
