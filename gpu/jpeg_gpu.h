/* jpeg_gpu.h: JPEG decode into and encode from device memory with nvJPEG, for the
 * pipeline's requests (gpu_pipeline.cuh). Decoding uses the card's hardware JPEG decoder
 * (nvJPEG's hardware backend: A100/A30, Hopper, Ada) where it opens, else nvJPEG's GPU
 * backend; encoding runs on the GPU (nvjpegEncodeImage; no current data-centre card has a
 * hardware JPEG encoder). Images are 8-bit interleaved RGB rows of width * 3 bytes.
 * Built with nvJPEG only where its header is (gpu/gpu.mk defines GPENLAB_NVJPEG); without
 * it jpeg_gpu_open fails with GP_ENOTSUP "built without nvJPEG" and the pipeline keeps
 * libjpeg on the host (gpu/jpeg_io.h). One jpeg_gpu per device; one jpeg_gpu_slot per
 * CUDA stream (nvJPEG's states are not thread-safe). Functions return 0 or a negative
 * GP_E* code with err filled. */
#ifndef GP_JPEG_GPU_H
#define GP_JPEG_GPU_H

#include <stddef.h>

#include "base/error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct jpeg_gpu jpeg_gpu;
typedef struct jpeg_gpu_slot jpeg_gpu_slot;

/* Opens nvJPEG on the current CUDA device: a hardware-decoder handle where the card has
 * one, and a GPU-backend handle (fallback decode, encode). */
int jpeg_gpu_open(jpeg_gpu **out, gp_error *err);
void jpeg_gpu_close(jpeg_gpu *g);
/* "nvJPEG hardware decode (N engines) + GPU encode" or "nvJPEG GPU decode + GPU encode". */
const char *jpeg_gpu_describe(const jpeg_gpu *g);
/* Whether decodes use the hardware decoder (0/1). */
int jpeg_gpu_has_hw(const jpeg_gpu *g);

/* A slot's decoder and encoder states on `cuda_stream` (a cudaStream_t). */
int jpeg_gpu_slot_open(jpeg_gpu *g, void *cuda_stream, jpeg_gpu_slot **out, gp_error *err);
void jpeg_gpu_slot_close(jpeg_gpu_slot *s);

/* Width and height of a JPEG from its header (host bytes). */
int jpeg_gpu_size(jpeg_gpu *g, const unsigned char *jpg, size_t len, int *width, int *height,
                  gp_error *err);
/* Decodes host bytes into dev_rgb (device, cap bytes: at least width * height * 3) on the
 * slot's stream and waits for it. *used_hw says whether the hardware decoder did it (an
 * image it refuses goes to the GPU backend). */
int jpeg_gpu_decode(jpeg_gpu_slot *s, const unsigned char *jpg, size_t len, unsigned char *dev_rgb,
                    size_t cap, int *width, int *height, int *used_hw, gp_error *err);
/* Encodes dev_rgb (width x height, device) at quality 1..100, 4:2:0, into *jpg (malloc'ed,
 * host) of *len bytes, on the slot's stream. */
int jpeg_gpu_encode(jpeg_gpu_slot *s, const unsigned char *dev_rgb, int width, int height,
                    int quality, unsigned char **jpg, size_t *len, gp_error *err);

#ifdef __cplusplus
}
#endif

#endif
