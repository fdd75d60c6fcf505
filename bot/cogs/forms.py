"""The one listener for submitted forms (modals): each goes to the handler its custom_id names
(bot/forms.py), whether the form was opened before or after a restart."""

from __future__ import annotations

import contextlib
import logging
from typing import TYPE_CHECKING

import discord
from discord.ext import commands

from bot import forms
from bot.replies import fail
from bot.ui import text

if TYPE_CHECKING:
    from bot.app import ImagineBot

log = logging.getLogger(__name__)


class Forms(commands.Cog):
    def __init__(self, bot: ImagineBot) -> None:
        self.bot = bot

    @commands.Cog.listener()
    async def on_interaction(self, interaction: discord.Interaction) -> None:
        try:
            await forms.dispatch(interaction)
        except Exception:
            custom_id = (interaction.data or {}).get("custom_id")
            log.exception("the form %s failed", custom_id)
            with contextlib.suppress(discord.HTTPException):
                await fail(interaction, text.UNKNOWN_PROBLEM)


async def setup(bot: ImagineBot) -> None:
    await bot.add_cog(Forms(bot))
