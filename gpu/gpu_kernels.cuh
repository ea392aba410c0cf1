/* gpu_kernels.cuh: device code of the CUDA core (C++, included by gpu_cuda.cu only).
 * Activations are NHWC of T (float, __half or __nv_bfloat16); accumulation is fp32.
 * conv_args describes one implicit-GEMM convolution generalised enough for every conv of
 * GPEN, RetinaFace and ParseNet:
 *   out[b, oy*osy+ooy, ox*osx+oox, coff+n] = epi( sum_{ty,tx,c} x[b, iy, ix, c] * s[b,c]
 *                                                  * w[n, ty, tx, c] )
 *   iy = oy*sy + ty*dy + py0 (zero or reflect padding; optional nearest x2 upsampling)
 * M = B*OHk*OWk output pixels, N = Cout, K = TY*TX*Cin (Cin % 8 == 0). The tensor-core
 * kernel (mma.sync m16n8k16, ldmatrix, register-staged double buffer) serves fp16/bf16;
 * a SIMT kernel serves fp32. Epilogues: raw fp32 (plain or atomic for split-K), or fused
 * (x d[b,n], + bias, + residual, leaky ReLU x gain, concat of act(nw*e + bias2)). */
#pragma once
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <stdint.h>

enum { EPI_RAW = 0, EPI_ATOMIC = 1, EPI_FUSED = 2 };
enum { PAD_ZERO = 0, PAD_REFLECT = 1 };

struct conv_args {
    const void *x;
    int B, IH, IW, Cin;        /* IH, IW: dims as seen by the conv (virtual when up_nearest) */
    int up_nearest;            /* input is x upsampled x2 nearest: reads x[iy/2, ix/2] */
    int pad_mode;
    const float *in_scale;     /* s[b * in_scale_bstride + c] multiplies the input, or NULL */
    int in_scale_bstride;
    const void *w;             /* [Cout][TY][TX][Cin] */
    int Cout, TY, TX, sy, sx, dy, dx, py0, px0;
    int OHk, OWk;
    void *y;                   /* output buffer */
    int out_f32;               /* fused epilogue writes float instead of T */
    int OHf, OWf, osy, osx, ooy, oox, Ctot, coff;
    int mode;                  /* EPI_* */
    const float *d;            /* demodulation d[b * d_bstride + n], or NULL */
    int d_bstride;
    const float *bias;         /* [Cout] (+ [Cout, 2 Cout) for the concat half), or NULL */
    int act;                   /* 0 none, 1 leaky ReLU (slope, gain) */
    float slope, gain;
    const void *res;           /* residual T at [pixel][res_cstride], added before act */
    int res_cstride;
    const void *e;             /* concat source T [pixel][Cout]: channel Cout+n */
    float nw;
    int kt_per_split;          /* K tiles per blockIdx.z */
    size_t split_stride;       /* EPI_RAW: elements between the slices of blockIdx.z */
};

template <typename T> __device__ __forceinline__ float to_f(T v);
template <> __device__ __forceinline__ float to_f<float>(float v) { return v; }
template <> __device__ __forceinline__ float to_f<__half>(__half v) { return __half2float(v); }
template <> __device__ __forceinline__ float to_f<__nv_bfloat16>(__nv_bfloat16 v)
{
    return __bfloat162float(v);
}
template <typename T> __device__ __forceinline__ T from_f(float v);
template <> __device__ __forceinline__ float from_f<float>(float v) { return v; }
template <> __device__ __forceinline__ __half from_f<__half>(float v) { return __float2half_rn(v); }
template <> __device__ __forceinline__ __nv_bfloat16 from_f<__nv_bfloat16>(float v)
{
    return __float2bfloat16_rn(v);
}

/* Multiplies the 16 bytes of v (16/sizeof(T) elements) by s[0..]. */
template <typename T> __device__ __forceinline__ void scale_vec(uint4 &v, const float *s)
{
    constexpr int n = 16 / sizeof(T);
    T *p = reinterpret_cast<T *>(&v);
#pragma unroll
    for (int i = 0; i < n; i++)
        p[i] = from_f<T>(to_f<T>(p[i]) * __ldg(s + i));
}

/* Per-row (output pixel) state of the A loader. */
struct a_row {
    int b, iy0, ix0;
    bool valid;
};

__device__ __forceinline__ a_row make_row(const conv_args &a, int m, int M)
{
    a_row r;
    r.valid = m < M;
    int mm = r.valid ? m : 0;
    int hw = a.OHk * a.OWk;
    r.b = mm / hw;
    int rem = mm - r.b * hw;
    int oy = rem / a.OWk, ox = rem - oy * a.OWk;
    r.iy0 = oy * a.sy + a.py0;
    r.ix0 = ox * a.sx + a.px0;
    return r;
}

/* 16 bytes of the A operand at tap (ty, tx), channel c of row r. */
template <typename T>
__device__ __forceinline__ uint4 load_a(const conv_args &a, const a_row &r, int ty, int tx, int c,
                                        bool kvalid)
{
    uint4 v = make_uint4(0, 0, 0, 0);
    if (!r.valid || !kvalid)
        return v;
    int iy = r.iy0 + ty * a.dy, ix = r.ix0 + tx * a.dx;
    if (a.pad_mode == PAD_REFLECT) {
        iy = iy < 0 ? -iy : (iy >= a.IH ? 2 * a.IH - 2 - iy : iy);
        ix = ix < 0 ? -ix : (ix >= a.IW ? 2 * a.IW - 2 - ix : ix);
    } else if ((unsigned)iy >= (unsigned)a.IH || (unsigned)ix >= (unsigned)a.IW) {
        return v;
    }
    int rh = a.IH, rw = a.IW;
    if (a.up_nearest) {
        iy >>= 1;
        ix >>= 1;
        rh >>= 1;
        rw >>= 1;
    }
    const T *p = static_cast<const T *>(a.x) + (((size_t)r.b * rh + iy) * rw + ix) * a.Cin + c;
    v = __ldg(reinterpret_cast<const uint4 *>(p));
    if (a.in_scale)
        scale_vec<T>(v, a.in_scale + (size_t)r.b * a.in_scale_bstride + c);
    return v;
}

template <typename T> __device__ __forceinline__ uint4 load_b(const conv_args &a, int n, int k, int K)
{
    if (n >= a.Cout || k >= K)
        return make_uint4(0, 0, 0, 0);
    return __ldg(reinterpret_cast<const uint4 *>(static_cast<const T *>(a.w) + (size_t)n * K + k));
}

/* Output element offset of pixel m (channel 0 at coff), and its image index. */
__device__ __forceinline__ size_t out_base(const conv_args &a, int m, int *b_out)
{
    int hw = a.OHk * a.OWk;
    int b = m / hw, rem = m - b * hw;
    int oy = rem / a.OWk, ox = rem - oy * a.OWk;
    *b_out = b;
    size_t pix = ((size_t)b * a.OHf + oy * a.osy + a.ooy) * a.OWf + ox * a.osx + a.oox;
    return pix * a.Ctot + a.coff;
}

/* Epilogue for two adjacent output channels n, n+1 of output pixel m (base from out_base). */
template <typename T>
__device__ __forceinline__ void epi_pair(const conv_args &a, size_t base, int b, int m, int n,
                                         float v0, float v1)
{
    size_t o = base + n;
    bool two = n + 1 < a.Cout;
    if (a.mode == EPI_RAW) {
        o += blockIdx.z * a.split_stride;
        if (a.out_f32) {
            float *y = static_cast<float *>(a.y);
            if (two)
                *reinterpret_cast<float2 *>(y + o) = make_float2(v0, v1);
            else
                y[o] = v0;
        } else {
            T *y = static_cast<T *>(a.y);
            y[o] = from_f<T>(v0);
            if (two)
                y[o + 1] = from_f<T>(v1);
        }
        return;
    }
    if (a.mode == EPI_ATOMIC) {
        float *y = static_cast<float *>(a.y);
        atomicAdd(y + o, v0);
        if (two)
            atomicAdd(y + o + 1, v1);
        return;
    }
    if (a.d) {
        v0 *= __ldg(a.d + (size_t)b * a.d_bstride + n);
        if (two)
            v1 *= __ldg(a.d + (size_t)b * a.d_bstride + n + 1);
    }
    if (a.bias) {
        v0 += __ldg(a.bias + n);
        if (two)
            v1 += __ldg(a.bias + n + 1);
    }
    size_t mpix = (size_t)m; /* residual and concat sources share the kernel's pixel grid */
    if (a.res) {
        const T *r = static_cast<const T *>(a.res) + mpix * a.res_cstride + n;
        v0 += to_f<T>(r[0]);
        if (two)
            v1 += to_f<T>(r[1]);
    }
    if (a.act) {
        v0 = (v0 < 0.f ? v0 * a.slope : v0) * a.gain;
        v1 = (v1 < 0.f ? v1 * a.slope : v1) * a.gain;
    }
    if (a.out_f32) {
        float *y = static_cast<float *>(a.y);
        y[o] = v0;
        if (two)
            y[o + 1] = v1;
    } else {
        T *y = static_cast<T *>(a.y);
        y[o] = from_f<T>(v0);
        if (two)
            y[o + 1] = from_f<T>(v1);
    }
    if (a.e) {
        const T *e = static_cast<const T *>(a.e) + mpix * a.Cout + n;
        T *y = static_cast<T *>(a.y);
#pragma unroll
        for (int j = 0; j < 2; j++) {
            if (j == 1 && !two)
                break;
            float v = a.nw * to_f<T>(e[j]) + __ldg(a.bias + a.Cout + n + j);
            v = (v < 0.f ? v * a.slope : v) * a.gain;
            y[o + a.Cout + j] = from_f<T>(v);
        }
    }
}

