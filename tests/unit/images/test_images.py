import hashlib
import io
import os

import numpy as np
import pytest
from PIL import Image

from generation.images.encoding import EncodedImage, encode_under_limit
from generation.images.grid import make_grid
from generation.images.metadata import (
    ParametersError,
    format_parameters,
    parse_parameters,
    read_parameters,
    request_from_parameters,
)
from generation.images.saving import SavedImages, save_job_images
from generation.requests.request import GenerationRequest, HiresFix, Mode, Variation

COLORS = [(255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 0)]


def solid(color, size=(64, 48)):
    return Image.new("RGB", size, color)


# -- grids -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("count", "grid_size", "cells"),
    [
        (1, (64, 48), [(0, 0)]),
        (2, (128, 48), [(0, 0), (64, 0)]),
        (3, (128, 96), [(0, 0), (64, 0), (0, 48)]),
        (4, (128, 96), [(0, 0), (64, 0), (0, 48), (64, 48)]),
    ],
)
def test_grid_layouts(count, grid_size, cells):
    images = [solid(c) for c in COLORS[:count]]
    grid = make_grid(images)
    assert grid.size == grid_size and grid.mode == "RGB"
    for (x, y), color in zip(cells, COLORS, strict=False):
        assert grid.getpixel((x + 10, y + 10)) == color
    if count == 3:
        assert grid.getpixel((64 + 10, 48 + 10)) == (0, 0, 0)  # the empty cell


def test_grid_of_one_is_a_copy():
    image = solid(COLORS[0])
    grid = make_grid([image])
    assert grid is not image and grid.tobytes() == image.tobytes()


def test_grid_works_for_any_equal_size_and_refuses_mixed_sizes():
    assert make_grid([solid(c, (40, 100)) for c in COLORS]).size == (80, 200)
    with pytest.raises(ValueError, match="one size"):
        make_grid([solid(COLORS[0]), solid(COLORS[1], (10, 10))])
    with pytest.raises(ValueError):
        make_grid([])


# -- parameters ------------------------------------------------------------------------------

BASIC = GenerationRequest(prompt="a lighthouse at dusk", seed=123, steps=20, cfg_scale=7.0, sampler="Euler a")


def test_format_parameters_basic_and_negative_line_left_out_when_empty():
    text = format_parameters(BASIC, 123, "shapes", "43f0501ac4")
    assert text == (
        "a lighthouse at dusk\n"
        "Steps: 20, Sampler: Euler a, CFG scale: 7, Seed: 123, Size: 512x512, "
        "Model hash: 43f0501ac4, Model: shapes"
    )
    assert "Negative prompt" not in text


def test_format_parameters_extra_keys_in_order():
    r = BASIC.replace(
        negative_prompt="fog, boats",
        cfg_scale=6.5,
        sampler="DPM++ 2M Karras",
        width=680,
        height=384,
        hires=HiresFix(2.0, 0.45, 10),
        variation=Variation(77, 0.25),
        tiling=True,
    )
    text = format_parameters(r, 124, "shapes", None)
    assert text.split("\n") == [
        "a lighthouse at dusk",
        "Negative prompt: fog, boats",
        "Steps: 20, Sampler: DPM++ 2M Karras, CFG scale: 6.5, Seed: 124, Size: 680x384, Model: shapes, "
        "Denoising strength: 0.45, Hires upscale: 2, Hires steps: 10, Hires upscaler: Latent, "
        "Variation seed: 77, Variation seed strength: 0.25, Tiling: True",
    ]


def test_values_with_commas_colons_newlines_are_json_quoted():
    text = format_parameters(BASIC, 1, "odd, name: v2\nx", None)
    assert text.endswith('Model: "odd, name: v2\\nx"')
    assert parse_parameters(text)["Model"] == "odd, name: v2\nx"


def test_metadata_round_trip_through_a_png_on_disk(tmp_path):
    r = GenerationRequest(
        prompt="a (red:1.2) fox, snow\nsecond line",
        negative_prompt="blurry, text: signature",
        width=640,
        height=448,
        steps=30,
        cfg_scale=6.5,
        sampler="DPM++ 2M Karras",
        seed=4000000000,
        count=1,
        model="my, model",
        hires=HiresFix(1.5, 0.4, 12),
        variation=Variation(99, 0.3),
        tiling=True,
    )
    saved = save_job_images(tmp_path, "job1", r, [solid(COLORS[0])], "my, model", "0123456789")
    text = read_parameters(saved.images[0])
    assert text == format_parameters(r, r.seed, "my, model", "0123456789")
    params = parse_parameters(text)
    assert params["prompt"] == r.prompt
    assert params["negative_prompt"] == r.negative_prompt
    assert params["Model"] == "my, model"
    assert params["Model hash"] == "0123456789"
    assert params["Size"] == "640x448"
    assert request_from_parameters(text) == r


