/* usage.h: the command line's usage text, one block per command, kept in one table so
 * that `gpenlab help` (every block) and `gpenlab CMD --help` (its block) never differ.
 * cli_usage returns the block of `command` ("run", "sweep", ..., "profile", "trace"), or
 * NULL for a word that is no command. */
#ifndef GP_CLI_USAGE_H
#define GP_CLI_USAGE_H

#include <stdio.h>

const char *cli_usage(const char *command);
/* The program's whole usage: its one-line purpose, then every block in order. */
void cli_usage_all(FILE *out, const char *version);

/* Whether a command's first word asks for its help: "help", "--help" or "-h". */
int cli_is_help(const char *word);

#endif
