/* test_trace_real.c: every trace in traces/data/ loads and replays, and its figures
 * match traces/data/SOURCES.md: row counts, spans, origins (7-digit fractions),
 * requests per day and per busiest hour (start/end windowing), per-minute counts, peaks
 * and CVs; envelopes (Azure LMM per-minute counts with '#' lines, ServeGen total-rate
 * files with data gaps, ServeGen per-client files summed or filtered) give their expected
 * request counts, and replays fall within a few standard deviations of them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/common.h"
#include "traces/trace.h"
#include "traces/trace_internal.h"

#define TRACES     "traces/data/"
#define ALIBABA    TRACES "alibaba_gentd26_sd_requests.csv.gz"
#define AZURE_CODE TRACES "azure_llm_2023_code.csv.gz"
#define AZURE_LMM  TRACES "azure_lmm_2024_per_minute.csv.gz"

static void fail_err(const char *what, const gp_error *e)
{
    char buf[1024];
    gp_error_format(e, buf, sizeof(buf));
    fail_msg("%s: %s", what, buf);
}

static arrival_src *open_csv(const trace_csv_opts *o)
{
    arrival_src *s = NULL;
    gp_error e;
    gp_error_clear(&e);
    if (trace_open_csv(o, &s, &e) < 0)
        fail_err(o->path, &e);
    return s;
}

static arrival_src *open_env(const trace_envelope_opts *o)
{
    arrival_src *s = NULL;
    gp_error e;
    gp_error_clear(&e);
    if (trace_open_envelope(o, &s, &e) < 0)
        fail_err(o->path, &e);
    return s;
}

static int64_t day_offset(const arrival_src *s)
{
    return ((arrival_src_origin_us(s) % US_PER_DAY) + US_PER_DAY) % US_PER_DAY;
}

/* Stats of a source, which it consumes and frees. */
static trace_stats stats_of(arrival_src *s)
{
    trace_stats st;
    gp_error e;
    if (trace_compute_stats(s, day_offset(s), &st, &e) < 0)
        fail_err("stats", &e);
    arrival_src_free(s);
    return st;
}

static void near(const char *what, double got, double want, double tol)
{
    if (!(fabs(got - want) <= tol))
        fail_msg("%s: got %.10g want %.10g (+- %g)", what, got, want, tol);
}

static int64_t iso(const char *s)
{
    int64_t t;
    assert_int_equal(textparse_iso_us(s, &t), 0);
    return t;
}

static void test_alibaba(void **state)
{
    (void)state;
    trace_csv_opts o;
    trace_csv_opts_default(&o);
    o.path = ALIBABA;
    o.time_col = "gmt_create";
    arrival_src *s = open_csv(&o);
    assert_true(arrival_src_origin_is_date(s));
    assert_int_equal(arrival_src_origin_us(s), iso("2025-02-01 09:57:50"));
    assert_int_equal(arrival_src_span_us(s), 1989367LL * 1000000);
    trace_stats st = stats_of(s);
    assert_int_equal(st.count, 26823);
    near("mean rate", st.mean_rate_per_s, 0.01348, 0.000005);
    near("peak 1-min", st.peak_rate_per_s * 60, 64, 0);
    near("CV(1-min)", st.cv_per_minute, 2.16, 0.005);
    /* requests per (China-time) day and in the busiest clock hour */
    static const struct {
        const char *start, *end;
        uint64_t want;
    } rows[] = {
        {"2025-02-04 00:00:00", "2025-02-05 00:00:00", 56},
        {"2025-02-05 00:00:00", "2025-02-06 00:00:00", 744},
        {"2025-02-08 00:00:00", "2025-02-09 00:00:00", 1504},
        {"2025-02-18 00:00:00", "2025-02-19 00:00:00", 2636},
        {"2025-02-22 00:00:00", "2025-02-23 00:00:00", 541},
        {"2025-02-24 00:00:00", NULL, 124},
        {"2025-02-21 17:00:00", "2025-02-21 18:00:00", 436},
        {NULL, "2025-02-02 00:00:00", 103},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        o.start = rows[i].start;
        o.end = rows[i].end;
        trace_stats w = stats_of(open_csv(&o));
        if (w.count != rows[i].want)
            fail_msg("[%s, %s): %llu requests, want %llu", rows[i].start, rows[i].end,
                     (unsigned long long)w.count, (unsigned long long)rows[i].want);
    }
    /* rate scaling: x10 keeps every row ten times, x0.5 thins */
    o.start = o.end = NULL;
    o.rate_scale = 10;
    assert_int_equal(stats_of(open_csv(&o)).count, 268230);
    o.rate_scale = 0.5;
    near("thinned to half", (double)stats_of(open_csv(&o)).count, 13411.5, 5 * sqrt(26823 * 0.25));
    /* a day in an hour */
    o.rate_scale = 1;
    o.time_scale = 24;
    s = open_csv(&o);
    assert_int_equal(arrival_src_span_us(s), llround(1989367e6 / 24));
    assert_int_equal(stats_of(s).count, 26823);
}

