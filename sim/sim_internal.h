/* sim_internal.h: the shared internals of one simulated run, private to sim/ (sim.c,
 * cluster.c, sharing.c, dispatch.c, fleet.c); nothing outside sim/ includes it (the
 * contract of a run is sim.h). The run state (struct sim) and its objects live in arrays
 * and refer to each other by index: requests (a pool with a free list, so memory follows
 * the number of live requests, not the total), pods (grow-only, one per pod ever created),
 * GPUs (one per node of every node pool, pool by pool), node pools and Deployments (one of
 * each without a mixed fleet). Events carry an index and a generation; a stale generation
 * means the event was cancelled. Every function returns 0 or a negative GP_E* code set in
 * s->err. Waiting requests are in lanes: one FIFO per set of pools that may serve them
 * (shared queue: the pools whose card can hold the request; router: the pool it was routed
 * to); without a mixed fleet there is one lane, the shared queue. */
#ifndef GP_SIM_INTERNAL_H
#define GP_SIM_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

#include "base/rng.h"
#include "sim/engine.h"
#include "sim/metrics.h"
#include "sim/sim.h"

#define NONE UINT32_MAX

/* Processor-sharing work: 2^-64 us of work at speed 1 (see sharing.c). */
typedef __int128 ps_units;
#define PS_SHIFT 64

/* Event kinds and their priority at equal times: work finishes before new work
 * arrives, so an arrival sees the capacity freed at the same instant; a request that
 * completes exactly at its deadline counts as completed; metrics are scraped before
 * the policy that reads them runs. */
enum {
    EV_COMPLETE = 0,   /* obj: gpu */
    EV_NODE_READY,     /* obj: gpu */
    EV_POD_READY,      /* obj: pod */
    EV_DRAIN_DEADLINE, /* obj: pod */
    EV_TIMEOUT,        /* obj: - */
    EV_ARRIVAL,        /* obj: - */
    EV_USER_SEND,      /* obj: user */
    EV_RAMP,           /* obj: - */
    EV_KEEPALIVE,      /* obj: pod */
    EV_PREWARM,        /* obj: - */
    EV_SCRAPE,         /* obj: - */
    EV_SYNC,           /* obj: deployment */
    EV_HORIZON,        /* obj: - */
    EV_PREEMPT,        /* obj: gpu (a spot node's next Poisson notice); gen: its count */
    EV_PREEMPT_LIST,   /* obj: pool; gen: index in its recorded notices */
    EV_RECLAIM         /* obj: gpu; gen: the gpu's reclaim generation */
};

enum { RS_FREE = 0, RS_QUEUED, RS_POD_QUEUED, RS_SERVICE };

typedef struct req {
    uint64_t id;
    int64_t arrival_us, start_us;
    ps_units work;    /* work to do when it (re)starts: demand (+ a first-request extra) */
    double demand_us; /* demand on an idle GPU (as drawn), for the log */
    double mem_bytes;
    uint32_t qnext, qprev; /* links in a FIFO (shared queue or a pod's local queue) */
    uint32_t tnext, tprev; /* links in the timeout list (arrival order) */
    uint32_t pod;          /* holding pod, NONE */
    uint32_t user;         /* closed-loop user, NONE for open loop */
    float mp;
    int32_t faces;
    uint8_t state;
    uint8_t timed_out; /* already counted as timed out; still running */
    uint8_t cold;
    uint8_t in_tlist;
    uint8_t lane;      /* the lane it waits in (RS_QUEUED) */
    uint8_t pool_mask; /* mixed fleet: the pools whose card can hold it */
    int64_t qkey;      /* its place in the queues: lanes merge in this order */
} req;

typedef struct fifo {
    uint32_t head, tail, len;
} fifo;

/* A request in service on a GPU, with its finish tag (the GPU's vt at which it is done):
 * kept beside the index so that completions and rescheduling read one array. */
typedef struct svc_entry {
    ps_units tag;
    uint32_t r;
} svc_entry;

