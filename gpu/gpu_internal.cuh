/* gpu_internal.cuh: host-side helpers shared by the CUDA translation units (C++ only):
 * error mapping, device buffers, the conv planner/launcher. */
#pragma once
#include <cuda_runtime.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <vector>

#include "gpu/gpu.h"
#include "gpu/gpu_kernels.cuh"

extern "C" {
#include "gpu/ref/gpen_rand.h"
#include "gpu/ref/pipe_nets.h"
#include "gpu/ref/retina_post.h"
}

int gpu_cuda_fail(gp_error *err, cudaError_t e, const char *what, const char *file, int line);

#define CK(call)                                                                           \
    do {                                                                                   \
        cudaError_t e_ = (call);                                                           \
        if (e_ != cudaSuccess)                                                             \
            return gpu_cuda_fail(err, e_, #call, __FILE__, __LINE__);                      \
    } while (0)
#define CK_LAUNCH() CK(cudaGetLastError())

static inline unsigned blocks_for(size_t n, int threads)
{
    return (unsigned)((n + (size_t)threads - 1) / (size_t)threads);
}

/* Device allocations of one owner, freed together. */
struct dev_arena {
    std::vector<void *> ptrs;
    size_t bytes = 0;
    template <typename X> int alloc(X **p, size_t n, gp_error *err)
    {
        void *q = nullptr;
        size_t nb = n * sizeof(X);
        if (nb == 0)
            nb = 16;
        cudaError_t e = cudaMalloc(&q, nb);
        if (e != cudaSuccess) {
            *p = nullptr;
            return gpu_cuda_fail(err, e, "cudaMalloc", __FILE__, __LINE__);
        }
        ptrs.push_back(q);
        bytes += nb;
        *p = static_cast<X *>(q);
        return 0;
    }
    void release()
    {
        for (void *q : ptrs)
            cudaFree(q);
        ptrs.clear();
        bytes = 0;
    }
};

/* What the conv planner may use on this device: its SM count, and whether the Hopper
 * wgmma kernel runs here (compute capability 9.0, built for sm_90a, not disabled). */
struct conv_hw {
    int sm;
    int wgmma;
    int tap; /* conv_tap_wgmma_kernel usable: 0 no, else 1 + the descriptor base mode that
              * tap_conv_probe found correct on this device */
};

/* Tile choice, kernel and split-K factor of one conv (stages: wgmma only). */
struct conv_plan {
    int bm, bn, splits, kt_per_split, wgmma, stages;
};

/* The wgmma kernel's tile configurations (gpu_cuda.cu). */
struct wg_tile {
    int bm, bn, stages, per_sm;
    double rate;
};
enum { N_WG_TILES = 6 };
extern const wg_tile WG_TILES[N_WG_TILES];

/* max_splits: the split-K slices the caller's fp32 workspace holds (1: no split). */
conv_plan conv_plan_for(int M, int N, int K, const conv_hw &hw, bool f32, int max_splits);

/* Launches one conv with the plan's tile (mode/y as set in a; when plan.splits > 1 the
 * caller has pointed a.y at a zeroed fp32 buffer and set a.mode = EPI_ATOMIC). */
template <typename T> void conv_launch(conv_args a, const conv_plan &p, cudaStream_t st);

/* Whether conv_tap_wgmma_kernel (gpu_kernels.cuh) computes a, and with which tile width. */
bool tap_conv_fits(const conv_args &a, int *bn);
/* Launches it (hw.tap must be set). */
template <typename T> void conv_tap_launch(const conv_args &a, int bn, const conv_hw &hw, cudaStream_t st);
/* Which descriptor base mode makes the tap kernel agree with mma.sync on this device, checked
 * on convs with edge tiles, style scale, demodulation and concat (fp16/bf16, wgmma devices
 * only): sets hw.tap (0: neither, or not tried); *note says what was found. */
template <typename T> int tap_conv_probe(conv_hw &hw, char *note, size_t note_len, gp_error *err);

/* Host conversions. */
template <typename T> T host_from_float(float v);
static inline float host_to_float(float v) { return v; }
static inline float host_to_float(__half v) { return __half2float(v); }
static inline float host_to_float(__nv_bfloat16 v) { return __bfloat162float(v); }

/* Fills n floats from the generator: normal(0, sd) under `name`. */
void host_random_normal(uint64_t seed, const char *name, float sd, float mean, float *dst,
                        size_t n);

/* Uploads host floats to a new device array of T. */
template <typename T> int upload(dev_arena &ar, const float *src, size_t n, T **dst, gp_error *err)
{
    std::vector<T> tmp(n);
    for (size_t i = 0; i < n; i++)
        tmp[i] = host_from_float<T>(src[i]);
    if (int rc = ar.alloc(dst, n, err))
        return rc;
    CK(cudaMemcpy(*dst, tmp.data(), n * sizeof(T), cudaMemcpyHostToDevice));
    return 0;
}

/* A plain conv layer (conv + folded BN bias + activation) of the pipeline's networks; its
 * weights come from a loaded gpu/ref/pipe_nets layer (a converted checkpoint or the
 * deterministic random weights). Weights [Cout][k][k][Cin_pad]. */
template <typename T> struct conv_layer {
    int cin, cin_pad, cout, k, stride, pad, pad_mode, act;
    float slope;
    T *w;
    float *bias;
};

/* Uploads layer `name` of `net`, checking it has the shape the CUDA network expects. */
template <typename T>
int conv_layer_init(dev_arena &ar, conv_layer<T> &L, const pipe_net &net, const char *name, int cin,
                    int cout, int k, int stride, int pad_mode, int act, float slope, gp_error *err);

/* Runs L on x [B,H,W,cin_pad] into y (channel offset coff of Ctot), optional residual
 * (same grid, res_cstride) and nearest-x2 upsampled input. Returns output H, W. */
template <typename T>
void conv_layer_run(const conv_layer<T> &L, const T *x, int B, int H, int W, int up_nearest, T *y,
                    int Ctot, int coff, const T *res, int res_cstride, const conv_hw &hw,
                    cudaStream_t st, int *OH, int *OW);