static void test_azure_code(void **state)
{
    (void)state;
    trace_csv_opts o;
    trace_csv_opts_default(&o);
    o.path = AZURE_CODE;
    o.time_col = "TIMESTAMP";
    arrival_src *s = open_csv(&o);
    int64_t first = iso("2023-11-16 18:17:03.9799600"), last = iso("2023-11-16 19:14:19.9280160");
    assert_int_equal(arrival_src_origin_us(s), first);
    assert_int_equal(arrival_src_span_us(s), last - first);
    /* per-minute counts of SOURCES.md, calendar minutes 18:17 .. 19:14 */
    static const int want[58] = {63,  0,  0,   531, 166, 151, 15,  42,  38,  476, 403, 81,
                                 0,   0,  585, 346, 0,   8,   336, 348, 155, 78,  274, 462,
                                 264, 39, 128, 111, 315, 325, 118, 169, 91,  345, 158, 0,
                                 322, 57, 300, 191, 0,   1,   225, 252, 99,  0,   0,   32,
                                 0,   0,  0,   97,  212, 22,  0,   137, 14,  237};
    int got[58] = {0};
    int64_t off = day_offset(s), m0 = off / 60000000;
    request_spec r;
    gp_error e;
    uint64_t n = 0;
    while (arrival_src_next(s, &r, &e) > 0) {
        int64_t m = (r.arrival_us + off) / 60000000 - m0;
        assert_true(m >= 0 && m < 58);
        got[m]++;
        n++;
    }
    arrival_src_free(s);
    assert_int_equal(n, 8819);
    for (int m = 0; m < 58; m++)
        if (got[m] != want[m])
            fail_msg("minute %d: %d requests, want %d", m, got[m], want[m]);
    trace_stats st = stats_of(open_csv(&o));
    near("mean rate", st.mean_rate_per_s, 2.567, 0.0005);
    near("peak 1-min", st.peak_rate_per_s * 60, 585, 0);
    near("CV(1-min)", st.cv_per_minute, 1.02, 0.005);
    near("inter-arrival CV", st.cv_interarrival, 13.2, 0.05);
}

static void test_azure_lmm(void **state)
{
    (void)state;
    trace_envelope_opts o;
    trace_envelope_opts_default(&o);
    o.path = AZURE_LMM;
    o.time_col = "timestamp";
    o.rate_col = "requests";
    o.rate_per_window = true;
    trace_stats st;
    gp_error e;
    arrival_src *s = open_env(&o);
    assert_true(arrival_src_origin_is_date(s));
    assert_int_equal(arrival_src_origin_us(s), iso("2024-10-15T12:00Z"));
    assert_int_equal(arrival_src_span_us(s), 7 * US_PER_DAY);
    int64_t off = day_offset(s);
    assert_int_equal(off, 12LL * 3600 * 1000000);
    if (trace_envelope_expected_stats(&o, off, &st, &e) < 0)
        fail_err("expected stats", &e);
    assert_int_equal(st.count, 1000000);
    near("peak minute", st.peak_rate_per_s * 60, 468, 1e-6);
    near("mean per minute", st.mean_rate_per_s * 60, 99.21, 0.005);
    near("CV(1-min)", st.cv_per_minute, 0.57, 0.005);
    near("hour 00 UTC", st.hour_counts[0] / st.hour_days[0], 5548.4, 0.05);
    near("hour 16 UTC", st.hour_counts[16] / st.hour_days[16], 7297.4, 0.05);
    /* the replay: Poisson per minute, 1,000,000 in expectation (sd 1000) */
    trace_stats rs = stats_of(s);
    near("replayed count", (double)rs.count, 1e6, 5 * 1000);
    near("replayed peak minute", rs.peak_rate_per_s * 60, 468, 5 * sqrt(468.0) + 40);
}

