/* fleet.c: mixed fleets (sim_internal.h; the model: docs/model.md, "Mixed fleets"). The
 * node pools of a run (one without a mixed fleet: the cluster's own fields) and their
 * GPUs, the Deployments (one per pool, or one spread over the pools in their order),
 * memory-aware routing (lanes: a shared queue from which a worker takes the first request
 * its card can hold, or a router in front of one queue per pool), spot preemptions (a
 * notice drains the node's pods; at its end what they hold is taken back, requeued at the
 * head in arrival order) and the per-pool results with their counts checked. A run
 * without a mixed fleet goes through the same structures with one pool, one Deployment and
 * one lane, and none of the per-pool work below. */
#include <math.h>
#include <string.h>

#include "sim/sim_internal.h"

/* ------------------------------------------------------------------ the public helpers */

int sim_deployments(const sim_cfg *cfg)
{
    const cluster_cfg *cc = &cfg->cluster;
    return cc->n_pools > 0 && cc->deployments == DEPLOY_PER_POOL ? cc->n_pools : 1;
}

void sim_deployment_pools(const sim_cfg *cfg, int dep, int *first, int *n)
{
    const cluster_cfg *cc = &cfg->cluster;
    if (cc->n_pools == 0) {
        *first = 0;
        *n = 0;
    } else if (cc->deployments == DEPLOY_PER_POOL) {
        *first = dep;
        *n = 1;
    } else {
        *first = 0;
        *n = cc->n_pools;
    }
}

void sim_deployment_env(const sim_cfg *cfg, int dep, policy_env *env)
{
    const cluster_cfg *cc = &cfg->cluster;
    if (cc->n_pools == 0) {
        sim_policy_env(cfg, env);
        return;
    }
    /* the same estimates on the Deployment's (first) card, within its bounds */
    int first, n;
    sim_deployment_pools(cfg, dep, &first, &n);
    sim_cfg c = *cfg;
    c.profile = cc->pool[first].profile;
    if (cc->deployments == DEPLOY_PER_POOL) {
        c.cluster.min_pods = cc->pool[first].min_pods;
        c.cluster.max_pods = cc->pool[first].max_pods;
    }
    if (cc->pool[first].concurrency > 0)
        c.cluster.concurrency = cc->pool[first].concurrency;
    sim_policy_env(&c, env);
}

int sim_check_fleet(const sim_cfg *cfg, gp_error *err)
{
    const cluster_cfg *cc = &cfg->cluster;
    if (cc->n_pools < 0 || cc->n_pools > SIM_MAX_POOLS)
        return gp_error_set(err, GP_ELIMIT, NULL, 0, 0, "cluster.pools", "%d pools: 1 to %d",
                            cc->n_pools, SIM_MAX_POOLS);
    for (int p = 0; p < cc->n_pools; p++) {
        const pool_cfg *pc = &cc->pool[p];
        char field[64];
        snprintf(field, sizeof(field), "cluster.pools[%d]", p);
        if (!pc->name[0] || !pc->profile)
            return gp_error_set(err, GP_EMISSING, NULL, 0, 0, field,
                                "a pool needs a name and "
                                "a GPU profile");
        for (int q = 0; q < p; q++)
            if (strcmp(cc->pool[q].name, pc->name) == 0)
                return gp_error_set(err, GP_EPARSE, NULL, 0, 0, field,
                                    "pool name \"%s\" used twice", pc->name);
        if (pc->gpus < 0 || pc->gpus_max < pc->gpus || pc->gpus_max < 1)
            return gp_error_set(err, GP_ERANGE, NULL, 0, 0, field,
                                "pool %s: gpus %d, gpus_max %d (0 <= gpus <= gpus_max, "
                                "gpus_max >= 1)",
                                pc->name, pc->gpus, pc->gpus_max);
        if (cc->deployments == DEPLOY_PER_POOL && (pc->min_pods < 0 || pc->min_pods > pc->max_pods))
            return gp_error_set(err, GP_ERANGE, NULL, 0, 0, field,
                                "pool %s: min_pods %d, max_pods %d", pc->name, pc->min_pods,
                                pc->max_pods);
        bool preempts = pc->preempt_rate_per_node_h > 0 || pc->n_preempt > 0;
        if (preempts && pc->capacity != CAPACITY_SPOT)
            return gp_error_set(err, GP_EPARSE, NULL, 0, 0, field,
                                "pool %s is on demand: only spot capacity is preempted", pc->name);
        for (int k = 0; k < pc->n_preempt; k++) {
            const preemption_notice *pn = &pc->preempt[k];
            if (pn->t_us < 0 || (k > 0 && pn->t_us < pc->preempt[k - 1].t_us) ||
                pn->node >= pc->gpus_max || pn->node < -1)
                return gp_error_set(err, GP_ERANGE, NULL, 0, 0, field,
                                    "pool %s: preemption %d (t %lld us, node %d): times must "
                                    "not go back, nodes in [-1, %d)",
                                    pc->name, k, (long long)pn->t_us, pn->node, pc->gpus_max);
        }
    }
    if (cc->n_pools > 1 && cfg->policy && (cfg->policy->traits & POLICY_T_NEEDS_ORACLE))
        return gp_error_set(err, GP_ENOTSUP, NULL, 0, 0, cfg->policy->name,
                            "the clairvoyant bound knows one card's demands: it runs on one "
                            "pool");
    return 0;
}

