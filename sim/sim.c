/* sim.c: one simulated run (see sim.h for the contract): the run loop. Sets a run up
 * (GPUs, metrics, the policy and its bounds, the pods present at t = 0), feeds arrivals
 * (open loop: one source event at a time; closed loop: users who think between
 * requests), hands each event to its part (cluster.c: pods; sharing.c: processor
 * sharing; dispatch.c: queues and timeouts), scrapes the metrics and calls the policy,
 * and at the end fills the summary and checks conservation. The shared internals are in
 * sim_internal.h. */
#include "sim/sim.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sim/sim_internal.h"

static int oracle_prepass(const sim_cfg *cfg, double **work_per_s, uint64_t **arr_per_s,
                          int64_t *n_s, gp_error *err);

/* Open loop without timeouts: the run ends when the last arrival has come and every
 * request has been answered (at the trace's span at the earliest). */
static int end_when_resolved(sim *s)
{
    if (s->horizon_set || s->live_untimed > 0)
        return 0;
    int64_t span = arrival_src_span_us(s->src);
    s->horizon_set = true;
    s->horizon_us = span > now(s) ? span : now(s);
    return schedule(s, s->horizon_us, EV_HORIZON, 0, 0);
}

static int fetch_next_arrival(sim *s)
{
    request_spec spec;
    int rc = arrival_src_next(s->src, &spec, s->err);
    if (rc < 0)
        return rc;
    if (rc == 0) {
        s->have_next = false;
        s->source_done = true;
        s->progress_us = now(s);
        if (!has_timeout(s))
            return end_when_resolved(s);
        /* horizon: every admitted request resolves by last arrival + timeout */
        int64_t end = now(s) + s->cfg->cluster.timeout_us + 1;
        int64_t span = arrival_src_span_us(s->src);
        if (span > end)
            end = span;
        if (!s->horizon_set) {
            s->horizon_set = true;
            s->horizon_us = end;
            return schedule(s, end, EV_HORIZON, 0, 0);
        }
        return 0;
    }
    if (spec.arrival_us < now(s))
        return gp_error_set(s->err, GP_EINVARIANT, NULL, 0, 0, NULL,
                            "arrival source went back in time");
    s->next_arrival = spec;
    s->have_next = true;
    return set_timer(s, s->arrival_timer, spec.arrival_us);
}

static int arrival(sim *s)
{
    request_spec spec = s->next_arrival;
    int rc = admit(s, s->next_id++, spec.mp, spec.faces, NONE);
    if (rc == 0)
        rc = fetch_next_arrival(s);
    return rc;
}

/* Closed loop: user u's k-th request has id (u << 32) | k, so its image and demand
 * are the same whatever the policy. */
static int user_send(sim *s, uint32_t u)
{
    uint64_t id = ((uint64_t)u << 32) | s->user_seq[u];
    s->user_seq[u]++;
    float mp;
    int32_t faces;
    image_mix_draw(&s->cfg->closed.mix, s->rng.seed, id, &mp, &faces);
    return admit(s, id, mp, faces, u);
}

int user_request_done(sim *s, uint32_t user, uint64_t id)
{
    double think_us =
        rng_keyed_exponential(s->rng.seed, RNG_THINK, id, 0, (double)s->cfg->closed.think_mean_us);
    int64_t t = now(s) + (int64_t)llround(think_us);
    if (s->horizon_set && t >= s->horizon_us)
        return 0;
    return schedule(s, t, EV_USER_SEND, user, 0);
}

static int users_add(sim *s, int n)
{
    for (int k = 0; k < n; k++) {
        if (grow((void **)&s->user_seq, (uint32_t *)&s->cap_users, sizeof(uint32_t),
                 (uint32_t)s->n_users + 1) < 0)
            return oom(s);
        uint32_t u = (uint32_t)s->n_users++;
        s->user_seq[u] = 0;
        /* users join spread over one think time */
        double off =
            rng_keyed_uniform(s->rng.seed, RNG_THINK, ((uint64_t)u << 32) | 0xffffffffu, 1) *
            (double)s->cfg->closed.think_mean_us;
        int rc = schedule(s, now(s) + (int64_t)off, EV_USER_SEND, u, 0);
        if (rc < 0)
            return rc;
    }
    return 0;
}

static void fill_pod_counts(const sim *s, uint32_t d, policy_obs *o)
{
    const dep_rt *dp = &s->dep[d];
    for (int st = 0; st < POD_STATES; st++)
        o->pods[st] = dp->count[st];
    o->spec_replicas = dp->spec;
    o->min_pods = dp->lo_pods;
    o->max_pods = dp->hi_pods;
    o->now_us = s->eng.now_us;
}

/* One scrape of the pods of Deployment d (every pod: d == NONE) into pipe m; pod_obs
 * values as of now (pod_integrate done). Returns the sample, NULL when out of memory. */
