"""What the commands write, and what they refuse to, run as a user runs them (subprocesses, real
files): an existing output is never replaced without --force (stylegan-generate, stylegan-dataset,
as stylegan-convert), a bad --ws file is one line naming it, a failed call leaves no empty --outdir,
and an output that cannot be created is named with the reason before any long work."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from conftest import REPO, run_cli

MNIST = REPO / "tests" / "fixtures" / "mnist_1000.zip"


def cli(module: str, *args, cwd=None) -> subprocess.CompletedProcess:
    """python -m core.cli.<module> ARGS (the commands run_cli does not know: dataset, metrics)."""
    return subprocess.run([sys.executable, "-m", f"core.cli.{module}", *map(str, args)], cwd=cwd,
                          env={**os.environ, "PYTHONPATH": str(REPO)}, capture_output=True, text=True, timeout=300)


def error_line(r: subprocess.CompletedProcess, prog: str) -> str:
    """The one `prog: error: ...` line of a refused call (exit 2, no traceback)."""
    lines = r.stderr.strip().splitlines()
    assert r.returncode == 2 and len(lines) == 1 and "Traceback" not in r.stderr, (r.returncode, r.stderr)
    assert lines[0].startswith(f"{prog}: error: "), lines[0]
    return lines[0]


def contents(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def image_folder(path: Path, n: int) -> Path:
    path.mkdir()
    for i in range(n):
        Image.new("RGB", (40, 40), (40 * i, 90, 200)).save(path / f"{i}.png")
    return path


# ----------------------------------------------------------------------- stylegan-dataset ---

def test_dataset_never_replaces_an_existing_zip_without_force(tmp_path):
    big = image_folder(tmp_path / "big", 5)
    out = tmp_path / "out.zip"
    assert cli("dataset", big, out, "--resolution", "32").returncode == 0
    before = out.read_bytes()
    small = image_folder(tmp_path / "small", 2)
    msg = error_line(cli("dataset", small, out, "--resolution", "32"), "stylegan-dataset")
    assert str(out) in msg and "exists" in msg and "--force" in msg, msg
    assert out.read_bytes() == before and not list(tmp_path.glob(".*.tmp"))
    # Refused before any work: a source that does not even exist is not looked at.
    msg = error_line(cli("dataset", tmp_path / "nowhere", out), "stylegan-dataset")
    assert "--force" in msg and out.read_bytes() == before
    # --force replaces it, as stylegan-convert's does.
    r = cli("dataset", small, out, "--resolution", "32", "--force")
    assert r.returncode == 0, r.stderr
    with zipfile.ZipFile(out) as z:
        assert sum(n.endswith(".png") for n in z.namelist()) == 2


def test_dataset_refuses_its_source_a_folder_and_an_unwritable_destination(tmp_path):
    src = image_folder(tmp_path / "src", 2)
    data = tmp_path / "data.zip"
    assert cli("dataset", src, data, "--resolution", "32").returncode == 0
    assert "same file" in error_line(cli("dataset", data, data, "--force"), "stylegan-dataset")
    (tmp_path / "dir.zip").mkdir()
    assert "is a folder" in error_line(cli("dataset", src, tmp_path / "dir.zip", "--force"), "stylegan-dataset")
    msg = error_line(cli("dataset", src, "/proc/d.zip"), "stylegan-dataset")
    assert "cannot write /proc/d.zip" in msg, msg


# ---------------------------------------------------------------------- stylegan-generate ---

def test_generate_never_replaces_outputs_without_force(skip_pt, tmp_path):
    out = tmp_path / "out"
    gen = ("stylegan-generate", "--pkl", str(skip_pt), "--outdir", str(out))
    r = run_cli(*gen, "--seeds", "0-1", "--save-ws", "--grid")
    assert r.returncode == 0, r.stderr
    first = contents(out)
    assert sorted(first) == ["grid.png", "seed0000.npz", "seed0000.png", "seed0001.npz", "seed0001.png"]
    # Another ψ into the same folder: refused before rendering, naming a file and --force; nothing changed.
    for extra in (["--seeds", "0-1", "--trunc", "0.5"],  # the PNGs
                  ["--seeds", "1", "--save-ws"],  # a PNG and its .npz
                  ["--seeds", "7", "--grid"],  # only grid.png is in the way
                  ["--ws", str(out / "seed0000.npz")]):  # re-rendering a saved W+ into its own folder
        msg = error_line(run_cli(*gen, *extra), "stylegan-generate")
        assert "exist" in msg and "--force" in msg and str(out) in msg, msg
        assert contents(out) == first
    assert "grid.png exists" in error_line(run_cli(*gen, "--seeds", "7", "--grid"), "stylegan-generate")
    # New names in the same folder are fine; --force replaces.
    assert run_cli(*gen, "--seeds", "5").returncode == 0 and (out / "seed0005.png").exists()
    r = run_cli(*gen, "--seeds", "0-1", "--trunc", "0.5", "--save-ws", "--force")
    assert r.returncode == 0, r.stderr
    now = contents(out)
    assert now["seed0000.png"] != first["seed0000.png"] and now["seed0000.npz"] != first["seed0000.npz"]
    assert now["grid.png"] == first["grid.png"]  # not asked for this time: left as it was
    assert not list(out.glob(".*"))  # no temporary or check file left


def test_style_mixing_figure_is_not_replaced_without_force(skip_pt, tmp_path):
    gen = ("stylegan-generate", "--pkl", str(skip_pt), "--outdir", str(tmp_path), "--rows", "0", "--cols", "1")
    assert run_cli(*gen).returncode == 0
    before = contents(tmp_path)
    msg = error_line(run_cli(*gen, "--styles", "fine"), "stylegan-generate")
    assert "0-1.png" in msg and "--force" in msg and contents(tmp_path) == before
    assert run_cli(*gen, "--styles", "fine", "--force").returncode == 0
    assert contents(tmp_path)["grid.png"] != before["grid.png"]


def _w(tmp_path, name, **arrays):
    np.savez(tmp_path / name, **arrays)
    return tmp_path / name


def _png(tmp_path, name):
    Image.new("RGB", (8, 8)).save(tmp_path / name)
    return tmp_path / name


def _raw(tmp_path, name, data: bytes):
    (tmp_path / name).write_bytes(data)
    return tmp_path / name


def _npy(tmp_path, name):
    np.save(tmp_path / name, np.zeros((1, 8, 64), np.float32))
    return tmp_path / name


W = np.zeros((1, 8, 64), np.float32)
BAD_W_FILES = [
    ("nan.npz", lambda t, n: _w(t, n, w=np.full((1, 8, 64), np.nan, np.float32)), "512 values (of 512) that are NaN"),
    ("inf.npz", lambda t, n: _w(t, n, w=np.where(np.arange(512) == 3, np.inf, 0).reshape(1, 8, 64)), "holds 1 value"),
    ("w_nan.npz", lambda t, n: _w(t, n, w=np.full(64, np.nan)), "NaN, infinite"),  # one W, broadcast
    ("huge.npz", lambda t, n: _w(t, n, w=np.full((1, 8, 64), 1e300)), "beyond float32's range"),
    ("some.png", _png, "not a .npz file (a PNG image)"),
    ("plain.npy", _npy, "not a .npz file (a single .npy array)"),
    ("empty.bin", lambda t, n: _raw(t, n, b""), "not a .npz file (an empty file)"),
    ("text.npz", lambda t, n: _raw(t, n, b"w = 1, 2, 3\n"), "not a .npz file (a text file)"),
    ("objects.npz", lambda t, n: _w(t, n, w=np.array([{"a": 1}], dtype=object)), "pickled Python objects"),
    ("bool.npz", lambda t, n: _w(t, n, w=np.ones((1, 8, 64), bool)), "bool values, not real numbers"),
    ("complex.npz", lambda t, n: _w(t, n, w=np.ones((1, 8, 64), complex)), "not real numbers"),
    ("nothing.npz", lambda t, n: _w(t, n), "no 'w' array"),
    ("damaged.npz", lambda t, n: _raw(t, n, b"PK\x03\x04 cut short"), "not a readable .npz"),
    ("mode.npz", lambda t, n: _w(t, n, w=W, noise_mode="loud"), "'noise_mode' must be one of const, random, none"),
    ("strength.npz", lambda t, n: _w(t, n, w=W, noise_strength=np.nan), "'noise_strength' must be a finite number"),
    ("nseed.npz", lambda t, n: _w(t, n, w=W, noise_seed=np.array([1, 2])), "'noise_seed' must be one noise seed"),
    ("seed.npz", lambda t, n: _w(t, n, w=W, seed=np.array([1j])), "'seed' must hold whole numbers"),
]


@pytest.mark.parametrize("name,make,message", BAD_W_FILES, ids=[c[0] for c in BAD_W_FILES])
def test_bad_ws_file_is_one_line_and_leaves_no_outdir(skip_pt, tmp_path, name, make, message):
    path = make(tmp_path, name)
    out = tmp_path / "o" / "deeper"
    msg = error_line(run_cli("stylegan-generate", "--pkl", str(skip_pt), "--ws", str(path), "--outdir", str(out)),
                     "stylegan-generate")
    assert f"error: {path}: " in msg and message in msg, msg
    assert "allow_pickle" not in msg
    assert not (tmp_path / "o").exists()  # validated before --outdir (and its parent) was made


def test_all_nan_w_plus_for_the_bundled_model_is_refused(tmp_path):
    """The reviewer's case: an all-NaN W+ [1, 10, 128] for the emoji model rendered, exit 0."""
    path = _w(tmp_path, "nan.npz", w=np.full((1, 10, 128), np.nan, np.float32))
    r = run_cli("stylegan-generate", "--ws", str(path), "--outdir", str(tmp_path / "o_nan"))
    msg = error_line(r, "stylegan-generate")
    assert f"{path}: 'w' holds 1280 values (of 1280) that are NaN, infinite" in msg, msg
    assert not (tmp_path / "o_nan").exists()


