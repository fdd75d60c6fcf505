"""The engine on the tiny random model (CPU, 64x64, a few steps)."""

import gc
import sys
import types
import weakref

import numpy as np
import pytest
import torch
from diffusers import (
    EulerDiscreteScheduler,
    StableDiffusionPipeline,
    StableDiffusionXLPipeline,
    UNet2DConditionModel,
)
from PIL import Image
from transformers import CLIPTextModel, CLIPTextModelWithProjection

from generation.models.arch import Arch
from generation.models.loaded import LoadedModel, ModelEntry
from generation.models.loading import unload_model
from generation.models.tiny import SD_SCHEDULER, load_clip_tokenizer, tiny_text_config, tiny_vae
from generation.pipelines import engine, noise
from generation.pipelines.engine import generate
from generation.pipelines.previews import latent_previews, preview
from generation.pipelines.upscalers import UpscalerUnavailable
from generation.progress import Cancelled, CancelToken, Progress
from generation.requests.request import GenerationRequest, HiresFix, Mode, Variation
from generation.requests.samplers import SAMPLER_NAMES, UnknownSampler, estimate_steps
from generation.settings import ModelSettings


def req(**changes) -> GenerationRequest:
    base = GenerationRequest(
        "a red circle", width=64, height=64, steps=3, seed=1234, count=1, sampler="Euler a"
    )
    return base.replace(**changes)


def pixels(image: Image.Image) -> np.ndarray:
    return np.asarray(image).astype(np.int16)


def same(a: Image.Image, b: Image.Image) -> bool:
    return a.size == b.size and bool((pixels(a) == pixels(b)).all())


@pytest.fixture(autouse=True)
def no_cached_upscaler(tiny_loaded):
    tiny_loaded.derived.pop("upscaler", None)
    yield
    tiny_loaded.derived.pop("upscaler", None)


@pytest.fixture
def source(tmp_path):
    path = tmp_path / "source.png"
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 256, (48, 80, 3), dtype=np.uint8)).save(path)
    return str(path)


def run(model, requests, **kwargs):
    steps: list[Progress] = []
    images = generate(model, requests, on_progress=steps.append, **kwargs)
    return images, steps


# -- samplers, seeds, batching -------------------------------------------------------------------


@pytest.mark.parametrize("sampler", SAMPLER_NAMES)
def test_every_sampler_runs(tiny_loaded, sampler):
    request = req(sampler=sampler, steps=2)
    images, steps = run(tiny_loaded, [request])
    assert len(images) == 1 and len(images[0]) == 1
    assert images[0][0].size == (64, 64) and images[0][0].mode == "RGB"
    assert [p.step for p in steps] == list(range(1, estimate_steps(request) + 1))
    assert {p.total for p in steps} == {estimate_steps(request)}
    assert tiny_loaded.pipe.scheduler.__class__.__name__ == "EulerDiscreteScheduler"  # restored


def test_same_request_same_pixels(tiny_loaded):
    first = generate(tiny_loaded, [req(count=2)])
    second = generate(tiny_loaded, [req(count=2)])
    assert all(same(a, b) for a, b in zip(first[0], second[0], strict=True))
    assert not same(first[0][0], first[0][1])  # seed and seed + 1 differ


@pytest.mark.parametrize("sampler", ["Euler a", "DPM++ 2M Karras"])
def test_image_i_of_a_batch_equals_its_seed_alone(tiny_loaded, sampler):
    batch = generate(tiny_loaded, [req(count=4, seed=500, sampler=sampler)], batch_invariant=True)[0]
    for i, image in enumerate(batch):
        lone = req(count=1, seed=500 + i, sampler=sampler)
        alone = generate(tiny_loaded, [lone], batch_invariant=True)[0][0]
        assert same(image, alone), i


def test_requests_batched_together_equal_each_alone(tiny_loaded):
    a = req(prompt="a blue square", count=2, seed=7)
    b = req(
        prompt="a green triangle", negative_prompt="blurry", count=3, seed=99, variation=Variation(5, 0.3)
    )
    together = generate(tiny_loaded, [a, b], batch_invariant=True)
    assert [len(images) for images in together] == [2, 3]
    for request, images in zip([a, b], together, strict=True):
        alone = generate(tiny_loaded, [request], batch_invariant=True)[0]
        assert all(same(x, y) for x, y in zip(images, alone, strict=True))


