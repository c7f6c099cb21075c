"""Shared test helpers: the official-weight fixtures and small networks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

# No test touches the user's config or cache (the explorer's recent files and sessions, the
# directions and FID caches): every test, and every command a test runs, sees a folder of this
# session instead of ~/.config and ~/.cache.
TEST_HOME = Path(tempfile.mkdtemp(prefix="stylegan-tests-"))
os.environ["XDG_CONFIG_HOME"] = str(TEST_HOME / "config")
os.environ["XDG_CACHE_HOME"] = str(TEST_HOME / "cache")
# Under pytest-xdist (`-n auto`, the README's test command) each worker and every command it runs take
# one core: two workers with two threads each would fight over a 2-core machine.
if os.environ.get("PYTEST_XDIST_WORKER"):
    os.environ["OMP_NUM_THREADS"] = "1"

import numpy as np
import pytest
import torch

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO / "tests" / "fixtures" / "official_sg2"
TOL = 1e-4  # the project's parity tolerance (fp32, CPU)

sys.path.insert(0, str(REPO))


def pytest_collection_modifyitems(config, items):
    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA GPU")
    for item in items:
        if "cuda" in item.keywords:
            item.add_marker(skip)


def load_npz(name: str) -> dict:
    with np.load(FIXTURES / name, allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


def fixture_generator(arch: str):
    from core.networks.build import build_generator
    from core.checkpoints.nvidia_npz import read_nvidia_npz
    config, state = read_nvidia_npz(FIXTURES / f"G_tiny_{arch}.npz")
    return build_generator(config, state).eval().requires_grad_(False)


def fixture_discriminator():
    from core.networks.build import build_discriminator
    from core.checkpoints.nvidia_npz import read_nvidia_npz
    config, state = read_nvidia_npz(FIXTURES / "D_tiny_resnet.npz")
    return build_discriminator(config, state)


def max_abs(a, b) -> float:
    a = a.detach().cpu().numpy() if isinstance(a, torch.Tensor) else np.asarray(a)
    b = b.detach().cpu().numpy() if isinstance(b, torch.Tensor) else np.asarray(b)
    assert a.shape == b.shape, f"shape {a.shape} != {b.shape}"
    return float(np.abs(a.astype(np.float64) - b.astype(np.float64)).max())


def run_cli(*args: str, cwd: Path | None = None, env: dict | None = None) -> subprocess.CompletedProcess:
    """Run one of our commands as a user would (python -m, so no install step is assumed)."""
    module = {"stylegan-generate": "core.cli.generate", "stylegan-convert": "core.cli.convert",
              "stylegan-train": "core.cli.train"}[args[0]]
    full_env = {**os.environ, "PYTHONPATH": str(REPO), **(env or {})}
    return subprocess.run([sys.executable, "-m", module, *args[1:]], cwd=cwd, env=full_env,
                          capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="session")
def skip_pt(tmp_path_factory) -> Path:
    """The official skip-architecture fixture converted to our .pt format (through the CLI)."""
    out = tmp_path_factory.mktemp("ckpt") / "skip.pt"
    r = run_cli("stylegan-convert", str(FIXTURES / "G_tiny_skip.npz"), str(out))
    assert r.returncode == 0, r.stderr
    return out


def fixture_config(name: str) -> dict:
    return json.loads(str(load_npz(name)["config_json"]))
