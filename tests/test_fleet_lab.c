/* test_fleet_lab.c: mixed fleets in experiment files, runs, exports and the live driver
 * (issue 17). Bad fleet files are refused with file, line, column and key; mixes expand into
 * entries with their own clusters and the pools' defaults; a recorded preemption trace read
 * from a CSV file replays exactly (the notices at its times, the same run as the same times
 * written in the file); `gpenlab run` stores and prints the per-pool results and the fleet's
 * totals; a cluster written as one pool runs as the plain one (every stored field, the
 * results CSV byte for byte); the database's per-pool rows (run_pools) and their schema; an
 * image class that no pool's card holds is warned of; the export of a fleet (per pool,
 * spread; GKE and EKS labels) passes the schema check (node + the pinned models, skipped
 * when absent) and loads in `gpenlab drive --dry-run`, one loop per Deployment, also when
 * exported from a run's database (its winner); a sweep over the pools' GPUs runs each point
 * with its pools and exports a point's Deployments. */
#include <limits.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "base/cfg.h"
#include "drive/drive.h"
#include "lab/experiment.h"
#include "lab/export.h"
#include "lab/lab.h"
#include "lab/report.h"
#include "lab/results_db.h"
#include "lab/sweep.h"
#include "sim/sim.h"
#include "tests/testutil.h"

#define DATA  "tests/data/fleet/"
#define SMALL DATA "small.yaml"

static char tmpdir[256];

static int setup(void **state)
{
    (void)state;
    return tu_mkdtemp(tmpdir, sizeof(tmpdir), "fleet");
}

static int teardown(void **state)
{
    (void)state;
    return tu_rm_rf(tmpdir);
}

static experiment *load_ok(const char *path)
{
    experiment *e = NULL;
    gp_error err;
    gp_error_clear(&err);
    if (experiment_load(path, &e, &err) < 0)
        tu_fail_error(&err, path);
    return e;
}

static int refuse_experiment(const char *path, void *ctx, gp_error *err)
{
    (void)ctx;
    experiment *e = NULL;
    int rc = experiment_load(path, &e, err);
    experiment_free(e);
    return rc;
}

/* Every file of tests/data/fleet/bad/ is refused with the error its first line names. */
static void test_bad_fleet_files(void **state)
{
    (void)state;
    tu_check_bad_files(DATA "bad", "", ".yaml", true, 15, "bad fleet experiments",
                       refuse_experiment, NULL);
}

/* SMALL with `from` replaced by `to`, written beside it (its relative paths hold) as
 * path_out; the caller unlinks it. */
static void variant(const char *from, const char *to, char *path_out, size_t cap)
{
    char *text = tu_slurp(SMALL);
    assert_non_null(text);
    char *at = strstr(text, from);
    if (!at)
        fail_msg("%s: no \"%s\"", SMALL, from);
    size_t len = strlen(text) + strlen(to) + 1;
    char *out = malloc(len);
    assert_non_null(out);
    snprintf(out, len, "%.*s%s%s", (int)(at - text), text, to, at + strlen(from));
    snprintf(path_out, cap, DATA "variant-%d.yaml", (int)getpid());
    tu_write_text(path_out, out);
    free(text);
    free(out);
}

static int entry(const experiment *e, const char *label)
{
    for (int i = 0; i < e->n_policies; i++)
        if (strcmp(e->policy[i].label, label) == 0)
            return i;
    fail_msg("no entry %s", label);
    return -1;
}

/* Mixes x policies become the entries, each with its mix's cluster: the pools it names, in
 * the file's order, with its values on top of the pool's and the defaults that follow. */
