"""OpenGL helpers: a window-less EGL context, an offscreen framebuffer and the image texture.

Import this module only after PYOPENGL_PLATFORM is settled (explorer.app does that): PyOpenGL
binds to one platform (EGL headless, GLX under a window) on first import.
"""

from __future__ import annotations

import ctypes

import numpy as np
from OpenGL import GL

EGL_PLATFORM_SURFACELESS_MESA = 0x31DD


class HeadlessContext:
    """An OpenGL 3.3 core context with no window system (EGL surfaceless; Mesa or NVIDIA)."""

    def __init__(self):
        from OpenGL import EGL
        self._egl = EGL
        get_display = EGL.eglGetProcAddress(b"eglGetPlatformDisplayEXT")
        display = None
        if get_display:
            proto = ctypes.CFUNCTYPE(ctypes.c_void_p, ctypes.c_uint, ctypes.c_void_p, ctypes.c_void_p)
            display = proto(get_display)(EGL_PLATFORM_SURFACELESS_MESA, None, None)
        self.display = ctypes.cast(display, EGL.EGLDisplay) if display else EGL.eglGetDisplay(EGL.EGL_DEFAULT_DISPLAY)
        if not EGL.eglInitialize(self.display, None, None):
            raise RuntimeError("EGL could not be initialised (is Mesa's libegl installed?)")
        config, count = EGL.EGLConfig(), EGL.EGLint()
        attrs = (EGL.EGLint * 5)(EGL.EGL_SURFACE_TYPE, EGL.EGL_PBUFFER_BIT, EGL.EGL_RENDERABLE_TYPE,
                                 EGL.EGL_OPENGL_BIT, EGL.EGL_NONE)
        if not EGL.eglChooseConfig(self.display, attrs, ctypes.pointer(config), 1, ctypes.pointer(count)) \
                or count.value == 0:
            raise RuntimeError("EGL has no OpenGL configuration")
        EGL.eglBindAPI(EGL.EGL_OPENGL_API)
        ctx_attrs = (EGL.EGLint * 7)(EGL.EGL_CONTEXT_MAJOR_VERSION, 3, EGL.EGL_CONTEXT_MINOR_VERSION, 3,
                                     EGL.EGL_CONTEXT_OPENGL_PROFILE_MASK,
                                     EGL.EGL_CONTEXT_OPENGL_CORE_PROFILE_BIT, EGL.EGL_NONE)
        self.context = EGL.eglCreateContext(self.display, config, EGL.EGL_NO_CONTEXT, ctx_attrs)
        if not self.context or not EGL.eglMakeCurrent(self.display, EGL.EGL_NO_SURFACE,
                                                       EGL.EGL_NO_SURFACE, self.context):
            raise RuntimeError("EGL could not create an OpenGL 3.3 core context")

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
