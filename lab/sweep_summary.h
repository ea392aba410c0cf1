/* sweep_summary.h: a sweep's results as every report shows them, read from the results
 * database alone: its points (table sweep_points) with their runs, the objective and the
 * constraints the sweep recorded (results_db_sweep_get), each point's means with 95%
 * intervals, feasibility (a constraint met on the mean; "surely" when met at the 95%
 * bound), the Pareto front of (mean cost, mean P99: on one pool cost is GPU-hours x
 * price, a mixed fleet's pools have their own prices), the winner (the best mean
 * objective among the feasible points), and each feasible point's paired difference from
 * the winner over the common-random-number replications. `gpenlab sweep` (text, CSV),
 * `gpenlab report` (HTML) and their Pareto pictures all come from here, so they agree.
 * Metrics are the table of run_metrics.h; feasibility and the winner come from winner.h,
 * as for `gpenlab run`.
 * A sweep recorded before its objective was stored has no feasibility and no winner
 * (recorded = false). */
#ifndef GP_SWEEP_SUMMARY_H
#define GP_SWEEP_SUMMARY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "base/error.h"
#include "lab/results_db.h"
#include "lab/winner.h"
#include "sim/stats.h"

/* Whether (cost_b, lat_b) dominates (cost_a, lat_a): at most as costly and as slow, and
 * better on one; a point lacking either figure is on no front. */
bool pareto_dominates(double cost_b, double lat_b, double cost_a, double lat_a);

/* What a sweep stores about its objective (results_db_sweep's objective and constraints:
 * "minimise gpu_hours", "p99_s<=20,slo_pct>=75"). */
void sweep_objective_store(const winner_objective *o, results_db_sweep *d);

typedef struct sweep_point_summary {
    size_t point;
    int64_t exp_id;
    char params[1024]; /* "path=value path=value" */
    size_t n;          /* replications found */
    double *values;    /* metric m, replication r at [m * reps + r]; NaN if missing */
    stat_summary *m;   /* per run metric (run_metric_id), over replications */
    bool feasible, surely, pareto, winner;
    bool tied;              /* feasible, not the winner, paired interval includes 0 */
    stat_summary vs_winner; /* paired objective difference, worse side > 0 (n = 0: none) */
    char why_not[160];      /* the first constraint it fails on the mean ("" if feasible) */
} sweep_point_summary;

typedef struct sweep_summary {
    char name[128];
    bool recorded;        /* the objective and constraints are in the database */
    winner_objective obj; /* when recorded */
    int reps;
    uint64_t seed;
    size_t n_points;
    sweep_point_summary *pt;
    size_t winner, runner_up; /* SIZE_MAX: none */
    double p_value;           /* one-sided paired t: the winner better than the runner-up */
    size_t compared, ties;    /* feasible points other than the winner; tied among them */
} sweep_summary;

/* The sweeps recorded in the database, by name (malloc'd array of names; caller frees). */
int sweep_summary_names(results_db *db, char (**names)[128], size_t *n, gp_error *err);

/* Reads and analyses one sweep. GP_EMISSING when the database has no point of it. */
int sweep_summary_read(results_db *db, const char *name, sweep_summary *out, gp_error *err);
void sweep_summary_free(sweep_summary *s);

/* What the sweep found, in words, to out: the winner with its objective and whether it
 * meets the constraints at the 95% bound, its margin over the runner-up (paired CI,
 * one-sided p), how many feasible points tie with it and which; or that there is none. */
void sweep_summary_verdict(const sweep_summary *s, FILE *out);

/* The Pareto picture (plot.h) as PREFIX.png/.svg: every point, feasible or not, the front
 * joined, the winner marked. The one drawing of the front. GP_EMISSING when no point has
 * runs. */
int sweep_summary_plot(const sweep_summary *s, const char *prefix, gp_error *err);

#endif
