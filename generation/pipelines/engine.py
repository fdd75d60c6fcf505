"""Runs generation requests on a loaded model: txt2img (with hires fix), img2img, upscale, inpaint
and outpaint.

`generate()` is synchronous (a worker calls it on its GPU thread) and, like a diffusers
pipeline's `__call__`, goes through numbered steps:

1. check the inputs (resolved seeds, one batch key, a known sampler, a source per img2img/upscale),
2. prepare the sources (the given images, or the requests' files; upright RGB) and the masks,
3. prepare the add-ons: which LoRA, embedding and VAE files the requests use (`plan_addons`),
   the LoRA adapters switched to the batch's set (loaded the first time), its VAE,
4. denoise: txt2img, img2img from the fitted sources, or, for an upscale, each request alone:
   resize its source (ESRGAN or Lanczos), an img2img detail pass, and a back-projection onto the
   source so the upscale keeps its picture (`upscalers.keep_source`); for an inpaint or an
   outpaint, plan each picture (`pipelines.inpaint`, `pipelines.outpaint`), inpaint the parts to
   generate (in one call when their sizes match), and paste each back through its feathered mask,
5. the hires fix of a txt2img: Lanczos-upscale the first pass, then an img2img pass,
6. collect the images, one list per request, and what each request applied (`Applied`).

An inpainting checkpoint (9-channel UNet) runs every pass through its inpaint pipeline: txt2img
and img2img with an all-white mask, as the web UI does.

Each denoising pass (`denoise`) encodes its prompts (`conditioning`: the web UI's emphasis, long
prompts in 75-token chunks, embeddings, clip skip; cached on the model), prepares its own
scheduler (a fresh one for the sampler, from the model's own scheduler config) and its own noise
(one CPU generator per image, `seed + i`, variation seeds slerped in), then runs the diffusers
pipeline, which denoises and decodes; progress is reported and cancellation honoured after every
step.

Several compatible requests share one pipeline call (lists of prompt embeddings and generators),
yet image `i` of a request is its seed `seed + i` run alone: its noise (initial and per step) comes
from its own CPU generator, its prompt is encoded alone (prompts of other lengths are padded, and
the padding masked out of cross-attention), and the VAE decodes one image at a time.
In the batch-invariant mode the UNet also runs one image at a time inside the call, which makes
an image bit-identical whatever it is batched with; otherwise the UNet is batched (throughput),
and batch-size-dependent kernel rounding can move a few pixels by a level.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from diffusers import AutoPipelineForImage2Image
from PIL import Image

from generation.models.addons import AddonPlan, plan_addons
from generation.models.arch import Arch
from generation.models.assets import AssetFile, AssetLibrary
from generation.models.loaded import LoadedModel
from generation.pipelines.batch import Batch
from generation.pipelines.callbacks import StepReporter
from generation.pipelines.conditioning import EncodedPrompt, attend_to_valid_tokens, encode_batch
from generation.pipelines.embeddings import Embedding
from generation.pipelines.inpaint import (
    RegionPlan,
    blank_images,
    full_masks,
    inpaint_pipeline,
    is_inpainting_model,
    native_size,
    plan_inpaint,
)
from generation.pipelines.lora import adapters_of
from generation.pipelines.noise import initial_noise, use_noise
from generation.pipelines.outpaint import plan_outpaint
from generation.pipelines.patches import seamless_tiling, unet_per_image, vae_modes
from generation.pipelines.schedulers import base_scheduler_config, make_scheduler
from generation.pipelines.sources import NEEDS_SOURCE, fit_image, mask_images, source_images, to_rgb
from generation.pipelines.upscalers import (
    LANCZOS,
    UpscalerUnavailable,
    keep_source,
    resolve_upscaler,
    upscale_image,
)
from generation.pipelines.vae import load_vae, using_vae
from generation.problems import Problem
from generation.progress import Cancelled, CancelToken, Progress, ProgressCallback
from generation.requests.applied import Applied, EmbeddingUse, LoraUse, Note, VaeUse
from generation.requests.request import RANDOM_SEED, GenerationRequest, Mode
from generation.requests.samplers import canonical_sampler, estimate_steps
from generation.requests.sizes import scaled_size
from generation.requests.steps import strength_running_a_step
from generation.requests.validation import EDIT_MODES
from generation.settings import ModelSettings

_LOCK = threading.RLock()  # one call at a time touches a model's scheduler, VAE modes and convs


def generate(
    model: LoadedModel, requests: Sequence[GenerationRequest], **options: Any
) -> list[list[Image.Image]]:
    """`generate_result`'s images alone (the same keyword arguments)."""
    return generate_result(model, requests, **options).images


