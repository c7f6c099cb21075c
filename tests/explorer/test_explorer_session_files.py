"""The files the explorer writes and the files a session names, run as a user runs them:
--screenshot / --window-shot never replace an existing file without --force (nor does Save session
without a second press); a session stores absolute paths and opens from any folder (a relative path
in an older, hand-written session is looked up beside the session, then in the current folder); a
session is held to the CLI's rules (noise strength as stylegan-generate --noise-strength, a layer
the network has, a directions file that exists) — one `error:` line and exit 2, nothing written."""

import json
import os
import shutil
from pathlib import Path

os.environ["PYOPENGL_PLATFORM"] = "egl"  # before anything imports OpenGL

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from PIL import Image  # noqa: E402

from conftest import run_cli  # noqa: E402
from test_explorer import G, egl_available, explorer, generate, run_explorer, shown  # noqa: E402,F401 (fixtures)
from test_explorer_ranges import frames, one_error_line, session_file  # noqa: E402

from explorer.state import ExplorerState  # noqa: E402

pytestmark = pytest.mark.skipif(not egl_available(), reason="no EGL (install Mesa's libegl)")


def test_cli_never_replaces_a_shot_without_force(skip_pt, tmp_path):
    """An existing --screenshot or --window-shot file is refused before anything renders (one line,
    exit 2, the file as it was); --force replaces it; both flags on one file are refused."""
    precious, precious2 = tmp_path / "precious.png", tmp_path / "precious2.png"
    precious.write_bytes(b"my picture")
    precious2.write_bytes(b"my other picture")
    for flag, path in (("--screenshot", precious), ("--window-shot", precious2)):
        r = run_explorer("--pkl", str(skip_pt), flag, str(path))
        one_error_line(r, f"{path} exists", "--force")
        assert r.stdout == ""  # refused before anything was rendered or written
    r = run_explorer("--pkl", str(skip_pt), "--screenshot", str(tmp_path / "new.png"), "--window-shot", str(precious2))
    one_error_line(r, "precious2.png exists", "--force")
    assert not (tmp_path / "new.png").exists()
    assert precious.read_bytes() == b"my picture" and precious2.read_bytes() == b"my other picture"

    r = run_explorer("--pkl", str(skip_pt), "--screenshot", "same.png", "--window-shot", "./same.png", cwd=tmp_path)
    one_error_line(r, "same.png", "two files")
    assert not (tmp_path / "same.png").exists()

    r = run_explorer("--pkl", str(skip_pt), "--screenshot", str(precious), "--window-shot", str(precious2), "--force")
    assert r.returncode == 0, r.stderr
    assert np.array_equal(np.asarray(Image.open(precious)), generate(skip_pt, tmp_path, "--seeds", "0"))
    assert np.asarray(Image.open(precious2)).shape == (800, 1280, 3)


@pytest.fixture
def project(skip_pt, tmp_path, G):
    """A folder with a model, a W file written by stylegan-generate --save-ws and a directions file."""
    proj = tmp_path / "proj"
    proj.mkdir()
    shutil.copy(skip_pt, proj / "G.pt")
    r = run_cli("stylegan-generate", "--pkl", str(skip_pt), "--seeds", "9", "--trunc", "0.6", "--save-ws",
                "--outdir", str(tmp_path / "ws"))
    assert r.returncode == 0, r.stderr
    shutil.copy(tmp_path / "ws" / "seed0009.npz", proj / "w.npz")
    np.savez(proj / "dirs.npz", smile=np.ones(G.w_dim, np.float32))
    (tmp_path / "elsewhere").mkdir()
    return proj


def relative_session(path, **state):
    """A hand-written (older) session: the default state with these fields, paths as typed."""
    data = json.loads(ExplorerState().to_json())
    data["state"]["pkl"] = state.pop("pkl")
    for part, fields in state.items():
        data["state"][part].update(fields)
    path.write_text(json.dumps(data))
    return path