/* Walks (ty, tx, c) along K in steps of `step` channels. */
struct k_cursor {
    int ty, tx, c;
    __device__ __forceinline__ void init(int k, int Cin, int TX)
    {
        int tap = k / Cin;
        c = k - tap * Cin;
        ty = tap / TX;
        tx = tap - ty * TX;
    }
    __device__ __forceinline__ void advance(int step, int Cin, int TX)
    {
        c += step;
        while (c >= Cin) {
            c -= Cin;
            if (++tx == TX) {
                tx = 0;
                ty++;
            }
        }
    }
};

template <typename T> struct mma_op;
template <> struct mma_op<__half> {
    static __device__ __forceinline__ void run(float *c, const uint32_t *a, const uint32_t *b)
    {
        asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, "
                     "{%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};\n"
                     : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
                     : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
    }
};
template <> struct mma_op<__nv_bfloat16> {
    static __device__ __forceinline__ void run(float *c, const uint32_t *a, const uint32_t *b)
    {
        asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, "
                     "{%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};\n"
                     : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
                     : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
    }
};

__device__ __forceinline__ void ldmatrix_x4(uint32_t *r, const void *smem)
{
    uint32_t addr = (uint32_t)__cvta_generic_to_shared(smem);
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];\n"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                 : "r"(addr));
}

/* Tensor-core implicit GEMM: BM x BN tile, BK = 32, 8 warps as 2 (M) x 4 (N). */
template <typename T, int BM, int BN>
__global__ void __launch_bounds__(256) conv_mma_kernel(const conv_args a)
{
    constexpr int BK = 32, LDS = BK + 8, VEC = 8, VPR = BK / VEC, RPP = 256 / VPR;
    constexpr int AP = BM / RPP, BP = BN / RPP;
    constexpr int WM = BM / 2, WN = BN / 4, MT = WM / 16, NT = WN / 8;
    static_assert(NT % 2 == 0, "NT must be even");
    __shared__ __align__(16) T sA[2][BM * LDS];
    __shared__ __align__(16) T sB[2][BN * LDS];

    const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
    const int wm = warp >> 2, wn = warp & 3;
    const int M = a.B * a.OHk * a.OWk, K = a.TY * a.TX * a.Cin, KT = (K + BK - 1) / BK;
    const int m0 = blockIdx.x * BM, n0 = blockIdx.y * BN;
    const int kt0 = blockIdx.z * a.kt_per_split;
    const int kt1 = min(KT, kt0 + a.kt_per_split);
    if (kt0 >= kt1)
        return;
    const int kv = (tid % VPR) * VEC, r0 = tid / VPR;

    a_row rows[AP];
#pragma unroll
    for (int p = 0; p < AP; p++)
        rows[p] = make_row(a, m0 + r0 + p * RPP, M);
    k_cursor kc;
    kc.init(kt0 * BK + kv, a.Cin, a.TX);
    int k = kt0 * BK + kv;

    float acc[MT][NT][4];
#pragma unroll
    for (int i = 0; i < MT; i++)
#pragma unroll
        for (int j = 0; j < NT; j++)
#pragma unroll
            for (int q = 0; q < 4; q++)
                acc[i][j][q] = 0.f;

    uint4 ra[AP], rb[BP];
    auto gload = [&]() {
#pragma unroll
        for (int p = 0; p < AP; p++)
            ra[p] = load_a<T>(a, rows[p], kc.ty, kc.tx, kc.c, k < K);
#pragma unroll
        for (int p = 0; p < BP; p++)
            rb[p] = load_b<T>(a, n0 + r0 + p * RPP, k, K);
    };
    auto sstore = [&](int buf) {
#pragma unroll
        for (int p = 0; p < AP; p++)
            *reinterpret_cast<uint4 *>(&sA[buf][(r0 + p * RPP) * LDS + kv]) = ra[p];
#pragma unroll
        for (int p = 0; p < BP; p++)
            *reinterpret_cast<uint4 *>(&sB[buf][(r0 + p * RPP) * LDS + kv]) = rb[p];
    };

    gload();
    sstore(0);
    __syncthreads();
    for (int kt = kt0; kt < kt1; kt++) {
        const int buf = (kt - kt0) & 1;
        const bool more = kt + 1 < kt1;
        if (more) {
            k += BK;
            kc.advance(BK, a.Cin, a.TX);
            gload();
        }
#pragma unroll
        for (int ks = 0; ks < BK / 16; ks++) {
            uint32_t af[MT][4], bfr[NT][2];
#pragma unroll
            for (int mt = 0; mt < MT; mt++)
                ldmatrix_x4(af[mt], &sA[buf][(wm * WM + mt * 16 + (lane & 15)) * LDS + ks * 16 +
                                             (lane >> 4) * 8]);
#pragma unroll
            for (int nt2 = 0; nt2 < NT / 2; nt2++) {
                uint32_t r[4];
                ldmatrix_x4(r, &sB[buf][(wn * WN + nt2 * 16 + (lane & 7) + (lane >> 4) * 8) * LDS +
                                        ks * 16 + ((lane >> 3) & 1) * 8]);
                bfr[2 * nt2][0] = r[0];
                bfr[2 * nt2][1] = r[1];
                bfr[2 * nt2 + 1][0] = r[2];
                bfr[2 * nt2 + 1][1] = r[3];
            }
#pragma unroll
            for (int mt = 0; mt < MT; mt++)
#pragma unroll
                for (int nt = 0; nt < NT; nt++)
                    mma_op<T>::run(acc[mt][nt], af[mt], bfr[nt]);
        }
        if (more)
            sstore(buf ^ 1);
        __syncthreads();
    }

#pragma unroll
    for (int mt = 0; mt < MT; mt++)
#pragma unroll
        for (int h = 0; h < 2; h++) {
            int m = m0 + wm * WM + mt * 16 + (lane >> 2) + h * 8;
            if (m >= M)
                continue;
            int b;
            size_t base = out_base(a, m, &b);
#pragma unroll
            for (int nt = 0; nt < NT; nt++) {
                int n = n0 + wn * WN + nt * 8 + (lane & 3) * 2;
                if (n < a.Cout)
                    epi_pair<T>(a, base, b, m, n, acc[mt][nt][h * 2], acc[mt][nt][h * 2 + 1]);
            }
        }
}

__device__ __forceinline__ void cp_async16(void *smem, const void *gmem, bool valid)
{
    uint32_t sa = (uint32_t)__cvta_generic_to_shared(smem);
    int n = valid ? 16 : 0;
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(sa), "l"(gmem), "r"(n));
}
__device__ __forceinline__ void cp_async_commit() { asm volatile("cp.async.commit_group;\n" ::); }
template <int N> __device__ __forceinline__ void cp_async_wait()
{
    asm volatile("cp.async.wait_group %0;\n" ::"n"(N));
}

/* Source address of the A chunk at (ty, tx, c) of row r, or nullptr when it is padding. */
template <typename T>
__device__ __forceinline__ const T *a_src(const conv_args &a, const a_row &r, int ty, int tx, int c,
                                          bool kvalid)
{
    if (!r.valid || !kvalid)
        return nullptr;
    int iy = r.iy0 + ty * a.dy, ix = r.ix0 + tx * a.dx;
    if (a.pad_mode == PAD_REFLECT) {
        iy = iy < 0 ? -iy : (iy >= a.IH ? 2 * a.IH - 2 - iy : iy);
        ix = ix < 0 ? -ix : (ix >= a.IW ? 2 * a.IW - 2 - ix : ix);
    } else if ((unsigned)iy >= (unsigned)a.IH || (unsigned)ix >= (unsigned)a.IW) {
        return nullptr;
    }
    int rh = a.IH, rw = a.IW;
    if (a.up_nearest) {
        iy >>= 1;
        ix >>= 1;
        rh >>= 1;
        rw >>= 1;
    }
    return static_cast<const T *>(a.x) + (((size_t)r.b * rh + iy) * rw + ix) * a.Cin + c;
}

/* The cp.async loader shared by the multistage kernels: this thread's A chunks (im2col
 * gather, rows[p] of the tile, AP of them) to dA + p * row_step and its B chunks (weight
 * rows n_first + p * RPP) to dB + p * row_step, at K offset k_in; then advances one tile. */
template <typename T, int AP, int BP, int RPP, int BK>
__device__ __forceinline__ void load_tile_async(const conv_args &a, const a_row *rows, int n_first, int K,
                                                k_cursor &kin, int &k_in, T *dA, T *dB, int row_step)
{
#pragma unroll
    for (int p = 0; p < AP; p++) {
        const T *src = a_src<T>(a, rows[p], kin.ty, kin.tx, kin.c, k_in < K);
        cp_async16(dA + p * row_step, src ? src : static_cast<const T *>(a.x), src != nullptr);
    }
#pragma unroll
    for (int p = 0; p < BP; p++) {
        int n = n_first + p * RPP;
        bool ok = n < a.Cout && k_in < K;
        const T *src = static_cast<const T *>(a.w) + (ok ? (size_t)n * K + k_in : 0);
        cp_async16(dB + p * row_step, src, ok);
    }
    k_in += BK;
    kin.advance(BK, a.Cin, a.TX);
}

