/* sweep.c: sweeps (see sweep.h). The file:
 *   name: sweep_gpen_rule
 *   base: article_table1_tidal.yaml   # an experiment file, relative to this file
 *   policy: elastic-1..3x             # the entry to vary (default: the first)
 *   replications: 5                   # default: the base's
 *   seed: 1                           # default: the base's
 *   db: ../results/sweep.db           # default: results/NAME.db
 *   series: false                     # keep per-scrape series (default false)
 *   design: grid                      # or lhs
 *   samples: 20                       # lhs: number of points
 *   sample_seed: 7                    # lhs: seed of the design
 *   parameters:
 *     - {path: config.scale_up_queue_len, values: [4, 8, 16]}
 *     - {path: cluster.max_pods, range: [2, 6], steps: 5, integer: true}
 *   objective:
 *     minimise: gpu_hours             # or maximise: METRIC
 *     constraints: [{metric: p99_s, max: 5}, {metric: slo_pct, min: 99}]
 * Metrics: the table of lab/run_metrics.h. The winner and its paired evidence come from
 * lab/winner.h, as for the policies of one experiment. */
#include "lab/sweep.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <stdbool.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include <gsl/gsl_cdf.h>
#include <gsl/gsl_rng.h>

#include "base/cfg.h"
#include "base/common.h"
#include "base/fileio.h"
#include "base/text.h"
#include "lab/experiment.h"
#include "lab/plot.h"
#include "lab/pool.h"
#include "lab/results_db.h"
#include "lab/sweep_summary.h"
#include "lab/winner.h"
#include "sim/stats.h"

#define SWEEP_MAX_PARAMS 16
#define SWEEP_MAX_VALUES 256
#define SWEEP_MAX_POINTS 100000
#define VALUE_LEN        96

typedef enum {
    PARAM_PATH = 0, /* any place in the experiment ("cluster.max_pods", "profile") */
    PARAM_CONFIG,   /* config.X: the point's policy entry's config */
    PARAM_POLICY    /* `policy`: which entry of the base runs (values are labels) */
} param_kind;

typedef struct sweep_param {
    char path[256]; /* as in the file */
    param_kind kind;
    int n_values; /* from `values:` (0 when a range) */
    char values[SWEEP_MAX_VALUES][VALUE_LEN];
    double lo, hi;
    int steps; /* grid over a range */
    bool integer;
} sweep_param;

struct sweep {
    char path[512], dir[512];
    char name[64];
    char db_path[1024];
    experiment *base;
    int policy_index;
    int reps;
    uint64_t seed;
    bool series;
    int n_params;
    sweep_param param[SWEEP_MAX_PARAMS];
    size_t n_points;
    char *point_value; /* n_points x n_params x VALUE_LEN */
    winner_objective objective;
};

/* ---------- loading ---------- */

/* The index of the base's entry labelled `label`, or -1. */
static int policy_by_label(const experiment *e, const char *label)
{
    for (int i = 0; i < e->n_policies; i++)
        if (strcmp(e->policy[i].label, label) == 0)
            return i;
    return -1;
}

