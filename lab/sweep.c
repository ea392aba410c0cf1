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
 * Metrics: gpu_hours, cost, mean_s, p50_s, p95_s, p99_s, slo_pct, util_pct, timed_out,
 * pod_starts, cold_waited. A point is feasible when the constraint holds on the mean over
 * replications, and surely feasible when it holds on the 95% bound. */
#include "lab/sweep.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <sys/mman.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gsl/gsl_rng.h>

#include "base/cfg.h"
#include "base/fileio.h"
#include "base/text.h"
#include "base/ytree.h"
#include "lab/experiment.h"
#include "lab/plot.h"
#include "lab/results_db.h"
#include "lab/sweep_summary.h"
#include "sim/stats.h"

#define SWEEP_MAX_PARAMS 16
#define SWEEP_MAX_VALUES 256
#define SWEEP_MAX_POINTS 100000
#define VALUE_LEN 96

typedef struct sweep_param {
    char path[256];      /* as in the file */
    char target[280];    /* the emitted experiment's path ("policies[0].config.x") */
    int n_values;        /* from `values:` (0 when a range) */
    char values[SWEEP_MAX_VALUES][VALUE_LEN];
    double lo, hi;
    int steps;           /* grid over a range */
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
    char *point_value;   /* n_points x n_params x VALUE_LEN */
    int objective;       /* metric index */
    bool maximise;
    int n_constraints;
    sweep_constraint con[SWEEP_MAX_CONSTRAINTS];
};

/* ---------- metrics (sweep_summary.h) ---------- */

static int metric_node(const cfg_node *n, int *out, gp_error *err)
{
    const char *s = cfg_scalar(n);
    int m = s ? sweep_metric_index(s) : -1;
    if (m < 0) {
        char known[400] = "";
        for (int i = 0; i < sweep_metric_count(); i++) {
            size_t u = strlen(known);
            snprintf(known + u, sizeof(known) - u, "%s%s", i ? ", " : "", sweep_metric_name(i));
        }
        return cfg_error(n, err, GP_EUNKNOWN, "unknown metric \"%s\" (known: %s)", s ? s : "?",
                         known);
    }
    *out = m;
    return 0;
}

/* ---------- loading ---------- */

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
        snprintf(p->target, sizeof(p->target), "policies[0].%s", path);
    else if (strncmp(path, "policies", 8) == 0 || strcmp(path, "name") == 0 ||
             strcmp(path, "seed") == 0 || strcmp(path, "replications") == 0 ||
             strcmp(path, "profile") == 0 || strncmp(path, "output", 6) == 0)
        return cfg_error(cfg_map_get(item, "path"), err, GP_ERANGE,
                         "%s is set by the sweep itself (vary config.KEY for the policy)", path);
    else
        snprintf(p->target, sizeof(p->target), "%s", path);
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
        return 0;
    }
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
    (void)sw;
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

