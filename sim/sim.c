/* sim.c: one simulated run (see sim.h for the contract).
 *
 * Objects live in arrays and refer to each other by index: requests (a pool with a
 * free list, so memory follows the number of live requests, not the total), pods
 * (grow-only, one per pod ever created) and GPUs (the node pool). Events carry an index
 * and a generation; a stale generation means the event was cancelled.
 *
 * Processor sharing is per GPU: with n requests in service on a GPU (from one pod, or
 * from several instances sharing it) each progresses at eff(n)/n (times the profile's
 * share_slowdown when instances of different pods are busy together). The arithmetic is
 * integer: work is counted in units of 2^-64 us of work at speed 1 (ps_units, 128 bits),
 * a demand is its double value in those units (exact above 2^-12 us, else rounded up),
 * and each request's speed is floor(g * 2^64 / n) units per us, g the GPU's aggregate
 * speed (a double). Each GPU keeps a virtual time vt (units received so far by every
 * request in service, since the GPU was last idle); a request started at vt0 with work w
 * carries the finish tag vt0 + w and completes at the first whole us at which vt reaches
 * its tag. No drift and no tolerance: equal inputs give the same microsecond on every
 * platform. Whenever n changes, vt is advanced (O(1)) and the GPU's single completion
 * event is rescheduled (SimGrid's next-event/update step with lazy cancellation).
 *
 * Timeouts: at any us, completions come first (a request that completes at its
 * deadline counts as completed), then every waiting request whose deadline has come
 * leaves, then freed slots go to the next live requests: each dispatch first expires the
 * waiting requests whose deadline is now. A request whose deadline comes in service is
 * timed out for its client, while its GPU finishes the work; its row carries both ends.
 *
 * Free worker slots of ready pods wait in one FIFO, like workers blocked in BRPOP on
 * gpen:pending: the longest-waiting slot takes the head request (O(1) dispatch). */
#include "sim/sim.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/rng.h"
#include "sim/engine.h"
#include "sim/metrics.h"

#define NONE UINT32_MAX

/* Processor-sharing work: 2^-64 us of work at speed 1 (see the top of this file). */
typedef __int128 ps_units;
#define PS_SHIFT 64

/* Event kinds and their priority at equal times: work finishes before new work
 * arrives, so an arrival sees the capacity freed at the same instant; a request that
 * completes exactly at its deadline counts as completed; metrics are scraped before
 * the policy that reads them runs. */
enum {
    EV_COMPLETE = 0, /* obj: gpu */
    EV_NODE_READY,   /* obj: gpu */
    EV_POD_READY,    /* obj: pod */
    EV_DRAIN_DEADLINE, /* obj: pod */
    EV_TIMEOUT,      /* obj: - */
    EV_ARRIVAL,      /* obj: - */
    EV_USER_SEND,    /* obj: user */
    EV_RAMP,         /* obj: - */
    EV_KEEPALIVE,    /* obj: pod */
    EV_PREWARM,      /* obj: - */
    EV_SCRAPE,       /* obj: - */
    EV_SYNC,         /* obj: - */
    EV_HORIZON       /* obj: - */
};
static const uint8_t ev_prio[] = {
    [EV_COMPLETE] = 0, [EV_NODE_READY] = 1, [EV_POD_READY] = 1, [EV_DRAIN_DEADLINE] = 2,
    [EV_TIMEOUT] = 3, [EV_ARRIVAL] = 4, [EV_USER_SEND] = 4, [EV_RAMP] = 5,
    [EV_KEEPALIVE] = 5, [EV_PREWARM] = 5, [EV_SCRAPE] = 6, [EV_SYNC] = 7, [EV_HORIZON] = 9,
};

enum { RS_FREE = 0, RS_QUEUED, RS_POD_QUEUED, RS_SERVICE };

typedef struct req {
    uint64_t id;
    int64_t arrival_us, start_us;
    ps_units work;        /* work to do when it (re)starts: demand (+ a first-request extra) */
    ps_units tag;         /* in service: its GPU's vt at which it is done */
    double demand_us;     /* demand on an idle GPU (as drawn), for the log */
    double mem_bytes;
    uint32_t qnext, qprev; /* links in a FIFO (shared queue or a pod's local queue) */
    uint32_t tnext, tprev; /* links in the timeout list (arrival order) */
    uint32_t pod;          /* holding pod, NONE */
    uint32_t svc_pos;      /* index in its GPU's service array */
    uint32_t user;         /* closed-loop user, NONE for open loop */
    float mp;
    int32_t faces;
    uint8_t state;
    uint8_t timed_out;     /* already counted as timed out; still running */
    uint8_t cold;
    uint8_t in_tlist;
} req;

typedef struct fifo {
    uint32_t head, tail, len;
} fifo;

typedef struct gpu {
    uint32_t *svc;        /* requests in service */
    uint32_t n_svc, cap_svc;
    double mem_used_bytes;/* models of ready/draining pods + requests in service */
    int64_t last_us;      /* last processor-sharing update */
    ps_units vt;          /* work received by each request in service since idle */
    ps_units rate;        /* units per us of each request in service */
    int64_t pending_us;   /* time of the completion event in the heap, INT64_MIN none */
    int n_inst;           /* pods placed on it */
    int n_starting;       /* of them, in their cold start (cluster.start_interference) */
    bool provisioned, provisioning, has_image;
    int64_t busy_since_us;/* -1 when idle */
    double busy_us;       /* total busy time before busy_since_us */
    double busy_us_at_scrape;
} gpu;

