/* pool.h: work units 0..n-1 spread over processes. Each process takes the next unit from
 * a counter in shared memory, asks whether the unit is done already (a rerun resumes) and
 * otherwise runs it; a unit's result is stored in one database transaction, by the worker
 * itself (the sweep) or by the calling process in unit order (`store`: gpenlab run, so
 * that -j N writes what -j 1 writes, in the same order), so a killed pool loses only the
 * units in progress or not yet stored. `gpenlab run` (a unit is one policy x replication)
 * and `gpenlab sweep` (one point x replication) share it.
 * jobs == 1 runs in the calling process; jobs > 1 forks that many workers (a worker opens
 * its own connections in ops->open; the caller may hold a database's writer lock across
 * the fork, its workers then open as results_db_open_worker) and the caller's process
 * waits, calling `draw` about four times a second with what every worker is doing, so a
 * progress line can be drawn from one place. With jobs == 1, `draw` is called from the
 * unit's own progress reports (at most four times a second). A worker's error comes back
 * whole (gp_error). `stop` (set by a signal handler): in-process, the loop ends between
 * units; forked workers get SIGTERM within 0.1 s and end at once (the unit in progress is
 * not written: a rerun does it). A worker dies with its parent (PR_SET_PDEATHSIG). */
#ifndef GP_POOL_H
#define GP_POOL_H

#include <signal.h>
#include <stddef.h>

#include "base/error.h"

#define POOL_MAX_JOBS 64

/* What a worker reports while it runs a unit: call it with the fraction of the unit done. */
typedef struct pool_progress pool_progress;
void pool_progress_report(pool_progress *p, double frac);

typedef struct pool_ops {
    /* per worker process: its state (a database connection, ...); may be NULL */
    int (*open)(void *ctx, void **state, gp_error *err);
    void (*close)(void *state);
    /* 1 when the unit's result exists (resume), 0 when not, < 0 on error */
    int (*done)(void *state, size_t unit, gp_error *err);
    /* runs the unit and stores its result, or (with `store`) leaves it for store */
    int (*run)(void *state, size_t unit, pool_progress *pr, gp_error *err);
    /* Optional: in the calling process, in unit order, once for every unit run (not for
     * a resumed one): stores what run left. Then the database receives the runs in the
     * order one process gives, whatever the workers' order; a unit run but not yet
     * stored when the pool stops is run again by the rerun. */
    int (*store)(void *ctx, size_t unit, gp_error *err);
} pool_ops;

typedef struct pool_view {
    size_t units, ran, resumed; /* so far */
    double elapsed_s;           /* since pool_run began */
    int jobs;
    struct {
        long unit;   /* -1: idle */
        double frac; /* of that unit, 0..1 */
    } slot[POOL_MAX_JOBS];
} pool_view;

typedef void (*pool_draw_fn)(void *ctx, const pool_view *v);

typedef struct pool_stats {
    size_t units, ran, resumed;
} pool_stats;

/* jobs is clamped to [1, POOL_MAX_JOBS] and to n_units. draw may be NULL. */
int pool_run(const pool_ops *ops, void *ctx, size_t n_units, int jobs, volatile sig_atomic_t *stop,
             pool_draw_fn draw, void *draw_ctx, pool_stats *st, gp_error *err);

/* Processors online (at least 1): the default number of jobs. */
int pool_default_jobs(void);

#endif
