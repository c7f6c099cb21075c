// filtered_lrelu, fused (StyleGAN3's nonlinearity; kernels/filtered_lrelu_ref.py is the spec):
//
//     y = downsample_fd( clamp( lrelu( upsample_fu( x + b ) ) * gain ) )
//
// One block computes a tile of outputs of one (n, c) plane entirely in shared memory, so the
// upsampled signal (up x up times larger than x) never goes to global memory:
//   1. load   X = x + b over the input rows/columns the tile needs (zeros outside the image);
//   2. up-x   U = X filtered along x by fu on the zero-inserted grid (polyphase: only real samples);
//   3. up-y   A = act(U filtered along y) — or, for a 2-D fu, A = act(X filtered by fu) directly;
//   4. down-x D = A filtered along x by fd, every down-th column;
//   5. down-y y = D filtered along y, every down-th row — or, for a 2-D fd, y from A directly.
// Each stage is a __host__ __device__ function looping over its elements with (tid, nthreads), so
// the CUDA kernel runs them with __syncthreads() between, and the host harness
// (kernels/cuda/host_check.cu, the CPU tests) runs the very same code with one "thread".
#pragma once
#include <cstdint>

#include "hd.cuh"
#include "upfirdn2d.cuh"  // floor_div, ceil_div

struct FilteredLReluParams {
    int64_t in_stride[4];   // n, c, y, x (elements)
    int64_t out_stride[4];
    int batch, channels, in_h, in_w, out_h, out_w;
    int up, down;
    int pad_x0, pad_y0;     // of the upsampling step (pad_x1, pad_y1 only decide the sizes)
    int fu_w, fu_h;         // up filter: separable taps (fu_sep, fu_w == fu_h) or 2-D [fu_h, fu_w]
    int fd_w, fd_h;         // down filter, likewise
    bool fu_sep, fd_sep;
    bool flip_filter;       // false: true convolution (as upfirdn2d), true: correlation
    bool has_bias;
    float gain, slope, clamp;  // clamp < 0: no clamp
    int tile_h, tile_w;     // outputs per block (flrelu_plan)
};

// Where one tile's stages read and write: output rows/columns [oy0, oy0 + th) x [ox0, ox0 + tw),
// upsampled (activation) rows/columns from (ay0, ax0), input rows/columns from (iy0, ix0).
struct FLReluTile {
    int oy0, ox0, th, tw;
    int ay0, ax0, ah, aw;
    int iy0, ix0, ih, iw;
};

SG_HD FLReluTile flrelu_tile(const FilteredLReluParams& p, int oy0, int ox0, int th, int tw) {
    FLReluTile t;
    t.oy0 = oy0; t.ox0 = ox0; t.th = th; t.tw = tw;
    t.ay0 = oy0 * p.down; t.ax0 = ox0 * p.down;
    t.ah = (th - 1) * p.down + p.fd_h;
    t.aw = (tw - 1) * p.down + p.fd_w;
    // u[a] sums the zero-inserted input at a - pad0 + k, k < taps: real samples j/up for j % up == 0.
    t.iy0 = ceil_div(t.ay0 - p.pad_y0, p.up);
    t.ix0 = ceil_div(t.ax0 - p.pad_x0, p.up);
    t.ih = floor_div(t.ay0 + t.ah - 1 - p.pad_y0 + p.fu_h - 1, p.up) - t.iy0 + 1;
    t.iw = floor_div(t.ax0 + t.aw - 1 - p.pad_x0 + p.fu_w - 1, p.up) - t.ix0 + 1;
    return t;
}

// Shared-memory layout of a full tile (floats): X, then U (separable fu only), A, D (separable fd only).
struct FLReluSmem {
    int x, u, a, d, total;
};

SG_HD FLReluSmem flrelu_smem(const FilteredLReluParams& p, const FLReluTile& t) {
    FLReluSmem s;
    s.x = 0;
    s.u = s.x + t.ih * t.iw;
    s.a = s.u + (p.fu_sep ? t.ih * t.aw : 0);
    s.d = s.a + t.ah * t.aw;
    s.total = s.d + (p.fd_sep ? t.ah * t.tw : 0);
    return s;
}

