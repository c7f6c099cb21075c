// CUDA upfirdn2d (see upfirdn2d.cuh). Six kernels:
//  - tiled:   4x4 filter, up/down 1 or 2, NCHW planes of >= UFD_TILE_MIN_OUTPUTS outputs; a block per
//             (tile, plane), the input window staged in shared memory; global memory read in 16-byte
//             vectors, written in them where y's alignment allows (upfirdn2d_vector_stores), one
//             element per instruction otherwise;
//  - channels_last with vector I/O: the same filters, channels a whole number of 16-byte vectors: one
//             thread per (channel vector, column of 4 outputs), no shared memory;
//  - tiled channels_last: the same filters otherwise, a block per (spatial tile, 32 channels, image);
//  - 4x4:     the same filters on small planes or few channels: one thread per output element,
//             threads walking the innermost dimension in memory (channels or x) so loads coalesce;
//  - general: any filter and factors, one thread per output (used only when STYLEGAN_KERNELS=cuda:
//             it measured slower than the reference ops on an H200).
#include "common.cuh"
#include "upfirdn2d.cuh"

struct StoreF32 {
    __device__ __forceinline__ void operator()(float* p, float v) const { *p = v; }
};
struct StoreF16 {
    __device__ __forceinline__ void operator()(__half* p, float v) const { *p = __float2half_rn(v); }
};

template <typename T, typename Load>
__global__ void upfirdn2d_general_kernel(const T* __restrict__ x, const float* __restrict__ f, T* __restrict__ y,
                                         UpFirDn2DParams p, bool channels_inner) {
    const long long total = (long long)p.batch * p.channels * p.out_h * p.out_w;
    Load load;
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < total;
         i += (long long)gridDim.x * blockDim.x) {
        long long t = i;
        int n, c, oy, ox;
        if (channels_inner) {
            c = int(t % p.channels); t /= p.channels;
            ox = int(t % p.out_w); t /= p.out_w;
            oy = int(t % p.out_h); n = int(t / p.out_h);
        } else {
            ox = int(t % p.out_w); t /= p.out_w;
            oy = int(t % p.out_h); t /= p.out_h;
            c = int(t % p.channels); n = int(t / p.channels);
        }
        const T* xp = x + n * p.in_stride[0] + c * p.in_stride[1];
        store(y + n * p.out_stride[0] + c * p.out_stride[1] + oy * p.out_stride[2] + ox * p.out_stride[3],
              upfirdn2d_element(xp, f, p, oy, ox, load));
    }
}

template <typename T, typename Load, int UP, int DOWN>
__global__ void upfirdn2d_4x4_kernel(const T* __restrict__ x, const float* __restrict__ f, T* __restrict__ y,
                                     UpFirDn2DParams p, bool channels_inner) {
    __shared__ float fk[16];
    if (threadIdx.x < 16) fk[threadIdx.x] = upfirdn2d_tap_4x4(f, p, threadIdx.x / 4, threadIdx.x % 4);
    __syncthreads();
    const long long plane = (long long)p.out_h * p.out_w;
    const long long total = (long long)p.batch * p.channels * plane;
    Load load;
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < total;
         i += (long long)gridDim.x * blockDim.x) {
        int n, c, oy, ox;
        if (channels_inner) {  // i = ((n * out_h + oy) * out_w + ox) * channels + c
            const long long pix = i / p.channels;
            c = int(i - pix * p.channels);
            n = int(pix / plane);
            const long long r = pix - (long long)n * plane;
            oy = int(r / p.out_w); ox = int(r - (long long)oy * p.out_w);
        } else {  // i = ((n * channels + c) * out_h + oy) * out_w + ox
            const long long nc = i / plane;
            const long long r = i - nc * plane;
            oy = int(r / p.out_w); ox = int(r - (long long)oy * p.out_w);
            n = int(nc / p.channels); c = int(nc - (long long)n * p.channels);
        }
        const T* xp = x + n * p.in_stride[0] + c * p.in_stride[1];
        store(y + n * p.out_stride[0] + c * p.out_stride[1] + oy * p.out_stride[2] + ox * p.out_stride[3],
              upfirdn2d_4x4_element<UP, DOWN>(xp, fk, p, oy, ox, load));
    }
}

