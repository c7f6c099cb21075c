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

// ------------------------------------------------------------------------------------------------
// The specialised path: a 4x4 filter with up 1 or 2 and down 1 or 2 (not both 2). That is every
// resampling in StyleGAN2's generator and discriminator — the FIR after the transposed conv (up 1,
// down 1), the image upsampling (up 2), the skip downsampling (down 2) — and each one's backward
// (up and down swap), so forward, backward and double backward all stay here.

SG_HD int floor_div(int a, int b) { return (a >= 0 ? a : a - b + 1) / b; }  // b > 0
SG_HD int ceil_div(int a, int b) { return floor_div(a + b - 1, b); }

// fk[a * 4 + b] multiplies the sample at (uy, ux) = (oy * down - pad_y0 + a, ox * down - pad_x0 + b)
// of the zero-inserted image: the filter flipped (true convolution) unless flip_filter, and the gain
// folded in once.
SG_HD float upfirdn2d_tap_4x4(const float* f, const UpFirDn2DParams& p, int a, int b) {
    const int fa = p.flip_filter ? a : 3 - a, fb = p.flip_filter ? b : 3 - b;
    return f[fa * 4 + fb] * p.gain;
}

// Row/column of the real (not inserted) input sample at upsampled position u, or -1 for an inserted
// zero. (UP is 1 or 2; u may be negative: then the result is negative or -1, both "outside".)
template <int UP>
SG_HD int upfirdn2d_source(int u) {
    if (UP == 1) return u;
    return (u & 1) ? -1 : floor_div(u, 2);
}

// The sum over one output's 4x4 window, whose first tap sits at (by, bx) of the zero-inserted image:
// `at(iy, ix)` reads the real input sample at row iy, column ix (only taps on real samples are
// visited: a quarter of them when UP is 2). Every 4x4 kernel below is this loop with its own reader.
template <int UP, typename At>
SG_HD float upfirdn2d_window_4x4(int by, int bx, const float* fk, At at) {
    float acc = 0.f;
#if defined(__CUDACC__)
#pragma unroll
#endif
    for (int a = 0; a < 4; ++a) {
        if (UP == 2 && ((by + a) & 1)) continue;
        const int iy = upfirdn2d_source<UP>(by + a);
#if defined(__CUDACC__)
#pragma unroll
#endif
        for (int b = 0; b < 4; ++b) {
            if (UP == 2 && ((bx + b) & 1)) continue;
            acc += at(iy, upfirdn2d_source<UP>(bx + b)) * fk[a * 4 + b];
        }
    }
    return acc;
}

// One output element (n, c, oy, ox) with the filter prepared in fk. `x` points at plane (n, c).
template <int UP, int DOWN, typename T, typename Load>
SG_HD float upfirdn2d_4x4_element(const T* x, const float* fk, const UpFirDn2DParams& p, int oy, int ox, Load load) {
    return upfirdn2d_window_4x4<UP>(oy * DOWN - p.pad_y0, ox * DOWN - p.pad_x0, fk, [&](int iy, int ix) {
        return (iy < 0 || iy >= p.in_h || ix < 0 || ix >= p.in_w)
            ? 0.f : load(x + int64_t(iy) * p.in_stride[2] + int64_t(ix) * p.in_stride[3]);
    });
}

// 2x up: real row r of the window is zero-inserted row by + PY + 2r, which is tap a = PY + 2r - i of
// output i. (PY, the parity of by, is the same for every thread of a warp: one row of outputs.)
template <int BY, int PY, typename Row>
SG_HD void upfirdn2d_column_up2(const float* t0, const float* t1, Row row, float (&acc)[BY]) {
    constexpr int RH = (BY + 2 - PY) / 2 + 1;
#if defined(__CUDACC__)
#pragma unroll
#endif
    for (int r = 0; r < RH; ++r) {
        const float* w = row(r);
        const float v0 = w[0], v1 = w[1];
#if defined(__CUDACC__)
#pragma unroll
#endif
        for (int i = 0; i < BY; ++i) {
            const int a = PY + 2 * r - i;
            if (a >= 0 && a < 4) acc[i] += v0 * t0[a] + v1 * t1[a];
        }
    }
}

