"""Admin commands: /model, /quota, /queue and per-server /safety (banned words, spoilers, and the
image check: /safety images for the server, /safety channel for one channel).

`default_permissions` only hides these in the client; every call is checked here too (Manage
Server, or an admin role or user from the config) in the cog's `interaction_check`.
"""

from __future__ import annotations

import dataclasses
import time
from typing import TYPE_CHECKING, Literal

import discord
from discord import app_commands
from discord.ext import commands

from bot.access import Viewer, may_see, visible
from bot.autocomplete import job_choices, matching
from bot.bounds import within
from bot.checks import is_admin
from bot.replies import defer, fail, reply
from bot.safety import (
    BANNED_WORDS,
    IMAGE_SAFETY,
    SPOILER,
    normalize_word,
    server_image_safety,
    server_words,
)
from bot.submit import Refused, owner_of
from bot.ui import text
from generation.jobs.types import JobOwner
from generation.safety.check import SafetyMode

if TYPE_CHECKING:
    from bot.app import ImagineBot

ADMIN_ONLY = discord.Permissions(manage_guild=True)
MAX_QUOTA_SECONDS = 10_000_000  # about 115 days: more is a typo (or a crafted 1e308)


def group(name: str, description: str, **kwargs) -> app_commands.Group:
    return app_commands.Group(name=name, description=description, default_permissions=ADMIN_ONLY, **kwargs)


