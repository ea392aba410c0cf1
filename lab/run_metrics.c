/* run_metrics.c: the table of run metrics (see run_metrics.h). */
#include "lab/run_metrics.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static double m_mean(const run_summary *r) { return r->lat_mean_s; }
static double m_p50(const run_summary *r) { return r->lat_p50_s; }
static double m_p95(const run_summary *r) { return r->lat_p95_s; }
static double m_p99(const run_summary *r) { return r->lat_p99_s; }
static double m_slo(const run_summary *r) { return 100.0 * r->slo_frac; }
static double m_timeout_pct(const run_summary *r)
{
    return r->arrived ? 100.0 * (double)r->timed_out / (double)r->arrived : NAN;
}
static double m_timed_out(const run_summary *r) { return (double)r->timed_out; }
static double m_rejected(const run_summary *r) { return (double)r->rejected; }
static double m_pod_starts(const run_summary *r) { return (double)r->pod_starts; }
static double m_cold_waited(const run_summary *r) { return (double)r->cold_waited; }
static double m_gpu_hours(const run_summary *r) { return r->gpu_seconds / 3600.0; }
static double m_cost(const run_summary *r) { return r->cost; }
static double m_util(const run_summary *r) { return 100.0 * r->utilisation; }
static double m_preemptions(const run_summary *r) { return (double)r->preemptions; }

static const run_metric table[RM_COUNT] = {
    {RM_MEAN_S, "mean_s", "mean", "(s)", "s", RM_LOWER_BETTER, RM_AGG_MEAN, 3,
     "mean latency (end - arrival) of the completed requests", m_mean},
    {RM_P50_S, "p50_s", "P50", "(s)", "s", RM_LOWER_BETTER, RM_AGG_MEAN, 3,
     "median latency of the completed requests (log histogram, <= 0.5% relative error)", m_p50},
    {RM_P95_S, "p95_s", "P95", "(s)", "s", RM_LOWER_BETTER, RM_AGG_MEAN, 3,
     "95th percentile latency of the completed requests", m_p95},
    {RM_P99_S, "p99_s", "P99", "(s)", "s", RM_LOWER_BETTER, RM_AGG_MEAN, 3,
     "99th percentile latency of the completed requests", m_p99},
    {RM_SLO_PCT, "slo_pct", "SLO", "(%)", "%", RM_HIGHER_BETTER, RM_AGG_MEAN, 2,
     "100 x requests completed within cluster.slo / requests resolved (arrived - in flight "
     "at the end)",
     m_slo},
    {RM_TIMEOUT_PCT, "timeout_pct", "timeouts", "(%)", "%", RM_LOWER_BETTER, RM_AGG_MEAN, 2,
     "100 x requests whose client timed out / requests arrived", m_timeout_pct},
    {RM_TIMED_OUT, "timed_out", "timeouts", "", "requests", RM_LOWER_BETTER, RM_AGG_MEAN, 1,
     "requests whose client timed out", m_timed_out},
    {RM_REJECTED, "rejected", "rejected", "", "requests", RM_LOWER_BETTER, RM_AGG_MEAN, 1,
     "requests rejected (too large for any GPU, queue full, killed in a drain)", m_rejected},
    {RM_POD_STARTS, "pod_starts", "pod", "starts", "pods", RM_LOWER_BETTER, RM_AGG_MEAN, 1,
     "pods (or serverless instances) started: cold starts", m_pod_starts},
    {RM_COLD_WAITED, "cold_waited", "cold", "waits", "requests", RM_LOWER_BETTER, RM_AGG_MEAN, 1,
     "requests that waited on a cold start (theirs, or a pod's first after readiness)",
     m_cold_waited},
    {RM_GPU_HOURS, "gpu_hours", "GPU-h", "", "GPU-h", RM_LOWER_BETTER, RM_AGG_MEAN, 2,
     "billed GPU-seconds (pods STARTING, READY, DRAINING) / 3600", m_gpu_hours},
    {RM_COST, "cost", "cost", "", "currency", RM_LOWER_BETTER, RM_AGG_MEAN, 2,
     "GPU-hours x cluster.price_per_gpu_hour, in cluster.currency", m_cost},
    {RM_UTIL_PCT, "util_pct", "util", "(%)", "%", RM_HIGHER_BETTER, RM_AGG_MEAN, 1,
     "100 x busy GPU-seconds / billed GPU-seconds", m_util},
    {RM_PREEMPTIONS, "preemptions", "preempt.", "", "nodes", RM_LOWER_BETTER, RM_AGG_MEAN, 1,
     "spot nodes preempted: the notices that took a node, over a mixed fleet's pools (0 "
     "with one pool)",
     m_preemptions},
};

const run_metric *run_metric_table(size_t *n)
{
    *n = RM_COUNT;
    return table;
}

const run_metric *run_metric_get(run_metric_id id)
{
    return (int)id >= 0 && id < RM_COUNT ? &table[id] : NULL;
}

const run_metric *run_metric_find(const char *name)
{
    for (size_t i = 0; name && i < RM_COUNT; i++)
        if (strcmp(table[i].name, name) == 0)
            return &table[i];
    return NULL;
}

void run_metric_names(char *buf, size_t cap)
{
    if (!cap)
        return;
    buf[0] = '\0';
    for (size_t i = 0; i < RM_COUNT; i++) {
        size_t used = strlen(buf);
        snprintf(buf + used, cap - used, "%s%s", i ? ", " : "", table[i].name);
    }
}

const char *run_metric_unit(const run_metric *m, const char *currency)
{
    if (m->id == RM_COST)
        return currency ? currency : "";
    return m->unit;
}

const char *run_metric_heading_unit(const run_metric *m, const char *currency, char *buf,
                                    size_t cap)
{
    if (m->id != RM_COST)
        snprintf(buf, cap, "%s", m->heading_unit);
    else if (currency && currency[0])
        snprintf(buf, cap, "(%s)", currency);
    else if (cap)
        buf[0] = '\0';
    return buf;
}

const char *run_metric_label(const run_metric *m, const char *currency, char *buf, size_t cap)
{
    char unit[64];
    run_metric_heading_unit(m, currency, unit, sizeof(unit));
    snprintf(buf, cap, "%s%s%s", m->heading, unit[0] ? " " : "", unit);
    return buf;
}

double run_metric_value(run_metric_id id, const run_summary *r)
{
    const run_metric *m = run_metric_get(id);
    return m ? m->get(r) : NAN;
}
