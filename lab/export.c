/* export.c: manifests for one policy of an experiment, and the way back (see export.h).
 * The policy's own `config:` is copied into the native object (an HPA manifest, a
 * ScaledObject, Knative annotations and config-autoscaler), so the exported object is
 * what the simulation ran; gpenlab-specific settings with no place in the API (the HPA
 * controller's flags) go to a file beside it. Nothing here talks to a cluster. */
#include "lab/export.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/cfg.h"
#include "base/common.h"
#include "base/fileio.h"
#include "base/ytree.h"
#include "lab/drive_queries.h"
#include "lab/results_db.h"
#include "policy/policy.h"
#include "profile/profile.h"
#include "sim/sim.h"
#include "traces/trace.h"

void export_opts_default(export_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->app = "gpen";
    o->ns = "gpen";
    o->image = "registry.example.com/gpen:latest";
    o->port = 8080;
    o->prometheus_url = "http://prometheus-operated.monitoring.svc:9090";
    o->redis_address = "redis.gpen.svc:6379";
}

/* ------------------------------------------------------------------ the source */

typedef struct xsrc {
    cfg_doc *doc;
    char file[512];
    char exp_name[64];
    uint64_t seed;
    cluster_cfg cluster;
    metrics_cfg metrics;
    gpu_profile *profile; /* NULL when it could not be read: no capacity estimates */
    const cfg_node *entry;
    const cfg_node *config;
    const policy_ops *ops;
    char label[64];
    policy_env env;
    policy_info info;
} xsrc;

static void xsrc_free(xsrc *s)
{
    cfg_free(s->doc);
    free(s->profile);
}

static bool is_sqlite(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return false;
    char magic[16] = {0};
    size_t n = fread(magic, 1, sizeof(magic), f);
    fclose(f);
    return n == sizeof(magic) && memcmp(magic, "SQLite format 3", 16) == 0;
}

/* The newest experiment in the database that has runs labelled `label` (else the
 * newest of all): its YAML text, file name and profile text. */
static int load_from_db(const char *path, const char *label, xsrc *s, char **profile_text,
                        gp_error *err)
{
    results_db *db;
    TRY(results_db_open_read(path, &db, err));
    results_db_inputs in;
    int rc = results_db_inputs_for_label(db, label, &in, err);
    results_db_close(db);
    if (rc == 0) {
        snprintf(s->file, sizeof(s->file), "%s (in %s)", in.file ? in.file : "experiment", path);
        rc = cfg_load_string(s->file, in.yaml_text, strlen(in.yaml_text), &s->doc, err);
        if (rc == 0 && in.profile_text) {
            *profile_text = in.profile_text; /* taken */
            in.profile_text = NULL;
        }
    }
    results_db_inputs_free(&in);
    return rc < 0 ? rc : 0;
}

static int parse_cluster(const cfg_node *c, cluster_cfg *cc, gp_error *err)
{
    if (!c)
        return 0;
    const int64_t day = 86400 * US_PER_S;
    TRY(cfg_opt_int(c, "min_pods", 0, 100000, &cc->min_pods, err));
    int set = cfg_opt_int(c, "max_pods", 1, 100000, &cc->max_pods, err);
    TRY(set);
    TRY(cfg_opt_int(c, "concurrency", 1, 100000, &cc->concurrency, err));
    TRY(cfg_opt_duration_us(c, "termination_grace", 0, day, &cc->termination_grace_us, err));
    TRY(cfg_opt_duration_us(c, "readiness_delay", 0, day, &cc->readiness_delay_us, err));
    TRY(cfg_opt_duration_us(c, "timeout", 1000, day, &cc->timeout_us, err));
    TRY(cfg_opt_duration_us(c, "slo", 1000, day, &cc->slo_us, err));
    return 0;
}

static int parse_metrics(const cfg_node *m, metrics_cfg *mc, gp_error *err)
{
    if (!m)
        return 0;
    TRY(cfg_opt_duration_us(m, "scrape_interval", 1000, 3600 * US_PER_S, &mc->scrape_interval_us,
                            err));
    TRY(cfg_opt_duration_us(m, "latency_window", 1000, 86400 * US_PER_S, &mc->latency_window_us,
                            err));
    return 0;
}

/* The policy_env the simulator builds for a run of this experiment (sim_policy_env):
 * the capacity estimates use the workload's own image mix when it gives one. */
static void fill_env(xsrc *s)
{
    image_mix mix;
    image_mix_default(&mix);
    const cfg_node *root = cfg_root(s->doc);
    const cfg_node *wl = root ? cfg_map_get(root, "workload") : NULL;
    const cfg_node *users = root ? cfg_map_get(root, "users") : NULL;
    const cfg_node *mix_node = wl ? cfg_map_get(wl, "image_mix") : users ? cfg_map_get(users, "image_mix") : NULL;
    if (mix_node && image_mix_from_cfg(mix_node, &mix, NULL) < 0)
        image_mix_default(&mix); /* checked when the experiment runs */
    if (!s->profile) {
        memset(&s->env, 0, sizeof(s->env));
        s->env.min_pods = s->cluster.min_pods;
        s->env.max_pods = s->cluster.max_pods;
        s->env.concurrency = s->cluster.concurrency;
        s->env.scrape_interval_us = s->metrics.scrape_interval_us;
        s->env.seed = s->seed;
        return;
    }
    sim_cfg cfg;
    memset(&cfg, 0, sizeof(cfg));
    cfg.cluster = s->cluster;
    cfg.metrics = s->metrics;
    cfg.profile = s->profile;
    cfg.seed = s->seed;
    cfg.closed_loop = users != NULL;
    cfg.closed.mix = mix;
    cfg.mix = &mix;
    sim_policy_env(&cfg, &s->env);
}

