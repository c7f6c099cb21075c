"""stylegan-generate and stylegan-convert run as a user runs them: subprocesses, real files."""

import numpy as np
import pytest
import torch
from PIL import Image

from conftest import FIXTURES, load_npz, run_cli


def to_uint8(img):
    return np.clip(np.asarray(img, np.float32) * 127.5 + 128, 0, 255).astype(np.uint8).transpose(1, 2, 0)


def png(path):
    return np.asarray(Image.open(path))


def test_generate_matches_official_outputs(skip_pt, tmp_path):
    out = load_npz("G_tiny_skip_out.npz")
    r = run_cli("stylegan-generate", "--pkl", str(skip_pt), "--seeds", "0-3", "--outdir", str(tmp_path), "--grid")
    assert r.returncode == 0, r.stderr
    for s in range(4):
        ours = png(tmp_path / f"seed{s:04d}.png")
        ref = to_uint8(out["img_const"][0, s])
        assert np.abs(ours.astype(int) - ref).max() <= 1  # fp32 rounding at .5 boundaries at most
        assert (ours != ref).mean() < 0.001
    assert png(tmp_path / "grid.png").shape == (64, 64, 3)


def test_truncation_and_cutoff(skip_pt, tmp_path):
    out = load_npz("G_tiny_skip_out.npz")
    r = run_cli("stylegan-generate", "--pkl", str(skip_pt), "--seeds", "0,1", "--trunc", "0.7",
                "--trunc-cutoff", "2", "--outdir", str(tmp_path))
    assert r.returncode == 0, r.stderr
    for s in range(2):
        diff = png(tmp_path / f"seed{s:04d}.png").astype(int) - to_uint8(out["img_const_cutoff2"][s])
        assert np.abs(diff).max() <= 1


def test_noise_flags(skip_pt, tmp_path):
    calls = iter(range(100))

    def render(*extra):  # a fresh --outdir per call: an existing seed0003.png is never replaced
        d = tmp_path / f"{next(calls)}_{'_'.join(extra).replace('-', '')}"
        r = run_cli("stylegan-generate", "--pkl", str(skip_pt), "--seeds", "3", "--outdir", str(d), *extra)
        assert r.returncode == 0, r.stderr
        return png(d / "seed0003.png")

    out = load_npz("G_tiny_skip_out.npz")
    assert np.abs(render("--noise-mode", "none").astype(int) - to_uint8(out["img_none"][0, 3])).max() <= 1
    assert np.array_equal(render("--noise-strength", "0"), render("--noise-mode", "none"))
    assert np.array_equal(render("--noise-mode", "random", "--noise-seed", "1"),
                          render("--noise-mode", "random", "--noise-seed", "1", "--batch", "1"))
    assert not np.array_equal(render("--noise-mode", "random", "--noise-seed", "1"),
                              render("--noise-mode", "random", "--noise-seed", "2"))


def test_saved_ws_rerender_exactly(skip_pt, tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    r = run_cli("stylegan-generate", "--pkl", str(skip_pt), "--seeds", "7", "--trunc", "0.5",
                "--noise-strength", "0.5", "--save-ws", "--outdir", str(a))
    assert r.returncode == 0, r.stderr
    saved = np.load(a / "seed0007.npz")
    assert saved["w"].shape == (1, 8, 64) and int(saved["seed"]) == 7
    r = run_cli("stylegan-generate", "--pkl", str(skip_pt), "--ws", str(a / "seed0007.npz"), "--outdir", str(b))
    assert r.returncode == 0, r.stderr
    assert np.array_equal(png(a / "seed0007.png"), png(b / "seed0007.png"))


def test_style_mixing_figure(skip_pt, tmp_path):
    out = load_npz("G_tiny_skip_out.npz")
    r = run_cli("stylegan-generate", "--pkl", str(skip_pt), "--rows", "0,2", "--cols", "1,3,0",
                "--styles", "4-7", "--outdir", str(tmp_path))
    assert r.returncode == 0, r.stderr
    fig = png(tmp_path / "grid.png")  # NVIDIA's style_mixing.py: grid.png, on black, and every image
    assert fig.shape == (3 * 32, 4 * 32, 3)
    assert (fig[:32, :32] == 0).all()  # the empty corner
    assert sorted(p.name for p in tmp_path.glob("*.png")) == sorted(
        ["grid.png"] + [f"{r}-{c}.png" for r in (0, 2) for c in (1, 3, 0)] + ["1-1.png", "2-2.png", "3-3.png"])
    assert np.array_equal(png(tmp_path / "0-0.png"), fig[:32, 96:])  # (row seed 0 is also a column: one image)
    # Row seed 0 with column seed 1's layers 4-7 is the fixture's mix image.
    cell = png(tmp_path / "0-1.png")
    assert np.abs(cell.astype(int) - to_uint8(out["mix_img"][0])).max() <= 1
    assert np.array_equal(fig[32:64, 32:64], cell)
    # Column headers are the plain column seeds; row headers the plain row seeds.
    assert np.abs(fig[:32, 32:64].astype(int) - to_uint8(out["img_const"][0, 1])).max() <= 1
    assert np.abs(fig[64:, :32].astype(int) - to_uint8(out["img_const"][0, 2])).max() <= 1


@pytest.mark.parametrize("args,message", [
    (["--seeds", "5-1"], "reversed"),
    (["--seeds", "a"], "bad seed list"),
    ([], "exactly one of"),
    (["--seeds", "1", "--rows", "1"], "exactly one of"),
    (["--rows", "1"], "both --rows and --cols"),
    (["--rows", "1", "--cols", "2", "--styles", "0-40"], "layer"),
    (["--seeds", "1", "--class", "1"], "not conditional"),
    (["--seeds", "1", "--batch", "0"], "--batch"),
    (["--ws", "/nonexistent.npz"], "no such file"),
])
def test_bad_arguments_one_line(skip_pt, tmp_path, args, message):
    r = run_cli("stylegan-generate", "--pkl", str(skip_pt), "--outdir", str(tmp_path), *args)
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0] and "Traceback" not in r.stderr, r.stderr


