"""Inpaint and outpaint on the tiny random model (CPU, 64x64, a few steps)."""

import numpy as np
import pytest
import torch
from PIL import Image

from generation.images.masks import feather_reach, grid_mask
from generation.pipelines import engine, inpaint
from generation.pipelines.engine import generate
from generation.pipelines.upscalers import LANCZOS
from generation.progress import Cancelled, CancelToken
from generation.requests.canvas import place_source
from generation.requests.request import Edit, GenerationRequest, Mode, Pan
from generation.requests.samplers import estimate_steps


@pytest.fixture(scope="module")
def picture():
    """A 64x64 picture with structure everywhere, so any repainted pixel shows."""
    rng = np.random.default_rng(3)
    return Image.fromarray(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8))


def px(image: Image.Image) -> np.ndarray:
    return np.asarray(image).astype(np.int16)


def inpaint_req(**changes) -> GenerationRequest:
    base = GenerationRequest(
        "a red circle",
        mode=Mode.INPAINT,
        width=64,
        height=64,
        steps=3,
        seed=21,
        count=1,
        sampler="Euler a",
        strength=1.0,
        source_image="unused.png",
        edit=Edit(mask="unused.png", mask_blur=2),
    )
    return base.replace(**changes)


def outpaint_req(edit: Edit, size: tuple[int, int], **changes) -> GenerationRequest:
    base = inpaint_req(mode=Mode.OUTPAINT, width=size[0], height=size[1], strength=0.9, edit=edit)
    return base.replace(**changes)


def region(cells_mask: np.ndarray, reach: int) -> np.ndarray:
    """The mask's pixels grown by `reach` (a square neighbourhood)."""
    ys, xs = np.nonzero(cells_mask)
    grown = np.zeros_like(cells_mask)
    grown[
        max(0, ys.min() - reach) : ys.max() + 1 + reach, max(0, xs.min() - reach) : xs.max() + 1 + reach
    ] = True
    return grown


# -- inpaint --------------------------------------------------------------------------------------


@pytest.mark.parametrize("only_masked", [False, True])
def test_region_repaints_its_cells_and_keeps_every_pixel_well_outside(tiny_loaded, picture, only_masked):
    mask = grid_mask(64, 64, [6, 7])  # second row, middle two columns: x 16..48, y 16..32
    cells = np.asarray(mask) == 255
    request = inpaint_req(count=2, edit=Edit(mask="m", mask_blur=2, only_masked=only_masked, padding=4))
    images = generate(tiny_loaded, [request], sources=[picture], masks=[mask])[0]
    reach = feather_reach(2)
    for image in images:
        assert image.size == (64, 64)
        changed = (px(image) != px(picture)).any(axis=-1)
        assert not changed[~region(cells, reach)].any()  # outside the cells plus feather: the original
        inner = changed[16 + reach : 32 - reach, 16 + reach : 48 - reach]  # the cells less the feather
        assert inner.size and inner.mean() > 0.9  # inside: repainted
    assert (px(images[0]) != px(images[1])).any()  # seed + 1 differs


def test_only_masked_generates_the_box_at_the_models_native_size(tiny_loaded, picture, monkeypatch):
    sizes = []
    denoise = engine.denoise
    monkeypatch.setattr(
        engine, "denoise", lambda *a, **k: sizes.append((k["width"], k["height"])) or denoise(*a, **k)
    )
    mask = grid_mask(64, 64, [6])  # 16x16 at (16, 16)
    generate(
        tiny_loaded,
        [inpaint_req(edit=Edit(mask="m", mask_blur=0, only_masked=True, padding=4))],
        sources=[picture],
        masks=[mask],
    )
    assert sizes == [(64, 64)]  # a 24x24 box scaled up to the tiny model's 64x64
    assert inpaint.only_masked_size((0, 0, 24, 48), 64) == (48, 88)  # its shape kept, area about 64x64
    assert inpaint.only_masked_size((0, 0, 128, 64), 64) == (128, 64)  # never scaled down


def test_a_mask_file_works_like_a_given_mask(tiny_loaded, picture, tmp_path):
    mask = grid_mask(64, 64, [1, 16])
    mask.save(tmp_path / "mask.png")
    picture.save(tmp_path / "source.png")
    on_disk = inpaint_req(
        source_image=str(tmp_path / "source.png"), edit=Edit(mask=str(tmp_path / "mask.png"))
    )
    from_files = generate(tiny_loaded, [on_disk])[0][0]
    given = generate(tiny_loaded, [on_disk], sources=[picture], masks=[mask])[0][0]
    assert (px(from_files) == px(given)).all()


