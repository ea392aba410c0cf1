/* test_sim.c: the simulator's own guarantees: determinism, common random numbers,
 * conservation (with timeouts and drains), the pod life cycle (cold start in phases,
 * graceful drain that finishes work, requeue or failure past the grace period), GPU
 * memory admission and rejection with reasons, the metrics a policy sees, a controller's
 * late wake-up (metrics.sync_jitter) and a cold start slowing its GPU's requests
 * (cluster.start_interference). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sim/sim.h"
#include "tests/testutil.h"

#define S 1000000LL

/* ------------------------------------------------------------ a scripted policy */

/* Desired counts from a schedule: (t_s, pods) pairs; records what it observed. */
typedef struct scripted {
    int n;
    int64_t t_us[8];
    int pods[8];
    int64_t sync_us;
    int observed;
    policy_obs last;
    int max_ready_seen;
    double max_mem_seen;
    int64_t sync_seen_us[16]; /* now_us of the first 16 syncs */
} scripted;

static int scripted_create(const cfg_node *cfg, const policy_env *env, void **state,
                           policy_info *info, gp_error *err)
{
    (void)cfg, (void)err;
    scripted *sc = env->host_ctx;
    *state = sc;
    info->sync_period_us = sc->sync_us ? sc->sync_us : 1 * S;
    info->initial_pods = sc->pods[0];
    return 0;
}

static int scripted_decide(void *state, const policy_obs *obs, policy_decision *out, gp_error *err)
{
    (void)err;
    scripted *s = state;
    if (s->observed < 16)
        s->sync_seen_us[s->observed] = obs->now_us;
    int want = s->pods[0];
    for (int i = 0; i < s->n; i++)
        if (obs->now_us >= s->t_us[i])
            want = s->pods[i];
    s->observed++;
    s->last = *obs;
    s->last.pod = NULL;
    if (obs->pods[POD_READY] > s->max_ready_seen)
        s->max_ready_seen = obs->pods[POD_READY];
    if (obs->metrics_valid && obs->metric[OBS_GPU_MEM_FRAC] > s->max_mem_seen)
        s->max_mem_seen = obs->metric[OBS_GPU_MEM_FRAC];
    out->desired_pods = want;
    out->reason = POLICY_R_STATIC;
    return 0;
}

static void scripted_destroy(void *state) { (void)state; }

static const policy_ops scripted_ops = {.name = "scripted",
                                        .summary = "test schedule",
                                        .create = scripted_create,
                                        .decide = scripted_decide,
                                        .destroy = scripted_destroy};

/* ------------------------------------------------------------ fixtures */

static gpu_profile *profile_from(const char *text)
{
    gpu_profile *p = malloc(sizeof(*p));
    gp_error err;
    assert_non_null(p);
    if (profile_parse("test", text, p, &err) < 0)
        fail_msg("profile: %s", err.msg);
    return p;
}

typedef struct list_ctx {
    const request_spec *specs;
    size_t n;
    double rate;
    int64_t dur_us;
} list_ctx;

static int open_list(void *ctx, uint64_t seed, arrival_src **out, gp_error *err)
{
    (void)seed;
    list_ctx *c = ctx;
    return trace_open_list(c->specs, c->n, out, err);
}

static int open_poisson(void *ctx, uint64_t seed, arrival_src **out, gp_error *err)
{
    list_ctx *c = ctx;
    image_mix mix;
    image_mix_default(&mix);
    return trace_open_poisson(c->rate, c->dur_us, &mix, seed, out, err);
}

static void base_cfg(sim_cfg *cfg, const gpu_profile *p, const policy_ops *ops, void *src_ctx,
                     sim_source_open open)
{
    memset(cfg, 0, sizeof(*cfg));
    cluster_cfg_default(&cfg->cluster);
    metrics_cfg_default(&cfg->metrics);
    cfg->profile = p;
    cfg->policy = ops;
    cfg->seed = 7;
    cfg->open_source = open;
    cfg->source_ctx = src_ctx;
}

static void run_ok(const sim_cfg *cfg, run_summary *sum, run_series *series, request_log *log)
{
    gp_error err;
    gp_error_clear(&err);
    int rc = sim_run(cfg, sum, series, log, &err);
    if (rc < 0) {
        char buf[800];
        gp_error_format(&err, buf, sizeof(buf));
        fail_msg("sim_run failed: %s", buf);
    }
    assert_int_equal(sum->arrived,
                     sum->completed + sum->timed_out + sum->rejected + sum->in_flight_end);
}

static const char *const T4 = "gpu/profiles/t4-seed";

/* ------------------------------------------------------------ tests */

