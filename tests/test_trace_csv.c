/* test_trace_csv.c: recorded per-request traces: ISO date-times, the CSV reader (quotes,
 * comments, BOM, CRLF, gzip), sorting with its warning, start/end windowing, time and
 * rate scaling, and the bad-input files of tests/data/traces/ (X.csv with its expected
 * one-line error in X.err). */
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
#include <zlib.h>

#include "traces/trace.h"
#include "traces/trace_internal.h"
#include "tests/testutil.h"

#define DATA "tests/data/traces/"

/* Opens a per-request trace, failing the test with the error if it does not open. */
static arrival_src *open_ok(const trace_csv_opts *o)
{
    arrival_src *s = NULL;
    gp_error e;
    gp_error_clear(&e);
    if (trace_open_csv(o, &s, &e) < 0) {
        char buf[1024];
        gp_error_format(&e, buf, sizeof(buf));
        fail_msg("%s: %s", o->path, buf);
    }
    return s;
}

static size_t drain(arrival_src *s, request_spec *out, size_t cap)
{
    request_spec r;
    gp_error e;
    size_t n = 0;
    int rc;
    while ((rc = arrival_src_next(s, &r, &e)) > 0) {
        if (n < cap)
            out[n] = r;
        n++;
    }
    assert_int_equal(rc, 0);
    return n;
}

/* ---- ISO date-times ---- */

static void test_iso_parse(void **state)
{
    (void)state;
    static const struct {
        const char *name, *text;
        int64_t want_us; /* since the epoch; ignored when bad */
        int bad;
    } rows[] = {
        {"epoch", "1970-01-01 00:00:00", 0, 0},
        {"alibaba", "2025-02-01 09:57:50", 1738403870LL * 1000000, 0},
        {"azure lmm minute", "2024-10-15T12:00Z", 1728993600LL * 1000000, 0},
        {"7 digits", "2023-11-16 18:17:03.9800000", 1700158623LL * 1000000 + 980000, 0},
        {"7 digits rounding", "2023-11-16 18:17:03.9799996", 1700158623LL * 1000000 + 980000, 0},
        {"round up to next second", "2023-11-16 18:17:03.9999996", 1700158624LL * 1000000, 0},
        {"offset +08:00", "2025-02-01T17:57:50+08:00", 1738403870LL * 1000000, 0},
        {"offset -0130", "2025-02-01T08:27:50-0130", 1738403870LL * 1000000, 0},
        {"offset +08", "2025-02-01 17:57:50+08", 1738403870LL * 1000000, 0},
        {"date only", "2025-02-01", 1738368000LL * 1000000, 0},
        {"leap day", "2024-02-29 00:00:00", 1709164800LL * 1000000, 0},
        {"comma fraction", "1970-01-01 00:00:01,25", 1250000, 0},
        {"spaces around", "  1970-01-01 00:00:02  ", 2000000, 0},
        {"month 13", "2025-13-01", 0, 1},
        {"feb 30", "2025-02-30 00:00:00", 0, 1},
        {"not leap", "2025-02-29", 0, 1},
        {"hour 24", "2025-02-01 24:00:00", 0, 1},
        {"minute 60", "2025-02-01 10:60:00", 0, 1},
        {"10 digit fraction", "2025-02-01 10:00:00.1234567891", 0, 1},
        {"empty fraction", "2025-02-01 10:00:00.", 0, 1},
        {"trailing junk", "2025-02-01 10:00:00 tomorrow", 0, 1},
        {"number", "1738403870", 0, 1},
        {"empty", "", 0, 1},
        {"slashes", "2025/02/01 10:00:00", 0, 1},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        int64_t t = -1;
        int rc = textparse_iso_us(rows[i].text, &t);
        if (rows[i].bad) {
            if (rc == 0)
                fail_msg("%s: '%s' parsed as %lld, want an error", rows[i].name, rows[i].text,
                         (long long)t);
        } else if (rc != 0 || t != rows[i].want_us) {
            fail_msg("%s: '%s': rc %d, got %lld want %lld", rows[i].name, rows[i].text, rc,
                     (long long)t, (long long)rows[i].want_us);
        }
    }
    char buf[40];
    textparse_format_iso(1738403870LL * 1000000 + 999999, buf, sizeof(buf));
    assert_string_equal(buf, "2025-02-01 09:57:50");
    textparse_format_iso(-1, buf, sizeof(buf));
    assert_string_equal(buf, "1969-12-31 23:59:59");
}

