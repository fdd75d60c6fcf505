"""Editing results: registers the edit buttons and the region select (bot/edit_buttons.py,
bot/region.py) so they work on any message after a restart, and serves the mask editor page
(bot/web/) while `[web] public_url` is set."""

from __future__ import annotations

import logging
import secrets
from typing import TYPE_CHECKING

from discord.ext import commands

from bot.edit_buttons import EDIT_ITEMS
from bot.region import REGION_ITEMS
from bot.web.server import MaskEditor
from bot.web.settings import SECRET_ENV, WebSettings, web_secret

if TYPE_CHECKING:
    from bot.app import ImagineBot

log = logging.getLogger(__name__)


class Edits(commands.Cog):
    def __init__(self, bot: ImagineBot) -> None:
        self.bot = bot
        self.editor: MaskEditor | None = None

    async def cog_load(self) -> None:
        self.bot.add_dynamic_items(*EDIT_ITEMS, *REGION_ITEMS)
        web = WebSettings.from_settings(self.bot.settings)
        if web.enabled:
            secret = web_secret()
            if secret is None:
                log.warning(
                    "%s is not set: the mask editor's links stop working at the next restart", SECRET_ENV
                )
                secret = secrets.token_bytes(32)
            self.editor = MaskEditor(self.bot, web, secret)
            await self.editor.start()

    async def cog_unload(self) -> None:
        self.bot.remove_dynamic_items(*EDIT_ITEMS, *REGION_ITEMS)
        if self.editor is not None:
            await self.editor.close()
            self.editor = None


async def setup(bot: ImagineBot) -> None:
    await bot.add_cog(Edits(bot))
