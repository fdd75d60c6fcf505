"""New requests made from an image of a past request: upscale it, or vary it with img2img.

The Discord buttons (U1-U4, V1-V4), `/vary` and the command line's `upscale` and `vary` all derive
their requests here, so the same image gives the same follow-up request wherever it is asked for.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING

from generation.problems import Problem
from generation.requests.request import RANDOM_SEED, GenerationRequest, Mode
from generation.requests.validation import round_to_8
from generation.settings import Settings

if TYPE_CHECKING:  # jobs build on requests: only the types come from there
    from generation.jobs.types import Job, JobImage

UPSCALE_FACTOR = 2.0


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
    """img2img runs int(steps * strength) steps: a few-step job's follow-up must still run one."""
    steps = request.steps
    while int(steps * request.strength) < 1:
        steps += 1
    return request if steps == request.steps else request.replace(steps=steps)


def upscale_of(
    request: GenerationRequest,
    source: str | Path,
    seed: int,
    settings: Settings,
    *,
    factor: float = UPSCALE_FACTOR,
    strength: float | None = None,
) -> GenerationRequest:
    """Upscale one image that `request` made (`seed` is that image's own seed)."""
    width, height = output_size(request)  # an upscale's width x height is its source's size
    return with_enough_steps(
        request.replace(
            mode=Mode.UPSCALE,
            source_image=str(source),
            seed=seed,
            count=1,
            width=width,
            height=height,
            strength=settings.defaults.upscale_strength if strength is None else strength,
            upscale_factor=factor,
            hires=None,
            variation=None,
        )
    )


def variation_of(
    request: GenerationRequest,
    source: str | Path,
    settings: Settings,
    *,
    strength: float | None = None,
    count: int | None = None,
) -> GenerationRequest:
    """img2img of one image that `request` made: a new set of variations with new seeds."""
    width, height = output_size(request)
    if request.mode is Mode.UPSCALE or request.hires is not None:
        width, height = fit_size(width, height, settings)  # back to a grid-sized generation
    return with_enough_steps(
        request.replace(
            mode=Mode.IMG2IMG,
            source_image=str(source),
            seed=RANDOM_SEED,
            count=count or min(settings.defaults.count, settings.limits.max_count),
            width=width,
            height=height,
            strength=settings.defaults.img2img_strength if strength is None else strength,
            upscale_factor=GenerationRequest.upscale_factor,
            hires=None,
            variation=None,
        )
    )


# -- follow-ups of a job's images (the buttons, /vary of a past job) -----------------------------


class NoSuchImage(Problem):
    """The job has no such image (or no images yet)."""


def image_of(job: Job, index: int) -> JobImage:
    """The job's image `index` (0-based); raises NoSuchImage."""
    for image in job.images:
        if image.index == index:
            return image
    if not job.images:
        raise NoSuchImage("job_has_no_images", job_id=job.id, status=str(job.status))
    raise NoSuchImage("no_such_image", job_id=job.id, count=len(job.images), number=index + 1)


def upscale_of_image(job: Job, index: int, settings: Settings) -> GenerationRequest:
    """Upscale the job's image `index`, with that image's own seed."""
    image = image_of(job, index)
    return upscale_of(job.request, image.path, image.seed, settings)


def variation_of_image(
    job: Job, index: int, settings: Settings, *, strength: float | None = None, count: int | None = None
) -> GenerationRequest:
    """img2img of the job's image `index`: a new set of variations with new seeds."""
    return variation_of(job.request, image_of(job, index).path, settings, strength=strength, count=count)


def reroll_of(request: GenerationRequest) -> GenerationRequest:
    """The same request with a new random seed."""
    return request.replace(seed=RANDOM_SEED)
