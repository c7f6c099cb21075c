"""Building the CUDA kernels: on first use only, cached, under a lock that cannot hang forever.

The kernels are plain CUDA launchers (kernels/cuda/*.cu: pointers, sizes, a stream); a small
PyTorch binding (binding.cpp) passes tensors and the current stream. They are compiled with
torch.utils.cpp_extension + ninja into a user cache folder keyed by the sources' hash, the torch and
CUDA versions and the GPU architecture, so a new PyTorch or another GPU gets its own build and an
old build is never loaded by the wrong torch.

NVIDIA's builds can hang forever on a lock file left by a crashed build; ours records the owner's
PID and start time and takes the lock over when the owner is gone or the lock is older than
STALE_AFTER seconds.
"""

from __future__ import annotations

import hashlib
import os
import socket
import time
from contextlib import contextmanager
from pathlib import Path

import torch

SOURCE_DIR = Path(__file__).resolve().parent / "cuda"
SOURCES = ["binding.cpp", "upfirdn2d.cu", "bias_act.cu", "to_rgba.cu", "filtered_lrelu.cu"]
HEADERS = ["hd.cuh", "common.cuh", "upfirdn2d.cuh", "bias_act.cuh", "to_rgba.cuh", "filtered_lrelu.cuh"]
STALE_AFTER = 30 * 60.0
WAIT_AT_MOST = 15 * 60.0


def cache_root() -> Path:
    """The compiled kernels' folder: core.files.cache_dir()'s rule (kernels do not import core)."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "stylegan-toolkit" / "kernels"


def build_key(arch: str) -> str:
    h = hashlib.sha256()
    for name in SOURCES + HEADERS:
        h.update(name.encode())
        h.update((SOURCE_DIR / name).read_bytes())
    h.update(f"torch {torch.__version__} cuda {torch.version.cuda} arch {arch}".encode())
    return h.hexdigest()[:16]


def gpu_arch(device: int | None = None) -> str:
    major, minor = torch.cuda.get_device_capability(device)
    return f"{major}{minor}"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@contextmanager
def _exclusive(path: Path):
    """An OS advisory lock (flock) on `path` while the block runs; released by the OS if the process
    dies. Where there is no flock (Windows) the block runs unguarded."""
    try:
        import fcntl
    except ImportError:
        yield
        return
    fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


@contextmanager
def build_lock(folder: Path, stale_after: float = STALE_AFTER, wait_at_most: float = WAIT_AT_MOST,
               poll: float = 0.5):
    """An exclusive lock file in `folder`; a dead or too-old owner's lock is taken over."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "build.lock"
    me = f"{os.getpid()} {socket.gethostname()} {time.time():.0f}"
    start = time.monotonic()
    while True:
        # The check and the takeover happen under a short OS lock: two waiters that both found the
        # same stale lock would otherwise each remove it — the second removing the first's new one —
        # and build into the same folder at once (torchrun's ranks after a crashed build).
        with _exclusive(folder / "build.lock.guard"):
            try:
                fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
                with os.fdopen(fd, "w") as f:
                    f.write(me)
                break
            except FileExistsError:
                try:
                    pid, host, started = path.read_text().split()
                    stale = (host == socket.gethostname() and not _alive(int(pid))) \
                        or time.time() - float(started) > stale_after
                except (OSError, ValueError):
                    stale = time.time() - path.stat().st_mtime > stale_after if path.exists() else True
                if stale:
                    path.unlink(missing_ok=True)
                    continue
        if time.monotonic() - start > wait_at_most:
            raise RuntimeError(f"another build holds {path} (waited {wait_at_most:.0f} s)")
        time.sleep(poll)
    try:
        yield
    finally:
        path.unlink(missing_ok=True)


def load_extension(verbose: bool = False):
    """Build (first time) and import the kernel module for the current GPU."""
    if not torch.cuda.is_available():
        raise RuntimeError("no CUDA device")
    if torch.version.cuda is None:
        raise RuntimeError("this PyTorch has no CUDA support")
    from torch.utils import cpp_extension
    arch = gpu_arch()
    key = build_key(arch)
    folder = cache_root() / key
    with build_lock(folder):
        # cpp_extension's own lock: left behind by a killed build it would make load() wait forever.
        (folder / "lock").unlink(missing_ok=True)
        return cpp_extension.load(
            name=f"stylegan_kernels_{key}", sources=[str(SOURCE_DIR / s) for s in SOURCES],
            build_directory=str(folder), verbose=verbose,
            extra_cflags=["-O3"], extra_include_paths=[str(SOURCE_DIR)],
            extra_cuda_cflags=["-O3", f"-gencode=arch=compute_{arch},code=sm_{arch}"])
