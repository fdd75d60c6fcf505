"""Who may see a job, and who may manage one: the one rule every path that reads a job uses
(/show, /vary job:, the buttons, the autocomplete of jobs, /queue).

A job is seen by its owner; a job made in a server, by that server's members (so by its admins
too); a job made in a DM, by its owner alone. A button also shows its job to whoever can see the
message it sits on (Discord sends a click only for a component of a message the user sees), so
a result its owner posted somewhere else works there. Managing (delete, cancel) is for the owner,
or an admin of a server where the job is visible.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import discord

from bot.checks import is_admin
from bot.settings import DiscordSettings
from generation.jobs.types import Job

if TYPE_CHECKING:
    from bot.app import ImagineBot


@dataclass(frozen=True)
class Viewer:
    """Who asks, from where."""

    user_id: int
    guild_id: int | None  # None: a DM
    admin: bool = False  # an admin where they ask
    shown: frozenset[str] = frozenset()  # jobs on the message a button was clicked on

    @classmethod
    def of(cls, interaction: discord.Interaction, settings: DiscordSettings) -> Viewer:
        return cls(
            user_id=interaction.user.id,
            guild_id=interaction.guild_id,
            admin=is_admin(interaction, settings),
            shown=jobs_on(interaction.message),
        )


def jobs_on(message: discord.Message | None) -> frozenset[str]:
    """The jobs the buttons of a message belong to (custom_ids `img:<action>:<job>:<index>`)."""
    if message is None:
        return frozenset()
    ids = set()
    for row in message.components:
        for item in getattr(row, "children", [row]):
            custom_id = getattr(item, "custom_id", None) or ""
            parts = custom_id.split(":")
            if len(parts) == 4 and parts[0] == "img":
                ids.add(parts[2])
    return frozenset(ids)


def may_see(viewer: Viewer, job: Job) -> bool:
    if job.owner.user_id == viewer.user_id or job.id in viewer.shown:
        return True
    return job.owner.guild_id is not None and job.owner.guild_id == viewer.guild_id


def may_manage(viewer: Viewer, job: Job) -> bool:
    return job.owner.user_id == viewer.user_id or (viewer.admin and may_see(viewer, job))


def visible(viewer: Viewer, jobs: list[Job]) -> list[Job]:
    return [job for job in jobs if may_see(viewer, job)]


async def visible_job(interaction: discord.Interaction, job_id: str) -> Job | None:
    """The job, when the user may see it; None as for a job that does not exist (no leak)."""
    bot: ImagineBot = interaction.client  # type: ignore[assignment]
    job = await bot.service.get_job(job_id)
    if job is None or not may_see(Viewer.of(interaction, bot.discord_settings), job):
        return None
    return job
