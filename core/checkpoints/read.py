"""Reading every network file people have — the generator for `--pkl` (read_network) and whole
networks (G, G_ema, D, ADA p) for `stylegan-train --init` and `stylegan-convert --to networks`
(read_networks) — dispatched on what the file is, not its name:

    ours                  .pt, {"format": "stylegan-toolkit", ...} (torch.load weights_only)
    nvidia-npz            NVIDIA-named state dict + config_json (.npz)
    nvidia-pytorch        stylegan2-ada-pytorch / stylegan3 network pickle (.pkl; StyleGAN3-T/-R too)
    nvidia-tf-stylegan2   TensorFlow pickle (G, D, Gs) of NVIDIA's stylegan2 / stylegan2-ada
    nvidia-tf-stylegan1   TensorFlow pickle (G, D, Gs) of NVIDIA's stylegan (version 3 pickles)
    rosinality            rosinality/stylegan2-pytorch checkpoint (.pt with g_ema)

Pickles go through core/checkpoints/safe_unpickle.py (an allowlist; no code from the file ever
runs). Where a file does not state the architecture, it is inferred from the tensors' names and
shapes. Whole networks come back in the shape of our own networks file, so the training loop takes
one kind of input; a file with only a generator gives D from scratch.
"""

from __future__ import annotations

import warnings
import zipfile
from pathlib import Path
import torch

from core.files import looks_like
from core.errors import first_line
from core.checkpoints.ours import read_checkpoint
from core.errors import CheckpointError
from core.networks.config import GeneratorConfig
from core.checkpoints.safe_unpickle import PersistentObject, TFNetwork, UnsafeFileError, load_pickle, load_torch
from core.checkpoints.network_file import _generator_state, _pack, NetworkFile
from core.checkpoints.nvidia_pytorch import from_nvidia_pytorch
from core.checkpoints.nvidia_tf import from_nvidia_tf
from core.checkpoints.rosinality import from_rosinality
from core.checkpoints.nvidia_pytorch import _from_nvidia_pytorch
from core.checkpoints.rosinality import _from_rosinality
from core.checkpoints.nvidia_tf import _from_tf


def read_network(path: str | Path) -> NetworkFile:
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"{path}: no such file")
    if path.is_dir():
        raise CheckpointError(f"{path}: is a folder, not a network file")
    if path.stat().st_size == 0:
        raise CheckpointError(f"{path}: file is empty")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return _read(path)
    except CheckpointError as exc:
        if str(exc).startswith(str(path)):
            raise
        raise CheckpointError(f"{path}: {exc}") from None
    except UnsafeFileError as exc:
        raise CheckpointError(f"{path}: {exc} (nothing from the file was run)") from None
    except (ValueError, KeyError, TypeError, IndexError, AttributeError) as exc:
        raise CheckpointError(f"{path}: not a network this toolkit understands ({first_line(exc)})") from None
    except OSError as exc:
        if exc.errno is None:  # (e.g. gzip's BadGzipFile: the bytes, not the file system)
            raise CheckpointError(f"{path}: cannot read ({first_line(exc)}; truncated or not a network file?)") from None
        raise CheckpointError(f"{path}: cannot be read ({exc.strerror or first_line(exc)})") from None
    except Exception as exc:  # unpickling arbitrary bytes can raise almost anything
        raise CheckpointError(f"{path}: cannot read ({first_line(exc)}; truncated or not a network file?)") from None


def _read(path: Path) -> NetworkFile:
    if _is_npz(path):
        from core.checkpoints.nvidia_npz import read_nvidia_npz
        from core.checkpoints.safe_unpickle import check_zip
        check_zip(path)
        config, state = read_nvidia_npz(path, expect="generator")
        return NetworkFile("nvidia-npz", config, state)
    return _from_data(path, _read_data(path))


def _is_npz(path: Path) -> bool:
    if not zipfile.is_zipfile(path):
        return False
    with zipfile.ZipFile(path) as z:
        names = z.namelist()
    return any(n.endswith(".npy") for n in names) and not any(n.endswith("data.pkl") for n in names)


def _read_data(path: Path):
    """The unpickled contents of a torch file or a pickle (through the allowlist); None for an .npz."""
    with open(path, "rb") as f:
        head = f.read(8)
    if zipfile.is_zipfile(path):
        return None if _is_npz(path) else _torch_zip(path)
    if head[:4] == b"PK\x03\x04":
        raise CheckpointError(f"{path}: truncated or corrupt (a zip archive without its directory)")
    if head[:1] == b"\x80":
        return _plain_or_legacy_pickle(path)
    raise CheckpointError(f"{path}: not a network file ({looks_like(path)})")


