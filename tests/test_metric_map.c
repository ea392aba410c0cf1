/* test_metric_map.c: metric names and PromQL queries to observations, units (percent
 * against fraction), aggregation over pods, and the refusals with their hints. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "policy/metric_map.h"

static void test_lookup(void **state)
{
    (void)state;
    static const struct {
        const char *name;
        int rc;
        obs_metric obs;
        mm_pod_field pod;
        double scale;
    } rows[] = {
        {"DCGM_FI_DEV_FB_USED_ratio", 0, OBS_GPU_MEM_FRAC, MM_POD_GPU_MEM, 1.0},
        {"gpu_memory_utilization", 0, OBS_GPU_MEM_FRAC, MM_POD_GPU_MEM, 100.0},
        {"gpu_mem_frac", 0, OBS_GPU_MEM_FRAC, MM_POD_GPU_MEM, 1.0},
        {"DCGM_FI_DEV_GPU_UTIL", 0, OBS_GPU_UTIL_FRAC, MM_POD_GPU_UTIL, 100.0},
        {"gpu_util_frac", 0, OBS_GPU_UTIL_FRAC, MM_POD_GPU_UTIL, 1.0},
        {"gpen_request_latency_seconds_p95", 0, OBS_LATENCY_P95_S, MM_POD_NONE, 1.0},
        {"p99_s", 0, OBS_LATENCY_P99_S, MM_POD_NONE, 1.0},
        {"redis_list_length", 0, OBS_QUEUE_LEN, MM_POD_NONE, 1.0},
        {"gpen_pending", 0, OBS_QUEUE_LEN, MM_POD_NONE, 1.0},
        {"gpen_requests_in_flight", 0, OBS_IN_FLIGHT, MM_POD_IN_FLIGHT, 1.0},
        {"gpen_requests_per_second", 0, OBS_ARRIVAL_RATE, MM_POD_NONE, 1.0},
        {"gpen_concurrency", 0, OBS_CONCURRENCY, MM_POD_CONCURRENCY, 1.0},
        {"DCGM_FI_DEV_FB_USED", GP_ENOTSUP, 0, 0, 0},
        {"gpen_requests_total", GP_ENOTSUP, 0, 0, 0},
        {"dcgm_fi_dev_gpu_util", GP_EUNKNOWN, 0, 0, 0}, /* names are case-sensitive */
        {"cpu", GP_EUNKNOWN, 0, 0, 0},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        metric_ref m;
        char why[256] = "";
        int rc = metric_map_lookup(rows[i].name, &m, why, sizeof(why));
        if (rc != rows[i].rc)
            fail_msg("%s: rc %d want %d (%s)", rows[i].name, rc, rows[i].rc, why);
        if (rc == 0 && (m.obs != rows[i].obs || m.pod != rows[i].pod || m.scale != rows[i].scale))
            fail_msg("%s: got obs %d pod %d scale %g", rows[i].name, m.obs, m.pod, m.scale);
        if (rc < 0 && why[0] == '\0')
            fail_msg("%s: refused without a reason", rows[i].name);
    }
    metric_ref m;
    char why[256];
    metric_map_lookup("DCGM_FI_DEV_GPU_UTILS", &m, why, sizeof(why));
    if (!strstr(why, "did you mean DCGM_FI_DEV_GPU_UTIL"))
        fail_msg("no hint: %s", why);
    assert_non_null(metric_map_name_at(0));
    assert_null(metric_map_name_at(1000));
}

