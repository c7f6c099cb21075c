"""The explorer, headless (EGL surfaceless + llvmpipe, no X server): real frames, controls driven by
imgui io events, pixels read back from the GL texture and compared with stylegan-generate."""

import contextlib
import os
import time

os.environ["PYOPENGL_PLATFORM"] = "egl"  # before anything imports OpenGL

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from PIL import Image  # noqa: E402

from conftest import run_cli  # noqa: E402
from core.latents import wplus  # noqa: E402
from core.checkpoints.load import load_generator
from core.images import to_uint8  # noqa: E402
from core.noise import NoiseControl  # noqa: E402

pytest.importorskip("imgui_bundle")
from imgui_bundle import imgui  # noqa: E402

from explorer.app import Explorer  # noqa: E402
from explorer.platform import HeadlessPlatform  # noqa: E402
from explorer.state import ExplorerState  # noqa: E402


def egl_available() -> bool:
    try:
        from explorer.gl import HeadlessContext
        HeadlessContext().close()
        return True
    except Exception:
        return False


pytestmark = pytest.mark.skipif(not egl_available(), reason="no EGL (install Mesa's libegl)")


@pytest.fixture
def explorer(skip_pt, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    platform = HeadlessPlatform(1280, 800)
    app = Explorer(ExplorerState(pkl=str(skip_pt)), torch.device("cpu"), sync=True, outdir=str(tmp_path))
    platform.run_frame(app)
    platform.run_frame(app)
    yield platform, app
    app.close()
    platform.close()


@contextlib.contextmanager
def headless_explorer(pkl, outdir):
    """A headless explorer on the model `pkl` (renders synchronously), closed afterwards."""
    platform = HeadlessPlatform(1280, 800)
    app = Explorer(ExplorerState(pkl=str(pkl)), torch.device("cpu"), sync=True, outdir=str(outdir))
    try:
        yield platform, app
    finally:
        app.close()
        platform.close()


@pytest.fixture(scope="module")
def G(skip_pt):
    return load_generator(skip_pt)


def generate(skip_pt, tmp_path, *args) -> np.ndarray:
    out = tmp_path / f"gen{abs(hash(args))}"
    r = run_cli("stylegan-generate", "--pkl", str(skip_pt), "--outdir", str(out), *args)
    assert r.returncode == 0, r.stderr
    (png,) = out.glob("*.png")
    return np.asarray(Image.open(png))


def shown(app) -> np.ndarray:
    texture = app.display.texture.read()
    assert (texture[..., 3] == 255).all()
    return texture[..., :3]


def render(G, ws, **noise) -> np.ndarray:
    with torch.no_grad():
        return to_uint8(G.synthesis(ws, noise=NoiseControl(**noise)))[0]


def test_default_frame_equals_generate(explorer, skip_pt, tmp_path):
    platform, app = explorer
    assert app.model.resolution == 32 and app.display.version > 0
    assert np.array_equal(shown(app), generate(skip_pt, tmp_path, "--seeds", "0"))
    window = platform.read_window()
    assert window.shape == (800, 1280, 3) and window.std() > 10  # a real UI was drawn


def test_psi_and_cutoff_through_the_ui(explorer, skip_pt, tmp_path):
    platform, app = explorer
    platform.enter_value(app, "psi", "0.7")
    assert app.state.trunc.psi == 0.7
    assert np.array_equal(shown(app), generate(skip_pt, tmp_path, "--seeds", "0", "--trunc", "0.7"))
    platform.click(app, "All layers##trunc")
    assert app.state.trunc.cutoff == app.model.num_ws
    platform.enter_value(app, "Cutoff", "2")
    assert app.state.trunc.cutoff == 2 and app.state.trunc.psi == 0.7
    assert np.array_equal(shown(app), generate(skip_pt, tmp_path, "--seeds", "0", "--trunc", "0.7",
                                               "--trunc-cutoff", "2"))


def test_style_mixing_sliders(explorer, G):
    platform, app = explorer
    platform.click(app, "Add source##styles")
    assert len(app.state.styles) == 1 and app.state.styles[0].seed == 1
    platform.enter_value(app, "coarse##src0", "1")
    coarse = list(wplus.layer_groups(G.num_ws)["coarse"])
    assert [i for i, w in enumerate(app.state.styles[0].weights) if w == 1.0] == coarse
    ws0, ws1 = G.mapping(wplus.z_from_seed(0, G.z_dim)), G.mapping(wplus.z_from_seed(1, G.z_dim))
    hard = wplus.mix(ws0, [ws1], wplus.layer_weights(coarse, G.num_ws)[None])
    assert np.array_equal(shown(app), render(G, hard))
    platform.enter_value(app, "fine##src0", "0.5")  # a soft weight on other layers
    weights = torch.tensor([app.state.styles[0].weights])
    assert np.array_equal(shown(app), render(G, wplus.mix(ws0, [ws1], weights)))


def test_noise_strength_and_mode(explorer, skip_pt, tmp_path):
    platform, app = explorer
    platform.enter_value(app, "Strength##noise", "0")
    assert app.state.noise.strength == 0
    assert np.array_equal(shown(app), generate(skip_pt, tmp_path, "--seeds", "0", "--noise-mode", "none"))
    platform.enter_value(app, "Strength##noise", "2.5")
    assert np.array_equal(shown(app), generate(skip_pt, tmp_path, "--seeds", "0", "--noise-strength", "2.5"))


def test_seed_drag_and_keys(explorer, skip_pt, tmp_path, G):
    platform, app = explorer
    platform.drag(app, "canvas", 150, 0)  # right: half a seed on (higher x, as NVIDIA's visualizer drags)
    assert abs(app.state.latent.x - 0.5) < 1e-6 and app.state.latent.y == 0
    assert app.shown_seed() == 0  # the nearest seed (0.5: Python's round, as NVIDIA's)
    platform.drag(app, "canvas", 30, 0)
    assert abs(app.state.latent.x - 0.6) < 1e-6 and app.shown_seed() == 1
    platform.drag(app, "canvas", -30, 0)
    ws = 0.5 * G.mapping(wplus.z_from_seed(0, G.z_dim)) + 0.5 * G.mapping(wplus.z_from_seed(1, G.z_dim))
    assert np.array_equal(shown(app), render(G, ws))
    platform.press(app, imgui.Key.right_arrow)  # steps to the next whole seed
    assert app.state.latent.x == 1.0
    assert np.array_equal(shown(app), generate(skip_pt, tmp_path, "--seeds", "1"))
    platform.press(app, imgui.Key.up_arrow)
    assert app.state.latent.x == 11.0
    platform.press(app, imgui.Key.r)
    assert app.state == ExplorerState(pkl=app.state.pkl)


def test_bad_model_keeps_the_previous_one(explorer, tmp_path):
    platform, app = explorer
    before = shown(app)
    bad = tmp_path / "broken.pt"
    bad.write_bytes(b"not a model")
    app.open_model(str(bad))
    for _ in range(3):
        platform.run_frame(app)
    assert "broken.pt" in app.model_error and "\n" not in app.model_error
    assert app.model.resolution == 32 and app.state.pkl != str(bad)
    platform.press(app, imgui.Key.right_arrow)  # still answers the controls
    assert not np.array_equal(shown(app), before)


def test_session_round_trip(explorer, tmp_path):
    platform, app = explorer
    platform.enter_value(app, "psi", "0.5")
    platform.click(app, "Add source##styles")
    platform.enter_value(app, "middle##src0", "0.75")
    platform.enter_value(app, "Strength##noise", "1.5")
    platform.press(app, imgui.Key.right_arrow)
    expected = shown(app)
    app.save_session(str(tmp_path / "s.json"))
    platform.press(app, imgui.Key.r)
    assert not np.array_equal(shown(app), expected)
    app.load_session(str(tmp_path / "s.json"))
    platform.run_frame(app)
    assert np.array_equal(shown(app), expected)
    (tmp_path / "bad.json").write_text("{nope")
    app.load_session(str(tmp_path / "bad.json"))
    assert "bad JSON" in app.status


def test_save_image_key(explorer, tmp_path, skip_pt):
    platform, app = explorer
    platform.press(app, imgui.Key.s)
    saved = tmp_path / "seed0000.png"
    assert saved.exists()
    assert np.array_equal(np.asarray(Image.open(saved)), generate(skip_pt, tmp_path, "--seeds", "0"))
    # S again after changing ψ: a new file beside the first, which stays as it was (#22 item 2),
    # and the status line says where the image went.
    first = saved.read_bytes()
    platform.enter_value(app, "psi", "0.5")
    platform.press(app, imgui.Key.s)
    second = tmp_path / "seed0000-1.png"
    assert saved.read_bytes() == first and second.exists() and str(second) in app.status
    assert np.array_equal(np.asarray(Image.open(second)), generate(skip_pt, tmp_path, "--seeds", "0", "--trunc", "0.5"))


def test_recorded_walk(explorer, G, tmp_path):
    platform, app = explorer
    walk = app.state.walk
    walk.active, walk.mode, walk.keyframes, walk.loop, walk.speed = True, "slerp", [0, 3, 5], False, 2.0
    app.record_walk(str(tmp_path / "frames"), fps=4)
    app.recorder.join(60)
    assert app.recorder.finished and app.recorder.error is None
    frames = sorted((tmp_path / "frames").glob("*.png"))
    assert len(frames) == 2 * 4 / 2 + 1  # 2 segments at 2 keys/s, 4 fps, plus the last keyframe
    first, last = (np.asarray(Image.open(f)) for f in (frames[0], frames[-1]))
    assert np.array_equal(first, render(G, G.mapping(wplus.z_from_seed(0, G.z_dim))))
    assert np.array_equal(last, render(G, G.mapping(wplus.z_from_seed(5, G.z_dim))))
    # The walk passes through the middle keyframe on the way.
    middle = np.asarray(Image.open(frames[2]))
    assert np.array_equal(middle, render(G, G.mapping(wplus.z_from_seed(3, G.z_dim))))
    app.record_walk(str(tmp_path / "walk.mp4"), fps=4)
    app.recorder.join(60)
    import imageio.v2 as iio
    video = iio.mimread(tmp_path / "walk.mp4")
    # lossy (yuv420), so: the right count, and each end nearer its own keyframe than the other
    err = lambda a, b: np.abs(a.astype(int) - b).mean()  # noqa: E731
    assert len(video) == 5
    assert err(video[0], first) < err(video[0], last) and err(video[-1], last) < err(video[-1], first)


def test_walk_plays_on_screen(explorer, G):
    platform, app = explorer
    walk = app.state.walk
    walk.active, walk.keyframes, walk.loop, walk.speed, walk.playing = True, [2, 4], False, 1.0, True
    for _ in range(40):  # 40 frames of 1/60 s: two thirds of the way
        platform.run_frame(app)
    assert 0.6 < walk.t < 0.7 and walk.playing
    for _ in range(30):
        platform.run_frame(app)
    assert walk.t == 1.0 and not walk.playing  # stops on the last keyframe
    assert np.array_equal(shown(app), render(G, G.mapping(wplus.z_from_seed(4, G.z_dim))))


def test_layer_view(explorer):
    platform, app = explorer
    app.state.view.layer, app.state.view.channel = "b16.conv1", 5
    platform.run_frame(app)
    platform.run_frame(app)
    assert app.display.label == "b16.conv1 channel 5/64" and app.feature_channels == 64
    img = shown(app)
    assert img.shape == (16, 16, 3) and img.min() == 0 and img.max() == 255  # normalised
    app.state.view.layer = None
    platform.run_frame(app)
    assert shown(app).shape == (32, 32, 3)


def test_directions_move_the_image(explorer, G, tmp_path):
    platform, app = explorer
    before = shown(app)
    platform.click(app, "Directions")
    assert len(app.state.directions.entries) == app.state.directions.count
    platform.enter_value(app, "###dir0", "3")
    assert app.state.directions.entries[0].amount == 3.0
    assert app.model.directions[:2] == ["PC0", "PC1"]
    assert not np.array_equal(shown(app), before)
    # A directions file: one named vector, applied to coarse layers only.
    np.savez(tmp_path / "d.npz", smile=np.ones(G.w_dim, np.float32))
    app.state.directions.source = str(tmp_path / "d.npz")
    app.state.directions.entries[0].amount = 0.5
    app.state.directions.entries[0].last_layer = 3
    platform.run_frame(app)
    assert app.model.directions == ["smile"]
    ws = wplus.add_direction(G.mapping(wplus.z_from_seed(0, G.z_dim)), torch.ones(G.w_dim), 0.5, range(4))
    assert np.array_equal(shown(app), render(G, ws))


def test_w_file_from_generate(explorer, skip_pt, tmp_path):
    platform, app = explorer
    out = tmp_path / "ws"
    r = run_cli("stylegan-generate", "--pkl", str(skip_pt), "--seeds", "9", "--trunc", "0.6", "--save-ws",
                "--outdir", str(out))
    assert r.returncode == 0
    app.state.latent.w_file = str(out / "seed0009.npz")
    platform.run_frame(app)
    assert np.array_equal(shown(app), np.asarray(Image.open(out / "seed0009.png")))


def test_memory_stays_flat_over_5000_animated_frames(skip_pt, tmp_path):
    platform = HeadlessPlatform(480, 320)
    app = Explorer(ExplorerState(pkl=str(skip_pt)), torch.device("cpu"), sync=True, outdir=str(tmp_path))
    app.state.latent.animate, app.state.latent.speed = True, 3.0
    app.state.noise.mode, app.state.noise.animate = "random", True

    def rss() -> int:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")

    try:
        for i in range(5000):
            platform.run_frame(app, dt=1 / 60)
            if i == 99:
                after_100 = rss()
        end = rss()
    finally:
        app.close()
        platform.close()
    assert app.renderer.stats.rendered >= 4900
    assert end <= after_100 * 1.05, f"RSS grew from {after_100 / 1e6:.1f} MB to {end / 1e6:.1f} MB"


def test_cli_screenshot_and_errors(skip_pt, tmp_path):
    shot, win = tmp_path / "shot.png", tmp_path / "win.png"
    r = run_explorer("--pkl", str(skip_pt), "--seed", "2", "--trunc", "0.7", "--screenshot", str(shot),
                     "--window-shot", str(win), "--size", "800x600")
    assert r.returncode == 0, r.stderr
    assert "upload cpu" in r.stdout and "EGL surfaceless platform" in r.stdout  # the path the frame took (#23)
    assert "the whole window, 800x600" in r.stdout
    assert np.array_equal(np.asarray(Image.open(shot)), generate(skip_pt, tmp_path, "--seeds", "2", "--trunc", "0.7"))
    assert np.asarray(Image.open(win)).shape == (600, 800, 3)
    session = tmp_path / "s.json"
    state = ExplorerState(pkl=str(skip_pt))
    state.latent.x, state.noise.strength = 4.0, 0.0
    state.save(session)
    r = run_explorer("--session", str(session), "--screenshot", str(shot), "--force")  # (shot.png exists)
    assert r.returncode == 0, r.stderr
    assert np.array_equal(np.asarray(Image.open(shot)),
                          generate(skip_pt, tmp_path, "--seeds", "4", "--noise-mode", "none"))
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"junk")
    shot = tmp_path / "fresh.png"  # (not shot.png: that one exists, and is refused first without --force)
    for args, text in [(["--pkl", str(bad), "--screenshot", str(shot)], "bad.pt"),
                       (["--pkl", str(skip_pt), "--trunc", "5", "--screenshot", str(shot)], "--trunc"),
                       (["--session", str(tmp_path / "none.json"), "--screenshot", str(shot)], "none.json"),
                       (["--pkl", str(skip_pt), "--screenshot", str(tmp_path / "s.jpg")], "give a .png file"),
                       # a folder that takes no files: said before rendering (a traceback after it)
                       (["--pkl", str(skip_pt), "--screenshot", "/proc/out.png"], "cannot write --screenshot /proc/out.png"),
                       (["--pkl", str(skip_pt), "--window-shot", str(bad / "w.png")], "bad.pt is a file, not a folder")]:
        r = run_explorer(*args)
        assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1 and text in r.stderr, r.stderr
        assert not shot.exists()


