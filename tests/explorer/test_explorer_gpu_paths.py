"""How frames reach the screen, tested on the CPU (#23): which EGL platform and device a headless
context takes, and which upload path a CUDA frame takes — zero copy ('cuda-gl'), or the host path
with one notice when cuda-python is missing, interop is unsupported or a registration fails."""

import numpy as np
import pytest
import torch

from test_explorer import egl_available, generate, shown  # noqa: F401

from explorer.display import FrameDisplay
from explorer.gl import EGLDevice, HeadlessContext, pick_device
from explorer.renderer import Frame

pytestmark = pytest.mark.skipif(not egl_available(), reason="no EGL (install Mesa's libegl)")


def test_pick_device_prefers_the_cuda_device_then_hardware():
    mesa = EGLDevice("m", "EGL_MESA_device_software")
    gpu0 = EGLDevice("g0", "EGL_NV_device_cuda EGL_EXT_device_drm", cuda_index=0)
    gpu1 = EGLDevice("g1", "EGL_NV_device_cuda EGL_EXT_device_drm", cuda_index=1)
    assert pick_device([mesa, gpu0, gpu1], 1) is gpu1  # the GPU the frames are on: interop can map it
    assert pick_device([mesa, gpu0, gpu1], 5) is gpu0  # no such CUDA device: the first hardware one
    assert pick_device([mesa, gpu0], None) is gpu0
    assert pick_device([mesa], 0) is mesa  # only software: still a context
    assert pick_device([], 0) is None


