/* pipe_nets.c: layer lists, weights and the CPU forward of RetinaFace-R50 and ParseNet. */
#include "gpu/ref/pipe_nets.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gpu/ref/gpen_rand.h"
#include "gpu/ref/safetensors.h"

const char *pipe_net_kind_name(pipe_net_kind kind)
{
    return kind == PIPE_RETINAFACE ? "retinaface" : "parsenet";
}

/* ------------------------------------------------------------------ layer lists */

typedef struct {
    pipe_net *net;
    int cap;
    gp_error *err;
} builder;

static int add_conv(builder *bd, const char *name, int cin, int cout, int k, int stride,
                    int reflect, int up, int act, float slope)
{
    pipe_net *n = bd->net;
    if (n->n_conv == bd->cap) {
        int cap = bd->cap ? 2 * bd->cap : 64;
        pipe_conv *c = realloc(n->conv, (size_t)cap * sizeof(*c));
        if (!c)
            return gp_error_set(bd->err, GP_ENOMEM, NULL, 0, 0, name, "out of memory");
        n->conv = c;
        bd->cap = cap;
    }
    pipe_conv *c = &n->conv[n->n_conv++];
    memset(c, 0, sizeof(*c));
    snprintf(c->name, sizeof(c->name), "%s", name);
    c->cin = cin;
    c->cout = cout;
    c->k = k;
    c->stride = stride;
    c->reflect = reflect;
    c->up = up;
    c->act = act;
    c->slope = slope;
    n->n_params += (size_t)cout * cin * k * k + (size_t)cout;
    return 0;
}

/* The conv just added ends a residual branch (its random weights are scaled down). */
static void mark_res_branch(builder *bd)
{
    bd->net->conv[bd->net->n_conv - 1].res_branch = 1;
    bd->net->n_res_blocks++;
}

static int build_retinaface(builder *bd, int wd)
{
    char nm[48];
    int rc = add_conv(bd, "body.conv1", 3, 64 / wd, 7, 2, 0, 0, 1, 0.f);
    const int nb[4] = {3, 4, 6, 3}, planes[4] = {64, 128, 256, 512};
    int inpl = 64 / wd;
    for (int s = 0; s < 4 && !rc; s++)
        for (int i = 0; i < nb[s] && !rc; i++) {
            int p = planes[s] / wd, stride = (i == 0 && s > 0) ? 2 : 1;
            snprintf(nm, sizeof(nm), "body.layer%d.%d.conv1", s + 1, i);
            rc = add_conv(bd, nm, inpl, p, 1, 1, 0, 0, 1, 0.f);
            snprintf(nm, sizeof(nm), "body.layer%d.%d.conv2", s + 1, i);
            rc = rc ? rc : add_conv(bd, nm, p, p, 3, stride, 0, 0, 1, 0.f);
            /* its ReLU acts after the residual add */
            snprintf(nm, sizeof(nm), "body.layer%d.%d.conv3", s + 1, i);
            rc = rc ? rc : add_conv(bd, nm, p, 4 * p, 1, 1, 0, 0, 1, 0.f);
            if (!rc)
                mark_res_branch(bd);
            if (i == 0 && !rc) {
                snprintf(nm, sizeof(nm), "body.layer%d.%d.downsample", s + 1, i);
                rc = add_conv(bd, nm, inpl, 4 * p, 1, stride, 0, 0, 0, 0.f);
            }
            inpl = 4 * p;
        }
    const int c = 256 / wd, cin[3] = {512 / wd, 1024 / wd, 2048 / wd};
    for (int i = 0; i < 3 && !rc; i++) {
        snprintf(nm, sizeof(nm), "fpn.output%d", i + 1);
        rc = add_conv(bd, nm, cin[i], c, 1, 1, 0, 0, 1, 0.f);
    }
    for (int i = 0; i < 2 && !rc; i++) {
        snprintf(nm, sizeof(nm), "fpn.merge%d", i + 1);
        rc = add_conv(bd, nm, c, c, 3, 1, 0, 0, 1, 0.f);
    }
    /* SSH: the ReLU after the concat acts per part, so each last conv carries it */
    static const struct {
        const char *n;
        int in_quarter, out_quarter, relu;
    } ssh[5] = {{"conv3X3", 0, 2, 1},
                {"conv5X5_1", 0, 1, 1},
                {"conv5X5_2", 1, 1, 1},
                {"conv7X7_2", 1, 1, 1},
                {"conv7x7_3", 1, 1, 1}};
    for (int l = 1; l <= 3 && !rc; l++) {
        for (int j = 0; j < 5 && !rc; j++) {
            snprintf(nm, sizeof(nm), "ssh%d.%s", l, ssh[j].n);
            rc = add_conv(bd, nm, ssh[j].in_quarter ? c / 4 : c, ssh[j].out_quarter * c / 4, 3, 1,
                          0, 0, ssh[j].relu, 0.f);
        }
        snprintf(nm, sizeof(nm), "head%d", l - 1);
        rc = rc ? rc : add_conv(bd, nm, c, PIPE_RF_HEAD_CH, 1, 1, 0, 0, 0, 0.f);
    }
    return rc;
}

