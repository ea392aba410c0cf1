/* test_workload.c: the `workload:` map of an experiment: every type parsed into a
 * workload_spec (relative paths against the experiment's directory) and opened for a
 * seed; the errors, each naming file:line:col and the key path. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "traces/workload.h"

static int parse(const char *yaml, const char *base, workload_spec *w, char *err_text, size_t len)
{
    cfg_doc *d = NULL;
    gp_error e;
    gp_error_clear(&e);
    int rc = cfg_load_string("exp.yaml", yaml, strlen(yaml), &d, &e);
    if (rc == 0)
        rc = workload_parse(cfg_map_get(cfg_root(d), "workload"), base, w, &e);
    cfg_free(d); /* the spec must not point into the document */
    gp_error_format(&e, err_text, len);
    return rc;
}

static workload_spec parse_ok(const char *yaml, const char *base)
{
    workload_spec w;
    char err[1024];
    if (parse(yaml, base, &w, err, sizeof(err)) != 0)
        fail_msg("%s\n--- yaml:\n%s", err, yaml);
    return w;
}

static uint64_t replay(const workload_spec *w, uint64_t seed, int64_t *span_us)
{
    arrival_src *s;
    gp_error e;
    gp_error_clear(&e);
    if (workload_open(w, seed, &s, &e) < 0) {
        char buf[1024];
        gp_error_format(&e, buf, sizeof(buf));
        fail_msg("open: %s", buf);
    }
    *span_us = arrival_src_span_us(s);
    request_spec r;
    uint64_t n = 0;
    while (arrival_src_next(s, &r, &e) > 0)
        n++;
    arrival_src_free(s);
    return n;
}

static void test_trace(void **state)
{
    (void)state;
    workload_spec w = parse_ok("workload:\n"
                               "  type: trace\n"
                               "  path: unsorted.csv\n"
                               "  time_column: t\n"
                               "  time_unit: s\n"
                               "  mp_column: mp\n"
                               "  faces_column: faces\n"
                               "  start: 12\n"
                               "  end: '40.5'\n"
                               "  time_scale: 2\n"
                               "  copy_spread: 5s\n",
                               "tests/data/traces");
    assert_int_equal(w.type, WORKLOAD_TRACE);
    assert_string_equal(workload_type_name(w.type), "trace");
    assert_string_equal(w.path, "tests/data/traces/unsorted.csv");
    assert_string_equal(w.time_col, "t");
    assert_int_equal(w.time_unit, TRACE_TIME_S);
    assert_string_equal(w.start, "12");
    assert_string_equal(w.end, "40.5");
    assert_true(w.time_scale == 2 && w.rate_scale == 1);
    assert_int_equal(w.copy_spread_us, 5000000);
    char *warn = NULL;
    size_t len = 0;
    w.warn = open_memstream(&warn, &len);
    int64_t span;
    assert_int_equal(replay(&w, 1, &span), 4); /* 12, 20, 30, 40 */
    fclose(w.warn);
    assert_non_null(strstr(warn, "2 of 6 rows were out of time order"));
    free(warn);
    assert_int_equal(span, 14250000); /* (40.5 - 12) / 2 s */
    workload_free(&w);
    assert_int_equal(w.path[0], '\0');
    /* an absolute path ignores the base; no base leaves the path as written */
    w = parse_ok("workload: {type: trace, path: /data/x.csv, time_column: t}\n", "experiments");
    assert_string_equal(w.path, "/data/x.csv");
    w = parse_ok("workload: {type: trace, path: x.csv, time_column: t, rate_scale: 2.5}\n", NULL);
    assert_string_equal(w.path, "x.csv");
    assert_true(w.rate_scale == 2.5);
    w = parse_ok("workload: {type: trace, path: x.csv, time_column: t}\n", ".");
    assert_string_equal(w.path, "x.csv");
}

