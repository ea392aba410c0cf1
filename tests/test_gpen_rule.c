/* test_gpen_rule.c: the seed article's rule at its edges: the 30-s memory persistence on
 * 15-s samples, the 5-consecutive P95 count and its reset, the queue trigger, the 5-min
 * cool-down (scale-down refused at 4:59, allowed at 5:00), the two-condition scale-down,
 * missing metrics, repeated scrapes, configured thresholds and bad configs. */
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
#include "tests/testutil.h"

#define S_US 1000000LL

static const policy_ops *rule_ops(void)
{
    const policy_ops *ops = policy_find("gpen-rule");
    assert_non_null(ops);
    return ops;
}

static void *make_rule(const char *yaml, cfg_doc **doc, policy_info *info)
{
    gp_error err;
    gp_error_clear(&err);
    *doc = NULL;
    const cfg_node *root = NULL;
    if (yaml) {
        if (cfg_load_string("rule.yaml", yaml, strlen(yaml), doc, &err) < 0)
            fail_msg("yaml: %s", err.msg);
        root = cfg_root(*doc);
    }
    policy_env env = {.min_pods = 1,
                      .max_pods = 10,
                      .concurrency = 1,
                      .pod_capacity_per_s = 1,
                      .mean_demand_s = 1,
                      .cold_start_us = 27 * S_US,
                      .scrape_interval_us = 15 * S_US};
    *info = (policy_info){
        .sync_period_us = 15 * S_US, .initial_pods = -1, .min_pods = -1, .max_pods = -1};
    void *st = NULL;
    if (rule_ops()->create(root, &env, &st, info, &err) < 0) {
        char buf[1024];
        gp_error_format(&err, buf, sizeof(buf));
        fail_msg("create: %s", buf);
    }
    return st;
}

static policy_obs obs_at(int64_t t_us, double mem, double p95, double q, int spec)
{
    policy_obs o;
    memset(&o, 0, sizeof(o));
    o.now_us = t_us;
    o.scrape_us = t_us;
    o.metrics_valid = true;
    for (int i = 0; i < OBS_METRICS; i++)
        o.metric[i] = 0;
    o.metric[OBS_GPU_MEM_FRAC] = mem;
    o.metric[OBS_LATENCY_P95_S] = p95;
    o.metric[OBS_QUEUE_LEN] = q;
    o.metric[OBS_IN_FLIGHT] = isnan(p95) ? 0 : 1;
    o.latency_samples = isnan(p95) ? 0 : 100;
    o.spec_replicas = spec;
    o.pods[POD_READY] = spec;
    o.min_pods = 1;
    o.max_pods = 10;
    return o;
}

static policy_decision decide(void *st, const policy_obs *o)
{
    return tu_decide(rule_ops(), st, o);
}

/* One sample every 15 s; the row says what each decision must be. */
typedef struct sample {
    double mem, p95, q;
    int want;   /* desired pods, -1: hold */
    int reason; /* -1: any */
} sample;

#define NS 40
typedef struct seq_row {
    const char *name;
    const char *yaml;
    int spec0;
    sample s[NS];
    int n;
} seq_row;

#define HOLD -1
#define ANY  -1

static void run_rows(const seq_row *rows, size_t nrows)
{
    for (size_t i = 0; i < nrows; i++) {
        const seq_row *r = &rows[i];
        cfg_doc *doc;
        policy_info info;
        void *st = make_rule(r->yaml, &doc, &info);
        int spec = r->spec0;
        for (int k = 0; k < r->n; k++) {
            const sample *s = &r->s[k];
            policy_obs o = obs_at((int64_t)k * 15 * S_US, s->mem, s->p95, s->q, spec);
            policy_decision d = decide(st, &o);
            if (d.desired_pods != s->want)
                fail_msg("%s: sample %d (t=%ds): got %d want %d (%s)", r->name, k, k * 15,
                         d.desired_pods, s->want, d.detail);
            if (s->reason >= 0 && d.reason != s->reason)
                fail_msg("%s: sample %d: reason %s want %s (%s)", r->name, k,
                         policy_reason_name(d.reason), policy_reason_name(s->reason), d.detail);
            if (d.desired_pods >= 0)
                spec = d.desired_pods;
        }
        rule_ops()->destroy(st);
        cfg_free(doc);
    }
}

