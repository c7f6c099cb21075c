"""Image datasets for training: a folder (searched recursively), a zip, or NVIDIA's dataset layout
(images + an optional dataset.json with labels), prepared to a square power-of-two resolution.

Preparation (what `stylegan-dataset` does once, and what training does on the fly for raw folders):
transparent images are composited onto a background colour, converted to grey or RGB, then either
centre-cropped to a square or padded to one, and resized (Lanczos) to the resolution.
"""

from __future__ import annotations

import io
import json
import math
import os
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np
import torch
from PIL import Image, ImageOps

from core.devices import upload
from core.errors import first_line
from core.errors import DatasetError
from core.files import atomic_open
from core.training.image_files import (DEFAULT_MAX_MEGAPIXELS, ImageReadError, error_reason, image_extensions, open_image,
                                       pillow_limit_off, read_image)

IMAGE_EXTENSIONS = image_extensions()  # every format Pillow opens, as NVIDIA's dataset_tool
TRANSFORMS = ("center-crop", "pad")


def parse_colour(text: str) -> tuple[int, int, int]:
    named = {"white": (255, 255, 255), "black": (0, 0, 0), "grey": (128, 128, 128), "gray": (128, 128, 128)}
    if text.lower() in named:
        return named[text.lower()]
    t = text.lstrip("#")
    if len(t) == 6:
        try:
            return tuple(int(t[i: i + 2], 16) for i in (0, 2, 4))
        except ValueError:
            pass
    raise DatasetError(f"background must be white, black, grey or #rrggbb, not {text!r}")


