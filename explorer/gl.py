"""OpenGL helpers: a window-less EGL context, an offscreen framebuffer and the image texture.

Import this module only after PYOPENGL_PLATFORM is settled (explorer.app does that): PyOpenGL
binds to one platform (EGL headless, GLX under a window) on first import.
"""

from __future__ import annotations

import ctypes
from dataclasses import dataclass

import numpy as np
from OpenGL import GL

EGL_PLATFORM_SURFACELESS_MESA = 0x31DD
EGL_PLATFORM_DEVICE_EXT = 0x313F
EGL_EXTENSIONS = 0x3055
EGL_CUDA_DEVICE_NV = 0x323A


@dataclass
class EGLDevice:
    """One EGL device (EGL_EXT_device_enumeration): its handle, extensions, and the CUDA device it
    is when the driver says so (NVIDIA's EGL_NV_device_cuda)."""
    handle: object
    extensions: str
    cuda_index: int | None = None

    @property
    def software(self) -> bool:
        return "EGL_MESA_device_software" in self.extensions


def pick_device(devices: list[EGLDevice], cuda_index: int | None) -> EGLDevice | None:
    """The EGL device to draw on: the one that is CUDA device `cuda_index` (so CUDA-GL interop can
    map the texture), else the first hardware device, else the first; None when there is none."""
    if cuda_index is not None:
        for d in devices:
            if d.cuda_index == cuda_index:
                return d
    hardware = [d for d in devices if not d.software]
    return (hardware or devices or [None])[0]


def egl_devices(EGL) -> list[EGLDevice]:
    """Every EGL device the drivers expose ([] without EGL_EXT_device_enumeration)."""
    query = EGL.eglGetProcAddress(b"eglQueryDevicesEXT")
    if not query:
        return []
    query_devices = ctypes.CFUNCTYPE(ctypes.c_uint, ctypes.c_int, ctypes.POINTER(ctypes.c_void_p),
                                     ctypes.POINTER(ctypes.c_int))(query)
    count = ctypes.c_int()
    if not query_devices(0, None, ctypes.byref(count)) or count.value == 0:
        return []
    handles = (ctypes.c_void_p * count.value)()
    if not query_devices(count.value, handles, ctypes.byref(count)):
        return []
    query_string = EGL.eglGetProcAddress(b"eglQueryDeviceStringEXT")
    query_attrib = EGL.eglGetProcAddress(b"eglQueryDeviceAttribEXT")
    device_string = ctypes.CFUNCTYPE(ctypes.c_char_p, ctypes.c_void_p, ctypes.c_int)(query_string) if query_string else None
    device_attrib = (ctypes.CFUNCTYPE(ctypes.c_uint, ctypes.c_void_p, ctypes.c_int, ctypes.POINTER(ctypes.c_ssize_t))
                     (query_attrib) if query_attrib else None)
    out = []
    for h in handles[:count.value]:
        ext = (device_string(h, EGL_EXTENSIONS) or b"").decode(errors="replace") if device_string else ""
        cuda = None
        if device_attrib and "EGL_NV_device_cuda" in ext:
            value = ctypes.c_ssize_t()
            if device_attrib(h, EGL_CUDA_DEVICE_NV, ctypes.byref(value)):
                cuda = int(value.value)
        out.append(EGLDevice(h, ext, cuda))
    return out