#define OK_ 0.6, 2.0, 0 /* nothing triggers: mem mid, p95 mid, empty queue */

static void test_scale_up_triggers(void **state)
{
    (void)state;
    static const seq_row rows[] = {
        {"memory > 85% for 30 s = 3 samples (0, 15, 30 s)",
         NULL,
         2,
         {{0.9, 2, 0, HOLD, ANY}, {0.9, 2, 0, HOLD, ANY}, {0.9, 2, 0, 3, POLICY_R_SCALE_UP}},
         3},
        {"memory run broken at 15 s restarts",
         NULL,
         2,
         {{0.9, 2, 0, HOLD, ANY},
          {0.84, 2, 0, HOLD, ANY},
          {0.9, 2, 0, HOLD, ANY},
          {0.9, 2, 0, HOLD, ANY},
          {0.9, 2, 0, 3, POLICY_R_SCALE_UP}},
         5},
        {"memory exactly 85% is not above",
         NULL,
         2,
         {{0.85, 2, 0, HOLD, ANY},
          {0.85, 2, 0, HOLD, ANY},
          {0.85, 2, 0, HOLD, ANY},
          {0.85, 2, 0, HOLD, ANY}},
         4},
        {"memory missing breaks the run",
         NULL,
         2,
         {{0.9, 2, 0, HOLD, ANY},
          {NAN, 2, 0, HOLD, POLICY_R_NO_METRICS},
          {0.9, 2, 0, HOLD, ANY},
          {0.9, 2, 0, HOLD, ANY},
          {0.9, 2, 0, 3, ANY}},
         5},
        {"p95 > 3.5 s on 5 consecutive samples",
         NULL,
         2,
         {{0.6, 3.6, 0, HOLD, ANY},
          {0.6, 3.6, 0, HOLD, ANY},
          {0.6, 3.6, 0, HOLD, ANY},
          {0.6, 3.6, 0, HOLD, ANY},
          {0.6, 3.6, 0, 3, POLICY_R_SCALE_UP}},
         5},
        {"p95 count resets on one sample <= 3.5 s",
         NULL,
         2,
         {{0.6, 3.6, 0, HOLD, ANY},
          {0.6, 3.6, 0, HOLD, ANY},
          {0.6, 3.6, 0, HOLD, ANY},
          {0.6, 3.6, 0, HOLD, ANY},
          {0.6, 3.5, 0, HOLD, ANY},
          {0.6, 3.6, 0, HOLD, ANY},
          {0.6, 3.6, 0, HOLD, ANY},
          {0.6, 3.6, 0, HOLD, ANY},
          {0.6, 3.6, 0, HOLD, ANY},
          {0.6, 3.6, 0, 3, POLICY_R_SCALE_UP}},
         10},
        {"p95 count resets on a missing sample",
         NULL,
         2,
         {{0.6, 3.6, 0, HOLD, ANY},
          {0.6, 3.6, 0, HOLD, ANY},
          {0.6, 3.6, 0, HOLD, ANY},
          {0.6, 3.6, 0, HOLD, ANY},
          {0.6, NAN, 3, HOLD, POLICY_R_NO_METRICS},
          {0.6, 3.6, 0, HOLD, ANY}},
         6},
        {"queue 7 holds, 8 scales up at once",
         NULL,
         2,
         {{OK_ + 7, HOLD, ANY}, {0.6, 2.0, 8, 3, POLICY_R_SCALE_UP}},
         2},
        {"one pod per decision; runs restart after a scale-up",
         NULL,
         2,
         {{0.9, 2, 0, HOLD, ANY},
          {0.9, 2, 0, HOLD, ANY},
          {0.9, 2, 0, 3, ANY},
          {0.9, 2, 0, HOLD, ANY},
          {0.9, 2, 0, HOLD, ANY},
          {0.9, 2, 0, 4, ANY}},
         6},
        {"at max: no scale-up", "max_pods: 3\n", 3, {{0.6, 2.0, 9, HOLD, POLICY_R_BOUNDS}}, 1},
        {"configured: mem 70% for 45 s, step 2",
         "scale_up_gpu_mem_frac: 0.7\n"
         "scale_up_gpu_mem_for: 45s\n"
         "scale_up_step_pods: 2\n",
         2,
         {{0.75, 2, 0, HOLD, ANY},
          {0.75, 2, 0, HOLD, ANY},
          {0.75, 2, 0, HOLD, ANY},
          {0.75, 2, 0, 4, ANY}},
         4},
        {"configured: p95 3 s on 2 samples, queue 20",
         "scale_up_p95_s: 3\n"
         "scale_up_p95_count: 2\n"
         "scale_up_queue_len: 20\n"
         "scale_down_p95_s: 1\n",
         2,
         {{0.6, 3.1, 19, HOLD, ANY}, {0.6, 3.1, 19, 3, ANY}},
         2},
    };
    run_rows(rows, sizeof(rows) / sizeof(rows[0]));
}

