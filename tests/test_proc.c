/* test_proc.c: base/proc.h, running a program without a shell. Words with quotes, spaces,
 * ';', '$(...)' and globs reach the program as they are and run nothing; the working
 * directory, stdin, each way of routing stdout and stderr, the environment additions, exit
 * codes, signals, the timeout (SIGKILL, reported), a process group of its own, reading a
 * child's stdout line by line, the capture limit, and every way of failing to start
 * (not found, not executable, no such directory or stdin file). Uses coreutils (printf,
 * cat, env, pwd, seq, sleep, true, false). Run from the repository root. */
#include <limits.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "base/proc.h"
#include "tests/testutil.h"

/* A directory whose name has a space, a quote and a ';' in it. */
static char dir[PATH_MAX];

static int setup(void **state)
{
    (void)state;
    char base[256];
    if (tu_mkdtemp(base, sizeof(base), "proc") < 0)
        return -1;
    snprintf(dir, sizeof(dir), "%s/it's a dir; echo x", base);
    return mkdir(dir, 0755);
}

static int teardown(void **state)
{
    (void)state;
    char *slash = strrchr(dir, '/');
    *slash = '\0';
    return tu_rm_rf(dir);
}

static const char *in_dir(const char *name, char *buf, size_t cap)
{
    snprintf(buf, cap, "%s/%s", dir, name);
    return buf;
}

/* gp_proc_run that must start; the result is the caller's. */
static gp_proc_result run_ok(const gp_proc_spec *s)
{
    gp_proc_result r;
    gp_error err;
    gp_error_clear(&err);
    if (gp_proc_run(s, &r, &err) < 0)
        fail_msg("%s: did not start: %s", s->argv[0], err.msg);
    return r;
}

static void test_words_reach_the_program(void **state)
{
    (void)state;
    static const char *const words[] = {
        "a b",
        "x'; touch INJECTED; echo '",
        "$(touch INJECTED)",
        "`touch INJECTED`",
        "*",
        "\"q\"",
        "",
        "a\\nb",
        "; touch INJECTED",
        "> INJECTED",
    };
    const size_t n = sizeof(words) / sizeof(words[0]);
    const char *argv[16] = {"printf", "[%s]\n"};
    char want[1024] = "";
    for (size_t i = 0; i < n; i++) {
        argv[2 + i] = words[i];
        snprintf(want + strlen(want), sizeof(want) - strlen(want), "[%s]\n", words[i]);
    }
    gp_proc_result r = run_ok(&(gp_proc_spec){.argv = argv, .cwd = dir, .out = GP_PROC_CAPTURE});
    assert_true(gp_proc_ok(&r));
    assert_string_equal(r.out, want);
    assert_int_equal(r.out_len, strlen(want));
    char p[PATH_MAX + 16];
    if (access(in_dir("INJECTED", p, sizeof(p)), F_OK) == 0)
        fail_msg("a word was run by a shell: %s exists", p);
    gp_proc_result_free(&r);
}

static void test_working_directory(void **state)
{
    (void)state;
    char real[PATH_MAX], want[PATH_MAX + 2];
    assert_non_null(realpath(dir, real));
    snprintf(want, sizeof(want), "%s\n", real);
    gp_proc_result r = run_ok(&(gp_proc_spec){
        .argv = (const char *const[]){"pwd", "-P", NULL}, .cwd = dir, .out = GP_PROC_CAPTURE});
    assert_string_equal(r.out, want);
    gp_proc_result_free(&r);
    /* a relative program is the caller's (here: the repository root), not cwd's */
    r = run_ok(&(gp_proc_spec){.argv = (const char *const[]){"scripts/check_layers.sh", ".", NULL},
                               .cwd = dir,
                               .out = GP_PROC_CAPTURE,
                               .err = GP_PROC_STDOUT});
    assert_true(r.exited);
    if (!strstr(r.out, "no source folders under"))
        fail_msg("scripts/check_layers.sh in %s: %s", dir, r.out);
    gp_proc_result_free(&r);
}