def test_the_egl_device_platform_draws_the_cli_frame(skip_pt, tmp_path, monkeypatch):
    """The platform a CUDA run asks for (EGL devices; here Mesa's software device) gives the same
    frame as stylegan-generate, and says which platform ran."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    from explorer.app import Explorer
    from explorer.platform import HeadlessPlatform
    from explorer.state import ExplorerState
    try:
        platform = HeadlessPlatform(640, 480, egl="device")
    except RuntimeError as exc:
        pytest.skip(f"no EGL device platform here: {exc}")
    app = Explorer(ExplorerState(pkl=str(skip_pt)), torch.device("cpu"), sync=True, outdir=str(tmp_path))
    try:
        for _ in range(2):
            platform.run_frame(app)
        assert platform.context.platform in ("device", "surfaceless")  # device unless the driver lacks it
        assert "EGL" in app.gl_info and app.display.upload == "cpu"
        assert np.array_equal(shown(app), generate(skip_pt, tmp_path, "--seeds", "0"))
    finally:
        app.close()
        platform.close()


class FakeCopier:
    """Stands in for CudaGLCopier: 'copies' by uploading, or fails as a driver would."""
    def __init__(self, texture, fail: str | None = None):
        self.texture, self.fail, self.copies, self.closed = texture, fail, 0, False

    def copy(self, pixels):
        if self.fail:
            raise RuntimeError(self.fail)
        self.copies += 1
        self.texture.upload(pixels.numpy())

    def close(self):
        self.closed = True


@pytest.fixture
def gl():
    ctx = HeadlessContext()
    yield
    ctx.close()


def cuda_like_frame(version: int) -> Frame:
    """A frame whose pixels are a torch tensor (as CUDA frames are), not a numpy array."""
    g = torch.Generator().manual_seed(version)
    pixels = torch.randint(0, 256, (8, 8, 4), dtype=torch.uint8, generator=g)
    pixels[..., 3] = 255
    return Frame(version, pixels, 1.0, "image")


@pytest.mark.parametrize("case", ["no cuda-python", "registration fails", "copy fails"])
def test_cuda_frames_fall_back_to_the_host_path_with_one_notice(gl, monkeypatch, case):
    made = []

    def make(texture):
        made.append(1)
        if case == "no cuda-python":
            raise ImportError("No module named 'cuda'")
        if case == "registration fails":
            raise RuntimeError("cudaErrorInvalidGraphicsContext")
        return FakeCopier(texture, fail="cudaErrorUnknown")

    monkeypatch.setattr("explorer.display.make_copier", make)
    display = FrameDisplay()
    for version in (1, 2, 3):
        frame = cuda_like_frame(version)
        assert display.show(frame)
        assert display.upload == "host" and np.array_equal(display.texture.read(), frame.pixels.numpy())
    assert len(made) == 1  # tried once: the host path from then on, no retry every frame
    expected = {"no cuda-python": "pip install cuda-python", "registration fails": "interop unavailable",
                "copy fails": "interop failed"}[case]
    assert expected in display.notice and display.notice in display.path and display.path.startswith("host:")
    display.close()


def test_zero_copy_path_when_interop_works_and_host_when_switched_off(gl, monkeypatch):
    copiers = []
    monkeypatch.setattr("explorer.display.make_copier", lambda t: copiers.append(FakeCopier(t)) or copiers[-1])
    display = FrameDisplay()
    frame = cuda_like_frame(1)
    display.show(frame)
    assert display.upload == "cuda-gl" and display.notice == "" and copiers[0].copies == 1
    assert np.array_equal(display.texture.read(), frame.pixels.numpy())
    display.allow_interop = False  # benchmarks compare the two paths in one run
    display.show(cuda_like_frame(2))
    assert display.upload == "host" and copiers[0].copies == 1 and "switched off" in display.notice
    display.show(Frame(3, np.zeros((4, 4, 4), np.uint8), 1.0, "image"))
    assert display.upload == "cpu"
    display.close()


@pytest.mark.parametrize("channels", [1, 2, 3, 4])
def test_the_cpu_and_gpu_frame_conversions_agree_for_any_channel_count(channels):
    """The CPU path (renderer.rgba of the CLI's uint8 image) and the GPU path (kernels.to_rgba, the
    same code as the CUDA kernel) showed a 4-channel image differently (white vs red) and the GPU
    path raised on 2 channels."""
    from core.images import to_uint8
    from explorer.renderer import rgba
    from kernels import to_rgba
    img = torch.rand(1, channels, 5, 7) * 2.4 - 1.2
    assert np.array_equal(rgba(to_uint8(img)[0]), to_rgba(img).numpy())


def test_the_texture_is_registered_again_whenever_its_storage_is_new(gl, monkeypatch):
    """The real CudaGLCopier with a stand-in for cuda-python's runtime: after a host upload of
    another size (the layer view on a GPU) reallocated the texture, a CUDA frame of the first size
    was copied into the storage registered before — never registered again."""
    import sys
    import types
    from explorer.display import CudaGLCopier
    calls = []

    class Flags:
        cudaGraphicsRegisterFlagsWriteDiscard = 2

    class Kind:
        cudaMemcpyDeviceToDevice = 3

    def record(name, result=None):
        def call(*args):
            calls.append((name, args))
            return (0, result) if result is not None else (0,)
        return call

    runtime = types.SimpleNamespace(
        cudaGraphicsRegisterFlags=Flags, cudaMemcpyKind=Kind,
        cudaGraphicsGLRegisterImage=record("register", "resource"), cudaGraphicsUnregisterResource=record("unregister"),
        cudaGraphicsMapResources=record("map"), cudaGraphicsSubResourceGetMappedArray=record("array", "array"),
        cudaMemcpy2DToArray=record("copy"), cudaGraphicsUnmapResources=record("unmap"),
        cudaGetErrorString=lambda err: (0, b"error"))
    bindings = types.ModuleType("cuda.bindings")
    bindings.runtime = runtime
    monkeypatch.setitem(sys.modules, "cuda", types.ModuleType("cuda"))
    monkeypatch.setitem(sys.modules, "cuda.bindings", bindings)
    monkeypatch.setitem(sys.modules, "cuda.bindings.runtime", runtime)
    display = FrameDisplay()
    monkeypatch.setattr("explorer.display.make_copier", lambda t: CudaGLCopier(t))
    registered = lambda: sum(1 for name, _ in calls if name == "register")  # noqa: E731
    display.show(cuda_like_frame(1))
    display.show(cuda_like_frame(2))  # same size, same storage: no new registration
    assert display.upload == "cuda-gl" and registered() == 1
    display.show(Frame(3, np.zeros((4, 4, 4), np.uint8), 1.0, "b8.conv1 channel 0/8"))  # a host upload, 4x4
    display.show(cuda_like_frame(4))  # 8x8 again: new storage
    assert display.upload == "cuda-gl" and registered() == 2
    assert [name for name, _ in calls].count("unregister") == 1
    display.close()
