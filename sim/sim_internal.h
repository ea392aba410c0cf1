/* sim_internal.h: the shared internals of one simulated run, private to sim/ (sim.c,
 * cluster.c, sharing.c, dispatch.c); nothing outside sim/ includes it (the contract of a
 * run is sim.h). The run state (struct sim) and its objects live in arrays and refer to
 * each other by index: requests (a pool with a free list, so memory follows the number
 * of live requests, not the total), pods (grow-only, one per pod ever created) and GPUs
 * (the node pool). Events carry an index and a generation; a stale generation means the
 * event was cancelled. Every function returns 0 or a negative GP_E* code set in s->err. */
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

enum { RS_FREE = 0, RS_QUEUED, RS_POD_QUEUED, RS_SERVICE };

typedef struct req {
    uint64_t id;
    int64_t arrival_us, start_us;
    ps_units work;        /* work to do when it (re)starts: demand (+ a first-request extra) */
    double demand_us;     /* demand on an idle GPU (as drawn), for the log */
    double mem_bytes;
    uint32_t qnext, qprev; /* links in a FIFO (shared queue or a pod's local queue) */
    uint32_t tnext, tprev; /* links in the timeout list (arrival order) */
    uint32_t pod;          /* holding pod, NONE */
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

/* A request in service on a GPU, with its finish tag (the GPU's vt at which it is done):
 * kept beside the index so that completions and rescheduling read one array. */
typedef struct svc_entry {
    ps_units tag;
    uint32_t r;
} svc_entry;

typedef struct gpu {
    svc_entry *svc;       /* requests in service */
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

/* Shares floor(eff(n) 2^64 / n) kept for n below this (sharing.c). */
#define SIM_SHARE_TABLE 64

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
    uint32_t slot_head, slot_len, slot_cap; /* slot_cap: 0 or a power of two */

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
    uint32_t arrival_timer; /* the engine's timer of the next arrival */
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
    [EV_COMPLETE] = 0, [EV_NODE_READY] = 1, [EV_POD_READY] = 1, [EV_DRAIN_DEADLINE] = 2,
    [EV_TIMEOUT] = 3, [EV_ARRIVAL] = 4, [EV_USER_SEND] = 4, [EV_RAMP] = 5,
    [EV_KEEPALIVE] = 5, [EV_PREWARM] = 5, [EV_SCRAPE] = 6, [EV_SYNC] = 7, [EV_HORIZON] = 9,
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
        return gp_error_set(s->err, GP_EINVARIANT, NULL, 0, 0, NULL,
                            "event scheduled in the past");
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

/* The experiment's cluster.start_interference, else the profile's. */
static inline double start_interference(const sim *s)
{
    double c = s->cfg->cluster.start_interference;
    return c > 0 ? c : s->prof->start_interference;
}

static inline bool per_request(const sim *s) { return s->pinfo.flags & POLICY_F_PER_REQUEST; }

static inline bool has_timeout(const sim *s) { return s->cfg->cluster.timeout_us > 0; }

static inline int64_t deadline_us(const sim *s, const req *x)
{
    return x->arrival_us + s->cfg->cluster.timeout_us;
}

/* ---- cluster and pod life cycle (cluster.c) ---- */

/* A new pod, PENDING, placed on a GPU (STARTING) when one is free. */
int pod_create(sim *s);
/* Places pending pods on free GPUs, or asks the pool for more. */
int pods_place_pending(sim *s);
int pod_ready(sim *s, uint32_t pi);
int pod_gone(sim *s, uint32_t pi);
/* Grace period over: requeue (shared queue) or fail (least_conn) what it still holds. */
int pod_drain_deadline(sim *s, uint32_t pi);
/* Applies a desired pod count (clamped), starting or removing pods. */
int apply_desired(sim *s, int desired);
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
int log_request(sim *s, const req *x, int64_t end_us, int64_t gpu_end_us,
                request_outcome outcome);
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

/* ---- the run loop (sim.c) ---- */

/* Closed loop: the user's request resolved now; it thinks, then sends the next. */
int user_request_done(sim *s, uint32_t user, uint64_t id);
/* The policy's on_arrival hook (per-request policies). */
int policy_on_arrival(sim *s);

#endif
