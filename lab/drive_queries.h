/* drive_queries.h: the Prometheus queries behind a policy observation, one per
 * policy_obs field, named as in a driver config's `queries:` section. The defaults read
 * the recording rules `gpenlab export` writes, so export (which writes the rules and the
 * driver config) and the live driver (which runs the queries) share this one table.
 * Pure functions: no allocation, no I/O. */
#ifndef GP_DRIVE_QUERIES_H
#define GP_DRIVE_QUERIES_H

#include <stddef.h>

/* The Prometheus queries behind the observation (names as in the config's `queries:`).
 * The cluster ones return one series; the pod_* ones one series per `pod` label. */
enum {
    DRIVE_Q_GPU_MEM = 0, /* gpu_mem_frac */
    DRIVE_Q_GPU_UTIL,    /* gpu_util_frac */
    DRIVE_Q_P50,         /* p50_s */
    DRIVE_Q_P95,
    DRIVE_Q_P99,
    DRIVE_Q_IN_FLIGHT,   /* in_flight */
    DRIVE_Q_ARRIVAL,     /* arrival_rate */
    DRIVE_Q_CONCURRENCY, /* concurrency */
    DRIVE_Q_SAMPLES,     /* latency_samples */
    DRIVE_Q_POD_GPU_MEM, /* pod_gpu_mem_frac */
    DRIVE_Q_POD_GPU_UTIL,
    DRIVE_Q_POD_IN_FLIGHT,
    DRIVE_Q_POD_CONCURRENCY,
    DRIVE_Q_COUNT
};
#define DRIVE_QUERY_MAX 512

const char *drive_query_name(int q);
/* The query for namespace ns, over the recording rules `gpenlab export` writes. */
void drive_default_query(int q, const char *ns, char *buf, size_t len);
/* The query for one Deployment of a mixed fleet: its pods only (pod=~"DEPLOYMENT-.*"), on
 * the raw series the recording rules read (latency quantiles and counts over `window`,
 * rates over `rate_window`: Prometheus durations such as "60s"). */
void drive_deployment_query(int q, const char *ns, const char *deployment, const char *window,
                            const char *rate_window, char *buf, size_t len);
/* The names in query order, NULL-terminated (a config's allowed `queries:` keys). */
const char *const *drive_query_names(void);

#endif
