/* test_hpa.c: the HPA controller against Kubernetes' own test cases, as values.
 * Sources (kubernetes/kubernetes, pkg/controller/podautoscaler): replica_calculator_test.go
 * (rows in tests/vectors/hpa_replica_calc.txt), horizontal_test.go (tables below: each row
 * names its Go test function and, where it has one, the Go row's name), and
 * pkg/apis/autoscaling/v2/defaults_test.go (behavior defaulting, through the YAML reader).
 * Then gpenlab's own edge rows: quantities, per-direction tolerance, the whole reconcile
 * on observations, and bad configurations (tests/data/policy/bad/). */
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
#include "policy/hpa.h"
#include "tests/testutil.h"

#define S   INT64_C(1000000)
#define NOW (INT64_C(1000000) * S) /* an arbitrary "now", far from 0 */
static const hpa_tolerances TOL = {0.1, 0.1};

/* ------------------------------------------------------------ replica calculator vectors */

static int parse_pods(char *tok, hpa_pod_sample *pods, size_t max, size_t *n)
{
    *n = 0;
    for (char *save = NULL, *p = strtok_r(tok, ",", &save); p; p = strtok_r(NULL, ",", &save)) {
        if (*n == max)
            return -1;
        hpa_pod_sample *s = &pods[(*n)++];
        memset(s, 0, sizeof(*s));
        s->request_milli = 1000;
        switch (p[0]) {
        case 'R': s->cls = HPA_POD_READY; break;
        case 'U': s->cls = HPA_POD_UNREADY; break;
        case 'M': s->cls = HPA_POD_MISSING; break;
        case 'I': s->cls = HPA_POD_IGNORED; break;
        default: return -1;
        }
        char *slash = strchr(p, '/');
        if (slash)
            s->request_milli = strtoll(slash + 1, NULL, 10);
        if (p[1] >= '0' && p[1] <= '9')
            s->value_milli = strtoll(p + 1, NULL, 10);
    }
    return 0;
}

static void test_replica_calc_vectors(void **state)
{
    (void)state;
    const char *path = "tests/vectors/hpa_replica_calc.txt";
    FILE *f = fopen(path, "r");
    if (!f)
        fail_msg("cannot open %s (tests run from the repository root)", path);
    char line[1024];
    int rows = 0, lineno = 0;
    while (fgets(line, sizeof(line), f)) {
        lineno++;
        char *tok[10];
        int n = 0;
        for (char *save = NULL, *p = strtok_r(line, " \t\n", &save); p && n < 10;
             p = strtok_r(NULL, " \t\n", &save))
            tok[n++] = p;
        if (n == 0 || tok[0][0] == '#')
            continue;
        const char *kind = tok[0], *name = tok[1];
        hpa_pod_sample pods[32];
        size_t np = 0;
        int32_t got = -1;
        if (strcmp(kind, "resource") == 0 && n == 8) {
            if (parse_pods(tok[4], pods, 32, &np) < 0)
                fail_msg("%s:%d: bad pods", path, lineno);
            int32_t util = 0;
            int64_t raw = 0;
            int rc = hpa_calc_resource((int32_t)atoi(tok[2]), (int32_t)atoi(tok[3]), TOL, pods, np,
                                       &got, &util, &raw);
            if (rc != 0)
                fail_msg("%s: rc %d", name, rc);
            if (got != atoi(tok[5]) || util != atoi(tok[6]) || raw != atoll(tok[7]))
                fail_msg("%s: got replicas %d util %d raw %lld, want %s %s %s", name, got, util,
                         (long long)raw, tok[5], tok[6], tok[7]);
        } else if (strcmp(kind, "plain") == 0 && n == 7) {
            if (parse_pods(tok[4], pods, 32, &np) < 0)
                fail_msg("%s:%d: bad pods", path, lineno);
            int64_t usage = 0;
            int rc =
                hpa_calc_plain((int32_t)atoi(tok[2]), atoll(tok[3]), TOL, pods, np, &got, &usage);
            if (rc != 0)
                fail_msg("%s: rc %d", name, rc);
            if (got != atoi(tok[5]) || usage != atoll(tok[6]))
                fail_msg("%s: got replicas %d usage %lld, want %s %s", name, got, (long long)usage,
                         tok[5], tok[6]);
        } else if (strcmp(kind, "object") == 0 && n == 7) {
            double ratio = (double)atoll(tok[4]) / (double)atoll(tok[3]);
            got = hpa_calc_usage_ratio((int32_t)atoi(tok[2]), ratio, (int32_t)atoi(tok[5]), TOL);
            if (got != atoi(tok[6]))
                fail_msg("%s: got %d want %s", name, got, tok[6]);
        } else if (strcmp(kind, "perpod") == 0 && n == 7) {
            int64_t usage = 0;
            got =
                hpa_calc_per_pod((int32_t)atoi(tok[2]), atoll(tok[4]), atoll(tok[3]), TOL, &usage);
            if (got != atoi(tok[5]) || usage != atoll(tok[6]))
                fail_msg("%s: got %d usage %lld, want %s %s", name, got, (long long)usage, tok[5],
                         tok[6]);
        } else {
            fail_msg("%s:%d: malformed row", path, lineno);
        }
        rows++;
    }
    fclose(f);
    if (rows < 40)
        fail_msg("only %d vector rows read", rows);
}

static void test_replica_calc_errors(void **state)
{
    (void)state;
    /* TestReplicaCalcDisjointResourcesMetrics / "did not receive metrics": no ready pod */
    hpa_pod_sample only_missing[] = {{HPA_POD_MISSING, 0, 1000}, {HPA_POD_UNREADY, 0, 1000}};
    int32_t r = 0;
    assert_int_equal(hpa_calc_resource(2, 50, TOL, only_missing, 2, &r, NULL, NULL), GP_EMISSING);
    assert_int_equal(hpa_calc_plain(2, 500, TOL, only_missing, 2, &r, NULL), GP_EMISSING);
    /* no metrics matched a request (requests sum to 0) */
    hpa_pod_sample zero_req[] = {{HPA_POD_READY, 100, 0}};
    assert_int_equal(hpa_calc_resource(1, 100, TOL, zero_req, 1, &r, NULL, NULL), GP_EMISSING);
}

/* ------------------------------------------------------------ horizontal_test.go */