/* ------------------------------------------------------------------ setup */

static int pipe_init(sim *s, metrics_pipe *m)
{
    return metrics_init(m, &s->cfg->metrics, s->n_gpus) < 0 ? oom(s) : 0;
}

int fleet_setup(sim *s)
{
    const cluster_cfg *cc = &s->cfg->cluster;
    int rc = sim_check_fleet(s->cfg, s->err);
    if (rc < 0)
        return rc;
    s->fleet = cc->n_pools > 0;
    const pool_cfg *pcs = cc->pool;
    if (!s->fleet) {
        /* the cluster's own pool, as every run had before mixed fleets */
        pool_cfg *pc = &s->single_pool;
        snprintf(pc->name, sizeof(pc->name), "default");
        pc->profile = s->cfg->profile;
        pc->gpus = cc->gpus;
        pc->gpus_max = cc->gpus_max > cc->gpus ? cc->gpus_max : cc->gpus;
        pc->node_provision_us = cc->node_provision_us;
        pc->price_per_gpu_hour = cc->price_per_gpu_hour;
        pc->image_cache = cc->image_cache;
        pc->min_pods = cc->min_pods;
        pc->max_pods = cc->max_pods;
        pcs = pc;
    }
    s->n_pools = s->fleet ? (uint32_t)cc->n_pools : 1;
    s->multi = s->n_pools > 1;
    s->pool = calloc(s->n_pools, sizeof(pool_rt));
    if (!s->pool)
        return oom(s);
    s->n_gpus = 0;
    for (uint32_t p = 0; p < s->n_pools; p++)
        s->n_gpus += (uint32_t)(pcs[p].gpus_max > pcs[p].gpus ? pcs[p].gpus_max : pcs[p].gpus);
    s->gpus = calloc(s->n_gpus ? s->n_gpus : 1, sizeof(gpu));
    s->gpu_util = calloc(s->n_gpus ? s->n_gpus : 1, sizeof(double));
    if (!s->gpus || !s->gpu_util)
        return oom(s);
    s->n_deps = (uint32_t)sim_deployments(s->cfg);
    s->dep = calloc(s->n_deps, sizeof(dep_rt));
    if (!s->dep)
        return oom(s);
    uint32_t gi = 0;
    for (uint32_t p = 0; p < s->n_pools; p++) {
        pool_rt *pl = &s->pool[p];
        pl->cfg = &pcs[p];
        pl->prof = pcs[p].profile;
        pl->dep = s->n_deps > 1 ? p : 0;
        pl->gpu_lo = gi;
        int n = pcs[p].gpus_max > pcs[p].gpus ? pcs[p].gpus_max : pcs[p].gpus;
        for (int k = 0; k < n; k++, gi++) {
            gpu *g = &s->gpus[gi];
            g->provisioned = k < pcs[p].gpus;
            g->busy_since_us = -1;
            g->pending_us = INT64_MIN;
            g->has_image = pcs[p].image_cache == IMAGE_CACHE_ALL;
            g->pool = (uint8_t)p;
            g->prof = pl->prof;
        }
        pl->gpu_hi = gi;
        snprintf(pl->res.name, sizeof(pl->res.name), "%s", pcs[p].name);
        snprintf(pl->res.card, sizeof(pl->res.card), "%.47s", pl->prof->card);
        pl->res.spot = pcs[p].capacity == CAPACITY_SPOT;
        if (s->multi && qhist_init(&pl->lat, QHIST_DEFAULT_REL_ERR, NULL) < 0)
            return oom(s);
    }
    s->prof = s->pool[0].prof;
    for (uint32_t d = 0; d < s->n_deps; d++) {
        dep_rt *dp = &s->dep[d];
        dp->pool_lo = s->n_deps > 1 ? d : 0;
        dp->pool_hi = s->n_deps > 1 ? d + 1 : s->n_pools;
        if ((rc = pipe_init(s, &dp->metrics)) < 0)
            return rc;
    }
    s->fm = &s->dep[0].metrics;
    if (s->n_deps > 1) {
        if ((rc = pipe_init(s, &s->fleet_metrics)) < 0)
            return rc;
        s->fm = &s->fleet_metrics;
    }
    /* lanes: one without a mixed fleet; one per pool behind a router; else one per set
       of pools that can hold a request, made as such requests come */
    bool router = s->multi && cc->routing == ROUTING_ROUTER;
    uint32_t cap = !s->multi ? 1 : router ? s->n_pools : SIM_MAX_LANES;
    s->lane = calloc(cap, sizeof(fifo));
    s->lane_mask = calloc(cap, 1);
    if (!s->lane || !s->lane_mask)
        return oom(s);
    for (uint32_t l = 0; l < cap; l++)
        fifo_init(&s->lane[l]);
    for (int m = 0; m < SIM_MAX_LANES; m++)
        s->lane_of_mask[m] = -1;
    s->n_lanes = 1;
    s->lane_mask[0] = 1;
    if (router) {
        s->n_lanes = s->n_pools;
        for (uint32_t p = 0; p < s->n_pools; p++) {
            s->lane_mask[p] = (uint8_t)(1u << p);
            s->pool[p].lane = p;
        }
    } else if (s->multi) {
        s->n_lanes = 0;
    }
    return 0;
}