// 16-byte vector I/O for the vector tiles (upfirdn2d_tile_load_vec / _store_vec).
struct VecIOF32 {
    __device__ __forceinline__ void load(const float* src, float* dst) const {
        *reinterpret_cast<float4*>(dst) = __ldg(reinterpret_cast<const float4*>(src));
    }
    __device__ __forceinline__ void store(float* dst, const float* src) const {
        *reinterpret_cast<float4*>(dst) = *reinterpret_cast<const float4*>(src);
    }
    __device__ __forceinline__ void store_floats(float* dst, const float (&v)[4]) const {
        *reinterpret_cast<float4*>(dst) = make_float4(v[0], v[1], v[2], v[3]);
    }
};
struct VecIOF16 {
    __device__ __forceinline__ void load(const __half* src, float* dst) const {
        const uint4 u = __ldg(reinterpret_cast<const uint4*>(src));
        const __half2* h = reinterpret_cast<const __half2*>(&u);
        const float2 a = __half22float2(h[0]), b = __half22float2(h[1]), c = __half22float2(h[2]), d = __half22float2(h[3]);
        reinterpret_cast<float4*>(dst)[0] = make_float4(a.x, a.y, b.x, b.y);
        reinterpret_cast<float4*>(dst)[1] = make_float4(c.x, c.y, d.x, d.y);
    }
    __device__ __forceinline__ void store(__half* dst, const __half* src) const {
        *reinterpret_cast<uint4*>(dst) = *reinterpret_cast<const uint4*>(src);
    }
    __device__ __forceinline__ void store_floats(__half* dst, const float (&v)[8]) const {
        uint4 u;
        __half2* h = reinterpret_cast<__half2*>(&u);
        for (int k = 0; k < 4; ++k) h[k] = __halves2half2(__float2half_rn(v[2 * k]), __float2half_rn(v[2 * k + 1]));
        *reinterpret_cast<uint4*>(dst) = u;
    }
};
template <typename T> struct VecIOFor;
template <> struct VecIOFor<float> { typedef VecIOF32 type; };
template <> struct VecIOFor<__half> { typedef VecIOF16 type; };

// What both tiled kernels start with: the 16 prepared taps in shared memory (published by the
// first __syncthreads of the caller's loop) and this block's tile origin (oy0, ox0).
template <typename Tile>
__device__ __forceinline__ void tile_block_start(const float* f, const UpFirDn2DParams& p, float* fk, int& oy0, int& ox0) {
    if (threadIdx.x < 16) fk[threadIdx.x] = upfirdn2d_tap_4x4(f, p, threadIdx.x / 4, threadIdx.x % 4);
    const int tiles_x = (p.out_w + Tile::OUT_W - 1) / Tile::OUT_W;
    oy0 = (blockIdx.x / tiles_x) * Tile::OUT_H;
    ox0 = (blockIdx.x % tiles_x) * Tile::OUT_W;
}

// Tiles covering one plane's output: the grid's x dimension of both tiled kernels.
template <typename Tile>
static int tile_count(const UpFirDn2DParams& p) {
    return ((p.out_h + Tile::OUT_H - 1) / Tile::OUT_H) * ((p.out_w + Tile::OUT_W - 1) / Tile::OUT_W);
}

// VLOAD / VSTORE: global loads / stores in 16-byte vectors (see UpFirDn2DTileVec), else one element
// per instruction.
template <typename T, typename Load, typename Store, int UP, int DOWN, bool VLOAD, bool VSTORE>
// Registers capped so that 6 blocks (2x up: <= 40 registers) or 4 blocks (<= 64) fit an SM, as the
// scalar tiles compiled on their own.
__global__ void __launch_bounds__(UFD_TILE_THREADS, UP == 2 ? 6 : 4)
upfirdn2d_tiled_kernel(const T* __restrict__ x, const float* __restrict__ f, T* __restrict__ y, UpFirDn2DParams p) {
    constexpr int V = 16 / sizeof(T);
    typedef UpFirDn2DTile<UP, DOWN> Tile;
    typedef UpFirDn2DTileVec<UP, DOWN, V> TV;
    typedef typename VecIOFor<T>::type VecIO;
    __shared__ __align__(16) float smem[VLOAD ? TV::SMEM : Tile::SMEM];
    __shared__ __align__(16) T staging[VSTORE ? TV::OUT : 1];
    __shared__ int rowoff[VLOAD ? Tile::IN_H : 1];
    __shared__ float fk[16];
    int oy0, ox0;
    tile_block_start<Tile>(f, p, fk, oy0, ox0);
    const int planes = p.batch * p.channels;
    for (int plane = blockIdx.y; plane < planes; plane += gridDim.y) {
        const int n = plane / p.channels, c = plane - n * p.channels;
        const T* xp = x + n * p.in_stride[0] + c * p.in_stride[1];
        T* yp = y + n * p.out_stride[0] + c * p.out_stride[1];
        __syncthreads();  // the previous plane is done with smem, rowoff and staging (and fk is written)
        if (VLOAD) upfirdn2d_tile_load_vec<UP, DOWN, V>(xp, p, oy0, ox0, smem, rowoff, threadIdx.x, UFD_TILE_THREADS,
                                                        VecIO());
        else upfirdn2d_tile_load<UP, DOWN>(xp, p, oy0, ox0, smem, threadIdx.x, UFD_TILE_THREADS, Load());
        __syncthreads();
        auto rows = [&](int i) { return VLOAD ? rowoff[i] : i * Tile::PITCH; };
        if (VSTORE) {
            upfirdn2d_tile_sums<UP, DOWN>(p, oy0, ox0, smem, rows, fk, threadIdx.x, UFD_TILE_THREADS,
                                          [&](int oy, int ox, float v) {
                staging[(oy - oy0) * Tile::OUT_W + (ox - ox0)] = from_float<T>(v);
            });
            __syncthreads();
            upfirdn2d_tile_store_vec<UP, DOWN, V>(yp, p, oy0, ox0, staging, threadIdx.x, UFD_TILE_THREADS, VecIO());
        } else {
            const Store store;
            upfirdn2d_tile_sums<UP, DOWN>(p, oy0, ox0, smem, rows, fk, threadIdx.x, UFD_TILE_THREADS,
                                          [&](int oy, int ox, float v) {
                store(yp + int64_t(oy) * p.out_stride[2] + int64_t(ox) * p.out_stride[3], v);
            });
        }
    }
}

