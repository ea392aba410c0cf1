/* drive_queries.c: the Prometheus queries behind a policy observation (see
 * drive_queries.h). */
#include "lab/drive_queries.h"

#include <stdio.h>

/* NULL-terminated: the list doubles as cfg_check_keys' allowed keys */
static const char *const query_names[DRIVE_Q_COUNT + 1] = {"gpu_mem_frac",
                                                           "gpu_util_frac",
                                                           "p50_s",
                                                           "p95_s",
                                                           "p99_s",
                                                           "in_flight",
                                                           "arrival_rate",
                                                           "concurrency",
                                                           "latency_samples",
                                                           "pod_gpu_mem_frac",
                                                           "pod_gpu_util_frac",
                                                           "pod_in_flight",
                                                           "pod_concurrency",
                                                           NULL};

const char *drive_query_name(int q) { return q >= 0 && q < DRIVE_Q_COUNT ? query_names[q] : "?"; }

const char *const *drive_query_names(void) { return query_names; }

/* The queries that read per-pod gauges the same way for a namespace or a Deployment's
 * pods: AGG(METRIC{sel})TAIL. */
static const struct {
    int q;
    const char *agg, *metric, *tail;
} gauges[] = {
    {DRIVE_Q_GPU_MEM, "avg", "DCGM_FI_DEV_FB_USED_ratio", ""},
    {DRIVE_Q_GPU_UTIL, "avg", "DCGM_FI_DEV_GPU_UTIL", " / 100"},
    {DRIVE_Q_IN_FLIGHT, "sum", "gpen_requests_in_flight", ""},
    {DRIVE_Q_CONCURRENCY, "sum", "gpen_concurrency", ""},
    {DRIVE_Q_POD_GPU_MEM, "avg by (pod) ", "DCGM_FI_DEV_FB_USED_ratio", ""},
    {DRIVE_Q_POD_GPU_UTIL, "avg by (pod) ", "DCGM_FI_DEV_GPU_UTIL", " / 100"},
    {DRIVE_Q_POD_IN_FLIGHT, "sum by (pod) ", "gpen_requests_in_flight", ""},
    {DRIVE_Q_POD_CONCURRENCY, "sum by (pod) ", "gpen_concurrency", ""},
};

/* Query q of the gauges with the label selector `sel`; 0 when q is not one of them. */
static int gauge_query(int q, const char *sel, char *buf, size_t len)
{
    for (size_t i = 0; i < sizeof(gauges) / sizeof(gauges[0]); i++)
        if (gauges[i].q == q) {
            snprintf(buf, len, "%s(%s%s)%s", gauges[i].agg, gauges[i].metric, sel, gauges[i].tail);
            return 1;
        }
    return 0;
}

void drive_default_query(int q, const char *ns, char *buf, size_t len)
{
    char sel[160];
    snprintf(sel, sizeof(sel), "{namespace=\"%s\"}", ns);
    if (gauge_query(q, sel, buf, len))
        return;
    switch (q) {
    case DRIVE_Q_P50: snprintf(buf, len, "max(gpen_request_latency_seconds_p50%s)", sel); break;
    case DRIVE_Q_P95: snprintf(buf, len, "max(gpen_request_latency_seconds_p95%s)", sel); break;
    case DRIVE_Q_P99: snprintf(buf, len, "max(gpen_request_latency_seconds_p99%s)", sel); break;
    case DRIVE_Q_ARRIVAL: snprintf(buf, len, "sum(gpen_requests_per_second%s)", sel); break;
    case DRIVE_Q_SAMPLES: snprintf(buf, len, "sum(gpen_latency_samples%s)", sel); break;
    default: buf[0] = '\0';
    }
}

void drive_deployment_query(int q, const char *ns, const char *deployment, const char *window,
                            const char *rate_window, char *buf, size_t len)
{
    char sel[300];
    snprintf(sel, sizeof(sel), "{namespace=\"%s\",pod=~\"%s-.*\"}", ns, deployment);
    if (gauge_query(q, sel, buf, len))
        return;
    static const char *const quantile[] = {"0.5", "0.95", "0.99"};
    switch (q) {
    case DRIVE_Q_P50:
    case DRIVE_Q_P95:
    case DRIVE_Q_P99:
        snprintf(
            buf, len,
            "histogram_quantile(%s, sum by (le) (rate(gpen_request_latency_seconds_bucket%s[%s])))",
            quantile[q - DRIVE_Q_P50], sel, window);
        break;
    case DRIVE_Q_ARRIVAL:
        snprintf(buf, len, "sum(rate(gpen_requests_total%s[%s]))", sel, rate_window);
        break;
    case DRIVE_Q_SAMPLES:
        snprintf(buf, len, "sum(increase(gpen_request_latency_seconds_count%s[%s]))", sel, window);
        break;
    default: buf[0] = '\0';
    }
}
