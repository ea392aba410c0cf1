/* test_queueing.c: the simulator against queueing theory.
 * M/M/c mean wait (Erlang C), M/D/1 mean wait (Pollaczek-Khinchine) and M/M/1-PS mean
 * response time 1/(mu - lambda), each at three loads: the theoretical value must lie in
 * the 95% confidence interval of replicated runs. Service demands are constant in the
 * image size (one constant image stage), so the image mix does not matter. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <gsl/gsl_cdf.h>

#include "sim/sim.h"
#include "tests/testutil.h"

/* eff(n) = 1 for all n: a GPU's total speed does not grow with sharing, which is plain
 * processor sharing of one server (and irrelevant at concurrency 1). */
static gpu_profile *make_profile(double service_ms, const char *jitter)
{
    char text[2048];
    snprintf(text, sizeof(text),
             "format gpenlab-profile 1\ncard \"test\"\nprovenance seed\nmp_grid 1\n"
             "stage work image %g\njitter %s\n%s\ngpu_mem_mib 100000\nmodel_mem_mib 1\n"
             "req_mem_mib 0\ncold_phase start const 0\n",
             service_ms, jitter, "eff 1");
    gpu_profile *p = malloc(sizeof(*p));
    gp_error err;
    assert_non_null(p);
    int rc = profile_parse("test-profile", text, p, &err);
    if (rc < 0)
        fail_msg("profile: %s", err.msg);
    return p;
}

/* Mean response time over `reps` replications; returns mean and 95% half-width. */
static void replicate(const gpu_profile *prof, int pods, int concurrency, double lambda,
                      int64_t duration_us, int reps, double *mean, double *half)
{
    tu_poisson pc = {.rate_per_s = lambda, .duration_us = duration_us};
    image_mix_default(&pc.mix);
    double acc = 0, acc2 = 0;
    for (int r = 0; r < reps; r++) {
        sim_cfg cfg;
        memset(&cfg, 0, sizeof(cfg));
        cluster_cfg_default(&cfg.cluster);
        cfg.cluster.gpus = cfg.cluster.gpus_max = pods;
        cfg.cluster.min_pods = cfg.cluster.max_pods = pods;
        cfg.cluster.concurrency = concurrency;
        cfg.cluster.timeout_us = 100000LL * 1000000; /* no timeouts */
        metrics_cfg_default(&cfg.metrics);
        cfg.profile = prof;
        cfg.policy = policy_find("static");
        cfg.seed = 1000 + (uint64_t)r;
        cfg.replication = r;
        cfg.open_source = tu_open_poisson;
        cfg.source_ctx = &pc;
        run_summary sum;
        gp_error err;
        int rc = sim_run(&cfg, &sum, NULL, NULL, &err);
        if (rc < 0)
            fail_msg("sim_run: %s", err.msg);
        assert_int_equal(sum.arrived,
                         sum.completed + sum.timed_out + sum.rejected + sum.in_flight_end);
        assert_int_equal(sum.timed_out, 0);
        acc += sum.lat_mean_s;
        acc2 += sum.lat_mean_s * sum.lat_mean_s;
    }
    *mean = acc / reps;
    double var = (acc2 - reps * *mean * *mean) / (reps - 1);
    *half = gsl_cdf_tdist_Pinv(0.975, reps - 1) * sqrt(var > 0 ? var / reps : 0);
}

static double erlang_c_wait(int c, double lambda, double mu)
{
    double a = lambda / mu, rho = a / c;
    double term = 1, sum = 1; /* k = 0 */
    for (int k = 1; k < c; k++) {
        term *= a / k;
        sum += term;
    }
    double last = term * a / c / (1 - rho); /* a^c / c! / (1 - rho) */
    double pw = last / (sum + last);
    return pw / (c * mu - lambda);
}

static void check(const char *name, double theory, double mean, double half)
{
    printf("  %-28s theory %.4f s  sim %.4f +- %.4f s\n", name, theory, mean, half);
    if (fabs(theory - mean) > half)
        fail_msg("%s: theory %.5f outside the 95%% CI %.5f +- %.5f", name, theory, mean, half);
}

