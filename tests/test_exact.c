/* test_exact.c: gpenlab against an exact reference of its model, request by request.
 * Each case runs a static open-loop system through sim_run with the per-request log on,
 * writes the inputs (pods, concurrency, timeout, eff(n), each request's arrival and exact
 * demand) and gpenlab's rows to a file, and runs tests/exact_ref.py on it: a separate
 * implementation of the model (docs/model.md) in exact integer arithmetic, written apart
 * from sim.c. Every request's start, end, GPU end and outcome must agree.
 * The cases: 100,000 requests each, arrivals on whole seconds (many ties), at concurrency
 * 1 (three pods) and 4 (one pod, processor sharing), with a 4 s timeout at load 1.1 and
 * without timeout at load 0.9. Demands mix round jitter factors (completions that fall
 * exactly on a whole us) with arbitrary ones. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>

#include "base/proc.h"
#include "sim/sim.h"

#define S          1000000LL
#define N_REQUESTS 100000

static const char *const PROFILE =
    "format gpenlab-profile 1\ncard \"exact\"\nprovenance seed\n"
    "mp_grid 1 2 4\n"
    "stage work image 1000 2000 3000\n"
    "stage restore face 500 500 500\n"
    "jitter samples 0.5 0.75 1 1 1.25 2 0.8173 1.3339\n"
    "eff 1 1.5 2.1 2.5\n"
    "gpu_mem_mib 100000\nmodel_mem_mib 1\nreq_mem_mib 0\ncold_phase start const 0\n";

typedef struct list_ctx {
    const request_spec *specs;
    size_t n;
} list_ctx;

static int open_list(void *ctx, uint64_t seed, arrival_src **out, gp_error *err)
{
    (void)seed;
    const list_ctx *c = ctx;
    return trace_open_list(c->specs, c->n, out, err);
}

static const char *outcome_code(uint8_t o)
{
    static const char *const codes[OUTCOMES] = {"C", "T", "R", "I"};
    return o < OUTCOMES ? codes[o] : "?";
}

typedef struct exact_case {
    const char *name;
    int pods, concurrency;
    int64_t timeout_us;
    double load;
    char path[64]; /* the case file */
    gp_proc *ref;  /* the reference running on it (NULL: it did not start) */
    char start_error[512];
    uint64_t timed_out, completed;
} exact_case;

static exact_case cases[] = {
    {.name = "c1-timeout", .pods = 3, .concurrency = 1, .timeout_us = 4 * S, .load = 1.1},
    {.name = "c1-none", .pods = 3, .concurrency = 1, .timeout_us = SIM_TIMEOUT_NONE, .load = 0.9},
    {.name = "c4-timeout", .pods = 1, .concurrency = 4, .timeout_us = 4 * S, .load = 1.1},
    {.name = "c4-none", .pods = 1, .concurrency = 4, .timeout_us = SIM_TIMEOUT_NONE, .load = 0.9},
};
#define N_CASES (sizeof(cases) / sizeof(cases[0]))

/* Runs gpenlab on one case (N_REQUESTS arrivals on whole seconds at `load` of the pods'
 * capacity), writes the case file and starts the reference on it (not waited for: the
 * four references run side by side). */
