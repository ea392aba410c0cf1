/* drive.c: the live control loop (see drive.h). One tick: read the Deployment's scale
 * (spec, existing and ready pods), query the metrics (all at once, under the tick's time
 * budget), build the policy_obs the simulator would build, call the policy, clamp, hold
 * when a source is down, act, log one line. */
#include "drive/drive.h"

#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/common.h"
#include "drive/command.h"
#include "drive/io.h"
#include "lab/export.h"
#include "policy/replay.h"

#define MAX_REPLICAS 100000 /* the bounds' own limit: a larger API answer is garbage */

/* ------------------------------------------------------------------ config */

void drive_cfg_free(drive_cfg *c)
{
    free(c->section);
    c->section = NULL;
    c->n_sections = 0;
    cfg_free(c->doc);
    c->doc = NULL;
}

static int copy_str(const cfg_node *map, const char *key, char *dst, size_t len, gp_error *err)
{
    const char *s = NULL;
    int rc = cfg_opt_string(map, key, &s, err);
    if (rc < 0)
        return rc;
    if (rc == 1) {
        if (strlen(s) >= len)
            return cfg_error(cfg_map_get(map, key), err, GP_ERANGE, "longer than %zu characters",
                             len - 1);
        snprintf(dst, len, "%s", s);
    }
    return rc;
}

static int parse_hostport(const cfg_node *n, const char *s, char *host, size_t hlen, int *port,
                          gp_error *err)
{
    const char *colon = strrchr(s, ':');
    const char *h = s;
    size_t hl = colon ? (size_t)(colon - s) : strlen(s);
    if (h[0] == '[' && hl >= 2 && h[hl - 1] == ']') {
        h++;
        hl -= 2;
    }
    char *end;
    long p = colon ? strtol(colon + 1, &end, 10) : 6379;
    if (hl == 0 || hl >= hlen || (colon && (*end || p < 1 || p > 65535)))
        return cfg_error(n, err, GP_EPARSE, "expected host:port, got \"%s\"", s);
    snprintf(host, hlen, "%.*s", (int)hl, h);
    *port = (int)p;
    return 0;
}

/* RFC 1123 as Kubernetes checks names: a label is 1..63 of [a-z0-9-], starting and ending
 * with a letter or digit; a subdomain is labels joined by '.', at most 253 characters.
 * Checked before a name goes into an API path ("../" would reach another resource). */
static bool k8s_label_ok(const char *s, size_t n)
{
    if (n == 0 || n > 63 || s[0] == '-' || s[n - 1] == '-')
        return false;
    for (size_t i = 0; i < n; i++)
        if (!(islower((unsigned char)s[i]) || isdigit((unsigned char)s[i]) || s[i] == '-'))
            return false;
    return true;
}

static bool k8s_name_ok(const char *s, bool subdomain)
{
    size_t n = strlen(s);
    if (!subdomain)
        return k8s_label_ok(s, n);
    if (n == 0 || n > 253)
        return false;
    for (const char *p = s;;) {
        size_t l = strcspn(p, ".");
        if (!k8s_label_ok(p, l))
            return false;
        if (!p[l])
            return true;
        p += l + 1;
    }
}

static int check_k8s_name(const cfg_node *n, const char *what, const char *s, bool subdomain,
                          gp_error *err)
{
    if (k8s_name_ok(s, subdomain))
        return 0;
    return cfg_error(n, err, GP_EPARSE,
                     "%s \"%.80s\" is not a Kubernetes name (RFC 1123 %s: lower-case letters, "
                     "digits and '-'%s, at most %d characters)",
                     what, s, subdomain ? "subdomain" : "label",
                     subdomain ? ", '.' between labels" : "", subdomain ? 253 : 63);
}

static bool env_name_ok(const char *s)
{
    if (!(isalpha((unsigned char)s[0]) || s[0] == '_'))
        return false;
    for (const char *p = s; *p; p++)
        if (!(isalnum((unsigned char)*p) || *p == '_'))
            return false;
    return true;
}

/* The URL of a source: http or https as libcurl parses it; a token only where it may go. */
static int check_url(const cfg_node *n, const char *url, bool token, gp_error *err)
{
    char why[200];
    if (http_url_parse(url, &(bool){false}, &(bool){false}, why, sizeof(why)) < 0)
        return cfg_error(n, err, GP_EPARSE,
                         "expected an http:// or https:// URL, got \"%.200s\" "
                         "(%s)",
                         url, why);
    if (token && http_url_token_ok(url, why, sizeof(why)) < 0)
        return cfg_error(n, err, GP_ENOTSUP,
                         "a bearer token goes only over https (plain http only to loopback)");
    return 0;
}

static int parse_command(const cfg_node *cmd, drive_cfg *c, gp_error *err)
{
    static const char *const ck[] = {"run",      "shell",   "timeout",
                                     "pass_env", "env",     "initial_replicas",
                                     "retries",  "backoff", NULL};
    TRY(cfg_check_keys(cmd, ck, err));
    c->target = DRIVE_TARGET_COMMAND;
    const char *run = NULL;
    TRY(cfg_req_string(cmd, "run", &run, err));
    if (strlen(run) >= sizeof(c->command))
        return cfg_error(cfg_map_get(cmd, "run"), err, GP_ERANGE, "command too long");
    TRY(cfg_opt_bool(cmd, "shell", &c->command_shell, err));
    char why[200];
    if (command_check(run, c->command_shell, why, sizeof(why)) < 0)
        return cfg_error(cfg_map_get(cmd, "run"), err, GP_EPARSE, "%s", why);
    snprintf(c->command, sizeof(c->command), "%s", run);
    TRY(cfg_opt_duration_us(cmd, "timeout", 1000, 3600 * US_PER_S, &c->command_timeout_us, err));
    const cfg_node *pe = NULL, *ev = NULL;
    TRY(cfg_opt_seq(cmd, "pass_env", &pe, err));
    for (size_t i = 0; pe && i < cfg_len(pe); i++) {
        const cfg_node *it = cfg_seq_at(pe, i);
        const char *name = cfg_scalar(it);
        if (c->n_pass_env == DRIVE_ENV_MAX)
            return cfg_error(it, err, GP_ERANGE, "at most %d names", DRIVE_ENV_MAX);
        if (!name || !env_name_ok(name) || strlen(name) >= sizeof(c->pass_env[0]))
            return cfg_error(it, err, GP_EPARSE, "expected an environment variable name");
        snprintf(c->pass_env[c->n_pass_env++], sizeof(c->pass_env[0]), "%s", name);
    }
    TRY(cfg_opt_map(cmd, "env", &ev, err));
    for (size_t i = 0; ev && i < cfg_len(ev); i++) {
        const char *k = cfg_map_key_at(ev, i), *v = cfg_scalar(cfg_map_value_at(ev, i));
        const cfg_node *vn = cfg_map_value_at(ev, i);
        if (c->n_cmd_env == DRIVE_ENV_MAX)
            return cfg_error(vn, err, GP_ERANGE, "at most %d entries", DRIVE_ENV_MAX);
        if (!env_name_ok(k))
            return cfg_error(vn, err, GP_EPARSE, "\"%.40s\" is not an environment variable name",
                             k);
        if (!v || strlen(k) + strlen(v) + 2 > sizeof(c->cmd_env[0]))
            return cfg_error(vn, err, GP_EPARSE, "expected a value of at most %zu characters",
                             sizeof(c->cmd_env[0]) - strlen(k) - 2);
        snprintf(c->cmd_env[c->n_cmd_env++], sizeof(c->cmd_env[0]), "%s=%s", k, v);
    }
    TRY(cfg_opt_int(cmd, "initial_replicas", 0, MAX_REPLICAS, &c->initial_replicas, err));
    TRY(cfg_opt_int(cmd, "retries", 0, 100, &c->retries, err));
    TRY(cfg_opt_duration_us(cmd, "backoff", 1000, 60 * US_PER_S, &c->backoff_us, err));
    return 0;
}

