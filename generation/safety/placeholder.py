"""The picture posted in place of a blocked image: a plain hatched card with a "hidden" sign and no
words (the message says why, in the user's language of the front end).

`picture_with_placeholders` rebuilds a job's grid with each blocked image replaced, so the images
that passed are still shown beside the ones that did not.
"""

from __future__ import annotations

import io
from collections.abc import Collection, Sequence

from PIL import Image, ImageDraw

from generation.images.grid import make_grid

BACKGROUND = (54, 57, 63)  # Discord's dark grey: reads as "nothing here" in both themes
HATCH = (66, 70, 77)
SIGN = (150, 154, 160)


def placeholder(width: int, height: int) -> Image.Image:
    """A `width` x `height` card: diagonal hatching and a circle struck through."""
    image = Image.new("RGB", (width, height), BACKGROUND)
    draw = ImageDraw.Draw(image)
    step = max(8, min(width, height) // 12)
    for x in range(-height, width, step):
        draw.line([(x, height), (x + height, 0)], fill=HATCH, width=max(1, step // 4))
    radius = min(width, height) // 5
    cx, cy = width // 2, height // 2
    line = max(2, radius // 5)
    draw.ellipse(
        [cx - radius, cy - radius, cx + radius, cy + radius], fill=BACKGROUND, outline=SIGN, width=line
    )
    offset = int(radius * 0.7071)  # the diagonal, corner to corner of the circle
    draw.line([(cx - offset, cy + offset), (cx + offset, cy - offset)], fill=SIGN, width=line)
    return image


def picture_with_placeholders(pngs: Sequence[bytes], blocked: Collection[int]) -> bytes:
    """The job's picture (its grid, or its one image) with each blocked image replaced, as PNG."""
    images = []
    for i, data in enumerate(pngs):
        with Image.open(io.BytesIO(data)) as image:
            images.append(placeholder(*image.size) if i in blocked else image.convert("RGB"))
    out = io.BytesIO()
    make_grid(images).save(out, "PNG")
    return out.getvalue()