static int find_policy(xsrc *s, const char *label, gp_error *err)
{
    const cfg_node *root = cfg_root(s->doc);
    if (!root || cfg_node_kind(root) != CFG_MAP)
        return gp_error_set(err, GP_EPARSE, s->file, 0, 0, NULL, "not an experiment (no map)");
    const cfg_node *seq = cfg_map_get(root, "policies");
    if (!seq || cfg_node_kind(seq) != CFG_SEQ)
        return cfg_error(root, err, GP_EMISSING, "missing `policies`");
    char known[512] = "";
    for (size_t i = 0; i < cfg_len(seq); i++) {
        const cfg_node *it = cfg_seq_at(seq, i);
        const char *name = NULL, *lab = NULL;
        TRY(cfg_req_string(it, "policy", &name, err));
        TRY(cfg_opt_string(it, "label", &lab, err));
        if (!lab)
            lab = name;
        size_t used = strlen(known);
        snprintf(known + used, sizeof(known) - used, "%s%s", i ? ", " : "", lab);
        if (strcmp(lab, label) != 0)
            continue;
        s->entry = it;
        s->config = cfg_map_get(it, "config");
        if (cfg_node_is_null(s->config))
            s->config = NULL;
        s->ops = policy_find(name);
        if (!s->ops)
            return cfg_error(cfg_map_get(it, "policy"), err, GP_EUNKNOWN, "unknown policy \"%s\"",
                             name);
        snprintf(s->label, sizeof(s->label), "%s", lab);
        return 0;
    }
    return gp_error_set(err, GP_EUNKNOWN, s->file, 0, 0, "--policy",
                        "no policy labelled \"%s\" (labels: %s)", label, known);
}

static int xsrc_load(const export_opts *o, xsrc *s, gp_error *err)
{
    memset(s, 0, sizeof(*s));
    cluster_cfg_default(&s->cluster);
    metrics_cfg_default(&s->metrics);
    s->seed = 1;
    char *profile_text = NULL;
    int rc;
    if (is_sqlite(o->from)) {
        rc = load_from_db(o->from, o->label, s, &profile_text, err);
    } else {
        snprintf(s->file, sizeof(s->file), "%s", o->from);
        rc = cfg_load_file(o->from, &s->doc, err);
    }
    if (rc < 0) {
        free(profile_text);
        return rc;
    }
    const cfg_node *root = cfg_root(s->doc);
    if (root && cfg_node_kind(root) == CFG_MAP) {
        const char *name = NULL, *prof = NULL;
        int64_t seed = 1;
        if ((rc = cfg_opt_string(root, "name", &name, err)) >= 0 &&
            (rc = cfg_opt_int64(root, "seed", 0, INT64_MAX, &seed, err)) >= 0 &&
            (rc = cfg_opt_string(root, "profile", &prof, err)) >= 0 &&
            (rc = parse_cluster(cfg_map_get(root, "cluster"), &s->cluster, err)) >= 0)
            rc = parse_metrics(cfg_map_get(root, "metrics"), &s->metrics, err);
        if (rc < 0) {
            free(profile_text);
            return rc;
        }
        snprintf(s->exp_name, sizeof(s->exp_name), "%s", name ? name : "experiment");
        s->seed = (uint64_t)seed;
        /* the profile only feeds the capacity estimates of the driver's env: optional */
        s->profile = malloc(sizeof(*s->profile));
        gp_error perr;
        gp_error_clear(&perr);
        int prc = -1;
        if (s->profile && profile_text) {
            prc = profile_parse("profile", profile_text, s->profile, &perr);
        } else if (s->profile && prof && !is_sqlite(o->from)) {
            char path[1024];
            const char *slash = strrchr(o->from, '/');
            if (prof[0] == '/' || !slash)
                snprintf(path, sizeof(path), "%s", prof);
            else
                snprintf(path, sizeof(path), "%.*s/%s", (int)(slash - o->from), o->from, prof);
            prc = profile_load(path, s->profile, &perr);
        }
        if (prc < 0) {
            free(s->profile);
            s->profile = NULL;
        }
    }
    free(profile_text);
    TRY(find_policy(s, o->label, err));
    const char *name = s->ops->name;
    if (strcmp(name, "serverless") == 0 || strcmp(name, "clairvoyant") == 0)
        return cfg_error(cfg_map_get(s->entry, "policy"), err, GP_ENOTSUP,
                         "policy %s has no live form: %s", name,
                         strcmp(name, "serverless") == 0
                             ? "per-request instances need a serverless platform (use kpa for "
                               "Knative)"
                             : "it reads the future");
    fill_env(s);
    /* create the policy once: the config is checked as a run would check it */
    void *state = NULL;
    s->info = (policy_info){.sync_period_us = 15 * US_PER_S, .flags = 0, .initial_pods = -1,
                            .min_pods = -1, .max_pods = -1};
    TRY(s->ops->create(s->config, &s->env, &state, &s->info, err));
    s->ops->destroy(state);
    return 0;
}

/* ------------------------------------------------------------------ writing */

static int mkdir_p(const char *dir, gp_error *err)
{
    char buf[1024];
    snprintf(buf, sizeof(buf), "%s", dir);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(buf, 0755) < 0 && errno != EEXIST)
            return gp_error_set(err, GP_EIO, buf, 0, 0, NULL, "mkdir: %s", strerror(errno));
        *p = '/';
    }
    if (mkdir(buf, 0755) < 0 && errno != EEXIST)
        return gp_error_set(err, GP_EIO, buf, 0, 0, NULL, "mkdir: %s", strerror(errno));
    return 0;
}

/* Writes `comment` lines ("# ..."), then the tree (or `text` when tree is NULL). Takes
 * the tree. */
static int write_out(const char *dir, const char *name, const char *comment, ytree *tree,
                     const char *text, FILE *log, gp_error *err)
{
    char path[1024], tmp[1100];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    snprintf(tmp, sizeof(tmp), "%s.tmp%ld", path, (long)getpid());
    FILE *f = fopen(tmp, "w");
    if (!f) {
        ytree_free(tree);
        return gp_error_set(err, GP_EIO, path, 0, 0, NULL, "cannot write: %s", strerror(errno));
    }
    if (comment) {
        const char *p = comment;
        while (*p) {
            const char *nl = strchr(p, '\n');
            int len = nl ? (int)(nl - p) : (int)strlen(p);
            fprintf(f, "# %.*s\n", len, p);
            p += len + (nl ? 1 : 0);
        }
    }
    int rc = 0;
    if (tree)
        rc = ytree_emit(f, tree);
    else if (text)
        fputs(text, f);
    ytree_free(tree);
    if (fclose(f) != 0 && rc == 0)
        rc = GP_EIO;
    if (rc == 0 && rename(tmp, path) != 0)
        rc = GP_EIO;
    if (rc < 0) {
        unlink(tmp);
        return gp_error_set(err, rc, path, 0, 0, NULL,
                            rc == GP_ENOMEM ? "out of memory" : "write failed");
    }
    if (log)
        fprintf(log, "wrote %s\n", path);
    return 0;
}