def test_bad_checkpoint_one_line(tmp_path):
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"definitely not a checkpoint")
    r = run_cli("stylegan-generate", "--pkl", str(bad), "--seeds", "0")
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1 and "bad.pt" in r.stderr


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the no-GPU message")
def test_device_cuda_without_gpu(skip_pt):
    r = run_cli("stylegan-generate", "--pkl", str(skip_pt), "--seeds", "0", "--device", "cuda")
    assert r.returncode == 2 and "no CUDA GPU" in r.stderr


def test_ws_of_wrong_shape(skip_pt, tmp_path):
    np.savez(tmp_path / "w.npz", w=np.zeros((1, 5, 64), np.float32))
    r = run_cli("stylegan-generate", "--pkl", str(skip_pt), "--ws", str(tmp_path / "w.npz"))
    assert r.returncode == 2 and "does not fit" in r.stderr


def test_convert_round_trip_npz(tmp_path):
    pt, npz, pt2 = tmp_path / "a.pt", tmp_path / "b.npz", tmp_path / "c.pt"
    for src, dst in [(FIXTURES / "G_tiny_resnet.npz", pt), (pt, npz), (npz, pt2)]:
        r = run_cli("stylegan-convert", str(src), str(dst))
        assert r.returncode == 0, r.stderr
    orig = np.load(FIXTURES / "G_tiny_resnet.npz")
    back = np.load(npz)
    assert sorted(orig.files) == sorted(back.files)
    for k in orig.files:
        if k != "config_json":
            assert np.array_equal(orig[k], back[k]), k
    a, c = torch.load(pt, weights_only=True), torch.load(pt2, weights_only=True)
    assert a["G_config"] == c["G_config"]
    # Written through the one atomic write: a normal file's mode (0666 minus the umask), not 0600.
    import os
    mask = os.umask(0)
    os.umask(mask)
    for f in (pt, npz, pt2):
        assert f.stat().st_mode & 0o777 == 0o666 & ~mask, f
    assert not list(tmp_path.glob(".*.tmp"))
    assert all(torch.equal(v, c["G_ema"][k]) for k, v in a["G_ema"].items())


def test_convert_errors(tmp_path):
    r = run_cli("stylegan-convert", str(FIXTURES / "D_tiny_resnet.npz"), str(tmp_path / "d.pt"))
    assert r.returncode == 2 and "discriminator" in r.stderr
    r = run_cli("stylegan-convert", str(FIXTURES / "G_tiny_skip.npz"), str(tmp_path / "x.bin"))
    assert r.returncode == 2 and "give an output ending in .pt (ours) or .npz" in r.stderr  # no --to given
    r = run_cli("stylegan-convert", str(FIXTURES / "G_tiny_skip.npz"), str(tmp_path / "x.bin"), "--to", "ours")
    assert r.returncode == 2 and "--to ours writes a .pt file" in r.stderr
    assert not (tmp_path / "d.pt").exists()


