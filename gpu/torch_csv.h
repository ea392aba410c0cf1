/* torch_csv.h: the PyTorch timings `gpenlab-gpu bench --torch FILE` compares against, as
 * `scripts/gpen_torch.py bench --csv FILE` writes them: a CSV with the columns dtype, mode,
 * modconv, batch and ms, and optionally layout (one row per measured configuration; other
 * columns ignored; files without layout, written before it existed, read as "auto"). It is
 * read by the one CSV reader (base/csv_reader.h: plain C, no zlib), so a NUL byte, invalid
 * UTF-8, a bad number or a missing column is an error naming the file, the line and the
 * column, not a row silently skipped.
 *
 * The comparison: per batch size, gpenlab's time against the fastest torch row of each
 * mode and the fastest of all, over every formulation (modconv) and layout, naming the
 * winner. A figure nobody measured prints as "-", never as 0. */
#ifndef GP_GPU_TORCH_CSV_H
#define GP_GPU_TORCH_CSV_H

#include <stdio.h>

#include "base/error.h"

typedef struct torch_row {
    char dtype[8], mode[16], modconv[16], layout[8];
    int batch;
    double ms;
} torch_row;

/* Reads at most cap rows into rows (GP_ELIMIT beyond); *n is the count. */
int torch_csv_read(const char *path, torch_row *rows, int cap, int *n, gp_error *err);

/* Index of the fastest row of DTYPE at BATCH over every modconv and layout, among the rows
 * whose mode is MODE (every mode when MODE is NULL); -1 when there is none. */
int torch_best(const torch_row *rows, int n, const char *dtype, const char *mode, int batch);

/* The torch modes the table has a column for, in its order. */
enum { TORCH_N_MODES = 4 };
extern const char *const TORCH_MODES[TORCH_N_MODES];

/* One line of the comparison: gpenlab's fp16 time and fraction of peak at batch (ms 0:
 * not measured) and the rows that win per mode (TORCH_MODES) and overall (-1: none). */
typedef struct torch_compare {
    int batch;
    double gpen_ms, frac_peak;
    int per_mode[TORCH_N_MODES], best;
} torch_compare;

/* The lines for batch 1, 2, 4, .. max_batch where gpenlab (gpen_ms[b] > 0) or torch (a
 * DTYPE row) measured something, into out (room for 16); *n_out of them. */
void torch_compare_build(const double *gpen_ms, const double *frac_peak, int max_batch,
                         const torch_row *rows, int n, const char *dtype, torch_compare *out,
                         int *n_out);

/* The side-by-side table for people (a header and one line per batch: times in ms, the
 * speed-ups over eager and over the fastest torch row, which mode/modconv/layout that
 * was; "-" where a side was not measured). */
void torch_compare_print(FILE *f, const torch_compare *c, int n, const torch_row *rows);

/* The same as "compare batch B key value ..." lines for a results file ("-" where not
 * measured). */
void torch_compare_record(FILE *f, const torch_compare *c, int n, const torch_row *rows);

#endif
