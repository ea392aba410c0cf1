/* test_trace_gen.c: generated arrivals. The tidal curve (trough and peak exact, peaks
 * where asked, weekends), tidal arrivals per 10-minute bin against the integral of the
 * curve (within 5 standard deviations, also for the steepest allowed peaks, which
 * would expose a thinning bound below the rate), determinism by seed, option checks;
 * constant-rate Poisson; fixed lists. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "traces/trace.h"

static arrival_src *open_tidal_ok(const tidal_opts *o)
{
    arrival_src *s = NULL;
    gp_error e;
    gp_error_clear(&e);
    if (trace_open_tidal(o, &s, &e) < 0) {
        char buf[1024];
        gp_error_format(&e, buf, sizeof(buf));
        fail_msg("tidal: %s", buf);
    }
    return s;
}

static void test_curve_shape(void **state)
{
    (void)state;
    tidal_opts o;
    tidal_opts_default(&o);
    o.trough_rate_per_s = 3;
    o.peak_rate_per_s = 30;
    tidal_curve c;
    gp_error e;
    assert_int_equal(tidal_curve_init(&o, &c, &e), 0);
    double lo = INFINITY, hi = 0, at_lo = 0, at_hi = 0, morning = 0, at_morning = 0;
    for (int i = 0; i < 86400; i += 10) {
        double r = tidal_curve_rate_per_s(&c, i);
        if (r < lo) {
            lo = r;
            at_lo = i / 3600.0;
        }
        if (r > hi) {
            hi = r;
            at_hi = i / 3600.0;
        }
        if (i < 15 * 3600 && r > morning) {
            morning = r;
            at_morning = i / 3600.0;
        }
    }
    if (fabs(lo - 3) > 1e-6 || fabs(hi - 30) > 1e-6)
        fail_msg("min %g (want 3), max %g (want 30)", lo, hi);
    assert_true(fabs(at_hi - 20) < 0.1);
    assert_true(fabs(at_morning - 10) < 0.2);
    assert_true(at_lo > 0.5 && at_lo < 6);     /* the night trough */
    assert_true(fabs(morning - 30 * 0.8) < 3); /* rel 0.8, bumps overlap a little */
    /* the convenience function agrees; every day repeats */
    for (int h = 0; h < 24; h++)
        assert_true(fabs(tidal_rate_per_s(&o, h * 3600.0 + 77) -
                         tidal_curve_rate_per_s(&c, 86400 * 3 + h * 3600.0 + 77)) < 1e-9);
    /* weekends */
    o.weekly = true;
    o.weekend_factor = 0.5;
    o.start_weekday = 4; /* day 0 Friday, day 1 Saturday, day 2 Sunday, day 3 Monday */
    assert_int_equal(tidal_curve_init(&o, &c, &e), 0);
    static const double want_factor[] = {1, 0.5, 0.5, 1, 1, 1, 1, 1, 0.5};
    for (int d = 0; d < 9; d++) {
        double t = d * 86400.0 + 20 * 3600.0;
        double got =
            tidal_curve_rate_per_s(&c, t) / tidal_rate_per_s(&(tidal_opts){.trough_rate_per_s = 3,
                                                                           .peak_rate_per_s = 30,
                                                                           .n_peaks = 2,
                                                                           .peak_hour = {10, 20},
                                                                           .peak_width_h = {2, 2},
                                                                           .peak_rel = {0.8, 1},
                                                                           .days = 1},
                                                             20 * 3600.0);
        if (fabs(got - want_factor[d]) > 1e-9)
            fail_msg("day %d: factor %g want %g", d, got, want_factor[d]);
    }
    /* no peaks: a constant rate */
    o.n_peaks = 0;
    o.weekly = false;
    assert_int_equal(tidal_curve_init(&o, &c, &e), 0);
    assert_true(fabs(tidal_curve_rate_per_s(&c, 1234) - 30) < 1e-12);
}

/* Arrivals per 10-minute bin against the curve's integral over the bin. */
static void check_bins(const char *name, const tidal_opts *o)
{
    tidal_curve c;
    gp_error e;
    assert_int_equal(tidal_curve_init(o, &c, &e), 0);
    int n_bins = o->days * 144;
    uint64_t *count = calloc((size_t)n_bins, sizeof(*count));
    arrival_src *s = open_tidal_ok(o);
    assert_int_equal(arrival_src_span_us(s), (int64_t)o->days * 86400 * 1000000);
    request_spec r;
    int64_t prev = 0;
    uint64_t n = 0;
    while (arrival_src_next(s, &r, &e) > 0) {
        assert_true(r.arrival_us >= prev);
        prev = r.arrival_us;
        int b = (int)(r.arrival_us / 600000000);
        assert_true(b >= 0 && b < n_bins);
        count[b]++;
        n++;
    }
    arrival_src_free(s);
    double total = 0, worst = 0;
    for (int b = 0; b < n_bins; b++) {
        double mean = 0;
        for (int k = 0; k < 600; k += 2)
            mean += 2 * tidal_curve_rate_per_s(&c, b * 600.0 + k + 1);
        total += mean;
        double z = ((double)count[b] - mean) / sqrt(mean > 1 ? mean : 1);
        worst = fmax(worst, fabs(z));
        if (fabs(z) > 5)
            fail_msg("%s: bin %d (%02d:%02d day %d): %llu arrivals, want %.1f (z = %.1f)", name, b,
                     b % 144 / 6, b % 6 * 10, b / 144, (unsigned long long)count[b], mean, z);
    }
    if (fabs((double)n - total) > 5 * sqrt(total))
        fail_msg("%s: %llu arrivals, want %.0f", name, (unsigned long long)n, total);
    free(count);
}

