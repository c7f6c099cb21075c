"""The W+ functions: truncation, groups, layer specs, mixing, interpolation, noise control."""

import numpy as np
import pytest
import torch

from conftest import fixture_generator
from core.latents import wplus
from core.noise import NoiseControl


def test_z_from_seed_matches_numpy_randomstate():
    z = wplus.z_from_seed(42, 7)
    assert z.dtype == torch.float32 and z.shape == (1, 7)
    assert np.array_equal(z.numpy(), np.random.RandomState(42).randn(1, 7).astype(np.float32))
    with pytest.raises(ValueError):
        wplus.z_from_seed(-1, 4)


def test_truncation_per_layer_and_cutoff():
    ws = torch.randn(2, 6, 4)
    avg = torch.randn(4)
    assert torch.allclose(wplus.truncate(ws, avg, 0.0), avg.expand_as(ws))
    assert torch.equal(wplus.truncate(ws, avg, 1.0), ws)
    out = wplus.truncate(ws, avg, 0.5, cutoff=2)
    assert torch.allclose(out[:, :2], avg + 0.5 * (ws[:, :2] - avg)) and torch.equal(out[:, 2:], ws[:, 2:])
    psi = [0.0, 0.5, 1.0, 1.5, -1.0, 2.0]
    out = wplus.truncate(ws, avg, psi)
    for i, p in enumerate(psi):
        assert torch.allclose(out[:, i], avg + p * (ws[:, i] - avg), atol=1e-6)
    with pytest.raises(ValueError):
        wplus.truncate(ws, avg, [0.5, 0.5])


def test_paper_groups_for_18_layers_and_partition_for_all():
    g = wplus.layer_groups(18)
    assert (list(g["coarse"]), list(g["middle"]), list(g["fine"])) == ([0, 1, 2, 3], [4, 5, 6, 7], list(range(8, 18)))
    for n in range(3, 40):
        g = wplus.layer_groups(n)
        layers = [i for name in wplus.GROUP_NAMES for i in g[name]]
        assert layers == list(range(n)) and all(len(g[k]) > 0 for k in wplus.GROUP_NAMES), n


def test_parse_layers():
    assert wplus.parse_layers("coarse", 18) == [0, 1, 2, 3]
    assert wplus.parse_layers("0-3", 8) == [0, 1, 2, 3]
    assert wplus.parse_layers("1,5-6,fine", 18) == [1, 5, 6] + list(range(8, 18))
    assert wplus.parse_layers("all", 4) == [0, 1, 2, 3]
    for bad in ["", "4-2", "x", "0-20"]:
        with pytest.raises(ValueError):
            wplus.parse_layers(bad, 18)


def test_mix_soft_and_hard():
    base, a, b = torch.randn(3, 1, 5, 4).unbind(0)
    w = torch.tensor([[0, 0.5, 1, 0, 0], [0, 0, 0, 1, 0.25]])
    out = wplus.mix(base, [a, b], w)
    assert torch.equal(out[:, 0], base[:, 0])
    assert torch.allclose(out[:, 1], 0.5 * (base[:, 1] + a[:, 1]))
    assert torch.allclose(out[:, 2], a[:, 2]) and torch.allclose(out[:, 3], b[:, 3])
    assert torch.allclose(out[:, 4], base[:, 4] + 0.25 * (b[:, 4] - base[:, 4]))
    assert torch.equal(wplus.mix(base, [], w), base)
    with pytest.raises(ValueError):
        wplus.mix(base, [a], torch.zeros(1, 3))


def test_lerp_and_slerp():
    a, b = torch.randn(2, 1, 512).unbind(0)
    for fn in (wplus.lerp, wplus.slerp):
        assert torch.allclose(fn(a, b, 0.0), a, atol=1e-5) and torch.allclose(fn(a, b, 1.0), b, atol=1e-5)
    mid = wplus.slerp(a, b, 0.5)
    # slerp keeps the norm (here: interpolated norm), lerp shrinks it for near-orthogonal vectors
    assert abs(float(mid.norm()) - float((a.norm() + b.norm()) / 2)) < 1e-3
    assert float(wplus.lerp(a, b, 0.5).norm()) < float(mid.norm())
    assert torch.allclose(wplus.slerp(a, a, 0.3), a, atol=1e-5)  # parallel: no NaN


def test_add_direction_on_layers():
    ws = torch.zeros(1, 4, 3)
    d = torch.tensor([1.0, 0, 0])
    out = wplus.add_direction(ws, d, 2.0, layers=[1, 2])
    assert out[0, :, 0].tolist() == [0, 2, 2, 0]


def test_noise_control_in_the_generator():
    G = fixture_generator("skip")
    ws = G.mapping(torch.randn(1, G.z_dim))
    img = lambda **kw: G.synthesis(ws, noise=NoiseControl(**kw))  # noqa: E731
    assert torch.equal(img(mode="const", strength=0.0), img(mode="none"))
    assert not torch.allclose(img(mode="const", strength=2.0), img(mode="const"))
    zeros = [0.0] * G.synthesis.num_layers
    assert torch.equal(img(mode="const", layer_strength=zeros), img(mode="none"))
    one_layer = zeros.copy()
    one_layer[3] = 1.0
    assert not torch.equal(img(mode="const", layer_strength=one_layer), img(mode="none"))
    assert torch.equal(img(mode="random", seed=5), img(mode="random", seed=5))
    assert not torch.equal(img(mode="random", seed=5), img(mode="random", seed=6))
    with pytest.raises(ValueError):
        NoiseControl(mode="loud")
