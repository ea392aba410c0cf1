/* metric_map.c: the table of metric names and the PromQL recogniser (see metric_map.h). */
#include "policy/metric_map.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"

typedef struct mm_entry {
    const char *name;
    obs_metric obs;
    mm_pod_field pod;
    double scale;
    bool intensive;
} mm_entry;

/* gpenlab's own names first (the replay CSV columns), then the names a Prometheus /
 * DCGM / redis-exporter setup would expose for the same quantity. */
static const mm_entry table[] = {
    {"gpu_mem_frac", OBS_GPU_MEM_FRAC, MM_POD_GPU_MEM, 1.0, true},
    {"DCGM_FI_DEV_FB_USED_ratio", OBS_GPU_MEM_FRAC, MM_POD_GPU_MEM, 1.0, true},
    {"gpu_memory_utilization", OBS_GPU_MEM_FRAC, MM_POD_GPU_MEM, 100.0, true},
    {"gpu_util_frac", OBS_GPU_UTIL_FRAC, MM_POD_GPU_UTIL, 1.0, true},
    {"DCGM_FI_DEV_GPU_UTIL", OBS_GPU_UTIL_FRAC, MM_POD_GPU_UTIL, 100.0, true},
    {"gpu_utilization", OBS_GPU_UTIL_FRAC, MM_POD_GPU_UTIL, 100.0, true},
    {"p50_s", OBS_LATENCY_P50_S, MM_POD_NONE, 1.0, true},
    {"gpen_request_latency_seconds_p50", OBS_LATENCY_P50_S, MM_POD_NONE, 1.0, true},
    {"p95_s", OBS_LATENCY_P95_S, MM_POD_NONE, 1.0, true},
    {"gpen_request_latency_seconds_p95", OBS_LATENCY_P95_S, MM_POD_NONE, 1.0, true},
    {"p99_s", OBS_LATENCY_P99_S, MM_POD_NONE, 1.0, true},
    {"gpen_request_latency_seconds_p99", OBS_LATENCY_P99_S, MM_POD_NONE, 1.0, true},
    {"queue_len", OBS_QUEUE_LEN, MM_POD_NONE, 1.0, false},
    {"gpen_pending", OBS_QUEUE_LEN, MM_POD_NONE, 1.0, false},
    {"gpen_queue_length", OBS_QUEUE_LEN, MM_POD_NONE, 1.0, false},
    {"redis_list_length", OBS_QUEUE_LEN, MM_POD_NONE, 1.0, false},
    {"in_flight", OBS_IN_FLIGHT, MM_POD_IN_FLIGHT, 1.0, false},
    {"gpen_requests_in_flight", OBS_IN_FLIGHT, MM_POD_IN_FLIGHT, 1.0, false},
    {"arrival_rate", OBS_ARRIVAL_RATE, MM_POD_NONE, 1.0, false},
    {"gpen_requests_per_second", OBS_ARRIVAL_RATE, MM_POD_NONE, 1.0, false},
    {"concurrency", OBS_CONCURRENCY, MM_POD_CONCURRENCY, 1.0, false},
    {"gpen_concurrency", OBS_CONCURRENCY, MM_POD_CONCURRENCY, 1.0, false},
};
#define TABLE_LEN (sizeof(table) / sizeof(table[0]))

/* Known names the observation cannot provide, with what to use instead. */
static const struct {
    const char *name;
    const char *hint;
} not_modelled[] = {
    {"DCGM_FI_DEV_FB_USED", "framebuffer MiB are not modelled (GPU sizes differ); use the "
                            "fraction DCGM_FI_DEV_FB_USED_ratio (used / (used + free))"},
    {"DCGM_FI_DEV_FB_FREE", "framebuffer MiB are not modelled; use DCGM_FI_DEV_FB_USED_ratio"},
    {"DCGM_FI_DEV_FB_TOTAL", "framebuffer MiB are not modelled; use DCGM_FI_DEV_FB_USED_ratio"},
    {"gpen_requests_total", "a counter: use its rate, gpen_requests_per_second"},
    {"gpen_request_latency_seconds_bucket",
     "a histogram: use a quantile, gpen_request_latency_seconds_p95 (or _p50, _p99)"},
};

static size_t edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 63 || lb > 63)
        return (size_t)-1;
    size_t row[64];
    for (size_t j = 0; j <= lb; j++)
        row[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t up = row[j];
            size_t cost = (a[i - 1] == b[j - 1]) ? 0 : 1;
            size_t best = diag + cost;
            if (row[j] + 1 < best)
                best = row[j] + 1;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    return row[lb];
}

static const char *nearest_name(const char *name)
{
    const char *best = table[0].name;
    size_t best_d = (size_t)-1;
    for (size_t i = 0; i < TABLE_LEN; i++) {
        size_t d = edit_distance(name, table[i].name);
        if (d < best_d) {
            best_d = d;
            best = table[i].name;
        }
    }
    return best;
}

