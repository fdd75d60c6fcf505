"""New requests made from a past job: upscale, vary, reroll (what the buttons and /vary ask for)."""

from __future__ import annotations

import math

from generation.request import RANDOM_SEED, GenerationRequest, Mode
from generation.scheduler import Job, JobImage
from generation.settings import Settings
from generation.validation import round_to_8

SUBTLE, STRONG = 0.35, 0.7
STRENGTHS = {"subtle": SUBTLE, "strong": STRONG}
UPSCALE_FACTOR = 2.0


class NoSuchImage(LookupError):
    """The job has no such image (or no images yet); the message is for the user."""


def parse_strength(text: str | None, default: float) -> float:
    """`subtle`, `strong` or a number in (0, 1]; raises ValueError with a message for the user."""
    if text is None or not text.strip():
        return default
    key = text.strip().lower().split()[0]
    if key in STRENGTHS:
        return STRENGTHS[key]
    try:
        value = float(key)
    except ValueError:
        raise ValueError(f"Strength must be subtle, strong or a number like 0.5, not {text!r}.") from None
    if not 0 < value <= 1:
        raise ValueError(f"Strength must be above 0 and at most 1, not {value:g}.")
    return value


def image_of(job: Job, index: int) -> JobImage:
    for image in job.images:
        if image.index == index:
            return image
    if not job.images:
        raise NoSuchImage(f"Job `{job.id}` has no images (it is {job.status}).")
    raise NoSuchImage(f"Job `{job.id}` has images 1 to {len(job.images)}, not {index + 1}.")


def output_size(request: GenerationRequest) -> tuple[int, int]:
    """The size of the images a request makes."""
    scale = 1.0
    if request.mode is Mode.UPSCALE:
        scale = request.upscale_factor
    elif request.hires is not None:
        scale = request.hires.scale
    if scale == 1.0:
        return request.width, request.height
    return round_to_8(request.width * scale), round_to_8(request.height * scale)


def fit_size(width: int, height: int, settings: Settings) -> tuple[int, int]:
    """A generation size with the image's shape and about the default area, within the limits."""
    limits, defaults = settings.limits, settings.defaults
    area = defaults.width * defaults.height
    scale = math.sqrt(area / max(1, width * height))
    w, h = round_to_8(width * scale), round_to_8(height * scale)
    w = min(max(w, limits.min_size), limits.max_size)
    h = min(max(h, limits.min_size), limits.max_size)
    while w * h > limits.max_pixels and w > limits.min_size and h > limits.min_size:
        w, h = max(limits.min_size, w - 8), max(limits.min_size, h - 8)
    return w, h


def with_enough_steps(request: GenerationRequest) -> GenerationRequest:
    """img2img runs int(steps * strength) steps: a few-step job's variation must still run one."""
    steps = request.steps
    while int(steps * request.strength) < 1:
        steps += 1
    return request if steps == request.steps else request.replace(steps=steps)


def upscale_request(job: Job, index: int, settings: Settings) -> GenerationRequest:
    image = image_of(job, index)
    width, height = output_size(job.request)  # the upscale's width x height is its source's size
    return with_enough_steps(
        job.request.replace(
            mode=Mode.UPSCALE,
            source_image=str(image.path),
            seed=image.seed,
            count=1,
            width=width,
            height=height,
            strength=settings.defaults.upscale_strength,
            upscale_factor=UPSCALE_FACTOR,
            hires=None,
            variation=None,
        )
    )


def variation_request(
    job: Job, index: int, settings: Settings, *, strength: float | None = None, count: int | None = None
) -> GenerationRequest:
    """img2img of one image of the job: a new grid of variations with new seeds."""
    image = image_of(job, index)
    width, height = output_size(job.request)
    if job.request.mode is Mode.UPSCALE or job.request.hires is not None:
        width, height = fit_size(width, height, settings)  # back to a grid-sized generation
    return with_enough_steps(
        job.request.replace(
            mode=Mode.IMG2IMG,
            source_image=str(image.path),
            seed=RANDOM_SEED,
            count=count or min(4, settings.limits.max_count),
            width=width,
            height=height,
            strength=settings.defaults.img2img_strength if strength is None else strength,
            upscale_factor=GenerationRequest.upscale_factor,
            hires=None,
            variation=None,
        )
    )


def reroll_request(job: Job) -> GenerationRequest:
    """The same request with a new random seed."""
    return job.request.replace(seed=RANDOM_SEED)


def upscale_depth(job: Job) -> int:
    """How many upscales an upscale of this job's image would have behind it."""
    depth = int(job.meta.get("depth", 0) or 0)
    return depth + 1 if job.request.mode is Mode.UPSCALE else 1
