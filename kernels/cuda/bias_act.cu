// CUDA bias + activation (+ gain, clamp) and its gradient (see bias_act.cuh).
//
// Memory-bound, so the index arithmetic must stay cheap: no 64-bit division per element.
//  - channels not innermost (NCHW: c_stride = H*W > 1): the tensor is rows of c_stride elements that
//    share one channel; grid.y walks rows, grid.x the elements of a row; the bias is read once a row;
//  - short rows (c_stride < 1024: channels_last, [N, C] matrices, the low resolutions): one 1-D
//    pass, the channel by 32-bit division (64-bit only past 2^32 elements).
// Each has a 16-byte-vector form (8 halves or 4 floats per thread and load), used when the tensors
// are 16-byte aligned and a vector never straddles two channels; the first H200 run measured the
// scalar per-row kernel at ~5% of the copy bandwidth (2-byte accesses, one element per thread).
#include "bias_act.cuh"
#include "common.cuh"

template <typename T, typename Load>
__global__ void bias_act_rows_kernel(const T* __restrict__ x, const float* __restrict__ b, T* __restrict__ y,
                                     BiasActParams p, long long rows) {
    Load load;
    for (long long row = blockIdx.y; row < rows; row += gridDim.y) {
        const float bias = p.has_bias ? b[row % p.channels] : 0.f;
        const long long base = row * p.c_stride;
        for (long long j = blockIdx.x * (long long)blockDim.x + threadIdx.x; j < p.c_stride;
             j += (long long)gridDim.x * blockDim.x)
            store(y + base + j, bias_act_element(load(x + base + j), bias, p));
    }
}

template <typename T, typename Load>
__global__ void bias_act_flat_kernel(const T* __restrict__ x, const float* __restrict__ b, T* __restrict__ y,
                                     BiasActParams p) {
    Load load;
    const bool narrow = p.size < (1LL << 32);
    const unsigned stride = (unsigned)p.c_stride, channels = (unsigned)p.channels;
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < p.size; i += (long long)gridDim.x * blockDim.x) {
        float bias = 0.f;
        if (p.has_bias) bias = b[narrow ? ((unsigned)i / stride) % channels : bias_act_channel(i, p)];
        store(y + i, bias_act_element(load(x + i), bias, p));
    }
}

// The vector forms. Rows: c_stride % N == 0. Flat: either c_stride % N == 0 (one channel per vector)
// or channels innermost (c_stride == 1) with channels % N == 0 (N consecutive channels).
template <typename T>
__global__ void bias_act_rows_vec_kernel(const T* __restrict__ x, const float* __restrict__ b, T* __restrict__ y,
                                         BiasActParams p, long long rows) {
    constexpr int N = Vec16<T>::N;
    const long long vecs = p.c_stride / N;
    for (long long row = blockIdx.y; row < rows; row += gridDim.y) {
        const float bias = p.has_bias ? b[row % p.channels] : 0.f;
        const uint4* xv = reinterpret_cast<const uint4*>(x + row * p.c_stride);
        uint4* yv = reinterpret_cast<uint4*>(y + row * p.c_stride);
        for (long long j = blockIdx.x * (long long)blockDim.x + threadIdx.x; j < vecs; j += (long long)gridDim.x * blockDim.x) {
            uint4 v = xv[j];
            T* e = reinterpret_cast<T*>(&v);
#pragma unroll
            for (int k = 0; k < N; ++k) e[k] = from_float<T>(bias_act_element(to_float(e[k]), bias, p));
            yv[j] = v;
        }
    }
}

template <typename T>
__global__ void bias_act_flat_vec_kernel(const T* __restrict__ x, const float* __restrict__ b, T* __restrict__ y,
                                         BiasActParams p, bool channels_inner) {
    constexpr int N = Vec16<T>::N;
    const long long vecs = p.size / N;
    const uint4* xv = reinterpret_cast<const uint4*>(x);
    uint4* yv = reinterpret_cast<uint4*>(y);
    for (long long j = blockIdx.x * (long long)blockDim.x + threadIdx.x; j < vecs; j += (long long)gridDim.x * blockDim.x) {
        uint4 v = xv[j];
        T* e = reinterpret_cast<T*>(&v);
        const int c0 = p.has_bias ? (channels_inner ? int((j * N) % p.channels) : bias_act_channel(j * N, p)) : 0;
#pragma unroll
        for (int k = 0; k < N; ++k) {
            const float bias = p.has_bias ? b[channels_inner ? c0 + k : c0] : 0.f;
            e[k] = from_float<T>(bias_act_element(to_float(e[k]), bias, p));
        }
        yv[j] = v;
    }
}

