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
#include "base/text.h"
#include "lab/plot.h"
#include "lab/report.h"
#include "lab/results_db.h"
#include "policy/policy.h"
#include "sim/stats.h"

#define MAX_LABELS 16

static void put_html(FILE *f, const char *s)
{
    for (; *s; s++) {
        if (*s == '<')
            fputs("&lt;", f);
        else if (*s == '>')
            fputs("&gt;", f);
        else if (*s == '&')
            fputs("&amp;", f);
        else if (*s == '"')
            fputs("&quot;", f);
        else
            fputc(*s, f);
    }
}

typedef struct page {
    FILE *f;
    const char *assets;
    int pictures;
    int missing;       /* pictures that could not be drawn */
    char why[600];     /* the first reason */
} page;

/* Inlines PREFIX.svg (without its XML prolog) into the page. */
static int inline_svg(page *p, const char *prefix, gp_error *err)
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
    fputs("<figure>", p->f);
    fputs(start ? start : buf, p->f);
    fputs("</figure>\n", p->f);
    free(buf);
    p->pictures++;
    return 0;
}

/* Draws (via fn) and inlines; a missing gnuplot is noted, not fatal. */
static int picture(page *p, const char *prefix, int rc, gp_error *err)
{
    if (rc == GP_ENOTSUP || rc == GP_EIO) {
        if (!p->missing++)
            snprintf(p->why, sizeof(p->why), "%s", err->msg);
        fputs("<p class=\"missing\">(picture not drawn: ", p->f);
        put_html(p->f, err->msg);
        fputs(")</p>\n", p->f);
        gp_error_clear(err);
        return 0;
    }
    if (rc < 0)
        return rc;
    return inline_svg(p, prefix, err);
}

static void table_row_stat(FILE *f, const stat_summary *s, int decimals)
{
    char buf[64];
    fputs("<td>", f);
    put_html(f, stats_format(buf, sizeof(buf), s, decimals));
    fputs("</td>", f);
}

static int experiment_table(page *p, const run_summary *runs, size_t n, gp_error *err)
{
    report_group *g = NULL;
    size_t ng = 0;
    int rc = report_group_runs(runs, n, &g, &ng, err);
    if (rc < 0)
        return rc;
    fputs("<table><thead><tr><th>label</th><th>policy</th><th>n</th><th>mean (s)</th>"
          "<th>P50 (s)</th><th>P95 (s)</th><th>P99 (s)</th><th>SLO (%)</th><th>timeouts</th>"
          "<th>pod starts</th><th>cold waits</th><th>GPU-h</th><th>util (%)</th></tr></thead>"
          "<tbody>\n",
          p->f);
    for (size_t k = 0; k < ng; k++) {
        fputs("<tr><td>", p->f);
        put_html(p->f, g[k].label);
        fputs("</td><td>", p->f);
        put_html(p->f, g[k].policy);
        fprintf(p->f, "</td><td>%zu</td>", g[k].n);
        table_row_stat(p->f, &g[k].s[RM_MEAN_S], 3);
        table_row_stat(p->f, &g[k].s[RM_P50_S], 3);
        table_row_stat(p->f, &g[k].s[RM_P95_S], 3);
        table_row_stat(p->f, &g[k].s[RM_P99_S], 3);
        table_row_stat(p->f, &g[k].s[RM_SLO_PCT], 2);
        table_row_stat(p->f, &g[k].s[RM_TIMED_OUT], 1);
        table_row_stat(p->f, &g[k].s[RM_POD_STARTS], 1);
        table_row_stat(p->f, &g[k].s[RM_COLD_WAITED], 1);
        table_row_stat(p->f, &g[k].s[RM_GPU_HOURS], 2);
        table_row_stat(p->f, &g[k].s[RM_UTIL_PCT], 1);
        fputs("</tr>\n", p->f);
    }
    fputs("</tbody></table>\n<p class=\"note\">mean &plusmn; 95% CI half-width (Student t) over "
          "replications</p>\n",
          p->f);
    free(g);
    return 0;
}

/* Replication 0 of each label: its series and (if kept) its requests. */
typedef struct label_data {
    char label[64];
    run_series series;
    request_log log;
} label_data;

