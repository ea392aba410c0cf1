/* drive_queries.c: the Prometheus queries behind a policy observation (see
 * drive_queries.h). */
#include "lab/drive_queries.h"

#include <stdio.h>

/* NULL-terminated: the list doubles as cfg_check_keys' allowed keys */
static const char *const query_names[DRIVE_Q_COUNT + 1] = {
    "gpu_mem_frac", "gpu_util_frac", "p50_s", "p95_s", "p99_s", "in_flight", "arrival_rate",
    "concurrency", "latency_samples", "pod_gpu_mem_frac", "pod_gpu_util_frac", "pod_in_flight",
    "pod_concurrency", NULL};

const char *drive_query_name(int q) { return q >= 0 && q < DRIVE_Q_COUNT ? query_names[q] : "?"; }

const char *const *drive_query_names(void) { return query_names; }

void drive_default_query(int q, const char *ns, char *buf, size_t len)
{
    char sel[160];
    snprintf(sel, sizeof(sel), "{namespace=\"%s\"}", ns);
    switch (q) {
    case DRIVE_Q_GPU_MEM: snprintf(buf, len, "avg(DCGM_FI_DEV_FB_USED_ratio%s)", sel); break;
    case DRIVE_Q_GPU_UTIL: snprintf(buf, len, "avg(DCGM_FI_DEV_GPU_UTIL%s) / 100", sel); break;
    case DRIVE_Q_P50: snprintf(buf, len, "max(gpen_request_latency_seconds_p50%s)", sel); break;
    case DRIVE_Q_P95: snprintf(buf, len, "max(gpen_request_latency_seconds_p95%s)", sel); break;
    case DRIVE_Q_P99: snprintf(buf, len, "max(gpen_request_latency_seconds_p99%s)", sel); break;
    case DRIVE_Q_IN_FLIGHT: snprintf(buf, len, "sum(gpen_requests_in_flight%s)", sel); break;
    case DRIVE_Q_ARRIVAL: snprintf(buf, len, "sum(gpen_requests_per_second%s)", sel); break;
    case DRIVE_Q_CONCURRENCY: snprintf(buf, len, "sum(gpen_concurrency%s)", sel); break;
    case DRIVE_Q_SAMPLES: snprintf(buf, len, "sum(gpen_latency_samples%s)", sel); break;
    case DRIVE_Q_POD_GPU_MEM:
        snprintf(buf, len, "avg by (pod) (DCGM_FI_DEV_FB_USED_ratio%s)", sel);
        break;
    case DRIVE_Q_POD_GPU_UTIL:
        snprintf(buf, len, "avg by (pod) (DCGM_FI_DEV_GPU_UTIL%s) / 100", sel);
        break;
    case DRIVE_Q_POD_IN_FLIGHT: snprintf(buf, len, "sum by (pod) (gpen_requests_in_flight%s)", sel); break;
    case DRIVE_Q_POD_CONCURRENCY: snprintf(buf, len, "sum by (pod) (gpen_concurrency%s)", sel); break;
    default: buf[0] = '\0';
    }
}
