/* test_kpa.c: the Knative KPA policy. The cases of Knative's own decider tests
 * (tests/vectors/knative_kpa.txt, from pkg/autoscaler/scaling/autoscaler_test.go) run
 * twice: against the decider with the test's metric values, and, where a history of
 * 2-s observations can produce those values, through the policy's decide(). Then the
 * window averaging, the panic ratchet, scale to zero after the grace period, the
 * activator, min/max scale and configuration errors. */
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
#include "policy/kpa.h"
#include "policy/policy.h"
#include "profile/profile.h"
#include "sim/sim.h"
#include "traces/trace.h"
#include "tests/testutil.h"

#define S_US    1000000LL
#define VECTORS "tests/vectors/knative_kpa.txt"

/* ------------------------------------------------------------------ helpers */

static const policy_ops *kpa_ops(void)
{
    const policy_ops *ops = policy_find("kpa");
    assert_non_null(ops);
    return ops;
}

static policy_env test_env(void)
{
    policy_env env = {.min_pods = 0,
                      .max_pods = 1000000,
                      .concurrency = 2,
                      .pod_capacity_per_s = 1,
                      .mean_demand_s = 1,
                      .cold_start_us = 30 * S_US,
                      .scrape_interval_us = 2 * S_US};
    return env;
}

/* Creates the kpa policy from a YAML config map; fails the test with the error. */
static void *make_kpa(const char *yaml, cfg_doc **doc, policy_info *info)
{
    gp_error err;
    gp_error_clear(&err);
    *doc = NULL;
    const cfg_node *root = NULL;
    if (yaml) {
        int rc = cfg_load_string("kpa.yaml", yaml, strlen(yaml), doc, &err);
        if (rc < 0) {
            char buf[1024];
            gp_error_format(&err, buf, sizeof(buf));
            fail_msg("yaml: %s\n%s", buf, yaml);
        }
        root = cfg_root(*doc);
    }
    policy_env env = test_env();
    *info = (policy_info){
        .sync_period_us = 15 * S_US, .initial_pods = -1, .min_pods = -1, .max_pods = -1};
    void *st = NULL;
    int rc = kpa_ops()->create(root, &env, &st, info, &err);
    if (rc < 0) {
        char buf[1024];
        gp_error_format(&err, buf, sizeof(buf));
        fail_msg("create: %s\n%s", buf, yaml ? yaml : "(null)");
    }
    return st;
}

static void free_kpa(void *st, cfg_doc *doc)
{
    kpa_ops()->destroy(st);
    cfg_free(doc);
}

static policy_obs make_obs(int64_t now_us, double value, int ready, int spec)
{
    policy_obs o;
    memset(&o, 0, sizeof(o));
    o.now_us = now_us;
    o.scrape_us = now_us;
    o.metrics_valid = true;
    for (int i = 0; i < OBS_METRICS; i++)
        o.metric[i] = 0;
    o.metric[OBS_CONCURRENCY] = value;
    o.metric[OBS_ARRIVAL_RATE] = value;
    o.pods[POD_READY] = ready;
    o.spec_replicas = spec;
    o.min_pods = 0;
    o.max_pods = 1000000;
    return o;
}

static policy_decision run_decide(void *st, const policy_obs *o)
{
    return tu_decide(kpa_ops(), st, o);
}

/* ------------------------------------------------------------------ vectors */

enum { OP_STEP, OP_UPDATE };

typedef struct vspec {
    double target, total, tbc, panic, up, down;
    int window_s, delay_s, activation, start_ready;
    bool reachable, rps, obs, total_set;
} vspec;

typedef struct vop {
    int kind;
    int gap_s, ready;
    double stable, panic;
    int want, ebc, pt;
    bool ebc_any, pt_any, pt_none;
    vspec spec; /* OP_UPDATE */
    int line;
} vop;

typedef struct vcase {
    char name[160];
    vspec spec;
    vop op[24];
    int n;
} vcase;

static void spec_defaults(vspec *s)
{
    *s = (vspec){.target = 1,
                 .tbc = 0,
                 .panic = 2,
                 .up = 10,
                 .down = 10,
                 .window_s = 60,
                 .delay_s = 0,
                 .activation = 0,
                 .start_ready = 1,
                 .reachable = true,
                 .rps = false,
                 .obs = true};
}