def test_batched_unet_matches_within_rounding(tiny_loaded):
    """The default: the UNet batched; GEMM rounding may move a few pixels by a level."""
    batch = generate(tiny_loaded, [req(count=3, seed=40)])[0]
    for i, image in enumerate(batch):
        alone = generate(tiny_loaded, [req(count=1, seed=40 + i)])[0][0]
        diff = np.abs(pixels(image) - pixels(alone))
        assert diff.max() <= 2 and (diff > 0).mean() < 0.01
    assert "forward" not in vars(tiny_loaded.pipe.unet)


def test_noise_comes_from_a_cpu_generator_per_seed():
    drawn, generators = noise.initial_noise([3, 4], [None, None], (1, 4, 8, 8))
    assert torch.equal(drawn[1:], torch.randn((1, 4, 8, 8), generator=torch.Generator("cpu").manual_seed(4)))
    assert len(generators) == 2


def test_variation_seed(tiny_loaded):
    plain = generate(tiny_loaded, [req(count=2)])[0]
    zero = generate(tiny_loaded, [req(count=2, variation=Variation(seed=77, strength=0.0))])[0]
    varied = generate(tiny_loaded, [req(count=2, variation=Variation(seed=77, strength=0.5))])[0]
    assert all(same(a, b) for a, b in zip(plain, zero, strict=True))
    assert not same(plain[0], varied[0])
    full = noise.slerp(1.0, torch.zeros(2), torch.ones(2))
    assert torch.equal(full, torch.ones(2))


# -- img2img -------------------------------------------------------------------------------------


def test_img2img_runs_int_steps_times_strength(tiny_loaded, source):
    request = req(mode=Mode.IMG2IMG, source_image=source, steps=20, strength=0.75, sampler="Euler", count=2)
    images, steps = run(tiny_loaded, [request])
    assert len(steps) == 15 and steps[-1].total == 15 == estimate_steps(request)
    assert [im.size for im in images[0]] == [(64, 64), (64, 64)]
    assert engine.img2img_pipeline(tiny_loaded).unet is tiny_loaded.pipe.unet  # shares the weights


def test_img2img_tiny_strength_still_runs_one_step(tiny_loaded, source):
    request = req(mode=Mode.IMG2IMG, source_image=source, steps=10, strength=0.05, sampler="Euler")
    images, steps = run(tiny_loaded, [request])
    assert [p.step for p in steps] == [1] and steps[0].total == 1 == estimate_steps(request)
    assert images[0][0].size == (64, 64)


def test_img2img_heun_counts_both_evaluations(tiny_loaded, source):
    request = req(mode=Mode.IMG2IMG, source_image=source, steps=4, strength=0.5, sampler="Heun")
    _, steps = run(tiny_loaded, [request])
    assert len(steps) == 3 == estimate_steps(request)  # 2 steps: 2 + 1 evaluations


# -- progress, previews, cancel ------------------------------------------------------------------


def test_previews_only_when_asked(tiny_loaded):
    settings = ModelSettings(preview_every=2)
    a, b = req(count=2, steps=4), req(count=1, steps=4, seed=5)
    _, steps = run(tiny_loaded, [a, b], want_preview=True, settings=settings)
    assert [p.preview is not None for p in steps] == [False, True, False, True]
    shown = steps[1]
    assert len(shown.previews) == 2 and shown.preview is shown.previews[0]
    assert all(max(im.size) <= 256 and im.mode == "RGB" for im in shown.previews)
    assert shown.previews[0].size == (128, 64)  # two 8x8 latents side by side, 8x each
    _, quiet = run(tiny_loaded, [a], want_preview=False)
    assert all(p.preview is None and p.previews == () for p in quiet)


def test_preview_projection_for_other_latents():
    latents = torch.randn(2, 4, 16, 12)
    assert preview(latents, Arch.SDXL).size == (192, 128)
    odd = latent_previews(torch.randn(1, 16, 128, 128), "flux")
    assert odd[0].size == (256, 256)


def _spy_decode(monkeypatch, vae):
    calls = []
    decode = vae.decode

    def spy(*args, **kwargs):
        calls.append(1)
        return decode(*args, **kwargs)

    monkeypatch.setattr(vae, "decode", spy)
    return calls