template <typename T, typename Load, typename Store, int UP, int DOWN>
__global__ void __launch_bounds__(UFD_TILE_THREADS)
upfirdn2d_tiled_nhwc_kernel(const T* __restrict__ x, const float* __restrict__ f, T* __restrict__ y, UpFirDn2DParams p) {
    typedef UpFirDn2DTileNHWC<UP, DOWN> Tile;
    __shared__ float smem[Tile::SMEM];
    __shared__ float fk[16];
    int oy0, ox0;
    tile_block_start<Tile>(f, p, fk, oy0, ox0);
    const int c0 = blockIdx.y * Tile::CB;
    for (int n = blockIdx.z; n < p.batch; n += gridDim.z) {
        __syncthreads();
        upfirdn2d_tile_load_nhwc<UP, DOWN>(x + n * p.in_stride[0], p, oy0, ox0, c0, smem, threadIdx.x, UFD_TILE_THREADS,
                                           Load());
        __syncthreads();
        upfirdn2d_tile_compute_nhwc<UP, DOWN>(y + n * p.out_stride[0], p, oy0, ox0, c0, smem, fk, threadIdx.x,
                                              UFD_TILE_THREADS, Store());
    }
}

// channels_last with vector I/O (upfirdn2d_nhwc_vec_item): one thread per work item, channel vectors
// fastest, then columns, row blocks and images.
template <typename T, int UP, int DOWN>
__global__ void __launch_bounds__(256, 3)  // <= 85 registers: 3 blocks (768 threads) per SM
upfirdn2d_nhwc_vec_kernel(const T* __restrict__ x, const float* __restrict__ f, T* __restrict__ y, UpFirDn2DParams p) {
    constexpr int V = 16 / sizeof(T);
    __shared__ float fk[16];
    if (threadIdx.x < 16) fk[threadIdx.x] = upfirdn2d_tap_4x4(f, p, threadIdx.x / 4, threadIdx.x % 4);
    __syncthreads();
    const int cv = p.channels / V, rows = (p.out_h + UFD_NHWC_BY - 1) / UFD_NHWC_BY;
    const long long total = (long long)p.batch * rows * p.out_w * cv;
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < total;
         i += (long long)gridDim.x * blockDim.x) {
        long long t = i / cv;
        const int c = int(i - t * cv) * V;
        const int ox = int(t % p.out_w);
        t /= p.out_w;
        const int rb = int(t % rows), n = int(t / rows);
        upfirdn2d_nhwc_vec_item<UP, DOWN, V>(x, y, p, fk, n, rb * UFD_NHWC_BY, ox, c, typename VecIOFor<T>::type());
    }
}

template <typename T, typename Load, typename Store, int UP, int DOWN, bool VLOAD, bool VSTORE>
static void launch_tiled(const void* x, const float* f, void* y, const UpFirDn2DParams& p, cudaStream_t stream) {
    typedef UpFirDn2DTile<UP, DOWN> Tile;
    const int planes = p.batch * p.channels;
    const dim3 grid(tile_count<Tile>(p), planes < 65535 ? planes : 65535);
    upfirdn2d_tiled_kernel<T, Load, Store, UP, DOWN, VLOAD, VSTORE><<<grid, UFD_TILE_THREADS, 0, stream>>>(
        static_cast<const T*>(x), f, static_cast<T*>(y), p);
}