static void parse_spec(vspec *s, char *rest, int line)
{
    for (char *tok = strtok(rest, " \t\n"); tok; tok = strtok(NULL, " \t\n")) {
        char *eq = strchr(tok, '=');
        if (!eq)
            fail_msg("%s:%d: bad token %s", VECTORS, line, tok);
        *eq = '\0';
        const char *k = tok, *v = eq + 1;
        if (!strcmp(k, "target"))
            s->target = atof(v);
        else if (!strcmp(k, "total"))
            s->total = atof(v), s->total_set = true;
        else if (!strcmp(k, "tbc"))
            s->tbc = atof(v);
        else if (!strcmp(k, "panic"))
            s->panic = atof(v);
        else if (!strcmp(k, "up"))
            s->up = atof(v);
        else if (!strcmp(k, "down"))
            s->down = atof(v);
        else if (!strcmp(k, "window"))
            s->window_s = atoi(v);
        else if (!strcmp(k, "delay"))
            s->delay_s = atoi(v);
        else if (!strcmp(k, "activation"))
            s->activation = atoi(v);
        else if (!strcmp(k, "start_ready"))
            s->start_ready = atoi(v);
        else if (!strcmp(k, "reachable"))
            s->reachable = atoi(v) != 0;
        else if (!strcmp(k, "obs"))
            s->obs = atoi(v) != 0;
        else if (!strcmp(k, "metric"))
            s->rps = !strcmp(v, "rps");
        else
            fail_msg("%s:%d: unknown spec key %s", VECTORS, line, k);
    }
    if (!s->total_set)
        s->total = s->target / 0.75; /* the Go tests presume 75% utilisation */
}

static int load_vectors(vcase *cases, int max)
{
    FILE *f = fopen(VECTORS, "r");
    if (!f)
        fail_msg("cannot open %s (tests run from the repository root)", VECTORS);
    char buf[512];
    int n = 0, line = 0;
    vcase *c = NULL;
    while (fgets(buf, sizeof(buf), f)) {
        line++;
        char *p = buf;
        while (*p == ' ' || *p == '\t')
            p++;
        if (*p == '#' || *p == '\n' || *p == '\0')
            continue;
        if (!strncmp(p, "case ", 5)) {
            assert_true(n < max);
            c = &cases[n++];
            memset(c, 0, sizeof(*c));
            sscanf(p + 5, "%159s", c->name);
            spec_defaults(&c->spec);
        } else if (!strncmp(p, "spec ", 5)) {
            assert_non_null(c);
            parse_spec(&c->spec, p + 5, line);
        } else if (!strncmp(p, "update ", 7)) {
            assert_non_null(c);
            vop *o = &c->op[c->n++];
            o->kind = OP_UPDATE;
            o->line = line;
            o->spec = c->spec;
            o->spec.total_set = false;
            parse_spec(&o->spec, p + 7, line);
        } else if (!strncmp(p, "step ", 5)) {
            assert_non_null(c);
            assert_true(c->n < 24);
            vop *o = &c->op[c->n++];
            o->kind = OP_STEP;
            o->line = line;
            char ebc[32], pt[32];
            if (sscanf(p + 5, "%d %d %lf %lf %d %31s %31s", &o->gap_s, &o->ready, &o->stable,
                       &o->panic, &o->want, ebc, pt) != 7)
                fail_msg("%s:%d: bad step", VECTORS, line);
            o->ebc_any = !strcmp(ebc, "*");
            o->ebc = atoi(ebc);
            o->pt_any = !strcmp(pt, "*");
            o->pt_none = !strcmp(pt, "-");
            o->pt = atoi(pt);
        } else if (!strncmp(p, "end", 3)) {
            c = NULL;
        } else {
            fail_msg("%s:%d: cannot read: %s", VECTORS, line, p);
        }
    }
    fclose(f);
    return n;
}

static kpa_spec to_spec(const vspec *v)
{
    kpa_spec s = {.target_value = v->target,
                  .total_value = v->total,
                  .target_burst_capacity = v->tbc,
                  .panic_threshold = v->panic,
                  .max_scale_up_rate = v->up,
                  .max_scale_down_rate = v->down,
                  .activation_scale = v->activation,
                  .stable_window_us = (int64_t)v->window_s * S_US,
                  .scale_down_delay_us = (int64_t)v->delay_s * S_US,
                  .tick_us = 2 * S_US,
                  .reachable = v->reachable};
    return s;
}

#define T0_US (1200 * S_US) /* our timeline's start; even, so 2-s buckets align */