static metrics_sample *scrape_pods(sim *s, metrics_pipe *m, uint32_t d, uint32_t n_pods,
                                   int *billed)
{
    metrics_sample *smp = metrics_begin_sample(m, now(s), n_pods);
    if (!smp)
        return NULL;
    double interval = (double)s->cfg->metrics.scrape_interval_us;
    uint32_t k = 0;
    *billed = 0;
    for (uint32_t i = 0; i < s->n_active; i++) {
        const pod *p = &s->pods[s->active[i]];
        if (d != NONE && p->dep != d)
            continue;
        pod_obs *po = &smp->pods[k++];
        memset(po, 0, sizeof(*po));
        po->pod_id = p->id;
        po->state = p->state;
        po->created_us = p->created_us;
        po->ready_since_us = p->ready_us;
        /* DCGM reports a GPU once a pod holds it; a pending pod has no metrics yet */
        po->has_metrics = p->state != POD_PENDING;
        if (p->gpu != NONE) {
            const gpu *g = &s->gpus[p->gpu];
            po->gpu_mem_frac = g->mem_used_bytes / g->prof->gpu_mem_bytes;
            po->gpu_util_frac = s->gpu_util[p->gpu];
        }
        po->in_flight = p->n_svc;
        po->concurrency = p->conc_integral_us / interval;
        *billed += is_billed(p->state);
    }
    smp->obs.n_pods = (int)k;
    if (*billed > m->max_pods)
        m->max_pods = *billed;
    return smp;
}

/* What Deployment d's policy sees of the queues and the work: the lanes its pools serve
 * (a shared queue: all of them, as LLEN gpen:pending reports) and its pods' own queues;
 * the requests in service on its pools. */
static void dep_load(const sim *s, uint32_t d, double *queue, double *in_service)
{
    const dep_rt *dp = &s->dep[d];
    double q = s->cfg->cluster.routing == ROUTING_ROUTER ? 0 : (double)s->waiting, in = 0;
    for (uint32_t p = dp->pool_lo; p < dp->pool_hi; p++) {
        const pool_rt *pl = &s->pool[p];
        if (s->cfg->cluster.routing == ROUTING_ROUTER)
            q += (double)s->lane[pl->lane].len;
        q += (double)pl->local_queued;
        in += (double)pl->in_service;
    }
    *queue = q;
    *in_service = in;
}

void fleet_integrate(sim *s)
{
    int64_t t = now(s);
    for (uint32_t p = 0; p < s->n_pools; p++) {
        pool_rt *pl = &s->pool[p];
        pl->billed_inst_us += (double)pl->n_billed * (double)(t - pl->bill_last_us);
        pl->bill_last_us = t;
    }
    for (uint32_t d = 0; s->n_deps > 1 && d < s->n_deps; d++) {
        dep_rt *dp = &s->dep[d];
        double q, in;
        dep_load(s, d, &q, &in);
        dp->conc_integral_us += (q + in) * (double)(t - dp->conc_last_us);
        dp->conc_last_us = t;
    }
}

