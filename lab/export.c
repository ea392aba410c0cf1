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
#include "lab/experiment.h"
#include "lab/fleet_cfg.h"
#include "lab/lab.h"
#include "lab/results_db.h"
#include "lab/run_metrics.h"
#include "lab/sweep_summary.h"
#include "lab/winner.h"
#include "policy/policy.h"
#include "profile/profile.h"
#include "sim/sim.h"
#include "traces/trace.h"

void export_opts_default(export_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->point = -1;
    o->app = "gpen";
    o->ns = "gpen";
    o->image = "registry.example.com/gpen:latest";
    o->port = 8080;
    o->prometheus_url = "http://prometheus-operated.monitoring.svc:9090";
    o->redis_address = "redis.gpen.svc:6379";
    o->cloud = "gke";
}

/* ------------------------------------------------------------------ the source */

/* The exported entry: one policy entry of an experiment read by experiment_load (from
 * its file, or from the text a results database keeps), with the env a run gives it. */
typedef struct xsrc {
    experiment *e;
    int pi;         /* the entry */
    char file[600]; /* where the experiment came from */
    const policy_ops *ops;
    const char *label;
    const cfg_node *config; /* NULL: defaults */
    policy_env env;
    policy_info info;
    /* a mixed fleet: the entry's cluster; one of its Deployments (dep >= 0: the env above
       and e->cluster's bounds and concurrency are that Deployment's), its pools
       [pool_first, pool_first + pool_n) in fc.pool, pool_src[k] the file's pool of fc.pool[k] */
    bool fleet;
    cluster_cfg fc;
    const int *pool_src;
    int dep, pool_first, pool_n;
    const char *fleet_app; /* the fleet's name: its Service, the pods' part-of label */
    char why[2048];        /* how the entry was chosen ("" when named in the file) */
} xsrc;

static void xsrc_free(xsrc *s) { experiment_free(s->e); }

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

/* ------------------------------------------------------------------ from a database */

/* The stored experiment as it ran (experiment_load_stored). */
static int load_stored(const char *db_path, const results_db_inputs *in, xsrc *s, gp_error *err)
{
    snprintf(s->file, sizeof(s->file), "%s (in %s)", in->file ? in->file : "experiment", db_path);
    return experiment_load_stored(in, s->file, &s->e, err);
}

static int load_stored_id(results_db *db, const char *db_path, int64_t exp_id, xsrc *s,
                          gp_error *err)
{
    results_db_inputs in;
    TRY(results_db_inputs_of(db, exp_id, &in, err));
    int rc = load_stored(db_path, &in, s, err);
    results_db_inputs_free(&in);
    return rc;
}

/* The invocation the stored runs come from: the newest run's first seed (seed -
 * replication), and the replications run with it. */
static void runs_invocation(const run_summary *runs, size_t n, uint64_t *seed0, size_t *reps)
{
    *seed0 = n ? runs[n - 1].seed - (uint64_t)runs[n - 1].replication : 0;
    *reps = 0;
    for (size_t i = 0; i < n; i++)
        if (runs[i].replication >= 0 && runs[i].seed - (uint64_t)runs[i].replication == *seed0 &&
            (size_t)runs[i].replication + 1 > *reps)
            *reps = (size_t)runs[i].replication + 1;
}

/* A run's database: the newest experiment (or, with a label, the newest that has runs of
 * it); its policies compete under its objective as `gpenlab run` printed it. */
static int choose_run(results_db *db, const export_opts *o, const results_db_experiment *ex,
                      size_t n_ex, xsrc *s, char **label, FILE *log, gp_error *err)
{
    run_summary *runs = NULL;
    size_t n = 0;
    int rc = 0;
    size_t i = n_ex;
    while (i-- > 0) { /* newest first */
        free(runs);
        runs = NULL;
        if ((rc = results_db_read_runs(db, ex[i].id, &runs, &n, err)) < 0)
            return rc;
        bool has = n > 0 && !o->label;
        for (size_t k = 0; o->label && k < n && !has; k++)
            has = strcmp(runs[k].label, o->label) == 0;
        if (has)
            break;
    }
    if (i == SIZE_MAX && o->label) {
        /* no runs of it: the newest experiment, as configured (nothing to compare) */
        free(runs);
        TRY(load_stored_id(db, o->from, ex[n_ex - 1].id, s, err));
        snprintf(s->why, sizeof(s->why),
                 "policy %s of experiment %s, chosen with --label "
                 "(no runs of it are stored)",
                 o->label, s->e->name);
        return (*label = strdup(o->label)) ? 0 : gp_oom(err);
    }
    if (i == SIZE_MAX) {
        free(runs);
        return gp_error_set(err, GP_EMISSING, o->from, 0, 0, NULL,
                            "no runs in the database: run the experiment first");
    }
    if ((rc = load_stored_id(db, o->from, ex[i].id, s, err)) < 0) {
        free(runs);
        return rc;
    }
    uint64_t seed0;
    size_t reps;
    runs_invocation(runs, n, &seed0, &reps);
    lab_verdict v;
    rc = lab_verdict_make(s->e, runs, n, (int)reps, seed0, &v, err);
    free(runs);
    if (rc < 0)
        return rc;
    if (log) {
        fprintf(log, "experiment %s in %s, its policies under its objective:\n", s->e->name,
                o->from);
        lab_verdict_print(log, s->e, &v);
    }
    size_t win = v.r.winner, closest = v.r.closest, live = v.live;
    lab_verdict_free(&v);
    char what[256];
    winner_objective_describe(&s->e->objective, what, sizeof(what));
    if (o->label) {
        snprintf(s->why, sizeof(s->why), "policy %s of experiment %s, chosen with --label (%s: %s)",
                 o->label, s->e->name, what,
                 win != SIZE_MAX ? s->e->policy[win].label : "no policy meets it");
        return (*label = strdup(o->label)) ? 0 : gp_oom(err);
    }
    if (win == SIZE_MAX)
        return gp_error_set(err, GP_ENOTSUP, o->from, 0, 0, NULL,
                            "no policy of experiment %s meets its objective (%s), so there is no "
                            "winner to export%s%s%s",
                            s->e->name, what, closest != SIZE_MAX ? "; the closest is " : "",
                            closest != SIZE_MAX ? s->e->policy[closest].label : "",
                            closest != SIZE_MAX ? ": export it with --label" : "");
    if (live != win) {
        const policy_ops *w = s->e->policy[win].ops;
        return gp_error_set(err, GP_ENOTSUP, o->from, 0, 0, NULL,
                            "the winner of experiment %s, %s, is policy %s, which has no live "
                            "form: %s; %s%s%s%s",
                            s->e->name, s->e->policy[win].label, w->name, w->live_none_why,
                            live != SIZE_MAX ? "the winner among the policies that have one is "
                                             : "no policy that has one meets the objective",
                            live != SIZE_MAX ? s->e->policy[live].label : "",
                            live != SIZE_MAX ? ": export it with --label " : "",
                            live != SIZE_MAX ? s->e->policy[live].label : "");
    }
    snprintf(s->why, sizeof(s->why), "the winner of experiment %s (%s): %s", s->e->name, what,
             s->e->policy[win].label);
    return (*label = strdup(s->e->policy[win].label)) ? 0 : gp_oom(err);
}