static void check_step(const char *name, int k, const vop *o, const kpa_result *r,
                       const kpa_decider *d, const int64_t *step_t, bool check_ebc)
{
    if (!r->valid)
        fail_msg("%s step %d (line %d): invalid result", name, k, o->line);
    if (r->desired != o->want)
        fail_msg("%s step %d (line %d): got %d pods want %d (stable %.6f panic %.6f)", name, k,
                 o->line, r->desired, o->want, r->stable, r->panic);
    if (check_ebc && !o->ebc_any && abs(r->ebc - o->ebc) > 1)
        fail_msg("%s step %d (line %d): got EBC %d want %d", name, k, o->line, r->ebc, o->ebc);
    if (o->pt_none && d->panicking)
        fail_msg("%s step %d (line %d): panicking, want not", name, k, o->line);
    if (!o->pt_any && !o->pt_none) {
        if (!d->panicking)
            fail_msg("%s step %d (line %d): not panicking, want panic since step %d", name, k,
                     o->line, o->pt);
        if (d->panic_time_us != step_t[o->pt])
            fail_msg("%s step %d (line %d): panic time %lld want step %d's %lld", name, k, o->line,
                     (long long)d->panic_time_us, o->pt, (long long)step_t[o->pt]);
    }
}

static void test_knative_vectors_decider(void **state)
{
    (void)state;
    static vcase cases[64];
    int n = load_vectors(cases, 64);
    assert_true(n >= 10);
    int steps = 0;
    for (int i = 0; i < n; i++) {
        vcase *c = &cases[i];
        kpa_spec spec = to_spec(&c->spec);
        kpa_decider d;
        assert_int_equal(kpa_decider_init(&d, &spec, c->spec.start_ready, T0_US), 0);
        int64_t t = T0_US, step_t[24];
        int k = 0;
        for (int j = 0; j < c->n; j++) {
            const vop *o = &c->op[j];
            if (o->kind == OP_UPDATE) {
                spec = to_spec(&o->spec);
                continue;
            }
            t += (int64_t)o->gap_s * S_US;
            step_t[k] = t;
            kpa_result r = kpa_decider_scale(&d, &spec, t, o->ready, o->stable, o->panic);
            check_step(c->name, k, o, &r, &d, step_t, true);
            k++;
            steps++;
        }
        kpa_decider_free(&d);
    }
    print_message("knative decider vectors: %d cases, %d steps\n", n, steps);
}

/* The YAML that gives the policy a case's DeciderSpec. */
static void case_yaml(const vspec *v, char *buf, size_t len)
{
    char tbc[128] = "", act[128] = "";
    if (v->tbc != 0)
        snprintf(tbc, sizeof(tbc), "    autoscaling.knative.dev/target-burst-capacity: \"%g\"\n",
                 v->tbc);
    if (v->activation > 0)
        snprintf(act, sizeof(act), "    autoscaling.knative.dev/activation-scale: \"%d\"\n",
                 v->activation);
    snprintf(buf, len,
             "containerConcurrency: 0\n"
             "annotations:\n"
             "    autoscaling.knative.dev/metric: %s\n"
             "    autoscaling.knative.dev/target: \"%g\"\n"
             "    autoscaling.knative.dev/target-utilization-percentage: \"100\"\n"
             "    autoscaling.knative.dev/window: \"%ds\"\n"
             "    autoscaling.knative.dev/scale-down-delay: \"%ds\"\n"
             "%s%s"
             "autoscaler:\n"
             "    max-scale-up-rate: \"%g\"\n"
             "    max-scale-down-rate: \"%g\"\n"
             "    panic-threshold-percentage: \"%g\"\n"
             "    target-burst-capacity: \"0\"\n",
             v->rps ? "rps" : "concurrency", v->target, v->window_s, v->delay_s, tbc, act, v->up,
             v->down, v->panic * 100);
}

#define NB   30 /* 60-s window / 2-s ticks */
#define NP   3  /* 10% of it */
#define HMAX 4096

