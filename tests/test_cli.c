/* test_cli.c: the gpenlab program on bad input. Each case writes its files into a fresh
 * temporary directory, runs the binary ($GPENLAB_BIN, set by scripts/run_tests.sh) and
 * expects a non-zero exit and exactly one line on stderr that names the place (file,
 * line, field) and says what is wrong. Nothing may crash: a signal is a failure. */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <cmocka.h>

#include "lab/results_db.h"
#include "profile/profile.h"
#include "tests/testutil.h"

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
    tu_write_text(p, text);
}

static void tmp_cleanup(const tmpdir *t) { assert_int_equal(tu_rm_rf(t->path), 0); }

/* Runs `gpenlab ARGS...` in dir without a shell (tu_gpenlab: a signal fails the test); more
 * (may be NULL) adds environment entries and a user. Returns the exit status, stderr in
 * err_out. */
static int run_gpenlab(const char *dir, const char *const *args, const gp_proc_spec *more,
                       char *err_out, size_t cap)
{
    gp_proc_result r = tu_run_bin("gpenlab", dir, args, more);
    snprintf(err_out, cap, "%s", r.err);
    int code = r.exit_code;
    gp_proc_result_free(&r);
    return code;
}

static void expect_error(const char *dir, const char *const *args, const char *const *needles)
{
    char out[8192], words[512];
    int code = run_gpenlab(dir, args, NULL, out, sizeof(out));
    tu_words(args, words, sizeof(words));
    if (code == 0)
        fail_msg("gpenlab %s: exit 0, expected an error", words);
    size_t lines = 0;
    for (const char *c = out; *c; c++)
        lines += *c == '\n';
    if (lines != 1)
        fail_msg("gpenlab %s: expected one line on stderr, got %zu:\n%s", words, lines, out);
    for (size_t i = 0; needles[i]; i++)
        if (!strstr(out, needles[i]))
            fail_msg("gpenlab %s: stderr lacks \"%s\":\n%s", words, needles[i], out);
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
    expect_error(t.path, (const char *const[]){"run", "nothere.yaml", NULL},
                 (const char *const[]){"nothere.yaml", "cannot open", NULL});
    tmp_cleanup(&t);
}

static void test_empty_experiment(void **state)
{
    (void)state;
    tmpdir t;
    tmp_make(&t);
    tmp_write(&t, "exp.yaml", "");
    expect_error(t.path, (const char *const[]){"run", "exp.yaml", NULL},
                 (const char *const[]){"exp.yaml", "empty", NULL});
    tmp_cleanup(&t);
}

static void test_unknown_key(void **state)
{
    (void)state;
    tmpdir t;
    tmp_make(&t);
    write_experiment(&t, "workload: {type: poisson, rate_per_s: 1, duration: 1m}\nreplicatons: 3");
    expect_error(t.path, (const char *const[]){"run", "exp.yaml", NULL},
                 (const char *const[]){"exp.yaml:5:", "replicatons", "replications", NULL});
    tmp_cleanup(&t);
}

static void test_out_of_range_value(void **state)
{
    (void)state;
    tmpdir t;
    tmp_make(&t);
    write_experiment(&t, "workload: {type: poisson, rate_per_s: -1, duration: 1m}");
    expect_error(t.path, (const char *const[]){"run", "exp.yaml", NULL},
                 (const char *const[]){"exp.yaml:4:", "rate_per_s", NULL});
    tmp_cleanup(&t);
}

static void test_missing_profile(void **state)
{
    (void)state;
    tmpdir t;
    tmp_make(&t);
    write_experiment(&t, "workload: {type: poisson, rate_per_s: 1, duration: 1m}");
    unlink(strcat(strcpy((char[600]){0}, t.path), "/prof"));
    expect_error(t.path, (const char *const[]){"run", "exp.yaml", NULL},
                 (const char *const[]){"exp.yaml:2:", "profile", "prof", NULL});
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
    expect_error(t.path, (const char *const[]){"run", "exp.yaml", NULL},
                 (const char *const[]){"prof:4:", "stage", "fast", NULL});
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
    expect_error(t.path, (const char *const[]){"run", "exp.yaml", NULL},
                 (const char *const[]){"exp.yaml:4:", "magic", "static", NULL});
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
        int code = run_gpenlab(t.path, (const char *const[]){"run", "exp.yaml", NULL}, NULL, out,
                               sizeof(out));
        size_t lines = 0;
        for (const char *c = out; *c; c++)
            lines += *c == '\n';
        if (code == 0 || lines != 1 || !strstr(out, rows[i].needle1) ||
            !strstr(out, rows[i].needle2))
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
    expect_error(t.path, (const char *const[]){"run", "exp.yaml", NULL},
                 (const char *const[]){"t.csv.gz", "trunc", NULL});
    tmp_cleanup(&t);
}

