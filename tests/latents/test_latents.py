"""The latent recipe (core.latents.recipe) and the W/W+ .npz reader and writer (core.latents.wfile):
W+ by hand against build_ws, the explorer and stylegan-generate through the same recipe, every
accepted file layout, every refusal as one line, and the CLI's refusal of a file from another model."""

import os

import numpy as np
import pytest
import torch

from conftest import FIXTURES, fixture_generator, run_cli
from core.errors import UsageError
from core.latents import wplus
from core.cli import generate
from core.latents.directions import Directions
from core.latents import DirectionStep, LatentRecipe, StyleMix, build_ws, read_ws_file, write_ws_file
from explorer.latents import LatentComposer
from explorer.state import DirectionEntry, ExplorerState, StyleSource

CPU = torch.device("cpu")


@pytest.fixture(scope="module")
def G():
    return fixture_generator("skip")  # num_ws 8, w_dim 64, groups coarse 0-1, middle 2-3, fine 4-7


def mapped(G, seed: int) -> torch.Tensor:
    """Untruncated W+ of a seed, by hand: NVIDIA's z, then the mapping network."""
    z = torch.from_numpy(np.random.RandomState(seed).randn(1, G.z_dim).astype(np.float32))
    return G.mapping(z, None)


def by_hand(G, w: torch.Tensor, psi: list[float]) -> torch.Tensor:
    avg = G.mapping.w_avg
    return torch.stack([avg + p * (w[:, i] - avg) for i, p in enumerate(psi)], dim=1)


# ------------------------------------------------------------------------------------ recipe ---

@torch.no_grad()
def test_recipe_equals_truncation_mixing_and_directions_by_hand(G):
    L = G.num_ws
    psi, cutoff = [0.3, 0.5, 0.7, 0.9, 1.1, 0.6, 0.4, 0.2], 5
    weights = [1.0, 0.5, 0.0, 0.0, 0.25, 0.0, 0.0, 1.0]
    vector = torch.linspace(-1, 1, G.w_dim)
    recipe = LatentRecipe(seeds=[0, 3], psi=psi, cutoff=cutoff, mix=[StyleMix(weights=weights, seed=5)],
                          directions=[DirectionStep(vector, 1.5, [1, 2]), DirectionStep(-vector, 0.0)])
    out = build_ws(G, recipe)

    psi_cut = psi[:cutoff] + [1.0] * (L - cutoff)
    base = by_hand(G, torch.cat([mapped(G, 0), mapped(G, 3)]), psi_cut)
    src = by_hand(G, mapped(G, 5), psi_cut)  # a source is truncated like the base
    expect = base.clone()
    for i, wt in enumerate(weights):
        expect[:, i] = base[:, i] + wt * (src[:, i] - base[:, i])
    expect[:, [1, 2]] += 1.5 * vector
    assert out.shape == (2, L, G.w_dim)
    assert torch.allclose(out, expect, atol=1e-5)


@torch.no_grad()
def test_psi_forms_z_w_and_final_ws(G):
    w0 = mapped(G, 0)
    # A scalar ψ with a cutoff, and ψ per group (a group left out keeps ψ = 1).
    out = build_ws(G, LatentRecipe(seeds=[0], psi=0.5, cutoff=3))
    assert torch.allclose(out, by_hand(G, w0, [0.5] * 3 + [1.0] * 5), atol=1e-6)
    out = build_ws(G, LatentRecipe(seeds=[0], psi={"coarse": 0.2, "fine": 0.8}))
    assert torch.allclose(out, by_hand(G, w0, [0.2, 0.2, 1, 1, 0.8, 0.8, 0.8, 0.8]), atol=1e-6)
    # ψ = 1 leaves the mapped W+ exactly as it is.
    assert torch.equal(build_ws(G, LatentRecipe(seeds=[0])), w0)
    # z, and W [N, w_dim] broadcast to every layer, are truncated like seeds.
    z = torch.from_numpy(np.random.RandomState(0).randn(1, G.z_dim).astype(np.float32))
    assert torch.equal(build_ws(G, LatentRecipe(z=z, psi=0.7)), build_ws(G, LatentRecipe(seeds=[0], psi=0.7)))
    assert torch.equal(build_ws(G, LatentRecipe(w=w0[:, 0], psi=0.7)), build_ws(G, LatentRecipe(w=w0, psi=0.7)))
    # A final W+ is used as it is: ψ, cutoff and class do not touch it.
    final = torch.randn(2, G.num_ws, G.w_dim)
    assert torch.equal(build_ws(G, LatentRecipe(ws=final, psi=0.3, cutoff=2)), final)


