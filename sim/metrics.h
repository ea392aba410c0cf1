/* metrics.h: the monitoring stack between the simulated cluster and the policy.
 * Every scrape interval the simulator hands over a sample (per-pod GPU memory and busy
 * fraction, in-flight, concurrency; queue length, arrival rate); the pipeline adds the
 * latency quantiles of a sliding window of completed requests (as Prometheus'
 * histogram_quantile over a rate window would), keeps the last samples in a ring and
 * serves the policy the newest one that is at least `delay_us` old. It never exposes
 * ground truth: a policy sees values as of a past scrape.
 * It also keeps the whole run's latency histogram (bounded relative error) for the
 * summary. Memory is bounded: independent of the number of requests. */
#ifndef GP_METRICS_H
#define GP_METRICS_H

#include <stdint.h>

#include "policy/policy.h"
#include "sim/qhist.h"

struct metrics_cfg;

typedef struct metrics_sample {
    policy_obs obs; /* obs.pod points at pods[] */
    pod_obs *pods;
    uint32_t cap_pods;
} metrics_sample;

typedef struct metrics_pipe {
    int64_t scrape_interval_us, window_us, delay_us;
    metrics_sample *ring;
    uint32_t ring_len, ring_head, ring_count; /* ring_head: newest */
    double *gpu_util;                         /* busy fraction of each GPU over the last interval */
    uint32_t n_gpus;
    qwin window;   /* latency window for the policy */
    qhist overall; /* the whole run */
    int max_pods;  /* most billed pods seen at a scrape */
} metrics_pipe;

int metrics_init(metrics_pipe *m, const struct metrics_cfg *cfg, uint32_t n_gpus);
void metrics_free(metrics_pipe *m);

/* A completed request's latency (end - arrival), at time now_us. */
int metrics_record_latency(metrics_pipe *m, int64_t now_us, double latency_s);

/* Starts a sample at now_us with room for n_pods pod rows; the caller fills
 * pods[0..n_pods) and m->gpu_util[], then calls metrics_end_sample. NULL: out of memory. */
metrics_sample *metrics_begin_sample(metrics_pipe *m, int64_t now_us, uint32_t n_pods);
void metrics_end_sample(metrics_pipe *m, metrics_sample *smp, double queue_len, double in_flight,
                        double arrival_rate_per_s, double concurrency);

/* The newest sample (for the time series). */
const policy_obs *metrics_latest(const metrics_pipe *m);
/* What a policy sees at now_us: the newest sample taken at or before now - delay,
 * or metrics_valid = false (all metrics NaN, no pods) if there is none yet.
 * Pod counts and spec are left for the caller to fill (they are not scraped). */
void metrics_observe(const metrics_pipe *m, int64_t now_us, policy_obs *out);

void metrics_overall_quantiles(const metrics_pipe *m, double *p50, double *p95, double *p99,
                               double *p999, double *rel_error);
int metrics_max_pods(const metrics_pipe *m);

#endif
