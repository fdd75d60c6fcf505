"""Editing a result: Vary (Region), Zoom Out and Pan. What the Discord flows collect (`EditInput`)
and the one place that turns it into a request (`edit_request`).

Every flow ends in `submit_edit(interaction, source, edit)`: the region grid's form, a mask
attached to `/vary`, the mask editor page (bot/web/, which calls `edit_request` itself as it has no
interaction), the zoom and pan buttons and their remix forms.

`edit_request` makes the generation side's follow-ups (generation/requests/followups.py): a region
is an inpaint (`region_of`) of the white of a mask, the grid's cells drawn as one (`grid_mask`,
hard-edged: the request's `mask_blur` feathers it when it runs) or the painted one, stored as an
upload whose key the request carries (`edit.mask`), read into the batch like the source; a zoom
is `zoom_out_of` and a pan `pan_of` (outpaints). Text typed in a form (the region's prompt, a
Remix) is a prompt with flags: its prompt, negative prompt, steps, CFG, sampler, model, seed and
`--n` apply; the size and the mode stay the edit's, and `--strength` is the edit's own unless
typed. The inputs are kept with the job (`Job.meta["edit"]`: kind, mode, cells, mask key,
factor, direction, prompt).
"""

from __future__ import annotations

import asyncio
import dataclasses
import enum
import io
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import discord

from bot import submit
from bot.remix import remix_text
from bot.replies import fail
from bot.ui.text import message_for
from generation.images.masks import grid_mask
from generation.jobs.problems import StoreWriteFailed
from generation.jobs.types import Job
from generation.requests.canvas import MAX_ZOOM
from generation.requests.followups import (
    OUTPAINT_STRENGTH,
    REGION_STRENGTH,
    NoSuchImage,
    image_of,
    output_size,
    pan_of,
    prompt_of_image,
    region_of,
    zoom_out_of,
)
from generation.requests.prompt import PromptError, parse_prompt
from generation.requests.request import RANDOM_SEED, GenerationRequest, Mode
from generation.settings import DefaultSettings, Settings

if TYPE_CHECKING:
    from generation.jobs.service import JobService

GRID = 4  # the region grid is GRID x GRID cells, numbered 1.. row by row from the top left
ZOOMS = {"z": 2.0, "y": 1.5}  # the Zoom Out buttons: action letter -> factor (at most MAX_ZOOM)
PANS = {"l": "left", "r": "right", "u": "up", "d": "down"}  # the Pan buttons


class EditKind(enum.StrEnum):
    REGION = "region"  # repaint the masked part (cells of the grid, or a painted mask)
    ZOOM = "zoom"  # zoom out: a larger canvas around the image
    PAN = "pan"  # extend the canvas by half a side in one direction


@dataclass(frozen=True)
class EditInput:
    """What a flow collected. `prompt` is the text typed in its form (a prompt, flags allowed);
    None keeps the image's own prompt and settings. A mask, when given, is the region (not cells)."""

    kind: EditKind
    prompt: str | None = None
    cells: tuple[int, ...] = ()  # REGION from the grid: cell numbers 1..GRID*GRID as shown
    mask_png: bytes | None = None  # REGION from a mask: PNG the image's size, white = repaint
    factor: float | None = None  # ZOOM: 1 < factor <= MAX_ZOOM
    direction: str | None = None  # PAN: left, right, up or down
    strength: float | None = None  # denoising strength; None: the edit's own (`default_strength`)
    grid: int = GRID

    def __post_init__(self) -> None:
        if self.kind is EditKind.REGION and not (self.cells or self.mask_png):
            raise ValueError("a region edit needs cells or a mask")
        if any(not 1 <= cell <= self.grid * self.grid for cell in self.cells):
            raise ValueError(f"cells are numbered 1 to {self.grid * self.grid}")
        if self.kind is EditKind.ZOOM and not (self.factor and 1.0 < self.factor <= MAX_ZOOM):
            raise ValueError(f"a zoom factor is above 1 and at most {MAX_ZOOM}")
        if self.kind is EditKind.PAN and self.direction not in PANS.values():
            raise ValueError("a pan goes left, right, up or down")


@dataclass(frozen=True)
class EditSource:
    """The image an edit starts from: made by `request` (a past job's, or an upload's)."""

    request: GenerationRequest
    image: str  # its artifact key
    seed: int | None = None  # the image's own seed, when a job made it
    job_id: str | None = None  # the job that made it: the new job's parent

    @classmethod
    def of_job(cls, job: Job, index: int) -> EditSource:
        """The job's image `index` (0-based), with its own prompt (its variant); raises NoSuchImage."""
        image = image_of(job, index)
        return cls(prompt_of_image(job.request, index), image.key, image.seed, job.id)


@dataclass(frozen=True)
class EditRequest:
    request: GenerationRequest
    meta: dict[str, Any]  # kept with the job as meta["edit"]


def cells_to_bits(cells: tuple[int, ...] | list[int]) -> int:
    """Cells as a bit mask (bit n-1 for cell n), to carry them in a custom_id."""
    return sum(1 << (cell - 1) for cell in set(cells))


def bits_to_cells(bits: int, grid: int = GRID) -> tuple[int, ...]:
    return tuple(n for n in range(1, grid * grid + 1) if bits & (1 << (n - 1)))


