/* sweep.h: parameter sweeps over an experiment, and the winner with its evidence.
 * A sweep file (YAML) names a base experiment and one of its policy entries, the
 * parameters to vary (any dotted path into the experiment: `config.X` for the policy's
 * config, `cluster.max_pods`, `workload.peak_rate_per_s`, `profile` for the GPU profile,
 * and `policy` for which entry of the base runs: "T4, L4 or H100; HPA or KEDA?" is one
 * sweep) as a grid or a Latin
 * hypercube (seeded), the replications, the database and an objective with constraints.
 * Each point is the base experiment with the point's values set on its parsed tree (no
 * YAML written and read again); a value's relative path is relative to the sweep file. A
 * point is an experiment of its own in the results database (named NAME-pNNNN, its
 * identity covering its values);
 * replication r of every point uses seed + r (common random numbers: points are paired).
 * Work is cut into units (point, replication); each unit is one sim_run written in one
 * transaction under its run key, so a killed sweep resumes without repeating or losing a
 * unit. sweep_run_local forks a pool of processes sharing a unit counter; the MPI driver
 * (sweep_mpi.c, gpenlab-mpi) uses the worker calls below with rank 0 as the only writer.
 * The library never prints except to the FILE* it is given; no globals. */
#ifndef GP_SWEEP_H
#define GP_SWEEP_H

#include <signal.h>
#include <stddef.h>
#include <stdio.h>

#include "base/error.h"
#include "lab/experiment.h"
#include "sim/result.h"

typedef struct sweep sweep;

/* Loads and checks the sweep file and its base experiment, and generates the points. */
int sweep_load(const char *path, sweep **out, gp_error *err);
void sweep_free(sweep *sw);

const char *sweep_name(const sweep *sw);
/* The base experiment's warnings (experiment_warn), once for the whole sweep. */
int sweep_warn(const sweep *sw, FILE *warn);
const char *sweep_db_path(const sweep *sw);
/* Overrides from the command line (before running); replications >= 1. */
void sweep_set_db_path(sweep *sw, const char *path);
size_t sweep_n_points(const sweep *sw);
int sweep_replications(const sweep *sw);
size_t sweep_n_units(const sweep *sw); /* points x replications; unit = point * reps + rep */

/* Point i as an experiment: the base experiment with the point's values set on its parsed
 * tree (base/cfg.h's cfg_set; config.X on the point's policy entry), named NAME-pNNNN,
 * with the sweep's seed and replications. Errors name the sweep file, the parameter and
 * the point. The caller frees it (experiment_free). */
int sweep_point_experiment(const sweep *sw, size_t point, experiment **out, gp_error *err);
/* The index of the policy entry point i runs: the `policy` parameter's, else the sweep's. */
int sweep_point_policy(const sweep *sw, size_t point);

/* ---------- workers: one per process ---------- */

typedef struct sweep_worker sweep_worker;

/* with_db: SWEEP_DB_WRITER opens the sweep's database as its writer (the writer lock, see
 * results_db.h); SWEEP_DB_POOL opens it in a process forked by the writer, which holds the
 * lock; SWEEP_DB_NONE: compute only (MPI ranks > 0). */
enum { SWEEP_DB_NONE = 0, SWEEP_DB_WRITER = 1, SWEEP_DB_POOL = 2 };
int sweep_worker_open(const sweep *sw, int with_db, sweep_worker **out, gp_error *err);
void sweep_worker_close(sweep_worker *w);
/* 1 when the unit's run is in the database, 0 when not (needs a database). */
int sweep_unit_done(sweep_worker *w, size_t unit, gp_error *err);
/* Simulates the unit (series when the sweep records them; *series may then be filled). */
int sweep_unit_run(sweep_worker *w, size_t unit, run_summary *sum, run_series *series,
                   gp_error *err);
/* Writes the unit's run (needs a database); series may be NULL. */
int sweep_unit_store(sweep_worker *w, size_t unit, const run_summary *sum, const run_series *series,
                     gp_error *err);

typedef struct sweep_run_stats {
    size_t units, ran, resumed;
} sweep_run_stats;

/* Runs every unit not yet in the database with `jobs` processes (1: in this process).
 * stop: set by a signal handler. With one job the current unit ends and the sweep stops;
 * with a pool, every worker gets SIGTERM and ends at once (its unit in progress is not
 * written), and a worker also ends when this process dies. Either way the units done
 * stay in the database, the call returns GP_EINTERRUPTED and a rerun resumes. */
int sweep_run_local(const sweep *sw, int jobs, volatile sig_atomic_t *stop, sweep_run_stats *st,
                    gp_error *err);

/* ---------- analysis ---------- */

/* The points table, the feasible set, the winner with its paired comparisons, and the
 * Pareto front (cost against P99), printed to `out`. csv_path (may be NULL): one row per
 * point with every metric's mean and half-width. plot_prefix (may be NULL): the Pareto
 * front drawn by gnuplot as PREFIX.png and PREFIX.svg (skipped with a line saying so when
 * gnuplot is missing). Every unit must be in the database (GP_EMISSING otherwise). */
int sweep_report(const sweep *sw, FILE *out, const char *csv_path, const char *plot_prefix,
                 gp_error *err);

#endif