void fleet_free(sim *s)
{
    for (uint32_t i = 0; s->gpus && i < s->n_gpus; i++)
        free(s->gpus[i].svc);
    free(s->gpus);
    free(s->gpu_util);
    for (uint32_t p = 0; s->pool && s->multi && p < s->n_pools; p++)
        qhist_free(&s->pool[p].lat);
    free(s->pool);
    for (uint32_t d = 0; s->dep && d < s->n_deps; d++)
        metrics_free(&s->dep[d].metrics);
    free(s->dep);
    if (s->fm == &s->fleet_metrics)
        metrics_free(&s->fleet_metrics);
    free(s->lane);
    free(s->lane_mask);
}

/* ------------------------------------------------------------------ placing pods */

uint32_t fleet_gpu_pick(const sim *s, uint32_t d)
{
    const dep_rt *dp = &s->dep[d];
    for (uint32_t p = dp->pool_lo; p < dp->pool_hi; p++) {
        /* within a pool as on one */
        uint32_t best = gpu_pick_in(s, s->pool[p].gpu_lo, s->pool[p].gpu_hi);
        if (best != NONE)
            return best;
    }
    return NONE;
}

int fleet_grow(sim *s, uint32_t d, int waiting)
{
    const dep_rt *dp = &s->dep[d];
    int share = s->cfg->cluster.gpu_share;
    int need = (waiting + share - 1) / share, provisioning = 0;
    for (uint32_t p = dp->pool_lo; p < dp->pool_hi; p++)
        for (uint32_t i = s->pool[p].gpu_lo; i < s->pool[p].gpu_hi; i++)
            provisioning += s->gpus[i].provisioning;
    /* the pools in their order, as the cluster autoscaler's priority expander would */
    for (uint32_t p = dp->pool_lo; p < dp->pool_hi && provisioning < need; p++) {
        const pool_rt *pl = &s->pool[p];
        for (uint32_t i = pl->gpu_lo; i < pl->gpu_hi && provisioning < need; i++) {
            gpu *g = &s->gpus[i];
            if (g->provisioned || g->provisioning || g->reclaiming)
                continue;
            g->provisioning = true;
            provisioning++;
            int rc = schedule(s, now(s) + pl->cfg->node_provision_us, EV_NODE_READY, i, 0);
            if (rc < 0)
                return rc;
        }
    }
    return 0;
}

/* ------------------------------------------------------------------ routing */

