/* jpeg_io.h: JPEG decode/encode of 8-bit RGB through libjpeg, in memory. Buffers returned
 * are malloc'ed and owned by the caller. Returns 0 or GP_EPARSE / GP_ENOMEM. */
#ifndef GP_JPEG_IO_H
#define GP_JPEG_IO_H

#include <stddef.h>

#include "base/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Decodes into *rgb (width*height*3 bytes, row-major). If dst is non-NULL and dst_cap is
 * large enough, decodes there instead (and *rgb = dst). */
int jpeg_decode_rgb(const unsigned char *jpg, size_t len, int *width, int *height,
                    unsigned char **rgb, unsigned char *dst, size_t dst_cap, gp_error *err);
int jpeg_encode_rgb(const unsigned char *rgb, int width, int height, int quality,
                    unsigned char **jpg, size_t *len, gp_error *err);
/* A synthetic photo-like RGB image (gradients, texture, noise) of w x h, deterministic. */
unsigned char *jpeg_synthetic_rgb(int width, int height, unsigned seed);

#ifdef __cplusplus
}
#endif

#endif