static void test_stdin(void **state)
{
    (void)state;
    char p[PATH_MAX + 16];
    tu_write_text(in_dir("in.txt", p, sizeof(p)), "one\ntwo\n");
    gp_proc_result r = run_ok(&(gp_proc_spec){
        .argv = (const char *const[]){"cat", NULL}, .stdin_path = p, .out = GP_PROC_CAPTURE});
    assert_string_equal(r.out, "one\ntwo\n");
    gp_proc_result_free(&r);
    /* the default stdin is /dev/null: cat ends at once */
    r = run_ok(&(gp_proc_spec){.argv = (const char *const[]){"cat", NULL}, .out = GP_PROC_CAPTURE});
    assert_true(gp_proc_ok(&r));
    assert_string_equal(r.out, "");
    gp_proc_result_free(&r);
}

/* `cat FILE /no/such/file`: FILE on stdout, an error naming /no/such/file on stderr, exit 1;
 * routed each way. */
static void test_stream_routes(void **state)
{
    (void)state;
    char in[PATH_MAX + 16], outf[PATH_MAX + 16], errf[PATH_MAX + 16];
    tu_write_text(in_dir("text", in, sizeof(in)), "text\n");
    in_dir("out.txt", outf, sizeof(outf));
    in_dir("err.txt", errf, sizeof(errf));
    const char *const argv[] = {"cat", in, "/no/such/file", NULL};
    static const struct {
        const char *name;
        gp_proc_io out, err;
        bool append;
        const char *want_out;   /* NULL: not captured */
        bool want_err_captured; /* the error line in r.err */
        bool err_in_out;        /* the error line in r.out */
        const char *want_out_file, *want_err_file_has;
    } rows[] = {
        {"apart", GP_PROC_CAPTURE, GP_PROC_CAPTURE, false, "text\n", true, false, NULL, NULL},
        {"merged", GP_PROC_CAPTURE, GP_PROC_STDOUT, false, NULL, false, true, NULL, NULL},
        {"stderr dropped", GP_PROC_CAPTURE, GP_PROC_NULL, false, "text\n", false, false, NULL,
         NULL},
        {"stdout dropped", GP_PROC_NULL, GP_PROC_CAPTURE, false, NULL, true, false, NULL, NULL},
        {"files", GP_PROC_FILE, GP_PROC_FILE, false, NULL, false, false, "text\n", "/no/such/file"},
        {"files appended", GP_PROC_FILE, GP_PROC_FILE, true, NULL, false, false, "text\ntext\n",
         "/no/such/file"},
        {"merged into a file", GP_PROC_FILE, GP_PROC_STDOUT, false, NULL, false, false, NULL, NULL},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        gp_proc_result r = run_ok(&(gp_proc_spec){.argv = argv,
                                                  .out = rows[i].out,
                                                  .err = rows[i].err,
                                                  .append = rows[i].append,
                                                  .out_path = outf,
                                                  .err_path = errf});
        if (!r.exited || r.exit_code != 1)
            fail_msg("%s: exited %d code %d, want exit 1", rows[i].name, r.exited, r.exit_code);
        if ((rows[i].out == GP_PROC_CAPTURE) != (r.out != NULL) ||
            (rows[i].err == GP_PROC_CAPTURE) != (r.err != NULL))
            fail_msg("%s: captured out %p err %p", rows[i].name, (void *)r.out, (void *)r.err);
        if (rows[i].want_out && strcmp(r.out, rows[i].want_out) != 0)
            fail_msg("%s: stdout \"%s\"", rows[i].name, r.out);
        if (rows[i].want_err_captured && !strstr(r.err, "/no/such/file"))
            fail_msg("%s: stderr \"%s\"", rows[i].name, r.err);
        if (rows[i].err_in_out &&
            (strncmp(r.out, "text\n", 5) != 0 || !strstr(r.out, "/no/such/file")))
            fail_msg("%s: stdout \"%s\"", rows[i].name, r.out);
        if (rows[i].want_out_file) {
            char *o = tu_slurp(outf), *e = tu_slurp(errf);
            if (!o || strcmp(o, rows[i].want_out_file) != 0)
                fail_msg("%s: out file \"%s\"", rows[i].name, o ? o : "(none)");
            if (!e || !strstr(e, rows[i].want_err_file_has) || strstr(e, "text"))
                fail_msg("%s: err file \"%s\"", rows[i].name, e ? e : "(none)");
            free(o);
            free(e);
        }
        if (rows[i].out == GP_PROC_FILE && rows[i].err == GP_PROC_STDOUT) {
            char *o = tu_slurp(outf);
            if (!o || strncmp(o, "text\n", 5) != 0 || !strstr(o, "/no/such/file"))
                fail_msg("%s: out file \"%s\"", rows[i].name, o ? o : "(none)");
            free(o);
        }
        gp_proc_result_free(&r);
    }
}

