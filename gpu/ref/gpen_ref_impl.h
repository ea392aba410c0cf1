/* gpen_ref_impl.h: body of the CPU reference, included by gpen_ref.c once per precision
 * with GR_T (storage type), GR_A (accumulator type) and GR_S (name suffix) defined.
 * Not a header to include elsewhere. */
#define GR_CAT_(a, b) a##_##b
#define GR_CAT(a, b)  GR_CAT_(a, b)
#define GR_FN(name)   GR_CAT(name, GR_S)

int GR_FN(gpen_op_conv2d)(const GR_T *x, int batch, int cin, int h, int w, const GR_T *wt,
                          size_t wt_bstride, int cout, int k, int stride, int pad, GR_T *y)
{
    int oh = (h + 2 * pad - k) / stride + 1, ow = (w + 2 * pad - k) / stride + 1;
    GR_A *acc = malloc((size_t)oh * (size_t)ow * sizeof(GR_A));
    if (!acc)
        return GP_ENOMEM;
    for (int b = 0; b < batch; b++)
        for (int o = 0; o < cout; o++) {
            memset(acc, 0, (size_t)oh * (size_t)ow * sizeof(GR_A));
            const GR_T *wo = wt + (size_t)b * wt_bstride + (size_t)o * (size_t)cin * k * k;
            for (int i = 0; i < cin; i++) {
                const GR_T *xp = x + ((size_t)b * cin + i) * (size_t)h * (size_t)w;
                for (int ky = 0; ky < k; ky++) {
                    /* rows whose input row iy = oy*stride + ky - pad lies in [0, h) */
                    int oy0 = pad - ky > 0 ? (pad - ky + stride - 1) / stride : 0;
                    int oy1 = h - 1 + pad - ky < 0 ? -1 : (h - 1 + pad - ky) / stride;
                    if (oy1 > oh - 1)
                        oy1 = oh - 1;
                    for (int kx = 0; kx < k; kx++) {
                        int ox0 = pad - kx > 0 ? (pad - kx + stride - 1) / stride : 0;
                        int ox1 = w - 1 + pad - kx < 0 ? -1 : (w - 1 + pad - kx) / stride;
                        if (ox1 > ow - 1)
                            ox1 = ow - 1;
                        GR_A wv = (GR_A)wo[((size_t)i * k + ky) * k + kx];
                        for (int oy = oy0; oy <= oy1; oy++) {
                            const GR_T *xr = xp + (size_t)(oy * stride + ky - pad) * w;
                            GR_A *ar = acc + (size_t)oy * ow;
                            for (int ox = ox0; ox <= ox1; ox++)
                                ar[ox] += wv * (GR_A)xr[ox * stride + kx - pad];
                        }
                    }
                }
            }
            GR_T *yo = y + ((size_t)b * cout + o) * (size_t)oh * (size_t)ow;
            for (size_t p = 0; p < (size_t)oh * (size_t)ow; p++)
                yo[p] = (GR_T)acc[p];
        }
    free(acc);
    return 0;
}

int GR_FN(gpen_op_conv_t2d)(const GR_T *x, int batch, int cin, int h, int w, const GR_T *wt,
                            size_t wt_bstride, int cout, int k, GR_T *y)
{
    int oh = (h - 1) * 2 + k, ow = (w - 1) * 2 + k;
    GR_A *acc = malloc((size_t)oh * (size_t)ow * sizeof(GR_A));
    if (!acc)
        return GP_ENOMEM;
    for (int b = 0; b < batch; b++)
        for (int o = 0; o < cout; o++) {
            memset(acc, 0, (size_t)oh * (size_t)ow * sizeof(GR_A));
            const GR_T *wo = wt + (size_t)b * wt_bstride + (size_t)o * (size_t)cin * k * k;
            for (int i = 0; i < cin; i++) {
                const GR_T *xp = x + ((size_t)b * cin + i) * (size_t)h * (size_t)w;
                for (int ky = 0; ky < k; ky++)
                    for (int kx = 0; kx < k; kx++) {
                        GR_A wv = (GR_A)wo[((size_t)i * k + ky) * k + kx];
                        for (int iy = 0; iy < h; iy++) {
                            GR_A *ar = acc + (size_t)(2 * iy + ky) * ow + kx;
                            const GR_T *xr = xp + (size_t)iy * w;
                            for (int ix = 0; ix < w; ix++)
                                ar[2 * ix] += wv * (GR_A)xr[ix];
                        }
                    }
            }
            GR_T *yo = y + ((size_t)b * cout + o) * (size_t)oh * (size_t)ow;
            for (size_t p = 0; p < (size_t)oh * (size_t)ow; p++)
                yo[p] = (GR_T)acc[p];
        }
    free(acc);
    return 0;
}

