"""stylegan-explorer: the real-time OpenGL explorer (see issue #3; not yet built)."""
