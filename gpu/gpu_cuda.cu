/* gpu_cuda.cu: the CUDA core behind gpu.h: the conv planner, GPEN-BFR on the GPU (weights,
 * activations, forward, CUDA graphs, taps, timing), and the API entry points. The
 * pipeline's other networks and stages are in gpu_pipeline.cuh (included below). */
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <mutex>
#include <string>
#include <type_traits>
#include <vector>

#include "gpu/gpu_internal.cuh"

extern "C" {
#include "gpu/ref/gpen_load.h"
#include "gpu/ref/gpen_model.h"
}

int gpu_cuda_fail(gp_error *err, cudaError_t e, const char *what, const char *file, int line)
{
    int code = e == cudaErrorMemoryAllocation ? GP_ENOMEM : GP_EIO;
    return gp_error_set(err, code, NULL, 0, 0, "gpu", "%s: %s (%s:%d)", what,
                        cudaGetErrorString(e), file, line);
}

template <> float host_from_float<float>(float v) { return v; }
template <> __half host_from_float<__half>(float v) { return __float2half_rn(v); }
template <> __nv_bfloat16 host_from_float<__nv_bfloat16>(float v) { return __float2bfloat16_rn(v); }

void host_random_normal(uint64_t seed, const char *name, float sd, float mean, float *dst,
                        size_t n)
{
    uint64_t key = gpen_rand_key(seed, name);
    for (size_t i = 0; i < n; i++)
        dst[i] = (float)(mean + sd * gpen_rand_normal(key, i));
}

/* Split-K over the K tiles when the output tiles do not fill the card. */
static void plan_splits(conv_plan &p, int t, int KT, int sm, int max_splits)
{
    p.splits = 1;
    if (t < sm && KT >= 8 && max_splits > 1) {
        p.splits = std::min(std::min((2 * sm + t - 1) / t, KT / 4), max_splits);
        if (p.splits < 1)
            p.splits = 1;
    }
    p.kt_per_split = (KT + p.splits - 1) / p.splits;
    p.splits = (KT + p.kt_per_split - 1) / p.kt_per_split;
}

/* wgmma tiles: BM x BN, pipeline stages, CTAs per SM (from shared memory), and relative
 * rate per SM, from the per-tile timings of `gpenlab-gpu convcheck --tiles` (H100,
 * 2026-11-26, gpu/bench/h100-tiles-wgmma-v2.txt): N <= 64 runs best on 128x64 (two CTAs per
 * SM), N = 128 on 128x128 with 3 stages (two per SM), wider N on the big tiles.
 * WG_TILE_LIST below instantiates them. */
const wg_tile WG_TILES[N_WG_TILES] = {
    {128, 256, 4, 1, 0.95}, {256, 128, 4, 1, 1.00}, {128, 128, 6, 1, 0.75},
    {128, 128, 3, 2, 0.90}, {256, 64, 5, 1, 0.55},  {128, 64, 4, 2, 0.60},
};
#define WG_TILE_LIST(X) X(128, 256, 4) X(256, 128, 4) X(128, 128, 6) X(128, 128, 3) X(256, 64, 5) X(128, 64, 4)

conv_plan conv_plan_for(int M, int N, int K, const conv_hw &hw, bool f32, int max_splits)
{
    conv_plan p;
    p.wgmma = 0;
    p.stages = 0;
    auto tiles = [&](int bm, int bn) { return ((M + bm - 1) / bm) * ((N + bn - 1) / bn); };
    const int sm = hw.sm;
    if (!f32 && hw.wgmma) {
        /* N <= 64: 128x64; N <= 128: 128x128 (3 stages); wider: the tile with the least
         * estimated time, waves x work per wave / rate */
        double best = 0;
        int bi = -1;
        for (int i = 0; i < N_WG_TILES; i++) {
            const wg_tile &w = WG_TILES[i];
            if (N <= 64 ? w.bn != 64 || w.bm != 128 : N <= 128 ? w.bn != 128 || w.bm != 128 || w.stages != 3
                                                                : w.bm * w.bn < 128 * 128)
                continue;
            double slots = (double)sm * w.per_sm;
            double waves = std::ceil(tiles(w.bm, w.bn) / slots);
            double cost = waves * w.per_sm * (double)w.bm * w.bn / w.rate;
            if (bi < 0 || cost < best)
                best = cost, bi = i;
        }
        p.bm = WG_TILES[bi].bm;
        p.bn = WG_TILES[bi].bn;
        p.stages = WG_TILES[bi].stages;
        p.wgmma = 1;
        plan_splits(p, tiles(p.bm, p.bn), (K + 63) / 64, sm, max_splits);
        return p;
    }
    if (f32) {
        p.bm = p.bn = 64;
    } else if (N <= 64 && tiles(256, 64) >= 2 * sm) {
        p.bm = 256, p.bn = 64; /* 64x32 warp tiles, as the 128x128 tile */
    } else if (N <= 64 && tiles(128, 64) >= sm) {
        p.bm = 128, p.bn = 64;
    } else if (tiles(128, 128) >= 2 * sm) {
        p.bm = 128, p.bn = 128;
    } else if (N > 64 && tiles(128, 64) >= sm) {
        p.bm = 128, p.bn = 64;
    } else {
        p.bm = p.bn = 64;
    }
    plan_splits(p, tiles(p.bm, p.bn), (K + (f32 ? 16 : 32) - 1) / (f32 ? 16 : 32), sm, max_splits);
    return p;
}

static const int CONV_STAGES = 4;
/* Tile configurations of the tensor-core kernel: CTA BM x BN, warps WGM x WGN. */
/* (128x256 / 256x128 / 256x64 with 64x64 warp tiles at one CTA per SM measured slower:
 * 139 vs 211 TFLOP/s on the plain GEMM, H200, 2026-11-26) */
#define CONV_TILES(X)                                                                        \
    X(128, 128, 2, 4)                                                                        \
    X(256, 64, 4, 2)                                                                         \
    X(128, 64, 2, 4)                                                                         \
    X(64, 64, 2, 4)

template <typename T, int BM, int BN> static size_t ms_smem()
{
    return (size_t)CONV_STAGES * (BM + BN) * 40 * sizeof(T);
}

static const int TAP_STAGES = 4, TAP_SMEM_MAX = 227 * 1024;
static const float SQRT2_F = 1.4142135623730951f;

/* Raises the dynamic shared memory limit of the multistage kernels (once per process). */
template <typename T> static int conv_kernels_init(gp_error *err)
{
    if constexpr (sizeof(T) != 4) {
#define X(bm, bn, wm, wn)                                                                    \
    CK(cudaFuncSetAttribute(conv_mma_ms_kernel<T, bm, bn, wm, wn, CONV_STAGES>,               \
                            cudaFuncAttributeMaxDynamicSharedMemorySize, (int)ms_smem<T, bm, bn>()));
        CONV_TILES(X)
#undef X
#define X(bm, bn, st)                                                                        \
    CK(cudaFuncSetAttribute(conv_wgmma_kernel<T, bm, bn, st>, cudaFuncAttributeMaxDynamicSharedMemorySize, \
                            (int)wgmma_smem_bytes<T, bm, bn, st>()));
        WG_TILE_LIST(X)
#undef X
        CK(cudaFuncSetAttribute(conv_tap_wgmma_kernel<T, 64, TAP_STAGES>, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                TAP_SMEM_MAX));
        CK(cudaFuncSetAttribute(conv_tap_wgmma_kernel<T, 128, TAP_STAGES>, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                TAP_SMEM_MAX));
    }
    return 0;
}

__global__ void wgmma_probe_kernel(int *out)
{
#if defined(GPENLAB_WGMMA_ENABLED)
    *out = 1;
#else
    *out = 0;
#endif
}

/* Whether the image of this build that runs on the current device has the wgmma kernel
 * (compute capability 9.0 and an sm_90a image); 0 elsewhere. */
static int wgmma_runs_here(const cudaDeviceProp &prop, gp_error *err)
{
    if (prop.major != 9 || prop.minor != 0)
        return 0;
    int *d = nullptr, h = 0;
    CK(cudaMalloc(&d, sizeof(int)));
    wgmma_probe_kernel<<<1, 1>>>(d);
    cudaError_t e = cudaGetLastError();
    if (e == cudaSuccess)
        e = cudaMemcpy(&h, d, sizeof(int), cudaMemcpyDeviceToHost);
    cudaFree(d);
    if (e != cudaSuccess)
        return gpu_cuda_fail(err, e, "wgmma probe", __FILE__, __LINE__);
    return h;
}

template <typename T> void conv_launch(conv_args a, const conv_plan &p, cudaStream_t st)
{
    int M = a.B * a.OHk * a.OWk;
    a.kt_per_split = p.kt_per_split;
    dim3 grid((M + p.bm - 1) / p.bm, (a.Cout + p.bn - 1) / p.bn, p.splits);
    if constexpr (sizeof(T) == 4) {
        conv_f32_kernel<<<grid, 256, 0, st>>>(a);
    } else {
        if (p.wgmma) {
#define X(BM_, BN_, ST_)                                                                     \
    if (p.bm == BM_ && p.bn == BN_ && p.stages == ST_) {                                     \
        conv_wgmma_kernel<T, BM_, BN_, ST_><<<grid, BM_ * 2, wgmma_smem_bytes<T, BM_, BN_, ST_>(), st>>>(a); \
        return;                                                                              \
    }
            WG_TILE_LIST(X)
#undef X
        }
#define X(BM_, BN_, WM_, WN_)                                                                \
    if (p.bm == BM_ && p.bn == BN_) {                                                        \
        conv_mma_ms_kernel<T, BM_, BN_, WM_, WN_, CONV_STAGES>                               \
            <<<grid, WM_ * WN_ * 32, ms_smem<T, BM_, BN_>(), st>>>(a);                       \
        return;                                                                              \
    }
        CONV_TILES(X)
#undef X
    }
}