def test_cancel_from_progress_stops_without_decoding(tiny_loaded, monkeypatch):
    calls = _spy_decode(monkeypatch, tiny_loaded.pipe.vae)
    token = CancelToken()
    seen = []

    def on_progress(progress):
        seen.append(progress.step)
        if progress.step == 2:
            token.cancel()

    with pytest.raises(Cancelled):
        generate(tiny_loaded, [req(steps=6, count=2)], on_progress=on_progress, cancel=token)
    assert seen == [1, 2]
    assert calls == []
    assert tiny_loaded.pipe.scheduler.__class__.__name__ == "EulerDiscreteScheduler"
    generate(tiny_loaded, [req(steps=1)])
    assert calls == [1]  # the spy does see decodes


def test_cancelled_before_start(tiny_loaded):
    token = CancelToken()
    token.cancel()
    assert token.cancelled
    seen = []
    with pytest.raises(Cancelled):
        generate(tiny_loaded, [req()], on_progress=seen.append, cancel=token)
    assert seen == []


# -- tiling, hires, upscale ----------------------------------------------------------------------


def test_tiling_uses_circular_padding_and_restores_it(tiny_loaded):
    convs = [m for m in tiny_loaded.pipe.unet.modules() if isinstance(m, torch.nn.Conv2d)]
    convs += [m for m in tiny_loaded.pipe.vae.modules() if isinstance(m, torch.nn.Conv2d)]
    during = []
    images = generate(
        tiny_loaded,
        [req(tiling=True)],
        on_progress=lambda p: during.append({c.padding_mode for c in convs}),
    )
    assert during and all(modes == {"circular"} for modes in during)
    assert {c.padding_mode for c in convs} == {"zeros"}
    assert not same(images[0][0], generate(tiny_loaded, [req()])[0][0])


def test_hires_fix_scales_the_output(tiny_loaded):
    request = req(count=2, steps=2, hires=HiresFix(scale=2.0, strength=0.5))
    images, steps = run(tiny_loaded, [request])
    assert [im.size for im in images[0]] == [(128, 128)] * 2
    assert len(steps) == estimate_steps(request) == 2 + 1
    assert steps[-1].total == 3


def test_upscale_doubles_the_size(tiny_loaded, source):
    request = req(mode=Mode.UPSCALE, source_image=source, steps=4, strength=0.3, count=4)
    images, steps = run(tiny_loaded, [request])
    assert len(images) == 1 and len(images[0]) == 1  # one image whatever the count
    assert images[0][0].size == (160, 96)
    assert len(steps) == 1 == estimate_steps(request)


def test_upscale_at_strength_zero_is_lanczos(tiny_loaded, source):
    request = req(mode=Mode.UPSCALE, source_image=source, strength=0.0, upscale_factor=1.5)
    images, steps = run(tiny_loaded, [request])
    assert images[0][0].size == (120, 72) and steps == [] and estimate_steps(request) == 0


def test_upscaler_without_spandrel_names_the_package(tiny_loaded, source, monkeypatch):
    monkeypatch.setitem(sys.modules, "spandrel", None)  # as if not installed
    request = req(mode=Mode.UPSCALE, source_image=source)
    with pytest.raises(UpscalerUnavailable, match="spandrel"):
        generate(tiny_loaded, [request], settings=ModelSettings(upscaler="4x-UltraSharp.pth"))


def _fake_spandrel(monkeypatch):
    class Descriptor:
        scale = 2

        def __init__(self):
            self.calls = []
            self.device = None

        def to(self, device):
            self.device = device
            return self

        def eval(self):
            return self

        def __call__(self, image):
            self.calls.append(tuple(image.shape))
            return torch.nn.functional.interpolate(image, scale_factor=2, mode="nearest")

    descriptor = Descriptor()
    loaded = []

    class ModelLoader:
        def load_from_file(self, path):
            loaded.append(path)
            return descriptor

    module = types.ModuleType("spandrel")
    module.ModelLoader = ModelLoader
    monkeypatch.setitem(sys.modules, "spandrel", module)
    return descriptor, loaded


