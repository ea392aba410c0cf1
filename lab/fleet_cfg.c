/* fleet_cfg.c: cluster.pools, deployments, routing and mixes of an experiment file (see
 * fleet_cfg.h; the model: docs/model.md, "Mixed fleets"). */
#include "lab/fleet_cfg.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/common.h"
#include "base/csv_gzip.h"
#include "base/csv_reader.h"
#include "base/fileio.h"
#include "base/text.h"
#include "lab/experiment.h"

bool fleet_cfg_has_pools(const cfg_node *root)
{
    const cfg_node *c =
        root && cfg_node_kind(root) == CFG_MAP ? cfg_map_get(root, "cluster") : NULL;
    return c && cfg_node_kind(c) == CFG_MAP && cfg_map_get(c, "pools");
}

bool fleet_gpu_labels(const char *card, const char **gke, const char **eks)
{
    /* GKE: cloud.google.com/gke-accelerator; EKS (Karpenter, Auto Mode):
       karpenter.k8s.aws/instance-gpu-name */
    static const struct {
        const char *word, *also, *gke, *eks;
    } cards[] = {
        {"H100", NULL, "nvidia-h100-80gb", "h100"},
        {"H200", NULL, "nvidia-h200-141gb", "h200"},
        {"A100", "80GB", "nvidia-a100-80gb", "a100"},
        {"A100", NULL, "nvidia-tesla-a100", "a100"},
        {"L4", NULL, "nvidia-l4", "l4"},
        {"T4", NULL, "nvidia-tesla-t4", "t4"},
        {"V100", NULL, "nvidia-tesla-v100", "v100"},
    };
    for (size_t i = 0; card && i < sizeof(cards) / sizeof(cards[0]); i++) {
        const char *at = strstr(card, cards[i].word);
        size_t n = strlen(cards[i].word);
        /* a whole word: "L4" is not the end of "GL40S" */
        if (!at || (at > card && at[-1] != ' ') || (at[n] && at[n] != ' '))
            continue;
        if (cards[i].also && !strstr(card, cards[i].also))
            continue;
        *gke = cards[i].gke;
        *eks = cards[i].eks;
        return true;
    }
    return false;
}

/* ------------------------------------------------------------------ preemptions */

static int notices_grow(experiment_pool *xp, int *cap, const cfg_node *at, gp_error *err)
{
    if (xp->n_notices < *cap)
        return 0;
    if (xp->n_notices >= SIM_MAX_PREEMPTIONS)
        return cfg_error(at, err, GP_ELIMIT, "more than %d preemptions", SIM_MAX_PREEMPTIONS);
    int ncap = *cap ? *cap * 2 : 16;
    preemption_notice *n = realloc(xp->notices, (size_t)ncap * sizeof(*n));
    if (!n)
        return gp_error_set(err, GP_ENOMEM, NULL, 0, 0, NULL, "out of memory");
    xp->notices = n;
    *cap = ncap;
    return 0;
}

/* `times:` a list of times from the start ("2h30m"), or {at: TIME, node: K}. */
static int read_times(experiment_pool *xp, const cfg_node *seq, int *cap, gp_error *err)
{
    if (cfg_node_kind(seq) != CFG_SEQ)
        return cfg_error(seq, err, GP_EPARSE,
                         "expected a list of times (\"2h30m\") or "
                         "{at: TIME, node: K}");
    for (size_t i = 0; i < cfg_len(seq); i++) {
        const cfg_node *it = cfg_seq_at(seq, i);
        preemption_notice pn = {.node = -1};
        int rc;
        if (cfg_node_kind(it) == CFG_MAP) {
            static const char *const keys[] = {"at", "node", NULL};
            rc = cfg_check_keys(it, keys, err);
            if (rc == 0)
                rc = cfg_req_duration_us(it, "at", 0, 400 * US_PER_DAY, &pn.t_us, err);
            if (rc >= 0)
                rc = cfg_opt_int(it, "node", 0, 100000, &pn.node, err);
        } else {
            rc = cfg_node_duration_us(it, 0, 400 * US_PER_DAY, &pn.t_us, err);
        }
        if (rc < 0)
            return rc;
        if ((rc = notices_grow(xp, cap, it, err)) < 0)
            return rc;
        xp->notices[xp->n_notices++] = pn;
    }
    return 0;
}

