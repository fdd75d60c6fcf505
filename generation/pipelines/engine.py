"""Runs generation requests on a loaded model: txt2img (with hires fix), img2img and upscale.

`generate()` is synchronous (the scheduler calls it in its worker thread) and, like a diffusers
pipeline's `__call__`, goes through small numbered steps:

1. check the inputs (resolved seeds, one batch key, a known sampler, source images),
2. prepare the scheduler (a fresh one for the sampler, from the model's own scheduler config),
3. prepare the initial noise, one CPU generator per image (`seed + i`), variation seeds slerped in,
4. run the pipeline (txt2img pipeline, or the img2img pipeline derived from it sharing weights),
   reporting progress and honouring cancellation after every denoising step,
5. collect the images, one list per request.

Several compatible requests share one pipeline call (lists of prompt embeddings and generators),
yet image `i` of a request is its seed `seed + i` run alone: its noise (initial and per step) comes
from its own CPU generator, its prompt is encoded alone, and the VAE decodes one image at a time.
On the CPU the UNet also runs one image at a time inside the call, which makes it bit-identical;
on a GPU the UNet is batched (throughput), and batch-size-dependent kernel rounding can move a
few pixels by a level.

This module is torch-free at import time (`estimate_steps`, `Progress`, `CancelToken` and
`Cancelled` are used by the queue for ETAs and cancellation); torch and diffusers load on first use.
"""

from __future__ import annotations

import functools
import threading
import weakref
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PIL import Image, ImageOps

from generation.pipelines.samplers import (
    UnknownSampler,
    canonical_sampler,
    make_scheduler,
    model_evaluations,
)
from generation.requests.request import MAX_SEED, RANDOM_SEED, GenerationRequest, Mode
from generation.settings import ModelSettings

if TYPE_CHECKING:
    import torch

    from generation.models.loaded import LoadedModel

LANCZOS = Image.Resampling.LANCZOS


# -- public types --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Progress:
    """One step done. Previews are rendered from the latents only when first read (inside the
    callback), so a listener that throttles its updates pays nothing for the steps it skips."""

    step: int  # 1-based steps done (UNet evaluations, over every pass of the call)
    total: int
    render: Callable[[], tuple[Image.Image, ...]] | None = field(default=None, repr=False, compare=False)

    @functools.cached_property
    def previews(self) -> tuple[Image.Image, ...]:
        """One preview per request of the pipeline pass running (the call's requests, in order; an
        upscale call runs its requests one after another, so there it is the running one's only).
        Empty when previews were not asked for."""
        return self.render() if self.render is not None else ()

    @property
    def preview(self) -> Image.Image | None:
        """The first request's preview, when previews are asked for."""
        return self.previews[0] if self.previews else None


class Cancelled(Exception):
    """The call's CancelToken was cancelled: the pipeline stopped, nothing was decoded."""


