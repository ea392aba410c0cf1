/* gpu.h: the CUDA inference core of gpenlab, behind plain C (no CUDA types; C and C++).
 * One gpu_ctx owns a device, the weights of GPEN-BFR (and of the pipeline's other
 * networks), the activation buffers for up to max_batch faces, streams and CUDA graphs.
 * Every call returns 0 or a negative GP_E* code and fills the caller's gp_error; without
 * CUDA (gpu_none.c) every call fails with GP_ENOTSUP "built without CUDA". Images cross
 * this API as host float NCHW in [-1, 1] (GPEN) or JPEG bytes (pipeline). Not
 * thread-safe per ctx, except gpu_request_run on distinct slots (one stream each). */
#ifndef GP_GPU_H
#define GP_GPU_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

#include "base/error.h"
#include "gpu/ref/gpen_model.h"

typedef struct gpu_ctx gpu_ctx;

typedef enum { GPU_FP32 = 0, GPU_FP16 = 1, GPU_BF16 = 2 } gpu_precision;

typedef struct gpu_opts {
    int device;               /* CUDA device index */
    gpu_precision precision;  /* of activations and matrix operands; accumulation is fp32 */
    int max_batch;            /* GPEN/ParseNet buffers sized for this many faces */
    const char *weights_path; /* GPEN safetensors (gpu/ref/gpen_load.h names); NULL: random */
    uint64_t seed;            /* of the deterministic random weights */
    gpen_config gpen;         /* network configuration (gpen_config_default: GPEN-BFR-512) */
    int use_graphs;           /* replay CUDA graphs for repeated batch sizes */
    int pipeline;             /* also load RetinaFace and ParseNet */
    const char *detector_weights_path; /* RetinaFace-R50, converted by
                                        * scripts/convert_pipeline_checkpoint.py; NULL: random */
    const char *parser_weights_path;   /* ParseNet, likewise; NULL: random */
    int n_slots;                       /* concurrent request slots (streams) for gpu_request_run */
    int max_image_mp;                  /* pipeline buffers sized for images up to this many MP */
    int conv_kernel;  /* gpu_conv_kernel: which tensor-core conv kernel (fp16/bf16) */
    int jpeg;         /* gpu_jpeg_path: where pipeline requests decode and encode */
    int max_requests; /* requests one gpu_requests_run call may hold (per slot) */
} gpu_opts;

/* GPU_CONV_AUTO: wgmma on compute capability 9.0 when the build has the sm_90a image,
 * else mma.sync; GPU_CONV_WGMMA fails to open where wgmma cannot run. */
typedef enum { GPU_CONV_AUTO = 0, GPU_CONV_MMA = 1, GPU_CONV_WGMMA = 2 } gpu_conv_kernel;
/* Parses "auto", "mma" or "wgmma"; -1 otherwise. */
int gpu_conv_kernel_parse(const char *s);

/* JPEG decode/encode of pipeline requests: GPU_JPEG_AUTO takes nvJPEG when the build has
 * it and it opens on the device (its hardware decoder where the card has one, A100/H100
 * class), else libjpeg on the host; GPU_JPEG_NVJPEG fails to open without it. */
typedef enum { GPU_JPEG_AUTO = 0, GPU_JPEG_HOST = 1, GPU_JPEG_NVJPEG = 2 } gpu_jpeg_path;
/* Parses "auto", "host" or "nvjpeg"; -1 otherwise. */
int gpu_jpeg_path_parse(const char *s);

/* Fills opts with defaults: device 0, fp16, max_batch 8, random weights, GPEN-512, graphs. */
void gpu_opts_default(gpu_opts *o);

typedef struct gpu_info {
    char name[96];
    char driver[32];
    int cc_major, cc_minor, sm_count;
    int conv_wgmma;     /* the conv kernel in use: 1 wgmma (sm_90a), 0 mma.sync */
    char jpeg[64];      /* the JPEG path of pipeline requests: "libjpeg (host)", "nvJPEG
                        * hardware decode + GPU encode", "nvJPEG GPU decode + GPU encode" */
    char kernels[1024]; /* the kernel variants in use and why (GPENLAB_TAPCONV, GPENLAB_BLUR_EPI:
                         * the tap kernel's probe, each layer's choice with its times) */
    double mem_total_mib, mem_free_mib;
    double mem_bw_gbs; /* from the device's memory clock and bus width */
} gpu_info;

