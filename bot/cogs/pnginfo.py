"""Reading the parameters of an uploaded image: `/info image:` and the message command "Show
parameters", whichever tool made it (generation.images.reading), with an "Imagine with these"
button that queues them here.

The answer shows what was read and what changes here (a sampler or model this bot does not have,
a size beyond the limits), and carries the `/imagine` text that makes it again in its embed. The
button reads that text back from the message it sits on, so it needs no storage and works after a
restart; whoever clicks owns the job (the answer is ephemeral: the one who asked).
"""

from __future__ import annotations

import asyncio
import re
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot import submit
from bot.replies import answers_errors, defer, fail, reply
from bot.ui import text
from generation.images.reading import (
    DEFAULT_MAX_PIXELS,
    ImageParameters,
    ReadingError,
    read_image_parameters,
    request_from_image,
)
from generation.requests.prompt import PromptError, format_flags, parse_prompt
from generation.requests.request import GenerationRequest
from generation.requests.validation import ValidationError, validate

if TYPE_CHECKING:
    from bot.app import ImagineBot

MAX_IMAGE_BYTES = 25 * 1024 * 1024
MAX_ATTACHMENTS_READ = 4  # of one message
IMAGINE_ID = "png:imagine"
EMBED_LIMIT = 4096
FENCE = "```"
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp")


def command_text(request: GenerationRequest, bot: ImagineBot) -> str:
    """The /imagine prompt (with flags) that makes the request."""
    return f"{request.prompt} {format_flags(request, bot.settings.defaults)}".strip()


def command_embed(command: str) -> discord.Embed:
    return discord.Embed(title=text.IMAGINE_COMMAND_TITLE, description=f"{FENCE}\n{command}\n{FENCE}")


def command_of(message: discord.Message | None) -> str | None:
    """The /imagine text an answer carries in its embed (None: not such a message)."""
    if message is None or not message.embeds:
        return None
    description = message.embeds[0].description or ""
    found = re.fullmatch(rf"{FENCE}\n(.*)\n{FENCE}", description, re.DOTALL)
    return found.group(1) if found else None


class ImagineWithThese(discord.ui.DynamicItem[discord.ui.Button], template=IMAGINE_ID):
    def __init__(self) -> None:
        super().__init__(
            discord.ui.Button(
                label=text.IMAGINE_WITH_THESE_LABEL,
                emoji="🎨",
                style=discord.ButtonStyle.primary,
                custom_id=IMAGINE_ID,
            )
        )

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Button, match: re.Match[str], /
    ) -> ImagineWithThese:
        return cls()

    @answers_errors
    async def callback(self, interaction: discord.Interaction) -> None:
        await defer(interaction)
        bot: ImagineBot = interaction.client  # type: ignore[assignment]
        command = command_of(interaction.message)
        if command is None:
            await fail(interaction, text.PARAMETERS_GONE)
            return
        try:
            request = parse_prompt(command, bot.settings.defaults)
        except PromptError as exc:
            await fail(interaction, text.describe(exc))
            return
        await submit.submit(interaction, request)


def is_image(attachment: discord.Attachment) -> bool:
    if attachment.content_type:
        return attachment.content_type.startswith("image/")
    return attachment.filename.lower().endswith(IMAGE_SUFFIXES)


class Unreadable(Exception):
    """The attachment cannot be read; the message is for the user."""


async def read_attachment(attachment: discord.Attachment) -> ImageParameters | None:
    """The parameters in an attachment (None: it has none), read off the event loop; raises
    Unreadable."""
    if attachment.size > MAX_IMAGE_BYTES:
        raise Unreadable(text.upload_too_big(attachment.size, MAX_IMAGE_BYTES))
    try:
        data = await attachment.read()
    except discord.HTTPException as exc:
        raise Unreadable(text.UPLOAD_NOT_DOWNLOADED) from exc
    try:
        return await asyncio.to_thread(read_image_parameters, data, max_pixels=DEFAULT_MAX_PIXELS)
    except ReadingError as exc:
        raise Unreadable(text.describe(exc)) from exc


async def answer(
    bot: ImagineBot, interaction: discord.Interaction, attachments: list[discord.Attachment]
) -> None:
    """Show the parameters of the first of the attachments that has any, with the button."""
    images = [a for a in attachments if is_image(a)][:MAX_ATTACHMENTS_READ]
    if not images:
        await fail(interaction, text.NO_IMAGE_TO_READ)
        return
    found = None
    source = images[0]
    try:
        for attachment in images:
            found, source = await read_attachment(attachment), attachment
            if found is not None:
                break
    except Unreadable as exc:
        await fail(interaction, str(exc))
        return
    if found is None:
        await reply(interaction, text.no_parameters(source.filename))
        return
    reading = request_from_image(
        found, bot.settings, models=bot.service.model_names(), active_model=bot.service.active_model
    )
    notes = [text.describe(note) for note in reading.notes]
    command = command_text(reading.request, bot)
    blocked = why_not_offered(bot, reading.request, command)
    content = text.image_parameters(found, source.filename, notes, blocked)
    if blocked is not None:
        await reply(interaction, content)
        return
    view = discord.ui.View(timeout=None)
    view.add_item(ImagineWithThese())
    await reply(interaction, content, embed=command_embed(command), view=view)


def why_not_offered(bot: ImagineBot, request: GenerationRequest, command: str) -> str | None:
    """Why the button cannot make this here (None: it can): the request must pass this server's
    checks and come back from its /imagine text unchanged."""
    try:
        validate(request, bot.settings)
    except ValidationError as exc:
        return text.describe(exc)
    try:
        again = parse_prompt(command, bot.settings.defaults)
    except PromptError:
        again = None
    if again != request or len(command) + 2 * len(FENCE) + 2 > EMBED_LIMIT:
        return text.CANNOT_IMAGINE_THIS_TEXT
    return None


class PngInfo(commands.Cog):
    def __init__(self, bot: ImagineBot) -> None:
        self.bot = bot
        self.menu = app_commands.ContextMenu(name=text.SHOW_PARAMETERS_COMMAND, callback=self.show_parameters)

    async def cog_load(self) -> None:
        self.bot.tree.add_command(self.menu)
        self.bot.add_dynamic_items(ImagineWithThese)

    async def cog_unload(self) -> None:
        self.bot.tree.remove_command(self.menu.name, type=self.menu.type)
        self.bot.remove_dynamic_items(ImagineWithThese)

    async def show_parameters(self, interaction: discord.Interaction, message: discord.Message) -> None:
        await defer(interaction, ephemeral=True)
        await answer(self.bot, interaction, list(message.attachments))


async def setup(bot: ImagineBot) -> None:
    await bot.add_cog(PngInfo(bot))
