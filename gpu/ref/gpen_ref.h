/* gpen_ref.h: the plain-C CPU reference of every GPEN operation and of the whole forward
 * pass, NCHW, for any gpen_config. Three precisions: float storage with float
 * accumulation (f32), float storage with double accumulation (f32a64), and double
 * throughout (f64, the reference the GPU is judged against). Slow by design: loops that
 * are easy to check, not fast. Functions return 0 or GP_ENOMEM; outputs are caller-owned. */
#ifndef GP_GPEN_REF_H
#define GP_GPEN_REF_H

#include <stddef.h>

#include "gpu/ref/gpen_model.h"

enum { GPEN_REF_F32, GPEN_REF_F32_ACC64, GPEN_REF_F64 };
/* Modulated conv: the published form (weights modulated and demodulated per image), or
 * the batch-friendly form (input scaled by the style, output by the demodulation). */
enum { GPEN_MODCONV_EXACT, GPEN_MODCONV_BATCHED };

/* Blur kernel K = outer([1,3,3,1], [1,3,3,1]) / 64, times `gain`, into k[16]. */
void gpen_blur_kernel(double gain, double k[16]);

/* Output size of upfirdn2d along one axis. */
int gpen_upfirdn_size(int n, int up, int down, int pad0, int pad1);

/* The operations, one set per precision (T = storage type):
 * conv2d: y[b,o] = sum_i,ky,kx x[b,i,oy*stride+ky-pad, ...] * wt[b][o,i,ky,kx]; weights
 *   already scaled; wt_bstride = elements between images' weights (0: shared).
 * conv_t2d: transposed conv, stride 2, pad 0: y[b,o,2iy+ky,2ix+kx] += x[b,i,iy,ix] * wt.
 * upfirdn2d: zero-insert by `up`, pad (pad0, pad1) both axes, 4x4 FIR (true convolution),
 *   keep every down-th sample; over n_planes planes of h x w.
 * flrelu: x = sqrt(2) * leaky_relu(x + bias[c] * bias_scale, 0.2), in place.
 * linear: y = x (W * lr_mul / sqrt(in))^T + b * lr_mul, then flrelu when act.
 * pixel_norm: x * rsqrt(mean_c x^2 + 1e-8), in place, rows of c. */
#define GPEN_REF_DECLARE(T, S)                                                                     \
    int gpen_op_conv2d_##S(const T *x, int batch, int cin, int h, int w, const T *wt,              \
                           size_t wt_bstride, int cout, int k, int stride, int pad, T *y);         \
    int gpen_op_conv_t2d_##S(const T *x, int batch, int cin, int h, int w, const T *wt,            \
                             size_t wt_bstride, int cout, int k, T *y);                            \
    void gpen_op_upfirdn2d_##S(const T *x, int n_planes, int h, int w, const double k[16], int up, \
                               int down, int pad0, int pad1, T *y);                                \
    void gpen_op_flrelu_##S(T *x, int batch, int c, size_t hw, const float *bias,                  \
                            double bias_scale);                                                    \
    void gpen_op_linear_##S(const T *x, int batch, int in, const float *w, const float *b,         \
                            int out, double lr_mul, int act, T *y);                                \
    void gpen_op_pixel_norm_##S(T *x, int batch, int c);                                           \
    int gpen_op_modconv_##S(const T *x, int batch, int cin, int h, int w, const float *wt,         \
                            int cout, int k, const T *style, int demod, int up, int mode, T *y);
GPEN_REF_DECLARE(float, f32)
GPEN_REF_DECLARE(float, f32a64)
GPEN_REF_DECLARE(double, f64)

/* Called with each intermediate tensor (as float, NCHW) when opts.tap is set: names
 * "enc<k>", "enc_fc" [B, style], "w" [B, style], "conv<j>" (after concat and
 * activation), "rgb<j>" (the skip after ToRGB j). */
typedef void (*gpen_tap_fn)(void *ctx, const char *name, int batch, int c, int h, int w,
                            const float *data);

typedef struct gpen_ref_opts {
    int precision; /* GPEN_REF_* */
    int modconv;   /* GPEN_MODCONV_* */
    gpen_tap_fn tap;
    void *tap_ctx;
} gpen_ref_opts;

/* Full forward: in [batch, 3, size, size] in [-1, 1] -> out [batch, 3, size, size]. */
int gpen_ref_forward(const gpen_model *m, const float *in, int batch, const gpen_ref_opts *opts,
                     float *out, gp_error *err);

/* Relative L2 distance ||a - b|| / ||b||, in double (NaN anywhere gives NaN). */
double gpen_rel_l2(const float *a, const float *b, size_t n);

#endif
