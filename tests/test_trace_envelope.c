/* test_trace_envelope.c: rate envelopes turned into arrivals: counts per window against
 * the envelope (within 5 standard deviations), gamma renewal CVs, clients summed or
 * filtered, data gaps, window inference, start/end/time/rate scaling, sorting, the
 * expected statistics, and the bad-input files of tests/data/traces/env_*.csv. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "traces/trace.h"
#include "traces/trace_internal.h"

#define DATA "tests/data/traces/"

static void write_temp(char *path, size_t len, const char *text)
{
    snprintf(path, len, "/tmp/gpenlab-env-XXXXXX.csv");
    int fd = mkstemps(path, 4);
    assert_true(fd >= 0);
    FILE *f = fdopen(fd, "w");
    fputs(text, f);
    fclose(f);
}

static arrival_src *open_ok(const trace_envelope_opts *o)
{
    arrival_src *s = NULL;
    gp_error e;
    gp_error_clear(&e);
    if (trace_open_envelope(o, &s, &e) < 0) {
        char buf[1024];
        gp_error_format(&e, buf, sizeof(buf));
        fail_msg("%s: %s", o->path, buf);
    }
    return s;
}

/* Counts arrivals per window of `window_s` (up to 64 windows); checks order. */
static uint64_t count_windows(arrival_src *s, double window_s, uint64_t *counts, int n_win)
{
    request_spec r;
    gp_error e;
    uint64_t n = 0;
    int64_t prev = 0;
    int rc;
    memset(counts, 0, (size_t)n_win * sizeof(*counts));
    while ((rc = arrival_src_next(s, &r, &e)) > 0) {
        if (r.arrival_us < prev)
            fail_msg("arrival %llu at %lld us before %lld us", (unsigned long long)n,
                     (long long)r.arrival_us, (long long)prev);
        prev = r.arrival_us;
        int w = (int)((double)r.arrival_us / 1e6 / window_s);
        if (w >= 0 && w < n_win)
            counts[w]++;
        n++;
    }
    assert_int_equal(rc, 0);
    return n;
}

static void check_count(const char *name, double got, double want, double sd)
{
    if (fabs(got - want) > 5 * sd + 1e-9)
        fail_msg("%s: got %.0f want %.1f +- %.1f (5 sd)", name, got, want, 5 * sd);
}

static void test_piecewise_poisson(void **state)
{
    (void)state;
    static const double rate[] = {1, 0, 5, 2, 0, 10};
    char text[512], path[64];
    size_t len = (size_t)snprintf(text, sizeof(text), "window_start_s,rate\n");
    for (int i = 0; i < 6; i++)
        len += (size_t)snprintf(text + len, sizeof(text) - len, "%d,%g\n", i * 600, rate[i]);
    write_temp(path, sizeof(path), text);
    for (uint64_t seed = 1; seed <= 3; seed++) {
        trace_envelope_opts o;
        trace_envelope_opts_default(&o);
        o.path = path;
        o.time_col = "window_start_s";
        o.rate_col = "rate";
        o.seed = seed;
        arrival_src *s = open_ok(&o);
        assert_string_equal(arrival_src_kind(s), "envelope");
        assert_int_equal(arrival_src_span_us(s), 3600LL * 1000000);
        assert_int_equal(arrival_src_origin_us(s), 0);
        assert_false(arrival_src_origin_is_date(s));
        uint64_t c[6];
        count_windows(s, 600, c, 6);
        arrival_src_free(s);
        for (int i = 0; i < 6; i++) {
            char name[64];
            snprintf(name, sizeof(name), "seed %llu window %d", (unsigned long long)seed, i);
            if (rate[i] == 0 && c[i] != 0)
                fail_msg("%s: %llu arrivals in a zero-rate window", name, (unsigned long long)c[i]);
            check_count(name, (double)c[i], rate[i] * 600, sqrt(rate[i] * 600));
        }
    }
    unlink(path);
}

