/* html_report.c: the HTML page of a results database (see html_report.h). */
#include "lab/html_report.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/common.h"
#include "base/fileio.h"
#include "base/markup.h"
#include "lab/experiment.h"
#include "lab/plot.h"
#include "lab/report.h"
#include "lab/reproduce.h"
#include "lab/results_db.h"
#include "lab/run_metrics.h"
#include "lab/sweep_summary.h"
#include "policy/policy.h"
#include "sim/stats.h"

#define MAX_LABELS 16

typedef struct page {
    FILE *f;
    const char *assets;
    int pictures;
    int missing;   /* pictures that could not be drawn */
    char why[600]; /* the first reason */
} page;

/* The attributes that say what a picture shows: data-chart and its owner. */
typedef struct fig_attrs {
    char text[700];
} fig_attrs;

static fig_attrs chart_of(const char *chart, const char *key, const char *owner)
{
    fig_attrs a;
    char esc[300];
    snprintf(a.text, sizeof(a.text), " data-chart=\"%s\" %s=\"%s\"", chart, key,
             markup_escape(esc, sizeof(esc), owner));
    return a;
}

/* Inlines PREFIX.svg (without its XML prolog) into the page. */
static int inline_svg(page *p, const char *prefix, const fig_attrs *a, gp_error *err)
{
    char path[1200];
    snprintf(path, sizeof(path), "%s.svg", prefix);
    FILE *s = fopen(path, "rb");
    if (!s)
        return gp_error_set(err, GP_EIO, path, 0, 0, NULL, "cannot read: %s", strerror(errno));
    char *buf = NULL;
    size_t len = 0, cap = 0;
    for (;;) {
        if (len + 4096 + 1 > cap) {
            cap = cap ? cap * 2 : 65536;
            char *nb = realloc(buf, cap);
            if (!nb) {
                free(buf);
                fclose(s);
                return gp_oom(err);
            }
            buf = nb;
        }
        size_t got = fread(buf + len, 1, 4096, s);
        len += got;
        if (got == 0)
            break;
    }
    fclose(s);
    buf[len] = '\0';
    const char *start = strstr(buf, "<svg");
    fprintf(p->f, "<figure%s>", a->text);
    fputs(start ? start : buf, p->f);
    fputs("</figure>\n", p->f);
    free(buf);
    p->pictures++;
    return 0;
}

/* Inlines the picture that rc says was drawn; a missing gnuplot (or nothing to draw) is
 * noted, not fatal. */
static int picture(page *p, const char *prefix, int rc, const fig_attrs *a, gp_error *err)
{
    if (rc == GP_ENOTSUP || rc == GP_EIO || rc == GP_EMISSING) {
        if (!p->missing++)
            snprintf(p->why, sizeof(p->why), "%s", err->msg);
        fprintf(p->f, "<p class=\"missing\"%s>(picture not drawn: ", a->text);
        markup_put(p->f, err->msg);
        fputs(")</p>\n", p->f);
        gp_error_clear(err);
        return 0;
    }
    if (rc < 0)
        return rc;
    return inline_svg(p, prefix, a, err);
}

/* ---------- numbers with their meaning, for the reader and for checks ---------- */

/* A number as an attribute value: exact ("%.17g"), "" for NaN, "inf" / "-inf". */
static void put_num_attr(FILE *f, const char *name, double v)
{
    fprintf(f, " %s=\"", name);
    if (!isnan(v))
        fprintf(f, "%.17g", v);
    fputc('"', f);
}

/* <td data-metric=NAME data-mean data-hw>mean ± half-width</td> */
static void stat_cell(FILE *f, const char *metric, const stat_summary *s, int decimals)
{
    char buf[64];
    fputs("<td", f);
    if (metric)
        fprintf(f, " data-metric=\"%s\"", metric);
    put_num_attr(f, "data-mean", s->mean);
    put_num_attr(f, "data-hw", s->half_width);
    fputc('>', f);
    markup_put(f, stats_format(buf, sizeof(buf), s, decimals));
    fputs("</td>", f);
}

/* ---------- an experiment: its table ---------- */

/* The experiment's currency (cluster.currency, or set on top of the file), for the cost
 * column, from the experiment as the database keeps it; "" when it cannot be read again
 * (then the cost column names no currency rather than a wrong one). */
