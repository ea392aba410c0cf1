/* test_html_report.c: the HTML report's figures against the database they come from.
 * One small experiment (series and request rows kept) and one sweep whose constraint
 * leaves a point infeasible are written into a fresh database; the page is written with
 * its assets kept. Checked: every sweep point's feasibility, Pareto and winner marks (the
 * data-* attributes of its row) against the means computed here from the runs; the
 * sweep table's columns; the Pareto picture's data is byte for byte the one `sweep
 * --plot` draws (one code path), each point in it marked feasible or infeasible as the
 * runs say and the winner drawn at its means; the experiment table's cells against the
 * runs, one per run metric, the cost headed with the experiment's currency; the
 * latency-over-time chart (P50 and P99 per scrape) and the cost chart. Files live in a
 * fresh /tmp dir. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <limits.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include "lab/html_report.h"
#include "lab/lab.h"
#include "lab/run_metrics.h"
#include "lab/sweep.h"
#include "tests/testutil.h"

#define P99_LIMIT_S 25.0 /* static 1 pod times out at the peak (P99 ~ 30 s); 2 and 3 pods do not */

static char tmpdir[64];
static char db_path[256];
static char html_path[256];
static char assets[256];
static char *page;

static void write_file(const char *name, const char *text)
{
    char path[256];
    snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
    tu_write_text(path, text);
}

/* A fixture step that failed: says why on stderr (cmocka shows only the setup's rc). */
static int setup_failed(const gp_error *e, const char *what)
{
    char line[1200];
    gp_error_format(e, line, sizeof(line));
    fprintf(stderr, "test_html_report setup: %s: %s\n", what, line);
    return -1;
}

/* Runs (or resumes) tmp/sweep.yaml and its report, the Pareto picture at PREFIX. */
static int run_sweep(const char *prefix, gp_error *e)
{
    char path[256];
    snprintf(path, sizeof(path), "%s/sweep.yaml", tmpdir);
    sweep *sw = NULL;
    sweep_run_stats st;
    FILE *devnull = fopen("/dev/null", "w");
    int rc = devnull ? sweep_load(path, &sw, e) : GP_EIO;
    if (rc == 0)
        rc = sweep_run_local(sw, 1, NULL, &st, e);
    if (rc == 0)
        rc = sweep_report(sw, devnull, NULL, prefix, e);
    if (devnull)
        fclose(devnull);
    sweep_free(sw);
    return rc;
}

/* The database: the experiment, then the sweep (its report with the Pareto picture drawn
 * at tmp/sweep-pareto, as `gpenlab sweep --plot`), then the page. */
static int setup(void **state)
{
    (void)state;
    char profile[PATH_MAX];
    if (tu_mkdtemp(tmpdir, sizeof(tmpdir), "html-t") < 0 ||
        !realpath("gpu/profiles/t4-seed", profile))
        return -1;
    snprintf(db_path, sizeof(db_path), "%s/report.db", tmpdir);
    snprintf(html_path, sizeof(html_path), "%s/report.html", tmpdir);
    snprintf(assets, sizeof(assets), "%s/assets", tmpdir);
    char text[PATH_MAX + 1024];
    snprintf(text, sizeof(text),
             "name: html_check\nseed: 3\nreplications: 2\nprofile: %s\n"
             "workload: {type: tidal, days: 1, trough_rate_per_s: 0.05, peak_rate_per_s: 0.8,\n"
             "  peaks: [{hour: 10, width_h: 2, rel: 0.8}, {hour: 20, width_h: 2, rel: 1.0}]}\n"
             "cluster: {gpus: 3, min_pods: 1, max_pods: 3, concurrency: 5, currency: EUR}\n"
             "policies:\n"
             "  - {label: static-1x, policy: static, config: {pods: 1}}\n"
             "  - {label: rule, policy: gpen-rule, config: {min_pods: 1, max_pods: 3}}\n"
             "output: {series: true, requests: true}\n",
             profile);
    write_file("exp.yaml", text);
    snprintf(text, sizeof(text),
             "name: html_sweep\nbase: exp.yaml\npolicy: static-1x\nreplications: 2\n"
             "db: report.db\nparameters: [{path: config.pods, values: [1, 2, 3]}]\n"
             "objective: {minimise: gpu_hours, constraints: [{metric: p99_s, max: %g}]}\n",
             P99_LIMIT_S);
    write_file("sweep.yaml", text);

    gp_error e;
    gp_error_clear(&e);
    char path[256];
    snprintf(path, sizeof(path), "%s/exp.yaml", tmpdir);
    experiment *x = NULL;
    int rc = experiment_load(path, &x, &e);
    lab_opts lo;
    lab_opts_default(&lo);
    lo.db_path = db_path;
    lo.quiet = true;
    if (rc == 0)
        rc = lab_run(x, &lo, stderr, &e);
    experiment_free(x);
    if (rc != 0)
        return setup_failed(&e, "the experiment");
    char prefix[256];
    snprintf(prefix, sizeof(prefix), "%s/sweep-pareto", tmpdir);
    if (run_sweep(prefix, &e) != 0)
        return setup_failed(&e, "the sweep");
    html_report_opts o = {.db_path = db_path, .out_path = html_path, .assets_dir = assets};
    int pictures = 0;
    if (html_report_write(&o, &pictures, &e) != 0)
        return setup_failed(&e, "the report");
    page = tu_slurp(html_path);
    return page ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    free(page);
    return tu_rm_rf(tmpdir);
}