typedef struct pod {
    uint64_t id;
    pod_state state;
    uint32_t gpu;          /* NONE while pending */
    int64_t created_us, ready_us;
    uint32_t gen;          /* lifecycle events: ready, drain deadline, keep-alive */
    uint32_t slot_gen;     /* bumped when the pod stops taking work */
    int n_svc;
    fifo local;            /* least_conn: requests routed here, waiting */
    bool served_first;
    int64_t conc_last_us;
    double conc_integral_us; /* integral of n_svc dt since the last scrape */
} pod;

typedef struct slot {
    uint32_t pod, gen;
} slot;

typedef struct sim {
    const sim_cfg *cfg;
    const gpu_profile *prof;
    engine eng;
    rng_set rng;
    gp_error *err;

    req *reqs;
    uint32_t n_reqs, cap_reqs, free_req;
    fifo queue;          /* the shared queue, gpen:pending */
    uint32_t thead, ttail; /* timeout list */
    bool timer_pending;

    pod *pods;
    uint32_t n_pods, cap_pods;
    uint32_t *active;    /* indices of pods not GONE, in creation order */
    uint32_t n_active, cap_active;
    int count[POD_STATES];
    gpu *gpus;
    uint32_t n_gpus;

    slot *slots;         /* ring of free worker slots */
    uint32_t slot_head, slot_len, slot_cap;

    /* policy */
    void *pstate;
    policy_info pinfo;
    policy_env penv;
    int lo_pods, hi_pods;
    int spec;            /* desired pod count currently applied */
    int64_t sync_nominal_us; /* nominal time of the pending policy sync (k x period) */
    uint64_t sync_tick;      /* k of that sync */
    int64_t keep_alive_us, prewarm_us;
    uint32_t prewarm_gen;

    /* workload */
    arrival_src *src;
    request_spec next_arrival;
    bool have_next;
    uint64_t next_id;
    uint32_t *user_seq;  /* closed loop: requests sent per user */
    int n_users, cap_users;

    /* accounting */
    run_summary *sum;
    run_series *series;
    request_log *log;
    metrics_pipe metrics;
    int n_billed;        /* pods billed now, in instances */
    int64_t bill_last_us;
    double billed_inst_us;
    int64_t queued_total;  /* requests waiting: shared + local queues */
    int64_t in_service_total;
    int64_t live_untimed;  /* requests queued or in service not yet timed out */
    double sys_conc_integral_us; /* integral of (queued + in service) dt */
    int64_t sys_conc_last_us;
    uint64_t arrivals_since_scrape;
    int64_t horizon_us;
    bool horizon_set;
    bool source_done;      /* open loop: the last arrival has come */
    int64_t progress_us;   /* last start or completion of a request */
    uint64_t events;       /* handled events (run_summary.events) */
    bool stopped;
    double lat_sum_s;
    double lat_max_s;
    uint64_t slo_met;
} sim;

/* ---------------------------------------------------------------- helpers */

static int oom(sim *s)
{
    return gp_error_set(s->err, GP_ENOMEM, NULL, 0, 0, NULL, "out of memory");
}

static int grow(void **arr, uint32_t *cap, size_t elem, uint32_t need)
{
    if (need <= *cap)
        return 0;
    uint32_t ncap = *cap ? *cap : 16;
    while (ncap < need)
        ncap *= 2;
    void *n = realloc(*arr, elem * ncap);
    if (!n)
        return GP_ENOMEM;
    *arr = n;
    *cap = ncap;
    return 0;
}

static int schedule(sim *s, int64_t t_us, int kind, uint32_t obj, uint32_t gen)
{
    int rc = engine_schedule(&s->eng, t_us, ev_prio[kind], (uint8_t)kind, obj, gen);
    if (rc < 0)
        return gp_error_set(s->err, rc, NULL, 0, 0, NULL,
                            rc == GP_ENOMEM ? "out of memory" : "event scheduled in the past");
    return 0;
}

static inline int64_t now(const sim *s) { return s->eng.now_us; }

static void fifo_init(fifo *q) { q->head = q->tail = NONE, q->len = 0; }

static void fifo_push_back(sim *s, fifo *q, uint32_t r)
{
    s->reqs[r].qnext = NONE;
    s->reqs[r].qprev = q->tail;
    if (q->tail != NONE)
        s->reqs[q->tail].qnext = r;
    else
        q->head = r;
    q->tail = r;
    q->len++;
}

static void fifo_push_front(sim *s, fifo *q, uint32_t r)
{
    s->reqs[r].qprev = NONE;
    s->reqs[r].qnext = q->head;
    if (q->head != NONE)
        s->reqs[q->head].qprev = r;
    else
        q->tail = r;
    q->head = r;
    q->len++;
}

static void fifo_remove(sim *s, fifo *q, uint32_t r)
{
    req *x = &s->reqs[r];
    if (x->qprev != NONE)
        s->reqs[x->qprev].qnext = x->qnext;
    else
        q->head = x->qnext;
    if (x->qnext != NONE)
        s->reqs[x->qnext].qprev = x->qprev;
    else
        q->tail = x->qprev;
    q->len--;
}

/* Time integrals must be brought up to date before any count they integrate changes. */
static void integrate(sim *s)
{
    int64_t t = now(s);
    if (t > s->bill_last_us) {
        s->billed_inst_us += (double)s->n_billed * (double)(t - s->bill_last_us);
        s->bill_last_us = t;
    }
    if (t > s->sys_conc_last_us) {
        s->sys_conc_integral_us +=
            (double)(s->queued_total + s->in_service_total) * (double)(t - s->sys_conc_last_us);
        s->sys_conc_last_us = t;
    }
}

static void pod_integrate(sim *s, pod *p)
{
    int64_t t = now(s);
    p->conc_integral_us += (double)p->n_svc * (double)(t - p->conc_last_us);
    p->conc_last_us = t;
}

static bool is_billed(pod_state st)
{
    return st == POD_STARTING || st == POD_READY || st == POD_DRAINING;
}

