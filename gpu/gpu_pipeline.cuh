/* gpu_pipeline.cuh: the rest of the enhancement pipeline on the GPU, included by
 * gpu_cuda.cu: RetinaFace-ResNet50 (+FPN, SSH, heads), ParseNet (face_parse), image
 * kernels (detector resize, 5-point similarity warp, paste-back, blend), the engine that
 * owns weights and per-slot buffers, and the gpu.h entry points. Weights of RetinaFace
 * and ParseNet are deterministic random (He init, batch norm folded into the bias). */
#include <thread>

extern "C" {
#include "gpu/jpeg_gpu.h"
#include "gpu/jpeg_io.h"
}

/* ------------------------------------------------------------------ image kernels */

/* Bilinear resize of RGB8 [H,W,3] to the detector input NHWC T [dh,dw,8]: BGR - mean. */
template <typename T>
__global__ void det_resize_kernel(const uint8_t *img, int H, int W, int dh, int dw, T *out)
{
    int idx = blockIdx.x * blockDim.x + threadIdx.x;
    if (idx >= dh * dw)
        return;
    int y = idx / dw, x = idx % dw;
    float fy = (y + 0.5f) * H / dh - 0.5f, fx = (x + 0.5f) * W / dw - 0.5f;
    int y0 = max(0, min(H - 1, (int)floorf(fy))), x0 = max(0, min(W - 1, (int)floorf(fx)));
    int y1 = min(H - 1, y0 + 1), x1 = min(W - 1, x0 + 1);
    float wy = fminf(fmaxf(fy - y0, 0.f), 1.f), wx = fminf(fmaxf(fx - x0, 0.f), 1.f);
    const float mean[3] = {104.f, 117.f, 123.f};
    T *o = out + (size_t)idx * 8;
#pragma unroll
    for (int c = 0; c < 3; c++) {
        int sc = 2 - c; /* BGR */
        float v = (1 - wy) * ((1 - wx) * img[((size_t)y0 * W + x0) * 3 + sc] + wx * img[((size_t)y0 * W + x1) * 3 + sc]) +
                  wy * ((1 - wx) * img[((size_t)y1 * W + x0) * 3 + sc] + wx * img[((size_t)y1 * W + x1) * 3 + sc]);
        o[c] = from_f<T>(v - mean[c]);
    }
#pragma unroll
    for (int c = 3; c < 8; c++)
        o[c] = from_f<T>(0.f);
}

__device__ __forceinline__ float cubic_w(float t)
{
    const float A = -0.75f; /* OpenCV's bicubic */
    t = fabsf(t);
    if (t <= 1.f)
        return ((A + 2.f) * t - (A + 3.f)) * t * t + 1.f;
    if (t < 2.f)
        return ((A * t - 5.f * A) * t + 8.f * A) * t - 4.f * A;
    return 0.f;
}

/* Per face f: crop[f] (float NCHW [3,S,S] in [-1,1]) from RGB8 by the inverse affine
 * (x, y) = inv[f] * (u, v, 1), bicubic, constant border. */
__global__ void warp_face_kernel(const uint8_t *img, int H, int W, const float *inv, int S, float *crop)
{
    int f = blockIdx.y;
    int idx = blockIdx.x * blockDim.x + threadIdx.x;
    if (idx >= S * S)
        return;
    int v = idx / S, u = idx % S;
    const float *m = inv + f * 6;
    float x = m[0] * u + m[1] * v + m[2], y = m[3] * u + m[4] * v + m[5];
    int xi = (int)floorf(x), yi = (int)floorf(y);
    float acc[3] = {0.f, 0.f, 0.f};
    for (int j = -1; j <= 2; j++) {
        float wy = cubic_w(y - (yi + j));
        int yy = yi + j;
        if (yy < 0 || yy >= H)
            continue;
        for (int i = -1; i <= 2; i++) {
            int xx = xi + i;
            if (xx < 0 || xx >= W)
                continue;
            float w = wy * cubic_w(x - xx);
            const uint8_t *p = img + ((size_t)yy * W + xx) * 3;
            acc[0] += w * p[0];
            acc[1] += w * p[1];
            acc[2] += w * p[2];
        }
    }
    for (int c = 0; c < 3; c++)
        crop[(((size_t)f * 3 + c) * S) * S + idx] = acc[c] / 127.5f - 1.f;
}

/* ParseNet logits NHWC T [B,S,S,Cp] (channels 3..21 = 19 classes) -> binary mask float
 * [B,S,S] by argmax and GPEN's colour map (background, hat and cloth out). */
template <typename T>
__global__ void parse_mask_kernel(const T *logits, int B, int S, int Cp, float *mask)
{
    size_t idx = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (idx >= (size_t)B * S * S)
        return;
    const T *p = logits + idx * Cp + 3;
    int best = 0;
    float bv = to_f<T>(p[0]);
    for (int c = 1; c < 19; c++) {
        float v = to_f<T>(p[c]);
        if (v > bv) {
            bv = v;
            best = c;
        }
    }
    mask[idx] = (best == 0 || best == 14 || best == 18) ? 0.f : 1.f;
}

/* Separable box-ish blur (radius r, triangle weights) along x (dir 0) or y (dir 1). */
__global__ void mask_blur_kernel(const float *in, int B, int S, int r, int dir, float *out)
{
    size_t idx = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (idx >= (size_t)B * S * S)
        return;
    int b = (int)(idx / ((size_t)S * S)), p = (int)(idx % ((size_t)S * S));
    int y = p / S, x = p % S;
    float acc = 0.f, wsum = 0.f;
    for (int t = -r; t <= r; t++) {
        int yy = dir ? y + t : y, xx = dir ? x : x + t;
        if (yy < 0 || yy >= S || xx < 0 || xx >= S)
            continue;
        float w = (float)(r + 1 - abs(t));
        acc += w * in[((size_t)b * S + yy) * S + xx];
        wsum += w;
    }
    out[idx] = acc / wsum;
}

/* Paste face f back: for each image pixel in its box, sample the restored face (float
 * NCHW [-1,1]) and mask bilinearly through fwd[f] (image -> crop); keep the larger mask. */
__global__ void paste_kernel(const float *face, const float *mask, int S, const float *fwd, int f,
                             int bx0, int by0, int bw, int bh, int W, uint8_t *acc_rgb, float *acc_mask)
{
    int idx = blockIdx.x * blockDim.x + threadIdx.x;
    if (idx >= bw * bh)
        return;
    int x = bx0 + idx % bw, y = by0 + idx / bw;
    const float *m = fwd + f * 6;
    float u = m[0] * x + m[1] * y + m[2], v = m[3] * x + m[4] * y + m[5];
    if (u < 0.f || v < 0.f || u > S - 1.f || v > S - 1.f)
        return;
    int u0 = min((int)u, S - 2), v0 = min((int)v, S - 2);
    float fu = u - u0, fv = v - v0;
    auto samp = [&](const float *pl) {
        return (1 - fv) * ((1 - fu) * pl[v0 * S + u0] + fu * pl[v0 * S + u0 + 1]) +
               fv * ((1 - fu) * pl[(v0 + 1) * S + u0] + fu * pl[(v0 + 1) * S + u0 + 1]);
    };
    float mk = samp(mask + (size_t)f * S * S);
    size_t o = (size_t)y * W + x;
    if (mk <= acc_mask[o])
        return;
    acc_mask[o] = mk;
    for (int c = 0; c < 3; c++) {
        float val = (samp(face + ((size_t)f * 3 + c) * S * S) + 1.f) * 127.5f;
        acc_rgb[o * 3 + c] = (uint8_t)fminf(fmaxf(val + 0.5f, 0.f), 255.f);
    }
}

/* img*(1-mask) + faces*mask over the whole image. */
__global__ void blend_kernel(const uint8_t *img, const uint8_t *faces, const float *mask, size_t n,
                             uint8_t *out)
{
    size_t idx = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (idx >= n)
        return;
    float m = mask[idx];
    for (int c = 0; c < 3; c++) {
        float v = img[idx * 3 + c] * (1.f - m) + faces[idx * 3 + c] * m;
        out[idx * 3 + c] = (uint8_t)fminf(v + 0.5f, 255.f);
    }
}

/* RetinaFace scores: softmax over 2 logits per anchor, count those above 0.9. */
template <typename T>
__global__ void det_score_kernel(const T *head, size_t n_pix, int Cp, unsigned *count)
{
    size_t idx = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (idx >= n_pix * 2)
        return;
    const T *p = head + (idx >> 1) * Cp + (idx & 1) * 2;
    float a = to_f<T>(p[0]), b = to_f<T>(p[1]);
    float s = 1.f / (1.f + expf(a - b));
    if (s > 0.9f)
        atomicAdd(count, 1u);
}

/* dst[B,H1,W1,C] += src[B,H2,W2,C] resized nearest (FPN top-down). */
template <typename T>
__global__ void add_nearest_kernel(T *dst, int H1, int W1, const T *src, int H2, int W2, int C)
{
    size_t idx = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (idx >= (size_t)H1 * W1 * C)
        return;
    int c = (int)(idx % C);
    int p = (int)(idx / C), y = p / W1, x = p % W1;
    int sy = y * H2 / H1, sx = x * W2 / W1;
    dst[idx] = from_f<T>(to_f<T>(dst[idx]) + to_f<T>(src[((size_t)sy * W2 + sx) * C + c]));
}

template <typename T> __global__ void add_kernel(T *dst, const T *src, size_t n)
{
    size_t idx = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (idx < n)
        dst[idx] = from_f<T>(to_f<T>(dst[idx]) + to_f<T>(src[idx]));
}

/* 3x3 stride-2 max pool, pad 1, NHWC. */
template <typename T>
__global__ void maxpool_kernel(const T *x, int H, int W, int C, int OH, int OW, T *y)
{
    size_t idx = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (idx >= (size_t)OH * OW * C)
        return;
    int c = (int)(idx % C), p = (int)(idx / C), oy = p / OW, ox = p % OW;
    float m = -3.0e38f;
    for (int ty = 0; ty < 3; ty++)
        for (int tx = 0; tx < 3; tx++) {
            int iy = oy * 2 - 1 + ty, ix = ox * 2 - 1 + tx;
            if (iy >= 0 && iy < H && ix >= 0 && ix < W)
                m = fmaxf(m, to_f<T>(x[((size_t)iy * W + ix) * C + c]));
        }
    y[idx] = from_f<T>(m);
}

/* ------------------------------------------------------------------ RetinaFace-R50 */

template <typename T> struct retinaface {
    conv_layer<T> conv1;
    struct block {
        conv_layer<T> c1, c2, c3, down;
        int has_down;
    } blk[16];
    int nblk, stage_end[4];
    conv_layer<T> lat[3], merge[2];
    struct {
        conv_layer<T> c3, c5_1, c5_2, c7_2, c7_3;
    } ssh[3];
    conv_layer<T> head[3];
};

/* The CUDA RetinaFace from the loaded layer list (gpu/ref/pipe_nets: official module
 * names, BatchNorm folded). The input has 3 channels padded to 8. */