static int experiment_pictures(page *p, results_db *db, int64_t exp_id, const char *name,
                               const run_summary *runs, size_t n, gp_error *err)
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
        maxn = d[l].log.n > maxn ? d[l].log.n : maxn;
        have_series |= d[l].series.n > 0;
        have_req |= d[l].log.n > 0;
    }
    double *buf = rc == 0 ? malloc(sizeof(double) * (2 * nl * (maxn + 48) + 1)) : NULL;
    if (rc == 0 && !buf)
        rc = gp_oom(err);
    char base[1024], prefix[1200];
    char sname[128];
    gp_safe_file_name(sname, sizeof(sname), name);
    snprintf(base, sizeof(base), "%s/%s", p->assets, sname);
    plot_line lines[MAX_LABELS];
    if (rc == 0 && have_series) {
        /* 1. load and pods over the day */
        double *x = buf, *y = buf + nl * (maxn + 1);
        for (int chart = 0; rc == 0 && chart < 3; chart++) {
            size_t nlines = 0;
            for (size_t l = 0; l < nl; l++) {
                if (chart == 0 && l > 0)
                    break; /* the load is the same for every policy (common random numbers) */
                double *xl = x + l * (maxn + 1), *yl = y + l * (maxn + 1);
                const run_series *s = &d[l].series;
                for (size_t i = 0; i < s->n; i++) {
                    const series_row *r = &s->row[i];
                    xl[i] = (double)r->t_us / US_PER_H;
                    yl[i] = chart == 0   ? r->arrival_rate_per_s
                            : chart == 1 ? (double)(r->pods[POD_STARTING] + r->pods[POD_READY] +
                                                    r->pods[POD_DRAINING])
                                         : r->queue_len;
                }
                lines[nlines++] = (plot_line){d[l].label, xl, yl, s->n};
            }
            static const char *const what[] = {"load", "pods", "queue"};
            static const char *const ylab[] = {"arrivals per second (per scrape)",
                                               "pods billed (starting + ready + draining)",
                                               "requests waiting (LLEN gpen:pending)"};
            char title[256];
            snprintf(title, sizeof(title), "%s: %s over time (replication 0)", name, what[chart]);
            plot_spec spec = {.title = title, .xlabel = "hours", .ylabel = ylab[chart],
                              .style = chart == 1 ? PLOT_STEPS : PLOT_LINES, .y_from_zero = true,
                              .x_hours = true};
            snprintf(prefix, sizeof(prefix), "%s-%s", base, what[chart]);
            rc = picture(p, prefix, plot_lines(prefix, &spec, lines, nlines, err), err);
        }
        /* 4. GPU utilisation per hour: busy pods / billed pods, averaged over the hour */
        size_t hours = 0;
        for (size_t l = 0; l < nl; l++)
            if (d[l].series.n)
                hours = (size_t)fmax((double)hours,
                                     ceil((double)d[l].series.row[d[l].series.n - 1].t_us / US_PER_H));
        if (hours > 0 && hours <= 24 * 31 && rc == 0) {
            double *hx = buf, *hy = buf + nl * (hours + 1);
            for (size_t l = 0; l < nl; l++) {
                double *xl = hx + l * (hours + 1), *yl = hy + l * (hours + 1);
                for (size_t h = 0; h < hours; h++) {
                    double busy = 0, billed = 0;
                    for (size_t i = 0; i < d[l].series.n; i++) {
                        const series_row *r = &d[l].series.row[i];
                        if ((size_t)((double)r->t_us / US_PER_H) != h)
                            continue;
                        busy += isnan(r->gpu_util_frac) ? 0 : r->gpu_util_frac * r->pods[POD_READY];
                        billed += r->pods[POD_STARTING] + r->pods[POD_READY] + r->pods[POD_DRAINING];
                    }
                    xl[h] = (double)h;
                    yl[h] = billed > 0 ? 100.0 * busy / billed : NAN;
                }
                lines[l] = (plot_line){d[l].label, xl, yl, hours};
            }
            char title[256];
            snprintf(title, sizeof(title), "%s: GPU utilisation per hour (busy / billed, replication 0)",
                     name);
            plot_spec spec = {.title = title, .xlabel = "hour", .ylabel = "GPU utilisation (%)",
                              .style = PLOT_BOXES, .y_from_zero = true, .y_max = 100};
            snprintf(prefix, sizeof(prefix), "%s-util", base);
            rc = picture(p, prefix, plot_lines(prefix, &spec, lines, nl, err), err);
            /* 5. cold starts per hour: requests that waited on one (request rows), else pod
             * starts estimated from the scrapes (rises of pending + starting + ready) */
            for (size_t l = 0; rc == 0 && l < nl; l++) {
                double *xl = hx + l * (hours + 1), *yl = hy + l * (hours + 1);
                for (size_t h = 0; h < hours; h++) {
                    xl[h] = (double)h;
                    yl[h] = 0;
                }
                if (have_req) {
                    for (size_t i = 0; i < d[l].log.n; i++) {
                        size_t h = (size_t)((double)d[l].log.row[i].arrival_us / US_PER_H);
                        if (h < hours && d[l].log.row[i].cold)
                            yl[h]++;
                    }
                } else {
                    for (size_t i = 1; i < d[l].series.n; i++) {
                        const series_row *a = &d[l].series.row[i - 1], *b = &d[l].series.row[i];
                        int up = (b->pods[POD_PENDING] + b->pods[POD_STARTING] + b->pods[POD_READY]) -
                                 (a->pods[POD_PENDING] + a->pods[POD_STARTING] + a->pods[POD_READY]);
                        size_t h = (size_t)((double)b->t_us / US_PER_H);
                        if (up > 0 && h < hours)
                            yl[h] += up;
                    }
                }
                lines[l] = (plot_line){d[l].label, xl, yl, hours};
            }
            snprintf(title, sizeof(title), "%s: %s per hour (replication 0)", name,
                     have_req ? "requests that waited on a cold start"
                              : "pod starts (from 15-s scrapes)");
            spec = (plot_spec){.title = title, .xlabel = "hour",
                               .ylabel = have_req ? "cold-start waits" : "pods started",
                               .style = PLOT_BOXES, .y_from_zero = true};
            snprintf(prefix, sizeof(prefix), "%s-cold", base);
            if (rc == 0)
                rc = picture(p, prefix, plot_lines(prefix, &spec, lines, nl, err), err);
        }
    }
    if (rc == 0 && have_req) {
        /* 3. latency CDF of completed requests, on a log axis of 200 points */
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
                             (double)(q->end_us - q->arrival_us) / 1e6 <= t;
                }
                xl[k] = t;
                yl[k] = total ? (double)below / (double)total : NAN;
            }
            lines[l] = (plot_line){d[l].label, xl, yl, pts};
        }
        char title[256];
        snprintf(title, sizeof(title), "%s: latency CDF of completed requests (replication 0)", name);
        plot_spec spec = {.title = title, .xlabel = "latency (s)", .ylabel = "fraction answered within",
                          .style = PLOT_LINES, .y_from_zero = true, .y_max = 1};
        snprintf(prefix, sizeof(prefix), "%s-cdf", base);
        rc = picture(p, prefix, plot_lines(prefix, &spec, lines, nl, err), err);
    }
    free(buf);
    for (size_t l = 0; l < nl; l++) {
        run_series_free(&d[l].series);
        request_log_free(&d[l].log);
    }
    return rc;
}

