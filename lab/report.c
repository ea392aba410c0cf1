/* report.c: grouping by label, the aligned comparison table, paired differences, and the
 * atomic CSV (written with the field table of results_db.h, read back the same way).
 * Every figure comes from the table of run metrics (run_metrics.h). */
#include "lab/report.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/common.h"
#include "base/csv_reader.h"
#include "lab/results_db.h"

/* ---------- grouping ---------- */

/* label as a C string even when the array is full */
static int same_label(const char *a, const char *b, size_t size)
{
    return strncmp(a, b, size) == 0;
}

int report_group_runs(const run_summary *runs, size_t n, report_group **out, size_t *n_groups,
                      gp_error *err)
{
    *out = NULL;
    *n_groups = 0;
    if (n == 0)
        return 0;
    report_group *g = calloc(n, sizeof(*g));
    size_t *group_of = malloc(n * sizeof(*group_of));
    double *vals = malloc(n * sizeof(*vals));
    if (!g || !group_of || !vals) {
        free(g);
        free(group_of);
        free(vals);
        return gp_oom(err);
    }
    size_t ng = 0;
    for (size_t i = 0; i < n; i++) {
        size_t k = 0;
        while (k < ng && !same_label(g[k].label, runs[i].label, sizeof(g[k].label)))
            k++;
        if (k == ng) {
            snprintf(g[k].label, sizeof(g[k].label), "%.*s", (int)sizeof(runs[i].label) - 1,
                     runs[i].label);
            snprintf(g[k].policy, sizeof(g[k].policy), "%.*s", (int)sizeof(runs[i].policy) - 1,
                     runs[i].policy);
            ng++;
        }
        group_of[i] = k;
        g[k].n++;
    }
    for (size_t k = 0; k < ng; k++) {
        for (int m = 0; m < RM_COUNT; m++) {
            size_t nv = 0;
            for (size_t i = 0; i < n; i++)
                if (group_of[i] == k)
                    vals[nv++] = run_metric_value((run_metric_id)m, &runs[i]);
            g[k].s[m] = stats_summarize(vals, nv);
        }
    }
    free(group_of);
    free(vals);
    *out = g;
    *n_groups = ng;
    return 0;
}

/* ---------- aligned text ---------- */

/* Display columns of a UTF-8 string: continuation bytes take none. */
static size_t display_width(const char *s)
{
    size_t w = 0;
    for (; *s; s++)
        w += ((unsigned char)*s & 0xC0) != 0x80;
    return w;
}

#define CELL     64
#define MAX_COLS 32
typedef struct table {
    size_t n_cols, n_rows; /* rows include the header rows */
    size_t n_head;         /* header rows; a rule follows them */
    char (*cell)[CELL];    /* [n_rows * n_cols] */
    const int *right;      /* per column: right-aligned */
} table;

static char *cell_at(table *t, size_t row, size_t col) { return t->cell[row * t->n_cols + col]; }

static int table_print(FILE *f, table *t)
{
    size_t width[MAX_COLS] = {0};
    for (size_t c = 0; c < t->n_cols; c++)
        for (size_t r = 0; r < t->n_rows; r++) {
            size_t w = display_width(cell_at(t, r, c));
            if (w > width[c])
                width[c] = w;
        }
    for (size_t r = 0; r < t->n_rows; r++) {
        size_t last = t->n_cols; /* trailing empty cells print nothing */
        while (last > 1 && cell_at(t, r, last - 1)[0] == '\0')
            last--;
        for (size_t c = 0; c < last; c++) {
            const char *s = cell_at(t, r, c);
            size_t pad = width[c] - display_width(s);
            if (c)
                fputs("  ", f);
            if (t->right[c])
                fprintf(f, "%*s%s", (int)pad, "", s);
            else if (c + 1 < last)
                fprintf(f, "%s%*s", s, (int)pad, "");
            else
                fputs(s, f);
        }
        fputc('\n', f);
        if (r + 1 == t->n_head) {
            size_t total = 0;
            for (size_t c = 0; c < t->n_cols; c++)
                total += width[c] + (c ? 2 : 0);
            for (size_t i = 0; i < total; i++)
                fputc('-', f);
            fputc('\n', f);
        }
    }
    return ferror(f) ? GP_EIO : 0;
}

static int table_init(table *t, size_t rows, size_t cols, size_t head, const int *right,
                      gp_error *err)
{
    t->n_rows = rows;
    t->n_cols = cols;
    t->n_head = head;
    t->right = right;
    t->cell = calloc(rows * cols, sizeof(*t->cell));
    return t->cell ? 0 : gp_oom(err);
}