template <typename T>
static int retinaface_init(dev_arena &ar, retinaface<T> &r, const pipe_net &net, gp_error *err)
{
    char nm[64];
    const int RELU = 1;
    auto L = [&](conv_layer<T> &l, const char *name, int ci, int co, int k, int s, int act) {
        return conv_layer_init<T>(ar, l, net, name, ci, co, k, s, PAD_ZERO, act, 0.f, err);
    };
    if (int rc = L(r.conv1, "body.conv1", 3, 64, 7, 2, RELU))
        return rc;
    const int nb[4] = {3, 4, 6, 3}, planes[4] = {64, 128, 256, 512};
    int inpl = 64, b = 0;
    for (int s = 0; s < 4; s++) {
        for (int i = 0; i < nb[s]; i++, b++) {
            int stride = (i == 0 && s > 0) ? 2 : 1, p = planes[s];
            auto &B = r.blk[b];
            snprintf(nm, sizeof(nm), "body.layer%d.%d.conv1", s + 1, i);
            if (int rc = L(B.c1, nm, inpl, p, 1, 1, RELU))
                return rc;
            snprintf(nm, sizeof(nm), "body.layer%d.%d.conv2", s + 1, i);
            if (int rc = L(B.c2, nm, p, p, 3, stride, RELU))
                return rc;
            snprintf(nm, sizeof(nm), "body.layer%d.%d.conv3", s + 1, i);
            if (int rc = L(B.c3, nm, p, 4 * p, 1, 1, RELU)) /* ReLU after the residual add */
                return rc;
            B.has_down = i == 0;
            if (B.has_down) {
                snprintf(nm, sizeof(nm), "body.layer%d.%d.downsample", s + 1, i);
                if (int rc = L(B.down, nm, inpl, 4 * p, 1, stride, 0))
                    return rc;
            }
            inpl = 4 * p;
        }
        r.stage_end[s] = b;
    }
    r.nblk = b;
    const int cin[3] = {512, 1024, 2048};
    for (int i = 0; i < 3; i++) {
        snprintf(nm, sizeof(nm), "fpn.output%d", i + 1);
        if (int rc = L(r.lat[i], nm, cin[i], 256, 1, 1, RELU))
            return rc;
    }
    for (int i = 0; i < 2; i++) {
        snprintf(nm, sizeof(nm), "fpn.merge%d", i + 1);
        if (int rc = L(r.merge[i], nm, 256, 256, 3, 1, RELU))
            return rc;
    }
    for (int i = 0; i < 3; i++) {
        /* the ReLU after the SSH concat acts per part: each part's last conv carries it */
        snprintf(nm, sizeof(nm), "ssh%d.conv3X3", i + 1);
        if (int rc = L(r.ssh[i].c3, nm, 256, 128, 3, 1, RELU))
            return rc;
        snprintf(nm, sizeof(nm), "ssh%d.conv5X5_1", i + 1);
        if (int rc = L(r.ssh[i].c5_1, nm, 256, 64, 3, 1, RELU))
            return rc;
        snprintf(nm, sizeof(nm), "ssh%d.conv5X5_2", i + 1);
        if (int rc = L(r.ssh[i].c5_2, nm, 64, 64, 3, 1, RELU))
            return rc;
        snprintf(nm, sizeof(nm), "ssh%d.conv7X7_2", i + 1);
        if (int rc = L(r.ssh[i].c7_2, nm, 64, 64, 3, 1, RELU))
            return rc;
        snprintf(nm, sizeof(nm), "ssh%d.conv7x7_3", i + 1);
        if (int rc = L(r.ssh[i].c7_3, nm, 64, 64, 3, 1, RELU))
            return rc;
        /* class (2x2) + box (2x4) + landmarks (2x10) heads as one 1x1 conv */
        snprintf(nm, sizeof(nm), "head%d", i);
        if (int rc = L(r.head[i], nm, 256, PIPE_RF_HEAD_CH, 1, 1, 0))
            return rc;
    }
    return 0;
}

template <typename T> struct det_acts {
    T *in, *buf[5], *c[3], *p[3], *s[3], *hd[3];
    unsigned *count;
    size_t cap_px; /* detector input pixels the buffers hold */
};

template <typename T> static int det_acts_init(dev_arena &ar, det_acts<T> &d, int dh, int dw, gp_error *err)
{
    d.cap_px = (size_t)dh * dw;
    if (int rc = ar.alloc(&d.in, (size_t)dh * dw * 8, err))
        return rc;
    for (int i = 0; i < 5; i++)
        if (int rc = ar.alloc(&d.buf[i], (size_t)(dh / 2 + 2) * (dw / 2 + 2) * 64, err))
            return rc;
    const size_t cc[3] = {512, 1024, 2048};
    for (int i = 0; i < 3; i++) {
        size_t lvl = (size_t)((dh >> (3 + i)) + 2) * ((dw >> (3 + i)) + 2);
        if (int rc = ar.alloc(&d.c[i], lvl * cc[i], err))
            return rc;
        if (int rc = ar.alloc(&d.p[i], lvl * 256, err))
            return rc;
        if (int rc = ar.alloc(&d.s[i], lvl * 256, err))
            return rc;
        if (int rc = ar.alloc(&d.hd[i], lvl * 32, err))
            return rc;
    }
    return ar.alloc(&d.count, 1, err);
}

/* RetinaFace forward on d.in [dh, dw, 8]; counts anchors scoring > 0.9 into d.count. */
template <typename T>
static int retinaface_enqueue(const retinaface<T> &r, det_acts<T> &d, int dh, int dw, const conv_hw &hw,
                              cudaStream_t st, gp_error *err)
{
    int H, W, h2, w2;
    conv_layer_run<T>(r.conv1, d.in, 1, dh, dw, 0, d.buf[0], 64, 0, nullptr, 0, hw, st, &H, &W);
    CK_LAUNCH();
    {
        int oh = (H + 2 - 3) / 2 + 1, ow = (W + 2 - 3) / 2 + 1;
        maxpool_kernel<T><<<blocks_for((size_t)oh * ow * 64, 256), 256, 0, st>>>(d.buf[0], H, W, 64, oh, ow, d.buf[1]);
        CK_LAUNCH();
        H = oh;
        W = ow;
    }
    int x = 1; /* buffer holding the current activation */
    int C = 64;
    int lvl = 0, lh[3], lw[3];
    for (int b = 0; b < r.nblk; b++) {
        const auto &B = r.blk[b];
        int t1 = (x + 1) % 5, t2 = (x + 2) % 5, t3 = (x + 3) % 5, o = (x + 4) % 5;
        int oh, ow;
        conv_layer_run<T>(B.c1, d.buf[x], 1, H, W, 0, d.buf[t1], B.c1.cout, 0, nullptr, 0, hw, st, &h2, &w2);
        conv_layer_run<T>(B.c2, d.buf[t1], 1, H, W, 0, d.buf[t2], B.c2.cout, 0, nullptr, 0, hw, st, &oh, &ow);
        const T *res = d.buf[x];
        if (B.has_down) {
            conv_layer_run<T>(B.down, d.buf[x], 1, H, W, 0, d.buf[t3], B.down.cout, 0, nullptr, 0, hw, st, &h2, &w2);
            res = d.buf[t3];
        }
        bool stage_out = b + 1 == r.stage_end[1] || b + 1 == r.stage_end[2] || b + 1 == r.stage_end[3];
        T *dst = stage_out ? d.c[lvl] : d.buf[o];
        conv_layer_run<T>(B.c3, d.buf[t2], 1, oh, ow, 0, dst, B.c3.cout, 0, res, B.c3.cout, hw, st, &h2, &w2);
        CK_LAUNCH();
        H = oh;
        W = ow;
        C = B.c3.cout;
        if (stage_out) {
            lh[lvl] = H;
            lw[lvl] = W;
            /* keep C3..C5; continue from a copy in the rotating buffers */
            CK(cudaMemcpyAsync(d.buf[o], dst, (size_t)H * W * C * sizeof(T), cudaMemcpyDeviceToDevice, st));
            lvl++;
        }
        x = o;
    }
    /* FPN: lateral 1x1, top-down nearest add, 3x3 merges */
    for (int i = 0; i < 3; i++) {
        conv_layer_run<T>(r.lat[i], d.c[i], 1, lh[i], lw[i], 0, d.p[i], 256, 0, nullptr, 0, hw, st, &h2, &w2);
        CK_LAUNCH();
    }
    for (int i = 1; i >= 0; i--) {
        add_nearest_kernel<T><<<blocks_for((size_t)lh[i] * lw[i] * 256, 256), 256, 0, st>>>(
            d.p[i], lh[i], lw[i], d.p[i + 1], lh[i + 1], lw[i + 1], 256);
        CK_LAUNCH();
        conv_layer_run<T>(r.merge[i], d.p[i], 1, lh[i], lw[i], 0, d.s[i], 256, 0, nullptr, 0, hw, st, &h2, &w2);
        CK(cudaMemcpyAsync(d.p[i], d.s[i], (size_t)lh[i] * lw[i] * 256 * sizeof(T), cudaMemcpyDeviceToDevice, st));
    }
    CK(cudaMemsetAsync(d.count, 0, sizeof(unsigned), st));
    for (int i = 0; i < 3; i++) {
        const auto &S = r.ssh[i];
        T *t = d.buf[0], *u = d.buf[1];
        size_t px = (size_t)lh[i] * lw[i];
        conv_layer_run<T>(S.c3, d.p[i], 1, lh[i], lw[i], 0, d.s[i], 256, 0, nullptr, 0, hw, st, &h2, &w2);
        conv_layer_run<T>(S.c5_1, d.p[i], 1, lh[i], lw[i], 0, t, 64, 0, nullptr, 0, hw, st, &h2, &w2);
        conv_layer_run<T>(S.c5_2, t, 1, lh[i], lw[i], 0, d.s[i], 256, 128, nullptr, 0, hw, st, &h2, &w2);
        conv_layer_run<T>(S.c7_2, t, 1, lh[i], lw[i], 0, u, 64, 0, nullptr, 0, hw, st, &h2, &w2);
        conv_layer_run<T>(S.c7_3, u, 1, lh[i], lw[i], 0, d.s[i], 256, 192, nullptr, 0, hw, st, &h2, &w2);
        conv_layer_run<T>(r.head[i], d.s[i], 1, lh[i], lw[i], 0, d.hd[i], 32, 0, nullptr, 0, hw, st, &h2, &w2);
        CK_LAUNCH();
        det_score_kernel<T><<<blocks_for(px * 2, 256), 256, 0, st>>>(d.hd[i], px, 32, d.count);
        CK_LAUNCH();
    }
    return 0;
}

/* ------------------------------------------------------------------ ParseNet */

/* PSFRGAN-style ParseNet(512, 512, 32, 64, 19, bn, LeakyReLU, ch_range [32, 256]):
 * reflect-padded 3x3 convs; residual blocks down (conv s1 + conv s2, shortcut conv s2),
 * body (identity shortcut), up (nearest x2 + conv, conv; shortcut nearest x2 + conv). */
template <typename T> struct parsenet {
    conv_layer<T> in_conv;
    struct rb {
        conv_layer<T> c1, c2, sc;
        int has_sc, scale; /* scale: 0 none, 1 down, 2 up */
    } enc[4], body[10], dec[4];
    conv_layer<T> out; /* 64 -> 3 (image) + 19 (parsing) */
};

template <typename T>
static int parsenet_init(dev_arena &ar, parsenet<T> &p, const pipe_net &net, gp_error *err)
{
    char nm[64];
    auto L = [&](conv_layer<T> &l, const char *name, int ci, int co, int s, int act) {
        return conv_layer_init<T>(ar, l, net, name, ci, co, 3, s, PAD_REFLECT, act, 0.2f, err);
    };
    auto RB = [&](typename parsenet<T>::rb &b, const char *name, int ci, int co, int scale) {
        char n2[96];
        b.scale = scale;
        b.has_sc = scale != 0 || ci != co;
        snprintf(n2, sizeof(n2), "%s.conv1", name);
        if (int rc = L(b.c1, n2, ci, co, 1, 1))
            return rc;
        snprintf(n2, sizeof(n2), "%s.conv2", name);
        if (int rc = L(b.c2, n2, co, co, scale == 1 ? 2 : 1, 0))
            return rc;
        if (b.has_sc) {
            snprintf(n2, sizeof(n2), "%s.shortcut", name);
            if (int rc = L(b.sc, n2, ci, co, scale == 1 ? 2 : 1, 0))
                return rc;
        }
        return 0;
    };
    auto clip = [](int x) { return std::max(32, std::min(x, 256)); };
    if (int rc = L(p.in_conv, "encoder.0", 3, 64, 1, 0))
        return rc;
    int head = 64;
    for (int i = 0; i < 4; i++, head *= 2) {
        snprintf(nm, sizeof(nm), "encoder.%d", i + 1);
        if (int rc = RB(p.enc[i], nm, clip(head), clip(head * 2), 1))
            return rc;
    }
    for (int i = 0; i < 10; i++) {
        snprintf(nm, sizeof(nm), "body.%d", i);
        if (int rc = RB(p.body[i], nm, clip(head), clip(head), 0))
            return rc;
    }
    for (int i = 0; i < 4; i++, head /= 2) {
        snprintf(nm, sizeof(nm), "decoder.%d", i);
        if (int rc = RB(p.dec[i], nm, clip(head), clip(head / 2), 2))
            return rc;
    }
    return L(p.out, "out", clip(head), PIPE_PN_OUT_CH, 1, 0);
}