// A column of BY vertically stacked outputs, register-blocked: the outputs at rows oy .. oy+BY-1 of
// one output column share most of their window rows, so each real input sample of the union window
// is read once (from shared memory) and added into every output whose window holds it. row(r) points
// at the first real sample of the union window's r-th real row (row ry + r, column cx);
// (by, bx): the zero-inserted position of output oy's first tap, as in upfirdn2d_window_4x4.
// Per output this is 1 + 3/BY window rows instead of 4, and the index arithmetic is done once.
template <int UP, int DOWN, int BY, typename Row>
SG_HD void upfirdn2d_column_4x4(int by, int bx, const float* fk, Row row, float (&acc)[BY]) {
#if defined(__CUDACC__)
#pragma unroll
#endif
    for (int i = 0; i < BY; ++i) acc[i] = 0.f;
    if (UP == 1) {  // every tap is a real sample: window rows by .. by+(BY-1)*DOWN+3, columns bx .. bx+3
        constexpr int RH = (BY - 1) * DOWN + 4;
#if defined(__CUDACC__)
#pragma unroll
#endif
        for (int r = 0; r < RH; ++r) {
            const float* w = row(r);
            const float v0 = w[0], v1 = w[1], v2 = w[2], v3 = w[3];
#if defined(__CUDACC__)
#pragma unroll
#endif
            for (int i = 0; i < BY; ++i) {
                const int a = r - i * DOWN;  // output i's tap row that row r is
                if (a >= 0 && a < 4)
                    acc[i] += v0 * fk[a * 4] + v1 * fk[a * 4 + 1] + v2 * fk[a * 4 + 2] + v3 * fk[a * 4 + 3];
            }
        }
    } else {  // UP == 2, DOWN == 1: real samples only on even zero-inserted rows and columns
        const int px = bx & 1, py = by & 1;  // column taps px, px+2 are real; rows by+py, by+py+2, ...
        float t0[4], t1[4];
#if defined(__CUDACC__)
#pragma unroll
#endif
        for (int a = 0; a < 4; ++a) { t0[a] = fk[a * 4 + px]; t1[a] = fk[a * 4 + px + 2]; }
        if (py == 0) upfirdn2d_column_up2<BY, 0>(t0, t1, row, acc);
        else upfirdn2d_column_up2<BY, 1>(t0, t1, row, acc);
    }
}

// The tiled form (NCHW planes of at least UFD_TILE_MIN_OUTPUTS outputs): a block computes an
// OUT_H x OUT_W tile of one plane. Its threads first copy the input window the tile reads into
// shared memory (coalesced rows, zeros outside the image: the padding), then each thread computes a
// column of BY outputs (upfirdn2d_column_4x4) — a warp's lanes take consecutive columns of one row
// block, so shared-memory reads are conflict-free and global stores coalesce. Every input sample is
// read from global memory once per tile instead of up to 16 times. Written as two phases over
// (thread index, thread count) so that the host harness (host_check.cu) runs the very same code,
// one "thread" after another.
template <int UP, int DOWN>
struct UpFirDn2DTile {
    static constexpr int OUT_W = 64, OUT_H = 32, BY = 8;  // 64 columns x 4 row blocks: 256 threads
    static constexpr int IN_W = ((OUT_W - 1) * DOWN + 3) / UP + 1;
    static constexpr int IN_H = ((OUT_H - 1) * DOWN + 3) / UP + 1;
    static constexpr int PITCH = IN_W + 1;  // a spare column: rows start on different banks
    static constexpr int SMEM = IN_H * PITCH;
};
#define UFD_TILE_THREADS 256
#define UFD_TILE_MIN_OUTPUTS 1024

template <int UP, int DOWN>
SG_HD void upfirdn2d_tile_origin(const UpFirDn2DParams& p, int oy0, int ox0, int& iy0, int& ix0) {
    iy0 = ceil_div(oy0 * DOWN - p.pad_y0, UP);  // the first real input row the tile can touch
    ix0 = ceil_div(ox0 * DOWN - p.pad_x0, UP);
}

