// NCHW image in [-1, 1] -> RGBA8, converted exactly as torch's (img * 127.5 + 128).clamp(0, 255).to(uint8)
#pragma once
#include <cstdint>

#include "hd.cuh"

struct ToRGBAParams {
    int64_t in_stride[3];  // c, y, x of the image (sample 0)
    int channels;          // >= 3: the first three; fewer: channel 0 as grey
    int in_h, in_w;
    int zoom;              // nearest-neighbour enlargement (1: none)
};

SG_HD unsigned char to_byte(float v) {
#if defined(__CUDA_ARCH__)
    float s = __fadd_rn(__fmul_rn(v, 127.5f), 128.f);  // two roundings, as torch: no FMA
#else
    volatile float m = v * 127.5f;  // (volatile: no fused multiply-add on the host either)
    float s = m + 128.f;
#endif
    s = s < 0.f ? 0.f : (s > 255.f ? 255.f : s);
    return (unsigned char)s;  // truncation, as torch's float -> uint8
}

// The RGBA of output pixel (oy, ox); `load` reads one image element as float.
template <typename T, typename Load>
SG_HD void to_rgba_pixel(const T* img, const ToRGBAParams& p, int oy, int ox, unsigned char out[4], Load load) {
    const int y = oy / p.zoom, x = ox / p.zoom;
    const T* px = img + int64_t(y) * p.in_stride[1] + int64_t(x) * p.in_stride[2];
    if (p.channels >= 3) {
        for (int c = 0; c < 3; ++c) out[c] = to_byte(load(px + c * p.in_stride[0]));
    } else {
        out[0] = out[1] = out[2] = to_byte(load(px));
    }
    out[3] = 255;
}
