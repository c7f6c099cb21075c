"""The one reader and writer of W / W+ `.npz` files, for stylegan-generate and the explorer.

A W+ holds one w per synthesis layer: [N, num_ws, w_dim], float32. These layouts are read:

    array 'w'    [N, num_ws, w_dim]    N images' W+. stylegan-generate --save-ws writes
                                       [1, num_ws, w_dim]; NVIDIA's projector writes
                                       projected_w.npz with 'w' of [1, num_ws, w_dim].
    array 'w'    [w_dim] or [1, w_dim] one W (the mapping's output before it is repeated per
                                       layer), broadcast to every layer: [1, num_ws, w_dim].
    array 'ws'   either of the above, in a file that has no 'w' (an older name).

Anything else is refused, among it a W+ from a network of another depth or width and any other
2-D array ([num_ws, w_dim] could be one W+ or num_ws separate W). The message is one line that
names the file, the shape found and the shape this network needs.

The stored W+ is final: it was truncated (or projected) before it was saved, so it is used as it
is, never truncated again (NVIDIA's generate.py --projected-w does the same).

Other arrays in the file come back as `meta`. stylegan-generate stores seed, truncation_psi,
truncation_cutoff, noise_mode, noise_strength and noise_seed. `keys` are what each row's random
noise is keyed by: the stored seeds when there is one per row, otherwise the row numbers.

Errors: UsageError (core/errors.py), one line starting with the file's path, which every command's
entry (exit status 2) and the explorer's renderer (a status line) report without a traceback.

write_ws_file writes through core/files.py (temporary name, fsync, rename), so a crash never leaves
half a file under the real name.
"""

from __future__ import annotations

import os
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from core.errors import UsageError, first_line
from core.files import atomic_write

KEYS = ("w", "ws")  # the W+ array's name; 'ws' only where there is no 'w'


@dataclass
class WFile:
    ws: torch.Tensor  # [N, num_ws, w_dim] float32, on the CPU
    keys: list[int]  # one per row: the noise key (stored seed, else row number)
    meta: dict[str, np.ndarray] = field(default_factory=dict)  # the file's other arrays


def _needs(num_ws: int, w_dim: int) -> str:
    return f"[N, {num_ws}, {w_dim}] (or one W: [{w_dim}] or [1, {w_dim}])"


def _arrays(path: Path) -> dict[str, np.ndarray]:
    """Every array of a .npz, never unpickling anything."""
    try:
        data = np.load(path, allow_pickle=False)
        if isinstance(data, np.lib.npyio.NpzFile):
            with data:
                return {k: data[k] for k in data.files}
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as exc:
        raise UsageError(f"{path}: not a readable .npz file ({first_line(exc, 120)})") from None
    raise UsageError(f"{path}: not a .npz file (a single .npy array?)")


def read_ws_file(path: str | os.PathLike, num_ws: int, w_dim: int) -> WFile:
    """Read a W / W+ .npz (the layouts in the module docstring) for a network with num_ws layers
    of width w_dim."""
    path = Path(path)
    if not path.exists():
        raise UsageError(f"{path}: no such file")
    if path.is_dir():
        raise UsageError(f"{path}: is a folder, not a .npz file")
    arrays = _arrays(path)

    key = next((k for k in KEYS if k in arrays), None)
    if key is None:
        raise UsageError(f"{path}: no 'w' array (a W+ file holds 'w' of shape {_needs(num_ws, w_dim)})")
    ws = arrays.pop(key)
    if not (np.issubdtype(ws.dtype, np.floating) or np.issubdtype(ws.dtype, np.integer)):
        raise UsageError(f"{path}: '{key}' holds {ws.dtype} values, not real numbers")
    shape = list(ws.shape)
    if shape in ([w_dim], [1, w_dim]):
        ws = np.repeat(ws.reshape(1, 1, w_dim), num_ws, axis=1)  # one W for every layer
    elif ws.ndim == 3 and shape[1:] != [num_ws, w_dim]:
        raise UsageError(f"{path}: W+ of shape {shape} does not fit this network, which needs "
                         f"[N, {num_ws}, {w_dim}]: the file has {shape[1]} layers of width {shape[2]}, "
                         f"the network {num_ws} of width {w_dim} (a file from a model of another size)")
    elif ws.ndim == 2 and shape == [num_ws, w_dim]:
        raise UsageError(f"{path}: W of shape {shape} does not fit this network, which needs "
                         f"{_needs(num_ws, w_dim)}; save one image's W+ as [1, {num_ws}, {w_dim}]")
    elif ws.ndim != 3:
        raise UsageError(f"{path}: W of shape {shape} does not fit this network, which needs "
                         f"{_needs(num_ws, w_dim)}")
    if len(ws) == 0:
        raise UsageError(f"{path}: holds no W+ (shape {shape})")

    seeds = arrays.get("seed")
    seeds = None if seeds is None else seeds.reshape(-1)
    if seeds is not None and len(seeds) == len(ws) and np.issubdtype(seeds.dtype, np.number):
        keys = [int(k) for k in seeds]  # as the images were made (stylegan-generate --save-ws)
    else:
        keys = list(range(len(ws)))
    return WFile(torch.from_numpy(ws.astype(np.float32)), keys, arrays)


def write_ws_file(path: str | os.PathLike, ws, **meta) -> None:
    """Write W+ [N, num_ws, w_dim] as 'w' (float32), and each meta value that is not None as an
    array of its own, atomically."""
    ws = ws.detach().cpu().numpy() if isinstance(ws, torch.Tensor) else np.asarray(ws)
    if ws.ndim != 3:
        raise UsageError(f"W+ to save must be [N, num_ws, w_dim], got {list(ws.shape)}")
    clash = [k for k in meta if k in KEYS]
    if clash:
        raise UsageError(f"{clash[0]!r} is the W+ array's name and cannot be meta")
    arrays = {"w": ws.astype(np.float32), **{k: np.asarray(v) for k, v in meta.items() if v is not None}}
    atomic_write(Path(path), lambda f: np.savez(f, **arrays))