static void test_mixes_expand(void **state)
{
    (void)state;
    experiment *e = load_ok(SMALL);
    assert_int_equal(e->n_policies, 4);
    static const char *const labels[] = {"t4/static", "t4/hpa", "h100/static", "h100/hpa"};
    for (int i = 0; i < 4; i++)
        assert_string_equal(e->policy[i].label, labels[i]);
    const int *src;
    const cluster_cfg *c = experiment_cluster(e, entry(e, "t4/hpa"), &src);
    assert_int_equal(c->n_pools, 2);
    assert_string_equal(c->pool[0].name, "t4");
    assert_int_equal(c->pool[0].gpus, 2);
    assert_int_equal(c->pool[0].gpus_max, 4);
    assert_int_equal(c->pool[0].max_pods, 4); /* follows gpus_max */
    assert_int_equal(c->pool[0].min_pods, 1); /* the cluster's */
    assert_int_equal(c->pool[0].node_provision_us, 60 * 1000000LL);
    assert_string_equal(c->pool[1].name, "t4-spot");
    assert_int_equal(c->pool[1].capacity, CAPACITY_SPOT);
    assert_int_equal(c->pool[1].notice_us, 30 * 1000000LL);
    assert_int_equal(c->deployments, DEPLOY_PER_POOL);
    c = experiment_cluster(e, entry(e, "h100/static"), &src);
    assert_int_equal(c->n_pools, 2);
    assert_string_equal(c->pool[0].name, "t4-spot"); /* the file's order */
    assert_int_equal(src[0], 1);
    assert_int_equal(c->pool[0].gpus_max, 1);
    assert_int_equal(c->pool[0].min_pods, 0);
    assert_string_equal(c->pool[1].name, "h100");
    assert_int_equal(src[1], 2);
    assert_int_equal(c->pool[1].concurrency, 6);
    assert_true(c->pool[1].profile->gpu_mem_bytes > 70e9); /* the pool's own card */
    assert_true(c->pool[0].profile->gpu_mem_bytes < 20e9); /* the experiment's */
    /* the recorded trace, in time order: 600 s (any node), 1800 s node 0, 3600.5 s node 0 */
    assert_int_equal(c->pool[0].n_preempt, 3);
    assert_int_equal(c->pool[0].preempt[0].t_us, 600 * 1000000LL);
    assert_int_equal(c->pool[0].preempt[0].node, -1);
    assert_int_equal(c->pool[0].preempt[1].t_us, 1800 * 1000000LL);
    assert_int_equal(c->pool[0].preempt[2].t_us, 3600500000LL);
    /* the policy of a pool's Deployment sees its pool's bounds and card */
    sim_cfg cfg;
    experiment_sim_cfg(e, entry(e, "h100/hpa"), 0, &cfg);
    assert_int_equal(sim_deployments(&cfg), 2);
    policy_env env0, env1;
    sim_deployment_env(&cfg, 0, &env0);
    sim_deployment_env(&cfg, 1, &env1);
    assert_int_equal(env0.max_pods, 1);
    assert_int_equal(env1.concurrency, 6);
    assert_true(env1.mean_demand_s < env0.mean_demand_s); /* the H100 is faster */
    experiment_free(e);
}

/* The recorded trace replays exactly: the notices that took a node came at the file's
 * times (to the microsecond), and the same times written in the experiment give the same
 * run, request by request. */
static void test_preemption_trace_file_replays(void **state)
{
    (void)state;
    experiment *e = load_ok(SMALL);
    int pi = entry(e, "t4/static");
    sim_cfg cfg;
    experiment_sim_cfg(e, pi, 0, &cfg);
    cfg.record_requests = true;
    preemption_log plog = {0};
    cfg.preempt_log = &plog;
    run_summary s1, s2;
    request_log l1 = {0}, l2 = {0};
    gp_error err;
    if (sim_run(&cfg, &s1, NULL, &l1, &err) < 0)
        tu_fail_error(&err, "sim_run");
    static const int64_t want[] = {600000000LL, 1800000000LL, 3600500000LL};
    assert_int_equal(plog.n, 3);
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(plog.row[i].t_us, want[i]);
        assert_int_equal(plog.row[i].pool, 1);
    }
    assert_int_equal(s1.pool[1].preemptions, 3);
    /* the same times in the file itself */
    char path[PATH_MAX];
    variant("{trace: preempt.csv, notice: 30s}",
            "{times: [1800s, 10m, {at: 3600.5s, node: 0}], notice: 30s}", path, sizeof(path));
    experiment *e2 = load_ok(path);
    unlink(path);
    experiment_sim_cfg(e2, entry(e2, "t4/static"), 0, &cfg);
    cfg.record_requests = true;
    cfg.preempt_log = NULL;
    if (sim_run(&cfg, &s2, NULL, &l2, &err) < 0)
        tu_fail_error(&err, "sim_run inline");
    assert_int_equal(l1.n, l2.n);
    assert_memory_equal(l1.row, l2.row, l1.n * sizeof(request_row));
    assert_int_equal(s1.preemptions, s2.preemptions);
    assert_true(s1.cost == s2.cost);
    preemption_log_free(&plog);
    request_log_free(&l1);
    request_log_free(&l2);
    experiment_free(e);
    experiment_free(e2);
}

/* `gpenlab run`: the per-pool results go to the database and come back as the run made
 * them; the table prints each pool and the fleet. */