@dataclass
class Preparation:
    resolution: int | None = None  # None: keep the size (must already be square, power of two)
    channels: int | None = None  # 1 or 3; None: 1 if every image is grey, else 3
    transform: str = "center-crop"
    background: tuple[int, int, int] = (255, 255, 255)
    max_megapixels: float = DEFAULT_MAX_MEGAPIXELS  # larger files are named and skipped

    def __post_init__(self):
        if self.resolution is not None and (self.resolution < 4 or self.resolution & (self.resolution - 1)):
            raise DatasetError(f"resolution must be a power of two >= 4, not {self.resolution}")
        if self.channels not in (None, 1, 3):
            raise DatasetError("channels must be 1 or 3")
        if self.transform not in TRANSFORMS:
            raise DatasetError(f"transform must be one of {', '.join(TRANSFORMS)}")
        if not (self.max_megapixels > 0 and math.isfinite(self.max_megapixels)):
            raise DatasetError(f"the pixel limit must be a positive number of megapixels, not {self.max_megapixels}")

    def apply(self, img: Image.Image, channels: int) -> np.ndarray:
        """PIL image (as read_image returns it: within the pixel limit) -> HxWxC uint8 at the target
        resolution. Raises ImageReadError (the caller names the file and skips it) when this image
        cannot be made grey or RGB (a mode Pillow cannot convert, e.g. LAB to grey) or prepared."""
        with pillow_limit_off():
            try:
                img = self._colours(img, channels)
            except Exception as exc:
                raise ImageReadError(f"its {img.mode} pixels cannot be converted to "
                                     f"{'grey' if channels == 1 else 'RGB'} ({error_reason(exc)})") from None
            try:
                return self._apply(img, channels)
            except Exception as exc:
                raise ImageReadError(f"cannot be made square and resized ({error_reason(exc)})") from None

    def _colours(self, img: Image.Image, channels: int) -> Image.Image:
        if img.mode in ("RGBA", "LA", "La", "RGBa", "PA") or (img.mode == "P" and "transparency" in img.info):
            rgba = img.convert("RGBA")
            canvas = Image.new("RGBA", rgba.size, self.background + (255,))
            img = Image.alpha_composite(canvas, rgba)
        return img.convert("L" if channels == 1 else "RGB")

    def _apply(self, img: Image.Image, channels: int) -> np.ndarray:
        w, h = img.size
        if self.transform == "pad" and w != h:
            side = max(w, h)
            fill = self.background if channels == 3 else int(round(sum(self.background) / 3))
            img = ImageOps.pad(img, (side, side), color=fill)
        elif w != h:
            side = min(w, h)
            img = img.crop(((w - side) // 2, (h - side) // 2, (w - side) // 2 + side, (h - side) // 2 + side))
        res = self.resolution or img.size[0]
        if img.size != (res, res):
            img = img.resize((res, res), Image.LANCZOS)
        arr = np.asarray(img, dtype=np.uint8)
        return arr[:, :, None] if arr.ndim == 2 else arr


def is_grey(img: Image.Image) -> bool:
    return img.mode in ("L", "LA", "1", "I", "F") or img.mode.startswith("I;16")


def header_channels(src: "ImageSource", max_megapixels: float, limit: int | None = None) -> int:
    """The channels a dataset gets when none are asked for: 1 if every image is grey, else 3 —
    decided from the files' headers (nothing decoded), over the first `limit` readable images (all
    when None). Unreadable files are left to the pass that reads them (named and skipped there)."""
    seen = 0
    for name in src.names:
        try:
            if not is_grey(open_image(src.read(name), max_megapixels)):
                return 3
        except Exception:  # (ImageReadError, a file that cannot be read): reported when read
            continue
        seen += 1
        if limit and seen >= limit:
            break
    return 1


LABELS_SHAPE = '{"labels": [[file, label], ...]}' + " (or {\"labels\": null}: no labels)"


def _not_a_file(p: Path) -> str | None:
    """Why a listed path cannot be opened as a file without trying (a broken link, a named pipe
    that would block), or None. Such paths are listed all the same, so that they are named and
    skipped like any file that fails to open, never silently left out."""
    if p.is_file():
        return None
    if p.is_symlink() and not p.exists():
        return f"a broken link to {os.readlink(p)}"
    return "not a regular file"


def zip_member_name(info: zipfile.ZipInfo) -> str:
    """A zip member's name as the tool that wrote it meant it. Without the UTF-8 flag (bit 0x800)
    Python decodes a name as cp437 (the zip standard's default), but Info-ZIP's `zip` on Linux and
    macOS stores the bytes it was given, UTF-8, unflagged: c1/é.png would read as c1/├⌐.png and match
    no label. So an unflagged name is taken from Info-ZIP's Unicode Path extra field (0x7075) when it
    has one for these bytes, else as UTF-8 when its bytes are valid UTF-8, else as cp437. Backslashes
    (zips written on Windows by some tools) become '/', as NVIDIA's loader does."""
    name = info.filename
    if not info.flag_bits & 0x800:
        try:
            raw = name.encode("cp437")
        except UnicodeEncodeError:  # (not decoded as cp437: keep it)
            raw = None
        if raw is not None:
            name = _unicode_path_field(info.extra, raw) or _utf8(raw) or name
    return name.replace("\\", "/")


def _utf8(raw: bytes) -> str | None:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return None


def _unicode_path_field(extra: bytes, raw: bytes) -> str | None:
    """Info-ZIP's Unicode Path extra field: id 0x7075, version 1, CRC-32 of the stored name, the
    name in UTF-8 (ignored when its CRC is not that of the stored name: the name was changed since)."""
    i = 0
    while i + 4 <= len(extra):
        tag, size = int.from_bytes(extra[i:i + 2], "little"), int.from_bytes(extra[i + 2:i + 4], "little")
        body = extra[i + 4:i + 4 + size]
        if tag == 0x7075 and len(body) >= 5 and body[0] == 1 and \
                int.from_bytes(body[1:5], "little") == zlib.crc32(raw):
            return _utf8(body[5:])
        i += 4 + size
    return None


class ImageSource:
    """Names and bytes of the images in a folder or zip, plus its dataset.json labels."""

    def __init__(self, path: Path):
        self.path = path
        self._zip = None
        self._members: dict[str, zipfile.ZipInfo] = {}
        raw = None
        self.unlisted: list[tuple[str, str]] = []  # (folder/, reason): subfolders that cannot be listed
        if path.is_dir():
            self.names = self._list_folder(path)
            meta = path / "dataset.json"
            self.meta_where = str(meta)
            if meta.exists() or meta.is_symlink():  # (a broken link is an error, not "no labels")
                try:
                    raw = meta.read_bytes()
                except OSError as exc:
                    raise DatasetError(f"{meta}: cannot be read ({exc.strerror or first_line(exc, 80)})") from None
        elif path.is_file():
            try:
                self._zip = zipfile.ZipFile(path)
            except (zipfile.BadZipFile, OSError):
                raise DatasetError(f"{path}: not a zip file or a folder of images") from None
            for info in self._zip.infolist():
                if not info.is_dir():
                    self._members.setdefault(zip_member_name(info), info)
            self.names = sorted(n for n in self._members if Path(n).suffix.lower() in IMAGE_EXTENSIONS)
            self.meta_where = f"{path}: its dataset.json"
            if "dataset.json" in self._members:
                try:
                    raw = self._zip.read(self._members["dataset.json"])
                except Exception as exc:  # a damaged or encrypted member
                    raise DatasetError(f"{self.meta_where} cannot be read ({first_line(exc, 80)})") from None
        else:
            raise DatasetError(f"{path}: no such file or folder")
        self.meta = raw  # dataset.json's bytes (None: there is none)

    def _list_folder(self, root: Path) -> list[str]:
        """Image files under `root` (recursively; links to folders are not followed, as NVIDIA's
        dataset_tool), as sorted '/'-separated relative names. A subfolder that cannot be listed
        (permission denied, removed meanwhile) is recorded in self.unlisted, never silently left out."""
        def unlisted(exc: OSError):
            why = exc.strerror or first_line(exc, 80)
            where = Path(exc.filename or root)
            if where == root:
                raise DatasetError(f"{root}: cannot be listed ({why})")
            rel = str(where.relative_to(root)).replace("\\", "/")
            self.unlisted.append((rel + "/", why))

        names = []
        for folder, _, files in os.walk(root, onerror=unlisted):
            for f in files:
                if Path(f).suffix.lower() in IMAGE_EXTENSIONS:
                    names.append(str((Path(folder) / f).relative_to(root)).replace("\\", "/"))
        return sorted(names)

    def unlisted_text(self) -> str:
        """'; 2 folders cannot be listed (a/: ...)' for an error message, '' when every folder was."""
        if not self.unlisted:
            return ""
        folder, why = self.unlisted[0]
        n = len(self.unlisted)
        return f"; {n} folder{'s' if n > 1 else ''} cannot be listed ({folder}: {why})"

    def read(self, name: str) -> bytes:
        if self._zip is not None:
            return self._zip.read(self._members[name])
        p = self.path / name
        why = _not_a_file(p)
        if why:
            raise OSError(why)
        return p.read_bytes()

    def labels(self) -> dict[str, object] | None:
        """dataset.json's labels as {file: label} (a label is checked where it is used: label_tensor),
        None when there is no dataset.json or it says {"labels": null}. The text may be UTF-8 with or
        without a BOM (Windows Notepad writes one), or UTF-16/32 with a BOM. Any other shape is a
        DatasetError naming the file: never taken silently as "no labels"."""
        if self.meta is None:
            return None
        where = self.meta_where
        try:
            data = json.loads(self.meta)  # (bytes: json detects UTF-8, -8-sig, -16, -32 by their BOM)
        except UnicodeDecodeError as exc:
            raise DatasetError(f"{where} is not UTF-8 text ({first_line(exc, 80)}): save it as UTF-8") from None
        except ValueError as exc:
            raise DatasetError(f"{where} is not valid JSON ({first_line(exc, 80)}); it must be {LABELS_SHAPE}") from None
        if not isinstance(data, dict) or "labels" not in data:
            got = (f"an object without \"labels\" (keys: {', '.join(list(map(str, data))[:3])})" if isinstance(data, dict)
                   else f"{_json_kind(data)}")
            raise DatasetError(f"{where} must be {LABELS_SHAPE}, not {got}")
        labels = data["labels"]
        if labels is None:
            return None
        if not isinstance(labels, list):
            raise DatasetError(f"{where}: \"labels\" must be a list of [file, label] pairs, not {_json_kind(labels)}")
        out = {}
        for i, entry in enumerate(labels):
            if not (isinstance(entry, list) and len(entry) == 2 and isinstance(entry[0], str)):
                raise DatasetError(f"{where}: entry {i + 1} of \"labels\" is {json.dumps(entry)[:60]}: each must be "
                                   "a [file, label] pair, e.g. [\"c0/img0.png\", 0]")
            out[entry[0].replace("\\", "/")] = entry[1]
        return out


def _json_kind(value) -> str:
    kinds = {dict: "an object", list: "a list", str: "a string", bool: "true/false", type(None): "null"}
    return kinds.get(type(value)) or f"the number {value}"


MAX_CLASSES = 100_000  # (a one-hot label per image: an ID used as a class would ask for terabytes)


def label_tensor(names: list[str], labels: dict, where: str) -> tuple[torch.Tensor, int]:
    """The labels of `names` as NVIDIA's loader reads dataset.json -> (labels [N, c_dim], c_dim).

    One number per image is a class index, whatever its JSON type (0.0/1.0/2.0 as pandas writes them
    make classes 0..2): one-hot over max + 1 classes. A list of numbers per image is a condition
    vector (float32), the same length for every image. A missing, null or malformed label is a
    DatasetError naming the file.
    """
    values = []
    for name in names:
        v = labels.get(name)
        if v is None:
            raise DatasetError(f"{where}: dataset.json has no label for {name}")
        if isinstance(v, bool) or not (isinstance(v, (int, float)) or
                                       (isinstance(v, list) and all(isinstance(e, (int, float)) and not isinstance(e, bool)
                                                                    for e in v))):
            raise DatasetError(f"{where}: the label of {name} is {json.dumps(v)[:60]}: give a class number or a "
                               "list of numbers")
        if isinstance(v, list):
            if not v or not all(math.isfinite(e) for e in v):
                raise DatasetError(f"{where}: the label of {name} is {json.dumps(v)[:60]}: a condition vector "
                                   "needs finite numbers")
        elif not (math.isfinite(v) and v >= 0 and float(v).is_integer()):
            raise DatasetError(f"{where}: the label of {name} is {v}: a class label must be a whole number >= 0 "
                               "(or give every image a vector)")
        elif v >= MAX_CLASSES:
            raise DatasetError(f"{where}: the label of {name} is {v:g}: class numbers go from 0 to the number of "
                               f"classes - 1 (at most {MAX_CLASSES})")
        values.append(v)
    vectors = [isinstance(v, list) for v in values]
    if any(vectors) and not all(vectors):
        name = names[vectors.index(not vectors[0])]
        raise DatasetError(f"{where}: the label of {name} is {'a vector' if not vectors[0] else 'a number'} "
                           f"but that of {names[0]} is {'a vector' if vectors[0] else 'a number'}")
    if not vectors[0]:
        classes = torch.tensor([int(v) for v in values])
        c_dim = int(classes.max()) + 1
        onehot = torch.zeros(len(values), c_dim)
        onehot[torch.arange(len(values)), classes] = 1
        return onehot, c_dim
    lengths = [len(v) for v in values]
    if len(set(lengths)) > 1:
        name = names[next(i for i, n in enumerate(lengths) if n != lengths[0])]
        raise DatasetError(f"{where}: the label of {name} has {len(labels[name])} numbers, that of {names[0]} "
                           f"{lengths[0]}")
    arr = torch.tensor(values, dtype=torch.float32)
    return arr, arr.shape[1]


def iter_images(path: str | Path, max_megapixels: float = DEFAULT_MAX_MEGAPIXELS
                ) -> Iterator[tuple[str, Image.Image | None, str | None]]:
    """(name, image or None, error or None) for every image file in the source, read by
    core.training.image_files.read_image (upright, 8-bit); an unreadable file (a broken link, a pipe,
    a damaged file or zip member) is an error, never an exception."""
    src = ImageSource(Path(path))
    for folder, why in src.unlisted:
        yield folder, None, f"folder cannot be listed ({why})"
    for name in src.names:
        try:
            data = src.read(name)
        except Exception as exc:  # the file itself: permissions, a zip member's CRC, ...
            yield name, None, f"cannot be read ({getattr(exc, 'strerror', None) or exc})"
            continue
        try:
            img = read_image(data, max_megapixels)
        except ImageReadError as exc:
            yield name, None, str(exc)
            continue
        yield name, img, None


class ImageDataset:
    """All images in memory as uint8 [N, C, R, R] (and labels), ready for training batches."""

    def __init__(self, path: str | Path, prep: Preparation | None = None, max_images: int | None = None,
                 on_skip=None, use_labels: bool = True):
        self.path = Path(path)
        prep = prep or Preparation()
        src = ImageSource(self.path)
        if not src.names:
            raise DatasetError(f"{self.path}: contains no images ({', '.join(sorted(IMAGE_EXTENSIONS))})"
                               + src.unlisted_text())
        labels = src.labels() if use_labels else None
        # Channels from the headers first, so that each image is decoded, prepared and let go in
        # turn: a folder of large photos never holds all its full-size bitmaps at once.
        channels = prep.channels or header_channels(src, prep.max_megapixels, max_images)
        images, names, skipped, size = [], [], 0, None
        for name, img, error in iter_images(self.path, prep.max_megapixels):
            if error is not None:
                skipped += 1
                if on_skip:
                    on_skip(name, error)
                continue
            try:
                arr = prep.apply(img, channels)
            except ImageReadError as exc:  # this image's pixels (a mode that cannot be converted): skipped
                skipped += 1
                if on_skip:
                    on_skip(name, str(exc))
                continue
            if size is None:
                size = arr.shape
                res = arr.shape[0]
                if res < 4 or res & (res - 1):
                    raise DatasetError(f"{self.path}: images are {res}x{res}; give a power-of-two resolution")
            elif arr.shape != size:
                raise DatasetError(f"{self.path}: {name} is {arr.shape[1]}x{arr.shape[0]}, others are "
                                   f"{size[1]}x{size[0]}; give a resolution to resize them all")
            images.append(arr)
            names.append(name)
            if max_images and len(images) >= max_images:
                break
        if not images:
            raise DatasetError(f"{self.path}: none of its {len(src.names)} image files could be read")
        self.names = names
        self.skipped = skipped
        self.images = torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2).contiguous()  # N, C, R, R
        self.resolution = int(self.images.shape[-1])
        self.channels = int(self.images.shape[1])
        self.labels, self.c_dim = self._labels(labels)

    def _labels(self, labels) -> tuple[torch.Tensor | None, int]:
        if not labels:
            return None, 0
        return label_tensor(self.names, labels, str(self.path))

    def __len__(self) -> int:
        return len(self.images)

    def batch(self, indices: torch.Tensor, device: torch.device | str = "cpu") -> tuple[torch.Tensor, torch.Tensor | None]:
        """Images as float in [-1, 1] [B, C, R, R] and labels [B, c_dim] (or None). To a GPU the
        pixels travel as uint8 from pinned memory (a quarter of float32's bytes, without blocking the
        Python thread) and become float there; the values are the same either way."""
        device = torch.device(device)
        x = upload(self.images[indices], device).to(torch.float32) / 127.5 - 1
        c = upload(self.labels[indices], device) if self.labels is not None else None
        return x, c

    def fingerprint(self, with_labels: bool = False) -> str:
        """Identifies the prepared pixels (for caches of real-image statistics), and with_labels the
        labels too (what a conditional run trains on)."""
        import hashlib
        h = hashlib.sha256(memoryview(self.images.numpy()).cast("B"))  # the tensor's own memory, no copy
        out = f"{self.resolution}x{self.channels}-{len(self)}-{h.hexdigest()[:16]}"
        if with_labels and self.labels is not None:
            labels = self.labels.contiguous().numpy()
            out += f"-c{self.c_dim}-{hashlib.sha256(memoryview(labels).cast('B')).hexdigest()[:8]}"
        return out


class DatasetWriter:
    """Writes NVIDIA's dataset layout as it goes: 00000/img00000000.png, ... and dataset.json
    (labels or null). The zip is built under a temporary name and renamed when complete."""

    def __init__(self, dest: str | Path):
        self.dest = Path(dest)
        self._file = atomic_open(self.dest, "wb")  # renamed over dest by close(), removed by abort()
        self.zip = zipfile.ZipFile(self._file.__enter__(), "w", compression=zipfile.ZIP_STORED)
        self.labels: list = []
        self.count = 0

    def add(self, pixels: np.ndarray, label=None) -> None:
        name = f"{self.count // 1000:05d}/img{self.count:08d}.png"
        buf = io.BytesIO()
        Image.fromarray(pixels[:, :, 0] if pixels.shape[2] == 1 else pixels).save(buf, format="PNG",
                                                                                  compress_level=1)
        self.zip.writestr(name, buf.getvalue())
        self.labels.append([name, label])
        self.count += 1

    def close(self) -> None:
        has_labels = any(label is not None for _, label in self.labels)
        self.zip.writestr("dataset.json", json.dumps({"labels": self.labels if has_labels else None}))
        self.zip.close()
        self._file.__exit__(None, None, None)

    def abort(self) -> None:
        self.zip.close()
        self._file.__exit__(InterruptedError, InterruptedError("aborted"), None)


@dataclass
class Prepared:
    count: int
    size: tuple  # (height, width, channels) of every image
    channels: int
    labelled: bool
    skipped: int


def prepare_dataset(source: Path, dest: Path, prep: Preparation, max_images: int | None = None,
                    on_skip=lambda name, error: None, progress=None) -> Prepared:
    """Write `dest` (a zip in NVIDIA's dataset layout, atomically) from the images in `source` (a
    folder or zip), each made square, resized and converted as `prep` says; unreadable files are
    skipped and named through on_skip(name, error), as are images whose pixels cannot be converted
    (Preparation.apply's ImageReadError). `progress`: a tqdm-like bar (reset, update).
    Channels, when not given, are 1 if every image is grey. DatasetError (one line) when the images
    disagree in size, a label is missing, or nothing can be read."""
    src = ImageSource(source)
    if not src.names:
        raise DatasetError(f"{source}: contains no images" + src.unlisted_text())
    labels = src.labels()
    channels = prep.channels or header_channels(src, prep.max_megapixels)
    writer = DatasetWriter(dest)
    skipped, size, written = 0, None, []
    try:
        total = min(len(src.names), max_images or len(src.names))
        if progress is not None:
            progress.reset(total=len(src.names))
        for name, img, error in iter_images(source, prep.max_megapixels):
            if progress is not None:
                progress.update(1)
            if error is not None:
                skipped += 1
                on_skip(name, error)
                continue
            try:
                arr = prep.apply(img, channels)
            except ImageReadError as exc:  # this image's pixels (a mode that cannot be converted): skipped
                skipped += 1
                on_skip(name, str(exc))
                continue
            # Sizes in messages are the files' own (W x H), and what making them square gave.
            made = f" ({arr.shape[1]}x{arr.shape[0]} once square)" if (img.width, img.height) != arr.shape[1::-1] else ""
            if size is None:
                size, first = arr.shape, f"{img.width}x{img.height}"
                res = arr.shape[0]
                if res < 4 or res & (res - 1):
                    raise DatasetError(f"{name} is {img.width}x{img.height}{made}: give --resolution "
                                       "(a power of two) to resize the images")
            elif arr.shape != size:
                raise DatasetError(f"{name} is {img.width}x{img.height}{made}, the first image was "
                                   f"{first}: give --resolution to resize them all")
            label = labels.get(name) if labels else None
            if labels and label is None:  # found now, by name, not as a null label later
                raise DatasetError(f"{source}: dataset.json has no label for {name}")
            writer.add(arr, label)
            written.append(name)
            if writer.count >= total:
                break
        if writer.count == 0:
            raise DatasetError(f"{source}: none of its {len(src.names)} image files could be read (named above)")
        if labels:
            label_tensor(written, labels, source)  # every label readable as NVIDIA's loader does
        writer.close()
    except BaseException:
        writer.abort()
        raise
    return Prepared(writer.count, size, channels, bool(labels), skipped)
