/* arrivals.c: the arrivals CSV through the one CSV reader (see arrivals.h). */
#include "worker/arrivals.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/csv_reader.h"

/* An error about column `col` of the current row: "file:line: name: message". */
static int bad(const csv_reader *r, int col, int code, gp_error *err, const char *what, double v)
{
    return gp_error_set(err, code, csv_path(r), csv_line(r), 0, csv_col_name(r, (size_t)col),
                        "expected %s, got %g", what, v);
}

/* The field as a finite number; GP_EPARSE naming the column when it is not one. */
static int number(const csv_reader *r, int col, double *out, gp_error *err)
{
    const char *s = csv_field(r, (size_t)col);
    char *end;
    double v = strtod(s, &end);
    if (!s[0] || *end || !isfinite(v))
        return gp_error_set(err, GP_EPARSE, csv_path(r), csv_line(r), 0,
                            csv_col_name(r, (size_t)col), "expected a number, got \"%.40s\"", s);
    *out = v;
    return 0;
}

int arrivals_read(const char *path, bool need_time, double max_mp, size_t max_rows, arrivals *out,
                  gp_error *err)
{
    memset(out, 0, sizeof(*out));
    csv_reader *r;
    int rc = csv_open(path, &r, err);
    if (rc < 0)
        return rc;
    int ct = -1, cm = -1, cf = -1;
    if ((need_time && (ct = csv_require_col(r, "t_s", "time column", err)) < 0) ||
        (cm = csv_require_col(r, "mp", "megapixel column", err)) < 0 ||
        (cf = csv_require_col(r, "faces", "faces column", err)) < 0) {
        csv_close(r);
        return GP_EMISSING;
    }
    size_t cap = 0;
    double prev = 0;
    while ((rc = csv_next_row(r, err)) == 1) {
        arrival a = {0, 0, 0};
        double faces;
        if ((ct >= 0 && (rc = number(r, ct, &a.t_s, err)) < 0) ||
            (rc = number(r, cm, &a.mp, err)) < 0 || (rc = number(r, cf, &faces, err)) < 0)
            break;
        if (ct >= 0 && a.t_s < 0) {
            rc = bad(r, ct, GP_ERANGE, err, "t_s >= 0", a.t_s);
            break;
        }
        if (ct >= 0 && a.t_s < prev) {
            rc = gp_error_set(err, GP_ERANGE, path, csv_line(r), 0, "t_s",
                              "goes backwards (%g after %g): sort the file", a.t_s, prev);
            break;
        }
        if (!(a.mp > 0 && a.mp <= max_mp)) {
            char what[64];
            snprintf(what, sizeof(what), "0 < mp <= %g", max_mp);
            rc = bad(r, cm, GP_ERANGE, err, what, a.mp);
            break;
        }
        if (faces < 0 || faces > 64 || faces != floor(faces)) {
            rc = bad(r, cf, GP_ERANGE, err, "a whole number of faces in 0..64", faces);
            break;
        }
        a.faces = (int)faces;
        prev = a.t_s;
        if (out->n == max_rows) {
            rc = gp_error_set(err, GP_ELIMIT, path, csv_line(r), 0, NULL, "more than %zu requests",
                              max_rows);
            break;
        }
        if (out->n == cap) {
            size_t nc = cap ? cap * 2 : 1024;
            arrival *na = realloc(out->row, nc * sizeof(*na));
            if (!na) {
                rc = gp_error_set(err, GP_ENOMEM, path, csv_line(r), 0, NULL, "out of memory");
                break;
            }
            out->row = na;
            cap = nc;
        }
        out->row[out->n++] = a;
    }
    if (rc == 0 && out->n == 0)
        rc = gp_error_set(err, GP_EPARSE, path, 0, 0, NULL, "no requests (only a header)");
    csv_close(r);
    if (rc < 0)
        arrivals_free(out);
    return rc < 0 ? rc : 0;
}

void arrivals_free(arrivals *a)
{
    free(a->row);
    memset(a, 0, sizeof(*a));
}