def run_explorer(*args, cwd=None):
    import subprocess
    import sys
    from conftest import REPO
    env = {**os.environ, "PYTHONPATH": str(REPO), "XDG_CONFIG_HOME": "/tmp/stylegan-test-config"}
    return subprocess.run([sys.executable, "-m", "explorer", *args], env=env, capture_output=True, text=True,
                          timeout=300, cwd=cwd)



def test_stylegan3_transform_sliders_equal_generate(tmp_path, monkeypatch):
    """StyleGAN3: typing translate/rotate into the input-transform panel changes the frame exactly as
    stylegan-generate --translate/--rotate does; the drift and turn animate it; the noise panel says
    there is no noise."""
    from conftest import REPO
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    pkl = REPO / "tests" / "fixtures" / "official_sg3" / "G_tiny_sg3T.npz"
    with headless_explorer(pkl, tmp_path) as (platform, app):
        platform.run_frame(app)
        platform.run_frame(app)
        assert app.model.arch == "stylegan3" and app.model.num_noise_layers == 0
        assert np.array_equal(shown(app), generate(pkl, tmp_path, "--seeds", "0"))
        platform.enter_value(app, "Translate x", "0.12")
        platform.enter_value(app, "Translate y", "-0.07")
        platform.enter_value(app, "Rotate", "15")
        t = app.state.transform
        assert (t.translate_x, t.translate_y, t.rotate) == pytest.approx((0.12, -0.07, 15.0))
        assert np.array_equal(shown(app), generate(pkl, tmp_path, "--seeds", "0", "--translate", "0.12,-0.07",
                                                   "--rotate", "15"))
        before = shown(app).copy()
        platform.click(app, "Turn##transform")
        assert app.state.transform.animate_rotate
        angle = app.state.transform.rotate
        app.advance(0.5)  # 15 degrees a second
        assert app.state.transform.rotate == pytest.approx(angle + 7.5)
        platform.run_frame(app)
        platform.run_frame(app)
        assert not np.array_equal(shown(app), before)