@pytest.mark.parametrize("command,args,option", [
    ("stylegan-generate", ["--seeds", "0", "--trunc", "nan"], "--trunc"),
    ("stylegan-generate", ["--seeds", "0", "--trunc", "1e9"], "--trunc"),
    ("stylegan-train", ["--data", "x.zip", "--gamma", "-1"], "--gamma"),
    ("stylegan-train", ["--data", "x.zip", "--minutes", "-5"], "--minutes"),
    ("stylegan-dataset", ["a", "b.zip", "--max-images", "-1"], "--max-images")])
def test_numeric_options_out_of_range_are_refused(tmp_path, command, args, option):
    """NaN, infinities and values out of range are refused before anything runs (one line, exit 2),
    never used (#22 item 11)."""
    import subprocess
    import sys
    from conftest import REPO
    module = {"stylegan-generate": "core.cli.generate", "stylegan-train": "core.cli.train",
              "stylegan-dataset": "core.cli.dataset"}[command]
    r = subprocess.run([sys.executable, "-m", module, *args], cwd=tmp_path, capture_output=True, text=True, timeout=120,
                       env={**__import__("os").environ, "PYTHONPATH": str(REPO)})
    assert r.returncode == 2 and f"argument {option}: must be" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert not any(tmp_path.iterdir())


def test_every_numeric_option_is_validated():
    """The kind, not the instances: no option of any command is a bare int or float."""
    from core.cli import generate, train
    from explorer.main import build_parser as explorer_parser
    for parser in (generate.build_parser(), train.build_parser(), explorer_parser()):
        bare = [a.option_strings for a in parser._actions if a.type in (int, float) and a.dest != "max_ticks"]
        assert not bare, (parser.prog, bare)


def test_convert_never_overwrites_without_force(tmp_path):
    """stylegan-convert refuses an existing output (naming its size) unless --force (#22 item 10)."""
    out = tmp_path / "g.pt"
    out.write_bytes(b"a training snapshot the user wants to keep")
    r = run_cli("stylegan-convert", str(FIXTURES / "G_tiny_skip.npz"), str(out))
    assert r.returncode == 2 and "exists" in r.stderr and "--force" in r.stderr
    assert out.read_bytes() == b"a training snapshot the user wants to keep"
    r = run_cli("stylegan-convert", str(FIXTURES / "G_tiny_skip.npz"), str(out), "--force")
    assert r.returncode == 0, r.stderr
    assert torch.load(out, weights_only=True)["format"] == "stylegan-toolkit"


def test_messages_say_what_the_file_is(tmp_path):
    """#22 item 12: an image renamed .pt is called what it is (not 'Python objects'); a session that
    is not text names the file; an --outdir that is a file is a usage error (exit 2), in every command."""
    import subprocess
    import sys
    from conftest import REPO
    from PIL import Image
    Image.new("RGB", (8, 8)).save(tmp_path / "photo.png")
    fake = tmp_path / "net.pt"
    fake.write_bytes((tmp_path / "photo.png").read_bytes())
    (tmp_path / "afile").write_text("")
    env = {**__import__("os").environ, "PYTHONPATH": str(REPO), "PYOPENGL_PLATFORM": "egl"}
    cases = [(["core.cli.train", "--resume", str(fake)], "net.pt: not a network file (a PNG image)"),
             (["core.cli.generate", "--pkl", str(fake), "--seeds", "0", "--outdir", str(tmp_path / "o")],
              "net.pt: not a network file (a PNG image)"),
             (["explorer", "--session", str(tmp_path / "photo.png"), "--screenshot", str(tmp_path / "s.png")],
              "photo.png: not a session file (JSON text), but a PNG image"),
             (["core.cli.generate", "--seeds", "0", "--outdir", str(tmp_path / "afile")], "is a file, not a folder"),
             (["core.cli.train", "--data", "x.zip", "--outdir", str(tmp_path / "afile" / "runs")], "is a file, not a folder")]
    for argv, message in cases:
        r = subprocess.run([sys.executable, "-m", *argv], capture_output=True, text=True, timeout=120, env=env)
        assert r.returncode == 2 and message in r.stderr and len(r.stderr.strip().splitlines()) == 1, (argv, r.stderr)


def test_a_conditional_discriminator_npz_is_named_as_one(tmp_path):
    """Its cmap network's names (mapping.*) made it look like a generator: 'unusable config_json
    ('z_dim')' instead of what the file holds."""
    import json
    d = dict(np.load(FIXTURES / "D_tiny_resnet.npz"))
    kwargs = json.loads(str(d["config_json"]))
    kwargs["c_dim"] = 3
    d["config_json"] = np.array(json.dumps(kwargs))
    d["mapping.embed.weight"] = np.zeros((kwargs.get("cmap_dim") or 64, 3), np.float32)
    np.savez(tmp_path / "D_cond.npz", **d)
    r = run_cli("stylegan-generate", "--pkl", str(tmp_path / "D_cond.npz"), "--seeds", "0", "--outdir", str(tmp_path / "o"))
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert "holds a discriminator, but a generator is needed" in r.stderr, r.stderr