static const mm_entry *entry(const char *name)
{
    for (size_t i = 0; i < TABLE_LEN; i++)
        if (strcmp(table[i].name, name) == 0)
            return &table[i];
    return NULL; /* not reached for the names used below */
}

static void fill(const mm_entry *e, metric_ref *out)
{
    out->name = e->name;
    out->obs = e->obs;
    out->pod = e->pod;
    out->scale = e->scale;
    out->intensive = e->intensive;
    out->agg = MM_AGG_NONE;
}

int metric_map_lookup(const char *name, metric_ref *out, char *why, size_t why_len)
{
    for (size_t i = 0; i < TABLE_LEN; i++) {
        if (strcmp(name, table[i].name) == 0) {
            fill(&table[i], out);
            return 0;
        }
    }
    for (size_t i = 0; i < sizeof(not_modelled) / sizeof(not_modelled[0]); i++) {
        if (strcmp(name, not_modelled[i].name) == 0) {
            if (why)
                snprintf(why, why_len, "metric %s is not modelled: %s", name, not_modelled[i].hint);
            return GP_ENOTSUP;
        }
    }
    if (why)
        snprintf(why, why_len,
                 "unknown metric \"%s\" (did you mean %s? the supported names are listed in "
                 "docs/policies-hpa-keda.md)",
                 name, nearest_name(name));
    return GP_EUNKNOWN;
}

const char *metric_map_name_at(size_t i) { return i < TABLE_LEN ? table[i].name : NULL; }

bool metric_map_label_is_trivial(const char *key)
{
    static const char *const trivial[] = {"app",
                                          "app.kubernetes.io/name",
                                          "app.kubernetes.io/instance",
                                          "deployment",
                                          "namespace",
                                          "exported_namespace",
                                          "service",
                                          "job",
                                          "container",
                                          "release",
                                          NULL};
    for (size_t i = 0; trivial[i]; i++)
        if (strcmp(key, trivial[i]) == 0)
            return true;
    return false;
}

static bool is_ident_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == ':';
}

/* True if `word` occurs in `s` as a whole PromQL identifier. */
static bool has_ident(const char *s, const char *word)
{
    size_t n = strlen(word);
    for (const char *p = strstr(s, word); p; p = strstr(p + 1, word)) {
        bool left_ok = (p == s) || !is_ident_char(p[-1]);
        bool right_ok = !is_ident_char(p[n]);
        if (left_ok && right_ok)
            return true;
    }
    return false;
}

/* True if the query multiplies by 100 ("* 100", "*100", "100 *"). */
static bool times_100(const char *q)
{
    for (const char *p = strchr(q, '*'); p; p = strchr(p + 1, '*')) {
        const char *r = p + 1;
        while (*r == ' ')
            r++;
        if (strncmp(r, "100", 3) == 0 && !(r[3] >= '0' && r[3] <= '9') && r[3] != '.')
            return true;
        const char *l = p;
        while (l > q && l[-1] == ' ')
            l--;
        if (l - q >= 3 && strncmp(l - 3, "100", 3) == 0 &&
            (l - q == 3 || !(l[-4] >= '0' && l[-4] <= '9')))
            return true;
    }
    return false;
}

/* True if the query divides by 100 ("/ 100", "/100"). */
static bool over_100(const char *q)
{
    for (const char *p = strchr(q, '/'); p; p = strchr(p + 1, '/')) {
        const char *r = p + 1;
        while (*r == ' ')
            r++;
        if (strncmp(r, "100", 3) == 0 && !(r[3] >= '0' && r[3] <= '9') && r[3] != '.')
            return true;
    }
    return false;
}

static mm_agg outer_agg(const char *q)
{
    while (*q == ' ' || *q == '\t' || *q == '\n' || *q == '(')
        q++;
    static const struct {
        const char *fn;
        mm_agg agg;
    } fns[] = {{"sum", MM_AGG_SUM}, {"avg", MM_AGG_AVG}, {"max", MM_AGG_MAX}, {"min", MM_AGG_MIN}};
    for (size_t i = 0; i < sizeof(fns) / sizeof(fns[0]); i++) {
        size_t n = strlen(fns[i].fn);
        if (strncmp(q, fns[i].fn, n) == 0) {
            const char *r = q + n;
            while (*r == ' ')
                r++;
            /* sum(...) or sum by (x) (...) / sum without (...) */
            if (*r == '(' || strncmp(r, "by", 2) == 0 || strncmp(r, "without", 7) == 0)
                return fns[i].agg;
        }
    }
    return MM_AGG_NONE;
}