/* `trace:` a CSV with t_s (seconds from the start of the run) and an optional node. */
static int read_trace(experiment_pool *xp, const char *path, const cfg_node *at, int *cap,
                      gp_error *err)
{
    csv_reader *r;
    TRY(csv_open_any(path, &r, err));
    int rc = csv_require_col(r, "t_s", "preemption time column", err);
    int t_col = rc, node_col = csv_col_index(r, "node");
    while (rc >= 0 && (rc = csv_next_row(r, err)) == 1) {
        double t_s, node = -1;
        rc = csv_field_nonneg(r, (size_t)t_col, &t_s, err);
        if (rc >= 0 && node_col >= 0 && csv_field(r, (size_t)node_col)[0] != '\0')
            rc = csv_field_nonneg(r, (size_t)node_col, &node, err);
        if (rc >= 0 && (t_s > 400.0 * 86400 || node > 100000 || node != floor(node)))
            rc = csv_field_error(r, (size_t)(t_s > 400.0 * 86400 ? t_col : node_col), GP_ERANGE,
                                 err, "expected a time within 400 days and a whole node number");
        if (rc >= 0)
            rc = notices_grow(xp, cap, at, err);
        if (rc >= 0)
            xp->notices[xp->n_notices++] =
                (preemption_notice){.t_us = (int64_t)llround(t_s * 1e6), .node = (int)node};
    }
    csv_close(r);
    return rc < 0 ? rc : 0;
}

static int cmp_notice(const void *a, const void *b)
{
    const preemption_notice *x = a, *y = b;
    return x->t_us < y->t_us ? -1 : x->t_us > y->t_us;
}

static int parse_preemption(const experiment *e, const cfg_node *map, pool_cfg *pc,
                            experiment_pool *xp, gp_error *err)
{
    static const char *const keys[] = {"rate_per_node_hour", "notice", "times", "trace", NULL};
    TRY(cfg_check_keys(map, keys, err));
    TRY(cfg_opt_double(map, "rate_per_node_hour", 0, 3600, &pc->preempt_rate_per_node_h, err));
    TRY(cfg_opt_duration_us(map, "notice", 0, US_PER_DAY, &pc->notice_us, err));
    int cap = 0;
    free(xp->notices);
    xp->notices = NULL;
    xp->n_notices = 0;
    const cfg_node *times = cfg_map_get(map, "times");
    if (times)
        TRY(read_times(xp, times, &cap, err));
    const char *trace = NULL;
    TRY(cfg_opt_string(map, "trace", &trace, err));
    if (trace) {
        char path[1024];
        TRY(experiment_resolve_path(e, cfg_map_get(map, "trace"), trace, path, sizeof(path), err));
        snprintf(xp->trace_path, sizeof(xp->trace_path), "%.511s", path);
        TRY(read_trace(xp, path, cfg_map_get(map, "trace"), &cap, err));
    }
    if (xp->n_notices > 1) /* a recorded trace in any order; the same times keep theirs */
        qsort(xp->notices, (size_t)xp->n_notices, sizeof(*xp->notices), cmp_notice);
    return 0;
}

/* ------------------------------------------------------------------ pools */