def test_saved_session_opens_from_another_folder(project, tmp_path, monkeypatch):
    """Saved with paths typed relative to the folder it was made in: the file holds absolute paths,
    and the session draws the same frame (the W file's image) from another folder."""
    monkeypatch.chdir(project)
    state = ExplorerState(pkl="G.pt")
    state.latent.w_file, state.directions.source = "w.npz", "dirs.npz"
    state.save("s.json")
    saved = json.loads((project / "s.json").read_text())["state"]
    assert (saved["pkl"], saved["latent"]["w_file"], saved["directions"]["source"]) == (
        str(project / "G.pt"), str(project / "w.npz"), str(project / "dirs.npz"))
    assert state.pkl == "G.pt"  # (the state itself is as typed: only the file is made absolute)
    shot = tmp_path / "shot.png"
    r = run_explorer("--session", str(project / "s.json"), "--screenshot", str(shot), cwd=tmp_path / "elsewhere")
    assert r.returncode == 0, r.stderr
    assert np.array_equal(np.asarray(Image.open(shot)), np.asarray(Image.open(tmp_path / "ws" / "seed0009.png")))
    # The folder moved with its session and files: the stored absolute paths are gone, the names beside it stay.
    moved = project.rename(tmp_path / "moved")
    r = run_explorer("--session", str(moved / "s.json"), "--screenshot", str(shot), "--force", cwd=tmp_path / "elsewhere")
    assert r.returncode == 0, r.stderr
    assert np.array_equal(np.asarray(Image.open(shot)), np.asarray(Image.open(tmp_path / "ws" / "seed0009.png")))


