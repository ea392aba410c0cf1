/* run_cmd.c: see run_cmd.h. */
#include "gpu/run_cmd.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gpu/gpu.h"
#include "gpu/gpu_cli.h"
#include "gpu/jpeg_io.h"
#include "gpu/ref/gpen_load.h"
#include "gpu/ref/gpen_model.h"
#include "gpu/ref/gpen_ref.h"
#include "gpu/ref/pipe_nets.h"
#include "gpu/ref/safetensors.h"
#include "base/fileio.h"

/* The input tensor `name` of `path` as floats, with its shape; ndim must match. */
static int read_input(const char *path, const char *name, int ndim, int64_t *shape, float **data,
                      gp_error *err)
{
    safetensors_file f;
    *data = NULL;
    if (safetensors_open(path, &f, err))
        return err->code;
    const safetensors_tensor *t = safetensors_find(&f, name);
    int rc = 0;
    if (!t)
        rc = gp_error_set(err, GP_EMISSING, path, 0, 0, name, "no such tensor");
    else if (t->ndim != ndim)
        rc = gp_error_set(err, GP_ERANGE, path, 0, 0, name, "expected %d dimensions, got %d", ndim,
                          t->ndim);
    if (!rc) {
        size_t n = safetensors_count(t);
        memcpy(shape, t->shape, sizeof(int64_t) * (size_t)ndim);
        *data = malloc((n ? n : 1) * sizeof(float));
        if (!*data)
            rc = gp_error_set(err, GP_ENOMEM, path, 0, 0, name, "out of memory");
        else if ((rc = safetensors_read_f32(&f, t, *data, n, err))) {
            free(*data);
            *data = NULL;
        }
    }
    safetensors_close(&f);
    return rc;
}

/* The command's options beyond the gpu_opts ones (0 in the GPEN fields: not given). */
typedef struct run_args {
    const char *in, *out, *tensor;
    bool cpu;
    int size, style_dim, n_mlp, channel_multiplier; /* GPEN's configuration, overriding */
    double narrow;
    int width_div, faces, quality;
} run_args;

/* What produced an output, as metadata pairs. */
typedef struct run_meta {
    char impl[96], weights[300], input[300];
} run_meta;

static int write_outputs(const char *path, int n, const safetensors_item *items, const run_meta *m,
                         gp_error *err)
{
    const char *meta[] = {"tool",    "gpenlab-gpu run", "implementation", m->impl,
                          "weights", m->weights,        "input",          m->input};
    return safetensors_write_f32(path, n, items, 4, meta, err);
}

static const char *precision_name(int p)
{
    return p == GPU_FP32 ? "fp32" : p == GPU_BF16 ? "bf16" : "fp16";
}

/* The GPU implementation's name for the metadata (opens nothing). */
static void gpu_impl(const gpu_opts *o, run_meta *m)
{
    snprintf(m->impl, sizeof(m->impl), "gpenlab CUDA %s (conv kernel %s)",
             precision_name(o->precision),
             o->conv_kernel == GPU_CONV_MMA     ? "mma"
             : o->conv_kernel == GPU_CONV_WGMMA ? "wgmma"
                                                : "auto");
}

/* GPEN's configuration: the published one, or the weights file's metadata, then flags. */
static int gpen_cfg(const run_args *a, const char *weights, gpen_config *cfg, gp_error *err)
{
    gpen_config_default(cfg);
    if (weights) {
        safetensors_file f;
        if (safetensors_open(weights, &f, err))
            return err->code;
        const char *v;
        if ((v = safetensors_meta(&f, "size")))
            cfg->size = atoi(v);
        if ((v = safetensors_meta(&f, "style_dim")))
            cfg->style_dim = atoi(v);
        if ((v = safetensors_meta(&f, "n_mlp")))
            cfg->n_mlp = atoi(v);
        if ((v = safetensors_meta(&f, "channel_multiplier")))
            cfg->channel_multiplier = atoi(v);
        if ((v = safetensors_meta(&f, "narrow")))
            cfg->narrow = atof(v);
        if ((v = safetensors_meta(&f, "lr_mlp")))
            cfg->lr_mlp = atof(v);
        safetensors_close(&f);
    }
    if (a->size)
        cfg->size = a->size;
    if (a->style_dim)
        cfg->style_dim = a->style_dim;
    if (a->n_mlp)
        cfg->n_mlp = a->n_mlp;
    if (a->channel_multiplier)
        cfg->channel_multiplier = a->channel_multiplier;
    if (a->narrow > 0)
        cfg->narrow = a->narrow;
    gpen_arch arch;
    return gpen_arch_build(cfg, &arch, err);
}