template <int UP, int DOWN, typename T, typename Load>
SG_HD void upfirdn2d_tile_load(const T* x, const UpFirDn2DParams& p, int oy0, int ox0, float* smem, int tid,
                               int nthreads, Load load) {
    typedef UpFirDn2DTile<UP, DOWN> Tile;
    int iy0, ix0;
    upfirdn2d_tile_origin<UP, DOWN>(p, oy0, ox0, iy0, ix0);
    for (int i = tid; i < Tile::IN_H * Tile::IN_W; i += nthreads) {
        const int r = i / Tile::IN_W, c = i - r * Tile::IN_W;
        const int iy = iy0 + r, ix = ix0 + c;
        float v = 0.f;
        if (iy >= 0 && iy < p.in_h && ix >= 0 && ix < p.in_w) v = load(x + int64_t(iy) * p.in_stride[2] + int64_t(ix) * p.in_stride[3]);
        smem[r * Tile::PITCH + c] = v;
    }
}

// The sums of a tile whose input window sits in shared memory: rows(i) is the index in `smem` of
// window row i's first column (input row iy0 + i, column ix0: the tile origin's). Each thread takes
// columns of BY outputs (upfirdn2d_column_4x4); emit(oy, ox, value) receives every output inside the
// image.
template <int UP, int DOWN, typename Rows, typename Emit>
SG_HD void upfirdn2d_tile_sums(const UpFirDn2DParams& p, int oy0, int ox0, const float* smem, Rows rows,
                               const float* fk, int tid, int nthreads, Emit emit) {
    typedef UpFirDn2DTile<UP, DOWN> Tile;
    constexpr int BY = Tile::BY;
    int iy0, ix0;
    upfirdn2d_tile_origin<UP, DOWN>(p, oy0, ox0, iy0, ix0);
    for (int s = tid; s < Tile::OUT_W * (Tile::OUT_H / BY); s += nthreads) {
        const int ox = ox0 + s % Tile::OUT_W, oy = oy0 + (s / Tile::OUT_W) * BY;
        if (oy >= p.out_h || ox >= p.out_w) continue;
        const int by = oy * DOWN - p.pad_y0, bx = ox * DOWN - p.pad_x0;
        // The union window's first real sample (ceil: the first even zero-inserted row/column when UP is 2).
        const int ry = ceil_div(by, UP), cx = ceil_div(bx, UP);
        float acc[BY];
        upfirdn2d_column_4x4<UP, DOWN, BY>(by, bx, fk, [&](int r) { return smem + rows(ry - iy0 + r) + (cx - ix0); },
                                           acc);
#if defined(__CUDACC__)
#pragma unroll
#endif
        for (int i = 0; i < BY; ++i)
            if (oy + i < p.out_h) emit(oy + i, ox, acc[i]);
    }
}

// The NCHW tiles with vector I/O: global memory read (VLOAD) and/or written (VSTORE) in aligned
// 16-byte vectors of V elements (V = 8 halves or 4 floats), so a warp moves 512 bytes per instruction
// instead of 64 (fp16) or 128 (fp32). The scalar tiles issue one instruction per element and measured
// fp16 as slow as fp32 on an H200 (so they are not bandwidth-bound). The sums are the same code in the
// same order: results are bit-identical to the scalar tiles.
//  - load (VLOAD, any NCHW tensor): each window row is read in the aligned vectors that cover it —
//    its own 16-byte boundaries, since rows of any length start anywhere (G's FIR after the
//    transposed conv reads rows of 2n+1) — and goes into shared memory as floats; the elements of a
//    vector outside the row (another row's, or before/after the plane) become zeros, the padding.
//    rowoff[i]: where window row i's first column landed. A vector is read only when it holds an
//    element of the row, so it never leaves the 16-byte chunks the tensor occupies;
//  - sums (VSTORE): as the scalar tiles, but each output goes into a staging tile in shared memory
//    (type T), which then goes out in vectors (upfirdn2d_tile_store_vec) — where y's rows are a whole
//    number of aligned vectors (upfirdn2d_vector_stores).
// VecIO (the device's or the host harness's) provides load(const T* src, float* dst) — V elements to
// V floats —, store(T* dst, const T* src) — V elements — and store_floats(T* dst, const float* src) —
// V floats to V elements —, all on 16-byte aligned addresses.
template <int UP, int DOWN, int V>
struct UpFirDn2DTileVec {
    typedef UpFirDn2DTile<UP, DOWN> Tile;
    static constexpr int VECS = (Tile::IN_W + 2 * (V - 1)) / V;  // vectors per window row (any alignment)
    static constexpr int PITCH = VECS * V;
    static constexpr int SMEM = Tile::IN_H * PITCH;
    static constexpr int OUT = Tile::OUT_H * Tile::OUT_W;  // the staging tile
};