def test_inpaints_with_different_masks_share_a_call_and_equal_each_alone(tiny_loaded, picture):
    a = inpaint_req(count=2, seed=5, strength=0.6)
    b = inpaint_req(count=1, seed=70, strength=0.6, prompt="a blue square")
    masks = [grid_mask(64, 64, [1, 2]), grid_mask(64, 64, [11])]
    assert a.batch_key() == b.batch_key()
    together = generate(tiny_loaded, [a, b], sources=[picture, picture], masks=masks, batch_invariant=True)
    assert [len(images) for images in together] == [2, 1]
    for request, mask, images in zip([a, b], masks, together, strict=True):
        alone = generate(tiny_loaded, [request], sources=[picture], masks=[mask], batch_invariant=True)[0]
        assert all((px(x) == px(y)).all() for x, y in zip(images, alone, strict=True))
    second = generate(
        tiny_loaded, [a.replace(seed=6, count=1)], sources=[picture], masks=[masks[0]], batch_invariant=True
    )
    assert (px(second[0][0]) == px(together[0][1])).all()  # image i is seed + i alone


def test_inpaint_reports_its_steps_and_stops_on_cancel(tiny_loaded, picture):
    request = inpaint_req(steps=10, strength=0.5, sampler="Euler")
    seen = []
    generate(
        tiny_loaded, [request], sources=[picture], masks=[grid_mask(64, 64, [6])], on_progress=seen.append
    )
    assert [p.step for p in seen] == list(range(1, 6)) and seen[-1].total == 5 == estimate_steps(request)
    token = CancelToken()

    def cancel_at_two(progress):
        if progress.step == 2:
            token.cancel()

    with pytest.raises(Cancelled):
        generate(
            tiny_loaded,
            [request],
            sources=[picture],
            masks=[grid_mask(64, 64, [6])],
            on_progress=cancel_at_two,
            cancel=token,
        )
    assert inpaint.inpaint_pipeline(tiny_loaded).unet is tiny_loaded.pipe.unet  # shares the weights


def test_an_inpaint_without_a_mask_is_refused(tiny_loaded, picture):
    with pytest.raises(ValueError, match="mask"):
        generate(tiny_loaded, [inpaint_req(edit=Edit(mask=None))], sources=[picture])


# -- outpaint -------------------------------------------------------------------------------------


def kept_part(placed_box, canvas, blur):
    """The part of the source an outpaint must leave exactly as it was: inside its box, past the
    seam (2 * blur) and the feather on the sides that face new canvas."""
    left, top, right, bottom = placed_box
    inset = 2 * blur + feather_reach(blur)
    return (
        left + inset if left > 0 else left,
        top + inset if top > 0 else top,
        right - inset if right < canvas[0] else right,
        bottom - inset if bottom < canvas[1] else bottom,
    )


def test_zoom_out_2x_doubles_the_canvas_and_keeps_the_source_in_its_centre(tiny_loaded, picture):
    request = outpaint_req(Edit(zoom=2.0, mask_blur=2), (128, 128), count=2)
    images = generate(tiny_loaded, [request], sources=[picture])[0]
    placed = place_source((64, 64), (128, 128), zoom=2.0)
    assert placed.box == (32, 32, 96, 96)
    x0, y0, x1, y1 = kept_part(placed.box, (128, 128), 2)
    for image in images:
        assert image.size == (128, 128)
        assert (px(image)[y0:y1, x0:x1] == px(picture)[y0 - 32 : y1 - 32, x0 - 32 : x1 - 32]).all()
        border = np.ones((128, 128), dtype=bool)
        border[32:96, 32:96] = False
        assert np.abs(px(image)[border] - 127).mean() > 5  # painted, not the grey canvas
    assert (px(images[0]) != px(images[1])).any()


def test_a_zoom_past_the_pixel_limit_keeps_the_source_downscaled_in_the_centre(tiny_loaded, picture):
    # The follow-up scaled a 2x canvas down to 64x64 (limits.max_pixels): the source is half size.
    request = outpaint_req(Edit(zoom=2.0, mask_blur=1), (64, 64))
    image = generate(tiny_loaded, [request], sources=[picture])[0][0]
    placed = place_source((64, 64), (64, 64), zoom=2.0)
    assert placed.box == (16, 16, 48, 48)
    small = px(picture.resize((32, 32), LANCZOS))
    x0, y0, x1, y1 = kept_part(placed.box, (64, 64), 1)
    assert np.abs(px(image)[y0:y1, x0:x1] - small[y0 - 16 : y1 - 16, x0 - 16 : x1 - 16]).max() <= 1


