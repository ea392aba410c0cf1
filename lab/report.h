/* report.h: what a comparison of policies prints and saves.
 * Runs (several labels x replications) are grouped by label in first-seen order; each
 * figure is the mean over replications with its 95% Student-t half-width when n > 1.
 * The table goes to a FILE* the caller gives; the CSV (one row per run, every field of
 * run_summary, named as in results_db.h) is written to path.tmp.<pid>, fsync'ed, then
 * renamed over path, so the file at path is always a whole CSV (old or new).
 * Every figure is a metric of lab/run_metrics.h (its name, unit and derivation). */
#ifndef GP_REPORT_H
#define GP_REPORT_H

#include <stddef.h>
#include <stdio.h>

#include "base/error.h"
#include "sim/result.h"
#include "lab/run_metrics.h"
#include "sim/stats.h"

typedef struct report_group {
    char label[64];
    char policy[32];          /* of the first run of the label */
    size_t n;                 /* replications */
    stat_summary s[RM_COUNT]; /* every run metric, by run_metric_id */
} report_group;

/* Groups runs by label (first-seen order). *out is malloc'd; the caller frees it. */
int report_group_runs(const run_summary *runs, size_t n, report_group **out, size_t *n_groups,
                      gp_error *err);

typedef struct report_table_opts {
    const char *currency; /* the cost column's unit (default "USD") */
    double slo_s;         /* > 0: the footnote says what the SLO column counts */
} report_table_opts;

void report_table_opts_default(report_table_opts *o);

/* The comparison table, one policy per line: SLO attainment, P50/P95/P99, timeouts (% of
 * arrivals), rejections (only when there are any), pod starts, requests that waited on a
 * cold start, GPU-hours, cost, utilisation; under each line the 95% half-widths when there
 * is more than one replication. Two header lines (name, unit), columns aligned (UTF-8
 * aware); about 100 columns wide with labels of up to 16 characters. opts may be NULL. */
int report_print_table(FILE *f, const run_summary *runs, size_t n, const report_table_opts *opts,
                       gp_error *err);

/* Paired differences against `baseline` (a label): for each other label, the
 * replications with the same index are paired (common random numbers), and the mean of
 * (label - baseline) is printed with its 95% half-width; '*' marks an interval that
 * excludes 0. GP_EUNKNOWN when no run has the baseline label. */
int report_print_paired(FILE *f, const run_summary *runs, size_t n, const char *baseline,
                        gp_error *err);

/* One row per run, header first; atomic (temp file, fsync, rename). GP_EIO naming path. */
int report_write_csv(const char *path, const run_summary *runs, size_t n, gp_error *err);
/* Reads such a CSV back: columns matched by header name (any order); an unknown or
 * missing column, or a bad value, is an error naming file:line and the column.
 * *out is malloc'd (NULL when there are no rows). */
int report_read_csv(const char *path, run_summary **out, size_t *n, gp_error *err);

#endif
