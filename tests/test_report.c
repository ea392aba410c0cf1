/* test_report.c: grouping by label in first-seen order, confidence intervals against
 * hand-computed values, the printed table, paired differences, the CSV round trip, CSV
 * read errors, and that a failed CSV write never leaves a half file at the path. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <dirent.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cmocka.h>

#include "lab/report.h"
#include "lab/results_db.h"
#include "tests/testutil.h"

static char tmpdir[64];

static int setup_dir(void **state)
{
    (void)state;
    return tu_mkdtemp(tmpdir, sizeof(tmpdir), "report");
}

static int remove_dir(void **state)
{
    (void)state;
    return tu_rm_rf(tmpdir);
}

/* label, policy, replication, p99, slo_frac, gpu_seconds, timed_out */
typedef struct run_in {
    const char *label, *policy;
    int rep;
    double p99, slo_frac, gpu_s;
    uint64_t timed_out;
} run_in;

static const run_in runs_in[] = {
    {"hpa-70", "hpa", 0, 1.0, 0.90, 3600, 10},     {"static-2", "static", 0, 0.5, 0.99, 7200, 0},
    {"hpa-70", "hpa", 1, 2.0, 0.95, 7200, 20},     {"gpen", "gpen_rule", 0, 0.8, 0.97, 5400, 3},
    {"static-2", "static", 1, 0.7, 0.98, 7200, 1}, {"hpa-70", "hpa", 2, 3.0, 1.00, 10800, 30},
};
#define N_RUNS (sizeof(runs_in) / sizeof(runs_in[0]))

static void make_runs(run_summary *r)
{
    memset(r, 0, N_RUNS * sizeof(*r));
    for (size_t i = 0; i < N_RUNS; i++) {
        snprintf(r[i].label, sizeof(r[i].label), "%s", runs_in[i].label);
        snprintf(r[i].policy, sizeof(r[i].policy), "%s", runs_in[i].policy);
        r[i].replication = runs_in[i].rep;
        r[i].lat_p99_s = runs_in[i].p99;
        r[i].lat_p50_s = runs_in[i].p99 / 4;
        r[i].lat_p95_s = runs_in[i].p99 / 2;
        r[i].lat_mean_s = runs_in[i].p99 / 3;
        r[i].slo_frac = runs_in[i].slo_frac;
        r[i].gpu_seconds = runs_in[i].gpu_s;
        r[i].utilisation = 0.5;
        r[i].timed_out = runs_in[i].timed_out;
        r[i].pod_starts = 4;
        r[i].cold_waited = 12;
    }
}

static void near(const char *what, double got, double want)
{
    if (!(fabs(got - want) <= 1e-6 * fmax(1, fabs(want))))
        fail_msg("%s: got %.9g want %.9g", what, got, want);
}

static void test_grouping_and_ci(void **state)
{
    (void)state;
    run_summary r[N_RUNS];
    make_runs(r);
    report_group *g;
    size_t ng;
    gp_error e;
    assert_int_equal(report_group_runs(r, N_RUNS, &g, &ng, &e), 0);
    assert_int_equal(ng, 3);
    static const struct {
        const char *label, *policy;
        size_t n;
    } want[] = {{"hpa-70", "hpa", 3}, {"static-2", "static", 2}, {"gpen", "gpen_rule", 1}};
    for (size_t k = 0; k < 3; k++)
        if (strcmp(g[k].label, want[k].label) || strcmp(g[k].policy, want[k].policy) ||
            g[k].n != want[k].n)
            fail_msg("group %zu: %s/%s n=%zu want %s/%s n=%zu", k, g[k].label, g[k].policy, g[k].n,
                     want[k].label, want[k].policy, want[k].n);
    /* hpa-70: p99 {1, 2, 3}: sd 1, half = t(0.975, 2) / sqrt(3) = 4.302653 / 1.732051 */
    near("hpa p99 mean", g[0].s[RM_P99_S].mean, 2.0);
    near("hpa p99 sd", g[0].s[RM_P99_S].sd, 1.0);
    near("hpa p99 half", g[0].s[RM_P99_S].half_width, 2.4841377);
    /* slo {90, 95, 100} %: sd 5, half 12.420689 */
    near("hpa slo mean", g[0].s[RM_SLO_PCT].mean, 95.0);
    near("hpa slo half", g[0].s[RM_SLO_PCT].half_width, 12.4206893);
    /* GPU-hours {1, 2, 3} */
    near("hpa gpu-h mean", g[0].s[RM_GPU_HOURS].mean, 2.0);
    near("hpa gpu-h half", g[0].s[RM_GPU_HOURS].half_width, 2.4841377);
    near("hpa timeouts half", g[0].s[RM_TIMED_OUT].half_width, 24.841377);
    near("hpa util", g[0].s[RM_UTIL_PCT].mean, 50.0);
    /* static-2: p99 {0.5, 0.7}: sd 0.1414214, half = 12.706205 * 0.1414214 / sqrt(2) */
    near("static p99 mean", g[1].s[RM_P99_S].mean, 0.6);
    near("static p99 half", g[1].s[RM_P99_S].half_width, 1.2706205);
    /* gpen: one run, no interval */
    near("gpen p99", g[2].s[RM_P99_S].mean, 0.8);
    assert_true(isnan(g[2].s[RM_P99_S].half_width));
    free(g);

    assert_int_equal(report_group_runs(r, 0, &g, &ng, &e), 0);
    assert_int_equal(ng, 0);
    assert_null(g);
}

