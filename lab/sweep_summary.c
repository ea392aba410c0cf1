/* sweep_summary.c: a sweep's results from the database (see sweep_summary.h). */
#include "lab/sweep_summary.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/common.h"
#include "base/text.h"
#include "lab/plot.h"

bool pareto_dominates(double cost_b, double lat_b, double cost_a, double lat_a)
{
    if (isnan(cost_a) || isnan(lat_a))
        return true; /* a point without both figures is on no front */
    return !isnan(cost_b) && !isnan(lat_b) && cost_b <= cost_a && lat_b <= lat_a &&
           (cost_b < cost_a || lat_b < lat_a);
}

/* ---------- the objective as stored ---------- */

void sweep_objective_store(const winner_objective *o, results_db_sweep *d)
{
    snprintf(d->objective, sizeof(d->objective), "%s %s", o->maximise ? "maximise" : "minimise",
             run_metric_get(o->metric)->name);
    d->constraints[0] = '\0';
    for (int k = 0; k < o->n_constraints; k++) {
        size_t u = strlen(d->constraints);
        snprintf(d->constraints + u, sizeof(d->constraints) - u, "%s%s%s%.17g", k ? "," : "",
                 run_metric_get(o->con[k].metric)->name,
                 o->con[k].is_max ? "<=" : ">=", o->con[k].bound);
    }
}

