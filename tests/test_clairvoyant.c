/* test_clairvoyant.c: the clairvoyant reference against a synthetic oracle (a
 * piecewise-constant work rate): pods asked exactly one cold start + one sync before the
 * load, the count from peak work / (pod capacity x utilisation), no drain across a dip
 * shorter than a cold start, drain across a longer one, headroom, the trace's end, and
 * the refusal without an oracle. And the run gives the oracle by the policy's trait
 * (POLICY_T_NEEDS_ORACLE), not by its name. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <math.h>
#include <stdio.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "base/cfg.h"
#include "lab/experiment.h"
#include "policy/policy.h"
#include "sim/sim.h"

#define S_US 1000000LL

typedef struct seg {
    int64_t t0_s, t1_s;
    double rate; /* work seconds per second */
} seg;

typedef struct synth {
    const seg *s;
    int n;
} synth;

static double synth_work(void *ctx, int64_t t0, int64_t t1)
{
    const synth *y = ctx;
    double w = 0;
    for (int i = 0; i < y->n; i++) {
        int64_t a = y->s[i].t0_s * S_US > t0 ? y->s[i].t0_s * S_US : t0;
        int64_t b = y->s[i].t1_s * S_US < t1 ? y->s[i].t1_s * S_US : t1;
        if (b > a)
            w += y->s[i].rate * (double)(b - a) / 1e6;
    }
    return w;
}

static uint64_t synth_arrivals(void *ctx, int64_t t0, int64_t t1)
{
    (void)ctx, (void)t0, (void)t1;
    return 0;
}

/* 4 s/s of work from 960 s to 1980 s, a one-minute dip, 4 s/s from 2040 s to 2400 s, a
 * ten-minute dip, 1 s/s from 3000 s to 3600 s; the trace ends at 3600 s. */
static const seg load_segs[] = {
    {960, 1980, 4.0}, {2040, 2400, 4.0}, {3000, 3600, 1.0}, {3600, 9000, 50.0}};

static const policy_ops *cv_ops(void)
{
    const policy_ops *ops = policy_find("clairvoyant");
    assert_non_null(ops);
    return ops;
}

/* Pod capacity: 0.5 requests/s at a mean demand of 2 s = 1 work-second per second. */
static void *make_cv(const char *yaml, synth *y, oracle_view *ov, cfg_doc **doc)
{
    *doc = NULL;
    gp_error err;
    gp_error_clear(&err);
    if (yaml && cfg_load_string("c.yaml", yaml, strlen(yaml), doc, &err) < 0)
        fail_msg("yaml: %s", err.msg);
    *ov = (oracle_view){
        .ctx = y, .work_s = synth_work, .arrivals = synth_arrivals, .end_us = 3600 * S_US};
    policy_env env = {.min_pods = 0,
                      .max_pods = 100,
                      .concurrency = 2,
                      .pod_capacity_per_s = 0.5,
                      .mean_demand_s = 2.0,
                      .cold_start_us = 60 * S_US,
                      .scrape_interval_us = 15 * S_US,
                      .oracle = ov};
    policy_info info = {
        .sync_period_us = 15 * S_US, .initial_pods = -1, .min_pods = -1, .max_pods = -1};
    void *st = NULL;
    if (cv_ops()->create(*doc ? cfg_root(*doc) : NULL, &env, &st, &info, &err) < 0) {
        char buf[1024];
        gp_error_format(&err, buf, sizeof(buf));
        fail_msg("create: %s", buf);
    }
    assert_int_equal(info.sync_period_us, 15 * S_US);
    return st;
}

static int decide_at(void *st, int64_t t_s)
{
    policy_obs o;
    memset(&o, 0, sizeof(o));
    o.now_us = t_s * S_US;
    o.scrape_us = o.now_us;
    o.metrics_valid = false; /* it reads no metric */
    policy_decision d;
    policy_decision_init(&d);
    gp_error err;
    assert_int_equal(cv_ops()->decide(st, &o, &d, &err), 0);
    assert_int_equal(d.reason, POLICY_R_ORACLE);
    return d.desired_pods;
}

