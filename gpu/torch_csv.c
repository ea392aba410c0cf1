/* torch_csv.c: reading gpen_torch.py's timing CSV (see torch_csv.h). */
#include "gpu/torch_csv.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/csv_reader.h"

/* A text field that must fit its buffer. */
static int text(const csv_reader *r, int col, char *dst, size_t cap, gp_error *err)
{
    const char *s = csv_field(r, (size_t)col);
    if (!s[0] || strlen(s) >= cap)
        return gp_error_set(err, GP_EPARSE, csv_path(r), csv_line(r), csv_field_pos(r, (size_t)col),
                            csv_col_name(r, (size_t)col), "expected a word of 1 to %zu bytes, got \"%.40s\"",
                            cap - 1, s);
    memcpy(dst, s, strlen(s) + 1);
    return 0;
}

int torch_csv_read(const char *path, torch_row *rows, int cap, int *n, gp_error *err)
{
    *n = 0;
    csv_reader *r;
    int rc = csv_open(path, &r, err);
    if (rc < 0)
        return rc;
    static const char *const names[5] = {"dtype", "mode", "modconv", "batch", "ms"};
    int col[5];
    for (int k = 0; k < 5; k++)
        if ((col[k] = csv_require_col(r, names[k], "column", err)) < 0) {
            csv_close(r);
            return col[k];
        }
    while ((rc = csv_next_row(r, err)) == 1) {
        torch_row t;
        if ((rc = text(r, col[0], t.dtype, sizeof(t.dtype), err)) < 0 ||
            (rc = text(r, col[1], t.mode, sizeof(t.mode), err)) < 0 ||
            (rc = text(r, col[2], t.modconv, sizeof(t.modconv), err)) < 0)
            break;
        char *end;
        const char *b = csv_field(r, (size_t)col[3]), *ms = csv_field(r, (size_t)col[4]);
        long batch = strtol(b, &end, 10);
        if (!b[0] || *end || batch < 1 || batch > 4096) {
            rc = gp_error_set(err, GP_EPARSE, path, csv_line(r), csv_field_pos(r, (size_t)col[3]),
                              "batch", "expected a batch size in 1..4096, got \"%.40s\"", b);
            break;
        }
        t.batch = (int)batch;
        t.ms = strtod(ms, &end);
        if (!ms[0] || *end || !isfinite(t.ms) || t.ms <= 0) {
            rc = gp_error_set(err, GP_EPARSE, path, csv_line(r), csv_field_pos(r, (size_t)col[4]),
                              "ms", "expected a time > 0 in milliseconds, got \"%.40s\"", ms);
            break;
        }
        if (*n == cap) {
            rc = gp_error_set(err, GP_ELIMIT, path, csv_line(r), 0, NULL, "more than %d rows", cap);
            break;
        }
        rows[(*n)++] = t;
    }
    csv_close(r);
    return rc < 0 ? rc : 0;
}
