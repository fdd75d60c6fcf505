"""The one listener for submitted forms (modals): each goes to the handler its custom_id names
(bot/forms.py), whether the form was opened before or after a restart."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import discord
from discord.ext import commands

from bot import forms
from bot.replies import answer_error

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
        except Exception as error:
            custom_id = (interaction.data or {}).get("custom_id")
            await answer_error(interaction, error, f"the form {custom_id}")


async def setup(bot: ImagineBot) -> None:
    await bot.add_cog(Forms(bot))
