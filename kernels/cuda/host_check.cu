// Host builds of the kernels' per-element functions, for CPU tests of the CUDA kernels' arithmetic
// and indexing (no GPU needed): nvcc -shared -Xcompiler -fPIC host_check.cu -o libsg_host_check.so
#include "bias_act.cuh"
#include "filtered_lrelu.cuh"
#include "to_rgba.cuh"
#include "upfirdn2d.cuh"

#include <cstring>

struct HostLoad {
    float operator()(const float* p) const { return *p; }
};

struct HostStore {
    void operator()(float* p, float v) const { *p = v; }
};

// The vector kernels' 16-byte loads and stores, on the host, on float data: V floats per vector (V = 4
// as the float32 kernels, or 8 standing in for the float16 kernels' 8 halves). Alignment is checked on
// the GPU's terms: a float at host address a stands for an element at address a * elem_size / 4
// (`device_address`), so with V = 8 an element offset must be a multiple of 8 (a 16-byte boundary
// for halves), not of 4. Arrays of elements (global memory, the staging tile) are checked that way;
// the float destination of a load (shared memory or registers on the GPU) on the real address. A
// misaligned access is counted, not performed.
template <int V>
static uintptr_t device_address(const void* a) { return reinterpret_cast<uintptr_t>(a) / (V / 4); }

// The memory an NCHW/NHWC tensor spans: [x, x + 1 + the largest element offset) (strides >= 0).
static const float* span_end(const float* x, const int64_t* stride, int n, int c, int h, int w) {
    if (int64_t(n) * c * h * w == 0) return x;  // no elements: no load may happen at all
    return x + 1 + (n - 1) * stride[0] + (c - 1) * stride[1] + (h - 1) * stride[2] + (w - 1) * stride[3];
}

// A load must also share an element with [lo, hi), the memory the input tensor spans: a 16-byte chunk
// with none of it may belong to another allocation (counted as misaligned too).
template <int V>
struct HostVecIO {
    int* misaligned;
    const float* lo = nullptr;
    const float* hi = nullptr;
    static bool elements_ok(const void* a) { return (device_address<V>(a) & 15) == 0; }
    static bool floats_ok(const void* a) { return (reinterpret_cast<uintptr_t>(a) & 15) == 0; }
    void load(const float* src, float* dst) const {
        if (!elements_ok(src) || !floats_ok(dst) || (lo && (src + V <= lo || src >= hi))) { ++*misaligned; return; }
        std::memcpy(dst, src, V * sizeof(float));
    }
    void store(float* dst, const float* src) const {
        if (!elements_ok(src) || !elements_ok(dst)) { ++*misaligned; return; }
        std::memcpy(dst, src, V * sizeof(float));
    }
    void store_floats(float* dst, const float (&v)[V]) const {
        if (!elements_ok(dst)) { ++*misaligned; return; }
        std::memcpy(dst, v, V * sizeof(float));
    }
};

// The channels_last vector kernel: every work item, in the kernel's order.
template <int UP, int DOWN, int V>
static int host_nhwc_vec(const float* x, const float* fk, float* y, const UpFirDn2DParams& p) {
    if (!upfirdn2d_nhwc_vectors(p, 16 / V, reinterpret_cast<const void*>(device_address<V>(x)),
                                reinterpret_cast<const void*>(device_address<V>(y)))) return -1;
    int misaligned = 0;
    const HostVecIO<V> io{&misaligned, x, span_end(x, p.in_stride, p.batch, p.channels, p.in_h, p.in_w)};
    for (int n = 0; n < p.batch; ++n)
        for (int oy = 0; oy < p.out_h; oy += UFD_NHWC_BY)
            for (int ox = 0; ox < p.out_w; ++ox)
                for (int c = 0; c < p.channels; c += V)
                    upfirdn2d_nhwc_vec_item<UP, DOWN, V>(x, y, p, fk, n, oy, ox, c, io);
    return misaligned;
}

