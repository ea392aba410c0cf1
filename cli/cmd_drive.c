/* cmd_drive.c: `gpenlab drive CONFIG|MANIFEST|EXPORT_DIR [--dry-run] [--once | --ticks N]
 * [--metrics FILE.csv] [--prometheus URL] [--redis HOST:PORT]`: the live control loop
 * (drive_run, in libgpenlab-drive.a). */
#include <stdlib.h>

#include "cli/commands.h"
#include "base/opts.h"
#include "cli/usage.h"
#include "drive/drive.h"

#define DRIVE_USAGE                                                                     \
    "usage: gpenlab drive CONFIG|MANIFEST|EXPORT_DIR [--dry-run] [--once | --ticks N] " \
    "[--metrics FILE.csv] [--prometheus URL] [--redis HOST:PORT]"

static int parse_ticks(const char *name, const char *v, void *out, gp_error *err)
{
    char *end;
    long n = strtol(v, &end, 10);
    if (*end || n < 1)
        return gp_error_set(err, GP_ERANGE, NULL, 0, 0, name, "expected a positive integer");
    *(long *)out = n;
    return 0;
}

int cmd_drive(int argc, char **argv, FILE *out, gp_error *err)
{
    drive_run_opts o = {.config_path = NULL, .dry_run = false, .ticks = -1};
    const cli_opt opts[] = {
        {"--dry-run", NULL, CLI_FLAG, &o.dry_run, 0, 0, NULL},
        {"--once", NULL, CLI_SET, &o.ticks, 1, 0, NULL},
        {"--ticks", NULL, CLI_VALUE, &o.ticks, 0, 0, parse_ticks},
        {"--metrics", NULL, CLI_STR, &o.metrics_path, 0, 0, NULL},
        {"--prometheus", NULL, CLI_STR, &o.prometheus_url, 0, 0, NULL},
        {"--redis", NULL, CLI_STR, &o.redis_address, 0, 0, NULL},
        {NULL, NULL, 0, NULL, 0, 0, NULL},
    };
    const cli_spec spec = {.opts = opts,
                           .pos = &o.config_path,
                           .n_pos = 1,
                           .unknown = "unknown option; " DRIVE_USAGE,
                           .too_many = "one config file at a time",
                           .help = cli_usage("drive")};
    int rc = cli_parse(argc, argv, &spec, out, err);
    if (rc != 0) /* 1: the help was printed */
        return rc < 0 ? rc : 0;
    if (!o.config_path)
        return gp_error_set(err, GP_EMISSING, NULL, 0, 0, NULL, "%s", DRIVE_USAGE);
    return drive_run(&o, out, err);
}
