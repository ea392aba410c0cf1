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

typedef struct lab_opts {
    const char *db_path;   /* NULL: the experiment's output.db, else results/NAME.db */
    const char *csv_path;  /* NULL: the experiment's output.csv (none if not given) */
    int replications;      /* 0: the experiment's */
    long seed;             /* < 0: the experiment's */
    int record_requests;   /* 1: log every request into the database */
    bool quiet;            /* no table */
    bool progress;         /* a progress bar on stderr */
    volatile sig_atomic_t *stop; /* set by a signal handler: stop between runs */
    FILE *warn;            /* input warnings (e.g. re-sorted trace rows), first run only */
    int jobs;              /* worker processes (<= 1: this one); the database gets the same
                              rows in the same order whatever the number */
} lab_opts;

void lab_opts_default(lab_opts *o);

/* Runs (or resumes) the experiment and prints the table to `out`. */
int lab_run(const experiment *e, const lab_opts *o, FILE *out, gp_error *err);

#endif
