/* test_export.c: `gpenlab export` and `--import`. For every exportable policy of
 * experiments/drive_policies.yaml: export, read the manifests back into a policy entry,
 * simulate the original and the imported entry with the same seeds and compare every
 * run_summary field exactly (the round trip). Every manifest is checked against the
 * official Kubernetes / KEDA / Knative / prometheus-operator schemas (node + the pinned
 * npm models in build-node/, installed by scripts/install_live_deps.sh; skipped with a
 * message when absent) and the recording rules with promtool (skipped when absent). Also:
 * units in the manifests, export from a results database, and the refusals. */
#include <dirent.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "base/cfg.h"
#include "cli/commands.h"
#include "lab/experiment.h"
#include "lab/export.h"
#include "lab/lab.h"
#include "lab/results_db.h"
#include "lab/sweep.h"
#include "sim/sim.h"
#include "tests/testutil.h"

#define EXP "experiments/drive_policies.yaml"

/* The entries whose manifests read back into the same policy (the round trip). */
static const char *const labels[] = {"static-4",  "hpa-gpu",    "keda-queue", "kpa-conc",
                                     "gpen-rule", "predictive", NULL};
/* Every exportable entry: the above, and serverless, whose live form is a Knative
 * Service (read back as the kpa that runs it there). */
static const char *const exportable[] = {"static-4",        "hpa-gpu",   "keda-queue", "kpa-conc",
                                         "serverless-keep", "gpen-rule", "predictive", NULL};

/* export_run with these choices; its log in *log (malloc'd) when log is not NULL */
static int export_from(const char *from, const char *label, long point, const char *dir, char **log,
                       gp_error *err)
{
    export_opts o;
    export_opts_default(&o);
    o.from = from;
    o.label = label;
    o.point = point;
    o.out_dir = dir;
    size_t len = 0;
    FILE *mf = log ? open_memstream(log, &len) : NULL;
    gp_error_clear(err);
    int rc = export_run(&o, mf, err);
    if (mf)
        fclose(mf);
    return rc;
}

static int do_export(const char *label, const char *from, const char *dir, gp_error *err)
{
    return export_from(from, label, -1, dir, NULL, err);
}

/* The experiment's text up to `policies:`, with the profile as an absolute path, then
 * `policies:` and the given entries. */
static char *experiment_with(const char *entries)
{
    char *text = tu_slurp(EXP);
    assert_non_null(text);
    char *pol = strstr(text, "\npolicies:");
    assert_non_null(pol);
    pol[1] = '\0';
    char prof[PATH_MAX];
    assert_non_null(realpath("gpu/profiles/t4-seed", prof));
    char *line = strstr(text, "profile: ../gpu/profiles/t4-seed");
    assert_non_null(line);
    size_t need = strlen(text) + strlen(prof) + strlen(entries) + 64;
    char *out = malloc(need);
    assert_non_null(out);
    int head = (int)(line - text);
    snprintf(out, need, "%.*sprofile: %s%s\npolicies:\n%s", head, text, prof,
             line + strlen("profile: ../gpu/profiles/t4-seed"), entries);
    free(text);
    return out;
}

static void run_entry(const experiment *e, int pi, int rep, run_summary *s)
{
    sim_cfg c;
    experiment_sim_cfg(e, pi, rep, &c);
    c.record_series = false;
    c.record_requests = false;
    gp_error err;
    gp_error_clear(&err);
    int rc = sim_run(&c, s, NULL, NULL, &err);
    if (rc < 0)
        fail_msg("%s: sim_run: %s", e->policy[pi].label, err.msg);
}

static int entry_index(const experiment *e, const char *label)
{
    for (int i = 0; i < e->n_policies; i++)
        if (strcmp(e->policy[i].label, label) == 0)
            return i;
    return -1;
}

