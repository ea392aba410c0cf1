/* main.c: the gpenlab program. It picks the command (cli/commands.h, one file each) and
 * is the only place that prints errors and exits: every command returns a GP_E* code and a
 * gp_error, printed here as one line "gpenlab: FILE:LINE:COL: FIELD: message". */
#include <stdio.h>
#include <string.h>

#include "base/common.h"
#include "base/error.h"
#include "cli/commands.h"


static void usage(FILE *f)
{
    fprintf(f,
            "gpenlab %s: which autoscaling policy, with which settings, for a GPU inference service\n"
            "\n"
            "usage:\n"
            "  gpenlab run FILE.yaml [--db PATH] [--csv PATH] [--replications N] [--seed N]\n"
            "                        [--requests] [--quiet] [-j N]\n"
            "      run an experiment: every policy x replication, a comparison table with 95%%\n"
            "      confidence intervals, every run in SQLite (reruns resume), optional CSV;\n"
            "      -j N: on N processes, the same database as without\n"
            "  gpenlab trace stats FILE [--time-col C] [--plot OUT.png] ...\n"
            "      span, count, mean/peak rate, CV and hour-of-day profile of a trace\n"
            "  gpenlab policy replay POLICY METRICS.csv [--config FILE.yaml]\n"
            "      feed recorded observations to a policy; print each decision and why\n"
            "  gpenlab policy list\n"
            "  gpenlab profile check FILE      parse a GPU profile and print what it implies\n"
            "  gpenlab profile measure [...]   measure this machine's GPU (runs gpenlab-gpu profile)\n"
            "  gpenlab profile derive --in MEASURED --from CARD [--to t4,l4,a10,a100] [--outdir D]\n"
            "      profiles for other cards, scaled by datasheet compute and bandwidth: derived\n"
            "  gpenlab export --from DB|FILE.yaml [--label LABEL | --point N] [--out DIR] | --import DIR\n"
            "      Kubernetes manifests for the winner stored in DB (or the policy or sweep point\n"
            "      chosen): Deployment, HPA, ScaledObject, Knative, driver config\n"
            "  gpenlab drive CONFIG|MANIFEST|DIR [--dry-run] [--once | --ticks N] [--metrics F.csv]\n"
            "      run a policy against live Prometheus/Redis metrics and the scale subresource\n"
            "      (any exported manifest; --dry-run needs no cluster; --metrics replays a CSV)\n"
            "  gpenlab reproduce [--dir EXPERIMENTS] [--db PATH] [--profile FILE] [--replications N]\n"
            "                    [--html OUT.html [--assets DIR] [--title T]]\n"
            "      rerun the seed article's two tables; article vs gpenlab (95%% CI) per row\n"
            "  gpenlab report DB [-o OUT.html] [--assets DIR] [--title T]\n"
            "      one self-contained HTML page: tables and gnuplot pictures (inline SVG)\n"
            "  gpenlab regress [--dir experiments/baselines] [--update] [--junit FILE.xml]\n"
            "      canonical experiments against their baselines; fails when P99, SLO or GPU-h\n"
            "      got worse beyond the replication noise (paired); --update rewrites them\n"
            "  gpenlab sweep FILE.yaml [-j N] [--db PATH] [--csv PATH] [--plot PREFIX] [--report-only]\n"
            "      grid or Latin-hypercube sweep, paired replications, resumable; the winner\n"
            "      with its paired CI and the Pareto front (mpirun -np N gpenlab-mpi sweep ...)\n"
            "  gpenlab version | help\n",
            GPENLAB_VERSION);
}

static int fail(const gp_error *err)
{
    char buf[1200];
    gp_error_format(err, buf, sizeof(buf));
    fprintf(stderr, "gpenlab: %s\n", buf);
    return err->code == GP_EINTERRUPTED ? 130 : 1;
}

typedef struct command {
    const char *name;
    int (*fn)(int argc, char **argv, FILE *out, gp_error *err);
} command;

static const command commands[] = {
    {"policy", cmd_policy},   {"export", cmd_export},
    {"drive", cmd_drive},     {"report", cmd_report}, {"regress", cmd_regress},
    {"sweep", cmd_sweep},     {"reproduce", cmd_reproduce},
};

int main(int argc, char **argv)
{
    gp_error err;
    gp_error_clear(&err);
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *cmd = argv[1];
    int rc = 0;
    const command *c = NULL;
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        if (strcmp(cmd, commands[i].name) == 0)
            c = &commands[i];
    if (c)
        rc = c->fn(argc - 1, argv + 1, stdout, &err);
    else if (strcmp(cmd, "trace") == 0)
        rc = argc >= 3 ? cmd_trace(argc - 2, argv + 2, stdout, &err)
                       : gp_error_set(&err, GP_EPARSE, NULL, 0, 0, NULL, "usage: gpenlab trace stats FILE");
    else if (strcmp(cmd, "run") == 0)
        rc = cmd_run(argv[0], argc - 1, argv + 1, stdout, &err);
    else if (strcmp(cmd, "profile") == 0)
        rc = cmd_profile(argv[0], argc - 1, argv + 1, stdout, &err);
    else if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
        printf("gpenlab %s\n", GPENLAB_VERSION);
        return 0;
    } else if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
        usage(stdout);
        return 0;
    } else {
        fprintf(stderr, "gpenlab: unknown command \"%s\"\n", cmd);
        usage(stderr);
        return 2;
    }
    if (rc < 0 || err.code)
        return fail(&err);
    return 0;
}
