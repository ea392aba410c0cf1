/* lab.h: running an experiment: every policy entry x replication through sim_run,
 * each run written to the results database in its own transaction as soon as it ends
 * (a killed run loses only itself; a rerun skips the runs already there), then the
 * comparison table (means with 95% confidence intervals over replications) and an
 * optional CSV written atomically. Replication r of every policy uses seed + r, so the
 * policies are compared on common random numbers. */
#ifndef GP_LAB_H
#define GP_LAB_H

#include <signal.h>
#include <stdbool.h>
#include <stdio.h>

#include "lab/experiment.h"
#include "lab/winner.h"

typedef struct lab_opts {
    const char *db_path;         /* NULL: the experiment's output.db, else results/NAME.db */
    const char *csv_path;        /* NULL: the experiment's output.csv (none if not given) */
    int replications;            /* 0: the experiment's */
    long seed;                   /* < 0: the experiment's */
    int record_requests;         /* 1: log every request into the database */
    bool quiet;                  /* no table */
    bool progress;               /* a progress bar on stderr */
    volatile sig_atomic_t *stop; /* set by a signal handler: stop between runs */
    FILE *warn;                  /* input warnings (e.g. re-sorted trace rows), first run only */
    int jobs;                    /* processes running the runs (0: one per processor) */
    const char *program;         /* how the user called gpenlab, for the export command printed
                              after the winner (NULL: "gpenlab") */
} lab_opts;

void lab_opts_default(lab_opts *o);

/* Runs (or resumes) the experiment and prints to `out` the comparison table (one line per
 * policy, report.h), the winner of the experiment's objective with its paired 95% interval
 * against the runner-up (winner.h), or "none meets it" and the closest, and the command
 * that exports it. Runs are spread over o->jobs processes (pool.h); with o->progress a
 * line on stderr says which replication of which policy each process simulates, how far
 * in simulated time, and the time left. */
int lab_run(const experiment *e, const lab_opts *o, FILE *out, gp_error *err);

/* Keeps the runs of an invocation (its labels, replications < reps and seeds seed + r)
 * in the experiment's policy order, then by replication, and returns how many: runs
 * written by several processes come back from the database in the order they finished,
 * and every report and baseline must not depend on it. */
size_t lab_sort_runs(const experiment *e, int reps, uint64_t seed, run_summary *runs, size_t n);

/* The winner of an experiment's objective among its policies, from its stored runs
 * (replication r on seed + r): the candidates (one per policy entry, in entry order; their
 * values owned here) and the winner, its paired margin over the runner-up, or the closest
 * (lab/winner.h). lab_run prints it; `gpenlab export --from DB` exports it. */
typedef struct lab_verdict {
    winner_candidate *cand;
    double *vals;
    winner_result r;
    size_t live; /* the winner among the policies with a live form (the one to export):
                    r.winner when it has one; SIZE_MAX when none meets the objective */
} lab_verdict;

int lab_verdict_make(const experiment *e, const run_summary *runs, size_t n, int reps,
                     uint64_t seed, lab_verdict *v, gp_error *err);
void lab_verdict_free(lab_verdict *v);
/* "winner: LABEL, the cheapest policy with 99% of requests within 1 s: cost ..." and the
 * margin over the runner-up; or "winner: none meets it ..." and the closest. */
void lab_verdict_print(FILE *out, const experiment *e, const lab_verdict *v);

#endif