static int build_parsenet(builder *bd, int wd)
{
    char nm[48];
    const int lo = 32 / wd, hi = 256 / wd;
#define CLIP(x) ((x) < lo ? lo : (x) > hi ? hi : (x))
    int rc = add_conv(bd, "encoder.0", 3, 64 / wd, 3, 1, 1, 0, 0, 0.f);
    int head = 64 / wd;
    /* residual blocks: conv1 (+BN, LeakyReLU 0.2), conv2 (+BN), shortcut conv when the
     * block scales or changes width */
    for (int g = 0; g < 3 && !rc; g++) {
        const char *grp = g == 0 ? "encoder" : g == 1 ? "body" : "decoder";
        int n = g == 1 ? 10 : 4, first = g == 0 ? 1 : 0;
        for (int i = 0; i < n && !rc; i++) {
            int ci = CLIP(head), co = g == 0   ? CLIP(head * 2)
                                      : g == 1 ? CLIP(head)
                                               : CLIP(head / 2);
            int down = g == 0, up = g == 2;
            snprintf(nm, sizeof(nm), "%s.%d.conv1", grp, i + first);
            rc = add_conv(bd, nm, ci, co, 3, 1, 1, up, 1, 0.2f);
            snprintf(nm, sizeof(nm), "%s.%d.conv2", grp, i + first);
            rc = rc ? rc : add_conv(bd, nm, co, co, 3, down ? 2 : 1, 1, 0, 0, 0.f);
            if (!rc)
                mark_res_branch(bd);
            if ((down || up || ci != co) && !rc) {
                snprintf(nm, sizeof(nm), "%s.%d.shortcut", grp, i + first);
                rc = add_conv(bd, nm, ci, co, 3, down ? 2 : 1, 1, up, 0, 0.f);
            }
            head = g == 0 ? head * 2 : g == 2 ? head / 2 : head;
        }
    }
    rc = rc ? rc : add_conv(bd, "out", CLIP(head), PIPE_PN_OUT_CH, 3, 1, 1, 0, 0, 0.f);
#undef CLIP
    return rc;
}

int pipe_net_build(pipe_net_kind kind, int width_div, pipe_net *net, gp_error *err)
{
    memset(net, 0, sizeof(*net));
    if (width_div != 1 && width_div != 2 && width_div != 4 && width_div != 8 && width_div != 16)
        return gp_error_set(err, GP_ERANGE, NULL, 0, 0, "width_div",
                            "must be 1, 2, 4, 8 or 16, not %d", width_div);
    net->kind = kind;
    net->width_div = width_div;
    builder bd = {net, 0, err};
    int rc =
        kind == PIPE_RETINAFACE ? build_retinaface(&bd, width_div) : build_parsenet(&bd, width_div);
    if (rc)
        pipe_net_free(net);
    return rc;
}

int pipe_net_open(pipe_net_kind kind, int width_div, const char *path, uint64_t seed, pipe_net *net,
                  gp_error *err)
{
    int rc = pipe_net_build(kind, width_div, net, err);
    rc = rc ? rc : pipe_net_load(net, path, seed, err);
    if (rc)
        pipe_net_free(net);
    return rc;
}

