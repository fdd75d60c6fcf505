"""Dedicated inpainting checkpoints (a 9-channel UNet): recognised, loaded, and used natively."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import save_file

from generation.images.masks import feather_reach, grid_mask
from generation.models import (
    ModelRegistry,
    detect_architecture,
    detect_file,
    load_model,
    save_ldm_single_file,
)
from generation.models.arch import Arch
from generation.models.loading import plan_single_file
from generation.models.tiny import build_tiny_inpaint_pipeline
from generation.pipelines.engine import generate
from generation.pipelines.inpaint import inpaint_pipeline, is_inpainting_model
from generation.requests.request import Edit, GenerationRequest, HiresFix, Mode
from generation.settings import ModelSettings
from tests.unit.models.test_models import UNET, sd1_shapes, sdxl_shapes

CPU = ModelSettings(device="cpu")


@pytest.fixture(scope="module")
def inpaint_models(tmp_path_factory):
    """A tiny inpainting checkpoint as a diffusers folder and as an LDM single file with skeleton."""
    root = tmp_path_factory.mktemp("models")
    pipe = build_tiny_inpaint_pipeline()
    pipe.save_pretrained(root / "tiny-inpaint", safe_serialization=True)
    save_ldm_single_file(pipe, root / "tiny-inpaint-ldm.safetensors", config_folder=True)
    return root, pipe


@pytest.fixture(scope="module")
def loaded(inpaint_models):
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    root, _ = inpaint_models
    registry = ModelRegistry(root)
    yield load_model(registry.get("tiny-inpaint"), CPU, registry)
    torch.set_num_threads(threads)


def test_nine_input_channels_are_an_inpainting_checkpoint(inpaint_models):
    root, _ = inpaint_models
    detected = detect_file(root / "tiny-inpaint-ldm.safetensors")
    assert detected.inpainting and detected.arch is Arch.SD1 and "inpainting" in detected.describe()
    assert not detect_architecture(sd1_shapes()).inpainting
    xl = detect_architecture({**sdxl_shapes(), UNET + "input_blocks.0.0.weight": (1, 9, 1, 1)})
    assert xl.arch is Arch.SDXL and xl.inpainting


def test_a_standard_inpainting_file_gets_a_nine_channel_skeleton(tmp_path):
    shapes = {**sd1_shapes(), UNET + "input_blocks.0.0.weight": (320, 9, 3, 3)}
    save_file({k: torch.zeros(s) for k, s in shapes.items()}, str(tmp_path / "sd-inpainting.safetensors"))
    registry = ModelRegistry(tmp_path)
    plan = plan_single_file(registry.get("sd-inpainting"), registry.cache_dir)
    assert plan.detection.inpainting and plan.source == "detected"
    assert json.loads((plan.config_dir / "unet" / "config.json").read_text())["in_channels"] == 9
    plain = tmp_path / "plain"
    plain.mkdir()
    save_file({k: torch.zeros(s) for k, s in sd1_shapes().items()}, str(plain / "sd.safetensors"))
    other = ModelRegistry(plain)
    assert (
        json.loads(
            (
                plan_single_file(other.get("sd"), other.cache_dir).config_dir / "unet" / "config.json"
            ).read_text()
        )["in_channels"]
        == 4
    )


@pytest.mark.parametrize("name", ["tiny-inpaint", "tiny-inpaint-ldm"])
def test_folder_and_single_file_load_as_an_inpaint_pipeline(inpaint_models, name):
    root, pipe = inpaint_models
    registry = ModelRegistry(root)
    model = load_model(registry.get(name), CPU, registry)
    assert type(model.pipe).__name__ == "StableDiffusionInpaintPipeline" and is_inpainting_model(model)
    assert inpaint_pipeline(model) is model.pipe  # used as it is, nothing derived
    want, got = pipe.unet.state_dict(), model.pipe.unet.state_dict()
    assert all(torch.equal(want[k], got[k]) for k in want)


def _spy_unet_inputs(monkeypatch, unet) -> list[int]:
    channels: list[int] = []
    forward = unet.forward

    def spy(sample, *args, **kwargs):
        channels.append(int(sample.shape[1]))
        return forward(sample, *args, **kwargs)

    monkeypatch.setattr(unet, "forward", spy)
    return channels


def test_every_mode_runs_natively_on_an_inpainting_checkpoint(loaded, monkeypatch):
    channels = _spy_unet_inputs(monkeypatch, loaded.pipe.unet)
    base = GenerationRequest("a red circle", width=64, height=64, steps=2, seed=3, count=2, sampler="Euler")
    [images] = generate(loaded, [base])  # text-to-image: the web UI's all-white mask
    assert [im.size for im in images] == [(64, 64)] * 2
    [[hires]] = generate(loaded, [base.replace(count=1, hires=HiresFix(2.0, 0.5))])
    assert hires.size == (128, 128)
    picture = images[0]
    [[varied]] = generate(loaded, [base.replace(mode=Mode.IMG2IMG, strength=0.5, count=1)], sources=[picture])
    assert varied.size == (64, 64)
    assert channels and set(channels) == {9}  # the mask and the masked picture go into the UNet


def test_an_inpainting_checkpoint_repaints_the_mask_and_keeps_the_rest(loaded):
    rng = np.random.default_rng(1)
    picture = Image.fromarray(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8))
    mask = grid_mask(64, 64, [6, 7])
    request = GenerationRequest(
        "a red circle",
        mode=Mode.INPAINT,
        width=64,
        height=64,
        steps=3,
        seed=8,
        count=1,
        strength=1.0,
        source_image="unused.png",
        edit=Edit(mask="unused.png", mask_blur=2),
    )
    [[image]] = generate(loaded, [request], sources=[picture], masks=[mask])
    changed = (np.asarray(image) != np.asarray(picture)).any(axis=-1)
    reach = feather_reach(2)
    keep = np.ones((64, 64), dtype=bool)
    keep[16 - reach : 32 + reach, 16 - reach : 48 + reach] = False
    assert not changed[keep].any() and changed[16 + reach : 32 - reach, 16 + reach : 48 - reach].mean() > 0.9