template <typename T> struct parse_acts {
    T *in, *buf[5], *feat;
    T *logits; /* the last forward's 22-channel output (one of buf) */
    float *mask, *mask_tmp;
};

template <typename T> static int parse_acts_init(dev_arena &ar, parse_acts<T> &a, int B, gp_error *err)
{
    const size_t S = 512;
    if (int rc = ar.alloc(&a.in, (size_t)B * S * S * 8, err))
        return rc;
    for (int i = 0; i < 5; i++)
        if (int rc = ar.alloc(&a.buf[i], (size_t)B * S * S * 128, err))
            return rc;
    if (int rc = ar.alloc(&a.feat, (size_t)B * 32 * 32 * 256, err))
        return rc;
    if (int rc = ar.alloc(&a.mask, (size_t)B * S * S, err))
        return rc;
    return ar.alloc(&a.mask_tmp, (size_t)B * S * S, err);
}

/* ParseNet on a.in [B,S,S,8] -> a.logits [B,S,S,22] and a.mask [B,S,S] (blurred binary
 * face mask); S <= 512 (the buffers' size), a multiple of 16; the pipeline runs S = 512. */
template <typename T>
static int parsenet_enqueue(const parsenet<T> &p, parse_acts<T> &a, int B, int S, const conv_hw &hw,
                            cudaStream_t st, gp_error *err)
{
    int H = S, W = S, oh, ow, x = 0;
    conv_layer_run<T>(p.in_conv, a.in, B, H, W, 0, a.buf[0], 64, 0, nullptr, 0, hw, st, &oh, &ow);
    CK_LAUNCH();
    auto block = [&](const typename parsenet<T>::rb &b, int in_buf) {
        int t1 = (in_buf + 1) % 5, t2 = (in_buf + 2) % 5, o = (in_buf + 3) % 5;
        int up = b.scale == 2, h1, w1, h2, w2;
        const T *res = a.buf[in_buf];
        if (b.has_sc) {
            conv_layer_run<T>(b.sc, a.buf[in_buf], B, H, W, up, a.buf[t2], b.sc.cout, 0, nullptr, 0, hw, st, &h2, &w2);
            res = a.buf[t2];
        }
        conv_layer_run<T>(b.c1, a.buf[in_buf], B, H, W, up, a.buf[t1], b.c1.cout, 0, nullptr, 0, hw, st, &h1, &w1);
        conv_layer_run<T>(b.c2, a.buf[t1], B, h1, w1, 0, a.buf[o], b.c2.cout, 0, res, b.c2.cout, hw, st, &h2, &w2);
        H = h2;
        W = w2;
        return o;
    };
    for (int i = 0; i < 4; i++)
        x = block(p.enc[i], x);
    size_t feat_n = (size_t)B * H * W * 256;
    CK(cudaMemcpyAsync(a.feat, a.buf[x], feat_n * sizeof(T), cudaMemcpyDeviceToDevice, st));
    for (int i = 0; i < 10; i++)
        x = block(p.body[i], x);
    add_kernel<T><<<blocks_for(feat_n, 256), 256, 0, st>>>(a.buf[x], a.feat, feat_n);
    CK_LAUNCH();
    for (int i = 0; i < 4; i++)
        x = block(p.dec[i], x);
    int o = (x + 1) % 5;
    conv_layer_run<T>(p.out, a.buf[x], B, H, W, 0, a.buf[o], PIPE_PN_OUT_CH, 0, nullptr, 0, hw, st, &oh, &ow);
    CK_LAUNCH();
    a.logits = a.buf[o];
    size_t n = (size_t)B * S * S;
    parse_mask_kernel<T><<<blocks_for(n, 256), 256, 0, st>>>(a.buf[o], B, S, PIPE_PN_OUT_CH, a.mask);
    mask_blur_kernel<<<blocks_for(n, 256), 256, 0, st>>>(a.mask, B, S, 8, 0, a.mask_tmp);
    mask_blur_kernel<<<blocks_for(n, 256), 256, 0, st>>>(a.mask_tmp, B, S, 8, 1, a.mask);
    CK_LAUNCH();
    return 0;
}

/* ------------------------------------------------------------------ engine */

struct engine_base {
    virtual ~engine_base() {}
    virtual int gpen_forward(const float *in, int batch, float *out, gp_error *err) = 0;
    virtual int gpen_tap(const char *name, int batch, float *dst, size_t n, gp_error *err) = 0;
    virtual int gpen_time(int batch, int reps, double *med, double *sd, gp_error *err) = 0;
    virtual int parse_time(int batch, int reps, double *med, double *sd, gp_error *err) = 0;
    virtual int request(int slot, const gpu_request *rq, gpu_request_result *res,
                        unsigned char **out, gp_error *err) = 0;
    virtual int run_requests(int slot, int n, const gpu_request *rq, gpu_request_result *res,
                             unsigned char **out, gp_error *err) = 0;
    virtual void describe(gpu_info *info) = 0;
    virtual int jpeg_time(const unsigned char *jpg, size_t len, int reps, gpu_jpeg_times *t, gp_error *err) = 0;
    virtual int core_matmul(double *tflops, gp_error *err) = 0;
    virtual int conv_kernel_check(double *worst, int *n_cases, gp_error *err) = 0;
    virtual int retinaface_forward(const float *in, int h, int w, float *heads[3], gp_error *err) = 0;
    virtual int parsenet_forward(const float *in, int batch, int size, float *out, gp_error *err) = 0;
    virtual int conv_tile_bench(FILE *f, gp_error *err) = 0;
    virtual int warmup(double *ms, gp_error *err) = 0;
    virtual int mem(gpu_mem_report *r, gp_error *err) = 0;
};