/* Multiplies this thread's A chunks of a landed stage (dA + p * row_step) by the style
 * scale of their image and channels, then advances one tile (no-op without in_scale). */
template <typename T, int AP, int BK>
__device__ __forceinline__ void scale_tile(const conv_args &a, const a_row *rows, int K, k_cursor &ksc, int &k_sc,
                                           T *dA, int row_step)
{
    if (!a.in_scale)
        return;
#pragma unroll
    for (int p = 0; p < AP; p++) {
        if (rows[p].valid && k_sc < K) {
            uint4 *q = reinterpret_cast<uint4 *>(dA + p * row_step);
            uint4 v = *q;
            scale_vec<T>(v, a.in_scale + (size_t)rows[p].b * a.in_scale_bstride + ksc.c);
            *q = v;
        }
    }
    k_sc += BK;
    ksc.advance(BK, a.Cin, a.TX);
}

/* Tensor-core implicit GEMM with a STAGES-deep cp.async pipeline: BM x BN tile, BK = 32,
 * 8 warps as 2 (M) x 4 (N); the style scale is applied in shared memory by the thread
 * that copied each chunk, after its copy landed. Dynamic shared memory. */
template <typename T, int BM, int BN, int WGM, int WGN, int STAGES>
__global__ void __launch_bounds__(WGM *WGN * 32, (WGM * WGN == 8 && BM * BN >= 32768) ? 1 : 2)
    conv_mma_ms_kernel(const conv_args a)
{
    constexpr int NTH = WGM * WGN * 32;
    constexpr int BK = 32, LDS = BK + 8, VEC = 8, VPR = BK / VEC, RPP = NTH / VPR;
    constexpr int AP = BM / RPP, BP = BN / RPP;
    constexpr int WM = BM / WGM, WN = BN / WGN, MT = WM / 16, NT = WN / 8;
    static_assert(NT % 2 == 0, "NT must be even");
    static_assert(AP >= 1 && BP >= 1, "tile too small for the loader");
    extern __shared__ __align__(16) unsigned char smem_raw[];
    T *sA = reinterpret_cast<T *>(smem_raw);
    T *sB = sA + STAGES * BM * LDS;

    const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
    const int wm = warp / WGN, wn = warp % WGN;
    const int M = a.B * a.OHk * a.OWk, K = a.TY * a.TX * a.Cin, KT = (K + BK - 1) / BK;
    const int m0 = blockIdx.x * BM, n0 = blockIdx.y * BN;
    const int kt0 = blockIdx.z * a.kt_per_split;
    const int kt1 = min(KT, kt0 + a.kt_per_split);
    if (kt0 >= kt1)
        return;
    const int nkt = kt1 - kt0;
    const int kv = (tid % VPR) * VEC, r0 = tid / VPR;

    a_row rows[AP];
#pragma unroll
    for (int p = 0; p < AP; p++)
        rows[p] = make_row(a, m0 + r0 + p * RPP, M);
    k_cursor kin, ksc; /* the tile being issued, the tile being scaled */
    kin.init(kt0 * BK + kv, a.Cin, a.TX);
    ksc = kin;
    int k_in = kt0 * BK + kv, k_sc = k_in;

    float acc[MT][NT][4];
#pragma unroll
    for (int i = 0; i < MT; i++)
#pragma unroll
        for (int j = 0; j < NT; j++)
#pragma unroll
            for (int q = 0; q < 4; q++)
                acc[i][j][q] = 0.f;

    const int chunk_off = r0 * LDS + kv;
    auto issue = [&](int stage) {
        load_tile_async<T, AP, BP, RPP, BK>(a, rows, n0 + r0, K, kin, k_in, sA + stage * BM * LDS + chunk_off,
                                            sB + stage * BN * LDS + chunk_off, RPP * LDS);
    };

#pragma unroll
    for (int s = 0; s < STAGES - 1; s++) {
        if (s < nkt)
            issue(s);
        cp_async_commit();
    }
    for (int it = 0; it < nkt; it++) {
        const int stage = it % STAGES;
        cp_async_wait<STAGES - 2>();
        scale_tile<T, AP, BK>(a, rows, K, ksc, k_sc, sA + stage * BM * LDS + chunk_off, RPP * LDS);
        __syncthreads();
        if (it + STAGES - 1 < nkt)
            issue((it + STAGES - 1) % STAGES);
        cp_async_commit();
        const T *cA = sA + stage * BM * LDS, *cB = sB + stage * BN * LDS;
#pragma unroll
        for (int ks = 0; ks < BK / 16; ks++) {
            uint32_t af[MT][4], bfr[NT][2];
#pragma unroll
            for (int mt = 0; mt < MT; mt++)
                ldmatrix_x4(af[mt], cA + (wm * WM + mt * 16 + (lane & 15)) * LDS + ks * 16 + (lane >> 4) * 8);
#pragma unroll
            for (int nt2 = 0; nt2 < NT / 2; nt2++) {
                uint32_t r[4];
                ldmatrix_x4(r, cB + (wn * WN + nt2 * 16 + (lane & 7) + (lane >> 4) * 8) * LDS + ks * 16 +
                                   ((lane >> 3) & 1) * 8);
                bfr[2 * nt2][0] = r[0];
                bfr[2 * nt2][1] = r[1];
                bfr[2 * nt2 + 1][0] = r[2];
                bfr[2 * nt2 + 1][1] = r[3];
            }
#pragma unroll
            for (int mt = 0; mt < MT; mt++)
#pragma unroll
                for (int nt = 0; nt < NT; nt++)
                    mma_op<T>::run(acc[mt][nt], af[mt], bfr[nt]);
        }
    }
    cp_async_wait<0>();

#pragma unroll
    for (int mt = 0; mt < MT; mt++)
#pragma unroll
        for (int h = 0; h < 2; h++) {
            int m = m0 + wm * WM + mt * 16 + (lane >> 2) + h * 8;
            if (m >= M)
                continue;
            int b;
            size_t base = out_base(a, m, &b);
#pragma unroll
            for (int nt = 0; nt < NT; nt++) {
                int n = n0 + wn * WN + nt * 8 + (lane & 3) * 2;
                if (n < a.Cout)
                    epi_pair<T>(a, base, b, m, n, acc[mt][nt][h * 2], acc[mt][nt][h * 2 + 1]);
            }
        }
}

/* ---- Hopper (sm_90a): the same implicit GEMM on wgmma ----
 * Two consumer warpgroups (256 threads); each owns BM/2 rows of the BM x BN tile and issues
 * m64nBNk16 wgmma with A and B from shared memory. Tiles are stored K-major, 64 K-elements
 * (128 bytes) per row, in the 128-byte swizzled layout the wgmma descriptors expect (16-byte
 * chunk c of row r at chunk c ^ (r & 7); every stage 1024-byte aligned). The loader is the
 * cp.async im2col gather of conv_mma_ms_kernel; AHEAD tiles are loading while one is
 * multiplied. */
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900 && defined(__CUDA_ARCH_FEAT_SM90_ALL)
#define GPENLAB_WGMMA_ENABLED 1
#endif
#include "gpu/gpu_wgmma_ops.cuh"

/* Shared-memory matrix descriptor: K-major, 128-byte swizzle, 8-row groups 1024 bytes apart. */
__device__ __forceinline__ uint64_t wgmma_desc_sw128(uint32_t smem_addr)
{
    uint64_t d = (uint64_t)((smem_addr & 0x3FFFF) >> 4);
    d |= (uint64_t)1 << 16;           /* leading byte offset: unused for swizzled K-major */
    d |= (uint64_t)(1024 >> 4) << 32; /* stride byte offset */
    d |= (uint64_t)1 << 62;           /* 128-byte swizzle */
    return d;
}
__device__ __forceinline__ void wgmma_fence()
{
#if defined(GPENLAB_WGMMA_ENABLED)
    asm volatile("wgmma.fence.sync.aligned;\n" ::: "memory");
#endif
}
__device__ __forceinline__ void wgmma_commit()
{
#if defined(GPENLAB_WGMMA_ENABLED)
    asm volatile("wgmma.commit_group.sync.aligned;\n" ::: "memory");
#endif
}
template <int N> __device__ __forceinline__ void wgmma_wait()
{
#if defined(GPENLAB_WGMMA_ENABLED)
    asm volatile("wgmma.wait_group.sync.aligned %0;\n" ::"n"(N) : "memory");
#endif
}
/* Makes generic-proxy shared-memory writes (cp.async, the style scaling) visible to wgmma. */
__device__ __forceinline__ void fence_proxy_async_smem()
{
#if defined(GPENLAB_WGMMA_ENABLED)
    asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory");
#endif
}
/* Keeps the compiler from moving accumulator registers across async wgmma boundaries. */
template <int N> __device__ __forceinline__ void reg_fence(float *r)
{
#pragma unroll
    for (int i = 0; i < N; i++)
        asm volatile("" : "+f"(r[i])::"memory");
}

template <typename T, int BM, int BN, int STAGES> constexpr size_t wgmma_smem_bytes()
{
    return (size_t)STAGES * (BM + BN) * 64 * sizeof(T) + 1024;
}

