"""The mask editor page for Vary (Region): bot/web/server.py serves it, bot/web/links.py signs its
links, bot/web/settings.py reads `[web]`. `mask_page_link` is what the region reply calls."""

from __future__ import annotations

from typing import TYPE_CHECKING

import discord

from generation.jobs.types import Job

if TYPE_CHECKING:
    from bot.app import ImagineBot


async def mask_page_link(
    bot: ImagineBot, interaction: discord.Interaction, job: Job, index: int
) -> str | None:
    """A fresh link to paint a region of the job's image, or None when the page is off."""
    cog = bot.get_cog("Edits")
    editor = getattr(cog, "editor", None)
    if editor is None:
        return None
    return await editor.new_link(interaction, job, index)