/* A sweep's database: its newest sweep as `gpenlab sweep` judged it (sweep_summary: the
 * objective the sweep recorded, the winner among its points); --point chooses another. */
static int choose_point(results_db *db, const export_opts *o, const results_db_sweep_point *pts,
                        size_t n_pts, xsrc *s, char **label, FILE *log, gp_error *err)
{
    /* the newest sweep: the one whose point was stored last */
    size_t newest = 0;
    for (size_t i = 1; i < n_pts; i++)
        if (pts[i].experiment_id > pts[newest].experiment_id)
            newest = i;
    sweep_summary sum;
    memset(&sum, 0, sizeof(sum));
    int rc = sweep_summary_read(db, pts[newest].sweep, &sum, err);
    if (rc < 0)
        return rc;
    char what[400] = "";
    if (sum.recorded)
        winner_objective_describe(&sum.obj, what, sizeof(what));
    if (log) {
        fprintf(log, "sweep %s in %s: %zu points%s%s\n", sum.name, o->from, sum.n_points,
                sum.recorded ? ", objective: " : "", what);
        sweep_summary_verdict(&sum, log);
    }
    size_t chosen = SIZE_MAX;
    if (o->point >= 0) {
        for (size_t i = 0; i < sum.n_points; i++)
            if ((long)sum.pt[i].point == o->point)
                chosen = i;
        if (chosen == SIZE_MAX)
            rc = gp_error_set(err, GP_ERANGE, o->from, 0, 0, "--point", "sweep %s has no point %ld",
                              sum.name, o->point);
        else if (sum.winner != SIZE_MAX)
            snprintf(s->why, sizeof(s->why),
                     "point p%04ld (%.900s) of sweep %s, chosen with --point (%s: p%04zu)",
                     o->point, sum.pt[chosen].params, sum.name, what, sum.pt[sum.winner].point);
        else
            snprintf(s->why, sizeof(s->why),
                     "point p%04ld (%.900s) of sweep %s, chosen with --point", o->point,
                     sum.pt[chosen].params, sum.name);
    } else if (!sum.recorded) {
        rc = gp_error_set(err, GP_EMISSING, o->from, 0, 0, "--point",
                          "sweep %s was stored without its objective (by an older gpenlab), so "
                          "it has no winner: choose a point with --point N",
                          sum.name);
    } else if (sum.winner == SIZE_MAX) {
        rc = gp_error_set(err, GP_ENOTSUP, o->from, 0, 0, NULL,
                          "no point of sweep %s meets its objective (%s), so there is no winner "
                          "to export: choose a point with --point N",
                          sum.name, what);
    } else {
        chosen = sum.winner;
        snprintf(s->why, sizeof(s->why), "the winner of sweep %s (%s): p%04zu (%.900s)", sum.name,
                 what, sum.pt[chosen].point, sum.pt[chosen].params);
    }
    if (rc == 0) {
        /* the chosen point's own experiment, and the label its runs carry */
        char run_label[64] = "";
        run_summary *runs = NULL;
        size_t nr = 0;
        rc = results_db_read_runs(db, sum.pt[chosen].exp_id, &runs, &nr, err);
        if (rc == 0 && nr == 0)
            rc = gp_error_set(err, GP_EMISSING, o->from, 0, 0, NULL,
                              "point %zu of sweep %s has no runs: run the sweep first",
                              sum.pt[chosen].point, sum.name);
        if (rc == 0)
            snprintf(run_label, sizeof(run_label), "%s", runs[0].label);
        free(runs);
        if (rc == 0 && o->label && strcmp(o->label, run_label) != 0)
            rc = gp_error_set(err, GP_EUNKNOWN, o->from, 0, 0, "--label",
                              "point p%04zu of sweep %s ran policy \"%s\", not \"%s\": choose "
                              "another point with --point N",
                              sum.pt[chosen].point, sum.name, run_label, o->label);
        if (rc == 0)
            rc = load_stored_id(db, o->from, sum.pt[chosen].exp_id, s, err);
        if (rc == 0 && !(*label = strdup(run_label)))
            rc = gp_oom(err);
    }
    sweep_summary_free(&sum);
    return rc;
}

/* --from a results database: what it holds decides. A sweep (its points newer than any
 * plain experiment, or --point) exports its winning point, else the newest experiment its
 * winning policy; --point or --label chooses another. */
static int load_from_db(const export_opts *o, xsrc *s, char **label, FILE *log, gp_error *err)
{
    results_db *db;
    TRY(results_db_open_read(o->from, &db, err));
    results_db_experiment *ex = NULL;
    results_db_sweep_point *pts = NULL;
    size_t n_ex = 0, n_pts = 0;
    int rc = results_db_experiments(db, &ex, &n_ex, err);
    if (rc == 0)
        rc = results_db_sweep_points(db, &pts, &n_pts, err);
    int64_t newest_ex = n_ex ? ex[n_ex - 1].id : -1, newest_pt = -1;
    for (size_t i = 0; i < n_pts; i++)
        if (pts[i].experiment_id > newest_pt)
            newest_pt = pts[i].experiment_id;
    bool from_sweep = o->point >= 0 || newest_pt > newest_ex;
    if (rc == 0 && from_sweep && n_pts == 0)
        rc =
            gp_error_set(err, GP_EMISSING, o->from, 0, 0, "--point", "the database holds no sweep");
    else if (rc == 0 && !from_sweep && n_ex == 0)
        rc = gp_error_set(err, GP_EMISSING, o->from, 0, 0, NULL, "no experiment in the database");
    else if (rc == 0)
        rc = from_sweep ? choose_point(db, o, pts, n_pts, s, label, log, err)
                        : choose_run(db, o, ex, n_ex, s, label, log, err);
    free(ex);
    free(pts);
    results_db_close(db);
    return rc;
}

static int find_entry(xsrc *s, const char *label, gp_error *err)
{
    const experiment *e = s->e;
    char known[512] = "";
    for (int i = 0; i < e->n_policies; i++) {
        size_t used = strlen(known);
        snprintf(known + used, sizeof(known) - used, "%s%s", i ? ", " : "", e->policy[i].label);
        if (label ? strcmp(e->policy[i].label, label) == 0 : e->n_policies == 1)
            s->pi = i;
    }
    if (s->pi < 0 && !label)
        return gp_error_set(err, GP_EMISSING, s->file, 0, 0, "--label",
                            "which policy? give its label (labels: %s)", known);
    if (s->pi < 0)
        return gp_error_set(err, GP_EUNKNOWN, s->file, 0, 0, "--label",
                            "no policy labelled \"%s\" (labels: %s)", label, known);
    const policy_entry *pe = &e->policy[s->pi];
    s->ops = pe->ops;
    s->label = pe->label;
    s->config = cfg_node_is_null(pe->config) ? NULL : pe->config;
    return 0;
}

