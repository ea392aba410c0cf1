/* test_predictive.c: the predictive policy learns a repeating daily cycle and scales
 * before the peak from the second day on (on the first, only the floor acts); blends
 * days by their exponential weight; keeps a weekly shape when asked; runs a nested floor
 * policy by name (static, hpa); holds without metrics; refuses bad configs. */
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

#define S_US    1000000LL
#define DAY_US  (86400 * S_US)
#define HOUR_US (3600 * S_US)
#define TICK_US (15 * S_US)

static const policy_ops *pred_ops(void)
{
    const policy_ops *ops = policy_find("predictive");
    assert_non_null(ops);
    return ops;
}

static policy_env env_default(void)
{
    /* one pod serves 1 request/s; a cold start is 60 s */
    policy_env env = {.min_pods = 1,
                      .max_pods = 100,
                      .concurrency = 1,
                      .pod_capacity_per_s = 1.0,
                      .mean_demand_s = 1.0,
                      .cold_start_us = 60 * S_US,
                      .scrape_interval_us = TICK_US};
    return env;
}

static void *make_pred(const char *yaml, cfg_doc **doc, policy_info *info)
{
    gp_error err;
    gp_error_clear(&err);
    *doc = NULL;
    if (yaml && cfg_load_string("p.yaml", yaml, strlen(yaml), doc, &err) < 0)
        fail_msg("yaml: %s", err.msg);
    policy_env env = env_default();
    *info = (policy_info){
        .sync_period_us = 15 * S_US, .initial_pods = -1, .min_pods = -1, .max_pods = -1};
    void *st = NULL;
    if (pred_ops()->create(*doc ? cfg_root(*doc) : NULL, &env, &st, info, &err) < 0) {
        char buf[1024];
        gp_error_format(&err, buf, sizeof(buf));
        fail_msg("create: %s", buf);
    }
    return st;
}

/* The cycle: 1 request/s, `peak` from 10:00 to 11:00 (a step, so "before" is exact);
 * weekend days (5, 6) have no peak when `weekdays_only`. */
typedef struct cycle {
    double base, peak;
    bool weekdays_only;
} cycle;

static double rate_at(const cycle *c, int64_t t)
{
    int64_t tod = t % DAY_US;
    int64_t day = t / DAY_US;
    if (c->weekdays_only && day % 7 >= 5)
        return c->base;
    return tod >= 10 * HOUR_US && tod < 11 * HOUR_US ? c->peak : c->base;
}

typedef struct runner {
    void *st;
    int spec;
    int64_t t;
} runner;

/* One decision at t: the scraped rate is the rate over (t - 15 s, t]. */
static policy_decision step(runner *r, const cycle *c, double *override_rate)
{
    policy_obs o;
    memset(&o, 0, sizeof(o));
    o.now_us = r->t;
    o.scrape_us = r->t;
    o.metrics_valid = true;
    o.metric[OBS_ARRIVAL_RATE] = override_rate ? *override_rate : rate_at(c, r->t - 1);
    o.metric[OBS_QUEUE_LEN] = 0;
    o.spec_replicas = r->spec;
    o.pods[POD_READY] = r->spec;
    o.min_pods = 1;
    o.max_pods = 100;
    policy_decision d;
    policy_decision_init(&d);
    gp_error err;
    gp_error_clear(&err);
    assert_int_equal(pred_ops()->decide(r->st, &o, &d, &err), 0);
    if (d.desired_pods >= 0)
        r->spec = d.desired_pods;
    return d;
}

/* Runs decisions every 15 s up to (not including) `until`. */
static policy_decision run_until(runner *r, const cycle *c, int64_t until)
{
    policy_decision d;
    policy_decision_init(&d);
    for (; r->t < until; r->t += TICK_US)
        d = step(r, c, NULL);
    return d;
}

/* With the defaults (target utilisation 0.7): base 1/s -> 2 pods, peak 10/s -> 15. */
static void test_learns_daily_cycle_and_scales_before_peak(void **state)
{
    (void)state;
    cfg_doc *doc;
    policy_info info;
    runner r = {.st = make_pred(NULL, &doc, &info), .spec = 2, .t = 0};
    assert_int_equal(info.sync_period_us, 15 * S_US);
    cycle c = {.base = 1, .peak = 10};
    /* day 1: no history; before the peak the floor alone keeps 2 pods */
    policy_decision d = run_until(&r, &c, 10 * HOUR_US - 60 * S_US);
    d = step(&r, &c, NULL);
    assert_int_equal(d.desired_pods, 2);
    assert_non_null(strstr(d.detail, "no history"));
    /* the floor reacts only once the peak is seen */
    d = run_until(&r, &c, 10 * HOUR_US + 30 * S_US);
    assert_int_equal(r.spec, 15);
    assert_int_not_equal(d.reason, POLICY_R_FORECAST);
    /* day 2: pods are asked for one cold start + one sync ahead: the first decision
     * whose horizon [t, t + 75 s] reaches 10:00 is at 9:58:45 */
    run_until(&r, &c, DAY_US + 10 * HOUR_US - 75 * S_US - TICK_US);
    d = step(&r, &c, NULL);
    if (d.desired_pods != 2)
        fail_msg("day 2 at 9:58:30: got %d want 2 (%s)", d.desired_pods, d.detail);
    r.t += TICK_US;
    d = step(&r, &c, NULL);
    if (d.desired_pods != 15 || d.reason != POLICY_R_FORECAST)
        fail_msg("day 2 at 9:58:45: got %d (%s) want 15 by forecast (%s)", d.desired_pods,
                 policy_reason_name(d.reason), d.detail);
    r.t += TICK_US;
    /* and the pods are there through the peak */
    for (; r.t < DAY_US + 11 * HOUR_US - 75 * S_US; r.t += TICK_US) {
        d = step(&r, &c, NULL);
        if (d.desired_pods < 15)
            fail_msg("day 2 at %llds: dropped to %d during the peak", (long long)(r.t / S_US),
                     d.desired_pods);
    }
    pred_ops()->destroy(r.st);
    cfg_free(doc);
}

