"""modulated_conv2d against the official outputs, both execution paths."""

import pytest
import torch

from conftest import TOL, load_npz, max_abs
from core.networks.modulated_conv import modulated_conv2d

FIX = load_npz("modulated_conv2d_cases.npz")


def case(i):
    p = f"case{i:02d}_"
    return {k[len(p):]: v for k, v in FIX.items() if k.startswith(p)}


@pytest.mark.parametrize("i", range(int(FIX["num_cases"])))
def test_matches_official(i):
    c = case(i)
    f = torch.from_numpy(c["resample_filter"]) if "resample_filter" in c else None
    kwargs = dict(up=int(c["up"]), down=int(c["down"]), padding=int(c["padding"]), resample_filter=f,
                  demodulate=bool(c["demodulate"]), flip_weight=bool(c["flip_weight"]))
    x, w, s = (torch.from_numpy(c[k]) for k in ("x", "weight", "styles"))
    # Both paths must give the official result, whichever the fixture used.
    for fused in (True, False):
        y = modulated_conv2d(x, w, s, fused_modconv=fused, **kwargs)
        assert max_abs(y, c["y"]) <= TOL, (str(FIX["case_names"][i]), fused)


def test_demodulation_normalises_output_scale():
    torch.manual_seed(0)
    x = torch.randn(4, 64, 16, 16)
    w = torch.randn(32, 64, 3, 3)
    small = modulated_conv2d(x, w, torch.full([4, 64], 0.01), padding=1)
    large = modulated_conv2d(x, w, torch.full([4, 64], 100.0), padding=1)
    assert torch.allclose(small, large, atol=1e-4)  # a uniform style scale is removed
    assert 0.5 < modulated_conv2d(x, w, torch.ones(4, 64), padding=1).std() < 2


def test_bad_style_shape():
    with pytest.raises(ValueError, match="styles"):
        modulated_conv2d(torch.randn(2, 3, 4, 4), torch.randn(5, 3, 3, 3), torch.randn(2, 4))