def test_upscaler_through_spandrel(tiny_loaded, source, tmp_path, monkeypatch):
    descriptor, loaded = _fake_spandrel(monkeypatch)
    weights = tmp_path / "2x-fake.pth"
    weights.write_bytes(b"not really weights")
    request = req(mode=Mode.UPSCALE, source_image=source, strength=0.0)
    images = generate(tiny_loaded, [request], upscaler_path=weights)
    assert images[0][0].size == (160, 96)
    assert loaded == [str(weights)] and descriptor.calls == [(1, 3, 48, 80)]
    assert descriptor.device == tiny_loaded.device
    # The nearest-neighbour fake keeps 2x2 blocks: the result is the model's, not Lanczos'.
    array = pixels(images[0][0])
    assert (array[0::2, 0::2] == array[1::2, 1::2]).all()
    # Then the img2img pass, and the loaded model is reused.
    images, steps = run(tiny_loaded, [request.replace(strength=0.5)], upscaler_path=weights)
    assert images[0][0].size == (160, 96) and len(steps) == 1
    assert len(loaded) == 1


def test_upscaler_file_missing(tiny_loaded, source, tmp_path, monkeypatch):
    _fake_spandrel(monkeypatch)
    request = req(mode=Mode.UPSCALE, source_image=source, strength=0.0)
    with pytest.raises(UpscalerUnavailable, match="does not exist"):
        generate(tiny_loaded, [request], upscaler_path=tmp_path / "missing.pth")


def test_vae_tiling_for_large_images(tiny_loaded, monkeypatch):
    seen = []
    vae = tiny_loaded.pipe.vae
    tiled_decode = vae.tiled_decode

    def spy(*args, **kwargs):
        seen.append(1)
        return tiled_decode(*args, **kwargs)

    monkeypatch.setattr(vae, "tiled_decode", spy)
    settings = ModelSettings(vae_tiling_pixels=96 * 96)
    images = generate(tiny_loaded, [req(width=128, height=128, steps=1)], settings=settings)
    assert images[0][0].size == (128, 128) and seen
    assert vae.use_tiling is False and vae.use_slicing is False  # restored


# -- inputs --------------------------------------------------------------------------------------


def test_inputs_are_checked(tiny_loaded):
    with pytest.raises(ValueError, match="seed"):
        generate(tiny_loaded, [req(seed=-1)])
    with pytest.raises(ValueError, match="batch_key"):
        generate(tiny_loaded, [req(), req(steps=4)])
    with pytest.raises(ValueError, match="source image"):
        generate(tiny_loaded, [req(mode=Mode.IMG2IMG)])
    with pytest.raises(UnknownSampler) as unknown:
        generate(tiny_loaded, [req(sampler="Euler z")])
    assert unknown.value.code == "sampler.unknown" and "Euler a" in unknown.value.fields["samplers"]
    with pytest.raises(ValueError, match="one per request"):
        generate(tiny_loaded, [req(), req(seed=5)], sources=[None])


# -- sources given as images ---------------------------------------------------------------------


def test_sources_as_images_equal_the_same_files(tiny_loaded, source, tmp_path):
    """A worker that got the source as bytes passes the image; the result is the file's, pixel for pixel."""
    other = tmp_path / "other.png"
    Image.open(source).rotate(90, expand=True).save(other)
    a = req(mode=Mode.IMG2IMG, source_image=source, steps=4, strength=0.5, count=2)
    b = a.replace(source_image=str(other), seed=77, count=1)
    from_files = generate(tiny_loaded, [a, b])
    images = [Image.open(source), Image.open(other).convert("RGBA")]  # any mode: taken to RGB
    pathless = [a.replace(source_image=None), b.replace(source_image=None)]
    given = generate(tiny_loaded, pathless, sources=images)
    assert [len(x) for x in given] == [2, 1]
    assert all_same(given, from_files)
    assert not same(from_files[0][0], from_files[1][0])  # the two sources do make different images
    # A None entry falls back to the request's file.
    mixed = generate(tiny_loaded, [a, pathless[1]], sources=[None, images[1]])
    assert all_same(mixed, from_files)


def all_same(a: list[list[Image.Image]], b: list[list[Image.Image]]) -> bool:
    return [len(x) for x in a] == [len(y) for y in b] and all(
        same(x, y) for xs, ys in zip(a, b, strict=True) for x, y in zip(xs, ys, strict=True)
    )


def test_upscale_source_as_an_image(tiny_loaded, source):
    request = req(mode=Mode.UPSCALE, source_image=source, steps=4, strength=0.3)
    from_file = generate(tiny_loaded, [request])[0][0]
    given = generate(tiny_loaded, [request.replace(source_image=None)], sources=[Image.open(source)])[0][0]
    assert given.size == (160, 96) and same(given, from_file)


