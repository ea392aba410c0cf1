/* cmd_run.c: `gpenlab run FILE.yaml [--db PATH] [--csv PATH] [--replications N] [--seed N]
 * [--requests] [--quiet] [-j N]`: every policy x replication of one experiment (lab_run),
 * on N worker processes with -j. */
#include <signal.h>
#include <stdbool.h>
#include <string.h>
#include <unistd.h>

#include "cli/commands.h"
#include "cli/opts.h"
#include "lab/experiment.h"
#include "lab/lab.h"

int cmd_run(int argc, char **argv, FILE *out, gp_error *err)
{
    lab_opts o;
    lab_opts_default(&o);
    const char *path = NULL;
    long replications = o.replications, seed = o.seed, jobs = 1;
    bool requests = false;
    const cli_opt opts[] = {
        {"--db", NULL, CLI_STR, &o.db_path, 0, 0, NULL},
        {"--csv", NULL, CLI_STR, &o.csv_path, 0, 0, NULL},
        {"--replications", NULL, CLI_LONG, &replications, 1, EXPERIMENT_MAX_REPLICATIONS, NULL},
        {"--seed", NULL, CLI_LONG, &seed, 0, 0x7fffffffL, NULL},
        {"--requests", NULL, CLI_FLAG, &requests, 0, 0, NULL},
        {"--quiet", NULL, CLI_FLAG, &o.quiet, 0, 0, NULL},
        {"-j", "--jobs", CLI_LONG, &jobs, 1, 256, NULL},
        {NULL, NULL, 0, NULL, 0, 0, NULL},
    };
    const cli_spec spec = {.opts = opts,
                           .pos = &path,
                           .n_pos = 1,
                           .unknown = "unknown option (see gpenlab help)",
                           .too_many = "one experiment file at a time"};
    int rc = cli_parse(argc, argv, &spec, out, err);
    if (rc < 0)
        return rc;
    o.replications = (int)replications;
    o.seed = seed;
    o.jobs = (int)jobs;
    if (requests)
        o.record_requests = 1;
    if (!path)
        return gp_error_set(err, GP_EMISSING, NULL, 0, 0, NULL, "usage: gpenlab run FILE.yaml");
    experiment *e;
    rc = experiment_load(path, &e, err);
    if (rc < 0)
        return rc;
    o.progress = !o.quiet && isatty(STDERR_FILENO);
    o.warn = stderr;
    experiment_warn(e, stderr);
    o.stop = cli_stop_on_signals(); /* stops between runs (each is atomic in the database) */
    rc = lab_run(e, &o, out, err);
    experiment_free(e);
    return rc;
}