/* Number of CUDA devices (0 when none or no driver); never fails. */
int gpu_device_count(void);
int gpu_open(const gpu_opts *o, gpu_ctx **out, gp_error *err);
void gpu_close(gpu_ctx *c);
int gpu_get_info(gpu_ctx *c, gpu_info *info, gp_error *err);

/* GPEN forward of `batch` faces: in/out host [batch, 3, size, size]. */
int gpu_gpen_forward(gpu_ctx *c, const float *in, int batch, float *out, gp_error *err);
/* Intermediate tensors after a forward, by the reference's tap names ("enc3", "w",
 * "conv5", "rgb2"), converted to float NCHW into dst (n floats). */
int gpu_gpen_tap(gpu_ctx *c, const char *name, int batch, float *dst, size_t n, gp_error *err);
/* Device time of GPEN forwards of `batch` faces already on the device (graph replay when
 * enabled): median and standard deviation over `reps` runs after warm-up, milliseconds. */
int gpu_gpen_time(gpu_ctx *c, int batch, int reps, double *median_ms, double *sd_ms, gp_error *err);
/* The same for ParseNet (pipeline contexts). */
int gpu_parse_time(gpu_ctx *c, int batch, int reps, double *median_ms, double *sd_ms,
                   gp_error *err);
/* The pipeline's other networks alone, for checks against gpu/ref/pipe_nets (pipeline
 * contexts): RetinaFace on one image in [3, h, w] -> heads[l] [32, h_l, w_l]
 * (pipe_rf_level_size); ParseNet on in [batch, 3, size, size] -> out [batch, 22, size,
 * size], size a multiple of 16 up to 512. Host float NCHW buffers. */
int gpu_retinaface_forward(gpu_ctx *c, const float *in, int h, int w, float *heads[3],
                           gp_error *err);
int gpu_parsenet_forward(gpu_ctx *c, const float *in, int batch, int size, float *out,
                         gp_error *err);
/* Measured fp16 (or the ctx's precision) dense matrix rate of this card, TFLOP/s, from a
 * large GEMM through the core's own conv kernel and through cuBLASLt. */
int gpu_matmul_peak(gpu_ctx *c, double *core_tflops, double *cublas_tflops, gp_error *err);
/* Runs the wgmma conv kernel against the mma.sync kernel on a set of conv shapes, on every
 * wgmma tile; worst relative L2 difference and the number of comparisons (0 where the ctx
 * does not use wgmma, or is fp32). */
int gpu_conv_kernel_check(gpu_ctx *c, double *worst_rel, int *n_cases, gp_error *err);
/* Times the conv kernels (mma.sync plan, every wgmma tile) on GPEN-shaped convs and a plain
 * GEMM; writes one "tiles ..." line per shape and kernel to f. */
int gpu_conv_tile_bench(gpu_ctx *c, FILE *f, gp_error *err);

/* Pipeline stages, in order; a request's times are reported per stage. */
enum {
    GPU_STAGE_DECODE, /* JPEG decode + upload */
    GPU_STAGE_DETECT, /* resize to the detector size + RetinaFace-R50 + scores */
    GPU_STAGE_ALIGN,  /* per-face 5-point similarity warp to 512 (bicubic) */
    GPU_STAGE_GPEN,   /* GPEN on all faces, batched */
    GPU_STAGE_PARSE,  /* ParseNet mask, blurred */
    GPU_STAGE_PASTE,  /* inverse warp of face and mask into each face box */
    GPU_STAGE_BLEND,  /* img*(1-mask) + faces*mask over the full image */
    GPU_STAGE_ENCODE, /* download + JPEG encode */
    GPU_N_STAGES
};
const char *gpu_stage_name(int stage);