bool tap_conv_fits(const conv_args &a, int *bn)
{
    *bn = a.Cout % 128 == 0 ? 128 : 64;
    return a.sy == 1 && a.sx == 1 && !a.up_nearest && a.pad_mode == PAD_ZERO && (a.dy == 1 || a.dy == -1) &&
           (a.dx == 1 || a.dx == -1) && a.TY >= 1 && a.TY <= 3 && a.TX >= 1 && a.TX <= 3 && a.Cin % 64 == 0 &&
           a.Cin >= 64 && a.Cout % 64 == 0 && a.mode != EPI_ATOMIC &&
           (a.mode != EPI_RAW || !a.out_f32) && a.kt_per_split == 0 && a.split_stride == 0 &&
           (*bn == 128 ? tap_smem_bytes<128, TAP_STAGES>(a.TY, a.TX, a.Cin)
                       : tap_smem_bytes<64, TAP_STAGES>(a.TY, a.TX, a.Cin)) <= TAP_SMEM_MAX;
}

template <typename T> void conv_tap_launch(const conv_args &a, int bn, const conv_hw &hw, cudaStream_t st)
{
    if constexpr (sizeof(T) == 2) {
        dim3 grid((a.OWk + TAP_W - 1) / TAP_W, (a.OHk + TAP_ROWS - 1) / TAP_ROWS * a.B, a.Cout / bn);
        if (bn == 128)
            conv_tap_wgmma_kernel<T, 128, TAP_STAGES>
                <<<grid, TAP_ROWS * 128, tap_smem_bytes<128, TAP_STAGES>(a.TY, a.TX, a.Cin), st>>>(a, hw.tap - 1);
        else
            conv_tap_wgmma_kernel<T, 64, TAP_STAGES>
                <<<grid, TAP_ROWS * 128, tap_smem_bytes<64, TAP_STAGES>(a.TY, a.TX, a.Cin), st>>>(a, hw.tap - 1);
    } else {
        (void)a, (void)bn, (void)hw, (void)st;
    }
}

static conv_args conv_args_zero()
{
    conv_args a;
    memset(&a, 0, sizeof(a));
    a.sy = a.sx = a.dy = a.dx = a.osy = a.osx = 1;
    a.slope = 0.2f;
    a.gain = 1.0f;
    return a;
}

/* A k x k conv with padding k/2 and one stride on both axes, of x [B, H, W, cin] (read at
 * twice the size, nearest, when up) by w [cout][k][k][cin]: the fields and output grid
 * (OHk = OHf, OWk = OWf) every such conv shares; output and epilogue are the caller's. */
static conv_args conv_args_square(const void *x, int B, int H, int W, int cin, int up, int pad_mode,
                                  const void *w, int cout, int k, int stride)
{
    conv_args a = conv_args_zero();
    const int pad = k / 2;
    a.x = x;
    a.B = B;
    a.IH = up ? 2 * H : H;
    a.IW = up ? 2 * W : W;
    a.Cin = cin;
    a.up_nearest = up;
    a.pad_mode = pad_mode;
    a.w = w;
    a.Cout = cout;
    a.TY = a.TX = k;
    a.sy = a.sx = stride;
    a.py0 = a.px0 = -pad;
    a.OHk = a.OHf = (a.IH + 2 * pad - k) / stride + 1;
    a.OWk = a.OWf = (a.IW + 2 * pad - k) / stride + 1;
    return a;
}

template <typename T>
int conv_layer_init(dev_arena &ar, conv_layer<T> &L, const pipe_net &net, const char *name, int cin,
                    int cout, int k, int stride, int pad_mode, int act, float slope, gp_error *err)
{
    const pipe_conv *c = pipe_net_find(&net, name);
    if (!c || !c->w)
        return gp_error_set(err, GP_EINVARIANT, NULL, 0, 0, name, c ? "weights not loaded" : "no such layer in %s",
                            pipe_net_kind_name(net.kind));
    if (c->cin != cin || c->cout != cout || c->k != k || c->stride != stride || c->act != (act != 0) ||
        (act && c->slope != slope) || c->reflect != (pad_mode == PAD_REFLECT))
        return gp_error_set(err, GP_EINVARIANT, NULL, 0, 0, name,
                            "the CUDA network and gpu/ref/pipe_nets disagree on this layer");
    L.cin = cin;
    L.cin_pad = (cin + 7) / 8 * 8;
    L.cout = cout;
    L.k = k;
    L.stride = stride;
    L.pad = k / 2;
    L.pad_mode = pad_mode;
    L.act = act;
    L.slope = slope;
    std::vector<float> wp((size_t)cout * k * k * L.cin_pad, 0.f);
    for (int o = 0; o < cout; o++)
        for (int i = 0; i < cin; i++)
            for (int q = 0; q < k * k; q++)
                wp[((size_t)o * k * k + q) * L.cin_pad + i] = c->w[((size_t)o * cin + i) * k * k + q];
    if (int rc = upload<T>(ar, wp.data(), wp.size(), &L.w, err))
        return rc;
    return upload<float>(ar, c->b, (size_t)cout, &L.bias, err);
}

template <typename T>
void conv_layer_run(const conv_layer<T> &L, const T *x, int B, int H, int W, int up_nearest, T *y,
                    int Ctot, int coff, const T *res, int res_cstride, const conv_hw &hw, cudaStream_t st,
                    int *OH, int *OW)
{
    conv_args a = conv_args_square(x, B, H, W, L.cin_pad, up_nearest, L.pad_mode, L.w, L.cout, L.k, L.stride);
    const int oh = a.OHk, ow = a.OWk;
    a.y = y;
    a.Ctot = Ctot;
    a.coff = coff;
    a.mode = EPI_FUSED;
    a.bias = L.bias;
    a.act = L.act;
    a.slope = L.slope;
    a.gain = 1.f;
    a.res = res;
    a.res_cstride = res_cstride;
    /* fused epilogues with residuals: no split-K */
    conv_plan p = conv_plan_for(B * oh * ow, L.cout, L.k * L.k * L.cin_pad, hw, sizeof(T) == 4, 1);
    conv_launch<T>(a, p, st);
    *OH = oh;
    *OW = ow;
}

/* ||a - b|| / ||b|| of two host arrays of T, in double; INFINITY when b is all zeros or a
 * NaN is anywhere. */
template <typename T> static double host_rel_l2(const std::vector<T> &a, const std::vector<T> &b)
{
    double num = 0, den = 0;
    for (size_t i = 0; i < a.size() && i < b.size(); i++) {
        double u = host_to_float(a[i]), v = host_to_float(b[i]);
        num += (u - v) * (u - v);
        den += v * v;
    }
    return den > 0 && num == num ? std::sqrt(num / den) : INFINITY;
}

/* One conv of the tap kernel's probe against the mma.sync kernel: relative L2 of the outputs
 * (tap kernel with base mode `mode`), on random operands. geo: geometry and epilogue mode
 * set, operands unset; styled: style scale, demodulation and the concat half. */
