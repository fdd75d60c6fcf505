"""Editing a result: Vary (Region), Zoom Out and Pan. What the Discord flows collect (`EditInput`)
and the one place that turns it into a request (`edit_request`).

Every flow ends in `submit_edit(interaction, source, edit)`: the region grid's form, a mask
attached to `/vary`, the mask editor page (bot/web/, which calls `edit_request` itself as it has no
interaction), the zoom and pan buttons and their remix forms.

STAND-IN: until the editing pipelines land (issue 13's generation side: `region_of`,
`zoom_out_of`, `pan_of` in generation/requests/followups.py), `edit_request` makes an img2img
variation of the image with the edit's prompt, and records the edit's inputs with the job
(`Job.meta["edit"]`: kind, cells, mask key, factor, direction, prompt). Wiring the pipelines is
replacing the body of `edit_request` (the mask is already stored as an upload: `mask_key`).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import discord

from bot import submit
from bot.remix import remixed
from bot.replies import fail
from bot.ui.text import message_for
from generation.jobs.types import Job
from generation.requests.followups import NoSuchImage, image_of, variation_of
from generation.requests.prompt import PromptError
from generation.requests.request import GenerationRequest
from generation.settings import Settings

if TYPE_CHECKING:
    from generation.jobs.service import JobService

GRID = 4  # the region grid is GRID x GRID cells, numbered 1.. row by row from the top left
ZOOMS = {"z": 2.0, "y": 1.5}  # the Zoom Out buttons: action letter -> factor
MAX_ZOOM = 2.0
PANS = {"l": "left", "r": "right", "u": "up", "d": "down"}  # the Pan buttons


class EditKind(enum.StrEnum):
    REGION = "region"  # repaint the masked part (cells of the grid, or a painted mask)
    ZOOM = "zoom"  # zoom out: a larger canvas around the image
    PAN = "pan"  # extend the canvas by half a side in one direction


@dataclass(frozen=True)
class EditInput:
    """What a flow collected. `prompt` is the text typed in its form (a prompt, flags allowed);
    None keeps the image's own prompt and settings."""

    kind: EditKind
    prompt: str | None = None
    cells: tuple[int, ...] = ()  # REGION from the grid: cell numbers 1..GRID*GRID as shown
    mask_png: bytes | None = None  # REGION from a mask: PNG the image's size, white = repaint
    factor: float | None = None  # ZOOM: 1 < factor <= MAX_ZOOM
    direction: str | None = None  # PAN: left, right, up or down
    strength: float | None = None  # denoising strength; None: the server's img2img default
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
        """The job's image `index` (0-based); raises NoSuchImage."""
        image = image_of(job, index)
        return cls(job.request, image.key, image.seed, job.id)


@dataclass(frozen=True)
class EditRequest:
    request: GenerationRequest
    meta: dict[str, Any]  # kept with the job as meta["edit"]


def cells_to_bits(cells: tuple[int, ...] | list[int]) -> int:
    """Cells as a bit mask (bit n-1 for cell n), to carry them in a custom_id."""
    return sum(1 << (cell - 1) for cell in set(cells))


def bits_to_cells(bits: int, grid: int = GRID) -> tuple[int, ...]:
    return tuple(n for n in range(1, grid * grid + 1) if bits & (1 << (n - 1)))


async def edit_request(
    service: JobService, settings: Settings, source: EditSource, edit: EditInput
) -> EditRequest:
    """The request an edit makes (raises PromptError for a bad prompt in its form).

    STAND-IN (see the module docstring): an img2img variation with the edit's prompt; the region,
    zoom and pan follow-ups replace it here once the pipelines land."""
    meta: dict[str, Any] = {"kind": edit.kind.value, "image": source.image, "stand_in": "img2img"}
    if edit.cells:
        meta |= {"cells": list(edit.cells), "grid": edit.grid}
    if edit.mask_png is not None:
        meta["mask_key"] = await service.put_upload(edit.mask_png)  # travels like a source image
    if edit.factor is not None:
        meta["factor"] = edit.factor
    if edit.direction is not None:
        meta["direction"] = edit.direction
    request = variation_of(source.request, source.image, settings, strength=edit.strength)
    if edit.prompt is not None:
        meta["prompt"] = edit.prompt
        request = remixed(request, edit.prompt, settings.defaults)
    return EditRequest(request, meta)


async def submit_edit(interaction: discord.Interaction, source: EditSource, edit: EditInput) -> Job | None:
    """Queue the edit for whoever started the interaction (deferred already); they own and pay for
    the job. Returns the job, or None after telling them why not."""
    bot = interaction.client
    try:
        built = await edit_request(bot.service, bot.settings, source, edit)  # type: ignore[attr-defined]
    except (PromptError, NoSuchImage, ValueError) as exc:
        await fail(interaction, message_for(exc))
        return None
    return await submit.submit(
        interaction, built.request, parent_id=source.job_id, extra_meta={"edit": built.meta}
    )