/* Inter-arrival CV of one long window with a given cv (gamma renewal). */
static double window_cv(double cv, uint64_t *n_out)
{
    char text[256], path[64];
    snprintf(text, sizeof(text), "t,rate,cv\n0,2,%g\n200000,2,%g\n", cv, cv);
    write_temp(path, sizeof(path), text);
    trace_envelope_opts o;
    trace_envelope_opts_default(&o);
    o.path = path;
    o.time_col = "t";
    o.rate_col = "rate";
    o.cv_col = "cv";
    arrival_src *s = open_ok(&o);
    request_spec r;
    gp_error e;
    double prev = -1, sum = 0, sumsq = 0;
    uint64_t n = 0;
    while (arrival_src_next(s, &r, &e) > 0) {
        double t = (double)r.arrival_us / 1e6;
        if (prev >= 0) {
            sum += t - prev;
            sumsq += (t - prev) * (t - prev);
        }
        prev = t;
        n++;
    }
    arrival_src_free(s);
    unlink(path);
    *n_out = n;
    double mean = sum / (double)(n - 1);
    return sqrt(sumsq / (double)(n - 1) - mean * mean) / mean;
}

static void test_gamma_cv(void **state)
{
    (void)state;
    static const struct {
        double cv, tol;
    } rows[] = {
        {1.0, 0.03},
        {0.5, 0.03},
        {2.0, 0.1},
        {4.0, 0.25},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        uint64_t n;
        double got = window_cv(rows[i].cv, &n);
        if (fabs(got - rows[i].cv) > rows[i].tol * rows[i].cv + 0.02)
            fail_msg("cv %g: measured %g over %llu arrivals", rows[i].cv, got,
                     (unsigned long long)n);
        /* mean rate is kept: 2 req/s over 400000 s */
        check_count("gamma count", (double)n, 800000, sqrt(800000.0) * rows[i].cv);
    }
    /* cv 0: evenly spaced, exactly rate x time */
    uint64_t n;
    double got = window_cv(0.0, &n);
    assert_true(got < 1e-3);
    assert_true(n >= 799999 && n <= 800000);
}

static const char clients_text[] = "client_id,window_start_s,rate,cv,active_clients\n"
                                   "a,0,1.0,1.0,2\n"
                                   "b,0,3.0,2.0,2\n"
                                   "a,600,0.0,0.0,1\n"
                                   "b,600,2.0,0.5,1\n"
                                   "a,1200,0.0,0.0,0\n"
                                   "b,1200,0.0,0.0,0\n"
                                   "a,1800,4.0,1.0,2\n"
                                   "b,1800,1.0,1.0,2\n";