#define GPU_MAX_FACES 64

typedef struct gpu_request {
    const unsigned char *jpeg; /* input JPEG bytes, or NULL: a synthetic image of w x h */
    size_t jpeg_len;
    int width, height; /* used when jpeg is NULL */
    int faces;         /* face paths to run with random detector weights (they
                                * detect nothing); with real ones (detector_weights_path)
                                * RetinaFace's detections decide, at most GPU_MAX_FACES */
    int quality;       /* JPEG quality of the output, 1..100 */
} gpu_request;

typedef struct gpu_request_result {
    double stage_ms[GPU_N_STAGES]; /* wall time of each stage (stream-synchronised) */
    double total_ms;
    size_t out_jpeg_len;
    int detector_w, detector_h;
    int faces;           /* face paths run: the request's count, or detected */
    double peak_mem_mib; /* device memory held by this request's buffers */
} gpu_request_result;

/* Runs one whole request on slot `slot` (0..n_slots-1). out_jpeg may be NULL. */
int gpu_request_run(gpu_ctx *c, int slot, const gpu_request *rq, gpu_request_result *res,
                    unsigned char **out_jpeg, gp_error *err);
/* Runs n requests (1..max_requests) together on slot `slot`, as a pod serves the requests
 * it holds at once: each is decoded and detected, the faces of all of them go through
 * GPEN and ParseNet in batches of up to max_batch, then each is pasted, blended and
 * encoded. res[i] gets request i's output size and faces; its stage times are those of
 * the whole call (a stage shared by the requests is not split among them), total_ms too.
 * out_jpeg may be NULL, else out_jpeg[i] receives request i's JPEG (malloc'ed). */
int gpu_requests_run(gpu_ctx *c, int slot, int n, const gpu_request *rq, gpu_request_result *res,
                     unsigned char **out_jpeg, gp_error *err);

/* JPEG decode (into device memory) and encode (from it) of one image on slot 0, by each
 * path: libjpeg on the host with the upload / download, and nvJPEG where the build and
 * card have it (nvjpeg 0 otherwise, its times 0). Medians over reps, milliseconds.
 * Pipeline contexts; the image must fit max_image_mp. */
typedef struct gpu_jpeg_times {
    double host_decode_ms, host_encode_ms;
    double nvjpeg_decode_ms, nvjpeg_encode_ms;
    int nvjpeg;    /* nvJPEG timed */
    int nvjpeg_hw; /* its decodes went through the hardware decoder */
} gpu_jpeg_times;
int gpu_jpeg_time(gpu_ctx *c, const unsigned char *jpg, size_t len, int reps, gpu_jpeg_times *t,
                  gp_error *err);

/* Device memory in use now (cudaMemGetInfo), MiB. */
double gpu_mem_used_mib(gpu_ctx *c);

/* Creates the CUDA context of `device` (the first runtime call of a process) and reports
 * how long it took, with the device memory it took. */
int gpu_context_init(int device, double *ms, double *used_mib, gp_error *err);
/* Captures the CUDA graphs of every batch size 1..max_batch on every slot (GPEN, and
 * ParseNet for pipeline contexts); reports the time taken. */
int gpu_warmup(gpu_ctx *c, double *ms, gp_error *err);

/* Device memory by owner, bytes, from the sizes of the buffers allocated. */
typedef struct gpu_mem_report {
    double weights_bytes;         /* GPEN (+ RetinaFace and ParseNet) weights */
    double gpen_per_face_bytes;   /* GPEN activations per face of batch */
    double parse_per_face_bytes;  /* ParseNet activations per face */
    double image_per_px_bytes;    /* decoded image, faces, output, mask planes */
    double detector_per_px_bytes; /* RetinaFace activations per detector input pixel */
    double slot_bytes;            /* everything one request slot holds */
} gpu_mem_report;
int gpu_mem_breakdown(gpu_ctx *c, gpu_mem_report *r, gp_error *err);

#ifdef __cplusplus
}
#endif

#endif