static int scrape(sim *s)
{
    integrate(s);
    double interval = (double)s->cfg->metrics.scrape_interval_us;
    for (uint32_t gi = 0; gi < s->n_gpus; gi++) {
        gpu *g = &s->gpus[gi];
        double busy =
            g->busy_us + (g->busy_since_us >= 0 ? (double)(now(s) - g->busy_since_us) : 0);
        s->gpu_util[gi] = (busy - g->busy_us_at_scrape) / interval;
        g->busy_us_at_scrape = busy;
    }
    for (uint32_t i = 0; i < s->n_active; i++)
        pod_integrate(s, &s->pods[s->active[i]]);
    int billed = 0;
    /* the fleet's sample (the series, the summary): every pod, every queue */
    metrics_sample *smp = scrape_pods(s, s->fm, s->n_deps > 1 ? NONE : 0, s->n_active, &billed);
    if (!smp)
        return oom(s);
    double conc = s->sys_conc_integral_us / interval;
    s->sys_conc_integral_us = 0;
    uint64_t *arrivals = s->n_deps > 1 ? &s->fleet_arrivals : &s->dep[0].arrivals_since_scrape;
    metrics_end_sample(s->fm, smp, (double)s->queued_total, (double)s->in_service_total,
                       (double)*arrivals * 1e6 / interval, conc);
    *arrivals = 0;
    /* each Deployment's own, for its policy */
    for (uint32_t d = 0; s->n_deps > 1 && d < s->n_deps; d++) {
        dep_rt *dp = &s->dep[d];
        int dep_billed;
        uint32_t n = (uint32_t)(dp->count[POD_PENDING] + dp->count[POD_STARTING] +
                                dp->count[POD_READY] + dp->count[POD_DRAINING]);
        metrics_sample *ds = scrape_pods(s, &dp->metrics, d, n, &dep_billed);
        if (!ds)
            return oom(s);
        double q, in;
        dep_load(s, d, &q, &in);
        metrics_end_sample(&dp->metrics, ds, q, in,
                           (double)dp->arrivals_since_scrape * 1e6 / interval,
                           dp->conc_integral_us / interval);
        dp->arrivals_since_scrape = 0;
        dp->conc_integral_us = 0;
    }
    for (uint32_t p = 0; s->multi && p < s->n_pools; p++)
        if (s->pool[p].n_billed > s->pool[p].res.max_pods_seen)
            s->pool[p].res.max_pods_seen = s->pool[p].n_billed;
    for (uint32_t i = 0; i < s->n_active; i++)
        s->pods[s->active[i]].conc_integral_us = 0;
    if (s->series) {
        series_row row;
        memset(&row, 0, sizeof(row));
        const policy_obs *o = &smp->obs;
        row.t_us = now(s);
        row.arrival_rate_per_s = o->metric[OBS_ARRIVAL_RATE];
        row.queue_len = o->metric[OBS_QUEUE_LEN];
        row.in_flight = o->metric[OBS_IN_FLIGHT];
        for (int st = 0; st < 4; st++)
            row.pods[st] = s->count[st];
        for (uint32_t d = 0; d < s->n_deps; d++)
            row.desired += s->dep[d].spec;
        row.gpu_mem_frac = o->metric[OBS_GPU_MEM_FRAC];
        row.gpu_util_frac = o->metric[OBS_GPU_UTIL_FRAC];
        row.lat_p50_s = o->metric[OBS_LATENCY_P50_S];
        row.lat_p95_s = o->metric[OBS_LATENCY_P95_S];
        row.lat_p99_s = o->metric[OBS_LATENCY_P99_S];
        int prc = run_series_push(s->series, &row);
        if (prc < 0)
            return rows_full(s, prc, "series rows", s->series->max_rows, "output.max_series_rows");
    }
    if (s->horizon_set && now(s) + s->cfg->metrics.scrape_interval_us > s->horizon_us)
        return 0;
    if (s->source_done && !has_timeout(s) && !s->horizon_set &&
        now(s) - s->progress_us > SIM_STALL_US) {
        /* no timeout, and nothing has started or completed for that long after the last
           arrival: no pod will take what still waits; the run ends, counting it in flight */
        s->horizon_set = true;
        s->horizon_us = now(s);
        return schedule(s, now(s), EV_HORIZON, 0, 0);
    }
    return schedule(s, now(s) + s->cfg->metrics.scrape_interval_us, EV_SCRAPE, 0, 0);
}

static int apply_decision(sim *s, uint32_t dep, const policy_decision *d)
{
    if (d->keep_alive_us >= 0)
        s->keep_alive_us = d->keep_alive_us;
    if (d->prewarm_us >= 0)
        s->prewarm_us = d->prewarm_us;
    if (d->desired_pods >= 0)
        return apply_desired(s, dep, d->desired_pods);
    return 0;
}

/* The next policy sync: at its nominal time (a whole number of periods, so a drifting
 * wake-up never accumulates), plus the controller's wake-up latency when configured. A live
 * controller is never exactly on time (gpenlab drive: 74 to 199 us late at each 1 s tick of
 * the H200 validation run), so a record exactly one window or period old lies either side
 * of the policy's cutoff (HPA: `t > now - window`); on time, every such tie falls outside. */
static int schedule_sync(sim *s, uint32_t d, int64_t nominal_us)
{
    dep_rt *dp = &s->dep[d];
    int64_t late_us = 0;
    dp->sync_tick++;
    dp->sync_nominal_us = nominal_us;
    if (s->cfg->metrics.sync_jitter_us > 0) {
        /* each Deployment's controller wakes up on its own */
        double u = rng_keyed_uniform(s->rng.seed, RNG_SYNC, dp->sync_tick, d);
        late_us = (int64_t)(u * (double)(s->cfg->metrics.sync_jitter_us + 1));
    }
    return schedule(s, nominal_us + late_us, EV_SYNC, d, 0);
}

static int policy_sync(sim *s, uint32_t dep)
{
    dep_rt *dp = &s->dep[dep];
    policy_obs obs;
    metrics_observe(&dp->metrics, now(s), &obs);
    fill_pod_counts(s, dep, &obs);
    policy_decision d;
    policy_decision_init(&d);
    int rc = s->cfg->policy->decide(dp->pstate, &obs, &d, s->err);
    if (rc < 0)
        return rc;
    rc = apply_decision(s, dep, &d);
    if (rc < 0)
        return rc;
    if (per_request(s)) {
        rc = serverless_demand(s);
        if (rc < 0)
            return rc;
    }
    if (s->horizon_set && dp->sync_nominal_us + dp->pinfo.sync_period_us > s->horizon_us)
        return 0;
    return schedule_sync(s, dep, dp->sync_nominal_us + dp->pinfo.sync_period_us);
}

int policy_on_arrival(sim *s, uint32_t dep)
{
    dep_rt *dp = &s->dep[dep];
    policy_obs obs;
    metrics_observe(&dp->metrics, now(s), &obs);
    fill_pod_counts(s, dep, &obs);
    policy_decision d;
    policy_decision_init(&d);
    int rc = s->cfg->policy->on_arrival(dp->pstate, &obs, &d, s->err);
    if (rc < 0)
        return rc;
    return apply_decision(s, dep, &d);
}

