/* test_regress.c: the regression gate. Baselines written from an experiment; the same
 * experiment passes; a deliberately worsened policy (fewer static pods, an HPA that adds
 * pods later) fails with WORSE on P99 / SLO; a better one passes; a lost label fails; a
 * missing baseline is an error naming the list file. Per-metric tolerances from the list
 * file (absolute or % of the baseline, for every experiment or one line) let a change
 * within them pass; an unknown metric is an error naming the file and line. The summary
 * names each label and metric that got worse; --junit writes one test case per label and
 * metric with a failure for each worse one. Files live in a fresh /tmp dir. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "lab/regress.h"
#include "tests/testutil.h"

static char tmpdir[64];
static char profile[PATH_MAX];

static int setup_dir(void **state)
{
    (void)state;
    if (!realpath("gpu/profiles/t4-seed", profile))
        return -1;
    return tu_mkdtemp(tmpdir, sizeof(tmpdir), "regress-t");
}

static int remove_dir(void **state)
{
    (void)state;
    return tu_rm_rf(tmpdir);
}

/* One experiment with two entries; `pods` and `target` are the knobs a change turns. */
static void write_setup(int pods, int target, bool with_hpa)
{
    char path[256], text[PATH_MAX + 2048];
    snprintf(path, sizeof(path), "%s/canon.yaml", tmpdir);
    snprintf(text, sizeof(text),
             "name: canon\nseed: 5\nreplications: 4\nprofile: %s\n"
             "workload: {type: tidal, days: 1, trough_rate_per_s: 0.05, peak_rate_per_s: 1.0,\n"
             "  peaks: [{hour: 10, width_h: 2, rel: 0.8}, {hour: 20, width_h: 2, rel: 1.0}]}\n"
             "cluster: {gpus: 4, min_pods: 1, max_pods: 4, concurrency: 5}\n"
             "policies:\n"
             "  - {label: fixed, policy: static, config: {pods: %d}}\n"
             "%s%d%s",
             profile, pods,
             with_hpa ? "  - {label: hpa, policy: hpa, config: {minReplicas: 1, maxReplicas: 4, "
                        "metrics: [{type: Pods, pods: {metric: {name: DCGM_FI_DEV_GPU_UTIL}, "
                        "target: {type: AverageValue, averageValue: \""
                      : "# ",
             target, with_hpa ? "\"}}}]}}\n" : "\n");
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    snprintf(path, sizeof(path), "%s/canonical.txt", tmpdir);
    f = fopen(path, "w");
    assert_non_null(f);
    fprintf(f, "# test list\n%s/canon.yaml 4\n", tmpdir);
    fclose(f);
}

/* canonical.txt: `head` (tolerance lines), then the experiment's line with `tail`. */
static void write_list(const char *head, const char *tail)
{
    char path[256];
    snprintf(path, sizeof(path), "%s/canonical.txt", tmpdir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fprintf(f, "# test list\n%s%s/canon.yaml 4%s\n", head, tmpdir, tail);
    fclose(f);
}

static const char *junit_path; /* when set, gate() asks for JUnit XML there */

/* Runs the gate; returns the number of worse rows (fails the test on an error). */
static int gate(bool update, char *out_text, size_t cap)
{
    regress_opts o = {.dir = tmpdir, .update = update, .tmp_dir = tmpdir, .junit_path = junit_path};
    char *buf = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&buf, &len);
    int worse = -1;
    gp_error e;
    gp_error_clear(&e);
    int rc = regress_run(&o, out, &worse, &e);
    fclose(out);
    if (out_text)
        snprintf(out_text, cap, "%s", buf ? buf : "");
    free(buf);
    if (rc != 0)
        fail_msg("regress_run (update %d): %d %s", update, rc, e.msg);
    return worse;
}

/* Runs the gate against the baselines written before: worse or not, and a text in its
 * output. */
static void check_gate(const char *name, bool want_worse, const char *want_text)
{
    static char out[65536];
    int worse = gate(false, out, sizeof(out));
    if ((worse > 0) != want_worse || !strstr(out, want_text))
        fail_msg("%s: got %d worse, want %s, \"%s\" %s in:\n%s", name, worse,
                 want_worse ? "some" : "none", want_text,
                 strstr(out, want_text) ? "found" : "missing", out);
}

static void test_gate(void **state)
{
    (void)state;
    static char out[65536];
    static const struct {
        const char *name;
        int pods, target;
        bool hpa;
        bool want_worse;
        const char *want_text; /* in the output */
    } rows[] = {
        {"unchanged passes", 2, 60, true, false, "regress: 0 worse"},
        {"static 2 -> 1 pod: P99 and SLO worse", 1, 60, true, true, "WORSE"},
        {"hpa target 60 -> 95: adds pods later", 2, 95, true, true, "WORSE"},
        {"static 2 -> 3 pods: better latency, more GPU-h", 3, 60, true, true, "better"},
        {"hpa entry lost", 2, 60, false, true, "not run now"},
    };
    write_setup(2, 60, true);
    assert_int_equal(gate(true, out, sizeof(out)), 0);
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        write_setup(rows[i].pods, rows[i].target, rows[i].hpa);
        check_gate(rows[i].name, rows[i].want_worse, rows[i].want_text);
    }
}

/* Runs the gate for its error (its output is not wanted): the code, e filled. */
static int gate_error(gp_error *e)
{
    regress_opts o = {.dir = tmpdir, .tmp_dir = tmpdir};
    FILE *out = fopen("/dev/null", "w");
    int worse = 0;
    gp_error_clear(e);
    int rc = regress_run(&o, out, &worse, e);
    fclose(out);
    return rc;
}