static void experiment_currency(results_db *db, const char *db_path, int64_t exp_id, char *out,
                                size_t cap)
{
    out[0] = '\0';
    results_db_inputs in;
    gp_error e;
    gp_error_clear(&e);
    if (results_db_inputs_of(db, exp_id, &in, &e) < 0)
        return;
    char name[1200];
    snprintf(name, sizeof(name), "%s (in %s)", in.file ? in.file : "experiment", db_path);
    experiment *x = NULL;
    if (experiment_load_stored(&in, name, &x, &e) == 0)
        snprintf(out, cap, "%s", x->currency);
    experiment_free(x);
    results_db_inputs_free(&in);
}

/* <th>heading unit</th> of a run metric, the cost's in `currency` (none when ""). */
static void metric_th(FILE *f, const run_metric *m, const char *currency)
{
    char label[128];
    fputs("<th>", f);
    markup_put(f, run_metric_label(m, currency, label, sizeof(label)));
    fputs("</th>", f);
}

/* Every run metric (run_metrics.h), in the table's order, for each label. */
static void experiment_table(page *p, const char *name, const char *currency, const report_group *g,
                             size_t ng)
{
    FILE *f = p->f;
    size_t nm;
    const run_metric *mt = run_metric_table(&nm);
    fputs("<table class=\"runs\" data-experiment=\"", f);
    markup_put(f, name);
    fputs("\"><thead><tr><th>label</th><th>policy</th><th>n</th>", f);
    for (size_t m = 0; m < nm; m++)
        metric_th(f, &mt[m], currency);
    fputs("</tr></thead><tbody>\n", f);
    for (size_t k = 0; k < ng; k++) {
        fputs("<tr data-label=\"", f);
        markup_put(f, g[k].label);
        fputs("\" data-policy=\"", f);
        markup_put(f, g[k].policy);
        fprintf(f, "\" data-n=\"%zu\"><td>", g[k].n);
        markup_put(f, g[k].label);
        fputs("</td><td>", f);
        markup_put(f, g[k].policy);
        fprintf(f, "</td><td>%zu</td>", g[k].n);
        for (size_t m = 0; m < nm; m++)
            stat_cell(f, mt[m].name, &g[k].s[m], mt[m].decimals);
        fputs("</tr>\n", f);
    }
    fputs("</tbody></table>\n<p class=\"note\">mean &plusmn; 95% CI half-width (Student t) over "
          "replications; each column as lab/run_metrics.h derives it</p>\n",
          f);
}

/* ---------- an experiment: its pictures (replication 0) ---------- */

typedef struct label_data {
    char label[64];
    run_series series;
    request_log log;
} label_data;

/* Series values per scrape for one chart. */
enum { CH_LOAD, CH_PODS, CH_QUEUE };

static double series_value(int chart, const series_row *r)
{
    return chart == CH_LOAD ? r->arrival_rate_per_s
           : chart == CH_PODS
               ? (double)(r->pods[POD_STARTING] + r->pods[POD_READY] + r->pods[POD_DRAINING])
               : r->queue_len;
}

