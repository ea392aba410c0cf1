/* drive.c: the live control loop (see drive.h). One tick: read the Deployment's scale
 * (spec, existing and ready pods), query the metrics, build the policy_obs the simulator
 * would build, call the policy, clamp, hold when a source is down, act, log one line. */
#include "drive/drive.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/common.h"
#include "drive/io.h"

extern char **environ;

/* ------------------------------------------------------------------ config */

void drive_cfg_free(drive_cfg *c)
{
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

static int parse_target(const cfg_node *t, drive_cfg *c, gp_error *err)
{
    static const char *const keys[] = {"kubernetes", "command", NULL};
    TRY(cfg_check_keys(t, keys, err));
    const cfg_node *k = cfg_map_get(t, "kubernetes"), *cmd = cfg_map_get(t, "command");
    if (k && cmd)
        return cfg_error(t, err, GP_EPARSE, "give `kubernetes` or `command`, not both");
    const int64_t day = 86400 * US_PER_S;
    if (k) {
        static const char *const kk[] = {"namespace", "deployment", "kubeconfig", "context",
                                         "in_cluster", "api_server", "token_file", "ca_file",
                                         "retries", "backoff", "timeout", NULL};
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
        if (c->api_server[0] && strncmp(c->api_server, "https://", 8) != 0 &&
            !(strncmp(c->api_server, "http://", 7) == 0 && http_url_is_loopback(c->api_server)))
            return cfg_error(cfg_map_get(k, "api_server"), err, GP_ENOTSUP,
                             "api_server must be https:// (plain http only on loopback)");
        (void)day;
    } else if (cmd) {
        static const char *const ck[] = {"run", "initial_replicas", "retries", "backoff", NULL};
        TRY(cfg_check_keys(cmd, ck, err));
        c->target = DRIVE_TARGET_COMMAND;
        const char *run = NULL;
        TRY(cfg_req_string(cmd, "run", &run, err));
        if (strlen(run) >= sizeof(c->command))
            return cfg_error(cfg_map_get(cmd, "run"), err, GP_ERANGE, "command too long");
        if (!strstr(run, "{replicas}"))
            return cfg_error(cfg_map_get(cmd, "run"), err, GP_EPARSE,
                             "the command must contain {replicas}");
        snprintf(c->command, sizeof(c->command), "%s", run);
        TRY(cfg_opt_int(cmd, "initial_replicas", 0, 100000, &c->initial_replicas, err));
        TRY(cfg_opt_int(cmd, "retries", 0, 100, &c->retries, err));
        TRY(cfg_opt_duration_us(cmd, "backoff", 1000, 60 * US_PER_S, &c->backoff_us, err));
    }
    return 0;
}

int drive_cfg_load(const char *path, drive_cfg *c, gp_error *err)
{
    memset(c, 0, sizeof(*c));
    snprintf(c->path, sizeof(c->path), "%s", path);
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
    c->initial_replicas = -1;
    TRY(cfg_load_file(path, &c->doc, err));
    const cfg_node *root = cfg_root(c->doc);
    if (!root || cfg_node_kind(root) != CFG_MAP)
        return gp_error_set(err, GP_EPARSE, path, 0, 0, NULL, "expected a map");
    static const char *const keys[] = {"policy", "label", "config", "bounds", "env",
                                       "sync_period", "prometheus", "redis", "target", "log",
                                       NULL};
    TRY(cfg_check_keys(root, keys, err));
    const char *pol = NULL;
    TRY(cfg_req_string(root, "policy", &pol, err));
    if (!policy_find(pol))
        return cfg_error(cfg_map_get(root, "policy"), err, GP_EUNKNOWN, "unknown policy \"%s\"",
                         pol);
    snprintf(c->policy, sizeof(c->policy), "%s", pol);
    snprintf(c->label, sizeof(c->label), "%s", pol);
    TRY(copy_str(root, "label", c->label, sizeof(c->label), err));
    c->policy_cfg = cfg_map_get(root, "config");
    if (cfg_node_is_null(c->policy_cfg))
        c->policy_cfg = NULL;
    const int64_t day = 86400 * US_PER_S;
    const cfg_node *n;
    if ((n = cfg_map_get(root, "bounds")) && !cfg_node_is_null(n)) {
        static const char *const bk[] = {"min_pods", "max_pods", NULL};
        TRY(cfg_check_keys(n, bk, err));
        TRY(cfg_opt_int(n, "min_pods", 0, 100000, &c->min_pods, err));
        TRY(cfg_opt_int(n, "max_pods", 1, 100000, &c->max_pods, err));
        if (c->min_pods > c->max_pods)
            return cfg_error(n, err, GP_ERANGE, "min_pods (%d) is above max_pods (%d)",
                             c->min_pods, c->max_pods);
    }
    if ((n = cfg_map_get(root, "env")) && !cfg_node_is_null(n)) {
        static const char *const ek[] = {"concurrency", "pod_capacity_per_s", "mean_demand_s",
                                         "cold_start", "scrape_interval", "seed", NULL};
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
    TRY(cfg_opt_duration_us(root, "sync_period", 100000, 3600 * US_PER_S, &c->sync_period_us,
                            err));
    if ((n = cfg_map_get(root, "target")) && !cfg_node_is_null(n))
        TRY(parse_target(n, c, err));
    const char *ns = c->kube_ns[0] ? c->kube_ns : "gpen";
    if ((n = cfg_map_get(root, "prometheus")) && !cfg_node_is_null(n)) {
        static const char *const pk[] = {"url", "timeout", "queries", NULL};
        TRY(cfg_check_keys(n, pk, err));
        const char *url = NULL;
        TRY(cfg_req_string(n, "url", &url, err));
        if (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0)
            return cfg_error(cfg_map_get(n, "url"), err, GP_EPARSE,
                             "expected an http:// or https:// URL");
        snprintf(c->prom_url, sizeof(c->prom_url), "%s", url);
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
    }
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
    c->env.min_pods = c->min_pods;
    c->env.max_pods = c->max_pods;
    return 0;
}

/* ------------------------------------------------------------------ the loop */

struct drive {
    drive_cfg cfg; /* a shallow copy: the doc stays the caller's */
    bool dry_run;
    FILE *log;
    const policy_ops *ops;
    void *state;
    policy_info info;
    int lo, hi;          /* the intersection of the cluster's and the policy's bounds */
    int own_count;       /* command / no target: the count last applied */
    kube_access kube;
    bool kube_ok;
    char kube_why[256];
    pod_obs pods[DRIVE_MAX_PODS];
    char pod_names[DRIVE_MAX_PODS][128];
    prom_sample samples[DRIVE_MAX_PODS];
    pod_obs sort_pods[DRIVE_MAX_PODS]; /* scratch for sorting pods by name */
    char sort_names[DRIVE_MAX_PODS][128];
};

int64_t drive_sync_period_us(const drive *d)
{
    return d->cfg.sync_period_us > 0 ? d->cfg.sync_period_us : d->info.sync_period_us;
}

int drive_open(const drive_cfg *c, bool dry_run, FILE *log, drive **out, gp_error *err)
{
    drive *d = calloc(1, sizeof(*d));
    if (!d)
        return gp_error_set(err, GP_ENOMEM, NULL, 0, 0, NULL, "out of memory");
    d->cfg = *c;
    d->dry_run = dry_run;
    d->log = log;
    d->ops = policy_find(c->policy);
    if (!d->ops) {
        free(d);
        return gp_error_set(err, GP_EUNKNOWN, c->path, 0, 0, "policy", "unknown policy \"%s\"",
                            c->policy);
    }
    d->info = (policy_info){.sync_period_us = 15 * US_PER_S, .flags = 0, .initial_pods = -1,
                            .min_pods = -1, .max_pods = -1};
    int rc = d->ops->create(c->policy_cfg, &c->env, &d->state, &d->info, err);
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
    int init = c->initial_replicas >= 0 ? c->initial_replicas
                                        : (d->info.initial_pods >= 0 ? d->info.initial_pods : d->lo);
    d->own_count = init < d->lo ? d->lo : (init > d->hi ? d->hi : init);
    if (c->target == DRIVE_TARGET_KUBE) {
        if (kube_access_load(c->kubeconfig, c->context, c->in_cluster, c->api_server,
                             c->token_file, c->ca_file, &d->kube, d->kube_why,
                             sizeof(d->kube_why)) < 0) {
            rc = gp_error_set(err, GP_EIO, c->path, 0, 0, "target.kubernetes", "%s",
                              d->kube_why);
            d->ops->destroy(d->state);
            free(d);
            return rc;
        }
        d->kube_ok = true;
        if (!d->cfg.kube_ns[0])
            snprintf(d->cfg.kube_ns, sizeof(d->cfg.kube_ns), "default");
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
    free(d);
}

/* Sleeps (waiting for SIGTERM/SIGINT when they are blocked): true if a stop signal came. */
static bool sleep_us(int64_t us, const sigset_t *stop)
{
    struct timespec ts = {(time_t)(us / US_PER_S), (long)(us % US_PER_S) * 1000};
    if (stop) {
        int s = sigtimedwait(stop, NULL, &ts);
        return s > 0;
    }
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
    return false;
}

static void scale_url(const drive *d, bool scale, char *buf, size_t len)
{
    size_t bl = strlen(d->kube.server);
    while (bl > 0 && d->kube.server[bl - 1] == '/')
        bl--;
    snprintf(buf, len, "%.*s/apis/apps/v1/namespaces/%s/deployments/%s%s", (int)bl,
             d->kube.server, d->cfg.kube_ns, d->cfg.deployment, scale ? "/scale" : "");
}

/* GET the Deployment: spec.replicas, status.replicas, status.readyReplicas. */
static int kube_read(drive *d, int *spec, int *existing, int *ready, char *why, size_t why_len)
{
    char url[1024];
    scale_url(d, false, url, sizeof(url));
    if (kube_auth_refresh(&d->kube, why, why_len) < 0)
        return -1;
    http_resp r;
    if (http_do("GET", url, NULL, NULL, &d->kube.auth, d->cfg.api_timeout_us, &r) < 0) {
        snprintf(why, why_len, "API: %s", r.err);
        http_resp_free(&r);
        return -1;
    }
    int rc = -1;
    json_error_t je;
    json_t *root = r.status == 200 ? json_loadb(r.body, r.len, 0, &je) : NULL;
    if (r.status != 200) {
        snprintf(why, why_len, "API: GET deployment answered HTTP %ld", r.status);
    } else if (!root) {
        snprintf(why, why_len, "API: malformed JSON: %s", je.text);
    } else {
        json_t *sp = json_object_get(json_object_get(root, "spec"), "replicas");
        json_t *st = json_object_get(root, "status");
        json_t *sr = json_object_get(st, "replicas"), *rr = json_object_get(st, "readyReplicas");
        if (!json_is_integer(sp) || json_integer_value(sp) < 0 ||
            json_integer_value(sp) > 1000000) {
            snprintf(why, why_len, "API: the Deployment has no valid spec.replicas");
        } else {
            *spec = (int)json_integer_value(sp);
            *existing = json_is_integer(sr) ? (int)json_integer_value(sr) : *spec;
            *ready = json_is_integer(rr) ? (int)json_integer_value(rr) : 0;
            rc = 0;
        }
    }
    json_decref(root);
    http_resp_free(&r);
    return rc;
}

/* PATCH the scale subresource. Returns 0, or the HTTP status (or -1: no answer). */
static long kube_scale(drive *d, int replicas, char *why, size_t why_len)
{
    char url[1024], body[96];
    scale_url(d, true, url, sizeof(url));
    snprintf(body, sizeof(body), "{\"spec\":{\"replicas\":%d}}", replicas);
    if (kube_auth_refresh(&d->kube, why, why_len) < 0)
        return -1;
    http_resp r;
    if (http_do("PATCH", url, "application/merge-patch+json", body, &d->kube.auth,
                d->cfg.api_timeout_us, &r) < 0) {
        snprintf(why, why_len, "API: %s", r.err);
        http_resp_free(&r);
        return -1;
    }
    long st = r.status;
    if (st == 200 || st == 201) {
        http_resp_free(&r);
        return 0;
    }
    json_t *root = json_loadb(r.body, r.len, 0, NULL);
    const char *msg = json_string_value(json_object_get(root, "message"));
    snprintf(why, why_len, "API: PATCH scale answered HTTP %ld%s%.150s", st, msg ? ": " : "",
             msg ? msg : "");
    json_decref(root);
    http_resp_free(&r);
    return st;
}

static int run_command(const drive *d, int replicas, char *why, size_t why_len)
{
    char cmd[1200], num[16];
    snprintf(num, sizeof(num), "%d", replicas);
    const char *src = d->cfg.command;
    size_t o = 0;
    while (*src && o < sizeof(cmd) - 16) {
        if (strncmp(src, "{replicas}", 10) == 0) {
            o += (size_t)snprintf(cmd + o, sizeof(cmd) - o, "%s", num);
            src += 10;
        } else {
            cmd[o++] = *src++;
        }
    }
    cmd[o] = '\0';
    char *argv[] = {"/bin/sh", "-c", cmd, NULL};
    pid_t pid;
    int rc = posix_spawn(&pid, "/bin/sh", NULL, NULL, argv, environ);
    if (rc != 0) {
        snprintf(why, why_len, "command: %s", strerror(rc));
        return -1;
    }
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR) {
            snprintf(why, why_len, "command: waitpid: %s", strerror(errno));
            return -1;
        }
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
        return 0;
    snprintf(why, why_len, "command exited with %d",
             WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
    return -1;
}

static void add_source(char *buf, size_t len, const char *text)
{
    size_t used = strlen(buf);
    snprintf(buf + used, len - used, "%s%s", used ? "; " : "", text);
}

/* Per-pod values of one query into the pod table (by pod name). */
static int merge_pods(drive *d, int *n_pods, const prom_sample *s, int n, int field)
{
    for (int i = 0; i < n; i++) {
        int k = 0;
        while (k < *n_pods && strcmp(d->pod_names[k], s[i].pod) != 0)
            k++;
        if (k == *n_pods) {
            if (*n_pods >= DRIVE_MAX_PODS)
                continue;
            snprintf(d->pod_names[k], sizeof(d->pod_names[k]), "%s", s[i].pod);
            pod_obs *p = &d->pods[k];
            memset(p, 0, sizeof(*p));
            p->state = POD_READY;
            p->has_metrics = true;
            p->gpu_mem_frac = p->gpu_util_frac = p->in_flight = p->concurrency = NAN;
            (*n_pods)++;
        }
        pod_obs *p = &d->pods[k];
        switch (field) {
        case DRIVE_Q_POD_GPU_MEM: p->gpu_mem_frac = s[i].value; break;
        case DRIVE_Q_POD_GPU_UTIL: p->gpu_util_frac = s[i].value; break;
        case DRIVE_Q_POD_IN_FLIGHT: p->in_flight = s[i].value; break;
        default: p->concurrency = s[i].value; break;
        }
    }
    return 0;
}

static int cmp_pod_names(const void *a, const void *b)
{
    return strcmp((const char *)a, (const char *)b);
}

/* Reads every source into rec->obs. Returns false if one of them is down. */
static bool observe(drive *d, int64_t now_us, int existing, int ready, drive_tick_rec *rec)
{
    policy_obs *o = &rec->obs;
    bool ok = true;
    for (int m = 0; m < OBS_METRICS; m++)
        o->metric[m] = NAN;
    char why[300];
    int n_pods = 0;
    bool pod_queries[DRIVE_Q_COUNT] = {false};
    if (d->cfg.prom_url[0]) {
        static const int obs_of[] = {OBS_GPU_MEM_FRAC, OBS_GPU_UTIL_FRAC, OBS_LATENCY_P50_S,
                                     OBS_LATENCY_P95_S, OBS_LATENCY_P99_S, OBS_IN_FLIGHT,
                                     OBS_ARRIVAL_RATE, OBS_CONCURRENCY};
        bool prom_ok = true;
        for (int q = 0; q < DRIVE_Q_COUNT && prom_ok; q++) {
            if (!d->cfg.query[q][0])
                continue;
            bool per_pod = q >= DRIVE_Q_POD_GPU_MEM;
            int n = prom_query(d->cfg.prom_url, d->cfg.query[q], d->cfg.prom_timeout_us, per_pod,
                               d->samples, DRIVE_MAX_PODS, why, sizeof(why));
            if (n < 0) {
                prom_ok = false;
                break;
            }
            if (per_pod) {
                pod_queries[q] = true;
                merge_pods(d, &n_pods, d->samples, n, q);
            } else if (q == DRIVE_Q_SAMPLES) {
                double v = n == 1 ? d->samples[0].value : 0;
                o->latency_samples = isfinite(v) && v > 0 ? (uint32_t)llround(v) : 0;
            } else {
                o->metric[obs_of[q]] = n == 1 ? d->samples[0].value : NAN;
            }
        }
        if (prom_ok) {
            add_source(rec->sources, sizeof(rec->sources), "prometheus ok");
        } else {
            add_source(rec->sources, sizeof(rec->sources), why);
            ok = false;
        }
    }
    if (d->cfg.redis_host[0]) {
        long long len;
        if (redis_llen(d->cfg.redis_host, d->cfg.redis_port, d->cfg.redis_list,
                       d->cfg.redis_timeout_us, &len, why, sizeof(why)) == 0) {
            o->metric[OBS_QUEUE_LEN] = (double)len;
            add_source(rec->sources, sizeof(rec->sources), "redis ok");
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
    /* pods with every queried per-pod value have metrics; sorted by name so the order
     * (and so every policy's arithmetic) does not depend on the answer's order */
    for (int i = 0; i < n_pods; i++) {
        pod_obs *p = &d->pods[i];
        if ((pod_queries[DRIVE_Q_POD_GPU_MEM] && isnan(p->gpu_mem_frac)) ||
            (pod_queries[DRIVE_Q_POD_GPU_UTIL] && isnan(p->gpu_util_frac)) ||
            (pod_queries[DRIVE_Q_POD_IN_FLIGHT] && isnan(p->in_flight)) ||
            (pod_queries[DRIVE_Q_POD_CONCURRENCY] && isnan(p->concurrency)))
            p->has_metrics = false;
    }
    if (n_pods > 1) {
        /* sort names and pods together through an index */
        int idx[DRIVE_MAX_PODS];
        for (int i = 0; i < n_pods; i++)
            idx[i] = i;
        for (int i = 1; i < n_pods; i++)
            for (int j = i; j > 0 && cmp_pod_names(d->pod_names[idx[j - 1]], d->pod_names[idx[j]]) > 0; j--) {
                int t = idx[j];
                idx[j] = idx[j - 1];
                idx[j - 1] = t;
            }
        pod_obs *tmp = d->sort_pods;
        char(*tnames)[128] = d->sort_names;
        for (int i = 0; i < n_pods; i++) {
            tmp[i] = d->pods[idx[i]];
            memcpy(tnames[i], d->pod_names[idx[i]], sizeof(tnames[i]));
        }
        memcpy(d->pods, tmp, sizeof(pod_obs) * (size_t)n_pods);
        memcpy(d->pod_names, tnames, sizeof(d->pod_names[0]) * (size_t)n_pods);
    }
    if (ready < 0)
        ready = n_pods;
    if (existing < 0)
        existing = ready > rec->current ? ready : rec->current;
    /* ready pods the metrics did not show, then the pods not ready yet */
    int shown = n_pods;
    for (int i = shown; i < ready && n_pods < DRIVE_MAX_PODS; i++) {
        pod_obs *p = &d->pods[n_pods++];
        memset(p, 0, sizeof(*p));
        p->state = POD_READY;
        p->has_metrics = false;
        p->gpu_mem_frac = p->gpu_util_frac = p->in_flight = p->concurrency = NAN;
    }
    int ready_all = n_pods;
    for (int i = ready_all; i < existing && n_pods < DRIVE_MAX_PODS; i++) {
        pod_obs *p = &d->pods[n_pods++];
        memset(p, 0, sizeof(*p));
        p->state = POD_STARTING;
        p->ready_since_us = -1;
        p->gpu_mem_frac = p->gpu_util_frac = p->in_flight = p->concurrency = NAN;
    }
    for (int i = 0; i < n_pods; i++) {
        d->pods[i].pod_id = (uint64_t)i + 1;
        if (d->pods[i].state == POD_READY)
            d->pods[i].ready_since_us = 0;
    }
    memset(o->pods, 0, sizeof(o->pods));
    o->pods[POD_READY] = ready_all;
    o->pods[POD_STARTING] = n_pods - ready_all;
    o->n_pods = n_pods;
    o->pod = d->pods;
    o->now_us = now_us;
    o->scrape_us = now_us;
    o->metrics_valid = ok;
    return ok;
}

static int clamp(const drive *d, int n) { return n < d->lo ? d->lo : (n > d->hi ? d->hi : n); }

/* One JSON line: the inputs, the decision and what was done. NaN is null. */
static void log_tick(const drive *d, const drive_tick_rec *rec)
{
    if (!d->log)
        return;
    json_t *j = json_object();
    json_t *in = json_object();
    json_t *pods = json_object();
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
    json_object_set_new(j, "policy", json_string(d->cfg.policy));
    json_object_set_new(j, "label", json_string(d->cfg.label));
    static const char *const names[OBS_METRICS] = {
        "gpu_mem_frac", "gpu_util_frac", "p50_s", "p95_s", "p99_s", "queue_len", "in_flight",
        "arrival_rate", "concurrency"};
    json_object_set_new(in, "metrics_valid", json_boolean(rec->obs.metrics_valid));
    json_object_set_new(in, "sources", json_string(rec->sources));
    for (int m = 0; m < OBS_METRICS; m++)
        json_object_set_new(in, names[m], isfinite(rec->obs.metric[m])
                                              ? json_real(rec->obs.metric[m])
                                              : json_null());
    json_object_set_new(in, "latency_samples", json_integer(rec->obs.latency_samples));
    json_object_set_new(in, "spec_replicas", json_integer(rec->current));
    for (int s = 0; s < POD_GONE; s++)
        json_object_set_new(pods, pod_state_name((pod_state)s), json_integer(rec->obs.pods[s]));
    json_object_set_new(in, "pods", pods);
    json_object_set_new(j, "inputs", in);
    json_object_set_new(j, "decided", json_boolean(rec->decided));
    json_object_set_new(j, "desired", json_integer(rec->decided ? rec->dec.desired_pods : -1));
    json_object_set_new(j, "reason", json_string(rec->decided ? policy_reason_name(rec->dec.reason)
                                                              : "none"));
    json_object_set_new(j, "detail", json_string(rec->decided ? rec->dec.detail : ""));
    json_object_set_new(j, "bounds", json_pack("[ii]", d->lo, d->hi));
    json_object_set_new(j, "applied", json_integer(rec->applied));
    json_object_set_new(j, "held", json_boolean(rec->held));
    json_object_set_new(j, "action", json_string(rec->action));
    json_object_set_new(j, "attempts", json_integer(rec->attempts));
    json_object_set_new(j, "dry_run", json_boolean(d->dry_run));
    json_dumpf(j, d->log, JSON_COMPACT | JSON_REAL_PRECISION(17));
    fputc('\n', d->log);
    fflush(d->log);
    json_decref(j);
}

static int tick(drive *d, int64_t now_us, drive_tick_rec *rec, const sigset_t *stop,
                gp_error *err)
{
    memset(rec, 0, sizeof(*rec));
    snprintf(rec->action, sizeof(rec->action), "none");
    int spec = d->own_count, existing = -1, ready = -1;
    char why[300] = "";
    if (d->cfg.target == DRIVE_TARGET_KUBE) {
        int attempt = 0;
        int rc;
        while ((rc = kube_read(d, &spec, &existing, &ready, why, sizeof(why))) < 0 &&
               attempt < d->cfg.retries) {
            int64_t b = d->cfg.backoff_us << (attempt < 6 ? attempt : 6);
            attempt++;
            if (sleep_us(b > 30 * US_PER_S ? 30 * US_PER_S : b, stop))
                break;
        }
        rec->attempts = attempt + 1;
        if (rc < 0) {
            /* the current count is unknown: nothing to decide from */
            add_source(rec->sources, sizeof(rec->sources), why);
            rec->current = -1;
            rec->applied = -1;
            rec->held = true;
            snprintf(rec->action, sizeof(rec->action), "hold");
            rec->obs.now_us = now_us;
            for (int m = 0; m < OBS_METRICS; m++)
                rec->obs.metric[m] = NAN;
            log_tick(d, rec);
            return 0;
        }
    }
    rec->current = spec;
    bool ok = observe(d, now_us, existing, ready, rec);
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
        /* as the HPA does when its metrics fail: keep the count (inside the bounds) */
        rec->held = true;
        rec->applied = clamp(d, spec);
    }
    if (rec->applied != spec) {
        if (d->dry_run) {
            snprintf(rec->action, sizeof(rec->action), "dry-run");
            d->own_count = rec->applied;
        } else if (d->cfg.target == DRIVE_TARGET_KUBE) {
            long st = -1;
            int attempt = 0;
            for (;;) {
                st = kube_scale(d, rec->applied, why, sizeof(why));
                if (st == 0 || attempt >= d->cfg.retries)
                    break;
                if (st >= 400 && st < 500 && st != 409 && st != 429)
                    break; /* the request itself is wrong: retrying will not help */
                int64_t b = d->cfg.backoff_us << (attempt < 6 ? attempt : 6);
                attempt++;
                if (sleep_us(b > 30 * US_PER_S ? 30 * US_PER_S : b, stop))
                    break;
            }
            rec->attempts += attempt + 1;
            if (st == 0) {
                snprintf(rec->action, sizeof(rec->action), "scaled");
            } else {
                snprintf(rec->action, sizeof(rec->action), "failed");
                add_source(rec->sources, sizeof(rec->sources), why);
            }
        } else if (d->cfg.target == DRIVE_TARGET_COMMAND) {
            int attempt = 0, crc;
            while ((crc = run_command(d, rec->applied, why, sizeof(why))) < 0 &&
                   attempt < d->cfg.retries) {
                int64_t b = d->cfg.backoff_us << (attempt < 6 ? attempt : 6);
                attempt++;
                if (sleep_us(b > 30 * US_PER_S ? 30 * US_PER_S : b, stop))
                    break;
            }
            rec->attempts = attempt + 1;
            if (crc == 0) {
                snprintf(rec->action, sizeof(rec->action), "scaled");
                d->own_count = rec->applied;
            } else {
                snprintf(rec->action, sizeof(rec->action), "failed");
                add_source(rec->sources, sizeof(rec->sources), why);
            }
        } else {
            d->own_count = rec->applied;
            snprintf(rec->action, sizeof(rec->action), "scaled");
        }
    } else if (rec->held) {
        snprintf(rec->action, sizeof(rec->action), "hold");
    }
    log_tick(d, rec);
    return 0;
}

int drive_tick(drive *d, int64_t now_us, drive_tick_rec *rec, gp_error *err)
{
    return tick(d, now_us, rec, NULL, err);
}

static int64_t mono_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * US_PER_S + ts.tv_nsec / 1000;
}

int drive_run(const drive_run_opts *o, FILE *out, gp_error *err)
{
    const char *path = o->config_path;
    bool dry = o->dry_run;
    long ticks = o->ticks;
    drive_cfg c;
    int rc = drive_cfg_load(path, &c, err);
    if (rc < 0) {
        drive_cfg_free(&c);
        return rc;
    }
    FILE *log = out;
    if (c.log_path[0] && !(log = fopen(c.log_path, "a"))) {
        rc = gp_error_set(err, GP_EIO, c.log_path, 0, 0, "log", "cannot open: %s", strerror(errno));
        drive_cfg_free(&c);
        return rc;
    }
    drive *d;
    if ((rc = drive_open(&c, dry, log, &d, err)) < 0) {
        if (log != out)
            fclose(log);
        drive_cfg_free(&c);
        return rc;
    }
    /* SIGTERM/SIGINT are blocked and waited for between ticks: a clean stop, no handler */
    sigset_t stop, old;
    sigemptyset(&stop);
    sigaddset(&stop, SIGTERM);
    sigaddset(&stop, SIGINT);
    sigprocmask(SIG_BLOCK, &stop, &old);
    int64_t period = drive_sync_period_us(d), next = mono_now_us();
    bool stopped = false;
    for (long t = 0; (ticks < 0 || t < ticks) && !stopped; t++) {
        drive_tick_rec rec;
        if ((rc = tick(d, mono_now_us(), &rec, &stop, err)) < 0)
            break;
        if (ticks > 0 && t + 1 >= ticks)
            break;
        next += period;
        int64_t wait = next - mono_now_us();
        if (wait < 0) {
            next = mono_now_us(); /* a slow tick: skip, do not burst */
            wait = 0;
        }
        struct timespec ts = {(time_t)(wait / US_PER_S), (long)(wait % US_PER_S) * 1000};
        int s = sigtimedwait(&stop, NULL, &ts);
        stopped = s > 0;
    }
    if (stopped && log) {
        fprintf(log, "{\"event\":\"stopped\",\"reason\":\"signal\",\"label\":\"%s\"}\n", c.label);
        fflush(log);
    }
    sigprocmask(SIG_SETMASK, &old, NULL);
    drive_close(d);
    if (log != out)
        fclose(log);
    drive_cfg_free(&c);
    return rc < 0 ? rc : 0;
}