/* export -> import -> simulate: every run_summary field equal, replications 0 and 1 */
static void test_round_trip(void **state)
{
    (void)state;
    experiment *orig;
    gp_error err;
    gp_error_clear(&err);
    char *otext = experiment_with("");
    free(otext);
    assert_int_equal(experiment_load(EXP, &orig, &err), 0);
    char tmpl[] = "/tmp/gpenlab-export-XXXXXX";
    assert_non_null(mkdtemp(tmpl));
    size_t nf;
    const field_desc *fields = result_fields_run(&nf);
    int compared = 0;
    for (int li = 0; labels[li]; li++) {
        char dir[PATH_MAX];
        snprintf(dir, sizeof(dir), "%s/%s", tmpl, labels[li]);
        if (do_export(labels[li], EXP, dir, &err) < 0)
            fail_msg("%s: export: %s", labels[li], err.msg);
        char *entry = NULL;
        size_t len = 0;
        FILE *mf = open_memstream(&entry, &len);
        int rc = export_import(dir, mf, &err);
        fclose(mf);
        if (rc < 0)
            fail_msg("%s: import: %s", labels[li], err.msg);
        /* the entry comes back under its label, from the manifests */
        char want[128];
        snprintf(want, sizeof(want), "label: \"%s\"", labels[li]);
        if (!strstr(entry, want))
            fail_msg("%s: imported entry has no %s:\n%s", labels[li], want, entry);
        char *text = experiment_with(entry);
        char path[PATH_MAX];
        snprintf(path, sizeof(path), "%s/%s.yaml", tmpl, labels[li]);
        tu_write_text(path, text);
        free(text);
        free(entry);
        experiment *imp;
        if (experiment_load(path, &imp, &err) < 0)
            fail_msg("%s: the imported experiment does not load: %s:%ld: %s: %s", labels[li],
                     err.file, err.line, err.field, err.msg);
        int pi = entry_index(orig, labels[li]);
        assert_true(pi >= 0);
        assert_int_equal(imp->n_policies, 1);
        assert_string_equal(imp->policy[0].ops->name, orig->policy[pi].ops->name);
        for (int rep = 0; rep < 2; rep++) {
            run_summary a, b;
            run_entry(orig, pi, rep, &a);
            run_entry(imp, 0, rep, &b);
            assert_true(a.scale_events > 0 || strcmp(labels[li], "static-4") == 0);
            for (size_t f = 0; f < nf; f++) {
                if (strcmp(fields[f].name, "wall_s") == 0)
                    continue;
                char va[128], vb[128];
                result_field_format(&fields[f], &a, va, sizeof(va));
                result_field_format(&fields[f], &b, vb, sizeof(vb));
                if (strcmp(va, vb) != 0)
                    fail_msg("%s rep %d: %s: original %s, imported %s", labels[li], rep,
                             fields[f].name, va, vb);
                compared++;
            }
        }
        experiment_free(imp);
    }
    assert_true(compared > 100);
    experiment_free(orig);
    tu_rm_rf(tmpl);
}

/* Every manifest against the official schemas; the two known-bad ones must fail. */
static void test_schemas(void **state)
{
    (void)state;
    if (!tu_have_schema_check())
        skip();
    char tmpl[] = "/tmp/gpenlab-schema-XXXXXX";
    assert_non_null(mkdtemp(tmpl));
    gp_error err;
    int files = 0;
    for (int li = 0; exportable[li]; li++) {
        char dir[1024];
        snprintf(dir, sizeof(dir), "%s/%s", tmpl, exportable[li]);
        if (do_export(exportable[li], EXP, dir, &err) < 0)
            fail_msg("%s: export: %s", exportable[li], err.msg);
        static const char *const manifests[] = {
            "deployment.yaml",         "service.yaml",         "hpa.yaml",
            "prometheus-adapter.yaml", "scaledobject.yaml",    "knative-service.yaml",
            "config-autoscaler.yaml",  "prometheus-rule.yaml", NULL};
        for (int m = 0; manifests[m]; m++) {
            char p[PATH_MAX + 64];
            snprintf(p, sizeof(p), "%s/%s", dir, manifests[m]);
            if (access(p, F_OK) == 0) {
                files++;
            }
        }
    }
    assert_true(files >= 24);
    assert_int_equal(tu_expect_schemas_ok((const char *const[]){tmpl, NULL}, files), files);
    /* the validator fails what it must */
    static const char *const bad[] = {"tests/schemas/bad/hpa_bad_types.yaml",
                                      "tests/schemas/bad/scaledobject_number_metadata.yaml", NULL};
    for (int i = 0; bad[i]; i++) {
        if (tu_schema_accepts(bad[i]))
            fail_msg("%s: the schema check passed a bad manifest", bad[i]);
    }
    tu_rm_rf(tmpl);
}