static void test_determinism_byte_identical(void **state)
{
    (void)state;
    gpu_profile *p = malloc(sizeof(*p));
    gp_error err;
    assert_int_equal(profile_load(T4, p, &err), 0);
    list_ctx lc = {.rate = 2.0, .dur_us = 1800 * S};
    sim_cfg cfg;
    base_cfg(&cfg, p, policy_find("static"), &lc, open_poisson);
    cfg.cluster.max_pods = 3;
    cfg.cluster.concurrency = 2;
    run_summary a, b;
    run_series sa = {0}, sb = {0};
    request_log la = {0}, lb = {0};
    run_ok(&cfg, &a, &sa, &la);
    run_ok(&cfg, &b, &sb, &lb);
    a.wall_s = b.wall_s = 0;
    assert_true(a.arrived > 3000);
    assert_memory_equal(&a, &b, sizeof(a));
    assert_int_equal(sa.n, sb.n);
    assert_memory_equal(sa.row, sb.row, sa.n * sizeof(series_row));
    assert_int_equal(la.n, lb.n);
    assert_memory_equal(la.row, lb.row, la.n * sizeof(request_row));
    /* a different seed gives a different run */
    cfg.seed = 8;
    run_summary c;
    run_ok(&cfg, &c, NULL, NULL);
    assert_true(c.arrived != a.arrived || c.lat_mean_s != a.lat_mean_s);
    run_series_free(&sa), run_series_free(&sb), request_log_free(&la), request_log_free(&lb);
    free(p);
}

static int cmp_row_id(const void *x, const void *y)
{
    const request_row *a = x, *b = y;
    return a->id < b->id ? -1 : a->id > b->id;
}

static void test_common_random_numbers_across_policies(void **state)
{
    (void)state;
    gpu_profile *p = malloc(sizeof(*p));
    gp_error err;
    assert_int_equal(profile_load(T4, p, &err), 0);
    list_ctx lc = {.rate = 1.5, .dur_us = 900 * S};
    sim_cfg cfg;
    base_cfg(&cfg, p, policy_find("static"), &lc, open_poisson);
    cfg.cluster.max_pods = 1;
    cfg.cluster.concurrency = 1;
    run_summary a, b;
    request_log la = {0}, lb = {0};
    run_ok(&cfg, &a, NULL, &la); /* overloaded: timeouts */
    cfg.cluster.max_pods = 6;
    run_ok(&cfg, &b, NULL, &lb); /* ample */
    assert_true(a.timed_out > 0);
    assert_int_equal(b.timed_out, 0);
    assert_int_equal(a.arrived, b.arrived);
    assert_int_equal(la.n, lb.n);
    qsort(la.row, la.n, sizeof(request_row), cmp_row_id);
    qsort(lb.row, lb.n, sizeof(request_row), cmp_row_id);
    for (size_t i = 0; i < la.n; i++) {
        if (la.row[i].id != lb.row[i].id || la.row[i].arrival_us != lb.row[i].arrival_us ||
            la.row[i].mp != lb.row[i].mp || la.row[i].faces != lb.row[i].faces ||
            la.row[i].demand_s != lb.row[i].demand_s)
            fail_msg("request %llu differs between policies", (unsigned long long)la.row[i].id);
    }
    request_log_free(&la), request_log_free(&lb);
    free(p);
}

static const char *const PROFILE_10S =
    "format gpenlab-profile 1\ncard \"t\"\nprovenance seed\nmp_grid 1\nstage work image 10000\n"
    "jitter none\neff 1 2 3 4\ngpu_mem_mib 1000\nmodel_mem_mib 200\nreq_mem_mib 100\n"
    "cold_phase pull const 4 pod cached_skip\ncold_phase boot const 6 pod\n";

static void test_conservation_with_timeouts(void **state)
{
    (void)state;
    gpu_profile *p = profile_from(PROFILE_10S);
    list_ctx lc = {.rate = 1.0, .dur_us = 600 * S};
    sim_cfg cfg;
    base_cfg(&cfg, p, policy_find("static"), &lc, open_poisson);
    cfg.cluster.max_pods = 1;
    cfg.cluster.concurrency = 2;
    cfg.cluster.timeout_us = 15 * S;
    run_summary sum;
    run_ok(&cfg, &sum, NULL, NULL);
    /* capacity 0.2/s against 1/s: most time out, some in service when they do */
    assert_true(sum.timed_out > sum.arrived / 2);
    assert_true(sum.completed > 0);
    assert_int_equal(sum.in_flight_end, 0);
    /* a fixed horizon in the middle leaves requests in flight, still conserved */
    cfg.horizon_us = 300 * S;
    run_ok(&cfg, &sum, NULL, NULL);
    assert_true(sum.in_flight_end > 0);
    free(p);
}

