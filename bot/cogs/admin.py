"""Admin commands: /model, /quota, /queue and per-server /safety.

`default_permissions` only hides these in the client; every call is checked here too (Manage
Server, or an admin role or user from the config) in the cog's `interaction_check`.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot import render
from bot.autocomplete import job_choices, matching
from bot.checks import is_admin
from bot.jobs import owner_of
from bot.replies import defer, fail, reply
from bot.safety import BANNED_WORDS, SPOILER, normalize_word, server_words
from bot.ui.text import describe, quota_line
from generation.jobs.types import JobOwner
from generation.problems import Problem

if TYPE_CHECKING:
    from bot.bot import ImagineBot

ADMIN_ONLY = discord.Permissions(manage_guild=True)
MAX_LISTED = 20


def group(name: str, description: str, **kwargs) -> app_commands.Group:
    return app_commands.Group(name=name, description=description, default_permissions=ADMIN_ONLY, **kwargs)


class Admin(commands.Cog):
    model = group("model", "Models: list them, switch the active one")
    quota = group("quota", "Users' GPU time")
    queue = group("queue", "The job queue")
    safety = group("safety", "This server's safety settings", guild_only=True)
    words = app_commands.Group(name="words", description="Banned words for prompts", parent=safety)

    def __init__(self, bot: ImagineBot) -> None:
        self.bot = bot

    async def interaction_check(self, interaction: discord.Interaction) -> bool:
        await defer(interaction, ephemeral=True)
        if is_admin(interaction, self.bot.settings.discord):
            return True
        await fail(interaction, "Only admins can do that (it needs the Manage Server permission).")
        return False

    # -- /model -----------------------------------------------------------------------------

    @model.command(name="list", description="The models there are, and the active one")
    async def model_list(self, interaction: discord.Interaction) -> None:
        names = self.bot.service.model_names()
        active = self.bot.service.active_model
        lines = [f"- `{n}`" + (" (active)" if n == active else "") for n in names]
        await reply(interaction, "**Models:**\n" + ("\n".join(lines) if lines else "none found"))

    @model.command(name="switch", description="Load another model for everyone")
    @app_commands.describe(name="The model to load")
    async def model_switch(self, interaction: discord.Interaction, name: str) -> None:
        try:
            loaded = await self.bot.service.switch_model(name)
        except Exception as exc:  # ModelSwitchError (a Problem) and ModelNotFound say what went wrong
            await fail(
                interaction,
                f"Could not switch to `{name}`: {describe(exc) if isinstance(exc, Problem) else exc}",
            )
            return
        await reply(interaction, f"The active model is now `{loaded}`.")

    @model_switch.autocomplete("name")
    async def model_autocomplete(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        return matching(current, self.bot.service.model_names())

    # -- /quota -----------------------------------------------------------------------------

    def owner_for(self, interaction: discord.Interaction, user: discord.User | discord.Member) -> JobOwner:
        if user.id == interaction.user.id:
            return owner_of(interaction)
        roles = tuple(getattr(user, "_roles", ()) or ())
        return JobOwner(user_id=user.id, guild_id=interaction.guild_id, role_ids=tuple(int(r) for r in roles))

    @quota.command(name="show", description="A user's GPU time today")
    async def quota_show(self, interaction: discord.Interaction, user: discord.User) -> None:
        status = await self.bot.service.quota_status(self.owner_for(interaction, user))
        await reply(interaction, f"{user.mention}: {quota_line(status, time.time())}")

    @quota.command(name="grant", description="Give a user extra GPU seconds for today")
    @app_commands.describe(seconds="Extra GPU seconds (negative takes some back)")
    async def quota_grant(self, interaction: discord.Interaction, user: discord.User, seconds: float) -> None:
        await self.bot.service.grant_quota(user.id, seconds)
        status = await self.bot.service.quota_status(self.owner_for(interaction, user))
        await reply(
            interaction, f"Granted {seconds:g} s to {user.mention}. {quota_line(status, time.time())}"
        )

    @quota.command(name="set", description="Set a user's daily GPU seconds (leave out to reset)")
    @app_commands.describe(seconds="GPU seconds per day; leave out to go back to the default")
    async def quota_set(
        self,
        interaction: discord.Interaction,
        user: discord.User,
        seconds: app_commands.Range[float, 0] | None = None,
    ) -> None:
        await self.bot.service.set_quota(user.id, seconds)
        status = await self.bot.service.quota_status(self.owner_for(interaction, user))
        what = "the default" if seconds is None else f"{seconds:g} s a day"
        await reply(interaction, f"{user.mention} now has {what}. {quota_line(status, time.time())}")

    # -- /queue -----------------------------------------------------------------------------

    @queue.command(name="list", description="The jobs waiting, in serving order")
    async def queue_list(self, interaction: discord.Interaction) -> None:
        waiting = self.bot.service.queue()
        lines = [
            f"{i}. `{job.id}` <@{job.owner.user_id}> {render.short_prompt(job.request.prompt, 60)}"
            for i, job in enumerate(waiting[:MAX_LISTED], start=1)
        ]
        if len(waiting) > MAX_LISTED:
            lines.append(f"... and {len(waiting) - MAX_LISTED} more")
        state = " (paused)" if self.bot.service.paused else ""
        body = "\n".join(lines) if lines else "Nothing is waiting."
        await reply(interaction, f"**Queue{state}:** {len(waiting)} waiting\n{body}")

    @queue.command(name="cancel", description="Cancel a waiting or running job")
    async def queue_cancel(self, interaction: discord.Interaction, job: str) -> None:
        if await self.bot.service.cancel(job.strip(), by_user=interaction.user.id, admin=True):
            await reply(interaction, f"Cancelled job `{job.strip()}`.")
        else:
            await fail(interaction, f"Job `{job.strip()}` is not waiting or running.")

    @queue_cancel.autocomplete("job")
    async def queue_autocomplete(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        return job_choices(current, self.bot.service.queue())

    @queue.command(name="pause", description="Stop starting new jobs (the running one finishes)")
    async def queue_pause(self, interaction: discord.Interaction) -> None:
        await self.bot.service.pause()
        await reply(interaction, "The queue is paused (also across restarts) until `/queue resume`.")

    @queue.command(name="resume", description="Start jobs again")
    async def queue_resume(self, interaction: discord.Interaction) -> None:
        await self.bot.service.resume()
        await reply(interaction, "The queue is running again.")

    # -- /safety ----------------------------------------------------------------------------

    @words.command(name="add", description="Refuse prompts containing this word or phrase")
    async def words_add(
        self, interaction: discord.Interaction, word: app_commands.Range[str, 1, 100]
    ) -> None:
        assert interaction.guild_id is not None
        word = normalize_word(word)
        words = await server_words(self.bot.service, interaction.guild_id)
        if word not in words:
            words.append(word)
            await self.bot.service.set_guild_setting(interaction.guild_id, BANNED_WORDS, words)
        await reply(interaction, f'Prompts containing "{word}" are now refused here.')

    @words.command(name="remove", description="Allow a banned word again")
    async def words_remove(self, interaction: discord.Interaction, word: str) -> None:
        assert interaction.guild_id is not None
        word = normalize_word(word)
        words = await server_words(self.bot.service, interaction.guild_id)
        if word not in words:
            await fail(interaction, f'"{word}" is not on this server\'s list.')
            return
        words.remove(word)
        await self.bot.service.set_guild_setting(interaction.guild_id, BANNED_WORDS, words)
        await reply(interaction, f'"{word}" is allowed again.')

    @words_remove.autocomplete("word")
    async def words_autocomplete(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        return matching(current, await server_words(self.bot.service, interaction.guild_id))

    @words.command(name="list", description="The banned words (this server's and the bot's)")
    async def words_list(self, interaction: discord.Interaction) -> None:
        mine = await server_words(self.bot.service, interaction.guild_id)
        common = list(self.bot.settings.discord.banned_words)
        text = "**This server:** " + (", ".join(f"`{w}`" for w in mine) or "none")
        text += "\n**Everywhere (config):** " + (", ".join(f"`{w}`" for w in common) or "none")
        await reply(interaction, text)

    @safety.command(name="spoiler", description="Post results as spoilers outside NSFW channels")
    async def safety_spoiler(self, interaction: discord.Interaction, enabled: bool) -> None:
        assert interaction.guild_id is not None
        await self.bot.service.set_guild_setting(interaction.guild_id, SPOILER, enabled)
        state = "as spoilers" if enabled else "normally"
        await reply(interaction, f"Results outside NSFW channels are now posted {state}.")


async def setup(bot: ImagineBot) -> None:
    await bot.add_cog(Admin(bot))
