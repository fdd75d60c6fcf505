"""Detectors for tests, behind the same `Detector` protocol as NudeNet (generation.safety.detector).

`ColourDetector` flags red pictures: the fake runner paints an image the colour its prompt names,
so "a red circle" is flagged and "a blue circle" is not, with no model at all. `BrokenDetector`
raises, `StuckDetector` takes longer than any test's time limit. Each records the threads it ran on.
"""

from __future__ import annotations

import io
import threading

from PIL import Image, ImageStat

from generation.safety.check import Scores

FLAGGED = "FEMALE_BREAST_EXPOSED"  # one of the config's flagged labels
HARMLESS = "FACE_FEMALE"  # found, but flags nothing


class ColourDetector:
    name = "colour test detector"

    def __init__(self) -> None:
        self.threads: set[str] = set()
        self.calls = 0

    def classify(self, png: bytes) -> Scores:
        self.threads.add(threading.current_thread().name)
        self.calls += 1
        with Image.open(io.BytesIO(png)) as image:
            r, g, b = ImageStat.Stat(image.convert("RGB")).mean
        if r > 1.5 * max(g, b):
            return Scores({FLAGGED: 0.91, HARMLESS: 0.4})
        return Scores({HARMLESS: 0.4})


class BrokenDetector:
    name = "broken test detector"

    def __init__(self) -> None:
        self.calls = 0

    def classify(self, png: bytes) -> Scores:
        self.calls += 1
        raise RuntimeError("the model file is unreadable")


class StuckDetector:
    name = "stuck test detector"

    def __init__(self) -> None:
        self.release = threading.Event()

    def classify(self, png: bytes) -> Scores:
        self.release.wait(30)
        return Scores()


def png(colour: tuple[int, int, int], size: tuple[int, int] = (64, 64)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, "PNG")
    return out.getvalue()