const pipe_conv *pipe_net_find(const pipe_net *net, const char *name)
{
    for (int i = 0; i < net->n_conv; i++)
        if (strcmp(net->conv[i].name, name) == 0)
            return &net->conv[i];
    return NULL;
}

void pipe_net_free(pipe_net *net)
{
    for (int i = 0; i < net->n_conv; i++) {
        free(net->conv[i].w);
        free(net->conv[i].b);
    }
    free(net->conv);
    memset(net, 0, sizeof(*net));
}

/* ------------------------------------------------------------------ weights */

static int check_meta(const safetensors_file *f, const char *path, const pipe_net *net,
                      gp_error *err)
{
    const char *fmt = safetensors_meta(f, "format"), *kind = safetensors_meta(f, "net");
    const char *wd = safetensors_meta(f, "width_div");
    if (!fmt || strcmp(fmt, PIPE_FORMAT) != 0)
        return gp_error_set(err, GP_EPARSE, path, 0, 0, "format",
                            "metadata format is \"%s\", expected \"%s\" (convert with "
                            "scripts/convert_pipeline_checkpoint.py)",
                            fmt ? fmt : "(none)", PIPE_FORMAT);
    if (!kind || strcmp(kind, pipe_net_kind_name(net->kind)) != 0)
        return gp_error_set(err, GP_EPARSE, path, 0, 0, "net",
                            "the file holds \"%s\", expected \"%s\"", kind ? kind : "(none)",
                            pipe_net_kind_name(net->kind));
    if (wd && atoi(wd) != net->width_div)
        return gp_error_set(err, GP_ERANGE, path, 0, 0, "width_div",
                            "the file is width / %s, expected / %d", wd, net->width_div);
    return 0;
}

static int read_tensor(const safetensors_file *f, const char *path, const char *name, int ndim,
                       const int64_t *shape, float *dst, gp_error *err)
{
    const safetensors_tensor *t = safetensors_find(f, name);
    if (!t)
        return gp_error_set(err, GP_EMISSING, path, 0, 0, name, "tensor missing");
    int ok = t->ndim == ndim;
    for (int d = 0; ok && d < ndim; d++)
        ok = t->shape[d] == shape[d];
    if (!ok) {
        char want[64];
        int n = 0;
        for (int d = 0; d < ndim; d++)
            n += snprintf(want + n, sizeof(want) - (size_t)n, "%s%lld", d ? "," : "",
                          (long long)shape[d]);
        return gp_error_set(err, GP_ERANGE, path, 0, 0, name,
                            "shape does not match the network (expected [%s])", want);
    }
    size_t count = 1;
    for (int d = 0; d < ndim; d++)
        count *= (size_t)shape[d];
    return safetensors_read_f32(f, t, dst, count, err);
}