@dataclass
class GenerationResult:
    images: list[list[Image.Image]]  # per request
    applied: list[Applied]  # per request: its LoRAs, embeddings, VAE, clip skip, chunks, and notes


def generate_result(
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
    masks: Sequence[Image.Image | None] | None = None,
    assets: AssetLibrary | None = None,
) -> GenerationResult:
    """Run compatible requests in one go; one list of RGB images per request (`count` each, upscale 1)
    and what each applied.

    `sources` holds one source image per request for img2img and upscale (None entries, or no
    `sources` at all: the file at `request.source_image` is opened); `masks` likewise holds one mask
    per inpaint request (white repaints; else the file at `request.edit.mask`). `upscaler_path` is the
    ESRGAN-family `.pth` for upscales; when None, `settings.upscaler` is looked up beside the model
    (in the models directory). Raises `Cancelled` when `cancel` is set.

    `batch_invariant` runs the UNet one image at a time inside the batched call, so an image is
    bit-identical whatever it was batched with. None: `settings.batch_invariant`.

    `assets` holds the LoRA, embedding and VAE folders (None: `Lora/`, `embeddings/` and `VAE/`
    beside the model). A LoRA or VAE that cannot be used raises its `Problem` (`UnknownAsset`,
    `lora.wrong_arch`, ...). The result also holds what each request applied.
    """
    settings = settings or ModelSettings()
    requests = list(requests)

    # 1. check inputs
    check_inputs(requests, sources)
    check_masks(requests, masks)
    first = requests[0]
    upscale = first.mode is Mode.UPSCALE
    library = assets if assets is not None else default_assets(model)
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
        library=library,
    )
    call.reporter.check()

    # 2. prepare the sources
    images_in = source_images(requests, sources)
    masks_in = mask_images(requests, masks)
    batch = Batch.of(requests, count=1 if upscale else None)  # an upscale makes one image

    # 3. prepare the add-ons (a LoRA or VAE that cannot be used raises its Problem here)
    plans = [
        plan_addons(r, library, model_name=model.name, checkpoint=_checkpoint(model), settings=settings)
        for r in requests
    ]
    call.embedding_files = list({f.path: f for plan in plans for f in plan.embeddings}.values())
    call.lora_key = plans[0].lora_key()

    with _LOCK, seamless_tiling(model.pipe, first.tiling):
        adapters_of(model).activate(model, plans[0].loras)  # one LoRA set per batch (batch_key)
        call.vae = load_vae(model, plans[0].vae.file) if plans[0].vae is not None else None

        # 4. denoise
        if upscale:
            upscaler = resolve_upscaler(model, settings, upscaler_path)
            images = [
                upscale_pass(call, request, source, upscaler)
                for request, source in zip(requests, images_in, strict=True)
            ]
        elif first.mode in EDIT_MODES:
            images = edit_passes(call, requests, images_in, masks_in)
        elif first.mode is Mode.IMG2IMG:
            fitted = [fit_image(source, first.width, first.height) for source in images_in]
            images = denoise(call, batch, **_schedule(first), init_images=batch.expand(fitted))
        else:
            images = denoise(call, batch, **_schedule(first))
            # 5. hires fix
            if first.hires is not None:
                images = hires_pass(call, batch, images, first)

    # 6. collect images (a cancel that came during the final decode still counts), and what applied
    call.reporter.check()
    applied = [applied_addons(call, request, plan) for request, plan in zip(requests, plans, strict=True)]
    return GenerationResult(batch.split([to_rgb(image) for image in images]), applied)


@dataclass
class _Call:
    """What every pass of one generate() call shares."""

    model: LoadedModel
    settings: ModelSettings
    reporter: StepReporter
    batch_invariant: bool
    library: AssetLibrary = field(default_factory=AssetLibrary)
    embedding_files: list[AssetFile] = field(default_factory=list)
    lora_key: Any = ()
    vae: Any = None  # the VAE to decode with; None: the model's own
    # ("prompt" | "negative", text) -> the text as the passes encoded it
    encoded: dict[tuple[str, str], EncodedPrompt] = field(default_factory=dict)
    embeddings: dict[str, Embedding] = field(default_factory=dict)
    notes: list[Problem] = field(default_factory=list)  # from encoding (embeddings left out, clip skip)

    @property
    def clip_skip(self) -> int:
        """The checkpoint's clip skip, for requests that give none."""
        return self.settings.clip_skip.get(self.model.name, 1)

    def record(self, batch: Batch, conditioning: Any) -> None:
        """Keep what a pass encoded, for the requests' `Applied`."""
        for text, encoded in zip(batch.prompts, conditioning.prompts, strict=True):
            self.encoded.setdefault(("prompt", text), encoded)
        for text, encoded in zip(batch.negatives, conditioning.negatives, strict=True):
            if encoded is not None:
                self.encoded.setdefault(("negative", text), encoded)
        self.embeddings.update(conditioning.embeddings)
        self.notes += [note for note in conditioning.notes if note not in self.notes]


