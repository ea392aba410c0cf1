/* dispatch.c: requests, queues, dispatch and timeouts of a run (sim_internal.h; the
 * model: docs/model.md, "Workload" and "Exact rules at one microsecond").
 *
 * Free worker slots of ready pods wait in one FIFO, like workers blocked in BRPOP on
 * gpen:pending: the longest-waiting slot takes the head request (O(1) dispatch). Under
 * least_conn, each waiting request goes to the ready pod with the fewest connections and
 * waits in that pod's queue.
 *
 * Timeouts: at any us, completions come first (a request that completes at its
 * deadline counts as completed), then every waiting request whose deadline has come
 * leaves, then freed slots go to the next live requests: each dispatch first expires the
 * waiting requests whose deadline is now. A request whose deadline comes in service is
 * timed out for its client, while its GPU finishes the work; its row carries both ends. */
#include <string.h>

#include "sim/sim_internal.h"

static int expire_waiting(sim *s);

static int req_alloc(sim *s, uint32_t *out)
{
    if (s->free_req != NONE) {
        *out = s->free_req;
        s->free_req = s->reqs[*out].qnext;
        return 0;
    }
    if (s->n_reqs == UINT32_MAX - 1)
        return gp_error_set(s->err, GP_ELIMIT, NULL, 0, 0, NULL, "too many live requests");
    if (grow((void **)&s->reqs, &s->cap_reqs, sizeof(req), s->n_reqs + 1) < 0)
        return oom(s);
    *out = s->n_reqs++;
    return 0;
}

void req_free(sim *s, uint32_t r)
{
    s->reqs[r].state = RS_FREE;
    s->reqs[r].qnext = s->free_req;
    s->free_req = r;
}

void tlist_remove(sim *s, uint32_t r)
{
    req *x = &s->reqs[r];
    if (!x->in_tlist)
        return;
    if (x->tprev != NONE)
        s->reqs[x->tprev].tnext = x->tnext;
    else
        s->thead = x->tnext;
    if (x->tnext != NONE)
        s->reqs[x->tnext].tprev = x->tprev;
    else
        s->ttail = x->tprev;
    x->in_tlist = 0;
}

static int tlist_append(sim *s, uint32_t r)
{
    req *x = &s->reqs[r];
    x->tnext = NONE;
    x->tprev = s->ttail;
    if (s->ttail != NONE)
        s->reqs[s->ttail].tnext = r;
    else
        s->thead = r;
    s->ttail = r;
    x->in_tlist = 1;
    if (!s->timer_pending) {
        s->timer_pending = true;
        return schedule(s, deadline_us(s, x), EV_TIMEOUT, 0, 0);
    }
    return 0;
}

/* end_us: the client's end (answer, deadline, rejection); gpu_end_us: when the GPU
   stopped working on it, -1 if it never started or was still running at the end. */
int log_request(sim *s, const req *x, int64_t end_us, int64_t gpu_end_us, request_outcome outcome)
{
    if (!s->log)
        return 0;
    request_row row;
    memset(&row, 0, sizeof(row)); /* padding too: rows are compared and stored as bytes */
    row.id = x->id;
    row.arrival_us = x->arrival_us;
    row.start_us = x->start_us;
    row.end_us = end_us;
    row.gpu_end_us = gpu_end_us;
    row.pod_id = x->pod != NONE ? (int64_t)s->pods[x->pod].id : -1;
    row.mp = x->mp;
    row.faces = x->faces;
    row.cold = x->cold;
    row.outcome = (uint8_t)outcome;
    if (s->fleet && x->pod != NONE)
        row.pool = (uint8_t)(s->pods[x->pod].pool + 1);
    row.demand_s = x->demand_us / 1e6;
    int prc = request_log_push(s->log, &row);
    if (prc < 0)
        return rows_full(s, prc, "request rows", s->log->max_rows, "output.max_request_rows");
    return 0;
}

int slot_push(sim *s, uint32_t pi)
{
    if (s->cfg->cluster.dispatch != DISPATCH_SHARED_QUEUE)
        return 0; /* least_conn routes by connection count; no slot queue */
    if (s->slot_len == s->slot_cap) {
        uint32_t ncap = s->slot_cap ? s->slot_cap * 2 : 64;
        slot *n = malloc(sizeof(*n) * ncap);
        if (!n)
            return oom(s);
        for (uint32_t i = 0; i < s->slot_len; i++)
            n[i] = s->slots[(s->slot_head + i) % s->slot_cap];
        free(s->slots);
        s->slots = n;
        s->slot_head = 0;
        s->slot_cap = ncap;
    }
    /* the capacity is a power of two (64, doubled): a mask, not a division */
    s->slots[(s->slot_head + s->slot_len) & (s->slot_cap - 1)] =
        (slot){.pod = pi, .gen = s->pods[pi].slot_gen};
    s->slot_len++;
    return 0;
}

static bool slot_valid(const sim *s, slot sl)
{
    const pod *p = &s->pods[sl.pod];
    return p->state == POD_READY && p->slot_gen == sl.gen;
}