class CancelToken:
    """Thread-safe cancellation flag: `cancel()` from any thread, checked after every step."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def raise_if_cancelled(self) -> None:
        if self._event.is_set():
            raise Cancelled("cancelled")


class UpscalerUnavailable(RuntimeError):
    """The configured ESRGAN-family upscaler cannot be used (missing package or file)."""


ProgressCallback = Callable[[Progress], None]


# -- estimates (torch-free) ----------------------------------------------------------------------


def estimate_steps(request: GenerationRequest) -> int:
    """UNet evaluations the request will run: hires second pass, img2img strength, Heun/DPM2 doubling."""
    try:
        if request.mode is Mode.TXT2IMG:
            total = model_evaluations(request.sampler, request.steps)
            hires = request.hires
            if hires is not None and hires.strength > 0:
                total += model_evaluations(request.sampler, hires.steps or request.steps, hires.strength)
            return total
        if request.mode is Mode.UPSCALE and request.strength <= 0:
            return 0
        return model_evaluations(request.sampler, request.steps, request.strength)
    except UnknownSampler:
        return max(int(request.steps), 1)


# -- generate ------------------------------------------------------------------------------------

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
) -> list[list[Image.Image]]:
    """Run compatible requests in one go; one list of RGB images per request (`count` each, upscale 1).

    `upscaler_path` is the ESRGAN-family `.pth` for upscales; when None, `settings.upscaler` is
    looked up beside the model (in the models directory). Raises `Cancelled` when `cancel` is set.

    `batch_invariant` runs the UNet one image at a time inside the batched call, so an image is
    bit-identical whatever it was batched with (matrix kernels round differently for different
    batch sizes, which moves a few pixels by one level). None: `settings.batch_invariant`.
    """
    settings = settings or ModelSettings()
    requests = list(requests)

    # 1. check inputs
    _check_requests(requests)
    first = requests[0]
    upscale = first.mode is Mode.UPSCALE
    call = _Call(
        model=model,
        settings=settings,
        reporter=_Reporter(
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

    with _LOCK, _seamless(model.pipe, first.tiling):
        if upscale:
            path = _resolve_upscaler(model, settings, upscaler_path)
            upscaled = [[_rgb(_upscale(call, request, path))] for request in requests]
            call.reporter.check()
            return upscaled

        batch = _Batch.of(requests)
        sampler = canonical_sampler(first.sampler)
        size = {"width": first.width, "height": first.height}
        schedule = {"steps": first.steps, "cfg": first.cfg_scale, "sampler": sampler}
        if first.mode is Mode.IMG2IMG:
            sources = [_fit_image(_open_image(r.source_image), first.width, first.height) for r in requests]
            init_images = batch.expand(sources)
            images = _denoise(
                call, batch, **size, **schedule, strength=first.strength, init_images=init_images
            )
        else:
            images = _denoise(call, batch, **size, **schedule)
            if first.hires is not None:
                images = _hires_pass(call, batch, images, first, sampler)

    # 5. collect images (a cancel that came during the final decode still counts)
    call.reporter.check()
    return batch.split([_rgb(image) for image in images])


@dataclass
class _Call:
    """What every pass of one generate() call shares."""

    model: LoadedModel
    settings: ModelSettings
    reporter: _Reporter
    batch_invariant: bool


# -- 1. inputs -----------------------------------------------------------------------------------


def _check_requests(requests: list[GenerationRequest]) -> None:
    if not requests:
        raise ValueError("generate() needs at least one request")
    key = requests[0].batch_key()
    for request in requests:
        if request.seed == RANDOM_SEED:
            raise ValueError("resolve the request's seed before generating (request.resolve_seed())")
        if request.batch_key() != key:
            raise ValueError("requests batched in one call must have equal batch_key()s")
        if request.count < 1:
            raise ValueError(f"count must be at least 1, not {request.count}")
        if request.mode is not Mode.UPSCALE and (request.width % 8 or request.height % 8):
            raise ValueError(f"width and height must be multiples of 8, not {request.width}x{request.height}")
        if request.mode in (Mode.IMG2IMG, Mode.UPSCALE) and not request.source_image:
            raise ValueError(f"{request.mode.value} needs a source image")
        if request.mode is Mode.UPSCALE and request.upscale_factor <= 0:
            raise ValueError(f"upscale_factor must be positive, not {request.upscale_factor}")
    canonical_sampler(requests[0].sampler)  # raises UnknownSampler, listing the names


@dataclass
class _Batch:
    """The images of one pipeline call, flattened: request r owns images layout[r]."""

    prompts: list[str]
    negatives: list[str]
    seeds: list[int]
    variations: list[tuple[int, float] | None]
    layout: list[tuple[int, int]]  # (start, count) per request

    @classmethod
    def of(cls, requests: Sequence[GenerationRequest], count: int | None = None) -> _Batch:
        batch = cls([], [], [], [], [])
        for request in requests:
            n = count or request.count
            batch.layout.append((len(batch.seeds), n))
            for i in range(n):
                seed = (request.seed + i) % (MAX_SEED + 1)  # request.seeds, for any count
                batch.prompts.append(request.prompt)
                batch.negatives.append(request.negative_prompt)
                batch.seeds.append(seed)
                var = request.variation
                batch.variations.append(
                    None
                    if var is None or var.strength <= 0
                    else ((var.seed + i) % (MAX_SEED + 1), var.strength)
                )
        return batch

    def __len__(self) -> int:
        return len(self.seeds)

    def expand(self, per_request: Sequence[Any]) -> list[Any]:
        """One item per request -> one per image."""
        return [item for item, (_, n) in zip(per_request, self.layout, strict=True) for _ in range(n)]

    def split(self, images: Sequence[Any]) -> list[list[Any]]:
        return [list(images[start : start + n]) for start, n in self.layout]


# -- progress and cancellation -------------------------------------------------------------------


class _Reporter:
    """The diffusers `callback_on_step_end`: counts steps, reports progress, raises on cancel."""

    def __init__(
        self,
        on_progress: ProgressCallback | None,
        cancel: CancelToken | None,
        want_preview: bool,
        preview_every: int,
        total: int,
        arch: str,
    ) -> None:
        self.on_progress = on_progress
        self.cancel = cancel
        self.want_preview = want_preview
        self.preview_every = max(1, int(preview_every))
        self.total = max(int(total), 0)
        self.arch = arch
        self.step = 0
        self.layout: list[tuple[int, int]] = []

    def check(self) -> None:
        if self.cancel is not None and self.cancel.cancelled:
            raise Cancelled("cancelled")

    def step_end(self, pipe: Any, i: int, t: Any, kwargs: dict[str, Any]) -> dict[str, Any]:
        self.check()
        self.step += 1
        self.total = max(self.total, self.step)
        if self.on_progress is not None:
            render = None
            latents = kwargs.get("latents")
            if self.want_preview and self.step % self.preview_every == 0 and latents is not None:
                render = functools.partial(self._previews, latents)
            self.on_progress(Progress(self.step, self.total, render))
            self.check()
        return kwargs

    def _previews(self, latents: torch.Tensor) -> tuple[Image.Image, ...]:
        from generation.pipelines.previews import MAX_PREVIEW, latent_previews, preview_grid

        layout = self.layout or [(0, latents.shape[0])]
        out = []
        for start, n in layout:
            per_image = max(8, MAX_PREVIEW // (1 if n == 1 else 2))
            out.append(preview_grid(latent_previews(latents[start : start + n], self.arch, per_image)))
        return tuple(out)


# -- 2-4. one pipeline pass ----------------------------------------------------------------------


def _denoise(
    call: _Call,
    batch: _Batch,
    *,
    width: int,
    height: int,
    steps: int,
    cfg: float,
    sampler: str,
    strength: float | None = None,
    init_images: list[Image.Image] | None = None,
) -> list[Image.Image]:
    """One pipeline call over the batch: txt2img, or img2img from `init_images` at `strength`."""
    model = call.model
    pipe = model.pipe if init_images is None else img2img_pipeline(model)

    # 2. prepare scheduler: a fresh one per call, from the model's own config
    scheduler = make_scheduler(sampler, base_scheduler_config(model.pipe), steps=steps)

    # 3. prepare latents: unit noise per image from its own CPU generator (device independent)
    factor = int(getattr(pipe, "vae_scale_factor", 8))
    shape = (1, int(pipe.unet.config.in_channels), height // factor, width // factor)
    noise, generators = initial_noise(batch.seeds, batch.variations, shape)
    noise = noise.to(device=model.device, dtype=pipe.unet.dtype)

    kwargs: dict[str, Any] = {
        **_prompt_embeddings(pipe, batch, cfg),
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
        # The img2img pipeline draws its own noise for add_noise(); hand it ours instead, so the
        # seed and variation semantics equal txt2img's.
        _use_noise(scheduler, noise)
        kwargs.update(image=init_images, strength=effective_strength(steps, strength or 0.0))

    # 4. run the pipeline
    call.reporter.layout = batch.layout
    previous = pipe.scheduler
    pipe.scheduler = scheduler
    try:
        with (
            _vae_modes(pipe.vae, width * height, call.settings),
            _unet_per_image(pipe.unet, len(batch), enabled=call.batch_invariant),
        ):
            result = pipe(**kwargs)
    finally:
        pipe.scheduler = previous
    return list(result.images)


def _hires_pass(
    call: _Call, batch: _Batch, images: list[Image.Image], request: GenerationRequest, sampler: str
) -> list[Image.Image]:
    """Hires fix: Lanczos-upscale the first pass, then img2img at the hires strength, same seeds."""
    hires = request.hires
    assert hires is not None
    call.reporter.check()
    width, height = scaled_size(request.width, request.height, hires.scale)
    upscaled = [image.resize((width, height), LANCZOS) for image in images]
    if hires.strength <= 0:
        return upscaled
    steps = hires.steps or request.steps
    return _denoise(
        call,
        batch,
        width=width,
        height=height,
        steps=steps,
        cfg=request.cfg_scale,
        sampler=sampler,
        strength=hires.strength,
        init_images=upscaled,
    )


def _upscale(call: _Call, request: GenerationRequest, upscaler: Path | None) -> Image.Image:
    """Resize the source by upscale_factor (ESRGAN or Lanczos), then img2img at request.strength."""
    call.reporter.check()
    source = _open_image(request.source_image)
    width, height = scaled_size(source.width, source.height, request.upscale_factor)
    if upscaler is not None:
        image = esrgan_upscale(source, upscaler, call.model.device, (width, height))
    else:
        image = source.resize((width, height), LANCZOS)
    call.reporter.check()
    if request.strength <= 0:
        return image
    return _denoise(
        call,
        _Batch.of([request], count=1),
        width=width,
        height=height,
        steps=request.steps,
        cfg=request.cfg_scale,
        sampler=canonical_sampler(request.sampler),
        strength=request.strength,
        init_images=[image],
    )[0]


def _prompt_embeddings(pipe: Any, batch: _Batch, cfg: float) -> dict[str, Any]:
    """Encode each distinct (prompt, negative) once, alone, and lay the embeddings out per image.

    Encoding alone keeps an image's embeddings independent of what it is batched with (and saves
    encoding a request's prompt `count` times). An empty negative prompt is passed as None, so
    each pipeline applies its own default (SDXL: zeros when `force_zeros_for_empty_prompt`).
    """
    import torch

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


@contextmanager
def _unet_per_image(unet: Any, images: int, *, enabled: bool) -> Iterator[None]:
    """Within the batched call, evaluate the UNet one image (its uncond+cond pair) at a time.

    With classifier-free guidance the UNet batch is [uncond_1..uncond_n, cond_1..cond_n]; image i's
    rows (i, n+i) go through alone, exactly as when the image is generated alone.
    """
    if not enabled or images <= 1:
        yield
        return
    import torch

    had_own = "forward" in vars(unet)
    forward = unet.forward

    def pick(value: Any, rows: torch.Tensor, n: int) -> Any:
        if isinstance(value, torch.Tensor) and value.dim() > 0 and value.shape[0] == n:
            return value[rows]
        if isinstance(value, dict):
            return {k: pick(v, rows, n) for k, v in value.items()}
        return value

    def per_image_forward(sample: torch.Tensor, *args: Any, **kwargs: Any) -> Any:
        n = sample.shape[0]
        if n % images:
            return forward(sample, *args, **kwargs)
        return_dict = kwargs.pop("return_dict", True)
        group = n // images
        out = None
        for i in range(images):
            rows = torch.arange(group, device=sample.device) * images + i
            part = forward(
                sample[rows],
                *(pick(a, rows, n) for a in args),
                **{k: pick(v, rows, n) for k, v in kwargs.items()},
                return_dict=False,
            )[0]
            if out is None:
                out = part.new_empty((n, *part.shape[1:]))
            out[rows] = part
        if not return_dict:
            return (out,)
        from diffusers.models.unets.unet_2d_condition import UNet2DConditionOutput

        return UNet2DConditionOutput(sample=out)

    unet.forward = per_image_forward
    try:
        yield
    finally:
        if had_own:
            unet.forward = forward
        else:
            del unet.forward


# -- pieces --------------------------------------------------------------------------------------


def effective_strength(steps: int, strength: float) -> float:
    """The strength to hand diffusers so that at least one step runs (it runs `int(steps * strength)`)."""
    strength = min(max(float(strength), 0.0), 1.0)
    if int(steps * strength) >= 1:
        return strength
    return min(1.0, 1.5 / steps)  # int(steps * 1.5 / steps) == 1


def initial_noise(
    seeds: Sequence[int], variations: Sequence[tuple[int, float] | None], shape: tuple[int, ...]
) -> tuple[torch.Tensor, list[torch.Generator]]:
    """Unit Gaussian noise per image from `torch.Generator("cpu").manual_seed(seed)`, concatenated.

    A variation `(seed, strength)` slerps the image's noise towards that seed's noise (the web
    UI's variation seed). The generators come back, advanced past the noise, for the sampler's
    per-step noise (ancestral and SDE samplers), so that too depends only on the image's seed.
    """
    import torch

    noises, generators = [], []
    for seed, variation in zip(seeds, variations, strict=True):
        generator = torch.Generator("cpu").manual_seed(int(seed))
        noise = torch.randn(shape, generator=generator, dtype=torch.float32)
        if variation is not None and variation[1] > 0:
            other = torch.randn(shape, generator=torch.Generator("cpu").manual_seed(int(variation[0])))
            noise = slerp(variation[1], noise, other)
        noises.append(noise)
        generators.append(generator)
    return torch.cat(noises), generators


def slerp(t: float, low: torch.Tensor, high: torch.Tensor) -> torch.Tensor:
    """Spherical interpolation from `low` (t=0) to `high` (t=1), over the whole tensor."""
    import torch

    if t <= 0:
        return low
    if t >= 1:
        return high
    dot = torch.sum((low / low.norm()) * (high / high.norm())).clamp(-1.0, 1.0)
    if dot.abs() > 0.9995:
        return (1.0 - t) * low + t * high
    omega = torch.acos(dot)
    so = torch.sin(omega)
    return (torch.sin((1.0 - t) * omega) / so) * low + (torch.sin(t * omega) / so) * high


def _use_noise(scheduler: Any, noise: torch.Tensor) -> None:
    """Make this (per-call) scheduler's add_noise() use `noise` instead of what the pipeline drew."""
    add_noise = scheduler.add_noise

    def add_own_noise(
        original_samples: torch.Tensor, _noise: torch.Tensor, timesteps: torch.Tensor
    ) -> torch.Tensor:
        if original_samples.shape != noise.shape:
            raise RuntimeError(f"noise shape {tuple(noise.shape)} != latents {tuple(original_samples.shape)}")
        own = noise.to(device=original_samples.device, dtype=original_samples.dtype)
        return add_noise(original_samples, own, timesteps)

    scheduler.add_noise = add_own_noise


def scaled_size(width: int, height: int, scale: float, multiple: int = 8) -> tuple[int, int]:
    """`(width, height) * scale`, rounded to multiples of 8 (what the pipelines accept)."""
    return (
        max(multiple, round(width * scale / multiple) * multiple),
        max(multiple, round(height * scale / multiple) * multiple),
    )


def _open_image(path: str | Path | None) -> Image.Image:
    if path is None:
        raise ValueError("no source image")
    with Image.open(path) as opened:
        image = ImageOps.exif_transpose(opened)
        image.load()
    return _rgb(image)


def _rgb(image: Image.Image) -> Image.Image:
    if image.mode == "RGB":
        return image
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGB", rgba.size, (255, 255, 255))
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    return image.convert("RGB")


def _fit_image(image: Image.Image, width: int, height: int) -> Image.Image:
    """Resize to cover (width, height) and centre-crop: the web UI's "crop and resize"."""
    if image.size == (width, height):
        return image
    return ImageOps.fit(image, (width, height), LANCZOS)


# -- model-level caches and modes ----------------------------------------------------------------

_BASE_CONFIGS: weakref.WeakKeyDictionary[Any, dict[str, Any]] = weakref.WeakKeyDictionary()
_IMG2IMG: weakref.WeakKeyDictionary[Any, Any] = weakref.WeakKeyDictionary()


def base_scheduler_config(pipe: Any) -> dict[str, Any]:
    """The model's own scheduler config, remembered the first time the pipeline is seen."""
    config = _BASE_CONFIGS.get(pipe)
    if config is None:
        config = dict(pipe.scheduler.config)
        _BASE_CONFIGS[pipe] = config
    return config


def img2img_pipeline(model: LoadedModel) -> Any:
    """The img2img pipeline for the model's pipe (SD or SDXL), sharing its weights; cached."""
    pipe = model.pipe
    derived = _IMG2IMG.get(pipe)
    shared = ("unet", "vae", "text_encoder", "text_encoder_2")
    if derived is None or any(getattr(derived, k, None) is not getattr(pipe, k, None) for k in shared):
        from diffusers import AutoPipelineForImage2Image

        base_scheduler_config(pipe)
        derived = AutoPipelineForImage2Image.from_pipe(pipe)
        bar = getattr(pipe, "_progress_bar_config", None)
        if bar is not None:
            derived.set_progress_bar_config(**bar)
        _IMG2IMG[pipe] = derived
    return derived


def forget_model(model: LoadedModel) -> None:
    """Drop what the engine keeps for a model (its img2img pipeline); call before unloading it."""
    _IMG2IMG.pop(model.pipe, None)
    _BASE_CONFIGS.pop(model.pipe, None)
    _UPSCALERS.clear()


@contextmanager
def _vae_modes(vae: Any, pixels: int, settings: ModelSettings) -> Iterator[None]:
    """Decode one image at a time (batch-independent pixels, less memory); tile large images."""
    saved = (getattr(vae, "use_slicing", None), getattr(vae, "use_tiling", None))
    try:
        if saved[0] is not None:
            vae.use_slicing = True
        if saved[1] is not None:
            vae.use_tiling = pixels >= settings.vae_tiling_pixels
        yield
    finally:
        if saved[0] is not None:
            vae.use_slicing = saved[0]
        if saved[1] is not None:
            vae.use_tiling = saved[1]


@contextmanager
def _seamless(pipe: Any, enabled: bool) -> Iterator[None]:
    """Seamless tiling: circular padding in every Conv2d of the UNet and VAE, restored afterwards."""
    if not enabled:
        yield
        return
    import torch

    saved = []
    for part in (pipe.unet, pipe.vae):
        for module in part.modules():
            if isinstance(module, torch.nn.Conv2d):
                saved.append((module, module.padding_mode))
                module.padding_mode = "circular"
    try:
        yield
    finally:
        for module, mode in saved:
            module.padding_mode = mode


# -- ESRGAN-family upscalers ---------------------------------------------------------------------

_UPSCALERS: dict[tuple[str, str], Any] = {}


def _resolve_upscaler(
    model: LoadedModel, settings: ModelSettings, upscaler_path: Path | str | None
) -> Path | None:
    if upscaler_path is not None:
        return Path(upscaler_path)
    if not settings.upscaler:
        return None
    path = Path(settings.upscaler).expanduser()
    if not path.is_absolute() and model.entry.kind != "hub":
        path = Path(model.entry.path).parent / path
    return path


def load_upscaler(path: Path, device: Any) -> Any:
    """Load an ESRGAN-family `.pth` through spandrel (imported here), cached by path and device."""
    try:
        import spandrel
    except ImportError as exc:
        raise UpscalerUnavailable(
            f"the upscaler {path.name} needs the Python package 'spandrel' (which needs torchvision), "
            "and it is not installed: `pip install spandrel` on the GPU host, or set models.upscaler "
            'to "" to upscale with Lanczos'
        ) from exc
    key = (str(path), str(device))
    if key not in _UPSCALERS:
        if not path.is_file():
            raise UpscalerUnavailable(f"the upscaler file {path} does not exist")
        descriptor = spandrel.ModelLoader().load_from_file(str(path))
        if not callable(descriptor) or not hasattr(descriptor, "scale"):
            raise UpscalerUnavailable(f"{path.name} is not a single-image upscaler model")
        descriptor.to(device)
        descriptor.eval()
        _UPSCALERS.clear()  # keep one loaded at a time
        _UPSCALERS[key] = descriptor
    return _UPSCALERS[key]


def esrgan_upscale(image: Image.Image, path: Path, device: Any, size: tuple[int, int]) -> Image.Image:
    """Upscale with the model (twice when its scale is short of `size`), then Lanczos to `size` exactly."""
    import numpy as np
    import torch

    descriptor = load_upscaler(path, device)
    tensor = torch.from_numpy(np.asarray(image, dtype=np.uint8).copy()).permute(2, 0, 1)[None]
    tensor = tensor.to(device=device, dtype=torch.float32) / 255.0
    with torch.no_grad():
        for _ in range(2):
            tensor = descriptor(tensor).clamp(0, 1)
            if tensor.shape[-1] >= size[0] and tensor.shape[-2] >= size[1]:
                break
    array = (tensor[0].permute(1, 2, 0).float().cpu().numpy() * 255.0).round().astype(np.uint8)
    result = Image.fromarray(array, "RGB")
    return result if result.size == size else result.resize(size, LANCZOS)


__all__ = [
    "CancelToken",
    "Cancelled",
    "Progress",
    "UpscalerUnavailable",
    "estimate_steps",
    "forget_model",
    "generate",
]