static void test_clients_sum_filter_gaps(void **state)
{
    (void)state;
    char path[64];
    write_temp(path, sizeof(path), clients_text);
    static const struct {
        const char *name, *cv_col, *client_col, *filter_value;
        double want[4];
        double cv_max;
    } rows[] = {
        {"summed, Poisson", NULL, NULL, NULL, {2400, 1200, 0, 3000}, 1},
        {"clients by order, gamma", "cv", NULL, NULL, {2400, 1200, 0, 3000}, 2},
        {"clients by name, gamma", "cv", "client_id", NULL, {2400, 1200, 0, 3000}, 2},
        {"client b only", "cv", NULL, "b", {1800, 1200, 0, 600}, 2},
        {"client a only, no cv", NULL, NULL, "a", {600, 0, 0, 2400}, 1},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        char *warn = NULL;
        size_t wlen = 0;
        FILE *w = open_memstream(&warn, &wlen);
        trace_envelope_opts o;
        trace_envelope_opts_default(&o);
        o.path = path;
        o.time_col = "window_start_s";
        o.rate_col = "rate";
        o.cv_col = rows[i].cv_col;
        o.client_col = rows[i].client_col;
        if (rows[i].filter_value) {
            o.filter_col = "client_id";
            o.filter_value = rows[i].filter_value;
        }
        o.warn = w;
        o.seed = 7;
        arrival_src *s = open_ok(&o);
        fclose(w);
        char want_warn[200];
        snprintf(want_warn, sizeof(want_warn),
                 "warning: %s: 1 windows with active_clients = 0 are data gaps: rate 0 there\n",
                 path);
        if (strcmp(warn, want_warn) != 0)
            fail_msg("%s: warnings '%s'", rows[i].name, warn);
        free(warn);
        assert_int_equal(arrival_src_span_us(s), 2400LL * 1000000);
        uint64_t c[4];
        count_windows(s, 600, c, 4);
        arrival_src_free(s);
        for (int k = 0; k < 4; k++) {
            char name[96];
            snprintf(name, sizeof(name), "%s, window %d", rows[i].name, k);
            /* a renewal process counts with variance about mean x cv^2 (plus carry-over
             * between windows); 2x that is a safe bound here */
            check_count(name, (double)c[k], rows[i].want[k],
                        2 * rows[i].cv_max * sqrt(rows[i].want[k]) + 3);
        }
    }
    /* the gap column can be named, and then active_clients is not used */
    trace_envelope_opts o;
    trace_envelope_opts_default(&o);
    o.path = path;
    o.time_col = "window_start_s";
    o.rate_col = "rate";
    o.gap_col = "cv"; /* rows with cv 0 become gaps: windows 600 (a), 1200 */
    arrival_src *s = open_ok(&o);
    uint64_t c[4];
    count_windows(s, 600, c, 4);
    arrival_src_free(s);
    check_count("gap column cv, window 1", (double)c[1], 1200, sqrt(1200.0));
    unlink(path);
}

static void test_window_inference_start_end_scale(void **state)
{
    (void)state;
    char path[64];
    /* windows at 0, 600 and 1800: 1200..1800 is missing and has rate 0 */
    write_temp(path, sizeof(path), "t,n\n1800,600\n0,1200\n600,0\n");
    static const struct {
        const char *name;
        int64_t window_us, start_us, end_us;
        double time_scale, rate_scale;
        int64_t want_span_us;
        double want_count;
    } rows[] = {
        {"all", 0, 0, 0, 1, 1, 2400000000LL, 1800},
        {"window given 300 s", 300000000, 0, 0, 1, 1, 2100000000LL, 1800},
        {"from 1500 s", 0, 1500000000, 0, 1, 1, 900000000LL, 600},
        {"[0, 300 s)", 0, 0, 300000000, 1, 1, 300000000LL, 600},
        {"twice as fast", 0, 0, 0, 2, 1, 1200000000LL, 1800},
        {"rate x 0.5", 0, 0, 0, 1, 0.5, 2400000000LL, 900},
        {"rate x 3, 10x faster", 0, 0, 0, 10, 3, 240000000LL, 5400},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        char *warn = NULL;
        size_t wlen = 0;
        FILE *w = open_memstream(&warn, &wlen);
        trace_envelope_opts o;
        trace_envelope_opts_default(&o);
        o.path = path;
        o.time_col = "t";
        o.rate_col = "n";
        o.rate_per_window = true;
        o.window_us = rows[i].window_us;
        o.start_us = rows[i].start_us;
        o.end_us = rows[i].end_us;
        o.time_scale = rows[i].time_scale;
        o.rate_scale = rows[i].rate_scale;
        o.warn = w;
        arrival_src *s = open_ok(&o);
        fclose(w);
        char want_warn[200];
        snprintf(want_warn, sizeof(want_warn),
                 "warning: %s: 2 of 3 rows were out of time order; sorted them\n", path);
        assert_string_equal(warn, want_warn);
        free(warn);
        if (arrival_src_span_us(s) != rows[i].want_span_us)
            fail_msg("%s: span %lld want %lld", rows[i].name, (long long)arrival_src_span_us(s),
                     (long long)rows[i].want_span_us);
        uint64_t c[1];
        uint64_t n = count_windows(s, 1e9, c, 1);
        arrival_src_free(s);
        check_count(rows[i].name, (double)n, rows[i].want_count, sqrt(rows[i].want_count));
        trace_stats st;
        gp_error e;
        o.warn = NULL;
        assert_int_equal(trace_envelope_expected_stats(&o, 0, &st, &e), 0);
        if (fabs((double)st.count - rows[i].want_count) > 0.5)
            fail_msg("%s: expected count %llu want %g", rows[i].name, (unsigned long long)st.count,
                     rows[i].want_count);
    }
    /* start beyond the end */
    trace_envelope_opts o;
    trace_envelope_opts_default(&o);
    o.path = path;
    o.time_col = "t";
    o.rate_col = "n";
    o.start_us = 5000000000LL;
    arrival_src *s;
    gp_error e;
    assert_int_equal(trace_open_envelope(&o, &s, &e), GP_ERANGE);
    assert_string_equal(e.field, "start");
    o.start_us = 0;
    o.end_us = 0;
    o.time_scale = 0;
    assert_int_equal(trace_open_envelope(&o, &s, &e), GP_ERANGE);
    unlink(path);
}