@pytest.mark.parametrize("recipe,message", [
    (LatentRecipe(), "exactly one of"),
    (LatentRecipe(seeds=[0], z=torch.zeros(1, 64)), "exactly one of"),
    (LatentRecipe(seeds=[0], psi=[0.5, 0.5]), "needs 8 values"),
    (LatentRecipe(seeds=[0], psi={"coarse": 0.5, "fin": 0.5}), "unknown layer group 'fin'"),
    (LatentRecipe(seeds=[0], class_idx=1), "not conditional"),
    (LatentRecipe(ws=torch.zeros(1, 5, 64)), "[1, 5, 64] does not fit"),
    (LatentRecipe(seeds=[0], directions=[DirectionStep(torch.ones(64), 1.0, [9])]), "layer 9 does not exist"),
    (LatentRecipe(seeds=[0, 1], mix=[StyleMix([1.0], ws=torch.zeros(3, 8, 64))]), "3 rows"),
])
def test_recipe_refusals_are_one_line(G, recipe, message):
    with pytest.raises(UsageError) as e:
        build_ws(G, recipe)
    assert message in str(e.value) and "\n" not in str(e.value)


@torch.no_grad()
def test_class_labels_of_a_conditional_network():
    from core import Generator, GeneratorConfig
    torch.manual_seed(0)
    Gc = Generator(GeneratorConfig(z_dim=16, w_dim=16, c_dim=3, img_resolution=8, channel_base=64,
                                   channel_max=16, mapping_layers=1)).eval()
    z = torch.from_numpy(np.random.RandomState(4).randn(1, 16).astype(np.float32))
    c = torch.tensor([[0.0, 0.0, 1.0]])
    assert torch.equal(build_ws(Gc, LatentRecipe(seeds=[4], class_idx=2)), Gc.mapping(z, c))
    for idx, message in [(None, "give a class"), (3, "classes 0-2")]:
        with pytest.raises(UsageError, match=message):
            build_ws(Gc, LatentRecipe(seeds=[4], class_idx=idx))


# ----------------------------------------------------------- explorer and CLI, one recipe ---

def cli_ws(G, outdir, *argv: str) -> torch.Tensor:
    """The W+ stylegan-generate renders for these options (in process; synthesis skipped)."""
    args = generate.build_parser().parse_args(list(argv))
    maker = generate.ImageMaker(G, CPU, args)
    seen = []

    def images(ws, keys, progress=True):
        seen.append(ws.clone())
        return np.zeros([len(ws), G.img_resolution, G.img_resolution, 3], np.uint8)

    maker.images = images
    plan = generate.plan_seeds if args.seeds else generate.plan_ws if args.ws else generate.plan_style_mixing
    plan(maker, args, outdir).run()
    return seen[0]


def explorer_ws(G, state: ExplorerState, directions: Directions | None = None) -> torch.Tensor:
    composer = LatentComposer(G, CPU)
    composer._directions[composer.directions_key(state.directions.source)] = directions  # (as if loaded)
    with torch.inference_mode():
        return composer.ws(state)


def test_explorer_and_cli_build_the_same_ws(G, tmp_path):
    state = ExplorerState()
    state.latent.x, state.trunc.psi, state.trunc.cutoff = 3.0, 0.7, 5
    assert torch.equal(explorer_ws(G, state), cli_ws(G, tmp_path, "--seeds", "3", "--trunc", "0.7", "--trunc-cutoff", "5"))
    # The style-mixing figure's cell (row 3, column 6) is the explorer's hard mix of the same two seeds.
    coarse = wplus.layer_groups(G.num_ws)["coarse"]
    state.styles = [StyleSource(6, [1.0 if i in coarse else 0.0 for i in range(G.num_ws)])]
    cells = cli_ws(G, tmp_path, "--rows", "3", "--cols", "6", "--styles", "coarse", "--trunc", "0.7", "--trunc-cutoff", "5")
    assert torch.equal(explorer_ws(G, state), cells[2:3])  # [row, column, mixed]
    # The same description through the recipe directly, with directions on top.
    vector = torch.randn(G.w_dim, generator=torch.Generator().manual_seed(1))
    state.directions.entries = [DirectionEntry(0, 2.0, 1, 3)]
    recipe = LatentRecipe(seeds=[3], psi=0.7, cutoff=5, mix=[StyleMix(state.styles[0].weights, seed=6)],
                          directions=[DirectionStep(vector, 2.0, range(1, 4))])
    assert torch.equal(explorer_ws(G, state, Directions(["d"], vector[None])), build_ws(G, recipe))


