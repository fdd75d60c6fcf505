"""The edit flows' pieces: edit inputs, cells in custom_ids, the edit buttons, the grid picture,
remix text, form values."""

from __future__ import annotations

import dataclasses
import io
import re
from collections import Counter

import pytest
from PIL import Image

from bot.edit_buttons import CUSTOM_ID, FORM_ID, EditButton, edit_buttons, parse_factor
from bot.edits import EditInput, EditKind, bits_to_cells, cells_to_bits
from bot.forms import submitted_values
from bot.region import FORM_ID as REGION_FORM_ID
from bot.remix import remix_text, remixed
from bot.settings import DiscordSettings
from bot.ui.region_grid import cell_box, grid_overlay
from bot.ui.views import result_view
from generation.requests.request import GenerationRequest, Mode
from generation.settings import DefaultSettings
from tests.helpers.jobs import make_job


def test_edit_inputs_are_checked_and_cells_travel_as_bits():
    assert EditInput(EditKind.REGION, cells=(6, 7)).cells == (6, 7)
    for bad in (
        lambda: EditInput(EditKind.REGION),
        lambda: EditInput(EditKind.REGION, cells=(17,)),
        lambda: EditInput(EditKind.ZOOM, factor=2.5),
        lambda: EditInput(EditKind.ZOOM),
        lambda: EditInput(EditKind.PAN, direction="sideways"),
    ):
        with pytest.raises(ValueError):
            bad()
    assert cells_to_bits((6, 7)) == 0x60 and bits_to_cells(0x60) == (6, 7)
    assert bits_to_cells(cells_to_bits(range(1, 17))) == tuple(range(1, 17))
    assert f"{cells_to_bits(range(1, 17)):x}" == "ffff"  # four hex digits, as the form's id allows


def test_upscales_get_the_edit_buttons_within_discords_limits():
    settings = DiscordSettings()
    up = make_job(make_job().request.replace(mode=Mode.UPSCALE, count=1), depth=1, count=1)
    view = result_view(up, settings)
    ids = [item.custom_id for item in view.children]
    assert [i for i in ids if i.startswith("ed:")] == [f"ed:{a}:{up.id}:0" for a in "gzyklrud"]
    assert all(len(i) <= 100 for i in ids)
    rows = Counter(item.row for item in view.children)
    assert max(rows.values()) <= 5 and set(rows) <= set(range(5))
    longest = "x" * 64
    assert EditButton.__discord_ui_compiled_template__.fullmatch(f"ed:g:{longest}:0")
    assert not [
        i for i in (item.custom_id for item in result_view(make_job(), settings).children) if "ed:" in i
    ]
    assert all(b.custom_id.startswith("ed:") for b in edit_buttons(up))
    assert re.fullmatch(CUSTOM_ID, "ed:z:abc:0") and not re.fullmatch(CUSTOM_ID, "ed:q:abc:0")
    assert re.fullmatch(FORM_ID, "edf:k:abc:0") and not re.fullmatch(FORM_ID, "edf:g:abc:0")
    assert re.fullmatch(REGION_FORM_ID, f"rgf:{longest}:0:ffff")
    assert len(f"rgf:{longest}:99:ffff") <= 100


def test_zoom_factors_typed_in_the_form():
    assert parse_factor("1.5") == 1.5 and parse_factor(" 2x ") == 2.0
    for typed in ("1", "2.5", "nan", "big", ""):
        with pytest.raises(ValueError):
            parse_factor(typed)


def test_the_grid_picture_numbers_and_tints_cells():
    buffer = io.BytesIO()
    Image.new("RGB", (128, 96), (20, 20, 200)).save(buffer, format="PNG")
    plain = Image.open(io.BytesIO(grid_overlay(buffer.getvalue(), 4)))
    tinted = Image.open(io.BytesIO(grid_overlay(buffer.getvalue(), 4, selected=(6,))))
    assert plain.size == tinted.size == (768, 576)
    assert cell_box(1, 4, 768, 576) == (0, 0, 192, 144) and cell_box(6, 4, 768, 576) == (192, 144, 384, 288)
    inside, outside = (300, 250), (600, 500)  # cell 6 (away from its number), cell 16
    assert tinted.getpixel(inside) != plain.getpixel(inside)
    assert tinted.getpixel(outside) == plain.getpixel(outside) == (20, 20, 200)


