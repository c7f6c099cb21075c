"""Files users already have keep working after the code moves: snapshots, generator-only and
networks files, W+ files and explorer sessions written by the old flat `core/` layout
(tests/fixtures/old_layout/README.md) load, render the same pixels and resume."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from PIL import Image

from conftest import REPO, run_cli

OLD = REPO / "tests" / "fixtures" / "old_layout"


def pixels(path):
    return np.asarray(Image.open(path))


@pytest.mark.parametrize("name, folder, extra", [("stylegan2-snapshot.pt", "g2", ["--trunc", "0.7"]),
                                                 ("stylegan1-generator.pt", "g1", ["--trunc", "0.7"]),
                                                 ("stylegan2-cond-networks.pt", "g2c", ["--class", "3"])])
def test_old_network_files_render_the_same_pixels(tmp_path, name, folder, extra):
    r = run_cli("stylegan-generate", "--pkl", str(OLD / name), "--seeds", "0-1", "--outdir", str(tmp_path), *extra)
    assert r.returncode == 0, r.stderr
    for seed in (0, 1):
        assert np.array_equal(pixels(tmp_path / f"seed{seed:04d}.png"), pixels(OLD / folder / f"seed{seed:04d}.png"))


def test_old_w_plus_file_renders_the_same_pixels(tmp_path):
    r = run_cli("stylegan-generate", "--pkl", str(OLD / "stylegan2-snapshot.pt"), "--ws", str(OLD / "g2" / "seed0000.npz"),
                "--outdir", str(tmp_path))
    assert r.returncode == 0, r.stderr
    (png,) = tmp_path.glob("*.png")
    assert np.array_equal(pixels(png), pixels(OLD / "g2" / "seed0000.png"))


def test_old_explorer_session_loads_and_renders_the_same_frame(tmp_path):
    import torch
    from explorer.renderer import Renderer
    from explorer.state import ExplorerState
    shutil.copy(OLD / "stylegan2-snapshot.pt", tmp_path)
    state = ExplorerState.load(OLD / "session.json")
    assert state.trunc.group_psi == {"coarse": 0.5, "middle": 0.8, "fine": 1.0} and state.styles[0].seed == 7
    r = Renderer(torch.device("cpu"), sync=True)
    try:
        r.load(str(tmp_path / state.pkl))
        r.wait_idle()
        assert np.array_equal(r.render_now(state), pixels(OLD / "session-frame.png"))
    finally:
        r.close()


def test_old_snapshot_resumes(tmp_path):
    shutil.copy(OLD / "stylegan2-snapshot.pt", tmp_path)
    r = run_cli("stylegan-train", "--resume", str(tmp_path / "stylegan2-snapshot.pt"), "--data",
                str(REPO / "tests" / "fixtures" / "mnist_1000.zip"), "--kimg", "0.08", "--snap", "1")
    assert r.returncode == 0, r.stderr
    assert "resuming stylegan2" in r.stdout + r.stderr
    assert list(tmp_path.glob("network-snapshot-*.pt"))  # a resumed run continues in the snapshot's folder


def test_resuming_a_finished_run_says_there_is_nothing_to_do(tmp_path):
    """#22 item 12: a run that has reached its --kimg is not 'resumed' in silence."""
    shutil.copy(OLD / "stylegan2-snapshot.pt", tmp_path)
    r = run_cli("stylegan-train", "--resume", str(tmp_path / "stylegan2-snapshot.pt"), "--data",
                str(REPO / "tests" / "fixtures" / "mnist_1000.zip"))
    assert r.returncode == 0, r.stderr
    assert "nothing to do" in r.stderr and "give a larger --kimg" in r.stderr
    assert "resuming" not in r.stdout + r.stderr  # (said before the 'nothing to do', and logged, until now)
    assert sorted(p.name for p in tmp_path.glob("*.pt")) == ["stylegan2-snapshot.pt"]