static void test_knative_vectors_observed(void **state)
{
    (void)state;
    static vcase cases[64];
    int n = load_vectors(cases, 64);
    int ran = 0, steps = 0;
    for (int i = 0; i < n; i++) {
        vcase *c = &cases[i];
        if (!c->spec.obs)
            continue;
        assert_int_equal(c->spec.window_s, 60);
        char yaml[2048];
        case_yaml(&c->spec, yaml, sizeof(yaml));
        cfg_doc *doc;
        policy_info info;
        void *st = make_kpa(yaml, &doc, &info);
        assert_int_equal(info.sync_period_us, 2 * S_US);
        /* the autoscaler is created (and reads the ready count) before any data */
        policy_obs o0 = make_obs(T0_US - 120 * S_US, 0, c->spec.start_ready, c->spec.start_ready);
        o0.metrics_valid = false;
        policy_decision d0 = run_decide(st, &o0);
        assert_int_equal(d0.desired_pods, -1);

        static double hist[HMAX]; /* value per bucket index - base */
        int64_t t = T0_US, step_t[24], base = -1, last = -1;
        int k = 0;
        for (int j = 0; j < c->n; j++) {
            const vop *o = &c->op[j];
            assert_int_equal(o->kind, OP_STEP);
            t += (int64_t)o->gap_s * S_US;
            step_t[k] = t;
            assert_true(o->gap_s % 2 == 0);
            int64_t now_idx = t / (2 * S_US);
            if (base < 0) {
                base = now_idx - NB + 1;
                last = base - 1;
            }
            int64_t nn = now_idx - last;
            assert_true(nn >= 1 && now_idx - base < HMAX);
            int64_t kp = nn < NP ? nn : NP;
            double old_panic = 0, old_stable = 0;
            for (int64_t b = now_idx - NP + 1; b <= last; b++)
                if (b >= base)
                    old_panic += hist[b - base];
            for (int64_t b = now_idx - NB + 1; b <= last; b++)
                if (b >= base)
                    old_stable += hist[b - base];
            double p = (NP * o->panic - old_panic) / (double)kp;
            int64_t m_in = (nn < NB ? nn : NB) - kp;
            double rest = NB * o->stable - old_stable - (double)kp * p;
            double x = 0;
            if (m_in > 0)
                x = rest / (double)m_in;
            else if (fabs(rest) > 1e-6 * (1 + NB * o->stable))
                fail_msg("%s step %d (line %d): not realizable (rest %g)", c->name, k, o->line,
                         rest);
            if (p < -1e-9 || x < -1e-9)
                fail_msg("%s step %d (line %d): not realizable (x %g p %g)", c->name, k, o->line, x,
                         p);
            for (int64_t b = last + 1; b <= now_idx; b++) {
                double v = b > now_idx - kp ? p : (b > now_idx - NB ? x : 0.0);
                if (v < 0)
                    v = 0;
                hist[b - base] = v;
                if (b < now_idx)
                    kpa_observe(st, b * 2 * S_US, v);
            }
            last = now_idx;
            policy_obs ob = make_obs(t, hist[now_idx - base], o->ready, o->ready);
            policy_decision dec = run_decide(st, &ob);
            const kpa_result *r = kpa_last_result(st);
            check_step(c->name, k, o, r, kpa_state_decider(st), step_t, false);
            if (o->want > 0 && dec.desired_pods != o->want)
                fail_msg("%s step %d (line %d): decide() gave %d want %d (%s)", c->name, k, o->line,
                         dec.desired_pods, o->want, dec.detail);
            k++;
            steps++;
        }
        free_kpa(st, doc);
        ran++;
    }
    assert_true(ran >= 10);
    print_message("knative vectors through observations: %d cases, %d steps\n", ran, steps);
}

/* TestStartInPanicMode: created with 0 or 1 ready pods, no panic and max panic pods =
 * ready; with 2, in panic. */
static void test_start_in_panic_mode(void **state)
{
    (void)state;
    static const struct {
        const char *name;
        int ready;
        bool panic;
        int max_panic;
    } rows[] = {
        {"TestStartInPanicMode ready 0", 0, false, 0},
        {"TestStartInPanicMode ready 1", 1, false, 1},
        {"TestStartInPanicMode ready 2", 2, true, 2},
    };
    kpa_spec spec = {.target_value = 100,
                     .total_value = 120,
                     .target_burst_capacity = 11,
                     .panic_threshold = 220,
                     .max_scale_up_rate = 10,
                     .max_scale_down_rate = 10,
                     .stable_window_us = 60 * S_US,
                     .tick_us = 2 * S_US,
                     .reachable = true};
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        kpa_decider d;
        assert_int_equal(kpa_decider_init(&d, &spec, rows[i].ready, 5 * S_US), 0);
        if (d.panicking != rows[i].panic)
            fail_msg("%s: panicking %d want %d", rows[i].name, d.panicking, rows[i].panic);
        if (d.max_panic_pods != rows[i].max_panic)
            fail_msg("%s: max panic pods %d want %d", rows[i].name, d.max_panic_pods,
                     rows[i].max_panic);
        kpa_decider_free(&d);
    }
}

/* TestAutoscalerNoDataNoAutoscale: no metrics, no decision. */
static void test_no_data_no_autoscale(void **state)
{
    (void)state;
    cfg_doc *doc;
    policy_info info;
    void *st = make_kpa(NULL, &doc, &info);
    policy_obs o = make_obs(10 * S_US, 5, 1, 1);
    o.metrics_valid = false;
    policy_decision d = run_decide(st, &o);
    assert_int_equal(d.desired_pods, -1);
    assert_int_equal(d.reason, POLICY_R_NO_METRICS);
    assert_false(kpa_last_result(st)->valid);
    o.metrics_valid = true;
    o.metric[OBS_CONCURRENCY] = NAN;
    d = run_decide(st, &o);
    assert_int_equal(d.desired_pods, -1);
    assert_int_equal(d.reason, POLICY_R_NO_METRICS);
    free_kpa(st, doc);
}

/* ------------------------------------------------------------------ window averages */

