"""Grids: a job's images in one picture (2x2 for three or four, a row for two)."""

from __future__ import annotations

import math
from collections.abc import Sequence

from PIL import Image


def make_grid(images: Sequence[Image.Image]) -> Image.Image:
    """One image as is (a copy), two in a row, three or four in a 2x2 grid (more: near-square).

    The images must all have the same size; empty cells are black."""
    if not images:
        raise ValueError("make_grid needs at least one image")
    size = images[0].size
    if any(image.size != size for image in images):
        sizes = ", ".join(f"{w}x{h}" for w, h in (image.size for image in images))
        raise ValueError(f"make_grid needs images of one size, got {sizes}")
    if len(images) == 1:
        return images[0].convert("RGB") if images[0].mode != "RGB" else images[0].copy()
    if len(images) == 2:
        cols, rows = 2, 1
    elif len(images) <= 4:
        cols, rows = 2, 2
    else:
        cols = math.ceil(math.sqrt(len(images)))
        rows = math.ceil(len(images) / cols)
    width, height = size
    grid = Image.new("RGB", (cols * width, rows * height), (0, 0, 0))
    for i, image in enumerate(images):
        grid.paste(image.convert("RGB"), ((i % cols) * width, (i // cols) * height))
    return grid
