/* test_serverless.c: the per-request policy. Fixed keep-alive (the windows it returns,
 * and the expiry seen end to end in a simulated run), the hybrid histogram's windows
 * from a concentrated idle-time pattern, and its switches to the fixed fallback (too
 * few idle times, a flat histogram, idle times out of bounds), with the CV edge. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/cfg.h"
#include "policy/policy.h"
#include "profile/profile.h"
#include "sim/sim.h"
#include "traces/trace.h"
#include "tests/testutil.h"

#define S_US   1000000LL
#define MIN_US (60 * S_US)

static const policy_ops *sl_ops(void)
{
    const policy_ops *ops = policy_find("serverless");
    assert_non_null(ops);
    return ops;
}

static cfg_doc *load(const char *yaml)
{
    if (!yaml)
        return NULL;
    cfg_doc *doc = NULL;
    gp_error err;
    gp_error_clear(&err);
    if (cfg_load_string("sl.yaml", yaml, strlen(yaml), &doc, &err) < 0)
        fail_msg("yaml: %s", err.msg);
    return doc;
}

static void *make_sl(const char *yaml, cfg_doc **doc, policy_info *info)
{
    *doc = load(yaml);
    policy_env env = {.min_pods = 0,
                      .max_pods = 100,
                      .concurrency = 1,
                      .pod_capacity_per_s = 1,
                      .mean_demand_s = 1,
                      .cold_start_us = 30 * S_US,
                      .scrape_interval_us = 15 * S_US};
    *info = (policy_info){
        .sync_period_us = 15 * S_US, .initial_pods = -1, .min_pods = -1, .max_pods = -1};
    void *st = NULL;
    gp_error err;
    gp_error_clear(&err);
    if (sl_ops()->create(*doc ? cfg_root(*doc) : NULL, &env, &st, info, &err) < 0) {
        char buf[1024];
        gp_error_format(&err, buf, sizeof(buf));
        fail_msg("create: %s", buf);
    }
    return st;
}

static policy_obs obs_at(int64_t t)
{
    policy_obs o;
    memset(&o, 0, sizeof(o));
    o.now_us = t;
    o.scrape_us = t;
    o.metrics_valid = true;
    return o;
}

static policy_decision arrive(void *st, int64_t t)
{
    policy_obs o = obs_at(t);
    policy_decision d;
    policy_decision_init(&d);
    gp_error err;
    assert_int_equal(sl_ops()->on_arrival(st, &o, &d, &err), 0);
    return d;
}

static policy_decision sync_at(void *st, int64_t t)
{
    policy_obs o = obs_at(t);
    policy_decision d;
    policy_decision_init(&d);
    gp_error err;
    assert_int_equal(sl_ops()->decide(st, &o, &d, &err), 0);
    return d;
}

static void test_fixed_keep_alive(void **state)
{
    (void)state;
    static const struct {
        const char *name, *yaml;
        int64_t want_us;
    } rows[] = {
        {"default 10 min", NULL, 10 * MIN_US},
        {"configured 5m", "keep_alive: 5m\n", 5 * MIN_US},
        {"configured 0: unload at once", "keep_alive_policy: fixed\nkeep_alive: 0s\n", 0},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        cfg_doc *doc;
        policy_info info;
        void *st = make_sl(rows[i].yaml, &doc, &info);
        assert_true(info.flags & POLICY_F_PER_REQUEST);
        assert_int_equal(info.initial_pods, 0);
        policy_decision a = arrive(st, 5 * S_US);
        policy_decision d = sync_at(st, 15 * S_US);
        if (a.keep_alive_us != rows[i].want_us || d.keep_alive_us != rows[i].want_us)
            fail_msg("%s: keep-alive %lld / %lld want %lld", rows[i].name,
                     (long long)a.keep_alive_us, (long long)d.keep_alive_us,
                     (long long)rows[i].want_us);
        assert_int_equal(d.prewarm_us, 0);
        assert_int_equal(d.desired_pods, -1);
        assert_int_equal(a.desired_pods, -1);
        sl_ops()->destroy(st);
        cfg_free(doc);
    }
}

/* Arrivals with the given gaps (minutes), starting at 1 h. */
static policy_decision feed_gaps(void *st, const double *gaps_min, int n, int64_t *t_end)
{
    int64_t t = 3600 * S_US;
    policy_decision d = arrive(st, t);
    for (int i = 0; i < n; i++) {
        t += (int64_t)llround(gaps_min[i] * 60.0 * 1e6);
        d = arrive(st, t);
    }
    *t_end = t;
    return d;
}

