/* test_cli.c: the gpenlab program on bad input. Each case writes its files into a fresh
 * temporary directory, runs the binary ($GPENLAB_BIN, set by scripts/run_tests.sh) and
 * expects a non-zero exit and exactly one line on stderr that names the place (file,
 * line, field) and says what is wrong. Nothing may crash: a signal is a failure. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

#include <cmocka.h>

#include "profile/profile.h"

typedef struct tmpdir {
    char path[256];
} tmpdir;

static void tmp_make(tmpdir *t)
{
    snprintf(t->path, sizeof(t->path), "/tmp/gpenlab-cli-XXXXXX");
    assert_non_null(mkdtemp(t->path));
}

static void tmp_write(const tmpdir *t, const char *name, const char *text)
{
    char p[512];
    snprintf(p, sizeof(p), "%s/%s", t->path, name);
    FILE *f = fopen(p, "wb");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void tmp_cleanup(const tmpdir *t)
{
    char cmd[600];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", t->path);
    assert_int_equal(system(cmd), 0);
}

/* Runs `gpenlab ARGS` in dir; returns the exit status, stderr in err_out. */
static int run_gpenlab(const char *dir, const char *args, char *err_out, size_t cap)
{
    const char *bin = getenv("GPENLAB_BIN");
    if (!bin)
        bin = "./gpenlab";
    char cwd[1024];
    assert_non_null(getcwd(cwd, sizeof(cwd)));
    char cmd[4096];
    snprintf(cmd, sizeof(cmd), "cd '%s' && '%s%s%s' %s 2>&1 >/dev/null", dir,
             bin[0] == '/' ? "" : cwd, bin[0] == '/' ? "" : "/", bin, args);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    size_t n = fread(err_out, 1, cap - 1, p);
    err_out[n] = '\0';
    int st = pclose(p);
    if (WIFSIGNALED(st))
        fail_msg("gpenlab %s: killed by signal %d", args, WTERMSIG(st));
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void expect_error(const char *dir, const char *args, const char *const *needles)
{
    char out[8192];
    int code = run_gpenlab(dir, args, out, sizeof(out));
    if (code == 0)
        fail_msg("gpenlab %s: exit 0, expected an error", args);
    size_t lines = 0;
    for (const char *c = out; *c; c++)
        lines += *c == '\n';
    if (lines != 1)
        fail_msg("gpenlab %s: expected one line on stderr, got %zu:\n%s", args, lines, out);
    for (size_t i = 0; needles[i]; i++)
        if (!strstr(out, needles[i]))
            fail_msg("gpenlab %s: stderr lacks \"%s\":\n%s", args, needles[i], out);
}

static const char *const PROFILE =
    "format gpenlab-profile 1\ncard \"t\"\nprovenance seed\nmp_grid 1 4\n"
    "stage work image 100 400\njitter none\neff 1 2\ngpu_mem_mib 10000\nmodel_mem_mib 100\n"
    "req_mem_mib 100\ncold_phase boot const 1\n";

static void write_experiment(const tmpdir *t, const char *workload)
{
    char text[4096];
    snprintf(text, sizeof(text),
             "name: bad\nprofile: prof\nreplications: 1\n%s\n"
             "cluster: {max_pods: 2, concurrency: 2}\n"
             "policies:\n  - {policy: static, config: {pods: 2}}\noutput: {db: out.db}\n",
             workload);
    tmp_write(t, "exp.yaml", text);
    tmp_write(t, "prof", PROFILE);
}

static const char *const TRACE_WL =
    "workload: {type: trace, path: t.csv, time_column: t, time_unit: s}";

static void test_missing_experiment_file(void **state)
{
    (void)state;
    tmpdir t;
    tmp_make(&t);
    expect_error(t.path, "run nothere.yaml", (const char *const[]){"nothere.yaml", "cannot open", NULL});
    tmp_cleanup(&t);
}

static void test_empty_experiment(void **state)
{
    (void)state;
    tmpdir t;
    tmp_make(&t);
    tmp_write(&t, "exp.yaml", "");
    expect_error(t.path, "run exp.yaml", (const char *const[]){"exp.yaml", "empty", NULL});
    tmp_cleanup(&t);
}

static void test_unknown_key(void **state)
{
    (void)state;
    tmpdir t;
    tmp_make(&t);
    write_experiment(&t, "workload: {type: poisson, rate_per_s: 1, duration: 1m}\nreplicatons: 3");
    expect_error(t.path, "run exp.yaml",
                 (const char *const[]){"exp.yaml:5:", "replicatons", "replications", NULL});
    tmp_cleanup(&t);
}

static void test_out_of_range_value(void **state)
{
    (void)state;
    tmpdir t;
    tmp_make(&t);
    write_experiment(&t, "workload: {type: poisson, rate_per_s: -1, duration: 1m}");
    expect_error(t.path, "run exp.yaml", (const char *const[]){"exp.yaml:4:", "rate_per_s", NULL});
    tmp_cleanup(&t);
}

static void test_missing_profile(void **state)
{
    (void)state;
    tmpdir t;
    tmp_make(&t);
    write_experiment(&t, "workload: {type: poisson, rate_per_s: 1, duration: 1m}");
    unlink(strcat(strcpy((char[600]){0}, t.path), "/prof"));
    expect_error(t.path, "run exp.yaml", (const char *const[]){"exp.yaml:2:", "profile", "prof", NULL});
    tmp_cleanup(&t);
}

static void test_malformed_profile(void **state)
{
    (void)state;
    tmpdir t;
    tmp_make(&t);
    write_experiment(&t, "workload: {type: poisson, rate_per_s: 1, duration: 1m}");
    tmp_write(&t, "prof",
              "format gpenlab-profile 1\ncard \"t\"\nmp_grid 1 4\nstage work image 100 fast\n");
    expect_error(t.path, "run exp.yaml", (const char *const[]){"prof:4:", "stage", "fast", NULL});
    tmp_cleanup(&t);
}

static void test_unknown_policy(void **state)
{
    (void)state;
    tmpdir t;
    tmp_make(&t);
    tmp_write(&t, "prof", PROFILE);
    tmp_write(&t, "exp.yaml",
              "profile: prof\nworkload: {type: poisson, rate_per_s: 1, duration: 1m}\n"
              "policies:\n  - {policy: magic}\n");
    expect_error(t.path, "run exp.yaml", (const char *const[]){"exp.yaml:4:", "magic", "static", NULL});
    tmp_cleanup(&t);
}

static void test_trace_bad_inputs(void **state)
{
    (void)state;
    static const struct {
        const char *name, *csv, *needle1, *needle2;
    } rows[] = {
        {"empty file", "", "t.csv", "empty"},
        {"header only", "t,mp\n", "t.csv", "no"},
        {"too few columns", "t,mp\n1,2\n2\n", "t.csv:3", "column"},
        {"NaN time", "t,mp\n1,2\nnan,2\n", "t.csv:3", "t"},
        {"negative time", "t,mp\n1,2\n-5,2\n", "t.csv:3", "t"},
        {"unknown column", "time,mp\n1,2\n", "t.csv", "t"},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        tmpdir t;
        tmp_make(&t);
        write_experiment(&t, TRACE_WL);
        tmp_write(&t, "t.csv", rows[i].csv);
        char out[8192];
        int code = run_gpenlab(t.path, "run exp.yaml", out, sizeof(out));
        size_t lines = 0;
        for (const char *c = out; *c; c++)
            lines += *c == '\n';
        if (code == 0 || lines != 1 || !strstr(out, rows[i].needle1) || !strstr(out, rows[i].needle2))
            fail_msg("%s: exit %d, stderr: %s", rows[i].name, code, out);
        tmp_cleanup(&t);
    }
}

static void test_truncated_gzip_trace(void **state)
{
    (void)state;
    tmpdir t;
    tmp_make(&t);
    write_experiment(&t, "workload: {type: trace, path: t.csv.gz, time_column: t, time_unit: s}");
    char p[600];
    snprintf(p, sizeof(p), "%s/full.gz", t.path);
    gzFile g = gzopen(p, "wb");
    assert_non_null(g);
    gzputs(g, "t,mp\n");
    for (int i = 0; i < 20000; i++)
        gzprintf(g, "%d,2\n", i);
    gzclose(g);
    FILE *f = fopen(p, "rb");
    assert_non_null(f);
    char buf[1 << 16];
    size_t n = fread(buf, 1, sizeof(buf), f);
    fclose(f);
    snprintf(p, sizeof(p), "%s/t.csv.gz", t.path);
    f = fopen(p, "wb");
    assert_non_null(f);
    fwrite(buf, 1, n / 2, f);
    fclose(f);
    expect_error(t.path, "run exp.yaml", (const char *const[]){"t.csv.gz", "trunc", NULL});
    tmp_cleanup(&t);
}

static void test_good_run_and_resume(void **state)
{
    (void)state;
    tmpdir t;
    tmp_make(&t);
    write_experiment(&t, "workload: {type: poisson, rate_per_s: 2, duration: 10m}");
    char out[8192];
    assert_int_equal(run_gpenlab(t.path, "run exp.yaml --quiet", out, sizeof(out)), 0);
    /* the rerun resumes: the run is already in the database */
    const char *bin = getenv("GPENLAB_BIN");
    char cmd[2048], cwd[1024];
    assert_non_null(getcwd(cwd, sizeof(cwd)));
    snprintf(cmd, sizeof(cmd), "cd '%s' && '%s%s%s' run exp.yaml", t.path,
             bin && bin[0] == '/' ? "" : cwd, bin && bin[0] == '/' ? "" : "/", bin ? bin : "gpenlab");
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    size_t n = fread(out, 1, sizeof(out) - 1, p);
    out[n] = '\0';
    assert_int_equal(pclose(p), 0);
    if (!strstr(out, "1 resumed"))
        fail_msg("rerun did not resume:\n%s", out);
    if (!strstr(out, "static"))
        fail_msg("no table:\n%s", out);
    tmp_cleanup(&t);
}

static void test_profile_derive(void **state)
{
    (void)state;
    tmpdir t;
    tmp_make(&t);
    /* a "measured" profile: t4-seed with its provenance changed */
    FILE *in = fopen("gpu/profiles/t4-seed", "r");
    assert_non_null(in);
    char text[16384];
    size_t n = fread(text, 1, sizeof(text) - 1, in);
    fclose(in);
    text[n] = '\0';
    char *prov = strstr(text, "provenance seed");
    assert_non_null(prov);
    char fixed[16500];
    snprintf(fixed, sizeof(fixed), "%.*sprovenance measured%s", (int)(prov - text), text,
             prov + strlen("provenance seed"));
    tmp_write(&t, "measured", fixed);
    char out[8192];
    assert_int_equal(run_gpenlab(t.path, "profile derive --in measured --from t4 --to l4,a100 --outdir .",
                                 out, sizeof(out)),
                     0);
    for (int k = 0; k < 2; k++) {
        char p[600];
        snprintf(p, sizeof(p), "%s/%s-derived", t.path, k ? "a100" : "l4");
        gpu_profile *prof = malloc(sizeof(*prof));
        gp_error err;
        assert_non_null(prof);
        if (profile_load(p, prof, &err) < 0)
            fail_msg("%s: %s", p, err.msg);
        assert_string_equal(prof->provenance, "derived");
        free(prof);
    }
    /* only measured profiles may be derived from; unknown cards are refused */
    expect_error(t.path, "profile derive --in ../../nonexistent --from t4",
                 (const char *const[]){"nonexistent", NULL});
    expect_error(t.path, "profile derive --in measured --from t4 --to z80",
                 (const char *const[]){"--to", "z80", NULL});
    tmp_cleanup(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_missing_experiment_file),
        cmocka_unit_test(test_empty_experiment),
        cmocka_unit_test(test_unknown_key),
        cmocka_unit_test(test_out_of_range_value),
        cmocka_unit_test(test_missing_profile),
        cmocka_unit_test(test_malformed_profile),
        cmocka_unit_test(test_unknown_policy),
        cmocka_unit_test(test_trace_bad_inputs),
        cmocka_unit_test(test_truncated_gzip_trace),
        cmocka_unit_test(test_good_run_and_resume),
        cmocka_unit_test(test_profile_derive),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