static int parse_param(sweep *sw, const cfg_node *item, sweep_param *p, gp_error *err)
{
    static const char *const keys[] = {"path", "values", "range", "steps", "integer", NULL};
    const char *path = NULL;
    int rc = cfg_check_keys(item, keys, err);
    if (rc == 0)
        rc = cfg_req_string(item, "path", &path, err);
    if (rc < 0)
        return rc;
    if (strlen(path) >= sizeof(p->path) - 24)
        return cfg_error(cfg_map_get(item, "path"), err, GP_ELIMIT, "path too long");
    snprintf(p->path, sizeof(p->path), "%s", path);
    if (strncmp(path, "config.", 7) == 0)
        p->kind = PARAM_CONFIG;
    else if (strcmp(path, "policy") == 0)
        p->kind = PARAM_POLICY;
    else if (strncmp(path, "policies", 8) == 0 || strcmp(path, "name") == 0 ||
             strcmp(path, "seed") == 0 || strcmp(path, "replications") == 0 ||
             strncmp(path, "output", 6) == 0)
        return cfg_error(cfg_map_get(item, "path"), err, GP_ERANGE,
                         "%s is set by the sweep itself (vary config.KEY for the policy's "
                         "settings, `policy` for the entry that runs)",
                         path);
    else
        p->kind = PARAM_PATH;
    const cfg_node *values = NULL;
    rc = cfg_opt_seq(item, "values", &values, err);
    if (rc < 0)
        return rc;
    if (values) {
        if (cfg_len(values) == 0 || cfg_len(values) > SWEEP_MAX_VALUES)
            return cfg_error(values, err, GP_ERANGE, "expected 1 to %d values", SWEEP_MAX_VALUES);
        for (size_t i = 0; i < cfg_len(values); i++) {
            const char *v = cfg_scalar(cfg_seq_at(values, i));
            if (!v || strlen(v) >= VALUE_LEN)
                return cfg_error(cfg_seq_at(values, i), err, GP_EPARSE,
                                 "expected a scalar shorter than %d characters", VALUE_LEN);
            snprintf(p->values[i], VALUE_LEN, "%s", v);
        }
        p->n_values = (int)cfg_len(values);
        if (cfg_map_get(item, "range"))
            return cfg_error(cfg_map_get(item, "range"), err, GP_EPARSE,
                             "give either `values` or `range`, not both");
        for (int i = 0; p->kind == PARAM_POLICY && i < p->n_values; i++)
            if (policy_by_label(sw->base, p->values[i]) < 0) {
                char known[600] = "";
                for (int k = 0; k < sw->base->n_policies; k++) {
                    size_t u = strlen(known);
                    snprintf(known + u, sizeof(known) - u, "%s%s", k ? ", " : "",
                             sw->base->policy[k].label);
                }
                return cfg_error(cfg_seq_at(values, (size_t)i), err, GP_EUNKNOWN,
                                 "no policy entry labelled \"%s\" in %s (labels: %s)", p->values[i],
                                 sw->base->path, known);
            }
        return 0;
    }
    if (p->kind == PARAM_POLICY)
        return cfg_error(item, err, GP_EPARSE, "`policy` takes `values`: the entries' labels");
    const cfg_node *range = NULL;
    rc = cfg_opt_seq(item, "range", &range, err);
    if (rc < 0)
        return rc;
    if (!range)
        return cfg_error(item, err, GP_EMISSING, "a parameter needs `values` or `range`");
    if (cfg_len(range) != 2)
        return cfg_error(range, err, GP_EPARSE, "range is [low, high]");
    if ((rc = cfg_node_double(cfg_seq_at(range, 0), -1e15, 1e15, &p->lo, err)) < 0 ||
        (rc = cfg_node_double(cfg_seq_at(range, 1), p->lo, 1e15, &p->hi, err)) < 0)
        return rc;
    p->steps = 5;
    if ((rc = cfg_opt_int(item, "steps", 1, SWEEP_MAX_VALUES, &p->steps, err)) < 0 ||
        (rc = cfg_opt_bool(item, "integer", &p->integer, err)) < 0)
        return rc;
    return 0;
}

static void format_number(char *buf, double v, bool integer)
{
    if (integer)
        snprintf(buf, VALUE_LEN, "%lld", (long long)llround(v));
    else
        snprintf(buf, VALUE_LEN, "%.6g", v);
}

static char *point_cell(const sweep *sw, size_t pt, int k)
{
    return sw->point_value + (pt * (size_t)sw->n_params + (size_t)k) * VALUE_LEN;
}

/* The grid: the cartesian product, last parameter fastest. */
static int make_grid(sweep *sw, const cfg_node *where, gp_error *err)
{
    size_t n = 1;
    int count[SWEEP_MAX_PARAMS];
    for (int k = 0; k < sw->n_params; k++) {
        count[k] = sw->param[k].n_values ? sw->param[k].n_values : sw->param[k].steps;
        n *= (size_t)count[k];
        if (n > SWEEP_MAX_POINTS)
            return cfg_error(where, err, GP_ELIMIT, "the grid has more than %d points",
                             SWEEP_MAX_POINTS);
    }
    sw->n_points = n;
    sw->point_value = calloc(n * (size_t)sw->n_params + 1, VALUE_LEN);
    if (!sw->point_value)
        return gp_error_set(err, GP_ENOMEM, sw->path, 0, 0, NULL, "out of memory");
    for (size_t pt = 0; pt < n; pt++) {
        size_t rest = pt;
        for (int k = sw->n_params - 1; k >= 0; k--) {
            int i = (int)(rest % (size_t)count[k]);
            rest /= (size_t)count[k];
            const sweep_param *p = &sw->param[k];
            if (p->n_values)
                snprintf(point_cell(sw, pt, k), VALUE_LEN, "%s", p->values[i]);
            else
                format_number(point_cell(sw, pt, k),
                              p->steps == 1 ? p->lo : p->lo + (p->hi - p->lo) * i / (p->steps - 1),
                              p->integer);
        }
    }
    return 0;
}

