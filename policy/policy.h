/* policy.h: the one interface every autoscaling policy implements.
 * A policy sees only a policy_obs: metrics as a monitoring stack reports them (scraped,
 * so they lag), the pod counts, and the time. It never reads simulator state, so the
 * live driver fills the same struct from Prometheus/Redis and runs the same code.
 * Every sync period the caller asks policy_ops.decide for a desired pod count; the
 * caller clamps it to [min_pods, max_pods], starts pods or drains the newest surplus.
 * A policy's state is its own history (recommendations, scale events, with t_us), so a
 * step is a pure function of (history, observation) and can be tested alone.
 * Policies are looked up by their YAML name in a static table (policy_find); what a
 * policy needs (the oracle) and the form it takes on a cluster are in its policy_ops
 * (traits, live), so no caller tests a policy's name. */
#ifndef GP_POLICY_H
#define GP_POLICY_H

#include <stdbool.h>
#include <stdint.h>

#include "base/cfg.h"
#include "base/error.h"

typedef enum {
    POD_PENDING = 0, /* waiting for a free GPU */
    POD_STARTING,    /* cold start: scheduling, image pull, CUDA init, weights, warm-up */
    POD_READY,       /* takes requests */
    POD_DRAINING,    /* SIGTERM received: finishes work, takes no new requests */
    POD_GONE,
    POD_STATES
} pod_state;

const char *pod_state_name(pod_state s);

/* One pod as the metrics pipeline last saw it. */
typedef struct pod_obs {
    uint64_t pod_id;
    pod_state state;
    int64_t created_us;     /* when the pod object was created */
    int64_t ready_since_us; /* -1 if never ready */
    bool has_metrics;       /* false: the pod's metrics are missing from the last scrape */
    double gpu_mem_frac;    /* DCGM framebuffer used / total, 0..1 */
    double gpu_util_frac;   /* busy fraction over the last scrape interval, 0..1 */
    double in_flight;       /* requests in service at the scrape */
    double concurrency;     /* mean requests in service over the scrape interval */
} pod_obs;

/* Names of the cluster-level metrics a policy can ask for by name (HPA/KEDA metric
 * names map to these; see policy/metric_map for the Prometheus/DCGM names). */
typedef enum {
    OBS_GPU_MEM_FRAC = 0, /* mean over ready pods of DCGM_FI_DEV_FB_USED/(USED+FREE) */
    OBS_GPU_UTIL_FRAC,    /* mean over ready pods of busy fraction (DCGM_FI_DEV_GPU_UTIL/100) */
    OBS_LATENCY_P50_S,    /* sliding-window quantiles of completed request latency */
    OBS_LATENCY_P95_S,
    OBS_LATENCY_P99_S,
    OBS_QUEUE_LEN,    /* LLEN gpen:pending */
    OBS_IN_FLIGHT,    /* requests in service, all pods */
    OBS_ARRIVAL_RATE, /* requests per second over the scrape interval */
    OBS_CONCURRENCY,  /* mean requests in the system (queued + in service) over the
                             scrape interval: what Knative's queue-proxy reports */
    OBS_METRICS
} obs_metric;

typedef struct policy_obs {
    int64_t now_us;
    int64_t scrape_us;          /* when the metrics below were sampled */
    bool metrics_valid;         /* false: no sample yet, or the source is down */
    double metric[OBS_METRICS]; /* NaN where a value is unavailable (e.g. no latency yet) */
    uint32_t latency_samples;   /* completed requests in the latency window */
    int spec_replicas;          /* the count currently asked for (scale.spec.replicas) */
    int pods[POD_STATES];       /* pods in each state, now (not lagged) */
    int min_pods, max_pods;
    int n_pods; /* entries of pod[] (pods not GONE) */
    const pod_obs *pod;
} policy_obs;

/* Why a decision was taken (reported per tick; like the HPA's condition reasons). */
typedef enum {
    POLICY_R_NONE = 0,
    POLICY_R_STATIC,
    POLICY_R_NO_METRICS, /* hold: metrics missing or invalid */
    POLICY_R_WITHIN_TOLERANCE,
    POLICY_R_SCALE_UP,
    POLICY_R_SCALE_DOWN,
    POLICY_R_SCALE_UP_LIMIT, /* capped by a rate policy */
    POLICY_R_SCALE_DOWN_LIMIT,
    POLICY_R_STABILIZED, /* held by a stabilisation window */
    POLICY_R_COOLDOWN,
    POLICY_R_PANIC,
    POLICY_R_ACTIVATE,   /* from zero */
    POLICY_R_DEACTIVATE, /* to zero */
    POLICY_R_FORECAST,
    POLICY_R_ORACLE,
    POLICY_R_BOUNDS, /* clamped to [min, max] */
    POLICY_R_COUNT
} policy_reason;

const char *policy_reason_name(int reason);