static void test_convert_desired_replicas_with_rules(void **state)
{
    (void)state;
    /* TestConvertDesiredReplicasWithRules; the Go test's init() sets scaleUpLimitFactor = 8,
     * so calculateScaleUpLimit(3) = max(8*3, 4) = 24 there. */
    static const struct {
        const char *name;
        int32_t cur, desired, min, max, want;
        hpa_cond cond;
    } rows[] = {
        {"prenormalized desired replicas within range", 5, 7, 3, 8, 7,
         HPA_COND_DESIRED_WITHIN_RANGE},
        {"prenormalized desired replicas < minReplicas", 3, 1, 2, 8, 2, HPA_COND_TOO_FEW_REPLICAS},
        {"prenormalized desired zeroed replicas within range", 1, 0, 0, 10, 0,
         HPA_COND_DESIRED_WITHIN_RANGE},
        {"maxReplicas is the limit because maxReplicas < scaleUpLimit", 20, 1000, 1, 10, 10,
         HPA_COND_TOO_MANY_REPLICAS},
        {"scaleUpLimit is the limit because scaleUpLimit < maxReplicas", 3, 1000, 1, 2000, 24,
         HPA_COND_SCALE_UP_LIMIT},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        hpa_cond c;
        int32_t got = hpa_convert_with_rules(rows[i].cur, rows[i].desired, rows[i].min, rows[i].max,
                                             8.0, 4.0, &c);
        if (got != rows[i].want || c != rows[i].cond)
            fail_msg("TestConvertDesiredReplicasWithRules/%s: got %d %s want %d %s", rows[i].name,
                     got, hpa_cond_name(c), rows[i].want, hpa_cond_name(rows[i].cond));
    }
    /* and the controller's own factor: max(2*3, 4) = 6 */
    hpa_cond c;
    assert_int_equal(hpa_convert_with_rules(3, 1000, 1, 2000, 2.0, 4.0, &c), 6);
    assert_int_equal(hpa_convert_with_rules(1, 1000, 1, 2000, 2.0, 4.0, &c), 4);
}

typedef struct rec_row {
    int32_t r;
    int32_t ago_s;
} rec_row;

static void load_recs(hpa_history *h, const rec_row *recs, size_t n)
{
    for (size_t i = 0; i < n; i++)
        assert_int_equal(hpa_history_push_rec(h, recs[i].r, NOW - recs[i].ago_s * S), 0);
}

static void test_normalize_desired_replicas(void **state)
{
    (void)state;
    /* TestNormalizeDesiredReplicas: stabilizeRecommendation, window 5 minutes */
    static const struct {
        const char *name;
        size_t n;
        rec_row recs[4];
        int32_t pre, want;
        size_t want_len;
    } rows[] = {
        {"empty log", 0, {{0, 0}}, 5, 5, 1},
        {"stabilize", 2, {{4, 120}, {5, 60}}, 3, 5, 3},
        {"no stabilize", 2, {{1, 120}, {2, 60}}, 3, 3, 3},
        {"no stabilize - old recommendations", 2, {{10, 600}, {9, 540}}, 3, 3, 2},
        {"stabilize - old recommendations", 4, {{10, 600}, {4, 60}, {5, 120}, {9, 540}}, 3, 5, 4},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        hpa_history h = {0};
        load_recs(&h, rows[i].recs, rows[i].n);
        int32_t got;
        assert_int_equal(hpa_stabilize_legacy(&h, NOW, 300 * S, rows[i].pre, &got), 0);
        if (got != rows[i].want || h.n_recs != rows[i].want_len)
            fail_msg("TestNormalizeDesiredReplicas/%s: got %d (log %zu) want %d (log %zu)",
                     rows[i].name, got, h.n_recs, rows[i].want, rows[i].want_len);
        hpa_history_free(&h);
    }
}

static void test_normalize_desired_replicas_with_behavior(void **state)
{
    (void)state;
    /* TestNormalizeDesiredReplicasWithBehavior: stabilizeRecommendationWithBehaviors; the
     * windows are the row's (0 when the Go row leaves them unset). */
    static const struct {
        const char *name;
        size_t n;
        rec_row recs[4];
        int32_t cur, pre, want;
        int32_t up_w, down_w;
        size_t want_len;
        int32_t want_recs[4];
    } rows[] = {
        {"empty recommendations for scaling down", 0, {{0, 0}}, 100, 5, 5, 0, 0, 1, {5}},
        {"simple scale down stabilization",
         2,
         {{4, 120}, {5, 60}},
         100,
         3,
         5,
         0,
         180,
         3,
         {4, 5, 3}},
        {"simple scale up stabilization", 2, {{4, 120}, {5, 60}}, 1, 7, 4, 300, 0, 3, {4, 5, 7}},
        {"no scale down stabilization", 2, {{1, 120}, {2, 60}}, 100, 3, 3, 300, 0, 3, {1, 2, 3}},
        {"no scale up stabilization", 2, {{4, 120}, {5, 60}}, 1, 3, 3, 0, 300, 3, {4, 5, 3}},
        {"no scale down stabilization, reuse recommendation element",
         2,
         {{10, 600}, {9, 540}},
         100,
         3,
         3,
         0,
         0,
         2,
         {10, 3}},
        {"no scale up stabilization, reuse recommendation element",
         2,
         {{10, 600}, {9, 540}},
         1,
         100,
         100,
         0,
         0,
         2,
         {10, 100}},
        {"scale down stabilization, reuse one of obsolete recommendation element",
         4,
         {{10, 600}, {4, 60}, {5, 120}, {9, 540}},
         100,
         3,
         5,
         0,
         180,
         4,
         {10, 4, 5, 3}},
        {"scale up stabilization, reuse one of obsolete recommendation element",
         4,
         {{10, 6000}, {6, 60}, {5, 120}, {9, 180}},
         1,
         100,
         5,
         300,
         0,
         4,
         {100, 6, 5, 9}},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        hpa_history h = {0};
        load_recs(&h, rows[i].recs, rows[i].n);
        int32_t got;
        assert_int_equal(hpa_stabilize_with_behavior(&h, NOW, rows[i].up_w, rows[i].down_w,
                                                     rows[i].cur, rows[i].pre, &got),
                         0);
        if (got != rows[i].want)
            fail_msg("TestNormalizeDesiredReplicasWithBehavior/%s: got %d want %d", rows[i].name,
                     got, rows[i].want);
        if (h.n_recs != rows[i].want_len)
            fail_msg("TestNormalizeDesiredReplicasWithBehavior/%s: log %zu want %zu", rows[i].name,
                     h.n_recs, rows[i].want_len);
        for (size_t k = 0; k < h.n_recs; k++)
            if (h.recs[k].replicas != rows[i].want_recs[k])
                fail_msg("TestNormalizeDesiredReplicasWithBehavior/%s: rec[%zu] %d want %d",
                         rows[i].name, k, h.recs[k].replicas, rows[i].want_recs[k]);
        hpa_history_free(&h);
    }
}

/* generateScalingRules(pods, podsPeriod, percent, percentPeriod, window) of horizontal_test.go,
 * then GenerateHPAScale{Up,Down}Rules: unset rules are the API defaults. */
typedef struct gen_rules {
    bool set;
    int32_t pods, pods_period, pct, pct_period, window;
} gen_rules;

