// upfirdn2d: upsample (zero insertion), pad, FIR filter, downsample -- NVIDIA's semantics.
// The per-output-element computation is a __host__ __device__ function, so the exact same code
// runs in the CUDA kernels and in the host harness the CPU tests use (kernels/cuda/host_check.cu).
#pragma once
#include <cstdint>

#include "hd.cuh"

struct UpFirDn2DParams {
    // Input and output strides in elements (any layout: NCHW, channels_last, views).
    int64_t in_stride[4];   // n, c, y, x
    int64_t out_stride[4];
    int batch, channels, in_h, in_w, out_h, out_w;
    int up_x, up_y, down_x, down_y;
    int pad_x0, pad_y0;     // (pad_x1, pad_y1 only decide out_w, out_h)
    int filter_w, filter_h; // a 2-D filter [filter_h, filter_w], row-major
    float gain;             // already applied to the filter by the caller? no: applied here
    bool flip_filter;       // false: true convolution (flip), true: correlation
};

// One output element (n, c, oy, ox). `x` points at the input of (n, c) (offset applied).
template <typename T, typename Load>
SG_HD float upfirdn2d_element(const T* x, const float* f, const UpFirDn2DParams& p, int oy, int ox, Load load) {
    // Position of the filter window's first tap in the padded, zero-inserted image.
    const int64_t base_y = int64_t(oy) * p.down_y - p.pad_y0;
    const int64_t base_x = int64_t(ox) * p.down_x - p.pad_x0;
    float acc = 0.f;
    for (int a = 0; a < p.filter_h; ++a) {
        const int64_t uy = base_y + a;              // row in the zero-inserted image
        if (uy < 0 || uy % p.up_y != 0) continue;   // outside, or an inserted zero
        const int64_t iy = uy / p.up_y;
        if (iy >= p.in_h) continue;
        const int fa = p.flip_filter ? a : p.filter_h - 1 - a;
        for (int b = 0; b < p.filter_w; ++b) {
            const int64_t ux = base_x + b;
            if (ux < 0 || ux % p.up_x != 0) continue;
            const int64_t ix = ux / p.up_x;
            if (ix >= p.in_w) continue;
            const int fb = p.flip_filter ? b : p.filter_w - 1 - b;
            acc += load(x + iy * p.in_stride[2] + ix * p.in_stride[3]) * f[fa * p.filter_w + fb];
        }
    }
    return acc * p.gain;
}

// The 2x upsampling fast path (StyleGAN's [1,3,3,1]-style 4x4 filters, up 2, down 1): of the 16
// taps only the 2x2 that land on real (not inserted) pixels are visited.
template <typename T, typename Load>
SG_HD float upfirdn2d_up2_4x4(const T* x, const float* f, const UpFirDn2DParams& p, int oy, int ox, Load load) {
    const int by = oy - p.pad_y0, bx = ox - p.pad_x0;
    const int a0 = ((by % 2) + 2) % 2 == 0 ? 0 : 1;  // first tap on an even row of the upsampled image
    const int b0 = ((bx % 2) + 2) % 2 == 0 ? 0 : 1;
    float acc = 0.f;
    for (int a = a0; a < 4; a += 2) {
        const int iy = (by + a) / 2;  // by + a is even here
        if (by + a < 0 || iy >= p.in_h) continue;
        const int fa = p.flip_filter ? a : 3 - a;
        for (int b = b0; b < 4; b += 2) {
            const int ix = (bx + b) / 2;
            if (bx + b < 0 || ix >= p.in_w) continue;
            const int fb = p.flip_filter ? b : 3 - b;
            acc += load(x + int64_t(iy) * p.in_stride[2] + int64_t(ix) * p.in_stride[3]) * f[fa * 4 + fb];
        }
    }
    return acc * p.gain;
}

// The 2x downsampling fast path (4x4 filter, up 1, down 2): a 4x4 window per output, no zeros.
template <typename T, typename Load>
SG_HD float upfirdn2d_down2_4x4(const T* x, const float* f, const UpFirDn2DParams& p, int oy, int ox, Load load) {
    const int by = oy * 2 - p.pad_y0, bx = ox * 2 - p.pad_x0;
    float acc = 0.f;
    for (int a = 0; a < 4; ++a) {
        const int iy = by + a;
        if (iy < 0 || iy >= p.in_h) continue;
        const int fa = p.flip_filter ? a : 3 - a;
        for (int b = 0; b < 4; ++b) {
            const int ix = bx + b;
            if (ix < 0 || ix >= p.in_w) continue;
            const int fb = p.flip_filter ? b : 3 - b;
            acc += load(x + int64_t(iy) * p.in_stride[2] + int64_t(ix) * p.in_stride[3]) * f[fa * 4 + fb];
        }
    }
    return acc * p.gain;
}

enum UpFirDn2DPath { UFD_GENERAL = 0, UFD_UP2_4X4 = 1, UFD_DOWN2_4X4 = 2 };

SG_HD int upfirdn2d_path(const UpFirDn2DParams& p) {
    if (p.filter_w == 4 && p.filter_h == 4) {
        if (p.up_x == 2 && p.up_y == 2 && p.down_x == 1 && p.down_y == 1) return UFD_UP2_4X4;
        if (p.up_x == 1 && p.up_y == 1 && p.down_x == 2 && p.down_y == 2) return UFD_DOWN2_4X4;
    }
    return UFD_GENERAL;
}
