/* test_trace_cmd.c: `gpenlab trace stats`: options, guessing the time and rate columns of
 * the known files, the printed figures, errors (one line, nothing printed), and --plot
 * with gnuplot present (a PNG appears) or absent (a clear error). */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "cli/commands.h"
#include "tests/testutil.h"

#define DATA   "tests/data/traces/"
#define TRACES "traces/data/"

typedef struct cmd_result {
    int rc;
    char *out;
    char err[1024];
} cmd_result;

static cmd_result run(const char *const *args)
{
    char *argv[32];
    int argc = 0;
    while (args[argc]) {
        argv[argc] = (char *)args[argc];
        argc++;
    }
    argv[argc] = NULL;
    cmd_result r;
    size_t len = 0;
    FILE *out = open_memstream(&r.out, &len);
    gp_error e;
    gp_error_clear(&e);
    r.rc = cmd_trace(argc, argv, out, &e);
    fclose(out);
    gp_error_format(&e, r.err, sizeof(r.err));
    return r;
}

static void expect_lines(const char *name, const cmd_result *r, const char *const *want)
{
    if (r->rc != 0)
        fail_msg("%s: rc %d: %s", name, r->rc, r->err);
    for (size_t i = 0; want[i]; i++)
        if (!strstr(r->out, want[i]))
            fail_msg("%s: no '%s' in output:\n%s", name, want[i], r->out);
}

static void test_guess_time_col(void **state)
{
    (void)state;
    static const struct {
        const char *name;
        const char *cols[5];
        int want;
    } rows[] = {
        {"alibaba", {"gmt_create", "gmt_modified", "predict_type"}, 0},
        {"azure code", {"TIMESTAMP", "ContextTokens", "GeneratedTokens"}, 0},
        {"azure lmm", {"minute", "timestamp", "requests"}, 1},
        {"servegen clients", {"client_id", "window_start_s", "rate_req_per_s", "cv"}, 1},
        {"plain t", {"id", "t", "mp"}, 1},
        {"contains time", {"id", "arrival_time_ms"}, 1},
        {"known name beats a later 'time'", {"endtime", "ts"}, 1},
        {"nothing", {"a", "b"}, -1},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        size_t n = 0;
        while (n < 5 && rows[i].cols[n])
            n++;
        int got = trace_guess_time_col(rows[i].cols, n);
        if (got != rows[i].want)
            fail_msg("%s: got %d want %d", rows[i].name, got, rows[i].want);
    }
}

static void test_stats_small(void **state)
{
    (void)state;
    cmd_result r = run((const char *[]){"stats", DATA "unsorted.csv", "--mp-col", "mp", NULL});
    expect_lines(
        "unsorted", &r,
        (const char *[]){
            "warning: " DATA "unsorted.csv: 2 of 6 rows were out of time order",
            "trace: " DATA "unsorted.csv\n",
            "kind: per-request trace: time column 't' (guessed from the header); unit: seconds: "
            "guessed, no --time-unit and no unit in the column's name",
            "t = 0: 10 s on the file's axis", "span: 30.000 s", "requests: 6\n",
            "mean rate: 0.2 req/s (12 req/min), first to last arrival",
            "peak rate over 1 min: 0.1 req/s (6 req/min; the busiest clock minute)",
            "images: mean 4.5 MP",
            /* 30 s of one clock hour: its 6 requests, not 720 an hour */
            "  00             6  partial  ########################################  "
            "6 requests in a partial hour of 30 s (not scaled)\n",
            NULL});
    free(r.out);
    /* --opt=value, a time unit and a window */
    r = run((const char *[]){"stats", DATA "unsorted.csv", "--time-col=t", "--time-unit", "ms",
                             "--start=11", "--end", "31", NULL});
    expect_lines("ms window", &r,
                 (const char *[]){"time column 't'; unit: milliseconds, as given", "t = 0: 11 ms",
                                  "requests: 4\n", "span: 0.020 s", NULL});
    free(r.out);
    r = run((const char *[]){"help", NULL});
    expect_lines("help", &r, (const char *[]){"usage: gpenlab trace stats FILE", "--plot", NULL});
    free(r.out);
    r = run((const char *[]){"stats", "--help", NULL});
    expect_lines("stats --help", &r, (const char *[]){"usage: gpenlab trace stats FILE", NULL});
    free(r.out);
}

static void test_stats_envelope(void **state)
{
    (void)state;
    char path[] = "/tmp/gpenlab-cmd-XXXXXX.csv";
    int fd = mkstemps(path, 4);
    assert_true(fd >= 0);
    FILE *f = fdopen(fd, "w");
    fputs("window_start_s,total_rate_req_per_s,active_clients\n0,1,3\n3600,2,3\n7200,9,0\n", f);
    fclose(f);
    cmd_result r = run((const char *[]){"stats", path, NULL});
    expect_lines(
        "envelope guessed", &r,
        (const char *[]){"windows with active_clients = 0 are data gaps",
                         "kind: rate envelope (guessed from the header): time column "
                         "'window_start_s' (unit: seconds, from the column's name), rate column "
                         "'total_rate_req_per_s' (req/s)",
                         "requests: 10800 (expected)", "span: 10800.000 s",
                         "peak rate over 1 min: 2 req/s (120 req/min), expected from the file's "
                         "3600-s windows",
                         "  01        7200.0     1 h", NULL});
    free(r.out);
    r = run((const char *[]){"stats", path, "--rate-col", "total_rate_req_per_s", "--replay",
                             "--seed", "3", NULL});
    expect_lines("envelope replayed", &r,
                 (const char *[]){"arrivals drawn", "CV of inter-arrival", NULL});
    free(r.out);
    unlink(path);
}