def test_round_trip_img2img_and_upscale():
    r = GenerationRequest(prompt="", mode=Mode.IMG2IMG, strength=0.6, seed=5, count=1)
    assert request_from_parameters(format_parameters(r, 5, None, None)) == r
    u = GenerationRequest(prompt="x", mode=Mode.UPSCALE, strength=0.3, upscale_factor=2.0, seed=5, count=1)
    back = request_from_parameters(format_parameters(u, 5, None, None))
    assert (back.mode, back.upscale_factor, back.strength) == (Mode.UPSCALE, 2.0, 0.3)


def test_unicode_prompt_survives_a_png(tmp_path):
    r = BASIC.replace(prompt="東京の夜景, ネオン", count=1)
    saved = save_job_images(tmp_path, "j", r, [solid(COLORS[0])], "shapes", None)
    assert parse_parameters(read_parameters(saved.grid))["prompt"] == "東京の夜景, ネオン"


REAL_WORLD = (
    "masterpiece, best quality, 1girl, (colorful),(finely detailed beautiful eyes and detailed face),"
    "cinematic lighting\n"
    "Negative prompt: EasyNegative, (worst quality:1.4), (low quality:1.4), lowres, bad anatomy\n"
    "Steps: 30, Sampler: DPM++ 2M, Schedule type: Karras, CFG scale: 7, Seed: 3075253520, Size: 512x768, "
    "Model hash: 7f96a1a9ca, Model: anything-v5, VAE hash: 735e4c3a44, "
    "VAE: vae-ft-mse-840000-ema-pruned.safetensors, Denoising strength: 0.5, Clip skip: 2, "
    'Hires upscale: 2, Hires steps: 15, Hires upscaler: R-ESRGAN 4x+ Anime6B, Lora hashes: "add_detail: '
    '7c6bad76eb54", TI hashes: "EasyNegative: c74b4e810b03", Version: v1.10.1'
)


def test_parse_a_real_world_web_ui_string():
    params = parse_parameters(REAL_WORLD)
    assert params["prompt"].startswith("masterpiece, best quality") and params["prompt"].endswith("lighting")
    assert params["negative_prompt"].startswith("EasyNegative, (worst quality:1.4)")
    assert params["Sampler"] == "DPM++ 2M Karras"
    assert params["Schedule type"] == "Karras"
    assert params["Lora hashes"] == "add_detail: 7c6bad76eb54"
    assert params["Version"] == "v1.10.1"
    r = request_from_parameters(REAL_WORLD)
    assert (r.steps, r.cfg_scale, r.seed, r.size, r.model) == (30, 7.0, 3075253520, (512, 768), "anything-v5")
    assert r.sampler == "DPM++ 2M Karras"
    assert r.hires == HiresFix(2.0, 0.5, 15)
    assert r.mode is Mode.TXT2IMG and r.count == 1


def test_schedule_types_that_are_not_part_of_a_name():
    params = parse_parameters(
        "x\nSteps: 20, Sampler: Euler a, Schedule type: Automatic, CFG scale: 7, Seed: 1"
    )
    assert params["Sampler"] == "Euler a"
    old = parse_parameters("x\nSteps: 20, Sampler: DPM++ 2M Karras, Schedule type: Karras, CFG scale: 7")
    assert old["Sampler"] == "DPM++ 2M Karras"


def test_text_without_keys_is_all_prompt():
    assert parse_parameters("just a prompt\nover two lines") == {
        "prompt": "just a prompt\nover two lines",
        "negative_prompt": "",
    }


def test_bad_values_raise_parameters_error():
    with pytest.raises(ParametersError) as info:
        request_from_parameters("x\nSteps: many, Sampler: Euler a, CFG scale: 7, Seed: 1")
    assert info.value == ParametersError("image.bad_parameter", key="Steps", value="many", kind="int")
    assert isinstance(info.value, ValueError)
    with pytest.raises(ParametersError) as info:
        request_from_parameters("x\nSteps: 20, Sampler: Euler a, Size: big, Seed: 1")
    assert info.value.fields == {"key": "Size", "value": "big", "kind": "size"}
    with pytest.raises(ParametersError) as info:
        request_from_parameters("x\nSteps: 20, Sampler: Euler a, CFG scale: inf, Seed: 1")
    assert info.value.fields == {"key": "CFG scale", "value": "inf", "kind": "number", "reason": "infinite"}


def test_read_parameters_without_metadata(tmp_path):
    plain = tmp_path / "plain.png"
    solid(COLORS[0]).save(plain)
    assert read_parameters(plain) is None
    junk = tmp_path / "junk.png"
    junk.write_bytes(b"not an image")
    assert read_parameters(junk) is None


# -- saving a job ----------------------------------------------------------------------------


def test_save_job_images_writes_each_image_with_its_seed(tmp_path):
    r = BASIC.replace(count=4, seed=4294967293)
    images = [solid(c) for c in COLORS]
    saved = save_job_images(tmp_path / "out", "abc123", r, images, "shapes", "43f0501ac4")
    assert isinstance(saved, SavedImages)
    folder = tmp_path / "out" / "abc123"
    assert saved.grid == folder / "grid.png"
    assert saved.images == [folder / f"{i}.png" for i in range(4)]
    assert saved.seeds == [4294967293, 4294967294, 0, 1]  # seed + i wraps like request.seeds
    assert saved.seeds == r.seeds
    for path, seed, color in zip(saved.images, saved.seeds, COLORS, strict=True):
        assert parse_parameters(read_parameters(path))["Seed"] == str(seed)
        with Image.open(path) as image:
            assert image.getpixel((0, 0)) == color
    assert parse_parameters(read_parameters(saved.grid))["Seed"] == str(saved.seeds[0])
    with Image.open(saved.grid) as grid:
        assert grid.size == (128, 96)
    assert sorted(p.name for p in folder.iterdir()) == ["0.png", "1.png", "2.png", "3.png", "grid.png"]


