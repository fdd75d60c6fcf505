"""New requests made from an image of a past request: upscale it, vary it with img2img, repaint a
region of it (inpaint), zoom out of it or pan it (outpaint).

The Discord buttons (U1-U4, V1-V4, Vary (Region), Zoom Out, Pan), `/vary` and the command line's
`upscale`, `vary`, `inpaint`, `zoom` and `pan` all derive their requests here, so the same image
gives the same follow-up request wherever it is asked for.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

from generation.problems import Problem
from generation.requests.canvas import canvas_size
from generation.requests.request import RANDOM_SEED, Edit, GenerationRequest, Mode, Pan
from generation.requests.sizes import fit_size, output_size
from generation.requests.steps import enough_steps
from generation.settings import Settings

__all__ = [
    "UPSCALE_FACTOR",
    "NoSuchImage",
    "fit_size",
    "image_of",
    "output_size",
    "pan_of",
    "pan_of_image",
    "prompt_of_image",
    "region_of",
    "region_of_image",
    "reroll_of",
    "upscale_of",
    "upscale_of_image",
    "variation_of",
    "variation_of_image",
    "with_enough_steps",
    "zoom_out_of",
    "zoom_out_of_image",
]

UPSCALE_FACTOR = 2.0
# Denoising strength of the edits. A region repaints from noise, like a new picture there; an
# outpaint starts from the edge-aware fill it made, so the new area continues the picture's
# colours while the model draws it.
REGION_STRENGTH = 1.0
OUTPAINT_STRENGTH = 0.9


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


def region_of(
    request: GenerationRequest,
    source: str | Path,
    mask: str | Path,
    settings: Settings,
    *,
    prompt: str | None = None,
    strength: float | None = None,
    only_masked: bool = False,
    mask_blur: int | None = None,
    count: int | None = None,
) -> GenerationRequest:
    """Vary (Region): repaint the white of `mask` on one image that `request` made, with new seeds.

    `prompt` replaces the prompt (None keeps it). The result keeps the image's size and its pixels
    outside the mask (after the mask's feathered edge, `mask_blur` pixels)."""
    blur = Edit.mask_blur if mask_blur is None else mask_blur
    edit = Edit(mask=str(mask), mask_blur=blur, only_masked=only_masked)
    if prompt is not None:
        request = request.replace(prompt=prompt)
    return _edit_of(request, Mode.INPAINT, source, output_size(request), edit, settings, strength, count)


def zoom_out_of(
    request: GenerationRequest,
    source: str | Path,
    factor: float,
    settings: Settings,
    *,
    strength: float | None = None,
    count: int | None = None,
) -> GenerationRequest:
    """Zoom Out (1.5x, 2x, or a custom factor up to 2x): the image centred on a canvas `factor` times
    its size (scaled down to fit `limits.max_pixels`, see generation.requests.canvas), the new
    border painted with the same prompt."""
    width, height = output_size(request)
    canvas = canvas_size(width, height, settings.limits, zoom=factor)
    return _edit_of(request, Mode.OUTPAINT, source, canvas, Edit(zoom=factor), settings, strength, count)


def pan_of(
    request: GenerationRequest,
    source: str | Path,
    direction: Pan | str,
    settings: Settings,
    *,
    strength: float | None = None,
    count: int | None = None,
) -> GenerationRequest:
    """Pan left, right, up or down: half a side more canvas on that side, painted with the same
    prompt (the canvas rule of generation.requests.canvas applies)."""
    pan = Pan(direction)
    width, height = output_size(request)
    canvas = canvas_size(width, height, settings.limits, pan=pan)
    return _edit_of(request, Mode.OUTPAINT, source, canvas, Edit(pan=pan), settings, strength, count)


def _edit_of(
    request: GenerationRequest,
    mode: Mode,
    source: str | Path,
    size: tuple[int, int],
    edit: Edit,
    settings: Settings,
    strength: float | None,
    count: int | None,
) -> GenerationRequest:
    default = REGION_STRENGTH if mode is Mode.INPAINT else OUTPAINT_STRENGTH
    return with_enough_steps(
        request.replace(
            mode=mode,
            source_image=str(source),
            seed=RANDOM_SEED,
            count=count or min(settings.defaults.count, settings.limits.max_count),
            width=size[0],
            height=size[1],
            strength=default if strength is None else strength,
            upscale_factor=GenerationRequest.upscale_factor,
            hires=None,
            variation=None,
            edit=edit,
        )
    )


# -- follow-ups of a job's images (the buttons, /vary of a past job) -----------------------------
# A job (generation.jobs.types.Job) is described by what these read of it, so requests need
# nothing of jobs, which build on requests.


class MadeImage(Protocol):
    @property
    def index(self) -> int: ...
    @property
    def seed(self) -> int: ...
    @property
    def key(self) -> str: ...


class PastJob(Protocol):
    @property
    def id(self) -> str: ...
    @property
    def status(self) -> object: ...
    @property
    def request(self) -> GenerationRequest: ...
    @property
    def images(self) -> Sequence[MadeImage]: ...


class NoSuchImage(Problem):
    """The job has no such image (or no images yet)."""


def image_of(job: PastJob, index: int) -> MadeImage:
    """The job's image `index` (0-based); raises NoSuchImage (also for an image the job's image
    check blocked: nothing is made from a picture the server hid, whatever button was crafted)."""
    for image in job.images:
        if image.index == index:
            check = getattr(job, "image_check", None)  # generation.safety's ImageCheck, when checked
            if check is not None and check.blocked(index):
                raise NoSuchImage("request.image_blocked", job_id=job.id, number=index + 1)
            return image
    if not job.images:
        raise NoSuchImage("request.job_has_no_images", job_id=job.id, status=str(job.status))
    raise NoSuchImage("request.no_such_image", job_id=job.id, count=len(job.images), number=index + 1)


def upscale_of_image(job: PastJob, index: int, settings: Settings) -> GenerationRequest:
    """Upscale the job's image `index`, with that image's own seed (and prompt)."""
    image = image_of(job, index)
    return upscale_of(prompt_of_image(job.request, index), image.key, image.seed, settings)


def variation_of_image(
    job: PastJob, index: int, settings: Settings, *, strength: float | None = None, count: int | None = None
) -> GenerationRequest:
    """img2img of the job's image `index`: a new set of variations with new seeds."""
    source = image_of(job, index).key
    return variation_of(prompt_of_image(job.request, index), source, settings, strength=strength, count=count)


def prompt_of_image(request: GenerationRequest, index: int) -> GenerationRequest:
    """The request with image `index`'s own prompt (its resolved variant) as the prompt: what a
    follow-up of that image keeps."""
    if not request.image_prompts:
        return request
    return request.replace(prompt=request.prompt_for(index), image_prompts=())


def region_of_image(
    job: PastJob,
    index: int,
    mask: str | Path,
    settings: Settings,
    *,
    prompt: str | None = None,
    strength: float | None = None,
    only_masked: bool = False,
    count: int | None = None,
) -> GenerationRequest:
    """Vary (Region) of the job's image `index`: `mask` (a path or an artifact key) white = repaint."""
    return region_of(
        job.request,
        image_of(job, index).key,
        mask,
        settings,
        prompt=prompt,
        strength=strength,
        only_masked=only_masked,
        count=count,
    )


def zoom_out_of_image(job: PastJob, index: int, factor: float, settings: Settings) -> GenerationRequest:
    """Zoom Out of the job's image `index` by `factor`."""
    return zoom_out_of(job.request, image_of(job, index).key, factor, settings)


def pan_of_image(job: PastJob, index: int, direction: Pan | str, settings: Settings) -> GenerationRequest:
    """Pan the job's image `index` towards `direction`."""
    return pan_of(job.request, image_of(job, index).key, direction, settings)


def reroll_of(request: GenerationRequest) -> GenerationRequest:
    """The same request with a new random seed (its variants are drawn again from the new seeds)."""
    return request.replace(seed=RANDOM_SEED, image_prompts=())
