"""Reading foreign checkpoint pickles without running any of their code.

NVIDIA's loaders unpickle with the full pickle machinery and exec the network source code stored in
the file (torch_utils.persistence): opening a downloaded model can run anything. Here every global a
pickle names must be on an allowlist: tensor and array rebuilders map to PyTorch's and NumPy's own
(data only), the classes of NVIDIA's and rosinality's files map to inert containers that keep their
state and never import or execute the stored source. Any other global is refused, by name.
"""

from __future__ import annotations

import io
import pickle
import zipfile
from collections import OrderedDict
from pathlib import Path
from typing import Any

import numpy as np
import torch

MAX_EXPANDED_BYTES = 16 << 30  # a zip member set expanding beyond this is refused
MAX_RATIO = 200  # ... and so is one compressed more than this (zip bombs)


class UnsafeFileError(pickle.UnpicklingError):
    """A pickle that asked for something outside the allowlist."""


class PersistentObject:
    """NVIDIA torch_utils.persistence object: its class name, source (never run) and state."""

    def __init__(self, meta: dict):
        self.meta = meta if isinstance(meta, dict) else {}
        self.class_name = self.meta.get("class_name")
        self.module_src = self.meta.get("module_src") or ""
        self.state = self.meta.get("state") or {}


class TFNetwork:
    """NVIDIA dnnlib.tflib.network.Network (TensorFlow pickles): name, kwargs, variables, components."""

    def __setstate__(self, state: dict) -> None:
        self.state = state if isinstance(state, dict) else {}
        self.version = self.state.get("version")
        self.name = self.state.get("name")
        self.static_kwargs = dict(self.state.get("static_kwargs") or {})
        self.components = dict(self.state.get("components") or {})
        self.variables = list(self.state.get("variables") or [])


class Inert(dict):
    """Containers whose contents are kept as plain data (EasyDict, argparse.Namespace, ...)."""

    def __setstate__(self, state) -> None:
        if isinstance(state, dict):
            self.update(state)

    def __getattr__(self, name):
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None


def _load_storage_bytes(data: bytes):
    """torch.storage._load_from_bytes, without its weights_only=False."""
    return torch.load(io.BytesIO(data), weights_only=True)


def _reconstruct_persistent(meta):
    return PersistentObject(meta)


_multiarray = np._core.multiarray if hasattr(np, "_core") else np.core.multiarray
_numeric = np._core.numeric if hasattr(np, "_core") else np.core.numeric


_TORCH_STORAGES = ["FloatStorage", "DoubleStorage", "HalfStorage", "BFloat16Storage", "LongStorage",
                   "IntStorage", "ShortStorage", "CharStorage", "ByteStorage", "BoolStorage",
                   "UntypedStorage", "TypedStorage"]
_TORCH_DTYPES = ["float32", "float64", "float16", "bfloat16", "int64", "int32", "int16", "int8", "uint8", "bool"]

ALLOWED: dict[tuple[str, str], Any] = {
    ("collections", "OrderedDict"): OrderedDict,
    ("builtins", "set"): set,
    ("builtins", "frozenset"): frozenset,
    ("builtins", "slice"): slice,
    ("builtins", "complex"): complex,
    ("torch._utils", "_rebuild_tensor"): torch._utils._rebuild_tensor,
    ("torch._utils", "_rebuild_tensor_v2"): torch._utils._rebuild_tensor_v2,
    ("torch._utils", "_rebuild_parameter"): torch._utils._rebuild_parameter,
    ("torch.storage", "_load_from_bytes"): _load_storage_bytes,
    ("torch", "Size"): torch.Size,
    ("torch", "device"): torch.device,
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
    ("numpy.core.multiarray", "_reconstruct"): _multiarray._reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): _multiarray._reconstruct,
    ("numpy.core.numeric", "_frombuffer"): _numeric._frombuffer,  # arrays in protocol-5 pickles
    ("numpy._core.numeric", "_frombuffer"): _numeric._frombuffer,
    ("numpy.core.multiarray", "scalar"): _multiarray.scalar,
    ("numpy._core.multiarray", "scalar"): _multiarray.scalar,
    # Classes of the files we read: inert stand-ins.
    ("torch_utils.persistence", "_reconstruct_persistent_obj"): _reconstruct_persistent,
    ("dnnlib.tflib.network", "Network"): TFNetwork,
    ("dnnlib", "EasyDict"): Inert,
    ("dnnlib.util", "EasyDict"): Inert,
    ("argparse", "Namespace"): Inert,
}
ALLOWED.update({("torch", name): getattr(torch, name) for name in _TORCH_STORAGES if hasattr(torch, name)})
ALLOWED.update({("torch", name): getattr(torch, name) for name in _TORCH_DTYPES})
ALLOWED.update({("torch.storage", name): getattr(torch.storage, name) for name in ("UntypedStorage", "TypedStorage")})


class RestrictedUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str):
        try:
            return ALLOWED[(module, name)]
        except KeyError:
            module = "builtins" if module == "__builtin__" else module  # protocol-2 pickles spell it the Python 2 way
            raise UnsafeFileError(f"refused global {module}.{name}") from None


class _RestrictedPickleModule:
    """What torch.load's `pickle_module` needs: our Unpickler, the standard load/errors."""
    Unpickler = RestrictedUnpickler
    UnpicklingError = pickle.UnpicklingError
    __name__ = "restricted_pickle"

    @staticmethod
    def load(f, **kwargs):
        return RestrictedUnpickler(f, **kwargs).load()


def check_zip(path: Path) -> None:
    """Refuse archives that would expand absurdly (zip bombs) before anything reads them."""
    try:
        with zipfile.ZipFile(path) as z:
            infos = z.infolist()
    except zipfile.BadZipFile:
        raise UnsafeFileError("corrupt zip archive (truncated?)") from None
    total = sum(i.file_size for i in infos)
    if total > MAX_EXPANDED_BYTES:
        raise UnsafeFileError(f"refused: the archive would expand to {total / 2**30:.1f} GiB")
    for i in infos:
        if i.file_size > (1 << 20) and i.compress_size * MAX_RATIO < i.file_size:
            raise UnsafeFileError(f"refused: {i.filename} is compressed {i.file_size // max(i.compress_size, 1)}:1 "
                                  "(a zip bomb?)")


def load_pickle(path: str | Path) -> Any:
    """A plain pickle (NVIDIA .pkl, TensorFlow or PyTorch) through the allowlist."""
    with open(path, "rb") as f:
        return RestrictedUnpickler(f).load()


def load_torch(path: str | Path) -> Any:
    """A torch.save file (zip format) through the allowlist (rosinality checkpoints hold argparse
    Namespaces, which weights_only refuses)."""
    if zipfile.is_zipfile(path):
        check_zip(Path(path))
    return torch.load(path, map_location="cpu", weights_only=False, pickle_module=_RestrictedPickleModule)
