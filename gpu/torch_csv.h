/* torch_csv.h: the PyTorch timings `gpenlab-gpu bench --torch FILE` compares against, as
 * `scripts/gpen_torch.py bench --csv FILE` writes them: a CSV with the columns dtype, mode,
 * modconv, batch and ms (one row per measured configuration; other columns ignored). It is
 * read by the one CSV reader (base/csv_reader.h: plain C, no zlib), so a NUL byte, invalid
 * UTF-8, a bad number or a missing column is an error naming the file, the line and the
 * column, not a row silently skipped. */
#ifndef GP_GPU_TORCH_CSV_H
#define GP_GPU_TORCH_CSV_H

#include "base/error.h"

typedef struct torch_row {
    char dtype[8], mode[12], modconv[12];
    int batch;
    double ms;
} torch_row;

/* Reads at most cap rows into rows (GP_ELIMIT beyond); *n is the count. */
int torch_csv_read(const char *path, torch_row *rows, int cap, int *n, gp_error *err);

#endif
