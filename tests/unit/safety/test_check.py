"""The image check's decision (generation.safety): which images are flagged, the safe defaults,
the job-meta seam, the check off the event loop with a time limit, and the placeholder picture."""

from __future__ import annotations

import asyncio
import dataclasses
import io
import threading

import pytest
from PIL import Image

from generation.safety.check import (
    META_KEY,
    ImageCheck,
    SafetyMode,
    Scores,
    decide,
    meta_for,
    mode_of,
)
from generation.safety.checker import ImageChecker
from generation.safety.placeholder import BACKGROUND, picture_with_placeholders, placeholder
from generation.settings import SafetySettings
from tests.helpers.detectors import FLAGGED, HARMLESS, BrokenDetector, ColourDetector, StuckDetector, png

pytestmark = pytest.mark.timeout(30)

SETTINGS = SafetySettings()
RED, BLUE = (220, 40, 40), (40, 70, 220)


def test_an_image_is_flagged_by_a_listed_label_at_the_threshold():
    scores = [
        Scores({FLAGGED: 0.5}),  # at the threshold: flagged
        Scores({FLAGGED: 0.49, HARMLESS: 0.99}),  # below it, and a label that flags nothing
        Scores({}),
        Scores({"BUTTOCKS_EXPOSED": 0.8}),
    ]
    check = decide(SafetyMode.BLOCK, scores, threshold=0.5, labels=SETTINGS.labels, detector="d")
    assert check.flagged == (0, 3)
    assert check.blocked_indexes == {0, 3} and check.blocked(3) and not check.blocked(1)
    assert check.action is SafetyMode.BLOCK and not check.failed
    spoiler = dataclasses.replace(check, mode=SafetyMode.SPOILER)
    assert spoiler.action is SafetyMode.SPOILER and spoiler.blocked_indexes == frozenset()
    clean = decide(SafetyMode.BLOCK, scores[1:3], threshold=0.5, labels=SETTINGS.labels, detector="d")
    assert clean.flagged == () and clean.action is SafetyMode.OFF


def test_a_check_round_trips_through_json():
    check = decide(
        SafetyMode.SPOILER,
        [Scores({FLAGGED: 0.912345}), Scores({HARMLESS: 0.3})],
        threshold=0.6,
        labels=("FEMALE_BREAST_EXPOSED",),
        detector="nudenet 3.4.2 320n",
        seconds=0.07,
    )
    assert check.images[0].scores == {FLAGGED: 0.912}  # rounded: the column stays small
    assert ImageCheck.from_dict(check.to_dict()) == check
    failed = dataclasses.replace(check, error="RuntimeError: boom")
    assert ImageCheck.from_dict(failed.to_dict()).error == "RuntimeError: boom"


def test_the_mode_travels_in_the_jobs_meta():
    assert meta_for("block") == {META_KEY: "block"} and mode_of(meta_for("block")) is SafetyMode.BLOCK
    assert mode_of(meta_for(SafetyMode.SPOILER)) is SafetyMode.SPOILER
    assert meta_for("off") == {}  # most jobs' meta keeps its shape
    assert mode_of({}) is SafetyMode.OFF and mode_of(None) is SafetyMode.OFF  # the CLI's, older jobs
    assert mode_of({META_KEY: "quarantine"}) is SafetyMode.BLOCK  # a mode this version lacks: the safe side


async def test_the_checker_runs_the_detector_on_its_own_thread():
    detector = ColourDetector()
    checker = ImageChecker(SETTINGS, detector)
    try:
        check = await checker.check(SafetyMode.BLOCK, [png(BLUE), png(RED), png(BLUE)])
    finally:
        checker.close()
    assert check.flagged == (1,) and check.detector == "colour test detector" and check.seconds > 0
    assert check.images[1].scores == {FLAGGED: 0.91, HARMLESS: 0.4}
    (thread,) = detector.threads
    assert thread.startswith("image-check") and thread != threading.current_thread().name


async def test_a_failing_detector_flags_every_image_and_says_why():
    checker = ImageChecker(SETTINGS, BrokenDetector())
    try:
        check = await checker.check(SafetyMode.BLOCK, [png(BLUE), png(BLUE)])
    finally:
        checker.close()
    assert check.failed and "unreadable" in check.error
    assert check.flagged == (0, 1) and check.blocked_indexes == {0, 1}


async def test_a_stuck_detector_times_out_flagged_and_the_loop_keeps_going():
    stuck = StuckDetector()
    checker = ImageChecker(dataclasses.replace(SETTINGS, timeout=0.3), stuck)
    ticks = 0

    async def tick():
        nonlocal ticks
        while True:
            await asyncio.sleep(0.02)
            ticks += 1

    ticker = asyncio.create_task(tick())
    try:
        check = await checker.check(SafetyMode.SPOILER, [png(BLUE)])
    finally:
        stuck.release.set()
        ticker.cancel()
        checker.close()
    assert check.failed and check.error == "timed out" and check.flagged == (0,)
    assert check.action is SafetyMode.SPOILER
    assert ticks >= 5  # the event loop ran while the detector was stuck


async def test_after_a_timeout_the_next_check_is_not_stuck_behind_it():
    class StuckOnce(ColourDetector):
        def __init__(self) -> None:
            super().__init__()
            self.release = threading.Event()

        def classify(self, png: bytes) -> Scores:
            if self.calls == 0:
                self.calls += 1
                self.release.wait(30)
            return super().classify(png)

    detector = StuckOnce()
    checker = ImageChecker(dataclasses.replace(SETTINGS, timeout=0.3), detector)
    try:
        first = await checker.check(SafetyMode.BLOCK, [png(BLUE)])
        second = await checker.check(SafetyMode.BLOCK, [png(RED), png(BLUE)])
    finally:
        detector.release.set()
        checker.close()
    assert first.failed and first.error == "timed out"
    assert not second.failed and second.flagged == (0,)  # a fresh thread: classified in time


def test_blocked_images_are_replaced_in_the_grid_and_the_others_kept():
    picture = picture_with_placeholders([png(RED), png(BLUE), png(RED), png(BLUE)], {0, 2})
    with Image.open(io.BytesIO(picture)) as grid:
        grid = grid.convert("RGB")
        assert grid.size == (128, 128)  # a 2x2 grid of 64x64 images, as the job's own
        cells = [grid.crop((x, y, x + 64, y + 64)) for y in (0, 64) for x in (0, 64)]
    assert cells[1].getpixel((5, 5)) == BLUE and cells[3].getpixel((60, 60)) == BLUE
    sign = placeholder(64, 64)
    for blocked in (cells[0], cells[2]):
        assert blocked.tobytes() == sign.tobytes()
        assert RED not in {blocked.getpixel((x, y)) for x in range(0, 64, 4) for y in range(0, 64, 4)}
    with Image.open(io.BytesIO(picture_with_placeholders([png(RED, (96, 64))], {0}))) as single:
        assert single.size == (96, 64) and BACKGROUND in {c for _, c in single.convert("RGB").getcolors()}
        assert RED not in {c for _, c in single.convert("RGB").getcolors()}
