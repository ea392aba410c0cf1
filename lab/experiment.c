/* experiment.c: loading and checking experiment files (see experiment.h). */
#include "lab/experiment.h"

#include "base/common.h"
#include "base/fileio.h"
#include "lab/fleet_cfg.h"
#include "base/text.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Resolves a path written at node `where` against the directory it is relative to: the
 * file's, or the one an overlay gave (a --set on the command line: the current directory);
 * too long is an error. */
int experiment_resolve_path(const experiment *e, const cfg_node *where, const char *rel, char *out,
                            size_t cap, gp_error *err)
{
    const char *dir = cfg_node_base_dir(where) ? cfg_node_base_dir(where) : e->dir;
    if (gp_path_join(dir, rel, out, cap) < 0)
        return cfg_error(where, err, GP_ELIMIT, "path longer than %zu bytes", cap - 1);
    return 0;
}

/* cluster.timeout: a duration from 1 ms to a day, or `none` (clients never give up). */
static int timeout_opt(const cfg_node *map, int64_t *out_us, gp_error *err)
{
    const cfg_node *v = cfg_map_get(map, "timeout");
    const char *text = v ? cfg_scalar(v) : NULL;
    if (text && strcmp(text, "none") == 0) {
        *out_us = SIM_TIMEOUT_NONE;
        return 1;
    }
    return cfg_opt_duration_us(map, "timeout", US_PER_MS, US_PER_DAY, out_us, err);
}

