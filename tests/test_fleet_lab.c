/* test_fleet_lab.c: mixed fleets in experiment files, runs, exports and the live driver
 * (issue 17). Bad fleet files are refused with file, line, column and key; mixes expand into
 * entries with their own clusters and the pools' defaults; a recorded preemption trace read
 * from a CSV file replays exactly (the notices at its times, the same run as the same times
 * written in the file); `gpenlab run` stores and prints the per-pool results and the fleet's
 * totals; the export of a fleet (per pool, spread; GKE and EKS labels) passes the schema check
 * (node + the pinned models, skipped when absent) and loads in `gpenlab drive --dry-run`, one
 * loop per Deployment. */
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

#include "base/cfg.h"
#include "drive/drive.h"
#include "lab/experiment.h"
#include "lab/export.h"
#include "lab/lab.h"
#include "lab/results_db.h"
#include "sim/sim.h"
#include "tests/testutil.h"

#define DATA "tests/data/fleet/"
#define SMALL DATA "small.yaml"
#define NODE_MODULES "build-node/node_modules"

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
    assert_int_equal(c->pool[0].max_pods, 4);   /* follows gpus_max */
    assert_int_equal(c->pool[0].min_pods, 1);   /* the cluster's */
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

/* ------------------------------------------------------------ export and drive */

static void do_export(const char *from, const char *label, const char *cloud, const char *dir)
{
    export_opts o;
    export_opts_default(&o);
    o.from = from;
    o.label = label;
    o.out_dir = dir;
    if (cloud)
        o.cloud = cloud;
    gp_error err;
    gp_error_clear(&err);
    if (export_run(&o, NULL, &err) < 0)
        tu_fail_error(&err, label);
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
    static const char *const files[] = {"gpen-t4-spot/deployment.yaml", "gpen-t4-spot/hpa.yaml",
                                        "gpen-h100/deployment.yaml", "gpen-h100/hpa.yaml",
                                        "service.yaml", "prometheus-rule.yaml",
                                        "prometheus-adapter.yaml", "drive.yaml", NULL};
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
    if (!tu_have_cmd("node") || access(NODE_MODULES "/kubernetes-models", F_OK) != 0) {
        print_message("SKIP schemas: needs node and %s (scripts/install_live_deps.sh)\n",
                      NODE_MODULES);
        skip();
    }
    char cmd[8192];
    int n = snprintf(cmd, sizeof(cmd),
                     "node tests/schemas/validate.mjs %s $(find %s/gke %s/eks %s/spread -name "
                     "'*.yaml' ! -name drive.yaml | sort) > %s/schema.txt 2>&1",
                     NODE_MODULES, tmpdir, tmpdir, tmpdir, tmpdir);
    assert_true(n > 0 && n < (int)sizeof(cmd));
    int rc = system(cmd);
    char p[PATH_MAX];
    snprintf(p, sizeof(p), "%s/schema.txt", tmpdir);
    char *out = tu_slurp(p);
    if (rc != 0)
        fail_msg("schema check failed:\n%s", out ? out : "(no output)");
    int oks = 0;
    for (const char *q = out; q && (q = strstr(q, "ok ")); q += 3)
        oks++;
    if (oks < 15)
        fail_msg("only %d manifests checked:\n%s", oks, out);
    free(out);
}

/* The fleet's drive.yaml (and a Deployment's own directory) in `gpenlab drive --dry-run`
 * with no cluster: a plan and a decision per Deployment, each naming it. */
static void test_drive_dry_run_fleet(void **state)
{
    (void)state;
    char dir[PATH_MAX], log_path[PATH_MAX];
    snprintf(dir, sizeof(dir), "%s/gke", tmpdir);
    snprintf(log_path, sizeof(log_path), "%s/drive.log", tmpdir);
    drive_run_opts o = {.config_path = dir, .dry_run = true, .ticks = 1,
                        .prometheus_url = "http://127.0.0.1:1", .redis_address = "127.0.0.1:1"};
    FILE *log = fopen(log_path, "w");
    assert_non_null(log);
    gp_error err;
    gp_error_clear(&err);
    int rc = drive_run(&o, log, &err);
    fclose(log);
    if (rc < 0)
        tu_fail_error(&err, "drive --dry-run");
    char *text = tu_slurp(log_path);
    int plans = 0, ticks = 0;
    for (const char *q = text; (q = strstr(q, "\"event\":\"plan\"")); q++)
        plans++;
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
    o.config_path = dir;
    log = fopen(log_path, "w");
    rc = drive_run(&o, log, &err);
    fclose(log);
    if (rc < 0)
        tu_fail_error(&err, "drive --dry-run gpen-h100");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad_fleet_files),
        cmocka_unit_test(test_mixes_expand),
        cmocka_unit_test(test_preemption_trace_file_replays),
        cmocka_unit_test(test_run_stores_and_prints_pools),
        cmocka_unit_test(test_export_fleet),
        cmocka_unit_test(test_export_fleet_schemas),
        cmocka_unit_test(test_drive_dry_run_fleet),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