# -- 1. inputs -----------------------------------------------------------------------------------


def default_assets(model: LoadedModel) -> AssetLibrary:
    """The add-on folders beside a model: `Lora/`, `embeddings/`, `VAE/` in its models folder."""
    if model.entry.kind == "hub":
        return AssetLibrary()
    return AssetLibrary.in_models_dir(Path(model.entry.path).parent)


def _checkpoint(model: LoadedModel) -> Path | None:
    return None if model.entry.kind == "hub" else Path(model.entry.path)


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


def check_masks(requests: list[GenerationRequest], masks: Sequence[Image.Image | None] | None) -> None:
    """Raise ValueError unless each inpaint has a mask (given, or a path in its edit)."""
    if masks is not None and len(masks) != len(requests):
        raise ValueError(f"{len(masks)} masks for {len(requests)} requests: give one per request (or None)")
    for i, request in enumerate(requests):
        if request.mode in EDIT_MODES and request.edit is None:
            raise ValueError(f"{request.mode.value} needs its edit (mask, zoom or pan)")
        given = masks is not None and masks[i] is not None
        if request.mode is Mode.INPAINT and not given and not request.edit.mask:
            raise ValueError("inpaint needs a mask image")


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
    masks: list[Image.Image] | None = None,
) -> list[Image.Image]:
    """One pipeline pass over the batch: txt2img, img2img from `init_images` at `strength`, or an
    inpaint of `init_images` where `masks` are white (one per image)."""
    model = call.model
    if masks is None and is_inpainting_model(model):  # its every pass is an inpaint of everything
        masks = full_masks((width, height), len(batch))
        if init_images is None:
            init_images, strength = blank_images((width, height), len(batch)), 1.0
    if masks is not None:
        pipe = inpaint_pipeline(model)
    else:
        pipe = model.pipe if init_images is None else img2img_pipeline(model)

    # a. prepare the scheduler: a fresh one per pass, from the model's own config
    scheduler = make_scheduler(sampler, base_scheduler_config(model), steps=steps)

    # b. prepare the latents: unit noise per image from its own CPU generator (device independent)
    factor = int(getattr(pipe, "vae_scale_factor", 8))
    shape = (1, int(pipe.vae.config.latent_channels), height // factor, width // factor)
    noise, generators = initial_noise(batch.seeds, batch.variations, shape)
    noise = noise.to(device=model.device, dtype=pipe.unet.dtype)

    # c. encode the prompts (cached on the model: the hires pass and rerolls encode nothing)
    conditioning = encode_batch(
        model,
        batch,
        guidance=cfg > 1.0 and pipe.unet.config.get("time_cond_proj_dim") is None,
        clip_skips=[skip or call.clip_skip for skip in batch.clip_skips],
        embedding_files=call.embedding_files,
        lora_key=call.lora_key,
    )
    call.record(batch, conditioning)

    kwargs: dict[str, Any] = {
        **conditioning.kwargs,
        "num_inference_steps": steps,
        "guidance_scale": cfg,
        "generator": generators,
        "callback_on_step_end": call.reporter.step_end,
        "output_type": "pil",
    }
    if masks is not None:
        strength = strength_running_a_step(steps, 1.0 if strength is None else strength)
        kwargs.update(image=init_images, mask_image=masks, height=height, width=width, strength=strength)
        if strength >= 1.0:
            kwargs["latents"] = noise  # from pure noise: scaled by init_noise_sigma by the pipeline
        else:
            use_noise(scheduler, noise)  # its add_noise(), of the start and of the kept part each step
    elif init_images is None:
        # The pipeline scales passed latents by scheduler.init_noise_sigma itself.
        kwargs.update(height=height, width=width, latents=noise)
    else:
        use_noise(scheduler, noise)
        kwargs.update(image=init_images, strength=strength_running_a_step(steps, strength or 0.0))

    # d. run the pipeline: its denoising loop (the reporter after each step), then the VAE decode
    call.reporter.layout = batch.layout
    previous = pipe.scheduler
    pipe.scheduler = scheduler
    try:
        with (
            attend_to_valid_tokens(pipe.unet, conditioning.masked),  # before unet_per_image
            using_vae(pipe, call.vae),
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
    """Resize the source by upscale_factor (ESRGAN or Lanczos), then img2img at request.strength,
    then (`upscale_keeps_source`) correct it to keep the source's picture (`keep_source`)."""
    call.reporter.check()
    width, height = scaled_size(source.width, source.height, request.upscale_factor)
    image = upscale_image(call.model, source, (width, height), upscaler)
    call.reporter.check()
    if request.strength <= 0:
        return image
    schedule = _schedule(request) | {"width": width, "height": height}
    detailed = denoise(call, Batch.of([request], count=1), **schedule, init_images=[image])[0]
    return keep_source(to_rgb(detailed), source) if call.settings.upscale_keeps_source else detailed


def edit_passes(
    call: _Call,
    requests: list[GenerationRequest],
    sources: list[Image.Image | None],
    masks: list[Image.Image | None],
) -> list[Image.Image]:
    """Inpaint or outpaint: plan each request's picture, inpaint the parts to generate (requests
    whose parts have one size share a call; "only masked" boxes may differ), paste each back."""
    native = native_size(call.model)
    plans: list[RegionPlan] = []
    for request, source, mask in zip(requests, sources, masks, strict=True):
        assert source is not None
        if request.mode is Mode.OUTPAINT:
            plans.append(plan_outpaint(request, source))
        else:
            assert mask is not None
            plans.append(plan_inpaint(request, source, mask, native))
    if all(plan.size == plans[0].size for plan in plans):
        groups = [(requests, plans)]
    else:
        groups = [([request], [plan]) for request, plan in zip(requests, plans, strict=True)]
        call.reporter.total = sum(estimate_steps(request) for request in requests)
    images: list[Image.Image] = []
    for group, group_plans in groups:
        call.reporter.check()
        batch = Batch.of(group)
        per_image = batch.expand(group_plans)
        inputs = [plan.inputs(seed) for plan, seed in zip(per_image, batch.seeds, strict=True)]
        width, height = group_plans[0].size
        schedule = _schedule(group[0]) | {"width": width, "height": height}
        made = denoise(
            call, batch, **schedule, init_images=[i[0] for i in inputs], masks=[i[1] for i in inputs]
        )
        images += [plan.paste(to_rgb(image)) for plan, image in zip(per_image, made, strict=True)]
    return images


# -- 6. what was applied ------------------------------------------------------------------------


def applied_addons(call: _Call, request: GenerationRequest, plan: AddonPlan) -> Applied:
    """What the request's images were made with: LoRAs, embeddings, VAE (with the web UI's
    hashes), the clip skip its prompt was encoded with, its chunks, and what was left out."""
    library = call.library
    prompt = call.encoded.get(("prompt", request.prompt))
    negative = call.encoded.get(("negative", request.negative_prompt))
    used = [*(prompt.embeddings if prompt else ()), *(negative.embeddings if negative else ())]
    embeddings = []
    for name in dict.fromkeys(used):
        embedding = call.embeddings[name]
        file = embedding.file
        embeddings.append(EmbeddingUse(name, file.file_name, library.embedding_hash(file), embedding.count))
    vae = None
    if plan.vae is not None:
        vae = VaeUse(plan.vae.file.file_name, library.vae_hash(plan.vae.file), plan.vae.source)
    uses_clip_skip = call.model.arch is Arch.SD1
    named = {file.name for file in plan.embeddings}
    notes = [*plan.notes]
    for note in call.notes:  # the batch's encoding notes that concern this request
        if note.code == Note.EMBEDDING_SKIPPED and note.fields["name"] not in named:
            continue
        if note.code == Note.CLIP_SKIP_IGNORED:
            if plan.clip_skip <= 1:
                continue
            note = Problem(Note.CLIP_SKIP_IGNORED, **{**note.fields, "clip_skip": plan.clip_skip})
        notes.append(note)
    return Applied(
        loras=tuple(
            LoraUse(
                c.tag.name, c.file.file_name, c.tag.te_weight, c.tag.unet_weight, library.lora_hash(c.file)
            )
            for c in plan.loras
        ),
        embeddings=tuple(embeddings),
        vae=vae,
        clip_skip=plan.clip_skip if uses_clip_skip else 1,
        prompt_chunks=prompt.chunks if prompt else 1,
        negative_chunks=negative.chunks if negative else 1,
        notes=tuple(note for k, note in enumerate(notes) if note not in notes[:k]),
    )


# -- pieces of a pass ----------------------------------------------------------------------------


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
