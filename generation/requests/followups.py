"""New requests made from an image of a past request: upscale it, or vary it with img2img.

The Discord buttons (U1-U4, V1-V4), `/vary` and the command line's `upscale` and `vary` all derive
their requests here, so the same image gives the same follow-up request wherever it is asked for.
"""

from __future__ import annotations

from pathlib import Path

from generation.requests.request import RANDOM_SEED, GenerationRequest, Mode
from generation.requests.sizes import fit_size, output_size
from generation.requests.steps import enough_steps
from generation.settings import Settings

__all__ = ["UPSCALE_FACTOR", "fit_size", "output_size", "upscale_of", "variation_of", "with_enough_steps"]

UPSCALE_FACTOR = 2.0


def with_enough_steps(request: GenerationRequest) -> GenerationRequest:
    """The request with steps enough for its img2img pass to run one: a few-step job's follow-up
    must still denoise."""
    steps = enough_steps(request.steps, request.strength)
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
