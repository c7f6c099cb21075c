"""The CUDA kernels on a machine without a GPU: their arithmetic and indexing (the same __host__
__device__ functions built for the host), their compilation, the custom ops' autograd and
torch.compile support, and the build lock."""

import ctypes
import os
import shutil
import subprocess
import time

import numpy as np
import pytest
import torch

from conftest import REPO
from kernels import ops, setup_filter, to_rgba
from kernels.bias_act_ref import bias_act_ref
from kernels.build import build_lock
from kernels.upfirdn2d_ref import upfirdn2d_ref

CUDA_DIR = REPO / "kernels" / "cuda"


class UpFirDnParams(ctypes.Structure):
    _fields_ = [("in_stride", ctypes.c_int64 * 4), ("out_stride", ctypes.c_int64 * 4)] + \
        [(n, ctypes.c_int) for n in "batch channels in_h in_w out_h out_w up_x up_y down_x down_y pad_x0 pad_y0 "
                                    "filter_w filter_h".split()] + [("gain", ctypes.c_float), ("flip_filter", ctypes.c_bool)]


class BiasActParams(ctypes.Structure):
    _fields_ = [("size", ctypes.c_int64), ("c_stride", ctypes.c_int64), ("channels", ctypes.c_int),
                ("act", ctypes.c_int), ("alpha", ctypes.c_float), ("gain", ctypes.c_float),
                ("clamp", ctypes.c_float), ("has_bias", ctypes.c_bool)]


class FilteredLReluParams(ctypes.Structure):
    _fields_ = [("in_stride", ctypes.c_int64 * 4), ("out_stride", ctypes.c_int64 * 4)] + \
        [(n, ctypes.c_int) for n in "batch channels in_h in_w out_h out_w up down pad_x0 pad_y0 fu_w fu_h fd_w fd_h".split()] + \
        [(n, ctypes.c_bool) for n in "fu_sep fd_sep flip_filter has_bias".split()] + \
        [(n, ctypes.c_float) for n in "gain slope clamp".split()] + [("tile_h", ctypes.c_int), ("tile_w", ctypes.c_int)]


class ToRGBAParams(ctypes.Structure):
    _fields_ = [("in_stride", ctypes.c_int64 * 3), ("channels", ctypes.c_int), ("in_h", ctypes.c_int),
                ("in_w", ctypes.c_int), ("zoom", ctypes.c_int)]


@pytest.fixture(scope="module")
def host(tmp_path_factory):
    """The kernels' per-element code compiled for the host (plain g++: the headers need no CUDA)."""
    cxx = shutil.which("g++") or shutil.which("c++")
    if cxx is None:
        pytest.skip("no C++ compiler")
    lib = tmp_path_factory.mktemp("host") / "libsg_host_check.so"
    subprocess.run([cxx, "-O2", "-shared", "-fPIC", "-x", "c++", str(CUDA_DIR / "host_check.cu"), "-o", str(lib)],
                   check=True, capture_output=True)
    return ctypes.CDLL(str(lib))


def ptr(a: np.ndarray):
    return a.ctypes.data_as(ctypes.c_void_p)


def host_upfirdn2d(host, x, f, up, down, pad, flip, gain, layout, mode):
    """The kernels' code for upfirdn2d on the host: mode 0 general, 1 the 4x4 per-element code,
    2 and 3 the NCHW and channels_last tiled 4x4 kernels (blocks emulated thread by thread). -> (got, reference, params) or None
    when the 4x4 modes do not apply."""
    xt = torch.from_numpy(x).contiguous(memory_format=layout)
    ref = upfirdn2d_ref(torch.from_numpy(x), torch.from_numpy(f), up=up, down=down, padding=pad, flip_filter=flip, gain=gain)
    out = torch.zeros(ref.shape).contiguous(memory_format=layout)
    f2 = f if f.ndim == 2 else np.outer(f, f)
    p = UpFirDnParams((ctypes.c_int64 * 4)(*xt.stride()), (ctypes.c_int64 * 4)(*out.stride()), *x.shape,
                      ref.shape[2], ref.shape[3], up, up, down, down, pad[0], pad[2], f2.shape[1], f2.shape[0], gain, flip)
    # Hand the kernel the raw memory of the (possibly channels-last) tensors.
    x_mem = xt.permute(0, 2, 3, 1).contiguous().numpy() if layout == torch.channels_last else xt.numpy()
    out_np = _aligned_floats(out.numel(), 0)
    out_np[:] = np.nan
    f2c = np.ascontiguousarray(f2, np.float32)
    x_mem = _aligned_copy(x_mem)
    r = host.sg_host_upfirdn2d(ptr(x_mem), ptr(f2c), ptr(out_np), ctypes.byref(p), mode)
    assert r != -2, "a vector access was misaligned"
    if r != 0:
        return None
    if layout == torch.channels_last:
        got = out_np.reshape(ref.shape[0], ref.shape[2], ref.shape[3], ref.shape[1]).transpose(0, 3, 1, 2)
    else:
        got = out_np.reshape(ref.shape)
    return got, ref.numpy(), p


