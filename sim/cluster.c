/* cluster.c: the cluster and the pod life cycle of a run (sim_internal.h; the model:
 * docs/model.md, "Pods and their life"). PENDING -> STARTING -> READY -> DRAINING -> GONE:
 * pods are placed on GPUs of the node pool (which may grow), start in phases (keyed by
 * the pod's sequence number: common random numbers), drain gracefully, and are removed in
 * the ReplicaSet controller's order; serverless instances start on demand and are kept
 * for a keep-alive or unloaded and pre-warmed. */
#include <math.h>
#include <string.h>

#include "sim/sim_internal.h"

static int pod_set_state(sim *s, pod *p, pod_state st)
{
    integrate(s);
    bool was_starting = p->state == POD_STARTING, starting = st == POD_STARTING;
    dep_rt *d = &s->dep[p->dep];
    int billed = (int)is_billed(st) - (int)is_billed(p->state);
    s->count[p->state]--;
    d->count[p->state]--;
    s->n_billed += billed;
    if (s->multi && p->gpu != NONE)
        s->pool[p->pool].n_billed += billed;
    p->state = st;
    s->count[st]++;
    d->count[st]++;
    if (was_starting == starting || p->gpu == NONE)
        return 0;
    /* a cold start on a shared GPU begins or ends: its requests change speed */
    gpu *g = &s->gpus[p->gpu];
    if (start_interference(s, g->prof) >= 1.0) {
        g->n_starting += starting ? 1 : -1;
        return 0;
    }
    gpu_advance(s, g);
    g->n_starting += starting ? 1 : -1;
    return gpu_reschedule(s, p->gpu);
}

static int64_t cold_start_us(sim *s, const pod *p, const gpu *g)
{
    unsigned kind = per_request(s) ? PHASE_SERVERLESS : PHASE_POD;
    image_cache_mode cache = s->pool[g->pool].cfg->image_cache;
    bool cached = cache == IMAGE_CACHE_ALL || (cache == IMAGE_CACHE_NODE && g->has_image);
    double total_s = 0;
    const cluster_cfg *cc = &s->cfg->cluster;
    const gpu_profile *prof = g->prof;
    for (int i = 0; i < prof->n_phases + cc->n_extra_phases; i++) {
        const profile_phase *ph =
            i < prof->n_phases ? &prof->phase[i] : &cc->extra_phase[i - prof->n_phases];
        if (!(ph->applies & kind))
            continue;
        if ((ph->applies & PHASE_CACHED_SKIP) && cached)
            continue;
        /* keyed by the pod's sequence number: the k-th pod of every policy starts
           equally fast (common random numbers) */
        double u = rng_keyed_uniform(s->rng.seed, RNG_COLD_START, p->id, 2u * (uint32_t)i);
        double z = rng_keyed_normal(s->rng.seed, RNG_COLD_START, p->id, 2u * (uint32_t)i + 1);
        total_s += dist_sample(&ph->seconds, u, z);
    }
    return (int64_t)llround(total_s * 1e6) + s->cfg->cluster.readiness_delay_us;
}

int pod_create(sim *s, uint32_t d)
{
    if (grow((void **)&s->pods, &s->cap_pods, sizeof(pod), s->n_pods + 1) < 0 ||
        grow((void **)&s->active, &s->cap_active, sizeof(uint32_t), s->n_active + 1) < 0)
        return oom(s);
    uint32_t pi = s->n_pods++;
    pod *p = &s->pods[pi];
    memset(p, 0, sizeof(*p));
    p->id = pi;
    p->state = POD_PENDING;
    p->gpu = NONE;
    p->created_us = now(s);
    p->ready_us = -1;
    p->conc_last_us = now(s);
    p->dep = (uint8_t)d;
    fifo_init(&p->local);
    s->count[POD_PENDING]++;
    s->dep[d].count[POD_PENDING]++;
    s->active[s->n_active++] = pi;
    s->sum->pod_starts++;
    return pods_place_pending(s);
}

uint32_t gpu_pick_in(const sim *s, uint32_t lo, uint32_t hi)
{
    uint32_t best = NONE;
    int best_score = -1;
    for (uint32_t i = lo; i < hi; i++) {
        const gpu *g = &s->gpus[i];
        if (!g->provisioned || g->reclaiming || g->n_inst >= s->cfg->cluster.gpu_share)
            continue;
        int score = g->n_inst * 2 + (g->has_image ? 1 : 0);
        if (score > best_score) {
            best_score = score;
            best = i;
        }
    }
    return best;
}