static double now_ms()
{
    return std::chrono::duration<double, std::milli>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

static void stats_of(std::vector<double> &v, double *med, double *sd)
{
    std::sort(v.begin(), v.end());
    *med = v[v.size() / 2];
    double m = 0, s = 0;
    for (double x : v)
        m += x;
    m /= v.size();
    for (double x : v)
        s += (x - m) * (x - m);
    *sd = v.size() > 1 ? std::sqrt(s / (v.size() - 1)) : 0;
}

/* The canonical 5 landmarks of a 512 face crop (FFHQ alignment used by GPEN). */
static const float FACE_TEMPLATE_512[5][2] = {{192.98138f, 239.94708f}, {318.90277f, 240.1936f},
                                              {256.63416f, 314.01935f}, {201.26117f, 371.41043f},
                                              {313.08905f, 371.15118f}};

/* Least-squares similarity (Umeyama, no reflection) mapping src points onto dst:
 * dst = [a -b; b a] src + t. Returns the 2x3 matrix. */
static void similarity_fit(const float src[5][2], const float dst[5][2], float m[6])
{
    double mx = 0, my = 0, nx = 0, ny = 0;
    for (int i = 0; i < 5; i++) {
        mx += src[i][0];
        my += src[i][1];
        nx += dst[i][0];
        ny += dst[i][1];
    }
    mx /= 5, my /= 5, nx /= 5, ny /= 5;
    double sxx = 0, a = 0, b = 0;
    for (int i = 0; i < 5; i++) {
        double x = src[i][0] - mx, y = src[i][1] - my, u = dst[i][0] - nx, v = dst[i][1] - ny;
        sxx += x * x + y * y;
        a += x * u + y * v;
        b += x * v - y * u;
    }
    a /= sxx;
    b /= sxx;
    m[0] = (float)a, m[1] = (float)-b, m[2] = (float)(nx - a * mx + b * my);
    m[3] = (float)b, m[4] = (float)a, m[5] = (float)(ny - b * mx - a * my);
}

static void affine_invert(const float m[6], float inv[6])
{
    double det = (double)m[0] * m[4] - (double)m[1] * m[3];
    inv[0] = (float)(m[4] / det), inv[1] = (float)(-m[1] / det);
    inv[3] = (float)(-m[3] / det), inv[4] = (float)(m[0] / det);
    inv[2] = -(inv[0] * m[2] + inv[1] * m[5]);
    inv[5] = -(inv[3] * m[2] + inv[4] * m[5]);
}

template <typename T> struct slot_state {
    cudaStream_t st = nullptr;
    dev_arena ar;
    gpen_acts<T> gpen;
    parse_acts<T> parse;
    det_acts<T> det;
    /* per request of a gpu_requests_run call (max_requests of them) */
    std::vector<uint8_t *> img, faces, out;
    std::vector<float *> mask;
    float *aff = nullptr;
    jpeg_gpu_slot *js = nullptr; /* nvJPEG states on st, or null: libjpeg on the host */
    unsigned char *h_rgb = nullptr, *h_out = nullptr; /* pinned */
    size_t cap_px = 0;
    cudaGraphExec_t parse_graph[65] = {};
};

template <typename T> struct engine : engine_base {
    gpu_opts o;
    conv_hw hw{0, 0};
    gpen_weights<T> gw;
    dev_arena net_ar;
    retinaface<T> rf;
    parsenet<T> pn;
    std::vector<slot_state<T> *> slots;
    bool pipeline = false;
    jpeg_gpu *jg = nullptr;       /* nvJPEG, or null: libjpeg on the host */
    char tap_note[256] = "off (GPENLAB_TAPCONV=0)";
    std::string jpeg_note;        /* why nvJPEG is not used, when it is not */
    std::atomic<long> jpeg_hw_decodes{0}, jpeg_gpu_decodes{0}, jpeg_host_decodes{0};

    int init(const gpu_opts *opts, const gpen_model *m, const conv_hw &hw_dev, gp_error *err)
    {
        o = *opts;
        hw = hw_dev;
        if (int rc = conv_kernels_init<T>(err))
            return rc;
        if (kernel_switches::from_env().tapconv != 0)
            if (int rc = tap_conv_probe<T>(hw, tap_note, sizeof(tap_note), err))
                return rc;
        if (int rc = gpen_weights_init<T>(gw, m, err))
            return rc;
        pipeline = o.pipeline != 0;
        if (pipeline) {
            /* host copies of both networks (file or deterministic random), uploaded and freed */
            pipe_net rfn, pnn;
            if (int rc = pipe_net_open(PIPE_RETINAFACE, 1, o.detector_weights_path, o.seed, &rfn, err))
                return rc;
            int rc = retinaface_init<T>(net_ar, rf, rfn, err);
            pipe_net_free(&rfn);
            if (rc || (rc = pipe_net_open(PIPE_PARSENET, 1, o.parser_weights_path, o.seed, &pnn, err)))
                return rc;
            rc = parsenet_init<T>(net_ar, pn, pnn, err);
            pipe_net_free(&pnn);
            if (rc)
                return rc;
            if (o.jpeg != GPU_JPEG_HOST) {
                gp_error jerr;
                gp_error_clear(&jerr);
                if (jpeg_gpu_open(&jg, &jerr)) {
                    if (o.jpeg == GPU_JPEG_NVJPEG) {
                        *err = jerr;
                        return jerr.code;
                    }
                    jpeg_note = jerr.msg;
                    jg = nullptr;
                }
            } else {
                jpeg_note = "host chosen";
            }
        }
        if (o.max_requests < 1 || o.max_requests > 64)
            return gp_error_set(err, GP_ERANGE, NULL, 0, 0, "max_requests", "expected 1..64, got %d", o.max_requests);
        int ns = std::max(1, o.n_slots);
        for (int i = 0; i < ns; i++) {
            auto *s = new slot_state<T>();
            slots.push_back(s);
            CK(cudaStreamCreateWithFlags(&s->st, cudaStreamNonBlocking));
            if (int rc = gpen_acts_init<T>(s->gpen, gw, o.max_batch, i == 0 && o.gpen.size <= 128, err))
                return rc;
            if (!pipeline)
                continue;
            if (int rc = parse_acts_init<T>(s->ar, s->parse, o.max_batch, err))
                return rc;
            if (int rc = det_acts_init<T>(s->ar, s->det, 1504, 1504, err))
                return rc;
            s->cap_px = (size_t)o.max_image_mp * 1000000;
            const int nr = o.max_requests;
            s->img.assign(nr, nullptr);
            s->faces.assign(nr, nullptr);
            s->out.assign(nr, nullptr);
            s->mask.assign(nr, nullptr);
            for (int r = 0; r < nr; r++) {
                if (int rc = s->ar.alloc(&s->img[r], s->cap_px * 3, err))
                    return rc;
                if (int rc = s->ar.alloc(&s->faces[r], s->cap_px * 3, err))
                    return rc;
                if (int rc = s->ar.alloc(&s->out[r], s->cap_px * 3, err))
                    return rc;
                if (int rc = s->ar.alloc(&s->mask[r], s->cap_px, err))
                    return rc;
            }
            if (jg && jpeg_gpu_slot_open(jg, s->st, &s->js, err)) {
                if (o.jpeg == GPU_JPEG_NVJPEG)
                    return err->code;
                /* auto: libjpeg on the host for every slot */
                jpeg_note = err->msg;
                for (auto *q : slots) {
                    jpeg_gpu_slot_close(q->js);
                    q->js = nullptr;
                }
                jpeg_gpu_close(jg);
                jg = nullptr;
                gp_error_clear(err);
            }
            if (int rc = s->ar.alloc(&s->aff, 12 * (size_t)o.max_batch, err))
                return rc;
            CK(cudaMallocHost(&s->h_rgb, s->cap_px * 3));
            CK(cudaMallocHost(&s->h_out, s->cap_px * 3));
        }
        /* each layer's kernel variants, timed on slot 0 */
        return gpen_tune<T>(gw, slots[0]->gpen, std::min(o.max_batch, 8), hw, slots[0]->st, err);
    }

    ~engine() override
    {
        for (auto *s : slots) {
            if (s->st)
                cudaStreamSynchronize(s->st);
            gpen_acts_free<T>(s->gpen);
            for (auto &g : s->parse_graph)
                if (g)
                    cudaGraphExecDestroy(g);
            s->ar.release();
            if (s->h_rgb)
                cudaFreeHost(s->h_rgb);
            if (s->h_out)
                cudaFreeHost(s->h_out);
            jpeg_gpu_slot_close(s->js);
            if (s->st)
                cudaStreamDestroy(s->st);
            delete s;
        }
        jpeg_gpu_close(jg);
        net_ar.release();
        gw.ar.release();
    }

    int gpen_forward(const float *in, int B, float *out, gp_error *err) override
    {
        auto *s = slots[0];
        int S = o.gpen.size;
        if (B < 1 || B > o.max_batch)
            return gp_error_set(err, GP_ERANGE, NULL, 0, 0, "batch", "expected 1..%d, got %d", o.max_batch, B);
        CK(cudaMemcpyAsync(s->gpen.in, in, (size_t)B * 3 * S * S * sizeof(float), cudaMemcpyHostToDevice, s->st));
        if (int rc = gpen_run<T>(gw, s->gpen, B, hw, o.use_graphs, s->st, err))
            return rc;
        CK(cudaMemcpyAsync(out, s->gpen.out, (size_t)B * 3 * S * S * sizeof(float), cudaMemcpyDeviceToHost, s->st));
        CK(cudaStreamSynchronize(s->st));
        return 0;
    }

    int gpen_tap(const char *name, int B, float *dst, size_t n, gp_error *err) override
    {
        auto *s = slots[0];
        const gpen_arch &A = gw.arch;
        int k;
        float *tmp = nullptr;
        size_t need = 0;
        const void *src = nullptr;
        int H = 1, W = 1, C = 1, is_t = 1;
        if (sscanf(name, "enc%d", &k) == 1 && k >= 0 && k < A.n_enc && strncmp(name, "enc_", 4) != 0) {
            src = s->gpen.enc[k], H = W = A.enc[k].res_out, C = A.enc[k].cout;
        } else if (strcmp(name, "enc_fc") == 0) {
            src = s->gpen.lat, C = A.cfg.style_dim, is_t = 0;
        } else if (strcmp(name, "w") == 0) {
            src = s->gpen.wl, C = A.cfg.style_dim, is_t = 0;
        } else if (sscanf(name, "conv%d", &k) == 1 && k >= 0 && k < A.n_conv && s->gpen.keep_taps) {
            src = s->gpen.tap_conv[k], H = W = A.conv[k].res_out, C = 2 * A.conv[k].cout;
        } else if (sscanf(name, "rgb%d", &k) == 1 && k >= 0 && k < A.n_rgb && s->gpen.keep_taps) {
            need = (size_t)B * 3 * A.rgb[k].res * A.rgb[k].res;
            if (n != need)
                return gp_error_set(err, GP_ERANGE, NULL, 0, 0, name, "expected %zu floats", need);
            CK(cudaMemcpy(dst, s->gpen.tap_rgb[k], need * sizeof(float), cudaMemcpyDeviceToHost));
            return 0;
        } else {
            return gp_error_set(err, GP_EUNKNOWN, NULL, 0, 0, name, "no such tap (or taps not kept)");
        }
        need = (size_t)B * H * W * C;
        if (n != need)
            return gp_error_set(err, GP_ERANGE, NULL, 0, 0, name, "expected %zu floats", need);
        if (!is_t) {
            CK(cudaMemcpy(dst, src, need * sizeof(float), cudaMemcpyDeviceToHost));
            return 0;
        }
        CK(cudaMalloc(&tmp, need * sizeof(float)));
        nhwc_to_nchw_kernel<T><<<blocks_for(need, 256), 256>>>((const T *)src, B, H, W, C, tmp);
        cudaError_t e = cudaMemcpy(dst, tmp, need * sizeof(float), cudaMemcpyDeviceToHost);
        cudaFree(tmp);
        CK(e);
        return 0;
    }

    int gpen_time(int B, int reps, double *med, double *sd, gp_error *err) override
    {
        auto *s = slots[0];
        int S = o.gpen.size;
        if (B < 1 || B > o.max_batch)
            return gp_error_set(err, GP_ERANGE, NULL, 0, 0, "batch", "expected 1..%d, got %d", o.max_batch, B);
        std::vector<float> in((size_t)B * 3 * S * S);
        gpen_input_random(&o.gpen, B, o.seed, in.data());
        CK(cudaMemcpy(s->gpen.in, in.data(), in.size() * sizeof(float), cudaMemcpyHostToDevice));
        cudaEvent_t e0, e1;
        CK(cudaEventCreate(&e0));
        CK(cudaEventCreate(&e1));
        std::vector<double> t;
        for (int i = 0; i < reps + 3; i++) {
            CK(cudaEventRecord(e0, s->st));
            if (int rc = gpen_run<T>(gw, s->gpen, B, hw, o.use_graphs, s->st, err))
                return rc;
            CK(cudaEventRecord(e1, s->st));
            CK(cudaEventSynchronize(e1));
            float ms;
            CK(cudaEventElapsedTime(&ms, e0, e1));
            if (i >= 3)
                t.push_back(ms);
        }
        cudaEventDestroy(e0);
        cudaEventDestroy(e1);
        stats_of(t, med, sd);
        if (getenv("GPENLAB_LAYER_TIMES")) {
            /* one forward without the graph, with an event after every section */
            std::vector<std::pair<std::string, cudaEvent_t>> marks;
            cudaEvent_t s0;
            CK(cudaEventCreate(&s0));
            CK(cudaEventRecord(s0, s->st));
            s->gpen.marks = &marks;
            int rc = gpen_enqueue<T>(gw, s->gpen, B, hw, s->st, err);
            s->gpen.marks = nullptr;
            if (rc)
                return rc;
            CK(cudaStreamSynchronize(s->st));
            std::vector<std::pair<std::string, double>> agg;
            cudaEvent_t prev = s0;
            double total = 0;
            for (auto &mk : marks) {
                float ms;
                cudaEventElapsedTime(&ms, prev, mk.second);
                total += ms;
                bool found = false;
                for (auto &x : agg)
                    if (x.first == mk.first) {
                        x.second += ms;
                        found = true;
                    }
                if (!found)
                    agg.push_back(std::make_pair(mk.first, (double)ms));
                prev = mk.second;
            }
            printf("  sections (batch %d, no graph, total %.3f ms):", B, total);
            for (auto &x : agg)
                printf(" %s %.3f", x.first.c_str(), x.second);
            printf("\n  per layer:");
            prev = s0;
            for (auto &mk : marks) {
                float ms;
                cudaEventElapsedTime(&ms, prev, mk.second);
                printf(" %s:%.3f", mk.first.c_str(), ms);
                prev = mk.second;
            }
            printf("\n");
            for (auto &mk : marks)
                cudaEventDestroy(mk.second);
            cudaEventDestroy(s0);
        }
        return 0;
    }

    int parse_run(slot_state<T> *s, int B, gp_error *err)
    {
        if (!o.use_graphs)
            return parsenet_enqueue<T>(pn, s->parse, B, 512, hw, s->st, err);
        if (!s->parse_graph[B]) {
            cudaGraph_t gr;
            CK(cudaStreamBeginCapture(s->st, cudaStreamCaptureModeThreadLocal));
            int rc = parsenet_enqueue<T>(pn, s->parse, B, 512, hw, s->st, err);
            cudaError_t e = cudaStreamEndCapture(s->st, &gr);
            if (rc)
                return rc;
            CK(e);
            e = cudaGraphInstantiate(&s->parse_graph[B], gr, 0);
            cudaGraphDestroy(gr);
            CK(e);
        }
        CK(cudaGraphLaunch(s->parse_graph[B], s->st));
        return 0;
    }

    /* Host float NCHW in -> the network on slot 0 -> host float NCHW out (checks). */
    struct dev_floats {
        float *p = nullptr;
        ~dev_floats()
        {
            if (p)
                cudaFree(p);
        }
    };

    int retinaface_forward(const float *in, int h, int w, float *heads[3], gp_error *err) override
    {
        if (!pipeline)
            return gp_error_set(err, GP_ENOTSUP, NULL, 0, 0, "detect", "context opened without the pipeline");
        auto *s = slots[0];
        if (h < 32 || w < 32 || (size_t)h * w > s->det.cap_px)
            return gp_error_set(err, GP_ERANGE, NULL, 0, 0, "detect", "input %dx%d outside 32x32 .. %zu pixels", h,
                                w, s->det.cap_px);
        dev_floats din, dout;
        size_t nin = (size_t)3 * h * w, nout = (size_t)PIPE_RF_HEAD_CH * pipe_rf_level_size(h, 0) *
                                                   pipe_rf_level_size(w, 0);
        CK(cudaMalloc(&din.p, nin * sizeof(float)));
        CK(cudaMalloc(&dout.p, nout * sizeof(float)));
        CK(cudaMemcpyAsync(din.p, in, nin * sizeof(float), cudaMemcpyHostToDevice, s->st));
        nchw_to_nhwc_kernel<T><<<blocks_for((size_t)h * w, 256), 256, 0, s->st>>>(din.p, 1, h, w, 8, 1.f, 0.f,
                                                                                   s->det.in);
        CK_LAUNCH();
        if (int rc = retinaface_enqueue<T>(rf, s->det, h, w, hw, s->st, err))
            return rc;
        for (int l = 0; l < 3; l++) {
            int lh = pipe_rf_level_size(h, l), lw = pipe_rf_level_size(w, l);
            size_t n = (size_t)PIPE_RF_HEAD_CH * lh * lw;
            nhwc_to_nchw_kernel<T><<<blocks_for(n, 256), 256, 0, s->st>>>(s->det.hd[l], 1, lh, lw, PIPE_RF_HEAD_CH,
                                                                           dout.p);
            CK_LAUNCH();
            CK(cudaMemcpyAsync(heads[l], dout.p, n * sizeof(float), cudaMemcpyDeviceToHost, s->st));
            CK(cudaStreamSynchronize(s->st));
        }
        return 0;
    }

    int parsenet_forward(const float *in, int B, int S, float *out, gp_error *err) override
    {
        if (!pipeline)
            return gp_error_set(err, GP_ENOTSUP, NULL, 0, 0, "parse", "context opened without the pipeline");
        if (B < 1 || B > o.max_batch || S < 32 || S > 512 || S % 16)
            return gp_error_set(err, GP_ERANGE, NULL, 0, 0, "parse",
                                "batch %d (1..%d) or size %d (32..512, a multiple of 16) out of range", B,
                                o.max_batch, S);
        auto *s = slots[0];
        dev_floats din, dout;
        size_t nin = (size_t)B * 3 * S * S, nout = (size_t)B * PIPE_PN_OUT_CH * S * S;
        CK(cudaMalloc(&din.p, nin * sizeof(float)));
        CK(cudaMalloc(&dout.p, nout * sizeof(float)));
        CK(cudaMemcpyAsync(din.p, in, nin * sizeof(float), cudaMemcpyHostToDevice, s->st));
        nchw_to_nhwc_kernel<T><<<blocks_for((size_t)B * S * S, 256), 256, 0, s->st>>>(din.p, B, S, S, 8, 1.f, 0.f,
                                                                                       s->parse.in);
        CK_LAUNCH();
        if (int rc = parsenet_enqueue<T>(pn, s->parse, B, S, hw, s->st, err))
            return rc;
        nhwc_to_nchw_kernel<T><<<blocks_for(nout, 256), 256, 0, s->st>>>(s->parse.logits, B, S, S, PIPE_PN_OUT_CH,
                                                                          dout.p);
        CK_LAUNCH();
        CK(cudaMemcpyAsync(out, dout.p, nout * sizeof(float), cudaMemcpyDeviceToHost, s->st));
        CK(cudaStreamSynchronize(s->st));
        return 0;
    }

    int parse_time(int B, int reps, double *med, double *sd, gp_error *err) override
    {
        if (!pipeline)
            return gp_error_set(err, GP_ENOTSUP, NULL, 0, 0, "parse", "context opened without the pipeline");
        auto *s = slots[0];
        CK(cudaMemsetAsync(s->parse.in, 0, (size_t)B * 512 * 512 * 8 * sizeof(T), s->st));
        /* non-zero input: the restored faces of a GPEN run */
        if (int rc = gpen_run<T>(gw, s->gpen, B, hw, o.use_graphs, s->st, err))
            return rc;
        nchw_to_nhwc_kernel<T><<<blocks_for((size_t)B * 512 * 512, 256), 256, 0, s->st>>>(s->gpen.out, B, 512, 512, 8, 1.f, 0.f, s->parse.in);
        CK_LAUNCH();
        cudaEvent_t e0, e1;
        CK(cudaEventCreate(&e0));
        CK(cudaEventCreate(&e1));
        std::vector<double> t;
        for (int i = 0; i < reps + 2; i++) {
            CK(cudaEventRecord(e0, s->st));
            if (int rc = parse_run(s, B, err))
                return rc;
            CK(cudaEventRecord(e1, s->st));
            CK(cudaEventSynchronize(e1));
            float ms;
            CK(cudaEventElapsedTime(&ms, e0, e1));
            if (i >= 2)
                t.push_back(ms);
        }
        cudaEventDestroy(e0);
        cudaEventDestroy(e1);
        stats_of(t, med, sd);
        return 0;
    }

    /* Decodes slot s's detector heads (input dh x dw) into at most GPU_MAX_FACES faces'
     * 5 landmarks (x, y pairs, 10 floats a face, best score first), scaled by (sx, sy) to
     * the image's pixels. Synchronises the slot's stream. */
    int detect_landmarks(slot_state<T> *s, int dh, int dw, float sx, float sy, std::vector<float> &lm,
                         gp_error *err)
    {
        std::vector<float> heads[RETINA_LEVELS];
        std::vector<T> raw;
        const float *hp[RETINA_LEVELS];
        int mh[RETINA_LEVELS], mw[RETINA_LEVELS];
        for (int l = 0; l < RETINA_LEVELS; l++) {
            mh[l] = pipe_rf_level_size(dh, l);
            mw[l] = pipe_rf_level_size(dw, l);
            size_t n = (size_t)mh[l] * mw[l] * PIPE_RF_HEAD_CH;
            raw.resize(n);
            CK(cudaMemcpyAsync(raw.data(), s->det.hd[l], n * sizeof(T), cudaMemcpyDeviceToHost, s->st));
            CK(cudaStreamSynchronize(s->st));
            heads[l].resize(n);
            for (size_t i = 0; i < n; i++)
                heads[l][i] = host_to_float(raw[i]);
            hp[l] = heads[l].data();
        }
        retina_post_opts po;
        retina_post_opts_default(&po);
        std::vector<retina_det> dets(GPU_MAX_FACES);
        int n = 0;
        if (int rc = retina_postprocess(hp, mh, mw, dh, dw, &po, dets.data(), GPU_MAX_FACES, &n, err))
            return rc;
        lm.clear();
        for (int f = 0; f < n; f++)
            for (int i = 0; i < 5; i++) {
                lm.push_back(dets[f].landm[2 * i] * sx);
                lm.push_back(dets[f].landm[2 * i + 1] * sy);
            }
        return 0;
    }

    /* One request's state inside a call of run_requests: its image, the detector's size
     * and its faces (forward and inverse similarity, box in the image). */
    struct req_state {
        int W = 0, H = 0, dw = 0, dh = 0, nf = 0;
        std::vector<float> fwd, inv;
        std::vector<int> box;
    };

    int request(int si, const gpu_request *rq, gpu_request_result *res, unsigned char **out_jpeg,
                gp_error *err) override
    {
        return run_requests(si, 1, rq, res, out_jpeg, err);
    }

    /* Decodes request r into the slot's image buffer r (nvJPEG into device memory, or
     * libjpeg on the host + upload) and sets its size. */
    int decode_into(slot_state<T> *s, int r, const gpu_request *rq, req_state &q, gp_error *err)
    {
        cudaStream_t st = s->st;
        int W = rq->width, H = rq->height;
        if (rq->jpeg && s->js) {
            int hw_used = 0;
            if (int rc = jpeg_gpu_decode(s->js, rq->jpeg, rq->jpeg_len, s->img[r], s->cap_px * 3, &W, &H, &hw_used, err))
                return rc;
            (hw_used ? jpeg_hw_decodes : jpeg_gpu_decodes)++;
            if (W < 16 || H < 16)
                return gp_error_set(err, GP_ERANGE, NULL, 0, 0, "image", "%dx%d outside 16x16..%d MP", W, H,
                                    o.max_image_mp);
        } else {
            unsigned char *rgb = s->h_rgb;
            if (rq->jpeg) {
                if (int rc = jpeg_decode_rgb(rq->jpeg, rq->jpeg_len, &W, &H, &rgb, s->h_rgb, s->cap_px * 3, err))
                    return rc;
                jpeg_host_decodes++;
            }
            if ((size_t)W * H > s->cap_px || W < 16 || H < 16) {
                if (rgb != s->h_rgb)
                    free(rgb);
                return gp_error_set(err, GP_ERANGE, NULL, 0, 0, "image", "%dx%d outside 16x16..%d MP", W, H,
                                    o.max_image_mp);
            }
            if (!rq->jpeg)
                memset(s->h_rgb, 128, (size_t)W * H * 3);
            CK(cudaMemcpyAsync(s->img[r], rgb, (size_t)W * H * 3, cudaMemcpyHostToDevice, st));
            /* the pinned buffer is reused by the next request: wait for the copy */
            CK(cudaStreamSynchronize(st));
            if (rgb != s->h_rgb)
                free(rgb);
        }
        q.W = W;
        q.H = H;
        return 0;
    }

    /* Detection of request r (image buffer r) and its faces: RetinaFace's detections when
     * its weights are real (GPEN's decoding, gpu/ref/retina_post, on the host: part of the
     * detect stage); random weights detect nothing, so then the request's face count as
     * synthetic landmarks on a grid. */
    int detect_faces(slot_state<T> *s, int r, const gpu_request *rq, req_state &q, gp_error *err)
    {
        cudaStream_t st = s->st;
        const int W = q.W, H = q.H;
        int dw = W, dh = H;
        if (std::max(W, H) > 1500) {
            double ss = 1000.0 / std::max(W, H);
            dw = (int)std::lround(W * ss);
            dh = (int)std::lround(H * ss);
        }
        q.dw = dw;
        q.dh = dh;
        det_resize_kernel<T><<<blocks_for((size_t)dw * dh, 256), 256, 0, st>>>(s->img[r], H, W, dh, dw, s->det.in);
        CK_LAUNCH();
        if (int rc = retinaface_enqueue<T>(rf, s->det, dh, dw, hw, st, err))
            return rc;
        int nf = std::max(0, rq->faces);
        std::vector<float> det_lm;
        if (o.detector_weights_path) {
            if (int rc = detect_landmarks(s, dh, dw, (float)W / dw, (float)H / dh, det_lm, err))
                return rc;
            nf = (int)(det_lm.size() / 10);
        }
        q.nf = nf;
        int cols = (int)std::ceil(std::sqrt((double)std::max(nf, 1)));
        int rows = (std::max(nf, 1) + cols - 1) / cols;
        float cell = std::min((float)W / cols, (float)H / rows);
        q.fwd.assign(6 * std::max(nf, 1), 0.f);
        q.inv.assign(6 * std::max(nf, 1), 0.f);
        q.box.assign(4 * std::max(nf, 1), 0);
        for (int f = 0; f < nf; f++) {
            float cx = (f % cols + 0.5f) * W / cols, cy = (f / cols + 0.5f) * H / rows;
            float sc = 0.6f * cell / 512.f, lm[5][2];
            for (int i = 0; i < 5; i++) {
                lm[i][0] = det_lm.empty() ? cx + (FACE_TEMPLATE_512[i][0] - 256.f) * sc : det_lm[10 * f + 2 * i];
                lm[i][1] = det_lm.empty() ? cy + (FACE_TEMPLATE_512[i][1] - 256.f) * sc : det_lm[10 * f + 2 * i + 1];
            }
            similarity_fit(lm, FACE_TEMPLATE_512, &q.fwd[6 * f]);
            affine_invert(&q.fwd[6 * f], &q.inv[6 * f]);
            float xs[4], ys[4];
            for (int c = 0; c < 4; c++) {
                float u = (c & 1) ? 511.f : 0.f, v = (c & 2) ? 511.f : 0.f;
                xs[c] = q.inv[6 * f] * u + q.inv[6 * f + 1] * v + q.inv[6 * f + 2];
                ys[c] = q.inv[6 * f + 3] * u + q.inv[6 * f + 4] * v + q.inv[6 * f + 5];
            }
            int x0 = std::max(0, (int)std::floor(*std::min_element(xs, xs + 4)));
            int x1 = std::min(W - 1, (int)std::ceil(*std::max_element(xs, xs + 4)));
            int y0 = std::max(0, (int)std::floor(*std::min_element(ys, ys + 4)));
            int y1 = std::min(H - 1, (int)std::ceil(*std::max_element(ys, ys + 4)));
            q.box[4 * f] = x0, q.box[4 * f + 1] = y0, q.box[4 * f + 2] = x1 - x0 + 1, q.box[4 * f + 3] = y1 - y0 + 1;
        }
        CK(cudaMemsetAsync(s->mask[r], 0, (size_t)W * H * sizeof(float), st));
        CK(cudaMemcpyAsync(s->faces[r], s->img[r], (size_t)W * H * 3, cudaMemcpyDeviceToDevice, st));
        return 0;
    }

    int run_requests(int si, int n, const gpu_request *rq, gpu_request_result *res, unsigned char **out_jpeg,
                     gp_error *err) override
    {
        if (!pipeline)
            return gp_error_set(err, GP_ENOTSUP, NULL, 0, 0, "request", "context opened without the pipeline");
        if (si < 0 || si >= (int)slots.size())
            return gp_error_set(err, GP_ERANGE, NULL, 0, 0, "slot", "expected 0..%d", (int)slots.size() - 1);
        if (n < 1 || n > o.max_requests)
            return gp_error_set(err, GP_ERANGE, NULL, 0, 0, "requests", "expected 1..%d (max_requests), got %d",
                                o.max_requests, n);
        auto *s = slots[si];
        cudaStream_t st = s->st;
        for (int r = 0; r < n; r++) {
            memset(&res[r], 0, sizeof(res[r]));
            if (out_jpeg)
                out_jpeg[r] = nullptr;
        }
        double stage_ms[GPU_N_STAGES] = {0};
        double t0 = now_ms(), t = t0;
        auto lap = [&](int stage) -> int {
            CK(cudaStreamSynchronize(st));
            double now = now_ms();
            stage_ms[stage] += now - t;
            t = now;
            return 0;
        };
        std::vector<req_state> q(n);
        /* decode and detect every request; the faces of all of them in one list */
        std::vector<std::pair<int, int>> faces; /* (request, face) */
        for (int r = 0; r < n; r++) {
            if (int rc = decode_into(s, r, &rq[r], q[r], err))
                return rc;
            if (int rc = lap(GPU_STAGE_DECODE))
                return rc;
            if (int rc = detect_faces(s, r, &rq[r], q[r], err))
                return rc;
            if (int rc = lap(GPU_STAGE_DETECT))
                return rc;
            for (int f = 0; f < q[r].nf; f++)
                faces.push_back(std::make_pair(r, f));
        }
        /* the faces in batches of up to max_batch across requests: align, GPEN, ParseNet,
         * paste back into each face's own request */
        const size_t crop = (size_t)3 * 512 * 512;
        std::vector<float> inv(6 * (size_t)o.max_batch), fwd(6 * (size_t)o.max_batch);
        for (size_t g0 = 0; g0 < faces.size(); g0 += (size_t)o.max_batch) {
            int B = (int)std::min(faces.size() - g0, (size_t)o.max_batch);
            for (int k = 0; k < B; k++) {
                const req_state &qr = q[faces[g0 + k].first];
                int f = faces[g0 + k].second;
                std::copy(&qr.inv[6 * f], &qr.inv[6 * f] + 6, &inv[6 * k]);
                std::copy(&qr.fwd[6 * f], &qr.fwd[6 * f] + 6, &fwd[6 * k]);
            }
            CK(cudaMemcpyAsync(s->aff, inv.data(), 6 * B * sizeof(float), cudaMemcpyHostToDevice, st));
            CK(cudaMemcpyAsync(s->aff + 6 * o.max_batch, fwd.data(), 6 * B * sizeof(float), cudaMemcpyHostToDevice, st));
            for (int k0 = 0; k0 < B;) { /* one launch per run of faces of one request */
                int r = faces[g0 + k0].first, k1 = k0;
                while (k1 < B && faces[g0 + k1].first == r)
                    k1++;
                warp_face_kernel<<<dim3(blocks_for(512 * 512, 256), k1 - k0), 256, 0, st>>>(
                    s->img[r], q[r].H, q[r].W, s->aff + 6 * k0, 512, s->gpen.in + k0 * crop);
                CK_LAUNCH();
                k0 = k1;
            }
            if (int rc = lap(GPU_STAGE_ALIGN))
                return rc;
            if (int rc = gpen_run<T>(gw, s->gpen, B, hw, o.use_graphs, st, err))
                return rc;
            if (int rc = lap(GPU_STAGE_GPEN))
                return rc;
            nchw_to_nhwc_kernel<T><<<blocks_for((size_t)B * 512 * 512, 256), 256, 0, st>>>(s->gpen.out, B, 512, 512, 8,
                                                                                           1.f, 0.f, s->parse.in);
            CK_LAUNCH();
            if (int rc = parse_run(s, B, err))
                return rc;
            if (int rc = lap(GPU_STAGE_PARSE))
                return rc;
            for (int k = 0; k < B; k++) {
                int r = faces[g0 + k].first;
                const int *bx = &q[r].box[4 * faces[g0 + k].second];
                paste_kernel<<<blocks_for((size_t)bx[2] * bx[3], 256), 256, 0, st>>>(
                    s->gpen.out, s->parse.mask, 512, s->aff + 6 * o.max_batch, k, bx[0], bx[1], bx[2], bx[3], q[r].W,
                    s->faces[r], s->mask[r]);
                CK_LAUNCH();
            }
            if (int rc = lap(GPU_STAGE_PASTE))
                return rc;
        }
        for (int r = 0; r < n; r++) {
            size_t npx = (size_t)q[r].W * q[r].H;
            blend_kernel<<<blocks_for(npx, 256), 256, 0, st>>>(s->img[r], s->faces[r], s->mask[r], npx, s->out[r]);
            CK_LAUNCH();
        }
        if (int rc = lap(GPU_STAGE_BLEND))
            return rc;
        for (int r = 0; r < n; r++) {
            const int W = q[r].W, H = q[r].H, quality = rq[r].quality > 0 ? rq[r].quality : 90;
            unsigned char *jpg = nullptr;
            size_t jl = 0;
            if (s->js) {
                if (int rc = jpeg_gpu_encode(s->js, s->out[r], W, H, quality, &jpg, &jl, err))
                    return rc;
            } else {
                CK(cudaMemcpyAsync(s->h_out, s->out[r], (size_t)W * H * 3, cudaMemcpyDeviceToHost, st));
                CK(cudaStreamSynchronize(st));
                if (int rc = jpeg_encode_rgb(s->h_out, W, H, quality, &jpg, &jl, err))
                    return rc;
            }
            res[r].out_jpeg_len = jl;
            if (out_jpeg)
                out_jpeg[r] = jpg;
            else
                free(jpg);
        }
        lap(GPU_STAGE_ENCODE);
        double total = now_ms() - t0;
        for (int r = 0; r < n; r++) {
            memcpy(res[r].stage_ms, stage_ms, sizeof(stage_ms));
            res[r].total_ms = total;
            res[r].detector_w = q[r].dw;
            res[r].detector_h = q[r].dh;
            res[r].faces = q[r].nf;
            /* buffers this request touched: image planes, detector at its size */
            double px = (double)q[r].W * q[r].H, dpx = (double)q[r].dw * q[r].dh, ts = sizeof(T);
            res[r].peak_mem_mib = (px * (3 + 3 + 3 + 4) + dpx * ts * (8 + 5 * 16 + 8 + 4 + 2 + 3 * 0.5)) / 1048576.0;
        }
        return 0;
    }
    int warmup(double *ms, gp_error *err) override
    {
        double t0 = now_ms();
        for (auto *s : slots) {
            for (int B = 1; B <= o.max_batch; B++) {
                if (int rc = gpen_run<T>(gw, s->gpen, B, hw, o.use_graphs, s->st, err))
                    return rc;
                if (pipeline)
                    if (int rc = parse_run(s, B, err))
                        return rc;
            }
            CK(cudaStreamSynchronize(s->st));
        }
        *ms = now_ms() - t0;
        return 0;
    }

    int jpeg_time(const unsigned char *jpg, size_t len, int reps, gpu_jpeg_times *t, gp_error *err) override
    {
        memset(t, 0, sizeof(*t));
        if (!pipeline)
            return gp_error_set(err, GP_ENOTSUP, NULL, 0, 0, "jpeg", "context opened without the pipeline");
        auto *s = slots[0];
        cudaStream_t st = s->st;
        std::vector<double> dec, enc;
        int W = 0, H = 0;
        for (int i = 0; i < reps + 1; i++) { /* libjpeg on the host + upload; download + libjpeg */
            double t0 = now_ms();
            unsigned char *rgb = s->h_rgb;
            if (int rc = jpeg_decode_rgb(jpg, len, &W, &H, &rgb, s->h_rgb, s->cap_px * 3, err))
                return rc;
            if (rgb != s->h_rgb) {
                free(rgb);
                return gp_error_set(err, GP_ERANGE, NULL, 0, 0, "image", "%dx%d over %d MP", W, H, o.max_image_mp);
            }
            CK(cudaMemcpyAsync(s->img[0], rgb, (size_t)W * H * 3, cudaMemcpyHostToDevice, st));
            CK(cudaStreamSynchronize(st));
            double t1 = now_ms();
            CK(cudaMemcpyAsync(s->h_out, s->img[0], (size_t)W * H * 3, cudaMemcpyDeviceToHost, st));
            CK(cudaStreamSynchronize(st));
            unsigned char *out = nullptr;
            size_t ol = 0;
            if (int rc = jpeg_encode_rgb(s->h_out, W, H, 90, &out, &ol, err))
                return rc;
            free(out);
            double t2 = now_ms();
            if (i > 0) {
                dec.push_back(t1 - t0);
                enc.push_back(t2 - t1);
            }
        }
        double sd;
        stats_of(dec, &t->host_decode_ms, &sd);
        stats_of(enc, &t->host_encode_ms, &sd);
        /* nvJPEG: the context's own, or one opened for this measurement */
        jpeg_gpu *g = jg;
        jpeg_gpu_slot *js = s->js;
        gp_error jerr;
        gp_error_clear(&jerr);
        if (!g && jpeg_gpu_open(&g, &jerr))
            return 0; /* no nvJPEG in this build or on this card: host times only */
        if (!js && jpeg_gpu_slot_open(g, st, &js, &jerr)) {
            if (g != jg)
                jpeg_gpu_close(g);
            return 0; /* nvJPEG does not open a slot here: host times only */
        }
        dec.clear();
        enc.clear();
        int rc = 0, hw_all = 1;
        for (int i = 0; i < reps + 1 && !rc; i++) {
            double t0 = now_ms();
            int hw_used = 0;
            rc = jpeg_gpu_decode(js, jpg, len, s->img[0], s->cap_px * 3, &W, &H, &hw_used, err);
            double t1 = now_ms();
            unsigned char *out = nullptr;
            size_t ol = 0;
            if (!rc)
                rc = jpeg_gpu_encode(js, s->img[0], W, H, 90, &out, &ol, err);
            free(out);
            double t2 = now_ms();
            hw_all &= hw_used;
            if (i > 0) {
                dec.push_back(t1 - t0);
                enc.push_back(t2 - t1);
            }
        }
        if (js != s->js)
            jpeg_gpu_slot_close(js);
        if (g != jg)
            jpeg_gpu_close(g);
        if (rc)
            return rc;
        stats_of(dec, &t->nvjpeg_decode_ms, &sd);
        stats_of(enc, &t->nvjpeg_encode_ms, &sd);
        t->nvjpeg = 1;
        t->nvjpeg_hw = hw_all;
        return 0;
    }

    void describe(gpu_info *info) override
    {
        if (!pipeline)
            snprintf(info->jpeg, sizeof(info->jpeg), "none (no pipeline)");
        else if (jg)
            snprintf(info->jpeg, sizeof(info->jpeg), "%s", jpeg_gpu_describe(jg));
        else
            snprintf(info->jpeg, sizeof(info->jpeg), "libjpeg (host): %.40s", jpeg_note.c_str());
        snprintf(info->kernels, sizeof(info->kernels), "tap kernel %s; %s", tap_note, gw.tuned.c_str());
    }

    int mem(gpu_mem_report *r, gp_error *err) override
    {
        (void)err;
        memset(r, 0, sizeof(*r));
        r->weights_bytes = (double)gw.ar.bytes + (double)net_ar.bytes;
        auto *s = slots[0];
        r->gpen_per_face_bytes = (double)s->gpen.ar.bytes / o.max_batch;
        double S = 512.0 * 512.0, ts = sizeof(T);
        if (pipeline) {
            r->parse_per_face_bytes = S * ts * (8 + 5 * 128) + 32 * 32 * 256 * ts + 2 * S * 4;
            r->image_per_px_bytes = 3 + 3 + 3 + 4;
            double dpx = 1504.0 * 1504.0;
            r->detector_per_px_bytes = ((double)s->ar.bytes - r->parse_per_face_bytes * o.max_batch -
                                        r->image_per_px_bytes * (double)s->cap_px * o.max_requests) / dpx;
        }
        r->slot_bytes = (double)s->gpen.ar.bytes + (double)s->ar.bytes;
        return 0;
    }

    /* Median device time of one conv over 6 launches after 2 warm-ups (default stream). */
    static int conv_median_ms(const conv_args &a, const conv_plan &p, double *med_ms, gp_error *err)
    {
        cudaEvent_t e0, e1;
        CK(cudaEventCreate(&e0));
        CK(cudaEventCreate(&e1));
        std::vector<double> t;
        cudaError_t e = cudaSuccess;
        for (int i = 0; i < 8 && e == cudaSuccess; i++) {
            e = cudaEventRecord(e0);
            conv_launch<T>(a, p, 0);
            if (e == cudaSuccess)
                e = cudaGetLastError();
            if (e == cudaSuccess)
                e = cudaEventRecord(e1);
            if (e == cudaSuccess)
                e = cudaEventSynchronize(e1);
            float ms = 0;
            if (e == cudaSuccess)
                e = cudaEventElapsedTime(&ms, e0, e1);
            if (i >= 2)
                t.push_back(ms);
        }
        cudaEventDestroy(e0);
        cudaEventDestroy(e1);
        if (e != cudaSuccess)
            return gpu_cuda_fail(err, e, "conv timing", __FILE__, __LINE__);
        double sd;
        stats_of(t, med_ms, &sd);
        return 0;
    }

    /* The wgmma kernel against the mma.sync kernel on convs that cover what the networks use
     * (edge tiles, stride 2, reflect padding, nearest up-sampling, residual, style scale +
     * demodulation + concat, split-K), each on every wgmma tile: worst relative L2. */
    int conv_kernel_check(double *worst, int *n_cases, gp_error *err) override
    {
        *worst = 0;
        *n_cases = 0;
        if constexpr (sizeof(T) == 4) {
            return 0;
        } else {
            if (!hw.wgmma)
                return 0;
            struct conv_case {
                int B, H, W, cin, cout, k, stride, pad_mode, up, res, styled, splits;
            } cases[] = {
                {2, 33, 31, 64, 64, 3, 1, PAD_ZERO, 0, 0, 0, 1},    {1, 17, 17, 128, 192, 3, 2, PAD_REFLECT, 0, 0, 0, 1},
                {2, 20, 20, 32, 64, 3, 1, PAD_ZERO, 1, 0, 0, 1},    {1, 16, 16, 256, 256, 1, 1, PAD_ZERO, 0, 1, 0, 1},
                {3, 9, 9, 8, 72, 3, 1, PAD_ZERO, 0, 0, 0, 1},       {2, 16, 16, 128, 64, 3, 1, PAD_ZERO, 0, 0, 1, 1},
                {1, 8, 8, 512, 256, 3, 1, PAD_ZERO, 0, 0, 1, 8},
            };
            int rc = 0;
            std::vector<void *> bufs;
            auto dalloc = [&](size_t bytes) -> void * {
                void *q = nullptr;
                if (cudaMalloc(&q, bytes) != cudaSuccess)
                    return nullptr;
                bufs.push_back(q);
                return q;
            };
            for (const conv_case &cc : cases) {
                /* the operands are set once uploaded */
                const conv_args geo = conv_args_square(nullptr, cc.B, cc.H, cc.W, cc.cin, cc.up, cc.pad_mode, nullptr,
                                                       cc.cout, cc.k, cc.stride);
                const int oh = geo.OHk, ow = geo.OWk;
                const int M = cc.B * oh * ow, K = cc.k * cc.k * cc.cin;
                const bool split = cc.splits > 1;
                /* split-K slices are raw sums: no concat half */
                const int ctot = cc.cout * (cc.styled && !split ? 2 : 1);
                const size_t nx = (size_t)cc.B * cc.H * cc.W * cc.cin, nw = (size_t)cc.cout * K,
                             ny = (size_t)M * ctot;
                std::vector<float> hx(nx), hw_(nw), hb(2 * cc.cout), hr((size_t)M * cc.cout),
                    hs((size_t)cc.B * cc.cin), hd((size_t)cc.B * cc.cout);
                host_random_normal(7, "check.x", 1.f, 0.f, hx.data(), nx);
                host_random_normal(7, "check.w", 1.f / std::sqrt((float)K), 0.f, hw_.data(), nw);
                host_random_normal(7, "check.b", 0.1f, 0.f, hb.data(), hb.size());
                host_random_normal(7, "check.r", 1.f, 0.f, hr.data(), hr.size());
                host_random_normal(7, "check.s", 0.2f, 1.f, hs.data(), hs.size());
                host_random_normal(7, "check.d", 0.1f, 1.f, hd.data(), hd.size());
                dev_arena ar;
                T *x, *w, *r, *e;
                float *b, *sc, *d;
                if ((rc = upload<T>(ar, hx.data(), nx, &x, err)) || (rc = upload<T>(ar, hw_.data(), nw, &w, err)) ||
                    (rc = upload<T>(ar, hr.data(), hr.size(), &r, err)) ||
                    (rc = upload<T>(ar, hr.data(), hr.size(), &e, err)) ||
                    (rc = upload<float>(ar, hb.data(), hb.size(), &b, err)) ||
                    (rc = upload<float>(ar, hs.data(), hs.size(), &sc, err)) ||
                    (rc = upload<float>(ar, hd.data(), hd.size(), &d, err))) {
                    ar.release();
                    break;
                }
                conv_args a = geo;
                a.x = x;
                a.w = w;
                a.bias = b;
                a.act = 1;
                if (cc.res) {
                    a.res = r;
                    a.res_cstride = cc.cout;
                }
                if (cc.styled) {
                    a.in_scale = sc;
                    a.in_scale_bstride = cc.cin;
                    a.d = d;
                    a.d_bstride = cc.cout;
                    a.e = e;
                    a.nw = 0.7f;
                    a.gain = SQRT2;
                }
                a.Ctot = ctot;
                if (split) {
                    a.mode = EPI_RAW;
                    a.out_f32 = 1;
                    a.split_stride = (size_t)M * cc.cout;
                } else {
                    a.mode = EPI_FUSED;
                }
                const int case_no = *n_cases / N_WG_TILES;
                auto run = [&](conv_plan p, std::vector<float> &out) -> int {
                    size_t elems = split ? (size_t)p.splits * M * cc.cout : ny;
                    size_t bytes = elems * (split ? sizeof(float) : sizeof(T));
                    void *y = dalloc(bytes);
                    if (!y)
                        return gp_error_set(err, GP_ENOMEM, NULL, 0, 0, "gpu", "conv check: out of device memory");
                    CK(cudaMemset(y, 0, bytes));
                    conv_args aa = a;
                    aa.y = y;
                    conv_launch<T>(aa, p, 0);
                    cudaError_t ce = cudaGetLastError();
                    if (ce == cudaSuccess)
                        ce = cudaDeviceSynchronize();
                    if (ce != cudaSuccess)
                        return gp_error_set(err, GP_EIO, NULL, 0, 0, "gpu",
                                            "conv check case %d (%s tile %dx%d, %d stages, %d splits): %s", case_no,
                                            p.wgmma ? "wgmma" : "mma", p.bm, p.bn, p.stages, p.splits,
                                            cudaGetErrorString(ce));
                    out.assign(split ? (size_t)M * cc.cout : ny, 0.f);
                    if (split) {
                        std::vector<float> all(elems);
                        CK(cudaMemcpy(all.data(), y, bytes, cudaMemcpyDeviceToHost));
                        for (int z = 0; z < p.splits; z++)
                            for (size_t i = 0; i < out.size(); i++)
                                out[i] += all[(size_t)z * out.size() + i];
                    } else {
                        std::vector<T> ht(ny);
                        CK(cudaMemcpy(ht.data(), y, bytes, cudaMemcpyDeviceToHost));
                        for (size_t i = 0; i < ny; i++)
                            out[i] = host_to_float(ht[i]);
                    }
                    return 0;
                };
                std::vector<float> ref, got;
                conv_plan pm = conv_plan_for(M, cc.cout, K, conv_hw{hw.sm, 0}, false, cc.splits);
                if ((rc = run(pm, ref))) {
                    ar.release();
                    break;
                }
                for (const wg_tile &t : WG_TILES) {
                    conv_plan pw = conv_plan_for(M, cc.cout, K, hw, false, cc.splits);
                    pw.bm = t.bm;
                    pw.bn = t.bn;
                    pw.stages = t.stages;
                    if ((rc = run(pw, got)))
                        break;
                    double num = 0, den = 0;
                    for (size_t i = 0; i < ref.size(); i++) {
                        double dlt = (double)got[i] - ref[i];
                        num += dlt * dlt;
                        den += (double)ref[i] * ref[i];
                    }
                    double rel = den > 0 ? std::sqrt(num / den) : (num > 0 ? INFINITY : 0);
                    if (!(rel <= *worst)) /* NaN propagates */
                        *worst = rel;
                    (*n_cases)++;
                }
                ar.release();
                if (rc)
                    break;
            }
            for (void *q : bufs)
                cudaFree(q);
            return rc;
        }
    }

    /* Times the conv kernels on GPEN-shaped convs and a plain GEMM: the mma.sync plan and
     * every wgmma tile, TFLOP/s, one line per shape and kernel into f. */
    int conv_tile_bench(FILE *f, gp_error *err) override
    {
        if constexpr (sizeof(T) == 4) {
            (void)f;
            return 0;
        } else {
            struct shape {
                const char *name;
                int B, H, W, cin, cout, k, styled;
            } shapes[] = {
                {"gemm 65536x4096x4096", 1, 1, 65536, 4096, 4096, 1, 0},
                {"conv512 b8 128->64", 8, 512, 512, 128, 64, 3, 1},
                {"conv256 b8 256->128", 8, 256, 256, 256, 128, 3, 1},
                {"conv64 b8 1024->512", 8, 64, 64, 1024, 512, 3, 1},
                {"conv32 b1 1024->512", 1, 32, 32, 1024, 512, 3, 1},
            };
            for (const shape &sh : shapes) {
                const int M = sh.B * sh.H * sh.W, K = sh.k * sh.k * sh.cin;
                const size_t nx = (size_t)sh.B * sh.H * sh.W * sh.cin, nw = (size_t)sh.cout * K, ny = (size_t)M * sh.cout;
                T *x = nullptr, *w = nullptr, *y = nullptr;
                float *sc = nullptr, *d = nullptr;
                CK(cudaMalloc(&x, nx * sizeof(T)));
                CK(cudaMalloc(&w, nw * sizeof(T)));
                CK(cudaMalloc(&y, ny * sizeof(T)));
                CK(cudaMalloc(&sc, (size_t)sh.B * sh.cin * sizeof(float)));
                CK(cudaMalloc(&d, (size_t)sh.B * sh.cout * sizeof(float)));
                fill_uniform_kernel<T><<<1024, 256>>>(x, nx, 1.f, 11);
                fill_uniform_kernel<T><<<1024, 256>>>(w, nw, 1.f / std::sqrt((float)K), 12);
                fill_uniform_kernel<float><<<64, 256>>>(sc, (size_t)sh.B * sh.cin, 1.f, 13);
                fill_uniform_kernel<float><<<64, 256>>>(d, (size_t)sh.B * sh.cout, 1.f, 14);
                CK_LAUNCH();
                /* odd k, stride 1: the output grid is the input's */
                conv_args a = conv_args_square(x, sh.B, sh.H, sh.W, sh.cin, 0, PAD_ZERO, w, sh.cout, sh.k, 1);
                a.y = y;
                a.Ctot = sh.cout;
                a.mode = EPI_FUSED;
                if (sh.styled) {
                    a.in_scale = sc;
                    a.in_scale_bstride = sh.cin;
                    a.d = d;
                    a.d_bstride = sh.cout;
                    a.act = 1;
                }
                auto time_plan = [&](const conv_plan &p, double *tf) -> int {
                    double med;
                    if (int rc = conv_median_ms(a, p, &med, err))
                        return rc;
                    *tf = 2.0 * M * (double)sh.cout * K / (med * 1e-3) / 1e12;
                    return 0;
                };
                double tf = 0;
                conv_plan pm = conv_plan_for(M, sh.cout, K, conv_hw{hw.sm, 0}, false, 1);
                if (int rc = time_plan(pm, &tf))
                    return rc;
                fprintf(f, "tiles %-22s mma   %3dx%-3d          %7.1f TFLOP/s\n", sh.name, pm.bm, pm.bn, tf);
                if (hw.wgmma) {
                    conv_plan auto_p = conv_plan_for(M, sh.cout, K, hw, false, 1);
                    for (const wg_tile &t : WG_TILES) {
                        conv_plan pw = auto_p;
                        pw.bm = t.bm;
                        pw.bn = t.bn;
                        pw.stages = t.stages;
                        if (int rc = time_plan(pw, &tf))
                            return rc;
                        fprintf(f, "tiles %-22s wgmma %3dx%-3d %d stg %s %7.1f TFLOP/s\n", sh.name, t.bm, t.bn, t.stages,
                                (t.bm == auto_p.bm && t.bn == auto_p.bn && t.stages == auto_p.stages) ? "*" : " ", tf);
                    }
                }
                fflush(f);
                cudaFree(x);
                cudaFree(w);
                cudaFree(y);
                cudaFree(sc);
                cudaFree(d);
            }
            return 0;
        }
    }

    int core_matmul(double *tflops, gp_error *err) override
    {
        /* a 1x1 conv as a plain GEMM: M = 8192 pixels x 8, N = K = 4096 */
        const int M = 65536, N = 4096, K = 4096;
        T *x, *w, *y;
        CK(cudaMalloc(&x, (size_t)M * K * sizeof(T)));
        CK(cudaMalloc(&w, (size_t)N * K * sizeof(T)));
        CK(cudaMalloc(&y, (size_t)M * N * sizeof(T)));
        std::vector<float> hv((size_t)N * K);
        host_random_normal(1, "matmul", 0.02f, 0.f, hv.data(), hv.size());
        std::vector<T> ht(hv.size());
        for (size_t i = 0; i < hv.size(); i++)
            ht[i] = host_from_float<T>(hv[i]);
        CK(cudaMemcpy(w, ht.data(), ht.size() * sizeof(T), cudaMemcpyHostToDevice));
        for (size_t off = 0; off < (size_t)M * K; off += ht.size())
            CK(cudaMemcpy(x + off, ht.data(), std::min(ht.size(), (size_t)M * K - off) * sizeof(T), cudaMemcpyHostToDevice));
        conv_args a = conv_args_zero();
        a.x = x;
        a.B = 1;
        a.IH = 1;
        a.IW = M;
        a.Cin = K;
        a.w = w;
        a.Cout = N;
        a.TY = a.TX = 1;
        a.OHk = a.OHf = 1;
        a.OWk = a.OWf = M;
        a.y = y;
        a.Ctot = N;
        a.mode = EPI_FUSED;
        conv_plan p = conv_plan_for(M, N, K, hw, sizeof(T) == 4, 1);
        double med;
        int rc = conv_median_ms(a, p, &med, err);
        if (rc == 0)
            *tflops = 2.0 * M * N * (double)K / (med * 1e-3) / 1e12;
        cudaFree(x);
        cudaFree(w);
        cudaFree(y);
        return rc;
    }
};

/* ------------------------------------------------------------------ API */

struct gpu_ctx {
    gpu_opts o;
    conv_hw hw;
    int dev;
    cudaDeviceProp prop;
    engine_base *eng;
};

extern "C" int gpu_device_count(void)
{
    int n = 0;
    if (cudaGetDeviceCount(&n) != cudaSuccess)
        return 0;
    return n;
}

extern "C" int gpu_open(const gpu_opts *o, gpu_ctx **out, gp_error *err)
{
    *out = nullptr;
    if (gpu_device_count() < 1)
        return gp_error_set(err, GP_ENOTSUP, NULL, 0, 0, "gpu", "no CUDA device");
    auto *c = new gpu_ctx();
    c->o = *o;
    c->dev = o->device;
    c->eng = nullptr;
    if (o->max_batch < 1 || o->max_batch > 64) {
        delete c;
        return gp_error_set(err, GP_ERANGE, NULL, 0, 0, "max_batch", "expected 1..64, got %d", o->max_batch);
    }
    cudaError_t e = cudaSetDevice(o->device);
    if (e == cudaSuccess)
        e = cudaGetDeviceProperties(&c->prop, o->device);
    if (e != cudaSuccess) {
        delete c;
        return gpu_cuda_fail(err, e, "cudaSetDevice", __FILE__, __LINE__);
    }
    gpen_model m;
    int rc = o->weights_path ? gpen_model_load(&m, &o->gpen, o->weights_path, err)
                             : gpen_model_init_random(&m, &o->gpen, o->seed, err);
    if (rc) {
        delete c;
        return rc;
    }
    conv_hw hw{c->prop.multiProcessorCount, 0};
    if (o->precision != GPU_FP32 && o->conv_kernel != GPU_CONV_MMA) {
        rc = wgmma_runs_here(c->prop, err);
        if (rc < 0) {
            gpen_model_free(&m);
            delete c;
            return rc;
        }
        hw.wgmma = rc;
        rc = 0;
        if (!hw.wgmma && o->conv_kernel == GPU_CONV_WGMMA) {
            gpen_model_free(&m);
            delete c;
            return gp_error_set(err, GP_ENOTSUP, NULL, 0, 0, "conv_kernel",
                                "wgmma needs compute capability 9.0 and an sm_90a build");
        }
    }
    c->hw = hw;
    switch (o->precision) {
    case GPU_FP32: {
        auto *en = new engine<float>();
        c->eng = en;
        rc = en->init(o, &m, hw, err);
        break;
    }
    case GPU_FP16: {
        auto *en = new engine<__half>();
        c->eng = en;
        rc = en->init(o, &m, hw, err);
        break;
    }
    case GPU_BF16: {
        auto *en = new engine<__nv_bfloat16>();
        c->eng = en;
        rc = en->init(o, &m, hw, err);
        break;
    }
    default:
        rc = gp_error_set(err, GP_ERANGE, NULL, 0, 0, "precision", "unknown precision %d", (int)o->precision);
    }
    gpen_model_free(&m);
    if (rc) {
        gpu_close(c);
        return rc;
    }
    *out = c;
    return 0;
}

extern "C" void gpu_close(gpu_ctx *c)
{
    if (!c)
        return;
    delete c->eng;
    delete c;
}

extern "C" int gpu_get_info(gpu_ctx *c, gpu_info *info, gp_error *err)
{
    memset(info, 0, sizeof(*info));
    snprintf(info->name, sizeof(info->name), "%.95s", c->prop.name);
    int drv = 0;
    cudaDriverGetVersion(&drv);
    snprintf(info->driver, sizeof(info->driver), "CUDA driver API %d.%d", drv / 1000, (drv % 1000) / 10);
    info->cc_major = c->prop.major;
    info->cc_minor = c->prop.minor;
    info->sm_count = c->prop.multiProcessorCount;
    info->conv_wgmma = c->hw.wgmma;
    size_t fr = 0, tot = 0;
    CK(cudaMemGetInfo(&fr, &tot));
    info->mem_total_mib = tot / 1048576.0;
    info->mem_free_mib = fr / 1048576.0;
    int mclk = 0, bus = 0;
    cudaDeviceGetAttribute(&mclk, cudaDevAttrMemoryClockRate, c->dev);
    cudaDeviceGetAttribute(&bus, cudaDevAttrGlobalMemoryBusWidth, c->dev);
    info->mem_bw_gbs = 2.0 * mclk * 1e3 * (bus / 8.0) / 1e9;
    c->eng->describe(info);
    return 0;
}

extern "C" int gpu_gpen_forward(gpu_ctx *c, const float *in, int batch, float *out, gp_error *err)
{
    return c->eng->gpen_forward(in, batch, out, err);
}
extern "C" int gpu_gpen_tap(gpu_ctx *c, const char *name, int batch, float *dst, size_t n, gp_error *err)
{
    return c->eng->gpen_tap(name, batch, dst, n, err);
}
extern "C" int gpu_gpen_time(gpu_ctx *c, int batch, int reps, double *med, double *sd, gp_error *err)
{
    return c->eng->gpen_time(batch, reps, med, sd, err);
}
extern "C" int gpu_parse_time(gpu_ctx *c, int batch, int reps, double *med, double *sd, gp_error *err)
{
    return c->eng->parse_time(batch, reps, med, sd, err);
}
extern "C" int gpu_retinaface_forward(gpu_ctx *c, const float *in, int h, int w, float *heads[3], gp_error *err)
{
    return c->eng->retinaface_forward(in, h, w, heads, err);
}
extern "C" int gpu_parsenet_forward(gpu_ctx *c, const float *in, int batch, int size, float *out, gp_error *err)
{
    return c->eng->parsenet_forward(in, batch, size, out, err);
}
extern "C" int gpu_request_run(gpu_ctx *c, int slot, const gpu_request *rq, gpu_request_result *res,
                               unsigned char **out_jpeg, gp_error *err)
{
    return c->eng->request(slot, rq, res, out_jpeg, err);
}
extern "C" int gpu_requests_run(gpu_ctx *c, int slot, int n, const gpu_request *rq, gpu_request_result *res,
                                unsigned char **out_jpeg, gp_error *err)
{
    return c->eng->run_requests(slot, n, rq, res, out_jpeg, err);
}
extern "C" int gpu_jpeg_time(gpu_ctx *c, const unsigned char *jpg, size_t len, int reps, gpu_jpeg_times *t,
                             gp_error *err)
{
    return c->eng->jpeg_time(jpg, len, reps, t, err);
}
extern "C" double gpu_mem_used_mib(gpu_ctx *c)
{
    (void)c;
    size_t fr = 0, tot = 0;
    if (cudaMemGetInfo(&fr, &tot) != cudaSuccess)
        return 0;
    return (tot - fr) / 1048576.0;
}

extern "C" int gpu_context_init(int device, double *ms, double *used_mib, gp_error *err)
{
    double t0 = now_ms();
    CK(cudaSetDevice(device));
    CK(cudaFree(0));
    *ms = now_ms() - t0;
    size_t fr = 0, tot = 0;
    CK(cudaMemGetInfo(&fr, &tot));
    *used_mib = (tot - fr) / 1048576.0;
    return 0;
}
extern "C" int gpu_warmup(gpu_ctx *c, double *ms, gp_error *err)
{
    return c->eng->warmup(ms, err);
}
extern "C" int gpu_mem_breakdown(gpu_ctx *c, gpu_mem_report *r, gp_error *err)
{
    return c->eng->mem(r, err);
}