SG_HD int64_t floor_div64(int64_t a, int64_t b) { return (a >= 0 ? a : a - b + 1) / b; }  // b > 0

template <int UP, int DOWN, int V, typename T, typename VecIO>
SG_HD void upfirdn2d_tile_load_vec(const T* x, const UpFirDn2DParams& p, int oy0, int ox0, float* smem, int* rowoff,
                                   int tid, int nthreads, VecIO io) {
    typedef UpFirDn2DTileVec<UP, DOWN, V> TV;
    int iy0, ix0;
    upfirdn2d_tile_origin<UP, DOWN>(p, oy0, ox0, iy0, ix0);
    const int64_t xa = int64_t((reinterpret_cast<uintptr_t>(x) / sizeof(T)) % V);  // x's elements past a boundary
    for (int i = tid; i < TV::Tile::IN_H * TV::VECS; i += nthreads) {
        const int r = i / TV::VECS, v = i - r * TV::VECS;
        const int iy = iy0 + r;
        const int64_t g = xa + int64_t(iy) * p.in_stride[2] + ix0;  // the window row's first element, from a boundary
        const int shift = int(g - floor_div64(g, V) * V);          // ... is this many elements past one
        if (v == 0) rowoff[r] = r * TV::PITCH + shift;
        const int c0 = ix0 - shift + v * V;  // the column of the vector's first element
        float* dst = smem + r * TV::PITCH + v * V;
        if (iy >= 0 && iy < p.in_h && c0 + V > 0 && c0 < p.in_w && p.in_w > 0) {  // (an element of the row)
            io.load(x + int64_t(iy) * p.in_stride[2] + c0, dst);
            if (c0 < 0 || c0 + V > p.in_w) {  // a vector across the row's ends
#if defined(__CUDACC__)
#pragma unroll
#endif
                for (int k = 0; k < V; ++k)
                    if (c0 + k < 0 || c0 + k >= p.in_w) dst[k] = 0.f;
            }
        } else {
#if defined(__CUDACC__)
#pragma unroll
#endif
            for (int k = 0; k < V; ++k) dst[k] = 0.f;
        }
    }
}

template <int UP, int DOWN, int V, typename T, typename VecIO>
SG_HD void upfirdn2d_tile_store_vec(T* y, const UpFirDn2DParams& p, int oy0, int ox0, const T* staging, int tid,
                                    int nthreads, VecIO io) {
    typedef UpFirDn2DTileVec<UP, DOWN, V> TV;
    constexpr int ROW = TV::Tile::OUT_W / V;  // vectors per staging row
    for (int i = tid; i < TV::Tile::OUT_H * ROW; i += nthreads) {
        const int r = i / ROW, v = i - r * ROW;
        const int oy = oy0 + r, ox = ox0 + v * V;
        if (oy < p.out_h && ox < p.out_w)  // out_w is a whole number of vectors: all of it is inside
            io.store(y + int64_t(oy) * p.out_stride[2] + ox, staging + r * TV::Tile::OUT_W + v * V);
    }
}

// The tiled form for channels_last (channels innermost in memory): a block computes an
// OUT_H x OUT_W x 32-channel tile of one image; shared memory holds the input window as
// [row][column][channel], so a warp's 32 lanes read 32 consecutive channels — coalesced from
// global memory, conflict-free from shared memory.
template <int UP, int DOWN>
struct UpFirDn2DTileNHWC {
    static constexpr int CB = 32;
    static constexpr int OUT_W = UP == 2 ? 16 : 8, OUT_H = UP == 2 ? 16 : (DOWN == 2 ? 4 : 8);
    static constexpr int IN_W = ((OUT_W - 1) * DOWN + 3) / UP + 1;
    static constexpr int IN_H = ((OUT_H - 1) * DOWN + 3) / UP + 1;
    static constexpr int SMEM = IN_H * IN_W * CB;
};