static void test_parse_nonneg(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        double want;
        const char *why; /* NULL: valid */
    } rows[] = {
        {"0", 0, NULL},           {"1.5", 1.5, NULL},          {" 2e3 ", 2000, NULL},
        {"-0", 0, NULL},          {"nan", 0, "NaN"},           {"NaN", 0, "NaN"},
        {"-nan", 0, "NaN"},       {"inf", 0, "infinite"},      {"-Infinity", 0, "infinite"},
        {"1e999", 0, "infinite"}, {"-1", 0, "negative"},       {"0x10", 0, "not a number"},
        {"", 0, "not a number"},  {"1.5x", 0, "not a number"}, {"ten", 0, "not a number"},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        double v = -7;
        const char *why = NULL;
        int rc = textparse_nonneg(rows[i].text, &v, &why);
        if (!rows[i].why) {
            if (rc != 0 || v != rows[i].want)
                fail_msg("'%s': rc %d got %g want %g", rows[i].text, rc, v, rows[i].want);
        } else if (rc == 0 || strcmp(why, rows[i].why) != 0) {
            fail_msg("'%s': rc %d why '%s' want '%s'", rows[i].text, rc, rc ? why : "",
                     rows[i].why);
        }
    }
}

/* ---- good files ---- */

static void test_quoted_comments_bom_crlf(void **state)
{
    (void)state;
    trace_csv_opts o;
    trace_csv_opts_default(&o);
    o.path = DATA "quoted.csv";
    o.time_col = "time";
    o.mp_col = "mp";
    arrival_src *s = open_ok(&o);
    assert_string_equal(arrival_src_kind(s), "recorded");
    assert_true(arrival_src_origin_is_date(s));
    int64_t t0;
    assert_int_equal(textparse_iso_us("2025-02-01 10:00:00", &t0), 0);
    assert_int_equal(arrival_src_origin_us(s), t0);
    assert_int_equal(arrival_src_span_us(s), 4000000);
    request_spec r[8];
    assert_int_equal(drain(s, r, 8), 4);
    static const int64_t want_us[] = {0, 1500000, 2000000, 4000000};
    static const float want_mp[] = {2.0f, 3.5f, 4.0f, 24.0f};
    for (int i = 0; i < 4; i++) {
        if (r[i].arrival_us != want_us[i] || r[i].mp != want_mp[i])
            fail_msg("row %d: got (%lld us, %g MP) want (%lld, %g)", i, (long long)r[i].arrival_us,
                     r[i].mp, (long long)want_us[i], want_mp[i]);
        assert_true(r[i].faces >= 0 && r[i].faces <= IMAGE_MIX_MAX_FACES);
    }
    arrival_src_free(s);
}

static void test_unsorted_sorted_with_warning(void **state)
{
    (void)state;
    static const char *const paths[] = {DATA "unsorted.csv", DATA "good.csv.gz"};
    for (int p = 0; p < 2; p++) {
        char *warn = NULL;
        size_t warn_len = 0;
        FILE *w = open_memstream(&warn, &warn_len);
        trace_csv_opts o;
        trace_csv_opts_default(&o);
        o.path = paths[p];
        o.time_col = "t";
        o.mp_col = "mp";
        o.faces_col = "faces";
        o.warn = w;
        arrival_src *s = open_ok(&o);
        fclose(w);
        char want[256];
        snprintf(want, sizeof(want),
                 "warning: %s: 2 of 6 rows were out of time order; sorted them\n", paths[p]);
        assert_string_equal(warn, want);
        free(warn);
        request_spec r[8];
        assert_int_equal(drain(s, r, 8), 6);
        /* t = 0 at the first row (10 s); mp follows its row through the sort */
        static const int64_t want_s[] = {0, 1, 2, 10, 20, 30};
        static const float want_mp[] = {2, 4, 3, 6, 5, 7};
        static const int want_faces[] = {1, 0, 2, 3, 1, 1};
        for (int i = 0; i < 6; i++)
            if (r[i].arrival_us != want_s[i] * 1000000 || r[i].mp != want_mp[i] ||
                r[i].faces != want_faces[i])
                fail_msg("%s row %d: got (%lld us, %g, %d)", paths[p], i,
                         (long long)r[i].arrival_us, r[i].mp, r[i].faces);
        assert_int_equal(arrival_src_span_us(s), 30000000);
        arrival_src_free(s);
    }
}

/* Writes a small trace "t" in seconds 0..n-1 (one per second) to a temp file. */
static void write_seconds_trace(char *path, size_t len, int n)
{
    snprintf(path, len, "/tmp/gpenlab-test-XXXXXX.csv");
    int fd = mkstemps(path, 4);
    assert_true(fd >= 0);
    FILE *f = fdopen(fd, "w");
    fprintf(f, "t\n");
    for (int i = 0; i < n; i++)
        fprintf(f, "%d\n", i);
    fclose(f);
}