/* The recording rules are valid PromQL rule files. */
static void test_promtool(void **state)
{
    (void)state;
    if (!tu_have_cmd("promtool")) {
        print_message("SKIP promtool: not installed (scripts/install_live_deps.sh)\n");
        skip();
    }
    char tmpl[] = "/tmp/gpenlab-promtool-XXXXXX";
    assert_non_null(mkdtemp(tmpl));
    gp_error err;
    assert_int_equal(do_export("hpa-gpu", EXP, tmpl, &err), 0);
    char rules[PATH_MAX];
    snprintf(rules, sizeof(rules), "%s/recording-rules.yml", tmpl);
    gp_proc_result r = tu_proc_run(
        &(gp_proc_spec){.argv = (const char *const[]){"promtool", "check", "rules", rules, NULL},
                        .out = GP_PROC_CAPTURE,
                        .err = GP_PROC_STDOUT});
    if (!gp_proc_ok(&r))
        fail_msg("promtool check rules %s:\n%s", rules, r.out);
    gp_proc_result_free(&r);
    /* and a broken one is refused (the check can fail) */
    char bad[PATH_MAX];
    snprintf(bad, sizeof(bad), "%s/bad.yml", tmpl);
    tu_write_text(bad, "groups:\n- name: g\n  rules:\n  - record: x\n    expr: sum(rate(a[1m]\n");
    r = tu_proc_run(
        &(gp_proc_spec){.argv = (const char *const[]){"promtool", "check", "rules", bad, NULL}});
    assert_false(gp_proc_ok(&r));
    tu_rm_rf(tmpl);
}

static const cfg_node *at(const cfg_node *n, const char *const *path)
{
    for (size_t i = 0; n && path[i]; i++) {
        if (path[i][0] == '#')
            n = cfg_seq_at(n, (size_t)atoi(path[i] + 1));
        else
            n = cfg_map_get(n, path[i]);
    }
    return n;
}

/* Values keep the API's units: seconds, quantities as strings, the GPU as a resource. */
static void test_units(void **state)
{
    (void)state;
    char tmpl[] = "/tmp/gpenlab-units-XXXXXX";
    assert_non_null(mkdtemp(tmpl));
    gp_error err;
    assert_int_equal(do_export("hpa-gpu", EXP, tmpl, &err), 0);
    char p[PATH_MAX];
    snprintf(p, sizeof(p), "%s/deployment.yaml", tmpl);
    cfg_doc *doc;
    assert_int_equal(cfg_load_file(p, &doc, &err), 0);
    static const struct {
        const char *name;
        const char *path[10];
        const char *want;
    } rows[] = {
        {"grace from termination_grace 45s",
         {"spec", "template", "spec", "terminationGracePeriodSeconds"},
         "45"},
        {"readiness delay 2s",
         {"spec", "template", "spec", "containers", "#0", "readinessProbe", "initialDelaySeconds"},
         "2"},
        {"one GPU per pod",
         {"spec", "template", "spec", "containers", "#0", "resources", "limits", "nvidia.com/gpu"},
         "1"},
        {"preStop stops taking work",
         {"spec", "template", "spec", "containers", "#0", "lifecycle", "preStop", "httpGet",
          "path"},
         "/drain"},
        {"replicas at min", {"spec", "replicas"}, "1"},
        {"concurrency to the pod",
         {"spec", "template", "spec", "containers", "#0", "env", "#0", "value"},
         "5"},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        const char *got = cfg_scalar(at(cfg_root(doc), rows[i].path));
        if (!got || strcmp(got, rows[i].want) != 0)
            fail_msg("%s: got %s want %s", rows[i].name, got ? got : "(none)", rows[i].want);
    }
    cfg_free(doc);
    snprintf(p, sizeof(p), "%s/hpa.yaml", tmpl);
    char *hpa = tu_slurp(p);
    assert_non_null(hpa);
    /* quantities stay strings in their unit; the latency target keeps its milli suffix */
    assert_non_null(strstr(hpa, "averageValue: \"60\""));
    assert_non_null(strstr(hpa, "value: \"4500m\""));
    assert_non_null(strstr(hpa, "stabilizationWindowSeconds: 120"));
    assert_null(strstr(hpa, "controller"));
    free(hpa);
    snprintf(p, sizeof(p), "%s/kube-controller-manager.flags", tmpl);
    char *flags = tu_slurp(p);
    assert_non_null(flags);
    assert_non_null(strstr(flags, "--horizontal-pod-autoscaler-tolerance=0.05\n"));
    free(flags);
    snprintf(p, sizeof(p), "%s/prometheus-rule.yaml", tmpl);
    char *rules = tu_slurp(p);
    assert_non_null(rules);
    /* the DCGM exporter's names, the latency window of the experiment (60s) */
    assert_non_null(
        strstr(rules, "DCGM_FI_DEV_FB_USED{namespace=\\\"gpen\\\"} / (DCGM_FI_DEV_FB_USED"));
    assert_non_null(strstr(rules, "DCGM_FI_DEV_FB_FREE"));
    assert_non_null(strstr(rules, "DCGM_FI_DEV_GPU_UTIL"));
    assert_non_null(strstr(rules, "[60s]"));
    free(rules);
    snprintf(p, sizeof(p), "%s/gpu-time-slicing.yaml", tmpl);
    assert_int_not_equal(access(p, F_OK), 0); /* one pod per GPU: no sharing */
    tu_rm_rf(tmpl);
}