template <int UP, int DOWN, typename T, typename Load>
SG_HD void upfirdn2d_tile_load_nhwc(const T* x, const UpFirDn2DParams& p, int oy0, int ox0, int c0, float* smem,
                                    int tid, int nthreads, Load load) {
    typedef UpFirDn2DTileNHWC<UP, DOWN> Tile;
    int iy0, ix0;
    upfirdn2d_tile_origin<UP, DOWN>(p, oy0, ox0, iy0, ix0);
    for (int i = tid; i < Tile::SMEM; i += nthreads) {
        const int c = i % Tile::CB, pix = i / Tile::CB;
        const int r = pix / Tile::IN_W, col = pix - r * Tile::IN_W;
        const int iy = iy0 + r, ix = ix0 + col;
        float v = 0.f;
        if (iy >= 0 && iy < p.in_h && ix >= 0 && ix < p.in_w && c0 + c < p.channels)
            v = load(x + int64_t(c0 + c) * p.in_stride[1] + int64_t(iy) * p.in_stride[2] + int64_t(ix) * p.in_stride[3]);
        smem[i] = v;
    }
}

template <int UP, int DOWN, typename T, typename Store>
SG_HD void upfirdn2d_tile_compute_nhwc(T* y, const UpFirDn2DParams& p, int oy0, int ox0, int c0, const float* smem,
                                       const float* fk, int tid, int nthreads, Store store) {
    typedef UpFirDn2DTileNHWC<UP, DOWN> Tile;
    int iy0, ix0;
    upfirdn2d_tile_origin<UP, DOWN>(p, oy0, ox0, iy0, ix0);
    for (int i = tid; i < Tile::OUT_H * Tile::OUT_W * Tile::CB; i += nthreads) {
        const int c = i % Tile::CB, pix = i / Tile::CB;
        const int oy = oy0 + pix / Tile::OUT_W, ox = ox0 + pix % Tile::OUT_W;
        if (oy >= p.out_h || ox >= p.out_w || c0 + c >= p.channels) continue;
        const float acc = upfirdn2d_window_4x4<UP>(oy * DOWN - p.pad_y0, ox * DOWN - p.pad_x0, fk, [&](int iy, int ix) {
            return smem[((iy - iy0) * Tile::IN_W + (ix - ix0)) * Tile::CB + c];
        });
        store(y + int64_t(c0 + c) * p.out_stride[1] + int64_t(oy) * p.out_stride[2] + int64_t(ox) * p.out_stride[3], acc);
    }
}

// channels_last with vector I/O: one work item is V consecutive channels (one 16-byte vector: 8 halves
// or 4 floats) of a column of NHWC_BY outputs (rows oy .. oy+NHWC_BY-1, column ox) of one image. It reads
// its union window's input pixels as channel vectors straight from global memory (a warp's lanes take
// consecutive vectors of the same pixels, so a load instruction moves 512 contiguous bytes; the
// neighbouring columns' items read the same pixels, which the L1 cache serves), adds each into every
// output of the column whose window holds it (per output: the same taps in the same order as
// upfirdn2d_window_4x4, so the sums are bit-identical to the other 4x4 kernels) and writes V outputs
// per store. No shared memory, no barrier. VecIO as for the NCHW vector tiles.
#define UFD_NHWC_BY 4

// Adds one input row (channel vectors at columns ix[0..NC-1] of the row that starts at xr) into the
// outputs whose window holds it: row_tap = u - by, the row's zero-inserted position relative to the
// first output's window, is a constant once the caller's loop is unrolled, so output i's tap row
// a = row_tap - i * DOWN is known at compile time. w[j][a]: the tap of column j in window row a.
template <int DOWN, int NC, int V, typename T, typename VecIO>
SG_HD void upfirdn2d_nhwc_row(const T* xr, const UpFirDn2DParams& p, const float (&w)[NC][4], int row_tap, bool row_in,
                              const int (&ix)[NC], float (&acc)[UFD_NHWC_BY][V], VecIO io) {
#if defined(__CUDACC__)
#pragma unroll
#endif
    for (int j = 0; j < NC; ++j) {
        alignas(16) float v[V];
        if (row_in && ix[j] >= 0 && ix[j] < p.in_w) {
            io.load(xr + int64_t(ix[j]) * p.in_stride[3], v);
        } else {
#if defined(__CUDACC__)
#pragma unroll
#endif
            for (int k = 0; k < V; ++k) v[k] = 0.f;
        }
#if defined(__CUDACC__)
#pragma unroll
#endif
        for (int i = 0; i < UFD_NHWC_BY; ++i) {
            const int a = row_tap - i * DOWN;
            if (a < 0 || a >= 4) continue;
#if defined(__CUDACC__)
#pragma unroll
#endif
            for (int k = 0; k < V; ++k) acc[i][k] += v[k] * w[j][a];
        }
    }
}