@pytest.mark.parametrize("layout", [torch.contiguous_format, torch.channels_last])
def test_upfirdn2d_kernel_math(host, layout):
    """Every kernel path against the reference: the general code on any filter and factors; the 4x4
    code (per element, and tiled through shared memory) on StyleGAN's resamplings, forward and
    backward paddings, negative (cropping) paddings, several tiles with ragged edges."""
    rng = np.random.RandomState(0)
    f4 = setup_filter([1, 3, 3, 1]).numpy()
    covered = set()
    cases = [(2, 1, [2, 1, 2, 1], f4, (2, 3, 9, 7)), (1, 2, [1, 1, 1, 1], f4, (2, 3, 9, 7)),
             (1, 1, [1, 1, 1, 1], f4, (1, 2, 40, 70)),     # G: the FIR after the transposed conv
             (1, 1, [2, 2, 2, 2], f4, (1, 2, 37, 66)),     # D: the FIR before the strided conv
             (2, 1, [2, 1, 2, 1], f4, (1, 2, 20, 35)),     # 2x up of images; 2 x 2 tiles
             (1, 2, [1, 1, 1, 1], f4, (1, 2, 81, 140)),    # 2x down of the skip path
             (1, 2, [1, 2, 1, 2], f4, (1, 2, 40, 70)),     # the backward of 2x up
             (2, 1, [2, 1, 2, 1], rng.randn(4, 4), (1, 2, 33, 17)),
             (2, 1, [1, 2, 3, 0], rng.randn(4, 4), (2, 3, 9, 7)), (1, 2, [-1, 2, 0, 3], rng.randn(4, 4), (1, 2, 70, 66)),
             (1, 1, [-2, 3, 3, -1], rng.randn(4, 4), (1, 1, 45, 67)),
             (1, 1, [1, 1, 1, 1], f4, (2, 40, 13, 11)),    # 40 channels: a full and a partial block of 32
             (2, 1, [2, 1, 2, 1], rng.randn(4, 4), (1, 40, 9, 19)), (1, 2, [1, 2, 0, 1], f4, (2, 17, 21, 19)),
             (4, 1, [1, 2, 3, 0], rng.randn(5), (2, 3, 9, 7)), (1, 4, [2, 1, 0, 2], rng.randn(3, 6), (2, 3, 9, 7)),
             (2, 2, [2, 1, 1, 2], rng.randn(4, 4), (2, 3, 9, 7)), (3, 2, [0, 0, 1, 1], rng.randn(7), (2, 3, 9, 7))]
    for up, down, pad, f, shape in cases:
        for flip in (False, True):
            x = rng.randn(*shape).astype(np.float32)
            for mode in (0, 1, 2, 3):
                r = host_upfirdn2d(host, x, np.asarray(f, np.float32), up, down, pad, flip, 1.7, layout, mode)
                applies = np.asarray(f).shape == (4, 4) and up in (1, 2) and down in (1, 2) and up * down < 4
                assert (r is not None) == (mode == 0 or applies), (up, down, np.asarray(f).shape, mode)
                if r is None:
                    continue
                got, ref, p = r
                covered.add((mode, up, down, host.sg_host_upfirdn2d_tiling(ctypes.byref(p)) if shape[1] > 1 else -1))
                assert np.abs(got - ref).max() <= 1e-5 * max(1, np.abs(ref).max()), (up, down, pad, flip, shape, mode)
    for up, down in [(1, 1), (2, 1), (1, 2)]:
        assert {(1, up, down), (2, up, down), (3, up, down)} <= {c[:3] for c in covered}
    # The launcher's choice: NCHW tiles for NCHW planes of >= 1024 outputs, channels_last tiles for
    # >= 16 channels innermost, one thread per output for the rest.
    chosen = {c[3] for c in covered if c[3] >= 0}
    assert chosen == ({0, 1} if layout == torch.contiguous_format else {0, 2})


def _aligned_copy(a: np.ndarray) -> np.ndarray:
    out = _aligned_floats(a.size, 0)
    out[:] = np.ascontiguousarray(a, np.float32).ravel()
    return out


def _aligned_floats(n: int, offset: int) -> np.ndarray:
    """n float32s whose first one sits `offset` floats past a 64-byte boundary, in a buffer whose other
    floats are NaN (a kernel that used one would show it)."""
    raw = np.full(n + offset + 32, np.nan, np.float32)
    start = (-raw.ctypes.data % 64) // 4
    return raw[start + offset:start + offset + n]