static void test_schedule(void **state)
{
    (void)state;
    synth y = {load_segs, 4};
    oracle_view ov;
    cfg_doc *doc;
    void *st = make_cv("resolution: 60s\n", &y, &ov, &doc);
    /* need = 4 / (1 x 0.8) = 5 pods; 1 s/s -> 1.25 -> 2 pods */
    static const struct {
        const char *name;
        int64_t t_s;
        int want;
    } rows[] = {
        {"nothing ahead", 0, 0},
        {"75 s + 1 tick before the load: not yet", 870, 0},
        {"exactly cold start + sync before the load", 885, 5},
        {"during the load", 1500, 5},
        {"1-min dip shorter than cold start + sync: keep", 1980, 5},
        {"in the dip", 2000, 5},
        {"second burst", 2100, 5},
        {"last tick of the second burst", 2385, 5},
        {"10-min dip: drain", 2400, 0},
        {"in the long dip", 2700, 0},
        {"before the light load, not yet", 2910, 0},
        {"light load ahead", 2925, 2},
        {"light load", 3300, 2},
        {"after the trace's end: nothing (work past end_us ignored)", 3600, 0},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        int got = decide_at(st, rows[i].t_s);
        if (got != rows[i].want)
            fail_msg("%s (t=%llds): got %d want %d", rows[i].name, (long long)rows[i].t_s, got,
                     rows[i].want);
    }
    cv_ops()->destroy(st);
    cfg_free(doc);
}

static void test_config(void **state)
{
    (void)state;
    synth y = {load_segs, 4};
    oracle_view ov;
    static const struct {
        const char *name, *yaml;
        int64_t t_s;
        int want;
    } rows[] = {
        {"utilisation 1.0: 4 pods", "target_utilization: 1.0\n", 1500, 4},
        {"headroom 50%: 7.5 -> 8", "headroom_frac: 0.5\n", 1500, 8},
        {"headroom 1 pod", "headroom_pods: 1\n", 1500, 6},
        {"square-root headroom: 5 + 2 x sqrt(5) -> 10", "headroom_sqrt: 2\n", 1500, 10},
        {"longer lead: earlier", "resolution: 60s\nlead: 5m\n", 960 - 315, 5},
        {"longer lead: not before", "resolution: 60s\nlead: 5m\n", 960 - 330, 0},
        {"horizon 0: later", "resolution: 60s\nhorizon: 0s\n", 900, 5},
        {"horizon 0: not before", "resolution: 60s\nhorizon: 0s\n", 885, 0},
        {"no lookback: drained as the burst ends", "resolution: 60s\n", 2400, 0},
        {"lookback 2m: kept for work still in service", "resolution: 60s\nlookback: 2m\n", 2400, 5},
        {"lookback 2m: then drained", "resolution: 60s\nlookback: 2m\n", 2520, 0},
        {"default 5-min windows: the 1-min dip is averaged in", NULL, 1980, 4},
        {"5-min windows: the light load from 3000 s", NULL, 2925, 2},
        {"5-min windows: not before", NULL, 2910, 0},
        {"10-s windows: the burst edge exactly", "resolution: 10s\n", 885, 5},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        cfg_doc *doc;
        void *st = make_cv(rows[i].yaml, &y, &ov, &doc);
        int got = decide_at(st, rows[i].t_s);
        if (got != rows[i].want)
            fail_msg("%s: got %d want %d", rows[i].name, got, rows[i].want);
        cv_ops()->destroy(st);
        cfg_free(doc);
    }
}

static void test_needs_an_oracle(void **state)
{
    (void)state;
    policy_env env = {.min_pods = 0,
                      .max_pods = 10,
                      .concurrency = 1,
                      .pod_capacity_per_s = 1,
                      .mean_demand_s = 1,
                      .cold_start_us = S_US,
                      .oracle = NULL};
    policy_info info = {0};
    void *st = NULL;
    gp_error err;
    gp_error_clear(&err);
    assert_true(cv_ops()->create(NULL, &env, &st, &info, &err) < 0);
    assert_null(st);
    assert_non_null(strstr(err.msg, "clairvoyant needs the run's trace"));
    /* and a config error names the key */
    synth y = {load_segs, 4};
    oracle_view ov;
    cfg_doc *doc = NULL;
    const char *bad = "target_utilization: 2\n";
    assert_int_equal(cfg_load_string("c.yaml", bad, strlen(bad), &doc, &err), 0);
    ov = (oracle_view){.ctx = &y, .work_s = synth_work, .arrivals = synth_arrivals};
    env.oracle = &ov;
    gp_error_clear(&err);
    assert_true(cv_ops()->create(cfg_root(doc), &env, &st, &info, &err) < 0);
    char buf[512];
    gp_error_format(&err, buf, sizeof(buf));
    assert_non_null(strstr(buf, "c.yaml:1:"));
    assert_non_null(strstr(buf, "target_utilization"));
    cfg_free(doc);
}

