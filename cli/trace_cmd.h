/* trace_cmd.h: the `gpenlab trace ...` subcommands, as library calls main() can make.
 *   gpenlab trace stats FILE [--time-col C] [--time-unit auto|iso|s|ms|us] [--mp-col C]
 *       [--faces-col C] [--envelope] [--rate-col C] [--rate-per-window] [--cv-col C]
 *       [--client-col C] [--filter-col C --filter-value V] [--gap-col C] [--window S]
 *       [--start T] [--end T] [--time-scale X] [--rate-scale X] [--seed N] [--replay]
 *       [--plot FILE.png]
 * prints span, count, mean and peak rates, CVs and the hour-of-day profile to `out`;
 * warnings go to `out` too, as "warning: ..." lines. On error it returns < 0 with `err`
 * filled and prints nothing more: the caller prints `err` (one line) and exits non-zero.
 * --plot runs gnuplot (found on PATH). */
#ifndef GP_TRACE_CMD_H
#define GP_TRACE_CMD_H

#include <stddef.h>
#include <stdio.h>

#include "base/error.h"
#include "traces/trace.h"

/* argv[0] is the subcommand ("stats"); "help" or no argument prints the usage. */
int trace_cmd_main(int argc, char **argv, FILE *out, gp_error *err);

/* Index of the column that looks like an arrival time (gmt_create, TIMESTAMP,
 * timestamp, window_start_s, time, t, ..., then any name containing "time"), or -1. */
int trace_guess_time_col(const char *const *names, size_t n);

#endif