void fleet_route(sim *s, float mp, int32_t faces, uint8_t *mask, uint8_t *lane)
{
    unsigned m = 0;
    for (uint32_t p = 0; p < s->n_pools; p++) {
        const gpu_profile *prof = s->pool[p].prof;
        if (prof->model_mem_bytes + profile_req_mem_bytes(prof, mp, faces) <= prof->gpu_mem_bytes)
            m |= 1u << p;
    }
    *mask = (uint8_t)m;
    *lane = 0;
    if (!m)
        return; /* rejected: no card can hold it */
    if (s->cfg->cluster.routing == ROUTING_ROUTER) {
        uint32_t to = (uint32_t)__builtin_ctz(m);
        for (uint32_t p = 0; p < s->n_pools; p++) {
            double lim = s->pool[p].cfg->route_max_mp;
            if (((m >> p) & 1u) && (lim <= 0 || mp <= lim)) {
                to = p;
                break;
            }
        }
        *lane = (uint8_t)s->pool[to].lane;
        return;
    }
    if (s->lane_of_mask[m] < 0) {
        s->lane_of_mask[m] = (int16_t)s->n_lanes;
        s->lane_mask[s->n_lanes] = (uint8_t)m;
        s->n_lanes++;
    }
    *lane = (uint8_t)s->lane_of_mask[m];
}

bool fleet_fits_now(const sim *s, const pod *p, const req *x)
{
    const gpu *g = &s->gpus[p->gpu];
    return ((x->pool_mask >> p->pool) & 1u) &&
           g->mem_used_bytes + profile_req_mem_bytes(g->prof, x->mp, x->faces) <=
               g->prof->gpu_mem_bytes;
}

/* The head, in queue order, of the lanes pool p serves; NONE when they are empty. Lanes
 * set in `skip` are left out. */
static uint32_t first_for_pool(const sim *s, uint32_t p, const bool *skip)
{
    uint32_t best = NONE;
    for (uint32_t l = 0; l < s->n_lanes; l++) {
        if (!s->lane[l].len || (skip && skip[l]) ||
            (p != NONE && !(((unsigned)s->lane_mask[l] >> p) & 1u)))
            continue;
        uint32_t h = s->lane[l].head;
        if (best == NONE || s->reqs[h].qkey < s->reqs[best].qkey)
            best = h;
    }
    return best;
}

int fleet_dispatch_shared(sim *s)
{
    /* the longest-waiting free slot takes the first request its card can hold; if that
       one does not fit the GPU's free memory now, the slot waits at the back (as the
       head does on one pool); stop when every slot has had its turn without work */
    uint32_t misses = 0;
    while (s->waiting > 0 && s->slot_len > 0 && misses < s->slot_len) {
        slot sl = s->slots[s->slot_head];
        s->slot_head = (s->slot_head + 1) % s->slot_cap;
        s->slot_len--;
        const pod *p = &s->pods[sl.pod];
        if (p->state != POD_READY || p->slot_gen != sl.gen)
            continue;
        uint32_t r = first_for_pool(s, p->pool, NULL);
        if (r == NONE || !fleet_fits_now(s, p, &s->reqs[r])) {
            int rc = slot_push(s, sl.pod);
            if (rc < 0)
                return rc;
            misses++;
            continue;
        }
        lane_remove(s, r);
        int rc = start_service(s, r, sl.pod);
        if (rc < 0)
            return rc;
        misses = 0;
    }
    return 0;
}

int fleet_dispatch_least_conn(sim *s)
{
    bool blocked[SIM_MAX_LANES] = {false};
    for (;;) {
        uint32_t r = first_for_pool(s, NONE, blocked);
        if (r == NONE)
            return 0;
        const req *x = &s->reqs[r];
        uint32_t best = NONE, best_conn = UINT32_MAX;
        for (uint32_t i = 0; i < s->n_active; i++) {
            const pod *p = &s->pods[s->active[i]];
            /* its lane's pools: those whose card can hold it, or the one routed to */
            if (p->state != POD_READY || !(((unsigned)s->lane_mask[x->lane] >> p->pool) & 1u))
                continue;
            uint32_t conn = (uint32_t)p->n_svc + p->local.len;
            if (conn < best_conn) {
                best_conn = conn;
                best = s->active[i];
            }
        }
        if (best == NONE) {
            blocked[x->lane] = true; /* its lane waits for a pod */
            continue;
        }
        lane_remove(s, r);
        s->reqs[r].state = RS_POD_QUEUED;
        s->reqs[r].pod = best;
        fifo_push_back(s, &s->pods[best].local, r);
        s->pool[s->pods[best].pool].local_queued++;
        int rc = pod_pull_local(s, best);
        if (rc < 0)
            return rc;
    }
}

