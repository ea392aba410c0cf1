/* experiment.h: an experiment file (YAML) as structs, checked.
 * An experiment names the workload (open loop: a trace, envelope or generator; or a
 * closed loop of users), the GPU profile, the cluster, the metrics pipeline, the
 * policies to compare and the replications, and where results go. Relative paths in
 * the file are resolved against the file's own directory. Unknown keys and
 * out-of-range values are errors naming file:line:col and the key's path.
 * experiment_load owns everything it returns (the YAML tree the policy configs point
 * into, the profile, the texts kept for the results database); experiment_free frees. */
#ifndef GP_EXPERIMENT_H
#define GP_EXPERIMENT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "base/cfg.h"
#include "sim/sim.h"
#include "traces/workload.h"

#define EXPERIMENT_MAX_POLICIES 64
#define EXPERIMENT_MAX_REPLICATIONS 10000
/* A ready pod holds `concurrency` request slots in memory: max_pods x concurrency is
 * bounded so that a typo (100000 x 100000) is an error, not an out-of-memory kill. */
#define EXPERIMENT_MAX_SLOTS 1000000

typedef struct policy_entry {
    char label[64];
    const policy_ops *ops;
    const cfg_node *config; /* may be NULL */
    int mix;                /* its mix of node pools (lab/fleet_cfg.h), -1: none */
} policy_entry;

/* A node pool as the file gives it, beyond what the simulator needs (lab/fleet_cfg.h). */
typedef struct experiment_pool {
    char profile_path[512];  /* "" when the pool takes the experiment's profile */
    gpu_profile *profile;    /* owned; NULL: the experiment's */
    char *profile_text;
    char accelerator[64];    /* export: the GPU type label's value ("": from the card) */
    preemption_notice *notices; /* owned: its recorded preemptions, in time order */
    int n_notices;
    bool min_pods_set;       /* min_pods given (else the cluster's, within max_pods) */
    char trace_path[512];    /* its recorded preemptions' CSV, "" when none */
} experiment_pool;

/* A mix of node pools (`mixes:`): the cluster its entries run on. */
typedef struct experiment_mix {
    char label[64];
    cluster_cfg cluster;
    int pool_src[SIM_MAX_POOLS]; /* cluster.pool[k] is the file's pool[pool_src[k]] */
} experiment_mix;

typedef struct experiment {
    char path[512];
    char dir[512];
    char name[64];
    char description[512];
    cfg_doc *doc;
    char *yaml_text;
    char profile_path[512];
    gpu_profile *profile;
    char *profile_text;
    uint64_t seed;
    int replications;
    cluster_cfg cluster;
    metrics_cfg metrics;
    bool closed_loop;
    closed_loop_cfg closed;
    workload_spec workload; /* open loop */
    int64_t horizon_us;     /* `duration`: 0 = until the workload is served */
    int n_policies;
    policy_entry policy[EXPERIMENT_MAX_POLICIES];
    /* a mixed fleet (lab/fleet_cfg.h): the file's pools, the run's (cluster.pool[k] is
       pool[pool_src[k]]; those without a GPU left out), the mixes */
    int n_pools;
    pool_cfg pool_tpl[SIM_MAX_POOLS];
    experiment_pool pool[SIM_MAX_POOLS];
    int pool_src[SIM_MAX_POOLS];
    bool cluster_max_set;
    int n_mixes;
    experiment_mix *mix;
    preemption_notice *extra_notices[4 * SIM_MAX_POOLS]; /* the mixes' own lists */
    int n_extra_notices;
    char db_path[512];      /* "" = none */
    char csv_path[512];     /* "" = none */
    bool record_series;
    bool record_requests;
    int64_t max_series_rows;  /* output.max_series_rows, 0: SIM_MAX_SERIES_ROWS */
    int64_t max_request_rows; /* output.max_request_rows, 0: SIM_MAX_REQUEST_ROWS */
} experiment;

int experiment_load(const char *path, experiment **out, gp_error *err);
/* The same reader on a text kept elsewhere (a results database keeps the experiment's
 * text and its profile's): `name` names it in errors, relative paths resolve against
 * `dir` ("" or NULL: the working directory), and profile_text, when not NULL, is the
 * profile (its path is then not read). */
int experiment_load_text(const char *name, const char *dir, const char *yaml_text,
                         const char *profile_text, experiment **out, gp_error *err);
void experiment_free(experiment *e);

/* A path from the file, against the file's directory (`where` names it in errors; too
 * long is an error). */
int experiment_resolve_path(const experiment *e, const cfg_node *where, const char *rel,
                            char *out, size_t cap, gp_error *err);

/* The cluster policy entry `pi` runs on (its mix's, else the experiment's), and where
 * each of its pools comes from in the file (*pool_src, may be NULL). */
const cluster_cfg *experiment_cluster(const experiment *e, int pi, const int **pool_src);

/* Fills a sim_cfg for policy entry `pi`, replication `rep` (seed = seed + rep: the
 * same seeds for every policy, so comparisons are paired). */
void experiment_sim_cfg(const experiment *e, int pi, int rep, sim_cfg *out);

/* FNV-1a 64 of the experiment text and the profile text: identifies the inputs of a
 * run in the results database (a rerun of the same inputs resumes). */
uint64_t experiment_inputs_hash(const experiment *e);

/* Writes to `warn` (one line each, "warning: FILE:LINE:COL: FIELD: ...") what the file
 * allows but makes no physical sense: a profile whose throughput eff(n) falls as n grows,
 * and an image class whose every request needs more memory than the card holds next to
 * the model (each would be rejected as too large). Returns the number of warnings. */
int experiment_warn(const experiment *e, FILE *warn);

#endif
