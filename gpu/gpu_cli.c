/* gpu_cli.c: see gpu_cli.h. */
#include "gpu/gpu_cli.h"

#include <stdio.h>
#include <string.h>

static const struct {
    const char *cmd, *usage;
} USAGE[] = {
    {"selftest", "usage: gpenlab-gpu selftest [--ref FILE [--gpen-only]] [GPU options]\n"},
    {"bench",
     "usage: gpenlab-gpu bench [--torch FILE] [--out FILE] [--reps N] [--batch N | --max-batch N]\n"
     "           [--only fp16|bf16|fp16-mma|fp32] [GPU options]\n"},
    {"run",
     "usage: gpenlab-gpu run gpen|retinaface|parsenet|pipeline --in FILE --out FILE [--cpu]\n"
     "           [--tensor NAME] [--size N] [--style-dim N] [--n-mlp N] [--channel-multiplier N]\n"
     "           [--narrow F] [--width-div N] [--faces N] [--quality Q] [GPU options]\n"},
    {"convcheck", "usage: gpenlab-gpu convcheck [--tiles]\n"},
    {"profile", "usage: gpenlab-gpu profile [--out FILE] [--reps 1..16] [--quick] [--procs 0..16]\n"
                "           [--cmd TEXT] [--commit SHA] [GPU options]\n"},
    {"profile derive",
     "usage: gpenlab-gpu profile derive [--in FILE] [--from CARD] [--to t4,l4,a10,a100]\n"
     "           [--outdir DIR]\n"},
};

#define GPU_OPTIONS_USAGE                                                            \
    "GPU options: --weights FILE, --detector-weights FILE, --parser-weights FILE,\n" \
    "           --jpeg auto|host|nvjpeg, --conv auto|mma|wgmma, --precision fp32|fp16|bf16\n"

const char *gpu_cli_usage(const char *cmd)
{
    static char all[2048];
    for (size_t i = 0; cmd && i < sizeof(USAGE) / sizeof(USAGE[0]); i++)
        if (strcmp(cmd, USAGE[i].cmd) == 0)
            return USAGE[i].usage;
    size_t n = 0;
    for (size_t i = 0; i < sizeof(USAGE) / sizeof(USAGE[0]) && n < sizeof(all); i++)
        n += (size_t)snprintf(all + n, sizeof(all) - n, "%s", USAGE[i].usage);
    if (n < sizeof(all))
        snprintf(all + n, sizeof(all) - n, "%s", GPU_OPTIONS_USAGE);
    return all;
}

int cli_die(const gp_error *err) { return cli_report(stderr, "gpenlab-gpu", err, 1); }

/* A word of a fixed set through parse (-1: none of them) into an int. */
static int read_choice(const char *name, const char *v, int (*parse)(const char *),
                       const char *choices, int *out, gp_error *err)
{
    int k = parse(v);
    if (k < 0)
        return gp_error_set(err, GP_EPARSE, NULL, 0, 0, name, "expected %s, got \"%s\"", choices,
                            v);
    *out = k;
    return 0;
}

static int read_jpeg(const char *name, const char *v, void *out, gp_error *err)
{
    return read_choice(name, v, gpu_jpeg_path_parse, "auto, host or nvjpeg", out, err);
}

static int read_conv(const char *name, const char *v, void *out, gp_error *err)
{
    return read_choice(name, v, gpu_conv_kernel_parse, "auto, mma or wgmma", out, err);
}

static int precision_parse(const char *s)
{
    return strcmp(s, "fp32") == 0   ? GPU_FP32
           : strcmp(s, "fp16") == 0 ? GPU_FP16
           : strcmp(s, "bf16") == 0 ? GPU_BF16
                                    : -1;
}

static int read_precision(const char *name, const char *v, void *out, gp_error *err)
{
    int k;
    int rc = read_choice(name, v, precision_parse, "fp32, fp16 or bf16", &k, err);
    if (rc == 0)
        *(gpu_precision *)out = (gpu_precision)k;
    return rc;
}

int gpu_cli_parse(int argc, char **argv, const char *cmd, const cli_opt *opts, gpu_opts *o,
                  const char **pos, size_t n_pos)
{
    const cli_opt shared[] = {
        {"--weights", NULL, CLI_STR, o ? &o->weights_path : NULL, 0, 0, NULL},
        {"--detector-weights", NULL, CLI_STR, o ? &o->detector_weights_path : NULL, 0, 0, NULL},
        {"--parser-weights", NULL, CLI_STR, o ? &o->parser_weights_path : NULL, 0, 0, NULL},
        {"--jpeg", NULL, CLI_VALUE, o ? &o->jpeg : NULL, 0, 0, read_jpeg},
        {"--conv", NULL, CLI_VALUE, o ? &o->conv_kernel : NULL, 0, 0, read_conv},
        {"--precision", NULL, CLI_VALUE, o ? &o->precision : NULL, 0, 0, read_precision},
        {NULL, NULL, 0, NULL, 0, 0, NULL},
    };
    char help[1024];
    snprintf(help, sizeof(help), "%s%s", gpu_cli_usage(cmd), o ? GPU_OPTIONS_USAGE : "");
    const cli_spec spec = {.opts = opts,
                           .shared = o ? shared : NULL,
                           .pos = pos,
                           .n_pos = n_pos,
                           .unknown = CLI_UNKNOWN_OPTION,
                           .too_many = CLI_UNEXPECTED_ARGUMENT,
                           .help = help};
    gp_error err;
    gp_error_clear(&err);
    int rc = cli_parse(argc, argv, &spec, stdout, &err);
    if (rc >= 0)
        return rc;
    char prog[64];
    snprintf(prog, sizeof(prog), "gpenlab-gpu %s", cmd);
    return cli_report(stderr, prog, &err, 2);
}
