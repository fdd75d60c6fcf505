"""The detector seam: anything that turns one image's PNG bytes into `Scores`.

`classify` is called on the image checker's own thread (generation.safety.checker), one image at
a time; it may raise (the checker records the failure and counts the images as flagged).
"""

from __future__ import annotations

from typing import Protocol

from generation.safety.check import Scores


class Detector(Protocol):
    @property
    def name(self) -> str:
        """Which detector (and model) made the scores, recorded with each check."""

    def classify(self, png: bytes) -> Scores: ...