/* Load, pods and queue over the day; the latency over the day (P50 and P99 per scrape). */
static int time_charts(page *p, const char *name, const char *base, const label_data *d, size_t nl,
                       size_t maxn, double *buf, gp_error *err)
{
    plot_line lines[2 * MAX_LABELS];
    char prefix[1200], title[256];
    int rc = 0;
    double *x = buf, *y = buf + 2 * nl * (maxn + 1);
    static const char *const what[] = {"load", "pods", "queue"};
    static const char *const ylab[] = {"arrivals per second (per scrape)",
                                       "pods billed (starting + ready + draining)",
                                       "requests waiting (LLEN gpen:pending)"};
    for (int chart = CH_LOAD; rc == 0 && chart <= CH_QUEUE; chart++) {
        /* the load is the same for every policy (common random numbers): one line */
        size_t nlines = chart == CH_LOAD ? (nl > 0) : nl;
        for (size_t l = 0; l < nlines; l++) {
            double *xl = x + l * (maxn + 1), *yl = y + l * (maxn + 1);
            const run_series *s = &d[l].series;
            for (size_t i = 0; i < s->n; i++) {
                xl[i] = (double)s->row[i].t_us / (double)US_PER_H;
                yl[i] = series_value(chart, &s->row[i]);
            }
            lines[l] = (plot_line){.name = d[l].label, .x = xl, .y = yl, .n = s->n};
        }
        snprintf(title, sizeof(title), "%s: %s over time (replication 0)", name, what[chart]);
        plot_spec spec = {.title = title,
                          .xlabel = "hours",
                          .ylabel = ylab[chart],
                          .style = chart == CH_PODS ? PLOT_STEPS : PLOT_LINES,
                          .y_from_zero = true,
                          .x_hours = true};
        snprintf(prefix, sizeof(prefix), "%s-%s", base, what[chart]);
        fig_attrs a = chart_of(what[chart], "data-experiment", name);
        rc = picture(p, prefix, plot_lines(prefix, &spec, lines, nlines, err), &a, err);
    }
    if (rc < 0)
        return rc;
    /* latency per scrape, as the policies saw it (over the metrics window): every P50 as
     * dots first, then every P99 as a line on top; one colour per policy */
    char names[2 * MAX_LABELS][80];
    for (int q = 0; q < 2; q++)
        for (size_t l = 0; l < nl; l++) {
            const run_series *s = &d[l].series;
            size_t k = (size_t)q * nl + l;
            double *xl = x + k * (maxn + 1), *yl = y + k * (maxn + 1);
            for (size_t i = 0; i < s->n; i++) {
                xl[i] = (double)s->row[i].t_us / (double)US_PER_H;
                yl[i] = q == 0 ? s->row[i].lat_p50_s : s->row[i].lat_p99_s;
            }
            snprintf(names[k], sizeof(names[k]), "%.63s %s", d[l].label, q == 0 ? "P50" : "P99");
            lines[k] = (plot_line){.name = names[k],
                                   .x = xl,
                                   .y = yl,
                                   .n = s->n,
                                   .colour = (int)(l % 8) + 1,
                                   .dots = q == 0};
        }
    snprintf(title, sizeof(title),
             "%s: latency over time per scrape, P99 (lines) and P50 (dots), "
             "replication 0",
             name);
    plot_spec spec = {.title = title,
                      .xlabel = "hours",
                      .ylabel = "latency over the metrics window (s, log scale)",
                      .style = PLOT_LINES,
                      .x_hours = true,
                      .y_log = true};
    snprintf(prefix, sizeof(prefix), "%s-latency", base);
    fig_attrs a = chart_of("latency", "data-experiment", name);
    return picture(p, prefix, plot_lines(prefix, &spec, lines, 2 * nl, err), &a, err);
}