static int parse_target(const cfg_node *t, drive_cfg *c, gp_error *err)
{
    static const char *const keys[] = {"kubernetes", "command", NULL};
    TRY(cfg_check_keys(t, keys, err));
    const cfg_node *k = cfg_map_get(t, "kubernetes"), *cmd = cfg_map_get(t, "command");
    if (k && cmd)
        return cfg_error(t, err, GP_EPARSE, "give `kubernetes` or `command`, not both");
    if (cmd)
        return parse_command(cmd, c, err);
    if (!k)
        return 0;
    static const char *const kk[] = {"namespace",  "deployment", "kubeconfig", "context",
                                     "in_cluster", "api_server", "token_file", "ca_file",
                                     "retries",    "backoff",    "timeout",    NULL};
    TRY(cfg_check_keys(k, kk, err));
    c->target = DRIVE_TARGET_KUBE;
    TRY(copy_str(k, "namespace", c->kube_ns, sizeof(c->kube_ns), err));
    TRY(copy_str(k, "deployment", c->deployment, sizeof(c->deployment), err));
    TRY(copy_str(k, "kubeconfig", c->kubeconfig, sizeof(c->kubeconfig), err));
    TRY(copy_str(k, "context", c->context, sizeof(c->context), err));
    TRY(cfg_opt_bool(k, "in_cluster", &c->in_cluster, err));
    TRY(copy_str(k, "api_server", c->api_server, sizeof(c->api_server), err));
    TRY(copy_str(k, "token_file", c->token_file, sizeof(c->token_file), err));
    TRY(copy_str(k, "ca_file", c->ca_file, sizeof(c->ca_file), err));
    TRY(cfg_opt_int(k, "retries", 0, 100, &c->retries, err));
    TRY(cfg_opt_duration_us(k, "backoff", 1000, 60 * US_PER_S, &c->backoff_us, err));
    TRY(cfg_opt_duration_us(k, "timeout", 1000, 300 * US_PER_S, &c->api_timeout_us, err));
    if (!c->deployment[0])
        return cfg_error(k, err, GP_EMISSING, "deployment: required");
    TRY(check_k8s_name(cfg_map_get(k, "deployment"), "deployment", c->deployment, true, err));
    if (c->kube_ns[0])
        TRY(check_k8s_name(cfg_map_get(k, "namespace"), "namespace", c->kube_ns, false, err));
    if (c->api_server[0]) {
        const cfg_node *n = cfg_map_get(k, "api_server");
        bool https = false, loopback = false;
        char why[200];
        if (http_url_parse(c->api_server, &https, &loopback, why, sizeof(why)) < 0)
            return cfg_error(n, err, GP_EPARSE, "\"%.200s\": %s", c->api_server, why);
        if (!https && !loopback)
            return cfg_error(n, err, GP_ENOTSUP,
                             "api_server must be https:// (plain http only on loopback)");
    }
    return 0;
}

static int parse_prometheus(const cfg_node *n, drive_cfg *c, const char *ns, gp_error *err)
{
    static const char *const pk[] = {"url", "timeout", "queries", "ca_file", "token_file", NULL};
    TRY(cfg_check_keys(n, pk, err));
    const char *url = NULL;
    TRY(cfg_req_string(n, "url", &url, err));
    TRY(copy_str(n, "url", c->prom_url, sizeof(c->prom_url), err));
    TRY(copy_str(n, "ca_file", c->prom_ca_file, sizeof(c->prom_ca_file), err));
    TRY(copy_str(n, "token_file", c->prom_token_file, sizeof(c->prom_token_file), err));
    TRY(check_url(cfg_map_get(n, "url"), url, c->prom_token_file[0] != '\0', err));
    TRY(cfg_opt_duration_us(n, "timeout", 1000, 300 * US_PER_S, &c->prom_timeout_us, err));
    for (int q = 0; q < DRIVE_Q_COUNT; q++)
        drive_default_query(q, ns, c->query[q], sizeof(c->query[q]));
    const cfg_node *qs = cfg_map_get(n, "queries");
    if (qs && !cfg_node_is_null(qs)) {
        TRY(cfg_check_keys(qs, drive_query_names(), err));
        for (int q = 0; q < DRIVE_Q_COUNT; q++) {
            const cfg_node *v = cfg_map_get(qs, drive_query_name(q));
            if (!v)
                continue;
            if (cfg_node_is_null(v))
                c->query[q][0] = '\0'; /* null: not queried */
            else
                TRY(copy_str(qs, drive_query_name(q), c->query[q], sizeof(c->query[q]), err));
        }
    }
    return 0;
}

static void cfg_defaults(drive_cfg *c, const char *path)
{
    memset(c, 0, sizeof(*c));
    snprintf(c->path, sizeof(c->path), "%s", path);
    snprintf(c->source, sizeof(c->source), "driver config");
    c->min_pods = 1;
    c->max_pods = 8;
    c->env.concurrency = 1;
    c->env.cold_start_us = 60 * US_PER_S;
    c->env.scrape_interval_us = 15 * US_PER_S;
    c->env.seed = 1;
    c->prom_timeout_us = 5 * US_PER_S;
    c->redis_timeout_us = 2 * US_PER_S;
    snprintf(c->redis_list, sizeof(c->redis_list), "gpen:pending");
    c->retries = 4;
    c->backoff_us = 500000;
    c->api_timeout_us = 10 * US_PER_S;
    c->command_timeout_us = 30 * US_PER_S;
    c->initial_replicas = -1;
}

/* One driver config: the file's root, or a section of its `deployments:` (which also has
 * its Deployment's `name`). */
static int load_driver_config(drive_cfg *c, const cfg_node *root, bool section, gp_error *err)
{
    static const char *const keys[] = {"policy", "label",       "config",      "bounds",
                                       "env",    "sync_period", "tick_budget", "prometheus",
                                       "redis",  "target",      "log",         NULL};
    static const char *const section_keys[] = {"name",       "policy", "label",       "config",
                                               "bounds",     "env",    "sync_period", "tick_budget",
                                               "prometheus", "redis",  "target",      NULL};
    TRY(cfg_check_keys(root, section ? section_keys : keys, err));
    if (section) {
        TRY(copy_str(root, "name", c->name, sizeof(c->name), err));
        if (!c->name[0])
            return cfg_error(root, err, GP_EMISSING,
                             "a deployments: section needs the `name` "
                             "of its Deployment");
    }
    const char *pol = NULL;
    TRY(cfg_req_string(root, "policy", &pol, err));
    if (!policy_find(pol))
        return cfg_error(cfg_map_get(root, "policy"), err, GP_EUNKNOWN, "unknown policy \"%s\"",
                         pol);
    snprintf(c->policy, sizeof(c->policy), "%s", pol);
    snprintf(c->label, sizeof(c->label), "%s", c->name[0] ? c->name : pol);
    TRY(copy_str(root, "label", c->label, sizeof(c->label), err));
    c->policy_cfg = cfg_map_get(root, "config");
    if (cfg_node_is_null(c->policy_cfg))
        c->policy_cfg = NULL;
    const int64_t day = 86400 * US_PER_S;
    const cfg_node *n;
    if ((n = cfg_map_get(root, "bounds")) && !cfg_node_is_null(n)) {
        static const char *const bk[] = {"min_pods", "max_pods", NULL};
        TRY(cfg_check_keys(n, bk, err));
        TRY(cfg_opt_int(n, "min_pods", 0, MAX_REPLICAS, &c->min_pods, err));
        TRY(cfg_opt_int(n, "max_pods", 1, MAX_REPLICAS, &c->max_pods, err));
        if (c->min_pods > c->max_pods)
            return cfg_error(n, err, GP_ERANGE, "min_pods (%d) is above max_pods (%d)", c->min_pods,
                             c->max_pods);
    }
    if ((n = cfg_map_get(root, "env")) && !cfg_node_is_null(n)) {
        static const char *const ek[] = {"concurrency", "pod_capacity_per_s", "mean_demand_s",
                                         "cold_start",  "scrape_interval",    "seed",
                                         NULL};
        TRY(cfg_check_keys(n, ek, err));
        TRY(cfg_opt_int(n, "concurrency", 1, 100000, &c->env.concurrency, err));
        TRY(cfg_opt_double(n, "pod_capacity_per_s", 0, 1e9, &c->env.pod_capacity_per_s, err));
        TRY(cfg_opt_double(n, "mean_demand_s", 0, 1e9, &c->env.mean_demand_s, err));
        TRY(cfg_opt_duration_us(n, "cold_start", 0, day, &c->env.cold_start_us, err));
        TRY(cfg_opt_duration_us(n, "scrape_interval", 1000, 3600 * US_PER_S,
                                &c->env.scrape_interval_us, err));
        int64_t seed = 1;
        TRY(cfg_opt_int64(n, "seed", 0, INT64_MAX, &seed, err));
        c->env.seed = (uint64_t)seed;
    }
    TRY(cfg_opt_duration_us(root, "sync_period", 100000, 3600 * US_PER_S, &c->sync_period_us, err));
    TRY(cfg_opt_duration_us(root, "tick_budget", 100000, 3600 * US_PER_S, &c->tick_budget_us, err));
    if ((n = cfg_map_get(root, "target")) && !cfg_node_is_null(n))
        TRY(parse_target(n, c, err));
    const char *ns = c->kube_ns[0] ? c->kube_ns : "gpen";
    if ((n = cfg_map_get(root, "prometheus")) && !cfg_node_is_null(n))
        TRY(parse_prometheus(n, c, ns, err));
    if ((n = cfg_map_get(root, "redis")) && !cfg_node_is_null(n)) {
        static const char *const rk[] = {"address", "list", "timeout", NULL};
        TRY(cfg_check_keys(n, rk, err));
        const char *addr = NULL;
        TRY(cfg_req_string(n, "address", &addr, err));
        TRY(parse_hostport(cfg_map_get(n, "address"), addr, c->redis_host, sizeof(c->redis_host),
                           &c->redis_port, err));
        TRY(copy_str(n, "list", c->redis_list, sizeof(c->redis_list), err));
        TRY(cfg_opt_duration_us(n, "timeout", 1000, 300 * US_PER_S, &c->redis_timeout_us, err));
    }
    TRY(copy_str(root, "log", c->log_path, sizeof(c->log_path), err));
    return 0;
}