/* The sweeps recorded in the database: their points and the Pareto front. */
static int sweep_sections(page *p, results_db *db, gp_error *err)
{
    results_db_sweep_point *sp = NULL;
    size_t n_sp = 0;
    int rc = results_db_sweep_points(db, &sp, &n_sp, err);
    if (rc < 0)
        return rc;
    char current[128] = "";
    plot_xy *pts = NULL;
    size_t n = 0, cap = 0;
    char (*params)[256] = NULL;
    stat_summary *slo = NULL;
    for (size_t k = 0;; k++) {
        const char *sweep = k < n_sp ? sp[k].sweep : NULL;
        if ((!sweep || strcmp(sweep, current) != 0) && n > 0) {
            /* close the previous sweep: Pareto flags, table, picture */
            for (size_t a = 0; a < n; a++) {
                bool dom = isnan(pts[a].x) || isnan(pts[a].y);
                for (size_t b = 0; !dom && b < n; b++)
                    dom = b != a && pts[b].x <= pts[a].x && pts[b].y <= pts[a].y &&
                          (pts[b].x < pts[a].x || pts[b].y < pts[a].y);
                pts[a].flag = dom ? 2 : 3;
            }
            fprintf(p->f, "<h2>sweep ");
            put_html(p->f, current);
            fprintf(p->f, " (%zu points)</h2>\n<table><thead><tr><th>point</th><th>parameters</th>"
                          "<th>GPU-h</th><th>P99 (s)</th><th>SLO (%%)</th><th>Pareto</th></tr>"
                          "</thead><tbody>\n",
                    n);
            for (size_t i = 0; i < n; i++) {
                fprintf(p->f, "<tr><td>p%04zu</td><td>", i);
                put_html(p->f, params[i]);
                fprintf(p->f, "</td><td>%.2f</td><td>%.3f</td><td>%.2f</td><td>%s</td></tr>\n",
                        pts[i].x, pts[i].y, slo[i].mean, (pts[i].flag & 1) ? "yes" : "");
            }
            fputs("</tbody></table>\n", p->f);
            char prefix[1200], sname[128], title[200];
            gp_safe_file_name(sname, sizeof(sname), current);
            snprintf(prefix, sizeof(prefix), "%s/sweep-%s-pareto", p->assets, sname);
            snprintf(title, sizeof(title), "sweep %s: Pareto front (cost against P99)", current);
            rc = picture(p, prefix, plot_pareto(prefix, title, pts, n, err), err);
            n = 0;
        }
        if (!sweep || rc < 0)
            break;
        snprintf(current, sizeof(current), "%s", sweep);
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            plot_xy *np = realloc(pts, cap * sizeof(*pts));
            char(*npar)[256] = np ? realloc(params, cap * sizeof(*params)) : NULL;
            stat_summary *ns = npar ? realloc(slo, cap * sizeof(*slo)) : NULL;
            if (np)
                pts = np;
            if (npar)
                params = npar;
            if (ns)
                slo = ns;
            if (!np || !npar || !ns) {
                rc = gp_oom(err);
                break;
            }
        }
        gp_copy_utf8(params[n], sizeof(params[n]), sp[k].params);
        run_summary *runs = NULL;
        size_t nr = 0;
        if ((rc = results_db_read_runs(db, sp[k].experiment_id, &runs, &nr, err)) < 0)
            break;
        double *v = malloc(sizeof(double) * (nr + 1) * 3);
        if (!v) {
            free(runs);
            rc = gp_oom(err);
            break;
        }
        for (size_t i = 0; i < nr; i++) {
            v[i] = runs[i].gpu_seconds / 3600.0;
            v[nr + i] = runs[i].lat_p99_s;
            v[2 * nr + i] = 100.0 * runs[i].slo_frac;
        }
        pts[n].x = stats_summarize(v, nr).mean;
        pts[n].y = stats_summarize(v + nr, nr).mean;
        slo[n] = stats_summarize(v + 2 * nr, nr);
        pts[n].flag = 0;
        n++;
        free(v);
        free(runs);
    }
    free(sp);
    free(pts);
    free(params);
    free(slo);
    return rc;
}