static char *tag_with(const char *marker) { return tu_tag_with(page, marker); }

static double db_mean(const char *exp_name, const char *label, const char *expr)
{
    return tu_db_mean(db_path, exp_name, label, expr);
}

static bool near(double a, double b) { return fabs(a - b) <= 1e-9 * fmax(1.0, fabs(b)); }

static void test_sweep_points_against_db(void **state)
{
    (void)state;
    size_t feasible = 0, infeasible = 0, want_winner = SIZE_MAX;
    double best = INFINITY;
    for (size_t pt = 0; pt < 3; pt++) {
        char name[64], marker[64];
        snprintf(name, sizeof(name), "html_sweep-p%04zu", pt);
        double p99 = db_mean(name, NULL, "lat_p99_s");
        double gpu_h = db_mean(name, NULL, "gpu_seconds / 3600.0");
        if (isnan(p99) || isnan(gpu_h))
            fail_msg("point %zu: no runs in the database", pt);
        bool ok = p99 <= P99_LIMIT_S;
        feasible += ok;
        infeasible += !ok;
        if (ok && gpu_h < best) {
            best = gpu_h;
            want_winner = pt;
        }
        snprintf(marker, sizeof(marker), "data-point=\"%zu\"", pt);
        char *tag = tag_with(marker);
        if (!tag)
            fail_msg("point %zu: no row with %s in the page", pt, marker);
        double f = tu_attr_num(tag, "data-feasible"), w = tu_attr_num(tag, "data-winner");
        if (f != (ok ? 1 : 0))
            fail_msg("point %zu: P99 %.3f s against a %g s limit, so %s; the page says "
                     "data-feasible=%g in %s",
                     pt, p99, P99_LIMIT_S, ok ? "feasible" : "infeasible", f, tag);
        if (isnan(w))
            fail_msg("point %zu: no data-winner in %s", pt, tag);
        free(tag);
    }
    /* the fixture must have both kinds, or the test could not fail */
    assert_true(feasible > 0 && infeasible > 0);
    char marker[64];
    snprintf(marker, sizeof(marker), "data-point=\"%zu\"", want_winner);
    char *tag = tag_with(marker);
    if (tu_attr_num(tag, "data-winner") != 1)
        fail_msg("the winner (fewest GPU-h among the feasible) is point %zu; its row: %s",
                 want_winner, tag);
    free(tag);
    /* exactly one winner */
    size_t winners = 0;
    for (const char *p = page; (p = strstr(p, "data-winner=\"1\"")); p++)
        winners++;
    assert_int_equal(winners, 1);
}

