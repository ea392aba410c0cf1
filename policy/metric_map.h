/* metric_map.h: from the metric names a user writes in an HPA or a KEDA ScaledObject
 * (Prometheus/DCGM/Redis names, or gpenlab's own column names) to the observation a
 * policy gets (policy_obs.metric[] and the per-pod pod_obs fields).
 * A metric_ref says where a value comes from and in which unit it is reported: the
 * observation holds fractions (0..1), seconds and counts; names documented as percent
 * report 100 x the fraction. The table is static const; nothing here allocates.
 * The mapping is documented, name by name, in docs/policies-hpa-keda.md. */
#ifndef GP_METRIC_MAP_H
#define GP_METRIC_MAP_H

#include <stdbool.h>
#include <stddef.h>

#include "policy/policy.h"

/* Which per-pod field of pod_obs carries the metric, if any. */
typedef enum {
    MM_POD_NONE = 0, /* cluster-level only (latency quantiles, queue length, arrival rate) */
    MM_POD_GPU_MEM,  /* pod_obs.gpu_mem_frac */
    MM_POD_GPU_UTIL, /* pod_obs.gpu_util_frac */
    MM_POD_IN_FLIGHT,
    MM_POD_CONCURRENCY
} mm_pod_field;

/* How the series of several pods combine into one value (a PromQL aggregation). */
typedef enum {
    MM_AGG_NONE = 0, /* the observation's own value (policy.h says how it is aggregated) */
    MM_AGG_SUM,
    MM_AGG_AVG,
    MM_AGG_MAX,
    MM_AGG_MIN
} mm_agg;

typedef struct metric_ref {
    const char *name; /* canonical name from the table ("DCGM_FI_DEV_GPU_UTIL") */
    obs_metric obs;   /* the cluster-level observation */
    mm_pod_field pod; /* per-pod source, MM_POD_NONE if the metric has none */
    double scale;     /* reported value = observation value x scale (100: percent) */
    bool intensive;   /* a mean or a quantile: one pod "reports" the cluster value */
    mm_agg agg;       /* only set by metric_map_query */
} metric_ref;

/* Looks a metric name up (exact, case-sensitive, as Prometheus names are).
 * Returns 0 and fills *out, or GP_EUNKNOWN; for a name that is known but not modelled
 * (e.g. DCGM_FI_DEV_FB_USED in MiB) GP_ENOTSUP. In both failure cases `why` (if not
 * NULL) gets one sentence for the user, with the nearest supported name. */
int metric_map_lookup(const char *name, metric_ref *out, char *why, size_t why_len);

/* Maps a PromQL query (KEDA prometheus trigger) to a metric_ref by the metric names it
 * mentions, its outer aggregation (sum/avg/max/min) and a "* 100" scaling.
 * Recognised: histogram_quantile(0.5|0.95|0.99, ...) -> latency quantile;
 * DCGM_FI_DEV_FB_USED together with DCGM_FI_DEV_FB_FREE or _TOTAL -> GPU memory fraction;
 * DCGM_FI_DEV_GPU_UTIL -> GPU utilisation (percent unless divided by 100);
 * gpen:pending / redis_list_length / gpen_pending -> queue length;
 * gpen_requests_in_flight, gpen_requests_total (rate) and gpen_concurrency;
 * and every name metric_map_lookup knows. Same returns as metric_map_lookup. */
int metric_map_query(const char *query, metric_ref *out, char *why, size_t why_len);

/* Label keys a metric selector may use that every simulated pod of the one GPEN
 * service matches (app, namespace, ...). Returns true if `key` is one of them. */
bool metric_map_label_is_trivial(const char *key);

/* The value of m in the observation, in m's reported unit (x scale), aggregated per
 * m->agg over the pods that are READY and have metrics. NaN when unavailable. */
double metric_map_value(const metric_ref *m, const policy_obs *obs);

/* The value one pod reports for m (x scale). Returns false when the pod has no value
 * (no metrics, or NaN). A metric without a per-pod field is approximated, for
 * intensive metrics only, by the cluster value (see the docs). */
bool metric_map_pod_value(const metric_ref *m, const policy_obs *obs, const pod_obs *p,
                          double *out);

/* The i-th name of the table (NULL past the end), for docs and error messages. */
const char *metric_map_name_at(size_t i);

#endif
