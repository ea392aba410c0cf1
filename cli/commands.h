/* commands.h: the gpenlab commands, one file each (cli/cmd_*.c). Each gets the arguments
 * after the program's name (argv[0] is the command's word: "run", "sweep", ...), reads
 * them with the one option parser (base/opts.h), calls the library with an option struct,
 * prints results to `out` and returns 0 or a negative GP_E* code with err filled. Only
 * main.c prints the error (one line) and picks the exit code; only this layer sees argv. */
#ifndef GP_CLI_COMMANDS_H
#define GP_CLI_COMMANDS_H

#include <stddef.h>
#include <stdio.h>

#include "base/error.h"

/* `gpenlab run`; self is the program's argv[0] (the export command it prints after the
 * winner starts with it). */
int cmd_run(const char *self, int argc, char **argv, FILE *out, gp_error *err);
int cmd_sweep(int argc, char **argv, FILE *out, gp_error *err);
int cmd_reproduce(int argc, char **argv, FILE *out, gp_error *err);
int cmd_report(int argc, char **argv, FILE *out, gp_error *err);
int cmd_regress(int argc, char **argv, FILE *out, gp_error *err);
/* `gpenlab export ...` and `gpenlab export --import DIR` */
int cmd_export(int argc, char **argv, FILE *out, gp_error *err);
int cmd_drive(int argc, char **argv, FILE *out, gp_error *err);
/* `gpenlab policy list | replay ...`; cmd_policy_replay is `replay` alone (argv[0] is
 * "replay"). */
int cmd_policy(int argc, char **argv, FILE *out, gp_error *err);
int cmd_policy_replay(int argc, char **argv, FILE *out, gp_error *err);
/* `gpenlab profile check | derive | measure`; self is the program's argv[0] (measure
 * looks for gpenlab-gpu beside it). */
int cmd_profile(const char *self, int argc, char **argv, FILE *out, gp_error *err);

/* `gpenlab trace stats FILE [options]` (argv[0] is "stats"; "help" or nothing prints the
 * usage): span, count, mean and peak rates, CVs and the hour-of-day profile to `out`;
 * warnings go to `out` too, as "warning: ..." lines. --plot runs gnuplot (on PATH). */
int cmd_trace(int argc, char **argv, FILE *out, gp_error *err);
/* Index of the column that looks like an arrival time (gmt_create, TIMESTAMP,
 * timestamp, window_start_s, time, t, ..., then any name containing "time"), or -1. */
int trace_guess_time_col(const char *const *names, size_t n);

#endif
