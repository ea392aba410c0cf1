/* cmd_run.c: `gpenlab run FILE.yaml [--set PATH=VALUE]... [--profile PATH] [--db PATH]
 * [--csv PATH] [--replications N] [--seed N] [-j N] [--requests] [--quiet]`: every policy x
 * replication of one experiment (lab_run). --set and --profile change the experiment
 * without copying the file: overlays on its parsed tree, checked as the file is (an
 * unknown key gets the same one-line error with did-you-mean); paths in them are relative
 * to the current directory. */
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/cfg.h"
#include "cli/commands.h"
#include "base/opts.h"
#include "cli/usage.h"
#include "lab/experiment.h"
#include "lab/lab.h"

#define RUN_MAX_SETS 64

typedef struct run_sets {
    int n;
    const char *arg[RUN_MAX_SETS]; /* "PATH=VALUE" as given */
    char path[RUN_MAX_SETS][256];
    char origin[RUN_MAX_SETS][320];
} run_sets;

/* --set PATH=VALUE, repeatable: PATH as in the file (dotted keys, [INDEX]), VALUE as YAML. */
static int parse_set(const char *name, const char *value, void *out, gp_error *err)
{
    run_sets *s = out;
    const char *eq = strchr(value, '=');
    if (!eq || eq == value)
        return gp_error_set(err, GP_EPARSE, NULL, 0, 0, name,
                            "expected PATH=VALUE (cluster.max_pods=12), got \"%s\"", value);
    if (s->n >= RUN_MAX_SETS)
        return gp_error_set(err, GP_ELIMIT, NULL, 0, 0, name, "more than %d", RUN_MAX_SETS);
    if ((size_t)(eq - value) >= sizeof(s->path[0]))
        return gp_error_set(err, GP_ELIMIT, NULL, 0, 0, name, "path too long: \"%s\"", value);
    snprintf(s->path[s->n], sizeof(s->path[0]), "%.*s", (int)(eq - value), value);
    snprintf(s->origin[s->n], sizeof(s->origin[0]), "%s %.300s", name, value);
    s->arg[s->n++] = eq + 1;
    return 0;
}

int cmd_run(const char *self, int argc, char **argv, FILE *out, gp_error *err)
{
    lab_opts o;
    lab_opts_default(&o);
    const char *path = NULL, *profile = NULL;
    long replications = o.replications, seed = o.seed, jobs = 0;
    bool requests = false;
    run_sets sets = {0};
    const cli_opt opts[] = {
        {"--db", NULL, CLI_STR, &o.db_path, 0, 0, NULL},
        {"--csv", NULL, CLI_STR, &o.csv_path, 0, 0, NULL},
        {"--replications", NULL, CLI_LONG, &replications, 1, EXPERIMENT_MAX_REPLICATIONS, NULL},
        {"--seed", NULL, CLI_LONG, &seed, 0, 0x7fffffffL, NULL},
        {"--jobs", "-j", CLI_LONG, &jobs, 1, 64, NULL}, /* default: one per processor */
        {"--set", NULL, CLI_VALUE, &sets, 0, 0, parse_set},
        {"--profile", NULL, CLI_STR, &profile, 0, 0, NULL},
        {"--requests", NULL, CLI_FLAG, &requests, 0, 0, NULL},
        {"--quiet", NULL, CLI_FLAG, &o.quiet, 0, 0, NULL},
        {NULL, NULL, 0, NULL, 0, 0, NULL},
    };
    const cli_spec spec = {.opts = opts,
                           .pos = &path,
                           .n_pos = 1,
                           .unknown = "unknown option (see gpenlab help)",
                           .too_many = "one experiment file at a time",
                           .help = cli_usage("run")};
    int rc = cli_parse(argc, argv, &spec, out, err);
    if (rc != 0) /* 1: the help was printed */
        return rc < 0 ? rc : 0;
    o.replications = (int)replications;
    o.seed = seed;
    o.jobs = (int)jobs;
    if (requests)
        o.record_requests = 1;
    if (!path)
        return gp_error_set(err, GP_EMISSING, NULL, 0, 0, NULL, "usage: gpenlab run FILE.yaml");
    /* the overlays: every --set in order, then --profile (the profile key) */
    experiment_overlay ov[RUN_MAX_SETS + 1];
    size_t n_ov = 0;
    for (int i = 0; i < sets.n; i++)
        ov[n_ov++] = (experiment_overlay){sets.path[i], sets.arg[i], sets.origin[i], "."};
    char profile_origin[PATH_MAX + 16], profile_abs[PATH_MAX], profile_yaml[2 * PATH_MAX];
    if (profile) {
        /* stored with the runs as an absolute path: the database names the file used */
        if (!realpath(profile, profile_abs))
            return gp_error_set(err, GP_EMISSING, profile, 0, 0, "--profile",
                                "no such GPU profile");
        snprintf(profile_origin, sizeof(profile_origin), "--profile %s", profile);
        if (cfg_quote_scalar(profile_abs, profile_yaml, sizeof(profile_yaml)) < 0)
            return gp_error_set(err, GP_ELIMIT, profile, 0, 0, "--profile", "path too long");
        ov[n_ov++] = (experiment_overlay){"profile", profile_yaml, profile_origin, "."};
    }
    experiment *e;
    rc = experiment_load_overlaid(path, ov, n_ov, &e, err);
    if (rc < 0)
        return rc;
    if ((rc = experiment_check_policies(e, -1, err)) < 0) {
        experiment_free(e);
        return rc;
    }
    experiment_warn(e, stderr);
    o.progress = !o.quiet && isatty(STDERR_FILENO);
    o.warn = stderr;
    o.program = self;
    o.stop = cli_stop_on_signals(); /* stops between runs (each is atomic in the database) */
    rc = lab_run(e, &o, out, err);
    experiment_free(e);
    return rc;
}
