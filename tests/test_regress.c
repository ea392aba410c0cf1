/* test_regress.c: the regression gate. Baselines written from an experiment; the same
 * experiment passes; a deliberately worsened policy (fewer static pods, an HPA that adds
 * pods later) fails with WORSE on P99 / SLO; a better one passes; a lost label fails; a
 * missing baseline is an error naming the list file. Files live in a fresh /tmp dir. */
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

/* Runs the gate; returns the number of worse rows (fails the test on an error). */
static int gate(bool update, char *out_text, size_t cap)
{
    regress_opts o = {.dir = tmpdir, .update = update, .tmp_dir = tmpdir};
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
        int worse = gate(false, out, sizeof(out));
        if ((worse > 0) != rows[i].want_worse || !strstr(out, rows[i].want_text))
            fail_msg("%s: got %d worse, want %s, \"%s\" %s in:\n%s", rows[i].name, worse,
                     rows[i].want_worse ? "some" : "none", rows[i].want_text,
                     strstr(out, rows[i].want_text) ? "found" : "missing", out);
    }
}

static void test_missing_baseline(void **state)
{
    (void)state;
    write_setup(2, 60, true);
    char path[256];
    snprintf(path, sizeof(path), "%s/canon.csv", tmpdir);
    unlink(path);
    regress_opts o = {.dir = tmpdir, .tmp_dir = tmpdir};
    FILE *out = fopen("/dev/null", "w");
    int worse = 0;
    gp_error e;
    gp_error_clear(&e);
    int rc = regress_run(&o, out, &worse, &e);
    fclose(out);
    if (rc >= 0 || !strstr(e.msg, "regress-update") || !strstr(e.file, "canonical.txt"))
        fail_msg("missing baseline: got %d \"%s\" in %s", rc, e.msg, e.file);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gate),
        cmocka_unit_test(test_missing_baseline),
    };
    return cmocka_run_group_tests(tests, setup_dir, remove_dir);
}
