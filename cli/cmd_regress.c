/* cmd_regress.c: `gpenlab regress [--dir experiments/baselines] [--update] [--junit FILE]`:
 * the canonical experiments against their baselines (regress_run); any figure worse is an
 * error. --junit also writes the verdicts as JUnit XML. */
#include "cli/commands.h"
#include "base/opts.h"
#include "cli/usage.h"
#include "lab/regress.h"

int cmd_regress(int argc, char **argv, FILE *out, gp_error *err)
{
    regress_opts o = {.dir = "experiments/baselines"};
    const cli_opt opts[] = {
        {"--dir", NULL, CLI_STR, &o.dir, 0, 0, NULL},
        {"--update", NULL, CLI_FLAG, &o.update, 0, 0, NULL},
        {"--junit", NULL, CLI_STR, &o.junit_path, 0, 0, NULL},
        {NULL, NULL, 0, NULL, 0, 0, NULL},
    };
    const cli_spec spec = {
        .opts = opts, .unknown = "unknown option (see gpenlab help)", .help = cli_usage("regress")};
    int rc = cli_parse(argc, argv, &spec, out, err);
    if (rc != 0) /* 1: the help was printed */
        return rc < 0 ? rc : 0;
    int worse = 0;
    rc = regress_run(&o, out, &worse, err);
    if (rc == 0 && worse > 0)
        return gp_error_set(err, GP_EINVARIANT, NULL, 0, 0, NULL,
                            "%d figure(s) got worse than the baselines (if intended: make "
                            "regress-update and commit the diff)",
                            worse);
    return rc;
}