/* An exported manifest (or export directory): its policy entry through export_import,
 * the one reader of exported manifests; the Deployment it scales and, for KEDA, the
 * servers its triggers name. Bounds are the policy's own. */
static int load_manifest(drive_cfg *c, gp_error *err)
{
    char *text = NULL;
    size_t len = 0;
    FILE *mf = open_memstream(&text, &len);
    if (!mf)
        return gp_error_set(err, GP_ENOMEM, NULL, 0, 0, NULL, "out of memory");
    int rc = export_import(c->path, mf, err);
    fclose(mf);
    if (rc == 0)
        rc = cfg_load_string(c->path, text, len, &c->doc, err);
    free(text);
    TRY(rc);
    const cfg_node *entry = cfg_seq_at(cfg_root(c->doc), 0);
    const char *pol = cfg_scalar(cfg_map_get(entry, "policy"));
    const char *lab = cfg_scalar(cfg_map_get(entry, "label"));
    if (!pol || !policy_find(pol))
        return gp_error_set(err, GP_EUNKNOWN, c->path, 0, 0, "policy",
                            "the manifest names no policy gpenlab knows");
    snprintf(c->policy, sizeof(c->policy), "%s", pol);
    snprintf(c->label, sizeof(c->label), "%s", lab ? lab : pol);
    c->policy_cfg = cfg_map_get(entry, "config");
    c->min_pods = 0;
    c->max_pods = MAX_REPLICAS;
    const cfg_node *cfg = c->policy_cfg;
    const cfg_node *spec = cfg_map_get(cfg, "spec");
    const cfg_node *ref = cfg_map_get(spec, "scaleTargetRef");
    const char *ns = cfg_scalar(cfg_map_get(cfg_map_get(cfg, "metadata"), "namespace"));
    const char *dep = cfg_scalar(cfg_map_get(ref, "name"));
    /* what the manifest is, by the policy's live form (not its name) */
    const policy_ops *po = policy_find(pol);
    policy_live form = po ? po->live : POLICY_LIVE_NONE;
    bool hpa = form == POLICY_LIVE_HPA, keda = form == POLICY_LIVE_KEDA;
    snprintf(c->source, sizeof(c->source), "%s",
             hpa    ? "HorizontalPodAutoscaler"
             : keda ? "ScaledObject"
             : form == POLICY_LIVE_KNATIVE || form == POLICY_LIVE_KNATIVE_KEEP_ALIVE
                 ? "Knative Service"
                 : "Deployment");
    if ((hpa || keda) && dep) {
        /* the same Deployment, through the default kubeconfig */
        c->target = DRIVE_TARGET_KUBE;
        if (strlen(dep) >= sizeof(c->deployment) || !k8s_name_ok(dep, true))
            return check_k8s_name(cfg_map_get(ref, "name"), "scaleTargetRef.name", dep, true, err);
        snprintf(c->deployment, sizeof(c->deployment), "%s", dep);
        if (ns) {
            if (strlen(ns) >= sizeof(c->kube_ns) || !k8s_name_ok(ns, false))
                return check_k8s_name(cfg_map_get(cfg_map_get(cfg, "metadata"), "namespace"),
                                      "metadata.namespace", ns, false, err);
            snprintf(c->kube_ns, sizeof(c->kube_ns), "%s", ns);
        }
    } else {
        c->dry_run_only = true; /* Knative's own autoscaler, or a fixed Deployment */
    }
    const cfg_node *trig = cfg_map_get(spec, "triggers");
    for (size_t i = 0; keda && i < cfg_len(trig); i++) {
        const cfg_node *t = cfg_seq_at(trig, i), *meta = cfg_map_get(t, "metadata");
        const char *type = cfg_scalar(cfg_map_get(t, "type"));
        const char *addr = cfg_scalar(cfg_map_get(meta, "address"));
        const char *list = cfg_scalar(cfg_map_get(meta, "listName"));
        const char *server = cfg_scalar(cfg_map_get(meta, "serverAddress"));
        if (type && strcmp(type, "prometheus") == 0 && server && !c->prom_url[0]) {
            TRY(check_url(cfg_map_get(meta, "serverAddress"), server, false, err));
            snprintf(c->prom_url, sizeof(c->prom_url), "%s", server);
        } else if (type && strncmp(type, "redis", 5) == 0 && addr && !c->redis_host[0]) {
            TRY(parse_hostport(cfg_map_get(meta, "address"), addr, c->redis_host,
                               sizeof(c->redis_host), &c->redis_port, err));
            if (list && strlen(list) < sizeof(c->redis_list))
                snprintf(c->redis_list, sizeof(c->redis_list), "%s", list);
        }
    }
    const char *qns = c->kube_ns[0] ? c->kube_ns : "gpen";
    for (int q = 0; q < DRIVE_Q_COUNT; q++)
        drive_default_query(q, qns, c->query[q], sizeof(c->query[q]));
    return 0;
}

int drive_cfg_load(const char *path, drive_cfg *c, gp_error *err)
{
    cfg_defaults(c, path);
    struct stat st;
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
        /* an export directory: its driver config if it has one, else its manifests */
        char dp[600];
        snprintf(dp, sizeof(dp), "%s/drive.yaml", path);
        if (access(dp, F_OK) == 0)
            return drive_cfg_load(dp, c, err);
        return load_manifest(c, err);
    }
    TRY(cfg_load_file(path, &c->doc, err));
    const cfg_node *root = cfg_root(c->doc);
    if (!root || cfg_node_kind(root) != CFG_MAP)
        return gp_error_set(err, GP_EPARSE, path, 0, 0, NULL, "expected a map");
    if (cfg_map_get(root, "apiVersion") || cfg_map_get(root, "kind")) {
        cfg_free(c->doc);
        c->doc = NULL;
        return load_manifest(c, err);
    }
    const cfg_node *deps = cfg_map_get(root, "deployments");
    if (!deps)
        return load_driver_config(c, root, false, err);
    /* a mixed fleet: a section per Deployment, each read as a config of its own */
    static const char *const top[] = {"deployments", "log", NULL};
    TRY(cfg_check_keys(root, top, err));
    TRY(copy_str(root, "log", c->log_path, sizeof(c->log_path), err));
    if (cfg_node_kind(deps) != CFG_SEQ || cfg_len(deps) == 0 || cfg_len(deps) > 64)
        return cfg_error(deps, err, GP_EPARSE,
                         "expected a list of 1 to 64 Deployments' "
                         "sections");
    c->section = calloc(cfg_len(deps), sizeof(drive_cfg));
    if (!c->section)
        return gp_error_set(err, GP_ENOMEM, NULL, 0, 0, NULL, "out of memory");
    c->n_sections = (int)cfg_len(deps);
    for (int i = 0; i < c->n_sections; i++) {
        drive_cfg *sc = &c->section[i];
        cfg_defaults(sc, path);
        snprintf(sc->source, sizeof(sc->source), "driver config, section %d", i);
        TRY(load_driver_config(sc, cfg_seq_at(deps, (size_t)i), true, err));
        for (int k = 0; k < i; k++)
            if (strcmp(c->section[k].name, sc->name) == 0)
                return cfg_error(cfg_seq_at(deps, (size_t)i), err, GP_EPARSE,
                                 "Deployment %s has two sections", sc->name);
    }
    return 0;
}

/* ------------------------------------------------------------------ the loop */