static void test_tidal_counts(void **state)
{
    (void)state;
    tidal_opts o;
    tidal_opts_default(&o);
    o.trough_rate_per_s = 2;
    o.peak_rate_per_s = 40;
    o.days = 2;
    check_bins("default peaks", &o);
    /* the steepest peaks allowed, high rate: a bound below the curve would undercount */
    tidal_opts_default(&o);
    o.trough_rate_per_s = 0;
    o.peak_rate_per_s = 400;
    o.n_peaks = 3;
    o.peak_hour[0] = 0.0; /* wraps over midnight */
    o.peak_width_h[0] = 0.25;
    o.peak_rel[0] = 1;
    o.peak_hour[1] = 9.1;
    o.peak_width_h[1] = 0.25;
    o.peak_rel[1] = 0.5;
    o.peak_hour[2] = 17.3;
    o.peak_width_h[2] = 24;
    o.peak_rel[2] = 0.3;
    o.seed = 3;
    check_bins("steep peaks", &o);
    /* a week with weekends off */
    tidal_opts_default(&o);
    o.days = 7;
    o.weekly = true;
    o.weekend_factor = 0;
    o.start_weekday = 3; /* Thu: days 2 and 3 are the weekend */
    o.peak_rate_per_s = 10;
    check_bins("weekends off", &o);
}

static void test_tidal_deterministic(void **state)
{
    (void)state;
    tidal_opts o;
    tidal_opts_default(&o);
    o.peak_rate_per_s = 2;
    static request_spec a[200000], b[200000];
    size_t na = 0, nb = 0;
    gp_error e;
    for (int run = 0; run < 3; run++) {
        o.seed = run == 2 ? 12 : 11;
        arrival_src *s = open_tidal_ok(&o);
        request_spec *dst = run == 0 ? a : b;
        size_t n = 0;
        while (n < 200000 && arrival_src_next(s, &dst[n], &e) > 0)
            n++;
        assert_int_equal(arrival_src_next(s, &dst[0], &e), 0); /* stays exhausted */
        arrival_src_free(s);
        if (run == 0)
            na = n;
        else
            nb = n;
        if (run == 1) {
            assert_int_equal(na, nb);
            assert_memory_equal(a, b, na * sizeof(a[0]));
        }
    }
    assert_true(na != nb || memcmp(a, b, na * sizeof(a[0])) != 0);
    /* image sizes are keyed on the request index: the mix's own draw for index 17 */
    float mp;
    int32_t faces;
    image_mix_draw(&o.mix, 11, 17, &mp, &faces);
    assert_true(a[17].mp == mp && a[17].faces == faces);
}

static void test_tidal_bad_options(void **state)
{
    (void)state;
    /* each row's edit is the matching case of the switch below */
    static const struct {
        const char *name, *field;
    } rows[] = {
        {"peak 0", "tidal.peak_rate_per_s"},
        {"trough above peak", "tidal.trough_rate_per_s"},
        {"hour 25", "tidal.peaks"},
        {"width 0.1", "tidal.peaks"},
        {"rel 0", "tidal.peaks"},
        {"7 peaks", "tidal.peaks"},
        {"days 0", "tidal.days"},
        {"weekend -1", "tidal.weekend_factor"},
        {"weekday 7", "tidal.start_weekday"},
        {"nan peak", "tidal.peak_rate_per_s"},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        tidal_opts o;
        tidal_opts_default(&o);
        switch (i) {
        case 0: o.peak_rate_per_s = 0; break;
        case 1: o.trough_rate_per_s = 6; break;
        case 2: o.peak_hour[1] = 25; break;
        case 3: o.peak_width_h[0] = 0.1; break;
        case 4: o.peak_rel[0] = 0; break;
        case 5: o.n_peaks = 7; break;
        case 6: o.days = 0; break;
        case 7: o.weekend_factor = -1; break;
        case 8: o.start_weekday = 7; break;
        case 9: o.peak_rate_per_s = NAN; break;
        }
        arrival_src *s = (arrival_src *)1;
        gp_error e;
        gp_error_clear(&e);
        int rc = trace_open_tidal(&o, &s, &e);
        if (rc != GP_ERANGE || s != NULL || strcmp(e.field, rows[i].field) != 0)
            fail_msg("%s: rc %d field '%s' want '%s'", rows[i].name, rc, e.field, rows[i].field);
        assert_true(isnan(tidal_rate_per_s(&o, 0)));
    }
}

