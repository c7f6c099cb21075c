#pragma once
#include <cuda_fp16.h>
#include <cuda_runtime.h>

struct LoadF32 {
    __host__ __device__ __forceinline__ float operator()(const float* p) const { return *p; }
};
struct LoadF16 {
    __device__ __forceinline__ float operator()(const __half* p) const { return __half2float(*p); }
};
__device__ __forceinline__ void store(float* p, float v) { *p = v; }
__device__ __forceinline__ void store(__half* p, float v) { *p = __float2half_rn(v); }

static inline unsigned grid_for(long long n, int threads) {
    long long blocks = (n + threads - 1) / threads;
    return (unsigned)(blocks < 65535LL * 32 ? (blocks > 0 ? blocks : 1) : 65535LL * 32);
}
