/* test_stats.c: replication summaries against hand-computed values, paired differences,
 * NaN handling, formatting; and the result.h append helpers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "sim/result.h"
#include "sim/stats.h"

static void expect_near(const char *name, const char *what, double got, double want, double tol)
{
    if (isnan(want) ? !isnan(got) : !(fabs(got - want) <= tol))
        fail_msg("%s: %s got %.10g want %.10g", name, what, got, want);
}

/* t quantiles from the standard table (two-sided 95% and 90%). */
static void test_t_quantiles(void **state)
{
    (void)state;
    static const struct {
        double level, df, want;
    } rows[] = {
        {0.95, 1, 12.706205}, {0.95, 2, 4.302653}, {0.95, 4, 2.776445}, {0.95, 9, 2.262157},
        {0.95, 29, 2.045230}, {0.90, 9, 1.833113}, {0.99, 9, 3.249836},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        char name[64];
        snprintf(name, sizeof(name), "t(%g, df=%g)", rows[i].level, rows[i].df);
        expect_near(name, "t", stats_t_quantile(rows[i].level, rows[i].df), rows[i].want, 1e-6);
    }
    assert_true(isnan(stats_t_quantile(0.95, 0)));
    assert_true(isnan(stats_t_quantile(1.0, 5)));
}

typedef struct sum_row {
    const char *name;
    double x[6];
    size_t n;
    size_t want_n, want_nan;
    double want_mean, want_sd, want_half;
    const char *want_text; /* stats_format with 3 decimals */
} sum_row;

static const sum_row sum_rows[] = {
    /* sd = sqrt(2.5); half = 2.776445 * 1.5811388 / sqrt(5) */
    {"1..5", {1, 2, 3, 4, 5}, 5, 5, 0, 3.0, 1.5811388, 1.9632432, "3.000 \xc2\xb1 1.963"},
    /* sd = sqrt(0.5); half = 12.706205 * 0.7071068 / sqrt(2) = 6.3531024 */
    {"two values", {1, 2}, 2, 2, 0, 1.5, 0.7071068, 6.3531024, "1.500 \xc2\xb1 6.353"},
    {"one value: no interval", {4.25}, 1, 1, 0, 4.25, NAN, NAN, "4.250"},
    {"none", {0}, 0, 0, 0, NAN, NAN, NAN, "-"},
    {"constant", {2, 2, 2}, 3, 3, 0, 2.0, 0.0, 0.0, "2.000 \xc2\xb1 0.000"},
    /* NaN skipped: {1, 3, 5}: sd 2, half 4.302653 * 2 / sqrt(3) = 4.9682757 */
    {"NaN skipped", {1, NAN, 3, 5}, 4, 3, 1, 3.0, 2.0, 4.9682757, "3.000 \xc2\xb1 4.968"},
    /* cancellation: 1e9 + {1, 2, 3} has sd 1 exactly */
    {"large offset", {1e9 + 1, 1e9 + 2, 1e9 + 3}, 3, 3, 0, 1e9 + 2, 1.0, 2.4841377, NULL},
};

static void test_summaries(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(sum_rows) / sizeof(sum_rows[0]); i++) {
        const sum_row *r = &sum_rows[i];
        stat_summary s = stats_summarize(r->x, r->n);
        if (s.n != r->want_n || s.n_nan != r->want_nan)
            fail_msg("%s: n %zu/%zu want %zu/%zu", r->name, s.n, s.n_nan, r->want_n, r->want_nan);
        expect_near(r->name, "mean", s.mean, r->want_mean, 1e-9 * fmax(1, fabs(r->want_mean)));
        expect_near(r->name, "sd", s.sd, r->want_sd, 1e-6);
        expect_near(r->name, "half", s.half_width, r->want_half, 1e-6);
        assert_true(s.level == 0.95);
        if (r->want_text) {
            char buf[64];
            stats_format(buf, sizeof(buf), &s, 3);
            if (strcmp(buf, r->want_text) != 0)
                fail_msg("%s: format \"%s\" want \"%s\"", r->name, buf, r->want_text);
        }
    }
    /* 90% of 1..5: t(0.95, 4) = 2.131847 */
    static const double x[] = {1, 2, 3, 4, 5};
    stat_summary s90 = stats_summarize_level(x, 5, 0.90);
    expect_near("1..5 at 90%", "half", s90.half_width, 2.131847 * sqrt(2.5) / sqrt(5), 1e-6);
    expect_near("1..5", "min", s90.min, 1, 0);
    expect_near("1..5", "max", s90.max, 5, 0);
}

