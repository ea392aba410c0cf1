/* cmd_reproduce.c: `gpenlab reproduce [--dir EXPERIMENTS] [--db PATH] [--profile FILE]
 * [--replications N] [--html OUT.html [--assets DIR] [--title T]]`: the seed article's two
 * tables (reproduce_run), and with --html the page with them beside gpenlab's figures. */
#include <unistd.h>

#include "cli/commands.h"
#include "base/opts.h"
#include "cli/usage.h"
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
        {"--html", NULL, CLI_STR, &o.html_path, 0, 0, NULL},
        {"--assets", NULL, CLI_STR, &o.assets_dir, 0, 0, NULL},
        {"--title", NULL, CLI_STR, &o.title, 0, 0, NULL},
        {NULL, NULL, 0, NULL, 0, 0, NULL},
    };
    const cli_spec spec = {.opts = opts,
                           .unknown = "unknown option (see gpenlab help)",
                           .help = cli_usage("reproduce")};
    int rc = cli_parse(argc, argv, &spec, out, err);
    if (rc != 0) /* 1: the help was printed */
        return rc < 0 ? rc : 0;
    o.replications = (int)replications;
    o.progress = isatty(STDERR_FILENO);
    return reproduce_run(&o, out, err);
}
