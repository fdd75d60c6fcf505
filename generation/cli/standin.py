"""The tiny random model standing in for a missing default model.

A fresh clone without the committed default model (or a config naming one not installed) still
runs end to end, on a model that draws noise: the command line and `python -m bot demo` both
take it from here.
"""

from __future__ import annotations

from pathlib import Path

from generation.models.tiny import TINY_MODEL_NAME, save_tiny_model
from generation.settings import Settings

__all__ = ["TINY_MODEL_NAME", "tiny_stand_in"]


def tiny_stand_in(name: str, settings: Settings, root: Path) -> Path | None:
    """The tiny model's folder under `root` (written there the first time) when it may stand in
    for `name`, a model that is not installed; None when it may not.

    It stands in for the configured default model, and for itself: images it made name it as
    their model, so an upscale or a variation of them finds it again."""
    if name not in (settings.models.default, TINY_MODEL_NAME):
        return None
    folder = root / TINY_MODEL_NAME
    if not (folder / "model_index.json").exists():
        save_tiny_model(folder)
    return folder