static void test_cold_start_phases_and_image_cache(void **state)
{
    (void)state;
    gpu_profile *p = profile_from(PROFILE_10S);
    /* one request at t = 1 s, one pod wanted from t = 0 (initial 0) */
    request_spec specs[] = {{.arrival_us = 1 * S, .mp = 1, .faces = 1}};
    list_ctx lc = {.specs = specs, .n = 1};
    scripted sc = {.n = 1, .t_us = {0}, .pods = {0}, .sync_us = 1 * S};
    sim_cfg cfg;
    base_cfg(&cfg, p, &scripted_ops, &lc, open_list);
    cfg.policy_host_ctx = &sc;
    cfg.cluster.min_pods = 0;
    sc.pods[0] = 0;
    sc.n = 2;
    sc.t_us[1] = 2 * S;
    sc.pods[1] = 1;
    run_summary sum;
    request_log log = {0};
    cfg.cluster.image_cache = IMAGE_CACHE_NONE;
    run_ok(&cfg, &sum, NULL, &log);
    /* decided at 2 s (first sync at 1 s said 0), ready at 2 + 4 + 6 = 12 s, done at 22 s */
    assert_int_equal(sum.completed, 1);
    assert_int_equal(log.row[0].start_us, 12 * S);
    assert_int_equal(log.row[0].end_us, 22 * S);
    assert_int_equal(log.row[0].cold, 1);
    assert_int_equal(sum.pod_starts, 1);
    assert_int_equal(sum.cold_waited, 1);
    request_log_free(&log);
    /* image already on every node: the pull phase is skipped */
    cfg.cluster.image_cache = IMAGE_CACHE_ALL;
    run_ok(&cfg, &sum, NULL, &log);
    assert_int_equal(log.row[0].start_us, 8 * S);
    request_log_free(&log);
    /* the cluster's own phases (scheduling, a cached-skip pull) come on top */
    gp_error err;
    assert_int_equal(
        profile_phase_parse("x", 1, "p", "schedule const 3 pod", &cfg.cluster.extra_phase[0], &err),
        0);
    assert_int_equal(profile_phase_parse("x", 1, "p", "registry_pull const 10 pod cached_skip",
                                         &cfg.cluster.extra_phase[1], &err),
                     0);
    assert_int_equal(
        profile_phase_parse("x", 7, "p", "bad uniform 5 1", &cfg.cluster.extra_phase[2], &err),
        GP_ERANGE);
    assert_int_equal(err.line, 7);
    cfg.cluster.n_extra_phases = 2;
    run_ok(&cfg, &sum, NULL, &log);
    assert_int_equal(log.row[0].start_us, 11 * S); /* 2 + 6 + 3, pulls skipped */
    request_log_free(&log);
    cfg.cluster.image_cache = IMAGE_CACHE_NONE;
    run_ok(&cfg, &sum, NULL, &log);
    assert_int_equal(log.row[0].start_us, 25 * S); /* 2 + 4 + 6 + 3 + 10 */
    request_log_free(&log);
    free(p);
}

/* Two pods, four 10-s requests at t = 0.5 s, scaled to 1 pod at t = 2 s (the newest
 * drains) with the given grace period and dispatch. */
static void run_drain(gpu_profile *p, int64_t grace_us, dispatch_mode dispatch, run_summary *sum,
                      request_log *log)
{
    request_spec specs[4];
    for (int i = 0; i < 4; i++)
        specs[i] = (request_spec){.arrival_us = S / 2, .mp = 1, .faces = 1};
    list_ctx lc = {.specs = specs, .n = 4};
    scripted sc = {.n = 2, .t_us = {0, 2 * S}, .pods = {2, 1}, .sync_us = 1 * S};
    sim_cfg cfg;
    base_cfg(&cfg, p, &scripted_ops, &lc, open_list);
    cfg.policy_host_ctx = &sc;
    cfg.cluster.concurrency = 2;
    cfg.cluster.termination_grace_us = grace_us;
    cfg.cluster.dispatch = dispatch;
    run_ok(&cfg, sum, NULL, log);
}

static void test_drain_finishes_work_within_grace(void **state)
{
    (void)state;
    gpu_profile *p = profile_from(PROFILE_10S);
    run_summary sum;
    request_log log = {0};
    run_drain(p, 60 * S, DISPATCH_SHARED_QUEUE, &sum, &log);
    assert_int_equal(sum.completed, 4);
    assert_int_equal(sum.requeued, 0);
    /* each pod had two at eff(2) = 2: all four finish at 10.5 s */
    for (size_t i = 0; i < log.n; i++)
        assert_int_equal(log.row[i].end_us, 10 * S + S / 2);
    request_log_free(&log);
    free(p);
}

static void test_drain_past_grace_requeues_or_fails(void **state)
{
    (void)state;
    gpu_profile *p = profile_from(PROFILE_10S);
    run_summary sum;
    request_log log = {0};
    run_drain(p, 3 * S, DISPATCH_SHARED_QUEUE, &sum, &log);
    /* the draining pod is killed at 5 s: its two requests go back to the queue head
       and restart on the remaining pod once it frees up (10.5 s): done at 20.5 s */
    assert_int_equal(sum.requeued, 2);
    assert_int_equal(sum.completed, 4);
    int late = 0;
    for (size_t i = 0; i < log.n; i++)
        late += log.row[i].end_us == 20 * S + S / 2;
    assert_int_equal(late, 2);
    request_log_free(&log);
    /* least_conn: requests held by a killed pod fail */
    run_drain(p, 3 * S, DISPATCH_LEAST_CONN, &sum, NULL);
    assert_int_equal(sum.rejected_by[REJECT_DRAIN_KILLED], 2);
    assert_int_equal(sum.completed, 2);
    free(p);
}

