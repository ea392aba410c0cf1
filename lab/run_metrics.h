/* run_metrics.h: the one table of run metrics. Every report, the sweep, reproduce and
 * regress derive a run's figures from its run_summary through this table, so a metric has
 * one name, one unit, one direction and one derivation everywhere.
 * Each entry says:
 *   name       the key in objectives, constraints and CSV columns ("p99_s")
 *   heading    the table heading, two short lines ("P99", "(s)"); "cost" takes its unit
 *              from the experiment's currency
 *   unit       "s", "%", "GPU-h", "requests", "pods", "nodes", or "currency"
 *   direction  whether lower or higher is better (or neither), for objectives and
 *              "got worse" in regress
 *   derived    how the value comes from a run_summary, in words (the `get` function)
 *   aggregation over replications: every metric is summarised as the mean with its 95%
 *              Student-t half-width (stats.h), and two policies or points are compared by
 *              paired differences replication by replication (same seeds: common random
 *              numbers). RM_AGG_MEAN is the only aggregation today; it is a field so that a
 *              metric that needs another one says so here.
 * The table is static const; nothing allocates. */
#ifndef GP_RUN_METRICS_H
#define GP_RUN_METRICS_H

#include <stddef.h>

#include "sim/result.h"

typedef enum {
    RM_MEAN_S = 0,
    RM_P50_S,
    RM_P95_S,
    RM_P99_S,
    RM_SLO_PCT,
    RM_TIMEOUT_PCT,
    RM_TIMED_OUT,
    RM_REJECTED,
    RM_POD_STARTS,
    RM_COLD_WAITED,
    RM_GPU_HOURS,
    RM_COST,
    RM_UTIL_PCT,
    RM_PREEMPTIONS,
    RM_COUNT
} run_metric_id;

typedef enum { RM_LOWER_BETTER = -1, RM_NEUTRAL = 0, RM_HIGHER_BETTER = 1 } run_metric_direction;

typedef enum { RM_AGG_MEAN = 0 } run_metric_aggregation;

typedef struct run_metric {
    run_metric_id id;
    const char *name;
    const char *heading, *heading_unit; /* "P99", "(s)" */
    const char *unit;
    run_metric_direction direction;
    run_metric_aggregation aggregation;
    int decimals; /* in tables */
    const char *derived;
    double (*get)(const run_summary *r);
} run_metric;

/* The whole table, in id order (table[i].id == i); *n = RM_COUNT. */
const run_metric *run_metric_table(size_t *n);
const run_metric *run_metric_get(run_metric_id id);
/* By name ("p99_s"); NULL when unknown. */
const run_metric *run_metric_find(const char *name);
/* The names, comma separated, for error messages ("known: ..."). */
void run_metric_names(char *buf, size_t cap);
/* The metric's unit; the cost's is `currency` ("" when NULL: a reader that does not know
 * the experiment's). */
const char *run_metric_unit(const run_metric *m, const char *currency);
/* The heading's second line: heading_unit ("(s)"), or "(CURRENCY)" for the cost ("" when
 * currency is NULL). Returns buf. */
const char *run_metric_heading_unit(const run_metric *m, const char *currency, char *buf,
                                    size_t cap);
/* The heading on one line: "P99 (s)", "GPU-h", "cost (EUR)" ("cost" when currency is NULL
 * or ""). Returns buf. */
const char *run_metric_label(const run_metric *m, const char *currency, char *buf, size_t cap);
/* The metric's value for one run (NaN when it has none, e.g. no completions). */
double run_metric_value(run_metric_id id, const run_summary *r);

#endif
