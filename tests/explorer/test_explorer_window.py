"""The explorer in a real window (GLFW + GLX) on a virtual screen (xvfb-run)."""

import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from conftest import REPO, run_cli


@pytest.mark.skipif(shutil.which("xvfb-run") is None, reason="xvfb-run not installed (apt-get install xvfb)")
def test_real_window(skip_pt, tmp_path):
    out = tmp_path / "window.png"
    env = {k: v for k, v in os.environ.items() if k != "PYOPENGL_PLATFORM"}
    env.update(PYTHONPATH=str(REPO), XDG_CONFIG_HOME=str(tmp_path / "config"))
    r = subprocess.run(["xvfb-run", "-a", "-s", "-screen 0 1280x800x24", sys.executable,
                        str(REPO / "tests" / "explorer" / "window_smoke.py"), str(skip_pt), str(out), "20"],
                       env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "seed 1;" in r.stdout  # the right-arrow key went through GLFW's callback
    window = np.asarray(Image.open(out))
    assert window.shape == (800, 1280, 3)
    # The image area shows seed 1, scaled up from 32x32 with nearest filtering: sample its centre.
    gen = tmp_path / "gen"
    assert run_cli("stylegan-generate", "--pkl", str(skip_pt), "--seeds", "1", "--outdir", str(gen)).returncode == 0
    seed1 = np.asarray(Image.open(gen / "seed0001.png"))
    # Where the image was drawn (the panel's width and the status line set it), as the script saw it.
    line = next(ln for ln in r.stdout.splitlines() if ln.startswith("canvas "))
    x0, y0, x1, y1 = map(float, line.split()[1:])
    assert x1 - x0 == pytest.approx(y1 - y0) and x0 > 400  # square, right of the controls
    cell = (x1 - x0) / 32
    samples = [(int(y0 + (i + 0.5) * cell), int(x0 + (j + 0.5) * cell)) for i in range(2, 30, 5) for j in range(2, 30, 5)]
    close = sum(np.abs(window[y, x].astype(int) - seed1[int((y - y0) // cell), int((x - x0) // cell)]).max() <= 2
                for y, x in samples)
    assert close >= 0.9 * len(samples), f"only {close}/{len(samples)} samples match seed 1"
