/* stage_cuda.c: the CUDA backend of stage.h over gpu/gpu.h. The cold start is the
 * pipeline's own: CUDA context, weights (file or deterministic random) with RetinaFace and
 * ParseNet, one slot per concurrent request, a first request, CUDA graph capture.
 * Inputs are synthetic JPEGs (gpu/jpeg_io.h) of the requested size, made once per size and
 * kept (they stand in for the uploaded file, which a real service receives ready-made). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gpu/gpu.h"
#include "gpu/jpeg_io.h"
#include "worker/queue.h"
#include "worker/stage.h"

#define JPEG_CACHE_MAX 64

typedef struct jpeg_entry {
    int w, h;
    unsigned char *jpg;
    size_t len;
} jpeg_entry;

struct stage_cuda {
    gpu_ctx *ctx;
    gpu_info info;
    pthread_mutex_t mu;
    jpeg_entry cache[JPEG_CACHE_MAX];
    int n_cache, next_evict;
};

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

int stage_cuda_available(int device) { return gpu_device_count() > device; }

/* The synthetic JPEG of w x h (made on first use; the entry stays valid until evicted,
 * which only happens beyond JPEG_CACHE_MAX sizes: the caller copies nothing). */
static int get_jpeg(stage_cuda *c, int w, int h, unsigned char **jpg, size_t *len, gp_error *err)
{
    pthread_mutex_lock(&c->mu);
    for (int i = 0; i < c->n_cache; i++)
        if (c->cache[i].w == w && c->cache[i].h == h) {
            *len = c->cache[i].len;
            *jpg = malloc(*len);
            if (*jpg)
                memcpy(*jpg, c->cache[i].jpg, *len);
            pthread_mutex_unlock(&c->mu);
            return *jpg ? 0 : gp_error_set(err, GP_ENOMEM, NULL, 0, 0, "stage", "out of memory");
        }
    pthread_mutex_unlock(&c->mu);
    unsigned char *rgb = jpeg_synthetic_rgb(w, h, (unsigned)(w * 31 + h));
    if (!rgb)
        return gp_error_set(err, GP_ENOMEM, NULL, 0, 0, "stage", "out of memory");
    unsigned char *j = NULL;
    size_t jl = 0;
    int rc = jpeg_encode_rgb(rgb, w, h, 90, &j, &jl, err);
    free(rgb);
    if (rc < 0)
        return rc;
    pthread_mutex_lock(&c->mu);
    int slot = c->n_cache < JPEG_CACHE_MAX ? c->n_cache++ : (c->next_evict++ % JPEG_CACHE_MAX);
    free(c->cache[slot].jpg);
    c->cache[slot] = (jpeg_entry){w, h, j, jl};
    *len = jl;
    *jpg = malloc(jl);
    if (*jpg)
        memcpy(*jpg, j, jl);
    pthread_mutex_unlock(&c->mu);
    return *jpg ? 0 : gp_error_set(err, GP_ENOMEM, NULL, 0, 0, "stage", "out of memory");
}

int stage_cuda_open(const stage_opts *o, stage_cuda **out, char *device_name, size_t name_len,
                    gp_error *err)
{
    *out = NULL;
    stage_cuda *c = calloc(1, sizeof(*c));
    if (!c)
        return gp_error_set(err, GP_ENOMEM, NULL, 0, 0, "stage", "out of memory");
    pthread_mutex_init(&c->mu, NULL);
    double ms, mib;
    int rc = gpu_context_init(o->device, &ms, &mib, err);
    if (rc < 0)
        goto fail;
    if (o->phase)
        o->phase(o->phase_ctx, "cuda_init", ms);
    gpu_opts go;
    gpu_opts_default(&go);
    go.device = o->device;
    go.weights_path = o->weights_path;
    go.detector_weights_path = o->detector_weights_path;
    go.parser_weights_path = o->parser_weights_path;
    go.pipeline = 1;
    go.n_slots = o->slots;
    go.max_image_mp = o->max_image_mp;
    double t0 = now_ms();
    if ((rc = gpu_open(&go, &c->ctx, err)) < 0)
        goto fail;
    if (o->phase)
        o->phase(o->phase_ctx, "weight_load", now_ms() - t0);
    if ((rc = gpu_get_info(c->ctx, &c->info, err)) < 0)
        goto fail;
    snprintf(device_name, name_len, "%s", c->info.name);
    /* warm-up: a first 2 MP request on every slot (lazy module loading), then the graphs */
    t0 = now_ms();
    for (int s = 0; s < o->slots; s++) {
        stage_result r;
        if ((rc = stage_cuda_run(c, s, 1732, 1155, 1, &r, err)) < 0)
            goto fail;
    }
    if (o->phase)
        o->phase(o->phase_ctx, "first_inference", now_ms() - t0);
    if ((rc = gpu_warmup(c->ctx, &ms, err)) < 0)
        goto fail;
    if (o->phase)
        o->phase(o->phase_ctx, "graph_capture", ms);
    if (o->n_prewarm > 0) {
        t0 = now_ms();
        for (int i = 0; i < o->n_prewarm; i++) {
            int w, h;
            queue_image_dims(o->prewarm_mp[i], &w, &h); /* the sizes requests will ask for */
            unsigned char *j = NULL;
            size_t jl;
            if ((rc = get_jpeg(c, w, h, &j, &jl, err)) < 0)
                goto fail;
            free(j);
        }
        if (o->phase)
            o->phase(o->phase_ctx, "input_cache", now_ms() - t0);
    }
    *out = c;
    return 0;
fail:
    stage_cuda_close(c);
    return rc;
}

void stage_cuda_close(stage_cuda *c)
{
    if (!c)
        return;
    if (c->ctx)
        gpu_close(c->ctx);
    for (int i = 0; i < c->n_cache; i++)
        free(c->cache[i].jpg);
    pthread_mutex_destroy(&c->mu);
    free(c);
}

int stage_cuda_run(stage_cuda *c, int slot, int width, int height, int faces, stage_result *res,
                   gp_error *err)
{
    unsigned char *jpg = NULL;
    size_t len = 0;
    int rc = get_jpeg(c, width, height, &jpg, &len, err);
    if (rc < 0)
        return rc;
    gpu_request rq = {jpg, len, 0, 0, faces, 90};
    gpu_request_result gr;
    double t0 = now_ms();
    rc = gpu_request_run(c->ctx, slot, &rq, &gr, NULL, err);
    double t1 = now_ms();
    free(jpg);
    if (rc < 0)
        return rc;
    memset(res, 0, sizeof(*res));
    res->service_ms = t1 - t0;
    res->n_stages = GPU_N_STAGES < STAGE_MAX_STAGES ? GPU_N_STAGES : STAGE_MAX_STAGES;
    for (int s = 0; s < res->n_stages; s++) {
        res->stage_name[s] = gpu_stage_name(s);
        res->stage_ms[s] = gr.stage_ms[s];
    }
    res->out_bytes = gr.out_jpeg_len;
    return 0;
}

void stage_cuda_mem(stage_cuda *c, double *used_mib, double *total_mib)
{
    *used_mib = gpu_mem_used_mib(c->ctx);
    *total_mib = c->info.mem_total_mib;
}