/* GPU utilisation per hour (busy / billed), then cold starts per hour. */
static int hour_charts(page *p, const char *name, const char *base, const label_data *d, size_t nl,
                       bool have_req, double *buf, gp_error *err)
{
    size_t hours = 0;
    for (size_t l = 0; l < nl; l++)
        if (d[l].series.n)
            hours =
                (size_t)fmax((double)hours, ceil((double)d[l].series.row[d[l].series.n - 1].t_us /
                                                 (double)US_PER_H));
    if (hours == 0 || hours > 24 * 31)
        return 0;
    plot_line lines[MAX_LABELS];
    char prefix[1200], title[256];
    double *hx = buf, *hy = buf + nl * (hours + 1);
    for (size_t l = 0; l < nl; l++) {
        double *xl = hx + l * (hours + 1), *yl = hy + l * (hours + 1);
        for (size_t h = 0; h < hours; h++) {
            double busy = 0, billed = 0;
            for (size_t i = 0; i < d[l].series.n; i++) {
                const series_row *r = &d[l].series.row[i];
                if ((size_t)((double)r->t_us / (double)US_PER_H) != h)
                    continue;
                busy += isnan(r->gpu_util_frac) ? 0 : r->gpu_util_frac * r->pods[POD_READY];
                billed += r->pods[POD_STARTING] + r->pods[POD_READY] + r->pods[POD_DRAINING];
            }
            xl[h] = (double)h;
            yl[h] = billed > 0 ? 100.0 * busy / billed : NAN;
        }
        lines[l] = (plot_line){.name = d[l].label, .x = xl, .y = yl, .n = hours};
    }
    snprintf(title, sizeof(title), "%s: GPU utilisation per hour (busy / billed, replication 0)",
             name);
    plot_spec spec = {.title = title,
                      .xlabel = "hour",
                      .ylabel = "GPU utilisation (%)",
                      .style = PLOT_BOXES,
                      .y_from_zero = true,
                      .y_max = 100};
    snprintf(prefix, sizeof(prefix), "%s-util", base);
    fig_attrs a = chart_of("util", "data-experiment", name);
    int rc = picture(p, prefix, plot_lines(prefix, &spec, lines, nl, err), &a, err);
    /* cold starts per hour: requests that waited on one (request rows), else pod starts
     * estimated from the scrapes (rises of pending + starting + ready) */
    for (size_t l = 0; rc == 0 && l < nl; l++) {
        double *xl = hx + l * (hours + 1), *yl = hy + l * (hours + 1);
        for (size_t h = 0; h < hours; h++) {
            xl[h] = (double)h;
            yl[h] = 0;
        }
        if (have_req) {
            for (size_t i = 0; i < d[l].log.n; i++) {
                size_t h = (size_t)((double)d[l].log.row[i].arrival_us / (double)US_PER_H);
                if (h < hours && d[l].log.row[i].cold)
                    yl[h]++;
            }
        } else {
            for (size_t i = 1; i < d[l].series.n; i++) {
                const series_row *a0 = &d[l].series.row[i - 1], *b0 = &d[l].series.row[i];
                int up = (b0->pods[POD_PENDING] + b0->pods[POD_STARTING] + b0->pods[POD_READY]) -
                         (a0->pods[POD_PENDING] + a0->pods[POD_STARTING] + a0->pods[POD_READY]);
                size_t h = (size_t)((double)b0->t_us / (double)US_PER_H);
                if (up > 0 && h < hours)
                    yl[h] += up;
            }
        }
        lines[l] = (plot_line){.name = d[l].label, .x = xl, .y = yl, .n = hours};
    }
    if (rc < 0)
        return rc;
    snprintf(title, sizeof(title), "%s: %s per hour (replication 0)", name,
             have_req ? "requests that waited on a cold start" : "pod starts (from the scrapes)");
    spec = (plot_spec){.title = title,
                       .xlabel = "hour",
                       .ylabel = have_req ? "cold-start waits" : "pods started",
                       .style = PLOT_BOXES,
                       .y_from_zero = true};
    snprintf(prefix, sizeof(prefix), "%s-cold", base);
    a = chart_of("cold", "data-experiment", name);
    return picture(p, prefix, plot_lines(prefix, &spec, lines, nl, err), &a, err);
}

/* The latency CDF of completed requests, on a log axis of 200 points. */
static int cdf_chart(page *p, const char *name, const char *base, const label_data *d, size_t nl,
                     double *buf, gp_error *err)
{
    plot_line lines[MAX_LABELS];
    size_t pts = 200;
    double *cx = buf, *cy = buf + nl * (pts + 1);
    for (size_t l = 0; l < nl; l++) {
        double *xl = cx + l * (pts + 1), *yl = cy + l * (pts + 1);
        uint64_t total = 0;
        for (size_t i = 0; i < d[l].log.n; i++)
            total += d[l].log.row[i].outcome == OUTCOME_COMPLETED;
        for (size_t k = 0; k < pts; k++) {
            double t = 0.1 * pow(10, 2.6 * (double)k / (double)(pts - 1)); /* 0.1..40 s */
            uint64_t below = 0;
            for (size_t i = 0; i < d[l].log.n; i++) {
                const request_row *q = &d[l].log.row[i];
                below += q->outcome == OUTCOME_COMPLETED &&
                         (double)(q->end_us - q->arrival_us) / (double)US_PER_S <= t;
            }
            xl[k] = t;
            yl[k] = total ? (double)below / (double)total : NAN;
        }
        lines[l] = (plot_line){.name = d[l].label, .x = xl, .y = yl, .n = pts};
    }
    char title[256], prefix[1200];
    snprintf(title, sizeof(title), "%s: latency CDF of completed requests (replication 0)", name);
    plot_spec spec = {.title = title,
                      .xlabel = "latency (s)",
                      .ylabel = "fraction answered within",
                      .style = PLOT_LINES,
                      .y_from_zero = true,
                      .y_max = 1};
    snprintf(prefix, sizeof(prefix), "%s-cdf", base);
    fig_attrs a = chart_of("cdf", "data-experiment", name);
    return picture(p, prefix, plot_lines(prefix, &spec, lines, nl, err), &a, err);
}

