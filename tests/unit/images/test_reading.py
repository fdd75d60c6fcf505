"""Reading other tools' parameters (sd-parsers) from PNGs written in their documented layouts, and
this bot's own images; the request made from them, with what was mapped noted."""

import io
import json

import pytest
from PIL import Image

from generation.images.reading import (
    ImageParameters,
    ReadingError,
    closest_model,
    closest_sampler,
    read_image_parameters,
    request_from_image,
)
from generation.requests.request import GenerationRequest, HiresFix
from generation.settings import load_settings
from generation.workers.runner import encode_images
from tests.helpers.foreign_images import (
    COMFY_PROMPT,
    FOREIGN_PNGS,
    a1111_png,
    comfyui_png,
    invokeai_png,
    novelai_png,
    png,
)

SETTINGS = load_settings()
MODELS = ["shapes", "sd_xl_base_1.0", "stable-diffusion-v1-5"]


def notes(reading) -> dict[str, dict]:
    return {note.code: note.fields for note in reading.notes}


def read(data: bytes) -> ImageParameters:
    found = read_image_parameters(data)
    assert found is not None
    return found


@pytest.mark.parametrize("tool", list(FOREIGN_PNGS))
def test_each_tool_is_recognised(tool):
    assert read(FOREIGN_PNGS[tool]()).tool == tool


def test_a1111():
    found = read(a1111_png())
    assert (found.prompt, found.negative_prompt) == (
        "masterpiece, (red hair:1.2), a girl in a garden",
        "EasyNegative, lowres",
    )
    assert (found.steps, found.cfg_scale, found.seed, found.width, found.height) == (28, 6.5, 1234, 512, 768)
    assert (found.model, found.model_hash) == ("v1-5-pruned-emaonly", "6ce0161689")
    reading = request_from_image(found, SETTINGS, models=MODELS, active_model="shapes")
    request = reading.request
    assert request.sampler == "DPM++ 2M Karras"  # the separate schedule type joined
    assert (request.steps, request.cfg_scale, request.seed, request.size) == (28, 6.5, 1234, (512, 768))
    assert request.model is None  # not here: the active model
    assert notes(reading) == {"reading.model_missing": {"given": "v1-5-pruned-emaonly", "used": "shapes"}}
    assert request.count == SETTINGS.defaults.count


def test_comfyui_maps_its_names_and_brings_the_seed_in_range():
    found = read(comfyui_png())
    assert found.prompt == COMFY_PROMPT["6"]["inputs"]["text"]
    assert found.negative_prompt == "text, watermark"
    assert (found.steps, found.cfg_scale, found.width, found.height) == (20, 8.0, 1024, 768)
    reading = request_from_image(found, SETTINGS, models=MODELS, active_model="shapes")
    request = reading.request
    assert request.sampler == "DPM++ 2M Karras" and request.model == "sd_xl_base_1.0"  # folder, extension
    seed = COMFY_PROMPT["3"]["inputs"]["seed"]
    assert request.seed == seed % 4294967295
    assert notes(reading) == {"reading.seed_changed": {"given": seed, "used": request.seed}}


def test_invokeai():
    found = read(invokeai_png())
    assert (found.prompt, found.negative_prompt) == ("a cozy cabin in the snow, warm light", "blurry")
    reading = request_from_image(found, SETTINGS, models=MODELS, active_model="shapes")
    request = reading.request
    assert request.sampler == "DPM++ 2M Karras"  # dpmpp_2m_k
    assert (request.model, request.size, request.steps, request.seed) == (
        "stable-diffusion-v1-5",
        (768, 512),
        30,
        3405691582,
    )
    assert reading.notes == ()


def test_invokeai_4_names_its_model_name():
    metadata = {
        "positive_prompt": "a lake",
        "negative_prompt": "",
        "seed": 1,
        "steps": 10,
        "cfg_scale": 5,
        "scheduler": "euler",
        "model": {"key": "f0e1", "hash": "blake3:abcd", "name": "stable-diffusion-v1-5", "base": "sd-1"},
    }
    found = read(png({"invokeai_metadata": json.dumps(metadata)}))
    assert found.model == "stable-diffusion-v1-5" and found.sampler == "euler"


def test_novelai_and_a_model_only_similar_in_name_is_not_taken():
    found = read(novelai_png())
    assert (found.prompt, found.negative_prompt) == ("1girl, masterpiece, night sky", "lowres, bad anatomy")
    assert (found.steps, found.cfg_scale, found.width, found.height) == (28, 5.0, 832, 1216)
    assert (found.model, found.model_hash) == ("Stable Diffusion XL", "C1E1DE52")
    reading = request_from_image(found, SETTINGS, models=MODELS, active_model="shapes")
    assert reading.request.sampler == "Euler a" and reading.request.model is None
    assert notes(reading)["reading.model_missing"] == {"given": "Stable Diffusion XL", "used": "shapes"}


