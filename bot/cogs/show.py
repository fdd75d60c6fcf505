"""/show re-posts a past job with working buttons; /info shows a user's quota, jobs and the queue."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot import render
from bot.autocomplete import job_choices
from bot.checks import is_admin
from bot.jobs import owner_of
from bot.replies import defer, fail, reply
from bot.results import result_text, result_upload, result_view
from bot.safety import wants_spoiler
from bot.ui.text import describe, quota_line
from generation.jobs.types import Job, JobStatus

if TYPE_CHECKING:
    from bot.bot import ImagineBot


def may_see(interaction: discord.Interaction, job: Job, admin: bool) -> bool:
    """Your own jobs, jobs made in this server, or anything for an admin."""
    if admin or job.owner.user_id == interaction.user.id:
        return True
    return interaction.guild_id is not None and job.owner.guild_id == interaction.guild_id


def job_line(job: Job) -> str:
    return f"`{job.id}` {job.status} · {render.short_prompt(job.request.prompt, 60)}"


class Show(commands.Cog):
    def __init__(self, bot: ImagineBot) -> None:
        self.bot = bot

    @app_commands.command(description="Post a past job again, with its buttons")
    @app_commands.describe(job="The job id (shown under each result)")
    async def show(self, interaction: discord.Interaction, job: str) -> None:
        await defer(interaction)
        found = await self.bot.service.get_job(job.strip())
        admin = is_admin(interaction, self.bot.settings.discord)
        if found is None or not may_see(interaction, found, admin):
            await fail(interaction, f"There is no job `{job.strip()}` you can see.")
            return
        if found.status is not JobStatus.DONE:
            where = self.bot.service.position(found.id)
            state = f"#{where[0]} in the queue" if where else str(found.status)
            note = f": {describe(found.error)}" if found.error else ""
            await reply(interaction, f"Job `{found.id}` is {state}{note}.")
            return
        spoiler = await wants_spoiler(interaction, self.bot.service, self.bot.settings.discord)
        upload = await result_upload(self.bot.service, found, interaction.filesize_limit, spoiler)
        await reply(
            interaction,
            result_text(found),
            attachments=[upload.file()] if upload else [],
            view=result_view(found, self.bot.settings),
        )

    @show.autocomplete("job")
    async def job_autocomplete(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        return job_choices(current, await self.bot.service.user_jobs(interaction.user.id, limit=25))

    @app_commands.command(description="Your GPU time left, your jobs, the model and the queue")
    async def info(self, interaction: discord.Interaction) -> None:
        await defer(interaction, ephemeral=True)
        service = self.bot.service
        quota = await service.quota_status(owner_of(interaction))
        recent = await service.user_jobs(interaction.user.id, limit=5)
        queue = service.queue()
        lines = [
            f"**Quota:** {quota_line(quota, time.time())}",
            f"**Model:** `{service.active_model or 'none loaded yet'}`",
            f"**Queue:** {len(queue)} waiting" + (" (paused)" if service.paused else ""),
        ]
        mine = [(i + 1, j) for i, j in enumerate(queue) if j.owner.user_id == interaction.user.id]
        if mine:
            lines.append("**Your place:** " + ", ".join(f"`{j.id}` #{p}" for p, j in mine))
        if recent:
            lines.append("**Your recent jobs:**")
            lines += [f"- {job_line(j)}" for j in recent]
        await reply(interaction, "\n".join(lines))


async def setup(bot: ImagineBot) -> None:
    await bot.add_cog(Show(bot))