static int load_pool_profile(experiment *e, const cfg_node *at, const char *rel,
                             experiment_pool *xp, gp_error *err)
{
    TRY(experiment_resolve_path(e, at, rel, xp->profile_path, sizeof(xp->profile_path), err));
    xp->profile = calloc(1, sizeof(*xp->profile));
    if (!xp->profile)
        return gp_error_set(err, GP_ENOMEM, NULL, 0, 0, NULL, "out of memory");
    int rc =
        gp_read_text_file(xp->profile_path, PROFILE_MAX_FILE_BYTES, &xp->profile_text, NULL, err);
    if (rc == 0)
        rc = profile_parse(xp->profile_path, xp->profile_text, xp->profile, err);
    if (rc == GP_EIO || rc == GP_EMISSING) {
        char msg[sizeof(err->msg)];
        snprintf(msg, sizeof(msg), "%s", err->msg);
        return cfg_error(at, err, rc, "GPU profile %s: %s", xp->profile_path, msg);
    }
    return rc;
}

/* The keys of a pool; `over` (a mix's values on top of a pool) leaves out name and
 * profile. Values not given keep what *pc holds. */
static int parse_pool_keys(experiment *e, const cfg_node *map, bool over, pool_cfg *pc,
                           experiment_pool *xp, int *set, gp_error *err)
{
    static const char *const keys[] = {"name",
                                       "profile",
                                       "gpus",
                                       "gpus_max",
                                       "node_provision_delay",
                                       "price_per_gpu_hour",
                                       "image_cache",
                                       "min_pods",
                                       "max_pods",
                                       "route_max_mp",
                                       "capacity",
                                       "preemption",
                                       "accelerator",
                                       "concurrency",
                                       NULL};
    static const char *const over_keys[] = {
        "gpus",        "gpus_max", "node_provision_delay", "price_per_gpu_hour", "image_cache",
        "min_pods",    "max_pods", "route_max_mp",         "capacity",           "preemption",
        "concurrency", NULL};
    static const char *const cache_names[] = {"none", "node", "all", NULL};
    static const char *const capacity_names[] = {"on_demand", "spot", NULL};
    if (cfg_node_kind(map) != CFG_MAP)
        return cfg_error(map, err, GP_EPARSE, "expected a pool: a map of its keys");
    TRY(cfg_check_keys(map, over ? over_keys : keys, err));
    int cache = (int)pc->image_cache, capacity = (int)pc->capacity, rc;
    TRY(rc = cfg_opt_int(map, "gpus", 0, 100000, &pc->gpus, err));
    set[0] |= rc;
    TRY(rc = cfg_opt_int(map, "gpus_max", 0, 100000, &pc->gpus_max, err));
    set[1] |= rc;
    TRY(rc = cfg_opt_int(map, "min_pods", 0, 100000, &pc->min_pods, err));
    set[2] |= rc;
    TRY(rc = cfg_opt_int(map, "max_pods", 0, 100000, &pc->max_pods, err));
    set[3] |= rc;
    TRY(cfg_opt_duration_us(map, "node_provision_delay", 0, US_PER_DAY, &pc->node_provision_us,
                            err));
    TRY(cfg_opt_int(map, "concurrency", 1, 100000, &pc->concurrency, err));
    TRY(cfg_opt_double(map, "price_per_gpu_hour", 0, 1e6, &pc->price_per_gpu_hour, err));
    TRY(cfg_opt_enum(map, "image_cache", cache_names, &cache, err));
    TRY(cfg_opt_double(map, "route_max_mp", 0, 1000, &pc->route_max_mp, err));
    TRY(cfg_opt_enum(map, "capacity", capacity_names, &capacity, err));
    pc->image_cache = (image_cache_mode)cache;
    pc->capacity = (capacity_kind)capacity;
    const cfg_node *pre = cfg_map_get(map, "preemption");
    if (pre) {
        if (cfg_node_kind(pre) != CFG_MAP)
            return cfg_error(pre, err, GP_EPARSE,
                             "expected {rate_per_node_hour, notice, "
                             "times, trace}");
        TRY(parse_preemption(e, pre, pc, xp, err));
        if (pc->capacity != CAPACITY_SPOT)
            return cfg_error(pre, err, GP_EPARSE,
                             "only spot capacity is preempted: add `capacity: spot`");
    }
    if (over)
        return 0;
    const char *name = NULL, *profile = NULL, *acc = NULL;
    TRY(cfg_req_string(map, "name", &name, err));
    if (!name[0] || strlen(name) >= sizeof(pc->name) ||
        strspn(name, "abcdefghijklmnopqrstuvwxyz"
                     "0123456789-") != strlen(name))
        return cfg_error(cfg_map_get(map, "name"), err, GP_EPARSE,
                         "a pool's name is 1 to %zu lower-case letters, digits and '-' (it names "
                         "a Deployment)",
                         sizeof(pc->name) - 1);
    snprintf(pc->name, sizeof(pc->name), "%s", name);
    TRY(cfg_opt_string(map, "accelerator", &acc, err));
    if (acc)
        snprintf(xp->accelerator, sizeof(xp->accelerator), "%s", acc);
    TRY(cfg_opt_string(map, "profile", &profile, err));
    if (profile)
        TRY(load_pool_profile(e, cfg_map_get(map, "profile"), profile, xp, err));
    else if (!e->profile_text || !e->profile_path[0])
        return cfg_error(map, err, GP_EMISSING,
                         "pool %s: no `profile` (and no experiment "
                         "`profile` to take)",
                         name);
    return 0;
}