struct drive {
    drive_cfg cfg; /* a shallow copy: the doc stays the caller's */
    policy_env env;
    bool dry_run;
    FILE *log;
    const policy_ops *ops;
    void *state;
    policy_info info;
    int lo, hi;    /* the intersection of the cluster's and the policy's bounds */
    int own_count; /* command / no target / no cluster: the count last applied */
    kube_access kube;
    bool kube_ok;        /* kube holds credentials (else: no cluster, dry run) */
    char kube_why[256];  /* why there is no cluster access */
    http_auth prom_auth; /* Prometheus: CA file and token */
    /* the pods of the last tick: metrics pods sorted by name, then the others */
    pod_obs *pods;
    size_t pods_cap;
    const sigset_t *stop; /* the stop signals while the CLI loop runs, NULL in tests */
};

int64_t drive_sync_period_us(const drive *d)
{
    return d->cfg.sync_period_us > 0 ? d->cfg.sync_period_us : d->info.sync_period_us;
}

static int64_t tick_budget_us(const drive *d)
{
    return d->cfg.tick_budget_us > 0 ? d->cfg.tick_budget_us : drive_sync_period_us(d);
}

int drive_open(const drive_cfg *c, bool dry_run, FILE *log, drive **out, gp_error *err)
{
    *out = NULL;
    if (c->dry_run_only && !dry_run)
        return gp_error_set(err, GP_ENOTSUP, c->path, 0, 0, NULL,
                            "a %s has no Deployment for the driver to scale (its own "
                            "controller does): run it with --dry-run",
                            c->source);
    drive *d = calloc(1, sizeof(*d));
    if (!d)
        return gp_error_set(err, GP_ENOMEM, NULL, 0, 0, NULL, "out of memory");
    d->cfg = *c;
    d->env = c->env;
    d->env.min_pods = c->min_pods;
    d->env.max_pods = c->max_pods;
    d->dry_run = dry_run;
    d->log = log;
    d->ops = policy_find(c->policy);
    if (!d->ops) {
        free(d);
        return gp_error_set(err, GP_EUNKNOWN, c->path, 0, 0, "policy", "unknown policy \"%s\"",
                            c->policy);
    }
    d->info = (policy_info){.sync_period_us = 15 * US_PER_S,
                            .flags = 0,
                            .initial_pods = -1,
                            .min_pods = -1,
                            .max_pods = -1};
    int rc = d->ops->create(c->policy_cfg, &d->env, &d->state, &d->info, err);
    if (rc < 0) {
        free(d);
        return rc;
    }
    if (d->info.flags & POLICY_F_PER_REQUEST) {
        d->ops->destroy(d->state);
        free(d);
        return gp_error_set(err, GP_ENOTSUP, c->path, 0, 0, "policy",
                            "%s starts an instance per request: it needs a serverless platform, "
                            "not a replica count",
                            c->policy);
    }
    d->lo = c->min_pods;
    d->hi = c->max_pods;
    if (d->info.min_pods >= 0 && d->info.min_pods > d->lo)
        d->lo = d->info.min_pods;
    if (d->info.max_pods >= 0 && d->info.max_pods < d->hi)
        d->hi = d->info.max_pods;
    if (d->lo > d->hi)
        d->lo = d->hi;
    int init = c->initial_replicas >= 0
                   ? c->initial_replicas
                   : (d->info.initial_pods >= 0 ? d->info.initial_pods : d->lo);
    d->own_count = init < d->lo ? d->lo : (init > d->hi ? d->hi : init);
    if (c->prom_ca_file[0] && !(d->prom_auth.ca_file = strdup(c->prom_ca_file))) {
        drive_close(d);
        return gp_error_set(err, GP_ENOMEM, NULL, 0, 0, NULL, "out of memory");
    }
    if (c->prom_token_file[0] && http_auth_load_token(&d->prom_auth, c->prom_token_file,
                                                      d->kube_why, sizeof(d->kube_why)) < 0) {
        rc = gp_error_set(err, GP_EIO, c->path, 0, 0, "prometheus.token_file", "%s", d->kube_why);
        drive_close(d);
        return rc;
    }
    if (c->target == DRIVE_TARGET_KUBE) {
        if (!d->cfg.kube_ns[0])
            snprintf(d->cfg.kube_ns, sizeof(d->cfg.kube_ns), "default");
        if (kube_access_load(c->kubeconfig, c->context, c->in_cluster, c->api_server, c->token_file,
                             c->ca_file, &d->kube, d->kube_why, sizeof(d->kube_why)) == 0) {
            d->kube_ok = true;
        } else if (!dry_run) {
            rc = gp_error_set(err, GP_EIO, c->path, 0, 0, "target.kubernetes", "%s", d->kube_why);
            drive_close(d);
            return rc;
        }
        /* a dry run without a cluster takes the count it last decided */
    }
    *out = d;
    return 0;
}

void drive_close(drive *d)
{
    if (!d)
        return;
    if (d->state)
        d->ops->destroy(d->state);
    if (d->kube_ok)
        kube_access_free(&d->kube);
    http_auth_free(&d->prom_auth);
    free(d->pods);
    free(d);
}

/* The cancel hook: a stop signal is pending (they are blocked while the loop runs). */
static bool stop_pending(void *ctx)
{
    const sigset_t *stop = ctx;
    sigset_t pend;
    if (!stop || sigpending(&pend) < 0)
        return false;
    return (sigismember(stop, SIGTERM) == 1 && sigismember(&pend, SIGTERM) == 1) ||
           (sigismember(stop, SIGINT) == 1 && sigismember(&pend, SIGINT) == 1);
}

static io_cancel_fn cancel_fn(const drive *d) { return d->stop ? stop_pending : NULL; }
static void *cancel_ctx(const drive *d) { return (void *)d->stop; }

/* Sleeps up to us, never past the deadline, waking for a stop signal: true if one is
 * pending (it stays pending for the loop to see). */
static bool sleep_us(const drive *d, int64_t us, int64_t deadline)
{
    int64_t left = deadline - io_mono_us();
    if (us > left)
        us = left;
    while (us > 0) {
        if (stop_pending((void *)d->stop))
            return true;
        int64_t slice = us < 50000 ? us : 50000;
        struct timespec ts = {0, (long)slice * 1000};
        nanosleep(&ts, NULL);
        us -= slice;
    }
    return stop_pending((void *)d->stop);
}

static int64_t backoff(const drive *d, int attempt)
{
    int64_t b = d->cfg.backoff_us << (attempt < 6 ? attempt : 6);
    return b > 30 * US_PER_S ? 30 * US_PER_S : b;
}

/* The time left before deadline for a call whose own timeout is t. */
static int64_t bounded(int64_t t, int64_t deadline)
{
    int64_t left = deadline - io_mono_us();
    return left < t ? (left > 1000 ? left : 1000) : t;
}

static void add_source(char *buf, size_t len, const char *text)
{
    size_t used = strlen(buf);
    if (used + 1 < len)
        snprintf(buf + used, len - used, "%s%s", used ? "; " : "", text);
}

static void api_url(const drive *d, bool scale, char *buf, size_t len)
{
    size_t bl = strlen(d->kube.server);
    while (bl > 0 && d->kube.server[bl - 1] == '/')
        bl--;
    /* namespace and name are RFC 1123 (checked at load): nothing to escape */
    snprintf(buf, len, "%.*s/apis/apps/v1/namespaces/%s/deployments/%s%s", (int)bl, d->kube.server,
             d->cfg.kube_ns, d->cfg.deployment, scale ? "/scale" : "");
}

static bool replicas_ok(json_t *v)
{
    return json_is_integer(v) && json_integer_value(v) >= 0 &&
           json_integer_value(v) <= MAX_REPLICAS;
}

/* One API call with the current token, inside the deadline. 0 when an answer came (any
 * status: *r holds it), -1 when none (why says why), -2 when cancelled. */
static int kube_call(drive *d, int64_t deadline, const char *method, const char *url,
                     const char *body, http_resp *r, char *why, size_t why_len)
{
    memset(r, 0, sizeof(*r));
    if (kube_auth_refresh(&d->kube, why, why_len) < 0)
        return -1;
    http_req q = {.method = method,
                  .url = url,
                  .auth = &d->kube.auth,
                  .body = body,
                  .content_type = body ? "application/merge-patch+json" : NULL,
                  .timeout_us = d->cfg.api_timeout_us};
    int cancelled = http_run(&q, 1, deadline, cancel_fn(d), cancel_ctx(d));
    *r = q.resp;
    if (r->status != 0)
        return 0;
    snprintf(why, why_len, "API: %s", r->err);
    http_resp_free(r);
    return cancelled < 0 ? -2 : -1;
}

/* GET the Deployment: spec.replicas, status.replicas, status.readyReplicas. 0, -1 with
 * why, -2 when cancelled. */
