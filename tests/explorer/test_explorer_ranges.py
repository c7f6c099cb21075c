"""Numbers and files the explorer used to choke on: every seed stylegan-generate takes (0..2**32-1,
past a C int) works, as --seed and in every seed field; state numbers beyond a C int are shown
clamped and kept; a session value out of range is refused with one line naming the field and the
session; a W or directions file a session names that is missing or does not fit is refused with its
reason — one `error:` line and exit 2 headless, a notice in the window — instead of "no frame has
been shown yet"."""

import json
import os
import time

os.environ["PYOPENGL_PLATFORM"] = "egl"  # before anything imports OpenGL

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from PIL import Image  # noqa: E402

from core.latents import wplus  # noqa: E402
from test_explorer import G, egl_available, explorer, generate, render, run_explorer, shown  # noqa: E402,F401 (fixtures)

from imgui_bundle import imgui  # noqa: E402
from explorer.app import Explorer  # noqa: E402
from explorer.platform import HeadlessPlatform  # noqa: E402
from explorer.state import ExplorerState  # noqa: E402
from explorer.widgets.ui import RECTS  # noqa: E402

pytestmark = pytest.mark.skipif(not egl_available(), reason="no EGL (install Mesa's libegl)")

MAX_SEED = 2 ** 32 - 1
BIG = 10 ** 12  # far beyond a C int


def frames(platform, app, n=3):
    for _ in range(n):
        platform.run_frame(app)


def seed_image(G, seed):
    """What the explorer shows for a whole seed at psi 1 with const noise."""
    return render(G, G.mapping(wplus.z_from_seed(seed, G.z_dim)))


def one_error_line(r, *texts):
    """The CLI failed as a user should see it: exit 2 and one `error:` line holding every text."""
    lines = r.stderr.strip().splitlines()
    assert r.returncode == 2 and len(lines) == 1 and lines[0].startswith("stylegan-explorer: error: "), r.stderr
    for text in texts:
        assert text in lines[0], (text, lines[0])


def session_file(path, skip_pt, **changes):
    """A session on skip_pt with some state fields replaced: changes like latent={"x": 1e300}."""
    data = json.loads(ExplorerState(pkl=str(skip_pt)).to_json())
    for part, fields in changes.items():
        if isinstance(fields, dict):
            data["state"][part].update(fields)
        else:
            data["state"][part] = fields
    path.write_text(json.dumps(data))  # (Python writes inf as Infinity, as a hand-edited file may have it)
    return path


def test_cli_seeds_past_a_c_int_equal_generate(skip_pt, tmp_path):
    """--seed 2**31 and 2**32-1 (stylegan-generate's last seed) draw exactly its images, through the
    widgets (headless runs draw every open panel); 2**32 is refused as generate refuses it."""
    shot = tmp_path / "shot.png"
    for seed in (2 ** 31, MAX_SEED):
        r = run_explorer("--pkl", str(skip_pt), "--seed", str(seed), "--screenshot", str(shot), "--frames", "2",
                         "--force")  # (the second seed replaces the first's shot)
        assert r.returncode == 0, r.stderr
        assert np.array_equal(np.asarray(Image.open(shot)), generate(skip_pt, tmp_path, "--seeds", str(seed)))
    shot.unlink()
    r = run_explorer("--pkl", str(skip_pt), "--seed", str(2 ** 32), "--screenshot", str(shot))
    one_error_line(r, "--seed", str(MAX_SEED))
    assert not shot.exists()


