// CUDA filtered_lrelu, fused (see filtered_lrelu.cuh): a block per (output tile, channel, image),
// the five stages in dynamic shared memory with a barrier between them. Forward only: the
// gradients go through the composite custom ops (kernels/filtered_lrelu.py).
#include "common.cuh"
#include "filtered_lrelu.cuh"

#define FLRELU_THREADS 256

template <typename T, typename Load>
__global__ void __launch_bounds__(FLRELU_THREADS)
filtered_lrelu_kernel(const T* __restrict__ x, const float* __restrict__ b, const float* __restrict__ fu,
                      const float* __restrict__ fd, T* __restrict__ y, FilteredLReluParams p) {
    extern __shared__ float smem[];
    const int tiles_x = (p.out_w + p.tile_w - 1) / p.tile_w;
    const int oy0 = (blockIdx.x / tiles_x) * p.tile_h, ox0 = (blockIdx.x % tiles_x) * p.tile_w;
    const int c = blockIdx.y, n = blockIdx.z;
    const int th = min(p.tile_h, p.out_h - oy0), tw = min(p.tile_w, p.out_w - ox0);
    const FLReluTile t = flrelu_tile(p, oy0, ox0, th, tw);
    const FLReluSmem s = flrelu_smem(p, t);
    const T* xp = x + n * p.in_stride[0] + c * p.in_stride[1];
    T* yp = y + n * p.out_stride[0] + c * p.out_stride[1];
    const int tid = threadIdx.x, nt = blockDim.x;
    flrelu_stage_load(xp, p.has_bias ? b[c] : 0.f, p, t, smem + s.x, tid, nt, Load());
    __syncthreads();
    if (p.fu_sep) {
        flrelu_stage_up_x(fu, p, t, smem + s.x, smem + s.u, tid, nt);
        __syncthreads();
    }
    flrelu_stage_up_y(fu, p, t, smem + s.x, smem + s.u, smem + s.a, tid, nt);
    __syncthreads();
    if (p.fd_sep) {
        flrelu_stage_down_x(fd, p, t, smem + s.a, smem + s.d, tid, nt);
        __syncthreads();
    }
    struct Store {
        __device__ __forceinline__ void operator()(T* q, float v) const { store(q, v); }
    };
    flrelu_stage_down_y(fd, p, t, smem + s.a, smem + s.d, yp, tid, nt, Store());
}

// Shared memory a block may use (the default limit without opting in to more).
#define FLRELU_MAX_SMEM_FLOATS (48 * 1024 / 4)

// Plans the tiles (p.tile_h, p.tile_w) and launches. Returns cudaErrorInvalidConfiguration when no
// tile fits the shared memory (the caller then uses the composite ops), or the launch's error.
extern "C" cudaError_t sg_filtered_lrelu(const void* x, const float* b, const float* fu, const float* fd, void* y,
                                         FilteredLReluParams* params, int dtype, cudaStream_t stream) {
    FilteredLReluParams& p = *params;
    const int floats = flrelu_plan(p, FLRELU_MAX_SMEM_FLOATS);
    if (floats == 0 || p.channels > 65535 || p.batch > 65535) return cudaErrorInvalidConfiguration;
    const long long tiles = (long long)((p.out_h + p.tile_h - 1) / p.tile_h) * ((p.out_w + p.tile_w - 1) / p.tile_w);
    if (tiles > 0x7fffffffLL) return cudaErrorInvalidConfiguration;
    const dim3 grid((unsigned)tiles, (unsigned)p.channels, (unsigned)p.batch);
    const size_t bytes = size_t(floats) * sizeof(float);
    if (dtype == 0)
        filtered_lrelu_kernel<float, LoadF32><<<grid, FLRELU_THREADS, bytes, stream>>>(
            (const float*)x, b, fu, fd, (float*)y, p);
    else
        filtered_lrelu_kernel<__half, LoadF16><<<grid, FLRELU_THREADS, bytes, stream>>>(
            (const __half*)x, b, fu, fd, (__half*)y, p);
    return cudaGetLastError();
}