static void test_buckets(void **state)
{
    (void)state;
    kpa_buckets b;
    assert_int_equal(kpa_buckets_init(&b, 10 * S_US, 2 * S_US), 0); /* 5 buckets */
    assert_true(kpa_buckets_empty(&b, 0));
    assert_true(kpa_buckets_average(&b, 0) == 0);
    /* partial window: averages over the buckets since the first write */
    kpa_buckets_record(&b, 100 * S_US, 4);
    assert_true(kpa_buckets_average(&b, 100 * S_US) == 4);
    kpa_buckets_record(&b, 102 * S_US, 8);
    assert_true(kpa_buckets_average(&b, 102 * S_US) == 6);
    /* two values in one bucket add up (Knative sums the pods' reports) */
    kpa_buckets_record(&b, 103 * S_US, 2);
    assert_true(kpa_buckets_average(&b, 103 * S_US) == 7);
    /* full window: 4 + 10 + 6 + 0 + 5 over 5 buckets; the skipped bucket counts as 0 */
    kpa_buckets_record(&b, 104 * S_US, 6);
    kpa_buckets_record(&b, 108 * S_US, 5);
    assert_true(kpa_buckets_average(&b, 108 * S_US) == 5);
    /* read later without writes: the old buckets leave, the divisor shrinks */
    assert_true(fabs(kpa_buckets_average(&b, 110 * S_US) - 21.0 / 4) < 1e-6);
    /* a full window of silence: empty, and the next write starts over */
    assert_false(kpa_buckets_empty(&b, 118 * S_US));
    assert_true(kpa_buckets_empty(&b, 120 * S_US));
    kpa_buckets_record(&b, 130 * S_US, 3);
    assert_true(kpa_buckets_average(&b, 130 * S_US) == 3);
    /* a value older than the window is ignored */
    kpa_buckets_record(&b, 100 * S_US, 1000);
    assert_true(kpa_buckets_average(&b, 130 * S_US) == 3);
    kpa_buckets_free(&b);
}

/* ------------------------------------------------------------------ the policy's rules */

static const char *const base_yaml =
    "containerConcurrency: 0\n"
    "annotations:\n"
    "  autoscaling.knative.dev/target: \"10\"\n"
    "  autoscaling.knative.dev/target-utilization-percentage: \"100\"\n";

/* Drives decide() every 2 s from t0 to t1 (inclusive) with a constant value. */
static policy_decision drive(void *st, int64_t t0, int64_t t1, double v, int ready, int *spec)
{
    policy_decision d;
    policy_decision_init(&d);
    for (int64_t t = t0; t <= t1; t += 2 * S_US) {
        policy_obs o = make_obs(t, v, ready, *spec);
        d = run_decide(st, &o);
        if (d.desired_pods >= 0)
            *spec = d.desired_pods;
    }
    return d;
}

/* The panic ratchet: a surge enters panic; once the load falls, the pods stay until a
 * stable window has passed since the panic condition last held, then scale down. */
static void test_panic_ratchet(void **state)
{
    (void)state;
    cfg_doc *doc;
    policy_info info;
    void *st = make_kpa(base_yaml, &doc, &info);
    int spec = 1;
    /* a minute at 10: one pod, stable */
    policy_decision d = drive(st, 0, 60 * S_US, 10, 1, &spec);
    assert_int_equal(spec, 1);
    assert_false(kpa_state_decider(st)->panicking);
    /* surge to 80 for 6 s: panic window average 80 -> 8 pods >= 2 x 1 ready: panic */
    d = drive(st, 62 * S_US, 66 * S_US, 80, 1, &spec);
    assert_true(kpa_state_decider(st)->panicking);
    assert_int_equal(d.reason, POLICY_R_PANIC);
    assert_int_equal(spec, 8);
    int64_t last_over = kpa_state_decider(st)->panic_time_us;
    assert_int_equal(last_over, 66 * S_US);
    /* load falls to 10 with 8 ready: the stable window still wants 2 or more, panic
     * wants 1: no scale-down while panicking */
    d = drive(st, 68 * S_US, last_over + 60 * S_US, 10, 8, &spec);
    if (spec != 8)
        fail_msg("ratchet: scaled to %d within the stable window of the last panic", spec);
    assert_true(kpa_state_decider(st)->panicking);
    /* one tick after a full stable window: panic over, scale down (rate-limited /2) */
    policy_obs o = make_obs(last_over + 62 * S_US, 10, 8, spec);
    d = run_decide(st, &o);
    assert_false(kpa_state_decider(st)->panicking);
    assert_int_equal(d.desired_pods, 4);
    free_kpa(st, doc);
}