class Admin(commands.Cog):
    model = group("model", "Models: list them (and their LoRAs and embeddings), switch the active one")
    quota = group("quota", "Users' GPU time")
    queue = group("queue", "The job queue")
    safety = group("safety", "This server's safety settings", guild_only=True)
    words = app_commands.Group(name="words", description="Banned words for prompts", parent=safety)

    def __init__(self, bot: ImagineBot) -> None:
        self.bot = bot

    async def interaction_check(self, interaction: discord.Interaction) -> bool:
        await defer(interaction, ephemeral=True)
        if is_admin(interaction, self.bot.discord_settings):
            return True
        await fail(interaction, text.ADMIN_ONLY)
        return False

    def admin(self, interaction: discord.Interaction) -> bool:
        """For autocomplete, which `interaction_check` does not guard: non-admins get no choices."""
        return is_admin(interaction, self.bot.discord_settings)

    # -- /sync ------------------------------------------------------------------------------

    @app_commands.command(name="sync", description="Register the slash commands with Discord again")
    @app_commands.default_permissions(manage_guild=True)
    async def sync(self, interaction: discord.Interaction) -> None:
        # Asked for, so sent even when unchanged: Discord's copy may have been lost or edited.
        result = await self.bot.sync_app_commands(force=True)
        await reply(interaction, text.synced(result.commands, result.changed))

    # -- /model -----------------------------------------------------------------------------

    @model.command(name="list", description="The models there are, and the active one")
    async def model_list(self, interaction: discord.Interaction) -> None:
        await reply(
            interaction, text.model_list(self.bot.service.model_names(), self.bot.service.active_model)
        )

    @model.command(name="loras", description="The LoRAs there are, and what each is for")
    async def model_loras(self, interaction: discord.Interaction) -> None:
        active = self.bot.service.active_model
        await reply(interaction, text.addon_list("lora", await self.bot.service.loras(active), active))

    @model.command(name="embeddings", description="The textual-inversion embeddings, and what each is for")
    async def model_embeddings(self, interaction: discord.Interaction) -> None:
        active = self.bot.service.active_model
        listed = await self.bot.service.embeddings(active)
        await reply(interaction, text.addon_list("embedding", listed, active))

    @model.command(name="switch", description="Load another model for everyone")
    @app_commands.describe(name="The model to load")
    async def model_switch(self, interaction: discord.Interaction, name: str) -> None:
        try:
            loaded = await self.bot.service.switch_model(name)
        except Exception as exc:  # ModelSwitchError and ModelNotFound say what went wrong
            await fail(interaction, text.model_switch_failed(name, exc))
            return
        await reply(interaction, text.model_switched(loaded))

    @model_switch.autocomplete("name")
    async def model_autocomplete(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        if not self.admin(interaction):
            return []
        return matching(current, self.bot.service.model_names())

    # -- /quota -----------------------------------------------------------------------------

    def owner_for(self, interaction: discord.Interaction, user: discord.User | discord.Member) -> JobOwner:
        if user.id == interaction.user.id:
            return owner_of(interaction)
        roles = tuple(getattr(user, "_roles", ()) or ())
        return JobOwner(user_id=user.id, guild_id=interaction.guild_id, role_ids=tuple(int(r) for r in roles))

    async def seconds_fit(self, interaction: discord.Interaction, seconds: float | None, low: float) -> bool:
        """The option's range, checked here too (a crafted client can send NaN or 1e308)."""
        try:
            within("seconds", seconds, low, MAX_QUOTA_SECONDS)
        except Refused as exc:
            await fail(interaction, str(exc))
            return False
        return True

    @quota.command(name="show", description="A user's GPU time today")
    async def quota_show(self, interaction: discord.Interaction, user: discord.User) -> None:
        status = await self.bot.service.quota_status(self.owner_for(interaction, user))
        await reply(interaction, text.quota_of(user.mention, text.quota_line(status, time.time())))

    @quota.command(name="grant", description="Give a user extra GPU seconds for today")
    @app_commands.describe(seconds="Extra GPU seconds (negative takes some back)")
    async def quota_grant(
        self,
        interaction: discord.Interaction,
        user: discord.User,
        seconds: app_commands.Range[float, -10_000_000, 10_000_000],
    ) -> None:
        if not await self.seconds_fit(interaction, seconds, -MAX_QUOTA_SECONDS):
            return
        await self.bot.service.grant_quota(user.id, seconds)
        status = await self.bot.service.quota_status(self.owner_for(interaction, user))
        await reply(
            interaction, text.quota_granted(seconds, user.mention, text.quota_line(status, time.time()))
        )

    @quota.command(name="set", description="Set a user's daily GPU seconds (leave out to reset)")
    @app_commands.describe(seconds="GPU seconds per day; leave out to go back to the default")
    async def quota_set(
        self,
        interaction: discord.Interaction,
        user: discord.User,
        seconds: app_commands.Range[float, 0, 10_000_000] | None = None,
    ) -> None:
        if not await self.seconds_fit(interaction, seconds, 0):
            return
        await self.bot.service.set_quota(user.id, seconds)
        status = await self.bot.service.quota_status(self.owner_for(interaction, user))
        await reply(interaction, text.quota_set(seconds, user.mention, text.quota_line(status, time.time())))

    # -- /queue -----------------------------------------------------------------------------

    @queue.command(name="list", description="The jobs waiting, in serving order")
    async def queue_list(self, interaction: discord.Interaction) -> None:
        viewer = Viewer.of(interaction, self.bot.discord_settings)
        waiting = self.bot.service.queue()
        shown = {job.id for job in visible(viewer, waiting)}
        await reply(interaction, text.queue_list(waiting, self.bot.service.paused, shown))

    @queue.command(name="cancel", description="Cancel a waiting or running job")
    async def queue_cancel(self, interaction: discord.Interaction, job: str) -> None:
        found = await self.bot.service.get_job(job.strip())
        if found is None or not may_see(Viewer.of(interaction, self.bot.discord_settings), found):
            await fail(interaction, text.no_job_you_can_see(job.strip()))
            return
        if await self.bot.service.cancel(job.strip(), by_user=interaction.user.id, admin=True):
            await reply(interaction, text.cancelled_job(job.strip()))
        else:
            await fail(interaction, text.not_waiting_or_running(job.strip()))

    @queue_cancel.autocomplete("job")
    async def queue_autocomplete(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        if not self.admin(interaction):
            return []
        viewer = Viewer.of(interaction, self.bot.discord_settings)
        return job_choices(current, visible(viewer, self.bot.service.queue()))

    @queue.command(name="workers", description="The GPU workers: where, their model, what they run")
    async def queue_workers(self, interaction: discord.Interaction) -> None:
        await reply(interaction, text.workers_list(self.bot.service.workers()))

    @queue.command(name="pause", description="Stop starting new jobs (the running one finishes)")
    async def queue_pause(self, interaction: discord.Interaction) -> None:
        await self.bot.service.pause()
        await reply(interaction, text.QUEUE_PAUSED)

    @queue.command(name="resume", description="Start jobs again")
    async def queue_resume(self, interaction: discord.Interaction) -> None:
        await self.bot.service.resume()
        await reply(interaction, text.QUEUE_RESUMED)

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
        await reply(interaction, text.word_banned(word))

    @words.command(name="remove", description="Allow a banned word again")
    async def words_remove(self, interaction: discord.Interaction, word: str) -> None:
        assert interaction.guild_id is not None
        word = normalize_word(word)
        words = await server_words(self.bot.service, interaction.guild_id)
        if word not in words:
            await fail(interaction, text.word_not_listed(word))
            return
        words.remove(word)
        await self.bot.service.set_guild_setting(interaction.guild_id, BANNED_WORDS, words)
        await reply(interaction, text.word_allowed(word))

    @words_remove.autocomplete("word")
    async def words_autocomplete(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        if not self.admin(interaction):
            return []
        return matching(current, await server_words(self.bot.service, interaction.guild_id))

    @words.command(name="list", description="The banned words (this server's and the bot's)")
    async def words_list(self, interaction: discord.Interaction) -> None:
        mine = await server_words(self.bot.service, interaction.guild_id)
        await reply(interaction, text.banned_words(mine, self.bot.discord_settings.banned_words))

    @safety.command(name="spoiler", description="Post results as spoilers outside NSFW channels")
    async def safety_spoiler(self, interaction: discord.Interaction, enabled: bool) -> None:
        assert interaction.guild_id is not None
        await self.bot.service.set_guild_setting(interaction.guild_id, SPOILER, enabled)
        await reply(interaction, text.spoilers(enabled))

    @safety.command(
        name="images", description="Check generated images: off, spoiler flagged ones, or block them"
    )
    @app_commands.describe(
        mode="off: not checked; spoiler: flagged images as spoilers; block: a placeholder instead",
        nsfw_exempt="Leave NSFW channels unchecked (left out: as before, by default yes)",
    )
    async def safety_images(
        self,
        interaction: discord.Interaction,
        mode: Literal["off", "spoiler", "block"],
        nsfw_exempt: bool | None = None,
    ) -> None:
        assert interaction.guild_id is not None
        server = await server_image_safety(self.bot.service, interaction.guild_id)
        exempt = server.exempt_nsfw if nsfw_exempt is None else nsfw_exempt
        server = dataclasses.replace(server, mode=SafetyMode(mode), exempt_nsfw=exempt)
        await self.bot.service.set_guild_setting(interaction.guild_id, IMAGE_SAFETY, server.to_dict())
        defaults = self.bot.settings.safety
        await reply(
            interaction,
            text.image_check_server(
                mode,
                defaults.exempt_nsfw if exempt is None else exempt,
                {k: v.value for k, v in server.channels.items()},
            ),
        )

    @safety.command(name="channel", description="A channel's own image check, over the server's")
    @app_commands.describe(
        mode="off, spoiler or block for this channel; server: follow the server's setting again",
        channel="The channel (left out: this one)",
    )
    async def safety_channel(
        self,
        interaction: discord.Interaction,
        mode: Literal["off", "spoiler", "block", "server"],
        channel: discord.TextChannel | discord.Thread | None = None,
    ) -> None:
        assert interaction.guild_id is not None
        channel_id = channel.id if channel is not None else interaction.channel_id
        assert channel_id is not None
        server = await server_image_safety(self.bot.service, interaction.guild_id)
        own = None if mode == "server" else SafetyMode(mode)
        server = server.with_channel(channel_id, own)
        await self.bot.service.set_guild_setting(interaction.guild_id, IMAGE_SAFETY, server.to_dict())
        server_mode = server.mode or SafetyMode(self.bot.settings.safety.images)
        await reply(interaction, text.image_check_channel(channel_id, mode if own else None, server_mode))


async def setup(bot: ImagineBot) -> None:
    await bot.add_cog(Admin(bot))