/* "30s", "1500ms": a Kubernetes/Prometheus duration with the same value. */
static void duration_text(int64_t us, char *buf, size_t len)
{
    if (us % US_PER_S == 0)
        snprintf(buf, len, "%llds", (long long)(us / US_PER_S));
    else
        snprintf(buf, len, "%lldms", (long long)((us + 999) / 1000));
}

static int64_t ceil_s(int64_t us) { return (us + US_PER_S - 1) / US_PER_S; }

static ytree *labels_tree(const export_opts *o)
{
    ytree *l = ytree_map();
    ytree_set(l, "app", ytree_str(o->app));
    ytree_set(l, "app.kubernetes.io/name", ytree_str(o->app));
    return l;
}

static ytree *metadata_tree(const export_opts *o, const xsrc *s, const char *name,
                            const char *ns)
{
    ytree *m = ytree_map();
    ytree_set(m, "name", ytree_str(name));
    ytree_set(m, "namespace", ytree_str(ns));
    ytree_set(m, "labels", labels_tree(o));
    ytree *a = ytree_set(m, "annotations", ytree_map());
    ytree_set(a, "gpenlab.dev/policy", ytree_str(s->ops->name));
    ytree_set(a, "gpenlab.dev/label", ytree_str(s->label));
    ytree_set(a, "gpenlab.dev/experiment", ytree_str(s->exp_name));
    return m;
}

/* The GPEN container: one GPU, the readiness probe, a preStop that stops taking work. */
static ytree *container_tree(const export_opts *o, const xsrc *s, bool knative)
{
    ytree *c = ytree_map();
    ytree_set(c, "name", ytree_str(o->app));
    ytree_set(c, "image", ytree_str(o->image));
    ytree *ports = ytree_set(c, "ports", ytree_seq());
    ytree *p = ytree_push(ports, ytree_map());
    if (!knative)
        ytree_set(p, "name", ytree_str("http"));
    else
        ytree_set(p, "name", ytree_str("http1"));
    ytree_set(p, "containerPort", ytree_int(o->port));
    ytree *env = ytree_set(c, "env", ytree_seq());
    struct {
        const char *k;
        char v[256];
    } vars[4] = {{"GPEN_CONCURRENCY", ""}, {"GPEN_QUEUE", "gpen:pending"},
                 {"REDIS_ADDRESS", ""}, {"GPEN_TIMEOUT_SECONDS", ""}};
    snprintf(vars[0].v, sizeof(vars[0].v), "%d", s->cluster.concurrency);
    snprintf(vars[2].v, sizeof(vars[2].v), "%s", o->redis_address);
    snprintf(vars[3].v, sizeof(vars[3].v), "%lld", (long long)ceil_s(s->cluster.timeout_us));
    for (int i = 0; i < 4; i++) {
        ytree *e = ytree_push(env, ytree_map());
        ytree_set(e, "name", ytree_str(vars[i].k));
        ytree_set(e, "value", ytree_str(vars[i].v));
    }
    ytree *res = ytree_set(c, "resources", ytree_map());
    ytree_set(ytree_set(res, "limits", ytree_map()), "nvidia.com/gpu", ytree_str("1"));
    ytree_set(ytree_set(res, "requests", ytree_map()), "nvidia.com/gpu", ytree_str("1"));
    ytree *rp = ytree_set(c, "readinessProbe", ytree_map());
    ytree *get = ytree_set(rp, "httpGet", ytree_map());
    ytree_set(get, "path", ytree_str("/ready"));
    /* Knative: the probe's port must be the container's (or left out, which the CRD's
     * schema does not allow) */
    ytree_set(get, "port", knative ? ytree_int(o->port) : ytree_str("http"));
    ytree_set(rp, "initialDelaySeconds", ytree_int(ceil_s(s->cluster.readiness_delay_us)));
    ytree_set(rp, "periodSeconds", ytree_int(5));
    ytree_set(rp, "failureThreshold", ytree_int(1));
    if (!knative) {
        /* preStop: GET /drain makes the worker stop taking gpen:pending and fail readiness;
         * requests in service finish within terminationGracePeriodSeconds */
        ytree *pre = ytree_set(ytree_set(c, "lifecycle", ytree_map()), "preStop", ytree_map());
        ytree *dg = ytree_set(pre, "httpGet", ytree_map());
        ytree_set(dg, "path", ytree_str("/drain"));
        ytree_set(dg, "port", ytree_str("http"));
    }
    return c;
}

static ytree *deployment_tree(const export_opts *o, const xsrc *s, int replicas)
{
    ytree *d = ytree_map();
    ytree_set(d, "apiVersion", ytree_str("apps/v1"));
    ytree_set(d, "kind", ytree_str("Deployment"));
    ytree_set(d, "metadata", metadata_tree(o, s, o->app, o->ns));
    ytree *spec = ytree_set(d, "spec", ytree_map());
    ytree_set(spec, "replicas", ytree_int(replicas));
    ytree *sel = ytree_set(ytree_set(spec, "selector", ytree_map()), "matchLabels", ytree_map());
    ytree_set(sel, "app", ytree_str(o->app));
    ytree *tpl = ytree_set(spec, "template", ytree_map());
    ytree *tm = ytree_set(tpl, "metadata", ytree_map());
    ytree_set(tm, "labels", labels_tree(o));
    ytree *ann = ytree_set(tm, "annotations", ytree_map());
    ytree_set(ann, "prometheus.io/scrape", ytree_str("true"));
    ytree_set(ann, "prometheus.io/port", ytree_strf("%d", o->port));
    ytree *ps = ytree_set(tpl, "spec", ytree_map());
    ytree_set(ps, "terminationGracePeriodSeconds", ytree_int(ceil_s(s->cluster.termination_grace_us)));
    ytree_push(ytree_set(ps, "containers", ytree_seq()), container_tree(o, s, false));
    ytree *tol = ytree_push(ytree_set(ps, "tolerations", ytree_seq()), ytree_map());
    ytree_set(tol, "key", ytree_str("nvidia.com/gpu"));
    ytree_set(tol, "operator", ytree_str("Exists"));
    ytree_set(tol, "effect", ytree_str("NoSchedule"));
    return d;
}