/* The stored texts back into o; false when they do not parse (then: not recorded). */
static bool parse_stored(winner_objective *o, const results_db_sweep *d)
{
    char sense[16], metric[64];
    const run_metric *m;
    memset(o, 0, sizeof(*o));
    if (sscanf(d->objective, "%15s %63s", sense, metric) != 2 ||
        (strcmp(sense, "minimise") != 0 && strcmp(sense, "maximise") != 0) ||
        !(m = run_metric_find(metric)))
        return false;
    o->metric = m->id;
    o->maximise = strcmp(sense, "maximise") == 0;
    char text[sizeof(d->constraints)];
    snprintf(text, sizeof(text), "%s", d->constraints);
    char *save = NULL;
    for (char *tok = strtok_r(text, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        char *op = strpbrk(tok, "<>");
        if (!op || op[1] != '=' || o->n_constraints >= WINNER_MAX_CONSTRAINTS)
            return false;
        winner_constraint *c = &o->con[o->n_constraints];
        c->is_max = *op == '<';
        *op = '\0';
        char *end = NULL;
        c->bound = strtod(op + 2, &end);
        if (!(m = run_metric_find(tok)) || !end || *end)
            return false;
        c->metric = m->id;
        o->n_constraints++;
    }
    return true;
}

/* ---------- analysis: winner.h's, as for gpenlab run ---------- */

static const double *values_of(const sweep_summary *s, const sweep_point_summary *p, int m)
{
    return p->values + (size_t)m * (size_t)s->reps;
}

static void classify(sweep_summary *s)
{
    const winner_objective o = s->obj; /* zero when not recorded */
    winner_candidate *cand = calloc(s->n_points + 1, sizeof(*cand));
    for (size_t i = 0; cand && i < s->n_points; i++) {
        for (int m = 0; m < RM_COUNT; m++)
            cand[i].v[m] = values_of(s, &s->pt[i], m);
        cand[i].reps = (size_t)s->reps;
    }
    if (cand)
        winner_classify(&o, cand, s->n_points);
    for (size_t i = 0; i < s->n_points; i++) {
        sweep_point_summary *p = &s->pt[i];
        p->feasible = s->recorded && cand && cand[i].feasible;
        p->surely = s->recorded && cand && cand[i].surely;
        p->why_not[0] = '\0';
        for (int k = 0; s->recorded && k < o.n_constraints && !p->why_not[0]; k++) {
            const winner_constraint *c = &o.con[k];
            double mean = p->m[c->metric].mean;
            if (isnan(mean) || (c->is_max ? mean > c->bound : mean < c->bound))
                snprintf(p->why_not, sizeof(p->why_not), "%s %.*f %s %g",
                         run_metric_get(c->metric)->name, run_metric_get(c->metric)->decimals, mean,
                         c->is_max ? ">" : "<", c->bound);
        }
    }
    /* Pareto front on (mean cost, mean P99); cost, not GPU-hours: a mixed fleet's pools
     * have their own prices (on one pool the two give the same front) */
    for (size_t a = 0; a < s->n_points; a++) {
        double ca = s->pt[a].m[RM_COST].mean, la = s->pt[a].m[RM_P99_S].mean;
        s->pt[a].pareto = true;
        for (size_t b = 0; b < s->n_points && s->pt[a].pareto; b++)
            s->pt[a].pareto =
                !pareto_dominates(s->pt[b].m[RM_COST].mean, s->pt[b].m[RM_P99_S].mean, ca, la);
    }
    s->winner = s->runner_up = SIZE_MAX;
    if (!s->recorded || !cand) {
        free(cand);
        return;
    }
    winner_result wr;
    winner_pick(&o, cand, s->n_points, &wr);
    s->winner = wr.winner;
    s->runner_up = wr.runner_up;
    s->p_value = wr.p_one_sided;
    s->compared = wr.compared;
    s->ties = wr.ties;
    if (s->winner != SIZE_MAX) {
        s->pt[s->winner].winner = true;
        for (size_t i = 0; i < s->n_points; i++) {
            sweep_point_summary *p = &s->pt[i];
            if (i == s->winner || !p->feasible)
                continue;
            p->vs_winner = winner_paired(&o, &cand[s->winner], &cand[i], NULL);
            p->tied = winner_tied(&p->vs_winner);
        }
    }
    free(cand);
}

int sweep_summary_names(results_db *db, char (**names)[128], size_t *n, gp_error *err)
{
    *names = NULL;
    *n = 0;
    results_db_sweep_point *sp = NULL;
    size_t n_sp = 0;
    int rc = results_db_sweep_points(db, &sp, &n_sp, err);
    if (rc < 0)
        return rc;
    char(*out)[128] = n_sp ? malloc(n_sp * sizeof(*out)) : NULL;
    if (n_sp && !out) {
        free(sp);
        return gp_oom(err);
    }
    size_t k = 0;
    for (size_t i = 0; i < n_sp; i++) /* ordered by sweep, then point */
        if (k == 0 || strcmp(out[k - 1], sp[i].sweep) != 0)
            snprintf(out[k++], sizeof(out[0]), "%s", sp[i].sweep);
    free(sp);
    *names = out;
    *n = k;
    return 0;
}

void sweep_summary_free(sweep_summary *s)
{
    for (size_t i = 0; s->pt && i < s->n_points; i++) {
        free(s->pt[i].values);
        free(s->pt[i].m);
    }
    free(s->pt);
    memset(s, 0, sizeof(*s));
}

/* The point's runs into its values: replication r at seed + r (the sweep's own runs). */
static int read_point(results_db *db, sweep_summary *s, sweep_point_summary *p, gp_error *err)
{
    size_t reps = (size_t)s->reps;
    p->values = malloc(sizeof(double) * (size_t)RM_COUNT * (reps + 1));
    p->m = calloc((size_t)RM_COUNT, sizeof(*p->m));
    if (!p->values || !p->m)
        return gp_oom(err);
    for (size_t i = 0; i < (size_t)RM_COUNT * reps; i++)
        p->values[i] = NAN;
    run_summary *runs = NULL;
    size_t n = 0;
    int rc = results_db_read_runs(db, p->exp_id, &runs, &n, err);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        const run_summary *r = &runs[i];
        if (r->replication < 0 || (size_t)r->replication >= reps ||
            (s->recorded && r->seed != s->seed + (uint64_t)r->replication))
            continue;
        p->n++;
        for (int m = 0; m < RM_COUNT; m++)
            p->values[(size_t)m * reps + (size_t)r->replication] =
                run_metric_value((run_metric_id)m, r);
    }
    free(runs);
    for (int m = 0; rc == 0 && m < RM_COUNT; m++)
        p->m[m] = stats_summarize(p->values + (size_t)m * reps, reps);
    return rc;
}

