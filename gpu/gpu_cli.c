/* gpu_cli.c: see gpu_cli.h. */
#include "gpu/gpu_cli.h"

#include <stdio.h>
#include <string.h>

const char *cli_value(int argc, char **argv, const char *key, const char *def)
{
    for (int i = 0; i + 1 < argc; i++)
        if (strcmp(argv[i], key) == 0)
            return argv[i + 1];
    return def;
}

int cli_flag(int argc, char **argv, const char *key)
{
    for (int i = 0; i < argc; i++)
        if (strcmp(argv[i], key) == 0)
            return 1;
    return 0;
}

static int in_list(const char *s, const char *const *list)
{
    for (int i = 0; list && list[i]; i++)
        if (strcmp(s, list[i]) == 0)
            return 1;
    return 0;
}

int cli_check(int argc, char **argv, const char *cmd, const char *const *with_value, const char *const *flags)
{
    for (int i = 1; i < argc; i++) {
        if (strncmp(argv[i], "--", 2) != 0) {
            fprintf(stderr, "gpenlab-gpu %s: unexpected argument \"%s\"\n", cmd, argv[i]);
            return 2;
        }
        if (in_list(argv[i], flags))
            continue;
        if (!in_list(argv[i], with_value)) {
            fprintf(stderr, "gpenlab-gpu %s: unknown option \"%s\"\n", cmd, argv[i]);
            return 2;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "gpenlab-gpu %s: option \"%s\" needs a value\n", cmd, argv[i]);
            return 2;
        }
        i++;
    }
    return 0;
}

int cli_die(const gp_error *err)
{
    char buf[1024];
    gp_error_format(err, buf, sizeof(buf));
    fprintf(stderr, "gpenlab-gpu: %s\n", buf);
    return 1;
}

int cli_precision_parse(const char *s)
{
    if (!s)
        return -1;
    if (strcmp(s, "fp32") == 0)
        return GPU_FP32;
    if (strcmp(s, "fp16") == 0)
        return GPU_FP16;
    if (strcmp(s, "bf16") == 0)
        return GPU_BF16;
    return -1;
}

int cli_gpu_opts(int argc, char **argv, const char *cmd, gpu_opts *o)
{
    o->weights_path = cli_value(argc, argv, "--weights", o->weights_path);
    o->detector_weights_path = cli_value(argc, argv, "--detector-weights", o->detector_weights_path);
    o->parser_weights_path = cli_value(argc, argv, "--parser-weights", o->parser_weights_path);
    const char *v = cli_value(argc, argv, "--jpeg", NULL);
    if (v) {
        int j = gpu_jpeg_path_parse(v);
        if (j < 0) {
            fprintf(stderr, "gpenlab-gpu %s: --jpeg: expected auto, host or nvjpeg, got \"%s\"\n", cmd, v);
            return 2;
        }
        o->jpeg = j;
    }
    v = cli_value(argc, argv, "--conv", NULL);
    if (v) {
        int k = gpu_conv_kernel_parse(v);
        if (k < 0) {
            fprintf(stderr, "gpenlab-gpu %s: --conv: expected auto, mma or wgmma, got \"%s\"\n", cmd, v);
            return 2;
        }
        o->conv_kernel = k;
    }
    v = cli_value(argc, argv, "--precision", NULL);
    if (v) {
        int p = cli_precision_parse(v);
        if (p < 0) {
            fprintf(stderr, "gpenlab-gpu %s: --precision: expected fp32, fp16 or bf16, got \"%s\"\n", cmd, v);
            return 2;
        }
        o->precision = p;
    }
    return 0;
}