typedef struct gpu {
    svc_entry *svc; /* requests in service */
    uint32_t n_svc, cap_svc;
    double mem_used_bytes; /* models of ready/draining pods + requests in service */
    int64_t last_us;       /* last processor-sharing update */
    ps_units vt;           /* work received by each request in service since idle */
    ps_units rate;         /* units per us of each request in service */
    int64_t pending_us;    /* time of the completion event in the heap, INT64_MIN none */
    int n_inst;            /* pods placed on it */
    int n_starting;        /* of them, in their cold start (cluster.start_interference) */
    bool provisioned, provisioning, has_image;
    bool reclaiming; /* preempted: its node goes at the end of the notice */
    uint8_t pool;
    uint32_t reclaim_gen;
    uint32_t preempt_count;  /* Poisson notices drawn so far (the key of the next) */
    const gpu_profile *prof; /* its pool's card */
    int64_t busy_since_us;   /* -1 when idle */
    double busy_us;          /* total busy time before busy_since_us */
    double busy_us_at_scrape;
} gpu;

typedef struct pod {
    uint64_t id;
    pod_state state;
    uint32_t gpu; /* NONE while pending */
    int64_t created_us, ready_us;
    uint32_t gen;      /* lifecycle events: ready, drain deadline, keep-alive */
    uint32_t slot_gen; /* bumped when the pod stops taking work */
    int n_svc;
    fifo local;                /* least_conn: requests routed here, waiting */
    uint8_t dep;               /* its Deployment */
    uint8_t pool;              /* its GPU's pool (valid once placed) */
    int64_t drain_deadline_us; /* DRAINING: when what it holds is taken back */
    bool served_first;
    int64_t conc_last_us;
    double conc_integral_us; /* integral of n_svc dt since the last scrape */
} pod;

typedef struct slot {
    uint32_t pod, gen;
} slot;

/* A node pool of the run (one without a mixed fleet: the cluster's own fields). */
typedef struct pool_rt {
    const pool_cfg *cfg;
    const gpu_profile *prof;
    uint32_t gpu_lo, gpu_hi; /* its GPUs: [gpu_lo, gpu_hi) */
    uint32_t dep;            /* its Deployment */
    uint32_t lane;           /* router: its lane */
    int n_billed;            /* billed pods now */
    int64_t bill_last_us;
    double billed_inst_us;
    int64_t in_service, local_queued; /* requests in service on it / in its pods' queues */
    pool_result res;                  /* counts as they happen; the figures at the end */
    qhist lat;                        /* latency of the requests answered here (mixed fleet) */
} pool_rt;

/* A Deployment: its pods, its policy and what that policy sees. */
typedef struct dep_rt {
    uint32_t pool_lo, pool_hi; /* its pools, in affinity order */
    void *pstate;
    policy_info pinfo;
    policy_env penv;
    int lo_pods, hi_pods;
    int spec; /* desired pod count currently applied */
    int count[POD_STATES];
    int64_t sync_nominal_us; /* nominal time of the pending policy sync (k x period) */
    uint64_t sync_tick;      /* k of that sync */
    metrics_pipe metrics;    /* what its policy sees */
    uint64_t arrivals_since_scrape;
    double conc_integral_us; /* integral of (its queue + in service) dt since the scrape */
    int64_t conc_last_us;
} dep_rt;

#define SIM_MAX_LANES 256

/* Shares floor(eff(n) 2^64 / n) kept for n below this (sharing.c). */
#define SIM_SHARE_TABLE 64

