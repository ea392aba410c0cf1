/* sharing.c: processor sharing on the GPUs of a run (sim_internal.h; the model:
 * docs/model.md, "Service" and "Exact rules at one microsecond").
 *
 * With n requests in service on a GPU (from one pod, or from several instances sharing
 * it) each progresses at eff(n)/n (times the profile's share_slowdown when instances of
 * different pods are busy together, and the start interference while a pod starts on
 * it). The arithmetic is integer: work is counted in units of 2^-64 us of work at speed
 * 1 (ps_units, 128 bits), a demand is its double value in those units (exact above
 * 2^-12 us, else rounded up), and each request's speed is floor(g * 2^64 / n) units per
 * us, g the GPU's aggregate speed (a double). Each GPU keeps a virtual time vt (units
 * received so far by every request in service, since the GPU was last idle); a request
 * started at vt0 with work w carries the finish tag vt0 + w and completes at the first
 * whole us at which vt reaches its tag. No drift and no tolerance: equal inputs give the
 * same microsecond on every platform. Whenever n changes, vt is advanced (O(1)) and the
 * GPU's single completion event is rescheduled (SimGrid's next-event/update step with
 * lazy cancellation). */
#include <math.h>
#include <string.h>

#include "sim/sim_internal.h"

/* The GPU's aggregate speed g with its current requests: eff(n), times the start
 * interference while a pod starts on it, times share_slowdown when instances of
 * different pods are busy together (double products, in this order). */
static double gpu_speed(const sim *s, const gpu *g, double eff)
{
    double speed = eff;
    if (g->n_starting > 0)
        speed *= start_interference(s, g->prof);
    if (g->n_inst > 1 && g->prof->share_slowdown < 1.0) {
        /* co-located instances both busy: context switches cost share_slowdown */
        uint32_t first_pod = s->reqs[g->svc[0].r].pod;
        for (uint32_t i = 1; i < g->n_svc; i++)
            if (s->reqs[g->svc[i].r].pod != first_pod)
                return speed * g->prof->share_slowdown;
    }
    return speed;
}

/* A non-negative double in ps_units: x * 2^64, exact when x >= 2^-12 (every such double
 * is then a whole number of units); smaller values round up (round_up) or down. */
ps_units ps_from_double(double x, bool round_up)
{
    if (!(x > 0))
        return 0;
    /* from the bits: x = m 2^(e - 1075), so x 2^64 = m 2^(e - 1011); exact, no libgcc */
    uint64_t bits;
    memcpy(&bits, &x, sizeof(bits));
    int e = (int)(bits >> 52) & 0x7ff;
    uint64_t m = bits & ((1ULL << 52) - 1);
    if (e == 0)
        e = 1; /* subnormal */
    else
        m |= 1ULL << 52;
    int shift = e - 1011;
    if (shift >= 0)
        return (ps_units)m << shift; /* x < 2^63 (demands and speeds are far below) */
    if (shift <= -64)
        return round_up ? 1 : 0;
    uint64_t q = m >> -shift;
    if (round_up && (q << -shift) != m)
        q++;
    return q;
}

/* The longest time to a completion (us) the clock takes from now. */
#define MAX_DT_US 9000000000000000LL

/* An int128 as a double, to within a few ulps (for an estimate only). The low half goes
 * through a signed conversion (an unsigned one branches on its top bit). */
static inline double ps_approx(ps_units u)
{
    return (double)(int64_t)(u >> 64) * 0x1p64 + (double)(int64_t)((uint64_t)u >> 1) * 2.0;
}

/* ceil(left / rate) for left, rate > 0, without a 128-bit division: a double estimate,
 * then corrected to the exact smallest q with rate * q >= left. *q_out; false when the
 * quotient exceeds max_q. */
static bool ps_ceil_div(ps_units left, ps_units rate, int64_t max_q, int64_t *q_out)
{
    double est = ps_approx(left) / ps_approx(rate);
    if (est > (double)max_q + 2)
        return false;
    int64_t q = (int64_t)est;
    ps_units prod = rate * (ps_units)q; /* kept equal to rate * q: one multiplication */
    while (q > 0 && prod - rate >= left) {
        q--;
        prod -= rate;
    }
    while (prod < left) {
        q++;
        prod += rate;
    }
    if (q > max_q)
        return false;
    *q_out = q;
    return true;
}

/* floor(speed 2^64 / n): the share of each of n requests on GPU g, in units per us.
 * Without interference the speed is eff = eff(n) of g's card; on the run's first card
 * those shares are kept in a table per n (one table: a fleet's other cards compute). */
static ps_units ps_share(sim *s, const gpu *g, double speed, double eff, uint32_t n)
{
    bool plain = n < SIM_SHARE_TABLE && speed == eff && g->prof == s->prof;
    if (plain && s->share_of[n] > 0)
        return s->share_of[n];
    ps_units share = ps_from_double(speed, false) / n;
    if (plain)
        s->share_of[n] = share;
    return share;
}

