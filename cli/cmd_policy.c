/* cmd_policy.c: `gpenlab policy list` (the registered policies) and `gpenlab policy replay
 * POLICY METRICS.csv [--config FILE.yaml] [--min N] [--max N]` (policy_replay_run). */
#include <string.h>

#include "base/textparse.h"
#include "cli/commands.h"
#include "base/opts.h"
#include "cli/usage.h"
#include "policy/policy.h"
#include "policy/replay.h"

#define REPLAY_USAGE                                                                  \
    "usage: gpenlab policy replay POLICY METRICS.csv [--config FILE.yaml] [--min N] " \
    "[--max N]"

static int parse_pods(const char *name, const char *v, void *out, gp_error *err)
{
    long n;
    if (textparse_count(v, 1000000, &n) < 0)
        return gp_error_set(err, GP_EPARSE, NULL, 0, 0, name,
                            "expected a whole number >= 0 after %s", name);
    *(int *)out = (int)n;
    return 0;
}

static int unexpected(const char *const *pos, const char *arg, gp_error *err)
{
    (void)pos;
    return gp_error_set(err, GP_EPARSE, NULL, 0, 0, NULL, "unexpected argument \"%s\"; %s", arg,
                        REPLAY_USAGE);
}

int cmd_policy_replay(int argc, char **argv, FILE *out, gp_error *err)
{
    policy_replay_opts o;
    policy_replay_opts_default(&o);
    const char *pos[2] = {NULL, NULL};
    const cli_opt opts[] = {
        {"--config", NULL, CLI_STR, &o.config, 0, 0, NULL},
        {"--min", NULL, CLI_VALUE, &o.min_pods, 0, 0, parse_pods},
        {"--max", NULL, CLI_VALUE, &o.max_pods, 0, 0, parse_pods},
        {NULL, NULL, 0, NULL, 0, 0, NULL},
    };
    const cli_spec spec = {.opts = opts,
                           .pos = pos,
                           .n_pos = 2,
                           .unknown = "unknown option; " REPLAY_USAGE,
                           .extra_fn = unexpected,
                           .help = REPLAY_USAGE "\n"};
    int rc = cli_parse(argc, argv, &spec, out, err);
    if (rc != 0)
        return rc < 0 ? rc : 0;
    o.policy = pos[0];
    o.csv = pos[1];
    if (!o.policy || !o.csv)
        return gp_error_set(err, GP_EMISSING, NULL, 0, 0, NULL, "%s", REPLAY_USAGE);
    if (o.min_pods > o.max_pods)
        return gp_error_set(err, GP_ERANGE, NULL, 0, 0, "--min", "--min %d is above --max %d",
                            o.min_pods, o.max_pods);
    return policy_replay_run(&o, out, err);
}

int cmd_policy(int argc, char **argv, FILE *out, gp_error *err)
{
    if (argc >= 2 && strcmp(argv[1], "list") == 0) {
        const policy_ops *const *all = policy_all();
        for (size_t i = 0; all[i]; i++)
            fprintf(out, "%-12s %s\n", all[i]->name, all[i]->summary);
        return 0;
    }
    if (argc >= 2 && strcmp(argv[1], "replay") == 0)
        return cmd_policy_replay(argc - 1, argv + 1, out, err);
    if (argc >= 2 && cli_is_help(argv[1])) {
        fputs(cli_usage("policy"), out);
        return 0;
    }
    return gp_error_set(err, GP_EPARSE, NULL, 0, 0, NULL,
                        "usage: gpenlab policy replay POLICY METRICS.csv | gpenlab policy list");
}
