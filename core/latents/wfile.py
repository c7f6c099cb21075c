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
truncation_cutoff, noise_mode, noise_strength and noise_seed, and for StyleGAN3 translate [2] and
rotate (degrees); the noise settings also come back, checked and as plain values, as `noise`, and
the input transform as `transform`. `keys` are what each row's random noise is keyed by: the
stored seeds when there is one per row, otherwise the row numbers.

Refused as well: values that are not finite (NaN, inf, or beyond float32), and saved noise
settings that are not one mode / strength / seed; a file that is not a zip archive (a PNG, a
single .npy array, a pickle) is called what its first bytes say it is.

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
from core.files import atomic_write, looks_like
from core.noise import NOISE_MODES

KEYS = ("w", "ws")  # the W+ array's name; 'ws' only where there is no 'w'


@dataclass
class WFile:
    ws: torch.Tensor  # [N, num_ws, w_dim] float32, on the CPU
    keys: list[int]  # one per row: the noise key (stored seed, else row number)
    meta: dict[str, np.ndarray] = field(default_factory=dict)  # the file's other arrays
    noise: dict = field(default_factory=dict)  # the saved noise settings, checked: noise_mode (str),
    # noise_strength (float), noise_seed (int), for the keys the file has
    transform: dict = field(default_factory=dict)  # StyleGAN3's saved input transform, checked:
    # translate ((x, y), image widths) and rotate (degrees), for the keys the file has


def _needs(num_ws: int, w_dim: int) -> str:
    return f"[N, {num_ws}, {w_dim}] (or one W: [{w_dim}] or [1, {w_dim}])"


_ZIP = (b"PK\x03\x04", b"PK\x05\x06")  # a .npz is a zip archive (the second: an empty one)


def _short(exc: BaseException, limit: int = 120) -> str:
    """A foreign exception's first line, cut at a word (never mid-word) when it is long."""
    text = first_line(exc, 1000)
    if len(text) <= limit:
        return text
    return text[:limit].rsplit(" ", 1)[0].rstrip(" ,.;:") + " ..."


W_FILE_IS = "a W/W+ file is a .npz archive holding an array 'w' (stylegan-generate --save-ws, NVIDIA's projector)"


def _not_npz(path: Path, expected: str) -> UsageError:
    """What a file that is not a zip archive seems to be (from its first bytes), and what was
    `expected`, in one line."""
    try:
        empty = path.stat().st_size == 0
    except OSError:
        empty = False
    what = "an empty file" if empty else looks_like(path)
    if what == "neither a pickle nor a zip archive":  # looks_like's words for network files
        what = "not a zip archive"
    return UsageError(f"{path}: not a .npz file ({what}); {expected}")


def read_npz(path: str | os.PathLike, expected: str = W_FILE_IS) -> dict[str, np.ndarray]:
    """Every array of a .npz by name (in the file's order), never unpickling anything. The file's
    first bytes decide what it is: anything but a zip archive (a PNG, a single .npy array, a pickle)
    is called what it seems to be, not what numpy's guess at it said, followed by `expected` (what
    such a file is: a W file's description by default). UsageError (one line naming the file) for a
    missing file, a folder, an unreadable or damaged file, pickled arrays."""
    path = Path(path)
    if not path.exists():
        raise UsageError(f"{path}: no such file")
    if path.is_dir():
        raise UsageError(f"{path}: is a folder, not a .npz file")
    try:
        with open(path, "rb") as f:
            head = f.read(4)
    except OSError as exc:
        raise UsageError(f"{path}: cannot be read ({exc.strerror or _short(exc)})") from None
    if not head.startswith(_ZIP):
        raise _not_npz(path, expected)
    arrays: dict[str, np.ndarray] = {}
    try:
        with zipfile.ZipFile(path) as z:
            for name in z.namelist():
                if not name.endswith(".npy"):
                    continue  # not an array (np.savez writes nothing else)
                key = name[:-len(".npy")]
                try:
                    with z.open(name) as f:
                        arrays[key] = np.lib.format.read_array(f, allow_pickle=False)
                except ValueError as exc:
                    if "allow_pickle" in str(exc) or "Object arrays" in str(exc):
                        raise UsageError(f"{path}: not a readable .npz file: array '{key}' holds pickled Python "
                                         "objects, which are never loaded") from None
                    raise UsageError(f"{path}: not a readable .npz file: array '{key}' is damaged "
                                     f"({_short(exc)})") from None
    except (OSError, EOFError, zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError) as exc:
        raise UsageError(f"{path}: not a readable .npz file (a damaged zip archive: {_short(exc)})") from None
    return arrays


