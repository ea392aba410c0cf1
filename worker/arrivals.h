/* arrivals.h: an arrivals CSV, the live stack's list of requests: one request per row,
 * columns found by name: t_s (seconds from the start of the replay, non-decreasing),
 * mp (megapixels, > 0) and faces (a whole number, 0..64); other columns are ignored.
 * `gpenlab-loadgen expand` writes it, `gpenlab-loadgen replay` pushes it onto the queue,
 * and `gpenlab-worker profile --eff-mix` draws its image mix from it. It is read by the
 * one CSV reader (base/csv_reader.h), so quoting, comments, NUL bytes, invalid UTF-8 and
 * long lines follow its rules; errors name the file, the line and the column. */
#ifndef GP_WORKER_ARRIVALS_H
#define GP_WORKER_ARRIVALS_H

#include <stdbool.h>
#include <stddef.h>

#include "base/error.h"

typedef struct arrival {
    double t_s; /* 0 when the file was read without times */
    double mp;
    int faces;
} arrival;

typedef struct arrivals {
    arrival *row;
    size_t n;
} arrivals;

/* Reads every row. need_time: the t_s column is required and its values must be finite,
 * >= 0 and non-decreasing; otherwise only mp and faces are read. mp must lie in
 * (0, max_mp]. At most max_rows rows (GP_ELIMIT beyond); an empty file is GP_EPARSE.
 * Errors about a value: "file:line: column: expected ..., got ...". */
int arrivals_read(const char *path, bool need_time, double max_mp, size_t max_rows, arrivals *out,
                  gp_error *err);
void arrivals_free(arrivals *a);

#endif
