"""New requests made from a past job: upscale, vary, reroll (what the buttons and /vary ask for)."""

from __future__ import annotations

from generation.jobs.types import Job, JobImage
from generation.requests.followups import upscale_of, variation_of
from generation.requests.request import RANDOM_SEED, GenerationRequest, Mode
from generation.settings import Settings

SUBTLE, STRONG = 0.35, 0.7
STRENGTHS = {"subtle": SUBTLE, "strong": STRONG}


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


def upscale_request(job: Job, index: int, settings: Settings) -> GenerationRequest:
    image = image_of(job, index)
    return upscale_of(job.request, image.key, image.seed, settings)


def variation_request(
    job: Job, index: int, settings: Settings, *, strength: float | None = None, count: int | None = None
) -> GenerationRequest:
    """img2img of one image of the job: a new grid of variations with new seeds."""
    return variation_of(job.request, image_of(job, index).key, settings, strength=strength, count=count)


def reroll_request(job: Job) -> GenerationRequest:
    """The same request with a new random seed."""
    return job.request.replace(seed=RANDOM_SEED)


def upscale_depth(job: Job) -> int:
    """How many upscales an upscale of this job's image would have behind it."""
    depth = int(job.meta.get("depth", 0) or 0)
    return depth + 1 if job.request.mode is Mode.UPSCALE else 1