static const char *const hybrid = "keep_alive_policy: hybrid\n";

/* A function invoked every 30 minutes: head and tail both in the 30-min bin. Pre-warm
 * = 30 min x 0.9 - the 30-s cold start; keep-alive = 31 min x 1.1 - pre-warm. */
static void test_hybrid_histogram_windows(void **state)
{
    (void)state;
    cfg_doc *doc;
    policy_info info;
    void *st = make_sl(hybrid, &doc, &info);
    double gaps[19];
    for (int i = 0; i < 19; i++)
        gaps[i] = 30;
    int64_t t;
    policy_decision d = feed_gaps(st, gaps, 19, &t);
    d = sync_at(st, t + 15 * S_US);
    assert_int_equal(d.reason, POLICY_R_FORECAST);
    int64_t prewarm = 1800 * S_US * 9 / 10 - 30 * S_US;
    int64_t keep = 1860 * S_US * 11 / 10 - prewarm;
    if (d.prewarm_us != prewarm || d.keep_alive_us != keep)
        fail_msg("windows: pre-warm %lld keep %lld, want %lld %lld (%s)", (long long)d.prewarm_us,
                 (long long)d.keep_alive_us, (long long)prewarm, (long long)keep, d.detail);
    sl_ops()->destroy(st);
    cfg_free(doc);

    /* without subtracting the cold start, and with other margins */
    st = make_sl("keep_alive_policy: hybrid\nprewarm_minus_cold_start: false\n"
                 "prewarm_margin_frac: 0.2\nkeep_alive_margin_frac: 0\n",
                 &doc, &info);
    d = feed_gaps(st, gaps, 19, &t);
    assert_int_equal(d.prewarm_us, 1800 * S_US * 8 / 10);
    assert_int_equal(d.keep_alive_us, 1860 * S_US - 1800 * S_US * 8 / 10);
    sl_ops()->destroy(st);
    cfg_free(doc);

    /* busy service: gaps under a minute, head bin 0: no pre-warm, keep 1 min x 1.1 */
    st = make_sl(hybrid, &doc, &info);
    double fast[30];
    for (int i = 0; i < 30; i++)
        fast[i] = 0.2;
    d = feed_gaps(st, fast, 30, &t);
    d = sync_at(st, t);
    assert_int_equal(d.prewarm_us, 0);
    assert_int_equal(d.keep_alive_us, 66 * S_US);
    sl_ops()->destroy(st);
    cfg_free(doc);
}

/* When the histogram is not representative the policy falls back to the fixed
 * keep-alive (default: the 4-h range) without pre-warm. With idle times spread evenly
 * over k of the 240 bins, CV^2 = 240 / k - 1: CV >= 2 for k <= 48. */
