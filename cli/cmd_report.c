/* cmd_report.c: `gpenlab report DB [-o OUT.html] [--assets DIR] [--title T]`: one
 * self-contained HTML page of a results database (html_report_write). */
#include <string.h>

#include "base/fileio.h"
#include "cli/commands.h"
#include "base/opts.h"
#include "cli/usage.h"
#include "lab/html_report.h"

int cmd_report(int argc, char **argv, FILE *out, gp_error *err)
{
    html_report_opts o = {0};
    const cli_opt opts[] = {
        {"--out", "-o", CLI_STR, &o.out_path, 0, 0, NULL},
        {"--assets", NULL, CLI_STR, &o.assets_dir, 0, 0, NULL},
        {"--title", NULL, CLI_STR, &o.title, 0, 0, NULL},
        {NULL, NULL, 0, NULL, 0, 0, NULL},
    };
    const cli_spec spec = {.opts = opts,
                           .pos = &o.db_path,
                           .n_pos = 1,
                           .unknown = "unknown option (see gpenlab help)",
                           .too_many = "one database at a time",
                           .help = cli_usage("report")};
    int rc = cli_parse(argc, argv, &spec, out, err);
    if (rc != 0) /* 1: the help was printed */
        return rc < 0 ? rc : 0;
    if (!o.db_path)
        return gp_error_set(err, GP_EMISSING, NULL, 0, 0, NULL,
                            "usage: gpenlab report DB [-o OUT.html]");
    char html[1100];
    if (!o.out_path) { /* the database's path with its extension replaced */
        if (gp_path_with_ext(html, sizeof(html), o.db_path, ".html") < 0)
            return gp_error_set(err, GP_ERANGE, o.db_path, 0, 0, NULL, "path too long");
        o.out_path = html;
    }
    int pictures = 0;
    rc = html_report_write(&o, &pictures, err);
    if (rc == 0)
        fprintf(out, "report %s: %d pictures\n", o.out_path, pictures);
    return rc;
}