/* ------------------------------------------------------------------ preemption */

/* Node k of pool p: the key of its Poisson notices (the pool's name, not its place, so
 * that another pool added to a mix leaves them as they were). */
static uint64_t node_key(const pool_rt *pl, uint32_t k)
{
    uint64_t h = 1469598103934665603ULL;
    for (const unsigned char *c = (const unsigned char *)pl->cfg->name; *c; c++)
        h = (h ^ *c) * 1099511628211ULL;
    return rng_mix64(h) + k;
}

static int schedule_poisson(sim *s, uint32_t gi, uint32_t j, int64_t after_us)
{
    const pool_rt *pl = &s->pool[s->gpus[gi].pool];
    double mean_us = 3600e6 / pl->cfg->preempt_rate_per_node_h;
    double dt =
        rng_keyed_exponential(s->rng.seed, RNG_PREEMPT, node_key(pl, gi - pl->gpu_lo), j, mean_us);
    if (!(dt < 400.0 * 86400e6))
        return 0; /* beyond any run */
    return schedule(s, after_us + (int64_t)llround(dt), EV_PREEMPT, gi, j);
}

int fleet_schedule_preemptions(sim *s)
{
    for (uint32_t p = 0; s->fleet && p < s->n_pools; p++) {
        const pool_rt *pl = &s->pool[p];
        if (pl->cfg->capacity != CAPACITY_SPOT)
            continue;
        for (uint32_t gi = pl->gpu_lo; pl->cfg->preempt_rate_per_node_h > 0 && gi < pl->gpu_hi;
             gi++) {
            int rc = schedule_poisson(s, gi, 0, 0);
            if (rc < 0)
                return rc;
        }
        if (pl->cfg->n_preempt > 0) {
            int rc = schedule(s, pl->cfg->preempt[0].t_us, EV_PREEMPT_LIST, p, 0);
            if (rc < 0)
                return rc;
        }
    }
    return 0;
}

/* A notice for node gi: its pods drain (starting ones stop), to be gone by the end of the
 * notice; their Deployments start replacements elsewhere; the node is taken at the end. */
static int preempt_node(sim *s, uint32_t gi)
{
    gpu *g = &s->gpus[gi];
    if (!g->provisioned || g->reclaiming)
        return 0; /* no node there now */
    pool_rt *pl = &s->pool[g->pool];
    pl->res.preemptions++;
    s->sum->preemptions++;
    if (s->cfg->preempt_log) {
        preemption_row row = {.t_us = now(s), .pool = g->pool, .node = (int32_t)(gi - pl->gpu_lo)};
        if (preemption_log_push(s->cfg->preempt_log, &row) < 0)
            return oom(s);
    }
    g->reclaiming = true;
    int64_t end = now(s) + pl->cfg->notice_us;
    uint32_t on[64];
    uint32_t n = 0;
    for (uint32_t i = 0; i < s->n_active && n < 64; i++)
        if (s->pods[s->active[i]].gpu == gi)
            on[n++] = s->active[i];
    bool touched[SIM_MAX_POOLS] = {false};
    for (uint32_t k = 0; k < n; k++) {
        uint32_t pi = on[k];
        pod *p = &s->pods[pi];
        pl->res.pods_preempted++;
        touched[p->dep] = true;
        int rc = 0;
        if (p->state == POD_STARTING) {
            rc = pod_gone(s, pi);
        } else if (p->state == POD_READY) {
            int64_t grace_end = now(s) + s->cfg->cluster.termination_grace_us;
            rc = pod_start_drain(s, pi, grace_end < end ? grace_end : end);
        } else if (p->state == POD_DRAINING && p->drain_deadline_us > end) {
            p->gen++;
            p->drain_deadline_us = end;
            rc = schedule(s, end, EV_DRAIN_DEADLINE, pi, p->gen);
        }
        if (rc < 0)
            return rc;
    }
    for (uint32_t d = 0; d < s->n_deps; d++) {
        int rc = touched[d] && !per_request(s) ? dep_reconcile(s, d) : 0;
        if (rc < 0)
            return rc;
    }
    g->reclaim_gen++;
    return schedule(s, end, EV_RECLAIM, gi, g->reclaim_gen);
}