static ytree *service_tree(const export_opts *o, const xsrc *s)
{
    ytree *v = ytree_map();
    ytree_set(v, "apiVersion", ytree_str("v1"));
    ytree_set(v, "kind", ytree_str("Service"));
    ytree_set(v, "metadata", metadata_tree(o, s, o->app, o->ns));
    ytree *spec = ytree_set(v, "spec", ytree_map());
    ytree_set(spec, "type", ytree_str("ClusterIP"));
    ytree_set(ytree_set(spec, "selector", ytree_map()), "app", ytree_str(o->app));
    ytree *p = ytree_push(ytree_set(spec, "ports", ytree_seq()), ytree_map());
    ytree_set(p, "name", ytree_str("http"));
    ytree_set(p, "port", ytree_int(80));
    ytree_set(p, "targetPort", ytree_str("http"));
    ytree_set(p, "protocol", ytree_str("TCP"));
    return v;
}

/* ------------------------------------------------------------------ Prometheus */

/* The recording rules that turn the DCGM exporter's, the redis exporter's and the
 * service's own series into the names of policy/metric_map (and the driver's queries). */
static ytree *rule_groups(const export_opts *o, const xsrc *s)
{
    char win[32], rwin[32];
    duration_text(s->metrics.latency_window_us, win, sizeof(win));
    int64_t rate_us = 2 * s->metrics.scrape_interval_us;
    if (rate_us < 30 * US_PER_S)
        rate_us = 30 * US_PER_S; /* rate() needs two samples in the range */
    duration_text(rate_us, rwin, sizeof(rwin));
    char sel[160];
    snprintf(sel, sizeof(sel), "{namespace=\"%s\"}", o->ns);
    struct {
        const char *record;
        char expr[600];
    } r[32];
    int n = 0;
#define RULE(name, ...)                                                                    \
    do {                                                                                   \
        r[n].record = name;                                                                \
        snprintf(r[n].expr, sizeof(r[n].expr), __VA_ARGS__);                              \
        n++;                                                                               \
    } while (0)
    RULE("DCGM_FI_DEV_FB_USED_ratio", "DCGM_FI_DEV_FB_USED%s / (DCGM_FI_DEV_FB_USED%s + DCGM_FI_DEV_FB_FREE%s)",
         sel, sel, sel);
    RULE("gpu_mem_frac", "DCGM_FI_DEV_FB_USED_ratio%s", sel);
    RULE("gpu_memory_utilization", "100 * DCGM_FI_DEV_FB_USED_ratio%s", sel);
    RULE("gpu_util_frac", "DCGM_FI_DEV_GPU_UTIL%s / 100", sel);
    RULE("gpu_utilization", "DCGM_FI_DEV_GPU_UTIL%s", sel);
    static const struct {
        const char *q, *name, *alias;
    } qs[] = {{"0.5", "gpen_request_latency_seconds_p50", "p50_s"},
              {"0.95", "gpen_request_latency_seconds_p95", "p95_s"},
              {"0.99", "gpen_request_latency_seconds_p99", "p99_s"}};
    for (int i = 0; i < 3; i++) {
        RULE(qs[i].name,
             "histogram_quantile(%s, sum by (namespace, le) "
             "(rate(gpen_request_latency_seconds_bucket%s[%s])))",
             qs[i].q, sel, win);
        RULE(qs[i].alias, "%s%s", qs[i].name, sel);
    }
    RULE("gpen_latency_samples", "sum by (namespace) (increase(gpen_request_latency_seconds_count%s[%s]))",
         sel, win);
    RULE("gpen_requests_per_second", "sum by (namespace) (rate(gpen_requests_total%s[%s]))", sel, rwin);
    RULE("arrival_rate", "gpen_requests_per_second%s", sel);
    RULE("gpen_pending",
         "label_replace(max by (key) (redis_key_size{key=\"gpen:pending\"}), \"namespace\", \"%s\", \"\", \"\")",
         o->ns);
    RULE("redis_list_length", "gpen_pending%s", sel);
    RULE("gpen_queue_length", "gpen_pending%s", sel);
    RULE("queue_len", "gpen_pending%s", sel);
    RULE("in_flight", "gpen_requests_in_flight%s", sel);
    RULE("concurrency", "gpen_concurrency%s", sel);
#undef RULE
    ytree *groups = ytree_seq();
    ytree *g = ytree_push(groups, ytree_map());
    ytree_set(g, "name", ytree_strf("gpenlab-%s", o->app));
    char iv[32];
    duration_text(s->metrics.scrape_interval_us, iv, sizeof(iv));
    ytree_set(g, "interval", ytree_str(iv));
    ytree *rules = ytree_set(g, "rules", ytree_seq());
    for (int i = 0; i < n; i++) {
        ytree *ru = ytree_push(rules, ytree_map());
        ytree_set(ru, "record", ytree_str(r[i].record));
        ytree_set(ru, "expr", ytree_str(r[i].expr));
    }
    return groups;
}

static ytree *prometheus_rule_tree(const export_opts *o, const xsrc *s)
{
    ytree *pr = ytree_map();
    ytree_set(pr, "apiVersion", ytree_str("monitoring.coreos.com/v1"));
    ytree_set(pr, "kind", ytree_str("PrometheusRule"));
    ytree_set(pr, "metadata", metadata_tree(o, s, o->app, o->ns));
    ytree_set(ytree_set(pr, "spec", ytree_map()), "groups", rule_groups(o, s));
    return pr;
}

/* prometheus-adapter rules: per-pod custom metrics and namespaced external metrics, each
 * under the name the HPA reads (the recording rules above produce the series). */
