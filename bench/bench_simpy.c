/* bench_simpy.c: gpenlab side by side with the same model in SimPy (bench/simpy_model.py,
 * Debian's python3-simpy3), on the same generated trace: 1,000,000 requests (100,000
 * with BENCH_SMALL=1), Poisson arrivals on 8 static pods at load 0.8, lognormal demands
 * (mean 1.8 s, CV 1), concurrency 1, no timeout.
 * It checks that both give every request the same start and end, then prints, each as
 * the median of 3 runs with the minimum and the load at the start:
 *  - whole-process wall time: `gpenlab run` on the experiment (the trace read from CSV,
 *    the run, its row in SQLite) and `python3 simpy_model.py` (read, run);
 *  - loop time: gpenlab's sim_run on the trace already in memory, and SimPy's env.run();
 *  - trace reading: the CSV trace into memory through gpenlab's reader, rows per second;
 *  - a lower bound: the engine's event set alone (engine.h: pop one event, push one,
 *    no model) for as many events as the run handled;
 * and the targets: SimPy / gpenlab >= 100 in whole-process time, reading >= 20 M rows/s.
 * Run from the repository root (make bench); writes its files under BUILD/bench/. */
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>

#include "base/proc.h"
#include "bench/bench_common.h"
#include "sim/engine.h"
#include "sim/sim.h"

#define PODS          8
#define LOAD          0.8
#define MEAN_DEMAND_S 1.8
#define DEMAND_CV     1.0
#define SIMPY_PYTHON  "/usr/bin/python3" /* Debian's, where python3-simpy3 installs */

static const char *const PROFILE =
    "format gpenlab-profile 1\ncard \"bench\"\nprovenance seed\n"
    "source \"bench_simpy: demand 1000 ms per megapixel, no jitter\"\n"
    "mp_grid 1 2\nstage work image 1000 2000\njitter none\neff 1\n"
    "gpu_mem_mib 100000\nmodel_mem_mib 1\nreq_mem_mib 0\ncold_phase start const 0\n";

static void die(const char *what)
{
    fprintf(stderr, "bench_simpy: %s\n", what);
    exit(1);
}

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (!f || fputs(text, f) < 0 || fclose(f) != 0)
        die(path);
}

/* Poisson arrivals at LOAD x PODS / MEAN_DEMAND_S per second, the first at 0; mp
 * lognormal with mean MEAN_DEMAND_S (the profile gives 1 s per megapixel), written as
 * the float32 gpenlab will read. */
static void write_trace(const char *path, long n)
{
    FILE *f = fopen(path, "w");
    if (!f)
        die(path);
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(r, 20261207);
    double rate_per_s = LOAD * PODS / MEAN_DEMAND_S;
    double s2 = log1p(DEMAND_CV * DEMAND_CV);
    double mu = log(MEAN_DEMAND_S) - 0.5 * s2;
    int64_t t_us = 0;
    fprintf(f, "t_us,mp,faces\n");
    for (long i = 0; i < n; i++) {
        if (i > 0)
            t_us += llround(gsl_ran_exponential(r, 1e6 / rate_per_s));
        float mp = (float)gsl_ran_lognormal(r, mu, sqrt(s2));
        if (mp < 1e-3f)
            mp = 1e-3f;
        fprintf(f, "%lld,%.9g,0\n", (long long)t_us, (double)mp);
    }
    gsl_rng_free(r);
    if (fclose(f) != 0)
        die(path);
}

/* Runs argv (no shell), stdout to out_path (NULL: inherited); returns its wall time. */
static double run_process(const char *const argv[], const char *out_path)
{
    double t0 = bench_now_s();
    gp_proc_result r;
    gp_error err;
    if (gp_proc_run(&(gp_proc_spec){.argv = argv,
                                    .out = out_path ? GP_PROC_FILE : GP_PROC_INHERIT,
                                    .out_path = out_path,
                                    .err = GP_PROC_INHERIT},
                    &r, &err) < 0)
        die(err.msg);
    double t = bench_now_s() - t0;
    if (!gp_proc_ok(&r)) {
        char how[128];
        gp_proc_describe(&r, how, sizeof(how));
        fprintf(stderr, "bench_simpy: %s: %s\n", argv[0], how);
        exit(1);
    }
    return t;
}

