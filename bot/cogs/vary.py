"""/vary: image-to-image from an uploaded image, or from an image of a past job."""

from __future__ import annotations

import asyncio
import io
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot import submit
from bot.access import Viewer, may_see, visible
from bot.autocomplete import job_choices
from bot.bounds import within
from bot.edits import EditInput, EditKind, EditSource, submit_edit
from bot.prefs import results_by_dm
from bot.replies import defer, fail
from bot.strengths import STRONG, SUBTLE, parse_strength
from bot.ui import text
from bot.ui.text import message_for
from generation.images.intake import ImageRefused, IntakeLimits, read_image
from generation.jobs.types import Job
from generation.problems import Problem
from generation.requests.followups import (
    NoSuchImage,
    fit_size,
    output_size,
    variation_of_image,
    with_enough_steps,
)
from generation.requests.prompt import PromptError, parse_prompt
from generation.requests.request import GenerationRequest, Mode
from generation.settings import Settings

if TYPE_CHECKING:
    from bot.app import ImagineBot

STRENGTH_CHOICES = (
    app_commands.Choice(name=f"subtle ({SUBTLE})", value="subtle"),
    app_commands.Choice(name=f"strong ({STRONG})", value="strong"),
)


class UploadError(ValueError):
    """The attachment could not be fetched, or is no mask; the message is for the user."""


def mask_png_of_upload(data: bytes, size: tuple[int, int], limits: IntakeLimits) -> bytes:
    """A mask upload as a grayscale PNG of `size` (white = repaint), read through the image intake
    like any upload (ImageRefused); UploadError when it paints nothing. Runs in a thread."""
    from PIL import Image

    mask = read_image(data, limits).image.convert("L")
    if mask.size != size:
        mask = mask.resize(size, Image.Resampling.BILINEAR)
    if mask.getextrema()[1] < 128:
        raise UploadError(text.MASK_PAINTS_NOTHING)
    buffer = io.BytesIO()
    mask.save(buffer, format="PNG")
    return buffer.getvalue()


def upload_request(
    prompt: str, source: str, size: tuple[int, int], strength: float, settings: Settings
) -> GenerationRequest:
    request = parse_prompt(prompt, settings.defaults)
    width, height = fit_size(*size, settings)
    return with_enough_steps(
        request.replace(mode=Mode.IMG2IMG, source_image=source, width=width, height=height, strength=strength)
    )