def _scalar(path: Path, arrays: dict, key: str, kind: str):
    """A saved noise setting that stylegan-generate reads back, checked: None when absent, else the
    plain value; UsageError naming the file and the array when it is not one value of `kind`
    ("mode": one of NOISE_MODES, "strength": a finite number >= 0, "seed": a whole number below 2**32)."""
    if key not in arrays:
        return None
    a = arrays[key]
    if a.size != 1 or a.dtype.kind not in ("US" if kind == "mode" else "iuf"):
        raise UsageError(f"{path}: '{key}' must be one noise {kind}, got {a.dtype} values of shape {list(a.shape)}")
    v = a.reshape(-1)[0].item()
    if kind == "mode":
        v = v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v)
        if v not in NOISE_MODES:
            raise UsageError(f"{path}: '{key}' must be one of {', '.join(NOISE_MODES)}, got {v[:40]!r}")
        return v
    if not np.isfinite(v) or v < 0 or (kind == "seed" and (v != int(v) or v >= 2 ** 32)):
        want = "a finite number >= 0" if kind == "strength" else "a whole number in 0..2**32-1"
        raise UsageError(f"{path}: '{key}' must be {want}, got {v}")
    return float(v) if kind == "strength" else int(v)


def read_ws_file(path: str | os.PathLike, num_ws: int, w_dim: int) -> WFile:
    """Read a W / W+ .npz (the layouts in the module docstring) for a network with num_ws layers
    of width w_dim."""
    path = Path(path)
    arrays = read_npz(path)

    key = next((k for k in KEYS if k in arrays), None)
    if key is None:
        raise UsageError(f"{path}: no 'w' array (a W+ file holds 'w' of shape {_needs(num_ws, w_dim)})")
    ws = arrays.pop(key)
    if ws.dtype.kind not in "iuf":  # bool, complex, strings, bytes, records: not a W
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
    with np.errstate(over="ignore", invalid="ignore"):  # no numpy warning: the check below says it
        ws = ws.astype(np.float32)  # a float64 beyond float32's range becomes inf here, and is refused
    finite = np.isfinite(ws)
    if not finite.all():
        bad = int(ws.size - finite.sum())
        raise UsageError(f"{path}: '{key}' holds {bad} value{'s' * (bad != 1)} (of {ws.size}) that "
                         f"{'are' if bad != 1 else 'is'} NaN, infinite or beyond float32's range; a W+ must be finite numbers")
    # The settings stylegan-generate reads back: refused here, naming the file, when they are not
    # what --save-ws writes (one mode, strength and seed).
    noise = {}
    for name, kind in (("noise_mode", "mode"), ("noise_strength", "strength"), ("noise_seed", "seed")):
        value = _scalar(path, arrays, name, kind)
        if value is not None:
            noise[name] = value

    transform = {}
    for name, size in (("translate", 2), ("rotate", 1)):
        if name in arrays:
            a = arrays[name]
            if a.size != size or a.dtype.kind not in "iuf" or not np.isfinite(a).all():
                want = "two finite numbers (x, y)" if size == 2 else "one finite number (degrees)"
                raise UsageError(f"{path}: '{name}' must be {want}, got {a.dtype} values of shape {list(a.shape)}")
            v = [float(x) for x in a.reshape(-1)]
            transform[name] = tuple(v) if size == 2 else v[0]

    seeds = arrays.get("seed")
    seeds = None if seeds is None else seeds.reshape(-1)
    if seeds is not None and len(seeds) == len(ws):  # one per row: the seeds the rows were made from
        if seeds.dtype.kind not in "iuf" or not (np.isfinite(seeds).all() and (seeds == np.round(seeds)).all()):
            raise UsageError(f"{path}: 'seed' must hold whole numbers (the seed of each row), got {seeds.dtype} values")
        keys = [int(k) for k in seeds]  # as the images were made (stylegan-generate --save-ws)
    else:
        keys = list(range(len(ws)))
    return WFile(torch.from_numpy(ws), keys, arrays, noise, transform)


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