/* Latin hypercube: each parameter's range cut into n strata, one point per stratum, the
 * strata of different parameters matched by independent random permutations. */
static int make_lhs(sweep *sw, int n, unsigned long seed, gp_error *err)
{
    sw->n_points = (size_t)n;
    sw->point_value = calloc((size_t)n * (size_t)sw->n_params + 1, VALUE_LEN);
    int *perm = malloc(sizeof(int) * (size_t)n);
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    if (!sw->point_value || !perm || !rng) {
        free(perm);
        if (rng)
            gsl_rng_free(rng);
        return gp_error_set(err, GP_ENOMEM, sw->path, 0, 0, NULL, "out of memory");
    }
    gsl_rng_set(rng, seed);
    for (int k = 0; k < sw->n_params; k++) {
        for (int i = 0; i < n; i++)
            perm[i] = i;
        for (int i = n - 1; i > 0; i--) { /* Fisher-Yates */
            int j = (int)gsl_rng_uniform_int(rng, (unsigned long)i + 1);
            int t = perm[i];
            perm[i] = perm[j];
            perm[j] = t;
        }
        const sweep_param *p = &sw->param[k];
        for (int i = 0; i < n; i++) {
            double u = (perm[i] + gsl_rng_uniform(rng)) / n; /* in stratum perm[i] */
            if (p->n_values) {
                int idx = (int)(u * p->n_values);
                snprintf(point_cell(sw, (size_t)i, k), VALUE_LEN, "%s",
                         p->values[idx < p->n_values ? idx : p->n_values - 1]);
            } else {
                format_number(point_cell(sw, (size_t)i, k), p->lo + u * (p->hi - p->lo),
                              p->integer);
            }
        }
    }
    free(perm);
    gsl_rng_free(rng);
    return 0;
}

