"""What real users' files do to the toolkit (the field-failures issue): high bit depth, EXIF
orientation, decompression bombs and damaged headers, every Pillow format, NVIDIA's --resolution WxH,
labels as NVIDIA's loader reads them, resuming from any folder. Each test builds its own small files
and asserts the right value (pixels, labels, file names)."""

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

ENV = {**os.environ, "PYTHONPATH": str(REPO), "XDG_CACHE_HOME": "/tmp/stylegan-test-cache"}
TINY = ["--cbase", "256", "--cmax", "16", "--z-dim", "16", "--w-dim", "16", "--map", "1", "--batch", "4",
        "--mbstd-group", "4"]
RAMP = [0, 64, 128, 191, 255]  # columns 0, 8, 16, 24, 31 of a full-range ramp, in 8 bits


def cli(module: str, *args, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", f"core.cli.{module}", *map(str, args)], env=ENV, cwd=cwd,
                          capture_output=True, text=True, timeout=300)


def zip_images(path: Path) -> dict[str, np.ndarray]:
    with zipfile.ZipFile(path) as z:
        return {n: np.asarray(Image.open(io.BytesIO(z.read(n)))) for n in sorted(z.namelist()) if n.endswith(".png")}


def one_line_error(r: subprocess.CompletedProcess, prog: str) -> str:
    assert r.returncode != 0 and "Traceback" not in r.stderr, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"{prog}: error:"), r.stderr
    return lines[0]


# ------------------------------------------------------------------------- 1. high bit depth ---

def ramp(maximum: float, dtype) -> np.ndarray:
    """32x32, a linear ramp from 0 to `maximum` (the type's full range) across the columns; columns
    0, 8, 16, 24, 31 hold RAMP's values on that scale."""
    row = np.linspace(0, 1, 32)
    row[[0, 8, 16, 24, 31]] = np.array(RAMP) / 255
    values = np.rint(row * maximum) if np.issubdtype(dtype, np.integer) else row * maximum
    return np.tile(values.astype(dtype), (32, 1))


def high_bit_depth_files(folder: Path) -> None:
    folder.mkdir(parents=True)
    Image.fromarray(ramp(65535, np.uint16)).save(folder / "grey16.png")              # I;16 PNG
    Image.fromarray(ramp(65535, np.uint16)).save(folder / "grey16.tif")              # I;16 TIFF
    Image.fromarray(ramp(2 ** 31 - 1, np.int32)).save(folder / "grey32.tif")         # I (int32) TIFF
    Image.fromarray(ramp(1.0, np.float32)).save(folder / "float.tif")                # F TIFF, 0..1


def test_read_image_rescales_every_high_bit_depth(tmp_path):
    from core.image_files import read_image
    high_bit_depth_files(tmp_path / "src")
    for f in sorted((tmp_path / "src").iterdir()):
        img = read_image(f.read_bytes())
        assert img.mode == "L", f.name
        assert np.asarray(img)[0, [0, 8, 16, 24, 31]].tolist() == RAMP, f.name


def test_high_bit_depth_through_dataset_training_and_metrics_paths(tmp_path):
    high_bit_depth_files(tmp_path / "src")
    r = cli("dataset", tmp_path / "src", tmp_path / "out.zip")
    assert r.returncode == 0, r.stderr
    images = zip_images(tmp_path / "out.zip")
    assert len(images) == 4
    for a in images.values():
        assert a.ndim == 2 and a[0, [0, 8, 16, 24, 31]].tolist() == RAMP
    from core.dataset import ImageDataset  # training (and metrics) read a folder through the same reader
    ds = ImageDataset(tmp_path / "src")
    assert ds.channels == 1 and ds.images[:, 0, 0, [0, 8, 16, 24, 31]].tolist() == [RAMP] * 4


# ----------------------------------------------------------------------- 2. EXIF orientation ---

