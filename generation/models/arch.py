"""The Stable Diffusion families this project loads and runs. Torch-free."""

from __future__ import annotations

import enum


class Arch(enum.StrEnum):
    """A model's family: decides its config skeleton, its pipeline class and its preview colours."""

    SD1 = "sd1"
    SD2 = "sd2"
    SDXL = "sdxl"

    @property
    def label(self) -> str:
        """The family's name for people (in error messages)."""
        return _LABELS[self]


_LABELS = {Arch.SD1: "Stable Diffusion 1.x", Arch.SD2: "Stable Diffusion 2.x", Arch.SDXL: "SDXL"}
