"""Writing users' files without ever leaving a half-written one: every file the toolkit writes
(checkpoints, snapshots, images, W+ files, sessions, plots, dataset zips, JSON-lines logs through
`append_lines`) goes through `atomic_write` — a temporary name in the same folder, flushed and
fsynced, then renamed over the target in one step (POSIX rename is atomic); only a run's plain-text
log.txt is appended in place. A crash or Ctrl-C leaves the old file or none, and the
temporary is removed. The new file gets the permissions a plain open() would (0666 minus umask), not
mkstemp's 0600.

Before the work, the commands check their outputs here too: `refuse_to_replace` (an existing file is
never replaced unless --force is given), `check_writable` and `create_folder` (an output that cannot
be created is one line naming it and the reason), `remove_new_folders` (a failed call leaves no
empty folder it made)."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import IO, Callable, Iterable, Iterator

from core.errors import UsageError


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
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise _naming(exc, path) from None
    try:
        with os.fdopen(fd, mode) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        # A failed write (a full disk, a read-only mount) names the file asked for, not the temporary
        # one; torch's zip writer turns the OSError into a RuntimeError ("unexpected pos ..."): its
        # cause is the error to report.
        cause = exc if isinstance(exc, OSError) else exc.__context__ if isinstance(exc, RuntimeError) else None
        if isinstance(cause, OSError) and cause.errno is not None:
            raise _naming(cause, path) from None
        raise


def _naming(exc: OSError, path: Path) -> OSError:
    """The same error (errno and reason) with `path` as its file name."""
    return type(exc)(exc.errno, exc.strerror or str(exc), str(path))


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


def size_text(n: int) -> str:
    """A file size for messages: '812 bytes', '14.2 kB', '38.0 MB'."""
    if n < 1000:
        return f"{n} byte{'s' * (n != 1)}"
    if n < 1_000_000:
        return f"{n / 1e3:.1f} kB"
    return f"{n / 1e6:.1f} MB"


def refuse_to_replace(paths: Iterable[str | Path], force: bool = False) -> None:
    """The README's promise: an existing output file is never replaced unless `--force` is given.
    Call it with every file a command is about to write, before any work is done: UsageError (one
    line, exit 2) naming the (first) existing file and saying that --force replaces it. A folder
    where a file is to be written is refused even with --force (a rename cannot replace it)."""
    existing = []
    for path in dict.fromkeys(Path(p) for p in paths):
        if path.is_dir():
            raise UsageError(f"{path} is a folder; it cannot be replaced by the file to write")
        if path.exists():
            existing.append(path)
    if force or not existing:
        return
    first = existing[0]
    if len(existing) == 1:
        raise UsageError(f"{first} exists ({size_text(first.stat().st_size)}); give --force to replace it")
    raise UsageError(f"{first} and {len(existing) - 1} more of the files to write exist; "
                     "give --force to replace them")


def check_writable(folder: str | Path, what: str) -> None:
    """Make sure a file can be created in `folder` (an existing folder), by creating and removing
    a temporary one (access() says yes to root on read-only mounts and /proc): UsageError
    `cannot write <what>: <reason>` before a long computation, not after it."""
    try:
        fd, tmp = tempfile.mkstemp(prefix=".write-check.", suffix=".tmp", dir=folder)
    except OSError as exc:
        raise UsageError(f"cannot write {what}: {exc.strerror or exc} ({folder})") from None
    os.close(fd)
    with contextlib.suppress(OSError):
        os.unlink(tmp)


def create_folder(path: str | Path, what: str) -> list[Path]:
    """Make the folder `path` (with missing parents) and check that files can be written in it.
    Returns the folders this call created, outermost first, for remove_new_folders when the
    command fails later. UsageError (one line) `cannot create <what>: <reason>` when it cannot be
    made, `cannot write <what>: <reason>` when it takes no files; anything it made is removed again."""
    path = Path(path)
    made: list[Path] = []
    p = path
    while not p.exists() and p != p.parent:
        made.insert(0, p)
        p = p.parent
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        remove_new_folders(made)
        raise UsageError(f"cannot create {what}: {exc.strerror or exc}") from None
    try:
        check_writable(path, what)
    except UsageError:
        remove_new_folders(made)
        raise
    return made


def remove_new_folders(made: list[Path]) -> None:
    """Remove the folders a failed command created (create_folder's list), innermost first, each
    only while it is still empty: a folder that was there before, or now holds a file, stays."""
    for folder in reversed(made):
        try:
            folder.rmdir()
        except OSError:
            return


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


def append_lines(path: str | Path, lines: list[str]) -> None:
    """Append lines (without their newlines) to a text file without ever leaving it half-written:
    the old lines and the new ones are written under a temporary name and renamed over it (a JSON-
    lines log cut mid-line by a crash would stop the next reader). A last line without its newline
    (written by something else) is ended first."""
    path = Path(path)
    old = path.read_bytes() if path.exists() else b""
    if old and not old.endswith(b"\n"):
        old += b"\n"
    atomic_write(path, old + "".join(line + "\n" for line in lines).encode())


def cache_dir() -> Path:
    """The toolkit's user cache folder: $XDG_CACHE_HOME/stylegan-toolkit, else
    ~/.cache/stylegan-toolkit (FID statistics, PCA directions; kernels/build.py keeps the compiled
    kernels under the same folder by the same rule, kernels being below core)."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "stylegan-toolkit"