def test_every_exif_orientation_is_applied(tmp_path):
    """The 8 orientations, mirrored ones included: each file stores the same upright picture turned
    the way a camera would, with the tag that says how; all must come out upright."""
    from PIL import ImageOps
    from core.image_files import read_image
    upright = np.zeros((6, 4, 3), np.uint8)  # 4 wide, 6 tall: red top-left, green top-right, blue bottom
    upright[:3, :2] = (255, 0, 0)
    upright[:3, 2:] = (0, 255, 0)
    upright[3:] = (0, 0, 255)
    up = Image.fromarray(upright)
    stored = {1: up, 2: ImageOps.mirror(up), 3: up.rotate(180), 4: ImageOps.flip(up),
              5: up.transpose(Image.Transpose.TRANSPOSE), 6: up.rotate(90, expand=True),
              7: up.transpose(Image.Transpose.TRANSVERSE), 8: up.rotate(270, expand=True)}
    for tag, img in stored.items():
        exif = Image.Exif()
        exif[0x0112] = tag
        buf = io.BytesIO()
        img.save(buf, format="PNG", exif=exif)
        got = np.asarray(read_image(buf.getvalue()))
        assert np.array_equal(got, upright), f"orientation {tag}"


def test_exif_orientation_before_the_centre_crop(tmp_path):
    """A phone photo stored 48x32 sideways (Orientation 6): upright it is 32x48, red over blue; the
    32x32 crop comes from the middle of the upright image."""
    src = tmp_path / "src"
    src.mkdir()
    stored = np.zeros((32, 48, 3), np.uint8)
    stored[:, :24] = (255, 0, 0)   # left half red: upright (rotated 90° clockwise) it is the top
    stored[:, 24:] = (0, 0, 255)
    exif = Image.Exif()
    exif[0x0112] = 6
    Image.fromarray(stored).save(src / "rot.jpg", quality=95, exif=exif)
    r = cli("dataset", src, tmp_path / "out.zip", "--resolution", "32")
    assert r.returncode == 0, r.stderr
    (a,) = zip_images(tmp_path / "out.zip").values()
    assert a.shape == (32, 32, 3)
    assert a[2, 16, 0] > 200 and a[2, 16, 2] < 60      # top: red
    assert a[29, 16, 2] > 200 and a[29, 16, 0] < 60    # bottom: blue
    assert abs(int(a[16, 2, 0]) - int(a[16, 29, 0])) < 30  # left and right columns alike (no side split)


# ---------------------------------------------------- 3. bombs, damaged headers, formats, WxH ---

