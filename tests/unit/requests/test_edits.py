"""Inpaint and outpaint requests: the Edit field, the canvas rule, validation and the follow-ups."""

import pytest

from bot.ui.text import describe
from generation.requests.canvas import canvas_size, grown_size, place_source
from generation.requests.followups import (
    OUTPAINT_STRENGTH,
    REGION_STRENGTH,
    pan_of,
    pan_of_image,
    region_of,
    region_of_image,
    zoom_out_of,
    zoom_out_of_image,
)
from generation.requests.request import Edit as E
from generation.requests.request import GenerationRequest, HiresFix, Mode, Pan
from generation.requests.sizes import output_size
from generation.requests.validation import ValidationError, validate
from generation.settings import LimitSettings, Settings
from tests.helpers.jobs import make_job

S = Settings()
PICTURE = GenerationRequest("a red circle", width=128, height=128, seed=7, count=4)


def test_an_edit_round_trips_through_a_dict_and_json():
    import json

    for edit in (E(mask="m.png", mask_blur=8, only_masked=True, padding=16), E(zoom=1.5), E(pan=Pan.UP)):
        request = PICTURE.replace(mode=Mode.OUTPAINT, source_image="s.png", edit=edit)
        data = json.loads(json.dumps(request.to_dict()))
        assert GenerationRequest.from_dict(data) == request
    assert GenerationRequest.from_dict(PICTURE.to_dict()).edit is None  # older jobs have none
    stored = {**request.to_dict(), "edit": {**request.to_dict()["edit"], "future": 1}}
    assert GenerationRequest.from_dict(stored) == request


def test_edits_with_different_masks_share_a_call_but_not_different_options():
    a = PICTURE.replace(mode=Mode.INPAINT, edit=E(mask="a.png"))
    assert a.batch_key() == a.replace(edit=E(mask="b.png"), prompt="x", seed=9).batch_key()
    for edit in (E(mask="a.png", mask_blur=9), E(mask="a.png", only_masked=True), E(mask="a.png", padding=1)):
        assert a.batch_key() != a.replace(edit=edit).batch_key(), edit
    zoom = PICTURE.replace(mode=Mode.OUTPAINT, edit=E(zoom=2.0))
    assert zoom.batch_key() != zoom.replace(edit=E(pan=Pan.LEFT)).batch_key()
    assert zoom.batch_key() != zoom.replace(mode=Mode.INPAINT).batch_key()


# -- the canvas ------------------------------------------------------------------------------------


def test_zoom_and_pan_grow_the_canvas_and_place_the_source():
    assert grown_size(128, 128, zoom=2) == (256, 256)
    assert grown_size(128, 96, zoom=1.5) == (192, 144)
    assert grown_size(128, 96, pan="left") == grown_size(128, 96, pan=Pan.RIGHT) == (192, 96)
    assert grown_size(128, 96, pan=Pan.UP) == (128, 144)
    assert place_source((128, 128), (256, 256), zoom=2).box == (64, 64, 192, 192)
    assert place_source((128, 96), (192, 96), pan=Pan.LEFT).box == (64, 0, 192, 96)  # new width on the left
    assert place_source((128, 96), (192, 96), pan=Pan.RIGHT).box == (0, 0, 128, 96)
    assert place_source((128, 96), (128, 144), pan=Pan.UP).box == (0, 48, 128, 144)
    assert place_source((128, 96), (128, 144), pan=Pan.DOWN).box == (0, 0, 128, 96)


def test_a_canvas_past_the_pixel_limit_is_scaled_down_whole():
    limits = LimitSettings()  # max_pixels 1024 x 1024
    assert canvas_size(512, 512, limits, zoom=2) == (1024, 1024)  # fits: the source keeps its pixels
    assert canvas_size(1024, 1024, limits, zoom=2) == (1024, 1024)  # at the limit: the source halves
    placed = place_source((1024, 1024), (1024, 1024), zoom=2)
    assert placed.box == (256, 256, 768, 768) and placed.size == (512, 512)
    w, h = canvas_size(1024, 1024, limits, pan=Pan.LEFT)
    assert w * h <= limits.max_pixels and abs(w / h - 1.5) < 0.02 and w % 8 == h % 8 == 0
    left, top, right, bottom = place_source((1024, 1024), (w, h), pan=Pan.LEFT).box
    assert (right, top, bottom) == (w, 0, h) and abs((right - left) - w / 1.5) <= 1
    assert max(canvas_size(2000, 400, limits, pan=Pan.RIGHT)) <= limits.max_size


