"""Every foreign format, built in its real on-disk structure from known weights, loads and renders
what our network renders; hostile files are refused without running anything; round trips are exact."""

import os
import pickle
import sys
import zipfile

import pytest
import torch

from conftest import FIXTURES, TOL, fixture_generator, load_npz, max_abs, run_cli
from core import Generator, GeneratorConfig, load_generator
from core.errors import CheckpointError
from core.checkpoints.read import read_network
from format_builders import (fake_modules, write_nvidia_pkl, write_rosinality_pt, write_tf_stylegan1_pkl,
                             write_tf_stylegan2_pkl)

ARCHS = ["skip", "resnet", "orig"]


def render(G, z):
    with torch.no_grad():
        return G(z, noise_mode="const")


@pytest.mark.parametrize("arch", ARCHS)
@pytest.mark.parametrize("fmt,writer,kind", [("nvidia.pkl", write_nvidia_pkl, "nvidia-pytorch"),
                                             ("tf2.pkl", write_tf_stylegan2_pkl, "nvidia-tf-stylegan2"),
                                             ("rosinality.pt", write_rosinality_pt, "rosinality")])
def test_official_weights_in_every_format(tmp_path, arch, fmt, writer, kind):
    if kind == "rosinality" and arch != "skip":
        pytest.skip("rosinality's generator is the skip architecture")
    path = tmp_path / fmt
    writer(fixture_generator(arch), path)
    assert read_network(path).kind == kind
    G = load_generator(path)
    out = load_npz(f"G_tiny_{arch}_out.npz")
    for p, psi in enumerate(out["truncation_psi"]):
        for s in range(len(out["seeds"])):
            img = G(torch.from_numpy(out["z"][s: s + 1]), truncation_psi=float(psi), noise_mode="const")
            assert max_abs(img[0], out["img_const"][p, s]) <= TOL


def test_stylegan1_tensorflow_pickle(tmp_path):
    """A version-3 TF pickle (NVIDIA's own converter refuses these), 256x256 so that the fused
    upsampling layers (>= 128) are covered too."""
    torch.manual_seed(0)
    G = Generator(GeneratorConfig(arch="stylegan1", z_dim=32, w_dim=32, img_resolution=256, channel_base=1024,
                                  channel_max=16, mapping_layers=2)).eval()
    with torch.no_grad():
        for p in G.parameters():
            p.add_(0.1 * torch.randn_like(p))
        G.mapping.w_avg.normal_()
    write_tf_stylegan1_pkl(G, tmp_path / "karras2019stylegan.pkl")
    f = read_network(tmp_path / "karras2019stylegan.pkl")
    assert f.kind == "nvidia-tf-stylegan1" and f.config.arch == "stylegan1"
    G2 = load_generator(tmp_path / "karras2019stylegan.pkl")
    z = torch.randn(3, 32)
    assert max_abs(render(G2, z), render(G, z)) <= TOL
    with torch.no_grad():
        assert max_abs(G2(z, truncation_psi=0.7, noise_mode="const"), G(z, truncation_psi=0.7, noise_mode="const")) <= TOL


def test_rosinality_without_latent_avg_computes_it(tmp_path):
    G = fixture_generator("skip")
    write_rosinality_pt(G, tmp_path / "r.pt", with_latent_avg=False)
    notes = []
    G2 = load_generator(tmp_path / "r.pt", notes=notes)
    assert any("computed it from 10,000 samples" in n for n in notes)
    # The estimate is close to the fixture's own w_avg (the mean of 4096 samples).
    assert float((G2.mapping.w_avg - G.mapping.w_avg).norm() / G.mapping.w_avg.norm()) < 0.05


def test_stylegan3_pickle_with_weights_that_do_not_fit_is_refused(tmp_path):
    """A pickle with StyleGAN3's Fourier-feature input but settings that do not build its tensors."""
    write_nvidia_pkl(fixture_generator("skip"), tmp_path / "sg3.pkl", stylegan3=True)
    with pytest.raises(CheckpointError, match="do not fit its weights") as exc:
        load_generator(tmp_path / "sg3.pkl")
    assert "\n" not in str(exc.value)