static ytree *adapter_tree(const export_opts *o, const xsrc *s)
{
    static const char *const pods[] = {"DCGM_FI_DEV_FB_USED_ratio", "gpu_mem_frac",
                                       "gpu_memory_utilization", "DCGM_FI_DEV_GPU_UTIL",
                                       "gpu_utilization", "gpu_util_frac",
                                       "gpen_requests_in_flight", "in_flight",
                                       "gpen_concurrency", "concurrency", NULL};
    static const char *const ext[] = {"gpen_request_latency_seconds_p50", "p50_s",
                                      "gpen_request_latency_seconds_p95", "p95_s",
                                      "gpen_request_latency_seconds_p99", "p99_s",
                                      "gpen_requests_per_second", "arrival_rate",
                                      "gpen_pending", "redis_list_length", "gpen_queue_length",
                                      "queue_len", "gpu_mem_frac", "DCGM_FI_DEV_FB_USED_ratio",
                                      "DCGM_FI_DEV_GPU_UTIL", "gpu_util_frac", NULL};
    ytree *cfgt = ytree_map();
    ytree *rules = ytree_set(cfgt, "rules", ytree_seq());
    for (size_t i = 0; pods[i]; i++) {
        ytree *r = ytree_push(rules, ytree_map());
        ytree_set(r, "seriesQuery", ytree_strf("%s{namespace!=\"\",pod!=\"\"}", pods[i]));
        ytree *ov = ytree_set(ytree_set(r, "resources", ytree_map()), "overrides", ytree_map());
        ytree_set(ytree_set(ov, "namespace", ytree_map()), "resource", ytree_str("namespace"));
        ytree_set(ytree_set(ov, "pod", ytree_map()), "resource", ytree_str("pod"));
        ytree *nm = ytree_set(r, "name", ytree_map());
        ytree_set(nm, "matches", ytree_strf("^%s$", pods[i]));
        ytree_set(nm, "as", ytree_str(pods[i]));
        ytree_set(r, "metricsQuery",
                  ytree_str("avg by (<<.GroupBy>>) (<<.Series>>{<<.LabelMatchers>>})"));
    }
    ytree *erules = ytree_set(cfgt, "externalRules", ytree_seq());
    for (size_t i = 0; ext[i]; i++) {
        ytree *r = ytree_push(erules, ytree_map());
        ytree_set(r, "seriesQuery", ytree_strf("%s{namespace!=\"\"}", ext[i]));
        ytree *ov = ytree_set(ytree_set(r, "resources", ytree_map()), "overrides", ytree_map());
        ytree_set(ytree_set(ov, "namespace", ytree_map()), "resource", ytree_str("namespace"));
        ytree *nm = ytree_set(r, "name", ytree_map());
        ytree_set(nm, "matches", ytree_strf("^%s$", ext[i]));
        ytree_set(nm, "as", ytree_str(ext[i]));
        /* GPU metrics as one series: the mean over pods, as policy.h defines them */
        ytree_set(r, "metricsQuery",
                  ytree_str("avg by (<<.GroupBy>>) (<<.Series>>{<<.LabelMatchers>>})"));
    }
    char *text = NULL;
    size_t len = 0;
    FILE *mf = open_memstream(&text, &len);
    int rc = mf ? ytree_emit(mf, cfgt) : GP_ENOMEM;
    if (mf)
        fclose(mf);
    ytree_free(cfgt);
    ytree *cm = ytree_map();
    ytree_set(cm, "apiVersion", ytree_str("v1"));
    ytree_set(cm, "kind", ytree_str("ConfigMap"));
    ytree_set(cm, "metadata", metadata_tree(o, s, "prometheus-adapter-gpen", "monitoring"));
    ytree_set(ytree_set(cm, "data", ytree_map()), "config.yaml",
              rc == 0 && text ? ytree_str(text) : NULL);
    free(text);
    return cm;
}

/* ------------------------------------------------------------------ per policy */

/* The policy's spec map, whichever of the three forms the config used. */
static const cfg_node *config_spec(const cfg_node *cfg)
{
    if (!cfg)
        return NULL;
    const cfg_node *spec = cfg_map_get(cfg, "spec");
    return spec ? spec : cfg;
}

static ytree *hpa_tree(const export_opts *o, const xsrc *s)
{
    ytree *h = ytree_map();
    ytree_set(h, "apiVersion", ytree_str("autoscaling/v2"));
    ytree_set(h, "kind", ytree_str("HorizontalPodAutoscaler"));
    ytree_set(h, "metadata", metadata_tree(o, s, o->app, o->ns));
    ytree *spec = ytree_set(h, "spec", ytree_from_cfg(config_spec(s->config), false));
    ytree_del(spec, "controller");
    ytree *ref = ytree_map();
    ytree_set(ref, "apiVersion", ytree_str("apps/v1"));
    ytree_set(ref, "kind", ytree_str("Deployment"));
    ytree_set(ref, "name", ytree_str(o->app));
    ytree_set(spec, "scaleTargetRef", ref);
    return h;
}

/* kube-controller-manager flags for a `controller:` map (HPA settings with no field). */
static int controller_flags(const xsrc *s, char *buf, size_t len, gp_error *err)
{
    buf[0] = '\0';
    const cfg_node *c = s->config ? cfg_map_get(s->config, "controller") : NULL;
    if (!c)
        return 0;
    int64_t sync_us = 15 * US_PER_S, down_us = 300 * US_PER_S;
    double tol = 0.1;
    TRY(cfg_opt_duration_us(c, "syncPeriod", 1000, 3600 * US_PER_S, &sync_us, err));
    TRY(cfg_opt_double(c, "tolerance", 0, 1e6, &tol, err));
    TRY(cfg_opt_duration_us(c, "downscaleStabilization", 0, 86400 * US_PER_S, &down_us, err));
    char a[32], b[32], t[40];
    for (int prec = 1; prec <= 17; prec++) { /* the shortest text that reads back equal */
        snprintf(t, sizeof(t), "%.*g", prec, tol);
        if (strtod(t, NULL) == tol)
            break;
    }
    duration_text(sync_us, a, sizeof(a));
    duration_text(down_us, b, sizeof(b));
    snprintf(buf, len,
             "--horizontal-pod-autoscaler-sync-period=%s\n"
             "--horizontal-pod-autoscaler-tolerance=%s\n"
             "--horizontal-pod-autoscaler-downscale-stabilization=%s\n",
             a, t, b);
    return 0;
}

