/* test_reproduce.c: the article's tables, reproduced (2 replications) into a fresh
 * database, with the page written. Checked on the page: the article's own figures of
 * both tables are there; every compared row carries the article's interval, gpenlab's
 * mean and 95% half-width and a "within CI?" verdict that agrees with them; gpenlab's
 * figures are the means of the runs in the database; the printed tables have the
 * "within CI?" column too; the article's Table 1 and Table 2 are each one table on the
 * page, under their title, holding their rows and only theirs, each row with gpenlab's
 * figure. Files live in a fresh /tmp dir. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include "lab/reproduce.h"
#include "tests/testutil.h"

static char tmpdir[64];
static char db_path[256];
static char *page, *text;

static int setup(void **state)
{
    (void)state;
    if (tu_mkdtemp(tmpdir, sizeof(tmpdir), "repro-t") < 0)
        return -1;
    snprintf(db_path, sizeof(db_path), "%s/article.db", tmpdir);
    char html[256];
    snprintf(html, sizeof(html), "%s/article.html", tmpdir);
    reproduce_opts o;
    reproduce_opts_default(&o);
    o.db_path = db_path;
    o.replications = 2;
    o.html_path = html;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    gp_error e;
    gp_error_clear(&e);
    int rc = reproduce_run(&o, out, &e);
    fclose(out);
    if (rc != 0) {
        char line[1200];
        gp_error_format(&e, line, sizeof(line));
        fprintf(stderr, "test_reproduce setup: %s\n", line);
        return -1;
    }
    page = tu_slurp(html);
    return page ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    free(page);
    free(text);
    return tu_rm_rf(tmpdir);
}

/* The opening tag of the row with this id; NULL if none. */
static char *row_tag(const char *id)
{
    char marker[128];
    snprintf(marker, sizeof(marker), "data-row-id=\"%s\"", id);
    return tu_tag_with(page, marker);
}

static void test_article_figures_shown(void **state)
{
    (void)state;
    /* the article's two tables, in the figures of docs/seed-article.md */
    static const char *const figures[] = {
        "2.8 s", "1.7 s", "-39%",  "8.2 s",  "4.5 s", "-45%", "+200%", "11.3%",
        "68.7%", "+512%", "1.2 s", "8-12 s", "0.8 s", "4/5",  "2/5",   "1/5",
    };
    for (size_t i = 0; i < sizeof(figures) / sizeof(figures[0]); i++)
        if (!strstr(page, figures[i]))
            fail_msg("the article's figure \"%s\" is not on the page", figures[i]);
    if (!strstr(page, "within CI?"))
        fail_msg("the page has no \"within CI?\" column");
    if (!strstr(text, "within CI?"))
        fail_msg("the printed tables have no \"within CI?\" column:\n%s", text);
}

/* Every compared row: the verdict follows from the article's interval and gpenlab's. */
static void test_within_ci_agrees(void **state)
{
    (void)state;
    static const char *const ids[] = {
        "t1.mean_s.static", "t1.mean_s.elastic",    "t1.p99_s.static",    "t1.p99_s.elastic",
        "t1.users.static",  "t1.users.elastic",     "t1.util_pct.static", "t1.util_pct.elastic",
        "t2.hot_s.hpa",     "t2.cold_s.serverless", "t2.hot_s.static",
    };
    size_t yes = 0, no = 0;
    for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
        char *tag = row_tag(ids[i]);
        if (!tag)
            fail_msg("no row %s on the page", ids[i]);
        double lo = tu_attr_num(tag, "data-article-lo"), hi = tu_attr_num(tag, "data-article-hi");
        double mean = tu_attr_num(tag, "data-mean"), hw = tu_attr_num(tag, "data-hw");
        char *within = tu_attr(tag, "data-within");
        if (isnan(lo) || isnan(hi) || isnan(mean) || !within)
            fail_msg("%s: the article's interval, gpenlab's mean or the verdict is missing: %s",
                     ids[i], tag);
        double w = isnan(hw) ? 0 : hw;
        bool want = lo <= mean + w && mean - w <= hi;
        if (strcmp(within, want ? "yes" : "no") != 0)
            fail_msg("%s: article [%g, %g], gpenlab %g +- %g: want \"%s\", the page says \"%s\"",
                     ids[i], lo, hi, mean, hw, want ? "yes" : "no", within);
        yes += want;
        no += !want;
        free(within);
        free(tag);
    }
    assert_true(no > 0); /* the article's figures are not all reproduced (docs/experiments.md) */
    (void)yes;
}

