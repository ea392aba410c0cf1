/* jpeg_io.c: libjpeg in memory. libjpeg reports errors through longjmp. */
#include "gpu/jpeg_io.h"

#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>

typedef struct jpeg_err_jmp {
    struct jpeg_error_mgr pub;
    jmp_buf jb;
    char msg[JMSG_LENGTH_MAX];
} jpeg_err_jmp;

static void jpeg_error_exit_jmp(j_common_ptr cinfo)
{
    jpeg_err_jmp *e = (jpeg_err_jmp *)cinfo->err;
    (*cinfo->err->format_message)(cinfo, e->msg);
    longjmp(e->jb, 1);
}

int jpeg_decode_rgb(const unsigned char *jpg, size_t len, int *width, int *height,
                    unsigned char **rgb, unsigned char *dst, size_t dst_cap, gp_error *err)
{
    struct jpeg_decompress_struct ci;
    jpeg_err_jmp je;
    unsigned char *volatile out = NULL;
    volatile int owned = 0;
    ci.err = jpeg_std_error(&je.pub);
    je.pub.error_exit = jpeg_error_exit_jmp;
    if (setjmp(je.jb)) {
        jpeg_destroy_decompress(&ci);
        if (owned)
            free(out);
        return gp_error_set(err, GP_EPARSE, NULL, 0, 0, "jpeg", "%s", je.msg);
    }
    jpeg_create_decompress(&ci);
    jpeg_mem_src(&ci, (unsigned char *)jpg, (unsigned long)len);
    jpeg_read_header(&ci, TRUE);
    ci.out_color_space = JCS_RGB;
    jpeg_start_decompress(&ci);
    size_t stride = (size_t)ci.output_width * 3, need = stride * ci.output_height;
    if (dst && dst_cap >= need) {
        out = dst;
    } else {
        out = malloc(need);
        owned = 1;
        if (!out) {
            jpeg_destroy_decompress(&ci);
            return gp_error_set(err, GP_ENOMEM, NULL, 0, 0, "jpeg", "out of memory");
        }
    }
    while (ci.output_scanline < ci.output_height) {
        JSAMPROW row = out + stride * ci.output_scanline;
        jpeg_read_scanlines(&ci, &row, 1);
    }
    *width = (int)ci.output_width;
    *height = (int)ci.output_height;
    jpeg_finish_decompress(&ci);
    jpeg_destroy_decompress(&ci);
    *rgb = out;
    return 0;
}

int jpeg_encode_rgb(const unsigned char *rgb, int width, int height, int quality,
                    unsigned char **jpg, size_t *len, gp_error *err)
{
    struct jpeg_compress_struct ci;
    jpeg_err_jmp je;
    unsigned char *buf = NULL;
    unsigned long n = 0;
    ci.err = jpeg_std_error(&je.pub);
    je.pub.error_exit = jpeg_error_exit_jmp;
    if (setjmp(je.jb)) {
        jpeg_destroy_compress(&ci);
        free(buf);
        return gp_error_set(err, GP_EPARSE, NULL, 0, 0, "jpeg", "%s", je.msg);
    }
    jpeg_create_compress(&ci);
    jpeg_mem_dest(&ci, &buf, &n);
    ci.image_width = (JDIMENSION)width;
    ci.image_height = (JDIMENSION)height;
    ci.input_components = 3;
    ci.in_color_space = JCS_RGB;
    jpeg_set_defaults(&ci);
    jpeg_set_quality(&ci, quality, TRUE);
    jpeg_start_compress(&ci, TRUE);
    size_t stride = (size_t)width * 3;
    while (ci.next_scanline < ci.image_height) {
        JSAMPROW row = (JSAMPROW)(rgb + stride * ci.next_scanline);
        jpeg_write_scanlines(&ci, &row, 1);
    }
    jpeg_finish_compress(&ci);
    jpeg_destroy_compress(&ci);
    *jpg = buf;
    *len = n;
    return 0;
}

unsigned char *jpeg_synthetic_rgb(int width, int height, unsigned seed)
{
    unsigned char *p = malloc((size_t)width * (size_t)height * 3);
    if (!p)
        return NULL;
    unsigned s = seed * 2654435761u + 1;
    for (int y = 0; y < height; y++)
        for (int x = 0; x < width; x++) {
            s = s * 1664525u + 1013904223u;
            int noise = (int)(s >> 27) - 16;
            int tex = ((x / 7) ^ (y / 5)) & 31;
            unsigned char *q = p + ((size_t)y * (size_t)width + (size_t)x) * 3;
            int r = 40 + 150 * x / width + tex + noise, g = 60 + 120 * y / height + noise,
                b = 90 + 60 * ((x + y) % 97) / 97 - tex + noise;
            q[0] = (unsigned char)(r < 0 ? 0 : r > 255 ? 255 : r);
            q[1] = (unsigned char)(g < 0 ? 0 : g > 255 ? 255 : g);
            q[2] = (unsigned char)(b < 0 ? 0 : b > 255 ? 255 : b);
        }
    return p;
}