static void make_rules(const gen_rules *g, bool up, hpa_rules *r)
{
    if (up)
        hpa_rules_default_up(r);
    else
        hpa_rules_default_down(r);
    if (!g->set)
        return;
    r->select = HPA_SELECT_MAX;
    r->window_s = g->window;
    int n = 0;
    if (g->pods)
        r->policies[n++] = (hpa_scaling_policy){HPA_POLICY_PODS, g->pods, g->pods_period};
    if (g->pct)
        r->policies[n++] = (hpa_scaling_policy){HPA_POLICY_PERCENT, g->pct, g->pct_period};
    if (n)
        r->n_policies = n;
}

/* generateEventsUniformDistribution(raw, period): event i at period - seg*(i+1) + seg/2
 * seconds ago, seg = period / len (truncated to whole seconds, as the Go Duration is). */
static void gen_events(hpa_history *h, bool up, const int32_t *raw, size_t n, int period)
{
    if (n == 0)
        return;
    double seg = (double)period / (double)n;
    for (size_t i = 0; i < n; i++) {
        int64_t ago = (int64_t)((double)period - seg * (double)(i + 1) + seg / 2.0);
        assert_int_equal(hpa_history_push_event(h, up, raw[i], NOW - ago * S), 0);
    }
}

static void test_scaling_with_rules(void **state)
{
    (void)state;
    static const int32_t e159[] = {1, 5, 9}, e246[] = {2, 4, 6}, e101010[] = {10, 10, 10},
                         e812911[] = {8, 12, 9, 11};
    static const struct {
        const char *name;
        const int32_t *up_ev, *down_ev;
        size_t n_up, n_down;
        int32_t min, max;
        gen_rules up, down;
        int32_t cur, pre, want;
        hpa_cond cond;
    } rows[] = {
        {"prenormalized desired replicas within range",
         0,
         0,
         0,
         0,
         3,
         8,
         {0},
         {0},
         5,
         7,
         7,
         HPA_COND_DESIRED_WITHIN_RANGE},
        {"prenormalized desired replicas < minReplicas",
         0,
         0,
         0,
         0,
         2,
         8,
         {0},
         {0},
         3,
         1,
         2,
         HPA_COND_TOO_FEW_REPLICAS},
        {"prenormalized desired replicas within range when minReplicas is 0",
         0,
         0,
         0,
         0,
         0,
         10,
         {0},
         {0},
         1,
         0,
         0,
         HPA_COND_DESIRED_WITHIN_RANGE},
        {"maxReplicas is the limit because maxReplicas < scaleUpLimit",
         0,
         0,
         0,
         0,
         1,
         10,
         {0},
         {0},
         20,
         1000,
         10,
         HPA_COND_TOO_MANY_REPLICAS},
        {"desired replica count is more than the maximum replica count",
         0,
         0,
         0,
         0,
         100,
         150,
         {0},
         {0},
         100,
         1000,
         150,
         HPA_COND_TOO_MANY_REPLICAS},
        {"scaleUpLimit is the limit because scaleUpLimit < maxReplicas with user policies",
         0,
         0,
         0,
         0,
         1,
         2000,
         {true, 0, 0, 1, 60, 0},
         {0},
         3,
         1000,
         4,
         HPA_COND_SCALE_UP_LIMIT},
        {"scaleDownLimit is the limit because scaleDownLimit > minReplicas with user defined "
         "policies",
         0,
         0,
         0,
         0,
         3,
         2000,
         {0},
         {true, 20, 60, 0, 0, 0},
         1000,
         3,
         980,
         HPA_COND_SCALE_DOWN_LIMIT},
        {"scaleUp with default behavior",
         0,
         0,
         0,
         0,
         1,
         1000,
         {0},
         {0},
         10,
         50,
         20,
         HPA_COND_SCALE_UP_LIMIT},
        {"scaleUp with pods policy larger than percent policy",
         0,
         0,
         0,
         0,
         1,
         1000,
         {true, 100, 60, 100, 60, 0},
         {0},
         10,
         500,
         110,
         HPA_COND_SCALE_UP_LIMIT},
        {"scaleUp with percent policy larger than pods policy",
         0,
         0,
         0,
         0,
         1,
         1000,
         {true, 2, 60, 100, 60, 0},
         {0},
         10,
         500,
         20,
         HPA_COND_SCALE_UP_LIMIT},
        {"scaleUp with spec MaxReplicas limitation with large pod policy",
         0,
         0,
         0,
         0,
         1,
         1000,
         {true, 100, 60, 0, 0, 0},
         {0},
         10,
         50,
         50,
         HPA_COND_DESIRED_WITHIN_RANGE},
        {"scaleUp with spec MaxReplicas limitation with large percent policy",
         0,
         0,
         0,
         0,
         1,
         1000,
         {true, 10000, 60, 0, 0, 0},
         {0},
         10,
         50,
         50,
         HPA_COND_DESIRED_WITHIN_RANGE},
        {"scaleUp with pod policy limitation",
         0,
         0,
         0,
         0,
         1,
         1000,
         {true, 30, 60, 0, 0, 0},
         {0},
         10,
         50,
         40,
         HPA_COND_SCALE_UP_LIMIT},
        {"scaleUp with percent policy limitation",
         0,
         0,
         0,
         0,
         1,
         1000,
         {true, 0, 0, 200, 60, 0},
         {0},
         10,
         50,
         30,
         HPA_COND_SCALE_UP_LIMIT},
        {"scaleDown with percent policy larger than pod policy",
         0,
         0,
         0,
         0,
         1,
         1000,
         {0},
         {true, 20, 60, 1, 60, 300},
         100,
         2,
         80,
         HPA_COND_SCALE_DOWN_LIMIT},
        {"scaleDown with pod policy larger than percent policy",
         0,
         0,
         0,
         0,
         1,
         1000,
         {0},
         {true, 2, 60, 1, 60, 300},
         100,
         2,
         98,
         HPA_COND_SCALE_DOWN_LIMIT},
        {"scaleDown with spec MinReplicas=nil limitation with large pod policy",
         0,
         0,
         0,
         0,
         1,
         1000,
         {0},
         {true, 100, 60, 0, 0, 300},
         10,
         0,
         1,
         HPA_COND_TOO_FEW_REPLICAS},
        {"scaleDown with spec MinReplicas limitation with large percent policy",
         0,
         0,
         0,
         0,
         5,
         1000,
         {0},
         {true, 0, 0, 100, 60, 300},
         10,
         2,
         5,
         HPA_COND_TOO_FEW_REPLICAS},
        {"scaleDown with pod policy limitation",
         0,
         0,
         0,
         0,
         1,
         1000,
         {0},
         {true, 5, 60, 0, 0, 300},
         10,
         2,
         5,
         HPA_COND_SCALE_DOWN_LIMIT},
        {"scaleDown with percent policy limitation",
         0,
         0,
         0,
         0,
         1,
         1000,
         {0},
         {true, 0, 0, 50, 60, 300},
         10,
         5,
         5,
         HPA_COND_DESIRED_WITHIN_RANGE},
        {"scaleUp with spec MaxReplicas limitation with large pod policy and events",
         e159,
         0,
         3,
         0,
         1,
         200,
         {true, 300, 60, 0, 0, 0},
         {0},
         100,
         500,
         200,
         HPA_COND_TOO_MANY_REPLICAS},
        {"scaleUp with spec MaxReplicas limitation with large percent policy and events",
         e159,
         0,
         3,
         0,
         1,
         200,
         {true, 0, 0, 10000, 60, 0},
         {0},
         100,
         500,
         200,
         HPA_COND_TOO_MANY_REPLICAS},
        {"scaleUp with currentReplicas limitation with rate.PeriodSeconds with a lot of recent "
         "scale up events",
         e159,
         0,
         3,
         0,
         1,
         1000,
         {true, 5, 120, 0, 0, 0},
         {0},
         100,
         500,
         100,
         HPA_COND_SCALE_UP_LIMIT},
        {"scaleUp with pod policy and previous scale up events",
         e159,
         0,
         3,
         0,
         1,
         1000,
         {true, 150, 120, 0, 0, 0},
         {0},
         100,
         500,
         235,
         HPA_COND_SCALE_UP_LIMIT},
        {"scaleUp with percent policy and previous scale up events",
         e159,
         0,
         3,
         0,
         1,
         1000,
         {true, 0, 0, 200, 120, 0},
         {0},
         100,
         500,
         255,
         HPA_COND_SCALE_UP_LIMIT},
        {"scaleDown with default policy and previous events",
         0,
         e159,
         0,
         3,
         1,
         1000,
         {0},
         {0},
         10,
         5,
         5,
         HPA_COND_DESIRED_WITHIN_RANGE},
        {"scaleDown with spec MinReplicas=nil limitation with large pod policy and previous "
         "events",
         0,
         e159,
         0,
         3,
         1,
         1000,
         {0},
         {true, 115, 120, 0, 0, 300},
         100,
         0,
         1,
         HPA_COND_TOO_FEW_REPLICAS},
        {"scaleDown with spec MinReplicas limitation with large pod policy and previous events",
         0,
         e159,
         0,
         3,
         5,
         1000,
         {0},
         {true, 130, 120, 0, 0, 300},
         100,
         0,
         5,
         HPA_COND_TOO_FEW_REPLICAS},
        {"scaleDown with spec MinReplicas limitation with large percent policy and previous "
         "events",
         0,
         e159,
         0,
         3,
         5,
         1000,
         {0},
         {true, 0, 0, 100, 120, 300},
         100,
         2,
         5,
         HPA_COND_TOO_FEW_REPLICAS},
        {"scaleDown with pod policy limitation and previous events",
         0,
         e159,
         0,
         3,
         1,
         1000,
         {0},
         {true, 5, 120, 0, 0, 300},
         100,
         2,
         100,
         HPA_COND_SCALE_DOWN_LIMIT},
        {"scaleDown with percent policy limitation and previous events",
         0,
         e246,
         0,
         3,
         1,
         1000,
         {0},
         {true, 0, 0, 50, 120, 300},
         100,
         0,
         56,
         HPA_COND_SCALE_DOWN_LIMIT},
        {"scaleDown with previous events preventing further scale down",
         0,
         e101010,
         0,
         3,
         1,
         1000,
         {0},
         {true, 0, 0, 10, 120, 300},
         100,
         0,
         100,
         HPA_COND_SCALE_DOWN_LIMIT},
        {"scaleDown with with previous events still allowing more scale down",
         0,
         e101010,
         0,
         3,
         1,
         1000,
         {0},
         {true, 0, 0, 1000, 120, 300},
         10,
         5,
         5,
         HPA_COND_DESIRED_WITHIN_RANGE},
        {"check 'outdated' flag for events for one behavior for up",
         e812911,
         0,
         4,
         0,
         1,
         1000,
         {true, 1000, 60, 0, 0, 0},
         {0},
         100,
         200,
         200,
         HPA_COND_DESIRED_WITHIN_RANGE},
        {"check that events were not marked 'outdated' for two different policies in the "
         "behavior for up",
         e812911,
         0,
         4,
         0,
         1,
         1000,
         {true, 1000, 120, 100, 60, 0},
         {0},
         100,
         200,
         200,
         HPA_COND_DESIRED_WITHIN_RANGE},
        {"check that events were marked 'outdated' for two different policies in the behavior "
         "for up",
         e812911,
         0,
         4,
         0,
         1,
         1000,
         {true, 1000, 30, 100, 60, 0},
         {0},
         100,
         200,
         200,
         HPA_COND_DESIRED_WITHIN_RANGE},
        {"check 'outdated' flag for events for one behavior for down",
         0,
         e812911,
         0,
         4,
         1,
         1000,
         {0},
         {true, 1000, 60, 0, 0, 300},
         100,
         5,
         5,
         HPA_COND_DESIRED_WITHIN_RANGE},
        {"check that events were not marked 'outdated' for two different policies in the "
         "behavior for down",
         0,
         e812911,
         0,
         4,
         1,
         1000,
         {0},
         {true, 1000, 120, 100, 60, 300},
         100,
         5,
         5,
         HPA_COND_DESIRED_WITHIN_RANGE},
        {"check that events were marked 'outdated' for two different policies in the behavior "
         "for down",
         0,
         e812911,
         0,
         4,
         1,
         1000,
         {0},
         {true, 1000, 30, 100, 60, 300},
         100,
         5,
         5,
         HPA_COND_DESIRED_WITHIN_RANGE},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        hpa_history h = {0};
        gen_events(&h, true, rows[i].up_ev, rows[i].n_up, 120);
        gen_events(&h, false, rows[i].down_ev, rows[i].n_down, 120);
        hpa_rules up, down;
        make_rules(&rows[i].up, true, &up);
        make_rules(&rows[i].down, false, &down);
        hpa_cond c;
        int32_t got = hpa_convert_with_behavior_rate(&h, NOW, &up, &down, rows[i].min, rows[i].max,
                                                     rows[i].cur, rows[i].pre, &c);
        if (got != rows[i].want || c != rows[i].cond)
            fail_msg("TestScalingWithRules/%s: got %d %s want %d %s", rows[i].name, got,
                     hpa_cond_name(c), rows[i].want, hpa_cond_name(rows[i].cond));
        hpa_history_free(&h);
    }
}