// The first tap k >= 0 with base + k a multiple of up (a real, not inserted, sample): (-base) mod up.
SG_HD int flrelu_first_tap(int base, int up) { return -base - floor_div(-base, up) * up; }

// Tap k of a filter of `taps` along one axis, as the true convolution uses it (flipped unless
// flip_filter); `f` is 1-D (separable) here.
SG_HD float flrelu_tap(const float* f, int taps, int k, bool flip) { return f[flip ? k : taps - 1 - k]; }

SG_HD float flrelu_act(float v, const FilteredLReluParams& p) {
    v = v < 0.f ? v * p.slope : v;
    v *= p.gain;
    if (p.clamp >= 0.f) v = v < -p.clamp ? -p.clamp : (v > p.clamp ? p.clamp : v);
    return v;
}

// 1. X[r][c] = x + b at input (iy0 + r, ix0 + c), 0 outside the image. `x` points at plane (n, c).
template <typename T, typename Load>
SG_HD void flrelu_stage_load(const T* x, float bias, const FilteredLReluParams& p, const FLReluTile& t, float* X,
                             int tid, int nthreads, Load load) {
    for (int i = tid; i < t.ih * t.iw; i += nthreads) {
        const int r = i / t.iw, c = i - r * t.iw;
        const int iy = t.iy0 + r, ix = t.ix0 + c;
        X[i] = (iy >= 0 && iy < p.in_h && ix >= 0 && ix < p.in_w)
                   ? load(x + iy * p.in_stride[2] + ix * p.in_stride[3]) + bias : 0.f;
    }
}

// 2. U[r][c] = sum_k X[r][(ax - pad_x0 + k) / up] * fu(k) over the k that land on real samples, times
// up (half of the upsampling gain up^2; the y pass applies the other half).
SG_HD void flrelu_stage_up_x(const float* fu, const FilteredLReluParams& p, const FLReluTile& t, const float* X,
                             float* U, int tid, int nthreads) {
    for (int i = tid; i < t.ih * t.aw; i += nthreads) {
        const int r = i / t.aw, c = i - r * t.aw;
        const int base = t.ax0 + c - p.pad_x0;  // zero-inserted position of tap 0
        float acc = 0.f;
        for (int k = flrelu_first_tap(base, p.up); k < p.fu_w; k += p.up) {
            acc += X[r * t.iw + (base + k) / p.up - t.ix0] * flrelu_tap(fu, p.fu_w, k, p.flip_filter);
        }
        U[i] = acc * float(p.up);
    }
}

// 3. A[r][c]: the y pass of a separable fu over U (or the whole 2-D fu over X), then the activation.
SG_HD void flrelu_stage_up_y(const float* fu, const FilteredLReluParams& p, const FLReluTile& t, const float* X,
                             const float* U, float* A, int tid, int nthreads) {
    for (int i = tid; i < t.ah * t.aw; i += nthreads) {
        const int r = i / t.aw, c = i - r * t.aw;
        const int base_y = t.ay0 + r - p.pad_y0;
        const int ky0 = flrelu_first_tap(base_y, p.up);
        float acc = 0.f;
        if (p.fu_sep) {
            for (int k = ky0; k < p.fu_h; k += p.up)
                acc += U[((base_y + k) / p.up - t.iy0) * t.aw + c] * flrelu_tap(fu, p.fu_h, k, p.flip_filter);
            acc *= float(p.up);
        } else {
            const int base_x = t.ax0 + c - p.pad_x0;
            const int kx0 = flrelu_first_tap(base_x, p.up);
            for (int ky = ky0; ky < p.fu_h; ky += p.up) {
                const float* row = X + ((base_y + ky) / p.up - t.iy0) * t.iw - t.ix0;
                const int fy = p.flip_filter ? ky : p.fu_h - 1 - ky;
                for (int kx = kx0; kx < p.fu_w; kx += p.up) {
                    const int fx = p.flip_filter ? kx : p.fu_w - 1 - kx;
                    acc += row[(base_x + kx) / p.up] * fu[fy * p.fu_w + fx];
                }
            }
            acc *= float(p.up * p.up);
        }
        A[i] = flrelu_act(acc, p);
    }
}

