/* usage.c: one block of usage text per command (see usage.h). */
#include "cli/usage.h"

#include <string.h>

typedef struct usage_block {
    const char *command;
    const char *text;
} usage_block;

static const usage_block blocks[] = {
    {"run", "  gpenlab run FILE.yaml [--db PATH] [--csv PATH] [--replications N] [--seed N]\n"
            "                        [--requests] [--quiet] [-j N]\n"
            "      run an experiment: every policy x replication, a comparison table with 95%\n"
            "      confidence intervals, every run in SQLite (reruns resume), optional CSV;\n"
            "      -j N: on N processes, the same database as without\n"},
    {"trace", "  gpenlab trace stats FILE [--time-col C] [--plot OUT.png] ...\n"
              "      span, count, mean/peak rate, CV and hour-of-day profile of a trace\n"
              "      (gpenlab trace help: every option)\n"},
    {"policy", "  gpenlab policy replay POLICY METRICS.csv [--config FILE.yaml]\n"
               "      feed recorded observations to a policy; print each decision and why\n"
               "  gpenlab policy list\n"},
    {"profile",
     "  gpenlab profile check FILE      parse a GPU profile and print what it implies\n"
     "  gpenlab profile measure [...]   measure this machine's GPU (runs gpenlab-gpu profile)\n"
     "  gpenlab profile derive --in MEASURED --from CARD [--to t4,l4,a10,a100] [--outdir D]\n"
     "      profiles for other cards, scaled by datasheet compute and bandwidth: derived\n"},
    {"export",
     "  gpenlab export --from DB|FILE.yaml [--policy LABEL | --point N] [--out DIR]\n"
     "                 [--name APP] [--namespace NS] [--image IMAGE] [--prometheus URL]\n"
     "                 [--redis HOST:PORT] [--cloud gke|eks] | --import DIR\n"
     "      Kubernetes manifests for the winner stored in DB (or the policy or sweep point\n"
     "      chosen; --label is --policy): Deployment, HPA, ScaledObject, Knative, driver\n"
     "      config; a mixed fleet: a Deployment and autoscaler per pool with the node\n"
     "      labels of its card and capacity (GKE's or EKS's: --cloud)\n"},
    {"drive",
     "  gpenlab drive CONFIG|MANIFEST|DIR [--dry-run] [--once | --ticks N] [--metrics F.csv]\n"
     "                [--prometheus URL] [--redis HOST:PORT]\n"
     "      run a policy against live Prometheus/Redis metrics and the scale subresource\n"
     "      (any exported manifest; --dry-run needs no cluster; --metrics replays a CSV)\n"},
    {"reproduce",
     "  gpenlab reproduce [--dir EXPERIMENTS] [--db PATH] [--profile FILE] [--replications N]\n"
     "                    [--html OUT.html [--assets DIR] [--title T]]\n"
     "      rerun the seed article's two tables; article vs gpenlab (95% CI) per row\n"},
    {"report", "  gpenlab report DB [-o OUT.html] [--assets DIR] [--title T]\n"
               "      one self-contained HTML page: tables and gnuplot pictures (inline SVG)\n"},
    {"regress",
     "  gpenlab regress [--dir experiments/baselines] [--update] [--junit FILE.xml]\n"
     "      canonical experiments against their baselines; fails when P99, SLO or GPU-h\n"
     "      got worse beyond the replication noise (paired); --update rewrites them\n"},
    {"sweep",
     "  gpenlab sweep FILE.yaml [-j N] [--db PATH] [--csv PATH] [--plot PREFIX] [--report-only]\n"
     "      grid or Latin-hypercube sweep, paired replications, resumable; the winner\n"
     "      with its paired CI and the Pareto front (mpirun -np N gpenlab-mpi sweep ...)\n"},
    {"version", "  gpenlab version | help\n"},
};

const char *cli_usage(const char *command)
{
    for (size_t i = 0; i < sizeof(blocks) / sizeof(blocks[0]); i++)
        if (strcmp(blocks[i].command, command) == 0)
            return blocks[i].text;
    return NULL;
}

void cli_usage_all(FILE *out, const char *version)
{
    fprintf(
        out,
        "gpenlab %s: which autoscaling policy, with which settings, for a GPU inference service\n"
        "\nusage:\n",
        version);
    for (size_t i = 0; i < sizeof(blocks) / sizeof(blocks[0]); i++)
        fputs(blocks[i].text, out);
}

int cli_is_help(const char *word)
{
    return word &&
           (strcmp(word, "help") == 0 || strcmp(word, "--help") == 0 || strcmp(word, "-h") == 0);
}