/* Whether argv runs and exits 0 (its output dropped). */
static bool runs_ok(const char *const argv[])
{
    gp_proc_result r;
    gp_error err;
    return gp_proc_run(&(gp_proc_spec){.argv = argv}, &r, &err) == 0 && gp_proc_ok(&r);
}

static void remove_db(const char *db)
{
    char p[1100];
    unlink(db);
    snprintf(p, sizeof(p), "%s-wal", db);
    unlink(p);
    snprintf(p, sizeof(p), "%s-shm", db);
    unlink(p);
}

/* The trace through gpenlab's CSV reader into memory. */
static request_spec *read_trace(const char *path, size_t *n_out)
{
    trace_csv_opts o;
    memset(&o, 0, sizeof(o));
    o.path = path;
    o.time_col = "t_us";
    o.time_unit = TRACE_TIME_US;
    o.mp_col = "mp";
    o.faces_col = "faces";
    o.time_scale = 1;
    o.rate_scale = 1;
    arrival_src *src = NULL;
    gp_error err;
    if (trace_open_csv(&o, &src, &err) < 0)
        die(err.msg);
    size_t n = 0, cap = 1024;
    request_spec *v = malloc(cap * sizeof(*v));
    request_spec one;
    int rc;
    while (v && (rc = arrival_src_next(src, &one, &err)) == 1) {
        if (n == cap) {
            cap *= 2;
            request_spec *g = realloc(v, cap * sizeof(*v));
            if (!g)
                die("out of memory");
            v = g;
        }
        v[n++] = one;
    }
    if (!v || rc < 0)
        die("reading the trace");
    arrival_src_free(src);
    *n_out = n;
    return v;
}

typedef struct list_ctx {
    const request_spec *v;
    size_t n;
} list_ctx;

static int open_list(void *ctx, uint64_t seed, arrival_src **out, gp_error *err)
{
    (void)seed;
    const list_ctx *c = ctx;
    return trace_open_list(c->v, c->n, out, err);
}

static void run_in_memory(const gpu_profile *prof, list_ctx *lc, run_summary *sum, request_log *log)
{
    sim_cfg cfg;
    memset(&cfg, 0, sizeof(cfg));
    cluster_cfg_default(&cfg.cluster);
    metrics_cfg_default(&cfg.metrics);
    cfg.cluster.gpus = cfg.cluster.gpus_max = PODS;
    cfg.cluster.min_pods = cfg.cluster.max_pods = PODS;
    cfg.cluster.concurrency = 1;
    cfg.cluster.timeout_us = SIM_TIMEOUT_NONE;
    cfg.profile = prof;
    cfg.policy = policy_find("static");
    cfg.seed = 1;
    cfg.open_source = open_list;
    cfg.source_ctx = lc;
    cfg.record_requests = log != NULL;
    gp_error err;
    if (sim_run(&cfg, sum, NULL, log, &err) < 0)
        die(err.msg);
}

static int cmp_row_id(const void *a, const void *b)
{
    const request_row *x = a, *y = b;
    return x->id < y->id ? -1 : x->id > y->id;
}

/* The engine alone: `pending` events in the set, then n_events times pop one and push
 * one a pseudo-random 1 us .. 2 s later. */
static double lower_bound_s(uint64_t n_events, uint32_t pending)
{
    engine e;
    if (engine_init(&e, 1024) < 0)
        die("out of memory");
    uint64_t x = 0x9E3779B97F4A7C15ULL;
    for (uint32_t i = 0; i < pending; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        if (engine_schedule(&e, (int64_t)(x % 2000000), 0, 0, i, 0) < 0)
            die("engine");
    }
    double t0 = bench_now_s();
    sim_event ev;
    for (uint64_t k = 0; k < n_events && engine_pop(&e, &ev); k++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        if (engine_schedule(&e, ev.t_us + 1 + (int64_t)(x % 2000000), ev.prio, ev.kind, ev.obj, 0) <
            0)
            die("engine");
    }
    double t = bench_now_s() - t0;
    engine_free(&e);
    return t;
}