/* The cost of each policy: its mean over replications with the 95% interval. */
static int cost_chart(page *p, const char *name, const char *base, const char *currency,
                      const report_group *g, size_t nl, gp_error *err)
{
    const char *names[MAX_LABELS];
    double mean[MAX_LABELS], hw[MAX_LABELS];
    size_t n = nl < MAX_LABELS ? nl : MAX_LABELS;
    for (size_t l = 0; l < n; l++) {
        names[l] = g[l].label;
        mean[l] = g[l].s[RM_COST].mean;
        hw[l] = g[l].s[RM_COST].half_width;
    }
    char title[256], prefix[1200], ylabel[128];
    snprintf(title, sizeof(title), "%s: cost per policy (mean over replications, 95%% CI)", name);
    snprintf(ylabel, sizeof(ylabel), "cost%s%s (GPU-hours billed x price per GPU-hour)",
             currency[0] ? ", " : "", currency);
    plot_spec spec = {.title = title, .xlabel = "policy", .ylabel = ylabel, .y_from_zero = true};
    snprintf(prefix, sizeof(prefix), "%s-cost", base);
    fig_attrs a = chart_of("cost", "data-experiment", name);
    return picture(p, prefix, plot_bars(prefix, &spec, names, mean, hw, n, err), &a, err);
}

static int experiment_pictures(page *p, results_db *db, int64_t exp_id, const char *name,
                               const char *currency, const run_summary *runs, size_t n,
                               const report_group *g, size_t n_labels, gp_error *err)
{
    label_data d[MAX_LABELS];
    size_t nl = 0;
    int rc = 0;
    for (size_t i = 0; i < n && nl < MAX_LABELS; i++) {
        if (runs[i].replication != 0)
            continue;
        label_data *x = &d[nl];
        memset(x, 0, sizeof(*x));
        snprintf(x->label, sizeof(x->label), "%s", runs[i].label);
        char key[256];
        results_db_run_key(key, sizeof(key), exp_id, runs[i].label, 0, runs[i].seed);
        nl++;
        if ((rc = results_db_read_series(db, key, &x->series, err)) < 0 ||
            (rc = results_db_read_requests(db, key, &x->log, err)) < 0)
            break;
    }
    size_t maxn = 0;
    bool have_series = false, have_req = false;
    for (size_t l = 0; l < nl; l++) {
        maxn = d[l].series.n > maxn ? d[l].series.n : maxn;
        have_series |= d[l].series.n > 0;
        have_req |= d[l].log.n > 0;
    }
    /* room for 2 lines per label of maxn points, or of 24 x 31 hours, or 200 points */
    size_t per_line = (maxn > 24 * 31 + 1 ? maxn : 24 * 31 + 1) + 201;
    double *buf = rc == 0 ? malloc(sizeof(double) * 4 * (nl + 1) * per_line) : NULL;
    if (rc == 0 && !buf)
        rc = gp_oom(err);
    char base[1024], sname[128];
    gp_safe_file_name(sname, sizeof(sname), name);
    snprintf(base, sizeof(base), "%s/%s", p->assets, sname);
    if (rc == 0 && have_series)
        rc = time_charts(p, name, base, d, nl, maxn, buf, err);
    if (rc == 0 && have_series)
        rc = hour_charts(p, name, base, d, nl, have_req, buf, err);
    if (rc == 0 && have_req)
        rc = cdf_chart(p, name, base, d, nl, buf, err);
    if (rc == 0)
        rc = cost_chart(p, name, base, currency, g, n_labels, err);
    free(buf);
    for (size_t l = 0; l < nl; l++) {
        run_series_free(&d[l].series);
        request_log_free(&d[l].log);
    }
    return rc;
}

/* ---------- the sweeps: points, feasibility, the winner, the front (sweep_summary.h) ---------- */

/* The run metrics the sweep table shows beside the objective. */
static const run_metric_id sweep_shown[] = {RM_GPU_HOURS, RM_COST, RM_P99_S, RM_SLO_PCT};
#define N_SWEEP_SHOWN (sizeof(sweep_shown) / sizeof(sweep_shown[0]))