static void test_run_stores_and_prints_pools(void **state)
{
    (void)state;
    experiment *e = load_ok(SMALL);
    char db_path[PATH_MAX], out_path[PATH_MAX];
    snprintf(db_path, sizeof(db_path), "%s/small.db", tmpdir);
    snprintf(out_path, sizeof(out_path), "%s/out.txt", tmpdir);
    lab_opts o;
    lab_opts_default(&o);
    o.db_path = db_path;
    o.replications = 1;
    FILE *out = fopen(out_path, "w");
    assert_non_null(out);
    gp_error err;
    if (lab_run(e, &o, out, &err) < 0)
        tu_fail_error(&err, "lab_run");
    fclose(out);
    char *text = tu_slurp(out_path);
    assert_non_null(strstr(text, "per pool and fleet"));
    assert_non_null(strstr(text, "t4-spot"));
    assert_non_null(strstr(text, "NVIDIA H100 80GB HBM3"));
    assert_non_null(strstr(text, "fleet: cost, P99, requests within the SLO, preemptions"));
    assert_non_null(strstr(text, " pareto\n")); /* some entry is on the cost-P99 front */
    free(text);
    /* the stored pools are the run's */
    results_db *db;
    if (results_db_open_read(db_path, &db, &err) < 0)
        tu_fail_error(&err, "open");
    results_db_experiment *ex;
    size_t n_ex;
    assert_int_equal(results_db_experiments(db, &ex, &n_ex, &err), 0);
    assert_int_equal(n_ex, 1);
    run_summary *runs;
    size_t n;
    assert_int_equal(results_db_read_runs(db, ex[0].id, &runs, &n, &err), 0);
    assert_int_equal(n, 4);
    for (size_t i = 0; i < n; i++) {
        int pi = entry(e, runs[i].label);
        sim_cfg cfg;
        experiment_sim_cfg(e, pi, 0, &cfg);
        run_summary direct;
        if (sim_run(&cfg, &direct, NULL, NULL, &err) < 0)
            tu_fail_error(&err, "sim_run");
        assert_int_equal(runs[i].n_pools, 2);
        assert_int_equal(runs[i].preemptions, direct.preemptions);
        for (int p = 0; p < 2; p++) {
            const pool_result *a = &runs[i].pool[p], *b = &direct.pool[p];
            assert_string_equal(a->name, b->name);
            assert_int_equal(a->served, b->served);
            assert_int_equal(a->completed, b->completed);
            assert_int_equal(a->preemptions, b->preemptions);
            assert_true(a->cost == b->cost && a->gpu_seconds == b->gpu_seconds);
        }
        assert_true(fabs(runs[i].pool[0].cost + runs[i].pool[1].cost - runs[i].cost) < 1e-9);
    }
    free(runs);
    free(ex);
    results_db_close(db);
    experiment_free(e);
}

/* lab_run of e into db_path, quietly, with `reps` replications. */
static void run_quiet(const experiment *e, const char *db_path, int reps)
{
    lab_opts o;
    lab_opts_default(&o);
    o.db_path = db_path;
    o.replications = reps;
    o.quiet = true;
    o.jobs = 1;
    gp_error err;
    gp_error_clear(&err);
    if (lab_run(e, &o, NULL, &err) < 0)
        tu_fail_error(&err, "lab_run");
}

/* The runs of the one experiment in db_path. */
static size_t read_runs(const char *db_path, run_summary **runs)
{
    results_db *db;
    gp_error err;
    if (results_db_open_read(db_path, &db, &err) < 0)
        tu_fail_error(&err, db_path);
    results_db_experiment *ex;
    size_t n_ex, n;
    assert_int_equal(results_db_experiments(db, &ex, &n_ex, &err), 0);
    assert_int_equal(n_ex, 1);
    if (results_db_read_runs(db, ex[0].id, runs, &n, &err) < 0)
        tu_fail_error(&err, "read runs");
    free(ex);
    results_db_close(db);
    return n;
}

/* The column names of a table, comma separated ("" when it has none). */
static void table_columns(const char *db_path, const char *table, char *buf, size_t cap, char *pk,
                          size_t pk_cap)
{
    results_db *db;
    gp_error err;
    if (results_db_open_read(db_path, &db, &err) < 0)
        tu_fail_error(&err, db_path);
    char sql[128];
    snprintf(sql, sizeof(sql), "PRAGMA table_info(%s)", table);
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(results_db_sqlite(db), sql, -1, &st, NULL), SQLITE_OK);
    buf[0] = pk[0] = '\0';
    while (sqlite3_step(st) == SQLITE_ROW) {
        const char *name = (const char *)sqlite3_column_text(st, 1);
        size_t u = strlen(buf);
        snprintf(buf + u, cap - u, "%s%s", u ? "," : "", name);
        if (sqlite3_column_int(st, 5) > 0) { /* its place in the primary key */
            u = strlen(pk);
            snprintf(pk + u, pk_cap - u, "%s%d:%s", u ? "," : "", sqlite3_column_int(st, 5), name);
        }
    }
    sqlite3_finalize(st);
    results_db_close(db);
}

