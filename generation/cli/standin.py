"""The tiny random model standing in for a missing default model.

A fresh clone without the committed default model (or a config naming one not installed) still
runs end to end, on a model that draws noise: the command line and `python -m bot demo` both
take it from here.
"""

from __future__ import annotations

from pathlib import Path

from generation.settings import Settings

TINY_MODEL_NAME = "tiny"  # the stand-in's name, which the images it makes record

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
        # torch only now, when the stand-in is needed: the demo bot imports this module
        from generation.models.tiny import save_tiny_model

        save_tiny_model(folder)
    return folder
