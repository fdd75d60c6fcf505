"""Runs generation requests on a loaded model: txt2img (with hires fix), img2img and upscale.

`generate()` is synchronous (a worker calls it on its GPU thread) and, like a diffusers
pipeline's `__call__`, goes through numbered steps:

1. check the inputs (resolved seeds, one batch key, a known sampler, a source per img2img/upscale),
2. prepare the sources (the given images, or the requests' files; upright RGB),
3. denoise: txt2img, img2img from the fitted sources, or, for an upscale, each request alone:
   resize its source (ESRGAN or Lanczos), then an img2img detail pass,
4. the hires fix of a txt2img: Lanczos-upscale the first pass, then an img2img pass,
5. collect the images, one list per request.

Each denoising pass (`denoise`) prepares its own scheduler (a fresh one for the sampler, from the
model's own scheduler config) and its own noise (one CPU generator per image, `seed + i`,
variation seeds slerped in), then runs the diffusers pipeline, which denoises and decodes;
progress is reported and cancellation honoured after every step.

Several compatible requests share one pipeline call (lists of prompt embeddings and generators),
yet image `i` of a request is its seed `seed + i` run alone: its noise (initial and per step) comes
from its own CPU generator, its prompt is encoded alone, and the VAE decodes one image at a time.
In the batch-invariant mode the UNet also runs one image at a time inside the call, which makes
an image bit-identical whatever it is batched with; otherwise the UNet is batched (throughput),
and batch-size-dependent kernel rounding can move a few pixels by a level.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from diffusers import AutoPipelineForImage2Image
from PIL import Image

from generation.models.loaded import LoadedModel
from generation.pipelines.batch import Batch
from generation.pipelines.callbacks import StepReporter
from generation.pipelines.noise import initial_noise, use_noise
from generation.pipelines.patches import seamless_tiling, unet_per_image, vae_modes
from generation.pipelines.schedulers import base_scheduler_config, make_scheduler
from generation.pipelines.sources import NEEDS_SOURCE, fit_image, source_images, to_rgb
from generation.pipelines.upscalers import LANCZOS, UpscalerUnavailable, resolve_upscaler, upscale_image
from generation.progress import Cancelled, CancelToken, Progress, ProgressCallback
from generation.requests.request import RANDOM_SEED, GenerationRequest, Mode
from generation.requests.samplers import canonical_sampler, estimate_steps
from generation.requests.sizes import scaled_size
from generation.requests.steps import strength_running_a_step
from generation.settings import ModelSettings

_LOCK = threading.RLock()  # one call at a time touches a model's scheduler, VAE modes and convs


def generate(
    model: LoadedModel,
    requests: Sequence[GenerationRequest],
    *,
    on_progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
    want_preview: bool = False,
    settings: ModelSettings | None = None,
    upscaler_path: Path | str | None = None,
    batch_invariant: bool | None = None,
    sources: Sequence[Image.Image | None] | None = None,
) -> list[list[Image.Image]]:
    """Run compatible requests in one go; one list of RGB images per request (`count` each, upscale 1).

    `sources` holds one source image per request for img2img and upscale (None entries, or no
    `sources` at all: the file at `request.source_image` is opened). `upscaler_path` is the
    ESRGAN-family `.pth` for upscales; when None, `settings.upscaler` is looked up beside the model
    (in the models directory). Raises `Cancelled` when `cancel` is set.

    `batch_invariant` runs the UNet one image at a time inside the batched call, so an image is
    bit-identical whatever it was batched with. None: `settings.batch_invariant`.
    """
    settings = settings or ModelSettings()
    requests = list(requests)

    # 1. check inputs
    check_inputs(requests, sources)
    first = requests[0]
    upscale = first.mode is Mode.UPSCALE
    call = _Call(
        model=model,
        settings=settings,
        reporter=StepReporter(
            on_progress,
            cancel,
            want_preview,
            settings.preview_every,
            total=sum(estimate_steps(r) for r in requests) if upscale else estimate_steps(first),
            arch=model.arch,
        ),
        batch_invariant=settings.batch_invariant if batch_invariant is None else batch_invariant,
    )
    call.reporter.check()

    # 2. prepare the sources
    images_in = source_images(requests, sources)
    batch = Batch.of(requests, count=1 if upscale else None)  # an upscale makes one image

    with _LOCK, seamless_tiling(model.pipe, first.tiling):
        # 3. denoise
        if upscale:
            upscaler = resolve_upscaler(model, settings, upscaler_path)
            images = [
                upscale_pass(call, request, source, upscaler)
                for request, source in zip(requests, images_in, strict=True)
            ]
        elif first.mode is Mode.IMG2IMG:
            fitted = [fit_image(source, first.width, first.height) for source in images_in]
            images = denoise(call, batch, **_schedule(first), init_images=batch.expand(fitted))
        else:
            images = denoise(call, batch, **_schedule(first))
            # 4. hires fix
            if first.hires is not None:
                images = hires_pass(call, batch, images, first)

    # 5. collect images (a cancel that came during the final decode still counts)
    call.reporter.check()
    return batch.split([to_rgb(image) for image in images])


@dataclass
class _Call:
    """What every pass of one generate() call shares."""

    model: LoadedModel
    settings: ModelSettings
    reporter: StepReporter
    batch_invariant: bool


# -- 1. inputs -----------------------------------------------------------------------------------


def check_inputs(requests: list[GenerationRequest], sources: Sequence[Image.Image | None] | None) -> None:
    """Raise ValueError for what a caller must settle before generating (or UnknownSampler)."""
    if not requests:
        raise ValueError("generate() needs at least one request")
    if sources is not None and len(sources) != len(requests):
        raise ValueError(f"{len(sources)} source images for {len(requests)} requests: give one per request")
    key = requests[0].batch_key()
    for i, request in enumerate(requests):
        if request.seed == RANDOM_SEED:
            raise ValueError("resolve the request's seed before generating (request.resolve_seed())")
        if request.batch_key() != key:
            raise ValueError("requests batched in one call must have equal batch_key()s")
        if request.count < 1:
            raise ValueError(f"count must be at least 1, not {request.count}")
        if request.mode is not Mode.UPSCALE and (request.width % 8 or request.height % 8):
            raise ValueError(f"width and height must be multiples of 8, not {request.width}x{request.height}")
        given = sources is not None and sources[i] is not None
        if request.mode in NEEDS_SOURCE and not given and not request.source_image:
            raise ValueError(f"{request.mode.value} needs a source image")
        if request.mode is Mode.UPSCALE and request.upscale_factor <= 0:
            raise ValueError(f"upscale_factor must be positive, not {request.upscale_factor}")
    canonical_sampler(requests[0].sampler)  # raises UnknownSampler, listing the names


def _schedule(request: GenerationRequest) -> dict[str, Any]:
    """The request's first pass: its size, steps, guidance, sampler (and strength for img2img)."""
    schedule: dict[str, Any] = {
        "width": request.width,
        "height": request.height,
        "steps": request.steps,
        "cfg": request.cfg_scale,
        "sampler": canonical_sampler(request.sampler),
    }
    if request.mode is not Mode.TXT2IMG:
        schedule["strength"] = request.strength
    return schedule


