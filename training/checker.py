"""A deterministic prompt-adherence checker for the shapes model (no learned model).

For an image of one shape on a flat background it finds:
- the background colour: the palette colour most border pixels are nearest to;
- the shape: the largest connected region of pixels whose nearest palette colour is neither the
  background's nor rare, its colour by majority vote of the nearest palette colours;
- the shape class: the best match (intersection over union) between the region and an ideal
  square, circle and upright triangle fitted to the region's bounding box.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np
from PIL import Image

from training.scenes import PALETTE, SHAPES

_NAMES = tuple(PALETTE)
_COLOURS = np.array([PALETTE[n] for n in _NAMES], dtype=np.float32)


@dataclass(frozen=True)
class Reading:
    colour: str | None  # the shape's colour, None when no shape was found
    shape: str | None  # circle | square | triangle, None when no shape was found
    background: str
    area: float  # the shape's share of the image
    match: float  # IoU of the shape with its best ideal template


def nearest_labels(rgb: np.ndarray) -> np.ndarray:
    """Index into the palette of the nearest colour, per pixel."""
    d = ((rgb[..., None, :] - _COLOURS) ** 2).sum(-1)
    return d.argmin(-1)


def _largest_component(mask: np.ndarray) -> np.ndarray:
    """The largest 4-connected component of a boolean mask."""
    h, w = mask.shape
    seen = np.zeros_like(mask)
    best: list[int] = []
    flat = mask.ravel()
    seen_flat = seen.ravel()
    for start in np.flatnonzero(flat):
        if seen_flat[start]:
            continue
        seen_flat[start] = True
        comp = [int(start)]
        queue = deque(comp)
        while queue:
            p = queue.popleft()
            y, x = divmod(p, w)
            for q, ok in ((p - w, y > 0), (p + w, y < h - 1), (p - 1, x > 0), (p + 1, x < w - 1)):
                if ok and flat[q] and not seen_flat[q]:
                    seen_flat[q] = True
                    queue.append(q)
                    comp.append(q)
        if len(comp) > len(best):
            best = comp
    out = np.zeros(h * w, dtype=bool)
    out[best] = True
    return out.reshape(h, w)


def _templates(h: int, w: int) -> dict[str, np.ndarray]:
    """Ideal masks of each shape filling an h x w box (pixel centres)."""
    y = (np.arange(h, dtype=np.float32) + 0.5)[:, None] / h  # 0..1 from the top
    x = (np.arange(w, dtype=np.float32) + 0.5)[None, :] / w
    square = np.ones((h, w), dtype=bool)
    circle = (x - 0.5) ** 2 + (y - 0.5) ** 2 <= 0.25
    triangle = np.abs(x - 0.5) <= y / 2  # apex at the top centre, base at the bottom
    return {"square": square, "circle": circle, "triangle": triangle & (y <= 1)}


def read_image(image: Image.Image | np.ndarray, min_area: float = 0.01) -> Reading:
    """What the image shows, as far as the checker can tell."""
    rgb = np.asarray(image.convert("RGB") if isinstance(image, Image.Image) else image, dtype=np.float32)
    h, w = rgb.shape[:2]
    labels = nearest_labels(rgb)
    b = max(1, round(min(h, w) * 0.04))
    border = np.concatenate(
        [labels[:b].ravel(), labels[-b:].ravel(), labels[:, :b].ravel(), labels[:, -b:].ravel()]
    )
    bg = int(np.bincount(border, minlength=len(_NAMES)).argmax())
    fg = labels != bg
    counts = np.bincount(labels[fg], minlength=len(_NAMES))
    if counts.sum() < min_area * h * w:
        return Reading(None, None, _NAMES[bg], float(counts.sum()) / (h * w), 0.0)
    colour = int(counts.argmax())
    region = _largest_component(labels == colour)
    area = float(region.sum()) / (h * w)
    if area < min_area:
        return Reading(None, None, _NAMES[bg], area, 0.0)
    ys, xs = np.nonzero(region)
    y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
    crop = region[y0:y1, x0:x1]
    best, best_iou = SHAPES[0], -1.0
    for name, tmpl in _templates(y1 - y0, x1 - x0).items():
        iou = float((crop & tmpl).sum()) / float((crop | tmpl).sum())
        if iou > best_iou:
            best, best_iou = name, iou
    return Reading(_NAMES[colour], best, _NAMES[bg], area, best_iou)


def shape_mask(image: Image.Image | np.ndarray) -> np.ndarray:
    """Where the picture is not background: pixels whose nearest palette colour is not the one
    most border pixels are nearest to (a boolean mask, for comparing compositions)."""
    rgb = np.asarray(image.convert("RGB") if isinstance(image, Image.Image) else image, dtype=np.float32)
    labels = nearest_labels(rgb)
    h, w = labels.shape
    b = max(1, round(min(h, w) * 0.04))
    border = np.concatenate(
        [labels[:b].ravel(), labels[-b:].ravel(), labels[:, :b].ravel(), labels[:, -b:].ravel()]
    )
    return labels != np.bincount(border, minlength=len(_NAMES)).argmax()


def mask_iou(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection over union of two boolean masks (1.0 when both are empty)."""
    union = np.logical_or(a, b).sum()
    return float(np.logical_and(a, b).sum() / union) if union else 1.0


@dataclass(frozen=True)
class Score:
    colour: bool
    shape: bool
    background: bool

    @property
    def all(self) -> bool:
        return self.colour and self.shape and self.background


def check(image: Image.Image | np.ndarray, colour: str, shape: str, background: str) -> Score:
    r = read_image(image)
    return Score(r.colour == colour, r.shape == shape, r.background == background)


def summarise(scores: list[Score]) -> dict[str, float]:
    """Shares of images whose shape colour, shape class, background (and all three) are right."""
    n = max(1, len(scores))
    return {
        "colour": sum(s.colour for s in scores) / n,
        "background": sum(s.background for s in scores) / n,
        "shape": sum(s.shape for s in scores) / n,
        "all": sum(s.all for s in scores) / n,
        "n": len(scores),
    }
