/* main.c: the gpenlab program. It picks the command (cli/commands.h, one file each) and
 * is the only place that prints errors and exits: every command returns a GP_E* code and a
 * gp_error, printed here as one line "gpenlab: FILE:LINE:COL: FIELD: message". */
#include <stdio.h>
#include <string.h>

#include "base/common.h"
#include "base/error.h"
#include "cli/commands.h"
#include "cli/usage.h"

static void usage(FILE *f) { cli_usage_all(f, GPENLAB_VERSION); }

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
    {"policy", cmd_policy},       {"export", cmd_export},   {"drive", cmd_drive},
    {"report", cmd_report},       {"regress", cmd_regress}, {"sweep", cmd_sweep},
    {"reproduce", cmd_reproduce},
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
                       : gp_error_set(&err, GP_EPARSE, NULL, 0, 0, NULL,
                                      "usage: gpenlab trace stats FILE");
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
