"""Writing users' files without ever leaving a half-written one: every file the toolkit writes
(checkpoints, snapshots, images, W+ files, sessions, plots, dataset zips, JSON logs) goes through
`atomic_write` — a temporary name in the same folder, flushed and fsynced, then renamed over the
target in one step (POSIX rename is atomic). A crash or Ctrl-C leaves the old file or none, and the
temporary is removed. The new file gets the permissions a plain open() would (0666 minus umask), not
mkstemp's 0600."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import IO, Callable, Iterator


def _umask() -> int:
    """The process umask, read without setting it (os.umask would race with other threads)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except OSError:
        pass
    return 0o022


@contextlib.contextmanager
def atomic_open(path: str | Path, mode: str = "wb") -> Iterator[IO]:
    """`with atomic_open(path) as f: f.write(...)`: f is a temporary file beside `path`, renamed to
    `path` when the block ends without an exception (removed otherwise). mode: "wb" or "w"."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, mode) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


_MAGIC = [(b"\x89PNG", "a PNG image"), (b"\xff\xd8\xff", "a JPEG image"), (b"GIF8", "a GIF image"),
          (b"RIFF", "a RIFF file (WebP, WAV, AVI)"), (b"\x1f\x8b", "gzip-compressed data"), (b"%PDF", "a PDF"),
          (b"\x93NUMPY", "a single .npy array")]


def looks_like(path: str | Path) -> str:
    """What a file that is not what was expected seems to be, from its first bytes: 'a PNG image',
    'a text file', ... or 'neither a pickle nor a zip archive' (for one-line errors)."""
    try:
        with open(path, "rb") as f:
            head = f.read(512)
    except OSError:
        return "unreadable"
    for magic, what in _MAGIC:
        if head.startswith(magic):
            return what
    if head and all(32 <= b < 127 or b in b"\t\r\n" for b in head):
        return "a text file"
    return "neither a pickle nor a zip archive"


def unused_path(path: str | Path) -> Path:
    """`path` if nothing is there, else the first free `stem-1.ext`, `stem-2.ext`, ...: for files
    the toolkit names itself (the explorer's saved images and window shots), which must never
    replace a user's earlier file."""
    path = Path(path)
    n = 0
    candidate = path
    while candidate.exists():
        n += 1
        candidate = path.with_name(f"{path.stem}-{n}{path.suffix}")
    return candidate


def atomic_write(path: str | Path, write: Callable[[IO], object] | bytes | str) -> None:
    """Write `path` atomically: `write` is the bytes/str content, or a function given the open
    temporary file (e.g. `lambda f: torch.save(obj, f)`, `lambda f: image.save(f, "PNG")`)."""
    if isinstance(write, (bytes, str)):
        data = write
        with atomic_open(path, "wb" if isinstance(data, bytes) else "w") as f:
            f.write(data)
    else:
        with atomic_open(path, "wb") as f:
            write(f)