static char *capture_table(const run_summary *r, size_t n, const char *baseline)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_non_null(f);
    gp_error e;
    int rc = baseline ? report_print_paired(f, r, n, baseline, &e)
                      : report_print_table(f, r, n, NULL, &e);
    fclose(f);
    if (rc != 0)
        fail_msg("printing failed: %d %s", rc, e.msg);
    return buf;
}

static size_t columns_of(const char *s, size_t len)
{
    size_t w = 0;
    for (size_t i = 0; i < len; i++)
        w += ((unsigned char)s[i] & 0xC0) != 0x80;
    return w;
}

/* Every line but the footnote has the same display width; returns the line count. */
static size_t check_aligned(const char *text)
{
    size_t width = 0, lines = 0;
    const char *p = text;
    while (*p) {
        const char *nl = strchr(p, '\n');
        assert_non_null(nl);
        const char *next = nl + 1;
        if (*next == '\0')
            break; /* footnote */
        size_t w = columns_of(p, (size_t)(nl - p));
        if (lines && w != width)
            fail_msg("line %zu is %zu columns wide, the header %zu:\n%s", lines + 1, w, width,
                     text);
        width = w;
        lines++;
        p = next;
    }
    return lines;
}

static void test_table_text(void **state)
{
    (void)state;
    run_summary r[N_RUNS];
    make_runs(r);
    for (size_t i = 0; i < N_RUNS; i++)
        r[i].arrived = 100;
    char *t = capture_table(r, N_RUNS, NULL);
    /* two header lines, the rule, and per label its means and, under them, the half-widths */
    assert_int_equal(check_aligned(t), 8); /* gpen has one run: no half-width line */
    /* labels in first-seen order */
    const char *a = strstr(t, "\nhpa-70"), *b = strstr(t, "\nstatic-2"), *c = strstr(t, "\ngpen");
    assert_true(a && b && c && a < b && b < c);
    static const char *const want[] = {
        "  2.000", /* hpa P99 */
        "\xc2\xb1"
        "2.484",  /* its half-width, on the line below */
        " 95.00", /* hpa SLO % */
        "\xc2\xb1"
        "12.42",
        " 20.00", /* hpa timeouts: 20 of 100 arrivals, % */
        "\xc2\xb1"
        "24.84",
        "  2.00",  /* hpa GPU-h */
        "  0.600", /* static P99 */
        "\xc2\xb1"
        "1.271",
        "  0.800", /* gpen P99, single run: no interval */
        "P99",
        "SLO",
        "timeouts",
        "pod",
        "starts",
        "cold",
        "waits",
        "GPU-h",
        "(USD)",
        "util",
    };
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
        if (!strstr(t, want[i]))
            fail_msg("table lacks \"%s\":\n%s", want[i], t);
    /* no rejections anywhere: no rejection column */
    if (strstr(t, "rejected"))
        fail_msg("a rejection column without rejections:\n%s", t);
    /* the hpa half-width line sits right under the hpa line */
    const char *hw = strchr(a + 1, '\n');
    assert_non_null(hw);
    if (strncmp(hw + 1, "      ", 6) != 0 || !strstr(hw + 1, "\xc2\xb1"))
        fail_msg("no half-width line under hpa-70:\n%s", t);
    free(t);
}