/* cluster.gpu_share pods per GPU: the device plugin's time-slicing hands each GPU out
 * gpu_share times (the config the GPU operator reads, in a ConfigMap). */
static void test_gpu_share(void **state)
{
    (void)state;
    char tmpl[] = "/tmp/gpenlab-exshare-XXXXXX";
    assert_non_null(mkdtemp(tmpl));
    char *text = experiment_with("  - {label: sl, policy: serverless, config: {keep_alive: 2m}}\n");
    char *at_cluster = strstr(text, "cluster:\n");
    assert_non_null(at_cluster);
    size_t need = strlen(text) + 64;
    char *shared = malloc(need);
    assert_non_null(shared);
    snprintf(shared, need, "%.*scluster:\n  gpu_share: 3\n%s", (int)(at_cluster - text), text,
             at_cluster + strlen("cluster:\n"));
    free(text);
    char exp[PATH_MAX], out[PATH_MAX], p[PATH_MAX + 32];
    snprintf(exp, sizeof(exp), "%s/e.yaml", tmpl);
    snprintf(out, sizeof(out), "%s/out", tmpl);
    tu_write_text(exp, shared);
    free(shared);
    gp_error err;
    if (do_export("sl", exp, out, &err) < 0)
        fail_msg("export: %s", err.msg);
    snprintf(p, sizeof(p), "%s/gpu-time-slicing.yaml", out);
    cfg_doc *doc, *inner;
    assert_int_equal(cfg_load_file(p, &doc, &err), 0);
    const char *any = cfg_scalar(at(cfg_root(doc), (const char *const[]){"data", "any", NULL}));
    assert_non_null(any);
    assert_int_equal(cfg_load_string("any", any, strlen(any), &inner, &err), 0);
    const char *replicas =
        cfg_scalar(at(cfg_root(inner), (const char *const[]){"sharing", "timeSlicing", "resources",
                                                             "#0", "replicas", NULL}));
    assert_non_null(replicas);
    assert_string_equal(replicas, "3");
    cfg_free(inner);
    cfg_free(doc);
    tu_rm_rf(tmpl);
}

/* --from a results database gives the same manifests as --from the YAML. */
static void test_from_db(void **state)
{
    (void)state;
    char tmpl[] = "/tmp/gpenlab-exdb-XXXXXX";
    assert_non_null(mkdtemp(tmpl));
    char dbp[256], a[256], b[256];
    snprintf(dbp, sizeof(dbp), "%s/r.db", tmpl);
    snprintf(a, sizeof(a), "%s/yaml", tmpl);
    snprintf(b, sizeof(b), "%s/db", tmpl);
    char *yaml = tu_slurp(EXP), *prof = tu_slurp("gpu/profiles/t4-seed");
    assert_non_null(yaml);
    assert_non_null(prof);
    results_db *db;
    gp_error err;
    assert_int_equal(results_db_open(dbp, &db, &err), 0);
    int64_t id;
    assert_int_equal(results_db_experiment_upsert(db, "drive_policies", EXP, yaml, prof, &id, &err),
                     0);
    results_db_close(db);
    free(yaml);
    free(prof);
    static const char *const files[] = {"keda-queue/scaledobject.yaml", "predictive/drive.yaml",
                                        NULL};
    for (int i = 0; files[i]; i++) {
        char label[64];
        snprintf(label, sizeof(label), "%.*s", (int)strcspn(files[i], "/"), files[i]);
        char da[512], dbd[512];
        snprintf(da, sizeof(da), "%s/%s", a, label);
        snprintf(dbd, sizeof(dbd), "%s/%s", b, label);
        if (do_export(label, EXP, da, &err) < 0 || do_export(label, dbp, dbd, &err) < 0)
            fail_msg("%s: %s", label, err.msg);
        char pa[1024], pb[1024];
        snprintf(pa, sizeof(pa), "%s/%s", a, files[i]);
        snprintf(pb, sizeof(pb), "%s/%s", b, files[i]);
        char *ta = tu_slurp(pa), *tb = tu_slurp(pb);
        assert_non_null(ta);
        assert_non_null(tb);
        /* the header comment names the source and the choice; the rest is the same */
        const char *ra = ta, *rb = tb;
        while (*ra == '#')
            ra = strchr(ra, '\n') + 1;
        while (*rb == '#')
            rb = strchr(rb, '\n') + 1;
        if (strcmp(ra, rb) != 0)
            fail_msg("%s: from the database differs:\n%s\n---\n%s", files[i], ta, tb);
        free(ta);
        free(tb);
    }
    tu_rm_rf(tmpl);
}

