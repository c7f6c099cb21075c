"""The bundled default model (assets/emoji64.pt): small enough to ship, loads safely, renders a
real image, and is what the explorer and stylegan-generate open when no --pkl is given."""

import os
import subprocess
import sys

os.environ["PYOPENGL_PLATFORM"] = "egl"

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from PIL import Image  # noqa: E402

from conftest import REPO, run_cli  # noqa: E402
from core.checkpoints.load import load_generator
from core.checkpoints.default_model import default_model_path  # noqa: E402


def test_default_model_is_the_shipped_g_ema():
    path = default_model_path()
    assert path == REPO / "assets" / "emoji64.pt"
    assert path.stat().st_size <= 25 * 2 ** 20
    data = torch.load(path, weights_only=True)  # plain tensors and config: nothing to execute
    assert "G_ema" in data and not {"D", "G", "opt_G", "opt_D"} & set(data)
    G = load_generator(path)
    assert (G.img_resolution, G.img_channels) == (64, 3)
    with torch.no_grad():
        img = G(torch.randn(4, G.z_dim, generator=torch.Generator().manual_seed(0)), truncation_psi=0.7)
    assert img.shape == (4, 3, 64, 64) and torch.isfinite(img).all()
    assert img.std(dim=0).mean() > 0.05  # different latents give different images


def test_explorer_opens_it_and_shows_what_generate_shows(tmp_path):
    from explorer.main import render_threads
    gen = tmp_path / "gen"
    # The explorer renders with all cores but one; oneDNN's sums depend on the thread count, so
    # generate with the same count for a pixel-exact comparison.
    r = run_cli("stylegan-generate", "--seeds", "0", "--outdir", str(gen),
                env={"OMP_NUM_THREADS": str(render_threads())})
    assert r.returncode == 0, r.stderr
    expected = np.asarray(Image.open(gen / "seed0000.png"))
    assert expected.shape == (64, 64, 3) and expected.std() > 10
    shot = tmp_path / "shot.png"
    env = {**os.environ, "PYTHONPATH": str(REPO), "XDG_CONFIG_HOME": str(tmp_path / "config")}
    r = subprocess.run([sys.executable, "-m", "explorer.main", "--screenshot", str(shot)],
                       capture_output=True, text=True, env=env, timeout=300)
    if r.returncode != 0 and "EGL" in r.stderr:
        pytest.skip(f"no headless GL here: {r.stderr.strip()}")
    assert r.returncode == 0, r.stderr
    assert np.array_equal(np.asarray(Image.open(shot)), expected)


def test_networks_file_continues_the_shipped_model(tmp_path):
    """assets/emoji64-networks.pt is the shipped G_ema's run (same G_ema) with its G, D and ADA p,
    and the continuation command of assets/README.md accepts it."""
    nets = torch.load(REPO / "assets" / "emoji64-networks.pt", weights_only=True)
    shipped = torch.load(REPO / "assets" / "emoji64.pt", weights_only=True)
    assert nets["G_config"] == shipped["G_config"]
    assert all(torch.equal(v, nets["G_ema"][k]) for k, v in shipped["G_ema"].items())
    assert {"G", "D", "ada_p"} <= set(nets["networks"]) and 0 <= nets["networks"]["ada_p"] < 1
    data = tmp_path / "data"
    data.mkdir()
    rng = np.random.default_rng(0)
    for i in range(8):
        Image.fromarray(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)).save(data / f"{i}.png")
    options = ("--gamma 1 --z-dim 128 --w-dim 128 --map 2 --cbase 2048 --cmax 128 --kimg 5000 --snap 5").split()
    r = run_cli("stylegan-train", "--data", str(data), "--outdir", str(tmp_path / "runs"), "--init",
                str(REPO / "assets" / "emoji64-networks.pt"), *options, "--tick", "0.032", "--max-ticks", "1",
                "--metrics", "none")
    assert r.returncode == 0, r.stderr
    (run,) = (tmp_path / "runs").iterdir()
    assert f"G, G_ema and D; ADA p {nets['networks']['ada_p']:.3f}" in (run / "log.txt").read_text()
