/* bench_sim.c: simulator throughput and memory on a generated tidal day (t4-seed profile,
 * concurrency 5, single thread): a static 1 M-request day on 40 pods (the baseline), ten
 * such days, the 10 M-request day on 400 static pods, and the same 10 M-request day under
 * an HPA and under Knative's KPA; each figure the median of 3 runs with the minimum and
 * the load at the start. Peak memory: each run in a child process, its peak RSS; one day
 * and ten days of the same traffic on the same pods (10 times the requests, the same
 * number waiting or served at once) must need the same memory (per-request logging off).
 * Targets (issue 16): >= 10 M simulated requests/s on the static 10 M day, >= 6 M with
 * HPA and with KPA, memory flat in the number of requests. BENCH_SMALL=1 (CI): the days
 * at 1 M requests on 40 pods, the memory pair 100 k / 1 M (the targets say so).
 * `bench_sim --one POLICY SCALE DAYS PODS` runs one such day and prints its summary. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench/bench_common.h"
#include "sim/sim.h"

typedef struct day {
    tidal_opts t;
} day;

static int open_day(void *ctx, uint64_t seed, arrival_src **out, gp_error *err)
{
    day *d = ctx;
    d->t.seed = seed;
    return trace_open_tidal(&d->t, out, err);
}

static int run_day(const gpu_profile *p, const policy_ops *ops, const cfg_node *pcfg, double scale,
                   int days, int pods, run_summary *sum)
{
    day d;
    tidal_opts_default(&d.t);
    d.t.days = days;
    d.t.trough_rate_per_s = 40.0 * scale; /* with peaks 0.8 and 1.0 of 2 h: ~10 M a day */
    d.t.peak_rate_per_s = 240.0 * scale;
    sim_cfg cfg;
    memset(&cfg, 0, sizeof(cfg));
    cluster_cfg_default(&cfg.cluster);
    metrics_cfg_default(&cfg.metrics);
    cfg.cluster.gpus = cfg.cluster.gpus_max = pods;
    cfg.cluster.min_pods = 0;
    cfg.cluster.max_pods = pods;
    cfg.cluster.concurrency = 5;
    cfg.profile = p;
    cfg.policy = ops;
    cfg.policy_cfg = pcfg;
    cfg.seed = 42;
    cfg.open_source = open_day;
    cfg.source_ctx = &d;
    gp_error err;
    if (sim_run(&cfg, sum, NULL, NULL, &err) < 0) {
        char buf[900];
        gp_error_format(&err, buf, sizeof(buf));
        fprintf(stderr, "bench_sim: %s\n", buf);
        return 1;
    }
    return 0;
}

static const char *const HPA_YAML =
    "minReplicas: 1\nmaxReplicas: 400\nmetrics:\n"
    "- type: Pods\n  pods:\n    metric: {name: DCGM_FI_DEV_GPU_UTIL}\n"
    "    target: {type: AverageValue, averageValue: \"70\"}\n"
    "- type: External\n  external:\n    metric: {name: redis_list_length}\n"
    "    target: {type: AverageValue, averageValue: \"2\"}\n";
static const char *const KPA_YAML =
    "annotations:\n  autoscaling.knative.dev/target: \"5\"\n"
    "  autoscaling.knative.dev/max-scale: \"400\"\n  autoscaling.knative.dev/min-scale: \"1\"\n"
    "  autoscaling.knative.dev/scale-down-delay: \"5m\"\n";

typedef struct one_run {
    run_summary sum;
    long maxrss_kib;
    int ok;
} one_run;