@pytest.mark.parametrize("vector", [4, 8])
def test_upfirdn2d_vector_tiles_match_the_scalar_tiles_bit_for_bit(host, vector):
    """The NCHW tiles with 16-byte vector loads (any tensor: each row read in the aligned vectors that
    cover it, the elements outside the row zeroed) and, where y's rows allow, vector stores — 4 floats
    as the float32 kernel; 8, as the float16 kernel's 8 halves, with the same indices and alignment
    rules — give exactly the scalar tiles' numbers (the sums are the same code in the same order), and
    every vector access is 16-byte aligned on the GPU's terms (the host harness checks each address).
    Covered: G's FIR after the transposed conv (rows of 2n+1 in, 2n out), D's FIR before the strided
    conv (rows of n+1 out: scalar stores), planes that start off a 16-byte boundary, cropped views
    (rows longer than the image), cropping and odd paddings, ragged tiles."""
    rng = np.random.RandomState(3)
    f4 = setup_filter([1, 3, 3, 1]).numpy()
    elem = 16 // vector
    seen = set()
    cases = [(2, 1, [2, 1, 2, 1], f4, (1, 2, 24, 40), 0, 0),        # 2x up (image, resnet skip)
             (1, 2, [1, 1, 1, 1], f4, (1, 2, 80, 144), 0, 0),       # 2x down (D's skip); 3 tiles across
             (1, 1, [1, 1, 1, 1], f4, (1, 2, 41, 81), 0, 0),        # G's FIR: rows of 2n+1 in, 2n out
             (1, 1, [2, 2, 2, 2], f4, (1, 2, 40, 64), 0, 0),        # D's FIR: rows of n+1 out
             (1, 2, [1, 2, 1, 2], rng.randn(4, 4), (2, 2, 70, 136), 0, 0),  # the backward of 2x up; 2 images
             (2, 1, [1, 2, 3, 0], rng.randn(4, 4), (1, 2, 37, 72), 0, 0),   # odd paddings, ragged tile rows
             (1, 2, [-1, 2, 0, 3], rng.randn(4, 4), (1, 2, 70, 64), 0, 0),  # cropping
             (1, 1, [3, 1, 1, 3], rng.randn(4, 4), (1, 2, 40, 200), 0, 0),  # 4 tiles across, the last partial
             (2, 1, [2, 1, 2, 1], f4, (1, 2, 24, 40), 1, 0),        # x starts 1 element past a boundary
             (1, 2, [1, 1, 1, 1], f4, (1, 2, 80, 144), 4, 0),       # 4 elements past: a boundary for floats only
             (1, 1, [1, 1, 1, 1], f4, (2, 2, 41, 81), 3, 0),        # odd rows and an odd start
             (1, 2, [1, 1, 1, 1], f4, (1, 2, 80, 144), 0, 8),       # x a cropped view (rows 8 longer)
             (1, 1, [1, 1, 1, 1], f4, (1, 2, 40, 72), 0, 3)]        # rows of 75 in memory
    for up, down, pad, f, (n, c, h, w), offset, extra in cases:
        for flip in (False, True):
            xs = rng.randn(n, c, h, w).astype(np.float32)
            mem = _aligned_floats(n * c * h * (w + extra), offset)
            mem.reshape(n, c, h, w + extra)[..., :w] = xs
            mem.reshape(n, c, h, w + extra)[..., w:] = np.nan  # a cropped view's hidden columns: never read
            f2 = np.ascontiguousarray(f if np.ndim(f) == 2 else np.outer(f, f), np.float32)
            ref = upfirdn2d_ref(torch.from_numpy(xs), torch.from_numpy(f2), up=up, down=down, padding=pad,
                                flip_filter=flip, gain=1.3).numpy()
            oh, ow = ref.shape[2:]
            p = UpFirDnParams((ctypes.c_int64 * 4)(c * h * (w + extra), h * (w + extra), w + extra, 1),
                              (ctypes.c_int64 * 4)(c * oh * ow, oh * ow, ow, 1), n, c, h, w, oh, ow,
                              up, up, down, down, pad[0], pad[2], 4, 4, 1.3, flip)
            outs = {}
            for mode in (2, 4 if vector == 4 else 5):
                out = _aligned_floats(ref.size, 0)
                out[:] = np.nan
                assert host.sg_host_upfirdn2d(ptr(mem), ptr(f2), ptr(out), ctypes.byref(p), mode) == 0, \
                    (up, down, pad, (n, c, h, w), offset, extra, mode)
                outs[mode] = out.reshape(ref.shape)
            scalar, vec = outs[2], outs[4 if vector == 4 else 5]
            assert np.abs(scalar - ref).max() <= 1e-5 * max(1, np.abs(ref).max())
            assert np.array_equal(scalar, vec), (up, down, pad, (n, c, h, w), offset, extra)
            seen.add(host.sg_host_upfirdn2d_vectors(ctypes.byref(p), elem, ptr(outs[2])))
    assert seen == {1, 3}  # vector loads everywhere; vector stores where the output rows allow