static void test_memory_admission_and_rejection(void **state)
{
    (void)state;
    /* 1000 MiB card, model 200, request 300 MiB at 1 MP, 900 MiB at 4 MP */
    gpu_profile *p =
        profile_from("format gpenlab-profile 1\ncard \"t\"\nprovenance seed\nmp_grid 1 4\n"
                     "stage work image 10000\njitter none\neff 1 2 3 4\ngpu_mem_mib 1000\n"
                     "model_mem_mib 200\nreq_mem_mib 300 900\ncold_phase boot const 1\n");
    request_spec specs[5];
    for (int i = 0; i < 4; i++)
        specs[i] = (request_spec){.arrival_us = S, .mp = 1, .faces = 1};
    specs[4] = (request_spec){.arrival_us = 2 * S, .mp = 4, .faces = 1};
    list_ctx lc = {.specs = specs, .n = 5};
    sim_cfg cfg;
    base_cfg(&cfg, p, policy_find("static"), &lc, open_list);
    cfg.cluster.max_pods = 1;
    cfg.cluster.concurrency = 4;
    run_summary sum;
    request_log log = {0};
    run_ok(&cfg, &sum, NULL, &log);
    assert_int_equal(sum.rejected, 1);
    assert_int_equal(sum.rejected_by[REJECT_TOO_LARGE], 1);
    assert_int_equal(sum.completed, 4);
    /* only two fit at once (200 + 2 x 300 <= 1000 < 200 + 3 x 300) */
    int at_once = 0;
    for (size_t i = 0; i < log.n; i++)
        at_once += log.row[i].outcome == OUTCOME_COMPLETED && log.row[i].start_us == S;
    assert_int_equal(at_once, 2);
    request_log_free(&log);
    free(p);
}

static void test_policy_sees_scraped_metrics(void **state)
{
    (void)state;
    gpu_profile *p = profile_from(PROFILE_10S);
    request_spec specs[4];
    for (int i = 0; i < 4; i++)
        specs[i] = (request_spec){.arrival_us = S, .mp = 1, .faces = 1};
    list_ctx lc = {.specs = specs, .n = 4};
    scripted sc = {.n = 1, .t_us = {0}, .pods = {1}, .sync_us = 15 * S};
    sim_cfg cfg;
    base_cfg(&cfg, p, &scripted_ops, &lc, open_list);
    cfg.policy_host_ctx = &sc;
    cfg.cluster.concurrency = 2;
    cfg.horizon_us = 31 * S;
    run_summary sum;
    run_ok(&cfg, &sum, NULL, NULL);
    /* two run 1..11 s (eff(2) = 2), two 11..21 s. At 15 s (scrape at 15 s): two in
       service, memory (200 + 2 x 100) / 1000 = 0.4. At 30 s: idle since 21 s, memory
       0.2, busy 6 of 15 s, latencies 10, 10, 20, 20 s */
    assert_int_equal(sc.observed, 2);
    assert_true(sc.last.metrics_valid);
    assert_int_equal(sc.last.scrape_us, 30 * S);
    assert_true(fabs(sc.last.metric[OBS_GPU_MEM_FRAC] - 0.2) < 1e-9);
    assert_true(fabs(sc.max_mem_seen - 0.4) < 1e-9);
    assert_true(fabs(sc.last.metric[OBS_GPU_UTIL_FRAC] - 0.4) < 1e-9);
    assert_true(fabs(sc.last.metric[OBS_LATENCY_P95_S] - 20.0) < 20.0 * 0.006);
    assert_true(fabs(sc.last.metric[OBS_LATENCY_P50_S] - 10.0) < 10.0 * 0.006);
    assert_true(fabs(sc.last.metric[OBS_IN_FLIGHT]) < 1e-9);
    assert_int_equal(sc.last.latency_samples, 4);
    /* with a 10 s pipeline delay, the policy at 30 s sees the scrape of 15 s, and at
       15 s nothing yet */
    cfg.metrics.delay_us = 10 * S;
    sc.observed = 0;
    sc.max_mem_seen = 0;
    run_ok(&cfg, &sum, NULL, NULL);
    assert_int_equal(sc.observed, 2);
    assert_int_equal(sc.last.scrape_us, 15 * S);
    assert_true(fabs(sc.last.metric[OBS_GPU_MEM_FRAC] - 0.4) < 1e-9);
    assert_true(fabs(sc.last.metric[OBS_GPU_UTIL_FRAC] - 14.0 / 15.0) < 1e-9);
    free(p);
}

/* A per-request (serverless) policy with a fixed keep-alive and optional pre-warm. */
typedef struct per_request_cfg {
    int64_t keep_alive_us, prewarm_us;
} per_request_cfg;

static int perreq_create(const cfg_node *cfg, const policy_env *env, void **state,
                         policy_info *info, gp_error *err)
{
    (void)cfg, (void)err;
    *state = env->host_ctx;
    info->flags = POLICY_F_PER_REQUEST;
    info->initial_pods = 0;
    return 0;
}

static int perreq_decide(void *state, const policy_obs *obs, policy_decision *out, gp_error *err)
{
    (void)obs, (void)err;
    const per_request_cfg *c = state;
    out->keep_alive_us = c->keep_alive_us;
    out->prewarm_us = c->prewarm_us;
    return 0;
}

static const policy_ops perreq_ops = {.name = "perreq",
                                      .summary = "test",
                                      .create = perreq_create,
                                      .decide = perreq_decide,
                                      .on_arrival = perreq_decide,
                                      .destroy = scripted_destroy};