typedef struct sim {
    const sim_cfg *cfg;
    const gpu_profile *prof; /* the first pool's card */
    engine eng;
    rng_set rng;
    gp_error *err;

    req *reqs;
    uint32_t n_reqs, cap_reqs, free_req;
    fifo *lane;         /* lane 0: the shared queue, gpen:pending */
    uint8_t *lane_mask; /* the pools that serve each lane */
    uint32_t n_lanes;
    int16_t lane_of_mask[SIM_MAX_LANES]; /* shared queue: the lane of a set of pools */
    uint32_t waiting;                    /* requests in the lanes */
    int64_t qkey_back, qkey_front;
    uint32_t thead, ttail; /* timeout list */
    bool timer_pending;

    pod *pods;
    uint32_t n_pods, cap_pods;
    uint32_t *active; /* indices of pods not GONE, in creation order */
    uint32_t n_active, cap_active;
    int count[POD_STATES]; /* over every Deployment */
    gpu *gpus;
    uint32_t n_gpus;
    pool_rt *pool;
    uint32_t n_pools;
    pool_cfg single_pool; /* without a mixed fleet: the cluster's own pool */
    bool fleet;           /* a mixed fleet (cluster.n_pools > 0): per-pool results */
    bool multi;           /* more than one pool: cards differ, lanes, per-pool accounting */
    dep_rt *dep;
    uint32_t n_deps;
    metrics_pipe fleet_metrics; /* multi: the fleet's latencies, series and summary */
    metrics_pipe *fm;           /* the fleet's pipe: &fleet_metrics, or the one Deployment's */
    double *gpu_util;           /* busy fraction of each GPU over the last scrape interval */

    slot *slots;                            /* ring of free worker slots */
    uint32_t slot_head, slot_len, slot_cap; /* slot_cap: 0 or a power of two */

    /* per-request (serverless) policies: one Deployment */
    int64_t keep_alive_us, prewarm_us;
    uint32_t prewarm_gen;

    /* workload */
    uint32_t arrival_timer; /* the engine's timer of the next arrival */
    arrival_src *src;
    request_spec next_arrival;
    bool have_next;
    uint64_t next_id;
    uint32_t *user_seq; /* closed loop: requests sent per user */
    int n_users, cap_users;

    /* accounting */
    run_summary *sum;
    run_series *series;
    request_log *log;
    int n_billed; /* pods billed now, in instances */
    int64_t bill_last_us;
    double billed_inst_us;
    int64_t queued_total; /* requests waiting: shared + local queues */
    int64_t in_service_total;
    int64_t live_untimed;        /* requests queued or in service not yet timed out */
    double sys_conc_integral_us; /* integral of (queued + in service) dt */
    int64_t sys_conc_last_us;
    uint64_t fleet_arrivals; /* many Deployments: arrivals since the scrape, all of them */
    int64_t horizon_us;
    bool horizon_set;
    bool source_done;    /* open loop: the last arrival has come */
    int64_t progress_us; /* last start or completion of a request */
    uint64_t events;     /* handled events (run_summary.events) */
    bool stopped;
    double lat_sum_s;
    double lat_max_s;
    uint64_t slo_met;
    ps_units share_of[SIM_SHARE_TABLE]; /* 0: not computed yet */
} sim;

static inline int oom(sim *s)
{
    return gp_error_set(s->err, GP_ENOMEM, NULL, 0, 0, NULL, "out of memory");
}

/* A row log at its cap (result.h's GP_ELIMIT, from sim_cfg's max_*_rows) or out of
 * memory; the error names the option that raises the cap. */
static inline int rows_full(sim *s, int rc, const char *what, size_t max, const char *option)
{
    if (rc != GP_ELIMIT)
        return oom(s);
    return gp_error_set(s->err, GP_ELIMIT, NULL, 0, 0, option,
                        "more than %zu %s in one run: raise %s, or keep fewer rows", max, what,
                        option);
}

static inline int grow(void **arr, uint32_t *cap, size_t elem, uint32_t need)
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

static const uint8_t sim_ev_prio[] = {
    [EV_COMPLETE] = 0,  [EV_NODE_READY] = 1, [EV_POD_READY] = 1,    [EV_DRAIN_DEADLINE] = 2,
    [EV_TIMEOUT] = 3,   [EV_ARRIVAL] = 4,    [EV_USER_SEND] = 4,    [EV_RAMP] = 5,
    [EV_KEEPALIVE] = 5, [EV_PREWARM] = 5,    [EV_SCRAPE] = 6,       [EV_SYNC] = 7,
    [EV_HORIZON] = 9,   [EV_PREEMPT] = 2,    [EV_PREEMPT_LIST] = 2, [EV_RECLAIM] = 2,
};

static inline int schedule(sim *s, int64_t t_us, int kind, uint32_t obj, uint32_t gen)
{
    int rc = engine_schedule(&s->eng, t_us, sim_ev_prio[kind], (uint8_t)kind, obj, gen);
    if (rc < 0)
        return gp_error_set(s->err, rc, NULL, 0, 0, NULL,
                            rc == GP_ENOMEM ? "out of memory" : "event scheduled in the past");
    return 0;
}

