"""Posting a result as its image check says (generation.safety): flagged images as a spoiler, or
blocked ones replaced with a placeholder, a note saying why, and no buttons that would work on a
blocked image. Every place that posts a job's picture goes through `checked_upload` (delivery,
the DM, /show), so a blocked image is shown nowhere; its progress previews are held back too.
"""

from __future__ import annotations

import asyncio

import discord

from bot.buttons import CANCEL, DELETE, INFO, REROLL, ResultButton
from bot.settings import DiscordSettings
from bot.ui import text
from bot.ui.uploads import Upload, encode_upload, result_upload
from bot.ui.views import result_view
from generation.jobs.service import JobService
from generation.jobs.types import Job
from generation.safety.check import SafetyMode, mode_of
from generation.safety.placeholder import picture_with_placeholders

JOB_WIDE = frozenset({REROLL, INFO, DELETE, CANCEL})  # buttons that use no image of the job


async def checked_upload(service: JobService, job: Job, limit: int, spoiler: bool) -> Upload | None:
    """The job's picture to post: as it is, as a spoiler (flagged under `spoiler`), or rebuilt with
    each blocked image replaced by a placeholder (under `block`)."""
    check = job.image_check
    action = check.action if check is not None else SafetyMode.OFF
    if check is not None and action is SafetyMode.BLOCK and job.images:
        pngs = [await service.read_artifact(image.key) for image in job.images]
        blocked = {i for i, image in enumerate(job.images) if check.blocked(image.index)}
        picture = await asyncio.to_thread(picture_with_placeholders, pngs, blocked)
        return await encode_upload(picture, job.id, limit, spoiler)
    return await result_upload(service, job, limit, spoiler or action is SafetyMode.SPOILER)


def checked_content(content: str, job: Job) -> str:
    """The result's message with the check's note under it, when it changed what is shown."""
    check = job.image_check
    if check is None or check.action is SafetyMode.OFF:
        return content
    return f"{content}\n{text.image_check_note(check)}"


def checked_view(view: discord.ui.View, job: Job) -> discord.ui.View:
    """The result's buttons less those that would use a blocked image (upscale, vary, edits)."""
    check = job.image_check
    blocked = check.blocked_indexes if check is not None else frozenset()
    if not blocked:
        return view
    for item in list(view.children):
        if isinstance(item, ResultButton) and item.action in JOB_WIDE:
            continue
        if getattr(item, "index", None) in blocked:
            view.remove_item(item)
    return view


def checked_preview(preview: bytes, job: Job, spoiler: bool) -> Upload | None:
    """A progress preview of a job its check will look at: none under `block` (the finished image
    may be hidden, so its previews are not shown), a spoiler under `spoiler`."""
    mode = mode_of(job.meta)
    if mode is SafetyMode.BLOCK:
        return None
    return Upload(preview, "preview.png", spoiler or mode is SafetyMode.SPOILER)


async def result_parts(
    service: JobService, discord_settings: DiscordSettings, job: Job, limit: int, spoiler: bool
) -> tuple[str, Upload | None, discord.ui.View]:
    """A finished job's message as posted everywhere (the result, its DM, /show): its words with
    what was applied and the check's note, its picture and its buttons, as its image check says."""
    upload = await checked_upload(service, job, limit, spoiler)
    view = checked_view(result_view(job, discord_settings), job)
    content = checked_content(text.with_applied(text.result_text(job), job.applied), job)
    return content, upload, view