static void test_hybrid_switch_to_fixed(void **state)
{
    (void)state;
    static const struct {
        const char *name;
        const char *yaml;
        int spread_bins;    /* gaps cycle through this many 1-min bins, from 10 min */
        int n;              /* gaps */
        double oob_gap_min; /* > 0: every other gap is this long */
        bool hist;
        const char *detail;
        int64_t want_keep_us;
    } rows[] = {
        {"9 idle times: too few", NULL, 1, 9, 0, false, "too few", 240 * MIN_US},
        {"10 idle times: enough", NULL, 1, 10, 0, true, "histogram", -1},
        {"spread over 40 bins: CV 2.24, histogram", NULL, 40, 200, 0, true, "histogram", -1},
        {"spread over 48 bins: CV 2.0, histogram", NULL, 48, 240, 0, true, "histogram", -1},
        {"spread over 60 bins: CV 1.73, fixed", NULL, 60, 240, 0, false, "not representative",
         240 * MIN_US},
        {"spread over 60 bins, cv_threshold 1.5: histogram", "cv_threshold: 1.5\n", 60, 240, 0,
         true, "histogram", -1},
        {"mostly beyond 4 h: out of bounds, fixed", NULL, 1, 20, 300, false, "ARIMA", 240 * MIN_US},
        {"fallback keep-alive configured", "fallback_keep_alive: 20m\n", 60, 240, 0, false,
         "not representative", 20 * MIN_US},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        char yaml[512];
        snprintf(yaml, sizeof(yaml), "%s%s", hybrid, rows[i].yaml ? rows[i].yaml : "");
        cfg_doc *doc;
        policy_info info;
        void *st = make_sl(yaml, &doc, &info);
        double gaps[400];
        assert_true(rows[i].n <= 400);
        for (int k = 0; k < rows[i].n; k++) {
            gaps[k] = 10 + (k % rows[i].spread_bins) + 0.5;
            if (rows[i].oob_gap_min > 0 && k % 3 != 0)
                gaps[k] = rows[i].oob_gap_min;
        }
        int64_t t;
        feed_gaps(st, gaps, rows[i].n, &t);
        policy_decision d = sync_at(st, t);
        bool is_hist = d.reason == POLICY_R_FORECAST;
        if (is_hist != rows[i].hist || !strstr(d.detail, rows[i].detail))
            fail_msg("%s: %s", rows[i].name, d.detail);
        if (!rows[i].hist && (d.keep_alive_us != rows[i].want_keep_us || d.prewarm_us != 0))
            fail_msg("%s: keep %lld pre-warm %lld, want %lld and 0", rows[i].name,
                     (long long)d.keep_alive_us, (long long)d.prewarm_us,
                     (long long)rows[i].want_keep_us);
        sl_ops()->destroy(st);
        cfg_free(doc);
    }
}

/* The same policy switches as its histogram fills: concentrated first (histogram),
 * then idle times spread over many bins flatten it and it falls back to fixed. */
static void test_hybrid_switches_during_a_run(void **state)
{
    (void)state;
    cfg_doc *doc;
    policy_info info;
    void *st = make_sl(hybrid, &doc, &info);
    double gaps[20];
    for (int i = 0; i < 20; i++)
        gaps[i] = 5.5;
    int64_t t;
    policy_decision d = feed_gaps(st, gaps, 20, &t);
    assert_int_equal(d.reason, POLICY_R_FORECAST);
    bool switched = false;
    for (int k = 0; k < 400 && !switched; k++) {
        t += (int64_t)((10 + (k % 200) + 0.5) * 60 * 1e6);
        d = arrive(st, t);
        switched = d.reason != POLICY_R_FORECAST;
    }
    assert_true(switched);
    assert_non_null(strstr(d.detail, "not representative"));
    assert_int_equal(d.keep_alive_us, 240 * MIN_US);
    sl_ops()->destroy(st);
    cfg_free(doc);
}