class Vary(commands.Cog):
    def __init__(self, bot: ImagineBot) -> None:
        self.bot = bot

    @app_commands.command(description="Make variations of an image (upload one, or pick a past job)")
    @app_commands.describe(
        image="An image to start from",
        job="A past job to start from (instead of an upload)",
        index="Which image of that job (1-4)",
        prompt="What the variations should show (flags work too); default: the job's prompt",
        strength="How much to change: subtle, strong, or a number from 0 to 1",
        mask="Repaint only a region: an image the source's shape, white where to repaint",
    )
    async def vary(
        self,
        interaction: discord.Interaction,
        image: discord.Attachment | None = None,
        job: str | None = None,
        index: app_commands.Range[int, 1, 4] = 1,
        prompt: str | None = None,
        strength: str | None = None,
        mask: discord.Attachment | None = None,
    ) -> None:
        await defer(interaction, ephemeral=await results_by_dm(interaction))
        settings = self.bot.settings
        try:
            value = parse_strength(strength, settings.defaults.img2img_strength)
            within("index", index, 1, 4)
            notes: tuple[Problem, ...] = ()
            if mask is not None and (image is not None or job is not None):
                source = await self.edit_source(interaction, image, job, index - 1, prompt, value)
                edit = EditInput(
                    EditKind.REGION,
                    prompt=prompt or None,
                    mask_png=await self.read_mask(mask, output_size(source.request)),
                    strength=value,
                )
                await submit_edit(interaction, source, edit)
                return
            if image is not None:
                request, notes = await self.from_upload(interaction, image, prompt or "", value)
                parent = None
            elif job is not None:
                request, parent = await self.from_job(interaction, job, index - 1, prompt, value), job.strip()
            else:
                await fail(interaction, text.VARY_NEEDS_A_SOURCE)
                return
        except (UploadError, ImageRefused, submit.Refused, PromptError, NoSuchImage, ValueError) as exc:
            await fail(interaction, message_for(exc))
            return
        await submit.submit(interaction, request, parent_id=parent, notes=notes)

    async def edit_source(
        self,
        interaction: discord.Interaction,
        image: discord.Attachment | None,
        job_id: str | None,
        index: int,
        prompt: str | None,
        strength: float,
    ) -> EditSource:
        """What a masked /vary repaints: the upload, or the past job's image."""
        if image is not None:
            request, _ = await self.from_upload(interaction, image, prompt or "", strength)
            assert request.source_image is not None
            return EditSource(request, request.source_image)
        assert job_id is not None
        return EditSource.of_job(await self.visible_job(interaction, job_id), index)

    async def visible_job(self, interaction: discord.Interaction, job_id: str) -> Job:
        """The job, if the user may see it (else Refused, the same answer as for no such job)."""
        job = await self.bot.service.get_job(job_id.strip())
        if job is None or not may_see(Viewer.of(interaction, self.bot.discord_settings), job):
            raise submit.Refused(text.no_job_you_can_see(job_id.strip()))
        return job

    async def read_mask(self, mask: discord.Attachment, size: tuple[int, int]) -> bytes:
        """The attached mask as a grayscale PNG of the source's size (white = repaint)."""
        limits = IntakeLimits.from_settings(self.bot.settings)
        if mask.size > limits.max_bytes:
            raise ImageRefused("image.too_many_bytes", size=mask.size, max=limits.max_bytes)
        try:
            data = await mask.read()
        except discord.HTTPException as exc:
            raise UploadError(text.UPLOAD_NOT_DOWNLOADED) from exc
        return await asyncio.to_thread(mask_png_of_upload, data, size, limits)

    async def from_upload(
        self, interaction: discord.Interaction, image: discord.Attachment, prompt: str, strength: float
    ) -> tuple[GenerationRequest, tuple[Problem, ...]]:
        """The request for an uploaded image, and what intake changed about the image."""
        limits = IntakeLimits.from_settings(self.bot.settings)
        if image.size > limits.max_bytes:  # refused before it is downloaded
            raise ImageRefused("image.too_many_bytes", size=image.size, max=limits.max_bytes)
        try:
            data = await image.read()
        except discord.HTTPException as exc:
            raise UploadError(text.UPLOAD_NOT_DOWNLOADED) from exc
        taken = await asyncio.to_thread(read_image, data, limits)  # decoding is slow: off the loop
        png = await asyncio.to_thread(taken.png)
        key = await self.bot.service.put_upload(png)  # the service stores it; the job gets its key
        request = upload_request(prompt, key, taken.size, strength, self.bot.settings)
        return request, taken.notes

    async def from_job(
        self, interaction: discord.Interaction, job_id: str, index: int, prompt: str | None, strength: float
    ) -> GenerationRequest:
        job = await self.visible_job(interaction, job_id)
        request = variation_of_image(job, index, self.bot.settings, strength=strength)
        if prompt:
            request = with_enough_steps(parse_prompt(prompt, self.bot.settings.defaults, base=request))
        return request

    @vary.autocomplete("job")
    async def job_autocomplete(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        viewer = Viewer.of(interaction, self.bot.discord_settings)
        recent = await self.bot.service.user_jobs(viewer.user_id, limit=25)
        return job_choices(current, [j for j in visible(viewer, recent) if j.images])

    @vary.autocomplete("strength")
    async def strength_autocomplete(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        choices = [c for c in STRENGTH_CHOICES if current.strip().lower() in c.name]
        if current.strip() and not choices:
            choices = [app_commands.Choice(name=current.strip()[:100], value=current.strip()[:100])]
        return choices


async def setup(bot: ImagineBot) -> None:
    await bot.add_cog(Vary(bot))
