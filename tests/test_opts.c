/* test_opts.c: the one option parser (base/opts.h), called directly. Each row is a
 * command line against one table that holds every kind (flag, set, string, long, int, the
 * number readers, an alias, a one-letter option, a shared table, one positional), and
 * what must come of it: the values read, the help printed, or the one error line. Then
 * cli_dispatch, the programs' choice of command: each first word and what it gives. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/opts.h"

typedef struct parsed {
    bool quiet;
    long ticks, jobs;
    int port;
    const char *db, *file, *weights;
    double scale, drain;
} parsed;

/* spec variants */
enum { PLAIN, UNKNOWN_AS_FIELD, EXTRA_AS_UNKNOWN };

typedef struct opts_case {
    const char *name;
    int spec;
    const char *args; /* split at spaces; argv[0] is "cmd" */
    int rc;           /* 0, 1 (help printed) or a GP_E* code */
    const char *want; /* rc 0: the values; 1: the help; else the error as printed */
} opts_case;

static const opts_case CASES[] = {
    {"nothing", PLAIN, "", 0,
     "quiet=0 ticks=-1 jobs=1 port=80 db=() file=() weights=() scale=1 drain=0"},
    {"every kind", PLAIN,
     "f.yaml --quiet --once --db x.db -j 4 --port 8080 --scale 0.5 --drain 0 --weights w", 0,
     "quiet=1 ticks=1 jobs=4 port=8080 db=x.db file=f.yaml weights=w scale=0.5 drain=0"},
    {"--name=value", PLAIN, "--db=a=b --port=1", 0,
     "quiet=0 ticks=-1 jobs=1 port=1 db=a=b file=() weights=() scale=1 drain=0"},
    {"one letter, value attached", PLAIN, "-j16", 0,
     "quiet=0 ticks=-1 jobs=16 port=80 db=() file=() weights=() scale=1 drain=0"},
    {"alias", PLAIN, "-o out.db", 0,
     "quiet=0 ticks=-1 jobs=1 port=80 db=out.db file=() weights=() scale=1 drain=0"},
    {"a value that starts with '-'", PLAIN, "--db -x.db", 0,
     "quiet=0 ticks=-1 jobs=1 port=80 db=-x.db file=() weights=() scale=1 drain=0"},
    {"'-' alone is positional", PLAIN, "-", 0,
     "quiet=0 ticks=-1 jobs=1 port=80 db=() file=- weights=() scale=1 drain=0"},
    {"the last one wins", PLAIN, "--port 1 --port 2", 0,
     "quiet=0 ticks=-1 jobs=1 port=2 db=() file=() weights=() scale=1 drain=0"},
    {"help anywhere", PLAIN, "--port x --help", 1, "usage: cmd\n"},
    {"-h", PLAIN, "-h", 1, "usage: cmd\n"},
    {"unknown option", PLAIN, "--bogus", GP_EUNKNOWN, "unknown option \"--bogus\""},
    {"unknown option, value attached", PLAIN, "--bogus=1", GP_EUNKNOWN,
     "unknown option \"--bogus\""},
    {"unknown option as the field", UNKNOWN_AS_FIELD, "--bogus", GP_EUNKNOWN,
     "--bogus: unknown option"},
    {"no value", PLAIN, "--db", GP_EMISSING, "--db: needs a value"},
    {"a flag with a value", PLAIN, "--quiet=yes", GP_EPARSE, "--quiet: takes no value"},
    {"long out of range", PLAIN, "-j 0", GP_ERANGE,
     "-j: expected an integer in [1, 64], got \"0\""},
    {"long, attached, not a number", PLAIN, "-jx", GP_ERANGE,
     "-j: expected an integer in [1, 64], got \"x\""},
    {"int above its range", PLAIN, "--port 65536", GP_ERANGE,
     "--port: expected an integer in [1, 65535], got \"65536\""},
    {"int beyond long", PLAIN, "--port 99999999999999999999", GP_ERANGE,
     "--port: expected an integer in [1, 65535], got \"99999999999999999999\""},
    {"int with trailing text", PLAIN, "--port 80x", GP_ERANGE,
     "--port: expected an integer in [1, 65535], got \"80x\""},
    {"empty int", PLAIN, "--port=", GP_ERANGE,
     "--port: expected an integer in [1, 65535], got \"\""},
    {"positive: zero", PLAIN, "--scale 0", GP_ERANGE, "--scale: expected a number > 0, got \"0\""},
    {"positive: not finite", PLAIN, "--scale inf", GP_ERANGE,
     "--scale: expected a number > 0, got \"inf\""},
    {"positive: NaN", PLAIN, "--scale nan", GP_ERANGE,
     "--scale: expected a number > 0, got \"nan\""},
    {"non-negative: below", PLAIN, "--drain -0.5", GP_ERANGE,
     "--drain: expected a number >= 0, got \"-0.5\""},
    {"non-negative: text", PLAIN, "--drain 1s", GP_ERANGE,
     "--drain: expected a number >= 0, got \"1s\""},
    {"shared table: no value", PLAIN, "--weights", GP_EMISSING, "--weights: needs a value"},
    {"a second file", PLAIN, "a.yaml b.yaml", GP_EPARSE, "one file at a time, not also \"b.yaml\""},
    {"a second file as an unknown option", EXTRA_AS_UNKNOWN, "a.yaml b.yaml", GP_EUNKNOWN,
     "unknown option \"b.yaml\""},
};