static int parse_objective(sweep *sw, const cfg_node *obj, gp_error *err)
{
    static const char *const keys[] = {"minimise", "minimize", "maximise", "maximize",
                                       "constraints", NULL};
    int rc = cfg_check_keys(obj, keys, err);
    if (rc < 0)
        return rc;
    const cfg_node *m = NULL;
    static const char *const dirs[] = {"minimise", "minimize", "maximise", "maximize"};
    for (int i = 0; i < 4; i++) {
        const cfg_node *n = cfg_map_get(obj, dirs[i]);
        if (!n)
            continue;
        if (m)
            return cfg_error(n, err, GP_EPARSE, "one objective: minimise or maximise");
        m = n;
        sw->maximise = i >= 2;
    }
    if (!m)
        return cfg_error(obj, err, GP_EMISSING, "the objective needs `minimise: METRIC` or "
                                                "`maximise: METRIC`");
    if ((rc = metric_node(m, &sw->objective, err)) < 0)
        return rc;
    const cfg_node *cons = NULL;
    if ((rc = cfg_opt_seq(obj, "constraints", &cons, err)) < 0)
        return rc;
    for (size_t i = 0; cons && i < cfg_len(cons); i++) {
        if (i >= SWEEP_MAX_CONSTRAINTS)
            return cfg_error(cons, err, GP_ELIMIT, "more than %d constraints",
                             SWEEP_MAX_CONSTRAINTS);
        const cfg_node *c = cfg_seq_at(cons, i);
        static const char *const ckeys[] = {"metric", "max", "min", NULL};
        sweep_constraint *sc = &sw->con[sw->n_constraints];
        if ((rc = cfg_check_keys(c, ckeys, err)) < 0)
            return rc;
        const cfg_node *mn = cfg_map_get(c, "metric");
        if (!mn)
            return cfg_error(c, err, GP_EMISSING, "a constraint needs `metric`");
        if ((rc = metric_node(mn, &sc->metric, err)) < 0)
            return rc;
        int has_max = cfg_opt_double(c, "max", -1e300, 1e300, &sc->bound, err);
        if (has_max < 0)
            return has_max;
        if (has_max == 0) {
            int has_min = cfg_opt_double(c, "min", -1e300, 1e300, &sc->bound, err);
            if (has_min < 0)
                return has_min;
            if (has_min == 0)
                return cfg_error(c, err, GP_EMISSING, "a constraint needs `max` or `min`");
        } else if (cfg_map_get(c, "min")) {
            return cfg_error(c, err, GP_EPARSE, "one of `max` or `min` per constraint");
        }
        sc->is_max = has_max == 1;
        sw->n_constraints++;
    }
    return 0;
}

