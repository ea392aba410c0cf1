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
                            csv_col_name(r, (size_t)col),
                            "expected a word of 1 to %zu bytes, got \"%.40s\"", cap - 1, s);
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
    int layout_col = csv_col_index(r, "layout"); /* optional: older files have none */
    while ((rc = csv_next_row(r, err)) == 1) {
        torch_row t;
        if ((rc = text(r, col[0], t.dtype, sizeof(t.dtype), err)) < 0 ||
            (rc = text(r, col[1], t.mode, sizeof(t.mode), err)) < 0 ||
            (rc = text(r, col[2], t.modconv, sizeof(t.modconv), err)) < 0)
            break;
        if (layout_col < 0)
            memcpy(t.layout, "auto", 5);
        else if ((rc = text(r, layout_col, t.layout, sizeof(t.layout), err)) < 0)
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

int torch_best(const torch_row *rows, int n, const char *dtype, const char *mode, int batch)
{
    int best = -1;
    for (int i = 0; i < n; i++)
        if (rows[i].batch == batch && strcmp(rows[i].dtype, dtype) == 0 &&
            (!mode || strcmp(rows[i].mode, mode) == 0) && (best < 0 || rows[i].ms < rows[best].ms))
            best = i;
    return best;
}

const char *const TORCH_MODES[TORCH_N_MODES] = {"eager", "compile", "compile-ro", "compile-ma"};

void torch_compare_build(const double *gpen_ms, const double *frac_peak, int max_batch,
                         const torch_row *rows, int n, const char *dtype, torch_compare *out,
                         int *n_out)
{
    *n_out = 0;
    for (int b = 1; b <= max_batch && *n_out < 16; b *= 2) {
        torch_compare c = {
            b, gpen_ms[b] > 0 ? gpen_ms[b] : 0, gpen_ms[b] > 0 ? frac_peak[b] : 0, {0}, -1};
        for (int m = 0; m < TORCH_N_MODES; m++)
            c.per_mode[m] = torch_best(rows, n, dtype, TORCH_MODES[m], b);
        c.best = torch_best(rows, n, dtype, NULL, b);
        if (c.gpen_ms > 0 || c.best >= 0)
            out[(*n_out)++] = c;
    }
}

/* "%*.*f" of v, or "-" right-aligned in the same width when v is not a measurement */
static const char *num(char *buf, size_t cap, double v, int width, int prec, const char *suffix)
{
    if (v > 0)
        snprintf(buf, cap, "%*.*f%s", width - (int)strlen(suffix), prec, v, suffix);
    else
        snprintf(buf, cap, "%*s", width, "-");
    return buf;
}

static double row_ms(const torch_row *rows, int i) { return i >= 0 ? rows[i].ms : 0; }

void torch_compare_print(FILE *f, const torch_compare *c, int n, const torch_row *rows)
{
    fprintf(f, "%-6s %9s %9s %9s %10s %10s %8s %8s %8s  %s\n", "batch", "gpenlab", "eager",
            "compile", "compile-ro", "compile-ma", "frac pk", "x eager", "x best",
            "fastest torch (mode modconv layout)");
    for (int k = 0; k < n; k++) {
        const torch_compare *x = &c[k];
        char b[8][32];
        double te = row_ms(rows, x->per_mode[0]), tb = row_ms(rows, x->best);
        fprintf(f, "%-6d %s %s %s %s %s %s %s %s  ", x->batch, num(b[0], 32, x->gpen_ms, 9, 3, ""),
                num(b[1], 32, te, 9, 3, ""), num(b[2], 32, row_ms(rows, x->per_mode[1]), 9, 3, ""),
                num(b[3], 32, row_ms(rows, x->per_mode[2]), 10, 3, ""),
                num(b[4], 32, row_ms(rows, x->per_mode[3]), 10, 3, ""),
                num(b[5], 32, 100 * x->frac_peak, 8, 1, "%"),
                num(b[6], 32, x->gpen_ms > 0 ? te / x->gpen_ms : 0, 8, 2, "x"),
                num(b[7], 32, x->gpen_ms > 0 ? tb / x->gpen_ms : 0, 8, 2, "x"));
        if (x->best >= 0)
            fprintf(f, "%s %s %s\n", rows[x->best].mode, rows[x->best].modconv,
                    rows[x->best].layout);
        else
            fprintf(f, "-\n");
    }
}

void torch_compare_record(FILE *f, const torch_compare *c, int n, const torch_row *rows)
{
    static const char *const keys[TORCH_N_MODES] = {"torch_eager", "torch_compile",
                                                    "torch_compile_ro", "torch_compile_ma"};
    for (int k = 0; k < n; k++) {
        const torch_compare *x = &c[k];
        char b[32];
        fprintf(f, "compare batch %d gpenlab_fp16 %s", x->batch,
                num(b, sizeof(b), x->gpen_ms, 1, 4, ""));
        for (int m = 0; m < TORCH_N_MODES; m++)
            fprintf(f, " %s %s", keys[m],
                    num(b, sizeof(b), row_ms(rows, x->per_mode[m]), 1, 4, ""));
        if (x->best >= 0)
            fprintf(f, " best_torch %s/%s/%s %.4f", rows[x->best].mode, rows[x->best].modconv,
                    rows[x->best].layout, rows[x->best].ms);
        else
            fprintf(f, " best_torch - -");
        fprintf(
            f, " speedup_best %s",
            num(b, sizeof(b), x->gpen_ms > 0 ? row_ms(rows, x->best) / x->gpen_ms : 0, 1, 3, ""));
        fprintf(f, " frac_peak %s\n", num(b, sizeof(b), x->frac_peak, 1, 4, ""));
    }
}