#define LOW 0.3, 1.0, 0

static void test_scale_down_two_conditions(void **state)
{
    (void)state;
    static const seq_row rows[] = {
        {"both low for 2 min = 9 samples (0..120 s): down by one",
         NULL,
         4,
         {{LOW, HOLD, ANY},
          {LOW, HOLD, ANY},
          {LOW, HOLD, ANY},
          {LOW, HOLD, ANY},
          {LOW, HOLD, ANY},
          {LOW, HOLD, ANY},
          {LOW, HOLD, ANY},
          {LOW, HOLD, ANY},
          {LOW, 3, POLICY_R_SCALE_DOWN}},
         9},
        {"memory low but p95 high: never",
         NULL,
         4,
         {{0.3, 2.0, 0, HOLD, ANY},
          {0.3, 2.0, 0, HOLD, ANY},
          {0.3, 2.0, 0, HOLD, ANY},
          {0.3, 2.0, 0, HOLD, ANY},
          {0.3, 2.0, 0, HOLD, ANY},
          {0.3, 2.0, 0, HOLD, ANY},
          {0.3, 2.0, 0, HOLD, ANY},
          {0.3, 2.0, 0, HOLD, ANY},
          {0.3, 2.0, 0, HOLD, ANY},
          {0.3, 2.0, 0, HOLD, ANY},
          {0.3, 2.0, 0, HOLD, ANY},
          {0.3, 2.0, 0, HOLD, ANY}},
         12},
        {"p95 low but memory 40%: never (below, not at)",
         NULL,
         4,
         {{0.4, 1.0, 0, HOLD, ANY},
          {0.4, 1.0, 0, HOLD, ANY},
          {0.4, 1.0, 0, HOLD, ANY},
          {0.4, 1.0, 0, HOLD, ANY},
          {0.4, 1.0, 0, HOLD, ANY},
          {0.4, 1.0, 0, HOLD, ANY},
          {0.4, 1.0, 0, HOLD, ANY},
          {0.4, 1.0, 0, HOLD, ANY},
          {0.4, 1.0, 0, HOLD, ANY},
          {0.4, 1.0, 0, HOLD, ANY}},
         10},
        {"one sample not low restarts the 2 min",
         NULL,
         4,
         {{LOW, HOLD, ANY},
          {LOW, HOLD, ANY},
          {LOW, HOLD, ANY},
          {LOW, HOLD, ANY},
          {0.3, 1.6, 0, HOLD, ANY},
          {LOW, HOLD, ANY},
          {LOW, HOLD, ANY},
          {LOW, HOLD, ANY},
          {LOW, HOLD, ANY},
          {LOW, HOLD, ANY},
          {LOW, HOLD, ANY},
          {LOW, HOLD, ANY},
          {LOW, HOLD, ANY},
          {LOW, 3, POLICY_R_SCALE_DOWN}},
         14},
        {"each further step waits another 2 min",
         NULL,
         4,
         {{LOW, HOLD, ANY},
          {LOW, HOLD, ANY},
          {LOW, HOLD, ANY},
          {LOW, HOLD, ANY},
          {LOW, HOLD, ANY},
          {LOW, HOLD, ANY},
          {LOW, HOLD, ANY},
          {LOW, HOLD, ANY},
          {LOW, 3, ANY},
          {LOW, HOLD, ANY},
          {LOW, HOLD, ANY},
          {LOW, HOLD, ANY},
          {LOW, HOLD, ANY},
          {LOW, HOLD, ANY},
          {LOW, HOLD, ANY},
          {LOW, HOLD, ANY},
          {LOW, 2, ANY}},
         17},
        {"at min: no scale-down",
         "min_pods: 2\n",
         2,
         {{LOW, HOLD, ANY},
          {LOW, HOLD, ANY},
          {LOW, HOLD, ANY},
          {LOW, HOLD, ANY},
          {LOW, HOLD, ANY},
          {LOW, HOLD, ANY},
          {LOW, HOLD, ANY},
          {LOW, HOLD, ANY},
          {LOW, HOLD, POLICY_R_BOUNDS}},
         9},
        {"idle (no traffic, p95 undefined) counts as low",
         NULL,
         4,
         {{0.3, NAN, 0, HOLD, ANY},
          {0.3, NAN, 0, HOLD, ANY},
          {0.3, NAN, 0, HOLD, ANY},
          {0.3, NAN, 0, HOLD, ANY},
          {0.3, NAN, 0, HOLD, ANY},
          {0.3, NAN, 0, HOLD, ANY},
          {0.3, NAN, 0, HOLD, ANY},
          {0.3, NAN, 0, HOLD, ANY},
          {0.3, NAN, 0, 3, POLICY_R_SCALE_DOWN}},
         9},
        {"idle_counts_as_low_latency: false holds",
         "idle_counts_as_low_latency: false\n",
         4,
         {{0.3, NAN, 0, HOLD, POLICY_R_NO_METRICS},
          {0.3, NAN, 0, HOLD, ANY},
          {0.3, NAN, 0, HOLD, ANY},
          {0.3, NAN, 0, HOLD, ANY},
          {0.3, NAN, 0, HOLD, ANY},
          {0.3, NAN, 0, HOLD, ANY},
          {0.3, NAN, 0, HOLD, ANY},
          {0.3, NAN, 0, HOLD, ANY},
          {0.3, NAN, 0, HOLD, POLICY_R_NO_METRICS}},
         9},
        {"p95 missing with traffic waiting: no scale-down",
         NULL,
         4,
         {{0.3, NAN, 2, HOLD, ANY},
          {0.3, NAN, 2, HOLD, ANY},
          {0.3, NAN, 2, HOLD, ANY},
          {0.3, NAN, 2, HOLD, ANY},
          {0.3, NAN, 2, HOLD, ANY},
          {0.3, NAN, 2, HOLD, ANY},
          {0.3, NAN, 2, HOLD, ANY},
          {0.3, NAN, 2, HOLD, ANY},
          {0.3, NAN, 2, HOLD, POLICY_R_NO_METRICS}},
         9},
    };
    run_rows(rows, sizeof(rows) / sizeof(rows[0]));
}