static void test_query(void **state)
{
    (void)state;
    static const struct {
        const char *q;
        int rc;
        obs_metric obs;
        mm_agg agg;
        double scale;
    } rows[] = {
        {"avg(DCGM_FI_DEV_FB_USED / (DCGM_FI_DEV_FB_USED + DCGM_FI_DEV_FB_FREE))", 0,
         OBS_GPU_MEM_FRAC, MM_AGG_AVG, 1.0},
        {"sum(DCGM_FI_DEV_FB_USED / (DCGM_FI_DEV_FB_USED + DCGM_FI_DEV_FB_FREE)) * 100", 0,
         OBS_GPU_MEM_FRAC, MM_AGG_SUM, 100.0},
        {"max by (pod) (DCGM_FI_DEV_FB_USED / DCGM_FI_DEV_FB_TOTAL)", 0, OBS_GPU_MEM_FRAC,
         MM_AGG_MAX, 1.0},
        {"max(DCGM_FI_DEV_FB_USED)", GP_ENOTSUP, 0, 0, 0},
        {"avg(DCGM_FI_DEV_GPU_UTIL{app=\"gpen\"})", 0, OBS_GPU_UTIL_FRAC, MM_AGG_AVG, 100.0},
        {"avg(DCGM_FI_DEV_GPU_UTIL) / 100", 0, OBS_GPU_UTIL_FRAC, MM_AGG_AVG, 1.0},
        {"histogram_quantile(0.95, sum(rate(gpen_request_latency_seconds_bucket[1m])) by (le))", 0,
         OBS_LATENCY_P95_S, MM_AGG_NONE, 1.0},
        {"histogram_quantile(0.99, sum by (le) (rate(gpen_request_latency_seconds_bucket[2m])))", 0,
         OBS_LATENCY_P99_S, MM_AGG_NONE, 1.0},
        {"histogram_quantile(0.5, rate(gpen_request_latency_seconds_bucket[1m]))", 0,
         OBS_LATENCY_P50_S, MM_AGG_NONE, 1.0},
        {"histogram_quantile(0.9, rate(gpen_request_latency_seconds_bucket[1m]))", GP_ENOTSUP, 0, 0,
         0},
        {"redis_list_length{key=\"gpen:pending\"}", 0, OBS_QUEUE_LEN, MM_AGG_NONE, 1.0},
        {"sum(redis_key_size{key=\"gpen:pending\"})", 0, OBS_QUEUE_LEN, MM_AGG_SUM, 1.0},
        {"sum(rate(gpen_requests_total[1m]))", 0, OBS_ARRIVAL_RATE, MM_AGG_SUM, 1.0},
        {"sum(gpen_requests_in_flight)", 0, OBS_IN_FLIGHT, MM_AGG_SUM, 1.0},
        {"avg(gpen_requests_in_flight)", 0, OBS_IN_FLIGHT, MM_AGG_AVG, 1.0},
        {"gpen_concurrency", 0, OBS_CONCURRENCY, MM_AGG_NONE, 1.0},
        {"sum(rate(http_requests_total[1m]))", GP_EUNKNOWN, 0, 0, 0},
        {"gpen_requests_in_flight_total", GP_EUNKNOWN, 0, 0, 0}, /* whole identifiers only */
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        metric_ref m;
        char why[256] = "";
        int rc = metric_map_query(rows[i].q, &m, why, sizeof(why));
        if (rc != rows[i].rc)
            fail_msg("%s: rc %d want %d (%s)", rows[i].q, rc, rows[i].rc, why);
        if (rc == 0 && (m.obs != rows[i].obs || m.agg != rows[i].agg || m.scale != rows[i].scale))
            fail_msg("%s: got obs %d agg %d scale %g", rows[i].q, m.obs, m.agg, m.scale);
    }
}