static void start_case(exact_case *c)
{
    const char *name = c->name;
    int pods = c->pods, concurrency = c->concurrency;
    int64_t timeout_us = c->timeout_us;
    double load = c->load;
    gpu_profile *prof = malloc(sizeof(*prof));
    gp_error err;
    assert_non_null(prof);
    if (profile_parse("exact-profile", PROFILE, prof, &err) < 0)
        fail_msg("profile: %s", err.msg);
    const uint64_t seed = 11;

    /* images first (their demands set the arrival rate), then arrival seconds */
    request_spec *specs = calloc(N_REQUESTS, sizeof(*specs));
    assert_non_null(specs);
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(rng, 20260131);
    double demand_sum_us = 0;
    for (int i = 0; i < N_REQUESTS; i++) {
        /* two thirds on the megapixel grid (round demands), the rest anywhere in [0.5, 4] */
        static const float grid[] = {1, 2, 4};
        specs[i].mp = gsl_rng_uniform(rng) < 2.0 / 3 ? grid[gsl_rng_uniform_int(rng, 3)]
                                                     : (float)(0.5 + 3.5 * gsl_rng_uniform(rng));
        specs[i].faces = (int32_t)gsl_rng_uniform_int(rng, 3);
        demand_sum_us +=
            sim_request_demand_us(prof, seed, (uint64_t)i, specs[i].mp, specs[i].faces);
    }
    double capacity_per_s =
        pods * profile_eff(prof, concurrency) / (demand_sum_us / N_REQUESTS / 1e6);
    double rate_per_s = load * capacity_per_s;
    int i = 0;
    for (int64_t sec = 0; i < N_REQUESTS; sec++) {
        unsigned k = gsl_ran_poisson(rng, rate_per_s);
        for (unsigned j = 0; j < k && i < N_REQUESTS; j++)
            specs[i++].arrival_us = sec * S;
    }
    gsl_rng_free(rng);

    list_ctx lc = {.specs = specs, .n = N_REQUESTS};
    sim_cfg cfg;
    memset(&cfg, 0, sizeof(cfg));
    cluster_cfg_default(&cfg.cluster);
    metrics_cfg_default(&cfg.metrics);
    cfg.cluster.gpus = cfg.cluster.gpus_max = pods;
    cfg.cluster.min_pods = cfg.cluster.max_pods = pods;
    cfg.cluster.concurrency = concurrency;
    cfg.cluster.timeout_us = timeout_us;
    cfg.profile = prof;
    cfg.policy = policy_find("static");
    cfg.seed = seed;
    cfg.open_source = open_list;
    cfg.source_ctx = &lc;
    cfg.record_requests = true;
    run_summary sum;
    request_log log = {0};
    gp_error_clear(&err);
    if (sim_run(&cfg, &sum, NULL, &log, &err) < 0) {
        char buf[800];
        gp_error_format(&err, buf, sizeof(buf));
        fail_msg("%s: sim_run: %s", name, buf);
    }
    assert_int_equal(log.n, N_REQUESTS);
    c->timed_out = sum.timed_out;
    c->completed = sum.completed;

    snprintf(c->path, sizeof(c->path), "/tmp/gpenlab-exact-XXXXXX");
    int fd = mkstemp(c->path);
    assert_true(fd >= 0);
    FILE *f = fdopen(fd, "w");
    assert_non_null(f);
    fprintf(f, "# %s\npods %d\nconcurrency %d\ntimeout_us %lld\neff", name, pods, concurrency,
            (long long)timeout_us);
    for (int n = 1; n <= concurrency; n++)
        fprintf(f, " %a", profile_eff(prof, n));
    fprintf(f, "\n");
    for (size_t r = 0; r < log.n; r++) {
        const request_row *q = &log.row[r];
        const request_spec *sp = &specs[q->id];
        fprintf(f, "r %llu %lld %a %lld %lld %lld %s\n", (unsigned long long)q->id,
                (long long)q->arrival_us,
                sim_request_demand_us(prof, seed, q->id, sp->mp, sp->faces), (long long)q->start_us,
                (long long)q->end_us, (long long)q->gpu_end_us, outcome_code(q->outcome));
    }
    assert_int_equal(fclose(f), 0);
    request_log_free(&log);
    free(specs);
    free(prof);

    gp_error_clear(&err);
    if (gp_proc_start(&(gp_proc_spec){.argv = (const char *const[]){"python3", "tests/exact_ref.py",
                                                                    c->path, NULL},
                                      .out = GP_PROC_CAPTURE,
                                      .err = GP_PROC_STDOUT,
                                      .timeout_ms = 600000},
                      &c->ref, &err) < 0)
        snprintf(c->start_error, sizeof(c->start_error), "%s", err.msg);
}

static int start_all(void **state)
{
    (void)state;
    for (size_t k = 0; k < N_CASES; k++)
        start_case(&cases[k]);
    return 0;
}

/* Waits for the case's reference: every request must agree. */
static void check_case(exact_case *c)
{
    printf("  %s: gpenlab timed out %llu, completed %llu\n", c->name,
           (unsigned long long)c->timed_out, (unsigned long long)c->completed);
    if (!c->ref) {
        unlink(c->path);
        fail_msg("%s: could not run python3 tests/exact_ref.py (%s; scripts/install_deps.sh "
                 "installs python3)",
                 c->name, c->start_error);
    }
    const char *line;
    while ((line = gp_proc_read_line(c->ref, NULL)))
        printf("  %s: %s\n", c->name, line);
    gp_proc_result r;
    gp_proc_wait(c->ref, -1, &r);
    gp_proc_free(c->ref);
    c->ref = NULL;
    unlink(c->path);
    bool agree = gp_proc_ok(&r);
    char how[128];
    gp_proc_describe(&r, how, sizeof(how));
    gp_proc_result_free(&r);
    if (!agree)
        fail_msg("%s: gpenlab and the exact reference disagree (%s; lines above)", c->name, how);
}

static void test_c1_timeout(void **state)
{
    (void)state;
    check_case(&cases[0]);
}

static void test_c1_no_timeout(void **state)
{
    (void)state;
    check_case(&cases[1]);
}

static void test_c4_timeout(void **state)
{
    (void)state;
    check_case(&cases[2]);
}

static void test_c4_no_timeout(void **state)
{
    (void)state;
    check_case(&cases[3]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_c1_timeout),
        cmocka_unit_test(test_c1_no_timeout),
        cmocka_unit_test(test_c4_timeout),
        cmocka_unit_test(test_c4_no_timeout),
    };
    return cmocka_run_group_tests(tests, start_all, NULL);
}
