"""The buttons on job messages and what they do.

Each button is a `ResultButton`: a DynamicItem whose custom_id holds the action, the job id and
the image index (`img:u:<job>:<i>`), so it works on any message that carries it, after a restart
and on the copies `/show` posts. Whoever clicks owns, and is charged for, the job it starts.
"""

from __future__ import annotations

import contextlib
import re
from typing import TYPE_CHECKING

import discord

from bot import derive, jobs
from bot.checks import is_admin
from bot.replies import defer, fail, reply
from bot.ui.text import describe as describe_problem
from generation.images.metadata import format_parameters
from generation.jobs.types import Job, JobStatus

if TYPE_CHECKING:
    from bot.bot import ImagineBot

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

    async def callback(self, interaction: discord.Interaction) -> None:
        await handle(interaction, self.action, self.job_id, self.index)


async def handle(interaction: discord.Interaction, action: str, job_id: str, index: int) -> None:
    # Acknowledge first: the job lookup and everything after it may take a while.
    private = action in (DELETE, INFO, CANCEL)
    await defer(interaction, ephemeral=private)
    bot: ImagineBot = interaction.client  # type: ignore[assignment]
    job = await bot.service.get_job(job_id)
    if job is None:
        await fail(interaction, f"Job `{job_id}` is gone (it may have been deleted).")
        return
    try:
        await ACTIONS[action](bot, interaction, job, index)
    except derive.NoSuchImage as exc:
        await fail(interaction, str(exc))


async def upscale(bot: ImagineBot, interaction: discord.Interaction, job: Job, index: int) -> None:
    depth = derive.upscale_depth(job)
    if depth > bot.settings.discord.max_upscale_depth:
        await fail(interaction, "This image cannot be upscaled any further.")
        return
    request = derive.upscale_request(job, index, bot.settings)
    await jobs.submit(interaction, request, parent_id=job.id, depth=depth)


async def vary(bot: ImagineBot, interaction: discord.Interaction, job: Job, index: int) -> None:
    await jobs.submit(interaction, derive.variation_request(job, index, bot.settings), parent_id=job.id)


async def vary_subtle(bot: ImagineBot, interaction: discord.Interaction, job: Job, index: int) -> None:
    request = derive.variation_request(job, index, bot.settings, strength=derive.SUBTLE)
    await jobs.submit(interaction, request, parent_id=job.id)


async def vary_strong(bot: ImagineBot, interaction: discord.Interaction, job: Job, index: int) -> None:
    request = derive.variation_request(job, index, bot.settings, strength=derive.STRONG)
    await jobs.submit(interaction, request, parent_id=job.id)


async def reroll(bot: ImagineBot, interaction: discord.Interaction, job: Job, index: int) -> None:
    depth = int(job.meta.get("depth", 0) or 0)
    await jobs.submit(interaction, derive.reroll_request(job), parent_id=job.id, depth=depth)


def may_manage(bot: ImagineBot, interaction: discord.Interaction, job: Job) -> bool:
    return interaction.user.id == job.owner.user_id or is_admin(interaction, bot.settings.discord)


async def delete(bot: ImagineBot, interaction: discord.Interaction, job: Job, index: int) -> None:
    if not may_manage(bot, interaction, job):
        await fail(interaction, "Only the person who made this (or an admin) can delete it.")
        return
    if job.status in (JobStatus.QUEUED, JobStatus.RUNNING):
        await bot.service.cancel(job.id, by_user=interaction.user.id, admin=True)
    if interaction.message is not None:
        with contextlib.suppress(discord.NotFound):
            await interaction.message.delete()
    await reply(interaction, "Deleted.")


async def cancel(bot: ImagineBot, interaction: discord.Interaction, job: Job, index: int) -> None:
    if not may_manage(bot, interaction, job):
        await fail(interaction, "Only the person who asked for this (or an admin) can cancel it.")
        return
    admin = interaction.user.id != job.owner.user_id
    if await bot.service.cancel(job.id, by_user=interaction.user.id, admin=admin):
        await reply(interaction, f"Cancelled job `{job.id}`.")
    else:
        await reply(interaction, f"Job `{job.id}` has already {job.status}.")


def describe(job: Job) -> str:
    """The job's parameters, as the web UI writes them, plus where it came from."""
    seed = job.images[0].seed if job.images else job.request.seed
    parameters = format_parameters(job.request, seed, job.model_name or "?", job.model_hash)
    lines = [f"**Job** `{job.id}` · {job.request.mode} · {job.status}"]
    if job.parent_id:
        lines.append(f"From job `{job.parent_id}`")
    if job.gpu_seconds:
        lines.append(f"GPU time {job.gpu_seconds:.1f} s")
    if job.error:
        lines.append(f"Error: {describe_problem(job.error)}")
    body = parameters if len(parameters) < 1500 else parameters[:1499] + "…"
    body = body.replace("```", "'''")
    return "\n".join(lines) + f"\n```\n{body}\n```"


async def info(bot: ImagineBot, interaction: discord.Interaction, job: Job, index: int) -> None:
    await reply(interaction, describe(job))


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
