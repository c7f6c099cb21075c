"""upfirdn2d and helpers against the official fixtures and a brute-force NumPy restatement."""

import numpy as np
import pytest
import torch

from conftest import TOL, load_npz, max_abs
from kernels import downsample2d, filter2d, setup_filter, upfirdn2d, upsample2d


def numpy_upfirdn2d(x, f, up, down, pad, flip, gain):
    """float64 loops over the spec: zero-insert, pad/crop, valid FIR, decimate."""
    x = np.asarray(x, np.float64)
    f = np.asarray(f, np.float64)
    if f.ndim == 1:
        f = np.outer(f, f)
    f = f * gain
    if not flip:
        f = f[::-1, ::-1]
    n, c, h, w = x.shape
    u = np.zeros((n, c, h * up, w * up))
    u[:, :, ::up, ::up] = x
    x0, x1, y0, y1 = pad
    u = np.pad(u, ((0, 0), (0, 0), (max(y0, 0), max(y1, 0)), (max(x0, 0), max(x1, 0))))
    u = u[:, :, max(-y0, 0): u.shape[2] - max(-y1, 0), max(-x0, 0): u.shape[3] - max(-x1, 0)]
    fh, fw = f.shape
    oh, ow = u.shape[2] - fh + 1, u.shape[3] - fw + 1
    out = np.zeros((n, c, oh, ow))
    for a in range(fh):
        for b in range(fw):
            out += f[a, b] * u[:, :, a: a + oh, b: b + ow]
    return out[:, :, ::down, ::down]


FIX = load_npz("upfirdn2d_cases.npz")


@pytest.mark.parametrize("i", range(int(FIX["num_cases"])))
def test_matches_official_reference(i):
    c = {k[len(f"case{i:02d}_"):]: v for k, v in FIX.items() if k.startswith(f"case{i:02d}_")}
    x = torch.from_numpy(c["x"]).requires_grad_(True)
    y = upfirdn2d(x, torch.from_numpy(c["f"]), up=int(c["up"]), down=int(c["down"]),
                  padding=[int(p) for p in c["padding"]], flip_filter=bool(c["flip_filter"]),
                  gain=float(c["gain"]))
    assert max_abs(y, c["y"]) <= TOL
    (dx,) = torch.autograd.grad((y * torch.from_numpy(c["r"])).sum(), x)
    assert max_abs(dx, c["dx"]) <= TOL


@pytest.mark.parametrize("i", range(int(FIX["num_cases"])))
def test_wrappers_match_official_calls(i):
    import json
    c = {k[len(f"case{i:02d}_"):]: v for k, v in FIX.items() if k.startswith(f"case{i:02d}_")}
    api, kwargs = str(c["api"]), json.loads(str(c["api_kwargs_json"]))
    fn = {"upsample2d": upsample2d, "downsample2d": downsample2d, "filter2d": filter2d}.get(api)
    if fn is None:
        pytest.skip("low-level call")
    y = fn(torch.from_numpy(c["x"]), torch.from_numpy(c["f"]), **kwargs)
    assert max_abs(y, c["y"]) <= TOL


def random_cases(n=60, seed=0):
    rng = np.random.RandomState(seed)
    for _ in range(n):
        up, down = rng.choice([1, 2, 4]), rng.choice([1, 2, 4])
        taps = rng.randint(1, 9)
        sep = rng.rand() < 0.5
        f = rng.randn(taps) if sep else rng.randn(rng.randint(1, 7), rng.randint(1, 7))
        pad = list(rng.randint(-4, 6, size=4))  # (crops past the filter too)
        h, w = rng.randint(3, 12, size=2)
        yield (rng.randn(2, 3, h, w), f, int(up), int(down), pad, bool(rng.rand() < 0.5), float(rng.uniform(0.5, 3)))


@pytest.mark.parametrize("case", list(random_cases()))
def test_matches_brute_force(case):
    x, f, up, down, pad, flip, gain = case
    fh = f.shape[0]
    fw = f.shape[-1]
    if x.shape[2] * up + pad[2] + pad[3] < fh or x.shape[3] * up + pad[0] + pad[1] < fw:
        pytest.skip("empty output")
    y = upfirdn2d(torch.from_numpy(x), torch.from_numpy(f), up=up, down=down, padding=pad,
                  flip_filter=flip, gain=gain)
    ref = numpy_upfirdn2d(x, f, up, down, pad, flip, gain)
    assert y.shape == ref.shape
    assert np.abs(y.numpy() - ref).max() <= 1e-9 * max(1, np.abs(ref).max()) * 1e3


def test_output_size_formula():
    x = torch.randn(1, 1, 9, 7)
    for up, down, pad, taps in [(2, 1, [1, 2, 0, 3], 4), (1, 2, [-1, 0, 2, 2], 3), (4, 2, [0, 0, 0, 0], 6)]:
        y = upfirdn2d(x, setup_filter([1] * taps), up=up, down=down, padding=pad)
        assert y.shape[3] == (7 * up + pad[0] + pad[1] - taps) // down + 1
        assert y.shape[2] == (9 * up + pad[2] + pad[3] - taps) // down + 1


def test_helpers_keep_sizes():
    x = torch.randn(2, 3, 8, 6)
    f = setup_filter([1, 3, 3, 1])
    assert upsample2d(x, f).shape[2:] == (16, 12)
    assert downsample2d(x, f).shape[2:] == (4, 3)
    assert filter2d(x, f).shape[2:] == (8, 6)
    # A normalised filter keeps a constant image constant away from the borders.
    ones = torch.ones(1, 1, 8, 8)
    assert torch.allclose(upsample2d(ones, f)[..., 2:-2, 2:-2], torch.ones(1, 1, 12, 12))


def test_setup_filter():
    f = setup_filter([1, 3, 3, 1])
    assert f.shape == (4, 4) and torch.isclose(f.sum(), torch.tensor(1.0))
    assert setup_filter([1] * 8).ndim == 1  # long filters are separable
    assert torch.allclose(setup_filter([1, 2], normalize=False, gain=4), torch.tensor([[4.0, 8], [8, 16]]))
    with pytest.raises(ValueError):
        setup_filter([])


def test_gradcheck_and_gradgradcheck():
    torch.manual_seed(0)
    for f, kw in [(setup_filter([1, 3, 3, 1]).double(), dict(up=2, padding=[2, 1, 2, 1])),
                  (torch.randn(5, dtype=torch.float64), dict(down=2, padding=[1, 2, 0, 1], flip_filter=True)),
                  (torch.randn(3, 2, dtype=torch.float64), dict(up=2, down=2, padding=[-1, 2, 1, 0], gain=2.0))]:
        x = torch.randn(1, 2, 5, 6, dtype=torch.float64, requires_grad=True)
        assert torch.autograd.gradcheck(lambda t: upfirdn2d(t, f, **kw), (x,))
        assert torch.autograd.gradgradcheck(lambda t: upfirdn2d(t, f, **kw), (x,))


def test_rejects_bad_arguments():
    with pytest.raises(ValueError):
        upfirdn2d(torch.randn(3, 4, 4), None)
    with pytest.raises(ValueError):
        upfirdn2d(torch.randn(1, 1, 4, 4), None, padding=[1, 2, 3])
    with pytest.raises(ValueError):
        upfirdn2d(torch.randn(1, 1, 4, 4), None, up=0)
