"""Masks for repainting part of an image: white (255) repaints, black (0) keeps. Torch-free.

A mask is a PIL "L" image of its picture's size. Front ends make one from grid cells
(`grid_mask`, Vary (Region)'s numbered grid) or from an upload (`as_mask`); the pipelines feather
it (`feather`), find the box to generate for "only masked" (`mask_box`), grow it to whole latent
cells (`latent_mask`), and fill an outpaint's new area from the picture's edges (`fill_from_edges`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np
from PIL import Image, ImageFilter, ImageOps

__all__ = [
    "as_mask",
    "cell_boxes",
    "feather",
    "feather_reach",
    "fill_from_edges",
    "grid_mask",
    "latent_mask",
    "mask_box",
]

Box = tuple[int, int, int, int]  # left, top, right, bottom


def cell_boxes(width: int, height: int, grid: int = 4) -> list[Box]:
    """The boxes of a `grid` x `grid` division of the picture, cell 1 at the top left, row by row
    (cell 6 of a 4x4 grid is the second row's second cell)."""
    xs = [round(i * width / grid) for i in range(grid + 1)]
    ys = [round(i * height / grid) for i in range(grid + 1)]
    return [(xs[c], ys[r], xs[c + 1], ys[r + 1]) for r in range(grid) for c in range(grid)]


def grid_mask(width: int, height: int, cells: Iterable[int], grid: int = 4, feather: int = 0) -> Image.Image:
    """The mask of the numbered cells (1-based, as `cell_boxes` numbers them), feathered by
    `feather` pixels (0: a hard edge; a request's `mask_blur` feathers it when it runs)."""
    boxes = cell_boxes(width, height, grid)
    mask = Image.new("L", (width, height), 0)
    for cell in cells:
        if not 1 <= cell <= len(boxes):
            raise ValueError(f"cell {cell} is not in a {grid}x{grid} grid (1 to {len(boxes)})")
        mask.paste(255, boxes[cell - 1])
    return _blurred(mask, feather)


def as_mask(image: Image.Image, size: tuple[int, int] | None = None) -> Image.Image:
    """Any image as a hard mask (0 or 255): its brightness thresholded at half, transparency
    counting as black (a stroke painted on a transparent layer repaints where it was painted).

    With `size`, the mask is fitted the way a source image is (`pipelines.sources.fit_image`:
    cover, then centre-crop), so it stays on the same pixels of the picture."""
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        flat = Image.new("RGB", rgba.size, (0, 0, 0))
        flat.paste(rgba, mask=rgba.getchannel("A"))
        image = flat
    grey = ImageOps.exif_transpose(image).convert("L")
    if size is not None and grey.size != tuple(size):
        grey = ImageOps.fit(grey, tuple(size), Image.Resampling.BILINEAR)
    return grey.point(lambda v: 255 if v >= 128 else 0)


def feather(mask: Image.Image, blur: int) -> Image.Image:
    """The mask with a soft edge: a Gaussian blur of `blur` pixels (the web UI's "Mask blur")."""
    return _blurred(mask.convert("L"), blur)


def feather_reach(blur: int) -> int:
    """How far a `blur`-pixel feather reaches past the mask's edge (either way): pixels farther
    out are kept exactly, pixels farther in are repainted fully (PIL's blur, measured)."""
    return math.ceil(2.5 * blur) + 1 if blur > 0 else 0


def _blurred(mask: Image.Image, radius: float) -> Image.Image:
    return mask.filter(ImageFilter.GaussianBlur(radius)) if radius > 0 else mask


def mask_box(mask: Image.Image, padding: int, multiple: int = 8) -> Box | None:
    """The box around the mask's repainted pixels, `padding` pixels wider on each side, grown to
    sides that are multiples of `multiple` where the picture allows, within the picture.
    None when nothing is repainted."""
    bbox = mask.getbbox()  # nonzero pixels
    if bbox is None:
        return None
    width, height = mask.size
    left, top, right, bottom = bbox
    left, top = max(0, left - padding), max(0, top - padding)
    right, bottom = min(width, right + padding), min(height, bottom + padding)
    left, right = _grow_to_multiple(left, right, width, multiple)
    top, bottom = _grow_to_multiple(top, bottom, height, multiple)
    return left, top, right, bottom


def _grow_to_multiple(start: int, end: int, limit: int, multiple: int) -> tuple[int, int]:
    want = min(limit, -(-(end - start) // multiple) * multiple)
    extra = want - (end - start)
    start = max(0, start - extra // 2)
    end = start + want
    if end > limit:
        start, end = limit - want, limit
    return start, end


def latent_mask(mask: Image.Image, cell: int = 8) -> Image.Image:
    """The mask grown to whole `cell` x `cell` blocks (a latent pixel covers 8x8 image pixels): a
    block is white when any of its pixels is repainted at all. Sizes are multiples of `cell`."""
    a = np.asarray(mask.convert("L"))
    h, w = a.shape
    blocks = a[: h - h % cell, : w - w % cell].reshape(h // cell, cell, w // cell, cell).max(axis=(1, 3))
    grown = np.repeat(np.repeat(blocks > 0, cell, axis=0), cell, axis=1)
    out = np.zeros_like(a, dtype=np.uint8)
    out[: grown.shape[0], : grown.shape[1]] = np.where(grown, 255, 0)
    return Image.fromarray(out, "L")


def fill_from_edges(image: Image.Image, known: Image.Image, ring: int = 8) -> Image.Image:
    """The image with its unknown pixels (black in `known`) filled from the colours of the known
    pixels within about `ring` pixels of them, smoothly, spreading outward (pull-push over an
    image pyramid): a zoomed-out canvas's border continues the picture's edge colours (not its
    middle's, and not a flat grey)."""
    known = known.convert("L").point(lambda v: 255 if v >= 128 else 0)
    unknown = ImageOps.invert(known)
    near = unknown.filter(ImageFilter.BoxBlur(ring)) if ring > 0 else unknown
    colour = np.asarray(image.convert("RGB"), dtype=np.float32)
    is_known = np.asarray(known) > 0
    weight = (is_known & (np.asarray(near) > 0)).astype(np.float32)  # the known ring by the unknown
    if is_known.all() or not weight.any():
        return image.convert("RGB")
    levels = [(colour * weight[..., None], weight)]
    while min(levels[-1][1].shape) > 1:
        c, w = levels[-1]
        levels.append((_halve(c), _halve(w)))
    c, w = levels[-1]
    filled = c / np.maximum(w, 1e-6)[..., None]
    for c, w in reversed(levels[:-1]):
        up = _resize(filled, (w.shape[1], w.shape[0]))
        # A pixel's own (partial) knowledge wins, weighted by how much of it is known.
        trust = np.clip(w, 0, 1)[..., None]
        filled = trust * (c / np.maximum(w, 1e-6)[..., None]) + (1 - trust) * up
    out = np.where(is_known[..., None], colour, filled)
    return Image.fromarray(np.clip(out + 0.5, 0, 255).astype(np.uint8), "RGB")


def _halve(a: np.ndarray) -> np.ndarray:
    """Sum over 2x2 blocks (an odd side keeps its last row or column alone)."""
    h, w = a.shape[:2]
    pad = ((0, h % 2), (0, w % 2)) + ((0, 0),) * (a.ndim - 2)
    a = np.pad(a, pad)
    return a[0::2, 0::2] + a[1::2, 0::2] + a[0::2, 1::2] + a[1::2, 1::2]


def _resize(a: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """A float HxWx3 array resized (bilinear), channel by channel."""
    return np.stack(
        [
            np.asarray(Image.fromarray(a[..., k], "F").resize(size, Image.Resampling.BILINEAR))
            for k in range(3)
        ],
        axis=-1,
    )