/* The value alone, "-" when there is none. */
static void format_mean(char *buf, const stat_summary *s, int decimals)
{
    if (isnan(s->mean))
        snprintf(buf, CELL, "-");
    else
        snprintf(buf, CELL, "%.*f", decimals, s->mean);
}

/* "±hw", "" when there is no interval. */
static void format_half_width(char *buf, const stat_summary *s, int decimals)
{
    if (isnan(s->half_width))
        buf[0] = '\0';
    else
        snprintf(buf, CELL, "\xc2\xb1%.*f", decimals, s->half_width);
}

void report_table_opts_default(report_table_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->currency = "USD";
}

int report_print_table(FILE *f, const run_summary *runs, size_t n, const report_table_opts *opts,
                       gp_error *err)
{
    report_table_opts dflt;
    if (!opts) {
        report_table_opts_default(&dflt);
        opts = &dflt;
    }
    report_group *g;
    size_t ng;
    TRY(report_group_runs(runs, n, &g, &ng, err));
    /* the columns: rejections only when there are any (they are rare, and never silent) */
    run_metric_id col[MAX_COLS];
    size_t nc = 0;
    static const run_metric_id base[] = {RM_SLO_PCT,     RM_P50_S,    RM_P95_S,      RM_P99_S,
                                         RM_TIMEOUT_PCT, RM_REJECTED, RM_POD_STARTS, RM_COLD_WAITED,
                                         RM_GPU_HOURS,   RM_COST,     RM_UTIL_PCT};
    bool any_rejected = false, any_interval = false;
    for (size_t k = 0; k < ng; k++) {
        any_rejected |= g[k].s[RM_REJECTED].mean > 0;
        any_interval |= g[k].n > 1;
    }
    for (size_t i = 0; i < sizeof(base) / sizeof(base[0]); i++)
        if (base[i] != RM_REJECTED || any_rejected)
            col[nc++] = base[i];
    int right[MAX_COLS] = {0};
    for (size_t c = 1; c <= nc; c++)
        right[c] = 1;
    size_t rows = 2;
    for (size_t k = 0; k < ng; k++)
        rows += g[k].n > 1 ? 2 : 1; /* a line of half-widths under a label with an interval */
    table t;
    int rc = table_init(&t, rows, nc + 1, 2, right, err);
    if (rc < 0) {
        free(g);
        return rc;
    }
    snprintf(cell_at(&t, 0, 0), CELL, "%s", "policy");
    for (size_t c = 0; c < nc; c++) {
        const run_metric *m = run_metric_get(col[c]);
        snprintf(cell_at(&t, 0, c + 1), CELL, "%s", m->heading);
        run_metric_heading_unit(m, opts->currency, cell_at(&t, 1, c + 1), CELL);
    }
    size_t row = 2;
    for (size_t k = 0; k < ng; k++) {
        snprintf(cell_at(&t, row, 0), CELL, "%s", g[k].label);
        for (size_t c = 0; c < nc; c++) {
            const run_metric *m = run_metric_get(col[c]);
            /* counts of a single run are whole numbers */
            int dec = m->decimals;
            if ((col[c] == RM_POD_STARTS || col[c] == RM_COLD_WAITED || col[c] == RM_REJECTED) &&
                g[k].n <= 1)
                dec = 0;
            format_mean(cell_at(&t, row, c + 1), &g[k].s[col[c]], dec);
            if (g[k].n > 1)
                format_half_width(cell_at(&t, row + 1, c + 1), &g[k].s[col[c]], dec);
        }
        row += g[k].n > 1 ? 2 : 1;
    }
    rc = table_print(f, &t);
    if (rc == 0) {
        if (any_interval)
            fprintf(f, "under each line: \xc2\xb1 95%% CI half-width (Student t) over the "
                       "replications.");
        else
            fprintf(f, "one replication: no confidence intervals.");
        if (opts->slo_s > 0)
            fprintf(f, " SLO: share of requests answered within %g s.", opts->slo_s);
        fputc('\n', f);
    }
    free(t.cell);
    free(g);
    if (rc < 0 || ferror(f))
        return gp_error_set(err, GP_EIO, NULL, 0, 0, NULL, "writing the report failed");
    return 0;
}