static void test_calculate_limits(void **state)
{
    (void)state;
    hpa_history h = {0};
    hpa_rules r;
    hpa_rules_default_up(&r);
    r.window_s = 300;
    r.select = HPA_SELECT_MIN;
    r.n_policies = 2;
    r.policies[0] = (hpa_scaling_policy){HPA_POLICY_PODS, 2, 60};
    r.policies[1] = (hpa_scaling_policy){HPA_POLICY_PERCENT, 50, 60};
    /* TestCalculateScaleUpLimitWithScalingRules: min(1+2, ceil(1*1.5)) = 2 */
    int32_t up = hpa_scale_up_limit(1, &h, &r, NOW);
    if (up != 2)
        fail_msg("TestCalculateScaleUpLimitWithScalingRules: got %d want 2", up);
    /* TestCalculateScaleDownLimitWithBehaviors: max(5-2, int(5*0.5)) = 3 */
    int32_t down = hpa_scale_down_limit(5, &h, &r, NOW);
    if (down != 3)
        fail_msg("TestCalculateScaleDownLimitWithBehaviors: got %d want 3", down);
    /* Percent rounding: up rounds up (15 + 10 % = 16.5 -> 17), down truncates what stays
     * (15 - 10 % = 13.5 -> 13), as calculateScale{Up,Down}Limit... do */
    r.select = HPA_SELECT_MAX;
    r.n_policies = 1;
    r.policies[0] = (hpa_scaling_policy){HPA_POLICY_PERCENT, 10, 60};
    assert_int_equal(hpa_scale_up_limit(15, &h, &r, NOW), 17);
    assert_int_equal(hpa_scale_down_limit(15, &h, &r, NOW), 13);
    /* selectPolicy Disabled: no change allowed either way */
    r.select = HPA_SELECT_DISABLED;
    assert_int_equal(hpa_scale_up_limit(7, &h, &r, NOW), 7);
    assert_int_equal(hpa_scale_down_limit(7, &h, &r, NOW), 7);
}