static int run_gpen(const run_args *a, const gpu_opts *base, run_meta *meta, gp_error *err)
{
    const char *in_path = a->in, *out_path = a->out, *tname = a->tensor;
    gpen_config cfg;
    if (gpen_cfg(a, base->weights_path, &cfg, err))
        return err->code;
    int64_t sh[4];
    float *in = NULL;
    if (read_input(in_path, tname, 4, sh, &in, err))
        return err->code;
    int B = (int)sh[0];
    if (B < 1 || B > 64 || sh[1] != 3 || sh[2] != cfg.size || sh[3] != cfg.size) {
        free(in);
        return gp_error_set(err, GP_ERANGE, in_path, 0, 0, tname,
                            "expected [B, 3, %d, %d] with B 1..64, got [%lld, %lld, %lld, %lld]",
                            cfg.size, cfg.size, (long long)sh[0], (long long)sh[1],
                            (long long)sh[2], (long long)sh[3]);
    }
    size_t n = (size_t)B * 3 * (size_t)cfg.size * (size_t)cfg.size;
    float *out = malloc(n * sizeof(float));
    int rc = out ? 0 : gp_error_set(err, GP_ENOMEM, NULL, 0, 0, "run", "out of memory");
    if (!rc && a->cpu) {
        gpen_model m;
        rc = base->weights_path ? gpen_model_load(&m, &cfg, base->weights_path, err)
                                : gpen_model_init_random(&m, &cfg, base->seed, err);
        if (!rc) {
            gpen_ref_opts ro = {GPEN_REF_F32_ACC64, GPEN_MODCONV_EXACT, NULL, NULL};
            rc = gpen_ref_forward(&m, in, B, &ro, out, err);
            gpen_model_free(&m);
        }
        snprintf(meta->impl, sizeof(meta->impl),
                 "gpenlab CPU reference (float storage, double accumulation)");
    } else if (!rc) {
        gpu_opts o = *base;
        o.gpen = cfg;
        o.max_batch = B;
        o.use_graphs = 0;
        gpu_ctx *c;
        rc = gpu_open(&o, &c, err);
        if (!rc) {
            rc = gpu_gpen_forward(c, in, B, out, err);
            gpu_close(c);
        }
        gpu_impl(&o, meta);
    }
    if (!rc) {
        safetensors_item it = {"out", 4, {B, 3, cfg.size, cfg.size}, out};
        rc = write_outputs(out_path, 1, &it, meta, err);
    }
    if (!rc)
        printf("run gpen: %d x %dx%d -> %s (%s)\n", B, cfg.size, cfg.size, out_path, meta->impl);
    free(in);
    free(out);
    return rc;
}