int pipe_net_load(pipe_net *net, const char *path, uint64_t seed, gp_error *err)
{
    safetensors_file f;
    int rc = 0;
    if (path && (rc = safetensors_open(path, &f, err)))
        return rc;
    if (path)
        rc = check_meta(&f, path, net, err);
    for (int i = 0; i < net->n_conv && !rc; i++) {
        pipe_conv *c = &net->conv[i];
        size_t nw = (size_t)c->cout * c->cin * c->k * c->k;
        free(c->w);
        free(c->b);
        c->w = malloc(nw * sizeof(float));
        c->b = malloc((size_t)c->cout * sizeof(float));
        if (!c->w || !c->b) {
            rc = gp_error_set(err, GP_ENOMEM, path, 0, 0, c->name, "out of memory");
            break;
        }
        char nm[64];
        if (path) {
            int64_t ws[4] = {c->cout, c->cin, c->k, c->k}, bs[1] = {c->cout};
            snprintf(nm, sizeof(nm), "%s.weight", c->name);
            rc = read_tensor(&f, path, nm, 4, ws, c->w, err);
            snprintf(nm, sizeof(nm), "%s.bias", c->name);
            rc = rc ? rc : read_tensor(&f, path, nm, 1, bs, c->b, err);
        } else {
            /* He-scaled: activations keep their scale through the deep stacks; residual
             * branches scaled down, or the sums grow 2x in variance per block */
            double sd = sqrt(2.0 / ((double)c->cin * c->k * c->k));
            if (c->res_branch && net->n_res_blocks > 0)
                sd /= sqrt((double)net->n_res_blocks);
            snprintf(nm, sizeof(nm), "%s.w", c->name);
            uint64_t kw = gpen_rand_key(seed, nm);
            for (size_t j = 0; j < nw; j++)
                c->w[j] = (float)(sd * gpen_rand_normal(kw, j));
            snprintf(nm, sizeof(nm), "%s.b", c->name);
            uint64_t kb = gpen_rand_key(seed, nm);
            for (int j = 0; j < c->cout; j++)
                c->b[j] = (float)(0.05 * gpen_rand_normal(kb, (uint64_t)j));
        }
    }
    if (path && !rc && f.n_tensors != 2 * net->n_conv) {
        /* every expected tensor was found, so the rest are foreign */
        for (int t = 0; t < f.n_tensors; t++) {
            char base[128];
            snprintf(base, sizeof(base), "%s", f.tensor[t].name);
            char *dot = strrchr(base, '.');
            if (dot)
                *dot = 0;
            if (!pipe_net_find(net, base) || !dot ||
                (strcmp(dot + 1, "weight") && strcmp(dot + 1, "bias"))) {
                rc = gp_error_set(err, GP_EUNKNOWN, path, 0, 0, f.tensor[t].name,
                                  "tensor not part of %s", pipe_net_kind_name(net->kind));
                break;
            }
        }
    }
    if (path)
        safetensors_close(&f);
    return rc;
}

/* ------------------------------------------------------------------ CPU forward */

/* One image's activation, NCHW without the batch. */
typedef struct {
    int c, h, w;
    float *d;
} fmap;

static int fmap_alloc(fmap *m, int c, int h, int w, gp_error *err)
{
    m->c = c;
    m->h = h;
    m->w = w;
    m->d = calloc((size_t)c * h * w, sizeof(float));
    return m->d ? 0
                : gp_error_set(err, GP_ENOMEM, NULL, 0, 0, NULL, "out of memory (%dx%dx%d)", c, h,
                               w);
}

static void fmap_free(fmap *m)
{
    free(m->d);
    m->d = NULL;
}

static int reflect_index(int i, int n)
{
    if (n == 1)
        return 0;
    while (i < 0 || i >= n)
        i = i < 0 ? -i : 2 * n - 2 - i;
    return i;
}

/* Input index along one axis for output o and tap t (n: the axis after upsampling), in
 * the stored (not upsampled) input; -1 where zero padding applies. */
static int conv_src(const pipe_conv *c, int o, int t, int n)
{
    int i = o * c->stride + t - c->k / 2;
    if (c->reflect)
        i = reflect_index(i, n);
    else if (i < 0 || i >= n)
        return -1;
    return c->up ? i / 2 : i;
}

/* y = act(conv(up?(x)) + bias [+ res]); res (same shape as y) is added before the act. */
static int conv_forward(const pipe_conv *c, const fmap *x, const fmap *res, fmap *y, gp_error *err)
{
    if (x->c != c->cin)
        return gp_error_set(err, GP_EINVARIANT, NULL, 0, 0, c->name,
                            "input has %d channels, the conv %d", x->c, c->cin);
    int ih = c->up ? 2 * x->h : x->h, iw = c->up ? 2 * x->w : x->w, pad = c->k / 2;
    int oh = (ih + 2 * pad - c->k) / c->stride + 1, ow = (iw + 2 * pad - c->k) / c->stride + 1;
    if (oh < 1 || ow < 1)
        return gp_error_set(err, GP_ERANGE, NULL, 0, 0, c->name, "input %dx%d too small", x->h,
                            x->w);
    if (c->reflect && (ih <= pad || iw <= pad))
        return gp_error_set(err, GP_ERANGE, NULL, 0, 0, c->name, "input %dx%d too small to reflect",
                            ih, iw);
    int rc = fmap_alloc(y, c->cout, oh, ow, err);
    if (rc)
        return rc;
    for (int o = 0; o < c->cout; o++)
        for (int oy = 0; oy < oh; oy++)
            for (int ox = 0; ox < ow; ox++) {
                double acc = c->b[o];
                for (int ky = 0; ky < c->k; ky++) {
                    int sy = conv_src(c, oy, ky, ih);
                    if (sy < 0)
                        continue;
                    for (int kx = 0; kx < c->k; kx++) {
                        int sx = conv_src(c, ox, kx, iw);
                        if (sx < 0)
                            continue;
                        const float *wp = c->w + ((size_t)o * c->cin * c->k + ky) * c->k + kx;
                        const float *xp = x->d + (size_t)sy * x->w + sx;
                        for (int i = 0; i < c->cin; i++)
                            acc +=
                                (double)wp[(size_t)i * c->k * c->k] * xp[(size_t)i * x->h * x->w];
                    }
                }
                size_t at = ((size_t)o * oh + oy) * ow + ox;
                if (res)
                    acc += res->d[at];
                if (c->act && acc < 0)
                    acc *= c->slope;
                y->d[at] = (float)acc;
            }
    return 0;
}

