"""stylegan-dataset: prepare a folder (or zip) of images for training, once.

    stylegan-dataset photos/ photos-256.zip --resolution 256
    stylegan-dataset emoji/ emoji-64.zip --resolution 64 --transform pad --background white

Writes NVIDIA's dataset layout (a zip of PNGs, 00000/img00000000.png ..., and dataset.json with the
labels of the source's dataset.json, if any), which stylegan-train and NVIDIA's train.py both read.
Unreadable files are reported by name and skipped.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tqdm import tqdm

from core.training.dataset import TRANSFORMS, DatasetWriter, ImageSource, Preparation, is_grey, iter_images, label_tensor, parse_colour
from core.errors import DatasetError
from core.training.image_files import DEFAULT_MAX_MEGAPIXELS, ImageReadError, open_image
from core.cli.common import ArgumentParser, cli_entry, parse_megapixels, parse_resolution
from core.errors import UsageError

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
    p.add_argument("--max-images", type=int, help="stop after this many images")
    p.add_argument("--max-megapixels", type=parse_megapixels, default=DEFAULT_MAX_MEGAPIXELS,
                   help=f"skip (and name) files larger than this (default {DEFAULT_MAX_MEGAPIXELS:g}: "
                        "guards against decompression bombs and damaged headers)")
    args = p.parse_args(argv)
    dest = Path(args.dest)
    if dest.suffix.lower() != ".zip":
        raise UsageError("the destination must be a .zip file")
    if not dest.parent.exists():
        raise UsageError(f"folder {dest.parent} does not exist")
    prep = Preparation(args.resolution, args.channels, args.transform, parse_colour(args.background),
                       args.max_megapixels)
    src = ImageSource(Path(args.source))
    if not src.names:
        raise DatasetError(f"{args.source}: contains no images")
    labels = src.labels()
    channels = prep.channels
    if channels is None:  # a quick pass over the headers
        channels = 1
        for name in src.names:
            try:
                if not is_grey(open_image(src.read(name), prep.max_megapixels)):
                    channels = 3
                    break
            except (ImageReadError, Exception):
                continue  # unreadable: reported in the main pass
    writer = DatasetWriter(dest)
    skipped, size, written = 0, None, []
    try:
        total = min(len(src.names), args.max_images or len(src.names))
        for name, img, error in tqdm(iter_images(args.source, prep.max_megapixels), total=len(src.names),
                                     unit="img", desc="preparing", disable=None):
            if error is not None:
                skipped += 1
                tqdm.write(f"{PROG}: skipped {name}: {error}", file=sys.stderr)
                continue
            arr = prep.apply(img, channels)
            if size is None:
                size = arr.shape
                res = arr.shape[0]
                if res < 4 or res & (res - 1):
                    raise DatasetError(f"{name} is {arr.shape[1]}x{arr.shape[0]}: give --resolution "
                                       "(a power of two) to resize the images")
            elif arr.shape != size:
                raise DatasetError(f"{name} is {arr.shape[1]}x{arr.shape[0]}, the first image was "
                                   f"{size[1]}x{size[0]}: give --resolution to resize them all")
            label = labels.get(name) if labels else None
            if labels and label is None:  # found now, by name, not as a null label later
                raise DatasetError(f"{args.source}: dataset.json has no label for {name}")
            writer.add(arr, label)
            written.append(name)
            if writer.count >= total:
                break
        if writer.count == 0:
            raise DatasetError(f"{args.source}: none of its {len(src.names)} image files could be read")
        if labels:
            label_tensor(written, labels, args.source)  # every label readable as NVIDIA's loader does
        writer.close()
    except BaseException:
        writer.abort()
        raise
    print(f"wrote {writer.count} images ({size[1]}x{size[0]}, {channels} channel{'s' * (channels > 1)}"
          f"{', labelled' if labels else ''}) to {dest}" + (f"; skipped {skipped} (named above)" if skipped else ""))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