# -- validation ------------------------------------------------------------------------------------

SRC = {"source_image": "/tmp/s.png"}


def test_edits_come_back_normalised():
    inpaint = validate(PICTURE.replace(mode=Mode.INPAINT, **SRC, edit=E(mask="m.png", zoom=2.0)), S)
    assert inpaint.edit == E(mask="m.png")  # an inpaint's own fields only
    pan = validate(PICTURE.replace(mode=Mode.OUTPAINT, **SRC, edit=E(mask="m.png", pan=" Left")), S)
    assert pan.edit == E(pan=Pan.LEFT)
    assert validate(PICTURE.replace(edit=E(zoom=2.0)), S).edit is None  # text-to-image has none
    upscaled = PICTURE.replace(mode=Mode.INPAINT, **SRC, edit=E(mask="m"), width=2048, height=2048)
    assert validate(upscaled, S).size == (2048, 2048)  # an inpaint may edit an upscale
    assert validate(upscaled.replace(prompt=""), S).prompt == ""


@pytest.mark.parametrize(
    ("changes", "code", "fields", "message"),
    [
        (
            {"mode": Mode.INPAINT},
            "request.mask_missing",
            {},
            "Repainting a region needs a mask: white where to repaint, black where to keep.",
        ),
        (
            {"mode": Mode.INPAINT, "edit": E(mask="m", mask_blur=65)},
            "request.mask_blur_out_of_range",
            {"value": 65, "max": 64},
            "The mask blur must be a whole number of pixels from 0 to 64, not 65.",
        ),
        (
            {"mode": Mode.OUTPAINT, "edit": E(zoom=2, mask_blur=-1)},
            "request.mask_blur_out_of_range",
            {"value": -1},
            "The mask blur must be a whole number of pixels from 0 to 64, not -1.",
        ),
        (
            {"mode": Mode.INPAINT, "edit": E(mask="m", padding=300)},
            "request.mask_padding_out_of_range",
            {"value": 300, "max": 256},
            "The padding around the mask must be a whole number of pixels from 0 to 256, not 300.",
        ),
        (
            {"mode": Mode.INPAINT, "edit": E(mask="m"), "width": 4096, "height": 2048},
            "request.side_out_of_range",
            {"side": "width", "value": 4096},
            "Width 4096 is too large",
        ),
        (
            {"mode": Mode.OUTPAINT},
            "request.outpaint_direction_missing",
            {"directions": ["left", "right", "up", "down"]},
            "Say how to extend the image: zoom out by a factor above 1, or pan left, right, up or down.",
        ),
        (
            {"mode": Mode.OUTPAINT, "edit": E(zoom=2.5)},
            "request.zoom_out_of_range",
            {"value": 2.5, "min": 1.0, "max": 2.0},
            "Zoom out must be above 1 and at most 2, not 2.5; try 1.5 or 2.",
        ),
        (
            {"mode": Mode.OUTPAINT, "edit": E(zoom=0.5)},
            "request.zoom_out_of_range",
            {"value": 0.5},
            "Zoom out must be above 1 and at most 2, not 0.5",
        ),
        (
            {"mode": Mode.OUTPAINT, "edit": E(pan="sideways")},
            "request.pan_unknown",
            {"value": "sideways", "directions": ["left", "right", "up", "down"]},
            "Cannot pan 'sideways'; pan left, right, up or down.",
        ),
        (
            {"mode": Mode.OUTPAINT, "edit": E(zoom=2, pan=Pan.UP)},
            "request.zoom_and_pan",
            {"zoom": 2, "pan": "up"},
            "Zoom out or pan, not both at once",
        ),
        (
            {"mode": Mode.OUTPAINT, "edit": E(zoom=2), "width": 1536, "height": 1536},
            "request.too_many_pixels",
            {"max": 1048576, "fit_width": 1024},
            "1536x1536 is 2,359,296 pixels, over this server's limit",
        ),
        (
            {"mode": Mode.OUTPAINT, "edit": E(zoom=2), "hires": HiresFix(2.0)},
            "request.hires_needs_txt2img",
            {"mode": "outpaint"},
            "The hires fix (--hires) works only when generating from a prompt",
        ),
    ],
)
def test_each_edit_rule_says_what_to_change(changes, code, fields, message):
    with pytest.raises(ValidationError) as info:
        validate(PICTURE.replace(**SRC, **changes), S)
    problem = info.value
    assert problem.code == code
    assert {key: problem.fields[key] for key in fields} == fields
    assert describe(problem).startswith(message), describe(problem)