/* BM / 64 warpgroups, each multiplying 64 rows by BN (one m64nBNk16 per 16 of K). */
template <typename T, int BM, int BN, int STAGES>
__global__ void __launch_bounds__(BM * 2, 1) conv_wgmma_kernel(const conv_args a)
{
    constexpr int NTH = BM * 2, BK = 64, VEC = 8, VPR = BK / VEC, RPP = NTH / VPR;
    constexpr int AP = BM / RPP, BP = BN / RPP;
    constexpr int WGROWS = 64, MI = 1, NACC = BN / 2;
    constexpr int A_STAGE = BM * BK, B_STAGE = BN * BK;
    /* one multiply stays in flight across the barrier (wait_group 1): the stage refilled at
     * tile it was last read by tile it + AHEAD - STAGES = it - 2 */
    constexpr int INFLIGHT = 1, AHEAD = STAGES - 1 - INFLIGHT;
    static_assert(STAGES >= 3, "one tile multiplied, one in flight, at least one loading");
    static_assert(AP >= 1 && BP >= 1 && BN % 64 == 0, "tile too small for the loader");
    extern __shared__ __align__(16) unsigned char smem_raw[];
    const uint32_t raw_s = (uint32_t)__cvta_generic_to_shared(smem_raw);
    const uint32_t pad = (1024u - (raw_s & 1023u)) & 1023u;
    T *sA = reinterpret_cast<T *>(smem_raw + pad);
    T *sB = sA + STAGES * A_STAGE;
    const uint32_t sA_s = raw_s + pad, sB_s = sA_s + STAGES * A_STAGE * (uint32_t)sizeof(T);

    const int tid = threadIdx.x, lane = tid & 31, wg = tid >> 7, wq = (tid >> 5) & 3;
    const int M = a.B * a.OHk * a.OWk, K = a.TY * a.TX * a.Cin, KT = (K + BK - 1) / BK;
    const int m0 = blockIdx.x * BM, n0 = blockIdx.y * BN;
    const int kt0 = blockIdx.z * a.kt_per_split;
    const int kt1 = min(KT, kt0 + a.kt_per_split);
    if (kt0 >= kt1)
        return;
    const int nkt = kt1 - kt0;
    const int c8 = tid % VPR, r0 = tid / VPR, kv = c8 * VEC;
    /* rows r0 + 32 p all have (row & 7) == (r0 & 7): one swizzled chunk per thread */
    const int chunk_off = r0 * BK + ((c8 ^ (r0 & 7)) * VEC);

    a_row rows[AP];
#pragma unroll
    for (int p = 0; p < AP; p++)
        rows[p] = make_row(a, m0 + r0 + p * RPP, M);
    k_cursor kin, ksc;
    kin.init(kt0 * BK + kv, a.Cin, a.TX);
    ksc = kin;
    int k_in = kt0 * BK + kv, k_sc = k_in;

    float acc[MI][NACC];
#pragma unroll
    for (int i = 0; i < MI; i++)
#pragma unroll
        for (int j = 0; j < NACC; j++)
            acc[i][j] = 0.f;

    auto issue = [&](int stage) {
        load_tile_async<T, AP, BP, RPP, BK>(a, rows, n0 + r0, K, kin, k_in, sA + stage * A_STAGE + chunk_off,
                                            sB + stage * B_STAGE + chunk_off, RPP * BK);
    };

#pragma unroll
    for (int s = 0; s < AHEAD; s++) {
        if (s < nkt)
            issue(s);
        cp_async_commit();
    }
    for (int it = 0; it < nkt; it++) {
        const int stage = it % STAGES;
        cp_async_wait<AHEAD - 1>();
        scale_tile<T, AP, BK>(a, rows, K, ksc, k_sc, sA + stage * A_STAGE + chunk_off, RPP * BK);
        fence_proxy_async_smem();
        __syncthreads();
        /* the stage refilled here was last read by the multiply of tile it + AHEAD - STAGES,
         * which every warpgroup waited for (wait_group INFLIGHT) before the barrier above */
        if (it + AHEAD < nkt)
            issue((it + AHEAD) % STAGES);
        cp_async_commit();
        wgmma_fence();
        const uint32_t aS = sA_s + (uint32_t)(stage * A_STAGE + wg * WGROWS * BK) * (uint32_t)sizeof(T);
        const uint32_t bS = sB_s + (uint32_t)(stage * B_STAGE) * (uint32_t)sizeof(T);
#pragma unroll
        for (int mi = 0; mi < MI; mi++)
#pragma unroll
            for (int ks = 0; ks < BK / 16; ks++)
                wgmma_op<T, BN>::run(acc[mi], wgmma_desc_sw128(aS + mi * 64 * BK * (uint32_t)sizeof(T) + ks * 32),
                                     wgmma_desc_sw128(bS + ks * 32));
        wgmma_commit();
        wgmma_wait<INFLIGHT>();
    }
    wgmma_wait<0>();
#pragma unroll
    for (int mi = 0; mi < MI; mi++)
        reg_fence<NACC>(acc[mi]);
    cp_async_wait<0>();

    /* accumulator layout of m64nN: warp wq of the warpgroup holds rows 16 wq .. 16 wq + 15;
     * register 4 j + q is row lane/4 + 8 (q/2), column 8 j + 2 (lane%4) + q%2 */
#pragma unroll
    for (int mi = 0; mi < MI; mi++)
#pragma unroll
        for (int h = 0; h < 2; h++) {
            int m = m0 + wg * WGROWS + mi * 64 + wq * 16 + (lane >> 2) + h * 8;
            if (m >= M)
                continue;
            int b;
            size_t base = out_base(a, m, &b);
#pragma unroll
            for (int j = 0; j < BN / 8; j++) {
                int n = n0 + j * 8 + (lane & 3) * 2;
                if (n < a.Cout)
                    epi_pair<T>(a, base, b, m, n, acc[mi][j * 4 + h * 2], acc[mi][j * 4 + h * 2 + 1]);
            }
        }
}

/* ---- Hopper: a conv whose input tile serves every tap ----
 * conv_wgmma_kernel gathers a fresh im2col row for each tap, so each input pixel comes
 * from L2 once per tap (nine times for 3x3), which at 64 output channels is more bytes
 * than the tensor cores can use (the 512x512 layers of GPEN ran at 116 TFLOP/s). Here a
 * block computes TAP_ROWS output rows x 64 pixels x BN channels: it loads the input halo,
 * (TAP_ROWS + TY - 1) x (64 + TX - 1) pixels x Cin, into shared memory once, a 64-channel
 * block after another in the 128-byte swizzled K-major layout (halo pixel h of a block at
 * row h, chunk c at c ^ (h & 7), the block 1024-byte aligned), applies the style scale
 * once per chunk, and takes each tap's A operand as a descriptor into the halo moved by
 * (ty, tx) pixels (a start row that is not a multiple of 8: base_mode 1 also sets the
 * descriptor's base offset, 0 leaves it 0; tap_conv_probe finds out at run time which the
 * hardware wants, or neither). B streams through a STAGES-deep ring as in
 * conv_wgmma_kernel. One warpgroup per output row. K order: channel block, then tap.
 * Up to TAP_MAX_KB channel blocks stay resident; beyond that the halo blocks share a ring
 * of tap_ring slots, a slot refilled only after the multiplies of the block it held are
 * done ((slots - 1) taps x blocks >= the loads in flight, STAGES - 1).
 * Fits (tap_conv_fits): stride 1, no nearest up-sampling, zero padding, dy, dx = +-1,
 * TY, TX <= 3, Cin % 64 == 0, Cout % 64 == 0, no split-K. */
constexpr int TAP_ROWS = 2, TAP_W = 64, TAP_MAX_KB = 4;
__host__ __device__ constexpr int tap_blk_bytes(int TY, int TX)
{
    return ((TAP_ROWS + TY - 1) * (TAP_W + TX - 1) * 128 + 1023) / 1024 * 1024;
}
/* Halo slots: every channel block when there are at most TAP_MAX_KB, else a ring. */
__host__ __device__ constexpr int tap_ring(int KB, int NT, int STAGES)
{
    return KB <= TAP_MAX_KB ? KB : 1 + (STAGES - 1 + NT - 1) / NT;
}
template <int BN, int STAGES> __host__ __device__ constexpr int tap_smem_bytes(int TY, int TX, int Cin)
{
    return tap_ring(Cin / 64, TY * TX, STAGES) * tap_blk_bytes(TY, TX) + STAGES * BN * 128 + 1024;
}

__device__ __forceinline__ uint64_t wgmma_desc_sw128_at(uint32_t smem_addr, int base_mode)
{
    uint64_t d = wgmma_desc_sw128(smem_addr);
    if (base_mode)
        d |= (uint64_t)((smem_addr >> 7) & 7) << 49;
    return d;
}

