/* sim.h: one simulated run: a workload against modelled pods driven by one policy.
 * sim_run wires the engine (engine.h), the pods and GPUs (processor sharing with eff(n),
 * memory admission, cold starts in phases, graceful drain), the shared FIFO queue or
 * least_conn dispatch, client timeouts, the metrics pipeline the policy sees (scraped,
 * windowed, delayed: never the ground truth), and the policy call every sync period.
 * It fills a run_summary (result.h), optionally a per-scrape series and per-request log,
 * and checks conservation (arrived = completed + timed_out + rejected + in flight) at
 * the end of every run (GP_EINVARIANT if it fails). Memory does not grow with the number
 * of requests unless the per-request log is on. Deterministic for a given cfg and seed.
 * A mixed fleet (cluster.n_pools > 0) has node pools of different cards, prices and
 * capacity (on demand, or spot with preemptions and a notice), one Deployment per pool or
 * one spread over the pools, memory-aware routing (a shared queue from which a worker
 * takes the first request its card can hold, or a router by megapixels in front of one
 * queue per pool), and per-pool results; the model: docs/model.md, "Mixed fleets". With
 * n_pools = 0 the run is the single pool of the cluster's own fields, as it always was. */
#ifndef GP_SIM_H
#define GP_SIM_H

#include <stdbool.h>
#include <stdint.h>

#include "base/error.h"
#include "policy/policy.h"
#include "profile/profile.h"
#include "sim/result.h"
#include "traces/trace.h"

typedef enum { DISPATCH_SHARED_QUEUE = 0, DISPATCH_LEAST_CONN } dispatch_mode;
typedef enum { IMAGE_CACHE_NONE = 0, IMAGE_CACHE_NODE, IMAGE_CACHE_ALL } image_cache_mode;
typedef enum { CAPACITY_ON_DEMAND = 0, CAPACITY_SPOT } capacity_kind;
/* One Deployment per pool, each with its own autoscaler (PER_POOL), or one Deployment
 * whose pods the scheduler places on the pools in their order (SPREAD: node affinity
 * preferred in that order). */
typedef enum { DEPLOY_PER_POOL = 0, DEPLOY_SPREAD } deployment_mode;
/* SHARED: one queue; a free worker takes the first request (in queue order) its card can
 * hold. ROUTER: a router in front of one queue per pool sends each request to the first
 * pool (in order) whose route_max_mp admits it and whose card can hold it, else to the
 * first pool whose card can hold it; that pool's workers serve the queue in order. */
typedef enum { ROUTING_SHARED = 0, ROUTING_ROUTER } routing_mode;

#define SIM_MAX_POOLS       8
#define SIM_MAX_PREEMPTIONS 100000 /* recorded preemption notices per pool */

/* A recorded preemption notice: at t_us, node `node` of the pool (0-based, in the pool's
 * GPU order) is told it will be taken; node -1: the lowest-numbered node that exists. */
typedef struct preemption_notice {
    int64_t t_us;
    int node;
} preemption_notice;

typedef struct pool_cfg {
    char name[32];
    const gpu_profile *profile;
    int gpus, gpus_max;        /* nodes (one GPU each) at t = 0, and at most */
    int64_t node_provision_us; /* a node added when pods wait comes this long after */
    double price_per_gpu_hour;
    image_cache_mode image_cache;
    int min_pods, max_pods; /* DEPLOY_PER_POOL: the bounds of this pool's Deployment */
    int concurrency;        /* requests one of its pods serves at once (0: the
                                    cluster's) */
    double route_max_mp;    /* ROUTING_ROUTER: requests up to this size (0: any) */
    capacity_kind capacity;
    /* CAPACITY_SPOT: each node is preempted at this Poisson rate (per node-hour; keyed by
     * run seed, pool name and node: common random numbers), and/or at the recorded
     * notices; a preempted node is taken notice_us after its notice */
    double preempt_rate_per_node_h;
    const preemption_notice *preempt; /* sorted by time; owned by the caller */
    int n_preempt;
    int64_t notice_us;
} pool_cfg;

typedef struct cluster_cfg {
    int gpus;                  /* GPUs in the node pool available at t = 0 */
    int gpus_max;              /* the pool may grow to this many (>= gpus) ... */
    int64_t node_provision_us; /* ... each extra GPU arriving this long after it is needed */
    int min_pods, max_pods;    /* bounds of the desired count */
    int concurrency;           /* requests a pod serves at once */
    dispatch_mode dispatch;
    int64_t timeout_us; /* client timeout; SIM_TIMEOUT_NONE (0): clients wait for
                                   their answer however long it takes */
    int64_t termination_grace_us;
    int64_t readiness_delay_us;   /* added after the profile's cold-start phases */
    image_cache_mode image_cache; /* NODE: a GPU that ran a pod keeps its image */
    int gpu_share;                /* instances per GPU (serverless sharing), >= 1 */
    int max_queue;                /* 0: unbounded; else arrivals beyond it are rejected */
    double price_per_gpu_hour;
    int64_t slo_us;            /* latency objective (default 5 s) */
    double start_interference; /* speed of the requests on a GPU while another pod on it
                                   is STARTING (context, weight upload, graph capture on a
                                   shared card); 0 (the default): the profile's value
                                   (`start_interference`, 1 when it has none) */
    /* Phases of a pod start that a GPU profile does not measure (scheduling, image pull,
     * container start: the cluster's part), after the profile's own, same syntax. */
    int n_extra_phases;
    profile_phase extra_phase[8];
    /* A mixed fleet: n_pools > 0 replaces the single pool above (gpus, gpus_max,
     * node_provision_us, price_per_gpu_hour, image_cache, the run's profile); min_pods and
     * max_pods stay the bounds of a DEPLOY_SPREAD Deployment. */
    int n_pools;
    pool_cfg pool[SIM_MAX_POOLS];
    deployment_mode deployments;
    routing_mode routing;
} cluster_cfg;