static void test_missing_baseline(void **state)
{
    (void)state;
    write_setup(2, 60, true);
    char path[256];
    snprintf(path, sizeof(path), "%s/canon.csv", tmpdir);
    unlink(path);
    gp_error e;
    int rc = gate_error(&e);
    if (rc >= 0 || !strstr(e.msg, "regress-update") || !strstr(e.file, "canonical.txt"))
        fail_msg("missing baseline: got %d \"%s\" in %s", rc, e.msg, e.file);
}

static void test_tolerances(void **state)
{
    (void)state;
    static char out[65536];
    static const struct {
        const char *name;
        const char *head, *tail; /* canonical.txt around the experiment's path */
        int pods;
        bool want_worse;
        const char *want_text;
    } rows[] = {
        {"no tolerance: 1 pod is worse", "", "", 1, true, "WORSE"},
        {"zero tolerances as written", "tolerance p99_s 0\ntolerance slo_pct 0\n", "", 1, true,
         "WORSE"},
        {"wide absolute tolerances for every experiment",
         "tolerance p99_s 60\ntolerance slo_pct 100\ntolerance gpu_hours 1000\n", "", 1, false,
         "regress: 0 worse"},
        {"the same on the experiment's line", "", " p99_s=60 slo_pct=100", 1, false,
         "regress: 0 worse"},
        {"3 pods: +50% GPU-h within 60%", "tolerance gpu_hours 60%\n", "", 3, false,
         "regress: 0 worse"},
        {"3 pods: +50% GPU-h beyond 10%", "tolerance gpu_hours 10%\n", "", 3, true, "gpu_hours"},
        {"the line's tolerance overrides the file's", "tolerance gpu_hours 60%\n", " gpu_hours=10%",
         3, true, "gpu_hours"},
    };
    write_setup(2, 60, true); /* one baseline: the tolerances do not change it */
    write_list("", "");
    assert_int_equal(gate(true, out, sizeof(out)), 0);
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        write_setup(rows[i].pods, 60, true);
        write_list(rows[i].head, rows[i].tail);
        check_gate(rows[i].name, rows[i].want_worse, rows[i].want_text);
    }
}

static void test_bad_tolerance(void **state)
{
    (void)state;
    static const struct {
        const char *head, *tail, *want;
    } rows[] = {
        {"tolerance p99 0\n", "", "p99"},       /* not a metric of the table */
        {"tolerance p99_s fast\n", "", "fast"}, /* not a number */
        {"tolerance p99_s -1\n", "", "-1"},     /* negative */
        {"", " p99_s=", "p99_s"},               /* no value */
        {"", " nonsense", "nonsense"},          /* not METRIC=TOLERANCE */
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        write_setup(2, 60, true);
        write_list(rows[i].head, rows[i].tail);
        gp_error e;
        int rc = gate_error(&e);
        if (rc >= 0 || !strstr(e.file, "canonical.txt") || e.line < 2 ||
            !strstr(e.msg, rows[i].want))
            fail_msg("row %zu: want an error at canonical.txt naming \"%s\", got %d %s:%ld %s", i,
                     rows[i].want, rc, e.file, e.line, e.msg);
    }
}

/* The last line names every (label, metric) that got worse; JUnit has one failure each. */
static void test_summary_and_junit(void **state)
{
    (void)state;
    static char out[65536];
    char xml_path[256];
    snprintf(xml_path, sizeof(xml_path), "%s/regress.xml", tmpdir);
    write_setup(2, 60, true);
    write_list("", "");
    assert_int_equal(gate(true, out, sizeof(out)), 0);
    write_setup(1, 60, true); /* P99 up, SLO down; GPU-h down (better) */
    junit_path = xml_path;
    int worse = gate(false, out, sizeof(out));
    junit_path = NULL;
    assert_true(worse >= 2);
    const char *summary = strstr(out, "regress: ");
    if (!summary || !strstr(summary, "canon fixed p99_s") ||
        !strstr(summary, "canon fixed slo_pct") || strstr(summary, "gpu_hours") ||
        strstr(summary, "canon hpa"))
        fail_msg("the summary should name canon fixed p99_s and slo_pct only:\n%s", out);
    char *xml = tu_slurp(xml_path);
    if (!xml)
        fail_msg("no JUnit file %s", xml_path);
    int failures = 0, cases = 0;
    for (const char *p = xml; (p = strstr(p, "<failure")); p++)
        failures++;
    for (const char *p = xml; (p = strstr(p, "<testcase ")); p++)
        cases++;
    if (strncmp(xml, "<?xml", 5) != 0 || !strstr(xml, "<testsuites") || failures != worse ||
        cases < 6 || !strstr(xml, "classname=\"canon.fixed\" name=\"p99_s\"") ||
        !strstr(xml, "classname=\"canon.hpa\" name=\"gpu_hours\""))
        fail_msg("JUnit: %d failures for %d worse, %d cases:\n%s", failures, worse, cases, xml);
    free(xml);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gate),
        cmocka_unit_test(test_missing_baseline),
        cmocka_unit_test(test_tolerances),
        cmocka_unit_test(test_bad_tolerance),
        cmocka_unit_test(test_summary_and_junit),
    };
    return cmocka_run_group_tests(tests, setup_dir, remove_dir);
}