static void test_serverless_keep_alive_and_prewarm(void **state)
{
    (void)state;
    /* instances start in 10 s (6 s boot + 4 s pull, image not cached), serve in 10 s */
    gpu_profile *p = profile_from(
        "format gpenlab-profile 1\ncard \"t\"\nprovenance seed\nmp_grid 1\n"
        "stage work image 10000\njitter none\neff 1\ngpu_mem_mib 1000\nmodel_mem_mib 200\n"
        "req_mem_mib 100\ncold_phase start const 10 serverless\n");
    request_spec specs[3] = {{.arrival_us = 1 * S, .mp = 1, .faces = 1},
                             {.arrival_us = 100 * S, .mp = 1, .faces = 1},
                             {.arrival_us = 101 * S, .mp = 1, .faces = 1}};
    list_ctx lc = {.specs = specs, .n = 3};
    per_request_cfg pc = {.keep_alive_us = 60 * S, .prewarm_us = -1};
    sim_cfg cfg;
    base_cfg(&cfg, p, &perreq_ops, &lc, open_list);
    cfg.policy_host_ctx = &pc;
    cfg.cluster.min_pods = 0;
    cfg.cluster.concurrency = 1;
    run_summary sum;
    request_log log = {0};
    run_ok(&cfg, &sum, NULL, &log);
    /* first: cold (start 1 s, ready 11 s, done 21 s); idle from 21 s, expired at 81 s;
       at 100 s and 101 s two cold starts: three in all, every request waited on one */
    assert_int_equal(sum.completed, 3);
    assert_int_equal(sum.pod_starts, 3);
    assert_int_equal(sum.cold_waited, 3);
    assert_int_equal(log.row[0].end_us, 21 * S);
    request_log_free(&log);
    /* a keep-alive longer than the gap: the second request finds it warm; the third
       starts an instance (ready at 111 s) but the warm one frees first (110 s) and takes
       it, as a shared buffer would: only the first request waited on a cold start */
    pc.keep_alive_us = 100 * S;
    run_ok(&cfg, &sum, NULL, &log);
    assert_int_equal(sum.pod_starts, 2);
    assert_int_equal(sum.cold_waited, 1);
    request_log_free(&log);
    /* pre-warm: unload at 21 s, load again at 21 + 60 s, ready at 91 s: warm at 100 s */
    pc.keep_alive_us = 30 * S;
    pc.prewarm_us = 60 * S;
    run_ok(&cfg, &sum, NULL, &log);
    assert_int_equal(sum.pod_starts, 3); /* first, pre-warmed, and one for 101 s */
    assert_int_equal(sum.cold_waited, 1);
    assert_int_equal(log.row[1].start_us, 100 * S); /* warm: no wait */
    request_log_free(&log);
    free(p);
}

/* One 10-s request from t = 0.5 s on the initial pod; a second pod is wanted from t = 2 s
 * and cold-starts for 6 s (pull skipped): 2 .. 8 s. */
static void run_interference(gpu_profile *p, double interference, int gpus, int share,
                             request_log *log)
{
    request_spec specs[] = {{.arrival_us = S / 2, .mp = 1, .faces = 1}};
    list_ctx lc = {.specs = specs, .n = 1};
    scripted sc = {.n = 2, .t_us = {0, 2 * S}, .pods = {1, 2}, .sync_us = 1 * S};
    sim_cfg cfg;
    base_cfg(&cfg, p, &scripted_ops, &lc, open_list);
    cfg.policy_host_ctx = &sc;
    cfg.cluster.gpus = cfg.cluster.gpus_max = gpus;
    cfg.cluster.gpu_share = share;
    cfg.cluster.max_pods = 2;
    cfg.cluster.image_cache = IMAGE_CACHE_ALL;
    cfg.cluster.start_interference = interference;
    run_summary sum;
    run_ok(&cfg, &sum, NULL, log);
    assert_int_equal(sum.completed, 1);
    assert_int_equal(sum.pod_starts, 1);
}

static void test_start_interference(void **state)
{
    (void)state;
    gpu_profile *p = profile_from(PROFILE_10S);
    static const struct {
        const char *name;
        double interference, profile_interference;
        int gpus, share;
        int64_t end_us;
    } rows[] = {
        /* 1.5 s of work by 2 s, 6 s at half speed = 3 s, the last 5.5 s from 8 s */
        {"shared GPU, x0.5 while starting", 0.5, 1.0, 1, 2, 13 * S + S / 2},
        {"shared GPU, x0.8 while starting", 0.8, 1.0, 1, 2, 11 * S + 7 * S / 10}, /* 1.5+4.8 */
        {"shared GPU, no interference", 1.0, 1.0, 1, 2, 10 * S + S / 2},
        {"own GPU each: the start is elsewhere", 0.5, 1.0, 2, 1, 10 * S + S / 2},
        {"the profile's x0.5 (cluster key unset)", 0, 0.5, 1, 2, 13 * S + S / 2},
        {"the cluster key overrides the profile", 0.8, 0.5, 1, 2, 11 * S + 7 * S / 10},
        {"neither: none", 0, 1.0, 1, 2, 10 * S + S / 2},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        request_log log = {0};
        p->start_interference = rows[i].profile_interference;
        run_interference(p, rows[i].interference, rows[i].gpus, rows[i].share, &log);
        if (llabs(log.row[0].end_us - rows[i].end_us) > 1)
            fail_msg("%s: ends at %lld us, want %lld", rows[i].name, (long long)log.row[0].end_us,
                     (long long)rows[i].end_us);
        request_log_free(&log);
    }
    /* a fresh cluster takes the profile's value; a profile without the directive has none */
    cluster_cfg c;
    cluster_cfg_default(&c);
    assert_true(c.start_interference == 0);
    gpu_profile *q = profile_from(PROFILE_10S);
    assert_true(q->start_interference == 1.0);
    free(q);
    free(p);
}