static int conv_named(const pipe_net *net, const char *name, const fmap *x, const fmap *res,
                      fmap *y, gp_error *err)
{
    const pipe_conv *c = pipe_net_find(net, name);
    if (!c || !c->w)
        return gp_error_set(err, GP_EINVARIANT, NULL, 0, 0, name,
                            c ? "weights not loaded" : "no such layer");
    if (res && (res->c != c->cout))
        return gp_error_set(err, GP_EINVARIANT, NULL, 0, 0, name, "residual has %d channels",
                            res->c);
    return conv_forward(c, x, res, y, err);
}

/* PyTorch's legacy 'nearest' index for an output of `out` samples from `in`. */
static int nearest_src(int dst, int in, int out)
{
    if (out == in)
        return dst;
    if (out == 2 * in)
        return dst >> 1;
    int s = (int)floorf((float)dst * ((float)in / (float)out));
    return s < in - 1 ? s : in - 1;
}

/* a += nearest-resize(b) to a's size */
static void add_nearest(fmap *a, const fmap *b)
{
    for (int c = 0; c < a->c; c++)
        for (int y = 0; y < a->h; y++)
            for (int x = 0; x < a->w; x++)
                a->d[((size_t)c * a->h + y) * a->w + x] +=
                    b->d[((size_t)c * b->h + nearest_src(y, b->h, a->h)) * b->w +
                         nearest_src(x, b->w, a->w)];
}

int pipe_rf_level_size(int n, int level)
{
    /* conv1 (7x7 s2 p3), maxpool (3x3 s2 p1), then a 3x3 s2 p1 conv per stage 2..4 */
    n = (n + 6 - 7) / 2 + 1;
    n = (n + 2 - 3) / 2 + 1;
    for (int s = 0; s <= level; s++)
        n = (n + 2 - 3) / 2 + 1;
    return n;
}

static int maxpool3s2(const fmap *x, fmap *y, gp_error *err)
{
    int oh = (x->h + 2 - 3) / 2 + 1, ow = (x->w + 2 - 3) / 2 + 1;
    int rc = fmap_alloc(y, x->c, oh, ow, err);
    for (int c = 0; c < x->c && !rc; c++)
        for (int oy = 0; oy < oh; oy++)
            for (int ox = 0; ox < ow; ox++) {
                float m = -FLT_MAX;
                for (int ky = 0; ky < 3; ky++)
                    for (int kx = 0; kx < 3; kx++) {
                        int iy = 2 * oy + ky - 1, ix = 2 * ox + kx - 1;
                        if (iy >= 0 && iy < x->h && ix >= 0 && ix < x->w) {
                            float v = x->d[((size_t)c * x->h + iy) * x->w + ix];
                            m = v > m ? v : m;
                        }
                    }
                y->d[((size_t)c * oh + oy) * ow + ox] = m;
            }
    return rc;
}

/* Replaces *x by y (frees the old x). */
static void fmap_move(fmap *x, fmap *y)
{
    fmap_free(x);
    *x = *y;
    y->d = NULL;
}

