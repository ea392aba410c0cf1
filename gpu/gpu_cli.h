/* gpu_cli.h: the command-line pieces gpenlab-gpu's commands share: options by name, a
 * check that every option is one the command knows, the options that set a gpu_opts
 * (weights, JPEG path, conv kernel, precision), and the one-line error report. Only the
 * program's commands call these (they print). */
#ifndef GP_GPU_CLI_H
#define GP_GPU_CLI_H

#include "gpu/gpu.h"

/* The value after `key` in argv, or def. */
const char *cli_value(int argc, char **argv, const char *key, const char *def);
/* Whether `key` is in argv. */
int cli_flag(int argc, char **argv, const char *key);
/* 0 when every "--option" of argv[1..] is one of with_value (followed by a value) or flags
 * (both NULL-terminated); else 2, with one line on stderr naming the command and option. */
int cli_check(int argc, char **argv, const char *cmd, const char *const *with_value, const char *const *flags);
/* Prints "gpenlab-gpu: <error>" on stderr; returns 1. */
int cli_die(const gp_error *err);
/* The options of cli_gpu_opts, for cli_check lists. */
#define CLI_GPU_OPTS "--weights", "--detector-weights", "--parser-weights", "--jpeg", "--conv", "--precision"
/* Sets o's weights_path, detector_weights_path, parser_weights_path, jpeg, conv_kernel and
 * precision from --weights, --detector-weights, --parser-weights, --jpeg auto|host|nvjpeg,
 * --conv auto|mma|wgmma and --precision fp32|fp16|bf16 where given; 0, or 2 with a message. */
int cli_gpu_opts(int argc, char **argv, const char *cmd, gpu_opts *o);
/* "fp32", "fp16", "bf16" -> GPU_*; -1 otherwise. */
int cli_precision_parse(const char *s);

#endif