static int parse_cluster(const cfg_node *map, cluster_cfg *c, char *currency, size_t cur_len,
                         gp_error *err)
{
    static const char *const keys[] = {"gpus",
                                       "gpus_max",
                                       "node_provision_delay",
                                       "min_pods",
                                       "max_pods",
                                       "concurrency",
                                       "dispatch",
                                       "timeout",
                                       "termination_grace",
                                       "readiness_delay",
                                       "image_cache",
                                       "gpu_share",
                                       "max_queue",
                                       "price_per_gpu_hour",
                                       "slo",
                                       "pod_start_phases",
                                       "start_interference",
                                       "currency",
                                       "pools",
                                       "deployments",
                                       "routing",
                                       NULL};
    static const char *const dispatch_names[] = {"shared_queue", "least_conn", NULL};
    static const char *const cache_names[] = {"none", "node", "all", NULL};
    int rc = cfg_check_keys(map, keys, err);
    int gpus_set = 0, max_set = 0, gmax_set = 0;
    int dispatch = (int)c->dispatch, cache = (int)c->image_cache;
    if (rc == 0)
        rc = gpus_set = cfg_opt_int(map, "gpus", 1, 100000, &c->gpus, err);
    if (rc >= 0)
        rc = gmax_set = cfg_opt_int(map, "gpus_max", 1, 100000, &c->gpus_max, err);
    if (rc >= 0)
        rc = cfg_opt_duration_us(map, "node_provision_delay", 0, US_PER_DAY, &c->node_provision_us,
                                 err);
    if (rc >= 0)
        rc = cfg_opt_int(map, "min_pods", 0, 100000, &c->min_pods, err);
    if (rc >= 0)
        rc = max_set = cfg_opt_int(map, "max_pods", 1, 100000, &c->max_pods, err);
    if (rc >= 0)
        rc = cfg_opt_int(map, "concurrency", 1, 100000, &c->concurrency, err);
    if (rc >= 0)
        rc = cfg_opt_enum(map, "dispatch", dispatch_names, &dispatch, err);
    if (rc >= 0)
        rc = timeout_opt(map, &c->timeout_us, err);
    if (rc >= 0)
        rc = cfg_opt_duration_us(map, "termination_grace", 0, US_PER_DAY, &c->termination_grace_us,
                                 err);
    if (rc >= 0)
        rc =
            cfg_opt_duration_us(map, "readiness_delay", 0, US_PER_DAY, &c->readiness_delay_us, err);
    if (rc >= 0)
        rc = cfg_opt_enum(map, "image_cache", cache_names, &cache, err);
    if (rc >= 0)
        rc = cfg_opt_int(map, "gpu_share", 1, 64, &c->gpu_share, err);
    if (rc >= 0)
        rc = cfg_opt_int(map, "max_queue", 0, 100000000, &c->max_queue, err);
    if (rc >= 0)
        rc = cfg_opt_double(map, "price_per_gpu_hour", 0, 1e6, &c->price_per_gpu_hour, err);
    if (rc >= 0)
        rc = cfg_opt_duration_us(map, "slo", US_PER_MS, US_PER_DAY, &c->slo_us, err);
    if (rc >= 0)
        rc = cfg_opt_double(map, "start_interference", 0.01, 1.0, &c->start_interference, err);
    const char *cur = NULL;
    if (rc >= 0 && (rc = cfg_opt_string(map, "currency", &cur, err)) == 1) {
        size_t n = strlen(cur);
        if (n == 0 || n >= cur_len || strpbrk(cur, " \t\n\r"))
            return cfg_error(cfg_map_get(map, "currency"), err, GP_ERANGE,
                             "expected a currency code of 1 to %zu characters without blanks "
                             "(USD, EUR, CNY), got \"%s\"",
                             cur_len - 1, cur);
        memcpy(currency, cur, n + 1);
    }
    const cfg_node *phases = rc >= 0 ? cfg_map_get(map, "pod_start_phases") : NULL;
    if (phases) {
        if (cfg_node_kind(phases) != CFG_SEQ)
            return cfg_error(
                phases, err, GP_EPARSE,
                "expected a list of phases like \"image_pull normal 12 3 pod cached_skip\"");
        if (cfg_len(phases) > sizeof(c->extra_phase) / sizeof(c->extra_phase[0]))
            return cfg_error(phases, err, GP_ELIMIT, "at most 8 phases");
        for (size_t i = 0; i < cfg_len(phases); i++) {
            const cfg_node *ph = cfg_seq_at(phases, i);
            if (!cfg_scalar(ph))
                return cfg_error(ph, err, GP_EPARSE, "expected a phase as one string");
            rc = profile_phase_parse(cfg_node_file(ph), cfg_node_line(ph), cfg_node_path(ph),
                                     cfg_scalar(ph), &c->extra_phase[i], err);
            if (rc < 0)
                return rc;
        }
        c->n_extra_phases = (int)cfg_len(phases);
    }
    if (rc < 0)
        return rc;
    c->dispatch = (dispatch_mode)dispatch;
    c->image_cache = (image_cache_mode)cache;
    /* defaults that follow other keys: a pool as large as the pods may need */
    if (!gpus_set && max_set)
        c->gpus = (c->max_pods + c->gpu_share - 1) / c->gpu_share;
    if (!gmax_set)
        c->gpus_max = c->gpus;
    if (c->gpus_max < c->gpus)
        return cfg_error(cfg_map_get(map, "gpus_max"), err, GP_ERANGE,
                         "gpus_max (%d) is below gpus (%d)", c->gpus_max, c->gpus);
    if (c->min_pods > c->max_pods)
        return cfg_error(cfg_map_get(map, "min_pods") ? cfg_map_get(map, "min_pods") : map, err,
                         GP_ERANGE, "min_pods (%d) is above max_pods (%d)", c->min_pods,
                         c->max_pods);
    if ((int64_t)c->max_pods * c->concurrency > EXPERIMENT_MAX_SLOTS) {
        const cfg_node *at = cfg_map_get(map, "concurrency") ? cfg_map_get(map, "concurrency")
                                                             : cfg_map_get(map, "max_pods");
        return cfg_error(at ? at : map, err, GP_ERANGE,
                         "max_pods x concurrency = %d x %d request slots, more than %d (each "
                         "ready pod holds `concurrency` slots in memory)",
                         c->max_pods, c->concurrency, EXPERIMENT_MAX_SLOTS);
    }
    return 0;
}

static int parse_metrics(const cfg_node *map, metrics_cfg *m, gp_error *err)
{
    static const char *const keys[] = {"scrape_interval", "latency_window", "delay", "sync_jitter",
                                       NULL};
    int rc = cfg_check_keys(map, keys, err);
    if (rc == 0)
        rc = cfg_opt_duration_us(map, "scrape_interval", US_PER_MS, US_PER_H,
                                 &m->scrape_interval_us, err);
    if (rc >= 0)
        rc = cfg_opt_duration_us(map, "latency_window", US_PER_MS, US_PER_DAY,
                                 &m->latency_window_us, err);
    if (rc >= 0)
        rc = cfg_opt_duration_us(map, "delay", 0, US_PER_H, &m->delay_us, err);
    if (rc >= 0)
        rc = cfg_opt_duration_us(map, "sync_jitter", 0, US_PER_H, &m->sync_jitter_us, err);
    if (rc < 0)
        return rc;
    if (m->delay_us / m->scrape_interval_us > 10000)
        return cfg_error(cfg_map_get(map, "delay"), err, GP_ERANGE,
                         "delay is more than 10000 scrape intervals");
    return 0;
}

