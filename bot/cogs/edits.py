"""Editing results: registers the edit buttons and the region select (bot/edit_buttons.py,
bot/region.py) so they work on any message after a restart."""

from __future__ import annotations

from typing import TYPE_CHECKING

from discord.ext import commands

from bot.edit_buttons import EDIT_ITEMS
from bot.region import REGION_ITEMS

if TYPE_CHECKING:
    from bot.app import ImagineBot


class Edits(commands.Cog):
    def __init__(self, bot: ImagineBot) -> None:
        self.bot = bot

    async def cog_load(self) -> None:
        self.bot.add_dynamic_items(*EDIT_ITEMS, *REGION_ITEMS)

    async def cog_unload(self) -> None:
        self.bot.remove_dynamic_items(*EDIT_ITEMS, *REGION_ITEMS)


async def setup(bot: ImagineBot) -> None:
    await bot.add_cog(Edits(bot))