# -- 3-4. the passes -----------------------------------------------------------------------------


def denoise(
    call: _Call,
    batch: Batch,
    *,
    width: int,
    height: int,
    steps: int,
    cfg: float,
    sampler: str,
    strength: float | None = None,
    init_images: list[Image.Image] | None = None,
) -> list[Image.Image]:
    """One pipeline pass over the batch: txt2img, or img2img from `init_images` at `strength`."""
    model = call.model
    pipe = model.pipe if init_images is None else img2img_pipeline(model)

    # a. prepare the scheduler: a fresh one per pass, from the model's own config
    scheduler = make_scheduler(sampler, base_scheduler_config(model), steps=steps)

    # b. prepare the latents: unit noise per image from its own CPU generator (device independent)
    factor = int(getattr(pipe, "vae_scale_factor", 8))
    shape = (1, int(pipe.unet.config.in_channels), height // factor, width // factor)
    noise, generators = initial_noise(batch.seeds, batch.variations, shape)
    noise = noise.to(device=model.device, dtype=pipe.unet.dtype)

    kwargs: dict[str, Any] = {
        **prompt_embeddings(pipe, batch, cfg),
        "num_inference_steps": steps,
        "guidance_scale": cfg,
        "generator": generators,
        "callback_on_step_end": call.reporter.step_end,
        "output_type": "pil",
    }
    if init_images is None:
        # The pipeline scales passed latents by scheduler.init_noise_sigma itself.
        kwargs.update(height=height, width=width, latents=noise)
    else:
        use_noise(scheduler, noise)
        kwargs.update(image=init_images, strength=strength_running_a_step(steps, strength or 0.0))

    # c. run the pipeline: its denoising loop (the reporter after each step), then the VAE decode
    call.reporter.layout = batch.layout
    previous = pipe.scheduler
    pipe.scheduler = scheduler
    try:
        with (
            vae_modes(pipe.vae, width * height, call.settings),
            unet_per_image(pipe.unet, len(batch), enabled=call.batch_invariant),
        ):
            result = pipe(**kwargs)
    finally:
        pipe.scheduler = previous
    return list(result.images)


def hires_pass(
    call: _Call, batch: Batch, images: list[Image.Image], request: GenerationRequest
) -> list[Image.Image]:
    """Hires fix: Lanczos-upscale the first pass, then img2img at the hires strength, same seeds."""
    hires = request.hires
    assert hires is not None
    call.reporter.check()
    width, height = scaled_size(request.width, request.height, hires.scale)
    upscaled = [image.resize((width, height), LANCZOS) for image in images]
    if hires.strength <= 0:
        return upscaled
    schedule = _schedule(request) | {"width": width, "height": height, "steps": hires.steps or request.steps}
    return denoise(call, batch, **schedule, strength=hires.strength, init_images=upscaled)


def upscale_pass(
    call: _Call, request: GenerationRequest, source: Image.Image, upscaler: Path | None
) -> Image.Image:
    """Resize the source by upscale_factor (ESRGAN or Lanczos), then img2img at request.strength."""
    call.reporter.check()
    width, height = scaled_size(source.width, source.height, request.upscale_factor)
    image = upscale_image(call.model, source, (width, height), upscaler)
    call.reporter.check()
    if request.strength <= 0:
        return image
    schedule = _schedule(request) | {"width": width, "height": height}
    return denoise(call, Batch.of([request], count=1), **schedule, init_images=[image])[0]


# -- pieces of a pass ----------------------------------------------------------------------------


def prompt_embeddings(pipe: Any, batch: Batch, cfg: float) -> dict[str, Any]:
    """Encode each distinct (prompt, negative) once, alone, and lay the embeddings out per image.

    Encoding alone keeps an image's embeddings independent of what it is batched with (and saves
    encoding a request's prompt `count` times). An empty negative prompt is passed as None, so
    each pipeline applies its own default (SDXL: zeros when `force_zeros_for_empty_prompt`).
    """
    device = getattr(pipe, "_execution_device", None)
    encoded: dict[tuple[str, str], tuple[Any, ...]] = {}
    rows = []
    for pair in zip(batch.prompts, batch.negatives, strict=True):
        if pair not in encoded:
            encoded[pair] = tuple(
                pipe.encode_prompt(
                    prompt=pair[0],
                    device=device,
                    num_images_per_prompt=1,
                    do_classifier_free_guidance=cfg > 1.0,
                    negative_prompt=pair[1] or None,
                )
            )
        rows.append(encoded[pair])
    names = (
        "prompt_embeds",
        "negative_prompt_embeds",
        "pooled_prompt_embeds",
        "negative_pooled_prompt_embeds",
    )
    return {
        name: torch.cat([row[k] for row in rows])
        for k, name in enumerate(names[: len(rows[0])])
        if rows[0][k] is not None
    }


def img2img_pipeline(model: LoadedModel) -> Any:
    """The img2img pipeline for the model's pipe (SD or SDXL), sharing its weights; kept with the model."""
    pipe = model.pipe
    derived = model.derived.get("img2img")
    shared = ("unet", "vae", "text_encoder", "text_encoder_2")
    if derived is None or any(getattr(derived, k, None) is not getattr(pipe, k, None) for k in shared):
        base_scheduler_config(model)  # remembered before from_pipe copies the scheduler
        derived = AutoPipelineForImage2Image.from_pipe(pipe)
        bar = getattr(pipe, "_progress_bar_config", None)
        if bar is not None:
            derived.set_progress_bar_config(**bar)
        model.derived["img2img"] = derived
    return derived


__all__ = [
    "CancelToken",
    "Cancelled",
    "Progress",
    "UpscalerUnavailable",
    "generate",
]