static int parse_users(const cfg_node *map, closed_loop_cfg *c, gp_error *err)
{
    static const char *const keys[] = {"count",    "think_time", "ramp",
                                       "duration", "image_mix",  NULL};
    int rc = cfg_check_keys(map, keys, err);
    if (rc == 0)
        rc = cfg_req_int(map, "count", 0, 1000000, &c->users, err);
    if (rc >= 0)
        rc = cfg_opt_duration_us(map, "think_time", 0, US_PER_DAY, &c->think_mean_us, err);
    if (rc >= 0) {
        rc =
            cfg_opt_duration_us(map, "duration", US_PER_MS, 400 * US_PER_DAY, &c->duration_us, err);
        if (rc == 0)
            return cfg_error(map, err, GP_EMISSING, "a closed loop needs `duration`");
    }
    const cfg_node *ramp = rc >= 0 ? cfg_map_get(map, "ramp") : NULL;
    if (ramp) {
        static const char *const rkeys[] = {"step", "every", "max", NULL};
        rc = cfg_check_keys(ramp, rkeys, err);
        if (rc == 0)
            rc = cfg_req_int(ramp, "step", 1, 100000, &c->ramp_step, err);
        if (rc >= 0) {
            rc = cfg_opt_duration_us(ramp, "every", US_PER_MS, US_PER_DAY, &c->ramp_every_us, err);
            if (rc == 0)
                return cfg_error(ramp, err, GP_EMISSING, "a ramp needs `every`");
        }
        if (rc >= 0)
            rc = cfg_opt_int(ramp, "max", 1, 1000000, &c->ramp_max, err);
    }
    const cfg_node *mix = rc >= 0 ? cfg_map_get(map, "image_mix") : NULL;
    if (mix)
        rc = image_mix_from_cfg(mix, &c->mix, err);
    return rc < 0 ? rc : 0;
}

static int parse_policies(experiment *e, const cfg_node *seq, gp_error *err)
{
    if (cfg_node_kind(seq) != CFG_SEQ || cfg_len(seq) == 0)
        return cfg_error(seq, err, GP_EPARSE, "expected a non-empty list of policies");
    if (cfg_len(seq) > EXPERIMENT_MAX_POLICIES)
        return cfg_error(seq, err, GP_ELIMIT, "more than %d policies", EXPERIMENT_MAX_POLICIES);
    static const char *const keys[] = {"label", "policy", "config", NULL};
    for (size_t i = 0; i < cfg_len(seq); i++) {
        const cfg_node *item = cfg_seq_at(seq, i);
        int rc = cfg_check_keys(item, keys, err);
        const char *name = NULL, *label = NULL;
        if (rc == 0)
            rc = cfg_req_string(item, "policy", &name, err);
        if (rc >= 0)
            rc = cfg_opt_string(item, "label", &label, err);
        if (rc < 0)
            return rc;
        policy_entry *pe = &e->policy[e->n_policies];
        pe->ops = policy_find(name);
        if (!pe->ops) {
            char known[512] = "";
            const policy_ops *const *all = policy_all();
            for (size_t k = 0; all[k]; k++) {
                size_t used = strlen(known);
                snprintf(known + used, sizeof(known) - used, "%s%s", k ? ", " : "", all[k]->name);
            }
            return cfg_error(cfg_map_get(item, "policy"), err, GP_EUNKNOWN,
                             "unknown policy \"%s\" (known: %s)", name, known);
        }
        /* a long label is cut at a character boundary, never inside one */
        gp_copy_utf8(pe->label, sizeof(pe->label), label ? label : name);
        for (int k = 0; k < e->n_policies; k++)
            if (strcmp(e->policy[k].label, pe->label) == 0)
                return cfg_error(item, err, GP_EPARSE,
                                 "label \"%s\" used twice: give each entry its own `label`",
                                 pe->label);
        pe->config = cfg_map_get(item, "config");
        if (pe->config && cfg_node_kind(pe->config) != CFG_MAP)
            return cfg_error(pe->config, err, GP_EPARSE, "config must be a map");
        e->n_policies++;
    }
    return 0;
}

