"""stylegan-dataset on inputs users really have, run as a user runs it (a subprocess, real files):
malformed or BOM-prefixed dataset.json, images whose pixels cannot be converted, broken links, and
zips whose non-ASCII names are UTF-8 without the UTF-8 flag (Info-ZIP's `zip` on Linux).

The rules: every bad input is one `stylegan-dataset: error: ...` line naming the file, exit 2, no
traceback and no zip written; an image file that cannot be used is named and skipped."""

import io
import json
import os
import shutil
import struct
import subprocess
import sys
import zipfile
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest import REPO

PROG = "stylegan-dataset"
SHAPE = '{"labels": [[file, label], ...]}'
COLOURS = {"c0/a.png": (255, 0, 0), "c0/b.png": (0, 255, 0), "c1/c.png": (0, 0, 255), "c1/d.png": (255, 255, 0)}


def dataset(*args, cwd: Path) -> subprocess.CompletedProcess:
    exe = shutil.which(PROG)
    cmd = [exe] if exe else [sys.executable, "-m", "core.cli.dataset"]
    return subprocess.run([*cmd, *map(str, args)], cwd=cwd, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "PYTHONPATH": str(REPO)})


def one_line_error(r: subprocess.CompletedProcess) -> str:
    assert r.returncode == 2 and "Traceback" not in r.stderr, (r.returncode, r.stderr)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"{PROG}: error:"), r.stderr
    return lines[0]


def written(path: Path) -> tuple[dict[str, np.ndarray], object]:
    """The output zip's images by name and its dataset.json's labels."""
    with zipfile.ZipFile(path) as z:
        images = {n: np.asarray(Image.open(io.BytesIO(z.read(n)))) for n in sorted(z.namelist()) if n.endswith(".png")}
        return images, json.loads(z.read("dataset.json"))["labels"]


def png(colour, mode="RGB") -> bytes:
    buf = io.BytesIO()
    Image.new(mode, (32, 32), colour).save(buf, format="PNG")
    return buf.getvalue()


def labelled_folder(root: Path) -> Path:
    """Four 32x32 images in two class folders (each its own colour); no dataset.json yet."""
    for name, colour in COLOURS.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(png(colour))
    return root


def labels_by_colour(out: Path) -> dict[tuple, int]:
    images, labels = written(out)
    assert labels is not None, "the output lost the labels"
    return {tuple(int(v) for v in images[n][0, 0, :3]): label for n, label in labels}


# ------------------------------------------------------------------ 1. malformed dataset.json ---

MALFORMED = [
    ('[["c0/a.png", 0], ["c0/b.png", 0], ["c1/c.png", 1], ["c1/d.png", 1]]', "not a list"),  # no {"labels": ...}
    ('{"foo": 1}', 'without "labels"'),
    ('{}', 'without "labels"'),
    ('"labels"', "not a string"),
    ('3', "not the number 3"),
    ('{"labels": {"c0/a.png": 0}}', '"labels" must be a list of [file, label] pairs'),
    ('{"labels": 5}', '"labels" must be a list of [file, label] pairs'),
    ('{"labels": [["c0/a.png", 0], ["c0/b.png"]]}', 'entry 2 of "labels"'),
    ('{"labels": [["c0/a.png", 0, 1]]}', 'entry 1 of "labels"'),
    ('{"labels": [[0, 0]]}', 'entry 1 of "labels"'),
    ('{"labels": ["c0/a.png"]}', 'entry 1 of "labels"'),
    ('{"labels": [["c0/a.png", 0],', "not valid JSON"),
    ('', "not valid JSON"),
]