/* The profile's start_interference: parsed, range-checked, written back only when < 1. */
static void test_profile_start_interference(void **state)
{
    (void)state;
    char text[1024];
    snprintf(text, sizeof(text), "%sstart_interference 0.875\n", PROFILE_10S);
    gpu_profile *p = profile_from(text);
    assert_true(p->start_interference == 0.875);
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    gp_error err;
    assert_int_equal(profile_write(p, f, &err), 0);
    fclose(f);
    assert_non_null(strstr(buf, "\nstart_interference 0.875\n"));
    gpu_profile *q = profile_from(buf);
    assert_true(q->start_interference == 0.875);
    free(buf), free(q), free(p);
    static const char *const bad[] = {"start_interference 1.5\n", "start_interference 0\n",
                                      "start_interference\n", "start_interference 0.5 0.6\n"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        gpu_profile r;
        snprintf(text, sizeof(text), "%s%s", PROFILE_10S, bad[i]);
        if (profile_parse("bad", text, &r, &err) >= 0)
            fail_msg("accepted: %s", bad[i]);
        assert_int_equal(err.line, 13);
    }
}

/* The policy runs at k x sync period, plus up to sync_jitter late (a live controller's
 * wake-up latency), keyed by the run seed; never drifting; 0 = exactly on time. */
static void test_sync_jitter(void **state)
{
    (void)state;
    gpu_profile *p = profile_from(PROFILE_10S);
    request_spec specs[] = {{.arrival_us = S / 2, .mp = 1, .faces = 1}};
    list_ctx lc = {.specs = specs, .n = 1};
    scripted sc = {.n = 1, .t_us = {0}, .pods = {1}, .sync_us = 1 * S};
    sim_cfg cfg;
    base_cfg(&cfg, p, &scripted_ops, &lc, open_list);
    cfg.policy_host_ctx = &sc;
    cfg.horizon_us = 16 * S;
    run_summary sum;
    run_ok(&cfg, &sum, NULL, NULL);
    assert_int_equal(sc.observed, 16);
    for (int k = 0; k < 16; k++)
        if (sc.sync_seen_us[k] != (k + 1) * S)
            fail_msg("on time: sync %d at %lld us", k + 1, (long long)sc.sync_seen_us[k]);
    cfg.metrics.sync_jitter_us = 300;
    int64_t first[16];
    for (int round = 0; round < 2; round++) {
        sc.observed = 0;
        run_ok(&cfg, &sum, NULL, NULL);
        assert_int_equal(sc.observed, 15); /* the 16th is late past the horizon */
        int late = 0;
        for (int k = 0; k < 15; k++) {
            int64_t d = sc.sync_seen_us[k] - (k + 1) * S;
            if (d < 0 || d > 300)
                fail_msg("jitter 300 us: sync %d at %+lld us from its nominal time", k + 1,
                         (long long)d);
            late += d > 0;
            if (round == 0)
                first[k] = sc.sync_seen_us[k];
            else if (first[k] != sc.sync_seen_us[k])
                fail_msg("jitter 300 us: sync %d not deterministic", k + 1);
        }
        assert_true(late >= 10);
    }
    /* the ties of the H200 run: syncs exactly 3 s apart are now either side of 3 s */
    int shorter = 0, longer = 0;
    for (int k = 3; k < 15; k++) {
        int64_t gap = first[k] - first[k - 3];
        shorter += gap < 3 * S;
        longer += gap > 3 * S;
    }
    assert_true(shorter > 0 && longer > 0);
    /* a jitter of a whole period is refused */
    cfg.metrics.sync_jitter_us = 1 * S;
    gp_error err;
    gp_error_clear(&err);
    assert_int_equal(sim_run(&cfg, &sum, NULL, NULL, &err), GP_ERANGE);
    assert_non_null(strstr(err.msg, "sync_jitter"));
    free(p);
}

/* ------------------------------------------------------------ exact rules (issue 13) */

static const char *const PROFILE_4S =
    "format gpenlab-profile 1\ncard \"t\"\nprovenance seed\nmp_grid 1\nstage work image 4000\n"
    "jitter none\neff 1\ngpu_mem_mib 100000\nmodel_mem_mib 1\nreq_mem_mib 0\n"
    "cold_phase start const 0\n";

/* One pod, one slot, 4 s per request: A and B at 0, C at 1 s, D at 6 s. */
static void run_abcd(const gpu_profile *p, int64_t timeout_us, run_summary *sum, request_log *log)
{
    static const request_spec specs[] = {{.arrival_us = 0, .mp = 1, .faces = 0},
                                         {.arrival_us = 0, .mp = 1, .faces = 0},
                                         {.arrival_us = 1 * S, .mp = 1, .faces = 0},
                                         {.arrival_us = 6 * S, .mp = 1, .faces = 0}};
    list_ctx lc = {.specs = specs, .n = 4};
    sim_cfg cfg;
    base_cfg(&cfg, p, policy_find("static"), &lc, open_list);
    cfg.cluster.gpus = cfg.cluster.gpus_max = 1;
    cfg.cluster.min_pods = cfg.cluster.max_pods = 1;
    cfg.cluster.timeout_us = timeout_us;
    run_ok(&cfg, sum, NULL, log);
    assert_int_equal(log->n, 4);
}

