// CUDA upfirdn2d (see upfirdn2d.cuh). One thread per output element, threads walking the output's
// innermost dimension so that loads and stores coalesce in NCHW and in channels_last alike.
#include "common.cuh"
#include "upfirdn2d.cuh"

template <typename T, typename Load>
__global__ void upfirdn2d_kernel(const T* __restrict__ x, const float* __restrict__ f, T* __restrict__ y,
                                 UpFirDn2DParams p, int path, bool channels_inner) {
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
        float v;
        if (path == UFD_UP2_4X4) v = upfirdn2d_up2_4x4(xp, f, p, oy, ox, load);
        else if (path == UFD_DOWN2_4X4) v = upfirdn2d_down2_4x4(xp, f, p, oy, ox, load);
        else v = upfirdn2d_element(xp, f, p, oy, ox, load);
        store(y + n * p.out_stride[0] + c * p.out_stride[1] + oy * p.out_stride[2] + ox * p.out_stride[3], v);
    }
}

// dtype: 0 float32, 1 float16. f: device pointer to the 2-D float32 filter. Returns the launch error.
extern "C" cudaError_t sg_upfirdn2d(const void* x, const float* f, void* y, const UpFirDn2DParams* params,
                                    int dtype, cudaStream_t stream) {
    const UpFirDn2DParams p = *params;
    const long long total = (long long)p.batch * p.channels * p.out_h * p.out_w;
    if (total == 0) return cudaSuccess;
    const int path = upfirdn2d_path(p);
    const bool channels_inner = p.out_stride[1] == 1 && p.channels > 1;
    const int threads = 256;
    const unsigned blocks = grid_for(total, threads);
    if (dtype == 0)
        upfirdn2d_kernel<float, LoadF32><<<blocks, threads, 0, stream>>>(
            static_cast<const float*>(x), f, static_cast<float*>(y), p, path, channels_inner);
    else
        upfirdn2d_kernel<__half, LoadF16><<<blocks, threads, 0, stream>>>(
            static_cast<const __half*>(x), f, static_cast<__half*>(y), p, path, channels_inner);
    return cudaGetLastError();
}
