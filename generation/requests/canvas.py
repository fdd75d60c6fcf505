"""The outpaint canvas: how large Zoom Out and Pan make it, and where the source sits in it.

Zoom Out by `zoom` makes a canvas `zoom` times the source's size with the source centred; Pan
adds half a side on one side (Pan left: 1.5x the width, the source on the right). Sides are
rounded to multiples of 8.

The size rule: the canvas keeps the source at full resolution while it fits the server's
`limits.max_pixels` (and `limits.max_size` per side). A canvas past them is scaled down as a
whole, source included, to the largest size of its shape that fits, so an outpaint never asks
for more than a text-to-image may. (Midjourney always keeps the side length instead; here a
small picture grows, and only a picture at the limit shrinks its source to make room.)

Torch-free: the follow-ups use it to size the request, the engine to place the source.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from generation.requests.request import Pan
from generation.requests.sizes import largest_fitting_size, round_to_8

if TYPE_CHECKING:
    from generation.settings import LimitSettings

MAX_ZOOM = 2.0
PAN_GROWTH = 1.5  # Pan adds half a side


@dataclass(frozen=True)
class Placement:
    """Where the source goes on the canvas: its box (left, top, right, bottom), in canvas pixels."""

    canvas: tuple[int, int]
    box: tuple[int, int, int, int]

    @property
    def size(self) -> tuple[int, int]:
        """The source's size on the canvas (its own size unless the canvas was scaled down)."""
        return self.box[2] - self.box[0], self.box[3] - self.box[1]


def grown_size(width: int, height: int, zoom: float = 1.0, pan: Pan | str | None = None) -> tuple[int, int]:
    """The canvas before the size rule: `zoom` times the source, or half a side more for a pan."""
    if pan is not None:
        pan = Pan(pan)
        if pan in (Pan.LEFT, Pan.RIGHT):
            return round_to_8(width * PAN_GROWTH), height
        return width, round_to_8(height * PAN_GROWTH)
    return round_to_8(width * zoom), round_to_8(height * zoom)


def canvas_size(
    width: int, height: int, limits: LimitSettings, *, zoom: float = 1.0, pan: Pan | str | None = None
) -> tuple[int, int]:
    """The outpaint's canvas for a `width` x `height` source, after the size rule (see the module)."""
    w, h = grown_size(width, height, zoom, pan)
    if w * h <= limits.max_pixels and max(w, h) <= limits.max_size:
        return w, h
    return largest_fitting_size(w, h, limits.max_pixels, limits)


def place_source(
    source: tuple[int, int], canvas: tuple[int, int], *, zoom: float = 1.0, pan: Pan | str | None = None
) -> Placement:
    """Where a `source`-sized image goes on `canvas` for this zoom or pan: centred for a zoom, on the
    side away from the pan. The source keeps its size unless the canvas was scaled down from
    `grown_size`, and then shrinks by the same factor."""
    sw, sh = source
    cw, ch = canvas
    gw, gh = grown_size(sw, sh, zoom, pan)
    bw = min(cw, sw if (gw, gh) == (cw, ch) else max(1, round(sw * cw / gw)))
    bh = min(ch, sh if (gw, gh) == (cw, ch) else max(1, round(sh * ch / gh)))
    left, top = (cw - bw) // 2, (ch - bh) // 2
    if pan is not None:
        pan = Pan(pan)
        left = {Pan.LEFT: cw - bw, Pan.RIGHT: 0}.get(pan, left)
        top = {Pan.UP: ch - bh, Pan.DOWN: 0}.get(pan, top)
    return Placement(canvas, (left, top, left + bw, top + bh))