// The NCHW tiled kernel (upfirdn2d_tiled_kernel) block by block, phase by phase, as the GPU runs it:
// load (vector or scalar), sums (into the staging tile or straight out), store (vectors). Returns the
// number of misaligned vector accesses (0 on the GPU's terms).
template <int UP, int DOWN, int V, bool VLOAD, bool VSTORE>
static int host_tiled(const float* x, const float* fk, float* y, const UpFirDn2DParams& p) {
    typedef UpFirDn2DTile<UP, DOWN> Tile;
    typedef UpFirDn2DTileVec<UP, DOWN, V> TV;
    constexpr int SMEM = VLOAD ? TV::SMEM : Tile::SMEM;
    alignas(64) static float smem[SMEM];
    alignas(64) static float staging[TV::OUT];
    static int rowoff[Tile::IN_H];
    int misaligned = 0;
    const HostVecIO<V> io{&misaligned, x, span_end(x, p.in_stride, p.batch, p.channels, p.in_h, p.in_w)};
    for (int n = 0; n < p.batch; ++n)
        for (int c = 0; c < p.channels; ++c) {
            const float* xp = x + n * p.in_stride[0] + c * p.in_stride[1];
            float* yp = y + n * p.out_stride[0] + c * p.out_stride[1];
            for (int oy0 = 0; oy0 < p.out_h; oy0 += Tile::OUT_H)
                for (int ox0 = 0; ox0 < p.out_w; ox0 += Tile::OUT_W) {
                    for (int i = 0; i < SMEM; ++i) smem[i] = 1e30f;      // stale data must never be read
                    for (int i = 0; i < TV::OUT; ++i) staging[i] = 2e30f;  // nor stale outputs written
                    for (int i = 0; i < Tile::IN_H; ++i) rowoff[i] = -1 << 20;
                    for (int tid = 0; tid < UFD_TILE_THREADS; ++tid) {
                        if (VLOAD) upfirdn2d_tile_load_vec<UP, DOWN, V>(xp, p, oy0, ox0, smem, rowoff, tid,
                                                                        UFD_TILE_THREADS, io);
                        else upfirdn2d_tile_load<UP, DOWN>(xp, p, oy0, ox0, smem, tid, UFD_TILE_THREADS, HostLoad());
                    }
                    auto rows = [&](int i) {
                        if (i < 0 || i >= Tile::IN_H) throw i;  // a window row the tile did not load
                        return VLOAD ? rowoff[i] : i * Tile::PITCH;
                    };
                    for (int tid = 0; tid < UFD_TILE_THREADS; ++tid)
                        upfirdn2d_tile_sums<UP, DOWN>(p, oy0, ox0, smem, rows, fk, tid, UFD_TILE_THREADS,
                                                      [&](int oy, int ox, float v) {
                            if (VSTORE) staging[(oy - oy0) * Tile::OUT_W + (ox - ox0)] = v;
                            else yp[int64_t(oy) * p.out_stride[2] + int64_t(ox) * p.out_stride[3]] = v;
                        });
                    if (VSTORE)
                        for (int tid = 0; tid < UFD_TILE_THREADS; ++tid)
                            upfirdn2d_tile_store_vec<UP, DOWN, V>(yp, p, oy0, ox0, staging, tid, UFD_TILE_THREADS, io);
                }
        }
    return misaligned;
}

// As the launcher chooses: vector loads, and vector stores where y's alignment allows.
template <int UP, int DOWN, int V>
static int host_tiled(const float* x, const float* fk, float* y, const UpFirDn2DParams& p) {
    const int elem = 16 / V;
    const bool vl = true;  // (any NCHW tensor)
    const bool vs = upfirdn2d_vector_stores(p, elem, reinterpret_cast<const void*>(device_address<V>(y)));
    if (vl && vs) return host_tiled<UP, DOWN, V, true, true>(x, fk, y, p);
    if (vl) return host_tiled<UP, DOWN, V, true, false>(x, fk, y, p);
    if (vs) return host_tiled<UP, DOWN, V, false, true>(x, fk, y, p);
    return host_tiled<UP, DOWN, V, false, false>(x, fk, y, p);
}

// mode 0: the general per-element code; 1: the 4x4 per-element code (small planes, few channels);
// 2: the NCHW tiled kernel, 3: the channels_last tiled kernel, 4 and 5: the NCHW tiled kernel with
// vector I/O as float32 (4 per vector) and float16 (8 per vector) run it, 6 and 7: the channels_last
// vector kernel likewise (returns -1 when the tensors do not suit it) — each block's threads run one
// after another, phase by phase, through a shared-memory array of the kernel's size: the kernels' own
// loads, indices and sums.
template <int UP, int DOWN>
static int host_4x4_nhwc(const float* x, const float* fk, float* y, const UpFirDn2DParams& p) {
    typedef UpFirDn2DTileNHWC<UP, DOWN> Tile;
    static float smem[Tile::SMEM];
    for (int n = 0; n < p.batch; ++n)
        for (int c0 = 0; c0 < p.channels; c0 += Tile::CB)
            for (int oy0 = 0; oy0 < p.out_h; oy0 += Tile::OUT_H)
                for (int ox0 = 0; ox0 < p.out_w; ox0 += Tile::OUT_W) {
                    for (int i = 0; i < Tile::SMEM; ++i) smem[i] = 1e30f;
                    for (int tid = 0; tid < UFD_TILE_THREADS; ++tid)
                        upfirdn2d_tile_load_nhwc<UP, DOWN>(x + n * p.in_stride[0], p, oy0, ox0, c0, smem, tid,
                                                           UFD_TILE_THREADS, HostLoad());
                    for (int tid = 0; tid < UFD_TILE_THREADS; ++tid)
                        upfirdn2d_tile_compute_nhwc<UP, DOWN>(y + n * p.out_stride[0], p, oy0, ox0, c0, smem, fk, tid,
                                                              UFD_TILE_THREADS, HostStore());
                }
    return 0;
}