// The NCHW tiles: with vector_io, vector loads, and vector stores where y's alignment allows.
template <typename T, typename Load, typename Store, int UP, int DOWN>
static void launch_tiled(const void* x, const float* f, void* y, const UpFirDn2DParams& p, bool vector_io,
                         cudaStream_t stream) {
    const bool vl = vector_io;  // (any NCHW tensor)
    const bool vs = vector_io && upfirdn2d_vector_stores(p, sizeof(T), y);
    if (vl && vs) launch_tiled<T, Load, Store, UP, DOWN, true, true>(x, f, y, p, stream);
    else if (vl) launch_tiled<T, Load, Store, UP, DOWN, true, false>(x, f, y, p, stream);
    else if (vs) launch_tiled<T, Load, Store, UP, DOWN, false, true>(x, f, y, p, stream);
    else launch_tiled<T, Load, Store, UP, DOWN, false, false>(x, f, y, p, stream);
}

template <typename T, typename Load, typename Store, int UP, int DOWN>
static void launch_4x4(const void* x, const float* f, void* y, const UpFirDn2DParams& p, bool vector_io,
                       cudaStream_t stream) {
    const int tiling = upfirdn2d_tiling(p);
    if (tiling == UFD_TILES_NCHW) {
        launch_tiled<T, Load, Store, UP, DOWN>(x, f, y, p, vector_io, stream);
    } else if (vector_io && upfirdn2d_nhwc_vectors(p, sizeof(T), x, y)) {
        const long long items = (long long)p.batch * ((p.out_h + UFD_NHWC_BY - 1) / UFD_NHWC_BY) * p.out_w *
                                (p.channels / (16 / sizeof(T)));
        upfirdn2d_nhwc_vec_kernel<T, UP, DOWN><<<grid_for(items, 256), 256, 0, stream>>>(
            static_cast<const T*>(x), f, static_cast<T*>(y), p);
    } else if (tiling == UFD_TILES_NHWC) {
        typedef UpFirDn2DTileNHWC<UP, DOWN> Tile;
        const dim3 grid(tile_count<Tile>(p), (p.channels + Tile::CB - 1) / Tile::CB, p.batch < 65535 ? p.batch : 65535);
        upfirdn2d_tiled_nhwc_kernel<T, Load, Store, UP, DOWN><<<grid, UFD_TILE_THREADS, 0, stream>>>(
            static_cast<const T*>(x), f, static_cast<T*>(y), p);
    } else {
        const long long total = (long long)p.batch * p.channels * p.out_h * p.out_w;
        const bool channels_inner = p.out_stride[1] == 1 && p.channels > 1;
        upfirdn2d_4x4_kernel<T, Load, UP, DOWN><<<grid_for(total, 256), 256, 0, stream>>>(
            static_cast<const T*>(x), f, static_cast<T*>(y), p, channels_inner);
    }
}

template <typename T, typename Load, typename Store>
static cudaError_t launch(const void* x, const float* f, void* y, const UpFirDn2DParams& p, int path,
                          cudaStream_t stream) {
    if (path == UFD_4X4 || path == UFD_4X4_SCALAR_IO) {
        if (!upfirdn2d_4x4_applies(p)) return cudaErrorInvalidValue;
        const bool vector_io = path == UFD_4X4;
        if (p.up_x == 2) launch_4x4<T, Load, Store, 2, 1>(x, f, y, p, vector_io, stream);
        else if (p.down_x == 2) launch_4x4<T, Load, Store, 1, 2>(x, f, y, p, vector_io, stream);
        else launch_4x4<T, Load, Store, 1, 1>(x, f, y, p, vector_io, stream);
    } else {
        const long long total = (long long)p.batch * p.channels * p.out_h * p.out_w;
        const bool channels_inner = p.out_stride[1] == 1 && p.channels > 1;
        upfirdn2d_general_kernel<T, Load><<<grid_for(total, 256), 256, 0, stream>>>(
            static_cast<const T*>(x), f, static_cast<T*>(y), p, channels_inner);
    }
    return cudaGetLastError();
}

// dtype: 0 float32, 1 float16. f: device pointer to the 2-D float32 filter. path: UpFirDn2DPath.
// Returns the launch error (cudaErrorInvalidValue when UFD_4X4 is asked for parameters it lacks).
extern "C" cudaError_t sg_upfirdn2d(const void* x, const float* f, void* y, const UpFirDn2DParams* params,
                                    int dtype, int path, cudaStream_t stream) {
    const UpFirDn2DParams p = *params;
    if ((long long)p.batch * p.channels * p.out_h * p.out_w == 0) return cudaSuccess;
    if (dtype == 0) return launch<float, LoadF32, StoreF32>(x, f, y, p, path, stream);
    return launch<__half, LoadF16, StoreF16>(x, f, y, p, path, stream);
}
