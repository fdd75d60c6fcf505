"""/vary: image-to-image from an uploaded image, or from an image of a past job."""

from __future__ import annotations

import asyncio
import io
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot import submit
from bot.autocomplete import job_choices
from bot.edits import EditInput, EditKind, EditSource, submit_edit
from bot.prefs import results_by_dm
from bot.replies import defer, fail
from bot.strengths import STRONG, SUBTLE, parse_strength
from bot.ui import text
from bot.ui.text import message_for
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

MAX_UPLOAD_BYTES = 25 * 1024 * 1024
MAX_UPLOAD_PIXELS = 40_000_000  # refuse decompression bombs before decoding them
STRENGTH_CHOICES = (
    app_commands.Choice(name=f"subtle ({SUBTLE})", value="subtle"),
    app_commands.Choice(name=f"strong ({STRONG})", value="strong"),
)


class UploadError(ValueError):
    """The attachment is not an image we can use; the message is for the user."""


def png_of_upload(data: bytes) -> tuple[bytes, tuple[int, int]]:
    """Decode the upload and encode it as an RGB PNG; returns the PNG and its size. Runs in a thread."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as image:
            if image.width * image.height > MAX_UPLOAD_PIXELS:
                raise UploadError(text.upload_too_many_pixels(image.width, image.height))
            image = image.convert("RGB")
    except (UnidentifiedImageError, OSError) as exc:
        raise UploadError(text.UPLOAD_UNREADABLE) from exc
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue(), image.size


def mask_png_of_upload(data: bytes, size: tuple[int, int]) -> bytes:
    """A mask upload as a grayscale PNG of `size` (white = repaint); UploadError when it is not an
    image or paints nothing. Runs in a thread."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as image:
            if image.width * image.height > MAX_UPLOAD_PIXELS:
                raise UploadError(text.upload_too_many_pixels(image.width, image.height))
            mask = image.convert("L")
    except (UnidentifiedImageError, OSError) as exc:
        raise UploadError(text.UPLOAD_UNREADABLE) from exc
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
                request, parent = await self.from_upload(interaction, image, prompt or "", value), None
            elif job is not None:
                request, parent = await self.from_job(interaction, job, index - 1, prompt, value), job.strip()
            else:
                await fail(interaction, text.VARY_NEEDS_A_SOURCE)
                return
        except (UploadError, submit.Refused, PromptError, NoSuchImage, ValueError) as exc:
            await fail(interaction, message_for(exc))
            return
        await submit.submit(interaction, request, parent_id=parent)

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
            request = await self.from_upload(interaction, image, prompt or "", strength)
            assert request.source_image is not None
            return EditSource(request, request.source_image)
        assert job_id is not None
        found = await self.bot.service.get_job(job_id.strip())
        if found is None:
            raise submit.Refused(text.no_job(job_id.strip()))
        return EditSource.of_job(found, index)

    async def read_mask(self, mask: discord.Attachment, size: tuple[int, int]) -> bytes:
        """The attached mask as a grayscale PNG of the source's size (white = repaint)."""
        if mask.size > MAX_UPLOAD_BYTES:
            raise UploadError(text.upload_too_big(mask.size, MAX_UPLOAD_BYTES))
        try:
            data = await mask.read()
        except discord.HTTPException as exc:
            raise UploadError(text.UPLOAD_NOT_DOWNLOADED) from exc
        return await asyncio.to_thread(mask_png_of_upload, data, size)

    async def from_upload(
        self, interaction: discord.Interaction, image: discord.Attachment, prompt: str, strength: float
    ) -> GenerationRequest:
        if image.size > MAX_UPLOAD_BYTES:
            raise UploadError(text.upload_too_big(image.size, MAX_UPLOAD_BYTES))
        if image.content_type and not image.content_type.startswith("image/"):
            raise UploadError(text.UPLOAD_NOT_AN_IMAGE)
        try:
            data = await image.read()
        except discord.HTTPException as exc:
            raise UploadError(text.UPLOAD_NOT_DOWNLOADED) from exc
        png, size = await asyncio.to_thread(png_of_upload, data)
        key = await self.bot.service.put_upload(png)  # the service stores it; the job gets its key
        return upload_request(prompt, key, size, strength, self.bot.settings)

    async def from_job(
        self, interaction: discord.Interaction, job_id: str, index: int, prompt: str | None, strength: float
    ) -> GenerationRequest:
        job = await self.bot.service.get_job(job_id.strip())
        if job is None:
            raise submit.Refused(text.no_job(job_id.strip()))
        request = variation_of_image(job, index, self.bot.settings, strength=strength)
        if prompt:
            request = with_enough_steps(parse_prompt(prompt, self.bot.settings.defaults, base=request))
        return request

    @vary.autocomplete("job")
    async def job_autocomplete(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        recent = await self.bot.service.user_jobs(interaction.user.id, limit=25)
        return job_choices(current, [j for j in recent if j.images])

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