static int kube_read(drive *d, int64_t deadline, int *spec, int *existing, int *ready, char *why,
                     size_t why_len)
{
    char url[1024];
    api_url(d, false, url, sizeof(url));
    http_resp resp, *r = &resp;
    int got = kube_call(d, deadline, "GET", url, NULL, r, why, why_len);
    if (got < 0)
        return got;
    int rc = -1;
    json_error_t je;
    json_t *root = r->status == 200 ? json_loadb(r->body, r->len, 0, &je) : NULL;
    if (r->status != 200) {
        snprintf(why, why_len, "API: GET deployment answered HTTP %ld", r->status);
    } else if (!root) {
        snprintf(why, why_len, "API: malformed JSON: %s", je.text);
    } else {
        json_t *sp = json_object_get(json_object_get(root, "spec"), "replicas");
        json_t *st = json_object_get(root, "status");
        json_t *sr = json_object_get(st, "replicas"), *rr = json_object_get(st, "readyReplicas");
        if (!replicas_ok(sp) || (sr && !replicas_ok(sr)) || (rr && !replicas_ok(rr))) {
            snprintf(why, why_len, "API: the Deployment has no valid spec.replicas / status");
        } else {
            *spec = (int)json_integer_value(sp);
            *existing = sr ? (int)json_integer_value(sr) : *spec;
            *ready = rr ? (int)json_integer_value(rr) : 0;
            rc = 0;
        }
    }
    json_decref(root);
    http_resp_free(r);
    return rc;
}

/* PATCH the scale subresource. Returns 0, or the HTTP status (-1: no answer, -2:
 * cancelled). */
static long kube_scale(drive *d, int64_t deadline, int replicas, char *why, size_t why_len)
{
    char url[1024], body[96];
    api_url(d, true, url, sizeof(url));
    snprintf(body, sizeof(body), "{\"spec\":{\"replicas\":%d}}", replicas);
    http_resp resp, *r = &resp;
    int got = kube_call(d, deadline, "PATCH", url, body, r, why, why_len);
    if (got < 0)
        return got;
    long st = r->status;
    if (st == 200 || st == 201) {
        http_resp_free(r);
        return 0;
    }
    json_t *root = json_loadb(r->body, r->len, 0, NULL);
    const char *msg = json_string_value(json_object_get(root, "message"));
    snprintf(why, why_len, "API: PATCH scale answered HTTP %ld%s%.150s", st, msg ? ": " : "",
             msg ? msg : "");
    json_decref(root);
    http_resp_free(r);
    return st;
}

/* ------------------------------------------------------------------ observation */

static int cmp_str_ptr(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static bool grow_pods(drive *d, size_t n)
{
    if (n <= d->pods_cap)
        return true;
    size_t cap = d->pods_cap ? d->pods_cap : 16;
    while (cap < n)
        cap *= 2;
    pod_obs *p = realloc(d->pods, cap * sizeof(*p));
    if (!p)
        return false;
    d->pods = p;
    d->pods_cap = cap;
    return true;
}

static void pod_blank(pod_obs *p, pod_state st)
{
    memset(p, 0, sizeof(*p));
    p->state = st;
    p->ready_since_us = st == POD_READY ? 0 : -1;
    p->gpu_mem_frac = p->gpu_util_frac = p->in_flight = p->concurrency = NAN;
}

/* The per-pod answers as pods: one READY pod per `pod` label, sorted by name (so the order,
 * and so every policy's arithmetic, does not depend on the answer's order), with the value
 * of each per-pod query; a pod lacking one of them, or with a refused value, has no
 * metrics. Returns the number of pods, or -1 when out of memory. No limit on the count. */
static long pods_from_samples(drive *d, prom_sample *const *smp, const size_t *ns)
{
    size_t total = 0;
    for (int q = DRIVE_Q_POD_GPU_MEM; q < DRIVE_Q_COUNT; q++)
        total += ns[q];
    const char **names = malloc((total ? total : 1) * sizeof(*names));
    if (!names)
        return -1;
    size_t k = 0;
    for (int q = DRIVE_Q_POD_GPU_MEM; q < DRIVE_Q_COUNT; q++)
        for (size_t i = 0; i < ns[q]; i++)
            names[k++] = smp[q][i].pod;
    qsort(names, k, sizeof(*names), cmp_str_ptr);
    size_t n = 0;
    for (size_t i = 0; i < k; i++)
        if (n == 0 || strcmp(names[n - 1], names[i]) != 0)
            names[n++] = names[i];
    if (!grow_pods(d, n ? n : 1)) {
        free(names);
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        pod_blank(&d->pods[i], POD_READY);
        d->pods[i].has_metrics = true;
    }
    for (int q = DRIVE_Q_POD_GPU_MEM; q < DRIVE_Q_COUNT; q++) {
        bool queried = d->cfg.query[q][0] != '\0';
        for (size_t i = 0; i < ns[q]; i++) {
            const char *key = smp[q][i].pod;
            const char **hit = bsearch(&key, names, n, sizeof(*names), cmp_str_ptr);
            pod_obs *p = &d->pods[hit - names];
            double v = smp[q][i].value;
            switch (q) {
            case DRIVE_Q_POD_GPU_MEM: p->gpu_mem_frac = v; break;
            case DRIVE_Q_POD_GPU_UTIL: p->gpu_util_frac = v; break;
            case DRIVE_Q_POD_IN_FLIGHT: p->in_flight = v; break;
            default: p->concurrency = v; break;
            }
        }
        for (size_t i = 0; queried && i < n; i++) {
            const pod_obs *p = &d->pods[i];
            double v = q == DRIVE_Q_POD_GPU_MEM     ? p->gpu_mem_frac
                       : q == DRIVE_Q_POD_GPU_UTIL  ? p->gpu_util_frac
                       : q == DRIVE_Q_POD_IN_FLIGHT ? p->in_flight
                                                    : p->concurrency;
            if (isnan(v))
                d->pods[i].has_metrics = false;
        }
    }
    free(names);
    return (long)n;
}

/* Queries every configured Prometheus query at once and fills o (metrics and pods). true
 * when every answer was usable; else why says which query failed first and why. */
static bool query_prometheus(drive *d, int64_t deadline, policy_obs *o, long *n_pods, char *note,
                             size_t note_len, char *why, size_t why_len)
{
    static const int obs_of[] = {OBS_GPU_MEM_FRAC,  OBS_GPU_UTIL_FRAC, OBS_LATENCY_P50_S,
                                 OBS_LATENCY_P95_S, OBS_LATENCY_P99_S, OBS_IN_FLIGHT,
                                 OBS_ARRIVAL_RATE,  OBS_CONCURRENCY};
    http_req reqs[DRIVE_Q_COUNT];
    int which[DRIVE_Q_COUNT];
    prom_sample *smp[DRIVE_Q_COUNT] = {NULL};
    size_t ns[DRIVE_Q_COUNT] = {0};
    char *urls[DRIVE_Q_COUNT] = {NULL};
    int n = 0;
    bool ok = true;
    if (d->cfg.prom_token_file[0] &&
        http_auth_load_token(&d->prom_auth, d->cfg.prom_token_file, why, why_len) < 0)
        return false;
    for (int q = 0; q < DRIVE_Q_COUNT; q++) {
        if (!d->cfg.query[q][0])
            continue;
        if (!(urls[n] = prom_query_url(d->cfg.prom_url, d->cfg.query[q]))) {
            snprintf(why, why_len, "out of memory");
            ok = false;
            break;
        }
        reqs[n] = (http_req){.method = "GET",
                             .url = urls[n],
                             .auth = &d->prom_auth,
                             .timeout_us = d->cfg.prom_timeout_us};
        which[n++] = q;
    }
    if (ok)
        http_run(reqs, (size_t)n, deadline, cancel_fn(d), cancel_ctx(d));
    char refused[200] = "";
    for (int i = 0; i < n; i++) {
        int q = which[i];
        if (ok && prom_parse(&reqs[i].resp, d->cfg.query[q], q >= DRIVE_Q_POD_GPU_MEM, &smp[q],
                             &ns[q], why, why_len) < 0)
            ok = false;
        size_t bad = 0;
        for (size_t k = 0; k < ns[q]; k++)
            bad += smp[q][k].refused;
        if (bad) {
            char item[64];
            snprintf(item, sizeof(item), bad > 1 ? "%s x%zu" : "%s", drive_query_name(q), bad);
            add_source(refused, sizeof(refused), item);
        }
        http_resp_free(&reqs[i].resp);
        free(urls[i]);
    }
    if (ok) {
        for (int q = 0; q < DRIVE_Q_POD_GPU_MEM; q++) {
            double v = ns[q] == 1 ? smp[q][0].value : NAN;
            if (q == DRIVE_Q_SAMPLES)
                o->latency_samples = v >= 0 && v <= UINT32_MAX ? (uint32_t)llround(v) : 0;
            else if (d->cfg.query[q][0])
                o->metric[obs_of[q]] = v;
        }
        if ((*n_pods = pods_from_samples(d, smp, ns)) < 0) {
            snprintf(why, why_len, "out of memory");
            ok = false;
        }
    }
    for (int q = 0; q < DRIVE_Q_COUNT; q++)
        free(smp[q]);
    if (refused[0])
        snprintf(note, note_len, "prometheus ok (taken as missing: %s)", refused);
    else
        snprintf(note, note_len, "prometheus ok");
    return ok;
}

/* Reads every source into rec->obs. Returns false if one of them is down. */
static bool observe(drive *d, int64_t now_us, int64_t deadline, int existing, int ready,
                    drive_tick_rec *rec)
{
    policy_obs *o = &rec->obs;
    bool ok = true;
    for (int m = 0; m < OBS_METRICS; m++)
        o->metric[m] = NAN;
    char why[512];
    long n_pods = 0;
    if (d->cfg.redis_host[0]) {
        long long len;
        if (redis_llen(d->cfg.redis_host, d->cfg.redis_port, d->cfg.redis_list,
                       bounded(d->cfg.redis_timeout_us, deadline), cancel_fn(d), cancel_ctx(d),
                       &len, why, sizeof(why)) == 0) {
            o->metric[OBS_QUEUE_LEN] = (double)len;
            add_source(rec->sources, sizeof(rec->sources), "redis ok");
        } else {
            add_source(rec->sources, sizeof(rec->sources), why);
            ok = false;
        }
    }
    if (d->cfg.prom_url[0]) {
        char note[300];
        if (query_prometheus(d, deadline, o, &n_pods, note, sizeof(note), why, sizeof(why))) {
            add_source(rec->sources, sizeof(rec->sources), note);
        } else {
            add_source(rec->sources, sizeof(rec->sources), why);
            ok = false;
        }
    }
    if (!ok) {
        n_pods = 0;
        for (int m = 0; m < OBS_METRICS; m++)
            o->metric[m] = NAN;
        o->latency_samples = 0;
    }
    if (ready < 0)
        ready = (int)n_pods;
    if (existing < 0)
        existing = ready > rec->current ? ready : rec->current;
    /* ready pods the metrics did not show, then the pods not ready yet */
    size_t total = (size_t)n_pods;
    if ((size_t)ready > total)
        total = (size_t)ready;
    if ((size_t)existing > total)
        total = (size_t)existing;
    if (!grow_pods(d, total ? total : 1)) {
        add_source(rec->sources, sizeof(rec->sources), "out of memory for the pods");
        return false;
    }
    size_t np = (size_t)n_pods;
    for (; np < (size_t)ready; np++) {
        pod_blank(&d->pods[np], POD_READY);
        d->pods[np].has_metrics = false;
    }
    size_t ready_all = np;
    for (; np < (size_t)existing; np++)
        pod_blank(&d->pods[np], POD_STARTING);
    for (size_t i = 0; i < np; i++)
        d->pods[i].pod_id = (uint64_t)i + 1;
    memset(o->pods, 0, sizeof(o->pods));
    o->pods[POD_READY] = (int)ready_all;
    o->pods[POD_STARTING] = (int)(np - ready_all);
    o->n_pods = (int)np;
    o->pod = d->pods;
    o->now_us = now_us;
    o->scrape_us = now_us;
    o->metrics_valid = ok;
    return ok;
}

/* ------------------------------------------------------------------ the log */

/* A JSON string of s, valid whatever s holds: bytes that are not UTF-8 become U+FFFD (a
 * Redis error or a command's output may hold anything; jansson refuses invalid UTF-8 and
 * the field would be silently lost). Control characters are escaped by jansson. */
static json_t *jstr(const char *s)
{
    size_t n = strlen(s);
    char *o = malloc(n * 3 + 1);
    if (!o)
        return json_string("");
    size_t w = 0;
    const unsigned char *p = (const unsigned char *)s;
    for (size_t i = 0; i < n;) {
        unsigned c = p[i];
        size_t len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
        bool good = len > 0 && i + len <= n;
        unsigned cp = len == 1 ? c : len == 2 ? c & 0x1f : len == 3 ? c & 0x0f : c & 0x07;
        for (size_t k = 1; good && k < len; k++) {
            good = (p[i + k] & 0xc0) == 0x80;
            cp = (cp << 6) | (p[i + k] & 0x3f);
        }
        /* no overlong forms, surrogates or code points past U+10FFFF */
        if (good &&
            ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) ||
             (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) || (cp >= 0xd800 && cp <= 0xdfff)))
            good = false;
        if (good) {
            memcpy(o + w, p + i, len);
            w += len;
            i += len;
        } else {
            memcpy(o + w, "\xef\xbf\xbd", 3);
            w += 3;
            i++;
        }
    }
    o[w] = '\0';
    json_t *j = json_string(o);
    free(o);
    return j ? j : json_string("");
}