int fleet_preempt_event(sim *s, int kind, uint32_t obj, uint32_t gen)
{
    if (kind == EV_PREEMPT) {
        int rc = preempt_node(s, obj);
        return rc < 0 ? rc : schedule_poisson(s, obj, gen + 1, now(s));
    }
    const pool_rt *pl = &s->pool[obj];
    const preemption_notice *pn = &pl->cfg->preempt[gen];
    uint32_t gi = NONE;
    if (pn->node >= 0) {
        gi = pl->gpu_lo + (uint32_t)pn->node;
    } else {
        for (uint32_t i = pl->gpu_lo; i < pl->gpu_hi && gi == NONE; i++)
            if (s->gpus[i].provisioned && !s->gpus[i].reclaiming)
                gi = i;
    }
    int rc = gi != NONE ? preempt_node(s, gi) : 0;
    if (rc == 0 && (int)gen + 1 < pl->cfg->n_preempt)
        rc = schedule(s, pl->cfg->preempt[gen + 1].t_us, EV_PREEMPT_LIST, obj, gen + 1);
    return rc;
}

int fleet_reclaim(sim *s, uint32_t gi, uint32_t gen)
{
    gpu *g = &s->gpus[gi];
    if (!g->reclaiming || gen != g->reclaim_gen)
        return 0;
    /* what its pods still hold is taken back (their deadlines came no later than now) */
    for (uint32_t i = s->n_active; i-- > 0;) {
        uint32_t pi = s->active[i];
        if (s->pods[pi].gpu != gi || s->pods[pi].state != POD_DRAINING)
            continue;
        int rc = pod_drain_deadline(s, pi);
        if (rc < 0)
            return rc;
        if (i > s->n_active)
            i = s->n_active;
    }
    g->reclaiming = false;
    g->provisioned = false;
    g->has_image = s->pool[g->pool].cfg->image_cache == IMAGE_CACHE_ALL;
    return pods_place_pending(s);
}

/* ------------------------------------------------------------------ results */

int fleet_finish(sim *s)
{
    run_summary *sum = s->sum;
    double share = s->cfg->cluster.gpu_share > 0 ? s->cfg->cluster.gpu_share : 1;
    sum->n_pools = (int)s->n_pools;
    sum->cost = 0;
    for (uint32_t p = 0; p < s->n_pools; p++) {
        pool_rt *pl = &s->pool[p];
        pool_result *r = &pl->res;
        double busy_us = 0, billed_us = s->multi ? pl->billed_inst_us : s->billed_inst_us;
        uint64_t in_service = 0;
        for (uint32_t i = pl->gpu_lo; i < pl->gpu_hi; i++) {
            busy_us += s->gpus[i].busy_us;
            in_service += s->gpus[i].n_svc;
        }
        r->gpu_seconds = billed_us / 1e6 / share;
        r->busy_gpu_seconds = busy_us / 1e6;
        r->utilisation = r->gpu_seconds > 0 ? r->busy_gpu_seconds / r->gpu_seconds : 0;
        r->cost = r->gpu_seconds / 3600.0 * pl->cfg->price_per_gpu_hour;
        r->mean_pods = sum->span_us > 0 ? billed_us / (double)sum->span_us : 0;
        if (s->multi) {
            r->lat_p99_s = r->completed ? qhist_quantile(&pl->lat, 0.99) : NAN;
        } else {
            r->lat_p99_s = sum->lat_p99_s;
            r->max_pods_seen = sum->max_pods_seen;
        }
        sum->cost += r->cost;
        if (r->served != r->completed + r->finished_late + r->requeued + r->failed + in_service)
            return gp_error_set(
                s->err, GP_EINVARIANT, NULL, 0, 0, r->name,
                "pool %s: served %llu != completed %llu + finished late %llu + "
                "requeued %llu + failed %llu + in service %llu",
                r->name, (unsigned long long)r->served, (unsigned long long)r->completed,
                (unsigned long long)r->finished_late, (unsigned long long)r->requeued,
                (unsigned long long)r->failed, (unsigned long long)in_service);
        sum->pool[p] = *r;
    }
    return 0;
}