static void test_config_errors(void **state)
{
    (void)state;
    static const struct {
        const char *name, *yaml, *want;
    } rows[] = {
        {"unknown policy", "keep_alive_policy: adaptive\n", "expected one of"},
        {"head above tail", "head_percentile: 99\ntail_percentile: 5\n", "must be below"},
        {"bad duration", "keep_alive: ten minutes\n", "duration"},
        {"unknown key", "keepalive: 5m\n", "did you mean"},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        cfg_doc *doc = load(rows[i].yaml);
        policy_env env = {.max_pods = 10};
        policy_info info = {0};
        void *st = NULL;
        gp_error err;
        gp_error_clear(&err);
        int rc = sl_ops()->create(cfg_root(doc), &env, &st, &info, &err);
        char buf[1024];
        gp_error_format(&err, buf, sizeof(buf));
        if (rc >= 0 || !strstr(buf, rows[i].want) || strncmp(buf, "sl.yaml:", 8) != 0)
            fail_msg("%s: rc %d \"%s\" want \"%s\"", rows[i].name, rc, buf, rows[i].want);
        cfg_free(doc);
    }
}

/* ------------------------------------------------------------ end to end: expiry */

/* Instances start in 10 s and serve a request in 10 s. Requests at 1 s and 100 s: the
 * first instance is idle from 21 s. With a 60-s keep-alive it has expired at 81 s and
 * the second request waits on a cold start; with 100 s it is still there. */
static void test_keep_alive_expiry_in_a_run(void **state)
{
    (void)state;
    gpu_profile *p = tu_profile("format gpenlab-profile 1\ncard \"t\"\nprovenance seed\nmp_grid 1\n"
                                "stage work image 10000\njitter none\neff 1\ngpu_mem_mib 1000\n"
                                "model_mem_mib 200\nreq_mem_mib 100\n"
                                "cold_phase start const 10 serverless\n");
    gp_error err;
    gp_error_clear(&err);
    request_spec specs[2] = {{.arrival_us = 1 * S_US, .mp = 1, .faces = 1},
                             {.arrival_us = 100 * S_US, .mp = 1, .faces = 1}};
    tu_list lc = {.specs = specs, .n = 2};
    static const struct {
        const char *yaml;
        uint64_t starts, waited;
    } rows[] = {
        {"keep_alive: 60s\n", 2, 2},
        {"keep_alive: 78s\n", 2, 2}, /* expires at 99 s, a second before */
        {"keep_alive: 80s\n", 1, 1}, /* expires at 101 s: still warm at 100 s */
        {"keep_alive: 100s\n", 1, 1},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        cfg_doc *doc = load(rows[i].yaml);
        sim_cfg cfg;
        memset(&cfg, 0, sizeof(cfg));
        cluster_cfg_default(&cfg.cluster);
        metrics_cfg_default(&cfg.metrics);
        cfg.profile = p;
        cfg.policy = sl_ops();
        cfg.policy_cfg = cfg_root(doc);
        cfg.seed = 7;
        cfg.open_source = tu_open_list;
        cfg.source_ctx = &lc;
        cfg.cluster.min_pods = 0;
        cfg.cluster.concurrency = 1;
        run_summary sum;
        memset(&sum, 0, sizeof(sum));
        int rc = sim_run(&cfg, &sum, NULL, NULL, &err);
        if (rc < 0) {
            char buf[1024];
            gp_error_format(&err, buf, sizeof(buf));
            fail_msg("%s: sim_run: %s", rows[i].yaml, buf);
        }
        assert_int_equal(sum.completed, 2);
        if (sum.pod_starts != rows[i].starts || sum.cold_waited != rows[i].waited)
            fail_msg("%s: %llu starts, %llu waited; want %llu, %llu", rows[i].yaml,
                     (unsigned long long)sum.pod_starts, (unsigned long long)sum.cold_waited,
                     (unsigned long long)rows[i].starts, (unsigned long long)rows[i].waited);
        cfg_free(doc);
    }
    free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fixed_keep_alive),
        cmocka_unit_test(test_hybrid_histogram_windows),
        cmocka_unit_test(test_hybrid_switch_to_fixed),
        cmocka_unit_test(test_hybrid_switches_during_a_run),
        cmocka_unit_test(test_config_errors),
        cmocka_unit_test(test_keep_alive_expiry_in_a_run),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