def png_claiming(width: int, height: int) -> bytes:
    """A PNG whose header claims width x height (1-bit grey) with almost no data: a damaged header."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b"")


def test_oversized_and_broken_files_are_named_and_skipped_everywhere(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    (src / "huge_scan.png").write_bytes(png_claiming(14000, 13000))   # 182 MP: a decompression bomb
    (src / "bad_header.gif").write_bytes(b"GIF89a" + struct.pack("<HH", 65535, 65535) + b"\x00" * 7)
    (src / "garbage.tga").write_bytes(b"\x00\x00\x02" + b"\xff" * 30)
    for i in range(4):
        Image.new("RGB", (40, 40), (60 * i, 0, 0)).save(src / f"ok{i}.png")
    r = cli("dataset", src, tmp_path / "out.zip", "--resolution", "32")
    assert r.returncode == 0, r.stderr
    assert "Traceback" not in r.stderr
    assert "skipped huge_scan.png: 14000x13000 is 182.0 megapixels, over the 89.5-megapixel limit" in r.stderr
    assert "skipped bad_header.gif" in r.stderr and "skipped garbage.tga" in r.stderr
    assert "wrote 4 images" in r.stdout and len(zip_images(tmp_path / "out.zip")) == 4
    # Training from the folder does the same, by name.
    t = cli("train", "--data", src, "--outdir", tmp_path / "runs", "--resolution", "32", "--kimg", "0.004", *TINY)
    assert t.returncode == 0, t.stderr
    assert "skipped huge_scan.png" in t.stderr and "on 4 images (skipped 3" in t.stdout


def test_pixel_limit_is_an_option(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    Image.new("L", (2000, 1000), 128).save(src / "big.png")     # 2 megapixels
    Image.new("L", (64, 64), 10).save(src / "small.png")
    r = cli("dataset", src, tmp_path / "a.zip", "--resolution", "16", "--max-megapixels", "1.5")
    assert r.returncode == 0 and "skipped big.png: 2000x1000 is 2.0 megapixels, over the 1.5-megapixel" in r.stderr
    assert "wrote 1 images" in r.stdout
    r = cli("dataset", src, tmp_path / "b.zip", "--resolution", "16", "--max-megapixels", "2.5")
    assert r.returncode == 0 and "skipped" not in r.stderr and "wrote 2 images" in r.stdout
    assert "must be a positive number" in one_line_error(cli("dataset", src, tmp_path / "c.zip", "--max-megapixels", "0"),
                                                         "stylegan-dataset")


def test_every_extension_pillow_reads_and_nvidia_resolution_syntax(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    pixels = np.full((24, 24, 3), (10, 200, 30), np.uint8)
    for ext, fmt in [(".jfif", "JPEG"), (".tga", "TGA"), (".ppm", "PPM"), (".pcx", "PCX"), (".qoi", "QOI")]:
        Image.fromarray(pixels).save(src / f"img{ext}", format=fmt)
    Image.fromarray(pixels[:, :, 1]).save(src / "grey.pgm", format="PPM")
    from core.dataset import IMAGE_EXTENSIONS
    assert {".jfif", ".tga", ".pgm", ".ppm", ".pcx", ".qoi", ".webp", ".tif"} <= IMAGE_EXTENSIONS
    assert ".pdf" not in IMAGE_EXTENSIONS  # Pillow writes PDFs but cannot read them
    r = cli("dataset", src, tmp_path / "out.zip", "--resolution=16x16")
    assert r.returncode == 0, r.stderr
    assert "wrote 6 images (16x16" in r.stdout and "skipped" not in r.stderr
    msg = one_line_error(cli("dataset", src, tmp_path / "bad.zip", "--resolution=16x32"), "stylegan-dataset")
    assert "squares" in msg


# ------------------------------------------------------------------------------- 4. labels ---

def labelled_folder(folder: Path, labels: dict) -> Path:
    folder.mkdir(parents=True)
    for i, name in enumerate(labels):
        Image.new("RGB", (16, 16), (i * 20, 0, 0)).save(folder / name)
    (folder / "dataset.json").write_text(json.dumps({"labels": [[n, v] for n, v in labels.items() if v != "absent"]}))
    return folder


def test_float_class_labels_are_classes(tmp_path):
    """pandas writes 0.0/1.0/2.0: NVIDIA's loader makes them class indices, so 3 one-hot classes."""
    src = labelled_folder(tmp_path / "src", {f"img{i}.png": float(i % 3) for i in range(6)})
    r = cli("dataset", src, tmp_path / "data.zip")
    assert r.returncode == 0, r.stderr
    from core.dataset import ImageDataset
    for path in (src, tmp_path / "data.zip"):
        ds = ImageDataset(path)
        assert ds.c_dim == 3 and ds.labels.argmax(1).tolist() == [0, 1, 2, 0, 1, 2]
    vec = ImageDataset(labelled_folder(tmp_path / "vec", {"a.png": [0.5, 1.0], "b.png": [0.0, 2.0]}))
    assert vec.c_dim == 2 and vec.labels.tolist() == [[0.5, 1.0], [0.0, 2.0]]  # vectors are conditions


@pytest.mark.parametrize("labels,message", [
    ({"a.png": 0, "b.png": "absent"}, "dataset.json has no label for b.png"),
    ({"a.png": 0, "b.png": None}, "dataset.json has no label for b.png"),
    ({"a.png": 0, "b.png": 1.5}, "the label of b.png is 1.5: a class label must be a whole number"),
    ({"a.png": "cat", "b.png": 1}, 'the label of a.png is "cat"'),
    ({"a.png": [1, 2], "b.png": [1]}, "the label of b.png has 1 numbers"),
    ({"a.png": [1, 2], "b.png": 1}, "the label of b.png is a number but that of a.png is a vector"),
])
def test_bad_labels_are_found_when_the_zip_is_written(tmp_path, labels, message):
    src = labelled_folder(tmp_path / "src", labels)
    msg = one_line_error(cli("dataset", src, tmp_path / "data.zip"), "stylegan-dataset")
    assert message in msg
    assert not (tmp_path / "data.zip").exists() and not list(tmp_path.glob("*.tmp"))  # nothing half-written
    t = cli("train", "--data", src, "--outdir", tmp_path / "runs", "--cond", "--kimg", "0.004", *TINY)
    assert message in one_line_error(t, "stylegan-train")