template <typename T, int BN, int STAGES>
__global__ void __launch_bounds__(TAP_ROWS * 128, 1) conv_tap_wgmma_kernel(const conv_args a, int base_mode)
{
    static_assert(sizeof(T) == 2 && TAP_ROWS == 2, "two warpgroups, 16-bit operands");
    constexpr int NTH = TAP_ROWS * 128, BK = 64, NACC = BN / 2, B_STAGE = BN * BK;
    constexpr int INFLIGHT = 1, AHEAD = STAGES - 1 - INFLIGHT;
    static_assert(STAGES >= 3 && (BN * 8) % NTH == 0, "ring and loader shapes");
    extern __shared__ __align__(16) unsigned char smem_raw[];
    const uint32_t raw_s = (uint32_t)__cvta_generic_to_shared(smem_raw);
    const uint32_t pad = (1024u - (raw_s & 1023u)) & 1023u;
    const int TY = a.TY, TX = a.TX, HC = TAP_W + TX - 1, HR = TAP_ROWS + TY - 1;
    const int BLK = tap_blk_bytes(TY, TX), KB = a.Cin / 64, NT = TY * TX, nsteps = KB * NT;
    const int RING = tap_ring(KB, NT, STAGES);
    T *halo = reinterpret_cast<T *>(smem_raw + pad);
    T *sB = reinterpret_cast<T *>(smem_raw + pad + (size_t)RING * BLK);
    const uint32_t halo_s = raw_s + pad, sB_s = halo_s + (uint32_t)(RING * BLK);

    const int tid = threadIdx.x, lane = tid & 31, wg = tid >> 7, wq = (tid >> 5) & 3;
    const int tiles_y = (a.OHk + TAP_ROWS - 1) / TAP_ROWS;
    const int b = blockIdx.y / tiles_y, oy0 = (blockIdx.y - b * tiles_y) * TAP_ROWS;
    const int ox0 = blockIdx.x * TAP_W, n0 = blockIdx.z * BN;
    const int K = NT * a.Cin;
    /* halo origin: the smallest input row / column any tap of the tile reads */
    const int hy0 = oy0 + a.py0 + (a.dy < 0 ? (TY - 1) * a.dy : 0);
    const int hx0 = ox0 + a.px0 + (a.dx < 0 ? (TX - 1) * a.dx : 0);
    const T *x = static_cast<const T *>(a.x);
    const size_t img_base = (size_t)b * a.IH * a.IW;

    float acc[NACC];
#pragma unroll
    for (int j = 0; j < NACC; j++)
        acc[j] = 0.f;

    auto issue = [&](int s) {
        const int kb = s / NT, t = s - kb * NT;
        if (t == 0) { /* the halo of channel block kb, into its ring slot */
            T *dst = halo + (size_t)(kb % RING) * (BLK / sizeof(T));
            for (int i = tid; i < HR * HC * 8; i += NTH) {
                int h = i >> 3, c8 = i & 7, hy = h / HC, hx = h - hy * HC;
                int iy = hy0 + hy, ix = hx0 + hx;
                bool ok = (unsigned)iy < (unsigned)a.IH && (unsigned)ix < (unsigned)a.IW;
                const T *src = ok ? x + (img_base + (size_t)iy * a.IW + ix) * a.Cin + kb * 64 + c8 * 8 : x;
                cp_async16(dst + h * 64 + ((c8 ^ (h & 7)) * 8), src, ok);
            }
        }
        const int stage = s % STAGES, koff = t * a.Cin + kb * 64;
        T *dB = sB + stage * B_STAGE;
#pragma unroll
        for (int p = 0; p < BN * 8 / NTH; p++) {
            int i = tid + p * NTH, r = i >> 3, c8 = i & 7, n = n0 + r;
            bool ok = n < a.Cout;
            const T *src = static_cast<const T *>(a.w) + (ok ? (size_t)n * K + koff + c8 * 8 : 0);
            cp_async16(dB + r * 64 + ((c8 ^ (r & 7)) * 8), src, ok);
        }
    };
    /* the style scale of halo block kb, on the chunks this thread loaded */
    auto scale_halo = [&](int kb) {
        T *blk = halo + (size_t)(kb % RING) * (BLK / sizeof(T));
        const float *sc = a.in_scale + (size_t)b * a.in_scale_bstride + kb * 64;
        for (int i = tid; i < HR * HC * 8; i += NTH) {
            int h = i >> 3, c8 = i & 7, hy = h / HC, hx = h - hy * HC;
            int iy = hy0 + hy, ix = hx0 + hx;
            if ((unsigned)iy >= (unsigned)a.IH || (unsigned)ix >= (unsigned)a.IW)
                continue;
            uint4 *q = reinterpret_cast<uint4 *>(blk + h * 64 + ((c8 ^ (h & 7)) * 8));
            uint4 v = *q;
            scale_vec<T>(v, sc + c8 * 8);
            *q = v;
        }
    };

#pragma unroll 1
    for (int s = 0; s < AHEAD; s++) {
        if (s < nsteps)
            issue(s);
        cp_async_commit();
    }
#pragma unroll 1
    for (int s = 0; s < nsteps; s++) {
        const int kb = s / NT, t = s - kb * NT, ty = t / TX, tx = t - ty * TX;
        cp_async_wait<AHEAD - 1>();
        if (t == 0 && a.in_scale)
            scale_halo(kb);
        fence_proxy_async_smem();
        __syncthreads();
        if (s + AHEAD < nsteps)
            issue(s + AHEAD);
        cp_async_commit();
        wgmma_fence();
        const int roff = a.dy > 0 ? ty : TY - 1 - ty, coff = a.dx > 0 ? tx : TX - 1 - tx;
        const uint32_t aS = halo_s + (uint32_t)((kb % RING) * BLK + ((wg + roff) * HC + coff) * 128);
        const uint32_t bS = sB_s + (uint32_t)((s % STAGES) * B_STAGE * (int)sizeof(T));
#pragma unroll
        for (int ks = 0; ks < BK / 16; ks++)
            wgmma_op<T, BN>::run(acc, wgmma_desc_sw128_at(aS + ks * 32, base_mode), wgmma_desc_sw128(bS + ks * 32));
        wgmma_commit();
        wgmma_wait<INFLIGHT>();
    }
    wgmma_wait<0>();
    reg_fence<NACC>(acc);
    cp_async_wait<0>();

    const int oy = oy0 + wg;
    if (oy >= a.OHk)
        return;
#pragma unroll
    for (int h = 0; h < 2; h++) {
        int ox = ox0 + wq * 16 + (lane >> 2) + h * 8;
        if (ox >= a.OWk)
            continue;
        int m = (b * a.OHk + oy) * a.OWk + ox, bb;
        size_t base = out_base(a, m, &bb);
#pragma unroll
        for (int j = 0; j < BN / 8; j++) {
            int n = n0 + j * 8 + (lane & 3) * 2;
            if (n < a.Cout)
                epi_pair<T>(a, base, bb, m, n, acc[j * 4 + h * 2], acc[j * 4 + h * 2 + 1]);
        }
    }
}

/* fp32 SIMT implicit GEMM: 64 x 64 tile, BK = 16, each thread 4 x 4 outputs. */
__global__ void __launch_bounds__(256) conv_f32_kernel(const conv_args a)
{
    constexpr int BM = 64, BN = 64, BK = 16, VEC = 4, VPR = BK / VEC;
    __shared__ __align__(16) float sA[2][BK][BM + 4];
    __shared__ __align__(16) float sB[2][BK][BN + 4];
    const int tid = threadIdx.x;
    const int M = a.B * a.OHk * a.OWk, K = a.TY * a.TX * a.Cin, KT = (K + BK - 1) / BK;
    const int m0 = blockIdx.x * BM, n0 = blockIdx.y * BN;
    const int kt0 = blockIdx.z * a.kt_per_split;
    const int kt1 = min(KT, kt0 + a.kt_per_split);
    if (kt0 >= kt1)
        return;
    const int kv = (tid % VPR) * VEC, r0 = tid / VPR;
    a_row row = make_row(a, m0 + r0, M);
    k_cursor kc;
    kc.init(kt0 * BK + kv, a.Cin, a.TX);
    int k = kt0 * BK + kv;
    float acc[4][4] = {};
    uint4 ra, rb;
    auto gload = [&]() {
        ra = load_a<float>(a, row, kc.ty, kc.tx, kc.c, k < K);
        rb = load_b<float>(a, n0 + r0, k, K);
    };
    auto sstore = [&](int buf) {
        const float *pa = reinterpret_cast<const float *>(&ra);
        const float *pb = reinterpret_cast<const float *>(&rb);
#pragma unroll
        for (int i = 0; i < 4; i++) {
            sA[buf][kv + i][r0] = pa[i];
            sB[buf][kv + i][r0] = pb[i];
        }
    };
    gload();
    sstore(0);
    __syncthreads();
    const int tm = (tid / 16) * 4, tn = (tid % 16) * 4;
    for (int kt = kt0; kt < kt1; kt++) {
        const int buf = (kt - kt0) & 1;
        const bool more = kt + 1 < kt1;
        if (more) {
            k += BK;
            kc.advance(BK, a.Cin, a.TX);
            gload();
        }
#pragma unroll
        for (int kk = 0; kk < BK; kk++) {
            float4 av = *reinterpret_cast<const float4 *>(&sA[buf][kk][tm]);
            float4 bv = *reinterpret_cast<const float4 *>(&sB[buf][kk][tn]);
            float am[4] = {av.x, av.y, av.z, av.w}, bn[4] = {bv.x, bv.y, bv.z, bv.w};
#pragma unroll
            for (int i = 0; i < 4; i++)
#pragma unroll
                for (int j = 0; j < 4; j++)
                    acc[i][j] = fmaf(am[i], bn[j], acc[i][j]);
        }
        if (more)
            sstore(buf ^ 1);
        __syncthreads();
    }
#pragma unroll
    for (int i = 0; i < 4; i++) {
        int m = m0 + tm + i;
        if (m >= M)
            continue;
        int b;
        size_t base = out_base(a, m, &b);
#pragma unroll
        for (int j = 0; j < 4; j += 2) {
            int n = n0 + tn + j;
            if (n < a.Cout)
                epi_pair<float>(a, base, b, m, n, acc[i][j], acc[i][j + 1]);
        }
    }
}