static int sweep_parse(sweep *sw, const cfg_doc *doc, gp_error *err)
{
    const cfg_node *root = cfg_root(doc);
    if (!root)
        return gp_error_set(err, GP_EPARSE, sw->path, 0, 0, NULL, "empty sweep file");
    static const char *const keys[] = {
        "name",   "description", "base",    "policy",      "replications", "seed",      "db",
        "series", "design",      "samples", "sample_seed", "parameters",   "objective", NULL};
    int rc = cfg_check_keys(root, keys, err);
    const char *name = NULL, *base = NULL, *policy = NULL, *db = NULL;
    if (rc == 0)
        rc = cfg_opt_string(root, "name", &name, err);
    if (rc >= 0)
        rc = cfg_req_string(root, "base", &base, err);
    if (rc >= 0)
        rc = cfg_opt_string(root, "policy", &policy, err);
    if (rc >= 0)
        rc = cfg_opt_string(root, "db", &db, err);
    if (rc >= 0)
        rc = cfg_opt_bool(root, "series", &sw->series, err);
    if (rc < 0)
        return rc;
    if (name)
        gp_copy_utf8(sw->name, sizeof(sw->name), name);
    char base_path[1024];
    if (gp_path_join(sw->dir, base, base_path, sizeof(base_path)) < 0)
        return cfg_error(cfg_map_get(root, "base"), err, GP_ELIMIT, "path too long");
    if ((rc = experiment_load(base_path, &sw->base, err)) < 0)
        return rc;
    sw->reps = sw->base->replications;
    sw->seed = sw->base->seed;
    int64_t seed = (int64_t)sw->seed;
    if ((rc = cfg_opt_int(root, "replications", 1, EXPERIMENT_MAX_REPLICATIONS, &sw->reps, err)) <
            0 ||
        (rc = cfg_opt_int64(root, "seed", 0, INT64_MAX, &seed, err)) < 0)
        return rc;
    sw->seed = (uint64_t)seed;
    sw->policy_index = 0;
    if (policy) {
        sw->policy_index = -1;
        for (int i = 0; i < sw->base->n_policies; i++)
            if (strcmp(sw->base->policy[i].label, policy) == 0)
                sw->policy_index = i;
        if (sw->policy_index < 0)
            return cfg_error(cfg_map_get(root, "policy"), err, GP_EUNKNOWN,
                             "no policy entry labelled \"%s\" in %s", policy, base_path);
    }
    if (db) {
        if (gp_path_join(sw->dir, db, sw->db_path, sizeof(sw->db_path)) < 0)
            return cfg_error(cfg_map_get(root, "db"), err, GP_ELIMIT, "path too long");
    } else {
        char safe[128];
        gp_safe_file_name(safe, sizeof(safe), sw->name);
        snprintf(sw->db_path, sizeof(sw->db_path), "results/%s.db", safe);
    }

    const cfg_node *params = NULL;
    if ((rc = cfg_req_seq(root, "parameters", &params, err)) < 0)
        return rc;
    if (cfg_len(params) == 0 || cfg_len(params) > SWEEP_MAX_PARAMS)
        return cfg_error(params, err, GP_ERANGE, "expected 1 to %d parameters", SWEEP_MAX_PARAMS);
    for (size_t i = 0; i < cfg_len(params); i++) {
        if ((rc = parse_param(sw, cfg_seq_at(params, i), &sw->param[i], err)) < 0)
            return rc;
        sw->n_params++;
    }
    static const char *const designs[] = {"grid", "lhs", NULL};
    int design = 0;
    if ((rc = cfg_opt_enum(root, "design", designs, &design, err)) < 0)
        return rc;
    if (design == 0) {
        if ((rc = make_grid(sw, params, err)) < 0)
            return rc;
    } else {
        int samples = 0;
        int64_t sseed = 1;
        if ((rc = cfg_req_int(root, "samples", 1, SWEEP_MAX_POINTS, &samples, err)) < 0 ||
            (rc = cfg_opt_int64(root, "sample_seed", 0, INT64_MAX, &sseed, err)) < 0)
            return rc;
        if ((rc = make_lhs(sw, samples, (unsigned long)sseed, err)) < 0)
            return rc;
    }
    const cfg_node *obj = NULL;
    if ((rc = cfg_req_map(root, "objective", &obj, err)) < 0)
        return rc;
    if ((rc = winner_objective_parse(obj, &sw->objective, err)) < 0)
        return rc;
    /* every point must make a valid experiment: check them now (the first 256), so a bad
     * value is an error naming its place before anything runs */
    for (size_t pt = 0; rc >= 0 && pt < sw->n_points && pt < 256; pt++) {
        experiment *e = NULL;
        rc = sweep_point_experiment(sw, pt, &e, err);
        experiment_free(e);
    }
    return rc < 0 ? rc : 0;
}

int sweep_load(const char *path, sweep **out, gp_error *err)
{
    *out = NULL;
    sweep *sw = calloc(1, sizeof(*sw));
    if (!sw)
        return gp_error_set(err, GP_ENOMEM, path, 0, 0, NULL, "out of memory");
    snprintf(sw->path, sizeof(sw->path), "%s", path);
    const char *slash = strrchr(path, '/');
    if (slash)
        snprintf(sw->dir, sizeof(sw->dir), "%.*s", (int)(slash - path), path);
    const char *base = slash ? slash + 1 : path;
    snprintf(sw->name, sizeof(sw->name), "%.*s", (int)strcspn(base, "."), base);
    cfg_doc *doc = NULL;
    int rc = cfg_load_file(path, &doc, err);
    if (rc == 0)
        rc = sweep_parse(sw, doc, err);
    cfg_free(doc);
    if (rc < 0) {
        sweep_free(sw);
        return rc;
    }
    *out = sw;
    return 0;
}

void sweep_free(sweep *sw)
{
    if (!sw)
        return;
    experiment_free(sw->base);
    free(sw->point_value);
    free(sw);
}

const char *sweep_name(const sweep *sw) { return sw->name; }
int sweep_warn(const sweep *sw, FILE *warn) { return experiment_warn(sw->base, warn); }
const char *sweep_db_path(const sweep *sw) { return sw->db_path; }
void sweep_set_db_path(sweep *sw, const char *path)
{
    snprintf(sw->db_path, sizeof(sw->db_path), "%s", path);
}
size_t sweep_n_points(const sweep *sw) { return sw->n_points; }
int sweep_replications(const sweep *sw) { return sw->reps; }
size_t sweep_n_units(const sweep *sw) { return sw->n_points * (size_t)sw->reps; }