/* One day in a child process (its own peak RSS); the summary comes back through a pipe. */
static one_run run_in_child(const gpu_profile *p, const char *policy, const char *yaml,
                            double scale, int days, int pods)
{
    one_run r;
    memset(&r, 0, sizeof(r));
    int fd[2];
    if (pipe(fd) < 0)
        return r;
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0)
        return r;
    if (pid == 0) {
        close(fd[0]);
        const policy_ops *ops = policy_find(policy);
        cfg_doc *doc = NULL;
        gp_error err;
        if (!ops || (yaml && cfg_load_string(policy, yaml, strlen(yaml), &doc, &err) < 0))
            _exit(2);
        run_summary sum;
        int rc = run_day(p, ops, doc ? cfg_root(doc) : NULL, scale, days, pods, &sum);
        cfg_free(doc);
        if (rc == 0 && write(fd[1], &sum, sizeof(sum)) != (ssize_t)sizeof(sum))
            rc = 1;
        _exit(rc);
    }
    close(fd[1]);
    ssize_t got = read(fd[0], &r.sum, sizeof(r.sum));
    close(fd[0]);
    int status = 0;
    struct rusage ru;
    while (wait4(pid, &status, 0, &ru) < 0 && errno == EINTR)
        ;
    r.maxrss_kib = ru.ru_maxrss;
    r.ok = got == (ssize_t)sizeof(r.sum) && WIFEXITED(status) && WEXITSTATUS(status) == 0;
    return r;
}

typedef struct row {
    const char *name, *policy, *yaml;
    double scale;
    int days; /* 0: one */
    int pods;
    double target_per_s; /* 0: none */
    bench_fig wall;
    one_run last;
    long rss_max_kib;
} row;

/* `bench_sim --one POLICY SCALE DAYS PODS`: one run of the bench's day in this process,
 * its summary printed, for a profiler or valgrind's instruction counts
 * (docs/performance.md: scale 1 is the 10 M-request day, 0.01 the 100 k one). */
static int run_one(const gpu_profile *p, char **argv)
{
    const char *policy = argv[0];
    const char *yaml = strcmp(policy, "hpa") == 0   ? HPA_YAML
                       : strcmp(policy, "kpa") == 0 ? KPA_YAML
                                                    : NULL;
    char *end;
    double scale = strtod(argv[1], &end);
    long days = strtol(argv[2], NULL, 10), pods = strtol(argv[3], NULL, 10);
    const policy_ops *ops = policy_find(policy);
    if (!ops || *end || !(scale > 0) || days < 1 || days > 365 || pods < 1 || pods > 100000) {
        fprintf(stderr, "bench_sim --one: static|hpa|kpa SCALE>0 DAYS(1..365) PODS(1..100000)\n");
        return 2;
    }
    cfg_doc *doc = NULL;
    gp_error err;
    if (yaml && cfg_load_string(policy, yaml, strlen(yaml), &doc, &err) < 0)
        return 1;
    run_summary sum;
    int rc = run_day(p, ops, doc ? cfg_root(doc) : NULL, scale, (int)days, (int)pods, &sum);
    cfg_free(doc);
    if (rc == 0)
        printf("%s: %llu requests, %llu events in %.3f s (%.2f M requests/s); mean %.9f s, "
               "P99 %.6f s, %.9f GPU-hours\n",
               policy, (unsigned long long)sum.arrived, (unsigned long long)sum.events, sum.wall_s,
               (double)sum.arrived / sum.wall_s / 1e6, sum.lat_mean_s, sum.lat_p99_s,
               sum.gpu_seconds / 3600);
    return rc;
}