def test_a_given_source_is_turned_upright(tiny_loaded, source):
    """EXIF orientation applies to a given image as to a file: 6 means rotate 270 degrees."""
    image = Image.open(source)
    exif = image.getexif()
    exif[0x0112] = 6
    tagged = source.replace(".png", "-rotated.jpg")
    image.save(tagged, exif=exif.tobytes(), quality=95)
    request = req(mode=Mode.UPSCALE, strength=0.0, upscale_factor=1.0, source_image=tagged)
    from_file = generate(tiny_loaded, [request])[0][0]
    given = generate(tiny_loaded, [request.replace(source_image=None)], sources=[Image.open(tagged)])[0][0]
    assert from_file.size == given.size == (48, 80) and same(given, from_file)


# -- unloading -----------------------------------------------------------------------------------


def test_unloading_a_model_frees_its_upscaler_and_img2img_pipeline(
    tiny_model_dir, source, tmp_path, monkeypatch
):

    descriptor, loaded = _fake_spandrel(monkeypatch)
    weights = tmp_path / "2x-fake.pth"
    weights.write_bytes(b"not really weights")
    pipe = StableDiffusionPipeline.from_pretrained(tiny_model_dir, local_files_only=True, safety_checker=None)
    pipe.set_progress_bar_config(disable=True)
    entry = ModelEntry("tiny", tiny_model_dir, "diffusers")
    model = LoadedModel("tiny", entry, pipe, Arch.SD1, None, torch.device("cpu"), torch.float32)
    generate(model, [req(mode=Mode.UPSCALE, source_image=source, strength=0.5)], upscaler_path=weights)
    assert model.derived["upscaler"][1] is descriptor and "img2img" in model.derived
    img2img = weakref.ref(model.derived["img2img"])
    upscaler = weakref.ref(descriptor)
    del descriptor, pipe
    sys.modules.pop("spandrel")  # the fake module holds the descriptor too
    unload_model(model)
    gc.collect()
    assert model.derived == {} and model.pipe is None
    assert img2img() is None and upscaler() is None
    assert loaded == [str(weights)]


# -- SDXL ----------------------------------------------------------------------------------------


def build_tiny_sdxl():
    """A tiny random SDXL-shaped pipeline: two text encoders, text_time conditioning."""

    torch.manual_seed(0)
    unet = UNet2DConditionModel(
        block_out_channels=(32, 64),
        layers_per_block=1,
        sample_size=8,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        attention_head_dim=(2, 4),
        use_linear_projection=True,
        addition_embed_type="text_time",
        addition_time_embed_dim=8,
        transformer_layers_per_block=(1, 1),
        projection_class_embeddings_input_dim=8 * 6 + 32,
        cross_attention_dim=64,
        norm_num_groups=8,
    )
    vae = tiny_vae()
    config = tiny_text_config(32, intermediate_size=37)
    pipe = StableDiffusionXLPipeline(
        vae=vae.eval(),
        text_encoder=CLIPTextModel(config).eval(),
        text_encoder_2=CLIPTextModelWithProjection(config).eval(),
        tokenizer=load_clip_tokenizer(),
        tokenizer_2=load_clip_tokenizer(pad_token="!"),
        unet=unet.eval(),
        scheduler=EulerDiscreteScheduler(**SD_SCHEDULER),
    )
    pipe.set_progress_bar_config(disable=True)
    return pipe


def test_sdxl_txt2img_and_img2img(source):
    pipe = build_tiny_sdxl()
    model = LoadedModel(
        "xl", ModelEntry("xl", "xl", "diffusers"), pipe, Arch.SDXL, None, torch.device("cpu"), torch.float32
    )
    batch, steps = run(model, [req(count=2, steps=2)], want_preview=True, batch_invariant=True)
    assert [im.size for im in batch[0]] == [(64, 64)] * 2 and len(steps) == 2 and steps[0].preview is not None
    alone = generate(model, [req(count=1, seed=1235, steps=2)], batch_invariant=True)[0][0]
    assert same(batch[0][1], alone)
    request = req(mode=Mode.IMG2IMG, source_image=source, steps=4, strength=0.5)
    images, steps = run(model, [request])
    assert images[0][0].size == (64, 64) and len(steps) == 2
    assert type(engine.img2img_pipeline(model)).__name__ == "StableDiffusionXLImg2ImgPipeline"