static int64_t count_of(const char *db_path, const char *sql)
{
    results_db *db;
    gp_error err;
    if (results_db_open_read(db_path, &db, &err) < 0)
        tu_fail_error(&err, db_path);
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(results_db_sqlite(db), sql, -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    int64_t n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    results_db_close(db);
    return n;
}

/* A cluster written the plain way and as one pool of `pools:` (with the cluster's GPUs,
 * provisioning, price and image cache as the pool's) runs the same: every field of every
 * run is the same (but the wall time), so a results CSV of one pool is byte for byte the
 * plain one's. The plain runs have no row in run_pools; the pool's have one each. */
static void test_one_pool_file_as_plain(void **state)
{
    (void)state;
    char cwd[PATH_MAX], path[2][PATH_MAX], db[2][PATH_MAX];
    assert_non_null(getcwd(cwd, sizeof(cwd)));
    static const char *const cluster[2] = {
        "  gpus: 2\n  gpus_max: 3\n  node_provision_delay: 60s\n  price_per_gpu_hour: 0.35\n"
        "  image_cache: none\n",
        "  pools:\n    - {name: only, gpus: 2, gpus_max: 3, node_provision_delay: 60s,\n"
        "       price_per_gpu_hour: 0.35, image_cache: none}\n"};
    for (int k = 0; k < 2; k++) {
        char text[PATH_MAX + 2048];
        snprintf(text, sizeof(text),
                 "name: one_pool\nseed: 11\nreplications: 2\n"
                 "profile: %s/gpu/profiles/t4-derived\n"
                 "workload: {type: poisson, rate_per_s: 6, duration: 2h}\n"
                 "cluster:\n  concurrency: 3\n  timeout: 20s\n  min_pods: 1\n  max_pods: 3\n%s"
                 "policies:\n  - {label: static, policy: static}\n"
                 "  - label: hpa\n    policy: hpa\n    config:\n      minReplicas: 1\n"
                 "      maxReplicas: 3\n      metrics:\n        - type: Pods\n          pods:\n"
                 "            metric: {name: DCGM_FI_DEV_GPU_UTIL}\n"
                 "            target: {type: AverageValue, averageValue: \"50\"}\n"
                 "output: {series: false}\n",
                 cwd, cluster[k]);
        snprintf(path[k], sizeof(path[k]), "%s/one-%d.yaml", tmpdir, k);
        snprintf(db[k], sizeof(db[k]), "%s/one-%d.db", tmpdir, k);
        tu_write_text(path[k], text);
        experiment *e = load_ok(path[k]);
        assert_int_equal(e->cluster.n_pools, k);
        run_quiet(e, db[k], 2);
        experiment_free(e);
    }
    run_summary *plain, *pooled;
    size_t n = read_runs(db[0], &plain);
    assert_int_equal(read_runs(db[1], &pooled), n);
    assert_int_equal(n, 4);
    size_t nf;
    const field_desc *fd = result_fields_run(&nf);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(plain[i].n_pools, 0);
        assert_int_equal(pooled[i].n_pools, 1);
        assert_true(pooled[i].pool[0].cost == pooled[i].cost);
        for (size_t f = 0; f < nf; f++) {
            char a[256], b[256];
            if (strcmp(fd[f].name, "wall_s") == 0)
                continue;
            result_field_format(&fd[f], &plain[i], a, sizeof(a));
            result_field_format(&fd[f], &pooled[i], b, sizeof(b));
            if (strcmp(a, b) != 0)
                fail_msg("run %zu (%s): %s is %s plain, %s as one pool", i, plain[i].label,
                         fd[f].name, a, b);
        }
    }
    for (size_t i = 0; i < n; i++)
        print_message("  %s rep %d: %llu completed, %llu timed out, %llu scale events, %.2f "
                      "GPU-h\n",
                      plain[i].label, plain[i].replication, (unsigned long long)plain[i].completed,
                      (unsigned long long)plain[i].timed_out,
                      (unsigned long long)plain[i].scale_events, plain[i].gpu_seconds / 3600);
    assert_true(plain[2].scale_events > 0); /* the HPA scaled: a policy's path, too */
    /* the results CSVs, byte for byte (the wall time aside), with the baselines' header */
    char csv[2][PATH_MAX], head[2][4096], base_head[4096];
    for (int k = 0; k < 2; k++) {
        run_summary *r = k ? pooled : plain;
        for (size_t i = 0; i < n; i++)
            r[i].wall_s = 0;
        snprintf(csv[k], sizeof(csv[k]), "%s/one-%d.csv", tmpdir, k);
        gp_error err;
        if (report_write_csv(csv[k], r, n, &err) < 0)
            tu_fail_error(&err, csv[k]);
        tu_first_line(csv[k], head[k], sizeof(head[k]));
    }
    size_t len[2];
    uint8_t *bytes[2] = {tu_slurp_bytes(csv[0], &len[0]), tu_slurp_bytes(csv[1], &len[1])};
    assert_int_equal(len[0], len[1]);
    assert_memory_equal(bytes[0], bytes[1], len[0]);
    free(bytes[0]);
    free(bytes[1]);
    tu_first_line("experiments/baselines/tidal_day.csv", base_head, sizeof(base_head));
    assert_string_equal(head[1], base_head);
    assert_int_equal(count_of(db[0], "SELECT COUNT(*) FROM run_pools"), 0);
    assert_int_equal(count_of(db[1], "SELECT COUNT(*) FROM run_pools"), 4);
    free(plain);
    free(pooled);
}

/* An image class no card of the fleet holds is named in a warning (all of it will be
 * rejected as too large), naming the largest card; one that only the large pool's card holds
 * is not, as long as that pool is there (its requests go to it). */