def default_strength(kind: EditKind) -> float:
    """An edit's denoising strength unless one is asked for: a region repaints from noise, a zoom or
    pan from the fill it made of the picture's edges (generation.requests.followups)."""
    return REGION_STRENGTH if kind is EditKind.REGION else OUTPAINT_STRENGTH


def cells_mask_png(size: tuple[int, int], cells: tuple[int, ...], grid: int = GRID) -> bytes:
    """The grid's cells as a mask PNG of the image's size, white = repaint (hard-edged: the
    request's `mask_blur` feathers it when it runs)."""
    buffer = io.BytesIO()
    grid_mask(size[0], size[1], cells, grid).save(buffer, format="PNG")
    return buffer.getvalue()


def edit_defaults(defaults: DefaultSettings, strength: float) -> DefaultSettings:
    """The defaults a form's text is read against: the edit's strength is the one not shown."""
    return dataclasses.replace(defaults, img2img_strength=strength)


def edit_text(source: EditSource, kind: EditKind, settings: Settings, strength: float | None = None) -> str:
    """What an edit's form shows: the image's prompt with the flags it was made with, less what the
    edit decides itself (size, seed, image count, and its strength)."""
    strength = default_strength(kind) if strength is None else strength
    defaults = edit_defaults(settings.defaults, strength)
    shown = source.request.replace(
        mode=Mode.IMG2IMG,
        width=defaults.width,
        height=defaults.height,
        seed=RANDOM_SEED,
        count=defaults.count,
        strength=strength,
        hires=None,
        variation=None,
    )
    return remix_text(shown, defaults)


@dataclass(frozen=True)
class Typed:
    """What text typed in an edit's form changes: the image's request with the typed prompt and
    options, the strength, seed and image count to make the edit with."""

    request: GenerationRequest
    strength: float
    seed: int
    count: int | None


def typed_in(
    request: GenerationRequest, typed: str | None, strength: float, defaults: DefaultSettings
) -> Typed:
    """Read a form's text over the image's request (raises PromptError). Flags removed from the
    text go back to the server's defaults, as Remix does; the size is the edit's whatever is typed."""
    if typed is None:
        return Typed(request, strength, RANDOM_SEED, None)
    parsed = parse_prompt(typed, edit_defaults(defaults, strength))
    changed = request.replace(
        prompt=parsed.prompt,
        negative_prompt=parsed.negative_prompt,
        steps=parsed.steps,
        cfg_scale=parsed.cfg_scale,
        sampler=parsed.sampler,
        model=parsed.model,
        tiling=parsed.tiling,
        clip_skip=parsed.clip_skip,
        vae=parsed.vae,
        image_prompts=(),
    )
    return Typed(changed, parsed.strength, parsed.seed, parsed.count)


async def edit_request(
    service: JobService, settings: Settings, source: EditSource, edit: EditInput
) -> EditRequest:
    """The request an edit makes: an inpaint of the region, an outpaint for a zoom or a pan
    (raises PromptError for a bad prompt in its form, StoreWriteFailed when the mask cannot be
    stored)."""
    meta: dict[str, Any] = {"kind": edit.kind.value, "image": source.image}
    strength = default_strength(edit.kind) if edit.strength is None else edit.strength
    typed = typed_in(source.request, edit.prompt, strength, settings.defaults)
    if edit.prompt is not None:
        meta["prompt"] = edit.prompt
    strength, count = typed.strength, typed.count
    if edit.kind is EditKind.REGION:
        if edit.cells:
            meta |= {"cells": list(edit.cells), "grid": edit.grid}
        mask = edit.mask_png
        if mask is None:
            size = output_size(source.request)
            mask = await asyncio.to_thread(cells_mask_png, size, edit.cells, edit.grid)
        meta["mask_key"] = await service.put_upload(mask)  # read into the batch like the source
        request = region_of(
            typed.request, source.image, meta["mask_key"], settings, strength=strength, count=count
        )
    elif edit.kind is EditKind.ZOOM:
        assert edit.factor is not None
        meta["factor"] = edit.factor
        request = zoom_out_of(
            typed.request, source.image, edit.factor, settings, strength=strength, count=count
        )
    else:
        assert edit.direction is not None
        meta["direction"] = edit.direction
        request = pan_of(
            typed.request, source.image, edit.direction, settings, strength=strength, count=count
        )
    if typed.seed != RANDOM_SEED:
        request = request.replace(seed=typed.seed)
    meta["mode"] = request.mode.value
    return EditRequest(request, meta)


async def submit_edit(interaction: discord.Interaction, source: EditSource, edit: EditInput) -> Job | None:
    """Queue the edit for whoever started the interaction (deferred already); they own and pay for
    the job. Returns the job, or None after telling them why not."""
    bot = interaction.client
    try:
        built = await edit_request(bot.service, bot.settings, source, edit)  # type: ignore[attr-defined]
    except (PromptError, NoSuchImage, StoreWriteFailed, ValueError) as exc:
        await fail(interaction, message_for(exc))
        return None
    return await submit.submit(
        interaction, built.request, parent_id=source.job_id, extra_meta={"edit": built.meta}
    )