/* Brings the GPU's virtual time to now: each request in service received rate units per
 * us since the last update. O(1): the requests' tags do not move. */
void gpu_advance(sim *s, gpu *g)
{
    int64_t t = now(s);
    if (g->n_svc && t > g->last_us)
        g->vt += g->rate * (ps_units)(t - g->last_us);
    g->last_us = t;
}

/* Sets the GPU's rate for its current requests and makes sure a completion event is
 * pending no later than the next completion. An event already pending earlier is kept:
 * when it fires and nothing is done yet, it reschedules (so a slow-down, the common case
 * on an arrival, pushes no event; a speed-up pushes an earlier one). */
int gpu_reschedule(sim *s, uint32_t gi)
{
    gpu *g = &s->gpus[gi];
    if (g->n_svc == 0) {
        g->rate = 0;
        g->vt = 0; /* idle: restart the virtual clock, so it stays small */
        return 0;
    }
    double eff = profile_eff(g->prof, (int)g->n_svc);
    g->rate = ps_share(s, g, gpu_speed(s, g, eff), eff, g->n_svc);
    if (g->rate <= 0)
        return gp_error_set(s->err, GP_ERANGE, NULL, 0, 0, NULL,
                            "a GPU's speed is zero or below 2^-64 us per us");
    ps_units min_tag = g->svc[0].tag;
    for (uint32_t i = 1; i < g->n_svc; i++)
        if (g->svc[i].tag < min_tag)
            min_tag = g->svc[i].tag;
    ps_units left = min_tag - g->vt;
    /* An event pending at now + p (p >= 0) is kept when the completion is no earlier,
       p <= ceil(left / rate) (0 when left <= 0): for p >= 1 that is rate (p - 1) < left,
       a multiplication instead of the division (the common case: an arrival slows the
       GPU down). Where the division below would find an overflow, it still does. */
    if (g->pending_us >= now(s)) {
        int64_t p = g->pending_us - now(s);
        bool kept = left <= 0 ? p == 0
                              : left <= g->rate * (ps_units)(MAX_DT_US / 2) &&
                                    (p == 0 || g->rate * (ps_units)(p - 1) < left);
        if (kept)
            return 0;
    }
    /* the first whole us at which vt reaches the tag */
    int64_t dt = 0;
    if (left > 0 && !ps_ceil_div(left, g->rate, MAX_DT_US, &dt))
        return gp_error_set(s->err, GP_ELIMIT, NULL, 0, 0, NULL,
                            "a completion time overflows the microsecond clock");
    int64_t t = now(s) + dt;
    if (g->pending_us >= now(s) && g->pending_us <= t)
        return 0;
    g->pending_us = t;
    return schedule(s, t, EV_COMPLETE, gi, 0);
}

void gpu_busy_update(sim *s, gpu *g, uint32_t n_before)
{
    int64_t t = now(s);
    if (n_before == 0 && g->n_svc > 0)
        g->busy_since_us = t;
    else if (n_before > 0 && g->n_svc == 0) {
        g->busy_us += (double)(t - g->busy_since_us);
        g->busy_since_us = -1;
    }
}

/* A mixed fleet: the request's demand, work and memory on the card of pool pl. */
static int fleet_demand(sim *s, req *x, const pool_rt *pl)
{
    profile_at at = profile_locate(pl->prof, x->mp);
    x->demand_us = request_demand_at_us(pl->prof, at, s->rng.seed, x->id, x->faces);
    if (!(x->demand_us >= 0 && x->demand_us <= SIM_MAX_DEMAND_US))
        return gp_error_set(s->err, GP_ERANGE, NULL, 0, 0, NULL,
                            "request %llu: service demand %g us on pool %s is not in [0, %g]",
                            (unsigned long long)x->id, x->demand_us, pl->cfg->name,
                            SIM_MAX_DEMAND_US);
    x->work = ps_from_double(x->demand_us, true);
    x->mem_bytes = profile_req_mem_bytes_at(pl->prof, at, x->faces);
    return 0;
}