/* Pod pi goes to GPU gi and starts. */
static int pod_place(sim *s, uint32_t pi, uint32_t gi)
{
    pod *p = &s->pods[pi];
    gpu *g = &s->gpus[gi];
    g->n_inst++;
    p->gpu = gi;
    p->pool = g->pool;
    s->pool[g->pool].res.pod_starts++;
    int rc = pod_set_state(s, p, POD_STARTING);
    if (rc < 0)
        return rc;
    p->gen++;
    return schedule(s, now(s) + cold_start_us(s, p, g), EV_POD_READY, pi, p->gen);
}

/* Many pools or Deployments: each pending pod, in creation order, takes a free GPU of
 * its Deployment's pools (in their order); the pools grow for those left waiting. */
static int pods_place_pending_fleet(sim *s)
{
    int waiting[SIM_MAX_POOLS] = {0};
    for (uint32_t i = 0; i < s->n_active; i++) {
        uint32_t pi = s->active[i];
        if (s->pods[pi].state != POD_PENDING)
            continue;
        uint32_t d = s->pods[pi].dep;
        uint32_t gi = fleet_gpu_pick(s, d);
        if (gi == NONE) {
            waiting[d]++;
            continue;
        }
        int rc = pod_place(s, pi, gi);
        if (rc < 0)
            return rc;
    }
    for (uint32_t d = 0; d < s->n_deps; d++) {
        int rc = waiting[d] ? fleet_grow(s, d, waiting[d]) : 0;
        if (rc < 0)
            return rc;
    }
    return 0;
}

int pods_place_pending(sim *s)
{
    if (s->n_pools > 1 || s->n_deps > 1)
        return pods_place_pending_fleet(s);
    for (uint32_t i = 0; i < s->n_active; i++) {
        uint32_t pi = s->active[i];
        pod *p = &s->pods[pi];
        if (p->state != POD_PENDING)
            continue;
        uint32_t gi = gpu_pick_in(s, 0, s->n_gpus);
        if (gi == NONE) {
            /* grow the pool if allowed: one GPU per waiting pod */
            int provisioning = 0;
            for (uint32_t k = 0; k < s->n_gpus; k++)
                provisioning += s->gpus[k].provisioning;
            int waiting = 0;
            for (uint32_t k = i; k < s->n_active; k++)
                waiting += s->pods[s->active[k]].state == POD_PENDING;
            int need = (waiting + s->cfg->cluster.gpu_share - 1) / s->cfg->cluster.gpu_share;
            for (uint32_t k = 0; k < s->n_gpus && provisioning < need; k++) {
                gpu *g = &s->gpus[k];
                if (!g->provisioned && !g->provisioning) {
                    g->provisioning = true;
                    provisioning++;
                    int rc = schedule(s, now(s) + s->pool[0].cfg->node_provision_us, EV_NODE_READY,
                                      k, 0);
                    if (rc < 0)
                        return rc;
                }
            }
            return 0;
        }
        int rc = pod_place(s, pi, gi);
        if (rc < 0)
            return rc;
    }
    return 0;
}

static void active_remove(sim *s, uint32_t pi)
{
    for (uint32_t i = 0; i < s->n_active; i++)
        if (s->active[i] == pi) {
            memmove(&s->active[i], &s->active[i + 1], (s->n_active - i - 1) * sizeof(uint32_t));
            s->n_active--;
            return;
        }
}

int pod_gone(sim *s, uint32_t pi)
{
    pod *p = &s->pods[pi];
    if (p->gpu != NONE) {
        gpu *g = &s->gpus[p->gpu];
        if (p->state == POD_READY || p->state == POD_DRAINING)
            g->mem_used_bytes -= g->prof->model_mem_bytes;
        g->n_inst--;
    }
    p->gen++;
    p->slot_gen++;
    pod_integrate(s, p);
    int rc = pod_set_state(s, p, POD_GONE);
    if (rc < 0)
        return rc;
    active_remove(s, pi);
    return pods_place_pending(s);
}