int metric_map_query(const char *query, metric_ref *out, char *why, size_t why_len)
{
    const mm_entry *e = NULL;
    const char *hq = strstr(query, "histogram_quantile");
    if (hq) {
        const char *p = strchr(hq, '(');
        double q = p ? strtod(p + 1, NULL) : NAN;
        if (fabs(q - 0.5) < 1e-9)
            e = entry("p50_s");
        else if (fabs(q - 0.95) < 1e-9)
            e = entry("p95_s");
        else if (fabs(q - 0.99) < 1e-9)
            e = entry("p99_s");
        else {
            if (why)
                snprintf(why, why_len,
                         "histogram_quantile(%g, ...): gpenlab observes only the 0.5, 0.95 and "
                         "0.99 latency quantiles",
                         q);
            return GP_ENOTSUP;
        }
    } else if (has_ident(query, "DCGM_FI_DEV_FB_USED")) {
        if (!has_ident(query, "DCGM_FI_DEV_FB_FREE") && !has_ident(query, "DCGM_FI_DEV_FB_TOTAL")) {
            if (why)
                snprintf(why, why_len,
                         "query uses DCGM_FI_DEV_FB_USED in MiB, which is not modelled; divide "
                         "by (DCGM_FI_DEV_FB_USED + DCGM_FI_DEV_FB_FREE) for the used fraction");
            return GP_ENOTSUP;
        }
        e = entry("DCGM_FI_DEV_FB_USED_ratio");
    } else if (has_ident(query, "DCGM_FI_DEV_GPU_UTIL")) {
        e = entry("DCGM_FI_DEV_GPU_UTIL");
    } else if (strstr(query, "gpen:pending") || has_ident(query, "redis_list_length") ||
               has_ident(query, "gpen_pending") || has_ident(query, "gpen_queue_length")) {
        e = entry("gpen_pending");
    } else if (has_ident(query, "gpen_requests_in_flight")) {
        e = entry("gpen_requests_in_flight");
    } else if (has_ident(query, "gpen_requests_total") && strstr(query, "rate(")) {
        e = entry("gpen_requests_per_second");
    } else if (has_ident(query, "gpen_concurrency")) {
        e = entry("gpen_concurrency");
    } else {
        for (size_t i = 0; i < TABLE_LEN && !e; i++)
            if (has_ident(query, table[i].name))
                e = &table[i];
    }
    if (!e) {
        if (why)
            snprintf(why, why_len,
                     "query \"%.80s\" names no metric gpenlab observes (see the query patterns "
                     "in docs/policies-hpa-keda.md)",
                     query);
        return GP_EUNKNOWN;
    }
    fill(e, out);
    out->agg = outer_agg(query);
    if (out->obs == OBS_GPU_MEM_FRAC)
        out->scale = times_100(query) ? 100.0 : 1.0;
    else if (out->obs == OBS_GPU_UTIL_FRAC)
        out->scale = over_100(query) ? 1.0 : 100.0;
    return 0;
}

static double pod_field(mm_pod_field f, const pod_obs *p)
{
    switch (f) {
    case MM_POD_GPU_MEM: return p->gpu_mem_frac;
    case MM_POD_GPU_UTIL: return p->gpu_util_frac;
    case MM_POD_IN_FLIGHT: return p->in_flight;
    case MM_POD_CONCURRENCY: return p->concurrency;
    case MM_POD_NONE: break;
    }
    return NAN;
}

bool metric_map_pod_value(const metric_ref *m, const policy_obs *obs, const pod_obs *p, double *out)
{
    if (!p->has_metrics || !obs->metrics_valid)
        return false;
    double v;
    if (m->pod != MM_POD_NONE)
        v = pod_field(m->pod, p);
    else if (m->intensive)
        v = obs->metric[m->obs]; /* documented approximation: every pod sees the mean */
    else
        return false;
    if (isnan(v))
        return false;
    *out = v * m->scale;
    return true;
}

double metric_map_value(const metric_ref *m, const policy_obs *obs)
{
    if (!obs->metrics_valid)
        return NAN;
    double cluster = obs->metric[m->obs];
    /* A single series (no per-pod source), no aggregation, or the sum of an extensive
     * quantity: the observation already holds the answer. */
    if (m->agg == MM_AGG_NONE || m->pod == MM_POD_NONE || (m->agg == MM_AGG_SUM && !m->intensive))
        return isnan(cluster) ? NAN : cluster * m->scale;
    double acc = 0.0;
    size_t n = 0;
    for (int i = 0; i < obs->n_pods; i++) {
        const pod_obs *p = &obs->pod[i];
        if (p->state != POD_READY || !p->has_metrics)
            continue;
        double v = pod_field(m->pod, p);
        if (isnan(v))
            continue;
        if (n == 0)
            acc = v;
        else if (m->agg == MM_AGG_SUM || m->agg == MM_AGG_AVG)
            acc += v;
        else if (m->agg == MM_AGG_MAX)
            acc = v > acc ? v : acc;
        else
            acc = v < acc ? v : acc;
        n++;
    }
    if (n == 0)
        return NAN;
    if (m->agg == MM_AGG_AVG)
        acc /= (double)n;
    return acc * m->scale;
}