/* Scale to zero: no traffic -> the decider wants 0; active for a stable window -> the
 * revision is marked inactive (hold); 30 s of grace later -> 0. */
static void test_scale_to_zero_after_grace(void **state)
{
    (void)state;
    static const struct {
        const char *name;
        const char *extra;
        int64_t zero_after_inactive_us; /* -1: never */
    } rows[] = {
        {"grace 30s (default)", "", 30 * S_US},
        {"grace 10s", "autoscaler:\n  scale-to-zero-grace-period: 10s\n", 10 * S_US},
        {"retention 90s > grace",
         "  autoscaling.knative.dev/scale-to-zero-pod-retention-period: 90s\n", 90 * S_US},
        {"scale to zero disabled", "autoscaler:\n  enable-scale-to-zero: \"false\"\n", -1},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        char yaml[1024];
        snprintf(yaml, sizeof(yaml), "%s%s", base_yaml, rows[i].extra);
        cfg_doc *doc;
        policy_info info;
        void *st = make_kpa(yaml, &doc, &info);
        assert_int_equal(info.initial_pods, 1);
        assert_true(info.flags & POLICY_F_ACTIVATOR);
        int spec = 1;
        /* traffic for 2 minutes, then none */
        drive(st, 0, 120 * S_US, 5, 1, &spec);
        assert_int_equal(spec, 1);
        int64_t t = 122 * S_US, inactive_at = -1, zero_at = -1;
        for (; t <= 600 * S_US && zero_at < 0; t += 2 * S_US) {
            policy_obs o = make_obs(t, 0, spec, spec);
            policy_decision d = run_decide(st, &o);
            if (inactive_at < 0 && d.desired_pods == -1 && kpa_last_result(st)->desired == 0)
                inactive_at = t;
            if (d.desired_pods == 0) {
                zero_at = t;
                assert_int_equal(d.reason, POLICY_R_DEACTIVATE);
            }
            if (d.desired_pods >= 0)
                spec = d.desired_pods;
        }
        if (rows[i].zero_after_inactive_us < 0) {
            if (zero_at >= 0 || spec != 1)
                fail_msg("%s: scaled to %d at %lld", rows[i].name, spec, (long long)zero_at);
        } else {
            /* the stable window empties 60 s after the last traffic (t = 120 s) */
            if (inactive_at != 180 * S_US)
                fail_msg("%s: inactive at %lld want 180 s", rows[i].name, (long long)inactive_at);
            if (zero_at != inactive_at + rows[i].zero_after_inactive_us)
                fail_msg("%s: zero at %lld want %lld", rows[i].name, (long long)zero_at,
                         (long long)(inactive_at + rows[i].zero_after_inactive_us));
        }
        free_kpa(st, doc);
    }
}

/* Scale-to-zero right after activation: active for less than a stable window, the
 * count goes to at most 1, not 0. */
static void test_active_less_than_window_keeps_one(void **state)
{
    (void)state;
    cfg_doc *doc;
    policy_info info;
    void *st = make_kpa(base_yaml, &doc, &info);
    policy_obs o = make_obs(0, 0, 0, 0);
    policy_decision d;
    policy_decision_init(&d);
    gp_error err;
    assert_int_equal(kpa_ops()->on_arrival(st, &o, &d, &err), 0);
    assert_int_equal(d.desired_pods, 1);
    /* the pod becomes ready at 30 s; the scraped concurrency is still 0 */
    o = make_obs(30 * S_US, 0, 1, 1);
    d = run_decide(st, &o);
    assert_int_equal(kpa_last_result(st)->desired, 0);
    assert_int_equal(d.desired_pods, 1);
    free_kpa(st, doc);
}

/* The activator: a request with no pod at all asks for pods at once; with a pod (or one
 * starting, or asked for) it does nothing. */
static void test_activator_first_request(void **state)
{
    (void)state;
    static const struct {
        const char *name;
        const char *extra;
        int ready, starting, spec;
        int want;
    } rows[] = {
        {"no pod: one", "", 0, 0, 0, 1},
        {"activation-scale 3", "  autoscaling.knative.dev/activation-scale: \"3\"\n", 0, 0, 0, 3},
        {"min-scale 2", "  autoscaling.knative.dev/min-scale: \"2\"\n", 0, 0, 0, 2},
        {"a pod ready: nothing", "", 1, 0, 1, -1},
        {"a pod starting: nothing", "", 0, 1, 1, -1},
        {"asked, not yet created: nothing", "", 0, 0, 1, -1},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        char yaml[1024];
        snprintf(yaml, sizeof(yaml), "%s%s", base_yaml, rows[i].extra);
        cfg_doc *doc;
        policy_info info;
        void *st = make_kpa(yaml, &doc, &info);
        policy_obs o = make_obs(5 * S_US, 0, rows[i].ready, rows[i].spec);
        o.pods[POD_STARTING] = rows[i].starting;
        policy_decision d;
        policy_decision_init(&d);
        gp_error err;
        assert_int_equal(kpa_ops()->on_arrival(st, &o, &d, &err), 0);
        if (d.desired_pods != rows[i].want)
            fail_msg("%s: got %d want %d", rows[i].name, d.desired_pods, rows[i].want);
        if (rows[i].want > 0 && d.reason != POLICY_R_ACTIVATE)
            fail_msg("%s: reason %s", rows[i].name, policy_reason_name(d.reason));
        free_kpa(st, doc);
    }
}

