/* metrics.c: the scrape ring, the latency window and the observation a policy sees. */
#include "sim/metrics.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "sim/sim.h"

int metrics_init(metrics_pipe *m, const struct metrics_cfg *cfg, uint32_t n_gpus)
{
    memset(m, 0, sizeof(*m));
    m->scrape_interval_us = cfg->scrape_interval_us;
    m->window_us = cfg->latency_window_us;
    m->delay_us = cfg->delay_us;
    /* enough samples to look back `delay` plus the newest */
    m->ring_len = (uint32_t)(cfg->delay_us / cfg->scrape_interval_us) + 2;
    m->ring = calloc(m->ring_len, sizeof(*m->ring));
    m->gpu_util = calloc(n_gpus ? n_gpus : 1, sizeof(double));
    m->n_gpus = n_gpus;
    if (!m->ring || !m->gpu_util)
        return GP_ENOMEM;
    /* slots of one scrape interval where possible (at most QWIN_MAX_SLOTS) */
    int n_slots = 1;
    for (int k = QWIN_MAX_SLOTS; k >= 1; k--)
        if (m->window_us % k == 0 && m->window_us / k >= cfg->scrape_interval_us / 4) {
            n_slots = k;
            break;
        }
    if (qwin_init(&m->window, QHIST_DEFAULT_REL_ERR, m->window_us, n_slots, NULL) < 0)
        return GP_ENOMEM;
    if (qhist_init(&m->overall, QHIST_DEFAULT_REL_ERR, NULL) < 0)
        return GP_ENOMEM;
    return 0;
}

void metrics_free(metrics_pipe *m)
{
    for (uint32_t i = 0; m->ring && i < m->ring_len; i++)
        free(m->ring[i].pods);
    free(m->ring);
    free(m->gpu_util);
    qwin_free(&m->window);
    qhist_free(&m->overall);
    memset(m, 0, sizeof(*m));
}

int metrics_record_latency(metrics_pipe *m, int64_t now_us, double latency_s)
{
    int bucket = qhist_bucket(&m->overall, latency_s); /* the window's layout too */
    qwin_add_bucket(&m->window, now_us, latency_s, bucket);
    qhist_add_bucket(&m->overall, latency_s, bucket);
    return 0;
}

metrics_sample *metrics_begin_sample(metrics_pipe *m, int64_t now_us, uint32_t n_pods)
{
    uint32_t slot = m->ring_count ? (m->ring_head + 1) % m->ring_len : 0;
    metrics_sample *smp = &m->ring[slot];
    if (n_pods > smp->cap_pods) {
        uint32_t cap = smp->cap_pods ? smp->cap_pods : 8;
        while (cap < n_pods)
            cap *= 2;
        pod_obs *p = realloc(smp->pods, cap * sizeof(pod_obs));
        if (!p)
            return NULL;
        smp->pods = p;
        smp->cap_pods = cap;
    }
    memset(&smp->obs, 0, sizeof(smp->obs));
    smp->obs.now_us = now_us;
    smp->obs.scrape_us = now_us;
    smp->obs.n_pods = (int)n_pods;
    smp->obs.pod = smp->pods;
    return smp;
}

void metrics_end_sample(metrics_pipe *m, metrics_sample *smp, double queue_len, double in_flight,
                        double arrival_rate_per_s, double concurrency)
{
    policy_obs *o = &smp->obs;
    int64_t t = o->scrape_us;
    double mem = 0, util = 0;
    int ready = 0;
    for (int i = 0; i < o->n_pods; i++) {
        const pod_obs *p = &smp->pods[i];
        if (p->state != POD_READY)
            continue;
        mem += p->gpu_mem_frac;
        util += p->gpu_util_frac;
        ready++;
    }
    o->metrics_valid = true;
    o->metric[OBS_GPU_MEM_FRAC] = ready ? mem / ready : NAN;
    o->metric[OBS_GPU_UTIL_FRAC] = ready ? util / ready : NAN;
    o->metric[OBS_LATENCY_P50_S] = qwin_quantile(&m->window, t, 0.50);
    o->metric[OBS_LATENCY_P95_S] = qwin_quantile(&m->window, t, 0.95);
    o->metric[OBS_LATENCY_P99_S] = qwin_quantile(&m->window, t, 0.99);
    uint64_t n = qwin_count(&m->window, t);
    o->latency_samples = n > UINT32_MAX ? UINT32_MAX : (uint32_t)n;
    o->metric[OBS_QUEUE_LEN] = queue_len;
    o->metric[OBS_IN_FLIGHT] = in_flight;
    o->metric[OBS_ARRIVAL_RATE] = arrival_rate_per_s;
    o->metric[OBS_CONCURRENCY] = concurrency;
    m->ring_head = (uint32_t)(smp - m->ring);
    if (m->ring_count < m->ring_len)
        m->ring_count++;
}

const policy_obs *metrics_latest(const metrics_pipe *m)
{
    return m->ring_count ? &m->ring[m->ring_head].obs : NULL;
}

void metrics_observe(const metrics_pipe *m, int64_t now_us, policy_obs *out)
{
    for (uint32_t k = 0; k < m->ring_count; k++) {
        uint32_t i = (m->ring_head + m->ring_len - k) % m->ring_len;
        const policy_obs *o = &m->ring[i].obs;
        if (o->scrape_us <= now_us - m->delay_us) {
            *out = *o;
            out->now_us = now_us;
            return;
        }
    }
    memset(out, 0, sizeof(*out));
    out->now_us = now_us;
    out->scrape_us = -1;
    out->metrics_valid = false;
    for (int k = 0; k < OBS_METRICS; k++)
        out->metric[k] = NAN;
}

void metrics_overall_quantiles(const metrics_pipe *m, double *p50, double *p95, double *p99,
                               double *p999, double *rel_error)
{
    *p50 = qhist_quantile(&m->overall, 0.50);
    *p95 = qhist_quantile(&m->overall, 0.95);
    *p99 = qhist_quantile(&m->overall, 0.99);
    *p999 = qhist_quantile(&m->overall, 0.999);
    *rel_error = qhist_rel_error(&m->overall);
}

int metrics_max_pods(const metrics_pipe *m) { return m->max_pods; }