int start_service(sim *s, uint32_t r, uint32_t pi)
{
    req *x = &s->reqs[r];
    pod *p = &s->pods[pi];
    gpu *g = &s->gpus[p->gpu];
    integrate(s);
    if (s->multi) {
        pool_rt *pl = &s->pool[p->pool];
        int rc = fleet_demand(s, x, pl);
        if (rc < 0)
            return rc;
        if (x->state == RS_POD_QUEUED)
            pl->local_queued--;
        pl->in_service++;
    }
    s->pool[p->pool].res.served++;
    if (x->state == RS_QUEUED || x->state == RS_POD_QUEUED)
        s->queued_total--;
    s->in_service_total++;
    gpu_advance(s, g);
    if (grow((void **)&g->svc, &g->cap_svc, sizeof(svc_entry), g->n_svc + 1) < 0)
        return oom(s);
    uint32_t n_before = g->n_svc;
    svc_entry *e = &g->svc[g->n_svc++];
    e->r = r;
    gpu_busy_update(s, g, n_before);
    g->mem_used_bytes += x->mem_bytes;
    x->state = RS_SERVICE;
    x->pod = pi;
    x->start_us = now(s);
    s->progress_us = now(s);
    if (p->ready_us > x->arrival_us)
        x->cold = 1; /* it waited for this pod's cold start */
    if (!p->served_first) {
        p->served_first = true;
        if (g->prof->first_request_extra_ms > 0) {
            x->work += ps_from_double(g->prof->first_request_extra_ms * 1000.0, true);
            x->cold = 1;
        }
    }
    e->tag = g->vt + x->work;
    pod_integrate(s, p);
    p->n_svc++;
    return gpu_reschedule(s, p->gpu);
}

static int record_completion(sim *s, req *x, const pod *p)
{
    double lat_s = (double)(now(s) - x->arrival_us) / 1e6;
    s->sum->completed++;
    s->lat_sum_s += lat_s;
    if (lat_s > s->lat_max_s)
        s->lat_max_s = lat_s;
    if (now(s) - x->arrival_us <= s->cfg->cluster.slo_us)
        s->slo_met++;
    if (x->cold)
        s->sum->cold_waited++;
    metrics_pipe *dm = &s->dep[p->dep].metrics;
    if (s->multi)
        qhist_add(&s->pool[p->pool].lat, lat_s);
    if (s->fm != dm)
        metrics_record_latency(s->fm, now(s), lat_s);
    return metrics_record_latency(dm, now(s), lat_s);
}

int gpu_complete(sim *s, uint32_t gi)
{
    gpu *g = &s->gpus[gi];
    integrate(s);
    gpu_advance(s, g);
    uint32_t n_before = g->n_svc;
    bool any = false;
    uint32_t touched_pods[64];
    int n_touched = 0;
    for (uint32_t i = 0; i < g->n_svc;) {
        if (g->svc[i].tag > g->vt) {
            i++;
            continue;
        }
        uint32_t r = g->svc[i].r;
        req *x = &s->reqs[r];
        any = true;
        g->svc[i] = g->svc[--g->n_svc];
        g->mem_used_bytes -= x->mem_bytes;
        s->in_service_total--;
        uint32_t pi = x->pod;
        pod *p = &s->pods[pi];
        pool_rt *pl = &s->pool[p->pool];
        pod_integrate(s, p);
        p->n_svc--;
        if (s->multi)
            pl->in_service--;
        int rc = 0;
        if (!x->timed_out) {
            pl->res.completed++;
            tlist_remove(s, r);
            s->live_untimed--;
            rc = record_completion(s, x, p);
            if (rc == 0)
                rc = log_request(s, x, now(s), now(s), OUTCOME_COMPLETED);
            if (rc == 0 && x->user != NONE)
                rc = user_request_done(s, x->user, x->id);
        } else {
            pl->res.finished_late++;
            rc = log_request(s, x, deadline_us(s, x), now(s), OUTCOME_TIMED_OUT);
        }
        req_free(s, r);
        if (rc < 0)
            return rc;
        bool seen = false;
        for (int k = 0; k < n_touched; k++)
            seen |= touched_pods[k] == pi;
        if (!seen && n_touched < 64)
            touched_pods[n_touched++] = pi;
        if (p->state == POD_READY) {
            rc = slot_push(s, pi);
            if (rc < 0)
                return rc;
        }
    }
    gpu_busy_update(s, g, n_before);
    if (!any) /* an earlier event kept after a slow-down: nothing is done yet */
        return gpu_reschedule(s, gi);
    s->events++;
    s->progress_us = now(s);
    int rc = gpu_reschedule(s, gi);
    for (int k = 0; rc == 0 && k < n_touched; k++) {
        uint32_t pi = touched_pods[k];
        pod *p = &s->pods[pi];
        if (s->cfg->cluster.dispatch == DISPATCH_LEAST_CONN)
            rc = pod_pull_local(s, pi);
        if (rc == 0 && p->state == POD_DRAINING && p->n_svc == 0 && p->local.len == 0)
            rc = pod_gone(s, pi);
    }
    if (rc == 0)
        rc = dispatch(s);
    for (int k = 0; rc == 0 && k < n_touched; k++) {
        uint32_t pi = touched_pods[k];
        pod *p = &s->pods[pi];
        if (per_request(s) && p->state == POD_READY && p->n_svc == 0)
            rc = instance_idle(s, pi);
    }
    return rc;
}