void GR_FN(gpen_op_upfirdn2d)(const GR_T *x, int n_planes, int h, int w, const double k[16], int up,
                              int down, int pad0, int pad1, GR_T *y)
{
    int oh = gpen_upfirdn_size(h, up, down, pad0, pad1);
    int ow = gpen_upfirdn_size(w, up, down, pad0, pad1);
    for (int pl = 0; pl < n_planes; pl++) {
        const GR_T *xp = x + (size_t)pl * h * w;
        GR_T *yp = y + (size_t)pl * oh * ow;
        for (int oy = 0; oy < oh; oy++)
            for (int ox = 0; ox < ow; ox++) {
                GR_A s = 0;
                for (int ty = 0; ty < 4; ty++) {
                    /* position in the zero-inserted signal, before padding */
                    int uy = oy * down + ty - pad0;
                    if (uy < 0 || uy % up != 0 || uy / up >= h)
                        continue;
                    for (int tx = 0; tx < 4; tx++) {
                        int ux = ox * down + tx - pad0;
                        if (ux < 0 || ux % up != 0 || ux / up >= w)
                            continue;
                        /* true convolution: the kernel is flipped */
                        s += (GR_A)k[(3 - ty) * 4 + (3 - tx)] *
                             (GR_A)xp[(size_t)(uy / up) * w + ux / up];
                    }
                }
                yp[(size_t)oy * ow + ox] = (GR_T)s;
            }
    }
}

void GR_FN(gpen_op_flrelu)(GR_T *x, int batch, int c, size_t hw, const float *bias,
                           double bias_scale)
{
    const GR_T gain = (GR_T)1.4142135623730951;
    for (int b = 0; b < batch; b++)
        for (int ch = 0; ch < c; ch++) {
            GR_T bv = (GR_T)bias[ch] * (GR_T)bias_scale;
            GR_T *p = x + ((size_t)b * c + ch) * hw;
            for (size_t q = 0; q < hw; q++) {
                GR_T v = p[q] + bv;
                p[q] = (v < 0 ? v * (GR_T)0.2 : v) * gain;
            }
        }
}

void GR_FN(gpen_op_linear)(const GR_T *x, int batch, int in, const float *w, const float *b,
                           int out, double lr_mul, int act, GR_T *y)
{
    GR_T scale = (GR_T)(lr_mul / sqrt((double)in));
    for (int bi = 0; bi < batch; bi++)
        for (int o = 0; o < out; o++) {
            GR_A s = 0;
            const float *wr = w + (size_t)o * in;
            const GR_T *xr = x + (size_t)bi * in;
            for (int i = 0; i < in; i++)
                s += (GR_A)((GR_T)wr[i] * scale) * (GR_A)xr[i];
            y[(size_t)bi * out + o] = (GR_T)s;
        }
    if (act)
        GR_FN(gpen_op_flrelu)(y, batch, out, 1, b, lr_mul);
    else
        for (int bi = 0; bi < batch; bi++)
            for (int o = 0; o < out; o++)
                y[(size_t)bi * out + o] += (GR_T)b[o] * (GR_T)lr_mul;
}

void GR_FN(gpen_op_pixel_norm)(GR_T *x, int batch, int c)
{
    for (int b = 0; b < batch; b++) {
        GR_T *r = x + (size_t)b * c;
        GR_A s = 0;
        for (int i = 0; i < c; i++)
            s += (GR_A)r[i] * (GR_A)r[i];
        GR_T f = (GR_T)(1.0 / sqrt((double)(GR_T)(s / c) + 1e-8));
        for (int i = 0; i < c; i++)
            r[i] *= f;
    }
}