static int run_pipe_net(pipe_net_kind kind, const run_args *a, const gpu_opts *base, run_meta *meta,
                        gp_error *err)
{
    const int rf = kind == PIPE_RETINAFACE;
    const char *wpath = rf ? base->detector_weights_path : base->parser_weights_path;
    const char *in_path = a->in, *out_path = a->out, *tname = a->tensor;
    const int width_div = a->width_div, cpu = a->cpu;
    if (width_div != 1 && !cpu)
        return gp_error_set(err, GP_ENOTSUP, NULL, 0, 0, "--width-div",
                            "the GPU networks are full width: use --cpu");
    int64_t sh[4];
    float *in = NULL;
    if (read_input(in_path, tname, 4, sh, &in, err))
        return err->code;
    int B = (int)sh[0], H = (int)sh[2], W = (int)sh[3];
    int bad =
        rf ? (B != 1 || sh[1] != 3 || H < 32 || W < 32 || (size_t)H * (size_t)W > 1504u * 1504u)
           : (B < 1 || B > 64 || sh[1] != 3 || H != W || H < 32 || H > 512 || H % 16);
    if (bad) {
        free(in);
        return gp_error_set(err, GP_ERANGE, in_path, 0, 0, tname,
                            "%s: got [%lld, %lld, %lld, %lld]",
                            rf ? "expected [1, 3, H, W], H, W >= 32, at most 1504 x 1504 pixels"
                               : "expected [B, 3, S, S], B 1..64, S a multiple of 16 in 32..512",
                            (long long)sh[0], (long long)sh[1], (long long)sh[2], (long long)sh[3]);
    }
    size_t nl[3], total = 0;
    int lh[3], lw[3];
    for (int l = 0; l < 3; l++) {
        lh[l] = rf ? pipe_rf_level_size(H, l) : H;
        lw[l] = rf ? pipe_rf_level_size(W, l) : W;
        nl[l] = rf       ? (size_t)PIPE_RF_HEAD_CH * (size_t)lh[l] * (size_t)lw[l]
                : l == 0 ? (size_t)B * PIPE_PN_OUT_CH * (size_t)H * (size_t)W
                         : 0;
        total += nl[l];
    }
    float *buf = malloc(total * sizeof(float)), *outs[3];
    int rc = buf ? 0 : gp_error_set(err, GP_ENOMEM, NULL, 0, 0, "run", "out of memory");
    outs[0] = buf;
    outs[1] = buf + nl[0];
    outs[2] = outs[1] + nl[1];
    if (!rc && cpu) {
        pipe_net net;
        rc = pipe_net_open(kind, width_div, wpath, base->seed, &net, err);
        if (!rc) {
            rc = rf ? pipe_retinaface_forward(&net, in, 1, H, W, outs, err)
                    : pipe_parsenet_forward(&net, in, B, H, buf, err);
            pipe_net_free(&net);
        }
        snprintf(meta->impl, sizeof(meta->impl),
                 "gpenlab CPU reference (float storage, double accumulation%s)",
                 width_div > 1 ? ", narrowed" : "");
    } else if (!rc) {
        gpu_opts o = *base;
        o.pipeline = 1;
        o.max_batch = B;
        o.max_image_mp = 1;
        gpu_ctx *c;
        rc = gpu_open(&o, &c, err);
        if (!rc) {
            rc = rf ? gpu_retinaface_forward(c, in, H, W, outs, err)
                    : gpu_parsenet_forward(c, in, B, H, buf, err);
            gpu_close(c);
        }
        gpu_impl(&o, meta);
    }
    if (!rc) {
        safetensors_item it[3];
        int n = rf ? 3 : 1;
        for (int l = 0; l < n; l++) {
            static const char *const names[3] = {"level0", "level1", "level2"};
            it[l] = (safetensors_item){rf ? names[l] : "out",
                                       4,
                                       {B, rf ? PIPE_RF_HEAD_CH : PIPE_PN_OUT_CH, lh[l], lw[l]},
                                       outs[l]};
        }
        rc = write_outputs(out_path, n, it, meta, err);
    }
    if (!rc)
        printf("run %s: %d x %dx%d -> %s (%s)\n", pipe_net_kind_name(kind), B, H, W, out_path,
               meta->impl);
    free(in);
    free(buf);
    return rc;
}

static int run_pipeline(const run_args *a, const gpu_opts *base, gp_error *err)
{
    const char *in_path = a->in, *out_path = a->out;
    const int faces = a->faces, quality = a->quality;
    unsigned char *jpg = NULL, *out = NULL;
    size_t jl = 0;
    if (gp_read_file(in_path, (size_t)1 << 30, (char **)&jpg, &jl, err))
        return err->code;
    int w = 0, h = 0;
    unsigned char *rgb = NULL;
    int rc = jpeg_decode_rgb(jpg, jl, &w, &h, &rgb, NULL, 0, err); /* its size sizes the buffers */
    free(rgb);
    if (rc) {
        snprintf(err->file, sizeof(err->file), "%s", in_path);
        free(jpg);
        return rc;
    }
    gpu_opts o = *base;
    o.pipeline = 1;
    o.max_image_mp = (int)(((double)w * h + 999999) / 1000000);
    gpu_ctx *c;
    gpu_request rq = {jpg, jl, 0, 0, faces, quality};
    gpu_request_result res;
    if (!(rc = gpu_open(&o, &c, err))) {
        gpu_info info;
        rc = gpu_get_info(c, &info, err);
        if (!rc)
            rc = gpu_request_run(c, 0, &rq, &res, &out, err);
        if (!rc) {
            FILE *f = fopen(out_path, "wb");
            if (!f || fwrite(out, 1, res.out_jpeg_len, f) != res.out_jpeg_len)
                rc = gp_error_set(err, GP_EIO, out_path, 0, 0, NULL, "cannot write");
            if (f && fclose(f) && !rc)
                rc = gp_error_set(err, GP_EIO, out_path, 0, 0, NULL, "cannot write");
        }
        if (!rc) {
            printf("run pipeline: %dx%d, %d faces, -> %s (%zu bytes; %s): total %.2f ms (cold: "
                   "first request of a "
                   "fresh context)",
                   w, h, res.faces, out_path, res.out_jpeg_len, info.jpeg, res.total_ms);
            for (int s = 0; s < GPU_N_STAGES; s++)
                printf(" %s %.2f", gpu_stage_name(s), res.stage_ms[s]);
            printf("\n");
        }
        gpu_close(c);
    }
    free(out);
    free(jpg);
    return rc;
}

