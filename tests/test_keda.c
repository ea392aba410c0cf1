/* test_keda.c: the keda policy at its edges: activation 0 -> 1 (and to minReplicaCount),
 * activation thresholds (strictly greater), the cooldown before 1 -> 0 (not yet at exactly
 * cooldownPeriod after the last active poll), initialCooldownPeriod, idleReplicaCount, and
 * the HPA KEDA creates (External AverageValue, minReplicas = max(minReplicaCount, 1), the
 * legacy clamp without behavior). Facts from kedacore/keda scale_scaledobjects.go and the
 * redis / prometheus scalers. Bad ScaledObjects are in tests/data/policy/bad/keda_*.yaml. */
#include <dirent.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/cfg.h"
#include "policy/policy.h"
#include "tests/testutil.h"

#define S INT64_C(1000000)

typedef struct ctl {
    const policy_ops *ops;
    void *state;
    policy_info info;
    cfg_doc *doc;
} ctl;

static void ctl_open(ctl *c, const char *yaml)
{
    c->ops = policy_find("keda");
    assert_non_null(c->ops);
    gp_error err;
    gp_error_clear(&err);
    if (cfg_load_string("keda.yaml", yaml, strlen(yaml), &c->doc, &err) < 0)
        fail_msg("yaml: %s", err.msg);
    policy_env env = {.min_pods = 0, .max_pods = 1000};
    c->info = (policy_info){15 * S, 0, -1, -1, -1};
    if (c->ops->create(cfg_root(c->doc), &env, &c->state, &c->info, &err) < 0)
        fail_msg("create: %s", err.msg);
}

static void ctl_close(ctl *c)
{
    c->ops->destroy(c->state);
    cfg_free(c->doc);
}

/* `ready` pods, all ready; the queue (LLEN gpen:pending) and p95 latency as given. */
static policy_decision step(ctl *c, double t_s, int spec, double queue, double p95)
{
    static pod_obs pods[64];
    policy_obs o;
    memset(&o, 0, sizeof(o));
    o.now_us = (int64_t)llround(t_s * 1e6);
    o.metrics_valid = true;
    for (int i = 0; i < OBS_METRICS; i++)
        o.metric[i] = NAN;
    o.metric[OBS_QUEUE_LEN] = queue;
    o.metric[OBS_LATENCY_P95_S] = p95;
    o.spec_replicas = spec;
    for (int i = 0; i < spec && i < 64; i++)
        pods[i] = (pod_obs){.pod_id = (uint64_t)i + 1, .state = POD_READY, .has_metrics = true};
    o.pods[POD_READY] = spec;
    o.n_pods = spec;
    o.pod = pods;
    o.max_pods = 1000;
    policy_decision d;
    policy_decision_init(&d);
    gp_error err;
    gp_error_clear(&err);
    if (c->ops->decide(c->state, &o, &d, &err) < 0)
        fail_msg("decide: %s", err.msg);
    return d;
}

#define EXPECT(d, want_pods, want_reason, what)                               \
    do {                                                                      \
        if ((d).desired_pods != (want_pods) || (d).reason != (want_reason))   \
            fail_msg("%s: got %d %s (%s) want %d %s", what, (d).desired_pods, \
                     policy_reason_name((d).reason), (d).detail, want_pods,   \
                     policy_reason_name(want_reason));                        \
    } while (0)

static const char *REDIS_SO = "apiVersion: keda.sh/v1alpha1\n"
                              "kind: ScaledObject\n"
                              "metadata: {name: gpen}\n"
                              "spec:\n"
                              "  scaleTargetRef: {name: gpen}\n"
                              "  maxReplicaCount: 8\n"
                              "  triggers:\n"
                              "  - type: redis\n"
                              "    metadata:\n"
                              "      address: redis.default.svc:6379\n"
                              "      listName: gpen:pending\n"
                              "      listLength: \"5\"\n";

static void test_defaults_and_bounds(void **state)
{
    (void)state;
    ctl c;
    ctl_open(&c, REDIS_SO);
    /* minReplicaCount 0: the target may go to 0; the sync covers the 30 s poll and 15 s HPA */
    assert_int_equal(c.info.min_pods, 0);
    assert_int_equal(c.info.max_pods, 8);
    assert_int_equal(c.info.sync_period_us, 15 * S);
    ctl_close(&c);
}

static void test_activation(void **state)
{
    (void)state;
    ctl c;
    ctl_open(&c, REDIS_SO);
    /* at 0 with an empty queue: nothing (the HPA is disabled at 0) */
    policy_decision d = step(&c, 0, 0, 0, NAN);
    assert_int_equal(d.desired_pods, 0);
    /* one request queued: 1 > activationListLength 0, but the next poll is at 30 s */
    d = step(&c, 15, 0, 1, NAN);
    assert_int_equal(d.desired_pods, 0);
    d = step(&c, 30, 0, 1, NAN);
    EXPECT(d, 1, POLICY_R_ACTIVATE, "activation 0 -> 1 at the poll");
    ctl_close(&c);
}