static void test_servegen_total_rates(void **state)
{
    (void)state;
    static const struct {
        const char *file;
        int windows, gaps;
        double mean_rate, mean_step, peak_rate, scale; /* SOURCES.md's figures, rounded */
    } rows[] = {
        {"servegen_m-small_total_rate_10min.csv", 2016, 37, 1196.4, 0.1, 3879.5, 1e-4},
        {"servegen_m-large_total_rate_10min.csv", 2016, 0, 195.8, 0.1, 583.0, 1e-3},
        {"servegen_m-mid_total_rate_10min.csv", 2016, 84, 1867.9, 0.1, 3444.8, 1e-4},
        {"servegen_mm-image_total_rate_10min.csv", 144, 0, 9.475, 0.001, 13.29, 0.5},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        char path[256];
        snprintf(path, sizeof(path), TRACES "%s", rows[i].file);
        char *warn = NULL;
        size_t wlen = 0;
        FILE *w = open_memstream(&warn, &wlen);
        trace_envelope_opts o;
        trace_envelope_opts_default(&o);
        o.path = path;
        o.time_col = "window_start_s";
        o.rate_col = "total_rate_req_per_s";
        o.warn = w;
        trace_stats st;
        gp_error e;
        arrival_src *s = open_env(&o);
        fclose(w);
        char want_warn[600] = "";
        if (rows[i].gaps)
            snprintf(
                want_warn, sizeof(want_warn),
                "warning: %s: %d windows with active_clients = 0 are data gaps: rate 0 there\n",
                path, rows[i].gaps);
        if (strcmp(warn, want_warn) != 0)
            fail_msg("%s: warnings '%s'", rows[i].file, warn);
        free(warn);
        assert_int_equal(arrival_src_span_us(s), rows[i].windows * 600LL * 1000000);
        arrival_src_free(s);
        o.warn = NULL;
        if (trace_envelope_expected_stats(&o, 0, &st, &e) < 0)
            fail_err(rows[i].file, &e);
        double want = rows[i].mean_rate * 600 * (rows[i].windows - rows[i].gaps);
        char what[300];
        snprintf(what, sizeof(what), "%s: expected requests", rows[i].file);
        near(what, (double)st.count, want, 0.5 * rows[i].mean_step / rows[i].mean_rate * want);
        snprintf(what, sizeof(what), "%s: peak", rows[i].file);
        near(what, st.peak_rate_per_s, rows[i].peak_rate, 0.05);
        /* a scaled replay: Poisson around the scaled expectation */
        o.rate_scale = rows[i].scale;
        trace_stats rs = stats_of(open_env(&o));
        double mean = (double)st.count * rows[i].scale;
        snprintf(what, sizeof(what), "%s: replay x %g", rows[i].file, rows[i].scale);
        near(what, (double)rs.count, mean, 5 * sqrt(mean));
    }
}

static void test_servegen_clients(void **state)
{
    (void)state;
    static const struct {
        const char *clients, *total, *busy_client;
        double busy_requests, busy_cv_max, scale;
        int64_t end_us;
    } rows[] = {
        {"servegen_mm-image_clients_10min.csv.gz", "servegen_mm-image_total_rate_10min.csv", "12",
         110671, 1.1, 1.0, 0},
        {"servegen_m-small_clients_10min.csv.gz", "servegen_m-small_total_rate_10min.csv", "5",
         424415972, 20, 1e-4, 0},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        char cpath[256], tpath[256], what[300];
        snprintf(cpath, sizeof(cpath), TRACES "%s", rows[i].clients);
        snprintf(tpath, sizeof(tpath), TRACES "%s", rows[i].total);
        trace_envelope_opts o;
        trace_envelope_opts_default(&o);
        o.path = tpath;
        o.time_col = "window_start_s";
        o.rate_col = "total_rate_req_per_s";
        trace_stats total, summed, busy;
        gp_error e;
        if (trace_envelope_expected_stats(&o, 0, &total, &e) < 0)
            fail_err(tpath, &e);
        /* the per-client file sums to the total-rate file (rounded to 6 decimals there) */
        o.path = cpath;
        o.rate_col = "rate_req_per_s";
        o.cv_col = "cv";
        o.client_col = "client_id";
        if (trace_envelope_expected_stats(&o, 0, &summed, &e) < 0)
            fail_err(cpath, &e);
        snprintf(what, sizeof(what), "%s: clients summed vs total", rows[i].clients);
        near(what, (double)summed.count, (double)total.count, 1e-5 * (double)total.count + 2);
        for (int h = 0; h < 24; h++)
            near(what, summed.hour_counts[h], total.hour_counts[h],
                 1e-5 * total.hour_counts[h] + 1);
        /* one client, gamma renewal with its own CV per window */
        o.client_col = NULL;
        o.filter_col = "client_id";
        o.filter_value = rows[i].busy_client;
        o.rate_scale = rows[i].scale;
        if (trace_envelope_expected_stats(&o, 0, &busy, &e) < 0)
            fail_err(cpath, &e);
        snprintf(what, sizeof(what), "%s: client %s expected", rows[i].clients,
                 rows[i].busy_client);
        near(what, (double)busy.count, rows[i].busy_requests * rows[i].scale, 1);
        trace_stats rs = stats_of(open_env(&o));
        snprintf(what, sizeof(what), "%s: client %s replayed", rows[i].clients,
                 rows[i].busy_client);
        double mean = (double)busy.count;
        near(what, (double)rs.count, mean, 5 * 2 * rows[i].busy_cv_max * sqrt(mean));
    }
    /* all mm-image clients superposed, each its own renewal process: close to the total
     * (loose: a few clients have CVs of 5-15, whose counts swing by thousands) */
    trace_envelope_opts o;
    trace_envelope_opts_default(&o);
    o.path = TRACES "servegen_mm-image_clients_10min.csv.gz";
    o.time_col = "window_start_s";
    o.rate_col = "rate_req_per_s";
    o.cv_col = "cv";
    for (uint64_t seed = 1; seed <= 2; seed++) {
        o.seed = seed;
        trace_stats rs = stats_of(open_env(&o));
        near("mm-image clients superposed", (double)rs.count, 818640, 0.05 * 818640);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_alibaba),          cmocka_unit_test(test_azure_code),
        cmocka_unit_test(test_azure_lmm),        cmocka_unit_test(test_servegen_total_rates),
        cmocka_unit_test(test_servegen_clients),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