int cmd_run(int argc, char **argv)
{
    gpu_opts o;
    gpu_opts_default(&o);
    run_args a = {.tensor = "input", .width_div = 1, .faces = 1, .quality = 90};
    const char *what = NULL;
    const cli_opt opts[] = {
        {"--in", NULL, CLI_STR, &a.in, 0, 0, NULL},
        {"--out", NULL, CLI_STR, &a.out, 0, 0, NULL},
        {"--cpu", NULL, CLI_FLAG, &a.cpu, 0, 0, NULL},
        {"--tensor", NULL, CLI_STR, &a.tensor, 0, 0, NULL},
        {"--size", NULL, CLI_INT, &a.size, 1, 4096, NULL},
        {"--style-dim", NULL, CLI_INT, &a.style_dim, 1, 4096, NULL},
        {"--n-mlp", NULL, CLI_INT, &a.n_mlp, 1, 64, NULL},
        {"--channel-multiplier", NULL, CLI_INT, &a.channel_multiplier, 1, 64, NULL},
        {"--narrow", NULL, CLI_VALUE, &a.narrow, 0, 0, cli_positive},
        {"--width-div", NULL, CLI_INT, &a.width_div, 1, 64, NULL},
        {"--faces", NULL, CLI_INT, &a.faces, 0, GPU_MAX_FACES, NULL},
        {"--quality", NULL, CLI_INT, &a.quality, 1, 100, NULL},
        {NULL, NULL, 0, NULL, 0, 0, NULL},
    };
    int prc = gpu_cli_parse(argc, argv, "run", opts, &o, &what, 1);
    if (prc)
        return prc == 1 ? 0 : prc;
    if (!what) {
        fprintf(stderr, "usage: gpenlab-gpu run gpen|retinaface|parsenet|pipeline --in FILE --out "
                        "FILE [options]\n");
        return 2;
    }
    if (!a.in || !a.out) {
        fprintf(stderr, "gpenlab-gpu run %s: --in and --out are required\n", what);
        return 2;
    }
    run_meta meta;
    snprintf(meta.input, sizeof(meta.input), "%s", a.in);
    gp_error err;
    gp_error_clear(&err);
    int rc;
    if (strcmp(what, "gpen") == 0) {
        snprintf(meta.weights, sizeof(meta.weights), "%s",
                 o.weights_path ? o.weights_path : "deterministic random, seed 20211");
        rc = run_gpen(&a, &o, &meta, &err);
    } else if (strcmp(what, "retinaface") == 0 || strcmp(what, "parsenet") == 0) {
        pipe_net_kind k = what[0] == 'r' ? PIPE_RETINAFACE : PIPE_PARSENET;
        const char *w = k == PIPE_RETINAFACE ? o.detector_weights_path : o.parser_weights_path;
        snprintf(meta.weights, sizeof(meta.weights), "%s",
                 w ? w : "deterministic random, seed 20211");
        rc = run_pipe_net(k, &a, &o, &meta, &err);
    } else if (strcmp(what, "pipeline") == 0) {
        if (a.cpu) {
            fprintf(stderr, "gpenlab-gpu run pipeline: the whole pipeline has no CPU path (--cpu "
                            "runs one network)\n");
            return 2;
        }
        rc = run_pipeline(&a, &o, &err);
    } else {
        fprintf(stderr,
                "gpenlab-gpu run: unknown network \"%s\" (gpen, retinaface, parsenet, pipeline)\n",
                what);
        return 2;
    }
    return rc ? cli_die(&err) : 0;
}
