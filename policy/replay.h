/* replay.h: what `gpenlab policy replay POLICY METRICS.csv [--config FILE.yaml] [--min N]
 * [--max N]` runs (cli/cmd_policy.c reads the arguments): feeds a recorded sequence of
 * observations to any registered policy and prints its decision at each row with the
 * reason (policy_reason_name + detail); the offline HPA dry run asked for upstream
 * (kubernetes/kubernetes#106765).
 * Input: one CSV row per decision tick. Columns (header row, any order; only t_s required):
 *   t_s, spec_replicas, metrics_valid, latency_samples, gpu_mem_frac, gpu_util_frac, p50_s,
 *   p95_s, p99_s, queue_len, in_flight, arrival_rate, concurrency, pending, starting, ready,
 *   draining, pods   ("pods": "id:state[:mem=F][:util=F][:inflight=N][:conc=N][:nometrics];...")
 * An empty spec_replicas cell takes the count the policy decided at the previous row (clamped
 * to the bounds); empty metric cells are NaN. Lines starting with '#' are comments.
 * The --config file's root node is the policy's `config:` (e.g. a pasted HPA manifest).
 * Output to `out`: a '#' header line, then CSV t_s,spec_replicas,desired,applied,reason,detail.
 * Errors fill err with the file, line, 1-based column of the cell and the column name. */
#ifndef GP_REPLAY_H
#define GP_REPLAY_H

#include <stdio.h>

#include "base/error.h"
#include "policy/policy.h"

typedef struct policy_replay_opts {
    const char *policy;     /* a registered policy's name */
    const char *csv;        /* the observations */
    const char *config;     /* the policy's config (YAML), or NULL */
    int min_pods, max_pods; /* the bounds decisions are clamped to; min <= max */
} policy_replay_opts;

/* No policy, csv or config; bounds [0, 1000]. */
void policy_replay_opts_default(policy_replay_opts *o);

/* Returns 0, or a negative GP_E* code with err filled. */
int policy_replay_run(const policy_replay_opts *o, FILE *out, gp_error *err);

/* The CSV reader itself, for the live driver's dry run (`gpenlab drive --metrics`): the
 * whole file is read and checked first. */
typedef struct replay_data replay_data;
int replay_load(const char *path, replay_data **out, gp_error *err);
void replay_free(replay_data *d);
size_t replay_len(const replay_data *d);
/* Row i as an observation (obs->pod points into d; spec_replicas is the row's, or
 * `previous` when its cell is empty), and the row's line in the file. */
void replay_obs(const replay_data *d, size_t i, int previous, policy_obs *obs, long *line);
/* The count before the first row: its spec_replicas, else its pods that exist. */
int replay_initial(const replay_data *d);

#endif
