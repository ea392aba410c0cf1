/* jpeg_gpu.c: nvJPEG behind jpeg_gpu.h (GPENLAB_NVJPEG), or the GP_ENOTSUP answers of a
 * build without it. */
#include "gpu/jpeg_gpu.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef GPENLAB_NVJPEG

static int none(gp_error *err)
{
    return gp_error_set(err, GP_ENOTSUP, NULL, 0, 0, "jpeg", "built without nvJPEG");
}
int jpeg_gpu_open(jpeg_gpu **out, gp_error *err)
{
    *out = NULL;
    return none(err);
}
void jpeg_gpu_close(jpeg_gpu *g) { (void)g; }
const char *jpeg_gpu_describe(const jpeg_gpu *g)
{
    (void)g;
    return "none";
}
int jpeg_gpu_has_hw(const jpeg_gpu *g)
{
    (void)g;
    return 0;
}
int jpeg_gpu_slot_open(jpeg_gpu *g, void *cuda_stream, jpeg_gpu_slot **out, gp_error *err)
{
    (void)g, (void)cuda_stream;
    *out = NULL;
    return none(err);
}
void jpeg_gpu_slot_close(jpeg_gpu_slot *s) { (void)s; }
int jpeg_gpu_size(jpeg_gpu *g, const unsigned char *jpg, size_t len, int *width, int *height,
                  gp_error *err)
{
    (void)g, (void)jpg, (void)len, (void)width, (void)height;
    return none(err);
}
int jpeg_gpu_decode(jpeg_gpu_slot *s, const unsigned char *jpg, size_t len, unsigned char *dev_rgb,
                    size_t cap, int *width, int *height, int *used_hw, gp_error *err)
{
    (void)s, (void)jpg, (void)len, (void)dev_rgb, (void)cap, (void)width, (void)height,
        (void)used_hw;
    return none(err);
}
int jpeg_gpu_encode(jpeg_gpu_slot *s, const unsigned char *dev_rgb, int width, int height,
                    int quality, unsigned char **jpg, size_t *len, gp_error *err)
{
    (void)s, (void)dev_rgb, (void)width, (void)height, (void)quality, (void)jpg, (void)len;
    return none(err);
}

#else

#include <cuda_runtime.h>
#include <nvjpeg.h>
#include <pthread.h>

struct jpeg_gpu {
    nvjpegHandle_t hw;  /* hardware backend, or NULL where the card has none */
    nvjpegHandle_t gpu; /* GPU backend: fallback decode and every encode */
    unsigned hw_engines, hw_cores;
    /* decodes on the shared handles one at a time: two slots decoding at once failed with
     * "allocator failure" on an H100 (2026-12-07, profile eff(2)) */
    pthread_mutex_t decode_lock;
    char describe[96];
};

struct jpeg_gpu_slot {
    jpeg_gpu *g;
    cudaStream_t st;
    nvjpegJpegState_t hw_state, gpu_state;
    nvjpegEncoderState_t enc_state;
    nvjpegEncoderParams_t enc_params;
    int quality; /* of enc_params, 0 before the first encode */
};

static const char *status_name(nvjpegStatus_t s)
{
    switch (s) {
    case NVJPEG_STATUS_SUCCESS: return "success";
    case NVJPEG_STATUS_NOT_INITIALIZED: return "not initialized";
    case NVJPEG_STATUS_INVALID_PARAMETER: return "invalid parameter";
    case NVJPEG_STATUS_BAD_JPEG: return "bad JPEG";
    case NVJPEG_STATUS_JPEG_NOT_SUPPORTED: return "JPEG not supported";
    case NVJPEG_STATUS_ALLOCATOR_FAILURE: return "allocator failure";
    case NVJPEG_STATUS_EXECUTION_FAILED: return "execution failed";
    case NVJPEG_STATUS_ARCH_MISMATCH: return "no such backend on this device";
    case NVJPEG_STATUS_INTERNAL_ERROR: return "internal error";
    case NVJPEG_STATUS_IMPLEMENTATION_NOT_SUPPORTED: return "not supported by this implementation";
    default: return "unknown status";
    }
}

static int nj_fail(gp_error *err, nvjpegStatus_t s, const char *what)
{
    int code = s == NVJPEG_STATUS_BAD_JPEG || s == NVJPEG_STATUS_JPEG_NOT_SUPPORTED ? GP_EPARSE
               : s == NVJPEG_STATUS_ALLOCATOR_FAILURE                               ? GP_ENOMEM
                                                                                    : GP_EIO;
    return gp_error_set(err, code, NULL, 0, 0, "nvjpeg", "%s: %s (%d)", what, status_name(s),
                        (int)s);
}