def test_relative_paths_are_looked_up_beside_the_session_then_here(project, tmp_path):
    """An older session's relative paths: beside the session file first (the reviewer's case, run
    from another folder), then in the current folder; in neither: one line naming the session, the
    field and the path."""
    shot = tmp_path / "shot.png"
    beside = relative_session(project / "old.json", pkl="G.pt", latent={"w_file": "w.npz"},
                              directions={"source": "dirs.npz"})
    r = run_explorer("--session", str(beside), "--screenshot", str(shot), cwd=tmp_path / "elsewhere")
    assert r.returncode == 0, r.stderr
    assert np.array_equal(np.asarray(Image.open(shot)), np.asarray(Image.open(tmp_path / "ws" / "seed0009.png")))

    (tmp_path / "sessions").mkdir()
    here = relative_session(tmp_path / "sessions" / "here.json", pkl="proj/G.pt", latent={"x": 4.0})
    r = run_explorer("--session", str(here), "--screenshot", str(tmp_path / "here.png"), cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert np.array_equal(np.asarray(Image.open(tmp_path / "here.png")), generate(project / "G.pt", tmp_path, "--seeds", "4"))

    for field, state in (("state.pkl", {"pkl": "gone.pt"}),
                         ("state.latent.w_file", {"pkl": "G.pt", "latent": {"w_file": "gone.npz"}}),
                         ("state.directions.source", {"pkl": "G.pt", "directions": {"source": "gone.npz"}})):
        bad = relative_session(project / "bad.json", **state)
        r = run_explorer("--session", str(bad), "--screenshot", str(tmp_path / "bad.png"), cwd=tmp_path / "elsewhere")
        one_error_line(r, "bad.json", field, "gone.", "no such file", str(project), str(tmp_path / "elsewhere"))
        assert not (tmp_path / "bad.png").exists()
    # --pkl replaces the session's model: a session whose model is gone still opens on another one.
    gone_model = relative_session(project / "gone_model.json", pkl="gone.pt", latent={"x": 4.0})
    r = run_explorer("--session", str(gone_model), "--pkl", str(project / "G.pt"), "--screenshot", str(tmp_path / "b.png"))
    assert r.returncode == 0, r.stderr


def test_window_loads_a_session_from_its_own_folder(explorer, project, tmp_path, monkeypatch):
    """Load session in the window (another current folder): the session's relative model and W file
    are found beside it; a session naming a missing file is refused in the status line and the
    state stays."""
    platform, app = explorer
    monkeypatch.chdir(tmp_path / "elsewhere")
    app.load_session(str(relative_session(project / "old.json", pkl="G.pt", latent={"w_file": "w.npz"})))
    frames(platform, app)
    assert not app.status_error, app.status
    assert app.state.latent.w_file == str(project / "w.npz")
    assert np.array_equal(shown(app), np.asarray(Image.open(tmp_path / "ws" / "seed0009.png")))
    before = app.state.copy()
    app.load_session(str(relative_session(project / "bad.json", pkl="G.pt", latent={"w_file": "gone.npz"})))
    assert app.status_error and "bad.json: state.latent.w_file: gone.npz: no such file" in app.status
    assert app.state == before


@pytest.mark.parametrize("changes, texts", [
    ({"noise": {"strength": -5}}, ["state.noise.strength", "0..100", "-5"]),
    ({"noise": {"strength": 101}}, ["state.noise.strength", "0..100"]),
    ({"noise": {"layer_strength": [1.0, -1.0]}}, ["state.noise.layer_strength[1]", "0..100"]),
    ({"view": {"layer": "b64.conv1"}}, ["state.view.layer", "b64.conv1", "b4.conv1", "b32.conv1"]),
    ({"directions": {"source": "/nowhere/dirs.npz"}}, ["state.directions.source", "/nowhere/dirs.npz: no such file"]),
    # What no slider can set: a white or an empty frame, or a walk that fails when turned on.
    ({"styles": [{"seed": 1, "weights": [1.5], "class_index": 0}]}, ["state.styles[0].weights[0]", "0..1"]),
    ({"directions": {"entries": [{"index": 0, "amount": 1e30, "first_layer": 0, "last_layer": None}]}},
     ["state.directions.entries[0].amount", "-5.0..5.0"]),
    ({"directions": {"entries": [{"index": 0, "amount": 1, "first_layer": 5, "last_layer": 2}]}},
     ["state.directions.entries[0]", "first_layer 5 is after last_layer 2"]),
    ({"walk": {"keyframes": [], "active": False}}, ["state.walk.keyframes", "at least two"]),
    ({"latent": {"speed": 50}}, ["state.latent.speed", "-5.0..5.0"]),
])
def test_cli_holds_sessions_to_the_cli_rules(skip_pt, tmp_path, changes, texts):
    """What the CLI refuses is refused in a session too: the same noise-strength range as
    stylegan-generate, a layer the network has (named with the layers there are, once the model is
    known), a directions file that exists even before a slider moves."""
    shot = tmp_path / "shot.png"
    r = run_explorer("--session", str(session_file(tmp_path / "rule.json", skip_pt, **changes)), "--screenshot", str(shot))
    one_error_line(r, *texts)
    assert not shot.exists()


def test_generate_refuses_the_same_noise_strength(skip_pt, tmp_path):
    r = run_cli("stylegan-generate", "--pkl", str(skip_pt), "--seeds", "0", "--noise-strength", "-1",
                "--outdir", str(tmp_path / "o"))
    assert r.returncode == 2 and "--noise-strength" in r.stderr


def test_renderer_refuses_a_missing_layer_or_directions_file_in_sight(explorer, G, tmp_path):
    """Set in the window (or by a model switch): a layer the network lacks is said once, in the
    status line and the layer panel, and the image is drawn; a directions file that is gone is
    refused before any slider moves."""
    platform, app = explorer
    image = shown(app)
    app.state.view.layer = "b64.conv1"
    frames(platform, app)
    kind, message = app.render_error
    assert kind == "refused" and message.startswith("state.view.layer: 'b64.conv1' is not a layer of")
    assert app.status_error and "b16.conv1" in app.status and np.array_equal(shown(app), image)
    app.render_error = None
    app.state.trunc.psi = 0.5  # another frame: said once, not on every frame
    frames(platform, app)
    assert app.render_error is None
    app.state.view.layer, app.state.trunc.psi = None, 1.0
    app.state.directions.source = str(tmp_path / "gone.npz")
    frames(platform, app)
    assert app.render_error == ("refused", f"{tmp_path / 'gone.npz'}: no such file")


def test_save_session_never_replaces_a_file_unasked(explorer, tmp_path, monkeypatch):
    """Save session over an existing file: refused in the status line, the file as it was; pressed
    again for the same file, it replaces it (with absolute paths)."""
    platform, app = explorer
    monkeypatch.chdir(tmp_path)
    (tmp_path / "session.json").write_text("my notes")
    for title in ("Network", "Latent", "Truncation", "Style mixing", "Noise", "Input transform", "View and capture"):
        platform.click(app, title)
    platform.click(app, "Save session##sess")
    assert app.status_error and "session.json exists" in app.status
    assert (tmp_path / "session.json").read_text() == "my notes"
    platform.click(app, "Save session##sess")
    assert not app.status_error, app.status
    assert ExplorerState.load(tmp_path / "session.json").pkl == os.path.abspath(app.state.pkl)
    assert app.save_session(str(tmp_path / "session.json")) is False  # (asked again: refused again)


def bad_directions(tmp_path, w_dim: int) -> dict[str, tuple[Path, str]]:
    """Directions files a user may have, each with what the one-line refusal says."""
    good = tmp_path / "good.npz"
    np.savez(good, smile=np.ones(w_dim, np.float32))
    data = good.read_bytes()
    cases = {"truncated": (data[: len(data) // 2], "damaged zip archive"),
             "png": (b"\x89PNG\r\n\x1a\n" + b"\0" * 64, "PNG"),
             "text": (b"smile = 1, 2, 3\n", "a directions file is a .npz archive of name -> vector"),  # (not "W/W+")
             "nan": (None, "NaN"),
             "pickled": (None, "pickled Python objects"),
             "strings": (None, "not real numbers")}
    out = {}
    for name, (raw, says) in cases.items():
        path = tmp_path / f"{name}.npz"
        if name == "nan":
            np.savez(path, smile=np.full(w_dim, np.nan, np.float32))
        elif name == "pickled":
            np.savez(path, smile=np.array([{"a": 1}], dtype=object))
        elif name == "strings":
            np.savez(path, smile=np.array(["x"] * w_dim))
        else:
            path.write_bytes(raw)
        out[name] = (path, says)
    return out


def test_a_broken_directions_file_is_refused_in_one_line(explorer, tmp_path):
    """A truncated .npz raised zipfile.BadZipFile out of the window's frame (a traceback: the app
    exited), and in the renderer 'render failed' on every frame; a NaN direction was taken and
    turned the image into NaN. Read as W files are, each is one line naming the file."""
    platform, app = explorer
    frames(platform, app)
    image = shown(app).copy()
    for name, (path, says) in bad_directions(tmp_path, app.model.w_dim).items():
        app.render_error = None
        error = app.use_directions(str(path))
        assert error and error.startswith(str(path)) and says in error and "\n" not in error, (name, error)
        assert app.status_error and app.state.directions.source != str(path)
        app.state.directions.source = str(path)  # as a session would name it: the renderer refuses it
        frames(platform, app)
        kind, message = app.render_error
        assert kind == "refused" and message.startswith(str(path)) and says in message, (name, message)
        assert np.array_equal(shown(app), image)
        app.state.directions.source = "pca"
        frames(platform, app)


def test_a_session_gives_only_the_groups_it_changes(skip_pt, explorer, tmp_path):
    """A session's per-group psi with a group left out: that group is at 1 (as the latent recipe
    takes it), on the command line and dropped on the window (a KeyError in the truncation panel
    took the app down)."""
    platform, app = explorer
    partial = session_file(tmp_path / "partial.json", skip_pt, trunc={"per_group": True, "group_psi": {"coarse": 0.5}})
    whole = session_file(tmp_path / "whole.json", skip_pt,
                         trunc={"per_group": True, "group_psi": {"coarse": 0.5, "middle": 1.0, "fine": 1.0}})
    shots = []
    for session in (partial, whole):
        shots.append(tmp_path / f"{session.stem}.png")
        r = run_explorer("--session", str(session), "--screenshot", str(shots[-1]))
        assert r.returncode == 0, r.stderr
    assert np.array_equal(np.asarray(Image.open(shots[0])), np.asarray(Image.open(shots[1])))
    app.open_file(str(partial))  # (dropped on the window)
    frames(platform, app)
    assert app.state.trunc.group_psi == {"coarse": 0.5, "middle": 1.0, "fine": 1.0}
    assert np.array_equal(shown(app), np.asarray(Image.open(shots[0])))


def test_trunc_on_the_command_line_with_a_session(skip_pt, project, tmp_path):
    """--trunc with a session: its one psi wins over the session's per-group psi (it was ignored,
    exit 0); with a session that shows a W file it is refused, as stylegan-generate refuses --trunc
    with --ws — unless --seed leaves the W file."""
    groups = session_file(tmp_path / "groups.json", skip_pt, trunc={"per_group": True})
    shot = tmp_path / "groups.png"
    r = run_explorer("--session", str(groups), "--trunc", "0.3", "--screenshot", str(shot))
    assert r.returncode == 0, r.stderr
    assert np.array_equal(np.asarray(Image.open(shot)), generate(skip_pt, tmp_path, "--seeds", "0", "--trunc", "0.3"))
    wfile = relative_session(project / "w.json", pkl="G.pt", latent={"w_file": "w.npz"})
    r = run_explorer("--session", str(wfile), "--trunc", "0.3", "--screenshot", str(tmp_path / "w.png"))
    one_error_line(r, "--trunc has no effect", "w.npz", "as saved")
    assert not (tmp_path / "w.png").exists()
    r = run_explorer("--session", str(wfile), "--trunc", "0.3", "--seed", "4", "--screenshot", str(tmp_path / "s.png"))
    assert r.returncode == 0, r.stderr
    assert np.array_equal(np.asarray(Image.open(tmp_path / "s.png")),
                          generate(skip_pt, tmp_path, "--seeds", "4", "--trunc", "0.3"))


def test_a_failed_run_writes_no_window_shot(skip_pt, tmp_path):
    """An error exits without writing either file (the window shot was written, then exit 2)."""
    bad = tmp_path / "notmodel.pt"
    bad.write_text("hello")
    r = run_explorer("--pkl", str(bad), "--window-shot", str(tmp_path / "w.png"))
    one_error_line(r, "notmodel.pt")
    assert r.stdout == "" and not (tmp_path / "w.png").exists()
    session = session_file(tmp_path / "layer.json", skip_pt, view={"layer": "b64.conv1"})
    r = run_explorer("--session", str(session), "--window-shot", str(tmp_path / "w.png"),
                     "--screenshot", str(tmp_path / "s.png"))
    one_error_line(r, "state.view.layer")
    assert not (tmp_path / "w.png").exists() and not (tmp_path / "s.png").exists()


def test_a_screenshot_says_what_it_shows(skip_pt, tmp_path):
    """In the layer view --screenshot writes the feature map, grey (one channel), and says so."""
    session = session_file(tmp_path / "layer.json", skip_pt, view={"layer": "b16.conv1", "channel": 3})
    r = run_explorer("--session", str(session), "--screenshot", str(tmp_path / "s.png"))
    assert r.returncode == 0, r.stderr
    assert "the layer view: b16.conv1 channel 3/" in r.stdout
    image = Image.open(tmp_path / "s.png")
    assert image.mode == "L" and image.size == (16, 16)


@pytest.mark.parametrize("changes, texts", [
    ({"latent": {"w_index": 7}}, ["state.latent.w_index", "w.npz has rows 0..0, not 7"]),
    ({"directions": {"entries": [{"index": 500, "amount": 1, "first_layer": 0, "last_layer": None}]}},
     ["state.directions.entries[0].index", "0..0, not 500"]),
])
def test_a_session_asking_what_its_files_lack_is_refused(project, tmp_path, changes, texts):
    """A W file row or a direction the files do not have: one line and exit 2 (they were clamped or
    left out without a word), as stylegan-generate refuses a class the model lacks."""
    fields = {"latent": {"w_file": "w.npz"}, "directions": {"source": "dirs.npz"}}
    for part, values in changes.items():
        fields[part] = {**fields.get(part, {}), **values}
    session = relative_session(project / "asks.json", pkl="G.pt", **fields)
    r = run_explorer("--session", str(session), "--screenshot", str(tmp_path / "s.png"))
    one_error_line(r, *texts)
    assert not (tmp_path / "s.png").exists()