@pytest.mark.parametrize("mode", [4, 5, 6, 7])
def test_upfirdn2d_vector_kernels_read_nothing_of_an_empty_input(host, mode):
    """An input 0 columns wide, padded into a large output: the ops refuse it in one line, as the
    reference does, but the kernels themselves (the binding can be called directly) must not load a
    single vector — on a GPU the data pointer is null — and write zeros."""
    x = torch.zeros(1, 8, 48, 0)
    for call in (ops.upfirdn2d, upfirdn2d_ref):
        with pytest.raises(ValueError, match="the input has no pixels"):
            call(x, setup_filter([1, 3, 3, 1]), padding=20)
    nhwc = mode in (6, 7)
    in_stride = x.contiguous(memory_format=torch.channels_last if nhwc else torch.contiguous_format).stride()
    out_stride = (85 * 37 * 8, 1, 37 * 8, 8) if nhwc else (8 * 85 * 37, 85 * 37, 37, 1)
    p = UpFirDnParams((ctypes.c_int64 * 4)(*in_stride), (ctypes.c_int64 * 4)(*out_stride), 1, 8, 48, 0, 85, 37,
                      1, 1, 1, 1, 20, 20, 4, 4, 1.0, False)
    out = _aligned_floats(8 * 85 * 37, 0)
    out[:] = np.nan
    f2 = np.ascontiguousarray(setup_filter([1, 3, 3, 1]).numpy())
    assert host.sg_host_upfirdn2d(ptr(_aligned_floats(8, 0)), ptr(f2), ptr(out), ctypes.byref(p), mode) == 0
    assert not out.any() and not np.isnan(out).any()


@pytest.mark.parametrize("vector", [4, 8])
def test_upfirdn2d_channels_last_vector_kernel_matches_bit_for_bit(host, vector):
    """The channels_last kernel with vector I/O (a thread per channel vector and column of 4 outputs,
    the window read straight from memory) gives exactly the per-element 4x4 code's numbers — same taps,
    same order — on StyleGAN's resamplings, odd paddings, cropping, ragged row blocks; its vectors are
    all 16-byte aligned; channel counts that are not a whole number of vectors are refused (the
    launcher then takes the channels_last tiles)."""
    rng = np.random.RandomState(4)
    f4 = setup_filter([1, 3, 3, 1]).numpy()
    cases = [(2, 1, [2, 1, 2, 1], f4, (2, 16, 9, 7)), (1, 2, [1, 1, 1, 1], f4, (1, 8, 18, 14)),
             (1, 1, [1, 1, 1, 1], f4, (1, 24, 11, 13)), (1, 1, [2, 2, 2, 2], f4, (2, 8, 10, 9)),
             (1, 2, [1, 2, 1, 2], rng.randn(4, 4), (1, 16, 13, 10)), (2, 1, [1, 2, 3, 0], rng.randn(4, 4), (1, 8, 9, 11)),
             (1, 2, [-1, 2, 0, 3], rng.randn(4, 4), (1, 8, 17, 16)), (1, 1, [-2, 3, 3, -1], rng.randn(4, 4), (1, 8, 15, 9)),
             (2, 1, [2, 1, 2, 1], f4, (1, 12, 8, 8))]  # 12 channels: not a whole number of 8-vectors
    ran = 0
    for up, down, pad, f, shape in cases:
        for flip in (False, True):
            x = rng.randn(*shape).astype(np.float32)
            got = host_upfirdn2d(host, x, np.asarray(f, np.float32), up, down, pad, flip, 1.3, torch.channels_last,
                                 6 if vector == 4 else 7)
            if shape[1] % vector:
                assert got is None
                continue
            per_element = host_upfirdn2d(host, x, np.asarray(f, np.float32), up, down, pad, flip, 1.3,
                                         torch.channels_last, 1)
            assert got is not None, (up, down, pad, shape)
            assert np.abs(got[0] - got[1]).max() <= 1e-5 * max(1, np.abs(got[1]).max())
            assert np.array_equal(got[0], per_element[0]), (up, down, pad, shape, flip)
            ran += 1
    assert ran >= 16