def test_remix_text_round_trips_and_keeps_the_followup():
    defaults = DefaultSettings(width=64, height=64, steps=20, sampler="Euler", count=4)
    base = GenerationRequest(
        "a red circle",
        mode=Mode.IMG2IMG,
        source_image="j/0.png",
        width=64,
        height=64,
        steps=8,
        sampler="DDIM",
        cfg_scale=5.0,
        count=4,
        strength=0.35,
        negative_prompt="fog, boats",
    )
    typed = remix_text(base, defaults)
    assert typed.startswith("a red circle --steps 8") and "--no fog, boats" in typed
    assert remixed(base, typed, defaults) == base
    edited = remixed(base, "a blue square --steps 8", defaults)
    assert (edited.prompt, edited.mode, edited.source_image, edited.sampler) == (
        "a blue square",
        Mode.IMG2IMG,
        "j/0.png",
        "Euler",
    )


def test_form_values_are_read_from_rows_and_labels():
    data = {
        "components": [
            {"type": 1, "components": [{"type": 4, "custom_id": "prompt", "value": "a cat"}]},
            {"type": 18, "component": {"type": 4, "custom_id": "factor", "value": "1.5"}},
        ]
    }
    assert submitted_values(data) == {"prompt": "a cat", "factor": "1.5"}
    assert submitted_values(None) == {}


# -- the real edits: EditInput -> the generation side's follow-ups -----------------------------


@pytest.fixture
async def edit_env(tmp_path):
    """A job service (the fake runner; not started: nothing runs) to store masks in, the settings
    of the bot tests, and an upscaled 128x128 image to edit."""
    from generation.jobs.service import JobService
    from generation.workers.fakes import FakeRunner
    from tests.helpers.bot_env import make_settings

    settings = make_settings(tmp_path, tmp_path / "models")
    service = await JobService.open(settings, runner=FakeRunner())
    grid = GenerationRequest("a red circle", width=64, height=64, seed=100, count=4, steps=2, model="tiny")
    up = make_job(grid.replace(mode=Mode.UPSCALE, count=1), count=1)  # 128x128
    yield service, settings, up
    await service.close()


def mask_of(data: bytes | Image.Image):
    import numpy as np

    if isinstance(data, Image.Image):
        return np.asarray(data.convert("L"))
    with Image.open(io.BytesIO(data)) as mask:
        return np.asarray(mask.convert("L"))


async def test_cells_become_an_inpaint_of_exactly_those_cells(edit_env):
    from bot.edits import EditSource, edit_request
    from generation.images.masks import grid_mask

    service, settings, up = edit_env
    built = await edit_request(
        service, settings, EditSource.of_job(up, 0), EditInput(EditKind.REGION, cells=(6, 7))
    )
    request = built.request
    assert request.mode is Mode.INPAINT and request.size == (128, 128)  # the upscale's own size
    assert request.source_image == up.images[0].key and request.strength == 1.0
    assert request.edit.mask == built.meta["mask_key"] and request.edit.mask.startswith("uploads/")
    assert built.meta == built.meta | {"kind": "region", "mode": "inpaint", "cells": [6, 7], "grid": 4}
    stored = mask_of(await service.read_artifact(request.edit.mask))
    assert (stored == mask_of(grid_mask(128, 128, (6, 7)))).all()
    assert stored[32:64, 32:96].min() == 255 and stored[:32].max() == 0 and stored[64:].max() == 0
    assert request.prompt == "a red circle" and request.seed == -1  # new seeds, the image's prompt


async def test_a_painted_mask_wins_and_zooms_and_pans_are_outpaints(edit_env):
    from bot.edits import EditSource, edit_request

    service, settings, up = edit_env
    source = EditSource.of_job(up, 0)
    painted = io.BytesIO()
    Image.new("L", (128, 128), 255).save(painted, format="PNG")
    region = await edit_request(
        service, settings, source, EditInput(EditKind.REGION, mask_png=painted.getvalue(), strength=0.6)
    )
    assert await service.read_artifact(region.request.edit.mask) == painted.getvalue()
    assert region.request.strength == 0.6 and "cells" not in region.meta

    zoom = (await edit_request(service, settings, source, EditInput(EditKind.ZOOM, factor=2.0))).request
    assert zoom.mode is Mode.OUTPAINT and zoom.size == (256, 256) and zoom.edit.zoom == 2.0
    assert zoom.strength == 0.9 and zoom.edit.mask is None and zoom.source_image == up.images[0].key
    custom = (await edit_request(service, settings, source, EditInput(EditKind.ZOOM, factor=1.5))).request
    assert custom.size == (192, 192)
    pan = await edit_request(service, settings, source, EditInput(EditKind.PAN, direction="left"))
    assert pan.request.mode is Mode.OUTPAINT and pan.request.size == (192, 128)
    assert pan.request.edit.pan == "left" and pan.meta == pan.meta | {"mode": "outpaint", "direction": "left"}
    down = (await edit_request(service, settings, source, EditInput(EditKind.PAN, direction="down"))).request
    assert down.size == (128, 192)
    # past limits.max_pixels the canvas is scaled down whole (generation.requests.canvas)
    small = settings.replace(limits=dataclasses.replace(settings.limits, max_pixels=128 * 128))
    assert (
        await edit_request(service, small, source, EditInput(EditKind.ZOOM, factor=2.0))
    ).request.size == (128, 128)