/* Days blend with weight alpha: peaks 10 then 20, alpha 0.5 -> 15/s -> 22 pods. */
static void test_days_blend(void **state)
{
    (void)state;
    cfg_doc *doc;
    policy_info info;
    runner r = {.st = make_pred("alpha: 0.5\ntarget_utilization: 0.5\n", &doc, &info), .spec = 2};
    cycle c1 = {.base = 1, .peak = 10}, c2 = {.base = 1, .peak = 20};
    run_until(&r, &c1, DAY_US);
    run_until(&r, &c2, 2 * DAY_US);
    r.t = 2 * DAY_US + 10 * HOUR_US - 60 * S_US;
    policy_decision d = step(&r, &c1, NULL);
    if (d.desired_pods != 30)
        fail_msg("day 3: got %d want 30 = 15/s / (1 x 0.5) (%s)", d.desired_pods, d.detail);
    pred_ops()->destroy(r.st);
    cfg_free(doc);
}

/* weekly: true keeps the shape by time of week. Peaks on weekdays only: on the second
 * Saturday the weekly profile knows there is none, while the daily one would expect it. */
static void test_weekly_shape(void **state)
{
    (void)state;
    static const struct {
        const char *name, *yaml;
        int want_sat, want_mon;
    } rows[] = {
        {"daily only: expects a peak on Saturday", "target_utilization: 0.5\n", 20, 20},
        {"weekly: no peak on Saturday", "target_utilization: 0.5\nweekly: true\n", 2, 20},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        cfg_doc *doc;
        policy_info info;
        runner r = {.st = make_pred(rows[i].yaml, &doc, &info), .spec = 2};
        cycle c = {.base = 1, .peak = 10, .weekdays_only = true};
        run_until(&r, &c, 12 * DAY_US); /* through day 11 (a Friday) */
        /* day 12 is Saturday: the forecast at 9:59 */
        r.t = 12 * DAY_US + 10 * HOUR_US - 60 * S_US;
        policy_decision d = step(&r, &c, NULL);
        if (d.desired_pods != rows[i].want_sat)
            fail_msg("%s: Saturday %d want %d (%s)", rows[i].name, d.desired_pods, rows[i].want_sat,
                     d.detail);
        r.spec = 2;
        r.t = 14 * DAY_US + 10 * HOUR_US - 60 * S_US; /* Monday */
        d = step(&r, &c, NULL);
        if (d.desired_pods != rows[i].want_mon)
            fail_msg("%s: Monday %d want %d (%s)", rows[i].name, d.desired_pods, rows[i].want_mon,
                     d.detail);
        pred_ops()->destroy(r.st);
        cfg_free(doc);
    }
}

/* The built-in floor: target tracking with the backlog, and it holds for the scale-down
 * window before letting go. */
static void test_own_floor(void **state)
{
    (void)state;
    cfg_doc *doc;
    policy_info info;
    runner r = {
        .st = make_pred("target_utilization: 0.5\nfloor_scale_down_window: 1m\n", &doc, &info),
        .spec = 1};
    cycle c = {.base = 1, .peak = 1};
    double rate = 4;
    policy_decision d = step(&r, &c, &rate);
    assert_int_equal(d.desired_pods, 8);
    /* a backlog of 120 with a 60-s drain adds 2/s */
    policy_obs o;
    rate = 1;
    r.t += TICK_US;
    d = step(&r, &c, &rate);
    assert_int_equal(d.desired_pods, 8); /* held up by the window */
    r.t = 61 * S_US;
    d = step(&r, &c, &rate);
    assert_int_equal(d.desired_pods, 2);
    memset(&o, 0, sizeof(o));
    o.now_us = 76 * S_US;
    o.scrape_us = o.now_us;
    o.metrics_valid = true;
    o.metric[OBS_ARRIVAL_RATE] = 1;
    o.metric[OBS_QUEUE_LEN] = 120;
    o.spec_replicas = 2;
    gp_error err;
    policy_decision_init(&d);
    assert_int_equal(pred_ops()->decide(r.st, &o, &d, &err), 0);
    assert_int_equal(d.desired_pods, 6); /* (1 + 120 / 60) / 0.5 */
    /* no metrics: the floor holds the current spec */
    o.now_us += TICK_US;
    o.metrics_valid = false;
    o.spec_replicas = 5;
    policy_decision_init(&d);
    assert_int_equal(pred_ops()->decide(r.st, &o, &d, &err), 0);
    assert_int_equal(d.desired_pods, 5);
    assert_int_equal(d.reason, POLICY_R_NO_METRICS);
    pred_ops()->destroy(r.st);
    cfg_free(doc);
}

