"""Reading image files as users have them: the one function every dataset path goes through
(stylegan-dataset, training from a folder or zip, metrics on raw data).

What it takes care of, so that no caller has to:
  - every format Pillow opens (the extensions NVIDIA's dataset_tool accepts: Pillow's registry);
  - a pixel limit (DEFAULT_MAX_MEGAPIXELS, raised by an option): a file over it is refused by its
    header alone, before anything is decoded (a 14000x13000 scan, a damaged header claiming a huge
    size), instead of Pillow's DecompressionBombError escaping;
  - EXIF orientation, mirrored orientations included (a phone photo stored sideways is turned
    upright before any crop);
  - high bit depth: 16-bit and 32-bit integer grey and float images are rescaled from their full
    range to 8 bits (16-bit: 0..65535; 32-bit: the stored type's range; float: 0..1), not clipped;
  - any exception while opening or decoding becomes one ImageReadError line (the caller names the
    file and skips it); nothing else escapes.
"""

from __future__ import annotations

import io
import warnings
from contextlib import contextmanager

import numpy as np
from PIL import Image

from core.errors import first_line

DEFAULT_MAX_MEGAPIXELS = 89.5  # Pillow's own warning threshold (MAX_IMAGE_PIXELS = 89,478,485)


class ImageReadError(Exception):
    """An image file that cannot be used; the message is the reason, one line (no file name). Raised
    here for files that fail to open or decode, and by dataset.Preparation.apply for pixels that
    cannot be converted; either way the caller names the file (on_skip) and skips it."""


# Formats Pillow registers but does not decode itself: stubs waiting for a handler (HDF5, GRIB, BUFR,
# MPEG, Windows metafiles) and PostScript, which it hands to Ghostscript — not a program to run on
# files from the internet.
NOT_IMAGES = {"EPS", "HDF5", "GRIB", "BUFR", "MPEG", "WMF", "PDF"}


def image_extensions() -> set[str]:
    """Lower-case extensions (with the dot) of every format Pillow opens by itself (NVIDIA's tool
    takes Pillow's whole registry; the few formats in NOT_IMAGES are left out)."""
    Image.init()
    return {ext for ext, fmt in Image.registered_extensions().items() if fmt in Image.OPEN and fmt not in NOT_IMAGES}


@contextmanager
def pillow_limit_off():
    """Our own limit replaces Pillow's (which warns, then raises, from inside open(), crop(), ...):
    for work on images that passed open_image's check."""
    old = Image.MAX_IMAGE_PIXELS
    Image.MAX_IMAGE_PIXELS = None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            yield
    finally:
        Image.MAX_IMAGE_PIXELS = old


def error_reason(exc: BaseException) -> str:
    """A foreign exception as the reason inside an ImageReadError: "Type: first line"."""
    text = first_line(exc, 120) if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def open_image(data: bytes, max_megapixels: float = DEFAULT_MAX_MEGAPIXELS) -> Image.Image:
    """Open (header only, nothing decoded) and check the size against the pixel limit.
    Raises ImageReadError."""
    try:
        with pillow_limit_off():
            img = Image.open(io.BytesIO(data))
    except Image.UnidentifiedImageError:
        raise ImageReadError("not an image in a format Pillow reads") from None
    except Exception as exc:  # a broken header can raise anything
        raise ImageReadError(f"unreadable header ({error_reason(exc)})") from None
    w, h = img.size
    if w <= 0 or h <= 0:
        raise ImageReadError(f"empty image ({w}x{h})")
    if max_megapixels and w * h > max_megapixels * 1e6:
        raise ImageReadError(f"{w}x{h} is {w * h / 1e6:.1f} megapixels, over the {max_megapixels:g}-megapixel "
                             "limit (raise it with --max-megapixels)")
    return img


def read_image(data: bytes, max_megapixels: float = DEFAULT_MAX_MEGAPIXELS) -> Image.Image:
    """Decode an image file into an upright 8-bit Pillow image (modes 1/L/LA/P/RGB/RGBA/CMYK/... as
    stored, except high-bit-depth grey, which becomes L). Raises ImageReadError, and only that."""
    img = open_image(data, max_megapixels)
    try:
        with pillow_limit_off():
            img.load()
    except Exception as exc:
        raise ImageReadError(f"truncated or corrupt ({error_reason(exc)})") from None
    try:
        orientation = int(img.getexif().get(0x0112, 1))
    except Exception:  # a damaged EXIF block: keep the stored orientation rather than lose the image
        orientation = 1
    try:
        img = to_8bit(img)  # (reads the file's own tags: before anything makes a copy)
    except Exception as exc:
        raise ImageReadError(f"pixels cannot be converted ({error_reason(exc)})") from None
    method = EXIF_TRANSPOSE.get(orientation)
    return img.transpose(method) if method is not None else img


# EXIF Orientation (TIFF tag 274) -> the transpose that turns the stored pixels upright (as
# PIL.ImageOps.exif_transpose does; 2, 4, 5, 7 are the mirrored ones).
EXIF_TRANSPOSE = {2: Image.Transpose.FLIP_LEFT_RIGHT, 3: Image.Transpose.ROTATE_180, 4: Image.Transpose.FLIP_TOP_BOTTOM,
                  5: Image.Transpose.TRANSPOSE, 6: Image.Transpose.ROTATE_270, 7: Image.Transpose.TRANSVERSE,
                  8: Image.Transpose.ROTATE_90}


def _integer_range(img: Image.Image, values: np.ndarray) -> float:
    """The largest value of a 32-bit integer ('I') image's stored type: a TIFF's BitsPerSample and
    SampleFormat (signed or unsigned); 16 bits for PNG and PGM/PPM (Pillow scales a PGM's maxval to
    0..65535) and for any other file whose values fit 16 bits; else signed 32 bits (Pillow's 'I')."""
    tags = getattr(img, "tag_v2", None)
    if img.format == "TIFF" and tags is not None:
        b = tags.get(258)
        bits = int(b[0] if isinstance(b, tuple) else b) if b else 32
        fmt = tags.get(339)
        signed = (fmt[0] if isinstance(fmt, tuple) else fmt) == 2
        return float(2 ** (bits - 1) - 1 if signed else 2 ** bits - 1)
    if img.format in ("PNG", "PPM") or values.max(initial=0) <= 65535:
        return 65535.0
    return float(2 ** 31 - 1)


def to_8bit(img: Image.Image) -> Image.Image:
    """High-bit-depth grey to 8-bit L by full-range rescaling; other modes unchanged.

    I;16* (16-bit): v / 65535; I (32-bit integers): v / the type's maximum; F (float): v in 0..1,
    the convention of float image files. Negative values and values past the maximum clip.
    """
    if img.mode.startswith("I;16"):
        scale = 65535.0
        a = np.asarray(img).astype(np.float64)
    elif img.mode == "I":
        a = np.asarray(img).astype(np.float64)
        scale = _integer_range(img, a)
    elif img.mode == "F":
        scale = 1.0
        a = np.asarray(img).astype(np.float64)
        a = np.nan_to_num(a, nan=0.0, posinf=1.0, neginf=0.0)
    else:
        return img
    out = np.clip(np.rint(a * (255.0 / scale)), 0, 255).astype(np.uint8)
    return Image.fromarray(out)  # uint8 [H, W]: mode L