/* Serverless exports as a Knative Service: a pod per containerConcurrency requests, a new
 * one only when all are busy, an idle one kept for the keep-alive (scale-down delay) and
 * the last one too (scale-to-zero retention); read back, it is the kpa that runs it, and
 * that entry loads and simulates. */
static void test_serverless_knative(void **state)
{
    (void)state;
    char tmpl[] = "/tmp/gpenlab-exsl-XXXXXX";
    assert_non_null(mkdtemp(tmpl));
    gp_error err;
    if (do_export("serverless-keep", EXP, tmpl, &err) < 0)
        fail_msg("export: %s", err.msg);
    char p[PATH_MAX];
    snprintf(p, sizeof(p), "%s/deployment.yaml", tmpl);
    assert_int_not_equal(access(p, F_OK), 0); /* Knative runs the pods */
    snprintf(p, sizeof(p), "%s/knative-service.yaml", tmpl);
    cfg_doc *doc;
    assert_int_equal(cfg_load_file(p, &doc, &err), 0);
    const cfg_node *ann = at(
        cfg_root(doc), (const char *const[]){"spec", "template", "metadata", "annotations", NULL});
    static const struct {
        const char *key, *want;
    } rows[] = {
        {"autoscaling.knative.dev/class", "kpa.autoscaling.knative.dev"},
        {"autoscaling.knative.dev/metric", "concurrency"},
        {"autoscaling.knative.dev/target", "5"}, /* cluster.concurrency */
        {"autoscaling.knative.dev/target-utilization-percentage", "100"},
        {"autoscaling.knative.dev/min-scale", "1"},
        {"autoscaling.knative.dev/max-scale", "10"},
        {"autoscaling.knative.dev/scale-down-delay", "300s"}, /* keep_alive: 5m */
        {"autoscaling.knative.dev/scale-to-zero-pod-retention-period", "300s"},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        const char *got = cfg_scalar(cfg_map_get(ann, rows[i].key));
        if (!got || strcmp(got, rows[i].want) != 0)
            fail_msg("%s: got %s want %s", rows[i].key, got ? got : "(none)", rows[i].want);
    }
    const char *cc =
        cfg_scalar(at(cfg_root(doc), (const char *const[]){"spec", "template", "spec",
                                                           "containerConcurrency", NULL}));
    assert_non_null(cc);
    assert_string_equal(cc, "5");
    cfg_free(doc);
    /* read back: the kpa that runs it, with the same annotations; it simulates */
    char *entry = NULL;
    size_t len = 0;
    FILE *mf = open_memstream(&entry, &len);
    int rc = export_import(tmpl, mf, &err);
    fclose(mf);
    if (rc < 0)
        fail_msg("import: %s", err.msg);
    assert_non_null(strstr(entry, "policy: \"kpa\""));
    assert_non_null(strstr(entry, "scale-down-delay: \"300s\""));
    char *text = experiment_with(entry);
    free(entry);
    snprintf(p, sizeof(p), "%s/imported.yaml", tmpl);
    tu_write_text(p, text);
    free(text);
    experiment *imp;
    if (experiment_load(p, &imp, &err) < 0)
        fail_msg("the imported entry does not load: %s", err.msg);
    run_summary sum;
    run_entry(imp, 0, 0, &sum);
    assert_true(sum.completed > 0);
    experiment_free(imp);
    tu_rm_rf(tmpl);
}

/* The value at `path` of the YAML file DIR/NAME, copied into buf ("" when absent). */
static const char *value_in(const char *dir, const char *name, const char *const *path, char *buf,
                            size_t cap)
{
    char p[PATH_MAX];
    snprintf(p, sizeof(p), "%s/%s", dir, name);
    cfg_doc *doc;
    gp_error err;
    buf[0] = '\0';
    if (cfg_load_file(p, &doc, &err) == 0) {
        const char *v = cfg_scalar(at(cfg_root(doc), path));
        snprintf(buf, cap, "%s", v ? v : "");
        cfg_free(doc);
    }
    return buf;
}

/* `gpenlab export --from SWEEP.db` exports the sweep's winner, the point `gpenlab sweep`
 * names. Regression: `--policy keda --from SWEEP.db` exported the newest point
 * (minReplicaCount 1) instead of the winner's 0. --point chooses another point. */
