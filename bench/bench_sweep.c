/* bench_sweep.c: sweep throughput with 1 and 2 worker processes (points per second and
 * runs per second), each into a fresh database: a 12-point grid x 2 replications over a
 * short tidal day (gpen-rule, t4-seed). Prints figures; no pass/fail on time. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/fileio.h"
#include "lab/sweep.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    fputs(text, f);
    return fclose(f);
}

int main(void)
{
    char dir[] = "/tmp/gpenlab-bench-sweep-XXXXXX", prof[PATH_MAX], path[512];
    if (!mkdtemp(dir) || !realpath("gpu/profiles/t4-seed", prof)) {
        fprintf(stderr, "bench_sweep: run from the repository root\n");
        return 1;
    }
    char text[PATH_MAX + 1024];
    snprintf(text, sizeof(text),
             "name: base\nseed: 1\nreplications: 2\nprofile: %s\n"
             "workload: {type: tidal, days: 1, trough_rate_per_s: 0.1, peak_rate_per_s: 1.5,\n"
             "  peaks: [{hour: 10, width_h: 2, rel: 0.8}, {hour: 20, width_h: 2, rel: 1.0}]}\n"
             "cluster: {gpus: 6, min_pods: 1, max_pods: 6, concurrency: 5}\n"
             "policies: [{label: rule, policy: gpen-rule, config: {min_pods: 1, max_pods: 6}}]\n",
             prof);
    snprintf(path, sizeof(path), "%s/base.yaml", dir);
    int rc = write_file(path, text);
    printf("%-8s %8s %8s %10s %12s %10s\n", "workers", "points", "runs", "wall (s)", "points/s",
           "runs/s");
    double base_rate = 0;
    for (int jobs = 1; rc == 0 && jobs <= 2; jobs++) {
        snprintf(text, sizeof(text),
                 "name: b%d\nbase: base.yaml\nreplications: 2\ndb: b%d.db\n"
                 "parameters:\n  - {path: config.scale_up_queue_len, values: [2, 4, 8, 16]}\n"
                 "  - {path: config.scale_up_p95_s, values: [2.5, 3.5, 5]}\n"
                 "objective: {minimise: gpu_hours}\n",
                 jobs, jobs);
        snprintf(path, sizeof(path), "%s/sweep%d.yaml", dir, jobs);
        if ((rc = write_file(path, text)) != 0)
            break;
        sweep *sw = NULL;
        gp_error err;
        gp_error_clear(&err);
        sweep_run_stats st;
        if ((rc = sweep_load(path, &sw, &err)) == 0) {
            double t0 = now_s();
            rc = sweep_run_local(sw, jobs, NULL, &st, &err);
            double wall = now_s() - t0;
            if (rc == 0) {
                double pps = (double)sweep_n_points(sw) / wall;
                printf("%-8d %8zu %8zu %10.2f %12.2f %10.2f%s\n", jobs, sweep_n_points(sw), st.ran,
                       wall, pps, (double)st.ran / wall, jobs == 1 ? "" : "");
                if (jobs == 1)
                    base_rate = pps;
                else if (base_rate > 0)
                    printf("speed-up -j2 / -j1: %.2f (on %ld online cores)\n", pps / base_rate,
                           sysconf(_SC_NPROCESSORS_ONLN));
            }
        }
        if (rc != 0) {
            char line[1200];
            gp_error_format(&err, line, sizeof(line));
            fprintf(stderr, "bench_sweep: %s\n", line);
        }
        sweep_free(sw);
    }
    if (gp_remove_tree(dir, NULL) != 0) /* no shell */
        fprintf(stderr, "bench_sweep: could not remove %s\n", dir);
    return rc == 0 ? 0 : 1;
}