static int retinaface_image(const pipe_net *net, const fmap *in, fmap lvl[3], fmap heads[3],
                            gp_error *err)
{
    char nm[64];
    fmap x = {0}, t = {0}, u = {0}, r = {0};
    int rc = conv_named(net, "body.conv1", in, NULL, &t, err);
    rc = rc ? rc : maxpool3s2(&t, &x, err);
    fmap_free(&t);
    const int nb[4] = {3, 4, 6, 3};
    for (int s = 0; s < 4 && !rc; s++) {
        for (int i = 0; i < nb[s] && !rc; i++) {
            snprintf(nm, sizeof(nm), "body.layer%d.%d.conv1", s + 1, i);
            rc = conv_named(net, nm, &x, NULL, &t, err);
            snprintf(nm, sizeof(nm), "body.layer%d.%d.conv2", s + 1, i);
            rc = rc ? rc : conv_named(net, nm, &t, NULL, &u, err);
            fmap_free(&t);
            const fmap *idt = &x;
            if (i == 0 && !rc) {
                snprintf(nm, sizeof(nm), "body.layer%d.%d.downsample", s + 1, i);
                rc = conv_named(net, nm, &x, NULL, &r, err);
                idt = &r;
            }
            snprintf(nm, sizeof(nm), "body.layer%d.%d.conv3", s + 1, i);
            rc = rc ? rc : conv_named(net, nm, &u, idt, &t, err);
            fmap_free(&u);
            fmap_free(&r);
            if (!rc)
                fmap_move(&x, &t);
        }
        if (s >= 1 && !rc) { /* layer2..4 feed the FPN */
            snprintf(nm, sizeof(nm), "fpn.output%d", s);
            rc = conv_named(net, nm, &x, NULL, &lvl[s - 1], err);
        }
    }
    fmap_free(&x);
    /* top-down: merge2(o2 + up(o3)), then merge1(o1 + up(merged o2)) */
    for (int i = 1; i >= 0 && !rc; i--) {
        add_nearest(&lvl[i], &lvl[i + 1]);
        snprintf(nm, sizeof(nm), "fpn.merge%d", i + 1);
        rc = conv_named(net, nm, &lvl[i], NULL, &t, err);
        if (!rc)
            fmap_move(&lvl[i], &t);
    }
    for (int l = 0; l < 3 && !rc; l++) {
        const pipe_conv *c3 = pipe_net_find(net, "ssh1.conv3X3");
        int q = c3 ? c3->cout / 2 : 0; /* a quarter of the SSH width */
        fmap a = {0}, b1 = {0}, b = {0}, c7 = {0}, c = {0}, cat = {0};
        snprintf(nm, sizeof(nm), "ssh%d.conv3X3", l + 1);
        rc = conv_named(net, nm, &lvl[l], NULL, &a, err);
        snprintf(nm, sizeof(nm), "ssh%d.conv5X5_1", l + 1);
        rc = rc ? rc : conv_named(net, nm, &lvl[l], NULL, &b1, err);
        snprintf(nm, sizeof(nm), "ssh%d.conv5X5_2", l + 1);
        rc = rc ? rc : conv_named(net, nm, &b1, NULL, &b, err);
        snprintf(nm, sizeof(nm), "ssh%d.conv7X7_2", l + 1);
        rc = rc ? rc : conv_named(net, nm, &b1, NULL, &c7, err);
        snprintf(nm, sizeof(nm), "ssh%d.conv7x7_3", l + 1);
        rc = rc ? rc : conv_named(net, nm, &c7, NULL, &c, err);
        rc = rc ? rc : fmap_alloc(&cat, 4 * q, lvl[l].h, lvl[l].w, err);
        if (!rc) {
            size_t hw = (size_t)lvl[l].h * lvl[l].w;
            memcpy(cat.d, a.d, 2 * q * hw * sizeof(float));
            memcpy(cat.d + 2 * q * hw, b.d, q * hw * sizeof(float));
            memcpy(cat.d + 3 * q * hw, c.d, q * hw * sizeof(float));
            snprintf(nm, sizeof(nm), "head%d", l);
            rc = conv_named(net, nm, &cat, NULL, &heads[l], err);
        }
        fmap_free(&a);
        fmap_free(&b1);
        fmap_free(&b);
        fmap_free(&c7);
        fmap_free(&c);
        fmap_free(&cat);
    }
    return rc;
}