static void test_paired(void **state)
{
    (void)state;
    run_summary r[N_RUNS];
    make_runs(r);
    char *t = capture_table(r, N_RUNS, "static-2");
    /* hpa-70 - static-2 P99 by replication: {1 - 0.5, 2 - 0.7} = {0.5, 1.3}:
     * mean 0.9, sd 0.5656854, half 12.706205 * 0.5656854 / sqrt(2) = 5.0824820 */
    if (!strstr(t, "0.900 \xc2\xb1 5.082"))
        fail_msg("paired table lacks the P99 difference:\n%s", t);
    /* timeouts {10 - 0, 20 - 1} = {10, 19}: 14.5 +- 57.2 */
    if (!strstr(t, "14.5 \xc2\xb1 57.2"))
        fail_msg("paired table lacks the timeout difference:\n%s", t);
    assert_non_null(strstr(t, "\nhpa-70"));
    assert_non_null(strstr(t, "\ngpen"));
    assert_null(strstr(t, "\nstatic-2 ")); /* the baseline has no row */
    assert_int_equal(check_aligned(t), 4);
    free(t);

    /* a clear difference is starred: 3 pairs, each +1.0 s +- noise */
    run_summary p[6];
    memset(p, 0, sizeof(p));
    for (int i = 0; i < 6; i++) {
        snprintf(p[i].label, sizeof(p[i].label), "%s", i < 3 ? "slow" : "fast");
        p[i].replication = i % 3;
        p[i].lat_p99_s = (i < 3 ? 2.0 : 1.0) + 0.01 * (i % 3);
    }
    t = capture_table(p, 6, "fast");
    if (!strstr(t, "1.000 \xc2\xb1 0.000 *"))
        fail_msg("significant difference not starred:\n%s", t);
    free(t);

    gp_error e;
    FILE *f = fopen("/dev/null", "w");
    assert_int_equal(report_print_paired(f, r, N_RUNS, "nobody", &e), GP_EUNKNOWN);
    fclose(f);
}

/* ---------- CSV ---------- */

static void fill_every_field(run_summary *r, int salt)
{
    size_t nf;
    const field_desc *fd = result_fields_run(&nf);
    memset(r, 0, sizeof(*r));
    for (size_t i = 0; i < nf; i++) {
        char text[96];
        int k = (int)i + 37 * salt;
        switch (fd[i].type) {
        case FIELD_TEXT: snprintf(text, sizeof(text), " %s, \"%d\"\nx ", fd[i].name, salt); break;
        case FIELD_UINT64:
            snprintf(text, sizeof(text), "%llu", 18446744073709551000ull + (unsigned)k);
            break;
        case FIELD_DOUBLE:
            if (k % 7 == 3)
                text[0] = '\0'; /* NaN */
            else
                snprintf(text, sizeof(text), "%.17g", 1.0 / (k + 3));
            break;
        default: snprintf(text, sizeof(text), "%d", -k); break;
        }
        assert_int_equal(result_field_parse(&fd[i], r, text), 0);
    }
}

static int temp_files_left(void)
{
    DIR *d = opendir(tmpdir);
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d)))
        n += strstr(de->d_name, ".tmp.") != NULL;
    closedir(d);
    return n;
}

