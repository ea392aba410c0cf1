/* winner.c: objectives, feasibility and the paired winner (see winner.h). */
#include "lab/winner.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <gsl/gsl_cdf.h>

size_t winner_candidate_fill(winner_candidate *c, double *vals, size_t reps, uint64_t seed0,
                             const run_summary *runs, size_t n, const char *label)
{
    c->reps = reps;
    for (size_t m = 0; m < RM_COUNT; m++) {
        for (size_t r = 0; r < reps; r++)
            vals[m * reps + r] = NAN;
        c->v[m] = vals + m * reps;
    }
    size_t found = 0;
    for (size_t i = 0; i < n; i++) {
        const run_summary *run = &runs[i];
        if (run->replication < 0 || (size_t)run->replication >= reps ||
            run->seed != seed0 + (uint64_t)run->replication ||
            (label && strcmp(run->label, label) != 0))
            continue;
        if (isnan(vals[(size_t)RM_COST * reps + (size_t)run->replication]))
            found++; /* a run's cost is never NaN: the first run of this replication */
        for (size_t m = 0; m < RM_COUNT; m++)
            vals[m * reps + (size_t)run->replication] = run_metric_value((run_metric_id)m, run);
    }
    return found;
}

void winner_objective_default(winner_objective *o)
{
    memset(o, 0, sizeof(*o));
    o->metric = RM_COST;
    o->maximise = false;
    o->n_constraints = 1;
    o->con[0] = (winner_constraint){.metric = RM_SLO_PCT, .is_max = false, .bound = 99};
}

static int metric_node(const cfg_node *n, run_metric_id *out, gp_error *err)
{
    const char *s = cfg_scalar(n);
    const run_metric *m = s ? run_metric_find(s) : NULL;
    if (!m) {
        char known[400];
        run_metric_names(known, sizeof(known));
        return cfg_error(n, err, GP_EUNKNOWN, "unknown metric \"%s\" (known: %s)", s ? s : "?",
                         known);
    }
    *out = m->id;
    return 0;
}

int winner_objective_parse(const cfg_node *obj, winner_objective *o, gp_error *err)
{
    static const char *const keys[] = {"minimise", "minimize",    "maximise",
                                       "maximize", "constraints", NULL};
    memset(o, 0, sizeof(*o));
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
        o->maximise = i >= 2;
    }
    if (!m)
        return cfg_error(obj, err, GP_EMISSING,
                         "the objective needs `minimise: METRIC` or "
                         "`maximise: METRIC`");
    if ((rc = metric_node(m, &o->metric, err)) < 0)
        return rc;
    const cfg_node *cons = NULL;
    if ((rc = cfg_opt_seq(obj, "constraints", &cons, err)) < 0)
        return rc;
    for (size_t i = 0; cons && i < cfg_len(cons); i++) {
        if (i >= WINNER_MAX_CONSTRAINTS)
            return cfg_error(cons, err, GP_ELIMIT, "more than %d constraints",
                             WINNER_MAX_CONSTRAINTS);
        const cfg_node *c = cfg_seq_at(cons, i);
        static const char *const ckeys[] = {"metric", "max", "min", NULL};
        winner_constraint *wc = &o->con[o->n_constraints];
        if ((rc = cfg_check_keys(c, ckeys, err)) < 0)
            return rc;
        const cfg_node *mn = cfg_map_get(c, "metric");
        if (!mn)
            return cfg_error(c, err, GP_EMISSING, "a constraint needs `metric`");
        if ((rc = metric_node(mn, &wc->metric, err)) < 0)
            return rc;
        int has_max = cfg_opt_double(c, "max", -1e300, 1e300, &wc->bound, err);
        if (has_max < 0)
            return has_max;
        if (has_max == 0) {
            int has_min = cfg_opt_double(c, "min", -1e300, 1e300, &wc->bound, err);
            if (has_min < 0)
                return has_min;
            if (has_min == 0)
                return cfg_error(c, err, GP_EMISSING, "a constraint needs `max` or `min`");
        } else if (cfg_map_get(c, "min")) {
            return cfg_error(c, err, GP_EPARSE, "one of `max` or `min` per constraint");
        }
        wc->is_max = has_max == 1;
        o->n_constraints++;
    }
    return 0;
}