template <typename T>
static int tap_probe_case(const conv_args &geo, int styled, int mode, const conv_hw &hw, double *rel, gp_error *err)
{
    const int M = geo.B * geo.OHk * geo.OWk, K = geo.TY * geo.TX * geo.Cin;
    const size_t nx = (size_t)geo.B * geo.IH * geo.IW * geo.Cin, nw = (size_t)geo.Cout * K;
    const size_t ny = (size_t)geo.B * geo.OHf * geo.OWf * geo.Ctot;
    std::vector<float> hx(nx), hw_(nw), hb(2 * geo.Cout), he((size_t)M * geo.Cout), hs((size_t)geo.B * geo.Cin),
        hd((size_t)geo.B * geo.Cout);
    host_random_normal(9, "tap.x", 1.f, 0.f, hx.data(), nx);
    host_random_normal(9, "tap.w", 1.f / std::sqrt((float)K), 0.f, hw_.data(), nw);
    host_random_normal(9, "tap.b", 0.1f, 0.f, hb.data(), hb.size());
    host_random_normal(9, "tap.e", 1.f, 0.f, he.data(), he.size());
    host_random_normal(9, "tap.s", 0.2f, 1.f, hs.data(), hs.size());
    host_random_normal(9, "tap.d", 0.1f, 1.f, hd.data(), hd.size());
    dev_arena ar;
    T *x, *w, *e, *y0, *y1;
    float *b, *sc, *d;
    int rc = 0;
    if ((rc = upload<T>(ar, hx.data(), nx, &x, err)) || (rc = upload<T>(ar, hw_.data(), nw, &w, err)) ||
        (rc = upload<T>(ar, he.data(), he.size(), &e, err)) || (rc = upload<float>(ar, hb.data(), hb.size(), &b, err)) ||
        (rc = upload<float>(ar, hs.data(), hs.size(), &sc, err)) ||
        (rc = upload<float>(ar, hd.data(), hd.size(), &d, err)) || (rc = ar.alloc(&y0, ny, err)) ||
        (rc = ar.alloc(&y1, ny, err))) {
        ar.release();
        return rc;
    }
    conv_args a = geo;
    a.x = x;
    a.w = w;
    if (a.mode == EPI_FUSED) {
        a.bias = b;
        a.act = 1;
    }
    if (styled) {
        a.in_scale = sc;
        a.in_scale_bstride = geo.Cin;
        if (a.mode == EPI_FUSED) {
            a.d = d;
            a.d_bstride = geo.Cout;
            a.e = e;
            a.nw = 0.7f;
        }
    }
    cudaError_t ce = cudaMemset(y0, 0, ny * sizeof(T));
    if (ce == cudaSuccess)
        ce = cudaMemset(y1, 0, ny * sizeof(T));
    conv_args a0 = a, a1 = a;
    a0.y = y0;
    a1.y = y1;
    conv_launch<T>(a0, conv_plan_for(M, geo.Cout, K, conv_hw{hw.sm, 0, 0}, false, 1), 0);
    int bn;
    tap_conv_fits(a1, &bn);
    conv_hw th = hw;
    th.tap = 1 + mode;
    conv_tap_launch<T>(a1, bn, th, 0);
    if (ce == cudaSuccess)
        ce = cudaGetLastError();
    if (ce == cudaSuccess)
        ce = cudaDeviceSynchronize();
    std::vector<T> r0(ny), r1(ny);
    if (ce == cudaSuccess)
        ce = cudaMemcpy(r0.data(), y0, ny * sizeof(T), cudaMemcpyDeviceToHost);
    if (ce == cudaSuccess)
        ce = cudaMemcpy(r1.data(), y1, ny * sizeof(T), cudaMemcpyDeviceToHost);
    ar.release();
    if (ce != cudaSuccess)
        return gpu_cuda_fail(err, ce, "tap conv probe", __FILE__, __LINE__);
    *rel = host_rel_l2(r1, r0);
    return 0;
}

template <typename T> int tap_conv_probe(conv_hw &hw, char *note, size_t note_len, gp_error *err)
{
    hw.tap = 0;
    snprintf(note, note_len, "off");
    if constexpr (sizeof(T) == 4) {
        return 0;
    } else {
        if (!hw.wgmma)
            return 0;
        /* a 3x3 styled conv with partial tiles on both axes (BN 64); a wider plain one (BN
         * 128, four channel blocks); a transposed-conv phase (taps read backwards, output
         * every other pixel of a larger grid, raw) */
        conv_args c1 = conv_args_square(nullptr, 2, 5, 130, 128, 0, PAD_ZERO, nullptr, 64, 3, 1);
        c1.Ctot = 128;
        c1.mode = EPI_FUSED;
        c1.gain = SQRT2_F;
        conv_args c2 = conv_args_square(nullptr, 1, 4, 64, 256, 0, PAD_ZERO, nullptr, 128, 3, 1);
        c2.Ctot = 128;
        c2.mode = EPI_FUSED;
        conv_args c3 = conv_args_zero();
        c3.B = 2;
        c3.IH = c3.IW = 40;
        c3.Cin = 128;
        c3.Cout = 64;
        c3.TY = 2;
        c3.TX = 1;
        c3.dy = c3.dx = -1;
        c3.OHk = 41;
        c3.OWk = 40;
        c3.OHf = c3.OWf = 81;
        c3.osy = c3.osx = 2;
        c3.oox = 1;
        c3.Ctot = 64;
        c3.mode = EPI_RAW;
        /* six channel blocks: the halo in a ring of two slots */
        conv_args c4 = conv_args_square(nullptr, 1, 3, 70, 384, 0, PAD_ZERO, nullptr, 128, 3, 1);
        c4.Ctot = 256;
        c4.mode = EPI_FUSED;
        const double lim = sizeof(T) == 2 && std::is_same<T, __half>::value ? 3e-3 : 2e-2;
        std::string found;
        for (int mode = 1; mode >= 0 && !hw.tap; mode--) {
            double r[4] = {0, 0, 0, 0};
            if (int rc = tap_probe_case<T>(c1, 1, mode, hw, &r[0], err))
                return rc;
            if (int rc = tap_probe_case<T>(c2, 0, mode, hw, &r[1], err))
                return rc;
            if (int rc = tap_probe_case<T>(c3, 1, mode, hw, &r[2], err))
                return rc;
            if (int rc = tap_probe_case<T>(c4, 1, mode, hw, &r[3], err))
                return rc;
            char buf[128];
            snprintf(buf, sizeof(buf), "%sbase_mode %d: %.1e %.1e %.1e %.1e", found.empty() ? "" : "; ", mode, r[0], r[1],
                     r[2], r[3]);
            found += buf;
            if (r[0] < lim && r[1] < lim && r[2] < lim && r[3] < lim)
                hw.tap = 1 + mode;
        }
        snprintf(note, note_len, "%s (%s)", hw.tap ? "on" : "off: no base mode agrees with mma.sync", found.c_str());
        return 0;
    }
}

/* ------------------------------------------------------------------------------ GPEN */

static const float SQRT2 = SQRT2_F;

template <typename T> struct gpen_weights {
    gpen_arch arch;
    dev_arena ar;
    T *enc_w[GPEN_MAX_ENC];
    float *enc_b[GPEN_MAX_ENC];
    float *enc0_wf; /* encoder layer 0 as float [cout][3] (enc0_kernel), or null */
    int enc0_fused; /* gpen_tune: enc0_kernel instead of the input conversion + GEMM */
    int enc_cin[GPEN_MAX_ENC]; /* padded */
    float *fc_w, *fc_b, *map_w[GPEN_MAX_MLP], *map_b[GPEN_MAX_MLP];
    T *cst;
    struct {
        T *w, *ph[4];
        float *w2, *bias, nw;
        int s_off;
        /* kernel variants of this layer (gpen_tune): the tap-reuse conv for the conv (or
         * the up conv's phases), the tiled blur epilogue for the up conv */
        int tap, tiled_epi;
    } conv[GPEN_MAX_CONV];
    std::string tuned; /* what gpen_tune chose, for gpu_info.kernels */
    struct {
        float *w, *bias;
        int s_off;
    } rgb[GPEN_MAX_RGB];
    float *mod_w, *mod_b;
    int rtot;
    demod_layer *demod_tab; /* device table of every conv layer, for demod_all_kernel */
    int demod_rows;
};