static int parse_output(experiment *e, const cfg_node *map, gp_error *err)
{
    static const char *const keys[] = {
        "db", "csv", "series", "requests", "max_series_rows", "max_request_rows", NULL};
    int rc = cfg_check_keys(map, keys, err);
    const char *db = NULL, *csv = NULL;
    if (rc == 0)
        rc = cfg_opt_string(map, "db", &db, err);
    if (rc >= 0)
        rc = cfg_opt_string(map, "csv", &csv, err);
    if (rc >= 0)
        rc = cfg_opt_bool(map, "series", &e->record_series, err);
    if (rc >= 0)
        rc = cfg_opt_bool(map, "requests", &e->record_requests, err);
    /* rows kept in memory per run (sim.h checks them before the run starts) */
    if (rc >= 0)
        rc = cfg_opt_int64(map, "max_series_rows", 1, INT64_C(1) << 40, &e->max_series_rows, err);
    if (rc >= 0)
        rc = cfg_opt_int64(map, "max_request_rows", 1, INT64_C(1) << 40, &e->max_request_rows, err);
    if (rc < 0)
        return rc;
    if (db && (rc = experiment_resolve_path(e, cfg_map_get(map, "db"), db, e->db_path,
                                            sizeof(e->db_path), err)) < 0)
        return rc;
    if (csv && (rc = experiment_resolve_path(e, cfg_map_get(map, "csv"), csv, e->csv_path,
                                             sizeof(e->csv_path), err)) < 0)
        return rc;
    return 0;
}

static double no_work(void *ctx, int64_t t0_us, int64_t t1_us)
{
    (void)ctx, (void)t0_us, (void)t1_us;
    return 0;
}

static uint64_t no_arrivals(void *ctx, int64_t t0_us, int64_t t1_us)
{
    (void)ctx, (void)t0_us, (void)t1_us;
    return 0;
}

int experiment_check_policies(const experiment *e, int only, gp_error *err)
{
    const oracle_view stub = {NULL, no_work, no_arrivals, 0}; /* clairvoyant needs one */
    for (int pi = 0; pi < e->n_policies; pi++) {
        if (only >= 0 && pi != only)
            continue;
        sim_cfg cfg;
        experiment_sim_cfg(e, pi, 0, &cfg);
        policy_env env;
        sim_policy_env(&cfg, &env);
        env.oracle = &stub;
        policy_info info = {
            .sync_period_us = 15 * US_PER_S, .initial_pods = -1, .min_pods = -1, .max_pods = -1};
        void *state = NULL;
        TRY(e->policy[pi].ops->create(e->policy[pi].config, &env, &state, &info, err));
        e->policy[pi].ops->destroy(state);
    }
    return 0;
}