static void gpu_advance(sim *s, gpu *g);
static int gpu_reschedule(sim *s, uint32_t gi);

/* The experiment's cluster.start_interference, else the profile's. */
static double start_interference(const sim *s)
{
    double c = s->cfg->cluster.start_interference;
    return c > 0 ? c : s->prof->start_interference;
}

static int pod_set_state(sim *s, pod *p, pod_state st)
{
    integrate(s);
    bool was_starting = p->state == POD_STARTING, starting = st == POD_STARTING;
    s->count[p->state]--;
    s->n_billed += (int)is_billed(st) - (int)is_billed(p->state);
    p->state = st;
    s->count[st]++;
    if (was_starting == starting || p->gpu == NONE)
        return 0;
    /* a cold start on a shared GPU begins or ends: its requests change speed */
    gpu *g = &s->gpus[p->gpu];
    if (start_interference(s) >= 1.0) {
        g->n_starting += starting ? 1 : -1;
        return 0;
    }
    gpu_advance(s, g);
    g->n_starting += starting ? 1 : -1;
    return gpu_reschedule(s, p->gpu);
}

static bool per_request(const sim *s) { return s->pinfo.flags & POLICY_F_PER_REQUEST; }

/* ---------------------------------------------------------------- requests */

static bool has_timeout(const sim *s) { return s->cfg->cluster.timeout_us > 0; }

static int64_t deadline_us(const sim *s, const req *x)
{
    return x->arrival_us + s->cfg->cluster.timeout_us;
}

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

static void req_free(sim *s, uint32_t r)
{
    s->reqs[r].state = RS_FREE;
    s->reqs[r].qnext = s->free_req;
    s->free_req = r;
}

static void tlist_remove(sim *s, uint32_t r)
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
static int log_request(sim *s, const req *x, int64_t end_us, int64_t gpu_end_us,
                       request_outcome outcome)
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
    row.demand_s = x->demand_us / 1e6;
    if (request_log_push(s->log, &row) < 0)
        return oom(s);
    return 0;
}

static int user_request_done(sim *s, uint32_t user, uint64_t id);

/* ---------------------------------------------------------------- GPUs */

/* The GPU's aggregate speed g with its current requests: eff(n), times the start
 * interference while a pod starts on it, times share_slowdown when instances of
 * different pods are busy together (double products, in this order). */
static double gpu_speed(const sim *s, const gpu *g)
{
    double speed = profile_eff(s->prof, (int)g->n_svc);
    if (g->n_starting > 0)
        speed *= start_interference(s);
    if (g->n_inst > 1 && s->prof->share_slowdown < 1.0) {
        /* co-located instances both busy: context switches cost share_slowdown */
        uint32_t first_pod = s->reqs[g->svc[0]].pod;
        for (uint32_t i = 1; i < g->n_svc; i++)
            if (s->reqs[g->svc[i]].pod != first_pod)
                return speed * s->prof->share_slowdown;
    }
    return speed;
}

/* A non-negative double in ps_units: x * 2^64, exact when x >= 2^-12 (every such double
 * is then a whole number of units); smaller values round up (round_up) or down. */
static ps_units ps_from_double(double x, bool round_up)
{
    double scaled = ldexp(x, PS_SHIFT);
    ps_units u = (ps_units)scaled; /* truncates: below 2^53 the result is exact */
    if (round_up && (double)u < scaled)
        u++;
    return u;
}

/* Brings the GPU's virtual time to now: each request in service received rate units per
 * us since the last update. O(1): the requests' tags do not move. */
static void gpu_advance(sim *s, gpu *g)
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
static int gpu_reschedule(sim *s, uint32_t gi)
{
    gpu *g = &s->gpus[gi];
    if (g->n_svc == 0) {
        g->rate = 0;
        g->vt = 0; /* idle: restart the virtual clock, so it stays small */
        return 0;
    }
    g->rate = ps_from_double(gpu_speed(s, g), false) / g->n_svc;
    if (g->rate <= 0)
        return gp_error_set(s->err, GP_ERANGE, NULL, 0, 0, NULL,
                            "a GPU's speed is zero or below 2^-64 us per us");
    ps_units min_tag = s->reqs[g->svc[0]].tag;
    for (uint32_t i = 1; i < g->n_svc; i++)
        if (s->reqs[g->svc[i]].tag < min_tag)
            min_tag = s->reqs[g->svc[i]].tag;
    ps_units left = min_tag - g->vt;
    /* the first whole us at which vt reaches the tag */
    ps_units dt = left <= 0 ? 0 : (left + g->rate - 1) / g->rate;
    if (dt > (ps_units)9000000000000000LL)
        return gp_error_set(s->err, GP_ELIMIT, NULL, 0, 0, NULL,
                            "a completion time overflows the microsecond clock");
    int64_t t = now(s) + (int64_t)dt;
    if (g->pending_us >= now(s) && g->pending_us <= t)
        return 0;
    g->pending_us = t;
    return schedule(s, t, EV_COMPLETE, gi, 0);
}

static void gpu_busy_update(sim *s, gpu *g, uint32_t n_before)
{
    int64_t t = now(s);
    if (n_before == 0 && g->n_svc > 0)
        g->busy_since_us = t;
    else if (n_before > 0 && g->n_svc == 0) {
        g->busy_us += (double)(t - g->busy_since_us);
        g->busy_since_us = -1;
    }
}

/* ---------------------------------------------------------------- slots */

static int slot_push(sim *s, uint32_t pi)
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
    s->slots[(s->slot_head + s->slot_len) % s->slot_cap] =
        (slot){.pod = pi, .gen = s->pods[pi].slot_gen};
    s->slot_len++;
    return 0;
}