/* Epilogue of raw fp32 conv output [B, RH, RW, Cout]: optional blur 4K pad (1, 1)
 * (RH = 2H+1 -> 2H), x d, + bias, act, concat act(nw*e + bias2); out T [B,OH,OW,Ctot]. */
template <typename R> __device__ __forceinline__ float4 load4(const R *p);
template <> __device__ __forceinline__ float4 load4<float>(const float *p)
{
    return *reinterpret_cast<const float4 *>(p);
}
template <> __device__ __forceinline__ float4 load4<__half>(const __half *p)
{
    uint2 u = *reinterpret_cast<const uint2 *>(p);
    float2 a = __half22float2(*reinterpret_cast<__half2 *>(&u.x));
    float2 b = __half22float2(*reinterpret_cast<__half2 *>(&u.y));
    return make_float4(a.x, a.y, b.x, b.y);
}
template <> __device__ __forceinline__ float4 load4<__nv_bfloat16>(const __nv_bfloat16 *p)
{
    uint2 u = *reinterpret_cast<const uint2 *>(p);
    float2 a = __bfloat1622float2(*reinterpret_cast<__nv_bfloat162 *>(&u.x));
    float2 b = __bfloat1622float2(*reinterpret_cast<__nv_bfloat162 *>(&u.y));
    return make_float4(a.x, a.y, b.x, b.y);
}

/* raw: R (float, or T when the conv wrote T) [nsplit][B, RH, RW, Cout], summed over the
 * split-K slices in a fixed order (deterministic). */
template <typename T, typename R>
__global__ void epi_kernel(const R *raw, int nsplit, size_t split_stride, int B, int RH, int RW,
                           int Cout, int blur, const float *d, int d_bstride, const float *bias,
                           int act, float slope, float gain, const T *e, float nw, T *out, int Ctot,
                           int coff)
{
    const int OH = blur ? RH - 1 : RH, OW = blur ? RW - 1 : RW;
    const unsigned cq = Cout / 4;
    unsigned idx = blockIdx.x * blockDim.x + threadIdx.x; /* < 2^32: B*OH*OW*Cout/4 */
    unsigned total = (unsigned)B * OH * OW * cq;
    if (idx >= total)
        return;
    unsigned q = idx % cq, pix32 = idx / cq;
    size_t pix = pix32;
    int ox = (int)(pix32 % (unsigned)OW), oy = (int)((pix32 / (unsigned)OW) % (unsigned)OH),
        b = (int)(pix32 / ((unsigned)OW * OH));
    int n = q * 4;
    float4 v;
    if (blur) {
        const float k1[4] = {0.25f, 0.75f, 0.75f, 0.25f};
        v = make_float4(0, 0, 0, 0);
#pragma unroll
        for (int ty = 0; ty < 4; ty++) {
            int iy = oy + ty - 1;
            if (iy < 0 || iy >= RH)
                continue;
#pragma unroll
            for (int tx = 0; tx < 4; tx++) {
                int ix = ox + tx - 1;
                if (ix < 0 || ix >= RW)
                    continue;
                float kw = k1[3 - ty] * k1[3 - tx];
                for (int z = 0; z < nsplit; z++) {
                    float4 r = load4<R>(raw + z * split_stride + (((size_t)b * RH + iy) * RW + ix) * Cout + n);
                    v.x += kw * r.x;
                    v.y += kw * r.y;
                    v.z += kw * r.z;
                    v.w += kw * r.w;
                }
            }
        }
    } else {
        v = make_float4(0, 0, 0, 0);
        for (int z = 0; z < nsplit; z++) {
            float4 r = load4<R>(raw + z * split_stride + pix * Cout + n);
            v.x += r.x;
            v.y += r.y;
            v.z += r.z;
            v.w += r.w;
        }
    }
    float vv[4] = {v.x, v.y, v.z, v.w};
    T *o = out + pix * Ctot + coff + n;
    T ov[4], oe[4];
    float ev[4] = {0.f, 0.f, 0.f, 0.f};
    if (e) {
        float4 e4 = load4<T>(e + pix * Cout + n);
        ev[0] = e4.x, ev[1] = e4.y, ev[2] = e4.z, ev[3] = e4.w;
    }
#pragma unroll
    for (int j = 0; j < 4; j++) {
        float x = vv[j];
        if (d)
            x *= __ldg(d + (size_t)b * d_bstride + n + j);
        if (bias)
            x += __ldg(bias + n + j);
        if (act)
            x = (x < 0.f ? x * slope : x) * gain;
        ov[j] = from_f<T>(x);
        if (e) {
            float y = nw * ev[j] + __ldg(bias + Cout + n + j);
            y = (y < 0.f ? y * slope : y) * gain;
            oe[j] = from_f<T>(y);
        }
    }
    if constexpr (sizeof(T) == 2) {
        *reinterpret_cast<uint2 *>(o) = *reinterpret_cast<uint2 *>(ov);
        if (e)
            *reinterpret_cast<uint2 *>(o + Cout) = *reinterpret_cast<uint2 *>(oe);
    } else {
        *reinterpret_cast<float4 *>(o) = *reinterpret_cast<float4 *>(ov);
        if (e)
            *reinterpret_cast<float4 *>(o + Cout) = *reinterpret_cast<float4 *>(oe);
    }
}

/* The up-conv epilogue of epi_kernel (blur, nsplit 1, raw of T) on spatial tiles: a block
 * takes 8 x 16 output pixels x 64 channels, stages the (8+3) x (16+3) raw halo in shared
 * memory with 16-byte loads (one 128-byte line per pixel), blurs it separably from there
 * and writes 16-byte vectors; epi_kernel reads each raw vector 16 times through L1/L2
 * with 8-byte loads. Grid: (ceil(OW/16), ceil(OH/8) * B, Cout/64); 256 threads.
 * Thread: vector v (8 channels), column c, rows 4 rg .. 4 rg + 3 of the tile. */
constexpr int BLUP_TH = 8, BLUP_TW = 16, BLUP_C = 64;
template <typename T>
__global__ void __launch_bounds__(256) blur_up_epi_kernel(const T *raw, int B, int RH, int RW, int Cout,
                                                          const float *d, int d_bstride, const float *bias,
                                                          float slope, float gain, const T *e, float nw, T *out,
                                                          int Ctot)
{
    static_assert(sizeof(T) == 2, "16-bit types only");
    constexpr int HH = BLUP_TH + 3, HW = BLUP_TW + 3, V = BLUP_C / 8;
    __shared__ __align__(16) uint4 tile[HH * HW * V];
    const int OH = RH - 1, OW = RW - 1;
    const int tiles_y = (OH + BLUP_TH - 1) / BLUP_TH;
    const int b = blockIdx.y / tiles_y, oy0 = (blockIdx.y - b * tiles_y) * BLUP_TH;
    const int ox0 = blockIdx.x * BLUP_TW, c0 = blockIdx.z * BLUP_C;
    const int tid = threadIdx.x;
    /* halo: raw rows oy0 - 1 .. oy0 + TH + 1, columns ox0 - 1 .. ox0 + TW + 1 */
    for (int i = tid; i < HH * HW * V; i += 256) {
        int v = i % V, px = i / V, hx = px % HW, hy = px / HW;
        int iy = oy0 - 1 + hy, ix = ox0 - 1 + hx;
        uint4 q = make_uint4(0, 0, 0, 0);
        if ((unsigned)iy < (unsigned)RH && (unsigned)ix < (unsigned)RW)
            q = __ldg(reinterpret_cast<const uint4 *>(raw + (((size_t)b * RH + iy) * RW + ix) * Cout + c0 + v * 8));
        tile[i] = q;
    }
    __syncthreads();
    const int v = tid & 7, col = (tid >> 3) & 15, rg = tid >> 7;
    const float k[4] = {0.25f, 0.75f, 0.75f, 0.25f};
    float h[7][8];
#pragma unroll
    for (int i = 0; i < 7; i++) {
#pragma unroll
        for (int j = 0; j < 8; j++)
            h[i][j] = 0.f;
#pragma unroll
        for (int tx = 0; tx < 4; tx++) {
            uint4 q = tile[((rg * 4 + i) * HW + col + tx) * V + v];
            const T *p = reinterpret_cast<const T *>(&q);
#pragma unroll
            for (int j = 0; j < 8; j++)
                h[i][j] += k[tx] * to_f<T>(p[j]);
        }
    }
    const int n = c0 + v * 8, ox = ox0 + col;
    if (ox >= OW)
        return;
    float dv[8], bv[8], b2[8];
#pragma unroll
    for (int j = 0; j < 8; j++) {
        dv[j] = d ? __ldg(d + (size_t)b * d_bstride + n + j) : 1.f;
        bv[j] = __ldg(bias + n + j);
        b2[j] = e ? __ldg(bias + Cout + n + j) : 0.f;
    }
#pragma unroll
    for (int r = 0; r < 4; r++) {
        int oy = oy0 + rg * 4 + r;
        if (oy >= OH)
            break;
        size_t pix = ((size_t)b * OH + oy) * OW + ox;
        uint4 ov, ev;
        T *po = reinterpret_cast<T *>(&ov);
#pragma unroll
        for (int j = 0; j < 8; j++) {
            float x = k[0] * h[r][j] + k[1] * h[r + 1][j] + k[2] * h[r + 2][j] + k[3] * h[r + 3][j];
            x = x * dv[j] + bv[j];
            po[j] = from_f<T>((x < 0.f ? x * slope : x) * gain);
        }
        *reinterpret_cast<uint4 *>(out + pix * Ctot + n) = ov;
        if (e) {
            uint4 eq = __ldg(reinterpret_cast<const uint4 *>(e + pix * Cout + n));
            const T *pe = reinterpret_cast<const T *>(&eq);
            T *pw = reinterpret_cast<T *>(&ev);
#pragma unroll
            for (int j = 0; j < 8; j++) {
                float y = nw * to_f<T>(pe[j]) + b2[j];
                pw[j] = from_f<T>((y < 0.f ? y * slope : y) * gain);
            }
            *reinterpret_cast<uint4 *>(out + pix * Ctot + Cout + n) = ev;
        }
    }
}