double sim_request_demand_us(const gpu_profile *prof, uint64_t seed, uint64_t id, float mp,
                             int32_t faces)
{
    return request_demand_at_us(prof, profile_locate(prof, mp), seed, id, faces);
}

double request_demand_at_us(const gpu_profile *prof, profile_at at, uint64_t seed, uint64_t id,
                            int32_t faces)
{
    /* only the draw the jitter uses (keyed draws are pure: skipping one changes nothing) */
    double u = 0.5, z = 0;
    if (prof->jitter == JITTER_SAMPLES || prof->jitter == JITTER_EXPONENTIAL)
        u = rng_keyed_uniform(seed, RNG_JITTER, id, 0);
    else if (prof->jitter == JITTER_LOGNORMAL)
        z = rng_keyed_normal(seed, RNG_JITTER, id, 1);
    return profile_demand_us_at(prof, at, faces) * profile_jitter_factor(prof, u, z);
}

typedef struct oracle_data {
    double *work_s;  /* prefix sums of work per second */
    uint64_t *count; /* prefix sums of arrivals per second */
    int64_t n;
} oracle_data;

static double oracle_work(void *ctx, int64_t t0, int64_t t1)
{
    const oracle_data *o = ctx;
    int64_t a = t0 / 1000000, b = t1 / 1000000;
    if (a < 0)
        a = 0;
    if (b > o->n)
        b = o->n;
    return b > a ? o->work_s[b] - o->work_s[a] : 0;
}

static uint64_t oracle_arrivals(void *ctx, int64_t t0, int64_t t1)
{
    const oracle_data *o = ctx;
    int64_t a = t0 / 1000000, b = t1 / 1000000;
    if (a < 0)
        a = 0;
    if (b > o->n)
        b = o->n;
    return b > a ? o->count[b] - o->count[a] : 0;
}

void cluster_cfg_default(cluster_cfg *c)
{
    memset(c, 0, sizeof(*c));
    c->gpus = 8;
    c->gpus_max = 8;
    c->node_provision_us = 0;
    c->min_pods = 1;
    c->max_pods = 8;
    c->concurrency = 1;
    c->dispatch = DISPATCH_SHARED_QUEUE;
    c->timeout_us = 30 * 1000000LL;
    c->termination_grace_us = 30 * 1000000LL;
    c->readiness_delay_us = 0;
    c->image_cache = IMAGE_CACHE_NODE;
    c->gpu_share = 1;
    c->max_queue = 0;
    c->price_per_gpu_hour = 0.35;
    c->slo_us = 5 * 1000000LL;
    c->start_interference = 0; /* the profile's */
}

void metrics_cfg_default(metrics_cfg *m)
{
    m->scrape_interval_us = 15 * 1000000LL;
    m->latency_window_us = 60 * 1000000LL;
    m->delay_us = 0;
    m->sync_jitter_us = 0;
}

/* Mean demand of the workload on an idle GPU, estimated from the image mix. */
static double estimate_mean_demand_s(const sim_cfg *cfg)
{
    if (cfg->mean_demand_s > 0)
        return cfg->mean_demand_s;
    image_mix mix;
    if (cfg->closed_loop)
        mix = cfg->closed.mix;
    else if (cfg->mix)
        mix = *cfg->mix;
    else
        image_mix_default(&mix);
    double sum = 0;
    const int n = 2000;
    for (int i = 0; i < n; i++) {
        float mp;
        int32_t faces;
        image_mix_draw(&mix, cfg->seed ^ 0xabcdefULL, (uint64_t)i, &mp, &faces);
        sum += profile_demand_us(cfg->profile, mp, faces);
    }
    return sum / n / 1e6;
}

static int64_t mean_cold_start_us(const gpu_profile *p, const cluster_cfg *cc, unsigned kind)
{
    double s = 0;
    for (int i = 0; i < p->n_phases; i++)
        if (p->phase[i].applies & kind)
            s += dist_mean(&p->phase[i].seconds);
    for (int i = 0; i < cc->n_extra_phases; i++)
        if (cc->extra_phase[i].applies & kind)
            s += dist_mean(&cc->extra_phase[i].seconds);
    return (int64_t)(s * 1e6);
}

void sim_policy_env(const sim_cfg *cfg, policy_env *env)
{
    const cluster_cfg *cc = &cfg->cluster;
    memset(env, 0, sizeof(*env));
    env->min_pods = cc->min_pods;
    env->max_pods = cc->max_pods;
    env->concurrency = cc->concurrency;
    env->mean_demand_s = estimate_mean_demand_s(cfg);
    env->pod_capacity_per_s = profile_eff(cfg->profile, cc->concurrency) / env->mean_demand_s;
    env->cold_start_us = mean_cold_start_us(cfg->profile, cc, PHASE_POD) + cc->readiness_delay_us;
    env->scrape_interval_us = cfg->metrics.scrape_interval_us;
    env->seed = cfg->seed;
    env->oracle = NULL;
    env->host_ctx = cfg->policy_host_ctx;
}