@pytest.mark.parametrize(
    ("pan", "size", "box"),
    [
        (Pan.LEFT, (96, 64), (32, 0, 96, 64)),
        (Pan.UP, (64, 96), (0, 32, 64, 96)),
        (Pan.RIGHT, (96, 64), (0, 0, 64, 64)),
    ],
)
def test_pan_adds_half_a_side_where_it_points(tiny_loaded, picture, pan, size, box):
    image = generate(tiny_loaded, [outpaint_req(Edit(pan=pan, mask_blur=2), size)], sources=[picture])[0][0]
    assert image.size == size and place_source((64, 64), size, pan=pan).box == box
    x0, y0, x1, y1 = kept_part(box, size, 2)
    assert (
        px(image)[y0:y1, x0:x1] == px(picture)[y0 - box[1] : y1 - box[1], x0 - box[0] : x1 - box[0]]
    ).all()
    new = np.ones(size[::-1], dtype=bool)
    new[box[1] : box[3], box[0] : box[2]] = False
    assert np.abs(px(image)[new] - 127).mean() > 5


def test_an_outpaint_is_reproducible_from_its_seed(tiny_loaded, picture):
    request = outpaint_req(Edit(pan=Pan.DOWN), (64, 96), seed=9)
    first = generate(tiny_loaded, [request], sources=[picture])[0][0]
    again = generate(tiny_loaded, [request], sources=[picture])[0][0]
    other = generate(tiny_loaded, [request.replace(seed=10)], sources=[picture])[0][0]
    assert (px(first) == px(again)).all() and (px(first) != px(other)).any()


# -- SDXL ------------------------------------------------------------------------------------------


def test_sdxl_inpaints_and_outpaints_through_its_own_inpaint_pipeline(picture):
    from generation.models.arch import Arch
    from generation.models.loaded import LoadedModel, ModelEntry
    from tests.unit.pipelines.test_engine import build_tiny_sdxl

    pipe = build_tiny_sdxl()
    model = LoadedModel(
        "xl", ModelEntry("xl", "xl", "diffusers"), pipe, Arch.SDXL, None, torch.device("cpu"), torch.float32
    )
    mask = grid_mask(64, 64, [6, 7])
    [[image]] = generate(model, [inpaint_req(steps=2)], sources=[picture], masks=[mask])
    changed = (px(image) != px(picture)).any(axis=-1)
    assert (
        not changed[~region(np.asarray(mask) == 255, feather_reach(2))].any() and changed[20:28, 22:42].all()
    )
    assert type(inpaint.inpaint_pipeline(model)).__name__ == "StableDiffusionXLInpaintPipeline"
    assert inpaint.inpaint_pipeline(model).unet is pipe.unet
    [[zoomed]] = generate(model, [outpaint_req(Edit(zoom=1.5), (96, 96), steps=2)], sources=[picture])
    assert zoomed.size == (96, 96)


def test_the_outpaint_mask_paints_all_the_new_canvas_and_a_seam_into_the_source(picture):
    from generation.pipelines.outpaint import plan_outpaint

    plan = plan_outpaint(outpaint_req(Edit(pan=Pan.LEFT, mask_blur=4), (96, 64)), picture)
    soft = np.asarray(plan.soft).astype(int)
    assert (soft[:, :32] == 255).all()  # the new third, wholly generated
    assert (soft[:, 32] >= 240).all() and (soft[:, 32:36] > 200).all()  # the old edge: nearly repainted
    assert (soft[:, 32 + 8 + feather_reach(4) :] == 0).all()  # past the seam and its feather: kept
    assert (soft[:, 32 + 8] > 0).all() and (soft[:, 32 + 8] < 255).all()  # the feather around 2 * blur in
    assert (np.asarray(plan.picture)[:, 32:] == np.asarray(picture)).all()  # the source as it was
    blue = plan_outpaint(outpaint_req(Edit(zoom=2.0), (128, 128)), Image.new("RGB", (64, 64), (30, 60, 220)))
    border = np.asarray(blue.picture).astype(int)[:32]
    assert np.abs(border - [30, 60, 220]).max() <= 1  # the fill continues the edge's colour, not grey
