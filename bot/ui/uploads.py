"""Images for Discord uploads: encoded under the upload limit, off the event loop."""

from __future__ import annotations

import asyncio
import io
from dataclasses import dataclass
from pathlib import Path

import discord

from generation.images.encoding import encode_under_limit
from generation.jobs.types import Job

UPLOAD_MARGIN = 4096  # headroom under the limit for multipart framing


@dataclass(frozen=True)
class Upload:
    """Encoded bytes; a fresh `discord.File` is made for every attempt (a File is single-use)."""

    data: bytes
    filename: str
    spoiler: bool = False

    def file(self) -> discord.File:
        return discord.File(io.BytesIO(self.data), filename=self.filename, spoiler=self.spoiler)


async def encode_upload(path: Path, name: str, limit: int, spoiler: bool) -> Upload:
    """Fit the image under the upload limit (re-encoding or shrinking it), off the event loop."""
    encoded = await asyncio.to_thread(encode_under_limit, path, max(1024, limit - UPLOAD_MARGIN), name=name)
    return Upload(encoded.data, encoded.filename, spoiler)


def result_path(job: Job) -> Path | None:
    """The picture to show: the grid, or the single image when there is one."""
    if job.grid_path is not None:
        return Path(job.grid_path)
    if job.images:
        return Path(job.images[0].path)
    return None


async def result_upload(job: Job, limit: int, spoiler: bool) -> Upload | None:
    path = result_path(job)
    if path is None:
        return None
    return await encode_upload(path, job.id, limit, spoiler)