def test_stylegan3_walk_recording_and_layer_labels(tmp_path, monkeypatch):
    """StyleGAN3 in the walk panel: a recorded walk starts on its first keyframe's image (as
    stylegan-generate draws it, with the input transform the state has) and ends on the last; the
    style-mixing layers are labelled with their sampling rates."""
    from conftest import REPO
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    pkl = REPO / "tests" / "fixtures" / "official_sg3" / "G_tiny_sg3R.npz"
    with headless_explorer(pkl, tmp_path) as (platform, app):
        platform.run_frame(app)
        rates = list(load_generator(pkl).synthesis.sampling_rates)  # the labels are the layers' sampling rates
        assert [info["resolution"] for info in app.model.layer_info] == [rates[0]] + rates
        walk, tf = app.state.walk, app.state.transform
        walk.active, walk.keyframes, walk.loop, walk.speed = True, [0, 3], False, 2.0
        tf.translate_x, tf.rotate = 0.1, 20.0
        app.record_walk(str(tmp_path / "frames"), fps=4)
        app.recorder.join(60)
        assert app.recorder.finished and app.recorder.error is None
        frames = sorted((tmp_path / "frames").glob("*.png"))
        assert len(frames) == 3
        for frame, seed in ((frames[0], "0"), (frames[-1], "3")):
            want = generate(pkl, tmp_path, "--seeds", seed, "--translate", "0.1,0", "--rotate", "20")
            assert np.array_equal(np.asarray(Image.open(frame)), want)



