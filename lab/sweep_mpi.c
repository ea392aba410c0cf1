/* sweep_mpi.c: a sweep across machines with MPI (built only into gpenlab-mpi, with
 * mpicc -DGPENLAB_MPI; in the normal build this file is empty).
 * Rank 0 is the only process that opens the database: it lists the units not yet done,
 * hands them out one at a time to the ranks that ask (dynamic balancing), and writes each
 * summary it gets back in its own transaction, so an interrupted sweep resumes as the
 * local one does. Ranks > 0 need the sweep file, the base experiment and the profile at
 * the same paths, not the database (no shared filesystem needed for SQLite). Messages
 * carry run_summary as bytes: every rank must run the same binary on the same
 * architecture. Per-scrape series are not sent (a sweep's series are off by default). */
#ifdef GPENLAB_MPI
#include <mpi.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lab/sweep.h"

int sweep_mpi_run(const sweep *sw, sweep_run_stats *st, int *is_root, gp_error *err);

typedef struct mpi_msg {
    int64_t unit; /* the unit done (-1: none yet), or the unit to do (-1: stop) */
    int32_t rc;   /* 0, or the worker's error code */
    run_summary sum;
    gp_error err;
} mpi_msg;

enum { TAG_RESULT = 1, TAG_WORK = 2 };

static int master(const sweep *sw, int size, sweep_run_stats *st, gp_error *err)
{
    sweep_worker *w = NULL;
    int rc = sweep_worker_open(sw, 1, &w, err);
    size_t n = sweep_n_units(sw), n_pending = 0, next = 0;
    size_t *pending = rc == 0 ? malloc(sizeof(size_t) * (n + 1)) : NULL;
    if (rc == 0 && !pending)
        rc = gp_error_set(err, GP_ENOMEM, NULL, 0, 0, NULL, "out of memory");
    for (size_t u = 0; rc == 0 && u < n; u++) {
        int d = sweep_unit_done(w, u, err);
        if (d < 0)
            rc = d;
        else if (d == 1)
            st->resumed++;
        else
            pending[n_pending++] = u;
    }
    if (size == 1) { /* alone: do the work here */
        for (size_t i = 0; rc == 0 && i < n_pending; i++) {
            run_summary sum;
            rc = sweep_unit_run(w, pending[i], &sum, NULL, err);
            if (rc == 0)
                rc = sweep_unit_store(w, pending[i], &sum, NULL, err);
            st->ran += rc == 0;
        }
    } else {
        int active = size - 1;
        mpi_msg *m = malloc(sizeof(*m));
        if (!m && rc == 0)
            rc = gp_error_set(err, GP_ENOMEM, NULL, 0, 0, NULL, "out of memory");
        while (m && active > 0) {
            MPI_Status status;
            MPI_Recv(m, (int)sizeof(*m), MPI_BYTE, MPI_ANY_SOURCE, TAG_RESULT, MPI_COMM_WORLD,
                     &status);
            if (m->unit >= 0 && m->rc == 0 && rc == 0) {
                rc = sweep_unit_store(w, (size_t)m->unit, &m->sum, NULL, err);
                st->ran += rc == 0;
            } else if (m->unit >= 0 && m->rc < 0 && rc == 0) {
                *err = m->err;
                rc = m->rc;
            }
            int64_t give = -1;
            if (rc == 0 && next < n_pending)
                give = (int64_t)pending[next++];
            if (give < 0)
                active--;
            MPI_Send(&give, 1, MPI_INT64_T, status.MPI_SOURCE, TAG_WORK, MPI_COMM_WORLD);
        }
        free(m);
    }
    free(pending);
    sweep_worker_close(w);
    return rc;
}

static void worker(const sweep *sw)
{
    sweep_worker *w = NULL;
    mpi_msg *m = calloc(1, sizeof(*m));
    if (!m)
        MPI_Abort(MPI_COMM_WORLD, 1);
    m->unit = -1;
    m->rc = sweep_worker_open(sw, 0, &w, &m->err);
    for (;;) {
        MPI_Send(m, (int)sizeof(*m), MPI_BYTE, 0, TAG_RESULT, MPI_COMM_WORLD);
        int64_t unit;
        MPI_Recv(&unit, 1, MPI_INT64_T, 0, TAG_WORK, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
        if (unit < 0)
            break;
        gp_error_clear(&m->err);
        m->unit = unit;
        m->rc = w ? sweep_unit_run(w, (size_t)unit, &m->sum, NULL, &m->err) : m->rc;
    }
    sweep_worker_close(w);
    free(m);
}

/* Runs the sweep over MPI_COMM_WORLD (MPI_Init and MPI_Finalize are done here). Only
 * rank 0 returns with *is_root = 1 and the outcome; the others return 0 when done. */
int sweep_mpi_run(const sweep *sw, sweep_run_stats *st, int *is_root, gp_error *err)
{
    int rank = 0, size = 1;
    MPI_Init(NULL, NULL);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    memset(st, 0, sizeof(*st));
    st->units = sweep_n_units(sw);
    int rc = 0;
    *is_root = rank == 0;
    if (rank == 0)
        rc = master(sw, size, st, err);
    else
        worker(sw);
    MPI_Finalize();
    return rc;
}
#else
/* The normal build: MPI is in gpenlab-mpi only (make gpenlab-mpi). */
typedef int sweep_mpi_not_built;
#endif