def test_bias_act_kernel_math(host):
    rng = np.random.RandomState(1)
    for act, name in [(0, "linear"), (1, "relu"), (2, "lrelu")]:
        for layout in (torch.contiguous_format, torch.channels_last):
            x = torch.from_numpy(rng.randn(2, 6, 5, 4).astype(np.float32) * 3).contiguous(memory_format=layout)
            b = torch.from_numpy(rng.randn(6).astype(np.float32))
            mem = (x.permute(0, 2, 3, 1) if layout == torch.channels_last else x).contiguous().numpy().ravel()
            p = BiasActParams(x.numel(), x.stride(1), 6, act, 0.2, 1.4, 2.5, True)
            y = np.zeros_like(mem)
            host.sg_host_bias_act(ptr(mem), ptr(b.numpy()), ptr(y), ctypes.byref(p))
            ref = bias_act_ref(x, b, act=name, alpha=0.2, gain=1.4, clamp=2.5)
            ref_mem = (ref.permute(0, 2, 3, 1) if layout == torch.channels_last else ref).contiguous().numpy().ravel()
            assert np.abs(y - ref_mem).max() <= 1e-6
            dy = rng.randn(mem.size).astype(np.float32)
            dx = np.zeros_like(mem)
            host.sg_host_bias_act_grad(ptr(dy), ptr(y), ptr(dx), ctypes.byref(p))
            xr = x.clone().requires_grad_(True)
            out = bias_act_ref(xr, b, act=name, alpha=0.2, gain=1.4, clamp=2.5)
            dy_t = torch.from_numpy(dy).reshape(out.permute(0, 2, 3, 1).shape).permute(0, 3, 1, 2) \
                if layout == torch.channels_last else torch.from_numpy(dy).reshape(out.shape)
            (grad,) = torch.autograd.grad(out, xr, dy_t)
            grad_mem = (grad.permute(0, 2, 3, 1) if layout == torch.channels_last else grad).contiguous().numpy().ravel()
            assert np.abs(dx - grad_mem).max() <= 1e-6, name


def test_to_rgba_kernel_is_byte_exact(host):
    rng = np.random.RandomState(2)
    img = (rng.rand(4, 23, 31).astype(np.float32) * 2.4 - 1.2)
    img[0, 0, :5] = [-1.0, 1.0, 0.0, -0.00392157, 0.99607843]  # values near rounding edges
    for channels in (4, 3, 2, 1):  # (>= 3: the first three; fewer: the first as grey)
        src = np.ascontiguousarray(img[:channels])
        p = ToRGBAParams((ctypes.c_int64 * 3)(23 * 31, 31, 1), channels, 23, 31, 2)
        out = np.zeros((46, 62, 4), np.uint8)
        host.sg_host_to_rgba(ptr(src), ctypes.byref(p), ptr(out))
        ref = to_rgba(torch.from_numpy(src)[None], zoom=2).numpy()
        assert np.array_equal(out, ref), channels


