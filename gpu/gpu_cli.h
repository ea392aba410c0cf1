/* gpu_cli.h: the command line of gpenlab-gpu, which its commands share: their options go
 * through the one option parser (base/opts.h), with the options that set a gpu_opts
 * (weights, JPEG path, conv kernel, precision) as a table every device command takes; the
 * usage, one line per command; the one-line error report. Only the program's commands call
 * these (they print). */
#ifndef GP_GPU_CLI_H
#define GP_GPU_CLI_H

#include <stddef.h>

#include "base/opts.h"
#include "gpu/gpu.h"

/* Parses argv (argv[0] is the command's word) through opts and, unless o is NULL, the
 * gpu_opts options into o: --weights, --detector-weights, --parser-weights FILE,
 * --jpeg auto|host|nvjpeg, --conv auto|mma|wgmma, --precision fp32|fp16|bf16. Positional
 * arguments fill pos[0..n_pos). cmd names the command as printed ("run", "profile
 * derive"). Returns 0; 1 when -h/--help printed the command's usage on stdout (exit 0); or
 * 2 with one line "gpenlab-gpu CMD: ..." on stderr naming the option. */
int gpu_cli_parse(int argc, char **argv, const char *cmd, const cli_opt *opts, gpu_opts *o,
                  const char **pos, size_t n_pos);
/* The usage of cmd ("selftest", ..., "profile derive"), or of every command for NULL or an
 * unknown one. */
const char *gpu_cli_usage(const char *cmd);
/* Prints "gpenlab-gpu: <error>" on stderr; returns 1. */
int cli_die(const gp_error *err);

#endif