/* The checks of one pool. */
static int pool_check(const cfg_node *at, const pool_cfg *pc, gp_error *err)
{
    for (int k = 0; k < pc->n_preempt; k++)
        if (pc->preempt[k].node >= pc->gpus_max)
            return cfg_error(at, err, GP_ERANGE,
                             "pool %s: preemption %d names node %d, the pool has %d (nodes "
                             "0 to %d)",
                             pc->name, k, pc->preempt[k].node, pc->gpus_max, pc->gpus_max - 1);
    if (pc->gpus_max < pc->gpus)
        return cfg_error(at, err, GP_ERANGE, "pool %s: gpus_max (%d) is below gpus (%d)", pc->name,
                         pc->gpus_max, pc->gpus);
    if (pc->min_pods > pc->max_pods)
        return cfg_error(at, err, GP_ERANGE, "pool %s: min_pods (%d) is above max_pods (%d)",
                         pc->name, pc->min_pods, pc->max_pods);
    return 0;
}

/* Defaults that follow other keys (set[]: gpus, gpus_max, min_pods, max_pods given;
 * set[4]: on top of a pool, for a mix; set[5]: the pool gave its min_pods): gpus_max
 * follows gpus, max_pods the pool's GPUs x gpu_share, min_pods the pool's own if it gave
 * one, else the cluster's, within max_pods. */
static int pool_defaults(const experiment *e, const cfg_node *at, pool_cfg *pc, const int *set,
                         gp_error *err)
{
    int share = e->cluster.gpu_share > 0 ? e->cluster.gpu_share : 1;
    if (set[0] && !set[1])
        pc->gpus_max = pc->gpus;
    if ((set[0] || set[1]) && !set[3])
        pc->max_pods = pc->gpus_max * share;
    if (!set[2]) /* the cluster's, or the pool's own on top of which a mix is */
        pc->min_pods = set[4] && set[5] ? pc->min_pods : e->cluster.min_pods;
    if (!set[2] && pc->min_pods > pc->max_pods)
        pc->min_pods = pc->max_pods;
    return pool_check(at, pc, err);
}

/* The pools of a cluster: those of the file with a GPU at most, or, for a mix, those it
 * names (with its values on top). cc->pool[k] comes from e->pool[src[k]]. */
