"""/show re-posts a past job with working buttons; /info shows a user's quota, jobs and the queue (or
with `image:`, the parameters an image carries: bot.cogs.pnginfo)."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.access import Viewer, may_see, visible
from bot.autocomplete import job_choices
from bot.cogs import pnginfo
from bot.image_check import result_parts
from bot.replies import defer, fail, reply
from bot.safety import wants_spoiler
from bot.submit import owner_of
from bot.ui import text
from generation.jobs.types import JobStatus

if TYPE_CHECKING:
    from bot.app import ImagineBot


class Show(commands.Cog):
    def __init__(self, bot: ImagineBot) -> None:
        self.bot = bot

    @app_commands.command(description="Post a past job again, with its buttons")
    @app_commands.describe(job="The job id (shown under each result)")
    async def show(self, interaction: discord.Interaction, job: str) -> None:
        await defer(interaction)
        found = await self.bot.service.get_job(job.strip())
        if found is None or not may_see(Viewer.of(interaction, self.bot.discord_settings), found):
            await fail(interaction, text.no_job_you_can_see(job.strip()))
            return
        if found.status is not JobStatus.DONE:
            where = self.bot.service.position(found.id)
            await reply(interaction, text.job_not_done(found, where[0] if where else None))
            return
        spoiler = await wants_spoiler(interaction, self.bot.service, self.bot.discord_settings)
        content, upload, view = await result_parts(
            self.bot.service, self.bot.discord_settings, found, interaction.filesize_limit, spoiler
        )
        await reply(interaction, content, attachments=[upload.file()] if upload else [], view=view)

    @show.autocomplete("job")
    async def job_autocomplete(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        viewer = Viewer.of(interaction, self.bot.discord_settings)
        recent = await self.bot.service.user_jobs(viewer.user_id, limit=25)
        return job_choices(current, visible(viewer, recent))

    @app_commands.command(description="Your GPU time left, your jobs, the model and the queue")
    @app_commands.describe(image="An image to read the parameters of (any tool's), instead")
    async def info(self, interaction: discord.Interaction, image: discord.Attachment | None = None) -> None:
        await defer(interaction, ephemeral=True)
        if image is not None:
            await pnginfo.answer(self.bot, interaction, [image])
            return
        service = self.bot.service
        quota = await service.quota_status(owner_of(interaction))
        recent = await service.user_jobs(interaction.user.id, limit=5)
        queue = service.queue()
        mine = [(i + 1, j) for i, j in enumerate(queue) if j.owner.user_id == interaction.user.id]
        answer = text.info(
            text.quota_line(quota, time.time()),
            service.active_model,
            len(queue),
            service.paused,
            mine,
            recent,
        )
        await reply(interaction, answer)


async def setup(bot: ImagineBot) -> None:
    await bot.add_cog(Show(bot))