static void test_figures_from_db(void **state)
{
    (void)state;
    static const struct {
        const char *id, *exp, *label, *expr;
    } rows[] = {
        {"t1.p99_s.static", "article_table1_tidal", "static-1x", "lat_p99_s"},
        {"t1.mean_s.elastic", "article_table1_tidal", "elastic-1..3x", "lat_mean_s"},
        {"t1.util_pct.elastic", "article_table1_tidal", "elastic-1..3x", "100.0 * utilisation"},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        char *tag = row_tag(rows[i].id);
        if (!tag)
            fail_msg("no row %s", rows[i].id);
        double got = tu_attr_num(tag, "data-mean"),
               want = tu_db_mean(db_path, rows[i].exp, rows[i].label, rows[i].expr);
        if (!(fabs(got - want) <= 1e-9 * fmax(1, fabs(want))))
            fail_msg("%s: the page says %.17g, the database %.17g", rows[i].id, got, want);
        free(tag);
    }
}

/* The article's two comparison tables: each a table of its own under its title, with
 * every row of that table (ids "t1." or "t2.") and no other, and gpenlab's mean in each of
 * its compared rows. */
static void test_article_tables_on_page(void **state)
{
    (void)state;
    static const struct {
        const char *title, *prefix;
        size_t min_rows;
    } want[] = {
        {"<h3>Table 1 (", "t1.", 12}, /* mean, P99, users, utilisation x static, elastic, change */
        {"<h3>Table 2 (", "t2.", 20}, /* hot, cold, GPU-h per 1000, stars x 5 policies */
    };
    for (size_t t = 0; t < sizeof(want) / sizeof(want[0]); t++) {
        const char *h = strstr(page, want[t].title);
        if (!h)
            fail_msg("no heading %s on the page", want[t].title);
        const char *start = strstr(h, "<table class=\"article\"");
        const char *end = start ? strstr(start, "</table>") : NULL;
        if (!end)
            fail_msg("no table under %s", want[t].title);
        char *table = strndup(start, (size_t)(end - start));
        size_t rows = 0, with_mean = 0;
        for (const char *r = table; (r = strstr(r, "<tr data-row-id=\"")); r++) {
            const char *id = r + strlen("<tr data-row-id=\"");
            if (strncmp(id, want[t].prefix, strlen(want[t].prefix)) != 0)
                fail_msg("%s: a row of another table in it: %.40s", want[t].title, id);
            const char *close = strchr(r, '>');
            char *tag = strndup(r, (size_t)(close - r + 1));
            with_mean += isnan(tu_attr_num(tag, "data-mean")) ? 0u : 1u;
            free(tag);
            rows++;
        }
        free(table);
        if (rows < want[t].min_rows || with_mean < want[t].min_rows / 2)
            fail_msg("%s: %zu rows (want >= %zu), %zu with gpenlab's mean", want[t].title, rows,
                     want[t].min_rows, with_mean);
        /* every row of the page with this prefix is in this table */
        size_t on_page = 0;
        char marker[64];
        snprintf(marker, sizeof(marker), "data-row-id=\"%s", want[t].prefix);
        for (const char *r = page; (r = strstr(r, marker)); r++)
            on_page++;
        assert_int_equal(on_page, rows);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_article_figures_shown),
        cmocka_unit_test(test_within_ci_agrees),
        cmocka_unit_test(test_figures_from_db),
        cmocka_unit_test(test_article_tables_on_page),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