static void test_sweep_table_columns(void **state)
{
    (void)state;
    const char *at = strstr(page, "data-sweep=\"html_sweep\"");
    if (!at)
        fail_msg("no sweep table (data-sweep=\"html_sweep\")");
    const char *end = strstr(at, "</thead>");
    assert_non_null(end);
    char *head = strndup(at, (size_t)(end - at));
    /* the cost in the currency of the sweep's experiment (cluster.currency: EUR) */
    static const char *const want[] = {"objective", "feasible", "<th>cost (EUR)</th>", "CI",
                                       "winner"};
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
        if (!strstr(head, want[i]))
            fail_msg("the sweep table has no \"%s\" column: %s", want[i], head);
    free(head);
}

/* The sweep's points by their means in the database: (GPU-h, P99) and feasibility. */
typedef struct db_point {
    double gpu_h, cost, p99; /* the picture: cost against P99 (the sweep's front) */
    bool feasible;
} db_point;

static size_t db_points(db_point *pt, size_t cap, size_t *winner)
{
    size_t n = 0;
    double best = INFINITY;
    *winner = SIZE_MAX;
    for (; n < cap; n++) {
        char name[64];
        snprintf(name, sizeof(name), "html_sweep-p%04zu", n);
        pt[n].p99 = db_mean(name, NULL, "lat_p99_s");
        pt[n].gpu_h = db_mean(name, NULL, "gpu_seconds / 3600.0");
        pt[n].cost = db_mean(name, NULL, "cost");
        if (isnan(pt[n].p99) || isnan(pt[n].gpu_h) || isnan(pt[n].cost))
            break;
        pt[n].feasible = pt[n].p99 <= P99_LIMIT_S;
        if (pt[n].feasible && pt[n].gpu_h < best) {
            best = pt[n].gpu_h;
            *winner = n;
        }
    }
    return n;
}

/* The picture's data is written "%.10g": equal to 10 significant digits. */
static bool near10(double a, double b) { return fabs(a - b) <= 1e-9 * fmax(1e-12, fabs(b)); }

/* Block `index` of a gnuplot .dat file (blocks separated by two blank lines); malloc'd. */
static char *dat_block(const char *text, int index)
{
    const char *p = text;
    for (int k = 0; k < index && p; k++)
        if ((p = strstr(p, "\n\n\n")))
            p += 3;
    if (!p)
        return NULL;
    const char *end = strstr(p, "\n\n\n");
    return strndup(p, end ? (size_t)(end - p + 1) : strlen(p));
}

