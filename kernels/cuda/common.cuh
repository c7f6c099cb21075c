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

// 16-byte vectors (4 floats or 8 halves per load/store): memory-bound kernels move whole sectors per
// instruction. Callers check alignment and divisibility first (vec16_ok).
template <typename T> struct Vec16 { static constexpr int N = 16 / sizeof(T); };
__device__ __forceinline__ float to_float(float v) { return v; }
__device__ __forceinline__ float to_float(__half v) { return __half2float(v); }
template <typename T> __device__ __forceinline__ T from_float(float v);
template <> __device__ __forceinline__ float from_float<float>(float v) { return v; }
template <> __device__ __forceinline__ __half from_float<__half>(float v) { return __float2half_rn(v); }
static inline bool vec16_aligned(const void* p) { return (reinterpret_cast<unsigned long long>(p) & 15) == 0; }