/* Handles one popped event. Cancelled ones (stale generation, superseded completion) are
 * dropped; s->events counts the rest (completions and timeouts count themselves, only when
 * they resolve a request), so the figure does not depend on how the event set is kept. */
static int sim_dispatch_event(sim *s, const sim_event *ev)
{
    bool counts_itself = ev->kind == EV_COMPLETE || ev->kind == EV_TIMEOUT;
    bool stale = false;
    switch (ev->kind) {
    case EV_COMPLETE: stale = ev->t_us != s->gpus[ev->obj].pending_us; break;
    case EV_POD_READY:
        stale = ev->gen != s->pods[ev->obj].gen || s->pods[ev->obj].state != POD_STARTING;
        break;
    case EV_DRAIN_DEADLINE:
        stale = ev->gen != s->pods[ev->obj].gen || s->pods[ev->obj].state != POD_DRAINING;
        break;
    case EV_KEEPALIVE: stale = ev->gen != s->pods[ev->obj].gen; break;
    default: break;
    }
    if (stale)
        return 0;
    if (!counts_itself)
        s->events++;
    switch (ev->kind) {
    case EV_COMPLETE: s->gpus[ev->obj].pending_us = INT64_MIN; return gpu_complete(s, ev->obj);
    case EV_NODE_READY: {
        gpu *g = &s->gpus[ev->obj];
        g->provisioning = false;
        g->provisioned = true;
        return pods_place_pending(s);
    }
    case EV_POD_READY: return pod_ready(s, ev->obj);
    case EV_DRAIN_DEADLINE: return pod_drain_deadline(s, ev->obj);
    case EV_TIMEOUT: return timeouts_fire(s);
    case EV_ARRIVAL: return arrival(s);
    case EV_USER_SEND: return user_send(s, ev->obj);
    case EV_RAMP: {
        const closed_loop_cfg *c = &s->cfg->closed;
        int add = c->ramp_step;
        if (c->ramp_max > 0 && s->n_users + add > c->ramp_max)
            add = c->ramp_max - s->n_users;
        int rc = users_add(s, add > 0 ? add : 0);
        if (rc == 0 && (c->ramp_max <= 0 || s->n_users < c->ramp_max) &&
            now(s) + c->ramp_every_us < s->horizon_us)
            rc = schedule(s, now(s) + c->ramp_every_us, EV_RAMP, 0, 0);
        return rc;
    }
    case EV_PREWARM: {
        int instances = s->count[POD_PENDING] + s->count[POD_STARTING] + s->count[POD_READY];
        if (instances >= s->dep[0].hi_pods || s->waiting > 0)
            return 0; /* demand already brought instances */
        return pod_create(s, 0);
    }
    case EV_KEEPALIVE: return keepalive_expire(s, ev->obj);
    case EV_SCRAPE: return scrape(s);
    case EV_SYNC: return policy_sync(s, ev->obj);
    case EV_HORIZON: s->stopped = true; return 0;
    case EV_PREEMPT:
    case EV_PREEMPT_LIST: return fleet_preempt_event(s, ev->kind, ev->obj, ev->gen);
    case EV_RECLAIM: return fleet_reclaim(s, ev->obj, ev->gen);
    default:
        return gp_error_set(s->err, GP_EINVARIANT, NULL, 0, 0, NULL, "unknown event kind %d",
                            ev->kind);
    }
}

/* End of the run: rows for the requests still held. One that timed out in service has its
 * client's end but no GPU end; the others are in flight (no end). */
static int log_unresolved(sim *s)
{
    for (uint32_t r = 0; s->log && r < s->n_reqs; r++) {
        const req *x = &s->reqs[r];
        if (x->state == RS_FREE)
            continue;
        int rc = x->timed_out ? log_request(s, x, deadline_us(s, x), -1, OUTCOME_TIMED_OUT)
                              : log_request(s, x, -1, -1, OUTCOME_IN_FLIGHT);
        if (rc < 0)
            return rc;
    }
    return 0;
}