static void test_store_scale_events(void **state)
{
    (void)state;
    /* TestStoreScaleEvents: getReplicasChangePerPeriod(60) before, then storeScaleEvent of a
     * change of 5 (10 -> 15 up, 10 -> 5 down), with rules or without behavior. */
    typedef struct {
        int32_t change;
        int32_t ago_s;
        bool outdated;
    } ev;
    static const struct {
        const char *name;
        size_t n_prev;
        ev prev[4];
        gen_rules rules;
        int32_t want_change;
        size_t n_new;
        ev want[4];
    } rows[] = {
        {"empty entries with default behavior", 0, {{0}}, {0}, 0, 0, {{0}}},
        {"empty entries with two-policy-behavior",
         0,
         {{0}},
         {true, 10, 60, 100, 60, 0},
         0,
         1,
         {{5, 0, false}}},
        {"one outdated entry to be kept untouched without behavior",
         1,
         {{7, 61, false}},
         {0},
         0,
         1,
         {{7, 0, false}}},
        {"one outdated entry to be replaced with behavior",
         1,
         {{7, 61, false}},
         {true, 10, 60, 100, 60, 0},
         0,
         1,
         {{5, 0, false}}},
        {"one actual entry to be not touched with behavior",
         1,
         {{7, 58, false}},
         {true, 10, 60, 100, 60, 0},
         7,
         2,
         {{7, 0, false}, {5, 0, false}}},
        {"two entries, one of them to be replaced",
         2,
         {{7, 61, false}, {6, 59, false}},
         {true, 10, 60, 0, 0, 0},
         6,
         2,
         {{5, 0, false}, {6, 0, false}}},
        {"replace one entry, use policies with different periods",
         4,
         {{8, 29, false}, {6, 59, false}, {7, 61, false}, {9, 61, false}},
         {true, 10, 60, 100, 30, 0},
         14,
         4,
         {{8, 0, false}, {6, 0, false}, {7, 0, true}, {5, 0, false}}},
        {"two entries, both actual",
         2,
         {{7, 58, false}, {6, 59, false}},
         {true, 10, 120, 100, 30, 0},
         13,
         3,
         {{7, 0, false}, {6, 0, false}, {5, 0, false}}},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        for (int dir = 0; dir < 2; dir++) {
            bool up = dir == 0;
            hpa_history h = {0};
            for (size_t k = 0; k < rows[i].n_prev; k++)
                assert_int_equal(hpa_history_push_event(&h, up, rows[i].prev[k].change,
                                                        NOW - rows[i].prev[k].ago_s * S),
                                 0);
            const hpa_event *e = up ? h.up : h.down;
            size_t n = up ? h.n_up : h.n_down;
            int32_t got = hpa_replicas_change_per_period(60, e, n, NOW);
            if (got != rows[i].want_change)
                fail_msg("TestStoreScaleEvents/%s (%s): change %d want %d", rows[i].name,
                         up ? "up" : "down", got, rows[i].want_change);
            hpa_rules r;
            make_rules(&rows[i].rules, up, &r);
            assert_int_equal(
                hpa_store_scale_event(&h, rows[i].rules.set ? &r : NULL, NOW, 10, up ? 15 : 5), 0);
            e = up ? h.up : h.down;
            n = up ? h.n_up : h.n_down;
            if (n != rows[i].n_new)
                fail_msg("TestStoreScaleEvents/%s (%s): %zu events want %zu", rows[i].name,
                         up ? "up" : "down", n, rows[i].n_new);
            for (size_t k = 0; k < n; k++)
                if (e[k].change != rows[i].want[k].change ||
                    e[k].outdated != rows[i].want[k].outdated)
                    fail_msg("TestStoreScaleEvents/%s (%s): event %zu is %d/%d want %d/%d",
                             rows[i].name, up ? "up" : "down", k, e[k].change, e[k].outdated,
                             rows[i].want[k].change, rows[i].want[k].outdated);
            hpa_history_free(&h);
        }
    }
}

/* ------------------------------------------------------------ YAML: the API defaults */

static cfg_doc *load(const char *yaml)
{
    cfg_doc *doc = NULL;
    gp_error err;
    gp_error_clear(&err);
    if (cfg_load_string("test.yaml", yaml, strlen(yaml), &doc, &err) < 0)
        fail_msg("yaml: %s", err.msg);
    return doc;
}