typedef struct policy_decision {
    int desired_pods;      /* -1: keep the current spec */
    int reason;            /* policy_reason */
    char detail[192];      /* one line: what was computed and why */
    int64_t keep_alive_us; /* per-request mode: an idle instance is kept this long.
                               -1: no change (until a policy sets one, 0: idle instances
                               go at once) */
    int64_t prewarm_us;    /* per-request mode: > 0: unload at idle and load a new
                               instance this long after, kept keep_alive_us; 0: no
                               pre-warm; -1: no change */
} policy_decision;

/* Optional knowledge of the future, for the clairvoyant bound only. Work is the
 * service demand in seconds on one idle GPU of the requests arriving in [t0, t1). */
typedef struct oracle_view {
    void *ctx;
    double (*work_s)(void *ctx, int64_t t0_us, int64_t t1_us);
    uint64_t (*arrivals)(void *ctx, int64_t t0_us, int64_t t1_us);
    int64_t end_us;
} oracle_view;

/* What the caller tells a policy when creating it. */
typedef struct policy_env {
    int min_pods, max_pods;
    int concurrency;           /* requests a pod serves at once */
    double pod_capacity_per_s; /* requests/s one pod sustains at the workload's mean demand */
    double mean_demand_s;      /* mean service demand of a request on an idle GPU */
    int64_t cold_start_us;     /* mean cold start of a pod, scale decision to ready */
    int64_t scrape_interval_us;
    uint64_t seed;
    const oracle_view *oracle; /* NULL unless the run provides foresight */
    void *host_ctx;            /* opaque data from the embedding program (tests, tools);
                                 NULL in experiments */
} policy_env;

#define POLICY_F_ACTIVATOR 1u /* scale from zero when a request arrives (on_demand) */
#define POLICY_F_PER_REQUEST \
    2u /* serverless: a request that finds no idle instance starts
                                   one; idle instances expire per keep_alive_us */

/* What a policy is, known before it is created (policy_ops.traits). Callers test these,
 * never a policy's name. */
#define POLICY_T_NEEDS_ORACLE \
    1u /* reads env->oracle: the run builds one from its trace
                                    (the clairvoyant bound) */

/* The form a policy takes on a cluster (policy_ops.live): what `gpenlab export` writes
 * for it and what runs it there. A policy has a live form unless POLICY_LIVE_NONE. */
typedef enum {
    POLICY_LIVE_NONE = 0,           /* none: live_none_why says why, live_closest names the nearest
                             policy that has one */
    POLICY_LIVE_FIXED,              /* a Deployment with a fixed replica count (the config's) */
    POLICY_LIVE_HPA,                /* an autoscaling/v2 HorizontalPodAutoscaler: the config is its
                             spec (+ kube-controller-manager flags) */
    POLICY_LIVE_KEDA,               /* a KEDA ScaledObject: the config is its spec */
    POLICY_LIVE_KNATIVE,            /* a Knative Service: the config's autoscaling annotations and
                             config-autoscaler keys */
    POLICY_LIVE_KNATIVE_KEEP_ALIVE, /* a Knative Service that starts a pod for work no pod
                             can take and keeps an idle pod for the config's keep-alive
                             (scale-down delay, scale-to-zero retention) */
    POLICY_LIVE_DRIVER              /* a Deployment scaled by `gpenlab drive` running this policy */
} policy_live;

/* What a policy tells the caller after creation. */
typedef struct policy_info {
    int64_t sync_period_us; /* how often decide() is called (default 15 s) */
    unsigned flags;         /* POLICY_F_* */
    int initial_pods;       /* pods at t = 0, -1: min_pods */
    int min_pods, max_pods; /* the policy's own bounds (e.g. an HPA's minReplicas /
                                 maxReplicas), -1: the cluster's; the caller clamps to
                                 the intersection of both */
} policy_info;

typedef struct policy_ops {
    const char *name; /* as in the YAML: "static", "hpa", ... */
    const char *summary;
    /* cfg is the `config:` map of the policy's entry in the experiment file (may be
     * NULL: defaults). The caller sets *info to defaults (sync 15 s, flags 0,
     * initial/min/max -1) before calling create. */
    int (*create)(const cfg_node *cfg, const policy_env *env, void **state, policy_info *info,
                  gp_error *err);
    int (*decide)(void *state, const policy_obs *obs, policy_decision *out, gp_error *err);
    /* Optional: a request arrived (per-request and activator policies learn from it).
     * May set out->desired_pods to ask for pods now (activator). */
    int (*on_arrival)(void *state, const policy_obs *obs, policy_decision *out, gp_error *err);
    void (*destroy)(void *state);
    unsigned traits;           /* POLICY_T_* */
    policy_live live;          /* its form on a cluster */
    const char *live_none_why; /* POLICY_LIVE_NONE: why (one clause) */
    const char *live_closest;  /* POLICY_LIVE_NONE: the name of the registered policy
                                  with a live form that comes closest */
} policy_ops;

/* Looks a policy up by name; NULL if unknown. */
const policy_ops *policy_find(const char *name);
/* All registered policies, NULL-terminated. */
const policy_ops *const *policy_all(void);

/* Initialises a decision to "no change". */
void policy_decision_init(policy_decision *d);

#endif