static ytree *scaledobject_tree(const export_opts *o, const xsrc *s)
{
    ytree *so = ytree_map();
    ytree_set(so, "apiVersion", ytree_str("keda.sh/v1alpha1"));
    ytree_set(so, "kind", ytree_str("ScaledObject"));
    ytree_set(so, "metadata", metadata_tree(o, s, o->app, o->ns));
    ytree *spec = ytree_set(so, "spec", ytree_from_cfg(config_spec(s->config), false));
    ytree *ref = ytree_map();
    ytree_set(ref, "apiVersion", ytree_str("apps/v1"));
    ytree_set(ref, "kind", ytree_str("Deployment"));
    ytree_set(ref, "name", ytree_str(o->app));
    ytree_set(spec, "scaleTargetRef", ref);
    /* trigger metadata are strings in the CRD; add where each server is (ignored by
     * the simulation, which reads the same values) */
    ytree *trig = ytree_get(spec, "triggers");
    const cfg_node *ctrig = cfg_map_get(config_spec(s->config), "triggers");
    for (size_t i = 0; trig && ctrig && i < cfg_len(ctrig); i++) {
        const cfg_node *ct = cfg_seq_at(ctrig, i);
        const char *type = cfg_scalar(cfg_map_get(ct, "type"));
        ytree *meta = ytree_from_cfg(cfg_map_get(ct, "metadata"), true);
        if (type && strncmp(type, "redis", 5) == 0 && !ytree_get(meta, "address") &&
            !ytree_get(meta, "addressFromEnv") && !ytree_get(meta, "host"))
            ytree_set(meta, "address", ytree_str(o->redis_address));
        if (type && strcmp(type, "prometheus") == 0 && !ytree_get(meta, "serverAddress"))
            ytree_set(meta, "serverAddress", ytree_str(o->prometheus_url));
        ytree *item = ytree_at(trig, i);
        if (item)
            ytree_set(item, "metadata", meta);
        else
            ytree_free(meta);
    }
    return so;
}

static ytree *knative_tree(const export_opts *o, const xsrc *s)
{
    ytree *k = ytree_map();
    ytree_set(k, "apiVersion", ytree_str("serving.knative.dev/v1"));
    ytree_set(k, "kind", ytree_str("Service"));
    ytree_set(k, "metadata", metadata_tree(o, s, o->app, o->ns));
    ytree *tpl = ytree_set(ytree_set(k, "spec", ytree_map()), "template", ytree_map());
    ytree *tm = ytree_set(tpl, "metadata", ytree_map());
    ytree_set(tm, "labels", labels_tree(o));
    const cfg_node *ann = s->config ? cfg_map_get(s->config, "annotations") : NULL;
    ytree *a = (ann && cfg_node_kind(ann) == CFG_MAP) ? ytree_from_cfg(ann, true) : ytree_map();
    if (!ytree_get(a, "autoscaling.knative.dev/class"))
        ytree_set(a, "autoscaling.knative.dev/class", ytree_str("kpa.autoscaling.knative.dev"));
    ytree_set(tm, "annotations", a);
    ytree *ps = ytree_set(tpl, "spec", ytree_map());
    int cc = s->cluster.concurrency;
    const cfg_node *ccn = s->config ? cfg_map_get(s->config, "containerConcurrency") : NULL;
    if (ccn)
        cfg_node_int(ccn, 0, 1000000, &cc, NULL);
    ytree_set(ps, "containerConcurrency", ytree_int(cc));
    ytree_set(ps, "timeoutSeconds", ytree_int(ceil_s(s->cluster.timeout_us)));
    ytree_push(ytree_set(ps, "containers", ytree_seq()), container_tree(o, s, true));
    return k;
}

static ytree *config_autoscaler_tree(const export_opts *o, const xsrc *s)
{
    ytree *cm = ytree_map();
    ytree_set(cm, "apiVersion", ytree_str("v1"));
    ytree_set(cm, "kind", ytree_str("ConfigMap"));
    ytree_set(cm, "metadata", metadata_tree(o, s, "config-autoscaler", "knative-serving"));
    const cfg_node *a = s->config ? cfg_map_get(s->config, "autoscaler") : NULL;
    ytree_set(cm, "data", (a && cfg_node_kind(a) == CFG_MAP) ? ytree_from_cfg(a, true) : ytree_map());
    return cm;
}

/* The live driver's configuration (drive.h) for this policy. */
static ytree *drive_tree(const export_opts *o, const xsrc *s)
{
    ytree *d = ytree_map();
    ytree_set(d, "policy", ytree_str(s->ops->name));
    ytree_set(d, "label", ytree_str(s->label));
    ytree_set(d, "config", s->config ? ytree_from_cfg(s->config, false) : ytree_plain("null"));
    ytree *b = ytree_set(d, "bounds", ytree_map());
    ytree_set(b, "min_pods", ytree_int(s->cluster.min_pods));
    ytree_set(b, "max_pods", ytree_int(s->cluster.max_pods));
    ytree *e = ytree_set(d, "env", ytree_map());
    char buf[32];
    ytree_set(e, "concurrency", ytree_int(s->env.concurrency));
    if (s->env.pod_capacity_per_s > 0)
        ytree_set(e, "pod_capacity_per_s", ytree_num(s->env.pod_capacity_per_s));
    if (s->env.mean_demand_s > 0)
        ytree_set(e, "mean_demand_s", ytree_num(s->env.mean_demand_s));
    duration_text(s->env.cold_start_us, buf, sizeof(buf));
    ytree_set(e, "cold_start", ytree_str(buf));
    duration_text(s->metrics.scrape_interval_us, buf, sizeof(buf));
    ytree_set(e, "scrape_interval", ytree_str(buf));
    ytree *p = ytree_set(d, "prometheus", ytree_map());
    ytree_set(p, "url", ytree_str(o->prometheus_url));
    ytree_set(p, "timeout", ytree_str("5s"));
    ytree *q = ytree_set(p, "queries", ytree_map());
    char qbuf[DRIVE_QUERY_MAX];
    for (int m = 0; m < DRIVE_Q_COUNT; m++) {
        drive_default_query(m, o->ns, qbuf, sizeof(qbuf));
        ytree_set(q, drive_query_name(m), ytree_str(qbuf));
    }
    ytree *r = ytree_set(d, "redis", ytree_map());
    ytree_set(r, "address", ytree_str(o->redis_address));
    ytree_set(r, "list", ytree_str("gpen:pending"));
    ytree *k = ytree_set(ytree_set(d, "target", ytree_map()), "kubernetes", ytree_map());
    ytree_set(k, "namespace", ytree_str(o->ns));
    ytree_set(k, "deployment", ytree_str(o->app));
    ytree_set(k, "in_cluster", ytree_bool(true));
    return d;
}