static void test_csv_round_trip(void **state)
{
    (void)state;
    char path[128];
    snprintf(path, sizeof(path), "%s/runs.csv", tmpdir);
    run_summary r[4];
    for (int i = 0; i < 4; i++)
        fill_every_field(&r[i], i);
    gp_error e;
    assert_int_equal(report_write_csv(path, r, 4, &e), 0);
    assert_int_equal(temp_files_left(), 0);
    run_summary *back;
    size_t n;
    gp_error_clear(&e);
    int rc = report_read_csv(path, &back, &n, &e);
    if (rc != 0)
        fail_msg("read back: %d %s:%ld %s %s", rc, e.file, e.line, e.field, e.msg);
    assert_int_equal(n, 4);
    size_t nf;
    const field_desc *fd = result_fields_run(&nf);
    for (int i = 0; i < 4; i++)
        for (size_t k = 0; k < nf; k++) {
            char x[256], y[256];
            result_field_format(&fd[k], &r[i], x, sizeof(x));
            result_field_format(&fd[k], &back[i], y, sizeof(y));
            if (strcmp(x, y) != 0)
                fail_msg("row %d field %s: got \"%s\" want \"%s\"", i, fd[k].name, y, x);
        }
    free(back);
    /* the header names every field */
    FILE *f = fopen(path, "r");
    char header[4096];
    assert_non_null(fgets(header, sizeof(header), f));
    fclose(f);
    for (size_t k = 0; k < nf; k++)
        if (!strstr(header, fd[k].name))
            fail_msg("header lacks %s", fd[k].name);
    /* no runs: a header alone */
    assert_int_equal(report_write_csv(path, r, 0, &e), 0);
    assert_int_equal(report_read_csv(path, &back, &n, &e), 0);
    assert_int_equal(n, 0);
    assert_null(back);
}

/* A write that fails midway (file size limit) leaves the old file whole and no temp. */
static void test_csv_never_half_written(void **state)
{
    (void)state;
    char path[128];
    snprintf(path, sizeof(path), "%s/atomic.csv", tmpdir);
    run_summary small[2];
    fill_every_field(&small[0], 1);
    fill_every_field(&small[1], 2);
    gp_error e;
    assert_int_equal(report_write_csv(path, small, 2, &e), 0);
    FILE *f = fopen(path, "rb");
    char before[65536];
    size_t before_len = fread(before, 1, sizeof(before), f);
    fclose(f);

    enum { N = 3000 }; /* ~3 MB of CSV */
    run_summary *big = malloc(N * sizeof(*big));
    for (int i = 0; i < N; i++)
        fill_every_field(&big[i], i);
    struct rlimit old, lim;
    assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
    lim = old;
    lim.rlim_cur = 256 * 1024;
    void (*prev)(int) = signal(SIGXFSZ, SIG_IGN);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
    gp_error_clear(&e);
    int rc = report_write_csv(path, big, N, &e);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
    signal(SIGXFSZ, prev);
    assert_int_equal(rc, GP_EIO);
    assert_string_equal(e.file, path);
    assert_int_equal(temp_files_left(), 0);
    f = fopen(path, "rb");
    char after[65536];
    size_t after_len = fread(after, 1, sizeof(after), f);
    fclose(f);
    assert_int_equal(after_len, before_len);
    assert_memory_equal(after, before, before_len);

    /* and without the limit it is written whole */
    assert_int_equal(report_write_csv(path, big, N, &e), 0);
    run_summary *back;
    size_t n;
    assert_int_equal(report_read_csv(path, &back, &n, &e), 0);
    assert_int_equal(n, N);
    free(back);
    free(big);

    gp_error_clear(&e);
    assert_int_equal(report_write_csv("/nonexistent-dir/r.csv", small, 2, &e), GP_EIO);
}