def test_a_null_label_in_a_zip_is_named(tmp_path):
    src = labelled_folder(tmp_path / "src", {"a.png": 0, "b.png": 1})
    zpath = tmp_path / "data.zip"
    assert cli("dataset", src, zpath).returncode == 0
    with zipfile.ZipFile(zpath) as z:
        entries = {n: z.read(n) for n in z.namelist()}
    meta = json.loads(entries["dataset.json"])
    meta["labels"][1][1] = None  # what an older stylegan-dataset left for an unlabelled image
    entries["dataset.json"] = json.dumps(meta).encode()
    with zipfile.ZipFile(zpath, "w") as z:
        for n, data in entries.items():
            z.writestr(n, data)
    msg = one_line_error(cli("train", "--data", zpath, "--outdir", tmp_path / "runs", "--cond", "--kimg", "0.004", *TINY),
                         "stylegan-train")
    assert f"dataset.json has no label for {meta['labels'][1][0]}" in msg


# ----------------------------------------------------------------------- 5. resume anywhere ---

def test_resume_from_another_folder_and_with_the_dataset_moved(tmp_path):
    start = tmp_path / "start"
    start.mkdir()
    shutil.copy(REPO / "tests" / "fixtures" / "mnist_1000.zip", start / "digits.zip")
    r = cli("train", "--data", "digits.zip", "--outdir", "runs", "--kimg", "0.016", "--snap", "1", "--tick", "0.008",
            "--seed", "1", *TINY, cwd=start)
    assert r.returncode == 0, r.stderr
    (run,) = (start / "runs").iterdir()
    options = json.loads((run / "training_options.json").read_text())
    assert options["data"] == str(start / "digits.zip") and options["data_fingerprint"]
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    r = cli("train", "--resume", run, "--kimg", "0.024", cwd=elsewhere)  # from any folder
    assert r.returncode == 0, r.stderr
    # The dataset moved: --data names the same file in its new place.
    moved = tmp_path / "moved.zip"
    (start / "digits.zip").rename(moved)
    r = cli("train", "--resume", run, "--kimg", "0.032", cwd=elsewhere)
    assert "is gone; give its new place with --data" in one_line_error(r, "stylegan-train")
    r = cli("train", "--resume", run, "--kimg", "0.032", "--data", moved, cwd=elsewhere)
    assert r.returncode == 0, r.stderr
    snap = max(run.glob("network-snapshot-*.pt"))
    import torch
    assert torch.load(snap, weights_only=True)["training"]["nimg"] == 32
    # Another dataset is refused by name.
    other = tmp_path / "other"
    other.mkdir()
    for i in range(8):
        Image.new("L", (32, 32), i * 30).save(other / f"{i}.png")
    r = cli("train", "--resume", run, "--kimg", "0.04", "--data", other, cwd=elsewhere)
    assert f"{other} is not the dataset this run trained on" in one_line_error(r, "stylegan-train")


def test_older_runs_with_a_relative_path_resume_from_anywhere(tmp_path):
    """Runs written before paths were resolved kept --data as typed; it is looked up beside the run."""
    case = tmp_path / "case"
    case.mkdir()
    shutil.copy(REPO / "tests" / "fixtures" / "mnist_1000.zip", case / "d.zip")
    r = cli("train", "--data", "d.zip", "--outdir", ".", "--kimg", "0.008", "--snap", "1", "--tick", "0.008", *TINY,
            cwd=case)
    assert r.returncode == 0, r.stderr
    (run,) = [p for p in case.iterdir() if p.is_dir()]
    import torch
    from core.checkpoint import atomic_save
    snap = next(run.glob("network-snapshot-*.pt"))
    data = torch.load(snap, weights_only=True)
    data["training"]["config"]["data"] = "d.zip"  # as an older run stored it
    del data["training"]["config"]["data_fingerprint"]
    atomic_save(data, snap)
    r = cli("train", "--resume", run, "--kimg", "0.016", cwd=tmp_path)
    assert r.returncode == 0, r.stderr


# ----------------------------------------------------------------------- 10. the messages ---