/* Modulated conv, k x k, pad k/2 (or transposed stride 2 then blur 4K pad (1,1) when up).
 * style [batch, cin]. mode GPEN_MODCONV_EXACT modulates and demodulates the weights per
 * image; GPEN_MODCONV_BATCHED scales the input by the style and the output by
 * d[b,o] = rsqrt(sum_i s^2 sum_k (W scale)^2 + 1e-8). */
int GR_FN(gpen_op_modconv)(const GR_T *x, int batch, int cin, int h, int w, const float *wt,
                           int cout, int k, const GR_T *style, int demod, int up, int mode, GR_T *y)
{
    size_t wn = (size_t)cout * cin * k * k, kk = (size_t)k * k;
    GR_T scale = (GR_T)(1.0 / sqrt((double)cin * k * k));
    int rc = GP_ENOMEM;
    GR_T *ws = NULL, *xs = NULL, *t = NULL, *d = NULL;
    size_t ohw = up ? (size_t)(2 * h + 1) * (size_t)(2 * w + 1) : (size_t)h * w;
    if (mode == GPEN_MODCONV_EXACT) {
        ws = malloc((size_t)batch * wn * sizeof(GR_T));
        if (!ws)
            goto out;
        for (int b = 0; b < batch; b++)
            for (int o = 0; o < cout; o++) {
                GR_T *wo = ws + (size_t)b * wn + (size_t)o * cin * kk;
                GR_A sq = 0;
                for (int i = 0; i < cin; i++)
                    for (size_t q = 0; q < kk; q++) {
                        GR_T v = (GR_T)wt[((size_t)o * cin + i) * kk + q] * scale *
                                 style[(size_t)b * cin + i];
                        wo[(size_t)i * kk + q] = v;
                        sq += (GR_A)v * (GR_A)v;
                    }
                if (demod) {
                    GR_T dv = (GR_T)(1.0 / sqrt((double)(GR_T)sq + 1e-8));
                    for (size_t q = 0; q < (size_t)cin * kk; q++)
                        wo[q] *= dv;
                }
            }
        if (up) {
            t = malloc((size_t)batch * cout * ohw * sizeof(GR_T));
            if (!t || GR_FN(gpen_op_conv_t2d)(x, batch, cin, h, w, ws, wn, cout, k, t))
                goto out;
        } else if (GR_FN(gpen_op_conv2d)(x, batch, cin, h, w, ws, wn, cout, k, 1, k / 2, y)) {
            goto out;
        }
    } else {
        ws = malloc(wn * sizeof(GR_T));
        xs = malloc((size_t)batch * cin * (size_t)h * w * sizeof(GR_T));
        d = malloc((size_t)batch * cout * sizeof(GR_T));
        if (!ws || !xs || !d)
            goto out;
        for (size_t q = 0; q < wn; q++)
            ws[q] = (GR_T)wt[q] * scale;
        for (int b = 0; b < batch; b++)
            for (int i = 0; i < cin; i++) {
                GR_T sv = style[(size_t)b * cin + i];
                const GR_T *xp = x + ((size_t)b * cin + i) * (size_t)h * w;
                GR_T *xq = xs + ((size_t)b * cin + i) * (size_t)h * w;
                for (size_t q = 0; q < (size_t)h * w; q++)
                    xq[q] = xp[q] * sv;
            }
        for (int b = 0; b < batch; b++)
            for (int o = 0; o < cout; o++) {
                GR_A sum = 0;
                for (int i = 0; i < cin; i++) {
                    GR_A w2 = 0;
                    for (size_t q = 0; q < kk; q++) {
                        GR_A v = (GR_A)ws[((size_t)o * cin + i) * kk + q];
                        w2 += v * v;
                    }
                    GR_A sv = (GR_A)style[(size_t)b * cin + i];
                    sum += sv * sv * w2;
                }
                d[(size_t)b * cout + o] = demod ? (GR_T)(1.0 / sqrt((double)sum + 1e-8)) : 1;
            }
        if (up) {
            t = malloc((size_t)batch * cout * ohw * sizeof(GR_T));
            if (!t || GR_FN(gpen_op_conv_t2d)(xs, batch, cin, h, w, ws, 0, cout, k, t))
                goto out;
        } else if (GR_FN(gpen_op_conv2d)(xs, batch, cin, h, w, ws, 0, cout, k, 1, k / 2, y)) {
            goto out;
        }
    }
    if (up) {
        double kb[16];
        gpen_blur_kernel(4.0, kb);
        GR_FN(gpen_op_upfirdn2d)(t, batch * cout, 2 * h + 1, 2 * w + 1, kb, 1, 1, 1, 1, y);
    }
    if (d) {
        size_t hw2 = up ? (size_t)4 * h * w : (size_t)h * w;
        for (int b = 0; b < batch; b++)
            for (int o = 0; o < cout; o++) {
                GR_T dv = d[(size_t)b * cout + o];
                GR_T *yp = y + ((size_t)b * cout + o) * hw2;
                for (size_t q = 0; q < hw2; q++)
                    yp[q] *= dv;
            }
    }
    rc = 0;
out:
    free(ws);
    free(xs);
    free(t);
    free(d);
    return rc;
}