static void test_good_run_and_resume(void **state)
{
    (void)state;
    tmpdir t;
    tmp_make(&t);
    write_experiment(&t, "workload: {type: poisson, rate_per_s: 2, duration: 10m}");
    char out[8192];
    assert_int_equal(run_gpenlab(t.path, (const char *const[]){"run", "exp.yaml", "--quiet", NULL},
                                 NULL, out, sizeof(out)),
                     0);
    /* the rerun resumes: the run is already in the database */
    gp_proc_result r = tu_gpenlab(t.path, (const char *const[]){"run", "exp.yaml", NULL});
    assert_int_equal(r.exit_code, 0);
    snprintf(out, sizeof(out), "%s", r.out);
    gp_proc_result_free(&r);
    if (!strstr(out, "1 resumed"))
        fail_msg("rerun did not resume:\n%s", out);
    if (!strstr(out, "static"))
        fail_msg("no table:\n%s", out);
    tmp_cleanup(&t);
}

/* text with its first `from` replaced by `to`, into out; fails the test when absent. */
static void replace_once(char *out, size_t cap, const char *text, const char *from, const char *to)
{
    const char *at = strstr(text, from);
    if (!at)
        fail_msg("no \"%s\" to replace", from);
    snprintf(out, cap, "%.*s%s%s", (int)(at - text), text, to, at + strlen(from));
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
    char fixed[16500];
    replace_once(fixed, sizeof(fixed), text, "provenance seed", "provenance measured");
    tmp_write(&t, "measured", fixed);
    char out[8192];
    assert_int_equal(
        run_gpenlab(t.path,
                    (const char *const[]){"profile", "derive", "--in", "measured", "--from", "t4",
                                          "--to", "l4,a100", "--outdir", ".", NULL},
                    NULL, out, sizeof(out)),
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
    expect_error(t.path,
                 (const char *const[]){"profile", "derive", "--in", "../../nonexistent", "--from",
                                       "t4", NULL},
                 (const char *const[]){"nonexistent", NULL});
    expect_error(t.path,
                 (const char *const[]){"profile", "derive", "--in", "measured", "--from", "t4",
                                       "--to", "z80", NULL},
                 (const char *const[]){"--to", "z80", NULL});
    tmp_cleanup(&t);
}

/* ---- issue 13: paths, no shell, one writer, read-only results ---- */

static void expect_ok(const char *dir, const char *const *args)
{
    char out[4096];
    int code = run_gpenlab(dir, args, NULL, out, sizeof(out));
    if (code != 0)
        fail_msg("gpenlab %s %s: exit %d: %s", args[0], args[1] ? args[1] : "", code, out);
}

static bool exists(const char *dir, const char *name)
{
    char p[700];
    snprintf(p, sizeof(p), "%s/%s", dir, name);
    return access(p, F_OK) == 0;
}

static void write_small_db(const tmpdir *t)
{
    write_experiment(t, "workload: {type: poisson, rate_per_s: 2, duration: 10m}");
    expect_ok(t->path, (const char *const[]){"run", "exp.yaml", "--quiet", NULL});
}

/* `report DIR.x/NAME.db` writes DIR.x/NAME.html (the path used to be cut at its first
 * dot: v1.2/x.db gave v1.html, ./x.db a hidden .html). */
static void test_report_default_path(void **state)
{
    (void)state;
    tmpdir t;
    tmp_make(&t);
    write_small_db(&t);
    char p[700];
    snprintf(p, sizeof(p), "%s/v1.2", t.path);
    assert_int_equal(mkdir(p, 0755), 0);
    snprintf(p, sizeof(p), "%s/v1.2/x.db", t.path);
    char src[700];
    snprintf(src, sizeof(src), "%s/out.db", t.path);
    assert_int_equal(link(src, p), 0);
    expect_ok(t.path, (const char *const[]){"report", "v1.2/x.db", NULL});
    expect_ok(t.path, (const char *const[]){"report", "./out.db", NULL});
    assert_true(exists(t.path, "v1.2/x.html"));
    assert_true(exists(t.path, "out.html"));
    assert_false(exists(t.path, "v1.html"));
    assert_false(exists(t.path, ".html"));
    tmp_cleanup(&t);
}

/* The report's temporary folder comes from TMPDIR and is removed without a shell: a
 * TMPDIR holding quotes and a command runs nothing (it used to: system("rm -rf '...'")). */
static void test_report_tmpdir_runs_nothing(void **state)
{
    (void)state;
    tmpdir t;
    tmp_make(&t);
    write_small_db(&t);
    char evil[700];
    snprintf(evil, sizeof(evil), "%s/x'; touch INJECTED; echo '", t.path);
    assert_int_equal(mkdir(evil, 0755), 0);
    char out[4096];
    char tmpdir_var[720];
    snprintf(tmpdir_var, sizeof(tmpdir_var), "TMPDIR=%s", evil);
    int code = run_gpenlab(t.path, (const char *const[]){"report", "out.db", NULL},
                           &(gp_proc_spec){.env = (const char *const[]){tmpdir_var, NULL}}, out,
                           sizeof(out));
    if (code != 0)
        fail_msg("report with an odd TMPDIR: exit %d: %s", code, out);
    assert_false(exists(t.path, "INJECTED"));
    /* and its temporary folder is gone */
    DIR *d = opendir(evil);
    assert_non_null(d);
    struct dirent *e;
    while ((e = readdir(d)))
        if (e->d_name[0] != '.')
            fail_msg("left behind in TMPDIR: %s", e->d_name);
    closedir(d);
    tmp_cleanup(&t);
}

/* While another process writes a database, `run` on it stops at once, before it
 * simulates anything (it used to simulate every run, then fail on "UNIQUE constraint"). */
static void test_second_writer_refused(void **state)
{
    (void)state;
    tmpdir t;
    tmp_make(&t);
    write_experiment(&t, "workload: {type: poisson, rate_per_s: 2, duration: 10m}");
    char db[700];
    snprintf(db, sizeof(db), "%s/out.db", t.path);
    results_db *holder = NULL;
    gp_error err;
    assert_int_equal(results_db_open(db, &holder, &err), 0);
    char out[4096];
    int code = run_gpenlab(t.path, (const char *const[]){"run", "exp.yaml", "--quiet", NULL}, NULL,
                           out, sizeof(out));
    if (code == 0 || !strstr(out, "out.db") || !strstr(out, "another gpenlab is writing"))
        fail_msg("second writer: exit %d: %s", code, out);
    results_db_close(holder);
    /* nothing was written by it; and once the first is done, the run goes through */
    assert_int_equal(results_db_open_read(db, &holder, &err), 0);
    run_summary *runs;
    size_t n;
    assert_int_equal(results_db_read_runs(holder, 1, &runs, &n, &err), 0);
    assert_int_equal(n, 0);
    free(runs);
    results_db_close(holder);
    expect_ok(t.path, (const char *const[]){"run", "exp.yaml", "--quiet", NULL});
    tmp_cleanup(&t);
}

/* `report` and `export --from` read a database they may not write (as another user, when
 * the test runs as root), and leave its bytes as they were. */
static void test_read_only_results(void **state)
{
    (void)state;
    tmpdir t;
    tmp_make(&t);
    write_small_db(&t);
    char db[700];
    snprintf(db, sizeof(db), "%s/out.db", t.path);
    FILE *f = fopen(db, "rb");
    assert_non_null(f);
    static char before[1 << 20], after[1 << 20];
    size_t nb = fread(before, 1, sizeof(before), f);
    fclose(f);
    unsigned uid = geteuid() == 0 ? 65534 : 0; /* 0: as this user */
    char pub[700];
    snprintf(pub, sizeof(pub), "%s/pub", t.path);
    assert_int_equal(mkdir(pub, 0777), 0);
    assert_int_equal(chmod(pub, 0777), 0);
    /* the other user runs a copy of gpenlab inside the test's folder: the checkout may lie
     * where that user cannot reach (a 0700 home or mktemp folder) */
    char saved_bin[PATH_MAX] = "", bin_copy[800];
    if (uid > 0) {
        assert_int_equal(chmod(db, 0444), 0);
        assert_int_equal(chmod(t.path, 0755), 0);
        const char *env_bin = getenv("GPENLAB_BIN");
        if (env_bin)
            snprintf(saved_bin, sizeof(saved_bin), "%s", env_bin);
        char src[PATH_MAX];
        tu_bin_path("gpenlab", src, sizeof(src));
        size_t len = 0;
        uint8_t *bytes = tu_slurp_bytes(src, &len);
        assert_non_null(bytes);
        snprintf(bin_copy, sizeof(bin_copy), "%s/gpenlab", t.path);
        FILE *bf = fopen(bin_copy, "wb");
        assert_non_null(bf);
        assert_int_equal(fwrite(bytes, 1, len, bf), len);
        assert_int_equal(fclose(bf), 0);
        free(bytes);
        assert_int_equal(chmod(bin_copy, 0755), 0);
        assert_int_equal(setenv("GPENLAB_BIN", bin_copy, 1), 0);
    }
    char out[4096];
    const gp_proc_spec as_uid = {.run_as_uid = uid};
    char report_out[4096];
    int report_code =
        run_gpenlab(t.path, (const char *const[]){"report", "out.db", "-o", "pub/r.html", NULL},
                    &as_uid, report_out, sizeof(report_out));
    int code = run_gpenlab(t.path,
                           (const char *const[]){"export", "--policy", "static", "--from", "out.db",
                                                 "--out", "pub/k8s", NULL},
                           &as_uid, out, sizeof(out));
    if (uid > 0) {
        if (saved_bin[0])
            setenv("GPENLAB_BIN", saved_bin, 1);
        else
            unsetenv("GPENLAB_BIN");
    }
    if (report_code != 0)
        fail_msg("report on a read-only database: exit %d: %s", report_code, report_out);
    if (code != 0)
        fail_msg("export --from a read-only database: exit %d: %s", code, out);
    f = fopen(db, "rb");
    assert_non_null(f);
    size_t na = fread(after, 1, sizeof(after), f);
    fclose(f);
    if (na != nb || memcmp(before, after, nb) != 0)
        fail_msg("report/export modified the database (%zu -> %zu bytes)", nb, na);
    chmod(db, 0644);
    tmp_cleanup(&t);
}

/* Names that become file names cannot leave their folder: an experiment named ../esc
 * gets its default database inside results/, a label ../../lbl its export folder
 * inside the working directory (they used to write outside). */
static void test_names_stay_in_their_folder(void **state)
{
    (void)state;
    tmpdir t;
    tmp_make(&t);
    char inner[200], results[220];
    snprintf(inner, sizeof(inner), "%.150s/work", t.path);
    snprintf(results, sizeof(results), "%s/results", inner);
    assert_int_equal(mkdir(inner, 0755), 0);
    assert_int_equal(mkdir(results, 0755), 0);
    tmpdir w;
    snprintf(w.path, sizeof(w.path), "%.200s", inner);
    tmp_write(&w, "prof", PROFILE);
    tmp_write(&w, "exp.yaml",
              "name: ../esc\nprofile: prof\nreplications: 1\n"
              "workload: {type: poisson, rate_per_s: 1, duration: 10m}\n"
              "cluster: {max_pods: 2, concurrency: 2}\n"
              "policies:\n  - {label: ../../lbl, policy: static, config: {pods: 1}}\n");
    expect_ok(inner, (const char *const[]){"run", "exp.yaml", "--quiet", NULL});
    expect_ok(inner,
              (const char *const[]){"export", "--policy", "../../lbl", "--from", "exp.yaml", NULL});
    /* nothing outside work/ but work itself; inside work/ nothing but its own files */
    DIR *d = opendir(t.path);
    struct dirent *e;
    while ((e = readdir(d)))
        if (e->d_name[0] != '.' && strcmp(e->d_name, "work") != 0)
            fail_msg("written outside the working directory: %s", e->d_name);
    closedir(d);
    d = opendir(inner);
    while ((e = readdir(d))) {
        const char *n = e->d_name;
        if (strcmp(n, ".") == 0 || strcmp(n, "..") == 0 || strcmp(n, "prof") == 0 ||
            strcmp(n, "exp.yaml") == 0 || strcmp(n, "results") == 0 ||
            strncmp(n, "export-", 7) == 0)
            continue;
        fail_msg("written into the working directory instead of its folder: %s", n);
    }
    closedir(d);
    d = opendir(results);
    int dbs = 0;
    while ((e = readdir(d)))
        dbs += strstr(e->d_name, ".db") != NULL && strstr(e->d_name, "-") == NULL;
    closedir(d);
    assert_int_equal(dbs, 1);
    tmp_cleanup(&t);
}

/* A NUL byte or invalid UTF-8 in any text input is one clear error naming file and line;
 * an endless input ends at once. (A NUL in the experiment dropped the rest of the file
 * silently, a NUL inside a CSV row merged two rows with exit 0, a NUL at the start of a
 * row dropped it, invalid UTF-8 in a profile went into the database, and `trace stats
 * /dev/zero` never returned.) */
static void test_nul_and_utf8_inputs(void **state)
{
    (void)state;
    alarm(60); /* a hang is a failure */
    tmpdir t;
    tmp_make(&t);
    tmp_write(&t, "prof", PROFILE);
    /* the second policy entry comes after a NUL byte */
    char yaml[] = "name: bad\nprofile: prof\nreplications: 1\n"
                  "workload: {type: poisson, rate_per_s: 1, duration: 10m}\n"
                  "cluster: {max_pods: 2, concurrency: 2}\n"
                  "policies:\n  - {policy: static, config: {pods: 1}}\n"
                  "@ - {label: two, policy: static, config: {pods: 2}}\noutput: {db: out.db}\n";
    *strchr(yaml, '@') = '\0';
    char p[600];
    snprintf(p, sizeof(p), "%s/exp.yaml", t.path);
    FILE *f = fopen(p, "wb");
    assert_non_null(f);
    fwrite(yaml, 1, sizeof(yaml) - 1, f);
    fclose(f);
    char out[4096];
    int code = run_gpenlab(t.path, (const char *const[]){"run", "exp.yaml", "--quiet", NULL}, NULL,
                           out, sizeof(out));
    if (code == 0 || !strstr(out, "exp.yaml:8:1: NUL byte"))
        fail_msg("NUL in the experiment: exit %d: %s", code, out);

    static const struct {
        const char *name, *csv, *want;
    } rows[] = {
        {"NUL inside a row", "t,mp\n1,2\n12@9,2\n56,2\n", "t.csv:3:3: NUL byte"},
        {"row starting with NUL", "t,mp\n1,2\n@12,2\n56,2\n", "t.csv:3:1: NUL byte"},
        {"invalid UTF-8", "t,mp,note\n1,2,caf\xe9\n", "t.csv:2:8: invalid UTF-8 (byte 0xe9)"},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        char csv[64];
        snprintf(csv, sizeof(csv), "%s", rows[i].csv);
        size_t n = strlen(csv);
        for (size_t k = 0; k < n; k++)
            if (csv[k] == '@')
                csv[k] = '\0';
        snprintf(p, sizeof(p), "%s/t.csv", t.path);
        f = fopen(p, "wb");
        assert_non_null(f);
        fwrite(csv, 1, n, f);
        fclose(f);
        code = run_gpenlab(
            t.path, (const char *const[]){"trace", "stats", "t.csv", "--time-col", "t", NULL}, NULL,
            out, sizeof(out));
        if (code == 0 || !strstr(out, rows[i].want))
            fail_msg("%s: exit %d: %s", rows[i].name, code, out);
    }
    code = run_gpenlab(t.path, (const char *const[]){"trace", "stats", "/dev/zero", NULL}, NULL,
                       out, sizeof(out));
    if (code == 0 || !strstr(out, "/dev/zero: a device, not a regular file"))
        fail_msg("trace stats /dev/zero: exit %d: %s", code, out);

    char prof[1024];
    replace_once(prof, sizeof(prof), PROFILE, "card \"t\"", "card \"\xe9\"");
    tmp_write(&t, "bad.prof", prof);
    code = run_gpenlab(t.path, (const char *const[]){"profile", "check", "bad.prof", NULL}, NULL,
                       out, sizeof(out));
    if (code == 0 || !strstr(out, "bad.prof:2:7: invalid UTF-8"))
        fail_msg("invalid UTF-8 in a profile: exit %d: %s", code, out);
    alarm(0);
    tmp_cleanup(&t);
}

/* Numbers that make no physical sense are refused or named (issue 13 point 3): eff(n) > n
 * is an error, a throughput eff(n) that falls as n grows and an image class too large for
 * the card are warnings at load naming the profile and the class; a label longer than its
 * field is cut at a character boundary (it used to end in half a UTF-8 sequence). */
static void test_physical_sense(void **state)
{
    (void)state;
    tmpdir t;
    tmp_make(&t);
    char prof[1024];
    replace_once(prof, sizeof(prof), PROFILE, "eff 1 2", "eff 1 3");
    tmp_write(&t, "above", prof);
    expect_error(t.path, (const char *const[]){"profile", "check", "above", NULL},
                 (const char *const[]){"above:7", "eff(2) = 3 is more than 2", NULL});
    char text[1400], fixed[1400];
    replace_once(text, sizeof(text), PROFILE, "eff 1 2", "eff 1 1.8 1.5");
    /* memory per request grows with the image: a 500-900 MP poster cannot fit */
    replace_once(fixed, sizeof(fixed), text, "req_mem_mib 100", "req_mem_mib 100 400");
    tmp_write(&t, "prof", fixed);
    char out[4096];
    int code = run_gpenlab(t.path, (const char *const[]){"profile", "check", "prof", NULL}, NULL,
                           out, sizeof(out));
    if (code != 0 || !strstr(out, "warning: prof: the throughput eff(n) falls from n = 2 to 3"))
        fail_msg("eff that falls: exit %d: %s", code, out);
    const char *label = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\xc3\xa9";
    snprintf(text, sizeof(text),
             "name: sense\nprofile: prof\nreplications: 1\n"
             "workload:\n  type: poisson\n  rate_per_s: 1\n  duration: 10m\n  image_mix:\n"
             "    - {name: phone, weight: 7, mp: [1, 2], faces: {1: 1}}\n"
             "    - {name: poster, weight: 3, mp: [500, 900], faces: {0: 0.5, 2: 0.5}}\n"
             "cluster: {max_pods: 2, concurrency: 2}\n"
             "policies:\n  - {label: %s, policy: static, config: {pods: 1}}\n"
             "output: {db: out.db}\n",
             label);
    tmp_write(&t, "exp.yaml", text);
    code = run_gpenlab(t.path, (const char *const[]){"run", "exp.yaml", "--quiet", NULL}, NULL, out,
                       sizeof(out));
    if (code != 0 ||
        !strstr(out, "exp.yaml:10:7: workload.image_mix[1]: image class 1 \"poster\"") ||
        !strstr(out, "will be rejected as too large") ||
        !strstr(out, "eff(n) falls from n = 2 to 3"))
        fail_msg("warnings at load: exit %d: %s", code, out);
    char db[700];
    snprintf(db, sizeof(db), "%s/out.db", t.path);
    results_db *rdb;
    gp_error err;
    assert_int_equal(results_db_open_read(db, &rdb, &err), 0);
    run_summary *runs;
    size_t n;
    assert_int_equal(results_db_read_runs(rdb, 1, &runs, &n, &err), 0);
    assert_int_equal(n, 1);
    assert_int_equal(strlen(runs[0].label), 62); /* "a" x 62: the é did not fit whole */
    assert_true(runs[0].rejected_by[REJECT_TOO_LARGE] > 0);
    free(runs);
    results_db_close(rdb);
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
        cmocka_unit_test(test_report_default_path),
        cmocka_unit_test(test_report_tmpdir_runs_nothing),
        cmocka_unit_test(test_second_writer_refused),
        cmocka_unit_test(test_read_only_results),
        cmocka_unit_test(test_names_stay_in_their_folder),
        cmocka_unit_test(test_nul_and_utf8_inputs),
        cmocka_unit_test(test_physical_sense),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