int pod_ready(sim *s, uint32_t pi)
{
    pod *p = &s->pods[pi];
    gpu *g = &s->gpus[p->gpu];
    int rc = pod_set_state(s, p, POD_READY);
    if (rc < 0)
        return rc;
    p->ready_us = now(s);
    g->mem_used_bytes += g->prof->model_mem_bytes;
    g->has_image = true;
    for (int k = 0; k < pool_concurrency(s, p->pool); k++) {
        rc = slot_push(s, pi);
        if (rc < 0)
            return rc;
    }
    rc = dispatch(s);
    if (rc == 0 && per_request(s) && p->n_svc == 0)
        rc = schedule(s, now(s) + (s->keep_alive_us >= 0 ? s->keep_alive_us : 0), EV_KEEPALIVE, pi,
                      p->gen);
    return rc;
}

int pod_start_drain(sim *s, uint32_t pi, int64_t deadline_us)
{
    pod *p = &s->pods[pi];
    p->slot_gen++; /* its free slots take no new work */
    int rc = pod_set_state(s, p, POD_DRAINING);
    if (rc < 0)
        return rc;
    if (p->n_svc == 0 && p->local.len == 0)
        return pod_gone(s, pi);
    p->gen++;
    p->drain_deadline_us = deadline_us;
    return schedule(s, deadline_us, EV_DRAIN_DEADLINE, pi, p->gen);
}

/* A request still held by a pod killed at its grace period, under least_conn: failed.
 * gpu_end_us: now if it was in service, -1 if it waited in the pod's queue. */
static int fail_drain_killed(sim *s, uint32_t r, int64_t gpu_end_us)
{
    req *x = &s->reqs[r];
    if (gpu_end_us >= 0)
        s->pool[s->pods[x->pod].pool].res.failed++;
    tlist_remove(s, r);
    s->live_untimed--;
    s->sum->rejected++;
    s->sum->rejected_by[REJECT_DRAIN_KILLED]++;
    int rc = log_request(s, x, now(s), gpu_end_us, OUTCOME_REJECTED);
    if (rc == 0 && x->user != NONE)
        rc = user_request_done(s, x->user, x->id);
    req_free(s, r);
    return rc;
}

/* Grace period over: what is left is requeued at the head of the shared queue, in
 * arrival order (shared-queue mode: the work restarts elsewhere), or failed (least_conn). */
int pod_drain_deadline(sim *s, uint32_t pi)
{
    pod *p = &s->pods[pi];
    gpu *g = &s->gpus[p->gpu];
    bool requeue = s->cfg->cluster.dispatch == DISPATCH_SHARED_QUEUE;
    integrate(s);
    gpu_advance(s, g);
    uint32_t n_before = g->n_svc;
    uint32_t *taken = malloc(sizeof(uint32_t) * (g->n_svc ? g->n_svc : 1));
    uint32_t n_taken = 0;
    if (!taken)
        return oom(s);
    int rc = 0;
    for (uint32_t i = g->n_svc; i-- > 0;) {
        uint32_t r = g->svc[i].r;
        req *x = &s->reqs[r];
        if (x->pod != pi)
            continue;
        g->svc[i] = g->svc[--g->n_svc];
        g->mem_used_bytes -= x->mem_bytes;
        s->in_service_total--;
        pod_integrate(s, p);
        p->n_svc--;
        pool_rt *pl = &s->pool[p->pool];
        if (s->multi)
            pl->in_service--;
        if (x->timed_out) {
            /* its client is gone: nothing to requeue or fail; the GPU stops now */
            pl->res.finished_late++;
            if (rc == 0)
                rc = log_request(s, x, deadline_us(s, x), now(s), OUTCOME_TIMED_OUT);
            req_free(s, r);
        } else {
            taken[n_taken++] = r;
        }
    }
    gpu_busy_update(s, g, n_before);
    /* newest first (insertion sort: at most a pod's concurrency), each pushed to the
       front: the oldest ends at the head */
    for (uint32_t a = 1; a < n_taken; a++)
        for (uint32_t b = a;
             b > 0 && s->reqs[taken[b - 1]].arrival_us < s->reqs[taken[b]].arrival_us; b--) {
            uint32_t t = taken[b];
            taken[b] = taken[b - 1];
            taken[b - 1] = t;
        }
    for (uint32_t k = 0; rc == 0 && k < n_taken; k++) {
        uint32_t r = taken[k];
        req *x = &s->reqs[r];
        if (requeue) {
            x->work = ps_from_double(x->demand_us, true);
            x->state = RS_QUEUED;
            x->pod = NONE;
            x->start_us = -1;
            s->queued_total++;
            lane_push_front(s, r);
            s->sum->requeued++;
            s->pool[p->pool].res.requeued++;
        } else {
            rc = fail_drain_killed(s, r, now(s));
        }
    }
    free(taken);
    while (rc == 0 && p->local.len > 0) {
        uint32_t r = p->local.head;
        fifo_remove(s, &p->local, r);
        s->queued_total--;
        if (s->multi)
            s->pool[p->pool].local_queued--;
        rc = fail_drain_killed(s, r, -1);
    }
    if (rc == 0)
        rc = gpu_reschedule(s, p->gpu);
    if (rc == 0)
        rc = pod_gone(s, pi);
    if (rc == 0)
        rc = dispatch(s);
    return rc;
}