int main(int argc, char **argv)
{
    /* files beside the binary (BUILD/bench), or in the directory given */
    char dir[512];
    snprintf(dir, sizeof(dir), "%s", argc > 1 ? argv[1] : argv[0]);
    if (argc <= 1) {
        char *slash = strrchr(dir, '/');
        if (slash)
            *slash = '\0';
        else
            snprintf(dir, sizeof(dir), ".");
    }
    long n = bench_small() ? 100000 : 1000000;
    char trace[600], prof_path[600], yaml[600], db[600], simpy_out[600], gp_out[600],
        stdout_path[600];
    snprintf(trace, sizeof(trace), "%s/simpy_trace_%ld.csv", dir, n);
    snprintf(prof_path, sizeof(prof_path), "%s/simpy_profile", dir);
    snprintf(yaml, sizeof(yaml), "%s/simpy_%ld.yaml", dir, n);
    /* the database on tmpfs where there is one: SimPy writes none, and a disk's fsync
       (synchronous=FULL) would time the disk, not the simulator */
    if (access("/dev/shm", W_OK) == 0)
        snprintf(db, sizeof(db), "/dev/shm/gpenlab-bench-simpy-%d.db", (int)getpid());
    else
        snprintf(db, sizeof(db), "%s/simpy_run.db", dir);
    snprintf(simpy_out, sizeof(simpy_out), "%s/simpy_requests_simpy.csv", dir);
    snprintf(gp_out, sizeof(gp_out), "%s/simpy_requests_gpenlab.csv", dir);
    snprintf(stdout_path, sizeof(stdout_path), "%s/simpy_stdout.txt", dir);
    if (!runs_ok((const char *const[]){SIMPY_PYTHON, "-c", "import simpy", NULL}))
        die(SIMPY_PYTHON " with SimPy is missing: scripts/install_deps.sh installs python3-simpy3");
    write_trace(trace, n);
    write_text(prof_path, PROFILE);
    char text[1500];
    snprintf(text, sizeof(text),
             "name: bench_simpy\nseed: 1\nreplications: 1\nprofile: simpy_profile\n"
             "workload: {type: trace, path: simpy_trace_%ld.csv, time_column: t_us, "
             "time_unit: us, mp_column: mp, faces_column: faces}\n"
             "cluster: {gpus: %d, gpus_max: %d, min_pods: %d, max_pods: %d, concurrency: 1, "
             "timeout: none}\n"
             "policies:\n  - {label: static-%d, policy: static, config: {pods: %d}}\n"
             "output: {series: false}\n",
             n, PODS, PODS, PODS, PODS, PODS, PODS);
    write_text(yaml, text);

    gpu_profile *prof = malloc(sizeof(*prof));
    gp_error err;
    if (!prof || profile_load(prof_path, prof, &err) < 0)
        die("the benchmark profile does not load");

    printf("gpenlab and SimPy %s, the same static model on the same trace: %ld requests,\n"
           "%d pods at load %.1f, lognormal demands (mean %.1f s, CV %.0f), concurrency 1, "
           "no timeout%s\n",
           "3.0", n, PODS, LOAD, MEAN_DEMAND_S, DEMAND_CV, bench_small() ? " (BENCH_SMALL)" : "");

    /* per-request identity, on one run of each */
    size_t n_rows = 0;
    request_spec *rows = read_trace(trace, &n_rows);
    list_ctx lc = {rows, n_rows};
    run_summary sum;
    request_log log = {0};
    run_in_memory(prof, &lc, &sum, &log);
    qsort(log.row, log.n, sizeof(log.row[0]), cmp_row_id);
    FILE *g = fopen(gp_out, "w");
    if (!g)
        die(gp_out);
    fprintf(g, "id,arrival_us,start_us,end_us\n");
    for (size_t i = 0; i < log.n; i++)
        fprintf(g, "%llu,%lld,%lld,%lld\n", (unsigned long long)log.row[i].id,
                (long long)log.row[i].arrival_us, (long long)log.row[i].start_us,
                (long long)log.row[i].end_us);
    if (fclose(g) != 0)
        die(gp_out);
    request_log_free(&log);
    const char *simpy_argv[] = {
        SIMPY_PYTHON, "bench/simpy_model.py", trace, "8", "1", "2", "1000", "2000", simpy_out,
        NULL};
    run_process(simpy_argv, "/dev/null");
    bool same = runs_ok((const char *const[]){"cmp", "-s", gp_out, simpy_out, NULL});
    printf("  per-request start and end, gpenlab vs SimPy: %s (%zu requests, %llu completed)\n",
           same ? "identical" : "DIFFERENT", log.n ? log.n : n_rows,
           (unsigned long long)sum.completed);
    if (!same) {
        fprintf(stderr, "bench_simpy: the outputs differ: diff %s %s\n", gp_out, simpy_out);
        return 1;
    }

    /* whole process, 3 runs each */
    bench_fig gp_whole = {0}, py_whole = {0}, py_loop = {0}, gp_loop = {0}, gp_read = {0}, lb = {0};
    const char *gp_argv[] = {"./gpenlab", "run", yaml, "--db", db, "--quiet", NULL};
    for (int k = 0; k < BENCH_RUNS; k++) {
        remove_db(db);
        bench_fig_start(&gp_whole);
        bench_fig_add(&gp_whole, run_process(gp_argv, "/dev/null"));
    }
    remove_db(db);
    const char *py_argv[] = {
        SIMPY_PYTHON, "bench/simpy_model.py", trace, "8", "1", "2", "1000", "2000", NULL};
    for (int k = 0; k < BENCH_RUNS; k++) {
        bench_fig_start(&py_whole);
        bench_fig_start(&py_loop);
        bench_fig_add(&py_whole, run_process(py_argv, stdout_path));
        FILE *f = fopen(stdout_path, "r");
        double loop_s = 0, read_s = 0;
        long got = 0;
        if (!f ||
            fscanf(f, "simpy requests %ld read_s %lf loop_s %lf", &got, &read_s, &loop_s) != 3)
            die("no figures from simpy_model.py");
        fclose(f);
        bench_fig_add(&py_loop, loop_s);
    }

    /* in memory: reading, the loop, the lower bound */
    for (int k = 0; k < BENCH_RUNS; k++) {
        bench_fig_start(&gp_read);
        double t0 = bench_now_s();
        size_t m = 0;
        request_spec *again = read_trace(trace, &m);
        bench_fig_add(&gp_read, bench_now_s() - t0);
        free(again);
    }
    for (int k = 0; k < BENCH_RUNS; k++) {
        bench_fig_start(&gp_loop);
        double t0 = bench_now_s();
        run_in_memory(prof, &lc, &sum, NULL);
        bench_fig_add(&gp_loop, bench_now_s() - t0);
    }
    for (int k = 0; k < BENCH_RUNS; k++) {
        bench_fig_start(&lb);
        bench_fig_add(&lb, lower_bound_s(sum.events, PODS + 4));
    }

    printf("  (gpenlab run writes its database to %s)\n", db);
    bench_print_time("gpenlab, whole process (gpenlab run)", &gp_whole);
    bench_print_time("SimPy, whole process (python3 simpy_model.py)", &py_whole);
    bench_print_time("gpenlab, loop (sim_run, trace in memory)", &gp_loop);
    bench_print_time("SimPy, loop (env.run)", &py_loop);
    bench_print_time("gpenlab, reading the CSV trace", &gp_read);
    bench_print_time("lower bound: the event set alone", &lb);
    double whole_ratio = bench_median(&py_whole) / bench_median(&gp_whole);
    double loop_ratio = bench_median(&py_loop) / bench_median(&gp_loop);
    double rows_per_s = (double)n_rows / bench_median(&gp_read);
    printf("  SimPy / gpenlab: %.1fx whole process, %.1fx loop\n", whole_ratio, loop_ratio);
    printf(
        "  gpenlab: %.2f M requests/s in the loop, %llu events (%.2f M events/s); the event\n"
        "  set alone pops and pushes them in %.4f s (%.1f M events/s): the loop takes %.1fx that\n",
        (double)n_rows / bench_median(&gp_loop) / 1e6, (unsigned long long)sum.events,
        (double)sum.events / bench_median(&gp_loop) / 1e6, bench_median(&lb),
        (double)sum.events / bench_median(&lb) / 1e6, bench_median(&gp_loop) / bench_median(&lb));
    printf("  trace reading: %.2f M rows/s (%zu rows)\n", rows_per_s / 1e6, n_rows);
    char fig[200];
    snprintf(fig, sizeof(fig), "%.1fx on %ld requests", whole_ratio, n);
    bench_target(">= 100x SimPy, whole process", fig, whole_ratio >= 100);
    snprintf(fig, sizeof(fig), "%.2f M rows/s on %zu rows", rows_per_s / 1e6, n_rows);
    bench_target(">= 20 M rows/s reading a plain CSV trace", fig, rows_per_s >= 20e6);
    free(rows);
    free(prof);
    remove_db(db);
    return 0;
}
