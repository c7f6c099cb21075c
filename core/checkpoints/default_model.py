"""The bundled default model (assets/emoji64.pt, see assets/README.md): what `stylegan-explorer`
and `stylegan-generate` open when no --pkl is given."""

from __future__ import annotations

import sys
from pathlib import Path

from core.errors import CheckpointError

NAME = "emoji64.pt"
_CANDIDATES = (
    Path(__file__).resolve().parents[2] / "assets",  # a checkout or an editable install
    Path(sys.prefix) / "share" / "stylegan-toolkit" / "assets",  # a wheel install (data-files)
)


def default_model_path() -> Path:
    for folder in _CANDIDATES:
        if (folder / NAME).is_file():
            return folder / NAME
    raise CheckpointError(f"the bundled default model ({NAME}) is missing from this install; give --pkl PATH")