def test_a_recording_and_the_screen_render_side_by_side_without_mixing_states():
    """The recorder renders on its own thread while the worker renders the screen: both set
    StyleGAN3's input transform on the same network, so frames came out with the other thread's
    transform (6 of 300 in a stress run). Each render now holds the network; the recording keeps the
    model it started with even if another is loaded meanwhile."""
    import threading
    from conftest import REPO
    from explorer.renderer import Renderer
    from explorer.state import ExplorerState
    pkl = REPO / "tests" / "fixtures" / "official_sg3" / "G_tiny_sg3R.npz"
    r = Renderer(torch.device("cpu"))
    try:
        r.load(str(pkl))
        assert r.wait_idle(60) and r.model is not None
        recorded, screen = ExplorerState(), ExplorerState()
        recorded.transform.translate_x, recorded.transform.rotate = 0.25, 30.0
        screen.transform.translate_x = -0.2
        render = r.pinned_render()
        want = render(recorded)
        frames = []
        rec = threading.Thread(target=lambda: frames.extend(render(recorded) for _ in range(60)))
        rec.start()
        version = 0
        while rec.is_alive():
            version += 1
            screen.latent.x = version % 7
            r.request(screen, version)
            time.sleep(0.001)
        rec.join()
        assert r.wait_idle(60) and r.stats.rendered > 0
        assert sum(not np.array_equal(f, want) for f in frames) == 0
        r.load(str(REPO / "tests" / "fixtures" / "official_sg2" / "G_tiny_skip.npz"))  # another model meanwhile
        assert r.wait_idle(60) and r.model.arch != "stylegan3"
        assert np.array_equal(render(recorded), want)
    finally:
        r.close()


