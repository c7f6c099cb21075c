"""The display: puts rendered frames into the GL texture imgui draws.

CPU frames (numpy RGBA8) go in with one glTexSubImage2D. CUDA frames (an RGBA8 tensor on the GPU)
are copied device-to-device into the texture through CUDA-GL interop (cuda-python's runtime
bindings): the texture is registered once per size, then mapped, copied into and unmapped on the
GL thread each frame — no trip through host memory. Where interop is unavailable the frame is
copied through the host, and `path` says so.
"""

from __future__ import annotations

import numpy as np

from .gl import Texture


class CudaGLCopier:
    """Device-to-device copies from CUDA tensors into one registered GL texture."""

    def __init__(self, texture: Texture):
        from cuda.bindings import runtime as cudart  # optional dependency: cuda-python
        self.cudart = cudart
        self.texture = texture
        self.resource = None
        self.size = (0, 0)

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
        self.size = (self.texture.width, self.texture.height)

    def copy(self, pixels) -> None:
        """pixels: contiguous HxWx4 uint8 CUDA tensor, complete (its stream synchronised)."""
        h, w = int(pixels.shape[0]), int(pixels.shape[1])
        self.texture.ensure_size(w, h)
        if self.size != (w, h) or self.resource is None:
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


class FrameDisplay:
    def __init__(self):
        self.texture = Texture()
        self.version = -1  # version of the frame in the texture
        self.label = ""
        self.path = "glTexSubImage2D (CPU frame)"
        self._interop: CudaGLCopier | None = None
        self._interop_failed = False

    def show(self, frame) -> bool:
        """Upload `frame` if it is newer than what the texture holds; True when uploaded."""
        if frame is None or frame.version == self.version and frame.label == self.label:
            return False
        pixels = frame.pixels
        if isinstance(pixels, np.ndarray):
            self.texture.upload(pixels)
            self.path = "glTexSubImage2D (CPU frame)"
        else:
            self._show_cuda(pixels)
        self.version = frame.version
        self.label = frame.label
        return True

    def _show_cuda(self, pixels) -> None:
        if self._interop is None and not self._interop_failed:
            try:
                self._interop = CudaGLCopier(self.texture)
            except ImportError:
                self._interop_failed = True
                self.path = "host copy (install cuda-python for CUDA-GL interop)"
        if self._interop is not None:
            try:
                self._interop.copy(pixels)
                self.path = "CUDA-GL interop (device to device)"
                return
            except RuntimeError as exc:
                self._interop.close()
                self._interop, self._interop_failed = None, True
                self.path = f"host copy ({exc})"
        self.texture.upload(pixels.cpu().numpy())

    def close(self) -> None:
        if self._interop is not None:
            self._interop.close()
        self.texture.delete()
