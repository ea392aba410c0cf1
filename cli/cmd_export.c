/* cmd_export.c: `gpenlab export --from DB|EXPERIMENT.yaml [--label LABEL | --point N]
 * [--out DIR] [--name N] [--namespace NS] [--image I] [--prometheus URL]
 * [--redis HOST:PORT] [--cloud gke|eks]` (export_run; from a database, the winner unless
 * --label or --point chooses) and `gpenlab export --import DIR` (export_import). --policy is
 * --label. */
#include "cli/commands.h"
#include "base/opts.h"
#include "cli/usage.h"
#include "lab/export.h"

#include <string.h>

/* --cloud: whose node labels a mixed fleet's Deployments select (GKE's or EKS's). */
static int parse_cloud(const char *name, const char *v, void *out, gp_error *err)
{
    if (strcmp(v, "gke") != 0 && strcmp(v, "eks") != 0)
        return gp_error_set(err, GP_EPARSE, NULL, 0, 0, name, "expected gke or eks, got \"%s\"", v);
    *(const char **)out = v;
    return 0;
}

int cmd_export(int argc, char **argv, FILE *out, gp_error *err)
{
    export_opts o;
    export_opts_default(&o);
    const char *import_dir = NULL;
    const cli_opt opts[] = {
        {"--policy", NULL, CLI_STR, &o.label, 0, 0, NULL},
        {"--label", NULL, CLI_STR, &o.label, 0, 0, NULL},
        {"--from", NULL, CLI_STR, &o.from, 0, 0, NULL},
        {"--point", NULL, CLI_LONG, &o.point, 0, 100000000, NULL},
        {"--out", NULL, CLI_STR, &o.out_dir, 0, 0, NULL},
        {"--name", NULL, CLI_STR, &o.app, 0, 0, NULL},
        {"--namespace", NULL, CLI_STR, &o.ns, 0, 0, NULL},
        {"--image", NULL, CLI_STR, &o.image, 0, 0, NULL},
        {"--prometheus", NULL, CLI_STR, &o.prometheus_url, 0, 0, NULL},
        {"--redis", NULL, CLI_STR, &o.redis_address, 0, 0, NULL},
        {"--import", NULL, CLI_STR, &import_dir, 0, 0, NULL},
        {"--cloud", NULL, CLI_VALUE, &o.cloud, 0, 0, parse_cloud},
        {NULL, NULL, 0, NULL, 0, 0, NULL},
    };
    const cli_spec spec = {.opts = opts,
                           .unknown = "unknown option (usage: gpenlab export --from "
                                      "DB|EXPERIMENT.yaml [--label LABEL | --point N] [--out DIR] "
                                      "| gpenlab export --import DIR)",
                           .help = cli_usage("export")};
    int rc = cli_parse(argc, argv, &spec, out, err);
    if (rc != 0) /* 1: the help was printed */
        return rc < 0 ? rc : 0;
    if (import_dir)
        return export_import(import_dir, out, err);
    return export_run(&o, out, err);
}