template <typename T>
__global__ void bias_act_grad_vec_kernel(const T* __restrict__ dy, const T* __restrict__ y, T* __restrict__ dx,
                                         BiasActParams p) {
    constexpr int N = Vec16<T>::N;
    const long long vecs = p.size / N;
    for (long long j = blockIdx.x * (long long)blockDim.x + threadIdx.x; j < vecs; j += (long long)gridDim.x * blockDim.x) {
        uint4 g = reinterpret_cast<const uint4*>(dy)[j], o = reinterpret_cast<const uint4*>(y)[j];
        const T* eg = reinterpret_cast<const T*>(&g);
        T* eo = reinterpret_cast<T*>(&o);
#pragma unroll
        for (int k = 0; k < N; ++k) eo[k] = from_float<T>(bias_act_grad_element(to_float(eg[k]), to_float(eo[k]), p));
        reinterpret_cast<uint4*>(dx)[j] = o;
    }
}

template <typename T, typename Load>
__global__ void bias_act_grad_kernel(const T* __restrict__ dy, const T* __restrict__ y, T* __restrict__ dx,
                                     BiasActParams p) {
    Load load;
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < p.size; i += (long long)gridDim.x * blockDim.x)
        store(dx + i, bias_act_grad_element(load(dy + i), load(y + i), p));
}

template <typename T, typename Load>
static void launch_bias_act(const void* x, const float* b, void* y, const BiasActParams& p, cudaStream_t stream) {
    const int threads = 256;
    constexpr int N = Vec16<T>::N;
    const T* xp = static_cast<const T*>(x);
    T* yp = static_cast<T*>(y);
    const bool aligned = vec16_aligned(x) && vec16_aligned(y);
    if (p.c_stride >= 1024) {
        const bool vec = aligned && p.c_stride % N == 0;
        const long long rows = p.size / p.c_stride;
        const long long per_row = (p.c_stride / (vec ? N : 1) + threads - 1) / threads;
        const dim3 grid((unsigned)(per_row < 1024 ? per_row : 1024), (unsigned)(rows < 65535 ? rows : 65535));
        if (vec) bias_act_rows_vec_kernel<T><<<grid, threads, 0, stream>>>(xp, b, yp, p, rows);
        else bias_act_rows_kernel<T, Load><<<grid, threads, 0, stream>>>(xp, b, yp, p, rows);
    } else if (aligned && p.size % N == 0 && (p.c_stride % N == 0 || (p.c_stride == 1 && p.channels % N == 0))) {
        bias_act_flat_vec_kernel<T><<<grid_for(p.size / N, threads), threads, 0, stream>>>(xp, b, yp, p,
                                                                                           p.c_stride % N != 0);
    } else {
        bias_act_flat_kernel<T, Load><<<grid_for(p.size, threads), threads, 0, stream>>>(xp, b, yp, p);
    }
}

// x, y (and dy, dx): dense tensors of p.size elements in the same memory order; b: float32 bias.
// p.c_stride: elements between consecutive channels in memory (the channel of element i is
// (i / c_stride) % channels; rows of c_stride elements share a channel).
extern "C" cudaError_t sg_bias_act(const void* x, const float* b, void* y, const BiasActParams* params, int dtype,
                                   cudaStream_t stream) {
    const BiasActParams p = *params;
    if (p.size == 0) return cudaSuccess;
    if (dtype == 0) launch_bias_act<float, LoadF32>(x, b, y, p, stream);
    else launch_bias_act<__half, LoadF16>(x, b, y, p, stream);
    return cudaGetLastError();
}

extern "C" cudaError_t sg_bias_act_grad(const void* dy, const void* y, void* dx, const BiasActParams* params,
                                        int dtype, cudaStream_t stream) {
    const BiasActParams p = *params;
    if (p.size == 0) return cudaSuccess;
    const int threads = 256;
    const int n = dtype == 0 ? 4 : 8;  // elements per 16-byte vector
    if (vec16_aligned(dy) && vec16_aligned(y) && vec16_aligned(dx) && p.size % n == 0) {
        if (dtype == 0)
            bias_act_grad_vec_kernel<float><<<grid_for(p.size / n, threads), threads, 0, stream>>>(
                static_cast<const float*>(dy), static_cast<const float*>(y), static_cast<float*>(dx), p);
        else
            bias_act_grad_vec_kernel<__half><<<grid_for(p.size / n, threads), threads, 0, stream>>>(
                static_cast<const __half*>(dy), static_cast<const __half*>(y), static_cast<__half*>(dx), p);
        return cudaGetLastError();
    }
    if (dtype == 0)
        bias_act_grad_kernel<float, LoadF32><<<grid_for(p.size, threads), threads, 0, stream>>>(
            static_cast<const float*>(dy), static_cast<const float*>(y), static_cast<float*>(dx), p);
    else
        bias_act_grad_kernel<__half, LoadF16><<<grid_for(p.size, threads), threads, 0, stream>>>(
            static_cast<const __half*>(dy), static_cast<const __half*>(y), static_cast<__half*>(dx), p);
    return cudaGetLastError();
}