int export_run(const export_opts *o, FILE *log, gp_error *err)
{
    if (!o->label || !o->label[0])
        return gp_error_set(err, GP_EMISSING, NULL, 0, 0, "--policy", "which policy? give its label");
    if (!o->from)
        return gp_error_set(err, GP_EMISSING, NULL, 0, 0, "--from",
                            "export from an experiment file or a results database");
    xsrc s;
    int rc = xsrc_load(o, &s, err);
    if (rc < 0) {
        xsrc_free(&s);
        return rc;
    }
    const char *name = s.ops->name;
    char dir[512];
    if (o->out_dir)
        snprintf(dir, sizeof(dir), "%s", o->out_dir);
    else
    {
        char safe[128]; /* a label becomes a folder name: keep it inside this one */
        gp_safe_file_name(safe, sizeof(safe), s.label);
        snprintf(dir, sizeof(dir), "export-%s", safe);
    }
    if ((rc = mkdir_p(dir, err)) < 0) {
        xsrc_free(&s);
        return rc;
    }
    char head[1024];
    snprintf(head, sizeof(head),
             "gpenlab export: policy %s (%s) of experiment %s\nfrom %s", s.label, name,
             s.exp_name, s.file);
    int initial = s.info.initial_pods >= 0 ? s.info.initial_pods : s.cluster.min_pods;
    if (s.info.min_pods >= 0 && initial < s.info.min_pods)
        initial = s.info.min_pods;
    if (initial < s.cluster.min_pods)
        initial = s.cluster.min_pods;
    if (initial > s.cluster.max_pods)
        initial = s.cluster.max_pods;
    bool kpa = strcmp(name, "kpa") == 0;
    if (!kpa) {
        rc = write_out(dir, "deployment.yaml", head, deployment_tree(o, &s, initial), NULL, log, err);
        if (rc == 0)
            rc = write_out(dir, "service.yaml", head, service_tree(o, &s), NULL, log, err);
    } else {
        rc = write_out(dir, "knative-service.yaml", head, knative_tree(o, &s), NULL, log, err);
        if (rc == 0)
            rc = write_out(dir, "config-autoscaler.yaml",
                           "Knative's config-autoscaler (namespace knative-serving): the "
                           "cluster-wide KPA settings\nthe policy was simulated with; merge "
                           "into the existing ConfigMap.",
                           config_autoscaler_tree(o, &s), NULL, log, err);
    }
    if (rc == 0)
        rc = write_out(dir, "prometheus-rule.yaml", head, prometheus_rule_tree(o, &s), NULL, log,
                       err);
    if (rc == 0) {
        ytree *file = ytree_map();
        ytree_set(file, "groups", rule_groups(o, &s));
        rc = write_out(dir, "recording-rules.yml",
                       "The recording rules of prometheus-rule.yaml as a Prometheus rule file "
                       "(rule_files:, promtool check rules).",
                       file, NULL, log, err);
    }
    if (rc == 0 && strcmp(name, "hpa") == 0) {
        rc = write_out(dir, "hpa.yaml", head, hpa_tree(o, &s), NULL, log, err);
        if (rc == 0)
            rc = write_out(dir, "prometheus-adapter.yaml",
                           "prometheus-adapter rules: the metric names the HPA reads, from the "
                           "recording rules.",
                           adapter_tree(o, &s), NULL, log, err);
        char flags[512];
        if (rc == 0 && (rc = controller_flags(&s, flags, sizeof(flags), err)) == 0 && flags[0])
            rc = write_out(dir, "kube-controller-manager.flags",
                           "The simulated HPA controller's settings: kube-controller-manager "
                           "flags\n(cluster-wide; `controller:` in the experiment).",
                           NULL, flags, log, err);
    } else if (rc == 0 && strcmp(name, "keda") == 0) {
        rc = write_out(dir, "scaledobject.yaml", head, scaledobject_tree(o, &s), NULL, log, err);
    } else if (rc == 0 && !kpa && strcmp(name, "static") != 0) {
        rc = write_out(dir, "drive.yaml",
                       "gpenlab drive config: run this policy against the cluster with\n"
                       "  gpenlab drive drive.yaml [--dry-run]",
                       drive_tree(o, &s), NULL, log, err);
    }
    xsrc_free(&s);
    return rc;
}

/* ------------------------------------------------------------------ import */

static int load_yaml(const char *dir, const char *name, cfg_doc **doc, gp_error *err)
{
    char path[1024];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    if (access(path, F_OK) != 0) {
        *doc = NULL;
        return 0;
    }
    TRY(cfg_load_file(path, doc, err));
    return 1;
}

static const cfg_node *path_get(const cfg_node *n, const char *const *keys)
{
    for (size_t i = 0; n && keys[i]; i++)
        n = cfg_node_kind(n) == CFG_MAP ? cfg_map_get(n, keys[i]) : NULL;
    return n;
}

/* The `controller:` map from kube-controller-manager.flags, NULL if there is none. */
static int import_flags(const char *dir, ytree **out, gp_error *err)
{
    *out = NULL;
    char path[1024];
    snprintf(path, sizeof(path), "%s/kube-controller-manager.flags", dir);
    if (access(path, F_OK) != 0)
        return 0;
    char *text = NULL;
    TRY(gp_read_file(path, 64u << 20, &text, NULL, err));
    ytree *c = ytree_map();
    long line = 0;
    int rc = 0;
    for (char *p = text, *nl; p && *p; p = nl ? nl + 1 : NULL) {
        nl = strchr(p, '\n');
        if (nl)
            *nl = '\0';
        line++;
        if (p[0] == '#' || p[0] == '\0')
            continue;
        static const struct {
            const char *flag, *key;
        } map[] = {{"--horizontal-pod-autoscaler-sync-period=", "syncPeriod"},
                   {"--horizontal-pod-autoscaler-tolerance=", "tolerance"},
                   {"--horizontal-pod-autoscaler-downscale-stabilization=", "downscaleStabilization"}};
        bool found = false;
        for (size_t i = 0; i < 3 && !found; i++) {
            size_t l = strlen(map[i].flag);
            if (strncmp(p, map[i].flag, l) == 0) {
                ytree_set(c, map[i].key, ytree_str(p + l));
                found = true;
            }
        }
        if (!found) {
            rc = gp_error_set(err, GP_EUNKNOWN, path, line, 1, NULL, "unknown flag \"%s\"", p);
            break;
        }
    }
    free(text);
    if (rc < 0) {
        ytree_free(c);
        return rc;
    }
    *out = c;
    return 0;
}