/* Sets one of the run's timers (engine.h): the next arrival (s->arrival_timer,
 * EV_ARRIVAL); the event it replaces never fires. */
static inline int set_timer(sim *s, uint32_t timer, int64_t t_us)
{
    if (engine_timer_set(&s->eng, timer, t_us) < 0)
        return gp_error_set(s->err, GP_EINVARIANT, NULL, 0, 0, NULL, "event scheduled in the past");
    return 0;
}

static inline int64_t now(const sim *s) { return s->eng.now_us; }

static inline void fifo_init(fifo *q) { q->head = q->tail = NONE, q->len = 0; }

static inline void fifo_push_back(sim *s, fifo *q, uint32_t r)
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

static inline void fifo_push_front(sim *s, fifo *q, uint32_t r)
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

static inline void fifo_remove(sim *s, fifo *q, uint32_t r)
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

void fleet_integrate(sim *s);

/* Time integrals must be brought up to date before any count they integrate changes. */
static inline void integrate(sim *s)
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
    if (s->multi)
        fleet_integrate(s);
}

static inline void pod_integrate(sim *s, pod *p)
{
    int64_t t = now(s);
    p->conc_integral_us += (double)p->n_svc * (double)(t - p->conc_last_us);
    p->conc_last_us = t;
}

static inline bool is_billed(pod_state st)
{
    return st == POD_STARTING || st == POD_READY || st == POD_DRAINING;
}

/* The experiment's cluster.start_interference, else the card's. */
static inline double start_interference(const sim *s, const gpu_profile *prof)
{
    double c = s->cfg->cluster.start_interference;
    return c > 0 ? c : prof->start_interference;
}

static inline bool per_request(const sim *s)
{
    return s->dep[0].pinfo.flags & POLICY_F_PER_REQUEST;
}

/* Requests a pod on pool p serves at once: the pool's, else the cluster's. */
static inline int pool_concurrency(const sim *s, uint32_t p)
{
    int c = s->pool[p].cfg->concurrency;
    return c > 0 ? c : s->cfg->cluster.concurrency;
}

/* Lanes: a request joins the back of its lane, or its head (put back). */
static inline void lane_push_back(sim *s, uint32_t r)
{
    req *x = &s->reqs[r];
    x->qkey = ++s->qkey_back;
    fifo_push_back(s, &s->lane[x->lane], r);
    s->waiting++;
}

static inline void lane_push_front(sim *s, uint32_t r)
{
    req *x = &s->reqs[r];
    x->qkey = --s->qkey_front;
    fifo_push_front(s, &s->lane[x->lane], r);
    s->waiting++;
}

static inline void lane_remove(sim *s, uint32_t r)
{
    fifo_remove(s, &s->lane[s->reqs[r].lane], r);
    s->waiting--;
}

static inline bool has_timeout(const sim *s) { return s->cfg->cluster.timeout_us > 0; }

static inline int64_t deadline_us(const sim *s, const req *x)
{
    return x->arrival_us + s->cfg->cluster.timeout_us;
}

/* ---- cluster and pod life cycle (cluster.c) ---- */

/* A GPU of [lo, hi) for a pod: one with room for another instance, preferring (1) GPUs
 * already hosting instances when sharing (bin packing), (2) GPUs with the image; NONE. */
uint32_t gpu_pick_in(const sim *s, uint32_t lo, uint32_t hi);
/* A new pod of Deployment d, PENDING, placed on a GPU (STARTING) when one is free. */
int pod_create(sim *s, uint32_t d);
/* Places pending pods on free GPUs, or asks the pool for more. */
int pods_place_pending(sim *s);
int pod_ready(sim *s, uint32_t pi);
int pod_gone(sim *s, uint32_t pi);
/* Grace period over: requeue (shared queue) or fail (least_conn) what it still holds. */
int pod_drain_deadline(sim *s, uint32_t pi);
/* Applies a desired pod count (clamped) to Deployment d, starting or removing pods. */
int apply_desired(sim *s, uint32_t d, int desired);
/* The ReplicaSet controller: pods up to Deployment d's spec again (after a preemption). */
int dep_reconcile(sim *s, uint32_t d);
/* Ready pod pi drains until deadline_us at the latest (its grace period, a notice). */
int pod_start_drain(sim *s, uint32_t pi, int64_t deadline_us);
/* Serverless: an instance for every waiting request, up to the bound. */
int serverless_demand(sim *s);
/* A serverless instance went idle. */
int instance_idle(sim *s, uint32_t pi);
int keepalive_expire(sim *s, uint32_t pi);