static void test_envelope(void **state)
{
    (void)state;
    workload_spec w = parse_ok("workload:\n"
                               "  type: envelope\n"
                               "  path: envelope_clients.csv\n"
                               "  time_column: window_start_s\n"
                               "  rate_column: rate\n"
                               "  cv_column: cv\n"
                               "  client_column: client_id\n"
                               "  window: 10m\n"
                               "  start: 10m\n"
                               "  end: 40m\n"
                               "  rate_scale: 2\n",
                               "tests/data/traces");
    assert_int_equal(w.type, WORKLOAD_ENVELOPE);
    assert_string_equal(w.rate_col, "rate");
    assert_int_equal(w.window_us, 600000000);
    assert_int_equal(w.start_us, 600000000);
    assert_int_equal(w.end_us, 2400000000LL);
    int64_t span;
    /* windows 600 (2 req/s), 1200 (gap), 1800 (5 req/s), doubled: 2 x 4200 */
    uint64_t n = replay(&w, 3, &span);
    assert_int_equal(span, 1800000000LL);
    if (fabs((double)n - 8400) > 5 * 2 * 2 * sqrt(8400.0))
        fail_msg("envelope: %llu requests, want about 8400", (unsigned long long)n);
    /* one client, per-window counts */
    w = parse_ok("workload:\n"
                 "  type: envelope\n"
                 "  path: envelope_clients.csv\n"
                 "  time_column: window_start_s\n"
                 "  rate_column: rate\n"
                 "  filter_column: client_id\n"
                 "  filter_value: a\n"
                 "  gap_column: active_clients\n"
                 "  image_mix: [{mp: [3, 3], faces: {2: 1}}]\n",
                 "tests/data/traces");
    assert_string_equal(w.filter_value, "a");
    n = replay(&w, 3, &span);
    if (fabs((double)n - 3000) > 5 * sqrt(3000.0))
        fail_msg("client a: %llu requests, want about 3000", (unsigned long long)n);
    assert_true(w.mix.n_classes == 1 && w.mix.cls[0].mp_min == 3);
}

static void test_tidal_and_poisson(void **state)
{
    (void)state;
    workload_spec w = parse_ok("workload:\n"
                               "  type: tidal\n"
                               "  days: 2\n"
                               "  trough_rate_per_s: 0.5\n"
                               "  peak_rate_per_s: 4\n"
                               "  peaks: [{hour: 9, width_h: 1.5, rel: 0.7}, {hour: 21}]\n"
                               "  weekly: true\n"
                               "  weekend_factor: 0.25\n"
                               "  start_weekday: 5\n",
                               NULL);
    assert_int_equal(w.type, WORKLOAD_TIDAL);
    assert_int_equal(w.tidal.days, 2);
    assert_int_equal(w.tidal.n_peaks, 2);
    assert_true(w.tidal.peak_hour[0] == 9 && w.tidal.peak_width_h[0] == 1.5 &&
                w.tidal.peak_rel[0] == 0.7);
    assert_true(w.tidal.peak_hour[1] == 21 && w.tidal.peak_width_h[1] == 2 &&
                w.tidal.peak_rel[1] == 1);
    assert_true(w.tidal.weekly && w.tidal.weekend_factor == 0.25 && w.tidal.start_weekday == 5);
    int64_t span;
    uint64_t n = replay(&w, 8, &span);
    assert_int_equal(span, 2 * 86400LL * 1000000);
    /* both days are weekend days: a quarter of the weekday rate */
    tidal_curve c;
    gp_error e;
    assert_int_equal(tidal_curve_init(&w.tidal, &c, &e), 0);
    double want = 0;
    for (int t = 0; t < 2 * 86400; t += 10)
        want += 10 * tidal_curve_rate_per_s(&c, t + 5);
    if (fabs((double)n - want) > 5 * sqrt(want))
        fail_msg("tidal: %llu requests, want %.0f", (unsigned long long)n, want);
    /* defaults: one day, peaks at 10:00 and 20:00 */
    w = parse_ok("workload: {type: tidal}\n", NULL);
    assert_int_equal(w.tidal.days, 1);
    assert_true(w.tidal.n_peaks == 2 && w.tidal.peak_hour[0] == 10 && w.tidal.peak_hour[1] == 20);
    w = parse_ok("workload: {type: tidal, peaks: []}\n", NULL);
    assert_int_equal(w.tidal.n_peaks, 0);

    w = parse_ok("workload: {type: poisson, rate_per_s: 20, duration: 30m}\n", NULL);
    assert_int_equal(w.type, WORKLOAD_POISSON);
    n = replay(&w, 2, &span);
    assert_int_equal(span, 1800000000LL);
    if (fabs((double)n - 36000) > 5 * sqrt(36000.0))
        fail_msg("poisson: %llu requests, want about 36000", (unsigned long long)n);
    /* the same seed gives the same requests (streams are compared in test_trace_gen) */
    assert_int_equal(replay(&w, 2, &span), n);
}