static int experiment_parse(experiment *e, gp_error *err)
{
    const cfg_node *root = cfg_root(e->doc);
    if (!root)
        return gp_error_set(err, GP_EPARSE, e->path, 0, 0, NULL, "empty experiment file");
    static const char *const keys[] = {"name",      "description", "seed",   "replications",
                                       "profile",   "workload",    "users",  "cluster",
                                       "metrics",   "policies",    "output", "duration",
                                       "objective", "mixes",       NULL};
    int rc = cfg_check_keys(root, keys, err);
    if (rc < 0)
        return rc;
    const char *name = NULL, *desc = NULL, *profile = NULL;
    int64_t seed = 1;
    rc = cfg_opt_string(root, "name", &name, err);
    if (rc >= 0)
        rc = cfg_opt_string(root, "description", &desc, err);
    if (rc >= 0)
        rc = cfg_opt_int64(root, "seed", 0, INT64_MAX, &seed, err);
    if (rc >= 0)
        rc = cfg_opt_int(root, "replications", 1, EXPERIMENT_MAX_REPLICATIONS, &e->replications,
                         err);
    /* with node pools, each pool names its card; the experiment's is then optional */
    if (rc >= 0)
        rc = fleet_cfg_has_pools(root) ? cfg_opt_string(root, "profile", &profile, err)
                                       : cfg_req_string(root, "profile", &profile, err);
    if (rc >= 0)
        rc =
            cfg_opt_duration_us(root, "duration", US_PER_MS, 400 * US_PER_DAY, &e->horizon_us, err);
    if (rc < 0)
        return rc;
    e->seed = (uint64_t)seed;
    if (name)
        gp_copy_utf8(e->name, sizeof(e->name), name);
    if (desc)
        gp_copy_utf8(e->description, sizeof(e->description), desc);

    if (fleet_cfg_has_pools(root)) {
        /* node pools: a text given with the experiment (a results database's) holds every
           pool's card too (fleet_cfg_parse); the cards are read again from their files */
        free(e->profile_text);
        e->profile_text = NULL;
    }
    if (profile) {
        rc = experiment_resolve_path(e, cfg_map_get(root, "profile"), profile, e->profile_path,
                                     sizeof(e->profile_path), err);
        if (rc < 0)
            return rc;
        e->profile = malloc(sizeof(*e->profile));
        if (!e->profile)
            return gp_error_set(err, GP_ENOMEM, e->path, 0, 0, NULL, "out of memory");
        /* a text given with the experiment (a results database keeps both) is the profile;
         * a file is read once, so the text parsed is the text stored with the results */
        if (!e->profile_text)
            rc = gp_read_text_file(e->profile_path, PROFILE_MAX_FILE_BYTES, &e->profile_text, NULL,
                                   err);
        if (rc == 0)
            rc = profile_parse(e->profile_path, e->profile_text, e->profile, err);
        if (rc < 0) {
            if (rc == GP_EIO || rc == GP_EMISSING) {
                /* name the experiment line that pointed at the missing profile */
                char msg[sizeof(err->msg)];
                snprintf(msg, sizeof(msg), "%s", err->msg);
                return cfg_error(cfg_map_get(root, "profile"), err, rc, "GPU profile %s: %s",
                                 e->profile_path, msg);
            }
            return rc;
        }
    }

    const cfg_node *n;
    if ((n = cfg_map_get(root, "cluster")) &&
        (rc = parse_cluster(n, &e->cluster, e->currency, sizeof(e->currency), err)) < 0)
        return rc;
    if ((n = cfg_map_get(root, "metrics")) && (rc = parse_metrics(n, &e->metrics, err)) < 0)
        return rc;
    const cfg_node *wl = cfg_map_get(root, "workload"), *users = cfg_map_get(root, "users");
    if (wl && users)
        return cfg_error(users, err, GP_EPARSE,
                         "give either `workload` (open loop) or `users` (closed loop), not both");
    if (!wl && !users)
        return cfg_error(root, err, GP_EMISSING, "missing `workload` (or `users`)");
    if (users) {
        e->closed_loop = true;
        image_mix_default(&e->closed.mix);
        if ((rc = parse_users(users, &e->closed, err)) < 0)
            return rc;
    } else if ((rc = workload_parse(wl, e->dir, &e->workload, err)) < 0) {
        return rc;
    }
    n = cfg_map_get(root, "policies");
    if (!n)
        return cfg_error(root, err, GP_EMISSING, "missing `policies`");
    if ((rc = parse_policies(e, n, err)) < 0)
        return rc;
    if ((rc = fleet_cfg_parse(e, root, err)) < 0)
        return rc;
    if ((n = cfg_map_get(root, "output")) && (rc = parse_output(e, n, err)) < 0)
        return rc;
    if ((n = cfg_map_get(root, "objective")) && !cfg_node_is_null(n)) {
        if ((rc = winner_objective_parse(n, &e->objective, err)) < 0)
            return rc;
        e->objective_given = true;
    }
    return 0;
}

/* One input file's identity line: "WHAT PATH: N bytes, fnv1a64 H" (or "not readable"). */
static int describe_file(char *buf, size_t cap, const char *what, const char *path)
{
    uint64_t h, bytes;
    gp_error herr;
    if (gp_hash_file(path, &h, &bytes, &herr) == 0)
        return snprintf(buf, cap, "%s %s: %" PRIu64 " bytes, fnv1a64 %016" PRIx64 "\n", what, path,
                        bytes, h);
    return snprintf(buf, cap, "%s %s: not readable\n", what, path);
}