static void test_environment(void **state)
{
    (void)state;
    const char *home = getenv("HOME");
    setenv("GP_PROC_KEPT", "kept", 1);
    gp_proc_result r = run_ok(&(gp_proc_spec){
        .argv = (const char *const[]){"env", NULL},
        .env = (const char *const[]){"GP_PROC_ADDED=a b;$x 'q'", "HOME=/elsewhere", NULL},
        .out = GP_PROC_CAPTURE});
    unsetenv("GP_PROC_KEPT");
    char *text = malloc(r.out_len + 2);
    assert_non_null(text);
    snprintf(text, r.out_len + 2, "\n%s", r.out); /* every line starts after a newline */
    static const char *const want[] = {"\nGP_PROC_ADDED=a b;$x 'q'\n", "\nHOME=/elsewhere\n",
                                       "\nGP_PROC_KEPT=kept\n", "\nPATH="};
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
        if (!strstr(text, want[i]))
            fail_msg("the environment lacks %s:\n%s", want[i] + 1, r.out);
    const char *h = strstr(text, "\nHOME=");
    if (strstr(h + 1, "\nHOME="))
        fail_msg("HOME twice (was %s):\n%s", home ? home : "unset", r.out);
    free(text);
    gp_proc_result_free(&r);
    /* the program is looked up on the child's PATH */
    gp_proc_result none;
    gp_error err;
    int rc = gp_proc_run(&(gp_proc_spec){.argv = (const char *const[]){"env", NULL},
                                         .env = (const char *const[]){"PATH=/nonexistent", NULL}},
                         &none, &err);
    assert_int_equal(rc, GP_EMISSING);
}

static void test_exit_and_signal(void **state)
{
    (void)state;
    gp_proc_result r = run_ok(&(gp_proc_spec){.argv = (const char *const[]){"true", NULL}});
    assert_true(gp_proc_ok(&r));
    r = run_ok(&(gp_proc_spec){.argv = (const char *const[]){"false", NULL}});
    assert_false(gp_proc_ok(&r));
    assert_true(r.exited);
    assert_int_equal(r.exit_code, 1);
    char how[128];
    gp_proc_describe(&r, how, sizeof(how));
    assert_string_equal(how, "exit 1");

    gp_proc *p;
    gp_error err;
    assert_int_equal(
        gp_proc_start(
            &(gp_proc_spec){.argv = (const char *const[]){"sleep", "30", NULL}, .own_group = true},
            &p, &err),
        0);
    assert_int_equal(getpgid(gp_proc_pid(p)), gp_proc_pid(p));
    assert_int_equal(gp_proc_wait(p, 0, &r), 0); /* still running */
    assert_int_equal(gp_proc_signal(p, SIGTERM), 0);
    assert_int_equal(gp_proc_wait(p, -1, &r), 1);
    assert_false(r.exited);
    assert_false(r.timed_out);
    assert_int_equal(r.signal_no, SIGTERM);
    gp_proc_describe(&r, how, sizeof(how));
    if (!strstr(how, "killed by signal 15"))
        fail_msg("described as %s", how);
    assert_int_equal(gp_proc_signal(p, SIGTERM), -1); /* it has ended */
    gp_proc_free(p);

    /* stop: SIGTERM first */
    assert_int_equal(
        gp_proc_start(&(gp_proc_spec){.argv = (const char *const[]){"sleep", "30", NULL}}, &p,
                      &err),
        0);
    gp_proc_stop(p, 5000, &r);
    assert_int_equal(r.signal_no, SIGTERM);
    gp_proc_free(p);
}

