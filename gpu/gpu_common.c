/* gpu_common.c: the parts of gpu.h that need no CUDA (shared by gpu_cuda.cu and
 * gpu_none.c builds). */
#include "gpu/gpu.h"

#include <string.h>

void gpu_opts_default(gpu_opts *o)
{
    *o = (gpu_opts){0};
    o->precision = GPU_FP16;
    o->max_batch = 8;
    o->seed = GPEN_DEFAULT_SEED;
    gpen_config_default(&o->gpen);
    o->use_graphs = 1;
    o->n_slots = 1;
    o->max_image_mp = 24;
    o->jpeg = GPU_JPEG_AUTO;
    o->max_requests = 1;
}

const char *gpu_stage_name(int stage)
{
    static const char *const names[GPU_N_STAGES] = {"decode", "detect", "align", "gpen",
                                                    "parse",  "paste",  "blend", "encode"};
    return stage >= 0 && stage < GPU_N_STAGES ? names[stage] : "?";
}

int gpu_conv_kernel_parse(const char *s)
{
    if (!s)
        return -1;
    if (strcmp(s, "auto") == 0)
        return GPU_CONV_AUTO;
    if (strcmp(s, "mma") == 0)
        return GPU_CONV_MMA;
    if (strcmp(s, "wgmma") == 0)
        return GPU_CONV_WGMMA;
    return -1;
}

int gpu_jpeg_path_parse(const char *s)
{
    if (!s)
        return -1;
    if (strcmp(s, "auto") == 0)
        return GPU_JPEG_AUTO;
    if (strcmp(s, "host") == 0)
        return GPU_JPEG_HOST;
    if (strcmp(s, "nvjpeg") == 0)
        return GPU_JPEG_NVJPEG;
    return -1;
}