static bool fits(const sim *s, const pod *p, const req *x)
{
    if (s->multi)
        return fleet_fits_now(s, p, x);
    const gpu *g = &s->gpus[p->gpu];
    return g->mem_used_bytes + x->mem_bytes <= g->prof->gpu_mem_bytes;
}

/* Shared-queue dispatch: the longest-waiting free slot takes the head request. A head
 * that does not fit in its slot's GPU memory waits for the next slot that fits. */
static int dispatch_shared(sim *s)
{
    if (s->multi)
        return fleet_dispatch_shared(s);
    while (s->lane[0].len > 0 && s->slot_len > 0) {
        uint32_t r = s->lane[0].head;
        uint32_t tried = 0, n = s->slot_len;
        bool started = false;
        while (tried < n) {
            slot sl = s->slots[s->slot_head];
            s->slot_head = (s->slot_head + 1) & (s->slot_cap - 1);
            s->slot_len--;
            tried++;
            if (!slot_valid(s, sl))
                continue;
            if (!fits(s, &s->pods[sl.pod], &s->reqs[r])) {
                int rc = slot_push(s, sl.pod); /* keep it, at the back */
                if (rc < 0)
                    return rc;
                continue;
            }
            lane_remove(s, r);
            int rc = start_service(s, r, sl.pod);
            if (rc < 0)
                return rc;
            started = true;
            break;
        }
        if (!started)
            break;
    }
    return 0;
}

/* least_conn: each waiting request goes to the ready pod with the fewest connections
 * (in service + routed); the pod serves its own queue in order. */
int pod_pull_local(sim *s, uint32_t pi)
{
    pod *p = &s->pods[pi];
    int rc0 = p->local.len > 0 ? expire_waiting(s) : 0;
    if (rc0 < 0)
        return rc0;
    while (p->local.len > 0 && p->n_svc < pool_concurrency(s, p->pool) &&
           (p->state == POD_READY || p->state == POD_DRAINING)) {
        uint32_t r = p->local.head;
        if (!fits(s, p, &s->reqs[r]))
            break;
        fifo_remove(s, &p->local, r);
        int rc = start_service(s, r, pi);
        if (rc < 0)
            return rc;
    }
    return 0;
}

static int dispatch_least_conn(sim *s)
{
    if (s->multi)
        return fleet_dispatch_least_conn(s);
    while (s->lane[0].len > 0) {
        uint32_t best = NONE;
        uint32_t best_conn = UINT32_MAX;
        for (uint32_t i = 0; i < s->n_active; i++) {
            const pod *p = &s->pods[s->active[i]];
            if (p->state != POD_READY)
                continue;
            uint32_t conn = (uint32_t)p->n_svc + p->local.len;
            if (conn < best_conn) {
                best_conn = conn;
                best = s->active[i];
            }
        }
        if (best == NONE)
            return 0;
        uint32_t r = s->lane[0].head;
        lane_remove(s, r);
        s->reqs[r].state = RS_POD_QUEUED;
        s->reqs[r].pod = best;
        fifo_push_back(s, &s->pods[best].local, r);
        int rc = pod_pull_local(s, best);
        if (rc < 0)
            return rc;
    }
    return 0;
}

int dispatch(sim *s)
{
    int rc = expire_waiting(s);
    if (rc < 0)
        return rc;
    return s->cfg->cluster.dispatch == DISPATCH_LEAST_CONN ? dispatch_least_conn(s)
                                                           : dispatch_shared(s);
}

/* The client of request r gives up at its deadline (now). A waiting request leaves its
 * queue; one in service is marked, and its GPU finishes the work (its row is written when
 * the GPU stops: it carries both ends). */
static int time_out(sim *s, uint32_t r)
{
    req *x = &s->reqs[r];
    tlist_remove(s, r);
    s->live_untimed--;
    s->sum->timed_out++;
    uint32_t user = x->user;
    uint64_t id = x->id;
    int rc = 0;
    if (x->state == RS_QUEUED || x->state == RS_POD_QUEUED) {
        rc = log_request(s, x, deadline_us(s, x), -1, OUTCOME_TIMED_OUT);
        integrate(s);
        if (x->state == RS_QUEUED) {
            lane_remove(s, r);
        } else {
            fifo_remove(s, &s->pods[x->pod].local, r);
            if (s->multi)
                s->pool[s->pods[x->pod].pool].local_queued--;
        }
        s->queued_total--;
        req_free(s, r);
    } else {
        x->timed_out = 1; /* the client left; the GPU still finishes the work */
    }
    if (rc == 0 && user != NONE)
        rc = user_request_done(s, user, id);
    return rc;
}

/* EV_TIMEOUT: after every completion of this us, every request whose deadline has come. */
int timeouts_fire(sim *s)
{
    s->timer_pending = false;
    bool any = false;
    while (s->thead != NONE && deadline_us(s, &s->reqs[s->thead]) <= now(s)) {
        int rc = time_out(s, s->thead);
        if (rc < 0)
            return rc;
        any = true;
    }
    s->events += any;
    if (s->thead != NONE) {
        s->timer_pending = true;
        return schedule(s, deadline_us(s, &s->reqs[s->thead]), EV_TIMEOUT, 0, 0);
    }
    return 0;
}