/* ---------- a point: overlays on the base experiment ---------- */

static bool sweep_varies_policy(const sweep *sw)
{
    for (int k = 0; k < sw->n_params; k++)
        if (sw->param[k].kind == PARAM_POLICY)
            return true;
    return false;
}

int sweep_point_policy(const sweep *sw, size_t point)
{
    for (int k = 0; k < sw->n_params; k++)
        if (sw->param[k].kind == PARAM_POLICY)
            return policy_by_label(sw->base, point_cell(sw, point, k));
    return sw->policy_index;
}

int sweep_point_experiment(const sweep *sw, size_t point, experiment **out, gp_error *err)
{
    *out = NULL;
    if (point >= sw->n_points)
        return gp_error_set(err, GP_ERANGE, sw->path, 0, 0, NULL, "no point %zu", point);
    int pi = sweep_point_policy(sw, point);
    experiment_overlay ov[SWEEP_MAX_PARAMS];
    char path[SWEEP_MAX_PARAMS][300], value[SWEEP_MAX_PARAMS][2 * VALUE_LEN + 8];
    char origin[SWEEP_MAX_PARAMS][600];
    size_t n = 0;
    for (int k = 0; k < sw->n_params; k++) {
        const sweep_param *p = &sw->param[k];
        if (p->kind == PARAM_POLICY)
            continue;
        if (p->kind == PARAM_CONFIG)
            snprintf(path[n], sizeof(path[n]), "policies[%d].%s", pi, p->path);
        else
            snprintf(path[n], sizeof(path[n]), "%s", p->path);
        cfg_quote_scalar(point_cell(sw, point, k), value[n], sizeof(value[n]));
        snprintf(origin[n], sizeof(origin[n]), "%s: parameters[%d] (%s), point %zu", sw->path, k,
                 p->path, point);
        /* values are written in the sweep file: relative paths are relative to it */
        ov[n] = (experiment_overlay){path[n], value[n], origin[n], sw->dir[0] ? sw->dir : "."};
        n++;
    }
    experiment *e = NULL;
    int rc = experiment_load_text(sw->base->path, sw->base->dir, sw->base->yaml_text, NULL, ov, n,
                                  &e, err);
    if (rc == 0)
        rc = experiment_check_policies(e, pi, err);
    if (rc < 0) {
        experiment_free(e);
        return rc;
    }
    char pname[96];
    snprintf(pname, sizeof(pname), "%s-p%04zu", sw->name, point);
    snprintf(e->name, sizeof(e->name), "%.*s", (int)sizeof(e->name) - 1, pname);
    e->seed = sw->seed;
    e->replications = sw->reps;
    e->record_series = sw->series;
    e->record_requests = false;
    *out = e;
    return 0;
}

/* ---------- workers ---------- */

struct sweep_worker {
    const sweep *sw;
    results_db *db;
    size_t point; /* the loaded point, or SIZE_MAX */
    experiment *e;
    int policy;     /* the point's policy entry in e */
    int64_t exp_id; /* valid with a database */
};

/* The point's experiment: the base with the point's overlays (sweep_point_experiment). */
static int worker_load_point(sweep_worker *w, size_t point, gp_error *err)
{
    if (w->point == point)
        return 0;
    experiment_free(w->e);
    w->e = NULL;
    w->point = SIZE_MAX;
    int rc = sweep_point_experiment(w->sw, point, &w->e, err);
    if (rc < 0)
        return rc;
    w->policy = sweep_point_policy(w->sw, point);
    if (w->db) {
        rc = experiment_db_upsert(w->e, w->db, &w->exp_id, err);
        if (rc < 0)
            return rc;
        /* which point an experiment is, for reports */
        char params[1024] = "";
        for (int k = 0; k < w->sw->n_params; k++) {
            size_t u = strlen(params);
            snprintf(params + u, sizeof(params) - u, "%s%s=%s", k ? " " : "", w->sw->param[k].path,
                     point_cell(w->sw, point, k));
        }
        rc = results_db_sweep_point_put(w->db, w->sw->name, (int64_t)point, w->exp_id, params, err);
        if (rc < 0)
            return rc;
    }
    w->point = point;
    return 0;
}

/* What the sweep is (objective, constraints, points, seeds), so that reports can judge
 * its points from the database alone (sweep_summary.h). */
