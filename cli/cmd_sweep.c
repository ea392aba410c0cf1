/* cmd_sweep.c: `gpenlab sweep FILE.yaml [-j N] [--db PATH] [--csv PATH] [--plot PREFIX]
 * [--report-only]`: runs or resumes a sweep, then prints its report. Built with
 * GPENLAB_MPI (gpenlab-mpi), the points go to the MPI ranks instead of local workers. */
#include <stdbool.h>
#include <string.h>

#include "base/fileio.h"
#include "cli/commands.h"
#include "base/opts.h"
#include "cli/usage.h"
#include "lab/sweep.h"

#ifdef GPENLAB_MPI
int sweep_mpi_run(const sweep *sw, sweep_run_stats *st, int *is_root, gp_error *err);
#endif

int cmd_sweep(int argc, char **argv, FILE *out, gp_error *err)
{
    const char *path = NULL, *db = NULL, *csv = NULL, *plot = NULL;
    long jobs = 1;
    bool report_only = false;
    const cli_opt opts[] = {
        {"-j", NULL, CLI_LONG, &jobs, 1, 256, NULL},
        {"--db", NULL, CLI_STR, &db, 0, 0, NULL},
        {"--csv", NULL, CLI_STR, &csv, 0, 0, NULL},
        {"--plot", NULL, CLI_STR, &plot, 0, 0, NULL},
        {"--report-only", NULL, CLI_FLAG, &report_only, 0, 0, NULL},
        {NULL, NULL, 0, NULL, 0, 0, NULL},
    };
    const cli_spec spec = {.opts = opts,
                           .pos = &path,
                           .n_pos = 1,
                           .unknown = "unknown option (see gpenlab help)",
                           .too_many = "one sweep file at a time",
                           .help = cli_usage("sweep")};
    int rc = cli_parse(argc, argv, &spec, out, err);
    if (rc != 0) /* 1: the help was printed */
        return rc < 0 ? rc : 0;
    if (!path)
        return gp_error_set(err, GP_EMISSING, NULL, 0, 0, NULL, "usage: gpenlab sweep FILE.yaml");
    sweep *sw;
    rc = sweep_load(path, &sw, err);
    if (rc < 0)
        return rc;
    sweep_warn(sw, stderr);
    if (db)
        sweep_set_db_path(sw, db);
    char csv_default[1200], plot_default[1200], dir[1024];
    snprintf(dir, sizeof(dir), "%s", sweep_db_path(sw));
    char *slash = strrchr(dir, '/');
    snprintf(slash ? slash + 1 : dir, sizeof(dir) - (size_t)(slash ? slash + 1 - dir : 0), "%s",
             "");
    char safe[128]; /* the sweep's name becomes file names beside its database */
    gp_safe_file_name(safe, sizeof(safe), sweep_name(sw));
    snprintf(csv_default, sizeof(csv_default), "%s%s.csv", dir, safe);
    snprintf(plot_default, sizeof(plot_default), "%s%s-pareto", dir, safe);
    sweep_run_stats st = {0};
    int is_root = 1;
    if (!report_only) {
#ifdef GPENLAB_MPI
        rc = sweep_mpi_run(sw, &st, &is_root, err);
#else
        rc = sweep_run_local(sw, (int)jobs, cli_stop_on_signals(), &st, err);
#endif
        if (rc == 0 && is_root)
            fprintf(out,
                    "sweep %s: %zu units (%zu points x %d replications): %zu run, %zu resumed "
                    "from %s\n",
                    sweep_name(sw), st.units, sweep_n_points(sw), sweep_replications(sw), st.ran,
                    st.resumed, sweep_db_path(sw));
    }
    if (rc == 0 && is_root)
        rc = sweep_report(sw, out, csv ? csv : csv_default, plot ? plot : plot_default, err);
    sweep_free(sw);
    return rc;
}
