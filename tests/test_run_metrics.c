/* test_run_metrics.c: the one table of run metrics (lab/run_metrics.h) called directly.
 * Checked: the table is in id order with unique names that run_metric_find gives back;
 * every metric's value for one hand-made run, against the derivation written again here
 * (a table of cases, one per metric, so that a metric added without a case fails); the
 * units, headings and one-line labels, the cost's in the currency given. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include "lab/run_metrics.h"

static void test_table_in_id_order(void **state)
{
    (void)state;
    size_t n = 0;
    const run_metric *t = run_metric_table(&n);
    assert_int_equal(n, RM_COUNT);
    for (size_t i = 0; i < n; i++) {
        if ((size_t)t[i].id != i)
            fail_msg("entry %zu (%s) has id %d", i, t[i].name, (int)t[i].id);
        if (run_metric_find(t[i].name) != &t[i] || run_metric_get(t[i].id) != &t[i])
            fail_msg("%s: not found again by name or id", t[i].name);
        if (!t[i].heading || !t[i].heading_unit || !t[i].unit || !t[i].derived || !t[i].get)
            fail_msg("%s: a field is missing", t[i].name);
    }
    assert_null(run_metric_find("p99"));
    assert_null(run_metric_find(NULL));
    assert_null(run_metric_get(RM_COUNT));
    char names[400];
    run_metric_names(names, sizeof(names));
    assert_non_null(strstr(names, "p99_s"));
    assert_non_null(strstr(names, "util_pct"));
}

static void test_values_of_one_run(void **state)
{
    (void)state;
    run_summary r;
    memset(&r, 0, sizeof(r));
    r.arrived = 200;
    r.completed = 180;
    r.timed_out = 15;
    r.rejected = 5;
    r.lat_mean_s = 1.5;
    r.lat_p50_s = 1.2;
    r.lat_p95_s = 3.4;
    r.lat_p99_s = 7.8;
    r.slo_frac = 0.925;
    r.pod_starts = 6;
    r.cold_waited = 11;
    r.gpu_seconds = 5400;
    r.utilisation = 0.4;
    r.cost = 2.25;
    r.preemptions = 3;
    static const struct {
        run_metric_id id;
        double want;
        run_metric_direction dir;
    } cases[] = {
        {RM_MEAN_S, 1.5, RM_LOWER_BETTER},    {RM_P50_S, 1.2, RM_LOWER_BETTER},
        {RM_P95_S, 3.4, RM_LOWER_BETTER},     {RM_P99_S, 7.8, RM_LOWER_BETTER},
        {RM_SLO_PCT, 92.5, RM_HIGHER_BETTER}, {RM_TIMEOUT_PCT, 7.5, RM_LOWER_BETTER},
        {RM_TIMED_OUT, 15, RM_LOWER_BETTER},  {RM_REJECTED, 5, RM_LOWER_BETTER},
        {RM_POD_STARTS, 6, RM_LOWER_BETTER},  {RM_COLD_WAITED, 11, RM_LOWER_BETTER},
        {RM_GPU_HOURS, 1.5, RM_LOWER_BETTER}, {RM_COST, 2.25, RM_LOWER_BETTER},
        {RM_UTIL_PCT, 40, RM_HIGHER_BETTER},  {RM_PREEMPTIONS, 3, RM_LOWER_BETTER},
    };
    assert_int_equal(sizeof(cases) / sizeof(cases[0]), RM_COUNT);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const run_metric *m = run_metric_get(cases[i].id);
        double got = run_metric_value(cases[i].id, &r);
        if (fabs(got - cases[i].want) > 1e-12)
            fail_msg("%s: %.17g, want %.17g", m->name, got, cases[i].want);
        if (m->direction != cases[i].dir)
            fail_msg("%s: direction %d, want %d", m->name, (int)m->direction, (int)cases[i].dir);
    }
    /* no arrivals: no timeout share (NaN, not 0 or a division by zero) */
    run_summary empty;
    memset(&empty, 0, sizeof(empty));
    assert_true(isnan(run_metric_value(RM_TIMEOUT_PCT, &empty)));
    assert_true(isnan(run_metric_value(RM_COUNT, &r)));
}

static void test_units_and_headings(void **state)
{
    (void)state;
    static const struct {
        run_metric_id id;
        const char *currency, *unit, *heading_unit, *label;
    } cases[] = {
        {RM_P99_S, "EUR", "s", "(s)", "P99 (s)"},
        {RM_SLO_PCT, NULL, "%", "(%)", "SLO (%)"},
        {RM_GPU_HOURS, "EUR", "GPU-h", "", "GPU-h"},
        {RM_COST, "EUR", "EUR", "(EUR)", "cost (EUR)"},
        {RM_COST, NULL, "", "", "cost"},
        {RM_COST, "", "", "", "cost"},
        {RM_POD_STARTS, NULL, "pods", "starts", "pod starts"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const run_metric *m = run_metric_get(cases[i].id);
        char buf[32], lbuf[64];
        const char *unit = run_metric_unit(m, cases[i].currency);
        const char *head = run_metric_heading_unit(m, cases[i].currency, buf, sizeof(buf));
        const char *label = run_metric_label(m, cases[i].currency, lbuf, sizeof(lbuf));
        if (strcmp(unit, cases[i].unit) != 0 || strcmp(head, cases[i].heading_unit) != 0 ||
            strcmp(label, cases[i].label) != 0)
            fail_msg("case %zu (%s, currency %s): unit \"%s\" heading \"%s\" label \"%s\", "
                     "want \"%s\" \"%s\" \"%s\"",
                     i, m->name, cases[i].currency ? cases[i].currency : "NULL", unit, head, label,
                     cases[i].unit, cases[i].heading_unit, cases[i].label);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table_in_id_order),
        cmocka_unit_test(test_values_of_one_run),
        cmocka_unit_test(test_units_and_headings),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