def test_seed_fields_take_every_seed(explorer, G):
    """The seed, source seed and noise seed fields hold 0..2**32-1 exactly (typed values beyond are
    clamped); arrows stop at the last seed; the offset drags between seeds even above 2**24, where
    float32 cannot tell seeds apart; animated noise seeds wrap; keyframes past 2**32-1 are refused."""
    platform, app = explorer
    lat = app.state.latent
    platform.enter_value(app, "Seed", str(MAX_SEED))
    assert (lat.x, lat.y) == (MAX_SEED, 0.0)
    assert np.array_equal(shown(app), seed_image(G, MAX_SEED))
    platform.press(app, imgui.Key.right_arrow)
    assert lat.x == MAX_SEED
    platform.enter_value(app, "Seed", "99999999999")
    assert lat.x == MAX_SEED
    platform.enter_value(app, "Seed", str(2 ** 31 + 1))
    assert lat.x == 2 ** 31 + 1 and np.array_equal(shown(app), seed_image(G, 2 ** 31 + 1))

    start = platform.text_point("Offset x, y##latent")  # on the x component
    platform.mouse_move(*start)
    platform.run_frame(app)
    platform.mouse_button(True)
    platform.run_frame(app)
    for step in range(1, 5):
        platform.mouse_move(start[0] + 10 * step, start[1])
        platform.run_frame(app)
    platform.mouse_button(False)
    frames(platform, app)
    assert int(lat.x) == 2 ** 31 + 1 and 0.1 < lat.x - int(lat.x) < 0.5 and lat.y == 0

    platform.click(app, "Add source##styles")
    platform.enter_value(app, "Source seed##src0", str(3_000_000_000))
    assert app.state.styles[0].seed == 3_000_000_000
    app.state.noise.mode = "random"
    frames(platform, app)
    platform.enter_value(app, "Noise seed", str(MAX_SEED))
    assert app.state.noise.seed == MAX_SEED
    platform.click(app, "Animate##noise")
    frames(platform, app)
    assert 0 <= app.state.noise.seed < 100  # past the last seed: back to the first ones
    assert ExplorerState.from_json(app.state.to_json()) == app.state  # a session that loads again

    for title in ("Network", "Truncation", "Style mixing", "Noise", "Input transform", "Latent walk"):
        platform.click(app, title)  # closes those open, opens the walk
    before = list(app.state.walk.keyframes)
    platform.enter_value(app, "Keyframes", f"0,{2 ** 32}")
    assert app.state.walk.keyframes == before and "keyframes" in app.widgets[6].keys_error
    platform.enter_value(app, "Keyframes", f"0,{MAX_SEED}")
    assert app.state.walk.keyframes == [0, MAX_SEED]


def test_numbers_beyond_a_c_int_are_shown_clamped_and_kept(explorer, G, tmp_path):
    """A session's row, cutoff, layer range and channel far beyond a C int: every panel draws (the
    int controls get clamped values), the state keeps the true values, the renderer uses the
    nearest valid ones (the last row: the frame equals that row's image) and says that the row is
    not in the file."""
    platform, app = explorer
    ws = torch.cat([G.mapping(wplus.z_from_seed(s, G.z_dim)) for s in (3, 4)])
    np.savez(tmp_path / "rows.npz", w=ws.detach().numpy())
    session = session_file(tmp_path / "big.json", app.state.pkl,
                           latent={"w_file": str(tmp_path / "rows.npz"), "w_index": BIG},
                           trunc={"cutoff": BIG},
                           directions={"count": 1, "entries": [{"index": 0, "amount": 0.0, "first_layer": BIG,
                                                                "last_layer": BIG}]})
    app.load_session(str(session))
    frames(platform, app)
    assert app.status_error and app.status.startswith("state.latent.w_index: rows.npz has rows 0..1"), app.status
    assert np.array_equal(shown(app), render(G, ws[1:]))
    for title in ("Network", "Style mixing", "Noise", "Input transform", "Layer view", "Directions"):
        platform.click(app, title)  # close what is not needed, open the rest
    layer = app.model.feature_layers[-1]
    app.state.view.layer, app.state.view.channel = layer, BIG
    frames(platform, app)
    assert {"Row##wfile", "Cutoff", "layers##dir0", "Channel##view"} <= set(RECTS)
    s = app.state
    assert (s.latent.w_index, s.trunc.cutoff, s.view.channel) == (BIG, BIG, BIG)
    assert (s.directions.entries[0].first_layer, s.directions.entries[0].last_layer) == (BIG, BIG)
    channels = app.feature_channels
    assert app.display.label == f"{layer} channel {channels - 1}/{channels}"