static void test_csv_read_errors(void **state)
{
    (void)state;
    size_t nf;
    const field_desc *fd = result_fields_run(&nf);
    /* a valid header, then rows made per case */
    char header[4096] = "";
    for (size_t i = 0; i < nf; i++) {
        strcat(header, i ? "," : "");
        strcat(header, fd[i].name);
    }
    char good_row[4096] = "";
    for (size_t i = 0; i < nf; i++) {
        strcat(good_row, i ? "," : "");
        strcat(good_row, fd[i].type == FIELD_TEXT ? "x" : "1");
    }
    char bad_value_row[4096];
    snprintf(bad_value_row, sizeof(bad_value_row), "%s", good_row);
    /* the third cell is `replication` */
    assert_string_equal(fd[2].name, "replication");
    char *third = strchr(strchr(bad_value_row, ',') + 1, ',') + 1;
    *third = 'z';

    static char body[4][16384];
    snprintf(body[0], sizeof(body[0]), "%s,bogus\n", header);
    snprintf(body[1], sizeof(body[1]), "%s\n", strchr(header, ',') + 1); /* no label */
    snprintf(body[2], sizeof(body[2]), "%s\n%s\n%s\n", header, good_row, bad_value_row);
    snprintf(body[3], sizeof(body[3]), "%s\n%s,extra\n", header, good_row);
    static const struct {
        const char *name;
        int want_rc;
        long want_line;
        const char *want_field;
        const char *want_msg;
    } rows[] = {
        {"unknown column", GP_EUNKNOWN, 1, "bogus", "unknown column"},
        {"missing column", GP_EMISSING, 1, "label", "missing column"},
        {"bad value", GP_EPARSE, 3, "replication", "bad value \"z\""},
        {"extra cell", GP_EPARSE, 2, "", "too many columns"}, /* the one CSV reader's words */
    };
    for (size_t i = 0; i < 4; i++) {
        char path[128];
        snprintf(path, sizeof(path), "%s/bad%zu.csv", tmpdir, i);
        FILE *f = fopen(path, "w");
        fputs(body[i], f);
        fclose(f);
        run_summary *out = NULL;
        size_t n;
        gp_error e;
        gp_error_clear(&e);
        int rc = report_read_csv(path, &out, &n, &e);
        if (rc != rows[i].want_rc || e.line != rows[i].want_line ||
            strcmp(e.field, rows[i].want_field) != 0 || !strstr(e.msg, rows[i].want_msg))
            fail_msg("%s: got %d line %ld field '%s' msg '%s'", rows[i].name, rc, e.line, e.field,
                     e.msg);
        assert_null(out);
    }
}

/* Regression baselines go through the one CSV reader (issue 13): labels that it would trim
 * or skip as comments are quoted by the writer and come back as they were, and a NUL byte
 * in a baseline is one error at its line and column (it used to end the cell quietly:
 * "1<NUL>2" read as 1). */
static void test_csv_baseline_text(void **state)
{
    (void)state;
    static const char *const labels[] = {"#1", " lead", "trail\t", "a,b \"q\"", "caf\xc3\xa9"};
    enum { N = sizeof(labels) / sizeof(labels[0]) };
    run_summary r[N];
    memset(r, 0, sizeof(r));
    for (int i = 0; i < N; i++) {
        snprintf(r[i].label, sizeof(r[i].label), "%s", labels[i]);
        r[i].replication = i;
    }
    char path[128];
    snprintf(path, sizeof(path), "%s/labels.csv", tmpdir);
    gp_error e;
    assert_int_equal(report_write_csv(path, r, N, &e), 0);
    run_summary *back;
    size_t n;
    gp_error_clear(&e);
    if (report_read_csv(path, &back, &n, &e) != 0)
        fail_msg("labels: %s", e.msg);
    assert_int_equal(n, N);
    for (int i = 0; i < N; i++)
        if (strcmp(back[i].label, labels[i]) != 0)
            fail_msg("label %d: got \"%s\" want \"%s\"", i, back[i].label, labels[i]);
    free(back);
    /* a NUL inside the replication cell of the first row */
    FILE *f = fopen(path, "rb");
    static char text[16384];
    size_t len = fread(text, 1, sizeof(text), f);
    fclose(f);
    char *row = memchr(text, '\n', len) + 1;
    char *rep = strchr(strchr(strchr(row, ',') + 1, ',') + 1, ',') - 1; /* "0" of rep 0 */
    assert_int_equal(*rep, '0');
    *rep = '\0';
    f = fopen(path, "wb");
    fwrite(text, 1, len, f);
    fclose(f);
    gp_error_clear(&e);
    int rc = report_read_csv(path, &back, &n, &e);
    if (rc != GP_EPARSE || e.line != 2 || e.col != (long)(rep - row) + 1 || !strstr(e.msg, "NUL"))
        fail_msg("NUL in a baseline: rc %d line %ld col %ld '%s'", rc, e.line, e.col, e.msg);
    assert_null(back);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_grouping_and_ci),
        cmocka_unit_test(test_table_text),
        cmocka_unit_test(test_paired),
        cmocka_unit_test(test_csv_round_trip),
        cmocka_unit_test(test_csv_never_half_written),
        cmocka_unit_test(test_csv_read_errors),
        cmocka_unit_test(test_csv_baseline_text),
    };
    return cmocka_run_group_tests(tests, setup_dir, remove_dir);
}