static void GR_FN(tap)(const gpen_ref_opts *o, const char *name, int batch, int c, int h, int w,
                       const GR_T *x)
{
    if (!o->tap)
        return;
    size_t n = (size_t)batch * c * h * w;
    float *f = malloc(n * sizeof(float));
    if (!f)
        return;
    for (size_t i = 0; i < n; i++)
        f[i] = (float)x[i];
    o->tap(o->tap_ctx, name, batch, c, h, w, f);
    free(f);
}

/* Style vectors of one modulated layer: s = w (Wm / sqrt(style_dim))^T + b. */
static void GR_FN(style)(const gpen_model *m, int t_mod_w, int t_mod_b, int cin, const GR_T *wlat,
                         int batch, GR_T *s)
{
    GR_FN(gpen_op_linear)
    (wlat, batch, m->arch.cfg.style_dim, gpen_model_tensor(m, t_mod_w),
     gpen_model_tensor(m, t_mod_b), cin, 1.0, 0, s);
}

/* Styled conv j: modulated conv, concat with nw * e, FusedLeakyReLU over 2*cout. */
static int GR_FN(styled)(const gpen_model *m, int j, const GR_T *hin, int batch, const GR_T *wlat,
                         const GR_T *e, int mode, GR_T *hout)
{
    const gpen_styled_layer *L = &m->arch.conv[j];
    size_t hw = (size_t)L->res_out * L->res_out;
    GR_T *s = malloc((size_t)batch * L->cin * sizeof(GR_T));
    GR_T *y = malloc((size_t)batch * L->cout * hw * sizeof(GR_T));
    int rc = GP_ENOMEM;
    if (!s || !y)
        goto out;
    GR_FN(style)(m, L->t_mod_w, L->t_mod_b, L->cin, wlat, batch, s);
    rc = GR_FN(gpen_op_modconv)(hin, batch, L->cin, L->res_in, L->res_in,
                                gpen_model_tensor(m, L->t_w), L->cout, 3, s, 1, L->up, mode, y);
    if (rc)
        goto out;
    GR_T nw = (GR_T)gpen_model_tensor(m, L->t_nw)[0];
    for (int b = 0; b < batch; b++) {
        memcpy(hout + (size_t)b * 2 * L->cout * hw, y + (size_t)b * L->cout * hw,
               (size_t)L->cout * hw * sizeof(GR_T));
        GR_T *dst = hout + ((size_t)b * 2 * L->cout + L->cout) * hw;
        const GR_T *src = e + (size_t)b * L->cout * hw;
        for (size_t q = 0; q < (size_t)L->cout * hw; q++)
            dst[q] = nw * src[q];
    }
    GR_FN(gpen_op_flrelu)(hout, batch, 2 * L->cout, hw, gpen_model_tensor(m, L->t_b), 1.0);
out:
    free(s);
    free(y);
    return rc;
}