static int build_cluster(experiment *e, const cfg_node *pools_node, const cfg_node *mix_pools,
                         cluster_cfg *cc, int *src, gp_error *err)
{
    cc->n_pools = 0;
    int total_max = 0, share = e->cluster.gpu_share > 0 ? e->cluster.gpu_share : 1;
    int64_t slots = 0;
    for (int i = 0; i < e->n_pools; i++) {
        pool_cfg pc = e->pool_tpl[i];
        const cfg_node *over = mix_pools ? cfg_map_get(mix_pools, pc.name) : NULL;
        if (mix_pools && !over)
            continue;
        if (over && cfg_scalar(over)) {
            /* GPUS: that many nodes, fixed; its Deployment up to them */
            int n;
            TRY(cfg_node_int(over, 0, 100000, &n, err));
            pc.gpus = pc.gpus_max = n;
            pc.max_pods = n * share;
            int min = e->pool[i].min_pods_set ? pc.min_pods : e->cluster.min_pods;
            pc.min_pods = min < pc.max_pods ? min : pc.max_pods;
        } else if (over) {
            /* keys on top of the pool's; gpus_max and max_pods follow gpus unless given */
            int set[6] = {0, 0, 0, 0, 1, e->pool[i].min_pods_set};
            experiment_pool scratch = {0};
            int rc = parse_pool_keys(e, over, true, &pc, &scratch, set, err);
            if (rc == 0 && scratch.notices) {
                /* the mix's own recorded preemptions belong to the experiment */
                if (e->n_extra_notices <
                    (int)(sizeof(e->extra_notices) / sizeof(e->extra_notices[0]))) {
                    e->extra_notices[e->n_extra_notices++] = scratch.notices;
                    pc.preempt = scratch.notices;
                    pc.n_preempt = scratch.n_notices;
                } else {
                    free(scratch.notices);
                    rc = cfg_error(over, err, GP_ELIMIT, "too many preemption lists");
                }
            }
            if (rc == 0)
                rc = pool_defaults(e, over, &pc, set, err);
            if (rc < 0)
                return rc;
        }
        if (pc.gpus_max <= 0 || pc.max_pods <= 0)
            continue; /* no GPU: not part of this run */
        src[cc->n_pools] = i;
        cc->pool[cc->n_pools++] = pc;
        total_max += pc.max_pods;
        slots += (int64_t)pc.max_pods * (pc.concurrency > 0 ? pc.concurrency : cc->concurrency);
    }
    const cfg_node *at = mix_pools ? mix_pools : pools_node;
    for (size_t k = 0; mix_pools && k < cfg_len(mix_pools); k++) {
        const char *name = cfg_map_key_at(mix_pools, k);
        bool known = false;
        for (int i = 0; i < e->n_pools; i++)
            known |= strcmp(e->pool_tpl[i].name, name) == 0;
        if (!known)
            return cfg_error(cfg_map_value_at(mix_pools, k), err, GP_EUNKNOWN,
                             "no pool named \"%s\" in cluster.pools", name);
    }
    if (cc->n_pools == 0)
        return cfg_error(at, err, GP_ERANGE, "no pool has a GPU (every gpus_max is 0)");
    if (slots > EXPERIMENT_MAX_SLOTS)
        return cfg_error(at, err, GP_ERANGE,
                         "the pools' max_pods x concurrency = %lld request slots, more than %d",
                         (long long)slots, EXPERIMENT_MAX_SLOTS);
    if (cc->deployments == DEPLOY_SPREAD && !e->cluster_max_set)
        cc->max_pods = total_max;
    if (cc->min_pods > cc->max_pods)
        cc->min_pods = cc->max_pods;
    return 0;
}

/* ------------------------------------------------------------------ mixes */