def test_a_truncated_w_file_is_not_truncated_again(G, tmp_path):
    ws = cli_ws(G, tmp_path, "--seeds", "9", "--trunc", "0.6", "--save-ws")
    path = tmp_path / "seed0009.npz"
    assert torch.equal(read_ws_file(path, G.num_ws, G.w_dim).ws, ws)
    state = ExplorerState()
    state.latent.w_file, state.trunc.psi = str(path), 0.6  # the explorer still at ψ 0.6
    assert torch.equal(explorer_ws(G, state), ws)
    assert torch.equal(cli_ws(G, tmp_path, "--ws", str(path), "--trunc", "0.6"), ws)


# ------------------------------------------------------------------------------------- wfile ---

def save(path, **arrays):
    np.savez(path, **arrays)
    return path


def test_every_accepted_layout(tmp_path):
    L, D = 8, 64
    rng = np.random.RandomState(0)
    wplus_batch = rng.randn(3, L, D).astype(np.float32)
    one_w = rng.randn(D).astype(np.float32)
    # NVIDIA's projector: projected_w.npz with only 'w' [1, num_ws, w_dim].
    f = read_ws_file(save(tmp_path / "projected_w.npz", w=wplus_batch[:1]), L, D)
    assert torch.equal(f.ws, torch.from_numpy(wplus_batch[:1])) and f.keys == [0] and f.meta == {}
    # N W+ rows, with stored seeds as the noise keys (and meta kept).
    f = read_ws_file(save(tmp_path / "batch.npz", w=wplus_batch, seed=np.array([4, 5, 6]), noise_mode="random"), L, D)
    assert f.ws.shape == (3, L, D) and f.keys == [4, 5, 6] and str(f.meta["noise_mode"]) == "random"
    # Seeds that do not match the rows: row numbers.
    assert read_ws_file(save(tmp_path / "b2.npz", w=wplus_batch, seed=np.array(7)), L, D).keys == [0, 1, 2]
    # One W, [w_dim] or [1, w_dim], broadcast to every layer; 'ws' when there is no 'w'; float64 read as float32.
    for name, arr in [("w1.npz", one_w), ("w2.npz", one_w[None]), ("w3.npz", one_w[None].astype(np.float64))]:
        f = read_ws_file(save(tmp_path / name, w=arr), L, D)
        assert f.ws.dtype == torch.float32 and torch.equal(f.ws, torch.from_numpy(one_w).expand(1, L, D))
    f = read_ws_file(save(tmp_path / "old.npz", ws=wplus_batch), L, D)
    assert torch.equal(f.ws, torch.from_numpy(wplus_batch))


@pytest.mark.parametrize("arrays,found", [
    ({"w": np.zeros((1, 5, 64), np.float32)}, "[1, 5, 64]"),  # a model of another depth
    ({"w": np.zeros((1, 8, 32), np.float32)}, "[1, 8, 32]"),  # ... or width
    ({"w": np.zeros((8, 64), np.float32)}, "[8, 64]"),  # one W+ or 8 W? refused, not guessed
    ({"w": np.zeros((3, 64), np.float32)}, "[3, 64]"),
    ({"w": np.zeros(32, np.float32)}, "[32]"),
    ({"w": np.zeros((1, 1, 8, 64), np.float32)}, "[1, 1, 8, 64]"),
    ({"w": np.zeros((0, 8, 64), np.float32)}, "holds no W+"),
    ({"latent": np.zeros((1, 8, 64), np.float32)}, "no 'w' array"),
    ({"w": np.array(["a", "b"])}, "not real numbers"),
])
def test_wrong_shapes_and_contents_are_refused_in_one_line(tmp_path, arrays, found):
    path = save(tmp_path / "bad.npz", **arrays)
    with pytest.raises(UsageError) as e:
        read_ws_file(path, 8, 64)
    msg = str(e.value)
    assert "\n" not in msg and msg.startswith(f"{path}:") and found in msg, msg
    if "does not fit" in msg:
        assert "[N, 8, 64]" in msg  # the shape this network needs


