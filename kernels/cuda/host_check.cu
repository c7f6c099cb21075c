// Host builds of the kernels' per-element functions, for CPU tests of the CUDA kernels' arithmetic
// and indexing (no GPU needed): nvcc -shared -Xcompiler -fPIC host_check.cu -o libsg_host_check.so
#include "bias_act.cuh"
#include "to_rgba.cuh"
#include "upfirdn2d.cuh"

struct HostLoad {
    float operator()(const float* p) const { return *p; }
};

extern "C" void sg_host_upfirdn2d(const float* x, const float* f, float* y, const UpFirDn2DParams* params, int use_fast_paths) {
    const UpFirDn2DParams p = *params;
    const int path = use_fast_paths ? upfirdn2d_path(p) : UFD_GENERAL;
    for (int n = 0; n < p.batch; ++n)
        for (int c = 0; c < p.channels; ++c)
            for (int oy = 0; oy < p.out_h; ++oy)
                for (int ox = 0; ox < p.out_w; ++ox) {
                    const float* xp = x + n * p.in_stride[0] + c * p.in_stride[1];
                    float v = path == UFD_UP2_4X4 ? upfirdn2d_up2_4x4(xp, f, p, oy, ox, HostLoad())
                            : path == UFD_DOWN2_4X4 ? upfirdn2d_down2_4x4(xp, f, p, oy, ox, HostLoad())
                            : upfirdn2d_element(xp, f, p, oy, ox, HostLoad());
                    y[n * p.out_stride[0] + c * p.out_stride[1] + oy * p.out_stride[2] + ox * p.out_stride[3]] = v;
                }
}

extern "C" int sg_host_upfirdn2d_path(const UpFirDn2DParams* params) { return upfirdn2d_path(*params); }

extern "C" void sg_host_bias_act(const float* x, const float* b, float* y, const BiasActParams* params) {
    const BiasActParams p = *params;
    for (long long i = 0; i < p.size; ++i) y[i] = bias_act_element(x[i], p.has_bias ? b[bias_act_channel(i, p)] : 0.f, p);
}

extern "C" void sg_host_bias_act_grad(const float* dy, const float* y, float* dx, const BiasActParams* params) {
    const BiasActParams p = *params;
    for (long long i = 0; i < p.size; ++i) dx[i] = bias_act_grad_element(dy[i], y[i], p);
}

extern "C" void sg_host_to_rgba(const float* img, const ToRGBAParams* params, unsigned char* out) {
    const ToRGBAParams p = *params;
    const int w = p.in_w * p.zoom, h = p.in_h * p.zoom;
    for (int oy = 0; oy < h; ++oy)
        for (int ox = 0; ox < w; ++ox) to_rgba_pixel(img, p, oy, ox, out + (long long)(oy * w + ox) * 4, HostLoad());
}