int pipe_retinaface_forward(const pipe_net *net, const float *in, int batch, int h, int w,
                            float *out[3], gp_error *err)
{
    if (net->kind != PIPE_RETINAFACE)
        return gp_error_set(err, GP_EINVARIANT, NULL, 0, 0, "net", "not a RetinaFace");
    if (h < 32 || w < 32)
        return gp_error_set(err, GP_ERANGE, NULL, 0, 0, "size",
                            "RetinaFace needs at least 32x32, not %dx%d", h, w);
    int rc = 0;
    for (int bi = 0; bi < batch && !rc; bi++) {
        fmap x = {3, h, w, (float *)(in + (size_t)bi * 3 * h * w)}; /* read only */
        fmap lvl[3] = {{0}}, heads[3] = {{0}};
        rc = retinaface_image(net, &x, lvl, heads, err);
        for (int l = 0; l < 3; l++) {
            if (!rc) {
                size_t n = (size_t)PIPE_RF_HEAD_CH * heads[l].h * heads[l].w;
                memcpy(out[l] + (size_t)bi * n, heads[l].d, n * sizeof(float));
            }
            fmap_free(&lvl[l]);
            fmap_free(&heads[l]);
        }
    }
    return rc;
}

/* One ParseNet residual block (group grp, index i). */
static int parse_block(const pipe_net *net, const char *grp, int i, fmap *x, gp_error *err)
{
    char nm[64], sc[64];
    fmap t = {0}, s = {0}, y = {0};
    snprintf(sc, sizeof(sc), "%s.%d.shortcut", grp, i);
    const fmap *idt = x;
    int rc = 0;
    if (pipe_net_find(net, sc)) {
        rc = conv_named(net, sc, x, NULL, &s, err);
        idt = &s;
    }
    snprintf(nm, sizeof(nm), "%s.%d.conv1", grp, i);
    rc = rc ? rc : conv_named(net, nm, x, NULL, &t, err);
    snprintf(nm, sizeof(nm), "%s.%d.conv2", grp, i);
    rc = rc ? rc : conv_named(net, nm, &t, idt, &y, err);
    fmap_free(&t);
    fmap_free(&s);
    if (!rc)
        fmap_move(x, &y);
    return rc;
}

int pipe_parsenet_forward(const pipe_net *net, const float *in, int batch, int size, float *out,
                          gp_error *err)
{
    if (net->kind != PIPE_PARSENET)
        return gp_error_set(err, GP_EINVARIANT, NULL, 0, 0, "net", "not a ParseNet");
    if (size < 32 || size % 16)
        return gp_error_set(err, GP_ERANGE, NULL, 0, 0, "size",
                            "ParseNet needs a multiple of 16 >= 32, not %d", size);
    int rc = 0;
    for (int bi = 0; bi < batch && !rc; bi++) {
        fmap in0 = {3, size, size, (float *)(in + (size_t)bi * 3 * size * size)}; /* read only */
        fmap x = {0}, feat = {0}, y = {0};
        rc = conv_named(net, "encoder.0", &in0, NULL, &x, err);
        for (int i = 1; i <= 4 && !rc; i++)
            rc = parse_block(net, "encoder", i, &x, err);
        rc = rc ? rc : fmap_alloc(&feat, x.c, x.h, x.w, err);
        if (!rc)
            memcpy(feat.d, x.d, (size_t)x.c * x.h * x.w * sizeof(float));
        for (int i = 0; i < 10 && !rc; i++)
            rc = parse_block(net, "body", i, &x, err);
        if (!rc) /* x = feat + body(feat) */
            for (size_t j = 0; j < (size_t)x.c * x.h * x.w; j++)
                x.d[j] += feat.d[j];
        for (int i = 0; i < 4 && !rc; i++)
            rc = parse_block(net, "decoder", i, &x, err);
        rc = rc ? rc : conv_named(net, "out", &x, NULL, &y, err);
        if (!rc)
            memcpy(out + (size_t)bi * PIPE_PN_OUT_CH * size * size, y.d,
                   (size_t)PIPE_PN_OUT_CH * size * size * sizeof(float));
        fmap_free(&x);
        fmap_free(&feat);
        fmap_free(&y);
    }
    return rc;
}
