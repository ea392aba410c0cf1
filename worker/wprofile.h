/* wprofile.h: `gpenlab-worker profile`: measures the worker's own stage (cpu or cuda
 * backend) into a gpenlab-profile (gpu/profiles/FORMAT.md): per-request time over a
 * megapixel grid and face counts (split into one per-image and one per-face stage),
 * jitter samples, eff(n) of n slots in one process, cold phases from this process's start,
 * memory. The profile of the CPU-reference stage is what the simulator needs to predict a
 * live run of CPU workers (the dry run of scripts/live_validate.sh). */
#ifndef GP_WORKER_WPROFILE_H
#define GP_WORKER_WPROFILE_H

int worker_profile_main(int argc, char **argv);

#endif