static int parse_mixes(experiment *e, const cfg_node *seq, const cfg_node *pools_node,
                       gp_error *err)
{
    if (cfg_node_kind(seq) != CFG_SEQ || cfg_len(seq) == 0)
        return cfg_error(seq, err, GP_EPARSE,
                         "expected a list of mixes {label, pools: "
                         "{NAME: GPUS}}");
    size_t n = cfg_len(seq);
    if (n * (size_t)e->n_policies > EXPERIMENT_MAX_POLICIES)
        return cfg_error(seq, err, GP_ELIMIT,
                         "%zu mixes x %d policies: more than %d runs to "
                         "compare",
                         n, e->n_policies, EXPERIMENT_MAX_POLICIES);
    e->mix = calloc(n, sizeof(*e->mix));
    if (!e->mix)
        return gp_error_set(err, GP_ENOMEM, NULL, 0, 0, NULL, "out of memory");
    e->n_mixes = (int)n;
    for (size_t m = 0; m < n; m++) {
        const cfg_node *it = cfg_seq_at(seq, m);
        static const char *const keys[] = {"label", "pools", "description", NULL};
        const char *label = NULL;
        const cfg_node *pools = NULL;
        TRY(cfg_check_keys(it, keys, err));
        TRY(cfg_req_string(it, "label", &label, err));
        TRY(cfg_req_map(it, "pools", &pools, err));
        experiment_mix *mx = &e->mix[m];
        gp_copy_utf8(mx->label, sizeof(mx->label), label);
        for (size_t k = 0; k < m; k++)
            if (strcmp(e->mix[k].label, mx->label) == 0)
                return cfg_error(cfg_map_get(it, "label"), err, GP_EPARSE,
                                 "mix label \"%s\" used twice", label);
        mx->cluster = e->cluster;
        TRY(build_cluster(e, pools_node, pools, &mx->cluster, mx->pool_src, err));
    }
    /* every mix runs every policy: MIX, or MIX/LABEL */
    policy_entry pol[EXPERIMENT_MAX_POLICIES];
    int np = e->n_policies;
    memcpy(pol, e->policy, sizeof(policy_entry) * (size_t)np);
    e->n_policies = 0;
    for (int m = 0; m < e->n_mixes; m++)
        for (int p = 0; p < np; p++) {
            policy_entry *pe = &e->policy[e->n_policies++];
            *pe = pol[p];
            pe->mix = m;
            if (np == 1)
                snprintf(pe->label, sizeof(pe->label), "%s", e->mix[m].label);
            else
                snprintf(pe->label, sizeof(pe->label), "%.31s/%.31s", e->mix[m].label,
                         pol[p].label);
        }
    return 0;
}

/* ------------------------------------------------------------------ the experiment */