class HeadlessContext:
    """An OpenGL 3.3 core context with no window system, on one of EGL's platforms:

    - 'device': an EGL device (EGL_EXT_platform_device) — on an NVIDIA machine with no display the
      GPU itself, the one that is the CUDA device frames come from (CUDA-GL interop needs that);
    - 'surfaceless': Mesa's surfaceless platform (llvmpipe on a machine without a GPU);
    - 'default': EGL's default display.

    prefer='device' (CUDA rendering) tries them in that order; 'surfaceless' (CPU rendering) tries
    surfaceless, device, default. `platform` says which one ran."""

    def __init__(self, prefer: str = "surfaceless", cuda_index: int | None = None):
        from OpenGL import EGL
        self._egl = EGL
        order = ["device", "surfaceless", "default"] if prefer == "device" else ["surfaceless", "device", "default"]
        failures = []
        for platform in order:
            try:
                self.display = self._display(platform, cuda_index)
            except RuntimeError as exc:
                failures.append(f"{platform}: {exc}")
                continue
            if EGL.eglInitialize(self.display, None, None):
                self.platform = platform
                break
            failures.append(f"{platform}: eglInitialize failed")
        else:
            raise RuntimeError("EGL could not be initialised (is Mesa's libegl, or NVIDIA's driver, installed?): "
                               + "; ".join(failures))
        config, count = EGL.EGLConfig(), EGL.EGLint()
        attrs = (EGL.EGLint * 5)(EGL.EGL_SURFACE_TYPE, EGL.EGL_PBUFFER_BIT, EGL.EGL_RENDERABLE_TYPE,
                                 EGL.EGL_OPENGL_BIT, EGL.EGL_NONE)
        if not EGL.eglChooseConfig(self.display, attrs, ctypes.pointer(config), 1, ctypes.pointer(count)) \
                or count.value == 0:
            raise RuntimeError(f"EGL ({self.platform}) has no OpenGL configuration")
        EGL.eglBindAPI(EGL.EGL_OPENGL_API)
        ctx_attrs = (EGL.EGLint * 7)(EGL.EGL_CONTEXT_MAJOR_VERSION, 3, EGL.EGL_CONTEXT_MINOR_VERSION, 3,
                                     EGL.EGL_CONTEXT_OPENGL_PROFILE_MASK,
                                     EGL.EGL_CONTEXT_OPENGL_CORE_PROFILE_BIT, EGL.EGL_NONE)
        self.context = EGL.eglCreateContext(self.display, config, EGL.EGL_NO_CONTEXT, ctx_attrs)
        if not self.context or not EGL.eglMakeCurrent(self.display, EGL.EGL_NO_SURFACE,
                                                       EGL.EGL_NO_SURFACE, self.context):
            raise RuntimeError(f"EGL ({self.platform}) could not create an OpenGL 3.3 core context")

    def _display(self, platform: str, cuda_index: int | None):
        EGL = self._egl
        if platform == "default":
            display = EGL.eglGetDisplay(EGL.EGL_DEFAULT_DISPLAY)
            if not display:
                raise RuntimeError("no default display")
            return display
        get_display = EGL.eglGetProcAddress(b"eglGetPlatformDisplayEXT")
        if not get_display:
            raise RuntimeError("no eglGetPlatformDisplayEXT")
        proto = ctypes.CFUNCTYPE(ctypes.c_void_p, ctypes.c_uint, ctypes.c_void_p, ctypes.c_void_p)
        if platform == "device":
            device = pick_device(egl_devices(EGL), cuda_index)
            if device is None:
                raise RuntimeError("no EGL devices")
            self.device = device
            display = proto(get_display)(EGL_PLATFORM_DEVICE_EXT, device.handle, None)
        else:
            display = proto(get_display)(EGL_PLATFORM_SURFACELESS_MESA, None, None)
        if not display:
            raise RuntimeError("no display")
        return ctypes.cast(display, EGL.EGLDisplay)

    def renderer_name(self) -> str:
        return GL.glGetString(GL.GL_RENDERER).decode()

    def close(self) -> None:
        EGL = self._egl
        EGL.eglMakeCurrent(self.display, EGL.EGL_NO_SURFACE, EGL.EGL_NO_SURFACE, EGL.EGL_NO_CONTEXT)
        EGL.eglDestroyContext(self.display, self.context)
        EGL.eglTerminate(self.display)


class Framebuffer:
    """An offscreen RGBA8 render target (headless windows are drawn into one)."""

    def __init__(self, width: int, height: int):
        self.width, self.height = width, height
        self.fbo = GL.glGenFramebuffers(1)
        self.rbo = GL.glGenRenderbuffers(1)
        GL.glBindRenderbuffer(GL.GL_RENDERBUFFER, self.rbo)
        GL.glRenderbufferStorage(GL.GL_RENDERBUFFER, GL.GL_RGBA8, width, height)
        GL.glBindFramebuffer(GL.GL_FRAMEBUFFER, self.fbo)
        GL.glFramebufferRenderbuffer(GL.GL_FRAMEBUFFER, GL.GL_COLOR_ATTACHMENT0, GL.GL_RENDERBUFFER, self.rbo)
        if GL.glCheckFramebufferStatus(GL.GL_FRAMEBUFFER) != GL.GL_FRAMEBUFFER_COMPLETE:
            raise RuntimeError("offscreen framebuffer is incomplete")

    def bind(self) -> None:
        GL.glBindFramebuffer(GL.GL_FRAMEBUFFER, self.fbo)
        GL.glViewport(0, 0, self.width, self.height)

    def read(self) -> np.ndarray:
        """The framebuffer as an HxWx4 uint8 array, top row first."""
        GL.glBindFramebuffer(GL.GL_FRAMEBUFFER, self.fbo)
        return read_pixels(self.width, self.height)[::-1]

    def delete(self) -> None:
        GL.glDeleteFramebuffers(1, [self.fbo])
        GL.glDeleteRenderbuffers(1, [self.rbo])