static void test_warn_too_large_for_every_pool(void **state)
{
    (void)state;
    char prof[2][PATH_MAX], path[PATH_MAX];
    static const char *const names[2] = {"small", "large"};
    static const double mem_mib[2] = {8000, 81920};
    for (int k = 0; k < 2; k++) {
        char text[1024];
        tu_card_text(text, sizeof(text), names[k], 1000, "none", mem_mib[k], 200, 12000, 5);
        snprintf(prof[k], sizeof(prof[k]), "%s/%s.profile", tmpdir, names[k]);
        tu_write_text(prof[k], text);
    }
    static const struct {
        const char *name;
        int with_large;
        int warnings;
    } cases[] = {{"small and large pools", 1, 1}, {"the small pool alone", 0, 2}};
    for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
        char text[4 * PATH_MAX];
        snprintf(text, sizeof(text),
                 "name: warn\nworkload:\n  type: poisson\n  rate_per_s: 1\n  duration: 1h\n"
                 "  image_mix:\n    - {name: phone, weight: 0.8, mp: [1, 3], faces: {1: 1}}\n"
                 "    - {name: scan, weight: 0.15, mp: [18, 22], faces: {1: 1}}\n"
                 "    - {name: huge, weight: 0.05, mp: [200, 300], faces: {1: 1}}\n"
                 "cluster:\n  pools:\n    - {name: small, profile: %s, gpus: 1}\n%s%s%s"
                 "policies: [{label: static, policy: static}]\n",
                 prof[0], cases[c].with_large ? "    - {name: large, profile: " : "",
                 cases[c].with_large ? prof[1] : "", cases[c].with_large ? ", gpus: 1}\n" : "");
        snprintf(path, sizeof(path), "%s/warn.yaml", tmpdir);
        tu_write_text(path, text);
        experiment *e = load_ok(path);
        char out_path[PATH_MAX];
        snprintf(out_path, sizeof(out_path), "%s/warn.txt", tmpdir);
        FILE *f = fopen(out_path, "w");
        assert_non_null(f);
        int n = experiment_warn(e, f);
        fclose(f);
        char *warn = tu_slurp(out_path);
        print_message("  %s: %d warning(s)\n%s", cases[c].name, n, warn);
        if (n != cases[c].warnings)
            fail_msg("%s: %d warnings, want %d:\n%s", cases[c].name, n, cases[c].warnings, warn);
        assert_non_null(strstr(warn, "image class 2 \"huge\""));
        assert_non_null(strstr(warn, cases[c].with_large ? "the card (large)" : "(small)"));
        assert_true((strstr(warn, "\"scan\"") != NULL) == !cases[c].with_large);
        free(warn);
        experiment_free(e);
    }
}

/* The database's rows of a fleet: run_pools(run_id, pool, then every pool_result field,
 * in result.h's order; primary key (run_id, pool)), one row per pool of each run; the runs
 * table has no pool column (its rows are a plain run's), and a run read back has its pools,
 * their count and their preemptions' sum. */
static void test_pool_rows_schema(void **state)
{
    (void)state;
    experiment *e = load_ok(SMALL);
    char db_path[PATH_MAX];
    snprintf(db_path, sizeof(db_path), "%s/schema.db", tmpdir);
    run_quiet(e, db_path, 1);
    char cols[2048], want[2048], pk[256];
    table_columns(db_path, "run_pools", cols, sizeof(cols), pk, sizeof(pk));
    size_t np;
    const field_desc *fp = result_fields_pool(&np);
    snprintf(want, sizeof(want), "run_id,pool");
    for (size_t i = 0; i < np; i++) {
        size_t u = strlen(want);
        snprintf(want + u, sizeof(want) - u, ",%s", fp[i].name);
    }
    assert_string_equal(cols, want);
    assert_string_equal(pk, "1:run_id,2:pool");
    table_columns(db_path, "runs", cols, sizeof(cols), pk, sizeof(pk));
    char padded[2100];
    snprintf(padded, sizeof(padded), ",%s,", cols);
    static const char *const not_in_runs[] = {",preemptions,", ",n_pools,", ",card,",
                                              ",pods_preempted,", NULL};
    for (int i = 0; not_in_runs[i]; i++)
        if (strstr(padded, not_in_runs[i]))
            fail_msg("runs has the pool column %s", not_in_runs[i]);
    run_summary *runs;
    size_t n = read_runs(db_path, &runs);
    assert_int_equal(n, 4);
    int64_t rows = 0;
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(runs[i].n_pools, 2);
        assert_int_equal(runs[i].preemptions,
                         runs[i].pool[0].preemptions + runs[i].pool[1].preemptions);
        assert_true(runs[i].preemptions >= 3); /* the recorded trace's three, and more */
        rows += runs[i].n_pools;
    }
    assert_int_equal(count_of(db_path, "SELECT COUNT(*) FROM run_pools"), rows);
    assert_int_equal(count_of(db_path, "SELECT COUNT(*) FROM run_pools p JOIN runs r ON "
                                       "r.id = p.run_id AND p.pool BETWEEN 0 AND 1"),
                     rows);
    free(runs);
    experiment_free(e);
}

/* ------------------------------------------------------------ export and drive */

/* export_run from `from` (a file or a database: label NULL, point < 0: its winner) into
 * dir; what it says goes to log_path (may be NULL). */