@pytest.mark.parametrize("name", ["walk.mp4", "walk.gif", "frames"])
def test_a_recording_appears_only_when_complete(tmp_path, name):
    """Written under a temporary name and renamed at the end: a cancelled or failed recording leaves
    nothing (it left a truncated video under the name asked for)."""
    import threading
    from explorer.recorder import WalkRecorder
    from explorer.state import ExplorerState
    state = ExplorerState()
    state.walk.keyframes, state.walk.speed, state.walk.loop = [0, 1], 1.0, False
    gate, seen = threading.Event(), []

    def render(s):
        seen.append(sorted(p.name for p in tmp_path.iterdir()))
        if len(seen) == 3:
            gate.wait(30)
        if len(seen) == 5 and fail:
            raise RuntimeError("the network failed")
        return np.full((16, 16, 4), len(seen) * 10, np.uint8)

    for fail, cancel in ((False, True), (True, False), (False, False)):
        seen.clear()
        gate.clear()
        rec = WalkRecorder(render, state, tmp_path / name, fps=8).start()
        while len(seen) < 3:
            time.sleep(0.005)
        assert not (tmp_path / name).exists()  # (being written, under another name)
        if cancel:
            rec.cancel()
        gate.set()
        rec.join(60)
        assert rec.finished
        left = sorted(p.name for p in tmp_path.iterdir())
        if cancel or fail:
            assert rec.error and left == [], (rec.error, left)
        else:
            assert rec.error is None and left == [name] and rec.done_frames == 9
    if name == "frames":  # (the video writers may create their file only when they close it)
        assert any(n.startswith(".frames.partial") for names in seen for n in names), seen