/* Converts the float model (gpu/ref layout) into device weights of T. */
template <typename T> static int gpen_weights_init(gpen_weights<T> &g, const gpen_model *m, gp_error *err)
{
    const gpen_arch &A = m->arch;
    g.arch = A;
    int sd = A.cfg.style_dim;
    for (int k = 0; k < A.n_enc; k++) {
        const gpen_enc_layer &L = A.enc[k];
        int cp = (L.cin + 7) / 8 * 8, kk = L.k * L.k;
        double scale = 1.0 / std::sqrt((double)L.cin * kk);
        const float *w = gpen_model_tensor(m, L.t_w);
        std::vector<float> wp((size_t)L.cout * kk * cp, 0.f);
        for (int o = 0; o < L.cout; o++)
            for (int i = 0; i < L.cin; i++)
                for (int q = 0; q < kk; q++)
                    wp[((size_t)o * kk + q) * cp + i] = (float)(w[((size_t)o * L.cin + i) * kk + q] * scale);
        g.enc_cin[k] = cp;
        if (int rc = upload<T>(g.ar, wp.data(), wp.size(), &g.enc_w[k], err))
            return rc;
        if (k == 0) {
            g.enc0_wf = nullptr;
            g.enc0_fused = 0;
            if (L.k == 1 && L.cin == 3 && L.cout % 8 == 0) {
                std::vector<float> wf((size_t)L.cout * 3);
                for (int o = 0; o < L.cout; o++)
                    for (int i = 0; i < 3; i++)
                        wf[(size_t)o * 3 + i] = (float)(w[(size_t)o * 3 + i] * scale);
                if (int rc = upload<float>(g.ar, wf.data(), wf.size(), &g.enc0_wf, err))
                    return rc;
            }
        }
        if (int rc = upload<float>(g.ar, gpen_model_tensor(m, L.t_b), L.cout, &g.enc_b[k], err))
            return rc;
    }
    /* final linear: permute its input from NCHW flattening (c*16 + p) to NHWC (p*C + c) */
    int c4 = A.enc[A.n_enc - 1].cout;
    {
        const float *w = gpen_model_tensor(m, A.t_fc_w);
        std::vector<float> wp((size_t)sd * 16 * c4);
        for (int o = 0; o < sd; o++)
            for (int c = 0; c < c4; c++)
                for (int p = 0; p < 16; p++)
                    wp[(size_t)o * 16 * c4 + p * c4 + c] = w[(size_t)o * 16 * c4 + c * 16 + p];
        if (int rc = upload<float>(g.ar, wp.data(), wp.size(), &g.fc_w, err))
            return rc;
        if (int rc = upload<float>(g.ar, gpen_model_tensor(m, A.t_fc_b), sd, &g.fc_b, err))
            return rc;
    }
    for (int j = 0; j < A.cfg.n_mlp; j++) {
        if (int rc = upload<float>(g.ar, gpen_model_tensor(m, A.t_map_w[j]), (size_t)sd * sd, &g.map_w[j], err))
            return rc;
        if (int rc = upload<float>(g.ar, gpen_model_tensor(m, A.t_map_b[j]), sd, &g.map_b[j], err))
            return rc;
    }
    {
        const float *c = gpen_model_tensor(m, A.t_const);
        std::vector<float> nhwc((size_t)16 * c4);
        for (int ch = 0; ch < c4; ch++)
            for (int p = 0; p < 16; p++)
                nhwc[(size_t)p * c4 + ch] = c[(size_t)ch * 16 + p];
        if (int rc = upload<T>(g.ar, nhwc.data(), nhwc.size(), &g.cst, err))
            return rc;
    }
    /* modulation rows of every layer, in one matrix */
    std::vector<float> mw, mb;
    int off = 0;
    for (int j = 0; j < A.n_conv; j++) {
        const gpen_styled_layer &L = A.conv[j];
        g.conv[j].s_off = off;
        mw.insert(mw.end(), gpen_model_tensor(m, L.t_mod_w), gpen_model_tensor(m, L.t_mod_w) + (size_t)L.cin * sd);
        mb.insert(mb.end(), gpen_model_tensor(m, L.t_mod_b), gpen_model_tensor(m, L.t_mod_b) + L.cin);
        off += L.cin;
        if (j % 2 == 0) {
            const gpen_rgb_layer &R = A.rgb[j / 2];
            g.rgb[j / 2].s_off = off;
            mw.insert(mw.end(), gpen_model_tensor(m, R.t_mod_w), gpen_model_tensor(m, R.t_mod_w) + (size_t)R.cin * sd);
            mb.insert(mb.end(), gpen_model_tensor(m, R.t_mod_b), gpen_model_tensor(m, R.t_mod_b) + R.cin);
            off += R.cin;
        }
    }
    g.rtot = off;
    g.demod_rows = 0;
    for (int j = 0; j < A.n_conv; j++)
        g.demod_rows += A.conv[j].cout;
    if (int rc = upload<float>(g.ar, mw.data(), mw.size(), &g.mod_w, err))
        return rc;
    if (int rc = upload<float>(g.ar, mb.data(), mb.size(), &g.mod_b, err))
        return rc;
    for (int j = 0; j < A.n_conv; j++) {
        const gpen_styled_layer &L = A.conv[j];
        const float *w = gpen_model_tensor(m, L.t_w);
        double scale = 1.0 / std::sqrt((double)L.cin * 9);
        std::vector<float> w2((size_t)L.cout * L.cin);
        for (int o = 0; o < L.cout; o++)
            for (int i = 0; i < L.cin; i++) {
                double s = 0;
                for (int q = 0; q < 9; q++) {
                    double v = w[((size_t)o * L.cin + i) * 9 + q] * scale;
                    s += v * v;
                }
                w2[(size_t)o * L.cin + i] = (float)s;
            }
        if (int rc = upload<float>(g.ar, w2.data(), w2.size(), &g.conv[j].w2, err))
            return rc;
        if (int rc = upload<float>(g.ar, gpen_model_tensor(m, L.t_b), 2 * L.cout, &g.conv[j].bias, err))
            return rc;
        g.conv[j].nw = gpen_model_tensor(m, L.t_nw)[0];
        if (!L.up) {
            std::vector<float> wp((size_t)L.cout * 9 * L.cin);
            for (int o = 0; o < L.cout; o++)
                for (int i = 0; i < L.cin; i++)
                    for (int q = 0; q < 9; q++)
                        wp[((size_t)o * 9 + q) * L.cin + i] = (float)(w[((size_t)o * L.cin + i) * 9 + q] * scale);
            if (int rc = upload<T>(g.ar, wp.data(), wp.size(), &g.conv[j].w, err))
                return rc;
        } else {
            /* polyphase split of the stride-2 transposed conv: phase (py, px) uses taps
             * ky = 2*ty (py = 0) or 1 (py = 1), reading input row oy' - ty */
            for (int ph = 0; ph < 4; ph++) {
                int py = ph >> 1, px = ph & 1, TY = py ? 1 : 2, TX = px ? 1 : 2;
                std::vector<float> wp((size_t)L.cout * TY * TX * L.cin);
                for (int o = 0; o < L.cout; o++)
                    for (int ty = 0; ty < TY; ty++)
                        for (int tx = 0; tx < TX; tx++) {
                            int ky = py ? 1 : 2 * ty, kx = px ? 1 : 2 * tx;
                            for (int i = 0; i < L.cin; i++)
                                wp[(((size_t)o * TY + ty) * TX + tx) * L.cin + i] =
                                    (float)(w[((size_t)o * L.cin + i) * 9 + ky * 3 + kx] * scale);
                        }
                if (int rc = upload<T>(g.ar, wp.data(), wp.size(), &g.conv[j].ph[ph], err))
                    return rc;
            }
        }
    }
    for (int r = 0; r < A.n_rgb; r++) {
        const gpen_rgb_layer &R = A.rgb[r];
        if (int rc = upload<float>(g.ar, gpen_model_tensor(m, R.t_w), (size_t)3 * R.cin, &g.rgb[r].w, err))
            return rc;
        if (int rc = upload<float>(g.ar, gpen_model_tensor(m, R.t_b), 3, &g.rgb[r].bias, err))
            return rc;
    }
    return 0;
}

/* Kernel variants chosen by the environment, so that one build A/B's them in one run
 * (scripts/gpu_session.sh): GPENLAB_TAPCONV, GPENLAB_BLUR_EPI, GPENLAB_ENC0 = auto (the default:
 * gpen_tune times both on each layer at gpu_open and keeps the faster), off, on. Each
 * variant is checked against the reference before use (tap_conv_probe, gpen_tune) and by
 * the selftest. */
struct kernel_switches {
    int tapconv, tiled_blur_epi, enc0; /* -1 auto, 0 off, 1 on where it fits */
    static int parse(const char *name)
    {
        const char *v = getenv(name);
        if (!v || !*v || strcmp(v, "auto") == 0)
            return -1;
        return strcmp(v, "0") == 0 || strcmp(v, "off") == 0 || strcmp(v, "per-pixel") == 0 ? 0 : 1;
    }
    static kernel_switches from_env()
    {
        kernel_switches k;
        k.tapconv = parse("GPENLAB_TAPCONV");
        k.tiled_blur_epi = parse("GPENLAB_BLUR_EPI");
        k.enc0 = parse("GPENLAB_ENC0");
        return k;
    }
};

/* Activations of one GPEN instance (one per request slot). */
template <typename T> struct gpen_acts {
    dev_arena ar;
    int max_batch;
    float *in;   /* [B,3,S,S] float NCHW in [-1, 1] */
    T *x0;       /* [B,S,S,8] */
    T *enc[GPEN_MAX_ENC];
    T *blur;
    float *lat, *wl, *wtmp, *s_all, *d[GPEN_MAX_CONV];
    T *h[2];
    float *raw;
    float *skip[2];
    float *out;  /* the final skip of the last forward */
    demod_layer *demod_tab; /* W2/d/offsets of every conv layer (d pointers are this slot's) */
    float *ws;   /* split-K slices (deterministic reduction in epi_kernel) */
    size_t ws_cap;
    T *tap_conv[GPEN_MAX_CONV];
    float *tap_rgb[GPEN_MAX_RGB];
    int keep_taps;
    size_t h_elems, raw_elems; /* of each h[] and of raw */
    cudaGraphExec_t graph[65];
    std::vector<std::pair<std::string, cudaEvent_t>> *marks; /* per-section timing, or null */
};

template <typename T> static void mark(gpen_acts<T> &a, const char *name, cudaStream_t st)
{
    if (!a.marks)
        return;
    cudaEvent_t e;
    cudaEventCreate(&e);
    cudaEventRecord(e, st);
    a.marks->push_back(std::make_pair(std::string(name), e));
}