static void test_window_and_time_scale(void **state)
{
    (void)state;
    char path[64];
    write_seconds_trace(path, sizeof(path), 100);
    static const struct {
        const char *name, *start, *end;
        trace_time_unit unit;
        double time_scale;
        size_t want_n;
        int64_t want_first_us, want_last_us, want_span_us;
    } rows[] = {
        {"all", NULL, NULL, TRACE_TIME_AUTO, 1, 100, 0, 99000000, 99000000},
        {"start 10", "10", NULL, TRACE_TIME_S, 1, 90, 0, 89000000, 89000000},
        {"start 10.5", "10.5", NULL, TRACE_TIME_S, 1, 89, 500000, 88500000, 88500000},
        {"[10, 20)", "10", "20", TRACE_TIME_S, 1, 10, 0, 9000000, 10000000},
        {"[10, 20) twice as fast", "10", "20", TRACE_TIME_S, 2, 10, 0, 4500000, 5000000},
        {"ms unit", "10", "20", TRACE_TIME_MS, 1, 10, 0, 9000, 10000},
        {"compress 1000x", NULL, NULL, TRACE_TIME_S, 1000, 100, 0, 99000, 99000},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        trace_csv_opts o;
        trace_csv_opts_default(&o);
        o.path = path;
        o.time_col = "t";
        o.time_unit = rows[i].unit;
        o.start = rows[i].start;
        o.end = rows[i].end;
        o.time_scale = rows[i].time_scale;
        arrival_src *s = open_ok(&o);
        request_spec r[128];
        size_t n = drain(s, r, 128);
        if (n != rows[i].want_n || r[0].arrival_us != rows[i].want_first_us ||
            r[n - 1].arrival_us != rows[i].want_last_us ||
            arrival_src_span_us(s) != rows[i].want_span_us)
            fail_msg("%s: got n %zu first %lld last %lld span %lld", rows[i].name, n,
                     (long long)r[0].arrival_us, (long long)r[n - 1].arrival_us,
                     (long long)arrival_src_span_us(s));
        arrival_src_free(s);
    }
    /* an empty window is an error that says where the trace is */
    trace_csv_opts o;
    trace_csv_opts_default(&o);
    o.path = path;
    o.time_col = "t";
    o.start = "500";
    arrival_src *s;
    gp_error e;
    assert_int_equal(trace_open_csv(&o, &s, &e), GP_ERANGE);
    assert_non_null(strstr(e.msg, "runs from 0 to 99"));
    o.start = "50";
    o.end = "40";
    assert_int_equal(trace_open_csv(&o, &s, &e), GP_ERANGE);
    assert_string_equal(e.field, "end");
    o.end = "soon";
    assert_int_equal(trace_open_csv(&o, &s, &e), GP_EPARSE);
    unlink(path);
}

/* Rate scaling: counts follow floor(r) + Bernoulli, copies stay near their row and in
 * order, and the result depends on the seed only. */