template <int UP, int DOWN>
static int host_4x4(const float* x, const float* f, float* y, const UpFirDn2DParams& p, int mode) {
    float fk[16];
    for (int t = 0; t < 16; ++t) fk[t] = upfirdn2d_tap_4x4(f, p, t / 4, t % 4);
    if (mode == 3) return host_4x4_nhwc<UP, DOWN>(x, fk, y, p);
    if (mode == 2) return host_tiled<UP, DOWN, 4, false, false>(x, fk, y, p);
    if (mode == 4) return host_tiled<UP, DOWN, 4>(x, fk, y, p);
    if (mode == 5) return host_tiled<UP, DOWN, 8>(x, fk, y, p);
    if (mode == 6) return host_nhwc_vec<UP, DOWN, 4>(x, fk, y, p);
    if (mode == 7) return host_nhwc_vec<UP, DOWN, 8>(x, fk, y, p);
    for (int n = 0; n < p.batch; ++n)
        for (int c = 0; c < p.channels; ++c) {
            const float* xp = x + n * p.in_stride[0] + c * p.in_stride[1];
            float* yp = y + n * p.out_stride[0] + c * p.out_stride[1];
            for (int oy = 0; oy < p.out_h; ++oy)
                for (int ox = 0; ox < p.out_w; ++ox)
                    yp[oy * p.out_stride[2] + ox * p.out_stride[3]] =
                        upfirdn2d_4x4_element<UP, DOWN>(xp, fk, p, oy, ox, HostLoad());
        }
    return 0;
}

// Returns 0; -1 when the 4x4 modes are asked for parameters they do not cover; -2 when a vector
// access was misaligned.
extern "C" int sg_host_upfirdn2d(const float* x, const float* f, float* y, const UpFirDn2DParams* params, int mode) {
    const UpFirDn2DParams p = *params;
    if (mode == 0) {
        for (int n = 0; n < p.batch; ++n)
            for (int c = 0; c < p.channels; ++c)
                for (int oy = 0; oy < p.out_h; ++oy)
                    for (int ox = 0; ox < p.out_w; ++ox) {
                        const float* xp = x + n * p.in_stride[0] + c * p.in_stride[1];
                        y[n * p.out_stride[0] + c * p.out_stride[1] + oy * p.out_stride[2] + ox * p.out_stride[3]] =
                            upfirdn2d_element(xp, f, p, oy, ox, HostLoad());
                    }
        return 0;
    }
    if (!upfirdn2d_4x4_applies(p)) return -1;
    int misaligned;  // (or -1: the mode does not apply)
    if (p.up_x == 2) misaligned = host_4x4<2, 1>(x, f, y, p, mode);
    else if (p.down_x == 2) misaligned = host_4x4<1, 2>(x, f, y, p, mode);
    else misaligned = host_4x4<1, 1>(x, f, y, p, mode);
    return misaligned < 0 ? -1 : misaligned ? -2 : 0;
}

// Which of the NCHW tiles' global accesses go in vectors: bit 0 the loads, bit 1 the stores.
// (y: a host float array standing for elements of elem_size bytes, as HostVecIO reads it.)
extern "C" int sg_host_upfirdn2d_vectors(const UpFirDn2DParams* params, int elem_size, const void* y) {
    const void* dy = reinterpret_cast<const void*>(reinterpret_cast<uintptr_t>(y) / (4 / elem_size));
    const bool tiles = upfirdn2d_tiling(*params) == UFD_TILES_NCHW;
    return int(tiles) | (int(upfirdn2d_vector_stores(*params, elem_size, dy)) << 1);
}

extern "C" int sg_host_upfirdn2d_4x4_applies(const UpFirDn2DParams* params) { return upfirdn2d_4x4_applies(*params); }
extern "C" int sg_host_upfirdn2d_tiling(const UpFirDn2DParams* params) { return upfirdn2d_tiling(*params); }

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

// filtered_lrelu, fused: every tile of every plane through the kernel's five stages (one "thread"),
// tiles planned as the launcher plans them for `max_floats` of shared memory. Returns the tile side,
// or 0 when no tile fits.
extern "C" int sg_host_filtered_lrelu(const float* x, const float* b, const float* fu, const float* fd, float* y,
                                      FilteredLReluParams* params, int max_floats) {
    FilteredLReluParams& p = *params;
    const int floats = flrelu_plan(p, max_floats);
    if (floats == 0) return 0;
    float* smem = new float[floats];
    for (int n = 0; n < p.batch; ++n)
        for (int c = 0; c < p.channels; ++c)
            for (int oy0 = 0; oy0 < p.out_h; oy0 += p.tile_h)
                for (int ox0 = 0; ox0 < p.out_w; ox0 += p.tile_w) {
                    const int th = p.out_h - oy0 < p.tile_h ? p.out_h - oy0 : p.tile_h;
                    const int tw = p.out_w - ox0 < p.tile_w ? p.out_w - ox0 : p.tile_w;
                    for (int i = 0; i < floats; ++i) smem[i] = 1e30f;  // stale data must never be read
                    const FLReluTile t = flrelu_tile(p, oy0, ox0, th, tw);
                    flrelu_tile_all(x + n * p.in_stride[0] + c * p.in_stride[1], p.has_bias ? b[c] : 0.f, fu, fd,
                                    y + n * p.out_stride[0] + c * p.out_stride[1], p, t, smem, HostLoad(), HostStore());
                }
    delete[] smem;
    return p.tile_h;
}
