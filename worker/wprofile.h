/* wprofile.h: `gpenlab-worker profile`: measures the worker's own stage (cpu or cuda
 * backend) into a gpenlab-profile (gpu/profiles/FORMAT.md): per-request time over a
 * megapixel grid and face counts (split into one per-image and one per-face stage),
 * jitter samples, eff(n) of n slots in one process, cold phases from this process's start,
 * memory. The profile of the CPU-reference stage is what the simulator needs to predict a
 * live run of CPU workers (the dry run of scripts/live_validate.sh). */
#ifndef GP_WORKER_WPROFILE_H
#define GP_WORKER_WPROFILE_H

#include "worker/stage.h"
#include "worker/wprofile_procs.h"

typedef struct wprofile_opts {
    const char *out_path;    /* the profile written (required) */
    stage_opts so;           /* backend, cpu stage, pre-warm sizes; slots: eff(1..slots) in
                                this process (1..16) */
    int reps;                /* timed requests per grid point (1..50) */
    int processes;           /* 0, or eff(n), memory and cold phases from this many
                                single-slot processes (1..PROCS_MAX) instead */
    const char *mix_path;    /* with processes: an arrivals CSV whose image mix they serve;
                                NULL: 2 MP, 1-face requests */
    double process_start_ms; /* the caller's process start, a cold phase; 0: none */
} wprofile_opts;

/* slots 4, reps 5, the stage's defaults, no processes */
void wprofile_opts_default(wprofile_opts *o);
/* Measures and writes the profile; progress and errors on stderr. The exit code (0 or 1). */
int worker_profile(const wprofile_opts *o);

#endif