def test_failed_call_keeps_a_folder_that_was_there(skip_pt, tmp_path):
    out = tmp_path / "mine"
    out.mkdir()
    (tmp_path / "nan.npz").write_bytes(b"")
    r = run_cli("stylegan-generate", "--pkl", str(skip_pt), "--ws", str(tmp_path / "nan.npz"), "--outdir", str(out))
    error_line(r, "stylegan-generate")
    assert out.is_dir() and not any(out.iterdir())


def test_outdir_that_cannot_be_created_is_named_with_the_reason(skip_pt, tmp_path):
    msg = error_line(run_cli("stylegan-generate", "--pkl", str(skip_pt), "--seeds", "0", "--outdir", "/proc/x"),
                     "stylegan-generate")
    assert "cannot create --outdir /proc/x: No such file or directory" in msg, msg


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root writes into read-only folders")
def test_read_only_outdir_is_refused_before_rendering(skip_pt, tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    try:
        msg = error_line(run_cli("stylegan-generate", "--pkl", str(skip_pt), "--seeds", "0", "--outdir", str(ro / "x")),
                         "stylegan-generate")
        assert f"cannot create --outdir {ro / 'x'}" in msg and "Permission denied" in msg, msg
    finally:
        ro.chmod(0o755)


# ----------------------------------------------------------------------- stylegan-metrics ---

@pytest.mark.parametrize("dest,message", [("/proc/x.json", "cannot write --json /proc/x.json"),
                                          ("{tmp}/nowhere/m.jsonl", "folder {tmp}/nowhere does not exist"),
                                          ("{tmp}", "is a folder")])
def test_metrics_json_destination_is_checked_before_computing(tmp_path, dest, message):
    """Refused at once (before the dataset is read, Inception loaded or any image generated), not
    after the FID was computed."""
    dest, message = dest.format(tmp=tmp_path), message.format(tmp=tmp_path)
    t = time.time()
    msg = error_line(cli("metrics", "--data", MNIST, "--real-vs-real", "500", "--json", dest), "stylegan-metrics")
    assert message in msg and time.time() - t < 60, msg


# ------------------------------------------------------------ what a call makes of its inputs ---

def test_seeds_listed_twice_are_refused(skip_pt, tmp_path):
    """Each seed names its files: a seed listed twice would be written twice and counted twice."""
    for option, value in (("--seeds", "1,1,2"), ("--rows", "3,0-3"), ("--cols", "5,5")):
        other = ("--cols", "1") if option == "--rows" else ("--rows", "1") if option == "--cols" else ()
        msg = error_line(run_cli("stylegan-generate", "--pkl", str(skip_pt), option, value, *other,
                                 "--outdir", str(tmp_path / "out")), "stylegan-generate")
        assert f"{option}: seed" in msg and "listed more than once" in msg, msg
    assert not (tmp_path / "out").exists()


def test_save_ws_of_a_style_mixing_figure_replays_each_cell(skip_pt, tmp_path):
    """--save-ws with --rows/--cols saves each mixed cell's W+ (keyed by its row's seed, whose noise
    it has): --ws renders the same image. With --ws itself there is nothing to save: refused."""
    out = tmp_path / "mix"
    r = run_cli("stylegan-generate", "--pkl", str(skip_pt), "--rows", "1,2", "--cols", "3", "--save-ws",
                "--noise-mode", "random", "--noise-seed", "7", "--outdir", str(out))
    assert r.returncode == 0, r.stderr
    assert sorted(p.name for p in out.glob("*.npz")) == ["1-1.npz", "1-3.npz", "2-2.npz", "2-3.npz", "3-3.npz"]
    again = tmp_path / "again"
    r = run_cli("stylegan-generate", "--pkl", str(skip_pt), "--ws", str(out / "2-3.npz"), "--outdir", str(again))
    assert r.returncode == 0, r.stderr
    # (the figure renders its cells in one batch with the sources: float rounding may move a level)
    diff = np.abs(np.asarray(Image.open(again / "2-3.png"), np.int16) - np.asarray(Image.open(out / "2-3.png"), np.int16))
    assert diff.max() <= 1 and diff.mean() < 0.01, (diff.max(), diff.mean())
    msg = error_line(run_cli("stylegan-generate", "--pkl", str(skip_pt), "--ws", str(out / "2-3.npz"), "--save-ws",
                             "--outdir", str(tmp_path / "x")), "stylegan-generate")
    assert "--save-ws" in msg and "2-3.npz itself" in msg, msg


def test_weights_that_are_not_finite_are_refused(tmp_path):
    """A network whose weights hold NaN/inf (a diverged run, a damaged file) renders black: every
    command that loads weights refuses it, naming the tensor."""
    from conftest import FIXTURES
    with np.load(FIXTURES / "G_tiny_skip.npz", allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    arrays["mapping.fc0.weight"] = arrays["mapping.fc0.weight"].copy()
    arrays["mapping.fc0.weight"][0, :3] = np.nan
    bad = tmp_path / "nan.npz"
    np.savez(bad, **arrays)
    for prog, args in (("stylegan-generate", ("--pkl", bad, "--seeds", "0", "--outdir", tmp_path / "out")),
                       ("stylegan-convert", (bad, tmp_path / "nan.pt"))):
        msg = error_line(run_cli(prog, *map(str, args)), prog)
        assert "mapping.fc0.weight holds 3 values that are not finite" in msg, msg
    assert not (tmp_path / "out").exists() and not (tmp_path / "nan.pt").exists()


@pytest.mark.parametrize("args,says", [
    (["--ws", "W", "--trunc", "0.5"], "--trunc/--trunc-cutoff have no effect with --ws"),
    (["--ws", "W", "--trunc-cutoff", "4"], "--trunc/--trunc-cutoff have no effect with --ws"),
    (["--rows", "1", "--cols", "2", "--grid"], "--grid: a style-mixing figure is written as grid.png anyway"),
    (["--seeds", "1", "--styles", "fine"], "--styles chooses the layers"),
    (["--seeds", "1", "--noise-seed", "5"], "--noise-seed has no effect: it seeds --noise-mode random, and the "
                                           "noise mode is const (the default)"),
    (["--seeds", "1", "--noise-mode", "none", "--noise-strength", "2"], "--noise-strength has no effect"),
    (["--ws", "W", "--noise-seed", "5"], "the noise mode is const (as seed0007.npz was saved)"),
])
def test_options_that_would_change_nothing_are_refused(skip_pt, tmp_path, args, says):
    """They were taken silently (exit 0, the same files as without them)."""
    r = run_cli("stylegan-generate", "--pkl", str(skip_pt), "--seeds", "7", "--save-ws", "--outdir", str(tmp_path / "a"))
    assert r.returncode == 0, r.stderr
    args = [str(tmp_path / "a" / "seed0007.npz") if a == "W" else a for a in args]
    msg = error_line(run_cli("stylegan-generate", "--pkl", str(skip_pt), *args, "--outdir", str(tmp_path / "b")),
                     "stylegan-generate")
    assert says in msg, msg
    assert not (tmp_path / "b").exists()


def test_a_conditional_networks_ws_file_needs_no_class(tmp_path):
    """Its class is part of the W+: --ws asked for --class, then ignored it (any value, same image)."""
    from core import Generator, GeneratorConfig
    from core.checkpoints.ours import save_generator
    torch.manual_seed(0)
    save_generator(tmp_path / "cond.pt", Generator(GeneratorConfig(z_dim=32, w_dim=32, c_dim=3, img_resolution=16,
                                                                   mapping_layers=2, channel_base=512, channel_max=32)))
    gen = ("stylegan-generate", "--pkl", str(tmp_path / "cond.pt"))
    assert run_cli(*gen, "--seeds", "1", "--class", "2", "--save-ws", "--outdir", str(tmp_path / "a")).returncode == 0
    r = run_cli(*gen, "--ws", str(tmp_path / "a" / "seed0001.npz"), "--outdir", str(tmp_path / "b"))
    assert r.returncode == 0, r.stderr
    assert np.array_equal(np.asarray(Image.open(tmp_path / "b" / "seed0001.png")),
                          np.asarray(Image.open(tmp_path / "a" / "seed0001.png")))
    msg = error_line(run_cli(*gen, "--ws", str(tmp_path / "a" / "seed0001.npz"), "--class", "0",
                             "--outdir", str(tmp_path / "c")), "stylegan-generate")
    assert "--class has no effect with --ws" in msg, msg


def test_stylegan3_save_ws_replays_the_transform_and_the_default_is_the_identity(tmp_path):
    """--save-ws did not store --translate/--rotate (the replay differed by up to 48 levels); a file
    whose stored transform is not the identity rendered moved without --translate/--rotate, where
    NVIDIA's gen_images.py always sets it (the identity by default)."""
    from conftest import REPO
    sg3 = REPO / "tests" / "fixtures" / "official_sg3"
    pkl = sg3 / "G_tiny_sg3T.npz"
    gen = ("stylegan-generate", "--pkl", str(pkl))
    assert run_cli(*gen, "--seeds", "4", "--translate", "0.2,0.1", "--rotate", "30", "--save-ws",
                   "--outdir", str(tmp_path / "a")).returncode == 0
    r = run_cli(*gen, "--ws", str(tmp_path / "a" / "seed0004.npz"), "--outdir", str(tmp_path / "b"))
    assert r.returncode == 0, r.stderr
    png = lambda p: np.asarray(Image.open(p))  # noqa: E731
    assert np.array_equal(png(tmp_path / "b" / "seed0004.png"), png(tmp_path / "a" / "seed0004.png"))
    r = run_cli(*gen, "--ws", str(tmp_path / "a" / "seed0004.npz"), "--rotate", "0", "--translate", "0,0",
                "--outdir", str(tmp_path / "c"))  # given on the command line: they win
    assert r.returncode == 0, r.stderr
    assert run_cli(*gen, "--seeds", "4", "--outdir", str(tmp_path / "d")).returncode == 0
    assert np.array_equal(png(tmp_path / "c" / "seed0004.png"), png(tmp_path / "d" / "seed0004.png"))
    with np.load(pkl) as z:  # the same network with a moved transform stored in the file
        arrays = {k: z[k] for k in z.files}
    with np.load(sg3 / "G_tiny_sg3T_out.npz") as out:
        arrays["synthesis.input.transform"] = out["transform_buffer"]
    np.savez(tmp_path / "moved.npz", **arrays)
    assert run_cli("stylegan-generate", "--pkl", str(tmp_path / "moved.npz"), "--seeds", "4",
                   "--outdir", str(tmp_path / "e")).returncode == 0
    assert np.array_equal(png(tmp_path / "e" / "seed0004.png"), png(tmp_path / "d" / "seed0004.png"))
