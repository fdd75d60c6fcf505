"""Estimates: how much work a request is, how fast the workers go, when waiting jobs start. Pure.

Work is counted in "512x512 image steps" (denoising steps plus decode); the measured seconds per
unit of recent pipeline calls turn work into seconds. Several workers serve the queue in parallel:
a waiting job starts when the worker that frees up first is done with the work ahead of it.
"""

from __future__ import annotations

import heapq
import math
from collections import deque
from collections.abc import Iterable, Sequence
from typing import Protocol

from generation.requests.request import GenerationRequest, Mode

REFERENCE_PIXELS = 512 * 512
DECODE_UNITS = 2.0  # one image's text encode + VAE decode, in step units


class Waiting(Protocol):
    """A waiting job as estimates see it (a fairqueue.QueueItem)."""

    job_id: str
    units: float


def image_count(request: GenerationRequest) -> int:
    return 1 if request.mode is Mode.UPSCALE else max(1, request.count)


def estimate_units(request: GenerationRequest) -> float:
    """Work of a request in "512x512 image steps" (denoising steps plus decode), for ETAs and quotas."""
    pixels = request.width * request.height / REFERENCE_PIXELS
    images = image_count(request)
    if request.mode is Mode.UPSCALE:
        factor = max(1.0, request.upscale_factor) ** 2
        steps = max(1, math.ceil(request.steps * request.strength))
        return (steps + DECODE_UNITS) * pixels * factor
    if request.mode in (Mode.INPAINT, Mode.OUTPAINT):
        return edit_units(request) * images
    if request.mode is Mode.IMG2IMG:
        steps = max(1, math.ceil(request.steps * request.strength))
    else:
        steps = request.steps
    units = (steps + DECODE_UNITS) * pixels
    if request.hires is not None:
        scale = request.hires.scale**2
        hires_steps = max(1, math.ceil((request.hires.steps or request.steps) * request.hires.strength))
        units += (hires_steps + DECODE_UNITS) * pixels * scale
    return units * images


def edit_units(request: GenerationRequest) -> float:
    """One image of an inpaint or outpaint: an img2img pass at the request's strength over the
    area it generates. That is the whole picture (an outpaint's whole canvas), except for an
    "only masked" inpaint, which generates the mask's box scaled up to about the model's native
    area: counted as the reference 512x512 (SD 1.x's), as the queue knows neither box nor model."""
    steps = max(1, math.ceil(request.steps * request.strength))
    only_masked = request.mode is Mode.INPAINT and request.edit is not None and request.edit.only_masked
    pixels = 1.0 if only_masked else request.width * request.height / REFERENCE_PIXELS
    return (steps + DECODE_UNITS) * pixels


def shares_calls(request: GenerationRequest) -> bool:
    """Whether jobs of equal `batch_key()` can share a pipeline call: txt2img, and the edits the
    engine runs in one call when their keys match (an outpaint, a whole-picture inpaint: one size
    to generate). An "only masked" inpaint generates its own box, so it runs alone anyway."""
    if request.mode is Mode.TXT2IMG or request.mode is Mode.OUTPAINT:
        return True
    return request.mode is Mode.INPAINT and not (request.edit is not None and request.edit.only_masked)


class RateEstimator:
    """Seconds per work unit over the last `window` measured batches (a plain mean of rates,
    weighted by work), with a default until something was measured."""

    def __init__(self, window: int = 20, default: float = 0.1) -> None:
        self.window = max(1, window)
        self.default = default
        self._samples: deque[tuple[float, float]] = deque(maxlen=self.window)

    def add(self, seconds: float, units: float) -> None:
        if seconds > 0 and units > 0:
            self._samples.append((seconds, units))

    @property
    def measured(self) -> bool:
        return bool(self._samples)

    @property
    def rate(self) -> float:
        if not self._samples:
            return self.default
        seconds = sum(s for s, _ in self._samples)
        units = sum(u for _, u in self._samples)
        return seconds / units

    def seconds(self, units: float) -> float:
        return units * self.rate


def etas(order: Iterable[Waiting], rate: float, busy_for: float | Sequence[float] = 0.0) -> dict[str, float]:
    """Seconds until each waiting job starts. `busy_for` is how long each worker is still busy (a
    number: one worker). Jobs start in order, each on the worker that frees up first, so with N
    workers a job waits for about the work ahead of it divided over them, plus the first free-up."""
    free_at = [float(busy_for)] if isinstance(busy_for, int | float) else [float(b) for b in busy_for]
    if not free_at:
        free_at = [0.0]
    heapq.heapify(free_at)
    result = {}
    for item in order:
        start = heapq.heappop(free_at)
        result[item.job_id] = start
        heapq.heappush(free_at, start + item.units * rate)
    return result