template <typename T>
static int gpen_acts_init(gpen_acts<T> &a, const gpen_weights<T> &g, int B, int keep_taps, gp_error *err)
{
    const gpen_arch &A = g.arch;
    int S = A.cfg.size, sd = A.cfg.style_dim;
    memset(a.graph, 0, sizeof(a.graph));
    a.max_batch = B;
    a.keep_taps = keep_taps;
    size_t blur = 1, hmax = (size_t)16 * A.enc[A.n_enc - 1].cout, raw = 1;
    if (int rc = a.ar.alloc(&a.in, (size_t)B * 3 * S * S, err))
        return rc;
    if (int rc = a.ar.alloc(&a.x0, (size_t)B * S * S * 8, err))
        return rc;
    for (int k = 0; k < A.n_enc; k++) {
        const gpen_enc_layer &L = A.enc[k];
        if (int rc = a.ar.alloc(&a.enc[k], (size_t)B * L.res_out * L.res_out * L.cout, err))
            return rc;
        if (k > 0)
            blur = std::max(blur, (size_t)(L.res_in + 1) * (L.res_in + 1) * L.cin);
    }
    for (int j = 0; j < A.n_conv; j++) {
        const gpen_styled_layer &L = A.conv[j];
        hmax = std::max(hmax, (size_t)L.res_out * L.res_out * 2 * L.cout);
        size_t r = L.up ? (size_t)(2 * L.res_in + 1) * (2 * L.res_in + 1) * L.cout
                        : (size_t)L.res_out * L.res_out * L.cout;
        raw = std::max(raw, r);
        if (int rc = a.ar.alloc(&a.d[j], (size_t)B * L.cout, err))
            return rc;
        if (keep_taps) {
            if (int rc = a.ar.alloc(&a.tap_conv[j], (size_t)B * L.res_out * L.res_out * 2 * L.cout, err))
                return rc;
        }
    }
    for (int r = 0; r < A.n_rgb && keep_taps; r++)
        if (int rc = a.ar.alloc(&a.tap_rgb[r], (size_t)B * 3 * A.rgb[r].res * A.rgb[r].res, err))
            return rc;
    if (int rc = a.ar.alloc(&a.blur, (size_t)B * blur, err))
        return rc;
    if (int rc = a.ar.alloc(&a.lat, (size_t)B * sd, err))
        return rc;
    if (int rc = a.ar.alloc(&a.wl, (size_t)B * sd, err))
        return rc;
    if (int rc = a.ar.alloc(&a.wtmp, (size_t)B * sd, err))
        return rc;
    if (int rc = a.ar.alloc(&a.s_all, (size_t)B * g.rtot, err))
        return rc;
    for (int i = 0; i < 2; i++) {
        if (int rc = a.ar.alloc(&a.h[i], (size_t)B * hmax, err))
            return rc;
        if (int rc = a.ar.alloc(&a.skip[i], (size_t)B * 3 * S * S, err))
            return rc;
    }
    if (int rc = a.ar.alloc(&a.raw, (size_t)B * raw, err))
        return rc;
    a.h_elems = (size_t)B * hmax;
    a.raw_elems = (size_t)B * raw;
    {
        std::vector<demod_layer> tab(A.n_conv);
        int row = 0;
        for (int j = 0; j < A.n_conv; j++) {
            tab[j].W2 = g.conv[j].w2;
            tab[j].d = a.d[j];
            tab[j].s_off = g.conv[j].s_off;
            tab[j].Cin = A.conv[j].cin;
            tab[j].Cout = A.conv[j].cout;
            tab[j].row0 = row;
            row += A.conv[j].cout;
        }
        if (int rc = a.ar.alloc(&a.demod_tab, tab.size(), err))
            return rc;
        CK(cudaMemcpy(a.demod_tab, tab.data(), tab.size() * sizeof(demod_layer), cudaMemcpyHostToDevice));
    }
    a.ws_cap = (size_t)8 << 20;
    if (int rc = a.ar.alloc(&a.ws, a.ws_cap, err))
        return rc;
    a.out = nullptr;
    a.marks = nullptr;
    return 0;
}

template <typename T> static void gpen_acts_free(gpen_acts<T> &a)
{
    for (auto &gx : a.graph)
        if (gx)
            cudaGraphExecDestroy(gx);
    memset(a.graph, 0, sizeof(a.graph));
    a.ar.release();
}

/* Encoder layer k as one fused conv: layer 0 (1x1) from the converted input a.x0, the
 * others (3x3, stride 2) from the blurred previous layer in a.blur. */
template <typename T> static conv_args enc_conv_args(const gpen_weights<T> &g, const gpen_acts<T> &a, int k, int B)
{
    const gpen_enc_layer &L = g.arch.enc[k];
    conv_args c = conv_args_zero();
    c.B = B;
    c.Cin = g.enc_cin[k];
    c.w = g.enc_w[k];
    c.Cout = L.cout;
    c.TY = c.TX = L.k;
    c.OHk = c.OWk = c.OHf = c.OWf = L.res_out;
    c.y = a.enc[k];
    c.Ctot = L.cout;
    c.mode = EPI_FUSED;
    c.bias = g.enc_b[k];
    c.act = 1;
    c.gain = SQRT2;
    if (k == 0) {
        c.x = a.x0;
        c.IH = c.IW = g.arch.cfg.size;
    } else {
        c.x = a.blur;
        c.IH = c.IW = L.res_in + 1;
        c.sy = c.sx = 2;
    }
    return c;
}

/* The non-up styled conv j as one fused conv: hin -> hout [B, Ro, Ro, 2 cout], the concat
 * half act(nw e + bias2) written by the epilogue. */
template <typename T>
static conv_args styled_conv_args(const gpen_weights<T> &g, const gpen_acts<T> &a, int j, int B, const T *hin, T *hout)
{
    const gpen_styled_layer &L = g.arch.conv[j];
    conv_args c = conv_args_zero();
    c.x = hin;
    c.B = B;
    c.IH = c.IW = L.res_in;
    c.Cin = L.cin;
    c.in_scale = a.s_all + g.conv[j].s_off;
    c.in_scale_bstride = g.rtot;
    c.w = g.conv[j].w;
    c.Cout = L.cout;
    c.TY = c.TX = 3;
    c.py0 = c.px0 = -1;
    c.OHk = c.OWk = c.OHf = c.OWf = L.res_out;
    c.y = hout;
    c.Ctot = 2 * L.cout;
    c.mode = EPI_FUSED;
    c.d = a.d[j];
    c.d_bstride = L.cout;
    c.bias = g.conv[j].bias;
    c.act = 1;
    c.gain = SQRT2;
    c.e = a.enc[L.e_index];
    c.nw = g.conv[j].nw;
    return c;
}

/* Phase ph = 2 py + px of the stride-2 transposed conv of up layer j (polyphase: taps
 * ky = 2 ty or 1, reading input row oy' - ty), raw into a.raw [B, 2 Ri + 1, 2 Ri + 1, cout]
 * (T, fp32 on the fp32 path); a split-K caller points y at its fp32 slices. */
template <typename T>
static conv_args phase_args(const gpen_weights<T> &g, const gpen_acts<T> &a, int j, int ph, int B, const T *hin)
{
    const gpen_styled_layer &L = g.arch.conv[j];
    const int py = ph >> 1, px = ph & 1, Ri = L.res_in;
    conv_args c = conv_args_zero();
    c.x = hin;
    c.B = B;
    c.IH = c.IW = Ri;
    c.Cin = L.cin;
    c.in_scale = a.s_all + g.conv[j].s_off;
    c.in_scale_bstride = g.rtot;
    c.w = g.conv[j].ph[ph];
    c.Cout = L.cout;
    c.TY = py ? 1 : 2;
    c.TX = px ? 1 : 2;
    c.dy = c.dx = -1;
    c.OHk = Ri + 1 - py;
    c.OWk = Ri + 1 - px;
    c.OHf = c.OWf = 2 * Ri + 1;
    c.osy = c.osx = 2;
    c.ooy = py;
    c.oox = px;
    c.Ctot = L.cout;
    c.mode = EPI_RAW;
    c.y = a.raw;
    c.out_f32 = sizeof(T) == 4;
    return c;
}

/* The up conv's epilogue from raw T (no split): blur, x d, + bias, act, concat; the tiled
 * kernel (blur_up_epi_kernel) or the per-pixel one (epi_kernel). */
template <typename T>
static void up_epilogue(const gpen_weights<T> &g, const gpen_acts<T> &a, int j, int B, int tiled, T *hout,
                        cudaStream_t st)
{
    if constexpr (sizeof(T) == 2) {
        const gpen_styled_layer &L = g.arch.conv[j];
        const int Ro = L.res_out, RR = 2 * L.res_in + 1;
        const T *e = a.enc[L.e_index];
        if (tiled && L.cout % BLUP_C == 0) {
            dim3 grid((Ro + BLUP_TW - 1) / BLUP_TW, (Ro + BLUP_TH - 1) / BLUP_TH * B, L.cout / BLUP_C);
            blur_up_epi_kernel<T><<<grid, 256, 0, st>>>(reinterpret_cast<const T *>(a.raw), B, RR, RR, L.cout, a.d[j],
                                                        L.cout, g.conv[j].bias, 0.2f, SQRT2, e, g.conv[j].nw, hout,
                                                        2 * L.cout);
        } else {
            epi_kernel<T, T><<<blocks_for((size_t)B * Ro * Ro * L.cout / 4, 256), 256, 0, st>>>(
                reinterpret_cast<const T *>(a.raw), 1, (size_t)B * RR * RR * L.cout, B, RR, RR, L.cout, 1, a.d[j],
                L.cout, g.conv[j].bias, 1, 0.2f, SQRT2, e, g.conv[j].nw, hout, 2 * L.cout, 0);
        }
    } else {
        (void)g, (void)a, (void)j, (void)B, (void)tiled, (void)hout, (void)st;
    }
}