static void test_timeout(void **state)
{
    (void)state;
    gp_proc_result r = run_ok(&(gp_proc_spec){.argv = (const char *const[]){"sleep", "30", NULL},
                                              .timeout_ms = 100,
                                              .own_group = true,
                                              .out = GP_PROC_CAPTURE});
    assert_true(r.timed_out);
    assert_false(r.exited);
    assert_int_equal(r.signal_no, SIGKILL);
    char how[128];
    gp_proc_describe(&r, how, sizeof(how));
    assert_string_equal(how, "timed out (killed)");
    gp_proc_result_free(&r);
    /* one that ends in time is not timed out */
    r = run_ok(&(gp_proc_spec){.argv = (const char *const[]){"true", NULL}, .timeout_ms = 60000});
    assert_true(gp_proc_ok(&r));
    assert_false(r.timed_out);
    /* nor is one killed by another signal before its timeout */
    gp_proc *p;
    gp_error err;
    assert_int_equal(
        gp_proc_start(&(gp_proc_spec){.argv = (const char *const[]){"sleep", "30", NULL},
                                      .timeout_ms = 60000},
                      &p, &err),
        0);
    assert_int_equal(gp_proc_signal(p, SIGKILL), 0);
    assert_int_equal(gp_proc_wait(p, -1, &r), 1);
    assert_int_equal(r.signal_no, SIGKILL);
    assert_false(r.timed_out);
    gp_proc_free(p);
}

static void test_cannot_start(void **state)
{
    (void)state;
    char plain[PATH_MAX + 16], in[PATH_MAX + 16];
    tu_write_text(in_dir("plain", plain, sizeof(plain)), "not a program\n");
    in_dir("no-such-input", in, sizeof(in));
    static const char *const none[] = {NULL};
    const struct {
        const char *name;
        gp_proc_spec spec;
        int want_rc;
        const char *want_msg;
    } rows[] = {
        {"not on PATH",
         {.argv = (const char *const[]){"gpenlab-no-such-program", NULL}},
         GP_EMISSING,
         "gpenlab-no-such-program: not found on PATH"},
        {"no such path",
         {.argv = (const char *const[]){"/no/such/program", NULL}},
         GP_EMISSING,
         "/no/such/program: not found"},
        {"no program", {.argv = none}, GP_EMISSING, "no program to run"},
        {"not executable", {.argv = (const char *const[]){plain, NULL}}, GP_EIO, "cannot run"},
        {"no such directory",
         {.argv = (const char *const[]){"true", NULL}, .cwd = "/no/such/dir"},
         GP_EIO,
         "true: cannot change to directory /no/such/dir"},
        {"no such stdin",
         {.argv = (const char *const[]){"true", NULL}, .stdin_path = in},
         GP_EIO,
         "no-such-input"},
        {"stdout into itself",
         {.argv = (const char *const[]){"true", NULL}, .out = GP_PROC_STDOUT},
         GP_EIO,
         "cannot open stdout"},
        {"output file in no folder",
         {.argv = (const char *const[]){"true", NULL},
          .out = GP_PROC_FILE,
          .out_path = "/no/such/dir/x"},
         GP_EIO,
         "cannot open /no/such/dir/x"},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        gp_proc_result r;
        gp_error err;
        gp_error_clear(&err);
        int rc = gp_proc_run(&rows[i].spec, &r, &err);
        if (rc != rows[i].want_rc || !strstr(err.msg, rows[i].want_msg))
            fail_msg("%s: rc %d \"%s\", want %d \"%s\"", rows[i].name, rc, err.msg, rows[i].want_rc,
                     rows[i].want_msg);
        assert_null(r.out);
    }
    char found[PATH_MAX];
    assert_int_equal(gp_proc_find("sh", NULL, found, sizeof(found)), 0);
    assert_int_equal(access(found, X_OK), 0);
    assert_int_equal(gp_proc_find("sh", "/nonexistent::", found, sizeof(found)), GP_EMISSING);
    assert_int_equal(gp_proc_find("sh", "/nonexistent:/usr/bin:/bin", found, sizeof(found)), 0);
}