def _torch_zip(path: Path):
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception:
        return load_torch(path)  # e.g. rosinality's argparse.Namespace, through the allowlist


_TORCH_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C  # the first pickle of torch's pre-1.6 format


def _is_legacy_torch(path: Path) -> bool:
    """Whether the file's first pickle is torch's legacy magic number, read from its first opcodes
    (pickletools: nothing is unpickled), so that a plain pickle (a 360 MB NVIDIA .pkl) is parsed
    once, not first tried as a torch file and failing at its end."""
    import pickletools
    try:
        with open(path, "rb") as f:
            for op, arg, _ in pickletools.genops(f):
                if op.name in ("PROTO", "FRAME"):
                    continue
                return op.name in ("LONG1", "LONG4", "LONG", "INT") and arg == _TORCH_LEGACY_MAGIC
    except Exception:  # (a damaged stream: the readers below say what is wrong)
        return False
    return False


def _plain_or_legacy_pickle(path: Path):
    """torch's legacy (pre-1.6) format, or a plain pickle (NVIDIA's .pkl)."""
    if _is_legacy_torch(path):
        try:
            return torch.load(path, map_location="cpu", weights_only=True)
        except Exception:
            return load_torch(path)  # legacy torch files with other objects, through the allowlist
    try:
        return load_pickle(path)
    except EOFError:
        raise CheckpointError(f"{path}: the pickle ends early (truncated file)") from None


def _from_data(path: Path, data) -> NetworkFile:
    if isinstance(data, dict) and data.get("format") == "stylegan-toolkit":
        d = read_checkpoint(path)
        return NetworkFile("ours", GeneratorConfig.from_dict(d["G_config"]), d["G_ema"])
    if isinstance(data, dict) and isinstance(data.get("G_ema"), PersistentObject):
        return from_nvidia_pytorch(data["G_ema"])
    if isinstance(data, tuple) and len(data) == 3 and all(isinstance(n, TFNetwork) for n in data):
        return from_nvidia_tf(data[2])
    if isinstance(data, TFNetwork):
        return from_nvidia_tf(data)
    if isinstance(data, dict) and ("g_ema" in data or "g" in data):
        return from_rosinality(data)
    kind = type(data).__name__
    keys = f" with keys {', '.join(map(str, list(data)[:6]))}" if isinstance(data, dict) else ""
    raise CheckpointError(f"{path}: not a StyleGAN generator file (a {kind}{keys})")


def read_networks(path: str | Path) -> dict:
    """-> {"format", "version", "G_config", "G_ema", optional "D_config" and "networks": {"G", "D",
    "ada_p"}, "meta": {"source_format", "notes"}} (tensors on the CPU). Raises CheckpointError."""
    path = Path(path)
    try:
        return read_checkpoint(path)  # ours: snapshots, networks files, generator-only files
    except CheckpointError:
        if not path.is_file() or path.stat().st_size == 0:
            raise  # (no such file, a folder, an empty file: said as for our own format)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            data = _read_data(path)
    except CheckpointError:
        raise
    except UnsafeFileError as exc:
        raise CheckpointError(f"{path}: {exc} (nothing from the file was run)") from None
    except Exception as exc:
        raise CheckpointError(f"{path}: cannot read ({first_line(exc, 120)})") from None
    try:
        if isinstance(data, dict) and isinstance(data.get("G_ema"), PersistentObject):
            return _from_nvidia_pytorch(data, path)
        if isinstance(data, dict) and ("g_ema" in data or "g" in data):
            return _from_rosinality(data, path)
        if isinstance(data, tuple) and len(data) == 3 and all(isinstance(n, TFNetwork) for n in data) \
                and not any(k.endswith("/StyleMod/weight") for k, _ in data[2].variables):  # (not StyleGAN1)
            return _from_tf(data, path)
    except CheckpointError as exc:
        if str(exc).startswith(str(path)):
            raise
        raise CheckpointError(f"{path}: {exc}") from None
    except (KeyError, ValueError, TypeError, IndexError, AttributeError) as exc:
        raise CheckpointError(f"{path}: not a network this toolkit understands ({str(exc)[:120]})") from None
    f = read_network(path)  # a generator-only format
    return _pack(f, path, G_ema=_generator_state(f, path), notes=f.notes + ["the file holds no discriminator that "
                                                                             "this toolkit reads: D starts from scratch"])


