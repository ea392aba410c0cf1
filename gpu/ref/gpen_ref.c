/* gpen_ref.c: instantiates the CPU reference (gpen_ref_impl.h) for each precision. */
#include "gpu/ref/gpen_ref.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void gpen_blur_kernel(double gain, double k[16])
{
    static const double k1[4] = {1, 3, 3, 1};
    for (int y = 0; y < 4; y++)
        for (int x = 0; x < 4; x++)
            k[y * 4 + x] = k1[y] * k1[x] / 64.0 * gain;
}

int gpen_upfirdn_size(int n, int up, int down, int pad0, int pad1)
{
    return (n * up + pad0 + pad1 - 4) / down + 1;
}

#define GR_T float
#define GR_A float
#define GR_S f32
#include "gpu/ref/gpen_ref_impl.h"
#undef GR_T
#undef GR_A
#undef GR_S

#define GR_T float
#define GR_A double
#define GR_S f32a64
#include "gpu/ref/gpen_ref_impl.h"
#undef GR_T
#undef GR_A
#undef GR_S

#define GR_T double
#define GR_A double
#define GR_S f64
#include "gpu/ref/gpen_ref_impl.h"
#undef GR_T
#undef GR_A
#undef GR_S

int gpen_ref_forward(const gpen_model *m, const float *in, int batch, const gpen_ref_opts *opts,
                     float *out, gp_error *err)
{
    gpen_ref_opts def = {GPEN_REF_F64, GPEN_MODCONV_EXACT, NULL, NULL};
    const gpen_ref_opts *o = opts ? opts : &def;
    int rc;
    if (batch < 1)
        return gp_error_set(err, GP_ERANGE, NULL, 0, 0, "batch", "expected >= 1, got %d", batch);
    switch (o->precision) {
    case GPEN_REF_F32: rc = forward_f32(m, in, batch, o, out); break;
    case GPEN_REF_F32_ACC64: rc = forward_f32a64(m, in, batch, o, out); break;
    case GPEN_REF_F64: rc = forward_f64(m, in, batch, o, out); break;
    default:
        return gp_error_set(err, GP_ERANGE, NULL, 0, 0, "precision", "unknown precision %d",
                            o->precision);
    }
    if (rc)
        return gp_error_set(err, rc, NULL, 0, 0, "gpen", "out of memory in the forward pass");
    return 0;
}

double gpen_rel_l2(const float *a, const float *b, size_t n)
{
    double num = 0, den = 0;
    for (size_t i = 0; i < n; i++) {
        double d = (double)a[i] - (double)b[i];
        num += d * d;
        den += (double)b[i] * (double)b[i];
    }
    return den > 0 ? sqrt(num / den) : sqrt(num);
}