static void test_generate_rules(void **state)
{
    (void)state;
    /* pkg/apis/autoscaling/v2/defaults_test.go: TestGenerateScaleUpRules and
     * TestGenerateScaleDownRules, as YAML behavior blocks. window -1: nil. */
    static const struct {
        const char *name;
        bool up;
        const char *yaml;
        int n;
        hpa_scaling_policy pol[2];
        int32_t window;
        hpa_select sel;
    } rows[] = {
        {"TestGenerateScaleUpRules/Default values",
         true,
         "{}",
         2,
         {{HPA_POLICY_PODS, 4, 15}, {HPA_POLICY_PERCENT, 100, 15}},
         0,
         HPA_SELECT_MAX},
        {"TestGenerateScaleUpRules/All parameters are specified",
         true,
         "{stabilizationWindowSeconds: 25, selectPolicy: Max, policies: [{type: Pods, value: 1, "
         "periodSeconds: 2}, {type: Percent, value: 3, periodSeconds: 4}]}",
         2,
         {{HPA_POLICY_PODS, 1, 2}, {HPA_POLICY_PERCENT, 3, 4}},
         25,
         HPA_SELECT_MAX},
        {"TestGenerateScaleUpRules/Pod policy is specified",
         true,
         "{selectPolicy: Min, policies: [{type: Pods, value: 1, periodSeconds: 2}]}",
         1,
         {{HPA_POLICY_PODS, 1, 2}},
         0,
         HPA_SELECT_MIN},
        {"TestGenerateScaleUpRules/Percent policy is specified",
         true,
         "{policies: [{type: Percent, value: 7, periodSeconds: 10}]}",
         1,
         {{HPA_POLICY_PERCENT, 7, 10}},
         0,
         HPA_SELECT_MAX},
        {"TestGenerateScaleUpRules/Pod policy and stabilization window are specified",
         true,
         "{stabilizationWindowSeconds: 25, policies: [{type: Pods, value: 4, periodSeconds: 2}]}",
         1,
         {{HPA_POLICY_PODS, 4, 2}},
         25,
         HPA_SELECT_MAX},
        {"TestGenerateScaleUpRules/Percent policy and stabilization window are specified",
         true,
         "{stabilizationWindowSeconds: 25, policies: [{type: Percent, value: 7, periodSeconds: "
         "60}]}",
         1,
         {{HPA_POLICY_PERCENT, 7, 60}},
         25,
         HPA_SELECT_MAX},
        {"TestGenerateScaleDownRules/Default values",
         false,
         "{}",
         1,
         {{HPA_POLICY_PERCENT, 100, 15}},
         -1,
         HPA_SELECT_MAX},
        {"TestGenerateScaleDownRules/All parameters are specified",
         false,
         "{stabilizationWindowSeconds: 25, selectPolicy: Max, policies: [{type: Pods, value: 1, "
         "periodSeconds: 2}, {type: Percent, value: 3, periodSeconds: 4}]}",
         2,
         {{HPA_POLICY_PODS, 1, 2}, {HPA_POLICY_PERCENT, 3, 4}},
         25,
         HPA_SELECT_MAX},
        {"TestGenerateScaleDownRules/Percent policy is specified",
         false,
         "{selectPolicy: Min, policies: [{type: Percent, value: 1, periodSeconds: 2}]}",
         1,
         {{HPA_POLICY_PERCENT, 1, 2}},
         -1,
         HPA_SELECT_MIN},
        {"TestGenerateScaleDownRules/Pods policy is specified",
         false,
         "{policies: [{type: Pods, value: 3, periodSeconds: 4}]}",
         1,
         {{HPA_POLICY_PODS, 3, 4}},
         -1,
         HPA_SELECT_MAX},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        char yaml[512];
        snprintf(yaml, sizeof(yaml), "%s: %s\n", rows[i].up ? "scaleUp" : "scaleDown",
                 rows[i].yaml);
        cfg_doc *doc = load(yaml);
        hpa_spec s;
        hpa_spec_init(&s);
        gp_error err;
        gp_error_clear(&err);
        if (hpa_behavior_parse(cfg_root(doc), &s, &err) < 0)
            fail_msg("%s: %s", rows[i].name, err.msg);
        const hpa_rules *r = rows[i].up ? &s.up : &s.down;
        if (r->n_policies != rows[i].n || r->window_s != rows[i].window || r->select != rows[i].sel)
            fail_msg("%s: got %d policies window %d select %d", rows[i].name, r->n_policies,
                     r->window_s, r->select);
        for (int k = 0; k < r->n_policies; k++)
            if (memcmp(&r->policies[k], &rows[i].pol[k], sizeof(hpa_scaling_policy)) != 0)
                fail_msg("%s: policy %d differs", rows[i].name, k);
        cfg_free(doc);
    }
}

/* ------------------------------------------------------------ gpenlab's own edges */

static void test_quantities(void **state)
{
    (void)state;
    static const struct {
        const char *s;
        int rc;
        int64_t milli;
    } rows[] = {
        {"500m", 0, 500},
        {"2", 0, 2000},
        {"1.5Gi", 0, 1610612736000LL},
        {"80", 0, 80000},
        {"0.05", 0, 50},
        {"1e3", 0, 1000000},
        {"1E3", 0, 1000000},
        {"1k", 0, 1000000},
        {"0.0005", 0, 1}, /* rounds up */
        {"1.0001", 0, 1001},
        {"100Mi", 0, 104857600000LL},
        {"12u", 0, 1},
        {" 3", GP_EPARSE, 0},
        {"", GP_EPARSE, 0},
        {"abc", GP_EPARSE, 0},
        {"5x", GP_EPARSE, 0},
        {"1.2.3", GP_EPARSE, 0},
        {"9Ei", GP_ERANGE, 0},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        int64_t m = -1;
        int rc = hpa_quantity_milli(rows[i].s, &m);
        if (rc != rows[i].rc || (rc == 0 && m != rows[i].milli))
            fail_msg("quantity \"%s\": got rc %d milli %lld want rc %d milli %lld", rows[i].s, rc,
                     (long long)m, rows[i].rc, (long long)rows[i].milli);
    }
    double d;
    assert_int_equal(hpa_quantity_double("50m", &d), 0);
    assert_true(fabs(d - 0.05) < 1e-12);
}