/* Before any dispatch: the waiting requests whose deadline is now leave, so that a freed
 * slot goes to a live request. Those in service at their deadline are left to EV_TIMEOUT,
 * which runs after every completion of this us (one that completes now is completed). */
static int expire_waiting(sim *s)
{
    uint32_t r = s->thead;
    while (r != NONE && deadline_us(s, &s->reqs[r]) <= now(s)) {
        uint32_t next = s->reqs[r].tnext;
        if (s->reqs[r].state != RS_SERVICE) {
            int rc = time_out(s, r);
            if (rc < 0)
                return rc;
        }
        r = next;
    }
    return 0;
}

/* Counts an arrival for the Deployments that see it: every one behind a shared queue (the
 * front door's rate), the one routed to behind a router. */
static void count_arrival(sim *s, uint8_t lane, bool too_large)
{
    if (s->n_deps > 1)
        s->fleet_arrivals++;
    if (!s->multi || s->cfg->cluster.routing != ROUTING_ROUTER || too_large) {
        for (uint32_t d = 0; d < s->n_deps; d++)
            s->dep[d].arrivals_since_scrape++;
        return;
    }
    uint32_t p = 0;
    while (p < s->n_pools && s->pool[p].lane != lane)
        p++;
    s->dep[s->pool[p].dep].arrivals_since_scrape++;
}

/* The policies' on_arrival hook: every Deployment, or those whose pools can take it. */
static int arrival_hooks(sim *s, uint8_t mask)
{
    for (uint32_t d = 0; d < s->n_deps; d++) {
        bool serves = !s->multi;
        for (uint32_t p = s->dep[d].pool_lo; !serves && p < s->dep[d].pool_hi; p++)
            serves = ((unsigned)mask >> p) & 1u;
        int rc = serves ? policy_on_arrival(s, d) : 0;
        if (rc < 0)
            return rc;
    }
    return 0;
}

int admit(sim *s, uint64_t id, float mp, int32_t faces, uint32_t user)
{
    s->sum->arrived++;
    double mem = 0;
    uint8_t mask = 1, lane = 0;
    bool too_large;
    profile_at at = {0};
    if (s->multi) {
        fleet_route(s, mp, faces, &mask, &lane);
        too_large = mask == 0;
    } else {
        at = profile_locate(s->prof, mp);
        mem = profile_req_mem_bytes_at(s->prof, at, faces);
        too_large = s->prof->model_mem_bytes + mem > s->prof->gpu_mem_bytes;
    }
    count_arrival(s, lane, too_large);
    if (too_large ||
        (s->cfg->cluster.max_queue > 0 && s->waiting >= (uint32_t)s->cfg->cluster.max_queue)) {
        s->sum->rejected++;
        s->sum->rejected_by[too_large ? REJECT_TOO_LARGE : REJECT_NO_CAPACITY]++;
        req tmp = {.id = id,
                   .arrival_us = now(s),
                   .start_us = -1,
                   .pod = NONE,
                   .mp = mp,
                   .faces = faces,
                   .user = user};
        int rc = log_request(s, &tmp, now(s), -1, OUTCOME_REJECTED);
        if (rc == 0 && user != NONE)
            rc = user_request_done(s, user, id);
        return rc;
    }
    uint32_t r = NONE;
    int rc = req_alloc(s, &r);
    if (rc < 0)
        return rc;
    req *x = &s->reqs[r];
    /* every other field 0 (an assignment, not a memset call: no size dispatch) */
    *x = (req){.id = id,
               .arrival_us = now(s),
               .start_us = -1,
               .mp = mp,
               .faces = faces,
               .user = user,
               .pod = NONE,
               .lane = lane,
               .pool_mask = mask};
    /* a mixed fleet draws the demand on the card that serves it (start_service); until
       then the log shows the demand on the first card that can hold it */
    const gpu_profile *prof = s->prof;
    if (s->multi) {
        prof = s->pool[__builtin_ctz(mask)].prof;
        at = profile_locate(prof, mp);
    }
    x->demand_us = request_demand_at_us(prof, at, s->rng.seed, id, faces);
    if (!(x->demand_us >= 0 && x->demand_us <= SIM_MAX_DEMAND_US))
        return gp_error_set(s->err, GP_ERANGE, NULL, 0, 0, NULL,
                            "request %llu: service demand %g us is not in [0, %g]",
                            (unsigned long long)id, x->demand_us, SIM_MAX_DEMAND_US);
    x->work = ps_from_double(x->demand_us, true);
    x->mem_bytes = mem;
    x->state = RS_QUEUED;
    integrate(s);
    s->queued_total++;
    s->live_untimed++;
    lane_push_back(s, r);
    rc = has_timeout(s) ? tlist_append(s, r) : 0;
    if (rc == 0 && s->cfg->policy->on_arrival)
        rc = arrival_hooks(s, mask);
    if (rc == 0)
        rc = dispatch(s);
    if (rc == 0 && per_request(s))
        rc = serverless_demand(s);
    return rc;
}
