/* fleet_report.h: the per-pool results of a mixed fleet, as `gpenlab run` prints them under
 * its comparison table: for every label whose runs have pools, one line per pool (card,
 * capacity, pods, utilisation, GPU-hours, cost, cold starts, preemptions, requests
 * answered, P99 of those) and the fleet's totals beside them, means over the replications
 * given; then one line per label with its cost, P99, share within the SLO, preemptions and
 * timeouts (mean ± 95% CI) and whether it is on the Pareto front of cost against P99.
 * Prints nothing when no run has pools. */
#ifndef GP_FLEET_REPORT_H
#define GP_FLEET_REPORT_H

#include <stddef.h>
#include <stdio.h>

#include "base/error.h"
#include "sim/result.h"

int fleet_report_print(FILE *out, const run_summary *runs, size_t n, gp_error *err);

#endif
