"""stylegan-dataset: prepare a folder (or zip) of images for training, once.

    stylegan-dataset photos/ photos-256.zip --resolution 256
    stylegan-dataset emoji/ emoji-64.zip --resolution 64 --transform pad --background white

Writes NVIDIA's dataset layout (a zip of PNGs, 00000/img00000000.png ..., and dataset.json with the
labels of the source's dataset.json, if any), which stylegan-train and NVIDIA's train.py both read.
Image files that cannot be used (damaged, a broken link, pixels that cannot be made grey or RGB)
are reported by name and skipped; a malformed dataset.json is an error naming it. An existing
destination is never replaced unless --force is given (refused before any image is read).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tqdm import tqdm

from core.training.dataset import TRANSFORMS, Preparation, parse_colour, prepare_dataset
from core.training.image_files import DEFAULT_MAX_MEGAPIXELS
from core.cli.common import ArgumentParser, cli_entry, number, parse_megapixels, parse_resolution
from core.errors import UsageError
from core.files import check_writable, refuse_to_replace

PROG = "stylegan-dataset"


@cli_entry(PROG)
def main(argv: list[str] | None = None) -> int:
    p = ArgumentParser(prog=PROG, description=__doc__.split("\n\n")[0],
                                epilog=__doc__.split("\n\n", 1)[1], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("source", help="a folder of images (searched recursively) or a zip")
    p.add_argument("dest", help="the dataset zip to write")
    p.add_argument("--resolution", type=parse_resolution,
                   help="square power-of-two size, 256 or 256x256 (default: keep; images must already be)")
    p.add_argument("--transform", choices=TRANSFORMS, default="center-crop",
                   help="make non-square images square by cropping the middle or padding (default center-crop)")
    p.add_argument("--background", default="white", help="colour behind transparent pixels (default white)")
    p.add_argument("--channels", type=int, choices=[1, 3], help="1 (grey) or 3 (RGB); default: 1 if every image is grey")
    p.add_argument("--max-images", type=number(int, minimum=1), help="stop after this many images")
    p.add_argument("--max-megapixels", type=parse_megapixels, default=DEFAULT_MAX_MEGAPIXELS,
                   help=f"skip (and name) files larger than this (default {DEFAULT_MAX_MEGAPIXELS:g}: "
                        "guards against decompression bombs and damaged headers)")
    p.add_argument("--force", action="store_true", help="replace DEST if it exists (default: refuse)")
    args = p.parse_args(argv)
    dest = Path(args.dest)
    if dest.suffix.lower() != ".zip":
        raise UsageError("the destination must be a .zip file")
    if not dest.parent.exists():
        raise UsageError(f"folder {dest.parent} does not exist")
    if not dest.parent.is_dir():
        raise UsageError(f"{dest}: {dest.parent} is a file, not a folder")
    if dest.exists() and Path(args.source).exists() and dest.resolve() == Path(args.source).resolve():
        raise UsageError("source and destination are the same file")
    refuse_to_replace([dest], args.force)  # before any work: the README's promise
    check_writable(dest.parent, str(dest))  # an unwritable folder now, not after reading every image
    prep = Preparation(args.resolution, args.channels, args.transform, parse_colour(args.background),
                       args.max_megapixels)
    with tqdm(unit="img", desc="preparing", disable=None) as bar:
        done = prepare_dataset(Path(args.source), dest, prep, args.max_images, progress=bar,
                               on_skip=lambda name, error: tqdm.write(f"{PROG}: skipped {name}: {error}", file=sys.stderr))
    size, channels, skipped = done.size, done.channels, done.skipped
    print(f"wrote {done.count} images ({size[1]}x{size[0]}, {channels} channel{'s' * (channels > 1)}"
          f"{', labelled' if done.labelled else ''}) to {dest}" + (f"; skipped {skipped} (named above)" if skipped else ""))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