int export_import(const char *dir, FILE *out, gp_error *err)
{
    static const char *const files[] = {"hpa.yaml", "scaledobject.yaml", "knative-service.yaml",
                                        "drive.yaml", "deployment.yaml", NULL};
    cfg_doc *doc = NULL;
    int which = -1, rc = 0;
    for (int i = 0; files[i] && which < 0; i++) {
        rc = load_yaml(dir, files[i], &doc, err);
        if (rc < 0)
            return rc;
        if (rc == 1)
            which = i;
    }
    if (which < 0)
        return gp_error_set(err, GP_EMISSING, dir, 0, 0, NULL,
                            "no exported manifests (hpa.yaml, scaledobject.yaml, "
                            "knative-service.yaml, drive.yaml or deployment.yaml)");
    const cfg_node *root = cfg_root(doc);
    static const char *const label_path[] = {"metadata", "annotations", "gpenlab.dev/label", NULL};
    ytree *entry = ytree_map();
    ytree *label = ytree_set(entry, "label", ytree_str("imported"));
    const char *lab = cfg_scalar(path_get(root, label_path));
    if (lab)
        ytree_set(entry, "label", ytree_str(lab));
    (void)label;
    rc = 0;
    switch (which) {
    case 0: { /* the HPA manifest is the hpa policy's config as is */
        ytree_set(entry, "policy", ytree_str("hpa"));
        ytree *cfg = ytree_set(entry, "config", ytree_from_cfg(root, false));
        ytree *ctl;
        if ((rc = import_flags(dir, &ctl, err)) == 0 && ctl)
            ytree_set(cfg, "controller", ctl);
        break;
    }
    case 1:
        ytree_set(entry, "policy", ytree_str("keda"));
        ytree_set(entry, "config", ytree_from_cfg(root, false));
        break;
    case 2: {
        ytree_set(entry, "policy", ytree_str("kpa"));
        ytree *cfg = ytree_set(entry, "config", ytree_map());
        static const char *const ann_path[] = {"spec", "template", "metadata", "annotations", NULL};
        static const char *const cc_path[] = {"spec", "template", "spec", "containerConcurrency",
                                              NULL};
        const cfg_node *ann = path_get(root, ann_path), *cc = path_get(root, cc_path);
        if (ann)
            ytree_set(cfg, "annotations", ytree_from_cfg(ann, true));
        if (cc)
            ytree_set(cfg, "containerConcurrency", ytree_from_cfg(cc, false));
        cfg_doc *cm = NULL;
        if ((rc = load_yaml(dir, "config-autoscaler.yaml", &cm, err)) == 1) {
            static const char *const data_path[] = {"data", NULL};
            const cfg_node *data = path_get(cfg_root(cm), data_path);
            if (data && cfg_node_kind(data) == CFG_MAP)
                ytree_set(cfg, "autoscaler", ytree_from_cfg(data, true));
            rc = 0;
        }
        cfg_free(cm);
        break;
    }
    case 3: {
        const char *pol = cfg_scalar(cfg_map_get(root, "policy"));
        const char *dl = cfg_scalar(cfg_map_get(root, "label"));
        ytree_set(entry, "label", ytree_str(dl ? dl : (pol ? pol : "imported")));
        ytree_set(entry, "policy", ytree_str(pol ? pol : "?"));
        const cfg_node *c = cfg_map_get(root, "config");
        if (c && !cfg_node_is_null(c))
            ytree_set(entry, "config", ytree_from_cfg(c, false));
        break;
    }
    default: { /* a Deployment alone: a fixed count */
        static const char *const rep_path[] = {"spec", "replicas", NULL};
        ytree_set(entry, "policy", ytree_str("static"));
        const cfg_node *r = path_get(root, rep_path);
        ytree_set(ytree_set(entry, "config", ytree_map()), "pods",
                  ytree_from_cfg(r, false));
        break;
    }
    }
    cfg_free(doc);
    if (rc < 0) {
        ytree_free(entry);
        return rc;
    }
    ytree *seq = ytree_seq();
    ytree_push(seq, entry);
    rc = ytree_emit(out, seq);
    ytree_free(seq);
    if (rc < 0)
        return gp_error_set(err, rc, NULL, 0, 0, NULL, "cannot write the policy entry");
    return 0;
}

/* ------------------------------------------------------------------ command line */

int export_main(int argc, char **argv, FILE *out, gp_error *err)
{
    export_opts o;
    export_opts_default(&o);
    const char *import_dir = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        const char **dst = NULL;
        if (strcmp(a, "--policy") == 0)
            dst = &o.label;
        else if (strcmp(a, "--from") == 0)
            dst = &o.from;
        else if (strcmp(a, "--out") == 0)
            dst = &o.out_dir;
        else if (strcmp(a, "--name") == 0)
            dst = &o.app;
        else if (strcmp(a, "--namespace") == 0)
            dst = &o.ns;
        else if (strcmp(a, "--image") == 0)
            dst = &o.image;
        else if (strcmp(a, "--prometheus") == 0)
            dst = &o.prometheus_url;
        else if (strcmp(a, "--redis") == 0)
            dst = &o.redis_address;
        else if (strcmp(a, "--import") == 0)
            dst = &import_dir;
        else
            return gp_error_set(err, GP_EUNKNOWN, NULL, 0, 0, a,
                                "unknown option (usage: gpenlab export --policy LABEL --from "
                                "DB|EXPERIMENT.yaml [--out DIR] | gpenlab export --import DIR)");
        if (!v)
            return gp_error_set(err, GP_EMISSING, NULL, 0, 0, a, "needs a value");
        *dst = v;
        i++;
    }
    if (import_dir)
        return export_import(import_dir, out, err);
    return export_run(&o, out, err);
}