def test_unknown_extra_keys_do_not_abort(tmp_path):
    G = fixture_generator("skip")
    write_rosinality_pt(G, tmp_path / "r.pt")
    data = torch.load(tmp_path / "r.pt", weights_only=False)
    data["something_new"] = {"lr": 0.002}
    torch.save(data, tmp_path / "r2.pt")
    z = torch.randn(2, 64)
    assert max_abs(render(load_generator(tmp_path / "r2.pt"), z), render(G, z)) == 0


# ------------------------------------------------------------------------------- security ---

class SystemCall:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


class EvalCall:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return eval, (f"open({str(self.marker)!r}, 'w')",)


class ExecCall(EvalCall):
    def __reduce__(self):
        return exec, (f"open({str(self.marker)!r}, 'w')",)


@pytest.mark.parametrize("payload,refused", [(SystemCall, "posix.system"), (EvalCall, "builtins.eval"),
                                             (ExecCall, "builtins.exec")])
def test_code_in_pickles_is_refused_and_never_runs(tmp_path, payload, refused):
    marker = tmp_path / "PWNED"
    for name, save in [("plain.pkl", lambda obj, f: pickle.dump(obj, f)), ("torch.pt", torch.save)]:
        path = tmp_path / name
        with open(path, "wb") as f:
            save({"G_ema": payload(marker)}, f)
        with pytest.raises(CheckpointError) as exc:
            load_generator(path)
        assert refused in str(exc.value) and "\n" not in str(exc.value)
    assert not marker.exists()


def test_persistent_class_source_is_never_executed(tmp_path):
    """NVIDIA's loader execs the class source stored in the pickle; ours never does."""
    marker = tmp_path / "PWNED"
    evil_src = f"import os\nos.system('touch {marker}')\nclass Generator: pass\n"
    G = fixture_generator("skip")
    # A real-looking network pickle whose stored source has a side effect: loads, source ignored.
    write_nvidia_pkl(G, tmp_path / "net.pkl", module_src=evil_src)
    assert max_abs(render(load_generator(tmp_path / "net.pkl"), torch.ones(1, 64)), render(G, torch.ones(1, 64))) == 0
    # A persistent object that is no generator at all: refused with a clear error.
    import format_builders as fb
    with fake_modules(**{"torch_utils.persistence": {"_reconstruct_persistent_obj": fb._reconstruct_persistent_obj}}):
        obj = fb._persistent_module(torch.nn.Module(), "Evil", evil_src)
        with open(tmp_path / "evil.pkl", "wb") as f:
            pickle.dump(obj, f)
    with pytest.raises(CheckpointError, match="not a StyleGAN generator file"):
        load_generator(tmp_path / "evil.pkl")
    assert not marker.exists()