def read_pixels(width: int, height: int) -> np.ndarray:
    GL.glPixelStorei(GL.GL_PACK_ALIGNMENT, 1)
    data = GL.glReadPixels(0, 0, width, height, GL.GL_RGBA, GL.GL_UNSIGNED_BYTE)
    return np.frombuffer(data, np.uint8).reshape(height, width, 4).copy()


def read_default_framebuffer(width: int, height: int) -> np.ndarray:
    """The window's own framebuffer (after rendering, before swapping) as HxWx4, top row first."""
    GL.glBindFramebuffer(GL.GL_FRAMEBUFFER, 0)
    GL.glReadBuffer(GL.GL_BACK)
    return read_pixels(width, height)[::-1]


class Texture:
    """An RGBA8 texture whose row 0 is the image's top row (as imgui.image draws it)."""

    def __init__(self):
        self.id = int(GL.glGenTextures(1))
        self.width = self.height = 0
        self.storage = 0  # counts (re)allocations: glTexImage2D replaces what CUDA registered
        self.nearest = False
        GL.glBindTexture(GL.GL_TEXTURE_2D, self.id)
        for p, v in ((GL.GL_TEXTURE_WRAP_S, GL.GL_CLAMP_TO_EDGE), (GL.GL_TEXTURE_WRAP_T, GL.GL_CLAMP_TO_EDGE),
                     (GL.GL_TEXTURE_MIN_FILTER, GL.GL_LINEAR), (GL.GL_TEXTURE_MAG_FILTER, GL.GL_LINEAR)):
            GL.glTexParameteri(GL.GL_TEXTURE_2D, p, v)

    def ensure_size(self, width: int, height: int) -> bool:
        """(Re)allocate storage; True when the size changed."""
        if (width, height) == (self.width, self.height):
            return False
        GL.glBindTexture(GL.GL_TEXTURE_2D, self.id)
        GL.glTexImage2D(GL.GL_TEXTURE_2D, 0, GL.GL_RGBA8, width, height, 0, GL.GL_RGBA,
                        GL.GL_UNSIGNED_BYTE, None)
        self.width, self.height = width, height
        self.storage += 1  # new storage: a CUDA registration of the old one no longer applies
        return True

    def upload(self, pixels: np.ndarray) -> None:
        """One glTexSubImage2D of an HxWx4 uint8 array."""
        h, w = pixels.shape[:2]
        self.ensure_size(w, h)
        GL.glBindTexture(GL.GL_TEXTURE_2D, self.id)
        GL.glPixelStorei(GL.GL_UNPACK_ALIGNMENT, 1)
        GL.glTexSubImage2D(GL.GL_TEXTURE_2D, 0, 0, 0, w, h, GL.GL_RGBA, GL.GL_UNSIGNED_BYTE,
                           np.ascontiguousarray(pixels))

    def set_nearest(self, nearest: bool) -> None:
        if nearest != self.nearest:
            f = GL.GL_NEAREST if nearest else GL.GL_LINEAR
            GL.glBindTexture(GL.GL_TEXTURE_2D, self.id)
            GL.glTexParameteri(GL.GL_TEXTURE_2D, GL.GL_TEXTURE_MIN_FILTER, f)
            GL.glTexParameteri(GL.GL_TEXTURE_2D, GL.GL_TEXTURE_MAG_FILTER, f)
            self.nearest = nearest

    def read(self) -> np.ndarray:
        """Read the texture back (through a temporary framebuffer) as HxWx4 uint8."""
        previous = GL.glGetIntegerv(GL.GL_FRAMEBUFFER_BINDING)
        fbo = GL.glGenFramebuffers(1)
        GL.glBindFramebuffer(GL.GL_FRAMEBUFFER, fbo)
        GL.glFramebufferTexture2D(GL.GL_FRAMEBUFFER, GL.GL_COLOR_ATTACHMENT0, GL.GL_TEXTURE_2D, self.id, 0)
        try:
            if GL.glCheckFramebufferStatus(GL.GL_FRAMEBUFFER) != GL.GL_FRAMEBUFFER_COMPLETE:
                raise RuntimeError("cannot read the texture back")
            return read_pixels(self.width, self.height)
        finally:
            GL.glBindFramebuffer(GL.GL_FRAMEBUFFER, int(previous))
            GL.glDeleteFramebuffers(1, [fbo])

    def delete(self) -> None:
        GL.glDeleteTextures(1, [self.id])
