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

/* --key VALUE through parse into *dst where given; 0, or 2 with a message naming the choices. */
static int parsed_opt(int argc, char **argv, const char *cmd, const char *key, int (*parse)(const char *),
                      const char *choices, int *dst)
{
    const char *v = cli_value(argc, argv, key, NULL);
    if (!v)
        return 0;
    int k = parse(v);
    if (k < 0) {
        fprintf(stderr, "gpenlab-gpu %s: %s: expected %s, got \"%s\"\n", cmd, key, choices, v);
        return 2;
    }
    *dst = k;
    return 0;
}

int cli_gpu_opts(int argc, char **argv, const char *cmd, gpu_opts *o)
{
    o->weights_path = cli_value(argc, argv, "--weights", o->weights_path);
    o->detector_weights_path = cli_value(argc, argv, "--detector-weights", o->detector_weights_path);
    o->parser_weights_path = cli_value(argc, argv, "--parser-weights", o->parser_weights_path);
    int prec = (int)o->precision;
    int rc = parsed_opt(argc, argv, cmd, "--jpeg", gpu_jpeg_path_parse, "auto, host or nvjpeg", &o->jpeg);
    if (!rc)
        rc = parsed_opt(argc, argv, cmd, "--conv", gpu_conv_kernel_parse, "auto, mma or wgmma", &o->conv_kernel);
    if (!rc)
        rc = parsed_opt(argc, argv, cmd, "--precision", cli_precision_parse, "fp32, fp16 or bf16", &prec);
    o->precision = (gpu_precision)prec;
    return rc;
}