def test_an_inpaint_may_be_as_large_as_an_upscale_and_no_larger():
    settings = S.replace(limits=LimitSettings(max_upscaled_pixels=1024 * 1024))
    request = PICTURE.replace(mode=Mode.INPAINT, **SRC, edit=E(mask="m"), width=1024, height=1024)
    assert validate(request, settings) == request
    with pytest.raises(ValidationError) as info:
        validate(request.replace(height=1032), settings)
    assert info.value.fields == {"width": 1024, "height": 1032, "pixels": 1056768, "max": 1048576}
    assert describe(info.value) == (
        "1024x1032 is 1,056,768 pixels, over this server's limit of 1,048,576 for repainting part of "
        "an image; start from a smaller image."
    )


def test_an_edit_needs_its_source_image():
    with pytest.raises(ValidationError) as info:
        validate(PICTURE.replace(mode=Mode.OUTPAINT, edit=E(zoom=2)), S)
    assert info.value.code == "request.source_image_missing"


# -- follow-ups ------------------------------------------------------------------------------------


def test_region_repaints_the_masked_part_of_the_image_at_its_size():
    upscaled = PICTURE.replace(mode=Mode.UPSCALE, count=1, upscale_factor=2.0)
    region = region_of(upscaled, "up.png", "mask.png", S, prompt="a blue square")
    assert (region.mode, region.source_image, region.edit.mask) == (Mode.INPAINT, "up.png", "mask.png")
    assert region.size == output_size(upscaled) == (256, 256)
    assert (region.prompt, region.strength, region.count, region.seed) == (
        "a blue square",
        REGION_STRENGTH,
        4,
        -1,
    )
    assert region.upscale_factor == GenerationRequest.upscale_factor and region.hires is None
    assert validate(region, S) == region
    kept = region_of(PICTURE, "a.png", "m.png", S, strength=0.5, only_masked=True, mask_blur=0, count=1)
    assert (kept.prompt, kept.strength, kept.count) == (PICTURE.prompt, 0.5, 1)
    assert (kept.edit.only_masked, kept.edit.mask_blur) == (True, 0)


def test_zoom_out_and_pan_size_the_canvas_by_the_rule():
    zoom = zoom_out_of(PICTURE, "a.png", 2.0, S)
    assert (zoom.mode, zoom.size, zoom.edit.zoom, zoom.strength) == (
        Mode.OUTPAINT,
        (256, 256),
        2.0,
        OUTPAINT_STRENGTH,
    )
    assert zoom_out_of(PICTURE, "a.png", 1.5, S).size == (192, 192)
    big = PICTURE.replace(width=1024, height=1024)
    assert zoom_out_of(big, "a.png", 2.0, S).size == (1024, 1024)  # scaled down to max_pixels
    pan = pan_of(PICTURE.replace(height=96), "a.png", "left", S)
    assert (pan.size, pan.edit.pan) == ((192, 96), Pan.LEFT)
    assert pan_of(PICTURE, "a.png", Pan.DOWN, S).size == (128, 192)
    for request in (zoom, pan):
        assert validate(request, S) == request
    with pytest.raises(ValueError):
        pan_of(PICTURE, "a.png", "sideways", S)


def test_follow_ups_of_a_job_image_use_its_key():
    job = make_job()
    image = job.images[1]
    assert region_of_image(job, 1, "m.png", S).source_image == image.key
    assert zoom_out_of_image(job, 1, 2.0, S).source_image == image.key
    assert pan_of_image(job, 1, "up", S).edit.pan is Pan.UP