/* The identity of the inputs beyond the file's text (and the profiles'): the trace's
 * content, each pool's recorded preemptions and gpenlab's version. A file that cannot be
 * read is recorded as such (a run would fail on it; an export from a results database may
 * not have it). */
static int describe_inputs(experiment *e, gp_error *err)
{
    /* a line for the trace and each pool's recorded preemptions (paths < 512 bytes) */
    size_t cap = (size_t)(e->n_pools + 2) * 700;
    char *buf = malloc(cap);
    if (!buf)
        return gp_oom(err);
    size_t n = 0;
    if (!e->closed_loop &&
        (e->workload.type == WORKLOAD_TRACE || e->workload.type == WORKLOAD_ENVELOPE))
        n += (size_t)describe_file(buf, cap, "trace", e->workload.path);
    for (int i = 0; i < e->n_pools; i++)
        if (e->pool[i].trace_path[0])
            n += (size_t)describe_file(buf + n, cap - n, "preemptions", e->pool[i].trace_path);
    snprintf(buf + n, cap - n, "gpenlab %s\n", GPENLAB_VERSION);
    e->inputs_text = buf;
    return 0;
}

/* A new experiment named after its file (base name up to the first dot), with its
 * directory for relative paths and the defaults. */
static experiment *experiment_new(const char *path, const char *dir)
{
    experiment *e = calloc(1, sizeof(*e));
    if (!e)
        return NULL;
    snprintf(e->path, sizeof(e->path), "%s", path);
    const char *slash = strrchr(path, '/');
    if (dir)
        snprintf(e->dir, sizeof(e->dir), "%s", dir);
    else if (slash)
        snprintf(e->dir, sizeof(e->dir), "%.*s", (int)(slash - path), path);
    const char *base = slash ? slash + 1 : path;
    snprintf(e->name, sizeof(e->name), "%.*s", (int)strcspn(base, "."), base);
    e->seed = 1;
    e->replications = 1;
    cluster_cfg_default(&e->cluster);
    metrics_cfg_default(&e->metrics);
    e->record_series = true;
    winner_objective_default(&e->objective);
    snprintf(e->currency, sizeof(e->currency), "USD");
    return e;
}

/* Parses e->yaml_text with the overlays on top; frees e on failure. */
static int experiment_finish(experiment *e, const experiment_overlay *ov, size_t n_ov,
                             experiment **out, gp_error *err)
{
    int rc = cfg_load_string(e->path, e->yaml_text, strlen(e->yaml_text), &e->doc, err);
    /* the overlays, in order, and their text for the identity */
    size_t len = 1;
    for (size_t i = 0; i < n_ov; i++)
        len += strlen(ov[i].path) + strlen(ov[i].value) + 2;
    if (rc == 0 && !(e->overlay_text = calloc(1, len)))
        rc = gp_oom(err);
    for (size_t i = 0; rc == 0 && i < n_ov; i++) {
        rc = cfg_set(e->doc, ov[i].path, ov[i].value, ov[i].origin ? ov[i].origin : e->path,
                     ov[i].base_dir, err);
        size_t used = strlen(e->overlay_text);
        snprintf(e->overlay_text + used, len - used, "%s=%s\n", ov[i].path, ov[i].value);
    }
    if (rc == 0)
        rc = experiment_parse(e, err);
    if (rc == 0)
        rc = describe_inputs(e, err);
    if (rc < 0) {
        experiment_free(e);
        return rc;
    }
    *out = e;
    return 0;
}

int experiment_load_overlaid(const char *path, const experiment_overlay *ov, size_t n_ov,
                             experiment **out, gp_error *err)
{
    *out = NULL;
    experiment *e = experiment_new(path, NULL);
    if (!e)
        return gp_error_set(err, GP_ENOMEM, path, 0, 0, NULL, "out of memory");
    /* a NUL byte or invalid UTF-8 is refused here, so the text parsed is the whole file */
    int rc = gp_read_text_file(path, 16u << 20, &e->yaml_text, NULL, err);
    if (rc < 0) {
        experiment_free(e);
        return rc;
    }
    return experiment_finish(e, ov, n_ov, out, err);
}

int experiment_load(const char *path, experiment **out, gp_error *err)
{
    return experiment_load_overlaid(path, NULL, 0, out, err);
}