static void emit(FILE *log, json_t *j)
{
    if (!log || !j)
        return;
    json_dumpf(j, log, JSON_COMPACT | JSON_REAL_PRECISION(17));
    fputc('\n', log);
    fflush(log);
}

/* One JSON line: the inputs, the decision and what was done. NaN is null. */
static void log_tick(const drive *d, const drive_tick_rec *rec)
{
    if (!d->log)
        return;
    json_t *j = json_object(), *in = json_object(), *pods = json_object();
    if (!j || !in || !pods) {
        json_decref(j);
        json_decref(in);
        json_decref(pods);
        return;
    }
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char when[40];
    strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
    json_object_set_new(j, "time", json_string(when));
    json_object_set_new(j, "t_us", json_integer(rec->obs.now_us));
    json_object_set_new(j, "policy", jstr(d->cfg.policy));
    json_object_set_new(j, "label", jstr(d->cfg.label));
    if (d->cfg.name[0]) /* a section of a fleet's config: its Deployment */
        json_object_set_new(j, "deployment", jstr(d->cfg.name));
    static const char *const names[OBS_METRICS] = {"gpu_mem_frac", "gpu_util_frac", "p50_s",
                                                   "p95_s",        "p99_s",         "queue_len",
                                                   "in_flight",    "arrival_rate",  "concurrency"};
    json_object_set_new(in, "metrics_valid", json_boolean(rec->obs.metrics_valid));
    json_object_set_new(in, "sources", jstr(rec->sources));
    for (int m = 0; m < OBS_METRICS; m++)
        json_object_set_new(in, names[m],
                            isfinite(rec->obs.metric[m]) ? json_real(rec->obs.metric[m])
                                                         : json_null());
    json_object_set_new(in, "latency_samples", json_integer(rec->obs.latency_samples));
    json_object_set_new(in, "spec_replicas", json_integer(rec->current));
    for (int s = 0; s < POD_GONE; s++)
        json_object_set_new(pods, pod_state_name((pod_state)s), json_integer(rec->obs.pods[s]));
    json_object_set_new(in, "pods", pods);
    json_object_set_new(j, "inputs", in);
    json_object_set_new(j, "decided", json_boolean(rec->decided));
    json_object_set_new(j, "desired", json_integer(rec->decided ? rec->dec.desired_pods : -1));
    json_object_set_new(j, "reason",
                        json_string(rec->decided ? policy_reason_name(rec->dec.reason) : "none"));
    json_object_set_new(j, "detail", jstr(rec->decided ? rec->dec.detail : ""));
    json_object_set_new(j, "bounds", json_pack("[ii]", d->lo, d->hi));
    json_object_set_new(j, "applied", json_integer(rec->applied));
    json_object_set_new(j, "held", json_boolean(rec->held));
    json_object_set_new(j, "action", json_string(rec->action));
    json_object_set_new(j, "attempts", json_integer(rec->attempts));
    json_object_set_new(j, "dry_run", json_boolean(d->dry_run));
    if (rec->interrupted)
        json_object_set_new(j, "interrupted", json_true());
    if (rec->command_output[0])
        json_object_set_new(j, "command_output", jstr(rec->command_output));
    emit(d->log, j);
    json_decref(j);
}

/* ------------------------------------------------------------------ one tick */

static void set_action(drive_tick_rec *rec, const char *a)
{
    snprintf(rec->action, sizeof(rec->action), "%s", a);
}