static bool slot_valid(const sim *s, slot sl)
{
    const pod *p = &s->pods[sl.pod];
    return p->state == POD_READY && p->slot_gen == sl.gen;
}

/* ---------------------------------------------------------------- service */

static int start_service(sim *s, uint32_t r, uint32_t pi)
{
    req *x = &s->reqs[r];
    pod *p = &s->pods[pi];
    gpu *g = &s->gpus[p->gpu];
    integrate(s);
    if (x->state == RS_QUEUED || x->state == RS_POD_QUEUED)
        s->queued_total--;
    s->in_service_total++;
    gpu_advance(s, g);
    if (grow((void **)&g->svc, &g->cap_svc, sizeof(uint32_t), g->n_svc + 1) < 0)
        return oom(s);
    uint32_t n_before = g->n_svc;
    x->svc_pos = g->n_svc;
    g->svc[g->n_svc++] = r;
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
        if (s->prof->first_request_extra_ms > 0) {
            x->work += ps_from_double(s->prof->first_request_extra_ms * 1000.0, true);
            x->cold = 1;
        }
    }
    x->tag = g->vt + x->work;
    pod_integrate(s, p);
    p->n_svc++;
    return gpu_reschedule(s, p->gpu);
}

static bool fits(const sim *s, const pod *p, const req *x)
{
    return s->gpus[p->gpu].mem_used_bytes + x->mem_bytes <= s->prof->gpu_mem_bytes;
}

static int expire_waiting(sim *s);

/* Shared-queue dispatch: the longest-waiting free slot takes the head request. A head
 * that does not fit in its slot's GPU memory waits for the next slot that fits. */