int experiment_load_text(const char *name, const char *dir, const char *yaml_text,
                         const char *profile_text, const experiment_overlay *ov, size_t n_ov,
                         experiment **out, gp_error *err)
{
    *out = NULL;
    experiment *e = experiment_new(name, dir);
    if (!e || !(e->yaml_text = strdup(yaml_text)) ||
        (profile_text && !(e->profile_text = strdup(profile_text)))) {
        experiment_free(e);
        return gp_error_set(err, GP_ENOMEM, name, 0, 0, NULL, "out of memory");
    }
    return experiment_finish(e, ov, n_ov, out, err);
}

int experiment_load_stored(const results_db_inputs *in, const char *name, experiment **out,
                           gp_error *err)
{
    *out = NULL;
    char dir[512] = "";
    const char *slash = in->file ? strrchr(in->file, '/') : NULL;
    if (slash)
        snprintf(dir, sizeof(dir), "%.*s", (int)(slash - in->file), in->file);
    char *ov_copy = strdup(in->overlays ? in->overlays : "");
    if (!ov_copy)
        return gp_oom(err);
    experiment_overlay ov[64];
    size_t n_ov = 0;
    for (char *line = ov_copy, *next; *line && n_ov < 64; line = next) {
        next = strchr(line, '\n');
        if (next)
            *next++ = '\0';
        else
            next = line + strlen(line);
        char *eq = strchr(line, '=');
        if (!eq)
            continue;
        *eq = '\0';
        ov[n_ov++] = (experiment_overlay){line, eq + 1, name, dir};
    }
    int rc = experiment_load_text(name, dir, in->yaml_text, in->profile_text, ov, n_ov, out, err);
    free(ov_copy);
    return rc;
}

void experiment_free(experiment *e)
{
    if (!e)
        return;
    if (!e->closed_loop)
        workload_free(&e->workload);
    fleet_cfg_free(e);
    cfg_free(e->doc);
    free(e->yaml_text);
    free(e->overlay_text);
    free(e->inputs_text);
    free(e->profile);
    free(e->profile_text);
    free(e);
}

static int open_workload(void *ctx, uint64_t seed, arrival_src **out, gp_error *err)
{
    const experiment *e = ctx;
    return workload_open(&e->workload, seed, out, err);
}

void experiment_sim_cfg(const experiment *e, int pi, int rep, sim_cfg *out)
{
    memset(out, 0, sizeof(*out));
    out->cluster = *experiment_cluster(e, pi, NULL);
    out->metrics = e->metrics;
    out->profile = e->profile;
    out->policy = e->policy[pi].ops;
    out->policy_cfg = e->policy[pi].config;
    out->label = e->policy[pi].label;
    out->seed = e->seed + (uint64_t)rep;
    out->replication = rep;
    out->horizon_us = e->horizon_us;
    out->closed_loop = e->closed_loop;
    out->closed = e->closed;
    out->open_source = open_workload;
    out->mix = e->closed_loop ? NULL : &e->workload.mix;
    out->source_ctx = (void *)e;
    out->record_series = e->record_series;
    out->record_requests = e->record_requests;
    out->max_series_rows = e->max_series_rows;
    out->max_request_rows = e->max_request_rows;
}

const cluster_cfg *experiment_cluster(const experiment *e, int pi, const int **pool_src)
{
    int m = pi >= 0 && pi < e->n_policies ? e->policy[pi].mix : -1;
    if (pool_src)
        *pool_src = m >= 0 ? e->mix[m].pool_src : e->pool_src;
    return m >= 0 ? &e->mix[m].cluster : &e->cluster;
}

uint64_t experiment_inputs_hash(const experiment *e)
{
    uint64_t h = 1469598103934665603ULL;
    const char *texts[4] = {e->yaml_text, e->profile_text, e->overlay_text, e->inputs_text};
    for (int k = 0; k < 4; k++) {
        for (const unsigned char *p = (const unsigned char *)texts[k]; p && *p; p++) {
            h ^= *p;
            h *= 1099511628211ULL;
        }
        h ^= 0xff;
        h *= 1099511628211ULL;
    }
    return h;
}

int experiment_db_upsert(const experiment *e, results_db *db, int64_t *exp_id, gp_error *err)
{
    return results_db_experiment_upsert_inputs(db, e->name, e->path, e->yaml_text, e->overlay_text,
                                               e->profile_text, e->inputs_text, exp_id, err);
}