static void sweep_section(page *p, const sweep_summary *s, const char *currency)
{
    FILE *f = p->f;
    fputs("<h2>sweep ", f);
    markup_put(f, s->name);
    fprintf(f, " (%zu points x %d replications)</h2>\n<p>", s->n_points, s->reps);
    char buf[1200];
    const run_metric *ob = s->recorded ? run_metric_get(s->obj.metric) : NULL;
    if (s->recorded) {
        fputs("objective: ", f);
        markup_put(f, winner_objective_describe(&s->obj, buf, sizeof(buf)));
        fputs(". Feasible: the constraints hold on the mean over replications (&ldquo;at the "
              "95% bound&rdquo; when they hold for the whole interval).</p>\n",
              f);
    } else {
        fputs("This sweep's objective and constraints are not in the database (it was run "
              "before gpenlab recorded them): rerun <code>gpenlab sweep FILE --report-only</code> "
              "to judge its points.</p>\n",
              f);
    }
    const char *objective = ob ? ob->name : "-";
    fputs("<table class=\"sweep\" data-sweep=\"", f);
    markup_put(f, s->name);
    fprintf(f,
            "\" data-objective=\"%s\" data-sense=\"%s\"><thead><tr><th>point</th>"
            "<th>parameters</th><th>objective: %s</th><th>feasible</th>",
            objective, s->obj.maximise ? "maximise" : "minimise", objective);
    for (size_t c = 0; c < N_SWEEP_SHOWN; c++)
        metric_th(f, run_metric_get(sweep_shown[c]), currency);
    fputs("<th>against the winner (paired 95% CI)</th><th>winner</th><th>Pareto</th></tr>"
          "</thead><tbody>\n",
          f);
    for (size_t i = 0; i < s->n_points; i++) {
        const sweep_point_summary *pt = &s->pt[i];
        fprintf(f,
                "<tr data-point=\"%zu\" data-feasible=\"%d\" data-surely=\"%d\" "
                "data-pareto=\"%d\" data-winner=\"%d\"><td>p%04zu</td><td>",
                pt->point, pt->feasible, pt->surely, pt->pareto, pt->winner, pt->point);
        markup_put(f, pt->params);
        fputs("</td>", f);
        if (ob)
            stat_cell(f, NULL, &pt->m[ob->id], ob->decimals);
        else
            fputs("<td>-</td>", f);
        fputs("<td>", f);
        if (!s->recorded)
            fputs("-", f);
        else if (pt->feasible)
            fputs(pt->surely ? "yes" : "yes (on the mean)", f);
        else {
            fputs("no: ", f);
            markup_put(f, pt->why_not);
        }
        fputs("</td>", f);
        for (size_t c = 0; c < N_SWEEP_SHOWN; c++) {
            const run_metric *m = run_metric_get(sweep_shown[c]);
            stat_cell(f, m->name, &pt->m[m->id], m->decimals);
        }
        if (ob && pt->vs_winner.n > 0) {
            fputs("<td", f);
            put_num_attr(f, "data-mean", pt->vs_winner.mean);
            put_num_attr(f, "data-hw", pt->vs_winner.half_width);
            fprintf(f, ">%s%s</td>",
                    markup_escape(buf, sizeof(buf),
                                  stats_format(buf + 600, 64, &pt->vs_winner, ob->decimals)),
                    pt->tied ? " (tied)" : "");
        } else {
            fputs("<td></td>", f);
        }
        fprintf(f, "<td>%s</td><td>%s</td></tr>\n", pt->winner ? "winner" : "",
                pt->pareto ? "yes" : "");
    }
    fputs("</tbody></table>\n<p class=\"verdict\">", f);
    char *verdict = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&verdict, &len);
    if (m) {
        sweep_summary_verdict(s, m);
        if (fclose(m) == 0)
            markup_put(f, verdict);
    }
    free(verdict);
    fputs("</p>\n<p class=\"note\">against the winner: the paired difference on the objective "
          "over the same seeds (common random numbers), positive where the winner is better</p>\n",
          f);
}

/* The currency of the sweep's costs: its points' (they share the base experiment); ""
 * when a point's cannot be read or the points differ. */
static void sweep_currency(results_db *db, const char *db_path, const sweep_summary *s, char *out,
                           size_t cap)
{
    out[0] = '\0';
    for (size_t i = 0; i < s->n_points; i++) {
        char c[32];
        experiment_currency(db, db_path, s->pt[i].exp_id, c, sizeof(c));
        if (!c[0] || (i > 0 && strcmp(c, out) != 0)) {
            out[0] = '\0';
            return;
        }
        snprintf(out, cap, "%s", c);
    }
}