static void test_pareto_one_code_path(void **state)
{
    (void)state;
    char a[300], b[300];
    snprintf(a, sizeof(a), "%s/sweep-pareto.dat", tmpdir);
    snprintf(b, sizeof(b), "%s/sweep-html_sweep-pareto.dat", assets);
    char *from_sweep = tu_slurp(a), *from_page = tu_slurp(b);
    if (!from_sweep || !from_page)
        fail_msg("missing %s", from_sweep ? b : a);
    if (strcmp(from_sweep, from_page) != 0)
        fail_msg("sweep --plot and the report draw different fronts:\n%s\n--- report:\n%s",
                 from_sweep, from_page);
    db_point pt[8];
    size_t want_winner;
    size_t n = db_points(pt, 8, &want_winner);
    assert_int_equal(n, 3);
    assert_true(want_winner != SIZE_MAX);
    /* index 0: every point "x y flag" (flag bit 2: feasible), in point order */
    char *all = dat_block(from_page, 0);
    assert_non_null(all);
    size_t k = 0, infeasible = 0;
    for (char *line = strtok(all, "\n"); line; line = strtok(NULL, "\n"), k++) {
        double x, y;
        int flag;
        if (sscanf(line, "%lf %lf %d", &x, &y, &flag) != 3 || k >= n)
            fail_msg("the picture's point %zu: \"%s\" (%zu points in the database)", k, line, n);
        if (!near10(x, pt[k].cost) || !near10(y, pt[k].p99))
            fail_msg("point %zu: drawn at (%.10g, %.10g), its means are (%.10g, %.10g)", k, x, y,
                     pt[k].cost, pt[k].p99);
        bool drawn_feasible = (flag & 2) != 0;
        if (drawn_feasible != pt[k].feasible)
            fail_msg("point %zu: P99 %.3f s against a %g s limit is %s; the picture draws it %s", k,
                     pt[k].p99, P99_LIMIT_S, pt[k].feasible ? "feasible" : "infeasible",
                     drawn_feasible ? "feasible" : "infeasible");
        infeasible += !pt[k].feasible;
    }
    assert_int_equal(k, n);
    assert_true(infeasible > 0); /* else the marks could not be wrong */
    free(all);
    /* index 2: the winner, at its means (not "NaN NaN") */
    char *win = dat_block(from_page, 2);
    double x = NAN, y = NAN;
    if (!win || sscanf(win, "%lf %lf", &x, &y) != 2 || !near10(x, pt[want_winner].cost) ||
        !near10(y, pt[want_winner].p99))
        fail_msg("the winner p%04zu is at (%.10g, %.10g); the picture's winner block: \"%s\"",
                 want_winner, pt[want_winner].cost, pt[want_winner].p99, win ? win : "none");
    free(win);
    /* the picture on the page names the winner and draws both kinds of point */
    char marker[64];
    snprintf(marker, sizeof(marker), "data-winner=\"p%04zu\"", want_winner);
    char *fig = tag_with("data-chart=\"pareto\"");
    if (!fig || !strstr(fig, marker))
        fail_msg("the Pareto figure does not name the winner (%s): %s", marker, fig ? fig : "none");
    free(fig);
    const char *svg = strstr(page, "data-chart=\"pareto\"");
    const char *svg_end = svg ? strstr(svg, "</figure>") : NULL;
    char *figure = svg_end ? strndup(svg, (size_t)(svg_end - svg)) : NULL;
    if (!figure || !strstr(figure, "infeasible") || !strstr(figure, "winner"))
        fail_msg("the Pareto picture on the page has no \"infeasible\" or \"winner\" key");
    free(figure);
    free(from_sweep);
    free(from_page);
}

static void test_experiment_cells_against_db(void **state)
{
    (void)state;
    /* the derivations written again here in SQL, against the page */
    static const struct {
        const char *metric, *expr;
    } cells[] = {
        {"mean_s", "lat_mean_s"},
        {"p50_s", "lat_p50_s"},
        {"p99_s", "lat_p99_s"},
        {"slo_pct", "100.0 * slo_frac"},
        {"timeout_pct", "100.0 * timed_out / arrived"},
        {"pod_starts", "pod_starts"},
        {"cold_waited", "cold_waited"},
        {"gpu_hours", "gpu_seconds / 3600.0"},
        {"cost", "cost"},
        {"util_pct", "100.0 * utilisation"},
    };
    static const char *const labels[] = {"static-1x", "rule"};
    for (size_t l = 0; l < 2; l++) {
        char marker[80];
        snprintf(marker, sizeof(marker), "<tr data-label=\"%s\"", labels[l]);
        const char *row = strstr(page, marker);
        if (!row)
            fail_msg("no row %s", marker);
        const char *end = strstr(row, "</tr>");
        char *tr = strndup(row, (size_t)(end - row));
        for (size_t c = 0; c < sizeof(cells) / sizeof(cells[0]); c++) {
            char key[80];
            snprintf(key, sizeof(key), "data-metric=\"%s\"", cells[c].metric);
            const char *cell = strstr(tr, key);
            const char *close = cell ? strchr(cell, '>') : NULL;
            char *td = cell ? strndup(cell - 1, (size_t)(close - cell + 2)) : NULL;
            double want = db_mean("html_check", labels[l], cells[c].expr);
            double got = tu_attr_num(td, "data-mean");
            if (!near(got, want))
                fail_msg("%s %s: the page says %.17g, the database %.17g (%s)", labels[l],
                         cells[c].metric, got, want, td ? td : "no cell");
            free(td);
        }
        /* one cell per run metric */
        size_t n_cells = 0;
        for (const char *c = tr; (c = strstr(c, "data-metric=\"")); c++)
            n_cells++;
        if (n_cells != RM_COUNT)
            fail_msg("%s: %zu metric cells, the table of run metrics has %d", labels[l], n_cells,
                     (int)RM_COUNT);
        free(tr);
    }
    /* the cost headed with the experiment's currency (cluster.currency: EUR) */
    const char *table = strstr(page, "data-experiment=\"html_check\"");
    const char *head_end = table ? strstr(table, "</thead>") : NULL;
    char *head = head_end ? strndup(table, (size_t)(head_end - table)) : NULL;
    if (!head || !strstr(head, "<th>cost (EUR)</th>"))
        fail_msg("the cost column is not headed \"cost (EUR)\": %s", head ? head : "no table");
    free(head);
}

