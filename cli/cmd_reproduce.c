/* cmd_reproduce.c: `gpenlab reproduce [--dir EXPERIMENTS] [--db PATH] [--profile FILE]
 * [--replications N]`: the seed article's two tables (reproduce_run). */
#include <unistd.h>

#include "cli/commands.h"
#include "cli/opts.h"
#include "lab/experiment.h"
#include "lab/reproduce.h"

int cmd_reproduce(int argc, char **argv, FILE *out, gp_error *err)
{
    reproduce_opts o;
    reproduce_opts_default(&o);
    long replications = o.replications;
    const cli_opt opts[] = {
        {"--dir", NULL, CLI_STR, &o.exp_dir, 0, 0, NULL},
        {"--db", NULL, CLI_STR, &o.db_path, 0, 0, NULL},
        {"--profile", NULL, CLI_STR, &o.profile_path, 0, 0, NULL},
        {"--replications", NULL, CLI_LONG, &replications, 1, EXPERIMENT_MAX_REPLICATIONS, NULL},
        {NULL, NULL, 0, NULL, 0, 0, NULL},
    };
    const cli_spec spec = {.opts = opts, .unknown = "unknown option (see gpenlab help)"};
    int rc = cli_parse(argc, argv, &spec, out, err);
    if (rc < 0)
        return rc;
    o.replications = (int)replications;
    o.progress = isatty(STDERR_FILENO);
    return reproduce_run(&o, out, err);
}