static int sim_setup(sim *s, const sim_cfg *cfg, oracle_data *od, oracle_view *ov)
{
    int rc = engine_init(&s->eng, 1024);
    if (rc < 0)
        return oom(s);
    rc = rng_set_init(&s->rng, cfg->seed);
    if (rc < 0)
        return oom(s);
    s->free_req = NONE;
    s->thead = s->ttail = NONE;
    s->keep_alive_us = -1;
    s->prewarm_us = -1;
    /* the next arrival is the engine's timer, not a heap event per request */
    if (engine_timer_add(&s->eng, EV_ARRIVAL, sim_ev_prio[EV_ARRIVAL], 0, &s->arrival_timer) < 0)
        return oom(s);
    rc = fleet_setup(s);
    if (rc < 0)
        return rc;
    for (uint32_t d = 0; d < s->n_deps; d++) {
        dep_rt *dp = &s->dep[d];
        sim_deployment_env(cfg, (int)d, &dp->penv);
        if (ov) {
            ov->ctx = od;
            ov->work_s = oracle_work;
            ov->arrivals = oracle_arrivals;
            ov->end_us = od->n * 1000000;
            dp->penv.oracle = ov;
        }
        dp->pinfo = (policy_info){.sync_period_us = 15 * 1000000LL,
                                  .flags = 0,
                                  .initial_pods = -1,
                                  .min_pods = -1,
                                  .max_pods = -1};
        rc = cfg->policy->create(cfg->policy_cfg, &dp->penv, &dp->pstate, &dp->pinfo, s->err);
        if (rc < 0)
            return rc;
        if (dp->pinfo.sync_period_us <= 0)
            return gp_error_set(s->err, GP_ERANGE, NULL, 0, 0, cfg->policy->name,
                                "policy asked for a non-positive sync period");
        if (cfg->metrics.sync_jitter_us >= dp->pinfo.sync_period_us)
            return gp_error_set(s->err, GP_ERANGE, NULL, 0, 0, "metrics.sync_jitter",
                                "sync_jitter (%lld us) is not below the policy's sync period "
                                "(%lld us)",
                                (long long)cfg->metrics.sync_jitter_us,
                                (long long)dp->pinfo.sync_period_us);
        if ((dp->pinfo.flags & POLICY_F_PER_REQUEST) && (s->n_pools > 1 || s->n_deps > 1))
            return gp_error_set(s->err, GP_ENOTSUP, NULL, 0, 0, cfg->policy->name,
                                "per-request instances run on one pool");
        dp->lo_pods = dp->penv.min_pods;
        dp->hi_pods = dp->penv.max_pods;
        if (dp->pinfo.min_pods >= 0 && dp->pinfo.min_pods > dp->lo_pods)
            dp->lo_pods = dp->pinfo.min_pods;
        if (dp->pinfo.max_pods >= 0 && dp->pinfo.max_pods < dp->hi_pods)
            dp->hi_pods = dp->pinfo.max_pods;
        if (dp->lo_pods > dp->hi_pods)
            return gp_error_set(s->err, GP_ERANGE, NULL, 0, 0, cfg->policy->name,
                                "the policy's bounds [%d, %d] do not meet the %s's [%d, %d]",
                                dp->pinfo.min_pods, dp->pinfo.max_pods,
                                s->n_deps > 1 ? "pool" : "cluster", dp->penv.min_pods,
                                dp->penv.max_pods);
    }
    return 0;
}

/* Before the run: the rows it will keep, from its span and its source's expected count.
 * A 10-year horizon or a 1 ms scrape interval is refused here, in a few microseconds,
 * instead of growing memory for hours. */
static int check_rows(sim *s, const sim_cfg *cfg, int64_t max_series, int64_t max_req)
{
    int64_t span = s->horizon_set ? s->horizon_us : s->src ? arrival_src_span_us(s->src) : -1;
    if (!s->horizon_set && span >= 0 && cfg->cluster.timeout_us > 0)
        span += cfg->cluster.timeout_us; /* what arrives last may wait that long */
    if (s->series && span > 0) {
        double rows = (double)span / (double)cfg->metrics.scrape_interval_us + 1;
        if (rows > (double)max_series)
            return gp_error_set(s->err, GP_ELIMIT, NULL, 0, 0, "output.max_series_rows",
                                "%.3g days at a %.3g s scrape interval is about %.0f series rows "
                                "per run (%.1f MiB), more than %lld: set output.series: false, a "
                                "longer metrics.scrape_interval, or raise output.max_series_rows",
                                (double)span / 86400e6,
                                (double)cfg->metrics.scrape_interval_us / 1e6, rows,
                                rows * (double)sizeof(series_row) / 1048576, (long long)max_series);
    }
    double requests = 0;
    if (cfg->closed_loop) {
        int users =
            cfg->closed.ramp_max > cfg->closed.users ? cfg->closed.ramp_max : cfg->closed.users;
        if (cfg->closed.think_mean_us > 0 && span > 0)
            requests = (double)users * (double)span / (double)cfg->closed.think_mean_us;
    } else if (s->src) {
        requests = arrival_src_expected_count(s->src);
    }
    if (s->log && requests > (double)max_req)
        return gp_error_set(s->err, GP_ELIMIT, NULL, 0, 0, "output.max_request_rows",
                            "about %.0f requests per run (%.1f MiB of request rows), more than "
                            "%lld: keep no request rows (output.requests, --requests), a shorter "
                            "workload, or raise output.max_request_rows",
                            requests, requests * (double)sizeof(request_row) / 1048576,
                            (long long)max_req);
    return 0;
}