/* Count of data blocks (separated by two blank lines) in a gnuplot .dat file. */
static size_t dat_blocks(const char *text)
{
    size_t n = text[0] ? 1 : 0;
    for (const char *p = text; (p = strstr(p, "\n\n\n")); p += 3)
        if (p[3])
            n++;
    return n;
}

static void test_latency_and_cost_charts(void **state)
{
    (void)state;
    char *tag = tag_with("data-chart=\"latency\"");
    if (!tag)
        fail_msg("no latency-over-time chart (data-chart=\"latency\")");
    free(tag);
    tag = tag_with("data-chart=\"cost\"");
    if (!tag)
        fail_msg("no cost chart (data-chart=\"cost\")");
    free(tag);
    char path[300];
    snprintf(path, sizeof(path), "%s/html_check-latency.dat", assets);
    char *dat = tu_slurp(path);
    if (!dat)
        fail_msg("no %s", path);
    /* P50 and P99 for each of the two policies */
    assert_int_equal(dat_blocks(dat), 4);
    free(dat);
}

/* The sweep file edited to fewer points and a different base: the page shows the points
 * the file has now, judged on their new runs, and no section for an old point. */
static void test_edited_sweep(void **state)
{
    (void)state;
    char prefix[256], text[1024];
    snprintf(text, sizeof(text),
             "name: html_sweep\nbase: exp.yaml\npolicy: static-1x\nreplications: 2\nseed: 7\n"
             "db: report.db\nparameters: [{path: config.pods, values: [2, 3]}]\n"
             "objective: {minimise: gpu_hours, constraints: [{metric: p99_s, max: %g}]}\n",
             P99_LIMIT_S);
    write_file("sweep.yaml", text);
    snprintf(prefix, sizeof(prefix), "%s/sweep2-pareto", tmpdir);
    gp_error e;
    gp_error_clear(&e);
    if (run_sweep(prefix, &e) != 0)
        tu_fail_error(&e, "the edited sweep");
    char html2[300];
    snprintf(html2, sizeof(html2), "%s/report2.html", tmpdir);
    html_report_opts o = {.db_path = db_path, .out_path = html2};
    if (html_report_write(&o, NULL, &e) != 0)
        tu_fail_error(&e, "the report");
    char *old = page;
    page = tu_slurp(html2);
    assert_non_null(page);
    char *p1 = tag_with("data-point=\"0\""), *p2 = tag_with("data-point=\"1\""),
         *p3 = tag_with("data-point=\"2\"");
    bool stale_section = strstr(page, "<h2>html_sweep-p") != NULL;
    /* both points now meet the limit (2 and 3 pods), the cheaper wins */
    double f1 = tu_attr_num(p2, "data-feasible"), w0 = tu_attr_num(p1, "data-winner");
    free(p1);
    free(p3);
    free(page);
    page = old;
    if (!p2 || p3 || stale_section)
        fail_msg("edited sweep: point 1 %s, point 2 %s, a section for an old point %s",
                 p2 ? "shown" : "missing", p3 ? "still shown" : "gone",
                 stale_section ? "shown" : "not shown");
    assert_true(f1 == 1 && w0 == 1);
    free(p2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sweep_points_against_db),
        cmocka_unit_test(test_sweep_table_columns),
        cmocka_unit_test(test_pareto_one_code_path),
        cmocka_unit_test(test_experiment_cells_against_db),
        cmocka_unit_test(test_latency_and_cost_charts),
        cmocka_unit_test(test_edited_sweep), /* last: it rewrites the sweep */
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
