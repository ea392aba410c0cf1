/* stage.h: the GPEN service stage of gpenlab-worker behind one interface, two backends:
 *   cuda: the real pipeline of gpu/gpu.h (decode, detect, align, GPEN, parse, paste,
 *         blend, encode) on one GPU, one slot (CUDA stream) per concurrent request;
 *   cpu:  the plain-C reference of gpu/ref on tiny inputs (a GPEN of face_size pixels
 *         per face, a px_scale fraction of the image's pixels through libjpeg), for tests
 *         and dry runs on machines without a GPU.
 * "auto" takes cuda when the binary has it and a device is present, else cpu.
 * stage_open performs the cold start (context, weights, warm-up) and reports each phase
 * through the caller's callback. stage_run is thread-safe across distinct slots. */
#ifndef GP_WORKER_STAGE_H
#define GP_WORKER_STAGE_H

#include <stddef.h>

#include "base/error.h"

#define STAGE_MAX_STAGES 8

typedef struct stage stage;

typedef void (*stage_phase_fn)(void *ctx, const char *phase, double ms);

typedef struct stage_opts {
    char backend[8];                   /* "auto" | "cuda" | "cpu" */
    int slots;                         /* concurrent requests (>= 1) */
    int device;                        /* CUDA device */
    const char *weights_path;          /* GPEN safetensors, NULL: deterministic random weights */
    const char *detector_weights_path; /* cuda: RetinaFace, ParseNet (converted by */
    const char *parser_weights_path;   /* scripts/convert_pipeline_checkpoint.py); NULL: random */
    int max_image_mp;                  /* largest image (cuda buffers), MP */
    int cpu_face_size;                 /* cpu: GPEN resolution per face (power of 2, 8..64) */
    double cpu_px_scale;               /* cpu: fraction of the image's pixels processed (0, 1] */
    double cpu_mem_total_mib;          /* cpu: the "card" size reported */
    double prewarm_mp[32];             /* cuda: input JPEGs made during the cold start (phase
                               input_cache), so requests of these sizes find them ready */
    int n_prewarm;
    stage_phase_fn phase; /* may be NULL */
    void *phase_ctx;
} stage_opts;

void stage_opts_default(stage_opts *o);

typedef struct stage_result {
    double service_ms; /* wall time of the whole stage */
    int n_stages;
    const char *stage_name[STAGE_MAX_STAGES];
    double stage_ms[STAGE_MAX_STAGES];
    size_t out_bytes; /* encoded output */
} stage_result;

int stage_open(const stage_opts *o, stage **out, gp_error *err);
void stage_close(stage *s);
/* Serves one request of a width x height image with `faces` faces on slot `slot`. */
int stage_run(stage *s, int slot, int width, int height, int faces, stage_result *res,
              gp_error *err);
/* Device memory in use and the card's total, MiB (cpu: the model and the requests in
 * service against cpu_mem_total_mib). */
void stage_mem(stage *s, double *used_mib, double *total_mib);
const char *stage_backend(const stage *s); /* "cuda" or "cpu" */
const char *stage_device(const stage *s);  /* the card's name, or "cpu reference" */

/* The CUDA backend (stage_cuda.c with gpu.h, or stage_nocuda.c: GP_ENOTSUP). */
typedef struct stage_cuda stage_cuda;
int stage_cuda_available(int device);
int stage_cuda_open(const stage_opts *o, stage_cuda **out, char *device_name, size_t name_len,
                    gp_error *err);
void stage_cuda_close(stage_cuda *c);
int stage_cuda_run(stage_cuda *c, int slot, int width, int height, int faces, stage_result *res,
                   gp_error *err);
void stage_cuda_mem(stage_cuda *c, double *used_mib, double *total_mib);

#endif