static int record_sweep(const sweep *sw, results_db *db, gp_error *err)
{
    results_db_sweep d;
    memset(&d, 0, sizeof(d));
    snprintf(d.name, sizeof(d.name), "%s", sw->name);
    snprintf(d.file, sizeof(d.file), "%s", sw->path);
    d.n_points = (int64_t)sw->n_points;
    d.replications = sw->reps;
    d.seed = sw->seed;
    sweep_objective_store(&sw->objective, &d);
    return results_db_sweep_put(db, &d, err);
}

int sweep_worker_open(const sweep *sw, int with_db, sweep_worker **out, gp_error *err)
{
    *out = NULL;
    sweep_worker *w = calloc(1, sizeof(*w));
    if (!w)
        return gp_error_set(err, GP_ENOMEM, NULL, 0, 0, NULL, "out of memory");
    w->sw = sw;
    w->point = SIZE_MAX;
    if (with_db != SWEEP_DB_NONE) {
        /* the results directory, one level, as lab_run does */
        const char *slash = strrchr(sw->db_path, '/');
        if (slash && slash != sw->db_path) {
            char dir[1024];
            snprintf(dir, sizeof(dir), "%.*s", (int)(slash - sw->db_path), sw->db_path);
            mkdir(dir, 0777);
        }
        int rc = with_db == SWEEP_DB_POOL ? results_db_open_worker(sw->db_path, &w->db, err)
                                          : results_db_open(sw->db_path, &w->db, err);
        if (rc == 0 && with_db == SWEEP_DB_WRITER) /* the pool's parent has done it */
            rc = record_sweep(sw, w->db, err);
        if (rc < 0) {
            results_db_close(w->db);
            free(w);
            return rc;
        }
    }
    *out = w;
    return 0;
}

void sweep_worker_close(sweep_worker *w)
{
    if (!w)
        return;
    experiment_free(w->e);
    results_db_close(w->db);
    free(w);
}

static void unit_key(sweep_worker *w, size_t unit, char *key, size_t cap)
{
    int rep = (int)(unit % (size_t)w->sw->reps);
    results_db_run_key(key, cap, w->exp_id, w->e->policy[w->policy].label, rep,
                       w->sw->seed + (uint64_t)rep);
}

int sweep_unit_done(sweep_worker *w, size_t unit, gp_error *err)
{
    int rc = worker_load_point(w, unit / (size_t)w->sw->reps, err);
    if (rc < 0)
        return rc;
    char key[256];
    unit_key(w, unit, key, sizeof(key));
    return results_db_run_exists(w->db, key, err);
}

int sweep_unit_run(sweep_worker *w, size_t unit, run_summary *sum, run_series *series,
                   gp_error *err)
{
    int rc = worker_load_point(w, unit / (size_t)w->sw->reps, err);
    if (rc < 0)
        return rc;
    int rep = (int)(unit % (size_t)w->sw->reps);
    sim_cfg cfg;
    experiment_sim_cfg(w->e, w->policy, rep, &cfg);
    cfg.seed = w->sw->seed + (uint64_t)rep;
    cfg.record_requests = false;
    cfg.record_series = w->sw->series && series;
    return sim_run(&cfg, sum, cfg.record_series ? series : NULL, NULL, err);
}

int sweep_unit_store(sweep_worker *w, size_t unit, const run_summary *sum, const run_series *series,
                     gp_error *err)
{
    int rc = worker_load_point(w, unit / (size_t)w->sw->reps, err);
    if (rc < 0)
        return rc;
    char key[256];
    unit_key(w, unit, key, sizeof(key));
    return results_db_write_run(w->db, w->exp_id, key, sum, series, NULL, err);
}

/* ---------- the local pool (lab/pool.h) ---------- */

static int pool_open(void *ctx, void **state, gp_error *err)
{
    sweep_worker *w = NULL;
    int rc = sweep_worker_open(ctx, SWEEP_DB_POOL, &w, err);
    *state = w;
    return rc;
}

static void pool_close(void *state) { sweep_worker_close(state); }

static int pool_done(void *state, size_t unit, gp_error *err)
{
    return sweep_unit_done(state, unit, err);
}

