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
} policy_entry;

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
