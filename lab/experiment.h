/* experiment.h: an experiment file (YAML) as structs, checked.
 * An experiment names the workload (open loop: a trace, envelope or generator; or a
 * closed loop of users), the GPU profile, the cluster, the metrics pipeline, the
 * policies to compare and the replications, and where results go. Relative paths in
 * the file are resolved against the file's own directory. Unknown keys and
 * out-of-range values are errors naming file:line:col and the key's path.
 * `objective:` (as a sweep's: lab/winner.h) says which policy wins: by default the
 * cheapest that answers 99% of requests within cluster.slo.
 * experiment_load owns everything it returns (the YAML tree the policy configs point
 * into, the profile, the texts kept for the results database); experiment_free frees. */
#ifndef GP_EXPERIMENT_H
#define GP_EXPERIMENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "base/cfg.h"
#include "lab/results_db.h"
#include "lab/winner.h"
#include "sim/sim.h"
#include "traces/workload.h"

#define EXPERIMENT_MAX_POLICIES     64
#define EXPERIMENT_MAX_REPLICATIONS 10000
/* A ready pod holds `concurrency` request slots in memory: max_pods x concurrency is
 * bounded so that a typo (100000 x 100000) is an error, not an out-of-memory kill. */
#define EXPERIMENT_MAX_SLOTS        1000000

typedef struct policy_entry {
    char label[64];
    const policy_ops *ops;
    const cfg_node *config; /* may be NULL */
    int mix;                /* its mix of node pools (lab/fleet_cfg.h), -1: none */
} policy_entry;

/* A node pool as the file gives it, beyond what the simulator needs (lab/fleet_cfg.h). */
typedef struct experiment_pool {
    char profile_path[512]; /* "" when the pool takes the experiment's profile */
    gpu_profile *profile;   /* owned; NULL: the experiment's */
    char *profile_text;
    char accelerator[64];       /* export: the GPU type label's value ("": from the card) */
    preemption_notice *notices; /* owned: its recorded preemptions, in time order */
    int n_notices;
    bool min_pods_set;    /* min_pods given (else the cluster's, within max_pods) */
    char trace_path[512]; /* its recorded preemptions' CSV, "" when none */
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
    char *yaml_text;    /* the file's text as read */
    char *overlay_text; /* the overlays applied, "path=value" lines ("" when none) */
    char *inputs_text;  /* the other inputs' identity: the trace's bytes and digest,
                               gpenlab's version */
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
    winner_objective objective; /* `objective:`, else minimise cost with slo_pct >= 99 */
    bool objective_given;
    char currency[16];  /* cluster.currency: the unit of price_per_gpu_hour ("USD") */
    char db_path[512];  /* "" = none */
    char csv_path[512]; /* "" = none */
    bool record_series;
    bool record_requests;
    int64_t max_series_rows;  /* output.max_series_rows, 0: SIM_MAX_SERIES_ROWS */
    int64_t max_request_rows; /* output.max_request_rows, 0: SIM_MAX_REQUEST_ROWS */
} experiment;

/* A change on top of the file (`gpenlab run --set PATH=VALUE`, a sweep point): base/cfg.h's
 * cfg_set, applied before the experiment is read, so it is checked as the file is. */
typedef struct experiment_overlay {
    const char *path;     /* "cluster.max_pods", "policies[2].config.pods", "profile" */
    const char *value;    /* YAML: "12", "[1, 2]", "../gpu/profiles/t4-derived" */
    const char *origin;   /* names it in errors ("--set cluster.max_pods=12") */
    const char *base_dir; /* relative paths in value are relative to this (NULL: the
                              experiment file's directory; "." the current directory) */
} experiment_overlay;

int experiment_load(const char *path, experiment **out, gp_error *err);
/* experiment_load with overlays, in order. */
int experiment_load_overlaid(const char *path, const experiment_overlay *ov, size_t n_ov,
                             experiment **out, gp_error *err);
/* The same reader on a text kept elsewhere (a results database keeps the experiment's
 * text, its profile's and its overlays; a sweep makes its points from its base's text: no
 * temporary file, no YAML written and read again): `name` names it in errors, relative
 * paths resolve against `dir` (NULL: the directory of `name`; "": the working
 * directory), and profile_text, when not NULL, is the profile (its path is then not read). */
int experiment_load_text(const char *name, const char *dir, const char *yaml_text,
                         const char *profile_text, const experiment_overlay *ov, size_t n_ov,
                         experiment **out, gp_error *err);
/* The experiment as a results database keeps it (results_db_inputs_of): its text with the
 * overlays it ran with (--set, a sweep point: "path=value" lines) and its profile's text;
 * relative paths resolve against the directory of in->file. `name` names it in errors
 * ("exp.yaml (in results.db)"). */
int experiment_load_stored(const results_db_inputs *in, const char *name, experiment **out,
                           gp_error *err);
void experiment_free(experiment *e);

/* Reads policy entry `only`'s config (every entry's when only < 0) as a run will, so that
 * a bad or unknown key, in the file or set on top of it, is an error before anything runs
 * (experiment_load leaves it to the caller: an export of one entry need not check the
 * others). */
int experiment_check_policies(const experiment *e, int only, gp_error *err);

/* A path written at node `where`, against the directory it is relative to (the file's, or
 * the one an overlay gave); too long is an error naming `where`. */
int experiment_resolve_path(const experiment *e, const cfg_node *where, const char *rel, char *out,
                            size_t cap, gp_error *err);

/* The cluster policy entry `pi` runs on (its mix's, else the experiment's), and where
 * each of its pools comes from in the file (*pool_src, may be NULL). */
const cluster_cfg *experiment_cluster(const experiment *e, int pi, const int **pool_src);

/* Fills a sim_cfg for policy entry `pi`, replication `rep` (seed = seed + rep: the
 * same seeds for every policy, so comparisons are paired). */
void experiment_sim_cfg(const experiment *e, int pi, int rep, sim_cfg *out);

/* FNV-1a 64 of every input: the file's text, the overlays, the profile's text, the
 * trace's content and gpenlab's version. */
uint64_t experiment_inputs_hash(const experiment *e);

/* The experiment's row in the results database, identified by all of its inputs (as
 * experiment_inputs_hash): a rerun resumes only the runs of unchanged inputs; a changed
 * trace, profile, file, overlay or gpenlab version is simulated again. */
int experiment_db_upsert(const experiment *e, results_db *db, int64_t *exp_id, gp_error *err);

/* Writes to `warn` (one line each, "warning: FILE:LINE:COL: FIELD: ...") what the file
 * allows but makes no physical sense: a profile whose throughput eff(n) falls as n grows,
 * and an image class whose every request needs more memory than the card holds next to
 * the model (each would be rejected as too large). Returns the number of warnings. */
int experiment_warn(const experiment *e, FILE *warn);

#endif