static void export_to(const char *from, const char *label, long point, const char *cloud,
                      const char *dir, const char *log_path)
{
    export_opts o;
    export_opts_default(&o);
    o.from = from;
    o.label = label;
    o.point = point;
    o.out_dir = dir;
    if (cloud)
        o.cloud = cloud;
    FILE *log = log_path ? fopen(log_path, "w") : NULL;
    assert_true(!log_path || log);
    gp_error err;
    gp_error_clear(&err);
    int rc = export_run(&o, log, &err);
    if (log)
        fclose(log);
    if (rc < 0)
        tu_fail_error(&err, label ? label : from);
}

static void do_export(const char *from, const char *label, const char *cloud, const char *dir)
{
    export_to(from, label, -1, cloud, dir, NULL);
}

/* `gpenlab drive DIR --dry-run` for one tick with no cluster: its log (the caller frees)
 * and how many plans (one per Deployment) it made. */
static char *dry_run(const char *dir, int *plans)
{
    char log_path[PATH_MAX];
    snprintf(log_path, sizeof(log_path), "%s/drive.log", tmpdir);
    drive_run_opts o = {.config_path = dir,
                        .dry_run = true,
                        .ticks = 1,
                        .prometheus_url = "http://127.0.0.1:1",
                        .redis_address = "127.0.0.1:1"};
    FILE *log = fopen(log_path, "w");
    assert_non_null(log);
    gp_error err;
    gp_error_clear(&err);
    int rc = drive_run(&o, log, &err);
    fclose(log);
    if (rc < 0)
        tu_fail_error(&err, dir);
    char *text = tu_slurp(log_path);
    *plans = 0;
    for (const char *q = text; (q = strstr(q, "\"event\":\"plan\"")); q++)
        (*plans)++;
    return text;
}

/* A value at a path of keys in a YAML file (NULL when absent). */
static char *yaml_at(const char *path, const char *const *keys)
{
    cfg_doc *doc;
    gp_error err;
    if (cfg_load_file(path, &doc, &err) < 0)
        tu_fail_error(&err, path);
    const cfg_node *n = cfg_root(doc);
    for (size_t i = 0; n && keys[i]; i++)
        n = cfg_map_get(n, keys[i]);
    char *v = n && cfg_scalar(n) ? strdup(cfg_scalar(n)) : NULL;
    cfg_free(doc);
    return v;
}

static void expect_label(const char *file, const char *key, const char *value)
{
    const char *const keys[] = {"spec", "template", "spec", "nodeSelector", key, NULL};
    char *v = yaml_at(file, keys);
    if (!v || strcmp(v, value) != 0)
        fail_msg("%s: nodeSelector %s is %s, want %s", file, key, v ? v : "(none)", value);
    free(v);
}

/* The manifests a fleet's export writes: a directory per Deployment with its autoscaler and
 * the labels of its card and capacity; the shared files and drive.yaml beside them. */
static void test_export_fleet(void **state)
{
    (void)state;
    char dir[PATH_MAX], f[PATH_MAX + 64];
    snprintf(dir, sizeof(dir), "%s/gke", tmpdir);
    do_export(SMALL, "h100/hpa", NULL, dir);
    static const char *const files[] = {"gpen-t4-spot/deployment.yaml",
                                        "gpen-t4-spot/hpa.yaml",
                                        "gpen-h100/deployment.yaml",
                                        "gpen-h100/hpa.yaml",
                                        "service.yaml",
                                        "prometheus-rule.yaml",
                                        "prometheus-adapter.yaml",
                                        "drive.yaml",
                                        NULL};
    for (int i = 0; files[i]; i++) {
        snprintf(f, sizeof(f), "%s/%s", dir, files[i]);
        if (access(f, F_OK) != 0)
            fail_msg("no %s", f);
    }
    snprintf(f, sizeof(f), "%s/gpen-h100/deployment.yaml", dir);
    expect_label(f, "cloud.google.com/gke-accelerator", "nvidia-h100-80gb");
    snprintf(f, sizeof(f), "%s/gpen-t4-spot/deployment.yaml", dir);
    expect_label(f, "cloud.google.com/gke-accelerator", "nvidia-tesla-t4");
    expect_label(f, "cloud.google.com/gke-spot", "true");
    /* the HPA of a pool's Deployment within its pool's bounds (t4-spot: 0..1 -> 1..1) */
    snprintf(f, sizeof(f), "%s/gpen-t4-spot/hpa.yaml", dir);
    const char *const maxr[] = {"spec", "maxReplicas", NULL};
    char *v = yaml_at(f, maxr);
    assert_non_null(v);
    assert_string_equal(v, "1");
    free(v);
    /* EKS */
    snprintf(dir, sizeof(dir), "%s/eks", tmpdir);
    do_export(SMALL, "t4/static", "eks", dir);
    snprintf(f, sizeof(f), "%s/gpen-t4-spot/deployment.yaml", dir);
    expect_label(f, "karpenter.k8s.aws/instance-gpu-name", "t4");
    expect_label(f, "karpenter.sh/capacity-type", "spot");
    snprintf(f, sizeof(f), "%s/gpen-t4/deployment.yaml", dir);
    expect_label(f, "karpenter.sh/capacity-type", "on-demand");
    /* one Deployment spread over the pools: node affinity, the first pool preferred */
    char spread[PATH_MAX];
    variant("deployments: per_pool", "deployments: spread", spread, sizeof(spread));
    snprintf(dir, sizeof(dir), "%s/spread", tmpdir);
    do_export(spread, "h100/hpa", NULL, dir);
    unlink(spread);
    snprintf(f, sizeof(f), "%s/gpen/deployment.yaml", dir);
    char *text = tu_slurp(f);
    assert_non_null(text);
    assert_non_null(strstr(text, "preferredDuringSchedulingIgnoredDuringExecution"));
    assert_non_null(strstr(text, "nvidia-h100-80gb"));
    assert_non_null(strstr(text, "nvidia-tesla-t4"));
    free(text);
}

