/* gpu_common.c: the parts of gpu.h that need no CUDA (shared by gpu_cuda.cu and
 * gpu_none.c builds). */
#include "gpu.h"

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
}

const char *gpu_stage_name(int stage)
{
    static const char *const names[GPU_N_STAGES] = {"decode", "detect", "align", "gpen",
                                                     "parse",  "paste",  "blend", "encode"};
    return stage >= 0 && stage < GPU_N_STAGES ? names[stage] : "?";
}