static void test_bounds_and_info(void **state)
{
    (void)state;
    char yaml[1024];
    snprintf(yaml, sizeof(yaml),
             "%s  autoscaling.knative.dev/min-scale: \"2\"\n"
             "  autoscaling.knative.dev/max-scale: \"5\"\n"
             "  autoscaling.knative.dev/initial-scale: \"3\"\n",
             base_yaml);
    cfg_doc *doc;
    policy_info info;
    void *st = make_kpa(yaml, &doc, &info);
    assert_int_equal(info.min_pods, 2);
    assert_int_equal(info.max_pods, 5);
    assert_int_equal(info.initial_pods, 3);
    int spec = 3;
    /* created with 3 ready pods: starts in panic, holds 3 for a stable window */
    policy_decision d = drive(st, 0, 60 * S_US, 0, 3, &spec);
    assert_int_equal(spec, 3);
    d = drive(st, 62 * S_US, 70 * S_US, 0, 3, &spec);
    assert_int_equal(spec, 2); /* min-scale, never zero */
    d = drive(st, 72 * S_US, 130 * S_US, 500, 5, &spec);
    assert_int_equal(spec, 5); /* max-scale */
    assert_int_equal(d.reason, POLICY_R_BOUNDS);
    free_kpa(st, doc);

    /* defaults: target = containerConcurrency x 70%: 2 x 0.7 = 1.4 per pod */
    st = make_kpa(NULL, &doc, &info);
    assert_int_equal(info.sync_period_us, 2 * S_US);
    spec = 1;
    d = drive(st, 0, 60 * S_US, 7, 1, &spec);
    /* 7 / 1.4 = 5 pods, reached through panic */
    assert_int_equal(spec, 5);
    free_kpa(st, doc);
}

static void test_config_errors(void **state)
{
    (void)state;
    static const struct {
        const char *name, *yaml, *want;
    } rows[] = {
        {"class hpa",
         "annotations:\n  autoscaling.knative.dev/class: hpa.autoscaling.knative.dev\n",
         "use policy hpa"},
        {"metric cpu", "annotations:\n  autoscaling.knative.dev/metric: cpu\n", "hpa class"},
        {"both spellings",
         "annotations:\n  autoscaling.knative.dev/minScale: \"1\"\n"
         "  autoscaling.knative.dev/min-scale: \"1\"\n",
         "keep one"},
        {"window below 6s", "annotations:\n  autoscaling.knative.dev/window: 5s\n", "window"},
        {"window not whole seconds", "annotations:\n  autoscaling.knative.dev/window: 6500ms\n",
         "whole seconds"},
        {"panic threshold 100%",
         "annotations:\n  autoscaling.knative.dev/panic-threshold-percentage: \"100\"\n",
         "[110, 1000]"},
        {"unknown annotation", "annotations:\n  autoscaling.knative.dev/targt: \"1\"\n",
         "did you mean"},
        {"min above max",
         "annotations:\n  autoscaling.knative.dev/min-scale: \"4\"\n"
         "  autoscaling.knative.dev/max-scale: \"2\"\n",
         "greater than max-scale"},
        {"initial 0 not allowed", "annotations:\n  autoscaling.knative.dev/initial-scale: \"0\"\n",
         "allow-zero-initial-scale"},
        {"scale-up rate 1", "autoscaler:\n  max-scale-up-rate: \"1\"\n", "greater than 1.0"},
        {"unknown top key", "annotation: {}\n", "did you mean"},
        {"tbc -2", "annotations:\n  autoscaling.knative.dev/target-burst-capacity: \"-2\"\n",
         "target-burst-capacity"},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        cfg_doc *doc = NULL;
        gp_error err;
        gp_error_clear(&err);
        assert_int_equal(
            cfg_load_string("bad.yaml", rows[i].yaml, strlen(rows[i].yaml), &doc, &err), 0);
        policy_env env = test_env();
        policy_info info = {
            .sync_period_us = 15 * S_US, .initial_pods = -1, .min_pods = -1, .max_pods = -1};
        void *st = NULL;
        int rc = kpa_ops()->create(cfg_root(doc), &env, &st, &info, &err);
        char buf[1024];
        gp_error_format(&err, buf, sizeof(buf));
        if (rc >= 0)
            fail_msg("%s: accepted", rows[i].name);
        if (!strstr(buf, rows[i].want))
            fail_msg("%s: error \"%s\" lacks \"%s\"", rows[i].name, buf, rows[i].want);
        if (strncmp(buf, "bad.yaml:", 9) != 0)
            fail_msg("%s: error \"%s\" does not name the file", rows[i].name, buf);
        assert_null(st);
        cfg_free(doc);
    }
}