static int sweep_sections(page *p, results_db *db, const char *db_path, gp_error *err)
{
    char(*names)[128] = NULL;
    size_t n = 0;
    int rc = sweep_summary_names(db, &names, &n, err);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        sweep_summary s;
        if ((rc = sweep_summary_read(db, names[i], &s, err)) < 0)
            break;
        char currency[32];
        sweep_currency(db, db_path, &s, currency, sizeof(currency));
        sweep_section(p, &s, currency);
        char prefix[1200], sname[128];
        gp_safe_file_name(sname, sizeof(sname), s.name);
        snprintf(prefix, sizeof(prefix), "%s/sweep-%s-pareto", p->assets, sname);
        fig_attrs a = chart_of("pareto", "data-sweep", s.name);
        if (s.winner != SIZE_MAX) {
            size_t u = strlen(a.text);
            snprintf(a.text + u, sizeof(a.text) - u, " data-winner=\"p%04zu\"",
                     s.pt[s.winner].point);
        }
        rc = picture(p, prefix, sweep_summary_plot(&s, prefix, err), &a, err);
        sweep_summary_free(&s);
    }
    free(names);
    return rc;
}

/* ---------- the seed article's tables beside gpenlab's (reproduce.h) ---------- */

static void article_section(page *p, const reproduce_result *r)
{
    FILE *f = p->f;
    fputs("<h2>The article's tables beside gpenlab's</h2>\n<p>", f);
    fputs("The article's figures (docs/seed-article.md) beside gpenlab's on ", f);
    markup_put(f, r->card);
    fputs(" (", f);
    markup_put(f, r->provenance);
    fputs("): mean &plusmn; 95% CI half-width over replications (", f);
    markup_put(f, r->replications);
    fputs("). <b>within CI?</b>: the article's figure, as the interval it states (its "
          "rounding, range or bound), meets gpenlab's interval.</p>\n",
          f);
    for (int t = 0; t < REPRODUCE_TABLES; t++) {
        const reproduce_table *tb = &r->table[t];
        const char *title = tb->title;
        while (*title == ' ')
            title++;
        fputs("<h3>", f);
        markup_put(f, title);
        fprintf(f,
                "</h3>\n<table class=\"article\" data-article-table=\"%d\"><thead><tr>"
                "<th>row</th><th>column</th><th>article</th><th>gpenlab (mean)</th>"
                "<th>95%% CI</th><th>within CI?</th><th>difference</th><th>note</th></tr>"
                "</thead><tbody>\n",
                t);
        for (size_t i = 0; i < tb->n; i++) {
            const reproduce_row *row = &tb->row[i];
            const char *within = reproduce_within(row);
            fputs("<tr data-row-id=\"", f);
            markup_put(f, row->id);
            fputc('"', f);
            put_num_attr(f, "data-article-lo", row->article_lo);
            put_num_attr(f, "data-article-hi", row->article_hi);
            put_num_attr(f, "data-mean", row->got.n ? row->got.mean : NAN);
            put_num_attr(f, "data-hw", row->got.n ? row->got.half_width : NAN);
            fprintf(f, " data-within=\"%s\"><td>", within);
            markup_put(f, row->row);
            fputs("</td><td>", f);
            markup_put(f, row->column);
            fputs("</td><td>", f);
            markup_put(f, row->article);
            bool have = row->got.n > 0 && !isnan(row->got.mean);
            if (have)
                fprintf(f, "</td><td>%.*f</td><td>", row->decimals, row->got.mean);
            else
                fputs("</td><td>-</td><td>", f);
            if (have && !isnan(row->got.half_width))
                fprintf(f, "&plusmn; %.*f", row->decimals, row->got.half_width);
            fprintf(f, "</td><td class=\"%s\">%s</td><td>",
                    strcmp(within, "yes") == 0  ? "yes"
                    : strcmp(within, "no") == 0 ? "no"
                                                : "",
                    within);
            if (have && !isnan(row->article_value))
                fprintf(f, "%+.*f", row->decimals, row->got.mean - row->article_value);
            fputs("</td><td>", f);
            markup_put(f, row->note);
            fputs("</td></tr>\n", f);
        }
        fputs("</tbody></table>\n", f);
        if (tb->notes) {
            fputs("<pre class=\"notes\">", f);
            markup_put(f, tb->notes);
            fputs("</pre>\n", f);
        }
    }
}