static int pool_unit(void *state, size_t unit, pool_progress *pr, gp_error *err)
{
    (void)pr;
    sweep_worker *w = state;
    run_summary sum;
    run_series series = {0};
    int rc = sweep_unit_run(w, unit, &sum, &series, err);
    if (rc == 0)
        rc = sweep_unit_store(w, unit, &sum, w->sw->series ? &series : NULL, err);
    run_series_free(&series);
    return rc;
}

int sweep_run_local(const sweep *sw, int jobs, volatile sig_atomic_t *stop, sweep_run_stats *st,
                    gp_error *err)
{
    memset(st, 0, sizeof(*st));
    /* This process is the writer: it creates the schema before the workers race for it
     * and holds the writer lock until every worker is gone (the workers share it). */
    sweep_worker *w0 = NULL;
    int rc = sweep_worker_open(sw, SWEEP_DB_WRITER, &w0, err);
    if (rc < 0)
        return rc;
    static const pool_ops ops = {pool_open, pool_close, pool_done, pool_unit, NULL};
    pool_stats ps;
    rc = pool_run(&ops, (void *)sw, sweep_n_units(sw), jobs, stop, NULL, NULL, &ps, err);
    sweep_worker_close(w0); /* the lock is released only now */
    st->units = ps.units;
    st->ran = ps.ran;
    st->resumed = ps.resumed;
    if (rc == GP_EINTERRUPTED)
        gp_error_set(err, rc, sw->db_path, 0, 0, NULL,
                     "interrupted: %zu of %zu units done, the sweep resumes on rerun",
                     ps.ran + ps.resumed, ps.units);
    else if (rc < 0 && !err->file[0] && strstr(err->msg, "worker process died"))
        snprintf(err->file, sizeof(err->file), "%.*s", (int)sizeof(err->file) - 1, sw->db_path);
    return rc;
}

/* ---------- analysis: from the database, through sweep_summary.h ---------- */

static int write_csv(const sweep *sw, const sweep_summary *res, const char *path, gp_error *err)
{
    char tmp[1100];
    snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid());
    FILE *f = fopen(tmp, "w");
    if (!f)
        return gp_error_set(err, GP_EIO, path, 0, 0, NULL, "cannot write: %s", strerror(errno));
    fprintf(f, "point");
    for (int k = 0; k < sw->n_params; k++)
        fprintf(f, ",%s", sw->param[k].path);
    size_t nm;
    const run_metric *mt = run_metric_table(&nm);
    for (size_t m = 0; m < nm; m++)
        fprintf(f, ",%s,%s_hw", mt[m].name, mt[m].name);
    fprintf(f, ",n,feasible,surely_feasible,pareto\n");
    for (size_t i = 0; i < res->n_points; i++) {
        const sweep_point_summary *p = &res->pt[i];
        fprintf(f, "%zu", p->point);
        for (int k = 0; k < sw->n_params; k++)
            fprintf(f, ",%s", point_cell(sw, p->point, k));
        for (size_t m = 0; m < nm; m++)
            fprintf(f, ",%.10g,%.10g", p->m[m].mean, p->m[m].half_width);
        fprintf(f, ",%zu,%d,%d,%d\n", p->n, p->feasible, p->surely, p->pareto);
    }
    int bad = ferror(f);
    if (fclose(f) != 0 || bad || rename(tmp, path) != 0) {
        unlink(tmp);
        return gp_error_set(err, GP_EIO, path, 0, 0, NULL, "cannot write: %s", strerror(errno));
    }
    return 0;
}

/* Every point recorded in the database (sweep_points), each with all its replications. */
static int record_points(const sweep *sw, gp_error *err)
{
    sweep_worker *w = NULL;
    int rc = sweep_worker_open(sw, SWEEP_DB_WRITER, &w, err);
    for (size_t pt = 0; rc == 0 && pt < sw->n_points; pt++)
        rc = worker_load_point(w, pt, err);
    sweep_worker_close(w);
    return rc;
}