def test_fused_filtered_lrelu_kernel_math(host):
    """The fused filtered_lrelu kernel's five stages (kernels/cuda/filtered_lrelu.cuh), run on the host
    tile by tile, against the reference in float64: separable and 2-D filters, up and down 1/2/4,
    crops and pads, flip, bias, clamp, and tiles of 8, 16 and 32 (edge tiles included)."""
    from kernels.filtered_lrelu_ref import filtered_lrelu_ref
    rng = np.random.RandomState(0)
    checked, sides = 0, set()
    while checked < 60:
        up, down = int(rng.choice([1, 2, 4])), int(rng.choice([1, 2, 4]))
        fu_sep, fd_sep = bool(rng.rand() < 0.6), bool(rng.rand() < 0.6)
        ku, kd = int(rng.randint(1, 4)) * up, int(rng.randint(1, 4)) * down
        fu = rng.randn(ku) if fu_sep else rng.randn(ku, rng.randint(1, 7))
        fd = rng.randn(kd) if fd_sep else rng.randn(rng.randint(1, 7), kd)
        h, w = int(rng.randint(1, 20)), int(rng.randint(1, 20))
        pad = [int(v) for v in rng.randint(-3, 8, size=4)]
        flip, has_b = bool(rng.rand() < 0.5), bool(rng.rand() < 0.7)
        clamp = None if rng.rand() < 0.5 else float(rng.uniform(0.2, 2))
        gain, slope = float(rng.uniform(0.5, 2)), float(rng.uniform(0, 0.5))
        x, b = rng.randn(2, 3, h, w).astype(np.float32), rng.randn(3).astype(np.float32)
        (fuh, fuw), (fdh, fdw) = (fu.shape * 2 if fu_sep else fu.shape), (fd.shape * 2 if fd_sep else fd.shape)
        if h * up + pad[2] + pad[3] - fuh + 1 < fdh or w * up + pad[0] + pad[1] - fuw + 1 < fdw:
            continue  # empty output
        t = lambda a: torch.from_numpy(np.asarray(a)).double()  # noqa: E731
        ref = filtered_lrelu_ref(t(x), t(fu), t(fd), t(b) if has_b else None, up=up, down=down, padding=pad,
                                 gain=gain, slope=slope, clamp=clamp, flip_filter=flip).numpy()
        y = np.full(ref.shape, np.nan, np.float32)
        p = FilteredLReluParams((ctypes.c_int64 * 4)(*[s // 4 for s in x.strides]),
                                (ctypes.c_int64 * 4)(*[s // 4 for s in y.strides]), 2, 3, h, w, *ref.shape[2:],
                                up, down, pad[0], pad[2], fuw, fuh, fdw, fdh, fu_sep, fd_sep, flip, has_b, gain,
                                slope, -1.0 if clamp is None else clamp, 0, 0)
        max_floats = int(rng.choice([250, 2500, 10 ** 6]))  # forces 8, 16 or 32 tiles
        side = host.sg_host_filtered_lrelu(ptr(x), ptr(b), ptr(np.ascontiguousarray(fu, np.float32)),
                                           ptr(np.ascontiguousarray(fd, np.float32)), ptr(y), ctypes.byref(p), max_floats)
        if side == 0:
            continue  # no tile fits: the op takes the composite path then
        sides.add(side)
        assert np.abs(y - ref).max() <= 2e-5 * max(1.0, np.abs(ref).max()), (up, down, fu_sep, fd_sep, pad, side)
        checked += 1
    assert sides == {8, 16, 32}


@pytest.mark.skipif(shutil.which("nvcc") is None, reason="nvcc not installed: CUDA sources not compiled")
def test_every_cuda_source_compiles():
    from kernels.selftest import compile_sources
    results = compile_sources()
    assert results and all(ok for _, ok, _ in results), results


def test_binding_compiles_against_torch_headers():
    """binding.cpp (tensor checks, output allocation, the launchers' signatures) must compile before
    it ever reaches a GPU machine."""
    from kernels.selftest import check_binding
    ok, msg = check_binding()
    if msg.startswith("skipped"):
        pytest.skip(msg)
    assert ok, msg


def test_custom_ops_autograd_and_compile():
    torch.manual_seed(0)
    x = torch.randn(2, 3, 6, 5, dtype=torch.float64, requires_grad=True)
    b = torch.randn(3, dtype=torch.float64, requires_grad=True)
    for f, kw in [(setup_filter([1, 3, 3, 1]).double(), dict(up=2, padding=[2, 1, 2, 1], gain=4.0)),
                  (torch.randn(5, dtype=torch.float64), dict(down=2, padding=[1, 2, 0, 1], flip_filter=True)),
                  (torch.randn(3, 2, dtype=torch.float64), dict(up=2, down=2, padding=[-1, 2, 1, 0]))]:
        assert torch.equal(ops.upfirdn2d(x, f, **kw), upfirdn2d_ref(x, f, **kw))
        assert torch.autograd.gradcheck(lambda t: ops.upfirdn2d(t, f, **kw), (x,))
        assert torch.autograd.gradgradcheck(lambda t: ops.upfirdn2d(t, f, **kw), (x,))
    for act in ("linear", "relu", "lrelu"):
        fn = lambda x, b: ops.bias_act(x, b, act=act, gain=1.5, clamp=2.0)  # noqa: E731
        assert torch.autograd.gradcheck(fn, (x, b))
        assert torch.autograd.gradgradcheck(fn, (x + 0.01 * torch.sign(x), b))
    f4 = setup_filter([1, 3, 3, 1]).double()

    def block(t):
        return ops.bias_act(ops.upfirdn2d(t, f4, up=2, padding=[2, 1, 2, 1], gain=4.0), b, act="lrelu")

    compiled = torch.compile(block, fullgraph=True, backend="aot_eager")
    assert torch.equal(compiled(x), block(x))
    torch._dynamo.reset()


def test_build_lock_takes_over_a_dead_owner(tmp_path):
    lock = tmp_path / "build.lock"
    dead = subprocess.Popen(["true"])
    dead.wait()
    lock.write_text(f"{dead.pid} {os.uname().nodename} {time.time():.0f}")
    t = time.time()
    with build_lock(tmp_path, wait_at_most=5):
        assert lock.exists() and lock.read_text().split()[0] == str(os.getpid())
    assert not lock.exists() and time.time() - t < 2
    # An old lock of a live process (crashed build on another host, say) is taken over too.
    lock.write_text(f"1 elsewhere {time.time() - 7200:.0f}")
    with build_lock(tmp_path, stale_after=3600, wait_at_most=5):
        pass
    # A fresh lock of a live owner is waited for, then reported clearly.
    lock.write_text(f"{os.getpid()} {os.uname().nodename} {time.time():.0f}")
    with pytest.raises(RuntimeError, match="another build holds"):
        with build_lock(tmp_path, wait_at_most=0.3, poll=0.05):
            pass


def test_cuda_mode_without_gpu_falls_back_or_fails_clearly(monkeypatch):
    from kernels import dispatch, upfirdn2d
    dispatch.reset()
    monkeypatch.setenv("STYLEGAN_KERNELS", "auto")
    x = torch.randn(1, 2, 4, 4)
    assert not dispatch.use_custom_ops(x.is_cuda)  # CPU tensors take the plain reference
    assert torch.equal(upfirdn2d(x, setup_filter([1, 3, 3, 1]), up=2, padding=[2, 1, 2, 1]),
                       upfirdn2d_ref(x, setup_filter([1, 3, 3, 1]), up=2, padding=[2, 1, 2, 1]))
    monkeypatch.setenv("STYLEGAN_KERNELS", "cuda")
    dispatch.reset()
    with pytest.raises(dispatch.KernelError, match="building the CUDA kernels failed .*no CUDA device.*STYLEGAN_KERNELS=ref"):
        dispatch.compiled_kernels()  # as if a CUDA tensor arrived on a machine without CUDA
    dispatch.reset()


class ReferenceExtension:
    """Stands in for the compiled module with the binding's exact signatures and checks, computing
    with the reference — so the self-test's and the benchmarks' calls are exercised without a GPU."""

    def upfirdn2d(self, x, f, upx, upy, downx, downy, padx0, padx1, pady0, pady1, flip_filter, gain, path):
        assert f.ndim == 2 and f.dtype == torch.float32 and isinstance(gain, float)
        if path in (ops.UFD_4X4, ops.UFD_4X4_SCALAR_IO):
            assert ops.upfirdn2d_kernel_path(f.shape[1], f.shape[0], upx, upy, downx, downy) \
                in (ops.UFD_4X4, ops.UFD_4X4_SCALAR_IO)
        else:
            assert path == ops.UFD_GENERAL
        return upfirdn2d_ref(x.float(), f, up=[upx, upy], down=[downx, downy], padding=[padx0, padx1, pady0, pady1],
                             flip_filter=flip_filter, gain=gain).to(x.dtype)  # fp32 sums, as the kernels

    def filtered_lrelu(self, x, fu, fd, b, up, down, padx0, padx1, pady0, pady1, gain, slope, clamp, flip_filter):
        from kernels.filtered_lrelu_ref import filtered_lrelu_ref
        assert fu.dtype == fd.dtype == torch.float32 and fu.ndim in (1, 2) and fd.ndim in (1, 2)
        assert isinstance(up, int) and isinstance(down, int) and isinstance(gain, float) and isinstance(clamp, float)
        assert b.numel() in (0, x.shape[1]) and isinstance(flip_filter, bool)
        y = filtered_lrelu_ref(x.float(), fu, fd, b if b.numel() else None, up=up, down=down,
                               padding=[padx0, padx1, pady0, pady1], gain=gain, slope=slope,
                               clamp=None if clamp < 0 else clamp, flip_filter=flip_filter)
        return [y.to(x.dtype)]  # (a list: [] would mean that no tile fits)

    def bias_act_grad(self, dy, y, dim, act, alpha, gain, clamp):
        assert dy.shape == y.shape and dy.dtype == y.dtype and isinstance(alpha, float) and isinstance(clamp, float)
        return ops._grad_ref(dy.float(), y.float(), act, alpha, gain, clamp).to(y.dtype)


def test_selftest_calls_match_the_binding(monkeypatch):
    from kernels import selftest
    monkeypatch.setattr(ops, "extension", lambda: ReferenceExtension())
    results = selftest.check_ops(torch.device("cpu"))
    assert len(results) > 40 and all(ok for _, ok, _ in results), [r for r in results if not r[1]]
    assert any("4x4" in name for name, _, _ in results)
    assert sum(name.startswith("filtered_lrelu") for name, _, _ in results) == 8


def test_scalar_io_switch_and_the_gpu_checks_fallback(monkeypatch):
    """STYLEGAN_UPFIRDN2D_IO=scalar makes the 4x4 kernels move one element per instruction (the
    self-test then checks only that form); a bad value is one clear error. gpu_check falls back to it
    for its later steps when the self-test fails only in the vector forms or dies mid-way, so one GPU
    run still gives every figure."""
    import importlib.util
    from kernels import selftest
    assert ops.upfirdn2d_kernel_path(4, 4, 2, 2, 1, 1) == ops.UFD_4X4
    monkeypatch.setenv("STYLEGAN_UPFIRDN2D_IO", "scalar")
    assert ops.upfirdn2d_kernel_path(4, 4, 2, 2, 1, 1) == ops.UFD_4X4_SCALAR_IO
    monkeypatch.setattr(ops, "extension", lambda: ReferenceExtension())
    names = [name for name, ok, _ in selftest.check_ops(torch.device("cpu"))]
    assert any("4x4 scalar-I/O" in n for n in names)
    assert not any(n.startswith("upfirdn2d 4x4 ") and "scalar-I/O" not in n for n in names)
    monkeypatch.setenv("STYLEGAN_UPFIRDN2D_IO", "fast")
    with pytest.raises(ValueError, match="STYLEGAN_UPFIRDN2D_IO must be vector or scalar"):
        ops.upfirdn2d_kernel_path(4, 4, 2, 2, 1, 1)
    spec = importlib.util.spec_from_file_location("gpu_check", REPO / "benchmarks" / "gpu_check.py")
    gc = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gc)
    vec_fail = ["PASS  upfirdn2d 4x4 scalar-I/O FIR float16 NCHW", "FAIL  upfirdn2d 4x4 FIR float16 NCHW  max err 3",
                "9/10 passed"]
    assert "1 vector-I/O self-test case(s) failed" in gc.vector_io_fallback(vec_fail, "failed")
    assert gc.vector_io_fallback(vec_fail + ["FAIL  upfirdn2d 4x4 scalar-I/O FIR float32 NCHW"], "failed") is None
    assert gc.vector_io_fallback(["torch 2.11", "build/load 30.0 s"], "failed") == "the self-test died before its summary"
    assert gc.vector_io_fallback(["build FAILED after 3 s: nvcc"], "failed") is None
    assert gc.vector_io_fallback(["torch 2.11", "150/150 passed"], "ok") is None


def test_benchmark_bare_kernel_calls_match_the_binding(monkeypatch):
    """benchmarks/kernels.py times the binding directly in both I/O forms: its calls, with the
    binding's signature, checked here against the stand-in (a GPU run must not meet a wrong call)."""
    import importlib.util
    spec = importlib.util.spec_from_file_location("bench_kernels", REPO / "benchmarks" / "kernels.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    monkeypatch.setattr(ops, "extension", lambda: ReferenceExtension())
    calls = []

    def measure(fn, inner=1, **_):
        calls.append(fn())
        return 0.5
    x = torch.randn(1, 2, 16, 16)
    for name, kw in bench.OPS.items():
        times = bench.bare_kernel_ms("cuda", x, setup_filter([1, 3, 3, 1]), kw, measure)
        assert times == {"vector_io": 0.5, "scalar_io": 0.5}
        expected = upfirdn2d_ref(x, setup_filter([1, 3, 3, 1]), **kw)
        assert all(torch.allclose(y, expected, atol=1e-6) for y in calls[-2:]), name


@pytest.mark.parametrize("padding", ["zeros", "border", "reflection"])
def test_grid_sample_gradfix_matches_torch_to_the_second_derivative(padding):
    """ADA's resampling, which R1 differentiates twice (CUDA has no double backward of grid_sample:
    the H200 run crashed there). Forward bit-exact; input and grid gradients and the second
    derivative w.r.t. the image equal torch's own (the CPU implements it); gradgradcheck in float64."""
    import torch.nn.functional as F
    from kernels.grid_sample_gradfix import grid_sample
    torch.manual_seed(0)
    x = torch.randn(2, 3, 9, 7, dtype=torch.float64)
    theta = torch.eye(2, 3, dtype=torch.float64).repeat(2, 1, 1) + 0.3 * torch.randn(2, 2, 3, dtype=torch.float64)
    grid = F.affine_grid(theta, [2, 3, 8, 6], align_corners=False)
    outs = {}
    for name, fn in {"ours": lambda a, g: grid_sample(a, g, padding),
                     "torch": lambda a, g: F.grid_sample(a, g, "bilinear", padding, align_corners=False)}.items():
        a, g = x.clone().requires_grad_(True), grid.clone().requires_grad_(True)
        y = fn(a, g)
        gx, gg = torch.autograd.grad((y * y.detach().cos()).sum(), [a, g])  # first derivatives, both inputs
        a = x.clone().requires_grad_(True)
        (gx2,) = torch.autograd.grad(fn(a, grid).tanh().sum(), a, create_graph=True)  # a network after it
        (gx2.square().sum() * 0.5).backward()  # R1's pattern: the grid is a constant
        outs[name] = (y.detach(), gx, gg, a.grad)
    assert torch.equal(outs["ours"][0], outs["torch"][0])
    for ours, ref in zip(outs["ours"][1:], outs["torch"][1:]):
        assert torch.allclose(ours, ref, rtol=1e-10, atol=1e-12)
    g = grid.detach()
    assert torch.autograd.gradgradcheck(lambda a: grid_sample(a, g, padding), (x.clone().requires_grad_(True),))
    with pytest.raises(ValueError, match="padding_mode"):
        grid_sample(x, g, "mirror")


def test_build_lock_is_held_by_one_waiter_when_several_take_over_a_stale_one(tmp_path):
    """Waiters that all found the same dead owner's lock each removed it and took it — the later
    ones removing the earlier one's new lock — so several built into one folder at once."""
    import threading
    dead = subprocess.Popen(["true"])
    dead.wait()
    for _ in range(5):
        (tmp_path / "build.lock").write_text(f"{dead.pid} {os.uname().nodename} {time.time():.0f}")
        inside, most, start = [0], [0], threading.Barrier(6)
        guard = threading.Lock()

        def build():
            start.wait()
            with build_lock(tmp_path, wait_at_most=30, poll=0.01):
                with guard:
                    inside[0] += 1
                    most[0] = max(most[0], inside[0])
                time.sleep(0.02)
                with guard:
                    inside[0] -= 1

        threads = [threading.Thread(target=build) for _ in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert most[0] == 1, most[0]
