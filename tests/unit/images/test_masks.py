"""Masks: the numbered grid, uploads, feathering, the only-masked box, latent cells, the fill."""

import numpy as np
import pytest
from PIL import Image

from generation.images.masks import (
    as_mask,
    cell_boxes,
    feather,
    feather_reach,
    fill_from_edges,
    grid_mask,
    latent_mask,
    mask_box,
)


def white(mask: Image.Image) -> np.ndarray:
    return np.asarray(mask) == 255


def test_grid_cells_are_numbered_row_by_row_from_the_top_left():
    boxes = cell_boxes(128, 96)
    assert len(boxes) == 16 and boxes[0] == (0, 0, 32, 24) and boxes[15] == (96, 72, 128, 96)
    assert boxes[5] == (32, 24, 64, 48)  # cell 6: second row, second column
    mask = grid_mask(128, 96, [6, 7])
    want = np.zeros((96, 128), dtype=bool)
    want[24:48, 32:96] = True
    assert (white(mask) == want).all() and set(np.unique(np.asarray(mask))) == {0, 255}
    assert cell_boxes(100, 100, grid=3)[-1] == (67, 67, 100, 100)  # uneven sides cover it all
    with pytest.raises(ValueError, match="cell 17"):
        grid_mask(128, 128, [17])


def test_a_feather_reaches_as_far_as_it_says_and_no_farther():
    hard = grid_mask(128, 128, [6, 7])
    for blur in (0, 2, 4, 8):
        soft = np.asarray(feather(hard, blur))
        reach = feather_reach(blur)
        grown = np.zeros((128, 128), dtype=bool)
        grown[max(0, 32 - reach) : 64 + reach, max(0, 32 - reach) : 96 + reach] = True
        assert not soft[~grown].any(), blur  # nothing beyond the reach
        inner = np.zeros((128, 128), dtype=bool)
        inner[32 + reach : 64 - reach, 32 + reach : 96 - reach] = True
        assert (soft[inner] == 255).all(), blur  # fully white inside it
        if blur:
            assert 0 < soft[32, 28] < 255  # soft at the edge
    assert np.asarray(grid_mask(128, 128, [1], feather=4))[10, 34] > 0


def test_uploads_become_hard_masks_fitted_like_the_source():
    drawn = Image.new("RGBA", (200, 100), (0, 0, 0, 0))  # a stroke on a transparent layer
    drawn.paste((255, 255, 255, 255), (90, 40, 110, 60))
    mask = as_mask(drawn)
    assert mask.mode == "L" and set(np.unique(np.asarray(mask))) == {0, 255}
    assert mask.getbbox() == (90, 40, 110, 60)
    fitted = as_mask(drawn, (100, 100))  # cover then centre-crop, like fit_image
    assert fitted.size == (100, 100) and fitted.getbbox() == (40, 40, 60, 60)
    grey = Image.new("RGB", (10, 10), (100, 100, 100))
    assert as_mask(grey).getbbox() is None  # darker than half keeps


def test_the_only_masked_box_pads_and_stays_inside():
    mask = grid_mask(128, 128, [6])  # 32..64
    assert mask_box(mask, 8) == (24, 24, 72, 72)
    assert mask_box(mask, 0, multiple=1) == (32, 32, 64, 64)
    left, top, right, bottom = mask_box(grid_mask(100, 100, [1]), 5)
    assert (left, top) == (0, 0) and (right - left) % 8 == (bottom - top) % 8 == 0 and right <= 100
    assert mask_box(Image.new("L", (64, 64)), 32) is None


def test_latent_mask_grows_to_whole_cells():
    mask = Image.new("L", (32, 32))
    mask.putpixel((9, 17), 40)  # one faint pixel marks its whole 8x8 cell
    grown = white(latent_mask(mask))
    want = np.zeros((32, 32), dtype=bool)
    want[16:24, 8:16] = True
    assert (grown == want).all()


def test_the_fill_continues_the_edge_colours():
    canvas = Image.new("RGB", (96, 96), (0, 0, 0))
    source = Image.new("RGB", (32, 32), (20, 40, 220))  # blue, with a red middle the fill ignores
    source.paste((230, 20, 20), (8, 8, 24, 24))
    canvas.paste(source, (32, 32))
    known = Image.new("L", (96, 96))
    known.paste(255, (32, 32, 64, 64))
    filled = np.asarray(fill_from_edges(canvas, known)).astype(int)
    assert (filled[32:64, 32:64] == np.asarray(source)).all()  # the known pixels as they were
    outside = np.ones((96, 96), dtype=bool)
    outside[32:64, 32:64] = False
    assert np.abs(filled[outside] - [20, 40, 220]).max() <= 2  # blue all the way out