/* Enqueues one GPEN forward of B faces (a.in -> a.out) on stream st. */
template <typename T>
static int gpen_enqueue(const gpen_weights<T> &g, gpen_acts<T> &a, int B, const conv_hw &hw, cudaStream_t st,
                        gp_error *err)
{
    const gpen_arch &A = g.arch;
    const int S = A.cfg.size, sd = A.cfg.style_dim;
    const bool f32 = sizeof(T) == 4;
    if (g.enc0_fused) {
        enc0_kernel<T><<<blocks_for((size_t)B * S * S * (A.enc[0].cout / 8), 256), 256, 0, st>>>(
            a.in, B, S, g.enc0_wf, g.enc_b[0], A.enc[0].cout, SQRT2, a.enc[0]);
        CK_LAUNCH();
        mark(a, "enc0", st);
    } else {
        nchw_to_nhwc_kernel<T><<<blocks_for((size_t)B * S * S, 256), 256, 0, st>>>(a.in, B, S, S, 8, 1.f, 0.f, a.x0);
        CK_LAUNCH();
        mark(a, "input", st);
    }
    /* encoder */
    for (int k = g.enc0_fused ? 1 : 0; k < A.n_enc; k++) {
        const gpen_enc_layer &L = A.enc[k];
        conv_args c = enc_conv_args<T>(g, a, k, B);
        if (k > 0) {
            blur_down_kernel<T><<<blocks_for((size_t)B * (L.res_in + 1) * (L.res_in + 1) * L.cin / (16 / sizeof(T)), 256), 256, 0, st>>>(
                a.enc[k - 1], B, L.res_in, L.res_in, L.cin, a.blur);
            CK_LAUNCH();
        }
        size_t slice = (size_t)B * L.res_out * L.res_out * L.cout;
        conv_plan p = conv_plan_for(B * L.res_out * L.res_out, L.cout, L.k * L.k * c.Cin, hw, f32,
                                    (int)std::min<size_t>(64, a.ws_cap / slice));
        if (p.splits > 1) {
            CK(cudaMemsetAsync(a.ws, 0, p.splits * slice * sizeof(float), st));
            conv_args r = c;
            r.mode = EPI_RAW;
            r.out_f32 = 1;
            r.y = a.ws;
            r.split_stride = slice;
            conv_launch<T>(r, p, st);
            CK_LAUNCH();
            epi_kernel<T, float><<<blocks_for(slice / 4, 256), 256, 0, st>>>(
                a.ws, p.splits, slice, B, L.res_out, L.res_out, L.cout, 0, nullptr, 0, g.enc_b[k], 1, 0.2f,
                SQRT2, nullptr, 0.f, a.enc[k], L.cout, 0);
        } else {
            conv_launch<T>(c, p, st);
        }
        CK_LAUNCH();
        mark(a, k == 0 ? "enc0" : "enc", st);
    }
    /* final linear, mapping, styles, demodulation */
    int c4 = A.enc[A.n_enc - 1].cout;
    /* the encoder output is T; the GEMVs read float: convert through the tap kernel's
     * layout-preserving path (NHWC flat) */
    nhwc_to_nchw_kernel<T><<<blocks_for((size_t)B * 16 * c4, 256), 256, 0, st>>>(a.enc[A.n_enc - 1], B * 16 * c4, 1, 1, 1, a.raw);
    CK_LAUNCH();
    if (B <= 8)
        gemv_block_kernel<<<sd, 256, 0, st>>>(a.raw, B, 16 * c4, g.fc_w, g.fc_b,
                                               (float)(1.0 / std::sqrt(16.0 * c4)), 1.f, 1, a.lat, sd);
    else
        gemv_kernel<<<blocks_for((size_t)sd * 32, 256), 256, 0, st>>>(a.raw, B, 16 * c4, g.fc_w, g.fc_b, sd,
                                                                   (float)(1.0 / std::sqrt(16.0 * c4)), 1.f, 1, a.lat, sd);
    CK_LAUNCH();
    CK(cudaMemcpyAsync(a.wl, a.lat, (size_t)B * sd * sizeof(float), cudaMemcpyDeviceToDevice, st));
    pixel_norm_kernel<<<B, 256, 0, st>>>(a.wl, sd);
    CK_LAUNCH();
    for (int j = 0; j < A.cfg.n_mlp; j++) {
        gemv_kernel<<<blocks_for((size_t)sd * 32, 256), 256, 0, st>>>(
            a.wl, B, sd, g.map_w[j], g.map_b[j], sd, (float)(A.cfg.lr_mlp / std::sqrt((double)sd)),
            (float)A.cfg.lr_mlp, 1, a.wtmp, sd);
        CK_LAUNCH();
        std::swap(a.wl, a.wtmp);
    }
    gemv_kernel<<<blocks_for((size_t)g.rtot * 32, 256), 256, 0, st>>>(
        a.wl, B, sd, g.mod_w, g.mod_b, g.rtot, (float)(1.0 / std::sqrt((double)sd)), 1.f, 0, a.s_all, g.rtot);
    CK_LAUNCH();
    demod_all_kernel<<<blocks_for((size_t)g.demod_rows * 32, 256), 256, 0, st>>>(
        a.demod_tab, A.n_conv, g.demod_rows, a.s_all, g.rtot, B);
    CK_LAUNCH();
    mark(a, "mapping+styles", st);
    /* generator */
    size_t cn = (size_t)16 * c4;
    broadcast_kernel<T><<<blocks_for(cn * B, 256), 256, 0, st>>>(g.cst, cn, B, a.h[0]);
    CK_LAUNCH();
    int cur = 0, sk = -1;
    for (int j = 0; j < A.n_conv; j++) {
        const gpen_styled_layer &L = A.conv[j];
        T *hin = a.h[cur], *hout = a.h[cur ^ 1];
        const T *e = a.enc[L.e_index];
        int Ro = L.res_out, Ri = L.res_in;
        if (!L.up) {
            conv_args c = styled_conv_args<T>(g, a, j, B, hin, hout);
            size_t slice = (size_t)B * Ro * Ro * L.cout;
            conv_plan p = conv_plan_for(B * Ro * Ro, L.cout, 9 * L.cin, hw, f32,
                                        (int)std::min<size_t>(64, a.ws_cap / slice));
            int bn;
            if (p.splits > 1) {
                CK(cudaMemsetAsync(a.ws, 0, p.splits * slice * sizeof(float), st));
                c.y = a.ws;
                c.Ctot = L.cout;
                c.mode = EPI_RAW;
                c.out_f32 = 1;
                c.split_stride = slice;
                conv_launch<T>(c, p, st);
                CK_LAUNCH();
                epi_kernel<T, float><<<blocks_for(slice / 4, 256), 256, 0, st>>>(
                    a.ws, p.splits, slice, B, Ro, Ro, L.cout, 0, a.d[j], L.cout, g.conv[j].bias, 1, 0.2f,
                    SQRT2, e, g.conv[j].nw, hout, 2 * L.cout, 0);
            } else if (g.conv[j].tap && hw.tap && tap_conv_fits(c, &bn)) {
                conv_tap_launch<T>(c, bn, hw, st);
            } else {
                conv_launch<T>(c, p, st);
            }
            CK_LAUNCH();
        } else {
            int RR = 2 * Ri + 1;
            size_t slice = (size_t)B * RR * RR * L.cout;
            int max_split = (int)std::min<size_t>(64, a.ws_cap / slice), nsplit = 1;
            conv_plan pl[4];
            for (int ph = 0; ph < 4; ph++) {
                int py = ph >> 1, px = ph & 1;
                pl[ph] = conv_plan_for(B * (Ri + 1 - py) * (Ri + 1 - px), L.cout,
                                       (py ? 1 : 2) * (px ? 1 : 2) * L.cin, hw, f32, max_split);
                nsplit = std::max(nsplit, pl[ph].splits);
            }
            /* split: fp32 slices in ws, zeroed (a phase may use fewer slices); else the
             * phases write T (fp32 for the fp32 path) straight into raw */
            if (nsplit > 1)
                CK(cudaMemsetAsync(a.ws, 0, nsplit * slice * sizeof(float), st));
            for (int ph = 0; ph < 4; ph++) {
                conv_args c = phase_args<T>(g, a, j, ph, B, hin);
                int bn;
                if (nsplit > 1) {
                    c.y = a.ws;
                    c.out_f32 = 1;
                    c.split_stride = slice;
                    conv_launch<T>(c, pl[ph], st);
                } else if (g.conv[j].tap && hw.tap && tap_conv_fits(c, &bn)) {
                    conv_tap_launch<T>(c, bn, hw, st);
                } else {
                    conv_launch<T>(c, pl[ph], st);
                }
                CK_LAUNCH();
            }
            mark(a, "upconv_mma", st);
            if (nsplit > 1 || f32)
                epi_kernel<T, float><<<blocks_for((size_t)B * Ro * Ro * L.cout / 4, 256), 256, 0, st>>>(
                    nsplit > 1 ? a.ws : a.raw, nsplit, slice, B, RR, RR, L.cout, 1, a.d[j], L.cout, g.conv[j].bias,
                    1, 0.2f, SQRT2, e, g.conv[j].nw, hout, 2 * L.cout, 0);
            else
                up_epilogue<T>(g, a, j, B, g.conv[j].tiled_epi, hout, st);
            CK_LAUNCH();
        }
        cur ^= 1;
        mark(a, L.up ? "upconv" : "conv", st);
        if (a.keep_taps)
            CK(cudaMemcpyAsync(a.tap_conv[j], hout, (size_t)B * Ro * Ro * 2 * L.cout * sizeof(T),
                               cudaMemcpyDeviceToDevice, st));
        if (j % 2 == 0) {
            int r = j / 2;
            float *dst = a.skip[sk < 0 ? 0 : sk ^ 1];
            int tpp = torgb_tpp(B, Ro, 2 * L.cout, 16 / (int)sizeof(T));
            torgb_kernel<T><<<blocks_for((size_t)B * Ro * Ro * tpp, 128), 128, 0, st>>>(
                hout, B, Ro, 2 * L.cout, g.rgb[r].w, (float)(1.0 / std::sqrt(2.0 * L.cout)),
                a.s_all + g.rgb[r].s_off, g.rtot, g.rgb[r].bias, sk < 0 ? nullptr : a.skip[sk], dst);
            CK_LAUNCH();
            sk = sk < 0 ? 0 : sk ^ 1;
            mark(a, "torgb", st);
            if (a.keep_taps)
                CK(cudaMemcpyAsync(a.tap_rgb[r], dst, (size_t)B * 3 * Ro * Ro * sizeof(float),
                                   cudaMemcpyDeviceToDevice, st));
        }
    }
    a.out = a.skip[sk];
    return 0;
}