static void split(const char *args, char *buf, size_t cap, char **argv, int *argc)
{
    snprintf(buf, cap, "%s", args);
    *argc = 0;
    argv[(*argc)++] = "cmd";
    char *save = NULL;
    for (char *t = strtok_r(buf, " ", &save); t; t = strtok_r(NULL, " ", &save))
        argv[(*argc)++] = t;
    argv[*argc] = NULL;
}

static void test_cases(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(CASES) / sizeof(CASES[0]); i++) {
        const opts_case *c = &CASES[i];
        parsed p = {false, -1, 1, 80, NULL, NULL, NULL, 1, 0};
        const cli_opt opts[] = {
            {"--quiet", NULL, CLI_FLAG, &p.quiet, 0, 0, NULL},
            {"--once", NULL, CLI_SET, &p.ticks, 1, 0, NULL},
            {"--db", "-o", CLI_STR, &p.db, 0, 0, NULL},
            {"-j", NULL, CLI_LONG, &p.jobs, 1, 64, NULL},
            {"--port", NULL, CLI_INT, &p.port, 1, 65535, NULL},
            {"--scale", NULL, CLI_VALUE, &p.scale, 0, 0, cli_positive},
            {"--drain", NULL, CLI_VALUE, &p.drain, 0, 0, cli_nonneg},
            {NULL, NULL, 0, NULL, 0, 0, NULL},
        };
        const cli_opt shared[] = {
            {"--weights", NULL, CLI_STR, &p.weights, 0, 0, NULL},
            {NULL, NULL, 0, NULL, 0, 0, NULL},
        };
        cli_spec spec = {.opts = opts,
                         .shared = shared,
                         .pos = &p.file,
                         .n_pos = 1,
                         .unknown = "unknown option \"%s\"",
                         .too_many = "one file at a time, not also \"%s\"",
                         .help = "usage: cmd\n"};
        if (c->spec == UNKNOWN_AS_FIELD)
            spec.unknown = "unknown option";
        if (c->spec == EXTRA_AS_UNKNOWN)
            spec.too_many = NULL;
        char buf[512], *argv[32];
        int argc;
        split(c->args, buf, sizeof(buf), argv, &argc);
        char help[256] = "";
        FILE *out = fmemopen(help, sizeof(help), "w");
        assert_non_null(out);
        gp_error err;
        gp_error_clear(&err);
        int rc = cli_parse(argc, argv, &spec, out, &err);
        fclose(out);
        char got[700];
        if (rc == 0)
            snprintf(
                got, sizeof(got),
                "quiet=%d ticks=%ld jobs=%ld port=%d db=%s file=%s weights=%s scale=%g drain=%g",
                p.quiet, p.ticks, p.jobs, p.port, p.db ? p.db : "()", p.file ? p.file : "()",
                p.weights ? p.weights : "()", p.scale, p.drain);
        else if (rc == 1)
            snprintf(got, sizeof(got), "%s", help);
        else
            gp_error_format(&err, got, sizeof(got));
        if (rc != c->rc || strcmp(got, c->want) != 0)
            fail_msg("%s (\"%s\"): returned %d (want %d): \"%s\", want \"%s\"", c->name, c->args,
                     rc, c->rc, got, c->want);
    }
}

/* a command whose exit code says what it got: 10 x argc, + 1 for serve, + 2 for dump */
static int echo_command(int argc, char **argv)
{
    return 10 * argc + (strcmp(argv[0], "serve") == 0 ? 1 : strcmp(argv[0], "dump") == 0 ? 2 : 0);
}

static void test_dispatch(void **state)
{
    (void)state;
    static const cli_command cmds[] = {{"serve", echo_command}, {"dump", echo_command}};
    static const struct {
        const char *args;
        int rc;
        const char *out, *err;
    } cases[] = {
        {"", 2, "", "usage: prog serve|dump\n"},
        {"--help", 0, "usage: prog serve|dump\n", ""},
        {"help", 0, "usage: prog serve|dump\n", ""},
        {"-h", 0, "usage: prog serve|dump\n", ""},
        {"dump --x 1", 32, "", ""},
        {"serve", 11, "", ""},
        {"--x", 2, "", "prog: unknown command \"--x\" (serve, dump)\n"},
        {"Serve", 2, "", "prog: unknown command \"Serve\" (serve, dump)\n"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char buf[256], *argv[32], out[256] = "", err[256] = "";
        int argc;
        split(cases[i].args, buf, sizeof(buf), argv, &argc);
        argv[0] = "prog";
        FILE *fo = fmemopen(out, sizeof(out), "w"), *fe = fmemopen(err, sizeof(err), "w");
        assert_non_null(fo);
        assert_non_null(fe);
        int rc = cli_dispatch("prog", argc, argv, cmds, 2, "usage: prog serve|dump\n", fo, fe);
        fclose(fo);
        fclose(fe);
        if (rc != cases[i].rc || strcmp(out, cases[i].out) != 0 || strcmp(err, cases[i].err) != 0)
            fail_msg(
                "\"%s\": returned %d (want %d), out \"%s\" (want \"%s\"), err \"%s\" (want \"%s\")",
                cases[i].args, rc, cases[i].rc, out, cases[i].out, err, cases[i].err);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cases),
        cmocka_unit_test(test_dispatch),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