// 4. D[r][c] = sum_k A[r][c * down + k] * fd(k): the x pass of a separable fd, every down-th column.
SG_HD void flrelu_stage_down_x(const float* fd, const FilteredLReluParams& p, const FLReluTile& t, const float* A,
                               float* D, int tid, int nthreads) {
    for (int i = tid; i < t.ah * t.tw; i += nthreads) {
        const int r = i / t.tw, c = i - r * t.tw;
        const float* row = A + r * t.aw + c * p.down;
        float acc = 0.f;
        for (int k = 0; k < p.fd_w; ++k) acc += row[k] * flrelu_tap(fd, p.fd_w, k, p.flip_filter);
        D[i] = acc;
    }
}

// 5. The output (oy0 + r, ox0 + c): the y pass over D (or the 2-D fd over A), every down-th row.
template <typename T, typename Store>
SG_HD void flrelu_stage_down_y(const float* fd, const FilteredLReluParams& p, const FLReluTile& t, const float* A,
                               const float* D, T* y, int tid, int nthreads, Store store) {
    for (int i = tid; i < t.th * t.tw; i += nthreads) {
        const int r = i / t.tw, c = i - r * t.tw;
        float acc = 0.f;
        if (p.fd_sep) {
            for (int k = 0; k < p.fd_h; ++k) acc += D[(r * p.down + k) * t.tw + c] * flrelu_tap(fd, p.fd_h, k, p.flip_filter);
        } else {
            for (int ky = 0; ky < p.fd_h; ++ky) {
                const float* row = A + (r * p.down + ky) * t.aw + c * p.down;
                const int fy = p.flip_filter ? ky : p.fd_h - 1 - ky;
                for (int kx = 0; kx < p.fd_w; ++kx)
                    acc += row[kx] * fd[fy * p.fd_w + (p.flip_filter ? kx : p.fd_w - 1 - kx)];
            }
        }
        store(y + (t.oy0 + r) * p.out_stride[2] + (t.ox0 + c) * p.out_stride[3], acc);
    }
}

// Choose the tile: the largest of 32x32, 16x16, 8x8 outputs whose shared memory fits `max_floats`
// (0 when none does: the caller computes filtered_lrelu another way). Sets p.tile_h, p.tile_w.
SG_HD int flrelu_plan(FilteredLReluParams& p, int max_floats) {
    for (int side = 32; side >= 8; side /= 2) {
        const FLReluTile t = flrelu_tile(p, 0, 0, side, side);
        if (flrelu_smem(p, t).total <= max_floats) {
            p.tile_h = side; p.tile_w = side;
            return flrelu_smem(p, t).total;
        }
    }
    return 0;
}

// One tile, all five stages, for thread `tid` of `nthreads` (the host harness passes 0 of 1; the
// kernel interleaves __syncthreads() itself, see filtered_lrelu.cu).
template <typename T, typename Load, typename Store>
SG_HD void flrelu_tile_all(const T* x, float bias, const float* fu, const float* fd, T* y, const FilteredLReluParams& p,
                           const FLReluTile& t, float* smem, Load load, Store store) {
    const FLReluSmem s = flrelu_smem(p, t);
    flrelu_stage_load(x, bias, p, t, smem + s.x, 0, 1, load);
    if (p.fu_sep) flrelu_stage_up_x(fu, p, t, smem + s.x, smem + s.u, 0, 1);
    flrelu_stage_up_y(fu, p, t, smem + s.x, smem + s.u, smem + s.a, 0, 1);
    if (p.fd_sep) flrelu_stage_down_x(fd, p, t, smem + s.a, smem + s.d, 0, 1);
    flrelu_stage_down_y(fd, p, t, smem + s.a, smem + s.d, y, 0, 1, store);
}