/* One forward, through a cached CUDA graph when enabled. */
template <typename T>
static int gpen_run(const gpen_weights<T> &g, gpen_acts<T> &a, int B, const conv_hw &hw, int graphs,
                    cudaStream_t st, gp_error *err)
{
    if (!graphs || a.keep_taps || B > 64)
        return gpen_enqueue<T>(g, a, B, hw, st, err);
    if (!a.graph[B]) {
        cudaGraph_t gr;
        CK(cudaStreamBeginCapture(st, cudaStreamCaptureModeThreadLocal));
        int rc = gpen_enqueue<T>(g, a, B, hw, st, err);
        cudaError_t e = cudaStreamEndCapture(st, &gr);
        if (rc)
            return rc;
        if (e != cudaSuccess)
            return gpu_cuda_fail(err, e, "cudaStreamEndCapture", __FILE__, __LINE__);
        e = cudaGraphInstantiate(&a.graph[B], gr, 0);
        cudaGraphDestroy(gr);
        if (e != cudaSuccess)
            return gpu_cuda_fail(err, e, "cudaGraphInstantiate", __FILE__, __LINE__);
    } else {
        /* a.out must point at the final skip: recompute it as the enqueue would */
        int n_rgb = g.arch.n_rgb;
        a.out = a.skip[(n_rgb - 1) & 1];
    }
    CK(cudaGraphLaunch(a.graph[B], st));
    return 0;
}

/* Median device time of fn() on stream st over 5 runs after 2, milliseconds. */
template <typename F> static int time_ms(F fn, cudaStream_t st, double *ms, gp_error *err)
{
    cudaEvent_t e0, e1;
    CK(cudaEventCreate(&e0));
    CK(cudaEventCreate(&e1));
    std::vector<double> t;
    cudaError_t ce = cudaSuccess;
    for (int i = 0; i < 7 && ce == cudaSuccess; i++) {
        cudaEventRecord(e0, st);
        fn();
        cudaEventRecord(e1, st);
        ce = cudaEventSynchronize(e1);
        if (ce == cudaSuccess)
            ce = cudaGetLastError();
        float f = 0;
        cudaEventElapsedTime(&f, e0, e1);
        if (i >= 2)
            t.push_back(f);
    }
    cudaEventDestroy(e0);
    cudaEventDestroy(e1);
    if (ce != cudaSuccess)
        return gpu_cuda_fail(err, ce, "kernel timing", __FILE__, __LINE__);
    std::sort(t.begin(), t.end());
    *ms = t[t.size() / 2];
    return 0;
}

/* Chooses each layer's kernel variants: what the switches say, or where they say auto (the
 * default), the faster of the two timed on that layer at batch B on this slot's buffers
 * (filled with random values first). The tiled epilogue is used only after agreeing with
 * the per-pixel one on a 64x64 layer; the tap kernel only where tap_conv_probe passed.
 * Writes what it chose, with the times, into g.tuned. */
template <typename T>
static int gpen_tune(gpen_weights<T> &g, gpen_acts<T> &a, int B, const conv_hw &hw, cudaStream_t st, gp_error *err)
{
    const gpen_arch &A = g.arch;
    for (int j = 0; j < A.n_conv; j++)
        g.conv[j].tap = g.conv[j].tiled_epi = 0;
    if constexpr (sizeof(T) == 4) {
        g.tuned = "fp32 simt";
        return 0;
    } else {
        const kernel_switches sw = kernel_switches::from_env();
        fill_uniform_kernel<T><<<1024, 256, 0, st>>>(a.h[0], a.h_elems, 1.f, 21);
        fill_uniform_kernel<T><<<1024, 256, 0, st>>>(a.h[1], a.h_elems, 1.f, 22);
        fill_uniform_kernel<T><<<1024, 256, 0, st>>>(reinterpret_cast<T *>(a.raw), a.raw_elems, 1.f, 23);
        fill_uniform_kernel<float><<<64, 256, 0, st>>>(a.s_all, (size_t)B * g.rtot, 1.f, 24);
        for (int k = 0; k < A.n_enc; k++)
            fill_uniform_kernel<T><<<256, 256, 0, st>>>(a.enc[k], (size_t)B * A.enc[k].res_out * A.enc[k].res_out * A.enc[k].cout,
                                                        1.f, 25 + k);
        for (int j = 0; j < A.n_conv; j++)
            fill_uniform_kernel<float><<<16, 256, 0, st>>>(a.d[j], (size_t)B * A.conv[j].cout, 1.f, 40 + j);
        CK_LAUNCH();
        CK(cudaStreamSynchronize(st));
        std::string out;
        char buf[160];
        /* enc0_kernel against the input conversion + GEMM (batch 1), then timed */
        g.enc0_fused = 0;
        if (g.enc0_wf && sw.enc0 != 0) {
            const int S = A.cfg.size, C0 = A.enc[0].cout;
            fill_uniform_kernel<float><<<256, 256, 0, st>>>(a.in, (size_t)B * 3 * S * S, 1.f, 26);
            auto old_path = [&](int b) {
                nchw_to_nhwc_kernel<T><<<blocks_for((size_t)b * S * S, 256), 256, 0, st>>>(a.in, b, S, S, 8, 1.f, 0.f, a.x0);
                conv_args c = enc_conv_args<T>(g, a, 0, b);
                conv_launch<T>(c, conv_plan_for(b * S * S, C0, c.Cin, hw, false, 1), st);
            };
            auto new_path = [&](int b) {
                enc0_kernel<T><<<blocks_for((size_t)b * S * S * (C0 / 8), 256), 256, 0, st>>>(a.in, b, S, g.enc0_wf, g.enc_b[0],
                                                                                            C0, SQRT2, a.enc[0]);
            };
            size_t n = (size_t)S * S * C0;
            std::vector<T> r0(n), r1(n);
            old_path(1);
            CK_LAUNCH();
            CK(cudaMemcpyAsync(r0.data(), a.enc[0], n * sizeof(T), cudaMemcpyDeviceToHost, st));
            new_path(1);
            CK_LAUNCH();
            CK(cudaMemcpyAsync(r1.data(), a.enc[0], n * sizeof(T), cudaMemcpyDeviceToHost, st));
            CK(cudaStreamSynchronize(st));
            double rel = host_rel_l2(r1, r0);
            const double lim = std::is_same<T, __half>::value ? 3e-3 : 2e-2;
            double t0 = 0, t1 = 0;
            if (rel < lim && sw.enc0 < 0) {
                if (int rc = time_ms([&] { old_path(B); }, st, &t0, err))
                    return rc;
                if (int rc = time_ms([&] { new_path(B); }, st, &t1, err))
                    return rc;
            }
            g.enc0_fused = rel < lim && (sw.enc0 > 0 || t1 < t0);
            snprintf(buf, sizeof(buf), "enc0 fused %s (rel %.1e%s, %.3f vs %.3f ms); ", g.enc0_fused ? "on" : "off", rel,
                     rel < lim ? "" : " FAILED", t1, t0);
            out += buf;
        }
        /* the tiled epilogue against the per-pixel one, batch 1, on the first up layer of 64+ px */
        int epi_ok = 0;
        for (int j = 0; j < A.n_conv && !epi_ok; j++) {
            const gpen_styled_layer &L = A.conv[j];
            if (!L.up || L.res_out < 64 || L.cout % BLUP_C)
                continue;
            size_t n = (size_t)L.res_out * L.res_out * 2 * L.cout;
            std::vector<T> r0(n), r1(n);
            up_epilogue<T>(g, a, j, 1, 0, a.h[1], st);
            CK_LAUNCH();
            CK(cudaMemcpyAsync(r0.data(), a.h[1], n * sizeof(T), cudaMemcpyDeviceToHost, st));
            up_epilogue<T>(g, a, j, 1, 1, a.h[1], st);
            CK_LAUNCH();
            CK(cudaMemcpyAsync(r1.data(), a.h[1], n * sizeof(T), cudaMemcpyDeviceToHost, st));
            CK(cudaStreamSynchronize(st));
            double rel = host_rel_l2(r1, r0);
            epi_ok = rel < 2e-3 ? 1 : -1;
            snprintf(buf, sizeof(buf), "blur_epi check %dpx rel %.1e%s; ", L.res_out, rel, epi_ok > 0 ? "" : " FAILED");
            out += buf;
        }
        for (int j = 0; j < A.n_conv; j++) {
            const gpen_styled_layer &L = A.conv[j];
            const int Ro = L.res_out, Ri = L.res_in;
            if (L.up) {
                /* the phases: standard vs tap kernel (no split-K) */
                const size_t slice = (size_t)B * (2 * Ri + 1) * (2 * Ri + 1) * L.cout;
                int max_split = (int)std::min<size_t>(64, a.ws_cap / slice), fit = hw.tap != 0, nsplit = 1, bn;
                conv_plan pl[4];
                conv_args c[4];
                for (int ph = 0; ph < 4; ph++) {
                    int py = ph >> 1, px = ph & 1;
                    pl[ph] = conv_plan_for(B * (Ri + 1 - py) * (Ri + 1 - px), L.cout, (py ? 1 : 2) * (px ? 1 : 2) * L.cin,
                                           hw, false, max_split);
                    nsplit = std::max(nsplit, pl[ph].splits);
                    c[ph] = phase_args<T>(g, a, j, ph, B, a.h[0]);
                    fit &= tap_conv_fits(c[ph], &bn);
                }
                if (nsplit > 1)
                    continue; /* split-K: fp32 slices and epi_kernel, no variant */
                if (fit && sw.tapconv != 0) {
                    double t0 = 0, t1 = 0;
                    if (sw.tapconv < 0) {
                        if (int rc = time_ms([&] { for (int ph = 0; ph < 4; ph++) conv_launch<T>(c[ph], pl[ph], st); },
                                             st, &t0, err))
                            return rc;
                        if (int rc = time_ms([&] {
                                for (int ph = 0; ph < 4; ph++) {
                                    int b2;
                                    tap_conv_fits(c[ph], &b2);
                                    conv_tap_launch<T>(c[ph], b2, hw, st);
                                }
                            }, st, &t1, err))
                            return rc;
                    }
                    g.conv[j].tap = sw.tapconv > 0 || t1 < t0;
                    snprintf(buf, sizeof(buf), "up%d tap %s (%.3f vs %.3f ms); ", Ro, g.conv[j].tap ? "on" : "off", t1, t0);
                    out += buf;
                }
                if (L.cout % BLUP_C == 0 && epi_ok > 0 && sw.tiled_blur_epi != 0) {
                    double t0 = 0, t1 = 0;
                    if (sw.tiled_blur_epi < 0) {
                        if (int rc = time_ms([&] { up_epilogue<T>(g, a, j, B, 0, a.h[1], st); }, st, &t0, err))
                            return rc;
                        if (int rc = time_ms([&] { up_epilogue<T>(g, a, j, B, 1, a.h[1], st); }, st, &t1, err))
                            return rc;
                    }
                    g.conv[j].tiled_epi = sw.tiled_blur_epi > 0 || t1 < t0;
                    snprintf(buf, sizeof(buf), "up%d blur_epi %s (%.3f vs %.3f ms); ", Ro,
                             g.conv[j].tiled_epi ? "tiled" : "per-pixel", t1, t0);
                    out += buf;
                }
            } else if (hw.tap && sw.tapconv != 0) {
                conv_args c = styled_conv_args<T>(g, a, j, B, a.h[0], a.h[1]);
                const size_t slice = (size_t)B * Ro * Ro * L.cout;
                conv_plan p = conv_plan_for(B * Ro * Ro, L.cout, 9 * L.cin, hw, false,
                                            (int)std::min<size_t>(64, a.ws_cap / slice));
                int bn;
                if (p.splits > 1 || !tap_conv_fits(c, &bn))
                    continue;
                double t0 = 0, t1 = 0;
                if (sw.tapconv < 0) {
                    if (int rc = time_ms([&] { conv_launch<T>(c, p, st); }, st, &t0, err))
                        return rc;
                    if (int rc = time_ms([&] { conv_tap_launch<T>(c, bn, hw, st); }, st, &t1, err))
                        return rc;
                }
                g.conv[j].tap = sw.tapconv > 0 || t1 < t0;
                snprintf(buf, sizeof(buf), "conv%d tap %s (%.3f vs %.3f ms); ", Ro, g.conv[j].tap ? "on" : "off", t1, t0);
                out += buf;
            }
        }
        g.tuned = out.empty() ? "no variant applies" : out;
        return 0;
    }
}