/* ToRGB j: 1x1 modulated conv to 3 channels (no demodulation) + bias + up(skip). */
static int GR_FN(torgb)(const gpen_model *m, int j, const GR_T *h, int batch, const GR_T *wlat,
                        const GR_T *skip, int mode, GR_T *out)
{
    const gpen_rgb_layer *R = &m->arch.rgb[j];
    size_t hw = (size_t)R->res * R->res;
    GR_T *s = malloc((size_t)batch * R->cin * sizeof(GR_T));
    int rc = GP_ENOMEM;
    if (!s)
        goto out;
    GR_FN(style)(m, R->t_mod_w, R->t_mod_b, R->cin, wlat, batch, s);
    rc = GR_FN(gpen_op_modconv)(h, batch, R->cin, R->res, R->res, gpen_model_tensor(m, R->t_w), 3,
                                1, s, 0, 0, mode, out);
    if (rc)
        goto out;
    const float *bias = gpen_model_tensor(m, R->t_b);
    for (int b = 0; b < batch; b++)
        for (int c = 0; c < 3; c++) {
            GR_T *p = out + ((size_t)b * 3 + c) * hw;
            for (size_t q = 0; q < hw; q++)
                p[q] += (GR_T)bias[c];
        }
    if (skip) {
        double kb[16];
        GR_T *u = malloc((size_t)batch * 3 * hw * sizeof(GR_T));
        rc = GP_ENOMEM;
        if (!u)
            goto out;
        gpen_blur_kernel(4.0, kb);
        GR_FN(gpen_op_upfirdn2d)(skip, batch * 3, R->res / 2, R->res / 2, kb, 2, 1, 2, 1, u);
        for (size_t q = 0; q < (size_t)batch * 3 * hw; q++)
            out[q] += u[q];
        free(u);
        rc = 0;
    }
out:
    free(s);
    return rc;
}

