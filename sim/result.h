/* result.h: what one simulated run produces, in memory, before it is written out.
 * run_summary holds the per-run figures; run_series the per-scrape time series; and
 * request_log the optional per-request rows (off by default: memory grows with requests).
 * All times are int64 microseconds of simulated time; latencies in the summary are
 * seconds (doubles) because they are outputs, not clock values. */
#ifndef GP_RESULT_H
#define GP_RESULT_H

#include <stdint.h>
#include <stddef.h>

typedef enum {
    REJECT_TOO_LARGE = 0, /* alone it cannot fit on any GPU in the pool */
    REJECT_NO_CAPACITY,   /* max_queue reached */
    REJECT_DRAIN_KILLED,  /* least_conn: still held by a pod killed at its grace period */
    REJECT_REASONS
} reject_reason;

typedef enum {
    OUTCOME_COMPLETED = 0,
    OUTCOME_TIMED_OUT,
    OUTCOME_REJECTED,
    OUTCOME_IN_FLIGHT, /* still queued or in service when the run ended */
    OUTCOMES
} request_outcome;

#define RESULT_MAX_POOLS 8 /* = SIM_MAX_POOLS */

/* One node pool of a mixed fleet (run_summary.pool). Requests on a pool:
 * served = completed + finished_late + requeued + failed + in service at the end, where
 * finished_late are those whose client had left (timed out) when the GPU finished or was
 * stopped, and requeued / failed those taken back when a pod's grace period or its node's
 * preemption notice ran out (requeued in shared-queue and router modes, failed under
 * least_conn); the run checks it. */
typedef struct pool_result {
    char name[32];
    char card[48];
    int32_t spot;          /* 1: spot capacity */
    int32_t max_pods_seen; /* most billed pods of this pool at a scrape */
    uint64_t pod_starts;   /* pods that began a cold start on this pool */
    uint64_t preemptions;  /* preemption notices that took a node */
    uint64_t pods_preempted;
    uint64_t served, completed, finished_late, requeued, failed;
    double gpu_seconds, busy_gpu_seconds, utilisation, cost, mean_pods;
    double lat_p99_s; /* of the requests answered on this pool (NaN: none) */
} pool_result;

typedef struct run_summary {
    char label[64];  /* the policy entry's label in the experiment ("static-2") */
    char policy[32]; /* the policy's name ("static", "hpa", ...) */
    int replication; /* 0-based */
    uint64_t seed;
    int64_t span_us; /* simulated time covered */
    /* conservation: arrived = completed + timed_out + rejected + in_flight_end */
    uint64_t arrived, completed, timed_out, rejected, in_flight_end;
    uint64_t rejected_by[REJECT_REASONS];
    uint64_t requeued; /* requests put back when a draining pod hit its grace period */
    double lat_mean_s, lat_p50_s, lat_p95_s, lat_p99_s, lat_p999_s, lat_max_s;
    double quantile_rel_error; /* bound on relative error of the quantiles above */
    double slo_s;
    double slo_frac;       /* completed within slo_s / (arrived - in_flight_end) */
    uint64_t pod_starts;   /* cold starts */
    uint64_t cold_waited;  /* requests whose wait overlapped a cold start they triggered
                              or that started on a pod's first request after readiness */
    uint64_t scale_events; /* changes of the desired count */
    double gpu_seconds;    /* billed GPU-seconds (STARTING + READY + DRAINING) */
    double busy_gpu_seconds;
    double utilisation; /* busy / billed */
    double cost;        /* gpu_seconds / 3600 * price per GPU-hour */
    double mean_pods;   /* time-average of billed pods */
    int max_pods_seen;
    uint64_t events;      /* simulator events handled: those not cancelled, and for
                              completions and timeouts, those that resolved a request */
    double wall_s;        /* wall time of the run */
    uint64_t preemptions; /* spot nodes preempted (mixed fleets; 0 otherwise) */
    int n_pools;          /* mixed fleet: the pools below (0: one pool, the run itself) */
    pool_result pool[RESULT_MAX_POOLS];
} run_summary;

/* One row per scrape. */
typedef struct series_row {
    int64_t t_us;
    double arrival_rate_per_s;
    double queue_len;
    double in_flight;
    int pods[5]; /* by pod_state: pending, starting, ready, draining, gone(0) */
    int desired;
    double gpu_mem_frac, gpu_util_frac;
    double lat_p50_s, lat_p95_s, lat_p99_s; /* NaN when no completions in the window */
} series_row;

typedef struct run_series {
    size_t n, cap;
    series_row *row;
    size_t max_rows; /* 0: no limit; else a push beyond it is GP_ELIMIT */
} run_series;

typedef struct request_row {
    uint64_t id;
    int64_t arrival_us, start_us, end_us; /* start/end -1 when never started/ended; end_us
                                             is when the client had its answer or gave up
                                             (its deadline, for a timed-out request) */
    int64_t gpu_end_us;                   /* when the GPU stopped working on it: end_us
                                             for a completed request; for one that timed
                                             out in service, the GPU's real end (-1 when
                                             the run ended first); -1 when never started */
    int64_t pod_id;                       /* -1: none */
    float mp;
    int32_t faces;
    uint8_t cold;    /* waited on a cold start */
    uint8_t outcome; /* request_outcome */
    uint8_t pool;    /* mixed fleet: 1 + the pool of the pod that
                                             held it last; 0: none (or one pool) */
    double demand_s; /* service demand on an idle GPU, jitter included */
} request_row;

typedef struct request_log {
    size_t n, cap;
    request_row *row;
    size_t max_rows; /* 0: no limit; else a push beyond it is GP_ELIMIT */
} request_log;

/* The preemption notices that took a node, in time order (a run's preemption trace, the
 * same form as a spot pool's recorded notices: it replays as such). */
typedef struct preemption_row {
    int64_t t_us;
    int32_t pool; /* index in cluster.pools */
    int32_t node; /* in the pool's GPU order */
} preemption_row;

typedef struct preemption_log {
    size_t n, cap;
    preemption_row *row;
} preemption_log;

/* Append helpers; return 0, GP_ELIMIT at max_rows, or GP_ENOMEM. */
int run_series_push(run_series *s, const series_row *r);
void run_series_free(run_series *s);
int request_log_push(request_log *l, const request_row *r);
void request_log_free(request_log *l);
int preemption_log_push(preemption_log *l, const preemption_row *r);
void preemption_log_free(preemption_log *l);

#endif