static const char css[] =
    "body{font-family:sans-serif;margin:2em;max-width:1100px;color:#222}"
    "table{border-collapse:collapse;margin:1em 0;font-size:90%}"
    "th,td{border:1px solid #ccc;padding:3px 8px;text-align:right}"
    "th{background:#eee}td:first-child,td:nth-child(2){text-align:left}"
    "td{white-space:nowrap}td:first-child,td:last-child{white-space:normal}"
    "figure{margin:1em 0}figure svg{max-width:100%;height:auto}"
    ".note{color:#666;font-size:85%}.missing{color:#a00}"
    "td.yes{background:#e3f2e3}td.no{background:#f8e0e0}"
    "pre.notes{white-space:pre-wrap;font-size:85%;color:#444}.verdict{white-space:pre-line}";

int html_report_write(const html_report_opts *o, int *n_pictures, gp_error *err)
{
    results_db *db = NULL;
    int rc = results_db_open_read(o->db_path, &db, err);
    if (rc < 0)
        return rc;
    char tmpl[600] = "";
    const char *assets = o->assets_dir;
    if (!assets) {
        const char *t = getenv("TMPDIR");
        snprintf(tmpl, sizeof(tmpl), "%s/gpenlab-report-XXXXXX", t && t[0] ? t : "/tmp");
        if (!mkdtemp(tmpl)) {
            int e = errno;
            results_db_close(db);
            return gp_error_set(err, GP_EIO, tmpl, 0, 0, NULL, "cannot make a directory: %s",
                                strerror(e));
        }
        assets = tmpl;
    } else if (mkdir(assets, 0777) < 0 && errno != EEXIST) {
        results_db_close(db);
        return gp_error_set(err, GP_EIO, assets, 0, 0, NULL, "cannot make the directory: %s",
                            strerror(errno));
    }
    char tmp_out[1200];
    snprintf(tmp_out, sizeof(tmp_out), "%s.tmp.%ld", o->out_path, (long)getpid());
    FILE *f = fopen(tmp_out, "w");
    if (!f) {
        results_db_close(db);
        return gp_error_set(err, GP_EIO, o->out_path, 0, 0, NULL, "cannot write: %s",
                            strerror(errno));
    }
    page p = {.f = f, .assets = assets};
    char title[600];
    snprintf(title, sizeof(title), "%s%s",
             o->title ? "" : "gpenlab report: ", o->title ? o->title : o->db_path);
    fputs("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>", f);
    markup_put(f, title);
    fprintf(f, "</title><style>%s</style></head><body>\n<h1>", css);
    markup_put(f, title);
    fputs("</h1>\n", f);
    if (o->article)
        article_section(&p, o->article);
    results_db_experiment *xs = NULL;
    size_t n_xs = 0;
    rc = results_db_experiments(db, &xs, &n_xs, err);
    for (size_t k = 0; rc == 0 && k < n_xs; k++) {
        int64_t id = xs[k].id;
        const char *name = xs[k].name, *file = xs[k].file;
        run_summary *runs = NULL;
        size_t n = 0;
        if ((rc = results_db_read_runs(db, id, &runs, &n, err)) < 0)
            break;
        if (n > 0) {
            fputs("<h2>", f);
            markup_put(f, name);
            fputs("</h2>\n<p class=\"note\">", f);
            markup_put(f, file);
            fputs("</p>\n", f);
            report_group *g = NULL;
            size_t ng = 0;
            char currency[32];
            experiment_currency(db, o->db_path, id, currency, sizeof(currency));
            rc = report_group_runs(runs, n, &g, &ng, err);
            if (rc == 0) {
                experiment_table(&p, name, currency, g, ng);
                rc = experiment_pictures(&p, db, id, name, currency, runs, n, g, ng, err);
            }
            free(g);
        }
        free(runs);
    }
    free(xs);
    if (rc == 0)
        rc = sweep_sections(&p, db, o->db_path, err);
    fprintf(f,
            "<p class=\"note\">%d pictures inlined as SVG%s%s; drawn by gnuplot from %s</p>\n"
            "</body></html>\n",
            p.pictures, p.missing ? "; some not drawn: " : "", p.missing ? p.why : "", o->db_path);
    int bad = ferror(f);
    if (fclose(f) != 0)
        bad = 1;
    if (rc == 0 && (bad || rename(tmp_out, o->out_path) != 0))
        rc =
            gp_error_set(err, GP_EIO, o->out_path, 0, 0, NULL, "cannot write: %s", strerror(errno));
    if (rc < 0)
        unlink(tmp_out);
    if (tmpl[0]) /* the temporary pictures; leftovers there are harmless */
        (void)gp_remove_tree(tmpl, NULL);
    results_db_close(db);
    if (n_pictures)
        *n_pictures = p.pictures;
    return rc;
}