@pytest.mark.parametrize("pkl, args", [
    ("skip", ["--noise-mode", "random", "--noise-seed", "3", "--noise-strength", "3"]),
    ("sg3R", ["--translate", "0.1,0", "--rotate", "15"]),
])
def test_a_w_file_shows_the_image_it_was_saved_with(skip_pt, tmp_path, monkeypatch, pkl, args):
    """A W file from stylegan-generate --save-ws, chosen in the Latent panel or dropped on the window:
    the noise settings and StyleGAN3 input transform saved with it are taken (as generate --ws
    replays them), so the frame is the PNG generate wrote (it was 255 and 16 levels off); a .npz
    holding a W is not opened as a model."""
    from conftest import REPO
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    model = skip_pt if pkl == "skip" else REPO / "tests" / "fixtures" / "official_sg3" / "G_tiny_sg3R.npz"
    out = tmp_path / "ws"
    r = run_cli("stylegan-generate", "--pkl", str(model), "--seeds", "6", "--save-ws", "--outdir", str(out), *args)
    assert r.returncode == 0, r.stderr
    saved = np.asarray(Image.open(out / "seed0006.png"))
    with headless_explorer(model, tmp_path) as (platform, app):
        platform.run_frame(app)
        for use in (app.use_w_file, app.open_file):
            app.state = ExplorerState(pkl=app.state.pkl)  # (the panels as they start)
            use(str(out / "seed0006.npz"))
            platform.run_frame(app)
            assert app.model.path == str(model) and app.state.latent.w_file == str(out / "seed0006.npz")
            assert "as saved" in app.status and not app.status_error, app.status
            assert np.array_equal(shown(app), saved)