#include "gpu/gpu_pipeline.cuh"

/* ------------------------------------------------------------------ matrix peak */
#include <cublasLt.h>

/* fp16 GEMM 8192^3 through cuBLASLt: the card's practical fp16 dense matrix rate. */
static int cublaslt_fp16_tflops(double *tflops, gp_error *err)
{
    const int n = 8192;
    __half *a, *b, *c;
    void *ws;
    size_t wsz = 64u << 20;
    CK(cudaMalloc(&a, (size_t)n * n * 2));
    CK(cudaMalloc(&b, (size_t)n * n * 2));
    CK(cudaMalloc(&c, (size_t)n * n * 2));
    CK(cudaMalloc(&ws, wsz));
    std::vector<__half> h((size_t)n * n);
    uint64_t key = gpen_rand_key(3, "gemm");
    for (size_t i = 0; i < h.size(); i++)
        h[i] = __float2half_rn((float)(gpen_rand_uniform(key, i) - 0.5));
    CK(cudaMemcpy(a, h.data(), h.size() * 2, cudaMemcpyHostToDevice));
    CK(cudaMemcpy(b, h.data(), h.size() * 2, cudaMemcpyHostToDevice));
    cublasLtHandle_t lt;
    cublasLtMatmulDesc_t op;
    cublasLtMatrixLayout_t la, lb, lc;
    cublasLtMatmulPreference_t pref;
    cublasLtMatmulHeuristicResult_t hr;
    int found = 0;
    float alpha = 1.f, beta = 0.f;
    int rc = 0;
    if (cublasLtCreate(&lt) != CUBLAS_STATUS_SUCCESS)
        return gp_error_set(err, GP_EIO, NULL, 0, 0, "cublasLt", "cublasLtCreate failed");
    cublasLtMatmulDescCreate(&op, CUBLAS_COMPUTE_32F, CUDA_R_32F);
    cublasLtMatrixLayoutCreate(&la, CUDA_R_16F, n, n, n);
    cublasLtMatrixLayoutCreate(&lb, CUDA_R_16F, n, n, n);
    cublasLtMatrixLayoutCreate(&lc, CUDA_R_16F, n, n, n);
    cublasLtMatmulPreferenceCreate(&pref);
    cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &wsz, sizeof(wsz));
    cublasLtMatmulAlgoGetHeuristic(lt, op, la, lb, lc, lc, pref, 1, &hr, &found);
    if (!found) {
        rc = gp_error_set(err, GP_ENOTSUP, NULL, 0, 0, "cublasLt", "no fp16 GEMM algorithm");
    } else {
        cudaEvent_t e0, e1;
        cudaEventCreate(&e0);
        cudaEventCreate(&e1);
        std::vector<double> t;
        for (int i = 0; i < 8; i++) {
            cudaEventRecord(e0);
            cublasLtMatmul(lt, op, &alpha, a, la, b, lb, &beta, c, lc, c, lc, &hr.algo, ws, wsz, 0);
            cudaEventRecord(e1);
            cudaEventSynchronize(e1);
            float ms;
            cudaEventElapsedTime(&ms, e0, e1);
            if (i >= 2)
                t.push_back(ms);
        }
        double med, sd;
        stats_of(t, &med, &sd);
        *tflops = 2.0 * n * (double)n * n / (med * 1e-3) / 1e12;
        cudaEventDestroy(e0);
        cudaEventDestroy(e1);
    }
    cublasLtMatmulPreferenceDestroy(pref);
    cublasLtMatrixLayoutDestroy(la);
    cublasLtMatrixLayoutDestroy(lb);
    cublasLtMatrixLayoutDestroy(lc);
    cublasLtMatmulDescDestroy(op);
    cublasLtDestroy(lt);
    cudaFree(a);
    cudaFree(b);
    cudaFree(c);
    cudaFree(ws);
    if (!rc)
        CK(cudaGetLastError());
    return rc;
}

extern "C" int gpu_conv_kernel_check(gpu_ctx *c, double *worst_rel, int *n_cases, gp_error *err)
{
    return c->eng->conv_kernel_check(worst_rel, n_cases, err);
}

extern "C" int gpu_conv_tile_bench(gpu_ctx *c, FILE *f, gp_error *err)
{
    return c->eng->conv_tile_bench(f, err);
}

extern "C" int gpu_matmul_peak(gpu_ctx *c, double *core_tflops, double *cublas_tflops, gp_error *err)
{
    *core_tflops = *cublas_tflops = 0;
    if (int rc = c->eng->core_matmul(core_tflops, err))
        return rc;
    return cublaslt_fp16_tflops(cublas_tflops, err);
}