static void test_winner_of_sweep(void **state)
{
    (void)state;
    char tmpl[] = "/tmp/gpenlab-exsweep-XXXXXX";
    assert_non_null(mkdtemp(tmpl));
    char prof[PATH_MAX], base[PATH_MAX], swp[PATH_MAX], db[PATH_MAX + 16];
    assert_non_null(realpath("gpu/profiles/t4-seed", prof));
    snprintf(base, sizeof(base), "%s/base.yaml", tmpl);
    snprintf(swp, sizeof(swp), "%s/sweep.yaml", tmpl);
    snprintf(db, sizeof(db), "%s/sweep.db", tmpl);
    /* rare requests: a KEDA that may scale to zero costs less and still meets the SLO */
    char text[PATH_MAX + 2048];
    snprintf(text, sizeof(text),
             "name: keda_base\nseed: 3\nreplications: 2\nprofile: %s\n"
             "workload: {type: poisson, rate_per_s: 0.01, duration: 4h}\n"
             "cluster: {gpus: 4, min_pods: 0, max_pods: 4, concurrency: 5, timeout: 60s, "
             "slo: 40s}\n"
             "policies:\n  - label: keda\n    policy: keda\n    config:\n      spec:\n"
             "        minReplicaCount: 1\n        maxReplicaCount: 4\n"
             "        pollingInterval: 15\n        cooldownPeriod: 60\n        triggers:\n"
             "        - type: redis\n          metadata: {listName: \"gpen:pending\", "
             "listLength: \"3\", activationListLength: \"0\"}\n",
             prof);
    tu_write_text(base, text);
    snprintf(text, sizeof(text),
             "name: keda_min\nbase: base.yaml\npolicy: keda\nreplications: 2\ndb: sweep.db\n"
             "parameters:\n  - {path: config.spec.minReplicaCount, values: [0, 1]}\n"
             "objective: {minimise: gpu_hours, constraints: [{metric: slo_pct, min: 50}]}\n");
    tu_write_text(swp, text);
    sweep *sw = NULL;
    gp_error err;
    if (sweep_load(swp, &sw, &err) < 0)
        fail_msg("sweep: %s", err.msg);
    sweep_run_stats st;
    if (sweep_run_local(sw, 1, NULL, &st, &err) < 0)
        fail_msg("sweep run: %s", err.msg);
    /* what the sweep itself names */
    char *report = NULL;
    size_t rlen = 0;
    FILE *mf = open_memstream(&report, &rlen);
    assert_int_equal(sweep_report(sw, mf, NULL, NULL, &err), 0);
    fclose(mf);
    assert_non_null(strstr(report, "winner: p0000 (config.spec.minReplicaCount=0)"));
    free(report);
    sweep_free(sw);
    static const char *const min_path[] = {"spec", "minReplicaCount", NULL};
    const struct {
        const char *name, *label;
        long point;
        int code;
        const char *want; /* minReplicaCount, or the error's words */
    } rows[] = {
        {"the issue's command: --policy keda", "keda", -1, 0, "0"},
        {"no label: the winner", NULL, -1, 0, "0"},
        {"--point 1", NULL, 1, 0, "1"},
        {"--point 0", NULL, 0, 0, "0"},
        {"--label and --point", "keda", 1, 0, "1"},
        {"a point that is not there", NULL, 9, GP_ERANGE, "has no point 9"},
        {"a label the winner did not run", "hpa", -1, GP_EUNKNOWN,
         "point p0000 of sweep keda_min ran policy \"keda\", not \"hpa\""},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        char dir[PATH_MAX + 32], buf[64];
        snprintf(dir, sizeof(dir), "%s/out%zu", tmpl, i);
        char *log = NULL;
        int rc = export_from(db, rows[i].label, rows[i].point, dir, &log, &err);
        if (rc != rows[i].code)
            fail_msg("%s: got %d want %d (%s)\n%s", rows[i].name, rc, rows[i].code, err.msg, log);
        if (rc < 0) {
            if (!strstr(err.msg, rows[i].want))
                fail_msg("%s: \"%s\" lacks \"%s\"", rows[i].name, err.msg, rows[i].want);
        } else {
            value_in(dir, "scaledobject.yaml", min_path, buf, sizeof(buf));
            if (strcmp(buf, rows[i].want) != 0)
                fail_msg("%s: minReplicaCount %s, want %s\n%s", rows[i].name, buf, rows[i].want,
                         log);
            /* it says which it chose and why: the sweep's own winner line */
            if (!strstr(log, "winner: p0000 (config.spec.minReplicaCount=0): gpu_hours =") ||
                !strstr(log, rows[i].point < 0 ? "export: the winner of sweep keda_min"
                                               : "chosen with --point"))
                fail_msg("%s: the log does not say why:\n%s", rows[i].name, log);
        }
        free(log);
    }
    tu_rm_rf(tmpl);
}

