/* regress.h: the regression gate. The canonical experiments (listed in DIR/canonical.txt:
 * one "PATH [REPLICATIONS]" per line, paths relative to the current directory) are run
 * at their fixed seeds into a temporary database, and each run is paired with the run of
 * the same label and replication in the baseline DIR/NAME.csv (report.h's CSV; wall time
 * zeroed so a rewrite shows only real changes). Per label and metric it prints the
 * baseline mean, the current mean and the paired difference with its 95% interval, and
 * fails (GP_EINVARIANT) when P99, SLO attainment or GPU-hours got worse beyond the
 * replication noise: the paired interval lies wholly on the worse side. A label or
 * replication missing on either side fails too. update = 1 rewrites the baselines. */
#ifndef GP_REGRESS_H
#define GP_REGRESS_H

#include <stdbool.h>
#include <stdio.h>

#include "base/error.h"

typedef struct regress_opts {
    const char *dir;      /* "experiments/baselines" */
    bool update;          /* write the baselines instead of comparing */
    const char *tmp_dir;  /* for the temporary databases (NULL: $TMPDIR or /tmp) */
} regress_opts;

/* Fills *worse with the number of (label, metric) rows that got worse (0 when passing). */
int regress_run(const regress_opts *o, FILE *out, int *worse, gp_error *err);

#endif
