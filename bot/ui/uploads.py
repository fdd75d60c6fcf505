"""Images for Discord uploads: encoded under the upload limit, off the event loop."""

from __future__ import annotations

import asyncio
import io
from dataclasses import dataclass
from typing import TYPE_CHECKING

import discord

from generation.images.encoding import encode_under_limit
from generation.jobs.types import Job

if TYPE_CHECKING:
    from generation.jobs.service import JobService

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


async def result_upload(service: JobService, job: Job, limit: int, spoiler: bool) -> Upload | None:
    key = result_key(job)
    if key is None:
        return None
    return await encode_upload(await service.read_artifact(key), job.id, limit, spoiler)
