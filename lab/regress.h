/* regress.h: the regression gate. The canonical experiments are listed in
 * DIR/canonical.txt, one per line, with the tolerances of the metrics it gates:
 *   tolerance METRIC AMOUNT[%]          for every experiment listed below the line
 *   PATH [REPLICATIONS] [METRIC=AMOUNT[%] ...]   an experiment (path relative to the
 *                                       current directory) and its own tolerances
 * METRIC is a run metric's name (p99_s, slo_pct, gpu_hours, ...); AMOUNT is in the
 * metric's unit, or with % a share of the baseline mean. Without a tolerance line the
 * gate checks p99_s, slo_pct and gpu_hours with tolerance 0; a tolerance line or entry
 * for another metric gates that one too. '#' starts a comment.
 * Each experiment runs at its fixed seeds into a temporary database, and each run is
 * paired with the run of the same label and replication in the baseline DIR/NAME.csv
 * (report.h's CSV; wall time zeroed so a rewrite shows only real changes). Per label and
 * metric it prints the baseline mean, the current mean and the paired difference with its
 * 95% interval. A gated metric got worse (GP_EINVARIANT from the caller) when that
 * interval lies wholly on the worse side, beyond the tolerance. A label or replication
 * missing on either side is worse too. The summary says the time taken (wall clock and
 * CPU) and names every (experiment, label, metric) that got worse. On request it writes
 * the verdicts as JUnit XML: one test case per (experiment, label, gated metric), a
 * failure for each worse one (written atomically, also when the gate stops on an error).
 * update = 1 rewrites the baselines instead. */
#ifndef GP_REGRESS_H
#define GP_REGRESS_H

#include <stdbool.h>
#include <stdio.h>

#include "base/error.h"

typedef struct regress_opts {
    const char *dir;        /* "experiments/baselines" */
    bool update;            /* write the baselines instead of comparing */
    const char *tmp_dir;    /* for the temporary databases (NULL: $TMPDIR or /tmp) */
    const char *junit_path; /* NULL: no JUnit XML */
} regress_opts;

/* Fills *worse with the number of (label, metric) rows that got worse (0 when passing). */
int regress_run(const regress_opts *o, FILE *out, int *worse, gp_error *err);

#endif