static void test_rate_scale(void **state)
{
    (void)state;
    char path[64];
    write_seconds_trace(path, sizeof(path), 2000);
    static const struct {
        const char *name;
        double rate_scale;
        double want_mean; /* expected count */
    } rows[] = {
        {"thin to 30%", 0.3, 600}, {"thin to 1%", 0.01, 20}, {"double", 2.0, 4000},
        {"x3.5", 3.5, 7000},       {"x10", 10.0, 20000},
    };
    static request_spec r[30000], r2[30000];
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        trace_csv_opts o;
        trace_csv_opts_default(&o);
        o.path = path;
        o.time_col = "t";
        o.rate_scale = rows[i].rate_scale;
        o.seed = 42;
        arrival_src *s = open_ok(&o);
        size_t n = drain(s, r, 30000);
        arrival_src_free(s);
        double f = rows[i].rate_scale - (int)rows[i].rate_scale;
        double sd = sqrt(2000 * f * (1 - f));
        if (fabs((double)n - rows[i].want_mean) > 5 * sd + 0.5)
            fail_msg("%s: %zu requests, want %g +- %g", rows[i].name, n, rows[i].want_mean, 5 * sd);
        for (size_t k = 1; k < n; k++)
            if (r[k].arrival_us < r[k - 1].arrival_us)
                fail_msg("%s: request %zu out of order", rows[i].name, k);
        assert_true(r[0].arrival_us >= 0 && r[n - 1].arrival_us <= 1999000000);
        /* same seed: identical stream; another seed: a different one */
        s = open_ok(&o);
        assert_int_equal(drain(s, r2, 30000), n);
        arrival_src_free(s);
        assert_memory_equal(r, r2, n * sizeof(r[0]));
        o.seed = 43;
        s = open_ok(&o);
        size_t n3 = drain(s, r2, 30000);
        arrival_src_free(s);
        if (n3 == n && memcmp(r, r2, n * sizeof(r[0])) == 0)
            fail_msg("%s: seeds 42 and 43 gave the same stream", rows[i].name);
    }
    /* x2 with a 1 s spread: every second has its original plus one copy within +-1 s */
    trace_csv_opts o;
    trace_csv_opts_default(&o);
    o.path = path;
    o.time_col = "t";
    o.rate_scale = 2.0;
    o.copy_spread_us = 1000000;
    arrival_src *s = open_ok(&o);
    size_t n = drain(s, r, 30000);
    arrival_src_free(s);
    assert_int_equal(n, 4000);
    size_t whole = 0;
    for (size_t k = 0; k < n; k++)
        whole += r[k].arrival_us % 1000000 == 0;
    assert_true(whole >= 2000); /* the originals */
    /* too large a scale for a recorded trace */
    o.rate_scale = 5000;
    gp_error e;
    assert_int_equal(trace_open_csv(&o, &s, &e), GP_ERANGE);
    assert_string_equal(e.field, "rate_scale");
    o.rate_scale = 0;
    assert_int_equal(trace_open_csv(&o, &s, &e), GP_ERANGE);
    unlink(path);
}

/* Image size and faces from the mix: keyed on the request index, so two opens agree, and
 * a column given in the file wins over the mix. */
static void test_mix_draws_keyed(void **state)
{
    (void)state;
    trace_csv_opts o;
    trace_csv_opts_default(&o);
    o.path = DATA "unsorted.csv";
    o.time_col = "t";
    o.seed = 9;
    arrival_src *s = open_ok(&o);
    request_spec r[8];
    assert_int_equal(drain(s, r, 8), 6);
    arrival_src_free(s);
    for (int i = 0; i < 6; i++) {
        float mp;
        int32_t faces;
        image_mix_draw(&o.mix, 9, (uint64_t)i, &mp, &faces);
        if (r[i].mp != mp || r[i].faces != faces)
            fail_msg("request %d: got (%g, %d), the mix draws (%g, %d)", i, r[i].mp, r[i].faces, mp,
                     faces);
    }
    o.faces_col = "faces";
    s = open_ok(&o);
    request_spec r2[8];
    drain(s, r2, 8);
    arrival_src_free(s);
    for (int i = 0; i < 6; i++)
        assert_true(r2[i].mp == r[i].mp);
    assert_int_equal(r2[0].faces, 1);
    assert_int_equal(r2[3].faces, 3);
}

/* ---- bad inputs: each file with its expected one-line error ---- */

static void test_bad_files(void **state)
{
    (void)state;
    static const struct {
        const char *file;
        const char *time_col;
        int want_code;
    } rows[] = {
        {"empty.csv", "t", GP_EPARSE},
        {"comments_only.csv", "t", GP_EPARSE},
        {"header_only.csv", "t", GP_EPARSE},
        {"too_few_columns.csv", "t", GP_EPARSE},
        {"too_many_columns.csv", "t", GP_EPARSE},
        {"nan_mp.csv", "t", GP_ERANGE},
        {"negative_mp.csv", "t", GP_ERANGE},
        {"zero_mp.csv", "t", GP_ERANGE},
        {"inf_faces.csv", "t", GP_ERANGE},
        {"fractional_faces.csv", "t", GP_ERANGE},
        {"negative_time.csv", "t", GP_ERANGE},
        {"text_time.csv", "t", GP_EPARSE},
        {"empty_time.csv", "t", GP_EPARSE},
        {"missing_column.csv", "t", GP_EMISSING},
        {"unterminated_quote.csv", "t", GP_EPARSE},
        {"junk_after_quote.csv", "t", GP_EPARSE},
        {"unnamed_column.csv", "t", GP_EPARSE},
        {"bad_date.csv", "gmt_create", GP_EPARSE},
        {"truncated.csv.gz", "t", GP_EIO},
        {"no_such_file.csv", "t", GP_EMISSING},
        /* issue 13: a NUL inside a row used to merge it with the next, a row starting with
         * a NUL was dropped; invalid UTF-8 went through */
        {"nul_in_row.csv", "t", GP_EPARSE},
        {"nul_row_start.csv", "t", GP_EPARSE},
        {"bad_utf8.csv", "t", GP_EPARSE},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        char path[256], errpath[256], got[1024];
        snprintf(path, sizeof(path), DATA "%s", rows[i].file);
        snprintf(errpath, sizeof(errpath), DATA "%.*s.err",
                 (int)(strchr(rows[i].file, '.') - rows[i].file), rows[i].file);
        trace_csv_opts o;
        trace_csv_opts_default(&o);
        o.path = path;
        o.time_col = rows[i].time_col;
        if (strcmp(rows[i].time_col, "t") == 0) {
            o.mp_col = "mp";
            o.faces_col = "faces";
        }
        arrival_src *s = NULL;
        gp_error e;
        gp_error_clear(&e);
        int rc = trace_open_csv(&o, &s, &e);
        if (rc >= 0) {
            arrival_src_free(s);
            fail_msg("%s: opened, want error %d", rows[i].file, rows[i].want_code);
        }
        assert_null(s);
        gp_error_format(&e, got, sizeof(got));
        char want[4096];
        tu_first_line(errpath, want, sizeof(want));
        if (rc != rows[i].want_code || strcmp(got, want) != 0)
            fail_msg("%s: got %d '%s'\n want %d '%s'", rows[i].file, rc, got, rows[i].want_code,
                     want);
    }
}