/* ------------------------------------------------------------------ end to end */

/* In a simulated run: pods start in 10 s and serve a request in 10 s. With initial
 * scale 0 the first request (at 1 s) finds no pod: the activator asks for one. After it
 * the revision goes idle, is marked inactive a stable window later and scales to zero
 * after the grace period; the request at 400 s starts a pod again (two cold starts, both
 * requests wait on one). With a min-scale of 1 the pod present from t = 0 serves both. */
static void test_scale_from_zero_in_a_run(void **state)
{
    (void)state;
    gpu_profile *p = tu_profile("format gpenlab-profile 1\ncard \"t\"\nprovenance seed\nmp_grid 1\n"
                                "stage work image 10000\njitter none\neff 1\ngpu_mem_mib 1000\n"
                                "model_mem_mib 200\nreq_mem_mib 100\n"
                                "cold_phase start const 10\n");
    gp_error err;
    gp_error_clear(&err);
    request_spec specs[2] = {{.arrival_us = 1 * S_US, .mp = 1, .faces = 1},
                             {.arrival_us = 400 * S_US, .mp = 1, .faces = 1}};
    tu_list lc = {.specs = specs, .n = 2};
    static const struct {
        const char *name, *extra;
        uint64_t starts, waited;
    } rows[] = {
        {"scale to zero between the requests", "", 2, 2},
        {"min-scale 1: the pod present from the start serves both",
         "  autoscaling.knative.dev/min-scale: \"1\"\n", 0, 0},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        char yaml[1024];
        snprintf(yaml, sizeof(yaml),
                 "autoscaler:\n  allow-zero-initial-scale: \"true\"\n"
                 "annotations:\n  autoscaling.knative.dev/initial-scale: \"0\"\n"
                 /* one request in flight is one pod (at 70% of 1 it would be two) */
                 "  autoscaling.knative.dev/target-utilization-percentage: \"100\"\n%s",
                 rows[i].extra);
        cfg_doc *doc = NULL;
        assert_int_equal(cfg_load_string("e.yaml", yaml, strlen(yaml), &doc, &err), 0);
        sim_cfg cfg;
        memset(&cfg, 0, sizeof(cfg));
        cluster_cfg_default(&cfg.cluster);
        metrics_cfg_default(&cfg.metrics);
        cfg.profile = p;
        cfg.policy = kpa_ops();
        cfg.policy_cfg = cfg_root(doc);
        cfg.seed = 7;
        cfg.open_source = tu_open_list;
        cfg.source_ctx = &lc;
        cfg.cluster.min_pods = 0;
        cfg.cluster.concurrency = 1;
        run_summary sum;
        memset(&sum, 0, sizeof(sum));
        if (sim_run(&cfg, &sum, NULL, NULL, &err) < 0) {
            char buf[1024];
            gp_error_format(&err, buf, sizeof(buf));
            fail_msg("%s: sim_run: %s", rows[i].name, buf);
        }
        if (sum.completed != 2 || sum.pod_starts != rows[i].starts ||
            sum.cold_waited != rows[i].waited)
            fail_msg("%s: completed %llu, %llu starts, %llu waited; want 2, %llu, %llu",
                     rows[i].name, (unsigned long long)sum.completed,
                     (unsigned long long)sum.pod_starts, (unsigned long long)sum.cold_waited,
                     (unsigned long long)rows[i].starts, (unsigned long long)rows[i].waited);
        cfg_free(doc);
    }
    free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_knative_vectors_decider),
        cmocka_unit_test(test_knative_vectors_observed),
        cmocka_unit_test(test_start_in_panic_mode),
        cmocka_unit_test(test_no_data_no_autoscale),
        cmocka_unit_test(test_buckets),
        cmocka_unit_test(test_panic_ratchet),
        cmocka_unit_test(test_scale_to_zero_after_grace),
        cmocka_unit_test(test_active_less_than_window_keeps_one),
        cmocka_unit_test(test_activator_first_request),
        cmocka_unit_test(test_bounds_and_info),
        cmocka_unit_test(test_config_errors),
        cmocka_unit_test(test_scale_from_zero_in_a_run),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