static void test_mmc_erlang_c(void **state)
{
    (void)state;
    const int c = 3;
    const double service_s = 1.0, mu = 1.0 / service_s;
    gpu_profile *p = make_profile(service_s * 1000, "exponential");
    static const double loads[] = {0.5, 0.7, 0.85};
    for (size_t i = 0; i < 3; i++) {
        double lambda = loads[i] * c * mu;
        double mean, half;
        replicate(p, c, 1, lambda, 40000LL * 1000000, 20, &mean, &half);
        char name[64];
        snprintf(name, sizeof(name), "M/M/3 rho=%.2f", loads[i]);
        check(name, erlang_c_wait(c, lambda, mu) + service_s, mean, half);
    }
    free(p);
}

static void test_md1_pollaczek_khinchine(void **state)
{
    (void)state;
    const double service_s = 0.5, mu = 1.0 / service_s;
    gpu_profile *p = make_profile(service_s * 1000, "none");
    static const double loads[] = {0.5, 0.7, 0.85};
    for (size_t i = 0; i < 3; i++) {
        double rho = loads[i], lambda = rho * mu;
        double wq = rho * service_s / (2 * (1 - rho)); /* P-K with zero service variance */
        double mean, half;
        replicate(p, 1, 1, lambda, 20000LL * 1000000, 20, &mean, &half);
        char name[64];
        snprintf(name, sizeof(name), "M/D/1 rho=%.2f", rho);
        check(name, wq + service_s, mean, half);
    }
    free(p);
}

static void test_mm1_processor_sharing(void **state)
{
    (void)state;
    const double service_s = 1.0, mu = 1.0;
    /* one GPU whose total speed stays 1 however many share it: eff(n) = 1 */
    gpu_profile *p = make_profile(service_s * 1000, "exponential");
    static const double loads[] = {0.3, 0.5, 0.7};
    for (size_t i = 0; i < 3; i++) {
        double lambda = loads[i] * mu;
        double mean, half;
        replicate(p, 1, 10000, lambda, 40000LL * 1000000, 20, &mean, &half);
        char name[64];
        snprintf(name, sizeof(name), "M/M/1-PS rho=%.2f", loads[i]);
        check(name, 1.0 / (mu - lambda), mean, half);
    }
    free(p);
}

/* Closed loop: N users with exponential think time Z against one exponential server:
 * exact mean response time by mean value analysis (MVA). */
static double mva_response(int users, double service_s, double think_s)
{
    double q = 0, r = 0;
    for (int n = 1; n <= users; n++) {
        r = service_s * (1 + q);
        double x = n / (r + think_s);
        q = x * r;
    }
    return r;
}

static void test_closed_loop_mva(void **state)
{
    (void)state;
    gpu_profile *p = make_profile(1000, "exponential");
    static const int users[] = {2, 5, 8};
    for (size_t i = 0; i < 3; i++) {
        double acc = 0, acc2 = 0;
        const int reps = 20;
        for (int r = 0; r < reps; r++) {
            sim_cfg cfg;
            memset(&cfg, 0, sizeof(cfg));
            cluster_cfg_default(&cfg.cluster);
            cfg.cluster.gpus = cfg.cluster.gpus_max = 1;
            cfg.cluster.min_pods = cfg.cluster.max_pods = 1;
            cfg.cluster.concurrency = 1;
            cfg.cluster.timeout_us = 100000LL * 1000000;
            metrics_cfg_default(&cfg.metrics);
            cfg.profile = p;
            cfg.policy = policy_find("static");
            cfg.seed = 500 + (uint64_t)r;
            cfg.closed_loop = true;
            cfg.closed.users = users[i];
            cfg.closed.think_mean_us = 4 * 1000000LL;
            cfg.closed.duration_us = 20000LL * 1000000;
            image_mix_default(&cfg.closed.mix);
            run_summary sum;
            gp_error err;
            if (sim_run(&cfg, &sum, NULL, NULL, &err) < 0)
                fail_msg("sim_run: %s", err.msg);
            acc += sum.lat_mean_s;
            acc2 += sum.lat_mean_s * sum.lat_mean_s;
        }
        double mean = acc / reps, var = (acc2 - reps * mean * mean) / (reps - 1);
        double half = gsl_cdf_tdist_Pinv(0.975, reps - 1) * sqrt(var / reps);
        char name[64];
        snprintf(name, sizeof(name), "closed N=%d Z=4 (MVA)", users[i]);
        check(name, mva_response(users[i], 1.0, 4.0), mean, half);
    }
    free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mmc_erlang_c),
        cmocka_unit_test(test_md1_pollaczek_khinchine),
        cmocka_unit_test(test_mm1_processor_sharing),
        cmocka_unit_test(test_closed_loop_mva),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