static void test_activation_to_min_and_threshold(void **state)
{
    (void)state;
    ctl c;
    ctl_open(&c, "minReplicaCount: 0\nmaxReplicaCount: 10\npollingInterval: 10\n"
                 "triggers:\n- type: redis\n  metadata: {listName: \"gpen:pending\", "
                 "listLength: \"4\", activationListLength: \"5\"}\n");
    assert_int_equal(c.info.sync_period_us, 5 * S); /* gcd(10 s, 15 s) */
    policy_decision d = step(&c, 0, 0, 5, NAN);
    assert_int_equal(d.desired_pods, 0); /* 5 is not > 5 */
    d = step(&c, 10, 0, 6, NAN);
    EXPECT(d, 1, POLICY_R_ACTIVATE, "6 > activationListLength 5");
    ctl_close(&c);

    ctl_open(&c, "minReplicaCount: 2\nmaxReplicaCount: 10\nidleReplicaCount: 0\n"
                 "triggers:\n- type: redis\n  metadata: {listName: \"gpen:pending\"}\n");
    assert_int_equal(c.info.min_pods, 0); /* idle */
    d = step(&c, 0, 0, 3, NAN);
    EXPECT(d, 2, POLICY_R_ACTIVATE, "from idle 0 to minReplicaCount 2");
    ctl_close(&c);
}

static void test_cooldown_to_zero(void **state)
{
    (void)state;
    ctl c;
    /* pollingInterval 1 s so that the 300 s edge can be probed second by second */
    ctl_open(&c, "pollingInterval: 1\nmaxReplicaCount: 8\n"
                 "advanced: {horizontalPodAutoscalerConfig: {behavior: {scaleDown: "
                 "{stabilizationWindowSeconds: 0}}}}\n"
                 "triggers:\n- type: redis\n  metadata: {listName: \"gpen:pending\"}\n");
    policy_decision d = step(&c, 0, 1, 2, NAN); /* active at 1 replica: lastActiveTime = 0 */
    assert_int_equal(d.desired_pods, 1);
    d = step(&c, 1, 1, 0, NAN);
    EXPECT(d, 1, POLICY_R_COOLDOWN, "inactive 1 s after the last active poll");
    d = step(&c, 300, 1, 0, NAN);
    EXPECT(d, 1, POLICY_R_COOLDOWN, "exactly cooldownPeriod (300 s) after: not Before(now)");
    d = step(&c, 301, 1, 0, NAN);
    EXPECT(d, 0, POLICY_R_DEACTIVATE, "cooldown passed: 1 -> 0");
    ctl_close(&c);

    /* with the default 30 s poll, the poll at 300 s still cools, the one at 330 s scales */
    ctl_open(&c, REDIS_SO);
    d = step(&c, 0, 1, 2, NAN);
    for (int t = 30; t <= 300; t += 30) {
        d = step(&c, t, 1, 0, NAN);
        if (d.desired_pods != 1)
            fail_msg("t=%d: scaled to %d during the cooldown", t, d.desired_pods);
    }
    d = step(&c, 330, 1, 0, NAN);
    EXPECT(d, 0, POLICY_R_DEACTIVATE, "first poll after the cooldown");
    ctl_close(&c);
}

static void test_initial_cooldown(void **state)
{
    (void)state;
    ctl c;
    /* never active: LastActiveTime nil -> scale to zero once initialCooldownPeriod is over */
    ctl_open(&c, "initialCooldownPeriod: 60\n"
                 "triggers:\n- type: redis\n  metadata: {listName: \"gpen:pending\"}\n");
    policy_decision d = step(&c, 0, 3, 0, NAN);
    assert_int_equal(d.reason, POLICY_R_COOLDOWN);
    d = step(&c, 60, 3, 0, NAN);
    assert_int_equal(d.reason, POLICY_R_COOLDOWN);
    d = step(&c, 90, 3, 0, NAN);
    EXPECT(d, 0, POLICY_R_DEACTIVATE, "initial cooldown over");
    ctl_close(&c);
    /* default initialCooldownPeriod 0: scaled to zero at the first poll */
    ctl_open(&c, REDIS_SO);
    d = step(&c, 0, 0, 0, NAN);
    assert_int_equal(d.desired_pods, 0);
    d = step(&c, 30, 2, 0, NAN); /* someone scaled it to 2 meanwhile, still never active */
    EXPECT(d, 0, POLICY_R_DEACTIVATE, "LastActiveTime nil, initialCooldownPeriod 0");
    ctl_close(&c);
}