#define NJ(call)                            \
    do {                                    \
        nvjpegStatus_t s_ = (call);         \
        if (s_ != NVJPEG_STATUS_SUCCESS)    \
            return nj_fail(err, s_, #call); \
    } while (0)

int jpeg_gpu_open(jpeg_gpu **out, gp_error *err)
{
    *out = NULL;
    jpeg_gpu *g = calloc(1, sizeof(*g));
    if (!g)
        return gp_error_set(err, GP_ENOMEM, NULL, 0, 0, "jpeg", "out of memory");
    pthread_mutex_init(&g->decode_lock, NULL);
    /* the hardware decoder: absent on cards without one (ARCH_MISMATCH), then GPU decode */
    if (nvjpegCreateEx(NVJPEG_BACKEND_HARDWARE, NULL, NULL, 0, &g->hw) != NVJPEG_STATUS_SUCCESS)
        g->hw = NULL;
    else if (nvjpegGetHardwareDecoderInfo(g->hw, &g->hw_engines, &g->hw_cores) !=
                 NVJPEG_STATUS_SUCCESS ||
             g->hw_engines == 0) {
        nvjpegDestroy(g->hw);
        g->hw = NULL;
    }
    nvjpegStatus_t s = nvjpegCreateEx(NVJPEG_BACKEND_GPU_HYBRID, NULL, NULL, 0, &g->gpu);
    if (s != NVJPEG_STATUS_SUCCESS)
        s = nvjpegCreateEx(NVJPEG_BACKEND_DEFAULT, NULL, NULL, 0, &g->gpu);
    if (s != NVJPEG_STATUS_SUCCESS) {
        jpeg_gpu_close(g);
        return nj_fail(err, s, "nvjpegCreateEx");
    }
    if (g->hw)
        snprintf(g->describe, sizeof(g->describe),
                 "nvJPEG hardware decode (%u engines) + GPU encode", g->hw_engines);
    else
        snprintf(g->describe, sizeof(g->describe), "nvJPEG GPU decode + GPU encode");
    *out = g;
    return 0;
}

void jpeg_gpu_close(jpeg_gpu *g)
{
    if (!g)
        return;
    if (g->hw)
        nvjpegDestroy(g->hw);
    if (g->gpu)
        nvjpegDestroy(g->gpu);
    pthread_mutex_destroy(&g->decode_lock);
    free(g);
}

const char *jpeg_gpu_describe(const jpeg_gpu *g) { return g ? g->describe : "none"; }
int jpeg_gpu_has_hw(const jpeg_gpu *g) { return g && g->hw; }

void jpeg_gpu_slot_close(jpeg_gpu_slot *s)
{
    if (!s)
        return;
    if (s->hw_state)
        nvjpegJpegStateDestroy(s->hw_state);
    if (s->gpu_state)
        nvjpegJpegStateDestroy(s->gpu_state);
    if (s->enc_params)
        nvjpegEncoderParamsDestroy(s->enc_params);
    if (s->enc_state)
        nvjpegEncoderStateDestroy(s->enc_state);
    free(s);
}

static int slot_init(jpeg_gpu_slot *s, gp_error *err)
{
    jpeg_gpu *g = s->g;
    /* the hardware decoder's state; where it will not open, this slot decodes on the GPU */
    if (g->hw && (nvjpegJpegStateCreate(g->hw, &s->hw_state) != NVJPEG_STATUS_SUCCESS ||
                  nvjpegDecodeBatchedInitialize(g->hw, s->hw_state, 1, 1, NVJPEG_OUTPUT_RGBI) !=
                      NVJPEG_STATUS_SUCCESS)) {
        if (s->hw_state)
            nvjpegJpegStateDestroy(s->hw_state);
        s->hw_state = NULL;
    }
    NJ(nvjpegJpegStateCreate(g->gpu, &s->gpu_state));
    NJ(nvjpegEncoderStateCreate(g->gpu, &s->enc_state, s->st));
    NJ(nvjpegEncoderParamsCreate(g->gpu, &s->enc_params, s->st));
    NJ(nvjpegEncoderParamsSetSamplingFactors(s->enc_params, NVJPEG_CSS_420, s->st));
    return 0;
}

int jpeg_gpu_slot_open(jpeg_gpu *g, void *cuda_stream, jpeg_gpu_slot **out, gp_error *err)
{
    *out = NULL;
    jpeg_gpu_slot *s = calloc(1, sizeof(*s));
    if (!s)
        return gp_error_set(err, GP_ENOMEM, NULL, 0, 0, "jpeg", "out of memory");
    s->g = g;
    s->st = (cudaStream_t)cuda_stream;
    int rc = slot_init(s, err);
    if (rc) {
        jpeg_gpu_slot_close(s);
        return rc;
    }
    *out = s;
    return 0;
}

int jpeg_gpu_size(jpeg_gpu *g, const unsigned char *jpg, size_t len, int *width, int *height,
                  gp_error *err)
{
    int nc = 0, w[NVJPEG_MAX_COMPONENT] = {0}, h[NVJPEG_MAX_COMPONENT] = {0};
    nvjpegChromaSubsampling_t css;
    NJ(nvjpegGetImageInfo(g->gpu, jpg, len, &nc, &css, w, h));
    *width = w[0];
    *height = h[0];
    return 0;
}

static int cuda_fail(gp_error *err, cudaError_t e, const char *what)
{
    return gp_error_set(err, GP_EIO, NULL, 0, 0, "jpeg", "%s: %s", what, cudaGetErrorString(e));
}

int jpeg_gpu_decode(jpeg_gpu_slot *s, const unsigned char *jpg, size_t len, unsigned char *dev_rgb,
                    size_t cap, int *width, int *height, int *used_hw, gp_error *err)
{
    int w = 0, h = 0;
    int rc = jpeg_gpu_size(s->g, jpg, len, &w, &h, err);
    if (rc)
        return rc;
    if (w < 1 || h < 1 || (size_t)w * (size_t)h * 3 > cap)
        return gp_error_set(err, GP_ERANGE, NULL, 0, 0, "image",
                            "%dx%d does not fit the slot's %zu bytes", w, h, cap);
    nvjpegImage_t img;
    memset(&img, 0, sizeof(img));
    img.channel[0] = dev_rgb;
    img.pitch[0] = (size_t)w * 3;
    *used_hw = 0;
    pthread_mutex_lock(&s->g->decode_lock);
    nvjpegStatus_t st = NVJPEG_STATUS_SUCCESS;
    if (s->hw_state) {
        const unsigned char *data[1] = {jpg};
        size_t lens[1] = {len};
        if (nvjpegDecodeBatched(s->g->hw, s->hw_state, data, lens, &img, s->st) ==
            NVJPEG_STATUS_SUCCESS)
            *used_hw = 1;
        else /* a failed batch must be initialised again before the next one */
            nvjpegDecodeBatchedInitialize(s->g->hw, s->hw_state, 1, 1, NVJPEG_OUTPUT_RGBI);
    }
    if (!*used_hw)
        st = nvjpegDecode(s->g->gpu, s->gpu_state, jpg, len, NVJPEG_OUTPUT_RGBI, &img, s->st);
    cudaError_t e = cudaStreamSynchronize(s->st);
    pthread_mutex_unlock(&s->g->decode_lock);
    if (st != NVJPEG_STATUS_SUCCESS)
        return nj_fail(err, st, "nvjpegDecode");
    if (e != cudaSuccess)
        return cuda_fail(err, e, "nvJPEG decode");
    *width = w;
    *height = h;
    return 0;
}

int jpeg_gpu_encode(jpeg_gpu_slot *s, const unsigned char *dev_rgb, int width, int height,
                    int quality, unsigned char **jpg, size_t *len, gp_error *err)
{
    *jpg = NULL;
    *len = 0;
    if (quality < 1 || quality > 100)
        return gp_error_set(err, GP_ERANGE, NULL, 0, 0, "quality", "expected 1..100, got %d",
                            quality);
    if (quality != s->quality) {
        NJ(nvjpegEncoderParamsSetQuality(s->enc_params, quality, s->st));
        s->quality = quality;
    }
    nvjpegImage_t img;
    memset(&img, 0, sizeof(img));
    img.channel[0] = (unsigned char *)dev_rgb;
    img.pitch[0] = (size_t)width * 3;
    NJ(nvjpegEncodeImage(s->g->gpu, s->enc_state, s->enc_params, &img, NVJPEG_INPUT_RGBI, width,
                         height, s->st));
    size_t n = 0;
    NJ(nvjpegEncodeRetrieveBitstream(s->g->gpu, s->enc_state, NULL, &n, s->st));
    cudaError_t e = cudaStreamSynchronize(s->st);
    if (e != cudaSuccess)
        return cuda_fail(err, e, "nvJPEG encode");
    unsigned char *buf = malloc(n ? n : 1);
    if (!buf)
        return gp_error_set(err, GP_ENOMEM, NULL, 0, 0, "jpeg", "out of memory");
    nvjpegStatus_t st = nvjpegEncodeRetrieveBitstream(s->g->gpu, s->enc_state, buf, &n, s->st);
    if (st == NVJPEG_STATUS_SUCCESS && (e = cudaStreamSynchronize(s->st)) != cudaSuccess) {
        free(buf);
        return cuda_fail(err, e, "nvJPEG encode");
    }
    if (st != NVJPEG_STATUS_SUCCESS) {
        free(buf);
        return nj_fail(err, st, "nvjpegEncodeRetrieveBitstream");
    }
    *jpg = buf;
    *len = n;
    return 0;
}

#endif