/* Every manifest of the fleets' exports against the official schemas. */
static void test_export_fleet_schemas(void **state)
{
    (void)state;
    if (!tu_have_schema_check())
        skip();
    char gke[PATH_MAX], eks[PATH_MAX], spread[PATH_MAX];
    snprintf(gke, sizeof(gke), "%s/gke", tmpdir);
    snprintf(eks, sizeof(eks), "%s/eks", tmpdir);
    snprintf(spread, sizeof(spread), "%s/spread", tmpdir);
    tu_expect_schemas_ok((const char *const[]){gke, eks, spread, NULL}, 15);
}

/* The fleet's drive.yaml (and a Deployment's own directory) in `gpenlab drive --dry-run`
 * with no cluster: a plan and a decision per Deployment, each naming it. */
static void test_drive_dry_run_fleet(void **state)
{
    (void)state;
    char dir[PATH_MAX];
    snprintf(dir, sizeof(dir), "%s/gke", tmpdir);
    int plans, ticks = 0;
    char *text = dry_run(dir, &plans);
    for (const char *q = text; (q = strstr(q, "\"decided\"")); q++)
        ticks++;
    assert_int_equal(plans, 2);
    assert_true(ticks >= 2);
    assert_non_null(strstr(text, "\"deployment\":\"gpen-t4-spot\""));
    assert_non_null(strstr(text, "\"deployment\":\"gpen-h100\""));
    assert_non_null(strstr(text, "gpen:pending"));
    free(text);
    /* one Deployment's directory alone: its HPA */
    snprintf(dir, sizeof(dir), "%s/gke/gpen-h100", tmpdir);
    free(dry_run(dir, &plans));
    assert_int_equal(plans, 1);
}

/* The winner of a fleet's run, exported from its database by main's path (the run's own
 * verdict, no label given): one directory per Deployment of the winner's mix, and the
 * export loads in `gpenlab drive --dry-run`, one plan per Deployment. */
static void test_export_winner_from_db(void **state)
{
    (void)state;
    experiment *e = load_ok(SMALL);
    char db_path[PATH_MAX], dir[PATH_MAX], f[PATH_MAX + 64], log_path[PATH_MAX];
    snprintf(db_path, sizeof(db_path), "%s/winner.db", tmpdir);
    run_quiet(e, db_path, 2);
    experiment_free(e);
    snprintf(dir, sizeof(dir), "%s/winner", tmpdir);
    snprintf(log_path, sizeof(log_path), "%s/winner.log", tmpdir);
    export_to(db_path, NULL, -1, NULL, dir, log_path);
    char *text = tu_slurp(log_path);
    /* the cheapest within the SLO: the T4s (h100 costs seven times more) */
    assert_non_null(strstr(text, "export: the winner of experiment fleet_small"));
    assert_non_null(strstr(text, "t4/"));
    free(text);
    static const char *const files[] = {"gpen-t4/deployment.yaml", "gpen-t4-spot/deployment.yaml",
                                        "service.yaml", "drive.yaml", NULL};
    for (int i = 0; files[i]; i++) {
        snprintf(f, sizeof(f), "%s/%s", dir, files[i]);
        if (access(f, F_OK) != 0)
            fail_msg("no %s", f);
    }
    snprintf(f, sizeof(f), "%s/gpen-h100", dir);
    assert_int_not_equal(access(f, F_OK), 0);
    int plans;
    text = dry_run(dir, &plans);
    assert_int_equal(plans, 2);
    assert_non_null(strstr(text, "\"deployment\":\"gpen-t4\""));
    assert_non_null(strstr(text, "\"deployment\":\"gpen-t4-spot\""));
    free(text);
}

/* A sweep over the mix through the sweep (points as overlays on the base): each pool's
 * GPUs a parameter; a pool with no GPU is left out of a point (its runs have the others
 * only), the report names a winner and the cost-P99 front, and the export of a point
 * writes that point's Deployments. */