/* A nested floor policy, created by name from the config. */
static void test_nested_floor(void **state)
{
    (void)state;
    cfg_doc *doc;
    policy_info info;
    runner r = {.st = make_pred("target_utilization: 0.5\n"
                                "floor: {policy: static, config: {pods: 7}}\n",
                                &doc, &info),
                .spec = 7};
    assert_int_equal(info.initial_pods, 7);
    cycle c = {.base = 1, .peak = 10};
    policy_decision d = run_until(&r, &c, DAY_US + 10 * HOUR_US - 90 * S_US);
    assert_int_equal(d.desired_pods, 7);
    assert_int_equal(d.reason, POLICY_R_STATIC);
    r.t = DAY_US + 10 * HOUR_US - 75 * S_US;
    d = step(&r, &c, NULL);
    assert_int_equal(d.desired_pods, 20);
    assert_int_equal(d.reason, POLICY_R_FORECAST);
    pred_ops()->destroy(r.st);
    cfg_free(doc);

    if (!policy_find("hpa"))
        return;
    /* the HPA as the reactive floor: its bounds become the policy's */
    r.st = make_pred("floor:\n"
                     "  policy: hpa\n"
                     "  config:\n"
                     "    minReplicas: 1\n"
                     "    maxReplicas: 40\n"
                     "    metrics:\n"
                     "    - type: External\n"
                     "      external:\n"
                     "        metric: {name: arrival_rate}\n"
                     "        target: {type: AverageValue, averageValue: 500m}\n",
                     &doc, &info);
    assert_int_equal(info.min_pods, 1);
    assert_int_equal(info.max_pods, 40);
    r.spec = 2;
    r.t = 0;
    d = run_until(&r, &c, 10 * HOUR_US + 60 * S_US);
    if (r.spec <= 2)
        fail_msg("hpa floor did not react to the peak: %d (%s)", r.spec, d.detail);
    pred_ops()->destroy(r.st);
    cfg_free(doc);
}

static void test_config_errors(void **state)
{
    (void)state;
    static const struct {
        const char *name, *yaml, *want;
    } rows[] = {
        {"unknown floor policy", "floor: {policy: hpx}\n", "unknown floor policy"},
        {"floor of itself", "floor: {policy: predictive}\n", "cannot be predictive"},
        {"floor without a name", "floor: {config: {}}\n", "policy"},
        {"floor config error is the floor's", "floor: {policy: static, config: {pods: -1}}\n",
         "floor.config.pods"},
        {"period not whole bins", "bin: 7m\n", "whole number of bins"},
        {"alpha 0", "alpha: 0\n", "alpha"},
        {"unknown key", "target_utilisation: 0.5\n", "did you mean"},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        cfg_doc *doc = NULL;
        gp_error err;
        gp_error_clear(&err);
        assert_int_equal(cfg_load_string("p.yaml", rows[i].yaml, strlen(rows[i].yaml), &doc, &err),
                         0);
        policy_env env = env_default();
        policy_info info = {
            .sync_period_us = 15 * S_US, .initial_pods = -1, .min_pods = -1, .max_pods = -1};
        void *st = NULL;
        int rc = pred_ops()->create(cfg_root(doc), &env, &st, &info, &err);
        char buf[1024];
        gp_error_format(&err, buf, sizeof(buf));
        if (rc >= 0 || !strstr(buf, rows[i].want) || strncmp(buf, "p.yaml:", 7) != 0)
            fail_msg("%s: rc %d \"%s\" want \"%s\"", rows[i].name, rc, buf, rows[i].want);
        cfg_free(doc);
    }
    /* no capacity known */
    policy_env env = env_default();
    env.pod_capacity_per_s = 0;
    policy_info info = {0};
    void *st = NULL;
    gp_error err;
    gp_error_clear(&err);
    assert_true(pred_ops()->create(NULL, &env, &st, &info, &err) < 0);
    assert_non_null(strstr(err.msg, "capacity"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_learns_daily_cycle_and_scales_before_peak),
        cmocka_unit_test(test_days_blend),
        cmocka_unit_test(test_weekly_shape),
        cmocka_unit_test(test_own_floor),
        cmocka_unit_test(test_nested_floor),
        cmocka_unit_test(test_config_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
