"""The edit flows' pieces: edit inputs, cells in custom_ids, the edit buttons, the grid picture,
remix text, form values."""

from __future__ import annotations

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
