/* fleet_cfg.h: the mixed-fleet part of an experiment file (issue 17), read by
 * experiment_load after the rest of the cluster and the policies:
 *   cluster.pools: [{name, profile, gpus, gpus_max, node_provision_delay,
 *                    price_per_gpu_hour, image_cache, min_pods, max_pods, route_max_mp,
 *                    capacity: on_demand | spot,
 *                    preemption: {rate_per_node_hour, notice, times: [...], trace: F.csv},
 *                    accelerator}]
 *   cluster.deployments: per_pool | spread      cluster.routing: shared_queue | router
 *   mixes: [{label, pools: {NAME: GPUS | {pool keys}}}]
 * A pool's profile is read from its file (relative to the experiment); a recorded
 * preemption trace is a CSV with a column t_s (seconds from the start of the run) and an
 * optional column node. Pools with no GPU at most (gpus_max 0) are left out of the run, so
 * a sweep can set a pool's gpus to 0. With `mixes:`, every mix runs every policy: the
 * entries become MIX (one policy) or MIX/LABEL, each with the cluster of its mix (the pools
 * it names, with its values on top of the pool's; the others left out). Errors name the
 * file, line, column and key. experiment_free frees what this adds. */
#ifndef GP_FLEET_CFG_H
#define GP_FLEET_CFG_H

#include "base/cfg.h"
#include "base/error.h"

struct experiment;

/* Reads cluster.pools, cluster.deployments, cluster.routing and mixes (if any). */
int fleet_cfg_parse(struct experiment *e, const cfg_node *root, gp_error *err);
void fleet_cfg_free(struct experiment *e);

/* Whether the experiment's root has cluster.pools (then its top-level `profile` is
 * optional: the first pool's card stands for the run's). */
bool fleet_cfg_has_pools(const cfg_node *root);

/* The GKE and EKS GPU type of a card ("nvidia-tesla-t4", "t4"), from the profile's card
 * name; false when the card is not one they name. */
bool fleet_gpu_labels(const char *card, const char **gke, const char **eks);

#endif