int sweep_summary_read(results_db *db, const char *name, sweep_summary *out, gp_error *err)
{
    memset(out, 0, sizeof(*out));
    snprintf(out->name, sizeof(out->name), "%s", name);
    out->winner = out->runner_up = SIZE_MAX;
    out->p_value = NAN;
    results_db_sweep def;
    int rc = results_db_sweep_get(db, name, &def, err);
    if (rc == GP_EMISSING) {
        gp_error_clear(err); /* a database from before sweeps recorded their objective */
        rc = 0;
    } else if (rc == 0) {
        out->recorded = parse_stored(&out->obj, &def);
        out->reps = def.replications;
        out->seed = def.seed;
    }
    if (rc < 0)
        return rc;
    results_db_sweep_point *sp = NULL;
    size_t n_sp = 0;
    if ((rc = results_db_sweep_points(db, &sp, &n_sp, err)) < 0)
        return rc;
    /* this sweep's points; the file defines how many there are now (an edited sweep may
     * have left more behind) */
    size_t first = SIZE_MAX, count = 0;
    for (size_t i = 0; i < n_sp; i++)
        if (strcmp(sp[i].sweep, name) == 0 &&
            (!out->recorded || sp[i].point < (int64_t)def.n_points)) {
            first = first == SIZE_MAX ? i : first;
            count++;
        }
    if (count == 0) {
        free(sp);
        return gp_error_set(err, GP_EMISSING, results_db_path(db), 0, 0, NULL,
                            "no sweep named '%s' in the database", name);
    }
    if (!out->recorded) { /* the replications from the runs themselves */
        memset(&out->obj, 0, sizeof(out->obj));
        out->reps = 0;
        for (size_t i = first; rc == 0 && i < n_sp; i++) {
            if (strcmp(sp[i].sweep, name) != 0)
                continue;
            run_summary *runs = NULL;
            size_t n = 0;
            rc = results_db_read_runs(db, sp[i].experiment_id, &runs, &n, err);
            for (size_t k = 0; k < n; k++)
                if (runs[k].replication + 1 > out->reps)
                    out->reps = runs[k].replication + 1;
            free(runs);
        }
    }
    out->pt = rc == 0 ? calloc(count, sizeof(*out->pt)) : NULL;
    if (rc == 0 && !out->pt)
        rc = gp_oom(err);
    for (size_t i = first; rc == 0 && i < n_sp; i++) {
        if (strcmp(sp[i].sweep, name) != 0 ||
            (out->recorded && sp[i].point >= (int64_t)def.n_points))
            continue;
        sweep_point_summary *p = &out->pt[out->n_points++];
        p->point = (size_t)sp[i].point;
        p->exp_id = sp[i].experiment_id;
        gp_copy_utf8(p->params, sizeof(p->params), sp[i].params);
        rc = read_point(db, out, p, err);
    }
    free(sp);
    if (rc == 0)
        classify(out);
    else
        sweep_summary_free(out);
    return rc;
}

void sweep_summary_verdict(const sweep_summary *s, FILE *out)
{
    if (!s->recorded) {
        fprintf(out, "winner: not judged: the database has no objective for this sweep\n");
        return;
    }
    if (s->winner == SIZE_MAX) {
        fprintf(out, "winner: none: no point meets the constraints on its mean\n");
        return;
    }
    const run_metric_id ob = s->obj.metric;
    const char *obn = run_metric_get(ob)->name;
    const int dec = run_metric_get(ob)->decimals;
    char a[64];
    const sweep_point_summary *w = &s->pt[s->winner];
    fprintf(out, "winner: p%04zu (%s): %s = %s%s\n", w->point, w->params, obn,
            stats_format(a, sizeof(a), &w->m[ob], dec),
            w->surely ? ", constraints met at the 95% bound"
                      : ", constraints met on the mean only (not at the 95% bound)");
    if (s->runner_up != SIZE_MAX) {
        const sweep_point_summary *r = &s->pt[s->runner_up];
        fprintf(out,
                "  against the runner-up p%04zu (%s): better by %s %s (95%% paired CI over "
                "%zu replications), one-sided p = %.3g: %s\n",
                r->point, r->params, stats_format(a, sizeof(a), &r->vs_winner, dec), obn,
                r->vs_winner.n, s->p_value,
                r->tied ? "not significant: the two are tied within the noise"
                        : "the win is significant");
    }
    fprintf(out,
            "  feasible points compared: %zu; tied with the winner (paired CI includes 0): "
            "%zu\n",
            s->compared, s->ties);
    for (size_t i = 0; i < s->n_points; i++)
        if (s->pt[i].tied)
            fprintf(out, "    tied: p%04zu (difference %s)\n", s->pt[i].point,
                    stats_format(a, sizeof(a), &s->pt[i].vs_winner, dec));
}

int sweep_summary_plot(const sweep_summary *s, const char *prefix, gp_error *err)
{
    size_t drawable = 0;
    for (size_t i = 0; i < s->n_points; i++)
        drawable += !isnan(s->pt[i].m[RM_COST].mean) && !isnan(s->pt[i].m[RM_P99_S].mean);
    if (!drawable)
        return gp_error_set(err, GP_EMISSING, NULL, 0, 0, NULL,
                            "no point of sweep %s has runs yet: nothing to draw", s->name);
    plot_xy *pts = calloc(s->n_points + 1, sizeof(*pts));
    if (!pts)
        return gp_oom(err);
    for (size_t i = 0; i < s->n_points; i++) {
        pts[i].x = s->pt[i].m[RM_COST].mean;
        pts[i].y = s->pt[i].m[RM_P99_S].mean;
        pts[i].flag =
            (s->pt[i].pareto ? 1 : 0) | (s->pt[i].feasible ? 2 : 0) | (s->pt[i].winner ? 4 : 0);
    }
    char title[200];
    snprintf(title, sizeof(title), "sweep %s: Pareto front (cost against P99)", s->name);
    int rc = plot_pareto(prefix, title, pts, s->n_points, err);
    free(pts);
    return rc;
}
