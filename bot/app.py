"""The bot: a `commands.Bot` holding the settings and the service it drives, and its command tree."""

from __future__ import annotations

import logging
from typing import Any

import discord
import yarl
from discord import app_commands
from discord.ext import commands

from bot import sync
from bot.buttons import ResultButton
from bot.delivery import Delivery
from bot.replies import answer_error
from bot.settings import DiscordSettings
from generation.jobs.service import JobService
from generation.settings import Settings

log = logging.getLogger(__name__)

EXTENSIONS: tuple[str, ...] = (
    "bot.cogs.imagine",
    "bot.cogs.vary",
    "bot.cogs.show",
    "bot.cogs.admin",
    "bot.cogs.prefs",  # /settings
    "bot.cogs.forms",  # submitted forms (modals), by their custom_id
    "bot.cogs.edits",  # the edit buttons (region, zoom, pan) and the mask editor page
    "bot.cogs.styles",
    "bot.cogs.pnginfo",
)


def point_discord(api_base: str, gateway_url: str) -> None:
    """Send REST and gateway traffic to these URLs (Discord, a REST proxy, or a local server).

    discord.py reads both from class attributes, so this is process-wide; webhooks and
    interaction callbacks go through the same `Route.BASE`.
    """
    discord.http.Route.BASE = api_base.rstrip("/")
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(gateway_url)


class ImagineTree(app_commands.CommandTree):
    async def on_error(self, interaction: discord.Interaction, error: app_commands.AppCommandError) -> None:
        if isinstance(error, app_commands.CheckFailure):
            return  # the check has told the user already
        name = interaction.command.qualified_name if interaction.command else "?"
        await answer_error(interaction, getattr(error, "original", error), f"command {name}")


class ImagineBot(commands.Bot):
    def __init__(
        self,
        settings: Settings,
        discord_settings: DiscordSettings,
        service: JobService,
        *,
        sync_commands: bool | None = None,
        start_service: bool = True,
        **options: Any,
    ) -> None:
        # Slash commands and buttons arrive without any privileged intent.
        intents = discord.Intents.none()
        intents.guilds = True
        super().__init__(
            command_prefix=commands.when_mentioned,
            intents=intents,
            help_command=None,
            tree_cls=ImagineTree,
            **options,
        )
        self.settings = settings
        self.discord_settings = discord_settings
        self.service = service
        self.sync_commands = discord_settings.sync_commands if sync_commands is None else sync_commands
        self.start_service = start_service
        self.delivery = Delivery(self)

    async def login(self, token: str) -> None:
        point_discord(self.discord_settings.api_base, self.discord_settings.gateway_url)
        await super().login(token)

    async def setup_hook(self) -> None:
        for extension in EXTENSIONS:
            await self.load_extension(extension)
        # Buttons carry their job in the custom_id, so they work on any message, after restarts too.
        self.add_dynamic_items(ResultButton)
        # Subscribe before the service resumes old jobs, so their events reach us.
        await self.delivery.start()
        if self.start_service:
            await self.service.start()
        if self.sync_commands:
            result = await self.sync_app_commands()
            if not result.synced:
                log.info("the slash commands are as last synced; not syncing them")

    async def sync_app_commands(self, *, force: bool = False) -> sync.SyncResult:
        """Register the commands with Discord when they changed since the last sync (or `force`)."""
        targets = sync.scopes(self.discord_settings.guild_ids)
        for guild in targets:
            if guild is not None:
                self.tree.copy_global_to(guild=guild)
        payload = sync.tree_payload(self.tree, targets)
        digest = sync.payload_hash(payload, self.application_id)
        changed = digest != await self.service.state(sync.STATE_KEY)
        count = max(len(commands) for commands in payload.values())
        if not (changed or force):
            return sync.SyncResult(changed=False, synced=False, commands=count)
        for guild in targets:
            await self.tree.sync(guild=guild)
        await self.service.set_state(sync.STATE_KEY, digest)
        return sync.SyncResult(changed=changed, synced=True, commands=count)

    async def on_ready(self) -> None:
        log.info("ready as %s; in %d servers", self.user, len(self.guilds))

    async def close(self) -> None:
        await self.delivery.close()
        await super().close()