static const char css[] =
    "body{font-family:sans-serif;margin:2em;max-width:1100px;color:#222}"
    "table{border-collapse:collapse;margin:1em 0;font-size:90%}"
    "th,td{border:1px solid #ccc;padding:3px 8px;text-align:right}"
    "th{background:#eee}td:first-child,td:nth-child(2){text-align:left}"
    "figure{margin:1em 0}figure svg{max-width:100%;height:auto}"
    ".note{color:#666;font-size:85%}.missing{color:#a00}";

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
    snprintf(title, sizeof(title), "%s%s", o->title ? "" : "gpenlab report: ",
             o->title ? o->title : o->db_path);
    fputs("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>", f);
    put_html(f, title);
    fprintf(f, "</title><style>%s</style></head><body>\n<h1>", css);
    put_html(f, title);
    fputs("</h1>\n", f);
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
            put_html(f, name);
            fputs("</h2>\n<p class=\"note\">", f);
            put_html(f, file);
            fputs("</p>\n", f);
            rc = experiment_table(&p, runs, n, err);
            if (rc == 0)
                rc = experiment_pictures(&p, db, id, name, runs, n, err);
        }
        free(runs);
    }
    free(xs);
    if (rc == 0)
        rc = sweep_sections(&p, db, err);
    fprintf(f, "<p class=\"note\">%d pictures inlined as SVG%s%s; drawn by gnuplot from %s</p>\n"
               "</body></html>\n",
            p.pictures, p.missing ? "; some not drawn: " : "", p.missing ? p.why : "", o->db_path);
    int bad = ferror(f);
    if (fclose(f) != 0)
        bad = 1;
    if (rc == 0 && (bad || rename(tmp_out, o->out_path) != 0))
        rc = gp_error_set(err, GP_EIO, o->out_path, 0, 0, NULL, "cannot write: %s", strerror(errno));
    if (rc < 0)
        unlink(tmp_out);
    if (tmpl[0]) /* the temporary pictures; leftovers there are harmless */
        (void)gp_remove_tree(tmpl, NULL);
    results_db_close(db);
    if (n_pictures)
        *n_pictures = p.pictures;
    return rc;
}
