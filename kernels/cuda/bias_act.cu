// CUDA bias + activation (+ gain, clamp) and its gradient (see bias_act.cuh).
#include "bias_act.cuh"
#include "common.cuh"

template <typename T, typename Load>
__global__ void bias_act_kernel(const T* __restrict__ x, const float* __restrict__ b, T* __restrict__ y,
                                BiasActParams p) {
    Load load;
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < p.size; i += (long long)gridDim.x * blockDim.x) {
        const float bias = p.has_bias ? b[bias_act_channel(i, p)] : 0.f;
        store(y + i, bias_act_element(load(x + i), bias, p));
    }
}

template <typename T, typename Load>
__global__ void bias_act_grad_kernel(const T* __restrict__ dy, const T* __restrict__ y, T* __restrict__ dx,
                                     BiasActParams p) {
    Load load;
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < p.size; i += (long long)gridDim.x * blockDim.x)
        store(dx + i, bias_act_grad_element(load(dy + i), load(y + i), p));
}

// x, y (and dy, dx): dense tensors of p.size elements in the same memory order; b: float32 bias.
extern "C" cudaError_t sg_bias_act(const void* x, const float* b, void* y, const BiasActParams* params, int dtype,
                                   cudaStream_t stream) {
    const BiasActParams p = *params;
    if (p.size == 0) return cudaSuccess;
    const int threads = 256;
    if (dtype == 0)
        bias_act_kernel<float, LoadF32><<<grid_for(p.size, threads), threads, 0, stream>>>(
            static_cast<const float*>(x), b, static_cast<float*>(y), p);
    else
        bias_act_kernel<__half, LoadF16><<<grid_for(p.size, threads), threads, 0, stream>>>(
            static_cast<const __half*>(x), b, static_cast<__half*>(y), p);
    return cudaGetLastError();
}

extern "C" cudaError_t sg_bias_act_grad(const void* dy, const void* y, void* dx, const BiasActParams* params,
                                        int dtype, cudaStream_t stream) {
    const BiasActParams p = *params;
    if (p.size == 0) return cudaSuccess;
    const int threads = 256;
    if (dtype == 0)
        bias_act_grad_kernel<float, LoadF32><<<grid_for(p.size, threads), threads, 0, stream>>>(
            static_cast<const float*>(dy), static_cast<const float*>(y), static_cast<float*>(dx), p);
    else
        bias_act_grad_kernel<__half, LoadF16><<<grid_for(p.size, threads), threads, 0, stream>>>(
            static_cast<const __half*>(dy), static_cast<const __half*>(y), static_cast<__half*>(dx), p);
    return cudaGetLastError();
}
