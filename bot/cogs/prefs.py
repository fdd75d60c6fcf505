"""/settings: a user's own defaults, shown as a panel that edits itself (bot/prefs_panel.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.prefs import load_prefs
from bot.prefs_panel import PANEL_ITEMS, show_panel
from bot.replies import defer

if TYPE_CHECKING:
    from bot.app import ImagineBot


class Prefs(commands.Cog):
    def __init__(self, bot: ImagineBot) -> None:
        self.bot = bot

    async def cog_load(self) -> None:
        # The panel's components carry the user in their custom_id: they work after restarts.
        self.bot.add_dynamic_items(*PANEL_ITEMS)

    async def cog_unload(self) -> None:
        self.bot.remove_dynamic_items(*PANEL_ITEMS)

    @app_commands.command(name="settings", description="Your own defaults: model, sampler, steps, remix, ...")
    async def settings(self, interaction: discord.Interaction) -> None:
        await defer(interaction, ephemeral=True)
        prefs = await load_prefs(self.bot.service, interaction.user.id)
        await show_panel(interaction, prefs, edit=False)


async def setup(bot: ImagineBot) -> None:
    await bot.add_cog(Prefs(bot))