/* The cool-down: a scale-up at t = 0; both conditions low from 15 s on (so the 2 min
 * hold long before); scale-down refused at 4:59, allowed at 5:00. */
static void test_cooldown_edges(void **state)
{
    (void)state;
    static const struct {
        const char *name;
        const char *yaml;
        int64_t refuse_us, allow_us;
    } rows[] = {
        {"default 5 min", NULL, 299 * S_US, 300 * S_US},
        {"configured 10m", "cooldown_after_scale_up: 10m\n", 599 * S_US, 600 * S_US},
        {"configured 0: no cool-down", "cooldown_after_scale_up: 0s\n", -1, 135 * S_US},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        cfg_doc *doc;
        policy_info info;
        void *st = make_rule(rows[i].yaml, &doc, &info);
        policy_obs o = obs_at(0, 0.6, 2.0, 9, 2);
        policy_decision d = decide(st, &o);
        assert_int_equal(d.desired_pods, 3);
        int64_t t;
        for (t = 15 * S_US; t + 15 * S_US <= rows[i].allow_us; t += 15 * S_US) {
            o = obs_at(t, LOW, 3);
            d = decide(st, &o);
            if (d.desired_pods != -1)
                fail_msg("%s: t=%llds: got %d, want hold (%s)", rows[i].name, (long long)(t / S_US),
                         d.desired_pods, d.detail);
        }
        if (rows[i].refuse_us >= 0) {
            o = obs_at(rows[i].refuse_us, LOW, 3);
            d = decide(st, &o);
            if (d.desired_pods != -1 || d.reason != POLICY_R_COOLDOWN)
                fail_msg("%s: at %llds got %d (%s), want cool-down hold", rows[i].name,
                         (long long)(rows[i].refuse_us / S_US), d.desired_pods,
                         policy_reason_name(d.reason));
        }
        o = obs_at(rows[i].allow_us, LOW, 3);
        d = decide(st, &o);
        if (d.desired_pods != 2 || d.reason != POLICY_R_SCALE_DOWN)
            fail_msg("%s: at %llds got %d (%s: %s), want 2", rows[i].name,
                     (long long)(rows[i].allow_us / S_US), d.desired_pods,
                     policy_reason_name(d.reason), d.detail);
        rule_ops()->destroy(st);
        cfg_free(doc);
    }
}

