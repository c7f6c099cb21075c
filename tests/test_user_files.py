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
    Image.fromarray(ramp(65535, np.uint16)).save(folder / "grey16.pgm")              # 16-bit PGM (Pillow: I)


def test_read_image_rescales_every_high_bit_depth(tmp_path):
    from core.training.image_files import read_image
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
    assert len(images) == 5
    for a in images.values():
        assert a.ndim == 2 and a[0, [0, 8, 16, 24, 31]].tolist() == RAMP
    from core.training.dataset import ImageDataset  # training (and metrics) read a folder through the same reader
    ds = ImageDataset(tmp_path / "src")
    assert ds.channels == 1 and ds.images[:, 0, 0, [0, 8, 16, 24, 31]].tolist() == [RAMP] * 5


# ----------------------------------------------------------------------- 2. EXIF orientation ---

def test_every_exif_orientation_is_applied(tmp_path):
    """The 8 orientations, mirrored ones included: each file stores the same upright picture turned
    the way a camera would, with the tag that says how; all must come out upright."""
    from PIL import ImageOps
    from core.training.image_files import read_image
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
    from core.training.dataset import IMAGE_EXTENSIONS
    assert {".jfif", ".tga", ".pgm", ".ppm", ".pcx", ".qoi", ".webp", ".tif"} <= IMAGE_EXTENSIONS
    assert not {".pdf", ".eps", ".h5", ".mpg"} & IMAGE_EXTENSIONS  # not decoded by Pillow itself
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
    from core.training.dataset import ImageDataset
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
    ({"a.png": 0, "b.png": 20261130123456}, "the label of b.png is 2.02611e+13: class numbers go from 0"),
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