// 2x up: the window's real rows are zero-inserted rows by + PY + 2r (PY: by's parity, the same for the
// whole launch since row blocks start at multiples of 4), real columns cx, cx+1 with taps b0, b0 + 2.
template <int PY, int V, typename T, typename VecIO>
SG_HD void upfirdn2d_nhwc_up2(const T* xn, const UpFirDn2DParams& p, const float* fk, int by, int bx,
                              float (&acc)[UFD_NHWC_BY][V], VecIO io) {
    const int cx = ceil_div(bx, 2), b0 = 2 * cx - bx;
    const int ix[2] = {cx, cx + 1};
    float w[2][4];
#if defined(__CUDACC__)
#pragma unroll
#endif
    for (int a = 0; a < 4; ++a) { w[0][a] = fk[a * 4 + b0]; w[1][a] = fk[a * 4 + b0 + 2]; }
    constexpr int RH = (UFD_NHWC_BY + 2 - PY) / 2 + 1;
    const int iy0 = (by + PY) / 2;  // by + PY is even (floor and exact division agree for negatives too)
#if defined(__CUDACC__)
#pragma unroll
#endif
    for (int r = 0; r < RH; ++r) {
        const int iy = iy0 + r;
        upfirdn2d_nhwc_row<1, 2, V>(xn + int64_t(iy) * p.in_stride[2], p, w, PY + 2 * r, iy >= 0 && iy < p.in_h, ix,
                                    acc, io);
    }
}

// One work item: image n, output rows oy .. oy+NHWC_BY-1 (those inside), column ox, channels c .. c+V-1.
// `x`, `y`: the tensors' first elements; fk as upfirdn2d_tap_4x4 prepares it.
template <int UP, int DOWN, int V, typename T, typename VecIO>
SG_HD void upfirdn2d_nhwc_vec_item(const T* x, T* y, const UpFirDn2DParams& p, const float* fk, int n, int oy, int ox,
                                   int c, VecIO io) {
    const int by = oy * DOWN - p.pad_y0, bx = ox * DOWN - p.pad_x0;
    float acc[UFD_NHWC_BY][V];
#if defined(__CUDACC__)
#pragma unroll
#endif
    for (int i = 0; i < UFD_NHWC_BY; ++i)
#if defined(__CUDACC__)
#pragma unroll
#endif
        for (int k = 0; k < V; ++k) acc[i][k] = 0.f;
    const T* xn = x + int64_t(n) * p.in_stride[0] + c;
    if (UP == 1) {  // the union window: rows by .. by + (BY-1)*DOWN + 3, columns bx .. bx+3
        const int ix[4] = {bx, bx + 1, bx + 2, bx + 3};
        float w[4][4];
#if defined(__CUDACC__)
#pragma unroll
#endif
        for (int a = 0; a < 4; ++a)
#if defined(__CUDACC__)
#pragma unroll
#endif
            for (int b = 0; b < 4; ++b) w[b][a] = fk[a * 4 + b];
        constexpr int RH = (UFD_NHWC_BY - 1) * DOWN + 4;
#if defined(__CUDACC__)
#pragma unroll
#endif
        for (int r = 0; r < RH; ++r) {
            const int iy = by + r;
            upfirdn2d_nhwc_row<DOWN, 4, V>(xn + int64_t(iy) * p.in_stride[2], p, w, r, iy >= 0 && iy < p.in_h, ix, acc,
                                           io);
        }
    } else if (by & 1) {  // UP == 2, DOWN == 1
        upfirdn2d_nhwc_up2<1, V>(xn, p, fk, by, bx, acc, io);
    } else {
        upfirdn2d_nhwc_up2<0, V>(xn, p, fk, by, bx, acc, io);
    }
    T* yn = y + int64_t(n) * p.out_stride[0] + c + int64_t(ox) * p.out_stride[3];
#if defined(__CUDACC__)
#pragma unroll
#endif
    for (int i = 0; i < UFD_NHWC_BY; ++i)
        if (oy + i < p.out_h) io.store_floats(yn + int64_t(oy + i) * p.out_stride[2], acc[i]);
}