/* Refuses a policy with no live form, naming the closest one that has. */
static int refuse_no_live_form(const xsrc *s, gp_error *err)
{
    const policy_ops *o = s->ops;
    const policy_ops *c = o->live_closest ? policy_find(o->live_closest) : NULL;
    char closest[256] = "";
    if (c)
        snprintf(closest, sizeof(closest), "; the closest exportable policy is %s (%s)", c->name,
                 c->summary);
    const cfg_node *entry = cfg_seq_at(cfg_map_get(cfg_root(s->e->doc), "policies"), (size_t)s->pi);
    return cfg_error(cfg_map_get(entry, "policy"), err, GP_ENOTSUP,
                     "policy %s has no live form: %s%s", o->name,
                     o->live_none_why ? o->live_none_why : "no form on a cluster", closest);
}

/* Creates the entry's policy once with s->env: its config is checked as a run would check
 * it, and s->info is what the policy says of itself (sync period, bounds). */
static int xsrc_check_policy(xsrc *s, gp_error *err)
{
    void *state = NULL;
    s->info = (policy_info){.sync_period_us = 15 * US_PER_S,
                            .flags = 0,
                            .initial_pods = -1,
                            .min_pods = -1,
                            .max_pods = -1};
    TRY(s->ops->create(s->config, &s->env, &state, &s->info, err));
    s->ops->destroy(state);
    return 0;
}

static int xsrc_load(const export_opts *o, xsrc *s, FILE *log, gp_error *err)
{
    memset(s, 0, sizeof(*s));
    s->pi = -1;
    s->dep = -1;
    char *label = NULL;
    if (is_sqlite(o->from)) {
        int rc = load_from_db(o, s, &label, log, err);
        if (rc < 0) {
            free(label);
            return rc;
        }
    } else {
        if (o->point >= 0)
            return gp_error_set(err, GP_EPARSE, o->from, 0, 0, "--point",
                                "--point chooses a point of a sweep in a results database");
        snprintf(s->file, sizeof(s->file), "%s", o->from);
        TRY(experiment_load(o->from, &s->e, err));
    }
    int rc = find_entry(s, label ? label : o->label, err);
    free(label);
    TRY(rc);
    if (s->ops->live == POLICY_LIVE_NONE)
        return refuse_no_live_form(s, err);
    /* the env a run of this entry gives its policy; a mixed fleet's cluster is its entry's
       (its mix's) */
    sim_cfg cfg;
    experiment_sim_cfg(s->e, s->pi, 0, &cfg);
    s->fc = *experiment_cluster(s->e, s->pi, &s->pool_src);
    s->fleet = s->fc.n_pools > 0;
    if (s->fleet)
        s->e->cluster = s->fc;
    sim_policy_env(&cfg, &s->env);
    return xsrc_check_policy(s, err);
}

/* Deployment `dep` of the mixed fleet loaded in *s, as *d: its pools, and the bounds,
 * concurrency and env its policy got in the run. d shares s's experiment, whose cluster is
 * the Deployment's until the caller puts it back (export_fleet). */