/* A gzip file cut anywhere is an error (never a silently short trace). */
static void test_truncated_gzip_everywhere(void **state)
{
    (void)state;
    char text[64 * 1024];
    size_t len = (size_t)snprintf(text, sizeof(text), "t\n");
    for (int i = 0; i < 5000; i++)
        len += (size_t)snprintf(text + len, sizeof(text) - len, "%d\n", i);
    char gzpath[] = "/tmp/gpenlab-test-XXXXXX.csv.gz";
    int fd = mkstemps(gzpath, 7);
    assert_true(fd >= 0);
    close(fd);
    gzFile gz = gzopen(gzpath, "wb");
    gzwrite(gz, text, (unsigned)len);
    gzclose(gz);
    FILE *f = fopen(gzpath, "rb");
    static unsigned char full[64 * 1024];
    size_t n = fread(full, 1, sizeof(full), f);
    fclose(f);
    for (size_t cut = 20; cut < n; cut += n / 7) {
        f = fopen(gzpath, "wb");
        fwrite(full, 1, cut, f);
        fclose(f);
        trace_csv_opts o;
        trace_csv_opts_default(&o);
        o.path = gzpath;
        o.time_col = "t";
        arrival_src *s = NULL;
        gp_error e;
        int rc = trace_open_csv(&o, &s, &e);
        if (rc != GP_EIO || !strstr(e.msg, "truncated gzip")) {
            arrival_src_free(s);
            fail_msg("cut at %zu of %zu bytes: rc %d '%s'", cut, n, rc, e.msg);
        }
    }
    unlink(gzpath);
}

static void test_bad_options(void **state)
{
    (void)state;
    trace_csv_opts o;
    trace_csv_opts_default(&o);
    o.path = DATA "unsorted.csv";
    arrival_src *s;
    gp_error e;
    assert_int_equal(trace_open_csv(&o, &s, &e), GP_EMISSING); /* no time column */
    o.time_col = "t";
    o.time_scale = -1;
    assert_int_equal(trace_open_csv(&o, &s, &e), GP_ERANGE);
    assert_string_equal(e.field, "time_scale");
    o.time_scale = 1;
    o.mp_col = "megapixels";
    assert_int_equal(trace_open_csv(&o, &s, &e), GP_EMISSING);
    assert_string_equal(e.msg, "no megapixels column 'megapixels'; the columns are: t, mp, faces");
    o.mp_col = NULL;
    o.mix.cls[0].mp_min = 0;
    assert_int_equal(trace_open_csv(&o, &s, &e), GP_ERANGE);
    o.path = "";
    trace_csv_opts_default(&o);
    o.time_col = "t";
    assert_int_equal(trace_open_csv(&o, &s, &e), GP_EMISSING);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_iso_parse),
        cmocka_unit_test(test_parse_nonneg),
        cmocka_unit_test(test_quoted_comments_bom_crlf),
        cmocka_unit_test(test_unsorted_sorted_with_warning),
        cmocka_unit_test(test_window_and_time_scale),
        cmocka_unit_test(test_rate_scale),
        cmocka_unit_test(test_mix_draws_keyed),
        cmocka_unit_test(test_bad_files),
        cmocka_unit_test(test_truncated_gzip_everywhere),
        cmocka_unit_test(test_bad_options),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