/* `gpenlab export --from RUN.db` exports the winner `gpenlab run` printed (its objective,
 * its paired CI); --label chooses another; a winner with no live form, or none at all, is
 * refused in one line naming what to export instead. */
static void test_winner_of_run(void **state)
{
    (void)state;
    char tmpl[] = "/tmp/gpenlab-exrun-XXXXXX";
    assert_non_null(mkdtemp(tmpl));
    char prof[PATH_MAX];
    assert_non_null(realpath("gpu/profiles/t4-seed", prof));
    static const struct {
        const char *name, *objective, *policies, *label;
        int code;
        const char *want; /* the Deployment's replicas, or the error's words */
    } rows[] = {
        {"the cheapest that meets the SLO",
         "{minimise: cost, constraints: [{metric: slo_pct, min: 95}]}",
         "  - {label: static-1, policy: static, config: {pods: 1}}\n"
         "  - {label: static-2, policy: static, config: {pods: 2}}\n"
         "  - {label: static-4, policy: static, config: {pods: 4}}\n",
         NULL, 0, "1"},
        {"--label chooses another", "{minimise: cost, constraints: [{metric: slo_pct, min: 95}]}",
         "  - {label: static-1, policy: static, config: {pods: 1}}\n"
         "  - {label: static-4, policy: static, config: {pods: 4}}\n",
         "static-4", 0, "4"},
        {"the winner has no live form",
         "{minimise: cost, constraints: [{metric: slo_pct, min: 95}]}",
         "  - {label: static-1, policy: static, config: {pods: 1}}\n"
         "  - {label: static-4, policy: static, config: {pods: 4}}\n"
         "  - {label: oracle, policy: clairvoyant}\n",
         NULL, GP_ENOTSUP,
         "the winner of experiment e, oracle, is policy clairvoyant, which has no live form: "
         "it reads the future (the run's trace), which no cluster knows; the winner among the "
         "policies that have one is static-1: export it with --label static-1"},
        {"none meets the objective", "{minimise: cost, constraints: [{metric: p50_s, max: 0.001}]}",
         "  - {label: static-1, policy: static, config: {pods: 1}}\n"
         "  - {label: static-4, policy: static, config: {pods: 4}}\n",
         NULL, GP_ENOTSUP, "so there is no winner to export; the closest is static-"},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        char exp[PATH_MAX + 16], db[PATH_MAX + 16], dir[PATH_MAX + 16], text[PATH_MAX + 2048];
        snprintf(exp, sizeof(exp), "%s/e%zu.yaml", tmpl, i);
        snprintf(db, sizeof(db), "%s/r%zu.db", tmpl, i);
        snprintf(dir, sizeof(dir), "%s/out%zu", tmpl, i);
        snprintf(text, sizeof(text),
                 "name: e\nseed: 5\nreplications: 2\nprofile: %s\n"
                 "workload: {type: poisson, rate_per_s: 0.3, duration: 1h}\n"
                 "cluster: {gpus: 6, min_pods: 0, max_pods: 6, concurrency: 5, timeout: 60s, "
                 "slo: 20s}\nobjective: %s\npolicies:\n%s",
                 prof, rows[i].objective, rows[i].policies);
        tu_write_text(exp, text);
        experiment *e = NULL;
        gp_error err;
        if (experiment_load(exp, &e, &err) < 0)
            fail_msg("%s: %s", rows[i].name, err.msg);
        lab_opts lo;
        lab_opts_default(&lo);
        lo.db_path = db;
        lo.jobs = 1;
        char *table = NULL;
        size_t tlen = 0;
        FILE *mf = open_memstream(&table, &tlen);
        int rc = lab_run(e, &lo, mf, &err);
        fclose(mf);
        experiment_free(e);
        if (rc < 0)
            fail_msg("%s: run: %s", rows[i].name, err.msg);
        char *log = NULL;
        rc = export_from(db, rows[i].label, -1, dir, &log, &err);
        if (rc != rows[i].code)
            fail_msg("%s: got %d want %d (%s)\n%s", rows[i].name, rc, rows[i].code, err.msg, log);
        if (rc < 0) {
            if (!strstr(err.msg, rows[i].want))
                fail_msg("%s: \"%s\" lacks \"%s\"", rows[i].name, err.msg, rows[i].want);
        } else {
            static const char *const rep_path[] = {"spec", "replicas", NULL};
            char buf[64];
            value_in(dir, "deployment.yaml", rep_path, buf, sizeof(buf));
            if (strcmp(buf, rows[i].want) != 0)
                fail_msg("%s: replicas %s, want %s\n%s", rows[i].name, buf, rows[i].want, log);
            /* the same winner lines as the run printed */
            const char *w = strstr(table, "winner: ");
            assert_non_null(w);
            char line[256];
            snprintf(line, sizeof(line), "%.*s", (int)strcspn(w, "\n"), w);
            if (!strstr(log, line))
                fail_msg("%s: export's log lacks the run's \"%s\":\n%s", rows[i].name, line, log);
        }
        free(log);
        free(table);
    }
    tu_rm_rf(tmpl);
}