typedef struct metrics_cfg {
    int64_t scrape_interval_us; /* default 15 s */
    int64_t latency_window_us;  /* sliding window of latency quantiles, default 60 s */
    int64_t delay_us;           /* extra pipeline lag (adapter, recording rules) */
    int64_t sync_jitter_us;     /* each policy sync runs a uniform random 0 .. this after
                                   its nominal time k x sync period: a live controller's
                                   wake-up latency (0: exactly on time, the default) */
} metrics_cfg;

typedef struct closed_loop_cfg {
    int users;             /* users at t = 0 */
    int64_t think_mean_us; /* exponential think time */
    int ramp_step;         /* users added every ramp_every_us (0: no ramp) */
    int64_t ramp_every_us;
    int ramp_max;        /* stop adding at this many users */
    int64_t duration_us; /* run length (required for closed loops) */
    image_mix mix;
} closed_loop_cfg;

/* Opens the run's open-loop arrival source (called once per run, and once more for
 * the oracle's pre-pass when the policy needs foresight). */
typedef int (*sim_source_open)(void *ctx, uint64_t seed, arrival_src **out, gp_error *err);

/* Called now and then with simulated progress in [0, 1]; may be NULL. */
typedef void (*sim_progress_fn)(void *ctx, double frac);

/* A series row is about 100 bytes, a request row 64: 4 M series rows (a 15 s scrape
 * over 1.9 years, or 1 s over 46 days) hold about 380 MiB, 20 M request rows about
 * 1.2 GiB, per run and per sweep worker. */
#define SIM_MAX_SERIES_ROWS  INT64_C(4000000)
#define SIM_MAX_REQUEST_ROWS INT64_C(20000000)

typedef struct sim_cfg {
    cluster_cfg cluster;
    metrics_cfg metrics;
    const gpu_profile *profile;
    const policy_ops *policy;
    const cfg_node *policy_cfg; /* the policy entry's `config:` (may be NULL) */
    const char *label;          /* policy entry label, copied into the summary */
    uint64_t seed;
    int replication;
    int64_t horizon_us; /* 0: open loop runs until every request resolved;
                                    closed loop runs closed.duration_us */
    bool closed_loop;
    closed_loop_cfg closed;
    sim_source_open open_source; /* open loop */
    void *source_ctx;
    double mean_demand_s; /* workload's mean demand on an idle GPU (0: estimate
                                    from `mix` and the profile) */
    const image_mix *mix; /* the open-loop workload's image mix (NULL: default);
                                    closed loops use closed.mix */
    bool record_series;
    bool record_requests;
    /* Rows a run keeps in memory: checked before the run starts (its span and scrape
     * interval, its source's expected arrivals) and while it runs (a hard cap), each an
     * error that names the option raising it. 0: SIM_MAX_SERIES_ROWS / _REQUEST_ROWS. */
    int64_t max_series_rows;
    int64_t max_request_rows;
    sim_progress_fn progress;
    void *progress_ctx;
    void *policy_host_ctx;       /* passed to the policy as policy_env.host_ctx */
    preemption_log *preempt_log; /* optional: every preemption notice that took a node */
} sim_cfg;

#define SIM_TIMEOUT_NONE  0
/* Without a timeout, an open-loop run ends when every request is answered; if, after the
 * last arrival, no request starts or completes for this long (two days of simulated
 * time: longer than any node provisioning, grace period or cold start the configuration
 * allows), nothing will take what still waits, and the run ends with it in flight. */
#define SIM_STALL_US      (2 * 86400 * 1000000LL)
/* Largest service demand of one request (about 31 years): keeps the processor-sharing
 * arithmetic (2^-64 us units in 128 bits) and the clock far from overflow. */
#define SIM_MAX_DEMAND_US 1e15

void cluster_cfg_default(cluster_cfg *c);
void metrics_cfg_default(metrics_cfg *m);

int sim_run(const sim_cfg *cfg, run_summary *sum, run_series *series, request_log *log,
            gp_error *err);

/* The service demand (us, on an idle GPU, jitter included) of request `id` of a run with
 * this seed: the profile's demand for (mp, faces) times the request's keyed jitter. The
 * same for every policy (common random numbers); the oracle's foresight uses it too. */
double sim_request_demand_us(const gpu_profile *prof, uint64_t seed, uint64_t id, float mp,
                             int32_t faces);

/* The policy_env a run gives its policy (bounds, concurrency, mean demand and pod
 * capacity estimated from the image mix and profile, mean cold start, scrape interval,
 * seed), without the oracle. The live driver builds its env with the same function, so
 * a policy decides alike in both. */
void sim_policy_env(const sim_cfg *cfg, policy_env *env);

/* The Deployments of a run: 1 without pools or with DEPLOY_SPREAD, else one per pool. */
int sim_deployments(const sim_cfg *cfg);
/* Deployment `dep`'s pools: [*first, *first + *n) in cluster.pool (none without pools). */
void sim_deployment_pools(const sim_cfg *cfg, int dep, int *first, int *n);
/* The env Deployment `dep`'s policy gets: its bounds, and the mean demand, pod capacity
 * and cold start on its (first) pool's card. dep 0 without pools: sim_policy_env. */
void sim_deployment_env(const sim_cfg *cfg, int dep, policy_env *env);
/* Checks a fleet: pool names, bounds, preemption lists, and the policies a fleet can run
 * (one pool for per-request and clairvoyant policies). */
int sim_check_fleet(const sim_cfg *cfg, gp_error *err);

#endif
