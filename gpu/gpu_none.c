/* gpu_none.c: the gpu.h API when gpenlab is built without CUDA: every call fails with
 * GP_ENOTSUP, so callers and tests need no #ifdefs (SQLite's OMIT stubs). */
#include "gpu/gpu.h"

static int none(gp_error *err)
{
    return gp_error_set(err, GP_ENOTSUP, NULL, 0, 0, "gpu", "built without CUDA");
}

int gpu_device_count(void) { return 0; }
int gpu_open(const gpu_opts *o, gpu_ctx **out, gp_error *err)
{
    (void)o;
    *out = NULL;
    return none(err);
}
void gpu_close(gpu_ctx *c) { (void)c; }
int gpu_get_info(gpu_ctx *c, gpu_info *info, gp_error *err)
{
    (void)c;
    (void)info;
    return none(err);
}
int gpu_gpen_forward(gpu_ctx *c, const float *in, int batch, float *out, gp_error *err)
{
    (void)c, (void)in, (void)batch, (void)out;
    return none(err);
}
int gpu_gpen_tap(gpu_ctx *c, const char *name, int batch, float *dst, size_t n, gp_error *err)
{
    (void)c, (void)name, (void)batch, (void)dst, (void)n;
    return none(err);
}
int gpu_gpen_time(gpu_ctx *c, int batch, int reps, double *median_ms, double *sd_ms, gp_error *err)
{
    (void)c, (void)batch, (void)reps, (void)median_ms, (void)sd_ms;
    return none(err);
}
int gpu_parse_time(gpu_ctx *c, int batch, int reps, double *median_ms, double *sd_ms, gp_error *err)
{
    (void)c, (void)batch, (void)reps, (void)median_ms, (void)sd_ms;
    return none(err);
}
int gpu_retinaface_forward(gpu_ctx *c, const float *in, int h, int w, float *heads[3],
                           gp_error *err)
{
    (void)c, (void)in, (void)h, (void)w, (void)heads;
    return none(err);
}
int gpu_parsenet_forward(gpu_ctx *c, const float *in, int batch, int size, float *out,
                         gp_error *err)
{
    (void)c, (void)in, (void)batch, (void)size, (void)out;
    return none(err);
}
int gpu_matmul_peak(gpu_ctx *c, double *core_tflops, double *cublas_tflops, gp_error *err)
{
    (void)c, (void)core_tflops, (void)cublas_tflops;
    return none(err);
}
int gpu_conv_kernel_check(gpu_ctx *c, double *worst_rel, int *n_cases, gp_error *err)
{
    (void)c, (void)worst_rel, (void)n_cases;
    return none(err);
}
int gpu_conv_tile_bench(gpu_ctx *c, FILE *f, gp_error *err)
{
    (void)c, (void)f;
    return none(err);
}
int gpu_request_run(gpu_ctx *c, int slot, const gpu_request *rq, gpu_request_result *res,
                    unsigned char **out_jpeg, gp_error *err)
{
    (void)c, (void)slot, (void)rq, (void)res, (void)out_jpeg;
    return none(err);
}
int gpu_requests_run(gpu_ctx *c, int slot, int n, const gpu_request *rq, gpu_request_result *res,
                     unsigned char **out_jpeg, gp_error *err)
{
    (void)c, (void)slot, (void)n, (void)rq, (void)res, (void)out_jpeg;
    return none(err);
}
int gpu_jpeg_time(gpu_ctx *c, const unsigned char *jpg, size_t len, int reps, gpu_jpeg_times *t,
                  gp_error *err)
{
    (void)c, (void)jpg, (void)len, (void)reps, (void)t;
    return none(err);
}
double gpu_mem_used_mib(gpu_ctx *c)
{
    (void)c;
    return 0;
}
int gpu_context_init(int device, double *ms, double *used_mib, gp_error *err)
{
    (void)device, (void)ms, (void)used_mib;
    return none(err);
}
int gpu_warmup(gpu_ctx *c, double *ms, gp_error *err)
{
    (void)c, (void)ms;
    return none(err);
}
int gpu_mem_breakdown(gpu_ctx *c, gpu_mem_report *r, gp_error *err)
{
    (void)c, (void)r;
    return none(err);
}
