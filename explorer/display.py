"""The display: puts rendered frames into the GL texture imgui draws.

CPU frames (numpy RGBA8) go in with one glTexSubImage2D. CUDA frames (an RGBA8 tensor on the GPU)
are copied device-to-device into the texture through CUDA-GL interop (cuda-python's runtime
bindings): the texture is registered once per size, then mapped, copied into and unmapped on the
GL thread each frame — no trip through host memory. Where interop is unavailable the frame is
copied through the host, and `upload` / `notice` say so (the performance panel shows them).
"""

from __future__ import annotations

import numpy as np

from core.errors import first_line

from .gl import Texture


class CudaGLCopier:
    """Device-to-device copies from CUDA tensors into one registered GL texture."""

    def __init__(self, texture: Texture):
        from cuda.bindings import runtime as cudart  # optional dependency: cuda-python
        self.cudart = cudart
        self.texture = texture
        self.resource = None
        self.storage = -1  # the texture storage registered (Texture.storage)

    def _check(self, result):
        err = result[0] if isinstance(result, tuple) else result
        if int(err) != 0:
            raise RuntimeError(f"CUDA-GL interop failed: {self.cudart.cudaGetErrorString(err)[1].decode()}")
        return result[1] if isinstance(result, tuple) and len(result) > 1 else None

    def _register(self) -> None:
        from OpenGL import GL
        if self.resource is not None:
            self._check(self.cudart.cudaGraphicsUnregisterResource(self.resource))
        flags = self.cudart.cudaGraphicsRegisterFlags.cudaGraphicsRegisterFlagsWriteDiscard
        self.resource = self._check(self.cudart.cudaGraphicsGLRegisterImage(
            self.texture.id, GL.GL_TEXTURE_2D, flags))
        self.storage = self.texture.storage

    def copy(self, pixels) -> None:
        """pixels: contiguous HxWx4 uint8 CUDA tensor, complete (its stream synchronised)."""
        h, w = int(pixels.shape[0]), int(pixels.shape[1])
        self.texture.ensure_size(w, h)
        # Registered again whenever the texture's storage is new — also when a host upload in
        # between (the layer view, another size) reallocated it and this frame's size brought it
        # back: a registration must never outlive the storage it was made for (CUDA-GL interop).
        if self.resource is None or self.storage != self.texture.storage:
            self._register()
        cudart = self.cudart
        self._check(cudart.cudaGraphicsMapResources(1, self.resource, 0))
        try:
            array = self._check(cudart.cudaGraphicsSubResourceGetMappedArray(self.resource, 0, 0))
            self._check(cudart.cudaMemcpy2DToArray(
                array, 0, 0, pixels.data_ptr(), w * 4, w * 4, h,
                cudart.cudaMemcpyKind.cudaMemcpyDeviceToDevice))
        finally:
            self._check(cudart.cudaGraphicsUnmapResources(1, self.resource, 0))

    def close(self) -> None:
        if self.resource is not None:
            self.cudart.cudaGraphicsUnregisterResource(self.resource)
            self.resource = None


UPLOAD_PATHS = {
    "cpu": "CPU frame, one glTexSubImage2D",
    "cuda-gl": "CUDA-GL interop, device to device (zero copy through the host)",
    "host": "CUDA frame copied through host memory, one glTexSubImage2D",
}


class FrameDisplay:
    """The texture and how frames reach it. `upload` names the path the last frame took: 'cpu',
    'cuda-gl' (zero copy) or 'host' (the fallback for CUDA frames); `notice` says once why a CUDA
    frame went through the host (no cuda-python, interop unsupported, registration failed)."""

    def __init__(self, allow_interop: bool = True):
        self.texture = Texture()
        self.version = -1  # version of the frame in the texture
        self.label = ""
        self.upload = "cpu"
        self.notice = ""
        self.allow_interop = allow_interop  # False: CUDA frames always through the host (benchmarks compare)
        self._interop: CudaGLCopier | None = None
        self._interop_failed = False

    @property
    def path(self) -> str:
        """The upload path in words (the performance panel)."""
        return f"{self.upload}: {UPLOAD_PATHS[self.upload]}" + (f" ({self.notice})" if self.notice else "")

    def show(self, frame) -> bool:
        """Upload `frame` if it is newer than what the texture holds; True when uploaded."""
        if frame is None or frame.version == self.version and frame.label == self.label:
            return False
        pixels = frame.pixels
        if isinstance(pixels, np.ndarray):
            self.texture.upload(pixels)
            self.upload = "cpu"
        else:
            self._show_cuda(pixels)
        self.version = frame.version
        self.label = frame.label
        return True

    def _fall_back(self, reason: str) -> None:
        if self._interop is not None:
            try:
                self._interop.close()
            except Exception:  # (the reason is already being reported)
                pass
        self._interop, self._interop_failed, self.notice = None, True, reason

    def _show_cuda(self, pixels) -> None:
        """A CUDA frame: zero copy into the registered texture when interop works, else through
        the host; a failure is said once (notice) and the host path is kept from then on."""
        if not self.allow_interop:
            self.notice = "interop switched off"
        elif self._interop is None and not self._interop_failed:
            try:
                self._interop = make_copier(self.texture)
            except ImportError:
                self._fall_back("cuda-python is not installed: pip install cuda-python")
            except Exception as exc:
                self._fall_back(f"CUDA-GL interop unavailable: {first_line(exc, 120)}")
        if self._interop is not None and self.allow_interop:
            try:
                self._interop.copy(pixels)
                self.upload, self.notice = "cuda-gl", ""
                return
            except Exception as exc:  # e.g. the GL context is not on the CUDA device
                self._fall_back(f"CUDA-GL interop failed: {first_line(exc, 120)}")
        self.texture.upload(pixels.cpu().numpy())
        self.upload = "host"

    def close(self) -> None:
        if self._interop is not None:
            self._interop.close()
        self.texture.delete()


def make_copier(texture: Texture) -> CudaGLCopier:
    """The zero-copy path's copier (raises ImportError without cuda-python). Tests replace it."""
    return CudaGLCopier(texture)