static int GR_FN(forward)(const gpen_model *m, const float *in, int batch, const gpen_ref_opts *o,
                          float *out_f)
{
    const gpen_arch *a = &m->arch;
    int S = a->cfg.size, sd = a->cfg.style_dim, rc = GP_ENOMEM;
    GR_T *enc[GPEN_MAX_ENC] = {0};
    GR_T *x = NULL, *t = NULL, *wt = NULL, *fc = NULL, *wl = NULL, *h = NULL, *h2 = NULL;
    GR_T *skip = NULL, *skip2 = NULL;
    char nm[32];
    size_t n_in = (size_t)batch * 3 * S * S;
    x = malloc(n_in * sizeof(GR_T));
    if (!x)
        goto out;
    for (size_t q = 0; q < n_in; q++)
        x[q] = (GR_T)in[q];

    /* Encoder. */
    for (int k = 0; k < a->n_enc; k++) {
        const gpen_enc_layer *L = &a->enc[k];
        size_t wn = (size_t)L->cout * L->cin * L->k * L->k;
        GR_T scale = (GR_T)(1.0 / sqrt((double)L->cin * L->k * L->k));
        const float *w = gpen_model_tensor(m, L->t_w);
        wt = malloc(wn * sizeof(GR_T));
        enc[k] = malloc((size_t)batch * L->cout * L->res_out * L->res_out * sizeof(GR_T));
        if (!wt || !enc[k])
            goto out;
        for (size_t q = 0; q < wn; q++)
            wt[q] = (GR_T)w[q] * scale;
        if (k == 0) {
            rc = GR_FN(gpen_op_conv2d)(x, batch, 3, S, S, wt, 0, L->cout, 1, 1, 0, enc[0]);
        } else {
            int hb = L->res_in + 1;
            double kb[16];
            gpen_blur_kernel(1.0, kb);
            t = malloc((size_t)batch * L->cin * hb * hb * sizeof(GR_T));
            rc = GP_ENOMEM;
            if (!t)
                goto out;
            GR_FN(gpen_op_upfirdn2d)
            (enc[k - 1], batch * L->cin, L->res_in, L->res_in, kb, 1, 1, 2, 2, t);
            rc = GR_FN(gpen_op_conv2d)(t, batch, L->cin, hb, hb, wt, 0, L->cout, 3, 2, 0, enc[k]);
            free(t);
            t = NULL;
        }
        free(wt);
        wt = NULL;
        if (rc)
            goto out;
        rc = GP_ENOMEM;
        GR_FN(gpen_op_flrelu)
        (enc[k], batch, L->cout, (size_t)L->res_out * L->res_out, gpen_model_tensor(m, L->t_b),
         1.0);
        snprintf(nm, sizeof(nm), "enc%d", k);
        GR_FN(tap)(o, nm, batch, L->cout, L->res_out, L->res_out, enc[k]);
    }
    int c4 = gpen_channels(&a->cfg, 4);
    fc = malloc((size_t)batch * sd * sizeof(GR_T));
    wl = malloc((size_t)batch * sd * sizeof(GR_T));
    if (!fc || !wl)
        goto out;
    GR_FN(gpen_op_linear)
    (enc[a->n_enc - 1], batch, c4 * 16, gpen_model_tensor(m, a->t_fc_w),
     gpen_model_tensor(m, a->t_fc_b), sd, 1.0, 1, fc);
    GR_FN(tap)(o, "enc_fc", batch, sd, 1, 1, fc);
    /* Mapping. */
    memcpy(wl, fc, (size_t)batch * sd * sizeof(GR_T));
    GR_FN(gpen_op_pixel_norm)(wl, batch, sd);
    for (int j = 0; j < a->cfg.n_mlp; j++) {
        GR_FN(gpen_op_linear)
        (wl, batch, sd, gpen_model_tensor(m, a->t_map_w[j]), gpen_model_tensor(m, a->t_map_b[j]),
         sd, a->cfg.lr_mlp, 1, fc);
        memcpy(wl, fc, (size_t)batch * sd * sizeof(GR_T));
    }
    GR_FN(tap)(o, "w", batch, sd, 1, 1, wl);

    /* Generator. */
    h = malloc((size_t)batch * c4 * 16 * sizeof(GR_T));
    if (!h)
        goto out;
    for (int b = 0; b < batch; b++)
        for (size_t q = 0; q < (size_t)c4 * 16; q++)
            h[(size_t)b * c4 * 16 + q] = (GR_T)gpen_model_tensor(m, a->t_const)[q];
    for (int j = 0; j < a->n_conv; j++) {
        const gpen_styled_layer *L = &a->conv[j];
        h2 = malloc((size_t)batch * 2 * L->cout * L->res_out * L->res_out * sizeof(GR_T));
        if (!h2)
            goto out;
        rc = GR_FN(styled)(m, j, h, batch, wl, enc[L->e_index], o->modconv, h2);
        if (rc)
            goto out;
        rc = GP_ENOMEM;
        free(h);
        h = h2;
        h2 = NULL;
        snprintf(nm, sizeof(nm), "conv%d", j);
        GR_FN(tap)(o, nm, batch, 2 * L->cout, L->res_out, L->res_out, h);
        if (j % 2 == 0) {
            const gpen_rgb_layer *R = &a->rgb[j / 2];
            skip2 = malloc((size_t)batch * 3 * R->res * R->res * sizeof(GR_T));
            if (!skip2)
                goto out;
            rc = GR_FN(torgb)(m, j / 2, h, batch, wl, skip, o->modconv, skip2);
            if (rc)
                goto out;
            rc = GP_ENOMEM;
            free(skip);
            skip = skip2;
            skip2 = NULL;
            snprintf(nm, sizeof(nm), "rgb%d", j / 2);
            GR_FN(tap)(o, nm, batch, 3, R->res, R->res, skip);
        }
    }
    for (size_t q = 0; q < n_in; q++)
        out_f[q] = (float)skip[q];
    rc = 0;
out:
    for (int k = 0; k < GPEN_MAX_ENC; k++)
        free(enc[k]);
    free(x);
    free(t);
    free(wt);
    free(fc);
    free(wl);
    free(h);
    free(h2);
    free(skip);
    free(skip2);
    return rc;
}

#undef GR_CAT_
#undef GR_CAT
#undef GR_FN