int main(int argc, char **argv)
{
    gpu_profile *p = malloc(sizeof(*p));
    gp_error err;
    if (!p || profile_load("gpu/profiles/t4-seed", p, &err) < 0) {
        fprintf(stderr, "bench_sim: cannot load gpu/profiles/t4-seed (run from the repo root)\n");
        return 1;
    }
    if (argc == 6 && strcmp(argv[1], "--one") == 0)
        return run_one(p, argv + 2);
    bool small = bench_small();
    double big = small ? 0.1 : 1.0;
    int big_pods = small ? 40 : 400;
    /* the memory pair (rows 0 and 1): the same traffic on the same pods for one day and for
       ten, so 10 times the requests with as many live at once (a day at 10 times the rate
       on the same pods keeps more requests waiting at its peak: that memory follows the
       load, not the count) */
    row rows[] = {
        {.name = small ? "static, 100 k requests, 40 pods" : "static, 1 M requests, 40 pods",
         .policy = "static",
         .scale = big / 10,
         .pods = 40},
        {.name = small ? "static, 1 M requests, 40 pods, 10 days"
                       : "static, 10 M requests, 40 pods, 10 days",
         .policy = "static",
         .scale = big / 10,
         .days = 10,
         .pods = 40},
        {.name = small ? "static, 1 M requests, 40 pods" : "static, 10 M requests, 400 pods",
         .policy = "static",
         .scale = big,
         .pods = big_pods,
         .target_per_s = 10e6},
        {.name = small ? "hpa, 1 M requests" : "hpa, 10 M requests",
         .policy = "hpa",
         .yaml = HPA_YAML,
         .scale = big,
         .pods = big_pods,
         .target_per_s = 6e6},
        {.name = small ? "kpa, 1 M requests" : "kpa, 10 M requests",
         .policy = "kpa",
         .yaml = KPA_YAML,
         .scale = big,
         .pods = big_pods,
         .target_per_s = 6e6},
    };
    size_t n_rows = sizeof(rows) / sizeof(rows[0]);
    printf("simulator, tidal day, t4-seed profile, concurrency 5, single thread%s\n",
           small ? " (BENCH_SMALL: the days at 1 M requests, 40 pods)" : "");
    printf("  %-40s %11s %10s %10s %12s %12s %10s\n", "run", "requests", "wall s", "min s",
           "requests/s", "events/s", "peak MiB");
    for (size_t i = 0; i < n_rows; i++) {
        row *r = &rows[i];
        for (int k = 0; k < BENCH_RUNS; k++) {
            bench_fig_start(&r->wall);
            one_run o =
                run_in_child(p, r->policy, r->yaml, r->scale, r->days > 0 ? r->days : 1, r->pods);
            if (!o.ok) {
                fprintf(stderr, "bench_sim: run '%s' failed\n", r->name);
                return 1;
            }
            bench_fig_add(&r->wall, o.sum.wall_s);
            if (o.maxrss_kib > r->rss_max_kib)
                r->rss_max_kib = o.maxrss_kib;
            r->last = o;
        }
        double med = bench_median(&r->wall);
        printf("  %-40s %11llu %10.3f %10.3f %12.0f %12.0f %10.1f   (load at start %.2f)\n",
               r->name, (unsigned long long)r->last.sum.arrived, med, bench_min(&r->wall),
               (double)r->last.sum.arrived / med, (double)r->last.sum.events / med,
               (double)r->rss_max_kib / 1024.0, r->wall.load);
    }
    char fig[200];
    for (size_t i = 0; i < n_rows; i++) {
        row *r = &rows[i];
        if (r->target_per_s <= 0)
            continue;
        double per_s = (double)r->last.sum.arrived / bench_median(&r->wall);
        snprintf(fig, sizeof(fig), "%.2f M/s on %.2f M requests", per_s / 1e6,
                 (double)r->last.sum.arrived / 1e6);
        char what[160];
        snprintf(what, sizeof(what), ">= %.0f M simulated requests/s, %s", r->target_per_s / 1e6,
                 r->name);
        bench_target(what, fig, per_s >= r->target_per_s);
    }
    /* memory: the same traffic and pods, 10 times the requests */
    const row *lo = &rows[0], *hi = &rows[1];
    long grow_kib = hi->rss_max_kib - lo->rss_max_kib;
    snprintf(fig, sizeof(fig),
             "peak RSS %.1f MiB at %.2f M requests, %.1f MiB at %.2f M (%+.1f MiB)",
             (double)lo->rss_max_kib / 1024.0, (double)lo->last.sum.arrived / 1e6,
             (double)hi->rss_max_kib / 1024.0, (double)hi->last.sum.arrived / 1e6,
             (double)grow_kib / 1024.0);
    /* flat: under 1 MiB more for 10 times the requests (allocator noise, histogram buckets) */
    bench_target("peak memory flat in the number of requests", fig, grow_kib < 1024);
    printf("  latency quantiles from a histogram with relative error <= %.2f%%\n",
           100 * hi->last.sum.quantile_rel_error);
    free(p);
    return 0;
}