def test_broken_inputs_one_clear_error(tmp_path):
    G = fixture_generator("skip")
    write_nvidia_pkl(G, tmp_path / "good.pkl")
    blob = (tmp_path / "good.pkl").read_bytes()
    cases = {"truncated.pkl": blob[: len(blob) // 3], "empty.pkl": b"", "random.pkl": os.urandom(4096),
             "random2.pt": b"\x80" + os.urandom(4096)}
    for name, data in cases.items():
        (tmp_path / name).write_bytes(data)
    # A zip bomb: one member of zeros compressed ~1000:1.
    bomb = tmp_path / "bomb.pt"
    with zipfile.ZipFile(bomb, "w", compression=zipfile.ZIP_DEFLATED) as z:
        z.writestr("archive/data.pkl", b"\0" * (64 << 20))
    cases["bomb.pt"] = None
    for name in cases:
        with pytest.raises(CheckpointError) as exc:
            load_generator(tmp_path / name)
        msg = str(exc.value)
        assert "\n" not in msg and name in msg, msg
    with pytest.raises(CheckpointError, match="zip bomb"):
        load_generator(bomb)


# ----------------------------------------------------------------------------- round trips ---

def test_round_trips_are_exact(tmp_path):
    for arch in ARCHS:
        npz = tmp_path / f"{arch}.npz"
        r = run_cli("stylegan-convert", str(FIXTURES / f"G_tiny_{arch}.npz"), str(tmp_path / f"{arch}.pt"))
        assert r.returncode == 0, r.stderr
        assert run_cli("stylegan-convert", str(tmp_path / f"{arch}.pt"), str(npz)).returncode == 0
        assert run_cli("stylegan-convert", str(npz), str(tmp_path / f"{arch}-back.pt")).returncode == 0
        a = torch.load(tmp_path / f"{arch}.pt", weights_only=True)["G_ema"]
        b = torch.load(tmp_path / f"{arch}-back.pt", weights_only=True)["G_ema"]
        assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    # ours -> rosinality -> ours (a layout in rosinality's channel table: channel_max 512)
    from core import Generator, GeneratorConfig
    from core.checkpoints.ours import save_generator
    torch.manual_seed(0)
    save_generator(tmp_path / "skip.pt", Generator(GeneratorConfig(z_dim=32, w_dim=32, img_resolution=8,
                                                                   mapping_layers=2, channel_base=16384)))
    ros, back = tmp_path / "ros.pt", tmp_path / "back.pt"
    r = run_cli("stylegan-convert", str(tmp_path / "skip.pt"), str(ros), "--to", "rosinality")
    assert r.returncode == 0, r.stderr
    r = run_cli("stylegan-convert", str(ros), str(back))
    assert r.returncode == 0 and "from rosinality" in r.stdout, r.stderr
    a = torch.load(tmp_path / "skip.pt", weights_only=True)["G_ema"]
    b = torch.load(back, weights_only=True)["G_ema"]
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_every_format_through_the_generate_cli(tmp_path):
    G = fixture_generator("resnet")
    write_nvidia_pkl(G, tmp_path / "n.pkl")
    write_tf_stylegan2_pkl(G, tmp_path / "t.pkl")
    outs = []
    for name in ("n.pkl", "t.pkl"):
        r = run_cli("stylegan-generate", "--pkl", str(tmp_path / name), "--seeds", "3", "--outdir", str(tmp_path / name[0]))
        assert r.returncode == 0, r.stderr
        outs.append((tmp_path / name[0] / "seed0003.png").read_bytes())
    assert outs[0] == outs[1]


def test_convert_refuses_what_rosinality_cannot_hold(tmp_path):
    r = run_cli("stylegan-convert", str(FIXTURES / "G_tiny_resnet.npz"), str(tmp_path / "r.pt"), "--to", "rosinality")
    assert r.returncode == 2 and "skip" in r.stderr
    assert not (tmp_path / "r.pt").exists()


if __name__ == "__main__":
    sys.exit(pytest.main([__file__]))


def test_legacy_torch_files_load_and_a_pickle_is_read_once(tmp_path, monkeypatch):
    """torch's pre-1.6 format (rosinality's older checkpoints) is told from a plain pickle by its
    first opcodes: an NVIDIA .pkl used to be unpickled as a torch file first, failing only at its
    end (up to four parses of a 360 MB file per command)."""
    import core.checkpoints.read as read
    G = fixture_generator("skip")
    write_rosinality_pt(G, tmp_path / "new.pt")
    data = torch.load(tmp_path / "new.pt", weights_only=False)
    torch.save(data, tmp_path / "legacy.pt", _use_new_zipfile_serialization=False)
    z = torch.randn(2, G.z_dim)
    assert max_abs(render(load_generator(tmp_path / "legacy.pt"), z), render(G, z)) <= TOL
    write_nvidia_pkl(G, tmp_path / "nv.pkl")
    tried = []
    monkeypatch.setattr(read, "load_torch", lambda *a, **k: tried.append(a) or (_ for _ in ()).throw(AssertionError))
    real_load = torch.load
    monkeypatch.setattr(read.torch, "load", lambda f, *a, **k: (tried.append(f) if isinstance(f, (str, os.PathLike))
                                                                else None) or real_load(f, *a, **k))  # (the file)
    assert read.read_network(tmp_path / "nv.pkl").kind == "nvidia-pytorch" and tried == []
