"""Synthetic scenes the demo model is trained on: one flat-coloured shape on a flat background.

Everything here is deterministic for a given seed and needs only PIL and numpy.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from itertools import product

import numpy as np
from PIL import Image, ImageDraw

# Saturated, well separated colours (RGB). The checker classifies pixels by the nearest of these.
PALETTE: dict[str, tuple[int, int, int]] = {
    "red": (225, 30, 30),
    "green": (30, 190, 40),
    "blue": (35, 60, 225),
    "yellow": (245, 215, 25),
    "white": (245, 245, 245),
    "black": (15, 15, 15),
}
COLOURS: tuple[str, ...] = tuple(PALETTE)
SHAPES: tuple[str, ...] = ("circle", "square", "triangle")

# (shape colour, shape, background colour) combinations never shown in training. Every colour,
# shape and background still appears in training, in every pairwise combination that is not
# part of these triples.
HELD_OUT: tuple[tuple[str, str, str], ...] = (
    ("red", "circle", "blue"),
    ("green", "square", "yellow"),
    ("blue", "triangle", "white"),
    ("yellow", "circle", "black"),
    ("white", "square", "red"),
    ("black", "triangle", "green"),
    ("green", "circle", "white"),
    ("blue", "square", "black"),
    ("red", "triangle", "yellow"),
)

ALL_COMBOS: tuple[tuple[str, str, str], ...] = tuple(
    (c, s, b) for c, s, b in product(COLOURS, SHAPES, COLOURS) if c != b
)
SEEN: tuple[tuple[str, str, str], ...] = tuple(t for t in ALL_COMBOS if t not in HELD_OUT)

TEMPLATES: tuple[str, ...] = (
    "a {c} {s} on a {b} background",
    "{c} {s}, {b} background",
    "a {b} background with a {c} {s}",
    "{c} {s} on {b}",
    "a {c} {s} in front of a {b} background",
    "{b} background, {c} {s}",
    "a picture of a {c} {s} on a {b} background",
    "a {c} {s} on {b}",
)


def caption(colour: str, shape: str, background: str, template: int = 0) -> str:
    """The prompt for a scene; template 0 is the canonical one used for evaluation."""
    return TEMPLATES[template].format(c=colour, s=shape, b=background)


@dataclass(frozen=True)
class Scene:
    colour: str
    shape: str
    background: str
    cx: float  # centre, in pixels
    cy: float
    size: float  # side of the shape's bounding box, in pixels


def random_scene(
    rng: random.Random, size: int = 128, combos: tuple[tuple[str, str, str], ...] = SEEN
) -> Scene:
    colour, shape, background = combos[rng.randrange(len(combos))]
    side = rng.uniform(0.32, 0.72) * size
    margin = 0.04 * size
    cx = rng.uniform(margin + side / 2, size - margin - side / 2)
    cy = rng.uniform(margin + side / 2, size - margin - side / 2)
    return Scene(colour, shape, background, cx, cy, side)


def render(scene: Scene, size: int = 128, supersample: int = 4) -> Image.Image:
    """Draw a scene (anti-aliased by supersampling) as an RGB image of `size` x `size`."""
    big = size * supersample
    img = Image.new("RGB", (big, big), PALETTE[scene.background])
    draw = ImageDraw.Draw(img)
    k = supersample
    half = scene.size / 2
    x0, y0 = (scene.cx - half) * k, (scene.cy - half) * k
    x1, y1 = (scene.cx + half) * k, (scene.cy + half) * k
    fill = PALETTE[scene.colour]
    if scene.shape == "circle":
        draw.ellipse((x0, y0, x1, y1), fill=fill)
    elif scene.shape == "square":
        draw.rectangle((x0, y0, x1, y1), fill=fill)
    elif scene.shape == "triangle":
        draw.polygon(((scene.cx * k, y0), (x1, y1), (x0, y1)), fill=fill)
    else:
        raise ValueError(f"unknown shape {scene.shape!r}")
    return img.resize((size, size), Image.Resampling.BOX)


def make_dataset(
    n: int,
    seed: int = 0,
    size: int = 128,
    combos: tuple[tuple[str, str, str], ...] = SEEN,
    progress: bool = False,
) -> tuple[np.ndarray, list[Scene]]:
    """`n` scenes as a uint8 array (n, size, size, 3) and their descriptions."""
    rng = random.Random(seed)
    images = np.empty((n, size, size, 3), dtype=np.uint8)
    scenes = []
    it = range(n)
    if progress:
        from tqdm import tqdm

        it = tqdm(it, desc="drawing scenes", unit="img")
    for i in it:
        scene = random_scene(rng, size, combos)
        images[i] = np.asarray(render(scene, size))
        scenes.append(scene)
    return images, scenes
