/* winner.h: which candidate wins an objective, and with what evidence. One code path for
 * the sweep's points and for the policies of one experiment (`gpenlab run`).
 * An objective is one run metric to minimise or maximise (run_metrics.h) subject to
 * constraints on others ({metric: slo_pct, min: 99}). A candidate (a sweep point, a policy
 * entry) holds its per-replication values of every metric, replication r of every
 * candidate on the same seed (common random numbers).
 * - feasible: every constraint holds on the mean over replications; surely feasible: it
 *   holds at the 95% bound (mean - half-width for a minimum, + for a maximum).
 * - winner: the best mean objective among the feasible candidates; runner-up: the next.
 * - evidence: the paired difference (other - winner, oriented so that > 0 means the
 *   winner is better) with its 95% interval over the replications, and a one-sided
 *   paired-t p-value of "the winner is better"; ties: feasible candidates whose interval
 *   includes 0.
 * - with no feasible candidate, the closest: the smallest total shortfall, each
 *   constraint's shortfall relative to its bound.
 * Pure functions over caller-owned arrays; nothing here allocates or prints except
 * winner_objective_describe into a buffer. */
#ifndef GP_WINNER_H
#define GP_WINNER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/cfg.h"
#include "base/error.h"
#include "lab/run_metrics.h"
#include "sim/stats.h"

#define WINNER_MAX_CONSTRAINTS 8

typedef struct winner_constraint {
    run_metric_id metric;
    bool is_max; /* metric <= bound, else metric >= bound */
    double bound;
} winner_constraint;

typedef struct winner_objective {
    run_metric_id metric;
    bool maximise;
    int n_constraints;
    winner_constraint con[WINNER_MAX_CONSTRAINTS];
} winner_objective;

typedef struct winner_candidate {
    /* the caller's: values by replication index (NaN where missing), `reps` of each */
    const double *v[RM_COUNT];
    size_t reps;
    /* winner_classify's */
    stat_summary s[RM_COUNT];
    bool feasible, surely;
    double shortfall; /* 0 when feasible; else the relative shortfall summed */
} winner_candidate;

typedef struct winner_result {
    size_t winner;         /* SIZE_MAX when no candidate is feasible */
    size_t runner_up;      /* SIZE_MAX when the winner is the only feasible one */
    stat_summary margin;   /* runner-up against the winner (> 0: the winner better) */
    double p_one_sided;    /* NaN with fewer than 2 pairs */
    bool significant;      /* the margin's interval lies above 0 */
    size_t compared, ties; /* feasible others; those whose interval includes 0 */
    size_t closest;        /* no winner: the candidate nearest to feasible */
} winner_result;

/* The default of an experiment without `objective:`: minimise cost subject to
 * slo_pct >= 99 (99% of requests within the experiment's cluster.slo). */
void winner_objective_default(winner_objective *o);
/* Parses {minimise|maximise: METRIC, constraints: [{metric: M, max|min: X}, ...]};
 * unknown keys and metrics are errors naming the place (and the known metrics). */
int winner_objective_parse(const cfg_node *obj, winner_objective *o, gp_error *err);
/* "minimise cost subject to slo_pct >= 99" */
char *winner_objective_describe(const winner_objective *o, char *buf, size_t cap);

/* Fills c's values from stored runs, by replication index: a run counts when its label is
 * `label` (any when NULL), its replication r is in [0, reps) and its seed is seed0 + r
 * (common random numbers). `vals` is the caller's, RM_COUNT x reps doubles; values not
 * found are NaN. Returns how many replications were found. */
size_t winner_candidate_fill(winner_candidate *c, double *vals, size_t reps, uint64_t seed0,
                             const run_summary *runs, size_t n, const char *label);
/* Summaries, feasibility and shortfall of each candidate. */
void winner_classify(const winner_objective *o, winner_candidate *c, size_t n);
/* The winner and its evidence; classify first. */
void winner_pick(const winner_objective *o, const winner_candidate *c, size_t n, winner_result *r);
/* The paired difference `other` - `win` on the objective, oriented so that > 0 means the
 * winner is better; *p (may be NULL) gets the one-sided paired-t p-value. */
stat_summary winner_paired(const winner_objective *o, const winner_candidate *win,
                           const winner_candidate *other, double *p);
/* True when the paired difference says `other` is not significantly worse than the winner. */
bool winner_tied(const stat_summary *margin);

#endif
