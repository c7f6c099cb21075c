// CUDA image -> RGBA8 conversion (see to_rgba.cuh), written into a CUDA surface (a GL texture mapped
// through CUDA-GL interop) or into plain pitched memory.
#include "common.cuh"
#include "to_rgba.cuh"

template <typename T, typename Load>
__global__ void to_rgba_surface_kernel(const T* __restrict__ img, ToRGBAParams p, cudaSurfaceObject_t surf) {
    const int ox = blockIdx.x * blockDim.x + threadIdx.x, oy = blockIdx.y * blockDim.y + threadIdx.y;
    if (ox >= p.in_w * p.zoom || oy >= p.in_h * p.zoom) return;
    unsigned char rgba[4];
    to_rgba_pixel(img, p, oy, ox, rgba, Load());
    surf2Dwrite(make_uchar4(rgba[0], rgba[1], rgba[2], rgba[3]), surf, ox * 4, oy);
}

template <typename T, typename Load>
__global__ void to_rgba_buffer_kernel(const T* __restrict__ img, ToRGBAParams p, unsigned char* out, long long pitch) {
    const int ox = blockIdx.x * blockDim.x + threadIdx.x, oy = blockIdx.y * blockDim.y + threadIdx.y;
    if (ox >= p.in_w * p.zoom || oy >= p.in_h * p.zoom) return;
    unsigned char rgba[4];
    to_rgba_pixel(img, p, oy, ox, rgba, Load());
    *reinterpret_cast<uchar4*>(out + oy * pitch + ox * 4) = make_uchar4(rgba[0], rgba[1], rgba[2], rgba[3]);
}

static dim3 blocks2d(const ToRGBAParams& p, dim3 threads) {
    return dim3((p.in_w * p.zoom + threads.x - 1) / threads.x, (p.in_h * p.zoom + threads.y - 1) / threads.y);
}

extern "C" cudaError_t sg_to_rgba_surface(const void* img, const ToRGBAParams* params, int dtype,
                                          unsigned long long surface, cudaStream_t stream) {
    const ToRGBAParams p = *params;
    const dim3 threads(32, 8);
    if (dtype == 0)
        to_rgba_surface_kernel<float, LoadF32><<<blocks2d(p, threads), threads, 0, stream>>>(
            static_cast<const float*>(img), p, (cudaSurfaceObject_t)surface);
    else
        to_rgba_surface_kernel<__half, LoadF16><<<blocks2d(p, threads), threads, 0, stream>>>(
            static_cast<const __half*>(img), p, (cudaSurfaceObject_t)surface);
    return cudaGetLastError();
}

extern "C" cudaError_t sg_to_rgba_buffer(const void* img, const ToRGBAParams* params, int dtype, void* out,
                                         long long pitch, cudaStream_t stream) {
    const ToRGBAParams p = *params;
    const dim3 threads(32, 8);
    if (dtype == 0)
        to_rgba_buffer_kernel<float, LoadF32><<<blocks2d(p, threads), threads, 0, stream>>>(
            static_cast<const float*>(img), p, static_cast<unsigned char*>(out), pitch);
    else
        to_rgba_buffer_kernel<__half, LoadF16><<<blocks2d(p, threads), threads, 0, stream>>>(
            static_cast<const __half*>(img), p, static_cast<unsigned char*>(out), pitch);
    return cudaGetLastError();
}