/* The least memory a request of class c can need (bytes): its fewest faces, and the mp in
 * [mp_min, mp_max] where the profile's memory curve (linear between grid points) is lowest. */
static double class_min_mem_bytes(const gpu_profile *p, const image_class *c)
{
    int faces = 0;
    while (faces < IMAGE_MIX_MAX_FACES && !(c->faces_p[faces] > 0))
        faces++;
    double best = fmin(profile_req_mem_bytes(p, c->mp_min, faces),
                       profile_req_mem_bytes(p, c->mp_max, faces));
    for (int g = 0; g < p->n_grid; g++)
        if (p->mp_grid[g] > c->mp_min && p->mp_grid[g] < c->mp_max)
            best = fmin(best, profile_req_mem_bytes(p, p->mp_grid[g], faces));
    return best;
}

int experiment_warn(const experiment *e, FILE *warn)
{
    int n = 0;
    const cfg_node *root = cfg_root(e->doc);
    char line[1400];
    gp_error w;
    /* the cards: the experiment's, or each node pool's (lab/fleet_cfg.h) */
    int n_cards = e->n_pools > 0 ? e->n_pools : 1;
    const gpu_profile *largest = NULL;
    for (int k = 0; k < n_cards; k++) {
        const gpu_profile *p = e->n_pools > 0 ? e->pool_tpl[k].profile : e->profile;
        const char *path = e->n_pools > 0 && e->pool[k].profile_path[0] ? e->pool[k].profile_path
                                                                        : e->profile_path;
        if (!largest || p->gpu_mem_bytes - p->model_mem_bytes >
                            largest->gpu_mem_bytes - largest->model_mem_bytes)
            largest = p;
        bool seen = false; /* pools on the same card: said once */
        for (int j = 0; j < k; j++)
            seen |= e->pool_tpl[j].profile == p;
        int drop = profile_eff_first_drop(p);
        if (!drop || seen)
            continue;
        cfg_error(cfg_map_get(root, "profile"), &w, GP_ERANGE,
                  "GPU profile %s: the throughput eff(n) falls from n = %d to %d (%.3g -> %.3g): "
                  "more concurrency would serve less; check the measurement",
                  path, drop - 1, drop, profile_eff(p, drop - 1), profile_eff(p, drop));
        gp_error_format(&w, line, sizeof(line));
        if (warn)
            fprintf(warn, "warning: %s\n", line);
        n++;
    }
    /* the image mix draws every request's size, unless a trace gives both columns */
    const image_mix *mix = e->closed_loop ? &e->closed.mix : &e->workload.mix;
    if (!e->closed_loop && e->workload.type == WORKLOAD_TRACE && e->workload.mp_col[0] &&
        e->workload.faces_col[0])
        return n;
    image_mix def;
    const cfg_node *mix_node =
        cfg_map_get(cfg_map_get(root, e->closed_loop ? "users" : "workload"), "image_mix");
    if (mix->n_classes == 0) {
        image_mix_default(&def);
        mix = &def;
        mix_node = NULL;
    }
    /* with pools, a class is refused only when the largest card cannot hold it */
    double free_bytes = largest->gpu_mem_bytes - largest->model_mem_bytes;
    double total = 0;
    for (int i = 0; i < mix->n_classes; i++)
        total += mix->cls[i].weight;
    for (int i = 0; i < mix->n_classes; i++) {
        const image_class *c = &mix->cls[i];
        double need = class_min_mem_bytes(largest, c);
        if (!(c->weight > 0) || need <= free_bytes)
            continue;
        const cfg_node *at = mix_node ? cfg_seq_at(mix_node, (size_t)i) : NULL;
        cfg_error(at ? at : cfg_map_get(root, e->closed_loop ? "users" : "workload"), &w, GP_ERANGE,
                  "image class %d \"%s\"%s: every request needs at least %.0f MiB, more than "
                  "the %.0f MiB the card (%s) holds beside the model: all of them (%.1f%% of "
                  "requests) will be rejected as too large",
                  i, c->name, mix_node ? "" : " of the default image mix", need / 1048576,
                  free_bytes / 1048576, largest->card, 100 * c->weight / total);
        gp_error_format(&w, line, sizeof(line));
        if (warn)
            fprintf(warn, "warning: %s\n", line);
        n++;
    }
    return n;
}