def test_a_conditional_run_refuses_the_same_images_with_other_labels(tmp_path):
    src = labelled_folder(tmp_path / "src", {f"img{i}.png": i % 3 for i in range(8)})
    r = cli("train", "--data", src, "--outdir", tmp_path / "runs", "--cond", "--kimg", "0.004", "--tick", "0.004", *TINY)
    assert r.returncode == 0, r.stderr
    (run,) = (tmp_path / "runs").iterdir()
    relabelled = json.loads((src / "dataset.json").read_text())
    relabelled["labels"] = [[n, (v + 1) % 3] for n, v in relabelled["labels"]]  # same classes, other images
    (src / "dataset.json").write_text(json.dumps(relabelled))
    r = cli("train", "--resume", run, "--kimg", "0.008")
    assert "is not the dataset this run trained on (its prepared images or labels differ" in one_line_error(r, "stylegan-train")


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
    from core.checkpoints.ours import atomic_save
    snap = next(run.glob("network-snapshot-*.pt"))
    data = torch.load(snap, weights_only=True)
    data["training"]["config"]["data"] = "d.zip"  # as an older run stored it
    del data["training"]["config"]["data_fingerprint"]
    atomic_save(data, snap)
    r = cli("train", "--resume", run, "--kimg", "0.016", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    r = cli("train", "--resume", run.name, "--kimg", "0.024", cwd=case)  # a relative run path works too
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
    from core.checkpoints.ours import save_generator
    folder = tmp_path_factory.mktemp("gens")
    r = cli("convert", REPO / "tests" / "fixtures" / "official_sg2" / "G_tiny_skip.npz", folder / "stylegan2.pt")
    assert r.returncode == 0, r.stderr
    torch.manual_seed(0)
    G = Generator(GeneratorConfig(arch="stylegan1", z_dim=32, w_dim=32, img_resolution=32, channel_base=512,
                                  channel_max=32, mapping_layers=2))
    with torch.no_grad():
        for name, p in G.named_parameters():
            if name.endswith("noise_strength"):
                p.fill_(0.5)  # (zero at init: make the noise visible)
    save_generator(folder / "stylegan1.pt", G)
    return {"stylegan2": folder / "stylegan2.pt", "stylegan1": folder / "stylegan1.pt"}


def pngs(folder: Path) -> dict[str, np.ndarray]:
    return {p.name: np.asarray(Image.open(p)).astype(int) for p in sorted(folder.glob("*.png"))}


@pytest.mark.parametrize("arch", ["stylegan2", "stylegan1"])
def test_random_noise_depends_on_noise_seed_and_image_only(tmp_path, generators, arch):
    pkl = generators[arch]
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
    from core.checkpoints.load import load_generator
    from core.images import to_uint8
    from explorer.latents import LatentComposer
    from explorer.state import ExplorerState
    assert cli("generate", "--pkl", generators["stylegan2"], "--seeds", "2,7", "--noise-mode", "random", "--noise-seed",
               "4", "--outdir", tmp_path).returncode == 0
    G = load_generator(generators["stylegan2"], torch.device("cpu"))
    composer = LatentComposer(G, torch.device("cpu"))
    state = ExplorerState()
    state.latent.x = 7.0
    state.noise.mode, state.noise.seed = "random", 4
    with torch.inference_mode():
        img = G.synthesis(composer.ws(state), noise=composer.noise(state))
    assert np.array_equal(to_uint8(img)[0].astype(int), pngs(tmp_path)["seed0007.png"])


# ------------------------------------------------ 6. transfer learning from published networks ---

def test_init_from_an_nvidia_pickle_takes_g_d_and_ada_p(tmp_path):
    """An NVIDIA stylegan2-ada-pytorch snapshot (G, D, G_ema, augment_pipe) built from the official
    fixture weights: --init and --to networks take all of it, and D still gives NVIDIA's logits."""
    import torch
    from conftest import fixture_discriminator, fixture_generator, load_npz, max_abs
    from format_builders import write_nvidia_pkl
    from core.networks.build import build_discriminator
    from core.checkpoints.read import read_networks
    G_ema, D = fixture_generator("skip"), fixture_discriminator()
    G = fixture_generator("skip")
    with torch.no_grad():
        G.synthesis.b4.const.add_(0.5)  # the training G differs from G_ema
    pkl = tmp_path / "network-snapshot-000120.pkl"
    write_nvidia_pkl(G_ema, pkl, D=D, G_train=G, ada_p=0.25)
    nets = read_networks(pkl)
    assert nets["meta"]["source_format"] == "nvidia-pytorch" and nets["networks"]["ada_p"] == 0.25
    for ours, theirs in ((nets["G_ema"], G_ema.state_dict()), (nets["networks"]["G"], G.state_dict()),
                         (nets["networks"]["D"], D.state_dict())):
        assert ours.keys() == theirs.keys() and all(torch.equal(ours[k], theirs[k]) for k in ours)
    out = load_npz("D_tiny_resnet_out.npz")
    D2 = build_discriminator(nets["D_config"], nets["networks"]["D"])
    assert max_abs(D2(torch.from_numpy(out["img_noise"])), out["logits_noise"]) <= 1e-4
    # The commands a user runs.
    data = tmp_path / "rgb"
    data.mkdir()
    for i in range(8):
        Image.fromarray(np.random.default_rng(i).integers(0, 255, (32, 32, 3), dtype=np.uint8)).save(data / f"{i}.png")
    opts = ["--data", data, "--kimg", "0.004", "--batch", "4", "--mbstd-group", "4", "--map", "2", "--cbase", "1024",
            "--cmax", "64", "--z-dim", "64", "--w-dim", "64"]
    r = cli("train", *opts, "--outdir", tmp_path / "runs", "--init", pkl)
    assert r.returncode == 0, r.stderr
    assert f"started from {pkl}: G, G_ema and D; ADA p 0.250" in r.stdout
    r = cli("convert", pkl, tmp_path / "nets.pt", "--to", "networks")
    assert r.returncode == 0 and "networks: G, G_ema, D, ADA p 0.250" in r.stdout, r.stderr
    back = read_networks(tmp_path / "nets.pt")
    assert all(torch.equal(back["networks"]["D"][k], D.state_dict()[k]) for k in D.state_dict())
    r = cli("train", *opts, "--outdir", tmp_path / "runs", "--init", tmp_path / "nets.pt")
    assert r.returncode == 0 and "G, G_ema and D; ADA p 0.250" in r.stdout, r.stderr
    # A generator-only format still works, with D from scratch (said so).
    r = cli("train", *opts, "--outdir", tmp_path / "runs", "--init", REPO / "tests" / "fixtures" / "official_sg2" / "G_tiny_skip.npz")
    assert r.returncode == 0 and "D from scratch" in r.stdout, r.stderr


class RosinalityD(__import__("torch").nn.Module):
    """rosinality's Discriminator, written out from its published structure as a brute-force reference:
    every blur an explicit zero pad + depthwise convolution, every layer spelled out."""

    def __init__(self, state: dict, size: int):
        super().__init__()
        self.s, self.size = state, size

    def forward(self, x):
        import math
        import torch
        import torch.nn.functional as F
        s = self.s
        k = torch.tensor([1.0, 3, 3, 1])
        k = (k[:, None] * k[None]) / 64

        def lrelu(v, b):
            return F.leaky_relu(v + b.view(1, -1, 1, 1), 0.2) * math.sqrt(2)

        def eq(w):
            return w / math.sqrt(w[0].numel())

        def blur(v, p0, p1):
            v = F.pad(v, [p0, p1, p0, p1])
            return F.conv2d(v, k.flip([0, 1]).expand(v.shape[1], 1, 4, 4), groups=v.shape[1])

        out = lrelu(F.conv2d(x, eq(s["convs.0.0.weight"])), s["convs.0.1.bias"])
        i = 1
        while f"convs.{i}.conv1.0.weight" in s:
            h = lrelu(F.conv2d(out, eq(s[f"convs.{i}.conv1.0.weight"]), padding=1), s[f"convs.{i}.conv1.1.bias"])
            h = lrelu(F.conv2d(blur(h, 2, 2), eq(s[f"convs.{i}.conv2.1.weight"]), stride=2), s[f"convs.{i}.conv2.2.bias"])
            skip = F.conv2d(blur(out, 1, 1), eq(s[f"convs.{i}.skip.1.weight"]), stride=2)
            out = (h + skip) / math.sqrt(2)
            i += 1
        b, c, hh, ww = out.shape
        g = min(b, 4)
        sd = out.view(g, -1, 1, c, hh, ww)
        sd = torch.sqrt(sd.var(0, unbiased=False) + 1e-8).mean([2, 3, 4], keepdim=True).squeeze(2)
        out = torch.cat([out, sd.repeat(g, 1, hh, ww)], 1)
        out = lrelu(F.conv2d(out, eq(s["final_conv.0.weight"]), padding=1), s["final_conv.1.bias"])
        out = out.reshape(b, -1)
        out = F.leaky_relu(out @ eq(s["final_linear.0.weight"]).t() + s["final_linear.0.bias"], 0.2) * math.sqrt(2)
        return out @ eq(s["final_linear.1.weight"]).t() + s["final_linear.1.bias"]


def rosinality_d_state(size: int, channels: dict, seed: int = 0) -> dict:
    """A random rosinality Discriminator state dict (their key names and shapes)."""
    import torch
    g = torch.Generator().manual_seed(seed)
    r = lambda *shape: torch.randn(*shape, generator=g)  # noqa: E731
    kern = torch.tensor([1.0, 3, 3, 1])
    kern = kern[:, None] * kern[None] / 64
    s = {"convs.0.0.weight": r(channels[size], 3, 1, 1), "convs.0.1.bias": r(channels[size]) * 0.1}
    res, i = size, 1
    while res > 4:
        cin, cout = channels[res], channels[res // 2]
        s.update({f"convs.{i}.conv1.0.weight": r(cin, cin, 3, 3), f"convs.{i}.conv1.1.bias": r(cin) * 0.1,
                  f"convs.{i}.conv2.0.kernel": kern, f"convs.{i}.conv2.1.weight": r(cout, cin, 3, 3),
                  f"convs.{i}.conv2.2.bias": r(cout) * 0.1, f"convs.{i}.skip.0.kernel": kern,
                  f"convs.{i}.skip.1.weight": r(cout, cin, 1, 1)})
        res, i = res // 2, i + 1
    s.update({"final_conv.0.weight": r(channels[4], channels[4] + 1, 3, 3), "final_conv.1.bias": r(channels[4]) * 0.1,
              "final_linear.0.weight": r(channels[4], channels[4] * 16), "final_linear.0.bias": r(channels[4]) * 0.1,
              "final_linear.1.weight": r(1, channels[4]), "final_linear.1.bias": r(1) * 0.1})
    return s


def test_rosinality_discriminator_gives_rosinalitys_logits(tmp_path):
    import torch
    from core.networks.build import build_discriminator
    from core.checkpoints.rosinality import from_rosinality_discriminator
    channels = {32: 16, 16: 32, 8: 32, 4: 32}  # rosinality's rule at a small scale: min(base / res, max)
    d = rosinality_d_state(32, channels)
    config, state = from_rosinality_discriminator(d)
    D = build_discriminator(config, state)
    x = torch.randn(8, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        assert float((D(x) - RosinalityD(d, 32)(x)).abs().max()) <= 1e-4


def test_init_from_a_rosinality_checkpoint_takes_its_d(tmp_path):
    import torch
    from format_builders import write_rosinality_pt
    from core import Generator, GeneratorConfig
    torch.manual_seed(0)
    G = Generator(GeneratorConfig(z_dim=64, w_dim=64, img_resolution=32, mapping_layers=2, channel_base=1024,
                                  channel_max=32))
    write_rosinality_pt(G, tmp_path / "ros.pt")
    data = torch.load(tmp_path / "ros.pt", weights_only=False)
    data["d"] = rosinality_d_state(32, {32: 32, 16: 32, 8: 32, 4: 32})
    data["ada_aug_p"] = 0.4  # rosinality's train.py's name for ADA p
    torch.save(data, tmp_path / "ros.pt")
    img = tmp_path / "rgb"
    img.mkdir()
    for i in range(8):
        Image.fromarray(np.random.default_rng(i).integers(0, 255, (32, 32, 3), dtype=np.uint8)).save(img / f"{i}.png")
    r = cli("train", "--data", img, "--outdir", tmp_path / "runs", "--kimg", "0.004", "--batch", "4", "--mbstd-group",
            "4", "--map", "2", "--cbase", "1024", "--cmax", "32", "--z-dim", "64", "--w-dim", "64", "--init",
            tmp_path / "ros.pt")
    assert r.returncode == 0, r.stderr
    assert "G, G_ema and D; ADA p 0.400" in r.stdout
    data["d"] = rosinality_d_state(64, {64: 32, 32: 32, 16: 32, 8: 32, 4: 32})  # a D for other images
    torch.save(data, tmp_path / "ros.pt")
    msg = one_line_error(cli("convert", tmp_path / "ros.pt", tmp_path / "n.pt", "--to", "networks"), "stylegan-convert")
    assert "its D takes 64x64x3 images (labels 0), its G makes 32x32x3" in msg


# ------------------------------------------------- 8. an export rosinality's own loader takes ---

def rosinality_generator(size: int, style_dim: int, n_mlp: int, channel_multiplier: int):
    """The module tree of rosinality's Generator (model.py): every parameter and buffer under its
    name, shape and initial value — what its generate.py's strict load_state_dict checks against."""
    import math
    import torch
    from torch import nn

    def make_kernel(k):
        k = torch.tensor(k, dtype=torch.float32)
        k = k[None, :] * k[:, None]
        return k / k.sum()

    def equal_linear(i, o):
        m = nn.Module()
        m.weight, m.bias = nn.Parameter(torch.randn(o, i)), nn.Parameter(torch.zeros(o))
        return m

    def modulated(i, o, k, upsample=False):
        m = nn.Module()
        m.weight = nn.Parameter(torch.randn(1, o, i, k, k))
        m.modulation = equal_linear(style_dim, i)
        if upsample:
            m.blur = nn.Module()
            m.blur.register_buffer("kernel", make_kernel([1, 3, 3, 1]) * 4)
        return m

    def styled(i, o, upsample=False):
        m = nn.Module()
        m.conv = modulated(i, o, 3, upsample)
        m.noise = nn.Module()
        m.noise.weight = nn.Parameter(torch.zeros(1))
        m.activate = nn.Module()
        m.activate.bias = nn.Parameter(torch.zeros(o))
        return m

    def to_rgb(i, upsample=True):
        m = nn.Module()
        if upsample:
            m.upsample = nn.Module()
            m.upsample.register_buffer("kernel", make_kernel([1, 3, 3, 1]) * 4)
        m.conv = modulated(i, 3, 1)
        m.bias = nn.Parameter(torch.zeros(1, 3, 1, 1))
        return m

    channels = {4: 512, 8: 512, 16: 512, 32: 512, 64: 256 * channel_multiplier, 128: 128 * channel_multiplier,
                256: 64 * channel_multiplier, 512: 32 * channel_multiplier, 1024: 16 * channel_multiplier}
    g = nn.Module()
    g.style = nn.Sequential(nn.Identity(), *[equal_linear(style_dim, style_dim) for _ in range(n_mlp)])
    g.input = nn.Module()
    g.input.input = nn.Parameter(torch.randn(1, channels[4], 4, 4))
    g.conv1 = styled(channels[4], channels[4])
    g.to_rgb1 = to_rgb(channels[4], upsample=False)
    log_size = int(math.log2(size))
    g.convs, g.upsamples, g.to_rgbs, g.noises = nn.ModuleList(), nn.ModuleList(), nn.ModuleList(), nn.Module()
    for i in range((log_size - 2) * 2 + 1):
        r = (i + 5) // 2
        g.noises.register_buffer(f"noise_{i}", torch.randn(1, 1, 2 ** r, 2 ** r))
    cin = channels[4]
    for i in range(3, log_size + 1):
        cout = channels[2 ** i]
        g.convs.append(styled(cin, cout, upsample=True))
        g.convs.append(styled(cout, cout))
        g.to_rgbs.append(to_rgb(cout))
        cin = cout
    return g


def test_rosinality_export_loads_strictly_in_rosinalitys_generator(tmp_path):
    import torch
    from core import Generator, GeneratorConfig
    from core.checkpoints.ours import save_generator
    torch.manual_seed(0)
    G = Generator(GeneratorConfig(z_dim=32, w_dim=32, img_resolution=64, mapping_layers=3, channel_base=32768,
                                  channel_max=512))
    save_generator(tmp_path / "g.pt", G)
    r = cli("convert", tmp_path / "g.pt", tmp_path / "ros.pt", "--to", "rosinality")
    assert r.returncode == 0, r.stderr
    assert "--size 64 --channel_multiplier 2" in r.stderr
    data = torch.load(tmp_path / "ros.pt", weights_only=True)
    theirs = rosinality_generator(64, 32, 3, 2)
    fresh = {k: v.clone() for k, v in theirs.state_dict().items()}
    theirs.load_state_dict(data["g_ema"], strict=True)  # their generate.py's load: every key, every shape
    for name in fresh:
        if name.endswith("kernel"):  # the fixed FIR buffers hold rosinality's own values
            assert torch.equal(theirs.state_dict()[name], fresh[name]), name
    assert data["latent_avg"].shape == (32,)


@pytest.mark.parametrize("config,refusal", [
    (dict(architecture="resnet"), "architecture 'resnet'"),
    (dict(img_channels=1), "1 image channels"),
    (dict(channel_base=2048, channel_max=64), "channel_base 2048 / channel_max 64"),
    (dict(z_dim=16), "z_dim 16 / w_dim 32"),
    (dict(conv_clamp=256.0), "conv_clamp 256"),
    (dict(c_dim=3), "conditional"),
])
def test_rosinality_export_refuses_what_rosinality_cannot_hold(tmp_path, config, refusal):
    from core import Generator, GeneratorConfig
    from core.checkpoints.ours import save_generator
    base = dict(z_dim=32, w_dim=32, img_resolution=16, mapping_layers=2, channel_base=16384, channel_max=512)
    save_generator(tmp_path / "g.pt", Generator(GeneratorConfig(**{**base, **config})))
    msg = one_line_error(cli("convert", tmp_path / "g.pt", tmp_path / "ros.pt", "--to", "rosinality"), "stylegan-convert")
    assert "rosinality's format cannot hold this generator" in msg and refusal in msg
    assert not (tmp_path / "ros.pt").exists()


# --------------------------------- 9. StyleGAN2 networks pickled by NVIDIA's stylegan3 repository ---

def stylegan3_repo_kwargs(cfg) -> dict:
    """Generator(**kwargs) as the stylegan3 repository's train.py --cfg=stylegan2 stores them:
    synthesis settings flat beside z_dim, not under synthesis_kwargs."""
    return {"class_name": "training.networks_stylegan2.Generator", "z_dim": cfg.z_dim, "c_dim": cfg.c_dim,
            "w_dim": cfg.w_dim, "img_resolution": cfg.img_resolution, "img_channels": cfg.img_channels,
            "mapping_kwargs": {"num_layers": cfg.mapping_layers}, "channel_base": cfg.channel_base,
            "channel_max": cfg.channel_max, "num_fp16_res": cfg.num_fp16_res, "conv_clamp": cfg.conv_clamp,
            "fused_modconv_default": "inference_only"}


def test_stylegan3_repository_pickles_keep_channels_and_conv_clamp(tmp_path):
    import torch
    from conftest import fixture_generator
    from format_builders import write_nvidia_pkl
    from core import NoiseControl
    from core.networks.build import build_generator
    from core.checkpoints.load import load_generator
    G = fixture_generator("skip")  # channel_base 1024, channel_max 64: not the defaults
    cfg = G.config
    cfg.conv_clamp, cfg.num_fp16_res = 0.25, 2  # a clamp that bites even in fp32
    G = build_generator(cfg, G.state_dict()).eval()
    write_nvidia_pkl(G, tmp_path / "sg3repo.pkl", kwargs=stylegan3_repo_kwargs(cfg))
    loaded = load_generator(tmp_path / "sg3repo.pkl")
    assert loaded.config.channel_base == 1024 and loaded.config.conv_clamp == 0.25 and loaded.config.num_fp16_res == 2
    z = torch.randn(2, cfg.z_dim, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        assert torch.equal(loaded(z, noise=NoiseControl("const")), G(z, noise=NoiseControl("const")))
    # The same file through the commands.
    r = cli("generate", "--pkl", tmp_path / "sg3repo.pkl", "--seeds", "1", "--outdir", tmp_path / "out")
    assert r.returncode == 0, r.stderr


def test_stored_settings_that_contradict_the_weights_are_one_line(tmp_path):
    from conftest import fixture_generator
    from format_builders import write_nvidia_pkl
    G = fixture_generator("skip")
    kwargs = stylegan3_repo_kwargs(G.config)
    kwargs["channel_base"] = 32768  # what the file says, against what its tensors are
    write_nvidia_pkl(G, tmp_path / "bad.pkl", kwargs=kwargs)
    msg = one_line_error(cli("generate", "--pkl", tmp_path / "bad.pkl", "--seeds", "1", "--outdir", tmp_path), "stylegan-generate")
    assert "bad.pkl: its stored settings do not fit its weights: channel_base 32768 / channel_max 64" in msg
    kwargs = stylegan3_repo_kwargs(G.config)
    kwargs["w_dim"] = 128
    write_nvidia_pkl(G, tmp_path / "bad2.pkl", kwargs=kwargs)
    msg = one_line_error(cli("generate", "--pkl", tmp_path / "bad2.pkl", "--seeds", "1", "--outdir", tmp_path), "stylegan-generate")
    assert "w_dim 128 (its tensors: 64)" in msg


def test_init_from_a_tensorflow_pickle_takes_its_d(tmp_path):
    """NVIDIA's TensorFlow StyleGAN2 pickles (the published FFHQ, LSUN models) hold G, D and Gs: all
    three are taken, and D gives NVIDIA's logits."""
    import torch
    from conftest import fixture_discriminator, fixture_generator, load_npz, max_abs
    from format_builders import write_tf_stylegan2_pkl
    from core.networks.build import build_discriminator
    from core.checkpoints.read import read_networks
    write_tf_stylegan2_pkl(fixture_generator("skip"), tmp_path / "tf.pkl", D=fixture_discriminator())
    nets = read_networks(tmp_path / "tf.pkl")
    assert nets["meta"]["source_format"] == "nvidia-tf-stylegan2" and "D" in nets["networks"]
    out = load_npz("D_tiny_resnet_out.npz")
    D = build_discriminator(nets["D_config"], nets["networks"]["D"])
    assert max_abs(D(torch.from_numpy(out["img_noise"])), out["logits_noise"]) <= 1e-4


def test_dataset_sizes_in_messages_are_the_files_own(tmp_path):
    """#22 item 12: a 50x70 image is reported as 50x70 (and what making it square gave), not 50x50."""
    from PIL import Image
    src = tmp_path / "src"
    src.mkdir()
    Image.new("RGB", (50, 70)).save(src / "a.png")
    msg = one_line_error(cli("dataset", src, tmp_path / "d.zip"), "stylegan-dataset")
    assert "a.png is 50x70 (50x50 once square)" in msg
