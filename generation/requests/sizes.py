"""Image sizes: every rounding and fitting rule, once.

Stable Diffusion works on 8x downscaled latents, so every size it generates is a multiple of 8.
A size is rounded to the nearest multiple (a requested size, a scaled one), or floored where it
must not grow past a limit (a size that fits, an aspect ratio within the default area).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from generation.requests.request import GenerationRequest, Mode

if TYPE_CHECKING:
    from generation.settings import LimitSettings, Settings

MULTIPLE = 8


def round_to_8(x: float) -> int:
    """The nearest multiple of 8 (halves round up), at least 8."""
    return max(MULTIPLE, int(x / MULTIPLE + 0.5) * MULTIPLE)


def floor_to_8(x: float) -> int:
    """The largest multiple of 8 not above `x`, at least 8."""
    return max(MULTIPLE, int(x) // MULTIPLE * MULTIPLE)


def scaled_size(width: int, height: int, scale: float) -> tuple[int, int]:
    """`(width, height) * scale`, each side rounded to a multiple of 8."""
    return round_to_8(width * scale), round_to_8(height * scale)


def output_size(request: GenerationRequest) -> tuple[int, int]:
    """The size of the images a request makes: an upscale or a hires fix scales its size."""
    scale = 1.0
    if request.mode is Mode.UPSCALE:
        scale = request.upscale_factor
    elif request.hires is not None:
        scale = request.hires.scale
    if scale == 1.0:
        return request.width, request.height
    return scaled_size(request.width, request.height, scale)


def ratio_size(
    ratio_w: float, ratio_h: float, area: int, *, width: int | None = None, height: int | None = None
) -> tuple[int, int]:
    """A size with the aspect ratio `ratio_w:ratio_h`.

    Given one side, the other follows from the ratio (rounded); given neither, the size has about
    `area` pixels, each side floored so the size never exceeds that area."""
    if width is not None:
        return width, round_to_8(width * ratio_h / ratio_w)
    if height is not None:
        return round_to_8(height * ratio_w / ratio_h), height
    return floor_to_8(math.sqrt(area * ratio_w / ratio_h)), floor_to_8(math.sqrt(area * ratio_h / ratio_w))


def largest_fitting_size(width: int, height: int, max_pixels: int, limits: LimitSettings) -> tuple[int, int]:
    """The largest size of about the same shape within `max_pixels` and the longest-side limit."""
    scale = min(math.sqrt(max_pixels / (width * height)), limits.max_size / width, limits.max_size / height)
    w, h = floor_to_8(width * scale), floor_to_8(height * scale)
    while w * h > max_pixels and w > MULTIPLE and h > MULTIPLE:  # flooring makes this rare
        w, h = w - MULTIPLE, h - MULTIPLE
    return w, h


def square_side(max_pixels: int) -> int:
    """The side of the largest square (a multiple of 8) within `max_pixels`."""
    return floor_to_8(math.sqrt(max_pixels))


def largest_scale(width: int, height: int, max_pixels: int) -> float:
    """The largest scale, in tenths, that keeps `width` x `height` within `max_pixels`."""
    return math.floor(math.sqrt(max_pixels / (width * height)) * 10) / 10


def fit_size(width: int, height: int, settings: Settings) -> tuple[int, int]:
    """A generation size with the image's shape and about the default area, within the limits."""
    limits, defaults = settings.limits, settings.defaults
    area = defaults.width * defaults.height
    w, h = scaled_size(width, height, math.sqrt(area / max(1, width * height)))
    w = min(max(w, limits.min_size), limits.max_size)
    h = min(max(h, limits.min_size), limits.max_size)
    while w * h > limits.max_pixels and w > limits.min_size and h > limits.min_size:
        w, h = max(limits.min_size, w - MULTIPLE), max(limits.min_size, h - MULTIPLE)
    return w, h
