// bias + activation + gain + clamp, and its gradient, per element (host and device).
#pragma once
#include <cstdint>

#include "hd.cuh"

enum BiasActKind { BA_LINEAR = 0, BA_RELU = 1, BA_LRELU = 2 };

struct BiasActParams {
    int64_t size;      // elements
    int64_t c_stride;  // elements between consecutive channels in memory order (1: channels_last)
    int channels;
    int act;
    float alpha, gain, clamp;  // clamp < 0: none
    bool has_bias;
};

SG_HD float bias_act_element(float x, float b, const BiasActParams& p) {
    float v = x + b;
    if (p.act == BA_RELU) v = v > 0.f ? v : 0.f;
    if (p.act == BA_LRELU) v = v > 0.f ? v : v * p.alpha;
    v *= p.gain;
    if (p.clamp >= 0.f) v = v > p.clamp ? p.clamp : (v < -p.clamp ? -p.clamp : v);
    return v;
}

// d out / d x times dy, from the forward output y (gain > 0, so sign(y) = sign of the pre-activation).
SG_HD float bias_act_grad_element(float dy, float y, const BiasActParams& p) {
    if (p.clamp >= 0.f && !(y < p.clamp && y > -p.clamp)) return 0.f;  // clamped: no gradient
    float g = dy * p.gain;
    if (p.act == BA_RELU) g = y > 0.f ? g : 0.f;
    if (p.act == BA_LRELU) g = y > 0.f ? g : g * p.alpha;
    return g;
}

SG_HD int bias_act_channel(int64_t i, const BiasActParams& p) {
    return int((i / p.c_stride) % p.channels);
}