/* Encoder blur: K pad (2, 2) over NHWC T [B,H,W,C] -> [B,H+1,W+1,C]; 16/sizeof(T) channels
 * per thread. */
template <typename T>
__global__ void blur_down_kernel(const T *x, int B, int H, int W, int C, T *y)
{
    constexpr int V = 16 / sizeof(T);
    const int OH = H + 1, OW = W + 1;
    const unsigned cv = C / V;
    unsigned idx = blockIdx.x * blockDim.x + threadIdx.x;
    unsigned total = (unsigned)B * OH * OW * cv;
    if (idx >= total)
        return;
    unsigned q = idx % cv, pix32 = idx / cv;
    size_t pix = pix32;
    int ox = (int)(pix32 % (unsigned)OW), oy = (int)((pix32 / (unsigned)OW) % (unsigned)OH),
        b = (int)(pix32 / ((unsigned)OW * OH));
    const float k1[4] = {0.125f, 0.375f, 0.375f, 0.125f};
    float acc[V];
#pragma unroll
    for (int j = 0; j < V; j++)
        acc[j] = 0.f;
#pragma unroll
    for (int ty = 0; ty < 4; ty++) {
        int iy = oy + ty - 2;
        if (iy < 0 || iy >= H)
            continue;
#pragma unroll
        for (int tx = 0; tx < 4; tx++) {
            int ix = ox + tx - 2;
            if (ix < 0 || ix >= W)
                continue;
            float kw = k1[3 - ty] * k1[3 - tx];
            uint4 r = __ldg(reinterpret_cast<const uint4 *>(x + (((size_t)b * H + iy) * W + ix) * C +
                                                            q * V));
            const T *p = reinterpret_cast<const T *>(&r);
#pragma unroll
            for (int j = 0; j < V; j++)
                acc[j] += kw * to_f<T>(p[j]);
        }
    }
    uint4 o;
    T *po = reinterpret_cast<T *>(&o);
#pragma unroll
    for (int j = 0; j < V; j++)
        po[j] = from_f<T>(acc[j]);
    *reinterpret_cast<uint4 *>(y + pix * C + q * V) = o;
}

/* Lanes per pixel of torgb_kernel: many pixels -> one thread each (measured faster at
 * 512x512); few pixels -> up to a warp per pixel over the channels. */
__host__ __device__ inline int torgb_tpp(int B, int R, int Cin, int V)
{
    int nvec = Cin / V;
    return (long)B * R * R >= 16384 ? 1 : (nvec < 32 ? nvec : 32);
}

/* ToRGB: out[b,c,y,x] = sum_i W[c,i] scale s[b,i] h[b,y,x,i] + bias[c] + up(skip)[b,c,y,x];
 * h NHWC T [B,R,R,Cin], skip fp32 NCHW [B,3,R/2,R/2] or NULL, out fp32 NCHW [B,3,R,R].
 * TPP lanes per pixel (Cin / (16/sizeof(T)) vectors, at most 32), shuffle-reduced: at low
 * resolution the channel loop, not the pixels, is the parallelism. */
template <typename T>
__global__ void torgb_kernel(const T *h, int B, int R, int Cin, const float *w, float scale,
                             const float *s, int s_bstride, const float *bias, const float *skip,
                             float *out)
{
    constexpr int V = 16 / sizeof(T);
    const int nvec = Cin / V, tpp = torgb_tpp(B, R, Cin, V);
    unsigned gt = blockIdx.x * blockDim.x + threadIdx.x;
    unsigned pix32 = gt / tpp;
    int sub = (int)(gt % tpp);
    bool live = pix32 < (unsigned)B * R * R;
    unsigned pc = live ? pix32 : 0;
    int b = (int)(pc / ((unsigned)R * R));
    int p = (int)(pc % ((unsigned)R * R));
    const T *hp = h + (size_t)pc * Cin;
    const float *sb = s + (size_t)b * s_bstride;
    float a0 = 0.f, a1 = 0.f, a2 = 0.f;
    for (int vi = sub; vi < nvec; vi += tpp) {
        int i = vi * V;
        uint4 r = __ldg(reinterpret_cast<const uint4 *>(hp + i));
        const T *pv = reinterpret_cast<const T *>(&r);
#pragma unroll
        for (int j = 0; j < V; j++) {
            float xv = to_f<T>(pv[j]) * __ldg(sb + i + j);
            a0 += __ldg(w + i + j) * xv;
            a1 += __ldg(w + Cin + i + j) * xv;
            a2 += __ldg(w + 2 * Cin + i + j) * xv;
        }
    }
    for (int off = tpp / 2; off > 0; off >>= 1) {
        a0 += __shfl_xor_sync(0xffffffffu, a0, off);
        a1 += __shfl_xor_sync(0xffffffffu, a1, off);
        a2 += __shfl_xor_sync(0xffffffffu, a2, off);
    }
    if (!live || sub != 0)
        return;
    float acc[3] = {a0 * scale + bias[0], a1 * scale + bias[1], a2 * scale + bias[2]};
    if (skip) {
        /* zero-insert x2, pad (2, 1), 4K: u[j] = skip[j/2] for even j */
        const int r2 = R / 2, y = p / R, x = p % R;
        const float k1[4] = {0.25f, 0.75f, 0.75f, 0.25f};
#pragma unroll
        for (int ty = 0; ty < 4; ty++) {
            int uy = y + ty - 2;
            if (uy < 0 || (uy & 1) || (uy >> 1) >= r2)
                continue;
#pragma unroll
            for (int tx = 0; tx < 4; tx++) {
                int ux = x + tx - 2;
                if (ux < 0 || (ux & 1) || (ux >> 1) >= r2)
                    continue;
                float kw = k1[3 - ty] * k1[3 - tx];
#pragma unroll
                for (int c = 0; c < 3; c++)
                    acc[c] += kw * skip[(((size_t)b * 3 + c) * r2 + (uy >> 1)) * r2 + (ux >> 1)];
            }
        }
    }
#pragma unroll
    for (int c = 0; c < 3; c++)
        out[((size_t)b * 3 + c) * R * R + p] = acc[c];
}

/* Dot products of one weight row with NB batch rows, one warp, loads unrolled by 4. */
template <int NB>
__device__ __forceinline__ void warp_dots(const float *x, int stride, int len, const float *wr, int lane,
                                          float *s)
{
#pragma unroll
    for (int j = 0; j < NB; j++)
        s[j] = 0.f;
#pragma unroll 4
    for (int i = lane; i < len; i += 32) {
        float w = __ldg(wr + i);
#pragma unroll
        for (int j = 0; j < NB; j++)
            s[j] += __ldg(x + (size_t)j * stride + i) * w;
    }
#pragma unroll
    for (int j = 0; j < NB; j++)
#pragma unroll
        for (int off = 16; off > 0; off >>= 1)
            s[j] += __shfl_xor_sync(0xffffffffu, s[j], off);
}

/* y[b, o] = sum_i x[b, i] W[o, i] * wscale + bias[o] * bscale, then optional flrelu.
 * One warp per output row o; the row is read once for up to 8 batch rows at a time. */
__global__ void gemv_kernel(const float *x, int B, int in, const float *W, const float *bias,
                            int out, float wscale, float bscale, int act, float *y, int y_bstride)
{
    int o = (blockIdx.x * blockDim.x + threadIdx.x) >> 5, lane = threadIdx.x & 31;
    if (o >= out)
        return;
    const float *wr = W + (size_t)o * in;
    for (int b0 = 0; b0 < B; b0 += 8) {
        int nb = min(8, B - b0);
        float s[8];
        const float *xb = x + (size_t)b0 * in;
        switch (nb) {
        case 1: warp_dots<1>(xb, in, in, wr, lane, s); break;
        case 2: warp_dots<2>(xb, in, in, wr, lane, s); break;
        case 3: warp_dots<3>(xb, in, in, wr, lane, s); break;
        case 4: warp_dots<4>(xb, in, in, wr, lane, s); break;
        case 5: warp_dots<5>(xb, in, in, wr, lane, s); break;
        case 6: warp_dots<6>(xb, in, in, wr, lane, s); break;
        case 7: warp_dots<7>(xb, in, in, wr, lane, s); break;
        default: warp_dots<8>(xb, in, in, wr, lane, s); break;
        }
        if (lane == 0)
            for (int j = 0; j < nb; j++) {
                float v = s[j] * wscale + (bias ? bias[o] * bscale : 0.f);
                if (act)
                    v = (v < 0.f ? 0.2f * v : v) * 1.4142135623730951f;
                y[(size_t)(b0 + j) * y_bstride + o] = v;
            }
    }
}