static void expect_row(const request_log *log, uint64_t id, request_outcome outcome,
                       int64_t start_us, int64_t end_us, int64_t gpu_end_us)
{
    const request_row *r = tu_row_of(log, id);
    if (r->outcome != outcome || r->start_us != start_us || r->end_us != end_us ||
        r->gpu_end_us != gpu_end_us)
        fail_msg(
            "request %llu: outcome %d start %lld end %lld gpu_end %lld, want %d %lld %lld %lld",
            (unsigned long long)id, r->outcome, (long long)r->start_us, (long long)r->end_us,
            (long long)r->gpu_end_us, outcome, (long long)start_us, (long long)end_us,
            (long long)gpu_end_us);
}

/* Timeout 4 s. At 4 s, A completes and B's deadline comes: B leaves without starting, and
 * the freed slot goes to C (the old code started B at its own deadline, held the slot 4 s
 * for a client gone, and C timed out waiting). C's client leaves at 5 s while its GPU works
 * on to 8 s; D starts at 8 s, its client leaves at 10 s, and the run ends at 10 s + 1 us
 * (last arrival + timeout) before D's GPU is done: no GPU end. */
static void test_deadline_before_dispatch(void **state)
{
    (void)state;
    gpu_profile *p = profile_from(PROFILE_4S);
    run_summary sum;
    request_log log = {0};
    run_abcd(p, 4 * S, &sum, &log);
    expect_row(&log, 0, OUTCOME_COMPLETED, 0, 4 * S, 4 * S);
    expect_row(&log, 1, OUTCOME_TIMED_OUT, -1, 4 * S, -1);
    expect_row(&log, 2, OUTCOME_TIMED_OUT, 4 * S, 5 * S, 8 * S);
    expect_row(&log, 3, OUTCOME_TIMED_OUT, 8 * S, 10 * S, -1);
    assert_int_equal(sum.span_us, 10 * S + 1);
    assert_int_equal(sum.timed_out, 3);
    assert_int_equal(sum.completed, 1);
    request_log_free(&log);
    free(p);
}

/* Timeout 6 s: a request that times out in service has its client's end (the deadline)
 * and its GPU's end in its row. B starts at 4 s, its client leaves at 6 s, the GPU ends it
 * at 8 s; C (deadline 7 s) times out waiting; D starts at 8 s and completes at 12 s, its
 * deadline: completed (completions come first at one us). The run ends at 12 s + 1 us. */
static void test_timeout_in_service_both_ends(void **state)
{
    (void)state;
    gpu_profile *p = profile_from(PROFILE_4S);
    run_summary sum;
    request_log log = {0};
    run_abcd(p, 6 * S, &sum, &log);
    expect_row(&log, 0, OUTCOME_COMPLETED, 0, 4 * S, 4 * S);
    expect_row(&log, 1, OUTCOME_TIMED_OUT, 4 * S, 6 * S, 8 * S);
    expect_row(&log, 2, OUTCOME_TIMED_OUT, -1, 7 * S, -1);
    expect_row(&log, 3, OUTCOME_COMPLETED, 8 * S, 12 * S, 12 * S);
    assert_int_equal(sum.span_us, 12 * S + 1);
    request_log_free(&log);
    free(p);
}

/* timeout: none. Every request is answered however long it waits, and the run ends with
 * the last answer; with no pod to serve them, the run ends two simulated days after the
 * last arrival and counts them in flight (no hang). */
static void test_timeout_none(void **state)
{
    (void)state;
    gpu_profile *p = profile_from(PROFILE_4S);
    request_spec specs[20];
    for (int i = 0; i < 20; i++)
        specs[i] = (request_spec){.arrival_us = 0, .mp = 1, .faces = 0};
    list_ctx lc = {.specs = specs, .n = 20};
    sim_cfg cfg;
    base_cfg(&cfg, p, policy_find("static"), &lc, open_list);
    cfg.cluster.gpus = cfg.cluster.gpus_max = 1;
    cfg.cluster.min_pods = cfg.cluster.max_pods = 1;
    cfg.cluster.timeout_us = SIM_TIMEOUT_NONE;
    run_summary sum;
    request_log log = {0};
    run_ok(&cfg, &sum, NULL, &log);
    assert_int_equal(sum.completed, 20);
    assert_int_equal(sum.timed_out, 0);
    assert_int_equal(sum.span_us, 80 * S); /* the last of 20 x 4 s */
    assert_int_equal(tu_row_of(&log, 19)->end_us, 80 * S);
    request_log_free(&log);

    scripted sc = {.n = 0, .pods = {0}};
    base_cfg(&cfg, p, &scripted_ops, &lc, open_list);
    cfg.policy_host_ctx = &sc;
    cfg.cluster.min_pods = 0;
    cfg.cluster.timeout_us = SIM_TIMEOUT_NONE;
    run_ok(&cfg, &sum, NULL, &log);
    assert_int_equal(sum.completed, 0);
    assert_int_equal(sum.in_flight_end, 20);
    assert_true(sum.span_us > SIM_STALL_US && sum.span_us <= SIM_STALL_US + 15 * S);
    assert_int_equal(log.n, 20);
    assert_int_equal(tu_row_of(&log, 0)->outcome, OUTCOME_IN_FLIGHT);
    assert_int_equal(tu_row_of(&log, 0)->end_us, -1);
    request_log_free(&log);
    free(p);
}