/* Applies a desired count: start pods, or remove the surplus in the order the
 * ReplicaSet controller picks victims: pending, then not ready, then ready pods,
 * newest first within each group; ready pods drain gracefully. */
int dep_reconcile(sim *s, uint32_t d)
{
    dep_rt *dp = &s->dep[d];
    int current = dp->count[POD_PENDING] + dp->count[POD_STARTING] + dp->count[POD_READY];
    for (; current < dp->spec; current++) {
        int rc = pod_create(s, d);
        if (rc < 0)
            return rc;
    }
    return 0;
}

int apply_desired(sim *s, uint32_t d, int desired)
{
    dep_rt *dp = &s->dep[d];
    if (desired < dp->lo_pods)
        desired = dp->lo_pods;
    if (desired > dp->hi_pods)
        desired = dp->hi_pods;
    if (desired != dp->spec)
        s->sum->scale_events++;
    dp->spec = desired;
    if (per_request(s))
        return 0; /* instances follow demand; the count is only a floor (see serverless) */
    int current = dp->count[POD_PENDING] + dp->count[POD_STARTING] + dp->count[POD_READY];
    while (current < desired) {
        int rc = pod_create(s, d);
        if (rc < 0)
            return rc;
        current++;
    }
    static const pod_state victim_order[] = {POD_PENDING, POD_STARTING, POD_READY};
    for (int v = 0; v < 3 && current > desired; v++) {
        for (uint32_t i = s->n_active; i-- > 0 && current > desired;) {
            uint32_t pi = s->active[i];
            if (s->pods[pi].state != victim_order[v] || s->pods[pi].dep != d)
                continue;
            int rc;
            if (victim_order[v] == POD_READY) {
                rc = pod_start_drain(s, pi, now(s) + s->cfg->cluster.termination_grace_us);
            } else {
                rc = pod_gone(s, pi);
            }
            if (rc < 0)
                return rc;
            current--;
            if (i > s->n_active)
                i = s->n_active;
        }
    }
    return 0;
}

/* Serverless: make sure there is an instance (starting or ready) for every waiting
 * request, up to the bound. */
int serverless_demand(sim *s)
{
    int conc = pool_concurrency(s, 0);
    int64_t capacity_coming = (int64_t)(s->count[POD_PENDING] + s->count[POD_STARTING]) * conc;
    int64_t waiting = (int64_t)s->waiting;
    int instances = s->count[POD_PENDING] + s->count[POD_STARTING] + s->count[POD_READY];
    while (waiting > capacity_coming && instances < s->dep[0].hi_pods) {
        int rc = pod_create(s, 0);
        if (rc < 0)
            return rc;
        capacity_coming += conc;
        instances++;
    }
    return 0;
}

/* A serverless instance went idle: keep it for the keep-alive, or (pre-warm policy)
 * unload it now and load a fresh one prewarm_us later, kept for the keep-alive. */
int instance_idle(sim *s, uint32_t pi)
{
    pod *p = &s->pods[pi];
    if (s->prewarm_us > 0) {
        int warm = s->count[POD_READY] + s->count[POD_STARTING];
        if (warm > s->dep[0].spec) {
            int rc = pod_gone(s, pi);
            if (rc == 0)
                rc = schedule(s, now(s) + s->prewarm_us, EV_PREWARM, 0, ++s->prewarm_gen);
            return rc;
        }
    }
    p->gen++;
    int64_t ka = s->keep_alive_us >= 0 ? s->keep_alive_us : 0;
    return schedule(s, now(s) + ka, EV_KEEPALIVE, pi, p->gen);
}

int keepalive_expire(sim *s, uint32_t pi)
{
    pod *p = &s->pods[pi];
    if (p->state != POD_READY || p->n_svc != 0)
        return 0;
    int warm = s->count[POD_READY] + s->count[POD_STARTING];
    if (warm <= s->dep[0].spec) /* the policy's floor of warm instances */
        return 0;
    return pod_gone(s, pi);
}
