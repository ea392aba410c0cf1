/* test_replay.c: `gpenlab policy replay` end to end. Kubernetes' replica-calculator and
 * behavior cases, and a KEDA activation/cooldown day, as CSV files under tests/data/policy/
 * with the expected printed decisions beside them (*.out, checked by hand against the Go
 * tests' expected counts, which the CSV comments quote); bad CSVs in badcsv/ carry their
 * expected one-line error; and the command-line errors. */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cli/commands.h"
#include "policy/replay.h"
#include "tests/testutil.h"

#define DATA "tests/data/policy/"

/* Runs the replay with argv, returns its rc and what it printed (caller frees). */
static int run(int argc, const char *const *argv, char **text, gp_error *err)
{
    char *args[16]; /* the entry point takes char ** as main() does; it does not write */
    assert_true(argc <= 16);
    for (int i = 0; i < argc; i++)
        args[i] = (char *)argv[i];
    size_t len = 0;
    FILE *out = open_memstream(text, &len);
    assert_non_null(out);
    gp_error_clear(err);
    int rc = cmd_policy_replay(argc, args, out, err);
    fclose(out);
    return rc;
}

static void test_golden(void **state)
{
    (void)state;
    static const struct {
        const char *policy, *base;
    } rows[] = {
        {"hpa", "replay_hpa_pods15"},
        {"hpa", "replay_hpa_pods20"},
        {"hpa", "replay_hpa_external"},
        {"hpa", "replay_hpa_default_behavior"},
        {"keda", "replay_keda"},
        {"kpa", "replay_kpa"}, /* 2-s ticks: panic to 5, ratchet, stable scale-down */
        /* issue 13: a byte-order mark and CRLF (a spreadsheet's export) read as any CSV (the
         * BOM used to stick to the first column: an invisible "unknown column") */
        {"hpa", "replay_hpa_pods15_bom"},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        char csv[256], yaml[256], outp[256];
        snprintf(csv, sizeof(csv), DATA "%s.csv", rows[i].base);
        snprintf(yaml, sizeof(yaml), DATA "%s.yaml", rows[i].base);
        snprintf(outp, sizeof(outp), DATA "%s.out", rows[i].base);
        const char *argv[] = {"replay", rows[i].policy, csv, "--config", yaml};
        char *got = NULL;
        gp_error err;
        int rc = run(5, argv, &got, &err);
        if (rc != 0) {
            char b[1024];
            gp_error_format(&err, b, sizeof(b));
            free(got);
            fail_msg("%s: rc %d: %s", rows[i].base, rc, b);
        }
        char *want = tu_slurp(outp);
        if (!want) {
            free(got);
            fail_msg("%s: cannot read %s", rows[i].base, outp);
        }
        if (strcmp(got, want) != 0) {
            /* name the first differing line */
            const char *g = got, *w = want;
            int line = 1;
            while (*g && *g == *w) {
                line += *g == '\n';
                g++;
                w++;
            }
            char gl[200], wl[200];
            snprintf(gl, sizeof(gl), "%.*s", (int)strcspn(g, "\n"), g);
            snprintf(wl, sizeof(wl), "%.*s", (int)strcspn(w, "\n"), w);
            free(got);
            free(want);
            fail_msg("%s: output line %d differs:\n got  %s\n want %s", rows[i].base, line, gl, wl);
        }
        free(got);
        free(want);
    }
}

static int refuse_csv(const char *path, void *ctx, gp_error *err)
{
    (void)ctx;
    const char *argv[] = {"replay", "hpa", path, "--config", DATA "replay_hpa_pods15.yaml"};
    char *out = NULL;
    int rc = run(5, argv, &out, err);
    free(out);
    return rc;
}

static void test_bad_csv(void **state)
{
    (void)state;
    tu_check_bad_files(DATA "badcsv", "", ".csv", true, 6, "bad CSVs", refuse_csv, NULL);
}

static void test_command_line(void **state)
{
    (void)state;
    static const struct {
        const char *name;
        int argc;
        const char *argv[8];
        int rc;
        const char *msg; /* a substring of the formatted error */
    } rows[] = {
        {"no arguments", 1, {"replay"}, GP_EMISSING, "usage: gpenlab policy replay"},
        {"unknown policy",
         3,
         {"replay", "hpaa", DATA "replay_keda.csv"},
         GP_EUNKNOWN,
         "unknown policy \"hpaa\" (registered: "},
        {"unknown option",
         4,
         {"replay", "hpa", DATA "replay_keda.csv", "--conf"},
         GP_EUNKNOWN,
         "--conf: unknown option"},
        {"--min above --max",
         7,
         {"replay", "hpa", DATA "replay_keda.csv", "--min", "5", "--max", "2"},
         GP_ERANGE,
         "--min 5 is above --max 2"},
        {"bad --max",
         5,
         {"replay", "hpa", DATA "replay_keda.csv", "--max", "x"},
         GP_EPARSE,
         "--max: expected a whole number"},
        {"hpa without config",
         3,
         {"replay", "hpa", DATA "replay_keda.csv"},
         GP_EMISSING,
         "config: the hpa policy needs a config"},
        /* the one CSV reader's code for a file that is not there (it was GP_EIO here) */
        {"missing csv",
         5,
         {"replay", "hpa", DATA "nope.csv", "--config", DATA "replay_hpa_pods15.yaml"},
         GP_EMISSING,
         "nope.csv: cannot open"},
        {"config error is the config's",
         5,
         {"replay", "keda", DATA "replay_keda.csv", "--config", DATA "bad/keda_fallback.yaml"},
         GP_ENOTSUP,
         "bad/keda_fallback.yaml:2:11: fallback: fallback is not modelled"},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        char *out = NULL;
        gp_error err;
        int rc = run(rows[i].argc, rows[i].argv, &out, &err);
        free(out);
        char got[1024];
        gp_error_format(&err, got, sizeof(got));
        if (rc != rows[i].rc || !strstr(got, rows[i].msg))
            fail_msg("%s: got rc %d \"%s\", want rc %d containing \"%s\"", rows[i].name, rc, got,
                     rows[i].rc, rows[i].msg);
    }
    /* --help prints the usage and succeeds */
    const char *help[] = {"replay", "--help"};
    char *out = NULL;
    gp_error err;
    assert_int_equal(run(2, help, &out, &err), 0);
    assert_non_null(strstr(out, "usage: gpenlab policy replay"));
    free(out);
}

static void test_any_policy_and_applied_count(void **state)
{
    (void)state;
    /* Any registered policy replays: static with no config holds the cluster maximum,
     * clamped to --max; spec_replicas follows the applied decision row after row. */
    const char *argv[] = {"replay", "static", DATA "replay_keda.csv", "--max", "3"};
    char *out = NULL;
    gp_error err;
    int rc = run(5, argv, &out, &err);
    if (rc != 0) {
        free(out);
        fail_msg("static: rc %d %s", rc, err.msg);
    }
    /* first row: spec 0 (no pods), static wants 3 (its max); second row: spec is 3 */
    if (!strstr(out, "\n0,0,3,3,static,") || !strstr(out, "\n15,3,3,3,static,"))
        fail_msg("static replay: unexpected output:\n%s", out);
    free(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_golden),
        cmocka_unit_test(test_bad_csv),
        cmocka_unit_test(test_command_line),
        cmocka_unit_test(test_any_policy_and_applied_count),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