/* The unit of a time column: given, from its name (*_s, *_ms, *_us, *_ns), an ISO value, or
 * guessed (seconds); only a guess says "guessed", and a guess spanning more than 7 days
 * warns with the option that fixes it (issue 12: a timestamp_ms column read as seconds
 * gave 41 simulated days instead of one). */
static void test_time_units(void **state)
{
    (void)state;
    static const struct {
        const char *name, *col, *unit_opt, *want, *span;
        bool guessed, warn;
    } rows[] = {
        {"_ms from the name", "timestamp_ms", NULL, "unit: milliseconds, from the column's name",
         "span: 3600.000 s", false, false},
        {"_us from the name", "arrival_time_us", NULL, "unit: microseconds, from the column's name",
         "span: 3.600 s", false, false},
        {"_ns from the name", "arrival_time_ns", NULL, "unit: nanoseconds, from the column's name",
         "span: 0.004 s", false, false},
        {"bare name: guessed, and warned past 7 days", "timestamp", NULL, "unit: seconds: guessed",
         "span: 3600000.000 s", true, true},
        {"given: no guess, no warning", "timestamp", "s", "unit: seconds, as given",
         "span: 3600000.000 s", false, false},
        {"given ms on a bare name", "timestamp", "ms", "unit: milliseconds, as given",
         "span: 3600.000 s", false, false},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        char path[] = "/tmp/gpenlab-unit-XXXXXX.csv";
        int fd = mkstemps(path, 4);
        assert_true(fd >= 0);
        FILE *f = fdopen(fd, "w");
        fprintf(f, "%s,x\n0,1\n1000,1\n3600000,1\n", rows[i].col);
        fclose(f);
        cmd_result r =
            rows[i].unit_opt
                ? run((const char *[]){"stats", path, "--time-unit", rows[i].unit_opt, NULL})
                : run((const char *[]){"stats", path, NULL});
        if (r.rc != 0 || !strstr(r.out, rows[i].want) || !strstr(r.out, rows[i].span))
            fail_msg("%s: rc %d, want \"%s\" and \"%s\" in:\n%s", rows[i].name, r.rc, rows[i].want,
                     rows[i].span, r.out);
        if ((strstr(r.out, "guessed,") != NULL) != rows[i].guessed)
            fail_msg("%s: \"guessed\" %s:\n%s", rows[i].name,
                     rows[i].guessed ? "missing" : "printed for a unit that was not guessed",
                     r.out);
        bool warned = strstr(r.out, "spans 41.7 days") && strstr(r.out, "--time-unit");
        if (warned != rows[i].warn)
            fail_msg("%s: span warning %s:\n%s", rows[i].name,
                     rows[i].warn ? "missing" : "unwanted", r.out);
        free(r.out);
        unlink(path);
    }
}

static void test_stats_real_files(void **state)
{
    (void)state;
    cmd_result r = run((const char *[]){"stats", TRACES "azure_lmm_2024_per_minute.csv.gz", NULL});
    expect_lines(
        "azure lmm", &r,
        (const char *[]){"rate column 'requests' (requests per window)",
                         "t = 0: 2024-10-15 12:00:00", "requests: 1000000 (expected)",
                         "peak rate over 1 min: 7.8 req/s (468 req/min), expected from the file's "
                         "60-s windows",
                         NULL});
    free(r.out);
    r = run((const char *[]){"stats", TRACES "alibaba_gentd26_sd_requests.csv.gz", NULL});
    expect_lines("alibaba", &r,
                 (const char *[]){
                     "time column 'gmt_create' (guessed from the header); unit: ISO "
                     "date-time (UTC unless an offset is given), as its values read",
                     "t = 0: 2025-02-01 09:57:50", "requests: 26823\n",
                     "peak rate over 1 min: 1.06667 req/s (64 req/min; the busiest clock minute)",
                     /* 09:57:50 to 10:33:57 on the last day: partial, apart */
                     "  10          98.7    23 h  ",
                     "72 requests in a partial hour of 2037 s (not scaled)",
                     "CV of per-minute counts: 2.164", NULL});
    free(r.out);
}