static void test_missing_and_repeated(void **state)
{
    (void)state;
    cfg_doc *doc;
    policy_info info;
    void *st = make_rule(NULL, &doc, &info);
    assert_int_equal(info.sync_period_us, 15 * S_US);
    /* source down: hold, and say so */
    policy_obs o = obs_at(0, 0.9, 4, 20, 2);
    o.metrics_valid = false;
    policy_decision d = decide(st, &o);
    assert_int_equal(d.desired_pods, -1);
    assert_int_equal(d.reason, POLICY_R_NO_METRICS);
    assert_non_null(strstr(d.detail, "unavailable"));
    /* the same scrape seen by four decisions counts once: P95 high x1, not x4 */
    for (int k = 0; k < 4; k++) {
        o = obs_at(k * 5 * S_US, 0.6, 3.6, 0, 2);
        o.scrape_us = 0;
        d = decide(st, &o);
        assert_int_equal(d.desired_pods, -1);
    }
    for (int k = 1; k < 4; k++) {
        o = obs_at(k * 15 * S_US, 0.6, 3.6, 0, 2);
        d = decide(st, &o);
        assert_int_equal(d.desired_pods, -1);
    }
    o = obs_at(60 * S_US, 0.6, 3.6, 0, 2);
    d = decide(st, &o);
    assert_int_equal(d.desired_pods, 3); /* the 5th distinct sample */
    rule_ops()->destroy(st);
    cfg_free(doc);
}

static void test_config(void **state)
{
    (void)state;
    cfg_doc *doc;
    policy_info info;
    void *st =
        make_rule("sync_period: 30s\nmin_pods: 1\nmax_pods: 3\ninitial_pods: 2\n", &doc, &info);
    assert_int_equal(info.sync_period_us, 30 * S_US);
    assert_int_equal(info.min_pods, 1);
    assert_int_equal(info.max_pods, 3);
    assert_int_equal(info.initial_pods, 2);
    rule_ops()->destroy(st);
    cfg_free(doc);

    static const struct {
        const char *name, *yaml, *want;
    } bad[] = {
        {"unknown key", "scale_up_gpu_mem_fra: 0.9\n", "did you mean"},
        {"fraction above 1", "scale_up_gpu_mem_frac: 85\n", "[0, 1]"},
        {"duration", "scale_down_for: two minutes\n", "duration"},
        {"down above up", "scale_down_gpu_mem_frac: 0.9\n", "must be below"},
        {"p95 down above up", "scale_down_p95_s: 4\n", "must be below"},
        {"min above max", "min_pods: 4\nmax_pods: 2\n", "greater than"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        gp_error err;
        gp_error_clear(&err);
        assert_int_equal(cfg_load_string("r.yaml", bad[i].yaml, strlen(bad[i].yaml), &doc, &err),
                         0);
        policy_env env = {.min_pods = 1, .max_pods = 10};
        void *s = NULL;
        int rc = rule_ops()->create(cfg_root(doc), &env, &s, &info, &err);
        char buf[1024];
        gp_error_format(&err, buf, sizeof(buf));
        if (rc >= 0 || !strstr(buf, bad[i].want) || strncmp(buf, "r.yaml:", 7) != 0)
            fail_msg("%s: rc %d, error \"%s\", want \"%s\"", bad[i].name, rc, buf, bad[i].want);
        cfg_free(doc);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scale_up_triggers),
        cmocka_unit_test(test_scale_down_two_conditions),
        cmocka_unit_test(test_cooldown_edges),
        cmocka_unit_test(test_missing_and_repeated),
        cmocka_unit_test(test_config),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