static void test_iso_envelope_and_expected_stats(void **state)
{
    (void)state;
    char path[64];
    /* per-minute counts with ISO minutes, like the Azure LMM file */
    write_temp(path, sizeof(path),
               "# comment\n# another\nminute,timestamp,requests\n"
               "0,2024-10-15T12:00Z,60\n1,2024-10-15T12:01Z,120\n2,2024-10-15T12:02Z,0\n"
               "3,2024-10-15T12:03Z,60\n");
    trace_envelope_opts o;
    trace_envelope_opts_default(&o);
    o.path = path;
    o.time_col = "timestamp";
    o.rate_col = "requests";
    o.rate_per_window = true;
    arrival_src *s = open_ok(&o);
    assert_true(arrival_src_origin_is_date(s));
    int64_t t0;
    assert_int_equal(textparse_iso_us("2024-10-15T12:00Z", &t0), 0);
    assert_int_equal(arrival_src_origin_us(s), t0);
    assert_int_equal(arrival_src_span_us(s), 240000000);
    uint64_t c[4];
    count_windows(s, 60, c, 4);
    arrival_src_free(s);
    assert_int_equal(c[2], 0);
    check_count("minute 1", (double)c[1], 120, sqrt(120.0));
    trace_stats st;
    gp_error e;
    /* 12:00 clock: day offset 12 h */
    assert_int_equal(trace_envelope_expected_stats(&o, 12LL * 3600 * 1000000, &st, &e), 0);
    assert_int_equal(st.count, 240);
    assert_true(fabs(st.peak_rate_per_s - 2.0) < 1e-9);
    assert_true(fabs(st.mean_rate_per_s - 1.0) < 1e-9);
    /* minute counts 60, 120, 0, 60: mean 60, sd sqrt(1800) */
    assert_true(fabs(st.cv_per_minute - sqrt(1800.0) / 60) < 1e-9);
    assert_true(fabs(st.hour_counts[12] - 240) < 1e-9);
    assert_true(fabs(st.hour_days[12] - 4.0 / 60) < 1e-12);
    assert_true(isnan(st.cv_interarrival));
    assert_int_equal(st.span_us, 240000000);
    assert_true(st.mean_mp > 1 && st.no_face_frac > 0.05 && st.no_face_frac < 0.15);
    unlink(path);
}

