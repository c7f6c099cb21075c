"""What a new user met in the explorer's first hour (#22 items 1, 3, 4, 5, 6), headless, driven by
imgui io events: errors in the status line and where the user acted, files that do not fit refused,
a class picker, a panel that fits its text and resizes, idling, Enter loads, upscaled recordings."""

import json

import numpy as np
import pytest
import torch
from PIL import Image

from conftest import REPO, run_cli
from core.checkpoints.ours import save_generator
from core.latents import wplus
from core.latents.recipe import LatentRecipe, StyleMix, build_ws, map_z
from core.networks.config import GeneratorConfig
from core.networks.generator import Generator
from test_explorer import egl_available, explorer, headless_explorer, render, run_explorer, shown  # noqa: F401  (the fixture too)
from test_explorer_ranges import one_error_line

from explorer.app import IDLE_AFTER_FRAMES
from explorer.state import ExplorerState
from explorer.widgets.network import recent_label
from explorer.widgets.ui import RECTS

pytestmark = pytest.mark.skipif(not egl_available(), reason="no EGL (install Mesa's libegl)")


def frames(platform, app, n=3):
    for _ in range(n):
        platform.run_frame(app)


def test_a_w_file_or_directions_that_do_not_fit_are_refused_in_sight(explorer, tmp_path):
    """#22 item 1: a W+ saved from another model (10 rows for 64², this one has 8) is refused with
    its reason under the field and in the always-visible status line; the image stays; same for a
    directions file of another w_dim. The status line is on screen with every panel closed."""
    platform, app = explorer
    before = shown(app)
    other = tmp_path / "from64.npz"
    np.savez(other, w=np.zeros((1, 10, 128), np.float32))
    platform.enter_value(app, "##wfile", str(other))  # typed, then Enter
    assert app.state.latent.w_file is None and np.array_equal(shown(app), before)
    assert app.status_error and "does not fit this network" in app.status and str(other) in app.status
    assert app.widgets[1].w_error == app.status  # shown under the field too
    fits = tmp_path / "fits.npz"
    np.savez(fits, w=np.zeros((1, app.model.num_ws, app.model.w_dim), np.float32))
    platform.enter_value(app, "##wfile", str(fits))
    assert app.state.latent.w_file == str(fits) and not app.status_error and app.widgets[1].w_error == ""

    platform.click(app, "Directions")
    np.savez(tmp_path / "dirs.npz", smile=np.ones(app.model.w_dim + 1, np.float32))
    platform.enter_value(app, "##dirfile", str(tmp_path / "dirs.npz"))
    assert app.state.directions.source == "pca" and app.status_error and "W has" in app.status

    for title in list(app._open):  # every panel closed: the status line is still there
        if app._open[title]:
            platform.click(app, title)
    x0, y0, x1, y1 = RECTS["status"]
    assert y0 > RECTS["controls"][3] - 1 and y1 <= 800 and app.status_error


@pytest.fixture(scope="module")
def conditional_pt(tmp_path_factory):
    torch.manual_seed(3)
    G = Generator(GeneratorConfig(z_dim=16, w_dim=16, c_dim=3, img_resolution=16, channel_base=128, channel_max=16,
                                  mapping_layers=2))
    with torch.no_grad():
        for p in G.mapping.parameters():  # so that classes differ visibly
            p.add_(torch.randn_like(p) * 0.5)
    path = tmp_path_factory.mktemp("cond") / "cond.pt"
    save_generator(path, G.eval())
    return path


def test_class_picker_for_the_seed_and_each_mixing_source(conditional_pt, tmp_path):
    """#22 item 3: a conditional model gets a class control (the seed's, and one per mixing source),
    the frame equals stylegan-generate --class, and the classes are saved in the session."""
    with headless_explorer(conditional_pt, tmp_path) as (platform, app):
        frames(platform, app)
        assert app.model.c_dim == 3
        platform.enter_value(app, "Class##latent", "2")
        assert app.state.latent.class_index == 2
        out = tmp_path / "gen"
        r = run_cli("stylegan-generate", "--pkl", str(conditional_pt), "--seeds", "0", "--class", "2",
                    "--outdir", str(out))
        assert r.returncode == 0, r.stderr
        assert np.array_equal(shown(app), np.asarray(Image.open(out / "seed0000.png")))

        platform.click(app, "Add source##styles")
        platform.enter_value(app, "Class##src0", "1")
        platform.enter_value(app, "fine##src0", "1")
        src = app.state.styles[0]
        assert src.class_index == 1
        G = app.renderer._G
        z = lambda s: wplus.z_from_seed(s, G.z_dim)  # noqa: E731
        ws = build_ws(G, LatentRecipe(w=map_z(G, z(0), 2), mix=[StyleMix(weights=src.weights, w=map_z(G, z(src.seed), 1))]))
        assert np.array_equal(shown(app), render(G, ws))

        app.save_session(str(tmp_path / "s.json"))
        loaded = ExplorerState.load(tmp_path / "s.json")
        assert loaded.latent.class_index == 2 and loaded.styles[0].class_index == 1