static void test_refusals(void **state)
{
    (void)state;
    char tmpl[] = "/tmp/gpenlab-exbad-XXXXXX";
    assert_non_null(mkdtemp(tmpl));
    char *text = experiment_with(
        "  - {label: sl-hybrid, policy: serverless, config: {keep_alive_policy: hybrid}}\n"
        "  - {label: sl-2h, policy: serverless, config: {keep_alive: 2h}}\n"
        "  - {label: oracle, policy: clairvoyant}\n"
        "  - {label: badhpa, policy: hpa, config: {maxReplicas: 4, metrics: [{type: Resource, "
        "resource: {name: cpu, target: {type: Utilization, averageUtilization: 50}}}]}}\n");
    char exp[PATH_MAX], out[PATH_MAX], typo[PATH_MAX];
    snprintf(exp, sizeof(exp), "%s/e.yaml", tmpl);
    snprintf(out, sizeof(out), "%s/out", tmpl);
    snprintf(typo, sizeof(typo), "%s/typo.yaml", tmpl);
    tu_write_text(exp, text);
    /* a misspelt cluster key: the experiment's own reader refuses it (export used to
     * parse the cluster again, without a key check, and export the default) */
    char *at_cluster = strstr(text, "  concurrency: 5");
    assert_non_null(at_cluster);
    memcpy(at_cluster, "  concurency: 5 ", 16);
    tu_write_text(typo, text);
    free(text);
    const struct {
        const char *name, *label, *from;
        int code;
        const char *msg;
    } rows[] = {
        {"clairvoyant names the closest exportable", "oracle", NULL, GP_ENOTSUP,
         "policy clairvoyant has no live form: it reads the future (the run's trace), which no "
         "cluster knows; the closest exportable policy is predictive"},
        {"hybrid keep-alive names the fixed one", "sl-hybrid", NULL, GP_ENOTSUP,
         "the closest exportable policy is serverless with keep_alive_policy: fixed"},
        {"keep-alive past Knative's 1h", "sl-2h", NULL, GP_ENOTSUP,
         "the closest exportable policy is serverless with keep_alive: 1h"},
        {"a config the simulator refuses", "badhpa", NULL, GP_ENOTSUP, "cpu"},
        {"unknown label lists the labels", "nope", NULL, GP_EUNKNOWN,
         "labels: sl-hybrid, sl-2h, oracle, badhpa"},
        {"missing source", "oracle", "/nonexistent/x.yaml", GP_EMISSING, "cannot open"},
        {"the experiment reader's key check", "hpa-gpu", typo, GP_EUNKNOWN,
         "unknown key 'concurency' (did you mean 'concurrency'?)"},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        gp_error err;
        int rc = do_export(rows[i].label, rows[i].from ? rows[i].from : exp, out, &err);
        if (rc != rows[i].code)
            fail_msg("%s: got %d want %d (%s)", rows[i].name, rc, rows[i].code, err.msg);
        if (!strstr(err.msg, rows[i].msg))
            fail_msg("%s: message \"%s\" lacks \"%s\"", rows[i].name, err.msg, rows[i].msg);
    }
    /* import of a directory with no manifests */
    gp_error err;
    FILE *devnull = fopen("/dev/null", "w");
    assert_int_equal(export_import(tmpl, devnull, &err), GP_EMISSING);
    fclose(devnull);
    /* the command line: --policy without a value, unknown option */
    char *argv1[] = {"export", "--policy", NULL};
    assert_int_equal(cmd_export(2, argv1, stdout, &err), GP_EMISSING);
    char *argv2[] = {"export", "--bogus", "x", NULL};
    assert_int_equal(cmd_export(3, argv2, stdout, &err), GP_EUNKNOWN);
    tu_rm_rf(tmpl);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),    cmocka_unit_test(test_schemas),
        cmocka_unit_test(test_promtool),      cmocka_unit_test(test_units),
        cmocka_unit_test(test_from_db),       cmocka_unit_test(test_serverless_knative),
        cmocka_unit_test(test_gpu_share),     cmocka_unit_test(test_winner_of_sweep),
        cmocka_unit_test(test_winner_of_run), cmocka_unit_test(test_refusals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
