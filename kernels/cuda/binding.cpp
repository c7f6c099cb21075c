// The thin PyTorch binding of the CUDA launchers: checks tensors, allocates outputs, passes data
// pointers and the current CUDA stream. Built on GPU machines only (kernels/build.py).
#include <torch/extension.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#include <cuda_runtime.h>

#include "bias_act.cuh"
#include "filtered_lrelu.cuh"
#include "to_rgba.cuh"
#include "upfirdn2d.cuh"

extern "C" cudaError_t sg_upfirdn2d(const void*, const float*, void*, const UpFirDn2DParams*, int, int, cudaStream_t);
extern "C" cudaError_t sg_bias_act(const void*, const float*, void*, const BiasActParams*, int, cudaStream_t);
extern "C" cudaError_t sg_bias_act_grad(const void*, const void*, void*, const BiasActParams*, int, cudaStream_t);
extern "C" cudaError_t sg_filtered_lrelu(const void*, const float*, const float*, const float*, void*,
                                         FilteredLReluParams*, int, cudaStream_t);
extern "C" cudaError_t sg_to_rgba_surface(const void*, const ToRGBAParams*, int, unsigned long long, cudaStream_t);
extern "C" cudaError_t sg_to_rgba_buffer(const void*, const ToRGBAParams*, int, void*, long long, cudaStream_t);

static int dtype_code(const torch::Tensor& t) {
    if (t.scalar_type() == torch::kFloat32) return 0;
    if (t.scalar_type() == torch::kFloat16) return 1;
    TORCH_CHECK(false, "CUDA kernels take float32 or float16 tensors, got ", t.scalar_type());
}

static void check(cudaError_t err, const char* what) {
    TORCH_CHECK(err == cudaSuccess, what, " kernel failed: ", cudaGetErrorString(err));
}

static bool dense(const torch::Tensor& t) {
    return t.is_contiguous() || t.is_contiguous(at::MemoryFormat::ChannelsLast);
}

torch::Tensor upfirdn2d(torch::Tensor x, torch::Tensor f, int64_t upx, int64_t upy, int64_t downx, int64_t downy,
                        int64_t padx0, int64_t padx1, int64_t pady0, int64_t pady1, bool flip_filter, double gain,
                        int64_t path) {
    TORCH_CHECK(x.is_cuda() && x.dim() == 4, "upfirdn2d: x must be a 4-D CUDA tensor");
    TORCH_CHECK(f.is_cuda() && f.dim() == 2 && f.scalar_type() == torch::kFloat32, "upfirdn2d: f must be a 2-D float32 CUDA tensor");
    TORCH_CHECK(upx >= 1 && upy >= 1 && downx >= 1 && downy >= 1, "upfirdn2d: factors must be >= 1");
    TORCH_CHECK(f.device() == x.device(), "upfirdn2d: f must be on x's device");
    f = f.contiguous();
    const int64_t fh = f.size(0), fw = f.size(1);
    // (in * up + p0 + p1 - taps) // down + 1 with Python's floor division: a negative numerator
    // means an empty output (C++ division would round it up to one row).
    const int64_t num_h = x.size(2) * upy + pady0 + pady1 - fh, num_w = x.size(3) * upx + padx0 + padx1 - fw;
    TORCH_CHECK(num_h >= 0 && num_w >= 0 && x.size(0) > 0 && x.size(1) > 0, "upfirdn2d: empty output");
    const int64_t out_h = num_h / downy + 1, out_w = num_w / downx + 1;
    const c10::cuda::CUDAGuard guard(x.device());
    auto y = torch::empty({x.size(0), x.size(1), out_h, out_w}, x.options().memory_format(x.suggest_memory_format()));
    UpFirDn2DParams p;
    for (int i = 0; i < 4; ++i) { p.in_stride[i] = x.stride(i); p.out_stride[i] = y.stride(i); }
    p.batch = int(x.size(0)); p.channels = int(x.size(1)); p.in_h = int(x.size(2)); p.in_w = int(x.size(3));
    p.out_h = int(out_h); p.out_w = int(out_w);
    p.up_x = int(upx); p.up_y = int(upy); p.down_x = int(downx); p.down_y = int(downy);
    p.pad_x0 = int(padx0); p.pad_y0 = int(pady0); p.filter_w = int(fw); p.filter_h = int(fh);
    p.gain = float(gain); p.flip_filter = flip_filter;
    TORCH_CHECK(path == UFD_GENERAL || ((path == UFD_4X4 || path == UFD_4X4_SCALAR_IO) && upfirdn2d_4x4_applies(p)),
                "upfirdn2d: kernel path ", path, " does not apply to these parameters");
    check(sg_upfirdn2d(x.data_ptr(), f.data_ptr<float>(), y.data_ptr(), &p, dtype_code(x), int(path),
                       c10::cuda::getCurrentCUDAStream()), "upfirdn2d");
    return y;
}