static void test_paired(void **state)
{
    (void)state;
    /* d = {1, 1, 0, 2}: mean 1, sd sqrt(2/3), half 3.182446 * 0.8164966 / 2 */
    static const double a[] = {10, 12, 11, 13}, b[] = {9, 11, 11, 11};
    stat_summary d = stats_paired(a, b, 4);
    assert_int_equal(d.n, 4);
    expect_near("paired", "mean", d.mean, 1.0, 1e-12);
    expect_near("paired", "sd", d.sd, 0.8164966, 1e-6);
    expect_near("paired", "half", d.half_width, 1.2992281, 1e-6);
    assert_false(stats_significant(&d)); /* 1 - 1.299 < 0 */
    /* pairs remove the common noise: unpaired, the same data would be nowhere near */
    static const double a2[] = {10.1, 20.1, 30.2, 40.1, 50.2}, b2[] = {10, 20, 30, 40, 50};
    stat_summary d2 = stats_paired(a2, b2, 5);
    assert_true(stats_significant(&d2));
    expect_near("paired 2", "mean", d2.mean, 0.14, 1e-9);
    /* a NaN on either side drops the pair */
    static const double a3[] = {1, NAN, 3}, b3[] = {0, 0, NAN};
    stat_summary d3 = stats_paired(a3, b3, 3);
    assert_int_equal(d3.n, 1);
    assert_int_equal(d3.n_nan, 2);
    expect_near("paired NaN", "mean", d3.mean, 1, 0);
    assert_false(stats_significant(&d3));
}

static void test_scaled_and_format(void **state)
{
    (void)state;
    static const double x[] = {0.5, 0.6, 0.7};
    stat_summary s = stats_scaled(stats_summarize(x, 3), 100); /* as percent */
    expect_near("scaled", "mean", s.mean, 60, 1e-9);
    expect_near("scaled", "sd", s.sd, 10, 1e-9);
    expect_near("scaled", "half", s.half_width, 4.302653 * 10 / sqrt(3), 1e-4);
    stat_summary neg = stats_scaled(s, -1);
    expect_near("negated", "sd", neg.sd, 10, 1e-9);
    expect_near("negated", "min", neg.min, -70, 1e-9);
    expect_near("negated", "max", neg.max, -50, 1e-9);
    char buf[64];
    assert_string_equal(stats_format(buf, sizeof(buf), &s, 1), "60.0 \xc2\xb1 24.8");
    assert_string_equal(stats_format(buf, sizeof(buf), &s, 0), "60 \xc2\xb1 25");
    char tiny[6];
    stats_format(tiny, sizeof(tiny), &s, 3); /* truncated, still terminated */
    assert_int_equal(strlen(tiny), 5);
}

static void test_result_push(void **state)
{
    (void)state;
    run_series s = {0};
    for (int i = 0; i < 1000; i++) {
        series_row r = {.t_us = (int64_t)i * 15000000, .desired = i};
        assert_int_equal(run_series_push(&s, &r), 0);
    }
    assert_int_equal(s.n, 1000);
    assert_true(s.cap >= 1000 && s.cap < 4000);
    for (int i = 0; i < 1000; i++)
        if (s.row[i].t_us != (int64_t)i * 15000000 || s.row[i].desired != i)
            fail_msg("series row %d corrupted", i);
    run_series_free(&s);
    assert_int_equal(s.n, 0);
    assert_null(s.row);
    run_series_free(&s); /* twice is harmless */

    request_log l = {0};
    for (uint64_t i = 0; i < 5000; i++) {
        request_row r = {.id = i,
                         .arrival_us = (int64_t)i,
                         .start_us = -1,
                         .end_us = -1,
                         .pod_id = -1,
                         .mp = 2.0f,
                         .faces = 1,
                         .outcome = OUTCOME_IN_FLIGHT};
        assert_int_equal(request_log_push(&l, &r), 0);
    }
    assert_int_equal(l.n, 5000);
    assert_true(l.row[4999].id == 4999 && l.row[17].arrival_us == 17);
    request_log_free(&l);
    assert_null(l.row);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_t_quantiles), cmocka_unit_test(test_summaries),
        cmocka_unit_test(test_paired),      cmocka_unit_test(test_scaled_and_format),
        cmocka_unit_test(test_result_push),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
