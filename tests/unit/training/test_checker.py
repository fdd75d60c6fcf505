"""The prompt-adherence checker of the shapes model, on clean synthetic scenes."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from training.checker import check, read_image, summarise
from training.scenes import ALL_COMBOS, COLOURS, HELD_OUT, PALETTE, SEEN, Scene, make_dataset, render


@pytest.mark.parametrize("size", [64, 128])
def test_clean_scenes_read_perfectly(size):
    images, scenes = make_dataset(300, seed=123, size=size, combos=ALL_COMBOS)
    result = summarise(
        [check(im, s.colour, s.shape, s.background) for im, s in zip(images, scenes, strict=True)]
    )
    assert result["colour"] == result["background"] == result["shape"] == 1.0


def test_every_combination_reads_right():
    for colour, shape, background in ALL_COMBOS:
        r = read_image(render(Scene(colour, shape, background, 64, 64, 60), 128))
        assert (r.colour, r.shape, r.background) == (colour, shape, background)


def test_shape_touching_the_border_and_noise():
    rng = np.random.default_rng(0)
    img = np.asarray(render(Scene("yellow", "square", "blue", 30, 30, 56), 128)).astype(np.int16)
    img = np.clip(img + rng.normal(0, 20, img.shape), 0, 255).astype(np.uint8)
    r = read_image(Image.fromarray(img))
    assert (r.colour, r.shape, r.background) == ("yellow", "square", "blue")


def test_empty_image_has_no_shape():
    r = read_image(Image.new("RGB", (64, 64), PALETTE["green"]))
    assert r.background == "green" and r.colour is None and r.shape is None
    assert not check(Image.new("RGB", (64, 64), PALETTE["green"]), "red", "circle", "green").colour


def test_deterministic():
    images, _ = make_dataset(20, seed=7)
    again, _ = make_dataset(20, seed=7)
    assert np.array_equal(images, again)
    assert [read_image(i) for i in images] == [read_image(i) for i in again]


def test_held_out_split():
    assert set(HELD_OUT) <= set(ALL_COMBOS)
    assert not set(HELD_OUT) & set(SEEN)
    assert len(ALL_COMBOS) == 3 * len(COLOURS) * (len(COLOURS) - 1)
    # every colour, shape and background still appears in training
    for i in range(3):
        assert {c[i] for c in SEEN} == {c[i] for c in ALL_COMBOS}