static void test_hpa_part(void **state)
{
    (void)state;
    ctl c;
    ctl_open(&c, REDIS_SO);
    /* 2 replicas, 60 queued, listLength 5 (AverageValue): ceil(60/5) = 12, but the HPA
     * KEDA creates has no behavior: the legacy clamp max(2*2, 4) = 4 */
    policy_decision d = step(&c, 0, 2, 60, NAN);
    EXPECT(d, 4, POLICY_R_SCALE_UP_LIMIT, "External AverageValue, legacy clamp");
    /* then 8 (maxReplicaCount), TooManyReplicas */
    d = step(&c, 15, 4, 60, NAN);
    EXPECT(d, 8, POLICY_R_BOUNDS,
           "4 -> 8: max(2*4, 4) = 8 is not below maxReplicas: "
           "TooManyReplicas");
    d = step(&c, 30, 8, 600, NAN);
    assert_int_equal(d.desired_pods, 8);
    ctl_close(&c);

    /* minReplicas of the HPA = max(minReplicaCount, 1): while cooling with an empty queue
     * the HPA goes down to 1, never to 0; KEDA takes it to 0 after the cooldown */
    ctl_open(&c, "cooldownPeriod: 60\nmaxReplicaCount: 8\n"
                 "advanced: {horizontalPodAutoscalerConfig: {behavior: {scaleDown: "
                 "{stabilizationWindowSeconds: 0}}}}\n"
                 "triggers:\n- type: redis\n  metadata: {listName: \"gpen:pending\"}\n");
    d = step(&c, 0, 3, 15, NAN); /* active: 15/5 = 3 per... ratio 1: hold */
    assert_int_equal(d.desired_pods, 3);
    d = step(&c, 15, 3, 0, NAN);
    EXPECT(d, 1, POLICY_R_BOUNDS, "HPA down to its minReplicas 1 (TooFewReplicas)");
    d = step(&c, 30, 1, 0, NAN);
    EXPECT(d, 1, POLICY_R_COOLDOWN, "cooling down at 1");
    d = step(&c, 90, 1, 0, NAN);
    EXPECT(d, 0, POLICY_R_DEACTIVATE, "60 s cooldown over at the 90 s poll");
    ctl_close(&c);
}

static void test_prometheus_trigger(void **state)
{
    (void)state;
    ctl c;
    ctl_open(&c, "triggers:\n- type: prometheus\n  metadata:\n"
                 "    serverAddress: http://prometheus:9090\n"
                 "    query: histogram_quantile(0.95, sum(rate(gpen_request_latency_seconds_bucket"
                 "[1m])) by (le))\n"
                 "    threshold: \"2\"\n"
                 "    activationThreshold: \"0.5\"\n");
    /* p95 0.4 s <= 0.5: not active at 0 */
    policy_decision d = step(&c, 0, 0, 0, 0.4);
    assert_int_equal(d.desired_pods, 0);
    d = step(&c, 30, 0, 0, 0.6);
    EXPECT(d, 1, POLICY_R_ACTIVATE, "p95 0.6 > activationThreshold 0.5");
    /* p95 7 s at 1 replica, threshold 2 per replica (AverageValue): ceil(7/2) = 4 */
    d = step(&c, 45, 1, 0, 7.0);
    EXPECT(d, 4, POLICY_R_SCALE_UP, "ceil(7 / 2)");
    /* no latency samples (NaN): ignoreNullValues reads 0, so no error, inactive */
    d = step(&c, 60, 4, 0, NAN);
    assert_true(d.desired_pods >= 0);
    ctl_close(&c);
}

static int refuse_keda(const cfg_node *root, void *ctx, gp_error *err)
{
    (void)ctx;
    policy_env env = {.min_pods = 0, .max_pods = 100};
    policy_info info = {15 * S, 0, -1, -1, -1};
    void *st = NULL;
    int rc = policy_find("keda")->create(root, &env, &st, &info, err);
    if (rc >= 0)
        policy_find("keda")->destroy(st);
    return rc;
}

static void test_bad_scaled_objects(void **state)
{
    (void)state;
    tu_check_bad_configs("tests/data/policy/bad", "keda_", 5, refuse_keda, NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults_and_bounds),
        cmocka_unit_test(test_activation),
        cmocka_unit_test(test_activation_to_min_and_threshold),
        cmocka_unit_test(test_cooldown_to_zero),
        cmocka_unit_test(test_initial_cooldown),
        cmocka_unit_test(test_hpa_part),
        cmocka_unit_test(test_prometheus_trigger),
        cmocka_unit_test(test_bad_scaled_objects),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
