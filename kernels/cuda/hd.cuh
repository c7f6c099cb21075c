// SG_HD: functions compiled for the device and the host (the CPU tests build the host side with g++).
#pragma once
#if defined(__CUDACC__)
#define SG_HD __host__ __device__ __forceinline__
#else
#define SG_HD inline
#endif