def test_unreadable_files_are_refused_in_one_line(tmp_path):
    (tmp_path / "junk.npz").write_bytes(b"PK\x03\x04 not really a zip")
    np.save(tmp_path / "plain.npy", np.zeros((1, 8, 64), np.float32))
    np.savez(tmp_path / "objects.npz", w=np.array([{"a": 1}], dtype=object))
    for name, text in [("missing.npz", "no such file"), ("junk.npz", "not a readable .npz"),
                       ("plain.npy", "not a .npz file"), ("objects.npz", "not a readable .npz"), ("", "folder")]:
        with pytest.raises(UsageError) as e:
            read_ws_file(tmp_path / name, 8, 64)
        assert "\n" not in str(e.value) and text in str(e.value), str(e.value)


def test_write_then_read_is_exact_and_atomic(tmp_path, monkeypatch):
    ws = torch.randn(2, 8, 64)
    path = tmp_path / "ws.npz"
    write_ws_file(path, ws, seed=np.array([3, 9]), truncation_psi=0.7, truncation_cutoff=None, noise_mode="const")
    f = read_ws_file(path, 8, 64)
    assert f.ws.numpy().tobytes() == ws.numpy().tobytes() and f.keys == [3, 9]
    assert float(f.meta["truncation_psi"]) == 0.7 and "truncation_cutoff" not in f.meta  # None is not stored
    assert os.listdir(tmp_path) == ["ws.npz"]  # no temporary file left behind
    # A write that fails leaves the previous file whole and no temporary file.
    monkeypatch.setattr(np, "savez", lambda *a, **k: (_ for _ in ()).throw(OSError("disk full")))
    with pytest.raises(OSError):
        write_ws_file(path, torch.zeros(1, 8, 64))
    assert os.listdir(tmp_path) == ["ws.npz"] and torch.equal(read_ws_file(path, 8, 64).ws, ws)


def test_cli_refuses_a_w_file_from_another_model(tmp_path):
    np.savez(tmp_path / "w.npz", w=np.zeros((1, 5, 64), np.float32))
    r = run_cli("stylegan-generate", "--pkl", str(FIXTURES / "G_tiny_skip.npz"), "--ws", str(tmp_path / "w.npz"),
                "--outdir", str(tmp_path / "out"))
    lines = r.stderr.strip().splitlines()
    assert r.returncode != 0 and len(lines) == 1 and "Traceback" not in r.stderr, r.stderr
    assert str(tmp_path / "w.npz") in lines[0] and "[1, 5, 64]" in lines[0] and "[N, 8, 64]" in lines[0]


def test_explorer_and_generate_render_identical_pixels(G):
    """One description — ψ per group, a style-mixing source, a direction, random noise at 0.7 —
    rendered by the explorer's composer and by stylegan-generate's ImageMaker through the shared
    recipe: the same bytes."""
    from core.images import to_uint8
    weights = [0.0, 0.0, 1.0, 1.0, 0.5, 0.5, 0.0, 0.0]
    vector = torch.randn(G.w_dim, generator=torch.Generator().manual_seed(2))
    state = ExplorerState()
    state.latent.x = 3.0
    state.trunc.per_group, state.trunc.group_psi = True, {"coarse": 0.5, "middle": 0.8, "fine": 1.0}
    state.styles = [StyleSource(6, weights)]
    state.directions.entries = [DirectionEntry(0, 1.5, 1, 3)]
    state.noise.mode, state.noise.seed, state.noise.strength = "random", 5, 0.7
    composer = LatentComposer(G, CPU)
    composer._directions[composer.directions_key(state.directions.source)] = Directions(["d"], vector[None])
    with torch.inference_mode():
        frame = to_uint8(G.synthesis(composer.ws(state), noise=composer.noise(state)))[0]
    args = generate.build_parser().parse_args(["--seeds", "3", "--noise-mode", "random", "--noise-seed", "5",
                                               "--noise-strength", "0.7"])
    maker = generate.ImageMaker(G, CPU, args)
    recipe = LatentRecipe(seeds=[3], psi={"coarse": 0.5, "middle": 0.8, "fine": 1.0},
                          mix=[StyleMix(weights, seed=6)], directions=[DirectionStep(vector, 1.5, range(1, 4))])
    pixels = maker.images(build_ws(G, recipe), keys=[3], progress=False)[0]
    assert np.array_equal(frame, pixels)
    assert not np.array_equal(frame, maker.images(build_ws(G, LatentRecipe(seeds=[3])), keys=[3], progress=False)[0])