// filtered_lrelu, fused. fu / fd: float32, 1-D (separable) or 2-D; b: [C] or empty. Returns [y], or []
// when no tile fits the shared memory (the caller computes it with the composite ops then).
std::vector<torch::Tensor> filtered_lrelu(torch::Tensor x, torch::Tensor fu, torch::Tensor fd, torch::Tensor b,
                                          int64_t up, int64_t down, int64_t padx0, int64_t padx1, int64_t pady0,
                                          int64_t pady1, double gain, double slope, double clamp, bool flip_filter) {
    TORCH_CHECK(x.is_cuda() && x.dim() == 4, "filtered_lrelu: x must be a 4-D CUDA tensor");
    TORCH_CHECK(up >= 1 && down >= 1, "filtered_lrelu: factors must be >= 1");
    for (const auto& f : {fu, fd})
        TORCH_CHECK(f.device() == x.device() && f.scalar_type() == torch::kFloat32 && (f.dim() == 1 || f.dim() == 2),
                    "filtered_lrelu: filters must be 1-D or 2-D float32 tensors on x's device");
    const bool has_bias = b.numel() > 0;
    TORCH_CHECK(!has_bias || (b.device() == x.device() && b.numel() == x.size(1)), "filtered_lrelu: bias must be [C] on x's device");
    fu = fu.contiguous(); fd = fd.contiguous();
    auto bf = has_bias ? b.to(torch::kFloat32).contiguous() : b;
    FilteredLReluParams p;
    p.fu_sep = fu.dim() == 1; p.fd_sep = fd.dim() == 1;
    p.fu_h = int(fu.size(0)); p.fu_w = int(fu.size(-1)); p.fd_h = int(fd.size(0)); p.fd_w = int(fd.size(-1));
    const int64_t uh = x.size(2) * up + pady0 + pady1 - p.fu_h + 1, uw = x.size(3) * up + padx0 + padx1 - p.fu_w + 1;
    TORCH_CHECK(uh >= p.fd_h && uw >= p.fd_w && x.size(0) > 0 && x.size(1) > 0, "filtered_lrelu: empty output");
    const int64_t out_h = (uh - p.fd_h) / down + 1, out_w = (uw - p.fd_w) / down + 1;
    const c10::cuda::CUDAGuard guard(x.device());
    auto y = torch::empty({x.size(0), x.size(1), out_h, out_w}, x.options());
    for (int i = 0; i < 4; ++i) { p.in_stride[i] = x.stride(i); p.out_stride[i] = y.stride(i); }
    p.batch = int(x.size(0)); p.channels = int(x.size(1)); p.in_h = int(x.size(2)); p.in_w = int(x.size(3));
    p.out_h = int(out_h); p.out_w = int(out_w); p.up = int(up); p.down = int(down);
    p.pad_x0 = int(padx0); p.pad_y0 = int(pady0); p.flip_filter = flip_filter; p.has_bias = has_bias;
    p.gain = float(gain); p.slope = float(slope); p.clamp = float(clamp);
    const cudaError_t err = sg_filtered_lrelu(x.data_ptr(), has_bias ? bf.data_ptr<float>() : nullptr, fu.data_ptr<float>(),
                                              fd.data_ptr<float>(), y.data_ptr(), &p, dtype_code(x),
                                              c10::cuda::getCurrentCUDAStream());
    if (err == cudaErrorInvalidConfiguration) { cudaGetLastError(); return {}; }
    check(err, "filtered_lrelu");
    return {y};
}

static BiasActParams bias_act_params(const torch::Tensor& x, int64_t dim, int64_t act, double alpha, double gain,
                                     double clamp, bool has_bias) {
    BiasActParams p;
    p.size = x.numel(); p.channels = int(x.size(dim));
    // A size-1 dimension's stride is arbitrary in a dense tensor: one channel is channel 0 everywhere.
    p.c_stride = x.size(dim) == 1 ? 1 : x.stride(dim);
    p.act = int(act); p.alpha = float(alpha); p.gain = float(gain); p.clamp = float(clamp); p.has_bias = has_bias;
    return p;
}

