"""Directions in W: principal components of the mapped distribution (GANSpace, Härkönen et al.
2020) and user-supplied direction files.

PCA runs over w = mapping(z) for ~10k Gaussian z. Moving along component k by `amount` means
w + amount * σ_k * v_k, so amounts are in standard deviations of W along that axis.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from core.errors import UsageError
from core.files import atomic_write, cache_dir
from core.latents.wfile import read_npz
import numpy as np
import torch


@dataclass
class Directions:
    names: list[str]
    vectors: torch.Tensor  # [K, w_dim], each scaled so that amount 1 = one standard deviation


@torch.no_grad()
def pca_directions(G, num_samples: int = 10_000, seed: int = 0, batch: int = 2_000,
                   num_components: int = 32) -> Directions:
    device = G.mapping.w_avg.device
    gen = torch.Generator().manual_seed(seed)
    ws = []
    for i in range(0, num_samples, batch):
        z = torch.randn(min(batch, num_samples - i), G.z_dim, generator=gen).to(device)
        c = torch.zeros(len(z), G.c_dim, device=device) if G.c_dim else None
        if c is not None:
            c[torch.arange(len(z)), torch.randint(G.c_dim, (len(z),), generator=gen)] = 1
        ws.append(G.mapping(z, c, update_w_avg=False)[:, 0].float().cpu())
    w = torch.cat(ws).double()
    w = w - w.mean(0)
    cov = w.T @ w / (len(w) - 1)
    var, vec = torch.linalg.eigh(cov)  # ascending
    k = min(num_components, G.w_dim)
    var, vec = var.flip(0)[:k].clamp_min(0), vec.flip(1)[:, :k]
    # Fix each eigenvector's sign (eigh's is arbitrary): largest |entry| positive.
    sign = torch.sign(vec.gather(0, vec.abs().argmax(0, keepdim=True)))
    vec = vec * sign
    vectors = (vec * var.sqrt()).T.float()
    return Directions([f"PC{i}" for i in range(k)], vectors)


def load_directions(path: str | Path, w_dim: int) -> Directions:
    """A .npz of name -> [w_dim] vector (used as given: amount 1 adds the vector once), read as W
    files are (core.latents.wfile.read_npz: nothing unpickled). UsageError (one line naming the
    file) when it is missing or damaged, holds no directions, or a vector is not w_dim finite real
    numbers (a NaN direction would turn every image into NaN)."""
    items = read_npz(path, "a directions file is a .npz archive of name -> vector arrays").items()
    vectors = []
    for name, v in items:
        if v.dtype.kind not in "iuf":
            raise UsageError(f"{path}: direction {name!r} holds {v.dtype} values, not real numbers")
        with np.errstate(over="ignore", invalid="ignore"):
            v = v.astype(np.float32).reshape(-1)
        if v.shape != (w_dim,):
            raise UsageError(f"{path}: direction {name!r} has {v.size} values, the model's W has {w_dim}")
        if not np.isfinite(v).all():
            raise UsageError(f"{path}: direction {name!r} holds NaN, infinite or beyond-float32 values; "
                             "a direction must be finite numbers")
        vectors.append(torch.from_numpy(v))
    if not vectors:
        raise UsageError(f"{path}: holds no directions")
    return Directions([name for name, _ in items], torch.stack(vectors))


def model_fingerprint(G) -> str:
    """A short hash of the generator's weights (for caches keyed by model)."""
    h = hashlib.sha256()
    for k, v in sorted(G.state_dict().items()):
        h.update(k.encode())
        h.update(v.detach().cpu().contiguous().numpy().tobytes())
        h.update(str(tuple(v.shape)).encode())
    return h.hexdigest()[:20]


def cached_pca_directions(G, num_samples: int = 10_000) -> Directions:
    """pca_directions, computed once per model and kept in the user cache folder."""
    path = cache_dir() / "directions" / f"{model_fingerprint(G)}-{num_samples}.npz"
    if path.exists():
        try:
            with np.load(path, allow_pickle=False) as z:
                return Directions([str(n) for n in z["names"]], torch.from_numpy(z["vectors"]))
        except (ValueError, OSError, KeyError, EOFError):
            pass  # a broken cache file is recomputed
    d = pca_directions(G, num_samples)
    try:
        atomic_write(path, lambda f: np.savez(f, names=np.array(d.names), vectors=d.vectors.numpy()))
    except OSError:
        pass  # a read-only home folder only costs the recomputation next time
    return d