static void print_report(const sweep *sw, const sweep_summary *res, FILE *out)
{
    const run_metric *ob = run_metric_get(sw->objective.metric);
    char a[64], b[64], d[64];
    fprintf(out,
            "sweep %s: %zu points x %d replications (common random numbers: seeds %" PRIu64
            "..%" PRIu64 "), base %s, policy %s\n",
            sw->name, sw->n_points, sw->reps, sw->seed, sw->seed + (uint64_t)sw->reps - 1,
            sw->base->path,
            sweep_varies_policy(sw) ? "varied (parameter `policy`)"
                                    : sw->base->policy[sw->policy_index].label);
    char obj[400];
    fprintf(out, "objective: %s", winner_objective_describe(&sw->objective, obj, sizeof(obj)));
    static const run_metric_id shown[] = {RM_GPU_HOURS, RM_P99_S, RM_SLO_PCT}; /* then ob */
    fprintf(out, "\n\n  %-6s %-44s", "point", "parameters");
    for (size_t k = 0; k < sizeof(shown) / sizeof(shown[0]); k++)
        fprintf(out, " %-18s", run_metric_label(run_metric_get(shown[k]), NULL, a, sizeof(a)));
    fprintf(out, " %-18s %s\n", ob->name, "flags");
    for (size_t i = 0; i < res->n_points; i++) {
        const sweep_point_summary *p = &res->pt[i];
        fprintf(out, "  p%04zu  %-44s", p->point, p->params);
        for (size_t k = 0; k < sizeof(shown) / sizeof(shown[0]); k++) /* "±" is 2 bytes */
            fprintf(
                out, " %-19s",
                stats_format(a, sizeof(a), &p->m[shown[k]], run_metric_get(shown[k])->decimals));
        fprintf(out, " %-19s %s%s%s\n", stats_format(d, sizeof(d), &p->m[ob->id], ob->decimals),
                p->feasible ? (p->surely ? "feasible" : "feasible(mean)") : "-",
                p->pareto ? " pareto" : "", p->winner ? " winner" : "");
    }
    fputc('\n', out);
    sweep_summary_verdict(res, out);
    fprintf(out, "\nPareto front (cost against P99, means over replications):\n");
    const run_metric_id cost = RM_COST, gpu_h = RM_GPU_HOURS, p99 = RM_P99_S;
    size_t *order = malloc(sizeof(size_t) * (res->n_points + 1));
    size_t nf = 0;
    for (size_t i = 0; order && i < res->n_points; i++)
        if (res->pt[i].pareto)
            order[nf++] = i;
    for (size_t i = 1; i < nf; i++) /* by cost */
        for (size_t j = i;
             j > 0 && res->pt[order[j - 1]].m[cost].mean > res->pt[order[j]].m[cost].mean; j--) {
            size_t t = order[j];
            order[j] = order[j - 1];
            order[j - 1] = t;
        }
    for (size_t i = 0; i < nf; i++) {
        const sweep_point_summary *p = &res->pt[order[i]];
        fprintf(out, "  p%04zu  cost %-16s GPU-h %-16s P99 %-16s %s\n", p->point,
                stats_format(a, sizeof(a), &p->m[cost], 2),
                stats_format(d, sizeof(d), &p->m[gpu_h], 2),
                stats_format(b, sizeof(b), &p->m[p99], 3), p->params);
    }
    free(order);
}

int sweep_report(const sweep *sw, FILE *out, const char *csv_path, const char *plot_prefix,
                 gp_error *err)
{
    int rc = record_points(sw, err);
    if (rc < 0)
        return rc;
    results_db *db = NULL;
    sweep_summary res;
    memset(&res, 0, sizeof(res));
    if ((rc = results_db_open_read(sw->db_path, &db, err)) < 0)
        return rc;
    rc = sweep_summary_read(db, sw->name, &res, err);
    results_db_close(db);
    if (rc < 0)
        return rc;
    for (size_t i = 0; i < res.n_points; i++)
        if (res.pt[i].n < (size_t)sw->reps) {
            rc = gp_error_set(err, GP_EMISSING, sw->db_path, 0, 0, NULL,
                              "point %zu has %zu of %d replications: run the sweep first",
                              res.pt[i].point, res.pt[i].n, sw->reps);
            goto done;
        }
    print_report(sw, &res, out);
    if (csv_path && (rc = write_csv(sw, &res, csv_path, err)) < 0)
        goto done;
    if (plot_prefix) {
        rc = sweep_summary_plot(&res, plot_prefix, err);
        if (rc == GP_ENOTSUP) {
            fprintf(out, "(no picture: %s)\n", err->msg);
            gp_error_clear(err);
            rc = 0;
        } else if (rc == 0) {
            fprintf(out, "Pareto front drawn: %s.png, %s.svg\n", plot_prefix, plot_prefix);
        }
    }
done:
    sweep_summary_free(&res);
    return rc;
}