def test_values_beyond_the_limits_are_brought_in_and_noted():
    text = "a cat\nSteps: 500, Sampler: Euler, CFG scale: 35, Seed: 9, Size: 4096x4096"
    reading = request_from_image(read(png({"parameters": text})), SETTINGS, models=[], active_model=None)
    limits = SETTINGS.limits
    request = reading.request
    assert request.steps == limits.max_steps and request.cfg_scale == limits.max_cfg
    assert request.width * request.height <= limits.max_pixels and request.width == request.height
    assert set(notes(reading)) == {"reading.steps_changed", "reading.cfg_changed", "reading.size_changed"}
    assert notes(reading)["reading.size_changed"] == {"given": [4096, 4096], "used": list(request.size)}


def test_an_img2img_result_is_made_again_from_its_prompt():
    text = "a cat\nSteps: 20, Sampler: Euler a, CFG scale: 7, Seed: 9, Size: 64x64, Denoising strength: 0.4"
    reading = request_from_image(read(png({"parameters": text})), SETTINGS, models=[], active_model=None)
    assert reading.request.mode == "txt2img"
    assert notes(reading) == {"reading.made_from_an_image": {"mode": "img2img"}}
    hires = (
        "a cat\nSteps: 20, Sampler: Euler a, CFG scale: 7, Seed: 9, Size: 64x64, Denoising strength: 0.4, "
    )
    hires += "Hires upscale: 2, Hires upscaler: Latent"
    reading = request_from_image(read(png({"parameters": hires})), SETTINGS, models=[], active_model=None)
    assert reading.request.hires == HiresFix(scale=2.0, strength=0.4) and reading.notes == ()


def test_no_parameters_and_files_that_are_not_images():
    assert read_image_parameters(png({})) is None
    assert read_image_parameters(png({"Software": "GIMP"})) is None
    with pytest.raises(ReadingError) as caught:
        read_image_parameters(b"not an image at all")
    assert caught.value.code == "reading.not_an_image"
    with pytest.raises(ReadingError) as caught:
        read_image_parameters(a1111_png()[:200])  # truncated
    assert caught.value.code == "reading.not_an_image"
    with pytest.raises(ReadingError) as caught:
        read_image_parameters(png({"parameters": "x"}, size=(100, 100)), max_pixels=5000)
    assert caught.value.fields == {"width": 100, "height": 100, "max": 5000}


def test_a_jpeg_from_the_web_ui_is_read_too():
    from generation.images.metadata import encode_user_comment

    buffer = io.BytesIO()
    image = Image.new("RGB", (32, 32))
    exif = image.getexif()
    exif.get_ifd(0x8769)[0x9286] = encode_user_comment(
        "a dog\nSteps: 12, Sampler: Euler, CFG scale: 7, Seed: 5"
    )
    image.save(buffer, format="JPEG", exif=exif)
    found = read(buffer.getvalue())
    assert (found.tool, found.prompt, found.steps) == ("AUTOMATIC1111", "a dog", 12)


def test_this_bot_s_images_come_back_with_each_image_s_own_prompt():
    request = GenerationRequest(
        prompt="a {red|blue} ball",
        negative_prompt="blurry",
        seed=77,
        count=2,
        width=64,
        height=64,
        steps=7,
        cfg_scale=6.0,
        sampler="DPM++ 2M Karras",
        image_prompts=("a red ball", "a blue ball"),
    )
    images = [Image.new("RGB", (64, 64), colour) for colour in ("red", "blue")]
    encoded = encode_images(request, images, "shapes", "0123456789")
    for i, data in enumerate(encoded.images):
        found = read(data)
        assert found.prompt == request.prompt_for(i) and found.seed == 77 + i
        again = request_from_image(found, SETTINGS, models=["shapes"], active_model="other").request
        assert (again.prompt, again.negative_prompt, again.seed, again.steps, again.cfg_scale) == (
            request.prompt_for(i),
            "blurry",
            77 + i,
            7,
            6.0,
        )
        assert (again.sampler, again.model, again.size) == ("DPM++ 2M Karras", "shapes", (64, 64))
    assert read(encoded.grid).prompt == "a red ball"


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("DPM++ 2M Karras", ("DPM++ 2M Karras", True)),
        ("dpmpp_2m, Schedule type: karras", ("DPM++ 2M Karras", True)),
        ("euler_ancestral", ("Euler a", True)),
        ("k_euler_ancestral", ("Euler a", True)),
        ("dpmpp_2m_k", ("DPM++ 2M Karras", True)),
        ("dpmpp_2m_sde_k", ("DPM++ 2M SDE Karras", True)),
        ("kdpm_2_a", ("DPM2 a", False)),
        ("uni_pc_bh2", ("UniPC", False)),
        ("dpmpp_2m, Schedule type: exponential", ("DPM++ 2M", False)),
        ("k_dpmpp_2s_ancestral", ("DPM++ 2M", False)),
        ("zzz", None),
    ],
)
def test_sampler_names_map_to_the_closest(name, expected):
    assert closest_sampler(name) == expected


def test_model_names_map_only_when_they_are_the_same_checkpoint():
    names = ["sd_xl_base_1.0", "dreamshaper_8", "realisticVisionV50"]
    assert closest_model("sd_xl_base_1.0", names) == ("sd_xl_base_1.0", True)
    assert closest_model("C:\\models\\SD-XL-Base-1.0.safetensors", names) == ("sd_xl_base_1.0", True)
    assert closest_model("realisticVisionV51", names) == ("realisticVisionV50", False)
    assert closest_model("Stable Diffusion XL", names) is None