/* The same for long rows (the encoder's final linear, in = 16 C): one block of 256 per row,
 * each warp a slice of the row, reduced through shared memory. B <= 8. */
__global__ void gemv_block_kernel(const float *x, int B, int in, const float *W, const float *bias,
                                  float wscale, float bscale, int act, float *y, int y_bstride)
{
    __shared__ float part[8][8];
    int o = blockIdx.x, warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
    int slice = (in / 8 + 31) / 32 * 32, i0 = warp * slice, n = min(slice, in - i0);
    const float *wr = W + (size_t)o * in + i0;
    float s[8] = {0.f, 0.f, 0.f, 0.f, 0.f, 0.f, 0.f, 0.f};
    if (n > 0) {
        switch (B) {
        case 1: warp_dots<1>(x + i0, in, n, wr, lane, s); break;
        case 2: warp_dots<2>(x + i0, in, n, wr, lane, s); break;
        case 3: warp_dots<3>(x + i0, in, n, wr, lane, s); break;
        case 4: warp_dots<4>(x + i0, in, n, wr, lane, s); break;
        case 5: warp_dots<5>(x + i0, in, n, wr, lane, s); break;
        case 6: warp_dots<6>(x + i0, in, n, wr, lane, s); break;
        case 7: warp_dots<7>(x + i0, in, n, wr, lane, s); break;
        default: warp_dots<8>(x + i0, in, n, wr, lane, s); break;
        }
    }
    if (lane == 0)
        for (int j = 0; j < 8; j++)
            part[warp][j] = s[j];
    __syncthreads();
    if (threadIdx.x < (unsigned)B) {
        int j = threadIdx.x;
        float v = 0.f;
        for (int w = 0; w < 8; w++)
            v += part[w][j];
        v = v * wscale + (bias ? bias[o] * bscale : 0.f);
        if (act)
            v = (v < 0.f ? 0.2f * v : v) * 1.4142135623730951f;
        y[(size_t)j * y_bstride + o] = v;
    }
}

/* x[b, :] *= rsqrt(mean x^2 + 1e-8); one block of 256 per row. */
__global__ void pixel_norm_kernel(float *x, int C)
{
    __shared__ float red[256];
    float *r = x + (size_t)blockIdx.x * C;
    float s = 0.f;
    for (int i = threadIdx.x; i < C; i += blockDim.x)
        s += r[i] * r[i];
    red[threadIdx.x] = s;
    __syncthreads();
    for (int st = blockDim.x / 2; st > 0; st >>= 1) {
        if ((int)threadIdx.x < st)
            red[threadIdx.x] += red[threadIdx.x + st];
        __syncthreads();
    }
    float f = rsqrtf(red[0] / C + 1e-8f);
    for (int i = threadIdx.x; i < C; i += blockDim.x)
        r[i] *= f;
}

/* All layers' demodulation in one launch: rows [row0[l], row0[l+1]) belong to layer l;
 * d[b, o] = rsqrt(sum_i s[b,i]^2 W2[o,i] + 1e-8), one warp per row o, W2 read once per 8
 * images. */
struct demod_layer {
    const float *W2;
    float *d;
    int s_off, Cin, Cout, row0;
};
__global__ void demod_all_kernel(const demod_layer *L, int nl, int rows, const float *s, int s_bstride, int B)
{
    int r = (blockIdx.x * blockDim.x + threadIdx.x) >> 5, lane = threadIdx.x & 31;
    if (r >= rows)
        return;
    int l = 0;
    while (l + 1 < nl && L[l + 1].row0 <= r)
        l++;
    const demod_layer ly = L[l];
    int o = r - ly.row0;
    for (int b0 = 0; b0 < B; b0 += 8) {
        int nb = min(8, B - b0);
        float acc[8] = {0.f, 0.f, 0.f, 0.f, 0.f, 0.f, 0.f, 0.f};
        for (int i = lane; i < ly.Cin; i += 32) {
            float w = __ldg(ly.W2 + (size_t)o * ly.Cin + i);
#pragma unroll
            for (int j = 0; j < 8; j++)
                if (j < nb) {
                    float sv = s[(size_t)(b0 + j) * s_bstride + ly.s_off + i];
                    acc[j] += sv * sv * w;
                }
        }
#pragma unroll
        for (int j = 0; j < 8; j++) {
            if (j >= nb)
                break;
            float v = acc[j];
#pragma unroll
            for (int off = 16; off > 0; off >>= 1)
                v += __shfl_xor_sync(0xffffffffu, v, off);
            if (lane == 0)
                ly.d[(size_t)(b0 + j) * ly.Cout + o] = rsqrtf(v + 1e-8f);
        }
    }
}

/* Host float NCHW [B,3,H,W] -> NHWC T [B,H,W,Cp] (channels >= 3 zero), with an affine
 * map v*mul + add per channel. */
template <typename T>
__global__ void nchw_to_nhwc_kernel(const float *x, int B, int H, int W, int Cp, float mul,
                                    float add, T *y)
{
    size_t idx = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    size_t total = (size_t)B * H * W;
    if (idx >= total)
        return;
    size_t hw = (size_t)H * W;
    int b = (int)(idx / hw);
    size_t p = idx % hw;
    T *o = y + idx * Cp;
    for (int c = 0; c < Cp; c++)
        o[c] = from_f<T>(c < 3 ? x[((size_t)b * 3 + c) * hw + p] * mul + add : 0.f);
}

/* GPEN's encoder layer 0 straight from the float NCHW input [B,3,S,S]: the 1x1 conv from
 * RGB (w float [C][3], scaled), + bias, leaky ReLU x gain, into NHWC T [B,S,S,C], C % 8 ==
 * 0. One thread per pixel and 8 channels (one 16-byte store for 16-bit T), the 8 threads
 * of a pixel adjacent: coalesced stores, the pixel's 3 inputs from L1. Replaces the input
 * conversion and a K = 8 GEMM. */
template <typename T>
__global__ void enc0_kernel(const float *in, int B, int S, const float *w, const float *bias, int C, float gain, T *out)
{
    const int cg = C / 8;
    const size_t hw = (size_t)S * S, idx = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (idx >= (size_t)B * hw * cg)
        return;
    const size_t pix = idx / cg, b = pix / hw, p = pix - b * hw;
    const int g = (int)(idx - pix * cg);
    const float r = __ldg(in + (b * 3 + 0) * hw + p), gr = __ldg(in + (b * 3 + 1) * hw + p),
                bl = __ldg(in + (b * 3 + 2) * hw + p);
    T v[8];
#pragma unroll
    for (int j = 0; j < 8; j++) {
        const int n = g * 8 + j;
        float y = __ldg(w + 3 * n) * r + __ldg(w + 3 * n + 1) * gr + __ldg(w + 3 * n + 2) * bl + __ldg(bias + n);
        v[j] = from_f<T>((y < 0.f ? 0.2f * y : y) * gain);
    }
    T *o = out + pix * C + g * 8;
    if constexpr (sizeof(T) == 2) {
        *reinterpret_cast<uint4 *>(o) = *reinterpret_cast<const uint4 *>(v);
    } else {
        reinterpret_cast<float4 *>(o)[0] = *reinterpret_cast<const float4 *>(v);
        reinterpret_cast<float4 *>(o)[1] = *reinterpret_cast<const float4 *>(v + 4);
    }
}

/* Repeats a [n] T tensor over the batch. */
/* Deterministic uniform [-amp, amp) fill (benchmark inputs; a hash of the index). */
template <typename T> __global__ void fill_uniform_kernel(T *p, size_t n, float amp, uint32_t seed)
{
    for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x) {
        uint32_t h = (uint32_t)i * 0x9E3779B1u ^ (uint32_t)(i >> 32) * 0x85EBCA77u ^ seed * 0xC2B2AE3Du;
        h ^= h >> 15;
        h *= 0x2C1B3C6Du;
        h ^= h >> 12;
        h *= 0x297A2D39u;
        h ^= h >> 15;
        p[i] = from_f<T>(amp * ((h >> 8) * (2.f / 16777216.f) - 1.f));
    }
}

template <typename T> __global__ void broadcast_kernel(const T *src, size_t n, int B, T *dst)
{
    size_t idx = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (idx < n * B)
        dst[idx] = src[idx % n];
}

/* NHWC T [B,H,W,C] -> float NCHW (for taps). */
template <typename T>
__global__ void nhwc_to_nchw_kernel(const T *x, int B, int H, int W, int C, float *y)
{
    size_t idx = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    size_t total = (size_t)B * H * W * C;
    if (idx >= total)
        return;
    int c = (int)(idx % C);
    size_t pix = idx / C;
    size_t hw = (size_t)H * W;
    int b = (int)(pix / hw);
    size_t p = pix % hw;
    y[((size_t)b * C + c) * hw + p] = to_f<T>(x[idx]);
}