static void test_sweep_over_the_mix(void **state)
{
    (void)state;
    char base[PATH_MAX], sweep_path[PATH_MAX], db_path[PATH_MAX], out_path[PATH_MAX];
    variant("mixes:\n  - {label: t4, pools: {t4: {gpus: 2, gpus_max: 4}, t4-spot: 2}}\n"
            "  - {label: h100, pools: {h100: 1, t4-spot: {gpus: 1, min_pods: 0}}}\n",
            "", base, sizeof(base));
    const char *base_name = strrchr(base, '/') + 1;
    snprintf(sweep_path, sizeof(sweep_path), DATA "sweep-%d.yaml", (int)getpid());
    char text[1024];
    snprintf(text, sizeof(text),
             "name: fleet_mix_sweep\nbase: %s\npolicy: static\nreplications: 2\nseed: 5\n"
             "design: grid\nparameters:\n"
             "  - {path: \"cluster.pools[1].gpus\", values: [1, 2]}\n"
             "  - {path: \"cluster.pools[2].gpus\", values: [0, 1]}\n"
             "objective: {minimise: cost, constraints: [{metric: slo_pct, min: 99}]}\n",
             base_name);
    tu_write_text(sweep_path, text);
    snprintf(db_path, sizeof(db_path), "%s/sweep.db", tmpdir);
    snprintf(out_path, sizeof(out_path), "%s/sweep.txt", tmpdir);
    sweep *sw;
    gp_error err;
    gp_error_clear(&err);
    if (sweep_load(sweep_path, &sw, &err) < 0)
        tu_fail_error(&err, sweep_path);
    sweep_set_db_path(sw, db_path);
    assert_int_equal(sweep_n_points(sw), 4);
    /* point p: pools[1] (t4-spot) p / 2 + 1 GPUs, pools[2] (h100) p % 2 */
    for (size_t p = 0; p < 4; p++) {
        experiment *pe;
        if (sweep_point_experiment(sw, p, &pe, &err) < 0)
            tu_fail_error(&err, "point");
        const cluster_cfg *c = experiment_cluster(pe, sweep_point_policy(sw, p), NULL);
        assert_int_equal(c->n_pools, p % 2 ? 3 : 2);
        assert_int_equal(c->pool[1].gpus, (int)(p / 2) + 1);
        experiment_free(pe);
    }
    sweep_run_stats st;
    if (sweep_run_local(sw, 1, NULL, &st, &err) < 0)
        tu_fail_error(&err, "sweep");
    assert_int_equal(st.ran, 8);
    FILE *out = fopen(out_path, "w");
    assert_non_null(out);
    int rc = sweep_report(sw, out, NULL, NULL, &err);
    fclose(out);
    if (rc < 0)
        tu_fail_error(&err, "sweep report");
    char *report = tu_slurp(out_path);
    assert_non_null(strstr(report, "\nwinner: p000"));
    assert_non_null(strstr(report, "Pareto front (cost against P99"));
    free(report);
    /* the stored runs of each point have its pools */
    results_db *db;
    if (results_db_open_read(db_path, &db, &err) < 0)
        tu_fail_error(&err, db_path);
    results_db_sweep_point *pts;
    size_t n_pts;
    assert_int_equal(results_db_sweep_points(db, &pts, &n_pts, &err), 0);
    assert_int_equal(n_pts, 4);
    for (size_t i = 0; i < n_pts; i++) {
        run_summary *runs;
        size_t n;
        assert_int_equal(results_db_read_runs(db, pts[i].experiment_id, &runs, &n, &err), 0);
        assert_int_equal(n, 2);
        for (size_t r = 0; r < n; r++) {
            assert_int_equal(runs[r].n_pools, pts[i].point % 2 ? 3 : 2);
            assert_string_equal(runs[r].pool[runs[r].n_pools - 1].name,
                                pts[i].point % 2 ? "h100" : "t4-spot");
        }
        free(runs);
    }
    free(pts);
    results_db_close(db);
    sweep_free(sw);
    unlink(sweep_path);
    unlink(base);
    /* point 3 (two spot T4s and an H100) exported: its three Deployments */
    char dir[PATH_MAX], f[PATH_MAX + 64];
    snprintf(dir, sizeof(dir), "%s/point3", tmpdir);
    export_to(db_path, NULL, 3, NULL, dir, NULL);
    static const char *const deps[] = {"gpen-t4", "gpen-t4-spot", "gpen-h100", NULL};
    for (int i = 0; deps[i]; i++) {
        snprintf(f, sizeof(f), "%s/%s/deployment.yaml", dir, deps[i]);
        if (access(f, F_OK) != 0)
            fail_msg("no %s", f);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad_fleet_files),
        cmocka_unit_test(test_mixes_expand),
        cmocka_unit_test(test_preemption_trace_file_replays),
        cmocka_unit_test(test_run_stores_and_prints_pools),
        cmocka_unit_test(test_one_pool_file_as_plain),
        cmocka_unit_test(test_pool_rows_schema),
        cmocka_unit_test(test_warn_too_large_for_every_pool),
        cmocka_unit_test(test_export_fleet),
        cmocka_unit_test(test_export_fleet_schemas),
        cmocka_unit_test(test_drive_dry_run_fleet),
        cmocka_unit_test(test_export_winner_from_db),
        cmocka_unit_test(test_sweep_over_the_mix),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