/* ------------------------------------------------------------ the oracle by trait */

/* A policy that records whether the run gave it an oracle (in the host context). */
static int spy_create(const cfg_node *cfg, const policy_env *env, void **state, policy_info *info,
                      gp_error *err)
{
    (void)cfg, (void)info, (void)err;
    *(bool *)env->host_ctx = env->oracle != NULL;
    *state = NULL;
    return 0;
}

static int spy_decide(void *state, const policy_obs *obs, policy_decision *out, gp_error *err)
{
    (void)state, (void)obs, (void)err;
    out->desired_pods = 1;
    return 0;
}

static void spy_destroy(void *state) { (void)state; }

/* A run of a short Poisson workload with the policy `ops` in place of the file's. */
static void run_with(const policy_ops *ops, bool *got)
{
    char dir[] = "/tmp/gpenlab-oracle-XXXXXX", path[PATH_MAX], prof[PATH_MAX];
    assert_non_null(mkdtemp(dir));
    assert_non_null(realpath("gpu/profiles/t4-seed", prof));
    snprintf(path, sizeof(path), "%s/e.yaml", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fprintf(f,
            "profile: %s\nworkload: {type: poisson, rate_per_s: 0.05, duration: 10m}\n"
            "policies: [{policy: static}]\n",
            prof);
    fclose(f);
    experiment *e = NULL;
    gp_error err;
    gp_error_clear(&err);
    if (experiment_load(path, &e, &err) < 0)
        fail_msg("experiment: %s", err.msg);
    sim_cfg cfg;
    experiment_sim_cfg(e, 0, 0, &cfg);
    cfg.policy = ops;
    cfg.policy_host_ctx = got;
    cfg.record_series = false;
    run_summary sum;
    if (sim_run(&cfg, &sum, NULL, NULL, &err) < 0)
        fail_msg("%s: sim_run: %s", ops->name, err.msg);
    experiment_free(e);
    unlink(path);
    rmdir(dir);
}

static void test_oracle_by_trait(void **state)
{
    (void)state;
    static const struct {
        const char *name; /* the row, and the policy's name */
        unsigned traits;
        bool want_oracle;
    } rows[] = {
        {"any-name with the trait", POLICY_T_NEEDS_ORACLE, true},
        {"clairvoyant", 0, false}, /* the name alone gives nothing */
        {"plain", 0, false},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        policy_ops ops = {.name = rows[i].name,
                          .summary = "spy",
                          .create = spy_create,
                          .decide = spy_decide,
                          .destroy = spy_destroy,
                          .traits = rows[i].traits};
        bool got = !rows[i].want_oracle;
        run_with(&ops, &got);
        if (got != rows[i].want_oracle)
            fail_msg("%s: oracle %s, want %s", rows[i].name, got ? "given" : "not given",
                     rows[i].want_oracle ? "given" : "not given");
    }
}

/* Every registered policy either has a live form, or names why not and the closest
 * registered policy that has one; only the clairvoyant bound needs the oracle. */
static void test_registry_traits(void **state)
{
    (void)state;
    const policy_ops *const *all = policy_all();
    int none = 0;
    for (size_t i = 0; all[i]; i++) {
        const policy_ops *o = all[i];
        bool oracle = o->traits & POLICY_T_NEEDS_ORACLE;
        if (oracle != (strcmp(o->name, "clairvoyant") == 0))
            fail_msg("%s: needs the oracle: %d", o->name, oracle);
        if (o->live != POLICY_LIVE_NONE)
            continue;
        none++;
        if (!o->live_none_why || !o->live_closest)
            fail_msg("%s: no live form, and no reason or closest policy", o->name);
        const policy_ops *c = policy_find(o->live_closest);
        if (!c || c->live == POLICY_LIVE_NONE)
            fail_msg("%s: the closest policy \"%s\" has no live form", o->name, o->live_closest);
    }
    assert_int_equal(none, 1); /* clairvoyant; serverless exports as Knative */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_schedule),        cmocka_unit_test(test_config),
        cmocka_unit_test(test_needs_an_oracle), cmocka_unit_test(test_oracle_by_trait),
        cmocka_unit_test(test_registry_traits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