/* Applies rec->applied through the Kubernetes API or the command, with retries, inside the
 * budget. */
static void act(drive *d, int64_t deadline, drive_tick_rec *rec)
{
    char why[512] = "";
    if (d->dry_run) {
        set_action(rec, "dry-run");
        d->own_count = rec->applied;
        return;
    }
    if (d->cfg.target == DRIVE_TARGET_KUBE) {
        long st = -1;
        int attempt = 0;
        for (;;) {
            st = kube_scale(d, deadline, rec->applied, why, sizeof(why));
            if (st == 0 || st == -2 || attempt >= d->cfg.retries)
                break;
            if (st >= 400 && st < 500 && st != 409 && st != 429)
                break; /* the request itself is wrong: retrying will not help */
            if (sleep_us(d, backoff(d, attempt), deadline) || io_mono_us() >= deadline)
                break;
            attempt++;
        }
        rec->attempts += attempt + 1;
        if (st == 0) {
            set_action(rec, "scaled");
        } else {
            set_action(rec, "failed");
            add_source(rec->sources, sizeof(rec->sources), why);
        }
    } else if (d->cfg.target == DRIVE_TARGET_COMMAND) {
        const char *pass[DRIVE_ENV_MAX], *set[DRIVE_ENV_MAX];
        for (int i = 0; i < d->cfg.n_pass_env; i++)
            pass[i] = d->cfg.pass_env[i];
        for (int i = 0; i < d->cfg.n_cmd_env; i++)
            set[i] = d->cfg.cmd_env[i];
        command_spec cs = {.run = d->cfg.command,
                           .shell = d->cfg.command_shell,
                           .pass_env = pass,
                           .n_pass_env = d->cfg.n_pass_env,
                           .set_env = set,
                           .n_set_env = d->cfg.n_cmd_env};
        int attempt = 0, crc;
        for (;;) {
            cs.timeout_us = bounded(d->cfg.command_timeout_us, deadline);
            crc = command_run(&cs, rec->applied, cancel_fn(d), cancel_ctx(d), rec->command_output,
                              sizeof(rec->command_output), why, sizeof(why));
            if (crc == 0 || attempt >= d->cfg.retries || stop_pending((void *)d->stop))
                break;
            if (sleep_us(d, backoff(d, attempt), deadline) || io_mono_us() >= deadline)
                break;
            attempt++;
        }
        rec->attempts = attempt + 1;
        if (crc == 0) {
            set_action(rec, "scaled");
            d->own_count = rec->applied;
        } else {
            set_action(rec, "failed");
            add_source(rec->sources, sizeof(rec->sources), why);
        }
    } else {
        d->own_count = rec->applied;
        set_action(rec, "scaled");
    }
}

static int clamp(const drive *d, int n) { return n < d->lo ? d->lo : (n > d->hi ? d->hi : n); }

/* One tick. With rp, row i of the recorded CSV is the observation (no source, no cluster,
 * nothing written). */
static int tick(drive *d, int64_t now_us, drive_tick_rec *rec, const replay_data *rp, size_t row,
                gp_error *err)
{
    memset(rec, 0, sizeof(*rec));
    set_action(rec, "none");
    int64_t deadline = io_mono_us() + tick_budget_us(d);
    int spec = d->own_count, existing = -1, ready = -1;
    char why[512] = "";
    bool ok;
    if (rp) {
        long line = 0;
        replay_obs(rp, row, d->own_count, &rec->obs, &line);
        spec = rec->obs.spec_replicas;
        rec->current = spec;
        ok = rec->obs.metrics_valid;
        snprintf(why, sizeof(why), "replayed: line %ld", line);
        add_source(rec->sources, sizeof(rec->sources), why);
    } else {
        if (d->cfg.target == DRIVE_TARGET_KUBE && d->kube_ok) {
            int attempt = 0, rc;
            while ((rc = kube_read(d, deadline, &spec, &existing, &ready, why, sizeof(why))) ==
                       -1 &&
                   attempt < d->cfg.retries && io_mono_us() < deadline) {
                if (sleep_us(d, backoff(d, attempt), deadline))
                    break;
                attempt++;
            }
            rec->attempts = attempt + 1;
            if (rc < 0) {
                /* the current count is unknown: nothing to decide from, nothing written */
                add_source(rec->sources, sizeof(rec->sources), why);
                rec->current = rec->applied = -1;
                rec->held = true;
                rec->interrupted = stop_pending((void *)d->stop);
                set_action(rec, "hold");
                rec->obs.now_us = now_us;
                for (int m = 0; m < OBS_METRICS; m++)
                    rec->obs.metric[m] = NAN;
                log_tick(d, rec);
                return 0;
            }
        } else if (d->cfg.target == DRIVE_TARGET_KUBE) {
            add_source(rec->sources, sizeof(rec->sources),
                       "no cluster (dry run): the count last decided");
        }
        rec->current = spec;
        ok = observe(d, now_us, deadline, existing, ready, rec);
        if (stop_pending((void *)d->stop)) {
            /* stopping: decide nothing, write nothing */
            rec->interrupted = rec->held = true;
            rec->applied = spec;
            set_action(rec, "hold");
            add_source(rec->sources, sizeof(rec->sources), "stopping on a signal");
            log_tick(d, rec);
            return 0;
        }
    }
    rec->obs.spec_replicas = spec;
    rec->obs.min_pods = d->lo;
    rec->obs.max_pods = d->hi;
    policy_decision_init(&rec->dec);
    int rc = d->ops->decide(d->state, &rec->obs, &rec->dec, err);
    if (rc < 0)
        return rc;
    rec->decided = true;
    int want = rec->dec.desired_pods < 0 ? spec : rec->dec.desired_pods;
    rec->applied = clamp(d, want);
    if (!ok) {
        /* as the HPA does when its metrics fail: keep the count, write nothing (even when
         * the count is outside the bounds: that is for a tick with valid metrics) */
        rec->held = true;
        rec->applied = spec;
        set_action(rec, "hold");
    } else if (rec->applied != spec) {
        act(d, deadline, rec);
    }
    rec->interrupted = stop_pending((void *)d->stop);
    log_tick(d, rec);
    return 0;
}

int drive_tick(drive *d, int64_t now_us, drive_tick_rec *rec, gp_error *err)
{
    return tick(d, now_us, rec, NULL, 0, err);
}

/* ------------------------------------------------------------------ the plan */

/* The first line: what the driver will query and where the count goes. */
static void log_plan(const drive *d, const char *replay_path, size_t replay_rows)
{
    json_t *j = json_object(), *qs = json_array(), *t = json_object();
    if (!j || !qs || !t) {
        json_decref(j);
        json_decref(qs);
        json_decref(t);
        return;
    }
    json_object_set_new(j, "event", json_string("plan"));
    json_object_set_new(j, "config", jstr(d->cfg.path));
    json_object_set_new(j, "source", jstr(d->cfg.source));
    json_object_set_new(j, "policy", jstr(d->cfg.policy));
    json_object_set_new(j, "label", jstr(d->cfg.label));
    if (d->cfg.name[0]) /* a section of a fleet's config: its Deployment */
        json_object_set_new(j, "deployment", jstr(d->cfg.name));
    json_object_set_new(j, "dry_run", json_boolean(d->dry_run));
    json_object_set_new(j, "sync_period_s", json_real((double)drive_sync_period_us(d) / 1e6));
    json_object_set_new(j, "tick_budget_s", json_real((double)tick_budget_us(d) / 1e6));
    json_object_set_new(j, "bounds", json_pack("[ii]", d->lo, d->hi));
    if (replay_path) {
        json_object_set_new(j, "replay", jstr(replay_path));
        json_object_set_new(j, "rows", json_integer((json_int_t)replay_rows));
    }
    for (int q = 0; q < DRIVE_Q_COUNT && !replay_path; q++) {
        if (!d->cfg.query[q][0])
            continue;
        /* without a Prometheus (an HPA manifest names none: --prometheus) the queries are
         * still shown, with no URL */
        json_t *e = json_object();
        json_object_set_new(e, "name", json_string(drive_query_name(q)));
        json_object_set_new(e, "query", jstr(d->cfg.query[q]));
        char *url = d->cfg.prom_url[0] ? prom_query_url(d->cfg.prom_url, d->cfg.query[q]) : NULL;
        if (url)
            json_object_set_new(e, "url", jstr(url));
        json_array_append_new(qs, e);
        free(url);
    }
    json_object_set_new(j, "prometheus",
                        d->cfg.prom_url[0] && !replay_path ? jstr(d->cfg.prom_url) : json_null());
    json_object_set_new(j, "queries", qs);
    if (d->cfg.redis_host[0] && !replay_path) {
        char addr[300];
        snprintf(addr, sizeof(addr), "%s:%d", d->cfg.redis_host, d->cfg.redis_port);
        json_t *r = json_object();
        json_object_set_new(r, "address", jstr(addr));
        json_object_set_new(r, "command", json_pack("[ss]", "LLEN", d->cfg.redis_list));
        json_object_set_new(j, "redis", r);
    } else {
        json_object_set_new(j, "redis", json_null());
    }
    if (d->cfg.target == DRIVE_TARGET_KUBE) {
        json_object_set_new(t, "kind", json_string("kubernetes"));
        json_object_set_new(t, "namespace", jstr(d->cfg.kube_ns));
        json_object_set_new(t, "deployment", jstr(d->cfg.deployment));
        if (d->kube_ok) {
            char url[1024];
            api_url(d, false, url, sizeof(url));
            json_object_set_new(t, "get", jstr(url));
            api_url(d, true, url, sizeof(url));
            json_object_set_new(t, "patch", jstr(url));
        } else {
            json_object_set_new(t, "cluster", jstr(d->kube_why));
        }
    } else if (d->cfg.target == DRIVE_TARGET_COMMAND) {
        json_object_set_new(t, "kind", json_string("command"));
        json_object_set_new(t, "run", jstr(d->cfg.command));
        json_object_set_new(t, "shell", json_boolean(d->cfg.command_shell));
    } else {
        json_object_set_new(t, "kind", json_string("none"));
    }
    if (d->cfg.target != DRIVE_TARGET_KUBE || !d->kube_ok) /* else read every tick */
        json_object_set_new(t, "initial_count", json_integer(d->own_count));
    json_object_set_new(j, "target", t);
    emit(d->log, j);
    json_decref(j);
}