def test_every_control_fits_the_panel_which_resizes(explorer):
    """#22 item 4: with every panel open and a mixing source (its Remove button), no control runs
    past the panel's right edge; dragging the edge widens the panel; recent files name the file first."""
    platform, app = explorer
    platform.click(app, "Add source##styles")
    for title in list(app._open):
        if not app._open[title]:
            platform.click(app, title)
    frames(platform, app)

    def outside():
        right = RECTS["controls"][2]
        return [k for k, (x0, y0, x1, y1) in RECTS.items() if k not in ("controls", "canvas", "status") and x1 > right + 1]

    assert "Remove##src0" in RECTS and outside() == []
    width = RECTS["controls"][2] - RECTS["controls"][0]
    x1, y = RECTS["controls"][2], (RECTS["controls"][1] + RECTS["controls"][3]) / 2
    platform.mouse_move(x1 - 1, y)
    frames(platform, app, 2)
    platform.mouse_button(True)
    frames(platform, app, 2)
    for step in range(1, 5):
        platform.mouse_move(x1 - 1 + 30 * step, y)
        frames(platform, app, 1)
    platform.mouse_button(False)
    frames(platform, app)
    assert RECTS["controls"][2] - RECTS["controls"][0] > width + 60 and outside() == []
    assert recent_label("/data/models/ffhq.pt") == "ffhq.pt  (/data/models)"


def test_the_explorer_idles_when_nothing_moves(explorer):
    """#22 item 5: nothing animating, rendering or touched for a few frames -> idle (the platform
    waits for input at idle_fps instead of drawing 60 frames a second); input or an animation ends it."""
    platform, app = explorer
    frames(platform, app, IDLE_AFTER_FRAMES + 1)
    assert app.idle()
    platform.mouse_move(300, 300)
    platform.run_frame(app)
    assert not app.idle()
    frames(platform, app, IDLE_AFTER_FRAMES + 1)
    assert app.idle()
    app.state.latent.animate = True
    frames(platform, app, IDLE_AFTER_FRAMES + 2)
    assert not app.idle()
    app.state.latent.animate = False
    frames(platform, app, IDLE_AFTER_FRAMES + 2)
    assert app.idle()
    app.idle_fps = 0  # never idle (benchmarks compare both)
    assert not app.idle()


def test_enter_in_the_model_field_loads(explorer):
    """#22 item 6: typing a model path and pressing Enter loads it (no need to find the button)."""
    platform, app = explorer
    assert app.model.resolution == 32
    platform.enter_value(app, "##pkl", str(REPO / "assets" / "emoji64.pt"))
    frames(platform, app)
    assert app.model.resolution == 64 and app.status == "loaded emoji64.pt"


def test_walk_recording_upscales_and_never_overwrites(explorer, tmp_path):
    """#22 item 6: a recording's frames can be upscaled by a whole factor (nearest neighbour: the
    network's pixels, each a 3x3 block); recording again to the same place writes beside it."""
    platform, app = explorer
    walk = app.state.walk
    walk.active, walk.keyframes, walk.loop, walk.speed = True, [0, 1], False, 2.0
    app.record_walk(str(tmp_path / "small"), fps=2)
    app.recorder.join(60)
    app.record_walk(str(tmp_path / "small"), fps=2, scale=3)
    app.recorder.join(60)
    assert app.recorder.error is None and app.recorder.path == tmp_path / "small-1"
    assert str(tmp_path / "small-1") in app.status
    small = [np.asarray(Image.open(p)) for p in sorted((tmp_path / "small").glob("*.png"))]
    big = [np.asarray(Image.open(p)) for p in sorted((tmp_path / "small-1").glob("*.png"))]
    assert len(small) == len(big) == 2 and (app.recorder.width, app.recorder.height) == (96, 96)
    for s, b in zip(small, big):
        assert np.array_equal(b, s.repeat(3, axis=0).repeat(3, axis=1))


def test_a_class_the_model_lacks_is_said(conditional_pt, tmp_path):
    """A session's class beyond a conditional model's classes: one line and exit 2 on the command
    line (as stylegan-generate --class refuses it); in the window, said once in the status line and
    the last class drawn (it was clamped without a word)."""
    data = json.loads(ExplorerState(pkl=str(conditional_pt)).to_json())
    data["state"]["latent"]["class_index"] = 99
    (tmp_path / "c.json").write_text(json.dumps(data))
    r = run_explorer("--session", str(tmp_path / "c.json"), "--screenshot", str(tmp_path / "s.png"))
    one_error_line(r, "state.latent.class_index: the model has classes 0..2, not 99")
    assert not (tmp_path / "s.png").exists()
    with headless_explorer(conditional_pt, tmp_path) as (platform, app):
        frames(platform, app)
        app.load_session(str(tmp_path / "c.json"))
        frames(platform, app)
        assert app.status_error and "not 99 (class 2 is shown)" in app.status
        out = tmp_path / "gen"
        r = run_cli("stylegan-generate", "--pkl", str(conditional_pt), "--seeds", "0", "--class", "2", "--outdir", str(out))
        assert r.returncode == 0, r.stderr
        assert np.array_equal(shown(app), np.asarray(Image.open(out / "seed0000.png")))