static void test_poisson(void **state)
{
    (void)state;
    static const struct {
        double rate;
        int64_t dur_us;
    } rows[] = {
        {0.5, 3600LL * 1000000}, {10, 3600LL * 1000000}, {1000, 60LL * 1000000}, {0, 1000000}};
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        arrival_src *s;
        gp_error e;
        assert_int_equal(trace_open_poisson(rows[i].rate, rows[i].dur_us, NULL, 5, &s, &e), 0);
        assert_string_equal(arrival_src_kind(s), "poisson");
        assert_int_equal(arrival_src_span_us(s), rows[i].dur_us);
        request_spec r;
        double prev = 0, sum = 0, sumsq = 0;
        uint64_t n = 0;
        while (arrival_src_next(s, &r, &e) > 0) {
            double t = (double)r.arrival_us / 1e6;
            assert_true(r.arrival_us < rows[i].dur_us && t >= prev);
            sum += t - prev;
            sumsq += (t - prev) * (t - prev);
            prev = t;
            n++;
        }
        assert_int_equal(arrival_src_next(s, &r, &e), 0);
        arrival_src_free(s);
        double mean = rows[i].rate * (double)rows[i].dur_us / 1e6;
        if (fabs((double)n - mean) > 5 * sqrt(mean) + 1e-9)
            fail_msg("rate %g: %llu arrivals, want %g", rows[i].rate, (unsigned long long)n, mean);
        if (n > 1000) {
            double m = sum / (double)n, cv = sqrt(sumsq / (double)n - m * m) / m;
            if (fabs(cv - 1) > 0.1)
                fail_msg("rate %g: inter-arrival cv %g, want 1", rows[i].rate, cv);
        }
    }
    arrival_src *s;
    gp_error e;
    assert_int_equal(trace_open_poisson(-1, 1000, NULL, 1, &s, &e), GP_ERANGE);
    assert_string_equal(e.field, "poisson.rate_per_s");
    assert_int_equal(trace_open_poisson(1, 0, NULL, 1, &s, &e), GP_ERANGE);
    image_mix bad;
    image_mix_default(&bad);
    bad.cls[1].mp_max = 1;
    assert_int_equal(trace_open_poisson(1, 1000, &bad, 1, &s, &e), GP_ERANGE);
}

static void test_list(void **state)
{
    (void)state;
    const request_spec specs[] = {{0, 2.0f, 1}, {5, 3.0f, 0}, {5, 24.0f, 4}, {900, 1.0f, 2}};
    arrival_src *s;
    gp_error e;
    assert_int_equal(trace_open_list(specs, 4, &s, &e), 0);
    assert_string_equal(arrival_src_kind(s), "list");
    assert_int_equal(arrival_src_span_us(s), 900);
    request_spec r;
    for (int i = 0; i < 4; i++) {
        assert_int_equal(arrival_src_next(s, &r, &e), 1);
        assert_memory_equal(&r, &specs[i], sizeof(r));
    }
    assert_int_equal(arrival_src_next(s, &r, &e), 0);
    arrival_src_free(s);
    assert_int_equal(trace_open_list(specs, 0, &s, &e), 0);
    assert_int_equal(arrival_src_next(s, &r, &e), 0);
    arrival_src_free(s);
    arrival_src_free(NULL);
    static const struct {
        const char *name;
        request_spec bad;
    } rows[] = {
        {"unsorted", {-0, 2.0f, 1}},          {"negative time", {-1, 2.0f, 1}},
        {"zero mp", {1000, 0.0f, 1}},         {"nan mp", {1000, NAN, 1}},
        {"negative faces", {1000, 1.0f, -1}},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        request_spec l[5];
        memcpy(l, specs, sizeof(specs));
        l[4] = rows[i].bad;
        size_t n = 5;
        if (i == 1) {
            l[0] = rows[i].bad;
            n = 1;
        }
        s = (arrival_src *)1;
        if (trace_open_list(l, n, &s, &e) != GP_ERANGE || s != NULL)
            fail_msg("%s: accepted", rows[i].name);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_curve_shape),
        cmocka_unit_test(test_tidal_counts),
        cmocka_unit_test(test_tidal_deterministic),
        cmocka_unit_test(test_tidal_bad_options),
        cmocka_unit_test(test_poisson),
        cmocka_unit_test(test_list),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
