/* wprofile_procs.h: the part of `gpenlab-worker profile` that needs several worker
 * processes on one device, as the live pods are (one single-slot process each, no MPS):
 *   - cold phases of a single-slot process start (the mean over n sequential starts);
 *   - device memory per process (the increase of the card's used memory per start);
 *   - eff(1..n): n processes serving requests at once (2 MP / 1 face, or a given image mix)
 *     for a window: n x the mean service time alone over the mean service time with n;
 *   - start interference: the speed of the requests served while another process is in its
 *     cold start, over their speed otherwise, with 1..n-1 processes serving.
 * The caller must not have touched the device (the children are forked and each opens its
 * own context). Children that fail or hang are killed; every error names the child and what
 * it reported. */
#ifndef GP_WORKER_WPROFILE_PROCS_H
#define GP_WORKER_WPROFILE_PROCS_H

#include "base/error.h"
#include "worker/stage.h"

#define PROCS_MAX        8
#define PROCS_MAX_PHASES 12

typedef struct procs_result {
    int n;                   /* processes */
    double eff[PROCS_MAX];   /* eff[k-1]: k processes' throughput / one's */
    double mem_per_proc_mib; /* device memory one more process takes */
    int n_phases;
    char phase_name[PROCS_MAX_PHASES][32];
    double phase_ms_mean[PROCS_MAX_PHASES], phase_ms_sd[PROCS_MAX_PHASES];
    double interference;                   /* pooled over the serving counts; 1 = none */
    int interference_in, interference_out; /* requests inside / outside the start windows */
} procs_result;

/* The requests the processes serve: n (mp, faces) pairs taken in turn (each process from
 * its own offset), e.g. a trace's image mix; NULL: every request 2 MP with one face. */
typedef struct procs_mix {
    const double *mp;
    const int *faces;
    int n;
} procs_mix;

/* base: the stage options of every child (slots is forced to 1; phase callbacks are the
 * children's own). reps (>= 1): each eff window lasts reps + 3 seconds. */
int wprofile_measure_processes(const stage_opts *base, const procs_mix *mix, int n, int reps,
                               procs_result *r, gp_error *err);

#endif