@pytest.mark.parametrize("changes, field", [
    ({"latent": {"x": 1e300}}, "state.latent.x"),
    ({"noise": {"seed": float("inf")}}, "state.noise.seed"),
    ({"styles": [{"seed": 2 ** 32, "weights": []}]}, "state.styles[0].seed"),
    ({"walk": {"keyframes": [0, -1]}}, "state.walk.keyframes[1]"),
    ({"directions": {"count": 10 ** 9}}, "state.directions.count"),
    ({"latent": {"w_index": -1}}, "state.latent.w_index"),
    ({"trunc": {"group_psi": {"coarse": 1.0, "middle": 1e6, "fine": 1.0}}}, "state.trunc.group_psi.middle"),
    ({"trunc": {"group_psi": {"coarse": 1.0, "huge": 1.0}}}, "state.trunc.group_psi"),
])
def test_cli_refuses_session_values_out_of_range(skip_pt, tmp_path, changes, field):
    shot = tmp_path / "shot.png"
    session = session_file(tmp_path / "range.json", skip_pt, **changes)
    r = run_explorer("--session", str(session), "--screenshot", str(shot))
    one_error_line(r, "range.json", field)
    assert not shot.exists()


def test_cli_refuses_files_a_session_names_with_their_reason(skip_pt, tmp_path, G):
    """A W file missing or of another shape, a directions file missing: the file and the reason
    (with the shape the network needs), not "no frame has been shown yet"; nothing written."""
    shot = tmp_path / "shot.png"
    missing = session_file(tmp_path / "m.json", skip_pt, latent={"w_file": str(tmp_path / "gone.npz")})
    r = run_explorer("--session", str(missing), "--screenshot", str(shot))
    one_error_line(r, "gone.npz: no such file")

    np.savez(tmp_path / "other.npz", w=np.zeros((1, G.num_ws + 2, G.w_dim), np.float32))
    other = session_file(tmp_path / "o.json", skip_pt, latent={"w_file": str(tmp_path / "other.npz")})
    r = run_explorer("--session", str(other), "--screenshot", str(shot), "--frames", "3")
    one_error_line(r, "other.npz", "does not fit", f"[N, {G.num_ws}, {G.w_dim}]")

    no_dirs = session_file(tmp_path / "d.json", skip_pt, directions={
        "source": str(tmp_path / "dirs.npz"), "count": 1, "entries": [{"index": 0, "amount": 2.0}]})
    r = run_explorer("--session", str(no_dirs), "--screenshot", str(shot))
    one_error_line(r, "dirs.npz: no such file")
    assert not shot.exists()


def run_until(platform, app, done, timeout=60.0):
    """UI frames until done() (the renderer works on its own thread, as in the window)."""
    deadline = time.monotonic() + timeout
    while not done():
        assert time.monotonic() < deadline, app.status
        platform.run_frame(app)
        time.sleep(0.01)


def test_window_shows_a_refused_w_file_as_a_notice(skip_pt, tmp_path, monkeypatch):
    """With the window's threaded renderer: a session's missing W file is a notice in the status
    line (no frame, no crash); back to seeds draws; a session dropped later whose W file does not
    fit is refused the same way and the image stays."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    state = ExplorerState(pkl=str(skip_pt))
    state.latent.w_file = str(tmp_path / "gone.npz")
    platform = HeadlessPlatform(1280, 800)
    app = Explorer(state, torch.device("cpu"), sync=False, outdir=str(tmp_path))
    try:
        run_until(platform, app, lambda: app.render_error is not None)
        assert app.status_error and app.status == f"{tmp_path / 'gone.npz'}: no such file"
        assert app.render_error == ("refused", app.status) and app.display.version < 0
        platform.click(app, "Back to seeds##wfile")
        run_until(platform, app, lambda: app.display.version >= 0)
        before = shown(app)
        np.savez(tmp_path / "other.npz", w=np.zeros((1, app.model.num_ws + 2, app.model.w_dim), np.float32))
        app.open_file(str(session_file(tmp_path / "o.json", skip_pt, latent={"w_file": str(tmp_path / "other.npz")})))
        run_until(platform, app, lambda: "does not fit" in app.status)
        assert app.status_error and "other.npz" in app.status and np.array_equal(shown(app), before)
    finally:
        app.close()
        platform.close()