// Whether the channels_last vector kernel applies: channels innermost in x and y, a whole number of
// vectors, and every pixel's channels starting on a 16-byte boundary.
SG_HD bool upfirdn2d_nhwc_vectors(const UpFirDn2DParams& p, int elem_size, const void* x, const void* y) {
    const int V = 16 / elem_size;
    if (p.in_stride[1] != 1 || p.out_stride[1] != 1 || p.channels % V) return false;
    if ((reinterpret_cast<uintptr_t>(x) | reinterpret_cast<uintptr_t>(y)) & 15) return false;
    return !(p.in_stride[0] % V || p.in_stride[2] % V || p.in_stride[3] % V || p.out_stride[0] % V ||
             p.out_stride[2] % V || p.out_stride[3] % V);
}

// UFD_4X4: the 4x4 kernels, NCHW tiles with vector I/O where it applies; UFD_4X4_SCALAR_IO: the same
// with the scalar-I/O NCHW tiles everywhere (kept to be compared: benchmarks/kernels.py, the self-test).
enum UpFirDn2DPath { UFD_GENERAL = 0, UFD_4X4 = 1, UFD_4X4_SCALAR_IO = 2 };
enum UpFirDn2DTiling { UFD_PER_ELEMENT = 0, UFD_TILES_NCHW = 1, UFD_TILES_NHWC = 2 };

// Whether the specialised 4x4 path applies (the binding refuses UFD_4X4 otherwise).
SG_HD bool upfirdn2d_4x4_applies(const UpFirDn2DParams& p) {
    return p.filter_w == 4 && p.filter_h == 4 && p.up_x == p.up_y && p.down_x == p.down_y &&
           (p.up_x == 1 || p.up_x == 2) && (p.down_x == 1 || p.down_x == 2) && !(p.up_x == 2 && p.down_x == 2);
}

// How the 4x4 path runs: NCHW tiles for planes (x innermost in memory) of >= UFD_TILE_MIN_OUTPUTS
// outputs; channels_last tiles when channels are innermost and there are enough of them to fill a
// warp's lanes; one thread per output otherwise.
SG_HD int upfirdn2d_tiling(const UpFirDn2DParams& p) {
    if (p.in_stride[3] == 1 && p.out_stride[3] == 1 && (int64_t)p.out_h * p.out_w >= UFD_TILE_MIN_OUTPUTS)
        return UFD_TILES_NCHW;
    if (p.in_stride[1] == 1 && p.out_stride[1] == 1 && p.channels >= 16 && (int64_t)p.out_h * p.out_w >= 64)
        return UFD_TILES_NHWC;
    return UFD_PER_ELEMENT;
}

// Whether the NCHW tiles can write y in 16-byte vectors (their loads always can): every plane and row
// of y starts on a 16-byte boundary and rows are a whole number of vectors (`ptr`: y's data pointer;
// elem_size: 4 for float32, 2 for float16). StyleGAN2's resamplings have even widths, but D's FIR
// before its strided convolution writes rows of n+1 (scalar stores).
SG_HD bool upfirdn2d_vectors_fit(const int64_t* stride, int width, int elem_size, const void* ptr) {
    const int V = 16 / elem_size;
    if ((reinterpret_cast<uintptr_t>(ptr) & 15) || width % V) return false;
    for (int d = 0; d < 3; ++d)
        if (stride[d] % V) return false;
    return true;
}
SG_HD bool upfirdn2d_vector_stores(const UpFirDn2DParams& p, int elem_size, const void* y) {
    return upfirdn2d_tiling(p) == UFD_TILES_NCHW && upfirdn2d_vectors_fit(p.out_stride, p.out_w, elem_size, y);
}