torch::Tensor bias_act(torch::Tensor x, torch::Tensor b, int64_t dim, int64_t act, double alpha, double gain, double clamp) {
    TORCH_CHECK(x.is_cuda(), "bias_act: x must be a CUDA tensor");
    if (!dense(x)) x = x.contiguous();
    const bool has_bias = b.numel() > 0;
    auto bf = has_bias ? b.to(torch::kFloat32).contiguous() : b;
    if (has_bias) TORCH_CHECK(bf.device() == x.device() && bf.numel() == x.size(dim), "bias_act: bias must match dim, on x's device");
    const c10::cuda::CUDAGuard guard(x.device());
    auto y = torch::empty_like(x);
    auto p = bias_act_params(x, dim, act, alpha, gain, clamp, has_bias);
    check(sg_bias_act(x.data_ptr(), has_bias ? bf.data_ptr<float>() : nullptr, y.data_ptr(), &p, dtype_code(x),
                      c10::cuda::getCurrentCUDAStream()), "bias_act");
    return y;
}

torch::Tensor bias_act_grad(torch::Tensor dy, torch::Tensor y, int64_t dim, int64_t act, double alpha, double gain, double clamp) {
    TORCH_CHECK(dy.is_cuda() && y.is_cuda() && dy.sizes() == y.sizes() && dy.scalar_type() == y.scalar_type(),
                "bias_act_grad: dy and y must match (shape, dtype)");
    if (!dense(y)) y = y.contiguous();
    dy = dy.contiguous(y.suggest_memory_format());
    const c10::cuda::CUDAGuard guard(y.device());
    auto dx = torch::empty_like(y);
    auto p = bias_act_params(y, dim, act, alpha, gain, clamp, false);
    check(sg_bias_act_grad(dy.data_ptr(), y.data_ptr(), dx.data_ptr(), &p, dtype_code(y),
                           c10::cuda::getCurrentCUDAStream()), "bias_act_grad");
    return dx;
}

static ToRGBAParams rgba_params(const torch::Tensor& img, int64_t zoom) {
    TORCH_CHECK(img.is_cuda() && img.dim() == 4 && img.size(1) >= 1,
                "to_rgba: img must be a CUDA tensor [N, C, H, W] (C >= 3: the first three, else channel 0 as grey)");
    TORCH_CHECK(zoom >= 1, "to_rgba: zoom must be >= 1");
    TORCH_CHECK(img.size(0) >= 1 && img.size(2) >= 1 && img.size(3) >= 1, "to_rgba: empty image");
    ToRGBAParams p;
    p.in_stride[0] = img.stride(1); p.in_stride[1] = img.stride(2); p.in_stride[2] = img.stride(3);
    p.channels = int(img.size(1)); p.in_h = int(img.size(2)); p.in_w = int(img.size(3)); p.zoom = int(zoom);
    return p;
}

// Sample 0 of `img` into a new [H*zoom, W*zoom, 4] uint8 tensor.
torch::Tensor to_rgba(torch::Tensor img, int64_t zoom) {
    auto p = rgba_params(img, zoom);
    const c10::cuda::CUDAGuard guard(img.device());
    auto out = torch::empty({p.in_h * zoom, p.in_w * zoom, 4}, img.options().dtype(torch::kUInt8));
    check(sg_to_rgba_buffer(img.data_ptr(), &p, dtype_code(img), out.data_ptr(), out.stride(0),
                            c10::cuda::getCurrentCUDAStream()), "to_rgba");
    return out;
}

// Sample 0 of `img` straight into a CUDA surface (a mapped GL texture's array).
void to_rgba_surface(torch::Tensor img, int64_t zoom, int64_t surface) {
    auto p = rgba_params(img, zoom);
    const c10::cuda::CUDAGuard guard(img.device());
    check(sg_to_rgba_surface(img.data_ptr(), &p, dtype_code(img), (unsigned long long)surface,
                             c10::cuda::getCurrentCUDAStream()), "to_rgba_surface");
}

PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) {
    m.def("upfirdn2d", &upfirdn2d);
    m.def("bias_act", &bias_act);
    m.def("bias_act_grad", &bias_act_grad);
    m.def("filtered_lrelu", &filtered_lrelu);
    m.def("to_rgba", &to_rgba);
    m.def("to_rgba_surface", &to_rgba_surface);
}