static void test_per_direction_tolerance(void **state)
{
    (void)state;
    /* isWithin: (1 - down) <= ratio <= (1 + up), both ends inclusive */
    static const struct {
        const char *name;
        hpa_tolerances t;
        double ratio;
        bool within;
    } rows[] = {
        {"default: 1.1 is inside", {0.1, 0.1}, 1.1, true},
        {"default: 0.9 is inside", {0.1, 0.1}, 0.9, true},
        {"up 0: 1.01 scales up", {0.1, 0.0}, 1.01, false},
        {"up 0: exactly 1 holds", {0.1, 0.0}, 1.0, true},
        {"down 0.5: 0.6 holds", {0.5, 0.1}, 0.6, true},
        {"down 0.5: 0.49 scales down", {0.5, 0.1}, 0.49, false},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
        if (hpa_tolerances_within(rows[i].t, rows[i].ratio) != rows[i].within)
            fail_msg("%s: got %d want %d", rows[i].name, !rows[i].within, rows[i].within);
    /* through the calculator: 3 pods at 1.05 x target scale up with up-tolerance 0.02 */
    hpa_pod_sample p[] = {
        {HPA_POD_READY, 1050, 0}, {HPA_POD_READY, 1050, 0}, {HPA_POD_READY, 1050, 0}};
    int32_t r;
    assert_int_equal(hpa_calc_plain(3, 1000, (hpa_tolerances){0.1, 0.02}, p, 3, &r, NULL), 0);
    assert_int_equal(r, 4);
    assert_int_equal(hpa_calc_plain(3, 1000, TOL, p, 3, &r, NULL), 0);
    assert_int_equal(r, 3);
}

/* ------------------------------------------------------------ whole reconciles */

typedef struct ctl {
    const policy_ops *ops;
    void *state;
    policy_info info;
    cfg_doc *doc;
} ctl;

static void ctl_open(ctl *c, const char *yaml)
{
    c->ops = policy_find("hpa");
    assert_non_null(c->ops);
    c->doc = load(yaml);
    policy_env env = {.min_pods = 0, .max_pods = 1000};
    c->info = (policy_info){15 * S, 0, -1, -1, -1};
    gp_error err;
    gp_error_clear(&err);
    if (c->ops->create(cfg_root(c->doc), &env, &c->state, &c->info, &err) < 0)
        fail_msg("create: %s", err.msg);
}

static void ctl_close(ctl *c)
{
    c->ops->destroy(c->state);
    cfg_free(c->doc);
}

/* n ready pods reporting `util` (0..1) on DCGM_FI_DEV_GPU_UTIL; missing < 0: that many pods
 * without metrics. */
static policy_decision step(ctl *c, int64_t t_s, int spec, int ready, double util, int missing,
                            int starting)
{
    static pod_obs pods[64];
    policy_obs o;
    memset(&o, 0, sizeof(o));
    o.now_us = t_s * S;
    o.scrape_us = o.now_us;
    o.metrics_valid = true;
    for (int i = 0; i < OBS_METRICS; i++)
        o.metric[i] = NAN;
    o.metric[OBS_GPU_UTIL_FRAC] = util;
    o.spec_replicas = spec;
    int n = 0;
    for (int i = 0; i < ready; i++)
        pods[n++] = (pod_obs){.pod_id = (uint64_t)n,
                              .state = POD_READY,
                              .has_metrics = i >= missing,
                              .gpu_util_frac = util,
                              .gpu_mem_frac = NAN,
                              .in_flight = NAN,
                              .concurrency = NAN};
    for (int i = 0; i < starting; i++)
        pods[n++] = (pod_obs){.pod_id = (uint64_t)n, .state = POD_STARTING};
    o.pods[POD_READY] = ready;
    o.pods[POD_STARTING] = starting;
    o.n_pods = n;
    o.pod = pods;
    o.min_pods = 0;
    o.max_pods = 1000;
    policy_decision d;
    policy_decision_init(&d);
    gp_error err;
    gp_error_clear(&err);
    if (c->ops->decide(c->state, &o, &d, &err) < 0)
        fail_msg("decide: %s", err.msg);
    return d;
}

static const char *HPA_UTIL80 =
    "apiVersion: autoscaling/v2\n"
    "kind: HorizontalPodAutoscaler\n"
    "metadata: {name: gpen, namespace: prod}\n"
    "spec:\n"
    "  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: gpen}\n"
    "  minReplicas: 1\n"
    "  maxReplicas: 20\n"
    "  metrics:\n"
    "  - type: Pods\n"
    "    pods:\n"
    "      metric: {name: DCGM_FI_DEV_GPU_UTIL}\n"
    "      target: {type: AverageValue, averageValue: \"80\"}\n";

static void test_reconcile_legacy(void **state)
{
    (void)state;
    ctl c;
    ctl_open(&c, HPA_UTIL80);
    assert_int_equal(c.info.min_pods, 1);
    assert_int_equal(c.info.max_pods, 20);
    assert_int_equal(c.info.sync_period_us, 15 * S);
    /* 4 pods at 100 % against 80: ceil(1.25 * 4) = 5 */
    policy_decision d = step(&c, 0, 4, 4, 1.0, 0, 0);
    assert_int_equal(d.desired_pods, 5);
    assert_int_equal(d.reason, POLICY_R_SCALE_UP);
    /* load falls to 40 %: 3 wanted, but the 5-minute max of recommendations holds 5 */
    d = step(&c, 15, 5, 5, 0.40, 0, 0);
    assert_int_equal(d.desired_pods, 5);
    assert_int_equal(d.reason, POLICY_R_STABILIZED);
    d = step(&c, 300, 5, 5, 0.40, 0, 0); /* the 5 of t=0 is exactly 300 s old: still in */
    assert_int_equal(d.desired_pods, 5);
    d = step(&c, 301, 5, 5, 0.40, 0, 0); /* now 5 from t=0 has aged out, 3s remain */
    assert_int_equal(d.desired_pods, 3);
    assert_int_equal(d.reason, POLICY_R_SCALE_DOWN);
    /* a burst: 3 pods at 1000 %: clamp max(2*3, 4) = 6 (ScaleUpLimit) */
    d = step(&c, 316, 3, 3, 10.0, 0, 0);
    assert_int_equal(d.desired_pods, 6);
    assert_int_equal(d.reason, POLICY_R_SCALE_UP_LIMIT);
    ctl_close(&c);
}

/* The same HPA with no downscale stabilisation, so that one reconcile shows the calculator
 * (recordInitialRecommendation would otherwise hold the starting count for 5 minutes). */
static const char *HPA_UTIL80_NOSTAB =
    "minReplicas: 1\nmaxReplicas: 20\nmetrics:\n"
    "- type: Pods\n  pods: {metric: {name: DCGM_FI_DEV_GPU_UTIL}, target: {type: AverageValue, "
    "averageValue: \"80\"}}\n"
    "behavior: {scaleDown: {stabilizationWindowSeconds: 0}}\n";

static void test_reconcile_missing_and_unready(void **state)
{
    (void)state;
    ctl c;
    ctl_open(&c, HPA_UTIL80_NOSTAB);
    /* 4 ready at 40 %, one of them without metrics: the missing pod counts as the target
     * on a scale-down: (3*40 + 80)/4 = 50 % -> ceil(0.625*4) = 3 */
    policy_decision d = step(&c, 0, 4, 4, 0.40, 1, 0);
    assert_int_equal(d.desired_pods, 3);
    ctl_close(&c);
    ctl_open(&c, HPA_UTIL80_NOSTAB);
    /* 2 ready at 120 % and 2 starting: starting pods count 0 on a scale-up:
     * 240/4 = 60 % < 80 -> the direction would flip: hold 4 */
    d = step(&c, 0, 4, 2, 1.2, 0, 2);
    assert_int_equal(d.desired_pods, 4);
    /* 2 ready at 200 %, 2 starting: 400/4 = 100 % -> ceil(1.25 * 4) = 5 */
    d = step(&c, 15, 4, 2, 2.0, 0, 2);
    assert_int_equal(d.desired_pods, 5);
    ctl_close(&c);
}

static void test_reconcile_invalid_metric_blocks_scale_down(void **state)
{
    (void)state;
    /* TestScaleUpOneMetricEmpty / TestNoScaleDownOneMetricEmpty: with one metric invalid,
     * a scale-up on the others goes ahead, a scale-down does not. */
    ctl c;
    ctl_open(&c, "minReplicas: 2\nmaxReplicas: 6\nmetrics:\n"
                 "- type: Pods\n  pods: {metric: {name: DCGM_FI_DEV_GPU_UTIL}, target: {type: "
                 "AverageValue, averageValue: \"80\"}}\n"
                 "- type: External\n  external: {metric: {name: "
                 "gpen_request_latency_seconds_p95}, target: {type: Value, value: \"2\"}}\n");
    /* p95 is NaN (no samples): invalid. Utilisation 40 % on 5 pods would scale down. */
    policy_decision d = step(&c, 0, 5, 5, 0.40, 0, 0);
    assert_int_equal(d.desired_pods, 5);
    assert_int_equal(d.reason, POLICY_R_NO_METRICS);
    /* 3 pods at 120 %: the valid metric scales up despite the invalid one: ceil(1.5*3)=5 */
    d = step(&c, 15, 3, 3, 1.2, 0, 0);
    assert_int_equal(d.desired_pods, 5);
    ctl_close(&c);
}

static void test_reconcile_bounds_and_zero(void **state)
{
    (void)state;
    ctl c;
    ctl_open(&c, HPA_UTIL80);
    /* current above maxReplicas: straight to max, whatever the metrics */
    policy_decision d = step(&c, 0, 25, 25, 0.8, 0, 0);
    assert_int_equal(d.desired_pods, 20);
    assert_int_equal(d.reason, POLICY_R_BOUNDS);
    /* current 0 with minReplicas 1: scaling disabled, stays 0 */
    d = step(&c, 15, 0, 0, NAN, 0, 0);
    assert_int_equal(d.desired_pods, 0);
    ctl_close(&c);
}

static void test_reconcile_behavior(void **state)
{
    (void)state;
    ctl c;
    ctl_open(&c, "minReplicas: 1\nmaxReplicas: 100\nmetrics:\n"
                 "- type: Pods\n  pods: {metric: {name: DCGM_FI_DEV_GPU_UTIL}, target: {type: "
                 "AverageValue, averageValue: \"80\"}}\n"
                 "behavior:\n"
                 "  scaleUp: {policies: [{type: Pods, value: 2, periodSeconds: 60}]}\n"
                 "  scaleDown: {stabilizationWindowSeconds: 60, tolerance: \"0.5\"}\n");
    /* 10 pods at 400 %: 50 wanted, 2 pods per 60 s: 12 */
    policy_decision d = step(&c, 0, 10, 10, 4.0, 0, 0);
    assert_int_equal(d.desired_pods, 12);
    assert_int_equal(d.reason, POLICY_R_SCALE_UP_LIMIT);
    /* 15 s later the +2 event is inside the period: periodStart 10, limit 12: hold */
    d = step(&c, 15, 12, 12, 4.0, 0, 0);
    assert_int_equal(d.desired_pods, 12);
    assert_int_equal(d.reason, POLICY_R_SCALE_UP_LIMIT);
    /* at 60 s the event (t=0) is exactly 60 s old: no longer counted: 14 */
    d = step(&c, 60, 12, 12, 4.0, 0, 0);
    assert_int_equal(d.desired_pods, 14);
    /* scale-down tolerance 0.5: 14 pods at 50 % (ratio 0.625) are within: hold */
    d = step(&c, 120, 14, 14, 0.5, 0, 0);
    assert_int_equal(d.desired_pods, 14);
    /* 14 pods at 20 % (ratio .25): 4 wanted, but the 60 s window still holds 14 from t=60 */
    d = step(&c, 121, 14, 14, 0.2, 0, 0);
    assert_int_equal(d.desired_pods, 14);
    assert_int_equal(d.reason, POLICY_R_STABILIZED);
    /* the 14 recorded at t=120 is inside the 60 s window while it is After(now - 60) */
    d = step(&c, 179, 14, 14, 0.2, 0, 0);
    assert_int_equal(d.desired_pods, 14);
    assert_int_equal(d.reason, POLICY_R_STABILIZED);
    d = step(&c, 180, 14, 14, 0.2, 0, 0);
    assert_int_equal(d.desired_pods, 4);
    assert_int_equal(d.reason, POLICY_R_SCALE_DOWN);
    ctl_close(&c);
}

static void test_controller_flags(void **state)
{
    (void)state;
    /* gpenlab's `controller:` key stands for the kube-controller-manager flags */
    ctl c;
    ctl_open(&c, "apiVersion: autoscaling/v2\nkind: HorizontalPodAutoscaler\n"
                 "metadata: {name: gpen}\n"
                 "status: {currentReplicas: 3, desiredReplicas: 3}\n"
                 "controller: {syncPeriod: 30s, tolerance: 0.3, downscaleStabilization: 1m}\n"
                 "spec:\n  maxReplicas: 10\n  metrics:\n"
                 "  - type: Pods\n    pods: {metric: {name: gpu_util_frac}, target: {type: "
                 "AverageValue, averageValue: 500m}}\n");
    assert_int_equal(c.info.sync_period_us, 30 * S);
    /* 4 pods at 0.62 against 0.5: ratio 1.24 is within the 0.3 tolerance */
    policy_decision d = step(&c, 0, 4, 4, 0.62, 0, 0);
    assert_int_equal(d.desired_pods, 4);
    assert_int_equal(d.reason, POLICY_R_WITHIN_TOLERANCE);
    /* at 0.2 (ratio 0.4): 2 wanted; the 1-minute window holds the initial 4 until t > 60 */
    d = step(&c, 60, 4, 4, 0.2, 0, 0);
    assert_int_equal(d.desired_pods, 4);
    d = step(&c, 61, 4, 4, 0.2, 0, 0);
    assert_int_equal(d.desired_pods, 2);
    ctl_close(&c);
}

/* ------------------------------------------------------------ bad configurations */

static int refuse_hpa(const cfg_node *root, void *ctx, gp_error *err)
{
    (void)ctx;
    hpa_spec s;
    return hpa_spec_parse(root, &s, err);
}

static void test_bad_configs(void **state)
{
    (void)state;
    tu_check_bad_configs("tests/data/policy/bad", "hpa_", 6, refuse_hpa, NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_replica_calc_vectors),
        cmocka_unit_test(test_replica_calc_errors),
        cmocka_unit_test(test_convert_desired_replicas_with_rules),
        cmocka_unit_test(test_normalize_desired_replicas),
        cmocka_unit_test(test_normalize_desired_replicas_with_behavior),
        cmocka_unit_test(test_scaling_with_rules),
        cmocka_unit_test(test_calculate_limits),
        cmocka_unit_test(test_store_scale_events),
        cmocka_unit_test(test_generate_rules),
        cmocka_unit_test(test_quantities),
        cmocka_unit_test(test_per_direction_tolerance),
        cmocka_unit_test(test_reconcile_legacy),
        cmocka_unit_test(test_reconcile_missing_and_unready),
        cmocka_unit_test(test_reconcile_invalid_metric_blocks_scale_down),
        cmocka_unit_test(test_reconcile_bounds_and_zero),
        cmocka_unit_test(test_reconcile_behavior),
        cmocka_unit_test(test_controller_flags),
        cmocka_unit_test(test_bad_configs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
