/* csv_gzip.h: the CSV reader (csv_reader.h) over a regular file that is plain text or
 * gzip-compressed (detected by zlib from the bytes, not the name). A truncated or corrupt
 * gzip stream is an error, not a silent end of file. Kept apart from csv_reader.c so that
 * programs without zlib (gpenlab-gpu, the worker) compile the reader alone. */
#ifndef GP_CSV_GZIP_H
#define GP_CSV_GZIP_H

#include "base/csv_reader.h"

int csv_open_any(const char *path, csv_reader **out, gp_error *err);

#endif