int report_print_paired(FILE *f, const run_summary *runs, size_t n, const char *baseline,
                        gp_error *err)
{
    static const run_metric_id metric[] = {RM_MEAN_S, RM_P99_S, RM_SLO_PCT, RM_TIMED_OUT,
                                           RM_GPU_HOURS};
    static const int right[] = {0, 0, 1, 1, 1, 1, 1, 1};
    enum { NM = sizeof(metric) / sizeof(metric[0]), COLS = 3 + NM };
    size_t nb = 0;
    for (size_t i = 0; i < n; i++)
        nb += (size_t)same_label(runs[i].label, baseline, sizeof(runs[i].label));
    if (nb == 0)
        return gp_error_set(err, GP_EUNKNOWN, NULL, 0, 0, "baseline", "no run is labelled '%s'",
                            baseline);
    report_group *g;
    size_t ng;
    int rc = report_group_runs(runs, n, &g, &ng, err);
    if (rc < 0)
        return rc;
    table t;
    double *a = malloc((n + 1) * sizeof(*a)), *b = malloc((n + 1) * sizeof(*b));
    if (!a || !b || (rc = table_init(&t, ng, COLS, 1, right, err)) < 0) {
        free(a);
        free(b);
        free(g);
        return rc < 0 ? rc : gp_oom(err);
    }
    snprintf(cell_at(&t, 0, 0), CELL, "label");
    snprintf(cell_at(&t, 0, 1), CELL, "vs");
    snprintf(cell_at(&t, 0, 2), CELL, "pairs");
    for (size_t m = 0; m < NM; m++) { /* "ΔP99 (s)": a difference of the metric */
        char label[CELL - 2];
        snprintf(cell_at(&t, 0, 3 + m), CELL, "\xce\x94%s",
                 run_metric_label(run_metric_get(metric[m]), NULL, label, sizeof(label)));
    }
    size_t row = 1;
    for (size_t k = 0; k < ng; k++) {
        if (same_label(g[k].label, baseline, sizeof(g[k].label)))
            continue;
        snprintf(cell_at(&t, row, 0), CELL, "%s", g[k].label);
        snprintf(cell_at(&t, row, 1), CELL, "%s", baseline);
        size_t pairs = 0;
        for (size_t m = 0; m < NM; m++) {
            const run_metric *rm = run_metric_get(metric[m]);
            /* pair each run of the label with the first baseline run of its replication */
            size_t np = 0;
            for (size_t i = 0; i < n; i++) {
                if (!same_label(runs[i].label, g[k].label, sizeof(runs[i].label)))
                    continue;
                for (size_t j = 0; j < n; j++) {
                    if (same_label(runs[j].label, baseline, sizeof(runs[j].label)) &&
                        runs[j].replication == runs[i].replication) {
                        a[np] = rm->get(&runs[i]);
                        b[np] = rm->get(&runs[j]);
                        np++;
                        break;
                    }
                }
            }
            stat_summary d = stats_paired(a, b, np);
            char *cell = cell_at(&t, row, 3 + m);
            stats_format(cell, CELL - 2, &d, rm->decimals);
            if (stats_significant(&d))
                strcat(cell, " *");
            pairs = np;
        }
        snprintf(cell_at(&t, row, 2), CELL, "%zu", pairs);
        row++;
    }
    t.n_rows = row;
    rc = table_print(f, &t);
    if (rc == 0)
        fprintf(f, "label - baseline, paired by replication; * : the 95%% interval "
                   "excludes 0\n");
    free(t.cell);
    free(a);
    free(b);
    free(g);
    if (rc < 0 || ferror(f))
        return gp_error_set(err, GP_EIO, NULL, 0, 0, NULL, "writing the report failed");
    return 0;
}

/* ---------- CSV ---------- */

static void csv_cell(FILE *f, const char *s)
{
    size_t len = strlen(s);
    /* the reader trims unquoted cells and skips lines that start with '#' */
    int quote = len && (s[0] == ' ' || s[0] == '\t' || s[0] == '#' || s[len - 1] == ' ' ||
                        s[len - 1] == '\t');
    for (const char *p = s; *p && !quote; p++)
        quote = *p == ',' || *p == '"' || *p == '\n' || *p == '\r';
    if (!quote) {
        fputs(s, f);
        return;
    }
    fputc('"', f);
    for (const char *p = s; *p; p++) {
        if (*p == '"')
            fputc('"', f);
        fputc(*p, f);
    }
    fputc('"', f);
}

