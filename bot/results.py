"""A finished job's message: the grid (under the upload limit), its text, and its buttons.

The buttons are `bot.buttons.ResultButton`s, which work on any message that carries them.
"""

from __future__ import annotations

import asyncio
import io
from dataclasses import dataclass
from typing import TYPE_CHECKING

import discord

from bot import render
from bot.buttons import CANCEL, DELETE, INFO, REROLL, STRONG, SUBTLE, UPSCALE, VARY, ResultButton
from generation.images.encoding import encode_under_limit
from generation.jobs.types import Job
from generation.requests.request import Mode

if TYPE_CHECKING:
    from generation.jobs.service import JobService
    from generation.settings import Settings

UPLOAD_MARGIN = 4096  # headroom under the limit for multipart framing


@dataclass(frozen=True)
class Upload:
    """Encoded bytes; a fresh `discord.File` is made for every attempt (a File is single-use)."""

    data: bytes
    filename: str
    spoiler: bool = False

    def file(self) -> discord.File:
        return discord.File(io.BytesIO(self.data), filename=self.filename, spoiler=self.spoiler)


async def encode_upload(data: bytes, name: str, limit: int, spoiler: bool) -> Upload:
    """Fit the image under the upload limit (re-encoding or shrinking it), off the event loop."""
    encoded = await asyncio.to_thread(encode_under_limit, data, max(1024, limit - UPLOAD_MARGIN), name=name)
    return Upload(encoded.data, encoded.filename, spoiler)


def result_key(job: Job) -> str | None:
    """The picture to show: the grid, or the single image when there is one (an artifact key)."""
    if job.grid_key is not None:
        return job.grid_key
    if job.images:
        return job.images[0].key
    return None


def result_text(job: Job) -> str:
    seed = job.images[0].seed if job.images else job.request.seed
    return render.result_text(job.request, job.owner.user_id, seed, job.model_name, job.id)


def depth_of(job: Job) -> int:
    return int(job.meta.get("depth", 0) or 0)


def result_view(job: Job, settings: Settings) -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    if job.request.mode is Mode.UPSCALE:
        view.add_item(ResultButton(SUBTLE, job.id, 0, label="Vary (subtle)", emoji="🪄", row=0))
        view.add_item(ResultButton(STRONG, job.id, 0, label="Vary (strong)", emoji="🪄", row=0))
        if depth_of(job) < settings.discord.max_upscale_depth:
            view.add_item(ResultButton(UPSCALE, job.id, 0, label="Upscale x2", emoji="🔍", row=0))
    else:
        for image in job.images[:5]:
            n = image.index + 1
            view.add_item(ResultButton(UPSCALE, job.id, image.index, label=f"U{n}", row=0))
        for image in job.images[:5]:
            n = image.index + 1
            view.add_item(ResultButton(VARY, job.id, image.index, label=f"V{n}", row=1))
        view.add_item(ResultButton(REROLL, job.id, 0, emoji="🔄", row=2))
    view.add_item(ResultButton(INFO, job.id, 0, emoji="ℹ️", row=2))
    view.add_item(ResultButton(DELETE, job.id, 0, emoji="🗑️", row=2))
    return view


def progress_view(job_id: str) -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    view.add_item(ResultButton(CANCEL, job_id, 0, label="Cancel", style=discord.ButtonStyle.secondary))
    return view


async def result_upload(service: JobService, job: Job, limit: int, spoiler: bool) -> Upload | None:
    key = result_key(job)
    if key is None:
        return None
    return await encode_upload(await service.read_artifact(key), job.id, limit, spoiler)