static int dispatch_shared(sim *s)
{
    while (s->queue.len > 0 && s->slot_len > 0) {
        uint32_t r = s->queue.head;
        uint32_t tried = 0, n = s->slot_len;
        bool started = false;
        while (tried < n) {
            slot sl = s->slots[s->slot_head];
            s->slot_head = (s->slot_head + 1) % s->slot_cap;
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
            fifo_remove(s, &s->queue, r);
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
static int pod_pull_local(sim *s, uint32_t pi)
{
    pod *p = &s->pods[pi];
    int rc0 = p->local.len > 0 ? expire_waiting(s) : 0;
    if (rc0 < 0)
        return rc0;
    while (p->local.len > 0 && p->n_svc < s->cfg->cluster.concurrency &&
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
    while (s->queue.len > 0) {
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
        uint32_t r = s->queue.head;
        fifo_remove(s, &s->queue, r);
        s->reqs[r].state = RS_POD_QUEUED;
        s->reqs[r].pod = best;
        fifo_push_back(s, &s->pods[best].local, r);
        int rc = pod_pull_local(s, best);
        if (rc < 0)
            return rc;
    }
    return 0;
}

static int dispatch(sim *s)
{
    int rc = expire_waiting(s);
    if (rc < 0)
        return rc;
    return s->cfg->cluster.dispatch == DISPATCH_LEAST_CONN ? dispatch_least_conn(s)
                                                            : dispatch_shared(s);
}

/* ---------------------------------------------------------------- pods */

static int pods_place_pending(sim *s);
static int serverless_demand(sim *s);

static int64_t cold_start_us(sim *s, const pod *p, const gpu *g)
{
    unsigned kind = per_request(s) ? PHASE_SERVERLESS : PHASE_POD;
    bool cached = s->cfg->cluster.image_cache == IMAGE_CACHE_ALL ||
                  (s->cfg->cluster.image_cache == IMAGE_CACHE_NODE && g->has_image);
    double total_s = 0;
    const cluster_cfg *cc = &s->cfg->cluster;
    for (int i = 0; i < s->prof->n_phases + cc->n_extra_phases; i++) {
        const profile_phase *ph = i < s->prof->n_phases ? &s->prof->phase[i]
                                                        : &cc->extra_phase[i - s->prof->n_phases];
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

static int pod_create(sim *s)
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
    fifo_init(&p->local);
    s->count[POD_PENDING]++;
    s->active[s->n_active++] = pi;
    s->sum->pod_starts++;
    return pods_place_pending(s);
}

/* Picks a GPU for a pod: one with room for another instance, preferring (1) GPUs
 * already hosting instances when sharing (bin packing), (2) GPUs with the image. */
static uint32_t gpu_pick(const sim *s)
{
    uint32_t best = NONE;
    int best_score = -1;
    for (uint32_t i = 0; i < s->n_gpus; i++) {
        const gpu *g = &s->gpus[i];
        if (!g->provisioned || g->n_inst >= s->cfg->cluster.gpu_share)
            continue;
        int score = g->n_inst * 2 + (g->has_image ? 1 : 0);
        if (score > best_score) {
            best_score = score;
            best = i;
        }
    }
    return best;
}

static int pods_place_pending(sim *s)
{
    for (uint32_t i = 0; i < s->n_active; i++) {
        uint32_t pi = s->active[i];
        pod *p = &s->pods[pi];
        if (p->state != POD_PENDING)
            continue;
        uint32_t gi = gpu_pick(s);
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
                    int rc = schedule(s, now(s) + s->cfg->cluster.node_provision_us,
                                      EV_NODE_READY, k, 0);
                    if (rc < 0)
                        return rc;
                }
            }
            return 0;
        }
        gpu *g = &s->gpus[gi];
        g->n_inst++;
        p->gpu = gi;
        int rc = pod_set_state(s, p, POD_STARTING);
        if (rc < 0)
            return rc;
        p->gen++;
        rc = schedule(s, now(s) + cold_start_us(s, p, g), EV_POD_READY, pi, p->gen);
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

static int pod_gone(sim *s, uint32_t pi)
{
    pod *p = &s->pods[pi];
    if (p->gpu != NONE) {
        gpu *g = &s->gpus[p->gpu];
        if (p->state == POD_READY || p->state == POD_DRAINING)
            g->mem_used_bytes -= s->prof->model_mem_bytes;
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

static int pod_ready(sim *s, uint32_t pi)
{
    pod *p = &s->pods[pi];
    gpu *g = &s->gpus[p->gpu];
    int rc = pod_set_state(s, p, POD_READY);
    if (rc < 0)
        return rc;
    p->ready_us = now(s);
    g->mem_used_bytes += s->prof->model_mem_bytes;
    g->has_image = true;
    for (int k = 0; k < s->cfg->cluster.concurrency; k++) {
        rc = slot_push(s, pi);
        if (rc < 0)
            return rc;
    }
    rc = dispatch(s);
    if (rc == 0 && per_request(s) && p->n_svc == 0)
        rc = schedule(s, now(s) + (s->keep_alive_us >= 0 ? s->keep_alive_us : 0), EV_KEEPALIVE,
                      pi, p->gen);
    return rc;
}

static int pod_start_drain(sim *s, uint32_t pi)
{
    pod *p = &s->pods[pi];
    p->slot_gen++; /* its free slots take no new work */
    int rc = pod_set_state(s, p, POD_DRAINING);
    if (rc < 0)
        return rc;
    if (p->n_svc == 0 && p->local.len == 0)
        return pod_gone(s, pi);
    p->gen++;
    return schedule(s, now(s) + s->cfg->cluster.termination_grace_us, EV_DRAIN_DEADLINE, pi,
                    p->gen);
}

/* A request still held by a pod killed at its grace period, under least_conn: failed.
 * gpu_end_us: now if it was in service, -1 if it waited in the pod's queue. */
static int fail_drain_killed(sim *s, uint32_t r, int64_t gpu_end_us)
{
    req *x = &s->reqs[r];
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
static int pod_drain_deadline(sim *s, uint32_t pi)
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
        uint32_t r = g->svc[i];
        req *x = &s->reqs[r];
        if (x->pod != pi)
            continue;
        g->svc[i] = g->svc[--g->n_svc];
        s->reqs[g->svc[i]].svc_pos = i;
        g->mem_used_bytes -= x->mem_bytes;
        s->in_service_total--;
        pod_integrate(s, p);
        p->n_svc--;
        if (x->timed_out) {
            /* its client is gone: nothing to requeue or fail; the GPU stops now */
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
        for (uint32_t b = a; b > 0 && s->reqs[taken[b - 1]].arrival_us < s->reqs[taken[b]].arrival_us; b--) {
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
            fifo_push_front(s, &s->queue, r);
            s->sum->requeued++;
        } else {
            rc = fail_drain_killed(s, r, now(s));
        }
    }
    free(taken);
    while (rc == 0 && p->local.len > 0) {
        uint32_t r = p->local.head;
        fifo_remove(s, &p->local, r);
        s->queued_total--;
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
static int apply_desired(sim *s, int desired)
{
    if (desired < s->lo_pods)
        desired = s->lo_pods;
    if (desired > s->hi_pods)
        desired = s->hi_pods;
    if (desired != s->spec)
        s->sum->scale_events++;
    s->spec = desired;
    if (per_request(s))
        return 0; /* instances follow demand; the count is only a floor (see serverless) */
    int current = s->count[POD_PENDING] + s->count[POD_STARTING] + s->count[POD_READY];
    while (current < desired) {
        int rc = pod_create(s);
        if (rc < 0)
            return rc;
        current++;
    }
    static const pod_state victim_order[] = {POD_PENDING, POD_STARTING, POD_READY};
    for (int v = 0; v < 3 && current > desired; v++) {
        for (uint32_t i = s->n_active; i-- > 0 && current > desired;) {
            uint32_t pi = s->active[i];
            if (s->pods[pi].state != victim_order[v])
                continue;
            int rc;
            if (victim_order[v] == POD_READY) {
                rc = pod_start_drain(s, pi);
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
static int serverless_demand(sim *s)
{
    int conc = s->cfg->cluster.concurrency;
    int64_t capacity_coming = (int64_t)(s->count[POD_PENDING] + s->count[POD_STARTING]) * conc;
    int64_t waiting = (int64_t)s->queue.len;
    int instances = s->count[POD_PENDING] + s->count[POD_STARTING] + s->count[POD_READY];
    while (waiting > capacity_coming && instances < s->hi_pods) {
        int rc = pod_create(s);
        if (rc < 0)
            return rc;
        capacity_coming += conc;
        instances++;
    }
    return 0;
}

/* A serverless instance went idle: keep it for the keep-alive, or (pre-warm policy)
 * unload it now and load a fresh one prewarm_us later, kept for the keep-alive. */
static int instance_idle(sim *s, uint32_t pi)
{
    pod *p = &s->pods[pi];
    if (s->prewarm_us > 0) {
        int warm = s->count[POD_READY] + s->count[POD_STARTING];
        if (warm > s->spec) {
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

/* ---------------------------------------------------------------- completion */

static int record_completion(sim *s, req *x)
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
    return metrics_record_latency(&s->metrics, now(s), lat_s);
}

static int gpu_complete(sim *s, uint32_t gi)
{
    gpu *g = &s->gpus[gi];
    integrate(s);
    gpu_advance(s, g);
    uint32_t n_before = g->n_svc;
    bool any = false;
    uint32_t touched_pods[64];
    int n_touched = 0;
    for (uint32_t i = 0; i < g->n_svc;) {
        uint32_t r = g->svc[i];
        req *x = &s->reqs[r];
        if (x->tag > g->vt) {
            i++;
            continue;
        }
        any = true;
        g->svc[i] = g->svc[--g->n_svc];
        if (i < g->n_svc)
            s->reqs[g->svc[i]].svc_pos = i;
        g->mem_used_bytes -= x->mem_bytes;
        s->in_service_total--;
        uint32_t pi = x->pod;
        pod *p = &s->pods[pi];
        pod_integrate(s, p);
        p->n_svc--;
        int rc = 0;
        if (!x->timed_out) {
            tlist_remove(s, r);
            s->live_untimed--;
            rc = record_completion(s, x);
            if (rc == 0)
                rc = log_request(s, x, now(s), now(s), OUTCOME_COMPLETED);
            if (rc == 0 && x->user != NONE)
                rc = user_request_done(s, x->user, x->id);
        } else {
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

/* ---------------------------------------------------------------- timeouts */

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
        fifo_remove(s, x->state == RS_QUEUED ? &s->queue : &s->pods[x->pod].local, r);
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
static int timeouts_fire(sim *s)
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

/* ---------------------------------------------------------------- arrivals */

static int policy_on_arrival(sim *s);

static int admit(sim *s, uint64_t id, float mp, int32_t faces, uint32_t user)
{
    s->sum->arrived++;
    s->arrivals_since_scrape++;
    double mem = profile_req_mem_bytes(s->prof, mp, faces);
    if (s->prof->model_mem_bytes + mem > s->prof->gpu_mem_bytes ||
        (s->cfg->cluster.max_queue > 0 && s->queue.len >= (uint32_t)s->cfg->cluster.max_queue)) {
        bool too_large = s->prof->model_mem_bytes + mem > s->prof->gpu_mem_bytes;
        s->sum->rejected++;
        s->sum->rejected_by[too_large ? REJECT_TOO_LARGE : REJECT_NO_CAPACITY]++;
        req tmp = {.id = id, .arrival_us = now(s), .start_us = -1, .pod = NONE, .mp = mp,
                   .faces = faces, .user = user};
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
    memset(x, 0, sizeof(*x));
    x->id = id;
    x->arrival_us = now(s);
    x->start_us = -1;
    x->mp = mp;
    x->faces = faces;
    x->user = user;
    x->pod = NONE;
    x->demand_us = sim_request_demand_us(s->prof, s->rng.seed, id, mp, faces);
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
    fifo_push_back(s, &s->queue, r);
    rc = has_timeout(s) ? tlist_append(s, r) : 0;
    if (rc == 0 && s->cfg->policy->on_arrival)
        rc = policy_on_arrival(s);
    if (rc == 0)
        rc = dispatch(s);
    if (rc == 0 && per_request(s))
        rc = serverless_demand(s);
    return rc;
}

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
    return schedule(s, spec.arrival_us, EV_ARRIVAL, 0, 0);
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

static int user_request_done(sim *s, uint32_t user, uint64_t id)
{
    double think_us = rng_keyed_exponential(s->rng.seed, RNG_THINK, id, 0,
                                            (double)s->cfg->closed.think_mean_us);
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
        double off = rng_keyed_uniform(s->rng.seed, RNG_THINK, ((uint64_t)u << 32) | 0xffffffffu, 1) *
                     (double)s->cfg->closed.think_mean_us;
        int rc = schedule(s, now(s) + (int64_t)off, EV_USER_SEND, u, 0);
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* ---------------------------------------------------------------- metrics + policy */

static void fill_pod_counts(const sim *s, policy_obs *o)
{
    for (int st = 0; st < POD_STATES; st++)
        o->pods[st] = s->count[st];
    o->spec_replicas = s->spec;
    o->min_pods = s->lo_pods;
    o->max_pods = s->hi_pods;
    o->now_us = s->eng.now_us;
}

static int scrape(sim *s)
{
    integrate(s);
    metrics_sample *smp = metrics_begin_sample(&s->metrics, now(s), s->n_active);
    if (!smp)
        return oom(s);
    double interval = (double)s->cfg->metrics.scrape_interval_us;
    for (uint32_t gi = 0; gi < s->n_gpus; gi++) {
        gpu *g = &s->gpus[gi];
        double busy = g->busy_us + (g->busy_since_us >= 0 ? (double)(now(s) - g->busy_since_us) : 0);
        s->metrics.gpu_util[gi] = (busy - g->busy_us_at_scrape) / interval;
        g->busy_us_at_scrape = busy;
    }
    int billed = 0;
    for (uint32_t i = 0; i < s->n_active; i++) {
        pod *p = &s->pods[s->active[i]];
        pod_integrate(s, p);
        pod_obs *po = &smp->pods[i];
        memset(po, 0, sizeof(*po));
        po->pod_id = p->id;
        po->state = p->state;
        po->created_us = p->created_us;
        po->ready_since_us = p->ready_us;
        /* DCGM reports a GPU once a pod holds it; a pending pod has no metrics yet */
        po->has_metrics = p->state != POD_PENDING;
        if (p->gpu != NONE) {
            const gpu *g = &s->gpus[p->gpu];
            po->gpu_mem_frac = g->mem_used_bytes / s->prof->gpu_mem_bytes;
            po->gpu_util_frac = s->metrics.gpu_util[p->gpu];
        }
        po->in_flight = p->n_svc;
        po->concurrency = p->conc_integral_us / interval;
        p->conc_integral_us = 0;
        billed += is_billed(p->state);
    }
    smp->obs.n_pods = (int)s->n_active;
    double conc = s->sys_conc_integral_us / interval;
    s->sys_conc_integral_us = 0;
    metrics_end_sample(&s->metrics, smp, (double)s->queued_total, (double)s->in_service_total,
                       (double)s->arrivals_since_scrape * 1e6 / interval, conc);
    if (billed > s->metrics.max_pods)
        s->metrics.max_pods = billed;
    s->arrivals_since_scrape = 0;
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
        row.desired = s->spec;
        row.gpu_mem_frac = o->metric[OBS_GPU_MEM_FRAC];
        row.gpu_util_frac = o->metric[OBS_GPU_UTIL_FRAC];
        row.lat_p50_s = o->metric[OBS_LATENCY_P50_S];
        row.lat_p95_s = o->metric[OBS_LATENCY_P95_S];
        row.lat_p99_s = o->metric[OBS_LATENCY_P99_S];
        if (run_series_push(s->series, &row) < 0)
            return oom(s);
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

static int apply_decision(sim *s, const policy_decision *d)
{
    if (d->keep_alive_us >= 0)
        s->keep_alive_us = d->keep_alive_us;
    if (d->prewarm_us >= 0)
        s->prewarm_us = d->prewarm_us;
    if (d->desired_pods >= 0)
        return apply_desired(s, d->desired_pods);
    return 0;
}

/* The next policy sync: at its nominal time (a whole number of periods, so a drifting
 * wake-up never accumulates), plus the controller's wake-up latency when configured. A live
 * controller is never exactly on time (gpenlab drive: 74 to 199 us late at each 1 s tick of
 * the H200 validation run), so a record exactly one window or period old lies either side
 * of the policy's cutoff (HPA: `t > now - window`); on time, every such tie falls outside. */
static int schedule_sync(sim *s, int64_t nominal_us)
{
    int64_t late_us = 0;
    s->sync_tick++;
    s->sync_nominal_us = nominal_us;
    if (s->cfg->metrics.sync_jitter_us > 0) {
        double u = rng_keyed_uniform(s->rng.seed, RNG_SYNC, s->sync_tick, 0);
        late_us = (int64_t)(u * (double)(s->cfg->metrics.sync_jitter_us + 1));
    }
    return schedule(s, nominal_us + late_us, EV_SYNC, 0, 0);
}

static int policy_sync(sim *s)
{
    policy_obs obs;
    metrics_observe(&s->metrics, now(s), &obs);
    fill_pod_counts(s, &obs);
    policy_decision d;
    policy_decision_init(&d);
    int rc = s->cfg->policy->decide(s->pstate, &obs, &d, s->err);
    if (rc < 0)
        return rc;
    rc = apply_decision(s, &d);
    if (rc < 0)
        return rc;
    if (per_request(s)) {
        rc = serverless_demand(s);
        if (rc < 0)
            return rc;
    }
    if (s->horizon_set && s->sync_nominal_us + s->pinfo.sync_period_us > s->horizon_us)
        return 0;
    return schedule_sync(s, s->sync_nominal_us + s->pinfo.sync_period_us);
}

static int policy_on_arrival(sim *s)
{
    policy_obs obs;
    metrics_observe(&s->metrics, now(s), &obs);
    fill_pod_counts(s, &obs);
    policy_decision d;
    policy_decision_init(&d);
    int rc = s->cfg->policy->on_arrival(s->pstate, &obs, &d, s->err);
    if (rc < 0)
        return rc;
    return apply_decision(s, &d);
}

static int keepalive_expire(sim *s, uint32_t pi)
{
    pod *p = &s->pods[pi];
    if (p->state != POD_READY || p->n_svc != 0)
        return 0;
    int warm = s->count[POD_READY] + s->count[POD_STARTING];
    if (warm <= s->spec) /* the policy's floor of warm instances */
        return 0;
    return pod_gone(s, pi);
}

/* ---------------------------------------------------------------- the run */

double sim_request_demand_us(const gpu_profile *prof, uint64_t seed, uint64_t id, float mp,
                             int32_t faces)
{
    double jitter = profile_jitter_factor(prof, rng_keyed_uniform(seed, RNG_JITTER, id, 0),
                                          rng_keyed_normal(seed, RNG_JITTER, id, 1));
    return profile_demand_us(prof, mp, faces) * jitter;
}

static int oracle_prepass(const sim_cfg *cfg, double **work_per_s, uint64_t **arr_per_s,
                          int64_t *n_s, gp_error *err);

typedef struct oracle_data {
    double *work_s;     /* prefix sums of work per second */
    uint64_t *count;    /* prefix sums of arrivals per second */
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
    case EV_COMPLETE:
        s->gpus[ev->obj].pending_us = INT64_MIN;
        return gpu_complete(s, ev->obj);
    case EV_NODE_READY: {
        gpu *g = &s->gpus[ev->obj];
        g->provisioning = false;
        g->provisioned = true;
        return pods_place_pending(s);
    }
    case EV_POD_READY:
        return pod_ready(s, ev->obj);
    case EV_DRAIN_DEADLINE:
        return pod_drain_deadline(s, ev->obj);
    case EV_TIMEOUT:
        return timeouts_fire(s);
    case EV_ARRIVAL:
        return arrival(s);
    case EV_USER_SEND:
        return user_send(s, ev->obj);
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
        if (instances >= s->hi_pods || s->queue.len > 0)
            return 0; /* demand already brought instances */
        return pod_create(s);
    }
    case EV_KEEPALIVE:
        return keepalive_expire(s, ev->obj);
    case EV_SCRAPE:
        return scrape(s);
    case EV_SYNC:
        return policy_sync(s);
    case EV_HORIZON:
        s->stopped = true;
        return 0;
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

static int sim_setup(sim *s, const sim_cfg *cfg, oracle_data *od,
                     oracle_view *ov)
{
    const cluster_cfg *cc = &cfg->cluster;
    int rc = engine_init(&s->eng, 1024);
    if (rc < 0)
        return oom(s);
    rc = rng_set_init(&s->rng, cfg->seed);
    if (rc < 0)
        return oom(s);
    s->free_req = NONE;
    fifo_init(&s->queue);
    s->thead = s->ttail = NONE;
    s->keep_alive_us = -1;
    s->prewarm_us = -1;
    s->n_gpus = (uint32_t)(cc->gpus_max > cc->gpus ? cc->gpus_max : cc->gpus);
    s->gpus = calloc(s->n_gpus ? s->n_gpus : 1, sizeof(gpu));
    if (!s->gpus)
        return oom(s);
    for (uint32_t i = 0; i < s->n_gpus; i++) {
        s->gpus[i].provisioned = i < (uint32_t)cc->gpus;
        s->gpus[i].busy_since_us = -1;
        s->gpus[i].pending_us = INT64_MIN;
        s->gpus[i].has_image = cc->image_cache == IMAGE_CACHE_ALL;
    }
    rc = metrics_init(&s->metrics, &cfg->metrics, s->n_gpus);
    if (rc < 0)
        return oom(s);

    sim_policy_env(cfg, &s->penv);
    if (ov) {
        ov->ctx = od;
        ov->work_s = oracle_work;
        ov->arrivals = oracle_arrivals;
        ov->end_us = od->n * 1000000;
        s->penv.oracle = ov;
    }
    s->pinfo = (policy_info){.sync_period_us = 15 * 1000000LL, .flags = 0, .initial_pods = -1,
                             .min_pods = -1, .max_pods = -1};
    rc = cfg->policy->create(cfg->policy_cfg, &s->penv, &s->pstate, &s->pinfo, s->err);
    if (rc < 0)
        return rc;
    if (s->pinfo.sync_period_us <= 0)
        return gp_error_set(s->err, GP_ERANGE, NULL, 0, 0, cfg->policy->name,
                            "policy asked for a non-positive sync period");
    if (cfg->metrics.sync_jitter_us >= s->pinfo.sync_period_us)
        return gp_error_set(s->err, GP_ERANGE, NULL, 0, 0, "metrics.sync_jitter",
                            "sync_jitter (%lld us) is not below the policy's sync period "
                            "(%lld us)", (long long)cfg->metrics.sync_jitter_us,
                            (long long)s->pinfo.sync_period_us);
    s->lo_pods = cc->min_pods;
    s->hi_pods = cc->max_pods;
    if (s->pinfo.min_pods >= 0 && s->pinfo.min_pods > s->lo_pods)
        s->lo_pods = s->pinfo.min_pods;
    if (s->pinfo.max_pods >= 0 && s->pinfo.max_pods < s->hi_pods)
        s->hi_pods = s->pinfo.max_pods;
    if (s->lo_pods > s->hi_pods)
        return gp_error_set(s->err, GP_ERANGE, NULL, 0, 0, cfg->policy->name,
                            "the policy's bounds [%d, %d] do not meet the cluster's [%d, %d]",
                            s->pinfo.min_pods, s->pinfo.max_pods, cc->min_pods, cc->max_pods);
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

    oracle_data od = {0};
    oracle_view ov;
    int rc = 0;
    bool want_oracle = !cfg->closed_loop && (cfg->policy->traits & POLICY_T_NEEDS_ORACLE);
    if (want_oracle)
        rc = oracle_prepass(cfg, &od.work_s, &od.count, &od.n, err);
    if (rc == 0)
        rc = sim_setup(s, cfg, &od, want_oracle ? &ov : NULL);
    if (rc == 0) {
        int initial = s->pinfo.initial_pods >= 0 ? s->pinfo.initial_pods : s->lo_pods;
        /* pods present at t = 0 are already running: ready, image cached */
        int n0 = initial < s->lo_pods ? s->lo_pods : initial > s->hi_pods ? s->hi_pods : initial;
        s->spec = n0;
        for (int k = 0; rc == 0 && k < n0; k++) {
            rc = pod_create(s);
            if (rc == 0) {
                pod *p = &s->pods[s->n_pods - 1];
                if (p->state == POD_STARTING) {
                    p->gen++; /* cancel its cold start */
                    rc = pod_ready(s, s->n_pods - 1);
                }
            }
        }
        sum->pod_starts = 0; /* initial pods are not cold starts */
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
        rc = schedule(s, cfg->metrics.scrape_interval_us, EV_SCRAPE, 0, 0);
    if (rc == 0)
        rc = schedule_sync(s, s->pinfo.sync_period_us);

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
        sum->cost = sum->gpu_seconds / 3600.0 * cfg->cluster.price_per_gpu_hour;
        sum->mean_pods = sum->span_us > 0 ? s->billed_inst_us / (double)sum->span_us : 0;
        sum->lat_mean_s = sum->completed ? s->lat_sum_s / (double)sum->completed : NAN;
        sum->lat_max_s = sum->completed ? s->lat_max_s : NAN;
        metrics_overall_quantiles(&s->metrics, &sum->lat_p50_s, &sum->lat_p95_s, &sum->lat_p99_s,
                                  &sum->lat_p999_s, &sum->quantile_rel_error);
        uint64_t resolved = sum->arrived - sum->in_flight_end;
        sum->slo_frac = resolved ? (double)s->slo_met / (double)resolved : NAN;
        sum->max_pods_seen = metrics_max_pods(&s->metrics);
        if (sum->arrived != sum->completed + sum->timed_out + sum->rejected + sum->in_flight_end)
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

    if (s->pstate)
        cfg->policy->destroy(s->pstate);
    if (s->src)
        arrival_src_free(s->src);
    for (uint32_t i = 0; s->gpus && i < s->n_gpus; i++)
        free(s->gpus[i].svc);
    free(s->gpus);
    free(s->pods);
    free(s->active);
    free(s->reqs);
    free(s->slots);
    free(s->user_seq);
    metrics_free(&s->metrics);
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
        work[sec + 1] += sim_request_demand_us(cfg->profile, cfg->seed, id, spec.mp, spec.faces) / 1e6;
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