static void test_errors(void **state)
{
    (void)state;
    static const struct {
        const char *name, *yaml;
        int code;
        const char *want;
    } rows[] = {
        {"no type", "workload:\n  path: x.csv\n", GP_EMISSING,
         "exp.yaml:2:3: workload.type: required key 'type' is missing"},
        {"type typo", "workload:\n  type: tidel\n", GP_EUNKNOWN,
         "exp.yaml:2:9: workload.type: unknown value \"tidel\" (did you mean 'tidal'?)"},
        {"not a map", "workload: [1, 2]\n", GP_EPARSE,
         "exp.yaml:1:11: workload: expected a map with a `type` (trace, envelope, tidal or "
         "poisson)"},
        {"trace: unknown key", "workload:\n  type: trace\n  path: x.csv\n  time_col: t\n",
         GP_EUNKNOWN,
         "exp.yaml:4:3: workload.time_col: unknown key 'time_col' (allowed: type, image_mix, path, "
         "time_column, time_unit, mp_column, faces_column, start, end, time_scale, rate_scale, "
         "copy_spread)"},
        {"trace: no path", "workload:\n  type: trace\n  time_column: t\n", GP_EMISSING,
         "exp.yaml:2:3: workload.path: required key 'path' is missing"},
        {"trace: bad start",
         "workload:\n  type: trace\n  path: x.csv\n  time_column: t\n  start: yesterday\n",
         GP_EPARSE,
         "exp.yaml:5:10: workload.start: expected a date-time like \"2025-02-05 00:00:00\" or a "
         "number, got \"yesterday\""},
        {"trace: rate_scale 5000",
         "workload:\n  type: trace\n  path: x.csv\n  time_column: t\n  rate_scale: 5000\n",
         GP_ERANGE,
         "exp.yaml:5:15: workload.rate_scale: at most 1000 for a recorded trace (got 5000); for "
         "more, replay its per-minute counts as an envelope"},
        {"trace: time unit",
         "workload:\n  type: trace\n  path: x.csv\n  time_column: t\n  time_unit: hours\n",
         GP_EUNKNOWN,
         "exp.yaml:5:14: workload.time_unit: expected one of auto, iso, s, ms, us, ns, got "
         "\"hours\""},
        {"envelope: no rate column",
         "workload:\n  type: envelope\n  path: e.csv\n  time_column: t\n", GP_EMISSING,
         "exp.yaml:2:3: workload.rate_column: required key 'rate_column' is missing"},
        {"envelope: filter without value",
         "workload:\n  type: envelope\n  path: e.csv\n  time_column: t\n  rate_column: r\n  "
         "filter_column: client_id\n",
         GP_EMISSING, "exp.yaml:6:18: workload.filter_column: filter_column needs a filter_value"},
        {"envelope: end before start",
         "workload:\n  type: envelope\n  path: e.csv\n  time_column: t\n  rate_column: r\n  start: "
         "1h\n  end: 30m\n",
         GP_ERANGE, "exp.yaml:7:8: workload.end: end must be after start"},
        {"tidal: negative peak", "workload:\n  type: tidal\n  peak_rate_per_s: -1\n", GP_ERANGE,
         "exp.yaml:3:20: workload.peak_rate_per_s: expected a number in [1e-09, 1000000000], got "
         "-1"},
        {"tidal: trough above peak",
         "workload:\n  type: tidal\n  trough_rate_per_s: 9\n  peak_rate_per_s: 3\n", GP_ERANGE,
         "exp.yaml:3:22: workload.trough_rate_per_s: trough_rate_per_s (9) is above "
         "peak_rate_per_s (3)"},
        {"tidal: 7 peaks",
         "workload:\n  type: tidal\n  peaks: [{hour: 1}, {hour: 2}, {hour: 3}, {hour: 4}, {hour: "
         "5}, {hour: 6}, {hour: 7}]\n",
         GP_ERANGE, "exp.yaml:3:10: workload.peaks: at most 6 peaks, got 7"},
        {"tidal: hour 25", "workload:\n  type: tidal\n  peaks:\n    - {hour: 25}\n", GP_ERANGE,
         "exp.yaml:4:14: workload.peaks[0].hour: expected a number in [0, 24], got 25"},
        {"tidal: peak key", "workload:\n  type: tidal\n  peaks:\n    - {hour: 3, width: 2}\n",
         GP_EUNKNOWN,
         "exp.yaml:4:17: workload.peaks[0].width: unknown key 'width' (did you mean 'width_h'?)"},
        {"tidal: days 0", "workload:\n  type: tidal\n  days: 0\n", GP_ERANGE,
         "exp.yaml:3:9: workload.days: expected an integer in [1, 36500], got 0"},
        {"poisson: no duration", "workload:\n  type: poisson\n  rate_per_s: 5\n", GP_EMISSING,
         "exp.yaml:2:3: workload.duration: required key 'duration' is missing"},
        {"poisson: bad duration",
         "workload:\n  type: poisson\n  rate_per_s: 5\n  duration: ten minutes\n", GP_EPARSE,
         "exp.yaml:4:13: workload.duration: expected a duration (seconds, or like 250ms, 30s, 5m, "
         "1h30m), got \"ten minutes\""},
        {"image mix",
         "workload:\n  type: poisson\n  rate_per_s: 5\n  duration: 1h\n  image_mix:\n    - {mp: "
         "0}\n",
         GP_ERANGE,
         "exp.yaml:6:12: workload.image_mix[0].mp: expected a number in [0.001, 1000], got 0"},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        workload_spec w;
        char got[1024];
        int rc = parse(rows[i].yaml, "experiments", &w, got, sizeof(got));
        if (rc != rows[i].code || strcmp(got, rows[i].want) != 0)
            fail_msg("%s: got %d '%s'\n want %d '%s'", rows[i].name, rc, got, rows[i].code,
                     rows[i].want);
    }
    /* the data file is only read when opened: its errors name the resolved path */
    workload_spec w =
        parse_ok("workload: {type: trace, path: nope.csv, time_column: t}\n", "tests/data/traces");
    arrival_src *s;
    gp_error e;
    assert_int_equal(workload_open(&w, 1, &s, &e), GP_EMISSING);
    assert_string_equal(e.file, "tests/data/traces/nope.csv");
    w = parse_ok("workload: {type: trace, path: unsorted.csv, time_column: time}\n",
                 "tests/data/traces");
    assert_int_equal(workload_open(&w, 1, &s, &e), GP_EMISSING);
    assert_string_equal(e.msg, "no time column 'time'; the columns are: t, mp, faces");
}

static void test_base_dir(void **state)
{
    (void)state;
    static const struct {
        const char *path, *want;
    } rows[] = {
        {"experiments/tidal.yaml", "experiments"},
        {"tidal.yaml", "."},
        {"/tidal.yaml", "/"},
        {"/a/b/c.yaml", "/a/b"},
        {"../x/y.yaml", "../x"},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        char buf[64];
        workload_base_dir(rows[i].path, buf, sizeof(buf));
        if (strcmp(buf, rows[i].want) != 0)
            fail_msg("%s: got '%s' want '%s'", rows[i].path, buf, rows[i].want);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_trace),
        cmocka_unit_test(test_envelope),
        cmocka_unit_test(test_tidal_and_poisson),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_base_dir),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
