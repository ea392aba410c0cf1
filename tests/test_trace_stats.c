/* test_trace_stats.c: trace_compute_stats on inputs whose statistics are known by hand
 * (a small list across midnight), on a long Poisson stream (CVs of a Poisson process),
 * and the hour-of-day coverage helper. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "traces/trace.h"
#include "traces/trace_internal.h"

#define S 1000000LL

static void near(const char *what, double got, double want, double tol)
{
    if (!(fabs(got - want) <= tol))
        fail_msg("%s: got %.12g want %.12g", what, got, want);
}

static void test_known_list(void **state)
{
    (void)state;
    const request_spec specs[] = {
        {0, 2.0f, 1}, {30 * S, 4.0f, 0}, {61 * S, 2.0f, 2}, {62 * S, 8.0f, 0}, {200 * S, 4.0f, 1}};
    static const struct {
        const char *name;
        int64_t day_offset_us;
        int hour_a, hour_b; /* hours of the first two and of the last three arrivals */
        double days_a, days_b;
    } rows[] = {
        {"midnight", 0, 0, 0, 200.0 / 3600, 200.0 / 3600},
        {"23:59 (wraps into the next day)", 86340 * S, 23, 0, 60.0 / 3600, 140.0 / 3600},
        {"offset given as -60 s", -60 * S, 23, 0, 60.0 / 3600, 140.0 / 3600},
        {"offset of several days", 5 * 86400 * S + 86340 * S, 23, 0, 60.0 / 3600, 140.0 / 3600},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        arrival_src *s;
        gp_error e;
        assert_int_equal(trace_open_list(specs, 5, &s, &e), 0);
        trace_stats st;
        assert_int_equal(trace_compute_stats(s, rows[i].day_offset_us, &st, &e), 0);
        arrival_src_free(s);
        char what[128];
#define CHECK(field, want, tol)                                       \
    do {                                                              \
        snprintf(what, sizeof(what), "%s: %s", rows[i].name, #field); \
        near(what, (double)st.field, want, tol);                      \
    } while (0)
        CHECK(count, 5, 0);
        CHECK(first_us, 0, 0);
        CHECK(last_us, 200 * S, 0);
        CHECK(span_us, 200 * S, 0);
        CHECK(mean_rate_per_s, 5.0 / 200, 1e-12);
        /* minute bins [2, 2, 0, 1] (the 200 s arrival is 3 minutes after 0): */
        CHECK(peak_rate_per_s, 2.0 / 60, 1e-12);
        CHECK(cv_per_minute, sqrt(0.6875) / 1.25, 1e-12);
        /* gaps 30, 31, 1, 138 s */
        CHECK(cv_interarrival, sqrt(10906.0 / 4) / 50, 1e-12);
        CHECK(mean_mp, 4.0, 1e-12);
        CHECK(mean_faces, 0.8, 1e-12);
        CHECK(no_face_frac, 0.4, 1e-12);
        double total_days = 0, total_count = 0;
        for (int h = 0; h < 24; h++) {
            total_days += st.hour_days[h];
            total_count += st.hour_counts[h];
        }
        CHECK(hour_counts[rows[i].hour_a], rows[i].hour_a == rows[i].hour_b ? 5 : 2, 0);
        CHECK(hour_counts[rows[i].hour_b], rows[i].hour_a == rows[i].hour_b ? 5 : 3, 0);
        CHECK(hour_days[rows[i].hour_a], rows[i].days_a, 1e-15);
        CHECK(hour_days[rows[i].hour_b], rows[i].days_b, 1e-15);
        near(rows[i].name, total_count, 5, 0);
        near(rows[i].name, total_days, 200.0 / 3600, 1e-15);
#undef CHECK
    }
}

static void test_empty_and_single(void **state)
{
    (void)state;
    arrival_src *s;
    gp_error e;
    trace_stats st;
    assert_int_equal(trace_open_list(NULL, 0, &s, &e), 0);
    assert_int_equal(trace_compute_stats(s, 0, &st, &e), 0);
    arrival_src_free(s);
    assert_int_equal(st.count, 0);
    const request_spec one = {5 * S, 2.0f, 1};
    assert_int_equal(trace_open_list(&one, 1, &s, &e), 0);
    assert_int_equal(trace_compute_stats(s, 0, &st, &e), 0);
    arrival_src_free(s);
    assert_int_equal(st.count, 1);
    near("single: mean rate", st.mean_rate_per_s, 0, 0);
    near("single: peak", st.peak_rate_per_s, 1.0 / 60, 1e-12);
    near("single: cv per minute", st.cv_per_minute, 0, 0);
    near("single: hour days", st.hour_days[0], 5.0 / 3600, 1e-15);
}

/* A Poisson stream: inter-arrival CV 1, per-minute CV 1/sqrt(rate x 60). */
static void test_poisson_cvs(void **state)
{
    (void)state;
    arrival_src *s;
    gp_error e;
    assert_int_equal(trace_open_poisson(5.0, 2 * 86400 * S, NULL, 3, &s, &e), 0);
    trace_stats st;
    assert_int_equal(trace_compute_stats(s, 0, &st, &e), 0);
    arrival_src_free(s);
    near("count", (double)st.count, 864000, 5 * sqrt(864000.0));
    near("mean rate", st.mean_rate_per_s, 5.0, 0.03);
    near("cv inter-arrival", st.cv_interarrival, 1.0, 0.01);
    near("cv per minute", st.cv_per_minute, 1 / sqrt(300.0), 0.005);
    for (int h = 0; h < 24; h++) {
        char what[32];
        snprintf(what, sizeof(what), "hour %d", h);
        near(what, st.hour_days[h], 2.0, 1e-12);
        near(what, st.hour_counts[h] / st.hour_days[h], 18000, 5 * sqrt(18000.0 / 2));
    }
    /* the image mix defaults: ~10% without a face */
    near("no face", st.no_face_frac, 0.098, 0.005);
}

static void test_hour_days(void **state)
{
    (void)state;
    static const struct {
        const char *name;
        int64_t offset_us, from_us, to_us;
        double want[24];
    } rows[] = {
        {"one day", 0, 0, 86400 * S, {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
                                      1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1}},
        {"36 h from 06:00", 6 * 3600 * S, 0, 36 * 3600 * S, {1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2,
                                                             2, 2, 2, 2, 2, 2, 1, 1, 1, 1, 1, 1}},
        {"an hour from 10:15",
         0,
         36900 * S,
         40500 * S,
         {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2700.0 / 3600, 900.0 / 3600}},
        {"empty", 0, 5 * S, 5 * S, {0}},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        double got[24] = {0};
        trace_hour_days(rows[i].offset_us, rows[i].from_us, rows[i].to_us, got);
        for (int h = 0; h < 24; h++)
            if (fabs(got[h] - rows[i].want[h]) > 1e-12)
                fail_msg("%s: hour %d: got %g want %g", rows[i].name, h, got[h], rows[i].want[h]);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_known_list),
        cmocka_unit_test(test_empty_and_single),
        cmocka_unit_test(test_poisson_cvs),
        cmocka_unit_test(test_hour_days),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