static void test_errors(void **state)
{
    (void)state;
    static const struct {
        const char *name;
        const char *args[8];
        int code;
        const char *want;
    } rows[] = {
        {"unknown command",
         {"plot", NULL},
         GP_EUNKNOWN,
         "unknown trace command 'plot' (known: stats; see gpenlab trace help)"},
        {"no file",
         {"stats", NULL},
         GP_EMISSING,
         "no trace file given (usage: gpenlab trace stats FILE [options])"},
        {"two files",
         {"stats", "a.csv", "b.csv", NULL},
         GP_EPARSE,
         "more than one file given ('a.csv' and 'b.csv')"},
        {"unknown option",
         {"stats", DATA "unsorted.csv", "--colour", "red", NULL},
         GP_EUNKNOWN,
         "unknown option '--colour' (see gpenlab trace help)"},
        {"missing value",
         {"stats", DATA "unsorted.csv", "--time-col", NULL},
         GP_EMISSING,
         "--time-col: needs a value"},
        {"bad unit",
         {"stats", DATA "unsorted.csv", "--time-unit", "h", NULL},
         GP_EPARSE,
         "--time-unit: expected auto, iso, s, ms, us or ns, got 'h'"},
        {"bad scale",
         {"stats", DATA "unsorted.csv", "--rate-scale", "-2", NULL},
         GP_EPARSE,
         "--rate-scale: expected a number in [1e-09, 1e+09], got '-2'"},
        {"flag with value",
         {"stats", DATA "unsorted.csv", "--replay=yes", NULL},
         GP_EPARSE,
         "--replay: takes no value"},
        {"filter without value",
         {"stats", DATA "unsorted.csv", "--filter-col", "t", NULL},
         GP_EMISSING,
         "--filter-col: --filter-col and --filter-value go together"},
        {"missing file",
         {"stats", DATA "nope.csv", NULL},
         GP_EMISSING,
         DATA "nope.csv: cannot open: No such file or directory"},
        {"no time-like column",
         {"stats", DATA "no_time_column.csv", NULL},
         GP_EMISSING,
         DATA "no_time_column.csv: --time-col: cannot tell which column holds the time; give "
              "--time-col (the columns are: id, size)"},
        {"bad row",
         {"stats", DATA "bad_date.csv", NULL},
         GP_EPARSE,
         DATA "bad_date.csv:17: column 'gmt_create': cannot parse '2025-13-01' as a date-time"},
        {"envelope without rate",
         {"stats", DATA "unsorted.csv", "--envelope", NULL},
         GP_EMISSING,
         DATA "unsorted.csv: --rate-col: an envelope needs --rate-col (no known rate column in the "
              "header)"},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        cmd_result r = run(rows[i].args);
        if (r.rc != rows[i].code || strcmp(r.err, rows[i].want) != 0)
            fail_msg("%s: got %d '%s'\n want %d '%s'", rows[i].name, r.rc, r.err, rows[i].code,
                     rows[i].want);
        free(r.out);
    }
}

static void test_plot(void **state)
{
    (void)state;
    char dir[] = "/tmp/gpenlab-plot-test-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char png[128];
    snprintf(png, sizeof(png), "%s/it's a plot.png", dir); /* a quote in the name */
    cmd_result r = run((const char *[]){"stats", DATA "unsorted.csv", "--plot", png, NULL});
    if (tu_have_cmd("gnuplot")) {
        if (r.rc != 0)
            fail_msg("plot: %s", r.err);
        FILE *f = fopen(png, "rb");
        assert_non_null(f);
        unsigned char magic[8] = {0};
        assert_int_equal(fread(magic, 1, 8, f), 8);
        fclose(f);
        assert_memory_equal(magic, "\x89PNG\r\n\x1a\n", 8);
        assert_non_null(strstr(r.out, "plot: "));
        unlink(png);
    } else {
        assert_int_equal(r.rc, GP_EMISSING);
        assert_non_null(strstr(r.err, "gnuplot not found on PATH"));
    }
    free(r.out);
    /* without gnuplot on PATH: a clear error, no file */
    char *old = getenv("PATH") ? strdup(getenv("PATH")) : NULL;
    setenv("PATH", dir, 1);
    r = run((const char *[]){"stats", DATA "unsorted.csv", "--plot", png, NULL});
    if (old) {
        setenv("PATH", old, 1);
        free(old);
    }
    assert_int_equal(r.rc, GP_EMISSING);
    assert_string_equal(r.err,
                        "--plot: gnuplot not found on PATH: install gnuplot, or leave out --plot");
    assert_int_not_equal(access(png, F_OK), 0);
    free(r.out);
    /* gnuplot failing (an unwritable output) is reported with its message */
    if (tu_have_cmd("gnuplot")) {
        r = run((const char *[]){"stats", DATA "unsorted.csv", "--plot", "/nonexistent-dir/x.png",
                                 NULL});
        assert_int_equal(r.rc, GP_EIO);
        assert_non_null(strstr(r.err, "--plot: gnuplot failed (exit"));
        free(r.out);
    }
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_guess_time_col), cmocka_unit_test(test_stats_small),
        cmocka_unit_test(test_stats_envelope), cmocka_unit_test(test_stats_real_files),
        cmocka_unit_test(test_time_units),     cmocka_unit_test(test_errors),
        cmocka_unit_test(test_plot),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
