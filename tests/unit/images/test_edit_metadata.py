"""The infotext of inpaints and outpaints: the web UI's inpainting keys, ours for zoom and pan."""

import pytest

from generation.images.metadata import (
    ParametersError,
    format_parameters,
    parse_parameters,
    read_parameters,
    request_from_parameters,
)
from generation.images.saving import save_job_images
from generation.requests.request import Edit, GenerationRequest, Mode, Pan

BASE = GenerationRequest("a red circle", width=128, height=128, steps=20, sampler="Euler", seed=5, count=1)


def line(request: GenerationRequest) -> str:
    return format_parameters(request, request.seed, "shapes", None).splitlines()[-1]


def test_an_inpaint_writes_the_web_uis_keys():
    whole = BASE.replace(mode=Mode.INPAINT, strength=1.0, edit=Edit(mask="m.png", mask_blur=4))
    assert line(whole).endswith("Model: shapes, Denoising strength: 1, Mask blur: 4")
    only = whole.replace(strength=0.75, edit=Edit(mask="m.png", mask_blur=8, only_masked=True, padding=48))
    assert line(only).endswith(
        "Denoising strength: 0.75, Mask blur: 8, Inpaint area: Only masked, Masked area padding: 48"
    )


def test_an_outpaint_writes_its_zoom_or_pan():
    zoom = BASE.replace(mode=Mode.OUTPAINT, width=256, height=256, strength=0.9, edit=Edit(zoom=2.0))
    assert line(zoom).endswith(
        "Size: 256x256, Model: shapes, Denoising strength: 0.9, Mask blur: 4, Zoom out: 2"
    )
    pan = zoom.replace(width=192, height=128, edit=Edit(pan=Pan.LEFT, mask_blur=6))
    assert line(pan).endswith("Mask blur: 6, Pan: left")


@pytest.mark.parametrize(
    "edit_mode",
    [
        (Mode.INPAINT, Edit(mask_blur=4)),
        (Mode.INPAINT, Edit(mask_blur=0, only_masked=True, padding=16)),
        (Mode.OUTPAINT, Edit(zoom=1.5)),
        (Mode.OUTPAINT, Edit(mask_blur=2, pan=Pan.DOWN)),
    ],
)
def test_edits_read_back_through_a_png(tmp_path, edit_mode):
    from PIL import Image

    mode, edit = edit_mode
    request = BASE.replace(mode=mode, strength=0.8, edit=edit)
    saved = save_job_images(tmp_path, "job", request, [Image.new("RGB", (128, 128))], "shapes", None)
    back = request_from_parameters(read_parameters(saved.images[0]))
    assert back == request.replace(model="shapes")  # the mask, like the source, is not in the text


def test_the_web_uis_own_inpaint_infotext_reads_as_an_inpaint():
    text = (
        "a cat\nSteps: 20, Sampler: Euler a, CFG scale: 7, Seed: 1, Size: 512x512, Denoising strength: 0.44, "
    )
    text += "Mask blur: 7, Inpaint area: Only masked, Masked area padding: 48"
    request = request_from_parameters(text)
    assert request.mode is Mode.INPAINT and request.strength == 0.44
    assert request.edit == Edit(mask_blur=7, only_masked=True, padding=48)
    plain = request_from_parameters(text.split(", Mask blur")[0])
    assert plain.mode is Mode.IMG2IMG and plain.edit is None


def test_a_bad_pan_is_a_parameters_error():
    text = "x\nSteps: 20, Sampler: Euler, Seed: 1, Denoising strength: 0.9, Mask blur: 4, Pan: sideways"
    assert parse_parameters(text)["Pan"] == "sideways"
    with pytest.raises(ParametersError) as info:
        request_from_parameters(text)
    assert info.value.fields == {"key": "Pan", "value": "sideways", "kind": "direction"}