static int xsrc_deployment(const xsrc *s, int dep, xsrc *d, gp_error *err)
{
    *d = *s;
    d->dep = dep;
    sim_cfg cfg;
    experiment_sim_cfg(s->e, s->pi, 0, &cfg);
    sim_deployment_pools(&cfg, dep, &d->pool_first, &d->pool_n);
    sim_deployment_env(&cfg, dep, &d->env);
    d->e->cluster = s->fc;
    d->e->cluster.min_pods = d->env.min_pods;
    d->e->cluster.max_pods = d->env.max_pods;
    d->e->cluster.concurrency = d->env.concurrency;
    return xsrc_check_policy(d, err);
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

static ytree *metadata_tree(const export_opts *o, const xsrc *s, const char *name, const char *ns)
{
    ytree *m = ytree_map();
    ytree_set(m, "name", ytree_str(name));
    ytree_set(m, "namespace", ytree_str(ns));
    ytree_set(m, "labels", labels_tree(o));
    ytree *a = ytree_set(m, "annotations", ytree_map());
    ytree_set(a, "gpenlab.dev/policy", ytree_str(s->ops->name));
    ytree_set(a, "gpenlab.dev/label", ytree_str(s->label));
    ytree_set(a, "gpenlab.dev/experiment", ytree_str(s->e->name));
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
    } vars[4] = {{"GPEN_CONCURRENCY", ""},
                 {"GPEN_QUEUE", "gpen:pending"},
                 {"REDIS_ADDRESS", ""},
                 {"GPEN_TIMEOUT_SECONDS", ""}};
    snprintf(vars[0].v, sizeof(vars[0].v), "%d", s->e->cluster.concurrency);
    snprintf(vars[2].v, sizeof(vars[2].v), "%s", o->redis_address);
    snprintf(vars[3].v, sizeof(vars[3].v), "%lld", (long long)ceil_s(s->e->cluster.timeout_us));
    if (s->dep >= 0 && s->fc.routing == ROUTING_ROUTER && s->pool_n == 1)
        snprintf(vars[1].v, sizeof(vars[1].v), "gpen:pending:%s", s->fc.pool[s->pool_first].name);
    for (int i = 0; i < 4; i++) {
        ytree *e = ytree_push(env, ytree_map());
        ytree_set(e, "name", ytree_str(vars[i].k));
        ytree_set(e, "value", ytree_str(vars[i].v));
    }
    if (s->dep >= 0 && s->pool_n == 1) {
        /* memory-aware pulling: the worker takes only what its card can hold */
        const pool_cfg *pc = &s->fc.pool[s->pool_first];
        ytree *e = ytree_push(env, ytree_map());
        ytree_set(e, "name", ytree_str("GPEN_POOL"));
        ytree_set(e, "value", ytree_str(pc->name));
        e = ytree_push(env, ytree_map());
        ytree_set(e, "name", ytree_str("GPEN_GPU_MEM_MIB"));
        ytree_set(e, "value", ytree_strf("%.0f", pc->profile->gpu_mem_bytes / 1048576.0));
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
    ytree_set(rp, "initialDelaySeconds", ytree_int(ceil_s(s->e->cluster.readiness_delay_us)));
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

/* ------------------------------------------------------------------ mixed fleets */

/* The node labels of a card and a capacity: GKE's (cloud.google.com/gke-accelerator,
 * cloud.google.com/gke-spot) or EKS's through Karpenter (karpenter.k8s.aws/instance-gpu-name,
 * karpenter.sh/capacity-type). */
typedef struct node_labels {
    const char *gpu_key, *gpu_value;
    const char *cap_key, *cap_value; /* cap_value NULL: "no such label" (GKE on demand) */
} node_labels;

static bool eks(const export_opts *o) { return o->cloud && strcmp(o->cloud, "eks") == 0; }

static int pool_labels(const export_opts *o, const xsrc *s, int k, node_labels *nl, gp_error *err)
{
    const pool_cfg *pc = &s->fc.pool[k];
    const experiment_pool *xp = &s->e->pool[s->pool_src[k]];
    const char *gke = NULL, *ek = NULL;
    bool known = fleet_gpu_labels(pc->profile->card, &gke, &ek);
    nl->gpu_key =
        eks(o) ? "karpenter.k8s.aws/instance-gpu-name" : "cloud.google.com/gke-accelerator";
    nl->gpu_value = xp->accelerator[0] ? xp->accelerator : known ? (eks(o) ? ek : gke) : NULL;
    if (!nl->gpu_value)
        return gp_error_set(err, GP_ENOTSUP, s->file, 0, 0, "accelerator",
                            "pool %s: %s has no %s GPU type gpenlab knows; give the pool's "
                            "`accelerator:` (the value of %s)",
                            pc->name, pc->profile->card, eks(o) ? "EKS" : "GKE", nl->gpu_key);
    bool spot = pc->capacity == CAPACITY_SPOT;
    nl->cap_key = eks(o) ? "karpenter.sh/capacity-type" : "cloud.google.com/gke-spot";
    nl->cap_value = eks(o) ? (spot ? "spot" : "on-demand") : (spot ? "true" : NULL);
    return 0;
}

/* A node selector requirement: key In [value], or key DoesNotExist (value NULL). */
static ytree *requirement(const char *key, const char *value)
{
    ytree *r = ytree_map();
    ytree_set(r, "key", ytree_str(key));
    ytree_set(r, "operator", ytree_str(value ? "In" : "DoesNotExist"));
    if (value)
        ytree_push(ytree_set(r, "values", ytree_seq()), ytree_str(value));
    return r;
}

/* Where the Deployment's pods go: one pool's nodes (nodeSelector, and on GKE an on-demand
 * pool's "not spot"), or the pools in their order (required: any of them; preferred: by
 * weight, the first pool highest); a toleration for spot nodes where a pool is spot. */
static int place_pods_on(const export_opts *o, const xsrc *s, ytree *ps, gp_error *err)
{
    bool any_spot = false;
    node_labels nl[SIM_MAX_POOLS];
    for (int k = 0; k < s->pool_n; k++) {
        TRY(pool_labels(o, s, s->pool_first + k, &nl[k], err));
        any_spot |= s->fc.pool[s->pool_first + k].capacity == CAPACITY_SPOT;
    }
    if (s->pool_n == 1) {
        ytree *sel = ytree_set(ps, "nodeSelector", ytree_map());
        ytree_set(sel, nl[0].gpu_key, ytree_str(nl[0].gpu_value));
        if (nl[0].cap_value)
            ytree_set(sel, nl[0].cap_key, ytree_str(nl[0].cap_value));
        else {
            ytree *terms =
                ytree_set(ytree_set(ytree_set(ytree_set(ps, "affinity", ytree_map()),
                                              "nodeAffinity", ytree_map()),
                                    "requiredDuringSchedulingIgnoredDuringExecution", ytree_map()),
                          "nodeSelectorTerms", ytree_seq());
            ytree *ex = ytree_set(ytree_push(terms, ytree_map()), "matchExpressions", ytree_seq());
            ytree_push(ex, requirement(nl[0].cap_key, NULL));
        }
    } else {
        ytree *na = ytree_set(ytree_set(ps, "affinity", ytree_map()), "nodeAffinity", ytree_map());
        ytree *terms =
            ytree_set(ytree_set(na, "requiredDuringSchedulingIgnoredDuringExecution", ytree_map()),
                      "nodeSelectorTerms", ytree_seq());
        ytree *pref = ytree_set(na, "preferredDuringSchedulingIgnoredDuringExecution", ytree_seq());
        for (int k = 0; k < s->pool_n; k++) {
            ytree *ex = ytree_set(ytree_push(terms, ytree_map()), "matchExpressions", ytree_seq());
            ytree_push(ex, requirement(nl[k].gpu_key, nl[k].gpu_value));
            ytree_push(ex, requirement(nl[k].cap_key, nl[k].cap_value));
            ytree *p = ytree_push(pref, ytree_map());
            ytree_set(p, "weight", ytree_int(100 - 10 * k > 1 ? 100 - 10 * k : 1));
            ytree *pex =
                ytree_set(ytree_set(p, "preference", ytree_map()), "matchExpressions", ytree_seq());
            ytree_push(pex, requirement(nl[k].gpu_key, nl[k].gpu_value));
            ytree_push(pex, requirement(nl[k].cap_key, nl[k].cap_value));
        }
    }
    if (any_spot && !eks(o)) {
        /* GKE spot node pools are commonly tainted cloud.google.com/gke-spot=true */
        ytree *tol = ytree_push(ytree_get(ps, "tolerations"), ytree_map());
        ytree_set(tol, "key", ytree_str("cloud.google.com/gke-spot"));
        ytree_set(tol, "operator", ytree_str("Equal"));
        ytree_set(tol, "value", ytree_str("true"));
        ytree_set(tol, "effect", ytree_str("NoSchedule"));
    }
    return 0;
}

static void place_pods(const export_opts *o, const xsrc *s, ytree *ps)
{
    /* the labels were checked when the fleet's export began (fleet_check_labels) */
    place_pods_on(o, s, ps, NULL);
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
    ytree_set(ps, "terminationGracePeriodSeconds",
              ytree_int(ceil_s(s->e->cluster.termination_grace_us)));
    ytree_push(ytree_set(ps, "containers", ytree_seq()), container_tree(o, s, false));
    ytree *tol = ytree_push(ytree_set(ps, "tolerations", ytree_seq()), ytree_map());
    ytree_set(tol, "key", ytree_str("nvidia.com/gpu"));
    ytree_set(tol, "operator", ytree_str("Exists"));
    ytree_set(tol, "effect", ytree_str("NoSchedule"));
    if (s->dep >= 0) {
        ytree_set(ytree_get(tm, "labels"), "app.kubernetes.io/part-of", ytree_str(s->fleet_app));
        place_pods(o, s, ps);
    }
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
    duration_text(s->e->metrics.latency_window_us, win, sizeof(win));
    int64_t rate_us = 2 * s->e->metrics.scrape_interval_us;
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
#define RULE(name, ...)                                      \
    do {                                                     \
        r[n].record = name;                                  \
        snprintf(r[n].expr, sizeof(r[n].expr), __VA_ARGS__); \
        n++;                                                 \
    } while (0)
    RULE("DCGM_FI_DEV_FB_USED_ratio",
         "DCGM_FI_DEV_FB_USED%s / (DCGM_FI_DEV_FB_USED%s + DCGM_FI_DEV_FB_FREE%s)", sel, sel, sel);
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
    RULE("gpen_latency_samples",
         "sum by (namespace) (increase(gpen_request_latency_seconds_count%s[%s]))", sel, win);
    RULE("gpen_requests_per_second", "sum by (namespace) (rate(gpen_requests_total%s[%s]))", sel,
         rwin);
    RULE("arrival_rate", "gpen_requests_per_second%s", sel);
    RULE("gpen_pending",
         "label_replace(max by (key) (redis_key_size{key=\"gpen:pending\"}), \"namespace\", "
         "\"%s\", \"\", \"\")",
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
    duration_text(s->e->metrics.scrape_interval_us, iv, sizeof(iv));
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
    static const char *const pods[] = {"DCGM_FI_DEV_FB_USED_ratio",
                                       "gpu_mem_frac",
                                       "gpu_memory_utilization",
                                       "DCGM_FI_DEV_GPU_UTIL",
                                       "gpu_utilization",
                                       "gpu_util_frac",
                                       "gpen_requests_in_flight",
                                       "in_flight",
                                       "gpen_concurrency",
                                       "concurrency",
                                       NULL};
    static const char *const ext[] = {"gpen_request_latency_seconds_p50",
                                      "p50_s",
                                      "gpen_request_latency_seconds_p95",
                                      "p95_s",
                                      "gpen_request_latency_seconds_p99",
                                      "p99_s",
                                      "gpen_requests_per_second",
                                      "arrival_rate",
                                      "gpen_pending",
                                      "redis_list_length",
                                      "gpen_queue_length",
                                      "queue_len",
                                      "gpu_mem_frac",
                                      "DCGM_FI_DEV_FB_USED_ratio",
                                      "DCGM_FI_DEV_GPU_UTIL",
                                      "gpu_util_frac",
                                      NULL};
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
    char *text = ytree_emit_string(cfgt, NULL);
    ytree_free(cfgt);
    ytree *cm = ytree_map();
    ytree_set(cm, "apiVersion", ytree_str("v1"));
    ytree_set(cm, "kind", ytree_str("ConfigMap"));
    ytree_set(cm, "metadata", metadata_tree(o, s, "prometheus-adapter-gpen", "monitoring"));
    ytree_set(ytree_set(cm, "data", ytree_map()), "config.yaml", text ? ytree_str(text) : NULL);
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
    if (s->dep >= 0) {
        /* a pool's Deployment: the replicas the run allowed it (its pool's bounds) */
        int lo =
            s->info.min_pods > s->e->cluster.min_pods ? s->info.min_pods : s->e->cluster.min_pods;
        int hi = s->info.max_pods >= 0 && s->info.max_pods < s->e->cluster.max_pods
                     ? s->info.max_pods
                     : s->e->cluster.max_pods;
        ytree_set(spec, "minReplicas", ytree_int(lo < 1 ? 1 : lo));
        ytree_set(spec, "maxReplicas", ytree_int(hi < 1 ? 1 : hi));
    }
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
        if (type && strncmp(type, "redis", 5) == 0 && s->dep >= 0 &&
            s->fc.routing == ROUTING_ROUTER && s->pool_n == 1) /* its pool's queue */
            ytree_set(meta, "listName",
                      ytree_strf("gpen:pending:%s", s->fc.pool[s->pool_first].name));
        ytree *item = ytree_at(trig, i);
        if (item)
            ytree_set(item, "metadata", meta);
        else
            ytree_free(meta);
    }
    return so;
}

/* A Knative Service running the GPEN container with these revision annotations (taken)
 * and containerConcurrency. */
static ytree *knative_tree(const export_opts *o, const xsrc *s, ytree *annotations, int cc)
{
    ytree *k = ytree_map();
    ytree_set(k, "apiVersion", ytree_str("serving.knative.dev/v1"));
    ytree_set(k, "kind", ytree_str("Service"));
    ytree_set(k, "metadata", metadata_tree(o, s, o->app, o->ns));
    ytree *tpl = ytree_set(ytree_set(k, "spec", ytree_map()), "template", ytree_map());
    ytree *tm = ytree_set(tpl, "metadata", ytree_map());
    ytree_set(tm, "labels", labels_tree(o));
    ytree_set(tm, "annotations", annotations);
    ytree *ps = ytree_set(tpl, "spec", ytree_map());
    ytree_set(ps, "containerConcurrency", ytree_int(cc));
    ytree_set(ps, "timeoutSeconds", ytree_int(ceil_s(s->e->cluster.timeout_us)));
    ytree_push(ytree_set(ps, "containers", ytree_seq()), container_tree(o, s, true));
    return k;
}

/* kpa: the config's annotations (the KPA class unless it names one) and
 * containerConcurrency (the cluster's by default). */
static ytree *kpa_tree(const export_opts *o, const xsrc *s)
{
    const cfg_node *ann = s->config ? cfg_map_get(s->config, "annotations") : NULL;
    ytree *a = (ann && cfg_node_kind(ann) == CFG_MAP) ? ytree_from_cfg(ann, true) : ytree_map();
    if (!ytree_get(a, "autoscaling.knative.dev/class"))
        ytree_set(a, "autoscaling.knative.dev/class", ytree_str("kpa.autoscaling.knative.dev"));
    int cc = s->e->cluster.concurrency;
    const cfg_node *ccn = s->config ? cfg_map_get(s->config, "containerConcurrency") : NULL;
    if (ccn)
        cfg_node_int(ccn, 0, 1000000, &cc, NULL);
    return knative_tree(o, s, a, cc);
}

/* Knative's config-autoscaler ConfigMap with these data (taken). */
static ytree *config_autoscaler_tree(const export_opts *o, const xsrc *s, ytree *data)
{
    ytree *cm = ytree_map();
    ytree_set(cm, "apiVersion", ytree_str("v1"));
    ytree_set(cm, "kind", ytree_str("ConfigMap"));
    ytree_set(cm, "metadata", metadata_tree(o, s, "config-autoscaler", "knative-serving"));
    ytree_set(cm, "data", data);
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
    ytree_set(b, "min_pods", ytree_int(s->e->cluster.min_pods));
    ytree_set(b, "max_pods", ytree_int(s->e->cluster.max_pods));
    ytree *e = ytree_set(d, "env", ytree_map());
    char buf[32];
    ytree_set(e, "concurrency", ytree_int(s->env.concurrency));
    if (s->env.pod_capacity_per_s > 0)
        ytree_set(e, "pod_capacity_per_s", ytree_num(s->env.pod_capacity_per_s));
    if (s->env.mean_demand_s > 0)
        ytree_set(e, "mean_demand_s", ytree_num(s->env.mean_demand_s));
    duration_text(s->env.cold_start_us, buf, sizeof(buf));
    ytree_set(e, "cold_start", ytree_str(buf));
    duration_text(s->e->metrics.scrape_interval_us, buf, sizeof(buf));
    ytree_set(e, "scrape_interval", ytree_str(buf));
    ytree *p = ytree_set(d, "prometheus", ytree_map());
    ytree_set(p, "url", ytree_str(o->prometheus_url));
    ytree_set(p, "timeout", ytree_str("5s"));
    ytree *q = ytree_set(p, "queries", ytree_map());
    char qbuf[DRIVE_QUERY_MAX], win[32], rwin[32];
    duration_text(s->e->metrics.latency_window_us, win, sizeof(win));
    int64_t rate_us = 2 * s->e->metrics.scrape_interval_us;
    duration_text(rate_us < 30 * US_PER_S ? 30 * US_PER_S : rate_us, rwin, sizeof(rwin));
    /* one of several Deployments: its own pods' metrics, as its policy saw them */
    bool own = s->dep >= 0 && sim_deployments(&(sim_cfg){.cluster = s->fc}) > 1;
    for (int m = 0; m < DRIVE_Q_COUNT; m++) {
        if (own)
            drive_deployment_query(m, o->ns, o->app, win, rwin, qbuf, sizeof(qbuf));
        else
            drive_default_query(m, o->ns, qbuf, sizeof(qbuf));
        ytree_set(q, drive_query_name(m), ytree_str(qbuf));
    }
    ytree *r = ytree_set(d, "redis", ytree_map());
    ytree_set(r, "address", ytree_str(o->redis_address));
    if (s->dep >= 0 && s->fc.routing == ROUTING_ROUTER && s->pool_n == 1)
        ytree_set(r, "list", ytree_strf("gpen:pending:%s", s->fc.pool[s->pool_first].name));
    else
        ytree_set(r, "list", ytree_str("gpen:pending"));
    ytree *k = ytree_set(ytree_set(d, "target", ytree_map()), "kubernetes", ytree_map());
    ytree_set(k, "namespace", ytree_str(o->ns));
    ytree_set(k, "deployment", ytree_str(o->app));
    ytree_set(k, "in_cluster", ytree_bool(true));
    return d;
}

/* The keep-alive of a POLICY_LIVE_KNATIVE_KEEP_ALIVE policy, as its first decision
 * gives it, in whole seconds (Knative's durations are whole seconds); refused, naming
 * the closest exportable setting, where Knative has no form for it. */
static int keep_alive_s(const xsrc *s, int64_t *out_s, gp_error *err)
{
    const cfg_node *entry = cfg_seq_at(cfg_map_get(cfg_root(s->e->doc), "policies"), (size_t)s->pi);
    const char *mode = NULL;
    if (s->config && cfg_opt_string(s->config, "keep_alive_policy", &mode, NULL) == 1 &&
        strcmp(mode, "fixed") != 0)
        return cfg_error(cfg_map_get(s->config, "keep_alive_policy"), err, GP_ENOTSUP,
                         "keep_alive_policy %s has no live form: its keep-alive and pre-warm "
                         "change during the run, Knative's are fixed; the closest exportable "
                         "policy is %s with keep_alive_policy: fixed",
                         mode, s->ops->name);
    void *state = NULL;
    policy_info info = {
        .sync_period_us = 15 * US_PER_S, .initial_pods = -1, .min_pods = -1, .max_pods = -1};
    TRY(s->ops->create(s->config, &s->env, &state, &info, err));
    policy_obs obs;
    memset(&obs, 0, sizeof(obs));
    for (int m = 0; m < OBS_METRICS; m++)
        obs.metric[m] = NAN;
    obs.min_pods = s->e->cluster.min_pods;
    obs.max_pods = s->e->cluster.max_pods;
    policy_decision d;
    policy_decision_init(&d);
    int rc = s->ops->decide(state, &obs, &d, err);
    s->ops->destroy(state);
    TRY(rc);
    if (d.prewarm_us > 0)
        return cfg_error(entry, err, GP_ENOTSUP,
                         "a pre-warm (%lld ms) has no live form in Knative; the closest "
                         "exportable policy is %s without pre-warm",
                         (long long)(d.prewarm_us / 1000), s->ops->name);
    int64_t ka = d.keep_alive_us < 0 ? 0 : d.keep_alive_us;
    if (ka > 3600 * US_PER_S)
        return cfg_error(entry, err, GP_ENOTSUP,
                         "a keep-alive of %lld s has no live form: Knative's scale-down delay "
                         "and scale-to-zero retention are at most 1h; the closest exportable "
                         "policy is %s with keep_alive: 1h",
                         (long long)(ka / US_PER_S), s->ops->name);
    *out_s = ceil_s(ka);
    return 0;
}

/* Serverless on Knative: a pod takes containerConcurrency requests and a new one starts
 * only when every slot is busy (target = containerConcurrency at 100%); an idle pod is
 * kept for the keep-alive (scale-down delay), the last one too (scale-to-zero retention). */
static ytree *keep_alive_annotations(const xsrc *s, int64_t keep_s)
{
    const cluster_cfg *c = &s->e->cluster;
    ytree *a = ytree_map();
    char key[96];
#define ANN(name, ...)                                               \
    (snprintf(key, sizeof(key), "autoscaling.knative.dev/%s", name), \
     ytree_set(a, key, ytree_strf(__VA_ARGS__)))
    ANN("class", "kpa.autoscaling.knative.dev");
    ANN("metric", "concurrency");
    ANN("target", "%d", c->concurrency);
    ANN("target-utilization-percentage", "100");
    ANN("min-scale", "%d", c->min_pods);
    ANN("max-scale", "%d", c->max_pods);
    if (c->min_pods == 0)
        ANN("initial-scale", "0"); /* the run starts with none (allow-zero-initial-scale) */
    ANN("scale-down-delay", "%llds", (long long)keep_s);
    ANN("scale-to-zero-pod-retention-period", "%llds", (long long)keep_s);
#undef ANN
    return a;
}

static ytree *keep_alive_autoscaler_data(const xsrc *s)
{
    ytree *d = ytree_map();
    ytree_set(d, "enable-scale-to-zero", ytree_str("true"));
    if (s->e->cluster.min_pods == 0)
        ytree_set(d, "allow-zero-initial-scale", ytree_str("true"));
    return d;
}

/* cluster.gpu_share pods on one GPU: the NVIDIA device plugin's time-slicing, which
 * hands out each GPU as gpu_share nvidia.com/gpu (the GPU operator's config format). */
static ytree *time_slicing_tree(const export_opts *o, const xsrc *s)
{
    ytree *cfgt = ytree_map();
    ytree_set(cfgt, "version", ytree_str("v1"));
    ytree_set(ytree_set(cfgt, "flags", ytree_map()), "migStrategy", ytree_str("none"));
    ytree *r = ytree_push(
        ytree_set(ytree_set(ytree_set(cfgt, "sharing", ytree_map()), "timeSlicing", ytree_map()),
                  "resources", ytree_seq()),
        ytree_map());
    ytree_set(r, "name", ytree_str("nvidia.com/gpu"));
    ytree_set(r, "replicas", ytree_int(s->e->cluster.gpu_share));
    char *text = ytree_emit_string(cfgt, NULL);
    ytree_free(cfgt);
    ytree *cm = ytree_map();
    ytree_set(cm, "apiVersion", ytree_str("v1"));
    ytree_set(cm, "kind", ytree_str("ConfigMap"));
    ytree_set(cm, "metadata", metadata_tree(o, s, "gpen-time-slicing", "gpu-operator"));
    ytree_set(ytree_set(cm, "data", ytree_map()), "any", text ? ytree_str(text) : NULL);
    free(text);
    return cm;
}

static const char config_autoscaler_note[] =
    "Knative's config-autoscaler (namespace knative-serving): the cluster-wide KPA settings\n"
    "the policy was simulated with; merge into the existing ConfigMap.";

/* The files every Deployment of an export shares: its Service (a mixed fleet's selects all
 * its Deployments' pods), the GPU operator's time-slicing, the recording rules and, for an
 * HPA, the prometheus-adapter rules. */
static int write_shared(const export_opts *o, const xsrc *sp, const char *dir, const char *head,
                        FILE *log, gp_error *err)
{
    xsrc s = *sp;
    int rc = 0;
    if (s.ops->live != POLICY_LIVE_KNATIVE && s.ops->live != POLICY_LIVE_KNATIVE_KEEP_ALIVE) {
        ytree *svc = service_tree(o, &s);
        if (s.fleet) {
            ytree *sel = ytree_get(ytree_get(svc, "spec"), "selector");
            ytree_del(sel, "app");
            ytree_set(sel, "app.kubernetes.io/part-of", ytree_str(o->app));
        }
        rc = write_out(dir, "service.yaml", head, svc, NULL, log, err);
    }
    if (rc == 0 && s.e->cluster.gpu_share > 1)
        rc = write_out(dir, "gpu-time-slicing.yaml",
                       "cluster.gpu_share pods share a GPU: the NVIDIA device plugin's "
                       "time-slicing (GPU operator:\n  kubectl patch clusterpolicy/cluster-policy "
                       "-n gpu-operator --type merge -p\n  '{\"spec\": {\"devicePlugin\": "
                       "{\"config\": {\"name\": \"gpen-time-slicing\", \"default\": \"any\"}}}}')",
                       time_slicing_tree(o, &s), NULL, log, err);
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
    if (rc == 0 && s.ops->live == POLICY_LIVE_HPA)
        rc = write_out(dir, "prometheus-adapter.yaml",
                       "prometheus-adapter rules: the metric names the HPA reads, from the "
                       "recording rules.",
                       adapter_tree(o, &s), NULL, log, err);
    return rc;
}

/* The manifests of the entry loaded in *sp (one Deployment of a mixed fleet when
 * sp->dep >= 0: then without the shared files, which the fleet's directory holds). */
static int export_write(const export_opts *o, const xsrc *sp, const char *dir, FILE *log,
                        gp_error *err)
{
    xsrc s = *sp;
    int rc = 0;
    const char *name = s.ops->name;
    int64_t keep_s = 0;
    if (s.ops->live == POLICY_LIVE_KNATIVE_KEEP_ALIVE && (rc = keep_alive_s(&s, &keep_s, err)) < 0)
        return rc;
    if ((rc = mkdir_p(dir, err)) < 0)
        return rc;
    char head[3000];
    snprintf(head, sizeof(head), "gpenlab export: policy %s (%s) of experiment %s\nfrom %s%s%s",
             s.label, name, s.e->name, s.file, s.why[0] ? "\n" : "", s.why);
    int initial = s.info.initial_pods >= 0 ? s.info.initial_pods : s.e->cluster.min_pods;
    if (s.info.min_pods >= 0 && initial < s.info.min_pods)
        initial = s.info.min_pods;
    if (initial < s.e->cluster.min_pods)
        initial = s.e->cluster.min_pods;
    if (initial > s.e->cluster.max_pods)
        initial = s.e->cluster.max_pods;
    switch (s.ops->live) {
    case POLICY_LIVE_KNATIVE:
    case POLICY_LIVE_KNATIVE_KEEP_ALIVE: {
        bool kpa = s.ops->live == POLICY_LIVE_KNATIVE;
        const cfg_node *ca = kpa && s.config ? cfg_map_get(s.config, "autoscaler") : NULL;
        rc = write_out(
            dir, "knative-service.yaml", head,
            kpa ? kpa_tree(o, &s)
                : knative_tree(o, &s, keep_alive_annotations(&s, keep_s), s.e->cluster.concurrency),
            NULL, log, err);
        ytree *data = !kpa                                 ? keep_alive_autoscaler_data(&s)
                      : ca && cfg_node_kind(ca) == CFG_MAP ? ytree_from_cfg(ca, true)
                                                           : ytree_map();
        if (rc == 0)
            rc = write_out(dir, "config-autoscaler.yaml", config_autoscaler_note,
                           config_autoscaler_tree(o, &s, data), NULL, log, err);
        else
            ytree_free(data);
        break;
    }
    default: /* the others run the Deployment */
        rc = write_out(dir, "deployment.yaml", head, deployment_tree(o, &s, initial), NULL, log,
                       err);
        break;
    }
    if (rc == 0 && s.dep < 0)
        rc = write_shared(o, &s, dir, head, log, err);
    if (rc == 0 && s.ops->live == POLICY_LIVE_HPA) {
        rc = write_out(dir, "hpa.yaml", head, hpa_tree(o, &s), NULL, log, err);
        char flags[512];
        if (rc == 0 && (rc = controller_flags(&s, flags, sizeof(flags), err)) == 0 && flags[0])
            rc = write_out(dir, "kube-controller-manager.flags",
                           "The simulated HPA controller's settings: kube-controller-manager "
                           "flags\n(cluster-wide; `controller:` in the experiment).",
                           NULL, flags, log, err);
    } else if (rc == 0 && s.ops->live == POLICY_LIVE_KEDA) {
        rc = write_out(dir, "scaledobject.yaml", head, scaledobject_tree(o, &s), NULL, log, err);
    } else if (rc == 0 && s.ops->live == POLICY_LIVE_DRIVER) {
        rc = write_out(dir, "drive.yaml",
                       "gpenlab drive config: run this policy against the cluster with\n"
                       "  gpenlab drive drive.yaml [--dry-run]",
                       drive_tree(o, &s), NULL, log, err);
    }
    return rc;
}

/* The routes of a router in front of one queue per pool (routing: router): a ConfigMap
 * for the front door, in the order it tries them. */
static ytree *router_tree(const export_opts *o, const xsrc *s)
{
    ytree *routes = ytree_seq();
    for (int k = 0; k < s->fc.n_pools; k++) {
        const pool_cfg *pc = &s->fc.pool[k];
        ytree *r = ytree_push(routes, ytree_map());
        ytree_set(r, "pool", ytree_str(pc->name));
        ytree_set(r, "queue", ytree_strf("gpen:pending:%s", pc->name));
        if (pc->route_max_mp > 0)
            ytree_set(r, "max_mp", ytree_num(pc->route_max_mp));
        ytree_set(r, "gpu_mem_mib", ytree_int((int64_t)(pc->profile->gpu_mem_bytes / 1048576.0)));
        ytree_set(r, "model_mem_mib",
                  ytree_int((int64_t)(pc->profile->model_mem_bytes / 1048576.0)));
    }
    ytree *doc = ytree_map();
    ytree_set(doc, "routes", routes);
    char *text = ytree_emit_string(doc, NULL);
    ytree_free(doc);
    ytree *cm = ytree_map();
    ytree_set(cm, "apiVersion", ytree_str("v1"));
    ytree_set(cm, "kind", ytree_str("ConfigMap"));
    ytree_set(cm, "metadata", metadata_tree(o, s, "gpen-router", o->ns));
    ytree_set(ytree_set(cm, "data", ytree_map()), "routes.yaml", text ? ytree_str(text) : NULL);
    free(text);
    return cm;
}

/* A mixed fleet: a directory per Deployment (DIR/NAME), the shared files and drive.yaml
 * with a section per Deployment beside them. */
static int export_fleet(const export_opts *o, const xsrc *s, const char *dir, FILE *log,
                        gp_error *err)
{
    if (s->ops->live == POLICY_LIVE_KNATIVE || s->ops->live == POLICY_LIVE_KNATIVE_KEEP_ALIVE)
        return gp_error_set(err, GP_ENOTSUP, s->file, 0, 0, s->label,
                            "%s runs as a Knative Service: a fleet of node pools is exported "
                            "as Deployments; the closest exportable policy is hpa",
                            s->ops->name);
    for (int k = 0; k < s->fc.n_pools; k++) { /* every pool's labels, before writing */
        node_labels nl;
        TRY(pool_labels(o, s, k, &nl, err));
    }
    TRY(mkdir_p(dir, err));
    sim_cfg cfg;
    experiment_sim_cfg(s->e, s->pi, 0, &cfg);
    int n = sim_deployments(&cfg), rc = 0;
    ytree *sections = ytree_seq();
    const cluster_cfg whole = s->e->cluster;
    for (int d = 0; rc == 0 && d < n; d++) {
        xsrc sd;
        rc = xsrc_deployment(s, d, &sd, err);
        char app[128], sub[700];
        if (n > 1)
            snprintf(app, sizeof(app), "%.60s-%s", o->app, sd.fc.pool[sd.pool_first].name);
        else
            snprintf(app, sizeof(app), "%s", o->app);
        snprintf(sub, sizeof(sub), "%s/%s", dir, app);
        export_opts od = *o;
        od.app = app;
        sd.fleet_app = o->app;
        if (rc == 0)
            rc = export_write(&od, &sd, sub, log, err);
        if (rc == 0) /* the Deployment's section of the fleet's driver config */
            ytree_set(ytree_push(sections, drive_tree(&od, &sd)), "name", ytree_str(app));
        s->e->cluster = whole;
    }
    char head[3000];
    snprintf(head, sizeof(head),
             "gpenlab export: policy %s (%s) of experiment %s, a fleet of "
             "%d pools in %d Deployment%s\nfrom %s%s%s",
             s->label, s->ops->name, s->e->name, s->fc.n_pools, n, n > 1 ? "s" : "", s->file,
             s->why[0] ? "\n" : "", s->why);
    if (rc == 0)
        rc = write_shared(o, s, dir, head, log, err);
    if (rc == 0 && s->fc.routing == ROUTING_ROUTER)
        rc = write_out(dir, "router.yaml",
                       "The router in front of one queue per pool: each request goes to the "
                       "first route whose max_mp\nadmits it and whose card can hold it, else to "
                       "the first whose card can.",
                       router_tree(o, s), NULL, log, err);
    if (rc == 0) {
        ytree *file = ytree_map();
        ytree_set(file, "deployments", sections);
        sections = NULL;
        rc = write_out(dir, "drive.yaml",
                       "gpenlab drive config, one section per Deployment: run their policies "
                       "against the cluster with\n  gpenlab drive DIR [--dry-run]",
                       file, NULL, log, err);
    }
    ytree_free(sections);
    return rc;
}

int export_run(const export_opts *o, FILE *log, gp_error *err)
{
    if (!o->from)
        return gp_error_set(err, GP_EMISSING, NULL, 0, 0, "--from",
                            "export from an experiment file or a results database");
    xsrc s;
    int rc = xsrc_load(o, &s, log, err);
    if (rc < 0) {
        xsrc_free(&s);
        return rc;
    }
    if (log && s.why[0])
        fprintf(log, "export: %s\n", s.why);
    char dir[512];
    if (o->out_dir)
        snprintf(dir, sizeof(dir), "%s", o->out_dir);
    else {
        char safe[128]; /* a label becomes a folder name: keep it inside this one */
        gp_safe_file_name(safe, sizeof(safe), s.label);
        snprintf(dir, sizeof(dir), "export-%s", safe);
    }
    rc = s.fleet ? export_fleet(o, &s, dir, log, err) : export_write(o, &s, dir, log, err);
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
        } map[] = {
            {"--horizontal-pod-autoscaler-sync-period=", "syncPeriod"},
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

/* Which of export_import's files a manifest is, by its kind; -1 if none. */
static int manifest_kind(const cfg_node *root)
{
    const char *kind = cfg_scalar(cfg_map_get(root, "kind"));
    const char *api = cfg_scalar(cfg_map_get(root, "apiVersion"));
    if (!kind)
        return cfg_map_get(root, "policy") ? 3 : -1;
    if (strcmp(kind, "HorizontalPodAutoscaler") == 0)
        return 0;
    if (strcmp(kind, "ScaledObject") == 0)
        return 1;
    if (strcmp(kind, "Service") == 0 && api && strncmp(api, "serving.knative.dev/", 20) == 0)
        return 2;
    if (strcmp(kind, "Deployment") == 0)
        return 4;
    return -1;
}

/* The name of the policy a manifest of this live form runs (the registry's first), for
 * the entry read back: an HPA is hpa, a ScaledObject keda, a Knative Service kpa, a bare
 * Deployment static. */
static ytree *policy_of(policy_live form)
{
    const policy_ops *const *all = policy_all();
    for (size_t i = 0; all[i]; i++)
        if (all[i]->live == form)
            return ytree_str(all[i]->name);
    return ytree_str("?");
}

int export_import(const char *path, FILE *out, gp_error *err)
{
    static const char *const files[] = {"hpa.yaml",   "scaledobject.yaml", "knative-service.yaml",
                                        "drive.yaml", "deployment.yaml",   NULL};
    cfg_doc *doc = NULL;
    int which = -1, rc = 0;
    char dir[512]; /* the siblings' paths below are dir + a name, in 1024 */
    struct stat st;
    if (stat(path, &st) == 0 && S_ISREG(st.st_mode)) {
        /* one manifest: known by its kind; the files beside it complete it */
        const char *slash = strrchr(path, '/');
        snprintf(dir, sizeof(dir), "%.*s", slash ? (int)(slash - path) : 1, slash ? path : ".");
        TRY(cfg_load_file(path, &doc, err));
        const cfg_node *r = cfg_root(doc);
        if ((which = r && cfg_node_kind(r) == CFG_MAP ? manifest_kind(r) : -1) < 0) {
            cfg_free(doc);
            return gp_error_set(err, GP_EUNKNOWN, path, 0, 0, "kind",
                                "not a manifest gpenlab exports (HorizontalPodAutoscaler, "
                                "ScaledObject, Knative Service, Deployment or a drive config)");
        }
    } else {
        snprintf(dir, sizeof(dir), "%s", path);
        for (int i = 0; files[i] && which < 0; i++) {
            rc = load_yaml(dir, files[i], &doc, err);
            if (rc < 0)
                return rc;
            if (rc == 1)
                which = i;
        }
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
        ytree_set(entry, "policy", policy_of(POLICY_LIVE_HPA));
        ytree *cfg = ytree_set(entry, "config", ytree_from_cfg(root, false));
        ytree *ctl;
        if ((rc = import_flags(dir, &ctl, err)) == 0 && ctl)
            ytree_set(cfg, "controller", ctl);
        break;
    }
    case 1:
        ytree_set(entry, "policy", policy_of(POLICY_LIVE_KEDA));
        ytree_set(entry, "config", ytree_from_cfg(root, false));
        break;
    case 2: {
        ytree_set(entry, "policy", policy_of(POLICY_LIVE_KNATIVE));
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
        ytree_set(entry, "policy", policy_of(POLICY_LIVE_FIXED));
        const cfg_node *r = path_get(root, rep_path);
        ytree_set(ytree_set(entry, "config", ytree_map()), "pods", ytree_from_cfg(r, false));
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
