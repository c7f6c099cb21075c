"""stylegan-explorer: the real-time OpenGL explorer (widgets edit one state object; a renderer
thread turns (model, state) into frames; a display puts them into a GL texture)."""
