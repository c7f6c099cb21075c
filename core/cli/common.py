"""What every command shares: one-line errors, seed lists, device choice, CPU allocator tuning."""

from __future__ import annotations

import argparse
import ctypes
import functools
import math
import re
import sys
from pathlib import Path
from typing import Callable


from kernels.dispatch import KernelError, kernel_mode
from kernels.ops import upfirdn2d_io

from core.devices import resolve_device  # noqa: F401  (re-exported for the commands and the explorer)
from core.errors import ToolkitError, UsageError, first_line  # noqa: F401  (UsageError: re-exported for the commands)
from core.networks.layout import fp16_layout


class ArgumentParser(argparse.ArgumentParser):
    """argparse, with a bad command line reported as one line (`prog: error: ...`, exit 2) instead
    of the usage block followed by the error."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def cli_entry(prog: str) -> Callable:
    """Wrap a main(argv) so that expected failures print `prog: error: ...` and exit 2."""

    def wrap(main: Callable) -> Callable:
        @functools.wraps(main)
        def run(argv: list[str] | None = None) -> int:
            try:
                return main(argv) or 0
            except ToolkitError as exc:  # the one family of user-facing errors (core/errors.py)
                print(f"{prog}: error: {exc}", file=sys.stderr)
                return exc.exit_code
            except ValueError as exc:  # a value torch/numpy refused deep inside; its message is the line
                print(f"{prog}: error: {first_line(exc, 300)}", file=sys.stderr)
                return 2
            except KernelError as exc:  # one line naming the op and the STYLEGAN_KERNELS=ref escape
                print(f"{prog}: error: {exc}", file=sys.stderr)
                return 1
            except OSError as exc:
                where = f" ({exc.filename})" if getattr(exc, "filename", None) else ""
                print(f"{prog}: error: {exc.strerror or exc}{where}", file=sys.stderr)
                return 1
            except KeyboardInterrupt:
                print(f"{prog}: interrupted", file=sys.stderr)
                return 130
        return run

    return wrap


def check_switches() -> None:
    """Read the environment switches (STYLEGAN_KERNELS, STYLEGAN_UPFIRDN2D_IO, STYLEGAN_FP16_LAYOUT)
    before a command that runs networks does anything (called after its arguments are parsed): a bad
    value is one error line (ValueError), never a half-made run folder."""
    kernel_mode()
    upfirdn2d_io()
    fp16_layout()


def parse_seeds(text: str) -> list[int]:
    """'0-7,12' -> [0, 1, ..., 7, 12] (order kept, duplicates allowed as given)."""
    seeds: list[int] = []
    for part in text.split(","):
        part = part.strip()
        if m := re.fullmatch(r"(\d+)", part):
            seeds.append(int(m.group(1)))
        elif m := re.fullmatch(r"(\d+)-(\d+)", part):
            lo, hi = int(m.group(1)), int(m.group(2))
            if lo > hi:
                raise UsageError(f"seed range {part!r} is reversed")
            if hi - lo >= 1_000_000:
                raise UsageError(f"seed range {part!r} is too long (max 1,000,000 seeds)")
            seeds.extend(range(lo, hi + 1))
        else:
            raise UsageError(f"bad seed list {text!r}: use numbers and ranges like 0-7,12")
    if any(s >= 2 ** 32 for s in seeds):
        raise UsageError("seeds must be below 2**32")
    return seeds


def parse_resolution(text: str) -> int:
    """argparse type for --resolution: 256, or NVIDIA's dataset_tool form 256x256 (square only)."""
    m = re.fullmatch(r"\s*(\d+)\s*(?:[xX]\s*(\d+)\s*)?", text)
    if not m:
        raise argparse.ArgumentTypeError(f"{text!r} is not a resolution: give a size like 256 or 256x256")
    w, h = int(m.group(1)), int(m.group(2) or m.group(1))
    if w != h:
        raise argparse.ArgumentTypeError(f"{text}: StyleGAN trains on squares; give equal sides like {w}x{w}")
    return w


def number(kind: type = float, minimum: float | None = None, maximum: float | None = None,
           above: float | None = None, below: float | None = None):
    """An argparse type for a numeric option: an int or a finite float within bounds (minimum and
    maximum inclusive, above and below exclusive). A value outside is refused as `prog: error:
    argument --x: must be ..., got ...` (exit 2), never used: NaN, inf, a negative gamma or count."""
    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be {'an integer' if kind is int else 'a number'}, got {text!r}") from None
        if not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"must be a finite number, got {text}")
        for bound, ok, word in ((minimum, lambda b: value >= b, ">="), (maximum, lambda b: value <= b, "<="),
                                (above, lambda b: value > b, ">"), (below, lambda b: value < b, "<")):
            if bound is not None and not ok(bound):
                raise argparse.ArgumentTypeError(f"must be {word} {bound:g}, got {text}")
        return value
    return parse


def output_folder(path: str | Path, option: str = "--outdir", create: bool = True) -> Path:
    """A folder to write into (made if missing and `create`); UsageError (exit 2) when a file is in
    the way."""
    path = Path(path)
    for part in [path, *path.parents]:
        if part.exists() and not part.is_dir():
            raise UsageError(f"{option} {path}: {part} is a file, not a folder")
    if create:
        path.mkdir(parents=True, exist_ok=True)
    return path


def parse_megapixels(text: str) -> float:
    """argparse type for --max-megapixels: a positive number."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of megapixels") from None
    if not (value > 0 and value < float("inf")):
        raise argparse.ArgumentTypeError(f"must be a positive number of megapixels, got {text}")
    return value


def tune_cpu_allocator() -> None:
    """Keep freed memory in the process instead of returning it to the OS.

    glibc serves blocks above its mmap threshold (at most 32 MiB) with fresh mmaps and unmaps them
    on free, so every forward pass page-faults its large activations in again — half the CPU time
    at batch 8 in our measurements. Serving everything from the heap and never trimming it makes
    the next pass reuse those pages.
    """
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return
    M_TRIM_THRESHOLD, M_MMAP_MAX = -1, -4
    libc.mallopt(M_MMAP_MAX, 0)
    libc.mallopt(M_TRIM_THRESHOLD, 1 << 30)