int sim_run(const sim_cfg *cfg, run_summary *sum, run_series *series, request_log *log,
            gp_error *err)
{
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    memset(sum, 0, sizeof(*sum));
    snprintf(sum->label, sizeof(sum->label), "%s", cfg->label ? cfg->label : cfg->policy->name);
    snprintf(sum->policy, sizeof(sum->policy), "%s", cfg->policy->name);
    sum->replication = cfg->replication;
    sum->seed = cfg->seed;
    sum->slo_s = (double)cfg->cluster.slo_us / 1e6;

    sim *s = calloc(1, sizeof(*s));
    if (!s)
        return gp_error_set(err, GP_ENOMEM, NULL, 0, 0, NULL, "out of memory");
    s->cfg = cfg;
    s->prof = cfg->profile;
    s->err = err;
    s->sum = sum;
    s->series = series;
    s->log = log;
    int64_t max_series = cfg->max_series_rows > 0 ? cfg->max_series_rows : SIM_MAX_SERIES_ROWS;
    int64_t max_req = cfg->max_request_rows > 0 ? cfg->max_request_rows : SIM_MAX_REQUEST_ROWS;
    if (series)
        series->max_rows = (size_t)max_series;
    if (log)
        log->max_rows = (size_t)max_req;

    oracle_data od = {0};
    oracle_view ov;
    int rc = 0;
    bool want_oracle = !cfg->closed_loop && (cfg->policy->traits & POLICY_T_NEEDS_ORACLE);
    if (want_oracle)
        rc = oracle_prepass(cfg, &od.work_s, &od.count, &od.n, err);
    if (rc == 0)
        rc = sim_setup(s, cfg, &od, want_oracle ? &ov : NULL);
    for (uint32_t d = 0; rc == 0 && d < s->n_deps; d++) {
        dep_rt *dp = &s->dep[d];
        int initial = dp->pinfo.initial_pods >= 0 ? dp->pinfo.initial_pods : dp->lo_pods;
        /* pods present at t = 0 are already running: ready, image cached */
        int n0 = initial < dp->lo_pods   ? dp->lo_pods
                 : initial > dp->hi_pods ? dp->hi_pods
                                         : initial;
        dp->spec = n0;
        for (int k = 0; rc == 0 && k < n0; k++) {
            rc = pod_create(s, d);
            if (rc == 0) {
                pod *p = &s->pods[s->n_pods - 1];
                if (p->state == POD_STARTING) {
                    p->gen++; /* cancel its cold start */
                    rc = pod_ready(s, s->n_pods - 1);
                }
            }
        }
    }
    if (rc == 0) {
        sum->pod_starts = 0; /* initial pods are not cold starts */
        for (uint32_t p = 0; p < s->n_pools; p++)
            s->pool[p].res.pod_starts = 0;
    }
    if (rc == 0) {
        if (cfg->closed_loop) {
            s->horizon_set = true;
            s->horizon_us = cfg->horizon_us > 0 ? cfg->horizon_us : cfg->closed.duration_us;
            rc = schedule(s, s->horizon_us, EV_HORIZON, 0, 0);
            if (rc == 0)
                rc = users_add(s, cfg->closed.users);
            if (rc == 0 && cfg->closed.ramp_step > 0 && cfg->closed.ramp_every_us > 0)
                rc = schedule(s, cfg->closed.ramp_every_us, EV_RAMP, 0, 0);
        } else {
            if (cfg->horizon_us > 0) {
                s->horizon_set = true;
                s->horizon_us = cfg->horizon_us;
                rc = schedule(s, s->horizon_us, EV_HORIZON, 0, 0);
            }
            if (rc == 0)
                rc = cfg->open_source(cfg->source_ctx, cfg->seed, &s->src, err);
            if (rc == 0)
                rc = fetch_next_arrival(s);
        }
    }
    if (rc == 0)
        rc = check_rows(s, cfg, max_series, max_req);
    if (rc == 0)
        rc = schedule(s, cfg->metrics.scrape_interval_us, EV_SCRAPE, 0, 0);
    for (uint32_t d = 0; rc == 0 && d < s->n_deps; d++)
        rc = schedule_sync(s, d, s->dep[d].pinfo.sync_period_us);
    if (rc == 0)
        rc = fleet_schedule_preemptions(s);

    int64_t span_hint = s->src ? arrival_src_span_us(s->src) : s->horizon_us;
    uint64_t next_progress = 1u << 16;
    sim_event ev;
    while (rc == 0 && !s->stopped && engine_pop(&s->eng, &ev)) {
        rc = sim_dispatch_event(s, &ev);
        if (rc == 0 && s->source_done && !has_timeout(s))
            rc = end_when_resolved(s);
        if (cfg->progress && s->eng.processed >= next_progress) {
            next_progress += 1u << 16;
            if (span_hint > 0)
                cfg->progress(cfg->progress_ctx, (double)s->eng.now_us / (double)span_hint);
        }
    }
    if (rc == 0)
        rc = log_unresolved(s);
    if (rc == 0) {
        integrate(s);
        for (uint32_t i = 0; i < s->n_gpus; i++) {
            gpu *g = &s->gpus[i];
            if (g->busy_since_us >= 0)
                g->busy_us += (double)(now(s) - g->busy_since_us);
            sum->busy_gpu_seconds += g->busy_us / 1e6;
        }
        sum->span_us = now(s);
        sum->in_flight_end = (uint64_t)s->live_untimed;
        sum->events = s->events;
        double share = cfg->cluster.gpu_share > 0 ? cfg->cluster.gpu_share : 1;
        sum->gpu_seconds = s->billed_inst_us / 1e6 / share;
        sum->utilisation = sum->gpu_seconds > 0 ? sum->busy_gpu_seconds / sum->gpu_seconds : 0;
        sum->cost = sum->gpu_seconds / 3600.0 * s->pool[0].cfg->price_per_gpu_hour;
        sum->mean_pods = sum->span_us > 0 ? s->billed_inst_us / (double)sum->span_us : 0;
        sum->lat_mean_s = sum->completed ? s->lat_sum_s / (double)sum->completed : NAN;
        sum->lat_max_s = sum->completed ? s->lat_max_s : NAN;
        metrics_overall_quantiles(s->fm, &sum->lat_p50_s, &sum->lat_p95_s, &sum->lat_p99_s,
                                  &sum->lat_p999_s, &sum->quantile_rel_error);
        uint64_t resolved = sum->arrived - sum->in_flight_end;
        sum->slo_frac = resolved ? (double)s->slo_met / (double)resolved : NAN;
        sum->max_pods_seen = metrics_max_pods(s->fm);
        if (s->fleet)
            rc = fleet_finish(s); /* per pool; the fleet's cost is their sum */
        if (rc == 0 &&
            sum->arrived != sum->completed + sum->timed_out + sum->rejected + sum->in_flight_end)
            rc = gp_error_set(err, GP_EINVARIANT, NULL, 0, 0, NULL,
                              "conservation violated: arrived %llu != completed %llu + timed out "
                              "%llu + rejected %llu + in flight %llu",
                              (unsigned long long)sum->arrived, (unsigned long long)sum->completed,
                              (unsigned long long)sum->timed_out, (unsigned long long)sum->rejected,
                              (unsigned long long)sum->in_flight_end);
    }
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    sum->wall_s = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;

    for (uint32_t d = 0; s->dep && d < s->n_deps; d++)
        if (s->dep[d].pstate)
            cfg->policy->destroy(s->dep[d].pstate);
    if (s->src)
        arrival_src_free(s->src);
    fleet_free(s);
    free(s->pods);
    free(s->active);
    free(s->reqs);
    free(s->slots);
    free(s->user_seq);
    rng_set_free(&s->rng);
    engine_free(&s->eng);
    free(od.work_s);
    free(od.count);
    free(s);
    return rc;
}

