"""Our checkpoint format: exact round trips, atomic writes, one clear error for every bad file."""

import os
import pickle
from pathlib import Path

import pytest
import torch

from conftest import fixture_generator
from core import Generator, GeneratorConfig, load_generator, save_generator
from core.errors import CheckpointError
from core.checkpoints.ours import atomic_save, read_checkpoint


def test_round_trip_is_exact(tmp_path):
    G = fixture_generator("resnet")
    save_generator(tmp_path / "g.pt", G, meta={"note": "x"})
    data = torch.load(tmp_path / "g.pt", weights_only=True)  # plain data only
    assert data["version"] == 1 and data["meta"] == {"note": "x"}
    G2 = load_generator(tmp_path / "g.pt")
    assert G2.config == G.config
    for k, v in G.state_dict().items():
        assert torch.equal(v, G2.state_dict()[k]), k
    assert not G2.training and not any(p.requires_grad for p in G2.parameters())


def test_stylegan1_round_trip_keeps_stage(tmp_path):
    G = Generator(GeneratorConfig(arch="stylegan1", z_dim=8, w_dim=8, img_resolution=16, channel_base=64,
                                  channel_max=8, mapping_layers=1))
    G.synthesis.set_stage(8, 0.25)
    save_generator(tmp_path / "g1.pt", G)
    G2 = load_generator(tmp_path / "g1.pt")
    assert int(G2.synthesis.stage_resolution) == 8 and float(G2.synthesis.stage_alpha) == 0.25
    z = torch.randn(2, 8)
    assert torch.equal(G(z, noise_mode="const"), G2(z, noise_mode="const"))


def test_atomic_save_keeps_old_file_on_failure(tmp_path):
    target = tmp_path / "snap.pt"
    atomic_save({"a": torch.ones(2)}, target)

    class Boom:
        def __reduce__(self):
            raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        atomic_save({"a": Boom()}, target)
    assert torch.equal(torch.load(target, weights_only=True)["a"], torch.ones(2))
    assert [p.name for p in tmp_path.iterdir()] == ["snap.pt"]  # no temp files left


class Evil:
    def __reduce__(self):
        return (os.system, (f"touch {Evil.marker}",))


def bad_files(tmp_path: Path) -> dict[str, Path]:
    G = fixture_generator("skip")
    good = tmp_path / "good.pt"
    save_generator(good, G)
    files = {"missing": tmp_path / "nope.pt", "folder": tmp_path}
    (tmp_path / "empty.pt").write_bytes(b"")
    files["empty"] = tmp_path / "empty.pt"
    (tmp_path / "trunc.pt").write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    files["truncated"] = tmp_path / "trunc.pt"
    (tmp_path / "random.pt").write_bytes(os.urandom(5000))
    files["random"] = tmp_path / "random.pt"
    torch.save({"weights": torch.ones(3)}, tmp_path / "other.pt")
    files["not ours"] = tmp_path / "other.pt"
    torch.save({"format": "stylegan-toolkit", "version": 2, "G_config": {}, "G_ema": {}}, tmp_path / "v2.pt")
    files["version"] = tmp_path / "v2.pt"
    data = torch.load(good, weights_only=True)
    data["G_ema"].pop("mapping.fc0.weight")
    torch.save(data, tmp_path / "incomplete.pt")
    files["missing weight"] = tmp_path / "incomplete.pt"
    data = torch.load(good, weights_only=True)
    data["G_config"]["img_resolution"] = 48
    torch.save(data, tmp_path / "badcfg.pt")
    files["bad config"] = tmp_path / "badcfg.pt"
    Evil.marker = tmp_path / "PWNED"
    torch.save({"format": "stylegan-toolkit", "x": Evil()}, tmp_path / "evil_torch.pt")
    files["evil torch.save"] = tmp_path / "evil_torch.pt"
    with open(tmp_path / "evil.pkl", "wb") as f:
        pickle.dump(Evil(), f)
    files["evil pickle"] = tmp_path / "evil.pkl"
    return files


def test_every_bad_file_is_one_clear_error(tmp_path):
    for what, path in bad_files(tmp_path).items():
        with pytest.raises(CheckpointError) as exc:
            load_generator(path)
        msg = str(exc.value)
        assert "\n" not in msg and str(path) in msg, (what, msg)
    assert not (tmp_path / "PWNED").exists()  # the payload never ran


def test_specific_messages(tmp_path):
    files = bad_files(tmp_path)
    expect = {"missing": "no such file", "empty": "empty", "truncated": "truncated or corrupt",
              "version": "version 2 is not supported", "not ours": "not a StyleGAN generator file",
              "evil torch.save": "refused global posix.system", "evil pickle": "refused global posix.system",
              "missing weight": "missing mapping.fc0.weight", "bad config": "power of two"}
    for what, text in expect.items():
        with pytest.raises(CheckpointError, match=text):
            load_generator(files[what])


def test_read_checkpoint_needs_generator(tmp_path):
    torch.save({"format": "stylegan-toolkit", "version": 1}, tmp_path / "x.pt")
    with pytest.raises(CheckpointError, match="no G_config"):
        read_checkpoint(tmp_path / "x.pt")
