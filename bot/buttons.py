"""The buttons on job messages and what they do.

Each button is a `ResultButton`: a DynamicItem whose custom_id holds the action, the job id and
the image index (`img:u:<job>:<i>`), so it works on any message that carries it, after a restart
and on the copies `/show` posts. Whoever clicks owns, and is charged for, the job it starts.
"""

from __future__ import annotations

import contextlib
import dataclasses
import re
from typing import TYPE_CHECKING

import discord

from bot import remix, strengths, submit
from bot.access import Viewer, may_manage, may_see
from bot.meta import DeliveryMeta, upscale_depth
from bot.prefs import results_by_dm
from bot.replies import answers_errors, defer, fail, reply
from bot.ui import text
from generation.images.metadata import format_parameters
from generation.jobs.types import Job, JobStatus
from generation.requests import followups
from generation.requests.applied import Applied
from generation.requests.followups import NoSuchImage
from generation.requests.request import GenerationRequest

if TYPE_CHECKING:
    from bot.app import ImagineBot

# Action letters live in stored custom_ids: never reuse one for something else.
UPSCALE, VARY, REROLL, DELETE, INFO, SUBTLE, STRONG, CANCEL = "u", "v", "r", "d", "i", "s", "t", "c"
CUSTOM_ID = r"img:(?P<action>[uvrdistc]):(?P<job>[A-Za-z0-9_-]{1,64}):(?P<index>\d{1,2})"


def custom_id(action: str, job_id: str, index: int = 0) -> str:
    return f"img:{action}:{job_id}:{index}"


class ResultButton(discord.ui.DynamicItem[discord.ui.Button], template=CUSTOM_ID):
    def __init__(
        self,
        action: str,
        job_id: str,
        index: int = 0,
        *,
        label: str | None = None,
        emoji: str | None = None,
        style: discord.ButtonStyle = discord.ButtonStyle.secondary,
        row: int | None = None,
    ) -> None:
        button = discord.ui.Button(
            label=label, emoji=emoji, style=style, row=row, custom_id=custom_id(action, job_id, index)
        )
        super().__init__(button)
        self.action = action
        self.job_id = job_id
        self.index = index

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Button, match: re.Match[str], /
    ) -> ResultButton:
        return cls(match["action"], match["job"], int(match["index"]))

    @answers_errors
    async def callback(self, interaction: discord.Interaction) -> None:
        await handle(interaction, self.action, self.job_id, self.index)


async def handle(interaction: discord.Interaction, action: str, job_id: str, index: int) -> None:
    if action in remix.REMIXABLE and await remix.remix_on(interaction):
        await remix.open_remix(interaction, action, job_id, index)  # a form is the first answer
        return
    # Acknowledge first: the job lookup and everything after it may take a while.
    bot: ImagineBot = interaction.client  # type: ignore[assignment]
    private = action in (DELETE, INFO, CANCEL) or await results_by_dm(interaction)
    await defer(interaction, ephemeral=private)
    job = await bot.service.get_job(job_id)
    if job is None:
        await fail(interaction, text.job_gone(job_id))
        return
    if not may_see(Viewer.of(interaction, bot.discord_settings), job):  # a crafted click
        await fail(interaction, text.no_job_you_can_see(job_id))
        return
    try:
        await ACTIONS[action](bot, interaction, job, index)
    except NoSuchImage as exc:
        await fail(interaction, text.describe(exc))


async def upscale(bot: ImagineBot, interaction: discord.Interaction, job: Job, index: int) -> None:
    depth = upscale_depth(job)
    if depth > bot.discord_settings.max_upscale_depth:
        await fail(interaction, text.CANNOT_UPSCALE_FURTHER)
        return
    request = followups.upscale_of_image(job, index, bot.settings)
    await submit.submit(interaction, request, parent_id=job.id, depth=depth)


async def vary(bot: ImagineBot, interaction: discord.Interaction, job: Job, index: int) -> None:
    request = followups.variation_of_image(job, index, bot.settings)
    await submit.submit(interaction, request, parent_id=job.id)


async def vary_subtle(bot: ImagineBot, interaction: discord.Interaction, job: Job, index: int) -> None:
    request = followups.variation_of_image(job, index, bot.settings, strength=strengths.SUBTLE)
    await submit.submit(interaction, request, parent_id=job.id)


async def vary_strong(bot: ImagineBot, interaction: discord.Interaction, job: Job, index: int) -> None:
    request = followups.variation_of_image(job, index, bot.settings, strength=strengths.STRONG)
    await submit.submit(interaction, request, parent_id=job.id)


async def reroll(bot: ImagineBot, interaction: discord.Interaction, job: Job, index: int) -> None:
    depth = DeliveryMeta.of(job).depth
    await submit.submit(interaction, followups.reroll_of(job.request), parent_id=job.id, depth=depth)


async def delete(bot: ImagineBot, interaction: discord.Interaction, job: Job, index: int) -> None:
    if not may_manage(Viewer.of(interaction, bot.discord_settings), job):
        await fail(interaction, text.ONLY_OWNER_DELETES)
        return
    if job.status in (JobStatus.QUEUED, JobStatus.RUNNING):
        await bot.service.cancel(job.id, by_user=interaction.user.id, admin=True)
    if interaction.message is not None:
        with contextlib.suppress(discord.NotFound):
            await interaction.message.delete()
    await reply(interaction, text.DELETED)


async def cancel(bot: ImagineBot, interaction: discord.Interaction, job: Job, index: int) -> None:
    if not may_manage(Viewer.of(interaction, bot.discord_settings), job):
        await fail(interaction, text.ONLY_OWNER_CANCELS)
        return
    admin = interaction.user.id != job.owner.user_id
    if await bot.service.cancel(job.id, by_user=interaction.user.id, admin=admin):
        await reply(interaction, text.cancelled_job(job.id))
    else:
        await reply(interaction, text.already_ended(job))


async def info(bot: ImagineBot, interaction: discord.Interaction, job: Job, index: int) -> None:
    seed = job.images[0].seed if job.images else job.request.seed
    first = followups.prompt_of_image(job.request, 0)  # image 1's own prompt, when variants drew it
    parameters = format_parameters(
        first, seed, job.model_name or "?", job.model_hash, applied=applied_by_image(job, first)
    )
    await reply(interaction, text.job_info(job, parameters))


def applied_by_image(job: Job, image: GenerationRequest) -> Applied | None:
    """What the job applied, as one image made with the request `image` used it: the job's LoRAs
    that image's prompt names (variants may have drawn others for other images)."""
    if job.applied is None:
        return None
    names = {tag.name for tag in image.loras}
    return dataclasses.replace(job.applied, loras=tuple(u for u in job.applied.loras if u.name in names))


ACTIONS = {
    UPSCALE: upscale,
    VARY: vary,
    SUBTLE: vary_subtle,
    STRONG: vary_strong,
    REROLL: reroll,
    DELETE: delete,
    CANCEL: cancel,
    INFO: info,
}