/* No demand floor: a request with no work is answered at the us it starts (it was
 * raised to 1 us before). */
static void test_zero_demand(void **state)
{
    (void)state;
    gpu_profile *p = profile_from(
        "format gpenlab-profile 1\ncard \"t\"\nprovenance seed\nmp_grid 1\nstage work image 0\n"
        "jitter none\neff 1 2\ngpu_mem_mib 1000\nmodel_mem_mib 1\nreq_mem_mib 0\n"
        "cold_phase start const 0\n");
    static const request_spec specs[] = {{.arrival_us = 5, .mp = 1, .faces = 0},
                                         {.arrival_us = 5, .mp = 1, .faces = 0},
                                         {.arrival_us = 5, .mp = 1, .faces = 0},
                                         {.arrival_us = 9, .mp = 1, .faces = 0}};
    list_ctx lc = {.specs = specs, .n = 4};
    sim_cfg cfg;
    base_cfg(&cfg, p, policy_find("static"), &lc, open_list);
    cfg.cluster.min_pods = cfg.cluster.max_pods = 1;
    cfg.cluster.concurrency = 2;
    run_summary sum;
    request_log log = {0};
    run_ok(&cfg, &sum, NULL, &log);
    assert_int_equal(sum.completed, 4);
    for (uint64_t id = 0; id < 4; id++)
        assert_int_equal(tu_row_of(&log, id)->end_us, specs[id].arrival_us);
    request_log_free(&log);
    free(p);
}

/* Processor sharing at the microsecond around a kept completion event: A (1250 us of
 * work) runs alone; B joins at b and both go at half speed. With 500 us B needs 1000 us:
 * A's event, pending at 1250, is kept when B is done no earlier (b = 250, 251) and
 * replaced by an earlier one when B is done 1 us before it (b = 249); A gets 500 us in
 * B's 1000 and ends at 1750. B with no work ends as it starts, not at A's event. */
typedef struct kept_row {
    const char *name;
    const char *image_ms; /* the image stage at 1 and 2 megapixels */
    float a_mp, b_mp;
    int64_t b_arrival_us;
    int64_t want_b_end_us, want_a_end_us;
} kept_row;

static void test_kept_completion_event(void **state)
{
    (void)state;
    static const kept_row rows[] = {
        {"B done with A's pending event", "1 2", 1.25f, 0.5f, 250, 1250, 1750},
        {"B done 1 us before A's pending event", "1 2", 1.25f, 0.5f, 249, 1249, 1750},
        {"B done 1 us after A's pending event", "1 2", 1.25f, 0.5f, 251, 1251, 1750},
        {"B with no work", "0 2", 1.625f, 1.0f, 100, 100, 1250},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        const kept_row *k = &rows[i];
        char text[400];
        snprintf(text, sizeof(text),
                 "format gpenlab-profile 1\ncard \"t\"\nprovenance seed\nmp_grid 1 2\n"
                 "stage work image %s\njitter none\neff 1 1\ngpu_mem_mib 1000\n"
                 "model_mem_mib 1\nreq_mem_mib 0\ncold_phase start const 0\n",
                 k->image_ms);
        gpu_profile *p = profile_from(text);
        request_spec specs[] = {{.arrival_us = 0, .mp = k->a_mp, .faces = 0},
                                {.arrival_us = k->b_arrival_us, .mp = k->b_mp, .faces = 0}};
        list_ctx lc = {.specs = specs, .n = 2};
        sim_cfg cfg;
        base_cfg(&cfg, p, policy_find("static"), &lc, open_list);
        cfg.cluster.gpus = cfg.cluster.gpus_max = 1;
        cfg.cluster.min_pods = cfg.cluster.max_pods = 1;
        cfg.cluster.concurrency = 2;
        run_summary sum;
        request_log log = {0};
        run_ok(&cfg, &sum, NULL, &log);
        int64_t a_end = tu_row_of(&log, 0)->end_us, b_end = tu_row_of(&log, 1)->end_us;
        if (a_end != k->want_a_end_us || b_end != k->want_b_end_us)
            fail_msg("%s: A ends at %lld, B at %lld; want %lld and %lld", k->name, (long long)a_end,
                     (long long)b_end, (long long)k->want_a_end_us, (long long)k->want_b_end_us);
        request_log_free(&log);
        free(p);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_determinism_byte_identical),
        cmocka_unit_test(test_common_random_numbers_across_policies),
        cmocka_unit_test(test_conservation_with_timeouts),
        cmocka_unit_test(test_cold_start_phases_and_image_cache),
        cmocka_unit_test(test_drain_finishes_work_within_grace),
        cmocka_unit_test(test_drain_past_grace_requeues_or_fails),
        cmocka_unit_test(test_memory_admission_and_rejection),
        cmocka_unit_test(test_policy_sees_scraped_metrics),
        cmocka_unit_test(test_serverless_keep_alive_and_prewarm),
        cmocka_unit_test(test_start_interference),
        cmocka_unit_test(test_profile_start_interference),
        cmocka_unit_test(test_sync_jitter),
        cmocka_unit_test(test_deadline_before_dispatch),
        cmocka_unit_test(test_timeout_in_service_both_ends),
        cmocka_unit_test(test_timeout_none),
        cmocka_unit_test(test_zero_demand),
        cmocka_unit_test(test_kept_completion_event),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