/* seq 1 N line by line: every number in order, then the end. */
static void test_read_lines(void **state)
{
    (void)state;
    const long n = 200000;
    char last[32];
    snprintf(last, sizeof(last), "%ld", n);
    gp_proc *p;
    gp_error err;
    assert_int_equal(
        gp_proc_start(&(gp_proc_spec){.argv = (const char *const[]){"seq", "1", last, NULL},
                                      .out = GP_PROC_CAPTURE},
                      &p, &err),
        0);
    long k = 0;
    const char *line;
    size_t len;
    while ((line = gp_proc_read_line(p, &len))) {
        k++;
        char want[32];
        snprintf(want, sizeof(want), "%ld", k);
        if (strcmp(line, want) != 0 || len != strlen(want))
            fail_msg("line %ld: \"%s\"", k, line);
    }
    assert_int_equal(k, n);
    gp_proc_result r;
    assert_int_equal(gp_proc_wait(p, -1, &r), 1);
    assert_true(gp_proc_ok(&r));
    assert_string_equal(r.out, ""); /* all handed out */
    assert_false(r.truncated);
    gp_proc_result_free(&r);
    gp_proc_free(p);

    /* an empty line, and a last line without its newline */
    assert_int_equal(
        gp_proc_start(&(gp_proc_spec){.argv = (const char *const[]){"printf", "a\n\nb", NULL},
                                      .out = GP_PROC_CAPTURE},
                      &p, &err),
        0);
    static const char *const want[] = {"a", "", "b"};
    for (size_t i = 0; i < 3; i++) {
        line = gp_proc_read_line(p, NULL);
        assert_non_null(line);
        assert_string_equal(line, want[i]);
    }
    assert_null(gp_proc_read_line(p, NULL));
    assert_null(gp_proc_read_line(p, NULL));
    gp_proc_free(p);

    /* a silent child: its timeout ends the reading */
    assert_int_equal(
        gp_proc_start(&(gp_proc_spec){.argv = (const char *const[]){"sleep", "30", NULL},
                                      .out = GP_PROC_CAPTURE,
                                      .timeout_ms = 100},
                      &p, &err),
        0);
    assert_null(gp_proc_read_line(p, NULL));
    assert_int_equal(gp_proc_wait(p, -1, &r), 1);
    assert_true(r.timed_out);
    gp_proc_result_free(&r);
    gp_proc_free(p);
}

/* More than a pipe holds on both streams at once, and the capture limit. */
static void test_large_output(void **state)
{
    (void)state;
    char in[PATH_MAX + 16];
    in_dir("big", in, sizeof(in));
    FILE *f = fopen(in, "w");
    assert_non_null(f);
    size_t bytes = 0;
    for (int i = 1; i <= 300000; i++)
        bytes += (size_t)fprintf(f, "%d\n", i);
    assert_int_equal(fclose(f), 0);
    /* cat BIG /no/such/file BIG /no/such/file: 2 x BIG on stdout, two lines on stderr */
    const char *const argv[] = {"cat", in, "/no/such/file", in, "/no/such/file", NULL};
    gp_proc_result r = run_ok(&(gp_proc_spec){
        .argv = argv, .out = GP_PROC_CAPTURE, .err = GP_PROC_CAPTURE, .timeout_ms = 60000});
    assert_true(r.exited);
    assert_int_equal(r.out_len, 2 * bytes);
    assert_int_equal(strlen(r.out), 2 * bytes);
    assert_string_equal(r.out + 2 * bytes - 7, "300000\n");
    assert_false(r.truncated);
    assert_non_null(strstr(strstr(r.err, "/no/such/file") + 1, "/no/such/file"));
    gp_proc_result_free(&r);
    r = run_ok(&(gp_proc_spec){.argv = argv, .out = GP_PROC_CAPTURE, .capture_limit_bytes = 1000});
    assert_int_equal(r.out_len, 1000);
    assert_true(r.truncated);
    assert_int_equal(strncmp(r.out, "1\n2\n3\n", 6), 0);
    gp_proc_result_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_words_reach_the_program),
        cmocka_unit_test(test_working_directory),
        cmocka_unit_test(test_stdin),
        cmocka_unit_test(test_stream_routes),
        cmocka_unit_test(test_environment),
        cmocka_unit_test(test_exit_and_signal),
        cmocka_unit_test(test_timeout),
        cmocka_unit_test(test_cannot_start),
        cmocka_unit_test(test_read_lines),
        cmocka_unit_test(test_large_output),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