@pytest.mark.parametrize("text,says", MALFORMED)
def test_malformed_dataset_json_is_one_error_naming_it(tmp_path, text, says):
    """A dataset.json whose shape is not {"labels": [[file, label], ...]} was taken as "no labels"
    and an unlabelled zip written; it is one error line naming the file and the shape it must have."""
    src = labelled_folder(tmp_path / "src")
    (src / "dataset.json").write_text(text)
    r = dataset(src, "out.zip", cwd=tmp_path)
    line = one_line_error(r)
    assert str(src / "dataset.json") in line and says in line, line
    assert "[file, label]" in line, line  # what it must be
    assert not (tmp_path / "out.zip").exists()


def test_malformed_dataset_json_in_a_zip_is_named_too(tmp_path):
    src = tmp_path / "src.zip"
    with zipfile.ZipFile(src, "w") as z:
        for name, colour in COLOURS.items():
            z.writestr(name, png(colour))
        z.writestr("dataset.json", json.dumps([[n, 0] for n in COLOURS]))
    line = one_line_error(dataset(src, "out.zip", cwd=tmp_path))
    assert "src.zip" in line and "dataset.json" in line and SHAPE in line, line
    assert not (tmp_path / "out.zip").exists()


def test_null_labels_stay_allowed(tmp_path):
    src = labelled_folder(tmp_path / "src")
    (src / "dataset.json").write_text('{"labels": null}')
    r = dataset(src, "out.zip", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    images, labels = written(tmp_path / "out.zip")
    assert len(images) == 4 and labels is None


# ---------------------------------------------------------------- 2. dataset.json encodings ---

@pytest.mark.parametrize("encoding", ["utf-8-sig", "utf-16"])  # Notepad's "UTF-8" and PowerShell 5's default
@pytest.mark.parametrize("container", ["folder", "zip"])
def test_dataset_json_with_a_byte_order_mark_is_read(tmp_path, encoding, container):
    src = labelled_folder(tmp_path / "src")
    raw = json.dumps({"labels": [[n, int(n[1])] for n in COLOURS]}).encode(encoding)
    assert raw[:2] in (b"\xef\xbb", b"\xff\xfe", b"\xfe\xff")
    if container == "folder":
        (src / "dataset.json").write_bytes(raw)
    else:
        with zipfile.ZipFile(tmp_path / "src.zip", "w") as z:
            for name in COLOURS:
                z.write(src / name, name)
            z.writestr("dataset.json", raw)
        src = tmp_path / "src.zip"
    r = dataset(src, "out.zip", cwd=tmp_path)
    assert r.returncode == 0 and "labelled" in r.stdout, r.stderr
    assert labels_by_colour(tmp_path / "out.zip") == {colour: int(n[1]) for n, colour in COLOURS.items()}


def test_dataset_json_in_another_encoding_is_named(tmp_path):
    src = labelled_folder(tmp_path / "src")
    (src / "dataset.json").write_bytes('{"labels": [["c0/é.png", 0]]}'.encode("latin-1"))
    line = one_line_error(dataset(src, "out.zip", cwd=tmp_path))
    assert str(src / "dataset.json") in line and "UTF-8" in line, line


def test_dataset_json_that_is_a_broken_link_is_an_error(tmp_path):
    src = labelled_folder(tmp_path / "src")
    os.symlink(tmp_path / "nowhere.json", src / "dataset.json")
    line = one_line_error(dataset(src, "out.zip", cwd=tmp_path))
    assert str(src / "dataset.json") in line and "cannot be read" in line, line


# ------------------------------------------------------- 3. pixels that cannot be converted ---

def lab_folder(root: Path) -> Path:
    root.mkdir()
    Image.new("RGB", (32, 32), (200, 10, 10)).save(root / "a.png")
    Image.new("LAB", (32, 32), (50, 10, 10)).save(root / "p_lab.tif")
    assert Image.open(root / "p_lab.tif").mode == "LAB"
    return root


def test_an_image_that_cannot_be_converted_is_named_and_skipped(tmp_path):
    """Pillow cannot convert LAB to grey: that one file is named and skipped, the rest written (it
    aborted the whole run with Pillow's message, naming no file)."""
    lab_folder(tmp_path / "lab")
    r = dataset("lab", "l1.zip", "--resolution", "32", "--channels", "1", cwd=tmp_path)
    assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr
    assert r.stderr.strip().splitlines() == [f"{PROG}: skipped p_lab.tif: its LAB pixels cannot be converted to grey "
                                             "(ValueError: conversion from LAB to RGB not supported)"], r.stderr
    assert "wrote 1 images" in r.stdout and "skipped 1" in r.stdout, r.stdout
    images, labels = written(tmp_path / "l1.zip")
    assert len(images) == 1 and next(iter(images.values())).shape == (32, 32) and labels is None


def test_when_no_image_can_be_converted_it_is_one_error(tmp_path):
    (tmp_path / "lab").mkdir()
    Image.new("LAB", (32, 32)).save(tmp_path / "lab" / "p_lab.tif")
    r = dataset("lab", "l1.zip", "--channels", "1", cwd=tmp_path)
    assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr
    skip, error = r.stderr.strip().splitlines()
    assert skip.startswith(f"{PROG}: skipped p_lab.tif: ") and error.startswith(f"{PROG}: error: ") and \
        "none of its 1 image files" in error, r.stderr
    assert not (tmp_path / "l1.zip").exists()


def test_training_loader_skips_it_through_on_skip(tmp_path):
    """The same reader serves training (ImageDataset): the file goes through on_skip, not an exception."""
    from core.training.dataset import ImageDataset, Preparation
    lab_folder(tmp_path / "lab")
    skipped = []
    ds = ImageDataset(tmp_path / "lab", Preparation(resolution=32, channels=1), on_skip=lambda n, e: skipped.append((n, e)))
    assert ds.names == ["a.png"] and ds.skipped == 1 and [n for n, _ in skipped] == ["p_lab.tif"]
    assert "cannot be converted to grey" in skipped[0][1]


# -------------------------------------------------------------------- 4. links and non-files ---

def test_broken_link_and_pipe_are_named_and_skipped(tmp_path):
    src = tmp_path / "dl"
    src.mkdir()
    (src / "a.png").write_bytes(png((1, 2, 3)))
    os.symlink("/nonexistent", src / "dangling.png")
    os.symlink("loop.png", src / "loop.png")
    if hasattr(os, "mkfifo"):
        os.mkfifo(src / "pipe.png")  # read, it would block forever: named without being opened
    r = dataset(src, "d.zip", cwd=tmp_path)
    assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr
    lines = r.stderr.strip().splitlines()
    assert f"{PROG}: skipped dangling.png: cannot be read (a broken link to /nonexistent)" in lines, r.stderr
    assert any(line.startswith(f"{PROG}: skipped loop.png: cannot be read") for line in lines), r.stderr
    if hasattr(os, "mkfifo"):
        assert f"{PROG}: skipped pipe.png: cannot be read (not a regular file)" in lines, r.stderr
    assert "wrote 1 images" in r.stdout and f"skipped {len(lines)}" in r.stdout, r.stdout


# ------------------------------------------------------ 5. zip names without the UTF-8 flag ---

class RawNameInfo(zipfile.ZipInfo):
    """A ZipInfo written with the name's bytes as given and the UTF-8 flag (0x800) unset, as
    Info-ZIP's `zip` 3.0 writes them on Linux (Python would set the flag for a non-ASCII name)."""

    raw_name: bytes = b""

    def _encodeFilenameFlags(self):
        return self.raw_name, self.flag_bits & ~0x800


def raw_zip(path: Path, members: list[tuple[bytes, bytes, bytes]]) -> None:
    """members: (raw name, extra field, data)."""
    with zipfile.ZipFile(path, "w") as z:
        for raw, extra, data in members:
            info = RawNameInfo(raw.decode("cp437"))
            info.raw_name, info.extra = raw, extra
            z.writestr(info, data)
    with zipfile.ZipFile(path) as z:  # what Python sees: the flag unset, the name decoded as cp437
        assert all(not i.flag_bits & 0x800 for i in z.infolist())


def unicode_path_field(unicode_name: str, raw: bytes) -> bytes:
    body = b"\x01" + struct.pack("<I", zlib.crc32(raw)) + unicode_name.encode("utf-8")
    return struct.pack("<HH", 0x7075, len(body)) + body


NAMES = {"c0/a.png": 0, "c1/é.png": 1, "c1/日本.png": 1}


@pytest.mark.parametrize("how", ["utf8-unflagged", "info-zip-command", "cp437", "unicode-path-field"])
def test_non_ascii_zip_names_match_their_labels(tmp_path, how):
    colours = {n: (40 * i + 10, 0, 200) for i, n in enumerate(NAMES)}
    meta = json.dumps({"labels": [[n, v] for n, v in NAMES.items()]}, ensure_ascii=False).encode()
    src = tmp_path / "src.zip"
    if how == "info-zip-command":
        if not shutil.which("zip"):
            pytest.skip("Info-ZIP's zip is not installed")
        folder = tmp_path / "src"
        for n in NAMES:
            (folder / n).parent.mkdir(parents=True, exist_ok=True)
            (folder / n).write_bytes(png(colours[n]))
        (folder / "dataset.json").write_bytes(meta)
        subprocess.run(["zip", "-q", "-r", str(src), "."], cwd=folder, check=True,
                       env={**os.environ, "LC_ALL": "C.UTF-8"})
    elif how == "cp437":  # a DOS-era archive: the bytes are cp437 ('é' is 0x82), which stays as it was
        names = {n: n for n in NAMES if n != "c1/日本.png"}
        colours = {n: colours[n] for n in names}
        meta = json.dumps({"labels": [[n, NAMES[n]] for n in names]}).encode()
        raw_zip(src, [(n.encode("cp437"), b"", png(colours[n])) for n in names] + [(b"dataset.json", b"", meta)])
    elif how == "unicode-path-field":  # the stored bytes are a stand-in; the 0x7075 field has the real name
        members = [(n.encode("ascii", "replace"), unicode_path_field(n, n.encode("ascii", "replace")), png(colours[n]))
                   for n in NAMES]
        raw_zip(src, members + [(b"dataset.json", b"", meta)])
    else:
        raw_zip(src, [(n.encode("utf-8"), b"", png(colours[n])) for n in NAMES] + [(b"dataset.json", b"", meta)])
    r = dataset(src, "out.zip", cwd=tmp_path)
    assert r.returncode == 0 and "Traceback" not in r.stderr and "labelled" in r.stdout, r.stderr
    assert labels_by_colour(tmp_path / "out.zip") == {colours[n]: NAMES[n] for n in colours}


# --------------------------------------------------------- 6. folders that cannot be listed ---

DENY_LISTING = """
import errno, os, sys
real = os.scandir
def scandir(path='.'):  # the OS refusing to list one folder (as chmod 000 does for a non-root user)
    if os.path.basename(os.fspath(path)) == {denied!r}:
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), os.fspath(path))
    return real(path)
os.scandir = scandir
sys.argv = [{prog!r}, *sys.argv[1:]]
from core.cli.dataset import main
sys.exit(main())
"""


def dataset_denied(denied: str, *args, cwd: Path) -> subprocess.CompletedProcess:
    """stylegan-dataset run in a process whose OS refuses to list folders named `denied` (a test run as
    root cannot make chmod 000 refuse it)."""
    code = DENY_LISTING.format(denied=denied, prog=PROG)
    return subprocess.run([sys.executable, "-c", code, *map(str, args)], cwd=cwd, capture_output=True, text=True,
                          timeout=300, env={**os.environ, "PYTHONPATH": str(REPO)})


def test_a_subfolder_that_cannot_be_listed_is_named_and_skipped(tmp_path):
    """Its images were silently left out (pathlib's rglob ignores the PermissionError): now the
    folder is named like any skipped file, counted, and the rest written."""
    labelled_folder(tmp_path / "src")
    r = dataset_denied("c1", "src", "d.zip", cwd=tmp_path)
    assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr
    assert r.stderr.strip().splitlines() == [f"{PROG}: skipped c1/: folder cannot be listed (Permission denied)"], r.stderr
    assert "wrote 2 images" in r.stdout and "skipped 1" in r.stdout, r.stdout
    assert len(written(tmp_path / "d.zip")[0]) == 2


def test_when_nothing_can_be_listed_it_is_one_error(tmp_path):
    labelled_folder(tmp_path / "src")
    r = dataset_denied("src", "src", "d.zip", cwd=tmp_path)  # the folder itself
    assert one_line_error(r) == f"{PROG}: error: src: cannot be listed (Permission denied)"
    for name in COLOURS:  # images only below unlistable folders: "no images", and why
        if name.startswith("c1/"):
            (tmp_path / "src" / name).unlink()
            (tmp_path / "src" / "c0" / Path(name).name).write_bytes(png((9, 9, 9)))
    r = dataset_denied("c0", "src", "d.zip", cwd=tmp_path)
    assert one_line_error(r) == (f"{PROG}: error: src: contains no images; 1 folder cannot be listed "
                                 "(c0/: Permission denied)")
    assert not (tmp_path / "d.zip").exists()


def test_training_loader_names_the_folder_through_on_skip(tmp_path):
    import core.training.dataset as ds_module
    from core.training.dataset import ImageDataset, Preparation
    labelled_folder(tmp_path / "src")
    real = os.scandir

    def scandir(path="."):
        if os.path.basename(os.fspath(path)) == "c0":
            raise PermissionError(13, "Permission denied", os.fspath(path))
        return real(path)

    skipped = []
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(ds_module.os, "scandir", scandir)
        ds = ImageDataset(tmp_path / "src", Preparation(resolution=32), on_skip=lambda n, e: skipped.append((n, e)))
    assert ds.names == ["c1/c.png", "c1/d.png"] and ds.skipped == 1
    assert skipped == [("c0/", "folder cannot be listed (Permission denied)")]


def test_the_training_loader_decodes_one_image_at_a_time(tmp_path, monkeypatch):
    """It decoded every file to its full-size bitmap before preparing any (only to choose the
    channels): a folder of large photos ran out of memory. The channels now come from the headers;
    each image is decoded, prepared and let go in turn."""
    import weakref
    import core.training.dataset as ds_module
    from core.training.dataset import ImageDataset, Preparation
    src = tmp_path / "photos"
    src.mkdir()
    for i in range(6):
        Image.new("RGB" if i == 4 else "L", (256, 192), (i * 40, 0, 0) if i == 4 else i * 40).save(src / f"p{i}.png")
    refs, most = [], [0]  # (PIL images define __eq__: no WeakSet)
    real_read, real_apply = ds_module.read_image, Preparation.apply

    def read_image(data, max_megapixels):
        img = real_read(data, max_megapixels)
        refs.append(weakref.ref(img))
        return img

    def apply(self, img, channels):
        most[0] = max(most[0], sum(r() is not None for r in refs))
        return real_apply(self, img, channels)
    monkeypatch.setattr(ds_module, "read_image", read_image)
    monkeypatch.setattr(Preparation, "apply", apply)
    ds = ImageDataset(src, Preparation(resolution=32))
    assert len(ds.names) == 6 and ds.channels == 3  # (one colour image among grey ones: RGB, as before)
    assert most[0] <= 2, most[0]
    ds = ImageDataset(src, Preparation(resolution=32), max_images=3)  # the channels of the images it keeps
    assert ds.names == ["p0.png", "p1.png", "p2.png"] and ds.channels == 1