def test_divergence_before_the_first_snapshot_says_so(tmp_path):
    r = cli("train", "--data", REPO / "tests" / "fixtures" / "mnist_1000.zip", "--outdir", tmp_path, "--kimg", "1",
            "--glr", "1e30", "--dlr", "1e30", "--snap", "1000", *TINY)
    msg = one_line_error(r, "stylegan-train").lower()
    assert "before its first snapshot" in msg and "nothing to resume" in msg and "none was written" not in msg


# ----------------------------------------------------------- 7. random noise, per image ---

@pytest.fixture(scope="module")
def generators(tmp_path_factory):
    """A StyleGAN2 (NVIDIA's fixture weights) and a StyleGAN1 (AdaIN) generator file."""
    import torch
    from core import Generator, GeneratorConfig
    from core.checkpoint import save_generator
    folder = tmp_path_factory.mktemp("gens")
    r = cli("convert", REPO / "tests" / "fixtures" / "official_sg2" / "G_tiny_skip.npz", folder / "demod.pt")
    assert r.returncode == 0, r.stderr
    torch.manual_seed(0)
    G = Generator(GeneratorConfig(flavour="adain", z_dim=32, w_dim=32, img_resolution=32, channel_base=512,
                                  channel_max=32, mapping_layers=2))
    with torch.no_grad():
        for name, p in G.named_parameters():
            if name.endswith("noise_strength"):
                p.fill_(0.5)  # (zero at init: make the noise visible)
    save_generator(folder / "adain.pt", G)
    return {"demod": folder / "demod.pt", "adain": folder / "adain.pt"}


def pngs(folder: Path) -> dict[str, np.ndarray]:
    return {p.name: np.asarray(Image.open(p)).astype(int) for p in sorted(folder.glob("*.png"))}


@pytest.mark.parametrize("flavour", ["demod", "adain"])
def test_random_noise_depends_on_noise_seed_and_image_only(tmp_path, generators, flavour):
    pkl = generators[flavour]
    noise = ["--noise-mode", "random", "--noise-seed", "9"]
    assert cli("generate", "--pkl", pkl, "--seeds", "3,5,7,11", *noise, "--batch", "8", "--save-ws",
               "--outdir", tmp_path / "batch").returncode == 0
    assert cli("generate", "--pkl", pkl, "--seeds", "5", *noise, "--batch", "1", "--outdir", tmp_path / "alone").returncode == 0
    assert cli("generate", "--pkl", pkl, "--seeds", "11,5", *noise, "--batch", "2", "--outdir", tmp_path / "other").returncode == 0
    r = cli("generate", "--pkl", pkl, "--ws", tmp_path / "batch" / "seed0005.npz", "--outdir", tmp_path / "ws")
    assert r.returncode == 0, r.stderr
    assert cli("generate", "--pkl", pkl, "--seeds", "5", "--noise-mode", "random", "--noise-seed", "10",
               "--outdir", tmp_path / "seed10").returncode == 0
    batch, alone, other, ws = (pngs(tmp_path / d) for d in ("batch", "alone", "other", "ws"))
    five = batch["seed0005.png"]
    assert np.array_equal(five, alone["seed0005.png"]) and np.array_equal(five, other["seed0005.png"])
    assert np.array_equal(five, ws["seed0005.png"])  # --save-ws + --ws gives the image back
    assert np.array_equal(batch["seed0011.png"], other["seed0011.png"])
    assert np.abs(five - pngs(tmp_path / "seed10")["seed0005.png"]).max() > 0  # the noise seed matters


def test_explorer_random_noise_equals_the_cli(tmp_path, generators):
    import torch
    from core.checkpoint import load_generator
    from core.images import to_uint8
    from explorer.latents import LatentComposer
    from explorer.state import ExplorerState
    assert cli("generate", "--pkl", generators["demod"], "--seeds", "2,7", "--noise-mode", "random", "--noise-seed",
               "4", "--outdir", tmp_path).returncode == 0
    G = load_generator(generators["demod"], torch.device("cpu"))
    composer = LatentComposer(G, torch.device("cpu"))
    state = ExplorerState()
    state.latent.x = 7.0
    state.noise.mode, state.noise.seed = "random", 4
    with torch.inference_mode():
        img = G.synthesis(composer.ws(state), noise=composer.noise(state))
    assert np.array_equal(to_uint8(img)[0].astype(int), pngs(tmp_path)["seed0007.png"])