/* The clairvoyant policy's foresight: one pass over the same arrivals, summed per
 * second (prefix sums), with the same keyed jitter the run will draw. */
static int oracle_prepass(const sim_cfg *cfg, double **work_out, uint64_t **count_out,
                          int64_t *n_out, gp_error *err)
{
    arrival_src *src;
    int rc = cfg->open_source(cfg->source_ctx, cfg->seed, &src, err);
    if (rc < 0)
        return rc;
    size_t cap = 86400 + 2, n = 0;
    double *work = calloc(cap, sizeof(double));
    uint64_t *count = calloc(cap, sizeof(uint64_t));
    if (!work || !count) {
        rc = gp_error_set(err, GP_ENOMEM, NULL, 0, 0, NULL, "out of memory");
        goto out;
    }
    request_spec spec;
    uint64_t id = 0;
    while ((rc = arrival_src_next(src, &spec, err)) == 1) {
        size_t sec = (size_t)(spec.arrival_us / 1000000);
        if (sec + 2 > cap) {
            size_t ncap = cap;
            while (sec + 2 > ncap)
                ncap *= 2;
            if (ncap > (size_t)400 * 86400) {
                rc = gp_error_set(err, GP_ELIMIT, NULL, 0, 0, NULL,
                                  "clairvoyant: trace longer than 400 days");
                goto out;
            }
            double *nw = realloc(work, ncap * sizeof(double));
            if (nw)
                work = nw;
            uint64_t *nc = realloc(count, ncap * sizeof(uint64_t));
            if (nc)
                count = nc;
            if (!nw || !nc) {
                rc = gp_error_set(err, GP_ENOMEM, NULL, 0, 0, NULL, "out of memory");
                goto out;
            }
            memset(work + cap, 0, (ncap - cap) * sizeof(double));
            memset(count + cap, 0, (ncap - cap) * sizeof(uint64_t));
            cap = ncap;
        }
        work[sec + 1] +=
            sim_request_demand_us(cfg->profile, cfg->seed, id, spec.mp, spec.faces) / 1e6;
        count[sec + 1]++;
        if (sec + 1 > n)
            n = sec + 1;
        id++;
    }
    if (rc < 0)
        goto out;
    for (size_t i = 1; i <= n; i++) {
        work[i] += work[i - 1];
        count[i] += count[i - 1];
    }
    *work_out = work;
    *count_out = count;
    *n_out = (int64_t)n;
    work = NULL;
    count = NULL;
    rc = 0;
out:
    free(work);
    free(count);
    arrival_src_free(src);
    return rc;
}