/* --prometheus and --redis over a config's own. */
static int apply_overrides(drive_cfg *c, const char *prom, const char *redis, gp_error *err)
{
    if (prom) {
        char why[200];
        if (http_url_parse(prom, &(bool){false}, &(bool){false}, why, sizeof(why)) < 0 ||
            strlen(prom) >= sizeof(c->prom_url))
            return gp_error_set(err, GP_EPARSE, NULL, 0, 0, "--prometheus", "\"%s\": %s", prom,
                                why);
        snprintf(c->prom_url, sizeof(c->prom_url), "%s", prom);
        bool any = false;
        for (int q = 0; q < DRIVE_Q_COUNT; q++)
            any |= c->query[q][0] != '\0';
        for (int q = 0; q < DRIVE_Q_COUNT && !any; q++)
            drive_default_query(q, c->kube_ns[0] ? c->kube_ns : "gpen", c->query[q],
                                sizeof(c->query[q]));
    }
    int rc = redis ? parse_hostport(NULL, redis, c->redis_host, sizeof(c->redis_host),
                                    &c->redis_port, err)
                   : 0;
    if (rc < 0)
        snprintf(err->field, sizeof(err->field), "--redis");
    return rc < 0 ? rc : 0;
}

int drive_run(const drive_run_opts *o, FILE *out, gp_error *err)
{
    const char *path = o->config_path, *metrics = o->metrics_path;
    bool dry = o->dry_run;
    long ticks = o->ticks;
    if (metrics)
        dry = true; /* recorded metrics are never acted on */
    drive_cfg c;
    int rc = drive_cfg_load(path, &c, err);
    /* the loops: one, or one per Deployment of a mixed fleet */
    int n = c.n_sections > 0 ? c.n_sections : 1;
    drive_cfg *cfgs = c.n_sections > 0 ? c.section : &c;
    for (int i = 0; rc == 0 && i < n; i++)
        rc = apply_overrides(&cfgs[i], o->prometheus_url, o->redis_address, err);
    if (rc == 0 && metrics && n > 1)
        rc = gp_error_set(err, GP_ENOTSUP, path, 0, 0, "--metrics",
                          "recorded metrics are one Deployment's: replay its own export "
                          "directory, not the fleet's");
    replay_data *rp = NULL;
    if (rc == 0 && metrics)
        rc = replay_load(metrics, &rp, err);
    if (rc < 0) {
        drive_cfg_free(&c);
        return rc;
    }
    FILE *log = out;
    if (c.log_path[0] && !(log = fopen(c.log_path, "a"))) {
        rc = gp_error_set(err, GP_EIO, c.log_path, 0, 0, "log", "cannot open: %s", strerror(errno));
        replay_free(rp);
        drive_cfg_free(&c);
        return rc;
    }
    drive **d = calloc((size_t)n, sizeof(*d));
    int64_t *next = calloc((size_t)n, sizeof(*next));
    long *done = calloc((size_t)n, sizeof(*done));
    if (!d || !next || !done)
        rc = gp_error_set(err, GP_ENOMEM, NULL, 0, 0, NULL, "out of memory");
    for (int i = 0; rc == 0 && i < n; i++)
        rc = drive_open(&cfgs[i], dry, log, &d[i], err);
    if (rc < 0) {
        for (int i = 0; d && i < n; i++)
            drive_close(d[i]);
        free(d);
        free(next);
        free(done);
        if (log != out)
            fclose(log);
        replay_free(rp);
        drive_cfg_free(&c);
        return rc;
    }
    /* SIGTERM/SIGINT are blocked: waited for between ticks, looked at while one waits */
    sigset_t stop, old;
    sigemptyset(&stop);
    sigaddset(&stop, SIGTERM);
    sigaddset(&stop, SIGINT);
    sigprocmask(SIG_BLOCK, &stop, &old);
    for (int i = 0; i < n; i++) {
        d[i]->stop = &stop;
        log_plan(d[i], metrics, replay_len(rp));
        next[i] = io_mono_us();
    }
    if (rp)
        d[0]->own_count = replay_initial(rp); /* as `gpenlab policy replay` starts */
    bool stopped = false;
    size_t rows = replay_len(rp);
    drive_tick_rec *rec = malloc(sizeof(*rec));
    if (!rec)
        rc = gp_error_set(err, GP_ENOMEM, NULL, 0, 0, NULL, "out of memory");
    for (long t = 0; rec && rp && (ticks < 0 || t < ticks) && !stopped; t++) {
        /* the recorded rows at their own times, as fast as they come */
        if ((size_t)t >= rows)
            break;
        if ((rc = tick(d[0], 0, rec, rp, (size_t)t, err)) < 0)
            break;
        stopped = stop_pending(&stop);
    }
    while (rec && !rp && !stopped) {
        /* each loop on its own period: the ones due now tick, in the sections' order */
        bool all_done = true;
        for (int i = 0; i < n && !stopped; i++) {
            if (ticks >= 0 && done[i] >= ticks)
                continue;
            all_done = false;
            if (io_mono_us() < next[i])
                continue;
            if ((rc = tick(d[i], io_mono_us(), rec, NULL, 0, err)) < 0)
                break;
            done[i]++;
            stopped = rec->interrupted;
            next[i] += drive_sync_period_us(d[i]);
            if (next[i] < io_mono_us())
                next[i] = io_mono_us(); /* a slow tick: skip, do not burst */
        }
        if (rc < 0 || stopped)
            break;
        bool finished = ticks >= 0;
        int64_t wake = INT64_MAX;
        for (int i = 0; i < n; i++) {
            if (ticks >= 0 && done[i] >= ticks)
                continue;
            finished = false;
            if (next[i] < wake)
                wake = next[i];
        }
        if (all_done || finished)
            break;
        int64_t wait = wake - io_mono_us();
        if (wait < 0)
            wait = 0;
        struct timespec ts = {(time_t)(wait / US_PER_S), (long)(wait % US_PER_S) * 1000};
        stopped = sigtimedwait(&stop, NULL, &ts) > 0;
    }
    free(rec);
    if (stopped) {
        json_t *j = json_object();
        json_object_set_new(j, "event", json_string("stopped"));
        json_object_set_new(j, "reason", json_string("signal"));
        json_object_set_new(j, "label", jstr(n > 1 ? "all" : cfgs[0].label));
        emit(log, j);
        json_decref(j);
    }
    /* a stop signal still pending is consumed here, not delivered on unblocking */
    struct timespec zero = {0, 0};
    while (sigtimedwait(&stop, NULL, &zero) > 0)
        ;
    sigprocmask(SIG_SETMASK, &old, NULL);
    for (int i = 0; i < n; i++)
        drive_close(d[i]);
    free(d);
    free(next);
    free(done);
    replay_free(rp);
    if (log != out)
        fclose(log);
    drive_cfg_free(&c);
    return rc < 0 ? rc : 0;
}