char *winner_objective_describe(const winner_objective *o, char *buf, size_t cap)
{
    int n = snprintf(buf, cap, "%s %s", o->maximise ? "maximise" : "minimise",
                     run_metric_get(o->metric)->name);
    for (int k = 0; k < o->n_constraints && n >= 0 && (size_t)n < cap; k++)
        n += snprintf(buf + n, cap - (size_t)n, "%s%s %s %g", k ? ", " : " subject to ",
                      run_metric_get(o->con[k].metric)->name,
                      o->con[k].is_max ? "<=" : ">=", o->con[k].bound);
    return buf;
}

static bool meets(const winner_constraint *c, double v)
{
    return c->is_max ? v <= c->bound : v >= c->bound;
}

void winner_classify(const winner_objective *o, winner_candidate *c, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        winner_candidate *x = &c[i];
        for (int m = 0; m < RM_COUNT; m++)
            x->s[m] = x->v[m] ? stats_summarize(x->v[m], x->reps) : stats_summarize(NULL, 0);
        x->feasible = x->surely = true;
        x->shortfall = 0;
        for (int k = 0; k < o->n_constraints; k++) {
            const winner_constraint *wc = &o->con[k];
            const stat_summary *s = &x->s[wc->metric];
            double hw = isnan(s->half_width) ? 0 : s->half_width;
            bool ok = !isnan(s->mean) && meets(wc, s->mean);
            x->feasible &= ok;
            x->surely &= !isnan(s->mean) && meets(wc, wc->is_max ? s->mean + hw : s->mean - hw);
            if (!ok) {
                double scale = fabs(wc->bound) > 0 ? fabs(wc->bound) : 1;
                x->shortfall += isnan(s->mean) ? INFINITY : fabs(s->mean - wc->bound) / scale;
            }
        }
    }
}

/* a better than b on the objective (means) */
static bool better(const winner_objective *o, double a, double b)
{
    return o->maximise ? a > b : a < b;
}

stat_summary winner_paired(const winner_objective *o, const winner_candidate *win,
                           const winner_candidate *other, double *p)
{
    size_t reps = win->reps < other->reps ? win->reps : other->reps;
    const double *w = win->v[o->metric], *x = other->v[o->metric];
    stat_summary d = o->maximise ? stats_paired(w, x, reps) : stats_paired(x, w, reps);
    if (p) {
        *p = NAN;
        if (d.n >= 2 && d.sd > 0)
            *p = gsl_cdf_tdist_Q(d.mean / (d.sd / sqrt((double)d.n)), (double)(d.n - 1));
        else if (d.n >= 2)
            *p = d.mean > 0 ? 0.0 : d.mean == 0 ? 0.5 : 1.0;
    }
    return d;
}

bool winner_tied(const stat_summary *margin)
{
    return !(stats_significant(margin) && margin->mean > 0);
}

void winner_pick(const winner_objective *o, const winner_candidate *c, size_t n, winner_result *r)
{
    memset(r, 0, sizeof(*r));
    r->winner = r->runner_up = r->closest = SIZE_MAX;
    r->p_one_sided = NAN;
    r->margin = stats_summarize(NULL, 0);
    const int ob = o->metric;
    for (size_t i = 0; i < n; i++)
        if (c[i].feasible && !isnan(c[i].s[ob].mean) &&
            (r->winner == SIZE_MAX || better(o, c[i].s[ob].mean, c[r->winner].s[ob].mean)))
            r->winner = i;
    if (r->winner == SIZE_MAX) {
        for (size_t i = 0; i < n; i++)
            if (r->closest == SIZE_MAX || c[i].shortfall < c[r->closest].shortfall ||
                (c[i].shortfall == c[r->closest].shortfall &&
                 better(o, c[i].s[ob].mean, c[r->closest].s[ob].mean)))
                r->closest = i;
        return;
    }
    for (size_t i = 0; i < n; i++) {
        if (i == r->winner || !c[i].feasible)
            continue;
        if (!isnan(c[i].s[ob].mean) &&
            (r->runner_up == SIZE_MAX || better(o, c[i].s[ob].mean, c[r->runner_up].s[ob].mean)))
            r->runner_up = i;
        r->compared++;
        stat_summary d = winner_paired(o, &c[r->winner], &c[i], NULL);
        if (winner_tied(&d))
            r->ties++;
    }
    if (r->runner_up != SIZE_MAX) {
        r->margin = winner_paired(o, &c[r->winner], &c[r->runner_up], &r->p_one_sided);
        r->significant = !winner_tied(&r->margin);
    }
}