int fleet_cfg_parse(experiment *e, const cfg_node *root, gp_error *err)
{
    for (int i = 0; i < e->n_policies; i++)
        e->policy[i].mix = -1;
    const cfg_node *cl = cfg_map_get(root, "cluster");
    const cfg_node *pools = cl ? cfg_map_get(cl, "pools") : NULL;
    const cfg_node *mixes = cfg_map_get(root, "mixes");
    static const char *const deploy_names[] = {"per_pool", "spread", NULL};
    static const char *const routing_names[] = {"shared_queue", "router", NULL};
    int deploy = 0, routing = 0;
    if (cl) {
        int rc = cfg_opt_enum(cl, "deployments", deploy_names, &deploy, err);
        if (rc == 1 && !pools)
            return cfg_error(cfg_map_get(cl, "deployments"), err, GP_EPARSE,
                             "needs cluster.pools (node pools)");
        TRY(rc);
        rc = cfg_opt_enum(cl, "routing", routing_names, &routing, err);
        if (rc == 1 && !pools)
            return cfg_error(cfg_map_get(cl, "routing"), err, GP_EPARSE,
                             "needs cluster.pools (node pools)");
        TRY(rc);
    }
    if (!pools) {
        if (mixes)
            return cfg_error(mixes, err, GP_EPARSE, "needs cluster.pools (node pools)");
        return 0;
    }
    if (cfg_node_kind(pools) != CFG_SEQ || cfg_len(pools) == 0)
        return cfg_error(pools, err, GP_EPARSE, "expected a list of node pools");
    if (cfg_len(pools) > SIM_MAX_POOLS)
        return cfg_error(pools, err, GP_ELIMIT, "more than %d pools", SIM_MAX_POOLS);
    e->cluster.deployments = (deployment_mode)deploy;
    e->cluster.routing = (routing_mode)routing;
    e->cluster_max_set = cfg_map_get(cl, "max_pods") != NULL;
    for (size_t i = 0; i < cfg_len(pools); i++) {
        const cfg_node *pm = cfg_seq_at(pools, i);
        pool_cfg *pc = &e->pool_tpl[i];
        experiment_pool *xp = &e->pool[i];
        memset(pc, 0, sizeof(*pc));
        /* a pool starts from the cluster's own values */
        pc->price_per_gpu_hour = e->cluster.price_per_gpu_hour;
        pc->image_cache = e->cluster.image_cache;
        pc->node_provision_us = e->cluster.node_provision_us;
        pc->notice_us = 30 * US_PER_S; /* GKE's spot notice (EC2's is 2 min) */
        int set[6] = {0};
        e->n_pools = (int)i + 1;
        TRY(parse_pool_keys(e, pm, false, pc, xp, set, err));
        xp->min_pods_set = set[2];
        for (size_t k = 0; k < i; k++)
            if (strcmp(e->pool_tpl[k].name, pc->name) == 0)
                return cfg_error(cfg_map_get(pm, "name"), err, GP_EPARSE,
                                 "pool name \"%s\" used twice", pc->name);
        if (!set[0] && !set[1])
            return cfg_error(pm, err, GP_EMISSING, "pool %s: give its `gpus` (nodes at start)",
                             pc->name);
        pc->profile = xp->profile ? xp->profile : e->profile;
        pc->preempt = xp->notices;
        pc->n_preempt = xp->n_notices;
        TRY(pool_defaults(e, pm, pc, set, err));
    }
    if (!e->profile) {
        /* no experiment profile: the first pool's card stands for the run's */
        experiment_pool *xp = &e->pool[0];
        snprintf(e->profile_path, sizeof(e->profile_path), "%s", xp->profile_path);
        e->profile = malloc(sizeof(*e->profile));
        if (!e->profile)
            return gp_error_set(err, GP_ENOMEM, NULL, 0, 0, NULL, "out of memory");
        *e->profile = *xp->profile;
    }
    /* the profiles' texts with the experiment's: what identifies the inputs of a run */
    size_t len = 1;
    for (int i = 0; i < e->n_pools; i++)
        len += (e->pool[i].profile_text ? strlen(e->pool[i].profile_text) : 0) + 600;
    char *all = malloc(len + (e->profile_text ? strlen(e->profile_text) : 0));
    if (!all)
        return gp_error_set(err, GP_ENOMEM, NULL, 0, 0, NULL, "out of memory");
    size_t at = (size_t)sprintf(all, "%s", e->profile_text ? e->profile_text : "");
    for (int i = 0; i < e->n_pools; i++)
        if (e->pool[i].profile_text)
            at += (size_t)sprintf(all + at, "\n# pool %s: %.500s\n%s", e->pool_tpl[i].name,
                                  e->pool[i].profile_path, e->pool[i].profile_text);
    free(e->profile_text);
    e->profile_text = all;
    if (mixes) /* the mixes' clusters are the runs' */
        TRY(parse_mixes(e, mixes, pools, err));
    else
        TRY(build_cluster(e, pools, NULL, &e->cluster, e->pool_src, err));
    /* what the simulator refuses of a fleet (the policies one pool only runs), now */
    for (int i = 0; i < e->n_policies; i++) {
        sim_cfg cfg;
        experiment_sim_cfg(e, i, 0, &cfg);
        gp_error sim_err;
        gp_error_clear(&sim_err);
        int rc = sim_check_fleet(&cfg, &sim_err);
        if (rc < 0)
            return cfg_error(cfg_map_get(root, "policies"), err, rc, "%s: %s", e->policy[i].label,
                             sim_err.msg);
    }
    return 0;
}

void fleet_cfg_free(experiment *e)
{
    for (int i = 0; i < SIM_MAX_POOLS; i++) {
        free(e->pool[i].profile);
        free(e->pool[i].profile_text);
        free(e->pool[i].notices);
    }
    for (int i = 0; i < e->n_extra_notices; i++)
        free(e->extra_notices[i]);
    free(e->mix);
}