def test_convert_checks_where_it_writes_before_reading_the_network(tmp_path):
    """An unwritable output named the hidden temporary file (exit 1), a file in the way said 'File
    exists (afile)', and a refused conversion left the folders it made."""
    src = str(FIXTURES / "G_tiny_resnet.npz")
    (tmp_path / "afile").write_text("notes")
    cases = [("/proc/x.pt", [], "error: cannot write /proc/x.pt: "),
             (str(tmp_path / "afile" / "x.pt"), [], f"error: {tmp_path / 'afile' / 'x.pt'}: {tmp_path / 'afile'} is a "
                                                     "file, not a folder"),
             (str(tmp_path / "new" / "deeper" / "x.pt"), ["--to", "rosinality"], "skip")]  # (refused: resnet)
    for dst, extra, says in cases:
        r = run_cli("stylegan-convert", src, dst, *extra)
        assert r.returncode == 2 and "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr
        assert says in r.stderr and ".tmp" not in r.stderr, r.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["afile"]  # new/deeper/ made, then removed again


def test_a_failed_write_names_the_file_asked_for(tmp_path):
    """A full disk while torch.save writes: torch's zip writer turns the OSError into 'RuntimeError:
    [enforce fail at inline_container.cc] unexpected pos' (a traceback in stylegan-convert); the
    error now is the OSError, naming the destination, and nothing is left behind."""
    import errno
    from core.files import atomic_write

    class FullDisk:
        def __init__(self, f, room):
            self.f, self.room = f, room

        def write(self, data):
            if len(data) > self.room:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            self.room -= len(data)
            return self.f.write(data)

        def flush(self):
            self.f.flush()

    import os
    dst = tmp_path / "net.pt"
    with pytest.raises(OSError) as info:
        atomic_write(dst, lambda f: torch.save({"w": torch.zeros(100_000)}, FullDisk(f, 50_000)))
    assert info.value.errno == errno.ENOSPC and info.value.filename == str(dst)
    assert list(tmp_path.iterdir()) == []


def test_a_file_that_cannot_be_opened_is_not_called_truncated(tmp_path, monkeypatch):
    """Permission denied said 'cannot read ([Errno 13] ...; truncated or not a network file?)'."""
    import core.checkpoints.read as read
    from core.errors import CheckpointError
    path = tmp_path / "G.pt"
    path.write_bytes(b"x" * 10)

    def denied(p):
        raise PermissionError(13, "Permission denied", str(p))
    monkeypatch.setattr(read, "_read", denied)
    with pytest.raises(CheckpointError) as info:
        read.read_network(path)
    assert str(info.value) == f"{path}: cannot be read (Permission denied)"


def test_config_values_of_the_wrong_kind_are_refused_when_read(tmp_path):
    """conv_clamp '256' in config_json converted (exit 0) and then failed in generate with a
    TypeError traceback; an ours.pt with z_dim '64' was a traceback too. Every field is checked
    against its kind when a config is built: one line naming the file and the field."""
    import json
    arrays = dict(np.load(FIXTURES / "G_tiny_skip.npz"))
    kwargs = json.loads(str(arrays["config_json"]))
    kwargs["synthesis_kwargs"]["conv_clamp"] = "256"
    arrays["config_json"] = np.array(json.dumps(kwargs))
    np.savez(tmp_path / "clamp_str.npz", **arrays)
    assert run_cli("stylegan-convert", str(FIXTURES / "G_tiny_skip.npz"), str(tmp_path / "ok.pt")).returncode == 0
    ours = torch.load(tmp_path / "ok.pt", weights_only=True)
    ours["G_config"]["z_dim"] = "64"
    torch.save(ours, tmp_path / "zdim_str.pt")
    for name, field in (("clamp_str.npz", "conv_clamp"), ("zdim_str.pt", "z_dim")):
        for cmd in (["stylegan-convert", str(tmp_path / name), str(tmp_path / f"{name}.pt")],
                    ["stylegan-generate", "--pkl", str(tmp_path / name), "--seeds", "0", "--outdir", str(tmp_path / "o")]):
            r = run_cli(*cmd)
            assert r.returncode == 2 and "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr
            assert name in r.stderr and f"GeneratorConfig.{field} must be" in r.stderr, r.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clamp_str.npz", "ok.pt", "zdim_str.pt"]