static int sweep_parse(sweep *sw, const cfg_doc *doc, gp_error *err)
{
    const cfg_node *root = cfg_root(doc);
    if (!root)
        return gp_error_set(err, GP_EPARSE, sw->path, 0, 0, NULL, "empty sweep file");
    static const char *const keys[] = {"name",   "description", "base",        "policy",
                                       "replications", "seed",  "db",          "series",
                                       "design", "samples",     "sample_seed", "parameters",
                                       "objective", NULL};
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
    snprintf(base_path, sizeof(base_path), "%s%s%s", base[0] == '/' ? "" : sw->dir,
             base[0] == '/' || !sw->dir[0] ? "" : "/", base);
    if ((rc = experiment_load(base_path, &sw->base, err)) < 0)
        return rc;
    sw->reps = sw->base->replications;
    sw->seed = sw->base->seed;
    int64_t seed = (int64_t)sw->seed;
    if ((rc = cfg_opt_int(root, "replications", 1, EXPERIMENT_MAX_REPLICATIONS, &sw->reps,
                          err)) < 0 ||
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
    if (db)
        snprintf(sw->db_path, sizeof(sw->db_path), "%s%s%s", db[0] == '/' ? "" : sw->dir,
                 db[0] == '/' || !sw->dir[0] ? "" : "/", db);
    else {
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
    if ((rc = parse_objective(sw, obj, err)) < 0)
        return rc;
    /* every point must make a valid experiment: check the first now, by its place */
    char *text = NULL;
    rc = sweep_point_yaml(sw, 0, &text, err);
    free(text);
    return rc;
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

/* ---------- a point as YAML ---------- */

/* The base experiment as written, with the point's values at the parameters' places
 * (base/ytree: the project's one YAML writer). */
typedef struct point_ctx {
    const sweep *sw;
    size_t point;
    bool applied[SWEEP_MAX_PARAMS];
} point_ctx;

static const char *override_for(point_ctx *c, const char *path)
{
    for (int k = 0; k < c->sw->n_params; k++)
        if (strcmp(c->sw->param[k].target, path) == 0) {
            c->applied[k] = true;
            return point_cell(c->sw, c->point, k);
        }
    return NULL;
}

static ytree *point_node(point_ctx *c, const cfg_node *n, const char *path)
{
    const char *ov = override_for(c, path);
    if (ov)
        return ytree_str(ov);
    if (cfg_node_is_null(n) || cfg_node_kind(n) == CFG_SCALAR)
        return ytree_copy_cfg(n);
    char child[512];
    if (cfg_node_kind(n) == CFG_SEQ) {
        ytree *seq = ytree_seq();
        for (size_t i = 0; seq && i < cfg_len(n); i++) {
            snprintf(child, sizeof(child), "%s[%zu]", path, i);
            ytree_push(seq, point_node(c, cfg_seq_at(n, i), child));
        }
        return seq;
    }
    ytree *map = ytree_map();
    for (size_t i = 0; map && i < cfg_len(n); i++) {
        const char *key = cfg_map_key_at(n, i);
        snprintf(child, sizeof(child), "%s%s%s", path, path[0] ? "." : "", key);
        ytree_set(map, key, point_node(c, cfg_map_value_at(n, i), child));
    }
    /* overrides of keys this map lacks */
    size_t plen = strlen(path);
    for (int k = 0; map && k < c->sw->n_params; k++) {
        const char *t = c->sw->param[k].target;
        if (c->applied[k] || strncmp(t, path, plen) != 0 || (plen && t[plen] != '.'))
            continue;
        const char *key = t + plen + (plen ? 1 : 0);
        if (strpbrk(key, ".[") || cfg_map_get(n, key))
            continue;
        ytree_set(map, key, ytree_str(point_cell(c->sw, c->point, k)));
        c->applied[k] = true;
    }
    return map;
}

/* An absolute version of a path (realpath when it exists). */
static void absolute_path(const char *p, char *out, size_t cap)
{
    char buf[PATH_MAX];
    if (realpath(p, buf))
        snprintf(out, cap, "%s", buf);
    else
        snprintf(out, cap, "%s", p);
}

int sweep_point_yaml(const sweep *sw, size_t point, char **text, gp_error *err)
{
    *text = NULL;
    if (point >= sw->n_points)
        return gp_error_set(err, GP_ERANGE, sw->path, 0, 0, NULL, "no point %zu", point);
    point_ctx c = {.sw = sw, .point = point};
    const experiment *e = sw->base;
    const cfg_node *root = cfg_root(e->doc);
    char abs[PATH_MAX];
    ytree *doc = ytree_map();
    ytree_set(doc, "name", ytree_strf("%s-p%04zu", sw->name, point));
    char seed[32];
    snprintf(seed, sizeof(seed), "%" PRIu64, sw->seed);
    ytree_set(doc, "seed", ytree_plain(seed));
    ytree_set(doc, "replications", ytree_int(sw->reps));
    absolute_path(e->profile_path, abs, sizeof(abs));
    ytree_set(doc, "profile", ytree_str(abs));
    for (size_t i = 0; i < cfg_len(root); i++) {
        const char *key = cfg_map_key_at(root, i);
        const cfg_node *v = cfg_map_value_at(root, i);
        if (!strcmp(key, "name") || !strcmp(key, "seed") || !strcmp(key, "replications") ||
            !strcmp(key, "profile") || !strcmp(key, "output"))
            continue;
        ytree *out;
        if (!strcmp(key, "policies")) {
            out = ytree_seq();
            ytree_push(out, point_node(&c, cfg_seq_at(v, (size_t)sw->policy_index),
                                       "policies[0]"));
        } else {
            out = point_node(&c, v, key);
            if (!strcmp(key, "workload") && cfg_map_get(v, "path")) {
                /* the trace's path, resolved against the base file's directory */
                absolute_path(e->workload.path, abs, sizeof(abs));
                ytree_set(out, "path", ytree_str(abs));
            }
            ytree *pools = !strcmp(key, "cluster") ? ytree_get(out, "pools") : NULL;
            for (int k = 0; pools && k < e->n_pools; k++) {
                /* a node pool's card and recorded preemptions, likewise */
                ytree *pm = ytree_at(pools, (size_t)k);
                ytree *pre = pm ? ytree_get(pm, "preemption") : NULL;
                if (pm && e->pool[k].profile_path[0]) {
                    absolute_path(e->pool[k].profile_path, abs, sizeof(abs));
                    ytree_set(pm, "profile", ytree_str(abs));
                }
                if (pre && e->pool[k].trace_path[0]) {
                    absolute_path(e->pool[k].trace_path, abs, sizeof(abs));
                    ytree_set(pre, "trace", ytree_str(abs));
                }
            }
        }
        ytree_set(doc, key, out);
    }
    /* top-level keys the base lacks (e.g. duration) */
    for (int k = 0; k < sw->n_params; k++) {
        const char *t = sw->param[k].target;
        if (c.applied[k] || strpbrk(t, ".[") || cfg_map_get(root, t))
            continue;
        ytree_set(doc, t, ytree_str(point_cell(sw, point, k)));
        c.applied[k] = true;
    }
    ytree *o = ytree_set(doc, "output", ytree_map());
    ytree_set(o, "series", ytree_bool(sw->series));
    ytree_set(o, "requests", ytree_bool(false));
    int rc = 0;
    char *body = ytree_emit_string(doc, &rc);
    ytree_free(doc);
    for (int k = 0; body && k < sw->n_params; k++)
        if (!c.applied[k]) {
            free(body);
            return gp_error_set(err, GP_EMISSING, sw->path, 0, 0, sw->param[k].path,
                                "no such place in the base experiment (its parent map is "
                                "missing)");
        }
    /* a comment line naming the point, then the document */
    char *buf = NULL;
    size_t len = 0;
    FILE *f = body ? open_memstream(&buf, &len) : NULL;
    if (f) {
        fprintf(f, "# %s point %zu:", sw->name, point);
        for (int k = 0; k < sw->n_params; k++)
            fprintf(f, " %s=%s", sw->param[k].path, point_cell(sw, point, k));
        fprintf(f, "\n%s", body);
    }
    free(body);
    if (!f || fclose(f) != 0 || !buf) {
        free(buf);
        return gp_error_set(err, rc < 0 && rc != GP_ENOMEM ? rc : GP_ENOMEM, sw->path, 0, 0,
                            NULL, "cannot write the point's experiment");
    }
    *text = buf;
    return 0;
}

/* ---------- workers ---------- */

struct sweep_worker {
    const sweep *sw;
    results_db *db;
    size_t point;        /* the loaded point, or SIZE_MAX */
    experiment *e;
    int64_t exp_id;      /* valid with a database */
};

/* The point's experiment, through a temporary file (experiment_load reads files). */
static int worker_load_point(sweep_worker *w, size_t point, gp_error *err)
{
    if (w->point == point)
        return 0;
    experiment_free(w->e);
    w->e = NULL;
    w->point = SIZE_MAX;
    char *text = NULL;
    int rc = sweep_point_yaml(w->sw, point, &text, err);
    if (rc < 0)
        return rc;
    const char *tmpdir = getenv("TMPDIR");
    char tmp[1024];
    snprintf(tmp, sizeof(tmp), "%s/gpenlab-sweep-XXXXXX.yaml",
             tmpdir && tmpdir[0] ? tmpdir : "/tmp");
    int fd = mkstemps(tmp, 5);
    if (fd < 0) {
        free(text);
        return gp_error_set(err, GP_EIO, tmp, 0, 0, NULL, "cannot create: %s", strerror(errno));
    }
    size_t len = strlen(text), off = 0;
    while (off < len) {
        ssize_t got = write(fd, text + off, len - off);
        if (got <= 0)
            break;
        off += (size_t)got;
    }
    close(fd);
    free(text);
    if (off < len) {
        unlink(tmp);
        return gp_error_set(err, GP_EIO, tmp, 0, 0, NULL, "cannot write the point's file");
    }
    rc = experiment_load(tmp, &w->e, err);
    unlink(tmp);
    if (rc < 0) {
        /* name the sweep and the point, not the temporary file */
        char msg[sizeof(err->msg)];
        snprintf(msg, sizeof(msg), "%s", err->msg);
        gp_error_set(err, rc, w->sw->path, 0, 0, err->field, "point %zu: %s", point, msg);
        return rc;
    }
    if (w->db) {
        rc = results_db_experiment_upsert(w->db, w->e->name, w->sw->path, w->e->yaml_text,
                                          w->e->profile_text, &w->exp_id, err);
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
    sweep_objective_text(d.objective, sizeof(d.objective), sw->objective, sw->maximise);
    sweep_constraints_text(d.constraints, sizeof(d.constraints), sw->con, sw->n_constraints);
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
    results_db_run_key(key, cap, w->exp_id, w->e->policy[0].label, rep, w->sw->seed + (uint64_t)rep);
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
    experiment_sim_cfg(w->e, 0, rep, &cfg);
    cfg.seed = w->sw->seed + (uint64_t)rep;
    cfg.record_requests = false;
    cfg.record_series = w->sw->series && series;
    rc = sim_run(&cfg, sum, cfg.record_series ? series : NULL, NULL, err);
    if (rc < 0 && strstr(err->file, "gpenlab-sweep-")) {
        /* a policy's config error points into the point's temporary file: name the
         * sweep file and the point instead (the field path still says which key) */
        char msg[sizeof(err->msg)];
        snprintf(msg, sizeof(msg), "%s", err->msg);
        snprintf(err->file, sizeof(err->file), "%.*s", (int)sizeof(err->file) - 1, w->sw->path);
        err->line = err->col = 0;
        snprintf(err->msg, sizeof(err->msg), "point %zu: %.*s", unit / (size_t)w->sw->reps,
                 (int)sizeof(err->msg) - 32, msg);
    }
    return rc;
}

int sweep_unit_store(sweep_worker *w, size_t unit, const run_summary *sum,
                     const run_series *series, gp_error *err)
{
    int rc = worker_load_point(w, unit / (size_t)w->sw->reps, err);
    if (rc < 0)
        return rc;
    char key[256];
    unit_key(w, unit, key, sizeof(key));
    return results_db_write_run(w->db, w->exp_id, key, sum, series, NULL, err);
}

/* ---------- the local pool ---------- */

typedef struct pool_shared {
    size_t next;          /* the next unit to take (atomic) */
    size_t ran, resumed;  /* (atomic) */
} pool_shared;

static int work_loop(const sweep *sw, int db_mode, pool_shared *sh, volatile sig_atomic_t *stop,
                     gp_error *err)
{
    sweep_worker *w = NULL;
    int rc = sweep_worker_open(sw, db_mode, &w, err);
    size_t n = sweep_n_units(sw);
    while (rc == 0) {
        if (stop && *stop) {
            rc = gp_error_set(err, GP_EINTERRUPTED, sw->db_path, 0, 0, NULL,
                              "interrupted: the sweep resumes on rerun");
            break;
        }
        size_t u = __atomic_fetch_add(&sh->next, 1, __ATOMIC_SEQ_CST);
        if (u >= n)
            break;
        rc = sweep_unit_done(w, u, err);
        if (rc == 1) {
            __atomic_fetch_add(&sh->resumed, 1, __ATOMIC_SEQ_CST);
            rc = 0;
            continue;
        }
        if (rc < 0)
            break;
        run_summary sum;
        run_series series = {0};
        rc = sweep_unit_run(w, u, &sum, &series, err);
        if (rc == 0)
            rc = sweep_unit_store(w, u, &sum, sw->series ? &series : NULL, err);
        run_series_free(&series);
        if (rc == 0)
            __atomic_fetch_add(&sh->ran, 1, __ATOMIC_SEQ_CST);
    }
    sweep_worker_close(w);
    return rc;
}

int sweep_run_local(const sweep *sw, int jobs, volatile sig_atomic_t *stop,
                    sweep_run_stats *st, gp_error *err)
{
    if (jobs < 1)
        jobs = 1;
    memset(st, 0, sizeof(*st));
    st->units = sweep_n_units(sw);
    if (jobs == 1) {
        pool_shared sh = {0};
        int rc = work_loop(sw, SWEEP_DB_WRITER, &sh, stop, err);
        st->ran = sh.ran;
        st->resumed = sh.resumed;
        return rc;
    }
    /* This process is the writer: it creates the schema before the workers race for it
     * and holds the writer lock until every worker is gone (the workers share it). */
    sweep_worker *w0 = NULL;
    int rc = sweep_worker_open(sw, SWEEP_DB_WRITER, &w0, err);
    if (rc < 0)
        return rc;
    pool_shared *sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
                           -1, 0);
    if (sh == MAP_FAILED) {
        sweep_worker_close(w0);
        return gp_error_set(err, GP_ENOMEM, NULL, 0, 0, NULL, "mmap: %s", strerror(errno));
    }
    memset(sh, 0, sizeof(*sh));
    pid_t pid[256];
    struct pollfd pfd[256];
    if (jobs > 256)
        jobs = 256;
    int started = 0;
    pid_t parent = getpid();
    for (int j = 0; j < jobs; j++) {
        int p[2];
        if (pipe(p) < 0) {
            rc = gp_error_set(err, GP_EIO, NULL, 0, 0, NULL, "pipe: %s", strerror(errno));
            break;
        }
        fflush(NULL);
        pid_t c = fork();
        if (c < 0) {
            close(p[0]);
            close(p[1]);
            rc = gp_error_set(err, GP_EIO, NULL, 0, 0, NULL, "fork: %s", strerror(errno));
            break;
        }
        if (c == 0) {
            /* A worker ends at once on SIGTERM or SIGINT: a unit is written in one
             * transaction, so what is lost is the unit in progress, which the rerun does. It
             * also ends when the parent dies, so no worker goes on alone. */
            signal(SIGTERM, SIG_DFL);
            signal(SIGINT, SIG_DFL);
#ifdef __linux__
            prctl(PR_SET_PDEATHSIG, SIGTERM);
#endif
            if (getppid() != parent || (stop && *stop))
                _exit(1);
            close(p[0]);
            gp_error cerr;
            gp_error_clear(&cerr);
            int crc = work_loop(sw, SWEEP_DB_POOL, sh, NULL, &cerr);
            if (crc < 0) {
                ssize_t wr = write(p[1], &cerr, sizeof(cerr));
                (void)wr;
            }
            close(p[1]);
            _exit(crc < 0 ? 1 : 0);
        }
        close(p[1]);
        pid[started] = c;
        pfd[started].fd = p[0];
        pfd[started].events = POLLIN;
        started++;
    }
    /* Wait for the workers' reports (an error record, or end of file when they exit); a
     * stop request is passed on to every worker within one poll period. */
    gp_error first = {0};
    bool stopped = false;
    for (int open_fds = started; open_fds > 0;) {
        if (stop && *stop && !stopped) {
            stopped = true;
            for (int j = 0; j < started; j++)
                kill(pid[j], SIGTERM);
        }
        if (poll(pfd, (nfds_t)started, 100) < 0 && errno != EINTR)
            break;
        for (int j = 0; j < started; j++) {
            if (pfd[j].fd < 0 || !(pfd[j].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            gp_error cerr;
            ssize_t got = read(pfd[j].fd, &cerr, sizeof(cerr));
            if (got < 0 && errno == EINTR)
                continue;
            if (got == (ssize_t)sizeof(cerr) && first.code == 0)
                first = cerr;
            close(pfd[j].fd);
            pfd[j].fd = -1;
            open_fds--;
        }
    }
    bool died = false;
    int died_status = 0;
    for (int j = 0; j < started; j++) {
        if (pfd[j].fd >= 0)
            close(pfd[j].fd);
        int status = 0;
        while (waitpid(pid[j], &status, 0) < 0 && errno == EINTR)
            ;
        if (!(WIFEXITED(status) && WEXITSTATUS(status) == 0) && !died) {
            died = true;
            died_status = status;
        }
    }
    sweep_worker_close(w0); /* the lock is released only now */
    if (rc == 0 && (stopped || (stop && *stop)))
        rc = gp_error_set(err, GP_EINTERRUPTED, sw->db_path, 0, 0, NULL,
                          "interrupted: %zu of %zu units done, the sweep resumes on rerun",
                          sh->ran + sh->resumed, st->units);
    else if (rc == 0 && first.code != 0) {
        *err = first;
        rc = first.code;
    } else if (rc == 0 && died) {
        rc = gp_error_set(err, GP_EIO, sw->db_path, 0, 0, NULL,
                          "a sweep worker died (status %d); rerun to resume", died_status);
    }
    st->ran = sh->ran;
    st->resumed = sh->resumed;
    munmap(sh, sizeof(*sh));
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
    for (int m = 0; m < sweep_metric_count(); m++)
        fprintf(f, ",%s,%s_hw", sweep_metric_name(m), sweep_metric_name(m));
    fprintf(f, ",n,feasible,surely_feasible,pareto\n");
    for (size_t i = 0; i < res->n_points; i++) {
        const sweep_point_summary *p = &res->pt[i];
        fprintf(f, "%zu", p->point);
        for (int k = 0; k < sw->n_params; k++)
            fprintf(f, ",%s", point_cell(sw, p->point, k));
        for (int m = 0; m < sweep_metric_count(); m++)
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
    const int ob = sw->objective;
    const int dec = sweep_metric_decimals(ob);
    const int gpu_h = sweep_metric_index("gpu_hours"), p99 = sweep_metric_index("p99_s"),
              slo = sweep_metric_index("slo_pct");
    char a[64], b[64], c[64], d[64];
    fprintf(out, "sweep %s: %zu points x %d replications (common random numbers: seeds %" PRIu64
                 "..%" PRIu64 "), base %s, policy %s\n",
            sw->name, sw->n_points, sw->reps, sw->seed, sw->seed + (uint64_t)sw->reps - 1,
            sw->base->path, sw->base->policy[sw->policy_index].label);
    fprintf(out, "objective: %s %s", sw->maximise ? "maximise" : "minimise", sweep_metric_name(ob));
    for (int k = 0; k < sw->n_constraints; k++)
        fprintf(out, "%s%s %s %g", k ? ", " : " subject to ", sweep_metric_name(sw->con[k].metric),
                sw->con[k].is_max ? "<=" : ">=", sw->con[k].bound);
    fprintf(out, "\n\n  %-6s %-44s %-18s %-18s %-18s %-18s %s\n", "point", "parameters",
            "GPU-h", "P99 (s)", "SLO (%)", sweep_metric_name(ob), "flags");
    for (size_t i = 0; i < res->n_points; i++) {
        const sweep_point_summary *p = &res->pt[i];
        fprintf(out, "  p%04zu  %-44s %-19s %-19s %-19s %-19s %s%s%s\n", p->point, p->params,
                stats_format(a, sizeof(a), &p->m[gpu_h], 2), stats_format(b, sizeof(b), &p->m[p99], 3),
                stats_format(c, sizeof(c), &p->m[slo], 2), stats_format(d, sizeof(d), &p->m[ob], dec),
                p->feasible ? (p->surely ? "feasible" : "feasible(mean)") : "-",
                p->pareto ? " pareto" : "", p->winner ? " winner" : "");
    }
    fputc('\n', out);
    sweep_summary_verdict(res, out);
    fprintf(out, "\nPareto front (cost against P99, means over replications):\n");
    const int cost = sweep_metric_index("cost");
    size_t *order = malloc(sizeof(size_t) * (res->n_points + 1));
    size_t nf = 0;
    for (size_t i = 0; order && i < res->n_points; i++)
        if (res->pt[i].pareto)
            order[nf++] = i;
    for (size_t i = 1; i < nf; i++) /* by cost */
        for (size_t j = i; j > 0 && res->pt[order[j - 1]].m[cost].mean >
                                        res->pt[order[j]].m[cost].mean; j--) {
            size_t t = order[j];
            order[j] = order[j - 1];
            order[j - 1] = t;
        }
    for (size_t i = 0; i < nf; i++) {
        const sweep_point_summary *p = &res->pt[order[i]];
        fprintf(out, "  p%04zu  cost %-16s GPU-h %-16s P99 %-16s %s\n", p->point,
                stats_format(a, sizeof(a), &p->m[cost], 2), stats_format(d, sizeof(d), &p->m[gpu_h], 2),
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