async def test_text_typed_in_an_edit_form_is_what_runs(edit_env):
    from bot.edits import EditSource, edit_request, edit_text

    service, settings, up = edit_env
    source = EditSource.of_job(up, 0)
    shown = edit_text(source, EditKind.ZOOM, settings)
    assert shown.startswith("a red circle") and "--model tiny" in shown
    assert not any(flag in shown for flag in ("--w", "--h", "--seed", "--strength", "--n"))
    typed = "a blue circle --steps 6 --no fog --seed 9 --w 512 --sampler DDIM"
    zoom = (
        await edit_request(service, settings, source, EditInput(EditKind.ZOOM, prompt=typed, factor=2.0))
    ).request
    assert (zoom.prompt, zoom.steps, zoom.negative_prompt, zoom.seed, zoom.sampler) == (
        "a blue circle",
        6,
        "fog",
        9,
        "DDIM",
    )
    assert zoom.size == (256, 256) and zoom.mode is Mode.OUTPAINT  # the size is the edit's
    assert zoom.strength == 0.9 and zoom.model is None  # --model removed: the active model
    strong = await edit_request(
        service, settings, source, EditInput(EditKind.REGION, prompt="a sun --strength 0.4", cells=(1,))
    )
    assert strong.request.strength == 0.4 and strong.meta["prompt"] == "a sun --strength 0.4"
    from generation.requests.prompt import PromptError

    with pytest.raises(PromptError):
        await edit_request(
            service, settings, source, EditInput(EditKind.PAN, prompt="x --steps lots", direction="up")
        )


def test_edit_results_are_worded_and_get_the_grid_buttons():
    from bot.ui.text import headline
    from generation.requests.request import Edit, Pan

    base = GenerationRequest("a red circle", seed=1, count=4, source_image="x", width=64, height=64)
    region = base.replace(mode=Mode.INPAINT, edit=Edit(mask="uploads/m.png"))
    zoom = base.replace(mode=Mode.OUTPAINT, width=128, height=128, edit=Edit(zoom=2.0))
    custom = zoom.replace(edit=Edit(zoom=1.75))
    pan = base.replace(mode=Mode.OUTPAINT, width=96, edit=Edit(pan=Pan.LEFT))
    assert headline(region, 5) == "**a red circle** (region repainted) - <@5>"
    assert headline(zoom, 5) == "**a red circle** (zoom out 2x) - <@5>"
    assert "(zoom out 1.75x)" in headline(custom, 5) and "(pan left)" in headline(pan, 5)
    for request in (region, zoom, pan):  # an edit's result is a grid: upscale, vary, reroll it
        job = make_job(request)
        ids = [item.custom_id for item in result_view(job, DiscordSettings()).children]
        assert {f"img:u:{job.id}:3", f"img:v:{job.id}:0", f"img:r:{job.id}:0"} <= set(ids)
        assert not [i for i in ids if i.startswith("ed:")]


def test_remixing_a_reroll_of_an_edit_keeps_its_canvas_and_mask():
    from generation.requests.followups import reroll_of
    from generation.requests.request import Edit, Pan

    defaults = DefaultSettings(width=64, height=64, steps=20, sampler="Euler", count=4)
    pan = GenerationRequest(
        "a road",
        mode=Mode.OUTPAINT,
        source_image="j/0.png",
        width=192,
        height=128,
        strength=0.9,
        seed=3,
        edit=Edit(pan=Pan.LEFT),
    )
    again = remixed(reroll_of(pan), "a river", defaults)
    assert (again.mode, again.edit, again.size, again.prompt) == (
        Mode.OUTPAINT,
        pan.edit,
        (192, 128),
        "a river",
    )
    region = pan.replace(mode=Mode.INPAINT, width=64, height=64, edit=Edit(mask="uploads/m.png"))
    assert remixed(reroll_of(region), "a lake --w 512", defaults).edit.mask == "uploads/m.png"
