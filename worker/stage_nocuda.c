/* stage_nocuda.c: the CUDA backend of stage.h in a build without CUDA: none available. */
#include "worker/stage.h"

int stage_cuda_available(int device)
{
    (void)device;
    return 0;
}

int stage_cuda_open(const stage_opts *o, stage_cuda **out, char *device_name, size_t name_len,
                    gp_error *err)
{
    (void)o;
    (void)device_name;
    (void)name_len;
    *out = NULL;
    return gp_error_set(err, GP_ENOTSUP, NULL, 0, 0, "stage",
                        "this worker was built without CUDA "
                        "(make gpenlab-worker-gpu)");
}

void stage_cuda_close(stage_cuda *c) { (void)c; }

int stage_cuda_run(stage_cuda *c, int slot, int width, int height, int faces, stage_result *res,
                   gp_error *err)
{
    (void)c, (void)slot, (void)width, (void)height, (void)faces, (void)res;
    return gp_error_set(err, GP_ENOTSUP, NULL, 0, 0, "stage", "built without CUDA");
}

void stage_cuda_mem(stage_cuda *c, double *used_mib, double *total_mib)
{
    (void)c;
    *used_mib = *total_mib = 0;
}