static void test_values(void **state)
{
    (void)state;
    pod_obs pods[] = {
        {.pod_id = 1,
         .state = POD_READY,
         .has_metrics = true,
         .gpu_mem_frac = 0.5,
         .gpu_util_frac = 0.2,
         .in_flight = 2,
         .concurrency = 2.5},
        {.pod_id = 2,
         .state = POD_READY,
         .has_metrics = true,
         .gpu_mem_frac = 0.7,
         .gpu_util_frac = 0.4,
         .in_flight = 4,
         .concurrency = 3.5},
        {.pod_id = 3, .state = POD_READY, .has_metrics = false, .gpu_mem_frac = 0.9},
        {.pod_id = 4, .state = POD_STARTING, .has_metrics = true, .gpu_mem_frac = 0.1},
    };
    policy_obs o;
    memset(&o, 0, sizeof(o));
    o.metrics_valid = true;
    for (int i = 0; i < OBS_METRICS; i++)
        o.metric[i] = NAN;
    o.metric[OBS_GPU_MEM_FRAC] = 0.6;
    o.metric[OBS_IN_FLIGHT] = 7; /* includes a draining pod's request */
    o.metric[OBS_LATENCY_P95_S] = 1.5;
    o.metric[OBS_QUEUE_LEN] = 12;
    o.n_pods = 4;
    o.pod = pods;
    static const struct {
        const char *name;
        const char *q; /* a query, or NULL: the name */
        double want;
    } rows[] = {
        {"DCGM_FI_DEV_FB_USED_ratio", NULL, 0.6},
        {"gpu_memory_utilization", NULL, 60.0},
        {"sum of fractions over ready pods with metrics",
         "sum(DCGM_FI_DEV_FB_USED / "
         "(DCGM_FI_DEV_FB_USED + DCGM_FI_DEV_FB_FREE))",
         1.2},
        {"max over pods", "max(DCGM_FI_DEV_FB_USED / DCGM_FI_DEV_FB_TOTAL) * 100", 70.0},
        {"avg over pods", "avg(DCGM_FI_DEV_FB_USED / DCGM_FI_DEV_FB_TOTAL)", 0.6},
        {"sum of in-flight is the cluster count", "sum(gpen_requests_in_flight)", 7.0},
        {"avg of in-flight over ready pods", "avg(gpen_requests_in_flight)", 3.0},
        {"queue", "redis_list_length{key=\"gpen:pending\"}", 12.0},
        {"p95", "gpen_request_latency_seconds_p95", 1.5},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        metric_ref m;
        int rc = rows[i].q ? metric_map_query(rows[i].q, &m, NULL, 0)
                           : metric_map_lookup(rows[i].name, &m, NULL, 0);
        assert_int_equal(rc, 0);
        double v = metric_map_value(&m, &o);
        if (fabs(v - rows[i].want) > 1e-9)
            fail_msg("%s: got %g want %g", rows[i].name, v, rows[i].want);
    }
    /* per pod */
    metric_ref mem, p95, queue;
    metric_map_lookup("gpu_memory_utilization", &mem, NULL, 0);
    metric_map_lookup("gpen_request_latency_seconds_p95", &p95, NULL, 0);
    metric_map_lookup("gpen_pending", &queue, NULL, 0);
    double v;
    assert_true(metric_map_pod_value(&mem, &o, &pods[1], &v));
    assert_true(fabs(v - 70.0) < 1e-9);
    assert_false(metric_map_pod_value(&mem, &o, &pods[2], &v)); /* no metrics: missing */
    assert_true(metric_map_pod_value(&p95, &o, &pods[0], &v));  /* intensive: the cluster */
    assert_true(fabs(v - 1.5) < 1e-9);
    assert_false(metric_map_pod_value(&queue, &o, &pods[0], &v));
    /* the source down */
    o.metrics_valid = false;
    assert_true(isnan(metric_map_value(&mem, &o)));
    assert_false(metric_map_pod_value(&mem, &o, &pods[0], &v));
}

static void test_trivial_labels(void **state)
{
    (void)state;
    assert_true(metric_map_label_is_trivial("app"));
    assert_true(metric_map_label_is_trivial("namespace"));
    assert_false(metric_map_label_is_trivial("pod"));
    assert_false(metric_map_label_is_trivial("gpu"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lookup),
        cmocka_unit_test(test_query),
        cmocka_unit_test(test_values),
        cmocka_unit_test(test_trivial_labels),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