def test_save_job_images_refuses_random_seed_and_odd_job_ids(tmp_path):
    with pytest.raises(ValueError, match="resolve"):
        save_job_images(tmp_path, "j", BASIC.replace(seed=-1), [solid(COLORS[0])], None, None)
    with pytest.raises(ValueError, match="plain file name"):
        save_job_images(tmp_path, "../x", BASIC, [solid(COLORS[0])], None, None)


# -- upload encoder --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def noisy_grid_path(tmp_path_factory):
    rng = np.random.default_rng(0)
    tiles = [Image.fromarray(rng.integers(0, 256, (1024, 1024, 3), dtype=np.uint8)) for _ in range(4)]
    r = BASIC.replace(count=4, width=1024, height=1024)
    saved = save_job_images(tmp_path_factory.mktemp("out"), "noisy", r, tiles, "shapes", "43f0501ac4")
    return saved.grid


def digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest(), os.stat(path).st_mtime_ns


@pytest.mark.parametrize("limit", [100_000, 200_000])
def test_encoder_stays_under_the_limit_on_a_large_noisy_grid(noisy_grid_path, limit):
    before = digest(noisy_grid_path)
    assert os.path.getsize(noisy_grid_path) > 10 * limit
    encoded = encode_under_limit(noisy_grid_path, limit, name="grid")
    assert isinstance(encoded, EncodedImage)
    assert len(encoded.data) <= limit
    assert encoded.format in ("WEBP", "JPEG")
    assert encoded.filename == f"grid.{ {'WEBP': 'webp', 'JPEG': 'jpg'}[encoded.format] }"
    with Image.open(io.BytesIO(encoded.data)) as image:
        assert image.format == encoded.format
        assert image.size[0] == image.size[1] and image.size[0] >= 64  # the shape is kept
        # The parameters travel in the EXIF UserComment, as the web UI writes them.
        assert parse_parameters(read_parameters(io.BytesIO(encoded.data)))["Seed"] == str(BASIC.seed)
    assert digest(noisy_grid_path) == before  # the original is untouched


def test_small_png_goes_as_is_with_its_text_chunk(tmp_path):
    saved = save_job_images(tmp_path, "j", BASIC.replace(count=1), [solid(COLORS[0])], "shapes", None)
    before = digest(saved.images[0])
    encoded = encode_under_limit(saved.images[0], 10 * 1024 * 1024)
    assert encoded.data == saved.images[0].read_bytes()
    assert (encoded.filename, encoded.format) == ("image.png", "PNG")
    assert read_parameters(io.BytesIO(encoded.data)) == read_parameters(saved.images[0])
    assert digest(saved.images[0]) == before


def test_large_png_becomes_webp_at_a_generous_limit(noisy_grid_path):
    encoded = encode_under_limit(noisy_grid_path, 4 * 1024 * 1024)
    assert encoded.format == "WEBP" and len(encoded.data) <= 4 * 1024 * 1024
    with Image.open(io.BytesIO(encoded.data)) as image:
        assert image.size == (2048, 2048)  # quality alone was enough: full size kept


def test_encoder_takes_an_image_object():
    image = solid(COLORS[2], (256, 256))
    encoded = encode_under_limit(image, 1_000_000, name="x")
    assert (encoded.filename, encoded.format) == ("x.png", "PNG")
    with pytest.raises(ValueError):
        encode_under_limit(image, 0)


@pytest.mark.parametrize(
    ("item", "key", "reason", "digits"),
    [
        ("Seed: " + "1" * 4400, "Seed", "too_large", 4400),  # past Python's int() limit
        ("Steps: " + "9" * 400, "Steps", "too_large", 400),
        ("CFG scale: nan", "CFG scale", "nan", None),
        ("CFG scale: 1e999", "CFG scale", "too_large", None),
        ("Size: " + "9" * 400 + "x512", "Size", "too_large", 400),
        ("Denoising strength: -inf", "Denoising strength", "infinite", None),
        ("Hires upscale: NaN", "Hires upscale", "nan", None),
        ("Variation seed: " + "7" * 5000, "Variation seed", "too_large", 5000),
    ],
)
def test_numbers_read_back_are_bounded_like_typed_ones(item, key, reason, digits):
    from generation.cli.errors import problem_line

    with pytest.raises(ParametersError) as info:
        request_from_parameters(f"x\nSteps: 20, Sampler: Euler a, Seed: 1, {item}")
    fields = info.value.fields
    assert (fields["key"], fields["reason"], fields.get("digits")) == (key, reason, digits)
    assert len(problem_line(info.value)) < 300
