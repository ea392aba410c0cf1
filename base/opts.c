/* opts.c: the option parser of every program (see opts.h). */
#include "base/opts.h"

#include <errno.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Set by SIGINT/SIGTERM; the one piece of mutable file-scope state, as a signal handler
 * needs. */
static volatile sig_atomic_t stop_requested;

static void on_stop_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

volatile sig_atomic_t *cli_stop_on_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_stop_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    return &stop_requested;
}

static bool is_option(const char *a) { return a[0] == '-' && a[1] != '\0'; }

static bool is_help(const char *a) { return strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0; }

/* One-letter options ("-j") also take their value attached ("-j4"). */
static const cli_opt *find_in(const cli_opt *opts, const char *arg, const char **attached)
{
    size_t len = strcspn(arg, "=");
    *attached = NULL;
    for (const cli_opt *o = opts; o && o->name; o++) {
        const char *names[2] = {o->name, o->alias};
        for (int k = 0; k < 2; k++) {
            const char *n = names[k];
            if (!n)
                continue;
            size_t nl = strlen(n);
            if (n[1] != '-' && nl == 2 && strncmp(arg, n, 2) == 0 && arg[2]) {
                *attached = arg + 2; /* -j4 */
                return o;
            }
            if (n[1] == '-' && len == nl && strncmp(arg, n, nl) == 0) {
                if (arg[len] == '=')
                    *attached = arg + len + 1; /* --db=x */
                return o;
            }
            if (strcmp(arg, n) == 0)
                return o;
        }
    }
    return NULL;
}

static const cli_opt *find(const cli_spec *s, const char *arg, const char **attached)
{
    const cli_opt *o = find_in(s->opts, arg, attached);
    return o ? o : find_in(s->shared, arg, attached);
}

static int unknown(const cli_spec *s, const char *arg, gp_error *err)
{
    if (strstr(s->unknown, "%s")) /* the command's message names the option itself */
        return gp_error_set(err, GP_EUNKNOWN, NULL, 0, 0, NULL, s->unknown, arg);
    return gp_error_set(err, GP_EUNKNOWN, NULL, 0, 0, arg, "%s", s->unknown);
}

static int take_value(const cli_opt *o, const char *name, const char *v, gp_error *err)
{
    switch (o->kind) {
    case CLI_STR: *(const char **)o->out = v; return 0;
    case CLI_LONG:
    case CLI_INT: {
        char *end;
        errno = 0;
        long x = strtol(v, &end, 10);
        if (*v == '\0' || *end != '\0' || errno == ERANGE || x < o->lo || x > o->hi)
            return gp_error_set(err, GP_ERANGE, NULL, 0, 0, name,
                                "expected an integer in [%ld, %ld], got \"%s\"", o->lo, o->hi, v);
        if (o->kind == CLI_INT)
            *(int *)o->out = (int)x; /* the table keeps [lo, hi] within int */
        else
            *(long *)o->out = x;
        return 0;
    }
    case CLI_VALUE: return o->parse(name, v, o->out, err);
    case CLI_FLAG:
    case CLI_SET: break;
    }
    return gp_error_set(err, GP_EINVARIANT, NULL, 0, 0, name, "option table: not a value kind");
}

int cli_parse(int argc, char **argv, const cli_spec *s, FILE *out, gp_error *err)
{
    if (s->help) {
        for (int i = 1; i < argc; i++) {
            if (is_help(argv[i])) {
                fputs(s->help, out);
                return 1;
            }
        }
    }
    size_t n_pos = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!is_option(a)) {
            if (n_pos < s->n_pos) {
                s->pos[n_pos++] = a;
                continue;
            }
            if (s->too_many && strstr(s->too_many, "%s"))
                return gp_error_set(err, GP_EPARSE, NULL, 0, 0, NULL, s->too_many, a);
            if (s->too_many)
                return gp_error_set(err, GP_EPARSE, NULL, 0, 0, NULL, "%s", s->too_many);
            if (s->extra_fn)
                return s->extra_fn(s->pos, a, err);
            return unknown(s, a, err);
        }
        /* the option's name as given: without "=value" (or a one-letter option's attached
         * value, cut below) */
        char name[64];
        snprintf(name, sizeof(name), "%.*s", (int)strcspn(a, "="), a);
        const char *v;
        const cli_opt *o = find(s, a, &v);
        if (!o)
            return unknown(s, name, err);
        if (v && a[1] != '-')
            name[2] = '\0'; /* -j4 */
        if (o->kind == CLI_FLAG || o->kind == CLI_SET) {
            if (v)
                return gp_error_set(err, GP_EPARSE, NULL, 0, 0, name, "takes no value");
            if (o->kind == CLI_FLAG)
                *(bool *)o->out = true;
            else
                *(long *)o->out = o->lo;
            continue;
        }
        if (!v) {
            if (i + 1 >= argc)
                return gp_error_set(err, GP_EMISSING, NULL, 0, 0, name, "needs a value");
            v = argv[++i];
        }
        int rc = take_value(o, name, v, err);
        if (rc < 0)
            return rc;
    }
    return 0;
}

int cli_dispatch(const char *prog, int argc, char **argv, const cli_command *cmds, size_t n_cmds,
                 const char *usage, FILE *out, FILE *err_out)
{
    if (argc < 2) {
        fputs(usage, err_out);
        return 2;
    }
    if (is_help(argv[1]) || strcmp(argv[1], "help") == 0) {
        fputs(usage, out);
        return 0;
    }
    for (size_t i = 0; i < n_cmds; i++)
        if (strcmp(argv[1], cmds[i].name) == 0)
            return cmds[i].run(argc - 1, argv + 1);
    fprintf(err_out, "%s: unknown command \"%s\" (", prog, argv[1]);
    for (size_t i = 0; i < n_cmds; i++)
        fprintf(err_out, "%s%s", i ? ", " : "", cmds[i].name);
    fputs(")\n", err_out);
    return 2;
}

int cli_report(FILE *f, const char *prog, const gp_error *err, int exit_code)
{
    char buf[1200];
    gp_error_format(err, buf, sizeof(buf));
    fprintf(f, "%s: %s\n", prog, buf);
    return exit_code;
}

/* A whole finite number above lo (or from lo, with lo_in); else GP_ERANGE naming it. */
static int read_number(const char *name, const char *v, double lo, bool lo_in, double *out,
                       gp_error *err)
{
    char *end;
    errno = 0;
    double x = strtod(v, &end);
    if (end == v || *end != '\0' || errno == ERANGE || !isfinite(x) || x < lo ||
        (!lo_in && x == lo))
        return gp_error_set(err, GP_ERANGE, NULL, 0, 0, name, "expected a number %s %g, got \"%s\"",
                            lo_in ? ">=" : ">", lo, v);
    *out = x;
    return 0;
}

int cli_positive(const char *name, const char *value, void *out_double, gp_error *err)
{
    return read_number(name, value, 0, false, out_double, err);
}

int cli_nonneg(const char *name, const char *value, void *out_double, gp_error *err)
{
    return read_number(name, value, 0, true, out_double, err);
}