def test_a_recording_keeps_its_directions_source(tmp_path, monkeypatch):
    """A recording renders with the directions its state names, even when the screen loads another
    source meanwhile (it used whatever the screen had last loaded: 355 of 400 frames off)."""
    from conftest import REPO
    from explorer.renderer import Renderer
    from explorer.state import DirectionEntry
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    r = Renderer(torch.device("cpu"))
    try:
        r.load(str(REPO / "tests" / "fixtures" / "official_sg2" / "G_tiny_skip.npz"))
        assert r.wait_idle(60) and r.model is not None
        np.savez(tmp_path / "d.npz", up=np.full(r.model.w_dim, 0.7, np.float32))
        recorded, screen = ExplorerState(), ExplorerState()
        recorded.directions.entries = [DirectionEntry(index=0, amount=4.0)]  # PCA's first direction
        screen.directions.source, screen.directions.entries = str(tmp_path / "d.npz"), [DirectionEntry(0, 4.0)]
        render = r.pinned_render()
        want = render(recorded)
        r.request(screen, 1)
        assert r.wait_idle(60) and r.model.directions == ["up"]
        assert not np.array_equal(r.latest().pixels, want)
        assert np.array_equal(render(recorded), want)
    finally:
        r.close()


def test_a_recording_is_refused_up_front_and_its_outcome_said(explorer, tmp_path):
    """A format it cannot write or a folder that takes no files: refused in the status line before
    anything is made (a refused .avi left an empty folder, and the error only showed in the closed
    walk panel); the end of a recording, written or cancelled, is said in the status line."""
    platform, app = explorer
    app.state.walk.keyframes, app.state.walk.speed, app.state.walk.loop = [0, 1], 2.0, False
    app.record_walk(str(tmp_path / "new" / "walk.avi"), fps=4)
    assert app.recorder is None and app.status_error and "not .avi" in app.status
    assert not (tmp_path / "new").exists()
    app.record_walk("/proc/nope/walk.mp4", fps=4)
    assert app.recorder is None and app.status_error and "/proc/nope" in app.status
    app.record_walk(str(tmp_path / "frames"), fps=4)
    app.recorder.join(60)
    platform.run_frame(app)
    assert not app.status_error and app.status == f"wrote 3 frames (32x32) to {tmp_path / 'frames'}"
    app.recorder = None
    app.record_walk(str(tmp_path / "frames2"), fps=400)
    app.recorder.cancel()
    app.recorder.join(60)
    platform.run_frame(app)
    assert not app.status_error and app.status == f"recording to {tmp_path / 'frames2'} cancelled: nothing written"
    assert not (tmp_path / "frames2").exists()


def test_the_translation_drift_circles_without_jumps():
    """StyleGAN3's drift, as NVIDIA's visualizer's: from the centre out to a circle of about 0.1
    widths and round it, each frame the same distance on (it ran along x and jumped from +1 to -1
    width); a negative speed turns the other way."""
    import math
    from explorer.app import DRIFT_RADIUS, drift
    for speed in (0.1, -0.1):
        x = y = 0.0
        points = []
        for _ in range(30 * 20):  # 20 s at 30 frames a second
            x, y = drift(x, y, speed / 30)
            points.append((x, y))
        steps = [math.dist(a, b) for a, b in zip(points, points[1:])]
        assert max(abs(s - 0.1 / 30) for s in steps) < 1e-9
        radii = [math.hypot(*p) for p in points[-300:]]
        assert 0.9 * DRIFT_RADIUS < min(radii) and max(radii) < 1.2 * DRIFT_RADIUS
        turns = [math.atan2(b[1], b[0]) - math.atan2(a[1], a[0]) for a, b in zip(points[-300:], points[-299:])]
        turns = [(t + math.pi) % (2 * math.pi) - math.pi for t in turns]
        assert all(t * speed > 0 for t in turns)  # anticlockwise for a positive speed