/* ---- processor sharing (sharing.c) ---- */

/* A non-negative double (us) in ps_units, rounded up (round_up) or down below 2^-12. */
ps_units ps_from_double(double x, bool round_up);
/* Brings the GPU's virtual time to now (O(1)). */
void gpu_advance(sim *s, gpu *g);
/* Sets the GPU's share for its current requests; a completion event no later than the
 * next completion. */
int gpu_reschedule(sim *s, uint32_t gi);
/* Busy-time accounting after the number in service changed from n_before. */
void gpu_busy_update(sim *s, gpu *g, uint32_t n_before);
/* Request r starts on pod pi's GPU now. */
int start_service(sim *s, uint32_t r, uint32_t pi);
/* EV_COMPLETE: the GPU's requests whose work is done complete; freed slots refill. */
int gpu_complete(sim *s, uint32_t gi);

/* ---- dispatch and queue (dispatch.c) ---- */

void req_free(sim *s, uint32_t r);
void tlist_remove(sim *s, uint32_t r);
/* One per-request row (end_us: the client's end; gpu_end_us: the GPU's, -1 none). */
int log_request(sim *s, const req *x, int64_t end_us, int64_t gpu_end_us, request_outcome outcome);
/* Pod pi's free slot joins the slot FIFO (shared-queue mode). */
int slot_push(sim *s, uint32_t pi);
/* least_conn: pod pi starts requests from its own queue. */
int pod_pull_local(sim *s, uint32_t pi);
/* Waiting requests to free slots (first expiring those whose deadline is now). */
int dispatch(sim *s);
/* EV_TIMEOUT: every request whose deadline has come. */
int timeouts_fire(sim *s);
/* A request arrives now (user: closed-loop user, NONE for open loop). */
int admit(sim *s, uint64_t id, float mp, int32_t faces, uint32_t user);

/* ---- mixed fleets (fleet.c) ---- */

/* Sets up the pools, GPUs, lanes and Deployments of the run (before the policies). */
int fleet_setup(sim *s);
void fleet_free(sim *s);
/* The GPU for a pending pod of Deployment d (its pools in order), NONE when none is free. */
uint32_t fleet_gpu_pick(const sim *s, uint32_t d);
/* Asks Deployment d's pools for nodes for `waiting` pods that found no GPU. */
int fleet_grow(sim *s, uint32_t d, int waiting);
/* A request of size (mp, faces) arrives: the pools that can hold it (*mask, 0: none) and
 * the lane it waits in. */
void fleet_route(sim *s, float mp, int32_t faces, uint8_t *mask, uint8_t *lane);
/* Whether pod p's GPU has room for request x now. */
bool fleet_fits_now(const sim *s, const pod *p, const req *x);
/* Free slots take the first request their card can hold (many pools). */
int fleet_dispatch_shared(sim *s);
/* least_conn: each waiting request to the least-loaded ready pod that can hold it. */
int fleet_dispatch_least_conn(sim *s);
/* The first spot preemptions, the per-pool scrape, the results at the end. */
int fleet_schedule_preemptions(sim *s);
int fleet_preempt_event(sim *s, int kind, uint32_t obj, uint32_t gen);
int fleet_reclaim(sim *s, uint32_t gi, uint32_t gen);
int fleet_finish(sim *s);

/* ---- the run loop (sim.c) ---- */

/* Closed loop: the user's request resolved now; it thinks, then sends the next. */
int user_request_done(sim *s, uint32_t user, uint64_t id);
/* Deployment d's policy's on_arrival hook (per-request and activator policies). */
int policy_on_arrival(sim *s, uint32_t d);
/* sim_request_demand_us with the request's place on the card's grid already found (the
 * same value: admission finds it once for the demand and the memory). */
double request_demand_at_us(const gpu_profile *prof, profile_at at, uint64_t seed, uint64_t id,
                            int32_t faces);

#endif
