/* bench_sim.c: simulator throughput and memory on a tidal day, static pods,
 * single-threaded. Prints simulated requests per wall second, events per second and the
 * peak resident memory after a 1-million and a 10-million request day (the baseline in
 * the same run): with per-request logging off, memory must not grow with requests.
 * Targets (issue 2): >= 3 million simulated requests per second. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

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

static long maxrss_kib(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss;
}

static int run_day(const gpu_profile *p, const policy_ops *ops, const cfg_node *pcfg,
                   double scale, int pods, run_summary *sum)
{
    day d;
    tidal_opts_default(&d.t);
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

int main(void)
{
    gpu_profile *p = malloc(sizeof(*p));
    gp_error err;
    if (!p || profile_load("gpu/profiles/t4-seed", p, &err) < 0) {
        fprintf(stderr, "bench_sim: cannot load gpu/profiles/t4-seed (run from the repo root)\n");
        return 1;
    }
    const policy_ops *st = policy_find("static");
    run_summary small, big;
    long rss0 = maxrss_kib();
    if (run_day(p, st, NULL, 0.1, 40, &small))
        return 1;
    long rss_small = maxrss_kib();
    if (run_day(p, st, NULL, 1.0, 400, &big))
        return 1;
    long rss_big = maxrss_kib();
    printf("simulator, static pods, tidal day, single thread (t4-seed profile)\n");
    printf("  %-24s %12s %12s %14s %14s %12s\n", "run", "requests", "wall s", "requests/s",
           "events/s", "peak RSS MiB");
    printf("  %-24s %12llu %12.3f %14.0f %14.0f %12.1f\n", "1 M requests (baseline)",
           (unsigned long long)small.arrived, small.wall_s, small.arrived / small.wall_s,
           small.events / small.wall_s, rss_small / 1024.0);
    printf("  %-24s %12llu %12.3f %14.0f %14.0f %12.1f\n", "10 M requests",
           (unsigned long long)big.arrived, big.wall_s, big.arrived / big.wall_s,
           big.events / big.wall_s, rss_big / 1024.0);
    printf("  memory growth from 1 M to 10 M requests: %.1f MiB (process start %.1f MiB)\n",
           (rss_big - rss_small) / 1024.0, rss0 / 1024.0);
    printf("  latency quantiles from a histogram with relative error <= %.2f%%\n",
           100 * big.quantile_rel_error);
    printf("  target: >= 3,000,000 simulated requests/s: %s\n",
           big.arrived / big.wall_s >= 3e6 ? "met" : "NOT met");

    /* the policy's cost: the same day with an HPA (15 s sync, per-pod metrics over ~400
       pods) and with Knative's KPA (2 s ticks, 60 s windows); target >= 2 M requests/s */
    static const char *const hpa_yaml =
        "minReplicas: 1\nmaxReplicas: 400\nmetrics:\n"
        "- type: Pods\n  pods:\n    metric: {name: DCGM_FI_DEV_GPU_UTIL}\n"
        "    target: {type: AverageValue, averageValue: \"70\"}\n"
        "- type: External\n  external:\n    metric: {name: redis_list_length}\n"
        "    target: {type: AverageValue, averageValue: \"2\"}\n";
    static const char *const kpa_yaml =
        "annotations:\n  autoscaling.knative.dev/target: \"5\"\n"
        "  autoscaling.knative.dev/max-scale: \"400\"\n  autoscaling.knative.dev/min-scale: \"1\"\n"
        "  autoscaling.knative.dev/scale-down-delay: \"5m\"\n";
    static const struct {
        const char *policy, *yaml;
    } pol[] = {{"hpa", NULL}, {"kpa", NULL}};
    const char *yamls[2] = {hpa_yaml, kpa_yaml};
    printf("  %-24s %12s %12s %14s %14s %12s\n", "policy", "requests", "wall s", "requests/s",
           "events/s", "pod starts");
    for (int k = 0; k < 2; k++) {
        const policy_ops *ops = policy_find(pol[k].policy);
        cfg_doc *doc = NULL;
        if (!ops || cfg_load_string(pol[k].policy, yamls[k], strlen(yamls[k]), &doc, &err) < 0) {
            fprintf(stderr, "bench_sim: policy %s unavailable: %s\n", pol[k].policy, err.msg);
            continue;
        }
        run_summary r;
        if (run_day(p, ops, cfg_root(doc), 1.0, 400, &r)) {
            cfg_free(doc);
            return 1;
        }
        printf("  %-24s %12llu %12.3f %14.0f %14.0f %12llu   target >= 2,000,000/s: %s\n",
               pol[k].policy, (unsigned long long)r.arrived, r.wall_s, r.arrived / r.wall_s,
               r.events / r.wall_s, (unsigned long long)r.pod_starts,
               r.arrived / r.wall_s >= 2e6 ? "met" : "NOT met");
        cfg_free(doc);
    }
    free(p);
    return 0;
}