static void test_deterministic_by_seed(void **state)
{
    (void)state;
    char path[64];
    write_temp(path, sizeof(path), clients_text);
    static request_spec a[20000], b[20000];
    size_t na = 0, nb = 0;
    for (int run = 0; run < 3; run++) {
        trace_envelope_opts o;
        trace_envelope_opts_default(&o);
        o.path = path;
        o.time_col = "window_start_s";
        o.rate_col = "rate";
        o.cv_col = "cv";
        o.seed = run == 2 ? 6 : 5;
        arrival_src *s = open_ok(&o);
        request_spec *dst = run == 0 ? a : b;
        size_t n = 0;
        gp_error e;
        while (n < 20000 && arrival_src_next(s, &dst[n], &e) > 0)
            n++;
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
    unlink(path);
}

static void test_cv_cap_warning(void **state)
{
    (void)state;
    char path[64];
    write_temp(path, sizeof(path), "t,rate,cv\n0,1,50\n600,1,1\n");
    char *warn = NULL;
    size_t wlen = 0;
    FILE *w = open_memstream(&warn, &wlen);
    trace_envelope_opts o;
    trace_envelope_opts_default(&o);
    o.path = path;
    o.time_col = "t";
    o.rate_col = "rate";
    o.cv_col = "cv";
    o.warn = w;
    arrival_src *s = open_ok(&o);
    fclose(w);
    arrival_src_free(s);
    assert_non_null(strstr(warn, "1 windows have a cv above 20; capped to 20"));
    free(warn);
    unlink(path);
}

static void test_bad_envelopes(void **state)
{
    (void)state;
    static const struct {
        const char *file, *rate_col, *filter_value;
        int want_code;
    } rows[] = {
        {"env_negative_rate.csv", "rate", NULL, GP_ERANGE},
        {"env_nan_cv.csv", "rate", NULL, GP_ERANGE},
        {"env_single_window.csv", "rate", NULL, GP_EPARSE},
        {"env_filter_nomatch.csv", "rate", "99", GP_EMISSING},
        {"env_missing_rate.csv", "req_per_s", NULL, GP_EMISSING},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        char path[256], errpath[256], got[1024], want[1024];
        snprintf(path, sizeof(path), DATA "%s", rows[i].file);
        snprintf(errpath, sizeof(errpath), DATA "%.*s.err",
                 (int)(strchr(rows[i].file, '.') - rows[i].file), rows[i].file);
        if (strcmp(rows[i].file, "env_missing_rate.csv") == 0)
            snprintf(path, sizeof(path), DATA "env_negative_rate.csv");
        trace_envelope_opts o;
        trace_envelope_opts_default(&o);
        o.path = path;
        o.time_col = "window_start_s";
        o.rate_col = rows[i].rate_col;
        o.cv_col = "cv";
        if (rows[i].filter_value) {
            o.filter_col = "client_id";
            o.filter_value = rows[i].filter_value;
        }
        arrival_src *s = NULL;
        gp_error e;
        gp_error_clear(&e);
        int rc = trace_open_envelope(&o, &s, &e);
        if (rc >= 0) {
            arrival_src_free(s);
            fail_msg("%s: opened, want error %d", rows[i].file, rows[i].want_code);
        }
        gp_error_format(&e, got, sizeof(got));
        FILE *f = fopen(errpath, "r");
        if (!f)
            fail_msg("%s: no %s (got '%s')", rows[i].file, errpath, got);
        if (!fgets(want, sizeof(want), f))
            want[0] = '\0';
        fclose(f);
        want[strcspn(want, "\n")] = '\0';
        if (rc != rows[i].want_code || strcmp(got, want) != 0)
            fail_msg("%s: got %d '%s'\n want %d '%s'", rows[i].file, rc, got, rows[i].want_code,
                     want);
        /* the expected statistics refuse the same input the same way */
        trace_stats st;
        assert_int_equal(trace_envelope_expected_stats(&o, 0, &st, &e), rc);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_piecewise_poisson),
        cmocka_unit_test(test_gamma_cv),
        cmocka_unit_test(test_clients_sum_filter_gaps),
        cmocka_unit_test(test_window_inference_start_end_scale),
        cmocka_unit_test(test_iso_envelope_and_expected_stats),
        cmocka_unit_test(test_deterministic_by_seed),
        cmocka_unit_test(test_cv_cap_warning),
        cmocka_unit_test(test_bad_envelopes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