/* fsync of the directory holding path, so the rename itself is durable (best effort). */
static void sync_dir_of(const char *path)
{
    char dir[4096];
    snprintf(dir, sizeof(dir), "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash == dir)
        slash[1] = '\0';
    else if (slash)
        *slash = '\0';
    else
        snprintf(dir, sizeof(dir), ".");
    int fd = open(dir, O_RDONLY);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
}

int report_write_csv(const char *path, const run_summary *runs, size_t n, gp_error *err)
{
    char tmp[4096];
    if (snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid()) >= (int)sizeof(tmp))
        return gp_error_set(err, GP_EIO, path, 0, 0, NULL, "path too long");
    FILE *f = fopen(tmp, "w");
    if (!f)
        return gp_error_set(err, GP_EIO, tmp, 0, 0, NULL, "cannot create: %s", strerror(errno));
    size_t nf;
    const field_desc *fd = result_fields_run(&nf);
    for (size_t i = 0; i < nf; i++) {
        if (i)
            fputc(',', f);
        csv_cell(f, fd[i].name);
    }
    fputc('\n', f);
    char buf[256];
    for (size_t r = 0; r < n && !ferror(f); r++) {
        for (size_t i = 0; i < nf; i++) {
            if (i)
                fputc(',', f);
            csv_cell(f, result_field_format(&fd[i], &runs[r], buf, sizeof(buf)));
        }
        fputc('\n', f);
    }
    int failed = ferror(f) || fflush(f) != 0 || fsync(fileno(f)) != 0;
    int saved = errno;
    if (fclose(f) != 0 && !failed) {
        failed = 1;
        saved = errno;
    }
    if (failed) {
        unlink(tmp);
        return gp_error_set(err, GP_EIO, path, 0, 0, NULL, "writing failed: %s",
                            strerror(saved ? saved : EIO));
    }
    if (rename(tmp, path) != 0) {
        saved = errno;
        unlink(tmp);
        return gp_error_set(err, GP_EIO, path, 0, 0, NULL, "cannot rename %s into place: %s", tmp,
                            strerror(saved));
    }
    sync_dir_of(path);
    return 0;
}

int report_read_csv(const char *path, run_summary **out, size_t *n_out, gp_error *err)
{
    *out = NULL;
    *n_out = 0;
    csv_reader *r;
    TRY(csv_open(path, &r, err));
    size_t nf;
    const field_desc *fd = result_fields_run(&nf);
    size_t nh = csv_ncols(r);
    int *col_field = calloc(nh, sizeof(*col_field));
    char *seen = calloc(nf, 1);
    run_summary *rows = NULL;
    size_t n = 0, rcap = 0;
    int rc = col_field && seen ? 0 : gp_oom(err);
    long hline = csv_header_line(r);
    for (size_t c = 0; rc == 0 && c < nh; c++) {
        const char *name = csv_col_name(r, c);
        col_field[c] = -1;
        for (size_t i = 0; i < nf; i++)
            if (strcmp(name, fd[i].name) == 0)
                col_field[c] = (int)i;
        if (col_field[c] < 0)
            rc = gp_error_set(err, GP_EUNKNOWN, path, hline, csv_col_pos(r, c), name,
                              "unknown column");
        else if (seen[col_field[c]]++)
            rc = gp_error_set(err, GP_EPARSE, path, hline, csv_col_pos(r, c), name,
                              "repeated column");
    }
    for (size_t i = 0; rc == 0 && i < nf; i++)
        if (!seen[i])
            rc = gp_error_set(err, GP_EMISSING, path, hline, 0, fd[i].name, "missing column");
    while (rc == 0 && (rc = csv_next_row(r, err)) == 1) {
        rc = 0;
        if (n == rcap) {
            size_t nc2 = rcap ? rcap * 2 : 16;
            run_summary *q = realloc(rows, nc2 * sizeof(*q));
            if (!q) {
                rc = gp_oom(err);
                break;
            }
            rows = q;
            rcap = nc2;
        }
        memset(&rows[n], 0, sizeof(rows[n]));
        for (size_t c = 0; c < nh && rc == 0; c++) {
            const field_desc *fld = &fd[col_field[c]];
            int prc = result_field_parse(fld, &rows[n], csv_field(r, c));
            if (prc < 0)
                rc = gp_error_set(err, prc, path, csv_line(r), csv_field_pos(r, c), fld->name,
                                  "bad value \"%.64s\"", csv_field(r, c));
        }
        if (rc == 0)
            n++;
    }
    csv_close(r);
    free(col_field);
    free(seen);
    if (rc < 0) {
        free(rows);
        return rc;
    }
    *out = rows;
    *n_out = n;
    return 0;
}
